//! One control connection: greeting, the read-parse-dispatch-reply loop, timeouts, and the
//! wait during a transfer in which ABOR, STAT and NOOP are still answered.

use crate::command::{self, Command};
use crate::commands;
use crate::context::{ServerContext, Settings};
use crate::data_channel::{DataPolicy, DataSetup, StallRule};
use crate::error::FtpError;
use crate::inline_send::{self, Inline};
use crate::line_reader::{LineEvent, LineReader};
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use crate::transfer::{Payload, TransferHandle, TransferJob, TransferOutcome};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest command line accepted (RFC 959 sets no limit; 4 KiB holds any real path).
pub const MAX_LINE: usize = 4096;
/// Commands that arrive during a transfer (other than ABOR/STAT/NOOP) wait, up to this many.
const MAX_DEFERRED: usize = 32;
/// Longest a reply may wait for the client to read (SO_SNDTIMEO on the control socket).
const CONTROL_SEND_TIMEOUT: Duration = Duration::from_secs(120);
/// The 421 text when the server stops.
const SHUTDOWN_TEXT: &str = "Server shutting down. Closing control connection.";

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

/// The state of one control connection.
pub struct Control {
    // First field, so it is dropped (unwatched) before the socket below is closed.
    _watch: Option<ShutdownWatch>,
    reader: LineReader<File>,
    writer: File,
    /// Session state (login, cwd, types, pending data setup).
    pub session: Session,
    /// Shared server state (pool, shutdown).
    pub ctx: Arc<ServerContext>,
    /// The settings this session runs with (refreshed at each login, so a reload applies to
    /// new logins while running sessions keep theirs).
    pub settings: Arc<Settings>,
    deferred: VecDeque<Vec<u8>>,
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
    let blocking = socket2::SockRef::from(&conn.input)
        .set_read_timeout(Some(read_timeout))
        .is_ok();
    let watch = blocking.then(|| ShutdownWatch {
        id: ctx.shutdown.watch(conn.input.as_fd()),
        ctx: Arc::clone(&ctx),
    });
    let mut control = Control {
        _watch: watch,
        reader: LineReader::new(conn.input, MAX_LINE),
        writer: conn.output,
        session,
        ctx,
        settings,
        deferred: VecDeque::new(),
        login_deadline,
        read_timeout: blocking.then_some(read_timeout),
    };
    control.run();
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

impl Control {
    /// Send one reply; a failed write ends the session.
    pub fn send(&mut self, reply: &Reply) {
        if reply.write_to(&mut self.writer).is_err() {
            self.session.quit = true;
        }
    }

    /// Take the settings in force now (called at login: new logins see a reload).
    pub fn refresh_settings(&mut self) {
        self.settings = self.ctx.settings();
    }

    fn greeting(&self) -> Reply {
        if let Some(lines) = self
            .settings
            .banner_lines
            .as_ref()
            .filter(|l| !l.is_empty())
        {
            return Reply::multi(ReplyCode::ServiceReady, lines.clone());
        }
        let text = self
            .settings
            .config
            .banner
            .as_deref()
            .unwrap_or("ferroftpd ready.");
        let lines: Vec<Vec<u8>> = text.split('\n').map(|l| l.as_bytes().to_vec()).collect();
        Reply::multi(ReplyCode::ServiceReady, lines)
    }

    fn run(&mut self) {
        if self.ctx.shutdown.is_set() {
            self.send(&Reply::new(ReplyCode::ServiceNotAvailable, SHUTDOWN_TEXT));
            return;
        }
        let greeting = self.greeting();
        self.send(&greeting);
        while !self.session.quit {
            let line = match self.deferred.pop_front() {
                Some(line) => line,
                None => match self.read_line() {
                    Some(line) => line,
                    None => break,
                },
            };
            self.handle_line(&line);
            if self.ctx.shutdown.is_set() && !self.session.quit {
                // Shutdown arrived while this command ran (e.g. a transfer): close now.
                self.send(&Reply::new(ReplyCode::ServiceNotAvailable, SHUTDOWN_TEXT));
                break;
            }
        }
    }

