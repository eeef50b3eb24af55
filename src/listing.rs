//! Listing formats: LIST (`ls -l` lines), NLST, MLSD/MLST facts (RFC 3659 §7), and a bounded glob.
//!
//! Everything here is pure formatting over [`DirEntry`] values the jail produced: no filesystem
//! access, no clock (the caller passes `now`), UTC only. Output goes to the data connection as
//! is, so names are raw bytes; only CR and LF are replaced (by NUL) because they would end the
//! line early and let a crafted name forge extra entries (RFC 3659 §2.2 allows any recognisable
//! substitute).

use crate::file_info::{DirEntry, FileInfo, FileKind};
use crate::timefmt::{civil_from_unix, format_mdtm};

/// File type mask and types of `st_mode` (same values on every Linux architecture).
const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;
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

/// Work limit for one [`glob_match`] call; past it the name counts as not matching.
pub const GLOB_STEP_BUDGET: u32 = 100_000;

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

/// Space or tab, the separators between LIST flags.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Drop leading spaces and tabs.
fn trim_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

/// Drop trailing spaces and tabs.
fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    &s[..end]
}

/// Append a name for the data connection: raw bytes, with CR and LF sent as NUL.
fn push_name(name: &[u8], out: &mut Vec<u8>) {
    out.extend(name.iter().map(|&b| match b {
        b'\r' | b'\n' => 0,
        _ => b,
    }));
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

/// Which MLSx facts (RFC 3659 §7.5) the session wants; changed by `OPTS MLST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactSet {
    /// `type`: file, dir, cdir, pdir or an `OS.unix=` type.
    pub type_: bool,
    /// `size`: bytes, for files only.
    pub size: bool,
    /// `modify`: UTC time-val.
    pub modify: bool,
    /// `perm`: what this session may do (§7.5.5).
    pub perm: bool,
    /// `unique`: device and inode in hex.
    pub unique: bool,
    /// `unix.mode`: permission bits as four octal digits.
    pub unix_mode: bool,
    /// `unix.owner`: numeric uid.
    pub unix_owner: bool,
    /// `unix.group`: numeric gid.
    pub unix_group: bool,
}

/// Fact names in the order they are listed and emitted.
const FACT_NAMES: [&str; 8] = [
    "type",
    "size",
    "modify",
    "perm",
    "unique",
    "unix.mode",
    "unix.owner",
    "unix.group",
];

impl Default for FactSet {
    fn default() -> Self {
        FactSet::from_flags([true; 8])
    }
}

impl FactSet {
    /// No facts at all: MLSx then sends names only (§7.9).
    pub fn none() -> FactSet {
        FactSet::from_flags([false; 8])
    }

    /// Build from flags in [`FACT_NAMES`] order.
    fn from_flags(f: [bool; 8]) -> FactSet {
        FactSet {
            type_: f[0],
            size: f[1],
            modify: f[2],
            perm: f[3],
            unique: f[4],
            unix_mode: f[5],
            unix_owner: f[6],
            unix_group: f[7],
        }
    }

    /// Flags in [`FACT_NAMES`] order.
    fn flags(&self) -> [bool; 8] {
        [
            self.type_,
            self.size,
            self.modify,
            self.perm,
            self.unique,
            self.unix_mode,
            self.unix_owner,
            self.unix_group,
        ]
    }
}

/// Parse the argument of `OPTS MLST` (`type;size;`, with or without the leading `MLST` word).
///
/// Exactly the listed facts are enabled; unknown names are ignored and names match without
/// regard to case (RFC 3659 §7.9). No names at all means no facts.
pub fn parse_opts_mlst(arg: &[u8]) -> FactSet {
    let mut arg = trim_blanks(arg);
    if arg.len() >= 4
        && arg[..4].eq_ignore_ascii_case(b"MLST")
        && !matches!(arg.get(4), Some(&b) if !is_blank(b))
    {
        arg = trim_blanks(&arg[4..]);
    }
    let mut flags = [false; 8];
    for name in arg.split(|&b| b == b';') {
        let name = trim_end_blanks(trim_blanks(name));
        if let Some(i) = FACT_NAMES
            .iter()
            .position(|known| known.as_bytes().eq_ignore_ascii_case(name))
        {
            flags[i] = true;
        }
    }
    FactSet::from_flags(flags)
}

