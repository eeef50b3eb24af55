//! STRU R: record structure in stream mode (0xFF escapes), and stored lines as records in any mode.
//!
//! RFC 959 3.4.1: in stream mode a record ends with 0xFF 0x01 (EOR), the file with 0xFF 0x02
//! (EOF), both at once with 0xFF 0x03, and a data byte 0xFF is sent doubled. In block and
//! compressed mode the same EOR/EOF are descriptor flags, so [`Lines`] speaks to any
//! [`Framer`] and [`StreamWriter`] is the stream-mode one.
//!
//! A Unix host has no records, so (3.1.2: the transformation "must be invertible so that an
//! identical file may be retrieved using record structure") a stored text file is a sequence
//! of lines and **each line is one record**: sending, every line end becomes an EOR; receiving,
//! every EOR is stored as a line end. The line end is a parameter: LF for ASCII and Image, and
//! for EBCDIC the wire's NL (0x15), because the escapes are applied to wire bytes after the
//! [`super::ebcdic`] table has turned LF into NL.
//!
//! **A file whose last line has no line end** is sent with that line as its last record
//! (`...line 0xFF 0x03`): 3.4 requires every EOR to be explicit, "including the final one",
//! and a record cannot say "no newline here". Storing records always writes a line end after
//! each, so records -> file -> records is exact, and such a file comes back with a final LF.
//! An empty file is no records: EOF alone (0xFF 0x02).

use std::io::{self, Write};

use super::{DecodeError, Decoder, Event, Framer, Marker, Pending};

/// The stream-mode escape byte.
pub const ESCAPE: u8 = 0xFF;
/// Second byte of the end-of-record escape.
pub const EOR: u8 = 0x01;
/// Second byte of the end-of-file escape.
pub const EOF: u8 = 0x02;
/// Second byte of the escape for EOR and EOF together.
pub const EOR_EOF: u8 = 0x03;

/// Smallest buffer [`StreamWriter`] works with.
pub const MIN_BUFFER: usize = 16;

fn find(byte: u8, input: &[u8]) -> Option<usize> {
    input.iter().position(|&b| b == byte)
}

/// Decoder of record-structured stream-mode data.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// An 0xFF was the last byte of the previous input.
    escaped: bool,
    pending: Pending,
    ended: bool,
}

impl StreamDecoder {
    /// A decoder at the start of a file.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Decode the byte after an 0xFF, at `input[0]` (non-empty).
    fn escape<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), DecodeError> {
        self.escaped = false;
        match input[0] {
            // A doubled 0xFF: the second is data, and so is everything up to the next escape.
            ESCAPE => {
                let end = find(ESCAPE, &input[1..]).map_or(input.len(), |i| i + 1);
                Ok((
                    end,
                    Some(Event::Data {
                        bytes: &input[..end],
                        suspect: false,
                    }),
                ))
            }
            EOR => Ok((1, Some(Event::Record))),
            EOF => {
                self.ended = true;
                Ok((1, Some(Event::End)))
            }
            EOR_EOF => {
                self.pending.end = true;
                Ok((1, Some(Event::Record)))
            }
            b => Err(DecodeError::BadEscape(b)),
        }
    }
}

impl Decoder for StreamDecoder {
    fn next<'a>(&'a mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), DecodeError> {
        if let Some(ev) = self.pending.pop() {
            self.ended |= ev == Event::End;
            return Ok((0, Some(ev)));
        }
        if self.ended {
            return if input.is_empty() {
                Ok((0, None))
            } else {
                Err(DecodeError::AfterEnd)
            };
        }
        if input.is_empty() {
            return Ok((0, None));
        }
        if self.escaped {
            return self.escape(input);
        }
        match find(ESCAPE, input) {
            None => Ok((
                input.len(),
                Some(Event::Data {
                    bytes: input,
                    suspect: false,
                }),
            )),
            Some(0) if input.len() == 1 => {
                self.escaped = true;
                Ok((1, None))
            }
            Some(0) => {
                let (used, ev) = self.escape(&input[1..])?;
                Ok((used + 1, ev))
            }
            Some(i) => Ok((
                i,
                Some(Event::Data {
                    bytes: &input[..i],
                    suspect: false,
                }),
            )),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.escaped {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }
}

/// Stream-mode framer for STRU R: escapes 0xFF, sends EOR/EOF as 0xFF escapes.
pub struct StreamWriter<'b, W: Write> {
    out: W,
    buf: &'b mut [u8],
    len: usize,
    /// Position in `buf` of an EOR escape with nothing after it yet (EOF can join it).
    last_eor: Option<usize>,
}

