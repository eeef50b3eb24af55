//! Hidden temporaries of atomic uploads: made, committed, and removed once stale.
//!
//! Names starting with [`PREFIX`] are reserved: the jail hides them from every client path
//! and listing (see `Jail::resolve` and `Jail::list_dir`), so a client can neither see, read,
//! remove, rename nor create one.
//!
//! Where the kernel and file system offer `O_TMPFILE` (Linux 3.11+, most local file systems),
//! an upload is written to an unnamed file that is linked under a reserved name only at the
//! end and at once renamed over its target (under deny_overwrite, linked straight onto the
//! target name, which fails if it is taken): a crash leaves nothing behind. Linking needs
//! `/proc/self/fd` (or `AT_EMPTY_PATH`, which needs CAP_DAC_READ_SEARCH), so without `/proc`
//! (a chroot), on Linux 3.10 or on a file system without `O_TMPFILE`, the upload goes to a
//! named temporary `.ferroftpd-upload.<pid>.<instance>.<n>` from the start.
//!
//! Staleness: whoever writes a temporary holds an exclusive `flock(2)` on it for the whole
//! upload, and the kernel drops that lock when the writer dies, however it dies (SIGKILL,
//! power cut). A temporary is stale when its lock can be taken: a live upload of any server
//! instance on the same tree keeps it, whatever its pid, pid namespace or host (NFS locks).
//! Never removed: this instance's own names (told apart by a random instance token, since
//! pids are reused after a reboot; on NFS a lock taken twice by one process does not
//! conflict), names whose lock cannot be tried (a file system without locks, an unreadable
//! file), and names of another form. Temporaries of earlier versions (`<pid>.<n>`, written
//! without a lock) are removed once unlocked and untouched for [`LEGACY_AGE_SECS`].
//! Stale temporaries go when their directory is listed, or the first time this instance
//! uploads into it: there is no walk over the tree at startup.

use super::{base_flags, noreplace, stat_kind, Existing};
use crate::error::FtpError;
use crate::file_info::FileKind;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use nix::unistd::{self, UnlinkatFlags};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Every temporary's name starts with this; such names are reserved inside every jail.
pub const PREFIX: &[u8] = b".ferroftpd-upload.";
/// An unlocked temporary of an earlier version is stale once untouched this long: a live
/// upload writes to it far more often (`data_timeout` ends an idle one).
pub const LEGACY_AGE_SECS: i64 = 24 * 3600;
/// Names tried before giving up on making a temporary.
const ATTEMPTS: u32 = 16;
/// Directories remembered as swept by uploads of this instance (the oldest is forgotten).
const SWEPT_MEMORY: usize = 64;
/// Directory entries an upload's sweep reads at most (a listing reads its own bound).
const SWEEP_MAX_ENTRIES: usize = 100_000;

/// Whether `name` is in the reserved name space.
pub fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(PREFIX)
}

/// `<pid>.<token>` of this process: the token tells this instance from an earlier one that
/// had the same pid (pids restart after a reboot).
fn instance() -> &'static str {
    static INSTANCE: OnceLock<String> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        // std seeds RandomState from getrandom, or /dev/urandom on kernels without it.
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("{}.{:016x}", std::process::id(), h.finish())
    })
}

/// A fresh temporary name of this instance.
fn next_name() -> Vec<u8> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = PREFIX.to_vec();
    name.extend_from_slice(format!("{}.{n}", instance()).as_bytes());
    name
}

/// Who wrote a reserved name, judged from its form.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// This instance.
    Me,
    /// Another instance of this version (locked while live).
    Other,
    /// An earlier version: `<pid>.<n>`, never locked.
    Legacy,
    /// Not a temporary we know; left alone.
    Unknown,
}

