//! TYPE A (RFC 959 §3.1.1.1): stored LF line ends <-> the wire's CRLF, and the size on the wire.
//!
//! Stored text ends lines with LF; in ASCII type every LF goes out as CRLF and a received CRLF
//! is stored as LF. A CR that is not followed by LF is data and is kept as is, also when the
//! CR ends one read and the next read decides. These run in the data workers' copy loops, so
//! each is a plain loop over caller-owned slices.

use std::io::{self, Read};

/// Convert LF to CRLF; `out` must hold `2 * input.len()` bytes. Returns bytes written.
pub fn lf_to_crlf(input: &[u8], out: &mut [u8]) -> usize {
    let mut j = 0;
    for &b in input {
        if b == b'\n' {
            out[j] = b'\r';
            j += 1;
        }
        out[j] = b;
        j += 1;
    }
    j
}

/// Streaming CRLF -> LF conversion that survives a CR at the end of one read.
#[derive(Debug, Default)]
pub struct CrlfToLf {
    pending_cr: bool,
}

impl CrlfToLf {
    /// Convert `input` into `out` (at least `input.len() + 1` bytes). Returns bytes written.
    pub fn convert(&mut self, input: &[u8], out: &mut [u8]) -> usize {
        let mut j = 0;
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                if b != b'\n' {
                    // A lone CR is data, keep it.
                    out[j] = b'\r';
                    j += 1;
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
            } else {
                out[j] = b;
                j += 1;
            }
        }
        j
    }

    /// Bytes still held back (a trailing CR) when the input ended.
    pub fn finish(&mut self) -> &'static [u8] {
        if std::mem::take(&mut self.pending_cr) {
            b"\r"
        } else {
            b""
        }
    }
}

/// The size a file will have on the wire in ASCII type (LF counted twice).
///
/// Reads `file` (the caller opened it through the jail) to its end through `buf`.
pub fn ascii_size<R: Read + ?Sized>(file: &mut R, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let lf = buf[..n].iter().filter(|&&b| b == b'\n').count();
        total += (n + lf) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_becomes_crlf() {
        let mut out = [0u8; 32];
        let n = lf_to_crlf(b"a\nb\r\n\n", &mut out);
        assert_eq!(&out[..n], b"a\r\nb\r\r\n\r\n");
    }

    #[test]
    fn crlf_becomes_lf_across_reads() {
        let mut c = CrlfToLf::default();
        let mut out = [0u8; 32];
        let mut got = Vec::new();
        for piece in [&b"a\r"[..], b"\nb\r", b"x\r", b"\r\n"] {
            let n = c.convert(piece, &mut out);
            got.extend_from_slice(&out[..n]);
        }
        got.extend_from_slice(c.finish());
        assert_eq!(got, b"a\nb\rx\r\n");
    }

    #[test]
    fn trailing_cr_is_kept() {
        let mut c = CrlfToLf::default();
        let mut out = [0u8; 8];
        let n = c.convert(b"ab\r", &mut out);
        assert_eq!(&out[..n], b"ab");
        assert_eq!(c.finish(), b"\r");
    }

    #[test]
    fn ascii_size_counts_each_lf_twice_across_reads() {
        let text = b"one\ntwo\r\n\nthree";
        // A 4-byte buffer makes the count span several reads.
        let mut buf = [0u8; 4];
        assert_eq!(ascii_size(&mut &text[..], &mut buf).unwrap(), 15 + 3);
        assert_eq!(ascii_size(&mut &b""[..], &mut buf).unwrap(), 0);
    }
}
