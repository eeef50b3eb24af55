//! Protocol conformance: every command of the contract with its exact reply code, the wire
//! syntax of replies (RFC 959 §4.2), commands out of order, and hostile bytes on the control
//! connection (garbage, non-UTF-8, over-long lines, Telnet IAC, bare LF).

mod common;

use common::*;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

// ----- greeting, login ---------------------------------------------------------------------

#[test]
fn greeting_is_220() {
    let srv = Server::start();
    let c = srv.connect();
    assert_eq!(c.greeting.code, 220);
    assert!(c.greeting.raw.ends_with(b"\r\n"));
}

#[test]
fn banner_option_makes_a_multiline_220() {
    let srv = Server::builder()
        .opt("banner", "Hello there\\nSecond line")
        .start();
    let c = srv.connect();
    let text = c.greeting.text();
    assert!(
        c.greeting.is_multiline(),
        "expected multi-line 220, got {text:?}"
    );
    assert!(c.greeting.lines[0].starts_with(b"220-"), "{text:?}");
    assert!(text.contains("Hello there"), "{text:?}");
    assert!(text.contains("Second line"), "{text:?}");
}

#[test]
fn user_is_331_for_every_name_with_the_same_text() {
    let srv = Server::start_with_users();
    let mut texts = Vec::new();
    for name in ["alice", "nosuchuser", "anonymous", "root", "bob"] {
        let mut c = srv.connect();
        let (code, text) = c.cmd(&format!("USER {name}"));
        assert_eq!(code, 331, "USER {name}: {text}");
        texts.push((name, text));
    }
    // The reply must not reveal whether a real account exists.
    let (_, alice) = &texts[0];
    let (_, unknown) = &texts[1];
    assert_eq!(
        alice.replace("alice", "X"),
        unknown.replace("nosuchuser", "X"),
        "USER text differs between a real and an unknown account"
    );
}

#[test]
fn pass_good_is_230_bad_is_530_with_one_text() {
    let srv = Server::start_with_users();
    let mut c = srv.connect();
    c.expect("USER alice", 331);
    c.expect(&format!("PASS {}", ALICE.password), 230);

    let mut c = srv.connect();
    c.expect("USER alice", 331);
    let wrong = c.expect("PASS not-the-password", 530);

    let mut c = srv.connect();
    c.expect("USER nosuchuser", 331);
    let unknown = c.expect("PASS whatever", 530);
    assert_eq!(
        wrong, unknown,
        "530 text differs between unknown user and wrong password"
    );

    // The session is usable after a failure: a correct login on the same connection works.
    c.expect("USER bob", 331);
    c.expect(&format!("PASS {}", BOB.password), 230);
    c.expect("NOOP", 200);
}

#[test]
fn anonymous_login_works() {
    let srv = Server::start();
    let mut c = srv.connect();
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@example.com", 230);
    c.expect("PWD", 257);
}

#[test]
fn pass_without_user_is_not_a_login() {
    let srv = Server::start_with_users();
    let mut c = srv.connect();
    let (code, text) = c.cmd(&format!("PASS {}", ALICE.password));
    assert!((500..600).contains(&code), "PASS without USER: {text}");
    c.expect("PWD", 530);
}

#[test]
fn commands_before_login_are_530() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("f.txt"), b"x").unwrap();
    let mut c = srv.connect();
    for cmd in [
        "PWD",
        "XPWD",
        "CWD /",
        "XCWD /",
        "CDUP",
        "XCUP",
        "LIST",
        "NLST",
        "RETR f.txt",
        "STOR g.txt",
        "APPE g.txt",
        "STOU",
        "DELE f.txt",
        "MKD d",
        "XMKD d",
        "RMD d",
        "XRMD d",
        "RNFR f.txt",
        "RNTO g.txt",
        "SIZE f.txt",
        "MDTM f.txt",
        "PASV",
        "EPSV",
        "PORT 127,0,0,1,200,10",
        "EPRT |1|127.0.0.1|51210|",
        "TYPE I",
        "STRU F",
        "MODE S",
        "REST 0",
        "ALLO 10",
        "STAT",
        "STAT f.txt",
        "ABOR",
        "SITE HELP",
        "SMNT /",
    ] {
        let (code, text) = c.cmd(cmd);
        assert_eq!(code, 530, "before login, {cmd:?} must be 530, got: {text}");
    }
    // Still connected and able to log in.
    c.login(ALICE.name, ALICE.password);
}

