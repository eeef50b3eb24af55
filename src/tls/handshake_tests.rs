//! Handshakes between our server side and a rustls client over socketpairs and pipes (and
//! `openssl s_client` over loopback for the one behaviour rustls's client cannot show):
//! resumption per control connection, AUTH injection, errors as values, reads, close_notify,
//! certificate reload, and the stack a handshake needs.

use super::resolver::CertStore;
use super::session_config::TlsServer;
use super::starttls;
use super::stream::{Closed, FdPair, HandshakeError, TlsStream, Transport};
use super::testpki::{self, Leaf, Pki};
use crate::test_support::TempDir;
use rustls::client::{Resumption, Tls12Resumption};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::version::{TLS12, TLS13};
use rustls::{
    ClientConfig, ClientConnection, HandshakeKind, RootCertStore, ServerConfig, ServerConnection,
};
use rustls::{StreamOwned, SupportedProtocolVersion};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous bounds: the machine may be loaded, and qemu is slow.
const HANDSHAKE: Duration = Duration::from_secs(60);
const CLOSE: Duration = Duration::from_secs(20);

/// A server for `leaf` (files in the returned directory).
fn tls_server(leaf: &Leaf) -> (TlsServer, TempDir) {
    let dir = TempDir::new("tls-hs");
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    std::fs::write(&cert, &leaf.chain_pem).unwrap();
    std::fs::write(&key, &leaf.key_pkcs8_pem).unwrap();
    let store = Arc::new(CertStore::open(&cert, &key).unwrap());
    (TlsServer::new(store).unwrap(), dir)
}

/// A client trusting `ca_pem`, speaking only `version`, with its own session cache.
fn client(
    ca_pem: &[u8],
    version: &'static SupportedProtocolVersion,
    resumption: Resumption,
) -> Arc<ClientConfig> {
    client_with(ca_pem, version, resumption, super::client_provider())
}

/// [`client`] with the suites and key exchanges of `provider`.
fn client_with(
    ca_pem: &[u8],
    version: &'static SupportedProtocolVersion,
    resumption: Resumption,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = resumption;
    Arc::new(config)
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// What one connection saw on each side.
#[derive(Debug)]
struct Seen {
    server_resumed: bool,
    client_kind: Option<HandshakeKind>,
    closed: Closed,
    leaf: Vec<u8>,
    suite: rustls::CipherSuite,
}

/// One connection: our server on a thread with `stack` bytes of stack, the client here.
/// The server greets, echoes one line, and closes with close_notify.
fn connect_with_stack(server: Arc<ServerConfig>, client: Arc<ClientConfig>, stack: usize) -> Seen {
    let (s, c) = UnixStream::pair().unwrap();
    let server = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let mut tls = TlsStream::new(server, s).unwrap();
            tls.handshake(HANDSHAKE).unwrap();
            tls.write_all(b"220 hi\r\n").unwrap();
            let mut line = [0u8; 6];
            tls.read_exact(&mut line).unwrap();
            assert_eq!(&line, b"PING\r\n");
            tls.write_all(b"PONG\r\n").unwrap();
            (tls.was_resumed(), tls.close(CLOSE).unwrap())
        })
        .unwrap();
    let conn = ClientConnection::new(client, localhost()).unwrap();
    let mut tls = StreamOwned::new(conn, c);
    let mut greeting = [0u8; 8];
    tls.read_exact(&mut greeting).unwrap(); // also takes in the TLS 1.3 tickets sent before it
    assert_eq!(&greeting, b"220 hi\r\n");
    tls.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 6];
    tls.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"PONG\r\n");
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).unwrap(); // the server's close_notify ends it cleanly
    let (server_resumed, closed) = server.join().unwrap();
    Seen {
        server_resumed,
        client_kind: tls.conn.handshake_kind(),
        closed,
        leaf: tls.conn.peer_certificates().unwrap()[0].to_vec(),
        suite: tls.conn.negotiated_cipher_suite().unwrap().suite(),
    }
}