impl<'b, W: Write> StreamWriter<'b, W> {
    /// A writer to `out` through `buf`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`MIN_BUFFER`] (a programming error, not input).
    pub fn new(out: W, buf: &'b mut [u8]) -> StreamWriter<'b, W> {
        assert!(buf.len() >= MIN_BUFFER, "record buffer too small");
        StreamWriter {
            out,
            buf,
            len: 0,
            last_eor: None,
        }
    }

    /// The underlying writer (everything written is flushed by [`Framer::finish`]).
    pub fn into_inner(self) -> W {
        self.out
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf[..self.len])?;
        self.len = 0;
        self.last_eor = None;
        Ok(())
    }

    fn push_escape(&mut self, code: u8) -> io::Result<()> {
        if self.buf.len() - self.len < 2 {
            self.flush_buf()?;
        }
        self.buf[self.len] = ESCAPE;
        self.buf[self.len + 1] = code;
        self.len += 2;
        Ok(())
    }
}

impl<W: Write> Framer for StreamWriter<'_, W> {
    fn data(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.last_eor = None;
        }
        while !bytes.is_empty() {
            let plain = find(ESCAPE, bytes).unwrap_or(bytes.len());
            let n = plain.min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if n < plain {
                self.flush_buf()?;
            } else if !bytes.is_empty() {
                self.push_escape(ESCAPE)?;
                bytes = &bytes[1..];
            }
        }
        Ok(())
    }

    fn end_record(&mut self) -> io::Result<()> {
        self.push_escape(EOR)?;
        self.last_eor = Some(self.len - 2);
        Ok(())
    }

    fn restart(&mut self, _marker: &Marker) -> io::Result<()> {
        // RFC 959 3.5: restart is defined only for block and compressed mode.
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no restart markers in stream mode",
        ))
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.last_eor {
            Some(at) if at + 2 == self.len => self.buf[at + 1] = EOR_EOF,
            _ => self.push_escape(EOF)?,
        }
        self.flush_buf()?;
        self.out.flush()
    }
}

/// Sends stored text as records through any [`Framer`]: each line one record.
#[derive(Debug)]
pub struct Lines {
    eol: u8,
    /// Part of a line has been sent and its line end not yet seen.
    open: bool,
}

impl Lines {
    /// Records split at `eol` (LF, or NL 0x15 for EBCDIC wire text).
    pub fn new(eol: u8) -> Lines {
        Lines { eol, open: false }
    }

    /// Send `input` (any piece of the text), ending a record at each line end.
    pub fn send<F: Framer + ?Sized>(&mut self, f: &mut F, mut input: &[u8]) -> io::Result<()> {
        while !input.is_empty() {
            match find(self.eol, input) {
                Some(i) => {
                    f.data(&input[..i])?;
                    f.end_record()?;
                    self.open = false;
                    input = &input[i + 1..];
                }
                None => {
                    f.data(input)?;
                    self.open = true;
                    break;
                }
            }
        }
        Ok(())
    }

