//! A transfer's RFC 959 parameters (TYPE, STRU, MODE, and the EBCDIC code page), and the
//! pipeline that puts stored bytes on the wire in them and back.
//!
//! ```text
//! send:    file -> [asa::Encoder] -> type layer -> [records::Lines] -> framer  -> socket
//! receive: socket -> decoder -> type layer -> [asa::Decoder] -> file
//! ```
//! The codecs themselves are in [`crate::codec`]; this module chooses and chains them, over
//! any `Read`/`Write` pair and a caller-owned scratch buffer (the data worker's), so
//! `transfer.rs` calls [`send`] and [`receive`] and the control thread [`encode_listing`] and
//! [`wire_size`]. Plain binary stream transfers never come here: they stay on `sendfile`.
//!
//! # What each parameter does on this host
//! - **TYPE A**: stored LF <-> CRLF. **E**: the code page's table, stored LF <-> NL (0x15).
//!   **I** and **L 8**: the bytes as stored.
//! - **Format N and T** are the same here: a Unix text file carries its own format effectors
//!   (LF, FF, VT, CR) as bytes, which go out as they are, and "CRLF, in exactly this sequence,
//!   also denotes end-of-line" (RFC 959 3.1.1.5.2) is the LF <-> CRLF of the type. **C**: the
//!   ASA codec both ways (`codec::asa`), before the type layer.
//! - **STRU R** for text: each stored line is a record, each record received is stored as a
//!   line (RFC 959 3.1.2: an invertible transformation). For **I/L 8** a stored file has no
//!   records: it goes out as one record (EOR at its end), and records received are stored
//!   back to back, their bytes unchanged; splitting binary data at 0x0A would alter it.
//! - **MODE B/C**: the EOF (descriptor or escape) ends the transfer; the server then closes
//!   the data connection, as in stream mode (RFC 959 3.2 lets the server close it; one
//!   connection per transfer is what every client expects). The compressed-mode filler is
//!   the wire's space for text types (0x20, EBCDIC 0x40) and zero for binary (3.4.3).
//! - **Restart markers** (3.5): as sender, one every [`MARKER_EVERY`] stored bytes, the
//!   decimal stored offset, which `REST` takes back; as receiver, each marker received is
//!   answered by the caller with `110 MARK yyyy = mmmm`, mmmm the stored offset of that
//!   point (for format C at a line boundary: see `receive`).

mod framing;
mod receive;
mod send;

use crate::codec::ascii::CrlfToLf;
use crate::codec::ebcdic::{self, CodePage};
use crate::codec::{block, compressed, DecodeError, Descriptor, Marker};
use crate::command::{Format, Mode, Structure, TransferType};
use std::io::{self, Read};

pub use receive::{receive, MIN_SCRATCH as RECEIVE_SCRATCH};
pub use send::{send, MIN_SCRATCH as SEND_SCRATCH};

/// The scratch buffer a transfer lends the pipeline (a data worker's buffer): [`wire_size`]
/// uses the same size, so its count matches what RETR sends, markers included.
pub const SCRATCH: usize = 128 * 1024;

/// Stored bytes between two restart markers a sender puts in block or compressed data.
pub const MARKER_EVERY: u64 = 4 << 20;

