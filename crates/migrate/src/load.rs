//! The load: batches from the reader onto a pool of connections, each committed with its
//! ledger row (or, for `--force`, all inside one transaction), retried over a lost
//! connection; then the indexes and constraints built again, the sequences moved and
//! the run marked done. `writer` decides what to load, `copy` starts the load and cleans
//! up after a failure, `pool` opens the connections and tells a lost one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ava_catalog::{Table, TABLES};
use ava_sink::{copy_in, describe as describe_pg, Target};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::pool::{retriable, writer_connection};
use crate::reader::{Msg, ReaderError, Scan};
use crate::{deferred, ledger, state};
use crate::{Outcome, Progress};

pub(crate) type CopyFailure = (&'static str, Box<dyn std::error::Error + Send + Sync>);

/// The connection stayed lost for [`RETRY_FOR`]: the run keeps what it committed, to be
/// finished by `--resume`.
#[derive(Debug)]
pub(crate) struct ConnectionLost(String);

impl std::fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the connection was lost and could not be opened again for {} s ({})",
            RETRY_FOR.as_secs(),
            self.0
        )
    }
}

impl std::error::Error for ConnectionLost {}

/// The run and what it must build again at the end.
pub(crate) struct Recipe {
    pub(crate) run: i64,
    pub(crate) names: Vec<String>,
    pub(crate) ddl: Vec<String>,
    /// Per entry of `names` and `ddl`: the table (its position in [`TABLES`]) whose copy
    /// it waits for, or `None` (a foreign key) to be built after every table's copy.
    pub(crate) waits_for: Vec<Option<usize>>,
    /// Per entry: built already, while later tables were being copied.
    pub(crate) built: Vec<bool>,
    /// For `ava.sync_state` when the run is done.
    pub(crate) digest: Option<u128>,
    pub(crate) stat: Option<String>,
    pub(crate) rejected_rows: i64,
}

/// One batch as the reader sent it.
struct Batch {
    data: Bytes,
    /// First and last id.
    ids: (i64, i64),
    /// The rows' packed raw hashes, for `ava.source_hashes`.
    hashes: Bytes,
}

/// Where batches go: a plain run commits each batch together with the run's progress,
/// on several connections at once; `--force` writes everything inside one transaction.
pub(crate) enum Writer<'a> {
    /// `builder` builds a table's indexes as soon as its copy is done, while the pool
    /// copies the tables after it.
    Batches {
        pool: Vec<Target>,
        builder: Option<Box<Target>>,
        recipe: Recipe,
    },
    Single {
        tx: Transaction<'a>,
        recipe: Recipe,
    },
}

/// One connection batches are written on.
enum Conn<'c, 't> {
    /// Each batch in its own transaction, committed with its ledger row; a connection
    /// that drops is opened again and the batch retried.
    Commits(Box<Target>),
    /// Inside the one `--force` transaction.
    Inside(&'c Transaction<'t>),
}

/// How long a lost connection is tried again (with backoff) before the run gives up
/// with the hint to resume.
pub(crate) const RETRY_FOR: Duration = Duration::from_secs(60);

impl Conn<'_, '_> {
    async fn write(
        self,
        table: &Table,
        batch: &Batch,
        run: i64,
        progress: &dyn Progress,
    ) -> (Self, Result<u64, tokio_postgres::Error>) {
        let mut conn = match self {
            Conn::Inside(tx) => {
                let result = write_batch(tx, table, batch, run).await;
                return (self, result);
            }
            Conn::Commits(conn) => conn,
        };
        let deadline = Instant::now() + RETRY_FOR;
        let mut delay = Duration::from_millis(250);
        loop {
            let error = match commit_batch(conn.client_ref(), table, batch, run).await {
                Ok(copied) => return (Conn::Commits(conn), Ok(copied)),
                Err(e) if retriable(&e) && Instant::now() < deadline => e,
                Err(e) => return (Conn::Commits(conn), Err(e)),
            };
            progress.phase(&format!(
                "{}: connection lost ({}); reconnecting",
                table.name,
                describe_pg(&error)
            ));
            // Reconnect, backing off, until the deadline.
            loop {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                match writer_connection(&conn).await {
                    Ok(fresh) => {
                        *conn = fresh;
                        break;
                    }
                    Err(_) if Instant::now() < deadline => {}
                    Err(_) => return (Conn::Commits(conn), Err(error)),
                }
            }
            // The commit may have landed before the connection dropped.
            match ledger::committed_batch(conn.client_ref(), run, table, batch.ids.0).await {
                Ok(Some(rows)) => return (Conn::Commits(conn), Ok(rows)),
                Ok(None) => {}
                Err(e) if retriable(&e) && Instant::now() < deadline => {}
                Err(e) => return (Conn::Commits(conn), Err(e)),
            }
        }
    }
}

