//! The one parser: a control line (bytes) becomes a typed `Command` or the reply-worthy error.
//!
//! `parse` is pure (no I/O, no session state), so it is unit-tested by table and fuzzable.

use crate::auth::Password;
use crate::error::FtpError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Representation type (RFC 959 §3.1.1); only the ones we transfer are representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    /// `TYPE A [N|T|C]`: NVT-ASCII text, LF <-> CRLF.
    Ascii(Format),
    /// `TYPE E [N|T|C]`: EBCDIC text, through the configured code page, LF <-> NL.
    Ebcdic(Format),
    /// `TYPE I` / `TYPE L 8`: bytes as they are (a logical byte of 8 bits is this host's byte).
    Binary,
}

impl TransferType {
    /// The default of RFC 959 §3.1.1.1 and §5.1, at login and after REIN: ASCII Non-print.
    pub const DEFAULT: TransferType = TransferType::Ascii(Format::NonPrint);

    /// Whether this is a text type (ASCII or EBCDIC), whose data has lines.
    pub fn is_text(self) -> bool {
        !matches!(self, TransferType::Binary)
    }

    /// The vertical format control of a text type (Non-print for Image).
    pub fn format(self) -> Format {
        match self {
            TransferType::Ascii(f) | TransferType::Ebcdic(f) => f,
            TransferType::Binary => Format::NonPrint,
        }
    }
}

/// Vertical format control of a text type (RFC 959 §3.1.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `N`: no vertical format information (the default).
    NonPrint,
    /// `T`: the file holds Telnet format effectors (CR, LF, VT, FF) as its own bytes.
    Telnet,
    /// `C`: ASA (FORTRAN) carriage control characters start each line.
    Carriage,
}

/// File structure (RFC 959 §3.1.2); page structure is refused (504), see `parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// `STRU F`: a continuous sequence of bytes (the default).
    File,
    /// `STRU R`: a sequence of records.
    Record,
}

/// Transmission mode (RFC 959 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `MODE S`: a plain stream of bytes (the default).
    Stream,
    /// `MODE B`: blocks with 3-byte headers.
    Block,
    /// `MODE C`: byte strings, runs and escapes.
    Compressed,
}

/// The argument of EPSV (RFC 2428 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: the control connection's protocol.
    Any,
    /// `EPSV 1` or `EPSV 2`: a network protocol number.
    Protocol(u8),
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    All,
}

/// SITE subcommands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteCommand {
    /// `SITE HELP`.
    Help,
    /// `SITE CHMOD mode path`.
    Chmod(u32, Vec<u8>),
    /// `SITE UMASK [mode]`.
    Umask(Option<u32>),
    /// `SITE IDLE [seconds]`.
    Idle(Option<u64>),
    /// Any other subcommand (answered 500).
    Unknown(Vec<u8>),
}

