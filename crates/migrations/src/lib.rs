//! The Postgres schema as Supabase migrations: the files of `supabase/migrations/`,
//! embedded in the binary, and applied the way the Supabase CLI applies them, so that
//! `supabase migration list` and `supabase db push` see what ava applied as applied (and
//! ava sees what the CLI applied).
//!
//! * [`embedded`]: the migrations of this build, sorted by version.
//! * [`statements`]: a file split into statements exactly as the CLI splits it.
//! * [`status`] / [`Status::is_current`]: compare a database's history with this build.
//! * [`push`]: apply what is pending, each migration in its own transaction together with
//!   its history row; refuses a history this build does not account for.
//! * [`ErrorKind`]: what kind of failure an error is (the CLI's exit code), and
//!   [`SchemaError::kind`].
//! * [`Progress`]: how the runs over the five tables (migrate, sync, export) report how
//!   far they are.
//!
//! # The history table, as the Supabase CLI keeps it
//!
//! `supabase_migrations.schema_migrations (version text primary key, statements text[],
//! name text)`, created and upgraded with the CLI's own statements
//! (`pkg/migration/history.go`: `CREATE SCHEMA IF NOT EXISTS`, `CREATE TABLE IF NOT EXISTS`,
//! two `ALTER TABLE ... ADD COLUMN IF NOT EXISTS`, under `lock_timeout = '4s'`). One row per
//! applied migration, inserted in the migration's transaction with the CLI's
//! `INSERT INTO supabase_migrations.schema_migrations(version, name, statements)
//! VALUES($1, $2, $3)`: `version` is the file name's 14 digits, `name` the rest of it
//! without `.sql`, `statements` the file split by [`statements`].
//!
//! As the CLI does (`pkg/migration/apply.go`), each migration starts with `RESET ALL`, so
//! settings a migration changes (a `search_path`, say) do not leak into the next one; this
//! also resets the caller's session settings to the connection's defaults.
//!
//! # Writing migrations
//!
//! Each migration runs inside one transaction, as with the CLI: no `BEGIN`/`COMMIT` of its
//! own, no `CREATE INDEX CONCURRENTLY` or other statements that refuse a transaction block.
//! Write `''`, not `\'`, inside `E'...'` strings (see [`statements`]). An applied migration
//! is never edited: [`push`] refuses a database whose recorded statements differ from the
//! file; put changes in a new migration.

mod kind;
mod progress;
mod split;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use include_dir::{include_dir, Dir};
use tokio_postgres::Client;

pub use kind::ErrorKind;
pub use progress::{NoProgress, Progress};
pub use split::statements;

/// The key of the session advisory lock ([`pg_advisory_lock(bigint)`][lock]) that
/// serialises pushes: the ASCII bytes of `"avamigr8"`. Two `ava` processes pushing to the
/// same database at once take turns; the second finds nothing left to apply. (The
/// Supabase CLI takes no lock of its own.)
///
/// [lock]: https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"avamigr8");

static MIGRATIONS_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../supabase/migrations");

const HISTORY_TABLE: &str = "supabase_migrations.schema_migrations";

/// The Supabase CLI's statements that create (or upgrade) the history table.
const CREATE_HISTORY: &str = "set local lock_timeout = '4s';
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;";

/// The Supabase CLI's `INSERT_MIGRATION_VERSION`.
const INSERT_HISTORY: &str =
    "insert into supabase_migrations.schema_migrations(version, name, statements) values($1, $2, $3)";

/// One migration file of `supabase/migrations/`: `<version>_<name>.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The file name's leading 14 digits (`YYYYMMDDHHMMSS`).
    pub version: &'static str,
    /// The rest of the file name, without `_` and `.sql`.
    pub name: &'static str,
    /// The file's contents.
    pub sql: &'static str,
}

impl Migration {
    /// The file's statements as the Supabase CLI splits them (and records them).
    pub fn statements(&self) -> Vec<String> {
        statements(self.sql)
    }
}

