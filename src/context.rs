//! What every session shares: the reloadable settings (config, authenticator, anonymous jail),
//! the data pool, and the shutdown signal.

use crate::auth::Authenticator;
use crate::ban::Bans;
use crate::config::Config;
use crate::data_pool::DataPool;
use crate::jail::Jail;
use crate::system_users::SystemUsers;
use crate::xferlog::XferLog;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

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

/// A level-triggered "stop now" that any number of threads can poll for.
pub struct ShutdownSignal {
    read: OwnedFd,
    write: OwnedFd,
    flag: AtomicBool,
}

impl ShutdownSignal {
    /// A new, untriggered signal (a pipe nobody ever reads, so it stays readable once set).
    pub fn new() -> io::Result<ShutdownSignal> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(ShutdownSignal {
            read,
            write,
            flag: AtomicBool::new(false),
        })
    }

    /// Trigger the shutdown; idempotent.
    pub fn trigger(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            let _ = nix::unistd::write(&self.write, b"x");
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
}

impl ServerContext {
    /// A context with these settings and pool.
    pub fn new(settings: Settings, pool: DataPool, bans: Bans) -> io::Result<ServerContext> {
        Ok(ServerContext {
            settings: RwLock::new(Arc::new(settings)),
            pool,
            shutdown: ShutdownSignal::new()?,
            bans,
        })
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
