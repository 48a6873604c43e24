//! Property tests ("fuzzing" with proptest) of the reader and the converters together:
//! whatever the file or the cells, reading and converting return `Ok` or `Err` — a
//! panic fails the test. 256 cases per property by default; `PROPTEST_CASES` overrides.
//!
//! - [`convert_row_never_panics_and_accepted_rows_round_trip`]: any cells of any table;
//! - [`damaged_files_are_errors_not_panics`]: a valid file with bytes overwritten
//!   anywhere (and sometimes cut short), read in full;
//! - [`cells_of_any_storage_class_are_read_and_converted`]: SQLite is dynamically typed,
//!   so any storage class can sit in any column of a valid schema.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use ava_catalog::{Kind, Table, TABLES};
use ava_convert::{convert_row, datetime, Cell, Value};
use ava_source::SourceError;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// A cell that owns its bytes, for strategies.
#[derive(Debug, Clone)]
enum Owned {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Owned {
    fn cell(&self) -> Cell<'_> {
        match self {
            Owned::Null => Cell::Null,
            Owned::Integer(i) => Cell::Integer(*i),
            Owned::Real(f) => Cell::Real(*f),
            Owned::Text(t) => Cell::Text(t),
            Owned::Blob(b) => Cell::Blob(b),
        }
    }

    fn sql(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match self {
            Owned::Null => V::Null,
            Owned::Integer(i) => V::Integer(*i),
            Owned::Real(f) => V::Real(*f),
            // Not necessarily UTF-8: bound as text bytes, as a C program could.
            Owned::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
            Owned::Blob(b) => V::Blob(b.clone()),
        }
    }
}

/// Any cell of any storage class, with the edge values weighted in.
fn any_cell() -> impl Strategy<Value = Owned> {
    prop_oneof![
        Just(Owned::Null),
        prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            -2i64..3,
            Just(1i64 << 53),
            Just((1i64 << 53) + 1),
            Just(i64::from(i32::MAX) + 1),
        ]
        .prop_map(Owned::Integer),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e300)
        ]
        .prop_map(Owned::Real),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Owned::Text),
        "\\PC{0,30}".prop_map(|s| Owned::Text(s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Owned::Blob),
    ]
}

const MIN_TS: i64 = -62_135_596_800_000_000;
const MAX_TS: i64 = 253_402_300_799_999_999;

/// A cell the app could have written in a column of `kind` (mostly accepted).
fn plausible_cell(kind: Kind) -> BoxedStrategy<Owned> {
    match kind {
        Kind::Id | Kind::Ref(_) => any::<i64>().prop_map(Owned::Integer).boxed(),
        Kind::Int => any::<i32>()
            .prop_map(|i| Owned::Integer(i.into()))
            .boxed(),
        Kind::Float => prop_oneof![
            any::<f64>().prop_map(Owned::Real),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Owned::Integer),
        ]
        .boxed(),
        Kind::Bool => (0i64..2).prop_map(Owned::Integer).boxed(),
        Kind::Timestamp => prop_oneof![
            (MIN_TS..MAX_TS).prop_map(|m| Owned::Text(datetime::format_sqlalchemy(m).into_bytes())),
            "[0-9]{4}-[01][0-9]-[0-3][0-9]([ T][0-2][0-9]:[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?([Zz]|[+-][01][0-9](:?[0-5][0-9])?)?)?"
                .prop_map(|s| Owned::Text(s.into_bytes())),
            (-1i64 << 40..1i64 << 40).prop_map(Owned::Integer),
            (-1e11f64..1e11).prop_map(Owned::Real),
            Just(Owned::Text(Vec::new())),
        ]
        .boxed(),
        Kind::Varchar(n) => proptest::string::string_regex(&format!("\\PC{{0,{}}}", n.min(300)))
            .expect("a valid regex")
            .prop_map(|s| Owned::Text(s.into_bytes()))
            .boxed(),
        Kind::Text => "\\PC{0,60}".prop_map(|s| Owned::Text(s.into_bytes())).boxed(),
        Kind::Json => prop_oneof![
            json_value().prop_map(|v| Owned::Text(v.to_string().into_bytes())),
            any::<i64>().prop_map(Owned::Integer),
            Just(Owned::Text(b"null".to_vec())),
        ]
        .boxed(),
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|i| serde_json::json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        "\\PC{0,8}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A cell in one of the forms the conversion rules accept for `kind` (README,
/// "Conversion rules"); NULL sometimes when the column is nullable.
fn valid_cell(kind: Kind, nullable: bool) -> BoxedStrategy<Owned> {
    let value = match kind {
        Kind::Id | Kind::Ref(_) => any::<i64>().prop_map(Owned::Integer).boxed(),
        Kind::Int => any::<i32>().prop_map(|i| Owned::Integer(i.into())).boxed(),
        Kind::Float => prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Owned::Real),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Owned::Integer),
        ]
        .boxed(),
        Kind::Bool => (0i64..2).prop_map(Owned::Integer).boxed(),
        Kind::Timestamp => prop_oneof![
            (MIN_TS..MAX_TS).prop_map(|m| Owned::Text(datetime::format_sqlalchemy(m).into_bytes())),
            (MIN_TS..MAX_TS).prop_map(|m| Owned::Text(datetime::format_micros(m).into_bytes())),
            (MIN_TS / 1_000_000..MAX_TS / 1_000_000).prop_map(Owned::Integer),
        ]
        .boxed(),
        Kind::Varchar(_) | Kind::Text | Kind::Json => plausible_cell(kind),
    };
    if nullable {
        prop_oneof![5 => value, 1 => Just(Owned::Null)].boxed()
    } else {
        value
    }
}

