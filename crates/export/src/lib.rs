//! The way back: writes the target's five tables into a **new** SQLite file that the
//! app's old backend can be restarted on.
//!
//! The file is created with the app's exact DDL ([`ava_catalog::SQLITE_DDL`]) and every
//! value is written in the spelling the app's SQLAlchemy models use in SQLite:
//!
//! | catalog kind | written as |
//! |---|---|
//! | `Id`, `Ref`, `Int` | INTEGER |
//! | `Float` | REAL, bit for bit (a non-finite value or `-0.0`, which a REAL column stores as `0.0`, is refused) |
//! | `Bool` | INTEGER 0 / 1 |
//! | `Timestamp` | TEXT `YYYY-MM-DD HH:MM:SS.ffffff`, UTC ([`ava_convert::datetime::format_sqlalchemy`]); years outside 0001–9999 are refused |
//! | `Varchar(n)`, `Text` | TEXT, byte for byte |
//! | `Json` | TEXT as Python's `json.dumps` writes it ([`ava_convert::pyjson`]); JSON `null` is the text `null` |
//!
//! SQL NULL stays NULL. A JSON column has NUMERIC affinity in SQLite, so a top-level JSON
//! number lands as a SQLite number there — exactly what happens when the app writes it.
//! What jsonb cannot give back: the key order of an object (jsonb keeps its own) and
//! whether a number was written as an integer or a float (`1e+16` comes back as
//! `10000000000000000`); `ava verify` compares JSON by value, so neither is a difference.
//!
//! Everything is read from one read-only, repeatable-read snapshot of the target, in id
//! windows (memory stays flat), and written in one SQLite transaction into a temporary
//! file beside the output, which is moved into place only when complete: a failed export
//! leaves no file behind, and an existing file is never replaced.

use std::io;
use std::path::{Path, PathBuf};

use ava_catalog::{Column, Kind, Table, TABLES};
use ava_convert::{datetime, Value};
pub use ava_migrations::{ErrorKind, NoProgress, Progress};
use ava_sink::{read_tables, ReadError, SinkError, Target};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement};
use tokio_postgres::Transaction;

/// Ids per `COPY … TO` from the target: the driver buffers a running COPY's output
/// without bound when the consumer (SQLite inserts) is slower than the network, so each
/// COPY is kept to a window of ids.
pub const WINDOW_IDS: i64 = 50_000;

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 5_000;

/// 0001-01-01T00:00:00Z in microseconds since the unix epoch.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z in microseconds since the unix epoch.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The new file.
    pub path: PathBuf,
    /// Rows per table, in [`TABLES`] order.
    pub tables: Vec<(&'static str, u64)>,
    /// The file's size in bytes.
    pub bytes: u64,
}

impl ExportReport {
    /// Rows written in all.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Why an export stopped; nothing is left at the output path in every case.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{} already exists: ava export never replaces a file; delete it or choose another path", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("writing {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{table} id {id}, column {column}: {reason}; nothing was written")]
    Value {
        table: &'static str,
        id: String,
        column: &'static str,
        reason: String,
    },
}

impl ExportError {
    /// What kind of failure this is (the CLI's exit code): an existing file refuses;
    /// anything else failed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExportError::Exists(_) => ErrorKind::Refused,
            ExportError::Io { .. }
            | ExportError::Sqlite { .. }
            | ExportError::Sink(_)
            | ExportError::Value { .. } => ErrorKind::Failed,
        }
    }
}