/// The migrations of this build, sorted by version.
///
/// Panics if a `.sql` file in `supabase/migrations/` is not named
/// `<14 digits>_<name>.sql`, is not UTF-8, or repeats a version: the crate's tests fail on
/// such a file before it can ship. Other files there are ignored, as the CLI ignores them.
pub fn embedded() -> &'static [Migration] {
    static SET: OnceLock<Vec<Migration>> = OnceLock::new();
    SET.get_or_init(|| {
        let files = MIGRATIONS_DIR.files().filter_map(|file| {
            let file_name = file.path().file_name()?.to_str()?;
            file_name
                .ends_with(".sql")
                .then(|| (file_name, file.contents_utf8()))
        });
        load(files).unwrap_or_else(|problem| panic!("supabase/migrations: {problem}"))
    })
}

/// Builds the sorted set from `(file name, contents)` pairs.
fn load<I>(files: I) -> Result<Vec<Migration>, String>
where
    I: IntoIterator<Item = (&'static str, Option<&'static str>)>,
{
    let mut set = Vec::new();
    for (file_name, sql) in files {
        let (version, name) = parse_file_name(file_name)?;
        let sql = sql.ok_or_else(|| format!("{file_name} is not UTF-8; save it as UTF-8"))?;
        set.push(Migration { version, name, sql });
    }
    set.sort_by_key(|m| m.version);
    if let Some(pair) = set.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(format!(
            "two migrations have version {} ({} and {}); give one of them a new timestamp",
            pair[0].version, pair[0].name, pair[1].name
        ));
    }
    Ok(set)
}

/// `<YYYYMMDDHHMMSS>_<name>.sql` → `(version, name)`.
fn parse_file_name(file_name: &str) -> Result<(&str, &str), String> {
    let malformed = || {
        format!(
            "{file_name} is not named <YYYYMMDDHHMMSS>_<name>.sql; rename it \
             (`supabase migration new <name>` makes such names)"
        )
    };
    let stem = file_name.strip_suffix(".sql").ok_or_else(malformed)?;
    let (version, name) = stem.split_once('_').ok_or_else(malformed)?;
    if version.len() != 14 || !version.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return Err(malformed());
    }
    Ok((version, name))
}

/// A row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    pub version: String,
    /// `NULL` in rows written by CLI versions older than the `name` column.
    pub name: Option<String>,
    /// `NULL` in rows written by CLI versions older than the `statements` column; such a
    /// row is never counted as changed.
    pub statements: Option<Vec<String>>,
}

/// A database's migration history compared with this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Every row of the history table, by version (empty if there is no table).
    pub applied: Vec<AppliedRow>,
    /// This build's migrations not in the history, by version.
    pub pending: Vec<&'static Migration>,
    /// Versions in the history that this build does not have.
    pub unknown: Vec<String>,
    /// Versions in the history whose recorded statements differ from this build's file.
    pub changed: Vec<String>,
}

impl Status {
    /// Nothing pending, unknown or changed: the schema is exactly this build's.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.changed.is_empty()
    }
}

/// What [`push`] did, or with `dry_run` would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub dry_run: bool,
    /// The migrations applied (with `dry_run`: that would be applied), in order.
    pub applied: Vec<&'static Migration>,
}

