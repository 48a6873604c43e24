//! The store the API reads and writes: Postgres, or the SQLite file.
//!
//! Both take one SQL text (built with [`Dialect`] where the two differ) and [`Param`]s,
//! and give rows as catalog [`Value`]s: Postgres' through the sink's binary decoder,
//! SQLite's through the migration's converters (a cell that does not convert — a file
//! the app wrote years ago may hold anything — is served as NULL and logged).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ava_catalog::{Column, Kind, Shape, SQLITE_DDL, TABLES};
use ava_convert::datetime::format_sqlalchemy;
use ava_convert::{convert, Cell, Value};
use ava_sink::PgValue;
use ava_source::Source;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

/// What failed in the store. Shown in the server's log only; clients get a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: {}", ava_sink::describe(.source))]
    Postgres {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error("{url}: no connection from the pool: {reason}")]
    Pool { url: String, reason: String },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database URL is not valid: {0}")]
    BadUrl(String),
    #[error("a blocking task failed: {0}")]
    Task(String),
    #[error("{0} is open for reading only")]
    ReadOnly(PathBuf),
    /// An existing file refused before anything wrote to it, in the words `ava migrate`
    /// uses for it.
    #[error(transparent)]
    Refused(ava_source::SourceError),
}

/// A query parameter, bound as each store needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// A point in time (µs since 1970, UTC): `timestamptz` on Postgres, the app's
    /// `YYYY-MM-DD HH:MM:SS.ffffff` text on SQLite (which compares as text).
    Time(i64),
    Null,
}

/// Where the two SQL dialects differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// `expr` case-folded the same way on both stores (Unicode lower case): ICU's on
    /// Postgres, whatever the database's locale; Rust's on SQLite (whose own `lower()`
    /// folds ASCII only), registered as `ava_fold`.
    pub fn fold(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("lower(({expr}) COLLATE \"und-x-icu\")"),
            Dialect::Sqlite => format!("ava_fold({expr})"),
        }
    }

    /// `expr` is one of the values `subquery` selects. On Postgres as `= ANY(ARRAY(…))`:
    /// the subquery runs first and the values drive an index on `expr` (as `IN (…)` the
    /// planner may hash-join against the whole table instead).
    pub fn any_of(self, expr: &str, subquery: &str) -> String {
        match self {
            Dialect::Postgres => format!("{expr} = ANY(ARRAY({subquery}))"),
            Dialect::Sqlite => format!("{expr} IN ({subquery})"),
        }
    }
}

/// Case-folds `text` as [`Dialect::fold`] does in SQL.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// The store: cheap to clone (every clone shares the pools).
#[derive(Clone)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

/// One query of [`Store::rows_together`]: its SQL, parameters, and how to read each
/// column (see [`Store::rows`]).
pub struct Select<'a> {
    pub sql: &'a str,
    pub params: &'a [Param],
    pub kinds: &'a [Kind],
}

impl<'a> Select<'a> {
    /// A query to run with [`Store::rows_together`].
    pub fn new(sql: &'a str, params: &'a [Param], kinds: &'a [Kind]) -> Select<'a> {
        Select { sql, params, kinds }
    }
}

/// Rows as values, in the order of the query's columns.
pub type Rows = Vec<Vec<Value<'static>>>;

impl Store {
    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Postgres(_) => Dialect::Postgres,
            Store::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// What the store is, for `/health` and the log: `postgres` or `sqlite`, and where
    /// (a URL without its password, or the file's path).
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Store::Postgres(pg) => ("postgres", pg.url.to_string()),
            Store::Sqlite(lite) => ("sqlite", lite.path.display().to_string()),
        }
    }

    /// Runs a query; `kinds` says how to read each column (SQLite holds no types).
    pub async fn rows(
        &self,
        sql: &str,
        params: &[Param],
        kinds: &[Kind],
    ) -> Result<Rows, StoreError> {
        match self {
            Store::Postgres(pg) => pg.rows(sql, params).await,
            Store::Sqlite(lite) => lite.rows(sql, params, kinds).await,
        }
    }

    /// Runs several queries at once, answering in the same order. On Postgres they share
    /// one pooled connection and go out together (one round trip, and one connection a
    /// request, so the pool serves as many requests as it has connections); on SQLite
    /// each runs on a read connection of its own, in parallel.
    pub async fn rows_together<const N: usize>(
        &self,
        queries: [Select<'_>; N],
    ) -> Result<[Rows; N], StoreError> {
        let answers: Vec<Rows> = match self {
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                futures_util::future::join_all(
                    queries.iter().map(|q| pg.rows_on(&client, q.sql, q.params)),
                )
                .await
                .into_iter()
                .collect::<Result<_, _>>()?
            }
            Store::Sqlite(lite) => futures_util::future::join_all(
                queries.iter().map(|q| lite.rows(q.sql, q.params, q.kinds)),
            )
            .await
            .into_iter()
            .collect::<Result<_, _>>()?,
        };
        // One answer a query, in order.
        let mut answers = answers.into_iter();
        Ok(std::array::from_fn(|_| answers.next().unwrap_or_default()))
    }

    /// Whether the store answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.rows("SELECT 1", &[], &[Kind::Int]).await.map(drop)
    }
}

