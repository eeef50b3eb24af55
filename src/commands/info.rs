//! Informational and no-op commands: SYST, HELP, STAT, FEAT, OPTS, NOOP, SIZE, MDTM, ALLO, SITE.

use super::checksum;
use crate::command::{SiteCommand, VERBS};
use crate::control::Control;
use crate::error::FtpError;
use crate::file_info::FileKind;
use crate::listing::{self, FactSet};
use crate::reply::{Reply, ReplyCode};
use crate::representation;
use crate::timefmt;
use std::time::Duration;

/// Files larger than this get 550 for SIZE in ASCII type rather than a long scan.
pub const ASCII_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// SYST: what every client expects of a Unix server.
pub fn syst() -> Result<Reply, FtpError> {
    Ok(Reply::new(ReplyCode::SystemType, "UNIX Type: L8"))
}

/// NOOP.
pub fn noop() -> Result<Reply, FtpError> {
    Ok(Reply::new(ReplyCode::CommandOk, "NOOP ok."))
}

/// ALLO: no space needs reserving on this server (RFC 959: 202).
pub fn allo() -> Result<Reply, FtpError> {
    Ok(Reply::new(
        ReplyCode::CommandSuperfluous,
        "ALLO command ignored.",
    ))
}

/// HELP [verb].
pub fn help(arg: Option<&[u8]>) -> Result<Reply, FtpError> {
    if let Some(arg) = arg {
        let verb = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
        // The transfer parameters name what they take (RFC 959 §4.1.2).
        let syntax = match verb.as_str() {
            "TYPE" => Some("Syntax: TYPE A [N|T|C], E [N|T|C], I, L 8."),
            "STRU" => Some("Syntax: STRU F|R (P: 504)."),
            "MODE" => Some("Syntax: MODE S|B|C."),
            _ => None,
        };
        if let Some(text) = syntax {
            return Ok(Reply::new(ReplyCode::HelpMessage, text));
        }
        if VERBS.contains(&verb.as_str()) {
            return Ok(Reply::new(
                ReplyCode::HelpMessage,
                format!("Command {verb} is recognized."),
            ));
        }
        return Err(FtpError::BadArgument("Unknown command."));
    }
    let mut lines = vec![b"The following commands are recognized.".to_vec()];
    for row in VERBS.chunks(8) {
        let line: String = row.iter().map(|v| format!(" {v:<5}")).collect();
        lines.push(line.into_bytes());
    }
    lines.push(b"Help OK.".to_vec());
    Ok(Reply::multi(ReplyCode::HelpMessage, lines))
}

