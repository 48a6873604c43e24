//! Writes synthetic `ava_database.db` files: the app's exact SQLite schema, filled with
//! realistic, deterministic data that holds every hard case a migration must carry.
//!
//! Tests and load runs of the migration need source files of any size without shipping
//! real patient data. [`seed`] creates one from `(calls, seed, end)`; the same options
//! always give byte-identical table contents. Values are spelled exactly as the app's
//! SQLAlchemy models store them in SQLite: `DateTime` as
//! `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, `Boolean` as INTEGER 0/1, `Float` as REAL,
//! `JSON` as Python `json.dumps` text (ASCII-escaped, `None` as the text `null`).
//!
//! Hard cases appear at a fixed rate (by row id), so any seed of 200 calls or more holds
//! each of them: unicode, quoted and RTL names; tabs, newlines, CRLF, backslashes and
//! emoji in notes and transcripts; NULL in every nullable column of the first four
//! tables; `''` in notes, provider and escalation_reason; JSON `null` and SQL NULL in
//! `call_events.data`; legacy plain-text and NULL transcripts; anonymous calls (some
//! with no phone); calls that never ended; escalations; full-precision scores.
//!
//! # The `daily_metrics` rule
//!
//! `daily_metrics` is the fold of `call_sessions` that [`ava_catalog::daily`] pins
//! down (one row per UTC day with an ended call, `date` its midnight), so that a
//! server recomputing a day gets the same bits; the seed's `updated_at` is the same day
//! at `23:59:00.000000`.

mod generate;
mod insert;
mod stamp;
mod values;
mod vocab;

use ava_catalog::{SQLITE_DDL, TABLES};
use chrono::{Datelike, NaiveDate};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// Number of `call_sessions` rows; the other tables scale with it (about 8 rows per
    /// call in all).
    pub calls: u64,
    /// Seed of the random generator: same options, same contents.
    pub seed: u64,
    /// Last UTC day that has calls; they spread over `clamp(calls / 250, 7, 730)` days
    /// ending here.
    pub end: NaiveDate,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows per table, in [`ava_catalog::TABLES`] order.
    pub rows: Vec<(&'static str, u64)>,
}

#[derive(thiserror::Error, Debug)]
pub enum SeedError {
    #[error("{} already exists: delete it or choose another path", .0.display())]
    Exists(PathBuf),
    #[error("cannot create {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("end date {0} is outside the years 1100..=9000 the seed can spell")]
    EndOutOfRange(NaiveDate),
}

/// Creates `path` (which must not exist) with [`SQLITE_DDL`] and fills it as described
/// in the crate docs. On failure the partly written file is removed again.
pub fn seed(path: &Path, opts: &SeedOptions) -> Result<SeedReport, SeedError> {
    // Keeps every timestamp (customers a year before the first call, appointments weeks
    // after the last) a four-digit year.
    if !(1100..=9000).contains(&opts.end.year()) {
        return Err(SeedError::EndOutOfRange(opts.end));
    }
    // create_new, not an exists() check: never clobber a file that appears meanwhile.
    if let Err(source) = std::fs::File::create_new(path) {
        return Err(match source.kind() {
            std::io::ErrorKind::AlreadyExists => SeedError::Exists(path.to_path_buf()),
            _ => SeedError::Io {
                path: path.to_path_buf(),
                source,
            },
        });
    }
    write(path, opts).map_err(|source| {
        // A half-written file would only make the next attempt fail with Exists.
        let _ = std::fs::remove_file(path);
        SeedError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write(path: &Path, opts: &SeedOptions) -> rusqlite::Result<SeedReport> {
    let mut db = Connection::open(path)?;
    db.execute_batch(SQLITE_DDL)?;
    // Nobody else sees the file until we return, and on failure it is deleted: the fill
    // needs neither a journal nor fsyncs. A fixed cache keeps memory flat. Foreign keys
    // are valid by construction (the tests run `foreign_key_check`); enforcing them (the
    // bundled SQLite does by default) would cost a parent lookup per row and forbid
    // inserting a batch of calls after their events.
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -65536;",
    )?;
    let tx = db.transaction()?;
    let rows = generate::fill(&tx, opts)?;
    tx.commit()?;
    db.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")?;
    db.close().map_err(|(_, e)| e)?;
    Ok(SeedReport {
        rows: TABLES.iter().map(|t| t.name).zip(rows).collect(),
    })
}

#[cfg(test)]
mod tests;