    /// End of the file: an unterminated last line still becomes a record; then EOF.
    pub fn finish<F: Framer + ?Sized>(&mut self, f: &mut F) -> io::Result<()> {
        if std::mem::take(&mut self.open) {
            f.end_record()?;
        }
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{decode_chunked, decode_whole, Owned, Rng};
    use super::*;

    fn send(text: &[u8], eol: u8, chunk: usize) -> Vec<u8> {
        let mut buf = [0u8; MIN_BUFFER];
        let mut w = StreamWriter::new(Vec::new(), &mut buf);
        let mut lines = Lines::new(eol);
        for piece in text.chunks(chunk.max(1)) {
            lines.send(&mut w, piece).unwrap();
        }
        lines.finish(&mut w).unwrap();
        w.into_inner()
    }

    #[test]
    fn rfc_encoding_table() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b"\xff\x02"),
            (b"a\nb\n", b"a\xff\x01b\xff\x03"),
            (b"a\nb", b"a\xff\x01b\xff\x03"),
            (b"\n", b"\xff\x03"),
            (b"a\n\nb\n", b"a\xff\x01\xff\x01b\xff\x03"),
            (b"\xff\n", b"\xff\xff\xff\x03"),
            (b"x\xff\xffy\n", b"x\xff\xff\xff\xffy\xff\x03"),
        ];
        for (text, wire) in cases {
            for chunk in [1, 2, 3, 100] {
                assert_eq!(
                    send(text, b'\n', chunk),
                    wire,
                    "{text:?} in pieces of {chunk}"
                );
            }
        }
        // EBCDIC wire text ends lines with NL; LF is then just data.
        assert_eq!(send(b"a\x15b\nc", 0x15, 4), b"a\xff\x01b\nc\xff\x03");
    }

    #[test]
    fn rfc_decoding_table() {
        let d = |b: &[u8]| Owned::Data(b.to_vec(), false);
        let cases: [(&[u8], Vec<Owned>); 5] = [
            (b"\xff\x02", vec![Owned::End]),
            (
                b"ab\xff\x01c\xff\x03",
                vec![d(b"ab"), Owned::Record, d(b"c"), Owned::Record, Owned::End],
            ),
            (
                b"\xff\xff\xff\xffz\xff\x01",
                vec![d(b"\xff\xffz"), Owned::Record],
            ),
            (b"", vec![]),
            (b"no escapes at all", vec![d(b"no escapes at all")]),
        ];
        for (wire, expected) in cases {
            let mut rng = Rng::new(7);
            for max_chunk in [1, 2, 5, 64] {
                let got = decode_chunked(&mut StreamDecoder::new(), wire, &mut rng, max_chunk);
                assert_eq!(got.as_ref(), Ok(&expected), "{wire:?}");
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut dec = StreamDecoder::new();
        assert_eq!(
            decode_whole(&mut dec, b"a\xff\x04"),
            Err(DecodeError::BadEscape(4))
        );
        assert_eq!(
            decode_whole(&mut StreamDecoder::new(), b"a\xff"),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_whole(&mut StreamDecoder::new(), b"\xff\x02x"),
            Err(DecodeError::AfterEnd)
        );
        assert_eq!(
            decode_whole(&mut StreamDecoder::new(), b"\xff\x03x"),
            Err(DecodeError::AfterEnd)
        );
        let mut dec = StreamDecoder::new();
        assert_eq!(
            decode_whole(&mut dec, b"closed without EOF\xff\x01"),
            Ok(vec![
                Owned::Data(b"closed without EOF".to_vec(), false),
                Owned::Record
            ])
        );
        assert!(!dec.ended());
        let mut rng = Rng::new(99);
        for _ in 0..2000 {
            let len = rng.below(64);
            let junk = rng.bytes(len, 0xFF);
            let _ = decode_chunked(&mut StreamDecoder::new(), &junk, &mut rng, 8);
        }
    }

    #[test]
    fn restart_is_refused_in_stream_mode() {
        let mut buf = [0u8; MIN_BUFFER];
        let mut w = StreamWriter::new(Vec::new(), &mut buf);
        assert!(w.restart(&Marker::from_offset(1)).is_err());
    }

    #[test]
    fn random_lines_round_trip() {
        let mut rng = Rng::new(1);
        for round in 0..300 {
            let len = rng.below(2000);
            let mut text = rng.bytes(len, b'\n');
            // Lines that are often short or empty, with 0xFF in them.
            for _ in 0..rng.below(40) {
                let at = rng.below(text.len() + 1);
                text.insert(at, if rng.below(2) == 0 { b'\n' } else { 0xFF });
            }
            let wire = send(&text, b'\n', 1 + rng.below(300));
            let max_chunk = 1 + rng.below(50);
            let events =
                decode_chunked(&mut StreamDecoder::new(), &wire, &mut rng, max_chunk).unwrap();
            let mut stored = Vec::new();
            for e in &events {
                match e {
                    Owned::Data(v, false) => stored.extend_from_slice(v),
                    Owned::Record => stored.push(b'\n'),
                    Owned::End => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(events.last(), Some(&Owned::End), "round {round}");
            let mut expected = text.clone();
            if expected.last().is_some_and(|&b| b != b'\n') {
                expected.push(b'\n');
            }
            assert_eq!(stored, expected, "round {round}");
            // And stored lines go out as the very same records.
            assert_eq!(send(&stored, b'\n', 4096), wire, "round {round}");
        }
    }
}
