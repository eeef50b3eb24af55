//! RFC 959 in full over raw control connections: every TYPE, STRU and MODE, the bytes they put
//! on the wire (checked against encodings worked out by hand from the RFC's text), the bytes
//! they leave on disk, restart markers and `110 MARK yyyy = mmmm`, ABOR and REIN.

mod common;

use common::*;

/// A logged-in read-write session on a fresh server with a root of its own.
fn session() -> (Server, FtpClient) {
    let srv = Server::builder().user(ALICE).start();
    let c = srv.login(ALICE);
    (srv, c)
}

/// The STAT line that names TYPE, STRU and MODE.
fn stat_params(c: &mut FtpClient) -> String {
    let text = c.expect("STAT", 211);
    text.lines()
        .find(|l| l.contains("TYPE:"))
        .unwrap_or_else(|| panic!("no TYPE line in STAT:\n{text}"))
        .trim()
        .to_string()
}

// ----- step 1: the parameters themselves ----------------------------------------------------

#[test]
fn every_type_structure_and_mode_is_accepted() {
    let (_srv, mut c) = session();
    for t in [
        "TYPE A",
        "TYPE A N",
        "TYPE A T",
        "TYPE A C",
        "TYPE E",
        "TYPE E N",
        "TYPE E T",
        "TYPE E C",
        "TYPE I",
        "TYPE L 8",
        "type a c",
        "TYPE L 008",
    ] {
        c.expect(t, 200);
    }
    // RFC 959 §3.1.1.4: the byte size is obligatory; only 8 is this host's byte.
    for t in ["TYPE L 16", "TYPE L 36", "TYPE L 7"] {
        c.expect(t, 504);
    }
    for t in [
        "TYPE L", "TYPE L 0", "TYPE A X", "TYPE I N", "TYPE E 8", "TYPE",
    ] {
        c.expect(t, 501);
    }
    for s in ["STRU F", "STRU R", "stru f"] {
        c.expect(s, 200);
    }
    c.expect("STRU P", 504);
    c.expect("STRU X", 501);
    for m in ["MODE S", "MODE B", "MODE C", "mode s"] {
        c.expect(m, 200);
    }
    c.expect("MODE X", 501);
}

#[test]
fn stat_shows_type_structure_and_mode() {
    let (_srv, mut c) = session();
    assert_eq!(
        stat_params(&mut c),
        "TYPE: ASCII, STRUcture: File, MODE: Stream"
    );
    c.expect("TYPE E C", 200);
    c.expect("STRU R", 200);
    c.expect("MODE B", 200);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: EBCDIC ASA carriage control, STRUcture: Record, MODE: Block"
    );
    c.expect("TYPE I", 200);
    c.expect("MODE C", 200);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: BINARY, STRUcture: Record, MODE: Compressed"
    );
    c.expect("TYPE A T", 200);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: ASCII Telnet format, STRUcture: Record, MODE: Compressed"
    );
    // §4.1.2: "If the Format parameter is changed, and later just the first argument is
    // changed, Format then returns to the Non-print default."
    c.expect("TYPE A", 200);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: ASCII, STRUcture: Record, MODE: Compressed"
    );
}

#[test]
fn rein_and_a_new_login_reset_type_structure_and_mode() {
    let (_srv, mut c) = session();
    c.expect("TYPE E C", 200);
    c.expect("STRU R", 200);
    c.expect("MODE C", 200);
    c.expect("REIN", 220);
    c.login(ALICE.name, ALICE.password);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: ASCII, STRUcture: File, MODE: Stream"
    );
    // USER while logged in starts a new login: the parameters go back to the defaults too.
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    c.login(ALICE.name, ALICE.password);
    assert_eq!(
        stat_params(&mut c),
        "TYPE: ASCII, STRUcture: File, MODE: Stream"
    );
}

