//! The SQLite file: a pool of read-only connections and one writer, every call on a
//! blocking thread; rows decoded by the migration's converters.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ava_catalog::{Column, Kind, Shape, SQLITE_DDL, TABLES};
use ava_convert::datetime::format_sqlalchemy;
use ava_convert::{convert, Cell, Value};
use ava_source::Source;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use futures_util::StreamExt;

use super::{fold, in_order, Param, RowStream, Rows, Select, StoreError, Totals, STREAM_AHEAD};

/// The SQLite file: read-only connections for reads (WAL mode, so reads never wait for
/// the writer), one connection for writes (none when opened read-only); every call on a
/// blocking thread.
#[derive(Clone)]
pub struct SqliteStore {
    /// Shared: a store is cloned for every request.
    pub(crate) path: Arc<Path>,
    readers: Arc<Readers>,
    counter: Arc<Counter>,
    pub(crate) writer: Option<Arc<Mutex<Connection>>>,
    /// The temporary folder of a copy ([`Self::open_copy`]), removed with the last clone.
    _copy: Option<Arc<tempfile::TempDir>>,
}

/// A pool of read connections. Written by hand: the pool crates for rusqlite pin older
/// rusqlite releases than the one the rest of ava uses, and a semaphore and a stack of
/// connections is all this needs.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// The read connection every count runs on, one at a time, and what it counted (see
/// [`SqliteStore::count`]).
struct Counter {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    totals: Totals,
}