fn connect(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> Seen {
    connect_with_stack(Arc::clone(server), Arc::clone(client), 1 << 20)
}

#[test]
fn data_connections_resume_their_control_session_and_no_other() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let cases: [(&str, &'static SupportedProtocolVersion, Tls12Resumption); 3] = [
        (
            "TLS 1.3 tickets",
            &TLS13,
            Tls12Resumption::SessionIdOrTickets,
        ),
        (
            "TLS 1.2 tickets",
            &TLS12,
            Tls12Resumption::SessionIdOrTickets,
        ),
        (
            "TLS 1.2 session IDs",
            &TLS12,
            Tls12Resumption::SessionIdOnly,
        ),
    ];
    for (name, version, tls12) in cases {
        // One client that remembers sessions across connections (as rclone once did across
        // control connections), and two control connections of the server.
        let client = client(
            &pki.ca_pem,
            version,
            Resumption::in_memory_sessions(16).tls12_resumption(tls12),
        );
        let (a, b) = (tls.for_session().unwrap(), tls.for_session().unwrap());
        let control = connect(&a, &client);
        assert!(!control.server_resumed, "{name}: first handshake is full");
        assert_eq!(control.closed, Closed::Clean, "{name}");
        for i in 0..3 {
            let data = connect(&a, &client);
            assert!(data.server_resumed, "{name}: data connection {i} resumes");
            assert_eq!(data.client_kind, Some(HandshakeKind::Resumed), "{name}");
        }
        let other = connect(&b, &client);
        assert!(
            !other.server_resumed,
            "{name}: another control connection's session"
        );
        assert_eq!(other.client_kind, Some(HandshakeKind::Full), "{name}");
    }
}

#[test]
fn the_server_picks_the_suite_in_its_own_order() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let config = tls.for_session().unwrap();
    for version in [&TLS13, &TLS12] {
        // ring's client order puts AES-256-GCM first; ours depends on the CPU.
        let ours = super::provider()
            .cipher_suites
            .iter()
            .find(|s| s.version() == version)
            .unwrap()
            .suite();
        let offer = client(&pki.ca_pem, version, Resumption::disabled());
        assert_eq!(connect(&config, &offer).suite, ours, "{version:?}");
        // A client that offers one suite gets it.
        let mut provider = (*super::client_provider()).clone();
        provider.cipher_suites.retain(|s| s.version() == version);
        provider.cipher_suites.rotate_left(1);
        provider.cipher_suites.truncate(1);
        let wanted = provider.cipher_suites[0].suite();
        let only = client_with(
            &pki.ca_pem,
            version,
            Resumption::disabled(),
            Arc::new(provider),
        );
        assert_eq!(connect(&config, &only).suite, wanted);
    }
}

#[test]
fn a_tls13_ticket_is_reusable_by_every_data_connection() {
    // lftp (GnuTLS) offers the control connection's ticket on every data connection. With
    // rustls's default single-use tickets only the first would resume. openssl s_client with
    // -sess_in does the same as lftp.
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let dir = TempDir::new("tls-sclient");
    std::fs::write(dir.0.join("ca.pem"), &pki.ca_pem).unwrap();
    let config = tls.for_session().unwrap();
    let (first, _) = s_client(&config, &dir, &["-tls1_3", "-sess_out", "sess.pem"]);
    assert!(!first, "control connection: full handshake");
    for i in 0..3 {
        let (resumed, out) = s_client(&config, &dir, &["-tls1_3", "-sess_in", "sess.pem"]);
        assert!(
            resumed,
            "data connection {i} with the control ticket: {out}"
        );
    }
    // The same ticket at another control connection of the same server: refused.
    let other = tls.for_session().unwrap();
    let (resumed, _) = s_client(&other, &dir, &["-tls1_3", "-sess_in", "sess.pem"]);
    assert!(!resumed);
}

/// `openssl s_client` against one connection of ours on loopback; whether our side resumed,
/// and what s_client printed.
fn s_client(config: &Arc<ServerConfig>, dir: &TempDir, args: &[&str]) -> (bool, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::clone(config);
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(HANDSHAKE)).unwrap();
        let mut tls = TlsStream::new(config, sock).unwrap();
        tls.handshake(HANDSHAKE).unwrap();
        tls.write_all(b"220 hi\r\n").unwrap();
        // s_client (-ign_eof) stays until we close; its tickets came before the 220.
        tls.close(CLOSE).unwrap();
        tls.was_resumed()
    });
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            "ca.pem",
        ])
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-ign_eof",
        ])
        .args(args)
        .current_dir(&dir.0)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (server.join().unwrap(), text)
}

