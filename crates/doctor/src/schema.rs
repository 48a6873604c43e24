//! The target's schema and data against this build: the migration history, the five
//! tables against the catalog, the id sequences, and the row counts against a SQLite
//! file.

use std::path::Path;

use ava_catalog::TABLES;

use crate::report::Checks;
use crate::DoctorError;

/// The migration history against this build, then the schema against the catalog;
/// whether both are right.
pub(crate) async fn migrations(
    report: &mut Checks<'_>,
    target: &mut ava_sink::Target,
    push: &str,
) -> bool {
    let status = match ava_migrations::status(target.client()).await {
        Ok(status) => status,
        Err(e) => {
            report.fail(
                "migrations",
                format!("migrations: {}: {e}", target.url()),
                "check that the role may read supabase_migrations.schema_migrations",
            );
            return false;
        }
    };
    let mut current = true;
    if !status.pending.is_empty() {
        current = false;
        let versions: Vec<&str> = status.pending.iter().map(|m| m.version).collect();
        report.fail(
            "migrations",
            format!(
                "migrations: {} of {} pending ({})",
                status.pending.len(),
                ava_migrations::embedded().len(),
                versions.join(", ")
            ),
            format!("run `{push}`"),
        );
    }
    if !status.unknown.is_empty() {
        current = false;
        report.fail(
            "migrations",
            format!(
                "migrations: applied but unknown to this build: {}",
                status.unknown.join(", ")
            ),
            "run the ava build (or supabase/migrations folder) they came from",
        );
    }
    if !status.changed.is_empty() {
        current = false;
        report.fail(
            "migrations",
            format!(
                "migrations: applied from a different file than this build's: {}",
                status.changed.join(", ")
            ),
            "restore the files as they were applied and put the change in a new migration",
        );
    }
    if !current {
        return false;
    }
    report.fine(
        "migrations",
        format!("migrations: all {} applied", status.applied.len()),
    );
    match target.check_schema().await {
        Ok(()) => {
            report.fine(
                "schema",
                "schema: the five tables match this build's catalog",
            );
            true
        }
        Err(e) => {
            report.fail(
                "schema",
                format!("schema: {e}"),
                "fix the differences listed (see ava db status)",
            );
            false
        }
    }
}

/// Every identity sequence past its table's largest id.
pub(crate) async fn sequences(report: &mut Checks<'_>, target: &ava_sink::Target) {
    let mut behind = Vec::new();
    for table in TABLES {
        match ava_sink::sequence_behind(target.client_ref(), &table).await {
            Ok(true) => behind.push(table.name),
            Ok(false) => {}
            Err(e) => {
                report.fail(
                    "sequences",
                    format!(
                        "sequences: {}",
                        target.error(format!("reading the sequence of {}", table.name), e)
                    ),
                    "check that the role may read the sequences",
                );
                return;
            }
        }
    }
    if behind.is_empty() {
        report.fine("sequences", "sequences: every id sequence is past max(id)");
        return;
    }
    let sql: Vec<String> = behind
        .iter()
        .map(|t| {
            format!(
                "select setval(pg_get_serial_sequence('public.{t}', 'id'), \
                 (select coalesce(max(id), 0) + 1 from public.{t}), false);"
            )
        })
        .collect();
    report.fail(
        "sequences",
        format!(
            "sequences: behind max(id) on {} (the next insert there fails on the primary key)",
            behind.join(", ")
        ),
        format!(
            "run `ava sync --sqlite FILE` (it moves them), or in SQL: {}",
            sql.join(" ")
        ),
    );
}

/// Row counts of the five tables in the SQLite file and in the target.
fn counts_of(path: &Path) -> Result<Vec<u64>, DoctorError> {
    let mut source = ava_source::Source::open(path)?;
    let snapshot = source.snapshot()?;
    Ok(TABLES
        .iter()
        .map(|t| snapshot.count(t))
        .collect::<Result<_, _>>()?)
}

pub(crate) async fn counts(report: &mut Checks<'_>, target: &ava_sink::Target, path: &Path) {
    let file = path.display();
    let source = match counts_of(path) {
        Ok(counts) => counts,
        Err(e) => {
            report.fail(
                "rows",
                format!("rows: {e}"),
                "pass the app's SQLite file as --sqlite",
            );
            return;
        }
    };
    let pg = match target.counts().await.map_err(DoctorError::from) {
        Ok(counts) => counts,
        Err(e) => {
            report.fail(
                "rows",
                format!("rows: {e}"),
                "check that the role may read the tables",
            );
            return;
        }
    };
    let differ: Vec<String> = TABLES
        .iter()
        .zip(source.iter().zip(&pg))
        .filter(|(_, (s, p))| s != p)
        .map(|(t, (s, p))| format!("{} {s} in the file, {p} in the target", t.name))
        .collect();
    if differ.is_empty() {
        let total: u64 = source.iter().sum();
        report.fine("rows", format!(
            "rows: the same counts as {file} ({total} rows in the five tables; `ava verify` compares the values)"
        ));
    } else {
        report.fail(
            "rows",
            format!("rows: {}", differ.join("; ")),
            format!(
                "run `ava sync --sqlite {file}` (or `ava migrate --sqlite {file}` into an empty \
                 target), then `ava verify --sqlite {file}`"
            ),
        );
    }
}
