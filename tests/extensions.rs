//! The modern command set against the real binary: FEAT/OPTS, MLST/MLSD, MFMT, HOST, LANG,
//! HASH/RANG/XCRC, EPSV ALL, IPv6, ABOR with Telnet Synch (urgent data), STAT during a
//! transfer, FXP on and off, SITE.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

const IAC: u8 = 255;
const IP: u8 = 244;
const DM: u8 = 242;

fn facts_of(line: &str) -> (std::collections::BTreeMap<String, String>, String) {
    let (facts, name) = line.split_once(' ').expect("facts SP name");
    let map = facts
        .split(';')
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (k, v) = f.split_once('=').expect("fact=value");
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    (map, name.to_string())
}

#[test]
fn feat_lists_exactly_the_extensions_and_help_agrees() {
    let srv = Server::start();
    let mut c = srv.connect();
    let feat = c.cmd_raw(b"FEAT");
    assert_eq!(feat.code, 211);
    let body: Vec<String> = feat.lines[1..feat.lines.len() - 1]
        .iter()
        .map(|l| lossy(l))
        .collect();
    for line in &body {
        assert!(line.starts_with(' ') && !line.starts_with("  "), "{line:?}");
    }
    let names: Vec<&str> = body.iter().map(|l| l.trim()).collect();
    for want in [
        "EPRT",
        "EPSV",
        "HOST",
        "MDTM",
        "MFMT",
        "PASV",
        "REST STREAM",
        "SIZE",
        "TVFS",
        "UTF8",
        "LANG EN*",
        "HASH CRC32*",
        "XCRC",
    ] {
        assert!(names.contains(&want), "FEAT lacks {want}: {names:?}");
    }
    assert!(names
        .iter()
        .any(|n| n.starts_with("MLST type*;size*;modify*;")));
    // Every verb FEAT names is one HELP recognises.
    for n in &names {
        let verb = n.split_whitespace().next().unwrap();
        if verb == "UTF8" || verb == "TVFS" {
            continue;
        }
        let (code, _) = c.cmd(&format!("HELP {verb}"));
        assert_eq!(code, 214, "HELP {verb}");
    }
}

#[test]
fn opts_table() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("OPTS UTF8 ON", 200);
    c.expect("OPTS HASH", 200);
    assert!(c.expect("OPTS HASH CRC32", 200).contains("CRC32"));
    c.expect("OPTS HASH SHA-512", 501);
    c.expect("OPTS FOO BAR", 501);
    let t = c.expect("OPTS MLST type;size;", 200);
    assert!(t.contains("MLST OPTS type;size;"), "{t}");
    let feat = c.cmd_raw(b"FEAT").text();
    assert!(feat.contains("MLST type*;size*;modify;"), "{feat}");
}

#[test]
fn mlsd_and_mlst_facts() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("a.txt"), b"hello").unwrap();
    fs::create_dir(srv.root().join("sub")).unwrap();
    std::os::unix::fs::symlink("a.txt", srv.root().join("ln")).unwrap();
    let mut c = srv.login(ALICE);
    let raw = c.transfer_in(b"MLSD", DataMode::Epsv);
    let mut seen = std::collections::BTreeMap::new();
    for line in listing_lines(&raw) {
        let (facts, name) = facts_of(&lossy(&line));
        seen.insert(name, facts);
    }
    assert_eq!(seen["."]["type"], "cdir");
    assert_eq!(seen["sub"]["type"], "dir");
    let f = &seen["a.txt"];
    assert_eq!(f["type"], "file");
    assert_eq!(f["size"], "5");
    assert_eq!(f["modify"].len(), 14);
    assert!(f["perm"].contains('r') && f["perm"].contains('w'), "{f:?}");
    assert_eq!(f["unix.mode"], "0644");
    // A symlink is described by its target.
    assert_eq!(seen["ln"]["type"], "file");
    assert_eq!(seen["ln"]["size"], "5");

    let r = c.cmd_raw(b"MLST a.txt");
    assert_eq!(r.code, 250);
    assert_eq!(r.lines.len(), 3, "{}", r.text());
    let body = lossy(&r.lines[1]);
    assert!(body.starts_with(' '), "{body:?}");
    let (facts, name) = facts_of(&body[1..]);
    assert_eq!(name, "/a.txt");
    assert_eq!(facts["size"], "5");
    c.expect("MLST nope", 550);
    // MLSD of a file is an error (RFC 3659 §7.2.2).
    c.data(DataMode::Pasv);
    c.expect("MLSD a.txt", 550);

    // Read-only accounts get no write permission facts.
    let mut b = srv.login(BOB);
    let raw = b.transfer_in(b"MLSD", DataMode::Pasv);
    let line = listing_lines(&raw)
        .into_iter()
        .map(|l| lossy(&l))
        .find(|l| l.ends_with(" a.txt"))
        .unwrap();
    let (facts, _) = facts_of(&line);
    assert!(!facts["perm"].contains('w'), "{line}");
}

