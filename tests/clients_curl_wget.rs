//! curl and wget against the real server: every data mode, ASCII and binary, uploads, resume
//! both ways, quote commands and listings, escape attempts, IPv6 with EPSV/EPRT, and wget's
//! recursive download.
//!
//! A missing client prints `SKIP: <client> not installed` and the test passes, except when the
//! `CI` variable is set: CI installs every client (.ci/run), so there a missing one fails.
//! Every subprocess is killed when it outlives its timeout; the plumbing and the fixture are in
//! `tests/common/clients.rs`.

mod common;

use common::clients::*;
use common::*;
use std::fs;

// ----- curl --------------------------------------------------------------------------------

#[test]
fn curl_download_every_mode_and_ascii() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    let modes: [(&str, &[&str], &str); 4] = [
        ("epsv", &[], "EPSV"),
        ("pasv", &["--disable-epsv"], "PASV"),
        ("eprt", &["-P", "127.0.0.1"], "EPRT"),
        ("port", &["-P", "127.0.0.1", "--disable-eprt"], "PORT"),
    ];
    for (name, args, verb) in modes {
        let out = fx.ls(&format!("bin.{name}"));
        let mut c = curl().unwrap();
        c.args(args).args(["-o", &out]).arg(fx.url("bin.dat"));
        let mark = fx.mark();
        run(c, None, T).assert_ok();
        fx.assert_used(mark, &format!("curl {name}"), &[verb]);
        assert_same(
            &format!("curl {name}"),
            &fx.read_local(&format!("bin.{name}")),
            &fx.bin,
        );
    }
    // ASCII: curl turns the CRLF of the wire back into LF (its line-end conversion in ASCII
    // mode); the exact wire bytes are checked in `python_ftplib_...` and tests/transfers.rs.
    let mut c = curl().unwrap();
    c.args(["--use-ascii", "-o", &fx.ls("t1")])
        .arg(fx.url("text.txt"));
    run(c, None, T).assert_ok();
    assert_same("curl --use-ascii", &fx.read_local("t1"), TEXT);
    let mut c = curl().unwrap();
    c.args(["-P", "127.0.0.1", "-o", &fx.ls("t2")])
        .arg(fx.url("text.txt;type=A"));
    run(c, None, T).assert_ok();
    assert_same("curl ;type=A active", &fx.read_local("t2"), TEXT);
    // Anonymous works too.
    let mut c = curl().unwrap();
    c.args(["-o", &fx.ls("anon")])
        .arg(format!("ftp://127.0.0.1:{}/pub/a.txt", fx.port()));
    run(c, None, T).assert_ok();
    assert_eq!(fx.read_local("anon"), b"file a\n");
}

#[test]
fn curl_upload_binary_and_ascii() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    let up = pattern(300_001, 3);
    fs::write(fx.l("up.bin"), &up).unwrap();
    fs::write(fx.l("up.txt"), TEXT).unwrap();
    for (name, args) in [
        ("epsv", vec![]),
        ("port", vec!["-P", "127.0.0.1", "--disable-eprt"]),
    ] {
        let mut c = curl().unwrap();
        c.args(&args)
            .args(["-T", &fx.ls("up.bin")])
            .arg(fx.url(&format!("up_{name}.bin")));
        run(c, None, T).assert_ok();
        assert_same(
            &format!("curl -T {name}"),
            &fx.read_remote(&format!("up_{name}.bin")),
            &up,
        );
    }
    let mut c = curl().unwrap();
    c.args(["--ftp-create-dirs", "-T", &fx.ls("up.bin")])
        .arg(fx.url("new/dir/deep.bin"));
    run(c, None, T).assert_ok();
    assert_same(
        "curl --ftp-create-dirs",
        &fx.read_remote("new/dir/deep.bin"),
        &up,
    );
    // ASCII upload: curl sends LF as CRLF in ASCII mode; the server must store LF again.
    let mut c = curl().unwrap();
    c.args(["--use-ascii", "-T", &fx.ls("up.txt")])
        .arg(fx.url("up.txt"));
    run(c, None, T).assert_ok();
    assert_same("curl --use-ascii -T", &fx.read_remote("up.txt"), TEXT);
    let mode = fs::metadata(fx.root().join("up.txt")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );
    // Anonymous uploads are refused and leave nothing behind.
    let mut c = curl().unwrap();
    c.args(["-T", &fx.ls("up.bin")])
        .arg(format!("ftp://127.0.0.1:{}/anon.bin", fx.port()));
    let o = run(c, None, T);
    assert!(!o.ok(), "anonymous upload succeeded: {}", o.describe());
    assert!(!fx.root().join("anon.bin").exists());
}

