//! Pure codecs for RFC 959's representation types, structures and transmission modes.
//!
//! Nothing here opens a socket or a file: every codec works on caller-owned byte slices (a
//! data worker owns one buffer and lends it), allocates nothing per call, and accepts its input
//! in arbitrary pieces, so a header or an escape split across two `read`s decodes the same as
//! one that arrived whole. Hostile input gives a [`DecodeError`], never a panic or an
//! allocation that grows with the input.
//!
//! # One concern per file
//! | file | what | RFC 959 |
//! |---|---|---|
//! | [`ascii`] | TYPE A: stored LF <-> wire CRLF, and a file's size on the wire | 3.1.1.1 |
//! | [`ebcdic`] | TYPE E: byte tables stored text <-> IBM-037 or IBM-1047, LF <-> NL | 3.1.1.2 |
//! | [`asa`] | format control C: ASA carriage control <-> Unix text, as POSIX `asa(1)` | 3.1.1.5.2 |
//! | [`records`] | STRU R in stream mode (0xFF escapes), and lines -> records for any mode | 3.1.2.2, 3.4.1 |
//! | [`block`] | MODE B: 3-byte headers, descriptors, restart marker blocks | 3.4.2 |
//! | [`compressed`] | MODE C: byte strings, replicated bytes, filler strings, escapes | 3.4.3 |
//!
//! # How they stack
//! Sending (RETR), left to right; receiving (STOR) is the same chain reversed:
//! ```text
//! file bytes -> [asa::Encoder]      (TYPE A C / E C only; output is still LF-separated text)
//!            -> type layer          (A: LF -> CRLF, except under STRU R where EOR ends a line;
//!                                    E: ebcdic table, which also turns LF into NL 0x15; I/L: as is)
//!            -> records::Lines      (STRU R only: split at the line end, one record per line)
//!            -> a Framer            (MODE S: plain, or records::StreamWriter under STRU R;
//!                                    MODE B: block::BlockWriter; MODE C: compressed::CompressedWriter)
//! ```
//! Receiving, a [`Decoder`] (records, block or compressed) turns wire bytes into [`Event`]s:
//! data (a slice of the input, or of a small run buffer in compressed mode), end of record
//! (the receiver stores the line end: LF, or NL under TYPE E before the table maps it back),
//! end of file, and restart markers (the receiver answers each with `110 MARK yyyy = mmmm`).
//! The escapes and headers are applied to *wire* bytes, after the type layer: a stored byte
//! that becomes 0xFF in EBCDIC is doubled under STRU R, and the compressed-mode filler is
//! the wire's space (0x20 for ASCII, 0x40 for EBCDIC).
//!
//! # Choices, and why
//! - **Descriptors**: only the four codes of 3.4.2 exist; a descriptor with any other bit set
//!   is an error, not ignored, because the sender meant something we would silently drop.
//! - **Restart markers** ([`Marker`]): 1 to [`MAX_MARKER`] bytes, each printable ASCII other
//!   than space (3.4.2: "printable characters", "`<SP>` must not be used WITHIN a restart
//!   marker"). Anything else is an error: the marker is echoed on the control connection in the
//!   110 reply, so a CR, LF or space in it would forge or break that reply. 64 bytes is far
//!   more than any offset needs and keeps the decoders free of allocation.
//! - **Compressed-mode escapes** carry a descriptor "that applies to the succeeding string of
//!   bytes" (3.4.3). For a restart marker that string is the marker: escape 16 is followed by
//!   exactly one byte string holding it. For suspect data it is the next data code. EOR and EOF
//!   take effect where the escape stands (EOF cannot wait for a string that never comes: a file
//!   may end in a run, or be empty), so a record is its data followed by `0x00 0x80`, and the
//!   last record may say `0x00 0xC0` (EOR and EOF at once).
//! - **EOF implied by close**: 3.4 lets EOF be "implied by the closing of the data
//!   connection", so [`Decoder::finish`] accepts a close at a unit boundary (between blocks,
//!   codes or escapes) and reports [`DecodeError::Truncated`] for a close inside one.
//! - **After EOF** the decoders take no more input ([`DecodeError::AfterEnd`]): in block and
//!   compressed mode the connection may carry the next file, which a fresh decoder reads.
//! - **Encoders merge EOF into the last record** where they can (0xFF 0x03 in stream mode, a
//!   block with EOR|EOF, the escape 0x00 0xC0), and otherwise send EOF on its own (an empty
//!   block with EOF, `0x00 0x40`, `0xFF 0x02`): always correct, and costs 2-3 bytes.

