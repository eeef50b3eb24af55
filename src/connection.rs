//! One control connection's loop: greeting, read -> parse -> gate -> dispatch -> reply, the
//! idle and login timeouts, and the 421 at shutdown. Handlers get the [`Control`] handle below
//! it, never this loop.

use crate::command;
use crate::commands;
use crate::context::ServerContext;
use crate::control::{self, Control};
use crate::error::FtpError;
use crate::ftps::{Ftps, SessionConfig};
use crate::line_reader::LineEvent;
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a reply may wait for the client to read (SO_SNDTIMEO on the control socket).
const CONTROL_SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// The two ends of a control connection: one socket, or inetd's stdin and stdout.
pub struct ControlConn {
    /// Where commands are read.
    pub input: File,
    /// Where replies are written.
    pub output: File,
    /// The client's address (loopback when stdin is a pipe).
    pub peer: SocketAddr,
    /// Our address (loopback when stdin is a pipe).
    pub local: SocketAddr,
    /// Implicit FTPS: TLS starts before the greeting (the `tls_implicit_port` listener).
    pub implicit_tls: bool,
}

impl ControlConn {
    /// A TCP control connection; on failure (e.g. no descriptor left for the reading dup)
    /// the stream comes back with the error, so the caller can still answer it.
    pub fn from_tcp(stream: TcpStream) -> Result<ControlConn, (io::Error, TcpStream)> {
        match Self::prepare(&stream) {
            Ok((peer, local, writer)) => Ok(ControlConn {
                input: File::from(OwnedFd::from(stream)),
                output: File::from(OwnedFd::from(writer)),
                peer,
                local,
                implicit_tls: false,
            }),
            Err(e) => Err((e, stream)),
        }
    }

    /// Socket options of a control connection, and a second handle for writing replies.
    fn prepare(stream: &TcpStream) -> io::Result<(SocketAddr, SocketAddr, TcpStream)> {
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        // Replies are small and answered one by one: Nagle would only add latency.
        stream.set_nodelay(true)?;
        // Urgent data stays in the stream: Python's ftplib sends all of "ABOR\r\n" with
        // MSG_OOB, and without this its last byte would be pulled out of band (RFC 959
        // §4.1.3 Synch; the line reader drops the Telnet IP/DM bytes either way).
        socket2::SockRef::from(stream).set_out_of_band_inline(true)?;
        // A client that never reads its replies must not park this thread in write().
        stream.set_write_timeout(Some(CONTROL_SEND_TIMEOUT))?;
        Ok((peer, local, stream.try_clone()?))
    }

    /// inetd/tcpsvd mode: the connection is stdin/stdout (a socket, or pipes in tests).
    pub fn from_stdio() -> io::Result<ControlConn> {
        let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let peer = socket_addr(nix::sys::socket::getpeername(input.as_raw_fd()));
        let local = socket_addr(nix::sys::socket::getsockname(input.as_raw_fd()));
        Ok(ControlConn {
            input,
            output,
            peer: peer.unwrap_or(loopback),
            local: local.unwrap_or(loopback),
            implicit_tls: false,
        })
    }
}

