//! Data connections: passive listeners from a port range, active connects, and the peer checks.

use crate::error::FtpError;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How the next transfer's data connection is made (set by PASV/EPSV or PORT/EPRT).
#[derive(Debug)]
pub enum DataSetup {
    /// We listen; the client connects. Only `peer` may connect unless FXP is allowed.
    Passive {
        /// The listening socket (closed when the setup is dropped).
        listener: TcpListener,
        /// The control connection's peer address.
        peer: IpAddr,
    },
    /// We connect to the client's `target` from the control connection's local address.
    Active {
        /// Where to connect.
        target: SocketAddr,
        /// Source address: the control connection's local address.
        local_ip: IpAddr,
    },
    /// Already connected: a passive connection taken while the control thread sent the start
    /// of a download itself (see `inline_send`).
    Connected(TcpStream),
}

/// Why a data connection could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// ABOR arrived while waiting.
    Aborted,
    /// Timeout or connect/accept error.
    Failed,
}

/// Rules for accepting or making data connections.
#[derive(Debug, Clone, Copy)]
pub struct DataPolicy {
    /// FXP: accept third-party addresses (never privileged ports).
    pub allow_fxp: bool,
    /// Connect/accept deadline, also used as the idle timeout on the data socket.
    pub timeout: Duration,
    /// Bytes per second for this transfer; 0 = unlimited.
    pub rate: u64,
    /// Active mode connects from port 20 (ftp-data), as RFC 959 describes; needs privilege.
    pub from_port_20: bool,
}

/// Compare addresses with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) folded to IPv4.
pub fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Check a PORT/EPRT target against the bounce rules of RFC 2577.
pub fn check_active_target(
    target: SocketAddr,
    control_peer: IpAddr,
    allow_fxp: bool,
) -> Result<(), FtpError> {
    // SECURITY: never connect to privileged ports (bounce attacks on services, RFC 2577 §3).
    if target.port() < 1024 {
        return Err(FtpError::IllegalDataAddress);
    }
    // SECURITY: only back to the client itself, unless FXP was enabled by name.
    if !allow_fxp && !same_host(target.ip(), control_peer) {
        return Err(FtpError::IllegalDataAddress);
    }
    Ok(())
}

/// Open a passive listener on `local_ip`, on a port from `range` (or any free port).
pub fn open_passive(local_ip: IpAddr, range: Option<(u16, u16)>) -> io::Result<TcpListener> {
    let Some((lo, hi)) = range else {
        return listen_on(SocketAddr::new(local_ip, 0));
    };
    let span = u32::from(hi - lo) + 1;
    // SECURITY: start at an unpredictable port so the next data port cannot be guessed and
    // stolen (RFC 2577 §8); then probe the range once, in order.
    let start = pseudo_random() % span;
    let mut last_err = io::Error::from(io::ErrorKind::AddrInUse);
    for i in 0..span {
        let offset = (start + i) % span;
        let port = u16::try_from(u32::from(lo) + offset).unwrap_or(hi);
        match listen_on(SocketAddr::new(local_ip, port)) {
            Ok(l) => return Ok(l),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    // One pending connection: the client's. The worker polls the (non-blocking) listener.
    crate::listener::listen(addr, 1)
}

/// A cheap, unpredictable-enough number for port choice (no RNG crate, no getrandom syscall).
fn pseudo_random() -> u32 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    // Truncation is the point: we want 32 bits of the hash.
    (h.finish() & 0xFFFF_FFFF) as u32
}

impl DataSetup {
    /// A passive setup whose client has already connected becomes `Connected`, without
    /// waiting; anything else comes back unchanged.
    pub fn accept_pending(self, allow_fxp: bool) -> DataSetup {
        let DataSetup::Passive { listener, peer } = self else {
            return self;
        };
        match accept_once(&listener, peer, allow_fxp) {
            Ok(Some(stream)) => DataSetup::Connected(stream),
            // Nothing yet, a stranger dropped, or an error: the worker deals with it.
            Ok(None) | Err(_) => DataSetup::Passive { listener, peer },
        }
    }

    /// Establish the data connection, giving up at the deadline or when `abort` is set.
    pub fn connect(self, policy: DataPolicy, abort: &AtomicBool) -> Result<TcpStream, OpenFailure> {
        let deadline = Instant::now() + policy.timeout;
        let stream = match self {
            DataSetup::Passive { listener, peer } => {
                accept_from(&listener, peer, policy.allow_fxp, deadline, abort)?
            }
            DataSetup::Active { target, local_ip } => {
                connect_to(target, local_ip, policy.from_port_20, deadline).map_err(|e| {
                    log::info!("active data connection to {target} failed: {e}");
                    OpenFailure::Failed
                })?
            }
            DataSetup::Connected(stream) => stream,
        };
        if abort.load(Ordering::SeqCst) {
            return Err(OpenFailure::Aborted);
        }
        // Idle timeout on the data socket: a stalled peer cannot hold a worker forever.
        let _ = stream.set_read_timeout(Some(policy.timeout));
        let _ = stream.set_write_timeout(Some(policy.timeout));
        Ok(stream)
    }
}

fn accept_from(
    listener: &TcpListener,
    peer: IpAddr,
    allow_fxp: bool,
    deadline: Instant,
    abort: &AtomicBool,
) -> Result<TcpStream, OpenFailure> {
    use nix::poll::{poll, PollFd, PollFlags};
    // The listener is non-blocking (listen_on); accept4 gives a blocking stream. Accept is
    // tried before poll: the client has usually connected before it sent RETR.
    // Bounded by the deadline: each pass accepts once or sleeps at most 200 ms.
    loop {
        if abort.load(Ordering::SeqCst) {
            return Err(OpenFailure::Aborted);
        }
        // A stranger's connection is dropped inside; the deadline check below still bounds
        // a flood of them.
        match accept_once(listener, peer, allow_fxp) {
            Ok(Some(stream)) => return Ok(stream),
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(OpenFailure::Failed),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(OpenFailure::Failed);
        }
        let slice = (deadline - now).min(Duration::from_millis(200));
        let ms = u16::try_from(slice.as_millis()).unwrap_or(200);
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return Err(OpenFailure::Failed),
        }
    }
}