/// A table, whether its row is all in accepted forms, and the row: per column either
/// an accepted cell, or (in a noisy row) mostly a plausible cell, else any cell.
fn table_and_row() -> impl Strategy<Value = (usize, bool, Vec<Owned>)> {
    (0..TABLES.len(), any::<bool>()).prop_flat_map(|(t, clean)| {
        let cells: Vec<BoxedStrategy<Owned>> = TABLES[t]
            .columns
            .iter()
            .map(|c| {
                if clean {
                    valid_cell(c.kind, c.nullable)
                } else {
                    prop_oneof![
                        4 => plausible_cell(c.kind),
                        1 => any_cell().boxed(),
                        1 => Just(Owned::Null).boxed(),
                    ]
                    .boxed()
                }
            })
            .collect();
        (Just(t), Just(clean), cells)
    })
}

fn canonical(values: &[Value<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.canonical(&mut out);
    }
    out
}

/// A value as the app spells it in SQLite (SQLAlchemy's datetime text, 0/1, JSON text).
fn app_spelling(value: &Value<'_>) -> Owned {
    match value {
        Value::Null => Owned::Null,
        Value::Int(i) => Owned::Integer(*i),
        Value::Float(f) => Owned::Real(*f),
        Value::Bool(b) => Owned::Integer(i64::from(*b)),
        Value::Timestamp(t) => Owned::Text(datetime::format_sqlalchemy(*t).into_bytes()),
        Value::Text(s) | Value::Json(s) => Owned::Text(s.as_bytes().to_vec()),
    }
}

/// Converts one row, checking what must hold of any row: no panic; an accepted row
/// converts the same way twice and has one value per column; a rejected one names
/// columns of its table.
fn check_row(table: &Table, cells: &[Cell<'_>]) -> Result<(), TestCaseError> {
    let mut changed = vec![0u64; table.columns.len()];
    match convert_row(table, cells, &mut changed) {
        Ok(values) => {
            prop_assert_eq!(values.len(), table.columns.len());
            let mut again = vec![0u64; table.columns.len()];
            let second = convert_row(table, cells, &mut again).expect("accepted once");
            prop_assert_eq!(canonical(&values), canonical(&second));
            prop_assert_eq!(changed, again);
        }
        Err(bad) => {
            prop_assert!(!bad.is_empty());
            for (column, error) in bad {
                prop_assert!(table.column(column).is_some(), "{column}");
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
    Ok(())
}

/// Runs with 256 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any row of any table: `convert_row` never panics; a row of accepted forms is
    /// accepted; a row it accepts converts deterministically, and its values spelled
    /// the app's way convert back to the same canonical encoding, unchanged.
    #[test]
    fn convert_row_never_panics_and_accepted_rows_round_trip(
        (t, clean, row) in table_and_row(),
    ) {
        let table = &TABLES[t];
        let cells: Vec<Cell<'_>> = row.iter().map(Owned::cell).collect();
        check_row(table, &cells)?;
        let mut changed = vec![0u64; table.columns.len()];
        let converted = convert_row(table, &cells, &mut changed);
        if clean {
            prop_assert!(converted.is_ok(), "{} {:?}: {:?}", table.name, row, converted);
        }
        if let Ok(values) = converted {
            let owned: Vec<Value<'static>> =
                values.iter().cloned().map(Value::into_owned).collect();
            prop_assert_eq!(canonical(&owned), canonical(&values));
            let respelled: Vec<Owned> = values.iter().map(app_spelling).collect();
            let cells: Vec<Cell<'_>> = respelled.iter().map(Owned::cell).collect();
            let mut none = vec![0u64; table.columns.len()];
            let back = convert_row(table, &cells, &mut none);
            prop_assert!(back.is_ok(), "{:?} → {:?}: {:?}", values, respelled, back);
            prop_assert_eq!(canonical(&back.unwrap()), canonical(&values));
            prop_assert!(none.iter().all(|n| *n == 0), "the app's spelling counted as converted: {:?}", none);
        }
    }
}

/// The bytes of a small valid file, built once.
fn valid_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let (_dir, path) = valid_in_tempdir();
        std::fs::read(path).unwrap()
    })
}

