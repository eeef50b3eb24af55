//! Property checks shared by the fuzz targets (`tests/fuzz/`) and the corpus replay test.
//!
//! Each check takes one raw input, drives a parser through the entry point the server uses,
//! and panics when a property fails. libFuzzer reports that panic as a crash, and
//! `tests/fuzz_corpus.rs` replays every committed corpus file through the same function, so
//! what the fuzzer checks and what `make test` checks cannot drift apart. Nothing here runs in
//! the server; the linker drops it from the binary.

use crate::auth::{check_hash, UserDb};
use crate::command::{self, Command, EpsvArg, Format, SiteCommand, TransferType};
use crate::command::{Mode as TransferMode, Structure as FileStructure};
use crate::config::{self, ConfigError};
use crate::line_reader::{LineEvent, LineReader};
use crate::listing::{self, GLOB_STEP_BUDGET};
use crate::timefmt;
use crate::vpath::{VirtualPath, MAX_COMPONENTS, MAX_PATH_BYTES};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};

/// A property check over one raw input; it panics when a property fails.
pub type Check = fn(&[u8]);

/// Every fuzz target: its name (`tests/fuzz/fuzz_targets/<name>.rs`, corpus in
/// `tests/fuzz/corpus/<name>/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("command", command),
    ("line_reader", line_reader),
    ("vpath", vpath),
    ("data_args", data_args),
    ("config", config_file),
    ("users", users_file),
    ("glob", glob),
];

/// The command parser: errors are 5xx replies, the verb's case does not matter, and a parsed
/// command written back in its canonical form parses to the same command.
pub fn command(line: &[u8]) {
    let parsed = command::parse(line);
    match &parsed {
        Ok(cmd) => {
            let _ = cmd.allowed_before_login();
            if let Some(canonical) = canonical_line(cmd) {
                let again = command::parse(&canonical);
                assert!(
                    again.as_ref() == Ok(cmd),
                    "{:?} parsed as {cmd:?}, its canonical form {:?} as {again:?}",
                    String::from_utf8_lossy(line),
                    String::from_utf8_lossy(&canonical),
                );
            }
        }
        Err(e) => {
            let code = e.to_reply().code.number();
            assert!(
                (500..600).contains(&code),
                "parse error {e:?} answered {code}"
            );
        }
    }
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let mut swapped = line.to_vec();
    for b in &mut swapped[..verb_end] {
        if b.is_ascii_alphabetic() {
            *b ^= 0x20;
        }
    }
    assert_eq!(
        command::parse(&swapped),
        parsed,
        "verb case changed the result"
    );
}

