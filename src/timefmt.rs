//! UTC calendar maths for listings and RFC 3659 time-vals, without libc's `localtime` or crates.
//!
//! All times are UTC in the proleptic Gregorian calendar (RFC 3659 §2.3). The day-count
//! conversions are the usual era-of-400-years arithmetic, so they hold for negative times and for
//! the whole `i64` range without loops.

/// Seconds in one day.
const DAY: i64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01 in the shifted (March-first) calendar used below.
const EPOCH_SHIFT: i64 = 719_468;

/// Days in one 400-year era.
const ERA_DAYS: i64 = 146_097;

/// 1000-01-01T00:00:00Z, the earliest instant a time-val can express (RFC 3659 §2.3).
const TIME_VAL_MIN: i64 = -30_610_224_000;

/// 9999-12-31T23:59:59Z, the latest instant a time-val can express (RFC 3659 §2.3).
const TIME_VAL_MAX: i64 = 253_402_300_799;

/// Convert a value already known to be small and non-negative; never truncates silently.
fn small(x: i64) -> u32 {
    u32::try_from(x).unwrap_or(0)
}

/// Split seconds since the Unix epoch into `(year, month 1-12, day 1-31, hour, minute, second)`, UTC.
pub fn civil_from_unix(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(DAY);
    let tod = secs.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    (
        year,
        month,
        day,
        small(tod / 3600),
        small(tod % 3600 / 60),
        small(tod % 60),
    )
}

/// Year, month and day of a day number counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // |days| <= i64::MAX / 86400, so the shift cannot overflow.
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z - era * ERA_DAYS; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-first year, 0..=365
    let mp = (5 * doy + 2) / 153; // month counted from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, small(month), small(day))
}

/// Whether `year` is a Gregorian leap year.
fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Number of days in `month` (1-12) of `year`; 0 for an invalid month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Seconds since the Unix epoch for a UTC civil time; `None` if a field is out of range or the
/// result does not fit in `i64`. Second 60 (a leap second) counts as second 0 of the next minute.
pub fn unix_from_civil(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    // i128 keeps the arithmetic exact for any i64 year; the range check happens at the end.
    let y = i128::from(year) - i128::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i128::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i128::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * i128::from(ERA_DAYS) + doe - i128::from(EPOCH_SHIFT);
    let secs =
        days * i128::from(DAY) + i128::from(hour) * 3600 + i128::from(min) * 60 + i128::from(sec);
    i64::try_from(secs).ok()
}

/// `YYYYMMDDHHMMSS`, or `YYYYMMDDHHMMSS.sss` with `fraction` (RFC 3659 §2.3 time-val, UTC).
///
/// Times outside 1000..=9999 are clamped to the nearest expressible instant so the reply always
/// parses. The caller decides whether the milliseconds are real (RFC 3659 §2.3: no invented
/// precision).
pub fn format_mdtm(secs: i64, nsec: u32, fraction: bool) -> String {
    let clamped = secs.clamp(TIME_VAL_MIN, TIME_VAL_MAX);
    let (y, mo, d, h, mi, s) = civil_from_unix(clamped);
    let mut out = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
    if fraction {
        let millis = nsec.min(999_999_999) / 1_000_000;
        out.push_str(&format!(".{millis:03}"));
    }
    out
}

