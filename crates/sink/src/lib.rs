//! The Postgres sink: the connection to the target database, the check of its schema
//! against the catalog, binary `COPY` in (encoding) and out (decoding), row counts and
//! identity sequences.
//!
//! **Invariant: a database URL is only ever shown through [`redact`].**

mod copy;
mod schema;
mod tls;

use ava_catalog::{Table, TABLES};
use tokio_postgres::{Client, GenericClient};

pub use copy::{
    copy_in, copy_in_after, copy_sql, copy_statement, encode_row, read_rows, read_tables,
    CopyBuffer, CopyTarget, PgValue, ReadError,
};
pub use schema::SchemaProblem;
pub use tls::{refuse_transaction_pooler, ConnectParams, SslMode, KEEPALIVE_IDLE};

/// What went wrong on the Postgres side; every message names the target (redacted).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("the target is a sqlite: URL; it must be a Postgres URL such as postgresql://user:password@host:5432/postgres (the SQLite file goes in --sqlite)")]
    SqliteUrl,
    #[error("the database URL is not a valid Postgres connection string: {}", describe(.0))]
    BadUrl(tokio_postgres::Error),
    #[error("the database URL is not a valid Postgres connection string: {0}")]
    BadSslParams(String),
    #[error("the database URL's sslmode={0} is not one of disable, prefer, require, verify-ca, verify-full")]
    BadSslMode(String),
    #[error("cannot read the root certificates of sslrootcert={path}: {reason}. Give the path of a PEM file holding the CA certificate that signed the server's certificate")]
    RootCert { path: String, reason: String },
    #[error("cannot connect to {url}: the certificate of {host} does not verify with sslmode={sslmode}: {}. {hint}", describe(.cause))]
    Certificate {
        url: String,
        host: String,
        sslmode: SslMode,
        /// What to do about it.
        hint: &'static str,
        cause: tokio_postgres::Error,
    },
    #[error("cannot connect to {url}: the server requires TLS (its pg_hba.conf accepts only encrypted connections) but the URL says sslmode=disable: drop sslmode=disable from the URL ({})", describe(.cause))]
    TlsRequired {
        url: String,
        cause: tokio_postgres::Error,
    },
    #[error("{url} is Supabase's transaction-mode pooler (port 6543), which cannot hold the session a migration needs (advisory lock, COPY, settings); use the session-mode URL instead: {session_url} (the same host and password, port 5432)")]
    TransactionPooler { url: String, session_url: String },
    #[error("cannot connect to {url}: {}. Check the URL, that the server is up and that it accepts you", describe(.source))]
    Connect {
        url: String,
        source: tokio_postgres::Error,
    },
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

/// The target as it may be printed: rebuilt from the parsed connection string as
/// `postgresql://user:***@host:port/dbname`, so no password (in the user info, a
/// `password=` parameter or a `key=value` string, quoted or not) can ever show. A string
/// that does not parse is not echoed at all. Hand-written because it must accept exactly
/// what the driver accepts, which only the driver's own parser does.
pub fn redact(url: &str) -> String {
    match tls::parse(url) {
        Ok((config, _)) => redact_config(&config),
        Err(_) => "<the database URL, which does not parse>".into(),
    }
}

/// [`redact`] of a parsed configuration.
fn redact_config(config: &tokio_postgres::Config) -> String {
    let mut out = String::from("postgresql://");
    if let Some(user) = config.get_user() {
        out.push_str(user);
        if config.get_password().is_some() {
            out.push_str(":***");
        }
        out.push('@');
    }
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    out.push_str(&hosts.join(","));
    if let Some(db) = config.get_dbname() {
        out.push('/');
        out.push_str(db);
    }
    out
}

/// A driver error with its cause: the server's own message (and where in the statement)
/// rather than just "db error", or the I/O error behind "error communicating with the
/// server".
pub fn describe(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => {
            let mut text = db.to_string();
            if let Some(tokio_postgres::error::ErrorPosition::Original(at)) = db.position() {
                text.push_str(&format!(" (at character {at})"));
            }
            text
        }
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
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
        return Err(SinkError::SqliteUrl);
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

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_in_every_spelling() {
        for url in [
            "postgresql://postgres:s3cret@db.example.supabase.co:5432/postgres",
            "postgresql://postgres:s3c#r/e?t@db.example.supabase.co:5432/postgres",
            "postgres://postgres@db.example.supabase.co:5432/postgres?password=s3cret&sslmode=require",
            "host=db.example.supabase.co port=5432 user=postgres password=s3cret dbname=postgres",
            "host=db.example.supabase.co port=5432 user=postgres password = s3cret dbname=postgres",
            "host=db.example.supabase.co port=5432 user=postgres password='s3 cret' dbname=postgres",
        ] {
            assert_eq!(
                redact(url),
                "postgresql://postgres:***@db.example.supabase.co:5432/postgres",
                "{url}"
            );
        }
        assert_eq!(redact("postgresql://u@h/db"), "postgresql://u@h:5432/db");
        let garbage = redact("postgresql://u:s3cret@h:54x2/db");
        assert!(!garbage.contains("s3cret"), "{garbage}");
    }
}
