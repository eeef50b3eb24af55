//! Login commands: USER, PASS, ACCT, REIN, QUIT.

use crate::auth::{Authenticator, Password};
use crate::control::Control;
use crate::error::FtpError;
use crate::jail::Jail;
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
    let account = ctl.settings.auth.authenticate(&name, &pass);
    let jail = account.as_ref().map(|a| {
        if a.anonymous {
            ctl.settings
                .anon_jail
                .as_ref()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
                .and_then(Jail::try_clone)
        } else {
            Jail::open(&a.home)
        }
    });
    match (account, jail) {
        (Some(account), Some(Ok(jail))) => {
            if account.anonymous {
                // The e-mail address anonymous users give is logged, as FTP sites always have.
                let email = String::from_utf8_lossy(pass.expose())
                    .escape_debug()
                    .to_string();
                log::info!("{peer}: anonymous login (password: {email})");
            } else {
                log::info!("{peer}: login as {shown_name}");
            }
            ctl.session.login = LoginState::LoggedIn(account);
            ctl.session.jail = Some(jail);
            ctl.session.failed_logins = 0;
            Ok(Reply::new(ReplyCode::LoggedIn, "Login successful."))
        }
        (Some(account), Some(Err(e))) => {
            log::error!("{peer}: cannot open the home of {}: {e}", account.name);
            ctl.session.login = LoginState::Greeted;
            Err(FtpError::NotLoggedIn)
        }
        _ => {
            ctl.session.login = LoginState::Greeted;
            ctl.session.failed_logins += 1;
            log::info!("{peer}: failed login as {shown_name}");
            // Slow down password guessing (RFC 2577 §4).
            std::thread::sleep(ctl.settings.config.login_fail_delay);
            if ctl.session.failed_logins >= ctl.settings.config.max_login_failures {
                ctl.session.quit = true;
                ctl.send(&Reply::new(ReplyCode::NotLoggedIn, "Login incorrect."));
                return Ok(Reply::new(
                    ReplyCode::ServiceNotAvailable,
                    "Too many failed logins. Closing control connection.",
                ));
            }
            Ok(Reply::new(ReplyCode::NotLoggedIn, "Login incorrect."))
        }
    }
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

/// REIN: log out, keep the connection (RFC 959 §4.1.1).
pub fn rein(ctl: &mut Control) -> Result<Reply, FtpError> {
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
