//! Test certificates made at test time with the `openssl` command (rustls cannot make them):
//! a P-256 CA and leaves with P-256, RSA-2048 and RSA-4096 keys, in every encoding the loader
//! accepts. Generated once per test process, into memory; the files are removed at once.
//!
//! Without `openssl` the tests that need it print SKIP and pass, except under CI (`CI` set),
//! where a missing `openssl` fails them: CI installs it.

use crate::test_support::TempDir;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// One leaf certificate (issued by the CA for `localhost` and 127.0.0.1) and its key.
pub struct Leaf {
    /// The leaf alone, PEM.
    pub cert_pem: Vec<u8>,
    /// The leaf alone, DER.
    pub cert_der: Vec<u8>,
    /// Leaf then CA, PEM.
    pub chain_pem: Vec<u8>,
    /// Leaf then CA, concatenated DER.
    pub chain_der: Vec<u8>,
    /// The key as PKCS#8, PEM and DER.
    pub key_pkcs8_pem: Vec<u8>,
    pub key_pkcs8_der: Vec<u8>,
    /// The key in its algorithm's own format (SEC1 for EC, PKCS#1 for RSA), PEM and DER.
    pub key_legacy_pem: Vec<u8>,
    pub key_legacy_der: Vec<u8>,
    /// notAfter as openssl reads it (`x509 -enddate`), Unix seconds.
    pub not_after: i64,
}

/// The test PKI.
pub struct Pki {
    /// The CA certificate (PEM), for the clients' root store.
    pub ca_pem: Vec<u8>,
    /// P-256 leaf, valid for a year.
    pub ec: Leaf,
    /// RSA-2048 leaf, valid for a year.
    pub rsa2048: Leaf,
    /// P-256 leaf valid for 10 days (expiry warning).
    pub short: Leaf,
    /// P-256 leaf valid for 100 years (notAfter as GeneralizedTime).
    pub far_future: Leaf,
    /// A P-256 key that belongs to no certificate (PKCS#8 PEM).
    pub ec_other_key_pem: Vec<u8>,
}

/// Key algorithms of the leaves.
#[derive(Clone, Copy)]
enum Alg {
    P256,
    Rsa(u32),
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ferroftpd test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
";

impl Pki {
    /// The PKI of this test process, or `None` (after printing SKIP) without `openssl`.
    pub fn shared() -> Option<&'static Pki> {
        static PKI: OnceLock<Option<Pki>> = OnceLock::new();
        PKI.get_or_init(|| openssl_present().then(Pki::generate))
            .as_ref()
    }

    fn generate() -> Pki {
        let dir = TempDir::new("tls-pki");
        let d = &dir.0;
        std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).unwrap();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-config",
                "openssl.cnf",
                "-extensions",
                "ca_ext",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=ferroftpd test CA",
            ],
        );
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "other.key",
            ],
        );
        Pki {
            ca_pem: std::fs::read(d.join("ca.pem")).unwrap(),
            ec: leaf(d, "ec", Alg::P256, 365),
            rsa2048: leaf(d, "rsa2048", Alg::Rsa(2048), 365),
            short: leaf(d, "short", Alg::P256, 10),
            far_future: leaf(d, "far", Alg::P256, 36_500),
            ec_other_key_pem: std::fs::read(d.join("other.key")).unwrap(),
        }
    }
}

/// An RSA-4096 leaf (slow to make: only the tests that need one ask).
pub fn rsa4096() -> Option<&'static Leaf> {
    static LEAF: OnceLock<Option<Leaf>> = OnceLock::new();
    LEAF.get_or_init(|| {
        Pki::shared()?;
        let dir = TempDir::new("tls-pki4096");
        let d = &dir.0;
        std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).unwrap();
        // A CA of its own: the shared one's key went with its directory.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-config",
                "openssl.cnf",
                "-extensions",
                "ca_ext",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=ferroftpd test CA 2",
            ],
        );
        Some(leaf(d, "rsa4096", Alg::Rsa(4096), 365))
    })
    .as_ref()
}

/// The CA that issued [`rsa4096`] (PEM): the chain's second certificate.
pub fn rsa4096_ca_pem() -> Option<Vec<u8>> {
    let leaf = rsa4096()?;
    let text = String::from_utf8(leaf.chain_pem.clone()).ok()?;
    let second = text.match_indices("-----BEGIN CERTIFICATE-----").nth(1)?.0;
    Some(text.as_bytes()[second..].to_vec())
}

