//! File transfers: REST, RETR, STOR, APPE, STOU, with the upload's undo on a full disk and the
//! transfer log.

use crate::command::TransferType;
use crate::control::Control;
use crate::error::{FtpError, TransferOutcome};
use crate::jail::{Existing, WriteMode};
use crate::reply::{Reply, ReplyCode};
use crate::representation::Representation;
use crate::transfer::Payload;
use crate::vpath::VirtualPath;
use crate::xferlog::{AccessMode, Direction, XferRecord};
use std::io::Seek;
use std::time::Instant;

/// REST offset (RFC 3659 §5): applies to the next RETR, STOR or APPE.
pub fn rest(ctl: &mut Control, offset: u64) -> Result<Reply, FtpError> {
    ctl.session.rest = offset;
    Ok(Reply::new(
        ReplyCode::PendingFurtherInfo,
        format!("Restart position accepted ({offset})."),
    ))
}

/// The session's TYPE, STRU and MODE for a transfer starting now.
fn representation(ctl: &Control) -> Representation {
    ctl.session
        .representation(ctl.settings.config.ebcdic_codepage)
}

fn display_name(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).escape_debug().to_string()
}

/// RETR: send a file (sendfile in binary type), from the REST offset.
pub fn retr(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    ctl.session.require_data_setup()?;
    let offset = ctl.session.take_rest();
    let path = ctl.session.path(arg)?;
    let (file, info) = ctl.session.jail()?.open_read(&path)?;
    // RFC 3659 §5.3: a restart marker out of range rejects the transfer command. An offset at
    // the end is in range (nothing left to send); past it, 226 with no data would let a client
    // whose partial copy is longer than the file take it for complete.
    if offset > info.size {
        return Err(FtpError::RestPastEnd);
    }
    let rep = representation(ctl);
    let mode = match rep.ty {
        TransferType::Ascii(_) => "ASCII",
        TransferType::Ebcdic(_) => "EBCDIC",
        TransferType::Binary => "BINARY",
    };
    // wget reads the size from "(N bytes)" in this line.
    let opening = Reply::new(
        ReplyCode::FileStatusOk,
        format!(
            "Opening {mode} mode data connection for {} ({} bytes).",
            display_name(arg),
            info.size
        ),
    );
    let payload = Payload::SendFile {
        file,
        offset,
        rep,
        size: info.size,
    };
    let started = Instant::now();
    let (reply, outcome) = ctl.run_transfer(payload, opening)?;
    log_transfer(ctl, Direction::Outgoing, &path, outcome, started);
    if let TransferOutcome::Complete(n) = outcome {
        ctl.session.stats.files_down += 1;
        ctl.session.stats.bytes_down += n;
    }
    Ok(reply)
}

/// How STOR-like commands open their target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// STOR: replace (or resume at the REST offset).
    Replace,
    /// APPE: append.
    Append,
}

