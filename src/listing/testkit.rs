//! Test helpers for the listing formats: a fixed clock and entries built from a few fields.

use crate::file_info::{DirEntry, FileInfo, FileKind};

/// 2023-11-14 22:13:20 UTC.
pub const NOW: i64 = 1_700_000_000;

/// Metadata with fixed link count, owner, group and inode, and the given type, mode, size and time.
pub fn info(kind: FileKind, mode: u32, size: u64, mtime: i64) -> FileInfo {
    FileInfo {
        kind,
        mode,
        nlink: 1,
        uid: 1000,
        gid: 100,
        size,
        mtime,
        mtime_nsec: 0,
        dev: 0x803,
        ino: 0x1f,
    }
}

/// A directory entry without a link target.
pub fn entry(name: &[u8], info: FileInfo) -> DirEntry {
    DirEntry {
        name: name.to_vec(),
        info,
        link_target: None,
    }
}
