//! Rows into JSON, by the catalog's description of the columns: the same values give
//! the same bytes whichever store they came from.
//!
//! - integers and floats as JSON numbers (a float that is not finite as `null`);
//! - timestamps as ISO 8601 UTC with six fraction digits and `Z`
//!   (`2025-08-25T11:49:59.721052Z`) — the original sent naive datetimes, which browsers
//!   read as local time;
//! - JSON columns (`call_events.data`) as the JSON they hold, objects with their keys
//!   sorted (Postgres' `jsonb` does not keep the order the app wrote).
//!
//! A read's answer is written once, straight from its rows ([`Answer`], [`Object`]):
//! building a `serde_json::Value` tree first (a map, a key and a string allocated per
//! cell) cost more than the query for a page of calls.

use ava_catalog::{Kind, Table};
use ava_convert::datetime::format_micros;
use ava_convert::Value;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value as Json};

use crate::ApiError;

/// An answer's JSON, as the bytes a route sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(Vec<u8>);

impl Answer {
    /// Writes `value` as JSON.
    pub fn write(value: &impl Serialize) -> Result<Answer, ApiError> {
        serde_json::to_vec(value)
            .map(Answer)
            .map_err(ApiError::Encode)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The answer read back (to compare two stores' answers, or in a test).
    pub fn value(&self) -> Result<Json, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

/// One value, serialized as [`value`] describes.
pub struct Cell<'a>(pub &'a Value<'a>);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) if x.is_finite() => s.serialize_f64(*x),
            Value::Float(_) => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Timestamp(t) => s.serialize_str(&format_micros(*t)),
            Value::Text(text) => s.serialize_str(text),
            Value::Json(text) => match serde_json::from_str::<Json>(text) {
                Ok(parsed) => parsed.serialize(s),
                Err(_) => s.serialize_str(text),
            },
        }
    }
}

/// One value as JSON.
pub fn value(v: &Value<'_>) -> Json {
    serde_json::to_value(Cell(v)).unwrap_or(Json::Null)
}

/// The keys of a row's object: the column names with their positions in the row, in
/// the order `serde_json::Map` keeps keys (sorted), so an [`Object`] writes the same
/// bytes as the map [`object`] makes.
pub struct Keys(Vec<(&'static str, usize)>);

impl Keys {
    pub fn new(columns: &[&'static str]) -> Keys {
        let mut keys: Vec<_> = columns.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        keys.sort_unstable();
        Keys(keys)
    }
}

/// A row as a JSON object, written straight from its values: `keys` name the columns.
pub struct Object<'a> {
    pub keys: &'a Keys,
    pub values: &'a [Value<'a>],
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.keys.0.len()))?;
        for &(key, at) in &self.keys.0 {
            map.serialize_entry(key, &Cell(&self.values[at]))?;
        }
        map.end()
    }
}

/// Rows as a JSON array of [`Object`]s.
pub struct Objects<'a> {
    pub keys: &'a Keys,
    pub rows: &'a [Vec<Value<'a>>],
}

impl Serialize for Objects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&Object {
                keys: self.keys,
                values: row,
            })?;
        }
        seq.end()
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
    fn an_object_written_from_its_row_is_the_map_written() {
        let columns = ["b", "a", "c", "at", "data", "x"];
        let row = vec![
            Value::Int(-3),
            Value::Text("é \"quoted\"\n".into()),
            Value::Null,
            Value::Timestamp(1_700_000_000_123_456),
            Value::Json("{\"z\": 1, \"a\": [1.5, null]}".into()),
            Value::Float(f64::INFINITY),
        ];
        let rows = vec![row.clone(), row.clone()];
        let keys = Keys::new(&columns);
        let written = Answer::write(&Objects {
            keys: &keys,
            rows: &rows,
        })
        .unwrap();
        let mapped = Json::Array(vec![
            Json::Object(object(&columns, &row)),
            Json::Object(object(&columns, &row)),
        ]);
        assert_eq!(
            String::from_utf8(written.clone().into_bytes()).unwrap(),
            mapped.to_string()
        );
        assert_eq!(written.value().unwrap(), mapped);
        // And what both write, spelt out: keys sorted, text escaped, the timestamp in
        // UTC with microseconds, the JSON column's keys sorted, infinity as null.
        let one = r#"{"a":"é \"quoted\"\n","at":"2023-11-14T22:13:20.123456Z","b":-3,"c":null,"data":{"a":[1.5,null],"z":1},"x":null}"#;
        assert_eq!(
            String::from_utf8(written.into_bytes()).unwrap(),
            format!("[{one},{one}]")
        );
    }

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