#[test]
fn auth_drops_plaintext_injected_behind_the_auth_line() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let config = tls.for_session().unwrap();
    let client_config = client(&pki.ca_pem, &TLS13, Resumption::disabled());
    let (mut s, mut c) = UnixStream::pair().unwrap();
    // The attacker's packet: the client's AUTH line with a command appended.
    c.write_all(b"AUTH TLS\r\nDELE important\r\n").unwrap();
    let server = std::thread::spawn(move || {
        let mut raw = vec![0u8; 64];
        let n = s.read(&mut raw).unwrap();
        raw.truncate(n);
        let end = raw.iter().position(|&b| b == b'\n').unwrap() + 1;
        assert_eq!(&raw[..end], b"AUTH TLS\r\n");
        let unread = raw.split_off(end); // what the line reader holds past the AUTH line
        s.write_all(b"234 AUTH TLS OK.\r\n").unwrap();
        let mut up = starttls::upgrade(config, s, unread, HANDSHAKE).unwrap();
        let mut line = [0u8; 11];
        up.stream.read_exact(&mut line).unwrap();
        (up.discarded, line)
    });
    let mut reply = [0u8; 18];
    c.read_exact(&mut reply).unwrap();
    let mut tls = StreamOwned::new(
        ClientConnection::new(client_config, localhost()).unwrap(),
        c,
    );
    tls.write_all(b"USER real\r\n").unwrap();
    let (discarded, first) = server.join().unwrap();
    assert_eq!(discarded, b"DELE important\r\n".len());
    assert_eq!(
        &first, b"USER real\r\n",
        "the first command is the one sent under TLS"
    );
}

#[test]
fn plaintext_arriving_after_auth_fails_the_handshake_and_never_panics() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    // What may follow AUTH instead of a ClientHello: text, a record header with a garbage
    // body, an alert, a truncated hello, random bytes.
    let record = |t: u8, body: &[u8]| {
        let mut r = vec![t, 3, 1, 0, body.len() as u8];
        r.extend(body);
        r
    };
    let mut hello = Vec::new();
    let mut probe = ClientConnection::new(
        client(&pki.ca_pem, &TLS13, Resumption::disabled()),
        localhost(),
    )
    .unwrap();
    probe.write_tls(&mut hello).unwrap();
    let mut rng = 0x2545_f491_u32;
    let random: Vec<u8> = (0..300)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng as u8
        })
        .collect();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"DELE important\r\n".to_vec()),
        ("garbage handshake", record(22, &[1, 0, 0, 4, 9, 9, 9, 9])),
        ("alert", record(21, &[2, 40])),
        ("application data first", record(23, b"hello")),
        ("random", random),
        ("hello with a broken body", record(22, &[0xee; 60])),
    ];
    for (name, bytes) in inputs {
        let (s, mut c) = UnixStream::pair().unwrap();
        c.write_all(&bytes).unwrap();
        // Each is complete enough to be judged at once: a timeout would be a failure too.
        let result = starttls::upgrade(
            tls.for_session().unwrap(),
            s,
            Vec::new(),
            Duration::from_secs(10),
        );
        assert!(
            matches!(result, Err(HandshakeError::Tls(_))),
            "{name}: {:?}",
            result.err()
        );
    }
    // Half a ClientHello, then the peer hangs up; or stays silent.
    let (s, mut c) = UnixStream::pair().unwrap();
    c.write_all(&hello[..hello.len() / 2]).unwrap();
    drop(c);
    let result = starttls::upgrade(tls.for_session().unwrap(), s, Vec::new(), HANDSHAKE);
    assert!(
        matches!(result, Err(HandshakeError::Closed)),
        "{:?}",
        result.err()
    );
    let (s, _c) = UnixStream::pair().unwrap();
    let start = Instant::now();
    let result = starttls::upgrade(
        tls.for_session().unwrap(),
        s,
        Vec::new(),
        Duration::from_millis(300),
    );
    assert!(
        matches!(result, Err(HandshakeError::Timeout)),
        "{:?}",
        result.err()
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_client_that_rejects_the_certificate_is_an_error_on_our_side() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    // Trusts another root only (a leaf of ours, as if it were a CA): it sends an alert and
    // hangs up, as lftp and curl do with an unknown issuer.
    let stranger = client(&pki.rsa2048.cert_pem, &TLS13, Resumption::disabled());
    let (s, c) = UnixStream::pair().unwrap();
    let client = std::thread::spawn(move || {
        let mut tls = StreamOwned::new(ClientConnection::new(stranger, localhost()).unwrap(), c);
        tls.write_all(b"x").unwrap_err()
    });
    let mut server = TlsStream::new(tls.for_session().unwrap(), s).unwrap();
    match server.handshake(HANDSHAKE) {
        Err(HandshakeError::Tls(rustls::Error::AlertReceived(_))) => {}
        other => panic!("{other:?}"),
    }
    let err = client.join().unwrap();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[test]
fn reads_see_buffered_plaintext_and_single_reads_do_not_wait_for_a_whole_record() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let (s, mut c) = UnixStream::pair().unwrap();
    let config = tls.for_session().unwrap();
    let server = std::thread::spawn(move || {
        let mut tls = TlsStream::new(config, s).unwrap();
        tls.handshake(HANDSHAKE).unwrap();
        tls
    });
    let mut conn = ClientConnection::new(
        client(&pki.ca_pem, &TLS13, Resumption::disabled()),
        localhost(),
    )
    .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut c).unwrap();
    }
    let mut server = server.join().unwrap();
    assert!(!server.has_buffered_plaintext());

    // Two pipelined commands in one record: after reading the first, the second is inside
    // rustls, where poll() on the socket cannot see it.
    conn.writer().write_all(b"PBSZ 0\r\nPROT P\r\n").unwrap();
    conn.complete_io(&mut c).unwrap();
    let mut first = [0u8; 8];
    server.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"PBSZ 0\r\n");
    assert!(server.has_buffered_plaintext());
    let mut second = [0u8; 8];
    server.read_exact(&mut second).unwrap();
    assert_eq!(&second, b"PROT P\r\n");
    assert!(!server.has_buffered_plaintext());

    // One record sent in two halves: a single read of the first half gives WouldBlock.
    server.set_single_reads(true);
    conn.writer().write_all(b"NOOP\r\n").unwrap();
    let mut record = Vec::new();
    conn.write_tls(&mut record).unwrap();
    let half = record.len() / 2;
    c.write_all(&record[..half]).unwrap();
    let mut buf = [0u8; 64];
    let e = server.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    c.write_all(&record[half..]).unwrap();
    let n = server.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"NOOP\r\n");
}