#[test]
fn curl_resume_both_ways() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    // Download: the local file has the first part.
    fs::write(fx.l("part"), &fx.bin[..400_000]).unwrap();
    let mut c = curl().unwrap();
    c.args(["-C", "-", "-o", &fx.ls("part")])
        .arg(fx.url("bin.dat"));
    run(c, None, T).assert_ok();
    assert_same("curl -C - download", &fx.read_local("part"), &fx.bin);
    // Upload: the server has the first part.
    fs::write(fx.root().join("rup.bin"), &fx.bin[..123_456]).unwrap();
    fs::write(fx.l("full"), &fx.bin).unwrap();
    let mut c = curl().unwrap();
    c.args(["-C", "-", "-T", &fx.ls("full")])
        .arg(fx.url("rup.bin"));
    run(c, None, T).assert_ok();
    assert_same("curl -C - upload", &fx.read_remote("rup.bin"), &fx.bin);
    // Explicit offset, active mode.
    let mut c = curl().unwrap();
    c.args(["-P", "127.0.0.1", "-C", "1000", "-o", &fx.ls("tail")])
        .arg(fx.url("bin.dat"));
    run(c, None, T).assert_ok();
    assert_same("curl -C 1000", &fx.read_local("tail"), &fx.bin[1000..]);
}

#[test]
fn curl_quote_commands_and_listings() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    fs::write(fx.root().join("old.txt"), b"old").unwrap();
    fs::write(fx.root().join("gone.txt"), b"gone").unwrap();
    fs::create_dir(fx.root().join("emptydir")).unwrap();
    let mut c = curl().unwrap();
    c.args(["-l", "-o", &fx.ls("nlst")])
        .args(["-Q", "MKD made"])
        .args(["-Q", "RNFR old.txt", "-Q", "RNTO made/new.txt"])
        .args(["-Q", "DELE gone.txt"])
        .args(["-Q", "RMD emptydir"])
        .arg(fx.url(""));
    run(c, None, T).assert_ok();
    assert!(fx.root().join("made").is_dir());
    assert_eq!(fx.read_remote("made/new.txt"), b"old");
    assert!(!fx.root().join("old.txt").exists());
    assert!(!fx.root().join("gone.txt").exists());
    assert!(!fx.root().join("emptydir").exists());
    let names = lossy(&fx.read_local("nlst"));
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert!(
        names.contains(&"bin.dat") && names.contains(&"made"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains(' ')),
        "NLST gives bare names: {names:?}"
    );
    // A post-transfer quote runs after the listing.
    let mut c = curl().unwrap();
    c.args(["-o", &fx.ls("list"), "-Q", "-DELE /made/new.txt"])
        .arg(fx.url("pub/"));
    run(c, None, T).assert_ok();
    assert!(!fx.root().join("made/new.txt").exists());
    let list = lossy(&fx.read_local("list"));
    assert!(list.contains("a.txt") && list.contains("sub"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" sub")),
        "{list}"
    );
    // A failing quote command makes curl fail.
    let mut c = curl().unwrap();
    c.args(["-o", &fx.ls("x"), "-Q", "DELE nosuch"])
        .arg(fx.url(""));
    assert!(!run(c, None, T).ok(), "DELE of a missing file must fail");
}

#[test]
fn curl_traversal_and_symlink_escapes() {
    let fx = Fx::new();
    let Some(_) = curl() else { return };
    let before = snapshot(&fx.srv.outside());
    let paths = [
        "../../../../etc/passwd",
        "../outside/secret.txt",
        "%2e%2e/%2e%2e/outside/secret.txt",
        "/etc/passwd",
        "escape/etc/passwd",
        "to_outside/secret.txt",
        "rel_outside/secret.txt",
        "pub/../../outside/secret.txt",
    ];
    for method in ["multicwd", "singlecwd", "nocwd"] {
        for p in paths {
            let out = fx.ls("stolen");
            let _ = fs::remove_file(&out);
            let mut c = curl().unwrap();
            c.args(["--path-as-is", "--ftp-method", method, "-o", &out])
                .arg(fx.url(p));
            let o = run(c, None, T);
            let got = fs::read(&out).unwrap_or_default();
            let got = lossy(&got);
            assert!(
                !got.contains(SECRET) && !got.contains("root:x:0:0"),
                "curl {method} {p} read outside the root: {got}"
            );
            assert!(
                !o.ok(),
                "curl {method} {p}: expected failure, {}",
                o.describe()
            );
        }
        for p in [
            "../outside/evil.txt",
            "to_outside/evil.txt",
            "rel_outside/evil.txt",
        ] {
            fs::write(fx.l("evil"), b"evil").unwrap();
            let mut c = curl().unwrap();
            c.args(["--path-as-is", "--ftp-method", method, "-T", &fx.ls("evil")])
                .arg(fx.url(p));
            let o = run(c, None, T);
            assert!(
                !o.ok(),
                "curl -T {method} {p}: expected failure, {}",
                o.describe()
            );
        }
    }
    assert_eq!(
        before,
        snapshot(&fx.srv.outside()),
        "outside the root changed"
    );
}