#[test]
fn mfmt_sets_the_time_on_disk_and_mdtm_reads_it() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = srv.login(ALICE);
    let t = c.expect("MFMT 20200102030405 f", 213);
    assert!(t.contains("Modify=20200102030405; f"), "{t}");
    let m = fs::metadata(srv.root().join("f")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(m.mtime(), 1_577_934_245);
    assert_eq!(c.expect("MDTM f", 213).trim(), "213 20200102030405");
    c.expect("MFMT 20201301000000 f", 501);
    c.expect("MFMT 20200102030405 missing", 550);
    let mut b = srv.login(BOB);
    b.expect("MFMT 20210102030405 f", 550);
    assert_eq!(
        fs::metadata(srv.root().join("f")).unwrap().mtime(),
        1_577_934_245
    );
}

#[test]
fn host_lang_sequence() {
    let srv = Server::start();
    let mut c = srv.connect();
    c.expect("HOST ftp.example.com", 220);
    c.expect("HOST bad_name!", 501);
    c.expect("LANG EN", 200);
    c.expect("LANG FR", 504);
    c.expect("USER anonymous", 331);
    c.expect("HOST ftp.example.com", 503);
    c.expect("PASS x@y", 230);
    c.expect("HOST ftp.example.com", 503);
}

#[test]
fn hash_rang_and_xcrc_match_crc32fast() {
    let srv = Server::start();
    let crc = write_pattern_file(&srv.root().join("big.bin"), 3_000_000, 7);
    let content = fs::read(srv.root().join("big.bin")).unwrap();
    let mut c = srv.anon();
    let r = c.expect("HASH big.bin", 213);
    assert_eq!(r.trim(), format!("213 CRC32 0-2999999 {crc:08x} big.bin"));
    c.expect("RANG 10 19", 350);
    let part = crc32fast::hash(&content[10..20]);
    let r = c.expect("HASH big.bin", 213);
    assert_eq!(r.trim(), format!("213 CRC32 10-19 {part:08x} big.bin"));
    // The range applied to one HASH only.
    assert!(c
        .expect("HASH big.bin", 213)
        .contains(&format!("{crc:08x}")));
    assert_eq!(
        c.expect("XCRC big.bin", 250).trim(),
        format!("250 {crc:08X}")
    );
    let part = crc32fast::hash(&content[100..2000]);
    assert_eq!(
        c.expect("XCRC \"big.bin\" 100 2000", 250).trim(),
        format!("250 {part:08X}")
    );
    c.expect("HASH nope", 550);
    fs::create_dir(srv.root().join("d")).unwrap();
    c.expect("HASH d", 550);
    c.expect("XCRC \"big.bin\" 99999999", 501);
}

#[test]
fn epsv_all_refuses_other_data_commands() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("EPSV ALL", 200);
    c.expect("PASV", 503);
    c.expect("PORT 127,0,0,1,39,16", 503);
    c.expect("EPRT |1|127.0.0.1|10000|", 503);
    fs::write(srv.root().join("f"), b"abc").unwrap();
    assert_eq!(c.transfer_in(b"RETR f", DataMode::Epsv), b"abc");
    c.expect("EPSV 2", 522);
    c.expect("EPRT |2|::1|5000|", 503);
}

#[test]
fn eprt_family_must_match_the_connection() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("EPRT |2|::1|5000|", 522);
    c.expect("EPRT |3|x|5000|", 522);
    c.expect("EPSV 2", 522);
}

fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn ipv6_listener_epsv_eprt_and_pasv_refusal() {
    if !ipv6_available() {
        println!("SKIP: no IPv6 loopback on this machine");
        return;
    }
    let srv = Server::builder().arg("-l").arg("::1").start();
    let addr = v6_addr(&srv);
    fs::write(srv.root().join("f"), b"over six").unwrap();
    let mut c = FtpClient::connect(addr);
    c.login("anonymous", "a@b");
    c.expect("PASV", 522);
    let t = c.expect("EPSV", 229);
    let port = parse_229(&t).unwrap();
    let mut d = TcpStream::connect(SocketAddr::new(addr.ip(), port)).unwrap();
    c.send("RETR f");
    assert_eq!(c.read_reply().0, 150);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"over six");
    assert_eq!(c.read_reply().0, 226);
    // Active over IPv6.
    let l = std::net::TcpListener::bind("[::1]:0").unwrap();
    let p = l.local_addr().unwrap().port();
    c.expect(&format!("EPRT |2|::1|{p}|"), 200);
    c.send("RETR f");
    let mut d = accept_bounded(&l, IO_TIMEOUT).unwrap();
    assert_eq!(c.read_reply().0, 150);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"over six");
    assert_eq!(c.read_reply().0, 226);
    c.expect("EPRT |1|127.0.0.1|5000|", 522);
}

