//! A blocking TLS server stream over a socket or a pair of file descriptors (inetd's stdin and
//! stdout): handshake with a deadline, reads and writes, and a bounded close_notify exchange.
//!
//! Memory stays small: rustls buffers at most [`BUFFER_LIMIT`] of outgoing data (the stream
//! writes it out before accepting more), holds at most 16 KiB of decrypted input, and shrinks
//! its record buffer to 4 KiB while idle.

use rustls::{HandshakeKind, ServerConfig, ServerConnection};
use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most outgoing bytes rustls keeps buffered (plaintext before the handshake, records after).
pub const BUFFER_LIMIT: usize = 32 * 1024;

/// Where TLS records travel: readable and writable, with descriptors to wait on.
pub trait Transport: Read + Write {
    /// The descriptor that becomes readable when input arrives.
    fn read_fd(&self) -> BorrowedFd<'_>;
    /// The descriptor that becomes writable when output fits.
    fn write_fd(&self) -> BorrowedFd<'_>;
}

impl Transport for TcpStream {
    fn read_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn write_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

impl Transport for UnixStream {
    fn read_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn write_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
}

/// Separate input and output (inetd mode: stdin and stdout; a control connection's two
/// `File` handles of one socket).
#[derive(Debug)]
pub struct FdPair<R, W> {
    /// Where records are read.
    pub input: R,
    /// Where records are written.
    pub output: W,
}

impl<R: Read, W> Read for FdPair<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl<R, W: Write> Write for FdPair<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

impl<R: Read + AsFd, W: Write + AsFd> Transport for FdPair<R, W> {
    fn read_fd(&self) -> BorrowedFd<'_> {
        self.input.as_fd()
    }
    fn write_fd(&self) -> BorrowedFd<'_> {
        self.output.as_fd()
    }
}

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed.
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The transport failed.
    Io(io::Error),
    /// A TLS protocol error: the peer's alert, a malformed message, no common parameters...
    /// (our alert has been sent if the transport took it).
    Tls(rustls::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Timeout => write!(f, "TLS handshake timed out"),
            HandshakeError::Closed => write!(f, "connection closed during the TLS handshake"),
            HandshakeError::Io(e) => write!(f, "TLS handshake: {e}"),
            HandshakeError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// How the close_notify exchange ended (ours is always sent first, if the transport takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The peer's close_notify arrived: every byte it sent was received.
    Clean,
    /// The peer closed the connection without close_notify (data may be cut short).
    NoCloseNotify,
    /// The peer's close_notify did not arrive before the deadline.
    Timeout,
}

/// A server-side TLS connection over a [`Transport`].
pub struct TlsStream<T> {
    conn: ServerConnection,
    io: T,
    /// Reads do at most one transport read (see [`TlsStream::set_single_reads`]).
    single_reads: bool,
    /// TLS 1.3 messages after the handshake wait for the close (see
    /// [`TlsStream::hold_tickets_until_close`]).
    hold: bool,
}

impl<T: Transport> TlsStream<T> {
    /// A connection that has not shaken hands yet; call [`TlsStream::handshake`] next.
    pub fn new(config: Arc<ServerConfig>, io: T) -> Result<TlsStream<T>, rustls::Error> {
        let mut conn = ServerConnection::new(config)?;
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(TlsStream {
            conn,
            io,
            single_reads: false,
            hold: false,
        })
    }

