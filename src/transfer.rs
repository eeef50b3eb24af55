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
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

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

fn write_net(stream: &mut DataStream, data: &[u8]) -> Result<(), CopyError> {
    stream.write_all(data).map_err(|_| CopyError::Net)
}

/// Binary download with sendfile(2): no copy through user space (a plain socket only; TLS
/// data is copied through rustls with the worker's buffer).
fn send_binary(
    file: &File,
    offset: u64,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut Vec<u8>,
) -> Result<(), CopyError> {
    use nix::errno::Errno;
    use std::io::Seek;
    let Some(socket) = stream.plain() else {
        let mut f = file.try_clone().map_err(|e| CopyError::Local(e.into()))?;
        f.seek(io::SeekFrom::Start(offset))
            .map_err(|e| CopyError::Local(e.into()))?;
        return send_copy(&mut f, stream, progress, throttle, scratch(buf), false);
    };
    // off64_t: a 64-bit offset even on 32-bit glibc, where off_t would wrap past 2 GiB.
    let mut off: nix::libc::off64_t =
        i64::try_from(offset).map_err(|_| CopyError::Local(FtpError::LocalError))?;
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let chunk = throttle.chunk(SENDFILE_CHUNK);
        match nix::sys::sendfile::sendfile64(socket, file, Some(&mut off), chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                progress.add(n as u64);
                throttle.after(n, progress)?;
            }
            Err(Errno::EINTR) => continue,
            // sendfile unsupported for this file (some FUSE/proc files): copy by hand.
            Err(Errno::EINVAL | Errno::ENOSYS) => {
                let start = u64::try_from(off).unwrap_or(offset);
                let mut f = file.try_clone().map_err(|e| CopyError::Local(e.into()))?;
                f.seek(io::SeekFrom::Start(start))
                    .map_err(|e| CopyError::Local(e.into()))?;
                return send_copy(&mut f, stream, progress, throttle, scratch(buf), false);
            }
            Err(Errno::EIO) => return Err(CopyError::Local(FtpError::LocalError)),
            Err(_) => return Err(CopyError::Net),
        }
    }
}

/// Binary block-mode download: each block's 3-byte header is sent with MSG_MORE, so it leaves
/// in one segment with the `sendfile` of its up to 65535 bytes that follows; restart markers
/// between blocks every `MARKER_EVERY` bytes. Where sendfile does not work for the file, the
/// rest is read and written. The size at open is the plan (the header counts bytes before
/// they are sent): a file that shrinks meanwhile ends the transfer with 451.
fn send_blocks(
    file: &File,
    offset: u64,
    size: u64,
    stream: &TcpStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut Vec<u8>,
) -> Result<(), CopyError> {
    use crate::codec::block;
    use nix::sys::socket::{send, MsgFlags};
    // nix names no MSG_MORE; the kernel has had it since 2.4.4.
    let more = MsgFlags::from_bits_retain(nix::libc::MSG_MORE);
    let send_all = |bytes: &[u8], flags: MsgFlags| -> Result<(), CopyError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match send(stream.as_raw_fd(), rest, flags) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Err(CopyError::Net),
            }
        }
        progress.add(bytes.len() as u64);
        Ok(())
    };
    let (mut pos, mut last_marker) = (offset, offset);
    let mut by_sendfile = true;
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let (count, desc) = representation::binary_block(pos, size);
        let header = block::header(desc, count as u16);
        send_all(&header, more)?;
        let mut left = count;
        while left > 0 {
            if progress.is_aborted() {
                return Err(CopyError::Net);
            }
            let n = if by_sendfile {
                match sendfile_at(stream, file, pos, throttle.chunk(left)) {
                    Ok(n) => n,
                    Err(SendfileError::Unsupported) => {
                        by_sendfile = false;
                        continue;
                    }
                    Err(SendfileError::Copy(e)) => return Err(e),
                }
            } else {
                let chunk = scratch(buf);
                let want = left.min(chunk.len());
                let n = read_at(file, pos, &mut chunk[..want])?;
                if n > 0 {
                    (&*stream)
                        .write_all(&chunk[..n])
                        .map_err(|_| CopyError::Net)?;
                }
                n
            };
            if n == 0 {
                // The file shrank below the count its header announced.
                return Err(CopyError::Local(FtpError::LocalError));
            }
            pos += n as u64;
            left -= n;
            progress.add(n as u64);
            throttle.after(n, progress)?;
        }
        if desc == crate::codec::Descriptor::EOF {
            return Ok(());
        }
        if representation::marker_due(pos, last_marker) {
            let marker = Marker::from_offset(pos);
            let m = marker.as_bytes();
            let mut unit = [0u8; block::HEADER_LEN + crate::codec::MAX_MARKER];
            unit[..block::HEADER_LEN].copy_from_slice(&block::header(
                crate::codec::Descriptor::RESTART,
                m.len() as u16,
            ));
            unit[block::HEADER_LEN..block::HEADER_LEN + m.len()].copy_from_slice(m);
            send_all(&unit[..block::HEADER_LEN + m.len()], more)?;
            last_marker = pos;
        }
    }
}