#[test]
fn commands_allowed_before_login() {
    let srv = Server::start();
    let mut c = srv.connect();
    c.expect("NOOP", 200);
    c.expect("SYST", 215);
    c.expect("FEAT", 211);
    c.expect("HELP", 214);
    for cmd in ["OPTS UTF8 ON", "HOST 127.0.0.1", "ACCT x"] {
        let (code, text) = c.cmd(cmd);
        assert_ne!(code, 530, "{cmd:?} is allowed before login, got: {text}");
    }
    let (code, text) = c.cmd("REIN");
    assert_eq!(code, 220, "REIN before login: {text}");
    c.login("anonymous", "a@b");
    let (code, text) = c.cmd("QUIT");
    assert_eq!(code, 221, "{text}");
}

// ----- informational -----------------------------------------------------------------------

#[test]
fn syst_is_unix_l8() {
    let srv = Server::start();
    let mut c = srv.connect();
    let text = c.expect("SYST", 215);
    assert_eq!(text, "215 UNIX Type: L8");
}

#[test]
fn feat_lines_start_with_space_and_end_211_end() {
    let srv = Server::start();
    let mut c = srv.connect();
    c.send("FEAT");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 211, "{}", r.text());
    assert!(r.lines.len() >= 3, "FEAT lists features: {}", r.text());
    assert!(r.lines[0].starts_with(b"211-"), "{}", r.text());
    assert_eq!(r.lines.last().unwrap(), b"211 End", "{}", r.text());
    for l in &r.lines[1..r.lines.len() - 1] {
        assert!(
            l.starts_with(b" "),
            "feature line must start with a space: {:?}",
            lossy(l)
        );
    }
    let feats = r.text();
    for f in ["SIZE", "MDTM", "REST STREAM", "EPSV"] {
        assert!(feats.contains(f), "FEAT should list {f}: {feats}");
    }
}

#[test]
fn help_noop_allo_smnt_site_unknown() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.send("HELP");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 214, "{}", r.text());
    assert!(r.is_multiline(), "HELP is multi-line: {}", r.text());
    c.expect("HELP USER", 214);
    c.expect("NOOP", 200);
    c.expect("ALLO 1000", 202);
    c.expect("SMNT /", 502);
    c.expect("SITE HELP", 214);
    c.expect("FOOBAR", 500);
    c.expect("XYZZY arg", 500);
    c.expect("NOOP", 200);
}

#[test]
fn stat_idle_is_211_multiline() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.send("STAT");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 211, "{}", r.text());
    assert!(r.is_multiline(), "{}", r.text());
    assert!(r.lines[0].starts_with(b"211-"));
}

#[test]
fn stat_path_lists_on_the_control_connection() {
    let srv = Server::start();
    fs::create_dir(srv.root().join("dir")).unwrap();
    fs::write(srv.root().join("dir/inner.txt"), b"12345").unwrap();
    fs::write(srv.root().join("file.txt"), b"abc").unwrap();
    let mut c = srv.anon();
    c.send("STAT dir");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 212, "STAT dir: {}", r.text());
    assert!(r.text().contains("inner.txt"), "{}", r.text());
    c.send("STAT file.txt");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 213, "STAT file: {}", r.text());
    assert!(r.text().contains("file.txt"), "{}", r.text());
    assert!(r.text().contains("-rw"), "an ls -l line: {}", r.text());
    let (code, text) = c.cmd("STAT nosuch");
    assert!(code == 450 || code == 550, "STAT missing: {text}");
    c.expect("NOOP", 200);
}

#[test]
fn size_and_mdtm() {
    let srv = Server::start();
    let p = srv.root().join("f.bin");
    fs::write(&p, vec![7u8; 12345]).unwrap();
    let f = fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_234_567_890))
        .unwrap();
    drop(f);
    let mut c = srv.anon();
    assert_eq!(c.expect("SIZE f.bin", 213), "213 12345");
    assert_eq!(c.expect("MDTM f.bin", 213), "213 20090213233130");
    c.expect("SIZE nosuch", 550);
    c.expect("MDTM nosuch", 550);
}