#[test]
fn help_names_the_parameters() {
    let (_srv, mut c) = session();
    let all = c.expect("HELP", 214);
    for verb in ["TYPE", "STRU", "MODE"] {
        assert!(all.contains(verb), "HELP lacks {verb}:\n{all}");
    }
    assert!(c.expect("HELP TYPE", 214).contains("E [N|T|C]"));
    assert!(c.expect("HELP STRU", 214).contains("F|R"));
    assert!(c.expect("HELP MODE", 214).contains("S|B|C"));
}

#[test]
fn ebcdic_codepage_is_a_config_key() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("ebcdic_codepage", "1047")
        .start();
    let mut c = srv.login(ALICE);
    c.expect("TYPE E", 200);
}

// ----- step 2: types, format controls and record structure in stream mode -------------------

/// RETR `name` in the session's parameters: the bytes on the wire.
fn retr(c: &mut FtpClient, name: &str) -> Vec<u8> {
    c.transfer_in(format!("RETR {name}").as_bytes(), DataMode::Pasv)
}

/// STOR `wire` as `name` in the session's parameters; the bytes the server stored.
fn stor(srv: &Server, c: &mut FtpClient, name: &str, wire: &[u8]) -> Vec<u8> {
    c.transfer_out(format!("STOR {name}").as_bytes(), wire, DataMode::Pasv);
    std::fs::read(srv.root().join(name)).unwrap()
}

/// "Hello, World!" LF "line2" LF in IBM-037, worked out from the code page's chart: NL (0x15)
/// ends each line (RFC 959 3.1.1.2).
const HELLO_037: &[u8] = &[
    0xC8, 0x85, 0x93, 0x93, 0x96, 0x6B, 0x40, 0xE6, 0x96, 0x99, 0x93, 0x84, 0x5A, 0x15, 0x93, 0x89,
    0x95, 0x85, 0xF2, 0x15,
];

#[test]
fn type_e_sends_and_stores_ebcdic_with_nl_line_ends() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("hello.txt"), b"Hello, World!\nline2\n").unwrap();
    c.expect("TYPE E", 200);
    assert_eq!(retr(&mut c, "hello.txt"), HELLO_037);
    assert_eq!(
        stor(&srv, &mut c, "up.txt", HELLO_037),
        b"Hello, World!\nline2\n"
    );
    // Every byte maps both ways: a file stored and retrieved with TYPE E is identical.
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(stor(&srv, &mut c, "all.bin", &all).len(), 256);
    assert_eq!(retr(&mut c, "all.bin"), all);
    // T is N on this host (the file carries its own effectors).
    c.expect("TYPE E T", 200);
    assert_eq!(retr(&mut c, "hello.txt"), HELLO_037);
}

#[test]
fn ebcdic_codepage_1047_differs_from_037_in_brackets() {
    let srv = Server::builder()
        .user(ALICE)
        .opt("ebcdic_codepage", "1047")
        .start();
    std::fs::write(srv.root().join("b.txt"), b"[a]").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("TYPE E", 200);
    assert_eq!(retr(&mut c, "b.txt"), [0xAD, 0x81, 0xBD]);
    let (srv037, mut c037) = session();
    std::fs::write(srv037.root().join("b.txt"), b"[a]").unwrap();
    c037.expect("TYPE E", 200);
    assert_eq!(retr(&mut c037, "b.txt"), [0xBA, 0x81, 0xBB]);
}

#[test]
fn format_t_is_format_n_on_unix() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("t.txt"), b"a\nb\x0c\n\x0bc\r\n").unwrap();
    c.expect("TYPE A T", 200);
    assert_eq!(retr(&mut c, "t.txt"), b"a\r\nb\x0c\r\n\x0bc\r\r\n");
    assert_eq!(
        stor(&srv, &mut c, "u.txt", b"x\r\n\x0cy\r\n"),
        b"x\n\x0cy\n"
    );
}

