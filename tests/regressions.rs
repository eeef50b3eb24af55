//! Regressions: one named test per fixed bug, so a bug that was fixed once stays fixed.
//!
//! Convention (STYLE.md #15): when a bug is fixed, add a test here named after what broke,
//! e.g. `fn retr_of_fifo_does_not_hang_a_worker()`, with a comment citing the commit or issue and
//! the exact exchange that failed (command sent, reply got, reply expected). The test must fail
//! on the commit before the fix. Keep each test small and self-contained: start its own
//! `Server` through `common`, bound every wait, never sleep to synchronise.

mod common;

use common::*;
use std::io::Write;

/// Python's `ftplib.FTP.abort()` sends the whole `ABOR\r\n` with MSG_OOB, so its last byte is
/// the urgent one. Before the control socket kept urgent data inline (SO_OOBINLINE), Linux
/// pulled that `\n` out of the stream: the server saw `ABOR\r`, waited for the line end, and
/// the client timed out with no reply. Expected: 426 for the transfer, then 226.
#[test]
fn abor_sent_wholly_as_urgent_data_is_answered() {
    let srv = Server::start();
    write_pattern_file(&srv.root().join("big"), 48 << 20, 11);
    let mut c = srv.anon();
    c.expect("TYPE I", 200);
    let (data, opening) = c.start_transfer(b"RETR big", DataMode::Pasv);
    assert!(opening.starts_with("150"), "{opening}");
    let sock = socket2::SockRef::from(c.socket());
    sock.send_out_of_band(b"ABOR\r\n").unwrap();
    let (a, _) = c.read_reply();
    let (b, _) = c.read_reply();
    assert_eq!((a, b), (426, 226));
    drop(data);
    c.expect("NOOP", 200);
}

// Fixed bugs whose named tests live beside their feature:
// - an ABORted atomic upload was renamed over the target (the ABOR's own 226 was taken for the
//   upload's): tests/upload_safety.rs
//   `atomic_upload_aborted_keeps_the_old_file_and_a_complete_one_replaces_it`;
// - `upload_rate` was not applied to STOR: tests/limits.rs `upload_rate_limits_stor`.

/// With `pasv_ports` set, every transfer left its port in TIME_WAIT (the server closes the data
/// connection first) and the passive listener was bound without SO_REUSEADDR, so the range ran
/// dry after one pass: `425 Can't open data connection.` until TIME_WAIT expired (found by the
/// benchmark: 2000 sequential transfers through a 1000-port range failed after 693).
#[test]
fn pasv_port_range_is_reusable_right_away() {
    // A one-port range makes the second transfer hit the first one's TIME_WAIT. The port is
    // below Linux's ephemeral range (32768 and up), where no outgoing connection on this
    // machine can take it in the middle of the test.
    let port = (0..2000u16)
        .map(|i| 20000 + (i * 37 + std::process::id() as u16 % 997) % 12000)
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below the ephemeral range");
    let srv = Server::builder()
        .opt("pasv_ports", format!("{port}-{port}"))
        .start();
    std::fs::write(srv.root().join("f"), b"again").unwrap();
    let mut c = srv.anon();
    for _ in 0..5 {
        assert_eq!(c.transfer_in(b"RETR f", DataMode::Pasv), b"again");
    }
}