// ----- navigation --------------------------------------------------------------------------

fn pwd(c: &mut FtpClient, cmd: &str) -> Vec<u8> {
    let r = c.cmd_raw(cmd.as_bytes());
    assert_eq!(r.code, 257, "{cmd}: {}", r.text());
    assert!(
        r.lines[0].starts_with(b"257 \""),
        "{cmd}: path must be quoted: {}",
        r.text()
    );
    parse_257(&r.lines[0]).unwrap_or_else(|| panic!("unterminated quote: {}", r.text()))
}

#[test]
fn pwd_cwd_cdup_and_aliases() {
    let srv = Server::start();
    fs::create_dir_all(srv.root().join("a/b")).unwrap();
    fs::write(srv.root().join("file"), b"x").unwrap();
    let mut c = srv.anon();
    assert_eq!(pwd(&mut c, "PWD"), b"/");
    c.expect("CWD a", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/a");
    c.expect("XCWD b", 250);
    assert_eq!(pwd(&mut c, "XPWD"), b"/a/b");
    c.expect("CDUP", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/a");
    c.expect("XCUP", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/");
    c.expect("CDUP", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/", "CDUP at the root stays at /");
    c.expect("CWD /a/b", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/a/b");
    c.expect("CWD ../..", 250);
    assert_eq!(pwd(&mut c, "PWD"), b"/");
    c.expect("CWD nosuch", 550);
    c.expect("CWD file", 550);
    assert_eq!(pwd(&mut c, "PWD"), b"/", "a failed CWD leaves the cwd");
}

#[test]
fn pwd_doubles_quotes_in_names() {
    let srv = Server::start();
    fs::create_dir(srv.root().join("say \"hi\"")).unwrap();
    let mut c = srv.anon();
    c.expect("CWD say \"hi\"", 250);
    let r = c.cmd_raw(b"PWD");
    assert_eq!(r.code, 257);
    assert!(
        r.lines[0].starts_with(b"257 \"/say \"\"hi\"\"\""),
        "embedded quotes must be doubled: {}",
        r.text()
    );
}

// ----- file management ---------------------------------------------------------------------

#[test]
fn mkd_rmd_dele_rename_as_rw_user() {
    let srv = Server::start_with_users();
    let root = srv.root();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("old.txt"), b"content").unwrap();
    let mut c = srv.login(ALICE);

    let r = c.cmd_raw(b"MKD newdir");
    assert_eq!(r.code, 257, "{}", r.text());
    assert_eq!(parse_257(&r.lines[0]).unwrap(), b"/newdir");
    assert!(root.join("newdir").is_dir());
    c.expect("CWD sub", 250);
    let r = c.cmd_raw(b"XMKD inner");
    assert_eq!(r.code, 257, "{}", r.text());
    assert_eq!(
        parse_257(&r.lines[0]).unwrap(),
        b"/sub/inner",
        "quoted absolute path"
    );
    assert!(root.join("sub/inner").is_dir());
    let r = c.cmd_raw(b"MKD q\"uote");
    assert_eq!(r.code, 257, "{}", r.text());
    assert!(
        r.lines[0].starts_with(b"257 \"/sub/q\"\"uote\""),
        "{}",
        r.text()
    );
    assert!(root.join("sub/q\"uote").is_dir());
    c.expect("MKD inner", 550);
    c.expect("XRMD inner", 250);
    assert!(!root.join("sub/inner").exists());
    c.expect("CWD /", 250);
    c.expect("RMD newdir", 250);
    assert!(!root.join("newdir").exists());
    c.expect("RMD nosuch", 550);

    c.expect("RNFR old.txt", 350);
    c.expect("RNTO sub/new.txt", 250);
    assert!(!root.join("old.txt").exists());
    assert_eq!(fs::read(root.join("sub/new.txt")).unwrap(), b"content");
    c.expect("RNFR nosuch", 550);

    c.expect("DELE sub/new.txt", 250);
    assert!(!root.join("sub/new.txt").exists());
    c.expect("DELE sub/new.txt", 550);
    c.expect("DELE sub", 550);
    assert!(
        root.join("sub").is_dir(),
        "DELE must not remove a directory"
    );
}

#[test]
fn rnto_without_rnfr_is_503() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("a"), b"a").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("RNTO b", 503);
    assert!(srv.root().join("a").exists());
    assert!(!srv.root().join("b").exists());
    // A completed rename does not leave RNFR state behind.
    c.expect("RNFR a", 350);
    c.expect("RNTO b", 250);
    c.expect("RNTO c", 503);
    assert!(srv.root().join("b").exists());
}

#[test]
fn anonymous_and_ro_cannot_write() {
    let srv = Server::start_with_users();
    let root = srv.root();
    fs::create_dir(root.join("dir")).unwrap();
    fs::write(root.join("file"), b"keep").unwrap();
    let before = snapshot(&root);
    let anon = srv.anon();
    let bob = srv.login(BOB);
    for (who, mut c) in [("anonymous", anon), ("bob (ro)", bob)] {
        for cmd in ["STOR new", "APPE file", "STOU"] {
            let _data = c.pasv();
            let (code, text) = c.cmd(cmd);
            assert_eq!(code, 550, "{who}: {cmd:?} must be 550, got: {text}");
        }
        for cmd in [
            "DELE file",
            "MKD newdir",
            "XMKD newdir",
            "RMD dir",
            "XRMD dir",
            "RNFR file",
            // Issue 11: one write gate before any handler, so RNTO is refused as a write
            // too (it answered 503 "RNFR required first." before).
            "RNTO other",
            "SITE CHMOD 600 file",
            "SITE UMASK 000",
            "MFMT 20200101000000 file",
        ] {
            let (code, text) = c.cmd(cmd);
            assert_eq!(code, 550, "{who}: {cmd:?} must be 550, got: {text}");
        }
        c.expect("NOOP", 200);
    }
    assert_eq!(
        before,
        snapshot(&root),
        "read-only sessions changed the tree"
    );
}

// ----- transfer parameters -----------------------------------------------------------------

#[test]
fn type_stru_mode() {
    let srv = Server::start();
    let mut c = srv.anon();
    for t in [
        "TYPE A", "TYPE A N", "TYPE I", "TYPE L 8", "type i", "TYPE a", "TYPE E", "TYPE A T",
    ] {
        c.expect(t, 200);
    }
    c.expect("TYPE L 16", 504);
    for t in ["TYPE Q", "TYPE", "TYPE 8", "TYPE L 99x", "TYPE L"] {
        c.expect(t, 501);
    }
    // Every combination of RFC 959 is accepted (tests/rfc959_modes.rs); page structure not.
    c.expect("STRU F", 200);
    c.expect("STRU R", 200);
    c.expect("STRU P", 504);
    c.expect("MODE S", 200);
    c.expect("MODE B", 200);
    c.expect("MODE C", 200);
}

#[test]
fn port_malformed_is_501() {
    let srv = Server::start();
    let mut c = srv.anon();
    for arg in [
        "",
        "1,2,3",
        "a,b,c,d,e,f",
        "127,0,0,1,300,1",
        "127,0,0,1,4,1,9",
        "256,0,0,1,4,1",
        "127,0,0,1,-1,5",
        "127.0.0.1:5000",
    ] {
        let (code, text) = c.cmd(format!("PORT {arg}").trim_end());
        assert_eq!(code, 501, "PORT {arg:?}: expected 501, got {text}");
    }
    c.expect("NOOP", 200);
}

#[test]
fn port_to_another_host_or_privileged_port_is_500() {
    // SECURITY: bounce attacks (RFC 2577). 127.0.0.2 is another address than our control peer
    // 127.0.0.1, and stays on the loopback.
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("PORT 127,0,0,2,200,10", 500);
    c.expect("PORT 127,0,0,1,0,21", 500);
    c.expect("PORT 127,0,0,1,3,255", 500); // 1023
    c.expect("EPRT |1|127.0.0.2|51210|", 500);
    c.expect("EPRT |1|127.0.0.1|21|", 500);
    // A refused PORT leaves no data setup behind.
    fs::write(srv.root().join("f"), b"x").unwrap();
    c.expect("RETR f", 425);
    // Allowed: our own address, an unprivileged port.
    c.expect("PORT 127,0,0,1,4,0", 200); // 1024
}

#[test]
fn allow_fxp_permits_port_to_another_address() {
    let srv = Server::builder().opt("allow_fxp", "true").start();
    let mut c = srv.anon();
    c.expect("PORT 127,0,0,2,200,10", 200);
}

#[test]
fn pasv_and_epsv_reply_formats() {
    let srv = Server::start();
    fs::write(srv.root().join("f"), b"hello").unwrap();
    let mut c = srv.anon();
    let text = c.expect("PASV", 227);
    assert!(
        text.starts_with("227 Entering Passive Mode (") && text.ends_with(")."),
        "{text}"
    );
    let a = parse_227(&text).unwrap();
    assert_eq!(a.ip().to_string(), "127.0.0.1", "{text}");
    assert_ne!(a.port(), 0);
    let text = c.expect("EPSV", 229);
    assert!(
        text.starts_with("229 Entering Extended Passive Mode (|||"),
        "{text}"
    );
    assert!(text.ends_with("|)") || text.ends_with("|)."), "{text}");
    assert!(parse_229(&text).unwrap() > 0);
    for mode in ALL_MODES {
        assert_eq!(c.transfer_in(b"RETR f", mode), b"hello", "{mode:?}");
    }
}

#[test]
fn pasv_ports_and_pasv_address_options() {
    let srv = Server::builder()
        .opt("pasv_ports", "47100-47199")
        .opt("pasv_address", "127.0.0.1")
        .start();
    let mut c = srv.anon();
    for _ in 0..3 {
        let text = c.expect("PASV", 227);
        let a = parse_227(&text).unwrap();
        assert!((47100..=47199).contains(&a.port()), "{text}");
        assert_eq!(a.ip().to_string(), "127.0.0.1");
        let text = c.expect("EPSV", 229);
        let p = parse_229(&text).unwrap();
        assert!((47100..=47199).contains(&p), "{text}");
    }
    let srv = Server::builder().opt("pasv_address", "127.0.0.3").start();
    let mut c = srv.anon();
    let text = c.expect("PASV", 227);
    assert!(
        text.contains("(127,0,0,3,"),
        "pasv_address not used: {text}"
    );
}

#[test]
fn transfer_without_data_setup_is_425() {
    let srv = Server::start_with_users();
    fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = srv.login(ALICE);
    for cmd in ["RETR f", "LIST", "NLST", "STOR g", "APPE g", "STOU"] {
        let (code, text) = c.cmd(cmd);
        assert_eq!(code, 425, "{cmd:?} without PASV/PORT: {text}");
    }
    assert!(!srv.root().join("g").exists());
    // A data setup is used by one transfer only.
    assert_eq!(c.retr("f"), b"x");
    c.expect("RETR f", 425);
}

#[test]
fn retr_150_names_the_size_and_226_follows_the_close() {
    let srv = Server::start();
    let content = pattern(100_000, 1);
    fs::write(srv.root().join("f.bin"), &content).unwrap();
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (mut data, pre) = c.start_transfer(b"RETR f.bin", DataMode::Pasv);
    assert_eq!(
        parse_150_size(&pre),
        Some(100_000),
        "150 must say (100000 bytes): {pre}"
    );
    assert!(pre.ends_with("bytes)."), "{pre}");
    // Read the final reply before the data: once 226 is here, the data socket must already be
    // closed, so the read reaches EOF without waiting.
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
    data.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let got = read_all(&mut data).expect("226 was sent but the data connection was still open");
    assert_eq!(got, content);
}

#[test]
fn no_226_while_data_is_unread() {
    // 24 MiB cannot sit in loopback socket buffers, so the server cannot have closed the data
    // connection while we read nothing; it must not say 226 yet.
    let srv = Server::start();
    let len = 24 << 20;
    let crc = write_pattern_file(&srv.root().join("big"), len, 2);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    assert!(
        c.nothing_pending(Duration::from_millis(500)),
        "a reply arrived while the data was unread"
    );
    let (got_crc, got_len) = crc_reader(&mut data).unwrap();
    assert_eq!((got_crc, got_len), (crc, len));
    drop(data);
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
}

#[test]
fn retr_missing_directory_fifo_are_550_without_hanging() {
    let srv = Server::start();
    fs::create_dir(srv.root().join("dir")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(srv.root().join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut c = srv.anon();
    for name in ["nosuch", "dir", "fifo"] {
        let _d = c.pasv();
        let t = Instant::now();
        let (code, text) = c.cmd(&format!("RETR {name}"));
        assert_eq!(code, 550, "RETR {name}: {text}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "RETR {name} took {:?}",
            t.elapsed()
        );
    }
    c.expect("NOOP", 200);
}

#[test]
fn rest_replies() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("REST 100", 350);
    c.expect("REST 0", 350);
    c.expect("REST 5000000000", 350); // past 2^32: offsets are u64 (BusyBox history)
    for arg in ["REST abc", "REST -1", "REST", "REST 1x"] {
        c.expect(arg, 501);
    }
}

#[test]
fn abor_idle_is_225() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.expect("ABOR", 225);
    c.expect("NOOP", 200);
}

/// The shape of an `ls -l` line, which clients (wget, lftp, browsers) parse:
/// `perms nlink owner group size Mon DD HH:MM|YYYY name`.
fn assert_ls_l(line: &[u8]) {
    let s = lossy(line);
    let f: Vec<&str> = s.split_whitespace().collect();
    assert!(f.len() >= 9, "ls -l line has too few fields: {s:?}");
    let perms = f[0].as_bytes();
    assert!(
        perms.len() == 10
            && b"-dlpcbs".contains(&perms[0])
            && perms[1..].iter().all(|c| b"rwxsStT-".contains(c)),
        "permissions field: {s:?}"
    );
    assert!(f[1].parse::<u64>().is_ok(), "link count: {s:?}");
    assert!(f[4].parse::<u64>().is_ok(), "size: {s:?}");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert!(months.contains(&f[5]), "month: {s:?}");
    assert!(matches!(f[6].parse::<u8>(), Ok(1..=31)), "day: {s:?}");
    let t = f[7].as_bytes();
    let hhmm = t.len() == 5
        && t[2] == b':'
        && t.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit());
    let year = t.len() == 4 && t.iter().all(u8::is_ascii_digit);
    assert!(hhmm || year, "time or year: {s:?}");
}

#[test]
fn list_is_ls_l_with_crlf_and_nlst_is_bare_names() {
    let srv = Server::start();
    let root = srv.root();
    fs::write(root.join("visible.txt"), b"12345").unwrap();
    fs::set_permissions(root.join("visible.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(root.join(".hidden"), b"h").unwrap();
    fs::create_dir(root.join("subdir")).unwrap();
    fs::write(root.join("subdir/inner"), b"").unwrap();
    std::os::unix::fs::symlink("visible.txt", root.join("link")).unwrap();
    let old = fs::File::create(root.join("old.txt")).unwrap();
    old.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_234_567_890))
        .unwrap();
    drop(old);
    let mut c = srv.anon();

    let raw = c.list("");
    let lines = listing_lines(&raw);
    let names: Vec<Vec<u8>> = lines
        .iter()
        .filter(|l| !l.starts_with(b"total"))
        .map(|l| ls_name(l))
        .collect();
    assert!(names.contains(&b"visible.txt".to_vec()), "{}", lossy(&raw));
    assert!(names.contains(&b"subdir".to_vec()), "{}", lossy(&raw));
    assert!(
        !names.contains(&b".hidden".to_vec()),
        "dot files only with -a: {}",
        lossy(&raw)
    );
    for l in &lines {
        if l.starts_with(b"total") {
            continue;
        }
        assert_ls_l(l);
        let name = ls_name(l);
        let kind = l[0];
        match &name[..] {
            b"visible.txt" => {
                assert_eq!(kind, b'-', "{}", lossy(l));
                assert!(
                    l.starts_with(b"-rw-r--r--"),
                    "mode of a 0644 file: {}",
                    lossy(l)
                );
                assert!(lossy(l).contains(" 5 "), "size 5: {}", lossy(l));
            }
            b"subdir" => assert_eq!(kind, b'd', "{}", lossy(l)),
            b"old.txt" => {
                // Older than six months: the year replaces the time (ls -l).
                let f: Vec<String> = lossy(l).split_whitespace().map(String::from).collect();
                assert_eq!(&f[5..8], ["Feb", "13", "2009"], "{}", lossy(l));
            }
            b"link" => {
                assert_eq!(kind, b'l', "{}", lossy(l));
                assert!(l.ends_with(b"link -> visible.txt"), "{}", lossy(l));
            }
            _ => {}
        }
    }

    let raw = c.list("-a");
    assert!(
        listing_lines(&raw).iter().any(|l| ls_name(l) == b".hidden"),
        "LIST -a shows dot files: {}",
        lossy(&raw)
    );
    let raw = c.list("-la subdir");
    assert!(lossy(&raw).contains("inner"), "{}", lossy(&raw));

    let raw = c.nlst("");
    let mut names = listing_lines(&raw);
    names.sort();
    assert_eq!(
        names,
        vec![
            b"link".to_vec(),
            b"old.txt".to_vec(),
            b"subdir".to_vec(),
            b"visible.txt".to_vec()
        ],
        "NLST = bare names: {}",
        lossy(&raw)
    );
    // A listing of a missing path is a failure, not an empty success.
    let _d = c.pasv();
    let (code, text) = c.cmd("LIST nosuchdir");
    assert!(code == 450 || code == 550, "LIST missing: {text}");
}

#[test]
fn quit_reports_totals_and_closes() {
    let srv = Server::start();
    fs::write(srv.root().join("ten"), b"0123456789").unwrap();
    fs::write(srv.root().join("five"), b"01234").unwrap();
    let mut c = srv.anon();
    assert_eq!(c.retr("ten"), b"0123456789");
    assert_eq!(c.retr("five"), b"01234");
    c.send("QUIT");
    let r = c.read_reply_raw();
    assert_eq!(r.code, 221, "{}", r.text());
    assert!(r.is_multiline(), "QUIT reply is multi-line: {}", r.text());
    assert!(
        r.text()
            .contains("You have transferred 15 bytes in 2 files"),
        "{}",
        r.text()
    );
    c.wait_closed(Duration::from_secs(10))
        .expect("closed after QUIT");
}

#[test]
fn rein_logs_out() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("CWD /", 250);
    c.expect("REIN", 220);
    c.expect("PWD", 530);
    c.expect("LIST", 530);
    c.login(BOB.name, BOB.password);
    c.expect("PWD", 257);
}

