//! Login commands: USER, PASS, ACCT, REIN, QUIT.

use crate::auth::{Account, Authenticator, Password};
use crate::config::TlsRequired;
use crate::control::Control;
use crate::error::FtpError;
use crate::jail::Jail;
use crate::messages;
use crate::privilege;
use crate::reply::{Reply, ReplyCode};
use crate::session::LoginState;

/// USER: always 331, whatever the name, so names cannot be probed (RFC 2577 §5).
pub fn user(ctl: &mut Control, name: Vec<u8>) -> Result<Reply, FtpError> {
    if ctl.session.logged_in() {
        log::info!("{}: USER while logged in, logging out", ctl.session.peer);
    }
    ctl.session.logout();
    // A new login runs with the settings in force now (SIGHUP reloads apply here).
    ctl.refresh_settings();
    let anonymous =
        Authenticator::is_anonymous_name(&name) && ctl.settings.auth.anonymous_enabled();
    let required = ctl.settings.config.tls_required;
    // SECURITY: no password may cross in clear: refused before the 331 that would ask for
    // it, with one reply for every name (no probing). Anonymous carries no secret.
    if required != TlsRequired::No && !ctl.session.security.control && !anonymous {
        return Err(FtpError::TlsRequiredForLogin);
    }
    ctl.session.security.private_data_required = required == TlsRequired::All && !anonymous;
    ctl.session.login = LoginState::UserGiven(name);
    let text = if anonymous {
        "Anonymous login ok, send your e-mail address as password."
    } else {
        "Please specify the password."
    };
    Ok(Reply::new(ReplyCode::NeedPassword, text))
}

/// PASS: verify, open the account's jail, or fail after a delay.
pub fn pass(ctl: &mut Control, pass: Password) -> Result<Reply, FtpError> {
    let name = match &ctl.session.login {
        LoginState::UserGiven(name) => name.clone(),
        LoginState::LoggedIn(_) => {
            return Ok(Reply::new(ReplyCode::LoggedIn, "Already logged in."));
        }
        LoginState::Greeted => return Err(FtpError::BadSequence("Login with USER first.")),
    };
    let peer = ctl.session.peer;
    let shown_name = String::from_utf8_lossy(&name).escape_debug().to_string();
    let settings = std::sync::Arc::clone(&ctl.settings);
    let mut account = settings.auth.authenticate(&name, &pass);
    let mut fs_identity = None;
    if account.is_none() {
        if let Some(system) = &settings.system_users {
            if let Some(sys) = system.authenticate(&name, &pass) {
                fs_identity = Some((sys.uid, sys.gid));
                account = Some(Account {
                    name: sys.name,
                    home: sys.home,
                    writable: true,
                    anonymous: false,
                });
            }
        }
    }
    let Some(account) = account else {
        return Err(failed_login(ctl, &shown_name));
    };
    if let Some((uid, gid)) = fs_identity {
        // Files this session creates belong to the user; its access checks are the user's.
        if let Err(e) = privilege::set_thread_fs_identity(uid, gid) {
            log::error!("{peer}: cannot act as {}: {e}", account.name);
            return Err(FtpError::NotLoggedIn);
        }
        ctl.session.fs_identity = true;
    }
    let jail = if account.anonymous {
        settings
            .anon_jail
            .as_ref()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            .and_then(Jail::try_clone)
    } else {
        let home = privilege::inside_chroot(&account.home, settings.chroot_root.as_deref());
        Jail::open(&home)
    };
    let jail = match jail {
        Ok(j) => j,
        Err(e) => {
            log::error!("{peer}: cannot open the home of {}: {e}", account.name);
            ctl.session.logout();
            return Err(FtpError::NotLoggedIn);
        }
    };
    if account.anonymous {
        // The e-mail address anonymous users give is logged, as FTP sites always have.
        let email = String::from_utf8_lossy(pass.expose())
            .escape_debug()
            .to_string();
        log::info!("{peer}: anonymous login (password: {email})");
        ctl.session.anon_email = pass.expose().to_vec();
    } else {
        log::info!("{peer}: login as {shown_name}");
    }
    ctl.session.login = LoginState::LoggedIn(account);
    ctl.session.jail = Some(jail);
    ctl.session.failed_logins = 0;
    let mut lines = settings
        .config
        .login_message
        .as_deref()
        .map(messages::text_lines)
        .unwrap_or_default();
    lines.push(b"Login successful.".to_vec());
    Ok(Reply::multi(ReplyCode::LoggedIn, lines))
}

/// A wrong name or password: delay, count, maybe ban the address, maybe close.
fn failed_login(ctl: &mut Control, shown_name: &str) -> FtpError {
    let peer = ctl.session.peer;
    ctl.session.login = LoginState::Greeted;
    ctl.session.failed_logins += 1;
    log::info!("{peer}: failed login as {shown_name}");
    // Slow down password guessing (RFC 2577 §4).
    std::thread::sleep(ctl.settings.config.login_fail_delay);
    let banned = ctl.ctx.bans.record_failure(peer.ip());
    if banned {
        log::warn!("{peer}: address banned after repeated failed logins");
    }
    if banned || ctl.session.failed_logins >= ctl.settings.config.max_login_failures {
        ctl.session.quit = true;
        ctl.send(&FtpError::LoginIncorrect.to_reply());
        return FtpError::TooManyFailedLogins;
    }
    FtpError::LoginIncorrect
}

/// ACCT: accounts are not used.
pub fn acct(ctl: &mut Control) -> Result<Reply, FtpError> {
    match ctl.session.login {
        LoginState::Greeted => Err(FtpError::BadSequence("Login with USER first.")),
        _ => Ok(Reply::new(
            ReplyCode::CommandSuperfluous,
            "ACCT not needed at this site.",
        )),
    }
}

/// REIN: log out, keep the connection (RFC 959 §4.1.1). Not under TLS: RFC 4217 §13 would
/// have it drop the TLS session too, back to a cleartext connection; refused (502).
pub fn rein(ctl: &mut Control) -> Result<Reply, FtpError> {
    if ctl.session.security.control {
        return Err(FtpError::NotImplemented);
    }
    ctl.session.logout();
    Ok(Reply::new(ReplyCode::ServiceReady, "Ready for new user."))
}

/// QUIT: 221 with the session's totals, then close.
pub fn quit(ctl: &mut Control) -> Result<Reply, FtpError> {
    ctl.session.quit = true;
    let s = ctl.session.stats;
    let files = s.files_down + s.files_up;
    let bytes = s.bytes_down + s.bytes_up;
    Ok(Reply::multi(
        ReplyCode::ClosingControl,
        vec![
            format!("You have transferred {bytes} bytes in {files} files.").into_bytes(),
            format!(
                "Total traffic for this session was {} bytes in {} transfers.",
                s.data_bytes, s.transfers
            )
            .into_bytes(),
            b"Goodbye.".to_vec(),
        ],
    ))
}

/// HOST name (RFC 7151): accepted before USER; every name maps to the one site.
pub fn host(ctl: &mut Control, name: Vec<u8>) -> Result<Reply, FtpError> {
    match ctl.session.login {
        LoginState::Greeted => {}
        // RFC 7151 §3: HOST after USER or after login is a sequence error.
        _ => return Err(FtpError::BadSequence("HOST must come before USER.")),
    }
    log::info!(
        "{}: HOST {}",
        ctl.session.peer,
        String::from_utf8_lossy(&name).escape_debug()
    );
    ctl.session.host = Some(name);
    Ok(Reply::new(ReplyCode::ServiceReady, "Host accepted."))
}
