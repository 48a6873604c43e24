//! The reader: a dedicated thread that owns the SQLite connection (rusqlite's
//! connection is not `Sync`, and its reads block), scans, then streams batches.

use std::collections::hash_map::{Entry, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use ava_catalog::{IdRange, Kind, Table, TABLES};
use ava_convert::{convert_columns, convert_row, raw_hash, row_id, Cell, Value};
use ava_sink::{encode_row, CopyBuffer};
use ava_source::{file_digest, file_stat, Snapshot, Source, SourceError};
use bytes::Bytes;
use tokio::sync::mpsc;
use xxhash_rust::xxh3::xxh3_128;

use crate::{BadCell, Problem, MAX_BAD_CELLS, MAX_BATCH_BYTES};

/// What the scan found, from the snapshot the copy will read.
pub(crate) struct Scan {
    /// The file's digest, read just before the snapshot ([`file_digest`]), and its
    /// stat ([`file_stat`]); `None` when the caller reads them itself.
    pub digest: Option<u128>,
    pub stat: Option<String>,
    pub counts: Vec<u64>,
    /// Per table, converted cells per column (catalog order).
    pub converted: Vec<Vec<u64>>,
    pub bad: Vec<BadCell>,
    pub bad_total: u64,
    /// Per table, the ids of the rejected rows, sorted.
    pub rejected: Vec<Vec<i64>>,
}

impl Scan {
    /// [`Mode::Stream`]'s stand-in until the verdict: only the row counts.
    pub(crate) fn counted(counts: Vec<u64>) -> Scan {
        Scan {
            digest: None,
            stat: None,
            converted: vec![Vec::new(); counts.len()],
            rejected: vec![Vec::new(); counts.len()],
            counts,
            bad: Vec::new(),
            bad_total: 0,
        }
    }

    /// Rows rejected in all tables.
    pub(crate) fn rejected_rows(&self) -> i64 {
        self.rejected.iter().map(|ids| ids.len() as i64).sum()
    }
}

/// Messages from the reader to the writer.
pub(crate) enum Msg {
    /// [`Mode::Stream`]: the rows per table, sent before the first batch (for progress).
    Counted(Vec<u64>),
    /// What the scan found. [`Mode::ScanFirst`]: before any batch; [`Mode::Stream`]:
    /// after the last one, as the verdict on everything sent.
    Scanned(Scan),
    Batch {
        table: usize,
        data: Bytes,
        rows: u64,
        /// The batch's first and last ids (rows are in id order).
        ids: (i64, i64),
        /// The rows' raw hashes, packed for `ava.source_hashes` ([`crate::state::pack`]).
        hashes: Bytes,
    },
    TableDone(usize),
    Failed(ReaderError),
}

#[derive(Debug)]
pub(crate) enum ReaderError {
    Source(SourceError),
    /// A cell the scan accepted was rejected by the copy: cannot happen with one
    /// snapshot, reported rather than ignored.
    Cell(BadCell),
    /// The writer hung up.
    Stopped,
    /// The rejects file could not be written.
    Rejects(PathBuf, std::io::Error),
}

impl From<SourceError> for ReaderError {
    fn from(e: SourceError) -> Self {
        ReaderError::Source(e)
    }
}

/// How the reader goes through the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Scan every row, send [`Msg::Scanned`], then wait for the writer's [`Go`] and read
    /// the file again, encoding: nothing is written before the whole file is known good.
    ScanFirst,
    /// One pass: each row is checked and, while no row has been rejected, encoded and
    /// sent at once, so the copy overlaps the scan. [`Msg::Scanned`] comes last; if it
    /// found anything wrong, the batches stopped at the first rejected row and the writer
    /// undoes what it wrote (used only for a plain run into an empty target, which it can
    /// empty again).
    Stream,
}

