//! The SQLite source: opens the app's `ava_database.db` read-only and streams the five
//! catalog tables' rows, in id order, from one consistent snapshot.
//!
//! **Invariant: the source file is never written.** It is opened with
//! `SQLITE_OPEN_READ_ONLY`; every read of a run happens inside one read transaction
//! (a [`Snapshot`]), so rows the app commits meanwhile are not seen half-way (in WAL
//! mode the app keeps writing; in rollback-journal mode its writes wait, up to its own
//! busy timeout, until the snapshot ends).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ava_catalog::{IdRange, Table, MAX_COLUMNS, TABLES};
use ava_convert::Cell;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// What went wrong reading the SQLite file; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("SQLite file {0} does not exist: pass --sqlite PATH (or run from the folder holding ava_database.db)")]
    NotFound(PathBuf),
    #[error("cannot open {path} as a SQLite database: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} has no table {table}: is this the Ava app's database?")]
    MissingTable { path: PathBuf, table: &'static str },
    #[error("{path}: table {table} has no column {column}: is this the Ava app's database?")]
    MissingColumn {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
    },
    #[error("{path}: table {table} has a row whose id is {id}, not an integer: fix that row in the file")]
    BadId {
        path: PathBuf,
        table: &'static str,
        id: String,
    },
    #[error("reading {table} from {path}: {source}")]
    Read {
        path: PathBuf,
        table: &'static str,
        source: rusqlite::Error,
    },
}

/// The app's SQLite file, opened read-only.
pub struct Source {
    conn: Connection,
    path: PathBuf,
}

impl Source {
    /// Opens `path` read-only and checks that every catalog table and column is there
    /// (extra tables and columns are ignored; columns are selected by name, so their
    /// order does not matter).
    pub fn open(path: &Path) -> Result<Source, SourceError> {
        if !path.is_file() {
            return Err(SourceError::NotFound(path.to_path_buf()));
        }
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        // Wait for a writer's lock rather than failing at once.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        let source = Source {
            conn,
            path: path.to_path_buf(),
        };
        source.check_schema()?;
        Ok(source)
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_schema(&self) -> Result<(), SourceError> {
        let open_err = |source| SourceError::Open {
            path: self.path.clone(),
            source,
        };
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(open_err)?;
        for table in &TABLES {
            let columns: Vec<String> = stmt
                .query_map([table.name], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(open_err)?;
            if columns.is_empty() {
                return Err(SourceError::MissingTable {
                    path: self.path.clone(),
                    table: table.name,
                });
            }
            if let Some(c) = table
                .columns
                .iter()
                .find(|c| !columns.iter().any(|n| n == c.name))
            {
                return Err(SourceError::MissingColumn {
                    path: self.path.clone(),
                    table: table.name,
                    column: c.name,
                });
            }
        }
        Ok(())
    }

    /// Starts the read transaction every read of a run goes through.
    pub fn snapshot(&mut self) -> Result<Snapshot<'_>, SourceError> {
        let read_err = |source| SourceError::Read {
            path: self.path.clone(),
            table: "sqlite_master",
            source,
        };
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(read_err)?;
        // A deferred transaction takes its snapshot at the first read: take it now.
        tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(read_err)?;
        Ok(Snapshot {
            tx,
            path: &self.path,
        })
    }
}

/// One consistent read view of the file; rolled back (it never writes) when dropped.
pub struct Snapshot<'c> {
    tx: Transaction<'c>,
    path: &'c Path,
}

