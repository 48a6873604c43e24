//! One pass over the SQLite file for `ava sync`: the scan's rules through
//! [`crate::reader::Visit`], each row's raw hash, and — comparing it with the hash the
//! last run recorded — the rows to write ([`Changes`]), each table's sent to the writer
//! as soon as the pass has finished it.
//!
//! Invariant: the recorded hashes and the file are both in id order per table, so one
//! merge finds the new, changed and deleted rows; a row whose hash equals the recorded
//! one is checked only by the keys a change elsewhere can break.

use std::path::Path;
use std::sync::mpsc::Receiver;

use ava_catalog::TABLES;
use ava_convert::{raw_hash, Cell, Value};
use ava_sink::{encode_row, CopyBuffer};
use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use super::apply::TableWrite;
use super::{no_changes, thread, SyncOptions, SyncTable};
use crate::error::reader_error;
use crate::reader::{self, Check, ReaderError, Scan, Visit};
use crate::state::Hashes;
use crate::{MigrateError, MAX_BATCH_BYTES};

/// The writes that make the target equal to the source.
pub(super) struct Changes {
    /// Per table, the new and changed rows encoded for `COPY`, and their ids.
    pub(super) upserts: Vec<Vec<Bytes>>,
    pub(super) upsert_ids: Vec<Vec<i64>>,
    /// Per table, the ids gone from the source.
    pub(super) deletes: Vec<Vec<i64>>,
}

impl Changes {
    pub(super) fn none() -> Changes {
        Changes {
            upserts: vec![Vec::new(); TABLES.len()],
            upsert_ids: vec![Vec::new(); TABLES.len()],
            deletes: vec![Vec::new(); TABLES.len()],
        }
    }

    pub(super) fn touches(&self, table: usize) -> bool {
        !(self.upsert_ids[table].is_empty() && self.deletes[table].is_empty())
    }

    /// The upserts of every table with rows to write, parents first.
    pub(super) fn table_writes(&self) -> impl Iterator<Item = TableWrite> + '_ {
        (0..TABLES.len()).filter_map(|t| self.table_write(t))
    }

    /// What writes `table`'s new and changed rows, if it has any.
    pub(super) fn table_write(&self, table: usize) -> Option<TableWrite> {
        (!self.upserts[table].is_empty()).then(|| TableWrite {
            table,
            rows: self.upserts[table].clone(),
            deletes: self.deletes[table].clone(),
        })
    }
}

/// The scan's verdict: bad cells refuse the sync unless `--on-error skip`.
pub(super) fn accept(scan: Scan, opts: &SyncOptions) -> Result<Scan, MigrateError> {
    if scan.bad_total > 0 && opts.rejects.is_none() {
        return Err(MigrateError::BadCells {
            cells: scan.bad,
            total: scan.bad_total,
            undone: None,
        });
    }
    Ok(scan)
}

/// One pass over `path` on a blocking thread: the scan, and what [`Pass`] collected.
pub(super) async fn run_pass(
    path: &Path,
    opts: &SyncOptions,
    url: &str,
    known: Receiver<Vec<(i64, u128)>>,
    collect: Collect,
) -> Result<(Scan, Pass), MigrateError> {
    let (path, rejects) = (path.to_path_buf(), opts.rejects.clone());
    let result = tokio::task::spawn_blocking(move || {
        let mut pass = Pass::new(known, collect);
        let scan = reader::scan_file(&path, rejects.as_deref(), &mut pass)?;
        pass.finish();
        Ok::<_, ReaderError>((scan, pass))
    })
    .await
    .map_err(thread)?;
    result.map_err(|e| reader_error(e, url))
}

/// What a [`Pass`] collects besides the new hash of every row.
pub(super) enum Collect {
    /// Nothing more, and every row's keys are checked: the every-row comparison finds
    /// the rows to write.
    Hashes,
    /// The rows to write, found by comparing each row's hash with the recorded one.
    Changes {
        /// Where each table's rows to write go as soon as the table is finished (none:
        /// a dry run).
        writes: Option<UnboundedSender<TableWrite>>,
        /// Check the keys of unchanged rows too (else only after a parent lost rows).
        keys_always: bool,
    },
}

/// What one scan of the file collects for sync: the new hash of every row, and — when
/// `encode` — the rows to write, found by comparing each row's hash with `known`.
pub(super) struct Pass {
    /// The recorded hashes of the tables reached so far, and where the rest come from.
    known: Hashes,
    coming: Receiver<Vec<(i64, u128)>>,
    encode: bool,
    /// Where each table's rows to write go when it is finished.
    writes: Option<UnboundedSender<TableWrite>>,
    /// Position in `known[table]` of the next id not yet reached.
    at: usize,
    /// The row being checked: its id, hash and recorded hash.
    current: Option<(i64, u128, Option<u128>)>,
    /// Check the keys of unchanged rows too (else only after a parent lost rows).
    keys_always: bool,
    /// Per table: whether rows were deleted or rejected in this pass.
    lost: Vec<bool>,
    scratch: Vec<u8>,
    batch: CopyBuffer,
    pub(super) hashes: Hashes,
    /// The `(id, hash)` pairs of the rows to write.
    pub(super) written: Hashes,
    pub(super) changes: Changes,
    pub(super) tables: Vec<SyncTable>,
}

