//! Confinement: `..`, absolute paths and symlinks inside the root (to `/`, `/etc`, `../..`,
//! a sibling directory, loops) must never let RETR/LIST/CWD/STOR/APPE/RNFR/RNTO/DELE/MKD/RMD
//! reach outside the root (or a user's home), and nothing outside may change.
//!
//! Layout made by `jail()` (`<base>` is the test's temp dir):
//! ```text
//! <base>/outside/secret.txt            SECRET marker, never to be seen
//! <base>/outside/outside_only_name.txt a name that must never be listed
//! <base>/outside/subdir/keep.txt
//! <base>/root/                         the server root (anonymous, and alice's home)
//!   pub/file.txt, etc/passwd (a fake: the only passwd a client may ever see)
//!   home/carol/mine.txt                carol's home
//!   to_slash -> /          to_etc -> /etc        up1 -> ..        up2 -> ../..
//!   to_outside -> <base>/outside       rel_outside -> ../outside
//!   secret_link -> <base>/outside/secret.txt
//!   loop_a -> loop_b   loop_b -> loop_a   self_loop -> self_loop   deep -> deep/deep
//! ```
//! Chroot semantics (DESIGN.md, The jail) mean an absolute target starts again at the root, so
//! `to_etc/passwd` may legitimately serve the fake passwd; what must never happen is a byte or a
//! name from outside.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

const SECRET: &str = "SECRET-OUTSIDE-MARKER";
const OUTSIDE_NAME: &str = "outside_only_name";
const FAKE_PASSWD: &[u8] = b"JAILED-FAKE-PASSWD\n";

fn jail(b: ServerBuilder) -> Server {
    let root = b.root();
    let out = b.outside();
    fs::write(out.join("secret.txt"), format!("{SECRET}\n")).unwrap();
    fs::write(out.join(format!("{OUTSIDE_NAME}.txt")), "x").unwrap();
    fs::create_dir(out.join("subdir")).unwrap();
    fs::write(out.join("subdir/keep.txt"), "keep").unwrap();

    fs::create_dir_all(root.join("pub")).unwrap();
    fs::write(root.join("pub/file.txt"), "public").unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/passwd"), FAKE_PASSWD).unwrap();
    fs::create_dir_all(root.join("home/carol")).unwrap();
    fs::write(root.join("home/carol/mine.txt"), "carol's").unwrap();
    symlink("../..", root.join("home/carol/esc")).unwrap();
    symlink("/", root.join("home/carol/abs")).unwrap();
    symlink("/", root.join("to_slash")).unwrap();
    symlink("/etc", root.join("to_etc")).unwrap();
    symlink("..", root.join("up1")).unwrap();
    symlink("../..", root.join("up2")).unwrap();
    symlink(&out, root.join("to_outside")).unwrap();
    symlink("../outside", root.join("rel_outside")).unwrap();
    symlink(out.join("secret.txt"), root.join("secret_link")).unwrap();
    symlink("loop_b", root.join("loop_a")).unwrap();
    symlink("loop_a", root.join("loop_b")).unwrap();
    symlink("self_loop", root.join("self_loop")).unwrap();
    symlink("deep/deep", root.join("deep")).unwrap();
    let carol_home = root.join("home/carol");
    b.user(ALICE).user_with_home(CAROL, carol_home).start()
}

/// Fails if `bytes` (a reply or data) shows anything from outside the root.
fn assert_no_leak(srv: &Server, what: &str, bytes: &[u8], check_real_path: bool) {
    let text = lossy(bytes);
    for marker in [
        SECRET,
        OUTSIDE_NAME,
        "root:x:0:0",
        "$6$alicesalt",
        "daemon:x:",
        "os error",
    ] {
        assert!(!text.contains(marker), "{what}: leaked {marker:?}:\n{text}");
    }
    if check_real_path {
        let base = srv.base().to_str().unwrap();
        assert!(
            !text.contains(base),
            "{what}: reply shows a real path:\n{text}"
        );
    }
}

enum Outcome {
    Data(Vec<u8>),
    Refused(u16, String),
}

