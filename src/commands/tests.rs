//! Handlers driven without a network: a [`Control`] over one end of a Unix socket pair, the
//! test reading the reply bytes from the other end. The gates and the handlers run exactly as
//! the connection loop runs them (`command::parse` -> `execute` -> `FtpError::to_reply`).

use super::execute;
use crate::auth::{Authenticator, UserDb};
use crate::ban::Bans;
use crate::command;
use crate::config::Config;
use crate::context::{ServerContext, Settings};
use crate::control::Control;
use crate::data_pool::DataPool;
use crate::error::FtpError;
use crate::session::Session;
use crate::test_support::TempDir;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

/// `openssl passwd -6 -salt Zk3pQ9rTxY2bW7mN 'correct horse'` (the fixture of auth.rs).
const HASH: &str = "$6$Zk3pQ9rTxY2bW7mN$PLFlBDb8JSdHq38HJ.uk11e1UknW2dod..Fik/TsPnzBjBsQoXsuGMYn0H1Y895Aa0psNwtk4aUlkIcEjx1XO0";
const PASSWORD: &str = "correct horse";

/// One session: the handle, the client's end of the connection, and the users' home.
struct Harness {
    ctl: Control,
    client: UnixStream,
    home: TempDir,
}

impl Harness {
    /// A session with `alice` (read-write) and `bob` (read-only), both at home in one
    /// temporary directory; a failed login closes the connection at the second failure.
    fn new(name: &str) -> Harness {
        let home = TempDir::new(name);
        let users = format!(
            "alice:{HASH}:{dir}:rw\nbob:{HASH}:{dir}:ro\n",
            dir = home.0.display()
        );
        let users = UserDb::parse(&users, "users").expect("users parse");
        let config = Config {
            login_fail_delay: Duration::ZERO,
            max_login_failures: 2,
            ..Config::default()
        };
        let settings = Settings {
            auth: Authenticator::new(Some(users), None),
            config,
            anon_jail: None,
            system_users: None,
            xferlog: None,
            banner_lines: None,
            chroot_root: None,
        };
        let pool = DataPool::start(1).expect("pool");
        let bans = Bans::new(0, Duration::from_secs(1), Duration::from_secs(1));
        let ctx = Arc::new(ServerContext::new(settings, pool, bans).expect("context"));
        let (server, client) = UnixStream::pair().expect("socketpair");
        client.set_nonblocking(true).expect("nonblocking");
        let input = File::from(OwnedFd::from(server.try_clone().expect("dup")));
        let output = File::from(OwnedFd::from(server));
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let local = SocketAddr::from(([127, 0, 0, 1], 21));
        let settings = ctx.settings();
        let cfg = &settings.config;
        let session = Session::new(peer, local, cfg.umask, cfg.idle_timeout);
        Harness {
            ctl: Control::new(input, output, session, Arc::clone(&ctx), settings),
            client,
            home,
        }
    }

