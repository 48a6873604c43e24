//! Test helper (dev-dependency only): gives each test its own fresh, uniquely named
//! PostgreSQL database, and drops it again when the test is done; and runs what a test
//! of file permissions needs as an unprivileged user when the tests run as root
//! ([`unprivileged`], [`rerun_unprivileged`]).
//!
//! ```no_run
//! # async fn example() {
//! let db = ava_testpg::TestDb::new(); // sync: works in #[test] and #[tokio::test] alike
//! let client = db.client().await;
//! client.batch_execute("create table t (x int)").await.unwrap();
//! # }
//! ```
//!
//! # Which server
//!
//! Found once per test process, in this order:
//!
//! 1. `TEST_DATABASE_URL`, if set and not empty;
//! 2. `DATABASE_URL`, if set and not empty;
//! 3. [`LOCAL_URL`] (`postgresql://postgres@127.0.0.1:5432/postgres`), if it answers
//!    `select 1` within a few seconds;
//! 4. otherwise a throwaway cluster ([`Cluster::start`]) from the machine's own PostgreSQL
//!    binaries, in a fresh directory under `/tmp`, on a free port, with trust auth.
//!
//! Whatever URL is chosen must let its user `CREATE DATABASE` and `DROP DATABASE`; only
//! unencrypted connections are made (this is for local and CI servers, not hosted ones).
//!
//! # Lifetimes
//!
//! A [`TestDb`] drops its database (`DROP DATABASE ... WITH (FORCE)`, so connections still
//! open are cut) in its `Drop`, which works inside or outside a tokio runtime of either
//! flavour: all blocking work runs on a short-lived std thread with its own
//! current-thread runtime. A test process that is killed leaves its `ava_test_*`
//! databases behind; they are named `ava_test_<pid>_<counter>_<random>`, so they are easy
//! to find and drop by hand.
//!
//! A throwaway cluster started by discovery lives as long as the test process: a small
//! watchdog shell process polls the test process and, once it has exited (normally or
//! not), stops the cluster with `pg_ctl stop -m immediate` and removes its directory.

mod cluster;
mod user;

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

pub use cluster::{Cluster, ClusterError};
pub use user::{rerun_unprivileged, running_as_root, unprivileged, UNPRIVILEGED_USER};

/// The machine's own server, tried when neither `TEST_DATABASE_URL` nor `DATABASE_URL`
/// is set.
pub const LOCAL_URL: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

/// How long a connection attempt may take before the server counts as not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The test server, found once per process.
struct Server {
    admin_url: String,
    /// Kept for the life of the process. Statics are never dropped: the cluster's
    /// watchdog stops it and removes its directory when the process exits.
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The test server's maintenance URL (its `postgres` database, or whatever database the
/// environment variable named): where test databases are created and dropped from.
///
/// Runs server discovery on first use (see the crate docs) and panics, saying what to do,
/// when no server can be had.
pub fn admin_url() -> &'static str {
    &SERVER.get_or_init(discover).admin_url
}

fn discover() -> Server {
    for var in ["TEST_DATABASE_URL", "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var) {
            if !url.trim().is_empty() {
                return Server {
                    admin_url: url,
                    _cluster: None,
                };
            }
        }
    }
    if answers(LOCAL_URL) {
        return Server {
            admin_url: LOCAL_URL.to_owned(),
            _cluster: None,
        };
    }
    match Cluster::start() {
        Ok(cluster) => Server {
            admin_url: cluster.url().to_owned(),
            _cluster: Some(cluster),
        },
        Err(e) => panic!(
            "ava-testpg: no PostgreSQL server for tests: TEST_DATABASE_URL and DATABASE_URL \
             are unset, {LOCAL_URL} does not answer, and a throwaway cluster could not be \
             started ({e}). Start the local server (`pg_ctlcluster --skip-systemctl-redirect \
             $(ls /etc/postgresql) main start`) or set TEST_DATABASE_URL to a server where \
             this user may CREATE DATABASE."
        ),
    }
}

/// Whether `url` accepts a connection and answers `select 1`.
fn answers(url: &str) -> bool {
    let url = url.to_owned();
    matches!(
        on_own_runtime(|| async move {
            let client = connect(&url).await?;
            client.simple_query("select 1").await
        }),
        Ok(Ok(_))
    )
}

