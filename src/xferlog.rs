//! The transfer log: one wu-ftpd `xferlog(5)` line per finished or aborted transfer.
//!
//! Fields, space-separated: `current-time` (five words, `Sat Nov 21 08:30:00 2026`, UTC),
//! `transfer-time` (whole seconds, at least 1), `remote-host`, `file-size` (bytes moved),
//! `filename`, `transfer-type` (`a`scii/`b`inary), `special-action-flag` (`_`), `direction`
//! (`o`ut/`i`n), `access-mode` (`a`nonymous/`r`eal/`g`uest), `username`, `service-name`
//! (`ftp`), `authentication-method` (`0`), `authenticated-user-id` (`*`), `completion-status`
//! (`c`omplete/`i`ncomplete). In `filename` and `username` a space becomes `_`, and other
//! whitespace, control bytes, `\` and invalid UTF-8 become `\xNN`, so every line has exactly
//! 18 words and one line per transfer.

use crate::timefmt;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// Weekday abbreviations, Sunday first (1970-01-01 was a Thursday).
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Month abbreviations.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Which way the file went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A download (RETR): `o`.
    Outgoing,
    /// An upload (STOR, APPE, STOU): `i`.
    Incoming,
}

/// How the user logged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    /// Anonymous: `a`.
    Anonymous,
    /// A real account (users file or system user): `r`.
    Real,
    /// A guest account: `g`.
    Guest,
}

/// One transfer, as the xferlog records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XferRecord {
    /// How long the transfer took.
    pub duration: Duration,
    /// The client's address.
    pub remote: IpAddr,
    /// Bytes actually transferred.
    pub bytes: u64,
    /// The file as the client sees it (the virtual path, never the real one).
    pub path: Vec<u8>,
    /// Binary (`TYPE I`) rather than ASCII.
    pub binary: bool,
    /// Download or upload.
    pub direction: Direction,
    /// Anonymous, real or guest.
    pub access: AccessMode,
    /// The user name; for anonymous logins, the ID (e-mail) string given as the password.
    pub username: Vec<u8>,
    /// Whether the transfer completed (`c`) or was cut short (`i`).
    pub complete: bool,
}

/// The log line for `record` at `now` (seconds since 1970, UTC), with its newline.
pub fn format_line(record: &XferRecord, now: i64) -> String {
    let mut line = ctime(now);
    let secs = record.duration.as_secs() + u64::from(record.duration.subsec_nanos() >= 500_000_000);
    // At least 1, so size / time never divides by zero in report scripts.
    let secs = secs.max(1);
    let remote = record.remote.to_canonical();
    let _ = write!(line, " {secs} {remote} {} ", record.bytes);
    push_escaped(&mut line, &record.path);
    line.push_str(if record.binary { " b _ " } else { " a _ " });
    line.push_str(match record.direction {
        Direction::Outgoing => "o ",
        Direction::Incoming => "i ",
    });
    line.push_str(match record.access {
        AccessMode::Anonymous => "a ",
        AccessMode::Real => "r ",
        AccessMode::Guest => "g ",
    });
    push_escaped(&mut line, &record.username);
    line.push_str(" ftp 0 * ");
    line.push_str(if record.complete { "c\n" } else { "i\n" });
    line
}

/// `Www Mmm dd hh:mm:ss yyyy` as ctime(3) writes it (day padded with a space), in UTC.
fn ctime(now: i64) -> String {
    let (year, month, day, hour, min, sec) = timefmt::civil_from_unix(now);
    let weekday = usize::try_from((now.div_euclid(86_400) + 4).rem_euclid(7)).unwrap_or(0);
    let month = usize::try_from(month.saturating_sub(1)).unwrap_or(0);
    format!(
        "{} {} {day:>2} {hour:02}:{min:02}:{sec:02} {year}",
        WEEKDAYS.get(weekday).copied().unwrap_or("Sun"),
        MONTHS.get(month).copied().unwrap_or("Jan"),
    )
}