#[test]
fn format_c_is_asa_carriage_control_both_ways() {
    let (srv, mut c) = session();
    std::fs::write(
        srv.root().join("report.txt"),
        b"first\n\x0cpage2\nover\rprint\n\nlast",
    )
    .unwrap();
    c.expect("TYPE A C", 200);
    // ' ' a normal line, '1' a line after a form feed, '+' overprint; every line ends CRLF.
    assert_eq!(
        retr(&mut c, "report.txt"),
        b" first\r\n1page2\r\n over\r\n+print\r\n \r\n last\r\n"
    );
    // Received as POSIX asa(1): '0' is a blank line first, '1' a form feed, '+' a CR.
    assert_eq!(
        stor(&srv, &mut c, "in.txt", b" a\r\n0b\r\n1c\r\n+d\r\n"),
        b"a\n\nb\n\x0cc\rd\n"
    );
    // EBCDIC with ASA: the control characters are EBCDIC too (' ' 0x40, '1' 0xF1).
    std::fs::write(srv.root().join("e.txt"), b"A\n\x0cB\n").unwrap();
    c.expect("TYPE E C", 200);
    assert_eq!(retr(&mut c, "e.txt"), [0x40, 0xC1, 0x15, 0xF1, 0xC2, 0x15]);
    assert_eq!(
        stor(
            &srv,
            &mut c,
            "e2.txt",
            &[0x40, 0xC1, 0x15, 0xF1, 0xC2, 0x15]
        ),
        b"A\n\x0cB\n"
    );
}

#[test]
fn stru_r_sends_each_line_as_a_record_with_escapes() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("r.txt"), b"ab\nc\xffd\n\nlast").unwrap();
    c.expect("STRU R", 200);
    // RFC 959 3.4.1: EOR 0xFF 0x01, EOR+EOF 0xFF 0x03, a data 0xFF doubled; no CRLF.
    assert_eq!(
        retr(&mut c, "r.txt"),
        b"ab\xff\x01c\xff\xffd\xff\x01\xff\x01last\xff\x03"
    );
    assert_eq!(
        stor(&srv, &mut c, "s.txt", b"x\xff\x01y\xff\xff\xff\x01\xff\x02"),
        b"x\ny\xff\n"
    );
    // An empty file is no records, EOF alone.
    std::fs::write(srv.root().join("empty"), b"").unwrap();
    assert_eq!(retr(&mut c, "empty"), b"\xff\x02");
    // EBCDIC records: the bytes are EBCDIC, the line end is the EOR.
    c.expect("TYPE E", 200);
    std::fs::write(srv.root().join("e.txt"), b"A\nB").unwrap();
    assert_eq!(retr(&mut c, "e.txt"), b"\xc1\xff\x01\xc2\xff\x03");
    assert_eq!(
        stor(&srv, &mut c, "e2.txt", b"\xc1\xff\x01\xc2\xff\x03"),
        b"A\nB\n"
    );
}

#[test]
fn stru_r_with_image_is_one_record_per_file() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("b.bin"), b"\n\xff\x00").unwrap();
    c.expect("TYPE I", 200);
    c.expect("STRU R", 200);
    assert_eq!(retr(&mut c, "b.bin"), b"\n\xff\xff\x00\xff\x03");
    // Records received are stored back to back, bytes unchanged.
    assert_eq!(
        stor(&srv, &mut c, "c.bin", b"ab\xff\x01\ncd\xff\x01\xff\x02"),
        b"ab\ncd"
    );
    // A close without the EOF escape is an implied EOF (RFC 959 3.4), inside an escape not.
    assert_eq!(stor(&srv, &mut c, "d.bin", b"xy\xff\x01"), b"xy");
    let (mut s, _) = c.start_transfer(b"STOR bad.bin", DataMode::Pasv);
    use std::io::Write;
    s.write_all(b"zz\xff").unwrap();
    drop(s);
    let (code, _) = c.read_reply();
    assert_eq!(code, 426);
    let (mut s, _) = c.start_transfer(b"STOR bad2.bin", DataMode::Pasv);
    s.write_all(b"zz\xff\x07").unwrap();
    drop(s);
    let (code, _) = c.read_reply();
    assert_eq!(code, 426);
}

