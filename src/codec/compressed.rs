//! MODE C: byte strings, replicated bytes, filler strings and escapes; encoder and decoder.
//!
//! RFC 959 3.4.3, one code byte each:
//! ```text
//! 0nnnnnnn d(1)..d(n)   byte string, n = 1..127 data bytes
//! 10nnnnnn d            replicated byte: n copies of d
//! 11nnnnnn              filler string: n filler bytes (space for ASCII/EBCDIC, zero for I/L)
//! 00000000 descriptor   escape: the block-mode descriptor codes
//! ```
//! A restart marker is the escape `0x00 0x10` followed by one byte string holding the marker;
//! EOR and EOF take effect where their escape stands (see [`super`] for why).
//!
//! The [`Encoder`] codes a run of 4 or more equal bytes as a replicated byte (2 bytes) and a
//! run of 3 or more filler bytes as a filler string (1 byte); shorter runs stay in the byte
//! string, where they cost no more than the code that would end the string and the header of
//! the next one. Each 127-byte window is first checked a word at a time for equal aligned byte
//! pairs (every run of 3 has one); only a window that has one is searched for the exact start. So
//! incompressible data costs that check and one `copy_from_slice` per 127 bytes, and grows
//! by 1/127 ([`max_encoded_len`]).
//!
//! The [`CompressedDecoder`] keeps one 63-byte buffer for expanded runs; everything else is
//! returned as slices of its input.

use std::io::{self, Write};

use super::{DecodeError, Decoder, Descriptor, Event, Framer, Marker, Pending, MAX_MARKER};

/// The filler for ASCII (space); EBCDIC's is [`super::ebcdic::SPACE`].
pub const FILLER_ASCII: u8 = b' ';
/// The filler for Image and Local types.
pub const FILLER_BINARY: u8 = 0;
/// Most bytes in one byte string.
pub const MAX_STRING: usize = 127;
/// Most bytes one replicated-byte or filler code stands for.
pub const MAX_RUN: usize = 63;
/// Shortest run coded as a replicated byte.
pub const MIN_REPLICATED: usize = 4;
/// Shortest run of filler coded as a filler string.
pub const MIN_FILLER: usize = 3;
/// Smallest buffer [`CompressedWriter`] works with (an escape and a whole marker).
pub const MIN_BUFFER: usize = 3 + MAX_MARKER;

/// The escape sequence for `desc`.
pub fn escape(desc: Descriptor) -> [u8; 2] {
    [0, desc.bits()]
}

/// The most bytes `n` input bytes can take once encoded (no runs at all).
pub fn max_encoded_len(n: usize) -> usize {
    n + n.div_ceil(MAX_STRING)
}

/// Compressed-mode data encoder (stateless apart from the filler byte).
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    filler: u8,
}

impl Encoder {
    /// An encoder whose filler strings stand for `filler` (a wire byte).
    pub fn new(filler: u8) -> Encoder {
        Encoder { filler }
    }

    /// Encode as much of `input` as fits in `out`; returns (input used, output written).
    /// Makes progress whenever `out` has 2 bytes or more. A run cut by the end of `input`
    /// is coded as it stands (a run across two calls costs at most one more code).
    pub fn encode(&self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut i, mut o) = (0, 0);
        // After a whole string of data, check the next window at once (vectorised) before
        // looking for where its run starts; after a run, runs are likely: search directly.
        let mut fast = true;
        while i < input.len() && out.len() - o >= 2 {
            let limit = input.len().min(i + MAX_STRING);
            let window = &input[i..input.len().min(limit + 2)];
            let run = if fast && !maybe_triple(window) {
                limit
            } else {
                self.find_run(input, i, limit)
            };
            if run > i {
                let n = (run - i).min(out.len() - o - 1);
                fast = n == MAX_STRING;
                out[o] = n as u8;
                out[o + 1..o + 1 + n].copy_from_slice(&input[i..i + n]);
                o += 1 + n;
                i += n;
                continue;
            }
            let b = input[i];
            let max = (input.len() - i).min(MAX_RUN);
            let n = input[i..i + max]
                .iter()
                .position(|&x| x != b)
                .unwrap_or(max);
            if b == self.filler {
                out[o] = 0xC0 | n as u8;
                o += 1;
            } else {
                out[o] = 0x80 | n as u8;
                out[o + 1] = b;
                o += 2;
            }
            fast = false;
            i += n;
        }
        (i, o)
    }

    /// The first position in `from..limit` where a run worth a code starts, else `limit`.
    fn find_run(&self, input: &[u8], from: usize, limit: usize) -> usize {
        let mut p = from;
        while p < limit && p + 10 <= input.len() {
            let (a, b, c) = (word(input, p), word(input, p + 1), word(input, p + 2));
            let zeros = zero_bytes((a ^ b) | (b ^ c));
            if zeros == 0 {
                p += 8;
                continue;
            }
            let q = p + (zeros.trailing_zeros() / 8) as usize;
            if q >= limit {
                return limit;
            }
            if self.worth_coding(input, q) {
                return q;
            }
            p = q + 1;
        }
        while p < limit && p + 2 < input.len() {
            if input[p] == input[p + 1] && input[p] == input[p + 2] && self.worth_coding(input, p) {
                return p;
            }
            p += 1;
        }
        limit
    }

    /// Given three equal bytes at `q`: is the run long enough for a code?
    fn worth_coding(&self, input: &[u8], q: usize) -> bool {
        input[q] == self.filler || input.get(q + MIN_REPLICATED - 1) == Some(&input[q])
    }
}