// ----- wget --------------------------------------------------------------------------------

#[test]
fn wget_passive_active_resume_and_recursive() {
    let fx = Fx::new();
    let Some(_) = wget() else { return };
    let mut c = wget().unwrap();
    c.args(["-O", &fx.ls("p.dat")]).arg(fx.url("bin.dat"));
    run(c, None, T).assert_ok();
    assert_same("wget passive", &fx.read_local("p.dat"), &fx.bin);
    let mut c = wget().unwrap();
    c.args(["--no-passive-ftp", "-O", &fx.ls("a.dat")])
        .arg(fx.url("bin.dat"));
    let mark = fx.mark();
    run(c, None, T).assert_ok();
    fx.assert_used(mark, "wget --no-passive-ftp", &["PORT", "EPRT"]);
    assert_same("wget active", &fx.read_local("a.dat"), &fx.bin);
    // Resume: the local file holds a prefix.
    fs::create_dir(fx.l("resume")).unwrap();
    fs::write(fx.l("resume/bin.dat"), &fx.bin[..500_000]).unwrap();
    let mut c = wget().unwrap();
    c.args(["-c", "-P", &fx.ls("resume")])
        .arg(fx.url("bin.dat"));
    run(c, None, T).assert_ok();
    assert_same("wget -c", &fx.read_local("resume/bin.dat"), &fx.bin);
    // Recursive: wget parses our LIST (ls -l) output.
    let mut c = wget().unwrap();
    c.args(["-r", "-nH", "-P", &fx.ls("mirror")])
        .arg(fx.url("pub/"));
    run(c, None, T).assert_ok();
    assert_eq!(fx.read_local("mirror/pub/a.txt"), b"file a\n");
    assert_eq!(fx.read_local("mirror/pub/b.bin"), pattern(70_000, 2));
    assert_eq!(fx.read_local("mirror/pub/sub/c.txt"), b"file c\n");
    // Escapes.
    for p in [
        "../outside/secret.txt",
        "to_outside/secret.txt",
        "escape/etc/passwd",
    ] {
        let mut c = wget().unwrap();
        c.args(["-O", &fx.ls("stolen")]).arg(fx.url(p));
        let o = run(c, None, T);
        let got = lossy(&fs::read(fx.l("stolen")).unwrap_or_default());
        assert!(
            !got.contains(SECRET) && !got.contains("root:x:0:0"),
            "wget {p}: {got}"
        );
        assert!(!o.ok(), "wget {p} should fail: {}", o.describe());
    }
}

#[test]
fn curl_over_ipv6_with_epsv_and_eprt() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("SKIP: no IPv6 loopback on this machine");
        return;
    }
    let fx = Fx::with(Server::builder().arg("-l").arg("::1"));
    let Some(_) = curl() else { return };
    assert!(fx
        .srv
        .wait_for_log(START_TIMEOUT, |l| l.contains("listening on [::1]:")));
    let port = fx
        .srv
        .logs()
        .lines()
        .filter_map(|l| l.split("listening on [::1]:").nth(1))
        .next()
        .and_then(|p| p.split_whitespace().next().map(str::to_string))
        .expect("the IPv6 port");
    let url = format!(
        "ftp://{}:{}@[::1]:{port}/bin.dat",
        ALICE.name, ALICE.password
    );
    for (name, extra) in [("v6-epsv", vec![]), ("v6-eprt", vec!["--ftp-port", "::1"])] {
        let mark = fx.mark();
        let mut c = curl().unwrap();
        c.arg("-g").args(&extra).arg(&url).arg("-o").arg(fx.l(name));
        run(c, None, T).assert_ok();
        assert_same(name, &fx.read_local(name), &fx.bin);
        let verb = if extra.is_empty() {
            "EPSV"
        } else {
            "EPRT |2|::1|"
        };
        fx.assert_used(mark, name, &[verb]);
    }
}
