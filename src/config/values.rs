//! The kinds of config value: how each is read from `key = value` text, written back, and
//! checked when set in code.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::MAX_TIMEOUT_SECS;

/// One kind of value: its file syntax both ways. Errors name no key; the caller adds it.
pub trait Kind<T> {
    /// The value written as `text`.
    fn parse(&self, text: &str) -> Result<T, String>;
    /// `value` in file syntax; `None` when unset.
    fn print(&self, value: &T) -> Option<String>;
    /// Whether `value`, set in code (the fields are public), is acceptable, for a kind whose
    /// text cannot tell; `None` (most kinds): `Config::validate` parses what `print` gives,
    /// which keeps one copy of every range check.
    fn check(&self, _value: &T) -> Option<Result<(), String>> {
        None
    }
}

/// `yes`/`no` and the usual spellings of both.
pub struct Bool;

impl Kind<bool> for Bool {
    fn parse(&self, text: &str) -> Result<bool, String> {
        match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" => Ok(false),
            _ => Err(format!(
                "expected yes/no/true/false/on/off/1/0, got '{text}'"
            )),
        }
    }
    fn print(&self, value: &bool) -> Option<String> {
        Some(if *value { "yes" } else { "no" }.to_string())
    }
}

/// A decimal whole number from `.0` to `.1`, held in any integer type the range fits.
pub struct Num(pub u64, pub u64);

/// The upper bound of counts: fits `usize` on the 32-bit targets too.
pub const U32_MAX: u64 = u32::MAX as u64;

impl<T: TryFrom<u64> + ToString> Kind<T> for Num {
    fn parse(&self, text: &str) -> Result<T, String> {
        let n = parse_uint(text, self.0, self.1)?;
        T::try_from(n).map_err(|_| format!("'{text}' is too large"))
    }
    fn print(&self, value: &T) -> Option<String> {
        Some(value.to_string())
    }
}

/// Whole seconds from `.0` (0 or 1) up to a day, so `Instant + timeout` never overflows.
pub struct Secs(pub u64);

impl Kind<Duration> for Secs {
    fn parse(&self, text: &str) -> Result<Duration, String> {
        parse_uint(text, self.0, MAX_TIMEOUT_SECS).map(Duration::from_secs)
    }
    fn print(&self, value: &Duration) -> Option<String> {
        Some(value.as_secs().to_string())
    }
    /// Checked directly, not through text: a sub-second value set in code (tests) is fine.
    fn check(&self, value: &Duration) -> Option<Result<(), String>> {
        let too_long = *value > Duration::from_secs(MAX_TIMEOUT_SECS);
        Some(if self.0 == 0 && too_long {
            Err(format!("at most {MAX_TIMEOUT_SECS} seconds"))
        } else if self.0 > 0 && (value.is_zero() || too_long) {
            Err(format!("from 1 to {MAX_TIMEOUT_SECS} seconds"))
        } else {
            Ok(())
        })
    }
}

/// Whole milliseconds from 0 to `.0`.
pub struct Millis(pub u64);

impl Kind<Duration> for Millis {
    fn parse(&self, text: &str) -> Result<Duration, String> {
        parse_uint(text, 0, self.0).map(Duration::from_millis)
    }
    fn print(&self, value: &Duration) -> Option<String> {
        Some(value.as_millis().to_string())
    }
    fn check(&self, value: &Duration) -> Option<Result<(), String>> {
        if *value > Duration::from_millis(self.0) {
            return Some(Err(format!("at most {}", self.0)));
        }
        Some(Ok(()))
    }
}

/// An optional value: set by any value of the inner kind, unset by default.
pub struct Maybe<K>(pub K);

impl<T, K: Kind<T>> Kind<Option<T>> for Maybe<K> {
    fn parse(&self, text: &str) -> Result<Option<T>, String> {
        self.0.parse(text).map(Some)
    }
    fn print(&self, value: &Option<T>) -> Option<String> {
        self.0.print(value.as_ref()?)
    }
    fn check(&self, value: &Option<T>) -> Option<Result<(), String>> {
        self.0.check(value.as_ref()?)
    }
}

/// A file path: not empty, no NUL.
pub struct File;

impl Kind<PathBuf> for File {
    fn parse(&self, text: &str) -> Result<PathBuf, String> {
        if text.is_empty() {
            return Err("expected a path".to_string());
        }
        if text.contains('\0') {
            return Err("a path cannot contain NUL".to_string());
        }
        Ok(PathBuf::from(text))
    }
    fn print(&self, value: &PathBuf) -> Option<String> {
        Some(value.display().to_string())
    }
}

/// Comma-separated IP addresses, each once.
pub struct Listen;

impl Kind<Vec<IpAddr>> for Listen {
    fn parse(&self, text: &str) -> Result<Vec<IpAddr>, String> {
        let mut addrs: Vec<IpAddr> = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "expected comma-separated IP addresses, got '{text}'"
                ));
            }
            let addr = parse_ip(part)?;
            // Two listeners on one address would fail to bind at startup; say so now.
            if addrs.contains(&addr) {
                return Err(format!("{addr} is listed twice"));
            }
            addrs.push(addr);
        }
        Ok(addrs)
    }
    fn print(&self, value: &Vec<IpAddr>) -> Option<String> {
        let parts: Vec<String> = value.iter().map(|a| a.to_string()).collect();
        Some(parts.join(","))
    }
}

/// `LO-HI` with `1 <= LO <= HI <= 65535`.
pub struct PortRange;