/// Whether three equal bytes may start in `w` before its last two bytes: false means surely
/// not. Of the two equal pairs in any three equal bytes, one starts at an even offset, so it is
/// enough to compare the bytes of each aligned pair: two words per step, no branch but the
/// loop's (measured: 3x the speed of a branchy or byte-wise scan in the size-optimised release
/// build). On incompressible data one aligned pair in 256 matches; the caller then looks closer.
fn maybe_triple(w: &[u8]) -> bool {
    const ODD_BYTES: u64 = 0xFF00_FF00_FF00_FF00;
    let mut found = 0u64;
    let mut chunks = w.chunks_exact(16);
    for c in &mut chunks {
        let (v, u) = (word(c, 0), word(c, 8));
        // Byte 2k is 0 where c[2k] == c[2k+1].
        found |= zero_bytes((v ^ (v >> 8)) | ODD_BYTES) | zero_bytes((u ^ (u >> 8)) | ODD_BYTES);
    }
    for pair in chunks.remainder().chunks_exact(2) {
        found |= u64::from(pair[0] == pair[1]);
    }
    found != 0
}

/// The 8 bytes at `w[p..p + 8]` as a little-endian word (byte k = `w[p + k]`).
fn word(w: &[u8], p: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&w[p..p + 8]);
    u64::from_le_bytes(bytes)
}

/// Nonzero iff some byte of `v` is zero; its lowest set bit is in the lowest zero byte
/// (borrows only run upwards from a zero byte).
fn zero_bytes(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// Compressed-mode framer: encodes into the caller's buffer, flushes it when full.
pub struct CompressedWriter<'b, W: Write> {
    out: W,
    buf: &'b mut [u8],
    len: usize,
    enc: Encoder,
    /// Position of an EOR escape with nothing after it yet (EOF can join it).
    last_eor: Option<usize>,
}