#[test]
fn listings_are_text_in_the_session_type_and_structure_but_mlsd_is_raw() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("ab"), b"x").unwrap();
    c.expect("TYPE E", 200);
    // RFC 959 4.1.3 NLST/LIST: "in type ASCII or type EBCDIC".
    assert_eq!(c.nlst(""), [0x81, 0x82, 0x15]);
    c.expect("TYPE I", 200);
    assert_eq!(c.nlst(""), b"ab\r\n");
    c.expect("STRU R", 200);
    assert_eq!(c.nlst(""), b"ab\xff\x03");
    let list = c.list("");
    assert!(list.ends_with(b" ab\xff\x03"), "{}", lossy(&list));
    // RFC 3659 7.2: MLSD goes as TYPE L 8, MODE S, STRU F whatever was set.
    c.expect("TYPE E", 200);
    let mlsd = c.transfer_in(b"MLSD", DataMode::Pasv);
    assert!(mlsd.ends_with(b"; ab\r\n"), "{}", lossy(&mlsd));
}

#[test]
fn size_counts_the_bytes_retr_sends_in_the_current_parameters() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("r.txt"), b"ab\nc\xffd\n").unwrap();
    for (params, size) in [
        (&["TYPE I"][..], 7),
        (&["TYPE A"], 9),
        (&["TYPE E"], 7),
        (&["TYPE A C"], 11),
        (&["TYPE A", "STRU R"], 10),
        (&["TYPE I", "MODE B"], 10),
        (&["TYPE A", "MODE B"], 12),
    ] {
        c.expect("STRU F", 200);
        c.expect("MODE S", 200);
        for p in params {
            c.expect(p, 200);
        }
        let got = c.expect("SIZE r.txt", 213);
        assert_eq!(got.trim(), format!("213 {size}"), "{params:?}");
        assert_eq!(retr(&mut c, "r.txt").len(), size, "{params:?}");
    }
}

// ----- step 3: block mode ---------------------------------------------------------------------

/// One block of RFC 959 3.4.2 as a test reads it: descriptor and data.
#[derive(Debug, PartialEq)]
struct Block {
    desc: u8,
    data: Vec<u8>,
}

/// Split block-mode wire bytes into blocks by their 3-byte headers; panics on a short block.
fn blocks(mut wire: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        assert!(wire.len() >= 3, "truncated header: {wire:?}");
        let count = usize::from(u16::from_be_bytes([wire[1], wire[2]]));
        assert!(wire.len() >= 3 + count, "truncated block");
        out.push(Block {
            desc: wire[0],
            data: wire[3..3 + count].to_vec(),
        });
        wire = &wire[3 + count..];
    }
    out
}

/// The data of data blocks (restart marker blocks left out), and the markers.
fn block_data(bs: &[Block]) -> (Vec<u8>, Vec<(usize, String)>) {
    let (mut data, mut markers) = (Vec::new(), Vec::new());
    for b in bs {
        if b.desc & 16 != 0 {
            markers.push((data.len(), String::from_utf8(b.data.clone()).unwrap()));
        } else {
            data.extend_from_slice(&b.data);
        }
    }
    (data, markers)
}

#[test]
fn mode_b_retr_frames_blocks_with_eof() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("hello"), b"hello").unwrap();
    std::fs::write(srv.root().join("empty"), b"").unwrap();
    std::fs::write(srv.root().join("t.txt"), b"a\nb\n").unwrap();
    std::fs::write(srv.root().join("r.txt"), b"ab\nc\n").unwrap();
    c.expect("MODE B", 200);
    c.expect("TYPE I", 200);
    // Descriptor 64 (EOF) on the last block, 16-bit big-endian count.
    assert_eq!(retr(&mut c, "hello"), b"\x40\x00\x05hello");
    assert_eq!(retr(&mut c, "empty"), b"\x40\x00\x00");
    c.expect("TYPE A", 200);
    assert_eq!(retr(&mut c, "t.txt"), b"\x40\x00\x06a\r\nb\r\n");
    // Records: EOR (128) ends each line's block, the last one EOR|EOF (192).
    c.expect("STRU R", 200);
    assert_eq!(retr(&mut c, "r.txt"), b"\x80\x00\x02ab\xc0\x00\x01c");
    // Listings too.
    c.expect("STRU F", 200);
    std::fs::remove_file(srv.root().join("r.txt")).unwrap();
    std::fs::remove_file(srv.root().join("t.txt")).unwrap();
    std::fs::remove_file(srv.root().join("empty")).unwrap();
    assert_eq!(c.nlst(""), b"\x40\x00\x07hello\r\n");
}