/// STOR / APPE. After `REST n` (n > 0) both write from offset n (RFC 3659 §5.3: an APPE
/// that accepts a restart marker "MUST act identically to STOR"); an offset past the end of
/// the file is refused (554) before the 150, the file untouched. Without REST, APPE writes at
/// the end. Under deny_overwrite a resume must start exactly at the end (550 otherwise).
pub fn stor(ctl: &mut Control, arg: &[u8], kind: StoreKind) -> Result<Reply, FtpError> {
    ctl.session.require_data_setup()?;
    let offset = ctl.session.take_rest();
    let path = ctl.session.path(arg)?;
    let cfg = &ctl.settings.config;
    let (deny_overwrite, atomic) = (cfg.deny_overwrite, cfg.atomic_uploads);
    let mode = write_mode(kind, offset, deny_overwrite);
    let jail = ctl.session.jail()?;
    let existed = jail.lstat(&path).is_ok();
    let opening = Reply::new(ReplyCode::FileStatusOk, "Ok to send data.");
    if atomic && matches!(mode, WriteMode::Truncate | WriteMode::CreateNew) {
        // deny_overwrite: a taken name is refused before the data; the commit refuses
        // atomically a name taken during the upload.
        if mode == WriteMode::CreateNew && existed {
            return Err(FtpError::AlreadyExists);
        }
        let existing = Existing::under_deny_overwrite(deny_overwrite);
        return store_atomically(ctl, &path, opening, existing);
    }
    // CreateNew (deny_overwrite) refuses a taken name at the open itself (O_EXCL), before 150.
    let file = jail.open_write(&path, mode, ctl.session.file_mode())?;
    let finish = match mode {
        // A file this upload created or emptied holds nothing worth keeping if the disk fills.
        WriteMode::Truncate | WriteMode::CreateNew => Finish::fresh(),
        WriteMode::Append | WriteMode::Resume(_) | WriteMode::Extend(_) => Finish {
            extended: Some(Extended {
                before: file.metadata()?.len(),
                file: file.try_clone()?,
                // O_APPEND (APPE, Extend) only adds: nothing past the written end to cut.
                cut_at_end: matches!(mode, WriteMode::Resume(_)),
            }),
            created: !existed,
        },
    };
    receive_into(ctl, file, &path, opening, finish)
}

/// How STOR or APPE opens its target. Under deny_overwrite existing content never changes:
/// a resume may only add at the end, and a plain STOR only creates, exclusively, so a file
/// another session made after any check is refused rather than emptied (issue 10 follow-up).
fn write_mode(kind: StoreKind, offset: u64, deny_overwrite: bool) -> WriteMode {
    match kind {
        _ if offset > 0 && deny_overwrite => WriteMode::Extend(offset),
        _ if offset > 0 => WriteMode::Resume(offset),
        StoreKind::Append => WriteMode::Append,
        StoreKind::Replace if deny_overwrite => WriteMode::CreateNew,
        StoreKind::Replace => WriteMode::Truncate,
    }
}

/// How an upload's target is finished or undone once the transfer ended.
struct Finish {
    /// APPE or REST+STOR into a file: what is needed to cut it.
    extended: Option<Extended>,
    /// The upload created (or emptied) the file: removed when the disk fills.
    created: bool,
}

/// A second handle on a file an upload writes into at an offset.
struct Extended {
    /// The file's length before the command: put back when the disk fills (issue 10).
    before: u64,
    /// Shares the upload's file offset, so its position is where writing stopped.
    file: std::fs::File,
    /// REST+STOR: the file ends where writing stopped (`WriteMode::Resume` cuts nothing).
    cut_at_end: bool,
}

impl Finish {
    /// A file the upload created: removed on a full disk, nothing else to do.
    fn fresh() -> Finish {
        Finish {
            extended: None,
            created: true,
        }
    }

    /// Nothing to do: the atomic upload's temporary is handled by its owner.
    fn nothing() -> Finish {
        Finish {
            extended: None,
            created: false,
        }
    }
}

/// atomic_uploads: write a hidden temporary in the same directory (jail/temp.rs), rename it
/// over the target only when the whole file arrived; any failure leaves the old file as it was.
/// With `Existing::Refuse` (deny_overwrite) a target made during the upload is kept, and the
/// upload ends with 550 "File exists.", as it would have before the 150.
fn store_atomically(
    ctl: &mut Control,
    path: &VirtualPath,
    opening: Reply,
    existing: Existing,
) -> Result<Reply, FtpError> {
    let upload = ctl
        .session
        .jail()?
        .open_atomic(path, ctl.session.file_mode())?;
    let result = receive(ctl, upload.file()?, path, opening, Finish::nothing());
    // Decided by the transfer's outcome, not the reply: after ABOR the last reply is the
    // ABOR's own 226 while the upload itself was cut short.
    if matches!(&result, Ok((_, TransferOutcome::Complete(_)))) {
        if let Err(e) = upload.commit(ctl.settings.config.fsync, existing) {
            // The transfer log already has it as complete: say why it is not in place.
            log::warn!(
                "{}: upload of {} not put in place: {e:?}",
                ctl.session.peer,
                display_name(path.as_bytes())
            );
            return Err(e);
        }
    }
    // Otherwise dropping `upload` removes the temporary.
    result.map(|(reply, _)| reply)
}

