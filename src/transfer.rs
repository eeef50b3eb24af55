//! One data transfer: the job a pool worker runs, its shared progress, and the copy loops.
//!
//! TYPE A's LF <-> CRLF conversion they apply lives with the other RFC 959 codecs in
//! [`crate::codec::ascii`]. Plain binary (sendfile) and plain ASCII stream transfers run the
//! loops here; every other TYPE, STRU and MODE goes through [`crate::representation`].

use crate::codec::ascii::{lf_to_crlf, CrlfToLf};
use crate::codec::Marker;
use crate::data_channel::{DataPolicy, DataSetup, OpenFailure, StallRule};
use crate::data_stream::{DataStream, Refusal};
use crate::error::{FtpError, TransferOutcome};
use crate::ftps::Protection;
use crate::ratelimit::RateLimiter;
use crate::representation::{self, PipeError, Representation};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

mod downloads;
mod uploads;

use downloads::{send_binary, send_blocks, send_copy, write_net, NetOut};
use uploads::{receive, receive_coded};

/// Uploads start writeback every this many bytes when they will fsync at the end.
const WRITEBACK_STEP: usize = 8 * 1024 * 1024;
/// Size of each worker's buffer, allocated once per worker (on its first copying transfer:
/// sendfile downloads never need it), never per transfer.
pub const BUFFER_SIZE: usize = crate::representation::SCRATCH;
/// Largest sendfile call: small enough that ABOR and STAT progress are seen promptly, large
/// enough that the syscall count is negligible (4096 calls per GiB).
const SENDFILE_CHUNK: usize = 256 * 1024;

/// What the data connection carries.
#[derive(Debug)]
pub enum Payload {
    /// RETR: a file from `offset`, in the session's TYPE, STRU and MODE.
    SendFile {
        /// The opened file (already checked to be regular).
        file: File,
        /// Start offset (REST).
        offset: u64,
        /// TYPE, STRU, MODE: only plain binary stream goes by sendfile (or inline).
        rep: Representation,
        /// The file's size when it was opened (decides whether to try `inline_send`).
        size: u64,
    },
    /// LIST/NLST/MLSD: bytes already formatted.
    SendBytes(Vec<u8>),
    /// HASH/XCRC: CRC32 of `len` bytes from `start` (to EOF when `None`); no data connection.
    Checksum {
        /// The opened file.
        file: File,
        /// First byte.
        start: u64,
        /// Bytes to hash; `None` = to the end of the file.
        len: Option<u64>,
    },
    /// STOR/APPE/STOU: into a file positioned where writing starts.
    Receive {
        /// The opened target file.
        file: File,
        /// TYPE, STRU, MODE of the data.
        rep: Representation,
        /// Stored bytes before the first one this upload writes (REST offset, or the length
        /// APPE appends to): the base of the restart markers answered with 110.
        base: u64,
        /// fsync before reporting success (the 226 promise).
        sync: bool,
    },
}

/// Shared between the control thread and the worker: abort flag, bytes moved, the socket.
#[derive(Debug, Default)]
pub struct Progress {
    aborted: AtomicBool,
    // A Mutex, not AtomicU64: 32-bit MIPS and ARMv5 have no 64-bit atomics.
    bytes: Mutex<u64>,
    // The data socket's fd while a worker uses it; `Attached` clears it before the socket can
    // close, so ABOR never shuts down a reused fd number. No dup: two syscalls per transfer.
    socket: Mutex<Option<RawFd>>,
    // Restart markers received (block/compressed uploads) that the control thread has yet to
    // answer with 110: the sender's marker and ours (the stored offset).
    marks: Mutex<VecDeque<(Marker, u64)>>,
}

/// Restart markers waiting for their 110 at most; past it the oldest waiting one is dropped
/// (RFC 959 3.5 conveys "the last known" markers), so a client flooding markers without
/// reading replies cannot grow the queue.
const MAX_PENDING_MARKS: usize = 64;

