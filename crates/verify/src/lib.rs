//! The verifier: proves the target holds exactly the source, row by row.
//!
//! Both sides are read in full, each from one consistent snapshot and at the same time
//! (SQLite on a blocking thread, Postgres on the async runtime). Every row is turned
//! into one canonical form ([`ava_convert::Value::canonical`]: microsecond UTC
//! timestamps, doubles by their bits, canonical JSON, NULL distinct from `''`) and
//! hashed (xxh3-128); hashes are summed per chunk of [`CHUNK_IDS`] ids. Chunks whose
//! count or sum differ are then read again on both sides and compared column by
//! column, which names each missing, extra or changed row and every differing value.
//! Nothing is sampled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ava_catalog::{IdRange, Table, TABLES};
use ava_convert::{convert, row_id, Cell, CellError, Value};
use ava_sink::{read_rows, read_tables, ReadError, SinkError, Target};
use ava_source::{Source, SourceError};
use serde::Serialize;
use tokio_postgres::Transaction;
use xxhash_rust::xxh3::xxh3_128;

/// Ids per checksum chunk.
pub const CHUNK_IDS: i64 = 10_000;
/// Differing rows listed per table; the rest are only counted.
pub const MAX_LISTED: usize = 50;

/// What stopped a verification (a difference is not an error: see [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("the SQLite reader thread stopped unexpectedly: {0}")]
    Thread(String),
    #[error(
        "rejects file {path}, line {line}: {why}; pass the file `ava migrate --rejects` wrote"
    )]
    Rejects {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// One column's two values, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnDiff {
    pub column: &'static str,
    pub source: String,
    pub target: String,
}

/// How one row differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "columns")]
pub enum Diff {
    /// In the source, not in the target.
    Missing,
    /// In the target, not in the source.
    Extra,
    /// In both, with these columns differing.
    Changed(Vec<ColumnDiff>),
}

/// One differing row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowDiff {
    pub id: i64,
    #[serde(flatten)]
    pub diff: Diff,
}

/// The result for one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableResult {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub chunks: usize,
    pub differing_chunks: usize,
    /// Differing rows of the chunks narrowed down, in id order: chunks are narrowed
    /// until [`MAX_LISTED`] rows are listed ([`differences`]: all of them).
    pub diffs: Vec<RowDiff>,
    /// How many of the differing chunks were narrowed down to rows.
    pub narrowed_chunks: usize,
}

impl TableResult {
    /// Whether both sides hold exactly the same rows.
    pub fn identical(&self) -> bool {
        self.differing_chunks == 0
    }
}

/// The result for all five tables, in catalog order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tables: Vec<TableResult>,
}

impl Report {
    /// Whether the target holds exactly the source.
    pub fn identical(&self) -> bool {
        self.tables.iter().all(TableResult::identical)
    }
}

/// Per chunk: row count and the wrapping sum of the rows' hashes.
type Chunks = BTreeMap<i64, (u64, u128)>;

fn chunk_of(id: i64) -> i64 {
    id.div_euclid(CHUNK_IDS)
}

/// The ids of `chunk`: [`CHUNK_IDS`] of them from `chunk * CHUNK_IDS` (the last chunk
/// ends at `i64::MAX`).
fn chunk_range(chunk: i64) -> IdRange {
    let first = chunk * CHUNK_IDS;
    IdRange::inclusive(first, first.saturating_add(CHUNK_IDS - 1))
}

/// The chunks, in id order, whose row count or hash sum differ between the two sides
/// (a chunk only one side has differs).
fn differing_chunks(source: &Chunks, target: &Chunks) -> Vec<i64> {
    let keys: std::collections::BTreeSet<i64> =
        source.keys().chain(target.keys()).copied().collect();
    keys.into_iter()
        .filter(|k| source.get(k) != target.get(k))
        .collect()
}

fn add(chunks: &mut Chunks, id: i64, canonical: &[u8]) {
    let e = chunks.entry(chunk_of(id)).or_default();
    e.0 += 1;
    e.1 = e.1.wrapping_add(xxh3_128(canonical));
}

