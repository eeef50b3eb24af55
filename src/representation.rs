//! A transfer's RFC 959 parameters (TYPE, STRU, MODE, and the EBCDIC code page), and what
//! they are called in replies.

use crate::codec::ebcdic::CodePage;
use crate::command::{Format, Mode, Structure, TransferType};
use crate::error::FtpError;

/// Everything that decides how stored bytes look on the data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Representation {
    /// TYPE (with its format control).
    pub ty: TransferType,
    /// STRU.
    pub stru: Structure,
    /// MODE.
    pub mode: Mode,
    /// The code page of TYPE E (`ebcdic_codepage`).
    pub codepage: CodePage,
}

impl Representation {
    /// Stream mode, file structure, and the bytes as stored: the sendfile path.
    pub fn is_plain_binary(&self) -> bool {
        self.ty == TransferType::Binary && self.is_plain_framing()
    }

    /// Stream mode and file structure: no framing at all.
    pub fn is_plain_framing(&self) -> bool {
        self.stru == Structure::File && self.mode == Mode::Stream
    }

    /// Whether transfers in this representation are implemented; 504 otherwise.
    pub fn check_implemented(&self) -> Result<(), FtpError> {
        let text = matches!(
            self.ty,
            TransferType::Ascii(Format::NonPrint | Format::Telnet)
        );
        if self.is_plain_framing() && (text || self.ty == TransferType::Binary) {
            Ok(())
        } else {
            Err(FtpError::ParameterNotImplemented)
        }
    }
}

/// The TYPE as STAT shows it: `ASCII`, `EBCDIC` or `BINARY`, with a format other than
/// Non-print named after it.
pub fn type_name(ty: TransferType) -> String {
    let base = match ty {
        TransferType::Ascii(_) => "ASCII",
        TransferType::Ebcdic(_) => "EBCDIC",
        TransferType::Binary => "BINARY",
    };
    match ty.format() {
        Format::NonPrint => base.to_string(),
        Format::Telnet => format!("{base} Telnet format"),
        Format::Carriage => format!("{base} ASA carriage control"),
    }
}

/// The STRU as STAT shows it.
pub fn structure_name(stru: Structure) -> &'static str {
    match stru {
        Structure::File => "File",
        Structure::Record => "Record",
    }
}

/// The MODE as STAT shows it.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Stream => "Stream",
        Mode::Block => "Block",
        Mode::Compressed => "Compressed",
    }
}
