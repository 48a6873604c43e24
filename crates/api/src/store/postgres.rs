//! Postgres through a pool of connections, rows decoded by the sink's binary decoder.

use std::sync::Arc;

use ava_convert::Value;
use ava_pg::PgValue;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};

use futures_util::{StreamExt, TryStreamExt};

use super::{in_order, Param, RowStream, Rows, Select, StoreError, Totals};

/// Postgres through a pool of connections.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool,
    /// The URL with its password redacted (shared: a store is cloned for every request).
    pub(crate) url: Arc<str>,
    pub(crate) totals: std::sync::Arc<Totals>,
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

/// The most statements a pooled connection keeps prepared. Most of the API's texts are
/// fixed; an unfiltered calls page's vary with its page and size (`read::calls`), so
/// without a bound a client asking for page after page would grow every connection's
/// cache, and the server's memory, without end.
pub const MAX_STATEMENTS: usize = 200;

impl PgStore {
    /// A pool of at most `size` connections to `url` (connected on first use), named
    /// `application` in `pg_stat_activity`, with TLS as the URL's `sslmode` says (the
    /// [`ava_pg::ConnectParams`]).
    pub fn new(url: &str, size: usize, application: &str) -> Result<PgStore, StoreError> {
        let ava_pg::ConnectParams {
            mut config, tls, ..
        } = ava_pg::ConnectParams::from_url(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
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
            // Checked as a connection is taken: the cache is emptied (its statements
            // closed) rather than grow without end.
            .post_recycle(Hook::sync_fn(|client, _| {
                if client.statement_cache.size() > MAX_STATEMENTS {
                    client.statement_cache.clear();
                }
                Ok(())
            }))
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
            url: ava_pg::redact(url).into(),
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

    pub(super) async fn rows(&self, sql: &str, params: &[Param]) -> Result<Rows, StoreError> {
        let client = self.client().await?;
        self.rows_on(&client, sql, params).await
    }

    /// The rows of `sql` as they arrive, on one pooled connection held until they end
    /// or the stream is dropped.
    pub(super) async fn stream(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<RowStream, StoreError> {
        let client = self.client().await?;
        let rows = self.query_on(&client, sql, params).await?;
        let store = self.clone();
        Ok(
            futures_util::stream::unfold((client, Box::pin(rows)), move |(client, mut rows)| {
                let store = store.clone();
                async move {
                    let row = match rows.next().await? {
                        Ok(row) => pg_row(&row).map_err(|e| store.error(e)),
                        Err(e) => Err(store.error(e)),
                    };
                    Some((row, (client, rows)))
                }
            })
            .boxed(),
        )
    }

    /// The answers of `queries`, in order: on one pooled connection, sent together (one
    /// round trip, and one connection a request, so the pool serves as many requests as
    /// it has connections).
    pub(super) async fn rows_together<const N: usize>(
        &self,
        queries: [Select<'_>; N],
    ) -> Result<[Rows; N], StoreError> {
        let client = self.client().await?;
        let answers = futures_util::future::join_all(
            queries
                .iter()
                .map(|q| self.rows_on(&client, q.sql, q.params)),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        Ok(in_order(answers))
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
    pub(super) async fn rows_on(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        sql: &str,
        params: &[Param],
    ) -> Result<Rows, StoreError> {
        let rows: Vec<tokio_postgres::Row> = self
            .query_on(client, sql, params)
            .await?
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        rows.iter()
            .map(|row| pg_row(row).map_err(|e| self.error(e)))
            .collect()
    }

    /// Sends a query on `client` (its statement prepared once per connection); its rows
    /// as they come.
    async fn query_on(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        sql: &str,
        params: &[Param],
    ) -> Result<tokio_postgres::RowStream, StoreError> {
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.error(e))?;
        let bound = pg_params(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            bound.iter().map(|p| p.as_ref() as _).collect();
        client
            .query_raw(&statement, refs)
            .await
            .map_err(|e| self.error(e))
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