/// Sends a download-direction command; returns the data or the refusal.
fn try_in(srv: &Server, c: &mut FtpClient, cmd: &str) -> Outcome {
    let data = c.pasv();
    let r = c.cmd_raw(cmd.as_bytes());
    assert_no_leak(srv, cmd, &r.raw, true);
    if r.code != 150 && r.code != 125 {
        assert!(r.code >= 400, "{cmd}: unexpected {}", r.text());
        return Outcome::Refused(r.code, r.text());
    }
    let mut s = data.stream();
    let buf = read_all(&mut s).unwrap();
    let end = c.read_reply_raw();
    assert_no_leak(srv, cmd, &end.raw, true);
    assert_no_leak(srv, cmd, &buf, false);
    if end.code != 226 {
        return Outcome::Refused(end.code, end.text());
    }
    Outcome::Data(buf)
}

/// Sends a command without data; checks the reply leaks nothing.
fn simple(srv: &Server, c: &mut FtpClient, cmd: &str) -> (u16, String) {
    let r = c.cmd_raw(cmd.as_bytes());
    assert_no_leak(srv, cmd, &r.raw, true);
    (r.code, r.text())
}

/// RETR of `path` must fail, or serve exactly a file that lives inside the root.
fn retr_confined(srv: &Server, c: &mut FtpClient, path: &str, allowed: &[&[u8]]) {
    match try_in(srv, c, &format!("RETR {path}")) {
        Outcome::Refused(code, text) => assert_eq!(code, 550, "RETR {path}: {text}"),
        Outcome::Data(d) => assert!(
            allowed.contains(&&d[..]),
            "RETR {path} served bytes from outside the root: {:?}",
            lossy(&d)
        ),
    }
}

const PROBES: &[&str] = &[
    "../outside/secret.txt",
    "/../outside/secret.txt",
    "//../outside/secret.txt",
    "pub/../../outside/secret.txt",
    "pub/../../../../../../../outside/secret.txt",
    "/etc/../../outside/secret.txt",
    "../users",
    "/../users",
    "..\\outside\\secret.txt",
    "....//outside/secret.txt",
    "to_outside/secret.txt",
    "rel_outside/secret.txt",
    "up1/outside/secret.txt",
    "up2/outside/secret.txt",
    "up1/up1/up2/outside/secret.txt",
    "secret_link",
    "to_slash/../outside/secret.txt",
];

#[test]
fn retr_never_reads_outside() {
    let srv = jail(Server::builder());
    let abs = format!("{}/outside/secret.txt", srv.base().display());
    let mut c = srv.anon();
    // Exact bytes are compared: binary, as a real client sets before a download.
    c.expect("TYPE I", 200);
    for p in PROBES.iter().copied().chain([abs.as_str()]) {
        retr_confined(&srv, &mut c, p, &[]);
        let (code, text) = simple(&srv, &mut c, &format!("SIZE {p}"));
        assert_eq!(code, 550, "SIZE {p}: {text}");
    }
    // Ways to /etc/passwd: only the fake one inside the root may ever come back.
    for p in [
        "/../../etc/passwd",
        "../../../../../../../etc/passwd",
        "/etc/passwd",
        "to_etc/passwd",
        "to_slash/etc/passwd",
        "up2/etc/passwd",
        "up1/../../etc/passwd",
        "to_slash/../../../etc/passwd",
    ] {
        retr_confined(&srv, &mut c, p, &[FAKE_PASSWD]);
    }
    // A path that does exist inside the root through a chroot-style link.
    match try_in(&srv, &mut c, "RETR to_slash/pub/file.txt") {
        Outcome::Data(d) => assert_eq!(d, b"public"),
        Outcome::Refused(code, _) => assert_eq!(code, 550),
    }
    c.expect("NOOP", 200);
}