/// A source cell in canonical form: the converted value, or (for a cell the converter
/// rejects) a marker no target value can equal.
fn canonical_cell(out: &mut Vec<u8>, converted: &Result<Value<'_>, CellError>) {
    match converted {
        Ok(v) => v.canonical(out),
        Err(e) => {
            out.push(0xff);
            out.extend_from_slice(e.to_string().as_bytes());
        }
    }
}

fn convert_cells<'a>(table: &Table, cells: &[Cell<'a>]) -> Vec<Result<Value<'a>, CellError>> {
    table
        .columns
        .iter()
        .zip(cells)
        .map(|(c, cell)| convert(c, *cell).map(|c| c.value))
        .collect()
}

fn source_id(path: &Path, table: &Table, cells: &[Cell<'_>]) -> Result<i64, SourceError> {
    match cells.first() {
        Some(Cell::Integer(id)) => Ok(*id),
        _ => Err(SourceError::BadId {
            path: path.to_path_buf(),
            table: table.name,
            id: row_id(cells),
        }),
    }
}

/// Rows left out of a migration on purpose (`ava migrate --on-error skip`), read from
/// its rejects file: per table (catalog order), their ids, sorted. The verifier leaves
/// them out of the source too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded(Vec<Vec<i64>>);

impl Default for Excluded {
    fn default() -> Self {
        Excluded(vec![Vec::new(); TABLES.len()])
    }
}

impl Excluded {
    /// From ids per table (catalog order).
    pub fn new(mut ids: Vec<Vec<i64>>) -> Excluded {
        ids.resize(TABLES.len(), Vec::new());
        for list in &mut ids {
            list.sort_unstable();
            list.dedup();
        }
        Excluded(ids)
    }

    /// Reads a rejects file: one JSON object per line with at least `table` and `id`.
    pub fn read(path: &Path) -> Result<Excluded, VerifyError> {
        let bad = |line: usize, why: String| VerifyError::Rejects {
            path: path.to_path_buf(),
            line,
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(0, e.to_string()))?;
        let mut ids = vec![Vec::new(); TABLES.len()];
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            #[derive(serde::Deserialize)]
            struct Entry {
                table: String,
                id: serde_json::Value,
            }
            let entry: Entry = serde_json::from_str(line).map_err(|e| bad(n + 1, e.to_string()))?;
            let table = TABLES
                .iter()
                .position(|t| t.name == entry.table)
                .ok_or_else(|| bad(n + 1, format!("unknown table {}", entry.table)))?;
            // A row whose id is not an integer was never copied: nothing to leave out.
            if let Some(id) = entry.id.as_i64() {
                ids[table].push(id);
            }
        }
        Ok(Excluded::new(ids))
    }

    /// The ids left out of the table at `table` (catalog index), sorted.
    pub fn ids(&self, table: usize) -> &[i64] {
        &self.0[table]
    }

    /// How many rows are left out in all.
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// Whether nothing is left out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn contains(&self, table: usize, id: i64) -> bool {
        self.0[table].binary_search(&id).is_ok()
    }
}

/// Chunk checksums of every table of the source, from one snapshot.
fn source_chunks(path: &Path, excluded: &Excluded) -> Result<Vec<(u64, Chunks)>, SourceError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    let mut buf = Vec::with_capacity(4096);
    TABLES
        .iter()
        .enumerate()
        .map(|(t, table)| {
            let mut chunks = Chunks::new();
            let mut rows = 0u64;
            snap.for_each::<SourceError>(table, IdRange::ALL, |cells| {
                if let Cell::Integer(id) = cells[0] {
                    if excluded.contains(t, id) {
                        return Ok(());
                    }
                }
                buf.clear();
                for (column, cell) in table.columns.iter().zip(cells) {
                    ava_convert::canonical_cell(column, *cell, &mut buf);
                }
                add(&mut chunks, source_id(path, table, cells)?, &buf);
                rows += 1;
                Ok(())
            })?;
            Ok((rows, chunks))
        })
        .collect()
}