fn v6_addr(srv: &Server) -> SocketAddr {
    // Each listener logs its own line; the harness returned after the first one.
    assert!(srv.wait_for_log(START_TIMEOUT, |l| l.contains("listening on [")));
    let logs = srv.logs();
    let token = logs
        .lines()
        .filter_map(|l| l.split("listening on ").nth(1))
        .map(|t| t.split_whitespace().next().unwrap_or(""))
        .find(|t| t.starts_with('['))
        .expect("an IPv6 listener in the log");
    token.parse().unwrap()
}

/// Telnet IP, then Synch: IAC in band and DM as TCP urgent data (RFC 959 §4.1.3), then ABOR.
fn send_abor_with_synch(c: &mut FtpClient) {
    c.send_raw(&[IAC, IP, IAC]);
    let sock = socket2::SockRef::from(c.socket());
    sock.send_out_of_band(&[DM]).unwrap();
    c.send_raw(b"ABOR\r\n");
}

#[test]
fn abor_with_synch_during_retr() {
    let srv = Server::start();
    write_pattern_file(&srv.root().join("big"), 64 << 20, 1);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    // Start the download and never read it: the server blocks on a full socket.
    let (data, opening) = c.start_transfer(b"RETR big", DataMode::Pasv);
    assert!(opening.starts_with("150"), "{opening}");
    send_abor_with_synch(&mut c);
    let (a, _) = c.read_reply();
    let (b, t) = c.read_reply();
    assert_eq!((a, b), (426, 226), "{t}");
    drop(data);
    // The session goes on.
    c.expect("NOOP", 200);
    assert_eq!(c.retr("big").len(), 64 << 20);
}

#[test]
fn abor_with_synch_during_stor() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let (mut data, opening) = c.start_transfer(b"STOR up.bin", DataMode::Epsv);
    assert!(opening.starts_with("150"), "{opening}");
    data.write_all(&pattern(100_000, 3)).unwrap();
    send_abor_with_synch(&mut c);
    let (a, _) = c.read_reply();
    let (b, _) = c.read_reply();
    assert_eq!((a, b), (426, 226));
    c.expect("NOOP", 200);
}

#[test]
fn abor_with_synch_when_idle_and_inline() {
    let srv = Server::start();
    let mut c = srv.anon();
    send_abor_with_synch(&mut c);
    assert_eq!(c.read_reply().0, 225);
    // The urgent byte delivered inline (as some stacks do) parses the same.
    c.send_raw(&[IAC, IP, IAC, DM]);
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().0, 225);
    c.expect("NOOP", 200);
}

#[test]
fn stat_and_noop_during_a_transfer() {
    let srv = Server::start();
    write_pattern_file(&srv.root().join("big"), 64 << 20, 2);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    let mut buf = vec![0u8; 1 << 20];
    data.read_exact(&mut buf).unwrap();
    let t = c.expect("STAT", 213);
    let moved: u64 = t
        .split_whitespace()
        .skip(1)
        .find_map(|w| w.parse().ok())
        .expect("a byte count");
    // Progress counts finished sendfile calls, so it may trail what the client already
    // read by one call; it must show the transfer under way, within the file.
    assert!(moved > 0 && moved <= 64 << 20, "{t}");
    c.expect("NOOP", 200);
    let mut rest = Vec::new();
    data.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len() + buf.len(), 64 << 20);
    assert_eq!(c.read_reply().0, 226);
}

