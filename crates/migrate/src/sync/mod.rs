//! `ava sync`: makes a migrated target equal to the source again by writing only what
//! differs — for the cutover, run while the app still writes to SQLite, then once more
//! after it stops.
//!
//! How it finds the differences, cheapest first (see [`crate::state`]):
//! 1. **The file is unchanged**: its digest equals the one recorded by the last migrate
//!    or sync, and the target's fingerprint equals the recorded one (nobody else wrote
//!    to it). Nothing is read but the file's bytes.
//! 2. **The recorded hashes**: the target's fingerprint still matches, so the recorded
//!    raw hash of every target row stands for the row. One pass over the SQLite file
//!    hashes each row as SQLite holds it; rows whose hash differs (or that are new) are
//!    converted and checked in full, the others only by their keys (id, references,
//!    unique columns — what a changed row elsewhere can break). The target's rows are
//!    not read.
//! 3. **Every row** (no recorded state, or the target was written outside ava): the
//!    verifier's chunk checksums on both sides, narrowed down to rows, on a consistent
//!    copy of the file.
//!
//! The scan's bad-input rules apply in every case. The writes then go in one
//! transaction: new and changed rows upserted table by table, parents first (through a
//! temporary table and `INSERT … ON CONFLICT (id) DO UPDATE`), rows gone from the source
//! deleted, children first, sequences moved past `max(id)`, and the new hashes and state
//! recorded. Cases 1 and 2 run in one repeatable-read transaction from the first read of
//! the target to the commit, so a concurrent writer either fails it or changes the
//! fingerprint the next run compares.
//!
//! Here: cases 1 and 2 ([`attempt`]); `pass` (the pass over the file that finds the
//! changes), `every_row` (case 3), `apply` (the writes).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ava_catalog::TABLES;
use ava_sink::Target;
use ava_source::{file_digest, file_stat, CommitWatch};
use tokio_postgres::{IsolationLevel, Transaction};

mod apply;
mod every_row;
mod pass;

use apply::{apply, finish, stage, Applied, InFlight, Recording};
use every_row::every_row;
use pass::{accept, run_pass, Changes, Collect};

use crate::error::query_error;
use crate::start::start;
use crate::state::{self, Fingerprint, Patches, State};
use crate::{MigrateError, Progress};

/// What `ava sync` should do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub sqlite: PathBuf,
    /// Find the differences and report them; write nothing.
    pub dry_run: bool,
    /// `--on-error skip`: rejected rows are left out (and written here), as in migrate.
    pub rejects: Option<PathBuf>,
    /// What to do about the server sessions another run left behind.
    pub settle: crate::sessions::Settle,
}

/// Per table, what sync changed (or with `--dry-run` would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncTable {
    pub table: &'static str,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

/// How sync found the differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The file's bytes are those of the last run and the target is as it left it.
    Unchanged,
    /// Every SQLite row's hash against the hashes the last run recorded.
    Hashes,
    /// Every row on both sides: no run is recorded.
    EveryRowNoState,
    /// Every row on both sides: the target was written outside ava since the last run.
    EveryRowTargetChanged,
}

/// The result of a sync.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub tables: Vec<SyncTable>,
    pub compared: Compared,
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
    match attempt(target, opts, progress, false).await {
        Err(Attempt::Collision) => {
            progress.phase(
                "a changed row takes a unique value another row holds: \
                 checking the keys of every row",
            );
            attempt(target, opts, progress, true)
                .await
                .map_err(|e| match e {
                    Attempt::Failed(e) => e,
                    Attempt::Collision => MigrateError::Reader(
                        "a unique value collision the full check did not find".into(),
                    ),
                })
        }
        Err(Attempt::Failed(e)) => Err(e),
        Ok(report) => Ok(report),
    }
}

/// Why one attempt at a sync stopped.
enum Attempt {
    Failed(MigrateError),
    /// Rows checked only by their id would collide with a changed row on a unique
    /// column: the sync must check every row's keys (the scan's rules then say which).
    Collision,
}

impl<E: Into<MigrateError>> From<E> for Attempt {
    fn from(e: E) -> Attempt {
        Attempt::Failed(e.into())
    }
}

