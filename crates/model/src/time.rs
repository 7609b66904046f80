//! Dates and datetimes as plain integers (days and milliseconds since 1970-01-01 UTC),
//! parsed and formatted by hand.
//!
//! Input follows what Marketo clients send (reference §1.5): `YYYY-MM-DD`, or
//! `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by `Z`, `±HH:MM`, `±HHMM`, `±HH` or
//! nothing (read as UTC). A space may replace the `T`. Output is always
//! `YYYY-MM-DDTHH:MM:SSZ`, the one form every Marketo client parses. Years are limited to
//! 0001..=9999 so that output always has four year digits.

use crate::error::{shorten, Error, Result};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
/// The first day accepted, 0001-01-01, in days since 1970-01-01.
pub const DATE_MIN_DAYS: i32 = -719_162;
/// The last day accepted, 9999-12-31, in days since 1970-01-01.
pub const DATE_MAX_DAYS: i32 = 2_932_896;
/// The first instant accepted, 0001-01-01T00:00:00Z, in ms since the epoch.
pub const DATETIME_MIN_MS: i64 = DATE_MIN_DAYS as i64 * DAY_MS;
/// The last instant accepted, 9999-12-31T23:59:59.999Z, in ms since the epoch.
pub const DATETIME_MAX_MS: i64 = (DATE_MAX_DAYS as i64 + 1) * DAY_MS - 1;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`). Valid for any `year` that fits; the caller checks the month and day.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    debug_assert!((1..=12).contains(&month) && (1..=31).contains(&day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

fn invalid(input: &str, reason: &'static str) -> Error {
    Error::InvalidTime {
        input: shorten(input),
        reason,
    }
}

/// Reads exactly `n` ASCII digits at `*pos`.
fn digits(bytes: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let slice = bytes.get(*pos..*pos + n)?;
    let mut v = 0u32;
    for &b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    *pos += n;
    Some(v)
}

fn expect(bytes: &[u8], pos: &mut usize, c: u8) -> bool {
    if bytes.get(*pos) == Some(&c) {
        *pos += 1;
        true
    } else {
        false
    }
}

/// Parses `YYYY-MM-DD` at the start of `bytes`, returning days since the epoch.
fn date_prefix(input: &str, bytes: &[u8], pos: &mut usize) -> Result<i64> {
    let year = digits(bytes, pos, 4).ok_or_else(|| invalid(input, "expected a 4-digit year"))?;
    if !expect(bytes, pos, b'-') {
        return Err(invalid(input, "expected '-' after the year"));
    }
    let month = digits(bytes, pos, 2).ok_or_else(|| invalid(input, "expected a 2-digit month"))?;
    if !expect(bytes, pos, b'-') {
        return Err(invalid(input, "expected '-' after the month"));
    }
    let day = digits(bytes, pos, 2).ok_or_else(|| invalid(input, "expected a 2-digit day"))?;
    if year == 0 {
        return Err(invalid(input, "year 0000 is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err(invalid(input, "month out of range"));
    }
    if day == 0 || day > days_in_month(i64::from(year), month) {
        return Err(invalid(input, "day out of range for the month"));
    }
    Ok(days_from_civil(i64::from(year), month, day))
}

/// Parses a calendar date `YYYY-MM-DD` (years 0001..=9999) into days since 1970-01-01.
///
/// # Errors
///
/// [`Error::InvalidTime`] if the text is not such a date or names a day that does not exist.
pub fn parse_date(input: &str) -> Result<i32> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let days = date_prefix(input, bytes, &mut pos)?;
    if pos != bytes.len() {
        return Err(invalid(input, "unexpected text after the date"));
    }
    i32::try_from(days).map_err(|_| invalid(input, "date out of range"))
}

/// Parses an ISO 8601 datetime (or a bare date, read as midnight UTC) into milliseconds
/// since 1970-01-01T00:00:00Z. See the module documentation for the accepted forms.
/// Fractions of a second beyond milliseconds are truncated.
///
/// # Errors
///
/// [`Error::InvalidTime`] if the text is not such a datetime, or the instant falls outside
/// 0001-01-01T00:00:00Z..=9999-12-31T23:59:59.999Z once converted to UTC.
pub fn parse_datetime(input: &str) -> Result<i64> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let days = date_prefix(input, bytes, &mut pos)?;
    let mut ms_of_day: i64 = 0;
    let mut offset_ms: i64 = 0;
    if pos < bytes.len() {
        if !(expect(bytes, &mut pos, b'T')
            || expect(bytes, &mut pos, b't')
            || expect(bytes, &mut pos, b' '))
        {
            return Err(invalid(input, "expected 'T' between date and time"));
        }
        let hour =
            digits(bytes, &mut pos, 2).ok_or_else(|| invalid(input, "expected a 2-digit hour"))?;
        if !expect(bytes, &mut pos, b':') {
            return Err(invalid(input, "expected ':' after the hour"));
        }
        let minute =
            digits(bytes, &mut pos, 2).ok_or_else(|| invalid(input, "expected 2-digit minutes"))?;
        let mut second = 0;
        let mut millis = 0;
        if expect(bytes, &mut pos, b':') {
            second = digits(bytes, &mut pos, 2)
                .ok_or_else(|| invalid(input, "expected 2-digit seconds"))?;
            if expect(bytes, &mut pos, b'.') || expect(bytes, &mut pos, b',') {
                let start = pos;
                while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                    if pos - start < 3 {
                        millis = millis * 10 + u32::from(bytes[pos] - b'0');
                    }
                    pos += 1;
                }
                let n = pos - start;
                if n == 0 || n > 9 {
                    return Err(invalid(input, "expected 1 to 9 digits of fraction"));
                }
                for _ in n..3 {
                    millis *= 10;
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(invalid(input, "time of day out of range"));
        }
        ms_of_day = ((i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second)) * 1000
            + i64::from(millis);
        match bytes.get(pos) {
            None => {}
            Some(b'Z' | b'z') => pos += 1,
            Some(&sign @ (b'+' | b'-')) => {
                pos += 1;
                let oh = digits(bytes, &mut pos, 2)
                    .ok_or_else(|| invalid(input, "expected a 2-digit offset hour"))?;
                let had_colon = expect(bytes, &mut pos, b':');
                let om = match digits(bytes, &mut pos, 2) {
                    Some(m) => m,
                    None if had_colon => {
                        return Err(invalid(input, "expected 2-digit offset minutes"))
                    }
                    None => 0,
                };
                if oh > 23 || om > 59 {
                    return Err(invalid(input, "offset out of range"));
                }
                let magnitude = (i64::from(oh) * 60 + i64::from(om)) * 60_000;
                offset_ms = if sign == b'+' { magnitude } else { -magnitude };
            }
            Some(_) => return Err(invalid(input, "expected 'Z' or an offset after the time")),
        }
        if pos != bytes.len() {
            return Err(invalid(input, "unexpected text after the datetime"));
        }
    }
    // A local time minus its offset is UTC.
    let ms = days * DAY_MS + ms_of_day - offset_ms;
    if !(DATETIME_MIN_MS..=DATETIME_MAX_MS).contains(&ms) {
        return Err(invalid(
            input,
            "datetime out of range once converted to UTC",
        ));
    }
    Ok(ms)
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`, dropping milliseconds
/// (Marketo's output form). Instants outside years 1..=9999 still format, with more or
/// fewer year digits.
pub fn format_datetime_utc(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let secs_of_day = ms.rem_euclid(DAY_MS) / 1000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let (year, month, day) = civil_from_days(i64::from(days));
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_dt(input: &str, expected: &str) {
        let ms = parse_datetime(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(format_datetime_utc(ms), expected, "{input}");
    }

    #[test]
    fn epoch_and_bounds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1, 1, 1), i64::from(DATE_MIN_DAYS));
        assert_eq!(days_from_civil(9999, 12, 31), i64::from(DATE_MAX_DAYS));
        assert_eq!(format_date(DATE_MIN_DAYS), "0001-01-01");
        assert_eq!(format_date(DATE_MAX_DAYS), "9999-12-31");
        assert_eq!(format_datetime_utc(DATETIME_MAX_MS), "9999-12-31T23:59:59Z");
        assert_eq!(format_datetime_utc(DATETIME_MIN_MS), "0001-01-01T00:00:00Z");
        assert_eq!(format_datetime_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn marketo_forms() {
        check_dt("2023-01-16T23:32:19Z", "2023-01-16T23:32:19Z");
        check_dt("2016-09-26T06:56:35+07:00", "2016-09-25T23:56:35Z");
        check_dt("2016-03-05T09:51:00-08:00", "2016-03-05T17:51:00Z");
        check_dt("2014-09-17T22:31:49+0000", "2014-09-17T22:31:49Z");
        check_dt("2015-10-06T13:22-0700", "2015-10-06T20:22:00Z");
        check_dt("2015-10-06", "2015-10-06T00:00:00Z");
        check_dt("2017-07-01T23:59:59-00:00", "2017-07-01T23:59:59Z");
        check_dt("2017-07-01 23:59:59", "2017-07-01T23:59:59Z");
        check_dt("2017-07-01T23:59:59.999999+01", "2017-07-01T22:59:59Z");
        check_dt("2016-12-31T23:30:00-01:00", "2017-01-01T00:30:00Z");
        assert_eq!(parse_datetime("1970-01-01T00:00:00.5Z").unwrap(), 500);
        assert_eq!(parse_datetime("1970-01-01T00:00:00.123456Z").unwrap(), 123);
    }

    #[test]
    fn leap_days() {
        assert!(parse_date("2024-02-29").is_ok());
        assert!(parse_date("2000-02-29").is_ok());
        assert!(parse_date("1900-02-29").is_err());
        assert!(parse_date("2023-02-29").is_err());
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "2015-04-0113",
            "2015-4-01",
            "15-04-01",
            "0000-01-01",
            "2015-13-01",
            "2015-04-31",
            "2015-04-01T24:00:00Z",
            "2015-04-01T23:60:00Z",
            "2015-04-01T23:59:60Z",
            "2015-04-01T23Z",
            "2015-04-01T23:59:59+24:00",
            "2015-04-01T23:59:59+05:",
            "2015-04-01T23:59:59.Z",
            "2015-04-01T23:59:59Zjunk",
            "2015-04-01X23:59:59",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "２０１５-04-01",
        ] {
            let err = parse_datetime(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidTime { .. }), "{bad}: {err}");
        }
        assert!(parse_date("2015-04-01T00:00:00Z").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn days_round_trip(days in DATE_MIN_DAYS..=DATE_MAX_DAYS) {
            let text = format_date(days);
            prop_assert_eq!(parse_date(&text).unwrap(), days);
            let (y, m, d) = civil_from_days(i64::from(days));
            prop_assert_eq!(days_from_civil(y, m, d), i64::from(days));
        }

        #[test]
        fn datetime_round_trip(ms in DATETIME_MIN_MS..=DATETIME_MAX_MS) {
            let text = format_datetime_utc(ms);
            prop_assert_eq!(text.len(), 20);
            prop_assert_eq!(parse_datetime(&text).unwrap(), ms - ms.rem_euclid(1000));
        }

        #[test]
        fn offsets_shift_the_instant(ms in 0i64..4_000_000_000_000, offset_min in -1439i64..=1439) {
            let secs = ms - ms.rem_euclid(1000);
            let local = format_datetime_utc(secs + offset_min * 60_000);
            let sign = if offset_min < 0 { '-' } else { '+' };
            let abs = offset_min.abs();
            let text = format!("{}{}{:02}:{:02}", &local[..19], sign, abs / 60, abs % 60);
            prop_assert_eq!(parse_datetime(&text).unwrap(), secs);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_datetime(&s);
            let _ = parse_date(&s);
        }

        #[test]
        fn format_never_panics(ms in any::<i64>()) {
            let _ = format_datetime_utc(ms);
        }
    }
}
