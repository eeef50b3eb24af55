//! The accept loop: connection limits (a slot per client, released on drop) and one
//! small-stack thread per control connection, with panics contained to that connection.

use crate::context::ServerContext;
use crate::error::FtpError;
use std::collections::HashMap;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Stack of a control thread. Small so a device without overcommit holds hundreds of
/// sessions; debug builds get more because unoptimised frames are much larger.
pub const CONTROL_STACK: usize = if cfg!(debug_assertions) {
    512 * 1024
} else {
    128 * 1024
};

/// Counts of connections in total and per client address.
pub struct Limits {
    max_clients: usize,
    max_per_ip: usize,
    state: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees the place.
pub struct Slot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Limits {
    /// Limits with the configured maxima.
    pub fn new(max_clients: usize, max_per_ip: usize) -> Arc<Limits> {
        Arc::new(Limits {
            max_clients,
            max_per_ip,
            state: Mutex::new((0, HashMap::new())),
        })
    }

    /// Take a place for `ip`, or `None` when the server or that address is full.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        let mut state = self.state.lock().ok()?;
        let (total, per_ip) = &mut *state;
        let mine = per_ip.get(&ip).copied().unwrap_or(0);
        if *total >= self.max_clients || mine >= self.max_per_ip {
            return None;
        }
        *total += 1;
        per_ip.insert(ip, mine + 1);
        Some(Slot {
            limits: Arc::clone(self),
            ip,
        })
    }

    /// Connections currently admitted.
    pub fn active(&self) -> usize {
        self.state.lock().map(|s| s.0).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut state) = self.limits.state.lock() {
            let (total, per_ip) = &mut *state;
            *total = total.saturating_sub(1);
            if let Some(n) = per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// Refuse a connection (421) without blocking on a client that does not read.
fn refuse(mut stream: TcpStream, why: FtpError) {
    let _ = stream.set_nonblocking(true);
    let _ = why.to_reply().write_to(&mut stream);
}
/// Shortest time between two warnings of one kind from an accept loop: a flood of refused
/// or failed connections must not fill the log (or a router's small syslog buffer).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A warning logged at most once per [`WARN_EVERY`], with the count of the ones held back.
struct Warning {
    last: Option<Instant>,
    suppressed: u64,
}

impl Warning {
    fn new() -> Warning {
        Warning {
            last: None,
            suppressed: 0,
        }
    }

    /// Whether to log one more occurrence now; otherwise it is counted.
    fn due(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            self.suppressed += 1;
            return false;
        }
        self.last = Some(now);
        true
    }

    /// Log `text` if due, with the number held back since the last one.
    fn log(&mut self, text: std::fmt::Arguments<'_>) {
        if !self.due(Instant::now()) {
            return;
        }
        match std::mem::take(&mut self.suppressed) {
            0 => log::warn!("{text}"),
            n => log::warn!("{text} (and {n} more like it since the last warning)"),
        }
    }
}

/// One descriptor held in reserve so that, with every other one in use, the accept loop can
/// still take a connection and answer it (the classic spare-descriptor trick): close the
/// spare, accept, write 421, close, take the spare again. Without it the connection would
/// wait in the backlog unanswered while accept fails again and again.
struct Spare {
    fd: Option<OwnedFd>,
}

impl Spare {
    /// Hold a duplicate of the listener: any descriptor holds a slot, and a dup needs no
    /// file system (a chroot may have no /dev/null).
    fn new(listener: &TcpListener) -> Spare {
        Spare {
            fd: listener.as_fd().try_clone_to_owned().ok(),
        }
    }

    /// Out of descriptors: answer one pending connection with 421 in the spare's slot.
    /// False when there was no spare to give (a session thread took the slot meanwhile):
    /// the caller backs off instead of spinning.
    fn refuse_one(&mut self, listener: &TcpListener) -> bool {
        let Some(fd) = self.fd.take().or_else(|| Spare::new(listener).fd) else {
            return false;
        };
        drop(fd);
        // The listener is non-blocking: a client that gave up meanwhile costs no wait.
        if let Ok((stream, _)) = listener.accept() {
            refuse(stream, FtpError::NoDescriptors);
        }
        // Another thread may take the slot first (then the next refusal tries again).
        *self = Spare::new(listener);
        true
    }
}

/// accept(2) or dup(2) failed for lack of descriptors (the process's or the system's).
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE)
    )
}

/// Wait until the listener has a connection; false once shutdown starts.
fn wait_acceptable(listener: &TcpListener, ctx: &ServerContext) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(ctx.shutdown.fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return !ctx.shutdown.is_set(),
            Ok(_) => {}
        }
        if ctx.shutdown.is_set() {
            return false;
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            return true;
        }
    }
}