/// One batch in its own transaction with its ledger row, in three round trips — over a
/// network each costs the distance to the server: `BEGIN` with the COPY's preparation;
/// the COPY's start; its data with its end; then the ledger row, the rows' hashes and
/// `COMMIT`, pipelined. Should the ledger row or the hashes fail, the transaction is
/// aborted and the `COMMIT` sent with them ends it without committing (Postgres answers
/// a `COMMIT` of a failed transaction with a rollback), and the error is returned.
async fn commit_batch(
    client: &Client,
    table: &Table,
    batch: &Batch,
    run: i64,
) -> Result<u64, tokio_postgres::Error> {
    let copied = match ava_sink::copy_in_after(client, "BEGIN", table, batch.data.clone()).await {
        Ok(copied) => copied,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    let (recorded, hashed, ended) = futures_util::join!(
        ledger::record_batch(client, run, table, batch.ids, copied),
        state::insert(client, table, batch.ids, &batch.hashes),
        client.batch_execute("COMMIT"),
    );
    recorded?;
    hashed?;
    ended.map(|()| copied)
}

impl Writer<'_> {
    fn run(&self) -> i64 {
        match self {
            Writer::Batches { recipe, .. } | Writer::Single { recipe, .. } => recipe.run,
        }
    }

    /// What the file's scan, done while copying, says the finish records.
    pub(crate) fn scanned(&mut self, scan: Scan) {
        let (Writer::Batches { recipe, .. } | Writer::Single { recipe, .. }) = self;
        recipe.rejected_rows = scan.rejected_rows();
        recipe.digest = scan.digest;
        recipe.stat = scan.stat;
    }

    /// Indexes and constraints, sequences and the run's `done`, committed with (for
    /// `--force`) everything else.
    pub(crate) async fn finish(self, progress: &dyn Progress) -> Result<(), CopyFailure> {
        let built = |r: Result<(), (String, tokio_postgres::Error)>| {
            r.map_err(|(name, e)| -> CopyFailure {
                (
                    "indexes",
                    format!("building {name}: {}", describe_pg(&e)).into(),
                )
            })
        };
        let pg =
            |e: tokio_postgres::Error| -> CopyFailure { ("sequences", describe_pg(&e).into()) };
        match self {
            Writer::Batches {
                mut pool,
                builder,
                recipe,
            } => {
                pool.extend(builder.map(|b| *b));
                let clients: Vec<&Client> = pool.iter().map(Target::client_ref).collect();
                let left = |list: &[String]| -> Vec<String> {
                    list.iter()
                        .zip(&recipe.built)
                        .filter(|(_, built)| !**built)
                        .map(|(item, _)| item.clone())
                        .collect()
                };
                let (names, ddl) = (left(&recipe.names), left(&recipe.ddl));
                progress.phase(&format!(
                    "building {} indexes and constraints on {} connections",
                    ddl.len(),
                    clients.len()
                ));
                built(deferred::rebuild(&clients, &names, &ddl).await)?;
                progress.phase("moving the id sequences past max(id)");
                let Some(first) = pool.first_mut() else {
                    return Err(("sequences", "no connection left".into()));
                };
                let tx = first.client().transaction().await.map_err(pg)?;
                finish(&tx, &recipe).await.map_err(pg)?;
                tx.commit().await.map_err(pg)
            }
            Writer::Single { tx, recipe } => {
                progress.phase(&format!(
                    "building {} indexes and constraints",
                    recipe.ddl.len()
                ));
                built(deferred::rebuild(&[&tx], &recipe.names, &recipe.ddl).await)?;
                finish(&tx, &recipe).await.map_err(pg)?;
                tx.commit().await.map_err(pg)
            }
        }
    }
}

