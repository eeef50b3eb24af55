//! Bounded CRLF framing of the control connection, with Telnet IAC sequences removed.
//!
//! The control connection is a Telnet NVT stream (RFC 959 §4.1.3, RFC 854). Commands end in
//! CRLF; a bare LF is accepted too because some clients and scripts send one. Telnet commands
//! are stripped as they arrive, even when split across reads, so `IAC IP IAC DM ABOR` (the
//! "Synch" of RFC 959 §4.1.3) becomes `ABOR`. Memory is fixed: one read chunk of raw bytes plus
//! at most `max_line` bytes of the line being assembled.

use std::io::{self, Read};

/// Size of the raw read buffer: one `read()` never asks for more.
const CHUNK: usize = 4096;

/// Telnet "interpret as command" (RFC 854).
const IAC: u8 = 255;
/// Telnet WILL; WILL, WONT, DO and DONT (251..=254) each take one option byte.
const WILL: u8 = 251;
/// Telnet SE, the lowest command code (240).
const SE: u8 = 240;

/// What the reader produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// One command line, terminator and Telnet commands removed.
    Line(Vec<u8>),
    /// The current line passed `max_line` bytes; reported once, the rest of that line is dropped.
    TooLong,
    /// The peer closed the connection; an unterminated partial line is discarded.
    Eof,
}

/// Where the Telnet decoder is inside an IAC sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Telnet {
    /// Plain data.
    Data,
    /// Just saw IAC.
    Iac,
    /// Saw IAC WILL/WONT/DO/DONT: the next byte is the option code, dropped.
    Option,
}

/// Frames command lines out of a byte stream with fixed memory.
#[derive(Debug)]
pub struct LineReader<R> {
    /// The control connection (or any byte source in tests).
    inner: R,
    /// Longest accepted command line, terminator excluded.
    max_line: usize,
    /// Raw bytes from the last read; `raw[start..end]` is not decoded yet.
    raw: Box<[u8]>,
    /// First undecoded byte in `raw`.
    start: usize,
    /// End of valid bytes in `raw`.
    end: usize,
    /// Decoded bytes of the line being assembled; never longer than `max_line`.
    line: Vec<u8>,
    /// A CR seen but not yet placed: it is dropped if LF follows, kept otherwise.
    pending_cr: bool,
    /// The current line went past `max_line` and was reported; drop bytes up to its LF.
    discarding: bool,
    /// Telnet decoder state, kept across reads.
    telnet: Telnet,
    /// The peer has closed its side.
    eof: bool,
}

