//! Directory listings over the data connection, LIST and NLST, and over the control
//! connection, STAT path. (MLSD and MLST, with their facts, are in `facts.rs`.)

use crate::control::Control;
use crate::error::FtpError;
use crate::file_info::{DirEntry, FileKind};
use crate::listing;
use crate::reply::{Reply, ReplyCode};
use crate::representation;
use crate::transfer::Payload;

/// Build a LIST (`long`) or NLST body for `arg`, as CRLF lines.
fn build_listing(ctl: &Control, arg: Option<&[u8]>, long: bool) -> Result<Vec<u8>, FtpError> {
    let (flags, target) = listing::split_list_args(arg.unwrap_or(b""));
    let jail = ctl.session.jail()?;
    let max = ctl.settings.config.max_list_entries;
    let hide_dots = ctl.settings.config.hide_dot_files;
    let now = now_secs();
    let mut out = Vec::new();
    let target = target.unwrap_or_else(|| b".".to_vec());
    // A glob in the last component lists the matching names of its directory.
    let (dir_part, last) = match target.iter().rposition(|&b| b == b'/') {
        Some(i) => (&target[..=i], &target[i + 1..]),
        None => (&b""[..], &target[..]),
    };
    if listing::has_glob(last) {
        let dir = ctl
            .session
            .path(if dir_part.is_empty() { b"." } else { dir_part })?;
        for entry in jail.list_dir(&dir, max)? {
            let dot = entry.name.starts_with(b".");
            let hidden = dot && (hide_dots || !last.starts_with(b"."));
            if hidden || !listing::glob_match(last, &entry.name) {
                continue;
            }
            emit(&mut out, dir_part, entry, long, now);
        }
        return Ok(out);
    }
    let path = ctl.session.path(&target)?;
    let info = jail.stat(&path)?;
    if info.kind == FileKind::Dir && !flags.directory {
        for entry in jail.list_dir(&path, max)? {
            if entry.name.starts_with(b".") && (hide_dots || !flags.all) {
                continue;
            }
            emit(&mut out, b"", entry, long, now);
        }
    } else {
        // A single file (or `-d`): shown under the name the client gave, as ls does.
        let entry = jail.entry(&path, target.clone())?;
        emit(&mut out, b"", entry, long, now);
    }
    Ok(out)
}

fn emit(out: &mut Vec<u8>, prefix: &[u8], mut entry: DirEntry, long: bool, now: i64) {
    if long {
        listing::format_list_line(&entry, now, out);
    } else {
        // NLST of a pattern with a directory part names files as `dir/name`, like `ls dir/*`.
        if !prefix.is_empty() {
            let mut name = prefix.to_vec();
            name.extend_from_slice(&entry.name);
            entry.name = name;
        }
        listing::format_nlst_line(&entry.name, out);
    }
}

fn now_secs() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// LIST / NLST over the data connection.
pub fn list(ctl: &mut Control, arg: Option<&[u8]>, long: bool) -> Result<Reply, FtpError> {
    ctl.session.require_data_setup()?;
    let rep = ctl
        .session
        .representation(ctl.settings.config.ebcdic_codepage);
    // Text in the session's TYPE (Image: ASCII), STRU and MODE (representation.rs).
    let body = representation::encode_listing(rep, build_listing(ctl, arg, long)?);
    let opening = Reply::new(ReplyCode::FileStatusOk, "Here comes the directory listing.");
    let (reply, _) = ctl.run_transfer(Payload::SendBytes(body), opening)?;
    Ok(reply)
}

/// STAT path: the listing over the control connection (212 for a directory, 213 otherwise).
pub fn stat_path(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let (_, target) = listing::split_list_args(arg);
    let is_dir = match &target {
        Some(t) if !listing::has_glob(t) => {
            let path = ctl.session.path(t)?;
            ctl.session.jail()?.stat(&path)?.kind == FileKind::Dir
        }
        Some(_) => true,
        None => true,
    };
    let body = build_listing(ctl, Some(arg), true)?;
    let mut lines = vec![b"Status follows:".to_vec()];
    lines.extend(
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec()),
    );
    lines.push(b"End of status".to_vec());
    let code = if is_dir {
        ReplyCode::DirectoryStatus
    } else {
        ReplyCode::FileStatus
    };
    Ok(Reply::multi(code, lines))
}
