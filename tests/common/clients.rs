//! Real FTP clients as subprocesses: running them bounded in time, finding them (SKIP locally,
//! fail in CI), the command lines for curl, wget, lftp and Python, and the fixture they share.

use super::*;
use std::env;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const T: Duration = Duration::from_secs(60);
pub const SECRET: &str = "SECRET-OUTSIDE-MARKER";
pub const TEXT: &[u8] = b"line one\nline two\n\nlast line\n";
pub const TEXT_CRLF: &[u8] = b"line one\r\nline two\r\n\r\nlast line\r\n";

pub struct Out {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub what: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }

    pub fn describe(&self) -> String {
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

    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "{}", self.describe());
        self
    }

    pub fn all_output(&self) -> String {
        format!("{}{}", lossy(&self.stdout), lossy(&self.stderr))
    }
}

/// Feeds a child's stdin from a thread.
pub type Feeder = Box<dyn FnOnce(std::process::ChildStdin) + Send>;

/// Runs `cmd` with optional stdin bytes; kills it after `timeout`.
pub fn run(cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Out {
    let feeder: Option<Feeder> = stdin.map(|input| {
        let input = input.to_vec();
        Box::new(move |mut w: std::process::ChildStdin| {
            let _ = w.write_all(&input);
        }) as Feeder
    });
    run_fed(cmd, feeder, timeout)
}

/// Runs `cmd`, its stdin written by `feeder` (in a thread); kills it after `timeout`.
pub fn run_fed(mut cmd: Command, feeder: Option<Feeder>, timeout: Duration) -> Out {
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

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).map(|m| m.is_file()).unwrap_or(false))
}

/// True when `client` can be used; otherwise SKIP locally, fail under CI.
pub fn have(client: &str, found: bool) -> bool {
    if found {
        return true;
    }
    if env::var_os("CI").is_some() {
        panic!("{client} not installed, and CI is set: .ci/run must install it");
    }
    println!("SKIP: {client} not installed");
    false
}

pub fn tool(name: &str) -> Option<Command> {
    if have(name, find_program(name).is_some()) {
        Some(Command::new(name))
    } else {
        None
    }
}

/// A BusyBox applet: `busybox <applet>` if the busybox binary has it, else `<applet>` itself.
pub fn busybox(applet: &str) -> Option<Command> {
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

pub struct Fx {
    pub srv: Server,
    pub local: TempDir,
    pub bin: Vec<u8>,
}

impl Fx {
    pub fn new() -> Fx {
        Fx::with(Server::builder())
    }

    pub fn with(b: ServerBuilder) -> Fx {
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
    pub fn assert_used(&self, mark: usize, what: &str, verbs: &[&str]) {
        let seen = self
            .srv
            .wait_for_log_after(mark, Duration::from_secs(5), |l| {
                verbs.iter().any(|v| l.contains(&format!("> {v}")))
            });
        assert!(seen, "{what}: the server never saw {verbs:?}");
    }

    pub fn mark(&self) -> usize {
        self.srv.log_mark()
    }

    pub fn port(&self) -> String {
        self.srv.addr.port().to_string()
    }

    /// `ftp://alice:pw@127.0.0.1:PORT/<path>`
    pub fn url(&self, path: &str) -> String {
        format!(
            "ftp://{}:{}@127.0.0.1:{}/{}",
            ALICE.name,
            ALICE.password,
            self.srv.addr.port(),
            path
        )
    }

    pub fn root(&self) -> PathBuf {
        self.srv.root()
    }

    pub fn l(&self, name: &str) -> PathBuf {
        self.local.join(name)
    }

    pub fn ls(&self, name: &str) -> String {
        self.l(name).to_str().unwrap().to_string()
    }

    pub fn read_local(&self, name: &str) -> Vec<u8> {
        fs::read(self.l(name)).unwrap_or_else(|e| panic!("local {name}: {e}"))
    }

    pub fn read_remote(&self, name: &str) -> Vec<u8> {
        fs::read(self.root().join(name)).unwrap_or_else(|e| panic!("remote {name}: {e}"))
    }
}

pub fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}: {} bytes, expected {} (first difference at {:?}); got starts {:?}",
        got.len(),
        want.len(),
        got.iter().zip(want).position(|(a, b)| a != b),
        lossy(&got[..got.len().min(60)])
    );
}

pub fn curl() -> Option<Command> {
    let mut c = tool("curl")?;
    c.args(["-sS", "--connect-timeout", "10", "--max-time", "60"]);
    Some(c)
}

pub fn wget() -> Option<Command> {
    let mut c = tool("wget")?;
    c.args(["-q", "--tries=1", "--timeout=20"]);
    Some(c)
}

pub fn lftp(fx: &Fx, passive: bool, script: &str) -> Out {
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

pub fn python(fx: &Fx, script: &str, args: &[&str], timeout: Duration) -> Option<Out> {
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
