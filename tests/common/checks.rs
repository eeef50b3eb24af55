//! Checks shared by tests: connections closed with 421, byte contents, names in listings and on
//! disk, and replies split out of a raw byte stream.

use super::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Replies seen while a connection closes: exactly the 421 notices, nothing else.
pub fn closed_with_421(c: &mut FtpClient, what: &str, timeout: Duration) -> Vec<Reply> {
    let seen = c
        .wait_closed(timeout)
        .unwrap_or_else(|e| panic!("{what}: the server did not close the connection: {e}"));
    assert!(!seen.is_empty(), "{what}: closed without a 421 reply");
    for r in &seen {
        assert_eq!(
            r.code,
            421,
            "{what}: unexpected reply before close: {}",
            r.text()
        );
    }
    seen
}

/// A connection refused at accept: greeted with 421, then closed with nothing more.
pub fn refused_with_421(c: &mut FtpClient, what: &str) {
    assert_eq!(c.greeting.code, 421, "{what}: {}", c.greeting.text());
    let seen = c
        .wait_closed(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{what}: not closed after the 421: {e}"));
    assert!(seen.is_empty(), "{what}: replies after the 421: {seen:?}");
}

/// Byte contents compared without dumping megabytes into the failure message.
pub fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    let show = |b: &[u8]| {
        if b.len() <= 80 {
            format!("{:?}", lossy(b))
        } else {
            format!("{} bytes, crc32 {:08x}", b.len(), crc32fast::hash(b))
        }
    };
    assert!(
        got == want,
        "{what}: got {}, expected {}",
        show(got),
        show(want)
    );
}

/// Names in a LIST body (ls -l lines).
pub fn list_names(raw: &[u8]) -> Vec<String> {
    listing_lines(raw)
        .iter()
        .filter(|l| !l.starts_with(b"total"))
        .map(|l| lossy(&ls_name(l)))
        .collect()
}

/// The names in the directory on disk that start with `prefix`.
pub fn disk_names_with(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Replies in a byte stream of CRLF lines: (code, text of all lines) each.
pub fn split_replies(raw: &[u8]) -> Vec<(u16, String)> {
    let text = lossy(raw);
    let mut out = Vec::new();
    let mut current: Option<(u16, Vec<String>)> = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        let last = line.as_bytes().get(3) != Some(&b'-');
        let (c, mut lines) = current.take().unwrap_or((code, Vec::new()));
        lines.push(line.to_string());
        if last && code == c {
            out.push((c, lines.join("\n")));
        } else {
            current = Some((c, lines));
        }
    }
    if let Some((c, lines)) = current {
        out.push((c, format!("INCOMPLETE: {}", lines.join("\n"))));
    }
    out
}
