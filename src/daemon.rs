//! Running as a daemon: detaching from the terminal, the pid file, and stderr under inetd.
//!
//! Startup order (see `startup.rs`): bind the listeners, then [`daemonize`] (before any thread
//! exists: it forks), then [`PidFile::acquire`] in the child, then chroot and privileges, then
//! [`Detached::ready`] just before serving. The parent waits for `ready` so that an init
//! script's `start` fails when startup fails, and the pid file exists once `start` returns.

use crate::ffi::{self, Forked};
use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::poll::{self, PollFd, PollFlags};
use nix::sys::signal;
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, Pid, UnlinkatFlags};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Most bytes of a pid file read back; a pid is at most 10 digits and a newline.
const MAX_PID_FILE_BYTES: u64 = 64;

/// How long the parent waits for the child's `ready` (milliseconds).
const READY_TIMEOUT_MS: u16 = 60_000;

/// A pid file holding this process's pid, removed on drop if it still holds it.
#[derive(Debug)]
pub struct PidFile {
    /// The directory, kept open so the file can be removed after a chroot.
    dir: OwnedFd,
    /// The file's name inside `dir`.
    name: OsString,
    /// The path as given, for messages.
    path: PathBuf,
    /// The pid written.
    pid: i32,
}

impl PidFile {
    /// Write this process's pid to `path`; an error if the file names another live process.
    pub fn acquire(path: &Path) -> io::Result<PidFile> {
        let name = path
            .file_name()
            .ok_or_else(|| invalid(format!("pid file {} has no file name", path.display())))?
            .to_os_string();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = fcntl::open(
            parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| with_path(e, parent))?;
        let pid = unistd::getpid().as_raw();

        if let Some(old) = read_pid(&dir, &name).map_err(|e| with_path(e, path))? {
            // A pid file left from an earlier boot may hold our own pid: boot order is
            // deterministic on a router, so the daemon often gets the same pid again.
            if old != pid && is_alive(old) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} names running process {old}: is ferroftpd already running?",
                        path.display()
                    ),
                ));
            }
        }

        // SECURITY: O_NOFOLLOW, and no O_TRUNC until fstat has shown a plain file with one
        // link: a symlink or hard link planted in the run directory must not make root
        // truncate another file. O_NONBLOCK keeps a planted FIFO from hanging the open.
        let fd = fcntl::openat(
            &dir,
            name.as_os_str(),
            OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| with_path(e, path))?;
        let st = stat::fstat(&fd).map_err(|e| with_path(e, path))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG
            || st.st_nlink > 1
        {
            return Err(invalid(format!(
                "{} is not a plain file; remove it",
                path.display()
            )));
        }
        unistd::ftruncate(&fd, 0).map_err(|e| with_path(e, path))?;
        File::from(fd)
            .write_all(format!("{pid}\n").as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(PidFile {
            dir,
            name,
            path: path.to_path_buf(),
            pid,
        })
    }

    /// The path the pid file was acquired at.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Another instance may have replaced a file it found stale; leave its file alone.
        match read_pid(&self.dir, &self.name) {
            Ok(Some(pid)) if pid == self.pid => {}
            _ => return,
        }
        // After run_as the run directory is usually not writable; the next start then finds
        // the file stale (its pid is dead) and replaces it.
        if let Err(e) =
            unistd::unlinkat(&self.dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir)
        {
            log::debug!("cannot remove pid file {}: {e}", self.path.display());
        }
    }
}

/// The pid in the file `name` in `dir`; `None` if there is no file or it holds no valid pid.
fn read_pid(dir: &OwnedFd, name: &OsString) -> io::Result<Option<i32>> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match fcntl::openat(dir, name.as_os_str(), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let st = stat::fstat(&fd)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(invalid("not a plain file; remove it".to_string()));
    }
    let mut text = String::new();
    // Unreadable or non-UTF-8 content counts as no pid: a stale file from a crash mid-write.
    if File::from(fd)
        .take(MAX_PID_FILE_BYTES)
        .read_to_string(&mut text)
        .is_err()
    {
        return Ok(None);
    }
    Ok(parse_pid(&text))
}

/// A positive decimal pid, surrounded by optional whitespace.
fn parse_pid(text: &str) -> Option<i32> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i32>().ok().filter(|&p| p > 0)
}

