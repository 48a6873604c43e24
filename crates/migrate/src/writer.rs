//! The writer: target checks, the idempotency guard, and the copy itself.

use ava_catalog::TABLES;
use ava_sink::{counts, describe as describe_pg, reset_sequence, sequence_behind, Target};
use ava_source::SourceError;
use tokio_postgres::Client;

use crate::load::{drain, open_pool, ConnectionLost, Recipe, Writer};
use crate::reader::{self, Msg, ReaderError, Scan};
use crate::{deferred, state};
use crate::{Action, Interrupted, MigrateError, Options, Outcome, Progress, TableReport};

/// Key of the session advisory lock that keeps two `ava migrate` runs apart
/// (`'ava migrate'` in ASCII, so it is recognisable in `pg_locks`).
const LOCK_KEY: i64 = 0x6176_6120_6d69_6772;

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
    } else if let Some((run, objects)) = deferred::pending_repair(target.client_ref())
        .await
        .map_err(|e| target.error("reading ava.migrate_runs", e))?
    {
        return Err(MigrateError::NeedsRepair { url, run, objects });
    }
    target.check_schema().await?;

    // Both at once: one round trip.
    let (target_counts, interrupted) = futures_util::join!(
        counts(target.client_ref()),
        interrupted_run(target.client_ref())
    );
    let target_counts = target_counts.map_err(|e| target.error("counting rows", e))?;
    let interrupted = interrupted.map_err(|e| target.error("reading ava.migrate_runs", e))?;
    let resume = match (&interrupted, opts.resume) {
        (Some(i), true) => Some(i.run),
        (None, true) => {
            progress.phase("no interrupted run to resume: migrating as usual");
            None
        }
        _ => None,
    };
    let empty = target_counts.iter().all(|n| *n == 0);
    // A plain run into an empty target reads the file once, copying while it checks:
    // should a row turn out bad, the run empties the target again. Every other run
    // checks the whole file before it writes anything.
    let stream = empty && resume.is_none() && opts.rejects.is_none() && !opts.dry_run;
    let mode = if stream {
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
        if opts.dry_run || !(empty || resume.is_some()) {
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
    // With `--on-error skip` the rejected rows are left out, of the copy and of every
    // comparison; without it, any bad cell refuses the run.
    let skipping = opts.rejects.is_some();
    let excluded = ava_verify::Excluded::new(if skipping {
        scan.rejected.clone()
    } else {
        Vec::new()
    });

    outcome.action = if scan.bad_total > 0 && !skipping {
        Action::BadInput
    } else if resume.is_some() {
        Action::Resume
    } else if empty {
        Action::Copy
    } else {
        progress.phase("comparing the rows already in the target");
        if ava_verify::verify(&opts.sqlite, target, &excluded)
            .await?
            .identical()
        {
            Action::AlreadyMigrated
        } else if opts.force {
            Action::Replace
        } else {
            Action::Refuse
        }
    };

    if outcome.action == Action::AlreadyMigrated {
        let _ = go.send(None);
        finish_already_migrated(target, opts, &mut outcome).await?;
        return Ok(outcome);
    }
    let copy = matches!(
        outcome.action,
        Action::Copy | Action::Replace | Action::Resume
    ) && !opts.dry_run;
    // The reader waits for this (scanning first); a closed channel also stops it.
    let mut skip = match resume.filter(|_| copy) {
        Some(run) => committed_ranges(target.client_ref(), run)
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
    if !copy {
        return match (outcome.action, opts.dry_run) {
            (_, true) => Ok(outcome),
            (Action::BadInput, _) => Err(MigrateError::BadCells {
                cells: scan.bad,
                total: scan.bad_total,
                undone: None,
            }),
            _ => Err(MigrateError::TargetNotEmpty {
                url,
                tables: TABLES.iter().map(|t| t.name).zip(target_counts).collect(),
                interrupted: outcome.interrupted,
            }),
        };
    }
    copy_all(target, pool, opts, progress, &scan, &mut rx, &mut outcome).await?;
    outcome.wrote = true;
    Ok(outcome)
}

impl Outcome {
    /// What the scan found, per table: converted cells, bad cells, rejected rows.
    fn scanned(&mut self, scan: &Scan) {
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
        tx.execute(
            "UPDATE ava.migrate_runs SET status = 'done', finished_at = now(), \
             detail = 'interrupted with every row copied; finished by a later run' \
             WHERE status = 'running'",
            &[],
        )
        .await?;
        tx.commit().await
    };
    work.await
        .map_err(|e| query_error(&url, "moving the id sequences past max(id)", e))?;
    outcome.wrote = !behind.is_empty();
    Ok(())
}

/// Takes the session lock that keeps two writing runs (`ava migrate`, `ava sync`) on one
/// database apart.
pub(crate) async fn lock(target: &Target) -> Result<(), MigrateError> {
    let locked = try_lock(target.client_ref())
        .await
        .map_err(|e| target.error("taking the migrate lock", e))?;
    if locked {
        Ok(())
    } else {
        Err(MigrateError::Busy {
            url: target.url().to_string(),
        })
    }
}

/// One try at the lock of [`lock`].
async fn try_lock(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_typed_one(
            "SELECT pg_try_advisory_lock($1)",
            &[(&LOCK_KEY, tokio_postgres::types::Type::INT8)],
        )
        .await?
        .get(0))
}

/// A writing run's start, pipelined (far from the server each round trip costs the
/// distance): the session's settings ([`Target::prepare_session`]: the CLI connects
/// without them, see `ava_sink::connect_unprepared`), `first` (the run's first checks),
/// then — unless `dry_run` — settling with another run's sessions
/// ([`crate::sessions::settle`]) and the lock. The first error on the wire wins; a lock
/// missed because a dead run still held it is tried again once settled.
pub(crate) async fn start<E: Into<MigrateError>>(
    target: &Target,
    first: impl std::future::Future<Output = Result<(), E>>,
    dry_run: bool,
    settle: crate::sessions::Settle,
    progress: &dyn Progress,
) -> Result<(), MigrateError> {
    let session = async { target.prepare_session().await.map_err(MigrateError::from) };
    let first = async { first.await.map_err(Into::into) };
    if dry_run {
        return futures_util::try_join!(session, first).map(drop);
    }
    let settled_and_locked = async {
        let (settled, locked) = futures_util::join!(
            crate::sessions::settle(target, settle, progress),
            try_lock(target.client_ref())
        );
        settled?;
        match locked {
            Ok(true) => Ok(()),
            _ => lock(target).await,
        }
    };
    futures_util::try_join!(session, first, settled_and_locked).map(drop)
}

pub(crate) fn reader_error(e: ReaderError, url: &str) -> MigrateError {
    match e {
        ReaderError::Source(e) => MigrateError::Source(e),
        ReaderError::Cell(cell) => MigrateError::BadCells {
            cells: vec![cell],
            total: 1,
            undone: None,
        },
        ReaderError::Stopped => MigrateError::Reader(format!("stopped while writing to {url}")),
        ReaderError::Rejects(path, source) => MigrateError::Rejects { path, source },
    }
}

/// Per table (catalog order), the id ranges the run's committed batches cover, sorted.
async fn committed_ranges(
    client: &Client,
    run: i64,
) -> Result<Vec<Vec<(i64, i64)>>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT table_name, first_id, last_id FROM ava.migrate_batches \
             WHERE run_id = $1 ORDER BY table_name, first_id",
            &[&run],
        )
        .await?;
    Ok(TABLES
        .iter()
        .map(|t| {
            rows.iter()
                .filter(|r| r.get::<_, &str>(0) == t.name)
                .map(|r| (r.get(1), r.get(2)))
                .collect()
        })
        .collect())
}

