//! Real clients over FTPS: curl (`--ssl-reqd`, and `ftps://` on the implicit port), lftp
//! (`ftp:ssl-force`, `mirror` both ways, `reget`), Python's `ftplib.FTP_TLS` stock (which
//! never resumes the session on data connections: 522 under `tls_session_reuse = required`)
//! and with a subclass that resumes it as FileZilla and WinSCP do; PHP's `ftp_ssl_connect`
//! (each TLS 1.3 ticket used once); `tls_required` both ways.
#![cfg(feature = "tls")]

mod common;

use common::clients::*;
use common::pki::Pki;
use common::*;
use std::fs;
use std::path::Path;

/// The fixture of the clients suites, offering FTPS with a fresh CA's certificate.
struct TlsFx {
    fx: Fx,
    pki: Pki,
    implicit_port: u16,
}

fn tls_fx(opts: &[(&str, &str)]) -> Option<TlsFx> {
    let pki = Pki::new()?;
    let leaf = pki.leaf("server", 365);
    let implicit_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut b = Server::builder()
        .opt("tls_cert", leaf.cert.display())
        .opt("tls_key", leaf.key.display())
        .opt("tls_implicit_port", implicit_port);
    for (k, v) in opts {
        b = b.opt(k, v);
    }
    Some(TlsFx {
        fx: Fx::with(b),
        pki,
        implicit_port,
    })
}

fn ca(t: &TlsFx) -> String {
    t.pki.ca.display().to_string()
}

fn user_url(scheme: &str, port: u16, path: &str) -> String {
    format!(
        "{scheme}://{}:{}@127.0.0.1:{port}/{path}",
        ALICE.name, ALICE.password
    )
}

#[test]
fn curl_ssl_reqd_downloads_and_uploads() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(_) = curl() else { return };
    let port: u16 = t.fx.port().parse().unwrap();
    // Passive only: curl 7.87 to 7.88.1 forget TLS on active data connections and hang
    // (curl#10666, fixed in 8.0); lftp covers active FTPS below.
    let out_file = t.fx.local.join("got.dat");
    let mut c = curl().unwrap();
    c.args(["--ssl-reqd", "--cacert", &ca(&t), "-o"])
        .arg(&out_file)
        .arg(user_url("ftp", port, "bin.dat"));
    run(c, None, T).assert_ok();
    assert!(fs::read(&out_file).unwrap() == t.fx.bin);
    let mut c = curl().unwrap();
    c.args(["--ssl-reqd", "--cacert", &ca(&t), "-T"])
        .arg(&out_file)
        .arg(user_url("ftp", port, "up.dat"));
    run(c, None, T).assert_ok();
    assert!(fs::read(t.fx.srv.root().join("up.dat")).unwrap() == t.fx.bin);
    // curl refuses an untrusted certificate (exit 60), so what it accepted was verified.
    let mut c = curl().unwrap();
    c.args(["--ssl-reqd", "-o", "/dev/null"])
        .arg(user_url("ftp", port, "bin.dat"));
    let out = run(c, None, T);
    assert_eq!(out.code, Some(60), "{}", out.describe());
}