/// Postgres through a pool of connections.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool,
    /// The URL with its password redacted (shared: a store is cloned for every request).
    pub(crate) url: Arc<str>,
    pub(crate) totals: std::sync::Arc<Totals>,
}

/// Exact totals of list queries, each with the state of the store it was counted in.
/// On Postgres that is the statement's snapshot ([`SNAPSHOT`]): a later statement whose
/// snapshot is the same sees exactly the same rows — no transaction has begun writing or
/// committed since — so the total holds for it and the count can be skipped; any write
/// anywhere in the database changes the snapshot. On SQLite it is a read connection's
/// `PRAGMA data_version` ([`SqliteStore::count`]). One entry serves every page, sort and
/// direction of a query.
#[derive(Default)]
pub struct Totals(std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>);

/// The statement's snapshot as text (`xmin:xmax:in-progress ids`), the key of
/// [`Totals`]. (`txid_current_snapshot`, not its newer name `pg_current_snapshot`: the
/// older servers have only it, the newer ones both.)
pub const SNAPSHOT: &str = "txid_current_snapshot()::text";

impl Totals {
    /// Entries kept at most (the map is emptied when full: each is one count away).
    const MAX: usize = 1024;

    /// The snapshot and total recorded for `query`.
    pub fn get(&self, query: &str) -> Option<(String, i64)> {
        self.lock().get(query).cloned()
    }