/// Starts the reader: see [`Mode`]. In [`Mode::ScanFirst`], `true` on `go` streams the
/// batches, `false` (or the writer going away) ends it.
pub(crate) fn spawn(
    path: PathBuf,
    batch_size: u64,
    rejects: Option<PathBuf>,
    mode: Mode,
) -> (mpsc::Receiver<Msg>, std_mpsc::Sender<Option<Go>>) {
    // Room for a batch per writer connection and one more being built.
    let (tx, rx) = mpsc::channel(4);
    let (go_tx, go_rx) = std_mpsc::channel();
    std::thread::Builder::new()
        .name("ava-sqlite-reader".into())
        .spawn(move || {
            if let Err(e) = run(&path, batch_size, rejects.as_deref(), mode, &tx, &go_rx) {
                let _ = tx.blocking_send(Msg::Failed(e));
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
    (rx, go_tx)
}

/// The writer's word to copy, and which id ranges per table (in catalog order, sorted)
/// are already in the target and must be skipped (`--resume`).
pub(crate) struct Go {
    pub skip: Vec<Vec<(i64, i64)>>,
}

fn run(
    path: &Path,
    batch_size: u64,
    rejects: Option<&Path>,
    mode: Mode,
    tx: &mpsc::Sender<Msg>,
    go: &std_mpsc::Receiver<Option<Go>>,
) -> Result<(), ReaderError> {
    let stat = file_stat(path);
    let digest = file_digest(path)?;
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    if mode == Mode::Stream {
        let counts = TABLES
            .iter()
            .map(|t| snap.count(t))
            .collect::<Result<_, _>>()?;
        send(tx, Msg::Counted(counts))?;
        let mut encoder = Encoder {
            tx,
            batch: Batcher::new(batch_size),
            scratch: Vec::new(),
            hash: 0,
            rejected: false,
        };
        let mut scan = scan(&snap, rejects, &mut encoder)?;
        (scan.digest, scan.stat) = (Some(digest), Some(stat));
        return send(tx, Msg::Scanned(scan));
    }
    let mut scan = scan(&snap, rejects, &mut ())?;
    (scan.digest, scan.stat) = (Some(digest), Some(stat));
    send(tx, Msg::Scanned(scan))?;
    let Ok(Some(go)) = go.recv() else {
        return Ok(());
    };
    for (i, table) in TABLES.iter().enumerate() {
        let mut changed = vec![0u64; table.columns.len()];
        let mut batch = Batcher::new(batch_size);
        let mut scratch = Vec::new();
        // Rows come in id order, so one pass over the sorted ranges finds the skipped.
        let mut skip = go.skip.get(i).map_or(&[][..], Vec::as_slice);
        snap.for_each::<ReaderError>(table, IdRange::ALL, |cells| {
            if let Cell::Integer(id) = cells[0] {
                while skip.first().is_some_and(|r| r.1 < id) {
                    skip = &skip[1..];
                }
                if skip.first().is_some_and(|r| r.0 <= id) {
                    return Ok(());
                }
            }
            let values = convert_row(table, cells, &mut changed).map_err(|mut bad| {
                let (column, error) = bad.swap_remove(0);
                ReaderError::Cell(BadCell {
                    table: table.name,
                    id: row_id(cells),
                    column,
                    problem: Problem::Cell(error),
                })
            })?;
            batch.push(tx, i, &values, raw_hash(cells, &mut scratch))
        })?;
        batch.flush(tx, i)?;
        send(tx, Msg::TableDone(i))?;
    }
    Ok(())
}

/// The batch being built: rows encoded for binary COPY, their first and last ids and
/// their packed raw hashes; sent when it holds `size` rows or [`MAX_BATCH_BYTES`].
struct Batcher {
    size: u64,
    rows: CopyBuffer,
    ids: (i64, i64),
    hashes: Vec<u8>,
}

impl Batcher {
    fn new(size: u64) -> Batcher {
        Batcher {
            size,
            rows: CopyBuffer::with_capacity(MAX_BATCH_BYTES / 4),
            ids: (0, 0),
            hashes: Vec::new(),
        }
    }

    /// Adds a row of `TABLES[table]` (its values, and the raw hash of its cells), sending
    /// the batch when it is full.
    fn push(
        &mut self,
        tx: &mpsc::Sender<Msg>,
        table: usize,
        values: &[Value<'_>],
        hash: u128,
    ) -> Result<(), ReaderError> {
        if let Value::Int(id) = values[0] {
            self.ids = if self.rows.is_empty() {
                (id, id)
            } else {
                (self.ids.0, id)
            };
            crate::state::pack(&mut self.hashes, id, hash);
        }
        encode_row(&mut self.rows, &TABLES[table], values);
        if self.rows.rows() >= self.size || self.rows.len() >= MAX_BATCH_BYTES {
            self.flush(tx, table)?;
        }
        Ok(())
    }

    /// Sends what the batch holds, if anything.
    fn flush(&mut self, tx: &mpsc::Sender<Msg>, table: usize) -> Result<(), ReaderError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(self, Batcher::new(self.size));
        let rows = full.rows.rows();
        send(
            tx,
            Msg::Batch {
                table,
                data: full.rows.finish(),
                rows,
                ids: full.ids,
                hashes: full.hashes.into(),
            },
        )
    }
}

/// [`Mode::Stream`]: encodes and sends the rows the scan accepts, as it accepts them,
/// until it rejects one; from then on it only lets the scan go on, to list every
/// problem.
struct Encoder<'a> {
    tx: &'a mpsc::Sender<Msg>,
    batch: Batcher,
    scratch: Vec<u8>,
    /// The raw hash of the row being checked.
    hash: u128,
    rejected: bool,
}

impl Visit for Encoder<'_> {
    fn check(&mut self, _table: usize, cells: &[Cell<'_>]) -> Check {
        if !self.rejected {
            self.hash = raw_hash(cells, &mut self.scratch);
        }
        Check::Full
    }

    fn row(&mut self, table: usize, accepted: Option<&[Value<'_>]>) -> Result<(), ReaderError> {
        match accepted {
            _ if self.rejected => Ok(()),
            Some(values) => self.batch.push(self.tx, table, values, self.hash),
            None => {
                self.rejected = true;
                Ok(())
            }
        }
    }

    fn table_done(&mut self, table: usize) -> Result<(), ReaderError> {
        if self.rejected {
            return Ok(());
        }
        self.batch.flush(self.tx, table)?;
        send(self.tx, Msg::TableDone(table))
    }
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<(), ReaderError> {
    tx.blocking_send(msg).map_err(|_| ReaderError::Stopped)
}

/// Opens `path` and scans one snapshot of it with `visit` (see [`scan`]).
pub(crate) fn scan_file(
    path: &Path,
    rejects: Option<&Path>,
    visit: &mut dyn Visit,
) -> Result<Scan, ReaderError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    scan(&snap, rejects, visit)
}

/// How much of a row the scan checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Every cell converted and checked, and the row against the others.
    Full,
    /// A row known unchanged since it was written: only what other rows can break — the
    /// id, the references and the unique columns.
    Keys,
    /// A row known unchanged whose references cannot have broken either: only its id.
    /// (Its unique values are not remembered: the caller checks a changed row's against
    /// the target instead.)
    Id,
}

/// What a scan's caller sees of each row.
pub(crate) trait Visit {
    /// How much of this row to check.
    fn check(&mut self, _table: usize, _cells: &[Cell<'_>]) -> Check {
        Check::Full
    }
    /// After each row is checked: its values if it is accepted (every value, only the
    /// keys, or none, as [`Visit::check`] said), `None` if it is rejected. An error
    /// ends the scan.
    fn row(&mut self, _table: usize, _accepted: Option<&[Value<'_>]>) -> Result<(), ReaderError> {
        Ok(())
    }
    /// After the last row of a table. An error ends the scan.
    fn table_done(&mut self, _table: usize) -> Result<(), ReaderError> {
        Ok(())
    }
}

/// A scan that only checks.
impl Visit for () {}

/// Converts every row without writing: counts, converted cells, bad cells — including
/// what only shows across rows and would make a `COPY` fail part-way: duplicate ids,
/// duplicates in unique columns, and foreign keys to missing parents. A row with any of
/// these is *rejected*; with `rejects` (`--on-error skip`) each rejected row is written
/// there as one JSON line, and the children of a rejected row are rejected too.
fn scan(
    snap: &Snapshot<'_>,
    rejects: Option<&Path>,
    visit: &mut dyn Visit,
) -> Result<Scan, ReaderError> {
    let mut scan = Scan {
        digest: None,
        stat: None,
        counts: Vec::new(),
        converted: Vec::new(),
        bad: Vec::new(),
        bad_total: 0,
        rejected: Vec::new(),
    };
    let mut out = match rejects {
        Some(path) => Some((
            path,
            std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| ReaderError::Rejects(path.into(), e))?,
            ),
        )),
        None => None,
    };
    // Per table, the ids of the rows other tables refer to (empty for the others); rows
    // come in id order, so these are sorted and a binary search finds a parent.
    let mut parent_ids: Vec<Vec<i64>> = Vec::new();
    for (t, table) in TABLES.iter().enumerate() {
        let mut check = TableCheck::new(table, out.is_some());
        let mut rows = 0u64;
        let is_parent = TABLES
            .iter()
            .any(|t| t.foreign_keys().any(|(_, p)| p == table.name));
        let mut ids = Vec::new();
        let mut rejected = Vec::new();
        snap.for_each::<ReaderError>(table, IdRange::ALL, |cells| {
            rows += 1;
            let how = visit.check(t, cells);
            let (problems, values) = check.row(cells, how, &parent_ids, &scan.rejected);
            visit.row(t, values.as_deref().filter(|_| problems.is_empty()))?;
            // A row with a bad cell still exists, so its children are not orphans.
            if let Cell::Integer(id) = cells[0] {
                if is_parent && ids.last().is_none_or(|last| *last < id) {
                    ids.push(id);
                }
                if !problems.is_empty() && rejected.last().is_none_or(|last| *last < id) {
                    rejected.push(id);
                }
            }
            if problems.is_empty() {
                return Ok(());
            }
            scan.bad_total += problems.len() as u64;
            if let Some((path, file)) = &mut out {
                write_reject(file, table, cells, &problems)
                    .map_err(|e| ReaderError::Rejects((*path).into(), e))?;
            }
            for (column, problem) in problems {
                if scan.bad.len() < MAX_BAD_CELLS {
                    scan.bad.push(BadCell {
                        table: table.name,
                        id: row_id(cells),
                        column,
                        problem,
                    });
                }
            }
            Ok(())
        })?;
        visit.table_done(t)?;
        parent_ids.push(ids);
        scan.counts.push(rows);
        scan.converted.push(check.changed);
        scan.rejected.push(rejected);
    }
    if let Some((path, mut file)) = out {
        file.flush()
            .map_err(|e| ReaderError::Rejects(path.into(), e))?;
    }
    Ok(scan)
}

/// What the scan keeps while it checks the rows of one table (see [`scan`]).
struct TableCheck<'t> {
    table: &'t Table,
    /// Converted cells per column.
    changed: Vec<u64>,
    last_id: Option<i64>,
    /// The references: column position and the parent's position in [`TABLES`].
    refs: Vec<(usize, usize)>,
    /// Whether a row whose parent is rejected is rejected too (`--on-error skip`).
    cascade: bool,
    /// The unique columns' positions, and per unique column: hash of the canonical
    /// value → the first row's id.
    unique: Vec<usize>,
    seen: Vec<HashMap<u128, i64, KeyIsHash>>,
    canonical: Vec<u8>,
}

impl<'t> TableCheck<'t> {
    fn new(table: &'t Table, cascade: bool) -> TableCheck<'t> {
        let unique: Vec<usize> = table
            .indexes
            .iter()
            .filter(|i| i.unique)
            .filter_map(|i| table.columns.iter().position(|c| c.name == i.column))
            .collect();
        let refs = table
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.kind {
                Kind::Ref(parent) => Some((i, TABLES.iter().position(|t| t.name == parent)?)),
                _ => None,
            })
            .collect();
        TableCheck {
            table,
            changed: vec![0; table.columns.len()],
            last_id: None,
            refs,
            cascade,
            seen: vec![HashMap::default(); unique.len()],
            unique,
            canonical: Vec::new(),
        }
    }

    /// Everything wrong with one row, and its values when they converted (as much as
    /// `how` says: see [`Check`]). `parent_ids` and `rejected` are per table, in catalog
    /// order, for the tables scanned so far.
    fn row<'a>(
        &mut self,
        cells: &[Cell<'a>],
        how: Check,
        parent_ids: &[Vec<i64>],
        rejected: &[Vec<i64>],
    ) -> (Vec<(&'static str, Problem)>, Option<Vec<Value<'a>>>) {
        let table = self.table;
        let mut problems = Vec::new();
        if let Cell::Integer(id) = cells[0] {
            if let Some(last) = self.last_id.filter(|last| id <= *last) {
                problems.push((
                    "id",
                    Problem::Duplicate {
                        first: last.to_string(),
                    },
                ));
                return (problems, None);
            }
            self.last_id = Some(id);
        }
        let converted = match how {
            Check::Full => convert_row(table, cells, &mut self.changed),
            Check::Keys => {
                let (refs, unique) = (&self.refs, &self.unique);
                convert_columns(table, cells, &mut self.changed, |i| {
                    i == 0 || refs.iter().any(|r| r.0 == i) || unique.contains(&i)
                })
            }
            Check::Id => return (problems, Some(Vec::new())),
        };
        let values = match converted {
            Ok(values) => values,
            Err(bad) => {
                problems.extend(bad.into_iter().map(|(c, e)| (c, Problem::Cell(e))));
                return (problems, None);
            }
        };
        let Value::Int(id) = values[0] else {
            return (problems, Some(values));
        };
        for &(i, p) in &self.refs {
            let Value::Int(parent_id) = values[i] else {
                continue;
            };
            let parent = TABLES[p].name;
            let known = parent_ids
                .get(p)
                .is_some_and(|ids| ids.binary_search(&parent_id).is_ok());
            if !known {
                problems.push((
                    table.columns[i].name,
                    Problem::MissingParent {
                        parent,
                        id: parent_id,
                    },
                ));
            } else if self.cascade && rejected[p].binary_search(&parent_id).is_ok() {
                problems.push((
                    table.columns[i].name,
                    Problem::ParentRejected {
                        parent,
                        id: parent_id,
                    },
                ));
            }
        }
        for (slot, &i) in self.unique.iter().enumerate() {
            if values[i] == Value::Null {
                continue;
            }
            self.canonical.clear();
            values[i].canonical(&mut self.canonical);
            match self.seen[slot].entry(xxh3_128(&self.canonical)) {
                Entry::Occupied(first) => problems.push((
                    table.columns[i].name,
                    Problem::Duplicate {
                        first: first.get().to_string(),
                    },
                )),
                Entry::Vacant(slot) => {
                    slot.insert(id);
                }
            }
        }
        (problems, Some(values))
    }
}

/// The hasher for maps keyed by an xxh3 hash: the key already is a good hash, so it
/// is used as it is rather than hashed again (the standard SipHash showed in profiles).
#[derive(Default, Clone, Copy)]
struct KeyIsHash;

impl std::hash::BuildHasher for KeyIsHash {
    type Hasher = LowBits;
    fn build_hasher(&self) -> LowBits {
        LowBits(0)
    }
}

/// Keeps the low 64 bits of the `u128` written to it.
struct LowBits(u64);

impl std::hash::Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used by `HashMap<u128, _>`; fold anything else in.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// One line of the rejects file: the table, the id, every reason, and the row's raw
/// values as SQLite holds them (text that is not UTF-8 and blobs in hex).
fn write_reject(
    file: &mut impl Write,
    table: &Table,
    cells: &[Cell<'_>],
    problems: &[(&'static str, Problem)],
) -> std::io::Result<()> {
    use serde_json::{json, Map, Value as Json};
    let raw = |cell: &Cell<'_>| match *cell {
        Cell::Null => Json::Null,
        Cell::Integer(i) => json!(i),
        Cell::Real(r) if r.is_finite() => json!(r),
        Cell::Real(r) => json!(r.to_string()),
        Cell::Text(t) => match std::str::from_utf8(t) {
            Ok(text) => json!(text),
            Err(_) => json!({ "hex": hex::encode(t) }),
        },
        Cell::Blob(b) => json!({ "blob_hex": hex::encode(b) }),
    };
    let row: Map<String, Json> = table
        .columns
        .iter()
        .zip(cells)
        .map(|(c, cell)| (c.name.to_string(), raw(cell)))
        .collect();
    let line = json!({
        "table": table.name,
        "id": raw(&cells[0]),
        "reasons": problems
            .iter()
            .map(|(column, problem)| json!({ "column": column, "reason": problem.to_string() }))
            .collect::<Vec<_>>(),
        "row": row,
    });
    writeln!(file, "{line}")
}

#[cfg(test)]
mod tests;