#[test]
fn an_upload_without_close_notify_is_truncated_and_close_is_bounded() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    for with_close_notify in [true, false] {
        let (s, c) = UnixStream::pair().unwrap();
        let config = tls.for_session().unwrap();
        let server = std::thread::spawn(move || {
            let mut tls = TlsStream::new(config, s).unwrap();
            tls.handshake(HANDSHAKE).unwrap();
            let mut got = Vec::new();
            let end = tls.read_to_end(&mut got);
            (got, end.map_err(|e| e.kind()))
        });
        let mut tls = StreamOwned::new(
            ClientConnection::new(
                client(&pki.ca_pem, &TLS13, Resumption::disabled()),
                localhost(),
            )
            .unwrap(),
            c,
        );
        tls.write_all(b"file contents").unwrap();
        if with_close_notify {
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        }
        // A FIN, not a close: closing with the server's tickets unread would send a reset.
        tls.sock.shutdown(std::net::Shutdown::Write).unwrap();
        let (got, end) = server.join().unwrap();
        drop(tls);
        assert_eq!(got, b"file contents");
        if with_close_notify {
            assert_eq!(end, Ok(13));
        } else {
            assert_eq!(end, Err(io::ErrorKind::UnexpectedEof));
        }
    }

    // close(): a peer that never answers costs the timeout; one that ends its side without
    // close_notify, no wait.
    for hang_up in [false, true] {
        let (s, c) = UnixStream::pair().unwrap();
        let config = tls.for_session().unwrap();
        let server = std::thread::spawn(move || {
            let mut tls = TlsStream::new(config, s).unwrap();
            tls.handshake(HANDSHAKE).unwrap();
            let start = Instant::now();
            (
                tls.close(Duration::from_millis(400)).unwrap(),
                start.elapsed(),
            )
        });
        let mut conn = ClientConnection::new(
            client(&pki.ca_pem, &TLS13, Resumption::disabled()),
            localhost(),
        )
        .unwrap();
        let mut c = c;
        while conn.is_handshaking() {
            conn.complete_io(&mut c).unwrap();
        }
        if hang_up {
            c.shutdown(std::net::Shutdown::Write).unwrap();
            let (closed, _) = server.join().unwrap();
            assert_eq!(closed, Closed::NoCloseNotify);
        } else {
            let (closed, took) = server.join().unwrap();
            assert_eq!(closed, Closed::Timeout);
            assert!(
                took >= Duration::from_millis(400) && took < Duration::from_secs(30),
                "{took:?}"
            );
        }
    }
}

