//! systemd integration (issue 14) against the real binary: socket activation through
//! `systemd-socket-activate` (one listener per unit socket, and Accept=yes with `-i`), readiness
//! on a `NOTIFY_SOCKET` (path and abstract), the watchdog, `systemd-analyze verify` on the
//! shipped units, and `--hash-password` (from a pipe, on a terminal, interrupted by Ctrl-C).
//!
//! `systemd-socket-activate`, `systemd-analyze` (Debian: `systemd`) and `openssl` are needed;
//! without them a test prints SKIP locally and fails under CI (`.ci/run` installs them).

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool` can be run; otherwise SKIP locally, a failure under CI.
fn have(tool: &str, test: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is required in CI (.ci/run installs it)"
        );
        println!("SKIP {test}: {tool} not installed");
    }
    found
}

/// A served root with one file and a users file with ALICE; returns the server arguments.
fn site(base: &TempDir) -> Vec<String> {
    let root = base.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello from a socket\n").unwrap();
    let users = base.join("users");
    std::fs::write(
        &users,
        format!(
            "{}:{}:{}:{}\n",
            ALICE.name,
            ALICE.hash,
            root.display(),
            ALICE.perms
        ),
    )
    .unwrap();
    [
        "-f",
        "-U",
        &path_str(&users),
        "-o",
        "login_fail_delay_ms=20",
        "-o",
        "shutdown_timeout=2",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

/// `systemd-socket-activate` passes only the variables named with `-E`: those that steer the
/// server under test (FERROFTPD_OLD_KERNEL, qemu's) must be passed on explicitly.
fn passed_env() -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in std::env::vars() {
        if k.starts_with("FERROFTPD_") || k.starts_with("QEMU_") {
            out.push("-E".to_string());
            out.push(format!("{k}={v}"));
        }
    }
    out
}

/// A port free a moment ago on 127.0.0.1 (systemd-socket-activate cannot be told port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

/// `systemd-socket-activate` listening on `specs` (with `{port}` filled in) in front of the
/// server under test (through FERROFTPD_RUNNER when set). The port is chosen free and tried
/// again (bounded) if another test took it in between. Returns the process and the port.
fn socket_activate(specs: &[&str], tool_args: &[&str], server_args: &[String]) -> (Proc, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("systemd-socket-activate");
        for spec in specs {
            cmd.arg("-l").arg(spec.replace("{port}", &port.to_string()));
        }
        cmd.args(tool_args).args(passed_env()).arg("--");
        let server = server_command();
        cmd.arg(server.get_program()).args(server.get_args());
        cmd.args(server_args).stdin(Stdio::null());
        let p = Proc::spawn(cmd, true);
        let listening = |l: &str| l.starts_with("Listening on ");
        let lines = specs.len();
        let ok = poll_until(START_TIMEOUT, || {
            p.logs().lines().filter(|l| listening(l)).count() == lines
                || p.logs().contains("Failed")
        });
        if ok && !p.logs().contains("Failed") {
            return (p, port);
        }
        assert!(
            p.logs().contains("in use"),
            "systemd-socket-activate did not start:\n{}",
            p.logs()
        );
    }
    panic!("no free port for systemd-socket-activate after 5 tries");
}

#[test]
fn socket_activation_serves_logins_listings_and_downloads() {
    if !have("systemd-socket-activate", "socket_activation") {
        return;
    }
    let base = TempDir::new("sd-activate");
    let mut args = site(&base);
    // Neither could be bound here: with sockets passed in, they must not be used at all.
    args.extend(["-l", "192.0.2.1", "-p", "1"].map(String::from));
    let (p, port) = socket_activate(&["127.0.0.1:{port}"], &[], &args);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // The first connection makes systemd-socket-activate exec the server, which accepts it.
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    // Byte-exact transfers: binary, as a real client asks (the default is ASCII).
    c.expect("TYPE I", 200);
    let list = c.list("");
    assert!(lossy(&list).contains("hello.txt"), "{}", lossy(&list));
    assert_eq!(c.retr("hello.txt"), b"hello from a socket\n");
    c.stor("up.bin", b"uploaded through an inherited socket");
    assert_eq!(
        std::fs::read(base.join("root/up.bin")).unwrap(),
        b"uploaded through an inherited socket"
    );
    for mode in ALL_MODES {
        let names = c.transfer_in(b"NLST", mode);
        assert!(lossy(&names).contains("up.bin"), "{mode:?}");
    }
    c.quit();
    let logs = p.logs();
    assert!(
        logs.contains("`listen` and `port` are ignored"),
        "info line missing:\n{logs}"
    );
    assert!(
        logs.contains(&format!(
            "listening on 127.0.0.1:{port} from the service manager"
        )),
        "{logs}"
    );
    let server_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with("ferroftpd:"))
        .collect();
    assert!(
        !server_lines.iter().any(|l| l.contains("192.0.2.1")),
        "{logs}"
    );
}

#[test]
fn socket_activation_of_a_dual_stack_socket_serves_ipv4_and_ipv6_clients() {
    if !have("systemd-socket-activate", "dual_stack") {
        return;
    }
    let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    let base = TempDir::new("sd-dual");
    let args = site(&base);
    // `[::]` without IPV6_V6ONLY: what `ListenStream=21` gives under the usual sysctl. IPv4
    // clients then arrive as ::ffff:a.b.c.d, and PASV must still answer with IPv4.
    let spec = if v6 { "[::]:{port}" } else { "0.0.0.0:{port}" };
    let (_p, port) = socket_activate(&[spec], &[], &args);
    let mut c = FtpClient::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    c.login(ALICE.name, ALICE.password);
    // Byte-exact transfers: binary, as a real client asks (the default is ASCII).
    c.expect("TYPE I", 200);
    for mode in ALL_MODES {
        assert_eq!(
            c.transfer_in(b"RETR hello.txt", mode),
            b"hello from a socket\n",
            "{mode:?}"
        );
    }
    c.quit();
    if !v6 {
        println!("SKIP dual_stack IPv6 half: no IPv6 loopback");
        return;
    }
    let mut c = FtpClient::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    c.login(ALICE.name, ALICE.password);
    // Byte-exact transfers: binary, as a real client asks (the default is ASCII).
    c.expect("TYPE I", 200);
    // (The test client's EPRT is IPv4-only.)
    assert_eq!(
        c.transfer_in(b"RETR hello.txt", DataMode::Epsv),
        b"hello from a socket\n"
    );
    let (code, _) = c.cmd("PASV");
    assert_eq!(code, 522, "PASV cannot describe an IPv6 address");
    c.quit();
}

#[test]
fn socket_activation_accept_yes_runs_one_inetd_session_per_connection() {
    if !have("systemd-socket-activate", "accept_yes") {
        return;
    }
    let base = TempDir::new("sd-accept");
    let mut args = site(&base);
    args.retain(|a| a != "-f");
    args.push("-i".into());
    // Accept=yes with StandardInput=socket: a new process per connection, on stdin/stdout.
    let (p, port) = socket_activate(&["127.0.0.1:{port}"], &["--accept", "--inetd"], &args);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for round in 0..2 {
        let mut c = FtpClient::connect(addr);
        c.login(ALICE.name, ALICE.password);
        // Byte-exact transfers: binary, as a real client asks (the default is ASCII).
        c.expect("TYPE I", 200);
        assert_eq!(
            c.retr("hello.txt"),
            b"hello from a socket\n",
            "round {round}"
        );
        c.quit();
    }
    let logs = p.logs();
    assert_eq!(logs.matches("inetd session").count(), 2, "{logs}");
}

/// The test's end of a `NOTIFY_SOCKET`: every datagram received, in order.
struct NotifySocket {
    sock: UnixDatagram,
    got: Vec<String>,
    /// What the server's NOTIFY_SOCKET is set to.
    name: String,
}

impl NotifySocket {
    fn at_path(path: &Path) -> NotifySocket {
        NotifySocket::new(UnixDatagram::bind(path).expect("bind"), path_str(path))
    }

    fn abstract_name() -> NotifySocket {
        let name = format!(
            "ferroftpd-test-notify-{}-{}",
            std::process::id(),
            free_port()
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        NotifySocket::new(sock, format!("@{name}"))
    }

    fn new(sock: UnixDatagram, name: String) -> NotifySocket {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        NotifySocket {
            sock,
            got: Vec::new(),
            name,
        }
    }

    /// Waits (bounded) for a datagram after the first `from` that satisfies `pred`; its index.
    fn wait_after(&mut self, from: usize, pred: impl Fn(&str) -> bool) -> usize {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut buf = vec![0u8; 4096];
        for _ in 0..100_000 {
            if let Some(i) = self.got.iter().skip(from).position(|m| pred(m)) {
                return from + i;
            }
            assert!(
                Instant::now() < deadline,
                "no such notification; got {:?}",
                self.got
            );
            match self.sock.recv(&mut buf) {
                Ok(n) => self.got.push(lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("notify socket: {e}"),
            }
        }
        panic!("notification loop bound reached; got {:?}", self.got);
    }
}

/// The server under test with these variables set, started directly (not activated).
fn server_with_env(args: &[String], env: &[(&str, &str)]) -> (Proc, SocketAddr) {
    let mut cmd = server_command();
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let p = Proc::spawn(cmd, true);
    let addr = p.addr();
    (p, addr)
}

/// CLOCK_MONOTONIC in microseconds, as the server reports it in MONOTONIC_USEC.
fn monotonic_usec() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    u64::try_from(ts.tv_sec()).unwrap() * 1_000_000 + u64::try_from(ts.tv_nsec()).unwrap() / 1000
}

#[test]
fn notify_socket_gets_ready_reloading_ready_and_stopping() {
    let base = TempDir::new("sd-notify");
    let mut notify = NotifySocket::at_path(&base.join("notify"));
    let mut args = site(&base);
    args.extend(["-l", "127.0.0.1", "-p", "0"].map(String::from));
    // -d asks for a fork, which Type=notify cannot follow: the process must stay itself.
    args.push("-d".into());
    let (mut p, addr) = server_with_env(&args, &[("NOTIFY_SOCKET", &notify.name)]);
    let ready = notify.wait_after(0, |m| m.starts_with("READY=1"));
    assert!(
        notify.got[ready].contains(&format!("STATUS=serving on {addr}")),
        "{:?}",
        notify.got
    );
    assert!(p.logs().contains("`daemon` is ignored"), "{}", p.logs());
    // Ready means serving: the process that said so (not a forked child) answers.
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    // Byte-exact transfers: binary, as a real client asks (the default is ASCII).
    c.expect("TYPE I", 200);

    let before = monotonic_usec();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let reloading = notify.wait_after(ready + 1, |m| m.starts_with("RELOADING=1"));
    let usec: u64 = notify.got[reloading]
        .split_once("\nMONOTONIC_USEC=")
        .and_then(|(_, u)| u.parse().ok())
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {:?}", notify.got[reloading]));
    assert!(
        (before..=monotonic_usec()).contains(&usec),
        "{usec} not within the SIGHUP's time"
    );
    let again = notify.wait_after(reloading + 1, |m| m.starts_with("READY=1"));
    assert!(
        notify.got[again].contains("STATUS=configuration reloaded"),
        "{:?}",
        notify.got
    );
    // The session logged in before the reload keeps working.
    assert_eq!(c.retr("hello.txt"), b"hello from a socket\n");
    c.quit();

    p.signal(nix::sys::signal::Signal::SIGTERM);
    notify.wait_after(again + 1, |m| m == "STOPPING=1");
    let status = p.wait_exit(START_TIMEOUT).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", p.logs());
    assert!(
        !notify.got.iter().any(|m| m.contains("WATCHDOG")),
        "no WATCHDOG_USEC, no pings: {:?}",
        notify.got
    );
}

#[test]
fn notify_socket_in_the_abstract_namespace_and_a_failed_reload() {
    let base = TempDir::new("sd-notify-abs");
    let mut notify = NotifySocket::abstract_name();
    let mut args = site(&base);
    args.extend(["-l", "127.0.0.1", "-p", "0"].map(String::from));
    let (mut p, _addr) = server_with_env(&args, &[("NOTIFY_SOCKET", &notify.name)]);
    let ready = notify.wait_after(0, |m| m.starts_with("READY=1"));
    // A broken users file: the reload fails, the old one is kept, and the manager hears both.
    std::fs::write(base.join("users"), "not a users line\n").unwrap();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    let reloading = notify.wait_after(ready + 1, |m| m.starts_with("RELOADING=1"));
    let again = notify.wait_after(reloading + 1, |m| m.starts_with("READY=1"));
    assert!(
        notify.got[again].contains("STATUS=reload failed"),
        "{:?}",
        notify.got
    );
    p.signal(nix::sys::signal::Signal::SIGTERM);
    notify.wait_after(again + 1, |m| m == "STOPPING=1");
    assert!(p.wait_exit(START_TIMEOUT).expect("exits").success());
}

#[test]
fn watchdog_pings_at_half_the_timeout_and_socket_activation_reports_ready() {
    if !have("systemd-socket-activate", "watchdog") {
        return;
    }
    let base = TempDir::new("sd-watchdog");
    let mut notify = NotifySocket::at_path(&base.join("notify"));
    let args = site(&base);
    // Both variables through systemd-socket-activate, as systemd passes them: WATCHDOG_PID
    // cannot be known before the exec, so it is left out (the server then takes the watchdog).
    let env_notify = format!("NOTIFY_SOCKET={}", notify.name);
    let (p, port) = socket_activate(
        &["127.0.0.1:{port}"],
        &["-E", &env_notify, "-E", "WATCHDOG_USEC=300000"],
        &args,
    );
    // systemd-socket-activate execs the server at the first connection.
    let c = FtpClient::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    let ready = notify.wait_after(0, |m| m.starts_with("READY=1"));
    assert!(
        notify.got[ready].contains(&format!("serving on 127.0.0.1:{port}")),
        "{:?}",
        notify.got
    );
    let start = Instant::now();
    let mut last = ready;
    for _ in 0..4 {
        last = notify.wait_after(last + 1, |m| m == "WATCHDOG=1");
    }
    // Four pings at 150 ms take about 450-600 ms; far less would mean a busy loop.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    drop(c);
    p.signal(nix::sys::signal::Signal::SIGTERM);
    notify.wait_after(last + 1, |m| m == "STOPPING=1");
}

// ---------------------------------------------------------------------------------------------
// The shipped units

/// The unit files of etc/systemd.
fn shipped_unit(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("etc/systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn shipped_units_pass_systemd_analyze_verify() {
    if !have("systemd-analyze", "systemd_analyze_verify") {
        return;
    }
    let dir = TempDir::new("sd-units");
    let bin = std::fs::canonicalize(server_bin()).expect("binary");
    for name in ["ferroftpd.service", "ferroftpd.socket"] {
        let text = shipped_unit(name);
        // The one change: verify checks that ExecStart's binary exists, and this machine has
        // the built one, not /usr/sbin/ferroftpd.
        let text = text.replace("/usr/sbin/ferroftpd", &path_str(&bin));
        if name.ends_with(".service") {
            assert!(
                text.contains(&path_str(&bin)),
                "ExecStart names /usr/sbin/ferroftpd"
            );
        }
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .arg(dir.join("ferroftpd.socket"))
        .arg(dir.join("ferroftpd.service"))
        .output()
        .expect("systemd-analyze");
    let stderr = lossy(&out.stderr);
    assert!(out.status.success(), "verify failed:\n{stderr}");
    // Unknown keys and bad values are only warnings with exit 0: none may name our units.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("ferroftpd")).collect();
    assert!(ours.is_empty(), "warnings about the units:\n{stderr}");
}

#[test]
fn shipped_units_agree_with_the_server() {
    let service = shipped_unit("ferroftpd.service");
    let socket = shipped_unit("ferroftpd.socket");
    assert!(service.contains("\nType=notify\n"), "{service}");
    assert!(service.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"));
    assert!(socket.contains("\nListenStream=21\n"), "{socket}");
    // Every directive carries a comment saying why (the line before it).
    for (name, text) in [("service", &service), ("socket", &socket)] {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let directive = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
            if directive {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "{name}: `{line}` has no comment on the line before"
                );
            }
        }
    }
    // ExecStart's options parse: the same command line with -t checks the config.
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/sbin/ferroftpd "))
        .expect("ExecStart");
    let base = TempDir::new("sd-exec");
    let conf = base.join("ferroftpd.conf");
    std::fs::write(
        &conf,
        format!("anonymous = yes\nroot = {}\n", path_str(base.path())),
    )
    .unwrap();
    let args: Vec<String> = exec
        .split_whitespace()
        .map(|a| a.replace("/etc/ferroftpd.conf", &path_str(&conf)))
        .collect();
    let out = server_command()
        .args(&args)
        .arg("-t")
        .output()
        .expect("ferroftpd -t");
    assert!(out.status.success(), "{args:?}: {}", lossy(&out.stderr));
}

// ---------------------------------------------------------------------------------------------
// --hash-password

/// `ferroftpd --hash-password [more]` with `input` on a pipe: (exit status, stdout, stderr).
fn hash_from_pipe(input: &[u8], more: &[&str]) -> (bool, String, String) {
    let mut child = server_command()
        .arg("--hash-password")
        .args(more)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The server may refuse (a bad option) without reading: a broken pipe is its answer.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().expect("wait");
    (out.status.success(), lossy(&out.stdout), lossy(&out.stderr))
}

/// The salt of a `$id$salt$hash` line.
fn salt_of(hash: &str) -> &str {
    hash.split('$').nth(2).expect("salt")
}

#[test]
fn hash_password_from_a_pipe_logs_in_and_openssl_agrees() {
    let password = "correct horse: battery staple!";
    let (ok, out, err) = hash_from_pipe(format!("{password}\n").as_bytes(), &[]);
    assert!(ok, "{err}");
    assert!(err.is_empty(), "no prompt on a pipe: {err}");
    let hash = out.trim_end_matches('\n');
    assert_eq!(out.len(), hash.len() + 1, "one line");
    let salt = salt_of(hash);
    assert!(hash.starts_with("$6$"), "{hash}");
    assert_eq!(salt.len(), 16, "{hash}");
    let crypt64 = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    assert!(salt.chars().all(crypt64), "{hash}");

    // The hash logs in through the server.
    let base = TempDir::new("sd-hash");
    let root = base.join("root");
    std::fs::create_dir(&root).unwrap();
    let users = base.join("users");
    std::fs::write(&users, format!("dave:{hash}:{}:ro\n", path_str(&root))).unwrap();
    let args: Vec<String> = [
        "-f",
        "-l",
        "127.0.0.1",
        "-p",
        "0",
        "-U",
        &path_str(&users),
        "-o",
        "login_fail_delay_ms=20",
    ]
    .map(String::from)
    .to_vec();
    let (_p, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login("dave", password);
    c.quit();
    let mut c = FtpClient::connect(addr);
    c.expect("USER dave", 331);
    c.expect("PASS correct horse", 530);

    // A second hash has a fresh salt.
    let (_, again, _) = hash_from_pipe(format!("{password}\n").as_bytes(), &[]);
    assert_ne!(salt_of(&again), salt);

    // openssl computes the same hash from the same salt, for each method.
    if !have("openssl", "hash_password openssl") {
        return;
    }
    for (method, flag, len) in [
        (None, "-6", 16),
        (Some("sha256"), "-5", 16),
        (Some("md5"), "-1", 8),
    ] {
        let more: Vec<&str> = method.map_or_else(Vec::new, |m| vec!["--hash-method", m]);
        let (ok, out, err) = hash_from_pipe(b"pw from a pipe\r\n", &more);
        assert!(ok, "{err}");
        let hash = out.trim_end();
        assert_eq!(salt_of(hash).len(), len, "{hash}");
        let openssl = Command::new("openssl")
            .args(["passwd", flag, "-salt", salt_of(hash), "pw from a pipe"])
            .output()
            .expect("openssl");
        assert_eq!(lossy(&openssl.stdout).trim_end(), hash, "{flag}");
    }
}

#[test]
fn hash_password_refuses_empty_and_unknown_methods() {
    let (ok, out, err) = hash_from_pipe(b"\n", &[]);
    assert!(
        !ok && out.is_empty() && err.contains("empty password"),
        "{err}"
    );
    let (ok, _, err) = hash_from_pipe(b"x\n", &["--hash-method", "des"]);
    assert!(!ok && err.contains("'des'"), "{err}");
}

/// A pseudo-terminal for the child's stdin; the test types on the master side.
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

impl Pty {
    fn new() -> Pty {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        Pty {
            master: std::fs::File::from(pty.master),
            slave: pty.slave,
        }
    }

    fn echo_on(&self) -> bool {
        let t = nix::sys::termios::tcgetattr(self.slave.as_fd()).expect("tcgetattr");
        t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO)
    }

    /// `--hash-password` with the terminal as stdin, stdout and stderr on pipes.
    fn hash_password(&self) -> Proc {
        let mut cmd = server_command();
        cmd.arg("--hash-password")
            .stdin(Stdio::from(self.slave.try_clone().unwrap()));
        Proc::spawn(cmd, true)
    }
}

#[test]
fn hash_password_on_a_terminal_asks_twice_without_echo() {
    let pty = Pty::new();
    assert!(pty.echo_on());
    let mut p = pty.hash_password();
    assert!(
        poll_until(START_TIMEOUT, || !pty.echo_on()),
        "echo never turned off"
    );
    // Both lines typed ahead: canonical mode hands them over one read each.
    (&pty.master)
        .write_all(b"typed secret\ntyped secret\n")
        .unwrap();
    let status = p.wait_exit(START_TIMEOUT).expect("exits");
    assert!(status.success(), "{}", p.logs());
    assert!(p.wait_output_closed(START_TIMEOUT));
    let logs = p.logs();
    assert!(
        logs.contains("Password:") && logs.contains("Retype password:"),
        "{logs}"
    );
    let hash = logs
        .lines()
        .find(|l| l.starts_with("$6$"))
        .unwrap_or_else(|| panic!("no hash:\n{logs}"));
    let check = hash_from_pipe(b"typed secret\n", &[]).1;
    assert_ne!(check.trim_end(), hash, "fresh salts differ");
    assert!(pty.echo_on(), "terminal restored");
    // Nothing the user typed was echoed to the terminal.
    let mut echoed = Vec::new();
    let mut buf = [0u8; 256];
    nix::fcntl::fcntl(
        &pty.master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    while let Ok(n @ 1..) = (&pty.master).read(&mut buf) {
        echoed.extend_from_slice(&buf[..n]);
    }
    assert!(!lossy(&echoed).contains("secret"), "{}", lossy(&echoed));

    // Two different entries: no hash, exit 1, terminal restored.
    let mut p = pty.hash_password();
    assert!(poll_until(START_TIMEOUT, || !pty.echo_on()));
    (&pty.master).write_all(b"one\ntwo\n").unwrap();
    let status = p.wait_exit(START_TIMEOUT).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(p.wait_output_closed(START_TIMEOUT));
    assert!(p.logs().contains("do not match"), "{}", p.logs());
    assert!(!p.logs().contains('$'), "{}", p.logs());
    assert!(pty.echo_on());
}

#[test]
fn hash_password_interrupted_by_ctrl_c_restores_the_terminal() {
    let pty = Pty::new();
    let mut p = pty.hash_password();
    assert!(
        poll_until(START_TIMEOUT, || !pty.echo_on()),
        "echo never turned off"
    );
    p.signal(nix::sys::signal::Signal::SIGINT);
    let status = p.wait_exit(START_TIMEOUT).expect("exits on SIGINT");
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert!(pty.echo_on(), "echo back on after Ctrl-C");
}