/// Why a migration command failed. Only `NotCurrent` and `Target` name the database (redacted);
/// add it to the others where the address is known.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{url}: the schema is not current ({what}); nothing was read or written")]
    NotCurrent { url: String, what: String },
    #[error(transparent)]
    Target(#[from] ava_sink::SinkError),
    #[error(
        "could not {action}: {}; check the connection and that the role may create schemas \
         in this database and owns {HISTORY_TABLE}, then run it again",
        ava_sink::describe(.cause)
    )]
    Database {
        action: String,
        cause: tokio_postgres::Error,
    },
    #[error(
        "the database's migration history has version(s) {} that this build of ava does not \
         have, so nothing was applied: run the ava build (or the supabase/migrations folder) \
         they came from, or, if they were removed on purpose, remove them from the history \
         with `supabase migration repair --status reverted <version>`",
        .versions.join(", ")
    )]
    Unknown { versions: Vec<String> },
    #[error(
        "migration(s) {} were applied with statements that differ from this build's file(s), \
         so nothing was applied: an applied migration must not be edited, so restore the file \
         as it was applied and put the change in a new migration; if the database does match \
         the file, record that with `supabase migration repair --status applied <version>`",
        .versions.join(", ")
    )]
    Changed { versions: Vec<String> },
    #[error(
        "migration {version}_{name} failed at statement {number} of {total}: {}\n{statement}\n\
         It was rolled back and not recorded; the migrations before it in this push were \
         applied and recorded, the ones after it were not tried. Fix the migration (or the \
         database) and push again.",
        ava_sink::describe(.cause)
    )]
    Apply {
        version: &'static str,
        name: &'static str,
        /// 1-based.
        number: usize,
        total: usize,
        statement: String,
        cause: tokio_postgres::Error,
    },
}