// ----- hostile and odd bytes -------------------------------------------------------------

#[test]
fn garbage_bytes_get_500_and_the_session_survives() {
    let srv = Server::start();
    let mut c = srv.anon();
    for junk in [
        &b"\x01\x02\x03\x04"[..],
        b"12345",
        b"\x7f\x7f",
        b"!@#$%^&*()",
    ] {
        let r = c.cmd_raw(junk);
        assert_eq!(r.code, 500, "{:?}: {}", junk, r.text());
    }
    for blank in [&b""[..], b"    "] {
        let r = c.cmd_raw(blank);
        assert!(
            (500..=502).contains(&r.code),
            "blank line {blank:?}: {}",
            r.text()
        );
    }
    c.expect("NOOP", 200);
}

#[test]
fn non_utf8_bytes_in_commands_and_names() {
    let srv = Server::start();
    let name = b"caf\xe9-\xff\xfe";
    fs::create_dir(bpath(&srv.root(), name)).unwrap();
    let mut c = srv.anon();
    let r = c.cmd_raw(b"\xc3\x28\xa0\xa1");
    assert_eq!(r.code, 500, "invalid UTF-8 verb: {}", r.text());
    // 0xFF is IAC on the wire: a client sends it doubled (RFC 959 / RFC 854), and the server
    // doubles it in replies (DESIGN.md, Replies).
    let r = c.cmd_raw(b"CWD caf\xe9-\xff\xff\xfe");
    assert_eq!(r.code, 250, "{}", r.text());
    let r = c.cmd_raw(b"PWD");
    assert_eq!(r.code, 257, "{}", r.text());
    assert!(
        r.lines[0].starts_with(b"257 \"/caf\xe9-\xff\xff\xfe\""),
        "raw name bytes (0xFF doubled) in PWD: {:?}",
        r.raw
    );
    c.expect("NOOP", 200);
}

