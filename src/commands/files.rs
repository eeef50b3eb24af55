//! Commands that change the tree: MKD, RMD, DELE, RNFR, RNTO, SITE CHMOD.

use crate::control::Control;
use crate::error::FtpError;
use crate::jail::Existing;
use crate::reply::{Reply, ReplyCode};

/// MKD: 257 with the new directory's quoted path.
pub fn mkd(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    ctl.session
        .jail()?
        .make_dir(&path, ctl.session.dir_mode())?;
    Ok(Reply::quoted_path(
        ReplyCode::PathCreated,
        path.as_bytes(),
        "created",
    ))
}

/// RMD: remove an empty directory.
pub fn rmd(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    ctl.session.jail()?.remove_dir(&path)?;
    Ok(Reply::new(
        ReplyCode::FileActionOk,
        "Remove directory operation successful.",
    ))
}

/// DELE: remove a file (or a symlink itself).
pub fn dele(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    ctl.session.jail()?.remove_file(&path)?;
    Ok(Reply::new(
        ReplyCode::FileActionOk,
        "Delete operation successful.",
    ))
}

/// RNFR: remember an existing source for RNTO.
pub fn rnfr(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    ctl.session.jail()?.lstat(&path)?;
    ctl.session.rename_from = Some(path);
    Ok(Reply::new(ReplyCode::PendingFurtherInfo, "Ready for RNTO."))
}

/// RNTO: rename the RNFR source. Under deny_overwrite an existing target is refused (550)
/// rather than replaced, atomically where the kernel allows (jail/noreplace.rs).
pub fn rnto(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let from = ctl
        .session
        .rename_from
        .take()
        .ok_or(FtpError::BadSequence("RNFR required first."))?;
    let to = ctl.session.path(arg)?;
    let existing = Existing::under_deny_overwrite(ctl.settings.config.deny_overwrite);
    ctl.session.jail()?.rename(&from, &to, existing)?;
    Ok(Reply::new(ReplyCode::FileActionOk, "Rename successful."))
}

/// SITE CHMOD mode path: permission bits only (the jail refuses setuid, setgid and sticky).
pub fn chmod(ctl: &mut Control, mode: u32, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    ctl.session.jail()?.set_mode(&path, mode)?;
    Ok(Reply::new(ReplyCode::CommandOk, "SITE CHMOD command ok."))
}