enum SendfileError {
    /// sendfile does not work for this file: copy by hand.
    Unsupported,
    Copy(CopyError),
}

/// One sendfile call of up to `len` bytes from file offset `pos`.
fn sendfile_at(
    stream: &TcpStream,
    file: &File,
    pos: u64,
    len: usize,
) -> Result<usize, SendfileError> {
    use nix::errno::Errno;
    let mut off: nix::libc::off64_t = i64::try_from(pos)
        .map_err(|_| SendfileError::Copy(CopyError::Local(FtpError::LocalError)))?;
    loop {
        return match nix::sys::sendfile::sendfile64(stream, file, Some(&mut off), len) {
            Ok(n) => Ok(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EINVAL | Errno::ENOSYS) => Err(SendfileError::Unsupported),
            Err(Errno::EIO) => Err(SendfileError::Copy(CopyError::Local(FtpError::LocalError))),
            Err(_) => Err(SendfileError::Copy(CopyError::Net)),
        };
    }
}

/// pread into `buf`: the bytes read (0 at the end of the file).
fn read_at(file: &File, pos: u64, buf: &mut [u8]) -> Result<usize, CopyError> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, pos) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Local(e.into())),
        }
    }
}

/// Download by read and write: ASCII type sends every LF as CRLF (RFC 959 §3.1.1.1); binary
/// type comes here only where sendfile cannot be used.
fn send_copy(
    file: &mut File,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
    ascii: bool,
) -> Result<(), CopyError> {
    // ASCII input takes a third of the buffer so the doubled worst case fits in the rest.
    let split = if ascii { buf.len() / 3 } else { buf.len() };
    let (input, output) = buf.split_at_mut(split);
    let len = throttle.chunk(input.len());
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let n = read_file(file, &mut input[..len])?;
        if n == 0 {
            return Ok(());
        }
        let data: &[u8] = if ascii {
            let m = lf_to_crlf(&input[..n], output);
            &output[..m]
        } else {
            &input[..n]
        };
        write_net(stream, data)?;
        progress.add(data.len() as u64);
        throttle.after(data.len(), progress)?;
    }
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

/// Upload: read the data connection, write the file (CRLF -> LF in ASCII), fsync at the end.
fn receive(
    mut file: File,
    ascii: bool,
    sync: bool,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
) -> Result<(), CopyError> {
    // ASCII needs half the buffer for the converted copy; binary reads into all of it.
    let split = if ascii { buf.len() / 2 } else { buf.len() };
    let (input, output) = buf.split_at_mut(split);
    let len = throttle.chunk(input.len());
    let mut crlf = CrlfToLf::default();
    let mut unflushed = 0usize;
    loop {
        let n = match stream.read(&mut input[..len]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(CopyError::Net),
        };
        progress.add(n as u64);
        let data = if ascii {
            let m = crlf.convert(&input[..n], output);
            &output[..m]
        } else {
            &input[..n]
        };
        file.write_all(data)
            .map_err(|e| CopyError::Local(e.into()))?;
        unflushed += data.len();
        if sync && unflushed >= WRITEBACK_STEP {
            // Overlap the disk with the network; failure only loses the overlap, the final
            // fsync still decides.
            let _ = crate::ffi::start_writeback(&file);
            unflushed = 0;
        }
        throttle.after(n, progress)?;
    }
    file.write_all(crlf.finish())
        .map_err(|e| CopyError::Local(e.into()))?;
    if progress.is_aborted() {
        return Err(CopyError::Net);
    }
    if sync {
        // The 226 promises the bytes are on disk (a router may lose power any time).
        file.sync_data().map_err(|e| CopyError::Local(e.into()))?;
    }
    Ok(())
}