impl Progress {
    /// Bytes moved over the data connection so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.lock().map(|b| *b).unwrap_or(0)
    }

    /// Ask the transfer to stop: set the flag and shut the data socket so blocked I/O returns.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        if let Ok(guard) = self.socket.lock() {
            if let Some(fd) = *guard {
                let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
            }
        }
    }

    /// Whether ABOR (or the control connection's loss) asked for a stop.
    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// Count `n` more bytes moved.
    pub(crate) fn add(&self, n: u64) {
        if let Ok(mut b) = self.bytes.lock() {
            *b = b.saturating_add(n);
        }
    }

    /// Queue a restart marker's 110 for the control thread.
    fn push_mark(&self, theirs: Marker, ours: u64) {
        if let Ok(mut marks) = self.marks.lock() {
            if marks.len() >= MAX_PENDING_MARKS {
                marks.pop_front();
            }
            marks.push_back((theirs, ours));
        }
    }

    /// The restart markers received since the last call, oldest first.
    pub fn take_marks(&self) -> Vec<(Marker, u64)> {
        match self.marks.lock() {
            Ok(mut marks) => marks.drain(..).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Let `abort` reach `stream` until the returned guard drops; declare the guard after
    /// the stream so it drops first, on every path including unwinding.
    #[must_use = "abort reaches the socket only while the guard lives"]
    fn attach<'a>(&'a self, stream: &TcpStream) -> Attached<'a> {
        if let Ok(mut guard) = self.socket.lock() {
            *guard = Some(stream.as_raw_fd());
        }
        // An ABOR that raced the attach must still reach the socket.
        if self.is_aborted() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Attached(self)
    }
}

/// The data socket is reachable by `Progress::abort` while this lives.
struct Attached<'a>(&'a Progress);

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.0.socket.lock() {
            *guard = None;
        }
    }
}

/// A transfer handed to the data pool.
#[derive(Debug)]
pub struct TransferJob {
    payload: Payload,
    setup: Option<DataSetup>,
    policy: DataPolicy,
    /// PROT P: the data connection is TLS, handshake on the worker.
    protection: Option<Protection>,
    progress: Arc<Progress>,
    outcome: mpsc::Sender<TransferOutcome>,
    // Closed when the job is dropped (done, or its worker panicked): wakes the control thread.
    _done: OwnedFd,
}

/// The control thread's side of a submitted job.
#[derive(Debug)]
pub struct TransferHandle {
    /// Shared progress (STAT, ABOR).
    pub progress: Arc<Progress>,
    /// Receives the outcome once.
    pub outcome: mpsc::Receiver<TransferOutcome>,
    /// Becomes readable when the job has restart markers to answer (a byte to read; see
    /// [`Progress::take_marks`]) and at its end (EOF: the job dropped its end).
    pub done: OwnedFd,
}

impl TransferJob {
    /// Make a job and the handle the control thread waits on (`setup` is `None` for
    /// checksums, which need no data connection).
    pub fn new(
        payload: Payload,
        setup: Option<DataSetup>,
        policy: DataPolicy,
    ) -> io::Result<(TransferJob, TransferHandle)> {
        // Non-blocking: a worker's wake-up never waits on a full pipe (one pending byte is
        // enough), and the control thread never waits on an empty one.
        let (read_end, write_end) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
        let (tx, rx) = mpsc::channel();
        let progress = Arc::new(Progress::default());
        let job = TransferJob {
            payload,
            setup,
            policy,
            protection: None,
            progress: Arc::clone(&progress),
            outcome: tx,
            _done: write_end,
        };
        let handle = TransferHandle {
            progress,
            outcome: rx,
            done: read_end,
        };
        Ok((job, handle))
    }

    /// The same job over a TLS data connection (PROT P) when `protection` is given.
    pub fn protect(mut self, protection: Option<Protection>) -> TransferJob {
        self.protection = protection;
        self
    }