#[test]
fn mode_b_retr_of_a_large_file_uses_full_blocks() {
    let (srv, mut c) = session();
    let data = pattern(300_000, 3);
    std::fs::write(srv.root().join("big"), &data).unwrap();
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    let bs = blocks(&retr(&mut c, "big"));
    let (got, markers) = block_data(&bs);
    assert_eq!(got, data);
    assert!(markers.is_empty(), "{markers:?}");
    assert!(bs.iter().all(|b| b.data.len() <= 65535));
    assert!(bs.iter().any(|b| b.data.len() == 65535), "no full block");
    let last = bs.last().unwrap();
    assert_eq!(last.desc, 64, "the last block carries EOF");
    assert!(bs[..bs.len() - 1].iter().all(|b| b.desc == 0));
}

#[test]
fn mode_b_stor_appe_stou_decode_blocks() {
    let (srv, mut c) = session();
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    assert_eq!(
        stor(
            &srv,
            &mut c,
            "f",
            b"\x00\x00\x03abc\x20\x00\x01d\x40\x00\x02ef"
        ),
        b"abcdef"
    );
    c.transfer_out(b"APPE f", b"\x40\x00\x01g", DataMode::Pasv);
    assert_eq!(std::fs::read(srv.root().join("f")).unwrap(), b"abcdefg");
    let pre = c.transfer_out(b"STOU", b"\x40\x00\x02hi", DataMode::Pasv);
    let name = pre.split("FILE: ").nth(1).unwrap().trim().to_string();
    assert_eq!(std::fs::read(srv.root().join(name)).unwrap(), b"hi");
    // Records under TYPE A: each EOR is a line end.
    c.expect("TYPE A", 200);
    c.expect("STRU R", 200);
    assert_eq!(
        stor(
            &srv,
            &mut c,
            "r",
            b"\x80\x00\x01x\x00\x00\x01y\xc0\x00\x01z"
        ),
        b"x\nyz\n"
    );
    // A descriptor bit RFC 959 does not assign fails the upload.
    let (mut s, _) = c.start_transfer(b"STOR bad", DataMode::Pasv);
    use std::io::Write;
    s.write_all(b"\x01\x00\x01x").unwrap();
    drop(s);
    assert_eq!(c.read_reply().0, 426);
}

#[test]
fn mode_b_eof_ends_the_upload_without_the_close() {
    use std::io::{Read, Write};
    let (srv, mut c) = session();
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    let (mut s, _) = c.start_transfer(b"STOR kept", DataMode::Pasv);
    s.write_all(b"\x40\x00\x04data").unwrap();
    // The client keeps its end open: the EOF descriptor alone ends the transfer, and the
    // server closes the data connection (representation.rs: one connection per transfer).
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "{text}");
    let mut b = [0u8; 1];
    assert_eq!(s.read(&mut b).unwrap_or(0), 0);
    assert_eq!(std::fs::read(srv.root().join("kept")).unwrap(), b"data");
}

