//! Data transfers: exact bytes on disk and on the wire in binary and ASCII, both directions and
//! every data mode; REST, APPE, STOU; names that are not UTF-8; ABOR and STAT during a
//! transfer; a client vanishing mid-transfer; a 100 MiB file checked by CRC32.

mod common;

use common::*;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::Duration;

fn mode_of(p: &std::path::Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Reads until EOF (or a reset, which also means closed), bounded by `timeout`.
fn drain_to_close(s: &mut std::net::TcpStream, timeout: Duration) -> Result<u64, String> {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    for _ in 0..100_000 {
        match s.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(total),
            Err(e) => {
                return Err(format!(
                    "data connection not closed: {e} after {total} bytes"
                ))
            }
        }
    }
    Err("data connection not closed (read loop bound)".into())
}

#[test]
fn binary_round_trip_in_every_data_mode() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    for (i, mode) in ALL_MODES.into_iter().enumerate() {
        let content = pattern(300_000 + i * 7, i as u64);
        let name = format!("up-{i}.bin");
        c.transfer_out(format!("STOR {name}").as_bytes(), &content, mode);
        let on_disk = srv.root().join(&name);
        assert_eq!(
            fs::read(&on_disk).unwrap(),
            content,
            "{mode:?}: bytes on disk"
        );
        assert_eq!(
            mode_of(&on_disk),
            0o644,
            "{mode:?}: upload mode with umask 022"
        );
        let back = c.transfer_in(format!("RETR {name}").as_bytes(), mode);
        assert_eq!(back, content, "{mode:?}: bytes downloaded");
    }
    // Every byte value survives, including 0xFF (IAC), CR and LF.
    let all: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    c.stor("all.bin", &all);
    assert_eq!(fs::read(srv.root().join("all.bin")).unwrap(), all);
    assert_eq!(c.retr("all.bin"), all);
    // An empty file.
    c.stor("empty", b"");
    assert_eq!(fs::read(srv.root().join("empty")).unwrap(), b"");
    assert_eq!(c.retr("empty"), b"");
}

#[test]
fn stor_replaces_an_existing_file() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("f"), vec![b'x'; 10_000]).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.stor("f", b"short");
    assert_eq!(fs::read(srv.root().join("f")).unwrap(), b"short");
}

#[test]
fn umask_option_sets_upload_mode() {
    let srv = Server::builder().user(ALICE).opt("umask", "077").start();
    let mut c = srv.login(ALICE);
    c.stor("private", b"p");
    assert_eq!(mode_of(&srv.root().join("private")), 0o600);
    c.expect("MKD pdir", 257);
    assert_eq!(mode_of(&srv.root().join("pdir")), 0o700);
}

fn lf_to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 2);
    for &x in b {
        if x == b'\n' {
            out.push(b'\r');
        }
        out.push(x);
    }
    out
}

/// Text with LF line ends, long enough to cross any buffer boundary many times.
fn text_lf(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0usize;
    while out.len() < len {
        // Lines of varying length, some empty.
        let n = (i * 7919) % 97;
        out.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, n));
        out.push(b'\n');
        i += 1;
    }
    out
}

#[test]
fn ascii_download_converts_lf_to_crlf() {
    let srv = Server::start();
    fs::write(srv.root().join("small.txt"), b"line1\nline2\n\nend").unwrap();
    let big = text_lf(1 << 20);
    fs::write(srv.root().join("big.txt"), &big).unwrap();
    let mut c = srv.anon();
    c.expect("TYPE A", 200);
    for mode in [DataMode::Pasv, DataMode::Port] {
        assert_eq!(
            c.transfer_in(b"RETR small.txt", mode),
            b"line1\r\nline2\r\n\r\nend",
            "{mode:?}"
        );
        let got = c.transfer_in(b"RETR big.txt", mode);
        assert!(
            got == lf_to_crlf(&big),
            "{mode:?}: 1 MiB ASCII download differs"
        );
    }
    // The same file in binary is unchanged.
    c.expect("TYPE I", 200);
    assert_eq!(c.retr("small.txt"), b"line1\nline2\n\nend");
}

