//! LIST and NLST: the `ls` flags clients send with them, `ls -l` lines, bare NLST names.

use super::{
    is_blank, push_name, trim_blanks, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
    S_IFSOCK,
};
use crate::file_info::{DirEntry, FileInfo, FileKind};
use crate::timefmt::civil_from_unix;

/// Set-user-id, set-group-id and sticky bits.
const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// Half a Gregorian year in seconds: older timestamps show the year, as GNU `ls` does.
const SIX_MONTHS: i64 = 15_778_476;

/// Timestamps up to this far in the future still show the time (clock skew, fresh uploads).
const FUTURE_SLACK: i64 = 3600;

/// English month abbreviations: clients parse these, so never localised.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `ls`-style options given with LIST or NLST.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListFlags {
    /// `-a`: include names starting with `.`.
    pub all: bool,
    /// `-d`: list a directory itself rather than its contents.
    pub directory: bool,
}

/// Split a LIST/NLST argument into `ls` flags and an optional path.
///
/// Clients and users of command-line clients send `ls` options: `LIST -la`, `LIST -a /pub`,
/// `NLST -a`. Leading blank-separated tokens of the form `-` plus letters or digits are flags: `a` and `d`
/// are honoured, everything else (`l`, `L`, `R`, ...) is accepted and ignored — in particular no
/// recursive listing. The rest of the line, spaces included, is the path. A token `--` ends the
/// flags, so a file named `-la` is reached with `LIST -- -la` or `LIST ./-la`; a token with other
/// characters (`-foo.txt`, `-`) is a path, not flags.
pub fn split_list_args(arg: &[u8]) -> (ListFlags, Option<Vec<u8>>) {
    let mut flags = ListFlags::default();
    let mut rest = trim_blanks(arg);
    loop {
        let end = rest.iter().position(|&b| is_blank(b)).unwrap_or(rest.len());
        let token = &rest[..end];
        if token == b"--" {
            rest = trim_blanks(&rest[end..]);
            break;
        }
        match token.split_first() {
            Some((b'-', letters))
                if !letters.is_empty() && letters.iter().all(u8::is_ascii_alphanumeric) =>
            {
                for &c in letters {
                    match c {
                        b'a' => flags.all = true,
                        b'd' => flags.directory = true,
                        _ => {}
                    }
                }
            }
            _ => break,
        }
        rest = trim_blanks(&rest[end..]);
    }
    let path = if rest.is_empty() {
        None
    } else {
        Some(rest.to_vec())
    };
    (flags, path)
}

/// The `ls` type letter, from the `st_mode` type bits (falling back on `kind` if they are absent).
fn type_letter(info: &FileInfo) -> u8 {
    match info.mode & S_IFMT {
        S_IFREG => b'-',
        S_IFDIR => b'd',
        S_IFLNK => b'l',
        S_IFIFO => b'p',
        S_IFSOCK => b's',
        S_IFCHR => b'c',
        S_IFBLK => b'b',
        _ => match info.kind {
            FileKind::File => b'-',
            FileKind::Dir => b'd',
            FileKind::Symlink => b'l',
            FileKind::Other => b'?',
        },
    }
}

/// The ten-character mode string, e.g. `drwxr-sr-t`.
fn push_mode_string(info: &FileInfo, out: &mut Vec<u8>) {
    out.push(type_letter(info));
    let mode = info.mode;
    for (shift, special, with_x, without_x) in [
        (6, S_ISUID, b's', b'S'),
        (3, S_ISGID, b's', b'S'),
        (0, S_ISVTX, b't', b'T'),
    ] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { b'r' } else { b'-' });
        out.push(if bits & 2 != 0 { b'w' } else { b'-' });
        out.push(match (mode & special != 0, bits & 1 != 0) {
            (true, true) => with_x,
            (true, false) => without_x,
            (false, true) => b'x',
            (false, false) => b'-',
        });
    }
}

/// `Mmm dd HH:MM` for recent times, `Mmm dd  YYYY` otherwise; always 12 bytes for 4-digit years.
fn push_list_date(mtime: i64, now: i64, out: &mut Vec<u8>) {
    let (year, month, day, hour, min, _) = civil_from_unix(mtime);
    // civil_from_unix always gives 1..=12; the fallback only keeps this panic-free.
    let name = month
        .checked_sub(1)
        .and_then(|m| usize::try_from(m).ok())
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???");
    let recent =
        now.saturating_sub(SIX_MONTHS) < mtime && mtime <= now.saturating_add(FUTURE_SLACK);
    let text = if recent {
        format!("{name} {day:>2} {hour:02}:{min:02}")
    } else {
        format!("{name} {day:>2} {year:>5}")
    };
    out.extend_from_slice(text.as_bytes());
}