/// Whether a process with this pid exists (EPERM: it exists but belongs to someone else).
fn is_alive(pid: i32) -> bool {
    !matches!(signal::kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// The child side of [`daemonize`]; call [`Detached::ready`] once startup has succeeded.
///
/// Dropping it without `ready` (a startup error) makes the waiting parent exit with status 1.
#[derive(Debug)]
pub struct Detached {
    /// Write end of the pipe the parent waits on.
    notify: OwnedFd,
    /// `/dev/null`, opened before any chroot, for stdout and stderr at `ready`.
    null: File,
}

impl Detached {
    /// Point stdout and stderr at `/dev/null` and let the parent exit 0.
    pub fn ready(self) -> io::Result<()> {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        unistd::dup2_stdout(&self.null)?;
        unistd::dup2_stderr(&self.null)?;
        File::from(self.notify).write_all(b"1")
    }
}

/// Fork into the background: the parent waits for [`Detached::ready`] and exits; the child
/// starts a new session, leaves the cwd and stdin, and returns.
///
/// Call it once the listeners are bound and before any thread is spawned (it refuses
/// otherwise). Stdout and stderr stay open until `ready`, so startup errors still reach the
/// terminal and the parent's exit status reports them.
pub fn daemonize() -> io::Result<Detached> {
    // Unflushed output would be written twice, once by each process.
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    let null = File::options().read(true).write(true).open("/dev/null")?;
    let (wait_end, notify) = unistd::pipe2(OFlag::O_CLOEXEC)?;
    match ffi::fork_single_threaded()? {
        Forked::Parent(child) => {
            drop(notify);
            std::process::exit(wait_for_ready(wait_end, child))
        }
        Forked::Child => {
            drop(wait_end);
            // A new session: no controlling terminal, and the shell's SIGHUP no longer
            // reaches us.
            unistd::setsid()?;
            // Do not keep a mount point busy.
            unistd::chdir("/")?;
            unistd::dup2_stdin(&null)?;
            Ok(Detached { notify, null })
        }
    }
}

/// The parent's exit status: 0 once the child reports ready, 1 if it fails or stays silent.
fn wait_for_ready(wait_end: OwnedFd, child: i32) -> i32 {
    let mut fds = [PollFd::new(wait_end.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll::poll(&mut fds, READY_TIMEOUT_MS) {
            Ok(0) => {
                eprintln!(
                    "ferroftpd: process {child} did not finish starting within {} s",
                    READY_TIMEOUT_MS / 1000
                );
                return 1;
            }
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
    let mut byte = [0u8; 1];
    // EOF: the child exited or dropped `Detached` after printing its error to our stderr.
    match File::from(wait_end).read(&mut byte) {
        Ok(1) if byte[0] == b'1' => 0,
        _ => 1,
    }
}

/// Under inetd stderr may be the client's socket (BusyBox inetd passes it as fds 0, 1 and 2):
/// point it at `/dev/null` so log lines never reach the client. Returns whether it did.
pub fn detach_stderr_from_connection() -> io::Result<bool> {
    let stdin = stat::fstat(io::stdin().as_fd())?;
    let stderr = match stat::fstat(io::stderr().as_fd()) {
        Ok(st) => st,
        Err(Errno::EBADF) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if (stdin.st_dev, stdin.st_ino) != (stderr.st_dev, stderr.st_ino) {
        return Ok(false);
    }
    let null = File::options().write(true).open("/dev/null")?;
    unistd::dup2_stderr(&null)?;
    Ok(true)
}

/// An `InvalidInput` error with this message.
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The error with the path it concerns in front.
fn with_path(e: impl Into<io::Error>, path: &Path) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::TempDir;

    fn our_pid() -> i32 {
        unistd::getpid().as_raw()
    }

    /// A pid that is certainly dead: a child that has exited and been reaped.
    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = i32::try_from(child.id()).expect("pid fits");
        child.wait().expect("wait");
        pid
    }

    #[test]
    fn acquire_writes_the_pid_and_drop_removes_it() {
        let tmp = TempDir::new("write");
        let path = tmp.0.join("f.pid");
        let pidfile = PidFile::acquire(&path).expect("acquire");
        assert_eq!(pidfile.path(), path);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{}\n", our_pid())
        );
        drop(pidfile);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_process_in_the_file_is_refused_with_its_pid() {
        let tmp = TempDir::new("live");
        let path = tmp.0.join("f.pid");
        // pid 1 always exists (and may belong to another user: EPERM still means alive).
        std::fs::write(&path, "1\n").expect("write");
        let err = PidFile::acquire(&path).expect_err("must refuse");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("running process 1"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "1\n");
    }

    #[test]
    fn stale_garbage_and_own_pid_files_are_replaced() {
        let tmp = TempDir::new("stale");
        let path = tmp.0.join("f.pid");
        let long = format!("{}\n", "9".repeat(200));
        for old in [
            format!("{}\n", dead_pid()),
            String::new(),
            "garbage\n".to_string(),
            "-5\n".to_string(),
            "0\n".to_string(),
            long,
            format!("{}", our_pid()),
        ] {
            std::fs::write(&path, &old).expect("write");
            let pidfile = PidFile::acquire(&path).expect(&old);
            assert_eq!(
                std::fs::read_to_string(&path).expect("read"),
                format!("{}\n", our_pid()),
                "old content {old:?}"
            );
            drop(pidfile);
        }
    }

    #[test]
    fn drop_leaves_a_file_that_now_names_someone_else() {
        let tmp = TempDir::new("replaced");
        let path = tmp.0.join("f.pid");
        let pidfile = PidFile::acquire(&path).expect("acquire");
        std::fs::write(&path, "1\n").expect("another instance took over");
        drop(pidfile);
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "1\n");
    }

    #[test]
    fn symlinks_fifos_and_hard_links_are_not_written_through() {
        let tmp = TempDir::new("links");
        let victim = tmp.0.join("victim");
        std::fs::write(&victim, "precious\n").expect("write");

        let link = tmp.0.join("sym.pid");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(PidFile::acquire(&link).is_err());

        let hard = tmp.0.join("hard.pid");
        std::fs::hard_link(&victim, &hard).expect("hard link");
        assert!(PidFile::acquire(&hard).is_err());
        assert_eq!(
            std::fs::read_to_string(&victim).expect("read"),
            "precious\n"
        );

        let fifo = tmp.0.join("fifo.pid");
        unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        assert!(PidFile::acquire(&fifo).is_err(), "must not hang or write");
    }

    #[test]
    fn bad_paths_are_errors() {
        let tmp = TempDir::new("bad");
        assert!(PidFile::acquire(&tmp.0.join("missing-dir/f.pid")).is_err());
        assert!(PidFile::acquire(Path::new("/")).is_err());
        assert!(PidFile::acquire(&tmp.0).is_err(), "a directory");
    }

    #[test]
    fn pid_parsing() {
        assert_eq!(parse_pid("123\n"), Some(123));
        assert_eq!(parse_pid("  42  "), Some(42));
        for bad in ["", "\n", "0", "-1", "+1", "1 2", "12a", "99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn liveness() {
        assert!(is_alive(our_pid()));
        assert!(is_alive(1));
        assert!(!is_alive(dead_pid()));
    }

    #[test]
    fn daemonize_refuses_in_a_threaded_process() {
        // The harness has threads, so this must fail before forking (and never exit the
        // test process as a parent would).
        let keep =
            std::thread::spawn(|| std::thread::park_timeout(std::time::Duration::from_secs(5)));
        let err = daemonize().expect_err("threads are running");
        assert!(err.to_string().contains("threads"), "{err}");
        keep.thread().unpark();
        keep.join().expect("join");
    }

    #[test]
    fn stderr_is_left_alone_when_it_is_not_the_connection() {
        // Under `cargo test` stdin and stderr are different files (or stdin is /dev/null and
        // stderr a pipe), so nothing changes.
        let stdin = stat::fstat(io::stdin().as_fd()).expect("stdin");
        let stderr = stat::fstat(io::stderr().as_fd()).expect("stderr");
        if (stdin.st_dev, stdin.st_ino) == (stderr.st_dev, stderr.st_ino) {
            println!("SKIP: stdin and stderr are the same file here");
            return;
        }
        assert_eq!(detach_stderr_from_connection().ok(), Some(false));
    }
}
