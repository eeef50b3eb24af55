//! Interop with real clients run as subprocesses: curl, wget, lftp, BusyBox ftpget/ftpput,
//! Python ftplib and tnftp, in passive and active mode, binary and ASCII, uploads, downloads,
//! resume both ways, file operations, a 100 MiB file, 20 clients at once, and escape attempts.
//!
//! A missing client prints `SKIP: <client> not installed` and the test passes, except when the
//! `CI` variable is set: CI installs every client (.ci/run), so there a missing one fails.
//! Every subprocess is killed when it outlives its timeout.

mod common;

use common::*;
use std::env;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(60);
const SECRET: &str = "SECRET-OUTSIDE-MARKER";
const TEXT: &[u8] = b"line one\nline two\n\nlast line\n";
const TEXT_CRLF: &[u8] = b"line one\r\nline two\r\n\r\nlast line\r\n";

// ----- subprocess plumbing -----------------------------------------------------------------

struct Out {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    timed_out: bool,
    what: String,
}

impl Out {
    fn ok(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }

    fn describe(&self) -> String {
        format!(
            "{}: exit {:?}{}\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.code,
            if self.timed_out {
                " (killed: timeout)"
            } else {
                ""
            },
            lossy(&self.stdout),
            lossy(&self.stderr)
        )
    }

    fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "{}", self.describe());
        self
    }

    fn all_output(&self) -> String {
        format!("{}{}", lossy(&self.stdout), lossy(&self.stderr))
    }
}

/// Feeds a child's stdin from a thread.
type Feeder = Box<dyn FnOnce(std::process::ChildStdin) + Send>;