/// A parsed control command with typed, validated arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// USER name.
    User(Vec<u8>),
    /// PASS secret (redacted in Debug).
    Pass(Password),
    /// ACCT info.
    Acct,
    /// REIN: back to the state just after the greeting.
    Rein,
    /// QUIT.
    Quit,
    /// NOOP.
    Noop,
    /// SYST.
    Syst,
    /// `HELP [verb]`.
    Help(Option<Vec<u8>>),
    /// `STAT [path]`.
    Stat(Option<Vec<u8>>),
    /// PWD / XPWD.
    Pwd,
    /// CWD / XCWD path.
    Cwd(Vec<u8>),
    /// CDUP / XCUP.
    Cdup,
    /// MKD / XMKD path.
    Mkd(Vec<u8>),
    /// RMD / XRMD path.
    Rmd(Vec<u8>),
    /// DELE path.
    Dele(Vec<u8>),
    /// RNFR path.
    Rnfr(Vec<u8>),
    /// RNTO path.
    Rnto(Vec<u8>),
    /// TYPE.
    Type(TransferType),
    /// `STRU F|R`.
    Stru(Structure),
    /// `MODE S|B|C`.
    Mode(Mode),
    /// PORT h1,h2,h3,h4,p1,p2.
    Port(SocketAddr),
    /// PASV.
    Pasv,
    /// EPSV [1|2|ALL].
    Epsv(EpsvArg),
    /// EPRT |proto|addr|port|.
    Eprt(SocketAddr),
    /// `LIST [flags] [path]`.
    List(Option<Vec<u8>>),
    /// `NLST [flags] [path]`.
    Nlst(Option<Vec<u8>>),
    /// RETR path.
    Retr(Vec<u8>),
    /// STOR path.
    Stor(Vec<u8>),
    /// STOU [name hint].
    Stou(Option<Vec<u8>>),
    /// APPE path.
    Appe(Vec<u8>),
    /// REST offset.
    Rest(u64),
    /// ALLO (ignored: 202).
    Allo,
    /// ABOR.
    Abor,
    /// SITE subcommand.
    Site(SiteCommand),
    /// SMNT (not implemented: 502).
    Smnt,
    /// FEAT (RFC 2389).
    Feat,
    /// `OPTS option [value]` (RFC 2389).
    Opts(Vec<u8>),
    /// SIZE path (RFC 3659).
    Size(Vec<u8>),
    /// MDTM path (RFC 3659).
    Mdtm(Vec<u8>),
    /// `MLST [path]` (RFC 3659 §7): facts over the control connection.
    Mlst(Option<Vec<u8>>),
    /// `MLSD [path]` (RFC 3659 §7): facts over the data connection.
    Mlsd(Option<Vec<u8>>),
    /// MFMT time path: set the modification time (draft-somers-ftp-mfxx).
    Mfmt(i64, u32, Vec<u8>),
    /// HOST name (RFC 7151).
    Host(Vec<u8>),
    /// `LANG [tag]` (RFC 2640 §4).
    Lang(Option<Vec<u8>>),
    /// HASH path (draft-bryan-ftpext-hash).
    Hash(Vec<u8>),
    /// RANG start end: byte range for the next HASH; `RANG 1 0` resets.
    Rang(u64, u64),
    /// `XCRC path [start [end]]`: CRC32 of the file or of bytes start..end.
    Xcrc(Vec<u8>, Option<u64>, Option<u64>),
    /// `AUTH mechanism` (RFC 2228, RFC 4217 §4): the mechanism upper-cased.
    Auth(String),
    /// `PBSZ n` (RFC 4217 §8).
    Pbsz(u64),
    /// `PROT level` (RFC 4217 §9): the level upper-cased.
    Prot(String),
    /// CCC: clear the control channel (RFC 4217 §6; refused).
    Ccc,
}

/// Every verb we recognise, in HELP order; aliases included.
pub const VERBS: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT",
    "HASH", "HELP", "HOST", "LANG", "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST",
    "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "RANG", "REIN", "REST",
    "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU", "STRU", "SYST",
    "TYPE", "USER", "XCRC", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
];

impl Command {
    /// Whether this command may run before a successful login (the login set).
    pub fn allowed_before_login(&self) -> bool {
        matches!(
            self,
            Command::User(_)
                | Command::Pass(_)
                | Command::Acct
                | Command::Rein
                | Command::Quit
                | Command::Noop
                | Command::Syst
                | Command::Help(_)
                | Command::Feat
                | Command::Opts(_)
                | Command::Host(_)
                | Command::Lang(_)
                | Command::Auth(_)
                | Command::Pbsz(_)
                | Command::Prot(_)
                | Command::Ccc
        )
    }

    /// Whether this command changes the tree or how new files are made, so a read-only
    /// account is refused it. Exhaustive on purpose: a new command must be classified here.
    pub fn needs_write(&self) -> bool {
        match self {
            Command::Mkd(_)
            | Command::Rmd(_)
            | Command::Dele(_)
            | Command::Rnfr(_)
            | Command::Rnto(_)
            | Command::Stor(_)
            | Command::Stou(_)
            | Command::Appe(_)
            | Command::Mfmt(..) => true,
            Command::Site(sub) => match sub {
                SiteCommand::Chmod(..) | SiteCommand::Umask(Some(_)) => true,
                SiteCommand::Help
                | SiteCommand::Umask(None)
                | SiteCommand::Idle(_)
                | SiteCommand::Unknown(_) => false,
            },
            Command::User(_)
            | Command::Pass(_)
            | Command::Acct
            | Command::Rein
            | Command::Quit
            | Command::Noop
            | Command::Syst
            | Command::Help(_)
            | Command::Stat(_)
            | Command::Pwd
            | Command::Cwd(_)
            | Command::Cdup
            | Command::Type(_)
            | Command::Stru(_)
            | Command::Mode(_)
            | Command::Port(_)
            | Command::Pasv
            | Command::Epsv(_)
            | Command::Eprt(_)
            | Command::List(_)
            | Command::Nlst(_)
            | Command::Retr(_)
            | Command::Rest(_)
            | Command::Allo
            | Command::Abor
            | Command::Smnt
            | Command::Feat
            | Command::Opts(_)
            | Command::Size(_)
            | Command::Mdtm(_)
            | Command::Mlst(_)
            | Command::Mlsd(_)
            | Command::Host(_)
            | Command::Lang(_)
            | Command::Hash(_)
            | Command::Rang(..)
            | Command::Xcrc(..)
            | Command::Auth(_)
            | Command::Pbsz(_)
            | Command::Prot(_)
            | Command::Ccc => false,
        }
    }
}