impl Snapshot<'_> {
    fn read_err(&self, table: &Table) -> impl Fn(rusqlite::Error) -> SourceError + '_ {
        let name = table.name;
        move |source| SourceError::Read {
            path: self.path.to_path_buf(),
            table: name,
            source,
        }
    }

    /// The number of rows in `table`.
    pub fn count(&self, table: &Table) -> Result<u64, SourceError> {
        self.tx
            .query_row(
                &format!("SELECT count(*) FROM \"{}\"", table.name),
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.read_err(table))
    }

    /// Calls `f` with each row of `table` in `range`, in id order, as cells in catalog
    /// column order. Stops at the first error `f` returns.
    pub fn for_each<E: From<SourceError>>(
        &self,
        table: &Table,
        range: IdRange,
        mut f: impl FnMut(&[Cell<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let read_err = self.read_err(table);
        let sql = format!(
            "SELECT {} FROM \"{}\" WHERE {} ORDER BY id",
            table.column_list(),
            table.name,
            range.condition()
        );
        let mut stmt = self.tx.prepare(&sql).map_err(&read_err)?;
        let mut rows = stmt.query([]).map_err(&read_err)?;
        let n = table.columns.len();
        while let Some(row) = rows.next().map_err(&read_err)? {
            // On the stack: no allocation per row.
            let mut cells = [Cell::Null; MAX_COLUMNS];
            for (i, cell) in cells[..n].iter_mut().enumerate() {
                *cell = match row.get_ref(i).map_err(&read_err)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Integer(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(v) => Cell::Text(v),
                    ValueRef::Blob(v) => Cell::Blob(v),
                };
            }
            f(&cells[..n])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(sql: &str) -> tempfile::TempPath {
        let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        path
    }

    #[test]
    fn reads_rows_in_id_order_within_a_range() {
        let path = file_with(ava_catalog::SQLITE_DDL);
        let conn = Connection::open(&path).unwrap();
        for id in [3, 1, 2, 5] {
            conn.execute(
                "INSERT INTO customers (id, name, phone) VALUES (?1, 'n', ?2)",
                rusqlite::params![id, format!("+1{id}")],
            )
            .unwrap();
        }
        let mut source = Source::open(&path).unwrap();
        let snap = source.snapshot().unwrap();
        let customers = &TABLES[0];
        assert_eq!(snap.count(customers).unwrap(), 4);
        let mut ids = Vec::new();
        snap.for_each::<SourceError>(customers, IdRange::inclusive(2, 3), |row| {
            assert_eq!(row.len(), customers.columns.len());
            if let Cell::Integer(id) = row[0] {
                ids.push(id);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn a_snapshot_does_not_see_later_writes() {
        let path = file_with(&format!(
            "PRAGMA journal_mode=WAL; {}",
            ava_catalog::SQLITE_DDL
        ));
        let writer = Connection::open(&path).unwrap();
        writer
            .execute(
                "INSERT INTO customers (id, name, phone) VALUES (1, 'a', '1')",
                [],
            )
            .unwrap();
        let mut source = Source::open(&path).unwrap();
        let snap = source.snapshot().unwrap();
        writer
            .execute(
                "INSERT INTO customers (id, name, phone) VALUES (2, 'b', '2')",
                [],
            )
            .unwrap();
        assert_eq!(snap.count(&TABLES[0]).unwrap(), 1);
    }

    #[test]
    fn names_what_is_missing() {
        let missing = Path::new("/nonexistent/ava_database.db");
        assert!(matches!(
            Source::open(missing),
            Err(SourceError::NotFound(_))
        ));

        let path = file_with("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
        let e = Source::open(&path).err().unwrap();
        assert!(
            matches!(
                e,
                SourceError::MissingColumn {
                    table: "customers",
                    column: "name",
                    ..
                }
            ),
            "{e}"
        );

        let ddl = format!("{} DROP TABLE daily_metrics;", ava_catalog::SQLITE_DDL);
        let path = file_with(&ddl);
        let e = Source::open(&path).err().unwrap();
        assert!(
            matches!(
                e,
                SourceError::MissingTable {
                    table: "daily_metrics",
                    ..
                }
            ),
            "{e}"
        );

        let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        std::fs::write(
            &path,
            b"this is not a database, just some text that is long enough",
        )
        .unwrap();
        let e = Source::open(&path).err().unwrap();
        assert!(e.to_string().contains("cannot open"), "{e}");
    }

    #[test]
    fn never_writes_the_file() {
        let path = file_with(ava_catalog::SQLITE_DDL);
        let before = std::fs::read(&path).unwrap();
        let mut source = Source::open(&path).unwrap();
        {
            let snap = source.snapshot().unwrap();
            for t in &TABLES {
                snap.count(t).unwrap();
                snap.for_each::<SourceError>(t, IdRange::ALL, |_| Ok(()))
                    .unwrap();
            }
        }
        drop(source);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
