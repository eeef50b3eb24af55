//! BusyBox ftpget/ftpput and tnftp against the real server: get and put, passive and active,
//! ASCII.
//!
//! A missing client prints `SKIP: <client> not installed` and the test passes, except when the
//! `CI` variable is set: CI installs every client (.ci/run), so there a missing one fails.
//! Every subprocess is killed when it outlives its timeout; the plumbing and the fixture are in
//! `tests/common/clients.rs`.

mod common;

use common::clients::*;
use common::*;
use std::fs;
use std::process::Command;

// ----- BusyBox -----------------------------------------------------------------------------

#[test]
fn busybox_ftpget_ftpput() {
    let fx = Fx::new();
    let Some(_) = busybox("ftpget") else { return };
    let Some(_) = busybox("ftpput") else { return };
    let creds = ["-u", ALICE.name, "-p", ALICE.password, "-P"];
    let mut c = busybox("ftpget").unwrap();
    c.args(creds)
        .arg(fx.port())
        .args(["127.0.0.1", &fx.ls("get.dat"), "bin.dat"]);
    let mark = fx.mark();
    run(c, None, T).assert_ok();
    fx.assert_used(mark, "busybox ftpget", &["EPSV"]);
    assert_same("ftpget", &fx.read_local("get.dat"), &fx.bin);
    // Continue a partial download.
    fs::write(fx.l("cont.dat"), &fx.bin[..77_777]).unwrap();
    let mut c = busybox("ftpget").unwrap();
    c.arg("-c")
        .args(creds)
        .arg(fx.port())
        .args(["127.0.0.1", &fx.ls("cont.dat"), "bin.dat"]);
    run(c, None, T).assert_ok();
    assert_same("ftpget -c", &fx.read_local("cont.dat"), &fx.bin);
    // Upload.
    let up = pattern(333_333, 6);
    fs::write(fx.l("up.bin"), &up).unwrap();
    let mut c = busybox("ftpput").unwrap();
    c.args(creds)
        .arg(fx.port())
        .args(["127.0.0.1", "pub/put.bin", &fx.ls("up.bin")]);
    run(c, None, T).assert_ok();
    assert_same("ftpput", &fx.read_remote("pub/put.bin"), &up);
    // Escapes.
    let before = snapshot(&fx.srv.outside());
    for p in [
        "../outside/secret.txt",
        "to_outside/secret.txt",
        "/../../etc/passwd",
    ] {
        let mut c = busybox("ftpget").unwrap();
        c.args(creds)
            .arg(fx.port())
            .args(["127.0.0.1", &fx.ls("stolen"), p]);
        let o = run(c, None, T);
        let got = lossy(&fs::read(fx.l("stolen")).unwrap_or_default());
        assert!(
            !got.contains(SECRET) && !got.contains("root:x:0:0"),
            "ftpget {p}: {got}"
        );
        assert!(!o.ok(), "ftpget {p} should fail: {}", o.describe());
    }
    let mut c = busybox("ftpput").unwrap();
    c.args(creds)
        .arg(fx.port())
        .args(["127.0.0.1", "../outside/evil", &fx.ls("up.bin")]);
    let o = run(c, None, T);
    assert!(
        !o.ok(),
        "ftpput ../outside/evil should fail: {}",
        o.describe()
    );
    assert_eq!(before, snapshot(&fx.srv.outside()));
}

// ----- tnftp -------------------------------------------------------------------------------

#[test]
fn tnftp_get_put_passive_active_ascii() {
    let fx = Fx::new();
    let Some(_) = tool("tnftp") else { return };
    let up = pattern(99_999, 9);
    fs::write(fx.l("up.bin"), &up).unwrap();
    fs::write(fx.l("up.txt"), TEXT).unwrap();
    for passive in ["on", "off"] {
        let script = format!(
            "open 127.0.0.1 {port}\nuser {u} {p}\npassive {passive}\nbinary\n\
             get bin.dat {dl}\nput {upbin} tn_{passive}.bin\n\
             ascii\nget text.txt {txt}\nput {uptxt} tn_{passive}.txt\n\
             binary\nmkdir tndir_{passive}\nrename tn_{passive}.bin tndir_{passive}/x.bin\nbye\n",
            port = fx.port(),
            u = ALICE.name,
            p = ALICE.password,
            dl = fx.ls(&format!("tn_{passive}.dat")),
            upbin = fx.ls("up.bin"),
            txt = fx.ls(&format!("tn_{passive}.txt")),
            uptxt = fx.ls("up.txt"),
        );
        let mut c = Command::new("tnftp");
        c.args(["-n", "-v"]);
        let mark = fx.mark();
        let o = run(c, Some(script.as_bytes()), T);
        assert!(!o.timed_out, "{}", o.describe());
        if passive == "on" {
            fx.assert_used(mark, "tnftp passive on", &["PASV", "EPSV"]);
        } else {
            fx.assert_used(mark, "tnftp passive off", &["PORT", "EPRT"]);
        }
        let ctx = o.describe();
        assert_same(
            &format!("tnftp get {passive}: {ctx}"),
            &fx.read_local(&format!("tn_{passive}.dat")),
            &fx.bin,
        );
        assert_same(
            &format!("tnftp put {passive}"),
            &fx.read_remote(&format!("tndir_{passive}/x.bin")),
            &up,
        );
        assert_same(
            &format!("tnftp ascii get {passive}"),
            &fx.read_local(&format!("tn_{passive}.txt")),
            TEXT,
        );
        assert_same(
            &format!("tnftp ascii put {passive}"),
            &fx.read_remote(&format!("tn_{passive}.txt")),
            TEXT,
        );
    }
    // Auto-fetch URL form.
    let mut c = Command::new("tnftp");
    c.args(["-o", &fx.ls("auto.dat")]).arg(fx.url("bin.dat"));
    run(c, None, T).assert_ok();
    assert_same("tnftp auto-fetch", &fx.read_local("auto.dat"), &fx.bin);
}
