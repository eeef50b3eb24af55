//! Uploads that never lose acknowledged data (issue 5): atomic uploads (aborted, cut by
//! SIGKILL, their temporaries invisible and swept), deny_overwrite, fsync off, and a full disk
//! (452, the partial file removed or kept, APPE and REST+STOR put back).
//!
//! Tests needing root or `mount` print `SKIP: <reason>` when they cannot run, and fail in CI.

mod common;

use common::*;
use nix::sys::signal::Signal;
use std::env;
use std::fs;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Upload safety

/// Starts `STOR name` and sends `n` bytes without ending the upload; returns the data socket.
fn start_upload(c: &mut FtpClient, name: &str, n: usize) -> TcpStream {
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(format!("STOR {name}").as_bytes(), DataMode::Pasv);
    data.write_all(&pattern(n, 9)).unwrap();
    data
}

/// Waits until the running upload has moved some bytes (STAT during a transfer reports them;
/// with O_TMPFILE the temporary has no name to look at).
fn wait_for_upload_progress(c: &mut FtpClient) -> bool {
    poll_until(Duration::from_secs(15), || {
        let (code, text) = c.cmd("STAT");
        assert_eq!(code, 213, "STAT during the upload: {text}");
        text.split_whitespace()
            .find_map(|w| w.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    })
}

#[test]
fn atomic_upload_aborted_keeps_the_old_file_and_a_complete_one_replaces_it() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("atomic_uploads", "yes")
        .start();
    let target = srv.root().join("target");
    fs::write(&target, b"old content").unwrap();
    let mut c = srv.login(ALICE);
    let data = start_upload(&mut c, "target", 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target changed mid-upload",
    );
    c.send("ABOR");
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "the aborted STOR: {text}");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "ABOR: {text}");
    drop(data);
    // Regression (found here): the ABOR's own 226 was taken for a complete upload, and the
    // partial temporary was renamed over the target.
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target after an ABORted atomic STOR",
    );
    assert_eq!(
        disk_names_with(&srv.root(), ".ferroftpd-upload"),
        Vec::<String>::new()
    );
    assert_eq!(list_names(&c.list("")), ["target"]);

    let new = pattern(200_000, 4);
    c.stor("target", &new);
    assert!(
        fs::read(&target).unwrap() == new,
        "complete atomic STOR did not replace the file"
    );
    assert_eq!(
        disk_names_with(&srv.root(), ".ferroftpd-upload"),
        Vec::<String>::new()
    );
    c.expect("NOOP", 200);
}