impl Kind<(u16, u16)> for PortRange {
    fn parse(&self, text: &str) -> Result<(u16, u16), String> {
        let bad = || format!("expected LO-HI with 1 <= LO <= HI <= 65535, got '{text}'");
        let (lo, hi) = text.split_once('-').ok_or_else(bad)?;
        let port = |s: &str| Num(1, u16::MAX.into()).parse(s.trim()).map_err(|_| bad());
        let (lo, hi): (u16, u16) = (port(lo)?, port(hi)?);
        if lo > hi {
            return Err(bad());
        }
        Ok((lo, hi))
    }
    fn print(&self, &(lo, hi): &(u16, u16)) -> Option<String> {
        Some(format!("{lo}-{hi}"))
    }
}

/// An IPv4 address clients can be sent to in a 227 reply.
pub struct PasvAddress;

impl Kind<IpAddr> for PasvAddress {
    fn parse(&self, text: &str) -> Result<IpAddr, String> {
        let addr = parse_ip(text)?;
        // The 227 reply (RFC 959) can only carry an IPv4 address; EPSV (RFC 2428) carries none.
        match addr {
            IpAddr::V4(v4) if !v4.is_unspecified() => Ok(addr),
            IpAddr::V4(_) => Err("0.0.0.0 cannot be advertised to clients".to_string()),
            IpAddr::V6(_) => Err(format!(
                "PASV replies carry only IPv4 addresses, got '{text}'"
            )),
        }
    }
    fn print(&self, value: &IpAddr) -> Option<String> {
        Some(value.to_string())
    }
}

/// An octal mask from `000` to `777`, printed with three digits.
pub struct Umask;

impl Kind<u32> for Umask {
    fn parse(&self, text: &str) -> Result<u32, String> {
        let bad = || format!("expected an octal mask from 000 to 777, got '{text}'");
        if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(bad());
        }
        match u32::from_str_radix(text, 8) {
            Ok(mask) if mask <= 0o777 => Ok(mask),
            _ => Err(bad()),
        }
    }
    fn print(&self, value: &u32) -> Option<String> {
        Some(format!("{value:03o}"))
    }
}

/// Reply text: `\n` is a line break and `\\` one backslash; no control characters.
pub struct Text;

impl Kind<String> for Text {
    fn parse(&self, text: &str) -> Result<String, String> {
        if text.is_empty() {
            return Err("expected text".to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.clone().next() {
                    Some('n') => {
                        chars.next();
                        out.push('\n');
                    }
                    Some('\\') => {
                        chars.next();
                        out.push('\\');
                    }
                    _ => out.push('\\'),
                }
            } else if c.is_control() {
                // SECURITY: a raw CR or other control byte could forge reply lines on the wire.
                return Err(
                    "control characters are not allowed (use \\n for a new line)".to_string(),
                );
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }
    fn print(&self, value: &String) -> Option<String> {
        Some(value.replace('\\', "\\\\").replace('\n', "\\n"))
    }
}

/// An EBCDIC code page for TYPE E: `037` or `1047` (also `ibm037`, `cp1047`, ...).
pub struct Codepage;

impl Kind<crate::codec::ebcdic::CodePage> for Codepage {
    fn parse(&self, text: &str) -> Result<crate::codec::ebcdic::CodePage, String> {
        crate::codec::ebcdic::CodePage::from_name(text)
            .ok_or_else(|| format!("expected 037 or 1047, got '{}'", text.escape_debug()))
    }
    fn print(&self, value: &crate::codec::ebcdic::CodePage) -> Option<String> {
        Some(value.number().to_string())
    }
}

/// A user name as BusyBox `adduser` allows it: letters, digits, `.`, `_`, `-`, not `-` first.
pub struct UserName;

impl Kind<String> for UserName {
    fn parse(&self, text: &str) -> Result<String, String> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && !text.starts_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(text.to_string())
        } else {
            Err(format!(
                "expected a user name, got '{}'",
                text.escape_debug()
            ))
        }
    }
    fn print(&self, value: &String) -> Option<String> {
        Some(value.clone())
    }
}

/// A plain file name (no `/`, not `.` or `..`); empty means disabled, so it is never unset
/// in file syntax and round-trips as the empty value.
pub struct FileName;

impl Kind<Option<String>> for FileName {
    fn parse(&self, text: &str) -> Result<Option<String>, String> {
        if text.is_empty() {
            return Ok(None);
        }
        // SECURITY: the name is joined to client directories; a `/` or `..` would reach elsewhere.
        if text == "." || text == ".." || text.contains('/') || text.chars().any(char::is_control) {
            return Err(format!(
                "expected a file name without '/', got '{}'",
                text.escape_debug()
            ));
        }
        Ok(Some(text.to_string()))
    }
    fn print(&self, value: &Option<String>) -> Option<String> {
        Some(value.clone().unwrap_or_default())
    }
}

/// One of a few names (any case), each standing for a value.
pub struct OneOf<T: 'static>(pub &'static [(&'static str, T)]);

impl<T: Copy + PartialEq> Kind<T> for OneOf<T> {
    fn parse(&self, text: &str) -> Result<T, String> {
        if let Some((_, v)) = self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
            return Ok(*v);
        }
        let names: Vec<&str> = self.0.iter().map(|(n, _)| *n).collect();
        Err(format!("expected {}, got '{text}'", names.join(" | ")))
    }
    fn print(&self, value: &T) -> Option<String> {
        self.0
            .iter()
            .find(|(_, v)| v == value)
            .map(|(n, _)| n.to_string())
    }
}

/// A decimal whole number in `min..=max`; digits only (no sign, no spaces inside).
fn parse_uint(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let bad = || format!("expected a whole number from {min} to {max}, got '{text}'");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    // Accept the bracketed IPv6 form people copy from URLs: [::1].
    let bare = text
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .map_err(|_| format!("expected an IP address, got '{text}'"))
}
