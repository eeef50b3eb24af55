//! Format control C: ASA carriage control <-> Unix text, following POSIX `asa(1)`.
//!
//! Under TYPE A C or E C the first character of every line (or record) is not printed but says
//! how to move the paper before printing the rest (RFC 959 3.1.1.5.2): `' '` one line, `'0'`
//! two lines, `'1'` top of the next page, `'+'` no movement (overprint). Both directions work
//! on stored-form text: lines end in LF, after the type layer has turned CRLF (or EBCDIC NL)
//! into LF, or before it turns LF back into them; under STRU R each record is a line.
//!
//! **Receiving** ([`Decoder`]) is POSIX `asa(1)`: each line is written with its own newline,
//! preceded by nothing for `' '`, a newline for `'0'`, a form feed for `'1'`; for `'+'` the
//! previous line's newline is replaced by a carriage return (a `'+'` on the first line acts as
//! `' '`). POSIX leaves other control characters unspecified; like the common `asa(1)`s we
//! treat any of them (`'-'`, the triple space of some printers, included) as `' '` and drop
//! it, and a line with no character at all is an empty `' '` line.
//!
//! **Sending** ([`Encoder`]) is the exact inverse, so a file stored with TYPE A C comes back
//! in exactly that form (3.1.1.5: "store a file ... and then retrieve it later in exactly the
//! same form"): every line goes out as `' '` + its text, except that a form feed at the start
//! of a line becomes control `'1'` (a page break before that line), and a carriage return
//! inside a line ends it, the text after it going out as a `'+'` (overprint) line. A CR just
//! before the line end is kept as data, so DOS-style lines stay one line each. `'0'` is never
//! sent: an empty line is `' '` alone, which prints the same. A last line without LF is sent
//! terminated.

/// Control character: advance one line.
pub const SINGLE: u8 = b' ';
/// Control character: advance two lines.
pub const DOUBLE: u8 = b'0';
/// Control character: top of next page.
pub const PAGE: u8 = b'1';
/// Control character: no advance (overprint).
pub const OVERPRINT: u8 = b'+';

const FF: u8 = 0x0C;
const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Unix text -> ASA lines (both LF-terminated), streaming.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Inside a line: its control character has been written.
    in_line: bool,
    /// A CR inside a line, not yet known to be followed by more text.
    pending_cr: bool,
}

/// Worst-case output bytes for one input byte (a held CR resolved into a new `'+'` line).
const ENCODE_STEP: usize = 3;

impl Encoder {
    /// An encoder at the start of a file.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Encode as much of `input` as fits in `out`; returns (input used, output written).
    /// Makes progress whenever `out` has 3 bytes or more.
    pub fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut i, mut o) = (0, 0);
        while i < input.len() && out.len() - o >= ENCODE_STEP {
            let b = input[i];
            if !self.in_line {
                match b {
                    FF => out[o] = PAGE,
                    LF => {
                        out[o..o + 2].copy_from_slice(b" \n");
                        o += 2;
                        i += 1;
                        continue;
                    }
                    _ => {
                        out[o] = SINGLE;
                        o += 1;
                        self.in_line = true;
                        continue; // the byte itself is handled as line text
                    }
                }
                o += 1;
                i += 1;
                self.in_line = true;
                continue;
            }
            if std::mem::take(&mut self.pending_cr) {
                if b == LF {
                    out[o] = CR; // a CR ending the line is data
                    o += 1;
                } else {
                    out[o..o + 2].copy_from_slice(b"\n+");
                    o += 2;
                }
            }
            match b {
                CR => self.pending_cr = true,
                LF => {
                    out[o] = LF;
                    o += 1;
                    self.in_line = false;
                }
                _ => {
                    // Copy the plain text up to the next CR or LF in one go.
                    let end = input[i..]
                        .iter()
                        .position(|&x| x == CR || x == LF)
                        .map_or(input.len(), |n| i + n);
                    let n = (end - i).min(out.len() - o);
                    out[o..o + n].copy_from_slice(&input[i..i + n]);
                    o += n;
                    i += n;
                    continue;
                }
            }
            i += 1;
        }
        (i, o)
    }

    /// Whether the encoder stands at the start of a line: a sender's restart point, where a
    /// fresh encoder resumes exactly.
    pub fn at_line_start(&self) -> bool {
        !self.in_line && !self.pending_cr
    }

    /// End of the file: terminate the last line. Returns bytes written (at most 2).
    pub fn finish(&mut self, out: &mut [u8; 2]) -> usize {
        let mut o = 0;
        if std::mem::take(&mut self.pending_cr) {
            out[o] = CR;
            o += 1;
        }
        if std::mem::take(&mut self.in_line) {
            out[o] = LF;
            o += 1;
        }
        o
    }
}