/// Append one `ls -l` line with CRLF, as LIST sends it (all times UTC).
///
/// Fixed minimum widths (links 3, owner and group 8 left-aligned, size 12) keep the columns
/// aligned without a first pass over the directory; a wider value only pushes the rest of its
/// line right, which `ls -l` parsers accept since they split fields on runs of blanks. Owner and group are numeric: there is no user database in the jail.
pub fn format_list_line(entry: &DirEntry, now: i64, out: &mut Vec<u8>) {
    let info = &entry.info;
    push_mode_string(info, out);
    let columns = format!(
        " {:>3} {:<8} {:<8} {:>12} ",
        info.nlink, info.uid, info.gid, info.size
    );
    out.extend_from_slice(columns.as_bytes());
    push_list_date(info.mtime, now, out);
    out.push(b' ');
    push_name(&entry.name, out);
    if type_letter(info) == b'l' {
        if let Some(target) = &entry.link_target {
            out.extend_from_slice(b" -> ");
            push_name(target, out);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Append one NLST line: the bare name and CRLF (RFC 959 §4.1.3).
pub fn format_nlst_line(name: &[u8], out: &mut Vec<u8>) {
    push_name(name, out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::testkit::{entry, info, NOW};

    fn list(e: &DirEntry) -> String {
        let mut out = Vec::new();
        format_list_line(e, NOW, &mut out);
        String::from_utf8(out).expect("utf-8 in this test")
    }

    #[test]
    fn list_regular_file() {
        let e = entry(
            b"readme.txt",
            info(FileKind::File, 0o100_644, 1234, NOW - 10_000),
        );
        assert_eq!(
            list(&e),
            "-rw-r--r--   1 1000     100              1234 Nov 14 19:26 readme.txt\r\n"
        );
    }

    #[test]
    fn list_directory() {
        let mut i = info(FileKind::Dir, 0o040_755, 4096, NOW - 30 * 86_400);
        i.nlink = 2;
        i.uid = 0;
        i.gid = 0;
        assert_eq!(
            list(&entry(b"pub", i)),
            "drwxr-xr-x   2 0        0                4096 Oct 15 22:13 pub\r\n"
        );
    }

    #[test]
    fn list_symlink_shows_target() {
        let mut e = entry(b"libc.so", info(FileKind::Symlink, 0o120_777, 11, NOW - 60));
        e.link_target = Some(b"../lib/libc".to_vec());
        assert_eq!(
            list(&e),
            "lrwxrwxrwx   1 1000     100                11 Nov 14 22:12 libc.so -> ../lib/libc\r\n"
        );
    }

    #[test]
    fn list_old_file_shows_year() {
        let e = entry(b"old", info(FileKind::File, 0o100_600, 0, 1_000_000_000));
        assert_eq!(
            list(&e),
            "-rw-------   1 1000     100                 0 Sep  9  2001 old\r\n"
        );
    }

    #[test]
    fn list_future_file() {
        // Within the hour of slack: still the time form.
        let near = entry(b"n", info(FileKind::File, 0o100_644, 1, NOW + 1800));
        assert!(list(&near).contains(" Nov 14 22:43 n\r\n"));
        // Beyond it: the year form, like `ls`.
        let far = entry(b"f", info(FileKind::File, 0o100_644, 1, NOW + 7200));
        assert!(list(&far).contains(" Nov 15  2023 f\r\n"));
    }

    #[test]
    fn list_six_month_boundary() {
        let edge = entry(b"e", info(FileKind::File, 0o100_644, 1, NOW - SIX_MONTHS));
        assert!(
            list(&edge).contains(" May 16  2023 e\r\n"),
            "{}",
            list(&edge)
        );
        let inside = entry(
            b"i",
            info(FileKind::File, 0o100_644, 1, NOW - SIX_MONTHS + 60),
        );
        assert!(
            list(&inside).contains(" May 16 07:19 i\r\n"),
            "{}",
            list(&inside)
        );
    }

    #[test]
    fn list_far_years() {
        let pre_epoch = entry(b"p", info(FileKind::File, 0o100_644, 1, -86_400 * 365));
        assert!(list(&pre_epoch).contains(" Jan  1  1969 p\r\n"));
        let y2100 = entry(b"y", info(FileKind::File, 0o100_644, 1, 4_102_444_800));
        assert!(list(&y2100).contains(" Jan  1  2100 y\r\n"));
        let huge = entry(b"h", info(FileKind::File, 0o100_644, 1, i64::MAX));
        assert!(list(&huge).contains(" Dec  4 292277026596 h\r\n"));
        let tiny = entry(b"t", info(FileKind::File, 0o100_644, 1, i64::MIN));
        assert!(list(&tiny).contains(" Jan 27 -292277022657 t\r\n"));
    }

    #[test]
    fn list_special_bits() {
        let cases: [(u32, &str); 9] = [
            (0o104_755, "-rwsr-xr-x"),
            (0o104_644, "-rwSr--r--"),
            (0o102_755, "-rwxr-sr-x"),
            (0o102_745, "-rwxr-Sr-x"),
            (0o041_777, "drwxrwxrwt"),
            (0o041_776, "drwxrwxrwT"),
            (0o107_000, "---S--S--T"),
            (0o107_777, "-rwsrwsrwt"),
            (0o100_000, "----------"),
        ];
        for (mode, want) in cases {
            let kind = if mode & S_IFMT == S_IFDIR {
                FileKind::Dir
            } else {
                FileKind::File
            };
            let line = list(&entry(b"x", info(kind, mode, 0, NOW)));
            assert_eq!(&line[..11], &format!("{want} "), "mode {mode:o}");
        }
    }

    #[test]
    fn list_special_file_types() {
        for (mode, letter) in [
            (0o010_644, 'p'),
            (0o140_755, 's'),
            (0o020_666, 'c'),
            (0o060_660, 'b'),
        ] {
            let line = list(&entry(b"x", info(FileKind::Other, mode, 0, NOW)));
            assert_eq!(line.chars().next(), Some(letter), "mode {mode:o}");
        }
        // Type bits missing: fall back on the kind.
        let line = list(&entry(b"x", info(FileKind::Dir, 0o755, 0, NOW)));
        assert!(line.starts_with("drwxr-xr-x "));
    }

    #[test]
    fn list_huge_size_and_wide_fields() {
        let e = entry(
            b"disk.img",
            info(FileKind::File, 0o100_644, 5_000_000_000, NOW),
        );
        assert_eq!(
            list(&e),
            "-rw-r--r--   1 1000     100        5000000000 Nov 14 22:13 disk.img\r\n"
        );
        let mut i = info(FileKind::File, 0o100_644, u64::MAX, NOW);
        i.nlink = 12_345;
        i.uid = 4_294_967_294;
        i.gid = 123_456_789;
        assert_eq!(
            list(&entry(b"big", i)),
            "-rw-r--r-- 12345 4294967294 123456789 18446744073709551615 Nov 14 22:13 big\r\n"
        );
    }

    #[test]
    fn list_raw_names() {
        let mut out = Vec::new();
        let e = entry(b"caf\xe9 \xff.txt", info(FileKind::File, 0o100_644, 3, NOW));
        format_list_line(&e, NOW, &mut out);
        assert!(out.ends_with(b" Nov 14 22:13 caf\xe9 \xff.txt\r\n"));
        // CR/LF cannot forge a second line.
        let mut out = Vec::new();
        let mut e = entry(b"a\r\nb", info(FileKind::Symlink, 0o120_777, 3, NOW));
        e.link_target = Some(b"t\n".to_vec());
        format_list_line(&e, NOW, &mut out);
        assert!(out.ends_with(b" a\0\0b -> t\0\r\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn nlst_lines() {
        let mut out = Vec::new();
        format_nlst_line(b"a b", &mut out);
        format_nlst_line(b"\xfe\xff", &mut out);
        format_nlst_line(b"x\ny", &mut out);
        assert_eq!(out, b"a b\r\n\xfe\xff\r\nx\0y\r\n");
    }

    #[test]
    fn list_args() {
        let f = |all, directory| ListFlags { all, directory };
        let none = ListFlags::default();
        /// Argument, expected flags, expected path.
        type Case = (&'static [u8], ListFlags, Option<&'static [u8]>);
        let cases: &[Case] = &[
            (b"", none, None),
            (b"   ", none, None),
            (b"-la", f(true, false), None),
            (b"-l", none, None),
            (b"-a /pub", f(true, false), Some(b"/pub")),
            (b"-l -a  my dir ", f(true, false), Some(b"my dir ")),
            (b"-d pub", f(false, true), Some(b"pub")),
            (b"-lad", f(true, true), None),
            (b"-R -aL x", f(true, false), Some(b"x")),
            (b"\t-a\tx y", f(true, false), Some(b"x y")),
            (b"my file", none, Some(b"my file")),
            (b"/pub -a", none, Some(b"/pub -a")),
            (b"-- -la", none, Some(b"-la")),
            (b"-a -- -x y", f(true, false), Some(b"-x y")),
            (b"--", none, None),
            (b"-", none, Some(b"-")),
            (b"-foo.txt", none, Some(b"-foo.txt")),
            (b"-a -foo.txt", f(true, false), Some(b"-foo.txt")),
            (b"*.txt", none, Some(b"*.txt")),
            (b"-a \xff\xfe", f(true, false), Some(b"\xff\xfe")),
        ];
        for (arg, flags, path) in cases {
            let got = split_list_args(arg);
            assert_eq!(
                got,
                (*flags, path.map(<[u8]>::to_vec)),
                "{:?}",
                String::from_utf8_lossy(arg)
            );
        }
    }
}
