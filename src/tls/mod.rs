//! FTPS (RFC 4217) building blocks on rustls with the ring provider (cargo feature `tls`).
//!
//! - [`certificate`]: the chain and key from files (PEM or DER), matched, and the expiry;
//! - [`resolver`]: the current pair, reloadable on SIGHUP, asked by every handshake;
//! - [`session_config`]: the shared configuration and one per control connection (its own
//!   session cache and ticket key, so only its data connections resume its session);
//! - [`stream`]: a blocking TLS stream over a socket or inetd's stdin/stdout;
//! - [`starttls`]: `AUTH TLS` without executing plaintext injected behind it;
//! - `der`: the few bytes of X.509 read without an x509 crate.
//!
//! Call [`init`] at startup, before any chroot.

mod der;

pub mod certificate;
pub mod resolver;
pub mod session_config;
pub mod starttls;
pub mod stream;

#[cfg(test)]
mod handshake_tests;
#[cfg(test)]
mod testpki;

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use std::sync::{Arc, OnceLock};

/// The server's crypto provider: ring's ciphers, key exchanges, signing keys and randomness.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| {
        Arc::new(CryptoProvider {
            // A server that asks for no client certificate verifies no signature: without the
            // verification algorithms their code stays out of the binary (aarch64: -17,472 bytes).
            signature_verification_algorithms: WebPkiSupportedAlgorithms {
                all: &[],
                mapping: &[],
            },
            ..ring_provider()
        })
    }))
}

/// ring's complete provider.
fn ring_provider() -> CryptoProvider {
    // Deprecated in rustls 0.23.48 only because ring has no post-quantum key exchange; rustls
    // 0.24 moves providers into crates of their own. ring is still the smallest provider that
    // builds and runs on all our targets.
    #[allow(deprecated)]
    rustls::crypto::ring::default_provider()
}

/// The provider of the test clients, which do verify the server's certificate.
#[cfg(test)]
fn client_provider() -> Arc<CryptoProvider> {
    Arc::new(ring_provider())
}

/// Draw randomness once, at startup and before any chroot: on kernels older than 3.17 (no
/// getrandom(2)) ring opens `/dev/urandom` on first use and keeps it open, which would fail
/// inside an empty chroot. Also fails early, rather than at the first login, when the system
/// has no randomness to give.
pub fn init() -> Result<(), String> {
    let mut probe = [0u8; 16];
    provider()
        .secure_random
        .fill(&mut probe)
        .map_err(|_| "TLS: no randomness from the system (getrandom or /dev/urandom)".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_draws_randomness() {
        super::init().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        super::provider().secure_random.fill(&mut a).unwrap();
        super::provider().secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