#[test]
fn ascii_upload_converts_crlf_to_lf() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("TYPE A", 200);
    c.stor("small.txt", b"a\r\nb\r\n\r\nc");
    assert_eq!(
        fs::read(srv.root().join("small.txt")).unwrap(),
        b"a\nb\n\nc"
    );
    let big = text_lf(1 << 20);
    let wire = lf_to_crlf(&big);
    // Written in odd-sized pieces so CR and LF land in different segments.
    let (mut s, _) = c.start_transfer(b"STOR big.txt", DataMode::Epsv);
    for piece in wire.chunks(4093) {
        s.write_all(piece).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    drop(s);
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
    let disk = fs::read(srv.root().join("big.txt")).unwrap();
    assert!(
        disk == big,
        "1 MiB ASCII upload: disk has {} bytes, expected {}",
        disk.len(),
        big.len()
    );
    // TYPE I upload keeps CR LF.
    c.expect("TYPE I", 200);
    c.stor("bin.txt", b"a\r\nb\r\n");
    assert_eq!(fs::read(srv.root().join("bin.txt")).unwrap(), b"a\r\nb\r\n");
}

#[test]
fn rest_then_retr_resumes_download() {
    let srv = Server::start();
    let content = pattern(200_000, 3);
    fs::write(srv.root().join("f.bin"), &content).unwrap();
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    for (mode, off) in [
        (DataMode::Pasv, 1usize),
        (DataMode::Epsv, 65_536),
        (DataMode::Port, 199_999),
    ] {
        c.expect(&format!("REST {off}"), 350);
        let got = c.transfer_in(b"RETR f.bin", mode);
        assert!(
            got == content[off..],
            "REST {off} RETR: got {} bytes",
            got.len()
        );
    }
    c.expect("REST 200000", 350);
    assert_eq!(c.transfer_in(b"RETR f.bin", DataMode::Pasv), b"");
    // REST applies to one transfer only.
    assert_eq!(c.retr("f.bin"), content);
}

#[test]
fn rest_then_stor_resumes_upload() {
    let srv = Server::start_with_users();
    let content = pattern(300_000, 4);
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.stor("f.bin", &content[..123_457]);
    c.expect("REST 123457", 350);
    c.transfer_out(b"STOR f.bin", &content[123_457..], DataMode::Epsv);
    let disk = fs::read(srv.root().join("f.bin")).unwrap();
    assert!(disk == content, "REST+STOR: {} bytes on disk", disk.len());
    // A REST offset inside the file: the first 10 bytes stay, then the new data. Whether the
    // old tail after it survives is not part of the contract, so both outcomes pass.
    c.expect("REST 10", 350);
    c.transfer_out(b"STOR f.bin", b"XYZ", DataMode::Pasv);
    let disk = fs::read(srv.root().join("f.bin")).unwrap();
    let mut expected = content.clone();
    expected[10..13].copy_from_slice(b"XYZ");
    assert!(
        disk == expected[..13] || disk == expected,
        "REST 10 + STOR 3 bytes: {} bytes on disk, prefix {:?}",
        disk.len(),
        &disk[..disk.len().min(16)]
    );
}

#[test]
fn appe_appends_or_creates() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("log"), b"first\n").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.transfer_out(b"APPE log", b"second\n", DataMode::Pasv);
    c.transfer_out(b"APPE log", b"third\n", DataMode::Port);
    assert_eq!(
        fs::read(srv.root().join("log")).unwrap(),
        b"first\nsecond\nthird\n"
    );
    c.transfer_out(b"APPE new", b"fresh", DataMode::Epsv);
    assert_eq!(fs::read(srv.root().join("new")).unwrap(), b"fresh");
}

#[test]
fn stou_stores_under_a_new_unique_name() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("existing"), b"keep").unwrap();
    let before: Vec<_> = fs::read_dir(srv.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let mut names = Vec::new();
    for (i, body) in [&b"one"[..], b"two"].iter().enumerate() {
        let pre = c.transfer_out(b"STOU", body, DataMode::Pasv);
        let name = pre
            .strip_prefix("150 FILE: ")
            .unwrap_or_else(|| panic!("STOU 150 must be `150 FILE: name`: {pre}"))
            .trim()
            .to_string();
        assert!(!name.contains('/'), "{name}");
        assert_eq!(
            fs::read(srv.root().join(&name)).unwrap(),
            *body,
            "STOU #{i} file {name}"
        );
        names.push(name);
    }
    assert_ne!(names[0], names[1]);
    assert_eq!(fs::read(srv.root().join("existing")).unwrap(), b"keep");
    let after = fs::read_dir(srv.root()).unwrap().count();
    assert_eq!(after, before.len() + 2);
}