/// Accept connections until shutdown, one control thread each; on the implicit FTPS port
/// (`implicit_tls`) each session starts with the TLS handshake.
pub fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ServerContext>,
    limits: Arc<Limits>,
    implicit_tls: bool,
) {
    let mut spare = Spare::new(&listener);
    let (mut failed, mut full) = (Warning::new(), Warning::new());
    // The listener is non-blocking (`listen`): a connection reset between poll and accept
    // must not park this thread where shutdown cannot reach it.
    while wait_acceptable(&listener, &ctx) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            Err(e) if out_of_descriptors(&e) => {
                failed.log(format_args!("accept failed: {e}; answering 421"));
                if !spare.refuse_one(&listener) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            Err(e) => {
                // Back off instead of spinning on the same error.
                failed.log(format_args!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            Err(_) => continue,
        };
        // SECURITY: an address that kept failing logins waits out its ban (RFC 2577 §4).
        if ctx.bans.is_banned(peer.ip()) {
            log::info!("{peer}: refused, address banned after failed logins");
            refuse(stream, FtpError::AddressBanned);
            continue;
        }
        let Some(slot) = limits.admit(peer.ip()) else {
            full.log(format_args!("{peer}: refused, too many connections"));
            refuse(stream, FtpError::TooManyConnections);
            continue;
        };
        let mut conn = match crate::connection::ControlConn::from_tcp(stream) {
            Ok(c) => c,
            Err((e, stream)) => {
                // The session's second descriptor can fail like accept does: say so.
                failed.log(format_args!("{peer}: cannot start a session: {e}"));
                if out_of_descriptors(&e) {
                    refuse(stream, FtpError::NoDescriptors);
                }
                continue;
            }
        };
        conn.implicit_tls = implicit_tls;
        let ctx = Arc::clone(&ctx);
        let spawned = std::thread::Builder::new()
            .name(format!("ctl-{peer}"))
            .stack_size(CONTROL_STACK)
            .spawn(move || {
                let _slot = slot;
                log::debug!("{peer}: connected");
                // A bug in one session closes that connection only; the daemon lives on.
                if catch_unwind(AssertUnwindSafe(|| crate::connection::serve(conn, ctx))).is_err() {
                    log::error!("{peer}: session panicked; connection closed");
                }
            });
        if let Err(e) = spawned {
            log::error!("{peer}: cannot start a session thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_and_release() {
        let l = Limits::new(2, 1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let s1 = l.admit(a).unwrap();
        assert!(l.admit(a).is_none(), "per-ip limit");
        let _s2 = l.admit(b).unwrap();
        assert!(l.admit(c).is_none(), "total limit");
        drop(s1);
        assert_eq!(l.active(), 1);
        assert!(l.admit(c).is_some());
    }

    #[test]
    fn warnings_are_held_back_within_the_interval() {
        let mut w = Warning::new();
        let t0 = Instant::now();
        assert!(w.due(t0));
        for i in 1..=500 {
            assert!(!w.due(t0 + Duration::from_millis(i)));
        }
        assert_eq!(w.suppressed, 500);
        assert!(w.due(t0 + WARN_EVERY));
    }

    #[test]
    fn spare_answers_a_pending_connection_with_421_and_is_taken_again() {
        use std::io::Read;
        let listener = crate::net::listen("127.0.0.1:0".parse().unwrap(), 8).unwrap();
        let mut spare = Spare::new(&listener);
        assert!(spare.fd.is_some());
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The handshake completes in the kernel; the accept queue may lag the connect.
        let mut answered = Vec::new();
        for _ in 0..100 {
            assert!(spare.refuse_one(&listener));
            assert!(spare.fd.is_some(), "the spare is held again");
            let mut buf = [0u8; 64];
            client.set_nonblocking(true).unwrap();
            if let Ok(n) = client.read(&mut buf) {
                answered.extend_from_slice(&buf[..n]);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        client.set_nonblocking(false).unwrap();
        client.read_to_end(&mut answered).unwrap();
        assert_eq!(
            answered,
            b"421 Server out of resources, try again later.\r\n"
        );
        // Nothing pending: the spare is given back and nothing blocks.
        assert!(spare.refuse_one(&listener));
        assert!(spare.fd.is_some());
    }

    #[test]
    fn mapped_v6_counts_as_v4() {
        let l = Limits::new(10, 1);
        let _s = l.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(l.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
    }
}
