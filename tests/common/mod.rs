//! Test support: temp dirs, the server binary as a child process, and a small blocking FTP client.
//!
//! Rules kept here so every test file gets them for free (DESIGN.md, Tests; STYLE.md #14):
//! the server always binds port 0 and we read the bound address from its log; nothing waits with
//! a bare sleep: waits poll a condition until a bounded deadline; every loop is bounded in count
//! and time; `Drop` kills the child by PID and removes the temp dir.
//!
//! Cross testing: `FERROFTPD_BIN` names the binary, `FERROFTPD_RUNNER` an optional command prefix
//! (e.g. `qemu-arm-static -cpu arm926`), so timeouts are generous but always bounded.
#![allow(dead_code)]

mod checks;
pub mod clients;
pub mod pki;
mod site;
#[cfg(feature = "tls")]
pub mod tls_client;

// Not every test file uses every helper.
#[allow(unused_imports)]
pub use checks::*;
#[allow(unused_imports)]
pub use site::*;

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the server may take to log `listening on` (a CPU emulator as runner is slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Read/write timeout of control and data sockets: a hang fails the test instead of blocking it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on lines in one reply; a runaway multi-line reply fails instead of looping.
const MAX_REPLY_LINES: usize = 100_000;
/// Upper bound on one reply line.
const MAX_LINE: u64 = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Fixtures: accounts for the users file. Hashes made once with
// `openssl passwd -6 -salt <salt> <password>`.

/// An account of the test users file.
#[derive(Clone, Copy, Debug)]
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
    pub hash: &'static str,
    pub perms: &'static str,
}

/// Read-write account; home is the server root unless a test says otherwise.
pub const ALICE: User = User {
    name: "alice",
    password: "alice-pw-1",
    hash: "$6$alicesalt$nUyGN65CkFff8Zn7QDuhVXh3XJ8Lyab8j9YDTy2Uvc/jalF.L.y0/sUyVcmJ4vh2ebuv6mzA/RFyaN.SZuvEk/",
    perms: "rw",
};

/// Read-only account.
pub const BOB: User = User {
    name: "bob",
    password: "bob-pw-2",
    hash: "$6$bobsalt$DSX6THbs8CQvMiIddkvHPIgWzIGdL01clTeFuMWfeGtPtbIKV99M89S7tRpr39FUSqxdlKdlD1vO2JKxWy9ft1",
    perms: "ro",
};

/// Read-write account, used with a home below the root (confinement to a home).
pub const CAROL: User = User {
    name: "carol",
    password: "carol-pw-3",
    hash: "$6$carolsalt$vDxQBAeqNCl085GljmVRHKFlX7cd8I.54rdxcky/3TcUVeCiQ/Lu8q697lkB9Q8dyiCb0wu0lu1ad9byI740Y0",
    perms: "rw",
};

// ---------------------------------------------------------------------------------------------
// TempDir

/// A unique directory under `std::env::temp_dir()`, removed with everything in it on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = env::temp_dir().join(format!(
                "ferroftpd-test-{tag}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temp dir {}: {e}", path.display()),
            }
        }
        panic!("no unique temp dir name after 100 tries");
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Server

/// Lines the server wrote on stdout/stderr, collected by reader threads.
#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    /// Streams that reached EOF (stdout, stderr).
    closed: usize,
}

type Logs = Arc<(Mutex<LogState>, Condvar)>;

fn drain_into(logs: Logs, stream: impl Read + Send + 'static, tag: &'static str) {
    thread::Builder::new()
        .name(format!("server-{tag}"))
        .spawn(move || {
            let mut r = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if env::var_os("FERROFTPD_TEST_ECHO").is_some() {
                            eprintln!("[server {tag}] {line}");
                        }
                        let (m, cv) = &*logs;
                        m.lock().unwrap().lines.push(line);
                        cv.notify_all();
                    }
                }
            }
            let (m, cv) = &*logs;
            m.lock().unwrap().closed += 1;
            cv.notify_all();
        })
        .expect("spawn log reader");
}

/// Builds the command line of one server under test.
pub struct ServerBuilder {
    base: TempDir,
    opts: Vec<(String, String)>,
    users: Vec<(User, PathBuf)>,
    verbose: bool,
    extra: Vec<String>,
    rlimits: Vec<(RlimitResource, u64)>,
}

