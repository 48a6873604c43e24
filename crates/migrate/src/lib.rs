//! The migration pipeline: reader → converter → writer.
//!
//! - **Reader** (a dedicated thread, `reader`): opens the SQLite file read-only, takes
//!   one snapshot and checks every row through the converter. Into an empty target it
//!   encodes each row as soon as it is checked (one pass, the copy overlapping the
//!   scan); otherwise it scans the whole file first and, if the writer says go, reads
//!   it again to encode. Batches go over a bounded channel (memory stays flat).
//! - **Writer** (async, `writer`): checks the target and gathers the facts `plan`
//!   decides from (pure: copy, resume, replace, refuse, already migrated); `copy`
//!   records the run, drops the indexes and cleans up after a failure; `load` copies
//!   each batch with `COPY … FROM STDIN (FORMAT binary)` on a pool of connections
//!   (`pool`) and builds the indexes again.
//!
//! Shared by `ava migrate` and `ava sync`: `start` (session settings, settling with
//! another run's sessions, the advisory lock), `error` ([`MigrateError`]), `ledger`
//! (every statement on `ava.migrate_runs` and `ava.migrate_batches`), `state` (what
//! sync compares against), `deferred` (indexes and constraints taken off for a load).
//!
//! How the target never ends up half-loaded:
//! - bad cells found by the scan leave the target as it was: a run into a target that
//!   is not empty writes nothing before the scan has passed; a plain run into an empty
//!   one, which copies while it scans, empties the tables again;
//! - a plain run (empty target) commits every batch together with its progress in
//!   `ava.migrate_runs`; if it fails part-way it empties the five tables again (they
//!   were empty when it started) and marks the run failed. If it cannot (the process
//!   was killed, the connection is gone), the run stays `running` and the next run
//!   names it and refuses until `--force`;
//! - `--force` replaces the target's rows in one transaction (truncate, copy, fix
//!   sequences, commit), so a failure part-way leaves the previous rows untouched.

mod copy;
mod deferred;
mod error;
mod ledger;
mod load;
mod plan;
mod pool;
mod reader;
pub mod sessions;
mod start;
mod state;
mod sync;
mod writer;

use std::path::PathBuf;

use ava_convert::CellError;

pub use ava_migrations::Progress;
pub use error::MigrateError;
pub use sync::{sync, Compared, SyncOptions, SyncReport, SyncTable};
pub use writer::migrate;

/// Rows per COPY batch (and commit) unless `--batch-size` says otherwise: large enough
/// that per-transaction overhead vanishes, small enough that a batch stays a few MB.
pub const DEFAULT_BATCH_SIZE: u64 = 20_000;
/// A batch is also cut when its encoded size passes this many bytes (wide rows).
pub const MAX_BATCH_BYTES: usize = 8 << 20;
/// Bad cells kept for the report; all are counted.
pub const MAX_BAD_CELLS: usize = 1000;

/// What `ava migrate` should do.
#[derive(Debug, Clone)]
pub struct Options {
    pub sqlite: PathBuf,
    pub batch_size: u64,
    pub dry_run: bool,
    pub force: bool,
    /// Finish an interrupted run: copy only what its committed batches do not cover.
    pub resume: bool,
    /// `--on-error skip`: copy everything else, writing each rejected row (and the rows
    /// that refer to it) to this file as one JSON line.
    pub rejects: Option<PathBuf>,
    /// What to do about the server sessions another run left behind.
    pub settle: sessions::Settle,
}

/// Why a cell cannot be stored faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The value itself (see [`ava_convert::CellError`]).
    Cell(CellError),
    /// A foreign key pointing at a row the parent table does not have (SQLite does not
    /// enforce foreign keys unless asked).
    MissingParent { parent: &'static str, id: i64 },
    /// A value a unique column (or the id) already holds in the row with id `first`.
    Duplicate { first: String },
    /// The row it refers to is rejected (`--on-error skip`), so it is rejected too.
    ParentRejected { parent: &'static str, id: i64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Cell(e) => write!(f, "{e}"),
            Problem::MissingParent { parent, id } => {
                write!(f, "refers to {parent} id {id}, which does not exist")
            }
            Problem::Duplicate { first } => {
                write!(f, "duplicate of row {first} in a unique column")
            }
            Problem::ParentRejected { parent, id } => {
                write!(f, "refers to {parent} id {id}, which is rejected")
            }
        }
    }
}

/// A cell that cannot be stored faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCell {
    pub table: &'static str,
    pub id: String,
    pub column: &'static str,
    pub problem: Problem,
}

impl std::fmt::Display for BadCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} id {}, column {}: {}",
            self.table, self.id, self.column, self.problem
        )
    }
}

/// Per table, what the run found and did.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub copied: u64,
    /// Converted cells per column (only columns with any), see `ava_convert`.
    pub converted: Vec<(&'static str, u64)>,
    pub seconds: f64,
}

impl TableReport {
    /// Converted cells in all columns.
    pub fn converted_total(&self) -> u64 {
        self.converted.iter().map(|(_, n)| n).sum()
    }
}

/// What the run decided or would decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The target is empty: copy.
    Copy,
    /// The target holds exactly the source: nothing to do.
    AlreadyMigrated,
    /// The target holds other rows: refuse (without `--force`).
    Refuse,
    /// The target holds other rows and `--force` was given: replace them.
    Replace,
    /// The source has cells that cannot be stored: refuse.
    BadInput,
    /// `--resume` found an interrupted run: copy what its batches do not cover.
    Resume,
}

/// The result of a run that did not fail.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub action: Action,
    /// Whether anything was written.
    pub wrote: bool,
    pub tables: Vec<TableReport>,
    /// Bad cells found by the scan (the first [`MAX_BAD_CELLS`]) and how many in all.
    pub bad_cells: Vec<BadCell>,
    pub bad_total: u64,
    /// An earlier run that never finished, if one was found: (id, started at, rows).
    pub interrupted: Option<Interrupted>,
    /// Rows rejected per table (catalog order) and left out by `--on-error skip`.
    pub rejected: Vec<u64>,
    /// Tables of an already migrated target whose id sequences were behind `max(id)`
    /// (a run killed before its last step, or rows copied by another tool): moved past
    /// it, or with `--dry-run` to be moved.
    pub sequences_behind: Vec<&'static str>,
    /// The copy's wall time, first batch to last (the tables' own times overlap: the
    /// next table starts while the last batches of the one before are in flight).
    pub copy_seconds: f64,
}

/// An earlier `ava migrate` that never finished (killed, or its clean-up failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub run: i64,
    pub started_at: String,
    pub rows_copied: i64,
}
