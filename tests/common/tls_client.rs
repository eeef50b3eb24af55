//! A small blocking FTPS client on rustls for the raw protocol tests: the control connection
//! before and after `AUTH TLS` (or implicit), and TLS data connections that resume the
//! control session or not.

use super::{IO_TIMEOUT, MAX_LINE};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

/// A client configuration trusting the CA in `ca_pem`, with its own session cache.
pub fn client_config(ca_pem: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// The control connection: plaintext until [`TlsFtp::auth`], TLS after.
pub struct TlsFtp {
    plain: Option<BufReader<TcpStream>>,
    tls: Option<BufReader<Tls>>,
    /// The configuration of the control connection: its session cache resumes on data
    /// connections made with it.
    pub config: Arc<ClientConfig>,
    pub addr: SocketAddr,
}

/// Open a TLS client connection on `sock` (handshake on first use).
pub fn wrap(config: &Arc<ClientConfig>, sock: TcpStream) -> Tls {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::clone(config), name).unwrap();
    StreamOwned::new(conn, sock)
}

impl TlsFtp {
    /// Connect in plaintext and read the 220.
    pub fn connect(addr: SocketAddr, ca: &Path) -> TlsFtp {
        TlsFtp::from_stream(TcpStream::connect(addr).unwrap(), ca, false)
    }

    /// A client on a connected socket (inetd tests): plaintext, or TLS first (`implicit`).
    pub fn from_stream(sock: TcpStream, ca: &Path, implicit: bool) -> TlsFtp {
        let addr = sock.peer_addr().unwrap();
        if implicit {
            return TlsFtp::implicit_on(sock, addr, ca);
        }
        sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut c = TlsFtp {
            plain: Some(BufReader::new(sock)),
            tls: None,
            config: client_config(ca),
            addr,
        };
        c.reply_code(220);
        c
    }

    /// Connect to the implicit FTPS port: TLS first, then the 220.
    pub fn connect_implicit(addr: SocketAddr, ca: &Path) -> TlsFtp {
        TlsFtp::implicit_on(TcpStream::connect(addr).unwrap(), addr, ca)
    }

    fn implicit_on(sock: TcpStream, addr: SocketAddr, ca: &Path) -> TlsFtp {
        sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let config = client_config(ca);
        let mut c = TlsFtp {
            plain: None,
            tls: Some(BufReader::new(wrap(&config, sock))),
            config,
            addr,
        };
        c.reply_code(220);
        c
    }

    /// `AUTH TLS` (234), then the handshake.
    pub fn auth(&mut self) {
        self.expect("AUTH TLS", 234);
        self.start_tls();
    }

