//! Receiving: the mode's decoder -> records -> type layer -> ASA (format C) -> stored bytes.

use super::framing::AnyDecoder;
use super::{PipeError, Representation};
use crate::codec::ascii::CrlfToLf;
use crate::codec::{asa, ebcdic, Event, Marker};
use crate::command::{Format, Structure, TransferType};
use std::io::{self, Read, Write};

/// Smallest scratch buffer [`receive`] works with.
pub const MIN_SCRATCH: usize = 4096;

/// The stages after the decoder, writing to the file and counting what they wrote.
struct Store<'a, W: Write> {
    file: W,
    ty: TransferType,
    stru: Structure,
    table: &'static [u8; 256],
    crlf: CrlfToLf,
    /// Format C: the ASA decoder and its output buffer.
    asa: Option<(asa::Decoder, &'a mut [u8])>,
    conv: &'a mut [u8],
    /// Stored bytes written by this transfer.
    written: u64,
}

impl<W: Write> Store<'_, W> {
    /// Wire data of the current record (or of the file).
    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        match (self.ty, self.stru) {
            (TransferType::Binary, _) => self.text(bytes),
            // In record structure the EOR is the line end: the record's bytes are its text.
            (TransferType::Ascii(_), Structure::Record) => self.text(bytes),
            (TransferType::Ascii(_), Structure::File) => {
                let step = self.conv.len() - 1;
                for piece in bytes.chunks(step) {
                    let n = self.crlf.convert(piece, self.conv);
                    let conv = std::mem::take(&mut self.conv);
                    let r = self.text(&conv[..n]);
                    self.conv = conv;
                    r?;
                }
                Ok(())
            }
            (TransferType::Ebcdic(_), _) => {
                for piece in bytes.chunks(self.conv.len()) {
                    let n = ebcdic::translate_into(self.table, piece, self.conv);
                    let conv = std::mem::take(&mut self.conv);
                    let r = self.text(&conv[..n]);
                    self.conv = conv;
                    r?;
                }
                Ok(())
            }
        }
    }

    /// An end of record: stored as a line end for text; binary records are stored back to
    /// back (a Unix file has no record boundaries to keep them in).
    fn record(&mut self) -> io::Result<()> {
        if self.ty.is_text() && self.stru == Structure::Record {
            self.text(b"\n")
        } else {
            Ok(())
        }
    }

    /// Stored-form text: through the ASA decoder (format C) to the file.
    fn text(&mut self, text: &[u8]) -> io::Result<()> {
        match &mut self.asa {
            None => {
                self.file.write_all(text)?;
                self.written += text.len() as u64;
            }
            Some((dec, out)) => {
                let mut rest = text;
                while !rest.is_empty() {
                    let (used, n) = dec.decode(rest, out);
                    rest = &rest[used..];
                    self.file.write_all(&out[..n])?;
                    self.written += n as u64;
                }
            }
        }
        Ok(())
    }

    /// The data ended: what the conversions held back.
    fn finish(&mut self) -> io::Result<()> {
        let held = self.crlf.finish();
        self.text(held)?;
        if let Some((dec, _)) = &mut self.asa {
            let mut tail = [0u8; 1];
            let n = dec.finish(&mut tail);
            self.file.write_all(&tail[..n])?;
            self.written += n as u64;
        }
        self.file.flush()
    }
}

/// Receive `rep`-encoded data from `net` into `file`, whose stored part before this transfer
/// is `base` bytes (the REST offset, or the length APPE appends to). Each restart marker the
/// sender puts in the data is passed to `mark` with the server's marker for that point: the
/// stored offset, which `REST` takes back. Ends at the explicit EOF (the rest of the
/// connection is not read) or, where RFC 959 3.4 allows it, at the close.
pub fn receive<R: Read + ?Sized, W: Write>(
    rep: Representation,
    net: &mut R,
    file: W,
    base: u64,
    scratch: &mut [u8],
    mark: &mut dyn FnMut(Marker, u64),
) -> Result<(), PipeError> {
    assert!(scratch.len() >= MIN_SCRATCH, "receive scratch too small");
    let carriage = rep.ty.format() == Format::Carriage;
    let (input, rest) = scratch.split_at_mut(scratch.len() / 2);
    let (asa_out, conv) = if carriage {
        let half = rest.len() / 2;
        rest.split_at_mut(half)
    } else {
        rest.split_at_mut(0)
    };
    let asa = carriage.then(|| {
        // A restart continues after a line whose newline the decoder held (see asa::Decoder).
        let dec = if base > 0 {
            asa::Decoder::resume()
        } else {
            asa::Decoder::new()
        };
        (dec, asa_out)
    });
    let mut store = Store {
        file,
        ty: rep.ty,
        stru: rep.stru,
        table: rep.codepage.decode_table(),
        crlf: CrlfToLf::default(),
        asa,
        conv,
        written: 0,
    };
    let mut dec = AnyDecoder::new(rep.mode, rep.stru, rep.filler());
    let sink = PipeError::Write;
    'net: loop {
        let n = match net.read(input) {
            Ok(0) => {
                dec.finish().map_err(PipeError::Decode)?;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PipeError::Read(e)),
        };
        let mut rest = &input[..n];
        loop {
            let (used, event) = dec.next(rest).map_err(PipeError::Decode)?;
            match event {
                None => break,
                Some(Event::Data { bytes, .. }) => store.data(bytes).map_err(sink)?,
                Some(Event::Record) => store.record().map_err(sink)?,
                Some(Event::Restart(marker)) => mark(marker, base + store.written),
                // In block and compressed mode the EOF ends the file, not the connection:
                // nothing after it is read (the server closes the data connection).
                Some(Event::End) => break 'net,
            }
            rest = &rest[used..];
        }
    }
    store.finish().map_err(sink)
}