/// Issue 10, item 1: sessions started in binary, but RFC 959 (§3.1.1, §5.1) makes ASCII
/// Non-print the default at login and again after REIN. `lftp put -a` relies on the default
/// (it sends no `TYPE A`), so its LF text was stored as CR LF. Expected: STAT says ASCII, a
/// RETR with no TYPE sends CR LF, a STOR with no TYPE stores LF, SIZE counts the CRs; after
/// TYPE I and REIN, ASCII again.
#[test]
fn default_type_is_ascii_at_login_and_after_rein() {
    let srv = Server::start_with_users();
    // Small enough for the inline path (passive, client already connected), which is for
    // binary only: the ASCII RETRs below must still arrive converted.
    std::fs::write(srv.root().join("t.txt"), b"one\ntwo\n").unwrap();
    let mut c = srv.login(ALICE);
    let ascii_session = |c: &mut FtpClient, round: &str| {
        let stat = c.expect("STAT", 211);
        assert!(stat.contains("TYPE: ASCII"), "{round}: STAT:\n{stat}");
        assert_eq!(c.expect("SIZE t.txt", 213).trim(), "213 10", "{round}");
        for mode in ALL_MODES {
            assert_eq!(
                c.transfer_in(b"RETR t.txt", mode),
                b"one\r\ntwo\r\n",
                "{round}: {mode:?}"
            );
        }
        c.stor("up.txt", b"a\r\nb\r\n");
        assert_eq!(
            std::fs::read(srv.root().join("up.txt")).unwrap(),
            b"a\nb\n",
            "{round}: STOR with no TYPE"
        );
    };
    ascii_session(&mut c, "at login");
    c.expect("TYPE I", 200);
    assert!(c.expect("STAT", 211).contains("TYPE: BINARY"));
    assert_eq!(c.retr("t.txt"), b"one\ntwo\n");
    c.expect("REIN", 220);
    c.login(ALICE.name, ALICE.password);
    ascii_session(&mut c, "after REIN");
}

