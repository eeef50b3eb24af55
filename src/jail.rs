//! `Jail`: the only code that opens, stats, lists, renames and removes files, with chroot semantics.
//!
//! Every path is resolved by hand, one component at a time, from an open root directory:
//! each step is `openat(dir, name, O_PATH | O_NOFOLLOW | O_DIRECTORY)`, symlinks are read with
//! `readlinkat` and spliced in front of the remaining names (an absolute target restarts at the
//! root, `..` pops a stack of directory fds and never leaves the root, at most 40 links), and the
//! final operation is an `*at` call on the last directory fd. Nothing here depends on
//! `openat2`/`statx` (Linux >= 3.10 is enough) or on the process cwd or umask; `/proc` is used
//! (through the libc) only as a last resort to chmod a file we cannot open.

use crate::error::FtpError;
use crate::file_info::{DirEntry, FileInfo, FileKind};
use crate::vpath::{VirtualPath, MAX_COMPONENTS};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, FcntlArg, OFlag};
use nix::libc;
use nix::sys::stat::{self, FchmodatFlags, FileStat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, UnlinkatFlags};
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

mod noreplace;
mod temp;

pub use temp::AtomicUpload;

/// Symlinks followed in one resolution before giving up (Linux `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;
/// Upload temporaries one listing checks for staleness at most.
const MAX_SWEEP_PER_LISTING: usize = 64;

/// How `open_write` treats existing content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Create or empty the file (STOR).
    Truncate,
    /// Create or append to the end (APPE).
    Append,
    /// Keep content and write from this offset (REST + STOR). Nothing is cut at the open: the
    /// writer cuts the file where writing stopped when it ends (`set_len(stream_position)`), so
    /// an upload that fails can still put the old length back. An offset past the end is
    /// refused (`RestPastEnd`) and a missing file is not created.
    Resume(u64),
    /// Continue at exactly the current end, only ever adding (a resume under deny_overwrite):
    /// as `Resume`, but an offset inside the file is refused (`PermissionDenied`) and the file
    /// is opened with `O_APPEND`, so no write lands inside it even if it grows meanwhile.
    Extend(u64),
    /// Create a new file, failing with `AlreadyExists` if the name is taken (STOU).
    CreateNew,
}

/// What a rename or an atomic upload's commit does with a target name that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace it, as rename(2) does.
    Replace,
    /// Refuse with `AlreadyExists` and change nothing (deny_overwrite); atomic where the
    /// kernel allows it (jail/noreplace.rs).
    Refuse,
}

impl Existing {
    /// `Refuse` under deny_overwrite, else `Replace`.
    pub fn under_deny_overwrite(deny_overwrite: bool) -> Existing {
        if deny_overwrite {
            Existing::Refuse
        } else {
            Existing::Replace
        }
    }
}

/// A directory tree that sessions can reach only through chroot-like resolution.
#[derive(Debug)]
pub struct Jail {
    root: OwnedFd,
}

/// What the last component of a path means to an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    /// Follow a final symlink; the target must exist.
    Follow,
    /// Follow a final symlink; the target may be missing (to be created).
    Create,
    /// Act on the final name itself, even if it is a symlink.
    NoFollow,
    /// As `NoFollow`, for a name about to be made (mkdir, rename target, exclusive create).
    New,
}

/// The directories walked so far, root excluded.
struct Walk<'j> {
    root: BorrowedFd<'j>,
    /// Opened `O_PATH` directories below the root, deepest last; popping one is `..`.
    stack: Vec<OwnedFd>,
}

impl<'j> Walk<'j> {
    fn dir(&self) -> BorrowedFd<'_> {
        match self.stack.last() {
            Some(fd) => fd.as_fd(),
            None => self.root,
        }
    }

    fn descend(&mut self, fd: OwnedFd) -> Result<(), FtpError> {
        // Bounds the fds one resolution holds; a VirtualPath never needs more.
        if self.stack.len() >= MAX_COMPONENTS {
            return Err(FtpError::NameNotAllowed);
        }
        self.stack.push(fd);
        Ok(())
    }

    fn up(&mut self) {
        // SECURITY: popping an empty stack leaves us at the root: `..` never climbs out.
        self.stack.pop();
    }
}

/// The end of a resolution: a directory and, usually, a name inside it.
struct Target<'j> {
    walk: Walk<'j>,
    /// The final name in `walk.dir()`; `None` when the path ends at that directory itself.
    name: Option<Vec<u8>>,
    /// What the final entry was when looked at (`lstat`, so never a symlink in follow modes);
    /// `None` if it does not exist (`Create`) or was not looked at (`NoFollow`).
    stat: Option<FileStat>,
}

impl Target<'_> {
    fn dir(&self) -> BorrowedFd<'_> {
        self.walk.dir()
    }

    /// The name for `*at` calls: `.` stands for the directory itself.
    fn name(&self) -> &[u8] {
        self.name.as_deref().unwrap_or(b".")
    }

    /// The metadata of an entry that must exist.
    fn existing(&self) -> Result<&FileStat, FtpError> {
        self.stat.as_ref().ok_or(FtpError::NotFound)
    }
}

/// Flags every open carries: no fd leaks into children, no controlling tty, 64-bit offsets.
fn base_flags() -> OFlag {
    // O_LARGEFILE is implied on 64-bit kernels and added by musl; explicit for other 32-bit libcs.
    OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_LARGEFILE
}

fn kind_of(mode: u32) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::File,
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

fn stat_kind(st: &FileStat) -> FileKind {
    kind_of(st.st_mode)
}

/// Convert `FileStat` whose field widths differ per target (32-bit `time_t`, `nlink_t`...).
#[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
fn file_info(st: &FileStat) -> FileInfo {
    FileInfo {
        kind: stat_kind(st),
        mode: u32::from(st.st_mode),
        nlink: u64::from(st.st_nlink),
        uid: st.st_uid,
        gid: st.st_gid,
        // Only odd devices report negative sizes; they are never transferred.
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: i64::from(st.st_mtime),
        mtime_nsec: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        dev: u64::from(st.st_dev),
        ino: u64::from(st.st_ino),
    }
}

/// Build the `TimeSpec` for an mtime; `time_t` is 32-bit on some targets.
#[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
fn mtime_spec(secs: i64, nsec: u32) -> Result<TimeSpec, FtpError> {
    const BAD_TIME: FtpError = FtpError::BadArgument("Invalid modification time.");
    if nsec >= 1_000_000_000 {
        return Err(BAD_TIME);
    }
    // `try_into` infers time_t: naming it warns on targets where its width is changing.
    let secs = secs.try_into().map_err(|_| BAD_TIME)?;
    let nsec = nsec.try_into().map_err(|_| BAD_TIME)?;
    Ok(TimeSpec::new(secs, nsec))
}