/// The most recent run still marked `running`, if any (it was interrupted: the lock
/// we hold means no other run is live).
async fn interrupted_run(client: &Client) -> Result<Option<Interrupted>, tokio_postgres::Error> {
    Ok(client
        .query_typed_opt(
            "SELECT id, started_at::text, rows_copied FROM ava.migrate_runs \
             WHERE status = 'running' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?
        .map(|r| Interrupted {
            run: r.get(0),
            started_at: r.get(1),
            rows_copied: r.get(2),
        }))
}

/// Copies every batch the reader sends. A plain run commits each batch with its
/// progress; `--force` (Replace) does everything in one transaction.
async fn copy_all(
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
    use tokio_postgres::types::Type;
    let (mode, resumed_id) = (if force { "force" } else { "copy" }, resumed.unwrap_or(0));
    let run_params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
        (&mode, Type::TEXT),
        (&source, Type::TEXT),
        (&resumed_id, Type::INT8),
    ];
    let (set, run) = futures_util::join!(
        client.batch_execute("SET synchronous_commit = off"),
        client.query_typed_one(
            "WITH run AS (INSERT INTO ava.migrate_runs (mode, source) VALUES ($1, $2) RETURNING id), \
             batches AS (UPDATE ava.migrate_batches SET run_id = (SELECT id FROM run) \
                         WHERE run_id = $3), \
             runs AS (UPDATE ava.migrate_runs SET status = 'failed', finished_at = now(), \
                      detail = CASE WHEN id = $3 \
                               THEN 'interrupted; resumed by run ' || (SELECT id FROM run)::text \
                               ELSE 'interrupted; superseded by a later run' END \
                      WHERE status = 'running') \
             SELECT id FROM run",
            &run_params,
        )
    );
    set.map_err(fail("setting synchronous_commit"))?;
    let run: i64 = run
        .map_err(fail("recording the run in ava.migrate_runs"))?
        .get(0);

    // Take the indexes and constraints off, recording how to build them again.
    let tx = client
        .transaction()
        .await
        .map_err(fail("starting a transaction"))?;
    if force {
        tx.batch_execute(&format!(
            "TRUNCATE {}; DELETE FROM ava.migrate_batches WHERE run_id <> {run}",
            all_tables()
        ))
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
    let recipe_params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
        (&run, Type::INT8),
        (&names, Type::TEXT_ARRAY),
        (&ddl, Type::TEXT_ARRAY),
    ];
    let (dropped, recorded) = futures_util::join!(
        deferred::drop_all(&tx, &deferred),
        tx.execute_typed(
            "UPDATE ava.migrate_runs SET deferred_names = $2, deferred_ddl = $3 WHERE id = $1",
            &recipe_params,
        )
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
            let _ = client
                .execute("DELETE FROM ava.migrate_runs WHERE id = $1", &[&run])
                .await;
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
    let _ = client
        .execute(
            "UPDATE ava.migrate_runs SET status = 'failed', finished_at = now(), detail = $2 WHERE id = $1",
            &[&run, &detail],
        )
        .await;
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
    client
        .batch_execute(&format!(
            "TRUNCATE {}; DELETE FROM ava.migrate_batches WHERE run_id = {run}; \
             DELETE FROM ava.source_hashes",
            all_tables()
        ))
        .await?;
    let row = client
        .query_one(
            "SELECT deferred_names, deferred_ddl FROM ava.migrate_runs WHERE id = $1",
            &[&run],
        )
        .await?;
    let (names, ddl): (Vec<String>, Vec<String>) = (row.get(0), row.get(1));
    deferred::rebuild(&[client], &names, &ddl)
        .await
        .map_err(|(_, e)| e)?;
    // The recipe is spent; should this fail, the next run builds nothing (all exist).
    let _ = client
        .execute(
            "UPDATE ava.migrate_runs SET deferred_names = '{}', deferred_ddl = '{}' WHERE id = $1",
            &[&run],
        )
        .await;
    Ok(())
}

pub(crate) fn query_error(url: &str, context: &str, source: tokio_postgres::Error) -> MigrateError {
    MigrateError::Sink(ava_sink::SinkError::Query {
        url: url.to_string(),
        context: context.to_string(),
        source,
    })
}

/// `public."customers", …`: every catalog table, for `TRUNCATE`.
fn all_tables() -> String {
    TABLES
        .iter()
        .map(|t| format!("public.\"{}\"", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}
