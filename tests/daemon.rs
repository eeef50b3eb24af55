//! Running the real binary as a service (issue 5): `-t` config checks, daemon mode and its
//! pidfile, inetd mode, SIGHUP reloads and SIGTERM shutdown.
//!
//! Tests that need the server's pid or exit status run it through `common::Proc`.

mod common;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// -t

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
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), path_str(&conf)]);
    assert_eq!(status.code(), Some(0), "-t on the sample: {out}");
    assert!(out.contains("configuration OK"), "{out}");

    // An unknown key: exit 1, file:line.
    let bad = site.path("unknown.conf");
    fs::write(&bad, "# comment\nanonymous = yes\n\nbogus_key = 1\n").unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), path_str(&bad)]);
    assert_eq!(status.code(), Some(1), "unknown key: {out}");
    assert!(
        out.contains(&format!("{}:4:", bad.display())),
        "file:line missing: {out}"
    );
    assert!(out.contains("bogus_key"), "{out}");

    // A bad value: exit 1, the line named.
    let bad = site.path("value.conf");
    fs::write(&bad, "anonymous = yes\nmax_clients = zero\n").unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-c".into(), path_str(&bad)]);
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
    let (status, out) = run_to_end(&["-t".into(), "-U".into(), path_str(&users)]);
    assert_eq!(status.code(), Some(1), "bad hash: {out}");
    assert!(
        out.contains(&format!("{}:3", users.display())),
        "file:line missing: {out}"
    );
    // The same file without the bad line passes.
    fs::write(&users, format!("{}:{}:/srv:rw\n", ALICE.name, ALICE.hash)).unwrap();
    let (status, out) = run_to_end(&["-t".into(), "-U".into(), path_str(&users)]);
    assert_eq!(status.code(), Some(0), "good users file: {out}");
}

// ---------------------------------------------------------------------------------------------
// Daemon mode

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
    let (status, out) = start_daemon(&site, &["-P", &path_str(&pidfile)]);
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
    let (status, out2) = start_daemon(&site, &["-P", &path_str(&pidfile)]);
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
// inetd mode

#[test]
fn inetd_mode_on_pipes() {
    let site = Site::new("inetd-pipe");
    let mut cmd = server_command();
    cmd.args(["-i", "-A", "-r", &path_str(&site.root())])
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
    cmd.args(["-i", "-A", "-r", &path_str(&site.root())])
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
// SIGHUP

#[test]
fn sighup_reloads_users_and_keeps_sessions_and_survives_a_broken_file() {
    let site = Site::new("hup");
    fs::write(site.root().join("f"), b"x").unwrap();
    let users = site.write_users(&[ALICE]);
    // ban_after=0: the failed logins below must not ban 127.0.0.1.
    let (p, addr) = Proc::server(&site.args(&["-U", &path_str(&users), "-o", "ban_after=0"]));
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
// SIGTERM

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
