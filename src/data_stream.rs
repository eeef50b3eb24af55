//! A data connection as the copy loops see it: a plain socket (where sendfile works), or TLS
//! under PROT P (RFC 4217 §9), where the server is the TLS server for passive and active
//! connections alike and every byte goes through rustls.

use crate::ftps::Protection;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[cfg(feature = "tls")]
use crate::tls::stream::{Closed, TlsStream};
#[cfg(feature = "tls")]
use std::net::Shutdown;

/// How long a finished transfer waits for the client's close_notify after sending its own.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// An open data connection.
pub enum DataStream {
    /// Cleartext (PROT C).
    Plain(TcpStream),
    /// TLS (PROT P), handshake done by [`DataStream::open`].
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why a PROT P data connection was refused after the 150 (522, RFC 4217 §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The handshake failed or timed out.
    Handshake,
    /// It did not resume the control connection's session, and that is required.
    NotResumed,
}

impl DataStream {
    /// Wrap a connected socket: plain, or (with `protection`) TLS after a handshake within
    /// `timeout`. A failed TLS start drops the socket.
    pub fn open(
        socket: TcpStream,
        protection: Option<&Protection>,
        timeout: Duration,
    ) -> Result<DataStream, Refusal> {
        let Some(protection) = protection else {
            return Ok(DataStream::Plain(socket));
        };
        #[cfg(feature = "tls")]
        {
            let peer = socket.peer_addr().ok();
            let mut tls = TlsStream::new(protection.config.clone(), socket)
                .map_err(|_| Refusal::Handshake)?;
            if protection.upload {
                tls.hold_tickets_until_close();
            }
            if let Err(e) = tls.handshake(timeout) {
                log::info!("{peer:?}: data connection: {e}");
                return Err(Refusal::Handshake);
            }
            // SECURITY: resuming the control connection's session (its own cache and ticket
            // key) proves the data connection comes from the same client (RFC 4217 §10).
            if protection.require_resume && !tls.was_resumed() {
                log::info!("{peer:?}: data connection did not resume the TLS session: 522");
                // A clean TLS close with no data, so the client reads the 522 that follows.
                DataStream::Tls(Box::new(tls)).finish();
                return Err(Refusal::NotResumed);
            }
            Ok(DataStream::Tls(Box::new(tls)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (socket, timeout);
            match protection.config {}
        }
    }

    /// The socket (for ABOR's shutdown and its timeouts).
    pub fn socket(&self) -> &TcpStream {
        match self {
            DataStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            DataStream::Tls(t) => t.get_ref(),
        }
    }

    /// The socket when the connection is plain: sendfile may write to it directly.
    pub fn plain(&self) -> Option<&TcpStream> {
        match self {
            DataStream::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            DataStream::Tls(_) => None,
        }
    }

    /// End a transfer that completed: TLS sends close_notify, then the FIN, then waits up to
    /// [`CLOSE_WAIT`] for the client's close_notify or close (RFC 4217 §9: the end of the
    /// data is the TLS close). A plain socket is just closed.
    pub fn finish(self) {
        match self {
            DataStream::Plain(s) => drop(s),
            #[cfg(feature = "tls")]
            DataStream::Tls(mut t) => {
                if t.send_close_notify(CLOSE_WAIT).is_ok() {
                    // Clients that read to the end of the socket rather than to close_notify.
                    let _ = t.get_ref().shutdown(Shutdown::Write);
                    if t.await_close_notify(CLOSE_WAIT) == Closed::Timeout {
                        log::debug!("data connection: no close from the client in time");
                    }
                }
            }
        }
    }
}

impl Read for DataStream {
    /// Under TLS `Ok(0)` means the client's close_notify arrived: the upload is whole. A
    /// close without it is `UnexpectedEof`, a cut-short upload (426).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            DataStream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for DataStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            DataStream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            DataStream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            DataStream::Tls(t) => t.flush(),
        }
    }
}
