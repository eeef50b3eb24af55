//! The framer and decoder of a transfer's MODE and STRU, chosen once per transfer.

use crate::codec::block::{self, BlockDecoder, BlockWriter};
use crate::codec::compressed::{self, CompressedDecoder, CompressedWriter};
use crate::codec::records::{self, StreamDecoder, StreamWriter};
use crate::codec::{DecodeError, Decoder, Event, Framer, Marker};
use crate::command::{Mode, Structure};
use std::io::{self, Write};

/// Bytes of a framer's own buffer: small writes (records, text lines) share blocks of this
/// size; writes of this size or more go out from the caller's slice.
pub const FRAMER_BUFFER: usize = 16 * 1024;

/// Stream mode, file structure: the bytes as they are; EOF is the close (RFC 959 3.4.1).
pub struct Plain<W: Write>(pub W);

impl<W: Write> Framer for Plain<W> {
    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }
    fn end_record(&mut self) -> io::Result<()> {
        // File structure has no records; the pipeline never asks.
        Ok(())
    }
    fn restart(&mut self, _marker: &Marker) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no restart markers in stream mode",
        ))
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One of the four framers.
pub enum AnyFramer<'b, W: Write> {
    /// MODE S, STRU F.
    Plain(Plain<W>),
    /// MODE S, STRU R: 0xFF escapes.
    Records(StreamWriter<'b, W>),
    /// MODE B.
    Block(BlockWriter<'b, W>),
    /// MODE C.
    Compressed(CompressedWriter<'b, W>),
}

impl<'b, W: Write> AnyFramer<'b, W> {
    /// The framer for `mode` and `stru` writing to `out`; `buf` holds at least
    /// [`FRAMER_BUFFER`] bytes (unused in plain stream mode). `filler` is the wire's filler
    /// byte of compressed mode.
    pub fn new(mode: Mode, stru: Structure, out: W, buf: &'b mut [u8], filler: u8) -> Self {
        match (mode, stru) {
            (Mode::Stream, Structure::File) => AnyFramer::Plain(Plain(out)),
            (Mode::Stream, Structure::Record) => AnyFramer::Records(StreamWriter::new(out, buf)),
            (Mode::Block, _) => AnyFramer::Block(BlockWriter::new(out, buf)),
            (Mode::Compressed, _) => AnyFramer::Compressed(CompressedWriter::new(out, buf, filler)),
        }
    }

    fn inner(&mut self) -> &mut dyn Framer {
        match self {
            AnyFramer::Plain(f) => f,
            AnyFramer::Records(f) => f,
            AnyFramer::Block(f) => f,
            AnyFramer::Compressed(f) => f,
        }
    }

    /// Whether restart markers can be sent (block and compressed mode, RFC 959 3.5).
    pub fn takes_markers(&self) -> bool {
        matches!(self, AnyFramer::Block(_) | AnyFramer::Compressed(_))
    }
}

impl<W: Write> Framer for AnyFramer<'_, W> {
    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner().data(bytes)
    }
    fn end_record(&mut self) -> io::Result<()> {
        self.inner().end_record()
    }
    fn restart(&mut self, marker: &Marker) -> io::Result<()> {
        self.inner().restart(marker)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.inner().finish()
    }
}

/// The decoder of `mode` and `stru`, or `None` for plain stream mode (every byte is data).
pub enum AnyDecoder {
    /// MODE S, STRU F: no decoding; EOF is the close.
    Plain,
    /// MODE S, STRU R.
    Records(StreamDecoder),
    /// MODE B.
    Block(BlockDecoder),
    /// MODE C.
    Compressed(CompressedDecoder),
}

impl AnyDecoder {
    /// The decoder for `mode` and `stru`; `filler` is the wire's filler byte of compressed mode.
    pub fn new(mode: Mode, stru: Structure, filler: u8) -> AnyDecoder {
        match (mode, stru) {
            (Mode::Stream, Structure::File) => AnyDecoder::Plain,
            (Mode::Stream, Structure::Record) => AnyDecoder::Records(StreamDecoder::new()),
            (Mode::Block, _) => AnyDecoder::Block(BlockDecoder::new()),
            (Mode::Compressed, _) => AnyDecoder::Compressed(CompressedDecoder::new(filler)),
        }
    }

    /// The next event in `input` (see [`Decoder::next`]); plain mode returns it all as data.
    pub fn next<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), DecodeError> {
        match self {
            AnyDecoder::Plain if input.is_empty() => Ok((0, None)),
            AnyDecoder::Plain => Ok((
                input.len(),
                Some(Event::Data {
                    bytes: input,
                    suspect: false,
                }),
            )),
            AnyDecoder::Records(d) => d.next(input),
            AnyDecoder::Block(d) => d.next(input),
            AnyDecoder::Compressed(d) => d.next(input),
        }
    }

    /// The connection closed: fine at EOF or between units (see [`Decoder::finish`]).
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self {
            AnyDecoder::Plain => Ok(()),
            AnyDecoder::Records(d) => d.finish(),
            AnyDecoder::Block(d) => d.finish(),
            AnyDecoder::Compressed(d) => d.finish(),
        }
    }
}

/// Smallest framer buffer each codec accepts (checked here once, so `new` cannot panic).
const _: () = assert!(
    FRAMER_BUFFER >= block::MIN_BUFFER
        && FRAMER_BUFFER >= compressed::MIN_BUFFER
        && FRAMER_BUFFER >= records::MIN_BUFFER
);
