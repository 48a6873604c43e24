//! Why a run of `ava migrate` or `ava sync` failed: [`MigrateError`], and the
//! constructors both commands share (a failed query, the reader's errors).

use std::path::PathBuf;

use ava_migrations::ErrorKind;
use ava_sink::SinkError;
use ava_source::SourceError;

use crate::reader::ReaderError;
use crate::{BadCell, Interrupted};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Migrations(#[from] ava_migrations::SchemaError),
    #[error(transparent)]
    Verify(#[from] ava_verify::VerifyError),
    #[error(
        "{url}: another `ava migrate` is running against this database; wait for it to finish"
    )]
    Busy { url: String },
    #[error(
        "{url}: another `ava migrate` or `ava sync` is running against this database: \
         {session}; wait for it to finish"
    )]
    Running { url: String, session: String },
    #[error(
        "{url}: the server sessions of another run are still there after {waited} s: {}. \
         If that run is dead (killed, or its network lost), end them — in SQL: {sql} — or \
         run again with --takeover", sessions.join("; ")
    )]
    SessionsLeft {
        url: String,
        sessions: Vec<String>,
        sql: String,
        waited: u64,
    },
    #[error("{url}: run {run} was interrupted after dropping {objects} indexes and constraints for its load; a dry run cannot check the schema until they are built again, which the next `ava migrate` (without --dry-run) does first")]
    NeedsRepair {
        url: String,
        run: i64,
        objects: usize,
    },
    #[error("{} cell(s) cannot be stored faithfully; {}. The first ones:\n{}", total, .undone.as_deref().unwrap_or("nothing was written"), cells.iter().take(20).map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n"))]
    BadCells {
        cells: Vec<BadCell>,
        total: u64,
        /// For a run that copied while it read the file: how the rows it had copied
        /// before the first bad one were undone (or why they could not be).
        undone: Option<String>,
    },
    #[error("{url} already holds rows that are not the source's ({}); nothing was written. {}", describe_counts(.tables), .interrupted.as_ref().map(|i| format!("They were left by run {} started {}, which was interrupted after {} rows: pass --resume to finish it, or --force to replace them.", i.run, i.started_at, i.rows_copied)).unwrap_or_else(|| "Use an empty database, or pass --force to replace them.".into()))]
    TargetNotEmpty {
        url: String,
        tables: Vec<(&'static str, u64)>,
        interrupted: Option<Interrupted>,
    },
    #[error("{url}: copying {table} failed: {cause}. {cleanup}")]
    Copy {
        url: String,
        table: &'static str,
        cause: Box<dyn std::error::Error + Send + Sync>,
        cleanup: String,
    },
    /// The file turned out unreadable part-way through a run that copied while reading
    /// it; the run was undone.
    #[error("{source}; {undone}")]
    SourceMidway {
        source: Box<SourceError>,
        undone: String,
    },
    #[error("the SQLite reader stopped unexpectedly: {0}")]
    Reader(String),
    #[error("cannot write the rejects file {}: {source}; choose a writable path", .path.display())]
    Rejects {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe_counts(tables: &[(&'static str, u64)]) -> String {
    tables
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t}: {n} rows"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl MigrateError {
    /// What kind of failure this is (the CLI's exit code): another run, rows already in
    /// the target or an unrepaired interrupted run refuse; bad cells are bad input; the
    /// schema's own errors keep their kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MigrateError::TargetNotEmpty { .. }
            | MigrateError::Busy { .. }
            | MigrateError::NeedsRepair { .. }
            | MigrateError::Running { .. }
            | MigrateError::SessionsLeft { .. } => ErrorKind::Refused,
            MigrateError::BadCells { .. } => ErrorKind::BadInput,
            MigrateError::Migrations(e) => e.kind(),
            MigrateError::Sink(e) => ErrorKind::of_sink(e),
            MigrateError::Source(_)
            | MigrateError::Verify(_)
            | MigrateError::Copy { .. }
            | MigrateError::SourceMidway { .. }
            | MigrateError::Reader(_)
            | MigrateError::Rejects { .. } => ErrorKind::Failed,
        }
    }
}

/// A query on the target that failed, with what it was for.
pub(crate) fn query_error(url: &str, context: &str, source: tokio_postgres::Error) -> MigrateError {
    MigrateError::Sink(SinkError::Query {
        url: url.to_string(),
        context: context.to_string(),
        source,
    })
}

/// The reader's failure as the run reports it.
pub(crate) fn reader_error(e: ReaderError, url: &str) -> MigrateError {
    match e {
        ReaderError::Source(e) => MigrateError::Source(e),
        ReaderError::Cell(cell) => MigrateError::BadCells {
            cells: vec![cell],
            total: 1,
            undone: None,
        },
        ReaderError::Stopped => MigrateError::Reader(format!("stopped while writing to {url}")),
        ReaderError::Rejects(path, source) => MigrateError::Rejects { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_bad_cells_and_schema_errors_have_their_kinds() {
        let url = || "postgres://db".to_string();
        for refused in [
            MigrateError::Busy { url: url() },
            MigrateError::Running {
                url: url(),
                session: "ava migrate 12".into(),
            },
            MigrateError::NeedsRepair {
                url: url(),
                run: 3,
                objects: 2,
            },
            MigrateError::TargetNotEmpty {
                url: url(),
                tables: vec![("customers", 1)],
                interrupted: None,
            },
            MigrateError::SessionsLeft {
                url: url(),
                sessions: Vec::new(),
                sql: String::new(),
                waited: 90,
            },
        ] {
            assert_eq!(refused.kind(), ErrorKind::Refused, "{refused}");
        }
        let bad = MigrateError::BadCells {
            cells: Vec::new(),
            total: 3,
            undone: None,
        };
        assert_eq!(bad.kind(), ErrorKind::BadInput);
        let not_current = ava_migrations::SchemaError::NotCurrent {
            url: url(),
            what: "pending".into(),
        };
        assert_eq!(
            MigrateError::Migrations(not_current).kind(),
            ErrorKind::Schema
        );
        let differs = SinkError::Schema {
            url: url(),
            problems: Vec::new(),
        };
        assert_eq!(MigrateError::Sink(differs).kind(), ErrorKind::Schema);
        assert_eq!(
            MigrateError::Reader("gone".into()).kind(),
            ErrorKind::Failed
        );
    }

    #[test]
    fn a_refusal_names_only_the_tables_with_rows() {
        assert_eq!(
            describe_counts(&[("customers", 3), ("appointments", 0), ("call_events", 1)]),
            "customers: 3 rows, call_events: 1 rows"
        );
    }

    #[test]
    fn a_refusal_says_how_to_go_on() {
        let plain = MigrateError::TargetNotEmpty {
            url: "postgres://db".into(),
            tables: vec![("customers", 2)],
            interrupted: None,
        };
        assert!(plain.to_string().contains("pass --force to replace them"));
        let interrupted = MigrateError::TargetNotEmpty {
            url: "postgres://db".into(),
            tables: vec![("customers", 2)],
            interrupted: Some(Interrupted {
                run: 12,
                started_at: "yesterday".into(),
                rows_copied: 2,
            }),
        };
        let text = interrupted.to_string();
        assert!(
            text.contains("run 12") && text.contains("--resume"),
            "{text}"
        );
    }

    #[test]
    fn a_cell_the_copy_rejected_is_reported_as_bad_input() {
        let cell = BadCell {
            table: "customers",
            id: "4".into(),
            column: "phone",
            problem: crate::Problem::Duplicate { first: "1".into() },
        };
        match reader_error(ReaderError::Cell(cell.clone()), "postgres://db") {
            MigrateError::BadCells {
                cells,
                total,
                undone,
            } => {
                assert_eq!((cells, total, undone), (vec![cell], 1, None));
            }
            other => panic!("{other}"),
        }
        let stopped = reader_error(ReaderError::Stopped, "postgres://db");
        assert_eq!(
            stopped.to_string(),
            "the SQLite reader stopped unexpectedly: stopped while writing to postgres://db"
        );
    }
}
