//! The server's current certificate, reloadable (SIGHUP) while sessions run: every handshake
//! asks it which certificate to present.
//!
//! A reload reads both files again; a pair that does not load or does not match is reported
//! and the running one kept, so a half-copied renewal never takes FTPS down.

use super::certificate::{self, Identity, LoadError};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// The certificate/key files and the pair last loaded from them.
#[derive(Debug)]
pub struct CertStore {
    /// Where a reload reads the certificate and key: after a chroot, as seen from inside.
    paths: RwLock<(PathBuf, PathBuf)>,
    current: RwLock<Arc<Identity>>,
}

impl CertStore {
    /// Load the pair once; an error here means FTPS cannot be offered.
    pub fn open(cert_path: &Path, key_path: &Path) -> Result<CertStore, LoadError> {
        let identity = certificate::load(cert_path, key_path)?;
        Ok(CertStore {
            paths: RwLock::new((cert_path.to_path_buf(), key_path.to_path_buf())),
            current: RwLock::new(Arc::new(identity)),
        })
    }

    /// Where later reloads read the files: the process changed its root (chroot) after the
    /// first load, so the same files have other paths now.
    pub fn reload_from(&self, cert_path: PathBuf, key_path: PathBuf) {
        *self.paths.write().unwrap_or_else(PoisonError::into_inner) = (cert_path, key_path);
    }

    /// Read the files again. On success new handshakes present the new pair (running sessions
    /// keep their keys); on error the current pair stays and the error says why.
    pub fn reload(&self) -> Result<Arc<Identity>, LoadError> {
        let (cert_path, key_path) = self
            .paths
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let identity = Arc::new(certificate::load(&cert_path, &key_path)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&identity);
        Ok(identity)
    }

    /// The pair in use now.
    pub fn current(&self) -> Arc<Identity> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current().certified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use crate::tls::testpki::Pki;

    #[test]
    fn reload_swaps_a_good_pair_and_keeps_the_old_one_on_error() {
        let Some(pki) = Pki::shared() else { return };
        let dir = TempDir::new("tls-reload");
        let cert = dir.0.join("cert.pem");
        let key = dir.0.join("key.pem");
        std::fs::write(&cert, &pki.ec.cert_pem).unwrap();
        std::fs::write(&key, &pki.ec.key_pkcs8_pem).unwrap();
        let store = CertStore::open(&cert, &key).unwrap();
        let leaf = |s: &CertStore| s.current().certified.cert[0].to_vec();
        assert_eq!(leaf(&store), pki.ec.cert_der);

        // Half a renewal: the new certificate, the old key. Refused; the old pair stays.
        std::fs::write(&cert, &pki.rsa2048.cert_pem).unwrap();
        assert!(matches!(store.reload(), Err(LoadError::Mismatch { .. })));
        assert_eq!(leaf(&store), pki.ec.cert_der);
        // A file that vanished: refused, the old pair stays.
        std::fs::remove_file(&key).unwrap();
        assert!(matches!(store.reload(), Err(LoadError::Read { .. })));
        assert_eq!(leaf(&store), pki.ec.cert_der);
        // The whole renewal: taken.
        std::fs::write(&key, &pki.rsa2048.key_legacy_der).unwrap();
        let id = store.reload().unwrap();
        assert_eq!(id.certified.cert[0].to_vec(), pki.rsa2048.cert_der);
        assert_eq!(leaf(&store), pki.rsa2048.cert_der);
    }

    #[test]
    fn reload_reads_where_reload_from_says() {
        // After a chroot the same files have other paths: a reload must read the new ones.
        let Some(pki) = Pki::shared() else { return };
        let dir = TempDir::new("tls-reload-from");
        let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
        std::fs::write(&cert, &pki.ec.cert_pem).unwrap();
        std::fs::write(&key, &pki.ec.key_pkcs8_pem).unwrap();
        let store = CertStore::open(&cert, &key).unwrap();
        let inside = dir.0.join("root");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("cert.pem"), &pki.rsa2048.cert_pem).unwrap();
        std::fs::write(inside.join("key.pem"), &pki.rsa2048.key_legacy_der).unwrap();
        store.reload_from(inside.join("cert.pem"), inside.join("key.pem"));
        let id = store.reload().unwrap();
        assert_eq!(id.certified.cert[0].to_vec(), pki.rsa2048.cert_der);
    }

    #[test]
    fn open_fails_on_a_broken_pair() {
        let Some(pki) = Pki::shared() else { return };
        let dir = TempDir::new("tls-open");
        let cert = dir.0.join("cert.pem");
        let key = dir.0.join("key.pem");
        std::fs::write(&cert, &pki.ec.cert_pem).unwrap();
        std::fs::write(&key, &pki.ec_other_key_pem).unwrap();
        assert!(matches!(
            CertStore::open(&cert, &key),
            Err(LoadError::Mismatch { .. })
        ));
    }
}