#[test]
fn abor_stat_and_noop_during_a_mode_b_download() {
    use std::io::Read;
    let (srv, mut c) = session();
    let len: u64 = 48 << 20;
    write_pattern_file(&srv.root().join("big"), len, 8);
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    let (mut data, _) = c.start_transfer(b"RETR big", DataMode::Pasv);
    let mut buf = vec![0u8; 512 * 1024];
    data.read_exact(&mut buf).unwrap();
    assert!(c.expect("STAT", 213).contains("bytes transferred"));
    c.expect("NOOP", 200);
    c.send("ABOR");
    let (code, text) = c.read_reply();
    assert_eq!(code, 426, "first reply to ABOR: {text}");
    let (code, text) = c.read_reply();
    assert_eq!(code, 226, "second reply to ABOR: {text}");
    c.expect("NOOP", 200);
    std::fs::write(srv.root().join("s"), b"s").unwrap();
    assert_eq!(retr(&mut c, "s"), b"\x40\x00\x01s");
}

// ----- step 4: compressed mode ----------------------------------------------------------------

#[test]
fn mode_c_retr_codes_strings_runs_and_filler() {
    let (srv, mut c) = session();
    std::fs::write(srv.root().join("hello"), b"hello").unwrap();
    std::fs::write(srv.root().join("zeros"), [0u8; 10]).unwrap();
    std::fs::write(srv.root().join("rep"), b"aaaaaaaaab").unwrap();
    std::fs::write(srv.root().join("t.txt"), b"a    b\n").unwrap();
    std::fs::write(srv.root().join("r.txt"), b"ab\nc\n").unwrap();
    c.expect("TYPE I", 200);
    c.expect("MODE C", 200);
    // RFC 959 3.4.3: 0nnnnnnn + n bytes; the EOF escape is 0x00 then descriptor 64.
    assert_eq!(retr(&mut c, "hello"), b"\x05hello\x00\x40");
    // Image filler is zero: 11nnnnnn, one byte for ten zeros.
    assert_eq!(retr(&mut c, "zeros"), b"\xca\x00\x40");
    // 10nnnnnn d: nine 'a's as one replicated byte.
    assert_eq!(retr(&mut c, "rep"), b"\x89a\x01b\x00\x40");
    // ASCII filler is space; the text is CRLF first.
    c.expect("TYPE A", 200);
    assert_eq!(retr(&mut c, "t.txt"), b"\x01a\xc4\x03b\r\n\x00\x40");
    // Records: the EOR escape after each, EOR|EOF on the last.
    c.expect("STRU R", 200);
    assert_eq!(retr(&mut c, "r.txt"), b"\x02ab\x00\x80\x01c\x00\xc0");
    c.expect("STRU F", 200);
    std::fs::write(srv.root().join("empty"), b"").unwrap();
    assert_eq!(retr(&mut c, "empty"), b"\x00\x40");
}

#[test]
fn mode_c_stor_expands_runs_with_the_types_filler() {
    let (srv, mut c) = session();
    c.expect("TYPE I", 200);
    c.expect("MODE C", 200);
    assert_eq!(
        stor(&srv, &mut c, "b", b"\x03abc\x83x\xc2\x00\x40"),
        b"abcxxx\0\0"
    );
    c.expect("TYPE A", 200);
    assert_eq!(
        stor(&srv, &mut c, "a", b"\x02hi\xc3\x02\r\n\x00\x40"),
        b"hi   \n"
    );
    // EBCDIC filler is EBCDIC space 0x40, stored as a space.
    c.expect("TYPE E", 200);
    assert_eq!(stor(&srv, &mut c, "e", b"\xc2\x01\xc1\x00\x40"), b"  A");
    // Records, with a restart marker in between (escape 16, then a byte string).
    c.expect("TYPE A", 200);
    c.expect("STRU R", 200);
    let (mut s, _) = c.start_transfer(b"STOR r", DataMode::Pasv);
    use std::io::Write;
    s.write_all(b"\x01x\x00\x80\x00\x10\x02m1\x01y\x00\xc0")
        .unwrap();
    let (code, text) = c.read_reply();
    assert_eq!((code, text.as_str()), (110, "110 MARK m1 = 2"));
    let (code, _) = c.read_reply();
    assert_eq!(code, 226);
    assert_eq!(std::fs::read(srv.root().join("r")).unwrap(), b"x\ny\n");
}