fn read_error(target: &str, table: &Table, e: ReadError<SinkError>) -> SinkError {
    match e {
        ReadError::Db(source) => SinkError::Query {
            url: target.to_string(),
            context: format!("reading table {}", table.name),
            source,
        },
        ReadError::Decode { id, reason } => SinkError::Decode {
            url: target.to_string(),
            table: table.name,
            id,
            reason,
        },
        ReadError::Callback(e) => e,
    }
}

fn target_id(url: &str, table: &Table, values: &[Value<'_>]) -> Result<i64, SinkError> {
    match values.first() {
        Some(Value::Int(id)) => Ok(*id),
        v => Err(SinkError::Decode {
            url: url.to_string(),
            table: table.name,
            id: format!("{v:?}"),
            reason: "id is not an integer".into(),
        }),
    }
}

/// Ids per `COPY … TO` when reading the target (see [`read_tables`]): memory stays flat
/// when hashing is slower than the network.
const WINDOW_IDS: i64 = 20 * CHUNK_IDS;

/// Chunk checksums of every table of the target, from one snapshot, without the rows in
/// `excluded`.
async fn target_chunks(
    tx: &Transaction<'_>,
    url: &str,
    excluded: &Excluded,
) -> Result<Vec<(u64, Chunks)>, SinkError> {
    let mut all: Vec<(u64, Chunks)> = TABLES.iter().map(|_| (0, Chunks::new())).collect();
    let mut buf = Vec::with_capacity(4096);
    let tables: Vec<&Table> = TABLES.iter().collect();
    read_tables(tx, &tables, WINDOW_IDS, |t, values| {
        let id = target_id(url, &TABLES[t], values)?;
        if excluded.contains(t, id) {
            return Ok(());
        }
        buf.clear();
        for v in values {
            v.canonical(&mut buf);
        }
        let (rows, chunks) = &mut all[t];
        add(chunks, id, &buf);
        *rows += 1;
        Ok(())
    })
    .await
    .map_err(|(t, e)| read_error(url, &TABLES[t], e))?;
    Ok(all)
}

/// Compares the SQLite file at `source` with the target, exactly.
///
/// Rows in `excluded` (rejected by `--on-error skip`) are left out on both sides: a
/// migrate did not copy them, and a sync leaves the target's earlier version of a row
/// that has since turned bad as it was. [`Excluded::default`] leaves out nothing.
pub async fn verify(
    source: &Path,
    target: &mut Target,
    excluded: &Excluded,
) -> Result<Report, VerifyError> {
    compare(source, target, excluded, Some(MAX_LISTED)).await
}

/// [`verify`], narrowing down every differing chunk: the report lists every differing
/// row (what `ava sync` applies).
pub async fn differences(
    source: &Path,
    target: &mut Target,
    excluded: &Excluded,
) -> Result<Report, VerifyError> {
    compare(source, target, excluded, None).await
}

async fn compare(
    source: &Path,
    target: &mut Target,
    excluded: &Excluded,
    limit: Option<usize>,
) -> Result<Report, VerifyError> {
    let url = target.url().to_string();
    let path: PathBuf = source.to_path_buf();
    let left_out = excluded.clone();
    let reader = tokio::task::spawn_blocking(move || source_chunks(&path, &left_out));
    let tx = target.snapshot().await?;
    let target_side = target_chunks(&tx, &url, excluded).await?;
    let source_side = reader
        .await
        .map_err(|e| VerifyError::Thread(e.to_string()))??;

    let mut tables = Vec::with_capacity(TABLES.len());
    for (table, ((source_rows, s), (target_rows, t))) in
        TABLES.iter().zip(source_side.into_iter().zip(target_side))
    {
        let differing = differing_chunks(&s, &t);
        let mut result = TableResult {
            table: table.name,
            source_rows,
            target_rows,
            chunks: s.len().max(t.len()),
            differing_chunks: differing.len(),
            diffs: Vec::new(),
            narrowed_chunks: 0,
        };
        for chunk in differing {
            if limit.is_some_and(|limit| result.diffs.len() >= limit) {
                break;
            }
            narrow(source, &tx, &url, table, chunk, excluded, &mut result).await?;
            result.narrowed_chunks += 1;
        }
        tables.push(result);
    }
    // Read-only: nothing to commit; dropping rolls back.
    drop(tx);
    Ok(Report { tables })
}

/// Reads one differing chunk from both sides and records its differing rows.
async fn narrow(
    source: &Path,
    client: &Transaction<'_>,
    url: &str,
    table: &'static Table,
    chunk: i64,
    excluded: &Excluded,
    result: &mut TableResult,
) -> Result<(), VerifyError> {
    let t = TABLES
        .iter()
        .position(|x| x.name == table.name)
        .unwrap_or(0);
    let left_out = excluded.clone();
    let range = chunk_range(chunk);
    let path = source.to_path_buf();
    let source_rows = tokio::task::spawn_blocking(move || {
        let mut source = Source::open(&path)?;
        let snap = source.snapshot()?;
        let mut rows: BTreeMap<i64, SourceRow> = BTreeMap::new();
        snap.for_each::<SourceError>(table, range, |cells| {
            if let Cell::Integer(id) = cells[0] {
                if left_out.contains(t, id) {
                    return Ok(());
                }
            }
            let values = convert_cells(table, cells)
                .into_iter()
                .map(|v| v.map(Value::into_owned))
                .collect();
            rows.insert(source_id(&path, table, cells)?, values);
            Ok(())
        })?;
        Ok::<_, SourceError>(rows)
    });
    let mut target_rows: BTreeMap<i64, Vec<Value<'static>>> = BTreeMap::new();
    read_rows(client, table, range, |values| {
        let id = target_id(url, table, values)?;
        if excluded.contains(t, id) {
            return Ok(());
        }
        target_rows.insert(id, values.iter().cloned().map(Value::into_owned).collect());
        Ok(())
    })
    .await
    .map_err(|e| read_error(url, table, e))?;
    let source_rows = source_rows
        .await
        .map_err(|e| VerifyError::Thread(e.to_string()))??;

    result
        .diffs
        .extend(row_diffs(table, &source_rows, &target_rows));
    Ok(())
}

/// A source row as converted: per column, the value or why the cell is invalid.
type SourceRow = Vec<Result<Value<'static>, CellError>>;

/// The differing rows of one chunk, in id order: missing from the target, extra in it,
/// or changed (naming each differing column with both values as printed).
fn row_diffs(
    table: &Table,
    source_rows: &BTreeMap<i64, SourceRow>,
    target_rows: &BTreeMap<i64, Vec<Value<'static>>>,
) -> Vec<RowDiff> {
    let ids: std::collections::BTreeSet<i64> = source_rows
        .keys()
        .chain(target_rows.keys())
        .copied()
        .collect();
    let mut diffs = Vec::new();
    for id in ids {
        let diff = match (source_rows.get(&id), target_rows.get(&id)) {
            (Some(_), None) => Diff::Missing,
            (None, Some(_)) => Diff::Extra,
            (Some(s), Some(t)) => {
                let columns: Vec<ColumnDiff> = table
                    .columns
                    .iter()
                    .zip(s.iter().zip(t))
                    .filter_map(|(c, (s, t))| {
                        let (mut a, mut b) = (Vec::new(), Vec::new());
                        canonical_cell(&mut a, s);
                        t.canonical(&mut b);
                        (a != b).then(|| ColumnDiff {
                            column: c.name,
                            source: match s {
                                Ok(v) => v.to_string(),
                                Err(e) => format!("invalid ({e})"),
                            },
                            target: t.to_string(),
                        })
                    })
                    .collect();
                if columns.is_empty() {
                    continue;
                }
                Diff::Changed(columns)
            }
            (None, None) => continue,
        };
        diffs.push(RowDiff { id, diff });
    }
    diffs
}

#[cfg(test)]
mod tests;
