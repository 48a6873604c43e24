//! Case 3 of `ava sync` (no recorded state, or the target written outside ava): every
//! row of both sides compared with the verifier's chunk checksums, on a consistent copy
//! of the SQLite file, then the differences written in one transaction.

use ava_catalog::TABLES;
use ava_sink::Target;
use ava_source::{file_stat, Source};
use ava_verify::{Diff, Excluded};

use super::apply::{apply, encode_rows, stage, Applied, Recording};
use super::pass::{accept, run_pass, Changes, Collect};
use super::{begin, no_changes, thread, SyncOptions, SyncTable};
use crate::error::query_error;
use crate::state::{Fingerprint, State, UNKNOWN};
use crate::{MigrateError, Progress};

/// Case 3: compares every row, on a consistent copy of the file, then writes.
pub(super) async fn every_row(
    target: &mut Target,
    opts: &SyncOptions,
    progress: &dyn Progress,
    digest: u128,
    before: &Fingerprint,
) -> Result<(Vec<SyncTable>, bool), MigrateError> {
    let url = target.url().to_string();
    let stat = file_stat(&opts.sqlite);
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
        .map_err(thread)??;

    progress.phase("scanning the SQLite file");
    let (send_known, no_hashes) = std::sync::mpsc::channel();
    for _ in &TABLES {
        let _ = send_known.send(Vec::new());
    }
    let (scan, pass) = run_pass(&copy, opts, &url, no_hashes, Collect::Hashes).await?;
    let scan = accept(scan, opts)?;
    let excluded = Excluded::new(scan.rejected.clone());

    progress.phase("comparing both sides");
    let report = ava_verify::differences(&copy, target, &excluded).await?;
    let mut tables = no_changes();
    let mut changes = Changes::none();
    for (i, result) in report.tables.iter().enumerate() {
        for row in &result.diffs {
            match row.diff {
                Diff::Missing => {
                    tables[i].inserted += 1;
                    changes.upsert_ids[i].push(row.id);
                }
                Diff::Changed(_) => {
                    tables[i].updated += 1;
                    changes.upsert_ids[i].push(row.id);
                }
                Diff::Extra => {
                    tables[i].deleted += 1;
                    changes.deletes[i].push(row.id);
                }
            }
        }
    }
    if opts.dry_run {
        return Ok((tables, false));
    }
    progress.phase("reading the rows to write");
    let (path, ids) = (copy.to_path_buf(), changes.upsert_ids.clone());
    changes.upserts = tokio::task::spawn_blocking(move || encode_rows(&path, &ids))
        .await
        .map_err(thread)??;

    progress.phase("writing the differences");
    let fail = |context: &'static str| {
        let url = url.clone();
        move |e| query_error(&url, context, e)
    };
    let tx = begin(target)
        .await
        .map_err(fail("starting the sync transaction"))?;
    // Unless the target stayed as it was from before the comparison to now, the hashes
    // recorded below might not stand for its rows: then no state is recorded.
    let fingerprint = Fingerprint::read(&tx)
        .await
        .map_err(fail("reading the tables' fingerprints"))?;
    let state = (fingerprint == *before).then(|| State {
        digest: Some(digest),
        stat: Some(stat),
        fingerprint,
        rejected_rows: scan.rejected_rows(),
    });
    // A rejected row the target holds from before is kept, its source unknown.
    let mut hashes = pass.hashes;
    for (t, table) in TABLES.iter().enumerate() {
        if scan.rejected[t].is_empty() {
            continue;
        }
        let held = tx
            .query(
                &format!(
                    "SELECT id FROM public.\"{}\" WHERE id = ANY($1)",
                    table.name
                ),
                &[&scan.rejected[t]],
            )
            .await
            .map_err(fail("reading which rejected rows the target holds"))?;
        hashes[t].extend(held.iter().map(|r| (r.get::<_, i64>(0), UNKNOWN)));
        hashes[t].sort_unstable_by_key(|p| p.0);
    }
    let wrote = (0..TABLES.len()).any(|t| changes.touches(t));
    let applied = async {
        let staging = stage(&tx).await?;
        apply(
            &tx,
            &staging,
            &changes,
            Recording::Replace(&hashes),
            state,
            false,
        )
        .await
    };
    applied.await.map_err(|e| match e {
        Applied::Failed(context, e) => query_error(&url, context, e),
        Applied::Collision => MigrateError::Reader("unexpected unique collision".into()),
    })?;
    tx.commit().await.map_err(fail("committing the sync"))?;
    Ok((tables, wrote))
}