/// The type of a `setrlimit` resource (`libc::RLIMIT_*`), which glibc and musl spell differently.
#[cfg(target_env = "gnu")]
pub type RlimitResource = nix::libc::__rlimit_resource_t;
/// The type of a `setrlimit` resource (`libc::RLIMIT_*`), which glibc and musl spell differently.
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = nix::libc::c_int;

impl ServerBuilder {
    /// The server root: `<base>/root`. Populate it before or after `start`.
    pub fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    /// A sibling of the root that the server must never reach: `<base>/outside`.
    pub fn outside(&self) -> PathBuf {
        self.base.join("outside")
    }

    /// `-o key=value` (a later call for the same key wins).
    pub fn opt(mut self, key: &str, value: impl ToString) -> Self {
        self.opts.retain(|(k, _)| k != key);
        self.opts.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds an account whose home is the server root.
    pub fn user(self, u: User) -> Self {
        let home = self.root();
        self.user_with_home(u, home)
    }

    /// Adds an account with an explicit (absolute, existing) home.
    pub fn user_with_home(mut self, u: User, home: PathBuf) -> Self {
        self.users.push((u, home));
        self
    }

    /// `-v`: debug log of each command.
    pub fn verbose(mut self) -> Self {
        self.verbose = true;
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.to_string());
        self
    }

    /// Start the server with `resource` (`libc::RLIMIT_*`) limited to `value` ([`set_rlimits`]).
    pub fn rlimit(mut self, resource: RlimitResource, value: u64) -> Self {
        self.rlimits.retain(|(r, _)| *r != resource);
        self.rlimits.push((resource, value));
        self
    }

    /// Start the server with RLIMIT_NOFILE soft = hard = `n` (as `ulimit -n n` would).
    pub fn nofile_limit(self, n: u64) -> Self {
        self.rlimit(nix::libc::RLIMIT_NOFILE, n)
    }

    pub fn start(self) -> Server {
        let root = self.root();
        let mut args: Vec<String> = ["-f", "-l", "127.0.0.1", "-p", "0", "-A", "-r"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(root.to_str().expect("utf-8 temp path").to_string());
        if !self.users.is_empty() {
            let mut text = String::new();
            for (u, home) in &self.users {
                text.push_str(&format!(
                    "{}:{}:{}:{}\n",
                    u.name,
                    u.hash,
                    home.display(),
                    u.perms
                ));
            }
            let file = self.base.join("users");
            fs::write(&file, text).unwrap();
            args.push("-U".into());
            args.push(file.to_str().unwrap().to_string());
        }
        let mut opts = self.opts.clone();
        if !opts.iter().any(|(k, _)| k == "login_fail_delay_ms") {
            opts.push(("login_fail_delay_ms".into(), "20".into()));
        }
        for (k, v) in &opts {
            args.push("-o".into());
            args.push(format!("{k}={v}"));
        }
        if self.verbose {
            args.push("-v".into());
        }
        args.extend(self.extra.iter().cloned());
        Server::spawn(self.base, args, self.rlimits)
    }
}

/// The server binary running as a child process on 127.0.0.1 and a free port.
pub struct Server {
    base: TempDir,
    child: Child,
    pub addr: SocketAddr,
    logs: Logs,
    args: Vec<String>,
    stopped: bool,
}

/// Path of the binary under test.
pub fn server_bin() -> PathBuf {
    env::var_os("FERROFTPD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ferroftpd")))
}

impl Server {
    /// A builder with a fresh `<base>/root` and `<base>/outside`.
    pub fn builder() -> ServerBuilder {
        let base = TempDir::new("srv");
        fs::create_dir(base.join("root")).unwrap();
        fs::create_dir(base.join("outside")).unwrap();
        ServerBuilder {
            base,
            opts: Vec::new(),
            users: Vec::new(),
            verbose: false,
            extra: Vec::new(),
            rlimits: Vec::new(),
        }
    }

    /// Anonymous only, default options (login delay small).
    pub fn start() -> Server {
        Server::builder().start()
    }

    /// Anonymous plus ALICE (rw) and BOB (ro), both with the root as home.
    pub fn start_with_users() -> Server {
        Server::builder().user(ALICE).user(BOB).start()
    }

