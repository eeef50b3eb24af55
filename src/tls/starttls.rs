//! `AUTH TLS` on a running control connection: drop the plaintext behind the AUTH line, then
//! shake hands (RFC 4217 §4). Also the implicit-TLS start, which has nothing to drop.
//!
//! SECURITY (CVE-2011-1575, the STARTTLS command injection): a man in the middle can append
//! commands to the client's `AUTH TLS` line in the same packet. Whatever the server read past
//! that line was never protected, so it is thrown away and never executed; only commands that
//! arrive inside TLS count. The control loop hands over its line reader's unread bytes.

use super::stream::{HandshakeError, TlsStream, Transport};
use rustls::ServerConfig;
use std::sync::Arc;
use std::time::Duration;

/// A control connection now under TLS.
pub struct Upgraded<T> {
    /// The stream, handshake done.
    pub stream: TlsStream<T>,
    /// Plaintext bytes received after the AUTH line and dropped (worth a log line when not 0).
    pub discarded: usize,
}

/// After `234` was sent: drop `unread` (the line reader's bytes past the AUTH line), then the
/// handshake within `timeout`. Any bytes that were still in the socket are read by rustls as
/// the start of the ClientHello: injected text there fails the handshake, and the session ends.
pub fn upgrade<T: Transport>(
    config: Arc<ServerConfig>,
    io: T,
    unread: Vec<u8>,
    timeout: Duration,
) -> Result<Upgraded<T>, HandshakeError> {
    let discarded = unread.len();
    drop(unread);
    let mut stream = TlsStream::new(config, io).map_err(HandshakeError::Tls)?;
    stream.handshake(timeout)?;
    Ok(Upgraded { stream, discarded })
}