/// The data socket as the pipeline's output: counts progress, paces, stops at ABOR.
struct NetOut<'a> {
    stream: &'a mut DataStream,
    progress: &'a Progress,
    throttle: &'a mut Throttle,
    /// Why the last write failed, for the outcome (the pipeline sees an `io::Error`).
    failure: Option<CopyError>,
}

impl NetOut<'_> {
    fn account(&mut self, written: io::Result<usize>) -> io::Result<usize> {
        let n = written.inspect_err(|_| self.failure = Some(CopyError::Net))?;
        self.progress.add(n as u64);
        if let Err(e) = self.throttle.after(n, self.progress) {
            self.failure = Some(e);
            return Err(io::Error::other("transfer stopped"));
        }
        Ok(n)
    }

    fn check_abort(&mut self) -> io::Result<()> {
        if self.progress.is_aborted() {
            self.failure = Some(CopyError::Net);
            return Err(io::Error::other("aborted"));
        }
        Ok(())
    }
}

impl Write for NetOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_abort()?;
        let len = self.throttle.chunk(buf.len());
        let written = self.stream.write(&buf[..len]);
        self.account(written)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if self.throttle.limiter.is_some() {
            // Paced: one piece at a time, each at most a chunk.
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.write(first);
        }
        self.check_abort()?;
        let written = self.stream.write_vectored(bufs);
        self.account(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The data socket as the pipeline's input: counts progress, paces, stops at ABOR.
struct NetIn<'a> {
    stream: &'a mut DataStream,
    progress: &'a Progress,
    throttle: &'a mut Throttle,
    failure: Option<CopyError>,
}

impl Read for NetIn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.is_aborted() {
            self.failure = Some(CopyError::Net);
            return Err(io::Error::other("aborted"));
        }
        let len = self.throttle.chunk(buf.len());
        let n = self.stream.read(&mut buf[..len]).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failure = Some(CopyError::Net);
            }
        })?;
        self.progress.add(n as u64);
        if let Err(e) = self.throttle.after(n, self.progress) {
            self.failure = Some(e);
            return Err(io::Error::other("transfer stopped"));
        }
        Ok(n)
    }
}

/// The upload's file as the pipeline's output: starts writeback as it goes when the upload
/// will be synced.
struct FileOut<'a> {
    file: &'a File,
    sync: bool,
    unflushed: usize,
}

impl Write for FileOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.file).write(buf)?;
        self.unflushed += n;
        if self.sync && self.unflushed >= WRITEBACK_STEP {
            // As in `receive`: overlap the disk with the network.
            let _ = crate::ffi::start_writeback(self.file);
            self.unflushed = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Upload in any TYPE, STRU and MODE but the plain ones: through the pipeline, restart
/// markers passed to `mark`; fsync at the end as `receive` does.
#[allow(clippy::too_many_arguments)]
fn receive_coded(
    file: File,
    rep: Representation,
    base: u64,
    sync: bool,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
    mark: &mut dyn FnMut(Marker, u64),
) -> Result<(), CopyError> {
    let mut input = NetIn {
        stream,
        progress,
        throttle,
        failure: None,
    };
    let out = FileOut {
        file: &file,
        sync,
        unflushed: 0,
    };
    match representation::receive(rep, &mut input, out, base, buf, mark) {
        Ok(()) => {}
        Err(PipeError::Write(e)) => return Err(CopyError::Local(e.into())),
        Err(PipeError::Read(_)) => return Err(input.failure.take().unwrap_or(CopyError::Net)),
        Err(PipeError::Decode(e)) => {
            log::info!("upload data broke its transfer mode's encoding: {e}");
            return Err(CopyError::Net);
        }
    }
    if progress.is_aborted() {
        return Err(CopyError::Net);
    }
    if sync {
        // The 226 promises the bytes are on disk.
        file.sync_data().map_err(|e| CopyError::Local(e.into()))?;
    }
    Ok(())
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