    fn spawn(base: TempDir, args: Vec<String>, rlimits: Vec<(RlimitResource, u64)>) -> Server {
        let bin = server_bin();
        let mut cmd = server_command();
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        set_rlimits(&mut cmd, &rlimits);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} {args:?}: {e}", bin.display()));
        let logs: Logs = Arc::new((Mutex::new(LogState::default()), Condvar::new()));
        drain_into(logs.clone(), child.stdout.take().unwrap(), "stdout");
        drain_into(logs.clone(), child.stderr.take().unwrap(), "stderr");

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let (m, cv) = &*logs;
            let st = m.lock().unwrap();
            if let Some(a) = st.lines.iter().find_map(|l| parse_listening(l)) {
                break a;
            }
            let all = st.lines.join("\n");
            if st.closed == 2 {
                drop(st);
                let status = child.wait();
                panic!("server exited before `listening on` ({status:?}); args {args:?}; output:\n{all}");
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `listening on` within {START_TIMEOUT:?}; args {args:?}; output:\n{all}");
            }
            let _ = cv.wait_timeout(st, deadline - now).unwrap();
        };
        Server {
            base,
            child,
            addr,
            logs,
            args,
            stopped: false,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.base.join("outside")
    }

    pub fn base(&self) -> &Path {
        self.base.path()
    }

    /// The server's log so far, one line per entry.
    pub fn logs(&self) -> String {
        self.logs.0.lock().unwrap().lines.join("\n")
    }

    /// Number of log lines so far: a mark for `wait_for_log_after`.
    pub fn log_mark(&self) -> usize {
        self.logs.0.lock().unwrap().lines.len()
    }

    /// Waits (bounded) until a log line satisfies `pred`.
    pub fn wait_for_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        self.wait_for_log_after(0, timeout, pred)
    }

    /// Waits (bounded) until a log line after `mark` satisfies `pred`.
    pub fn wait_for_log_after(
        &self,
        mark: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.logs;
        let mut st = m.lock().unwrap();
        loop {
            if st.lines.iter().skip(mark).any(|l| pred(l)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Send `sig` to the server, by its pid.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig)
            .unwrap_or_else(|e| panic!("kill -{sig}: {e}"));
    }

    /// True while the child has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the server, waits for it and for its output to be fully read (bounded); returns
    /// the complete log. A stopped server is no longer checked on drop (exit status, logged
    /// panics): the test has taken the log and asserts on it itself.
    pub fn stop(&mut self) -> String {
        if !self.stopped {
            self.stopped = true;
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let (m, cv) = &*self.logs;
        let mut st = m.lock().unwrap();
        while st.closed < 2 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        st.lines.join("\n")
    }

    /// A connected client that has read the 220 greeting.
    pub fn connect(&self) -> FtpClient {
        FtpClient::connect(self.addr)
    }

    /// Connected and logged in as anonymous.
    pub fn anon(&self) -> FtpClient {
        let mut c = self.connect();
        c.login("anonymous", "test@example.com");
        c
    }

    /// Connected and logged in as `u`.
    pub fn login(&self, u: User) -> FtpClient {
        let mut c = self.connect();
        c.login(u.name, u.password);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A server that died on its own during a test is a failure of that test, and so is a
        // panic contained in a session thread (DESIGN.md principle 6: it is logged).
        let exited = if self.stopped {
            None
        } else {
            self.child.try_wait().ok().flatten()
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            return;
        }
        let logs = self.logs();
        if let Some(status) = exited {
            panic!(
                "server exited during the test ({status}); args {:?}; output:\n{logs}",
                self.args
            );
        }
        // After an explicit `stop()` the test owns the log (e.g. it provokes a panic on purpose).
        if !self.stopped && logs.contains("panicked at") {
            panic!("a server thread panicked during the test; output:\n{logs}");
        }
    }
}

/// `... listening on 127.0.0.1:PORT ...` -> the address.
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let token = rest.split_whitespace().next()?;
    SocketAddr::from_str(token).ok()
}

// ---------------------------------------------------------------------------------------------
// A server process whose pid and exit status a test can see