    /// Wait until the control input is readable, the deadline passes, or shutdown starts.
    fn wait_input(&self, deadline: Instant) -> Wake {
        use nix::poll::{poll, PollFd, PollFlags};
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX).max(1);
            let mut fds = [
                PollFd::new(self.reader.get_ref().as_fd(), PollFlags::POLLIN),
                PollFd::new(self.ctx.shutdown.fd(), PollFlags::POLLIN),
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
        let deadline = if self.session.logged_in() {
            Instant::now() + self.session.idle_timeout
        } else {
            self.login_deadline
        };
        loop {
            match self.reader.take_line() {
                Some(LineEvent::Line(line)) => return Some(line),
                Some(LineEvent::TooLong) => {
                    self.send(&Reply::new(
                        ReplyCode::SyntaxError,
                        "Command line too long.",
                    ));
                    return None;
                }
                Some(LineEvent::Eof) => {
                    if self.ctx.shutdown.is_set() {
                        // The shutdown signal shut the socket for reading to wake us.
                        self.send(&Reply::new(ReplyCode::ServiceNotAvailable, SHUTDOWN_TEXT));
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
                    log::info!("{}: timeout, closing", self.session.peer);
                    self.send(&Reply::new(
                        ReplyCode::ServiceNotAvailable,
                        "Timeout. Closing control connection.",
                    ));
                    return None;
                }
                Wake::Shutdown => {
                    self.send(&Reply::new(ReplyCode::ServiceNotAvailable, SHUTDOWN_TEXT));
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
            let sock = socket2::SockRef::from(self.reader.get_ref());
            if sock.set_read_timeout(Some(wanted)).is_err() {
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
        match self.reader.fill_once() {
            Ok(_) => Wake::Readable,
            Err(e) if is_retry(e.kind()) => Wake::Readable,
            Err(_) => Wake::Failed,
        }
    }

    fn handle_line(&mut self, line: &[u8]) {
        log_command(self.session.peer, line);
        let result = command::parse(line).and_then(|cmd| {
            if !self.session.logged_in() && !cmd.allowed_before_login() {
                Err(FtpError::NotLoggedIn)
            } else {
                commands::dispatch(self, cmd)
            }
        });
        let reply = result.unwrap_or_else(FtpError::to_reply);
        self.send(&reply);
    }

    /// Run a transfer on the data pool: 150 first, then wait while answering ABOR/STAT/NOOP.
    /// Returns the final reply and the outcome.
    pub fn run_transfer(
        &mut self,
        payload: Payload,
        opening: Reply,
    ) -> Result<(Reply, TransferOutcome), FtpError> {
        let setup = self.session.data.take().ok_or(FtpError::CantOpenData)?;
        self.run_job(payload, Some(setup), Some(opening))
    }

    /// Run any pool job (transfer, or checksum without data connection and without 150).
    pub fn run_job(
        &mut self,
        payload: Payload,
        setup: Option<DataSetup>,
        opening: Option<Reply>,
    ) -> Result<(Reply, TransferOutcome), FtpError> {
        let cfg = &self.settings.config;
        let rate = match &payload {
            Payload::SendFile { .. } | Payload::SendBytes(_) => cfg.download_rate,
            Payload::Receive { .. } => cfg.upload_rate,
            Payload::Checksum { .. } => 0,
        };
        let policy = DataPolicy {
            allow_fxp: cfg.allow_fxp,
            timeout: cfg.data_timeout,
            rate,
            from_port_20: cfg.connect_from_port_20,
            stall: stall_rule(cfg.data_stall_bytes, cfg.data_stall_window, rate),
        };
        let per_ip = cfg.max_transfers_per_ip;
        let is_transfer = setup.is_some();
        let (mut payload, mut setup, mut opening) = (payload, setup, opening);
        let mut sent_inline = 0;
        // Whether the 150 already went out (an inline attempt sends it before any data).
        let mut announced = false;
        if inline_send::eligible(&payload, rate) {
            setup = setup.map(|s| s.accept_pending(policy.allow_fxp));
            let attempt = match &setup {
                Some(DataSetup::Connected(stream)) => {
                    if let Some(opening) = opening.take() {
                        self.send(&opening);
                        announced = true;
                    }
                    inline_send::send(payload, stream)
                }
                _ => Inline::Rest(payload, 0),
            };
            match attempt {
                Inline::Done(outcome) => {
                    // The data connection closes before the final reply, as after a worker.
                    drop(setup);
                    return Ok(self.conclude(outcome, false, is_transfer));
                }
                Inline::Rest(rest, sent) => {
                    if matches!(setup, Some(DataSetup::Connected(_))) {
                        log::debug!(
                            "{}: sent {sent} bytes inline; a worker sends the rest",
                            self.session.peer
                        );
                    }
                    (payload, sent_inline) = (rest, sent);
                }
            }
        }
        // Held until the job is done (wait_transfer below), so one address never runs more
        // than max_transfers_per_ip jobs: others still find workers (issue 10).
        let Some(_claim) = self.ctx.pool.claim(self.session.peer.ip(), per_ip) else {
            log::info!(
                "{}: {per_ip} transfers from this address already run; refusing another",
                self.session.peer
            );
            if announced {
                let lost = TransferOutcome::ConnectionLost(sent_inline);
                return Ok(self.conclude(lost, false, is_transfer));
            }
            return Err(FtpError::TooManyTransfers);
        };
        let (job, handle) = TransferJob::new(payload, setup, policy).map_err(FtpError::from)?;
        handle.progress.add(sent_inline);
        if self
            .ctx
            .pool
            .submit(job, self.settings.config.pool_wait)
            .is_err()
        {
            log::warn!(
                "{}: all data threads busy, refusing transfer",
                self.session.peer
            );
            if announced {
                let lost = TransferOutcome::ConnectionLost(sent_inline);
                return Ok(self.conclude(lost, false, is_transfer));
            }
            return Err(FtpError::CantOpenData);
        }
        if let Some(opening) = opening {
            self.send(&opening);
        }
        let (outcome, aborted_by_client) = self.wait_transfer(&handle);
        Ok(self.conclude(outcome, aborted_by_client, is_transfer))
    }

    /// Account for a finished job and make its final reply (sending the transfer's own reply
    /// first when ABOR ended it, so the returned one is ABOR's 226).
    fn conclude(
        &mut self,
        outcome: TransferOutcome,
        aborted_by_client: bool,
        is_transfer: bool,
    ) -> (Reply, TransferOutcome) {
        if is_transfer {
            self.session.stats.transfers += 1;
        }
        let moved = match outcome {
            TransferOutcome::Complete(n)
            | TransferOutcome::Aborted(n)
            | TransferOutcome::ConnectionLost(n)
            | TransferOutcome::Stalled(n)
            | TransferOutcome::LocalError(_, n) => n,
            TransferOutcome::CantOpen | TransferOutcome::Hashed(..) => 0,
        };
        self.session.stats.data_bytes += moved;
        let reply = outcome_reply(outcome);
        if aborted_by_client {
            // RFC 959 §4.1.3 ABOR: the transfer's reply first (426, or 226 if it had
            // finished anyway), then 226 for the ABOR itself.
            self.send(&reply);
            let abor = Reply::new(ReplyCode::ClosingData, "ABOR successful.");
            return (abor, outcome);
        }
        (reply, outcome)
    }

    /// Wait for the job, serving the control connection; returns the outcome and whether ABOR
    /// was received.
    fn wait_transfer(&mut self, handle: &TransferHandle) -> (TransferOutcome, bool) {
        use nix::poll::{poll, PollFd, PollFlags};
        let mut aborted = false;
        let mut control_open = true;
        loop {
            // Lines already buffered are served before sleeping again.
            while control_open {
                let Some(event) = self.reader.take_line() else {
                    break;
                };
                match event {
                    LineEvent::Line(line) => {
                        if self.handle_during_transfer(line, handle) {
                            aborted = true;
                        }
                    }
                    LineEvent::TooLong | LineEvent::Eof => {
                        control_open = false;
                        self.control_ended(handle);
                    }
                }
            }
            let ready = {
                let done = PollFd::new(handle.done.as_fd(), PollFlags::POLLIN);
                let ctl = PollFd::new(self.reader.get_ref().as_fd(), PollFlags::POLLIN);
                let mut fds = if control_open {
                    vec![done, ctl]
                } else {
                    vec![done]
                };
                match poll(&mut fds, 1000u16) {
                    Ok(_) => fds
                        .iter()
                        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                        .collect::<Vec<_>>(),
                    Err(_) => vec![false; fds.len()],
                }
            };
            if ready[0] {
                // The job is dropped: its outcome was sent first (or it panicked).
                let outcome = handle
                    .outcome
                    .recv_timeout(Duration::from_secs(1))
                    .unwrap_or(TransferOutcome::LocalError(FtpError::LocalError, 0));
                return (outcome, aborted);
            }
            if control_open && ready.get(1).copied().unwrap_or(false) {
                match self.reader.fill_once() {
                    Ok(0) | Err(_) => {
                        control_open = false;
                        self.control_ended(handle);
                    }
                    Ok(_) => {}
                }
            }
        }
    }

    /// The control input ended during a transfer.
    fn control_ended(&mut self, handle: &TransferHandle) {
        if self.ctx.shutdown.is_set() {
            // Most likely the shutdown signal waking a blocked reader: the transfer may
            // finish (up to shutdown_timeout), then the session gets its 421.
            return;
        }
        // The client vanished: stop the transfer, end the session after it.
        self.session.quit = true;
        handle.progress.abort();
    }

    /// Serve one line during a transfer; returns true for ABOR.
    fn handle_during_transfer(&mut self, line: Vec<u8>, handle: &TransferHandle) -> bool {
        log_command(self.session.peer, &line);
        match command::parse(&line) {
            Ok(Command::Abor) => {
                handle.progress.abort();
                true
            }
            Ok(Command::Stat(None)) => {
                let text = format!(
                    "Status: {} bytes transferred so far.",
                    handle.progress.bytes()
                );
                self.send(&Reply::new(ReplyCode::FileStatus, text));
                false
            }
            Ok(Command::Noop) => {
                self.send(&Reply::new(ReplyCode::CommandOk, "NOOP ok."));
                false
            }
            _ if self.deferred.len() < MAX_DEFERRED => {
                // Pipelined commands run after the transfer's final reply.
                self.deferred.push_back(line);
                false
            }
            _ => {
                self.send(&Reply::new(
                    ReplyCode::FileBusy,
                    "Transfer in progress; command ignored.",
                ));
                false
            }
        }
    }
}

/// The stall rule of a transfer: `bytes` per `window` (none when `bytes` is 0). Under a rate
/// cap the rule asks at most half of what the cap lets through in a window, so the cap's own
/// pauses never look like a stall.
fn stall_rule(bytes: u64, window: Duration, rate: u64) -> Option<StallRule> {
    if bytes == 0 {
        return None;
    }
    let bytes = if rate > 0 {
        let allowed = u128::from(rate) * window.as_millis() / 1000 / 2;
        bytes.min(u64::try_from(allowed).unwrap_or(u64::MAX)).max(1)
    } else {
        bytes
    };
    Some(StallRule { bytes, window })
}

/// Errors of a blocking control read after which reading again is right.
fn is_retry(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(kind, WouldBlock | TimedOut | Interrupted)
}

/// The final reply of a transfer.
pub fn outcome_reply(outcome: TransferOutcome) -> Reply {
    match outcome {
        TransferOutcome::Complete(_) => Reply::new(ReplyCode::ClosingData, "Transfer complete."),
        TransferOutcome::Aborted(_) => {
            Reply::new(ReplyCode::TransferAborted, "Transfer aborted by ABOR.")
        }
        TransferOutcome::ConnectionLost(_) => Reply::new(
            ReplyCode::TransferAborted,
            "Connection closed; transfer aborted.",
        ),
        TransferOutcome::Stalled(_) => Reply::new(
            ReplyCode::TransferAborted,
            "Data connection too slow; transfer aborted.",
        ),
        TransferOutcome::CantOpen => FtpError::CantOpenData.to_reply(),
        TransferOutcome::LocalError(e, _) => e.to_reply(),
        TransferOutcome::Hashed(crc, _) => Reply::new(ReplyCode::FileStatus, format!("{crc:08x}")),
    }
}

/// Log a command at debug level with the PASS argument masked.
fn log_command(peer: std::net::SocketAddr, line: &[u8]) {
    if !log::log_enabled!(log::Level::Debug) {
        return;
    }
    let (verb, _) = command::split_verb(line);
    if verb == "PASS" {
        // SECURITY: passwords never reach the logs.
        log::debug!("{peer}: > PASS ****");
    } else {
        log::debug!("{peer}: > {}", String::from_utf8_lossy(line).escape_debug());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_rule_stays_below_the_rate_cap() {
        let w = Duration::from_secs(10);
        assert_eq!(stall_rule(0, w, 0), None);
        assert_eq!(stall_rule(0, w, 1000), None);
        let rule = |bytes| Some(StallRule { bytes, window: w });
        assert_eq!(stall_rule(65_536, w, 0), rule(65_536));
        // 1000 B/s lets 10,000 bytes through in the window: ask for half of it at most.
        assert_eq!(stall_rule(65_536, w, 1000), rule(5_000));
        assert_eq!(stall_rule(100, w, 1000), rule(100));
        assert_eq!(stall_rule(65_536, w, 1), rule(5));
        let one = Duration::from_secs(1);
        assert_eq!(
            stall_rule(65_536, one, 1),
            Some(StallRule {
                bytes: 1,
                window: one
            })
        );
        assert_eq!(stall_rule(u64::MAX, w, u64::MAX), rule(u64::MAX));
    }

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
