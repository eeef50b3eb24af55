//! Device operation against the real binary (issue 5): `-t`, daemon + pidfile, inetd, SIGHUP,
//! SIGTERM, limits and bans, rate limits, syslog, xferlog, messages, upload safety, a full
//! disk, hidden dot files, system users, and privilege dropping.
//!
//! Tests that need the server's pid or exit status run it through `common::Proc`; everything
//! else uses `common::Server`. Tests needing
//! root, `mount` or `unshare` print `SKIP: <reason>` when they cannot run, and fail in CI.

mod common;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::env;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a signalled server may take to exit (beyond any shutdown_timeout it was given).
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Local helpers: a server process whose pid and exit status the test can see.

/// A base directory with `root/` for a server started through [`Proc`].
struct Site {
    base: TempDir,
}

impl Site {
    fn new(tag: &str) -> Site {
        let base = TempDir::new(tag);
        fs::create_dir(base.join("root")).unwrap();
        Site { base }
    }

    fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// Writes `<base>/users` with these accounts, home the root; returns its path.
    fn write_users(&self, users: &[User]) -> PathBuf {
        let path = self.path("users");
        fs::write(&path, users_text(users, &self.root())).unwrap();
        path
    }

    /// `-f -l 127.0.0.1 -p 0 -A -r ROOT -o login_fail_delay_ms=20` plus `more`.
    fn args(&self, more: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["-f", "-l", "127.0.0.1", "-p", "0", "-A", "-r"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(s(&self.root()));
        v.push("-o".into());
        v.push("login_fail_delay_ms=20".into());
        v.extend(more.iter().map(|s| s.to_string()));
        v
    }
}

fn users_text(users: &[User], home: &Path) -> String {
    users
        .iter()
        .map(|u| format!("{}:{}:{}:{}\n", u.name, u.hash, home.display(), u.perms))
        .collect()
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

/// Whether `pid` is a running process (not gone, not a zombie).
fn running(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Prints the skip reason; in CI (where these must run) a skip is a failure.
fn skip(test: &str, reason: &str) {
    assert!(
        env::var_os("CI").is_none(),
        "{test} cannot run in CI: {reason}"
    );
    println!("SKIP: {test}: {reason}");
}

/// Replies seen while a connection closes: exactly the 421 notices, nothing else.
fn closed_with_421(c: &mut FtpClient, what: &str, timeout: Duration) -> Vec<Reply> {
    let seen = c
        .wait_closed(timeout)
        .unwrap_or_else(|e| panic!("{what}: the server did not close the connection: {e}"));
    assert!(!seen.is_empty(), "{what}: closed without a 421 reply");
    for r in &seen {
        assert_eq!(
            r.code,
            421,
            "{what}: unexpected reply before close: {}",
            r.text()
        );
    }
    seen
}

/// A connection refused at accept: greeted with 421, then closed with nothing more.
fn refused_with_421(c: &mut FtpClient, what: &str) {
    assert_eq!(c.greeting.code, 421, "{what}: {}", c.greeting.text());
    let seen = c
        .wait_closed(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{what}: not closed after the 421: {e}"));
    assert!(seen.is_empty(), "{what}: replies after the 421: {seen:?}");
}

/// Byte contents compared without dumping megabytes into the failure message.
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    let show = |b: &[u8]| {
        if b.len() <= 80 {
            format!("{:?}", lossy(b))
        } else {
            format!("{} bytes, crc32 {:08x}", b.len(), crc32fast::hash(b))
        }
    };
    assert!(
        got == want,
        "{what}: got {}, expected {}",
        show(got),
        show(want)
    );
}

/// Names in a LIST body (ls -l lines).
fn list_names(raw: &[u8]) -> Vec<String> {
    listing_lines(raw)
        .iter()
        .filter(|l| !l.starts_with(b"total"))
        .map(|l| lossy(&ls_name(l)))
        .collect()
}

/// The names in the directory on disk that start with `prefix`.
fn disk_names_with(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Replies in a byte stream of CRLF lines: (code, text of all lines) each.
fn split_replies(raw: &[u8]) -> Vec<(u16, String)> {
    let text = lossy(raw);
    let mut out = Vec::new();
    let mut current: Option<(u16, Vec<String>)> = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let last = line.as_bytes().get(3) != Some(&b'-');
        let (c, mut lines) = current.take().unwrap_or((code, Vec::new()));
        lines.push(line.to_string());
        if last && code == c {
            out.push((c, lines.join("\n")));
        } else {
            current = Some((c, lines));
        }
    }
    if let Some((c, lines)) = current {
        out.push((c, format!("INCOMPLETE: {}", lines.join("\n"))));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. -t

/// Runs the binary to completion with these arguments (bounded); (status, stdout+stderr).
fn run_to_end(args: &[String]) -> (ExitStatus, String) {
    let mut cmd = server_command();
    cmd.args(args).stdin(Stdio::null());
    let mut p = Proc::spawn(cmd, true);
    let status = p
        .wait_exit(EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("{args:?} still running after {EXIT_TIMEOUT:?}"));
    p.wait_output_closed(Duration::from_secs(10));
    (status, p.logs())
}

#[test]
fn test_config_accepts_the_sample_and_names_file_and_line_of_errors() {
    let site = Site::new("check");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/ferroftpd.conf");
    let text = fs::read_to_string(&sample).unwrap();
    assert!(
        text.contains("\nroot = /srv/ftp\n"),
        "the sample's root line changed"
    );
    // The sample's root may not exist here: point it at a directory that does.
    let conf = site.path("ferroftpd.conf");
    fs::write(
        &conf,
        text.replace(
            "\nroot = /srv/ftp\n",
            &format!("\nroot = {}\n", site.root().display()),
        ),
    )
    .unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), s(&conf)]);
    assert_eq!(status.code(), Some(0), "-t on the sample: {out}");
    assert!(out.contains("configuration OK"), "{out}");

    // An unknown key: exit 1, file:line.
    let bad = site.path("unknown.conf");
    fs::write(&bad, "# comment\nanonymous = yes\n\nbogus_key = 1\n").unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), s(&bad)]);
    assert_eq!(status.code(), Some(1), "unknown key: {out}");
    assert!(
        out.contains(&format!("{}:4:", bad.display())),
        "file:line missing: {out}"
    );
    assert!(out.contains("bogus_key"), "{out}");

    // A bad value: exit 1, the line named.
    let bad = site.path("value.conf");
    fs::write(&bad, "anonymous = yes\nmax_clients = zero\n").unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), s(&bad)]);
    assert_eq!(status.code(), Some(1), "bad value: {out}");
    assert!(
        out.contains(&format!("{}:2:", bad.display())),
        "file:line missing: {out}"
    );
    assert!(out.contains("max_clients"), "{out}");

    // A users file with a bad hash on line 3.
    let users = site.path("users");
    fs::write(
        &users,
        format!(
            "# accounts\n{}:{}:/srv:rw\nmallory:not-a-hash:/srv:rw\n",
            ALICE.name, ALICE.hash
        ),
    )
    .unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-U".into(), s(&users)]);
    assert_eq!(status.code(), Some(1), "bad hash: {out}");
    assert!(
        out.contains(&format!("{}:3", users.display())),
        "file:line missing: {out}"
    );
    // The same file without the bad line passes.
    fs::write(&users, format!("{}:{}:/srv:rw\n", ALICE.name, ALICE.hash)).unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-U".into(), s(&users)]);
    assert_eq!(status.code(), Some(0), "good users file: {out}");
}