fn socket_addr(r: nix::Result<nix::sys::socket::SockaddrStorage>) -> Option<SocketAddr> {
    let storage = r.ok()?;
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    storage
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

/// One control connection while its loop runs.
struct Connection {
    // First field, so it is dropped (unwatched) before the socket in `ctl` is closed.
    _watch: Option<ShutdownWatch>,
    /// What the handlers get: session, settings, replies, transfers.
    ctl: Control,
    login_deadline: Instant,
    /// The receive timeout now set on a socket input, which is then read with plain blocking
    /// reads; `None` for pipes (inetd), which are polled.
    read_timeout: Option<Duration>,
}

/// Keeps a control socket registered with the shutdown signal while the session runs.
struct ShutdownWatch {
    ctx: Arc<ServerContext>,
    id: u64,
}

impl Drop for ShutdownWatch {
    fn drop(&mut self) {
        self.ctx.shutdown.unwatch(self.id);
    }
}

/// Socket receive timeouts are set in these steps, so that the wait before each command
/// usually needs no setsockopt (the remaining time rounds to the value already set).
const READ_TIMEOUT_STEP: Duration = Duration::from_millis(10);

/// `left` rounded up to a whole number of [`READ_TIMEOUT_STEP`]s (never zero: a zero
/// SO_RCVTIMEO would mean no timeout at all).
fn read_timeout_for(left: Duration) -> Duration {
    let step = READ_TIMEOUT_STEP.as_nanos();
    let steps = left.as_nanos().div_ceil(step).max(1);
    Duration::from_nanos(u64::try_from(steps * step).unwrap_or(u64::MAX))
}

/// Serve one connection until QUIT, EOF, timeout, shutdown or a fatal error.
pub fn serve(conn: ControlConn, ctx: Arc<ServerContext>) {
    let settings = ctx.settings();
    let cfg = &settings.config;
    let session = Session::new(conn.peer, conn.local, cfg.umask, cfg.idle_timeout);
    let login_deadline = Instant::now() + cfg.login_timeout;
    let peer = conn.peer;
    // A socket is read with blocking reads and SO_RCVTIMEO, woken at shutdown by
    // shutdown(SHUT_RD): one call per command instead of poll + read.
    let read_timeout = read_timeout_for(cfg.login_timeout);
    let implicit_tls = conn.implicit_tls;
    let blocking = socket2::SockRef::from(&conn.input)
        .set_read_timeout(Some(read_timeout))
        .is_ok();
    let watch = blocking.then(|| ShutdownWatch {
        id: ctx.shutdown.watch(conn.input.as_fd()),
        ctx: Arc::clone(&ctx),
    });
    let mut connection = Connection {
        _watch: watch,
        ctl: Control::new(conn.input, conn.output, session, ctx, settings),
        login_deadline,
        read_timeout: blocking.then_some(read_timeout),
    };
    if !implicit_tls || connection.start_implicit_tls() {
        connection.run();
    }
    connection.ctl.io().finish();
    log::debug!("{peer}: connection closed");
}

/// Why the wait for input ended without a line.
enum Wake {
    /// Read something (or nothing yet): look for a line again.
    Readable,
    Timeout,
    Shutdown,
    /// The connection failed.
    Failed,
}

impl Connection {
    fn greeting(&self) -> Reply {
        let settings = &self.ctl.settings;
        if let Some(lines) = settings.banner_lines.as_ref().filter(|l| !l.is_empty()) {
            return Reply::multi(ReplyCode::ServiceReady, lines.clone());
        }
        let text = settings
            .config
            .banner
            .as_deref()
            .unwrap_or("ferroftpd ready.");
        let lines: Vec<Vec<u8>> = text.split('\n').map(|l| l.as_bytes().to_vec()).collect();
        Reply::multi(ReplyCode::ServiceReady, lines)
    }

    fn run(&mut self) {
        if self.ctl.ctx.shutdown.is_set() {
            self.ctl.send(&FtpError::ShuttingDown.to_reply());
            return;
        }
        let greeting = self.greeting();
        self.ctl.send(&greeting);
        while !self.ctl.session.quit {
            let line = match self.ctl.next_deferred() {
                Some(line) => line,
                None => match self.read_line() {
                    Some(line) => line,
                    None => break,
                },
            };
            self.handle_line(&line);
            if self.ctl.ctx.shutdown.is_set() && !self.ctl.session.quit {
                // Shutdown arrived while this command ran (e.g. a transfer): close now.
                self.ctl.send(&FtpError::ShuttingDown.to_reply());
                break;
            }
        }
    }

    /// Implicit FTPS: TLS from the first byte, PROT P by default (PBSZ and PROT still
    /// accepted). False when the handshake failed: the connection just closes.
    fn start_implicit_tls(&mut self) -> bool {
        if !self.start_tls(None, Vec::new()) {
            return false;
        }
        let security = &mut self.ctl.session.security;
        (security.pbsz, security.private_data) = (true, true);
        true
    }

    /// Start TLS on the control connection with a configuration of its own (`config`, or a
    /// new one), dropping `unread` plaintext. False when it failed: the session ends (RFC
    /// 4217 §10.1: the connection is in an unknown state, so it is dropped).
    fn start_tls(&mut self, config: Option<SessionConfig>, unread: Vec<u8>) -> bool {
        let peer = self.ctl.session.peer;
        let config = match config {
            Some(c) => c,
            None => match self.ctl.ctx.ftps.as_ref().map(Ftps::session_config) {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    log::error!("{peer}: cannot start TLS: {e}");
                    return false;
                }
                None => return false,
            },
        };
        let timeout = self.ctl.settings.config.login_timeout;
        match self.ctl.io().start_tls(config, unread, timeout) {
            Ok(discarded) => {
                if discarded > 0 {
                    // SECURITY: CVE-2011-1575: commands injected behind AUTH never run.
                    log::warn!("{peer}: dropped {discarded} plaintext bytes sent behind AUTH");
                }
                self.ctl.session.security.control = true;
                log::info!("{peer}: TLS started ({})", self.ctl.io().describe_tls());
                true
            }
            Err(e) => {
                log::info!("{peer}: {}", e.0);
                self.ctl.session.quit = true;
                false
            }
        }
    }

    /// Wait until the control input is readable, the deadline passes, or shutdown starts.
    fn wait_input(&mut self, deadline: Instant) -> Wake {
        use nix::poll::{poll, PollFd, PollFlags};
        if self.ctl.io().has_buffered_input() {
            return Wake::Readable;
        }
        let Some(input) = self.ctl.input() else {
            return Wake::Failed;
        };
        let input = input.as_fd();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX).max(1);
            let mut fds = [
                PollFd::new(input, PollFlags::POLLIN),
                PollFd::new(self.ctl.ctx.shutdown.fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, ms) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(_) => return Wake::Readable,
            }
            if fds[1].revents().is_some_and(|r| !r.is_empty()) {
                return Wake::Shutdown;
            }
            return Wake::Readable;
        }
    }

    /// Read the next command line, enforcing the idle or login timeout.
    fn read_line(&mut self) -> Option<Vec<u8>> {
        let deadline = if self.ctl.session.logged_in() {
            Instant::now() + self.ctl.session.idle_timeout
        } else {
            self.login_deadline
        };
        loop {
            match self.ctl.reader().take_line() {
                Some(LineEvent::Line(line)) => return Some(line),
                Some(LineEvent::TooLong) => {
                    self.ctl.send(&FtpError::LineTooLong.to_reply());
                    return None;
                }
                Some(LineEvent::Eof) => {
                    if self.ctl.ctx.shutdown.is_set() {
                        // The shutdown signal shut the socket for reading to wake us.
                        self.ctl.send(&FtpError::ShuttingDown.to_reply());
                    }
                    return None;
                }
                None => {}
            }
            let wake = match self.read_timeout {
                Some(current) => self.blocking_fill(deadline, current),
                None => self.poll_fill(deadline),
            };
            match wake {
                Wake::Readable => {}
                Wake::Timeout => {
                    log::info!("{}: timeout, closing", self.ctl.session.peer);
                    self.ctl.send(&FtpError::IdleTimeout.to_reply());
                    return None;
                }
                Wake::Shutdown => {
                    self.ctl.send(&FtpError::ShuttingDown.to_reply());
                    return None;
                }
                Wake::Failed => return None,
            }
        }
    }

    /// One blocking read of a socket input, bounded by SO_RCVTIMEO (adjusted to the time left).
    fn blocking_fill(&mut self, deadline: Instant, current: Duration) -> Wake {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Wake::Timeout;
        }
        let wanted = read_timeout_for(left);
        if wanted != current {
            let Some(input) = self.ctl.input() else {
                return Wake::Failed;
            };
            if socket2::SockRef::from(input)
                .set_read_timeout(Some(wanted))
                .is_err()
            {
                return Wake::Failed;
            }
            self.read_timeout = Some(wanted);
        }
        self.read_once()
    }

    /// Poll a pipe input (inetd) together with the shutdown signal, then read once.
    fn poll_fill(&mut self, deadline: Instant) -> Wake {
        match self.wait_input(deadline) {
            Wake::Readable => self.read_once(),
            other => other,
        }
    }

    /// One read into the line buffer. A receive timeout that ran out (the caller's deadline
    /// check decides) or a signal means: look again.
    fn read_once(&mut self) -> Wake {
        match self.ctl.reader().fill_once() {
            Ok(_) => Wake::Readable,
            Err(e) if is_retry(e.kind()) => Wake::Readable,
            // Under TLS the socket shut by the shutdown signal shows as an error.
            Err(_) if self.ctl.ctx.shutdown.is_set() => Wake::Shutdown,
            Err(_) => Wake::Failed,
        }
    }

    fn handle_line(&mut self, line: &[u8]) {
        control::log_command(self.ctl.session.peer, line);
        let result = command::parse(line).and_then(|cmd| commands::execute(&mut self.ctl, cmd));
        let reply = result.unwrap_or_else(FtpError::to_reply);
        self.ctl.send(&reply);
        if let Some(config) = self.ctl.take_starttls() {
            // AUTH TLS: its 234 is out; whatever followed its line arrived in plaintext.
            let unread = self.ctl.reader().take_unread();
            let deferred = self.ctl.drop_deferred();
            if deferred > 0 {
                log::warn!(
                    "{}: dropped {deferred} commands queued before AUTH",
                    self.ctl.session.peer
                );
            }
            self.start_tls(Some(config), unread);
        }
    }
}

/// Errors of a blocking control read after which reading again is right.
fn is_retry(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(kind, WouldBlock | TimedOut | Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_timeouts_round_up_to_steps_and_are_never_zero() {
        let ms = Duration::from_millis;
        assert_eq!(read_timeout_for(Duration::ZERO), ms(10));
        assert_eq!(read_timeout_for(Duration::from_nanos(1)), ms(10));
        assert_eq!(read_timeout_for(ms(200)), ms(200));
        // What is left of a 300 s idle timeout a moment later rounds back to 300 s: no
        // setsockopt before the next command.
        let left = Duration::from_secs(300) - Duration::from_micros(37);
        assert_eq!(read_timeout_for(left), Duration::from_secs(300));
        assert_eq!(read_timeout_for(ms(1001)), ms(1010));
    }
}