/// The line that a client would send for `cmd`, or `None` where the parser keeps too little of
/// the argument to write it back (ACCT, ALLO, a nameless SITE subcommand, MFMT past year 9999).
fn canonical_line(cmd: &Command) -> Option<Vec<u8>> {
    fn with(verb: &str, arg: &[u8]) -> Vec<u8> {
        [verb.as_bytes(), b" ", arg].concat()
    }
    fn opt(verb: &str, arg: &Option<Vec<u8>>) -> Vec<u8> {
        match arg {
            Some(a) => with(verb, a),
            None => verb.as_bytes().to_vec(),
        }
    }
    use Command::*;
    Some(match cmd {
        User(a) => with("USER", a),
        Pass(p) if p.expose().is_empty() => b"PASS".to_vec(),
        Pass(p) => with("PASS", p.expose()),
        Acct | Allo => return None,
        Rein => b"REIN".to_vec(),
        Quit => b"QUIT".to_vec(),
        Noop => b"NOOP".to_vec(),
        Syst => b"SYST".to_vec(),
        Help(a) => opt("HELP", a),
        Stat(a) => opt("STAT", a),
        Pwd => b"PWD".to_vec(),
        Cwd(a) => with("CWD", a),
        Cdup => b"CDUP".to_vec(),
        Mkd(a) => with("MKD", a),
        Rmd(a) => with("RMD", a),
        Dele(a) => with("DELE", a),
        Rnfr(a) => with("RNFR", a),
        Rnto(a) => with("RNTO", a),
        Type(t) => {
            let format = match t.format() {
                Format::NonPrint => "N",
                Format::Telnet => "T",
                Format::Carriage => "C",
            };
            match t {
                TransferType::Ascii(_) => format!("TYPE A {format}").into_bytes(),
                TransferType::Ebcdic(_) => format!("TYPE E {format}").into_bytes(),
                TransferType::Binary => b"TYPE I".to_vec(),
            }
        }
        Stru(FileStructure::File) => b"STRU F".to_vec(),
        Stru(FileStructure::Record) => b"STRU R".to_vec(),
        Mode(TransferMode::Stream) => b"MODE S".to_vec(),
        Mode(TransferMode::Block) => b"MODE B".to_vec(),
        Mode(TransferMode::Compressed) => b"MODE C".to_vec(),
        Port(SocketAddr::V4(a)) => {
            let [h1, h2, h3, h4] = a.ip().octets();
            let (p1, p2) = (a.port() >> 8, a.port() & 0xFF);
            format!("PORT {h1},{h2},{h3},{h4},{p1},{p2}").into_bytes()
        }
        Port(a) => panic!("PORT gave the IPv6 address {a}"),
        Pasv => b"PASV".to_vec(),
        Epsv(EpsvArg::Any) => b"EPSV".to_vec(),
        Epsv(EpsvArg::Protocol(p)) => format!("EPSV {p}").into_bytes(),
        Epsv(EpsvArg::All) => b"EPSV ALL".to_vec(),
        Eprt(a) => {
            let family = if a.is_ipv4() { 1 } else { 2 };
            format!("EPRT |{family}|{}|{}|", a.ip(), a.port()).into_bytes()
        }
        List(a) => opt("LIST", a),
        Nlst(a) => opt("NLST", a),
        Retr(a) => with("RETR", a),
        Stor(a) => with("STOR", a),
        Stou(a) => opt("STOU", a),
        Appe(a) => with("APPE", a),
        Rest(n) => format!("REST {n}").into_bytes(),
        Abor => b"ABOR".to_vec(),
        Site(SiteCommand::Help) => b"SITE HELP".to_vec(),
        Site(SiteCommand::Chmod(mode, path)) => with(&format!("SITE CHMOD {mode:o}"), path),
        Site(SiteCommand::Umask(None)) => b"SITE UMASK".to_vec(),
        Site(SiteCommand::Umask(Some(m))) => format!("SITE UMASK {m:o}").into_bytes(),
        Site(SiteCommand::Idle(None)) => b"SITE IDLE".to_vec(),
        Site(SiteCommand::Idle(Some(n))) => format!("SITE IDLE {n}").into_bytes(),
        Site(SiteCommand::Unknown(sub)) if sub.is_empty() => return None,
        Site(SiteCommand::Unknown(sub)) => with("SITE", sub),
        Smnt => b"SMNT".to_vec(),
        // Trimmed away to nothing ("AUTH  "): no line gives it back.
        Auth(m) | Prot(m) if m.is_empty() => return None,
        Auth(m) => with("AUTH", m.as_bytes()),
        Prot(l) => with("PROT", l.as_bytes()),
        Pbsz(n) => format!("PBSZ {n}").into_bytes(),
        Ccc => b"CCC".to_vec(),
        Feat => b"FEAT".to_vec(),
        Opts(a) => with("OPTS", a),
        Size(a) => with("SIZE", a),
        Mdtm(a) => with("MDTM", a),
        Mlst(a) => opt("MLST", a),
        Mlsd(a) => opt("MLSD", a),
        Mfmt(secs, nsec, path) => {
            let (y, mo, d, h, mi, s) = timefmt::civil_from_unix(*secs);
            if !(1000..=9999).contains(&y) {
                return None;
            }
            let time = format!("MFMT {y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}.{nsec:09}");
            with(&time, path)
        }
        Host(a) => with("HOST", a),
        Lang(a) => opt("LANG", a),
        Hash(a) => with("HASH", a),
        Rang(start, end) => format!("RANG {start} {end}").into_bytes(),
        Xcrc(path, None, None) if path.first() != Some(&b'"') => with("XCRC", path),
        Xcrc(path, _, _) if path.contains(&b'"') => return None,
        Xcrc(path, start, end) => {
            let mut line = [b"XCRC \"", &path[..], b"\""].concat();
            for n in [start, end].into_iter().flatten() {
                line.extend_from_slice(format!(" {n}").as_bytes());
            }
            line
        }
    })
}

