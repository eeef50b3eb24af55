//! FTPS as the rest of the server sees it, in both builds: the certificate loaded at startup
//! (and on SIGHUP), `-t`'s checks, and the per-connection TLS configuration. Without the `tls`
//! feature the types are empty and FTPS is never offered.

use crate::config::Config;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use crate::tls::{certificate, resolver::CertStore, session_config::TlsServer};

/// The server's FTPS setup: the reloadable certificate and the shared rustls configuration.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct Ftps(TlsServer);

/// No FTPS in a build without the `tls` feature: no value of this type exists.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum Ftps {}

/// The TLS configuration of one control connection and its data connections (own session
/// cache and ticket key: see `tls::session_config`).
#[cfg(feature = "tls")]
pub type SessionConfig = Arc<rustls::ServerConfig>;

/// No value exists without the `tls` feature.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum SessionConfig {}

/// How a PROT P data connection is secured.
#[derive(Debug, Clone)]
pub struct Protection {
    /// The control connection's configuration: its cache and ticket key resume its session.
    pub config: SessionConfig,
    /// `tls_session_reuse = required`: a handshake that did not resume is refused (522).
    pub require_resume: bool,
    /// The connection carries an upload: TLS 1.3 tickets wait for the close (see
    /// `TlsStream::hold_tickets_until_close`).
    pub upload: bool,
}

impl Ftps {
    /// Load the certificate and key when both are configured (at startup, before any chroot
    /// or change of user, which may hide the files), and draw randomness while /dev/urandom
    /// is still reachable. `None`: FTPS is not offered.
    pub fn load(config: &Config) -> Result<Option<Ftps>, String> {
        let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
            return Ok(None);
        };
        #[cfg(feature = "tls")]
        {
            crate::tls::init()?;
            let store = CertStore::open(cert, key).map_err(|e| format!("TLS: {e}"))?;
            if let Some(w) = store.current().expiry_warning(now()) {
                log::warn!("TLS: {}: {w}", cert.display());
            }
            let server = TlsServer::new(Arc::new(store)).map_err(|e| format!("TLS: {e}"))?;
            Ok(Some(Ftps(server)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (cert, key);
            Err("tls_cert/tls_key: this build has no TLS (feature tls)".to_string())
        }
    }

    /// After a chroot into `chroot_root`: SIGHUP reads the certificate and key where the
    /// process sees them now (a file outside the new root cannot be reloaded; the old pair
    /// then stays, with the error logged).
    pub fn after_chroot(&self, config: &Config, chroot_root: &std::path::Path) {
        #[cfg(feature = "tls")]
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            let seen = |p: &std::path::Path| crate::privilege::inside_chroot(p, Some(chroot_root));
            self.0.store().reload_from(seen(cert), seen(key));
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (config, chroot_root);
            match *self {}
        }
    }

    /// SIGHUP: read the certificate and key again; on error the old pair stays in use.
    pub fn reload(&self) -> Result<(), String> {
        #[cfg(feature = "tls")]
        {
            let identity = self.0.store().reload().map_err(|e| e.to_string())?;
            if let Some(w) = identity.expiry_warning(now()) {
                log::warn!("TLS: {w}");
            }
            Ok(())
        }
        #[cfg(not(feature = "tls"))]
        match *self {}
    }

    /// A configuration for one control connection (fails only without randomness).
    pub fn session_config(&self) -> Result<SessionConfig, String> {
        #[cfg(feature = "tls")]
        {
            self.0.for_session().map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "tls"))]
        match *self {}
    }
}

/// `-t`: whether the configured pair loads and matches (`Err`), and a warning when the
/// certificate expires within 30 days (`Ok(Some)`).
pub fn check(config: &Config) -> Result<Option<String>, String> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    #[cfg(feature = "tls")]
    {
        let identity = certificate::load(cert, key).map_err(|e| format!("TLS: {e}"))?;
        Ok(identity
            .expiry_warning(now())
            .map(|w| format!("TLS: {}: {w}", cert.display())))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (cert, key);
        Err("tls_cert/tls_key: this build has no TLS (feature tls)".to_string())
    }
}

/// Seconds since the Unix epoch.
#[cfg(feature = "tls")]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
