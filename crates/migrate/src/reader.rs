//! The reader: a dedicated thread that owns the SQLite connection (rusqlite's
//! connection is not `Sync`, and its reads block), scans, then streams batches.

use std::collections::hash_map::{Entry, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use ava_catalog::{IdRange, Kind, Table, TABLES};
use ava_convert::{convert_row, row_id, Cell, Value};
use ava_sink::{encode_row, CopyBuffer};
use ava_source::{Snapshot, Source, SourceError};
use bytes::Bytes;
use tokio::sync::mpsc;
use xxhash_rust::xxh3::xxh3_128;

use crate::{BadCell, Problem, MAX_BAD_CELLS, MAX_BATCH_BYTES};

/// What the scan found, from the snapshot the copy will read.
pub(crate) struct Scan {
    pub counts: Vec<u64>,
    /// Per table, converted cells per column (catalog order).
    pub converted: Vec<Vec<u64>>,
    pub bad: Vec<BadCell>,
    pub bad_total: u64,
    /// Per table, the ids of the rejected rows, sorted.
    pub rejected: Vec<Vec<i64>>,
}

/// Messages from the reader to the writer.
pub(crate) enum Msg {
    Scanned(Scan),
    Batch {
        table: usize,
        data: Bytes,
        rows: u64,
        /// The batch's first and last ids (rows are in id order).
        ids: (i64, i64),
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

/// Starts the reader. It sends [`Msg::Scanned`], then waits: `true` on `go` streams the
/// batches, `false` (or the writer going away) ends it.
pub(crate) fn spawn(
    path: PathBuf,
    batch_size: u64,
    rejects: Option<PathBuf>,
) -> (mpsc::Receiver<Msg>, std_mpsc::Sender<Option<Go>>) {
    // Room for a batch per writer connection and one more being built.
    let (tx, rx) = mpsc::channel(4);
    let (go_tx, go_rx) = std_mpsc::channel();
    std::thread::Builder::new()
        .name("ava-sqlite-reader".into())
        .spawn(move || {
            if let Err(e) = run(&path, batch_size, rejects.as_deref(), &tx, &go_rx) {
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
    tx: &mpsc::Sender<Msg>,
    go: &std_mpsc::Receiver<Option<Go>>,
) -> Result<(), ReaderError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    let scan = scan(&snap, rejects)?;
    send(tx, Msg::Scanned(scan))?;
    let Ok(Some(go)) = go.recv() else {
        return Ok(());
    };
    for (i, table) in TABLES.iter().enumerate() {
        let mut changed = vec![0u64; table.columns.len()];
        let mut batch = CopyBuffer::with_capacity(MAX_BATCH_BYTES / 4);
        let mut ids = (0, 0);
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
                ids = if batch.is_empty() {
                    (id, id)
                } else {
                    (ids.0, id)
                };
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
            encode_row(&mut batch, table, &values);
            if batch.rows() >= batch_size || batch.len() >= MAX_BATCH_BYTES {
                let full =
                    std::mem::replace(&mut batch, CopyBuffer::with_capacity(MAX_BATCH_BYTES / 4));
                send_batch(tx, i, full, ids)?;
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            send_batch(tx, i, batch, ids)?;
        }
        send(tx, Msg::TableDone(i))?;
    }
    Ok(())
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<(), ReaderError> {
    tx.blocking_send(msg).map_err(|_| ReaderError::Stopped)
}

fn send_batch(
    tx: &mpsc::Sender<Msg>,
    table: usize,
    batch: CopyBuffer,
    ids: (i64, i64),
) -> Result<(), ReaderError> {
    let rows = batch.rows();
    send(
        tx,
        Msg::Batch {
            table,
            data: batch.finish(),
            rows,
            ids,
        },
    )
}

/// Converts every row without writing: counts, converted cells, bad cells — including
/// what only shows across rows and would make a `COPY` fail part-way: duplicate ids,
/// duplicates in unique columns, and foreign keys to missing parents. A row with any of
/// these is *rejected*; with `rejects` (`--on-error skip`) each rejected row is written
/// there as one JSON line, and the children of a rejected row are rejected too.
fn scan(snap: &Snapshot<'_>, rejects: Option<&Path>) -> Result<Scan, ReaderError> {
    let mut scan = Scan {
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
    // Ids of the tables other tables refer to; rows come in id order, so these are
    // sorted and a binary search finds a parent.
    let mut parent_ids: Vec<(&'static str, Vec<i64>)> = Vec::new();
    for table in &TABLES {
        let mut changed = vec![0u64; table.columns.len()];
        let mut rows = 0u64;
        let is_parent = TABLES
            .iter()
            .any(|t| t.foreign_keys().any(|(_, p)| p == table.name));
        let mut ids = Vec::new();
        let mut rejected = Vec::new();
        let mut last_id: Option<i64> = None;
        // Per unique column: hash of the canonical value → the first row's id.
        let unique: Vec<usize> = table
            .indexes
            .iter()
            .filter(|i| i.unique)
            .filter_map(|i| table.columns.iter().position(|c| c.name == i.column))
            .collect();
        let mut seen: Vec<HashMap<u128, i64>> = vec![HashMap::new(); unique.len()];
        let mut canonical = Vec::new();
        snap.for_each::<ReaderError>(table, IdRange::ALL, |cells| {
            rows += 1;
            let problems = check_row(
                table,
                cells,
                &mut changed,
                &mut last_id,
                &parent_ids,
                &scan.rejected,
                out.is_some(),
                &unique,
                &mut seen,
                &mut canonical,
            );
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
        if is_parent {
            parent_ids.push((table.name, ids));
        }
        scan.counts.push(rows);
        scan.converted.push(changed);
        scan.rejected.push(rejected);
    }
    if let Some((path, mut file)) = out {
        file.flush()
            .map_err(|e| ReaderError::Rejects(path.into(), e))?;
    }
    Ok(scan)
}

/// Everything wrong with one row (see [`scan`]).
#[allow(clippy::too_many_arguments)]
fn check_row(
    table: &Table,
    cells: &[Cell<'_>],
    changed: &mut [u64],
    last_id: &mut Option<i64>,
    parent_ids: &[(&'static str, Vec<i64>)],
    rejected: &[Vec<i64>],
    cascade: bool,
    unique: &[usize],
    seen: &mut [HashMap<u128, i64>],
    canonical: &mut Vec<u8>,
) -> Vec<(&'static str, Problem)> {
    let mut problems = Vec::new();
    if let Cell::Integer(id) = cells[0] {
        if let Some(last) = last_id.filter(|last| id <= *last) {
            problems.push((
                "id",
                Problem::Duplicate {
                    first: last.to_string(),
                },
            ));
            return problems;
        }
        *last_id = Some(id);
    }
    let values = match convert_row(table, cells, changed) {
        Ok(values) => values,
        Err(bad) => {
            problems.extend(bad.into_iter().map(|(c, e)| (c, Problem::Cell(e))));
            return problems;
        }
    };
    let Value::Int(id) = values[0] else {
        return problems;
    };
    for (column, value) in table.columns.iter().zip(&values) {
        let (Kind::Ref(parent), Value::Int(parent_id)) = (column.kind, value) else {
            continue;
        };
        let Some(p) = TABLES.iter().position(|t| t.name == parent) else {
            continue;
        };
        let known = parent_ids
            .iter()
            .find(|(name, _)| *name == parent)
            .is_some_and(|(_, ids)| ids.binary_search(parent_id).is_ok());
        if !known {
            problems.push((
                column.name,
                Problem::MissingParent {
                    parent,
                    id: *parent_id,
                },
            ));
        } else if cascade && rejected[p].binary_search(parent_id).is_ok() {
            problems.push((
                column.name,
                Problem::ParentRejected {
                    parent,
                    id: *parent_id,
                },
            ));
        }
    }
    for (slot, &i) in unique.iter().enumerate() {
        if values[i] == Value::Null {
            continue;
        }
        canonical.clear();
        values[i].canonical(canonical);
        match seen[slot].entry(xxh3_128(canonical)) {
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
    problems
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
            Err(_) => json!({ "hex": hex(t) }),
        },
        Cell::Blob(b) => json!({ "blob_hex": hex(b) }),
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