#[test]
fn telnet_iac_sequences_are_stripped() {
    let srv = Server::start();
    let mut c = srv.anon();
    // IAC IP, IAC DM before a command (what an ABOR sequence looks like), IAC NOP inside.
    let r = c.cmd_raw(b"\xff\xf4\xff\xf2NOOP");
    assert_eq!(r.code, 200, "{}", r.text());
    let r = c.cmd_raw(b"NO\xff\xf1OP");
    assert_eq!(r.code, 200, "IAC NOP inside a verb: {}", r.text());
    let r = c.cmd_raw(b"SYST\xff\xf1");
    assert_eq!(r.code, 215, "{}", r.text());
}

#[test]
fn bare_lf_mixed_case_and_pipelining() {
    let srv = Server::start();
    let mut c = srv.anon();
    c.send_raw(b"NOOP\n");
    assert_eq!(c.read_reply().0, 200, "bare LF ends a line");
    assert_eq!(c.cmd("noop").0, 200);
    assert_eq!(c.cmd("SySt").0, 215);
    c.send_raw(b"NOOP\r\nSYST\r\nPWD\n");
    assert_eq!(c.read_reply().0, 200);
    assert_eq!(c.read_reply().0, 215);
    assert_eq!(c.read_reply().0, 257);
    // A command split over two writes is one command.
    c.send_raw(b"NO");
    c.socket().flush().unwrap();
    c.send_raw(b"OP\r\n");
    assert_eq!(c.read_reply().0, 200);
}