/// Writes every row of the target's five tables into a new SQLite file at `out` (which
/// must not exist), as described in the crate docs.
pub async fn export(
    target: &mut Target,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    if out.symlink_metadata().is_ok() {
        return Err(ExportError::Exists(out.to_path_buf()));
    }
    target.check_schema().await?;
    let partial = Partial::claim(out)?;
    let url = target.url().to_string();

    let tx = target.snapshot().await?;
    let counts = ava_sink::counts(&tx)
        .await
        .map_err(|source| SinkError::Query {
            url: url.clone(),
            context: "counting rows".into(),
            source,
        })?;

    let sqlite_err = |source| ExportError::Sqlite {
        path: out.to_path_buf(),
        source,
    };
    let mut db = Connection::open(&partial.path).map_err(sqlite_err)?;
    // Nobody sees the file before it is complete, and a failed export deletes it: the
    // fill needs neither a journal nor fsyncs (the finished file is synced before it is
    // moved into place). Foreign keys hold already: they come from one snapshot of a
    // database that enforces them, and parents are written first.
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -65536;",
    )
    .map_err(sqlite_err)?;
    let lite = db.transaction().map_err(sqlite_err)?;
    lite.execute_batch(ava_catalog::SQLITE_DDL)
        .map_err(sqlite_err)?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, expected) in TABLES.iter().zip(counts) {
        progress.table_started(table.name, expected);
        let rows = copy_table(&tx, &url, &lite, table, progress)
            .await
            .map_err(|e| e.at(out))?;
        progress.table_finished(table.name);
        tables.push((table.name, rows));
    }
    lite.commit().map_err(sqlite_err)?;
    db.close().map_err(|(_, e)| sqlite_err(e))?;
    // Read-only: nothing to commit.
    drop(tx);

    let bytes = partial.publish()?;
    Ok(ExportReport {
        path: out.to_path_buf(),
        tables,
        bytes,
    })
}

/// A failure while copying one table (the path is added by the caller).
enum CopyError {
    Sink(SinkError),
    Sqlite(rusqlite::Error),
    Value {
        table: &'static str,
        id: String,
        column: &'static str,
        reason: String,
    },
}

impl CopyError {
    fn at(self, out: &Path) -> ExportError {
        match self {
            CopyError::Sink(e) => ExportError::Sink(e),
            CopyError::Sqlite(source) => ExportError::Sqlite {
                path: out.to_path_buf(),
                source,
            },
            CopyError::Value {
                table,
                id,
                column,
                reason,
            } => ExportError::Value {
                table,
                id,
                column,
                reason,
            },
        }
    }
}

