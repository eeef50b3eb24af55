//! Working-directory commands: PWD, CWD, CDUP (and their RFC 775 X-aliases).

use crate::control::Control;
use crate::error::FtpError;
use crate::file_info::FileKind;
use crate::reply::{Reply, ReplyCode};

/// PWD: 257 with the quoted virtual path.
pub fn pwd(ctl: &mut Control) -> Result<Reply, FtpError> {
    Ok(Reply::quoted_path(
        ReplyCode::PathCreated,
        ctl.session.cwd.as_bytes(),
        "is the current directory",
    ))
}

/// CWD/CDUP: change to a directory that exists inside the jail.
pub fn cwd(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    let info = ctl.session.jail()?.stat(&path)?;
    if info.kind != FileKind::Dir {
        return Err(FtpError::NotADirectory);
    }
    ctl.session.cwd = path;
    Ok(Reply::new(
        ReplyCode::FileActionOk,
        "Directory successfully changed.",
    ))
}
