//! Working-directory commands: PWD, CWD, CDUP (and their RFC 775 X-aliases).

use crate::control::Control;
use crate::error::FtpError;
use crate::file_info::FileKind;
use crate::messages;
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
    // A `.message` file in the new directory is shown first (250- lines), as FTP sites do.
    let mut lines = match &ctl.settings.config.message_file {
        Some(name) => messages::read_dir_message(ctl.session.jail()?, &path, name),
        None => Vec::new(),
    };
    ctl.session.cwd = path;
    lines.push(b"Directory successfully changed.".to_vec());
    Ok(Reply::multi(ReplyCode::FileActionOk, lines))
}