impl<R> LineReader<R> {
    /// A reader accepting lines of up to `max_line` bytes of command text.
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            max_line,
            raw: vec![0u8; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            line: Vec::new(),
            pending_cr: false,
            discarding: false,
            telnet: Telnet::Data,
            eof: false,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying stream, mutably (to set timeouts or write replies on a socket).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Hand over the raw bytes read but not yet framed, and forget any partial line: the
    /// stream under them changes (`AUTH TLS`), and they must never be executed.
    pub fn take_unread(&mut self) -> Vec<u8> {
        let unread = self.raw[self.start..self.end].to_vec();
        (self.start, self.end) = (0, 0);
        self.line.clear();
        self.pending_cr = false;
        self.discarding = false;
        self.telnet = Telnet::Data;
        unread
    }

    /// A line, `TooLong` or `Eof` from bytes already read; `None` means a read is needed.
    ///
    /// Never blocks. After `Eof` has been returned it keeps returning `Eof`.
    pub fn take_line(&mut self) -> Option<LineEvent> {
        while self.start < self.end {
            let b = self.raw[self.start];
            self.start += 1;
            if let Some(event) = self.decode(b) {
                return Some(event);
            }
        }
        if self.eof {
            // A command without its terminator is never executed.
            self.line.clear();
            self.pending_cr = false;
            return Some(LineEvent::Eof);
        }
        None
    }

    /// Feed one raw byte through the Telnet decoder and the line assembler.
    fn decode(&mut self, b: u8) -> Option<LineEvent> {
        match self.telnet {
            Telnet::Data if b == IAC => {
                self.telnet = Telnet::Iac;
                None
            }
            Telnet::Data => self.data(b),
            Telnet::Iac => {
                self.telnet = Telnet::Data;
                if b == IAC {
                    // IAC IAC is a literal 0xFF data byte (file names may contain it).
                    self.data(IAC)
                } else if b >= WILL {
                    self.telnet = Telnet::Option;
                    None
                } else if b >= SE {
                    // IP, DM, AO, AYT, NOP...: no effect on the command text.
                    None
                } else {
                    // The DM of a Synch often arrives out of band and is gone from the
                    // stream, leaving IAC before ordinary text: drop the IAC, keep the byte.
                    self.data(b)
                }
            }
            Telnet::Option => {
                self.telnet = Telnet::Data;
                None
            }
        }
    }

    /// Place one decoded data byte: end the line on LF, otherwise append within the limit.
    fn data(&mut self, b: u8) -> Option<LineEvent> {
        if b == b'\n' {
            self.pending_cr = false;
            if self.discarding {
                self.discarding = false;
                self.line.clear();
                return None;
            }
            return Some(LineEvent::Line(std::mem::take(&mut self.line)));
        }
        if self.discarding {
            return None;
        }
        if self.pending_cr {
            // A CR not followed by LF is part of the text (RFC 854 would send CR NUL).
            self.pending_cr = false;
            if let Some(event) = self.push(b'\r') {
                return Some(event);
            }
        }
        if b == b'\r' {
            self.pending_cr = true;
            return None;
        }
        self.push(b)
    }

    /// Append to the line, or switch to discarding once it exceeds `max_line`.
    fn push(&mut self, b: u8) -> Option<LineEvent> {
        if self.line.len() >= self.max_line {
            self.line = Vec::new();
            self.pending_cr = false;
            self.discarding = true;
            return Some(LineEvent::TooLong);
        }
        if self.line.len() == self.line.capacity() {
            // Grow by doubling but never past max_line, so the bound is exact.
            let want = (self.line.capacity() * 2).max(64).min(self.max_line);
            self.line.reserve_exact(want - self.line.len());
        }
        self.line.push(b);
        None
    }
}

impl<R: Read> LineReader<R> {
    /// Exactly one `read()` from the stream into the raw buffer; `Ok(0)` means end of stream.
    ///
    /// Call [`LineReader::take_line`] until it returns `None` first: that empties the raw
    /// buffer. Calling this with a full raw buffer is an `InvalidInput` error, not a read.
    pub fn fill_once(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.raw.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.raw.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "line buffer full: take lines before reading",
            ));
        }
        let n = self.inner.read(&mut self.raw[self.end..])?;
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(n)
    }

    /// The next line, reading (and blocking) as needed. Read errors, including timeouts,
    /// are returned; `Interrupted` is retried.
    pub fn next_line(&mut self) -> io::Result<LineEvent> {
        loop {
            if let Some(event) = self.take_line() {
                return Ok(event);
            }
            match self.fill_once() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_unread_hands_over_what_follows_the_line() {
        let input: &[u8] = b"AUTH TLS\r\nUSER evil\r\nPA";
        let mut r = LineReader::new(input, 64);
        r.fill_once().unwrap();
        assert_eq!(r.take_line(), Some(LineEvent::Line(b"AUTH TLS".to_vec())));
        assert_eq!(r.take_unread(), b"USER evil\r\nPA".to_vec());
        // Nothing of it is framed later.
        assert_eq!(r.take_line(), None);
        assert_eq!(r.take_unread(), Vec::<u8>::new());
    }

    /// Returns the given chunks, one per `read()`, then end of stream.
    struct Chunks {
        chunks: Vec<Vec<u8>>,
        next: usize,
        reads: usize,
    }

    impl Chunks {
        fn new(chunks: &[&[u8]]) -> Chunks {
            Chunks {
                chunks: chunks.iter().map(|c| c.to_vec()).collect(),
                next: 0,
                reads: 0,
            }
        }

        /// One byte per read.
        fn bytewise(data: &[u8]) -> Chunks {
            let chunks: Vec<&[u8]> = data.chunks(1).collect();
            Chunks::new(&chunks)
        }
    }

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            let Some(chunk) = self.chunks.get_mut(self.next) else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.next += 1;
            }
            Ok(n)
        }
    }

    fn line(s: &[u8]) -> LineEvent {
        LineEvent::Line(s.to_vec())
    }

    /// All events up to and including Eof.
    fn collect<R: Read>(mut r: LineReader<R>) -> Vec<LineEvent> {
        let mut out = Vec::new();
        loop {
            let ev = r.next_line().expect("read");
            let done = ev == LineEvent::Eof;
            out.push(ev);
            if done {
                return out;
            }
        }
    }

    /// Same input whole and one byte per read must give the same events.
    fn both_ways(input: &[u8], max: usize) -> Vec<LineEvent> {
        let whole = collect(LineReader::new(Chunks::new(&[input]), max));
        let split = collect(LineReader::new(Chunks::bytewise(input), max));
        assert_eq!(whole, split, "whole vs bytewise differ");
        whole
    }

    #[test]
    fn crlf_and_bare_lf() {
        assert_eq!(
            both_ways(b"USER a\r\nPASS b\nNOOP\r\n", 4096),
            vec![
                line(b"USER a"),
                line(b"PASS b"),
                line(b"NOOP"),
                LineEvent::Eof
            ]
        );
    }

    #[test]
    fn empty_lines_and_lone_cr() {
        assert_eq!(
            both_ways(b"\r\n\nA\rB\r\nC\r\r\n", 4096),
            vec![
                line(b""),
                line(b""),
                line(b"A\rB"),
                line(b"C\r"),
                LineEvent::Eof
            ]
        );
    }

    #[test]
    fn partial_line_at_eof_is_not_executed() {
        assert_eq!(
            both_ways(b"NOOP\r\nDELE x", 4096),
            vec![line(b"NOOP"), LineEvent::Eof]
        );
        assert_eq!(both_ways(b"QUIT\r", 4096), vec![LineEvent::Eof]);
        let mut r = LineReader::new(Chunks::new(&[]), 4096);
        assert_eq!(r.next_line().expect("read"), LineEvent::Eof);
        assert_eq!(r.next_line().expect("read"), LineEvent::Eof);
        assert_eq!(r.take_line(), Some(LineEvent::Eof));
    }

    #[test]
    fn many_lines_in_one_read() {
        let mut input = Vec::new();
        for i in 0..500 {
            input.extend_from_slice(format!("NOOP {i}\r\n").as_bytes());
        }
        let mut r = LineReader::new(Chunks::new(&[&input]), 4096);
        for i in 0..500 {
            assert_eq!(
                r.next_line().expect("read"),
                line(format!("NOOP {i}").as_bytes())
            );
        }
        assert_eq!(r.next_line().expect("read"), LineEvent::Eof);
        // 500 short lines fit a few 4 KiB reads, plus the final 0.
        assert!(r.get_ref().reads <= 4, "reads: {}", r.get_ref().reads);
    }

    #[test]
    fn iac_iac_is_literal_ff() {
        assert_eq!(
            both_ways(b"RETR a\xff\xffb\r\n", 4096),
            vec![line(b"RETR a\xffb"), LineEvent::Eof]
        );
        assert_eq!(
            both_ways(b"RETR \xff\xff\xff\xff\r\n", 4096),
            vec![line(b"RETR \xff\xff"), LineEvent::Eof]
        );
    }

    #[test]
    fn negotiation_removed() {
        // IAC WILL/WONT/DO/DONT <opt>, including an option byte that looks like CR or LF.
        assert_eq!(
            both_ways(
                b"\xff\xfb\x01NO\xff\xfc\x0aOP\xff\xfd\x0d\xff\xfe\xff\r\n",
                4096
            ),
            vec![line(b"NOOP"), LineEvent::Eof]
        );
    }

    #[test]
    fn two_byte_commands_removed() {
        // IP (244), DM (242), NOP (241), AYT (246) and the rest of 240..=250.
        assert_eq!(
            both_ways(b"\xff\xf4\xff\xf2ABOR\xff\xf1\xff\xf6\r\n", 4096),
            vec![line(b"ABOR"), LineEvent::Eof]
        );
        for cmd in 240u8..=250 {
            let input = [b'A', IAC, cmd, b'B', b'\r', b'\n'];
            assert_eq!(both_ways(&input, 4096), vec![line(b"AB"), LineEvent::Eof]);
        }
    }

    #[test]
    fn synch_with_dm_inline() {
        assert_eq!(
            both_ways(b"\xff\xf4\xff\xf2ABOR\r\n", 4096),
            vec![line(b"ABOR"), LineEvent::Eof]
        );
    }

    #[test]
    fn synch_with_dm_taken_out_of_band() {
        // The urgent DM byte was consumed out of band: IAC IP IAC then the command.
        assert_eq!(
            both_ways(b"\xff\xf4\xffABOR\r\n", 4096),
            vec![line(b"ABOR"), LineEvent::Eof]
        );
    }

    #[test]
    fn iac_sequence_split_across_reads() {
        let r = LineReader::new(
            Chunks::new(&[
                b"RETR a\xff",
                b"\xffb\xff",
                b"\xfb",
                b"\x18c\xff",
                b"\xf4\r",
                b"\n",
            ]),
            4096,
        );
        assert_eq!(collect(r), vec![line(b"RETR a\xffbc"), LineEvent::Eof]);
    }

    #[test]
    fn ff_in_file_name_then_more_commands() {
        assert_eq!(
            both_ways(b"STOR caf\xff\xff.txt\r\nNOOP\r\n", 4096),
            vec![line(b"STOR caf\xff.txt"), line(b"NOOP"), LineEvent::Eof]
        );
    }

    #[test]
    fn too_long_once_then_resync() {
        let mut input = b"NOOP\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 20]);
        input.extend_from_slice(b"\r\nPWD\r\n");
        assert_eq!(
            both_ways(&input, 10),
            vec![
                line(b"NOOP"),
                LineEvent::TooLong,
                line(b"PWD"),
                LineEvent::Eof
            ]
        );
    }

    #[test]
    fn exact_limit_is_accepted() {
        assert_eq!(
            both_ways(b"0123456789\r\n01234567890\r\n", 10),
            vec![line(b"0123456789"), LineEvent::TooLong, LineEvent::Eof]
        );
        // Escaped 0xFF counts once; Telnet commands do not count.
        assert_eq!(
            both_ways(b"\xff\xf4\xff\xf2012345678\xff\xff\r\n", 10),
            vec![line(b"012345678\xff"), LineEvent::Eof]
        );
        // A trailing CR before LF is the terminator, not text.
        assert_eq!(
            both_ways(b"0123456789\r\r\n", 10),
            vec![LineEvent::TooLong, LineEvent::Eof]
        );
    }

    #[test]
    fn endless_line_stays_bounded() {
        let big = vec![b'A'; 1 << 20];
        let mut r = LineReader::new(Chunks::new(&[&big, &big, b"\r\nNOOP\r\n"]), 4096);
        assert_eq!(r.next_line().expect("read"), LineEvent::TooLong);
        assert!(r.line.capacity() <= 4096);
        assert_eq!(r.next_line().expect("read"), line(b"NOOP"));
        assert_eq!(r.raw.len(), CHUNK);
        let mut r = LineReader::new(Chunks::new(&[&big]), 5000);
        assert_eq!(r.next_line().expect("read"), LineEvent::TooLong);
        // A line of exactly max_line bytes: capacity stops at the limit, not the next power of two.
        let mut r = LineReader::new(Chunks::new(&[&big[..4096], &big[..904]]), 5000);
        assert_eq!(r.fill_once().expect("read"), 4096);
        assert_eq!(r.take_line(), None);
        assert_eq!(r.fill_once().expect("read"), 904);
        assert_eq!(r.take_line(), None);
        assert_eq!(r.line.len(), 5000);
        assert_eq!(r.line.capacity(), 5000);
        assert_eq!(r.next_line().expect("read"), LineEvent::Eof);
    }

    #[test]
    fn take_line_never_reads() {
        let mut r = LineReader::new(Chunks::new(&[b"NO", b"OP\r\nPWD\r\n"]), 4096);
        assert_eq!(r.take_line(), None);
        assert_eq!(r.get_ref().reads, 0);
        assert_eq!(r.fill_once().expect("read"), 2);
        assert_eq!(r.take_line(), None);
        assert_eq!(r.fill_once().expect("read"), 9);
        assert_eq!(r.take_line(), Some(line(b"NOOP")));
        assert_eq!(r.take_line(), Some(line(b"PWD")));
        assert_eq!(r.take_line(), None);
        assert_eq!(r.fill_once().expect("read"), 0);
        assert_eq!(r.take_line(), Some(LineEvent::Eof));
        assert_eq!(r.get_ref().reads, 3);
    }

    #[test]
    fn fill_once_keeps_unread_lines() {
        // Two reads without taking lines in between: nothing is lost.
        let mut r = LineReader::new(Chunks::new(&[b"A\r\nB", b"\r\n"]), 4096);
        assert_eq!(r.fill_once().expect("read"), 4);
        assert_eq!(r.take_line(), Some(line(b"A")));
        assert_eq!(r.fill_once().expect("read"), 2);
        assert_eq!(r.take_line(), Some(line(b"B")));
        assert_eq!(r.take_line(), None);
    }

    #[test]
    fn fill_once_refuses_when_buffer_full() {
        let big = vec![b'A'; CHUNK];
        let mut r = LineReader::new(Chunks::new(&[&big, b"\n"]), 8192);
        assert_eq!(r.fill_once().expect("read"), CHUNK);
        let err = r.fill_once().expect_err("buffer full");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(r.get_ref().reads, 1);
        assert_eq!(r.take_line(), None);
        assert_eq!(r.next_line().expect("read"), line(&big));
    }

    #[test]
    fn interrupted_read_is_retried() {
        struct Flaky(bool, Chunks);
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 = !self.0;
                if self.0 {
                    Err(io::ErrorKind::Interrupted.into())
                } else {
                    self.1.read(buf)
                }
            }
        }
        let r = LineReader::new(Flaky(false, Chunks::bytewise(b"NOOP\r\n")), 4096);
        assert_eq!(collect(r), vec![line(b"NOOP"), LineEvent::Eof]);
    }

    #[test]
    fn other_errors_are_returned() {
        struct TimedOut;
        impl Read for TimedOut {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
        let mut r = LineReader::new(TimedOut, 4096);
        let err = r.next_line().expect_err("timeout");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
