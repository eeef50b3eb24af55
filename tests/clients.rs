//! Interop across every real client at once (curl, wget, lftp, BusyBox, Python ftplib, tnftp):
//! twenty clients together, a 100 MiB file, and binary files unaltered through each client
//! when the session default type is ASCII. Per-client tests are in `tests/clients_*.rs`.
//!
//! A missing client prints `SKIP: <client> not installed` and the test passes, except when the
//! `CI` variable is set: CI installs every client (.ci/run), so there a missing one fails.
//! Every subprocess is killed when it outlives its timeout; the plumbing and the fixture are in
//! `tests/common/clients.rs`.

mod common;

use common::clients::*;
use common::*;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

// ----- load --------------------------------------------------------------------------------

const PY_ONE: &str = r#"
import ftplib, io, os, sys, time
host, port, user, pw, i, local = sys.argv[1:7]
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=60)
ftp.login(user, pw)
ftp.set_pasv(int(i) % 2 == 0)
open(os.path.join(local, "ready_" + i), "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(local, "go")):
    if time.time() > deadline:
        sys.exit("no go signal")
    time.sleep(0.01)
buf = io.BytesIO()
ftp.retrbinary("RETR shared.bin", buf.write)
open(os.path.join(local, "py_dl_" + i), "wb").write(buf.getvalue())
with open(os.path.join(local, "py_up_" + i), "rb") as f:
    ftp.storbinary("STOR py_up_" + i, f)
ftp.quit()
"#;

/// Established TCP connections whose local port is `port` (IPv4, from /proc/net/tcp).
fn established_on(port: u16) -> usize {
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&want) && f[3] == "01"
        })
        .count()
}

/// 10 curl and 10 ftplib clients logged in at the same moment, then all transferring at once.
/// Each ftplib client waits for a `go` file after login; each curl uploads from a stdin that
/// the test holds back until every client is connected (curl has sent its STOR by then).
#[test]
fn twenty_clients_at_once() {
    // All twenty come from 127.0.0.1: without this, max_transfers_per_ip (tested in
    // limits.rs) would refuse the curl uploads past the fourth with 425.
    let fx = Fx::with(Server::builder().opt("max_transfers_per_ip", 0));
    if !have("curl", find_program("curl").is_some())
        || !have("python3", find_program("python3").is_some())
    {
        return;
    }
    let shared = pattern(1 << 20, 10);
    fs::write(fx.root().join("shared.bin"), &shared).unwrap();
    let gate = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let mark = fx.mark();
    let mut children = Vec::new();
    for i in 0..10u64 {
        let upp = pattern(256 * 1024, 200 + i);
        fs::write(fx.l(&format!("py_up_{i}")), &upp).unwrap();
        let active = i % 2 == 1;
        let curl_cmd = |args: &[&str]| {
            let mut c = Command::new("curl");
            c.args(["-sS", "--connect-timeout", "20", "--max-time", "120"]);
            if active {
                c.args(["-P", "127.0.0.1"]);
            }
            c.args(args);
            c
        };
        let up = curl_cmd(&["-T", "-", &fx.url(&format!("curl_up_{i}"))]);
        let dl = curl_cmd(&["-o", &fx.ls(&format!("curl_dl_{i}")), &fx.url("shared.bin")]);
        let g = gate.clone();
        let feeder: Feeder = Box::new(move |mut w| {
            let (m, cv) = &*g;
            let go = *cv
                .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(60), |go| !*go)
                .unwrap()
                .0;
            // The lock is released before writing: a curl whose transfer is still queued in
            // the server reads nothing yet, and must not hold up the others.
            if go {
                let _ = w.write_all(&pattern(256 * 1024, 100 + i));
            }
        });
        children.push(thread::spawn(move || {
            let o = run_fed(up, Some(feeder), Duration::from_secs(150));
            if !o.ok() {
                return o;
            }
            run(dl, None, Duration::from_secs(150))
        }));
        let mut p = Command::new("python3");
        p.args([
            "-c",
            PY_ONE,
            "127.0.0.1",
            &fx.port(),
            ALICE.name,
            ALICE.password,
        ])
        .arg(i.to_string())
        .arg(fx.ls(""));
        children.push(thread::spawn(move || {
            run(p, None, Duration::from_secs(150))
        }));
    }
    // Everyone connected: 10 ready files, 10 STORs seen by the server.
    let all_in = poll_until(Duration::from_secs(60), || {
        let py = (0..10)
            .filter(|i| fx.l(&format!("ready_{i}")).exists())
            .count();
        let logs = fx.srv.logs();
        let lines: Vec<&str> = logs.lines().skip(mark).collect();
        let stors = lines
            .iter()
            .filter(|l| l.contains("> STOR curl_up_"))
            .count();
        py == 10 && stors == 10
    });
    let connected = established_on(fx.srv.addr.port());
    // Go: release the ftplib clients and the curl uploads.
    fs::write(fx.l("go"), b"").unwrap();
    {
        let (m, cv) = &*gate;
        *m.lock().unwrap() = true;
        cv.notify_all();
    }
    let outs: Vec<Out> = children.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        all_in,
        "not all 20 clients got connected and logged in at once"
    );
    assert!(
        connected >= 20,
        "only {connected} control connections open at once"
    );
    for o in &outs {
        o.assert_ok();
    }
    for i in 0..10u64 {
        assert_same(
            &format!("curl dl {i}"),
            &fx.read_local(&format!("curl_dl_{i}")),
            &shared,
        );
        assert_same(
            &format!("py dl {i}"),
            &fx.read_local(&format!("py_dl_{i}")),
            &shared,
        );
        assert_same(
            &format!("curl up {i}"),
            &fx.read_remote(&format!("curl_up_{i}")),
            &pattern(256 * 1024, 100 + i),
        );
        assert_same(
            &format!("py up {i}"),
            &fx.read_remote(&format!("py_up_{i}")),
            &pattern(256 * 1024, 200 + i),
        );
    }
}

