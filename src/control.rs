//! The handle a command handler works with: the session, the settings, replies to the client,
//! and transfers run on the data pool while ABOR, STAT and NOOP are still answered. The loop
//! that reads commands and calls the handlers is `connection.rs`, above.

use crate::command::{self, Command};
use crate::config::TlsReuse;
use crate::context::{ServerContext, Settings};
use crate::control_io::ControlIo;
use crate::data_channel::{DataPolicy, DataSetup, StallRule};
use crate::error::{FtpError, TransferOutcome};
use crate::ftps::{Protection, SessionConfig};
use crate::inline_send::{self, Inline};
use crate::line_reader::{LineEvent, LineReader};
use crate::reply::{Reply, ReplyCode};
use crate::session::Session;
use crate::transfer::{Payload, TransferHandle, TransferJob};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

/// Longest command line accepted (RFC 959 sets no limit; 4 KiB holds any real path).
pub const MAX_LINE: usize = 4096;
/// Commands that arrive during a transfer (other than ABOR/STAT/NOOP) wait, up to this many.
const MAX_DEFERRED: usize = 32;

/// One control connection as its command handlers see it.
pub struct Control {
    /// Commands are read, and replies written, through it.
    reader: LineReader<ControlIo>,
    /// Session state (login, cwd, types, pending data setup).
    pub session: Session,
    /// Shared server state (pool, shutdown).
    pub ctx: Arc<ServerContext>,
    /// The settings this session runs with (refreshed at each login, so a reload applies to
    /// new logins while running sessions keep theirs).
    pub settings: Arc<Settings>,
    /// Lines that arrived during a transfer, run after its final reply.
    deferred: VecDeque<Vec<u8>>,
    /// `AUTH TLS` was accepted: the connection loop starts TLS after the 234 is out.
    starttls: Option<SessionConfig>,
}

impl Control {
    /// A handle over a connection's two ends: commands are read from `input` (a socket, or a
    /// pipe), replies written to `output`.
    pub fn new(
        input: File,
        output: File,
        session: Session,
        ctx: Arc<ServerContext>,
        settings: Arc<Settings>,
    ) -> Control {
        Control {
            reader: LineReader::new(ControlIo::plain(input, output), MAX_LINE),
            session,
            ctx,
            settings,
            deferred: VecDeque::new(),
            starttls: None,
        }
    }

    /// Where command lines are read from (the connection loop reads with it).
    pub fn reader(&mut self) -> &mut LineReader<ControlIo> {
        &mut self.reader
    }

    /// The control input, for polling and its socket options (`None` after a failed upgrade).
    pub fn input(&self) -> Option<&File> {
        self.reader.get_ref().input()
    }

    /// The control connection's stream.
    pub fn io(&mut self) -> &mut ControlIo {
        self.reader.get_mut()
    }

    /// Whether the control connection is under TLS.
    pub fn is_tls(&self) -> bool {
        self.reader.get_ref().is_tls()
    }

    /// Have the connection loop start TLS with `config` once the current reply is sent.
    pub fn request_starttls(&mut self, config: SessionConfig) {
        self.starttls = Some(config);
    }

    /// The TLS start requested by `AUTH TLS`, if any.
    pub fn take_starttls(&mut self) -> Option<SessionConfig> {
        self.starttls.take()
    }

    /// Forget the lines queued during a transfer (they arrived before TLS started).
    pub fn drop_deferred(&mut self) -> usize {
        std::mem::take(&mut self.deferred).len()
    }

    /// How this session's data connections are secured: `Some` under PROT P.
    fn data_protection(&self, upload: bool) -> Option<Protection> {
        if !self.session.security.private_data {
            return None;
        }
        let require_resume = self.settings.config.tls_session_reuse == TlsReuse::Required;
        self.reader
            .get_ref()
            .session_config()
            .map(|config| Protection {
                config: config.clone(),
                require_resume,
                upload,
            })
    }

    /// The next line that arrived during a transfer and waits to run.
    pub fn next_deferred(&mut self) -> Option<Vec<u8>> {
        self.deferred.pop_front()
    }

