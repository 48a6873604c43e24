//! The store the API reads and writes: Postgres, or the SQLite file.
//!
//! Both take one SQL text (built with [`Dialect`] where the two differ) and [`Param`]s,
//! and give rows as catalog [`Value`]s: Postgres' through `ava_pg::PgValue`,
//! SQLite's through the migration's converters (a cell that does not convert — a file
//! the app wrote years ago may hold anything — is served as NULL and logged).

use std::path::PathBuf;

use ava_catalog::Kind;
use ava_convert::Value;

mod postgres;
mod sqlite;
pub use postgres::{PgStore, MAX_STATEMENTS};
pub(crate) use sqlite::sqlite_rows;
pub use sqlite::SqliteStore;

/// What failed in the store. Shown in the server's log only; clients get a generic 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: {}", ava_pg::describe(.source))]
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
    #[error("cannot make a temporary copy of {path} in {}: {source}. Set TMPDIR to a folder with room for a copy of the file", std::env::temp_dir().display())]
    Copy {
        path: PathBuf,
        source: std::io::Error,
    },
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

/// Rows one at a time, for answers too large to hold at once (every call, as CSV).
pub type RowStream =
    futures_util::stream::BoxStream<'static, Result<Vec<Value<'static>>, StoreError>>;

/// How many rows a SQLite stream reads ahead of its consumer.
const STREAM_AHEAD: usize = 256;

/// The answers of [`Store::rows_together`]'s queries, one a query in order.
fn in_order<const N: usize>(answers: Vec<Rows>) -> [Rows; N] {
    let mut answers = answers.into_iter();
    std::array::from_fn(|_| answers.next().unwrap_or_default())
}

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

    /// Runs several queries at once, answering in the same order: on Postgres sent
    /// together on one connection (one round trip), on SQLite in one read transaction
    /// on one connection (one snapshot).
    pub async fn rows_together<const N: usize>(
        &self,
        queries: [Select<'_>; N],
    ) -> Result<[Rows; N], StoreError> {
        match self {
            Store::Postgres(pg) => pg.rows_together(queries).await,
            Store::Sqlite(lite) => lite.rows_together(queries).await,
        }
    }

    /// Runs a query and hands over its rows one at a time, memory flat however many:
    /// on Postgres as they arrive on one pooled connection, on SQLite from one read
    /// connection a few hundred rows ahead. `kinds` as for [`Store::rows`].
    pub async fn stream(
        &self,
        sql: &str,
        params: &[Param],
        kinds: &[Kind],
    ) -> Result<RowStream, StoreError> {
        match self {
            Store::Postgres(pg) => pg.stream(sql, params).await,
            Store::Sqlite(lite) => Ok(lite.stream(sql, params, kinds)),
        }
    }

    /// The count `sql` answers (its first column; `params` are `$1`…), remembered under
    /// `key` with the state of the store it was counted in, and counted again only when
    /// that state has changed ([`Totals`]). On Postgres one statement compares its
    /// snapshot with the one remembered and counts only if they differ; on SQLite see
    /// `SqliteStore::count`.
    pub async fn count(&self, key: &str, sql: &str, params: &[Param]) -> Result<i64, StoreError> {
        match self {
            Store::Postgres(pg) => {
                let known = pg.totals.get(key);
                let mut with_snapshot = params.to_vec();
                with_snapshot.push(Param::Text(
                    known.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
                ));
                let rows = pg
                    .rows(
                        &format!(
                            "SELECT {SNAPSHOT}, CASE WHEN {SNAPSHOT} = ${} THEN NULL ELSE ({sql}) END",
                            with_snapshot.len()
                        ),
                        &with_snapshot,
                    )
                    .await?;
                Ok(pg.totals.settle(key, known, rows.first().map(|r| &r[..])))
            }
            Store::Sqlite(lite) => lite.count(key, sql, params).await,
        }
    }

    /// The total last counted under `key` (see [`Totals`]), whether or not it still
    /// holds: a guess of its size, for choosing how to find a page.
    pub fn last_count(&self, key: &str) -> Option<i64> {
        match self {
            Store::Postgres(pg) => pg.totals.get(key).map(|(_, n)| n),
            Store::Sqlite(lite) => lite.last_count(key),
        }
    }

    /// Whether the store answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.rows("SELECT 1", &[], &[Kind::Int]).await.map(drop)
    }
}

/// Exact totals of list queries, each with the state of the store it was counted in.
/// On Postgres that is the statement's snapshot ([`SNAPSHOT`]): a later statement whose
/// snapshot is the same sees exactly the same rows — no transaction has begun writing or
/// committed since — so the total holds for it and the count can be skipped; any write
/// anywhere in the database changes the snapshot. On SQLite it is the `PRAGMA
/// data_version` of the connection that counts (`SqliteStore::count`). One entry serves
/// every page, sort and direction of a query.
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

    /// The total of `query` from a statement's `[snapshot, total]` (the total `NULL`
    /// when the statement found the snapshot `known` unchanged and did not count),
    /// recorded when it was counted.
    pub(crate) fn settle(
        &self,
        query: &str,
        known: Option<(String, i64)>,
        answered: Option<&[Value<'_>]>,
    ) -> i64 {
        match (answered, known) {
            // The snapshot is the one counted in: the total recorded holds.
            (Some([_, Value::Null]), Some((_, total))) => total,
            (Some([Value::Text(snapshot), Value::Int(total)]), _) => {
                self.put(query.to_string(), snapshot.to_string(), *total);
                *total
            }
            _ => 0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (String, i64)>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