/// Runs `cmd` with optional stdin bytes; kills it after `timeout`.
fn run(cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Out {
    let feeder: Option<Feeder> = stdin.map(|input| {
        let input = input.to_vec();
        Box::new(move |mut w: std::process::ChildStdin| {
            let _ = w.write_all(&input);
        }) as Feeder
    });
    run_fed(cmd, feeder, timeout)
}

/// Runs `cmd`, its stdin written by `feeder` (in a thread); kills it after `timeout`.
fn run_fed(mut cmd: Command, feeder: Option<Feeder>, timeout: Duration) -> Out {
    let what = format!("{cmd:?}");
    cmd.stdin(if feeder.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    if let Some(feed) = feeder {
        let w = child.stdin.take().unwrap();
        thread::spawn(move || feed(w));
    }
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let te = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().unwrap() {
            Some(st) => break st,
            None if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap();
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    Out {
        code: status.code(),
        stdout: to.join().unwrap_or_default(),
        stderr: te.join().unwrap_or_default(),
        timed_out,
        what,
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).map(|m| m.is_file()).unwrap_or(false))
}

/// True when `client` can be used; otherwise SKIP locally, fail under CI.
fn have(client: &str, found: bool) -> bool {
    if found {
        return true;
    }
    if env::var_os("CI").is_some() {
        panic!("{client} not installed, and CI is set: .ci/run must install it");
    }
    println!("SKIP: {client} not installed");
    false
}

fn tool(name: &str) -> Option<Command> {
    if have(name, find_program(name).is_some()) {
        Some(Command::new(name))
    } else {
        None
    }
}

/// A BusyBox applet: `busybox <applet>` if the busybox binary has it, else `<applet>` itself.
fn busybox(applet: &str) -> Option<Command> {
    if find_program("busybox").is_some() {
        let list = run(
            {
                let mut c = Command::new("busybox");
                c.arg("--list");
                c
            },
            None,
            T,
        );
        if lossy(&list.stdout).lines().any(|l| l.trim() == applet) {
            let mut c = Command::new("busybox");
            c.arg(applet);
            return Some(c);
        }
    }
    if have(&format!("busybox {applet}"), find_program(applet).is_some()) {
        Some(Command::new(applet))
    } else {
        None
    }
}

// ----- fixture -----------------------------------------------------------------------------

struct Fx {
    srv: Server,
    local: TempDir,
    bin: Vec<u8>,
}

impl Fx {
    fn new() -> Fx {
        Fx::with(Server::builder())
    }

    fn with(b: ServerBuilder) -> Fx {
        let root = b.root();
        let out = b.outside();
        let bin = pattern((1 << 20) + 123, 1);
        fs::write(root.join("bin.dat"), &bin).unwrap();
        fs::write(root.join("text.txt"), TEXT).unwrap();
        fs::create_dir_all(root.join("pub/sub")).unwrap();
        fs::write(root.join("pub/a.txt"), b"file a\n").unwrap();
        fs::write(root.join("pub/b.bin"), pattern(70_000, 2)).unwrap();
        fs::write(root.join("pub/sub/c.txt"), b"file c\n").unwrap();
        fs::write(out.join("secret.txt"), format!("{SECRET}\n")).unwrap();
        symlink(&out, root.join("to_outside")).unwrap();
        symlink("/", root.join("escape")).unwrap();
        symlink("../outside", root.join("rel_outside")).unwrap();
        // -v: the log shows each command, so a test can check which data mode a client used.
        let srv = b.user(ALICE).verbose().start();
        Fx {
            srv,
            local: TempDir::new("client"),
            bin,
        }
    }

    /// Asserts that since `mark` the server saw one of `verbs` (e.g. a client really used
    /// active mode rather than falling back to passive).
    fn assert_used(&self, mark: usize, what: &str, verbs: &[&str]) {
        let seen = self
            .srv
            .wait_for_log_after(mark, Duration::from_secs(5), |l| {
                verbs.iter().any(|v| l.contains(&format!("> {v}")))
            });
        assert!(seen, "{what}: the server never saw {verbs:?}");
    }

    fn mark(&self) -> usize {
        self.srv.log_mark()
    }

    fn port(&self) -> String {
        self.srv.addr.port().to_string()
    }

    /// `ftp://alice:pw@127.0.0.1:PORT/<path>`
    fn url(&self, path: &str) -> String {
        format!(
            "ftp://{}:{}@127.0.0.1:{}/{}",
            ALICE.name,
            ALICE.password,
            self.srv.addr.port(),
            path
        )
    }

    fn root(&self) -> PathBuf {
        self.srv.root()
    }

    fn l(&self, name: &str) -> PathBuf {
        self.local.join(name)
    }

    fn ls(&self, name: &str) -> String {
        self.l(name).to_str().unwrap().to_string()
    }

    fn read_local(&self, name: &str) -> Vec<u8> {
        fs::read(self.l(name)).unwrap_or_else(|e| panic!("local {name}: {e}"))
    }

    fn read_remote(&self, name: &str) -> Vec<u8> {
        fs::read(self.root().join(name)).unwrap_or_else(|e| panic!("remote {name}: {e}"))
    }
}

fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}: {} bytes, expected {} (first difference at {:?}); got starts {:?}",
        got.len(),
        want.len(),
        got.iter().zip(want).position(|(a, b)| a != b),
        lossy(&got[..got.len().min(60)])
    );
}

fn curl() -> Option<Command> {
    let mut c = tool("curl")?;
    c.args(["-sS", "--connect-timeout", "10", "--max-time", "60"]);
    Some(c)
}

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

fn wget() -> Option<Command> {
    let mut c = tool("wget")?;
    c.args(["-q", "--tries=1", "--timeout=20"]);
    Some(c)
}

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

// ----- lftp --------------------------------------------------------------------------------

fn lftp(fx: &Fx, passive: bool, script: &str) -> Out {
    let mut c = tool("lftp").expect("checked by caller");
    let full = format!(
        "set net:max-retries 1; set net:reconnect-interval-base 1; set net:timeout 15; \
         set xfer:clobber yes; set ftp:passive-mode {}; \
         open -u {},{} -p {} 127.0.0.1; {script}; bye",
        if passive { "on" } else { "off" },
        ALICE.name,
        ALICE.password,
        fx.port()
    );
    c.args(["-c", &full]);
    run(c, None, T)
}

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

// ----- Python ftplib -----------------------------------------------------------------------

fn python(fx: &Fx, script: &str, args: &[&str], timeout: Duration) -> Option<Out> {
    let mut c = tool("python3")?;
    c.args([
        "-c",
        script,
        "127.0.0.1",
        &fx.port(),
        ALICE.name,
        ALICE.password,
    ]);
    c.args(args);
    Some(run(c, None, timeout))
}

