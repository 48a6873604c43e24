//! Rows into JSON, by the catalog's description of the columns: the same values give
//! the same bytes whichever store they came from.
//!
//! - integers and floats as JSON numbers (a float that is not finite as `null`);
//! - timestamps as ISO 8601 UTC with six fraction digits and `Z`
//!   (`2025-08-25T11:49:59.721052Z`) — the original sent naive datetimes, which browsers
//!   read as local time;
//! - JSON columns (`call_events.data`) as the JSON they hold, objects with their keys
//!   sorted (Postgres' `jsonb` does not keep the order the app wrote).

use ava_catalog::{Kind, Table};
use ava_convert::datetime::format_micros;
use ava_convert::Value;
use serde_json::{Map, Value as Json};

/// One value as JSON.
pub fn value(v: &Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int(i) => Json::from(*i),
        Value::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        Value::Timestamp(t) => Json::String(format_micros(*t)),
        Value::Text(s) => Json::String(s.to_string()),
        Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.to_string())),
    }
}

/// The columns of `table` named in `columns`, in that order (for a `SELECT`), each
/// qualified by `alias` — or not, when it is empty (a `RETURNING` clause: SQLite's takes
/// no alias).
///
/// # Panics
/// On a name the table does not have: the lists are constants of this crate, checked by
/// its tests.
pub fn select(table: &Table, columns: &[&str], alias: &str) -> String {
    columns
        .iter()
        .map(|c| {
            let column = table
                .column(c)
                .unwrap_or_else(|| panic!("{} has no column {c}", table.name));
            if alias.is_empty() {
                format!("\"{}\"", column.name)
            } else {
                format!("{alias}.\"{}\"", column.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How to read the columns named in `columns` (see [`select`]).
pub fn kinds(table: &Table, columns: &[&str]) -> Vec<Kind> {
    columns
        .iter()
        .map(|c| table.column(c).map_or(Kind::Text, |c| c.kind))
        .collect()
}

/// A row as a JSON object: `columns[i]` → `values[i]`.
pub fn object(columns: &[&str], values: &[Value<'_>]) -> Map<String, Json> {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| (c.to_string(), value(v)))
        .collect()
}

/// Every column of `table`, in catalog order.
pub fn all_columns(table: &Table) -> Vec<&'static str> {
    table.columns.iter().map(|c| c.name).collect()
}

/// `x` rounded to two decimals, as the original's `round(x, 2)` did (half away from
/// zero on the binary value; the same on both stores since it is computed here).
pub fn round2(x: f64) -> f64 {
    // Python's `round(x, 2)`, which the original used: the double's exact decimal value
    // rounded half to even (3.125 → 3.12; 2.675, stored as 2.67499…, → 2.67). Rust's
    // formatting with a precision rounds the exact value the same way.
    if !x.is_finite() {
        return x;
    }
    format!("{x:.2}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_the_same_whatever_their_store() {
        assert_eq!(value(&Value::Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(value(&Value::Float(f64::NAN)), Json::Null);
        assert_eq!(value(&Value::Float(2.5)), 2.5);
        // Key order and spacing are the store's; the JSON is the same.
        assert_eq!(
            value(&Value::Json("{\"b\": 1, \"a\": [true, null]}".into())).to_string(),
            value(&Value::Json("{\"a\":[true,null],\"b\":1}".into())).to_string()
        );
        assert_eq!(round2(2.345_000_1), 2.35);
        assert_eq!(round2(-1.005), -1.0);
        // As Python's round(x, 2): 1 booking in 32 calls is 3.12 %, not 3.13.
        for (x, rounded) in [(3.125, 3.12), (2.675, 2.67), (0.075, 0.07), (0.375, 0.38)] {
            assert_eq!(round2(x), rounded, "{x}");
        }
        assert_eq!(round2(1.0 / 32.0 * 100.0), 3.12);
        assert!(round2(f64::INFINITY).is_infinite());
    }
}