#[test]
fn long_lines() {
    let srv = Server::start();
    let mut c = srv.anon();
    // Comfortably under the limit: an ordinary reply.
    let near = format!("SIZE {}", "a".repeat(3000));
    let (code, text) = c.cmd(&near);
    assert!(
        code == 550 || code == 553,
        "{}",
        &text[..text.len().min(200)]
    );
    c.expect("NOOP", 200);
    // Over 4096 bytes: 500, then the server closes the connection.
    let mut c = srv.anon();
    let long = format!("NOOP {}", "x".repeat(5000));
    c.send(&long);
    let (code, text) = c.read_reply();
    assert_eq!(code, 500, "{}", &text[..text.len().min(200)]);
    c.wait_closed(Duration::from_secs(10))
        .expect("server closes after an over-long line");
    // Without any line end at all: still bounded.
    let mut c = srv.anon();
    c.send_raw(&vec![b'A'; 20_000]);
    let (code, _) = c.read_reply();
    assert_eq!(code, 500);
    c.wait_closed(Duration::from_secs(10))
        .expect("server closes after an over-long line without LF");
    // The server still serves others.
    srv.anon().expect("NOOP", 200);
}

#[test]
fn eprt_active_listing() {
    let srv = Server::start();
    fs::write(srv.root().join("x.txt"), b"x").unwrap();
    let mut c = srv.anon();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    c.expect(&format!("EPRT |1|127.0.0.1|{p}|"), 200);
    let r = c.cmd_raw(b"NLST");
    assert_eq!(r.code, 150, "{}", r.text());
    let mut s = accept_bounded(&l, IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let got = read_all(&mut s).unwrap();
    assert_eq!(got, b"x.txt\r\n");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
    c.expect("EPRT |9|127.0.0.1|5000|", 522);
    c.expect("EPRT garbage", 501);
}

#[test]
fn many_sequential_sessions_and_commands() {
    let srv = Server::start();
    fs::write(srv.root().join("f"), b"abc").unwrap();
    for _ in 0..20 {
        let mut c = srv.anon();
        assert_eq!(c.retr("f"), b"abc");
        assert_eq!(c.quit().0, 221);
    }
    let mut c = srv.anon();
    for _ in 0..500 {
        c.send("NOOP");
    }
    for _ in 0..500 {
        assert_eq!(c.read_reply().0, 200);
    }
}