const PY_OPS: &str = r#"
import ftplib, io, os, sys
host, port, user, pw, mode, local = sys.argv[1:7]
def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
ftp.set_pasv(mode == "pasv")
check(ftp.sendcmd("SYST") == "215 UNIX Type: L8", "SYST")
buf = io.BytesIO()
ftp.retrbinary("RETR bin.dat", buf.write)
open(os.path.join(local, "bin." + mode), "wb").write(buf.getvalue())
lines = []
ftp.retrlines("RETR text.txt", lines.append)
check(lines == ["line one", "line two", "", "last line"], "retrlines %r" % lines)
ftp.voidcmd("TYPE A")
conn = ftp.transfercmd("RETR text.txt")
wire = b""
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    wire += chunk
conn.close()
ftp.voidresp()
open(os.path.join(local, "wire." + mode), "wb").write(wire)
with open(os.path.join(local, "up.bin"), "rb") as f:
    ftp.storbinary("STOR up_%s.bin" % mode, f)
with open(os.path.join(local, "up.txt"), "rb") as f:
    ftp.storlines("STOR up_%s.txt" % mode, f)
buf = io.BytesIO()
ftp.retrbinary("RETR bin.dat", buf.write, rest=1000)
open(os.path.join(local, "rest." + mode), "wb").write(buf.getvalue())
data = open(os.path.join(local, "up.bin"), "rb").read()
ftp.storbinary("STOR resumed_" + mode, io.BytesIO(data[:5000]))
ftp.storbinary("STOR resumed_" + mode, io.BytesIO(data[5000:]), rest=5000)
check(ftp.size("bin.dat") == os.path.getsize(os.path.join(local, "bin." + mode)), "SIZE")
d = ftp.mkd("dir_" + mode)
check(d == "/dir_" + mode, "MKD returned %r" % d)
ftp.cwd(d)
check(ftp.pwd() == d, "PWD")
ftp.cwd("/")
ftp.rename("up_%s.bin" % mode, "dir_%s/renamed.bin" % mode)
check(ftp.nlst("dir_" + mode) in (["renamed.bin"], ["dir_%s/renamed.bin" % mode]), "NLST %r" % ftp.nlst("dir_" + mode))
entries = []
ftp.dir(entries.append)
check(any(e.startswith("d") and e.endswith(" dir_" + mode) for e in entries), "LIST %r" % entries)
ftp.delete("dir_%s/renamed.bin" % mode)
ftp.rmd("dir_" + mode)
for cmd, code in [("RNTO x", "503"), ("CWD nosuch", "550"), ("RETR nosuch", "550")]:
    try:
        if cmd.startswith("RETR"):
            ftp.retrbinary(cmd, lambda b: None)
        else:
            ftp.sendcmd(cmd)
        check(False, cmd + " succeeded")
    except ftplib.error_perm as e:
        check(str(e).startswith(code), "%s: %s" % (cmd, e))
resp = ftp.quit()
check(resp.startswith("221"), "QUIT %r" % resp)
print("OK")
"#;

#[test]
fn python_ftplib_passive_active_ascii_rest_and_ops() {
    let fx = Fx::new();
    let up = pattern(123_456, 7);
    fs::write(fx.l("up.bin"), &up).unwrap();
    fs::write(fx.l("up.txt"), TEXT).unwrap();
    for mode in ["pasv", "active"] {
        let mark = fx.mark();
        let Some(o) = python(&fx, PY_OPS, &[mode, &fx.ls("")], T) else {
            return;
        };
        o.assert_ok();
        let verb = if mode == "pasv" { "PASV" } else { "PORT" };
        fx.assert_used(mark, &format!("ftplib {mode}"), &[verb]);
        assert!(lossy(&o.stdout).contains("OK"), "{}", o.describe());
        assert_same(
            &format!("ftplib {mode} RETR"),
            &fx.read_local(&format!("bin.{mode}")),
            &fx.bin,
        );
        assert_same(
            &format!("ftplib {mode} ASCII wire"),
            &fx.read_local(&format!("wire.{mode}")),
            TEXT_CRLF,
        );
        assert_same(
            &format!("ftplib {mode} storlines"),
            &fx.read_remote(&format!("up_{mode}.txt")),
            TEXT,
        );
        assert_same(
            &format!("ftplib {mode} rest RETR"),
            &fx.read_local(&format!("rest.{mode}")),
            &fx.bin[1000..],
        );
        assert_same(
            &format!("ftplib {mode} rest STOR"),
            &fx.read_remote(&format!("resumed_{mode}")),
            &up,
        );
    }
}

