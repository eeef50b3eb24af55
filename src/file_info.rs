//! File metadata as the jail reports it: plain values, no OS handles, no real paths.

/// What kind of object a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (only seen through `lstat`-style calls).
    Symlink,
    /// FIFO, socket, character or block device: never transferred.
    Other,
}

/// The `stat` facts the protocol needs, sizes and times as 64-bit values on every target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Kind derived from `st_mode`.
    pub kind: FileKind,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    /// Hard link count.
    pub nlink: u64,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (UTC).
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nsec: u32,
    /// Device number, for MLSD `unique`.
    pub dev: u64,
    /// Inode number, for MLSD `unique`.
    pub ino: u64,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name as raw bytes (names are not necessarily UTF-8).
    pub name: Vec<u8>,
    /// Metadata of the entry itself (symlinks not followed).
    pub info: FileInfo,
    /// For a symlink, the raw link text (shown as `name -> target` in LIST).
    pub link_target: Option<Vec<u8>>,
}
