//! FTPS (RFC 4217) over raw sockets with a rustls client: the reply codes of AUTH, PBSZ,
//! PROT, CCC and REIN, FEAT, the plaintext dropped behind AUTH, PROT P transfers with and
//! without session resumption, uploads without close_notify, `tls_required`, the implicit
//! port, `-t`, the SIGHUP reload and ABOR during a protected download. Real clients over TLS
//! are in `tests/clients_ftps.rs`.
#![cfg(feature = "tls")]

mod common;

use common::pki::{LeafFiles, Pki};
use common::tls_client::TlsFtp;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

/// A server offering FTPS with a fresh CA's leaf, anonymous plus ALICE and BOB.
struct Ftps {
    pki: Pki,
    server: Server,
}

fn builder(leaf: &LeafFiles) -> ServerBuilder {
    Server::builder()
        .user(ALICE)
        .user(BOB)
        .opt("tls_cert", leaf.cert.display())
        .opt("tls_key", leaf.key.display())
}

/// Start with extra options, or `None` (SKIP) without openssl.
fn start_with(opts: &[(&str, &str)]) -> Option<Ftps> {
    let pki = Pki::new()?;
    let leaf = pki.leaf("server", 365);
    let mut b = builder(&leaf);
    for (k, v) in opts {
        b = b.opt(k, v);
    }
    let server = b.start();
    Some(Ftps { pki, server })
}

impl Ftps {
    fn connect(&self) -> TlsFtp {
        TlsFtp::connect(self.server.addr, &self.pki.ca)
    }

