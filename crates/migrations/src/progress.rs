//! How a long run over the five tables — `ava migrate`, `ava sync`, `ava export` — tells
//! the CLI how far it is: one trait, implemented once by the CLI's bars and log lines.
//!
//! It lives in this crate, the lowest one every such run depends on (the runs check the
//! schema through it), so that `ava-migrate` and `ava-export` share it without
//! depending on each other.

/// Receives progress; the CLI draws bars or log lines from it.
pub trait Progress: Send + Sync {
    /// A phase of the run begins (`scanning`, `verifying the existing rows`, …).
    fn phase(&self, what: &str);
    /// Copying `table` begins (into the target, or out of it into a file); it has
    /// `rows` rows.
    fn table_started(&self, table: &'static str, rows: u64);
    /// `rows` more rows of `table` are copied (committed, or written to the file).
    fn rows_copied(&self, table: &'static str, rows: u64);
    /// `table` is done.
    fn table_finished(&self, table: &'static str);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _: &str) {}
    fn table_started(&self, _: &'static str, _: u64) {}
    fn rows_copied(&self, _: &'static str, _: u64) {}
    fn table_finished(&self, _: &'static str) {}
}