/// A fresh database of its own for one test, dropped again when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL (or key=value string, if the server was given as one) of the new
    /// database.
    pub url: String,
    /// The database's name: `ava_test_<pid>_<counter>_<random>`.
    pub name: String,
}

impl TestDb {
    /// Creates a new, empty database on the test server (found on first use; see the crate
    /// docs).
    ///
    /// Synchronous on purpose, so the same call works from `#[test]` and from
    /// `#[tokio::test]` of either flavour: the work runs on a helper thread with its own
    /// runtime, and this call blocks until it is done. Panics, saying what to do, when no
    /// server can be had or the database cannot be created: it is a test helper.
    #[allow(clippy::new_without_default)] // creating a database is not a "default"
    pub fn new() -> TestDb {
        let admin = admin_url();
        let name = unique_name();
        let sql = format!("create database {}", quote_ident(&name));
        match on_own_runtime(|| async {
            let client = connect(admin).await?;
            client.batch_execute(&sql).await
        }) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!(
                "ava-testpg: could not create test database {name}: {}; the test server's \
                 user must be allowed to CREATE DATABASE (set TEST_DATABASE_URL to point \
                 elsewhere)",
                error_text(&e)
            ),
            Err(_) => panic!("ava-testpg: the helper thread creating {name} panicked"),
        }
        let url = with_dbname(admin, &name);
        TestDb { url, name }
    }

    /// A new connection to this database, its connection task spawned on the current
    /// tokio runtime. Panics if the connection fails.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ava-testpg: could not connect to test database {}: {}",
                    self.name,
                    error_text(&e)
                )
            });
        tokio::spawn(async move {
            // The server cuts the connection when the database is dropped; nothing to report.
            let _ = connection.await;
        });
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = admin_url();
        let sql = format!(
            "drop database if exists {} with (force)",
            quote_ident(&self.name)
        );
        let outcome = on_own_runtime(|| async {
            let client = connect(admin).await?;
            client.batch_execute(&sql).await
        });
        // Never panic in Drop (it may run while a failed test unwinds): report and go on.
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "ava-testpg: could not drop test database {}: {}; drop it by hand",
                self.name,
                error_text(&e)
            ),
            Err(_) => eprintln!(
                "ava-testpg: the helper thread dropping test database {} panicked; drop it by hand",
                self.name
            ),
        }
    }
}

/// Runs `make()`'s future to completion on a new std thread with its own current-thread
/// runtime, so it works whether or not the caller is inside a runtime (blocking inside a
/// runtime thread on work done by another runtime cannot deadlock). `Err` if that thread
/// panicked.
fn on_own_runtime<M, F>(make: M) -> std::thread::Result<F::Output>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("ava-testpg: could not build a tokio runtime")
                    .block_on(make())
            })
            .join()
    })
}

/// Connects with a timeout and spawns the connection task on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The error with its cause: the server's own message, detail and hint rather than just
/// "db error", or the I/O error behind "error connecting to server".
fn error_text(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => db.to_string(),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // RandomState is seeded randomly per process: enough to tell apart databases of a
    // reused pid.
    let random = RandomState::new().hash_one(counter) as u32;
    format!("ava_test_{}_{}_{:08x}", std::process::id(), counter, random)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `admin` with its database replaced by `dbname`. URLs get a new path; key=value strings
/// get a trailing `dbname=` (the last value of a key wins).
fn with_dbname(admin: &str, dbname: &str) -> String {
    if admin.starts_with("postgres://") || admin.starts_with("postgresql://") {
        let mut url = url::Url::parse(admin).unwrap_or_else(|e| {
            panic!("ava-testpg: the test server URL is not a valid URL ({e}); fix it")
        });
        url.set_path(&format!("/{dbname}"));
        url.into()
    } else {
        format!("{admin} dbname={dbname}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.starts_with("ava_test_"), "{name}");
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn dbname_replaces_the_database_of_either_form() {
        assert_eq!(
            with_dbname("postgresql://postgres@127.0.0.1:5432/postgres", "x"),
            "postgresql://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_dbname("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_dbname("host=/tmp user=postgres", "x"),
            "host=/tmp user=postgres dbname=x"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
