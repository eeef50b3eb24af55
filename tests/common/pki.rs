//! Test certificates for FTPS, made at test time with the `openssl` command: a P-256 CA and
//! leaves for `localhost` and 127.0.0.1 that it signs. Without `openssl` the tests print SKIP,
//! except under CI (`CI` set), where they fail: CI installs it.

use super::TempDir;
use std::path::{Path, PathBuf};
use std::process::Command;

const CNF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ferroftpd test
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
";

/// A CA and files made with it, in a temporary directory.
pub struct Pki {
    pub dir: TempDir,
    /// The CA certificate (PEM): what clients trust.
    pub ca: PathBuf,
}

/// A leaf certificate and its key, as files.
pub struct LeafFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// A fresh CA, or `None` (SKIP) when `openssl` is missing outside CI.
    pub fn new() -> Option<Pki> {
        let found = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "openssl is missing under CI"
            );
            eprintln!("SKIP: no openssl to make test certificates");
            return None;
        }
        let dir = TempDir::new("pki");
        std::fs::write(dir.join("openssl.cnf"), CNF).unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
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
        let ca = dir.join("ca.pem");
        Some(Pki { dir, ca })
    }

    /// A P-256 leaf named `name`, valid for `days`, signed by the CA (PEM files).
    pub fn leaf(&self, name: &str, days: u32) -> LeafFiles {
        let d = self.dir.path();
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
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
                &key,
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-new",
                "-config",
                "openssl.cnf",
                "-key",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                &days.to_string(),
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "leaf_ext",
            ],
        );
        LeafFiles {
            cert: d.join(cert),
            key: d.join(key),
        }
    }

    /// The SHA-256 fingerprint of a certificate file, as `openssl x509 -fingerprint` prints it.
    pub fn fingerprint(cert: &Path) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(cert)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
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
}
