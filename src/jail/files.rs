//! Opening regular files: for reading, for writing in each `WriteMode`, and atomic uploads.

use super::resolve::Last;
use super::{base_flags, file_info, stat_kind, temp, AtomicUpload, Jail, WriteMode};
use crate::error::FtpError;
use crate::file_info::{FileInfo, FileKind};
use crate::vpath::VirtualPath;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, FcntlArg, OFlag};
use nix::sys::stat::{self, Mode};
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Drop `O_NONBLOCK` once the fd is known to be a regular file. `opened_with` are the flags
/// of the open: F_SETFL ignores the access mode and creation flags among them and keeps
/// `O_APPEND`, so no F_GETFL round trip is needed (one call per download counts, issue 6).
fn clear_nonblock(fd: BorrowedFd<'_>, opened_with: OFlag) -> Result<(), FtpError> {
    fcntl::fcntl(fd, FcntlArg::F_SETFL(opened_with & !OFlag::O_NONBLOCK))?;
    Ok(())
}

impl Jail {
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
    use crate::jail::testkit::{vp, Scratch};
    use crate::jail::Existing;
    use nix::unistd;
    use std::fs;
    use std::io::{Read, Write};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc;
    use std::time::Duration;

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
}
