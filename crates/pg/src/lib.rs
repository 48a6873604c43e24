//! Postgres access, as every part of ava reaches a database: a URL (or `key=value`
//! string) read as libpq reads it, TLS as its `sslmode` says (`tls`), the URL as it may be
//! printed ([`redact`]), a driver error with its cause ([`describe`]), and a catalog
//! column's value decoded from the binary format ([`PgValue`]). The migration's `COPY`
//! sink (`ava-sink`) and the API's pool (`ava-api`) both connect through this crate; only
//! the sink carries `COPY`.
//!
//! **Invariant: a database URL is only ever shown through [`redact`].**

mod tls;
mod value;

pub use tls::{refuse_transaction_pooler, ConnectParams, SslMode, KEEPALIVE_IDLE};
pub use value::{PgValue, PG_EPOCH_MICROS};

/// Why a database could not be reached: the URL, its TLS settings, or the connection;
/// every message names the target (redacted) and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the target is a sqlite: URL; it must be a Postgres URL such as postgresql://user:password@host:5432/postgres (the SQLite file goes in --sqlite)")]
    SqliteUrl,
    #[error("the database URL is not a valid Postgres connection string: {}", crate::describe(.0))]
    BadUrl(tokio_postgres::Error),
    #[error("the database URL is not a valid Postgres connection string: {0}")]
    BadSslParams(String),
    #[error("the database URL's sslmode={0} is not one of disable, prefer, require, verify-ca, verify-full")]
    BadSslMode(String),
    #[error("cannot read the root certificates of sslrootcert={path}: {reason}. Give the path of a PEM file holding the CA certificate that signed the server's certificate")]
    RootCert { path: String, reason: String },
    #[error("cannot connect to {url}: the certificate of {host} does not verify with sslmode={sslmode}: {}. {hint}", crate::describe(.cause))]
    Certificate {
        url: String,
        host: String,
        sslmode: SslMode,
        /// What to do about it.
        hint: &'static str,
        cause: tokio_postgres::Error,
    },
    #[error("cannot connect to {url}: the server requires TLS (its pg_hba.conf accepts only encrypted connections) but the URL says sslmode=disable: drop sslmode=disable from the URL ({})", crate::describe(.cause))]
    TlsRequired {
        url: String,
        cause: tokio_postgres::Error,
    },
    #[error("{url} is Supabase's transaction-mode pooler (port 6543), which cannot hold the session a migration needs (advisory lock, COPY, settings); use the session-mode URL instead: {session_url} (the same host and password, port 5432)")]
    TransactionPooler { url: String, session_url: String },
    #[error("cannot connect to {url}: {}. Check the URL, that the server is up and that it accepts you", crate::describe(.source))]
    Connect {
        url: String,
        source: tokio_postgres::Error,
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
pub(crate) fn redact_config(config: &tokio_postgres::Config) -> String {
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
