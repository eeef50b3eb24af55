//! MLSD and MLST facts (RFC 3659 §7): which facts a session wants, and the lines that carry them.

use super::{
    is_blank, push_name, trim_blanks, trim_end_blanks, S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK,
};
use crate::file_info::{DirEntry, FileInfo, FileKind};
use crate::timefmt::format_mdtm;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::testkit::{entry, info, NOW};

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
}
