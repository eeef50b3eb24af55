//! Test helpers for the codecs: a deterministic PRNG and chunked decoding into owned events.

use super::{DecodeError, Decoder, Event};

/// xorshift64*: deterministic, seedable, good enough to pick data and chunk sizes.
pub struct Rng(u64);

impl Rng {
    /// A generator from a nonzero-ised seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` random bytes, mixed with runs (of a random byte, of `run_byte`) so that every code
    /// kind shows up.
    pub fn bytes(&mut self, n: usize, run_byte: u8) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let left = n - v.len();
            match self.below(4) {
                0 => {
                    let b = if self.below(2) == 0 {
                        run_byte
                    } else {
                        self.next() as u8
                    };
                    let len = 1 + self.below(left.min(150));
                    v.resize(v.len() + len, b);
                }
                _ => {
                    let len = 1 + self.below(left.min(300));
                    v.extend((0..len).map(|_| self.next() as u8));
                }
            }
        }
        v
    }
}

/// An event with owned bytes, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    Data(Vec<u8>, bool),
    Record,
    End,
    Restart(Vec<u8>),
}

/// Decode `input` fed in random pieces (sizes 0..=max_chunk, 0 included), merging adjacent
/// data events with the same suspect flag; then `finish`.
pub fn decode_chunked<D: Decoder>(
    dec: &mut D,
    input: &[u8],
    rng: &mut Rng,
    max_chunk: usize,
) -> Result<Vec<Owned>, DecodeError> {
    let mut out: Vec<Owned> = Vec::new();
    let mut pos = 0;
    let mut spins = 0;
    while pos < input.len() {
        let n = rng.below(max_chunk + 1).min(input.len() - pos);
        feed(dec, &input[pos..pos + n], &mut out)?;
        pos += n;
        spins += 1;
        assert!(spins < 10 * input.len() + 1000, "no progress");
    }
    feed(dec, &[], &mut out)?;
    dec.finish()?;
    Ok(out)
}

/// Decode all of `input` in one piece.
pub fn decode_whole<D: Decoder>(dec: &mut D, input: &[u8]) -> Result<Vec<Owned>, DecodeError> {
    let mut out = Vec::new();
    feed(dec, input, &mut out)?;
    dec.finish()?;
    Ok(out)
}

fn feed<D: Decoder>(dec: &mut D, mut rest: &[u8], out: &mut Vec<Owned>) -> Result<(), DecodeError> {
    for _ in 0..10 * rest.len() + 100 {
        let (used, ev) = dec.next(rest)?;
        assert!(used <= rest.len());
        rest = &rest[used..];
        match ev {
            None => {
                assert!(rest.is_empty(), "None with {} bytes left", rest.len());
                return Ok(());
            }
            Some(Event::Data { bytes, suspect }) => {
                assert!(!bytes.is_empty(), "empty data event");
                match out.last_mut() {
                    Some(Owned::Data(v, s)) if *s == suspect => v.extend_from_slice(bytes),
                    _ => out.push(Owned::Data(bytes.to_vec(), suspect)),
                }
            }
            Some(Event::Record) => out.push(Owned::Record),
            Some(Event::End) => out.push(Owned::End),
            Some(Event::Restart(m)) => out.push(Owned::Restart(m.as_bytes().to_vec())),
        }
    }
    panic!("decoder did not finish its input");
}

/// The expected owned events for a sequence, merging adjacent data like `decode_chunked`.
pub fn merged(events: Vec<Owned>) -> Vec<Owned> {
    let mut out: Vec<Owned> = Vec::new();
    for e in events {
        match (out.last_mut(), e) {
            (_, Owned::Data(v, _)) if v.is_empty() => {}
            (Some(Owned::Data(a, s)), Owned::Data(b, t)) if *s == t => a.extend_from_slice(&b),
            (_, e) => out.push(e),
        }
    }
    out
}
