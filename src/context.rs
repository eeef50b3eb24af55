//! What every session shares: the reloadable settings (config, authenticator, anonymous jail),
//! the data pool, and the shutdown signal.

use crate::auth::Authenticator;
use crate::ban::Bans;
use crate::config::Config;
use crate::data_pool::DataPool;
use crate::ftps::Ftps;
use crate::jail::Jail;
use crate::system_users::SystemUsers;
use crate::xferlog::XferLog;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Settings that SIGHUP may replace; a session keeps the snapshot it logged in with.
pub struct Settings {
    /// The configuration in force.
    pub config: Config,
    /// Login checks (users file loaded).
    pub auth: Authenticator,
    /// The anonymous root, opened at startup or reload (so it survives a later chroot).
    pub anon_jail: Option<Jail>,
    /// System accounts (`/etc/passwd` + `/etc/shadow`), when `system_users` is on.
    pub system_users: Option<SystemUsers>,
    /// The transfer log, when `xferlog` is set.
    pub xferlog: Option<XferLog>,
    /// Lines of `banner_file`, sent with the 220 greeting.
    pub banner_lines: Option<Vec<Vec<u8>>>,
    /// The directory the process chrooted into, if it did: homes are translated into it.
    pub chroot_root: Option<PathBuf>,
}

/// A level-triggered "stop now" that any number of threads can poll for, and that also wakes
/// control threads blocked in a plain `read()` of their socket.
pub struct ShutdownSignal {
    read: OwnedFd,
    write: OwnedFd,
    flag: AtomicBool,
    /// Control sockets whose threads read without polling (see [`ShutdownSignal::watch`]).
    readers: Mutex<Readers>,
}

#[derive(Default)]
struct Readers {
    next_id: u64,
    fds: Vec<(u64, RawFd)>,
}

impl ShutdownSignal {
    /// A new, untriggered signal (a pipe nobody ever reads, so it stays readable once set).
    pub fn new() -> io::Result<ShutdownSignal> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(ShutdownSignal {
            read,
            write,
            flag: AtomicBool::new(false),
            readers: Mutex::new(Readers::default()),
        })
    }

    /// Trigger the shutdown; idempotent.
    pub fn trigger(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            let _ = nix::unistd::write(&self.write, b"x");
        }
        // A blocked read() returns 0 once its socket is shut for reading; replies can still
        // be written. Under the lock: a watched fd is unwatched before it is closed, so the
        // number cannot belong to another file here.
        for &(_, fd) in &self.lock_readers().fds {
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Read);
        }
    }

    /// Whether shutdown was triggered.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The fd to poll: readable once triggered.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Have `trigger` shut `socket` for reading. The caller must call [`ShutdownSignal::unwatch`]
    /// with the returned id before the socket is closed, and check [`ShutdownSignal::is_set`]
    /// after this call (a trigger that ran just before it did not see the socket).
    pub fn watch(&self, socket: BorrowedFd<'_>) -> u64 {
        let mut readers = self.lock_readers();
        readers.next_id += 1;
        let id = readers.next_id;
        readers.fds.push((id, socket.as_raw_fd()));
        id
    }

    /// Forget a socket given to [`ShutdownSignal::watch`].
    pub fn unwatch(&self, id: u64) {
        self.lock_readers().fds.retain(|&(i, _)| i != id);
    }

    fn lock_readers(&self) -> std::sync::MutexGuard<'_, Readers> {
        // The lists stay consistent whatever panicked while holding the lock.
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// State shared by all control threads.
pub struct ServerContext {
    settings: RwLock<Arc<Settings>>,
    /// The data transfer workers (fixed size; a reload does not resize it).
    pub pool: DataPool,
    /// Set by SIGTERM/SIGINT: stop accepting, idle sessions get 421.
    pub shutdown: ShutdownSignal,
    /// Addresses banned after repeated failed logins.
    pub bans: Bans,
    /// FTPS, when a certificate is configured (fixed at startup; SIGHUP reloads its files).
    pub ftps: Option<Ftps>,
}

impl ServerContext {
    /// A context with these settings and pool.
    pub fn new(settings: Settings, pool: DataPool, bans: Bans) -> io::Result<ServerContext> {
        Ok(ServerContext {
            settings: RwLock::new(Arc::new(settings)),
            pool,
            shutdown: ShutdownSignal::new()?,
            bans,
            ftps: None,
        })
    }

    /// The same context offering FTPS with `ftps`.
    pub fn with_ftps(mut self, ftps: Option<Ftps>) -> ServerContext {
        self.ftps = ftps;
        self
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        match self.settings.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replace the settings (SIGHUP); sessions pick them up at their next login.
    pub fn replace_settings(&self, settings: Settings) {
        let new = Arc::new(settings);
        match self.settings.write() {
            Ok(mut s) => *s = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    #[test]
    fn trigger_wakes_a_blocked_read_of_a_watched_socket_only() {
        let signal = Arc::new(ShutdownSignal::new().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (_c1, _c2) = (
            TcpStream::connect(addr).unwrap(),
            TcpStream::connect(addr).unwrap(),
        );
        let (watched, _) = listener.accept().unwrap();
        let (unwatched, _) = listener.accept().unwrap();
        // The forgotten one's fd stays as it was: a trigger must not touch it.
        let gone = signal.watch(unwatched.as_fd());
        signal.unwatch(gone);
        let id = signal.watch(watched.as_fd());
        let reader = std::thread::spawn(move || {
            let mut s = watched;
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut b = [0u8; 8];
            s.read(&mut b).map_err(|e| e.kind())
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!signal.is_set());
        signal.trigger();
        assert!(signal.is_set());
        assert_eq!(reader.join().unwrap(), Ok(0));
        signal.unwatch(id);
        unwatched.set_nonblocking(true).unwrap();
        let mut b = [0u8; 8];
        let r = (&unwatched).read(&mut b).map_err(|e| e.kind());
        assert_eq!(r, Err(io::ErrorKind::WouldBlock));
    }
}