    /// Run the transfer to its end on the calling (worker) thread, using `buf` as scratch
    /// (grown to [`BUFFER_SIZE`] by the first transfer that copies through user space).
    pub fn run(self, buf: &mut Vec<u8>) {
        let progress = Arc::clone(&self.progress);
        let Some(setup) = self.setup else {
            let outcome = match self.payload {
                Payload::Checksum { file, start, len } => {
                    checksum(file, start, len, &progress, scratch(buf))
                }
                _ => TransferOutcome::CantOpen,
            };
            let _ = self.outcome.send(outcome);
            return;
        };
        let outcome = match setup.connect(self.policy, &progress.aborted) {
            Err(OpenFailure::Aborted) => TransferOutcome::Aborted(0),
            Err(OpenFailure::Failed) => TransferOutcome::CantOpen,
            Ok(socket) => {
                // Attached before the handshake, so ABOR also ends a stuck one.
                let attached = progress.attach(&socket);
                let opened =
                    DataStream::open(socket, self.protection.as_ref(), self.policy.timeout);
                let outcome = match opened {
                    Err(_) if progress.is_aborted() => TransferOutcome::Aborted(0),
                    Err(Refusal::Handshake) => TransferOutcome::DataTlsFailed,
                    Err(Refusal::NotResumed) => TransferOutcome::DataTlsNotResumed,
                    Ok(mut stream) => {
                        let mut throttle = Throttle::new(self.policy.rate, self.policy.stall);
                        let wake = &self._done;
                        let mut mark = |theirs: Marker, ours: u64| {
                            progress.push_mark(theirs, ours);
                            // A full pipe already holds a wake-up.
                            let _ = nix::unistd::write(wake, &[1]);
                        };
                        let result = copy(
                            self.payload,
                            &mut stream,
                            &progress,
                            &mut throttle,
                            buf,
                            &mut mark,
                        );
                        if result.is_ok() && !progress.is_aborted() {
                            // TLS: close_notify both ways. Plain: closing sends the FIN
                            // after the queued data; no shutdown call needed.
                            stream.finish();
                        } else {
                            drop(stream);
                        }
                        let moved = progress.bytes();
                        match result {
                            _ if progress.is_aborted() => TransferOutcome::Aborted(moved),
                            Ok(()) => TransferOutcome::Complete(moved),
                            Err(CopyError::Stalled) => TransferOutcome::Stalled(moved),
                            // A socket timeout (io_timeout) after a window of too little data
                            // is the stall rule too, not a lost connection.
                            Err(CopyError::Net) if throttle.stall.stalled(moved) => {
                                TransferOutcome::Stalled(moved)
                            }
                            Err(CopyError::Net) => TransferOutcome::ConnectionLost(moved),
                            Err(CopyError::Local(e)) => TransferOutcome::LocalError(e, moved),
                        }
                    }
                };
                drop(attached);
                outcome
            }
        };
        // The receiver may be gone if the control thread died; nothing left to tell then.
        let _ = self.outcome.send(outcome);
    }
}

enum CopyError {
    /// The data connection failed (reset, timeout, client gone).
    Net,
    /// Less data than the stall rule asks moved in a window.
    Stalled,
    /// The local file failed.
    Local(FtpError),
}

/// Pacing between the steps of a copy loop: the per-session bandwidth cap (sizes the chunks
/// and sleeps between them, in short slices so ABOR is still noticed) and the stall rule.
struct Throttle {
    limiter: Option<RateLimiter>,
    stall: StallWatch,
}

/// Applies a [`StallRule`] over consecutive windows: when one has passed with fewer bytes than
/// the rule asks, the transfer ends. Checked after each step, and each step is bounded by the
/// socket's `io_timeout` (at most half a window): a transfer that stalls is ended within two
/// and a half windows (the window it stalled in may have moved enough before).
#[derive(Debug)]
struct StallWatch {
    rule: Option<StallRule>,
    /// Start of the current window.
    since: Instant,
    /// Bytes moved when it started.
    base: u64,
}