/// Drop `O_NONBLOCK` once the fd is known to be a regular file. `opened_with` are the flags
/// of the open: F_SETFL ignores the access mode and creation flags among them and keeps
/// `O_APPEND`, so no F_GETFL round trip is needed (one call per download counts, issue 6).
fn clear_nonblock(fd: BorrowedFd<'_>, opened_with: OFlag) -> Result<(), FtpError> {
    fcntl::fcntl(fd, FcntlArg::F_SETFL(opened_with & !OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Replace the symlink `name` in `walk.dir()` by its components in front of `pending`.
fn splice_link(
    walk: &mut Walk<'_>,
    pending: &mut Vec<Vec<u8>>,
    links: &mut u32,
    name: &[u8],
) -> Result<(), FtpError> {
    *links += 1;
    // SECURITY: bounded like the kernel; a loop ends as ELOOP, reported as NotFound.
    if *links > MAX_SYMLINKS {
        return Err(FtpError::NotFound);
    }
    let text = match fcntl::readlinkat(walk.dir(), name) {
        Ok(text) => text.into_vec(),
        // No longer a symlink since it was looked at: treat the path as gone.
        Err(Errno::EINVAL) => return Err(FtpError::NotFound),
        Err(e) => return Err(e.into()),
    };
    if text.is_empty() {
        return Err(FtpError::NotFound);
    }
    if text.first() == Some(&b'/') {
        // SECURITY: an absolute target starts again at the jail root, as under chroot.
        walk.stack.clear();
    }
    let parts = text.split(|&b| b == b'/').filter(|c| !c.is_empty());
    pending.extend(parts.rev().map(<[u8]>::to_vec));
    Ok(())
}

impl Jail {
    /// Open the session root (startup only); `root` must be a directory.
    pub fn open(root: &Path) -> io::Result<Jail> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let root = fcntl::open(root, flags, Mode::empty()).map_err(io::Error::from)?;
        Ok(Jail { root })
    }

    /// Another handle on the same root directory.
    pub fn try_clone(&self) -> io::Result<Jail> {
        Ok(Jail {
            root: self.root.try_clone()?,
        })
    }

    /// Walk `p` from the root by chroot rules; the last component is handled per `last`.
    fn resolve(&self, p: &VirtualPath, last: Last) -> Result<Target<'_>, FtpError> {
        let mut walk = Walk {
            root: self.root.as_fd(),
            stack: Vec::new(),
        };
        // Reversed so that `pop` yields the next name; link targets are pushed on the end.
        let mut pending: Vec<Vec<u8>> = p.components().map(<[u8]>::to_vec).collect();
        pending.reverse();
        let mut links = 0u32;
        while let Some(name) = pending.pop() {
            // `.` and `..` only arrive from link text; a VirtualPath has none.
            match &name[..] {
                b"." => continue,
                b".." => {
                    walk.up();
                    continue;
                }
                _ => {}
            }
            // SECURITY: upload temporaries do not exist for clients (jail/temp.rs), as the
            // final name, on the way, or in link text: none can be read, removed, replaced
            // or made by a client.
            if temp::is_reserved(&name) {
                let making = pending.is_empty() && matches!(last, Last::Create | Last::New);
                return Err(if making {
                    FtpError::NameNotAllowed
                } else {
                    FtpError::NotFound
                });
            }
            if pending.is_empty() {
                if matches!(last, Last::NoFollow | Last::New) {
                    return Ok(Target {
                        walk,
                        name: Some(name),
                        stat: None,
                    });
                }
                match stat::fstatat(walk.dir(), &name[..], AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if stat_kind(&st) == FileKind::Symlink => {
                        splice_link(&mut walk, &mut pending, &mut links, &name)?;
                        continue;
                    }
                    Ok(st) => {
                        return Ok(Target {
                            walk,
                            name: Some(name),
                            stat: Some(st),
                        })
                    }
                    Err(Errno::ENOENT) if last == Last::Create => {
                        return Ok(Target {
                            walk,
                            name: Some(name),
                            stat: None,
                        })
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // SECURITY: O_NOFOLLOW makes every symlink come back to us instead of the kernel.
            let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            match fcntl::openat(walk.dir(), &name[..], flags, Mode::empty()) {
                Ok(fd) => walk.descend(fd)?,
                // A symlink opened with O_PATH|O_NOFOLLOW|O_DIRECTORY fails with ENOTDIR
                // (ELOOP without O_PATH); tell it from a plain non-directory.
                Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                    let st = stat::fstatat(walk.dir(), &name[..], AtFlags::AT_SYMLINK_NOFOLLOW)?;
                    if stat_kind(&st) != FileKind::Symlink {
                        return Err(FtpError::NotADirectory);
                    }
                    splice_link(&mut walk, &mut pending, &mut links, &name)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Ended on a directory itself: the root, or via `.`/`..` from link text.
        let st = stat::fstat(walk.dir())?;
        Ok(Target {
            walk,
            name: None,
            stat: Some(st),
        })
    }

    /// Resolve for an operation that must not touch the root itself.
    fn resolve_not_root(&self, p: &VirtualPath) -> Result<Target<'_>, FtpError> {
        // SECURITY: removing or renaming the jail root is never allowed.
        if p.is_root() {
            return Err(FtpError::PermissionDenied);
        }
        self.resolve(p, Last::NoFollow)
    }

    /// Metadata of the object `p` names, following symlinks by jail rules.
    pub fn stat(&self, p: &VirtualPath) -> Result<FileInfo, FtpError> {
        let t = self.resolve(p, Last::Follow)?;
        Ok(file_info(t.existing()?))
    }

    /// Metadata of `p` itself; a final symlink is described, not followed.
    pub fn lstat(&self, p: &VirtualPath) -> Result<FileInfo, FtpError> {
        let t = self.resolve(p, Last::NoFollow)?;
        let st = match &t.name {
            Some(name) => stat::fstatat(t.dir(), &name[..], AtFlags::AT_SYMLINK_NOFOLLOW)?,
            None => *t.existing()?,
        };
        Ok(file_info(&st))
    }

    /// `p` itself as a listing entry named `name` (a symlink described with its link text).
    pub fn entry(&self, p: &VirtualPath, name: Vec<u8>) -> Result<DirEntry, FtpError> {
        let info = self.lstat(p)?;
        let link_target = if info.kind == FileKind::Symlink {
            self.read_link(p).ok()
        } else {
            None
        };
        Ok(DirEntry {
            name,
            info,
            link_target,
        })
    }

    /// The raw text of the symlink `p`; `NotFound` if `p` is not a symlink.
    pub fn read_link(&self, p: &VirtualPath) -> Result<Vec<u8>, FtpError> {
        let t = self.resolve(p, Last::NoFollow)?;
        let name = t.name.as_deref().ok_or(FtpError::NotFound)?;
        match fcntl::readlinkat(t.dir(), name) {
            Ok(text) => Ok(text.into_vec()),
            Err(Errno::EINVAL) => Err(FtpError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Open a regular file for reading; anything else (directory, FIFO, device) is `NotAFile`.
    pub fn open_read(&self, p: &VirtualPath) -> Result<(File, FileInfo), FtpError> {
        let t = self.resolve(p, Last::Follow)?;
        // SECURITY: FIFOs and devices are refused before any open (side effects, hangs).
        if stat_kind(t.existing()?) != FileKind::File || t.name.is_none() {
            return Err(FtpError::NotAFile);
        }
        // O_NONBLOCK: a FIFO swapped in after the check still cannot hang the open.
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | base_flags();
        let fd = fcntl::openat(t.dir(), t.name(), flags, Mode::empty())?;
        let st = stat::fstat(&fd)?;
        // SECURITY: the fd, not the name, decides what is served.
        if stat_kind(&st) != FileKind::File {
            return Err(FtpError::NotAFile);
        }
        clear_nonblock(fd.as_fd(), flags)?;
        Ok((File::from(fd), file_info(&st)))
    }

    /// Open (creating with `perm & 0o777` exactly, whatever the process umask) a regular file
    /// for writing; a final symlink is followed by jail rules except for `CreateNew`.
    pub fn open_write(
        &self,
        p: &VirtualPath,
        mode: WriteMode,
        perm: u32,
    ) -> Result<File, FtpError> {
        // SECURITY: uploads never create set-id or sticky files.
        let perm = Mode::from_bits_truncate(perm & 0o777);
        let mut flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | base_flags();
        if matches!(mode, WriteMode::Append | WriteMode::Extend(_)) {
            flags |= OFlag::O_APPEND;
        }
        let (fd, created) = if mode == WriteMode::CreateNew {
            // O_EXCL semantics: any existing name, even a dangling symlink, is taken.
            let t = self.resolve(p, Last::New)?;
            if t.name.is_none() {
                return Err(FtpError::AlreadyExists);
            }
            temp::sweep_before_upload(t.dir());
            let excl = flags | OFlag::O_CREAT | OFlag::O_EXCL;
            (fcntl::openat(t.dir(), t.name(), excl, perm)?, true)
        } else {
            let t = self.resolve(p, Last::Create)?;
            if t.name.is_none() {
                return Err(FtpError::NotAFile);
            }
            temp::sweep_before_upload(t.dir());
            if let Some(st) = &t.stat {
                // SECURITY: never open a FIFO or device for writing, not even briefly.
                if stat_kind(st) != FileKind::File {
                    return Err(FtpError::NotAFile);
                }
            }
            match mode {
                // A restart continues data that is there: no file, nothing to resume.
                WriteMode::Resume(offset) | WriteMode::Extend(offset) if offset > 0 => {
                    match fcntl::openat(t.dir(), t.name(), flags, Mode::empty()) {
                        Ok(fd) => (fd, false),
                        Err(Errno::ENOENT) => return Err(FtpError::RestPastEnd),
                        // A FIFO without a reader: never a file we write to.
                        Err(Errno::ENXIO) => return Err(FtpError::NotAFile),
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => open_or_create(t.dir(), t.name(), flags, perm, t.stat.is_some())?,
            }
        };
        let st = stat::fstat(&fd)?;
        if stat_kind(&st) != FileKind::File {
            return Err(FtpError::NotAFile);
        }
        if created {
            // The kernel applied the process umask to `perm`; set exactly what was asked.
            stat::fchmod(&fd, perm)?;
        }
        clear_nonblock(fd.as_fd(), flags)?;
        let mut file = File::from(fd);
        match mode {
            WriteMode::Truncate if !created => file.set_len(0)?,
            WriteMode::Resume(offset) | WriteMode::Extend(offset) => {
                // Checked on the open fd, before anything changes. Filling the gap with zeros
                // would answer 226 for a corrupt file: ftplib's size() in ASCII type (before
                // its storbinary sends TYPE I) gives an offset past the stored end.
                let size = u64::try_from(st.st_size).unwrap_or(0);
                if offset > size {
                    return Err(FtpError::RestPastEnd);
                }
                if matches!(mode, WriteMode::Extend(_)) && offset < size {
                    // Writing from inside the file would change content it already has.
                    return Err(FtpError::PermissionDenied);
                }
                file.seek(SeekFrom::Start(offset))?;
            }
            _ => {}
        }
        Ok(file)
    }

    /// Start an atomic upload of `p` (atomic_uploads): written to a hidden temporary in the
    /// same directory, created with `perm & 0o777` exactly, renamed over `p` itself (a final
    /// symlink is replaced, not followed) by [`AtomicUpload::commit`].
    pub fn open_atomic(&self, p: &VirtualPath, perm: u32) -> Result<AtomicUpload, FtpError> {
        let mut t = self.resolve(p, Last::New)?;
        let Some(name) = t.name.take() else {
            return Err(FtpError::NotAFile);
        };
        // A directory could never be replaced: say so before the data, not after it.
        match stat::fstatat(t.dir(), &name[..], AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if stat_kind(&st) == FileKind::Dir => return Err(FtpError::NotAFile),
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let dir = match t.walk.stack.pop() {
            Some(fd) => fd,
            None => self.root.try_clone()?,
        };
        temp::sweep_before_upload(dir.as_fd());
        AtomicUpload::new(dir, name, Mode::from_bits_truncate(perm & 0o777))
    }

    /// The entries of directory `p` (symlinks followed to reach it), sorted by name bytes.
    /// Upload temporaries are left out, and the stale ones among them removed.
    pub fn list_dir(&self, p: &VirtualPath, max_entries: usize) -> Result<Vec<DirEntry>, FtpError> {
        let t = self.resolve(p, Last::Follow)?;
        if stat_kind(t.existing()?) != FileKind::Dir {
            return Err(FtpError::NotADirectory);
        }
        // Reading entries needs a real (not O_PATH) directory fd.
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | base_flags();
        let fd = fcntl::openat(t.dir(), t.name(), flags, Mode::empty())?;
        let mut dir = Dir::from_fd(fd)?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut reserved: Vec<Vec<u8>> = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if temp::is_reserved(name) {
                // Bounded: a directory full of them is swept over several listings.
                if reserved.len() < MAX_SWEEP_PER_LISTING {
                    reserved.push(name.to_vec());
                }
                continue;
            }
            // Stop reading at the limit instead of holding a huge directory in memory.
            if names.len() >= max_entries {
                return Err(FtpError::LimitReached);
            }
            names.push(name.to_vec());
        }
        let now = temp::now_secs();
        for name in reserved {
            temp::remove_if_stale(dir.as_fd(), &name, now);
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let st = match stat::fstatat(&dir, &name[..], AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed since readdir: not part of the listing any more.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            let link_target = if stat_kind(&st) == FileKind::Symlink {
                match fcntl::readlinkat(&dir, &name[..]) {
                    Ok(text) => Some(text.into_vec()),
                    // Removed or replaced since the stat.
                    Err(Errno::ENOENT) | Err(Errno::EINVAL) => continue,
                    Err(e) => return Err(e.into()),
                }
            } else {
                None
            };
            out.push(DirEntry {
                name,
                info: file_info(&st),
                link_target,
            });
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Create directory `p` with mode `perm & 0o7777` exactly (a final symlink is not followed).
    pub fn make_dir(&self, p: &VirtualPath, perm: u32) -> Result<(), FtpError> {
        if p.is_root() {
            return Err(FtpError::AlreadyExists);
        }
        let t = self.resolve(p, Last::New)?;
        // Owner-only first so the directory can be opened for fchmod whatever `perm` says,
        // and is never more open than asked while the mode is being set.
        stat::mkdirat(t.dir(), t.name(), Mode::S_IRWXU)?;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | base_flags();
        let fd = fcntl::openat(t.dir(), t.name(), flags, Mode::empty())?;
        let st = stat::fstat(&fd)?;
        // Keep a set-group-id bit inherited from the parent (shared group directories).
        let inherited = st.st_mode & libc::S_ISGID;
        stat::fchmod(&fd, Mode::from_bits_truncate((perm & 0o7777) | inherited))?;
        Ok(())
    }

    /// Remove the empty directory `p`; a symlink is `NotADirectory`, the root is refused.
    pub fn remove_dir(&self, p: &VirtualPath) -> Result<(), FtpError> {
        let t = self.resolve_not_root(p)?;
        match unistd::unlinkat(t.dir(), t.name(), UnlinkatFlags::RemoveDir) {
            Ok(()) => Ok(()),
            // Some filesystems report a non-empty directory as EEXIST.
            Err(Errno::EEXIST) => Err(FtpError::DirectoryNotEmpty),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the non-directory `p`; a symlink removes the link itself.
    pub fn remove_file(&self, p: &VirtualPath) -> Result<(), FtpError> {
        let t = self.resolve_not_root(p)?;
        // Without AT_REMOVEDIR a directory fails with EISDIR, which maps to NotAFile.
        unistd::unlinkat(t.dir(), t.name(), UnlinkatFlags::NoRemoveDir)?;
        Ok(())
    }

    /// Rename `from` to `to`; symlinks are renamed (or replaced) themselves. An existing `to`
    /// is replaced or refused as `existing` says.
    pub fn rename(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        existing: Existing,
    ) -> Result<(), FtpError> {
        let src = self.resolve_not_root(from)?;
        // SECURITY: as for the source, not the root; a reserved name is refused, not replaced.
        if to.is_root() {
            return Err(FtpError::PermissionDenied);
        }
        let dst = self.resolve(to, Last::New)?;
        match existing {
            Existing::Replace => {
                fcntl::renameat(src.dir(), src.name(), dst.dir(), dst.name())?;
                Ok(())
            }
            Existing::Refuse => noreplace::rename(src.dir(), src.name(), dst.dir(), dst.name()),
        }
    }

    /// Set the modification time of what `p` resolves to; the access time is left alone.
    pub fn set_times(
        &self,
        p: &VirtualPath,
        mtime_secs: i64,
        mtime_nsec: u32,
    ) -> Result<(), FtpError> {
        let mtime = mtime_spec(mtime_secs, mtime_nsec)?;
        let t = self.resolve(p, Last::Follow)?;
        // SECURITY: NOFOLLOW: if the name became a symlink since resolution, only the link
        // inside the jail is touched, never its target.
        stat::utimensat(
            t.dir(),
            t.name(),
            &TimeSpec::UTIME_OMIT,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )?;
        Ok(())
    }

    /// Set the permission bits (`mode`, at most `0o777`) of what `p` resolves to.
    pub fn set_mode(&self, p: &VirtualPath, mode: u32) -> Result<(), FtpError> {
        // SECURITY: setuid, setgid and sticky are never set for a client (issue 10): a server
        // running as root would otherwise let an rw user make a setuid-root program.
        if mode > 0o777 {
            return Err(FtpError::PermissionDenied);
        }
        let mode = Mode::from_bits_truncate(mode);
        let t = self.resolve(p, Last::Follow)?;
        // fchmodat(2) has no working "don't follow" flag before Linux 6.6, and following could
        // leave the jail if the name is swapped for a symlink. So chmod through an fd we opened
        // with O_NOFOLLOW; only files and directories are opened (devices have open side effects).
        let open_flags = match stat_kind(t.existing()?) {
            FileKind::File => Some(OFlag::O_RDONLY),
            FileKind::Dir => Some(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
            _ => None,
        };
        if let Some(kind_flags) = open_flags {
            let flags = kind_flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | base_flags();
            match fcntl::openat(t.dir(), t.name(), flags, Mode::empty()) {
                Ok(fd) => return Ok(stat::fchmod(&fd, mode)?),
                // Unreadable (e.g. mode 000): try the libc's no-follow fchmodat below.
                Err(Errno::EACCES) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The libc emulates AT_SYMLINK_NOFOLLOW (via /proc or fchmodat2) and refuses symlinks;
        // where it cannot, the request is denied rather than risk following a link.
        match stat::fchmodat(t.dir(), t.name(), mode, FchmodatFlags::NoFollowSymlink) {
            Ok(()) => Ok(()),
            Err(Errno::EOPNOTSUPP) | Err(Errno::ENOSYS) => Err(FtpError::PermissionDenied),
            Err(e) => Err(e.into()),
        }
    }
}

/// Open an existing regular file or create it exclusively, reporting which happened.
///
/// Exclusive creation tells us when the new file's mode must be fixed; the retries cover a
/// name appearing or vanishing between the attempts.
fn open_or_create(
    dir: BorrowedFd<'_>,
    name: &[u8],
    flags: OFlag,
    perm: Mode,
    mut exists: bool,
) -> Result<(OwnedFd, bool), FtpError> {
    for _ in 0..4 {
        if exists {
            match fcntl::openat(dir, name, flags, Mode::empty()) {
                Ok(fd) => return Ok((fd, false)),
                Err(Errno::ENOENT) => exists = false,
                // A FIFO without a reader: never a file we write to.
                Err(Errno::ENXIO) => return Err(FtpError::NotAFile),
                Err(e) => return Err(e.into()),
            }
        } else {
            match fcntl::openat(dir, name, flags | OFlag::O_CREAT | OFlag::O_EXCL, perm) {
                Ok(fd) => return Ok((fd, true)),
                Err(Errno::EEXIST) => exists = true,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Err(FtpError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::fs;
    use std::io::{Read, Write};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A scratch tree `<tmp>/ferroftpd-jail-<pid>-<n>/{root,outside}`, removed on drop.
    struct Scratch {
        base: PathBuf,
        root: PathBuf,
        outside: PathBuf,
        jail: Jail,
    }

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let base =
                std::env::temp_dir().join(format!("ferroftpd-jail-{}-{}", std::process::id(), n));
            let root = base.join("root");
            let outside = base.join("outside");
            fs::create_dir_all(&root).expect("create root");
            fs::create_dir_all(&outside).expect("create outside");
            let jail = Jail::open(&root).expect("open jail");
            Scratch {
                base,
                root,
                outside,
                jail,
            }
        }

        /// Host path of `rel` inside the root (`rel` as raw bytes).
        fn host(&self, rel: &[u8]) -> PathBuf {
            self.root.join(OsStr::from_bytes(rel))
        }

        fn write(&self, rel: &[u8], content: &[u8]) {
            fs::write(self.host(rel), content).expect("write fixture");
        }

        fn mkdir(&self, rel: &[u8]) {
            fs::create_dir_all(self.host(rel)).expect("mkdir fixture");
        }

        fn link(&self, rel: &[u8], target: &[u8]) {
            symlink(OsStr::from_bytes(target), self.host(rel)).expect("symlink fixture");
        }

        fn read(&self, p: &[u8]) -> Result<Vec<u8>, FtpError> {
            let (mut f, info) = self.jail.open_read(&vp(p))?;
            let mut out = Vec::new();
            f.read_to_end(&mut out).expect("read");
            assert_eq!(u64::try_from(out.len()).ok(), Some(info.size));
            Ok(out)
        }

        fn root_ino(&self) -> u64 {
            fs::metadata(&self.root).expect("root meta").ino()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            // remove_dir_all does not follow symlinks.
            let _ = fs::remove_dir_all(&self.base);
        }
    }

    fn vp(p: &[u8]) -> VirtualPath {
        VirtualPath::root().join(p).expect("valid path")
    }

    #[test]
    fn jail_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Jail>();
    }

    #[test]
    fn open_needs_a_directory() {
        let s = Scratch::new();
        fs::write(s.base.join("file"), b"x").expect("fixture");
        assert!(Jail::open(&s.base.join("file")).is_err());
        assert!(Jail::open(&s.base.join("missing")).is_err());
        assert!(s.jail.try_clone().is_ok());
    }

    #[test]
    fn plain_stat_lstat_and_kinds() {
        let s = Scratch::new();
        s.write(b"f", b"hello");
        s.mkdir(b"d");
        s.link(b"l", b"f");
        let f = s.jail.stat(&vp(b"f")).expect("stat f");
        assert_eq!((f.kind, f.size), (FileKind::File, 5));
        assert_eq!(s.jail.stat(&vp(b"d")).map(|i| i.kind), Ok(FileKind::Dir));
        assert_eq!(s.jail.stat(&vp(b"l")), Ok(f.clone()));
        let l = s.jail.lstat(&vp(b"l")).expect("lstat l");
        assert_eq!(l.kind, FileKind::Symlink);
        assert_ne!(l.ino, f.ino);
        let root = s.jail.stat(&VirtualPath::root()).expect("stat /");
        assert_eq!((root.kind, root.ino), (FileKind::Dir, s.root_ino()));
        assert_eq!(s.jail.lstat(&VirtualPath::root()), Ok(root));
        assert_eq!(s.jail.stat(&vp(b"nope")), Err(FtpError::NotFound));
        assert_eq!(s.jail.stat(&vp(b"f/x")), Err(FtpError::NotADirectory));
        assert_eq!(s.jail.stat(&vp(b"nope/x")), Err(FtpError::NotFound));
        let meta = fs::metadata(s.host(b"f")).expect("meta");
        assert_eq!(f.mtime, meta.mtime());
        assert_eq!(i64::from(f.mtime_nsec), meta.mtime_nsec());
        assert_eq!(f.mode, meta.mode());
    }

    #[test]
    fn absolute_symlink_restarts_at_jail_root() {
        let s = Scratch::new();
        s.link(b"etclink", b"/etc");
        s.link(b"passwd", b"/etc/passwd");
        // The host has /etc/passwd; inside the jail there is no /etc yet.
        assert_eq!(s.jail.stat(&vp(b"etclink")), Err(FtpError::NotFound));
        assert_eq!(s.read(b"passwd"), Err(FtpError::NotFound));
        assert_eq!(s.read(b"etclink/passwd"), Err(FtpError::NotFound));
        assert_eq!(
            s.jail.list_dir(&vp(b"etclink"), 100),
            Err(FtpError::NotFound)
        );
        s.mkdir(b"etc");
        s.write(b"etc/passwd", b"jailed");
        assert_eq!(s.read(b"passwd").as_deref(), Ok(&b"jailed"[..]));
        assert_eq!(s.read(b"etclink/passwd").as_deref(), Ok(&b"jailed"[..]));
        let names: Vec<Vec<u8>> = s
            .jail
            .list_dir(&vp(b"etclink"), 100)
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"passwd".to_vec()]);
    }

    #[test]
    fn host_absolute_path_link_stays_inside() {
        let s = Scratch::new();
        fs::write(s.outside.join("secret"), b"host").expect("fixture");
        let target = s.outside.join("secret");
        s.link(b"leak", target.as_os_str().as_bytes());
        assert_eq!(s.read(b"leak"), Err(FtpError::NotFound));
        assert_eq!(s.jail.stat(&vp(b"leak")), Err(FtpError::NotFound));
    }

    #[test]
    fn relative_dotdot_links_stop_at_root() {
        let s = Scratch::new();
        fs::write(s.outside.join("secret"), b"host").expect("fixture");
        s.mkdir(b"sub/deeper");
        s.write(b"marker", b"root marker");
        s.link(b"sub/up", b"../../../..");
        s.link(b"sub/deeper/up2", b"../../../../../../outside/secret");
        s.link(b"slash", b"/../../..");
        s.link(b"sub/deeper/abs", b"/marker");
        let up = s.jail.stat(&vp(b"sub/up")).expect("stat up");
        assert_eq!(up.ino, s.root_ino());
        assert_eq!(s.jail.stat(&vp(b"slash")).map(|i| i.ino), Ok(s.root_ino()));
        assert_eq!(s.read(b"sub/up/marker").as_deref(), Ok(&b"root marker"[..]));
        assert_eq!(
            s.read(b"sub/deeper/abs").as_deref(),
            Ok(&b"root marker"[..])
        );
        assert_eq!(s.read(b"sub/up/outside/secret"), Err(FtpError::NotFound));
        assert_eq!(s.read(b"sub/deeper/up2"), Err(FtpError::NotFound));
        assert_eq!(s.read(b"slash/outside/secret"), Err(FtpError::NotFound));
        // The jail root listed through `..` links is the jail root, not its parent.
        let names: Vec<Vec<u8>> = s
            .jail
            .list_dir(&vp(b"sub/up"), 100)
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            vec![b"marker".to_vec(), b"slash".to_vec(), b"sub".to_vec()]
        );
    }

    #[test]
    fn link_chain_is_followed() {
        let s = Scratch::new();
        s.mkdir(b"dir/inner");
        s.write(b"dir/inner/f", b"chained");
        s.link(b"a", b"b");
        s.link(b"b", b"/c");
        s.link(b"c", b"./dir//inner/");
        s.link(b"dir/fl", b"inner/f");
        assert_eq!(s.read(b"a/f").as_deref(), Ok(&b"chained"[..]));
        assert_eq!(s.read(b"a/../dir/fl").as_deref(), Ok(&b"chained"[..]));
        assert_eq!(s.jail.stat(&vp(b"a")).map(|i| i.kind), Ok(FileKind::Dir));
        assert_eq!(
            s.jail.lstat(&vp(b"a")).map(|i| i.kind),
            Ok(FileKind::Symlink)
        );
    }

    #[test]
    fn symlink_limit_is_forty() {
        let s = Scratch::new();
        s.write(b"target", b"end");
        // l0 -> l1 -> ... -> l{n-1} -> target: following l0 takes n links.
        assert_eq!(MAX_SYMLINKS, 40);
        let n = 40;
        for i in 0..n {
            let to = if i + 1 == n {
                "target".to_string()
            } else {
                format!("l{}", i + 1)
            };
            s.link(format!("l{i}").as_bytes(), to.as_bytes());
        }
        assert_eq!(s.read(b"l0").as_deref(), Ok(&b"end"[..]));
        s.link(b"one_more", b"l0");
        assert_eq!(s.read(b"one_more"), Err(FtpError::NotFound));
        assert_eq!(s.jail.stat(&vp(b"one_more")), Err(FtpError::NotFound));
    }

    #[test]
    fn symlink_loops_are_not_found() {
        let s = Scratch::new();
        s.link(b"l1", b"l2");
        s.link(b"l2", b"/l1");
        s.link(b"me", b"me");
        s.link(b"dloop", b"dloop/x");
        for p in [&b"l1"[..], b"l2/x", b"me", b"dloop", b"dloop/y"] {
            assert_eq!(s.jail.stat(&vp(p)), Err(FtpError::NotFound));
            assert_eq!(s.read(p), Err(FtpError::NotFound));
            assert_eq!(s.jail.list_dir(&vp(p), 10), Err(FtpError::NotFound));
            assert_eq!(
                s.jail.open_write(&vp(p), WriteMode::Truncate, 0o644).err(),
                Some(FtpError::NotFound)
            );
        }
        // lstat of the loop itself works: it is a link.
        assert_eq!(
            s.jail.lstat(&vp(b"me")).map(|i| i.kind),
            Ok(FileKind::Symlink)
        );
    }

    #[test]
    fn dotdot_after_symlinked_dir_uses_link_target() {
        let s = Scratch::new();
        s.mkdir(b"real/sub");
        s.write(b"real/x", b"right");
        s.write(b"x", b"wrong");
        s.link(b"dirlink", b"real/sub");
        // chroot semantics: `..` of dirlink is `real`, not the directory holding the link.
        s.link(b"via", b"dirlink/../x");
        assert_eq!(s.read(b"via").as_deref(), Ok(&b"right"[..]));
        s.link(b"real/sub/back", b"../../dirlink/../x");
        assert_eq!(s.read(b"dirlink/back").as_deref(), Ok(&b"right"[..]));
    }

    #[test]
    fn writing_through_symlinks_never_leaves_the_root() {
        let s = Scratch::new();
        let host_evil = s.outside.join("evil");
        s.link(b"abs", host_evil.as_os_str().as_bytes());
        s.link(b"rel", b"../outside/evil");
        s.link(b"rel_deep", b"../../../../outside/evil");
        for p in [&b"abs"[..], b"rel", b"rel_deep"] {
            assert_eq!(
                s.jail.open_write(&vp(p), WriteMode::Truncate, 0o644).err(),
                Some(FtpError::NotFound),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        assert!(!host_evil.exists());
        // With an `outside` inside the root, the dangling link is created there, like chroot.
        s.mkdir(b"outside");
        let mut f = s
            .jail
            .open_write(&vp(b"rel_deep"), WriteMode::Truncate, 0o644)
            .expect("create through link");
        f.write_all(b"inside").expect("write");
        drop(f);
        assert!(!host_evil.exists());
        assert_eq!(
            fs::read(s.host(b"outside/evil")).ok().as_deref(),
            Some(&b"inside"[..])
        );
        assert_eq!(s.read(b"rel").as_deref(), Ok(&b"inside"[..]));
        // An existing target outside the jail is not reachable either.
        fs::write(s.outside.join("victim"), b"keep").expect("fixture");
        let victim = s.outside.join("victim");
        s.link(b"v", victim.as_os_str().as_bytes());
        assert!(s
            .jail
            .open_write(&vp(b"v"), WriteMode::Truncate, 0o644)
            .is_err());
        assert!(s.jail.set_mode(&vp(b"v"), 0o777).is_err());
        assert!(s.jail.set_times(&vp(b"v"), 0, 0).is_err());
        assert_eq!(fs::read(&victim).ok().as_deref(), Some(&b"keep"[..]));
    }

    #[test]
    fn rename_and_remove_act_on_links() {
        let s = Scratch::new();
        s.write(b"target", b"t");
        s.mkdir(b"dir");
        s.link(b"link", b"target");
        s.link(b"dlink", b"dir");
        s.jail
            .rename(&vp(b"link"), &vp(b"moved"), Existing::Replace)
            .expect("rename link");
        assert_eq!(s.jail.read_link(&vp(b"moved")), Ok(b"target".to_vec()));
        assert!(s.host(b"target").is_file());
        assert!(fs::symlink_metadata(s.host(b"link")).is_err());
        s.jail.remove_file(&vp(b"moved")).expect("remove link");
        assert!(fs::symlink_metadata(s.host(b"moved")).is_err());
        assert_eq!(fs::read(s.host(b"target")).ok().as_deref(), Some(&b"t"[..]));
        // A link to a directory is not a directory to RMD, and DELE removes only the link.
        assert_eq!(
            s.jail.remove_dir(&vp(b"dlink")),
            Err(FtpError::NotADirectory)
        );
        s.jail.remove_file(&vp(b"dlink")).expect("remove dir link");
        assert!(s.host(b"dir").is_dir());
        // Renaming onto an existing link replaces the link, not its target.
        s.link(b"l2", b"target");
        s.write(b"new", b"n");
        s.jail
            .rename(&vp(b"new"), &vp(b"l2"), Existing::Replace)
            .expect("rename over link");
        assert_eq!(fs::read(s.host(b"target")).ok().as_deref(), Some(&b"t"[..]));
        assert_eq!(fs::read(s.host(b"l2")).ok().as_deref(), Some(&b"n"[..]));
    }

    #[test]
    fn rename_through_symlinked_dirs_stays_inside() {
        let s = Scratch::new();
        s.mkdir(b"a");
        s.write(b"a/f", b"f");
        s.link(b"out", b"../../outside");
        assert_eq!(
            s.jail.rename(&vp(b"a/f"), &vp(b"out/f"), Existing::Replace),
            Err(FtpError::NotFound)
        );
        assert!(!s.outside.join("f").exists());
        s.mkdir(b"outside");
        s.jail
            .rename(&vp(b"a/f"), &vp(b"out/f"), Existing::Replace)
            .expect("rename");
        assert!(s.host(b"outside/f").is_file());
        assert!(!s.outside.join("f").exists());
    }

    #[test]
    fn root_cannot_be_removed_or_renamed() {
        let s = Scratch::new();
        s.write(b"f", b"");
        let root = VirtualPath::root();
        assert_eq!(s.jail.remove_dir(&root), Err(FtpError::PermissionDenied));
        assert_eq!(s.jail.remove_file(&root), Err(FtpError::PermissionDenied));
        assert_eq!(
            s.jail.rename(&root, &vp(b"x"), Existing::Replace),
            Err(FtpError::PermissionDenied)
        );
        assert_eq!(
            s.jail.rename(&vp(b"f"), &root, Existing::Replace),
            Err(FtpError::PermissionDenied)
        );
        assert_eq!(s.jail.make_dir(&root, 0o755), Err(FtpError::AlreadyExists));
        assert_eq!(s.jail.read_link(&root), Err(FtpError::NotFound));
        assert_eq!(
            s.jail.open_write(&root, WriteMode::Truncate, 0o644).err(),
            Some(FtpError::NotAFile)
        );
        assert_eq!(s.jail.open_read(&root).err(), Some(FtpError::NotAFile));
        assert!(s.host(b"f").is_file());
    }

    #[test]
    fn fifo_is_refused_without_hanging() {
        let s = Scratch::new();
        unistd::mkfifo(&s.host(b"fifo"), Mode::from_bits_truncate(0o644)).expect("mkfifo");
        s.link(b"to_fifo", b"fifo");
        let jail = s.jail.try_clone().expect("clone");
        let (tx, rx) = mpsc::channel();
        // A blocking open of a FIFO with no writer would never return: bound the wait.
        std::thread::spawn(move || {
            let results = [
                jail.open_read(&vp(b"fifo")).err(),
                jail.open_read(&vp(b"to_fifo")).err(),
                jail.open_write(&vp(b"fifo"), WriteMode::Truncate, 0o644)
                    .err(),
                jail.open_write(&vp(b"to_fifo"), WriteMode::Append, 0o644)
                    .err(),
                jail.open_write(&vp(b"fifo"), WriteMode::Resume(0), 0o644)
                    .err(),
            ];
            let _ = tx.send(results);
        });
        let results = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("opening a FIFO hung");
        assert_eq!(results, [Some(FtpError::NotAFile); 5]);
        assert_eq!(
            s.jail.stat(&vp(b"fifo")).map(|i| i.kind),
            Ok(FileKind::Other)
        );
    }

    #[test]
    fn directories_are_not_files() {
        let s = Scratch::new();
        s.mkdir(b"d");
        s.write(b"f", b"x");
        s.link(b"dl", b"d");
        assert_eq!(s.read(b"d"), Err(FtpError::NotAFile));
        assert_eq!(s.read(b"dl"), Err(FtpError::NotAFile));
        for mode in [WriteMode::Truncate, WriteMode::Append, WriteMode::Resume(0)] {
            assert_eq!(
                s.jail.open_write(&vp(b"dl"), mode, 0o644).err(),
                Some(FtpError::NotAFile)
            );
        }
        assert_eq!(s.jail.remove_file(&vp(b"d")), Err(FtpError::NotAFile));
        assert_eq!(s.jail.remove_dir(&vp(b"f")), Err(FtpError::NotADirectory));
        assert_eq!(s.jail.list_dir(&vp(b"f"), 10), Err(FtpError::NotADirectory));
        s.write(b"d/inner", b"");
        assert_eq!(
            s.jail.remove_dir(&vp(b"d")),
            Err(FtpError::DirectoryNotEmpty)
        );
        s.jail.remove_file(&vp(b"d/inner")).expect("rm inner");
        s.jail.remove_dir(&vp(b"d")).expect("rmdir");
        assert!(!s.host(b"d").exists());
        assert_eq!(s.jail.remove_file(&vp(b"gone")), Err(FtpError::NotFound));
    }

    #[test]
    fn non_utf8_names_round_trip() {
        let s = Scratch::new();
        let dir: &[u8] = b"d\xff\xfe";
        let file: &[u8] = b"caf\xe9 \\ x\x01";
        s.jail.make_dir(&vp(dir), 0o755).expect("mkdir");
        let mut p = dir.to_vec();
        p.push(b'/');
        p.extend_from_slice(file);
        let mut f = s
            .jail
            .open_write(&vp(&p), WriteMode::Truncate, 0o644)
            .expect("create");
        f.write_all(b"bytes").expect("write");
        drop(f);
        let list = s.jail.list_dir(&vp(dir), 10).expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, file);
        let mut again = dir.to_vec();
        again.push(b'/');
        again.extend_from_slice(&list[0].name);
        assert_eq!(s.read(&again).as_deref(), Ok(&b"bytes"[..]));
        assert!(s.host(&p).is_file());
    }

    #[test]
    fn listing_is_sorted_complete_and_bounded() {
        let s = Scratch::new();
        s.mkdir(b"d/sub");
        for name in [
            &b"zeta"[..],
            b"Alpha",
            b"beta",
            b"\xc3\xa9t\xc3\xa9",
            b"_x",
            b"10",
            b"9",
        ] {
            let mut p = b"d/".to_vec();
            p.extend_from_slice(name);
            s.write(&p, name);
        }
        s.link(b"d/link", b"zeta");
        s.link(b"d/dangling", b"/nowhere");
        s.link(b"dl", b"d");
        let list = s.jail.list_dir(&vp(b"dl"), 10).expect("list");
        let names: Vec<&[u8]> = list.iter().map(|e| &e.name[..]).collect();
        let want: Vec<&[u8]> = vec![
            b"10",
            b"9",
            b"Alpha",
            b"_x",
            b"beta",
            b"dangling",
            b"link",
            b"sub",
            b"zeta",
            b"\xc3\xa9t\xc3\xa9",
        ];
        assert_eq!(names, want);
        for e in &list {
            match &e.name[..] {
                b"link" => {
                    assert_eq!(e.info.kind, FileKind::Symlink);
                    assert_eq!(e.link_target.as_deref(), Some(&b"zeta"[..]));
                }
                b"dangling" => {
                    assert_eq!(e.info.kind, FileKind::Symlink);
                    assert_eq!(e.link_target.as_deref(), Some(&b"/nowhere"[..]));
                }
                b"sub" => assert_eq!((e.info.kind, &e.link_target), (FileKind::Dir, &None)),
                name => {
                    assert_eq!((e.info.kind, &e.link_target), (FileKind::File, &None));
                    assert_eq!(e.info.size, u64::try_from(name.len()).ok().unwrap_or(0));
                }
            }
        }
        assert_eq!(s.jail.list_dir(&vp(b"d"), 9), Err(FtpError::LimitReached));
        assert_eq!(s.jail.list_dir(&vp(b"d"), 0), Err(FtpError::LimitReached));
        assert_eq!(s.jail.list_dir(&vp(b"d/sub"), 0), Ok(Vec::new()));
        let root = s.jail.list_dir(&VirtualPath::root(), 10).expect("list /");
        assert_eq!(root.len(), 2);
    }

    #[test]
    fn write_modes() {
        let s = Scratch::new();
        let p = vp(b"f");
        let write = |mode, data: &[u8]| {
            let mut f = s.jail.open_write(&p, mode, 0o644).expect("open_write");
            f.write_all(data).expect("write");
        };
        write(WriteMode::Truncate, b"abcdef");
        assert_eq!(fs::read(s.host(b"f")).ok().as_deref(), Some(&b"abcdef"[..]));
        write(WriteMode::Append, b"gh");
        assert_eq!(
            fs::read(s.host(b"f")).ok().as_deref(),
            Some(&b"abcdefgh"[..])
        );
        // Resume writes from the offset and cuts nothing: the writer cuts at its end.
        write(WriteMode::Resume(2), b"XY");
        assert_eq!(
            fs::read(s.host(b"f")).ok().as_deref(),
            Some(&b"abXYefgh"[..])
        );
        // At the end: the resume continues there.
        write(WriteMode::Resume(8), b"Z");
        assert_eq!(
            fs::read(s.host(b"f")).ok().as_deref(),
            Some(&b"abXYefghZ"[..])
        );
        write(WriteMode::Truncate, b"new");
        assert_eq!(fs::read(s.host(b"f")).ok().as_deref(), Some(&b"new"[..]));
        // Append creates a missing file too.
        let mut f = s
            .jail
            .open_write(&vp(b"g"), WriteMode::Append, 0o644)
            .expect("append new");
        f.write_all(b"g").expect("write");
        drop(f);
        assert_eq!(fs::read(s.host(b"g")).ok().as_deref(), Some(&b"g"[..]));
        // The returned file is blocking (O_NONBLOCK cleared).
        let f = s
            .jail
            .open_write(&p, WriteMode::Append, 0o644)
            .expect("open");
        let fl = OFlag::from_bits_truncate(fcntl::fcntl(&f, FcntlArg::F_GETFL).expect("getfl"));
        assert!(!fl.contains(OFlag::O_NONBLOCK));
        // ...and an append stays an append.
        assert!(fl.contains(OFlag::O_APPEND));
        let (r, _) = s.jail.open_read(&p).expect("open_read");
        let fl = fcntl::fcntl(&r, FcntlArg::F_GETFL).expect("getfl");
        assert!(!OFlag::from_bits_truncate(fl).contains(OFlag::O_NONBLOCK));
        assert_eq!(
            s.jail
                .open_write(&vp(b"missing/f"), WriteMode::Truncate, 0o644)
                .err(),
            Some(FtpError::NotFound)
        );
    }

    /// STOU, and STOR under deny_overwrite (the refusal is the O_EXCL open itself, so a file
    /// made after any earlier check is refused, never emptied).
    #[test]
    fn create_new_refuses_existing_names() {
        let s = Scratch::new();
        s.write(b"taken", b"keep");
        s.link(b"dangling", b"fresh");
        s.link(b"to-taken", b"taken");
        s.mkdir(b"dir");
        let new = |p: &[u8]| s.jail.open_write(&vp(p), WriteMode::CreateNew, 0o600).err();
        assert_eq!(new(b"taken"), Some(FtpError::AlreadyExists));
        // O_EXCL semantics: a dangling symlink is an existing name and is not followed.
        assert_eq!(new(b"dangling"), Some(FtpError::AlreadyExists));
        assert!(!s.host(b"fresh").exists());
        assert_eq!(new(b"to-taken"), Some(FtpError::AlreadyExists));
        assert_eq!(new(b"dir"), Some(FtpError::AlreadyExists));
        assert_eq!(new(b"unique"), None);
        assert!(s.host(b"unique").is_file());
        assert_eq!(new(b"unique"), Some(FtpError::AlreadyExists));
        assert_eq!(
            fs::read(s.host(b"taken")).ok().as_deref(),
            Some(&b"keep"[..])
        );
    }

    #[test]
    fn created_modes_are_exact() {
        let s = Scratch::new();
        // 0o666/0o777 would lose bits to a typical 022 umask if it were relied upon.
        drop(
            s.jail
                .open_write(&vp(b"f"), WriteMode::Truncate, 0o666)
                .expect("create"),
        );
        let m = fs::metadata(s.host(b"f"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o666);
        drop(
            s.jail
                .open_write(&vp(b"suid"), WriteMode::CreateNew, 0o4755)
                .expect("create"),
        );
        let m = fs::metadata(s.host(b"suid"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o755);
        // An existing file keeps its mode.
        fs::set_permissions(s.host(b"f"), fs::Permissions::from_mode(0o640)).expect("chmod");
        drop(
            s.jail
                .open_write(&vp(b"f"), WriteMode::Truncate, 0o666)
                .expect("open"),
        );
        let m = fs::metadata(s.host(b"f"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o640);
        s.jail.make_dir(&vp(b"d"), 0o777).expect("mkdir");
        let m = fs::metadata(s.host(b"d"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o777);
        s.jail.make_dir(&vp(b"closed"), 0o500).expect("mkdir");
        let m = fs::metadata(s.host(b"closed"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o500);
        assert_eq!(
            s.jail.make_dir(&vp(b"d"), 0o755),
            Err(FtpError::AlreadyExists)
        );
        s.link(b"dl", b"newdir");
        // mkdir does not follow a final symlink (as mkdir(2)).
        assert_eq!(
            s.jail.make_dir(&vp(b"dl"), 0o755),
            Err(FtpError::AlreadyExists)
        );
        assert!(!s.host(b"newdir").exists());
    }

    #[test]
    fn resume_past_the_end_is_refused_and_changes_nothing() {
        let s = Scratch::new();
        s.write(b"f", b"a\nb\n");
        for offset in [5, 6, 1 << 32, u64::MAX] {
            assert_eq!(
                s.jail
                    .open_write(&vp(b"f"), WriteMode::Resume(offset), 0o644)
                    .err(),
                Some(FtpError::RestPastEnd),
                "offset {offset}"
            );
        }
        assert_eq!(fs::read(s.host(b"f")).ok().as_deref(), Some(&b"a\nb\n"[..]));
        // A missing file has nothing to resume, and is not created by the attempt.
        assert_eq!(
            s.jail
                .open_write(&vp(b"new"), WriteMode::Resume(1), 0o644)
                .err(),
            Some(FtpError::RestPastEnd)
        );
        assert!(!s.host(b"new").exists());
        // At the end, as before (inside: `write_modes`).
        let mut f = s
            .jail
            .open_write(&vp(b"f"), WriteMode::Resume(4), 0o644)
            .expect("resume at the end");
        f.write_all(b"c\n").expect("write");
        drop(f);
        assert_eq!(
            fs::read(s.host(b"f")).ok().as_deref(),
            Some(&b"a\nb\nc\n"[..])
        );
    }

    #[test]
    fn extend_starts_only_at_the_end_and_only_adds() {
        let s = Scratch::new();
        s.write(b"f", b"0123");
        let open = |offset| {
            s.jail
                .open_write(&vp(b"f"), WriteMode::Extend(offset), 0o644)
        };
        assert_eq!(open(1).err(), Some(FtpError::PermissionDenied));
        assert_eq!(open(3).err(), Some(FtpError::PermissionDenied));
        assert_eq!(open(5).err(), Some(FtpError::RestPastEnd));
        assert_eq!(fs::read(s.host(b"f")).ok().as_deref(), Some(&b"0123"[..]));
        assert_eq!(
            s.jail
                .open_write(&vp(b"new"), WriteMode::Extend(1), 0o644)
                .err(),
            Some(FtpError::RestPastEnd)
        );
        assert!(!s.host(b"new").exists());
        let mut f = open(4).expect("extend at the end");
        // The file grows after the check: the upload still lands after everything there.
        fs::OpenOptions::new()
            .append(true)
            .open(s.host(b"f"))
            .and_then(|mut o| o.write_all(b"45"))
            .expect("grow");
        f.write_all(b"ab").expect("write");
        drop(f);
        assert_eq!(
            fs::read(s.host(b"f")).ok().as_deref(),
            Some(&b"012345ab"[..])
        );
    }

    #[test]
    fn resume_past_4gib_on_sparse_file() {
        let s = Scratch::new();
        s.write(b"big", b"head");
        let offset: u64 = (5 << 30) + 7;
        // The partial upload a resume continues: sparse, so it costs no disk.
        fs::OpenOptions::new()
            .write(true)
            .open(s.host(b"big"))
            .and_then(|f| f.set_len(offset))
            .expect("sparse fixture");
        let mut f = s
            .jail
            .open_write(&vp(b"big"), WriteMode::Resume(offset), 0o644)
            .expect("resume");
        assert_eq!(f.stream_position().ok(), Some(offset));
        // Nothing is cut or extended before the first write.
        assert_eq!(f.metadata().map(|m| m.len()).ok(), Some(offset));
        f.write_all(b"tail").expect("write");
        drop(f);
        assert_eq!(s.jail.stat(&vp(b"big")).map(|i| i.size), Ok(offset + 4));
        let (mut r, info) = s.jail.open_read(&vp(b"big")).expect("open_read");
        assert_eq!(info.size, offset + 4);
        let mut head = [0u8; 4];
        r.read_exact(&mut head).expect("read head");
        assert_eq!(&head, b"head");
        r.seek(SeekFrom::Start(offset)).expect("seek");
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).expect("read tail");
        assert_eq!(tail, b"tail");
        // Cutting back below 4 GiB where writing stopped works too.
        let f = s
            .jail
            .open_write(&vp(b"big"), WriteMode::Resume(2), 0o644)
            .expect("resume");
        f.set_len(2).expect("cut");
        drop(f);
        assert_eq!(s.jail.stat(&vp(b"big")).map(|i| i.size), Ok(2));
    }

    #[test]
    fn set_times_changes_mtime_only() {
        let s = Scratch::new();
        s.write(b"f", b"x");
        s.link(b"l", b"f");
        let before = fs::metadata(s.host(b"f")).expect("meta");
        s.jail
            .set_times(&vp(b"l"), 1_000_000_000, 123_456_789)
            .expect("set_times");
        let info = s.jail.stat(&vp(b"f")).expect("stat");
        assert_eq!((info.mtime, info.mtime_nsec), (1_000_000_000, 123_456_789));
        let after = fs::metadata(s.host(b"f")).expect("meta");
        assert_eq!(
            (after.atime(), after.atime_nsec()),
            (before.atime(), before.atime_nsec())
        );
        // The link itself was not touched.
        let l = s.jail.lstat(&vp(b"l")).expect("lstat");
        assert_ne!(l.mtime, 1_000_000_000);
        s.jail
            .set_times(&VirtualPath::root(), 1_500_000_000, 0)
            .expect("root");
        assert_eq!(
            s.jail.stat(&VirtualPath::root()).map(|i| i.mtime),
            Ok(1_500_000_000)
        );
        assert!(matches!(
            s.jail.set_times(&vp(b"f"), 0, 1_000_000_000),
            Err(FtpError::BadArgument(_))
        ));
        assert_eq!(
            s.jail.set_times(&vp(b"none"), 0, 0),
            Err(FtpError::NotFound)
        );
    }

    #[test]
    fn set_mode_acts_on_the_target() {
        let s = Scratch::new();
        s.write(b"f", b"x");
        s.mkdir(b"d");
        s.link(b"l", b"f");
        s.jail.set_mode(&vp(b"l"), 0o640).expect("chmod via link");
        assert_eq!(s.jail.stat(&vp(b"f")).map(|i| i.mode & 0o7777), Ok(0o640));
        assert_eq!(
            s.jail.lstat(&vp(b"l")).map(|i| i.kind),
            Ok(FileKind::Symlink)
        );
        s.jail.set_mode(&vp(b"d"), 0o750).expect("chmod dir");
        assert_eq!(s.jail.stat(&vp(b"d")).map(|i| i.mode & 0o7777), Ok(0o750));
        // Only permission bits: setuid, setgid and sticky are refused and change nothing.
        for special in [0o4755, 0o2755, 0o1777, 0o7777, 0o1000] {
            assert_eq!(
                s.jail.set_mode(&vp(b"d"), special),
                Err(FtpError::PermissionDenied),
                "{special:o}"
            );
        }
        assert_eq!(s.jail.stat(&vp(b"d")).map(|i| i.mode & 0o7777), Ok(0o750));
        // A file nobody can read still gets its mode changed.
        s.jail.set_mode(&vp(b"f"), 0).expect("chmod 000");
        s.jail.set_mode(&vp(b"f"), 0o604).expect("chmod from 000");
        assert_eq!(s.jail.stat(&vp(b"f")).map(|i| i.mode & 0o7777), Ok(0o604));
        assert_eq!(
            s.jail.set_mode(&vp(b"none"), 0o644),
            Err(FtpError::NotFound)
        );
    }

    #[test]
    fn read_link_reports_raw_text() {
        let s = Scratch::new();
        s.write(b"f", b"");
        s.link(b"l", b"../../\xffodd");
        assert_eq!(s.jail.read_link(&vp(b"l")), Ok(b"../../\xffodd".to_vec()));
        assert_eq!(s.jail.read_link(&vp(b"f")), Err(FtpError::NotFound));
        assert_eq!(s.jail.read_link(&vp(b"none")), Err(FtpError::NotFound));
    }

    #[test]
    fn root_fd_survives_host_rename() {
        let s = Scratch::new();
        s.write(b"f", b"still here");
        let moved = s.base.join("moved-root");
        fs::rename(&s.root, &moved).expect("rename root");
        assert_eq!(s.read(b"f").as_deref(), Ok(&b"still here"[..]));
        fs::rename(&moved, &s.root).expect("rename back");
    }

    /// A reserved name as another, dead or live, instance would leave it.
    const FOREIGN_TEMP: &[u8] = b".ferroftpd-upload.1.0123456789abcdef.0";

    #[test]
    fn upload_temporaries_do_not_exist_for_clients() {
        let s = Scratch::new();
        s.mkdir(b"d");
        s.write(b"d/f", b"x");
        let mut t = b"d/".to_vec();
        t.extend_from_slice(FOREIGN_TEMP);
        s.write(&t, b"partial");
        // Held, as a live upload holds it: nothing below may remove it.
        let held = fs::File::open(s.host(&t)).expect("open");
        assert_eq!(
            crate::ffi::try_lock_exclusive(held.as_fd()).ok(),
            Some(true)
        );
        s.link(b"d/l", FOREIGN_TEMP);
        let names: Vec<Vec<u8>> = s
            .jail
            .list_dir(&vp(b"d"), 10)
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"f".to_vec(), b"l".to_vec()]);
        let gone = Err(FtpError::NotFound);
        assert_eq!(s.jail.stat(&vp(&t)).map(|_| ()), gone);
        assert_eq!(s.jail.lstat(&vp(&t)).map(|_| ()), gone);
        assert_eq!(s.read(&t).map(|_| ()), gone);
        assert_eq!(s.read(b"d/l").map(|_| ()), gone);
        assert_eq!(s.jail.remove_file(&vp(&t)), gone);
        assert_eq!(s.jail.remove_dir(&vp(&t)), gone);
        assert_eq!(s.jail.rename(&vp(&t), &vp(b"d/g"), Existing::Replace), gone);
        assert_eq!(s.jail.set_mode(&vp(&t), 0o600), gone);
        assert_eq!(s.jail.list_dir(&vp(&t), 10).map(|_| ()), gone);
        let refused = Err(FtpError::NameNotAllowed);
        assert_eq!(
            s.jail.rename(&vp(b"d/f"), &vp(&t), Existing::Replace),
            refused
        );
        assert_eq!(s.jail.make_dir(&vp(b".ferroftpd-upload.x"), 0o755), refused);
        for mode in [WriteMode::Truncate, WriteMode::Append, WriteMode::CreateNew] {
            assert_eq!(
                s.jail.open_write(&vp(&t), mode, 0o644).err(),
                Some(FtpError::NameNotAllowed)
            );
        }
        assert_eq!(
            s.jail.open_atomic(&vp(&t), 0o644).err(),
            Some(FtpError::NameNotAllowed)
        );
        assert_eq!(fs::read(s.host(&t)).ok().as_deref(), Some(&b"partial"[..]));
        assert_eq!(fs::read(s.host(b"d/f")).ok().as_deref(), Some(&b"x"[..]));
        // Unlocked (its writer died): the next listing removes it.
        drop(held);
        assert_eq!(s.jail.list_dir(&vp(b"d"), 10).map(|l| l.len()), Ok(2));
        assert!(!s.host(&t).exists());
    }

    #[test]
    fn only_stale_temporaries_are_removed() {
        let s = Scratch::new();
        let foreign = FOREIGN_TEMP;
        let legacy_old: &[u8] = b".ferroftpd-upload.4242.0";
        let legacy_new: &[u8] = b".ferroftpd-upload.4242.1";
        let unknown: &[u8] = b".ferroftpd-upload.notes";
        for name in [foreign, legacy_old, legacy_new, unknown] {
            s.write(name, b"data");
        }
        let two_days = TimeSpec::new(temp::now_secs() - 2 * temp::LEGACY_AGE_SECS, 0);
        stat::utimensat(
            fcntl::AT_FDCWD,
            &s.host(legacy_old),
            &two_days,
            &two_days,
            UtimensatFlags::NoFollowSymlink,
        )
        .expect("age");
        // An upload of this instance in progress, named (as without O_TMPFILE).
        let upload = s.jail.open_atomic(&vp(b"target"), 0o640).expect("atomic");
        assert_eq!(s.jail.list_dir(&VirtualPath::root(), 10), Ok(Vec::new()));
        let mut left: Vec<Vec<u8>> = fs::read_dir(&s.root)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().into_vec())
            .collect();
        left.sort();
        // Kept: the recent legacy one, the unknown one, and our own live upload if named
        // (O_TMPFILE leaves it nameless).
        let own: Vec<&Vec<u8>> = left
            .iter()
            .filter(|n| n[..] != *legacy_new && n[..] != *unknown)
            .collect();
        assert_eq!(own.len(), usize::from(upload.is_named()), "{own:?}");
        assert_eq!(left.len(), 2 + own.len());
        assert!(!s.host(foreign).exists() && !s.host(legacy_old).exists());
        drop(upload);
        assert!(!s.host(b"target").exists());
    }

    #[test]
    fn atomic_upload_replaces_only_when_committed() {
        let s = Scratch::new();
        s.write(b"target", b"old");
        s.link(b"link", b"target");
        let reserved = |s: &Scratch| {
            fs::read_dir(&s.root)
                .expect("read_dir")
                .filter(|e| temp::is_reserved(e.as_ref().expect("entry").file_name().as_bytes()))
                .count()
        };
        let upload = s.jail.open_atomic(&vp(b"target"), 0o600).expect("atomic");
        upload
            .file()
            .expect("file")
            .write_all(b"half")
            .expect("write");
        drop(upload);
        assert_eq!(
            fs::read(s.host(b"target")).ok().as_deref(),
            Some(&b"old"[..])
        );
        assert_eq!(reserved(&s), 0);
        let upload = s.jail.open_atomic(&vp(b"target"), 0o600).expect("atomic");
        upload
            .file()
            .expect("file")
            .write_all(b"new")
            .expect("write");
        upload.commit(true, Existing::Replace).expect("commit");
        assert_eq!(
            fs::read(s.host(b"target")).ok().as_deref(),
            Some(&b"new"[..])
        );
        let m = fs::metadata(s.host(b"target"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o600);
        assert_eq!(reserved(&s), 0);
        // The name itself is replaced, as by a rename; a directory never is.
        let upload = s.jail.open_atomic(&vp(b"link"), 0o644).expect("atomic");
        upload.commit(false, Existing::Replace).expect("commit");
        assert!(fs::symlink_metadata(s.host(b"link"))
            .expect("meta")
            .is_file());
        s.mkdir(b"dir");
        assert_eq!(
            s.jail.open_atomic(&vp(b"dir"), 0o644).err(),
            Some(FtpError::NotAFile)
        );
        assert_eq!(
            s.jail.open_atomic(&VirtualPath::root(), 0o644).err(),
            Some(FtpError::NotAFile)
        );
    }

    /// The reserved (temporary) names in the scratch root.
    fn reserved_names(s: &Scratch) -> Vec<Vec<u8>> {
        fs::read_dir(&s.root)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().as_bytes().to_vec())
            .filter(|n| temp::is_reserved(n))
            .collect()
    }

    /// Issue 10 follow-up: under deny_overwrite an atomic upload's commit renamed over a file
    /// made during the upload. With `Existing::Refuse` it must fail with `AlreadyExists`, keep
    /// that file and remove the temporary, on both paths: an `O_TMPFILE` file linked onto the
    /// target and a named temporary renamed without replacing (kernels before 3.11).
    #[test]
    fn deny_overwrite_commit_keeps_a_target_made_during_the_upload() {
        let s = Scratch::new();
        let start = |named: bool, name: &[u8]| {
            let upload = if named {
                let root = s.jail.root.try_clone().expect("dup root");
                let perm = Mode::from_bits_truncate(0o640);
                AtomicUpload::new_named(root, name.to_vec(), perm).expect("named")
            } else {
                s.jail.open_atomic(&vp(name), 0o640).expect("atomic")
            };
            // Without O_TMPFILE here, only the named path is exercised.
            if upload.is_named() != named {
                eprintln!("note: no O_TMPFILE here, the unnamed path is not exercised");
            }
            upload
        };
        for named in [false, true] {
            let how = if named { "named" } else { "unnamed" };
            let late = format!("late-{how}");
            let upload = start(named, late.as_bytes());
            upload
                .file()
                .expect("file")
                .write_all(b"upload")
                .expect("write");
            // Another session stores the same name while this upload runs.
            s.write(late.as_bytes(), b"theirs");
            assert_eq!(
                upload.commit(true, Existing::Refuse),
                Err(FtpError::AlreadyExists),
                "{how}"
            );
            assert_eq!(
                fs::read(s.host(late.as_bytes())).ok().as_deref(),
                Some(&b"theirs"[..]),
                "{how}"
            );
            assert_eq!(reserved_names(&s), Vec::<Vec<u8>>::new(), "{how}");
            // A dangling symlink is a taken name too, and is not followed.
            let dangling = format!("dangling-{how}");
            s.link(dangling.as_bytes(), b"nowhere");
            let upload = start(named, dangling.as_bytes());
            assert_eq!(
                upload.commit(false, Existing::Refuse),
                Err(FtpError::AlreadyExists),
                "{how}"
            );
            assert!(!s.host(b"nowhere").exists(), "{how}");
            assert_eq!(reserved_names(&s), Vec::<Vec<u8>>::new(), "{how}");
            // A free name is committed whole, with the asked mode.
            let fresh = format!("fresh-{how}");
            let upload = start(named, fresh.as_bytes());
            upload
                .file()
                .expect("file")
                .write_all(b"complete")
                .expect("write");
            upload.commit(true, Existing::Refuse).expect("commit");
            assert_eq!(
                fs::read(s.host(fresh.as_bytes())).ok().as_deref(),
                Some(&b"complete"[..]),
                "{how}"
            );
            let m = fs::metadata(s.host(fresh.as_bytes()))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(m & 0o7777, 0o640, "{how}");
            assert_eq!(reserved_names(&s), Vec::<Vec<u8>>::new(), "{how}");
        }
    }

    /// The Linux 3.10 path of a rename that never replaces: link(2) then unlink(2).
    #[test]
    fn link_then_unlink_moves_only_to_a_free_name() {
        let s = Scratch::new();
        s.write(b"a", b"A");
        s.write(b"b", b"B");
        s.link(b"l", b"a");
        let dir = s.jail.root.as_fd();
        assert_eq!(
            noreplace::link_then_unlink(dir, b"a", dir, b"b"),
            Err(Errno::EEXIST)
        );
        assert_eq!(fs::read(s.host(b"a")).ok().as_deref(), Some(&b"A"[..]));
        assert_eq!(fs::read(s.host(b"b")).ok().as_deref(), Some(&b"B"[..]));
        noreplace::link_then_unlink(dir, b"a", dir, b"c").expect("move");
        assert!(fs::symlink_metadata(s.host(b"a")).is_err());
        assert_eq!(fs::read(s.host(b"c")).ok().as_deref(), Some(&b"A"[..]));
        assert_eq!(fs::metadata(s.host(b"c")).expect("meta").nlink(), 1);
        // A symlink is moved itself, even a dangling one.
        noreplace::link_then_unlink(dir, b"l", dir, b"m").expect("move link");
        assert_eq!(s.jail.read_link(&vp(b"m")), Ok(b"a".to_vec()));
        assert!(fs::symlink_metadata(s.host(b"l")).is_err());
        // A directory cannot be linked: the caller falls back (jail/noreplace.rs).
        s.mkdir(b"d");
        assert_eq!(
            noreplace::link_then_unlink(dir, b"d", dir, b"e"),
            Err(Errno::EPERM)
        );
        assert!(s.host(b"d").is_dir());
    }

    /// Issue 10 follow-up: RNTO replaced an existing target even under deny_overwrite.
    #[test]
    fn rename_refusing_existing_keeps_both_names() {
        let s = Scratch::new();
        s.write(b"a", b"A");
        s.write(b"b", b"B");
        s.link(b"dangling", b"nowhere");
        s.mkdir(b"d");
        s.mkdir(b"e");
        let refuse = |from: &[u8], to: &[u8]| s.jail.rename(&vp(from), &vp(to), Existing::Refuse);
        for (from, to) in [
            (&b"a"[..], &b"b"[..]),
            (b"a", b"dangling"),
            (b"a", b"d"),
            (b"d", b"e"),
            (b"d", b"b"),
        ] {
            assert_eq!(
                refuse(from, to),
                Err(FtpError::AlreadyExists),
                "{} -> {}",
                String::from_utf8_lossy(from),
                String::from_utf8_lossy(to)
            );
        }
        assert_eq!(fs::read(s.host(b"a")).ok().as_deref(), Some(&b"A"[..]));
        assert_eq!(fs::read(s.host(b"b")).ok().as_deref(), Some(&b"B"[..]));
        assert!(!s.host(b"nowhere").exists());
        assert!(s.host(b"d").is_dir() && s.host(b"e").is_dir());
        refuse(b"a", b"c").expect("file to a free name");
        assert_eq!(fs::read(s.host(b"c")).ok().as_deref(), Some(&b"A"[..]));
        assert!(fs::symlink_metadata(s.host(b"a")).is_err());
        refuse(b"d", b"e/d2").expect("directory to a free name");
        assert!(s.host(b"e/d2").is_dir() && !s.host(b"d").exists());
        // Without the refusal the target is replaced, as rename(2) does.
        s.jail
            .rename(&vp(b"c"), &vp(b"b"), Existing::Replace)
            .expect("replace");
        assert_eq!(fs::read(s.host(b"b")).ok().as_deref(), Some(&b"A"[..]));
    }

    #[test]
    fn shared_between_threads() {
        let s = Scratch::new();
        s.mkdir(b"d");
        s.link(b"l", b"/d");
        std::thread::scope(|scope| {
            for i in 0..4u32 {
                let jail = &s.jail;
                scope.spawn(move || {
                    for j in 0..50u32 {
                        let name = format!("l/t{i}-{j}");
                        let mut f = jail
                            .open_write(&vp(name.as_bytes()), WriteMode::CreateNew, 0o644)
                            .expect("create");
                        f.write_all(name.as_bytes()).expect("write");
                        assert_eq!(
                            jail.stat(&vp(name.as_bytes())).map(|i| i.size),
                            Ok(u64::try_from(name.len()).unwrap_or(0))
                        );
                    }
                });
            }
        });
        assert_eq!(s.jail.list_dir(&vp(b"d"), 1000).map(|l| l.len()), Ok(200));
    }
}