    /// Shake hands on the plaintext socket (after a 234).
    pub fn start_tls(&mut self) {
        let reader = self.plain.take().expect("plaintext connection");
        assert!(reader.buffer().is_empty(), "bytes after the 234");
        let mut tls = wrap(&self.config, reader.into_inner());
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).expect("handshake");
        }
        self.tls = Some(BufReader::new(tls));
    }

    /// The socket under the control connection.
    pub fn socket(&self) -> &TcpStream {
        match (&self.plain, &self.tls) {
            (Some(p), _) => p.get_ref(),
            (_, Some(t)) => &t.get_ref().sock,
            _ => unreachable!(),
        }
    }

    /// The server's certificate (leaf, DER) once under TLS.
    pub fn peer_leaf(&self) -> Vec<u8> {
        let tls = self.tls.as_ref().expect("under TLS");
        tls.get_ref().conn.peer_certificates().unwrap()[0].to_vec()
    }

    /// Write raw bytes on the control connection.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        match (&mut self.plain, &mut self.tls) {
            (Some(p), _) => p.get_mut().write_all(bytes).unwrap(),
            (_, Some(t)) => {
                t.get_mut().write_all(bytes).unwrap();
                t.get_mut().flush().unwrap();
            }
            _ => unreachable!(),
        }
    }

    /// Send a command line.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// One reply (multi-line joined); `Err` when the connection ended or failed.
    pub fn try_reply(&mut self) -> io::Result<(u16, String)> {
        let mut text = Vec::new();
        let mut code = None;
        for _ in 0..10_000 {
            let mut line = Vec::new();
            let n = match (&mut self.plain, &mut self.tls) {
                (Some(p), _) => p.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?,
                (_, Some(t)) => t.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?,
                _ => unreachable!(),
            };
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let s = String::from_utf8_lossy(&line).trim_end().to_string();
            let c: u16 = s.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            let first = code.is_none();
            if first {
                code = Some(c);
            }
            text.push(s.clone());
            if c == code.unwrap() && s.as_bytes().get(3) != Some(&b'-') && (first || c != 0) {
                return Ok((c, text.join("\n")));
            }
        }
        panic!("runaway reply")
    }

    /// One reply; panics if the connection ended.
    pub fn reply(&mut self) -> (u16, String) {
        self.try_reply().expect("a reply")
    }

    /// One reply, which must have `code`.
    pub fn reply_code(&mut self, code: u16) -> String {
        let (c, text) = self.reply();
        assert_eq!(c, code, "{text}");
        text
    }

    /// Send `line`; the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(line);
        self.reply()
    }

    /// Send `line`; its reply must have `code`.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        self.send(line);
        let (c, text) = self.reply();
        assert_eq!(c, code, "{line}: {text}");
        text
    }

    /// `EPSV` and connect to the port it names.
    pub fn data_socket(&mut self) -> TcpStream {
        let text = self.expect("EPSV", 229);
        let port: u16 = text
            .split("|||")
            .nth(1)
            .and_then(|r| r.split('|').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("EPSV reply: {text}"));
        let s = TcpStream::connect((self.addr.ip(), port)).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }

    /// A TLS data connection; with `resume` it uses the control connection's session cache
    /// (as FileZilla and lftp do), without it a fresh one (as stock Python ftplib).
    pub fn tls_data(&self, sock: TcpStream, resume: bool) -> Tls {
        let config = if resume {
            Arc::clone(&self.config)
        } else {
            // A clone shares the session store: give it an empty one.
            let mut fresh = (*self.config).clone();
            fresh.resumption = rustls::client::Resumption::in_memory_sessions(8);
            Arc::new(fresh)
        };
        wrap(&config, sock)
    }

    /// Download `cmd` (RETR, LIST...) over a PROT P data connection; the bytes and the final
    /// reply.
    pub fn download(&mut self, cmd: &str, resume: bool) -> (Vec<u8>, (u16, String)) {
        let sock = self.data_socket();
        self.send(cmd);
        let (c, text) = self.reply();
        assert_eq!(c, 150, "{cmd}: {text}");
        let mut data = Vec::new();
        let mut tls = self.tls_data(sock, resume);
        let _ = tls.read_to_end(&mut data);
        tls.conn.send_close_notify();
        let _ = tls.flush();
        drop(tls);
        (data, self.reply())
    }

    /// Upload `body` with `cmd` (STOR...) over PROT P; `close_notify` false ends it with a bare
    /// FIN. The final reply.
    pub fn upload(&mut self, cmd: &str, body: &[u8], close_notify: bool) -> (u16, String) {
        let sock = self.data_socket();
        self.send(cmd);
        let (c, text) = self.reply();
        assert_eq!(c, 150, "{cmd}: {text}");
        let mut tls = self.tls_data(sock, true);
        tls.write_all(body).unwrap();
        tls.flush().unwrap();
        if close_notify {
            tls.conn.send_close_notify();
            tls.flush().unwrap();
            // The server's close_notify, then its FIN.
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest);
        } else {
            let _ = tls.sock.shutdown(std::net::Shutdown::Both);
        }
        drop(tls);
        self.reply()
    }
}
