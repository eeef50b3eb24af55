//! The service manager's side channels without libsystemd: sockets passed in by socket
//! activation (`LISTEN_PID`/`LISTEN_FDS`, sd_listen_fds(3)) and state notifications on
//! `NOTIFY_SOCKET` (READY, RELOADING, STOPPING, WATCHDOG; sd_notify(3)).
//!
//! Both protocols are a few environment variables. They are read once, at startup, before any
//! thread exists, and removed from the environment so that nothing started later takes them
//! for its own.

use crate::ffi;
use nix::fcntl::{self, FcntlArg, FdFlag};
use nix::sys::socket::{self, sockopt, SockType};
use nix::sys::stat::{self, SFlag};
use nix::time;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The first passed descriptor (`SD_LISTEN_FDS_START`): 0-2 stay stdin, stdout and stderr.
const LISTEN_FDS_START: RawFd = 3;

/// Most passed sockets accepted; a unit lists a handful, a bigger number is a broken variable.
const MAX_LISTEN_FDS: usize = 64;

/// A listening socket handed over by the service manager.
#[derive(Debug)]
pub struct Activated {
    /// The socket, non-blocking and close-on-exec, ready for `listener::accept_loop`.
    pub listener: TcpListener,
    /// Its local address, as `getsockname` reports it.
    pub addr: SocketAddr,
    /// Its name from `LISTEN_FDNAMES` (`FileDescriptorName=`), if the manager gave one.
    pub name: Option<String>,
}

/// Take the sockets passed by socket activation, if `LISTEN_PID` names this process.
///
/// `Ok(None)` when the process was not socket-activated. Every passed descriptor must be a
/// listening TCP socket (IPv4 or IPv6); anything else is a startup error, since a unit that
/// passes a UDP or Unix socket is misconfigured and serving on part of it would hide that. The
/// variables are removed in every case, as sd_listen_fds(3) does with `unset_environment`.
/// Call before any thread is started (the environment is not thread-safe).
pub fn take_listen_fds() -> Result<Option<Vec<Activated>>, String> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let Some(count) = listen_fd_count(pid.as_deref(), fds.as_deref(), std::process::id())? else {
        return Ok(None);
    };
    let names: Vec<&str> = names
        .as_deref()
        .map_or_else(Vec::new, |n| n.split(':').collect());
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // Bounded by MAX_LISTEN_FDS, so the sum cannot overflow.
        let fd = LISTEN_FDS_START + i as RawFd;
        let listener =
            adopt_listener(fd).map_err(|e| format!("socket activation: fd {fd}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("socket activation: fd {fd}: {e}"))?;
        let name = names
            .get(i)
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string());
        out.push(Activated {
            listener,
            addr,
            name,
        });
    }
    Ok(Some(out))
}

/// How many descriptors `LISTEN_PID`/`LISTEN_FDS` pass to process `me`; `None` when they are
/// absent or meant for another process (a parent's variables inherited by mistake).
fn listen_fd_count(pid: Option<&str>, fds: Option<&str>, me: u32) -> Result<Option<usize>, String> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    let pid: u32 = pid
        .parse()
        .map_err(|_| format!("socket activation: LISTEN_PID={pid:?} is not a process id"))?;
    if pid != me {
        return Ok(None);
    }
    let count: usize = fds
        .parse()
        .map_err(|_| format!("socket activation: LISTEN_FDS={fds:?} is not a number"))?;
    if count == 0 || count > MAX_LISTEN_FDS {
        return Err(format!(
            "socket activation: LISTEN_FDS={count}: expected 1 to {MAX_LISTEN_FDS} sockets"
        ));
    }
    Ok(Some(count))
}

/// Check that `fd` is a listening IPv4/IPv6 TCP socket, then own it: close-on-exec, and
/// non-blocking as the accept loop expects of every listener (see `net::listen`).
fn adopt_listener(fd: RawFd) -> Result<TcpListener, String> {
    let owned = ffi::own_inherited_fd(fd).map_err(|e| format!("not open ({e})"))?;
    let st = stat::fstat(&owned).map_err(|e| e.to_string())?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err("not a socket".to_string());
    }
    let kind = socket::getsockopt(&owned, sockopt::SockType).map_err(|e| e.to_string())?;
    if kind != SockType::Stream {
        return Err(format!("a {kind:?} socket, not a stream (TCP) socket"));
    }
    if !socket::getsockopt(&owned, sockopt::AcceptConn).map_err(|e| e.to_string())? {
        return Err("a socket that is not listening (Accept=yes needs -i)".to_string());
    }
    let local = socket::getsockname::<socket::SockaddrStorage>(owned.as_raw_fd())
        .map_err(|e| e.to_string())?;
    if local.as_sockaddr_in().is_none() && local.as_sockaddr_in6().is_none() {
        return Err("not an IPv4 or IPv6 socket".to_string());
    }
    // systemd sets neither flag; a session must not leak the listener into anything it runs.
    fcntl::fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map_err(|e| format!("cannot set close-on-exec: {e}"))?;
    let listener = TcpListener::from(owned);
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make it non-blocking: {e}"))?;
    Ok(listener)
}