impl StallWatch {
    fn new(rule: Option<StallRule>) -> StallWatch {
        StallWatch {
            rule,
            since: Instant::now(),
            base: 0,
        }
    }

    /// Whether, with `moved` bytes in all, a whole window passed with too little; a window
    /// that moved enough starts the next one.
    fn stalled_at(&mut self, moved: u64, now: Instant) -> bool {
        let Some(rule) = self.rule else {
            return false;
        };
        if now.saturating_duration_since(self.since) < rule.window {
            return false;
        }
        if moved.saturating_sub(self.base) < rule.bytes {
            return true;
        }
        self.since = now;
        self.base = moved;
        false
    }

    fn stalled(&mut self, moved: u64) -> bool {
        self.stalled_at(moved, Instant::now())
    }
}

impl Throttle {
    fn new(rate: u64, stall: Option<StallRule>) -> Throttle {
        Throttle {
            limiter: (rate > 0).then(|| RateLimiter::new(rate)),
            stall: StallWatch::new(stall),
        }
    }

    /// Largest chunk to move next: about a tenth of a second's worth when limited.
    fn chunk(&self, max: usize) -> usize {
        match &self.limiter {
            Some(l) => usize::try_from(l.rate() / 10)
                .unwrap_or(max)
                .clamp(1024.min(max), max),
            None => max,
        }
    }

    /// Account for `n` bytes moved; sleep as the rate requires; stop early on ABOR, or when
    /// the stall rule is broken.
    fn after(&mut self, n: usize, progress: &Progress) -> Result<(), CopyError> {
        if self.stall.stalled(progress.bytes()) {
            return Err(CopyError::Stalled);
        }
        let Some(l) = self.limiter.as_mut() else {
            return Ok(());
        };
        let mut pause = l.reserve(n as u64);
        while !pause.is_zero() {
            if progress.is_aborted() {
                return Err(CopyError::Net);
            }
            let step = pause.min(Duration::from_millis(100));
            std::thread::sleep(step);
            pause -= step;
        }
        Ok(())
    }
}

fn copy(
    payload: Payload,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut Vec<u8>,
    mark: &mut dyn FnMut(Marker, u64),
) -> Result<(), CopyError> {
    match payload {
        Payload::SendFile {
            file, offset, rep, ..
        } if rep.is_plain_binary() => send_binary(&file, offset, stream, progress, throttle, buf),
        Payload::SendFile {
            mut file,
            offset,
            rep,
            size,
        } => {
            use std::io::Seek;
            // Binary block mode by sendfile on a plain socket; under TLS the pipeline below
            // frames it through rustls.
            if rep.is_binary_blocks() {
                if let Some(socket) = stream.plain() {
                    return send_blocks(&file, offset, size, socket, progress, throttle, buf);
                }
            }
            file.seek(io::SeekFrom::Start(offset))
                .map_err(|e| CopyError::Local(e.into()))?;
            if rep.is_plain_ascii() {
                return send_copy(&mut file, stream, progress, throttle, scratch(buf), true);
            }
            let mut out = NetOut {
                stream,
                progress,
                throttle,
                failure: None,
            };
            let sent = representation::send(
                rep,
                &mut file,
                offset,
                &mut out,
                scratch(buf),
                representation::MARKER_EVERY,
            );
            match sent {
                Ok(()) => Ok(()),
                Err(PipeError::Read(e)) => Err(CopyError::Local(e.into())),
                Err(PipeError::Write(_) | PipeError::Decode(_)) => {
                    Err(out.failure.take().unwrap_or(CopyError::Net))
                }
            }
        }
        Payload::SendBytes(bytes) => {
            for chunk in bytes.chunks(throttle.chunk(64 * 1024)) {
                if progress.is_aborted() {
                    return Err(CopyError::Net);
                }
                write_net(stream, chunk)?;
                progress.add(chunk.len() as u64);
                throttle.after(chunk.len(), progress)?;
            }
            Ok(())
        }
        Payload::Receive {
            file, rep, sync, ..
        } if rep.is_plain_binary() || rep.is_plain_ascii() => {
            let ascii = rep.ty.is_text();
            receive(file, ascii, sync, stream, progress, throttle, scratch(buf))
        }
        Payload::Receive {
            file,
            rep,
            base,
            sync,
        } => receive_coded(
            file,
            rep,
            base,
            sync,
            stream,
            progress,
            throttle,
            scratch(buf),
            mark,
        ),
        // Checksums never reach a data connection (no setup); refuse rather than send.
        Payload::Checksum { .. } => Err(CopyError::Local(FtpError::LocalError)),
    }
}