/// Make key, certificate request and certificate `name`, signed by `ca.pem`/`ca.key` in `d`.
fn leaf(d: &Path, name: &str, alg: Alg, days: u32) -> Leaf {
    let f = |ext: &str| format!("{name}.{ext}");
    let key_args: Vec<String> = match alg {
        Alg::P256 => vec![
            "EC".into(),
            "-pkeyopt".into(),
            "ec_paramgen_curve:P-256".into(),
        ],
        Alg::Rsa(bits) => vec![
            "RSA".into(),
            "-pkeyopt".into(),
            format!("rsa_keygen_bits:{bits}"),
        ],
    };
    let mut genpkey = vec!["genpkey".to_string(), "-algorithm".into()];
    genpkey.extend(key_args);
    genpkey.extend(["-out".into(), f("key")]);
    openssl(d, &genpkey.iter().map(String::as_str).collect::<Vec<_>>());
    openssl(
        d,
        &[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-key",
            &f("key"),
            "-subj",
            "/CN=localhost",
            "-out",
            &f("csr"),
        ],
    );
    let days = days.to_string();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            &f("csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4242",
            "-days",
            &days,
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "leaf_ext",
            "-out",
            &f("crt"),
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-in",
            &f("crt"),
            "-outform",
            "DER",
            "-out",
            &f("crt.der"),
        ],
    );
    openssl(
        d,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
    openssl(
        d,
        &[
            "pkey",
            "-in",
            &f("key"),
            "-outform",
            "DER",
            "-out",
            &f("key.der"),
        ],
    );
    let legacy = match alg {
        Alg::P256 => "ec",
        Alg::Rsa(_) => "rsa",
    };
    let key = f("key");
    for form in ["PEM", "DER"] {
        let out = f(&format!("legacy.{form}"));
        let mut args = vec![legacy, "-in", &key, "-outform", form, "-out", &out];
        if legacy == "rsa" {
            args.push("-traditional");
        }
        openssl(d, &args);
    }
    let read = |n: &str| std::fs::read(d.join(n)).unwrap();
    let cert_pem = read(&f("crt"));
    let key_legacy_pem = read(&f("legacy.PEM"));
    let header: &[u8] = match alg {
        Alg::P256 => b"-----BEGIN EC PRIVATE KEY-----",
        Alg::Rsa(_) => b"-----BEGIN RSA PRIVATE KEY-----",
    };
    assert!(
        key_legacy_pem.starts_with(header),
        "openssl wrote another key format"
    );
    let key_pkcs8_pem = read(&f("key"));
    assert!(key_pkcs8_pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
    let end = openssl(d, &["x509", "-in", &f("crt"), "-noout", "-enddate"]);
    Leaf {
        chain_pem: [&cert_pem[..], &read("ca.pem")[..]].concat(),
        chain_der: [read(&f("crt.der")), read("ca.der")].concat(),
        cert_der: read(&f("crt.der")),
        cert_pem,
        key_pkcs8_der: read(&f("key.der")),
        key_legacy_der: read(&f("legacy.DER")),
        key_pkcs8_pem,
        key_legacy_pem,
        not_after: parse_enddate(&end).unwrap_or_else(|| panic!("openssl -enddate: {end}")),
    }
}

/// Run `openssl ARGS` in `dir`; its standard output. Panics with openssl's message on failure.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Is `openssl` there? Prints SKIP if not; under CI its absence is a failure.
fn openssl_present() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing: CI must install it (tls tests)"
        );
        eprintln!("SKIP: no openssl command; the TLS tests that need certificates do nothing");
    }
    ok
}

/// `openssl x509 -checkend SECS`: does the certificate expire within `secs` seconds?
pub fn openssl_checkend(cert_pem: &[u8], secs: i64) -> bool {
    let dir = TempDir::new("tls-checkend");
    std::fs::write(dir.0.join("c.pem"), cert_pem).unwrap();
    let status = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-in",
            "c.pem",
            "-checkend",
            &secs.to_string(),
        ])
        .current_dir(&dir.0)
        .output()
        .expect("run openssl")
        .status;
    !status.success()
}

/// `notAfter=Jun 15 08:30:00 2030 GMT` -> Unix seconds.
fn parse_enddate(line: &str) -> Option<i64> {
    let text = line.trim().strip_prefix("notAfter=")?;
    let mut parts = text.split_whitespace();
    let name = parts.next()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == name)?;
    let day: u32 = parts.next()?.parse().ok()?;
    let hms: Vec<u32> = parts
        .next()?
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let year: i64 = parts.next()?.parse().ok()?;
    (parts.next()? == "GMT").then_some(())?;
    crate::timefmt::unix_from_civil(
        year,
        month as u32 + 1,
        day,
        *hms.first()?,
        *hms.get(1)?,
        *hms.get(2)?,
    )
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}
