//! lftp against the real server: transfers, resume and file operations in both modes, mirror
//! both ways, escape attempts, MLSD and MFMT, and `put -a` in a fresh session (ASCII default).
//!
//! A missing client prints `SKIP: <client> not installed` and the test passes, except when the
//! `CI` variable is set: CI installs every client (.ci/run), so there a missing one fails.
//! Every subprocess is killed when it outlives its timeout; the plumbing and the fixture are in
//! `tests/common/clients.rs`.

mod common;

use common::clients::*;
use common::*;
use std::fs;
use std::time::Duration;

// ----- lftp --------------------------------------------------------------------------------

#[test]
fn lftp_transfers_resume_and_file_ops_in_both_modes() {
    let fx = Fx::new();
    if !have("lftp", find_program("lftp").is_some()) {
        return;
    }
    let up = pattern(222_222, 4);
    fs::write(fx.l("up.bin"), &up).unwrap();
    fs::write(fx.l("up.txt"), TEXT).unwrap();
    for passive in [true, false] {
        let m = if passive { "pasv" } else { "port" };
        fs::write(fx.l(&format!("part_{m}")), &fx.bin[..300_000]).unwrap();
        fs::write(fx.root().join(format!("rput_{m}")), &up[..1000]).unwrap();
        let script = format!(
            "set cmd:fail-exit yes; \
             get bin.dat -o {dl}; \
             put {upbin} -o up_{m}.bin; \
             put -a {uptxt} -o up_{m}.txt; \
             get -a text.txt -o {txt}; \
             get -c bin.dat -o {part}; \
             put -c {upbin} -o rput_{m}; \
             mkdir dir_{m}; \
             mv up_{m}.bin dir_{m}/moved.bin; \
             cls -1 dir_{m} > {listing}; \
             rm dir_{m}/moved.bin; \
             rmdir dir_{m}",
            dl = fx.ls(&format!("dl_{m}")),
            upbin = fx.ls("up.bin"),
            uptxt = fx.ls("up.txt"),
            txt = fx.ls(&format!("txt_{m}")),
            part = fx.ls(&format!("part_{m}")),
            listing = fx.ls(&format!("listing_{m}")),
        );
        let mark = fx.mark();
        let o = lftp(&fx, passive, &script);
        o.assert_ok();
        if passive {
            fx.assert_used(mark, "lftp passive", &["PASV", "EPSV"]);
        } else {
            fx.assert_used(mark, "lftp active", &["PORT", "EPRT"]);
        }
        assert_same(
            &format!("lftp get {m}"),
            &fx.read_local(&format!("dl_{m}")),
            &fx.bin,
        );
        assert_same(
            &format!("lftp get -c {m}"),
            &fx.read_local(&format!("part_{m}")),
            &fx.bin,
        );
        assert_same(
            &format!("lftp put -c {m}"),
            &fx.read_remote(&format!("rput_{m}")),
            &up,
        );
        // lftp converts LF to CRLF on the wire in ASCII mode; the server stores LF again.
        assert_same(
            &format!("lftp put -a {m}"),
            &fx.read_remote(&format!("up_{m}.txt")),
            TEXT,
        );
        assert_same(
            &format!("lftp get -a {m}"),
            &fx.read_local(&format!("txt_{m}")),
            TEXT,
        );
        let listing = lossy(&fx.read_local(&format!("listing_{m}")));
        assert!(listing.trim().ends_with("moved.bin"), "lftp cls: {listing}");
        assert!(!fx.root().join(format!("dir_{m}")).exists(), "rmdir");
        assert!(!fx.root().join(format!("up_{m}.bin")).exists(), "mv");
    }
}