    /// AUTH TLS, PBSZ 0, PROT P, logged in as ALICE, TYPE I.
    fn alice(&self) -> TlsFtp {
        let mut c = self.connect();
        c.auth();
        c.expect("PBSZ 0", 200);
        c.expect("PROT P", 200);
        c.expect(&format!("USER {}", ALICE.name), 331);
        c.expect(&format!("PASS {}", ALICE.password), 230);
        c.expect("TYPE I", 200);
        c
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn feat_lists_auth_pbsz_prot_only_when_tls_is_offered() {
    let plain = Server::start();
    let mut c = plain.connect();
    let (code, text) = c.cmd("FEAT");
    assert_eq!(code, 211);
    assert!(!text.contains("AUTH") && !text.contains("PBSZ") && !text.contains("PROT"));
    // Without a certificate AUTH and its companions are not implemented here.
    for cmd in ["AUTH TLS", "PBSZ 0", "PROT P", "CCC"] {
        assert_eq!(c.cmd(cmd).0, 502, "{cmd}");
    }
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.connect();
    c.send("FEAT");
    let (code, text) = c.reply();
    assert_eq!(code, 211);
    for f in [" AUTH TLS", " PBSZ", " PROT"] {
        assert!(text.lines().any(|l| l == f), "{f} in {text}");
    }
}

#[test]
fn reply_codes_of_auth_pbsz_prot_ccc_rein() {
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.connect();
    c.expect("PBSZ 0", 503);
    c.expect("PROT P", 503);
    c.expect("CCC", 503);
    c.expect("AUTH KERBEROS_V4", 504);
    c.expect("AUTH", 501);
    c.auth();
    c.expect("AUTH TLS", 503);
    c.expect("PROT P", 503);
    c.expect("PBSZ", 501);
    assert_eq!(c.expect("PBSZ 0", 200), "200 PBSZ=0");
    // Any size asked for: TLS needs none (RFC 4217 §8).
    assert_eq!(c.expect("PBSZ 1024", 200), "200 PBSZ=0");
    c.expect("PROT S", 536);
    c.expect("PROT E", 536);
    c.expect("PROT X", 504);
    c.expect("PROT C", 200);
    c.expect("PROT P", 200);
    c.expect("CCC", 534);
    c.expect("REIN", 502);
    // The session is as it was.
    c.expect(&format!("USER {}", ALICE.name), 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);
    c.expect("PWD", 257);
}

#[test]
fn auth_ssl_and_tls_c_are_accepted() {
    let Some(s) = start_with(&[]) else { return };
    for mech in ["SSL", "TLS-C", "tls"] {
        let mut c = s.connect();
        c.expect(&format!("AUTH {mech}"), 234);
        c.start_tls();
        c.expect("NOOP", 200);
    }
}

#[test]
fn commands_pipelined_behind_auth_are_never_executed() {
    // CVE-2011-1575: a man in the middle appends commands to the client's AUTH line.
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.connect();
    c.expect(&format!("USER {}", ALICE.name), 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);
    c.send_raw(b"AUTH TLS\r\nMKD injected\r\n");
    c.reply_code(234);
    // The MKD bytes were read with the AUTH line (one segment); had they stayed in the socket
    // rustls would have failed the handshake on them instead.
    c.start_tls();
    c.expect("NOOP", 200);
    c.expect("MKD real", 257);
    assert!(s.server.root().join("real").is_dir());
    assert!(!s.server.root().join("injected").exists());
}

#[test]
fn garbage_instead_of_a_client_hello_ends_that_session_only() {
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.connect();
    c.expect("AUTH TLS", 234);
    let mut sock = c.socket().try_clone().unwrap();
    sock.write_all(b"USER alice\r\nPASS secret\r\n\x16\x03\x01\x00\x05hello")
        .unwrap();
    let mut rest = Vec::new();
    let _ = sock.read_to_end(&mut rest);
    // No FTP reply in clear: at most a TLS alert record (0x15), then the close.
    assert!(rest.is_empty() || rest[0] == 0x15, "{rest:?}");
    // Others are served.
    let mut d = s.alice();
    d.expect("NOOP", 200);
}

#[test]
fn prot_p_download_upload_and_listing_resuming_the_session() {
    let Some(s) = start_with(&[]) else { return };
    let body = pattern(3 * 1024 * 1024 + 17);
    std::fs::write(s.server.root().join("big.bin"), &body).unwrap();
    std::fs::write(s.server.root().join("small.txt"), b"small\n").unwrap();
    let mut c = s.alice();
    for _ in 0..3 {
        // Every data connection resumes the control session (own ticket key per session).
        let (data, (code, text)) = c.download("RETR big.bin", true);
        assert_eq!(code, 226, "{text}");
        assert!(data == body, "{} bytes of {}", data.len(), body.len());
    }
    let (data, (code, _)) = c.download("RETR small.txt", true);
    assert_eq!((code, &data[..]), (226, &b"small\n"[..]));
    let (list, (code, _)) = c.download("NLST", true);
    assert_eq!(code, 226);
    assert!(String::from_utf8_lossy(&list).contains("big.bin"));
    let up = pattern(1024 * 1024 + 3);
    let (code, text) = c.upload("STOR up.bin", &up, true);
    assert_eq!(code, 226, "{text}");
    assert!(std::fs::read(s.server.root().join("up.bin")).unwrap() == up);
    // PROT C again: a plain data connection.
    c.expect("PROT C", 200);
    let mut sock = c.data_socket();
    c.send("RETR small.txt");
    c.reply_code(150);
    let mut plain = Vec::new();
    sock.read_to_end(&mut plain).unwrap();
    c.reply_code(226);
    assert_eq!(plain, b"small\n");
}

/// Uploads in a row, with a client that uses each TLS 1.3 ticket once (rustls; OpenSSL with
/// its client cache, as PHP's ftp_ssl_connect): every upload connection must bring it a new
/// ticket, or its third data connection cannot resume (522). The tickets are sent after the
/// client's close_notify, so a client that never reads them does not reset the connection
/// with data unsent (the last upload below closes without reading).
#[test]
fn uploads_in_a_row_each_resume_with_single_use_tickets() {
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.alice();
    for i in 0..5 {
        let body = pattern(200_000 + i);
        let (code, text) = c.upload(&format!("STOR up{i}.bin"), &body, true);
        assert_eq!(code, 226, "upload {i}: {text}");
        assert!(std::fs::read(s.server.root().join(format!("up{i}.bin"))).unwrap() == body);
    }
    let (data, (code, text)) = c.download("RETR up4.bin", true);
    assert_eq!(code, 226, "{text}");
    assert_eq!(data.len(), 200_004);
    // As curl does: close_notify, then close at once with the server's tickets unread.
    let body = pattern(3 * 1024 * 1024 + 5);
    let sock = c.data_socket();
    c.send("STOR last.bin");
    c.reply_code(150);
    let mut tls = c.tls_data(sock, true);
    tls.write_all(&body).unwrap();
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    drop(tls);
    let (code, text) = c.reply();
    assert_eq!(code, 226, "{text}");
    assert!(std::fs::read(s.server.root().join("last.bin")).unwrap() == body);
}

#[test]
fn data_connection_without_resumption_gets_522_and_the_session_lives_on() {
    let Some(s) = start_with(&[]) else { return };
    std::fs::write(s.server.root().join("f.txt"), b"data\n").unwrap();
    let mut c = s.alice();
    let (data, (code, text)) = c.download("RETR f.txt", false);
    assert_eq!(code, 522, "{text}");
    assert!(data.is_empty());
    c.expect("NOOP", 200);
    let (data, (code, _)) = c.download("RETR f.txt", true);
    assert_eq!((code, &data[..]), (226, &b"data\n"[..]));
}

#[test]
fn session_reuse_optional_accepts_a_fresh_handshake() {
    let Some(s) = start_with(&[("tls_session_reuse", "optional")]) else {
        return;
    };
    std::fs::write(s.server.root().join("f.txt"), b"data\n").unwrap();
    let mut c = s.alice();
    let (data, (code, _)) = c.download("RETR f.txt", false);
    assert_eq!((code, &data[..]), (226, &b"data\n"[..]));
}

#[test]
fn upload_without_close_notify_is_a_failed_transfer() {
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.alice();
    let (code, text) = c.upload("STOR cut.bin", &pattern(200_000), false);
    assert_eq!(code, 426, "{text}");
    c.expect("NOOP", 200);
}

#[test]
fn tls_required_login_refuses_user_before_auth_alike_for_every_name() {
    let Some(s) = start_with(&[("tls_required", "login")]) else {
        return;
    };
    let mut c = s.connect();
    let known = c.cmd(&format!("USER {}", ALICE.name));
    let unknown = c.cmd("USER nosuchuser");
    assert_eq!(known.0, 530);
    assert_eq!(known, unknown);
    c.expect(&format!("PASS {}", ALICE.password), 503);
    // Anonymous carries no secret: exempt.
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@", 230);
    let mut t = s.connect();
    t.auth();
    t.expect(&format!("USER {}", ALICE.name), 331);
    t.expect(&format!("PASS {}", ALICE.password), 230);
    // `login` leaves the data to the client.
    std::fs::write(s.server.root().join("f.txt"), b"data\n").unwrap();
    t.expect("PBSZ 0", 200);
    t.expect("PROT C", 200);
    let mut sock = t.data_socket();
    t.send("RETR f.txt");
    t.reply_code(150);
    let mut got = Vec::new();
    sock.read_to_end(&mut got).unwrap();
    t.reply_code(226);
}

#[test]
fn tls_required_all_refuses_prot_c_transfers_and_listings_with_521() {
    let Some(s) = start_with(&[("tls_required", "all")]) else {
        return;
    };
    std::fs::write(s.server.root().join("f.txt"), b"data\n").unwrap();
    let mut c = s.connect();
    c.expect(&format!("USER {}", ALICE.name), 530);
    c.auth();
    c.expect(&format!("USER {}", ALICE.name), 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);
    c.expect("TYPE I", 200);
    c.expect("EPSV", 229);
    for cmd in [
        "RETR f.txt",
        "LIST",
        "NLST",
        "MLSD",
        "STOR g.txt",
        "APPE f.txt",
        "STOU",
    ] {
        c.expect(cmd, 521);
    }
    // Nothing was touched: STOR's 521 came before the file was opened.
    assert_eq!(
        std::fs::read(s.server.root().join("f.txt")).unwrap(),
        b"data\n"
    );
    assert!(!s.server.root().join("g.txt").exists());
    c.expect("PBSZ 0", 200);
    c.expect("PROT P", 200);
    let (data, (code, _)) = c.download("RETR f.txt", true);
    assert_eq!((code, &data[..]), (226, &b"data\n"[..]));
}

#[test]
fn implicit_port_speaks_tls_at_once_with_prot_p() {
    let Some(pki) = Pki::new() else { return };
    let leaf = pki.leaf("server", 365);
    let port = free_port();
    let server = builder(&leaf).opt("tls_implicit_port", port).start();
    std::fs::write(server.root().join("f.txt"), b"implicit\n").unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = TlsFtp::connect_implicit(addr, &pki.ca);
    c.expect(&format!("USER {}", ALICE.name), 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);
    c.expect("TYPE I", 200);
    // PROT P without PBSZ/PROT: the implicit convention.
    let (data, (code, _)) = c.download("RETR f.txt", true);
    assert_eq!((code, &data[..]), (226, &b"implicit\n"[..]));
    c.expect("PBSZ 0", 200);
    c.expect("PROT P", 200);
    c.expect("AUTH TLS", 503);
    // The explicit port is still plaintext first.
    let mut e = TlsFtp::connect(server.addr, &pki.ca);
    e.expect("NOOP", 200);
}

#[test]
fn test_config_checks_the_pair_and_warns_on_expiry() {
    let Some(pki) = Pki::new() else { return };
    let good = pki.leaf("good", 365);
    let short = pki.leaf("short", 10);
    let other = pki.leaf("other", 365);
    let run = |cert: &LeafFiles, key: &LeafFiles| {
        let out = server_command()
            .args(["-t", "-A", "-r", "/"])
            .arg("-o")
            .arg(format!("tls_cert={}", cert.cert.display()))
            .arg("-o")
            .arg(format!("tls_key={}", key.key.display()))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&good, &good);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("expire"), "{err}");
    let (code, err) = run(&short, &short);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("warning") && err.contains("expires in"),
        "{err}"
    );
    let (code, err) = run(&good, &other);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections() {
    let Some(pki) = Pki::new() else { return };
    let live = pki.leaf("live", 365);
    let server = builder(&live).start();
    let first = TlsFtp::connect(server.addr, &pki.ca);
    let mut first = first;
    first.auth();
    let old_leaf = first.peer_leaf();
    // A half-copied renewal (new certificate, old key) is refused; the old pair stays.
    let renewed = pki.leaf("renewed", 365);
    std::fs::copy(&renewed.cert, &live.cert).unwrap();
    let mark = server.log_mark();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        server.wait_for_log_after(mark, Duration::from_secs(30), |l| l
            .contains("TLS certificate not reloaded"))
    );
    let mut c = TlsFtp::connect(server.addr, &pki.ca);
    c.auth();
    assert_eq!(c.peer_leaf(), old_leaf);
    // The whole renewal: new connections get it, the running one goes on.
    std::fs::copy(&renewed.key, &live.key).unwrap();
    let mark = server.log_mark();
    server.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        server.wait_for_log_after(mark, Duration::from_secs(30), |l| l
            .contains("TLS certificate reloaded"))
    );
    let mut c = TlsFtp::connect(server.addr, &pki.ca);
    c.auth();
    assert_ne!(c.peer_leaf(), old_leaf);
    let renewed_der = pem_to_der(&std::fs::read(&renewed.cert).unwrap());
    assert_eq!(c.peer_leaf(), renewed_der);
    first.expect("NOOP", 200);
}