/// STOU [hint]: store under a new unique name; `150 FILE: name` (RFC 1123 §4.1.2.9). A hint
/// with a directory (`sub/name`) creates the file in that directory, and the 150 names it
/// with the same directory part, so the client learns the path it can use.
pub fn stou(ctl: &mut Control, hint: Option<&[u8]>) -> Result<Reply, FtpError> {
    ctl.session.require_data_setup()?;
    ctl.session.rest = 0;
    let hint = hint.unwrap_or(b"ftp");
    // Issue 10: the directory part of the hint used to be dropped (the file landed in the
    // cwd). The last component must be a name: `sub/`, `.` or `..` name no file, so 553
    // rather than a guess.
    let cut = hint.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let (shown_dir, base) = hint.split_at(cut);
    if matches!(base, b"" | b"." | b"..") {
        return Err(FtpError::NameNotAllowed);
    }
    let target = ctl.session.path(hint)?;
    let dir = target.parent().unwrap_or_else(VirtualPath::root);
    let mode = ctl.session.file_mode();
    // Bounded search for a free name: base, base.1, ... base.999.
    for i in 0..1000u32 {
        let mut name = base.to_vec();
        if i > 0 {
            name.extend_from_slice(format!(".{i}").as_bytes());
        }
        let path = dir.join(&name)?;
        match ctl
            .session
            .jail()?
            .open_write(&path, WriteMode::CreateNew, mode)
        {
            Ok(file) => {
                let mut text = b"FILE: ".to_vec();
                text.extend_from_slice(shown_dir);
                text.extend_from_slice(&name);
                let opening = Reply::new(ReplyCode::FileStatusOk, text);
                return receive_into(ctl, file, &path, opening, Finish::fresh());
            }
            Err(FtpError::AlreadyExists) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(FtpError::NameNotAllowed)
}

/// Run an upload into `file`. On a full disk (or a quota or file size limit) the file is
/// put back as it was: a file the upload created is removed, one it extended is cut back to
/// its old length; unless `keep_partial_on_enospc` asks to keep what arrived for a resume.
fn receive_into(
    ctl: &mut Control,
    file: std::fs::File,
    path: &VirtualPath,
    opening: Reply,
    finish: Finish,
) -> Result<Reply, FtpError> {
    receive(ctl, file, path, opening, finish).map(|(reply, _)| reply)
}

/// [`receive_into`], also returning how the transfer ended.
fn receive(
    ctl: &mut Control,
    file: std::fs::File,
    path: &VirtualPath,
    opening: Reply,
    finish: Finish,
) -> Result<(Reply, TransferOutcome), FtpError> {
    let rep = representation(ctl);
    // Restart markers received are answered with stored offsets: where this upload starts
    // (O_APPEND writes at the old end; a resume at its seek position; a new file at 0).
    let base = match &finish.extended {
        None => 0,
        Some(ext) if ext.cut_at_end => (&file).stream_position()?,
        Some(ext) => ext.before,
    };
    let payload = Payload::Receive {
        file,
        rep,
        base,
        sync: ctl.settings.config.fsync,
    };
    let started = Instant::now();
    let (reply, outcome) = ctl.run_transfer(payload, opening)?;
    log_transfer(ctl, Direction::Incoming, path, outcome, started);
    let full = matches!(
        outcome,
        TransferOutcome::LocalError(FtpError::NoSpace | FtpError::ExceededStorage, _)
    );
    let undo = full && !ctl.settings.config.keep_partial_on_enospc;
    if undo && finish.created {
        let _ = ctl.session.jail()?.remove_file(path);
    } else if let Some(ext) = finish.extended {
        if let Err(e) = cut(ext, undo, ctl.settings.config.fsync) {
            // A complete upload whose file could not be cut is no success; a failed one keeps
            // its own reply.
            if matches!(outcome, TransferOutcome::Complete(_)) {
                return Err(e);
            }
            log::warn!(
                "{}: cannot cut {}: {e:?}",
                ctl.session.peer,
                display_name(path.as_bytes())
            );
        }
    }
    if let TransferOutcome::Complete(n) = outcome {
        ctl.session.stats.files_up += 1;
        ctl.session.stats.bytes_up += n;
    }
    Ok((reply, outcome))
}

/// End an APPE or REST+STOR: back to the old length (`undo`), or, after a resume, where
/// writing stopped.
fn cut(mut ext: Extended, undo: bool, fsync: bool) -> Result<(), FtpError> {
    let len = if undo {
        ext.before
    } else if ext.cut_at_end {
        ext.file.stream_position()?
    } else {
        return Ok(());
    };
    ext.file.set_len(len)?;
    if fsync {
        // The 226 promises the file as the client will see it is on storage.
        ext.file.sync_data()?;
    }
    Ok(())
}

/// One log line per transfer, and one xferlog record when configured.
fn log_transfer(
    ctl: &Control,
    direction: Direction,
    path: &VirtualPath,
    outcome: TransferOutcome,
    started: Instant,
) {
    let account = ctl.session.account();
    let user = account.map(|a| a.name.as_str()).unwrap_or("-");
    let what = match direction {
        Direction::Outgoing => "RETR",
        Direction::Incoming => "STOR",
    };
    log::info!(
        "{}: {user} {what} {} {:?}",
        ctl.session.peer,
        display_name(path.as_bytes()),
        outcome
    );
    let Some(xferlog) = &ctl.settings.xferlog else {
        return;
    };
    let anonymous = account.is_some_and(|a| a.anonymous);
    let (bytes, complete) = match outcome {
        TransferOutcome::Complete(n) => (n, true),
        TransferOutcome::Aborted(n)
        | TransferOutcome::ConnectionLost(n)
        | TransferOutcome::Stalled(n)
        | TransferOutcome::LocalError(_, n) => (n, false),
        TransferOutcome::CantOpen
        | TransferOutcome::Hashed(..)
        | TransferOutcome::DataTlsFailed
        | TransferOutcome::DataTlsNotResumed => return,
    };
    let record = XferRecord {
        duration: started.elapsed(),
        remote: ctl.session.peer.ip(),
        bytes,
        path: path.as_bytes().to_vec(),
        binary: ctl.session.transfer_type == TransferType::Binary,
        direction,
        access: if anonymous {
            AccessMode::Anonymous
        } else {
            AccessMode::Real
        },
        username: if anonymous {
            ctl.session.anon_email.clone()
        } else {
            user.as_bytes().to_vec()
        },
        complete,
    };
    if let Err(e) = xferlog.write(&record) {
        log::warn!("xferlog write failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 follow-up: under deny_overwrite a plain STOR looked for the file and then
    /// opened it with O_TRUNC, so a file another session created in between was emptied. It
    /// must create exclusively (O_EXCL), which refuses a taken name atomically.
    #[test]
    fn deny_overwrite_stor_creates_exclusively() {
        use StoreKind::{Append, Replace};
        for (kind, offset, deny, mode) in [
            (Replace, 0, true, WriteMode::CreateNew),
            (Replace, 0, false, WriteMode::Truncate),
            (Append, 0, true, WriteMode::Append),
            (Append, 0, false, WriteMode::Append),
            (Replace, 7, true, WriteMode::Extend(7)),
            (Append, 7, true, WriteMode::Extend(7)),
            (Replace, 7, false, WriteMode::Resume(7)),
            (Append, 7, false, WriteMode::Resume(7)),
        ] {
            assert_eq!(
                write_mode(kind, offset, deny),
                mode,
                "{kind:?} at {offset}, deny_overwrite {deny}"
            );
        }
    }
}
