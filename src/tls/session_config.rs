//! rustls server configurations: one shared base, and one per control connection with its own
//! session cache and ticket key, so its data connections resume its TLS session and no other.
//!
//! Why per connection: a data connection that resumes the control connection's session proves
//! it comes from the same client (RFC 4217 §10 leaves this to the server; vsftpd's
//! `require_ssl_reuse`). With one cache for the whole server, any client could resume any
//! other's session; and with rustls's default stateful TLS 1.3 tickets, each ticket works once,
//! so lftp (which offers the control connection's ticket on every data connection) would fail
//! from its second transfer on. A ticket key per control connection makes tickets stateless and
//! reusable by that connection's data connections only.

use super::resolver::CertStore;
use rustls::server::{ProducesTickets, ServerSessionMemoryCache};
use rustls::version::{TLS12, TLS13};
use rustls::ServerConfig;
use std::sync::Arc;

/// TLS 1.2 sessions remembered per control connection for clients that resume by session ID
/// (no tickets): the control session and a few more; the oldest is dropped first.
pub const SESSION_CACHE: usize = 8;

/// The shared part: protocol versions, cipher suites and the (reloadable) certificate.
#[derive(Debug, Clone)]
pub struct TlsServer {
    base: Arc<ServerConfig>,
    store: Arc<CertStore>,
}

impl TlsServer {
    /// TLS 1.3 and 1.2 with the ring provider's suites, presenting `store`'s certificate.
    pub fn new(store: Arc<CertStore>) -> Result<TlsServer, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(super::provider())
            .with_protocol_versions(&[&TLS13, &TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&store) as Arc<_>);
        // Our order (fastest for this CPU, see tls::provider), not the client's: clients list
        // AES-256 or ChaCha20 first whatever the server's CPU is good at.
        config.ignore_client_order = true;
        Ok(TlsServer {
            base: Arc::new(config),
            store,
        })
    }

    /// The certificate store (to reload it).
    pub fn store(&self) -> &Arc<CertStore> {
        &self.store
    }

    /// The configuration of one control connection and its data connections: the base with a
    /// session cache and a ticket key of its own. Fails only if no randomness is available.
    pub fn for_session(&self) -> Result<Arc<ServerConfig>, rustls::Error> {
        let mut config = (*self.base).clone();
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        config.ticketer = ticketer()?;
        Ok(Arc::new(config))
    }
}

/// A fresh ticket key (ring's ChaCha20-Poly1305 ticketer; 48 random bytes).
fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::ring::Ticketer::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use crate::tls::testpki::Pki;
    use std::time::Instant;

    /// A TlsServer for the shared P-256 leaf.
    pub(crate) fn server(pki: &Pki) -> (TlsServer, TempDir) {
        let dir = TempDir::new("tls-server");
        let cert = dir.0.join("cert.pem");
        let key = dir.0.join("key.pem");
        std::fs::write(&cert, &pki.ec.cert_pem).unwrap();
        std::fs::write(&key, &pki.ec.key_pkcs8_pem).unwrap();
        let store = Arc::new(CertStore::open(&cert, &key).unwrap());
        (TlsServer::new(store).unwrap(), dir)
    }

    #[test]
    fn each_session_gets_its_own_cache_and_ticket_key() {
        let Some(pki) = Pki::shared() else { return };
        let (server, _dir) = server(pki);
        let a = server.for_session().unwrap();
        let b = server.for_session().unwrap();
        assert!(!Arc::ptr_eq(&a.session_storage, &b.session_storage));
        assert!(a.ticketer.enabled() && b.ticketer.enabled());
        // A ticket of one session's key is opaque to the other's.
        let ticket = a.ticketer.encrypt(b"session state").unwrap();
        assert_eq!(
            a.ticketer.decrypt(&ticket).as_deref(),
            Some(&b"session state"[..])
        );
        assert_eq!(b.ticketer.decrypt(&ticket), None);
        // Certificates come from the shared store.
        assert!(Arc::ptr_eq(&a.cert_resolver, &b.cert_resolver));
    }

    /// What a per-login configuration costs (printed; `cargo test -- --nocapture` shows it).
    /// The bound is loose: it catches a change that makes it expensive, not a slow machine.
    #[test]
    fn building_a_session_config_is_cheap() {
        let Some(pki) = Pki::shared() else { return };
        let (server, _dir) = server(pki);
        let n = 2000u32;
        let rss_before = rss();
        let start = Instant::now();
        let configs: Vec<_> = (0..n).map(|_| server.for_session().unwrap()).collect();
        let each = start.elapsed() / n;
        let bytes = (rss() - rss_before) / i64::from(n);
        eprintln!(
            "for_session: {each:?} and about {bytes} bytes RSS each ({} configs)",
            configs.len()
        );
        assert!(each.as_millis() < 50, "{each:?}");
    }

    /// Resident memory of this process, bytes.
    fn rss() -> i64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap();
        kib.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<i64>()
            .unwrap()
            * 1024
    }
}
