//! Datetime cells: SQLAlchemy's text and the other spellings a long-lived file holds.
//!
//! Accepted, all read as UTC unless they carry a zone:
//! - `YYYY-MM-DD HH:MM:SS.ffffff` — what SQLAlchemy writes (not counted as converted);
//! - the same with a `T` separator, 0–9 fraction digits (finer than a microsecond
//!   only when the extra digits are zeros), no seconds (`HH:MM`), or date only;
//! - any of those followed by `Z` or an offset `±HH`, `±HHMM`, `±HH:MM`;
//! - an INTEGER or REAL cell: unix epoch seconds (REAL rounded to the microsecond).
//!
//! Years must be 0001–9999. Leap seconds, sub-microsecond precision, surrounding
//! spaces and anything else are errors naming the reason.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use crate::{excerpt, Cell, CellError, Converted, Value};

/// 0001-01-01T00:00:00Z in microseconds since the unix epoch.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z in microseconds since the unix epoch.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// Converts a cell of a `Timestamp` column (never NULL or `''`: the caller handles those).
pub(crate) fn convert(cell: Cell<'_>) -> Result<Converted<'static>, CellError> {
    let err = |reason: &str| CellError::Datetime {
        reason: reason.to_string(),
        excerpt: match cell {
            Cell::Text(t) => excerpt(t),
            Cell::Integer(i) => i.to_string(),
            Cell::Real(r) => format!("{r:?}"),
            _ => String::new(),
        },
    };
    let (micros, changed) = match cell {
        Cell::Text(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| err("not UTF-8 text"))?;
            parse(text).map_err(|reason| err(&reason))?
        }
        Cell::Integer(secs) => (
            secs.checked_mul(1_000_000)
                .ok_or_else(|| err("epoch seconds out of range"))?,
            true,
        ),
        Cell::Real(secs) if secs.is_finite() => {
            let micros = (secs * 1e6).round();
            if micros.abs() > 9.2e18 {
                return Err(err("epoch seconds out of range"));
            }
            (micros as i64, true)
        }
        _ => return Err(err("not a datetime")),
    };
    if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
        return Err(err("outside years 0001–9999"));
    }
    Ok(Converted {
        value: Value::Timestamp(micros),
        changed,
    })
}

/// Parses a datetime spelling into microseconds since the unix epoch (UTC), and whether
/// the spelling differs from SQLAlchemy's.
pub fn parse(text: &str) -> Result<(i64, bool), String> {
    if let Some(micros) = parse_sqlalchemy(text.as_bytes()) {
        return Ok((micros, false));
    }
    parse_other(text).map(|m| (m, true))
}

/// The hot path: exactly `YYYY-MM-DD HH:MM:SS.ffffff`, read by position. Hand-written
/// because it runs for most cells of a migration and chrono's format-string parser is
/// several times slower; anything unusual falls through to [`parse_other`].
fn parse_sqlalchemy(b: &[u8]) -> Option<i64> {
    if b.len() != 26
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time =
        NaiveTime::from_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?)?;
    Some(date.and_time(time).and_utc().timestamp_micros())
}

fn parse_other(text: &str) -> Result<i64, String> {
    if text.trim() != text {
        return Err("surrounding white space".into());
    }
    let (naive, offset_secs) = split_zone(text)?;
    let b = naive.as_bytes();
    let date_ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !date_ok {
        return Err("not a YYYY-MM-DD date".into());
    }
    let date = NaiveDate::parse_from_str(&naive[..10], "%Y-%m-%d")
        .map_err(|e| format!("bad date ({e})"))?;
    let time = match b.get(10) {
        None => NaiveTime::MIN,
        Some(b' ' | b'T') => parse_time(&naive[11..])?,
        Some(_) => return Err("expected a space or T after the date".into()),
    };
    let local = NaiveDateTime::new(date, time);
    Ok(local.and_utc().timestamp_micros() - i64::from(offset_secs) * 1_000_000)
}

fn parse_time(t: &str) -> Result<NaiveTime, String> {
    let fmt = match t.len() {
        5 => "%H:%M",
        _ => "%H:%M:%S%.f",
    };
    let time = NaiveTime::parse_from_str(t, fmt).map_err(|e| format!("bad time ({e})"))?;
    let nanos = chrono::Timelike::nanosecond(&time);
    if nanos >= 1_000_000_000 {
        return Err("leap second".into());
    }
    if nanos % 1000 != 0 {
        return Err("finer than a microsecond".into());
    }
    Ok(time)
}

/// Splits a trailing `Z` or `±HH[[:]MM]` zone off, returning the offset in seconds.
fn split_zone(text: &str) -> Result<(&str, i32), String> {
    if let Some(naive) = text.strip_suffix(['Z', 'z']) {
        return Ok((naive, 0));
    }
    // A zone can only follow a time, which starts after the 10-character date.
    let Some(pos) = text
        .get(11..)
        .and_then(|t| t.rfind(['+', '-']))
        .map(|p| p + 11)
    else {
        return Ok((text, 0));
    };
    let (naive, zone) = text.split_at(pos);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let rest = &zone.as_bytes()[1..];
    let (h, m): (&[u8], &[u8]) = match rest.len() {
        2 => (rest, b"00"),
        4 => rest.split_at(2),
        5 if rest[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return Err(format!("bad zone offset {zone:?}")),
    };
    let two = |d: &[u8]| {
        d.iter().try_fold(0i32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0'))
        })
    };
    let (Some(hours), Some(minutes)) = (two(h), two(m)) else {
        return Err(format!("bad zone offset {zone:?}"));
    };
    if hours > 15 || minutes > 59 {
        return Err(format!("zone offset {zone:?} out of range"));
    }
    Ok((naive, sign * (hours * 3600 + minutes * 60)))
}

/// ISO-8601 UTC with six fraction digits and `Z`, e.g. `2025-08-25T11:49:59.721052Z`.
pub fn format_micros(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{micros} µs since 1970"),
    }
}

/// SQLAlchemy's own spelling, `2025-08-25 11:49:59.721052` (UTC, no zone).
pub fn format_sqlalchemy(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        None => format!("{micros}"),
    }
}