#[test]
fn mode_c_compresses_compressible_files_and_round_trips_any() {
    let (srv, mut c) = session();
    // A report-like text file: columns of spaces and runs shrink.
    let line = b"    12  ABC      ....     0000000000  text text\n";
    let text: Vec<u8> = line.repeat(2000);
    std::fs::write(srv.root().join("report.txt"), &text).unwrap();
    let noise = pattern(200_000, 5);
    std::fs::write(srv.root().join("noise"), &noise).unwrap();
    c.expect("TYPE A", 200);
    c.expect("MODE C", 200);
    let wire = retr(&mut c, "report.txt");
    assert!(
        wire.len() * 10 < text.len() * 7,
        "{} bytes on the wire for {}",
        wire.len(),
        text.len()
    );
    assert_eq!(stor(&srv, &mut c, "back.txt", &wire), text);
    c.expect("TYPE I", 200);
    let wire = retr(&mut c, "noise");
    // A byte string header per 127 bytes, and one more where a buffer cut a string.
    assert!(
        wire.len() <= noise.len() + noise.len() / 100,
        "{}",
        wire.len()
    );
    assert_eq!(stor(&srv, &mut c, "noise2", &wire), noise);
}

// ----- step 5: restart markers and REST -------------------------------------------------------

/// Decode compressed-mode wire bytes by RFC 959 3.4.3: the data, and each restart marker with
/// the data length before it.
fn decode_compressed(mut wire: &[u8], filler: u8) -> (Vec<u8>, Vec<(usize, String)>) {
    let (mut data, mut markers) = (Vec::new(), Vec::new());
    let mut marker_next = false;
    while let Some((&code, rest)) = wire.split_first() {
        wire = rest;
        let n = usize::from(code & 0x3F);
        match code >> 6 {
            0 if code == 0 => {
                let desc = wire[0];
                wire = &wire[1..];
                marker_next = desc & 16 != 0;
            }
            0 | 1 => {
                let n = usize::from(code & 0x7F);
                let bytes = &wire[..n];
                wire = &wire[n..];
                if std::mem::take(&mut marker_next) {
                    markers.push((data.len(), String::from_utf8(bytes.to_vec()).unwrap()));
                } else {
                    data.extend_from_slice(bytes);
                }
            }
            2 => {
                data.extend(std::iter::repeat_n(wire[0], n));
                wire = &wire[1..];
            }
            _ => data.extend(std::iter::repeat_n(filler, n)),
        }
    }
    (data, markers)
}

#[test]
fn retr_in_block_and_compressed_mode_sends_offset_markers_that_rest_takes_back() {
    let (srv, mut c) = session();
    let len = 9 << 20;
    let data = pattern(len, 11);
    std::fs::write(srv.root().join("big"), &data).unwrap();
    c.expect("TYPE I", 200);
    for mode in ["B", "C"] {
        c.expect(&format!("MODE {mode}"), 200);
        let wire = retr(&mut c, "big");
        let (got, markers) = if mode == "B" {
            block_data(&blocks(&wire))
        } else {
            decode_compressed(&wire, 0)
        };
        assert_eq!(got, data, "MODE {mode}");
        // Every few MiB (RFC 959 3.5), each the decimal count of bytes before it.
        assert_eq!(markers.len(), 2, "MODE {mode}: {markers:?}");
        for (at, m) in &markers {
            assert_eq!(m, &at.to_string(), "MODE {mode}");
        }
        // REST with the sender's marker resumes exactly there.
        let (at, m) = &markers[1];
        c.expect(&format!("REST {m}"), 350);
        let wire = retr(&mut c, "big");
        let (rest, _) = if mode == "B" {
            block_data(&blocks(&wire))
        } else {
            decode_compressed(&wire, 0)
        };
        assert_eq!(rest, &data[*at..], "MODE {mode}");
    }
    // A marker past the end is refused before any data (RFC 3659 5.3), in any mode.
    c.expect(&format!("REST {}", len + 1), 350);
    c.expect("PASV", 227);
    c.expect("RETR big", 554);
}