    /// Records `total` as counted in `snapshot`.
    pub fn put(&self, query: String, snapshot: String, total: i64) {
        let mut map = self.lock();
        if map.len() >= Self::MAX && !map.contains_key(&query) {
            map.clear();
        }
        map.insert(query, (snapshot, total));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (String, i64)>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every pooled connection's session: no incremental sorts. A search with many matches
/// walks the call log's (column, id) index in order and tests each call
/// (`read::calls`); allowed an incremental sort, Postgres may walk the app's
/// single-column index instead and read every call with the same sort value before the
/// first match — at 1,000,000 calls, the 10,000 without a start time: 77 ms instead of
/// 6. No query of the API needs one: each order it asks for has its index, or is of a
/// few rows. (Guarded: servers before 13 have no such setting.)
const NO_INCREMENTAL_SORT: &str = "SELECT set_config('enable_incremental_sort', 'off', false) \
     WHERE current_setting('enable_incremental_sort', true) IS NOT NULL";

impl PgStore {
    /// A pool of at most `size` connections to `url` (connected on first use), named
    /// `application` in `pg_stat_activity`, with TLS as the URL's `sslmode` says (the
    /// sink's [`ava_sink::ConnectParams`]).
    pub fn new(url: &str, size: usize, application: &str) -> Result<PgStore, StoreError> {
        let ava_sink::ConnectParams {
            mut config, tls, ..
        } = ava_sink::ConnectParams::from_url(url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?;
        config.application_name(application);
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .post_create(Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute(NO_INCREMENTAL_SORT)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(|e| StoreError::BadUrl(e.to_string()))?;
        Ok(PgStore {
            pool,
            url: ava_sink::redact(url).into(),
            totals: Default::default(),
        })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Pool {
            url: self.url.to_string(),
            reason: e.to_string(),
        })
    }

    pub(crate) fn error(&self, source: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.url.to_string(),
            source,
        }
    }

    async fn rows(&self, sql: &str, params: &[Param]) -> Result<Rows, StoreError> {
        let client = self.client().await?;
        self.rows_on(&client, sql, params).await
    }
}

impl PgStore {
    /// Runs a query in `tx`, a transaction on one of this pool's connections (for writes
    /// of several statements).
    pub(crate) async fn rows_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        sql: &str,
        params: &[Param],
    ) -> Result<Rows, StoreError> {
        self.rows_on(tx, sql, params).await
    }

    /// Runs a query on `client` (a pooled connection or a transaction on one), with its
    /// statement prepared once per connection.
    async fn rows_on(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        sql: &str,
        params: &[Param],
    ) -> Result<Rows, StoreError> {
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.error(e))?;
        let bound = pg_params(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            bound.iter().map(|p| p.as_ref() as _).collect();
        let rows = client
            .query(&statement, &refs)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter()
            .map(|row| pg_row(row).map_err(|e| self.error(e)))
            .collect()
    }
}

/// The parameters as Postgres values.
pub(crate) fn pg_params(
    params: &[Param],
) -> Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> {
    params
        .iter()
        .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
            match p {
                Param::Int(i) => Box::new(*i),
                Param::Float(x) => Box::new(*x),
                Param::Bool(b) => Box::new(*b),
                Param::Text(s) => Box::new(s.clone()),
                Param::Time(t) => Box::new(chrono::DateTime::from_timestamp_micros(*t)),
                Param::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

/// One Postgres row as values.
pub(crate) fn pg_row(
    row: &tokio_postgres::Row,
) -> Result<Vec<Value<'static>>, tokio_postgres::Error> {
    (0..row.len())
        .map(|i| Ok(row.try_get::<_, PgValue>(i)?.0.into_owned()))
        .collect()
}

/// The SQLite file: read-only connections for reads (WAL mode, so reads never wait for
/// the writer), one connection for writes (none when opened read-only); every call on a
/// blocking thread.
#[derive(Clone)]
pub struct SqliteStore {
    /// Shared: a store is cloned for every request.
    pub(crate) path: Arc<Path>,
    readers: Arc<Readers>,
    pub(crate) writer: Option<Arc<Mutex<Connection>>>,
}

/// A pool of read connections. Written by hand: the pool crates for rusqlite pin older
/// rusqlite releases than the one the rest of ava uses, and a semaphore and a stack of
/// connections is all this needs.
struct Readers {
    idle: Mutex<Vec<Reader>>,
    permits: Arc<Semaphore>,
    /// Totals counted on each connection, keyed by the connection's number and the
    /// query; see [`SqliteStore::count`].
    totals: Totals,
}

/// A read connection and its number in the pool.
struct Reader {
    number: usize,
    conn: Connection,
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
                    Shape::ThenId => format!("\"{}\", id", index.column),
                    Shape::ThenStartedAtId => format!("\"{}\", started_at, id", index.column),
                    // SQLite has no trigram index: its search reads every row.
                    Shape::Trigram => continue,
                };
                writer
                    .execute_batch(&format!(
                        "CREATE INDEX IF NOT EXISTS \"{}\" ON \"{}\" ({key})",
                        index.name, table.name
                    ))
                    .map_err(err)?;
            }
        }
        register_fold(&writer).map_err(err)?;
        let mut store = SqliteStore::open_read_only(path, readers)?;
        store.writer = Some(Arc::new(Mutex::new(writer)));
        Ok(store)
    }

    /// Opens an existing `path` for reading only: nothing about the file changes (not
    /// its journal mode, not its indexes), as `ava verify --api` needs of the app's file.
    /// Writes are refused ([`StoreError::ReadOnly`]).
    pub fn open_read_only(path: &Path, readers: usize) -> Result<SqliteStore, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.into(),
            source,
        };
        let mut idle = Vec::with_capacity(readers);
        for number in 0..readers.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(err)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
            register_fold(&conn).map_err(err)?;
            idle.push(Reader { number, conn });
        }
        Ok(SqliteStore {
            path: path.into(),
            readers: Arc::new(Readers {
                permits: Arc::new(Semaphore::new(idle.len())),
                idle: Mutex::new(idle),
                totals: Totals::default(),
            }),
            writer: None,
        })
    }

    pub(crate) fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    async fn rows(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> Result<Rows, StoreError> {
        let (sql, params, kinds) = (sql.to_string(), params.to_vec(), kinds.to_vec());
        self.on_reader(move |reader, _| sqlite_rows(&reader.conn, &sql, &params, &kinds))
            .await
    }

    /// The count `sql` answers (its first column), counted again only when the file may
    /// have changed since it was last counted on the same connection under `key`:
    /// SQLite's `PRAGMA data_version` moves whenever another connection commits, and
    /// the readers never write. (The version is each connection's own, hence a memo per
    /// connection.) A commit between the version's read and the count makes the next
    /// read differ, so a total is never served for a state it was not counted in.
    pub(crate) async fn count(
        &self,
        key: &str,
        sql: &str,
        params: &[Param],
    ) -> Result<i64, StoreError> {
        let (key, sql, params) = (key.to_string(), sql.to_string(), params.to_vec());
        self.on_reader(move |reader, totals| {
            let version: i64 = reader
                .conn
                .query_row("PRAGMA data_version", [], |row| row.get(0))?;
            let (version, key) = (version.to_string(), format!("{}\0{key}", reader.number));
            if let Some((_, total)) = totals.get(&key).filter(|(at, _)| *at == version) {
                return Ok(total);
            }
            let rows = sqlite_rows(&reader.conn, &sql, &params, &[Kind::Id])?;
            let total = match rows.first().map(|r| &r[0]) {
                Some(Value::Int(n)) => *n,
                _ => 0,
            };
            totals.put(key, version, total);
            Ok(total)
        })
        .await
    }

    /// Runs `work` on a read connection, on a blocking thread.
    async fn on_reader<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Reader, &Totals) -> rusqlite::Result<T> + Send + 'static,
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
            let reader = readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .ok_or_else(|| StoreError::Task("no idle SQLite connection".into()))?;
            let result = work(&reader, &readers.totals);
            readers
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(reader);
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

/// `ava_fold(text)`: [`fold`], for SQL.
fn register_fold(conn: &Connection) -> rusqlite::Result<()> {
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
    let mut statement = conn.prepare_cached(sql)?;
    let bound = sqlite_params(params);
    let mut rows = statement.query(rusqlite::params_from_iter(bound.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            values.push(sqlite_value(row.get_ref(i)?, *kind));
        }
        out.push(values);
    }
    Ok(out)
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
    use ava_source::SourceError;
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
}
