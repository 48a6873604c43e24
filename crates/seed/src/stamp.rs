//! Timestamps as the app spells them, formatted without chrono's format-string parser
//! because the seed writes several per row.

use std::fmt;

pub(crate) const SECOND: i64 = 1_000_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Microseconds since the Unix epoch (UTC) as SQLAlchemy stores a `DateTime` in SQLite:
/// `YYYY-MM-DD HH:MM:SS.ffffff`, always six fraction digits, no zone.
#[derive(Clone, Copy)]
pub(crate) struct Sql(pub i64);

/// Microseconds since the Unix epoch as Python's `datetime.isoformat()` writes them
/// (what the app puts in transcript JSON): a `T`, and no fraction when it is zero.
#[derive(Clone, Copy)]
pub(crate) struct Iso(pub i64);

/// Days since the Unix epoch as `YYYY-MM-DD` (Python's `date.isoformat()`).
#[derive(Clone, Copy)]
pub(crate) struct Date(pub i64);

/// Writes `v` as `out.len()` zero-padded decimal digits.
fn digits(out: &mut [u8], mut v: i64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// `YYYY-MM-DD`, then optionally ` HH:MM:SS` / `THH:MM:SS` and `.ffffff`; digits by
/// hand because `write!` with padding costs more than the database insert of a row.
fn write(f: &mut fmt::Formatter<'_>, us: i64, time: Option<(u8, bool)>) -> fmt::Result {
    let mut out = *b"0000-00-00 00:00:00.000000";
    let (days, within) = (us.div_euclid(DAY), us.rem_euclid(DAY));
    let (y, m, d) = civil(days);
    digits(&mut out[0..4], y);
    digits(&mut out[5..7], m);
    digits(&mut out[8..10], d);
    let len = match time {
        None => 10,
        Some((sep, always_fraction)) => {
            let secs = within / SECOND;
            out[10] = sep;
            digits(&mut out[11..13], secs / 3600);
            digits(&mut out[14..16], secs / 60 % 60);
            digits(&mut out[17..19], secs % 60);
            digits(&mut out[20..26], within % SECOND);
            if always_fraction || within % SECOND != 0 {
                26
            } else {
                19
            }
        }
    };
    f.write_str(std::str::from_utf8(&out[..len]).map_err(|_| fmt::Error)?)
}

impl fmt::Display for Sql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write(f, self.0, Some((b' ', true)))
    }
}

impl fmt::Display for Iso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write(f, self.0, Some((b'T', false)))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write(f, self.0 * DAY, None)
    }
}

impl serde::Serialize for Iso {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};

    #[test]
    fn agrees_with_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for days in (-317_000..2_600_000).step_by(997) {
            let want = epoch + chrono::TimeDelta::days(days);
            assert_eq!(Date(days).to_string(), want.to_string());
        }
        let us = 1_756_122_599_721_052;
        let dt = DateTime::from_timestamp_micros(us).unwrap().naive_utc();
        assert_eq!(
            Sql(us).to_string(),
            dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        );
        assert_eq!(Sql(us).to_string(), "2025-08-25 11:49:59.721052");
        assert_eq!(Iso(us).to_string(), "2025-08-25T11:49:59.721052");
        assert_eq!(Iso(us - 721_052).to_string(), "2025-08-25T11:49:59");
        assert_eq!(Sql(us - 721_052).to_string(), "2025-08-25 11:49:59.000000");
    }
}
