//! Value conversion: how one SQLite cell becomes one Postgres value, and the canonical
//! form in which both sides are compared.
//!
//! The rules (also in the README, "Conversion rules"), per catalog [`Kind`]:
//!
//! | kind | accepted SQLite cells | result |
//! |---|---|---|
//! | `Id`, `Ref`, `Int` | INTEGER (in range: `integer` is 32-bit) | the integer |
//! | `Float` | REAL (finite), INTEGER exactly representable as a double | the double, bit for bit |
//! | `Bool` | INTEGER 0 or 1 | false / true |
//! | `Timestamp` | TEXT in SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff` or another spelling (see [`datetime`]); INTEGER/REAL unix seconds | microseconds UTC; naive values are UTC |
//! | `Varchar(n)`, `Text` | TEXT that is UTF-8, has no NUL and (varchar) at most n characters | the text, byte for byte (`''` stays `''`) |
//! | `Json` | TEXT holding one JSON value (JSON `null` stays JSON null) with no `\u0000`; INTEGER/REAL (SQLite's NUMERIC affinity turned `json.dumps(5)` into 5) | the JSON text as written |
//!
//! SQL NULL stays NULL (an error in a NOT NULL column). An empty string in a non-text
//! column becomes NULL when the column is nullable; that, a non-SQLAlchemy datetime
//! spelling and a JSON number stored as a number are *converted cells*, counted per
//! column in the migration report. Anything else is a [`CellError`]: never changed or
//! dropped silently.

pub mod datetime;
pub mod json;
pub mod pyjson;

use std::borrow::Cow;
use std::fmt;

pub use ava_catalog::{Column, Kind, Table};

/// A cell as SQLite stores it: one of its five storage classes, borrowed from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// A typed value, as stored in Postgres. Produced by [`convert`] from a SQLite cell and
/// by the Postgres sink from the target's rows, so both sides share [`Value::canonical`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    Text(Cow<'a, str>),
    /// JSON text (not canonicalised; see [`Value::canonical`]).
    Json(Cow<'a, str>),
}

/// A converted cell, and whether converting it changed its spelling (counted in the
/// report: an empty string made NULL, a datetime in another spelling, a JSON number).
#[derive(Debug, Clone, PartialEq)]
pub struct Converted<'a> {
    pub value: Value<'a>,
    pub changed: bool,
}

/// Why a cell cannot be stored faithfully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("NULL in a NOT NULL column")]
    NullInNotNull,
    #[error("empty string in a NOT NULL {0} column")]
    EmptyInNotNull(&'static str),
    #[error("{found} where {expected} was expected: {excerpt}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
        excerpt: String,
    },
    #[error("integer {0} is out of range for {1}")]
    OutOfRange(i64, &'static str),
    #[error("{0} is not 0 or 1, so not a boolean")]
    NotBoolean(String),
    #[error("non-finite number {0}")]
    NonFinite(String),
    #[error("invalid datetime: {reason}: {excerpt}")]
    Datetime { reason: String, excerpt: String },
    #[error("invalid JSON: {reason}: {excerpt}")]
    Json { reason: String, excerpt: String },
    #[error("text is not valid UTF-8 (at byte {at}): {excerpt}")]
    NotUtf8 { at: usize, excerpt: String },
    #[error("text contains a NUL byte (at byte {at}), which Postgres cannot store: {excerpt}")]
    Nul { at: usize, excerpt: String },
    #[error("{chars} characters is longer than varchar({max}): {excerpt}")]
    TooLong {
        chars: usize,
        max: u32,
        excerpt: String,
    },
}

/// At most this many characters of a bad value are quoted in an error.
pub const EXCERPT_CHARS: usize = 60;

/// A safe, short, printable excerpt of a value: at most [`EXCERPT_CHARS`] characters,
/// control characters and invalid UTF-8 escaped, truncation marked with `…`.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref().take(EXCERPT_CHARS) {
        out.extend(c.escape_debug());
    }
    if chars.next().is_some() {
        out.push('…');
    }
    format!("\"{out}\"")
}

impl Cell<'_> {
    fn storage_class(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Integer(_) => "INTEGER",
            Cell::Real(_) => "REAL",
            Cell::Text(_) => "TEXT",
            Cell::Blob(_) => "BLOB",
        }
    }

    fn excerpt(&self) -> String {
        match self {
            Cell::Null => "NULL".into(),
            Cell::Integer(i) => i.to_string(),
            Cell::Real(r) => format!("{r:?}"),
            Cell::Text(t) => excerpt(t),
            Cell::Blob(b) => format!("blob of {} bytes", b.len()),
        }
    }
}

fn expected_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Id | Kind::Ref(_) | Kind::Int => "an integer",
        Kind::Float => "a number",
        Kind::Bool => "a boolean (0 or 1)",
        Kind::Timestamp => "a datetime",
        Kind::Varchar(_) | Kind::Text => "text",
        Kind::Json => "JSON text",
    }
}