#[test]
fn lftp_mirror_both_ways_and_escapes() {
    let fx = Fx::new();
    if !have("lftp", find_program("lftp").is_some()) {
        return;
    }
    fs::create_dir_all(fx.l("tree/inner")).unwrap();
    fs::write(fx.l("tree/one.txt"), b"one").unwrap();
    fs::write(fx.l("tree/inner/two.bin"), pattern(50_000, 5)).unwrap();
    let script = format!(
        "set cmd:fail-exit yes; mirror pub {down}; mirror -R {tree} uptree",
        down = fx.ls("down"),
        tree = fx.ls("tree"),
    );
    lftp(&fx, true, &script).assert_ok();
    assert_eq!(fx.read_local("down/a.txt"), b"file a\n");
    assert_eq!(fx.read_local("down/b.bin"), pattern(70_000, 2));
    assert_eq!(fx.read_local("down/sub/c.txt"), b"file c\n");
    assert_eq!(fx.read_remote("uptree/one.txt"), b"one");
    assert_eq!(fx.read_remote("uptree/inner/two.bin"), pattern(50_000, 5));

    let before = snapshot(&fx.srv.outside());
    fs::write(fx.l("evil"), b"evil").unwrap();
    let script = format!(
        "set cmd:fail-exit no; \
         get ../outside/secret.txt -o {s1}; \
         get to_outside/secret.txt -o {s2}; \
         get /../../etc/passwd -o {s3}; \
         cd to_outside; cd rel_outside; cd ..; cd ..; \
         cls -1a; cls -1a ../..; cls -1a to_outside/; \
         put {evil} -o ../outside/evil; put {evil} -o to_outside/evil; \
         rm to_outside/secret.txt; mv rel_outside/secret.txt here.txt; \
         mirror ../ {m}",
        s1 = fx.ls("s1"),
        s2 = fx.ls("s2"),
        s3 = fx.ls("s3"),
        evil = fx.ls("evil"),
        m = fx.ls("escmirror"),
    );
    let o = lftp(&fx, true, &script);
    assert!(!o.timed_out, "{}", o.describe());
    let out = o.all_output();
    assert!(
        !out.contains(SECRET) && !out.contains("root:x:0:0"),
        "{out}"
    );
    for f in ["s1", "s2", "s3"] {
        let got = lossy(&fs::read(fx.l(f)).unwrap_or_default());
        assert!(
            !got.contains(SECRET) && !got.contains("root:x:0:0"),
            "{f}: {got}"
        );
    }
    // The mirror of `../` is a mirror of the root: it must hold nothing from outside.
    let m = snapshot(&fx.l("escmirror"));
    assert!(
        !m.keys().any(|p| p.to_string_lossy().contains("secret")),
        "mirror of ../ reached outside: {m:?}"
    );
    assert_eq!(
        before,
        snapshot(&fx.srv.outside()),
        "outside the root changed"
    );
}

#[test]
fn lftp_uses_mlsd_and_mfmt() {
    let fx = Fx::new();
    if !have("lftp", find_program("lftp").is_some()) {
        return;
    }
    fs::create_dir_all(fx.l("tree")).unwrap();
    fs::write(fx.l("tree/old.txt"), b"dated").unwrap();
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_577_934_245);
    fs::File::options()
        .write(true)
        .open(fx.l("tree/old.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let mark = fx.mark();
    let script = format!(
        "set cmd:fail-exit yes; cls -l /pub; mirror -R {} dated",
        fx.ls("tree")
    );
    lftp(&fx, true, &script).assert_ok();
    fx.assert_used(mark, "lftp listing", &["MLSD"]);
    fx.assert_used(mark, "lftp mirror -R", &["MFMT"]);
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(fx.root().join("dated/old.txt")).unwrap();
    assert_eq!(m.mtime(), 1_577_934_245, "mirror -R kept the time via MFMT");
}

/// Issue 10: lftp's `put -a` sends no `TYPE A` in a fresh session (ASCII is the default), so
/// while sessions started in binary its CR LF wire text was stored as CR LF. Expected: LF text
/// stored as LF, and `get -a` as the first command gives LF text back.
#[test]
fn lftp_put_a_without_type_a_stores_lf_text() {
    let fx = Fx::new();
    if !have("lftp", find_program("lftp").is_some()) {
        return;
    }
    fs::write(fx.l("up.txt"), TEXT).unwrap();
    let mark = fx.mark();
    let script = format!(
        "set cmd:fail-exit yes; put -a {} -o fresh.txt",
        fx.ls("up.txt")
    );
    lftp(&fx, true, &script).assert_ok();
    assert!(fx
        .srv
        .wait_for_log_after(mark, Duration::from_secs(5), |l| l
            .contains("> STOR fresh.txt")));
    let logs = fx.srv.logs();
    let sent: Vec<&str> = logs
        .lines()
        .skip(mark)
        .filter(|l| l.contains("> TYPE"))
        .collect();
    assert!(sent.is_empty(), "lftp set the type itself: {sent:?}");
    assert_same(
        "lftp put -a, fresh session",
        &fx.read_remote("fresh.txt"),
        TEXT,
    );
    let script = format!(
        "set cmd:fail-exit yes; get -a text.txt -o {}",
        fx.ls("got.txt")
    );
    lftp(&fx, true, &script).assert_ok();
    assert_same(
        "lftp get -a, fresh session",
        &fx.read_local("got.txt"),
        TEXT,
    );
}