/// Split a line into its upper-cased verb and its argument (everything after one space).
pub fn split_verb(line: &[u8]) -> (String, Option<&[u8]>) {
    let (verb, arg) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    // "CWD " with nothing after the space is the same as no argument.
    (verb, arg.filter(|a| !a.is_empty()))
}

/// Parse one control line (terminator already removed).
pub fn parse(line: &[u8]) -> Result<Command, FtpError> {
    let (verb, arg) = split_verb(line);
    if verb.is_empty() || verb.len() > 4 || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(FtpError::SyntaxError);
    }
    let need = || arg.map(<[u8]>::to_vec).ok_or(MISSING);
    let none = || match arg {
        None => Ok(()),
        Some(_) => Err(FtpError::BadArgument("This command takes no argument.")),
    };
    let opt = || arg.map(<[u8]>::to_vec);
    let cmd = match verb.as_str() {
        "USER" => Command::User(need()?),
        "PASS" => Command::Pass(Password::new(arg.map(<[u8]>::to_vec).unwrap_or_default())),
        "ACCT" => {
            need()?;
            Command::Acct
        }
        "REIN" => Command::Rein,
        "QUIT" => Command::Quit,
        "NOOP" => Command::Noop,
        "SYST" => Command::Syst,
        "HELP" => Command::Help(opt()),
        "STAT" => Command::Stat(opt()),
        "PWD" | "XPWD" => {
            none()?;
            Command::Pwd
        }
        "CWD" | "XCWD" => Command::Cwd(need()?),
        "CDUP" | "XCUP" => Command::Cdup,
        "MKD" | "XMKD" => Command::Mkd(need()?),
        "RMD" | "XRMD" => Command::Rmd(need()?),
        "DELE" => Command::Dele(need()?),
        "RNFR" => Command::Rnfr(need()?),
        "RNTO" => Command::Rnto(need()?),
        "TYPE" => Command::Type(parse_type(arg.ok_or(MISSING)?)?),
        "STRU" => match upper(arg.ok_or(MISSING)?).as_str() {
            "F" => Command::Stru(Structure::File),
            "R" => Command::Stru(Structure::Record),
            // Page structure's header fields are one logical byte each (RFC 959 §3.1.2.3):
            // with this host's 8-bit bytes a page index and a page length stop at 255, so it
            // cannot describe a file of more than 64 KB. It was made for 36-bit hosts (TYPE
            // L 36), and §5.1 does not require it: implemented, not offered.
            "P" => return Err(FtpError::ParameterNotImplemented),
            _ => return Err(MISSING),
        },
        "MODE" => match upper(arg.ok_or(MISSING)?).as_str() {
            "S" => Command::Mode(Mode::Stream),
            "B" => Command::Mode(Mode::Block),
            "C" => Command::Mode(Mode::Compressed),
            _ => return Err(MISSING),
        },
        "PORT" => Command::Port(parse_port(arg.ok_or(MISSING)?)?),
        "PASV" => Command::Pasv,
        "EPSV" => Command::Epsv(parse_epsv(arg)?),
        "EPRT" => Command::Eprt(parse_eprt(arg.ok_or(MISSING)?)?),
        "LIST" => Command::List(opt()),
        "NLST" => Command::Nlst(opt()),
        "RETR" => Command::Retr(need()?),
        "STOR" => Command::Stor(need()?),
        "STOU" => Command::Stou(opt()),
        "APPE" => Command::Appe(need()?),
        "REST" => Command::Rest(parse_u64(arg.ok_or(MISSING)?).ok_or(BAD_REST)?),
        "ALLO" => Command::Allo,
        "ABOR" => Command::Abor,
        "SITE" => Command::Site(parse_site(arg.ok_or(MISSING)?)?),
        "SMNT" => Command::Smnt,
        "FEAT" => Command::Feat,
        "OPTS" => Command::Opts(need()?),
        "SIZE" => Command::Size(need()?),
        "MDTM" => Command::Mdtm(need()?),
        "MLST" => Command::Mlst(opt()),
        "MLSD" => Command::Mlsd(opt()),
        "MFMT" => parse_mfmt(arg.ok_or(MISSING)?)?,
        "HOST" => Command::Host(parse_host(arg.ok_or(MISSING)?)?),
        "LANG" => Command::Lang(opt()),
        "HASH" => Command::Hash(need()?),
        "RANG" => parse_rang(arg.ok_or(MISSING)?)?,
        "XCRC" => parse_xcrc(arg.ok_or(MISSING)?)?,
        "AUTH" => Command::Auth(upper(arg.ok_or(MISSING)?)),
        "PBSZ" => Command::Pbsz(parse_u64(arg.ok_or(MISSING)?).ok_or(MISSING)?),
        "PROT" => Command::Prot(upper(arg.ok_or(MISSING)?)),
        "CCC" => {
            none()?;
            Command::Ccc
        }
        _ => return Err(FtpError::SyntaxError),
    };
    Ok(cmd)
}

