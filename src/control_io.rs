//! The control connection's bytes: plaintext on a socket (or inetd's stdin and stdout), or
//! TLS after `AUTH TLS` or on the implicit-TLS port. Replies and commands go through here;
//! Telnet and line framing stay above it (`line_reader`).

use crate::ftps::SessionConfig;
use std::fs::File;
use std::io::{self, Read, Write};
use std::time::Duration;

#[cfg(feature = "tls")]
use crate::tls::stream::{FdPair, TlsStream};

/// How long the close_notify exchange at the end of a TLS session may take.
#[cfg(feature = "tls")]
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A control connection's stream.
pub struct ControlIo {
    inner: Inner,
}

enum Inner {
    Plain {
        input: File,
        output: File,
    },
    #[cfg(feature = "tls")]
    Tls {
        stream: Box<TlsStream<FdPair<File, File>>>,
        /// Its own: its data connections resume this session with it (same cache and key).
        config: SessionConfig,
    },
    /// A failed upgrade left nothing usable: reads end, writes fail.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Closed,
}

/// Why TLS could not start on the control connection (the session ends: RFC 4217 §10.1).
#[derive(Debug)]
pub struct StartTlsError(pub String);

impl ControlIo {
    /// Plaintext: commands read from `input`, replies written to `output` (one socket twice,
    /// or inetd's stdin and stdout).
    pub fn plain(input: File, output: File) -> ControlIo {
        ControlIo {
            inner: Inner::Plain { input, output },
        }
    }

    /// The descriptor commands arrive on (to poll it, and for its socket options).
    pub fn input(&self) -> Option<&File> {
        match &self.inner {
            Inner::Plain { input, .. } => Some(input),
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => Some(&stream.get_ref().input),
            Inner::Closed => None,
        }
    }

    /// Whether the control connection is under TLS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Inner::Tls { .. } = self.inner {
            return true;
        }
        false
    }

    /// Input already received and decrypted, which polling the socket would not show.
    pub fn has_buffered_input(&mut self) -> bool {
        match &mut self.inner {
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => stream.has_buffered_plaintext(),
            _ => false,
        }
    }

    /// The TLS configuration of this session, for its PROT P data connections.
    pub fn session_config(&self) -> Option<&SessionConfig> {
        match &self.inner {
            #[cfg(feature = "tls")]
            Inner::Tls { config, .. } => Some(config),
            _ => None,
        }
    }

    /// Switch to TLS: after `AUTH TLS`'s 234 (with `unread`, the plaintext that arrived behind
    /// the AUTH line, dropped unexecuted: CVE-2011-1575), or at connect on the implicit port.
    /// Returns how many plaintext bytes were dropped. On error the connection is unusable.
    pub fn start_tls(
        &mut self,
        config: SessionConfig,
        unread: Vec<u8>,
        timeout: Duration,
    ) -> Result<usize, StartTlsError> {
        #[cfg(feature = "tls")]
        {
            let Inner::Plain { input, output } = std::mem::replace(&mut self.inner, Inner::Closed)
            else {
                return Err(StartTlsError("TLS is already active".to_string()));
            };
            let io = FdPair { input, output };
            let up = crate::tls::starttls::upgrade(config.clone(), io, unread, timeout)
                .map_err(|e| StartTlsError(e.to_string()))?;
            let mut stream = Box::new(up.stream);
            // Each read does one socket read at most, so the control loop sees its deadlines
            // and the shutdown signal between reads (half a record is WouldBlock).
            stream.set_single_reads(true);
            self.inner = Inner::Tls { stream, config };
            Ok(up.discarded)
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (unread, timeout);
            match config {}
        }
    }

    /// At the end of the session: TLS sends close_notify (and waits a moment for the
    /// client's); plaintext has nothing to do.
    pub fn finish(&mut self) {
        #[cfg(feature = "tls")]
        if let Inner::Tls { stream, .. } = &mut self.inner {
            let _ = stream.close(CLOSE_WAIT);
        }
    }

    /// The negotiated protocol and suite, for the log.
    pub fn describe_tls(&self) -> String {
        match &self.inner {
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => stream.describe(),
            _ => String::new(),
        }
    }
}

impl Read for ControlIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain { input, .. } => input.read(buf),
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => match stream.read(buf) {
                // A control connection closed without close_notify is simply closed: no data
                // can be cut short here (a command without its CRLF never runs).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
            Inner::Closed => Ok(0),
        }
    }
}

impl Write for ControlIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain { output, .. } => output.write(buf),
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => stream.write(buf),
            Inner::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain { output, .. } => output.flush(),
            #[cfg(feature = "tls")]
            Inner::Tls { stream, .. } => stream.flush(),
            Inner::Closed => Ok(()),
        }
    }
}