/// Copies a batch and records it — in the ledger and its rows' hashes — inside the
/// caller's transaction.
async fn write_batch(
    client: &(impl GenericClient + ava_sink::CopyTarget),
    table: &Table,
    batch: &Batch,
    run: i64,
) -> Result<u64, tokio_postgres::Error> {
    let copied = copy_in(client, table, batch.data.clone()).await?;
    ledger::record_batch(client, run, table, batch.ids, copied).await?;
    state::insert(client, table, batch.ids, &batch.hashes).await?;
    Ok(copied)
}

/// Per table, during the copy: batches in flight, whether the reader is done with it,
/// when it started.
struct Tables {
    /// Told each table whose copy is done (for the early index builds).
    done: Option<tokio::sync::mpsc::UnboundedSender<usize>>,
    pending: Vec<usize>,
    read: Vec<bool>,
    started: Vec<Instant>,
    finished: Vec<bool>,
}

impl Tables {
    /// A batch of `table` landed: the table is finished if it was its last.
    fn landed(&mut self, table: usize, outcome: &mut Outcome, progress: &dyn Progress) {
        self.pending[table] = self.pending[table].saturating_sub(1);
        self.landed_none(table, outcome, progress);
    }

    /// Finishes `table` if the reader is done with it and none of its batches is in
    /// flight.
    fn landed_none(&mut self, table: usize, outcome: &mut Outcome, progress: &dyn Progress) {
        if self.read[table] && self.pending[table] == 0 && !self.finished[table] {
            self.finished[table] = true;
            outcome.tables[table].seconds = self.started[table].elapsed().as_secs_f64();
            progress.table_finished(TABLES[table].name);
            if let Some(done) = &self.done {
                let _ = done.send(table);
            }
        }
    }
}

/// A batch that has landed (or failed): its connection, table and rows.
type Landed<'c, 't> = (Conn<'c, 't>, usize, u64, Result<u64, tokio_postgres::Error>);

/// Books a landed batch and frees its connection.
fn book<'c, 't>(
    (conn, table, rows, result): Landed<'c, 't>,
    idle: &mut Vec<Conn<'c, 't>>,
    outcome: &mut Outcome,
    progress: &dyn Progress,
) -> Result<(), CopyFailure> {
    let name = TABLES[table].name;
    let copied = result.map_err(|e| -> CopyFailure {
        if retriable(&e) {
            (name, Box::new(ConnectionLost(describe_pg(&e))))
        } else {
            (name, describe_pg(&e).into())
        }
    })?;
    if copied != rows {
        return Err((
            name,
            format!("Postgres took {copied} of {rows} rows").into(),
        ));
    }
    outcome.tables[table].copied += copied;
    progress.rows_copied(name, copied);
    idle.push(conn);
    Ok(())
}