/// Append `bytes` as one word: space to `_`; other whitespace, controls, `\`, bad UTF-8 `\xNN`.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    if bytes.is_empty() {
        out.push('*');
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            // SECURITY: names are client input; a newline would forge a log line and a space
            // would shift every later field.
            if c == ' ' {
                out.push('_');
            } else if c.is_whitespace() || c.is_control() || c == '\\' {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// The xferlog file, open for appending; shared by all sessions.
#[derive(Debug)]
pub struct XferLog {
    file: File,
}

impl XferLog {
    /// Open (creating it, mode 0640) the log at `path` for appending.
    ///
    /// Open it before chroot and privilege drop: the log usually lives in root's `/var/log`.
    pub fn open(path: &Path) -> io::Result<XferLog> {
        // SECURITY: no symlink following, and nothing but a plain file (a FIFO would block
        // every session's writes); O_NONBLOCK only matters for such a FIFO's open.
        let file = File::options()
            .append(true)
            .create(true)
            .mode(0o640)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a plain file", path.display()),
            ));
        }
        Ok(XferLog { file })
    }

    /// Append the line for `record`, stamped with the current time.
    pub fn write(&self, record: &XferRecord) -> io::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.write_line(&format_line(record, now))
    }

    /// Append one line in a single `write(2)`: with `O_APPEND` the kernel places each write
    /// whole at the end, so lines from concurrent sessions never interleave.
    fn write_line(&self, line: &str) -> io::Result<()> {
        let n = (&self.file).write(line.as_bytes())?;
        if n == line.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to the xferlog (disk full?)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    /// 2026-11-21 08:30:00 UTC, a Saturday.
    const NOV_21_2026: i64 = 1_795_249_800;

    fn record() -> XferRecord {
        XferRecord {
            duration: Duration::from_millis(1200),
            remote: IpAddr::V4(Ipv4Addr::LOCALHOST),
            bytes: 1_048_576,
            path: b"/pub/file".to_vec(),
            binary: true,
            direction: Direction::Outgoing,
            access: AccessMode::Anonymous,
            username: b"anonymous".to_vec(),
            complete: true,
        }
    }

    /// Undo `push_escaped` (with `_` read back as a space).
    fn unescape(word: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = word.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
                i += 4;
            } else {
                out.push(if bytes[i] == b'_' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
        out
    }

    use crate::test_support::TempDir;

    #[test]
    fn the_documented_example_line() {
        assert_eq!(
            format_line(&record(), NOV_21_2026),
            "Sat Nov 21 08:30:00 2026 1 127.0.0.1 1048576 /pub/file b _ o a anonymous ftp 0 * c\n"
        );
    }

    #[test]
    fn every_field_parses_back() {
        let rec = XferRecord {
            duration: Duration::from_secs(75),
            remote: "2001:db8::7".parse().expect("ip"),
            bytes: 5_000_000_000,
            path: b"/in coming/caf\xc3\xa9 \xff\\x\nnew".to_vec(),
            binary: false,
            direction: Direction::Incoming,
            access: AccessMode::Real,
            username: b"bob smith".to_vec(),
            complete: false,
        };
        // 1970-01-01 00:00:05 UTC, a Thursday, with a space-padded day.
        let line = format_line(&rec, 5);
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.len(), 18, "{line}");
        assert_eq!(words[..5], ["Thu", "Jan", "1", "00:00:05", "1970"]);
        assert_eq!(words[5], "75");
        assert_eq!(words[6].parse::<IpAddr>().ok(), Some(rec.remote));
        assert_eq!(words[7].parse::<u64>().ok(), Some(5_000_000_000));
        assert_eq!(unescape(words[8]), rec.path);
        assert_eq!(words[8], "/in_coming/café_\\xff\\x5cx\\x0anew");
        assert_eq!(words[9], "a");
        assert_eq!(words[10], "_");
        assert_eq!(words[11], "i");
        assert_eq!(words[12], "r");
        assert_eq!(unescape(words[13]), rec.username);
        assert_eq!(words[14..], ["ftp", "0", "*", "i"]);
    }

    #[test]
    fn small_fields() {
        let mut rec = record();
        rec.access = AccessMode::Guest;
        rec.duration = Duration::ZERO;
        rec.username = Vec::new();
        rec.remote = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        let line = format_line(&rec, NOV_21_2026);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[5], "1", "zero seconds is logged as 1");
        assert_eq!(words[6], "192.0.2.1", "mapped IPv4 shown as IPv4");
        assert_eq!(words[12], "g");
        assert_eq!(words[13], "*", "an empty name still fills its field");
        rec.duration = Duration::from_millis(2500);
        rec.remote = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let words_line = format_line(&rec, NOV_21_2026);
        let words: Vec<&str> = words_line.split_whitespace().collect();
        assert_eq!((words[5], words[6]), ("3", "::1"));
        // Unicode whitespace and C1 controls are escaped too.
        let mut s = String::new();
        push_escaped(&mut s, "a\u{a0}b\u{85}c\u{2028}d\te".as_bytes());
        assert_eq!(s, "a\\xc2\\xa0b\\xc2\\x85c\\xe2\\x80\\xa8d\\x09e");
    }

    #[test]
    fn weekdays_and_padding() {
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(NOV_21_2026), "Sat Nov 21 08:30:00 2026");
        assert_eq!(ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ctime(-1), "Wed Dec 31 23:59:59 1969");
    }

    #[test]
    fn lines_are_appended_and_never_interleave() {
        let tmp = TempDir::new("append");
        let path = tmp.0.join("xferlog");
        std::fs::write(&path, "earlier line\n").expect("seed");
        let log = Arc::new(XferLog::open(&path).expect("open"));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let mut rec = record();
                        rec.path = format!("/t{t}/f{i}/{}", "x".repeat(300)).into_bytes();
                        log.write(&rec).expect("write");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 201);
        assert_eq!(lines[0], "earlier line");
        for line in &lines[1..] {
            assert_eq!(line.split_whitespace().count(), 18, "{line}");
            assert!(line.ends_with(" anonymous ftp 0 * c"), "{line}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "an existing file keeps its mode");
        let fresh = tmp.0.join("fresh");
        XferLog::open(&fresh).expect("create");
        let mode = std::fs::metadata(&fresh)
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077 & !0o040, 0, "new log is not world-readable");
    }

    #[test]
    fn symlinks_and_non_files_are_refused() {
        let tmp = TempDir::new("refuse");
        let target = tmp.0.join("target");
        std::fs::write(&target, "").expect("write");
        let link = tmp.0.join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(XferLog::open(&link).is_err());
        assert!(XferLog::open(&tmp.0).is_err(), "a directory");
        let fifo = tmp.0.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        assert!(
            XferLog::open(&fifo).is_err(),
            "must not block or accept a FIFO"
        );
    }
}