/// Converts one SQLite cell of `column` by the rules above.
pub fn convert<'a>(column: &Column, cell: Cell<'a>) -> Result<Converted<'a>, CellError> {
    let kind = column.kind;
    let wrong = |cell: &Cell| CellError::WrongType {
        expected: expected_name(kind),
        found: cell.storage_class(),
        excerpt: cell.excerpt(),
    };
    let same = |value| {
        Ok(Converted {
            value,
            changed: false,
        })
    };
    match cell {
        Cell::Null if column.nullable => same(Value::Null),
        Cell::Null => Err(CellError::NullInNotNull),
        Cell::Text(b"") if !kind.is_text() => {
            if column.nullable {
                Ok(Converted {
                    value: Value::Null,
                    changed: true,
                })
            } else {
                Err(CellError::EmptyInNotNull(expected_name(kind)))
            }
        }
        Cell::Blob(_) => Err(wrong(&cell)),
        _ => match kind {
            Kind::Id | Kind::Ref(_) => match cell {
                Cell::Integer(i) => same(Value::Int(i)),
                _ => Err(wrong(&cell)),
            },
            Kind::Int => match cell {
                Cell::Integer(i) if i32::try_from(i).is_ok() => same(Value::Int(i)),
                Cell::Integer(i) => Err(CellError::OutOfRange(i, "integer (32-bit)")),
                _ => Err(wrong(&cell)),
            },
            Kind::Float => match cell {
                Cell::Real(r) if r.is_finite() => same(Value::Float(r)),
                Cell::Real(r) => Err(CellError::NonFinite(format!("{r}"))),
                // Every integer up to 2^53 is exactly a double; beyond, some are not.
                Cell::Integer(i) if i.unsigned_abs() <= 1 << 53 => same(Value::Float(i as f64)),
                Cell::Integer(i) => Err(CellError::OutOfRange(i, "an exact double")),
                _ => Err(wrong(&cell)),
            },
            Kind::Bool => match cell {
                Cell::Integer(0) => same(Value::Bool(false)),
                Cell::Integer(1) => same(Value::Bool(true)),
                _ => Err(CellError::NotBoolean(cell.excerpt())),
            },
            Kind::Timestamp => datetime::convert(cell),
            Kind::Varchar(_) | Kind::Text => match cell {
                Cell::Text(bytes) => text(bytes, kind).map(|t| Converted {
                    value: Value::Text(Cow::Borrowed(t)),
                    changed: false,
                }),
                _ => Err(wrong(&cell)),
            },
            Kind::Json => json::convert(cell),
        },
    }
}

/// Converts one row of `table` (cells in catalog column order). On success, adds one
/// to `changed[i]` for every converted cell of column `i`; on failure returns every
/// bad cell of the row with its column name, so a scan can report them all.
pub fn convert_row<'a>(
    table: &Table,
    cells: &[Cell<'a>],
    changed: &mut [u64],
) -> Result<Vec<Value<'a>>, Vec<(&'static str, CellError)>> {
    convert_columns(table, cells, changed, |_| true)
}

/// [`convert_row`] for only the columns `wanted` picks (by position); every other
/// value is left `Null` and not counted.
pub fn convert_columns<'a>(
    table: &Table,
    cells: &[Cell<'a>],
    changed: &mut [u64],
    wanted: impl Fn(usize) -> bool,
) -> Result<Vec<Value<'a>>, Vec<(&'static str, CellError)>> {
    let mut values = Vec::with_capacity(cells.len());
    let mut bad = Vec::new();
    for (i, (column, cell)) in table.columns.iter().zip(cells).enumerate() {
        if !wanted(i) {
            values.push(Value::Null);
            continue;
        }
        match convert(column, *cell) {
            Ok(c) => {
                changed[i] += u64::from(c.changed);
                values.push(c.value);
            }
            Err(e) => bad.push((column.name, e)),
        }
    }
    if bad.is_empty() {
        Ok(values)
    } else {
        Err(bad)
    }
}