fn database(action: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SchemaError {
    let action = action.into();
    move |cause| SchemaError::Database { action, cause }
}

/// The database's history compared with this build. Reads only; works without a history
/// table (everything pending) and with the older CLI layouts that lack `name` or
/// `statements`.
pub async fn status(client: &Client) -> Result<Status, SchemaError> {
    status_of(client, embedded()).await
}

/// Whether the target is ready for data: every migration of this build applied and none
/// unknown or changed, and the five tables exactly as the catalog describes them (the
/// sink's schema check). `ava migrate` and `ava verify` run it first.
pub async fn ensure_ready(target: &ava_sink::Target) -> Result<(), SchemaError> {
    // Both at once (pipelined on the one connection): the server may be far away. The
    // migrations' verdict comes first, as when they ran one after the other.
    let (current, schema) = futures_util::join!(
        current(target.client_ref(), target.url()),
        target.check_schema()
    );
    current?;
    Ok(schema?)
}

/// The first half of [`ensure_ready`]: every migration of this build applied, none
/// unknown or changed.
pub async fn ensure_current(target: &ava_sink::Target) -> Result<(), SchemaError> {
    current(target.client_ref(), target.url()).await
}

/// [`ensure_current`] on a shared connection to `url` (redacted).
async fn current(client: &Client, url: &str) -> Result<(), SchemaError> {
    let status = status(client).await?;
    if !status.is_current() {
        let mut what = Vec::new();
        if !status.pending.is_empty() {
            what.push(format!("{} migration(s) pending", status.pending.len()));
        }
        if !status.unknown.is_empty() {
            what.push(format!("unknown versions {}", status.unknown.join(", ")));
        }
        if !status.changed.is_empty() {
            what.push(format!("changed versions {}", status.changed.join(", ")));
        }
        return Err(SchemaError::NotCurrent {
            url: url.to_string(),
            what: what.join("; "),
        });
    }
    Ok(())
}

/// Applies this build's pending migrations, in version order, each in its own transaction
/// together with its history row.
///
/// Holds the session advisory lock [`LOCK_KEY`] throughout (released at the end, error or
/// not), so concurrent pushes take turns. Creates the history table if needed, then
/// refuses, applying nothing, a history with versions this build does not have or with
/// recorded statements that differ from this build's files. Stops at the first migration
/// that fails; the ones before it stay applied.
///
/// With `dry_run`, reports what would be applied and changes nothing (not even the
/// history table). Pushing an up-to-date database applies nothing.
pub async fn push(client: &mut Client, dry_run: bool) -> Result<PushReport, SchemaError> {
    push_set(client, embedded(), dry_run).await
}

/// [`push`] of any set of migrations (sorted by version), so tests can push sets that
/// cannot be embedded, such as a broken one.
async fn push_set(
    client: &mut Client,
    set: &'static [Migration],
    dry_run: bool,
) -> Result<PushReport, SchemaError> {
    // One round trip: a far server (Supabase is 10–100 ms away) makes each count.
    client
        .batch_execute(&format!("select pg_advisory_lock({LOCK_KEY})"))
        .await
        .map_err(database("take the migration lock (pg_advisory_lock)"))?;
    let pushed = push_locked(client, set, dry_run).await;
    // After an error, a transaction dropped mid-way has queued its ROLLBACK before this.
    let unlocked = client
        .execute("select pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(database("release the migration lock (pg_advisory_unlock)"));
    let report = pushed?;
    unlocked?;
    Ok(report)
}

async fn push_locked(
    client: &mut Client,
    set: &'static [Migration],
    dry_run: bool,
) -> Result<PushReport, SchemaError> {
    if !dry_run {
        let tx = client
            .transaction()
            .await
            .map_err(database(format!("create {HISTORY_TABLE}")))?;
        tx.batch_execute(CREATE_HISTORY)
            .await
            .map_err(database(format!("create {HISTORY_TABLE}")))?;
        tx.commit()
            .await
            .map_err(database(format!("create {HISTORY_TABLE}")))?;
    }
    let status = status_of(client, set).await?;
    if !status.unknown.is_empty() {
        return Err(SchemaError::Unknown {
            versions: status.unknown,
        });
    }
    if !status.changed.is_empty() {
        return Err(SchemaError::Changed {
            versions: status.changed,
        });
    }
    if !dry_run && !status.pending.is_empty() {
        apply_all(client, set, &status.pending).await?;
    }
    Ok(PushReport {
        dry_run,
        applied: status.pending,
    })
}

/// Runs one migration statement by statement and records it, in one transaction.
/// A dollar-quote tag found in none of `texts`.
fn quote_tag(texts: &[String]) -> String {
    (0..)
        .map(|n| format!("$ava{n}$"))
        .find(|tag| !texts.iter().any(|t| t.contains(tag.as_str())))
        .unwrap_or_else(|| "$ava$".into())
}

/// `pending` as one simple-query string: each migration in its own transaction with its
/// history row, as [`apply`] runs it — `reset all`, its statements, the history row
/// (its values dollar-quoted), commit.
fn batch(pending: &[&'static Migration]) -> String {
    let mut sql = String::new();
    for migration in pending {
        let statements = migration.statements();
        let mut quoted = statements.clone();
        quoted.push(migration.name.to_string());
        let tag = quote_tag(&quoted);
        let q = |text: &str| format!("{tag}{text}{tag}");
        sql.push_str("reset all;\nbegin;\n");
        for statement in &statements {
            sql.push_str(statement);
            sql.push_str(";\n");
        }
        sql.push_str(&format!(
            "insert into {HISTORY_TABLE}(version, name, statements) values({}, {}, array[{}]::text[]);\ncommit;\n",
            q(migration.version),
            q(migration.name),
            statements.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
        ));
    }
    sql
}

/// Applies `pending` in one round trip ([`batch`]). Postgres stops a simple query at its
/// first error, rolling back that migration's transaction: the ones before it stay
/// applied and recorded, none after it runs. The one that failed is then applied again
/// statement by statement, which names the statement (and its cause) exactly; should it
/// pass this time, the rest follow the same way.
async fn apply_all(
    client: &mut Client,
    set: &'static [Migration],
    pending: &[&'static Migration],
) -> Result<(), SchemaError> {
    if client.batch_execute(&batch(pending)).await.is_ok() {
        return Ok(());
    }
    // The failed migration's transaction block is left aborted: end it.
    client
        .batch_execute("rollback")
        .await
        .map_err(database("roll back the failed migration"))?;
    // What is still pending after the partial run (the transaction of the failed
    // migration was rolled back, so it is).
    let status = status_of(client, set).await?;
    for migration in &status.pending {
        apply(client, migration).await?;
    }
    Ok(())
}

async fn apply(client: &mut Client, migration: &'static Migration) -> Result<(), SchemaError> {
    let label = format!("{}_{}", migration.version, migration.name);
    client
        .batch_execute("reset all")
        .await
        .map_err(database(format!("reset session settings before {label}")))?;
    let statements = migration.statements();
    let tx = client
        .transaction()
        .await
        .map_err(database(format!("begin the transaction of {label}")))?;
    for (i, statement) in statements.iter().enumerate() {
        tx.batch_execute(statement)
            .await
            .map_err(|cause| SchemaError::Apply {
                version: migration.version,
                name: migration.name,
                number: i + 1,
                total: statements.len(),
                statement: statement.clone(),
                cause,
            })?;
    }
    tx.execute(
        INSERT_HISTORY,
        &[&migration.version, &migration.name, &statements],
    )
    .await
    .map_err(database(format!("record {label} in {HISTORY_TABLE}")))?;
    tx.commit()
        .await
        .map_err(database(format!("commit {label}")))
}

async fn status_of(client: &Client, set: &'static [Migration]) -> Result<Status, SchemaError> {
    let applied = read_history(client).await?;
    let by_version: BTreeMap<&str, &AppliedRow> = applied
        .iter()
        .map(|row| (row.version.as_str(), row))
        .collect();
    let ours: BTreeSet<&str> = set.iter().map(|m| m.version).collect();
    let pending = set
        .iter()
        .filter(|m| !by_version.contains_key(m.version))
        .collect();
    let unknown = by_version
        .keys()
        .filter(|v| !ours.contains(*v))
        .map(|v| v.to_string())
        .collect();
    let changed = set
        .iter()
        .filter(|m| {
            by_version
                .get(m.version)
                .and_then(|row| row.statements.as_ref())
                .is_some_and(|recorded| *recorded != m.statements())
        })
        .map(|m| m.version.to_owned())
        .collect();
    Ok(Status {
        applied,
        pending,
        unknown,
        changed,
    })
}

/// The history table's rows by version; none if there is no table.
async fn read_history(client: &Client) -> Result<Vec<AppliedRow>, SchemaError> {
    // Typed queries: no preparing round trip (the server may be far). The table's
    // columns, and at once its rows as the Supabase CLI writes them today (with `name`
    // and `statements`): one round trip. An older table lacks columns; then the rows
    // are read again with what it has.
    let everything =
        format!("select version, name, statements from {HISTORY_TABLE} order by version");
    let (columns, rows) = futures_util::join!(
        client.query_typed_one(
            "select array_agg(attname::text) from pg_catalog.pg_attribute \
             where attrelid = to_regclass($1) and attnum > 0 and not attisdropped",
            &[(&HISTORY_TABLE, tokio_postgres::types::Type::TEXT)],
        ),
        client.query_typed(&everything, &[])
    );
    let columns: Option<Vec<String>> = columns
        .map_err(database(format!("look for {HISTORY_TABLE}")))?
        .get(0);
    let Some(columns) = columns else {
        return Ok(Vec::new());
    };
    let has = |column: &str| columns.iter().any(|c| c == column);
    let rows = match rows {
        Ok(rows) if has("name") && has("statements") => rows,
        _ => {
            let query = format!(
                "select version, {}, {} from {HISTORY_TABLE} order by version",
                if has("name") { "name" } else { "null::text" },
                if has("statements") {
                    "statements"
                } else {
                    "null::text[]"
                },
            );
            client
                .query_typed(&query, &[])
                .await
                .map_err(database(format!("read {HISTORY_TABLE}")))?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(AppliedRow {
                version: row.try_get(0)?,
                name: row.try_get(1)?,
                statements: row.try_get(2)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(database(format!("read {HISTORY_TABLE}")))
}

#[cfg(test)]
mod tests;