#[test]
fn abor_during_a_prot_p_download() {
    let Some(s) = start_with(&[]) else { return };
    std::fs::write(s.server.root().join("huge.bin"), pattern(64 * 1024 * 1024)).unwrap();
    let mut c = s.alice();
    let sock = c.data_socket();
    c.send("RETR huge.bin");
    c.reply_code(150);
    let mut tls = c.tls_data(sock, true);
    let mut buf = vec![0u8; 64 * 1024];
    tls.read_exact(&mut buf).unwrap();
    // As lftp does under TLS: Telnet IP and DM in band, then ABOR.
    c.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n");
    let first = c.reply();
    assert!(first.0 == 426 || first.0 == 226, "{first:?}");
    let second = c.reply();
    assert_eq!(second.0, 226, "{second:?}");
    drop(tls);
    c.expect("STAT", 211);
    c.expect("NOOP", 200);
}

#[test]
fn stat_and_noop_are_answered_during_a_prot_p_upload() {
    let Some(s) = start_with(&[]) else { return };
    let mut c = s.alice();
    let sock = c.data_socket();
    c.send("STOR slow.bin");
    c.reply_code(150);
    let mut tls = c.tls_data(sock, true);
    tls.write_all(&pattern(100_000)).unwrap();
    tls.flush().unwrap();
    c.expect("NOOP", 200);
    let text = c.expect("STAT", 213);
    assert!(text.contains("bytes transferred"), "{text}");
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    c.reply_code(226);
    assert_eq!(
        std::fs::read(s.server.root().join("slow.bin"))
            .unwrap()
            .len(),
        100_000
    );
}

