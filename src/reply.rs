//! Replies: codes named by meaning, and the RFC 959 §4.2 wire format in one place.

use std::io::{self, Write};

/// Reply codes of RFC 959 §4.2 and its extensions, named by meaning; handlers never write digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum ReplyCode {
    /// 110: restart marker reply, `MARK yyyy = mmmm` (RFC 959 §4.2).
    RestartMarker = 110,
    /// 150: about to open the data connection.
    FileStatusOk = 150,
    /// 200: command okay.
    CommandOk = 200,
    /// 202: command not needed at this site (ALLO).
    CommandSuperfluous = 202,
    /// 211: system status, FEAT.
    SystemStatus = 211,
    /// 212: directory status (STAT path, for a directory).
    DirectoryStatus = 212,
    /// 213: file status (SIZE, MDTM, STAT path, for a file).
    FileStatus = 213,
    /// 214: help message.
    HelpMessage = 214,
    /// 215: system type.
    SystemType = 215,
    /// 220: service ready for new user.
    ServiceReady = 220,
    /// 221: closing control connection.
    ClosingControl = 221,
    /// 225: data connection open, no transfer in progress (ABOR with nothing to abort).
    DataOpenNoTransfer = 225,
    /// 226: closing data connection, transfer complete.
    ClosingData = 226,
    /// 227: entering passive mode.
    EnteringPassive = 227,
    /// 229: entering extended passive mode (RFC 2428).
    EnteringExtendedPassive = 229,
    /// 234: AUTH accepted, the TLS handshake follows (RFC 4217 §4.1).
    SecurityExchangeOk = 234,
    /// 230: user logged in.
    LoggedIn = 230,
    /// 250: requested file action okay, completed.
    FileActionOk = 250,
    /// 257: "PATHNAME" created / current directory.
    PathCreated = 257,
    /// 331: user name okay, need password.
    NeedPassword = 331,
    /// 332: need account for login.
    NeedAccount = 332,
    /// 350: requested file action pending further information (REST, RNFR).
    PendingFurtherInfo = 350,
    /// 421: service not available, closing control connection.
    ServiceNotAvailable = 421,
    /// 425: can't open data connection.
    CantOpenData = 425,
    /// 426: connection closed; transfer aborted.
    TransferAborted = 426,
    /// 450: file unavailable (busy).
    FileBusy = 450,
    /// 451: local error in processing.
    LocalError = 451,
    /// 452: insufficient storage space.
    InsufficientStorage = 452,
    /// 500: syntax error, command unrecognized (also: line too long).
    SyntaxError = 500,
    /// 501: syntax error in parameters or arguments.
    ParameterSyntaxError = 501,
    /// 502: command not implemented.
    CommandNotImplemented = 502,
    /// 503: bad sequence of commands.
    BadSequence = 503,
    /// 504: command not implemented for that parameter.
    ParameterNotImplemented = 504,
    /// 521: the data connection cannot be opened with this PROT setting (RFC 4217 §10.2).
    ProtRefused = 521,
    /// 522: network protocol not supported (RFC 2428); also a data connection whose TLS
    /// negotiation failed or was not acceptable (RFC 4217 §10.2).
    ExtendedProtocolNotSupported = 522,
    /// 530: not logged in.
    NotLoggedIn = 530,
    /// 534: request denied for policy reasons (RFC 2228; CCC).
    DeniedForPolicy = 534,
    /// 536: the PROT level is not supported by the security mechanism (RFC 2228).
    ProtLevelNotSupported = 536,
    /// 550: file unavailable (not found, no access).
    FileUnavailable = 550,
    /// 552: exceeded storage allocation.
    ExceededStorage = 552,
    /// 553: file name not allowed.
    FileNameNotAllowed = 553,
    /// 554: requested action not taken, invalid REST parameter (RFC 1123 §4.1.3.4).
    InvalidRestParameter = 554,
}

impl ReplyCode {
    /// The three-digit number.
    pub fn number(self) -> u16 {
        self as u16
    }
}

/// A reply: a code and one or more lines of text (bytes, because paths are bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code.
    pub code: ReplyCode,
    /// Text lines; more than one makes a multi-line reply.
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: ReplyCode, text: impl Into<Vec<u8>>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply; the first and last lines carry the code.
    pub fn multi(code: ReplyCode, lines: Vec<Vec<u8>>) -> Reply {
        let lines = if lines.is_empty() {
            vec![Vec::new()]
        } else {
            lines
        };
        Reply { code, lines }
    }

    /// A 257 reply: the path quoted, embedded `"` doubled (RFC 959 Appendix II), then `text`.
    pub fn quoted_path(code: ReplyCode, path: &[u8], text: &str) -> Reply {
        let mut line = Vec::with_capacity(path.len() + text.len() + 3);
        line.push(b'"');
        for &b in path {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
        if !text.is_empty() {
            line.push(b' ');
            line.extend_from_slice(text.as_bytes());
        }
        Reply::new(code, line)
    }

    /// The exact bytes sent on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let code = self.code.number().to_string();
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            if i == 0 || i == last {
                out.extend_from_slice(code.as_bytes());
                out.push(if i == last { b' ' } else { b'-' });
            } else if line.first().is_some_and(u8::is_ascii_digit) {
                // A body line starting with digits could be read as the final line.
                out.push(b' ');
            }
            push_telnet_text(&mut out, line);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Write the reply in one `write_all` (one segment for small replies).
    pub fn write_to<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.to_bytes())
    }
}

/// Copy text to the wire: IAC doubled, CR and LF inside a line sent as NUL (RFC 959 §3.1.1).
fn push_telnet_text(out: &mut Vec<u8>, text: &[u8]) {
    for &b in text {
        match b {
            0xFF => out.extend_from_slice(&[0xFF, 0xFF]),
            b'\n' => out.push(0),
            b'\r' => out.push(0),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line() {
        let r = Reply::new(ReplyCode::CommandOk, "NOOP ok.");
        assert_eq!(r.to_bytes(), b"200 NOOP ok.\r\n");
    }

    #[test]
    fn multi_line_syntax() {
        let r = Reply::multi(
            ReplyCode::SystemStatus,
            vec![
                b"Features:".to_vec(),
                b" SIZE".to_vec(),
                b"123 starts with digits".to_vec(),
                b"End".to_vec(),
            ],
        );
        assert_eq!(
            r.to_bytes(),
            b"211-Features:\r\n SIZE\r\n 123 starts with digits\r\n211 End\r\n".to_vec()
        );
    }

    #[test]
    fn empty_multi_is_one_line() {
        let r = Reply::multi(ReplyCode::CommandOk, vec![]);
        assert_eq!(r.to_bytes(), b"200 \r\n");
    }

    #[test]
    fn quoted_path_doubles_quotes() {
        let r = Reply::quoted_path(ReplyCode::PathCreated, b"/a\"b", "is the current directory");
        assert_eq!(
            r.to_bytes(),
            b"257 \"/a\"\"b\" is the current directory\r\n".to_vec()
        );
    }

    #[test]
    fn iac_doubled_and_newline_as_nul() {
        let r = Reply::quoted_path(ReplyCode::PathCreated, b"/x\xffy\nz", "");
        assert_eq!(r.to_bytes(), b"257 \"/x\xff\xffy\0z\"\r\n".to_vec());
    }
}
