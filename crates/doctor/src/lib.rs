//! `ava doctor` as a library: one screen of checks on a target database, returned as a
//! typed [`Report`] — each [`Check`] with its name, its [`Status`] (fine, worth a look,
//! or to fix), the line that says what was found, and what to do. The CLI prints the
//! report (`✓`, `!`, `✗`) and exits 7 when anything is to fix; tests assert on it.
//!
//! The checks, in order: the kind of connection the URL makes (a Supabase transaction
//! pooler breaks migrate and sync), that the server answers, TLS, the server's version,
//! the migration history and the schema against this build's catalog, the five tables,
//! row-level security and the policies on them, what Supabase's API roles (`anon`,
//! `authenticated`) can reach, the id sequences and — given a SQLite file — the row
//! counts of both sides.
//!
//! Invariants: the doctor only reads (nothing on the target or in the file changes); a
//! check that cannot be made is itself a line (a failure or a warning saying why), so
//! [`doctor`] always returns a whole report rather than an error; the URL is shown
//! only redacted.

use std::path::{Path, PathBuf};

use ava_catalog::TABLES;

mod connection;
mod privileges;
mod report;
mod rls;
mod schema;

use connection::{connection_kind, kind_of, tls};
pub use connection::{kind, Kind};
use privileges::privileges;
use report::Checks;
pub use report::{Check, Report, Status};
use rls::rls;
use schema::{counts, migrations, sequences};

/// Why a reading step of a check failed (the check then says so in its line).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error(transparent)]
    Sink(#[from] ava_sink::SinkError),
    #[error(transparent)]
    Source(#[from] ava_source::SourceError),
}

/// What `ava doctor` checks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The target's URL (never printed as given: see [`Report::target`]).
    pub url: String,
    /// The command that brings the schema up to date, as the fixes name it (`ava db
    /// push`, with `--database-url URL` when the URL was given that way).
    pub push: String,
    /// Also compare the five tables' row counts with this SQLite file (read-only).
    pub sqlite: Option<PathBuf>,
}

/// Runs every check against `opts.url` and returns the report; `each` sees every check
/// as soon as it is made (the CLI prints them as they come).
pub async fn doctor(opts: &Options, each: impl FnMut(&Check)) -> Report {
    let mut each = each;
    let mut report = Checks::new(ava_sink::redact(&opts.url), &mut each);
    let kind = kind_of(&opts.url).map(|(kind, at)| {
        connection_kind(&mut report, kind, &at);
        kind
    });
    match ava_sink::connect(&opts.url).await {
        Ok(mut target) => {
            report.fine("reachable", "reachable");
            checks(
                &mut report,
                &mut target,
                kind,
                &opts.push,
                opts.sqlite.as_deref(),
            )
            .await;
        }
        Err(e) => report.fail(
            "reachable",
            format!("reachable: {e}"),
            "check the host, port, user and password in the URL, that the server runs and \
             that it lets this machine in (Supabase: Database → Network restrictions)",
        ),
    }
    report.done()
}

/// Every check that needs the connection.
async fn checks(
    report: &mut Checks<'_>,
    target: &mut ava_sink::Target,
    kind: Option<Kind>,
    push: &str,
    sqlite: Option<&Path>,
) {
    tls(report, target, kind).await;
    match target
        .client_ref()
        .query_one("select current_setting('server_version')", &[])
        .await
    {
        Ok(row) => report.fine(
            "server",
            format!("server: PostgreSQL {}", row.get::<_, String>(0)),
        ),
        Err(e) => report.warn(
            "server",
            format!("server: {}", target.error("reading the server version", e)),
            "nothing to do unless the other checks fail too",
        ),
    }
    let schema_ok = migrations(report, target, push).await;
    let names: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    let present: Vec<String> = match target
        .client_ref()
        .query(
            "select t from unnest($1::text[]) t where to_regclass('public.' || quote_ident(t)) is not null",
            &[&names],
        )
        .await
    {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(e) => {
            report.fail("tables", 
                format!("tables: {}", target.error("looking for the five tables", e)),
                "check that the role may read the catalog",
            );
            return;
        }
    };
    if present.is_empty() {
        report.fail(
            "tables",
            "tables: none of the five tables is there, so row-level security, privileges, \
             sequences and rows were not checked",
            format!("run `{push}`"),
        );
        return;
    }
    rls(report, target, &present).await;
    privileges(report, target).await;
    if schema_ok {
        sequences(report, target).await;
        if let Some(path) = sqlite {
            counts(report, target, path).await;
        }
    } else {
        report.warn(
            "sequences",
            "sequences and row counts: not checked until the schema matches",
            "fix the schema first (above)",
        );
    }
}
