//! File checksums with CRC32 (crc32fast): HASH and RANG (draft-bryan-ftpext-hash), XCRC.
//!
//! The hashing runs on the data pool like a transfer, so a 1 GiB file neither blocks this
//! session's control connection (ABOR works) nor any other session.

use crate::control::Control;
use crate::error::{FtpError, TransferOutcome};
use crate::file_info::FileKind;
use crate::reply::{Reply, ReplyCode};
use crate::transfer::Payload;

/// The only algorithm offered; FEAT lists it selected.
pub const ALGORITHM: &str = "CRC32";

/// Hash `len` bytes from `start` of the file at `arg`; returns (crc, bytes hashed, size).
fn crc_of(
    ctl: &mut Control,
    arg: &[u8],
    start: u64,
    len: Option<u64>,
) -> Result<Result<(u32, u64, u64), Reply>, FtpError> {
    let path = ctl.session.path(arg)?;
    let (file, info) = ctl.session.jail()?.open_read(&path)?;
    if info.kind != FileKind::File {
        return Err(FtpError::NotAFile);
    }
    if start > info.size {
        return Err(FtpError::BadArgument(
            "Start offset is past the end of the file.",
        ));
    }
    let (reply, outcome) = ctl.run_job(Payload::Checksum { file, start, len }, None, None)?;
    Ok(match outcome {
        TransferOutcome::Hashed(crc, n) => Ok((crc, n, info.size)),
        _ => Err(reply),
    })
}

/// RANG start end: select the byte range of the next HASH; `RANG 1 0` resets.
pub fn rang(ctl: &mut Control, start: u64, end: u64) -> Result<Reply, FtpError> {
    if start == 1 && end == 0 {
        ctl.session.hash_range = None;
        return Ok(Reply::new(
            ReplyCode::PendingFurtherInfo,
            "Byte range reset; HASH covers whole files.",
        ));
    }
    ctl.session.hash_range = Some((start, end));
    Ok(Reply::new(
        ReplyCode::PendingFurtherInfo,
        format!("Restarting at {start}. End byte range at {end}."),
    ))
}

/// HASH path: `213 CRC32 start-end hash path`; the range is inclusive, as in the draft.
pub fn hash(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let range = ctl.session.hash_range.take();
    let (start, len) = match range {
        Some((s, e)) => (s, Some(e - s + 1)),
        None => (0, None),
    };
    let (crc, n, _) = match crc_of(ctl, arg, start, len)? {
        Ok(v) => v,
        Err(reply) => return Ok(reply),
    };
    // An empty range is shown as start-start: the grammar has no way to say "nothing".
    let end = if n == 0 { start } else { start + n - 1 };
    let mut text = format!("{ALGORITHM} {start}-{end} {crc:08x} ").into_bytes();
    text.extend_from_slice(arg);
    Ok(Reply::new(ReplyCode::FileStatus, text))
}

/// XCRC path [start [end]]: `250 XXXXXXXX`; `end` is exclusive.
pub fn xcrc(
    ctl: &mut Control,
    arg: &[u8],
    start: Option<u64>,
    end: Option<u64>,
) -> Result<Reply, FtpError> {
    let start = start.unwrap_or(0);
    let len = match end {
        Some(e) if e < start => return Err(FtpError::BadArgument("End is before start.")),
        Some(e) => Some(e - start),
        None => None,
    };
    match crc_of(ctl, arg, start, len)? {
        Ok((crc, _, _)) => Ok(Reply::new(ReplyCode::FileActionOk, format!("{crc:08X}"))),
        Err(reply) => Ok(reply),
    }
}