/// Copies every row of `table` from the snapshot into the SQLite transaction; returns
/// how many.
async fn copy_table(
    tx: &Transaction<'_>,
    url: &str,
    lite: &rusqlite::Transaction<'_>,
    table: &'static Table,
    progress: &dyn Progress,
) -> Result<u64, CopyError> {
    let marks = (1..=table.columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut insert = lite
        .prepare(&format!(
            "INSERT INTO \"{}\" ({}) VALUES ({marks})",
            table.name,
            table.column_list()
        ))
        .map_err(CopyError::Sqlite)?;
    let query_err = |context: String| {
        move |source| {
            CopyError::Sink(SinkError::Query {
                url: url.to_string(),
                context,
                source,
            })
        }
    };
    let mut json = Vec::with_capacity(1024);
    let mut rows = 0u64;
    let mut unreported = 0u64;
    read_tables(tx, &[table], WINDOW_IDS, |_, values| {
        insert_row(&mut insert, table, values, &mut json)?;
        rows += 1;
        unreported += 1;
        if unreported == PROGRESS_EVERY {
            progress.rows_copied(table.name, unreported);
            unreported = 0;
        }
        Ok(())
    })
    .await
    .map_err(|(_, e)| match e {
        ReadError::Db(source) => query_err(format!("reading table {}", table.name))(source),
        ReadError::Decode { id, reason } => CopyError::Sink(SinkError::Decode {
            url: url.to_string(),
            table: table.name,
            id,
            reason,
        }),
        ReadError::Callback(e) => e,
    })?;
    progress.rows_copied(table.name, unreported);
    Ok(rows)
}

/// Binds one row's values in the app's formats and inserts it.
fn insert_row(
    insert: &mut Statement<'_>,
    table: &'static Table,
    values: &[Value<'_>],
    json: &mut Vec<u8>,
) -> Result<(), CopyError> {
    for (i, (column, value)) in table.columns.iter().zip(values).enumerate() {
        let bound = sqlite_value(column, value, json).map_err(|reason| CopyError::Value {
            table: table.name,
            id: values.first().map_or_else(|| "?".into(), |v| v.to_string()),
            column: column.name,
            reason,
        })?;
        insert
            .raw_bind_parameter(i + 1, bound)
            .map_err(CopyError::Sqlite)?;
    }
    insert.raw_execute().map_err(CopyError::Sqlite)?;
    Ok(())
}

/// One value as the app's SQLAlchemy models store it in SQLite (see the crate docs), or
/// why the app's file cannot hold it exactly. `json` is the buffer JSON text is written
/// into (the result may borrow it).
pub fn sqlite_value<'v>(
    column: &Column,
    value: &'v Value<'_>,
    json: &'v mut Vec<u8>,
) -> Result<ToSqlOutput<'v>, String> {
    let borrowed = |v: ValueRef<'v>| Ok(ToSqlOutput::Borrowed(v));
    match (column.kind, value) {
        (_, Value::Null) => borrowed(ValueRef::Null),
        (Kind::Id | Kind::Ref(_) | Kind::Int, Value::Int(i)) => borrowed(ValueRef::Integer(*i)),
        (Kind::Bool, Value::Bool(b)) => borrowed(ValueRef::Integer(i64::from(*b))),
        (Kind::Float, Value::Float(f)) => {
            if !f.is_finite() {
                Err(format!(
                    "{f} is not a finite number, which the app's SQLite file cannot hold"
                ))
            } else if *f == 0.0 && f.is_sign_negative() {
                Err("-0.0, which a SQLite REAL column stores as 0.0".into())
            } else {
                borrowed(ValueRef::Real(*f))
            }
        }
        (Kind::Timestamp, Value::Timestamp(micros)) => {
            if (MIN_MICROS..=MAX_MICROS).contains(micros) {
                Ok(ToSqlOutput::from(datetime::format_sqlalchemy(*micros)))
            } else {
                Err(format!(
                    "{micros} µs since 1970 is outside the years 0001–9999 SQLAlchemy can spell"
                ))
            }
        }
        (Kind::Varchar(_) | Kind::Text, Value::Text(s)) => borrowed(ValueRef::Text(s.as_bytes())),
        (Kind::Json, Value::Json(text)) => {
            let parsed: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("the target's JSON does not parse ({e})"))?;
            json.clear();
            ava_convert::pyjson::dump(json, &parsed)
                .map_err(|e| format!("cannot write the JSON as json.dumps would ({e})"))?;
            borrowed(ValueRef::Text(json))
        }
        (kind, v) => Err(format!(
            "unexpected value {v} for a {} column",
            kind.pg_type()
        )),
    }
}

/// The temporary file an export is written into, beside the output; removed again
/// unless it was published.
struct Partial {
    path: PathBuf,
    out: PathBuf,
    published: bool,
}

