//! Calendar dates, UTC instants and durations as the query language writes them.
//!
//! The language needs only the proleptic Gregorian calendar in UTC, so it carries its
//! own few lines of civil-date arithmetic (Howard Hinnant's algorithms) rather than a
//! date-time dependency.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

const MS_PER_DAY: i64 = 86_400_000;
/// Years are written with exactly four digits.
const YEAR_MIN: i64 = 0;
const YEAR_MAX: i64 = 9999;

/// A calendar date in UTC, written `2026-01-01`; as an instant it means midnight UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days_since_epoch: i32,
}

impl Date {
    /// The date with the given year (0..=9999), month (1..=12) and day, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        let year = i64::from(year);
        if !(YEAR_MIN..=YEAR_MAX).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        // A day past the end of its month lands in the next month: reject it.
        if civil_from_days(days) != (year, month, day) {
            return None;
        }
        Some(Date {
            days_since_epoch: i32::try_from(days).ok()?,
        })
    }

    /// The date `days_since_epoch` days after 1970-01-01, if its year has four digits.
    pub fn from_days_since_epoch(days_since_epoch: i32) -> Option<Date> {
        let (year, _, _) = civil_from_days(i64::from(days_since_epoch));
        (YEAR_MIN..=YEAR_MAX)
            .contains(&year)
            .then_some(Date { days_since_epoch })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.days_since_epoch
    }

    /// Midnight UTC of this date, in milliseconds since the Unix epoch.
    pub fn midnight_ms(self) -> i64 {
        i64::from(self.days_since_epoch) * MS_PER_DAY
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.days_since_epoch));
        // The constructors keep the year within 0..=9999, so it fits.
        (y as i32, m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        parse_date(s).ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD)"))
    }
}

/// An instant in UTC with millisecond precision, written `2026-02-01T12:00:00Z` or
/// `2026-02-01T12:00:00.250Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    epoch_ms: i64,
}

impl DateTime {
    /// The instant `epoch_ms` milliseconds after the Unix epoch, if its year has four
    /// digits.
    pub fn from_epoch_ms(epoch_ms: i64) -> Option<DateTime> {
        let days = epoch_ms.div_euclid(MS_PER_DAY);
        let days = i32::try_from(days).ok()?;
        Date::from_days_since_epoch(days)?;
        Some(DateTime { epoch_ms })
    }