pub mod asa;
pub mod ascii;
pub mod block;
pub mod compressed;
pub mod ebcdic;
pub mod records;
#[cfg(test)]
mod testkit;

use std::fmt;
use std::io;

/// Block/compressed-mode descriptor codes (RFC 959 3.4.2); more than one may be set.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor(u8);

impl Descriptor {
    /// No flag: an ordinary data block.
    pub const NONE: Descriptor = Descriptor(0);
    /// Code 128: the end of this block is the end of a record.
    pub const EOR: Descriptor = Descriptor(128);
    /// Code 64: the end of this block is the end of the file.
    pub const EOF: Descriptor = Descriptor(64);
    /// Code 32: the data of this block are suspected of errors.
    pub const SUSPECT: Descriptor = Descriptor(32);
    /// Code 16: this block is a restart marker.
    pub const RESTART: Descriptor = Descriptor(16);
    const KNOWN: u8 = 128 | 64 | 32 | 16;

    /// The descriptor of a received byte; unassigned bits are an error.
    pub fn from_byte(b: u8) -> Result<Descriptor, DecodeError> {
        if b & !Self::KNOWN != 0 {
            return Err(DecodeError::UnknownDescriptor(b));
        }
        Ok(Descriptor(b))
    }

    /// The descriptor as its wire byte.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set here.
    pub fn contains(self, other: Descriptor) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl std::ops::BitOr for Descriptor {
    type Output = Descriptor;
    fn bitor(self, rhs: Descriptor) -> Descriptor {
        Descriptor(self.0 | rhs.0)
    }
}

impl fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(128, "EOR"), (64, "EOF"), (32, "SUSPECT"), (16, "RESTART")];
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(
            f,
            "Descriptor({})",
            if set.is_empty() {
                "NONE".to_string()
            } else {
                set.join("|")
            }
        )
    }
}

/// Longest restart marker accepted or sent.
pub const MAX_MARKER: usize = 64;

/// A restart marker: 1..=[`MAX_MARKER`] printable ASCII bytes, no space (RFC 959 3.4.2, 3.5).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    len: u8,
    bytes: [u8; MAX_MARKER],
}

impl Marker {
    /// A marker from its bytes, or [`DecodeError::BadMarker`] if empty, too long or not
    /// printable.
    pub fn new(bytes: &[u8]) -> Result<Marker, DecodeError> {
        if bytes.is_empty() || bytes.len() > MAX_MARKER || !bytes.iter().all(|&b| is_marker_byte(b))
        {
            return Err(DecodeError::BadMarker);
        }
        let mut m = Marker {
            len: bytes.len() as u8,
            bytes: [0; MAX_MARKER],
        };
        m.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(m)
    }

    /// The marker a sender puts at a file offset: the offset in decimal, which `REST` takes back.
    pub fn from_offset(offset: u64) -> Marker {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = offset;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut m = Marker {
            len: (digits.len() - i) as u8,
            bytes: [0; MAX_MARKER],
        };
        m.bytes[..digits.len() - i].copy_from_slice(&digits[i..]);
        m
    }

    /// The marker's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl fmt::Debug for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Marker({self})")
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printable ASCII by construction.
        f.write_str(std::str::from_utf8(self.as_bytes()).unwrap_or("?"))
    }
}

/// A byte a restart marker may hold: printable ASCII, not space.
fn is_marker_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

/// What a decoder found in the wire bytes, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// File data (a slice of the input or of the decoder's small run buffer).
    Data {
        /// The bytes.
        bytes: &'a [u8],
        /// The sender flagged them "suspected errors" (descriptor 32); store them anyway.
        suspect: bool,
    },
    /// End of record (EOR).
    Record,
    /// End of file (EOF): the decoder takes no more input.
    End,
    /// A restart marker at this point of the data.
    Restart(Marker),
}