impl<'b, W: Write> CompressedWriter<'b, W> {
    /// A writer to `out` through `buf`, with `filler` for filler strings.
    ///
    /// # Panics
    /// If `buf` is shorter than [`MIN_BUFFER`] (a programming error, not input).
    pub fn new(out: W, buf: &'b mut [u8], filler: u8) -> CompressedWriter<'b, W> {
        assert!(buf.len() >= MIN_BUFFER, "compressed buffer too small");
        CompressedWriter {
            out,
            buf,
            len: 0,
            enc: Encoder::new(filler),
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

    fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.len() - self.len < total {
            self.flush_buf()?;
        }
        for part in parts {
            self.buf[self.len..self.len + part.len()].copy_from_slice(part);
            self.len += part.len();
        }
        Ok(())
    }
}

impl<W: Write> Framer for CompressedWriter<'_, W> {
    fn data(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.last_eor = None;
        }
        while !bytes.is_empty() {
            let (used, written) = self.enc.encode(bytes, &mut self.buf[self.len..]);
            self.len += written;
            bytes = &bytes[used..];
            if !bytes.is_empty() {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn end_record(&mut self) -> io::Result<()> {
        self.push(&[&escape(Descriptor::EOR)])?;
        self.last_eor = Some(self.len - 2);
        Ok(())
    }

    fn restart(&mut self, marker: &Marker) -> io::Result<()> {
        let m = marker.as_bytes();
        self.push(&[&escape(Descriptor::RESTART), &[m.len() as u8], m])?;
        self.last_eor = None;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.last_eor {
            Some(at) if at + 2 == self.len => self.buf[at + 1] |= Descriptor::EOF.bits(),
            _ => self.push(&[&escape(Descriptor::EOF)])?,
        }
        self.flush_buf()?;
        self.out.flush()
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Code,
    Bytes {
        left: usize,
        suspect: bool,
    },
    Replicated {
        count: usize,
    },
    Escape,
    MarkerHeader {
        desc: Descriptor,
    },
    Marker {
        desc: Descriptor,
        left: usize,
        got: usize,
        bytes: [u8; MAX_MARKER],
    },
}

/// Streaming decoder of compressed-mode data.
#[derive(Debug)]
pub struct CompressedDecoder {
    filler: u8,
    state: State,
    /// An escape flagged the next data code as suspect.
    suspect_next: bool,
    pending: Pending,
    ended: bool,
    run: [u8; MAX_RUN],
}

impl CompressedDecoder {
    /// A decoder at the start of a file, expanding filler strings to `filler`.
    pub fn new(filler: u8) -> CompressedDecoder {
        CompressedDecoder {
            filler,
            state: State::Code,
            suspect_next: false,
            pending: Pending::default(),
            ended: false,
            run: [0; MAX_RUN],
        }
    }

    fn pop(&mut self) -> Option<Event<'static>> {
        let ev = self.pending.pop();
        self.ended |= ev == Some(Event::End);
        ev
    }
}

impl Decoder for CompressedDecoder {
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
        while used < input.len() {
            let rest = &input[used..];
            match self.state {
                State::Bytes { left, suspect } => {
                    let n = left.min(rest.len());
                    self.state = if n == left {
                        State::Code
                    } else {
                        State::Bytes {
                            left: left - n,
                            suspect,
                        }
                    };
                    return Ok((
                        used + n,
                        Some(Event::Data {
                            bytes: &rest[..n],
                            suspect,
                        }),
                    ));
                }
                State::Marker {
                    desc,
                    left,
                    mut got,
                    mut bytes,
                } => {
                    let n = left.min(rest.len());
                    bytes[got..got + n].copy_from_slice(&rest[..n]);
                    got += n;
                    used += n;
                    if n < left {
                        self.state = State::Marker {
                            desc,
                            left: left - n,
                            got,
                            bytes,
                        };
                        continue;
                    }
                    let marker = Marker::new(&bytes[..got])?;
                    self.state = State::Code;
                    self.pending = Pending::from(desc);
                    return Ok((used, Some(Event::Restart(marker))));
                }
                _ => {}
            }
            // The remaining states take exactly one byte.
            let c = rest[0];
            used += 1;
            let (fill, count) = match self.state {
                State::Code => match c {
                    0 => {
                        self.state = State::Escape;
                        continue;
                    }
                    1..=0x7F => {
                        let suspect = std::mem::take(&mut self.suspect_next);
                        self.state = State::Bytes {
                            left: c as usize,
                            suspect,
                        };
                        continue;
                    }
                    0x80..=0xBF => {
                        self.state = State::Replicated {
                            count: (c & 0x3F) as usize,
                        };
                        continue;
                    }
                    _ => (self.filler, (c & 0x3F) as usize),
                },
                State::Replicated { count } => {
                    self.state = State::Code;
                    (c, count)
                }
                State::Escape => {
                    let desc = Descriptor::from_byte(c)?;
                    self.suspect_next |= desc.contains(Descriptor::SUSPECT);
                    if desc.contains(Descriptor::RESTART) {
                        self.state = State::MarkerHeader { desc };
                        continue;
                    }
                    self.state = State::Code;
                    self.pending = Pending::from(desc);
                    match self.pop() {
                        Some(ev) => return Ok((used, Some(ev))),
                        None => continue,
                    }
                }
                State::MarkerHeader { desc } => {
                    // The marker travels as one byte string (0nnnnnnn, n = 1..MAX_MARKER).
                    if c == 0 || c as usize > MAX_MARKER {
                        return Err(DecodeError::BadMarker);
                    }
                    self.state = State::Marker {
                        desc,
                        left: c as usize,
                        got: 0,
                        bytes: [0; MAX_MARKER],
                    };
                    continue;
                }
                State::Bytes { .. } | State::Marker { .. } => continue, // handled above
            };
            let suspect = std::mem::take(&mut self.suspect_next);
            if count > 0 {
                self.run[..count].fill(fill);
                return Ok((
                    used,
                    Some(Event::Data {
                        bytes: &self.run[..count],
                        suspect,
                    }),
                ));
            }
        }
        Ok((used, None))
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.state {
            _ if self.ended => Ok(()),
            State::Code => Ok(()),
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

    fn enc(input: &[u8], filler: u8) -> Vec<u8> {
        let mut out = vec![0u8; max_encoded_len(input.len())];
        let (used, n) = Encoder::new(filler).encode(input, &mut out);
        assert_eq!(used, input.len());
        out.truncate(n);
        out
    }

    fn data(b: &[u8]) -> Owned {
        Owned::Data(b.to_vec(), false)
    }

    #[test]
    fn encoder_table() {
        let mut mixed = b"ab".to_vec();
        mixed.extend_from_slice(&[b'x'; 70]);
        mixed.extend_from_slice(b"cd");
        let distinct: Vec<u8> = (0..128u8).collect();
        let mut distinct_wire = vec![127];
        distinct_wire.extend_from_slice(&distinct[..127]);
        distinct_wire.extend_from_slice(&[1, 127]);
        let cases: Vec<(&[u8], u8, Vec<u8>)> = vec![
            (b"", b' ', vec![]),
            (b"abc", b' ', b"\x03abc".to_vec()),
            (b"aaa", b' ', b"\x03aaa".to_vec()), // 3 < MIN_REPLICATED: cheaper as data
            (b"aaaa", b' ', vec![0x84, b'a']),   // 10 000100, 'a'
            (b"   ", b' ', vec![0xC3]),          // 11 000011
            (b"  ", b' ', b"\x02  ".to_vec()),
            (b"a   b", b' ', vec![1, b'a', 0xC3, 1, b'b']),
            (&[0; 10], FILLER_BINARY, vec![0xCA]),
            (&[0; 10], b' ', vec![0x8A, 0]), // zero is no filler for text types
            (&[0x40; 5], 0x40, vec![0xC5]),  // EBCDIC space
            (&[b' '; 64], b' ', vec![0xFF, 1, b' ']), // 63 + 1
            (
                &mixed,
                b' ',
                [&b"\x02ab"[..], &[0xBF, b'x', 0x87, b'x'], b"\x02cd"].concat(),
            ),
            (&distinct, b' ', distinct_wire),
        ];
        for (input, filler, wire) in cases {
            assert_eq!(enc(input, filler), wire, "{input:?}");
        }
    }

    #[test]
    fn encoder_respects_small_outputs() {
        let input = b"hello    world, aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
        let whole = enc(input, b' ');
        for room in 2..20 {
            let mut out = vec![0u8; room];
            let (mut wire, mut rest) = (Vec::new(), &input[..]);
            while !rest.is_empty() {
                let (used, n) = Encoder::new(b' ').encode(rest, &mut out);
                assert!(used > 0 && n <= room);
                wire.extend_from_slice(&out[..n]);
                rest = &rest[used..];
            }
            let got = decode_whole(&mut CompressedDecoder::new(b' '), &wire).unwrap();
            assert_eq!(got, vec![data(input)], "room {room}");
            assert!(wire.len() <= whole.len() + input.len() / 2);
        }
        assert_eq!(Encoder::new(0).encode(b"abc", &mut [0u8; 1]), (0, 0));
    }

    fn write(ops: &[Op], filler: u8, buf_len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; buf_len];
        let mut w = CompressedWriter::new(Vec::new(), &mut buf, filler);
        for op in ops {
            match op {
                Op::Data(d) => w.data(d).unwrap(),
                Op::Record => w.end_record().unwrap(),
                Op::Mark(m) => w.restart(&Marker::new(m).unwrap()).unwrap(),
            }
        }
        w.finish().unwrap();
        w.into_inner()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Data(Vec<u8>),
        Record,
        Mark(Vec<u8>),
    }

    #[test]
    fn writer_table() {
        let cases: Vec<(Vec<Op>, Vec<u8>)> = vec![
            (vec![], vec![0, 0x40]),
            (vec![Op::Data(b"abc".to_vec())], b"\x03abc\x00\x40".to_vec()),
            (
                vec![Op::Data(b"ab".to_vec()), Op::Record],
                b"\x02ab\x00\xC0".to_vec(),
            ),
            (
                vec![Op::Record, Op::Data(b"x".to_vec())],
                b"\x00\x80\x01x\x00\x40".to_vec(),
            ),
            (
                vec![Op::Data(b"ab".to_vec()), Op::Mark(b"r7".to_vec())],
                b"\x02ab\x00\x10\x02r7\x00\x40".to_vec(),
            ),
        ];
        for (ops, wire) in cases {
            for buf_len in [MIN_BUFFER, 4096] {
                assert_eq!(write(&ops, b' ', buf_len), wire, "{ops:?}");
            }
        }
        let mut buf = vec![0u8; 4096];
        let mut w = CompressedWriter::new(Vec::new(), &mut buf, b' ');
        let mut lines = Lines::new(b'\n');
        lines.send(&mut w, b"ab\n      \ncd").unwrap();
        lines.finish(&mut w).unwrap();
        assert_eq!(w.into_inner(), b"\x02ab\x00\x80\xC6\x00\x80\x02cd\x00\xC0");
    }

    #[test]
    fn decoder_table() {
        let s = |b: &[u8]| Owned::Data(b.to_vec(), true);
        let cases: Vec<(&[u8], u8, Vec<Owned>)> = vec![
            (b"\x00\x40", b' ', vec![Owned::End]),
            (
                b"\x03abc\x84z\xC2\x00\x40",
                b' ',
                vec![data(b"abczzzz  "), Owned::End],
            ),
            (b"\xC2", 0, vec![data(&[0, 0])]),
            (b"\xC2", 0x40, vec![data(&[0x40, 0x40])]),
            (b"\x00\x20\x02ab\x01c", b' ', vec![s(b"ab"), data(b"c")]),
            (b"\x00\x20\x83q\x01c", b' ', vec![s(b"qqq"), data(b"c")]),
            (b"\x00\x20\xC1\x01c", b' ', vec![s(b" "), data(b"c")]),
            (b"\x80x\xC0\x00\x00", b' ', vec![]),
            (
                b"\x01a\x00\x80\x01b\x00\xC0",
                b' ',
                vec![
                    data(b"a"),
                    Owned::Record,
                    data(b"b"),
                    Owned::Record,
                    Owned::End,
                ],
            ),
            (
                b"\x00\x10\x06r00042\x01a",
                b' ',
                vec![Owned::Restart(b"r00042".to_vec()), data(b"a")],
            ),
            (
                b"\x00\x50\x01x",
                b' ',
                vec![Owned::Restart(b"x".to_vec()), Owned::End],
            ),
            (
                b"\x00\xD0\x01x",
                b' ',
                vec![Owned::Restart(b"x".to_vec()), Owned::Record, Owned::End],
            ),
            (
                b"\xBF\xFF\xFF",
                b' ',
                vec![data(&[[0xFF; 63].as_slice(), &[b' '; 63]].concat())],
            ),
        ];
        for (wire, filler, expected) in cases {
            let mut rng = Rng::new(4);
            for max_chunk in [1, 2, 3, 100] {
                let got = decode_chunked(
                    &mut CompressedDecoder::new(filler),
                    wire,
                    &mut rng,
                    max_chunk,
                );
                assert_eq!(got.as_ref(), Ok(&expected), "{wire:?}");
            }
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let err = |wire: &[u8]| decode_whole(&mut CompressedDecoder::new(b' '), wire).unwrap_err();
        assert_eq!(err(b"\x00\x01"), DecodeError::UnknownDescriptor(1));
        assert_eq!(err(b"\x00\x10\x00"), DecodeError::BadMarker);
        assert_eq!(err(b"\x00\x10\x84a"), DecodeError::BadMarker);
        assert_eq!(err(b"\x00\x10\x41"), DecodeError::BadMarker);
        assert_eq!(err(b"\x00\x10\x02a "), DecodeError::BadMarker);
        for cut in [
            &b"\x05ab"[..],
            b"\x85",
            b"\x00",
            b"\x00\x10",
            b"\x00\x10\x02a",
        ] {
            assert_eq!(err(cut), DecodeError::Truncated, "{cut:?}");
        }
        assert_eq!(err(b"\x00\x40\x01"), DecodeError::AfterEnd);
        let mut dec = CompressedDecoder::new(b' ');
        assert_eq!(decode_whole(&mut dec, b"\x01a\xC1"), Ok(vec![data(b"a ")]));
        assert!(!dec.ended());
        let mut rng = Rng::new(6);
        for _ in 0..5000 {
            let len = rng.below(40);
            let junk = rng.bytes(len, 0);
            let _ = decode_chunked(&mut CompressedDecoder::new(0), &junk, &mut rng, 5);
        }
    }

    const COUNTS: [usize; 10] = [0, 1, 2, 3, 63, 64, 127, 128, 65535, 65536];

    #[test]
    fn writer_round_trips() {
        let mut rng = Rng::new(13);
        for round in 0..150 {
            let filler = [b' ', 0x40, 0][rng.below(3)];
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
                        let n = COUNTS[rng.below(COUNTS.len())] + rng.below(2);
                        let d = rng.bytes(n, filler);
                        ops.push(Op::Data(d.clone()));
                        expected.push(Owned::Data(d, false));
                    }
                }
            }
            expected.push(Owned::End);
            let buf_len = [MIN_BUFFER, MIN_BUFFER + 1, 1000, 131_072][rng.below(4)];
            let wire = write(&ops, filler, buf_len);
            let max_chunk = 1 + rng.below(3000);
            let got = decode_chunked(
                &mut CompressedDecoder::new(filler),
                &wire,
                &mut rng,
                max_chunk,
            );
            assert_eq!(got, Ok(merged(expected)), "round {round}");
        }
    }

    /// Every descriptor combination in an escape, between random codes at count boundaries.
    #[test]
    fn every_escape_and_code_boundary_decodes() {
        let mut rng = Rng::new(14);
        for round in 0..400 {
            let filler = [b' ', 0][rng.below(2)];
            let (mut wire, mut expected) = (Vec::new(), Vec::new());
            let mut suspect = false;
            for _ in 0..1 + rng.below(10) {
                let n = [1, 2, 62, 63, 126, 127][rng.below(6)].min(match rng.below(3) {
                    0 => 127,
                    _ => 63,
                });
                match rng.below(4) {
                    0 => {
                        let d = rng.bytes(n, 9);
                        wire.push(n as u8);
                        wire.extend_from_slice(&d);
                        expected.push(Owned::Data(d, std::mem::take(&mut suspect)));
                    }
                    1 => {
                        let b = rng.next() as u8;
                        wire.extend_from_slice(&[0x80 | n.min(63) as u8, b]);
                        expected.push(Owned::Data(
                            vec![b; n.min(63)],
                            std::mem::take(&mut suspect),
                        ));
                    }
                    2 => {
                        wire.push(0xC0 | n.min(63) as u8);
                        expected.push(Owned::Data(
                            vec![filler; n.min(63)],
                            std::mem::take(&mut suspect),
                        ));
                    }
                    _ => {
                        let desc = Descriptor::from_byte((rng.below(16) as u8) << 4).unwrap();
                        wire.extend_from_slice(&escape(desc));
                        suspect |= desc.contains(Descriptor::SUSPECT);
                        if desc.contains(Descriptor::RESTART) {
                            let m: Vec<u8> = (0..1 + rng.below(MAX_MARKER))
                                .map(|_| 0x21 + rng.below(94) as u8)
                                .collect();
                            wire.push(m.len() as u8);
                            wire.extend_from_slice(&m);
                            expected.push(Owned::Restart(m));
                        }
                        if desc.contains(Descriptor::EOR) {
                            expected.push(Owned::Record);
                        }
                        if desc.contains(Descriptor::EOF) {
                            expected.push(Owned::End);
                            break;
                        }
                    }
                }
            }
            let max_chunk = 1 + rng.below(200);
            let got = decode_chunked(
                &mut CompressedDecoder::new(filler),
                &wire,
                &mut rng,
                max_chunk,
            );
            assert_eq!(got, Ok(merged(expected)), "round {round}: {wire:?}");
        }
    }

    #[test]
    fn runs_shrink_and_noise_grows_by_at_most_one_in_127() {
        let mut page = Vec::new();
        for i in 0..2000 {
            page.extend_from_slice(format!("{i:>8}  ").as_bytes());
            page.extend_from_slice(&[b' '; 60]);
            page.extend_from_slice(b"TOTAL ........................ 42\n");
        }
        let wire = enc(&page, b' ');
        assert!(
            wire.len() * 2 < page.len(),
            "{} -> {}",
            page.len(),
            wire.len()
        );
        let mut rng = Rng::new(15);
        let noise: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
        let wire = enc(&noise, 0);
        assert!(wire.len() <= max_encoded_len(noise.len()));
        assert_eq!(
            decode_whole(&mut CompressedDecoder::new(0), &wire),
            Ok(vec![data(&noise)])
        );
        let zeros = vec![0u8; 1 << 20];
        assert_eq!(enc(&zeros, 0).len(), 16645); // 16644 filler codes of 63 zeros, one of 4
    }
}