#[test]
fn stor_answers_each_restart_marker_with_110_and_rest_resumes_there() {
    use std::io::Write;
    let (srv, mut c) = session();
    c.expect("TYPE I", 200);
    c.expect("MODE B", 200);
    let (mut s, _) = c.start_transfer(b"STOR up", DataMode::Pasv);
    // data "abc", marker "r1", data "de", marker "ck-2", data "f", EOF.
    s.write_all(b"\x00\x00\x03abc\x10\x00\x02r1\x00\x00\x02de\x10\x00\x04ck-2\x40\x00\x01f")
        .unwrap();
    // RFC 959 4.2: "the text is exact": MARK yyyy = mmmm, ours the stored offset.
    assert_eq!(c.read_reply().1, "110 MARK r1 = 3");
    assert_eq!(c.read_reply().1, "110 MARK ck-2 = 5");
    assert_eq!(c.read_reply().0, 226);
    drop(s);
    assert_eq!(std::fs::read(srv.root().join("up")).unwrap(), b"abcdef");
    // The client failed after r1: REST with our marker, then the rest from its marker on.
    c.expect("REST 3", 350);
    assert_eq!(stor(&srv, &mut c, "up", b"\x40\x00\x03XYZ"), b"abcXYZ");
    // APPE: our markers count from the old end of the file.
    let (mut s, _) = c.start_transfer(b"APPE up", DataMode::Pasv);
    s.write_all(b"\x00\x00\x02gh\x10\x00\x01m\x40\x00\x00")
        .unwrap();
    assert_eq!(c.read_reply().1, "110 MARK m = 8");
    assert_eq!(c.read_reply().0, 226);
    drop(s);
    assert_eq!(std::fs::read(srv.root().join("up")).unwrap(), b"abcXYZgh");
    // ASCII: the marker is the stored offset, after CRLF became LF.
    c.expect("TYPE A", 200);
    let (mut s, _) = c.start_transfer(b"STOR t", DataMode::Pasv);
    s.write_all(b"\x00\x00\x04a\r\nb\x10\x00\x01x\x40\x00\x03\r\nc")
        .unwrap();
    assert_eq!(c.read_reply().1, "110 MARK x = 3");
    assert_eq!(c.read_reply().0, 226);
    drop(s);
    assert_eq!(std::fs::read(srv.root().join("t")).unwrap(), b"a\nb\nc");
    // A marker that is not printable would forge reply lines: the upload fails instead.
    let (mut s, _) = c.start_transfer(b"STOR bad", DataMode::Pasv);
    s.write_all(b"\x10\x00\x03a\r\n\x40\x00\x00").unwrap();
    drop(s);
    assert_eq!(c.read_reply().0, 426);
}

#[test]
fn asa_upload_resumed_at_a_marker_keeps_its_line_ends() {
    use std::io::Write;
    let (srv, mut c) = session();
    c.expect("TYPE A C", 200);
    c.expect("MODE B", 200);
    let (mut s, _) = c.start_transfer(b"STOR p", DataMode::Pasv);
    s.write_all(b"\x00\x00\x04 a\r\n\x10\x00\x02k1\x40\x00\x04 b\r\n")
        .unwrap();
    let mark = c.read_reply().1;
    assert_eq!(mark, "110 MARK k1 = 1");
    assert_eq!(c.read_reply().0, 226);
    drop(s);
    assert_eq!(std::fs::read(srv.root().join("p")).unwrap(), b"a\nb\n");
    // Resume from k1 with an overprint line: it still replaces the held newline.
    c.expect("REST 1", 350);
    assert_eq!(stor(&srv, &mut c, "p", b"\x40\x00\x04+b\r\n"), b"a\rb\n");
}