#[test]
fn non_utf8_name_round_trip() {
    let srv = Server::start_with_users();
    let name: &[u8] = b"na\xefve r\xe9sum\xe9 \x80.bin";
    let content = pattern(5000, 5);
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let mut cmd = b"STOR ".to_vec();
    cmd.extend_from_slice(name);
    c.transfer_out(&cmd, &content, DataMode::Pasv);
    assert_eq!(
        fs::read(bpath(&srv.root(), name)).unwrap(),
        content,
        "raw name on disk"
    );

    let nl = c.nlst("");
    assert_eq!(listing_lines(&nl), vec![name.to_vec()], "NLST: {:?}", nl);
    let list = c.list("");
    assert!(
        listing_lines(&list).iter().any(|l| ls_name(l) == name),
        "LIST: {:?}",
        list
    );
    let mut cmd = b"RETR ".to_vec();
    cmd.extend_from_slice(name);
    assert_eq!(c.transfer_in(&cmd, DataMode::Epsv), content);
    let mut cmd = b"SIZE ".to_vec();
    cmd.extend_from_slice(name);
    let r = c.cmd_raw(&cmd);
    assert_eq!(r.text(), "213 5000");
    // Rename to another non-UTF-8 name and back through MKD/CWD.
    let mut cmd = b"RNFR ".to_vec();
    cmd.extend_from_slice(name);
    assert_eq!(c.cmd_raw(&cmd).code, 350);
    assert_eq!(c.cmd_raw(b"RNTO \xe4\xf6\xfc").code, 250);
    assert_eq!(
        fs::read(bpath(&srv.root(), b"\xe4\xf6\xfc")).unwrap(),
        content
    );
}