    /// Complete the handshake within `timeout`. On a protocol error our alert is sent (within
    /// the same time); the stream is then unusable.
    pub fn handshake(&mut self, timeout: Duration) -> Result<(), HandshakeError> {
        let deadline = Instant::now() + timeout;
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                self.write_tls_until(deadline).map_err(io_to_handshake)?;
                continue;
            }
            wait(self.io.read_fd(), Ready::Read, deadline).map_err(io_to_handshake)?;
            match self.conn.read_tls(&mut self.io) {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(_) => {}
                Err(e) if is_retry(&e) => continue,
                Err(e) => return Err(HandshakeError::Io(e)),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // The alert rustls queued tells the client why; best effort.
                let _ = self.write_tls_until(deadline);
                return Err(HandshakeError::Tls(e));
            }
        }
        // What is left is TLS 1.3's session tickets (or TLS 1.2's last flight, which the
        // client waits for). They go out now, unless held for the close. The handshake is
        // complete even if they cannot: a client may already have sent a small upload and
        // closed, and that data is still there to read. Anything really broken shows in the
        // next read or write.
        if self.hold && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
            return Ok(());
        }
        self.hold = false;
        let _ = self.write_tls_until(deadline);
        Ok(())
    }

    /// For a connection the client only writes to (an upload): keep TLS 1.3 session tickets
    /// until [`TlsStream::send_close_notify`] or [`TlsStream::close`], so they go out after
    /// the client's close_notify, with ours. Sent at the handshake, the client never reads
    /// them, and closing a socket with unread input sends a reset that drops what the client
    /// had not sent yet: the end of the upload (seen with curl and lftp). Never sent, a client
    /// that uses each ticket once (PHP's ftp_ssl_connect, rustls) runs out, and its next data
    /// connection cannot resume (522). Call before [`TlsStream::handshake`].
    pub fn hold_tickets_until_close(&mut self) {
        self.hold = true;
    }

    /// Did this handshake resume an earlier session (the control connection's, for a data
    /// connection)? TLS 1.2 and 1.3 alike.
    pub fn was_resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// Decrypted input waiting to be read: the control loop looks here before it waits on
    /// the socket (a command may already be inside rustls, and poll would not see it).
    pub fn has_buffered_plaintext(&mut self) -> bool {
        matches!(self.conn.reader().fill_buf(), Ok(b) if !b.is_empty())
    }

    /// Make each read do at most one read of the transport, and return `WouldBlock` if that
    /// brought no plaintext (half a record, or only a TLS control message). For the control
    /// loop, which checks its deadlines and shutdown between reads. Off by default: a read then
    /// waits until plaintext, end of stream, or a transport error (such as its timeout).
    pub fn set_single_reads(&mut self, on: bool) {
        self.single_reads = on;
    }

    /// Send close_notify, then wait until `timeout` for the peer's, discarding any data still
    /// arriving. An error means ours could not be sent.
    pub fn close(&mut self, timeout: Duration) -> io::Result<Closed> {
        let deadline = Instant::now() + timeout;
        self.conn.send_close_notify();
        self.write_tls_until(deadline)?;
        Ok(self.await_close_notify(deadline.saturating_duration_since(Instant::now())))
    }

    /// Send close_notify within `timeout` (then, for example, shut the socket for writing
    /// before [`TlsStream::await_close_notify`]).
    pub fn send_close_notify(&mut self, timeout: Duration) -> io::Result<()> {
        self.conn.send_close_notify();
        self.write_tls_until(Instant::now() + timeout)
    }

    /// Wait until `timeout` for the peer's close_notify, discarding any data still arriving.
    pub fn await_close_notify(&mut self, timeout: Duration) -> Closed {
        let deadline = Instant::now() + timeout;
        let mut scratch = [0u8; 512];
        loop {
            match self.conn.reader().read(&mut scratch) {
                Ok(0) => return Closed::Clean,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Closed::NoCloseNotify,
            }
            match wait(self.io.read_fd(), Ready::Read, deadline) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Closed::Timeout,
                Err(_) => return Closed::NoCloseNotify,
            }
            match self.conn.read_tls(&mut self.io) {
                Ok(_) => {}
                Err(e) if is_retry(&e) => continue,
                Err(_) => return Closed::NoCloseNotify,
            }
            if self.conn.process_new_packets().is_err() {
                return Closed::NoCloseNotify;
            }
        }
    }

    /// The negotiated protocol and cipher suite, for the log (`TLSv1_3/TLS13_AES_256_GCM_SHA384`).
    pub fn describe(&self) -> String {
        let version = self.conn.protocol_version().map(|v| format!("{v:?}"));
        let suite = self
            .conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        format!(
            "{}/{}",
            version.unwrap_or_default(),
            suite.unwrap_or_default()
        )
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport, mutably (timeouts; never read or write it directly).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// The rustls connection (its state, for logs and tests).
    pub fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// Write out every pending record, waiting for the transport at most until `deadline`.
    fn write_tls_until(&mut self, deadline: Instant) -> io::Result<()> {
        while self.conn.wants_write() {
            wait(self.io.write_fd(), Ready::Write, deadline)?;
            match self.conn.write_tls(&mut self.io) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.io.flush()
    }

    /// Write out every pending record with plain blocking writes (the transport's own send
    /// timeout bounds them).
    fn write_tls_all(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.io) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<T: Transport> Read for TlsStream<T> {
    /// Plaintext; `Ok(0)` only after the peer's close_notify. The peer closing without one is
    /// `UnexpectedEof` (a truncated upload); a protocol error is `InvalidData`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // What rustls owes the peer (tickets, a KeyUpdate answer) goes out before we wait,
            // unless held for the close; a peer that no longer reads must not stop us reading
            // what it sent.
            if self.conn.wants_write() && !self.hold {
                let _ = self.write_tls_all();
            }
            let n = self.conn.read_tls(&mut self.io)?;
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.write_tls_all();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if n > 0 && self.single_reads && !self.has_buffered_plaintext() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }
}

impl<T: Transport> Write for TlsStream<T> {
    /// Encrypt up to [`BUFFER_LIMIT`] bytes of `buf` and send the records (blocking; the
    /// transport's send timeout bounds it).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.write_tls_all()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_tls_all()?;
        self.io.flush()
    }
}

/// What to wait for.
#[derive(Clone, Copy)]
enum Ready {
    Read,
    Write,
}

/// Wait until `fd` is ready or `deadline` passes (`TimedOut`). Hang-up and errors count as
/// ready: the following read or write reports them.
fn wait(fd: BorrowedFd<'_>, what: Ready, deadline: Instant) -> io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags};
    let events = match what {
        Ready::Read => PollFlags::POLLIN,
        Ready::Write => PollFlags::POLLOUT,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        // Rounded up, so a wait never ends just before the deadline and spins.
        let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => return Err(io::Error::from(e)),
        }
    }
}

fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn io_to_handshake(e: io::Error) -> HandshakeError {
    if e.kind() == io::ErrorKind::TimedOut {
        HandshakeError::Timeout
    } else {
        HandshakeError::Io(e)
    }
}
