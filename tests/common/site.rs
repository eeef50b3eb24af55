//! A server run as a process whose pid and exit status a test can see, and the checks around
//! it: a site directory, process state, root and CI skips.

use super::*;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a signalled server may take to exit (beyond any shutdown_timeout it was given).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A base directory with `root/` for a server started through [`Proc`].
pub struct Site {
    base: TempDir,
}

impl Site {
    /// A fresh base directory with an empty `root/`.
    pub fn new(tag: &str) -> Site {
        let base = TempDir::new(tag);
        fs::create_dir(base.join("root")).unwrap();
        Site { base }
    }

    /// The served root directory.
    pub fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    /// A path in the base directory, beside the root.
    pub fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// Writes `<base>/users` with these accounts, home the root; returns its path.
    pub fn write_users(&self, users: &[User]) -> PathBuf {
        let path = self.path("users");
        fs::write(&path, users_text(users, &self.root())).unwrap();
        path
    }

    /// `-f -l 127.0.0.1 -p 0 -A -r ROOT -o login_fail_delay_ms=20` plus `more`.
    pub fn args(&self, more: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["-f", "-l", "127.0.0.1", "-p", "0", "-A", "-r"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(path_str(&self.root()));
        v.push("-o".into());
        v.push("login_fail_delay_ms=20".into());
        v.extend(more.iter().map(|s| s.to_string()));
        v
    }
}

/// The users file lines for `users`, all with home `home`.
pub fn users_text(users: &[User], home: &Path) -> String {
    users
        .iter()
        .map(|u| format!("{}:{}:{}:{}\n", u.name, u.hash, home.display(), u.perms))
        .collect()
}

/// A temp path as a command-line argument.
pub fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

/// Whether `pid` is a running process (not gone, not a zombie).
pub fn running(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Prints the skip reason; in CI (where these must run) a skip is a failure.
pub fn skip(test: &str, reason: &str) {
    assert!(
        env::var_os("CI").is_none(),
        "{test} cannot run in CI: {reason}"
    );
    println!("SKIP: {test}: {reason}");
}
