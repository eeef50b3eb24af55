//! `Jail`: the only code that opens, stats, lists, renames and removes files, with chroot semantics.
//!
//! Every path is resolved by hand, one component at a time, from an open root directory:
//! each step is `openat(dir, name, O_PATH | O_NOFOLLOW | O_DIRECTORY)`, symlinks are read with
//! `readlinkat` and spliced in front of the remaining names (an absolute target restarts at the
//! root, `..` pops a stack of directory fds and never leaves the root, at most 40 links), and the
//! final operation is an `*at` call on the last directory fd. Nothing here depends on
//! `openat2`/`statx` (Linux >= 3.10 is enough) or on the process cwd or umask; `/proc` is used
//! (through the libc) only as a last resort to chmod a file we cannot open.
//!
//! | file | what |
//! |---|---|
//! | `jail/resolve.rs` | the walk: `openat` per component, `..` and symlinks kept inside the root |
//! | `jail/files.rs` | opening regular files to read, to write (each `WriteMode`), atomic uploads |
//! | `jail/dirs.rs` | listing, mkdir, rmdir, unlink, rename |
//! | `jail/meta.rs` | stat, lstat, link text, set_times, set_mode |
//! | `jail/temp.rs` | hidden upload temporaries: made, committed, swept when stale |
//! | `jail/noreplace.rs` | renames that never replace, down to Linux 3.10 |

use crate::file_info::{FileInfo, FileKind};
use nix::fcntl::{self, OFlag};
use nix::libc;
use nix::sys::stat::{FileStat, Mode};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

mod dirs;
mod files;
mod meta;
mod noreplace;
mod resolve;
mod temp;
#[cfg(test)]
mod testkit;

pub use resolve::MAX_SYMLINKS;
pub use temp::AtomicUpload;

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jail::testkit::{vp, Scratch};
    use std::fs;
    use std::io::Write;

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
    fn root_fd_survives_host_rename() {
        let s = Scratch::new();
        s.write(b"f", b"still here");
        let moved = s.base.join("moved-root");
        fs::rename(&s.root, &moved).expect("rename root");
        assert_eq!(s.read(b"f").as_deref(), Ok(&b"still here"[..]));
        fs::rename(&moved, &s.root).expect("rename back");
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
