//! Directory operations: listing (with the sweep of stale upload temporaries), mkdir, rmdir,
//! unlink and rename.

use super::resolve::Last;
use super::{base_flags, file_info, noreplace, stat_kind, temp, Existing, Jail};
use crate::error::FtpError;
use crate::file_info::{DirEntry, FileKind};
use crate::vpath::VirtualPath;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::libc;
use nix::sys::stat::{self, Mode};
use nix::unistd::{self, UnlinkatFlags};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;

/// Upload temporaries one listing checks for staleness at most.
const MAX_SWEEP_PER_LISTING: usize = 64;

impl Jail {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jail::testkit::{vp, Scratch, FOREIGN_TEMP};
    use crate::jail::WriteMode;
    use nix::sys::stat::UtimensatFlags;
    use nix::sys::time::TimeSpec;
    use std::fs;
    use std::os::unix::fs::MetadataExt;

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
}