/// PORT, EPRT and EPSV arguments, parsed as the server parses them (`command::parse`): what
/// is accepted is exactly what the text says, and it round-trips through the canonical form.
pub fn data_args(arg: &[u8]) {
    for verb in ["PORT", "EPRT", "EPSV"] {
        let line = [verb.as_bytes(), b" ", arg].concat();
        command(&line);
        let Ok(cmd) = command::parse(&line) else {
            continue;
        };
        let text = std::str::from_utf8(arg).expect("accepted a non-UTF-8 argument");
        match cmd {
            Command::Port(addr) => {
                let nums: Vec<u16> = text
                    .trim()
                    .split(',')
                    .map(|n| n.trim().parse().expect("PORT field is not a number"))
                    .collect();
                assert_eq!(nums.len(), 6, "PORT needs six numbers");
                assert!(nums.iter().all(|&n| n <= 255), "PORT field above 255");
                let ip: Vec<u16> = match addr.ip() {
                    IpAddr::V4(v4) => v4.octets().iter().map(|&o| o.into()).collect(),
                    IpAddr::V6(v6) => panic!("PORT gave {v6}"),
                };
                assert_eq!(ip, nums[..4]);
                assert_eq!(addr.port(), nums[4] << 8 | nums[5]);
            }
            Command::Eprt(addr) => {
                let delim = text.chars().next().expect("empty EPRT accepted");
                let fields: Vec<&str> = text.split(delim).collect();
                assert_eq!(fields.len(), 5, "EPRT needs |proto|addr|port|");
                let ip: IpAddr = fields[2].parse().expect("EPRT address");
                assert_eq!((ip, fields[3].parse().ok()), (addr.ip(), Some(addr.port())));
                assert_ne!(addr.port(), 0, "EPRT accepted port 0");
                match fields[1] {
                    "1" => assert!(addr.is_ipv4()),
                    "2" => assert!(addr.is_ipv6()),
                    p => panic!("EPRT accepted protocol {p:?}"),
                }
            }
            // "EPSV " with nothing after the space is plain EPSV.
            Command::Epsv(EpsvArg::Any) => assert!(arg.is_empty(), "EPSV {text:?} read as none"),
            Command::Epsv(EpsvArg::Protocol(p)) => {
                assert!(p == 1 || p == 2);
                assert_eq!(text.trim(), p.to_string());
            }
            Command::Epsv(EpsvArg::All) => assert!(text.trim().eq_ignore_ascii_case("ALL")),
            other => panic!("{verb} parsed as {other:?}"),
        }
    }
}

/// A byte source that hands out `data` in uneven pieces and now and then fails with
/// `Interrupted` or `WouldBlock`, as a socket with a receive timeout can.
struct Trickle<'a> {
    data: &'a [u8],
    state: u32,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A fixed linear congruential sequence: the same input always reads the same way.
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let r = self.state >> 16;
        match r % 16 {
            0 => return Err(io::ErrorKind::Interrupted.into()),
            1 => return Err(io::ErrorKind::WouldBlock.into()),
            _ => {}
        }
        let n = (1 + (r >> 4) as usize % 96)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The Telnet/line reader. Input: a byte for the line limit (1..=255, or 255 for the server's
/// own limit), a byte seeding how reads are split, then the stream. Every line fits the limit,
/// and the events are those of a straightforward model: Telnet commands removed, LF-ended
/// lines less one trailing CR, `TooLong` for each line past the limit (an unended one too),
/// then `Eof` for good.
pub fn line_reader(input: &[u8]) {
    let [limit, seed, stream @ ..] = input else {
        return;
    };
    let max_line = match limit {
        255 => crate::control::MAX_LINE,
        n => usize::from(*n) + 1,
    };
    let source = Trickle {
        data: stream,
        state: u32::from(*seed),
    };
    let mut reader = LineReader::new(source, max_line);
    let mut events = Vec::new();
    // Each call reads at least one byte, hits end of stream, or fails: bounded by the input.
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls <= 4 * stream.len() + 1000, "reader did not reach Eof");
        match reader.next_line() {
            Ok(LineEvent::Eof) => break,
            Ok(event) => events.push(event),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("unexpected read error {e}"),
        }
    }
    assert_eq!(
        reader.next_line().ok(),
        Some(LineEvent::Eof),
        "Eof is not final"
    );
    for event in &events {
        if let LineEvent::Line(line) = event {
            assert!(
                line.len() <= max_line,
                "a {} byte line past {max_line}",
                line.len()
            );
            assert!(!line.contains(&b'\n'), "a line holds LF");
        }
    }
    assert_eq!(events, line_model(stream, max_line));
}