#[test]
fn idle_timeout_is_kept_under_tls() {
    let Some(s) = start_with(&[("login_timeout", "2")]) else {
        return;
    };
    let mut c = s.connect();
    c.auth();
    let start = std::time::Instant::now();
    let (code, _) = c.reply();
    assert_eq!(code, 421);
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn inetd_mode_speaks_tls_on_stdin_and_stdout() {
    use std::os::fd::OwnedFd;
    use std::process::Stdio;
    let Some(pki) = Pki::new() else { return };
    let leaf = pki.leaf("server", 365);
    let site = Site::new("inetd-tls");
    std::fs::write(site.root().join("f.bin"), pattern(200_000)).unwrap();
    // Explicit (AUTH TLS), then implicit: inetd's service on tls_implicit_port.
    for implicit in [false, true] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let server_side = accept_bounded(&l, IO_TIMEOUT).unwrap();
        let fd_in: OwnedFd = server_side.try_clone().unwrap().into();
        let fd_out: OwnedFd = server_side.into();
        let mut cmd = server_command();
        cmd.args(["-i", "-A", "-r", &path_str(&site.root())])
            .arg("-o")
            .arg(format!("tls_cert={}", leaf.cert.display()))
            .arg("-o")
            .arg(format!("tls_key={}", leaf.key.display()));
        if implicit {
            cmd.arg("-o").arg(format!("tls_implicit_port={port}"));
        }
        cmd.stdin(Stdio::from(fd_in)).stdout(Stdio::from(fd_out));
        let mut p = Proc::spawn(cmd, false);
        let mut c = TlsFtp::from_stream(client, &pki.ca, implicit);
        if !implicit {
            c.auth();
            c.expect("PBSZ 0", 200);
            c.expect("PROT P", 200);
        }
        c.expect("USER anonymous", 331);
        c.expect("PASS inetd@", 230);
        c.expect("TYPE I", 200);
        let (data, (code, _)) = c.download("RETR f.bin", true);
        assert_eq!(code, 226);
        assert!(data == pattern(200_000));
        c.expect("QUIT", 221);
        let status = p.wait_exit(Duration::from_secs(30)).expect("inetd exits");
        assert!(status.success(), "{status}; log:\n{}", p.logs());
    }
}

