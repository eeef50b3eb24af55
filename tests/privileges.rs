//! Privileges (issue 5): system users (refused names, ownership of their files in a private
//! mount namespace) and dropping to run_as, with and without chroot.
//!
//! Tests needing root or `unshare` print `SKIP: <reason>` when they cannot run, and fail in CI.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------------
// System users

#[test]
fn system_users_refuse_unknown_names_and_root() {
    if !is_root() {
        return skip("system_users", "needs root to read /etc/shadow");
    }
    let srv = Server::builder().opt("system_users", "yes").start();
    let mut c = srv.connect();
    c.expect("USER no-such-user-ferroftpd", 331);
    c.expect("PASS whatever", 530);
    c.expect("USER root", 331);
    // Whatever root's password is, this login must fail (root is always refused).
    c.expect("PASS root", 530);
}

/// uid/gid of the test's system account in the private passwd file.
const SYS_UID: u32 = 41_234;

#[test]
fn system_user_logs_in_and_owns_its_files_in_a_private_mount_namespace() {
    if !is_root() {
        return skip("system_user_login", "needs root");
    }
    // Bind fixture account files over /etc/passwd and /etc/shadow in a private mount
    // namespace, so the real ones are never touched.
    let probe = Command::new("unshare").args(["--mount", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return skip("system_user_login", "unshare --mount is not available");
    }
    let site = Site::new("sysusers");
    let home = site.path("home");
    fs::create_dir(&home).unwrap();
    nix::unistd::chown(
        &home,
        Some(nix::unistd::Uid::from_raw(SYS_UID)),
        Some(nix::unistd::Gid::from_raw(SYS_UID)),
    )
    .unwrap();
    let passwd = site.path("passwd");
    let shadow = site.path("shadow");
    let ftpusers = site.path("ftpusers");
    fs::write(
        &passwd,
        format!(
            "root:x:0:0:root:{h}:/bin/sh\ntoor:x:0:0:alias:{h}:/bin/sh\n\
             ftptest:x:{SYS_UID}:{SYS_UID}:test:{h}:/bin/sh\ndenied:x:41235:41235::{h}:/bin/sh\n",
            h = home.display()
        ),
    )
    .unwrap();
    // Every account has ALICE's password: only the rules tell them apart.
    fs::write(
        &shadow,
        ["root", "toor", "ftptest", "denied"]
            .iter()
            .map(|n| format!("{n}:{}:19000:0:99999:7:::\n", ALICE.hash))
            .collect::<String>(),
    )
    .unwrap();
    fs::write(&ftpusers, "# denied accounts\ndenied\n").unwrap();
    // The runner prefix (FERROFTPD_RUNNER), if any, runs inside the namespace too.
    let server = server_command();
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@""#)
        .arg("sh")
        .arg(&passwd)
        .arg(&shadow)
        .arg(server.get_program())
        .args(server.get_args())
        .args(site.args(&["-o", "system_users=yes", "-o", &format!("ftpusers={}", ftpusers.display())]))
        .args(["-o", "ban_after=0", "-o", "max_login_failures=10"])
        .stdin(Stdio::null());
    let p = Proc::spawn(cmd, true);
    let addr = p.addr();
    let mut c = FtpClient::connect(addr);
    for name in ["root", "toor", "denied", "nosuchuser"] {
        c.expect(&format!("USER {name}"), 331);
        let (code, text) = c.cmd(&format!("PASS {}", ALICE.password));
        assert_eq!(code, 530, "{name} with the right password: {text}");
    }
    let mut c = FtpClient::connect(addr);
    c.login("ftptest", ALICE.password);
    c.stor("mine", b"owned by ftptest");
    let md = fs::metadata(home.join("mine")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (SYS_UID, SYS_UID),
        "owner of an uploaded file"
    );
    // The real files are untouched (the namespace was private).
    assert!(!fs::read_to_string("/etc/passwd")
        .unwrap()
        .contains("ftptest:x:41234"));
}

// ---------------------------------------------------------------------------------------------
// run_as / chroot

/// (real, effective, saved, fs) ids from a `/proc/PID/status` line such as `Uid:`.
fn proc_ids(pid: i32, key: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    line[key.len()..]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

fn run_as_nobody(chroot: bool) {
    let test = if chroot { "run_as_chroot" } else { "run_as" };
    if !is_root() {
        return skip(test, "needs root");
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        return skip(test, "no user nobody");
    };
    let site = Site::new(test);
    fs::write(site.root().join("pub.txt"), b"readable by all").unwrap();
    let mut more = vec!["-o", "run_as=nobody"];
    if chroot {
        more.extend(["-o", "chroot=yes"]);
    }
    let (p, addr) = Proc::server(&site.args(&more));
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    assert_eq!(
        proc_ids(p.pid(), "Uid:"),
        [uid; 4],
        "Uid line of the server"
    );
    assert_eq!(
        proc_ids(p.pid(), "Gid:"),
        [gid; 4],
        "Gid line of the server"
    );
    let groups = fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    let groups = groups
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap_or("");
    assert!(
        groups
            .split_whitespace()
            .skip(1)
            .all(|g| g == gid.to_string()),
        "supplementary groups kept: {groups}"
    );
    if chroot {
        let root = fs::read_link(format!("/proc/{}/root", p.pid())).unwrap();
        assert_eq!(root, fs::canonicalize(site.root()).unwrap(), "process root");
    }
    let mut c = FtpClient::connect(addr);
    c.login("anonymous", "nobody@x");
    assert_bytes(&c.retr("pub.txt"), b"readable by all", "content");
    assert_eq!(list_names(&c.list("")), ["pub.txt"]);
}

#[test]
fn run_as_nobody_drops_privileges() {
    run_as_nobody(false);
}

#[test]
fn run_as_nobody_with_chroot_roots_the_process_in_the_root_dir() {
    run_as_nobody(true);
}
