//! File times past 2038-01-19 on a 32-bit server: MDTM, LIST, MLST and MFMT.
//!
//! The 32-bit ARM and MIPS targets have a 64-bit `time_t` in musl 1.2, but a Rust program
//! built against the libc crate's default (musl 1.1) ABI calls musl's 32-bit-time compatibility
//! symbols, which truncate: a file stamped 2040 was reported as 1903. Routers sold today will
//! still run in 2038. `make qemu-test` runs these against the 32-bit builds (built with the
//! time64 ABI, see cross/README.md); natively they hold trivially.
//!
//! With `FERROFTPD_OLD_KERNEL=1` they print SKIP: a kernel before 5.1 has no 64-bit time
//! syscalls for 32-bit processes, so no userspace can get these right there (measured with the
//! i686 musl build: MDTM said 1903, MFMT answered 451).

mod common;

use common::*;
use std::env;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, UNIX_EPOCH};

/// 2040-01-02 03:04:05 UTC.
const AFTER_2038: u64 = 2_209_086_245;
const AFTER_2038_MDTM: &str = "20400102030405";

/// True (after saying SKIP) when the server runs as on a pre-5.1 kernel.
fn old_kernel_skip() -> bool {
    let old = env::var_os("FERROFTPD_OLD_KERNEL").is_some_and(|v| v == "1");
    if old {
        eprintln!("SKIP: FERROFTPD_OLD_KERNEL=1; 32-bit time syscalls end in 2038");
    }
    old
}

#[test]
fn mdtm_list_and_mlst_after_2038() {
    if old_kernel_skip() {
        return;
    }
    let srv = Server::builder().user(ALICE).start();
    let path = srv.root().join("future.txt");
    fs::write(&path, b"from the future").unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(AFTER_2038))
        .unwrap();
    let mut c = srv.login(ALICE);
    assert_eq!(
        c.expect("MDTM future.txt", 213),
        format!("213 {AFTER_2038_MDTM}")
    );
    let raw = c.list("");
    let line = listing_lines(&raw)
        .into_iter()
        .find(|l| ls_name(l) == b"future.txt")
        .unwrap_or_else(|| panic!("future.txt not in listing:\n{}", lossy(&raw)));
    // A date more than six months away is shown with its year, like `ls -l`.
    assert!(
        lossy(&line).contains("Jan  2  2040"),
        "LIST line: {}",
        lossy(&line)
    );
    let text = c.cmd_raw(b"MLST future.txt").text();
    assert!(
        text.contains(&format!("modify={AFTER_2038_MDTM};")),
        "MLST: {text}"
    );
}

#[test]
fn mfmt_after_2038_reaches_the_disk() {
    if old_kernel_skip() {
        return;
    }
    let srv = Server::builder().user(ALICE).start();
    let path = srv.root().join("f");
    fs::write(&path, b"x").unwrap();
    let mut c = srv.login(ALICE);
    let t = c.expect(&format!("MFMT {AFTER_2038_MDTM} f"), 213);
    assert!(t.contains(&format!("Modify={AFTER_2038_MDTM}; f")), "{t}");
    assert_eq!(fs::metadata(&path).unwrap().mtime(), AFTER_2038 as i64);
    assert_eq!(c.expect("MDTM f", 213), format!("213 {AFTER_2038_MDTM}"));
}