/// TLS 1.2 (curl with OpenSSL, `--tls-max 1.2`): its data connections resume the control
/// session by ticket or session ID (TLS 1.2 tickets come inside the handshake), under
/// `tls_session_reuse = required`.
#[test]
fn curl_over_tls_1_2_downloads_uploads_and_lists() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(_) = curl() else { return };
    let port: u16 = t.fx.port().parse().unwrap();
    let out_file = t.fx.local.join("got12.dat");
    let mut c = curl().unwrap();
    c.args([
        "-v",
        "--tls-max",
        "1.2",
        "--ssl-reqd",
        "--cacert",
        &ca(&t),
        "-o",
    ])
    .arg(&out_file)
    .arg(user_url("ftp", port, "bin.dat"));
    let out = run(c, None, T);
    out.assert_ok();
    // The version is the point: curl prints what it negotiated.
    assert!(
        lossy(&out.stderr).contains("SSL connection using TLSv1.2"),
        "{}",
        out.describe()
    );
    assert!(fs::read(&out_file).unwrap() == t.fx.bin);
    let mut c = curl().unwrap();
    c.args(["--tls-max", "1.2", "--ssl-reqd", "--cacert", &ca(&t), "-T"])
        .arg(&out_file)
        .arg(user_url("ftp", port, "up12.dat"));
    run(c, None, T).assert_ok();
    assert!(fs::read(t.fx.srv.root().join("up12.dat")).unwrap() == t.fx.bin);
    let mut c = curl().unwrap();
    c.args(["--tls-max", "1.2", "--ssl-reqd", "--cacert", &ca(&t), "-l"])
        .arg(user_url("ftp", port, "pub/"));
    let out = run(c, None, T);
    out.assert_ok();
    assert!(lossy(&out.stdout).contains("b.bin"), "{}", out.describe());
}

#[test]
fn curl_ftps_url_on_the_implicit_port() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(mut c) = curl() else { return };
    let out_file = t.fx.local.join("implicit.dat");
    c.args(["--cacert", &ca(&t), "-o"])
        .arg(&out_file)
        .arg(user_url("ftps", t.implicit_port, "bin.dat"));
    run(c, None, T).assert_ok();
    assert!(fs::read(&out_file).unwrap() == t.fx.bin);
    let mut c = curl().unwrap();
    c.args(["--cacert", &ca(&t), "-l"])
        .arg(user_url("ftps", t.implicit_port, "pub/"));
    let out = run(c, None, T);
    out.assert_ok();
    assert!(lossy(&out.stdout).contains("a.txt"), "{}", out.describe());
}

fn lftp_tls(t: &TlsFx, script: &str) -> Out {
    lftp_tls_mode(t, true, script)
}

fn lftp_tls_mode(t: &TlsFx, passive: bool, script: &str) -> Out {
    let mut c = tool("lftp").expect("checked by caller");
    let full = format!(
        "set net:max-retries 1; set net:reconnect-interval-base 1; set net:timeout 15; \
         set xfer:clobber yes; set ssl:ca-file {}; set ftp:ssl-force true; \
         set ftp:ssl-protect-data true; set ftp:passive-mode {}; \
         open -u {},{} -p {} 127.0.0.1; {script}; bye",
        ca(t),
        if passive { "on" } else { "off" },
        ALICE.name,
        ALICE.password,
        t.fx.port()
    );
    c.args(["-c", &full]);
    run(c, None, T)
}

#[test]
fn lftp_mirror_both_ways_and_reget_over_tls() {
    let Some(t) = tls_fx(&[]) else { return };
    if tool("lftp").is_none() {
        return;
    }
    let local = t.fx.local.join("mirror");
    let out = lftp_tls(&t, &format!("mirror pub {}", local.display()));
    out.assert_ok();
    assert_eq!(fs::read(local.join("a.txt")).unwrap(), b"file a\n");
    assert_eq!(fs::read(local.join("sub/c.txt")).unwrap(), b"file c\n");
    assert!(fs::read(local.join("b.bin")).unwrap() == pattern(70_000, 2));
    let out = lftp_tls(&t, &format!("mirror -R {} back", local.display()));
    out.assert_ok();
    let back = t.fx.srv.root().join("back");
    assert_eq!(fs::read(back.join("sub/c.txt")).unwrap(), b"file c\n");
    assert!(fs::read(back.join("b.bin")).unwrap() == pattern(70_000, 2));
    // reget: the first half is here, the rest comes over a resumed TLS data connection.
    let partial = t.fx.local.join("partial.dat");
    fs::write(&partial, &t.fx.bin[..t.fx.bin.len() / 2]).unwrap();
    let out = lftp_tls(&t, &format!("reget bin.dat -o {}", partial.display()));
    out.assert_ok();
    assert!(fs::read(&partial).unwrap() == t.fx.bin);
    assert!(
        t.fx.srv.logs().contains("REST "),
        "reget did not resume with REST"
    );
}