/// Issue 10, item 2: `SITE CHMOD 6755 f` (and 7777 on a directory) set setuid, setgid and
/// sticky: an rw user on a server running as root could make a setuid-root program. Expected:
/// 550 for any mode above 0777 with the mode unchanged, 501 for a malformed mode, 200 within
/// 0-0777.
#[test]
fn site_chmod_never_sets_setuid_setgid_or_sticky() {
    use std::os::unix::fs::PermissionsExt;
    let srv = Server::start_with_users();
    let root = srv.root();
    std::fs::write(root.join("f"), b"#!/bin/sh\n").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::set_permissions(root.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(root.join("d"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mode = |name: &str| {
        std::fs::metadata(root.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    let mut c = srv.login(ALICE);
    for special in ["6755", "4755", "2755", "1777", "7777", "1000", "04755"] {
        for name in ["f", "d"] {
            let (code, text) = c.cmd(&format!("SITE CHMOD {special} {name}"));
            assert_eq!(code, 550, "SITE CHMOD {special} {name}: {text}");
        }
    }
    assert_eq!((mode("f"), mode("d")), (0o644, 0o755));
    for bad in ["9 f", "17777 f", "rwx f", "-1 f", "0x755 f", "755"] {
        let (code, text) = c.cmd(&format!("SITE CHMOD {bad}"));
        assert_eq!(code, 501, "SITE CHMOD {bad}: {text}");
    }
    c.expect("SITE CHMOD 0755 f", 200);
    c.expect("SITE CHMOD 777 d", 200);
    c.expect("SITE CHMOD 0 f", 200);
    assert_eq!((mode("f"), mode("d")), (0, 0o777));
}

/// Issue 10, item 7: `STOU sub/name` dropped `sub/` and created `name` in the working
/// directory. Expected: the file in `sub/` (150 `FILE: sub/name`, then `sub/name.1`), 550 for
/// a directory that does not exist, 553 for a hint with no name in it; nothing in the cwd.
#[test]
fn stou_with_a_directory_creates_the_file_there() {
    let srv = Server::start_with_users();
    let root = srv.root();
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let pre = c.transfer_out(b"STOU sub/name", b"first", DataMode::Pasv);
    assert_eq!(pre.trim(), "150 FILE: sub/name");
    let pre = c.transfer_out(b"STOU sub/name", b"second", DataMode::Pasv);
    assert_eq!(pre.trim(), "150 FILE: sub/name.1");
    c.expect("CWD sub", 250);
    let pre = c.transfer_out(b"STOU deeper/../deeper/x", b"third", DataMode::Pasv);
    assert_eq!(pre.trim(), "150 FILE: deeper/../deeper/x");
    let pre = c.transfer_out(b"STOU /sub/deeper/x", b"fourth", DataMode::Pasv);
    assert_eq!(pre.trim(), "150 FILE: /sub/deeper/x.1");
    assert_eq!(std::fs::read(root.join("sub/name")).unwrap(), b"first");
    assert_eq!(std::fs::read(root.join("sub/name.1")).unwrap(), b"second");
    assert_eq!(std::fs::read(root.join("sub/deeper/x")).unwrap(), b"third");
    assert_eq!(
        std::fs::read(root.join("sub/deeper/x.1")).unwrap(),
        b"fourth"
    );
    let before = snapshot(&root);
    for (hint, code) in [
        ("nosuch/name", 550),
        ("deeper/", 553),
        ("deeper/..", 553),
        (".", 553),
    ] {
        let _data = c.pasv();
        let (got, text) = c.cmd(&format!("STOU {hint}"));
        assert_eq!(got, code, "STOU {hint}: {text}");
    }
    assert_eq!(before, snapshot(&root), "a refused STOU created something");
    assert!(!root.join("name").exists() && !root.join("sub/x").exists());
}

/// Issue 10, item 7: a read-only session could change its umask (`SITE UMASK 000` got 200)
/// while every other write command gets 550. Expected: 550 and the mask unchanged; asking
/// for the mask (no argument) stays allowed.
#[test]
fn site_umask_is_refused_for_a_read_only_session() {
    let srv = Server::start_with_users();
    for (who, mut c) in [("anonymous", srv.anon()), ("bob (ro)", srv.login(BOB))] {
        let (code, text) = c.cmd("SITE UMASK 000");
        assert_eq!(code, 550, "{who}: {text}");
        let text = c.expect("SITE UMASK", 200);
        assert!(text.contains("022"), "{who}: {text}");
    }
    let mut alice = srv.login(ALICE);
    alice.expect("SITE UMASK 077", 200);
    assert!(alice.expect("SITE UMASK", 200).contains("077"));
}

/// Issue 10, after item 1: with ASCII the default type, SIZE in a fresh session is the ASCII
/// size, larger than the stored file when it has LF bytes. ftplib's resume idiom then sends
/// `TYPE I`, `REST <that size>`, `STOR`, and the server filled the gap past the end with zero
/// bytes and answered 226: a corrupt file reported as a good upload. Expected (RFC 3659 §5.3,
/// RFC 1123 §4.1.3.4): 554 for STOR after a REST past the end, before any 150, the file
/// unchanged (a missing file not created); RETR likewise; REST at the end still resumes.
#[test]
fn resume_past_end_of_file_is_refused_not_zero_filled() {
    let srv = Server::start_with_users();
    let path = srv.root().join("notes.txt");
    let original = b"line one\nline two\n";
    std::fs::write(&path, original).unwrap();
    let mut c = srv.login(ALICE);
    // The idiom: SIZE before any TYPE counts the CRs the ASCII transfer would add.
    let ascii_size = c.expect("SIZE notes.txt", 213);
    assert_eq!(ascii_size.trim(), "213 20");
    c.expect("TYPE I", 200);
    for (offset, mode) in [
        (20u64, DataMode::Epsv),
        (19, DataMode::Pasv),
        (1 << 32, DataMode::Port),
    ] {
        let _data = c.data(mode);
        c.expect(&format!("REST {offset}"), 350);
        let (code, text) = c.cmd("STOR notes.txt");
        assert_eq!(code, 554, "REST {offset} + STOR: {text}");
        assert!(c.nothing_pending(std::time::Duration::from_millis(200)));
        assert_eq!(std::fs::read(&path).unwrap(), original, "REST {offset}");
        let _data = c.data(mode);
        c.expect(&format!("REST {offset}"), 350);
        let (code, text) = c.cmd("RETR notes.txt");
        assert_eq!(code, 554, "REST {offset} + RETR: {text}");
    }
    // Nothing to resume in a file that is not there: refused, and not created.
    let _data = c.pasv();
    c.expect("REST 1", 350);
    assert_eq!(c.cmd("STOR missing.txt").0, 554);
    assert!(!srv.root().join("missing.txt").exists());
    // The REST was consumed by the refused command: a plain RETR sends the whole file.
    assert_eq!(c.retr("notes.txt"), original);
    // At the end (what SIZE says in TYPE I) and inside, resuming works as before.
    assert_eq!(c.expect("SIZE notes.txt", 213).trim(), "213 18");
    c.expect("REST 18", 350);
    c.transfer_out(b"STOR notes.txt", b"line three\n", DataMode::Epsv);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"line one\nline two\nline three\n"
    );
    c.expect("REST 9", 350);
    c.transfer_out(b"STOR notes.txt", b"LINE TWO\n", DataMode::Pasv);
    assert_eq!(std::fs::read(&path).unwrap(), b"line one\nLINE TWO\n");
    // RETR from the end: nothing left to send, 226.
    c.expect("REST 18", 350);
    assert_eq!(c.transfer_in(b"RETR notes.txt", DataMode::Pasv), b"");
    // APPE after REST acts as STOR (RFC 3659 §5.3): past the end it is refused the same way.
    let _data = c.epsv();
    c.expect("REST 100", 350);
    assert_eq!(c.cmd("APPE notes.txt").0, 554);
    assert_eq!(std::fs::read(&path).unwrap(), b"line one\nLINE TWO\n");
}

/// Issue 10, follow-up: `REST n` + APPE took the restart marker and dropped it, appending at
/// the real end (`REST 2`, `APPE` "XY" on "abcdef" stored "abcdefXY"). RFC 3659 §5.3: an APPE
/// that accepts a restart marker "MUST act identically to STOR", writing from offset n.
/// Expected: every step gives the same bytes as the same step with STOR ("abXY"), including
/// 554 past the end (and for a missing file, not created); REST 0 or no REST appends.
#[test]
fn appe_after_rest_writes_at_the_restart_point_like_stor() {
    let srv = Server::start_with_users();
    let root = srv.root();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    for verb in ["STOR", "APPE"] {
        let name = format!("{verb}.bin");
        let host = root.join(&name);
        std::fs::write(&host, b"abcdef").unwrap();
        let mut resume = |offset: u64, data: &[u8], expected: &[u8]| {
            c.expect(&format!("REST {offset}"), 350);
            c.transfer_out(format!("{verb} {name}").as_bytes(), data, DataMode::Epsv);
            assert_eq!(
                lossy(&std::fs::read(&host).unwrap()),
                lossy(expected),
                "REST {offset} + {verb} {:?}",
                lossy(data)
            );
        };
        resume(2, b"XY", b"abXY");
        resume(4, b"123456", b"abXY123456");
        resume(10, b"", b"abXY123456");
        for offset in [11u64, 1 << 32] {
            let _data = c.pasv();
            c.expect(&format!("REST {offset}"), 350);
            let (code, text) = c.cmd(&format!("{verb} {name}"));
            assert_eq!(code, 554, "REST {offset} + {verb}: {text}");
            assert!(c.nothing_pending(std::time::Duration::from_millis(200)));
        }
        let _data = c.pasv();
        c.expect("REST 1", 350);
        assert_eq!(c.cmd(&format!("{verb} missing")).0, 554, "{verb}");
        assert!(!root.join("missing").exists(), "{verb} created a file");
        assert_eq!(std::fs::read(&host).unwrap(), b"abXY123456", "{verb}");
    }
    // Without a restart marker APPE still appends, and REST 0 means no restart.
    c.transfer_out(b"APPE APPE.bin", b"+", DataMode::Pasv);
    c.expect("REST 0", 350);
    c.transfer_out(b"APPE APPE.bin", b"!", DataMode::Pasv);
    assert_eq!(
        std::fs::read(root.join("APPE.bin")).unwrap(),
        b"abXY123456+!"
    );
}

/// Issue 10, follow-up: `deny_overwrite = yes` promises uploads never change existing content,
/// but `REST n` + STOR with n inside the file wrote from n and cut the file there: `REST 1`
/// and an empty STOR shortened "0123456789" to "0". Expected: a resume (STOR or APPE) that
/// does not start exactly at the end is refused with 550 before any 150, the file untouched;
/// at the end it extends the file; past it 554; plain STOR over the file 550; APPE appends;
/// STOU picks a new name.
#[test]
fn deny_overwrite_refuses_a_resume_inside_the_file() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("deny_overwrite", "yes")
        .start();
    let root = srv.root();
    let host = root.join("keep");
    std::fs::write(&host, b"0123456789").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let before = snapshot(&root);
    for (offset, verb, code) in [
        (1, "STOR", 550),
        (9, "STOR", 550),
        (1, "APPE", 550),
        (5, "APPE", 550),
        (0, "STOR", 550),
        (11, "STOR", 554),
        (11, "APPE", 554),
    ] {
        let _data = c.epsv();
        c.expect(&format!("REST {offset}"), 350);
        let (got, text) = c.cmd(&format!("{verb} keep"));
        assert_eq!(got, code, "REST {offset} + {verb}: {text}");
        assert!(
            c.nothing_pending(std::time::Duration::from_millis(200)),
            "REST {offset} + {verb}: more replies after {got}"
        );
        assert_eq!(
            before,
            snapshot(&root),
            "REST {offset} + {verb} changed the tree"
        );
    }
    // At exactly the end, a resume only adds.
    c.expect("REST 10", 350);
    c.transfer_out(b"STOR keep", b"abc", DataMode::Pasv);
    c.expect("REST 13", 350);
    c.transfer_out(b"APPE keep", b"de", DataMode::Pasv);
    c.transfer_out(b"APPE keep", b"f", DataMode::Pasv);
    assert_eq!(std::fs::read(&host).unwrap(), b"0123456789abcdef");
    let pre = c.transfer_out(b"STOU keep", b"other", DataMode::Pasv);
    assert_eq!(pre.trim(), "150 FILE: keep.1");
    assert_eq!(std::fs::read(root.join("keep.1")).unwrap(), b"other");
    assert_eq!(std::fs::read(&host).unwrap(), b"0123456789abcdef");
}

/// Send `big` with the last of `cmds` (the others must answer 350), as a client whose upload
/// the server cuts short; returns the final reply.
fn upload_cut_short(c: &mut FtpClient, cmds: &[&str], big: &[u8]) -> (u16, String) {
    let (last, rest) = cmds.split_last().unwrap();
    for cmd in rest {
        c.expect(cmd, 350);
    }
    let (mut data, _) = c.start_transfer(last.as_bytes(), DataMode::Pasv);
    // The server stops reading at the limit: write errors are expected here.
    let _ = data.write_all(big);
    let _ = data.shutdown(std::net::Shutdown::Write);
    drop(data);
    c.read_reply()
}

/// File size limit of the two tests below.
const FSIZE_LIMIT: usize = 64 * 1024;

/// Issue 10, follow-up: under a file size limit (RLIMIT_FSIZE, `ulimit -f`) an upload past the
/// limit raised SIGXFSZ, whose default action killed the whole server, every session with it.
/// Expected: the upload gets 552 (EFBIG: RFC 959 "exceeded storage allocation") and is
/// handled as a full disk per `keep_partial_on_enospc` (undone, or kept up to the limit), and
/// the server serves the next session. Under qemu-user (FERROFTPD_RUNNER) the limit applies
/// to qemu, which passes the server's SIG_IGN on to the host and its writes fail the same way.
#[test]
fn upload_past_the_file_size_limit_gets_552_and_the_server_lives() {
    const LIMIT: usize = FSIZE_LIMIT;
    let small = pattern(10_000, 3);
    let big = pattern(4 * LIMIT, 4);
    for keep in [false, true] {
        let mut srv = Server::builder()
            .user(ALICE)
            .opt("keep_partial_on_enospc", if keep { "yes" } else { "no" })
            .rlimit(nix::libc::RLIMIT_FSIZE, LIMIT as u64)
            .start();
        let root = srv.root();
        std::fs::write(root.join("small.bin"), &small).unwrap();
        let mut c = srv.login(ALICE);
        c.expect("TYPE I", 200);
        let mut too_big = |cmds: &[&str]| {
            let (code, text) = upload_cut_short(&mut c, cmds, &big);
            assert_eq!(code, 552, "keep={keep} {cmds:?}: {text}");
        };
        let read = |name: &str| std::fs::read(root.join(name)).ok();
        too_big(&["STOR new.bin"]);
        if keep {
            assert!(read("new.bin") == Some(big[..LIMIT].to_vec()), "kept STOR");
        } else {
            assert!(
                read("new.bin").is_none(),
                "the partial STOR was not removed"
            );
        }
        too_big(&["APPE small.bin"]);
        let mut expected = small.clone();
        if keep {
            expected.extend_from_slice(&big[..LIMIT - small.len()]);
        }
        assert!(read("small.bin") == Some(expected), "keep={keep}: APPE");
        std::fs::write(root.join("small.bin"), &small).unwrap();
        too_big(&["REST 4000", "APPE small.bin"]);
        let mut expected = small[..4000].to_vec();
        if keep {
            expected.extend_from_slice(&big[..LIMIT - 4000]);
        } else {
            // The range written over holds new bytes; the length is back.
            expected.extend_from_slice(&big[..small.len() - 4000]);
        }
        assert!(
            read("small.bin") == Some(expected),
            "keep={keep}: REST+APPE"
        );
        c.expect("NOOP", 200);
        drop(c);
        assert!(srv.is_running(), "keep={keep}: the server died");
        let mut next = srv.login(ALICE);
        next.expect("TYPE I", 200);
        next.stor("after.bin", b"still serving");
        assert_eq!(next.retr("after.bin"), b"still serving");
    }
}

/// The same in inetd mode (one session on stdin/stdout): SIGXFSZ ended the session with no
/// reply. Expected: 552, the partial file removed, the session goes on to a clean QUIT.
#[test]
fn inetd_upload_past_the_file_size_limit_gets_552_and_the_session_goes_on() {
    let dir = TempDir::new("inetd-fsize");
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let users = dir.join("users");
    let line = format!("{}:{}:{}:rw\n", ALICE.name, ALICE.hash, root.display());
    std::fs::write(&users, line).unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let server_side = accept_bounded(&l, IO_TIMEOUT).unwrap();
    let fd_in: std::os::fd::OwnedFd = server_side.try_clone().unwrap().into();
    let mut cmd = server_command();
    cmd.arg("-i")
        .arg("-r")
        .arg(&root)
        .arg("-U")
        .arg(&users)
        .stdin(fd_in)
        .stdout(std::os::fd::OwnedFd::from(server_side));
    set_rlimits(&mut cmd, &[(nix::libc::RLIMIT_FSIZE, FSIZE_LIMIT as u64)]);
    let mut p = Proc::spawn(cmd, false);
    let mut c = FtpClient::from_stream(client);
    assert_eq!(c.greeting.code, 220, "{}", c.greeting.text());
    c.login(ALICE.name, ALICE.password);
    c.expect("TYPE I", 200);
    let (code, text) = upload_cut_short(&mut c, &["STOR new.bin"], &pattern(4 * FSIZE_LIMIT, 6));
    assert_eq!(code, 552, "{text}; log:\n{}", p.logs());
    assert!(
        !root.join("new.bin").exists(),
        "the partial STOR was not removed"
    );
    c.stor("after.bin", b"still serving");
    assert_eq!(
        std::fs::read(root.join("after.bin")).unwrap(),
        b"still serving"
    );
    assert_eq!(c.quit().0, 221);
    let status = p
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("inetd process did not exit");
    assert!(status.success(), "{status}; log:\n{}", p.logs());
}

/// The names in `dir`, sorted (hidden ones and upload temporaries included).
fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 10, follow-up: with `atomic_uploads = yes` and `deny_overwrite = yes`, the upload was
/// renamed over its target at the end, so a file another session stored under that name while
/// the upload ran was replaced. Expected: the commit refuses atomically, the upload ends with
/// 550 "File exists." after its data (the reply it would have had before the 150), the other
/// file keeps its bytes and no temporary is left. Under FERROFTPD_OLD_KERNEL=1 (`make
/// oldkernel-test`) this runs the named temporary and link-then-unlink path.
#[test]
fn deny_overwrite_atomic_upload_keeps_a_file_made_during_it() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("deny_overwrite", "yes")
        .opt("atomic_uploads", "yes")
        .start();
    let root = srv.root();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let body = pattern(300_000, 21);
    let (mut data, _) = c.start_transfer(b"STOR late.bin", DataMode::Pasv);
    data.write_all(&body).unwrap();
    // The 150 came after the server saw the name free; another session stores it now.
    std::fs::write(root.join("late.bin"), b"theirs").unwrap();
    data.shutdown(std::net::Shutdown::Write).unwrap();
    drop(data);
    let (code, text) = c.read_reply();
    assert_eq!((code, text.as_str()), (550, "550 File exists."));
    assert_eq!(std::fs::read(root.join("late.bin")).unwrap(), b"theirs");
    assert_eq!(names_in(&root), ["late.bin"]);
    // A name taken before the command is refused before the 150, and a free one is stored.
    let _data = c.pasv();
    assert_eq!(c.cmd("STOR late.bin").0, 550);
    assert!(c.nothing_pending(std::time::Duration::from_millis(200)));
    drop(_data);
    c.stor("free.bin", &body);
    assert!(std::fs::read(root.join("free.bin")).unwrap() == body);
    assert_eq!(names_in(&root), ["free.bin", "late.bin"]);
}

/// Issue 10, follow-up: RNTO onto an existing name replaced it even under
/// `deny_overwrite = yes` (`RNFR a`, `RNTO b` answered 250 and b's bytes were gone).
/// Expected: 550 for every existing target (a file, a dangling symlink, a directory, even an
/// empty one that rename(2) would replace), both names unchanged; a rename to a free name
/// still works, for files and directories.
#[test]
fn deny_overwrite_rnto_refuses_an_existing_target() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("deny_overwrite", "yes")
        .start();
    let root = srv.root();
    std::fs::write(root.join("a"), b"AAA").unwrap();
    std::fs::write(root.join("b"), b"BBB").unwrap();
    std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::create_dir(root.join("e")).unwrap();
    let mut c = srv.login(ALICE);
    let before = snapshot(&root);
    for (from, to) in [
        ("a", "b"),
        ("a", "dangling"),
        ("a", "d"),
        ("d", "e"),
        ("d", "b"),
    ] {
        c.expect(&format!("RNFR {from}"), 350);
        let (code, text) = c.cmd(&format!("RNTO {to}"));
        assert_eq!(code, 550, "RNFR {from}, RNTO {to}: {text}");
        assert_eq!(before, snapshot(&root), "RNFR {from}, RNTO {to}");
    }
    assert!(!root.join("nowhere").exists());
    c.expect("RNFR a", 350);
    c.expect("RNTO c", 250);
    assert_eq!(std::fs::read(root.join("c")).unwrap(), b"AAA");
    assert!(!root.join("a").exists());
    c.expect("RNFR d", 350);
    c.expect("RNTO e/d2", 250);
    assert!(root.join("e/d2").is_dir() && !root.join("d").exists());
    assert_eq!(std::fs::read(root.join("b")).unwrap(), b"BBB");
}

/// Without deny_overwrite RNTO replaces an existing file, as rename(2) and other servers do.
#[test]
fn rnto_replaces_an_existing_file_without_deny_overwrite() {
    let srv = Server::builder().user(ALICE).start();
    let root = srv.root();
    std::fs::write(root.join("a"), b"AAA").unwrap();
    std::fs::write(root.join("b"), b"BBB").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("RNFR a", 350);
    c.expect("RNTO b", 250);
    assert_eq!(std::fs::read(root.join("b")).unwrap(), b"AAA");
    assert_eq!(names_in(&root), ["b"]);
}