#[test]
fn inetd_pipes_carry_tls() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, _dir) = tls_server(&pki.ec);
    let (to_server_r, to_server_w) = nix::unistd::pipe().unwrap();
    let (to_client_r, to_client_w) = nix::unistd::pipe().unwrap();
    let server_io = FdPair {
        input: std::fs::File::from(to_server_r),
        output: std::fs::File::from(to_client_w),
    };
    let mut client_io = FdPair {
        input: std::fs::File::from(to_client_r),
        output: std::fs::File::from(to_server_w),
    };
    assert_ne!(
        std::os::fd::AsRawFd::as_raw_fd(&server_io.read_fd()),
        std::os::fd::AsRawFd::as_raw_fd(&server_io.write_fd())
    );
    let config = tls.for_session().unwrap();
    let server = std::thread::spawn(move || {
        let mut tls = TlsStream::new(config, server_io).unwrap();
        tls.handshake(HANDSHAKE).unwrap();
        let mut line = String::new();
        io::BufReader::new(&mut tls).read_line(&mut line).unwrap();
        tls.write_all(format!("echo {line}").as_bytes()).unwrap();
        tls.close(CLOSE).unwrap()
    });
    let mut conn = ClientConnection::new(
        client(&pki.ca_pem, &TLS12, Resumption::disabled()),
        localhost(),
    )
    .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut client_io);
    tls.write_all(b"STAT\r\n").unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"echo STAT\r\n");
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    assert_eq!(server.join().unwrap(), Closed::Clean);
}

#[test]
fn a_reloaded_certificate_is_presented_by_the_next_handshake() {
    let Some(pki) = Pki::shared() else { return };
    let (tls, dir) = tls_server(&pki.ec);
    let session = tls.for_session().unwrap();
    let client = client(&pki.ca_pem, &TLS13, Resumption::disabled());
    assert_eq!(connect(&session, &client).leaf, pki.ec.cert_der);
    std::fs::write(dir.0.join("cert.pem"), &pki.rsa2048.chain_pem).unwrap();
    std::fs::write(dir.0.join("key.pem"), &pki.rsa2048.key_legacy_pem).unwrap();
    tls.store().reload().unwrap();
    // Also for a session configured before the reload.
    assert_eq!(connect(&session, &client).leaf, pki.rsa2048.cert_der);
}

#[test]
fn a_handshake_fits_in_a_control_thread_stack() {
    // Each certificate kind's full handshake on a thread with the stack control threads get
    // (the handshake runs there after AUTH). A too small stack aborts the test process.
    let Some(pki) = Pki::shared() else { return };
    let stack = crate::listener::CONTROL_STACK;
    let mut leaves = vec![
        (&pki.ec, pki.ca_pem.clone()),
        (&pki.rsa2048, pki.ca_pem.clone()),
    ];
    if let (Some(leaf), Some(ca)) = (testpki::rsa4096(), testpki::rsa4096_ca_pem()) {
        leaves.push((leaf, ca));
    }
    for (leaf, ca) in leaves {
        let (tls, _dir) = tls_server(leaf);
        for version in [&TLS13, &TLS12] {
            let seen = connect_with_stack(
                tls.for_session().unwrap(),
                client(&ca, version, Resumption::disabled()),
                stack,
            );
            assert_eq!(seen.leaf, leaf.cert_der);
        }
    }
}

