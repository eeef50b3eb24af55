//! TYPE E: stored text <-> EBCDIC (IBM-037 or IBM-1047) byte tables, with LF <-> NL line ends.
//!
//! Stored files are bytes; for TYPE E each stored byte is read as the ISO 8859-1 character of
//! that value and sent as its EBCDIC code in the chosen code page, the mapping IBM and glibc's
//! `iconv` use (the C1 controls 0x80-0x9F included). Both code pages are full bijections over
//! the 256 byte values, so **every byte has a mapping** and nothing is lost or replaced: a file
//! stored and retrieved with TYPE E is identical (RFC 959 3.1.2's "a file must be stored and
//! retrieved with the same parameters ..."). UTF-8 text goes byte by byte: its ASCII part
//! becomes proper EBCDIC, its multi-byte characters come out as the Latin-1 look-alikes' codes
//! and round-trip unchanged.
//!
//! **Line ends.** RFC 959 3.1.1.2: "where it is necessary the `<NL>` character should be used".
//! The plain tables map LF (0x0A) to EBCDIC LF 0x25 and Latin-1 NEL (0x85) to NL 0x15; ours
//! swap those two, so stored LF goes out as NL 0x15 and a received 0x15 is stored as LF, while
//! 0x25 and stored 0x85 map to each other (still a bijection; this is the swap z/OS UNIX uses
//! for 1047 text). **CR** is an ordinary character: stored CR is EBCDIC CR 0x0D and back, so
//! a client sending CR NL gets CR LF stored, and gets exactly its CR NL back.
//!
//! The two pages differ in six places (`[ ] ^ ¬ Ý ¨`): 037 is the classic US/Canada page,
//! 1047 the Open Systems (z/OS UNIX, C source) page, which puts `[` `]` where C programmers on
//! z/OS expect them.

/// An EBCDIC code page for TYPE E.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodePage {
    /// IBM-037 (CCSID 37), the common US/Canada page: the default.
    #[default]
    Ibm037,
    /// IBM-1047 (CCSID 1047), the Open Systems Latin-1 page of z/OS UNIX.
    Ibm1047,
}

impl CodePage {
    /// The table stored byte -> wire byte.
    pub fn encode_table(self) -> &'static [u8; 256] {
        match self {
            CodePage::Ibm037 => &ENCODE_037,
            CodePage::Ibm1047 => &ENCODE_1047,
        }
    }

    /// The table wire byte -> stored byte.
    pub fn decode_table(self) -> &'static [u8; 256] {
        match self {
            CodePage::Ibm037 => &DECODE_037,
            CodePage::Ibm1047 => &DECODE_1047,
        }
    }

    /// The page's name as a config value: `ibm037` or `ibm1047`.
    pub fn name(self) -> &'static str {
        match self {
            CodePage::Ibm037 => "ibm037",
            CodePage::Ibm1047 => "ibm1047",
        }
    }

    /// The page's number as the config file writes it: `037` or `1047`.
    pub fn number(self) -> &'static str {
        match self {
            CodePage::Ibm037 => "037",
            CodePage::Ibm1047 => "1047",
        }
    }

    /// The page named `ibm037`/`037`/`cp037` or `ibm1047`/`1047`/`cp1047` (any case).
    pub fn from_name(name: &str) -> Option<CodePage> {
        match name
            .to_ascii_lowercase()
            .trim_start_matches("ibm")
            .trim_start_matches("cp")
        {
            "037" | "-037" | "37" => Some(CodePage::Ibm037),
            "1047" | "-1047" => Some(CodePage::Ibm1047),
            _ => None,
        }
    }
}

/// EBCDIC NL, the line end on the wire under TYPE E.
pub const NL: u8 = 0x15;
/// EBCDIC space: the compressed-mode filler under TYPE E.
pub const SPACE: u8 = 0x40;

/// Translate `buf` in place through `table` (an encode or decode table).
pub fn translate(table: &[u8; 256], buf: &mut [u8]) {
    for b in buf {
        *b = table[*b as usize];
    }
}

/// Translate `input` into `out` through `table`; returns the bytes written
/// (`min(input.len(), out.len())`).
pub fn translate_into(table: &[u8; 256], input: &[u8], out: &mut [u8]) -> usize {
    let n = input.len().min(out.len());
    for (o, &i) in out[..n].iter_mut().zip(&input[..n]) {
        *o = table[i as usize];
    }
    n
}

