//! JSON cells (`jsonb` on the target) and the canonical JSON form used for checksums.

use std::borrow::Cow;

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
/// Postgres' `jsonb` output of the same value: no white space, object members sorted
/// by their escaped keys (the last of duplicate keys wins, as in jsonb), strings
/// escaped by serde_json, integers as digits, other numbers as the shortest spelling
/// that round-trips their double (an integral double below 2^64 is written as digits,
/// because jsonb prints `1e+16` as `10000000000000000`).
///
/// Written straight into one buffer while serde_json parses (no value tree): the verifier
/// canonicalises every JSON cell on both sides.
pub fn canonical(text: &str) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(text.len());
    canonical_into(text, &mut out)?;
    // Only whole UTF-8 strings and ASCII were written.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// [`canonical`], appended to `out` (on an error `out` holds a partial value: the caller
/// truncates it). It accepts exactly what the converter accepts for `jsonb`: a `\u0000`
/// in a string or key is an error too.
pub fn canonical_into(text: &str, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Canon(out), &mut de)?;
    de.end()
}

/// Writes the canonical form of the value it deserializes into the buffer.
struct Canon<'a>(&'a mut Vec<u8>);

impl<'de> serde::de::DeserializeSeed<'de> for Canon<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.extend_from_slice(if b { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.0.extend_from_slice(i.to_string().as_bytes());
        Ok(())
    }

    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        self.0.extend_from_slice(u.to_string().as_bytes());
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        // Integral doubles below 2^64 as digits: the same spelling an integer literal
        // of that value gets.
        let text = if f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0 {
            (f as i128).to_string()
        } else {
            format!("{f:?}")
        };
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        if s.contains('\0') {
            return Err(E::custom(NUL));
        }
        // Serialising a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *self.0, s);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(b'[');
        let mut first = true;
        loop {
            let at = self.0.len();
            if !first {
                self.0.push(b',');
            }
            if seq.next_element_seed(Canon(&mut *self.0))?.is_none() {
                self.0.truncate(at);
                break;
            }
            first = false;
        }
        self.0.push(b']');
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Members are written one after another, then put in order: (start, key end,
        // member end) of each, sorted by key bytes, the last of equal keys kept.
        let start = self.0.len();
        let mut members: Vec<(usize, usize, usize)> = Vec::new();
        loop {
            let at = self.0.len();
            if map.next_key_seed(Canon(&mut *self.0))?.is_none() {
                break;
            }
            let key_end = self.0.len();
            self.0.push(b':');
            map.next_value_seed(Canon(&mut *self.0))?;
            members.push((at, key_end, self.0.len()));
        }
        let body = self.0.split_off(start);
        let key = |m: &(usize, usize, usize)| &body[m.0 - start..m.1 - start];
        members.sort_by(|a, b| key(a).cmp(key(b)));
        members.dedup_by(|later, earlier| {
            // `dedup_by` keeps the first of a run; keep the last instead (as jsonb does).
            let same = key(later) == key(earlier);
            if same {
                *earlier = *later;
            }
            same
        });
        self.0.push(b'{');
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.0.extend_from_slice(&body[m.0 - start..m.2 - start]);
        }
        self.0.push(b'}');
        Ok(())
    }
}