/// Measurement, not a check: `FERROFTPD_TLS_STACK=<bytes> FERROFTPD_TLS_KEY=ec|rsa2048|rsa4096
/// cargo test --release --lib stack_probe -- --ignored` runs one TLS 1.3 and one TLS 1.2
/// handshake with the server on a thread of that stack; it passes, or the process dies of a
/// stack overflow.
#[test]
#[ignore]
fn stack_probe() {
    let Some(pki) = Pki::shared() else { return };
    let stack: usize = std::env::var("FERROFTPD_TLS_STACK")
        .unwrap()
        .parse()
        .unwrap();
    let key = std::env::var("FERROFTPD_TLS_KEY").unwrap_or_else(|_| "ec".into());
    let (leaf, ca) = match key.as_str() {
        "ec" => (&pki.ec, pki.ca_pem.clone()),
        "rsa2048" => (&pki.rsa2048, pki.ca_pem.clone()),
        "rsa4096" => (
            testpki::rsa4096().unwrap(),
            testpki::rsa4096_ca_pem().unwrap(),
        ),
        other => panic!("unknown key {other}"),
    };
    let (tls, _dir) = tls_server(leaf);
    for version in [&TLS13, &TLS12] {
        connect_with_stack(
            tls.for_session().unwrap(),
            client(&ca, version, Resumption::disabled()),
            stack,
        );
    }
    eprintln!("stack_probe: {key} handshakes passed with {stack} bytes of stack");
}

/// Measurement, not a check: the resident memory of `FERROFTPD_TLS_IDLE` (default 200) idle
/// TLS sessions (server side; the clients are gone), printed per session.
#[test]
#[ignore]
fn idle_session_memory_probe() {
    let Some(pki) = Pki::shared() else { return };
    let n: usize = std::env::var("FERROFTPD_TLS_IDLE").map_or(200, |v| v.parse().unwrap());
    let (tls, _dir) = tls_server(&pki.ec);
    let client_config = client(&pki.ca_pem, &TLS13, Resumption::disabled());
    let rss = || -> i64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .to_string();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<i64>()
            .unwrap()
            * 1024
    };
    // Warm up allocator arenas and lazies with a few sessions that are dropped.
    let mut sessions = Vec::new();
    let mut keep = Vec::new();
    for round in 0..2 {
        let before = rss();
        let count = if round == 0 { 20 } else { n };
        for _ in 0..count {
            let (s, mut c) = UnixStream::pair().unwrap();
            let config = tls.for_session().unwrap();
            let server = std::thread::spawn(move || {
                let mut tls = TlsStream::new(config, s).unwrap();
                tls.handshake(HANDSHAKE).unwrap();
                tls.write_all(b"230 Logged in.\r\n").unwrap();
                tls
            });
            let mut conn = ClientConnection::new(Arc::clone(&client_config), localhost()).unwrap();
            let mut line = [0u8; 16];
            rustls::Stream::new(&mut conn, &mut c)
                .read_exact(&mut line)
                .unwrap();
            sessions.push(server.join().unwrap());
            keep.push(c);
        }
        if round == 0 {
            sessions.clear();
            keep.clear();
        } else {
            let per = (rss() - before) / n as i64;
            eprintln!("idle_session_memory_probe: {n} idle TLS sessions, {per} bytes RSS each");
        }
    }
}

/// Measurement, not a check: full handshakes (P-256, TLS 1.3) per second, server and client in
/// this thread over a socketpair; `FERROFTPD_TLS_HANDSHAKES` of them (default 300).
#[test]
#[ignore]
fn handshake_rate_probe() {
    let Some(pki) = Pki::shared() else { return };
    let n: u32 = std::env::var("FERROFTPD_TLS_HANDSHAKES").map_or(300, |v| v.parse().unwrap());
    let (tls, _dir) = tls_server(&pki.ec);
    let client_config = client(&pki.ca_pem, &TLS13, Resumption::disabled());
    let start = Instant::now();
    for _ in 0..n {
        let mut server = ServerConnection::new(tls.for_session().unwrap()).unwrap();
        let mut client = ClientConnection::new(Arc::clone(&client_config), localhost()).unwrap();
        while server.is_handshaking() || client.is_handshaking() {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut &buf[..]).unwrap();
            server.process_new_packets().unwrap();
            buf.clear();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut &buf[..]).unwrap();
            client.process_new_packets().unwrap();
        }
    }
    let rate = f64::from(n) / start.elapsed().as_secs_f64();
    eprintln!("handshake_rate_probe: {rate:.0} full handshakes/s (both sides, one thread)");
}
