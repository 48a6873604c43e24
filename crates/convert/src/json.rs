//! JSON cells (`jsonb` on the target) and the canonical JSON form used for checksums.

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::{excerpt, Cell, CellError, Converted, Value};

/// Converts a cell of a `Json` column (never NULL or `''`: the caller handles those).
/// Text must be exactly one JSON value that `jsonb` accepts: valid UTF-8, valid JSON,
/// no lone surrogates, no `\u0000` in any string or key. It is sent as written, so
/// Postgres parses the very text the app wrote.
pub(crate) fn convert(cell: Cell<'_>) -> Result<Converted<'_>, CellError> {
    let err = |reason: String, bytes: &[u8]| CellError::Json {
        reason,
        excerpt: excerpt(bytes),
    };
    match cell {
        Cell::Text(bytes) => {
            serde_json::from_slice::<Checked>(bytes).map_err(|e| err(e.to_string(), bytes))?;
            // from_slice succeeded, so the bytes are UTF-8.
            let text = std::str::from_utf8(bytes).map_err(|e| err(e.to_string(), bytes))?;
            Ok(Converted {
                value: Value::Json(Cow::Borrowed(text)),
                changed: false,
            })
        }
        // SQLite's NUMERIC affinity stores `json.dumps(5)` as the number 5.
        Cell::Integer(i) => Ok(Converted {
            value: Value::Json(Cow::Owned(i.to_string())),
            changed: true,
        }),
        Cell::Real(r) if r.is_finite() => Ok(Converted {
            value: Value::Json(Cow::Owned(format!("{r:?}"))),
            changed: true,
        }),
        Cell::Real(r) => Err(CellError::NonFinite(format!("{r}"))),
        Cell::Null | Cell::Blob(_) => Err(CellError::Json {
            reason: "not JSON text".into(),
            excerpt: String::new(),
        }),
    }
}

/// A JSON value checked for what `jsonb` accepts, without building it: serde_json
/// validates the syntax, UTF-8 and surrogate pairs as it goes, and this visitor rejects a
/// `\u0000` in any string or key. Strings are only borrowed (or unescaped into the
/// parser's scratch buffer), so checking allocates nothing per value.
struct Checked;

struct CheckVisitor;

const NUL: &str = "\\u0000 in a string, which jsonb rejects";

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

impl<'de> serde::de::Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Checked, E> {
        if s.contains('\0') {
            Err(E::custom(NUL))
        } else {
            Ok(Checked)
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        // Keys are strings: the same visitor checks them.
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// The canonical spelling of a JSON text, equal for the app's `json.dumps` output and
/// Postgres' `jsonb` output of the same value: no white space, object keys sorted by
/// their bytes (the last of duplicate keys wins, as in jsonb), strings escaped by
/// serde_json, integers as digits, other numbers as the shortest spelling that
/// round-trips their double (an integral double below 2^64 is written as digits,
/// because jsonb prints `1e+16` as `10000000000000000`).
pub fn canonical(text: &str) -> Result<String, serde_json::Error> {
    let v: Json = serde_json::from_str(text)?;
    let mut out = String::with_capacity(text.len());
    write(&v, &mut out);
    Ok(out)
}

fn write(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Integral doubles below 2^64 as digits: the same spelling an integer
                // literal of that value gets above.
                if f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0 {
                    out.push_str(&(f as i128).to_string());
                } else {
                    out.push_str(&format!("{f:?}"));
                }
            }
        }
        Json::String(s) => push_str_literal(s, out),
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Json::Object(o) => {
            let mut entries: Vec<_> = o.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str_literal(k, out);
                out.push(':');
                write(x, out);
            }
            out.push('}');
        }
    }
}

fn push_str_literal(s: &str, out: &mut String) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
