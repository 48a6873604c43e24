//! `ava sync`: makes a migrated target equal to the source again by writing only what
//! differs — for the cutover, run while the app still writes to SQLite, then once more
//! after it stops.
//!
//! The differences come from the verifier (chunk checksums on both sides, differing
//! chunks narrowed down to rows); the scan's bad-input rules apply first. Then, in one
//! transaction: new and changed rows are upserted table by table, parents first (through
//! a temporary table and `INSERT … ON CONFLICT (id) DO UPDATE`), rows gone from the source
//! are deleted, children first, and the sequences are moved past `max(id)`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use ava_catalog::{IdRange, TABLES};
use ava_convert::{convert_row, Cell};
use ava_sink::{copy_into, encode_row, reset_sequence, CopyBuffer, Target};
use ava_source::Source;
use ava_verify::{Diff, Excluded};
use bytes::Bytes;

use crate::reader::{self, Msg};
use crate::writer::{lock, query_error, reader_error};
use crate::{MigrateError, Progress, MAX_BATCH_BYTES};

/// What `ava sync` should do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub sqlite: PathBuf,
    /// Find the differences and report them; write nothing.
    pub dry_run: bool,
    /// `--on-error skip`: rejected rows are left out (and written here), as in migrate.
    pub rejects: Option<PathBuf>,
}

/// Per table, what sync changed (or with `--dry-run` would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncTable {
    pub table: &'static str,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

/// The result of a sync.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub tables: Vec<SyncTable>,
    pub wrote: bool,
    pub seconds: f64,
}

impl SyncReport {
    /// Whether the target already held exactly the source.
    pub fn unchanged(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.inserted + t.updated + t.deleted == 0)
    }
}

