//! The Postgres sink: the connected target database (`Target`), the check of its schema
//! against the catalog, binary `COPY` in (encoding) and out (decoding), row counts and
//! identity sequences. How to reach a database at all — the URL, TLS, redaction, decoding
//! a value — is `ava-pg`'s (re-exported here), which `ava serve` uses without this crate.
//!
//! **Invariant: a database URL is only ever shown through [`redact`].**

mod copy;
mod schema;

use ava_catalog::{Table, TABLES};
use tokio_postgres::{Client, GenericClient};

pub use ava_pg::{
    describe, redact, refuse_transaction_pooler, ConnectError, ConnectParams, PgValue, SslMode,
    KEEPALIVE_IDLE,
};
pub use copy::{
    copy_in, copy_in_after, copy_sql, copy_statement, encode_row, read_rows, read_tables,
    CopyBuffer, CopyTarget, ReadError,
};
pub use schema::SchemaProblem;

/// What went wrong on the Postgres side; every message names the target (redacted).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The URL, its TLS settings or the connection itself (see [`ConnectError`]).
    #[error(transparent)]
    Connection(#[from] ConnectError),
    #[error("{url}: {context}: {}", describe(.source))]
    Query {
        url: String,
        context: String,
        source: tokio_postgres::Error,
    },
    #[error("{url}: the target schema does not match this build of ava:\n{}\nRun `ava db push` on an empty database, or fix the differences by hand", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Schema {
        url: String,
        problems: Vec<SchemaProblem>,
    },
    #[error("{url}: table {table}: row {id}: {reason}")]
    Decode {
        url: String,
        table: &'static str,
        id: String,
        reason: String,
    },
}

/// A connected target database.
pub struct Target {
    client: Client,
    url: String,
    /// Kept (never shown) to open more connections to the same database.
    params: ConnectParams,
}

/// Connects to `url` as `ava` (see [`connect_as`]).
pub async fn connect(url: &str) -> Result<Target, SinkError> {
    connect_as(url, "ava").await
}

/// Connects to `url` (refusing a `sqlite:` URL), named `application` in
/// `pg_stat_activity` (every connection the [`Target`] opens after it too, so a run's
/// sessions can be told apart from anyone else's), and prepares the session for long
/// work far from the client ([`SESSION`]). TLS as the URL's `sslmode` says (see
/// [`ConnectParams`]); TCP keepalive on (see [`KEEPALIVE_IDLE`]).
pub async fn connect_as(url: &str, application: &str) -> Result<Target, SinkError> {
    let target = connect_unprepared(url, application).await?;
    target.prepare_session().await?;
    Ok(target)
}

/// [`connect_as`] without the session's settings, which cost a round trip of their
/// own: the caller must send [`Target::prepare_session`] before anything else, pipelined
/// with its first statements (`ava migrate` and `ava sync` do).
pub async fn connect_unprepared(url: &str, application: &str) -> Result<Target, SinkError> {
    if url.trim_start().to_ascii_lowercase().starts_with("sqlite:") {
        return Err(ConnectError::SqliteUrl.into());
    }
    let mut params = ConnectParams::from_url(url)?;
    params.config.application_name(application);
    open(params, redact(url)).await
}

/// What every session of the copy sets:
/// - `statement_timeout = 0`: Supabase's default of two minutes would cancel a long
///   `COPY` part-way;
/// - the server's own TCP keepalive, so that it notices a client whose network vanished
///   in about a minute, as the client notices the server ([`KEEPALIVE_IDLE`]);
/// - and [`CHECK_INTERVAL`].
pub const SESSION: &str = "SET statement_timeout = 0; \
    SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 10; \
    SET tcp_keepalives_count = 4";

/// `client_connection_check_interval`: the server checks every 2 s, while a statement
/// runs, that the client is still there — so a killed `ava migrate`'s index build ends
/// within seconds instead of running on (and holding its locks and its name) until it
/// finishes. Sent apart from [`SESSION`]: servers before PostgreSQL 14 do not know it.
pub const CHECK_INTERVAL: &str = "SET client_connection_check_interval = 2000";

async fn open(params: ConnectParams, url: String) -> Result<Target, SinkError> {
    let (client, connection) = params
        .config
        .connect(params.tls.clone())
        .await
        .map_err(|source| params.connect_error(url.clone(), source))?;
    tokio::spawn(async move {
        // The error also surfaces on the next query, where it is reported with context.
        let _ = connection.await;
    });
    Ok(Target {
        client,
        url,
        params,
    })
}

