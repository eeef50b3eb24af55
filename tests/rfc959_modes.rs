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