const MISSING: FtpError = FtpError::BadArgument("Syntax error in parameters or arguments.");
const BAD_REST: FtpError = FtpError::BadArgument("REST requires a decimal byte offset.");
const BAD_PORT: FtpError = FtpError::BadArgument("Illegal PORT command.");
const BAD_EPRT: FtpError = FtpError::BadArgument("Illegal EPRT command.");

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).trim().to_ascii_uppercase()
}

/// A plain decimal number (no sign, no spaces), at most u64.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// TYPE arguments of RFC 959 §4.1.2: A [N|T|C], E [N|T|C], I, L byte-size.
fn parse_type(arg: &[u8]) -> Result<TransferType, FtpError> {
    let text = upper(arg);
    let mut words = text.split_ascii_whitespace();
    let first = words.next().ok_or(MISSING)?;
    let second = words.next();
    if words.next().is_some() {
        return Err(MISSING);
    }
    let format = |f: Option<&str>| match f {
        // §4.1.2: a type given without its format returns to Non-print.
        None | Some("N") => Ok(Format::NonPrint),
        Some("T") => Ok(Format::Telnet),
        Some("C") => Ok(Format::Carriage),
        Some(_) => Err(MISSING),
    };
    match (first, second) {
        ("A", f) => Ok(TransferType::Ascii(format(f)?)),
        ("E", f) => Ok(TransferType::Ebcdic(format(f)?)),
        ("I", None) => Ok(TransferType::Binary),
        // §3.1.1.4: the byte size is obligatory ("L" alone is a syntax error, 501) and a
        // decimal integer; 8 is this host's byte, any other size is not implemented (504).
        ("L", Some(n)) if n.bytes().all(|b| b.is_ascii_digit()) => {
            match n.trim_start_matches('0') {
                "" => Err(MISSING),
                "8" => Ok(TransferType::Binary),
                _ => Err(FtpError::ParameterNotImplemented),
            }
        }
        _ => Err(MISSING),
    }
}

/// `h1,h2,h3,h4,p1,p2`, each a decimal 0..=255 (RFC 959 §4.1.2).
fn parse_port(arg: &[u8]) -> Result<SocketAddr, FtpError> {
    let text = std::str::from_utf8(arg).map_err(|_| BAD_PORT)?.trim();
    let mut nums = [0u8; 6];
    let mut count = 0;
    for part in text.split(',') {
        if count == 6 {
            return Err(BAD_PORT);
        }
        let part = part.trim();
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BAD_PORT);
        }
        nums[count] = part.parse().map_err(|_| BAD_PORT)?;
        count += 1;
    }
    if count != 6 {
        return Err(BAD_PORT);
    }
    let ip = Ipv4Addr::new(nums[0], nums[1], nums[2], nums[3]);
    let port = u16::from(nums[4]) << 8 | u16::from(nums[5]);
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