/// What [`line_reader`] expects from `stream`, computed in two plain passes.
fn line_model(stream: &[u8], max_line: usize) -> Vec<LineEvent> {
    const IAC: u8 = 255;
    let mut data = Vec::with_capacity(stream.len());
    let mut i = 0;
    while i < stream.len() {
        if stream[i] != IAC {
            data.push(stream[i]);
            i += 1;
            continue;
        }
        match stream.get(i + 1) {
            None => break,
            Some(&IAC) => data.push(IAC),
            // WILL, WONT, DO, DONT and their option byte.
            Some(251..=254) => i += 1,
            // SE .. GA: commands without text.
            Some(240..=250) => {}
            // A lone IAC before text (the DM of a Synch went out of band).
            Some(&b) => data.push(b),
        }
        i += 2;
    }
    let mut events = Vec::new();
    let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let unended = pieces.pop().unwrap_or_default();
    for piece in pieces {
        let line = piece.strip_suffix(b"\r").unwrap_or(piece);
        events.push(if line.len() > max_line {
            LineEvent::TooLong
        } else {
            LineEvent::Line(line.to_vec())
        });
    }
    if unended.strip_suffix(b"\r").unwrap_or(unended).len() > max_line {
        events.push(LineEvent::TooLong);
    }
    events
}

/// Virtual path normalisation. Input: a byte giving the length of a directory part, the
/// directory (joined to `/` to make the cwd), then the argument joined to that cwd. Results
/// start with `/`, hold no empty, `.` or `..` names and stay within the limits; normalising
/// is idempotent; a relative argument means the cwd followed by it.
pub fn vpath(input: &[u8]) {
    let Some((&len, rest)) = input.split_first() else {
        return;
    };
    let (dir, arg) = rest.split_at(usize::from(len).min(rest.len()));
    let root = VirtualPath::root();
    let cwd = root.join(dir).unwrap_or_else(|_| root.clone());
    check_normal(&cwd);
    let joined = cwd.join(arg);
    match &joined {
        Ok(path) => {
            check_normal(path);
            assert_eq!(
                cwd.join(path.as_bytes()).as_ref(),
                Ok(path),
                "not idempotent"
            );
            match (path.parent(), path.file_name()) {
                (Some(parent), Some(name)) => {
                    check_normal(&parent);
                    assert_eq!(parent.join(name).as_ref(), Ok(path), "parent + name");
                }
                (None, None) => assert!(path.is_root()),
                other => panic!("parent and file name disagree: {other:?}"),
            }
        }
        Err(e) => assert_eq!(*e, crate::error::FtpError::NameNotAllowed),
    }
    if arg.contains(&0) {
        assert!(joined.is_err(), "a NUL byte was accepted");
    }
    if arg.first() != Some(&b'/') {
        let whole = [cwd.as_bytes(), b"/", arg].concat();
        assert_eq!(
            root.join(&whole),
            joined,
            "relative join differs from the whole path"
        );
    }
}

