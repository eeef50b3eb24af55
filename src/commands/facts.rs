//! Machine-readable listings and times (RFC 3659 §7, MFMT): MLST, MLSD, MFMT.

use crate::control::Control;
use crate::error::FtpError;
use crate::file_info::{DirEntry, FileKind};
use crate::listing::{self, DirRole};
use crate::reply::{Reply, ReplyCode};
use crate::timefmt;
use crate::transfer::Payload;

fn writable(ctl: &Control) -> bool {
    ctl.session.account().is_some_and(|a| a.writable)
}

/// MLST [path]: one entry's facts over the control connection (250).
pub fn mlst(ctl: &mut Control, arg: Option<&[u8]>) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg.unwrap_or(b"."))?;
    // The pathname shown is the absolute virtual path (RFC 3659 §7.3: unambiguous).
    let entry = ctl.session.jail()?.entry(&path, path.as_bytes().to_vec())?;
    let resolved = ctl.session.jail()?.stat(&path).ok();
    let line = listing::format_mlst_line(
        &entry,
        resolved.as_ref(),
        &ctl.session.mlst_facts,
        writable(ctl),
    );
    let mut head = b"Listing ".to_vec();
    head.extend_from_slice(path.as_bytes());
    Ok(Reply::multi(
        ReplyCode::FileActionOk,
        vec![head, line, b"End".to_vec()],
    ))
}

/// MLSD [path]: facts of a directory's entries over the data connection.
pub fn mlsd(ctl: &mut Control, arg: Option<&[u8]>) -> Result<Reply, FtpError> {
    if ctl.session.data.is_none() {
        return Err(FtpError::CantOpenData);
    }
    let path = ctl.session.path(arg.unwrap_or(b"."))?;
    let jail = ctl.session.jail()?;
    let info = jail.stat(&path)?;
    if info.kind != FileKind::Dir {
        // RFC 3659 §7.2.2: MLSD of a non-directory is an error.
        return Err(FtpError::NotADirectory);
    }
    let facts = &ctl.session.mlst_facts;
    let writable = writable(ctl);
    let mut body = Vec::new();
    let cdir = DirEntry {
        name: b".".to_vec(),
        info: info.clone(),
        link_target: None,
    };
    listing::format_mlsx_entry(&cdir, None, facts, Some(DirRole::Cdir), writable, &mut body);
    let hide_dots = ctl.settings.config.hide_dot_files;
    for entry in jail.list_dir(&path, ctl.settings.config.max_list_entries)? {
        if hide_dots && entry.name.starts_with(b".") {
            continue;
        }
        // Links are described by what they point to, as clients expect; dangling ones stay
        // `OS.unix=symlink`.
        let resolved = if entry.info.kind == FileKind::Symlink {
            path.join(&entry.name).ok().and_then(|p| jail.stat(&p).ok())
        } else {
            None
        };
        listing::format_mlsx_entry(&entry, resolved.as_ref(), facts, None, writable, &mut body);
    }
    // RFC 3659 §7.2: MLSD data goes "as if the TYPE L 8, MODE S, and STRU F commands had been
    // given, whatever FTP transfer type, mode and structure had actually been set": raw.
    let opening = Reply::new(ReplyCode::FileStatusOk, "Here comes the directory listing.");
    let (reply, _) = ctl.run_transfer(Payload::SendBytes(body), opening)?;
    Ok(reply)
}

/// MFMT time path: set a file's modification time; 213 `Modify=...; path`.
pub fn mfmt(ctl: &mut Control, secs: i64, nsec: u32, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    let jail = ctl.session.jail()?;
    jail.set_times(&path, secs, nsec)?;
    let info = jail.stat(&path)?;
    let mut text = format!(
        "Modify={}; ",
        timefmt::format_mdtm(info.mtime, info.mtime_nsec, false)
    )
    .into_bytes();
    text.extend_from_slice(arg);
    Ok(Reply::new(ReplyCode::FileStatus, text))
}
