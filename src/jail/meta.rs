//! Metadata: stat and lstat, listing entries and link text, and setting times and modes.

use super::resolve::Last;
use super::{base_flags, file_info, stat_kind, Jail};
use crate::error::FtpError;
use crate::file_info::{DirEntry, FileInfo, FileKind};
use crate::vpath::VirtualPath;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::os::unix::ffi::OsStringExt;

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

impl Jail {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jail::testkit::{vp, Scratch};
    use std::fs;
    use std::os::unix::fs::MetadataExt;

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
}