const PY_ABORT: &str = r#"
import ftplib, sys
host, port, user, pw = sys.argv[1:5]
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=15)
ftp.login(user, pw)
ftp.voidcmd("TYPE I")
conn = ftp.transfercmd("RETR big.dat")
got = conn.recv(65536)
assert got, "no data"
# ftplib.abort sends ABOR with MSG_OOB (urgent data), expects 426/225/226.
resp = ftp.abort()
print("abort:", resp)
if resp.startswith("426"):
    print("then:", ftp.getresp())
conn.close()
print("noop:", ftp.voidcmd("NOOP"))
ftp.quit()
print("OK")
"#;

/// Python's ftplib.abort() sends the whole `ABOR\r\n` with MSG_OOB: on Linux the last byte
/// (`\n`) becomes urgent data and leaves the normal stream unless the server sets SO_OOBINLINE
/// (as vsftpd does). A server that waits for the LF never answers.
#[test]
fn python_ftplib_abort() {
    let fx = Fx::new();
    write_pattern_file(&fx.root().join("big.dat"), 48 << 20, 8);
    let Some(o) = python(&fx, PY_ABORT, &[], T) else {
        return;
    };
    o.assert_ok();
    let out = lossy(&o.stdout);
    assert!(
        out.contains("abort: 426"),
        "ABOR during a transfer must give 426 first:\n{out}"
    );
    assert!(out.contains("then: 226"), "then 226:\n{out}");
    assert!(out.contains("noop: 200"), "{out}");
}

const PY_ESCAPE: &str = r#"
import ftplib, io, sys
host, port, user, pw = sys.argv[1:5]
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
stolen = b""
for p in ["../outside/secret.txt", "/../outside/secret.txt", "to_outside/secret.txt",
          "rel_outside/secret.txt", "escape/etc/passwd", "../../../../etc/passwd"]:
    for active in (False, True):
        ftp.set_pasv(not active)
        buf = io.BytesIO()
        try:
            ftp.retrbinary("RETR " + p, buf.write)
            print("READ", p)
        except ftplib.error_perm as e:
            pass
        stolen += buf.getvalue()
for d in ["to_outside", "rel_outside", "../outside"]:
    try:
        ftp.cwd(d)
        print("CWD ok", d, ftp.pwd())
        stolen += "\n".join(ftp.nlst()).encode()
        ftp.cwd("/")
    except ftplib.error_perm:
        pass
for p in ["../outside/evil", "to_outside/evil", "rel_outside/evil"]:
    try:
        ftp.storbinary("STOR " + p, io.BytesIO(b"evil"))
        print("WROTE", p)
    except ftplib.error_perm:
        pass
sys.stdout.write(stolen.decode("latin-1"))
ftp.quit()
print("OK")
"#;

