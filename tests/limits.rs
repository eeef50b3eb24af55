//! Limits and hardening: connection caps (421 while existing sessions keep working), failed
//! logins (delay, 530, close after max_login_failures) and bans, idle and login timeouts,
//! listing size, data pool saturation, rate limits, and secrets that never reach the log.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Replies seen while a connection closes may only be a 421 notice.
fn assert_closed_politely(c: &mut FtpClient, what: &str, timeout: Duration) {
    let seen = c
        .wait_closed(timeout)
        .unwrap_or_else(|e| panic!("{what}: server did not close the connection: {e}"));
    for r in &seen {
        assert_eq!(
            r.code,
            421,
            "{what}: unexpected reply before close: {}",
            r.text()
        );
    }
}

#[test]
fn max_clients_refuses_with_421_while_sessions_keep_working() {
    let srv = Server::builder().user(ALICE).opt("max_clients", 2).start();
    fs::write(srv.root().join("f"), b"data").unwrap();
    let mut c1 = srv.login(ALICE);
    let c2 = srv.anon();
    let mut c3 = FtpClient::connect_any(srv.addr);
    assert_eq!(
        c3.greeting.code,
        421,
        "third client: {}",
        c3.greeting.text()
    );
    assert_closed_politely(&mut c3, "refused client", Duration::from_secs(10));
    // The logged-in session is unaffected.
    assert_eq!(c1.retr("f"), b"data");
    assert!(lossy(&c1.nlst("")).contains('f'));
    c1.expect("NOOP", 200);
    // A slot frees when a session ends.
    assert_eq!(c2.quit().0, 221);
    let mut admitted = None;
    let ok = poll_until(Duration::from_secs(10), || {
        let c = FtpClient::connect_any(srv.addr);
        if c.greeting.code == 220 {
            admitted = Some(c);
            true
        } else {
            false
        }
    });
    assert!(ok, "the slot of a closed session was never released");
    let mut c4 = admitted.unwrap();
    c4.login(ALICE.name, ALICE.password);
    assert_eq!(c4.retr("f"), b"data");
    assert_eq!(c1.retr("f"), b"data");
}

#[test]
fn max_per_ip_refuses_the_same_address_only() {
    let srv = Server::builder()
        .opt("max_per_ip", 1)
        .opt("max_clients", 10)
        .start();
    let mut a = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    assert_eq!(a.greeting.code, 220);
    let b = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    assert_eq!(
        b.greeting.code,
        421,
        "second from 127.0.0.1: {}",
        b.greeting.text()
    );
    let mut c = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 2), srv.addr);
    assert_eq!(
        c.greeting.code,
        220,
        "first from 127.0.0.2: {}",
        c.greeting.text()
    );
    c.login("anonymous", "x@y");
    a.login("anonymous", "x@y");
    a.expect("NOOP", 200);
    c.expect("NOOP", 200);
}

#[test]
fn failed_logins_get_530_and_close_after_max_login_failures() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("max_login_failures", 3)
        .start();
    let mut c = srv.connect();
    for i in 1..=2 {
        c.expect("USER alice", 331);
        let (code, text) = c.cmd("PASS wrong");
        assert_eq!(code, 530, "failure {i}: {text}");
    }
    c.expect("USER nosuchuser", 331);
    c.expect("PASS wrong", 530);
    assert_closed_politely(&mut c, "after 3 failures", Duration::from_secs(10));
    // Failures are counted per connection: a new one may log in.
    let mut c = srv.connect();
    c.login(ALICE.name, ALICE.password);
}

#[test]
fn failed_login_is_delayed_equally_for_unknown_users() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("login_fail_delay_ms", 1500)
        .start();
    let delay = Duration::from_millis(1450);
    let mut c = srv.connect();
    c.expect("USER alice", 331);
    let t = Instant::now();
    c.expect("PASS wrong", 530);
    let wrong = t.elapsed();
    c.expect("USER nosuchuser", 331);
    let t = Instant::now();
    c.expect("PASS wrong", 530);
    let unknown = t.elapsed();
    assert!(wrong >= delay, "wrong password answered after {wrong:?}");
    assert!(unknown >= delay, "unknown user answered after {unknown:?}");
    assert!(wrong < Duration::from_secs(20) && unknown < Duration::from_secs(20));
    let mut c = srv.connect();
    c.expect("USER alice", 331);
    let t = Instant::now();
    c.expect(&format!("PASS {}", ALICE.password), 230);
    let good = t.elapsed();
    assert!(
        good < wrong,
        "a good login is not delayed: {good:?} vs {wrong:?}"
    );
}