/// One sync; with `keys_always`, the keys of unchanged rows are checked too.
async fn attempt(
    target: &mut Target,
    opts: &SyncOptions,
    progress: &dyn Progress,
    keys_always: bool,
) -> Result<SyncReport, Attempt> {
    let started = Instant::now();
    let url = target.url().to_string();
    // The file's digest is read while the target is asked its questions (far from the
    // server those take longer than reading the file), with a watch on SQLite's commits
    // started before it; how each way of comparing may use it is said where it does.
    let early_stat = file_stat(&opts.sqlite);
    let early = {
        let path = opts.sqlite.clone();
        tokio::task::spawn_blocking(move || {
            let watch = CommitWatch::start(&path).ok();
            (watch, file_digest(&path).ok())
        })
    };
    progress.phase("checking the target schema");
    start(
        target,
        ava_migrations::ensure_ready(target),
        opts.dry_run,
        opts.settle,
        progress,
    )
    .await?;
    let fail = |context: &'static str| {
        let url = url.clone();
        move |e| query_error(&url, context, e)
    };

    progress.phase("reading what the last run recorded");
    // The recorded hashes come over a second connection while the first reads the
    // fingerprint (only ava writes them, and this run holds the lock), read only once
    // the pass needs them: an unchanged file needs none, and far from the server they
    // cost megabytes. The connection is opened at once in the background: far from the
    // server that costs several round trips, and the pass may need it soon.
    let another = tokio::spawn(target.connect_another());
    let tx = begin(target)
        .await
        .map_err(fail("starting the sync transaction"))?;
    // Both at once (one round trip): what the last run recorded, then the target's
    // fingerprint — a scan of every table, which goes on while the file is read.
    let mut fingerprint = Box::pin(futures_util::future::maybe_done(Fingerprint::read(&tx)));
    let recorded = {
        let read = state::read(&tx);
        futures_util::pin_mut!(read);
        std::future::poll_fn(|cx| {
            // In this order on the wire: the recorded state is answered first.
            let recorded = read.as_mut().poll(cx);
            let _ = fingerprint.as_mut().poll(cx);
            recorded
        })
        .await
    }
    .map_err(fail("reading ava.sync_state"))?;
    let report = |tables, compared, wrote| SyncReport {
        tables,
        compared,
        wrote,
        seconds: started.elapsed().as_secs_f64(),
    };
    let Some(recorded) = recorded else {
        drop(fingerprint);
        drop(tx);
        progress.phase("no earlier run is recorded: comparing every row");
        let digest = digest_of(&opts.sqlite).await?;
        let fingerprint = Fingerprint::read(target.client_ref())
            .await
            .map_err(fail("reading the tables' fingerprints"))?;
        let (tables, wrote) = every_row(target, opts, progress, digest, &fingerprint).await?;
        return Ok(report(tables, Compared::EveryRowNoState, wrote));
    };

    // At once: the target's fingerprint; the file's digest, then (unless the file is
    // unchanged) the pass over the file, which needs the recorded hashes.
    let fingerprint = {
        let failed = fail("reading the tables' fingerprints");
        async move {
            fingerprint.as_mut().await;
            let fingerprint = fingerprint.as_mut().take_output();
            fingerprint
                .expect("the fingerprint's output is taken once")
                .map_err(failed)
        }
    };
    // The recorded hashes, table by table as the pass reaches them.
    let (send_known, known) = std::sync::mpsc::channel();
    // Each table's rows to write, as the pass finishes the table.
    let (send_writes, table_writes) = tokio::sync::mpsc::unbounded_channel();
    let send_writes = (!opts.dry_run).then_some(send_writes);
    // Whether the file is read: then the recorded hashes are needed, and (unless a dry
    // run) the staging tables are made meanwhile.
    let (reading, read_file) = tokio::sync::watch::channel(None::<bool>);
    let told = |mut read_file: tokio::sync::watch::Receiver<Option<bool>>| async move {
        // A pass that failed before saying counts as no.
        read_file
            .wait_for(Option::is_some)
            .await
            .is_ok_and(|read| *read == Some(true))
    };
    let load = async {
        let mut patches = Patches::new();
        if !told(read_file.clone()).await {
            return Ok::<_, MigrateError>((patches, None));
        }
        let hashes_conn = another.await.map_err(thread)??;
        // Every table's asked for at once (one round trip), each handed to the pass as
        // it arrives, in order.
        let mut fetches: futures_util::stream::FuturesOrdered<_> = (0..TABLES.len())
            .map(|t| state::fetch_table(hashes_conn.client_ref(), t))
            .collect();
        let mut t = 0;
        while let Some(rows) = futures_util::StreamExt::next(&mut fetches).await {
            let rows = rows.map_err(fail("reading ava.source_hashes"))?;
            // The pass stops listening when it ends early; the error comes from there.
            let _ = send_known.send(state::decode_table(rows, t, &mut patches));
            t += 1;
        }
        drop(fetches);
        Ok::<_, MigrateError>((patches, Some(hashes_conn)))
    };
    let stat = file_stat(&opts.sqlite);
    // The pass that finds the changes (whichever way the file is judged below).
    let pass_over = |known, writes| {
        run_pass(
            &opts.sqlite,
            opts,
            &url,
            known,
            Collect::Changes {
                writes,
                keys_always,
            },
        )
    };
    let pass = async {
        // Owned here: should the pass fail before it says, the waiters hear it end.
        let reading = reading;
        if recorded.stat.as_ref() == Some(&stat) {
            // Perhaps unchanged: the digest decides, before any snapshot is taken — the
            // one read at the start if the file's stat has not moved since.
            let digest = match early.await {
                Ok((_, Some(digest))) if early_stat == stat => digest,
                _ => digest_of(&opts.sqlite).await?,
            };
            if recorded.digest == Some(digest) && recorded.rejected_rows == 0 {
                reading.send_replace(Some(false));
                return Ok((Some(digest), None));
            }
            reading.send_replace(Some(true));
            progress.phase("reading the SQLite file");
            let found = pass_over(known, send_writes).await?;
            return Ok((Some(digest), Some(found)));
        }
        // Changed: the pass starts at once, with the digest read at the start (or, if
        // that failed, one read beside it). It stands for the pass's snapshot only if
        // no commit landed from before the one to after the other; otherwise none is
        // recorded (the next run reads the file).
        reading.send_replace(Some(true));
        progress.phase("reading the SQLite file");
        // The digest read at the start serves, its watch having started before it: no
        // commit from then to the pass's end means it is the pass's snapshot's digest.
        let (watch, digest, found) = match early.await {
            Ok((Some(watch), Some(digest))) => {
                let found = pass_over(known, send_writes).await?;
                (watch, digest, found)
            }
            _ => {
                let path = opts.sqlite.clone();
                let watch = tokio::task::spawn_blocking(move || CommitWatch::start(&path))
                    .await
                    .map_err(thread)??;
                let (digest, found) =
                    tokio::join!(digest_of(&opts.sqlite), pass_over(known, send_writes));
                (watch, digest?, found?)
            }
        };
        let quiet = tokio::task::spawn_blocking(move || watch.quiet())
            .await
            .map_err(thread)??;
        Ok::<_, MigrateError>((quiet.then_some(digest), Some(found)))
    };
    // Unless a dry run, each table's rows are written as soon as the pass has finished
    // the table (the target's fingerprint, read first, is not moved by them): far from
    // the server, the COPYs' waits go while the file is read. Should anything below
    // fail, the transaction ends without a commit, and those writes with it.
    let writes = async {
        if !told(read_file.clone()).await || opts.dry_run {
            return Ok(None);
        }
        let staging = stage(&tx).await?;
        let mut flight = InFlight::default();
        flight
            .stream(&tx, &staging, table_writes, !keys_always)
            .await;
        Ok::<_, Applied>(Some((staging, flight)))
    };
    let (fingerprint, patches, pass, writes) = tokio::join!(fingerprint, load, pass, writes);
    let (fingerprint, (patches, hashes_conn), (digest, found)) = (fingerprint?, patches?, pass?);
    drop(hashes_conn);
    if fingerprint != recorded.fingerprint {
        drop(writes);
        drop(tx);
        progress
            .phase("the target was written outside ava since the last run: comparing every row");
        // A digest read beside the pass may be unusable: read one before the copy.
        let digest = digest_of(&opts.sqlite).await?;
        let (tables, wrote) = every_row(target, opts, progress, digest, &fingerprint).await?;
        return Ok(report(tables, Compared::EveryRowTargetChanged, wrote));
    }
    let Some((scan, pass)) = found else {
        if let Some(path) = &opts.rejects {
            // Nothing was rejected last time and nothing changed since.
            std::fs::File::create(path).map_err(|source| MigrateError::Rejects {
                path: path.clone(),
                source,
            })?;
        }
        return Ok(report(no_changes(), Compared::Unchanged, false));
    };
    let scan = accept(scan, opts)?;
    let tables = pass.tables.clone();
    if opts.dry_run {
        return Ok(report(tables, Compared::Hashes, false));
    }
    let wrote = (0..TABLES.len()).any(|t| pass.changes.touches(t));
    progress.phase("writing the differences");
    let state = State {
        digest,
        stat: Some(stat),
        fingerprint,
        rejected_rows: scan.rejected_rows(),
    };
    let hashes = Recording::Patch {
        patches: &patches,
        all: &pass.hashes,
        written: &pass.written,
    };
    let applied = async {
        match writes? {
            Some((staging, flight)) => {
                finish(&tx, &staging, flight, &pass.changes, hashes, Some(state)).await
            }
            None => {
                let staging = stage(&tx).await?;
                apply(
                    &tx,
                    &staging,
                    &pass.changes,
                    hashes,
                    Some(state),
                    !keys_always,
                )
                .await
            }
        }
    };
    match applied.await {
        Err(Applied::Collision) => return Err(Attempt::Collision),
        Err(Applied::Failed(context, e)) => return Err(query_error(&url, context, e).into()),
        Ok(()) => {}
    }
    tx.commit().await.map_err(fail("committing the sync"))?;
    Ok(report(tables, Compared::Hashes, wrote))
}

/// The repeatable-read transaction a sync reads the target's state and writes in.
async fn begin(target: &mut Target) -> Result<Transaction<'_>, tokio_postgres::Error> {
    target
        .client()
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await
}

/// The file's digest (before any snapshot of it is taken).
async fn digest_of(path: &Path) -> Result<u128, MigrateError> {
    let path = path.to_path_buf();
    Ok(tokio::task::spawn_blocking(move || file_digest(&path))
        .await
        .map_err(thread)??)
}

fn no_changes() -> Vec<SyncTable> {
    TABLES
        .iter()
        .map(|t| SyncTable {
            table: t.name,
            ..SyncTable::default()
        })
        .collect()
}

fn thread(e: tokio::task::JoinError) -> MigrateError {
    MigrateError::Reader(e.to_string())
}