#[test]
fn site_commands() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("SITE HELP", 214);
    c.expect("SITE CHMOD 600 f", 200);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(srv.root().join("f"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    c.expect("SITE UMASK 077", 200);
    c.stor("g", b"y");
    let mode = fs::metadata(srv.root().join("g"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    c.expect("SITE IDLE 60", 200);
    c.expect("SITE IDLE 999999", 501);
    c.expect("SITE BOGUS", 500);
    let mut b = srv.login(BOB);
    b.expect("SITE CHMOD 777 f", 550);
    let mode = fs::metadata(srv.root().join("f"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn size_in_ascii_type_counts_crlf() {
    let srv = Server::start();
    fs::write(srv.root().join("t.txt"), b"a\nb\nc").unwrap();
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    assert_eq!(c.expect("SIZE t.txt", 213).trim(), "213 5");
    c.expect("TYPE A", 200);
    assert_eq!(c.expect("SIZE t.txt", 213).trim(), "213 7");
    let got = c.transfer_in(b"RETR t.txt", DataMode::Pasv);
    assert_eq!(got.len(), 7);
}

/// A passive data connection from another address than the control peer is refused.
#[test]
fn passive_connection_from_a_third_address_is_refused() {
    let srv = Server::builder().opt("data_timeout", 2).start();
    fs::write(srv.root().join("f"), b"secret").unwrap();
    let mut c = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 3), srv.addr);
    c.login("anonymous", "a@b");
    let t = c.expect("PASV", 227);
    let data_addr = parse_227(&t).unwrap();
    c.send("RETR f");
    // Connect from 127.0.0.1, not the client's 127.0.0.3.
    let mut thief = TcpStream::connect(data_addr).unwrap();
    thief
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let _ = thief.read_to_end(&mut got);
    assert!(got.is_empty(), "the thief got data");
    assert_eq!(c.read_reply().0, 150);
    assert_eq!(c.read_reply().0, 425);
}

/// FXP: server A sends (PASV + RETR), server B receives (PORT + STOR), driven by one client.
fn fxp_copy(allow_fxp: bool) -> (Server, Server, Result<(), String>) {
    let mut a = Server::builder().arg("-l").arg("127.0.0.2");
    let mut b = Server::builder().user(ALICE).opt("data_timeout", 3);
    if allow_fxp {
        a = a.arg("--allow-fxp");
        b = b.arg("--allow-fxp");
    }
    let a = a.opt("data_timeout", 3).start();
    let b = b.start();
    write_pattern_file(&a.root().join("src.bin"), 5_000_000, 9);
    assert!(a.wait_for_log(START_TIMEOUT, |l| l.contains("listening on 127.0.0.2:")));
    let a_addr = a
        .logs()
        .lines()
        .filter_map(|l| l.split("listening on ").nth(1))
        .map(|t| t.split_whitespace().next().unwrap_or("").to_string())
        .find(|t| t.starts_with("127.0.0.2:"))
        .expect("A on 127.0.0.2")
        .parse::<SocketAddr>()
        .unwrap();
    // The client talks to A from 127.0.0.3, so B's data connection (from 127.0.0.1) is a
    // third party for A as well.
    let mut ca = FtpClient::connect_from(Ipv4Addr::new(127, 0, 0, 3), a_addr);
    ca.login("anonymous", "x@y");
    ca.expect("TYPE I", 200);
    let mut cb = b.login(ALICE);
    cb.expect("TYPE I", 200);
    let pasv = ca.expect("PASV", 227);
    let src = parse_227(&pasv).unwrap();
    let o = match src.ip() {
        std::net::IpAddr::V4(v4) => v4.octets(),
        _ => unreachable!(),
    };
    let port_cmd = format!(
        "PORT {},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        src.port() >> 8,
        src.port() & 0xff
    );
    let (code, text) = cb.cmd(&port_cmd);
    if code != 200 {
        return (a, b, Err(format!("B refused PORT: {code} {text}")));
    }
    cb.send("STOR dst.bin");
    ca.send("RETR src.bin");
    let (b150, _) = cb.read_reply();
    let (a150, _) = ca.read_reply();
    let (a_end, at) = ca.read_reply();
    let (b_end, bt) = cb.read_reply();
    if (a150, a_end, b150, b_end) != (150, 226, 150, 226) {
        return (
            a,
            b,
            Err(format!("A {a150}/{a_end} {at}; B {b150}/{b_end} {bt}")),
        );
    }
    (a, b, Ok(()))
}

#[test]
fn fxp_server_to_server_copy_when_allowed() {
    let (a, b, r) = fxp_copy(true);
    r.unwrap();
    assert_eq!(
        crc_file(&a.root().join("src.bin")),
        crc_file(&b.root().join("dst.bin"))
    );
}

#[test]
fn fxp_refused_by_default() {
    let (_a, b, r) = fxp_copy(false);
    let err = r.expect_err("FXP must be refused without allow_fxp");
    assert!(err.contains("B refused PORT: 500"), "{err}");
    assert!(!b.root().join("dst.bin").exists());
}

/// `connect_from_port_20`: active-mode data connections come from ftp-data (port 20), as
/// RFC 959 describes; needs the privilege to bind it (root here and in CI).
#[test]
fn active_mode_from_port_20() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: binding port 20 needs root");
        return;
    }
    let srv = Server::builder().opt("connect_from_port_20", "yes").start();
    fs::write(srv.root().join("f"), b"from twenty").unwrap();
    let mut c = srv.anon();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    c.expect(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 0xff), 200);
    c.send("RETR f");
    let d = accept_bounded(&l, IO_TIMEOUT).unwrap();
    assert_eq!(d.peer_addr().unwrap().port(), 20);
    assert_eq!(c.read_reply().0, 150);
    let mut got = Vec::new();
    (&d).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from twenty");
    assert_eq!(c.read_reply().0, 226);
}