#[test]
fn concurrent_downloads_and_uploads() {
    // All six come from 127.0.0.1: without lifting max_transfers_per_ip (default 4, tested in
    // limits.rs) a fifth overlapping transfer gets its rightful 425 on a loaded machine.
    let srv = Server::builder()
        .user(ALICE)
        .opt("data_threads", 4)
        .opt("max_transfers_per_ip", 0)
        .start();
    let addr = srv.addr;
    let root = srv.root();
    for i in 0..6 {
        fs::write(root.join(format!("d{i}")), pattern(2 << 20, 100 + i)).unwrap();
    }
    let handles: Vec<_> = (0..6u64)
        .map(|i| {
            let root = root.clone();
            thread::spawn(move || {
                let mut c = FtpClient::connect(addr);
                c.login(ALICE.name, ALICE.password);
                c.expect("TYPE I", 200);
                let mode = ALL_MODES[i as usize % 4];
                let got = c.transfer_in(format!("RETR d{i}").as_bytes(), mode);
                assert!(got == pattern(2 << 20, 100 + i), "download d{i} differs");
                let up = pattern(1 << 20, 200 + i);
                c.transfer_out(format!("STOR u{i}").as_bytes(), &up, mode);
                assert!(
                    fs::read(root.join(format!("u{i}"))).unwrap() == up,
                    "upload u{i} differs"
                );
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a client thread failed");
    }
}

#[test]
fn client_vanishing_mid_transfer_does_not_hurt_others() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("data_threads", 2)
        .opt("pool_wait", 5)
        .start();
    let len: u64 = 32 << 20;
    let crc = write_pattern_file(&srv.root().join("big"), len, 6);
    fs::write(srv.root().join("small"), b"small file").unwrap();

    let mut b = srv.login(ALICE);
    b.expect("TYPE I", 200);

    // A starts a big download, reads a little, stalls: one data worker is busy.
    let mut a = srv.login(ALICE);
    a.expect("TYPE I", 200);
    let (mut a_data, _) = a.start_transfer(b"RETR big", DataMode::Pasv);
    let mut buf = vec![0u8; 1 << 20];
    a_data.read_exact(&mut buf).unwrap();

    // B keeps working meanwhile.
    assert_eq!(b.retr("small"), b"small file");
    assert!(lossy(&b.nlst("")).contains("small"));
    b.stor("fromb", b"b was here");

    // A vanishes: both connections dropped with the transfer half done.
    drop(a_data);
    drop(a);
    // And another client vanishes in the middle of an upload.
    let mut u = srv.login(ALICE);
    let (mut u_data, _) = u.start_transfer(b"STOR partial", DataMode::Epsv);
    u_data.write_all(&pattern(1 << 20, 7)).unwrap();
    drop(u_data);
    drop(u);

    // B still works, and both workers are free again: two stalled-then-completed big downloads
    // at once need both.
    assert_eq!(b.retr("small"), b"small file");
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let (mut b_data, _) = b.start_transfer(b"RETR big", DataMode::Pasv);
    let (mut c_data, _) = c.start_transfer(b"RETR big", DataMode::Epsv);
    // Both must get a worker: read the first MiB of each before finishing either.
    let mut first_b = vec![0u8; 1 << 20];
    let mut first_c = vec![0u8; 1 << 20];
    b_data.read_exact(&mut first_b).unwrap();
    c_data.read_exact(&mut first_c).unwrap();
    let tb = thread::spawn(move || read_all(&mut b_data).unwrap());
    let rest_c = read_all(&mut c_data).unwrap();
    let rest_b = tb.join().unwrap();
    for (who, first, rest) in [("b", &first_b, &rest_b), ("c", &first_c, &rest_c)] {
        let mut h = crc32fast::Hasher::new();
        h.update(first);
        h.update(rest);
        assert_eq!(
            (h.finalize(), (first.len() + rest.len()) as u64),
            (crc, len),
            "{who}"
        );
    }
    assert_eq!(b.read_reply().0, 226);
    assert_eq!(c.read_reply().0, 226);
    assert_eq!(fs::read(srv.root().join("fromb")).unwrap(), b"b was here");
    assert!(srv.root().join("big").exists());
}

fn abort_retr(send_abor: impl FnOnce(&mut FtpClient)) {
    let srv = Server::start();
    let len: u64 = 48 << 20;
    write_pattern_file(&srv.root().join("big"), len, 8);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    let mut buf = vec![0u8; 512 * 1024];
    data.read_exact(&mut buf).unwrap();
    send_abor(&mut c);
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "ABOR during RETR: first reply: {text}");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "ABOR during RETR: second reply: {text}");
    let rest = drain_to_close(&mut data, Duration::from_secs(10)).unwrap();
    assert!(rest + 512 * 1024 < len, "the transfer was not aborted");
    c.expect("NOOP", 200);
    // The session can transfer again.
    fs::write(srv.root().join("s"), b"s").unwrap();
    assert_eq!(c.retr("s"), b"s");
}

#[test]
fn abor_during_retr_plain() {
    abort_retr(|c| c.send("ABOR"));
}

#[test]
fn abor_during_retr_with_telnet_ip_and_synch() {
    // RFC 959 §4.1.3: IAC IP, then IAC DM as urgent data (Synch), then ABOR. This is what
    // Python's ftplib and tnftp send.
    abort_retr(|c| {
        c.send_raw(b"\xff\xf4\xff");
        socket2::SockRef::from(c.socket())
            .send_out_of_band(b"\xf2")
            .unwrap();
        c.send("ABOR");
    });
}