/// The bytes of a file holding the app's schema and no rows, built once.
fn empty_schema_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty-schema.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(ava_catalog::SQLITE_DDL)
            .unwrap();
        std::fs::read(path).unwrap()
    })
}

/// Reads everything from `path` and converts every row; asserts that an error is one
/// line naming the file, and that the file is not changed.
fn read_and_convert(path: &Path) -> Result<Result<Vec<u64>, SourceError>, TestCaseError> {
    let before = std::fs::read(path).unwrap();
    let mut failure = None;
    let result = read_all(path, |table, cells| {
        if failure.is_none() {
            failure = check_row(table, cells).err();
        }
    });
    if let Some(f) = failure {
        return Err(f);
    }
    if let Err(e) = &result {
        let msg = e.to_string();
        prop_assert!(!msg.contains('\n'), "not one line: {}", msg);
        prop_assert!(msg.contains("fuzzed.db"), "does not name the file: {}", msg);
    }
    prop_assert!(
        std::fs::read(path).unwrap() == before,
        "the file was changed"
    );
    Ok(result)
}

/// Where to damage: anywhere in the file, in the first page (header and schema), or
/// in the 100-byte header.
fn offset(len: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0..len,
        1 => 0..4096.min(len),
        1 => 0..100usize,
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A valid file with 1–24 runs of bytes overwritten anywhere, sometimes cut short:
    /// opening, the snapshot, `count` and `for_each` over every table (and converting
    /// every row read) give `Ok` or a one-line `Err`, never a panic.
    #[test]
    fn damaged_files_are_errors_not_panics(
        edits in proptest::collection::vec(
            (offset(valid_bytes().len()), proptest::collection::vec(any::<u8>(), 1..8)),
            1..24,
        ),
        cut in prop_oneof![4 => Just(None), 1 => (0..valid_bytes().len()).prop_map(Some)],
    ) {
        let mut bytes = valid_bytes().to_vec();
        for (at, new) in &edits {
            for (i, b) in new.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        if let Some(len) = cut {
            bytes.truncate(len);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzzed.db");
        std::fs::write(&path, &bytes).unwrap();
        // Ok or a one-line error: both fine.
        let _ = read_and_convert(&path)?;
    }

    /// Rows of random cells — any storage class in any column, as SQLite's dynamic
    /// typing allows — inserted into a valid file with rusqlite, then read back and
    /// converted: never a panic, and every row that was inserted is read.
    #[test]
    fn cells_of_any_storage_class_are_read_and_converted(
        rows in proptest::collection::vec(
            (0..TABLES.len(), proptest::collection::vec(any_cell(), ava_catalog::MAX_COLUMNS)),
            1..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzzed.db");
        std::fs::write(&path, empty_schema_bytes()).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF; BEGIN").unwrap();
        let mut inserted = [0u64; 5];
        for (t, cells) in &rows {
            let table = &TABLES[*t];
            let n = table.columns.len();
            let sql = format!(
                "INSERT INTO \"{}\" ({}) VALUES ({})",
                table.name,
                table.column_list(),
                vec!["?"; n].join(", ")
            );
            let params: Vec<rusqlite::types::Value> = cells[..n].iter().map(Owned::sql).collect();
            // A duplicate or non-integer id, or NULL in a NOT NULL column, is refused
            // by SQLite itself: only what it stores can be read.
            if conn.execute(&sql, rusqlite::params_from_iter(params)).is_ok() {
                inserted[*t] += 1;
            }
        }
        conn.execute_batch("COMMIT").unwrap();
        drop(conn);
        let counts = read_and_convert(&path)?;
        prop_assert!(counts.is_ok(), "{:?}", counts);
        prop_assert_eq!(counts.unwrap(), inserted.to_vec());
    }
}
