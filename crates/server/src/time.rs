//! ISO 8601 datetimes as Marketo clients send and expect them, to and from Unix milliseconds.
//!
//! Input accepts any of the forms real clients send (date only, minutes only, fractions,
//! `Z`, `+hh:mm`, `+hhmm`, `+hh`); output is always `YYYY-MM-DDTHH:MM:SSZ`, because
//! marketorestpython parses `activityDate` with exactly that `strptime` pattern.

use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// A cursor over ASCII bytes that reads fixed-width numbers.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn digits(&mut self, width: usize) -> Option<i64> {
        let end = self.pos.checked_add(width)?;
        let slice = self.bytes.get(self.pos..end)?;
        let mut v: i64 = 0;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        self.pos = end;
        Some(v)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Parses an ISO 8601 date or datetime into Unix milliseconds (UTC when no offset is given).
///
/// Returns `None` for anything malformed or out of range; never panics.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let mut r = Reader {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = r.digits(4)?;
    if !r.eat(b'-') {
        return None;
    }
    let month = r.digits(2)?;
    if !r.eat(b'-') {
        return None;
    }
    let day = r.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * MS_PER_DAY;
    if r.done() {
        return Some(ms);
    }
    if !(r.eat(b'T') || r.eat(b't') || r.eat(b' ')) {
        return None;
    }
    let hour = r.digits(2)?;
    if !r.eat(b':') {
        return None;
    }
    let minute = r.digits(2)?;
    let mut second = 0;
    if r.eat(b':') {
        second = r.digits(2)?;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    ms += ((hour * 60 + minute) * 60 + second.min(59)) * 1000;
    if r.eat(b'.') || r.eat(b',') {
        let mut scale = 100;
        let mut any = false;
        while let Some(b) = r.peek().filter(u8::is_ascii_digit) {
            ms += i64::from(b - b'0') * scale;
            scale /= 10;
            r.pos += 1;
            any = true;
        }
        if !any {
            return None;
        }
    }
    if r.done() || r.eat(b'Z') || r.eat(b'z') {
        return r.done().then_some(ms);
    }
    let sign = if r.eat(b'+') {
        1
    } else if r.eat(b'-') {
        -1
    } else {
        return None;
    };
    let off_hour = r.digits(2)?;
    let mut off_minute = 0;
    if !r.done() {
        r.eat(b':');
        off_minute = r.digits(2)?;
    }
    if !r.done() || off_hour > 23 || off_minute > 59 {
        return None;
    }
    Some(ms - sign * (off_hour * 60 + off_minute) * 60_000)
}

fn split_ms(ms: i64) -> ((i64, i64, i64), i64, i64, i64, i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let secs = rem / 1000;
    (
        civil_from_days(days),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        rem % 1000,
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the form every datetime is emitted in.
pub(crate) fn format_utc(ms: i64) -> String {
    let ((y, mo, d), h, mi, s, _) = split_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+0000`, the datetime form inside paging tokens (keeps milliseconds).
pub(crate) fn format_token(ms: i64) -> String {
    let ((y, mo, d), h, mi, s, frac) = split_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}+0000")
}

/// `YYYY-MM-DD` of the UTC day.
pub(crate) fn format_date(ms: i64) -> String {
    let ((y, mo, d), ..) = split_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clients_send() {
        let base = parse_datetime("2016-09-15T10:53:00Z");
        assert_eq!(base, Some(1_473_936_780_000));
        assert_eq!(parse_datetime("2016-09-15T15:53:00+05:00"), base);
        assert_eq!(parse_datetime("2016-09-15T15:53:00+0500"), base);
        assert_eq!(parse_datetime("2016-09-15T15:53+0500"), base);
        assert_eq!(parse_datetime("2016-09-15T03:53:00-07"), base);
        assert_eq!(
            parse_datetime("2016-09-15T10:53:00.250Z"),
            base.map(|v| v + 250)
        );
        assert_eq!(parse_datetime("2016-09-15T10:53:00"), base);
        assert_eq!(parse_datetime("2015-10-06"), Some(1_444_089_600_000));
        assert_eq!(
            parse_datetime("2017-07-01T23:59:59-00:00"),
            Some(1_498_953_599_000)
        );
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2015-04-0113",
            "2015-13-01",
            "2015-02-29",
            "2015-02-28T24:00:00Z",
            "x",
            "2015-02-28T10:00:00+",
            "2015-02-28T10:00:00Zjunk",
            "2015-02-28T10:00:00.",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert!(parse_datetime("2016-02-29").is_some());
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 1_473_936_780_000, -86_400_001, 253_402_300_799_000] {
            assert_eq!(parse_datetime(&format_token(ms)), Some(ms));
            assert_eq!(
                parse_datetime(&format_utc(ms)),
                Some(ms - ms.rem_euclid(1000))
            );
        }
        assert_eq!(format_utc(1_473_936_780_000), "2016-09-15T10:53:00Z");
        assert_eq!(format_date(1_473_936_780_000), "2016-09-15");
    }
}