#[test]
fn cwd_and_listings_never_leave_the_root() {
    let srv = jail(Server::builder());
    let mut c = srv.anon();
    let root_pwd = |c: &mut FtpClient| {
        let r = c.cmd_raw(b"PWD");
        assert_eq!(r.code, 257);
        parse_257(&r.lines[0]).unwrap()
    };
    c.expect("CWD ..", 250);
    assert_eq!(root_pwd(&mut c), b"/", "CWD .. at the root stays at /");
    c.expect("CWD /../../..", 250);
    assert_eq!(root_pwd(&mut c), b"/");
    c.expect("CWD pub", 250);
    c.expect("CWD ../../..", 250);
    assert_eq!(root_pwd(&mut c), b"/");
    for p in ["../outside", "/../outside", "pub/../../outside"] {
        let (code, text) = simple(&srv, &mut c, &format!("CWD {p}"));
        assert_eq!(code, 550, "CWD {p}: {text}");
    }
    for link in [
        "to_slash",
        "to_etc",
        "up1",
        "up2",
        "to_outside",
        "rel_outside",
        "secret_link",
        "up2/up1",
    ] {
        c.expect("CWD /", 250);
        let (code, text) = simple(&srv, &mut c, &format!("CWD {link}"));
        if code == 250 {
            // Wherever it went, it is inside the root: the listing shows nothing from outside.
            match try_in(&srv, &mut c, "LIST -a") {
                Outcome::Data(_) | Outcome::Refused(..) => {}
            }
            let (code, _) = simple(&srv, &mut c, "PWD");
            assert_eq!(code, 257);
            c.expect("CWD ..", 250);
            let _ = try_in(&srv, &mut c, "NLST -a");
        } else {
            assert_eq!(code, 550, "CWD {link}: {text}");
        }
    }
    c.expect("CWD /", 250);
    for p in [
        "..",
        "../..",
        "/..",
        "../outside",
        "to_outside",
        "to_outside/",
        "rel_outside",
        "up1",
        "up2",
        "up2/..",
        "to_slash",
        "to_etc",
        "to_slash/..",
        "secret_link",
    ] {
        let _ = try_in(&srv, &mut c, &format!("LIST -a {p}"));
        let _ = try_in(&srv, &mut c, &format!("NLST {p}"));
        // STAT lists on the control connection: link texts (which the admin wrote, and which
        // may name real paths) are part of an ls -l line, so only markers are checked.
        let r = c.cmd_raw(format!("STAT {p}").as_bytes());
        assert_no_leak(&srv, &format!("STAT {p}"), &r.raw, false);
        let (_, _) = simple(&srv, &mut c, &format!("MDTM {p}"));
    }
    // `LIST ..` at the root is the root itself.
    match try_in(&srv, &mut c, "NLST ..") {
        Outcome::Data(d) => {
            let names = lossy(&d);
            assert!(
                names.contains("pub"),
                "NLST .. at / lists the root: {names}"
            );
        }
        Outcome::Refused(code, text) => panic!("NLST .. at the root: {code} {text}"),
    }
}

#[test]
fn symlink_loops_fail_fast() {
    let srv = jail(Server::builder());
    let mut c = srv.anon();
    for p in [
        "loop_a",
        "loop_b",
        "self_loop",
        "deep",
        "loop_a/x",
        "deep/deep/deep",
    ] {
        let t = Instant::now();
        retr_confined(&srv, &mut c, p, &[]);
        let (code, text) = simple(&srv, &mut c, &format!("CWD {p}"));
        assert_eq!(code, 550, "CWD {p}: {text}");
        let (code, text) = simple(&srv, &mut c, &format!("SIZE {p}"));
        assert_eq!(code, 550, "SIZE {p}: {text}");
        if let Outcome::Data(d) = try_in(&srv, &mut c, &format!("LIST {p}")) {
            // A listing of the link itself (ls -l shows the link) is fine; nothing else.
            assert!(listing_lines(&d).len() <= 1, "LIST {p}: {}", lossy(&d));
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{p}: took {:?}",
            t.elapsed()
        );
    }
    // The directory holding the loops lists fine.
    let raw = c.list("-a");
    let text = lossy(&raw);
    assert!(text.contains("loop_a -> loop_b"), "{text}");
    assert!(text.contains("pub"), "{text}");
    c.expect("NOOP", 200);
}

