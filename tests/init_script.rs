//! The BusyBox init script `etc/init.d/S50ferroftpd` driving the real binary in `-d -P` mode:
//! start, status, reload, start again, stop, under BusyBox `sh` and `start-stop-daemon`.
//!
//! Without busybox it prints SKIP locally and fails under CI.

mod common;

use common::clients::{find_program, have};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A fresh directory, removed on drop; kills a daemon left behind by a failed assertion.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        // Unique per test: the tests of this file run in parallel in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ferroftpd-initd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("srv")).expect("mkdir");
        std::fs::create_dir_all(dir.join("run")).expect("mkdir");
        Sandbox { dir }
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("run/ferroftpd.pid")
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Run the init script with `action`, pointed at this sandbox.
    fn script(&self, action: &str) -> Output {
        self.script_with_path(action, None)
    }

    /// [`Sandbox::script`] with `PATH` set to `path` (to hide or fake tools).
    fn script_with_path(&self, action: &str, path: Option<&Path>) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/init.d/S50ferroftpd");
        let daemon = std::fs::canonicalize(env!("CARGO_BIN_EXE_ferroftpd")).expect("binary");
        let mut cmd = match path {
            // Found on our PATH: the child's would be searched otherwise.
            Some(path) => {
                let mut cmd = Command::new(find_program("busybox").expect("busybox on PATH"));
                cmd.env("PATH", path);
                cmd
            }
            None => Command::new("busybox"),
        };
        cmd.arg("sh")
            .arg(script)
            .arg(action)
            .env("DAEMON", daemon)
            .env("CONF", self.dir.join("ftp.conf"))
            .env("PIDFILE", self.pidfile())
            .env("STOP_WAIT", "20")
            .output()
            .expect("run busybox sh")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether busybox is there: without it the test prints SKIP locally, and fails under CI.
fn have_busybox() -> bool {
    have("busybox", find_program("busybox").is_some())
}

/// Whether `pid` is a running (not zombie, not gone) process.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The port from the server's `listening on 127.0.0.1:PORT` line.
fn port_of(out: &Output) -> u16 {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    all.split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no listening line:\n{all}"))
}

fn greeting(port: u16) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("220");
    line
}