#[test]
fn atomic_upload_cut_by_sigkill_leaves_the_old_file_and_no_visible_partial() {
    let site = Site::new("atomic-kill");
    let target = site.root().join("target");
    fs::write(&target, b"old content").unwrap();
    let users = site.write_users(&[ALICE]);
    let args = site.args(&["-U", &path_str(&users), "-o", "atomic_uploads=yes"]);
    let (mut p, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    let data = start_upload(&mut c, "target", 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    p.signal(Signal::SIGKILL);
    assert!(
        p.wait_exit(EXIT_TIMEOUT).is_some(),
        "SIGKILL did not end the server"
    );
    drop(data);
    drop(c);
    assert_bytes(
        &fs::read(&target).unwrap(),
        b"old content",
        "target after SIGKILL",
    );

    // A restarted server: LIST (no -a) shows the target only, which has the old content.
    let (_p2, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    assert_eq!(list_names(&c.list("")), ["target"]);
    assert_bytes(
        &c.retr("target"),
        b"old content",
        "RETR target after the restart",
    );
}

/// Starts a server on `site` with atomic uploads, uploads into `dir/target`, and SIGKILLs the
/// server mid-upload. `old_kernel`: the server sees Linux 3.10 (no O_TMPFILE, src/oldkernel.rs).
fn kill_mid_atomic_upload(site: &Site, dir: &str, old_kernel: bool) {
    let users = site.write_users(&[ALICE]);
    let args = site.args(&["-U", &path_str(&users), "-o", "atomic_uploads=yes"]);
    let mut cmd = server_command();
    cmd.args(&args).stdin(Stdio::null());
    if old_kernel {
        cmd.env("FERROFTPD_OLD_KERNEL", "1");
    }
    let mut p = Proc::spawn(cmd, true);
    let mut c = FtpClient::connect(p.addr());
    c.login(ALICE.name, ALICE.password);
    let data = start_upload(&mut c, &format!("{dir}/target"), 1 << 20);
    assert!(
        wait_for_upload_progress(&mut c),
        "no bytes moved during the upload"
    );
    if old_kernel {
        // The server counts bytes as it receives them, a moment before they reach the file:
        // wait (bounded) until the named temporary holds some, so the kill leaves a partial file.
        let on_disk = site.root().join(dir);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && !disk_names_with(&on_disk, TEMP_PREFIX)
                .iter()
                .any(|n| fs::metadata(on_disk.join(n)).is_ok_and(|m| m.len() > 0))
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    p.signal(Signal::SIGKILL);
    assert!(
        p.wait_exit(EXIT_TIMEOUT).is_some(),
        "SIGKILL did not end the server"
    );
    drop(data);
}

/// Whether this test process can make an O_TMPFILE file in `dir` (kernel and file system).
fn o_tmpfile_works(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_TMPFILE)
        .open(dir)
        .is_ok()
        && Path::new("/proc/self/fd").is_dir()
}

const TEMP_PREFIX: &str = ".ferroftpd-upload.";

#[test]
fn atomic_upload_killed_by_sigkill_leaves_no_temporary_where_o_tmpfile_works() {
    let test = "atomic_upload_killed_by_sigkill_leaves_no_temporary_where_o_tmpfile_works";
    let site = Site::new("atomic-tmpfile");
    fs::create_dir(site.root().join("d")).unwrap();
    if !o_tmpfile_works(&site.root()) {
        skip(
            test,
            "no O_TMPFILE on this kernel or file system, or no /proc",
        );
        return;
    }
    if env::var_os("FERROFTPD_OLD_KERNEL").is_some() {
        // Not a skip: in the Linux 3.10 run there is no O_TMPFILE by design, and the named
        // temporary that replaces it is what the next test checks.
        println!("{test}: not applicable to the Linux 3.10 run (no O_TMPFILE there)");
        return;
    }
    kill_mid_atomic_upload(&site, "d", false);
    assert_eq!(
        disk_names_with(&site.root().join("d"), TEMP_PREFIX),
        Vec::<String>::new(),
        "an unnamed temporary leaves nothing behind"
    );
    assert!(!site.root().join("d/target").exists());
}

#[test]
fn atomic_upload_temporary_left_by_a_crash_is_invisible_and_removed() {
    let site = Site::new("atomic-stale");
    for d in ["a", "b"] {
        fs::create_dir(site.root().join(d)).unwrap();
        fs::write(site.root().join(d).join("target"), b"old content").unwrap();
    }
    // Linux 3.10 (or no O_TMPFILE): the upload has a named temporary from the start. qemu-user
    // refuses the seccomp filter; a temporary is then made below as a crash would leave it.
    let runner = env::var_os("FERROFTPD_RUNNER").is_some_and(|r| !r.is_empty());
    kill_mid_atomic_upload(&site, "a", !runner);
    let a = site.root().join("a");
    let mut left = disk_names_with(&a, TEMP_PREFIX);
    if left.is_empty() {
        assert!(
            runner,
            "the 3.10 server left no named temporary (a server built without the test-hooks \
             feature ignores FERROFTPD_OLD_KERNEL)"
        );
        let name = format!("{TEMP_PREFIX}1.0123456789abcdef.0");
        fs::write(a.join(&name), pattern(300_000, 3)).unwrap();
        left.push(name);
    }
    assert_eq!(left.len(), 1, "{left:?}");
    let temp = left.remove(0);
    let size = fs::metadata(a.join(&temp)).unwrap().len();
    assert!(size > 0, "the temporary holds the partial upload");
    // The same leftover in `b`, to be removed by an upload there rather than a listing.
    fs::copy(a.join(&temp), site.root().join("b").join(&temp)).unwrap();

    let users = site.path("users");
    let args = site.args(&["-U", &path_str(&users), "-o", "atomic_uploads=yes"]);
    let (_p, addr) = Proc::server(&args);
    let mut c = FtpClient::connect(addr);
    c.login(ALICE.name, ALICE.password);
    // Every path a client has treats it as absent (or, to make it, as a forbidden name).
    for cmd in [
        format!("SIZE a/{temp}"),
        format!("MDTM a/{temp}"),
        format!("MLST a/{temp}"),
        format!("STAT a/{temp}"),
        format!("DELE a/{temp}"),
        format!("RNFR a/{temp}"),
        format!("CWD a/{temp}"),
        format!("RMD a/{temp}"),
        format!("SITE CHMOD 644 a/{temp}"),
    ] {
        let (code, text) = c.cmd(&cmd);
        assert_eq!(code, 550, "{cmd}: {text}");
    }
    let (code, text) = c.cmd(&format!("MKD b/{temp}"));
    assert!(code == 550 || code == 553, "MKD: {code} {text}");
    c.expect("RNFR a/target", 350);
    let (code, text) = c.cmd(&format!("RNTO b/{temp}"));
    assert_eq!(code, 553, "RNTO onto a temporary: {text}");
    let _data = c.pasv();
    let (code, text) = c.cmd(&format!("RETR a/{temp}"));
    assert_eq!(code, 550, "RETR: {text}");
    assert!(
        site.root().join("b").join(&temp).exists(),
        "nothing above may remove it"
    );
    // Listings leave it out, and listing the directory removes it.
    assert_eq!(list_names(&c.list("-a a")), ["target"]);
    assert!(!lossy(&c.nlst("a")).contains(TEMP_PREFIX));
    let mlsd = c.transfer_in(b"MLSD a", DataMode::Pasv);
    assert!(!lossy(&mlsd).contains(TEMP_PREFIX), "{}", lossy(&mlsd));
    let (_, stat) = c.cmd("STAT -a a");
    assert!(!stat.contains(TEMP_PREFIX), "{stat}");
    assert!(!lossy(&c.nlst("a/.f*")).contains(TEMP_PREFIX));
    assert_eq!(disk_names_with(&a, TEMP_PREFIX), Vec::<String>::new());
    // An upload into `b` removes it there, without any listing.
    c.expect("TYPE I", 200);
    c.stor("b/new", b"fresh");
    assert_eq!(
        disk_names_with(&site.root().join("b"), TEMP_PREFIX),
        Vec::<String>::new()
    );
    assert_bytes(&c.retr("a/target"), b"old content", "a/target");
    assert_bytes(&c.retr("b/target"), b"old content", "b/target");
    c.expect("NOOP", 200);
}

#[test]
fn deny_overwrite_refuses_replacing_a_file() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("deny_overwrite", "yes")
        .start();
    fs::write(srv.root().join("exists"), b"keep me").unwrap();
    std::os::unix::fs::symlink("nowhere", srv.root().join("dangling")).unwrap();
    let mut c = srv.login(ALICE);
    // Refused by the exclusive create itself, before any 150 (a dangling symlink is a name
    // taken, and is not followed).
    for name in ["exists", "dangling"] {
        let _data = c.pasv();
        let (code, text) = c.cmd(&format!("STOR {name}"));
        assert_eq!(code, 550, "STOR onto an existing {name}: {text}");
        assert!(c.nothing_pending(Duration::from_millis(200)), "{name}");
    }
    assert!(!srv.root().join("nowhere").exists());
    assert_bytes(
        &fs::read(srv.root().join("exists")).unwrap(),
        b"keep me",
        "content",
    );
    c.stor("fresh", b"new file");
    assert_bytes(
        &fs::read(srv.root().join("fresh")).unwrap(),
        b"new file",
        "content",
    );
    c.expect("NOOP", 200);
}

#[test]
fn fsync_off_still_stores_correctly() {
    let srv = Server::builder().user(ALICE).opt("fsync", "no").start();
    let body = pattern(1 << 20, 12);
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.stor("nosync.bin", &body);
    assert_eq!(
        crc_file(&srv.root().join("nosync.bin")),
        (crc32fast::hash(&body), 1 << 20)
    );
    assert!(c.retr("nosync.bin") == body);
}

/// An upload whose connection is reset keeps every byte that arrived, so the client can resume
/// from the size it finds (REST + STOR, lftp's reput). The server gathers several reads before
/// each file write: what it holds when the connection fails must still reach the file.
#[test]
fn upload_cut_by_a_reset_keeps_every_byte_received() {
    let srv = Server::builder().user(ALICE).start();
    let mut c = srv.login(ALICE);
    // Less than one gathering (half the 128 KiB buffer), and not a multiple of any read size.
    let sent = 50_001;
    let data = start_upload(&mut c, "cut.bin", sent);
    assert!(
        poll_until(Duration::from_secs(15), || {
            let (code, text) = c.cmd("STAT");
            assert_eq!(code, 213, "STAT during the upload: {text}");
            text.contains(&format!(" {sent} bytes"))
        }),
        "the server did not receive the {sent} bytes"
    );
    // SO_LINGER 0: close sends RST, a cut connection rather than the end of the upload.
    socket2::SockRef::from(&data)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(data);
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "{text}");
    assert!(
        fs::read(srv.root().join("cut.bin")).unwrap() == pattern(sent, 9),
        "the bytes received before the reset are not all in the file"
    );
}

// ---------------------------------------------------------------------------------------------
// Full disk

/// A 1 MiB tmpfs, unmounted on drop (drop the server using it first).
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(test: &str) -> Option<Tmpfs> {
        if !is_root() {
            skip(test, "mount needs root");
            return None;
        }
        let dir = TempDir::new("tmpfs");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                skip(
                    test,
                    &format!("mount tmpfs failed: {}", lossy(&o.stderr).trim()),
                );
                None
            }
            Err(e) => {
                skip(test, &format!("cannot run mount: {e}"));
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// STOR of 3 MB into a 1 MiB filesystem; returns the final reply.
fn stor_too_big(c: &mut FtpClient, name: &str) -> (u16, String) {
    upload_too_big(c, &format!("STOR {name}"))
}

/// An upload command (STOR, APPE) sending 3 MB into a 1 MiB filesystem; the final reply.
fn upload_too_big(c: &mut FtpClient, cmd: &str) -> (u16, String) {
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(cmd.as_bytes(), DataMode::Pasv);
    // The server stops reading when the disk is full: write errors are expected.
    let _ = data.write_all(&pattern(3_000_000, 2));
    let _ = data.shutdown(Shutdown::Write);
    drop(data);
    c.read_reply()
}

fn full_disk(keep: bool) {
    let test = if keep {
        "full_disk_keep_partial"
    } else {
        "full_disk"
    };
    let Some(disk) = Tmpfs::mount(test) else {
        return;
    };
    let mut b = Server::builder().user_with_home(ALICE, disk.path().to_path_buf());
    if keep {
        b = b.opt("keep_partial_on_enospc", "yes");
    }
    let srv = b.start();
    let mut c = srv.login(ALICE);
    let (code, text) = stor_too_big(&mut c, "huge");
    assert!(
        code == 452 || code == 552,
        "STOR onto a full disk: {code} {text}"
    );
    let partial = disk.path().join("huge");
    if keep {
        let len = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        assert!(
            len > 0,
            "keep_partial_on_enospc=yes: the partial file is gone or empty"
        );
        c.expect("DELE huge", 250);
    } else {
        assert!(!partial.exists(), "the partial upload was not removed");
    }
    c.expect("NOOP", 200);
    c.stor("small", b"fits now");
    assert_bytes(&c.retr("small"), b"fits now", "content");
    assert_bytes(
        &fs::read(disk.path().join("small")).unwrap(),
        b"fits now",
        "content",
    );
    drop(c);
    drop(srv);
}

#[test]
fn full_disk_gives_452_and_removes_the_partial_file() {
    full_disk(false);
}

#[test]
fn full_disk_keeps_the_partial_file_when_asked() {
    full_disk(true);
}

/// APPE and REST+STOR into an existing file on a full disk: with `keep_partial_on_enospc = no`
/// the file is cut back to what it was before the command, with `yes` the part that arrived is
/// kept for a resume.
fn full_disk_extending(keep: bool) {
    let test = if keep {
        "full_disk_extending_keep_partial"
    } else {
        "full_disk_extending"
    };
    let Some(disk) = Tmpfs::mount(test) else {
        return;
    };
    let mut b = Server::builder().user_with_home(ALICE, disk.path().to_path_buf());
    if keep {
        b = b.opt("keep_partial_on_enospc", "yes");
    }
    let srv = b.start();
    let mut c = srv.login(ALICE);
    let original = pattern(100_000, 5);
    let host = disk.path().join("small.bin");
    for (what, cmds) in [
        ("APPE", vec!["APPE small.bin".to_string()]),
        (
            "REST+STOR",
            vec![format!("REST {}", original.len()), "STOR small.bin".into()],
        ),
        // REST inside the file: the bytes past the restart point are not cut at the start.
        (
            "REST 10+STOR",
            vec!["REST 10".into(), "STOR small.bin".into()],
        ),
        // RFC 3659 §5.3: APPE after REST acts as STOR, undo included.
        (
            "REST 10+APPE",
            vec!["REST 10".into(), "APPE small.bin".into()],
        ),
    ] {
        fs::write(&host, &original).unwrap();
        let (last, before) = cmds.split_last().unwrap();
        for cmd in before {
            c.expect(cmd, 350);
        }
        let (code, text) = upload_too_big(&mut c, last);
        assert!(
            code == 452 || code == 552,
            "{what} onto a full disk: {code} {text}"
        );
        let now = fs::read(&host).unwrap();
        if keep {
            assert!(
                now.len() > original.len(),
                "{what}, keep_partial_on_enospc=yes: the part that arrived is gone ({} bytes)",
                now.len()
            );
            let kept = if what.starts_with("REST 10+") {
                10
            } else {
                original.len()
            };
            assert_bytes(&now[..kept], &original[..kept], "the file's old start");
        } else if what.starts_with("REST 10+") {
            // The overwritten range holds new bytes; the length and everything else are back.
            assert_eq!(
                now.len(),
                original.len(),
                "{what}: length after a full disk"
            );
            assert_bytes(&now[..10], &original[..10], "the file's start");
        } else {
            assert_bytes(&now, &original, &format!("{what} on a full disk"));
        }
        if keep {
            // Free the space the kept part holds.
            fs::write(&host, &original).unwrap();
        }
        // The disk has room again: the next upload works.
        c.stor("next", b"fits now");
        assert_bytes(&c.retr("next"), b"fits now", "content");
        c.expect("DELE next", 250);
    }
    c.expect("NOOP", 200);
    drop(c);
    drop(srv);
}

#[test]
fn full_disk_appe_and_rest_stor_leave_the_file_as_it_was() {
    full_disk_extending(false);
}

#[test]
fn full_disk_appe_keeps_the_appended_part_when_asked() {
    full_disk_extending(true);
}