/// Why a pipeline stopped: the side it reads from, the side it writes to, or bad wire data.
#[derive(Debug)]
pub enum PipeError {
    /// Reading failed (the file when sending, the network when receiving).
    Read(io::Error),
    /// Writing failed (the network when sending, the file when receiving).
    Write(io::Error),
    /// The received data broke the mode's encoding.
    Decode(DecodeError),
}

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
    /// ASCII Non-print, file structure, stream mode: RFC 959's defaults (§5.1).
    pub const DEFAULT: Representation = Representation {
        ty: TransferType::DEFAULT,
        stru: Structure::File,
        mode: Mode::Stream,
        codepage: CodePage::Ibm037,
    };

    /// TYPE I, file structure, stream mode: what every client uses for binary files.
    pub const IMAGE: Representation = Representation {
        ty: TransferType::Binary,
        ..Representation::DEFAULT
    };

    /// Stream mode, file structure, and the bytes as stored: the sendfile path.
    pub fn is_plain_binary(&self) -> bool {
        self.ty == TransferType::Binary && self.is_plain_framing()
    }

    /// Plain stream mode, file structure, ASCII Non-print or Telnet: the LF <-> CRLF copy
    /// loops of `transfer.rs`.
    pub fn is_plain_ascii(&self) -> bool {
        matches!(
            self.ty,
            TransferType::Ascii(Format::NonPrint | Format::Telnet)
        ) && self.is_plain_framing()
    }

    /// The compressed-mode filler on the wire (RFC 959 3.4.3).
    pub fn filler(&self) -> u8 {
        match self.ty {
            TransferType::Ascii(_) => compressed::FILLER_ASCII,
            TransferType::Ebcdic(_) => ebcdic::SPACE,
            TransferType::Binary => compressed::FILLER_BINARY,
        }
    }

    /// How LIST and NLST are sent: as text in the session's text type (RFC 959 4.1.3: "in
    /// type ASCII or type EBCDIC"), ASCII when the type is Image, Non-print (a listing has
    /// no vertical format), in the session's structure (each line a record) and mode.
    pub fn for_listing(self) -> Representation {
        let ty = match self.ty {
            TransferType::Ebcdic(_) => TransferType::Ebcdic(Format::NonPrint),
            _ => TransferType::Ascii(Format::NonPrint),
        };
        Representation { ty, ..self }
    }

    /// TYPE I, file structure, block mode: blocks of file data sent by `sendfile` after each
    /// header (see [`binary_block`]), nothing copied through user space.
    pub fn is_binary_blocks(&self) -> bool {
        self.ty == TransferType::Binary && self.stru == Structure::File && self.mode == Mode::Block
    }

    /// Stream mode and file structure: no framing at all.
    pub fn is_plain_framing(&self) -> bool {
        self.stru == Structure::File && self.mode == Mode::Stream
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

/// The next block of a binary block-mode download at stored offset `pos` of a file of
/// `size` bytes: its length (the most a header can count) and its descriptor (EOF on the
/// last; an empty file is one empty EOF block). `transfer.rs` sends these with `sendfile`.
pub fn binary_block(pos: u64, size: u64) -> (usize, Descriptor) {
    let left = size.saturating_sub(pos);
    let count = usize::try_from(left).map_or(block::MAX_COUNT, |l| l.min(block::MAX_COUNT));
    let desc = if count as u64 == left {
        Descriptor::EOF
    } else {
        Descriptor::NONE
    };
    (count, desc)
}

/// Whether a sender at stored offset `pos`, its last marker at `last`, puts a marker now.
pub fn marker_due(pos: u64, last: u64) -> bool {
    pos - last >= MARKER_EVERY
}

/// What [`binary_block`]'s blocks and the markers between them put on the wire for a file
/// of `size` bytes sent from `offset` (SIZE in binary block mode).
pub fn binary_blocks_wire_size(offset: u64, size: u64) -> u64 {
    let (mut pos, mut last, mut total) = (offset, offset, 0u64);
    loop {
        let (count, desc) = binary_block(pos, size);
        total += (block::HEADER_LEN + count) as u64;
        pos += count as u64;
        if desc == Descriptor::EOF {
            return total;
        }
        if marker_due(pos, last) {
            total += (block::HEADER_LEN + Marker::from_offset(pos).as_bytes().len()) as u64;
            last = pos;
        }
    }
}

/// A LIST/NLST body (CRLF lines) as the data connection carries it in `rep` (see
/// [`Representation::for_listing`]).
pub fn encode_listing(rep: Representation, body: Vec<u8>) -> Vec<u8> {
    let rep = rep.for_listing();
    if rep.is_plain_ascii() {
        return body;
    }
    // Back to stored form (LF), then the pipeline, as a text file would go.
    let mut text = vec![0u8; body.len() + 1];
    let mut crlf = CrlfToLf::default();
    let n = crlf.convert(&body, &mut text);
    text.truncate(n);
    text.extend_from_slice(crlf.finish());
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 16);
    let mut scratch = vec![0u8; SEND_SCRATCH.max(64 * 1024)];
    // Writing to a Vec cannot fail; reading a slice neither.
    let _ = send(rep, &mut &text[..], 0, &mut out, &mut scratch, 0);
    out
}

/// The bytes RETR of `file` (from its start) puts on the data connection in `rep`: what SIZE
/// reports (RFC 3659 §4: "dependent on the currently established STRU, MODE, and TYPE").
pub fn wire_size<R: Read + ?Sized>(rep: Representation, file: &mut R) -> io::Result<u64> {
    struct Count(u64);
    impl io::Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let mut scratch = vec![0u8; SCRATCH];
    match send(rep, file, 0, &mut count, &mut scratch, MARKER_EVERY) {
        Ok(()) => Ok(count.0),
        Err(PipeError::Read(e) | PipeError::Write(e)) => Err(e),
        Err(PipeError::Decode(_)) => Err(io::ErrorKind::InvalidData.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_block_plan_and_its_wire_size() {
        assert_eq!(binary_block(0, 0), (0, Descriptor::EOF));
        assert_eq!(binary_block(0, 5), (5, Descriptor::EOF));
        assert_eq!(binary_block(0, 65_535), (65_535, Descriptor::EOF));
        assert_eq!(binary_block(0, 65_536), (65_535, Descriptor::NONE));
        assert_eq!(binary_block(65_535, 65_536), (1, Descriptor::EOF));
        assert_eq!(binary_blocks_wire_size(0, 0), 3);
        assert_eq!(binary_blocks_wire_size(0, 5), 8);
        assert_eq!(binary_blocks_wire_size(0, 65_536), 65_536 + 6);
        assert_eq!(binary_blocks_wire_size(65_530, 65_536), 6 + 3);
        // 65 full blocks pass MARKER_EVERY: a marker "4259775" (3 + 7 bytes) follows them.
        let size = 65 * 65_535 + 1;
        assert_eq!(binary_blocks_wire_size(0, size), size + 66 * 3 + 10);
        assert_eq!(binary_blocks_wire_size(0, 65 * 65_535), 65 * (65_535 + 3));
    }

    #[test]
    fn the_sendfile_block_plan_matches_the_pipeline_where_they_meet() {
        // Below one full block both send the same single EOF block.
        let rep = Representation {
            mode: Mode::Block,
            ..Representation::IMAGE
        };
        for size in [0usize, 1, 100, 16_000] {
            let data = vec![7u8; size];
            let mut out = Vec::new();
            let mut scratch = vec![0u8; SCRATCH];
            send(rep, &mut &data[..], 0, &mut out, &mut scratch, MARKER_EVERY).unwrap();
            assert_eq!(out.len() as u64, binary_blocks_wire_size(0, size as u64));
            assert_eq!(out[0], 64);
        }
    }
}