/// Where state changes go: the service manager's `NOTIFY_SOCKET`, when it gave one.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
    /// What `NOTIFY_SOCKET` said, for messages.
    name: String,
}

impl Notifier {
    /// Take `NOTIFY_SOCKET` (and remove it from the environment); `None` when it is unset or
    /// unusable (that is logged: the service manager will then time the start out).
    /// Call before any thread is started.
    pub fn take_from_env() -> Option<Notifier> {
        let value = std::env::var_os("NOTIFY_SOCKET");
        std::env::remove_var("NOTIFY_SOCKET");
        let value = value?;
        match Notifier::connect(value.as_bytes()) {
            Ok(n) => Some(n),
            Err(e) => {
                log::error!("NOTIFY_SOCKET={}: {e}", value.to_string_lossy());
                None
            }
        }
    }

    /// A notifier for the socket named `name`: a path, or `@name` in the abstract namespace.
    pub fn connect(name: &[u8]) -> std::io::Result<Notifier> {
        use std::io::{Error, ErrorKind};
        let addr = match name.split_first() {
            Some((b'@', abstract_name)) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?
            }
            Some((b'/', _)) => {
                std::os::unix::net::SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(name))?
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "not an absolute path or @abstract name",
                ))
            }
        };
        // Unbound and unconnected: each message is a sendto, so a manager that re-creates its
        // socket (daemon-reexec) is still reached.
        let socket = UnixDatagram::unbound()?;
        Ok(Notifier {
            socket,
            addr,
            name: String::from_utf8_lossy(name).into_owned(),
        })
    }

    /// Send one notification (`KEY=VALUE` lines); a failure is logged, never fatal.
    pub fn notify(&self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.addr) {
            log::warn!("notify {}: {e}", self.name);
        }
    }

    /// `READY=1`: startup, or a reload, is complete.
    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={status}"));
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` that `Type=notify-reload` (systemd 253) wants.
    pub fn reloading(&self) {
        match monotonic_usec() {
            Some(usec) => self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}")),
            None => self.notify("RELOADING=1"),
        }
    }

    /// `STOPPING=1`: shutdown has begun.
    pub fn stopping(&self) {
        self.notify("STOPPING=1");
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares reload times on.
fn monotonic_usec() -> Option<u64> {
    let ts = time::clock_gettime(time::ClockId::CLOCK_MONOTONIC).ok()?;
    let secs = u64::try_from(ts.tv_sec()).ok()?;
    let micros = u64::try_from(ts.tv_nsec() / 1000).ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// How often to send `WATCHDOG=1`, from `WATCHDOG_USEC` and `WATCHDOG_PID` (removed from the
/// environment): half the timeout, as sd_watchdog_enabled(3) advises. `None` when there is
/// no watchdog or it is meant for another process. Call before any thread is started.
pub fn take_watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    std::env::remove_var("WATCHDOG_USEC");
    std::env::remove_var("WATCHDOG_PID");
    watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// The ping interval for these variable values seen by process `me`.
fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.parse::<u32>().ok()? != me {
            return None;
        }
    }
    let usec: u64 = usec?.parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// Counts the accept loops still running; the watchdog pings only while all of them are.
#[derive(Debug, Default)]
pub struct Liveness {
    running: AtomicUsize,
}

/// Held by one accept loop's thread; dropping it (return or panic) counts the loop as gone.
#[derive(Debug)]
pub struct Alive(Arc<Liveness>);

impl Liveness {
    /// Register one more running accept loop.
    pub fn enter(self: &Arc<Self>) -> Alive {
        self.running.fetch_add(1, Ordering::SeqCst);
        Alive(Arc::clone(self))
    }

    /// Accept loops running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Start the thread that sends `WATCHDOG=1` every `interval` while `expected` accept loops are
/// running; once one has died it stops pinging, so the manager restarts a server that no
/// longer accepts. It ends on its own when that happens or shutdown starts (`stop`).
pub fn start_watchdog(
    notifier: Arc<Notifier>,
    interval: Duration,
    liveness: Arc<Liveness>,
    expected: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("watchdog".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            if liveness.running() < expected {
                log::error!("watchdog: an accept loop has ended; no more WATCHDOG=1");
                return;
            }
            notifier.notify("WATCHDOG=1");
            std::thread::sleep(interval);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_fds_only_for_this_process() {
        assert_eq!(listen_fd_count(None, None, 7), Ok(None));
        assert_eq!(listen_fd_count(Some("7"), None, 7), Ok(None));
        assert_eq!(listen_fd_count(None, Some("1"), 7), Ok(None));
        assert_eq!(
            listen_fd_count(Some("8"), Some("1"), 7),
            Ok(None),
            "another pid"
        );
        assert_eq!(listen_fd_count(Some("7"), Some("2"), 7), Ok(Some(2)));
        for (pid, fds) in [("x", "1"), ("7", "0"), ("7", "-1"), ("7", "65"), ("7", "")] {
            assert!(
                listen_fd_count(Some(pid), Some(fds), 7).is_err(),
                "{pid} {fds}"
            );
        }
    }

    #[test]
    fn inherited_fds_are_checked() {
        use std::os::fd::IntoRawFd;
        // A UDP socket and a connected-never TCP socket are refused; a listening one works.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")
            .expect("udp")
            .into_raw_fd();
        let err = adopt_listener(udp).expect_err("udp");
        assert!(err.contains("not a stream"), "{err}");
        let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("tcp")
            .into_raw_fd();
        let err = adopt_listener(tcp).expect_err("not listening");
        assert!(err.contains("not listening"), "{err}");
        let (a, _b) = UnixDatagram::pair().expect("pair");
        let err = adopt_listener(a.into_raw_fd()).expect_err("unix");
        assert!(err.contains("not a stream"), "{err}");
        let file = std::fs::File::open("/dev/null")
            .expect("null")
            .into_raw_fd();
        assert_eq!(adopt_listener(file).expect_err("file"), "not a socket");
        let l = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = l.local_addr().expect("addr");
        let l = adopt_listener(l.into_raw_fd()).expect("a listener");
        assert_eq!(l.local_addr().expect("addr"), addr);
        let flags = fcntl::fcntl(&l, FcntlArg::F_GETFL).expect("getfl");
        assert!(fcntl::OFlag::from_bits_truncate(flags).contains(fcntl::OFlag::O_NONBLOCK));
    }

    #[test]
    fn notifications_reach_path_and_abstract_sockets() {
        let dir = crate::test_support::TempDir::new("notify");
        let path = dir.0.join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        let n = Notifier::connect(path.as_os_str().as_bytes()).expect("path");
        n.ready("serving");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("ferroftpd-unit-{}", std::process::id());
        let abs = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abs");
        let server = UnixDatagram::bind_addr(&abs).expect("bind abstract");
        let n = Notifier::connect(format!("@{name}").as_bytes()).expect("abstract");
        n.reloading();
        let len = server.recv(&mut buf).expect("recv");
        let text = std::str::from_utf8(&buf[..len]).expect("utf-8");
        let usec: u64 = text
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(|| panic!("{text:?}"));
        assert!(usec > 0);

        assert!(Notifier::connect(b"relative/path").is_err());
        assert!(Notifier::connect(b"").is_err());
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_this_process() {
        let half = Some(Duration::from_millis(500));
        assert_eq!(watchdog_interval(Some("1000000"), None, 7), half);
        assert_eq!(watchdog_interval(Some("1000000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval(Some("1000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("1000000"), Some("x"), 7), None);
        assert_eq!(watchdog_interval(None, Some("7"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("abc"), None, 7), None);
        assert_eq!(
            watchdog_interval(Some("1"), None, 7),
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn watchdog_pings_while_the_loops_run_and_stops_when_one_ends() {
        let dir = crate::test_support::TempDir::new("watchdog");
        let path = dir.0.join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = Arc::new(Notifier::connect(path.as_os_str().as_bytes()).expect("notifier"));
        let live = Arc::new(Liveness::default());
        let alive = live.enter();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pinger = start_watchdog(
            Arc::clone(&n),
            Duration::from_millis(5),
            Arc::clone(&live),
            1,
            stop,
        )
        .expect("start");
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            let len = server.recv(&mut buf).expect("a ping");
            assert_eq!(&buf[..len], b"WATCHDOG=1");
        }
        // The thread that pings is the thread that checks: once it has ended, no ping can
        // follow. Without the check it would ping forever.
        drop(alive);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !pinger.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            pinger.is_finished(),
            "still pinging without its accept loop"
        );
        pinger.join().expect("no panic");
    }

    #[test]
    fn liveness_counts_running_loops() {
        let l = Arc::new(Liveness::default());
        let a = l.enter();
        let b = l.enter();
        assert_eq!(l.running(), 2);
        drop(a);
        assert_eq!(l.running(), 1);
        let panicked = std::thread::spawn(move || {
            let _b = b;
            panic!("an accept loop dies");
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(l.running(), 0);
    }
}
