//! Listing formats: LIST (`ls -l` lines), NLST, MLSD/MLST facts (RFC 3659 §7), and a bounded glob.
//!
//! Everything here is pure formatting over [`DirEntry`](crate::file_info::DirEntry) values the
//! jail produced: no filesystem access, no clock (the caller passes `now`), UTC only. Output goes
//! to the data connection as is, so names are raw bytes; only CR and LF are replaced (by NUL)
//! because they would end the line early and let a crafted name forge extra entries (RFC 3659
//! §2.2 allows any recognisable substitute).
//!
//! | file | what |
//! |---|---|
//! | `ls.rs` | LIST/NLST: `ls` flags in the argument, `ls -l` lines, bare NLST names |
//! | `facts.rs` | MLSD/MLST facts, `OPTS MLST` and the FEAT line (RFC 3659 §7) |
//! | `glob.rs` | the bounded `*`/`?`/`[...]` matcher for LIST/NLST patterns |

mod facts;
mod glob;
mod ls;
#[cfg(test)]
mod testkit;

pub use facts::{
    feat_mlst_line, format_mlst_line, format_mlsx_entry, format_opts_mlst_reply, parse_opts_mlst,
    DirRole, FactSet,
};
pub(crate) use glob::glob_match_budget;
pub use glob::{glob_match, has_glob, GLOB_STEP_BUDGET};
pub use ls::{format_list_line, format_nlst_line, split_list_args, ListFlags};

/// File type mask and types of `st_mode` (same values on every Linux architecture).
const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// Space or tab, the separators between LIST flags and between `OPTS MLST` fact names.
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
