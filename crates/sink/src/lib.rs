//! The Postgres sink: the connection to the target database, the check of its schema
//! against the catalog, binary `COPY` in (encoding) and out (decoding), row counts and
//! identity sequences.
//!
//! **Invariant: a database URL is only ever shown through [`redact`].**

mod copy;
mod schema;

use std::str::FromStr;

use ava_catalog::{Table, TABLES};
use tokio_postgres::{Client, GenericClient, NoTls};

pub use copy::{copy_in, encode_row, read_rows, CopyBuffer, ReadError};
pub use schema::SchemaProblem;

/// What went wrong on the Postgres side; every message names the target (redacted).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0} is a SQLite URL: the target must be a Postgres URL such as postgresql://user:password@host:5432/postgres (the SQLite file goes in --sqlite)")]
    SqliteUrl(String),
    #[error("{url} is not a valid Postgres connection string: {source}")]
    BadUrl {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error("cannot connect to {url}: {source}. Check the URL, that the server is up and that it accepts you")]
    Connect {
        url: String,
        source: tokio_postgres::Error,
    },
    #[error("{url}: {context}: {source}")]
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

/// A URL with its password replaced by `***`, safe to print. Works for
/// `postgresql://` URLs and `key=value` connection strings alike.
pub fn redact(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("***"));
        }
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        if !pairs.is_empty() {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string();
    }
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.trim() == "password" => "password=***".to_string(),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A connected target database.
pub struct Target {
    client: Client,
    url: String,
}

/// Connects to `url` (refusing a `sqlite:` URL) and prepares the session for long
/// copies: `statement_timeout = 0`, because Supabase's default of two minutes would
/// cancel a long `COPY` part-way.
pub async fn connect(url: &str) -> Result<Target, SinkError> {
    let shown = redact(url);
    if url.trim_start().to_ascii_lowercase().starts_with("sqlite:") {
        return Err(SinkError::SqliteUrl(shown));
    }
    let mut config = tokio_postgres::Config::from_str(url).map_err(|source| SinkError::BadUrl {
        url: shown.clone(),
        source,
    })?;
    config.application_name("ava");
    let (client, connection) =
        config
            .connect(NoTls)
            .await
            .map_err(|source| SinkError::Connect {
                url: shown.clone(),
                source,
            })?;
    tokio::spawn(async move {
        // The error also surfaces on the next query, where it is reported with context.
        let _ = connection.await;
    });
    let target = Target { client, url: shown };
    target
        .execute(
            "SET statement_timeout = 0",
            "disabling statement_timeout for the copy",
        )
        .await?;
    Ok(target)
}

impl Target {
    /// The target's URL, redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection, for callers that run their own statements.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Wraps a driver error with the target and what was being done.
    pub fn error(&self, context: impl Into<String>, source: tokio_postgres::Error) -> SinkError {
        SinkError::Query {
            url: self.url.clone(),
            context: context.into(),
            source,
        }
    }

    async fn execute(&self, sql: &str, context: &str) -> Result<(), SinkError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| self.error(context, e))
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
    let row = client.query_one(&format!("SELECT {sql}"), &[]).await?;
    Ok((0..TABLES.len())
        .map(|i| row.get::<_, i64>(i) as u64)
        .collect())
}

/// Moves `table`'s identity sequence past its largest id, so the app's next insert
/// gets a fresh id (the original script left every sequence at 1).
pub async fn reset_sequence(
    client: &impl GenericClient,
    table: &Table,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('public.\"{0}\"', 'id'), \
             coalesce(max(id), 0) + 1, false) FROM public.\"{0}\"",
            table.name
        ))
        .await
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_in_every_spelling() {
        assert_eq!(
            redact("postgresql://postgres:s3cret@db.example.supabase.co:5432/postgres"),
            "postgresql://postgres:***@db.example.supabase.co:5432/postgres"
        );
        assert_eq!(
            redact("postgres://u@h/db?password=s3cret&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=h user=u password=s3cret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(redact("postgresql://u@h/db"), "postgresql://u@h/db");
    }
}
