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
//! Cipher suites are chosen in the server's order (`suites_in_preference_order`): AES-GCM
//! where the CPU has AES instructions, ChaCha20-Poly1305 first where it does not (most MIPS
//! and 32-bit ARM routers), as Go's crypto/tls and BoringSSL do.
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
            cipher_suites: suites_in_preference_order(has_aes_hardware()),
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

/// ring's suites, fastest first for this CPU. With AES instructions: AES-128-GCM (10 rounds
/// against AES-256's 14, and TLS 1.3's mandatory suite), AES-256-GCM, then ChaCha20-Poly1305.
/// Without them ring's constant-time software AES and GHASH are several times slower than
/// ChaCha20-Poly1305, so that goes first. TLS 1.3 suites before TLS 1.2 ones, as ring lists them.
fn suites_in_preference_order(aes_hardware: bool) -> Vec<rustls::SupportedCipherSuite> {
    use rustls::CipherSuite as S;
    let rank = |suite: S| -> u8 {
        let (aes128, aes256) = match suite {
            S::TLS13_AES_128_GCM_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => (true, false),
            S::TLS13_AES_256_GCM_SHA384
            | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => (false, true),
            _ => (false, false),
        };
        match (aes_hardware, aes128, aes256) {
            (true, true, _) => 0,
            (true, _, true) => 1,
            (true, ..) => 2,
            (false, false, false) => 0,
            (false, true, _) => 1,
            (false, ..) => 2,
        }
    };
    // ring's list itself, not another provider's copy: building a second provider keeps its
    // signature verification code in the binary (16 KB on armv7), which `provider` drops.
    #[allow(deprecated)]
    let all = rustls::crypto::ring::DEFAULT_CIPHER_SUITES;
    // Picked rank by rank rather than sorted: std's stable sort adds 11 KB for nine items.
    // Within a rank ring's order stays (ECDSA before RSA).
    let mut suites = Vec::with_capacity(all.len());
    for tls13 in [true, false] {
        for wanted in 0..3 {
            suites.extend(all.iter().copied().filter(|s| {
                (s.version() == &rustls::version::TLS13) == tls13 && rank(s.suite()) == wanted
            }));
        }
    }
    suites
}

/// Does ring use AES instructions on this CPU (and carry-less multiply for GHASH)?
fn has_aes_hardware() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    {
        false
    }
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
    use super::suites_in_preference_order as order;
    use rustls::CipherSuite as S;

    fn names(aes_hardware: bool) -> Vec<S> {
        order(aes_hardware).iter().map(|s| s.suite()).collect()
    }

    #[test]
    fn aes_first_with_aes_hardware_chacha_first_without() {
        assert_eq!(
            names(true),
            [
                S::TLS13_AES_128_GCM_SHA256,
                S::TLS13_AES_256_GCM_SHA384,
                S::TLS13_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]
        );
        assert_eq!(
            names(false),
            [
                S::TLS13_CHACHA20_POLY1305_SHA256,
                S::TLS13_AES_128_GCM_SHA256,
                S::TLS13_AES_256_GCM_SHA384,
                S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ]
        );
    }

    #[test]
    fn the_provider_offers_every_ring_suite() {
        let mut ours = names(super::has_aes_hardware());
        let mut ring: Vec<S> = super::ring_provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(super::provider().cipher_suites.len(), ring.len());
        ours.sort_by_key(|s| u16::from(*s));
        ring.sort_by_key(|s| u16::from(*s));
        assert_eq!(ours, ring);
    }

    #[test]
    fn init_draws_randomness() {
        super::init().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        super::provider().secure_random.fill(&mut a).unwrap();
        super::provider().secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
