//! A tiny, bounded DER reader: just enough X.509 to find a certificate's notAfter and to split
//! a file of concatenated DER certificates (no x509 crate: it would cost more than the feature).
//!
//! Every step checks lengths against what is left; nothing recurses, nothing allocates except
//! the list of certificates, which is capped. Bad input gives `None`, never a panic.

use crate::timefmt::unix_from_civil;

/// ASN.1 SEQUENCE (constructed).
const SEQUENCE: u8 = 0x30;
/// INTEGER.
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT`, the optional version of a TBSCertificate.
const VERSION: u8 = 0xa0;
/// UTCTime: YYMMDDHHMMSSZ.
const UTC_TIME: u8 = 0x17;
/// GeneralizedTime: YYYYMMDDHHMMSSZ.
const GENERALIZED_TIME: u8 = 0x18;

/// Most certificates accepted in one concatenated DER file (a leaf and a few intermediates).
pub const MAX_CHAIN: usize = 16;

/// One tag-length-value: `(tag, contents, rest)`. Single-byte tags and definite lengths of at
/// most four length bytes only, which covers every certificate (DER forbids the rest or no
/// certificate needs it).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag number form
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None; // indefinite length (BER), or absurdly long
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        (usize::try_from(len).ok()?, rest)
    };
    if len > rest.len() {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The contents of the element at the front of `input` if its tag is `tag`, and the rest.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = tlv(input)?;
    (t == tag).then_some((contents, rest))
}

/// The notAfter of a DER X.509 certificate, in seconds since the Unix epoch (RFC 5280 §4.1).
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (certificate, _) = expect(cert, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    // TBSCertificate: [0] version OPTIONAL, serialNumber, signature, issuer, validity, ...
    let tbs = match tlv(tbs)? {
        (VERSION, _, rest) => rest,
        _ => tbs,
    };
    let (_serial, rest) = expect(tbs, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, _) = expect(rest, SEQUENCE)?;
    let (_, _not_before, rest) = tlv(validity)?;
    let (tag, not_after, _) = tlv(rest)?;
    parse_time(tag, not_after)
}

/// A UTCTime or GeneralizedTime in the only form RFC 5280 §4.1.2.5 allows: UTC ("Z") with
/// seconds and no fraction.
fn parse_time(tag: u8, text: &[u8]) -> Option<i64> {
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, otherwise 20YY.
            let yy = i64::from(two(&text[0..2])?);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 15) => {
            let year = i64::from(two(&text[0..2])?) * 100 + i64::from(two(&text[2..4])?);
            (year, &text[4..])
        }
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    unix_from_civil(
        year,
        two(&rest[0..2])?,
        two(&rest[2..4])?,
        two(&rest[4..6])?,
        two(&rest[6..8])?,
        two(&rest[8..10])?,
    )
}

/// Two ASCII digits.
fn two(d: &[u8]) -> Option<u32> {
    match d {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(b - b'0')),
        _ => None,
    }
}

/// Split a file of DER certificates written one after another (a chain in DER, as some tools
/// write it) into the certificates; `None` unless the whole input is SEQUENCEs, one to
/// [`MAX_CHAIN`] of them.
pub fn split_certificates(mut input: &[u8]) -> Option<Vec<&[u8]>> {
    let mut certs = Vec::new();
    while !input.is_empty() {
        if certs.len() == MAX_CHAIN {
            return None;
        }
        let (tag, _, rest) = tlv(input)?;
        if tag != SEQUENCE {
            return None;
        }
        certs.push(&input[..input.len() - rest.len()]);
        input = rest;
    }
    (!certs.is_empty()).then_some(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of one element (short or long length form as needed).
    fn element(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|&b| b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend(contents);
        out
    }

    /// A certificate skeleton with the given validity times (tags and texts).
    fn cert(version: bool, not_before: (u8, &str), not_after: (u8, &str), pad: usize) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(element(VERSION, &element(INTEGER, &[2])));
        }
        tbs.extend(element(INTEGER, &[0x01, 0x23]));
        tbs.extend(element(SEQUENCE, &element(0x06, &[0x2a, 0x86])));
        tbs.extend(element(SEQUENCE, &vec![0x31; pad])); // issuer, any size
        let mut validity = element(not_before.0, not_before.1.as_bytes());
        validity.extend(element(not_after.0, not_after.1.as_bytes()));
        tbs.extend(element(SEQUENCE, &validity));
        tbs.extend(element(SEQUENCE, b"subject and the rest"));
        let mut certificate = element(SEQUENCE, &tbs);
        certificate.extend(element(SEQUENCE, b"sigalg"));
        certificate.extend(element(0x03, b"\x00signature"));
        element(SEQUENCE, &certificate)
    }

    #[test]
    fn reads_utc_and_generalized_not_after() {
        let c = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "491231235959Z"),
            3,
        );
        assert_eq!(not_after(&c), unix_from_civil(2049, 12, 31, 23, 59, 59));
        let c = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "500101000000Z"),
            3,
        );
        assert_eq!(not_after(&c), unix_from_civil(1950, 1, 1, 0, 0, 0));
        let c = cert(
            false,
            (UTC_TIME, "240101000000Z"),
            (GENERALIZED_TIME, "21260101120000Z"),
            3,
        );
        assert_eq!(not_after(&c), unix_from_civil(2126, 1, 1, 12, 0, 0));
        // A long issuer puts the validity behind two- and three-byte lengths.
        let c = cert(
            true,
            (GENERALIZED_TIME, "20240101000000Z"),
            (UTC_TIME, "300615083000Z"),
            300,
        );
        assert_eq!(not_after(&c), unix_from_civil(2030, 6, 15, 8, 30, 0));
        let c = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "300615083000Z"),
            70000,
        );
        assert_eq!(not_after(&c), unix_from_civil(2030, 6, 15, 8, 30, 0));
    }

    #[test]
    fn rejects_malformed_times() {
        for (tag, text) in [
            (UTC_TIME, "3006150830Z"),               // no seconds
            (UTC_TIME, "300615083000+0100"),         // offset
            (UTC_TIME, "300615083000"),              // no Z
            (GENERALIZED_TIME, "20300615083000.5Z"), // fraction
            (UTC_TIME, "301315083000Z"),             // month 13
            (UTC_TIME, "300631083000Z"),             // June 31st
            (UTC_TIME, "3006150830a0Z"),             // not a digit
            (0x04, "300615083000Z"),                 // not a time
        ] {
            let c = cert(true, (UTC_TIME, "240101000000Z"), (tag, text), 3);
            assert_eq!(not_after(&c), None, "{text}");
        }
    }

    #[test]
    fn every_truncation_and_garbage_is_none_not_a_panic() {
        let c = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "300615083000Z"),
            200,
        );
        for n in 0..c.len() {
            assert_eq!(not_after(&c[..n]), None, "truncated at {n}");
        }
        // Flip each byte: must never panic (the result may or may not parse).
        for i in 0..c.len() {
            let mut d = c.clone();
            d[i] ^= 0xff;
            let _ = not_after(&d);
            let _ = split_certificates(&d);
        }
        // Lengths that claim more than is there, indefinite, and five length bytes.
        assert_eq!(tlv(&[0x30, 0x85, 1, 0, 0, 0, 0]), None);
        assert_eq!(tlv(&[0x30, 0x80, 0, 0]), None);
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0]), None);
        assert_eq!(tlv(&[0x1f, 0x01, 0]), None);
        assert_eq!(not_after(b""), None);
    }

    #[test]
    fn splits_concatenated_certificates() {
        let a = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "300615083000Z"),
            3,
        );
        let b = cert(
            true,
            (UTC_TIME, "240101000000Z"),
            (UTC_TIME, "310615083000Z"),
            200,
        );
        let both = [a.clone(), b.clone()].concat();
        assert_eq!(split_certificates(&both), Some(vec![&a[..], &b[..]]));
        assert_eq!(split_certificates(&a), Some(vec![&a[..]]));
        assert_eq!(split_certificates(b""), None);
        assert_eq!(
            split_certificates(&[&a[..], b"\x00"].concat()),
            None,
            "trailing byte"
        );
        assert_eq!(
            split_certificates(&both[..both.len() - 1]),
            None,
            "truncated"
        );
        assert_eq!(
            split_certificates(&element(INTEGER, &[1])),
            None,
            "not a SEQUENCE"
        );
        let many: Vec<u8> = (0..=MAX_CHAIN).flat_map(|_| a.clone()).collect();
        assert_eq!(split_certificates(&many), None, "over the cap");
    }
}