/// ASA lines -> Unix text (both LF-terminated), streaming, as POSIX `asa(1)`.
#[derive(Debug)]
pub struct Decoder {
    /// The next byte is a line's control character.
    at_start: bool,
    /// The previous line's newline, held back in case a `'+'` replaces it (on the first
    /// line nothing is held, so `'+'` acts as `' '`).
    pending_nl: bool,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder {
            at_start: true,
            pending_nl: false,
        }
    }
}

impl Decoder {
    /// A decoder at the start of a file.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder continuing a file whose stored part ends a line (a restart at a line
    /// boundary): that line's newline was held back, so a `'+'` next can still replace it.
    pub fn resume() -> Decoder {
        Decoder {
            at_start: true,
            pending_nl: true,
        }
    }

    /// Decode as much of `input` as fits in `out`; returns (input used, output written).
    /// Never writes more than `input.len() + 1` bytes; makes progress whenever `out` has 2
    /// bytes or more.
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut i, mut o) = (0, 0);
        while i < input.len() && out.len() - o >= 2 {
            let b = input[i];
            if self.at_start {
                let held = std::mem::take(&mut self.pending_nl);
                let lead: &[u8] = match b {
                    OVERPRINT if held => b"\r",
                    DOUBLE => b"\n",
                    PAGE => b"\x0c",
                    _ => b"",
                };
                if held && b != OVERPRINT {
                    out[o] = LF;
                    o += 1;
                }
                out[o..o + lead.len()].copy_from_slice(lead);
                o += lead.len();
                if b == LF {
                    // A line without even a control character: an empty ' ' line.
                    self.pending_nl = true;
                } else {
                    self.at_start = false;
                }
                i += 1;
                continue;
            }
            let end = input[i..]
                .iter()
                .position(|&x| x == LF)
                .map_or(input.len(), |n| i + n);
            let n = (end - i).min(out.len() - o);
            out[o..o + n].copy_from_slice(&input[i..i + n]);
            o += n;
            i += n;
            if i == end && i < input.len() {
                // The LF: this line's newline, held until the next control character.
                self.pending_nl = true;
                self.at_start = true;
                i += 1;
            }
        }
        (i, o)
    }

    /// End of the file: the last line's newline (added if the line had none). Returns bytes
    /// written (0 or 1).
    pub fn finish(&mut self, out: &mut [u8; 1]) -> usize {
        let unterminated = !self.at_start;
        self.at_start = true;
        if std::mem::take(&mut self.pending_nl) || unterminated {
            out[0] = LF;
            return 1;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Rng;
    use super::*;

    /// Encode in pieces of `chunk` input bytes into an output window of `room` bytes.
    fn encode(text: &[u8], chunk: usize, room: usize) -> Vec<u8> {
        let mut enc = Encoder::new();
        let mut wire = Vec::new();
        let mut out = vec![0u8; room];
        for mut piece in text.chunks(chunk) {
            while !piece.is_empty() {
                let (used, n) = enc.encode(piece, &mut out);
                assert!(used > 0 || n > 0, "no progress");
                wire.extend_from_slice(&out[..n]);
                piece = &piece[used..];
            }
        }
        let mut tail = [0u8; 2];
        let n = enc.finish(&mut tail);
        wire.extend_from_slice(&tail[..n]);
        wire
    }

    fn decode(wire: &[u8], chunk: usize, room: usize) -> Vec<u8> {
        let mut dec = Decoder::new();
        let mut text = Vec::new();
        let mut out = vec![0u8; room];
        for mut piece in wire.chunks(chunk) {
            while !piece.is_empty() {
                let (used, n) = dec.decode(piece, &mut out);
                assert!(used > 0, "no progress");
                assert!(n <= used + 1);
                text.extend_from_slice(&out[..n]);
                piece = &piece[used..];
            }
        }
        let mut tail = [0u8; 1];
        let n = dec.finish(&mut tail);
        text.extend_from_slice(&tail[..n]);
        text
    }

    #[test]
    fn decoding_follows_posix_asa() {
        let cases: [(&[u8], &[u8]); 12] = [
            (b"", b""),
            (b" abc\n def\n", b"abc\ndef\n"),
            (b" abc\n0def\n", b"abc\n\ndef\n"),
            (b" abc\n1def\n", b"abc\n\x0cdef\n"),
            (b"1title\n", b"\x0ctitle\n"),
            (b" abc\n+___\n", b"abc\r___\n"),
            (b"+first\n", b"first\n"),
            (b"xodd\n-dash\n", b"odd\ndash\n"),
            (b" abc\n\n def\n", b"abc\n\ndef\n"),
            (b" no newline", b"no newline\n"),
            (b"0\n", b"\n\n"),
            (b" a\n+\n+b\n", b"a\r\rb\n"),
        ];
        for (wire, text) in cases {
            for (chunk, room) in [(1, 2), (2, 3), (3, 64), (100, 2), (100, 1000)] {
                assert_eq!(
                    decode(wire, chunk, room),
                    text,
                    "{wire:?} in pieces of {chunk}, room {room}"
                );
            }
        }
    }

    #[test]
    fn encoding_inverts_asa() {
        let cases: [(&[u8], &[u8]); 11] = [
            (b"", b""),
            (b"abc\ndef\n", b" abc\n def\n"),
            (b"abc\n\x0cdef\n", b" abc\n1def\n"),
            (b"\x0ctitle\n", b"1title\n"),
            (b"abc\n\ndef\n", b" abc\n \n def\n"),
            (b"abc\r___\n", b" abc\n+___\n"),
            (b"dos line\r\n", b" dos line\r\n"),
            (b"no newline", b" no newline\n"),
            (b"mid\x0cfeed\n", b" mid\x0cfeed\n"),
            (b"\rx", b" \n+x\n"),
            (b"\x0c\x0c2\n", b"1\x0c2\n"),
        ];
        for (text, wire) in cases {
            for (chunk, room) in [(1, 3), (2, 4), (3, 64), (100, 3), (100, 1000)] {
                assert_eq!(
                    encode(text, chunk, room),
                    wire,
                    "{text:?} in pieces of {chunk}, room {room}"
                );
            }
        }
    }

    #[test]
    fn random_text_round_trips_exactly() {
        let mut rng = Rng::new(21);
        let alphabet = b"ab \n\n\x0c\r0+1";
        for round in 0..3000 {
            let len = rng.below(40);
            let mut text: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let wire = encode(&text, 1 + rng.below(8), 3 + rng.below(8));
            let back = decode(&wire, 1 + rng.below(8), 2 + rng.below(8));
            if text.last().is_some_and(|&b| b != b'\n') {
                text.push(b'\n');
            }
            assert_eq!(back, text, "round {round}: wire {wire:?}");
        }
    }

    /// ASA lines as this encoder writes them (controls ' ', '1', '+' after the first line; no
    /// CR inside the text, no FF opening a ' ' line, no empty '+' line) come back unchanged through a store.
    #[test]
    fn canonical_asa_round_trips_exactly() {
        let mut rng = Rng::new(22);
        for round in 0..3000 {
            let mut wire = Vec::new();
            let mut prev_cr = true; // no '+' first, nor after a line ending in CR
            for _ in 0..rng.below(8) {
                let ctl = [b' ', b'1', b'+'][rng.below(if prev_cr { 2 } else { 3 })];
                wire.push(ctl);
                // An empty '+' line before a line of another kind is a CR ending the line
                // above, which the encoder keeps as data: not canonical.
                let len = rng.below(6) + usize::from(ctl == b'+');
                for k in 0..len {
                    let c = b"ab \x0c"[rng.below(4)];
                    wire.push(if c == 0x0C && k == 0 && ctl == b' ' {
                        b'a'
                    } else {
                        c
                    });
                }
                prev_cr = rng.below(4) == 0;
                if prev_cr {
                    wire.push(b'\r');
                }
                wire.push(b'\n');
            }
            let text = decode(&wire, 1 + rng.below(8), 2 + rng.below(8));
            assert_eq!(
                encode(&text, 1 + rng.below(8), 3 + rng.below(8)),
                wire,
                "round {round}"
            );
        }
    }
}