/// Writes every batch the reader sends, table by table, reporting progress: each batch
/// on the next free connection, so several are in flight at once; a table is done when
/// all its batches are. Returns the scan's verdict when the reader sent it last
/// (`reader::Mode::Stream`): if it found bad cells, the batches stopped before them.
pub(crate) async fn drain(
    writer: &mut Writer<'_>,
    progress: &dyn Progress,
    counts: &[u64],
    rx: &mut tokio::sync::mpsc::Receiver<Msg>,
    outcome: &mut Outcome,
) -> Result<Option<Scan>, CopyFailure> {
    let run = writer.run();
    let mut verdict = None;
    // A table's primary key and indexes are built as soon as its copy is done, on a
    // connection of their own, while the tables after it are copied; what is left when
    // the copy ends is built by the whole pool in `Writer::finish`.
    let (builder, early) = match writer {
        Writer::Batches {
            builder, recipe, ..
        } => (
            builder.take(),
            (
                recipe.names.clone(),
                recipe.ddl.clone(),
                recipe.waits_for.clone(),
            ),
        ),
        Writer::Single { .. } => (None, Default::default()),
    };
    let (done, finished) = tokio::sync::mpsc::unbounded_channel();
    let copy_over = AtomicBool::new(false);
    let early = early_builds(builder.as_deref(), early, finished, &copy_over, progress);
    let copy = async {
        let mut idle: Vec<Conn> = match &mut *writer {
            Writer::Batches { pool, .. } => {
                pool.drain(..).map(|t| Conn::Commits(Box::new(t))).collect()
            }
            Writer::Single { tx, .. } => vec![Conn::Inside(tx)],
        };
        let mut in_flight = FuturesUnordered::new();
        // No barrier between tables: the next table's batches go out while the last
        // ones of the previous table are still in flight (the constraints are off
        // during the load, so order does not matter), and a table is finished when the
        // reader is done with it and its last batch has landed. Far from the server a
        // barrier would cost a round trip and an idle pool at every table.
        let mut tables = Tables {
            done: builder.is_some().then_some(done),
            pending: vec![0; TABLES.len()],
            read: vec![false; TABLES.len()],
            started: vec![Instant::now(); TABLES.len()],
            finished: vec![false; TABLES.len()],
        };
        let mut current = 0;
        let copy_started = Instant::now();
        progress.table_started(TABLES[0].name, counts[0]);
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Batch {
                    table,
                    data,
                    rows,
                    ids,
                    hashes,
                } => {
                    let batch = Batch { data, ids, hashes };
                    if idle.is_empty() {
                        if let Some(landed) = in_flight.next().await {
                            let landed: Landed = landed;
                            let table = landed.1;
                            book(landed, &mut idle, outcome, progress)?;
                            tables.landed(table, outcome, progress);
                        }
                    }
                    let Some(conn) = idle.pop() else {
                        return Err((TABLES[table].name, "no connection to write on".into()));
                    };
                    tables.pending[table] += 1;
                    in_flight.push(async move {
                        let (conn, result) =
                            conn.write(&TABLES[table], &batch, run, progress).await;
                        (conn, table, rows, result)
                    });
                }
                Msg::TableDone(table) => {
                    tables.read[table] = true;
                    tables.landed_none(table, outcome, progress);
                    current = table + 1;
                    if let Some(next) = TABLES.get(current) {
                        tables.started[current] = Instant::now();
                        progress.table_started(next.name, counts[current]);
                    }
                }
                // The file itself: the caller undoes the run (see `copy_all`).
                Msg::Failed(ReaderError::Source(e)) => {
                    return Err((table_name(current), Box::new(e)))
                }
                Msg::Failed(e) => return Err((table_name(current), Box::new(describe(e)))),
                Msg::Scanned(scan) => verdict = Some(scan),
                Msg::Counted(_) => {}
            }
        }
        while let Some(landed) = in_flight.next().await {
            let table = landed.1;
            book(landed, &mut idle, outcome, progress)?;
            tables.landed(table, outcome, progress);
        }
        outcome.copy_seconds = copy_started.elapsed().as_secs_f64();
        if verdict.as_ref().is_some_and(|v: &Scan| v.bad_total > 0) {
            return Ok(Vec::new());
        }
        if current < TABLES.len() {
            return Err((
                table_name(current),
                "the SQLite reader stopped early".into(),
            ));
        }
        drop(in_flight);
        // The connections (some perhaps opened again) go back for the index builds.
        Ok(idle
            .into_iter()
            .filter_map(|c| match c {
                Conn::Commits(t) => Some(*t),
                Conn::Inside(_) => None,
            })
            .collect::<Vec<Target>>())
    };
    let copy = async {
        let copied = copy.await;
        copy_over.store(true, Ordering::Relaxed);
        copied
    };
    let (copied, built) = futures_util::join!(copy, early);
    let back = copied?;
    if let Writer::Batches {
        pool,
        builder: slot,
        recipe,
    } = writer
    {
        pool.extend(back);
        // A builder whose connection died (a server restart) is left out of the end.
        *slot = builder.filter(|b| !b.client_ref().is_closed());
        recipe.built = built;
    }
    Ok(verdict)
}

