//! The file descriptor budget: raise RLIMIT_NOFILE at startup, and how many sessions it covers.
//!
//! A session's descriptors, measured on Linux 6.x with `ls /proc/PID/fd` (issue 10):
//!
//! | state of one session                                  | descriptors |
//! |-------------------------------------------------------|-------------|
//! | connected, not logged in (socket + its reading dup)   | 2           |
//! | idle, logged in (+ the jail's root directory)         | 3           |
//! | after PASV (+ the passive listener)                   | 4           |
//! | during a RETR/STOR (listener closed; + data socket, file, completion pipe pair) | 7 |
//!
//! A path walk holds one more directory for a moment, hence [`SESSION_FDS`] = 8. The server
//! itself holds 7 with no client (stdio, the listener, the anonymous root, the shutdown pipe).

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors one session may hold at once: 7 measured during a transfer, plus one
/// directory of a path walk.
pub const SESSION_FDS: u64 = 8;
/// Descriptors kept free beyond the sessions' share: the accept loops' spares, and what a
/// SIGHUP reload opens while the old settings are still in use (root, xferlog, users file).
pub const RESERVE_FDS: u64 = 16;
/// Descriptors of the server itself when `-t` cannot count them: stdio, the shutdown pipe,
/// the anonymous root, xferlog, syslog (the listeners come on top).
const BASE_FDS: u64 = 8;

/// `rlim_t` is 32 bits on 32-bit glibc and 64 elsewhere.
fn to_u64<T: Into<u64>>(v: T) -> u64 {
    v.into()
}

/// The soft RLIMIT_NOFILE: the most descriptors the process may hold now.
pub fn soft_limit() -> Option<u64> {
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| to_u64(soft))
}

/// The hard RLIMIT_NOFILE: what the soft limit can be raised to without privilege.
pub fn hard_limit() -> Option<u64> {
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(_, hard)| to_u64(hard))
}

/// Raise the soft RLIMIT_NOFILE to the hard one (BusyBox init and many shells start
/// services at 1024 while the hard limit allows more). Returns (before, after).
pub fn raise_to_hard() -> nix::Result<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((to_u64(soft), to_u64(hard)))
}

/// Descriptors open in this process now, from /proc/self/fd; after a chroot hid /proc, the
/// number the kernel hands out next (the lowest free one: exact while startup has left no
/// gaps, which it does not).
pub fn open_count() -> u64 {
    use std::os::fd::AsRawFd;
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle reading the list is one of the entries.
        return (dir.count() as u64).saturating_sub(1);
    }
    match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok((probe, _other)) => u64::try_from(probe.as_raw_fd()).unwrap_or(0),
        Err(_) => 0,
    }
}

/// Sessions a descriptor `limit` covers when `in_use` are taken before the first client.
pub fn sessions_covered(limit: u64, in_use: u64) -> u64 {
    limit.saturating_sub(in_use).saturating_sub(RESERVE_FDS) / SESSION_FDS
}

/// The descriptors `max_clients` sessions need, with `listeners` listening sockets.
pub fn needed(max_clients: usize, listeners: usize) -> u64 {
    (max_clients as u64)
        .saturating_mul(SESSION_FDS)
        .saturating_add(BASE_FDS + listeners as u64 + RESERVE_FDS)
}

/// For `-t`: a warning when the limit the server will run with (the hard one, to which it
/// raises the soft one) cannot cover `max_clients` sessions.
pub fn coverage_warning(max_clients: usize, listeners: usize) -> Option<String> {
    let limit = hard_limit()?;
    let needed = needed(max_clients, listeners);
    if limit >= needed {
        return None;
    }
    let covered = sessions_covered(limit, BASE_FDS + listeners as u64);
    Some(format!(
        "the file descriptor limit ({limit}, ulimit -Hn) covers about {covered} sessions of \
         max_clients = {max_clients} ({SESSION_FDS} descriptors each while transferring; \
         {needed} needed): the server will refuse clients past {covered} with 421; raise \
         the limit or lower max_clients"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_covered_leaves_the_reserve() {
        assert_eq!(
            sessions_covered(1024, 8),
            (1024 - 8 - RESERVE_FDS) / SESSION_FDS
        );
        assert_eq!(sessions_covered(64, 8), 5);
        // Below the reserve nothing is covered, and nothing wraps.
        assert_eq!(sessions_covered(20, 8), 0);
        assert_eq!(sessions_covered(3, 8), 0);
        assert_eq!(
            sessions_covered(u64::MAX, 0),
            (u64::MAX - RESERVE_FDS) / SESSION_FDS
        );
    }

    #[test]
    fn needed_covers_every_session_and_the_reserve() {
        let n = needed(64, 2);
        assert_eq!(n, 64 * SESSION_FDS + BASE_FDS + 2 + RESERVE_FDS);
        assert!(sessions_covered(n, BASE_FDS + 2) >= 64);
        // Saturates instead of wrapping.
        assert!(needed(usize::MAX, 1) >= usize::MAX as u64);
    }

    #[test]
    fn raise_to_hard_leaves_soft_equal_to_hard() {
        let (_, hard) = raise_to_hard().unwrap();
        assert_eq!(soft_limit(), Some(hard));
        assert_eq!(hard_limit(), Some(hard));
    }

    #[test]
    fn open_count_sees_a_new_descriptor() {
        // Other tests open and close descriptors meanwhile: compare with a margin.
        let before = open_count();
        let held: Vec<_> = (0..50)
            .map(|_| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap())
            .collect();
        let after = open_count();
        assert!(after >= before + 50, "{before} -> {after}");
        drop(held);
    }
}