    /// Send one reply; a failed write ends the session.
    pub fn send(&mut self, reply: &Reply) {
        if reply.write_to(self.reader.get_mut()).is_err() {
            self.session.quit = true;
        }
    }

    /// Take the settings in force now (called at login: new logins see a reload).
    pub fn refresh_settings(&mut self) {
        self.settings = self.ctx.settings();
    }

    /// Run a transfer on the data pool: 150 first, then wait while answering ABOR/STAT/NOOP.
    /// Returns the final reply and the outcome.
    pub fn run_transfer(
        &mut self,
        payload: Payload,
        opening: Reply,
    ) -> Result<(Reply, TransferOutcome), FtpError> {
        self.session.require_data_setup()?;
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
        let upload = matches!(payload, Payload::Receive { .. });
        let protection = self.data_protection(upload).filter(|_| is_transfer);
        let (mut payload, mut setup, mut opening) = (payload, setup, opening);
        let mut sent_inline = 0;
        // Whether the 150 already went out (an inline attempt sends it before any data).
        let mut announced = false;
        // Not under PROT P: the TLS handshake of the data connection could make the control
        // thread wait on the client, and ABOR/STAT would go unanswered meanwhile.
        if protection.is_none() && inline_send::eligible(&payload, rate) {
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
        let job = job.protect(protection);
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
            TransferOutcome::CantOpen
            | TransferOutcome::Hashed(..)
            | TransferOutcome::DataTlsFailed
            | TransferOutcome::DataTlsNotResumed => 0,
        };
        self.session.stats.data_bytes += moved;
        let reply = outcome.to_reply();
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
            // Commands rustls already decrypted do not show in poll: read them without waiting.
            let buffered = control_open && self.reader.get_mut().has_buffered_input();
            let control_fd = self.reader.get_ref().input().map(|f| f.as_fd());
            let ready = {
                let done = PollFd::new(handle.done.as_fd(), PollFlags::POLLIN);
                let mut fds = vec![done];
                if let Some(fd) = control_fd.filter(|_| control_open) {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
                let wait = if buffered { 0u16 } else { 1000u16 };
                match poll(&mut fds, wait) {
                    Ok(_) => fds
                        .iter()
                        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                        .collect::<Vec<_>>(),
                    Err(_) => vec![false; fds.len()],
                }
            };
            if ready[0] {
                let mut wakeups = [0u8; 64];
                let finished = match nix::unistd::read(&handle.done, &mut wakeups) {
                    // Restart markers to answer (or a spurious wake-up).
                    Ok(n) if n > 0 => false,
                    Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => false,
                    // EOF: the job dropped its end.
                    _ => true,
                };
                // Markers before the final reply, in the order they came (RFC 959 §4.2:
                // STOR's 110s come between its 150 and its 226).
                self.send_marks(handle);
                if !finished {
                    continue;
                }
                // The job is dropped: its outcome was sent first (or it panicked).
                let outcome = handle
                    .outcome
                    .recv_timeout(Duration::from_secs(1))
                    .unwrap_or(TransferOutcome::LocalError(FtpError::LocalError, 0));
                return (outcome, aborted);
            }
            if control_open && (buffered || ready.get(1).copied().unwrap_or(false)) {
                match self.reader.fill_once() {
                    // Half a TLS record, or a TLS message with no command in it.
                    Err(e) if is_retry(&e) => {}
                    Ok(0) | Err(_) => {
                        control_open = false;
                        self.control_ended(handle);
                    }
                    Ok(_) => {}
                }
            }
        }
    }

    /// `110 MARK yyyy = mmmm` for each restart marker the upload received (RFC 959 §4.2:
    /// "the text is exact"): the client's marker, then ours, the stored offset.
    fn send_marks(&mut self, handle: &TransferHandle) {
        for (theirs, ours) in handle.progress.take_marks() {
            let text = format!("MARK {theirs} = {ours}");
            self.send(&Reply::new(ReplyCode::RestartMarker, text));
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
                self.send(&FtpError::TransferInProgress.to_reply());
                false
            }
        }
    }
}

/// A read that may simply be tried again.
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
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

/// Log a command at debug level with the PASS argument masked.
pub fn log_command(peer: std::net::SocketAddr, line: &[u8]) {
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
}