/// The early index builds of [`drain`]: for each table whose copy is done (`finished`),
/// its primary key and indexes (the entries of `names`/`ddl` waiting for it), one after
/// another on `builder`, until the copy is over or a build fails. Returns which entries
/// it built.
async fn early_builds(
    builder: Option<&Target>,
    (names, ddl, waits_for): (Vec<String>, Vec<String>, Vec<Option<usize>>),
    mut finished: tokio::sync::mpsc::UnboundedReceiver<usize>,
    copy_over: &AtomicBool,
    progress: &dyn Progress,
) -> Vec<bool> {
    let mut built = vec![false; names.len()];
    let Some(builder) = builder else {
        return built;
    };
    while let Some(table) = finished.recv().await {
        let ours: Vec<usize> = (0..names.len())
            .filter(|&i| waits_for[i] == Some(table))
            .collect();
        if ours.is_empty() || copy_over.load(Ordering::Relaxed) {
            continue;
        }
        progress.phase(&format!(
            "{}: building its {} indexes while the copy goes on",
            TABLES[table].name,
            ours.len()
        ));
        for i in ours {
            // What is left when the copy ends is built by every connection at once.
            if copy_over.load(Ordering::Relaxed) {
                break;
            }
            // A failure here only leaves the rest to the end, where it is retried on
            // every connection (the copy's reconnect after a lost one) and reported.
            if deferred::rebuild(&[builder.client_ref()], &names[i..=i], &ddl[i..=i])
                .await
                .is_err()
            {
                return built;
            }
            built[i] = true;
        }
    }
    built
}

/// Moves every identity sequence past `max(id)`, records what `ava sync` will compare
/// against, and marks the run done.
async fn finish(
    tx: &tokio_postgres::Transaction<'_>,
    recipe: &Recipe,
) -> Result<(), tokio_postgres::Error> {
    let run = recipe.run;
    // Two round trips, the statements pipelined: every sequence beside the fingerprint
    // (setval changes no row), then the state beside the run's row.
    let sequences = TABLES
        .iter()
        .map(ava_sink::reset_sequence_sql)
        .collect::<Vec<_>>()
        .join(";\n");
    let (moved, fingerprint) =
        futures_util::join!(tx.batch_execute(&sequences), state::Fingerprint::read(tx));
    moved?;
    let state = state::State {
        digest: recipe.digest,
        stat: recipe.stat.clone(),
        fingerprint: fingerprint?,
        rejected_rows: recipe.rejected_rows,
    };
    let (written, done) = futures_util::join!(state::write(tx, &state), ledger::mark_done(tx, run));
    written?;
    done?;
    Ok(())
}

fn table_name(i: usize) -> &'static str {
    TABLES.get(i).map_or("daily_metrics", |t| t.name)
}

fn describe(e: ReaderError) -> std::io::Error {
    std::io::Error::other(match e {
        ReaderError::Source(e) => e.to_string(),
        ReaderError::Cell(c) => c.to_string(),
        ReaderError::Stopped => "the SQLite reader stopped".into(),
        ReaderError::Rejects(path, e) => format!("writing {}: {e}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_error_keeps_its_reason() {
        let e = describe(ReaderError::Stopped);
        assert_eq!(e.to_string(), "the SQLite reader stopped");
        assert_eq!(table_name(0), TABLES[0].name);
        assert_eq!(table_name(99), "daily_metrics");
    }
}
