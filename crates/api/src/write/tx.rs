//! One transaction on either store ([`Tx`]): a pooled Postgres connection in
//! `READ COMMITTED`, or the SQLite file's writer connection in `BEGIN IMMEDIATE`; and
//! the per-day lock that serializes the transactions folding one day.

use ava_catalog::Kind;
use ava_convert::Value;

use crate::store::{Dialect, Param, PgStore, Rows, SqliteStore, StoreError};

/// The advisory lock class of the per-day fold (`pg_advisory_xact_lock(class, day)`;
/// the two-key lock space never overlaps the one-key locks of `ava migrate`).
const FOLD_LOCK: i32 = i32::from_be_bytes(*b"avad");

/// One transaction on either store.
pub(super) trait Tx {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; `kinds` says how to read each column it returns.
    async fn rows(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> Result<Rows, StoreError>;

    /// Waits until no other transaction folds `day` (days since 1970), and keeps them
    /// waiting until this one ends.
    async fn lock_day(&self, day: i64) -> Result<(), StoreError>;
}

pub(super) struct PgTx<'a> {
    pub(super) store: &'a PgStore,
    pub(super) tx: deadpool_postgres::Transaction<'a>,
}

impl Tx for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn rows(&self, sql: &str, params: &[Param], _: &[Kind]) -> Result<Rows, StoreError> {
        self.store.rows_in(&self.tx, sql, params).await
    }

    async fn lock_day(&self, day: i64) -> Result<(), StoreError> {
        // Days of years 1–9999 fit an int4 many times over.
        let day = i32::try_from(day).unwrap_or(i32::MAX);
        self.tx
            .execute("SELECT pg_advisory_xact_lock($1, $2)", &[&FOLD_LOCK, &day])
            .await
            .map(drop)
            .map_err(|e| self.store.error(e))
    }
}

pub(super) struct LiteTx<'a> {
    pub(super) store: &'a SqliteStore,
    pub(super) conn: &'a rusqlite::Connection,
}

impl Tx for LiteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn rows(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> Result<Rows, StoreError> {
        crate::store::sqlite_rows(self.conn, sql, params, kinds).map_err(|e| self.store.error(e))
    }

    async fn lock_day(&self, _day: i64) -> Result<(), StoreError> {
        // `BEGIN IMMEDIATE` took the file's write lock: nobody else writes meanwhile.
        Ok(())
    }
}

pub(super) fn opt_text(value: &Option<String>) -> Param {
    value.clone().map_or(Param::Null, Param::Text)
}

pub(super) fn first(rows: Rows) -> Option<Vec<Value<'static>>> {
    rows.into_iter().next()
}