/// One non-blocking accept: the peer's connection, or `None` when none is pending or the one
/// that was came from another host (dropped).
fn accept_once(
    listener: &TcpListener,
    peer: IpAddr,
    allow_fxp: bool,
) -> io::Result<Option<TcpStream>> {
    match listener.accept() {
        Ok((stream, from)) => {
            // SECURITY: a data connection from another host than the control peer is someone
            // stealing the port (RFC 2577 §8); drop it and keep waiting for the peer.
            if allow_fxp || same_host(from.ip(), peer) {
                return Ok(Some(stream));
            }
            log::warn!("refused passive data connection from {from} (expected {peer})");
            Ok(None)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn connect_to(
    target: SocketAddr,
    local_ip: IpAddr,
    from_port_20: bool,
    deadline: Instant,
) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // Source address = the control connection's local address, so the client sees the data
    // connection come from the server it talks to (matters on multi-homed devices).
    let port = if from_port_20 { 20 } else { 0 };
    let local = match (local_ip.to_canonical(), target.ip()) {
        (IpAddr::V4(v4), IpAddr::V4(_)) => Some(SocketAddr::new(IpAddr::V4(v4), port)),
        (IpAddr::V6(v6), IpAddr::V6(_)) => Some(SocketAddr::new(IpAddr::V6(v6), port)),
        _ => None,
    };
    if let Some(local) = local {
        if from_port_20 {
            // Every active transfer shares port 20 (the peers differ); TIME_WAIT of the last
            // one must not block the next.
            socket.set_reuse_address(true)?;
        }
        if let Err(e) = socket.bind(&SockAddr::from(local)) {
            if !from_port_20 {
                return Err(e);
            }
            // Without the privilege for port 20 the transfer still works, from any port.
            log::warn!("cannot bind port 20 for active mode ({e}); using any port");
            socket.bind(&SockAddr::from(SocketAddr::new(local.ip(), 0)))?;
        }
    }
    let timeout = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    socket.connect_timeout(&SockAddr::from(target), timeout)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_rules() {
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let ok: SocketAddr = "192.0.2.7:2000".parse().unwrap();
        assert!(check_active_target(ok, peer, false).is_ok());
        let low: SocketAddr = "192.0.2.7:1023".parse().unwrap();
        assert!(check_active_target(low, peer, false).is_err());
        assert!(check_active_target(low, peer, true).is_err());
        let other: SocketAddr = "198.51.100.1:2000".parse().unwrap();
        assert!(check_active_target(other, peer, false).is_err());
        assert!(check_active_target(other, peer, true).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(check_active_target(ok, mapped, false).is_ok());
    }

    #[test]
    fn passive_range_is_respected() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let first = open_passive(ip, None).unwrap();
        let port = first.local_addr().unwrap().port();
        drop(first);
        if let Ok(l) = open_passive(ip, Some((port, port))) {
            assert_eq!(l.local_addr().unwrap().port(), port);
            // The one port in the range is taken now: a second listener must fail.
            assert!(open_passive(ip, Some((port, port))).is_err());
        }
    }

    #[test]
    fn passive_accepts_the_peer_and_times_out() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let listener = open_passive(ip, None).unwrap();
        let addr = listener.local_addr().unwrap();
        let setup = DataSetup::Passive { listener, peer: ip };
        let client = std::thread::spawn(move || TcpStream::connect(addr).unwrap());
        let policy = DataPolicy {
            allow_fxp: false,
            timeout: Duration::from_secs(5),
            rate: 0,
            from_port_20: false,
        };
        let abort = AtomicBool::new(false);
        assert!(setup.connect(policy, &abort).is_ok());
        client.join().unwrap();

        let listener = open_passive(ip, None).unwrap();
        let setup = DataSetup::Passive { listener, peer: ip };
        let policy = DataPolicy {
            allow_fxp: false,
            timeout: Duration::from_millis(300),
            rate: 0,
            from_port_20: false,
        };
        assert_eq!(
            setup.connect(policy, &abort).err(),
            Some(OpenFailure::Failed)
        );
    }

    #[test]
    fn abort_stops_the_wait() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let listener = open_passive(ip, None).unwrap();
        let setup = DataSetup::Passive { listener, peer: ip };
        let policy = DataPolicy {
            allow_fxp: false,
            timeout: Duration::from_secs(30),
            rate: 0,
            from_port_20: false,
        };
        let abort = AtomicBool::new(true);
        assert_eq!(
            setup.connect(policy, &abort).err(),
            Some(OpenFailure::Aborted)
        );
    }
}