/// Runs `ava sync`.
pub async fn sync(
    target: &mut Target,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncReport, MigrateError> {
    let started = Instant::now();
    let url = target.url().to_string();
    progress.phase("checking the target schema");
    ava_migrations::ensure_ready(target).await?;
    if !opts.dry_run {
        lock(target).await?;
    }

    // Every read below goes to one consistent copy: the app may be writing meanwhile,
    // and the scan, the comparison and the rows written must all see the same data.
    progress.phase("taking a consistent copy of the SQLite file");
    let copy = tempfile::Builder::new()
        .prefix("ava-sync-")
        .suffix(".db")
        .tempfile()
        .map_err(|e| MigrateError::Reader(format!("creating a temporary copy: {e}")))?
        .into_temp_path();
    let (from, to) = (opts.sqlite.clone(), copy.to_path_buf());
    tokio::task::spawn_blocking(move || Source::open(&from)?.backup_to(&to))
        .await
        .map_err(|e| MigrateError::Reader(e.to_string()))??;
    let sqlite = copy.to_path_buf();

    progress.phase("scanning the SQLite file");
    let (mut rx, go) = reader::spawn(sqlite.clone(), 1, opts.rejects.clone());
    let scan = match rx.recv().await {
        Some(Msg::Scanned(scan)) => scan,
        Some(Msg::Failed(e)) => return Err(reader_error(e, &url)),
        _ => return Err(MigrateError::Reader("no scan result".into())),
    };
    let _ = go.send(None);
    let excluded = match (&opts.rejects, scan.bad_total) {
        (_, 0) => Excluded::default(),
        (Some(_), _) => Excluded::new(scan.rejected.clone()),
        (None, total) => {
            return Err(MigrateError::BadCells {
                cells: scan.bad,
                total,
            })
        }
    };

    progress.phase("comparing both sides");
    let report = ava_verify::differences(&sqlite, target, &excluded).await?;
    let mut tables: Vec<SyncTable> = TABLES
        .iter()
        .map(|t| SyncTable {
            table: t.name,
            ..SyncTable::default()
        })
        .collect();
    let mut upsert: Vec<HashSet<i64>> = vec![HashSet::new(); TABLES.len()];
    let mut delete: Vec<Vec<i64>> = vec![Vec::new(); TABLES.len()];
    for (i, result) in report.tables.iter().enumerate() {
        for row in &result.diffs {
            match row.diff {
                Diff::Missing => {
                    tables[i].inserted += 1;
                    upsert[i].insert(row.id);
                }
                Diff::Changed(_) => {
                    tables[i].updated += 1;
                    upsert[i].insert(row.id);
                }
                Diff::Extra => {
                    tables[i].deleted += 1;
                    delete[i].push(row.id);
                }
            }
        }
    }
    let mut outcome = SyncReport {
        tables,
        wrote: false,
        seconds: 0.0,
    };
    if opts.dry_run || outcome.unchanged() {
        outcome.seconds = started.elapsed().as_secs_f64();
        return Ok(outcome);
    }

    progress.phase("reading the rows to write");
    let path = sqlite.clone();
    let batches = tokio::task::spawn_blocking(move || encode_rows(&path, &upsert))
        .await
        .map_err(|e| MigrateError::Reader(e.to_string()))??;

    progress.phase("writing the differences");
    let fail = |context: &'static str| {
        let url = url.clone();
        move |e| query_error(&url, context, e)
    };
    let tx = target
        .client()
        .transaction()
        .await
        .map_err(fail("starting the sync transaction"))?;
    for (table, buffers) in TABLES.iter().zip(batches) {
        if buffers.is_empty() {
            continue;
        }
        let staging = format!("ava_sync_{}", table.name);
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE {staging} (LIKE public.\"{}\") ON COMMIT DROP",
            table.name
        ))
        .await
        .map_err(fail("creating a staging table"))?;
        for data in buffers {
            copy_into(&tx, &staging, table, data)
                .await
                .map_err(fail("copying rows into the staging table"))?;
        }
        let columns = table.column_list();
        let updates = table.columns[1..]
            .iter()
            .map(|c| format!("\"{0}\" = EXCLUDED.\"{0}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        tx.batch_execute(&format!(
            "INSERT INTO public.\"{}\" ({columns}) SELECT {columns} FROM {staging} \
             ON CONFLICT (id) DO UPDATE SET {updates}",
            table.name
        ))
        .await
        .map_err(fail("upserting the new and changed rows"))?;
    }
    for (table, ids) in TABLES.iter().zip(&delete).rev() {
        if !ids.is_empty() {
            tx.execute(
                &format!("DELETE FROM public.\"{}\" WHERE id = ANY($1)", table.name),
                &[ids],
            )
            .await
            .map_err(fail("deleting the rows gone from the source"))?;
        }
    }
    for table in &TABLES {
        reset_sequence(&tx, table)
            .await
            .map_err(fail("moving the id sequences"))?;
    }
    tx.commit().await.map_err(fail("committing the sync"))?;
    outcome.wrote = true;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// The source rows with these ids, per table, encoded for `COPY` in batches of at most
/// [`MAX_BATCH_BYTES`].
fn encode_rows(
    path: &std::path::Path,
    ids: &[HashSet<i64>],
) -> Result<Vec<Vec<Bytes>>, MigrateError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    let mut all = Vec::with_capacity(TABLES.len());
    for (table, wanted) in TABLES.iter().zip(ids) {
        let mut buffers = Vec::new();
        if !wanted.is_empty() {
            let mut batch = CopyBuffer::with_capacity(1 << 16);
            let mut changed = vec![0u64; table.columns.len()];
            snap.for_each::<MigrateError>(table, IdRange::ALL, |cells| {
                let Cell::Integer(id) = cells[0] else {
                    return Ok(());
                };
                if !wanted.contains(&id) {
                    return Ok(());
                }
                // The scan accepted every row of this copy.
                let values = convert_row(table, cells, &mut changed).map_err(|_| {
                    MigrateError::Reader(format!("{} id {id} changed after the scan", table.name))
                })?;
                encode_row(&mut batch, table, &values);
                if batch.len() >= MAX_BATCH_BYTES {
                    let full = std::mem::replace(&mut batch, CopyBuffer::with_capacity(1 << 16));
                    buffers.push(full.finish());
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                buffers.push(batch.finish());
            }
        }
        all.push(buffers);
    }
    Ok(all)
}
