//! Data connections: passive listeners from a port range, active connects, and the peer checks.

use crate::error::FtpError;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
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
    /// End transfers that move too little (`data_stall_bytes` per `data_stall_window`).
    pub stall: Option<StallRule>,
}

/// The stall rule: a transfer that moves fewer than `bytes` in `window` ends with 426, so a
/// client reading a byte now and then cannot keep a data worker for ever (issue 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallRule {
    /// Least bytes per window.
    pub bytes: u64,
    /// The span they are counted over.
    pub window: Duration,
}

impl DataPolicy {
    /// Send/receive timeout of the data socket: `timeout`, or half the stall window when
    /// that is shorter, so that a blocked call returns at least twice a window for the stall
    /// rule to be checked (a stall is then seen within two and a half windows).
    pub fn io_timeout(&self) -> Duration {
        match self.stall {
            Some(rule) => self.timeout.min(rule.window / 2),
            None => self.timeout,
        }
    }
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

/// Open a passive listener on `local_ip`, on a port from `range`, or without one from the
/// kernel's ephemeral range (see [`load_default_ports`]); the kernel's own pick last.
pub fn open_passive(local_ip: IpAddr, range: Option<(u16, u16)>) -> io::Result<TcpListener> {
    if let Some((lo, hi)) = range {
        // Every port of a configured range may be tried.
        return probe_ports(local_ip, &PortSpan::plain(lo, hi), u32::MAX);
    }
    if let Some(span) = default_ports() {
        if let Ok(l) = probe_ports(local_ip, span, DEFAULT_PROBES) {
            return Ok(l);
        }
    }
    listen_on(SocketAddr::new(local_ip, 0))
}

/// Bind attempts in the default span before the kernel picks: ports are rarely taken there.
const DEFAULT_PROBES: u32 = 64;

/// Listen on a port of `span`, trying at most `attempts` ports.
fn probe_ports(local_ip: IpAddr, span: &PortSpan, attempts: u32) -> io::Result<TcpListener> {
    let width = u32::from(span.hi - span.lo) + 1;
    // SECURITY: start at an unpredictable port so the next data port cannot be guessed and
    // stolen (RFC 2577 §8); then probe the span once, in order.
    let start = pseudo_random() % width;
    let mut last_err = io::Error::from(io::ErrorKind::AddrInUse);
    let mut tried = 0;
    for i in 0..width {
        let port = u16::try_from(u32::from(span.lo) + (start + i) % width).unwrap_or(span.hi);
        if span.is_reserved(port) {
            continue;
        }
        match listen_on(SocketAddr::new(local_ip, port)) {
            Ok(l) => return Ok(l),
            Err(e) => last_err = e,
        }
        tried += 1;
        if tried >= attempts {
            break;
        }
    }
    Err(last_err)
}

/// A span of ports and the ones in it not to use.
#[derive(Debug, PartialEq)]
struct PortSpan {
    lo: u16,
    hi: u16,
    reserved: Vec<(u16, u16)>,
}

impl PortSpan {
    fn plain(lo: u16, hi: u16) -> PortSpan {
        PortSpan {
            lo,
            hi,
            reserved: Vec::new(),
        }
    }

    fn is_reserved(&self, port: u16) -> bool {
        self.reserved.iter().any(|&(a, b)| (a..=b).contains(&port))
    }

    /// From `ip_local_port_range` ("LO<tab>HI") and `ip_local_reserved_ports` ("A-B,C,...").
    fn parse(range: &str, reserved: &str) -> Option<PortSpan> {
        let mut it = range.split_whitespace().map(|n| n.parse::<u16>());
        let (Some(Ok(lo)), Some(Ok(hi)), None) = (it.next(), it.next(), it.next()) else {
            return None;
        };
        if lo == 0 || lo > hi {
            return None;
        }
        let mut span = PortSpan::plain(lo, hi);
        for item in reserved.trim().split(',').filter(|i| !i.is_empty()) {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            if let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse()) {
                span.reserved.push((a, b));
            }
        }
        Some(span)
    }
}

/// Passive ports when `pasv_ports` is unset, read once from /proc.
static DEFAULT_PORTS: OnceLock<Option<PortSpan>> = OnceLock::new();

/// Read the kernel's ephemeral port range (and reserved ports) for passive listeners without
/// `pasv_ports`; called at startup, before any chroot hides /proc.
///
/// Why not let the kernel pick (bind to port 0)? It only hands out ports nothing is bound
/// to, and every download leaves its passive port in TIME_WAIT for a minute: with about
/// 10,000 of those on the default range, each PASV has the kernel search most of it
/// (measured: 4,975 small downloads/s with none, 625 with 10,000). An explicit bind with
/// SO_REUSEADDR may reuse such a port at once.
pub fn load_default_ports() {
    default_ports();
}