impl Target {
    /// Sets up the session ([`SESSION`], [`CHECK_INTERVAL`]) in one round trip, or in
    /// none when sent together with what follows it.
    pub async fn prepare_session(&self) -> Result<(), SinkError> {
        let setup = "setting up the session (statement_timeout, keepalive)";
        let (common, check) = futures_util::join!(
            self.client.batch_execute(SESSION),
            self.client.batch_execute(CHECK_INTERVAL)
        );
        common.map_err(|e| self.error(setup, e))?;
        match check {
            Err(e) if e.code() != Some(&tokio_postgres::error::SqlState::UNDEFINED_OBJECT) => {
                Err(self.error(setup, e))
            }
            _ => Ok(()),
        }
    }

    /// Another connection to the same database, set up the same way (for work done in
    /// parallel, such as building indexes).
    /// (The future owns what it needs: it may be awaited later, while the target is
    /// busy.)
    pub fn connect_another(
        &self,
    ) -> impl std::future::Future<Output = Result<Target, SinkError>> + Send + 'static {
        let (params, url) = (self.params.clone(), self.url.clone());
        async move {
            let target = open(params, url).await?;
            target.prepare_session().await?;
            Ok(target)
        }
    }

    /// A read-only, repeatable-read transaction: one consistent view of every table for
    /// as long as it lasts (the verifier and the export read through one).
    pub async fn snapshot(&mut self) -> Result<tokio_postgres::Transaction<'_>, SinkError> {
        let url = self.url.clone();
        self.client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|source| SinkError::Query {
                url,
                context: "starting a read-only snapshot".into(),
                source,
            })
    }

    /// The target's URL, redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The name every connection of this target has in `pg_stat_activity`.
    pub fn application(&self) -> &str {
        self.params
            .config
            .get_application_name()
            .unwrap_or_default()
    }

    /// The connection, for callers that run their own statements.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The connection, shared (statements only, no transactions).
    pub fn client_ref(&self) -> &Client {
        &self.client
    }

    /// Wraps a driver error with the target and what was being done.
    pub fn error(&self, context: impl Into<String>, source: tokio_postgres::Error) -> SinkError {
        SinkError::Query {
            url: self.url.clone(),
            context: context.into(),
            source,
        }
    }

    /// Checks that every catalog table, column (type, NOT NULL, default, identity),
    /// index and foreign key is on the target; lists every difference.
    pub async fn check_schema(&self) -> Result<(), SinkError> {
        let problems = schema::problems(&self.client)
            .await
            .map_err(|e| self.error("reading the target schema", e))?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SinkError::Schema {
                url: self.url.clone(),
                problems,
            })
        }
    }

    /// Row counts of the catalog tables, in catalog order.
    pub async fn counts(&self) -> Result<Vec<u64>, SinkError> {
        counts(&self.client)
            .await
            .map_err(|e| self.error("counting rows", e))
    }
}

/// Row counts of the catalog tables, in catalog order, through any client or
/// transaction.
pub async fn counts(client: &impl GenericClient) -> Result<Vec<u64>, tokio_postgres::Error> {
    let sql = TABLES
        .iter()
        .map(|t| format!("(SELECT count(*) FROM public.\"{}\")", t.name))
        .collect::<Vec<_>>()
        .join(", ");
    // Typed: no preparing round trip.
    let row = client
        .query_typed_one(&format!("SELECT {sql}"), &[])
        .await?;
    Ok((0..TABLES.len())
        .map(|i| row.get::<_, i64>(i) as u64)
        .collect())
}

/// Whether `table`'s identity sequence would hand out an id at or below its largest id
/// (the next insert would fail on the primary key).
pub async fn sequence_behind(
    client: &impl GenericClient,
    table: &Table,
) -> Result<bool, tokio_postgres::Error> {
    let sequence: String = client
        .query_one(
            &format!(
                "SELECT pg_get_serial_sequence('public.\"{}\"', 'id')",
                table.name
            ),
            &[],
        )
        .await?
        .get(0);
    let row = client
        .query_one(
            &format!(
                "SELECT (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END \
                 FROM {sequence}) <= (SELECT coalesce(max(id), 0) FROM public.\"{}\")",
                table.name
            ),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Moves `table`'s identity sequence past its largest id, so the app's next insert
/// gets a fresh id (the original script left every sequence at 1).
pub async fn reset_sequence(
    client: &impl GenericClient,
    table: &Table,
) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(&reset_sequence_sql(table)).await
}

/// The statement of [`reset_sequence`] (several can go in one round trip).
pub fn reset_sequence_sql(table: &Table) -> String {
    format!(
        "SELECT setval(pg_get_serial_sequence('public.\"{0}\"', 'id'), \
         greatest(coalesce(max(id), 0), 0) + 1, false) FROM public.\"{0}\"",
        table.name
    )
}
