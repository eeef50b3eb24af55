//! What the server reports (issue 5): syslog lines (and no passwords in them) and the
//! xferlog transfer log, field by field.

mod common;

use common::*;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// syslog

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
        &path_str(&users),
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
// xferlog

#[test]
fn xferlog_records_retr_and_stor_field_by_field() {
    let b = Server::builder().user(ALICE);
    let xferlog = b.outside().join("xferlog");
    let srv = b.opt("xferlog", path_str(&xferlog)).start();
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