/// `EPRT <d><proto><d><addr><d><port><d>` (RFC 2428 §2).
fn parse_eprt(arg: &[u8]) -> Result<SocketAddr, FtpError> {
    let text = std::str::from_utf8(arg).map_err(|_| BAD_EPRT)?;
    let delim = text.chars().next().ok_or(BAD_EPRT)?;
    if !(33..=126).contains(&(delim as u32)) || delim.is_ascii_alphanumeric() {
        return Err(BAD_EPRT);
    }
    let fields: Vec<&str> = text.split(delim).collect();
    // "" proto addr port "" : exactly five pieces, the last one empty.
    if fields.len() != 5 || !fields[0].is_empty() || !fields[4].is_empty() {
        return Err(BAD_EPRT);
    }
    let port: u16 = match parse_u64(fields[3].as_bytes()).map(u16::try_from) {
        Some(Ok(p)) if p > 0 => p,
        _ => return Err(BAD_EPRT),
    };
    let ip = match fields[1] {
        "1" => IpAddr::V4(fields[2].parse::<Ipv4Addr>().map_err(|_| BAD_EPRT)?),
        "2" => IpAddr::V6(fields[2].parse::<Ipv6Addr>().map_err(|_| BAD_EPRT)?),
        p if parse_u64(p.as_bytes()).is_some() => return Err(FtpError::UnsupportedProtocol),
        _ => return Err(BAD_EPRT),
    };
    Ok(SocketAddr::new(ip, port))
}

/// `EPSV`, `EPSV 1`, `EPSV 2`, `EPSV ALL` (RFC 2428 §3).
fn parse_epsv(arg: Option<&[u8]>) -> Result<EpsvArg, FtpError> {
    let Some(arg) = arg else {
        return Ok(EpsvArg::Any);
    };
    match upper(arg).as_str() {
        "ALL" => Ok(EpsvArg::All),
        "1" => Ok(EpsvArg::Protocol(1)),
        "2" => Ok(EpsvArg::Protocol(2)),
        p if parse_u64(p.as_bytes()).is_some() => Err(FtpError::UnsupportedProtocol),
        _ => Err(MISSING),
    }
}

/// An octal permission mode such as `644` or `0755`.
fn parse_octal_mode(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let v = u32::from_str_radix(std::str::from_utf8(s).ok()?, 8).ok()?;
    (v <= 0o7777).then_some(v)
}

/// `MFMT YYYYMMDDHHMMSS[.sss] path`.
fn parse_mfmt(arg: &[u8]) -> Result<Command, FtpError> {
    let bad = FtpError::BadArgument("MFMT needs YYYYMMDDHHMMSS and a path.");
    let sp = arg.iter().position(|&b| b == b' ').ok_or(bad)?;
    let (secs, nsec) = crate::timefmt::parse_time_val(&arg[..sp]).ok_or(bad)?;
    let path = &arg[sp + 1..];
    if path.is_empty() {
        return Err(bad);
    }
    Ok(Command::Mfmt(secs, nsec, path.to_vec()))
}

/// RFC 7151 §3: a domain name, an IPv4 literal or a bracketed IPv6 literal.
fn parse_host(arg: &[u8]) -> Result<Vec<u8>, FtpError> {
    let bad = FtpError::BadArgument("Malformed host name.");
    let text = std::str::from_utf8(arg).map_err(|_| bad)?;
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        inner.parse::<Ipv6Addr>().map_err(|_| bad)?;
        return Ok(arg.to_vec());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad);
    }
    Ok(arg.to_vec())
}

/// `RANG start end` (draft-bryan-ftp-range): inclusive byte range; `RANG 1 0` resets.
fn parse_rang(arg: &[u8]) -> Result<Command, FtpError> {
    let bad = FtpError::BadArgument("RANG needs two byte offsets.");
    let mut it = arg.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let start = it.next().and_then(parse_u64).ok_or(bad)?;
    let end = it.next().and_then(parse_u64).ok_or(bad)?;
    if it.next().is_some() || (end < start && !(start == 1 && end == 0)) {
        return Err(bad);
    }
    Ok(Command::Rang(start, end))
}

/// `XCRC path`, or `XCRC "path" [start [end]]`: a range needs the quoted form so that names
/// ending in digits are never misread.
fn parse_xcrc(arg: &[u8]) -> Result<Command, FtpError> {
    let bad = FtpError::BadArgument("XCRC needs a path, or \"path\" start end.");
    let Some(rest) = arg.strip_prefix(b"\"") else {
        return Ok(Command::Xcrc(arg.to_vec(), None, None));
    };
    let close = rest.iter().position(|&b| b == b'"').ok_or(bad)?;
    let path = &rest[..close];
    if path.is_empty() {
        return Err(bad);
    }
    let mut nums = rest[close + 1..]
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty());
    let start = match nums.next() {
        Some(n) => Some(parse_u64(n).ok_or(bad)?),
        None => None,
    };
    let end = match nums.next() {
        Some(n) => Some(parse_u64(n).ok_or(bad)?),
        None => None,
    };
    if nums.next().is_some() {
        return Err(bad);
    }
    Ok(Command::Xcrc(path.to_vec(), start, end))
}