/// IBM-037 as ISO 8859-1 -> EBCDIC, before the line-end swap (row = high nibble).
const IBM037: [u8; 256] = [
    0x00, 0x01, 0x02, 0x03, 0x37, 0x2D, 0x2E, 0x2F, 0x16, 0x05, 0x25, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
    0x10, 0x11, 0x12, 0x13, 0x3C, 0x3D, 0x32, 0x26, 0x18, 0x19, 0x3F, 0x27, 0x1C, 0x1D, 0x1E, 0x1F,
    0x40, 0x5A, 0x7F, 0x7B, 0x5B, 0x6C, 0x50, 0x7D, 0x4D, 0x5D, 0x5C, 0x4E, 0x6B, 0x60, 0x4B, 0x61,
    0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0x7A, 0x5E, 0x4C, 0x7E, 0x6E, 0x6F,
    0x7C, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6,
    0xD7, 0xD8, 0xD9, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xBA, 0xE0, 0xBB, 0xB0, 0x6D,
    0x79, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
    0x97, 0x98, 0x99, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xC0, 0x4F, 0xD0, 0xA1, 0x07,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x15, 0x06, 0x17, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x09, 0x0A, 0x1B,
    0x30, 0x31, 0x1A, 0x33, 0x34, 0x35, 0x36, 0x08, 0x38, 0x39, 0x3A, 0x3B, 0x04, 0x14, 0x3E, 0xFF,
    0x41, 0xAA, 0x4A, 0xB1, 0x9F, 0xB2, 0x6A, 0xB5, 0xBD, 0xB4, 0x9A, 0x8A, 0x5F, 0xCA, 0xAF, 0xBC,
    0x90, 0x8F, 0xEA, 0xFA, 0xBE, 0xA0, 0xB6, 0xB3, 0x9D, 0xDA, 0x9B, 0x8B, 0xB7, 0xB8, 0xB9, 0xAB,
    0x64, 0x65, 0x62, 0x66, 0x63, 0x67, 0x9E, 0x68, 0x74, 0x71, 0x72, 0x73, 0x78, 0x75, 0x76, 0x77,
    0xAC, 0x69, 0xED, 0xEE, 0xEB, 0xEF, 0xEC, 0xBF, 0x80, 0xFD, 0xFE, 0xFB, 0xFC, 0xAD, 0xAE, 0x59,
    0x44, 0x45, 0x42, 0x46, 0x43, 0x47, 0x9C, 0x48, 0x54, 0x51, 0x52, 0x53, 0x58, 0x55, 0x56, 0x57,
    0x8C, 0x49, 0xCD, 0xCE, 0xCB, 0xCF, 0xCC, 0xE1, 0x70, 0xDD, 0xDE, 0xDB, 0xDC, 0x8D, 0x8E, 0xDF,
];

const ENC_037: [u8; 256] = nl_line_ends(IBM037);
const ENC_1047: [u8; 256] = nl_line_ends(ibm1047_from_037(IBM037));
/// Stored byte -> IBM-037 wire byte, LF -> NL.
pub static ENCODE_037: [u8; 256] = ENC_037;
/// IBM-037 wire byte -> stored byte, NL -> LF.
pub static DECODE_037: [u8; 256] = invert(&ENC_037);
/// Stored byte -> IBM-1047 wire byte, LF -> NL.
pub static ENCODE_1047: [u8; 256] = ENC_1047;
/// IBM-1047 wire byte -> stored byte, NL -> LF.
pub static DECODE_1047: [u8; 256] = invert(&ENC_1047);

/// IBM-1047 is IBM-037 with six characters moved: `[` `]` `^` `¨` `¬` `Ý`.
const fn ibm1047_from_037(mut t: [u8; 256]) -> [u8; 256] {
    t[b'[' as usize] = 0xAD;
    t[b']' as usize] = 0xBD;
    t[b'^' as usize] = 0x5F;
    t[0xA8] = 0xBB; // ¨ diaeresis
    t[0xAC] = 0xB0; // ¬ not sign
    t[0xDD] = 0xBA; // Ý
    t
}

/// Swap the EBCDIC codes of LF and NEL so that LF travels as NL (RFC 959 3.1.1.2).
const fn nl_line_ends(mut t: [u8; 256]) -> [u8; 256] {
    let lf = t[0x0A];
    let mut i = 0;
    while i < 256 {
        if t[i] == NL {
            t[i] = lf;
        }
        i += 1;
    }
    t[0x0A] = NL;
    t
}

