//! The accept loop: connection limits (a slot per client, released on drop) and one
//! small-stack thread per control connection, with panics contained to that connection.

use crate::context::ServerContext;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stack of a control thread. Small so a device without overcommit holds hundreds of
/// sessions; debug builds get more because unoptimised frames are much larger.
pub const CONTROL_STACK: usize = if cfg!(debug_assertions) {
    512 * 1024
} else {
    128 * 1024
};

/// A non-blocking listening socket: SO_REUSEADDR (a restarted daemon, or a passive port whose
/// last transfer is in TIME_WAIT, can listen again, also when the kernel picks the port; Linux
/// still refuses a second listener on one port) and IPV6_V6ONLY (one socket per family, so
/// `-l ::` and `-l 0.0.0.0` coexist). Accepted sockets are blocking (accept4 does not inherit
/// O_NONBLOCK).
pub fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    // SOCK_NONBLOCK at creation (Linux 2.6.27) saves two fcntl calls per passive transfer.
    let kind = Type::STREAM.nonblocking();
    let socket = Socket::new(Domain::for_address(addr), kind, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

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

/// Refuse a connection with 421 without blocking on a client that does not read.
fn refuse(mut stream: TcpStream, text: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(format!("421 {text}\r\n").as_bytes());
}

/// Wait until the listener has a connection; false once shutdown starts.
fn wait_acceptable(listener: &TcpListener, ctx: &ServerContext) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
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

/// Accept connections until shutdown, one control thread each.
pub fn accept_loop(listener: TcpListener, ctx: Arc<ServerContext>, limits: Arc<Limits>) {
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
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the same error.
                log::warn!("accept failed: {e}");
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
            refuse(
                stream,
                "Too many failed logins from your address; try later.",
            );
            continue;
        }
        let Some(slot) = limits.admit(peer.ip()) else {
            log::warn!("{peer}: refused, too many connections");
            refuse(stream, "Too many connections, try again later.");
            continue;
        };
        let conn = match crate::control::ControlConn::from_tcp(stream) {
            Ok(c) => c,
            Err(_) => continue,
        };
        let ctx = Arc::clone(&ctx);
        let spawned = std::thread::Builder::new()
            .name(format!("ctl-{peer}"))
            .stack_size(CONTROL_STACK)
            .spawn(move || {
                let _slot = slot;
                log::debug!("{peer}: connected");
                // A bug in one session closes that connection only; the daemon lives on.
                if catch_unwind(AssertUnwindSafe(|| crate::control::serve(conn, ctx))).is_err() {
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
    fn mapped_v6_counts_as_v4() {
        let l = Limits::new(10, 1);
        let _s = l.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(l.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
    }
}
