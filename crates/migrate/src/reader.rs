//! The reader: a dedicated thread that owns the SQLite connection (rusqlite's
//! connection is not `Sync`, and its reads block), scans, then streams batches.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use ava_catalog::TABLES;
use ava_convert::{convert_row, row_id};
use ava_sink::{encode_row, CopyBuffer};
use ava_source::{IdRange, Snapshot, Source, SourceError};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{BadCell, MAX_BAD_CELLS, MAX_BATCH_BYTES};

/// What the scan found, from the snapshot the copy will read.
pub(crate) struct Scan {
    pub counts: Vec<u64>,
    /// Per table, converted cells per column (catalog order).
    pub converted: Vec<Vec<u64>>,
    pub bad: Vec<BadCell>,
    pub bad_total: u64,
}

/// Messages from the reader to the writer.
pub(crate) enum Msg {
    Scanned(Scan),
    Batch {
        table: usize,
        data: Bytes,
        rows: u64,
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
) -> (mpsc::Receiver<Msg>, std_mpsc::Sender<bool>) {
    let (tx, rx) = mpsc::channel(2);
    let (go_tx, go_rx) = std_mpsc::channel();
    std::thread::Builder::new()
        .name("ava-sqlite-reader".into())
        .spawn(move || {
            if let Err(e) = run(&path, batch_size, &tx, &go_rx) {
                let _ = tx.blocking_send(Msg::Failed(e));
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
    (rx, go_tx)
}

fn run(
    path: &std::path::Path,
    batch_size: u64,
    tx: &mpsc::Sender<Msg>,
    go: &std_mpsc::Receiver<bool>,
) -> Result<(), ReaderError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    let scan = scan(&snap)?;
    send(tx, Msg::Scanned(scan))?;
    if !go.recv().unwrap_or(false) {
        return Ok(());
    }
    for (i, table) in TABLES.iter().enumerate() {
        let mut changed = vec![0u64; table.columns.len()];
        let mut batch = CopyBuffer::with_capacity(MAX_BATCH_BYTES / 4);
        snap.for_each::<ReaderError>(table, IdRange::ALL, |cells| {
            let values = convert_row(table, cells, &mut changed).map_err(|mut bad| {
                let (column, error) = bad.swap_remove(0);
                ReaderError::Cell(BadCell {
                    table: table.name,
                    id: row_id(cells),
                    column,
                    error,
                })
            })?;
            encode_row(&mut batch, table, &values);
            if batch.rows() >= batch_size || batch.len() >= MAX_BATCH_BYTES {
                let full =
                    std::mem::replace(&mut batch, CopyBuffer::with_capacity(MAX_BATCH_BYTES / 4));
                send_batch(tx, i, full)?;
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            send_batch(tx, i, batch)?;
        }
        send(tx, Msg::TableDone(i))?;
    }
    Ok(())
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<(), ReaderError> {
    tx.blocking_send(msg).map_err(|_| ReaderError::Stopped)
}

fn send_batch(tx: &mpsc::Sender<Msg>, table: usize, batch: CopyBuffer) -> Result<(), ReaderError> {
    let rows = batch.rows();
    send(
        tx,
        Msg::Batch {
            table,
            data: batch.finish(),
            rows,
        },
    )
}

/// Converts every row without writing: counts, converted cells, bad cells.
fn scan(snap: &Snapshot<'_>) -> Result<Scan, ReaderError> {
    let mut scan = Scan {
        counts: Vec::new(),
        converted: Vec::new(),
        bad: Vec::new(),
        bad_total: 0,
    };
    for table in &TABLES {
        let mut changed = vec![0u64; table.columns.len()];
        let mut rows = 0u64;
        snap.for_each::<ReaderError>(table, IdRange::ALL, |cells| {
            rows += 1;
            if let Err(bad) = convert_row(table, cells, &mut changed) {
                scan.bad_total += bad.len() as u64;
                for (column, error) in bad {
                    if scan.bad.len() < MAX_BAD_CELLS {
                        scan.bad.push(BadCell {
                            table: table.name,
                            id: row_id(cells),
                            column,
                            error,
                        });
                    }
                }
            }
            Ok(())
        })?;
        scan.counts.push(rows);
        scan.converted.push(changed);
    }
    Ok(scan)
}