#[test]
fn passwords_never_reach_the_log() {
    const WRONG: &str = "Wr0ng-Secret-Pw-77";
    const EARLY: &str = "Early-Secret-Pw-88";
    const LOWER: &str = "Lower-Secret-Pw-99";
    let mut srv = Server::builder().user(ALICE).verbose().start();
    let mut c = srv.connect();
    c.cmd(&format!("PASS {EARLY}"));
    c.expect("USER alice", 331);
    c.expect(&format!("PASS {WRONG}"), 530);
    c.expect("user alice", 331);
    c.expect(&format!("pass {LOWER}"), 530);
    c.expect("USER alice", 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);
    c.expect("NOOP", 200);
    assert_eq!(c.quit().0, 221);
    let logs = srv.stop();
    assert!(logs.contains("listening on"), "{logs}");
    assert!(
        logs.contains("NOOP"),
        "-v logs each command (else this test proves nothing):\n{logs}"
    );
    for pw in [ALICE.password, WRONG, EARLY, LOWER] {
        assert!(!logs.contains(pw), "password {pw:?} in the log:\n{logs}");
    }
    assert!(!logs.contains(ALICE.hash), "hash in the log:\n{logs}");
}

#[test]
fn data_timeout_gives_425_when_nobody_connects() {
    let srv = Server::builder().opt("data_timeout", 1).start();
    fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = srv.anon();
    c.expect("PASV", 227); // and never connect
    let t = Instant::now();
    let (mut code, mut text) = c.cmd("RETR f");
    if code == 150 {
        (code, text) = c.read_reply();
    }
    assert_eq!(code, 425, "{text}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    c.expect("NOOP", 200);
    assert_eq!(c.retr("f"), b"x");
}

#[test]
fn max_list_entries_bounds_listings() {
    let srv = Server::builder().opt("max_list_entries", 10).start();
    for i in 0..50 {
        fs::write(srv.root().join(format!("file{i:02}")), b"").unwrap();
    }
    let mut c = srv.anon();
    for cmd in ["LIST", "NLST", "LIST -a"] {
        let data = c.pasv();
        let (code, text) = c.cmd(cmd);
        if code != 150 {
            assert!(code >= 400, "{cmd}: {text}");
            continue;
        }
        let mut s = data.stream();
        let raw = read_all(&mut s).unwrap();
        let entries = listing_lines(&raw)
            .into_iter()
            .filter(|l| lossy(l).contains("file"))
            .count();
        assert!(
            entries <= 10,
            "{cmd}: {entries} entries with max_list_entries=10"
        );
        let (code, text) = c.read_reply();
        assert!(code == 226 || code >= 400, "{cmd}: {text}");
    }
    let r = c.cmd_raw(b"STAT /");
    let entries = r.lines.iter().filter(|l| lossy(l).contains("file")).count();
    assert!(entries <= 10, "STAT /: {entries} entries");
    c.expect("NOOP", 200);
}

#[test]
fn saturated_data_pool_answers_425_after_pool_wait() {
    let srv = Server::builder()
        .opt("data_threads", 1)
        .opt("pool_wait", 1)
        .start();
    let len = 48u64 << 20;
    write_pattern_file(&srv.root().join("big"), len, 11);
    // Over 64 KiB: too big for the control thread to send itself, so it needs a worker.
    let medium = pattern(1 << 20, 12);
    fs::write(srv.root().join("medium"), &medium).unwrap();
    fs::write(srv.root().join("small"), b"small").unwrap();
    // A holds the only worker: it reads nothing while the file does not fit in socket buffers.
    let mut a = srv.anon();
    a.expect("TYPE I", 200);
    let (mut a_data, _) = a.start_transfer(b"RETR big", DataMode::Pasv);
    let mut first = vec![0u8; 4096];
    a_data.read_exact(&mut first).unwrap();

    let mut b = srv.anon();
    b.expect("TYPE I", 200);
    let _b_data = b.pasv();
    let t = Instant::now();
    let (mut code, mut text) = b.cmd("RETR medium");
    if code == 150 {
        (code, text) = b.read_reply();
    }
    assert_eq!(code, 425, "no worker free within pool_wait: {text}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    b.expect("NOOP", 200);

    // Small downloads and listings need no worker: the control thread sends them itself.
    assert_eq!(b.retr("small"), b"small");
    assert!(lossy(&b.nlst("")).contains("medium"));
    // Active mode always goes through the pool: refused too.
    let _b_port = b.port();
    let (code, text) = b.cmd("RETR small");
    assert_eq!(code, 425, "active mode needs a worker: {text}");
    // Checksums run on the pool too, and never announce a transfer.
    let (code, text) = b.cmd("XCRC small");
    assert_eq!(code, 425, "a checksum needs a worker: {text}");

    // Once A is done, B gets the worker.
    let (_, rest) = crc_reader(&mut a_data).unwrap();
    assert_eq!(rest + 4096, len);
    drop(a_data);
    assert_eq!(a.read_reply().0, 226);
    assert!(b.retr("medium") == medium, "medium differs");
}

/// Log lines after `mark` that contain `needle`. The log arrives through a pipe: waits
/// (bounded) for the first such line before counting.
fn log_lines_after(srv: &Server, mark: usize, needle: &str) -> Vec<String> {
    srv.wait_for_log_after(mark, Duration::from_secs(10), |l| l.contains(needle));
    srv.logs()
        .lines()
        .skip(mark)
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Issue 10 (5): with `ulimit -n` too low for max_clients, clients past what it covers were
/// accepted and dropped (or left waiting) with no reply, and the log filled up.
#[test]
fn regression_descriptor_limit_below_max_clients_answers_421_and_sessions_keep_working() {
    let srv = Server::builder()
        .nofile_limit(64)
        .opt("max_clients", 64)
        .start();
    assert!(
        srv.wait_for_log(Duration::from_secs(5), |l| l.contains("serving at most")),
        "no warning that the limit covers fewer clients:\n{}",
        srv.logs()
    );
    // Over 64 KiB: a transfer that needs a data thread and every descriptor of a session.
    let medium = pattern(1 << 20, 21);
    fs::write(srv.root().join("medium"), &medium).unwrap();
    let mut a = srv.anon();
    a.expect("TYPE I", 200);
    let mark = srv.log_mark();
    let (mut held, mut refused) = (Vec::new(), 0);
    for i in 0..40 {
        let mut c = FtpClient::connect_any(srv.addr);
        match c.greeting.code {
            220 => held.push(c),
            421 => {
                refused += 1;
                assert_closed_politely(&mut c, &format!("client {i}"), Duration::from_secs(10));
            }
            _ => panic!("client {i}: {}", c.greeting.text()),
        }
    }
    assert!(
        refused >= 30,
        "{refused} of 40 refused, {} admitted",
        held.len()
    );
    // Every admitted session can still do a whole transfer, the first one included.
    assert_eq!(a.retr("medium"), medium);
    assert!(lossy(&a.nlst("")).contains("medium"));
    for (i, c) in held.iter_mut().enumerate() {
        c.login("anonymous", "x@y");
        c.expect("TYPE I", 200);
        assert!(c.retr("medium") == medium, "admitted client {i}");
    }
    let lines = log_lines_after(&srv, mark, "refused");
    assert!(
        !lines.is_empty() && lines.len() <= 3,
        "{refused} refusals logged as {} lines:\n{}",
        lines.len(),
        lines.join("\n")
    );
}

/// Issue 10 (5): when accept(2) itself fails with EMFILE, the spare descriptor still lets the
/// server answer 421; a session at the limit gets 425/451 replies, and the log stays short.
#[test]
fn regression_out_of_descriptors_accept_still_answers_421() {
    let srv = Server::builder().nofile_limit(256).start();
    fs::write(srv.root().join("f"), b"data").unwrap();
    let mut a = srv.anon();
    a.expect("TYPE I", 200);
    // The server's lowest free descriptor becomes its limit: no descriptor is left.
    let pid = srv.pid();
    let fds = open_fds(pid);
    let lowest_free = (0u64..).find(|n| !fds.contains(n)).unwrap();
    set_nofile_of(pid, lowest_free, 256);
    let mark = srv.log_mark();
    for i in 0..20 {
        let mut c = FtpClient::connect_any(srv.addr);
        assert_eq!(c.greeting.code, 421, "client {i}: {}", c.greeting.text());
        assert_closed_politely(&mut c, &format!("client {i}"), Duration::from_secs(10));
    }
    // The client sees the close before the server takes its spare again: wait for that.
    let full = poll_until(Duration::from_secs(10), || {
        let open = open_fds(pid);
        (0..lowest_free).all(|n| open.contains(&n))
    });
    assert!(full, "the spare descriptor was not taken again");
    // Inside a session: replies, not a dropped connection.
    let (code, text) = a.cmd("PASV");
    assert_eq!(code, 425, "PASV without a descriptor: {text}");
    let _port = a.port();
    let (code, text) = a.cmd("RETR f");
    assert_eq!(code, 451, "RETR without a descriptor: {text}");
    a.expect("NOOP", 200);
    let lines = log_lines_after(&srv, mark, "accept failed");
    assert!(
        !lines.is_empty() && lines.len() <= 2,
        "20 failed accepts logged as {} lines:\n{}",
        lines.len(),
        lines.join("\n")
    );
    // Descriptors back: everything works again.
    set_nofile_of(pid, 256, 256);
    assert_eq!(a.retr("f"), b"data");
    let mut b = srv.anon();
    assert_eq!(b.retr("f"), b"data");
}

/// Issue 10 (5): `-t` warns when the descriptor limit cannot cover max_clients (and still
/// passes: the server runs, serving fewer clients).
#[test]
fn regression_test_config_warns_when_the_descriptor_limit_is_too_low() {
    let dir = TempDir::new("t-nofile");
    let check = |limit: u64| {
        let mut cmd = server_command();
        cmd.args(["-t", "-A", "-r"])
            .arg(dir.path())
            .args(["-o", "max_clients=64"]);
        limit_nofile(&mut cmd, limit);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let low = check(64);
    assert!(
        low.contains("warning") && low.contains("max_clients = 64"),
        "{low}"
    );
    let enough = check(4096);
    assert!(!enough.contains("warning"), "{enough}");
}

/// Issue 10 (6): eight slow readers from one address took all eight data threads, and every
/// other client got 425 after pool_wait. Now one address runs at most max_transfers_per_ip
/// (default 4) and the others get 425 at once.
#[test]
fn regression_one_address_cannot_hold_the_whole_data_pool() {
    let srv = Server::builder().opt("pool_wait", 2).start();
    let big = 48u64 << 20;
    write_pattern_file(&srv.root().join("big"), big, 31);
    let medium = pattern(1 << 20, 32);
    fs::write(srv.root().join("medium"), &medium).unwrap();
    let slow = Ipv4Addr::new(127, 0, 0, 2);
    let mut running = Vec::new();
    for i in 0..8 {
        let mut c = FtpClient::connect_from(slow, srv.addr);
        c.login("anonymous", "x@y");
        c.expect("TYPE I", 200);
        let data = c.pasv();
        let t = Instant::now();
        let (code, text) = c.cmd("RETR big");
        if i < 4 {
            assert_eq!(code, 150, "slow reader {i}: {text}");
            // Reads nothing more: the transfer keeps its worker.
            running.push((c, data.stream()));
        } else {
            assert_eq!(code, 425, "slow reader {i} past the cap: {text}");
            assert!(
                t.elapsed() < Duration::from_millis(1500),
                "{:?}",
                t.elapsed()
            );
            c.expect("NOOP", 200);
        }
    }
    // Another address still finds a data thread.
    let mut other = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 3), srv.addr);
    other.login("anonymous", "x@y");
    other.expect("TYPE I", 200);
    assert!(
        other.retr("medium") == medium,
        "the other address's download"
    );
    // A finished transfer frees its place for the same address.
    let (mut c, mut data) = running.pop().unwrap();
    let (_, n) = crc_reader(&mut data).unwrap();
    assert_eq!(n, big);
    drop(data);
    assert_eq!(c.read_reply().0, 226);
    assert!(
        c.retr("medium") == medium,
        "the slow address after one finished"
    );
}

/// Issue 10 (6): a client that reads a little now and then kept a download (and its worker)
/// alive far past data_timeout. The stall rule ends it with 426; a trickled upload too.
#[test]
fn regression_trickle_reader_is_cut_by_the_stall_rule() {
    let window = Duration::from_secs(2);
    let srv = Server::builder()
        .opt("data_stall_window", window.as_secs())
        .opt("data_stall_bytes", 1 << 20)
        .opt("data_timeout", 60)
        .user(ALICE)
        .start();
    write_pattern_file(&srv.root().join("big"), 48 << 20, 41);
    let fast = pattern(4 << 20, 42);
    fs::write(srv.root().join("fast"), &fast).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);

    // Download: 4 KiB every 100 ms (~40 KiB/s, far below 1 MiB per 2 s).
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    let t = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reading = std::sync::Arc::clone(&stop);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Stops when told: megabytes wait in the socket buffer before the server's close.
        for _ in 0..600 {
            if stop_reading.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            match data.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    let (code, text) = c.read_reply();
    let took = t.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(code, 426, "trickled download: {text}");
    assert!(
        took >= window - Duration::from_millis(100),
        "cut after {took:?}"
    );
    assert!(took < Duration::from_secs(20), "cut only after {took:?}");

    // Upload: 100 bytes every 100 ms.
    let (mut data, _) = c.start_transfer(b"STOR trickle", DataMode::Pasv);
    let t = Instant::now();
    let writer = std::thread::spawn(move || {
        for _ in 0..600 {
            if data.write_all(&[b'x'; 100]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (code, text) = c.read_reply();
    let took = t.elapsed();
    assert_eq!(code, 426, "trickled upload: {text}");
    assert!(
        took >= window - Duration::from_millis(100),
        "cut after {took:?}"
    );
    assert!(took < Duration::from_secs(20), "cut only after {took:?}");
    writer.join().unwrap();

    // A client that reads at full speed is not touched by the rule.
    c.expect("NOOP", 200);
    assert!(c.retr("fast") == fast, "a fast download");
}

// ---------------------------------------------------------------------------------------------
// Limits

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
// Rate limits

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