#[test]
fn lftp_active_mode_over_tls() {
    // The server is the TLS server on data connections it makes too (RFC 4217 §9).
    let Some(t) = tls_fx(&[]) else { return };
    if tool("lftp").is_none() {
        return;
    }
    let got = t.fx.local.join("active.dat");
    let out = lftp_tls_mode(
        &t,
        false,
        &format!(
            "get bin.dat -o {}; put {} -o put-active.dat",
            got.display(),
            got.display()
        ),
    );
    out.assert_ok();
    assert!(fs::read(&got).unwrap() == t.fx.bin);
    assert!(fs::read(t.fx.srv.root().join("put-active.dat")).unwrap() == t.fx.bin);
    assert!(t.fx.srv.logs().contains("> EPRT") || t.fx.srv.logs().contains("> PORT"));
}

/// Python: `FTP_TLS` stock, or (`resume`) a subclass giving each data connection the control
/// connection's session. Downloads bin.dat, uploads it back as `up.dat`; prints `OK` or the
/// error.
const PY: &str = r#"
import ftplib, ssl, sys
host, port, user, pw, ca, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == "1"
class Resuming(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
cls = Resuming if resume else ftplib.FTP_TLS
f = cls(context=ctx, timeout=30)
f.connect(host, port)
f.login(user, pw)
f.prot_p()
try:
    data = bytearray()
    f.retrbinary("RETR bin.dat", data.extend)
    import io
    f.storbinary("STOR up.dat", io.BytesIO(bytes(data)))
    names = f.nlst()
    assert "up.dat" in names, names
    print("OK", len(data))
except ftplib.error_perm as e:
    print("ERR", e)
print(f.voidcmd("NOOP"))
f.quit()
"#;

fn python_tls(t: &TlsFx, resume: bool) -> Option<Out> {
    python(&t.fx, PY, &[&ca(t), if resume { "1" } else { "0" }], T)
}

#[test]
fn python_ftplib_stock_gets_522_under_required_and_works_under_optional() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(out) = python_tls(&t, false) else {
        return;
    };
    out.assert_ok();
    let text = lossy(&out.stdout);
    assert!(text.contains("ERR 522"), "{}", out.describe());
    // The session lives on after the 522.
    assert!(text.contains("200"), "{}", out.describe());
    let Some(t) = tls_fx(&[("tls_session_reuse", "optional")]) else {
        return;
    };
    let out = python_tls(&t, false).unwrap();
    out.assert_ok();
    assert!(lossy(&out.stdout).starts_with("OK "), "{}", out.describe());
    assert!(fs::read(t.fx.srv.root().join("up.dat")).unwrap() == t.fx.bin);
}

#[test]
fn python_ftplib_resuming_the_session_works_under_required() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(out) = python_tls(&t, true) else {
        return;
    };
    out.assert_ok();
    assert!(lossy(&out.stdout).starts_with("OK "), "{}", out.describe());
    assert!(fs::read(t.fx.srv.root().join("up.dat")).unwrap() == t.fx.bin);
}

