//! FTPS commands (RFC 4217 on RFC 2228): AUTH, PBSZ, PROT, CCC. The switch of the control
//! connection to TLS itself is the connection loop's, after AUTH's 234 is sent.

use crate::control::Control;
use crate::error::FtpError;
use crate::reply::{Reply, ReplyCode};

/// Whether this server offers FTPS (a certificate is configured).
fn offered(ctl: &Control) -> Result<(), FtpError> {
    match ctl.ctx.ftps {
        Some(_) => Ok(()),
        // As for any command this server does not implement (RFC 2228: 502).
        None => Err(FtpError::NotImplemented),
    }
}

/// AUTH TLS | SSL | TLS-C: 234, then the handshake (RFC 4217 §4.1). `SSL` and `TLS-C` are the
/// old names clients still send (curl tries `AUTH SSL` first).
pub fn auth(ctl: &mut Control, mechanism: &str) -> Result<Reply, FtpError> {
    offered(ctl)?;
    if !matches!(mechanism, "TLS" | "SSL" | "TLS-C") {
        return Err(FtpError::ParameterNotImplemented);
    }
    if ctl.session.security.control {
        return Err(FtpError::BadSequence("TLS is already active."));
    }
    let ftps = ctl.ctx.ftps.as_ref().ok_or(FtpError::NotImplemented)?;
    let config = ftps.session_config().map_err(|e| {
        log::error!("{}: cannot start TLS: {e}", ctl.session.peer);
        FtpError::LocalError
    })?;
    ctl.request_starttls(config);
    Ok(Reply::new(
        ReplyCode::SecurityExchangeOk,
        format!("AUTH {mechanism} ok; start the TLS handshake."),
    ))
}

/// PBSZ: TLS needs no buffer size; always 0 (RFC 4217 §8).
pub fn pbsz(ctl: &mut Control) -> Result<Reply, FtpError> {
    offered(ctl)?;
    if !ctl.session.security.control {
        return Err(FtpError::BadSequence("PBSZ needs AUTH TLS first."));
    }
    ctl.session.security.pbsz = true;
    Ok(Reply::new(ReplyCode::CommandOk, "PBSZ=0"))
}

/// PROT C | P (RFC 4217 §9): clear or TLS data connections; S and E do not exist with TLS.
pub fn prot(ctl: &mut Control, level: &str) -> Result<Reply, FtpError> {
    offered(ctl)?;
    if !ctl.session.security.pbsz {
        return Err(FtpError::BadSequence("PROT needs PBSZ first."));
    }
    let private = match level {
        "C" => false,
        "P" => true,
        "S" | "E" => return Err(FtpError::ProtLevelNotSupported),
        _ => return Err(FtpError::ParameterNotImplemented),
    };
    ctl.session.security.private_data = private;
    let text = if private {
        "Protection level set to Private."
    } else {
        "Protection level set to Clear."
    };
    Ok(Reply::new(ReplyCode::CommandOk, text))
}

/// CCC: refused (534). rustls reads ahead past a close_notify, so plaintext commands after
/// it could not be told apart from TLS records; and cleartext commands would defeat
/// `tls_required`.
pub fn ccc(ctl: &mut Control) -> Result<Reply, FtpError> {
    offered(ctl)?;
    if !ctl.session.security.control {
        return Err(FtpError::BadSequence("CCC needs AUTH TLS first."));
    }
    Err(FtpError::CccRefused)
}
