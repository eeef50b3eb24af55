//! The server's certificate chain and private key: read from files (PEM or DER; PKCS#8,
//! PKCS#1 or SEC1 keys), checked to belong together, and the leaf's expiry.
//!
//! DER is accepted because OpenWrt's `px5g selfsigned -der` writes it. The files are read
//! whole, up to [`MAX_FILE`] bytes each.

use super::der;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Largest certificate or key file read (a chain of a few certificates is a few KiB).
pub const MAX_FILE: u64 = 1024 * 1024;
/// A certificate that expires within this many seconds gets a warning (30 days).
pub const EXPIRY_WARNING: i64 = 30 * 86_400;

/// A certificate chain with its private key, checked to match, ready for rustls.
#[derive(Debug)]
pub struct Identity {
    /// What rustls presents: the chain (leaf first) and the signing key.
    pub certified: Arc<CertifiedKey>,
    /// The leaf's notAfter, seconds since the Unix epoch.
    pub not_after: i64,
}

/// Why a certificate/key pair could not be used (texts for the operator's log and `-t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// A file could not be opened or read.
    Read { path: String, error: String },
    /// A file is larger than [`MAX_FILE`].
    TooLarge { path: String },
    /// The certificate file holds no usable certificate.
    BadCertificate { path: String, detail: String },
    /// The key file holds no usable private key.
    BadKey { path: String, detail: String },
    /// The key is not the one the leaf certificate was issued for.
    Mismatch { detail: String },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => write!(f, "{path}: {error}"),
            LoadError::TooLarge { path } => write!(f, "{path}: larger than {MAX_FILE} bytes"),
            LoadError::BadCertificate { path, detail } => {
                write!(f, "{path}: no usable certificate: {detail}")
            }
            LoadError::BadKey { path, detail } => {
                write!(f, "{path}: no usable private key: {detail}")
            }
            LoadError::Mismatch { detail } => {
                write!(
                    f,
                    "the private key does not match the certificate ({detail})"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Read and check the pair of files `tls_cert` (chain, leaf first) and `tls_key`.
pub fn load(cert_path: &Path, key_path: &Path) -> Result<Identity, LoadError> {
    let certs = read_limited(cert_path)?;
    let mut key = read_limited(key_path)?;
    let result = parse(
        &certs,
        &key,
        &cert_path.display().to_string(),
        &key_path.display().to_string(),
    );
    // Do not leave the key's text lying in freed memory longer than needed.
    key.fill(0);
    std::hint::black_box(&key);
    result
}

/// Check a chain and a key given as file contents; the paths only name them in errors.
pub fn parse(
    certs: &[u8],
    key: &[u8],
    cert_path: &str,
    key_path: &str,
) -> Result<Identity, LoadError> {
    let chain = parse_chain(certs).map_err(|detail| LoadError::BadCertificate {
        path: cert_path.to_string(),
        detail,
    })?;
    let not_after = der::not_after(&chain[0]).ok_or_else(|| LoadError::BadCertificate {
        path: cert_path.to_string(),
        detail: "cannot read the leaf's validity".to_string(),
    })?;
    let bad_key = |detail: String| LoadError::BadKey {
        path: key_path.to_string(),
        detail,
    };
    let key = parse_key(key).map_err(bad_key)?;
    let signing = super::provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad_key(format!("unsupported key ({e})")))?;
    let certified = CertifiedKey::new(chain, signing);
    // SECURITY: a key that does not match would make every handshake fail at the client; say
    // so now (and keep the old pair on reload) rather than at the first login.
    match certified.keys_match() {
        Ok(()) => Ok(Identity {
            certified: Arc::new(certified),
            not_after,
        }),
        Err(rustls::Error::InconsistentKeys(e)) => Err(LoadError::Mismatch {
            detail: format!("{e:?}"),
        }),
        Err(e) => Err(LoadError::BadCertificate {
            path: cert_path.to_string(),
            detail: e.to_string(),
        }),
    }
}

impl Identity {
    /// A warning when the leaf expires within [`EXPIRY_WARNING`] of `now` (Unix seconds) or
    /// has expired; `None` otherwise.
    pub fn expiry_warning(&self, now: i64) -> Option<String> {
        expiry_warning(self.not_after, now)
    }
}

/// See [`Identity::expiry_warning`].
pub fn expiry_warning(not_after: i64, now: i64) -> Option<String> {
    let left = not_after.saturating_sub(now);
    let when = format_utc(not_after);
    if left <= 0 {
        Some(format!("the certificate expired on {when}"))
    } else if left <= EXPIRY_WARNING {
        let days = left / 86_400;
        Some(format!(
            "the certificate expires in {days} day(s), on {when}"
        ))
    } else {
        None
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
fn format_utc(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = crate::timefmt::civil_from_unix(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Read a whole file of at most [`MAX_FILE`] bytes.
fn read_limited(path: &Path) -> Result<Vec<u8>, LoadError> {
    let read_error = |e: std::io::Error| LoadError::Read {
        path: path.display().to_string(),
        error: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut data = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() as u64 > MAX_FILE {
        return Err(LoadError::TooLarge {
            path: path.display().to_string(),
        });
    }
    Ok(data)
}

/// Is this PEM text (rather than DER, which starts with a SEQUENCE byte)?
fn is_pem(data: &[u8]) -> bool {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    data[start..].starts_with(b"-----BEGIN ")
}

/// The certificates of a PEM file (other sections, such as a key in the same file, are
/// skipped) or of concatenated DER; leaf first, at most [`der::MAX_CHAIN`].
fn parse_chain(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = if is_pem(data) {
        let mut chain = Vec::new();
        for item in CertificateDer::pem_slice_iter(data) {
            if chain.len() == der::MAX_CHAIN {
                return Err(format!("more than {} certificates", der::MAX_CHAIN));
            }
            chain.push(item.map_err(|e| format!("bad PEM ({e})"))?);
        }
        chain
    } else {
        der::split_certificates(data)
            .ok_or("neither PEM nor DER certificates")?
            .into_iter()
            .map(|c| CertificateDer::from(c.to_vec()))
            .collect()
    };
    if chain.is_empty() {
        return Err("no CERTIFICATE section".to_string());
    }
    Ok(chain)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 "RSA" or SEC1 "EC"), or a DER key of
/// any of those encodings.
fn parse_key(data: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    if is_pem(data) {
        PrivateKeyDer::from_pem_slice(data).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY section".to_string(),
            e => format!("bad PEM ({e})"),
        })
    } else {
        PrivateKeyDer::try_from(data.to_vec()).map_err(|e| format!("not a DER key ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::testpki::{self, Pki};

    fn check(certs: &[u8], key: &[u8]) -> Result<Identity, LoadError> {
        parse(certs, key, "cert", "key")
    }

    #[test]
    fn every_key_encoding_and_both_certificate_encodings_load() {
        let Some(pki) = Pki::shared() else { return };
        let leaf = &pki.ec;
        let rsa = &pki.rsa2048;
        for (name, certs, key) in [
            ("EC, PKCS#8 PEM", &leaf.cert_pem, &leaf.key_pkcs8_pem),
            ("EC, SEC1 PEM", &leaf.cert_pem, &leaf.key_legacy_pem),
            ("EC, PKCS#8 DER", &leaf.cert_pem, &leaf.key_pkcs8_der),
            ("EC, SEC1 DER", &leaf.cert_der, &leaf.key_legacy_der),
            ("EC, chain in PEM", &leaf.chain_pem, &leaf.key_pkcs8_pem),
            ("EC, chain in DER", &leaf.chain_der, &leaf.key_pkcs8_pem),
            ("RSA, PKCS#1 PEM", &rsa.cert_pem, &rsa.key_legacy_pem),
            ("RSA, PKCS#8 PEM", &rsa.cert_der, &rsa.key_pkcs8_pem),
            ("RSA, PKCS#1 DER", &rsa.cert_der, &rsa.key_legacy_der),
            ("RSA, PKCS#8 DER", &rsa.cert_pem, &rsa.key_pkcs8_der),
        ] {
            let id = check(certs, key).unwrap_or_else(|e| panic!("{name}: {e}"));
            let chain_len = if name.contains("chain") { 2 } else { 1 };
            assert_eq!(id.certified.cert.len(), chain_len, "{name}");
            assert_eq!(
                id.certified.cert[0].as_ref(),
                &leaf_der(certs)[..],
                "{name}: leaf first"
            );
        }
        // The key may sit in the certificate file too (one PEM file for both).
        let both = [&leaf.cert_pem[..], &leaf.key_pkcs8_pem[..]].concat();
        assert!(check(&both, &both).is_ok());
    }

    /// The first certificate of `certs` as DER.
    fn leaf_der(certs: &[u8]) -> Vec<u8> {
        parse_chain(certs).unwrap()[0].to_vec()
    }

    #[test]
    fn a_key_of_another_certificate_is_a_mismatch() {
        let Some(pki) = Pki::shared() else { return };
        for (certs, key) in [
            (&pki.ec.cert_pem, &pki.ec_other_key_pem),
            (&pki.ec.cert_pem, &pki.rsa2048.key_pkcs8_pem),
            (&pki.rsa2048.cert_pem, &pki.ec.key_pkcs8_pem),
        ] {
            match check(certs, key) {
                Err(LoadError::Mismatch { .. }) => {}
                other => panic!("expected a mismatch, got {other:?}"),
            }
        }
        // The CA's certificate with the leaf's key: also a mismatch (leaf first matters).
        assert!(matches!(
            check(&pki.ca_pem, &pki.ec.key_pkcs8_pem),
            Err(LoadError::Mismatch { .. })
        ));
    }

    #[test]
    fn broken_inputs_are_errors_that_name_the_file() {
        let Some(pki) = Pki::shared() else { return };
        let key = &pki.ec.key_pkcs8_pem;
        for (certs, want) in [
            (&b""[..], "cert: no usable certificate"),
            (b"hello", "cert: no usable certificate"),
            (
                &key[..],
                "cert: no usable certificate: no CERTIFICATE section",
            ),
            (&pki.ec.cert_der[..20], "cert: no usable certificate"),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n",
                "cert: no usable certificate: bad PEM",
            ),
        ] {
            let e = check(certs, key).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
        for (bad_key, want) in [
            (&b""[..], "key: no usable private key"),
            (
                &pki.ec.cert_pem[..],
                "key: no usable private key: no PRIVATE KEY section",
            ),
            (b"\x30\x03\x02\x01\x00", "key: no usable private key"),
            (&pki.ec.key_pkcs8_der[..30], "key: no usable private key"),
        ] {
            let e = check(&pki.ec.cert_pem, bad_key).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn files_load_and_read_errors_are_reported() {
        let Some(pki) = Pki::shared() else { return };
        let dir = crate::test_support::TempDir::new("tls-load");
        let cert = dir.0.join("cert.der");
        let key = dir.0.join("key.pem");
        std::fs::write(&cert, &pki.ec.cert_der).unwrap();
        std::fs::write(&key, &pki.ec.key_legacy_pem).unwrap();
        let id = load(&cert, &key).expect("loads");
        assert_eq!(id.not_after, pki.ec.not_after);
        let missing = dir.0.join("missing.pem");
        assert!(matches!(load(&missing, &key), Err(LoadError::Read { .. })));
        assert!(matches!(load(&cert, &missing), Err(LoadError::Read { .. })));
        let big = dir.0.join("big.pem");
        std::fs::write(&big, vec![b' '; MAX_FILE as usize + 1]).unwrap();
        assert!(matches!(load(&big, &key), Err(LoadError::TooLarge { .. })));
    }

    #[test]
    fn not_after_agrees_with_openssl() {
        let Some(pki) = Pki::shared() else { return };
        // openssl's own reading of the same certificates: -checkend says whether the
        // certificate expires within N seconds; ours must put notAfter in the same minute.
        for leaf in [&pki.ec, &pki.rsa2048, &pki.far_future] {
            let id = check(&leaf.cert_pem, &leaf.key_pkcs8_pem).unwrap();
            assert_eq!(id.not_after, leaf.not_after);
            let left = id.not_after - testpki::now();
            assert!(!testpki::openssl_checkend(&leaf.cert_pem, left - 60));
            assert!(testpki::openssl_checkend(&leaf.cert_pem, left + 60));
        }
        // Past 2049, X.509 switches to GeneralizedTime.
        assert!(
            pki.far_future.not_after
                > crate::timefmt::unix_from_civil(2050, 1, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn expiry_warning_window() {
        let day = 86_400;
        let t = crate::timefmt::unix_from_civil(2030, 6, 15, 8, 30, 0).unwrap();
        assert_eq!(expiry_warning(t, t - 31 * day), None);
        assert_eq!(expiry_warning(t, t - 30 * day - 1), None);
        let w = expiry_warning(t, t - 30 * day).unwrap();
        assert_eq!(
            w,
            "the certificate expires in 30 day(s), on 2030-06-15 08:30:00 UTC"
        );
        let w = expiry_warning(t, t - 1).unwrap();
        assert_eq!(
            w,
            "the certificate expires in 0 day(s), on 2030-06-15 08:30:00 UTC"
        );
        let w = expiry_warning(t, t).unwrap();
        assert_eq!(w, "the certificate expired on 2030-06-15 08:30:00 UTC");
        assert!(expiry_warning(t, t + 400 * day)
            .unwrap()
            .contains("expired"));
        assert!(expiry_warning(i64::MIN, i64::MAX).is_some(), "no overflow");
        assert_eq!(expiry_warning(i64::MAX, i64::MIN), None, "no overflow");
    }

    #[test]
    fn a_certificate_valid_for_ten_days_warns_now() {
        let Some(pki) = Pki::shared() else { return };
        let id = check(&pki.short.cert_pem, &pki.short.key_pkcs8_pem).unwrap();
        let w = id.expiry_warning(testpki::now()).expect("warns");
        assert!(
            w.contains("expires in 9 day(s)") || w.contains("expires in 10 day(s)"),
            "{w}"
        );
        let id = check(&pki.ec.cert_pem, &pki.ec.key_pkcs8_pem).unwrap();
        assert_eq!(id.expiry_warning(testpki::now()), None);
        assert!(id
            .expiry_warning(id.not_after + 1)
            .unwrap()
            .contains("expired"));
    }
}