/// Malformed wire data; the transfer fails (426/451), nothing panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A descriptor with a bit RFC 959 does not assign.
    UnknownDescriptor(u8),
    /// A stream-mode escape 0xFF followed by something other than 1, 2, 3 or 0xFF.
    BadEscape(u8),
    /// A restart marker that is empty, longer than [`MAX_MARKER`] or not printable.
    BadMarker,
    /// The connection closed inside a header, block, code or escape.
    Truncated,
    /// Input after the EOF.
    AfterEnd,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownDescriptor(b) => write!(f, "unknown descriptor 0x{b:02X}"),
            DecodeError::BadEscape(b) => write!(f, "bad escape 0xFF 0x{b:02X}"),
            DecodeError::BadMarker => f.write_str("bad restart marker"),
            DecodeError::Truncated => f.write_str("data connection closed mid-unit"),
            DecodeError::AfterEnd => f.write_str("data after end of file"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A streaming decoder of one transmission mode's wire bytes.
pub trait Decoder {
    /// Decode from `input`: returns how many bytes were used and the next event. `None` means
    /// every input byte was used and more are needed; call again with the rest of the input
    /// (possibly empty: events may be pending) until it returns `None`.
    fn next<'a>(&'a mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), DecodeError>;

    /// The data connection closed: `Ok` at EOF or at a unit boundary (EOF implied by the
    /// close, RFC 959 3.4), [`DecodeError::Truncated`] inside a unit.
    fn finish(&self) -> Result<(), DecodeError>;

    /// Whether the explicit EOF has been decoded.
    fn ended(&self) -> bool;
}

/// A transmission-mode encoder writing framed data to `W` through a caller-owned buffer.
pub trait Framer {
    /// Send file data.
    fn data(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// End the current record (EOR) here.
    fn end_record(&mut self) -> io::Result<()>;
    /// Put a restart marker here (block and compressed mode; stream mode has none: error).
    fn restart(&mut self, marker: &Marker) -> io::Result<()>;
    /// Send EOF and flush everything.
    fn finish(&mut self) -> io::Result<()>;
}

/// Pending EOR/EOF events a decoder owes once its current unit is complete.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    record: bool,
    end: bool,
}

impl Pending {
    fn from(desc: Descriptor) -> Pending {
        Pending {
            record: desc.contains(Descriptor::EOR),
            end: desc.contains(Descriptor::EOF),
        }
    }