/// The invariants of a normalised [`VirtualPath`].
fn check_normal(path: &VirtualPath) {
    let bytes = path.as_bytes();
    assert_eq!(bytes.first(), Some(&b'/'), "{path:?} is not absolute");
    assert!(bytes.len() <= MAX_PATH_BYTES, "{} bytes", bytes.len());
    assert!(!bytes.contains(&0), "{path:?} holds NUL");
    if path.is_root() {
        return;
    }
    assert!(!bytes.ends_with(b"/"), "{path:?} ends in /");
    let names: Vec<&[u8]> = bytes[1..].split(|&b| b == b'/').collect();
    for name in &names {
        assert!(
            !matches!(*name, b"" | b"." | b".."),
            "{path:?} has the name {:?}",
            String::from_utf8_lossy(name)
        );
    }
    assert!(names.len() <= MAX_COMPONENTS, "{} names", names.len());
    assert!(path.components().eq(names.iter().copied()));
}

/// Checks a file-level error: it names the file and a line the text has.
fn check_file_error(e: &ConfigError, file: &str, text: Option<&str>, raw: &[u8]) {
    assert_eq!(e.file, file);
    assert!(!e.message.is_empty());
    let lines = raw.iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(
        (1..=lines).contains(&e.line),
        "error on line {} of {lines}",
        e.line
    );
    if let Some(text) = text {
        // Blank and comment lines are never the culprit.
        let line = text
            .lines()
            .nth(e.line - 1)
            .expect("error past the last line")
            .trim();
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "error on {line:?}"
        );
    }
}

/// The config file parser, from the bytes the file reader would read. Errors point at a real,
/// non-comment line; a parsed config written back key by key reads back equal.
pub fn config_file(raw: &[u8]) {
    const FILE: &str = "fuzz.conf";
    let text = match config::text_from_bytes(raw.to_vec(), FILE) {
        Ok(text) => text,
        Err(e) => return check_file_error(&e, FILE, None, raw),
    };
    let parsed = match config::parse_str(&text, FILE) {
        Ok(c) => c,
        Err(e) => return check_file_error(&e, FILE, Some(&text), raw),
    };
    let mut written = String::new();
    for (key, _) in config::KEYS {
        if let Some(value) = parsed.get(key) {
            written.push_str(&format!("{key} = {value}\n"));
        }
    }
    match config::parse_str(&written, "written.conf") {
        Ok(again) => assert_eq!(again, parsed, "rewritten config differs:\n{written}"),
        Err(e) => panic!("rewritten config fails: {e}\n{written}"),
    }
    let _ = parsed.validate();
}

/// The users-file parser, from the bytes the file reader would read. Errors point at a real,
/// non-comment line; every account has a clean name, a supported hash and an absolute home,
/// and the accounts written back as a users file read back the same.
pub fn users_file(raw: &[u8]) {
    const FILE: &str = "fuzz.users";
    let text = match config::text_from_bytes(raw.to_vec(), FILE) {
        Ok(text) => text,
        Err(e) => return check_file_error(&e, FILE, None, raw),
    };
    let db = match UserDb::parse(&text, FILE) {
        Ok(db) => db,
        Err(e) => return check_file_error(&e, FILE, Some(&text), raw),
    };
    let mut accounts = Vec::new();
    let mut written = String::new();
    for (name, hash, home, writable) in db.entries() {
        assert!(!name.is_empty() && !name.contains(':') && !name.starts_with('#'));
        assert!(!name.chars().any(|c| c.is_whitespace() || c.is_control()));
        assert_eq!(check_hash(hash), Ok(()));
        assert!(home.is_absolute());
        let perms = if writable { "rw" } else { "ro" };
        let home = home.to_str().expect("home read from text");
        written.push_str(&format!("{name}:{hash}:{home}:{perms}\n"));
        accounts.push((
            name.to_string(),
            hash.to_string(),
            home.to_string(),
            writable,
        ));
    }
    assert_eq!(accounts.len(), db.len());
    let again = UserDb::parse(&written, "written.users")
        .unwrap_or_else(|e| panic!("rewritten users file fails: {e}\n{written}"));
    let mut reread: Vec<_> = again
        .entries()
        .map(|(n, h, home, w)| (n.to_string(), h.to_string(), home.display().to_string(), w))
        .collect();
    accounts.sort();
    reread.sort();
    assert_eq!(accounts, reread);
}

