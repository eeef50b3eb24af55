//! MODE B: 3-byte block headers, a buffered block writer, and a streaming block decoder.
//!
//! RFC 959 3.4.2: each block is a descriptor byte (128 EOR, 64 EOF, 32 suspect, 16 restart
//! marker), a 16-bit big-endian byte count, then that many bytes. Framing never touches the
//! data byte by byte: [`header`] gives the 3 bytes for a slice the caller sends as it is
//! (`writev`, or a header before a `sendfile` of up to [`MAX_COUNT`] bytes), and
//! [`BlockWriter`] copies small writes into the caller's buffer with `copy_from_slice` and
//! sends writes of a whole block or more straight from the caller's slice.
//!
//! [`BlockDecoder`] is a state machine over arbitrary pieces of input: a header may arrive one
//! byte at a time, and data comes back as slices of the input, never copied. A restart marker
//! block is returned as its [`Marker`]; its descriptor's EOR/EOF, if any, follow it.

use std::io::{self, Write};

use super::{DecodeError, Decoder, Descriptor, Event, Framer, Marker, Pending, MAX_MARKER};

/// Bytes in a block header.
pub const HEADER_LEN: usize = 3;
/// Most data bytes in one block (the 16-bit count).
pub const MAX_COUNT: usize = 65535;
/// Smallest buffer [`BlockWriter`] works with (room for a marker block and a header).
pub const MIN_BUFFER: usize = 2 * HEADER_LEN + MAX_MARKER;

/// The header of a block of `count` bytes.
pub fn header(desc: Descriptor, count: u16) -> [u8; HEADER_LEN] {
    let [hi, lo] = count.to_be_bytes();
    [desc.bits(), hi, lo]
}

/// Send `data` (at most [`MAX_COUNT`] bytes) as one block, header and data in one `writev`.
pub fn write_block<W: Write>(out: &mut W, desc: Descriptor, data: &[u8]) -> io::Result<()> {
    let count = u16::try_from(data.len()).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "block longer than 65535 bytes")
    })?;
    write_all_pair(out, &header(desc, count), data)
}

/// `write_all` of two slices as one `writev`, so a header never goes out alone (Nagle).
fn write_all_pair<W: io::Write>(w: &mut W, mut a: &[u8], mut b: &[u8]) -> io::Result<()> {
    while !a.is_empty() || !b.is_empty() {
        let n = match w.write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    Ok(())
}

/// Block-mode framer: buffers small writes, sends large ones without copying.
pub struct BlockWriter<'b, W: Write> {
    out: W,
    buf: &'b mut [u8],
    len: usize,
    /// Header position of the block being filled (its header is written when it is sealed).
    open: Option<usize>,
    /// Header position of the last sealed data block, if it is still in `buf` with nothing
    /// after it: EOF can be set on it instead of sending an empty EOF block.
    last_sealed: Option<usize>,
}

