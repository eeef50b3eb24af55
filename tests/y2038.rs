//! File times past 2038-01-19 on a 32-bit server: MDTM, LIST, MLST and MFMT.
//!
//! The 32-bit ARM and MIPS targets have a 64-bit `time_t` in musl 1.2, but a Rust program
//! built against the libc crate's default (musl 1.1) ABI calls musl's 32-bit-time compatibility
//! symbols, which truncate: a file stamped 2040 was reported as 1903. Routers sold today will
//! still run in 2038. `make qemu-test` runs these against the 32-bit builds (built with the
//! time64 ABI, see cross/README.md); natively they hold trivially.

mod common;

use common::*;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, UNIX_EPOCH};

/// 2040-01-02 03:04:05 UTC.
const AFTER_2038: u64 = 2_209_086_245;
const AFTER_2038_MDTM: &str = "20400102030405";

#[test]
fn mdtm_list_and_mlst_after_2038() {
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
    let srv = Server::builder().user(ALICE).start();
    let path = srv.root().join("f");
    fs::write(&path, b"x").unwrap();
    let mut c = srv.login(ALICE);
    let t = c.expect(&format!("MFMT {AFTER_2038_MDTM} f"), 213);
    assert!(t.contains(&format!("Modify={AFTER_2038_MDTM}; f")), "{t}");
    assert_eq!(fs::metadata(&path).unwrap().mtime(), AFTER_2038 as i64);
    assert_eq!(c.expect("MDTM f", 213), format!("213 {AFTER_2038_MDTM}"));
}