/// PHP's ftp extension: each data connection resumes with the newest session OpenSSL handed
/// it, and OpenSSL uses a TLS 1.3 ticket once; so every data connection, uploads included,
/// must bring new tickets, or the next one gets 522. Uploads and downloads in both data
/// modes, in an order where an upload is followed by more data connections.
const PHP: &str = r#"
[, $host, $port, $user, $pass, $local] = $argv;
$c = ftp_ssl_connect($host, (int)$port, 20) or exit("connect failed\n");
ftp_login($c, $user, $pass) or exit("login failed\n");
foreach ([true, false] as $pasv) {
    ftp_pasv($c, $pasv);
    $m = $pasv ? "pasv" : "port";
    $steps = [
        ["put1", fn() => ftp_put($c, "$m-1.dat", "$local/bin.dat", FTP_BINARY)],
        ["put2", fn() => ftp_put($c, "$m-2.dat", "$local/bin.dat", FTP_BINARY)],
        ["get", fn() => ftp_get($c, "$local/$m-got.dat", "bin.dat", FTP_BINARY)],
        ["put3", fn() => ftp_put($c, "$m-3.dat", "$local/bin.dat", FTP_BINARY)],
        ["nlist", fn() => is_array(ftp_nlist($c, "pub"))],
        ["put4", fn() => ftp_put($c, "$m-4.dat", "$local/bin.dat", FTP_BINARY)],
    ];
    foreach ($steps as [$name, $step]) {
        echo "$m $name ", $step() ? "ok" : "FAILED", "\n";
    }
}
ftp_close($c);
"#;

#[test]
fn php_ftp_ssl_connect_resumes_on_every_data_connection() {
    let Some(t) = tls_fx(&[]) else { return };
    let Some(mut php) = tool("php") else { return };
    let local = t.fx.local.path();
    fs::write(local.join("bin.dat"), &t.fx.bin).unwrap();
    php.args(["-r", PHP, "--", "127.0.0.1", &t.fx.port()])
        .args([ALICE.name, ALICE.password])
        .arg(local);
    let out = run(php, None, T);
    out.assert_ok();
    let text = lossy(&out.stdout);
    assert_eq!(text.matches(" ok\n").count(), 12, "{}", out.describe());
    for m in ["pasv", "port"] {
        for i in 1..=4 {
            let up = t.fx.srv.root().join(format!("{m}-{i}.dat"));
            assert!(fs::read(up).unwrap() == t.fx.bin, "{m} upload {i}");
        }
        assert!(fs::read(local.join(format!("{m}-got.dat"))).unwrap() == t.fx.bin);
    }
}

#[test]
fn tls_required_login_refuses_clear_logins_and_takes_tls_ones() {
    let Some(t) = tls_fx(&[("tls_required", "login")]) else {
        return;
    };
    let Some(_) = curl() else { return };
    let port: u16 = t.fx.port().parse().unwrap();
    let mut c = curl().unwrap();
    c.args(["-o", "/dev/null"])
        .arg(user_url("ftp", port, "bin.dat"));
    let out = run(c, None, T);
    assert!(!out.ok(), "a clear login was accepted: {}", out.describe());
    assert!(!t.fx.srv.logs().contains("login as alice"));
    let mut c = curl().unwrap();
    c.args(["--ssl-reqd", "--cacert", &ca(&t), "-o", "/dev/null"])
        .arg(user_url("ftp", port, "bin.dat"));
    run(c, None, T).assert_ok();
}

#[test]
fn tls_required_all_refuses_clear_data_to_curl() {
    let Some(t) = tls_fx(&[("tls_required", "all")]) else {
        return;
    };
    let Some(_) = curl() else { return };
    let port: u16 = t.fx.port().parse().unwrap();
    // --ssl-control: TLS for the login only, clear data (PROT C): refused with 521.
    let mut c = curl().unwrap();
    c.args(["--ssl-control", "--cacert", &ca(&t), "-o", "/dev/null"])
        .arg(user_url("ftp", port, "bin.dat"));
    let out = run(c, None, T);
    assert!(!out.ok(), "{}", out.describe());
    assert!(Path::new(&t.fx.srv.root()).exists());
    let mut c = curl().unwrap();
    let got = t.fx.local.join("all.dat");
    c.args(["--ssl-reqd", "--cacert", &ca(&t), "-o"])
        .arg(&got)
        .arg(user_url("ftp", port, "bin.dat"));
    run(c, None, T).assert_ok();
    assert!(fs::read(&got).unwrap() == t.fx.bin);
}
