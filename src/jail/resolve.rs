//! Path resolution with chroot semantics: the `openat` walk, `..` and symlinks inside the root.

use super::{stat_kind, temp, Jail};
use crate::error::FtpError;
use crate::file_info::FileKind;
use crate::vpath::{VirtualPath, MAX_COMPONENTS};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

/// Symlinks followed in one resolution before giving up (Linux `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// What the last component of a path means to an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Last {
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
pub(super) struct Walk<'j> {
    root: BorrowedFd<'j>,
    /// Opened `O_PATH` directories below the root, deepest last; popping one is `..`.
    pub(super) stack: Vec<OwnedFd>,
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
pub(super) struct Target<'j> {
    pub(super) walk: Walk<'j>,
    /// The final name in `walk.dir()`; `None` when the path ends at that directory itself.
    pub(super) name: Option<Vec<u8>>,
    /// What the final entry was when looked at (`lstat`, so never a symlink in follow modes);
    /// `None` if it does not exist (`Create`) or was not looked at (`NoFollow`).
    pub(super) stat: Option<FileStat>,
}

impl Target<'_> {
    pub(super) fn dir(&self) -> BorrowedFd<'_> {
        self.walk.dir()
    }

    /// The name for `*at` calls: `.` stands for the directory itself.
    pub(super) fn name(&self) -> &[u8] {
        self.name.as_deref().unwrap_or(b".")
    }

    /// The metadata of an entry that must exist.
    pub(super) fn existing(&self) -> Result<&FileStat, FtpError> {
        self.stat.as_ref().ok_or(FtpError::NotFound)
    }
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
    /// Walk `p` from the root by chroot rules; the last component is handled per `last`.
    pub(super) fn resolve(&self, p: &VirtualPath, last: Last) -> Result<Target<'_>, FtpError> {
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
    pub(super) fn resolve_not_root(&self, p: &VirtualPath) -> Result<Target<'_>, FtpError> {
        // SECURITY: removing or renaming the jail root is never allowed.
        if p.is_root() {
            return Err(FtpError::PermissionDenied);
        }
        self.resolve(p, Last::NoFollow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jail::testkit::{vp, Scratch, FOREIGN_TEMP};
    use crate::jail::{Existing, WriteMode};
    use std::fs;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;

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
}