    /// The next owed event, EOR before EOF.
    fn pop(&mut self) -> Option<Event<'static>> {
        if std::mem::take(&mut self.record) {
            Some(Event::Record)
        } else if std::mem::take(&mut self.end) {
            Some(Event::End)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_rejects_unassigned_bits() {
        for b in 0..=255u8 {
            let ok = Descriptor::from_byte(b).is_ok();
            assert_eq!(ok, b & 0x0F == 0, "byte {b:#x}");
        }
        let d = Descriptor::from_byte(0xC0).unwrap();
        assert!(d.contains(Descriptor::EOR) && d.contains(Descriptor::EOF));
        assert!(!d.contains(Descriptor::RESTART) && !d.contains(Descriptor::NONE));
        assert_eq!(format!("{d:?}"), "Descriptor(EOR|EOF)");
    }

    #[test]
    fn markers_are_printable_without_space_and_bounded() {
        assert_eq!(Marker::new(b"r00042").unwrap().as_bytes(), b"r00042");
        assert_eq!(Marker::new(b""), Err(DecodeError::BadMarker));
        assert_eq!(Marker::new(b"a b"), Err(DecodeError::BadMarker));
        assert_eq!(Marker::new(b"a\r\n"), Err(DecodeError::BadMarker));
        assert_eq!(Marker::new(&[0xFF]), Err(DecodeError::BadMarker));
        assert!(Marker::new(&[b'x'; MAX_MARKER]).is_ok());
        assert_eq!(
            Marker::new(&[b'x'; MAX_MARKER + 1]),
            Err(DecodeError::BadMarker)
        );
    }

    #[test]
    fn offset_markers_are_decimal() {
        assert_eq!(Marker::from_offset(0).to_string(), "0");
        assert_eq!(Marker::from_offset(1_048_576).to_string(), "1048576");
        assert_eq!(
            Marker::from_offset(u64::MAX).to_string(),
            u64::MAX.to_string()
        );
    }

    /// Throughput by hand, in release: `cargo test --release --lib codec::tests::throughput --
    /// --ignored --nocapture`. Encoders write to a sink that only counts, so the figures are
    /// the codecs' own cost against a plain copy of the same bytes.
    #[test]
    #[ignore]
    fn throughput() {
        use super::testkit::Rng;
        use super::{block, compressed};
        use std::hint::black_box;
        use std::time::Instant;

        struct Count(u64);
        impl io::Write for Count {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0 +=
                    b.len() as u64 + u64::from(black_box(b.first().copied().unwrap_or(0)) & 1);
                Ok(b.len())
            }
            fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
                let mut n = 0;
                for b in bufs {
                    n += self.write(b)?;
                }
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        const TOTAL: usize = 256 << 20;
        const PIECE: usize = 128 << 10;
        let mut rng = Rng::new(42);
        let src: Vec<u8> = (0..32 << 20).map(|_| rng.next() as u8).collect(); // 32 MiB, 8 passes
                                                                              // This thread's CPU time (the machine is shared: wall time alone says little).
        let cpu = || -> f64 {
            let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
            stat.split(' ')
                .next()
                .and_then(|ns| ns.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1e9
        };
        let report = |what: &str, (start, cpu0): (Instant, f64)| {
            let (wall, used) = (start.elapsed().as_secs_f64(), cpu() - cpu0);
            let mb = TOTAL as f64 / 1e6;
            eprintln!(
                "{what:<40} {:>7.0} MB/s wall {:>7.0} MB/s per CPU second",
                mb / wall,
                mb / used
            );
        };
        let now = || (Instant::now(), cpu());
        let pieces = || (0..TOTAL / src.len()).flat_map(|_| src.chunks(PIECE));

        let mut dst = vec![0u8; PIECE];
        for round in 0..2 {
            // The first round warms up the CPU clock and the pages; the second is reported.
            let t = now();
            for p in pieces() {
                dst[..p.len()].copy_from_slice(p);
                black_box(&mut dst);
            }
            if round == 1 {
                report("memcpy, 128 KiB pieces", t);
            }
        }

        let mut buf = vec![0u8; PIECE];
        let t = now();
        let mut w = block::BlockWriter::new(Count(0), &mut buf);
        for p in pieces() {
            w.data(p).unwrap();
        }
        w.finish().unwrap();
        report("MODE B writer, 128 KiB writes (writev)", t);

        let t = now();
        let mut w = block::BlockWriter::new(Count(0), &mut buf);
        for p in pieces() {
            for q in p.chunks(4096) {
                w.data(q).unwrap();
            }
        }
        w.finish().unwrap();
        report("MODE B writer, 4 KiB writes (copied)", t);

        let mut wire = Vec::with_capacity(src.len() + src.len() / 1000);
        let mut w = block::BlockWriter::new(&mut wire, &mut buf);
        w.data(&src).unwrap();
        w.finish().unwrap();
        let t = now();
        for _ in 0..TOTAL / src.len() {
            let mut dec = block::BlockDecoder::new();
            for p in wire.chunks(PIECE) {
                let mut rest = p;
                while let (used, Some(ev)) = dec.next(rest).unwrap() {
                    rest = &rest[used..];
                    black_box(ev);
                }
            }
        }
        report("MODE B decoder, 128 KiB reads (no copy)", t);

        let mut out = vec![0u8; compressed::max_encoded_len(PIECE)];
        let encoder = compressed::Encoder::new(0);
        let t = now();
        for p in pieces() {
            let (used, n) = encoder.encode(p, &mut out);
            assert_eq!(used, p.len());
            black_box(&out[..n]);
        }
        report("MODE C encoder, incompressible", t);

        let mut wire = vec![0u8; compressed::max_encoded_len(src.len())];
        let (_, n) = encoder.encode(&src, &mut wire);
        wire.truncate(n);
        let t = now();
        for _ in 0..TOTAL / src.len() {
            let mut dec = compressed::CompressedDecoder::new(0);
            for p in wire.chunks(PIECE) {
                let mut rest = p;
                loop {
                    let (used, ev) = dec.next(rest).unwrap();
                    rest = &rest[used..];
                    let Some(ev) = ev else { break };
                    black_box(ev);
                }
            }
        }
        report("MODE C decoder, incompressible", t);

        let text: Vec<u8> =
            b"    12  ABC      ....     0000000000  text text\n".repeat(src.len() / 48);
        let t = now();
        for _ in 0..TOTAL / text.len() {
            for p in text.chunks(PIECE) {
                let (used, n) = compressed::Encoder::new(b' ').encode(p, &mut out);
                assert_eq!(used, p.len());
                black_box(&out[..n]);
            }
        }
        report("MODE C encoder, report-like text", t);
    }
}