/// A port nothing listens on now (for the implicit listener).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem)
        .unwrap()
        .to_vec()
}

/// The data of a MODE B stream (RFC 959 §3.4.2), restart-marker blocks skipped; panics on a
/// stream that does not end with an EOF block.
fn unblock(mut wire: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        assert!(wire.len() >= 3, "block stream cut short");
        let (desc, count) = (wire[0], usize::from(u16::from_be_bytes([wire[1], wire[2]])));
        let body = &wire[3..3 + count];
        if desc & 0x10 == 0 {
            data.extend_from_slice(body);
        }
        wire = &wire[3 + count..];
        if desc & 0x40 != 0 {
            assert!(wire.is_empty(), "bytes after the EOF block");
            return data;
        }
    }
}

#[test]
fn block_and_compressed_modes_run_over_prot_p() {
    // Under PROT P the block framing goes through rustls, never sendfile on the raw socket.
    let Some(s) = start_with(&[]) else { return };
    let body = pattern(5 * 1024 * 1024 + 11);
    std::fs::write(s.server.root().join("big.bin"), &body).unwrap();
    let mut c = s.alice();
    c.expect("MODE B", 200);
    let (wire, (code, text)) = c.download("RETR big.bin", true);
    assert_eq!(code, 226, "{text}");
    assert!(
        unblock(&wire) == body,
        "MODE B over TLS: the blocks carry the file"
    );
    // An upload in block mode: two data blocks, then EOF.
    let mut up = vec![0x00, 0x00, 0x03];
    up.extend_from_slice(b"abc");
    up.extend_from_slice(&[0x40, 0x00, 0x02]);
    up.extend_from_slice(b"de");
    let (code, text) = c.upload("STOR up.bin", &up, true);
    assert_eq!(code, 226, "{text}");
    assert_eq!(
        std::fs::read(s.server.root().join("up.bin")).unwrap(),
        b"abcde"
    );
    // Compressed mode: a replicated byte (10 + count 5, 'z') then EOF (escape, descriptor 64).
    c.expect("MODE C", 200);
    let (code, text) = c.upload("STOR z.bin", &[0x85, b'z', 0x00, 0x40], true);
    assert_eq!(code, 226, "{text}");
    assert_eq!(
        std::fs::read(s.server.root().join("z.bin")).unwrap(),
        b"zzzzz"
    );
}