fn default_ports() -> Option<&'static PortSpan> {
    DEFAULT_PORTS
        .get_or_init(|| {
            let read = |name: &str| std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"));
            let range = read("ip_local_port_range").ok()?;
            PortSpan::parse(&range, &read("ip_local_reserved_ports").unwrap_or_default())
        })
        .as_ref()
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    // One pending connection: the client's. The worker polls the (non-blocking) listener.
    crate::net::listen(addr, 1)
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
    /// A passive setup whose client has already connected becomes `Connected` (the stream
    /// non-blocking, for `inline_send`), without waiting; anything else comes back unchanged.
    pub fn accept_pending(self, allow_fxp: bool) -> DataSetup {
        let DataSetup::Passive { listener, peer } = self else {
            return self;
        };
        match accept_once(&listener, peer, allow_fxp, true) {
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
        let _ = stream.set_read_timeout(Some(policy.io_timeout()));
        let _ = stream.set_write_timeout(Some(policy.io_timeout()));
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
        match accept_once(listener, peer, allow_fxp, false) {
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
/// that was came from another host (dropped). With `nonblocking` the stream comes back
/// non-blocking (accept4 sets it: the inline path needs it so, and saves a call per file).
fn accept_once(
    listener: &TcpListener,
    peer: IpAddr,
    allow_fxp: bool,
    nonblocking: bool,
) -> io::Result<Option<TcpStream>> {
    let flags = if nonblocking {
        nix::libc::SOCK_CLOEXEC | nix::libc::SOCK_NONBLOCK
    } else {
        nix::libc::SOCK_CLOEXEC
    };
    match socket2::SockRef::from(listener).accept4(flags) {
        Ok((socket, from)) => {
            let from = from.as_socket().map(|a| a.ip());
            // SECURITY: a data connection from another host than the control peer is someone
            // stealing the port (RFC 2577 §8); drop it and keep waiting for the peer.
            if allow_fxp || from.is_some_and(|ip| same_host(ip, peer)) {
                return Ok(Some(TcpStream::from(socket)));
            }
            log::warn!("refused passive data connection from {from:?} (expected {peer})");
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
            stall: None,
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
            stall: None,
        };
        assert_eq!(
            setup.connect(policy, &abort).err(),
            Some(OpenFailure::Failed)
        );
    }

    #[test]
    fn kernel_port_files_parse() {
        assert_eq!(
            PortSpan::parse("32768\t60999\n", "\n"),
            Some(PortSpan::plain(32768, 60999))
        );
        let span = PortSpan::parse("1024 65535", "8080,40000-40010\n").unwrap();
        assert_eq!(span.reserved, vec![(8080, 8080), (40000, 40010)]);
        assert!(span.is_reserved(8080) && span.is_reserved(40005) && !span.is_reserved(8081));
        for bad in ["", "32768", "0 100", "200 100", "1 2 3", "a b"] {
            assert_eq!(PortSpan::parse(bad, ""), None, "{bad:?}");
        }
    }

    #[test]
    fn reserved_ports_are_skipped() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Ten ports of which all but `free` are reserved: every probe order finds `free`.
        let lo = free.saturating_sub(5).clamp(1, u16::MAX - 9);
        let span = PortSpan {
            lo,
            hi: lo + 9,
            reserved: vec![(lo, free - 1), (free + 1, lo + 9)],
        };
        for _ in 0..5 {
            let l = probe_ports(ip, &span, 10).unwrap();
            assert_eq!(l.local_addr().unwrap().port(), free);
        }
    }

    #[test]
    fn without_a_range_the_port_is_in_the_kernels_ephemeral_range() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let Some(span) = default_ports() else {
            return; // no /proc here: the kernel picks, as before
        };
        for _ in 0..20 {
            let port = open_passive(ip, None).unwrap().local_addr().unwrap().port();
            assert!((span.lo..=span.hi).contains(&port), "{port}");
            assert!(!span.is_reserved(port), "{port}");
        }
    }

    fn is_nonblocking(stream: &TcpStream) -> bool {
        let fl = nix::fcntl::fcntl(stream, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        nix::fcntl::OFlag::from_bits_truncate(fl).contains(nix::fcntl::OFlag::O_NONBLOCK)
    }

    #[test]
    fn pending_accept_is_nonblocking_and_the_worker_accept_blocking() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Nothing pending yet: the setup comes back unchanged.
        let listener = open_passive(ip, None).unwrap();
        let addr = listener.local_addr().unwrap();
        let setup = DataSetup::Passive { listener, peer: ip }.accept_pending(false);
        assert!(matches!(setup, DataSetup::Passive { .. }));
        let _client = TcpStream::connect(addr).unwrap();
        // The handshake completes in the kernel; the accept queue may lag the connect a bit.
        let mut setup = setup;
        for _ in 0..100 {
            setup = setup.accept_pending(false);
            if matches!(setup, DataSetup::Connected(_)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match &setup {
            DataSetup::Connected(stream) => assert!(is_nonblocking(stream)),
            _ => panic!("the pending connection was not accepted"),
        }

        let listener = open_passive(ip, None).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        let policy = DataPolicy {
            allow_fxp: false,
            timeout: Duration::from_secs(5),
            rate: 0,
            from_port_20: false,
            stall: None,
        };
        let stream = DataSetup::Passive { listener, peer: ip }
            .connect(policy, &AtomicBool::new(false))
            .unwrap();
        assert!(!is_nonblocking(&stream));
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
            stall: None,
        };
        let abort = AtomicBool::new(true);
        assert_eq!(
            setup.connect(policy, &abort).err(),
            Some(OpenFailure::Aborted)
        );
    }
}