/// The id of a row as read (its first cell), for messages.
pub fn row_id(cells: &[Cell<'_>]) -> String {
    match cells.first() {
        Some(Cell::Integer(i)) => i.to_string(),
        Some(c) => c.excerpt(),
        None => "?".into(),
    }
}

/// A 128-bit hash (xxh3) of a row exactly as SQLite holds it: each cell's storage
/// class and bytes, before any conversion. Two rows hash alike only if SQLite holds the
/// same cells, so `ava sync` can tell a row it has already written from a changed one
/// without converting it; it is never compared with a hash of converted values.
/// `scratch` is reused between rows: one pass of xxh3 over one buffer is faster than
/// feeding it cell by cell.
pub fn raw_hash(cells: &[Cell<'_>], scratch: &mut Vec<u8>) -> u128 {
    scratch.clear();
    for cell in cells {
        match *cell {
            Cell::Null => scratch.push(0),
            Cell::Integer(i) => {
                scratch.push(1);
                scratch.extend_from_slice(&i.to_le_bytes());
            }
            Cell::Real(r) => {
                scratch.push(2);
                scratch.extend_from_slice(&r.to_bits().to_le_bytes());
            }
            // The length first, so that cell boundaries cannot shift unnoticed.
            Cell::Text(b) | Cell::Blob(b) => {
                scratch.push(if matches!(cell, Cell::Text(_)) { 3 } else { 4 });
                scratch.extend_from_slice(&(b.len() as u64).to_le_bytes());
                scratch.extend_from_slice(b);
            }
        }
    }
    xxhash_rust::xxh3::xxh3_128(scratch)
}

/// Checks text for what Postgres cannot hold or the column does not allow.
fn text(bytes: &[u8], kind: Kind) -> Result<&str, CellError> {
    let s = std::str::from_utf8(bytes).map_err(|e| CellError::NotUtf8 {
        at: e.valid_up_to(),
        excerpt: excerpt(bytes),
    })?;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(CellError::Nul {
            at,
            excerpt: excerpt(bytes),
        });
    }
    if let Kind::Varchar(max) = kind {
        // Byte length bounds character count from above: count only when it matters.
        if s.len() > max as usize {
            let chars = s.chars().count();
            if chars > max as usize {
                return Err(CellError::TooLong {
                    chars,
                    max,
                    excerpt: excerpt(bytes),
                });
            }
        }
    }
    Ok(s)
}

/// Type tags of the canonical encoding (so `NULL`, `''` and `0` never collide).
mod tag {
    pub const NULL: u8 = 0;
    pub const INT: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const BOOL: u8 = 3;
    pub const TIMESTAMP: u8 = 4;
    pub const TEXT: u8 = 5;
    pub const JSON: u8 = 6;
    /// A source cell the converter rejects (never produced by a stored value).
    pub const INVALID: u8 = 0xff;
}

impl Value<'_> {
    /// Appends the canonical encoding used for checksums: a type tag, then integers and
    /// microsecond timestamps as 8 bytes, doubles by their IEEE bits (the same as their
    /// shortest round-trip spelling), text length-prefixed byte for byte, JSON in its
    /// canonical form ([`json::canonical`]). NULL is distinct from `''`.
    pub fn canonical(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(tag::NULL),
            Value::Int(i) => {
                out.push(tag::INT);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(f) => {
                out.push(tag::FLOAT);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[tag::BOOL, u8::from(*b)]),
            Value::Timestamp(t) => {
                out.push(tag::TIMESTAMP);
                out.extend_from_slice(&t.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(tag::TEXT);
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Json(s) => {
                if canonical_json(s, out).is_err() {
                    // Cannot happen for converted or Postgres-produced values; keep the
                    // raw text so a difference still shows rather than hiding it.
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    /// Turns borrowed text into owned, so the value can outlive the row it came from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Bool(b) => Value::Bool(b),
            Value::Timestamp(t) => Value::Timestamp(t),
            Value::Text(s) => Value::Text(Cow::Owned(s.into_owned())),
            Value::Json(s) => Value::Json(Cow::Owned(s.into_owned())),
        }
    }
}

/// Appends a JSON value's canonical encoding (tag, length, canonical JSON). On an error
/// nothing is appended but the tag and a zero length's place, ready for a fallback.
fn canonical_json(text: &str, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    out.push(tag::JSON);
    let start = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let result = json::canonical_into(text, out);
    if result.is_err() {
        out.truncate(start + 8);
    }
    let len = (out.len() - start - 8) as u64;
    out[start..start + 8].copy_from_slice(&len.to_le_bytes());
    result
}

/// The canonical encoding of a source cell as it would be stored — [`convert`], then
/// [`Value::canonical`] — or, for a cell the converter rejects, a marker no stored value
/// can equal. JSON text is checked and canonicalised in one pass (the verifier does this
/// for every cell of the file).
pub fn canonical_cell(column: &Column, cell: Cell<'_>, out: &mut Vec<u8>) {
    if let (Kind::Json, Cell::Text(bytes)) = (column.kind, cell) {
        if !bytes.is_empty() {
            let start = out.len();
            let valid = std::str::from_utf8(bytes)
                .ok()
                .is_some_and(|text| canonical_json(text, out).is_ok());
            if !valid {
                out.truncate(start);
                out.push(tag::INVALID);
                out.extend_from_slice(b"invalid JSON");
            }
            return;
        }
    }
    match convert(column, cell) {
        Ok(c) => c.value.canonical(out),
        Err(e) => {
            out.push(tag::INVALID);
            out.extend_from_slice(e.to_string().as_bytes());
        }
    }
}

/// Human-readable form for reports: timestamps as ISO-8601 UTC with microseconds,
/// doubles in their shortest round-trip spelling, JSON canonical, text quoted.
impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Timestamp(t) => f.write_str(&datetime::format_micros(*t)),
            Value::Text(s) => f.write_str(&excerpt(s.as_bytes())),
            Value::Json(s) => {
                let c = json::canonical(s).unwrap_or_else(|_| s.to_string());
                f.write_str(&excerpt(c.as_bytes()))
            }
        }
    }
}

#[cfg(test)]
mod tests;
