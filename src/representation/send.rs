//! Sending: stored bytes -> ASA (format C) -> type layer -> records -> the mode's framer.

use super::framing::{AnyFramer, FRAMER_BUFFER};
use super::{PipeError, Representation};
use crate::codec::ascii::lf_to_crlf;
use crate::codec::records::Lines;
use crate::codec::{asa, ebcdic, Framer, Marker};
use crate::command::{Format, Mode, Structure, TransferType};
use std::io::{self, Read, Write};

/// Smallest scratch buffer [`send`] works with.
pub const MIN_SCRATCH: usize = 2 * FRAMER_BUFFER;

/// The type layer and the record splitter between the stored text and the framer.
struct TypeLayer<'a> {
    ty: TransferType,
    stru: Structure,
    table: &'static [u8; 256],
    conv: &'a mut [u8],
    lines: Lines,
    /// Binary under STRU R: the file is one record, ended once something was sent.
    sent: bool,
}

impl TypeLayer<'_> {
    /// Send stored-form text (LF line ends) as wire data.
    fn emit<F: Framer>(&mut self, f: &mut F, text: &[u8]) -> io::Result<()> {
        match (self.ty, self.stru) {
            (TransferType::Binary, _) => {
                self.sent |= !text.is_empty();
                f.data(text)
            }
            // In record structure the EOR is the line end: records carry no CRLF.
            (TransferType::Ascii(_), Structure::Record) => self.lines.send(f, text),
            (TransferType::Ascii(_), Structure::File) => {
                for piece in text.chunks(self.conv.len() / 2) {
                    let n = lf_to_crlf(piece, self.conv);
                    f.data(&self.conv[..n])?;
                }
                Ok(())
            }
            (TransferType::Ebcdic(_), stru) => {
                for piece in text.chunks(self.conv.len()) {
                    let n = ebcdic::translate_into(self.table, piece, self.conv);
                    if stru == Structure::Record {
                        // The table made each LF an NL: records end there.
                        self.lines.send(f, &self.conv[..n])?;
                    } else {
                        f.data(&self.conv[..n])?;
                    }
                }
                Ok(())
            }
        }
    }

    /// The end of the data: the last record, then EOF.
    fn finish<F: Framer>(&mut self, f: &mut F) -> io::Result<()> {
        match (self.ty, self.stru) {
            (_, Structure::File) => f.finish(),
            (TransferType::Binary, Structure::Record) => {
                if self.sent {
                    f.end_record()?;
                }
                f.finish()
            }
            (_, Structure::Record) => self.lines.finish(f),
        }
    }
}

/// Send `file` (positioned at stored offset `offset`) to `out` in `rep`, through `scratch`
/// (at least [`MIN_SCRATCH`] bytes). In block and compressed mode a restart marker, the
/// decimal stored offset, goes out every `marker_every` stored bytes (0: none), at a point
/// where a transfer restarted with `REST marker` continues exactly (for format C, a line
/// start).
pub fn send<R: Read + ?Sized, W: Write>(
    rep: Representation,
    file: &mut R,
    offset: u64,
    out: W,
    scratch: &mut [u8],
    marker_every: u64,
) -> Result<(), PipeError> {
    assert!(scratch.len() >= MIN_SCRATCH, "send scratch too small");
    // Compressed mode encodes into its framer's buffer: a larger one means fewer writes and
    // fewer byte strings cut at its end.
    let framer_len = if rep.mode == Mode::Compressed {
        (scratch.len() / 2).max(FRAMER_BUFFER)
    } else {
        FRAMER_BUFFER
    };
    let (framer_buf, rest) = scratch.split_at_mut(framer_len);
    let mut framer = AnyFramer::new(rep.mode, rep.stru, out, framer_buf, rep.filler());
    let carriage = rep.ty.format() == Format::Carriage;
    // Binary reads into all the rest; text needs room for its conversions.
    let (input, rest) = if rep.ty.is_text() {
        rest.split_at_mut(rest.len() / 4)
    } else {
        let len = rest.len();
        rest.split_at_mut(len)
    };
    let (asa_out, conv) = if carriage {
        let half = rest.len() / 3;
        rest.split_at_mut(half)
    } else {
        rest.split_at_mut(0)
    };
    let mut layer = TypeLayer {
        ty: rep.ty,
        stru: rep.stru,
        table: rep.codepage.encode_table(),
        conv,
        lines: Lines::new(if matches!(rep.ty, TransferType::Ebcdic(_)) {
            ebcdic::NL
        } else {
            b'\n'
        }),
        sent: false,
    };
    let mut enc = asa::Encoder::new();
    let mut position = offset;
    let mut last_marker = offset;
    let markers = marker_every > 0 && framer.takes_markers();
    let sink = PipeError::Write;
    loop {
        let n = read_full(file, input).map_err(PipeError::Read)?;
        if n == 0 {
            break;
        }
        if carriage {
            let mut rest = &input[..n];
            while !rest.is_empty() {
                let (used, m) = enc.encode(rest, asa_out);
                rest = &rest[used..];
                layer.emit(&mut framer, &asa_out[..m]).map_err(sink)?;
            }
        } else {
            layer.emit(&mut framer, &input[..n]).map_err(sink)?;
        }
        position += n as u64;
        if markers && position - last_marker >= marker_every && (!carriage || enc.at_line_start()) {
            framer
                .restart(&Marker::from_offset(position))
                .map_err(sink)?;
            last_marker = position;
        }
    }
    if carriage {
        let mut tail = [0u8; 2];
        let m = enc.finish(&mut tail);
        layer.emit(&mut framer, &tail[..m]).map_err(sink)?;
    }
    layer.finish(&mut framer).map_err(sink)
}

/// Read until `buf` is full or the file ends, so every chunk but the last is whole (restart
/// markers and `SIZE` then fall on the same offsets every time).
fn read_full<R: Read + ?Sized>(file: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