/// The enabled facts as `type;size;...;` for the `200 MLST OPTS <list>` reply (§7.9.1).
///
/// Empty when no facts are enabled; the reply text is then just `MLST OPTS`.
pub fn format_opts_mlst_reply(facts: &FactSet) -> String {
    let mut out = String::new();
    for (name, on) in FACT_NAMES.iter().zip(facts.flags()) {
        if on {
            out.push_str(name);
            out.push(';');
        }
    }
    out
}

/// The FEAT line ` MLST type*;size*;...;`: every supported fact, `*` on enabled ones (§7.8).
pub fn feat_mlst_line(facts: &FactSet) -> String {
    let mut out = String::from(" MLST ");
    for (name, on) in FACT_NAMES.iter().zip(facts.flags()) {
        out.push_str(name);
        if on {
            out.push('*');
        }
        out.push(';');
    }
    out
}

/// Marks the listed directory or its parent in MLSD output (RFC 3659 §7.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirRole {
    /// `type=cdir`: the directory being listed (`.`).
    Cdir,
    /// `type=pdir`: its parent (`..`).
    Pdir,
}

/// The `type` value for a non-directory special file; not standardised, clients treat it as
/// "something else" and we refuse to transfer it anyway.
fn other_type(mode: u32) -> &'static str {
    match mode & S_IFMT {
        S_IFIFO => "OS.unix=fifo",
        S_IFSOCK => "OS.unix=socket",
        S_IFCHR => "OS.unix=chardev",
        S_IFBLK => "OS.unix=blockdev",
        _ => "OS.unix=other",
    }
}

/// The `perm` letters (RFC 3659 §7.5.5), alphabetical. A guide, as the RFC says: derived from
/// whether the session may write at all, plus the entry's own mode bits as a hint.
fn perm_letters(info: &FileInfo, role: Option<DirRole>, writable: bool) -> String {
    let readable_bits = info.mode & 0o444 != 0;
    let writable_bits = info.mode & 0o222 != 0;
    let exec_bits = info.mode & 0o111 != 0;
    let mut p = String::new();
    let mut add = |letter: char, when: bool| {
        if when {
            p.push(letter);
        }
    };
    match info.kind {
        FileKind::File => {
            add('a', writable && writable_bits);
            add('d', writable);
            add('f', writable);
            add('r', readable_bits);
            add('w', writable && writable_bits);
        }
        FileKind::Dir => {
            // Deleting or renaming "." or ".." through its cdir/pdir name makes no sense.
            let named = role.is_none();
            add('c', writable && writable_bits);
            add('d', writable && named);
            add('e', exec_bits);
            add('f', writable && named);
            add('l', readable_bits && exec_bits);
            add('m', writable && writable_bits);
            add('p', writable && writable_bits);
        }
        FileKind::Symlink | FileKind::Other => {
            add('d', writable);
            add('f', writable);
        }
    }
    p
}

/// Append `fact=value;` for every enabled fact that applies to `info`.
fn push_facts(
    info: &FileInfo,
    facts: &FactSet,
    role: Option<DirRole>,
    writable: bool,
    out: &mut Vec<u8>,
) {
    let mut text = String::new();
    if facts.type_ {
        let value = match (role, info.kind) {
            (Some(DirRole::Cdir), _) => "cdir",
            (Some(DirRole::Pdir), _) => "pdir",
            (None, FileKind::File) => "file",
            (None, FileKind::Dir) => "dir",
            // RFC 3659 grammar form; FileZilla, lftp and others also accept it.
            (None, FileKind::Symlink) => "OS.unix=symlink",
            (None, FileKind::Other) => other_type(info.mode),
        };
        text.push_str(&format!("type={value};"));
    }
    // §7.5.7: size applies to non-directory types; only regular files have a meaningful one.
    if facts.size && info.kind == FileKind::File {
        text.push_str(&format!("size={};", info.size));
    }
    if facts.modify {
        // Whole seconds: some clients' parsers stumble on fractions, and MDTM agrees with this.
        text.push_str(&format!(
            "modify={};",
            format_mdtm(info.mtime, info.mtime_nsec, false)
        ));
    }
    if facts.perm {
        text.push_str(&format!("perm={};", perm_letters(info, role, writable)));
    }
    if facts.unique {
        text.push_str(&format!("unique={:x}i{:x};", info.dev, info.ino));
    }
    if facts.unix_mode {
        text.push_str(&format!("unix.mode={:04o};", info.mode & 0o7777));
    }
    if facts.unix_owner {
        text.push_str(&format!("unix.owner={};", info.uid));
    }
    if facts.unix_group {
        text.push_str(&format!("unix.group={};", info.gid));
    }
    out.extend_from_slice(text.as_bytes());
}

