//! Files past 4 GiB on a 32-bit server: SIZE, LIST, MDTM, REST + RETR, REST + STOR and APPE.
//!
//! The routers and NAS boxes ferroftpd targets are 32-bit; a size or offset squeezed through a
//! `usize`, `u32`, `off_t` (32 bits on 32-bit glibc) or `i32` there silently wraps at 2 or 4 GiB
//! (BusyBox ftpd's history has exactly this bug for REST past 2^31). The files here are sparse,
//! so a test costs kilobytes of disk and wire, not gigabytes; the interesting bytes sit past
//! 4 GiB, where a truncated offset lands in the hole and reads zeros instead. `make qemu-test`
//! runs these against the 32-bit ARM and MIPS builds.

mod common;

use common::*;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const GIB: u64 = 1 << 30;
/// Start of the data in the big file: 4 GiB exactly, past every 32-bit boundary.
const DATA_AT: u64 = 4 * GIB;
/// Length of the data at the end of the big file.
const DATA_LEN: usize = 200_003;
/// 2023-11-14 22:13:20 UTC: an mtime whose MDTM text is known.
const MTIME: u64 = 1_700_000_000;

/// A sparse file of `DATA_AT + DATA_LEN` bytes: a hole, then pattern bytes. Returns the data.
fn make_big_file(path: &Path) -> Vec<u8> {
    let data = pattern(DATA_LEN, 42);
    let mut f = File::create(path).unwrap();
    f.seek(SeekFrom::Start(DATA_AT)).unwrap();
    f.write_all(&data).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
        .unwrap();
    data
}

/// Bytes `[at, at + len)` of a file on disk.
fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

fn big_file_server() -> (Server, Vec<u8>) {
    let srv = Server::builder().user(ALICE).start();
    let data = make_big_file(&srv.root().join("big.bin"));
    (srv, data)
}

#[test]
fn size_and_mdtm_past_4_gib() {
    let (srv, _) = big_file_server();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let size = DATA_AT + DATA_LEN as u64;
    assert_eq!(c.expect("SIZE big.bin", 213), format!("213 {size}"));
    assert_eq!(c.expect("MDTM big.bin", 213), "213 20231114221320");
}

#[test]
fn list_shows_size_past_4_gib() {
    let (srv, _) = big_file_server();
    let mut c = srv.login(ALICE);
    let raw = c.list("");
    let lines = listing_lines(&raw);
    let line = lines
        .iter()
        .find(|l| ls_name(l) == b"big.bin")
        .unwrap_or_else(|| panic!("big.bin not in listing:\n{}", lossy(&raw)));
    // perms links owner group SIZE month day time name
    let size_field = lossy(line).split_whitespace().nth(4).map(str::to_string);
    assert_eq!(
        size_field,
        Some((DATA_AT + DATA_LEN as u64).to_string()),
        "LIST line: {}",
        lossy(line)
    );
}

#[test]
fn rest_retr_from_offset_past_4_gib() {
    let (srv, data) = big_file_server();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    // Offsets just past 4 GiB and past 4 GiB + 2^31 - 1 would read as small numbers when
    // truncated to 32 bits, landing in the hole (zeros).
    for skip in [1usize, 12_345, DATA_LEN - 1] {
        let offset = DATA_AT + skip as u64;
        c.expect(&format!("REST {offset}"), 350);
        let got = c.transfer_in(b"RETR big.bin", DataMode::Epsv);
        assert!(
            got == data[skip..],
            "REST {offset} RETR: got {} bytes (want {}), first {:?}",
            got.len(),
            DATA_LEN - skip,
            &got[..got.len().min(8)]
        );
    }
}

#[test]
fn rest_stor_past_4_gib_extends_sparse_file() {
    let srv = Server::builder().user(ALICE).start();
    let path = srv.root().join("up.bin");
    let start = DATA_AT + 100;
    File::create(&path).unwrap().set_len(start).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let chunk = pattern(5_000, 7);
    c.expect(&format!("REST {start}"), 350);
    c.transfer_out(b"STOR up.bin", &chunk, DataMode::Pasv);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        start + chunk.len() as u64
    );
    assert!(
        read_at(&path, start, chunk.len()) == chunk,
        "bytes at {start}"
    );
    // Nothing landed at the 32-bit-truncated offset.
    assert_eq!(read_at(&path, 100, 16), vec![0u8; 16], "bytes at 100");
    assert_eq!(
        c.expect("SIZE up.bin", 213),
        format!("213 {}", start + chunk.len() as u64)
    );
}

#[test]
fn appe_to_file_past_4_gib() {
    let srv = Server::builder().user(ALICE).start();
    let path = srv.root().join("log.bin");
    let start = DATA_AT + 7;
    File::create(&path).unwrap().set_len(start).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    c.transfer_out(b"APPE log.bin", b"tail of a big file", DataMode::Epsv);
    let end = start + b"tail of a big file".len() as u64;
    assert_eq!(fs::metadata(&path).unwrap().len(), end);
    assert_eq!(read_at(&path, start, 18), b"tail of a big file");
    assert_eq!(read_at(&path, 7, 16), vec![0u8; 16], "bytes at 7");
    assert_eq!(c.expect("SIZE log.bin", 213), format!("213 {end}"));
}