/// CRC32 of a byte range, reading with the worker's buffer; honours ABOR between reads.
fn checksum(
    mut file: File,
    start: u64,
    len: Option<u64>,
    progress: &Progress,
    buf: &mut [u8],
) -> TransferOutcome {
    use std::io::Seek;
    if let Err(e) = file.seek(io::SeekFrom::Start(start)) {
        return TransferOutcome::LocalError(e.into(), 0);
    }
    let mut hasher = crc32fast::Hasher::new();
    let mut left = len.unwrap_or(u64::MAX);
    while left > 0 {
        if progress.is_aborted() {
            return TransferOutcome::Aborted(progress.bytes());
        }
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        let n = match read_file(&mut file, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(CopyError::Local(e)) => return TransferOutcome::LocalError(e, progress.bytes()),
            Err(CopyError::Net | CopyError::Stalled) => {
                return TransferOutcome::LocalError(FtpError::LocalError, 0)
            }
        };
        hasher.update(&buf[..n]);
        progress.add(n as u64);
        left -= n as u64;
    }
    TransferOutcome::Hashed(hasher.finalize(), progress.bytes())
}

/// The worker's scratch buffer, allocated on first use: only copying transfers need it, and
/// musl's calloc touches (and so makes resident) every page it hands out.
fn scratch(buf: &mut Vec<u8>) -> &mut [u8] {
    if buf.len() < BUFFER_SIZE {
        buf.resize(BUFFER_SIZE, 0);
    }
    &mut buf[..]
}

fn read_file(file: &mut File, buf: &mut [u8]) -> Result<usize, CopyError> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Local(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_watch_ends_a_window_with_too_little() {
        let rule = StallRule {
            bytes: 1000,
            window: Duration::from_secs(10),
        };
        let mut w = StallWatch::new(Some(rule));
        let t0 = w.since;
        let s = Duration::from_secs;
        // Within the first window nothing is judged, however little moved.
        assert!(!w.stalled_at(0, t0 + s(9)));
        // A window that moved enough starts the next one from there.
        assert!(!w.stalled_at(5000, t0 + s(10)));
        assert!(!w.stalled_at(5500, t0 + s(19)));
        // The second window moved 999 bytes: a stall.
        assert!(w.stalled_at(5999, t0 + s(20)));
        // Exactly the minimum is enough.
        assert!(!w.stalled_at(6000, t0 + s(20)));
        // No rule: never a stall.
        let mut off = StallWatch::new(None);
        assert!(!off.stalled_at(0, off.since + s(1_000_000)));
    }

    #[test]
    fn progress_abort_shuts_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let p = Progress::default();
        let attached = p.attach(&c);
        p.abort();
        assert!(p.is_aborted());
        let mut b = [0u8; 1];
        // Shutdown of the client side makes the server see EOF.
        assert_eq!(s.read(&mut b).unwrap(), 0);
        drop(attached);
    }

    #[test]
    fn abort_after_detach_leaves_the_fd_alone() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let p = Progress::default();
        drop(p.attach(&c));
        // The fd number may belong to another connection by now: abort must not touch it.
        p.abort();
        let mut b = [0u8; 1];
        let err = s.read(&mut b).unwrap_err();
        assert!(matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        drop(c);
    }
}