/// Make `cmd` start with each `(libc::RLIMIT_*, value)` limit set, soft and hard. Under a
/// `FERROFTPD_RUNNER` the limits apply to the runner (qemu-user), which makes the server's
/// system calls in its own process.
pub fn set_rlimits(cmd: &mut Command, rlimits: &[(RlimitResource, u64)]) {
    use std::os::unix::process::CommandExt;
    if rlimits.is_empty() {
        return;
    }
    let limits: Vec<(RlimitResource, nix::libc::rlimit)> = rlimits
        .iter()
        .map(|&(r, v)| {
            let v = nix::libc::rlim_t::try_from(v).unwrap_or(nix::libc::RLIM_INFINITY);
            (
                r,
                nix::libc::rlimit {
                    rlim_cur: v,
                    rlim_max: v,
                },
            )
        })
        .collect();
    // SAFETY: the closure runs in the forked child before exec and calls only setrlimit(2),
    // which is async-signal-safe, on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for (resource, limit) in &limits {
                if nix::libc::setrlimit(*resource, limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The binary under test, with the optional runner prefix the harness honours too.
pub fn server_command() -> Command {
    let runner: Vec<String> = env::var("FERROFTPD_RUNNER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    match runner.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(server_bin());
            c
        }
        None => Command::new(server_bin()),
    }
}

/// Have `cmd` start with RLIMIT_NOFILE soft = hard = `n`.
pub fn limit_nofile(cmd: &mut Command, n: u64) {
    set_rlimits(cmd, &[(nix::libc::RLIMIT_NOFILE, n)]);
}

/// Set a running process's RLIMIT_NOFILE (prlimit(2); same user, no privilege needed).
pub fn set_nofile_of(pid: i32, soft: u64, hard: u64) {
    let limit = nix::libc::rlimit {
        rlim_cur: soft as nix::libc::rlim_t,
        rlim_max: hard as nix::libc::rlim_t,
    };
    // SAFETY: `limit` outlives the call; the old value is not asked for (null).
    let rc =
        unsafe { nix::libc::prlimit(pid, nix::libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit {pid}: {}", io::Error::last_os_error());
}

/// The descriptor numbers a process holds, from /proc.
pub fn open_fds(pid: i32) -> std::collections::BTreeSet<u64> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// A child process, killed by pid and reaped on drop; stderr (and stdout when captured) are
/// collected line by line.
pub struct Proc {
    /// The process (tests take its stdin/stdout when they drive it through pipes).
    pub child: Child,
    logs: Logs,
    streams: usize,
    status: Option<ExitStatus>,
    what: String,
}

impl Proc {
    /// Spawns `cmd` (the caller sets stdin, and stdout when `capture_stdout` is false). `cmd`
    /// is consumed so the parent's copies of passed file descriptors close.
    pub fn spawn(mut cmd: Command, capture_stdout: bool) -> Proc {
        cmd.stderr(Stdio::piped());
        if capture_stdout {
            cmd.stdout(Stdio::piped());
        }
        let what = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        drop(cmd);
        let logs: Logs = Arc::new((Mutex::new(LogState::default()), Condvar::new()));
        let mut streams = 1;
        drain_into(logs.clone(), child.stderr.take().unwrap(), "stderr");
        if capture_stdout {
            drain_into(logs.clone(), child.stdout.take().unwrap(), "stdout");
            streams += 1;
        }
        Proc {
            child,
            logs,
            streams,
            status: None,
            what,
        }
    }

    /// A foreground server with these arguments (stdin /dev/null), its address read from the log.
    pub fn server(args: &[String]) -> (Proc, SocketAddr) {
        let mut cmd = server_command();
        cmd.args(args).stdin(Stdio::null());
        let p = Proc::spawn(cmd, true);
        let addr = p.addr();
        (p, addr)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig)
            .unwrap_or_else(|e| panic!("kill -{sig}: {e}"));
    }

    pub fn logs(&self) -> String {
        self.logs.0.lock().unwrap().lines.join("\n")
    }

    /// The first log line satisfying `pred`, waiting at most `timeout`.
    pub fn wait_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.logs;
        let mut st = m.lock().unwrap();
        loop {
            if let Some(l) = st.lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if now >= deadline || st.closed == self.streams {
                return None;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    /// Waits (bounded) until every captured stream is closed.
    pub fn wait_output_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.logs;
        let mut st = m.lock().unwrap();
        while st.closed < self.streams {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }

    /// The `listening on` address from the log.
    pub fn addr(&self) -> SocketAddr {
        self.wait_log(START_TIMEOUT, |l| l.contains("listening on "))
            .and_then(|l| parse_listening(&l))
            .unwrap_or_else(|| {
                panic!(
                    "no `listening on` from {}; output:\n{}",
                    self.what,
                    self.logs()
                )
            })
    }

    /// The exit status once the process has exited, waiting at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            let child = &mut self.child;
            let mut status = None;
            poll_until(timeout, || {
                status = child.try_wait().ok().flatten();
                status.is_some()
            });
            self.status = status;
        }
        self.status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// FTP client

/// One complete reply: code, text lines (CRLF stripped), and the raw bytes as received.
#[derive(Clone, Debug)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<Vec<u8>>,
    pub raw: Vec<u8>,
}

impl Reply {
    /// All lines, lossily decoded, joined with `\n` (codes included).
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn is_multiline(&self) -> bool {
        self.lines.len() > 1
    }
}

/// Where the data connection comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    Pasv,
    Epsv,
    Port,
    Eprt,
}

pub const ALL_MODES: [DataMode; 4] = [
    DataMode::Pasv,
    DataMode::Epsv,
    DataMode::Port,
    DataMode::Eprt,
];

/// A prepared data connection: connected (passive) or waiting for the server (active).
pub enum DataConn {
    Connected(TcpStream),
    Listening(TcpListener),
}

impl DataConn {
    /// The data stream; for active mode waits (bounded) for the server to connect.
    pub fn stream(self) -> TcpStream {
        let s = match self {
            DataConn::Connected(s) => s,
            DataConn::Listening(l) => accept_bounded(&l, IO_TIMEOUT)
                .unwrap_or_else(|e| panic!("server did not connect for active mode: {e}")),
        };
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }
}

/// Accepts one connection, polling a non-blocking listener until `timeout`.
pub fn accept_bounded(l: &TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    l.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(ErrorKind::TimedOut, "accept timed out"));
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A small blocking FTP client with timeouts, strict about the reply syntax (RFC 959 §4.2).
pub struct FtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: Reply,
    pub peer: SocketAddr,
}

impl FtpClient {
    /// Connects and reads the greeting, which must be 220.
    pub fn connect(addr: SocketAddr) -> FtpClient {
        let c = FtpClient::connect_any(addr);
        assert_eq!(c.greeting.code, 220, "greeting: {}", c.greeting.text());
        c
    }

    /// Connects and reads the greeting whatever its code (421 when full).
    pub fn connect_any(addr: SocketAddr) -> FtpClient {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        FtpClient::from_stream(s)
    }

    /// Connects from a chosen local address (e.g. 127.0.0.2 to be another client address).
    pub fn connect_from(local: Ipv4Addr, addr: SocketAddr) -> FtpClient {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::from((local, 0)).into()).unwrap();
        sock.connect_timeout(&addr.into(), IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr} from {local}: {e}"));
        FtpClient::from_stream(sock.into())
    }

    pub fn from_stream(s: TcpStream) -> FtpClient {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let _ = s.set_nodelay(true);
        let peer = s.peer_addr().unwrap();
        let writer = s.try_clone().unwrap();
        let mut c = FtpClient {
            reader: BufReader::new(s),
            writer,
            greeting: Reply {
                code: 0,
                lines: Vec::new(),
                raw: Vec::new(),
            },
            peer,
        };
        c.greeting = c.read_reply_raw();
        c
    }

    /// The address this client connected from.
    pub fn local_ip(&self) -> std::net::IpAddr {
        self.writer.local_addr().unwrap().ip()
    }

    /// The control socket (for OOB data, timeouts).
    pub fn socket(&self) -> &TcpStream {
        &self.writer
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.writer.set_read_timeout(Some(t)).unwrap();
    }

    /// Writes bytes as they are (no CRLF added).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write {:?}: {e}", String::from_utf8_lossy(bytes)));
    }

    /// Sends `line` + CRLF.
    pub fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    /// Sends raw `line` + CRLF.
    pub fn send_bytes(&mut self, line: &[u8]) {
        let mut v = line.to_vec();
        v.extend_from_slice(b"\r\n");
        self.send_raw(&v);
    }

    /// Sends a command and reads one whole reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(line);
        self.read_reply()
    }

    /// Sends a raw command line (CRLF added) and reads one whole reply.
    pub fn cmd_raw(&mut self, line: &[u8]) -> Reply {
        self.send_bytes(line);
        self.read_reply_raw()
    }

    /// Sends a command and asserts the reply code; returns the text.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line);
        assert_eq!(
            got, code,
            "command {line:?}: expected {code}, got reply:\n{text}"
        );
        text
    }

    pub fn read_reply(&mut self) -> (u16, String) {
        let r = self.read_reply_raw();
        (r.code, r.text())
    }

    pub fn read_reply_raw(&mut self) -> Reply {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("reading reply: {e}"))
    }

    /// Reads one reply; an error for EOF, timeout or a syntax violation.
    pub fn try_read_reply(&mut self) -> io::Result<Reply> {
        let bad = |msg: String| io::Error::new(ErrorKind::InvalidData, msg);
        let mut raw = Vec::new();
        let mut lines = Vec::new();
        let first = self.read_line()?;
        raw.extend_from_slice(&first);
        let first = strip_crlf(&first).map_err(|e| bad(format!("{e}: {:?}", lossy(&raw))))?;
        if first.len() < 4
            || !first[..3].iter().all(u8::is_ascii_digit)
            || !(first[3] == b' ' || first[3] == b'-')
            || !(b'1'..=b'5').contains(&first[0])
        {
            return Err(bad(format!("malformed reply line {:?}", lossy(first))));
        }
        let code: u16 = std::str::from_utf8(&first[..3]).unwrap().parse().unwrap();
        let multi = first[3] == b'-';
        lines.push(first.to_vec());
        if multi {
            for _ in 0..MAX_REPLY_LINES {
                let l = self.read_line()?;
                raw.extend_from_slice(&l);
                let l = strip_crlf(&l).map_err(|e| bad(format!("{e}: {:?}", lossy(&raw))))?;
                let done = l.len() >= 4 && l[..3] == first[..3] && l[3] == b' ';
                lines.push(l.to_vec());
                if done {
                    return Ok(Reply { code, lines, raw });
                }
            }
            return Err(bad(format!("reply over {MAX_REPLY_LINES} lines")));
        }
        Ok(Reply { code, lines, raw })
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .by_ref()
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        if buf.last() != Some(&b'\n') {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!(
                    "reply line not terminated (or over {MAX_LINE} bytes): {:?}",
                    lossy(&buf)
                ),
            ));
        }
        Ok(buf)
    }

    /// Waits until the server closes the control connection; returns the replies read on the
    /// way. Err when it is still open after `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> Result<Vec<Reply>, String> {
        self.set_read_timeout(timeout);
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        for _ in 0..100 {
            match self.try_read_reply() {
                Ok(r) => seen.push(r),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(seen),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(seen),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    return Err(format!(
                        "still open after {timeout:?}; replies {:?}",
                        texts(&seen)
                    ))
                }
                Err(e) => return Err(format!("{e}; replies {:?}", texts(&seen))),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(format!("still open; replies {:?}", texts(&seen)))
    }

    /// True when nothing arrives on the control connection within `quiet` (no reply pending).
    pub fn nothing_pending(&mut self, quiet: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        self.writer.set_read_timeout(Some(quiet)).unwrap();
        let mut b = [0u8; 1];
        let r = self.writer.peek(&mut b);
        self.writer.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        matches!(r, Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut)
    }

    /// USER + PASS, asserting 331 then 230.
    pub fn login(&mut self, user: &str, pass: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {pass}"), 230);
    }

    pub fn quit(mut self) -> (u16, String) {
        self.cmd("QUIT")
    }

    // ----- data connections

    pub fn pasv(&mut self) -> DataConn {
        let text = self.expect("PASV", 227);
        let addr = parse_227(&text).unwrap_or_else(|| panic!("cannot parse 227: {text}"));
        DataConn::Connected(connect_data(addr, self.local_ip()))
    }

    pub fn epsv(&mut self) -> DataConn {
        let text = self.expect("EPSV", 229);
        let port = parse_229(&text).unwrap_or_else(|| panic!("cannot parse 229: {text}"));
        let addr = SocketAddr::new(self.peer.ip(), port);
        DataConn::Connected(connect_data(addr, self.local_ip()))
    }

    pub fn port(&mut self) -> DataConn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        self.expect(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 0xff), 200);
        DataConn::Listening(l)
    }

    pub fn eprt(&mut self) -> DataConn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        self.expect(&format!("EPRT |1|127.0.0.1|{p}|"), 200);
        DataConn::Listening(l)
    }

    pub fn data(&mut self, mode: DataMode) -> DataConn {
        match mode {
            DataMode::Pasv => self.pasv(),
            DataMode::Epsv => self.epsv(),
            DataMode::Port => self.port(),
            DataMode::Eprt => self.eprt(),
        }
    }

    /// Opens a data connection, sends `cmd` (must answer 150/125), returns the stream and the
    /// text of the preliminary reply.
    pub fn start_transfer(&mut self, cmd: &[u8], mode: DataMode) -> (TcpStream, String) {
        let data = self.data(mode);
        let r = self.cmd_raw(cmd);
        assert!(
            r.code == 150 || r.code == 125,
            "{:?}: expected 150, got:\n{}",
            lossy(cmd),
            r.text()
        );
        (data.stream(), r.text())
    }

    /// A download-direction transfer (RETR, LIST, NLST): returns the bytes; asserts 150 and 226.
    pub fn transfer_in(&mut self, cmd: &[u8], mode: DataMode) -> Vec<u8> {
        let (mut s, _) = self.start_transfer(cmd, mode);
        let buf =
            read_all(&mut s).unwrap_or_else(|e| panic!("{:?}: reading data: {e}", lossy(cmd)));
        drop(s);
        let (code, text) = self.read_reply();
        assert_eq!(
            code,
            226,
            "{:?}: after data, expected 226, got:\n{text}",
            lossy(cmd)
        );
        buf
    }

    /// An upload-direction transfer (STOR, APPE, STOU): asserts 150 and 226; returns the 150
    /// text (STOU names the file there).
    pub fn transfer_out(&mut self, cmd: &[u8], data: &[u8], mode: DataMode) -> String {
        let (mut s, pre) = self.start_transfer(cmd, mode);
        s.write_all(data)
            .unwrap_or_else(|e| panic!("{:?}: writing data: {e}", lossy(cmd)));
        let _ = s.shutdown(Shutdown::Write);
        drop(s);
        let (code, text) = self.read_reply();
        assert_eq!(
            code,
            226,
            "{:?}: after data, expected 226, got:\n{text}",
            lossy(cmd)
        );
        pre
    }

    pub fn retr(&mut self, path: &str) -> Vec<u8> {
        self.transfer_in(format!("RETR {path}").as_bytes(), DataMode::Pasv)
    }

    pub fn stor(&mut self, path: &str, data: &[u8]) {
        self.transfer_out(format!("STOR {path}").as_bytes(), data, DataMode::Pasv);
    }

    /// LIST (with an optional argument); the raw bytes of the listing.
    pub fn list(&mut self, arg: &str) -> Vec<u8> {
        let cmd = if arg.is_empty() {
            "LIST".to_string()
        } else {
            format!("LIST {arg}")
        };
        self.transfer_in(cmd.as_bytes(), DataMode::Pasv)
    }

    pub fn nlst(&mut self, arg: &str) -> Vec<u8> {
        let cmd = if arg.is_empty() {
            "NLST".to_string()
        } else {
            format!("NLST {arg}")
        };
        self.transfer_in(cmd.as_bytes(), DataMode::Pasv)
    }
}

