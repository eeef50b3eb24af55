//! `FERROFTPD_OLD_KERNEL=1` really confines the server to Linux 3.10 syscalls.
//!
//! `make oldkernel-test` runs the whole suite with that variable set, which proves something
//! only if the server acts on it. This test starts the server itself (the shared harness keeps
//! the child's pid private), checks in `/proc/<pid>/status` that a seccomp filter is installed
//! (`Seccomp: 2`), and that the filtered server still serves a login and a listing.
//! Under a qemu runner it prints SKIP: qemu-user refuses seccomp filters (src/oldkernel.rs).
//! Against a server built without the `test-hooks` feature, which ignores the variable, it fails.

mod common;

use common::*;
use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Kills the server when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn old_kernel_switch_installs_the_seccomp_filter() {
    if env::var_os("FERROFTPD_RUNNER").is_some_and(|r| !r.is_empty()) {
        eprintln!("SKIP: FERROFTPD_RUNNER is set; qemu-user refuses seccomp filters");
        return;
    }
    let dir = TempDir::new("oldkernel");
    fs::write(dir.join("hello.txt"), b"hello\n").unwrap();
    let mut child = Command::new(server_bin())
        .args(["-f", "-l", "127.0.0.1", "-p", "0", "-A", "-r"])
        .arg(dir.path())
        .env("FERROFTPD_OLD_KERNEL", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stderr = child.stderr.take().unwrap();
    let child = Killed(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen = Vec::new();
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no `listening on` within {START_TIMEOUT:?}:\n{}",
                seen.join("\n")
            )
        });
        if let Some(rest) = line.split("listening on ").nth(1) {
            let token = rest.split_whitespace().next().unwrap_or("");
            break SocketAddr::from_str(token).expect("listening address");
        }
        seen.push(line);
    };

    let status = fs::read_to_string(format!("/proc/{}/status", child.0.id())).unwrap();
    let mode = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim);
    assert_eq!(
        mode,
        Some("2"),
        "seccomp mode of the server (2 = filter); without one the server was built without the \
         test-hooks feature (make test; cargo build --features test-hooks), log: {seen:?}"
    );

    let mut c = FtpClient::connect(addr);
    c.login("anonymous", "test@example.com");
    let names = c.nlst("");
    assert!(
        lossy(&names).contains("hello.txt"),
        "NLST: {}",
        lossy(&names)
    );
    c.quit();
}