/// The listing glob matcher. Input: pattern, a NUL, then the name. The matcher agrees with a
/// table-driven model, stays within a step bound computed from the pattern's shape, and with
/// the server's budget either answers like the model or gives up only past that bound. The
/// whole input also goes through the LIST argument splitter.
pub fn glob(input: &[u8]) {
    let (flags, path) = listing::split_list_args(input);
    let _ = (flags.all, flags.directory);
    if let Some(p) = path {
        assert!(
            !p.is_empty() && !matches!(p[0], b' ' | b'\t'),
            "{p:?} starts blank"
        );
    }
    let (pattern, name) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b""[..]),
    };
    let tokens = glob_tokens(pattern);
    let expected = glob_model(&tokens, name);
    // Passes over the pattern: one, plus one per backtrack of the last `*` (at most one per
    // name byte). A pass takes a step per token plus one, and pays each class what it scans.
    let per_pass: u64 = tokens.iter().map(|t| 1 + t.1).sum::<u64>() + 1;
    let bound = (name.len() as u64 + 1) * per_pass;
    if bound <= 1_000_000 {
        let within = listing::glob_match_budget(pattern, name, bound as u32);
        assert_eq!(
            within,
            Some(expected),
            "budget {bound} not enough or wrong answer"
        );
    }
    let served = listing::glob_match_budget(pattern, name, GLOB_STEP_BUDGET);
    match served {
        Some(answer) => assert_eq!(answer, expected),
        None => assert!(
            bound > u64::from(GLOB_STEP_BUDGET),
            "gave up under its bound"
        ),
    }
    assert_eq!(listing::glob_match(pattern, name), served == Some(true));
    if !listing::has_glob(pattern) {
        assert_eq!(expected, pattern == name);
    }
}

/// One glob token: which bytes it matches (`None` for `*`) and the steps the matcher is
/// charged for scanning it.
type GlobToken = (Option<Box<[bool; 256]>>, u64);

/// Split a pattern into tokens, as documented on [`listing::glob_match`].
fn glob_tokens(pattern: &[u8]) -> Vec<GlobToken> {
    let single = |b: u8| {
        let mut set = Box::new([false; 256]);
        set[usize::from(b)] = true;
        set
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        let (token, width) = match pattern[i] {
            b'*' => ((None, 0), 1),
            b'?' => ((Some(Box::new([true; 256])), 0), 1),
            b'[' => match glob_class(&pattern[i..]) {
                Some((set, width)) => ((Some(set), width as u64), width),
                // Unterminated: a literal `[`, after scanning to the end for a `]`.
                None => ((Some(single(b'[')), (pattern.len() - i) as u64), 1),
            },
            b => ((Some(single(b)), 0), 1),
        };
        tokens.push(token);
        i += width;
    }
    tokens
}

/// The class at the start of `pat` as a byte set and its width, or `None` if no `]` ends it.
fn glob_class(pat: &[u8]) -> Option<(Box<[bool; 256]>, usize)> {
    let negated = matches!(pat.get(1), Some(b'!' | b'^'));
    let first = if negated { 2 } else { 1 };
    let mut set = Box::new([false; 256]);
    let mut i = first;
    loop {
        let c = *pat.get(i)?;
        if c == b']' && i > first {
            break;
        }
        match (pat.get(i + 1), pat.get(i + 2)) {
            (Some(b'-'), Some(&hi)) if hi != b']' => {
                for b in c..=hi {
                    set[usize::from(b)] = true;
                }
                i += 3;
            }
            _ => {
                set[usize::from(c)] = true;
                i += 1;
            }
        }
    }
    if negated {
        for member in set.iter_mut() {
            *member = !*member;
        }
    }
    Some((set, i + 1))
}

/// Whether `tokens` match all of `name`: dynamic programming over suffixes, no backtracking.
fn glob_model(tokens: &[GlobToken], name: &[u8]) -> bool {
    // after[j]: the tokens after the current one match name[j..].
    let mut after: Vec<bool> = (0..=name.len()).map(|j| j == name.len()).collect();
    for (set, _) in tokens.iter().rev() {
        let mut here = vec![false; name.len() + 1];
        for j in (0..=name.len()).rev() {
            here[j] = match set {
                None => after[j] || (j < name.len() && here[j + 1]),
                Some(set) => j < name.len() && set[usize::from(name[j])] && after[j + 1],
            };
        }
        after = here;
    }
    after[0]
}