#[test]
fn python_ftplib_escape_attempts() {
    let fx = Fx::new();
    let before = snapshot(&fx.srv.outside());
    let Some(o) = python(&fx, PY_ESCAPE, &[], T) else {
        return;
    };
    o.assert_ok();
    let out = lossy(&o.stdout);
    assert!(
        !out.contains(SECRET) && !out.contains("root:x:0:0"),
        "{out}"
    );
    assert!(!out.contains("READ"), "a traversal RETR succeeded:\n{out}");
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

// ----- the modern command set through real clients (issue 4) -------------------------------

const PY_MODERN: &str = r#"
import ftplib, sys, zlib
host, port, user, pw, local_bin = sys.argv[1:6]
def check(cond, msg):
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        sys.exit(1)
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
facts = dict(ftp.mlsd("/", ["type", "size", "modify", "perm"]))
check(facts["bin.dat"]["type"] == "file", "mlsd type %r" % facts.get("bin.dat"))
data = open(local_bin, "rb").read()
check(int(facts["bin.dat"]["size"]) == len(data), "mlsd size")
check(facts["pub"]["type"] == "dir", "mlsd dir %r" % facts.get("pub"))
check(len(facts["bin.dat"]["modify"]) >= 14, "mlsd modify")
check(ftp.sendcmd("OPTS HASH CRC32").startswith("200"), "OPTS HASH")
reply = ftp.sendcmd("HASH bin.dat")
want = "213 CRC32 0-%d %08x bin.dat" % (len(data) - 1, zlib.crc32(data))
check(reply == want, "HASH %r != %r" % (reply, want))
check(ftp.sendcmd("MFMT 20200102030405 bin.dat").startswith("213 Modify=20200102030405"), "MFMT")
check(ftp.sendcmd("MDTM bin.dat") == "213 20200102030405", "MDTM after MFMT")
ftp.quit()
print("OK")
"#;

#[test]
fn python_ftplib_mlsd_hash_and_mfmt() {
    let fx = Fx::new();
    let Some(o) = python(
        &fx,
        PY_MODERN,
        &[&fx.root().join("bin.dat").to_string_lossy()],
        T,
    ) else {
        return;
    };
    o.assert_ok();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(fx.root().join("bin.dat")).unwrap().mtime(),
        1_577_934_245
    );
}

/// ftplib resumes an upload from `size()`, which it sends before any TYPE: in the default
/// ASCII type that is the size with CRs added. `idiom` repeats the common mistake (size, then
/// storbinary with rest); `type_i` sends TYPE I first, as a resume must.
const PY_RESUME: &str = r#"
import ftplib, io, sys
host, port, user, pw, mode, step, local = sys.argv[1:8]
full = open(local, "rb").read()
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
ftp.set_pasv(mode == "pasv")
if step == "type_i":
    ftp.voidcmd("TYPE I")
n = ftp.size("partial.txt")
print("size", n)
try:
    ftp.storbinary("STOR partial.txt", io.BytesIO(full[n:]), rest=n)
    print("stored")
except ftplib.error_perm as e:
    print("refused", e)
ftp.quit()
"#;

/// Issue 10 (after ASCII became the default): ftplib's `size()` in a fresh session gave the
/// ASCII size, and `storbinary(..., rest=n)` then made the server zero-fill past the end and
/// answer 226. Expected: the upload raises `error_perm` (554) and the file stays as it was;
/// with `TYPE I` before `size()` the resume completes the file exactly.
#[test]
fn python_ftplib_resume_from_ascii_size_is_refused_and_from_binary_size_completes() {
    let fx = Fx::new();
    let full: Vec<u8> = b"alpha\nbeta\ngamma\r\ndelta\n\x00\xff"
        .iter()
        .copied()
        .cycle()
        .take(40_000)
        .collect();
    fs::write(fx.l("full.txt"), &full).unwrap();
    for mode in ["pasv", "active"] {
        let partial = &full[..12_345];
        fs::write(fx.root().join("partial.txt"), partial).unwrap();
        let run = |step: &str| python(&fx, PY_RESUME, &[mode, step, &fx.ls("full.txt")], T);
        let Some(o) = run("idiom") else {
            return;
        };
        o.assert_ok();
        let out = lossy(&o.stdout);
        // The server's ASCII size: a CR before every LF.
        let ascii_size = partial.len() + partial.iter().filter(|&&b| b == b'\n').count();
        assert!(
            out.contains(&format!("size {ascii_size}\n")) && ascii_size > partial.len(),
            "{mode}: {}",
            o.describe()
        );
        assert!(out.contains("refused 554"), "{mode}: {}", o.describe());
        assert_same(
            &format!("ftplib {mode}: file after the refused resume"),
            &fx.read_remote("partial.txt"),
            partial,
        );
        let o = run("type_i").unwrap();
        o.assert_ok();
        let out = lossy(&o.stdout);
        assert!(
            out.contains(&format!("size {}\nstored", partial.len())),
            "{mode}: {}",
            o.describe()
        );
        assert_same(
            &format!("ftplib {mode}: file after TYPE I, size, storbinary rest"),
            &fx.read_remote("partial.txt"),
            &full,
        );
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