/// The inverse of a bijection.
const fn invert(t: &[u8; 256]) -> [u8; 256] {
    let mut inv = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        inv[t[i] as usize] = i as u8;
        i += 1;
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGES: [CodePage; 2] = [CodePage::Ibm037, CodePage::Ibm1047];

    #[test]
    fn tables_are_bijections_and_inverse() {
        for page in PAGES {
            let (enc, dec) = (page.encode_table(), page.decode_table());
            let mut seen = [false; 256];
            for b in 0..256 {
                assert!(
                    !seen[enc[b] as usize],
                    "{page:?}: two bytes map to {:#x}",
                    enc[b]
                );
                seen[enc[b] as usize] = true;
                assert_eq!(
                    dec[enc[b] as usize] as usize, b,
                    "{page:?} round trip of {b:#x}"
                );
            }
        }
    }

    #[test]
    fn known_code_points() {
        for page in PAGES {
            let e = page.encode_table();
            assert_eq!(e[b'A' as usize], 0xC1);
            assert_eq!(e[b'J' as usize], 0xD1);
            assert_eq!(e[b'S' as usize], 0xE2);
            assert_eq!(e[b'Z' as usize], 0xE9);
            assert_eq!(e[b'a' as usize], 0x81);
            assert_eq!(e[b'z' as usize], 0xA9);
            assert_eq!(e[b'0' as usize], 0xF0);
            assert_eq!(e[b'9' as usize], 0xF9);
            assert_eq!(e[b' ' as usize], SPACE);
            assert_eq!(e[b'.' as usize], 0x4B);
            assert_eq!(e[b'\r' as usize], 0x0D, "CR is CR");
            assert_eq!(e[0], 0, "NUL is NUL");
            assert_eq!(e[b'\n' as usize], NL, "LF goes out as NL");
            assert_eq!(e[0x85], 0x25, "NEL takes EBCDIC LF's place");
            assert_eq!(page.decode_table()[NL as usize], b'\n');
            assert_eq!(page.decode_table()[0x25], 0x85);
        }
    }

    #[test]
    fn pages_differ_in_exactly_six_characters() {
        let (a, b) = (&ENCODE_037, &ENCODE_1047);
        let differ: Vec<u8> = (0..=255u8)
            .filter(|&i| a[i as usize] != b[i as usize])
            .collect();
        assert_eq!(differ, vec![b'[', b']', b'^', 0xA8, 0xAC, 0xDD]);
        assert_eq!((a[b'[' as usize], a[b']' as usize]), (0xBA, 0xBB));
        assert_eq!((b[b'[' as usize], b[b']' as usize]), (0xAD, 0xBD));
        assert_eq!((a[b'^' as usize], b[b'^' as usize]), (0xB0, 0x5F));
        assert_eq!((a[0xAC], b[0xAC]), (0x5F, 0xB0));
    }

    #[test]
    fn text_round_trips_with_line_ends() {
        let text = b"HELLO, World [1]\r\nline 2\n\xff\x85\n";
        for page in PAGES {
            let mut wire = text.to_vec();
            translate(page.encode_table(), &mut wire);
            assert_eq!(&wire[..5], &[0xC8, 0xC5, 0xD3, 0xD3, 0xD6]);
            assert_eq!(wire.iter().filter(|&&b| b == NL).count(), 3);
            let mut back = [0u8; 64];
            let n = translate_into(page.decode_table(), &wire, &mut back);
            assert_eq!(&back[..n], text);
        }
        assert_eq!(translate_into(&ENCODE_037, b"abc", &mut [0u8; 2]), 2);
    }

    #[test]
    fn page_names() {
        assert_eq!(CodePage::from_name("IBM037"), Some(CodePage::Ibm037));
        assert_eq!(CodePage::from_name("ibm-1047"), Some(CodePage::Ibm1047));
        assert_eq!(CodePage::from_name("cp1047"), Some(CodePage::Ibm1047));
        assert_eq!(CodePage::from_name("ibm500"), None);
        for page in PAGES {
            assert_eq!(CodePage::from_name(page.name()), Some(page));
        }
    }

    /// Cross-check against glibc's iconv where it is installed (an independent source of the
    /// tables); prints SKIP without it.
    #[test]
    fn tables_match_iconv() {
        for (page, name) in [(CodePage::Ibm037, "IBM037"), (CodePage::Ibm1047, "IBM1047")] {
            let Some(theirs) = iconv_latin1_to(name) else {
                eprintln!("SKIP: iconv {name} not available");
                return;
            };
            let ours = page.encode_table();
            for b in 0..256 {
                let expected = match b {
                    0x0A => NL,   // our line-end swap
                    0x85 => 0x25, // its other half
                    _ => theirs[b],
                };
                assert_eq!(ours[b], expected, "{name}: byte {b:#x}");
            }
        }
    }

    fn iconv_latin1_to(name: &str) -> Option<Vec<u8>> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("iconv")
            .args(["-f", "ISO-8859-1", "-t", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let all: Vec<u8> = (0..=255u8).collect();
        child.stdin.take()?.write_all(&all).ok()?;
        let out = child.wait_with_output().ok()?;
        (out.status.success() && out.stdout.len() == 256).then_some(out.stdout)
    }
}