fn owner(name: &[u8]) -> Owner {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return Owner::Unknown;
    };
    let digits = |p: &[u8]| !p.is_empty() && p.len() <= 20 && p.iter().all(u8::is_ascii_digit);
    let parts: Vec<&[u8]> = rest.split(|&b| b == b'.').collect();
    match parts[..] {
        [pid, token, n]
            if digits(pid)
                && digits(n)
                && token.len() == 16
                && token.iter().all(u8::is_ascii_hexdigit) =>
        {
            let mine = instance().as_bytes();
            if rest.len() > mine.len() && rest.starts_with(mine) && rest[mine.len()] == b'.' {
                Owner::Me
            } else {
                Owner::Other
            }
        }
        [pid, n] if digits(pid) && digits(n) => Owner::Legacy,
        _ => Owner::Unknown,
    }
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// Remove the reserved entry `name` of `dir` if it is a stale temporary (module docs).
/// Returns whether it was removed; every doubt keeps the file.
pub fn remove_if_stale(dir: BorrowedFd<'_>, name: &[u8], now: i64) -> bool {
    let owner = owner(name);
    if owner == Owner::Me || owner == Owner::Unknown {
        return false;
    }
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | base_flags();
    let Ok(fd) = fcntl::openat(dir, name, flags, Mode::empty()) else {
        return false;
    };
    let Ok(st) = stat::fstat(&fd) else {
        return false;
    };
    if stat_kind(&st) != FileKind::File {
        return false;
    }
    // Held: a live upload. An error: this file system cannot tell us, so keep it.
    if !matches!(crate::ffi::try_lock_exclusive(fd.as_fd()), Ok(true)) {
        return false;
    }
    #[allow(clippy::useless_conversion)]
    let mtime = i64::from(st.st_mtime);
    if owner == Owner::Legacy && now.saturating_sub(mtime) < LEGACY_AGE_SECS {
        return false;
    }
    // The name must still be the file we locked (never remove a newer file of that name).
    match stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(now_st) if same_file(&now_st, &st) => {}
        _ => return false,
    }
    let removed = unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).is_ok();
    if removed {
        log::info!(
            "removed a stale upload temporary ({} bytes) {}",
            st.st_size,
            String::from_utf8_lossy(name).escape_debug()
        );
    }
    // `fd` closes here, releasing the lock.
    removed
}

/// Seconds since the epoch (0 if the clock is before it).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Before an upload into `dir`: remove its stale temporaries, once per directory and instance
/// (a listing sweeps every time, as it reads the directory anyway).
pub fn sweep_before_upload(dir: BorrowedFd<'_>) {
    static SWEPT: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
    let Ok(st) = stat::fstat(dir) else {
        return;
    };
    #[allow(clippy::useless_conversion)]
    let key = (u64::from(st.st_dev), u64::from(st.st_ino));
    {
        let Ok(mut swept) = SWEPT.lock() else {
            return;
        };
        if swept.contains(&key) {
            return;
        }
        if swept.len() >= SWEPT_MEMORY {
            swept.remove(0);
        }
        swept.push(key);
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | base_flags();
    let Ok(fd) = fcntl::openat(dir, ".", flags, Mode::empty()) else {
        return;
    };
    let Ok(mut listing) = Dir::from_fd(fd) else {
        return;
    };
    let mut reserved = Vec::new();
    for entry in listing.iter().take(SWEEP_MAX_ENTRIES) {
        let Ok(entry) = entry else {
            break;
        };
        let name = entry.file_name().to_bytes();
        if is_reserved(name) {
            reserved.push(name.to_vec());
        }
    }
    let now = now_secs();
    for name in reserved {
        remove_if_stale(dir, &name, now);
    }
}

/// Make the file an atomic upload writes, in `dir`, with mode `perm` exactly: unnamed
/// (`O_TMPFILE`) where it can be linked later, else under a fresh reserved name. Returns the
/// file and its name (`None` for an unnamed one); the file is locked when the file system can.
pub fn create(dir: BorrowedFd<'_>, perm: Mode) -> Result<(File, Option<Vec<u8>>), FtpError> {
    if let Some(file) = create_unnamed(dir, perm)? {
        return Ok((file, None));
    }
    let (file, name) = create_named(dir, perm)?;
    Ok((file, Some(name)))
}

/// Make a temporary under a fresh reserved name in `dir` (no `O_TMPFILE`), locked when the
/// file system can.
fn create_named(dir: BorrowedFd<'_>, perm: Mode) -> Result<(File, Vec<u8>), FtpError> {
    for _ in 0..ATTEMPTS {
        let name = next_name();
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let fd = match fcntl::openat(dir, &name[..], flags | base_flags(), perm) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e.into()),
        };
        let cleanup = |fd: OwnedFd| {
            drop(fd);
            let _ = unistd::unlinkat(dir, &name[..], UnlinkatFlags::NoRemoveDir);
        };
        if let Err(e) = stat::fchmod(&fd, perm) {
            cleanup(fd);
            return Err(e.into());
        }
        // Held elsewhere: a sweeper opened it between our create and lock and will remove it,
        // so take the next name. An error means no locks on this file system: sweepers cannot
        // lock it either, so they keep it.
        if let Ok(false) = crate::ffi::try_lock_exclusive(fd.as_fd()) {
            continue;
        }
        // Locked: still ours under that name, or a sweeper removed it before we locked.
        let ours = match (
            stat::fstat(&fd),
            stat::fstatat(dir, &name[..], AtFlags::AT_SYMLINK_NOFOLLOW),
        ) {
            (Ok(a), Ok(b)) => same_file(&a, &b),
            _ => false,
        };
        if ours {
            return Ok((File::from(fd), name));
        }
    }
    Err(FtpError::LocalError)
}