/// Connects to a passive port from `local` (the control connection's address, as real clients
/// do: the server refuses data connections from another host).
fn connect_data(addr: SocketAddr, local: std::net::IpAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(local, 0).into()).unwrap();
    sock.connect_timeout(&addr.into(), IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("data connect {addr} from {local}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

fn strip_crlf(line: &[u8]) -> Result<&[u8], &'static str> {
    line.strip_suffix(b"\r\n")
        .ok_or("reply line not terminated by CRLF")
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn texts(rs: &[Reply]) -> Vec<String> {
    rs.iter().map(Reply::text).collect()
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` -> address.
pub fn parse_227(text: &str) -> Option<SocketAddr> {
    let inner = &text[text.find('(')? + 1..];
    let inner = &inner[..inner.find(')')?];
    let n: Vec<u8> = inner
        .split(',')
        .map(|x| x.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    if n.len() != 6 {
        return None;
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    Some(SocketAddr::from((
        ip,
        u16::from(n[4]) << 8 | u16::from(n[5]),
    )))
}

/// `229 Entering Extended Passive Mode (|||port|)` -> port.
pub fn parse_229(text: &str) -> Option<u16> {
    let inner = &text[text.find("(|||")? + 4..];
    inner[..inner.find("|)")?].parse().ok()
}

/// `257 "pa""th" ...` -> `pa"th` (raw bytes).
pub fn parse_257(line: &[u8]) -> Option<Vec<u8>> {
    let start = line.iter().position(|&b| b == b'"')? + 1;
    let mut out = Vec::new();
    let mut i = start;
    while i < line.len() {
        if line[i] == b'"' {
            if line.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            return Some(out);
        }
        out.push(line[i]);
        i += 1;
    }
    None
}

/// `150 ... (N bytes).` -> N.
pub fn parse_150_size(text: &str) -> Option<u64> {
    let end = text.find(" bytes)")?;
    let start = text[..end].rfind('(')? + 1;
    text[start..end].trim().parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Data and files

/// Deterministic pseudo-random bytes (xorshift64*), all 256 values present.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes `len` pattern bytes to `path` in 1 MiB chunks; returns the CRC32.
pub fn write_pattern_file(path: &Path, len: u64, seed: u64) -> u32 {
    let mut f = io::BufWriter::new(fs::File::create(path).unwrap());
    let mut h = crc32fast::Hasher::new();
    let mut left = len;
    let mut i = 0u64;
    while left > 0 {
        let n = left.min(1 << 20) as usize;
        let chunk = pattern(n, seed.wrapping_add(i));
        h.update(&chunk);
        f.write_all(&chunk).unwrap();
        left -= n as u64;
        i += 1;
    }
    f.flush().unwrap();
    h.finalize()
}

/// CRC32 and length of a file.
pub fn crc_file(path: &Path) -> (u32, u64) {
    let mut f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    (h.finalize(), total)
}

/// CRC32 and length of everything read from `r` until EOF.
pub fn crc_reader(r: &mut impl Read) -> io::Result<(u32, u64)> {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        if total > MAX_DATA {
            return Err(io::Error::other(format!("over {MAX_DATA} bytes of data")));
        }
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((h.finalize(), total));
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
}

/// Largest data stream any test expects; a server streaming without end fails the test.
pub const MAX_DATA: u64 = 1 << 30;

/// Reads to EOF like `read_to_end`, but fails past `MAX_DATA` bytes.
pub fn read_all(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(MAX_DATA + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_DATA {
        return Err(io::Error::other(format!("over {MAX_DATA} bytes of data")));
    }
    Ok(buf)
}

/// Path from raw name bytes.
pub fn bpath(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// What a tree looks like: relative path -> (kind, mode, size, crc of content or link text).
pub type Snapshot = BTreeMap<PathBuf, (char, u32, u64, u32)>;

/// Snapshots a tree without following symlinks (bounded to 10,000 entries).
pub fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut steps = 0;
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            steps += 1;
            assert!(steps < 10_000, "snapshot too large");
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            let ft = md.file_type();
            let entry = if ft.is_symlink() {
                let t = fs::read_link(&p).unwrap();
                ('l', md.mode(), 0, crc32fast::hash(t.as_os_str().as_bytes()))
            } else if ft.is_dir() {
                stack.push(p.clone());
                ('d', md.mode(), 0, 0)
            } else if ft.is_file() {
                (
                    'f',
                    md.mode(),
                    md.len(),
                    crc32fast::hash(&fs::read(&p).unwrap()),
                )
            } else if ft.is_fifo() {
                ('p', md.mode(), 0, 0)
            } else {
                ('?', md.mode(), 0, 0)
            };
            out.insert(rel, entry);
        }
    }
    out
}

/// Polls `f` until it returns true or `timeout` passes; returns the last result.
pub fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    for _ in 0..100_000 {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Lines of a listing (CRLF-terminated lines required).
pub fn listing_lines(raw: &[u8]) -> Vec<Vec<u8>> {
    if raw.is_empty() {
        return Vec::new();
    }
    assert!(
        raw.ends_with(b"\r\n"),
        "listing does not end with CRLF: {:?}",
        lossy(raw)
    );
    raw[..raw.len() - 1]
        .split(|&b| b == b'\n')
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or_else(|| {
                panic!(
                    "listing line without CRLF: {:?} in {:?}",
                    lossy(l),
                    lossy(raw)
                )
            });
            l.to_vec()
        })
        .collect()
}

/// The name field of an `ls -l` line (after the 8th field; `name -> target` for links).
pub fn ls_name(line: &[u8]) -> Vec<u8> {
    // perms links owner group size month day time/year name
    let mut fields = 0;
    let mut i = 0;
    while i < line.len() && fields < 8 {
        while i < line.len() && line[i] == b' ' {
            i += 1;
        }
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        fields += 1;
    }
    if i < line.len() {
        i += 1; // the single separator before the name
    }
    let name = &line[i.min(line.len())..];
    match name.windows(4).position(|w| w == b" -> ") {
        Some(p) if line.first() == Some(&b'l') => name[..p].to_vec(),
        _ => name.to_vec(),
    }
}