/// The extensions FEAT advertises: exactly what is implemented (HELP lists the same verbs);
/// the FTPS ones (RFC 4217 §6) only when a certificate is configured.
pub fn feature_lines(facts: &FactSet, tls: bool) -> Vec<String> {
    let mut lines: Vec<String> = [
        "EPRT",
        "EPSV",
        "HOST",
        "LANG EN*",
        "MDTM",
        "MFMT",
        "PASV",
        "REST STREAM",
        "SIZE",
        "TVFS",
        "UTF8",
        "XCRC",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    lines.push(format!("HASH {}*", checksum::ALGORITHM));
    lines.push(listing::feat_mlst_line(facts).trim_start().to_string());
    if tls {
        lines.extend(["AUTH TLS", "PBSZ", "PROT"].map(String::from));
    }
    lines.sort();
    lines
}

/// FEAT (RFC 2389 §3.2): each feature line starts with one space.
pub fn feat(ctl: &mut Control) -> Result<Reply, FtpError> {
    let mut lines = vec![b"Features:".to_vec()];
    lines.extend(
        feature_lines(&ctl.session.mlst_facts, ctl.ctx.ftps.is_some())
            .into_iter()
            .map(|f| format!(" {f}").into_bytes()),
    );
    lines.push(b"End".to_vec());
    Ok(Reply::multi(ReplyCode::SystemStatus, lines))
}

/// OPTS (RFC 2389 §4): UTF8, MLST, HASH.
pub fn opts(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let (option, value) = crate::command::split_verb(arg);
    let value_text = value.map(|v| String::from_utf8_lossy(v).trim().to_ascii_uppercase());
    match (option.as_str(), value_text.as_deref()) {
        // Names are bytes on disk and on the wire; UTF-8 clients see theirs unchanged.
        ("UTF8", Some("ON") | None) => Ok(Reply::new(ReplyCode::CommandOk, "Always in UTF8 mode.")),
        ("UTF8", Some("OFF")) => Ok(Reply::new(ReplyCode::CommandOk, "UTF8 mode stays on.")),
        ("MLST", _) => {
            ctl.session.mlst_facts = listing::parse_opts_mlst(value.unwrap_or(b""));
            let list = listing::format_opts_mlst_reply(&ctl.session.mlst_facts);
            let text = if list.is_empty() {
                "MLST OPTS".to_string()
            } else {
                format!("MLST OPTS {list}")
            };
            Ok(Reply::new(ReplyCode::CommandOk, text))
        }
        ("HASH", None) => Ok(Reply::new(ReplyCode::CommandOk, checksum::ALGORITHM)),
        ("HASH", Some(algo)) if algo == checksum::ALGORITHM => {
            Ok(Reply::new(ReplyCode::CommandOk, checksum::ALGORITHM))
        }
        ("HASH", Some(_)) => Err(FtpError::BadArgument(
            "Unknown algorithm, current selection not changed.",
        )),
        _ => Err(FtpError::BadArgument("Option not understood.")),
    }
}

/// LANG [tag] (RFC 2640 §4.1): only English texts exist.
pub fn lang(arg: Option<&[u8]>) -> Result<Reply, FtpError> {
    let tag = arg.map(|a| String::from_utf8_lossy(a).trim().to_ascii_uppercase());
    match tag.as_deref() {
        None => Ok(Reply::new(
            ReplyCode::CommandOk,
            "Using the default language EN.",
        )),
        Some(t) if t == "EN" || t.starts_with("EN-") => {
            Ok(Reply::new(ReplyCode::CommandOk, "Language set to EN."))
        }
        Some(_) => Err(FtpError::ParameterNotImplemented),
    }
}

/// STAT without argument: server and session status.
pub fn stat(ctl: &mut Control) -> Result<Reply, FtpError> {
    let s = &ctl.session;
    let user = s
        .account()
        .map(|a| a.name.clone())
        .unwrap_or_else(|| "(not logged in)".into());
    let ty = representation::type_name(s.transfer_type);
    let stru = representation::structure_name(s.structure);
    let mode = representation::mode_name(s.mode);
    let lines = vec![
        b"FTP server status:".to_vec(),
        format!("     Connected to {}", s.peer.ip()).into_bytes(),
        format!("     Logged in as {user}").into_bytes(),
        format!("     TYPE: {ty}, STRUcture: {stru}, MODE: {mode}").into_bytes(),
        format!(
            "     Session timeout in seconds is {}",
            s.idle_timeout.as_secs()
        )
        .into_bytes(),
        format!(
            "     {} bytes in {} files transferred",
            s.stats.bytes_down + s.stats.bytes_up,
            s.stats.files_down + s.stats.files_up
        )
        .into_bytes(),
        format!("     ferroftpd {}", env!("CARGO_PKG_VERSION")).into_bytes(),
        b"End of status".to_vec(),
    ];
    Ok(Reply::multi(ReplyCode::SystemStatus, lines))
}

/// SIZE (RFC 3659 §4): bytes the client would receive in the current TYPE.
pub fn size(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    let jail = ctl.session.jail()?;
    let info = jail.stat(&path)?;
    if info.kind != FileKind::File {
        return Err(FtpError::NotAFile);
    }
    let rep = ctl
        .session
        .representation(ctl.settings.config.ebcdic_codepage);
    let size = if rep.is_plain_binary() {
        info.size
    } else if rep.is_binary_blocks() {
        representation::binary_blocks_wire_size(0, info.size)
    } else {
        // RFC 3659 §4: the size "dependent on the currently established STRU, MODE, and
        // TYPE": the bytes RETR would send, counted by encoding the file; bounded so one
        // client cannot make the server read gigabytes for a SIZE. ASCII is the default
        // type, so clients that never send TYPE (ftplib's size()) land here too: RFC 3659
        // §4 allows 550 but no estimate, so never the binary size.
        if info.size > ASCII_SIZE_LIMIT {
            return Err(FtpError::AsciiSizeUnavailable);
        }
        let (mut file, _) = jail.open_read(&path)?;
        if rep.is_plain_ascii() {
            let mut buf = vec![0u8; 64 * 1024];
            crate::codec::ascii::ascii_size(&mut file, &mut buf)?
        } else {
            representation::wire_size(rep, &mut file)?
        }
    };
    Ok(Reply::new(ReplyCode::FileStatus, size.to_string()))
}

/// MDTM (RFC 3659 §3): modification time in UTC.
pub fn mdtm(ctl: &mut Control, arg: &[u8]) -> Result<Reply, FtpError> {
    let path = ctl.session.path(arg)?;
    let info = ctl.session.jail()?.stat(&path)?;
    let fraction = info.mtime_nsec >= 1_000_000;
    Ok(Reply::new(
        ReplyCode::FileStatus,
        timefmt::format_mdtm(info.mtime, info.mtime_nsec, fraction),
    ))
}

/// SITE subcommands other than CHMOD.
pub fn site(ctl: &mut Control, sub: SiteCommand) -> Result<Reply, FtpError> {
    match sub {
        SiteCommand::Help => Ok(Reply::new(
            ReplyCode::HelpMessage,
            "SITE commands: CHMOD HELP IDLE UMASK",
        )),
        SiteCommand::Umask(None) => Ok(Reply::new(
            ReplyCode::CommandOk,
            format!("Your current UMASK is {:03o}", ctl.session.umask),
        )),
        SiteCommand::Umask(Some(mask)) => {
            // Refused to read-only accounts by the write gate (issue 10); reading it is not.
            ctl.session.umask = mask;
            Ok(Reply::new(
                ReplyCode::CommandOk,
                format!("UMASK set to {mask:03o}"),
            ))
        }
        SiteCommand::Idle(None) => Ok(Reply::new(
            ReplyCode::CommandOk,
            format!(
                "Current idle timeout is {} seconds.",
                ctl.session.idle_timeout.as_secs()
            ),
        )),
        SiteCommand::Idle(Some(secs)) => {
            // Bounded by the configured maximum: a client may shorten, never extend past it.
            let max = ctl.settings.config.idle_timeout.as_secs();
            if !(30..=max.max(30)).contains(&secs) {
                return Err(FtpError::BadArgument(
                    "SITE IDLE: value out of range (30 to the configured idle_timeout).",
                ));
            }
            ctl.session.idle_timeout = Duration::from_secs(secs);
            Ok(Reply::new(
                ReplyCode::CommandOk,
                format!("Timeout set to {secs} seconds."),
            ))
        }
        // A test hook, only in builds with the `test-hooks` feature and off unless the
        // environment enables it: proves a panic in one session closes that connection only
        // (tests/robustness.rs).
        #[cfg(feature = "test-hooks")]
        SiteCommand::Unknown(sub)
            if sub == b"PANIC" && std::env::var_os("FERROFTPD_TEST_HOOKS").is_some() =>
        {
            panic!("SITE PANIC test hook");
        }
        SiteCommand::Chmod(..) | SiteCommand::Unknown(_) => Err(FtpError::UnknownSiteCommand),
    }
}
