//! Renames that never replace an existing name (`deny_overwrite`), down to Linux 3.10.
//!
//! In order of preference, each refusing a taken name with `AlreadyExists`:
//! 1. `renameat2(RENAME_NOREPLACE)`: atomic; Linux 3.15+ and a file system that offers it.
//! 2. `link(2)` to the new name, then `unlink(2)` of the old one: as atomic (link fails with
//!    EEXIST when the name is taken), works on 3.10; for anything but a directory, on a file
//!    system with hard links, and (with `fs.protected_hardlinks`) for files the server owns.
//! 3. Otherwise (a directory, or a file that cannot be linked, on an old kernel): look, then
//!    rename. The best 3.10 offers: a name made between the look and the rename is replaced.

use crate::error::FtpError;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags};
use nix::libc;
use nix::sys::stat;
use nix::unistd::{self, UnlinkatFlags};
use std::os::fd::BorrowedFd;

/// Rename `old` in `old_dir` to `new` in `new_dir` unless `new` exists (even as a dangling
/// symlink): then `AlreadyExists`, both names untouched. A symlink is renamed itself.
pub fn rename(
    old_dir: BorrowedFd<'_>,
    old: &[u8],
    new_dir: BorrowedFd<'_>,
    new: &[u8],
) -> Result<(), FtpError> {
    match crate::ffi::rename_noreplace(old_dir, old, new_dir, new) {
        Ok(()) => return Ok(()),
        // ENOSYS: before 3.15. EINVAL: this file system lacks the flag (a rename that is
        // itself invalid, e.g. a directory into itself, fails the same way below).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) => {}
        Err(e) => return Err(e.into()),
    }
    match link_then_unlink(old_dir, old, new_dir, new) {
        // EPERM: a directory, a file system without hard links, or a file protected_hardlinks
        // keeps us from linking; EMLINK: too many links already.
        Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK) => {}
        other => return other.map_err(FtpError::from),
    }
    if stat::fstatat(new_dir, new, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
        return Err(FtpError::AlreadyExists);
    }
    fcntl::renameat(old_dir, old, new_dir, new)?;
    Ok(())
}

/// Give `old`'s file the name `new` (EEXIST if taken), then remove `old` if it still names
/// that file: a file put there meanwhile by someone else is left alone.
pub fn link_then_unlink(
    old_dir: BorrowedFd<'_>,
    old: &[u8],
    new_dir: BorrowedFd<'_>,
    new: &[u8],
) -> Result<(), Errno> {
    // No AT_SYMLINK_FOLLOW: a symlink is linked itself, as rename(2) moves it.
    unistd::linkat(old_dir, old, new_dir, new, AtFlags::empty())?;
    let linked = stat::fstatat(new_dir, new, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    match stat::fstatat(old_dir, old, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_dev == linked.st_dev && st.st_ino == linked.st_ino => {}
        // Gone or replaced since the link: the move is done, and the newcomer stays.
        _ => return Ok(()),
    }
    if let Err(e) = unistd::unlinkat(old_dir, old, UnlinkatFlags::NoRemoveDir) {
        // Not moved after all: take the new name back (if still ours), so nothing is doubled.
        if let Ok(st) = stat::fstatat(new_dir, new, AtFlags::AT_SYMLINK_NOFOLLOW) {
            if st.st_dev == linked.st_dev && st.st_ino == linked.st_ino {
                let _ = unistd::unlinkat(new_dir, new, UnlinkatFlags::NoRemoveDir);
            }
        }
        return Err(e);
    }
    Ok(())
}