    /// Milliseconds since the Unix epoch.
    pub fn epoch_ms(self) -> i64 {
        self.epoch_ms
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.epoch_ms.div_euclid(MS_PER_DAY);
        let ms_of_day = self.epoch_ms.rem_euclid(MS_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        let (h, mi, s, ms) = (
            ms_of_day / 3_600_000,
            ms_of_day / 60_000 % 60,
            ms_of_day / 1000 % 60,
            ms_of_day % 1000,
        );
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for DateTime {
    type Err = String;

    fn from_str(s: &str) -> Result<DateTime, String> {
        parse_datetime(s)
            .ok_or_else(|| format!("`{s}` is not a UTC datetime (YYYY-MM-DDTHH:MM:SS[.fff]Z)"))
    }
}

/// A point in time as a query writes it: a date (midnight UTC) or a datetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Time {
    /// `2026-01-01`, midnight UTC.
    Date(Date),
    /// `2026-02-01T12:00:00Z`.
    DateTime(DateTime),
}

impl Time {
    /// Milliseconds since the Unix epoch.
    pub fn epoch_ms(self) -> i64 {
        match self {
            Time::Date(d) => d.midnight_ms(),
            Time::DateTime(t) => t.epoch_ms(),
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Time::Date(d) => d.fmt(f),
            Time::DateTime(t) => t.fmt(f),
        }
    }
}

impl FromStr for Time {
    type Err = String;

    fn from_str(s: &str) -> Result<Time, String> {
        if s.contains('T') {
            s.parse().map(Time::DateTime)
        } else {
            s.parse().map(Time::Date)
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The unit of a [`Duration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// `w`, 7 days.
    Weeks,
    /// `d`, 24 hours.
    Days,
    /// `h`.
    Hours,
    /// `m`.
    Minutes,
    /// `s`.
    Seconds,
}

impl DurationUnit {
    /// The unit's suffix letter.
    pub fn suffix(self) -> char {
        match self {
            DurationUnit::Weeks => 'w',
            DurationUnit::Days => 'd',
            DurationUnit::Hours => 'h',
            DurationUnit::Minutes => 'm',
            DurationUnit::Seconds => 's',
        }
    }

    /// The unit for a suffix letter.
    pub fn from_suffix(c: char) -> Option<DurationUnit> {
        Some(match c {
            'w' => DurationUnit::Weeks,
            'd' => DurationUnit::Days,
            'h' => DurationUnit::Hours,
            'm' => DurationUnit::Minutes,
            's' => DurationUnit::Seconds,
            _ => return None,
        })
    }

    /// Milliseconds in one unit.
    pub fn ms(self) -> u64 {
        match self {
            DurationUnit::Weeks => 7 * 86_400_000,
            DurationUnit::Days => 86_400_000,
            DurationUnit::Hours => 3_600_000,
            DurationUnit::Minutes => 60_000,
            DurationUnit::Seconds => 1000,
        }
    }
}

/// A length of time written as a count and a unit: `30d`, `12h`, `15m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Duration {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: DurationUnit,
}

impl Duration {
    /// The length in milliseconds (a `u32` count of weeks still fits in `u64`).
    pub fn ms(self) -> u64 {
        u64::from(self.amount) * self.unit.ms()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Duration, String> {
        let bad = || format!("`{s}` is not a duration (a count and one of w, d, h, m, s)");
        let unit_char = s.chars().last().ok_or_else(bad)?;
        let unit = DurationUnit::from_suffix(unit_char).ok_or_else(bad)?;
        let digits = &s[..s.len() - unit_char.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let amount = digits.parse().map_err(|_| bad())?;
        Ok(Duration { amount, unit })
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.split('-');
    let y = digits(parts.next()?, 4)?;
    let m = digits(parts.next()?, 2)?;
    let d = digits(parts.next()?, 2)?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_ymd(i32::try_from(y).ok()?, m, d)
}

fn parse_datetime(s: &str) -> Option<DateTime> {
    let (date, rest) = s.split_once('T')?;
    let date = parse_date(date)?;
    let rest = rest.strip_suffix('Z')?;
    let (hms, frac) = match rest.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (rest, None),
    };
    let mut parts = hms.split(':');
    let h = i64::from(digits(parts.next()?, 2)?);
    let mi = i64::from(digits(parts.next()?, 2)?);
    let sec = i64::from(digits(parts.next()?, 2)?);
    if parts.next().is_some() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(frac) => {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Precision below a millisecond is dropped, as the log stores milliseconds.
            let mut ms: i64 = 0;
            for (i, b) in frac
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(3)
                .enumerate()
            {
                debug_assert!(i < 3);
                ms = ms * 10 + i64::from(b - b'0');
            }
            ms
        }
    };
    DateTime::from_epoch_ms(date.midnight_ms() + ((h * 60 + mi) * 60 + sec) * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are small and positive by construction.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!("1970-01-01".parse::<Date>().unwrap().days_since_epoch(), 0);
        assert_eq!(
            "2026-01-01".parse::<Date>().unwrap().midnight_ms(),
            1_767_225_600_000
        );
        assert_eq!(
            "2026-02-01T12:00:00Z"
                .parse::<DateTime>()
                .unwrap()
                .epoch_ms(),
            1_769_947_200_000
        );
        assert_eq!(
            "2026-02-01T12:00:00.25Z"
                .parse::<DateTime>()
                .unwrap()
                .epoch_ms(),
            1_769_947_200_250
        );
        assert!("2026-02-29".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        assert!("2026-13-01".parse::<Date>().is_err());
        assert!("2026-01-01T24:00:00Z".parse::<DateTime>().is_err());
        assert!("2026-01-01T12:00:00".parse::<DateTime>().is_err());
        assert_eq!("30d".parse::<Duration>().unwrap().ms(), 30 * 86_400_000);
        assert!("30x".parse::<Duration>().is_err());
        assert!("d".parse::<Duration>().is_err());
    }

    proptest! {
        #[test]
        fn date_roundtrip(days in -719_528i32..2_932_896) {
            let d = Date::from_days_since_epoch(days).unwrap();
            prop_assert_eq!(d.to_string().parse::<Date>().unwrap(), d);
        }

        #[test]
        fn datetime_roundtrip(ms in -62_167_219_200_000i64..253_402_300_799_999) {
            let t = DateTime::from_epoch_ms(ms).unwrap();
            prop_assert_eq!(t.to_string().parse::<DateTime>().unwrap(), t);
        }
    }
}