/// Parse a short fixed-width ASCII decimal field; `None` on any non-digit.
fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            Some(acc * 10 + u32::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Parse a time-val `YYYYMMDDHHMMSS[.F+]` (UTC, RFC 3659 §2.3) into seconds and nanoseconds.
///
/// Every field is range-checked (year 1000-9999, second up to 60). Fraction digits beyond
/// nanoseconds are ignored. Used by MFMT and the two-argument MDTM.
pub fn parse_time_val(s: &[u8]) -> Option<(i64, u32)> {
    if s.len() < 14 {
        return None;
    }
    let (main, rest) = s.split_at(14);
    let year = digits(&main[0..4])?;
    if year < 1000 {
        return None;
    }
    let secs = unix_from_civil(
        i64::from(year),
        digits(&main[4..6])?,
        digits(&main[6..8])?,
        digits(&main[8..10])?,
        digits(&main[10..12])?,
        digits(&main[12..14])?,
    )?;
    let nsec = match rest {
        [] => 0,
        // The "." must be followed by at least one digit (RFC 3659 §2.3).
        [b'.', frac @ ..] if !frac.is_empty() => {
            if !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let mut nsec = 0u32;
            for i in 0..9 {
                let d = frac.get(i).map_or(0, |b| u32::from(b - b'0'));
                nsec = nsec * 10 + d;
            }
            nsec
        }
        _ => return None,
    };
    Some((secs, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_neighbours() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(civil_from_unix(86_399), (1970, 1, 1, 23, 59, 59));
        assert_eq!(civil_from_unix(-86_400), (1969, 12, 31, 0, 0, 0));
    }

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil_from_unix(951_868_800), (2000, 3, 1, 0, 0, 0));
        // 2^31 - 1: the 32-bit time_t rollover.
        assert_eq!(civil_from_unix(2_147_483_647), (2038, 1, 19, 3, 14, 7));
        assert_eq!(civil_from_unix(2_147_483_648), (2038, 1, 19, 3, 14, 8));
        assert_eq!(civil_from_unix(4_107_456_000), (2100, 2, 28, 0, 0, 0));
        assert_eq!(civil_from_unix(4_107_542_400), (2100, 3, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(TIME_VAL_MIN), (1000, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(TIME_VAL_MAX), (9999, 12, 31, 23, 59, 59));
        assert_eq!(civil_from_unix(-62_135_596_800), (1, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(-62_167_219_200), (0, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(-62_167_219_201), (-1, 12, 31, 23, 59, 59));
    }

    #[test]
    fn extremes_do_not_panic() {
        assert_eq!(
            civil_from_unix(i64::MAX),
            (292_277_026_596, 12, 4, 15, 30, 7)
        );
        assert_eq!(
            civil_from_unix(i64::MIN),
            (-292_277_022_657, 1, 27, 8, 29, 52)
        );
        let (y, mo, d, h, mi, s) = civil_from_unix(i64::MAX);
        assert_eq!(unix_from_civil(y, mo, d, h, mi, s), Some(i64::MAX));
        let (y, mo, d, h, mi, s) = civil_from_unix(i64::MIN);
        assert_eq!(unix_from_civil(y, mo, d, h, mi, s), Some(i64::MIN));
        assert_eq!(unix_from_civil(i64::MAX, 1, 1, 0, 0, 0), None);
        assert_eq!(unix_from_civil(i64::MIN, 1, 1, 0, 0, 0), None);
    }

    #[test]
    fn matches_naive_year_walk() {
        // Jan 1 of every year from 1600 to 2400, counted one year at a time.
        let mut days: i64 = 0;
        for year in 1970..2400 {
            assert_eq!(civil_from_unix(days * DAY), (year, 1, 1, 0, 0, 0));
            assert_eq!(unix_from_civil(year, 1, 1, 0, 0, 0), Some(days * DAY));
            days += if is_leap(year) { 366 } else { 365 };
        }
        let mut days: i64 = 0;
        for year in (1600..1970).rev() {
            days -= if is_leap(year) { 366 } else { 365 };
            assert_eq!(civil_from_unix(days * DAY), (year, 1, 1, 0, 0, 0));
            assert_eq!(unix_from_civil(year, 1, 1, 0, 0, 0), Some(days * DAY));
        }
    }

    #[test]
    fn round_trip_wide_range() {
        let mut s: i64 = -400_000_000_000;
        while s < 400_000_000_000 {
            let (y, mo, d, h, mi, se) = civil_from_unix(s);
            assert!((1..=12).contains(&mo) && d >= 1 && d <= days_in_month(y, mo));
            assert_eq!(unix_from_civil(y, mo, d, h, mi, se), Some(s), "at {s}");
            s += 999_983_117; // a prime step, so every time of day and month gets visited
        }
    }

    #[test]
    fn civil_validation() {
        assert_eq!(unix_from_civil(2023, 2, 29, 0, 0, 0), None);
        assert!(unix_from_civil(2024, 2, 29, 0, 0, 0).is_some());
        assert_eq!(unix_from_civil(1900, 2, 29, 0, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 13, 1, 0, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 0, 1, 0, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 4, 31, 0, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 4, 0, 0, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 4, 1, 24, 0, 0), None);
        assert_eq!(unix_from_civil(2024, 4, 1, 0, 60, 0), None);
        assert_eq!(unix_from_civil(2024, 4, 1, 0, 0, 61), None);
        // A leap second folds into the next minute.
        assert_eq!(
            unix_from_civil(2016, 12, 31, 23, 59, 60),
            unix_from_civil(2017, 1, 1, 0, 0, 0)
        );
    }

    #[test]
    fn mdtm_format() {
        assert_eq!(format_mdtm(0, 0, false), "19700101000000");
        assert_eq!(format_mdtm(1_700_000_000, 0, false), "20231114221320");
        assert_eq!(
            format_mdtm(1_700_000_000, 123_456_789, true),
            "20231114221320.123"
        );
        assert_eq!(
            format_mdtm(1_700_000_000, 999_999_999, true),
            "20231114221320.999"
        );
        assert_eq!(
            format_mdtm(1_700_000_000, 5_000_000, true),
            "20231114221320.005"
        );
        assert_eq!(format_mdtm(-1, 0, false), "19691231235959");
        // Beyond 32-bit time_t.
        assert_eq!(format_mdtm(4_102_444_800, 0, false), "21000101000000");
        // Clamped to what a time-val can express.
        assert_eq!(format_mdtm(i64::MIN, 0, false), "10000101000000");
        assert_eq!(format_mdtm(i64::MAX, 0, false), "99991231235959");
    }

    #[test]
    fn time_val_parse() {
        assert_eq!(parse_time_val(b"19700101000000"), Some((0, 0)));
        assert_eq!(parse_time_val(b"20231114221320"), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_time_val(b"20231114221320.5"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_time_val(b"20231114221320.123"),
            Some((1_700_000_000, 123_000_000))
        );
        assert_eq!(
            parse_time_val(b"20231114221320.1234567891234"),
            Some((1_700_000_000, 123_456_789))
        );
        assert_eq!(parse_time_val(b"19691231235959"), Some((-1, 0)));
        assert_eq!(parse_time_val(b"10000101000000"), Some((TIME_VAL_MIN, 0)));
        assert_eq!(parse_time_val(b"99991231235959"), Some((TIME_VAL_MAX, 0)));
    }

    #[test]
    fn time_val_rejects() {
        for bad in [
            &b""[..],
            b"2023111422132",
            b"20231114221320.",
            b"20231114221320.x",
            b"20231114221320.12a",
            b"20231114221320 ",
            b"2023111422132a",
            b"+0231114221320",
            b"09991231235959",
            b"00000101000000",
            b"20231314221320",
            b"20230014221320",
            b"20230230221320",
            b"20231100221320",
            b"20231114241320",
            b"20231114226020",
            b"20231114221361",
            b"202311142213200",
            b"20231114221320,5",
        ] {
            assert_eq!(
                parse_time_val(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn time_val_round_trip() {
        let mut s = TIME_VAL_MIN;
        while s <= TIME_VAL_MAX {
            let text = format_mdtm(s, 0, false);
            assert_eq!(parse_time_val(text.as_bytes()), Some((s, 0)), "{text}");
            let text = format_mdtm(s, 987_000_000, true);
            assert_eq!(parse_time_val(text.as_bytes()), Some((s, 987_000_000)));
            s += 7_777_777; // about 90 days, not a divisor of a day
        }
    }
}
