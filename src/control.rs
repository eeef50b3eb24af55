//! One control connection: greeting, the read-parse-dispatch-reply loop, timeouts, and the
//! wait during a transfer in which ABOR, STAT and NOOP are still answered.

use crate::command::{self, Command};
use crate::commands;
use crate::context::ServerContext;
use crate::data_channel::{DataPolicy, DataSetup};
use crate::error::FtpError;
use crate::line_reader::{LineEvent, LineReader};
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use crate::transfer::{Payload, TransferHandle, TransferJob, TransferOutcome};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest command line accepted (RFC 959 sets no limit; 4 KiB holds any real path).
pub const MAX_LINE: usize = 4096;
/// Commands that arrive during a transfer (other than ABOR/STAT/NOOP) wait, up to this many.
const MAX_DEFERRED: usize = 32;

/// The state of one control connection.
pub struct Control {
    reader: LineReader<TcpStream>,
    writer: TcpStream,
    /// Session state (login, cwd, types, pending data setup).
    pub session: Session,
    /// Shared server state.
    pub ctx: Arc<ServerContext>,
    deferred: VecDeque<Vec<u8>>,
    login_deadline: Instant,
}

/// Serve one connection until QUIT, EOF, timeout or a fatal error.
pub fn serve(stream: TcpStream, ctx: Arc<ServerContext>) {
    let (peer, local) = match (stream.peer_addr(), stream.local_addr()) {
        (Ok(p), Ok(l)) => (p, l),
        _ => return,
    };
    // Replies are small and answered one by one: Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let cfg = &ctx.config;
    let session = Session::new(peer, local, cfg.umask, cfg.idle_timeout);
    let login_deadline = Instant::now() + cfg.login_timeout;
    let mut control = Control {
        reader: LineReader::new(stream, MAX_LINE),
        writer,
        session,
        ctx,
        deferred: VecDeque::new(),
        login_deadline,
    };
    control.run();
    log::debug!("{peer}: connection closed");
}

impl Control {
    /// Send one reply; a failed write ends the session.
    pub fn send(&mut self, reply: &Reply) {
        if reply.write_to(&mut self.writer).is_err() {
            self.session.quit = true;
        }
        let _ = self.writer.flush();
    }

    fn greeting(&self) -> Reply {
        let text = self
            .ctx
            .config
            .banner
            .as_deref()
            .unwrap_or("ferroftpd ready.");
        let lines: Vec<Vec<u8>> = text.split("\\n").map(|l| l.as_bytes().to_vec()).collect();
        Reply::multi(ReplyCode::ServiceReady, lines)
    }

    fn run(&mut self) {
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
        }
    }

    /// Read the next command line, enforcing the idle or login timeout.
    fn read_line(&mut self) -> Option<Vec<u8>> {
        let timeout = if self.session.logged_in() {
            self.session.idle_timeout
        } else {
            self.login_deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        };
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout));
        match self.reader.next_line() {
            Ok(LineEvent::Line(line)) => Some(line),
            Ok(LineEvent::TooLong) => {
                self.send(&Reply::new(
                    ReplyCode::SyntaxError,
                    "Command line too long.",
                ));
                None
            }
            Ok(LineEvent::Eof) => None,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                log::info!("{}: timeout, closing", self.session.peer);
                self.send(&Reply::new(
                    ReplyCode::ServiceNotAvailable,
                    "Timeout. Closing control connection.",
                ));
                None
            }
            Err(_) => None,
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
        let policy = DataPolicy {
            allow_fxp: self.ctx.config.allow_fxp,
            timeout: self.ctx.config.data_timeout,
        };
        let is_transfer = setup.is_some();
        let (job, handle) =
            TransferJob::new(payload, setup, policy).map_err(|_| FtpError::LocalError)?;
        if self
            .ctx
            .pool
            .submit(job, self.ctx.config.pool_wait)
            .is_err()
        {
            log::warn!(
                "{}: all data threads busy, refusing transfer",
                self.session.peer
            );
            return Err(FtpError::CantOpenData);
        }
        if let Some(opening) = opening {
            self.send(&opening);
        }
        let (outcome, aborted_by_client) = self.wait_transfer(&handle);
        if is_transfer {
            self.session.stats.transfers += 1;
        }
        let moved = match outcome {
            TransferOutcome::Complete(n)
            | TransferOutcome::Aborted(n)
            | TransferOutcome::ConnectionLost(n)
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
            return Ok((abor, outcome));
        }
        Ok((reply, outcome))
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
                        self.session.quit = true;
                        handle.progress.abort();
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
                        // The client vanished: stop the transfer, end the session after it.
                        control_open = false;
                        self.session.quit = true;
                        handle.progress.abort();
                    }
                    Ok(_) => {}
                }
            }
        }
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