// ---------------------------------------------------------------------------------------------
// 2. Daemon mode

/// A daemon (not our child) known by pid: SIGKILLed on drop if it still runs.
struct Daemon {
    pid: i32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if running(self.pid) {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Starts `-d` with these extra arguments; returns the parent's status and its output.
fn start_daemon(site: &Site, more: &[&str]) -> (ExitStatus, String) {
    let mut args = site.args(more);
    // -f would override -d: the site's foreground flag is replaced.
    args.retain(|a| a != "-f");
    args.insert(0, "-d".into());
    run_to_end(&args)
}

#[test]
fn daemon_writes_pidfile_refuses_a_second_instance_and_cleans_up_on_sigterm() {
    // qemu-user runs a helper thread of its own, so the emulated process is never single-
    // threaded and daemonize (which refuses to fork a threaded process) cannot work there;
    // on a real device it does, and the native run checks it.
    if env::var_os("FERROFTPD_RUNNER").is_some_and(|r| !r.is_empty()) {
        println!("SKIP: daemon mode cannot be tested under a qemu-user runner");
        return;
    }
    let site = Site::new("daemon");
    fs::write(site.root().join("f"), b"daemon data").unwrap();
    let pidfile = site.path("ferroftpd.pid");
    // -p 0: the daemon logs `listening on` before it points stderr at /dev/null, so its
    // parent's output tells the port without a probe bind (and its race).
    let (status, out) = start_daemon(&site, &["-P", &s(&pidfile)]);
    assert_eq!(status.code(), Some(0), "daemon parent: {out}");
    let pid =
        read_pid(&pidfile).unwrap_or_else(|| panic!("no pid in {}: {out}", pidfile.display()));
    let _guard = Daemon { pid };
    assert!(running(pid), "pid {pid} from the pidfile is not running");
    let addr = parse_listening(
        out.lines()
            .find(|l| l.contains("listening on"))
            .unwrap_or(""),
    )
    .unwrap_or_else(|| panic!("no listening line: {out}"));
    let mut c = FtpClient::connect(addr);
    c.login("anonymous", "d@x");
    assert_bytes(&c.retr("f"), b"daemon data", "content");

    // A second daemon with the same pidfile (on another port) must not start.
    let (status, out2) = start_daemon(&site, &["-P", &s(&pidfile)]);
    assert_ne!(
        status.code(),
        Some(0),
        "second daemon with the same pidfile started: {out2}"
    );
    assert!(
        out2.contains(&pid.to_string()),
        "the refusal should name pid {pid}: {out2}"
    );
    assert_eq!(read_pid(&pidfile), Some(pid), "the pidfile was changed");
    assert!(running(pid), "the first daemon died");
    c.expect("NOOP", 200);
    drop(c);

    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(
        poll_until(EXIT_TIMEOUT, || !pidfile.exists()),
        "pidfile still there after SIGTERM"
    );
    assert!(
        poll_until(EXIT_TIMEOUT, || !running(pid)),
        "daemon {pid} still runs after SIGTERM"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. inetd mode

#[test]
fn inetd_mode_on_pipes() {
    let site = Site::new("inetd-pipe");
    let mut cmd = server_command();
    cmd.args(["-i", "-A", "-r", &s(&site.root())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut p = Proc::spawn(cmd, false);
    let mut stdin = p.child.stdin.take().unwrap();
    let mut stdout = p.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let r = stdout.read_to_end(&mut out);
        let _ = tx.send((r.map(|_| ()), out));
    });
    stdin
        .write_all(b"USER anonymous\r\nPASS x\r\nPWD\r\nQUIT\r\n")
        .unwrap();
    let (r, out) = rx
        .recv_timeout(EXIT_TIMEOUT)
        .unwrap_or_else(|_| panic!("stdout not closed after QUIT; log:\n{}", p.logs()));
    r.unwrap();
    drop(stdin);
    let replies = split_replies(&out);
    let codes: Vec<u16> = replies.iter().map(|r| r.0).collect();
    assert_eq!(codes, [220, 331, 230, 257, 221], "replies: {replies:#?}");
    assert!(replies[3].1.contains("\"/\""), "{}", replies[3].1);
    let status = p
        .wait_exit(EXIT_TIMEOUT)
        .expect("inetd process did not exit");
    assert!(status.success(), "{status}; log:\n{}", p.logs());
}

#[test]
fn inetd_mode_on_a_socket_serves_pasv_retr() {
    let site = Site::new("inetd-sock");
    let content = pattern(300_000, 5);
    fs::write(site.root().join("file.bin"), &content).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let server_side = accept_bounded(&l, IO_TIMEOUT).unwrap();
    let fd_in: OwnedFd = server_side.try_clone().unwrap().into();
    let fd_out: OwnedFd = server_side.into();
    let mut cmd = server_command();
    cmd.args(["-i", "-A", "-r", &s(&site.root())])
        .stdin(Stdio::from(fd_in))
        .stdout(Stdio::from(fd_out));
    let mut p = Proc::spawn(cmd, false);
    let mut c = FtpClient::from_stream(client);
    assert_eq!(c.greeting.code, 220, "{}", c.greeting.text());
    c.login("anonymous", "inetd@x");
    c.expect("TYPE I", 200);
    assert!(c.retr("file.bin") == content, "RETR content differs");
    assert_eq!(c.quit().0, 221);
    let status = p
        .wait_exit(EXIT_TIMEOUT)
        .expect("inetd process did not exit");
    assert!(status.success(), "{status}; log:\n{}", p.logs());
}

// ---------------------------------------------------------------------------------------------
// 4. SIGHUP

#[test]
fn sighup_reloads_users_and_keeps_sessions_and_survives_a_broken_file() {
    let site = Site::new("hup");
    fs::write(site.root().join("f"), b"x").unwrap();
    let users = site.write_users(&[ALICE]);
    // ban_after=0: the failed logins below must not ban 127.0.0.1.
    let (p, addr) = Proc::server(&site.args(&["-U", &s(&users), "-o", "ban_after=0"]));
    let mut alice = FtpClient::connect(addr);
    alice.login(ALICE.name, ALICE.password);
    {
        let mut bob = FtpClient::connect(addr);
        bob.expect("USER bob", 331);
        bob.expect(&format!("PASS {}", BOB.password), 530);
    }

    fs::write(&users, users_text(&[ALICE, BOB], &site.root())).unwrap();
    p.signal(Signal::SIGHUP);
    let bob_in = poll_until(Duration::from_secs(20), || {
        let mut c = FtpClient::connect(addr);
        c.expect("USER bob", 331);
        c.cmd(&format!("PASS {}", BOB.password)).0 == 230
    });
    assert!(
        bob_in,
        "bob never could log in after SIGHUP; log:\n{}",
        p.logs()
    );
    alice.expect("NOOP", 200);
    assert!(list_names(&alice.list("")).contains(&"f".to_string()));

    // A broken users file: logged, and the old accounts keep working.
    fs::write(
        &users,
        format!(
            "{}this line is broken\n",
            users_text(&[ALICE, BOB], &site.root())
        ),
    )
    .unwrap();
    p.signal(Signal::SIGHUP);
    let line = p.wait_log(Duration::from_secs(20), |l| l.contains("reload failed"));
    let line = line.unwrap_or_else(|| panic!("no reload failure logged:\n{}", p.logs()));
    assert!(
        line.contains(&format!("{}:3", users.display())),
        "the failure should name the file and line: {line}"
    );
    alice.expect("NOOP", 200);
    FtpClient::connect(addr).login(ALICE.name, ALICE.password);
    FtpClient::connect(addr).login(BOB.name, BOB.password);
}

// ---------------------------------------------------------------------------------------------
// 5. SIGTERM

#[test]
fn sigterm_lets_a_running_transfer_finish_and_tells_idle_sessions_421() {
    let site = Site::new("term");
    let len = 2u64 << 20;
    let crc = write_pattern_file(&site.root().join("big"), len, 3);
    let (mut p, addr) =
        Proc::server(&site.args(&["-o", "download_rate=1048576", "-o", "shutdown_timeout=20"]));
    let mut a = FtpClient::connect(addr);
    a.login("anonymous", "a@x");
    let mut idle = FtpClient::connect(addr);
    idle.login("anonymous", "b@x");
    a.expect("TYPE I", 200);
    let (mut data, _) = a.start_transfer(b"RETR big", DataMode::Pasv);
    let mut first = vec![0u8; 64 * 1024];
    data.read_exact(&mut first).unwrap();
    p.signal(Signal::SIGTERM);
    let t = Instant::now();

    let seen = closed_with_421(
        &mut idle,
        "idle session at SIGTERM",
        Duration::from_secs(15),
    );
    assert_eq!(seen.len(), 1, "{seen:?}");

    let mut h = crc32fast::Hasher::new();
    h.update(&first);
    let mut rest = Vec::new();
    data.read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("download cut after SIGTERM: {e}"));
    h.update(&rest);
    assert_eq!(
        first.len() as u64 + rest.len() as u64,
        len,
        "bytes received"
    );
    assert_eq!(h.finalize(), crc, "content");
    drop(data);
    let (code, text) = a.read_reply();
    assert_eq!(code, 226, "after the download: {text}");
    let status = p
        .wait_exit(Duration::from_secs(20) + EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", t.elapsed()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIGTERM; log:\n{}",
        p.logs()
    );
    // Its control connection, woken during the transfer, still gets the 421 after the 226.
    let seen = closed_with_421(&mut a, "downloading session", Duration::from_secs(10));
    assert_eq!(seen.len(), 1, "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// 6. Limits

#[test]
fn max_clients_gives_421_while_a_session_keeps_working() {
    let srv = Server::builder().user(ALICE).opt("max_clients", 2).start();
    fs::write(srv.root().join("f"), b"limit").unwrap();
    let mut c1 = srv.login(ALICE);
    let _c2 = srv.connect();
    let mut c3 = FtpClient::connect_any(srv.addr);
    refused_with_421(&mut c3, "third client");
    c1.expect("NOOP", 200);
    assert_bytes(&c1.retr("f"), b"limit", "content");
}

#[test]
fn max_per_ip_refuses_only_the_full_address() {
    let srv = Server::builder()
        .opt("max_per_ip", 1)
        .opt("max_clients", 10)
        .start();
    let mut a = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    assert_eq!(a.greeting.code, 220);
    a.login("anonymous", "a@x");
    let mut again = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    refused_with_421(&mut again, "second from 127.0.0.1");
    let mut other = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 2), srv.addr);
    assert_eq!(
        other.greeting.code,
        220,
        "127.0.0.2: {}",
        other.greeting.text()
    );
    other.login("anonymous", "b@x");
    a.expect("NOOP", 200);
    assert!(a.list("").is_empty());
}

#[test]
fn idle_timeout_closes_with_421_timeout() {
    let srv = Server::builder().opt("idle_timeout", 2).start();
    let mut c = srv.anon();
    c.expect("NOOP", 200);
    let t = Instant::now();
    let seen = closed_with_421(&mut c, "idle session", Duration::from_secs(20));
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "closed after {:?}",
        t.elapsed()
    );
    assert!(seen[0].text().contains("Timeout"), "{}", seen[0].text());
}

#[test]
fn login_timeout_closes_a_session_that_never_logs_in() {
    let srv = Server::builder().opt("login_timeout", 2).start();
    let mut c = srv.connect();
    let t = Instant::now();
    c.expect("USER anonymous", 331);
    closed_with_421(&mut c, "no login", Duration::from_secs(20));
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "closed after {:?}",
        t.elapsed()
    );
    // Logged in in time: kept past the login timeout.
    let mut c = srv.anon();
    let t = Instant::now();
    poll_until(Duration::from_secs(3), || {
        t.elapsed() > Duration::from_millis(2500)
    });
    c.expect("NOOP", 200);
}

#[test]
fn login_timeout_is_not_stretched_by_a_trickle_of_bytes() {
    // Each byte ends one blocking read; the deadline is the login's, not the last byte's.
    let srv = Server::builder().opt("login_timeout", 2).start();
    let mut c = srv.connect();
    let mut writer = c.socket().try_clone().unwrap();
    let t = Instant::now();
    let trickle = std::thread::spawn(move || {
        // At most 40 bytes over 10 s, never a whole line; stops when the server is gone.
        for _ in 0..40 {
            if writer.write_all(b"N").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    closed_with_421(&mut c, "trickling client", Duration::from_secs(20));
    let took = t.elapsed();
    trickle.join().unwrap();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "closed after {took:?}"
    );
}

#[test]
fn max_login_failures_closes_the_connection() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("max_login_failures", 2)
        .start();
    let mut c = srv.connect();
    c.expect("USER alice", 331);
    c.expect("PASS wrong-1", 530);
    c.expect("USER alice", 331);
    c.send("PASS wrong-2");
    let (code, text) = c.read_reply();
    assert_eq!(code, 530, "{text}");
    closed_with_421(&mut c, "second failure", Duration::from_secs(10));
    srv.login(ALICE).expect("NOOP", 200);
}

#[test]
fn ban_refuses_an_address_after_failed_logins_and_not_others() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("ban_after", 3)
        .opt("ban_window", 60)
        .opt("ban_time", 60)
        .opt("max_login_failures", 10)
        .start();
    let bad = Ipv4Addr::new(127, 0, 0, 4);
    let mut c = FtpClient::connect_from(bad, srv.addr);
    for i in 1..=2 {
        c.expect("USER alice", 331);
        let (code, text) = c.cmd(&format!("PASS wrong-{i}"));
        assert_eq!(code, 530, "failure {i}: {text}");
    }
    drop(c);
    let mut c = FtpClient::connect_from(bad, srv.addr);
    assert_eq!(
        c.greeting.code,
        220,
        "not banned yet after 2: {}",
        c.greeting.text()
    );
    c.expect("USER alice", 331);
    c.send("PASS wrong-3");
    let (code, text) = c.read_reply();
    assert_eq!(code, 530, "third failure: {text}");
    closed_with_421(&mut c, "the failure that bans", Duration::from_secs(10));

    let mut banned = FtpClient::connect_from(bad, srv.addr);
    refused_with_421(&mut banned, "banned 127.0.0.4");
    // Even the right password is not reachable from the banned address, but others are fine.
    let mut good = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    assert_eq!(good.greeting.code, 220, "{}", good.greeting.text());
    good.login(ALICE.name, ALICE.password);
    good.expect("NOOP", 200);
}

// ---------------------------------------------------------------------------------------------
// 7. Rate limits

#[test]
fn download_rate_limits_retr() {
    let srv = Server::builder().opt("download_rate", 1_000_000).start();
    let crc = write_pattern_file(&srv.root().join("f3"), 3_000_000, 7);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let t = Instant::now();
    let (mut data, _) = c.start_transfer(b"RETR f3", DataMode::Pasv);
    let got = crc_reader(&mut data).unwrap();
    drop(data);
    assert_eq!(c.read_reply().0, 226);
    let took = t.elapsed();
    assert_eq!(got, (crc, 3_000_000));
    assert!(
        took >= Duration::from_millis(2500),
        "3 MB at 1 MB/s took {took:?}"
    );
}

#[test]
fn upload_rate_limits_stor() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("upload_rate", 1_000_000)
        .opt("fsync", "no")
        .start();
    let body = pattern(3_000_000, 8);
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let t = Instant::now();
    c.stor("up3", &body);
    let took = t.elapsed();
    assert_eq!(
        crc_file(&srv.root().join("up3")),
        (crc32fast::hash(&body), 3_000_000)
    );
    assert!(
        took >= Duration::from_millis(2500),
        "3 MB at 1 MB/s took {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. syslog

/// Receives datagrams until one satisfies `pred` (bounded); returns all received.
fn recv_until(sock: &UnixDatagram, all: &mut Vec<String>, pred: impl Fn(&str) -> bool) -> bool {
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + START_TIMEOUT;
    let mut buf = vec![0u8; 4096];
    for _ in 0..10_000 {
        if all.iter().any(|m| pred(m)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        match sock.recv(&mut buf) {
            Ok(n) => all.push(lossy(&buf[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("syslog socket: {e}"),
        }
    }
    false
}

#[test]
fn syslog_gets_daemon_info_lines_without_passwords() {
    const WRONG: &str = "Syslog-Wrong-Pw-31";
    let site = Site::new("syslog");
    let users = site.write_users(&[ALICE]);
    let sock_path = site.path("log");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut cmd = server_command();
    cmd.args(site.args(&[
        "-U",
        &s(&users),
        "-o",
        "syslog=yes",
        "-o",
        &format!("syslog_socket={}", sock_path.display()),
    ]))
    .stdin(Stdio::null());
    let p = Proc::spawn(cmd, true);
    let mut msgs = Vec::new();
    assert!(
        recv_until(&sock, &mut msgs, |m| m.contains("listening on ")),
        "no `listening on` via syslog; datagrams {msgs:?}; stderr:\n{}",
        p.logs()
    );
    let addr = msgs
        .iter()
        .find_map(|m| parse_listening(m))
        .expect("listening address");
    let mut c = FtpClient::connect(addr);
    c.expect("USER alice", 331);
    c.expect(&format!("PASS {WRONG}"), 530);
    c.login(ALICE.name, ALICE.password);
    assert!(
        recv_until(&sock, &mut msgs, |m| m.contains("login as alice")),
        "no login line via syslog: {msgs:?}"
    );
    let tag = format!("ferroftpd[{}]: ", p.pid());
    let login = msgs.iter().find(|m| m.contains("login as alice")).unwrap();
    assert!(login.starts_with("<30>"), "not daemon.info: {login:?}");
    assert!(login.contains(&tag), "no {tag:?} in {login:?}");
    for m in &msgs {
        assert!(m.contains("ferroftpd["), "{m:?}");
        for secret in [ALICE.password, WRONG, ALICE.hash] {
            assert!(!m.contains(secret), "secret in syslog: {m:?}");
        }
    }
    assert!(
        !p.logs().contains("login as"),
        "logs went to stderr too:\n{}",
        p.logs()
    );
}

// ---------------------------------------------------------------------------------------------
// 9. xferlog

#[test]
fn xferlog_records_retr_and_stor_field_by_field() {
    let b = Server::builder().user(ALICE);
    let xferlog = b.outside().join("xferlog");
    let srv = b.opt("xferlog", s(&xferlog)).start();
    fs::create_dir(srv.root().join("pub")).unwrap();
    fs::write(srv.root().join("pub/readme"), b"no newline in here").unwrap();

    let mut anon = srv.connect();
    anon.login("anonymous", "guest@example.com");
    anon.expect("TYPE A", 200);
    assert_bytes(&anon.retr("pub/readme"), b"no newline in here", "content");
    let mut alice = srv.login(ALICE);
    alice.expect("TYPE I", 200);
    alice.stor("upload.bin", &pattern(777, 1));

    let mut lines = Vec::new();
    let ok = poll_until(Duration::from_secs(10), || {
        lines = fs::read_to_string(&xferlog)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        lines.len() >= 2
    });
    assert!(ok, "xferlog lines: {lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let expect = [
        ("18", "/pub/readme", "a", "o", "a", "guest@example.com"),
        ("777", "/upload.bin", "b", "i", "r", "alice"),
    ];
    for (line, (size, name, ty, dir, access, user)) in lines.iter().zip(expect) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 18, "{line:?}");
        assert!(
            ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].contains(&f[0]),
            "{line:?}"
        );
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        assert!(months.contains(&f[1]), "{line:?}");
        assert!(
            f[2].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d)),
            "{line:?}"
        );
        let hms: Vec<&str> = f[3].split(':').collect();
        assert!(
            hms.len() == 3 && hms.iter().all(|x| x.len() == 2 && x.parse::<u32>().is_ok()),
            "{line:?}"
        );
        assert!(
            f[4].len() == 4 && f[4].parse::<u32>().is_ok_and(|y| y >= 2024),
            "{line:?}"
        );
        assert!(
            f[5].parse::<u64>().is_ok_and(|t| t >= 1),
            "transfer-time {line:?}"
        );
        assert_eq!(f[6], "127.0.0.1", "{line:?}");
        assert_eq!(f[7], size, "{line:?}");
        assert_eq!(f[8], name, "{line:?}");
        assert_eq!(f[9], ty, "{line:?}");
        assert_eq!(f[10], "_", "{line:?}");
        assert_eq!(f[11], dir, "{line:?}");
        assert_eq!(f[12], access, "{line:?}");
        assert_eq!(f[13], user, "{line:?}");
        assert_eq!(&f[14..], ["ftp", "0", "*", "c"], "{line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Messages

#[test]
fn banner_file_login_message_and_directory_message_are_shown() {
    let b = Server::builder().user(ALICE);
    let banner = b.outside().join("banner");
    fs::write(&banner, "Welcome to the test device\nAuthorised use only\n").unwrap();
    let srv = b
        .opt("banner_file", s(&banner))
        .opt("login_message", "Hello there\\nUploads go to /in")
        .start();
    fs::create_dir(srv.root().join("pub")).unwrap();
    fs::write(srv.root().join("pub/.message"), "Files for release 2.1\n").unwrap();

    let mut c = srv.connect();
    let g = c.greeting.text();
    assert!(g.contains("Welcome to the test device"), "{g}");
    assert!(g.contains("Authorised use only"), "{g}");
    assert!(g.starts_with("220-"), "multi-line 220 expected: {g}");
    c.expect("USER alice", 331);
    let text = c.expect(&format!("PASS {}", ALICE.password), 230);
    assert!(
        text.contains("Hello there") && text.contains("Uploads go to /in"),
        "{text}"
    );
    let r = c.cmd_raw(b"CWD pub");
    assert_eq!(r.code, 250, "{}", r.text());
    assert!(
        r.lines
            .iter()
            .any(|l| l.starts_with(b"250-") && lossy(l).contains("Files for release 2.1")),
        "the .message should come as 250- lines: {}",
        r.text()
    );
    // No message file, no message: the plain 250.
    let r = c.cmd_raw(b"CWD /");
    assert_eq!(r.code, 250);
    assert!(!r.text().contains("Files for release"), "{}", r.text());
}

// ---------------------------------------------------------------------------------------------
// 11. Upload safety

/// Starts `STOR name` and sends `n` bytes without ending the upload; returns the data socket.
fn start_upload(c: &mut FtpClient, name: &str, n: usize) -> TcpStream {
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(format!("STOR {name}").as_bytes(), DataMode::Pasv);
    data.write_all(&pattern(n, 9)).unwrap();
    data
}

/// Waits until the running upload has moved some bytes (STAT during a transfer reports them;
/// with O_TMPFILE the temporary has no name to look at).
fn wait_for_upload_progress(c: &mut FtpClient) -> bool {
    poll_until(Duration::from_secs(15), || {
        let (code, text) = c.cmd("STAT");
        assert_eq!(code, 213, "STAT during the upload: {text}");
        text.split_whitespace()
            .find_map(|w| w.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    })
}

#[test]
fn atomic_upload_aborted_keeps_the_old_file_and_a_complete_one_replaces_it() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("atomic_uploads", "yes")
        .start();
    let target = srv.root().join("target");
    fs::write(&target, b"old content").unwrap();
    let mut c = srv.login(ALICE);
    let data = start_upload(&mut c, "target", 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target changed mid-upload",
    );
    c.send("ABOR");
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "the aborted STOR: {text}");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "ABOR: {text}");
    drop(data);
    // Regression (found here): the ABOR's own 226 was taken for a complete upload, and the
    // partial temporary was renamed over the target.
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target after an ABORted atomic STOR",
    );
    assert_eq!(
        disk_names_with(&srv.root(), ".ferroftpd-upload"),
        Vec::<String>::new()
    );
    assert_eq!(list_names(&c.list("")), ["target"]);

    let new = pattern(200_000, 4);
    c.stor("target", &new);
    assert!(
        fs::read(&target).unwrap() == new,
        "complete atomic STOR did not replace the file"
    );
    assert_eq!(
        disk_names_with(&srv.root(), ".ferroftpd-upload"),
        Vec::<String>::new()
    );
    c.expect("NOOP", 200);
}

#[test]
fn atomic_upload_cut_by_sigkill_leaves_the_old_file_and_no_visible_partial() {
    let site = Site::new("atomic-kill");
    let target = site.root().join("target");
    fs::write(&target, b"old content").unwrap();
    let users = site.write_users(&[ALICE]);
    let args = site.args(&["-U", &s(&users), "-o", "atomic_uploads=yes"]);
    let (mut p, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    let data = start_upload(&mut c, "target", 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    p.signal(Signal::SIGKILL);
    assert!(
        p.wait_exit(EXIT_TIMEOUT).is_some(),
        "SIGKILL did not end the server"
    );
    drop(data);
    drop(c);
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target after SIGKILL",
    );

    // A restarted server: LIST (no -a) shows the target only, which has the old content.
    let (_p2, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    assert_eq!(list_names(&c.list("")), ["target"]);
    assert_bytes(
        &c.retr("target"),
        b"old content",
        "RETR target after the restart",
    );
}

/// Starts a server on `site` with atomic uploads, uploads into `dir/target`, and SIGKILLs the
/// server mid-upload. `old_kernel`: the server sees Linux 3.10 (no O_TMPFILE, src/oldkernel.rs).
fn kill_mid_atomic_upload(site: &Site, dir: &str, old_kernel: bool) {
    let users = site.write_users(&[ALICE]);
    let args = site.args(&["-U", &s(&users), "-o", "atomic_uploads=yes"]);
    let mut cmd = server_command();
    cmd.args(&args).stdin(Stdio::null());
    if old_kernel {
        cmd.env("FERROFTPD_OLD_KERNEL", "1");
    }
    let mut p = Proc::spawn(cmd, true);
    let mut c = FtpClient::connect(p.addr());
    c.login(ALICE.name, ALICE.password);
    let data = start_upload(&mut c, &format!("{dir}/target"), 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    p.signal(Signal::SIGKILL);
    assert!(
        p.wait_exit(EXIT_TIMEOUT).is_some(),
        "SIGKILL did not end the server"
    );
    drop(data);
}

/// Whether this test process can make an O_TMPFILE file in `dir` (kernel and file system).
fn o_tmpfile_works(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_TMPFILE)
        .open(dir)
        .is_ok()
        && Path::new("/proc/self/fd").is_dir()
}

const TEMP_PREFIX: &str = ".ferroftpd-upload.";

#[test]
fn atomic_upload_killed_by_sigkill_leaves_no_temporary_where_o_tmpfile_works() {
    let test = "atomic_upload_killed_by_sigkill_leaves_no_temporary_where_o_tmpfile_works";
    let site = Site::new("atomic-tmpfile");
    fs::create_dir(site.root().join("d")).unwrap();
    if !o_tmpfile_works(&site.root()) {
        skip(
            test,
            "no O_TMPFILE on this kernel or file system, or no /proc",
        );
        return;
    }
    if env::var_os("FERROFTPD_OLD_KERNEL").is_some() {
        skip(test, "FERROFTPD_OLD_KERNEL: the server sees no O_TMPFILE");
        return;
    }
    kill_mid_atomic_upload(&site, "d", false);
    assert_eq!(
        disk_names_with(&site.root().join("d"), TEMP_PREFIX),
        Vec::<String>::new(),
        "an unnamed temporary leaves nothing behind"
    );
    assert!(!site.root().join("d/target").exists());
}

#[test]
fn atomic_upload_temporary_left_by_a_crash_is_invisible_and_removed() {
    let site = Site::new("atomic-stale");
    for d in ["a", "b"] {
        fs::create_dir(site.root().join(d)).unwrap();
        fs::write(site.root().join(d).join("target"), b"old content").unwrap();
    }
    // Linux 3.10 (or no O_TMPFILE): the upload has a named temporary from the start. qemu-user
    // refuses the seccomp filter; a temporary is then made below as a crash would leave it.
    let runner = env::var_os("FERROFTPD_RUNNER").is_some_and(|r| !r.is_empty());
    kill_mid_atomic_upload(&site, "a", !runner);
    let a = site.root().join("a");
    let mut left = disk_names_with(&a, TEMP_PREFIX);
    if left.is_empty() {
        assert!(
            runner,
            "the 3.10 server left no named temporary (a server built without the test-hooks \
             feature ignores FERROFTPD_OLD_KERNEL)"
        );
        let name = format!("{TEMP_PREFIX}1.0123456789abcdef.0");
        fs::write(a.join(&name), pattern(300_000, 3)).unwrap();
        left.push(name);
    }
    assert_eq!(left.len(), 1, "{left:?}");
    let temp = left.remove(0);
    let size = fs::metadata(a.join(&temp)).unwrap().len();
    assert!(size > 0, "the temporary holds the partial upload");
    // The same leftover in `b`, to be removed by an upload there rather than a listing.
    fs::copy(a.join(&temp), site.root().join("b").join(&temp)).unwrap();

    let users = site.path("users");
    let args = site.args(&["-U", &s(&users), "-o", "atomic_uploads=yes"]);
    let (_p, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    // Every path a client has treats it as absent (or, to make it, as a forbidden name).
    for cmd in [
        format!("SIZE a/{temp}"),
        format!("MDTM a/{temp}"),
        format!("MLST a/{temp}"),
        format!("STAT a/{temp}"),
        format!("DELE a/{temp}"),
        format!("RNFR a/{temp}"),
        format!("CWD a/{temp}"),
        format!("RMD a/{temp}"),
        format!("SITE CHMOD 644 a/{temp}"),
    ] {
        let (code, text) = c.cmd(&cmd);
        assert_eq!(code, 550, "{cmd}: {text}");
    }
    let (code, text) = c.cmd(&format!("MKD b/{temp}"));
    assert!(code == 550 || code == 553, "MKD: {code} {text}");
    c.expect("RNFR a/target", 350);
    let (code, text) = c.cmd(&format!("RNTO b/{temp}"));
    assert_eq!(code, 553, "RNTO onto a temporary: {text}");
    let _data = c.pasv();
    let (code, text) = c.cmd(&format!("RETR a/{temp}"));
    assert_eq!(code, 550, "RETR: {text}");
    assert!(
        site.root().join("b").join(&temp).exists(),
        "nothing above may remove it"
    );
    // Listings leave it out, and listing the directory removes it.
    assert_eq!(list_names(&c.list("-a a")), ["target"]);
    assert!(!lossy(&c.nlst("a")).contains(TEMP_PREFIX));
    let mlsd = c.transfer_in(b"MLSD a", DataMode::Pasv);
    assert!(!lossy(&mlsd).contains(TEMP_PREFIX), "{}", lossy(&mlsd));
    let (_, stat) = c.cmd("STAT -a a");
    assert!(!stat.contains(TEMP_PREFIX), "{stat}");
    assert!(!lossy(&c.nlst("a/.f*")).contains(TEMP_PREFIX));
    assert_eq!(disk_names_with(&a, TEMP_PREFIX), Vec::<String>::new());
    // An upload into `b` removes it there, without any listing.
    c.expect("TYPE I", 200);
    c.stor("b/new", b"fresh");
    assert_eq!(
        disk_names_with(&site.root().join("b"), TEMP_PREFIX),
        Vec::<String>::new()
    );
    assert_bytes(&c.retr("a/target"), b"old content", "a/target");
    assert_bytes(&c.retr("b/target"), b"old content", "b/target");
    c.expect("NOOP", 200);
}

#[test]
fn deny_overwrite_refuses_replacing_a_file() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("deny_overwrite", "yes")
        .start();
    fs::write(srv.root().join("exists"), b"keep me").unwrap();
    let mut c = srv.login(ALICE);
    let _data = c.pasv();
    let (code, text) = c.cmd("STOR exists");
    assert_eq!(code, 550, "STOR onto an existing file: {text}");
    assert_bytes(
        &fs::read(srv.root().join("exists")).unwrap(),
        b"keep me",
        "content",
    );
    c.stor("fresh", b"new file");
    assert_bytes(
        &fs::read(srv.root().join("fresh")).unwrap(),
        b"new file",
        "content",
    );
    c.expect("NOOP", 200);
}

#[test]
fn fsync_off_still_stores_correctly() {
    let srv = Server::builder().user(ALICE).opt("fsync", "no").start();
    let body = pattern(1 << 20, 12);
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.stor("nosync.bin", &body);
    assert_eq!(
        crc_file(&srv.root().join("nosync.bin")),
        (crc32fast::hash(&body), 1 << 20)
    );
    assert!(c.retr("nosync.bin") == body);
}

// ---------------------------------------------------------------------------------------------
// 12. Full disk

/// A 1 MiB tmpfs, unmounted on drop (drop the server using it first).
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(test: &str) -> Option<Tmpfs> {
        if !is_root() {
            skip(test, "mount needs root");
            return None;
        }
        let dir = TempDir::new("tmpfs");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                skip(
                    test,
                    &format!("mount tmpfs failed: {}", lossy(&o.stderr).trim()),
                );
                None
            }
            Err(e) => {
                skip(test, &format!("cannot run mount: {e}"));
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// STOR of 3 MB into a 1 MiB filesystem; returns the final reply.
fn stor_too_big(c: &mut FtpClient, name: &str) -> (u16, String) {
    upload_too_big(c, &format!("STOR {name}"))
}

/// An upload command (STOR, APPE) sending 3 MB into a 1 MiB filesystem; the final reply.
fn upload_too_big(c: &mut FtpClient, cmd: &str) -> (u16, String) {
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(cmd.as_bytes(), DataMode::Pasv);
    // The server stops reading when the disk is full: write errors are expected.
    let _ = data.write_all(&pattern(3_000_000, 2));
    let _ = data.shutdown(Shutdown::Write);
    drop(data);
    c.read_reply()
}

fn full_disk(keep: bool) {
    let test = if keep {
        "full_disk_keep_partial"
    } else {
        "full_disk"
    };
    let Some(disk) = Tmpfs::mount(test) else {
        return;
    };
    let mut b = Server::builder().user_with_home(ALICE, disk.path().to_path_buf());
    if keep {
        b = b.opt("keep_partial_on_enospc", "yes");
    }
    let srv = b.start();
    let mut c = srv.login(ALICE);
    let (code, text) = stor_too_big(&mut c, "huge");
    assert!(
        code == 452 || code == 552,
        "STOR onto a full disk: {code} {text}"
    );
    let partial = disk.path().join("huge");
    if keep {
        let len = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 0,
            "keep_partial_on_enospc=yes: the partial file is gone or empty"
        );
        c.expect("DELE huge", 250);
    } else {
        assert!(!partial.exists(), "the partial upload was not removed");
    }
    c.expect("NOOP", 200);
    c.stor("small", b"fits now");
    assert_bytes(&c.retr("small"), b"fits now", "content");
    assert_bytes(
        &fs::read(disk.path().join("small")).unwrap(),
        b"fits now",
        "content",
    );
    drop(c);
    drop(srv);
}

#[test]
fn full_disk_gives_452_and_removes_the_partial_file() {
    full_disk(false);
}

#[test]
fn full_disk_keeps_the_partial_file_when_asked() {
    full_disk(true);
}

/// APPE and REST+STOR into an existing file on a full disk: with `keep_partial_on_enospc = no`
/// the file is cut back to what it was before the command, with `yes` the part that arrived is
/// kept for a resume.
fn full_disk_extending(keep: bool) {
    let test = if keep {
        "full_disk_extending_keep_partial"
    } else {
        "full_disk_extending"
    };
    let Some(disk) = Tmpfs::mount(test) else {
        return;
    };
    let mut b = Server::builder().user_with_home(ALICE, disk.path().to_path_buf());
    if keep {
        b = b.opt("keep_partial_on_enospc", "yes");
    }
    let srv = b.start();
    let mut c = srv.login(ALICE);
    let original = pattern(100_000, 5);
    let host = disk.path().join("small.bin");
    for (what, cmds) in [
        ("APPE", vec!["APPE small.bin".to_string()]),
        (
            "REST+STOR",
            vec![format!("REST {}", original.len()), "STOR small.bin".into()],
        ),
        // REST inside the file: the bytes past the restart point are not cut at the start.
        (
            "REST 10+STOR",
            vec!["REST 10".into(), "STOR small.bin".into()],
        ),
        // RFC 3659 §5.3: APPE after REST acts as STOR, undo included.
        (
            "REST 10+APPE",
            vec!["REST 10".into(), "APPE small.bin".into()],
        ),
    ] {
        fs::write(&host, &original).unwrap();
        let (last, before) = cmds.split_last().unwrap();
        for cmd in before {
            c.expect(cmd, 350);
        }
        let (code, text) = upload_too_big(&mut c, last);
        assert!(
            code == 452 || code == 552,
            "{what} onto a full disk: {code} {text}"
        );
        let now = fs::read(&host).unwrap();
        if keep {
            assert!(
                now.len() > original.len(),
                "{what}, keep_partial_on_enospc=yes: the part that arrived is gone ({} bytes)",
                now.len()
            );
            let kept = if what.starts_with("REST 10+") {
                10
            } else {
                original.len()
            };
            assert_bytes(&now[..kept], &original[..kept], "the file's old start");
        } else if what.starts_with("REST 10+") {
            // The overwritten range holds new bytes; the length and everything else are back.
            assert_eq!(
                now.len(),
                original.len(),
                "{what}: length after a full disk"
            );
            assert_bytes(&now[..10], &original[..10], "the file's start");
        } else {
            assert_bytes(&now, &original, &format!("{what} on a full disk"));
        }
        if keep {
            // Free the space the kept part holds.
            fs::write(&host, &original).unwrap();
        }
        // The disk has room again: the next upload works.
        c.stor("next", b"fits now");
        assert_bytes(&c.retr("next"), b"fits now", "content");
        c.expect("DELE next", 250);
    }
    c.expect("NOOP", 200);
    drop(c);
    drop(srv);
}

#[test]
fn full_disk_appe_and_rest_stor_leave_the_file_as_it_was() {
    full_disk_extending(false);
}

#[test]
fn full_disk_appe_keeps_the_appended_part_when_asked() {
    full_disk_extending(true);
}

// ---------------------------------------------------------------------------------------------
// 13. hide_dot_files

#[test]
fn hide_dot_files_hides_them_from_list_a_and_mlsd() {
    let populate = |root: &Path| {
        fs::write(root.join(".hidden"), b"h").unwrap();
        fs::create_dir(root.join(".hdir")).unwrap();
        fs::write(root.join("visible"), b"v").unwrap();
    };
    // Without the option LIST -a shows them: the check below is not vacuous.
    let plain = Server::start();
    populate(&plain.root());
    let names = list_names(&plain.anon().list("-a"));
    assert!(names.contains(&".hidden".to_string()), "{names:?}");

    let srv = Server::builder().opt("hide_dot_files", "yes").start();
    populate(&srv.root());
    let mut c = srv.anon();
    let names = list_names(&c.list("-a"));
    assert!(names.contains(&"visible".to_string()), "{names:?}");
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "LIST -a: {names:?}"
    );
    let mlsd = c.transfer_in(b"MLSD", DataMode::Pasv);
    let mut seen = Vec::new();
    for line in listing_lines(&mlsd) {
        let line = lossy(&line);
        let (facts, name) = line.split_once(' ').unwrap_or(("", &line));
        let facts = facts.to_ascii_lowercase();
        if facts.contains("type=cdir") || facts.contains("type=pdir") {
            continue;
        }
        seen.push(name.to_string());
    }
    assert_eq!(seen, ["visible"], "MLSD:\n{}", lossy(&mlsd));
}

// ---------------------------------------------------------------------------------------------
// 14. System users

#[test]
fn system_users_refuse_unknown_names_and_root() {
    if !is_root() {
        return skip("system_users", "needs root to read /etc/shadow");
    }
    let srv = Server::builder().opt("system_users", "yes").start();
    let mut c = srv.connect();
    c.expect("USER no-such-user-ferroftpd", 331);
    c.expect("PASS whatever", 530);
    c.expect("USER root", 331);
    // Whatever root's password is, this login must fail (root is always refused).
    c.expect("PASS root", 530);
}

/// uid/gid of the test's system account in the private passwd file.
const SYS_UID: u32 = 41_234;

#[test]
fn system_user_logs_in_and_owns_its_files_in_a_private_mount_namespace() {
    if !is_root() {
        return skip("system_user_login", "needs root");
    }
    // Bind fixture account files over /etc/passwd and /etc/shadow in a private mount
    // namespace, so the real ones are never touched.
    let probe = Command::new("unshare").args(["--mount", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return skip("system_user_login", "unshare --mount is not available");
    }
    let site = Site::new("sysusers");
    let home = site.path("home");
    fs::create_dir(&home).unwrap();
    nix::unistd::chown(
        &home,
        Some(nix::unistd::Uid::from_raw(SYS_UID)),
        Some(nix::unistd::Gid::from_raw(SYS_UID)),
    )
    .unwrap();
    let passwd = site.path("passwd");
    let shadow = site.path("shadow");
    let ftpusers = site.path("ftpusers");
    fs::write(
        &passwd,
        format!(
            "root:x:0:0:root:{h}:/bin/sh\ntoor:x:0:0:alias:{h}:/bin/sh\n\
             ftptest:x:{SYS_UID}:{SYS_UID}:test:{h}:/bin/sh\ndenied:x:41235:41235::{h}:/bin/sh\n",
            h = home.display()
        ),
    )
    .unwrap();
    // Every account has ALICE's password: only the rules tell them apart.
    fs::write(
        &shadow,
        ["root", "toor", "ftptest", "denied"]
            .iter()
            .map(|n| format!("{n}:{}:19000:0:99999:7:::\n", ALICE.hash))
            .collect::<String>(),
    )
    .unwrap();
    fs::write(&ftpusers, "# denied accounts\ndenied\n").unwrap();
    // The runner prefix (FERROFTPD_RUNNER), if any, runs inside the namespace too.
    let server = server_command();
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@""#)
        .arg("sh")
        .arg(&passwd)
        .arg(&shadow)
        .arg(server.get_program())
        .args(server.get_args())
        .args(site.args(&["-o", "system_users=yes", "-o", &format!("ftpusers={}", ftpusers.display())]))
        .args(["-o", "ban_after=0", "-o", "max_login_failures=10"])
        .stdin(Stdio::null());
    let p = Proc::spawn(cmd, true);
    let addr = p.addr();
    let mut c = FtpClient::connect(addr);
    for name in ["root", "toor", "denied", "nosuchuser"] {
        c.expect(&format!("USER {name}"), 331);
        let (code, text) = c.cmd(&format!("PASS {}", ALICE.password));
        assert_eq!(code, 530, "{name} with the right password: {text}");
    }
    let mut c = FtpClient::connect(addr);
    c.login("ftptest", ALICE.password);
    c.stor("mine", b"owned by ftptest");
    let md = fs::metadata(home.join("mine")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (SYS_UID, SYS_UID),
        "owner of an uploaded file"
    );
    // The real files are untouched (the namespace was private).
    assert!(!fs::read_to_string("/etc/passwd")
        .unwrap()
        .contains("ftptest:x:41234"));
}

// ---------------------------------------------------------------------------------------------
// 15. run_as / chroot

/// (real, effective, saved, fs) ids from a `/proc/PID/status` line such as `Uid:`.
fn proc_ids(pid: i32, key: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    line[key.len()..]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

fn run_as_nobody(chroot: bool) {
    let test = if chroot { "run_as_chroot" } else { "run_as" };
    if !is_root() {
        return skip(test, "needs root");
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        return skip(test, "no user nobody");
    };
    let site = Site::new(test);
    fs::write(site.root().join("pub.txt"), b"readable by all").unwrap();
    let mut more = vec!["-o", "run_as=nobody"];
    if chroot {
        more.extend(["-o", "chroot=yes"]);
    }
    let (p, addr) = Proc::server(&site.args(&more));
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    assert_eq!(
        proc_ids(p.pid(), "Uid:"),
        [uid; 4],
        "Uid line of the server"
    );
    assert_eq!(
        proc_ids(p.pid(), "Gid:"),
        [gid; 4],
        "Gid line of the server"
    );
    let groups = fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    let groups = groups
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap_or("");
    assert!(
        groups
            .split_whitespace()
            .skip(1)
            .all(|g| g == gid.to_string()),
        "supplementary groups kept: {groups}"
    );
    if chroot {
        let root = fs::read_link(format!("/proc/{}/root", p.pid())).unwrap();
        assert_eq!(root, fs::canonicalize(site.root()).unwrap(), "process root");
    }
    let mut c = FtpClient::connect(addr);
    c.login("anonymous", "nobody@x");
    assert_bytes(&c.retr("pub.txt"), b"readable by all", "content");
    assert_eq!(list_names(&c.list("")), ["pub.txt"]);
}

#[test]
fn run_as_nobody_drops_privileges() {
    run_as_nobody(false);
}

#[test]
fn run_as_nobody_with_chroot_roots_the_process_in_the_root_dir() {
    run_as_nobody(true);
}