/// How long a statement waits for the file's lock before failing (SQLite's busy timeout).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl SqliteStore {
    /// Opens `path` (created with the app's schema if it does not exist) in WAL mode,
    /// with `readers` read-only connections, and adds ava's own indexes to it. An
    /// existing file is checked first, read-only, as `ava migrate` checks it and every
    /// page: one ava cannot serve is refused ([`StoreError::Refused`]) as it was.
    pub fn open(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.into(),
            source,
        };
        // Only a path known not to exist is new: one whose folder cannot be read is
        // checked, and refused as unreadable.
        let fresh = matches!(path.try_exists(), Ok(false));
        if !fresh {
            check(path)?;
        }
        let writer = Connection::open(path).map_err(err)?;
        writer.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(err)?;
        writer
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(err)?;
        if fresh {
            writer.execute_batch(SQLITE_DDL).map_err(err)?;
        }
        // The indexes ava adds on Postgres serve the same reads here (a call's events,
        // a customer's calls); the app ignores them.
        for table in &TABLES {
            for index in table.indexes.iter().filter(|i| !i.app) {
                let key = match index.shape {
                    Shape::Column => format!("\"{}\"", index.column),
                    // SQLite compares text bytewise (`BINARY`) already.
                    Shape::ThenId | Shape::BytewiseThenId => {
                        format!("\"{}\", id", index.column)
                    }
                    Shape::ThenStartedAtId => format!("\"{}\", started_at, id", index.column),
                    // SQLite has no trigram index: its search reads every row.
                    Shape::Trigram => continue,
                    // SQLite holds NULLs first: the (column, id) index read backwards
                    // is already this order.
                    Shape::ThenIdDescNullsLast => continue,
                };
                writer
                    .execute_batch(&format!(
                        "CREATE INDEX IF NOT EXISTS \"{}\" ON \"{}\" ({key})",
                        index.name, table.name
                    ))
                    .map_err(err)?;
            }
        }
        set_up(&writer).map_err(err)?;
        let mut store = SqliteStore::open_read_only(path, readers)?;
        store.writer = Some(Arc::new(Mutex::new(writer)));
        Ok(store)
    }

    /// Copies the existing `path` with SQLite's online backup — one consistent
    /// snapshot; the file itself is only read, as `ava migrate` reads it — into a
    /// temporary folder, and serves reads from the copy with ava's indexes added, as
    /// [`Self::open`] would to the file. For reads over a file that must not change:
    /// `ava verify --api` (without those indexes the customers list by last call tests
    /// every call against every other). Writes are refused ([`StoreError::ReadOnly`]);
    /// errors and [`Store::describe`](super::Store::describe) name the original; the copy
    /// is removed when the last clone of the store is dropped.
    pub fn open_copy(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let copy_err = |source| StoreError::Copy {
            path: path.into(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("ava-copy-")
            .tempdir()
            .map_err(copy_err)?;
        let copy = dir.path().join("copy.db");
        Source::open(path)
            .and_then(|source| source.backup_to(&copy))
            .map_err(StoreError::Refused)?;
        let mut store = SqliteStore::open(&copy, readers)?;
        store.writer = None;
        store.path = path.into();
        store._copy = Some(Arc::new(dir));
        Ok(store)
    }

    /// Opens an existing `path` for reading only: nothing about the file changes (not
    /// its journal mode, not its indexes). Writes are refused ([`StoreError::ReadOnly`]).
    pub fn open_read_only(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.into(),
            source,
        };
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            set_up(&conn)?;
            Ok(conn)
        };
        let idle = (0..readers.max(1))
            .map(|_| open())
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(err)?;
        Ok(SqliteStore {
            path: path.into(),
            readers: Arc::new(Readers {
                permits: Arc::new(Semaphore::new(idle.len())),
                idle: Mutex::new(idle),
            }),
            counter: Arc::new(Counter {
                conn: Arc::new(tokio::sync::Mutex::new(open().map_err(err)?)),
                totals: Totals::default(),
            }),
            writer: None,
            _copy: None,
        })
    }

    pub(crate) fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    pub(super) async fn rows(
        &self,
        sql: &str,
        params: &[Param],
        kinds: &[Kind],
    ) -> Result<Rows, StoreError> {
        let [rows] = self
            .rows_together([Select::new(sql, params, kinds)])
            .await?;
        Ok(rows)
    }

    /// The answers of `queries`, in order, from one read of the file: one connection,
    /// one transaction (so one snapshot: a commit between them cannot give a call
    /// without its events), one trip to a blocking thread.
    pub(super) async fn rows_together<const N: usize>(
        &self,
        queries: [Select<'_>; N],
    ) -> Result<[Rows; N], StoreError> {
        let owned = queries.map(|q| (q.sql.to_string(), q.params.to_vec(), q.kinds.to_vec()));
        self.on_reader(move |conn| {
            // Several statements need a transaction to share a snapshot; one does not.
            let read = if N > 1 {
                Some(conn.unchecked_transaction()?)
            } else {
                None
            };
            let mut answers = Vec::with_capacity(N);
            for (sql, params, kinds) in &owned {
                answers.push(sqlite_rows(conn, sql, params, kinds)?);
            }
            drop(read);
            Ok(in_order(answers))
        })
        .await
    }

    /// The rows of `sql` one at a time, read on a blocking thread from one read
    /// connection (held until the rows end or the stream is dropped), at most
    /// [`STREAM_AHEAD`] rows ahead of the reader: memory stays flat however many rows.
    pub(super) fn stream(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> RowStream {
        let (send, recv) = tokio::sync::mpsc::channel(STREAM_AHEAD);
        let (sql, params, kinds) = (sql.to_string(), params.to_vec(), kinds.to_vec());
        let store = self.clone();
        tokio::spawn(async move {
            let rows = send.clone();
            let read = store
                .on_reader(move |conn| {
                    // A dropped stream (the client went away) ends the read.
                    each_row(conn, &sql, &params, &kinds, |row| {
                        rows.blocking_send(Ok(row)).is_ok()
                    })
                })
                .await;
            if let Err(e) = read {
                let _ = send.send(Err(e)).await;
            }
        });
        futures_util::stream::unfold(recv, |mut recv| async move {
            recv.recv().await.map(|row| (row, recv))
        })
        .boxed()
    }

    /// The count `sql` answers (its first column), counted again only when the file may
    /// have changed since it was last counted under `key`: SQLite's `PRAGMA data_version`
    /// moves whenever another connection commits, and no reader writes. Every count runs
    /// on one connection of its own (the version is each connection's own), one at a
    /// time: requests that ask for the same total at once wait for the first to count it
    /// rather than each scanning the file. A commit between the version's read and the
    /// count makes the next read differ, so a total is never served for a state it was
    /// not counted in.
    pub(crate) async fn count(
        &self,
        key: &str,
        sql: &str,
        params: &[Param],
    ) -> Result<i64, StoreError> {
        let (key, sql, params) = (key.to_string(), sql.to_string(), params.to_vec());
        let counter = self.counter.clone();
        // Held by the blocking task: a request given up half-way leaves it to finish.
        let conn = counter.conn.clone().lock_owned().await;
        let result = tokio::task::spawn_blocking(move || {
            let version: i64 = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
            let version = version.to_string();
            if let Some((_, total)) = counter.totals.get(&key).filter(|(at, _)| *at == version) {
                return Ok(total);
            }
            let rows = sqlite_rows(&conn, &sql, &params, &[Kind::Id])?;
            let total = match rows.first().map(|r| &r[0]) {
                Some(Value::Int(n)) => *n,
                _ => 0,
            };
            counter.totals.put(key, version, total);
            Ok(total)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
        result.map_err(|e| self.error(e))
    }

    /// The total last counted under `key` (see [`Self::count`]), whether or not it
    /// still holds.
    pub(crate) fn last_count(&self, key: &str) -> Option<i64> {
        self.counter.totals.get(key).map(|(_, n)| n)
    }

    /// Runs `work` on a read connection, on a blocking thread.
    async fn on_reader<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let readers = self.readers.clone();
        // The blocking task takes a connection and puts it back itself, holding the
        // permit meanwhile: a request given up half-way (the client went away) cannot
        // lose a connection from the pool.
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .ok_or_else(|| StoreError::Task("no idle SQLite connection".into()))?;
            let result = work(&conn);
            readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            Ok(result)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        result.map_err(|e| self.error(e))
    }
}

impl SqliteStore {
    /// Runs `work` on the writer connection in one `BEGIN IMMEDIATE` transaction (the
    /// file's write lock from its first statement), on a blocking thread: committed when
    /// `work` returns `Ok`, rolled back otherwise.
    pub(crate) async fn write<T, E>(
        &self,
        work: impl FnOnce(&SqliteStore, &Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        let writer = self
            .writer
            .clone()
            .ok_or_else(|| StoreError::ReadOnly(self.path.to_path_buf()))?;
        tokio::task::spawn_blocking(move || {
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| store.error(e))?;
            let out = work(&store, &tx)?;
            tx.commit().map_err(|e| store.error(e))?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Refuses an existing file before anything writes to it (the writer would switch it to
/// WAL mode and add indexes, then fail on it): the checks of `ava migrate`
/// ([`Source::open`]: a readable SQLite file, not locked, no unfinished write, the app's
/// tables and columns), and every page ([`Source::quick_check`]: the writer's index
/// builds and the routes read pages `Source::open` never reaches). Both read-only.
///
/// A refused file is left as it was, including its folder: reading a WAL-mode file
/// read-only creates its `-wal` and `-shm`, and a read-only connection cannot remove
/// them when it closes (that takes a checkpoint, a write). If the check created the
/// `-wal`, [`remove_wal_files`] removes both. A `-wal` that was there is left alone, and
/// so is the `-shm` reading it needed: it may hold commits, which removing it would take
/// a checkpoint into the refused file to keep.
fn check(path: &Path) -> Result<(), StoreError> {
    let wal = ava_source::sibling(path, "-wal");
    let had_wal = wal.exists();
    // The source is dropped (its connection closed) before any clean-up.
    let checked = Source::open(path).and_then(|source| source.quick_check());
    if checked.is_err() && !had_wal && wal.exists() {
        remove_wal_files(path);
    }
    checked.map_err(StoreError::Refused)
}

/// Removes the `-wal` and `-shm` beside `path` the way SQLite does when the last
/// connection to a WAL-mode file closes: a read-write connection (never creating the
/// file) reads the header, which opens the WAL, and checkpoints and deletes both as it
/// closes. With the `-wal` empty (only the check opened it) the checkpoint copies
/// nothing into the file. SQLite deletes them only under the file's exclusive lock, so
/// never while another program has the file open (its `-shm` is then its own). Nothing
/// rolls back a hot journal here: a read-only reader stops at one before it opens the
/// WAL, so the check never creates these files beside a hot journal.
fn remove_wal_files(path: &Path) {
    let closed = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|conn| {
        // Fails on a file whose schema is damaged, after the WAL is open.
        let _ = conn.query_row("PRAGMA schema_version", [], |_| Ok(()));
        conn.close().map_err(|(_, e)| e)
    });
    if let Err(e) = closed {
        tracing::warn!(
            "{}: could not remove the -wal and -shm the check created: {e}",
            path.display()
        );
    }
}

/// How much of the file a connection reads through a memory map (`PRAGMA mmap_size`):
/// the most the bundled SQLite allows (its `SQLITE_MAX_MMAP_SIZE`, just under 2 GiB). A search reads pages all over the file (each
/// call's customer); through its own small page cache each was a system call and a
/// copy, half the CPU of a search. Mapped, every connection reads the kernel's one
/// cached copy. SQLite remaps when another connection changes the file's size; only a
/// program other than SQLite truncating the file could fault a reader.
const MMAP_SIZE: i64 = 0x7fff_0000;

/// Readies a connection for the API's statements: `ava_fold(text)` ([`fold`], for SQL),
/// and plans that do not depend on the values bound. Without the latter SQLite
/// prepares a statement again whenever a value it might plan by changes (an id, a
/// `LIMIT`, a `LIKE` pattern): every call detail and page did, a third of the CPU of a
/// detail. The API's statements are written for their indexes whatever the values.
fn set_up(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    conn.create_scalar_function(
        "ava_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => Some(fold(&String::from_utf8_lossy(t))),
                ValueRef::Null => None,
                other => Some(fold(&format!("{other:?}"))),
            })
        },
    )
}

/// The parameters as SQLite values.
pub(crate) fn sqlite_params(params: &[Param]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p {
            Param::Int(i) => V::Integer(*i),
            Param::Float(x) => V::Real(*x),
            Param::Bool(b) => V::Integer(i64::from(*b)),
            Param::Text(s) => V::Text(s.clone()),
            Param::Time(t) => V::Text(format_sqlalchemy(*t)),
            Param::Null => V::Null,
        })
        .collect()
}

/// Runs a query on `conn`; each column read as its `kinds` entry says.
pub(crate) fn sqlite_rows(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    kinds: &[Kind],
) -> rusqlite::Result<Rows> {
    let mut out = Vec::new();
    each_row(conn, sql, params, kinds, |row| {
        out.push(row);
        true
    })?;
    Ok(out)
}

/// Runs a query on `conn`, handing each row to `row` (each column read as its `kinds`
/// entry says) until it returns `false` or the rows end.
fn each_row(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    kinds: &[Kind],
    mut row: impl FnMut(Vec<Value<'static>>) -> bool,
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    let bound = sqlite_params(params);
    let mut rows = statement.query(rusqlite::params_from_iter(bound.iter()))?;
    while let Some(found) = rows.next()? {
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            values.push(sqlite_value(found.get_ref(i)?, *kind));
        }
        if !row(values) {
            break;
        }
    }
    Ok(())
}

/// One SQLite cell as the value of a column of `kind`, by the migration's rules.
fn sqlite_value(cell: ValueRef<'_>, kind: Kind) -> Value<'static> {
    let cell = match cell {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Integer(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(t) => Cell::Text(t),
        ValueRef::Blob(b) => Cell::Blob(b),
    };
    let column = Column {
        name: "value",
        kind,
        nullable: true,
        default: None,
    };
    match convert(&column, cell) {
        Ok(converted) => converted.value.into_owned(),
        Err(e) => {
            tracing::warn!("a stored value the API cannot read is served as null: {e}");
            Value::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use ava_source::SourceError;
    use std::path::PathBuf;
    use std::time::Duration;

    /// The bytes of `path` and the names of the files beside it.
    fn as_found(path: &Path) -> (Vec<u8>, Vec<std::ffi::OsString>) {
        let dir = path.parent().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        (std::fs::read(path).unwrap(), names)
    }

    /// A file seeded with `calls` calls at `dir/name`.
    fn seeded(dir: &Path, name: &str, calls: u64) -> PathBuf {
        let path = dir.join(name);
        let end = chrono::NaiveDate::from_ymd_opt(2025, 8, 25).unwrap();
        let options = ava_seed::SeedOptions {
            calls,
            seed: 1,
            end,
        };
        ava_seed::seed(&path, &options).unwrap();
        path
    }

    /// A seeded file at `dir/name` (rollback journal, or WAL mode with no `-wal` or
    /// `-shm` beside it, as a server leaves it when it stops), with its middle page
    /// overwritten: header and schema intact.
    fn damaged(dir: &Path, name: &str, wal: bool) -> PathBuf {
        let path = seeded(dir, name, 200);
        if wal {
            let conn = Connection::open(&path).unwrap();
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let middle = bytes.len() / page / 2;
        bytes[middle * page..(middle + 1) * page].fill(0xa5);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn an_existing_file_is_checked_before_anything_writes_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        let before = as_found(&empty);
        let e = SqliteStore::open(&empty, 1).err().unwrap();
        assert!(
            matches!(e, StoreError::Refused(SourceError::Empty(_))),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            Source::open(&empty).err().unwrap().to_string(),
            "not the source's message"
        );
        assert!(as_found(&empty) == before, "the empty file was changed");

        for (name, wal) in [("damaged.db", false), ("damaged-wal.db", true)] {
            let path = damaged(dir.path(), name, wal);
            if !wal {
                // What `Source::open` reads (header, schema) is intact: it takes the
                // quick_check to see the damaged page.
                drop(Source::open(&path).unwrap());
            }
            let before = as_found(&path);
            let e = SqliteStore::open(&path, 1).err().unwrap();
            assert!(
                matches!(&e, StoreError::Refused(SourceError::Corrupt { what, .. }) if what == "every page"),
                "{name}: {e}"
            );
            assert!(!e.to_string().contains('\n'), "{name}: not one line: {e}");
            // Byte for byte, and no -wal or -shm left beside it.
            assert!(as_found(&path) == before, "{name}: the file was changed");
        }

        // A sound file passes the check and is served.
        let sound = seeded(dir.path(), "sound.db", 20);
        assert!(SqliteStore::open(&sound, 1).unwrap().writer.is_some());
    }

    #[tokio::test]
    async fn requests_given_up_half_way_keep_the_pool_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Sqlite(SqliteStore::open(&dir.path().join("a.db"), 2).unwrap());
        // About a tenth of a second of work on a blocking thread.
        let slow =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) \
                    SELECT count(*) FROM n";
        for _ in 0..6 {
            let given_up =
                tokio::time::timeout(Duration::from_millis(1), store.rows(slow, &[], &[Kind::Id]))
                    .await;
            assert!(
                given_up.is_err(),
                "the query finished before it was given up"
            );
        }
        // Once the abandoned queries end, every connection is back.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..4 {
            let rows = store.rows("SELECT 7", &[], &[Kind::Id]).await.unwrap();
            assert_eq!(rows, vec![vec![Value::Int(7)]]);
        }
    }

    #[tokio::test]
    async fn every_connection_plans_without_bound_values_and_reads_through_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&seeded(dir.path(), "a.db", 20), 2).unwrap();
        let config = |conn: &Connection| -> rusqlite::Result<(bool, i64)> {
            Ok((
                conn.db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?,
                conn.pragma_query_value(None, "mmap_size", |r| r.get(0))?,
            ))
        };
        // Both readers (each request takes one; two at once hold both), the writer and
        // the counter.
        let (a, b) = tokio::join!(
            store.on_reader(move |c| {
                std::thread::sleep(Duration::from_millis(50));
                config(c)
            }),
            store.on_reader(move |c| {
                std::thread::sleep(Duration::from_millis(50));
                config(c)
            })
        );
        let writer = config(&store.writer.as_ref().unwrap().lock().unwrap()).unwrap();
        let counter = config(&*store.counter.conn.lock().await).unwrap();
        for found in [a.unwrap(), b.unwrap(), writer, counter] {
            assert_eq!(found, (true, MMAP_SIZE));
        }
    }

    #[tokio::test]
    async fn a_copy_reads_with_avas_indexes_and_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = seeded(dir.path(), "app.db", 50);
        let before = as_found(&path);
        let store = SqliteStore::open_copy(&path, 2).unwrap();
        let copy = store._copy.as_ref().unwrap().path().to_path_buf();
        // The copy has every index ava adds; the file none of them.
        let ava_indexes = |conn: &Connection| -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND name IN ('ix_customers_name_id', 'ix_call_sessions_customer_id_started_at_id') \
                 ORDER BY name",
            )?;
            let names = stmt.query_map([], |r| r.get(0))?.collect();
            names
        };
        let in_copy = store.on_reader(ava_indexes).await.unwrap();
        assert_eq!(in_copy.len(), 2, "{in_copy:?}");
        let in_file = ava_indexes(&Connection::open(&path).unwrap()).unwrap();
        assert!(in_file.is_empty(), "{in_file:?}");
        assert_eq!(as_found(&path), before, "the file changed");
        // The copy's rows are the file's; writes are refused, naming the file.
        let store = Store::Sqlite(store);
        let calls = store
            .rows("SELECT count(*) FROM call_sessions", &[], &[Kind::Int])
            .await
            .unwrap();
        assert_eq!(calls[0][0], Value::Int(50));
        assert_eq!(store.describe().1, path.display().to_string());
        let Store::Sqlite(lite) = &store else {
            unreachable!()
        };
        let refused = lite
            .write(|_, _| Ok::<_, StoreError>(()))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StoreError::ReadOnly(ref p) if p == &path),
            "{refused}"
        );
        assert!(copy.exists());
        drop(store);
        assert!(!copy.exists(), "the copy outlived its store");
        assert_eq!(as_found(&path), before, "the file changed");
    }
}