#[test]
fn file_of_100_mib_through_curl_by_crc32() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    let len = 100u64 << 20;
    let crc = write_pattern_file(&fx.l("big.src"), len, 11);
    let long = Duration::from_secs(300);
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "280", "-T", &fx.ls("big.src")])
        .arg(fx.url("big.bin"));
    run(c, None, long).assert_ok();
    assert_eq!(
        crc_file(&fx.root().join("big.bin")),
        (crc, len),
        "CRC32 on the server"
    );
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "280",
        "-P",
        "127.0.0.1",
        "-o",
        &fx.ls("big.dl"),
    ])
    .arg(fx.url("big.bin"));
    run(c, None, long).assert_ok();
    assert_eq!(
        crc_file(&fx.l("big.dl")),
        (crc, len),
        "CRC32 downloaded (active mode)"
    );
}

// ----- the default type is ASCII (issue 10) ------------------------------------------------

/// A binary file that any line-end conversion would change: leading LF, bare LF, CR LF, lone
/// CR, CR CR LF, LF CR, every byte value up and down, pattern bytes, and a trailing lone CR.
fn line_end_trap(len: usize) -> Vec<u8> {
    let mut v = b"\nbare LF\nCR LF\r\nlone CR\rCR CR LF\r\r\nLF CR\n\r".to_vec();
    v.extend(0..=255u8);
    v.extend((0..=255u8).rev());
    v.extend(pattern(len - v.len() - 1, 12));
    v.push(b'\r');
    v
}