impl<'b, W: Write> BlockWriter<'b, W> {
    /// A writer to `out` through `buf` (64 KiB and more lets small writes share a block).
    ///
    /// # Panics
    /// If `buf` is shorter than [`MIN_BUFFER`] (a programming error, not input).
    pub fn new(out: W, buf: &'b mut [u8]) -> BlockWriter<'b, W> {
        assert!(buf.len() >= MIN_BUFFER, "block buffer too small");
        BlockWriter {
            out,
            buf,
            len: 0,
            open: None,
            last_sealed: None,
        }
    }

    /// The underlying writer (everything written is flushed by [`Framer::finish`]).
    pub fn into_inner(self) -> W {
        self.out
    }

    fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    fn open_len(&self) -> usize {
        self.open.map_or(0, |at| self.len - at - HEADER_LEN)
    }

    /// Start a block at the end of the buffer (flushing first if not even a header fits).
    fn open_block(&mut self) -> io::Result<()> {
        if self.open.is_none() {
            if self.room() <= HEADER_LEN {
                self.flush_buf()?;
            }
            self.open = Some(self.len);
            self.len += HEADER_LEN;
        }
        Ok(())
    }

    /// Write the open block's header, ending it with `desc`.
    fn seal(&mut self, desc: Descriptor) {
        if let Some(at) = self.open.take() {
            let count = (self.len - at - HEADER_LEN) as u16; // <= MAX_COUNT by construction
            self.buf[at..at + HEADER_LEN].copy_from_slice(&header(desc, count));
            self.last_sealed = Some(at);
        }
    }

    fn drop_empty_open(&mut self) {
        if self.open.is_some() && self.open_len() == 0 {
            self.len -= HEADER_LEN;
            self.open = None;
        }
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.drop_empty_open();
        self.seal(Descriptor::NONE);
        self.out.write_all(&self.buf[..self.len])?;
        self.len = 0;
        self.last_sealed = None;
        Ok(())
    }
}

impl<W: Write> Framer for BlockWriter<'_, W> {
    fn data(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let direct = MAX_COUNT.min(self.buf.len() - HEADER_LEN);
        while !bytes.is_empty() {
            if self.open_len() == 0 && bytes.len() >= direct {
                // A whole block's worth: frame the caller's slice, no copy.
                if self.len > 0 {
                    self.flush_buf()?;
                }
                let n = bytes.len().min(MAX_COUNT);
                write_block(&mut self.out, Descriptor::NONE, &bytes[..n])?;
                bytes = &bytes[n..];
                continue;
            }
            self.open_block()?;
            let n = bytes
                .len()
                .min(self.room())
                .min(MAX_COUNT - self.open_len());
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.open_len() == MAX_COUNT {
                self.seal(Descriptor::NONE);
            }
            if self.room() == 0 {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn end_record(&mut self) -> io::Result<()> {
        self.open_block()?;
        self.seal(Descriptor::EOR);
        Ok(())
    }

    fn restart(&mut self, marker: &Marker) -> io::Result<()> {
        self.drop_empty_open();
        self.seal(Descriptor::NONE);
        let m = marker.as_bytes();
        if self.room() < HEADER_LEN + m.len() {
            self.flush_buf()?;
        }
        self.buf[self.len..self.len + HEADER_LEN]
            .copy_from_slice(&header(Descriptor::RESTART, m.len() as u16));
        self.buf[self.len + HEADER_LEN..self.len + HEADER_LEN + m.len()].copy_from_slice(m);
        self.len += HEADER_LEN + m.len();
        self.last_sealed = None; // EOF stays off a marker block: it carries no data
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.open_len() > 0 {
            self.seal(Descriptor::EOF);
        } else {
            self.drop_empty_open();
            match self.last_sealed {
                Some(at) => self.buf[at] |= Descriptor::EOF.bits(),
                None => {
                    if self.room() < HEADER_LEN {
                        self.flush_buf()?;
                    }
                    self.buf[self.len..self.len + HEADER_LEN]
                        .copy_from_slice(&header(Descriptor::EOF, 0));
                    self.len += HEADER_LEN;
                }
            }
        }
        self.out.write_all(&self.buf[..self.len])?;
        self.len = 0;
        self.last_sealed = None;
        self.out.flush()
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header {
        got: usize,
        bytes: [u8; HEADER_LEN],
    },
    Data {
        left: usize,
        desc: Descriptor,
    },
    Marker {
        left: usize,
        desc: Descriptor,
        got: usize,
        bytes: [u8; MAX_MARKER],
    },
}

const AT_HEADER: State = State::Header {
    got: 0,
    bytes: [0; HEADER_LEN],
};

/// Streaming decoder of block-mode data.
#[derive(Debug)]
pub struct BlockDecoder {
    state: State,
    pending: Pending,
    ended: bool,
}

impl Default for BlockDecoder {
    fn default() -> BlockDecoder {
        BlockDecoder {
            state: AT_HEADER,
            pending: Pending::default(),
            ended: false,
        }
    }
}

impl BlockDecoder {
    /// A decoder at the start of a file.
    pub fn new() -> BlockDecoder {
        BlockDecoder::default()
    }

    /// The current block is complete: its EOR/EOF are owed next.
    fn block_done(&mut self, desc: Descriptor) {
        self.state = AT_HEADER;
        self.pending = Pending::from(desc);
    }

    fn pop(&mut self) -> Option<Event<'static>> {
        let ev = self.pending.pop();
        self.ended |= ev == Some(Event::End);
        ev
    }
}

impl Decoder for BlockDecoder {
    fn next<'a>(&'a mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), DecodeError> {
        if let Some(ev) = self.pop() {
            return Ok((0, Some(ev)));
        }
        if self.ended {
            return if input.is_empty() {
                Ok((0, None))
            } else {
                Err(DecodeError::AfterEnd)
            };
        }
        let mut used = 0;
        // Each turn uses at least one byte or returns; empty blocks loop here without events.
        while used < input.len() {
            let rest = &input[used..];
            match self.state {
                State::Header { mut got, mut bytes } => {
                    let n = (HEADER_LEN - got).min(rest.len());
                    bytes[got..got + n].copy_from_slice(&rest[..n]);
                    got += n;
                    used += n;
                    if got < HEADER_LEN {
                        self.state = State::Header { got, bytes };
                        continue;
                    }
                    let desc = Descriptor::from_byte(bytes[0])?;
                    let count = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
                    if desc.contains(Descriptor::RESTART) {
                        if count == 0 || count > MAX_MARKER {
                            return Err(DecodeError::BadMarker);
                        }
                        self.state = State::Marker {
                            left: count,
                            desc,
                            got: 0,
                            bytes: [0; MAX_MARKER],
                        };
                    } else if count == 0 {
                        self.block_done(desc);
                        if let Some(ev) = self.pop() {
                            return Ok((used, Some(ev)));
                        }
                    } else {
                        self.state = State::Data { left: count, desc };
                    }
                }
                State::Data { left, desc } => {
                    let n = left.min(rest.len());
                    if n == left {
                        self.block_done(desc);
                    } else {
                        self.state = State::Data {
                            left: left - n,
                            desc,
                        };
                    }
                    let suspect = desc.contains(Descriptor::SUSPECT);
                    return Ok((
                        used + n,
                        Some(Event::Data {
                            bytes: &rest[..n],
                            suspect,
                        }),
                    ));
                }
                State::Marker {
                    left,
                    desc,
                    mut got,
                    mut bytes,
                } => {
                    let n = left.min(rest.len());
                    bytes[got..got + n].copy_from_slice(&rest[..n]);
                    got += n;
                    used += n;
                    if n < left {
                        self.state = State::Marker {
                            left: left - n,
                            desc,
                            got,
                            bytes,
                        };
                        continue;
                    }
                    let marker = Marker::new(&bytes[..got])?;
                    self.block_done(desc);
                    return Ok((used, Some(Event::Restart(marker))));
                }
            }
        }
        Ok((used, None))
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.state {
            _ if self.ended => Ok(()),
            State::Header { got: 0, .. } => Ok(()),
            _ => Err(DecodeError::Truncated),
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::Lines;
    use super::super::testkit::{decode_chunked, decode_whole, merged, Owned, Rng};
    use super::*;

    /// Accepts at most 2 bytes per call, to exercise partial vectored writes.
    struct Trickle(Vec<u8>);
    impl io::Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(2);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_all_pair_survives_short_writes() {
        let mut t = Trickle(Vec::new());
        write_all_pair(&mut t, b"abc", b"defgh").unwrap();
        assert_eq!(t.0, b"abcdefgh");
        write_all_pair(&mut t, b"", b"").unwrap();
        assert_eq!(t.0, b"abcdefgh");
    }

    const D: Descriptor = Descriptor::NONE;

    fn data(b: &[u8]) -> Owned {
        Owned::Data(b.to_vec(), false)
    }

    #[test]
    fn headers_as_the_rfc_draws_them() {
        assert_eq!(header(Descriptor::RESTART, 6), [16, 0, 6]);
        assert_eq!(header(Descriptor::EOR, 0x0102), [128, 1, 2]);
        assert_eq!(
            header(Descriptor::EOR | Descriptor::EOF, 65535),
            [0xC0, 0xFF, 0xFF]
        );
        assert_eq!(header(Descriptor::SUSPECT, 1), [32, 0, 1]);
        let mut v = Vec::new();
        write_block(&mut v, Descriptor::EOF, b"xyz").unwrap();
        assert_eq!(v, b"\x40\x00\x03xyz");
        assert!(write_block(&mut v, D, &vec![0; MAX_COUNT + 1]).is_err());
    }

    fn encode(ops: &[Op], buf_len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; buf_len];
        let mut w = BlockWriter::new(Vec::new(), &mut buf);
        run_ops(&mut w, ops);
        w.into_inner()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Data(Vec<u8>),
        Record,
        Mark(Vec<u8>),
    }

    fn run_ops<F: Framer>(w: &mut F, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Data(d) => w.data(d).unwrap(),
                Op::Record => w.end_record().unwrap(),
                Op::Mark(m) => w.restart(&Marker::new(m).unwrap()).unwrap(),
            }
        }
        w.finish().unwrap();
    }

    #[test]
    fn writer_table() {
        let big = vec![7u8; MAX_COUNT + 1];
        let mut big_wire = vec![0, 0xFF, 0xFF];
        big_wire.extend_from_slice(&big[..MAX_COUNT]);
        big_wire.extend_from_slice(&[0x40, 0, 1, 7]);
        let cases: Vec<(Vec<Op>, Vec<u8>)> = vec![
            (vec![], b"\x40\x00\x00".to_vec()),
            (vec![Op::Data(b"abc".to_vec())], b"\x40\x00\x03abc".to_vec()),
            (
                vec![Op::Data(b"ab".to_vec()), Op::Data(b"c".to_vec())],
                b"\x40\x00\x03abc".to_vec(),
            ),
            (
                vec![Op::Data(b"ab".to_vec()), Op::Record],
                b"\xC0\x00\x02ab".to_vec(),
            ),
            (
                vec![Op::Record, Op::Record],
                b"\x80\x00\x00\xC0\x00\x00".to_vec(),
            ),
            (
                vec![
                    Op::Data(b"ab".to_vec()),
                    Op::Mark(b"r1".to_vec()),
                    Op::Data(b"c".to_vec()),
                ],
                b"\x00\x00\x02ab\x10\x00\x02r1\x40\x00\x01c".to_vec(),
            ),
            (
                vec![Op::Mark(b"r1".to_vec())],
                b"\x10\x00\x02r1\x40\x00\x00".to_vec(),
            ),
            (vec![Op::Data(big.clone())], big_wire),
        ];
        for (ops, wire) in cases {
            for buf_len in [MIN_BUFFER, 4096, 200_000] {
                assert_eq!(
                    encode(&ops, buf_len),
                    wire,
                    "{ops:?} with a {buf_len} byte buffer"
                );
            }
            let events = decode_whole(&mut BlockDecoder::new(), &encode(&ops, 200_000)).unwrap();
            assert_eq!(events.last(), Some(&Owned::End));
        }
    }

    #[test]
    fn lines_become_eor_blocks() {
        let mut buf = vec![0u8; 4096];
        let mut w = BlockWriter::new(Vec::new(), &mut buf);
        let mut lines = Lines::new(b'\n');
        lines.send(&mut w, b"one\ntwo\nthree").unwrap();
        lines.finish(&mut w).unwrap();
        assert_eq!(
            w.into_inner(),
            b"\x80\x00\x03one\x80\x00\x03two\xC0\x00\x05three"
        );
    }

    #[test]
    fn decoder_table() {
        let cases: Vec<(&[u8], Vec<Owned>)> = vec![
            (b"\x40\x00\x00", vec![Owned::End]),
            (
                b"\x00\x00\x03abc\x40\x00\x00",
                vec![data(b"abc"), Owned::End],
            ),
            (
                b"\x80\x00\x02ab\xC0\x00\x01c",
                vec![
                    data(b"ab"),
                    Owned::Record,
                    data(b"c"),
                    Owned::Record,
                    Owned::End,
                ],
            ),
            (
                b"\x20\x00\x02ab\x40\x00\x01c",
                vec![Owned::Data(b"ab".to_vec(), true), data(b"c"), Owned::End],
            ),
            (
                b"\x10\x00\x06r00042\x00\x00\x00",
                vec![Owned::Restart(b"r00042".to_vec())],
            ),
            (
                b"\x50\x00\x01x",
                vec![Owned::Restart(b"x".to_vec()), Owned::End],
            ),
            (
                b"\xD0\x00\x01x",
                vec![Owned::Restart(b"x".to_vec()), Owned::Record, Owned::End],
            ),
            (b"\x00\x00\x00\x00\x00\x00", vec![]),
            (
                b"\xE0\x00\x01z",
                vec![Owned::Data(b"z".to_vec(), true), Owned::Record, Owned::End],
            ),
        ];
        for (wire, expected) in cases {
            let mut rng = Rng::new(3);
            for max_chunk in [1, 2, 3, 4, 100] {
                let got = decode_chunked(&mut BlockDecoder::new(), wire, &mut rng, max_chunk);
                assert_eq!(got.as_ref(), Ok(&expected), "{wire:?}");
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let err = |wire: &[u8]| decode_whole(&mut BlockDecoder::new(), wire).unwrap_err();
        assert_eq!(err(b"\x01\x00\x00"), DecodeError::UnknownDescriptor(1));
        assert_eq!(err(b"\x10\x00\x00"), DecodeError::BadMarker);
        assert_eq!(err(b"\x10\x00\x41"), DecodeError::BadMarker);
        assert_eq!(err(b"\x10\x00\x02a "), DecodeError::BadMarker);
        assert_eq!(err(b"\x10\x00\x02a\n"), DecodeError::BadMarker);
        assert_eq!(err(b"\x00\x00"), DecodeError::Truncated);
        assert_eq!(err(b"\x00\x00\x05abc"), DecodeError::Truncated);
        assert_eq!(err(b"\x10\x00\x05abc"), DecodeError::Truncated);
        assert_eq!(err(b"\x40\x00\x00\x00"), DecodeError::AfterEnd);
        // Closed at a block boundary without EOF: EOF implied by the close (RFC 959 3.4).
        let mut dec = BlockDecoder::new();
        assert_eq!(
            decode_whole(&mut dec, b"\x00\x00\x01a"),
            Ok(vec![data(b"a")])
        );
        assert!(!dec.ended());
        let mut rng = Rng::new(5);
        for _ in 0..3000 {
            let len = rng.below(40);
            let junk: Vec<u8> = (0..len)
                .map(|_| [0, 0x10, 0x40, 0x80, 0x20, 0xFF, 1, 2, b'x'][rng.below(9)])
                .collect();
            let _ = decode_chunked(&mut BlockDecoder::new(), &junk, &mut rng, 5);
        }
    }

    const COUNTS: [usize; 9] = [0, 1, 2, 63, 64, 127, 128, 65535, 65536];

    /// Random descriptor and count combinations written with `header`, decoded in random pieces.
    #[test]
    fn every_descriptor_and_count_boundary_decodes() {
        let mut rng = Rng::new(11);
        for round in 0..120 {
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..1 + rng.below(6) {
                let desc = Descriptor::from_byte((rng.below(16) as u8) << 4).unwrap();
                if desc.contains(Descriptor::RESTART) {
                    let m: Vec<u8> = (0..1 + rng.below(MAX_MARKER))
                        .map(|_| 0x21 + rng.below(94) as u8)
                        .collect();
                    wire.extend_from_slice(&header(desc, m.len() as u16));
                    wire.extend_from_slice(&m);
                    expected.push(Owned::Restart(m));
                } else {
                    let count = COUNTS[rng.below(COUNTS.len() - 1)]; // 65536 does not fit a header
                    let d = rng.bytes(count, 0);
                    wire.extend_from_slice(&header(desc, count as u16));
                    wire.extend_from_slice(&d);
                    expected.push(Owned::Data(d, desc.contains(Descriptor::SUSPECT)));
                }
                if desc.contains(Descriptor::EOR) {
                    expected.push(Owned::Record);
                }
                if desc.contains(Descriptor::EOF) {
                    expected.push(Owned::End);
                    break;
                }
            }
            let max_chunk = 1 + rng.below(70_000);
            let got = decode_chunked(&mut BlockDecoder::new(), &wire, &mut rng, max_chunk);
            assert_eq!(got, Ok(merged(expected)), "round {round}");
        }
    }

    /// Random writer operations, every count boundary, random buffers, random read pieces.
    #[test]
    fn writer_round_trips() {
        let mut rng = Rng::new(12);
        for round in 0..150 {
            let mut ops = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..rng.below(8) {
                match rng.below(5) {
                    0 => {
                        ops.push(Op::Record);
                        expected.push(Owned::Record);
                    }
                    1 => {
                        let m: Vec<u8> = (0..1 + rng.below(MAX_MARKER))
                            .map(|_| 0x21 + rng.below(94) as u8)
                            .collect();
                        ops.push(Op::Mark(m.clone()));
                        expected.push(Owned::Restart(m));
                    }
                    _ => {
                        let n = COUNTS[rng.below(COUNTS.len())] + rng.below(3);
                        let d = rng.bytes(n, 0);
                        ops.push(Op::Data(d.clone()));
                        expected.push(Owned::Data(d, false));
                    }
                }
            }
            expected.push(Owned::End);
            let buf_len = [MIN_BUFFER, MIN_BUFFER + 1, 1000, 65538, 131_072][rng.below(5)];
            let wire = encode(&ops, buf_len);
            let max_chunk = 1 + rng.below(9000);
            let got = decode_chunked(&mut BlockDecoder::new(), &wire, &mut rng, max_chunk);
            assert_eq!(got, Ok(merged(expected)), "round {round}, buffer {buf_len}");
        }
    }
}