impl Pass {
    fn new(coming: Receiver<Vec<(i64, u128)>>, collect: Collect) -> Pass {
        let (encode, writes, keys_always) = match collect {
            Collect::Hashes => (false, None, true),
            Collect::Changes {
                writes,
                keys_always,
            } => (true, writes, keys_always),
        };
        Pass {
            known: Vec::with_capacity(TABLES.len()),
            coming,
            encode,
            writes,
            at: 0,
            current: None,
            keys_always,
            lost: vec![false; TABLES.len()],
            scratch: Vec::new(),
            batch: CopyBuffer::with_capacity(1 << 16),
            hashes: vec![Vec::new(); TABLES.len()],
            written: vec![Vec::new(); TABLES.len()],
            changes: Changes::none(),
            tables: no_changes(),
        }
    }

    /// Waits for the recorded hashes up to `table`. If they stop coming (the load
    /// failed), the rest count as empty: the load's error is what the sync reports.
    fn reach(&mut self, table: usize) {
        while self.known.len() <= table {
            let pairs = self.coming.recv().unwrap_or_default();
            // Room for about as many rows as last time: growing a vector of millions
            // of pairs costs more than the hashing (fresh pages, copies).
            self.hashes[self.known.len()].reserve(pairs.len() + pairs.len() / 16);
            self.known.push(pairs);
        }
    }

    fn flush(&mut self, table: usize) {
        let full = std::mem::replace(&mut self.batch, CopyBuffer::with_capacity(1 << 16));
        self.changes.upserts[table].push(full.finish());
    }

    /// Whether a table `table` refers to lost rows in this pass (deleted or rejected).
    fn parent_lost(&self, table: usize) -> bool {
        TABLES[table]
            .foreign_keys()
            .filter_map(|(_, parent)| TABLES.iter().position(|t| t.name == parent))
            .any(|p| self.lost[p])
    }

    fn finish(&mut self) {
        // Every table is sent: the writer hears the end.
        self.writes = None;
        for (t, deletes) in self.changes.deletes.iter().enumerate() {
            self.tables[t].deleted = deletes.len() as u64;
        }
    }
}

impl Visit for Pass {
    fn check(&mut self, table: usize, cells: &[Cell<'_>]) -> Check {
        let hash = raw_hash(cells, &mut self.scratch);
        let Cell::Integer(id) = cells[0] else {
            // Rejected by the scan: not an id.
            self.current = None;
            return Check::Full;
        };
        self.reach(table);
        let known = &self.known[table];
        // Recorded ids passed over are gone from the source.
        while self.at < known.len() && known[self.at].0 < id {
            self.changes.deletes[table].push(known[self.at].0);
            self.at += 1;
        }
        let recorded = known.get(self.at).filter(|k| k.0 == id).map(|k| k.1);
        if recorded.is_some() {
            self.at += 1;
        }
        self.current = Some((id, hash, recorded));
        if recorded != Some(hash) {
            Check::Full
        } else if self.keys_always || self.parent_lost(table) {
            // A parent may be gone: the references must be checked.
            Check::Keys
        } else {
            Check::Id
        }
    }

    fn row(&mut self, table: usize, accepted: Option<&[Value<'_>]>) -> Result<(), ReaderError> {
        let Some((id, hash, recorded)) = self.current.take() else {
            return Ok(());
        };
        match accepted {
            Some(values) => {
                self.hashes[table].push((id, hash));
                if recorded == Some(hash) || !self.encode {
                    return Ok(());
                }
                let counts = &mut self.tables[table];
                if recorded.is_some() {
                    counts.updated += 1;
                } else {
                    counts.inserted += 1;
                }
                encode_row(&mut self.batch, &TABLES[table], values);
                self.changes.upsert_ids[table].push(id);
                self.written[table].push((id, hash));
                if self.batch.len() >= MAX_BATCH_BYTES {
                    self.flush(table);
                }
            }
            // A rejected row is left as the target holds it, if it does.
            None => {
                self.lost[table] = true;
                if let Some(recorded) = recorded {
                    self.hashes[table].push((id, recorded));
                }
            }
        }
        Ok(())
    }

    fn table_done(&mut self, table: usize) -> Result<(), ReaderError> {
        self.reach(table);
        let rest = &self.known[table][self.at.min(self.known[table].len())..];
        self.changes.deletes[table].extend(rest.iter().map(|k| k.0));
        self.lost[table] |= !self.changes.deletes[table].is_empty();
        self.at = 0;
        if !self.batch.is_empty() {
            self.flush(table);
        }
        if let (Some(writes), Some(write)) = (&self.writes, self.changes.table_write(table)) {
            // A writer that stopped has failed; the sync reports its error.
            let _ = writes.send(write);
        }
        Ok(())
    }
}