/// Sessions start in ASCII (RFC 959 §5.1), so every client must say TYPE I before a binary
/// transfer. Each client gets a fresh session (nothing it did before could have set the type)
/// and moves two trap files both ways: a small one (a passive download of it may be sent
/// inline by the control thread) and a larger one (a pool worker, sendfile). Compared byte for
/// byte on disk and in the download.
#[test]
fn binary_files_pass_every_real_client_unaltered() {
    let fx = Fx::new();
    let files = [
        ("small.trap", line_end_trap(3_000)),
        ("big.trap", line_end_trap(300_000)),
    ];
    for (name, body) in &files {
        fs::write(fx.root().join(name), body).unwrap();
        fs::write(fx.l(name), body).unwrap();
    }
    let mut checked = Vec::new();
    let mut check = |who: &str, body: &[u8], paths: &[PathBuf]| {
        for path in paths {
            let got = fs::read(path).unwrap_or_else(|e| panic!("{who} {}: {e}", path.display()));
            assert_same(&format!("{who} {}", path.display()), &got, body);
        }
        checked.push(who.to_string());
    };
    for (name, body) in &files {
        // curl: download (EPSV) and upload.
        if let Some(mut c) = curl() {
            c.args(["-o", &fx.ls(&format!("curl.{name}"))])
                .arg(fx.url(name));
            run(c, None, T).assert_ok();
            let mut c = curl().unwrap();
            c.args(["-T", &fx.ls(name)])
                .arg(fx.url(&format!("curl_up.{name}")));
            run(c, None, T).assert_ok();
            check(
                "curl",
                body,
                &[
                    fx.l(&format!("curl.{name}")),
                    fx.root().join(format!("curl_up.{name}")),
                ],
            );
        }
        // wget: download only.
        if let Some(mut c) = wget() {
            c.args(["-O", &fx.ls(&format!("wget.{name}"))])
                .arg(fx.url(name));
            run(c, None, T).assert_ok();
            check("wget", body, &[fx.l(&format!("wget.{name}"))]);
        }
        // lftp: get and put, each in a session of its own.
        if have("lftp", find_program("lftp").is_some()) {
            let dl = fx.ls(&format!("lftp.{name}"));
            lftp(
                &fx,
                true,
                &format!("set cmd:fail-exit yes; get {name} -o {dl}"),
            )
            .assert_ok();
            let up = format!(
                "set cmd:fail-exit yes; put {} -o lftp_up.{name}",
                fx.ls(name)
            );
            lftp(&fx, true, &up).assert_ok();
            check(
                "lftp",
                body,
                &[
                    fx.l(&format!("lftp.{name}")),
                    fx.root().join(format!("lftp_up.{name}")),
                ],
            );
        }
        // tnftp: no `binary` command; it must choose binary itself.
        if tool("tnftp").is_some() {
            let (dl, up) = (fx.ls(&format!("tnftp.{name}")), fx.ls(name));
            for cmd in [
                format!("get {name} {dl}"),
                format!("put {up} tnftp_up.{name}"),
            ] {
                let script = format!(
                    "open 127.0.0.1 {port}\nuser {u} {p}\n{cmd}\nbye\n",
                    port = fx.port(),
                    u = ALICE.name,
                    p = ALICE.password,
                );
                let mut c = Command::new("tnftp");
                c.args(["-n", "-v"]);
                let o = run(c, Some(script.as_bytes()), T);
                assert!(!o.timed_out, "{}", o.describe());
            }
            check(
                "tnftp",
                body,
                &[
                    fx.l(&format!("tnftp.{name}")),
                    fx.root().join(format!("tnftp_up.{name}")),
                ],
            );
        }
        // BusyBox ftpget / ftpput.
        if let (Some(mut get), Some(mut put)) = (busybox("ftpget"), busybox("ftpput")) {
            let creds = ["-u", ALICE.name, "-p", ALICE.password, "-P"];
            get.args(creds)
                .arg(fx.port())
                .args(["127.0.0.1", &fx.ls(&format!("bb.{name}")), name]);
            run(get, None, T).assert_ok();
            put.args(creds).arg(fx.port()).args([
                "127.0.0.1",
                &format!("bb_up.{name}"),
                &fx.ls(name),
            ]);
            run(put, None, T).assert_ok();
            check(
                "busybox",
                body,
                &[
                    fx.l(&format!("bb.{name}")),
                    fx.root().join(format!("bb_up.{name}")),
                ],
            );
        }
        // Python ftplib: retrbinary and storbinary, passive and active, no explicit TYPE.
        for mode in ["pasv", "active"] {
            let Some(o) = python(&fx, PY_BINARY, &[mode, name, &fx.ls("")], T) else {
                break;
            };
            o.assert_ok();
            check(
                &format!("ftplib {mode}"),
                body,
                &[
                    fx.l(&format!("py_{mode}.{name}")),
                    fx.root().join(format!("py_up_{mode}.{name}")),
                ],
            );
        }
    }
    println!("binary files unaltered through: {checked:?}");
}

const PY_BINARY: &str = r#"
import ftplib, io, os, sys
host, port, user, pw, mode, name, local = sys.argv[1:8]
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
ftp.set_pasv(mode == "pasv")
buf = io.BytesIO()
ftp.retrbinary("RETR " + name, buf.write)
open(os.path.join(local, "py_%s.%s" % (mode, name)), "wb").write(buf.getvalue())
with open(os.path.join(local, name), "rb") as f:
    ftp.storbinary("STOR py_up_%s.%s" % (mode, name), f)
ftp.quit()
"#;