    /// Run one command line as the connection loop does; the bytes the client received.
    fn run(&mut self, line: &str) -> String {
        let reply = command::parse(line.as_bytes())
            .and_then(|cmd| execute(&mut self.ctl, cmd))
            .unwrap_or_else(FtpError::to_reply);
        self.ctl.send(&reply);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // Everything was written before `send` returned: read until the socket is empty.
        loop {
            match self.client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        String::from_utf8(got).expect("replies are UTF-8 here")
    }

    fn login(&mut self, user: &str) {
        assert_eq!(
            self.run(&format!("USER {user}")),
            "331 Please specify the password.\r\n"
        );
        assert_eq!(
            self.run(&format!("PASS {PASSWORD}")),
            "230 Login successful.\r\n"
        );
    }
}

#[test]
fn login_gate_answers_530_until_login() {
    let mut h = Harness::new("gate-login");
    for line in [
        "PWD",
        "CWD /",
        "LIST",
        "RETR f",
        "MKD d",
        "SITE CHMOD 600 f",
    ] {
        assert_eq!(
            h.run(line),
            "530 Please login with USER and PASS.\r\n",
            "{line}"
        );
    }
    // The login set passes the gate.
    assert_eq!(h.run("SYST"), "215 UNIX Type: L8\r\n");
    assert_eq!(h.run("NOOP"), "200 NOOP ok.\r\n");
    h.login("alice");
    assert_eq!(h.run("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn wrong_password_is_530_then_421_and_close() {
    let mut h = Harness::new("gate-fail");
    assert_eq!(h.run("PASS x"), "503 Login with USER first.\r\n");
    h.run("USER alice");
    assert_eq!(h.run("PASS wrong"), "530 Login incorrect.\r\n");
    assert!(!h.ctl.session.quit);
    h.run("USER alice");
    assert_eq!(
        h.run("PASS wrong"),
        "530 Login incorrect.\r\n421 Too many failed logins. Closing control connection.\r\n"
    );
    assert!(h.ctl.session.quit, "the loop ends after this reply");
    assert!(!h.ctl.session.logged_in());
}

#[test]
fn write_gate_refuses_every_write_of_a_read_only_account() {
    let mut h = Harness::new("gate-write");
    std::fs::write(h.home.0.join("f"), b"keep").unwrap();
    std::fs::create_dir(h.home.0.join("d")).unwrap();
    h.login("bob");
    for line in [
        "MKD new",
        "XMKD new",
        "RMD d",
        "DELE f",
        "RNFR f",
        "RNTO g",
        "STOR g",
        "APPE f",
        "STOU",
        "SITE CHMOD 600 f",
        "SITE UMASK 000",
        "MFMT 20200101000000 f",
    ] {
        assert_eq!(h.run(line), "550 Permission denied.\r\n", "{line}");
    }
    // Reading is not writing.
    assert_eq!(h.run("SITE UMASK"), "200 Your current UMASK is 022\r\n");
    assert_eq!(h.run("SIZE f"), "213 4\r\n");
    assert!(!h.home.0.join("new").exists() && h.home.0.join("d").is_dir());
    assert_eq!(std::fs::read(h.home.0.join("f")).unwrap(), b"keep");
}

#[test]
fn cwd_and_pwd_move_inside_the_jail() {
    let mut h = Harness::new("cwd");
    std::fs::create_dir_all(h.home.0.join("a/b")).unwrap();
    h.login("bob");
    assert_eq!(h.run("CWD a/b"), "250 Directory successfully changed.\r\n");
    assert_eq!(h.run("PWD"), "257 \"/a/b\" is the current directory\r\n");
    assert_eq!(h.run("CDUP"), "250 Directory successfully changed.\r\n");
    assert_eq!(h.run("XPWD"), "257 \"/a\" is the current directory\r\n");
    // Never above the root.
    assert_eq!(
        h.run("CWD ../../.."),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(h.run("PWD"), "257 \"/\" is the current directory\r\n");
    assert_eq!(h.run("CWD nosuch"), "550 No such file or directory.\r\n");
    std::fs::write(h.home.0.join("file"), b"x").unwrap();
    assert_eq!(h.run("CWD file"), "550 Not a directory.\r\n");
    assert_eq!(h.run("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn mkd_and_rmd_change_the_disk() {
    let mut h = Harness::new("mkd");
    h.login("alice");
    assert_eq!(h.run("MKD new"), "257 \"/new\" created\r\n");
    assert!(h.home.0.join("new").is_dir());
    assert_eq!(h.run("MKD new"), "550 File exists.\r\n");
    std::fs::write(h.home.0.join("new/f"), b"x").unwrap();
    assert_eq!(h.run("RMD new"), "550 Directory not empty.\r\n");
    std::fs::remove_file(h.home.0.join("new/f")).unwrap();
    assert_eq!(
        h.run("RMD new"),
        "250 Remove directory operation successful.\r\n"
    );
    assert!(!h.home.0.join("new").exists());
    assert_eq!(h.run("RMD new"), "550 No such file or directory.\r\n");
}

#[test]
fn transfer_without_data_connection_is_425() {
    let mut h = Harness::new("no-data");
    std::fs::write(h.home.0.join("f"), b"data").unwrap();
    h.login("alice");
    for line in ["RETR f", "STOR g", "LIST", "NLST", "MLSD"] {
        assert_eq!(h.run(line), "425 Can't open data connection.\r\n", "{line}");
    }
    assert!(!h.home.0.join("g").exists());
}

#[test]
fn checksum_runs_on_the_pool_and_waits_on_the_socket_pair() {
    let mut h = Harness::new("xcrc");
    std::fs::write(h.home.0.join("f"), b"123456789").unwrap();
    h.login("bob");
    // CRC-32 of "123456789" is the standard check value.
    assert_eq!(h.run("XCRC f"), "250 CBF43926\r\n");
    assert_eq!(h.run("XCRC nosuch"), "550 No such file or directory.\r\n");
}