fn parse_site(arg: &[u8]) -> Result<SiteCommand, FtpError> {
    let (sub, rest) = split_verb(arg);
    let bad = FtpError::BadArgument("Bad SITE arguments.");
    Ok(match sub.as_str() {
        "HELP" => SiteCommand::Help,
        "CHMOD" => {
            let rest = rest.ok_or(bad)?;
            let sp = rest.iter().position(|&b| b == b' ').ok_or(bad)?;
            let mode = parse_octal_mode(&rest[..sp]).ok_or(bad)?;
            let path = &rest[sp + 1..];
            if path.is_empty() {
                return Err(bad);
            }
            SiteCommand::Chmod(mode, path.to_vec())
        }
        "UMASK" => match rest {
            None => SiteCommand::Umask(None),
            Some(m) => SiteCommand::Umask(Some(
                parse_octal_mode(m).filter(|&m| m <= 0o777).ok_or(bad)?,
            )),
        },
        "IDLE" => match rest {
            None => SiteCommand::Idle(None),
            Some(n) => SiteCommand::Idle(Some(parse_u64(n).ok_or(bad)?)),
        },
        _ => SiteCommand::Unknown(sub.into_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write gate's classification (issue 11): exactly these change the tree or how new
    /// files are made.
    #[test]
    fn write_commands() {
        let writes: &[&[u8]] = &[
            b"MKD d",
            b"XMKD d",
            b"RMD d",
            b"XRMD d",
            b"DELE f",
            b"RNFR f",
            b"RNTO g",
            b"STOR f",
            b"STOU",
            b"APPE f",
            b"MFMT 20200101000000 f",
            b"SITE CHMOD 600 f",
            b"SITE UMASK 022",
        ];
        for line in writes {
            let cmd = parse(line).expect("parses");
            assert!(cmd.needs_write(), "{}", String::from_utf8_lossy(line));
        }
        let reads: &[&[u8]] = &[
            b"RETR f",
            b"LIST",
            b"NLST",
            b"MLSD",
            b"MLST f",
            b"CWD d",
            b"CDUP",
            b"PWD",
            b"SIZE f",
            b"MDTM f",
            b"STAT f",
            b"SITE UMASK",
            b"SITE IDLE 60",
            b"SITE HELP",
            b"HASH f",
            b"XCRC f",
            b"REST 5",
            b"PASV",
            b"EPSV",
            b"TYPE I",
            b"ALLO 5",
            b"ABOR",
            b"USER a",
        ];
        for line in reads {
            let cmd = parse(line).expect("parses");
            assert!(!cmd.needs_write(), "{}", String::from_utf8_lossy(line));
        }
    }

    fn ok(line: &[u8]) -> Command {
        parse(line).unwrap_or_else(|e| panic!("{:?} failed: {e:?}", String::from_utf8_lossy(line)))
    }
    fn code(line: &[u8]) -> u16 {
        parse(line)
            .expect_err("should fail")
            .to_reply()
            .code
            .number()
    }

    #[test]
    fn verbs_are_case_insensitive_and_aliases_map() {
        assert_eq!(ok(b"noop"), Command::Noop);
        assert_eq!(ok(b"NoOp"), Command::Noop);
        assert_eq!(ok(b"XPWD"), Command::Pwd);
        assert_eq!(ok(b"xcwd /a"), Command::Cwd(b"/a".to_vec()));
        assert_eq!(ok(b"XCUP"), Command::Cdup);
        assert_eq!(ok(b"XMKD d"), Command::Mkd(b"d".to_vec()));
        assert_eq!(ok(b"XRMD d"), Command::Rmd(b"d".to_vec()));
    }

    #[test]
    fn arguments_keep_spaces_and_raw_bytes() {
        assert_eq!(ok(b"RETR a b  c "), Command::Retr(b"a b  c ".to_vec()));
        assert_eq!(
            ok(b"STOR \xff\xfe.bin"),
            Command::Stor(b"\xff\xfe.bin".to_vec())
        );
        assert_eq!(ok(b"CWD  lead"), Command::Cwd(b" lead".to_vec()));
    }

    #[test]
    fn missing_arguments_are_501() {
        for l in [
            &b"RETR"[..],
            b"STOR",
            b"CWD",
            b"CWD ",
            b"MKD",
            b"DELE",
            b"RNFR",
            b"TYPE",
            b"REST",
            b"USER",
        ] {
            assert_eq!(code(l), 501, "{:?}", String::from_utf8_lossy(l));
        }
    }

    #[test]
    fn unknown_and_garbage_are_500() {
        assert_eq!(code(b"FOO"), 500);
        assert_eq!(code(b"\xff\xfe\x01"), 500);
        assert_eq!(code(b""), 500);
        assert_eq!(code(b"RETRX a"), 500);
        assert_eq!(code(b" NOOP"), 500);
    }

    #[test]
    fn type_table() {
        use Format::{Carriage, NonPrint, Telnet};
        use TransferType::{Ascii, Binary, Ebcdic};
        for (line, t) in [
            (&b"TYPE A"[..], Ascii(NonPrint)),
            (b"type a n", Ascii(NonPrint)),
            (b"TYPE A T", Ascii(Telnet)),
            (b"TYPE a c", Ascii(Carriage)),
            (b"TYPE E", Ebcdic(NonPrint)),
            (b"TYPE E N", Ebcdic(NonPrint)),
            (b"TYPE E T", Ebcdic(Telnet)),
            (b"TYPE E C", Ebcdic(Carriage)),
            (b"TYPE I", Binary),
            (b"TYPE L 8", Binary),
            (b"TYPE l 8", Binary),
            (b"TYPE L 08", Binary),
        ] {
            assert_eq!(
                ok(line),
                Command::Type(t),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        for line in [
            &b"TYPE L 16"[..],
            b"TYPE L 36",
            b"TYPE L 1",
            b"TYPE L 256",
            b"TYPE L 99999999999999999999999",
        ] {
            assert_eq!(code(line), 504, "{}", String::from_utf8_lossy(line));
        }
        for line in [
            &b"TYPE X"[..],
            b"TYPE I I",
            b"TYPE L",
            b"TYPE L 0",
            b"TYPE L x",
            b"TYPE L -8",
            b"TYPE A X",
            b"TYPE E 8",
            b"TYPE A N N",
            b"TYPE I N",
        ] {
            assert_eq!(code(line), 501, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn stru_and_mode() {
        assert_eq!(ok(b"STRU F"), Command::Stru(Structure::File));
        assert_eq!(ok(b"stru r"), Command::Stru(Structure::Record));
        assert_eq!(code(b"STRU P"), 504);
        assert_eq!(code(b"STRU Q"), 501);
        assert_eq!(ok(b"MODE s"), Command::Mode(Mode::Stream));
        assert_eq!(ok(b"MODE B"), Command::Mode(Mode::Block));
        assert_eq!(ok(b"MODE c"), Command::Mode(Mode::Compressed));
        assert_eq!(code(b"MODE Z"), 501);
        assert_eq!(code(b"MODE"), 501);
    }

    #[test]
    fn port_table() {
        assert_eq!(
            ok(b"PORT 127,0,0,1,4,1"),
            Command::Port("127.0.0.1:1025".parse().unwrap())
        );
        assert_eq!(
            ok(b"PORT 10,1,2,3,255,255"),
            Command::Port("10.1.2.3:65535".parse().unwrap())
        );
        for bad in [
            &b"PORT 127,0,0,1,4"[..],
            b"PORT 127,0,0,1,4,1,1",
            b"PORT 256,0,0,1,4,1",
            b"PORT 127,0,0,1,4,-1",
            b"PORT a,b,c,d,e,f",
            b"PORT 127.0.0.1:21",
            b"PORT 127,0,0,1,,1",
            b"PORT 1270,0,0,1,4,1",
        ] {
            assert_eq!(code(bad), 501, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn eprt_table() {
        assert_eq!(
            ok(b"EPRT |1|127.0.0.1|6446|"),
            Command::Eprt("127.0.0.1:6446".parse().unwrap())
        );
        assert_eq!(
            ok(b"EPRT |2|::1|6446|"),
            Command::Eprt("[::1]:6446".parse().unwrap())
        );
        assert_eq!(
            ok(b"EPRT !1!10.0.0.1!5000!"),
            Command::Eprt("10.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(code(b"EPRT |3|1.2.3.4|5000|"), 522);
        assert_eq!(code(b"EPRT |1|::1|5000|"), 501);
        assert_eq!(code(b"EPRT |1|1.2.3.4|0|"), 501);
        assert_eq!(code(b"EPRT |1|1.2.3.4|70000|"), 501);
        assert_eq!(code(b"EPRT |1|1.2.3.4|5000"), 501);
        assert_eq!(code(b"EPRT 1.2.3.4"), 501);
    }

    #[test]
    fn epsv_table() {
        assert_eq!(ok(b"EPSV"), Command::Epsv(EpsvArg::Any));
        assert_eq!(ok(b"EPSV 1"), Command::Epsv(EpsvArg::Protocol(1)));
        assert_eq!(ok(b"epsv all"), Command::Epsv(EpsvArg::All));
        assert_eq!(code(b"EPSV 7"), 522);
        assert_eq!(code(b"EPSV x"), 501);
    }

    #[test]
    fn rest_offsets_are_u64() {
        assert_eq!(ok(b"REST 0"), Command::Rest(0));
        assert_eq!(ok(b"REST 5000000000"), Command::Rest(5_000_000_000));
        assert_eq!(ok(b"REST 18446744073709551615"), Command::Rest(u64::MAX));
        assert_eq!(code(b"REST 18446744073709551616"), 501);
        assert_eq!(code(b"REST -1"), 501);
        assert_eq!(code(b"REST 1x"), 501);
    }

    #[test]
    fn site_table() {
        assert_eq!(ok(b"SITE HELP"), Command::Site(SiteCommand::Help));
        assert_eq!(
            ok(b"site chmod 755 a b"),
            Command::Site(SiteCommand::Chmod(0o755, b"a b".to_vec()))
        );
        assert_eq!(code(b"SITE CHMOD 9 a"), 501);
        // Well-formed special bits parse; the jail refuses them (550), not the parser.
        assert_eq!(
            ok(b"SITE CHMOD 6755 a"),
            Command::Site(SiteCommand::Chmod(0o6755, b"a".to_vec()))
        );
        for bad in [
            &b"SITE CHMOD 17777 a"[..],
            b"SITE CHMOD 0x7 a",
            b"SITE CHMOD 755",
        ] {
            assert_eq!(code(bad), 501, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            ok(b"SITE UMASK 027"),
            Command::Site(SiteCommand::Umask(Some(0o027)))
        );
        assert_eq!(
            ok(b"SITE IDLE 60"),
            Command::Site(SiteCommand::Idle(Some(60)))
        );
        assert_eq!(
            ok(b"SITE FOO"),
            Command::Site(SiteCommand::Unknown(b"FOO".to_vec()))
        );
    }

    #[test]
    fn extension_table() {
        assert_eq!(ok(b"MLSD"), Command::Mlsd(None));
        assert_eq!(ok(b"mlst a b"), Command::Mlst(Some(b"a b".to_vec())));
        assert_eq!(
            ok(b"MFMT 20201231235959 f x"),
            Command::Mfmt(1_609_459_199, 0, b"f x".to_vec())
        );
        assert_eq!(code(b"MFMT 2020123123595 f"), 501);
        assert_eq!(code(b"MFMT 20201231235959"), 501);
        assert_eq!(
            ok(b"HOST ftp.example.com"),
            Command::Host(b"ftp.example.com".to_vec())
        );
        assert_eq!(ok(b"HOST [::1]"), Command::Host(b"[::1]".to_vec()));
        assert_eq!(ok(b"HOST 127.0.0.1"), Command::Host(b"127.0.0.1".to_vec()));
        assert_eq!(code(b"HOST bad_name!"), 501);
        assert_eq!(code(b"HOST [zz]"), 501);
        assert_eq!(ok(b"LANG"), Command::Lang(None));
        assert_eq!(ok(b"RANG 0 49"), Command::Rang(0, 49));
        assert_eq!(ok(b"RANG 1 0"), Command::Rang(1, 0));
        assert_eq!(code(b"RANG 5 4"), 501);
        assert_eq!(code(b"RANG 5"), 501);
        assert_eq!(ok(b"XCRC a 1"), Command::Xcrc(b"a 1".to_vec(), None, None));
        assert_eq!(
            ok(b"XCRC \"a b\" 10 20"),
            Command::Xcrc(b"a b".to_vec(), Some(10), Some(20))
        );
        assert_eq!(code(b"XCRC \"a 1"), 501);
        assert!(ok(b"HOST x").allowed_before_login());
    }

    #[test]
    fn pass_is_redacted_in_debug() {
        let c = ok(b"PASS hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn login_set() {
        assert!(ok(b"USER a").allowed_before_login());
        assert!(ok(b"FEAT").allowed_before_login());
        assert!(!ok(b"PWD").allowed_before_login());
        assert!(!ok(b"RETR a").allowed_before_login());
        assert!(!ok(b"PASV").allowed_before_login());
    }
}