fn unique_escape_name() -> String {
    format!(
        "ferroftpd-escape-probe-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )
    .replace(['(', ')'], "")
}

/// Removes (and reports) a file that an escaping write created in a real system directory.
fn escaped_to(p: &Path) -> bool {
    if fs::symlink_metadata(p).is_ok() {
        let _ = fs::remove_file(p);
        let _ = fs::remove_dir(p);
        true
    } else {
        false
    }
}

#[test]
fn writes_never_change_anything_outside() {
    let srv = jail(Server::builder());
    let before = snapshot(&srv.outside());
    let base_abs = srv.base().display().to_string();
    let probe = unique_escape_name();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);

    let mut targets: Vec<String> = [
        "to_outside/new.txt",
        "rel_outside/new.txt",
        "up1/outside/new.txt",
        "up2/outside/new.txt",
        "../outside/new.txt",
        "/../outside/new.txt",
        "pub/../../outside/new.txt",
        "to_outside/secret.txt",
        "rel_outside/subdir/keep.txt",
        "secret_link",
        "to_outside/subdir/new.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    targets.push(format!("{base_abs}/outside/new.txt"));
    targets.push(format!("to_slash/{probe}"));
    targets.push(format!("to_etc/{probe}"));
    targets.push(format!("up2/{probe}"));

    for t in &targets {
        for verb in ["STOR", "APPE"] {
            let cmd = format!("{verb} {t}");
            let data = c.pasv();
            let r = c.cmd_raw(cmd.as_bytes());
            assert_no_leak(&srv, &cmd, &r.raw, true);
            if r.code == 150 || r.code == 125 {
                let mut s = data.stream();
                std::io::Write::write_all(&mut s, b"OVERWRITTEN").unwrap();
                drop(s);
                let end = c.read_reply_raw();
                assert_no_leak(&srv, &cmd, &end.raw, true);
            } else {
                assert!(r.code >= 400, "{cmd}: {}", r.text());
            }
        }
        let _ = simple(&srv, &mut c, &format!("MKD {t}.d"));
        let _ = simple(&srv, &mut c, &format!("DELE {t}"));
    }
    for t in [
        "to_outside/secret.txt",
        "rel_outside/secret.txt",
        "up2/outside/secret.txt",
        "../outside/secret.txt",
        "to_outside/subdir/keep.txt",
        "secret_link",
    ] {
        let _ = simple(&srv, &mut c, &format!("DELE {t}"));
        let (code, _) = simple(&srv, &mut c, &format!("RNFR {t}"));
        if code == 350 {
            let _ = simple(&srv, &mut c, "RNTO stolen.txt");
        }
    }
    for d in [
        "to_outside/subdir",
        "rel_outside/subdir",
        "../outside/subdir",
        "up2/outside/subdir",
    ] {
        let _ = simple(&srv, &mut c, &format!("RMD {d}"));
        let _ = simple(&srv, &mut c, &format!("MKD {d}/newdir"));
    }
    for dest in [
        "to_outside/moved.txt",
        "../outside/moved.txt",
        "rel_outside/moved.txt",
        "up2/outside/moved.txt",
    ] {
        if !srv.root().join("pub/file.txt").exists() {
            fs::write(srv.root().join("pub/file.txt"), "public").unwrap();
        }
        let (code, _) = simple(&srv, &mut c, "RNFR pub/file.txt");
        assert_eq!(code, 350);
        let _ = simple(&srv, &mut c, &format!("RNTO {dest}"));
    }
    c.expect("NOOP", 200);

    let mut escaped = Vec::new();
    for real in [
        Path::new("/").join(&probe),
        Path::new("/etc").join(&probe),
        Path::new("/").join(format!("{probe}.d")),
        Path::new("/etc").join(format!("{probe}.d")),
    ] {
        if escaped_to(&real) {
            escaped.push(real.display().to_string());
        }
    }
    assert!(escaped.is_empty(), "writes escaped the root to {escaped:?}");
    assert_eq!(
        before,
        snapshot(&srv.outside()),
        "something outside the root changed"
    );
    assert!(
        !srv.base().join("stolen.txt").exists() && !srv.base().join("moved.txt").exists(),
        "a rename escaped the root"
    );
}

#[test]
fn user_is_confined_to_home() {
    let srv = jail(Server::builder());
    let root_before = snapshot(&srv.root());
    let mut c = srv.login(CAROL);
    let r = c.cmd_raw(b"PWD");
    assert_eq!(
        parse_257(&r.lines[0]).unwrap(),
        b"/",
        "the home is the session's /"
    );
    assert_eq!(c.retr("mine.txt"), b"carol's");
    c.expect("CWD ..", 250);
    assert_eq!(parse_257(&c.cmd_raw(b"PWD").lines[0]).unwrap(), b"/");
    for p in [
        "../../pub/file.txt",
        "/../../pub/file.txt",
        "../../etc/passwd",
        "esc/pub/file.txt",
        "esc/../../pub/file.txt",
        "abs/pub/file.txt",
        "abs/etc/passwd",
    ] {
        match try_in(&srv, &mut c, &format!("RETR {p}")) {
            Outcome::Refused(code, text) => assert_eq!(code, 550, "RETR {p}: {text}"),
            Outcome::Data(d) => panic!("carol read {p} outside her home: {:?}", lossy(&d)),
        }
    }
    for p in ["esc", "abs", "..", "../.."] {
        if let Outcome::Data(d) = try_in(&srv, &mut c, &format!("NLST -a {p}")) {
            let names = lossy(&d);
            assert!(
                !names.contains("pub") && !names.contains("passwd") && !names.contains("to_etc"),
                "NLST {p} shows the root outside carol's home: {names}"
            );
        }
    }
    for t in [
        "../../pub/evil",
        "esc/pub/evil",
        "../../evil",
        "abs/../evil",
    ] {
        let data = c.pasv();
        let r = c.cmd_raw(format!("STOR {t}").as_bytes());
        if r.code == 150 {
            let mut s = data.stream();
            std::io::Write::write_all(&mut s, b"evil").unwrap();
            drop(s);
            c.read_reply_raw();
        }
        let _ = simple(&srv, &mut c, &format!("DELE {t}"));
    }
    let _ = simple(&srv, &mut c, "RNFR ../../pub/file.txt");
    let _ = simple(&srv, &mut c, "RNTO mine2.txt");
    let _ = simple(&srv, &mut c, "RMD ../../pub");
    c.expect("NOOP", 200);
    // Only carol's own home may have changed.
    let after = snapshot(&srv.root());
    let outside_home = |s: &Snapshot| -> Snapshot {
        s.iter()
            .filter(|(p, _)| !p.starts_with("home/carol"))
            .map(|(p, v)| (p.clone(), *v))
            .collect()
    };
    assert_eq!(
        outside_home(&root_before),
        outside_home(&after),
        "carol changed the root"
    );
}

/// A path swapped between a check and its use (TOCTOU): `race` flips between an inside file or
/// directory and a symlink to outside while a client keeps reading and writing through it. The
/// jail resolves on descriptors (DESIGN.md, The jail), so no flip may ever leak or write outside.
#[test]
fn symlink_swap_races_never_escape() {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;
    let srv = jail(Server::builder());
    let root = srv.root();
    let out = srv.outside();
    let before = snapshot(&out);
    fs::write(root.join("race"), "inside").unwrap();
    fs::create_dir(root.join("racedir")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Counted as it goes, so the client keeps racing until the flipper has really run: on a
    // loaded machine 400 client rounds can finish while the flipper got a handful of turns.
    let flips_so_far = Arc::new(AtomicU32::new(0));
    let flipper = {
        let (root, out, stop) = (root.clone(), out.clone(), stop.clone());
        let flips_so_far = flips_so_far.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut flips = 0u32;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && flips < 200_000 {
                // File: an outside symlink, then a fresh inside file, each renamed into place.
                let _ = fs::remove_file(root.join(".t1"));
                symlink(out.join("secret.txt"), root.join(".t1")).unwrap();
                fs::rename(root.join(".t1"), root.join("race")).unwrap();
                fs::write(root.join(".t2"), "inside").unwrap();
                fs::rename(root.join(".t2"), root.join("race")).unwrap();
                // Directory: a real one, then a symlink to outside.
                let _ = fs::remove_file(root.join("racedir"));
                let _ = fs::remove_dir_all(root.join("racedir"));
                let _ = fs::create_dir(root.join("racedir"));
                let _ = fs::remove_dir_all(root.join("racedir"));
                let _ = symlink(&out, root.join("racedir"));
                flips += 1;
                flips_so_far.store(flips, Ordering::Relaxed);
            }
            flips
        })
    };
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let t = Instant::now();
    let mut rounds = 0u32;
    // At least 3 s or 400 rounds, and on until the flipper has made 100 flips (20 s at most).
    let raced_enough = |rounds: u32| {
        (t.elapsed() >= Duration::from_secs(3) || rounds >= 400)
            && flips_so_far.load(Ordering::Relaxed) >= 100
    };
    while t.elapsed() < Duration::from_secs(20) && !raced_enough(rounds) {
        retr_confined(&srv, &mut c, "race", &[b"inside"]);
        let _ = try_in(&srv, &mut c, "LIST racedir");
        let data = c.pasv();
        let r = c.cmd_raw(format!("STOR racedir/w{rounds}").as_bytes());
        if r.code == 150 {
            let mut s = data.stream();
            std::io::Write::write_all(&mut s, b"raced").unwrap();
            drop(s);
            c.read_reply_raw();
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(
        flips > 10 && rounds > 10,
        "the race did not run: {flips} flips, {rounds} rounds"
    );
    c.expect("NOOP", 200);
    assert_eq!(
        before,
        snapshot(&out),
        "a raced write reached outside the root"
    );
}