/// An `O_TMPFILE` file in `dir` if this kernel, file system and `/proc` allow making and
/// later linking one; `None` to fall back to a named temporary.
fn create_unnamed(dir: BorrowedFd<'_>, perm: Mode) -> Result<Option<File>, FtpError> {
    // Without O_EXCL the file can be linked into the directory later.
    let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | base_flags();
    let fd = match fcntl::openat(dir, ".", flags, perm) {
        Ok(fd) => fd,
        // Linux < 3.11 ignores the unknown flag and refuses to open a directory for writing
        // (EISDIR); file systems without support say EOPNOTSUPP; EINVAL for odd combinations.
        Err(Errno::EISDIR | Errno::EOPNOTSUPP | Errno::EINVAL | Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Linking it needs /proc/self/fd (absent in a chroot); check before any byte is written.
    let linkable = match (
        stat::fstat(&fd),
        stat::stat(proc_fd_path(fd.as_fd()).as_str()),
    ) {
        (Ok(a), Ok(b)) => same_file(&a, &b),
        _ => false,
    };
    if !linkable {
        return Ok(None);
    }
    // The kernel applied the process umask; set exactly what was asked.
    stat::fchmod(&fd, perm)?;
    // Held from now on, so the name it is linked under at the end is never taken for stale.
    let _ = crate::ffi::try_lock_exclusive(fd.as_fd());
    Ok(Some(File::from(fd)))
}

fn proc_fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Link the unnamed `file` into `dir` as `name`: EEXIST if the name is taken.
fn link_unnamed_as(file: &File, dir: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let by_proc = unistd::linkat(
        fcntl::AT_FDCWD,
        proc_fd_path(file.as_fd()).as_str(),
        dir,
        name,
        AtFlags::AT_SYMLINK_FOLLOW,
    );
    match by_proc {
        // /proc went away since the check: AT_EMPTY_PATH works with CAP_DAC_READ_SEARCH.
        Err(Errno::ENOENT) => unistd::linkat(file, "", dir, name, AtFlags::AT_EMPTY_PATH),
        other => other,
    }
}

/// Give the unnamed `file` a fresh reserved name in `dir`; returns it.
pub fn link_unnamed(file: &File, dir: BorrowedFd<'_>) -> Result<Vec<u8>, FtpError> {
    for _ in 0..ATTEMPTS {
        let name = next_name();
        match link_unnamed_as(file, dir, &name[..]) {
            Ok(()) => return Ok(name),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(FtpError::LocalError)
}

/// An upload being written to a hidden temporary beside its target (`atomic_uploads`).
/// Dropped without [`AtomicUpload::commit`], it leaves the target as it was and removes the
/// temporary (on every path, unwinding included).
#[derive(Debug)]
pub struct AtomicUpload {
    /// The target's directory (`O_PATH`).
    dir: OwnedFd,
    /// The target's name in `dir`.
    target: Vec<u8>,
    /// The temporary (locked while this lives).
    file: File,
    /// The temporary's name in `dir`; `None` while it has none (`O_TMPFILE`).
    temp: Option<Vec<u8>>,
}

impl AtomicUpload {
    /// Start an upload of `target` in `dir`; the file has mode `perm` exactly.
    pub(super) fn new(dir: OwnedFd, target: Vec<u8>, perm: Mode) -> Result<Self, FtpError> {
        let (file, temp) = create(dir.as_fd(), perm)?;
        Ok(AtomicUpload {
            dir,
            target,
            file,
            temp,
        })
    }

    /// As [`AtomicUpload::new`], always with a named temporary: the path of kernels and file
    /// systems without `O_TMPFILE`, for tests on machines that have it.
    #[cfg(test)]
    pub(super) fn new_named(dir: OwnedFd, target: Vec<u8>, perm: Mode) -> Result<Self, FtpError> {
        let (file, temp) = create_named(dir.as_fd(), perm)?;
        Ok(AtomicUpload {
            dir,
            target,
            file,
            temp: Some(temp),
        })
    }

    /// A handle for the writer (shares the lock and the file offset).
    pub fn file(&self) -> Result<File, FtpError> {
        Ok(self.file.try_clone()?)
    }

    /// Whether the temporary has a name in the directory (no `O_TMPFILE`).
    pub fn is_named(&self) -> bool {
        self.temp.is_some()
    }

    /// Put the complete file in place of the target in one step; with `sync`, the directory
    /// is flushed too, so the new name survives a power cut. With `Existing::Refuse`
    /// (deny_overwrite) a target that appeared during the upload is kept and the commit fails
    /// with `AlreadyExists`, atomically: an unnamed file is linked straight onto the target
    /// name, a named one renamed without replacing (jail/noreplace.rs).
    pub fn commit(mut self, sync: bool, existing: Existing) -> Result<(), FtpError> {
        match (self.temp.take(), existing) {
            (None, Existing::Refuse) => {
                link_unnamed_as(&self.file, self.dir.as_fd(), &self.target[..])?;
            }
            (None, Existing::Replace) => {
                // Named from here on: a failure below removes it in `drop`.
                self.temp = Some(link_unnamed(&self.file, self.dir.as_fd())?);
                self.rename_into_place(existing)?;
            }
            (Some(name), _) => {
                self.temp = Some(name);
                self.rename_into_place(existing)?;
            }
        }
        if sync {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | base_flags();
            let dir = fcntl::openat(self.dir.as_fd(), ".", flags, Mode::empty())?;
            unistd::fsync(&dir)?;
        }
        Ok(())
    }

    /// Rename the named temporary to the target; it has no name left once this succeeds.
    fn rename_into_place(&mut self, existing: Existing) -> Result<(), FtpError> {
        let temp = self.temp.as_deref().unwrap_or_default();
        let dir = self.dir.as_fd();
        match existing {
            Existing::Replace => fcntl::renameat(dir, temp, dir, &self.target[..])?,
            Existing::Refuse => noreplace::rename(dir, temp, dir, &self.target[..])?,
        }
        self.temp = None;
        Ok(())
    }
}

impl Drop for AtomicUpload {
    fn drop(&mut self) {
        if let Some(name) = &self.temp {
            let _ = unistd::unlinkat(self.dir.as_fd(), &name[..], UnlinkatFlags::NoRemoveDir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reserved_and_owned() {
        let mine = next_name();
        assert!(is_reserved(&mine));
        assert_eq!(owner(&mine), Owner::Me);
        assert_ne!(next_name(), mine);
        let pid = std::process::id();
        let other = format!(".ferroftpd-upload.{pid}.0123456789abcdef.3");
        // Same pid, another token: an earlier process that had this pid.
        assert_eq!(owner(other.as_bytes()), Owner::Other);
        assert_eq!(
            owner(b".ferroftpd-upload.77.fedcba9876543210.0"),
            Owner::Other
        );
        assert_eq!(owner(b".ferroftpd-upload.1234.5"), Owner::Legacy);
        for odd in [
            &b".ferroftpd-upload."[..],
            b".ferroftpd-upload.notes",
            b".ferroftpd-upload.1.2.3.4",
            b".ferroftpd-upload.12.xyz.1",
            b".ferroftpd-upload.1.0123456789abcdeg.1",
            b"ferroftpd-upload.1.2",
        ] {
            assert_eq!(
                owner(odd),
                Owner::Unknown,
                "{}",
                String::from_utf8_lossy(odd)
            );
        }
        assert!(is_reserved(b".ferroftpd-upload.notes"));
        assert!(!is_reserved(b".ferroftpd-upload"));
        assert!(!is_reserved(b"x.ferroftpd-upload.1.2"));
    }
}