/// Append one MLSD line, `fact=value;...; name` and CRLF (RFC 3659 §7.2).
///
/// `entry.info` is the entry itself (a symlink is not followed). Pass the followed metadata as
/// `resolved` to describe what a symlink points to, as most servers do so clients can descend
/// into linked directories; with `None` a symlink is typed `OS.unix=symlink`. `role` marks the
/// `.` and `..` entries; `writable` says whether this session may modify anything.
pub fn format_mlsx_entry(
    entry: &DirEntry,
    resolved: Option<&FileInfo>,
    facts: &FactSet,
    role: Option<DirRole>,
    writable: bool,
    out: &mut Vec<u8>,
) {
    push_facts(resolved.unwrap_or(&entry.info), facts, role, writable, out);
    out.push(b' ');
    push_name(&entry.name, out);
    out.extend_from_slice(b"\r\n");
}

/// The MLST body line ` fact=value;...; pathname` for the 250 reply, without CRLF (§7.2).
///
/// `entry.name` should hold the pathname to show (as given, or absolute). The name is left raw:
/// `Reply` doubles IAC and replaces CR/LF on the control connection.
pub fn format_mlst_line(
    entry: &DirEntry,
    resolved: Option<&FileInfo>,
    facts: &FactSet,
    writable: bool,
) -> Vec<u8> {
    let mut out = vec![b' '];
    push_facts(
        resolved.unwrap_or(&entry.info),
        facts,
        None,
        writable,
        &mut out,
    );
    out.push(b' ');
    out.extend_from_slice(&entry.name);
    out
}

/// Whether a path argument contains glob characters (`*`, `?`, `[`).
pub fn has_glob(p: &[u8]) -> bool {
    p.iter().any(|&b| matches!(b, b'*' | b'?' | b'['))
}

/// Match a name against a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]` or `[^x]`), byte by byte.
///
/// No escapes (`\` is an ordinary byte) and no special case for a leading `.`: the caller hides
/// dot files unless `-a`. A `[` without a closing `]` is literal. Work is capped at
/// [`GLOB_STEP_BUDGET`] steps; a pattern that needs more is treated as not matching, so no
/// pattern can pin a CPU (vsftpd and BusyBox had such reports for recursive matchers).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    glob_match_budget(pattern, name, GLOB_STEP_BUDGET) == Some(true)
}

/// [`glob_match`] with an explicit budget; `None` when the budget ran out.
///
/// Iterative with a single backtrack point (the last `*`): a later `*` can absorb anything an
/// earlier one could, so the work is at most about `pattern.len() * name.len()` steps.
pub(crate) fn glob_match_budget(pattern: &[u8], name: &[u8], mut budget: u32) -> Option<bool> {
    let (mut p, mut n) = (0usize, 0usize);
    // Pattern index just after the last `*`, and the name index that `*` currently ends at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        budget = budget.checked_sub(1)?;
        let advanced = match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, n));
                continue;
            }
            None => {
                if n == name.len() {
                    return Some(true);
                }
                false
            }
            Some(_) if n >= name.len() => false,
            Some(b'?') => {
                p += 1;
                true
            }
            Some(b'[') => {
                let (class, scanned) = class_match(&pattern[p..], name[n]);
                // Charge the bytes scanned, so long or unterminated classes cost what they take.
                budget = budget.checked_sub(u32::try_from(scanned).unwrap_or(u32::MAX))?;
                match class {
                    Some(true) => {
                        p += scanned;
                        true
                    }
                    Some(false) => false,
                    // No closing `]`: the `[` is an ordinary byte.
                    None if name[n] == b'[' => {
                        p += 1;
                        true
                    }
                    None => false,
                }
            }
            Some(&c) => {
                let hit = name[n] == c;
                if hit {
                    p += 1;
                }
                hit
            }
        };
        if advanced {
            n += 1;
            continue;
        }
        // Mismatch: let the last `*` swallow one more byte and retry, or fail.
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return Some(false),
        }
    }
}

