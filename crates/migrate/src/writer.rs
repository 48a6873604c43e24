//! `ava migrate` from start to end: the target's checks, the facts [`crate::plan`]
//! decides from (counts, an interrupted run, the scan, the comparison of the rows
//! already there), and acting on the decision — an identical target finished here, a
//! copy handed to [`crate::copy`], a refusal returned.

use ava_catalog::TABLES;
use ava_sink::{counts, reset_sequence, sequence_behind, Target};

use crate::copy::copy_all;
use crate::error::{query_error, reader_error};
use crate::plan::{self, Facts, Next, Plan, Resume};
use crate::pool::open_pool;
use crate::reader::{self, Msg, Scan};
use crate::start::start;
use crate::{deferred, ledger};
use crate::{Action, MigrateError, Options, Outcome, Progress, TableReport};

/// Runs `ava migrate`: see the crate docs for what happens when.
pub async fn migrate(
    target: &mut Target,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Outcome, MigrateError> {
    let url = target.url().to_string();
    progress.phase("checking the target schema");
    start(
        target,
        ava_migrations::ensure_current(target),
        opts.dry_run,
        opts.settle,
        progress,
    )
    .await?;
    if !opts.dry_run {
        // An interrupted run may have left indexes and constraints dropped.
        let restored = deferred::restore_interrupted(target.client_ref())
            .await
            .map_err(|(name, e)| {
                target.error(
                    format!("building {name} again, which an interrupted run had dropped"),
                    e,
                )
            })?;
        if restored > 0 {
            progress
                .phase("built again the indexes and constraints an interrupted run had dropped");
        }
    } else if let Some((run, objects)) = ledger::pending_repair(target.client_ref())
        .await
        .map_err(|e| target.error("reading ava.migrate_runs", e))?
    {
        return Err(MigrateError::NeedsRepair { url, run, objects });
    }
    target.check_schema().await?;

    // Both at once: one round trip.
    let (target_counts, interrupted) = futures_util::join!(
        counts(target.client_ref()),
        ledger::interrupted_run(target.client_ref())
    );
    let target_counts = target_counts.map_err(|e| target.error("counting rows", e))?;
    let interrupted = interrupted.map_err(|e| target.error("reading ava.migrate_runs", e))?;
    let resume = Resume::new(interrupted.as_ref(), opts.resume);
    if resume == Resume::NoneInterrupted {
        progress.phase("no interrupted run to resume: migrating as usual");
    }
    let empty = target_counts.iter().all(|n| *n == 0);
    // With `--on-error skip` the rejected rows are left out, of the copy and of every
    // comparison; without it, any bad cell refuses the run.
    let skipping = opts.rejects.is_some();
    let mode = if plan::streams(empty, resume, skipping, opts.dry_run) {
        progress.phase("copying while the SQLite file is read and checked");
        reader::Mode::Stream
    } else {
        progress.phase("scanning the SQLite file");
        reader::Mode::ScanFirst
    };
    let (mut rx, go) = reader::spawn(
        opts.sqlite.clone(),
        opts.batch_size,
        opts.rejects.clone(),
        mode,
    );
    // While the file is read (local work), the writer connections are opened (each a
    // few round trips far from the server). A run that replaces rows (`--force`) writes
    // in one transaction on this connection instead.
    let (first, pool) = tokio::join!(rx.recv(), async {
        if opts.dry_run || !(empty || resume.run().is_some()) {
            Ok((Vec::new(), None))
        } else {
            open_pool(target).await
        }
    });
    let pool = pool?;
    let scan = match first {
        Some(Msg::Scanned(scan)) => scan,
        Some(Msg::Counted(counts)) => Scan::counted(counts),
        Some(Msg::Failed(e)) => return Err(reader_error(e, &url)),
        _ => return Err(MigrateError::Reader("no scan result".into())),
    };

    let mut outcome = Outcome {
        action: Action::Copy,
        wrote: false,
        tables: TABLES
            .iter()
            .enumerate()
            .map(|(i, t)| TableReport {
                table: t.name,
                source_rows: scan.counts[i],
                target_rows: target_counts[i],
                copied: 0,
                converted: Vec::new(),
                seconds: 0.0,
            })
            .collect(),
        bad_cells: Vec::new(),
        bad_total: 0,
        interrupted,
        sequences_behind: Vec::new(),
        copy_seconds: 0.0,
        rejected: Vec::new(),
    };
    outcome.scanned(&scan);
    let excluded = ava_verify::Excluded::new(if skipping {
        scan.rejected.clone()
    } else {
        Vec::new()
    });

    let facts = Facts {
        bad_input: scan.bad_total > 0,
        skipping,
        resume,
        empty,
    };
    outcome.action = match plan::plan(&facts) {
        Plan::Act(action) => action,
        Plan::Compare => {
            progress.phase("comparing the rows already in the target");
            let identical = ava_verify::verify(&opts.sqlite, target, &excluded)
                .await?
                .identical();
            plan::after_comparing(identical, opts.force)
        }
    };

    let next = plan::next(outcome.action, opts.dry_run);
    if next == Next::Finish {
        let _ = go.send(None);
        finish_already_migrated(target, opts, &mut outcome).await?;
        return Ok(outcome);
    }
    let copy = next == Next::Copy;
    // The reader waits for this (scanning first); a closed channel also stops it.
    let mut skip = match resume.run().filter(|_| copy) {
        Some(run) => ledger::committed_ranges(target.client_ref(), run)
            .await
            .map_err(|e| target.error("reading ava.migrate_batches", e))?,
        None => vec![Vec::new(); TABLES.len()],
    };
    // Rejected rows are skipped like committed ranges: one-id ranges, merged in order.
    for (t, ranges) in skip.iter_mut().enumerate() {
        ranges.extend(excluded.ids(t).iter().map(|&id| (id, id)));
        ranges.sort_unstable();
    }
    let _ = go.send(copy.then_some(reader::Go { skip }));
    match next {
        Next::Copy => {}
        Next::Finish | Next::Report => return Ok(outcome),
        Next::RefuseBadCells => {
            return Err(MigrateError::BadCells {
                cells: scan.bad,
                total: scan.bad_total,
                undone: None,
            })
        }
        Next::RefuseNotEmpty => {
            return Err(MigrateError::TargetNotEmpty {
                url,
                tables: TABLES.iter().map(|t| t.name).zip(target_counts).collect(),
                interrupted: outcome.interrupted,
            })
        }
    }
    copy_all(target, pool, opts, progress, &scan, &mut rx, &mut outcome).await?;
    outcome.wrote = true;
    Ok(outcome)
}

impl Outcome {
    /// What the scan found, per table: converted cells, bad cells, rejected rows.
    pub(crate) fn scanned(&mut self, scan: &Scan) {
        for (report, (table, converted)) in self
            .tables
            .iter_mut()
            .zip(TABLES.iter().zip(&scan.converted))
        {
            report.converted = table
                .columns
                .iter()
                .zip(converted)
                .filter(|(_, n)| **n > 0)
                .map(|(c, n)| (c.name, *n))
                .collect();
        }
        self.bad_cells.clone_from(&scan.bad);
        self.bad_total = scan.bad_total;
        self.rejected = scan.rejected.iter().map(|ids| ids.len() as u64).collect();
    }
}

/// An identical target still needs what a complete run ends with: sequences past
/// `max(id)` (they may be behind if a run was killed before its last step, or another
/// tool copied the rows), and an interrupted run marked as finished.
async fn finish_already_migrated(
    target: &mut Target,
    opts: &Options,
    outcome: &mut Outcome,
) -> Result<(), MigrateError> {
    let url = target.url().to_string();
    let client = target.client();
    let mut behind = Vec::new();
    for table in &TABLES {
        if sequence_behind(client, table)
            .await
            .map_err(|e| query_error(&url, "reading the id sequences", e))?
        {
            behind.push(table);
        }
    }
    outcome.sequences_behind = behind.iter().map(|t| t.name).collect();
    if opts.dry_run || (behind.is_empty() && outcome.interrupted.is_none()) {
        return Ok(());
    }
    let work = async {
        let tx = client.transaction().await?;
        for table in &behind {
            reset_sequence(&tx, table).await?;
        }
        ledger::finish_interrupted(&tx).await?;
        tx.commit().await
    };
    work.await
        .map_err(|e| query_error(&url, "moving the id sequences past max(id)", e))?;
    outcome.wrote = !behind.is_empty();
    Ok(())
}