#[test]
fn abor_during_stor() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"STOR up", DataMode::Pasv);
    data.write_all(&pattern(1 << 20, 9)).unwrap();
    data.flush().unwrap();
    c.send("ABOR");
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "ABOR during STOR: first reply: {text}");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "ABOR during STOR: second reply: {text}");
    drain_to_close(&mut data, Duration::from_secs(10)).unwrap();
    c.expect("NOOP", 200);
    let on_disk = fs::metadata(srv.root().join("up"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(on_disk <= 1 << 20, "more on disk than sent: {on_disk}");
    c.stor("after", b"ok");
    assert_eq!(fs::read(srv.root().join("after")).unwrap(), b"ok");
}

#[test]
fn stat_during_transfer_reports_progress() {
    let srv = Server::start();
    let len: u64 = 48 << 20;
    let crc = write_pattern_file(&srv.root().join("big"), len, 10);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    let read_so_far: u64 = 2 << 20;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; read_so_far as usize];
    data.read_exact(&mut buf).unwrap();
    h.update(&buf);
    c.send("STAT");
    let r = c.read_reply_raw();
    assert!(
        r.code == 211 || r.code == 213,
        "STAT during transfer: {}",
        r.text()
    );
    let text = r.text();
    let numbers: Vec<u64> = text
        .split(|ch: char| !ch.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    assert!(
        numbers.iter().any(|&n| n >= read_so_far && n <= len),
        "STAT must report bytes so far (>= {read_so_far}, <= {len}): {text}"
    );
    let rest = read_all(&mut data).unwrap();
    h.update(&rest);
    assert_eq!(read_so_far + rest.len() as u64, len);
    assert_eq!(h.finalize(), crc);
    assert_eq!(c.read_reply().0, 226);
    // NOOP is answered during a transfer too (DESIGN.md, Data pool).
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Epsv);
    data.read_exact(&mut buf[..4096]).unwrap();
    c.expect("NOOP", 200);
    drain_to_close(&mut data, Duration::from_secs(30)).unwrap();
    assert_eq!(c.read_reply().0, 226);
}

#[test]
fn file_of_100_mib_by_crc32() {
    let srv = Server::start_with_users();
    let len: u64 = 100 << 20;
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let (mut s, _) = c.start_transfer(b"STOR big.bin", DataMode::Pasv);
    let mut h = crc32fast::Hasher::new();
    for i in 0..100u64 {
        let chunk = pattern(1 << 20, 1000 + i);
        h.update(&chunk);
        s.write_all(&chunk).unwrap();
    }
    let sent_crc = h.finalize();
    s.shutdown(Shutdown::Write).unwrap();
    drop(s);
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
    assert_eq!(
        crc_file(&srv.root().join("big.bin")),
        (sent_crc, len),
        "on disk"
    );
    assert_eq!(c.expect("SIZE big.bin", 213), format!("213 {len}"));

    let (mut s, pre) = c.start_transfer(b"RETR big.bin", DataMode::Epsv);
    assert_eq!(parse_150_size(&pre), Some(len), "{pre}");
    assert_eq!(crc_reader(&mut s).unwrap(), (sent_crc, len), "downloaded");
    drop(s);
    assert_eq!(c.read_reply().0, 226);
}

/// A small download that the client's window cannot take at once: the control thread sends
/// what fits without waiting, a data worker sends the rest on the same connection.
#[test]
fn small_download_to_a_narrow_window_is_finished_by_a_worker() {
    let srv = Server::builder().verbose().start();
    // 64 KiB: the largest download the control thread tries itself.
    let data = pattern(64 * 1024, 41);
    fs::write(srv.root().join("narrow"), &data).unwrap();
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let text = c.expect("PASV", 227);
    let addr = parse_227(&text).unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    // Set before connecting: a small window, and the smallest MSS Linux allows (88), whose
    // per-segment overhead fills the server's send buffer before the file is queued (with
    // loopback's usual 64 KiB MSS the kernel would take all of it at once).
    sock.set_recv_buffer_size(1024).unwrap();
    sock.set_tcp_mss(88).unwrap();
    sock.connect_timeout(&addr.into(), IO_TIMEOUT).unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let (code, text) = c.cmd("RETR narrow");
    assert_eq!(code, 150, "{text}");
    // Reading nothing for a moment lets the server's non-blocking send fill the window.
    thread::sleep(Duration::from_millis(300));
    let got = read_all(&mut s).unwrap();
    assert!(got == data, "received {} bytes, different", got.len());
    assert_eq!(c.read_reply().0, 226);
    assert!(
        srv.wait_for_log(Duration::from_secs(5), |l| l
            .contains("a worker sends the rest")),
        "the transfer never went to the pool:\n{}",
        srv.logs()
    );
}