/// Match one byte against the class at the start of `pat` (`[...]`).
///
/// Returns whether it matched (`None` if there is no closing `]`) and the bytes scanned, which
/// is the class length when it is terminated.
fn class_match(pat: &[u8], b: u8) -> (Option<bool>, usize) {
    let mut i = 1;
    let negated = matches!(pat.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let Some(&c) = pat.get(i) else {
            return (None, pat.len());
        };
        // A `]` right after `[` or `[!` is a member, not the end (POSIX).
        if c == b']' && !first {
            return (Some(hit != negated), i + 1);
        }
        first = false;
        match (pat.get(i + 1), pat.get(i + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                if c <= b && b <= hi {
                    hit = true;
                }
                i += 3;
            }
            _ => {
                if c == b {
                    hit = true;
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14 22:13:20 UTC.
    const NOW: i64 = 1_700_000_000;

    fn info(kind: FileKind, mode: u32, size: u64, mtime: i64) -> FileInfo {
        FileInfo {
            kind,
            mode,
            nlink: 1,
            uid: 1000,
            gid: 100,
            size,
            mtime,
            mtime_nsec: 0,
            dev: 0x803,
            ino: 0x1f,
        }
    }

    fn entry(name: &[u8], info: FileInfo) -> DirEntry {
        DirEntry {
            name: name.to_vec(),
            info,
            link_target: None,
        }
    }

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

    fn mlsd(
        e: &DirEntry,
        resolved: Option<&FileInfo>,
        facts: &FactSet,
        role: Option<DirRole>,
        w: bool,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        format_mlsx_entry(e, resolved, facts, role, w, &mut out);
        out
    }

    #[test]
    fn mlsd_file() {
        let e = entry(
            b"readme.txt",
            info(FileKind::File, 0o100_644, 1234, NOW - 10_000),
        );
        assert_eq!(
            mlsd(&e, None, &FactSet::default(), None, true),
            b"type=file;size=1234;modify=20231114192640;perm=adfrw;unique=803i1f;\
              unix.mode=0644;unix.owner=1000;unix.group=100; readme.txt\r\n"
        );
        assert_eq!(
            mlsd(&e, None, &FactSet::default(), None, false),
            b"type=file;size=1234;modify=20231114192640;perm=r;unique=803i1f;\
              unix.mode=0644;unix.owner=1000;unix.group=100; readme.txt\r\n"
        );
    }

    #[test]
    fn mlsd_huge_file_and_odd_name() {
        let e = entry(
            b" sp ace\xe9\xff",
            info(FileKind::File, 0o100_444, 1 << 40, 0),
        );
        let facts = parse_opts_mlst(b"type;size;modify;perm;");
        assert_eq!(
            mlsd(&e, None, &facts, None, true),
            b"type=file;size=1099511627776;modify=19700101000000;perm=dfr;  sp ace\xe9\xff\r\n"
        );
    }

    #[test]
    fn mlsd_dirs_and_roles() {
        let mut d = info(FileKind::Dir, 0o040_755, 4096, NOW);
        d.uid = 0;
        let facts = parse_opts_mlst(b"type;perm;unix.mode;unix.owner");
        let e = entry(b"pub", d.clone());
        assert_eq!(
            mlsd(&e, None, &facts, None, true),
            b"type=dir;perm=cdeflmp;unix.mode=0755;unix.owner=0; pub\r\n"
        );
        assert_eq!(
            mlsd(&e, None, &facts, None, false),
            b"type=dir;perm=el;unix.mode=0755;unix.owner=0; pub\r\n"
        );
        let dot = entry(b".", d.clone());
        assert_eq!(
            mlsd(&dot, None, &facts, Some(DirRole::Cdir), true),
            b"type=cdir;perm=celmp;unix.mode=0755;unix.owner=0; .\r\n"
        );
        let mut up = d;
        up.mode = 0o041_777;
        assert_eq!(
            mlsd(&entry(b"..", up), None, &facts, Some(DirRole::Pdir), false),
            b"type=pdir;perm=el;unix.mode=1777;unix.owner=0; ..\r\n"
        );
        // Unreadable, unsearchable directory.
        let locked = entry(b"x", info(FileKind::Dir, 0o040_000, 0, NOW));
        assert_eq!(
            mlsd(&locked, None, &parse_opts_mlst(b"type;perm;"), None, false),
            b"type=dir;perm=; x\r\n"
        );
    }

    #[test]
    fn mlsd_symlinks() {
        let mut link = entry(b"latest", info(FileKind::Symlink, 0o120_777, 6, NOW));
        link.link_target = Some(b"v1.2.3".to_vec());
        let facts = parse_opts_mlst(b"type;size;unique;");
        // Followed: the target's facts under the link's name.
        let mut target = info(FileKind::Dir, 0o040_755, 4096, NOW);
        target.ino = 0xabc;
        assert_eq!(
            mlsd(&link, Some(&target), &facts, None, false),
            b"type=dir;unique=803iabc; latest\r\n"
        );
        // Dangling or not followed.
        assert_eq!(
            mlsd(&link, None, &facts, None, false),
            b"type=OS.unix=symlink;unique=803i1f; latest\r\n"
        );
    }

    #[test]
    fn mlsd_special_files() {
        let facts = parse_opts_mlst(b"type;size;perm;");
        let fifo = entry(b"p", info(FileKind::Other, 0o010_644, 0, NOW));
        assert_eq!(
            mlsd(&fifo, None, &facts, None, true),
            b"type=OS.unix=fifo;perm=df; p\r\n"
        );
        let dev = entry(b"d", info(FileKind::Other, 0o060_660, 0, NOW));
        assert_eq!(
            mlsd(&dev, None, &facts, None, false),
            b"type=OS.unix=blockdev;perm=; d\r\n"
        );
    }

    #[test]
    fn mlsd_no_facts_keeps_the_space() {
        let e = entry(b"n", info(FileKind::File, 0o100_644, 1, NOW));
        assert_eq!(mlsd(&e, None, &FactSet::none(), None, false), b" n\r\n");
        assert_eq!(
            mlsd(
                &entry(b"a\nb", e.info.clone()),
                None,
                &FactSet::none(),
                None,
                false
            ),
            b" a\0b\r\n"
        );
    }

    #[test]
    fn mlst_control_line() {
        let mut i = info(FileKind::File, 0o100_640, 5, 1_000_000_000);
        i.mtime_nsec = 500_000_000;
        let e = entry(b"/pub/a\xffb", i);
        assert_eq!(
            format_mlst_line(&e, None, &parse_opts_mlst(b"MLST size;modify;"), false),
            b" size=5;modify=20010909014640; /pub/a\xffb".to_vec()
        );
        assert_eq!(
            format_mlst_line(&e, None, &FactSet::none(), false),
            b"  /pub/a\xffb".to_vec()
        );
    }

    #[test]
    fn opts_mlst_parsing() {
        assert_eq!(
            parse_opts_mlst(b"type;size;modify;perm;unique;unix.mode;unix.owner;unix.group;"),
            FactSet::default()
        );
        assert_eq!(parse_opts_mlst(b""), FactSet::none());
        assert_eq!(parse_opts_mlst(b"MLST"), FactSet::none());
        assert_eq!(parse_opts_mlst(b"mlst "), FactSet::none());
        let ts = FactSet {
            type_: true,
            size: true,
            ..FactSet::none()
        };
        assert_eq!(parse_opts_mlst(b"type;size;"), ts);
        assert_eq!(parse_opts_mlst(b"MLST type;size;"), ts);
        assert_eq!(parse_opts_mlst(b"Type;SIZE"), ts);
        assert_eq!(parse_opts_mlst(b"type;x.hidden;size;media-type;;"), ts);
        assert_eq!(parse_opts_mlst(b" type ; size ;"), ts);
        assert_eq!(
            parse_opts_mlst(b"UNIX.mode;"),
            FactSet {
                unix_mode: true,
                ..FactSet::none()
            }
        );
        // Not a fact list at all.
        assert_eq!(parse_opts_mlst(b"MLSTtype;"), FactSet::none());
    }

    #[test]
    fn opts_and_feat_text() {
        let ts = parse_opts_mlst(b"size;type;");
        assert_eq!(format_opts_mlst_reply(&ts), "type;size;");
        assert_eq!(format_opts_mlst_reply(&FactSet::none()), "");
        assert_eq!(
            format_opts_mlst_reply(&FactSet::default()),
            "type;size;modify;perm;unique;unix.mode;unix.owner;unix.group;"
        );
        assert_eq!(
            feat_mlst_line(&FactSet::default()),
            " MLST type*;size*;modify*;perm*;unique*;unix.mode*;unix.owner*;unix.group*;"
        );
        assert_eq!(
            feat_mlst_line(&ts),
            " MLST type*;size*;modify;perm;unique;unix.mode;unix.owner;unix.group;"
        );
    }

    #[test]
    fn glob_detection() {
        assert!(has_glob(b"*.txt"));
        assert!(has_glob(b"a?c"));
        assert!(has_glob(b"[ab]"));
        assert!(!has_glob(b"plain name.txt"));
        assert!(!has_glob(b"a]b\\c"));
    }

    #[test]
    fn glob_table() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"", true),
            (b"*", b"anything", true),
            (b"", b"", true),
            (b"", b"a", false),
            (b"a", b"", false),
            (b"*.txt", b"notes.txt", true),
            (b"*.txt", b"notes.txt.bak", false),
            (b"*.txt", b".txt", true),
            (b"a*b*c", b"abc", true),
            (b"a*b*c", b"axxbyyc", true),
            (b"a*b*c", b"axxbyy", false),
            (b"a**b", b"ab", true),
            (b"*a", b"baaa", true),
            (b"*ab", b"aab", true),
            (b"?", b"x", true),
            (b"?", b"", false),
            (b"??", b"x", false),
            (b"a?c", b"abc", true),
            (b"a?c", b"a\xffc", true),
            (b"[abc]", b"b", true),
            (b"[abc]", b"d", false),
            (b"[a-z]x", b"qx", true),
            (b"[a-z]x", b"Qx", false),
            (b"[!a-z]", b"Q", true),
            (b"[!a-z]", b"q", false),
            (b"[^0-9]", b"q", true),
            (b"[]]", b"]", true),
            (b"[!]]", b"]", false),
            (b"[!]]", b"a", true),
            (b"[a-]", b"-", true),
            (b"[a-]", b"a", true),
            (b"[-a]", b"-", true),
            (b"[\x80-\xff]", b"\xe9", true),
            (b"[\x80-\xff]", b"e", false),
            (b"[ab", b"[ab", true),
            (b"[ab", b"a", false),
            (b"x[", b"x[", true),
            (b"*[0-9].log", b"app7.log", true),
            (b"*[0-9].log", b"app.log", false),
            (b"\\*", b"\\abc", true),
            (b"caf\xe9*", b"caf\xe9 au lait", true),
            (b"*A*", b"abc", false),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(
                glob_match(pattern, name),
                want,
                "{:?} vs {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn glob_many_stars_is_cheap() {
        // Exponential for naive recursive matchers; linear-ish here.
        let mut pattern = b"*a".repeat(60);
        pattern.push(b'b');
        let name = vec![b'a'; 255];
        assert_eq!(glob_match_budget(&pattern, &name, 10_000), Some(false));
        let mut name_b = name.clone();
        name_b.push(b'b');
        assert_eq!(glob_match_budget(&pattern, &name_b, 10_000), Some(true));
    }

    #[test]
    fn glob_budget_caps_work() {
        // Quadratic case: every start position scans the whole run of `a`s.
        let mut pattern = vec![b'*'];
        pattern.extend_from_slice(&[b'a'; 200]);
        pattern.push(b'b');
        let name = vec![b'a'; 5000];
        assert_eq!(glob_match_budget(&pattern, &name, GLOB_STEP_BUDGET), None);
        assert!(!glob_match(&pattern, &name));
        // Large classes are charged for their length too.
        let mut pattern = Vec::new();
        for _ in 0..50 {
            pattern.push(b'*');
            pattern.push(b'[');
            pattern.extend_from_slice(&[b'x'; 1000]);
            pattern.push(b']');
        }
        pattern.push(b'y');
        assert!(!glob_match(&pattern, &vec![b'x'; 255]));
        assert_eq!(
            glob_match_budget(&pattern, &vec![b'x'; 255], GLOB_STEP_BUDGET),
            None
        );
        // So are unterminated ones, rescanned at every position.
        let mut pattern = b"*[".to_vec();
        pattern.extend_from_slice(&[b'x'; 4000]);
        assert_eq!(
            glob_match_budget(&pattern, &vec![b'x'; 255], GLOB_STEP_BUDGET),
            None
        );
        assert!(glob_match(b"*[xx", b"ab[xx"));
    }
}