impl Partial {
    /// Creates the temporary file (never an existing one).
    fn claim(out: &Path) -> Result<Partial, ExportError> {
        let name = out
            .file_name()
            .ok_or_else(|| ExportError::Io {
                path: out.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
            })?
            .to_string_lossy();
        let path = out.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        std::fs::File::create_new(&path).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Partial {
            path,
            out: out.to_path_buf(),
            published: false,
        })
    }

    /// Syncs the finished file and moves it to the output path, unless something is
    /// there by now. Returns its size.
    fn publish(mut self) -> Result<u64, ExportError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportError::Io { path, source }
        };
        let file = std::fs::File::open(&self.path).map_err(io_err(&self.path))?;
        file.sync_all().map_err(io_err(&self.path))?;
        let bytes = file.metadata().map_err(io_err(&self.path))?.len();
        drop(file);
        publish_no_clobber(&self.path, &self.out).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                ExportError::Exists(self.out.clone())
            } else {
                ExportError::Io {
                    path: self.out.clone(),
                    source,
                }
            }
        })?;
        self.published = true;
        if let Some(dir) = self.out.parent() {
            // Makes the new name durable; not every platform can sync a directory.
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Moves `from` to `to` unless `to` exists: a hard link fails atomically on an existing
/// name (a rename would replace it); where hard links are not supported, checks and
/// renames.
pub fn publish_no_clobber(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if to.symlink_metadata().is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists", to.display()),
                ));
            }
            std::fs::rename(from, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn only_an_existing_file_refuses() {
        assert_eq!(
            ExportError::Exists("out.db".into()).kind(),
            ErrorKind::Refused
        );
        let io = ExportError::Io {
            path: "out.db".into(),
            source: io::Error::other("disk full"),
        };
        assert_eq!(io.kind(), ErrorKind::Failed);
    }

    fn column(kind: Kind) -> Column {
        Column {
            name: "c",
            kind,
            nullable: true,
            default: None,
        }
    }

    fn written(kind: Kind, value: Value<'_>) -> Result<rusqlite::types::Value, String> {
        let mut buf = Vec::new();
        let out = sqlite_value(&column(kind), &value, &mut buf)?;
        Ok(match out {
            ToSqlOutput::Borrowed(v) => match v {
                ValueRef::Null => L::Null,
                ValueRef::Integer(i) => L::Integer(i),
                ValueRef::Real(f) => L::Real(f),
                ValueRef::Text(t) => L::Text(String::from_utf8(t.to_vec()).unwrap()),
                ValueRef::Blob(b) => L::Blob(b.to_vec()),
            },
            ToSqlOutput::Owned(v) => v,
            _ => unreachable!(),
        })
    }

    use rusqlite::types::Value as L;

    #[test]
    fn values_are_written_in_the_apps_formats() {
        assert_eq!(written(Kind::Int, Value::Int(-7)), Ok(L::Integer(-7)));
        assert_eq!(written(Kind::Bool, Value::Bool(true)), Ok(L::Integer(1)));
        assert_eq!(written(Kind::Bool, Value::Bool(false)), Ok(L::Integer(0)));
        assert_eq!(written(Kind::Json, Value::Null), Ok(L::Null));
        assert_eq!(
            written(Kind::Float, Value::Float(0.1 + 0.2)),
            Ok(L::Real(0.1 + 0.2))
        );
        assert_eq!(
            written(Kind::Timestamp, Value::Timestamp(1_756_122_599_721_052)),
            Ok(L::Text("2025-08-25 11:49:59.721052".into()))
        );
        assert_eq!(
            written(Kind::Timestamp, Value::Timestamp(MIN_MICROS)),
            Ok(L::Text("0001-01-01 00:00:00.000000".into()))
        );
        assert_eq!(
            written(Kind::Text, Value::Text(Cow::Borrowed("a\tb\r\n\u{1F60A}"))),
            Ok(L::Text("a\tb\r\n\u{1F60A}".into()))
        );
        assert_eq!(
            written(Kind::Text, Value::Text(Cow::Borrowed(""))),
            Ok(L::Text(String::new()))
        );
        // jsonb's own output (keys in its order, raw UTF-8) as json.dumps writes it.
        assert_eq!(
            written(
                Kind::Json,
                Value::Json(Cow::Borrowed(
                    r#"{"a": "é😊", "b": [1, 2.5, null, true], "c": 0.00001}"#
                ))
            ),
            Ok(L::Text(
                r#"{"a": "\u00e9\ud83d\ude0a", "b": [1, 2.5, null, true], "c": 1e-05}"#.into()
            ))
        );
        assert_eq!(
            written(Kind::Json, Value::Json(Cow::Borrowed("null"))),
            Ok(L::Text("null".into()))
        );
    }

    #[test]
    fn values_the_apps_file_cannot_hold_are_refused() {
        for f in [f64::NAN, f64::INFINITY, -0.0] {
            assert!(written(Kind::Float, Value::Float(f)).is_err(), "{f}");
        }
        for t in [MIN_MICROS - 1, MAX_MICROS + 1, i64::MIN, i64::MAX] {
            assert!(
                written(Kind::Timestamp, Value::Timestamp(t)).is_err(),
                "{t}"
            );
        }
        assert!(written(Kind::Int, Value::Text(Cow::Borrowed("x"))).is_err());
    }

    #[test]
    fn publishing_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&from, "new").unwrap();
        std::fs::write(&to, "old").unwrap();
        let e = publish_no_clobber(&from, &to).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).unwrap(), b"old");
        std::fs::remove_file(&to).unwrap();
        publish_no_clobber(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"new");
        assert!(!from.exists());
    }
}
