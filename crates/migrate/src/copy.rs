//! The copy of `ava migrate`: the run recorded in the ledger, the indexes and
//! constraints taken off (their recipe recorded with the drop), the batches handed to
//! [`crate::load`], and — should it fail — the clean-up that keeps the target from
//! staying half-loaded: a plain run empties the tables again, `--force` rolls back, a
//! lost connection or a resumed run keeps its committed batches for `--resume`.

use ava_catalog::TABLES;
use ava_sink::{describe as describe_pg, Target};
use ava_source::SourceError;
use tokio_postgres::Client;

use crate::error::query_error;
use crate::load::{drain, ConnectionLost, Recipe, Writer};
use crate::reader::{Msg, Scan};
use crate::{deferred, ledger, state};
use crate::{Action, MigrateError, Options, Outcome, Progress};

/// Copies every batch the reader sends. A plain run commits each batch with its
/// progress; `--force` (Replace) does everything in one transaction.
pub(crate) async fn copy_all(
    target: &mut Target,
    (pool, builder): (Vec<Target>, Option<Target>),
    opts: &Options,
    progress: &dyn Progress,
    scan: &Scan,
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    outcome: &mut Outcome,
) -> Result<(), MigrateError> {
    let url = target.url().to_string();
    let force = outcome.action == Action::Replace;
    let resumed = outcome
        .interrupted
        .as_ref()
        .map(|i| i.run)
        .filter(|_| outcome.action == Action::Resume);
    let source = opts.sqlite.display().to_string();
    let client = target.client();
    let shown = &url;
    let fail = |context: &'static str| move |e| query_error(shown, context, e);
    // Each batch commit need not wait for its WAL flush: a server crash could lose the
    // last commits, but each batch commits with its progress row, so the run log stays
    // true to what is there.
    // The run's row, and earlier interrupted runs superseded by it (a resumed run hands
    // over its committed batches, so the ledger of this run covers everything in the
    // target): one statement, one round trip, beside the session setting.
    let mode = if force { "force" } else { "copy" };
    let (set, run) = futures_util::join!(
        client.batch_execute("SET synchronous_commit = off"),
        ledger::begin_run(client, mode, &source, resumed)
    );
    set.map_err(fail("setting synchronous_commit"))?;
    let run = run.map_err(fail("recording the run in ava.migrate_runs"))?;

    // Take the indexes and constraints off, recording how to build them again.
    let tx = client
        .transaction()
        .await
        .map_err(fail("starting a transaction"))?;
    if force {
        ledger::truncate_for_replace(&tx, run)
            .await
            .map_err(fail("emptying the tables for --force"))?;
    }
    // What sync compared against no longer holds; a resumed run keeps the hashes of
    // the batches it takes over.
    // Pipelined: the clearing beside the reading, then the drops beside the recipe.
    let (cleared, deferred) = futures_util::join!(
        state::clear(&tx, resumed.is_none()),
        deferred::capture(&tx, &scan.counts)
    );
    cleared.map_err(fail("clearing ava.sync_state"))?;
    let deferred = deferred.map_err(fail("reading the indexes and constraints"))?;
    let (names, ddl) = deferred::columns(&deferred);
    let (dropped, recorded) = futures_util::join!(
        deferred::drop_all(&tx, &deferred),
        ledger::record_recipe(&tx, run, &names, &ddl)
    );
    dropped.map_err(fail("dropping the indexes and constraints for the load"))?;
    recorded.map_err(fail("recording the indexes and constraints to build"))?;
    progress.phase(&format!(
        "loading without the {} indexes and constraints; they are built afterwards",
        deferred.len()
    ));
    let recipe = Recipe {
        run,
        names,
        ddl,
        waits_for: deferred
            .iter()
            .map(|d| {
                let table = TABLES.iter().position(|t| t.name == d.table);
                table.filter(|_| d.kind != 'f')
            })
            .collect(),
        built: vec![false; deferred.len()],
        digest: scan.digest,
        stat: scan.stat.clone(),
        rejected_rows: scan.rejected_rows(),
    };
    // Read while copying (see `reader::Mode::Stream`), the file's verdict comes last.
    let mut bad_input = None;
    // The writer (and the `--force` transaction in it) ends with this block.
    let result = {
        let mut writer = if force {
            Writer::Single { tx, recipe }
        } else {
            tx.commit()
                .await
                .map_err(fail("committing the dropped indexes"))?;
            Writer::Batches {
                pool,
                builder: builder.map(Box::new),
                recipe,
            }
        };
        match drain(&mut writer, progress, &scan.counts, rx, outcome).await {
            Ok(Some(verdict)) if verdict.bad_total > 0 => {
                let table = verdict.bad.first().map_or(TABLES[0].name, |c| c.table);
                bad_input = Some(verdict);
                Err((
                    table,
                    "the SQLite file has cells that cannot be stored".into(),
                ))
            }
            Ok(verdict) => {
                if let Some(verdict) = verdict {
                    outcome.scanned(&verdict);
                    writer.scanned(verdict);
                }
                writer.finish(progress).await
            }
            Err(failure) => Err(failure),
        }
    };
    let Err((table, error)) = result else {
        return Ok(());
    };
    // Clean up so the target is not left half-loaded; record why the run failed. The
    // control connection may have died with the others (a server restart).
    let detail = error.to_string();
    if target.client_ref().is_closed() {
        if let Ok(fresh) = target.connect_another().await {
            *target = fresh;
        }
    }
    let client = target.client();
    let lost = error.is::<ConnectionLost>();
    let (cleanup, emptied) = if force {
        (
            "The transaction was rolled back: the target still holds its previous rows."
                .to_string(),
            false,
        )
    } else if lost {
        // Keep the committed batches and leave the run `running`: resume finishes it.
        return Err(MigrateError::Copy {
            url: target.url().to_string(),
            table,
            cause: error,
            cleanup: "The batches committed so far stay; when the database answers again, \
                      run `ava migrate --resume` to finish."
                .into(),
        });
    } else if resumed.is_some() {
        (
            "The batches committed so far stay; run `ava migrate --resume` again to finish."
                .to_string(),
            false,
        )
    } else {
        match empty_again(client, run).await {
            Ok(()) => (
                "The rows this run had copied were removed again: the target is empty, as before."
                    .to_string(),
                true,
            ),
            Err(e) => (
                format!(
                    "Removing the rows this run had copied failed too ({}): the target is \
                     half-loaded; run `ava migrate --force` to replace them.",
                    describe_pg(&e)
                ),
                false,
            ),
        }
    };
    // A run that failed because of the file (bad cells found while copying, or the
    // file unreadable part-way) and was undone leaves no trace but its row's id: the
    // target is as it was.
    let unreadable = error.is::<SourceError>();
    if bad_input.is_some() || unreadable {
        if emptied {
            let _ = ledger::forget(client, run).await;
        }
        let undone = if emptied {
            "the rows copied while the file was read were removed again: the target is \
             empty, as it was"
                .to_string()
        } else {
            cleanup.trim_end_matches('.').to_string()
        };
        return Err(match (bad_input, error.downcast::<SourceError>()) {
            (Some(verdict), _) => MigrateError::BadCells {
                cells: verdict.bad,
                total: verdict.bad_total,
                undone: Some(undone),
            },
            (None, Ok(source)) => MigrateError::SourceMidway { source, undone },
            (None, Err(error)) => MigrateError::Reader(error.to_string()),
        });
    }
    let _ = ledger::mark_failed(client, run, &detail).await;
    Err(MigrateError::Copy {
        url: target.url().to_string(),
        table,
        cause: error,
        cleanup,
    })
}

/// Empties the five tables a plain run (into an empty target) had loaded, with the
/// ledger rows and hashes it wrote, and builds again the indexes and constraints it had
/// dropped.
async fn empty_again(client: &Client, run: i64) -> Result<(), tokio_postgres::Error> {
    ledger::truncate_run(client, run).await?;
    let (names, ddl) = ledger::recipe(client, run).await?;
    deferred::rebuild(&[client], &names, &ddl)
        .await
        .map_err(|(_, e)| e)?;
    // The recipe is spent; should this fail, the next run builds nothing (all exist).
    let _ = ledger::recipe_spent(client, run).await;
    Ok(())
}