#[test]
fn init_script_starts_reloads_and_stops_the_daemon() {
    if !have_busybox() {
        return;
    }
    let sb = Sandbox::new();
    std::fs::write(
        sb.dir.join("ftp.conf"),
        format!(
            "listen = 127.0.0.1\nport = 0\nanonymous = yes\nroot = {}\nshutdown_timeout = 2\n",
            sb.dir.join("srv").display()
        ),
    )
    .expect("config");

    let out = sb.script("status");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let out = sb.script("start");
    assert!(out.status.success(), "{}", text(&out));
    // The parent exits only after the child is ready, so the pid file is already there.
    let pid = sb.pid().expect("pid file written before start returns");
    assert!(running(pid));
    let port = port_of(&out);
    assert!(greeting(port).starts_with("220"));

    let out = sb.script("status");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("pid {pid}")), "{}", text(&out));

    let out = sb.script("start");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already running"), "{}", text(&out));

    let out = sb.script("reload");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        greeting(port).starts_with("220"),
        "still serving after SIGHUP"
    );
    assert_eq!(sb.pid(), Some(pid));
    assert!(running(pid));

    let out = sb.script("stop");
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(pid), "stopped");
    assert!(!sb.pidfile().exists());
    let out = sb.script("status");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn init_script_makes_a_self_signed_certificate_on_first_start() {
    if !have_busybox() {
        return;
    }
    if !have("openssl", find_program("openssl").is_some()) {
        return;
    }
    if !cfg!(feature = "tls") {
        return;
    }
    let sb = Sandbox::new();
    let (cert, key) = (sb.dir.join("tls/cert.pem"), sb.dir.join("tls/key.pem"));
    std::fs::write(
        sb.dir.join("ftp.conf"),
        format!(
            "listen = 127.0.0.1\nport = 0\nanonymous = yes\nroot = {}\nshutdown_timeout = 2\n\
             tls_cert = {}\ntls_key = {}\n",
            sb.dir.join("srv").display(),
            cert.display(),
            key.display()
        ),
    )
    .expect("config");
    let out = sb.script("start");
    assert!(out.status.success(), "{}", text(&out));
    assert!(cert.exists() && key.exists(), "{}", text(&out));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
    let port = port_of(&out);
    assert!(greeting(port).starts_with("220"));
    // FTPS is offered with it.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    use std::io::Write;
    s.write_all(b"AUTH TLS\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("234"), "{line}");
    drop((r, s));
    // The second start keeps the files it made.
    let made = std::fs::read(&cert).unwrap();
    assert!(sb.script("stop").status.success());
    assert!(sb.script("start").status.success());
    assert_eq!(std::fs::read(&cert).unwrap(), made);
    assert!(sb.script("stop").status.success());
}

/// A stand-in for OpenWrt's px5g (`px5g selfsigned`, as px5g-mbedtls parses it) built on
/// openssl: a DER certificate and a DER key in the traditional form (PKCS#1 for RSA, SEC1 for
/// EC), as px5g writes them. Stricter than px5g about unknown options; `ec` refused unless
/// EC_OK, like older px5g builds. Each call's arguments are appended to `calls`.
const FAKE_PX5G: &str = r#"#!/bin/sh
echo "$*" >> "@CALLS@"
OPENSSL="@OPENSSL@"
[ "$1" = selfsigned ] || exit 1
shift
der=no alg=rsa bits=512 days=30 keyout= out= subj=
while [ $# -gt 0 ]; do
	case "$1" in
	-der) der=yes ;;
	-newkey)
		case "$2" in
		rsa:*) alg=rsa bits=${2#rsa:} ;;
		ec) [ "@EC_OK@" = yes ] || { echo "error: invalid algorithm" >&2; exit 1; }; alg=ec ;;
		*) echo "error: invalid algorithm" >&2; exit 1 ;;
		esac
		shift ;;
	-pkeyopt) [ "$2" = ec_paramgen_curve:P-256 ] || exit 1; shift ;;
	-days) days=$2; shift ;;
	-keyout) keyout=$2; shift ;;
	-out) out=$2; shift ;;
	-subj) case "$2" in /*) subj=$2 ;; *) exit 1 ;; esac; shift ;;
	*) echo "unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
[ "$der" = yes ] && [ -n "$keyout" ] && [ -n "$out" ] && [ -n "$subj" ] || exit 1
if [ "$alg" = ec ]; then
	"$OPENSSL" ecparam -name prime256v1 -genkey -noout -out "$keyout.pem" &&
		"$OPENSSL" ec -in "$keyout.pem" -outform DER -out "$keyout" || exit 1
else
	"$OPENSSL" genrsa -traditional -out "$keyout.pem" "$bits" &&
		"$OPENSSL" rsa -traditional -in "$keyout.pem" -outform DER -out "$keyout" || exit 1
fi
"$OPENSSL" req -x509 -new -key "$keyout.pem" -days "$days" -subj "$subj" -outform DER \
	-out "$out" || exit 1
rm -f "$keyout.pem"
"#;

/// OpenWrt has no openssl but px5g: the init script makes the certificate with px5g (EC
/// P-256, or RSA 2048 where px5g knows only RSA), in DER, and the server presents it.
#[test]
fn init_script_makes_a_certificate_with_px5g_where_there_is_no_openssl() {
    if !have_busybox() {
        return;
    }
    // Behind the px5g stand-in, by absolute path: the script's PATH will not have it.
    let openssl = find_program("openssl");
    if !have("openssl", openssl.is_some()) {
        return;
    }
    let openssl = openssl.expect("checked by have");
    if !cfg!(feature = "tls") {
        return;
    }
    let busybox = find_program("busybox").expect("busybox on PATH");
    for ec_ok in [true, false] {
        let sb = Sandbox::new();
        // A PATH of BusyBox applets and px5g: no openssl on it.
        let bin = sb.dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for applet in [
            "sed",
            "tail",
            "mkdir",
            "dirname",
            "hostname",
            "start-stop-daemon",
            "sleep",
            "rm",
            "cat",
        ] {
            std::os::unix::fs::symlink(&busybox, bin.join(applet)).unwrap();
        }
        let calls = sb.dir.join("px5g-calls");
        let fake = FAKE_PX5G
            .replace("@CALLS@", &calls.display().to_string())
            .replace("@OPENSSL@", &openssl.display().to_string())
            .replace("@EC_OK@", if ec_ok { "yes" } else { "no" });
        std::fs::write(bin.join("px5g"), fake).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("px5g"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (cert, key) = (sb.dir.join("tls/cert.der"), sb.dir.join("tls/key.der"));
        std::fs::write(
            sb.dir.join("ftp.conf"),
            format!(
                "listen = 127.0.0.1\nport = 0\nanonymous = yes\nroot = {}\n\
                 shutdown_timeout = 2\ntls_cert = {}\ntls_key = {}\n",
                sb.dir.join("srv").display(),
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        let out = sb.script_with_path("start", Some(&bin));
        assert!(out.status.success(), "ec_ok={ec_ok}: {}", text(&out));
        assert!(
            text(&out).contains("made a self-signed certificate"),
            "{}",
            text(&out)
        );
        let made = std::fs::read_to_string(&calls).unwrap();
        let expected_calls = if ec_ok { 1 } else { 2 };
        assert_eq!(made.lines().count(), expected_calls, "{made}");
        assert!(made.lines().all(|l| l.starts_with("selfsigned -der ")));
        let key_mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(key_mode & 0o077, 0, "key readable by others: {key_mode:o}");
        let der = std::fs::read(&cert).unwrap();
        assert_eq!(der[0], 0x30, "not DER");
        // The key is EC (SEC1) where px5g made one, else RSA (PKCS#1).
        let key_text = Command::new(&openssl)
            .args(["pkey", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&key)
            .output()
            .unwrap();
        let key_text = String::from_utf8_lossy(&key_text.stdout).into_owned();
        let want = if ec_ok { "prime256v1" } else { "2048 bit" };
        assert!(key_text.contains(want), "ec_ok={ec_ok}: {key_text}");
        // The server presents exactly that certificate over AUTH TLS.
        let port = port_of(&out);
        let shown = Command::new(&openssl)
            .args(["s_client", "-starttls", "ftp", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let pem = String::from_utf8_lossy(&shown.stdout).into_owned();
        let mut x509 = Command::new(&openssl)
            .args(["x509", "-outform", "DER"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        x509.stdin
            .take()
            .unwrap()
            .write_all(pem.as_bytes())
            .unwrap();
        let presented = x509.wait_with_output().unwrap().stdout;
        assert!(
            presented == der,
            "ec_ok={ec_ok}: the server presented another certificate:\n{pem}"
        );
        assert!(sb.script_with_path("stop", Some(&bin)).status.success());
    }
}

#[test]
fn shell_files_parse_under_busybox_sh() {
    if !have_busybox() {
        return;
    }
    for file in ["etc/init.d/S50ferroftpd", "etc/tcpsvd"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let out = Command::new("busybox")
            .args(["sh", "-n"])
            .arg(&path)
            .output()
            .expect("busybox sh -n");
        assert!(out.status.success(), "{file}: {}", text(&out));
    }
    // An unknown action prints the usage and fails.
    let sb = Sandbox::new();
    let out = sb.script("bogus");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Usage:"), "{}", text(&out));
}
