//! The writes of a sync, in one transaction and few round trips: far from the server
//! each round trip costs the distance, and a sync of a handful of rows per table would
//! otherwise spend most of its time waiting. No statement waits for the answer of the
//! one before ([`InFlight`]), and a table's rows are written as soon as the pass over
//! the file has finished the table, while it reads the next ([`InFlight::stream`]): a
//! COPY's wait for the server to accept its data, about one round trip, is spent while
//! the file is read. After the pass, a sync costs three round trips: the deletes,
//! sequences and hashes with the last answers ([`finish`]), the state, the commit.

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::{maybe_done, MaybeDone};
use tokio::sync::mpsc::UnboundedReceiver;

use ava_catalog::{IdRange, TABLES};
use ava_convert::{convert_row, Cell};
use ava_sink::{copy_sql, copy_statement, encode_row, reset_sequence_sql, CopyBuffer};
use ava_source::Source;
use bytes::Bytes;
use tokio_postgres::types::Type;
use tokio_postgres::{Error, Statement, Transaction};

use super::Changes;
use crate::state::{self, count_and_xmin, Hashes, Patches, State, COUNT_AND_XMIN};
use crate::{MigrateError, MAX_BATCH_BYTES};

/// How [`apply`] records the new hashes.
#[derive(Clone, Copy)]
pub(super) enum Recording<'a> {
    /// Every table's whole list, replacing what was recorded.
    Replace(&'a Hashes),
    /// For each table written to, a patch (see [`state::record`]).
    Patch {
        patches: &'a Patches,
        all: &'a Hashes,
        written: &'a Hashes,
    },
}

/// Why [`apply`] stopped.
pub(super) enum Applied {
    /// What it was doing, and the error.
    Failed(&'static str, Error),
    /// A row to write takes a unique value that a row not written holds.
    Collision,
}

/// What one statement of a flight answered.
enum Answer {
    Done,
    /// A collision check: whether a row staying as it is holds a value to be written.
    Taken(bool),
    /// An upsert or a delete on `table`: the count and `xmin` sum of the rows it
    /// replaced or deleted, and how many rows it wrote.
    Moved {
        table: usize,
        before: (i64, i128),
        written: i64,
    },
}

type Step<'a> = Pin<Box<dyn Future<Output = Result<Answer, (&'static str, Error)>> + Send + 'a>>;

fn step<'a>(
    context: &'static str,
    work: impl Future<Output = Result<Answer, Error>> + Send + 'a,
) -> Step<'a> {
    Box::pin(async move { work.await.map_err(|e| (context, e)) })
}

/// Statements in flight on the sync's transaction, in the order they were sent: each
/// sends its first request when added, before any answer is awaited (tokio-postgres
/// pipelines requests issued together, and sends the next one right after a COPY's
/// data). The order on the wire is the order the server runs them in. (`join_all` drives
/// large sets through `FuturesOrdered`, which does not promise the order of first polls.)
#[derive(Default)]
pub(super) struct InFlight<'a> {
    steps: Vec<MaybeDone<Step<'a>>>,
}

impl<'a> InFlight<'a> {
    /// Sends the first request of each of `steps`, in order, after those sent before.
    fn send(&mut self, steps: Vec<Step<'a>>, cx: &mut Context<'_>) {
        for step in steps {
            let mut step = maybe_done(step);
            // A step sends its first request when first polled.
            let _ = Pin::new(&mut step).poll(cx);
            self.steps.push(step);
        }
    }

    /// Drives every step sent; whether any is still waiting.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        let mut pending = false;
        for step in &mut self.steps {
            pending |= Pin::new(step).poll(cx).is_pending();
        }
        pending
    }

    /// Writes each table as it comes from `tables` (see [`upsert_steps`]) until it ends,
    /// driving what is in flight meanwhile. Returns with the last statements perhaps
    /// still in flight: [`finish`] sends the rest after them without waiting.
    pub(super) async fn stream(
        &mut self,
        tx: &'a Transaction<'_>,
        staging: &Staging,
        mut tables: UnboundedReceiver<TableWrite>,
        collisions: bool,
    ) {
        std::future::poll_fn(|cx| {
            loop {
                match tables.poll_recv(cx) {
                    Poll::Ready(Some(write)) => {
                        self.send(upsert_steps(tx, staging, write, collisions), cx)
                    }
                    Poll::Ready(None) => {
                        let _ = self.drive(cx);
                        return Poll::Ready(());
                    }
                    Poll::Pending => break,
                }
            }
            let _ = self.drive(cx);
            Poll::Pending
        })
        .await
    }

    /// Sends `steps` after those in flight, then waits for every answer, in order.
    async fn answers(mut self, steps: Vec<Step<'a>>) -> Vec<Result<Answer, (&'static str, Error)>> {
        let mut last = Some(steps);
        std::future::poll_fn(|cx| {
            if let Some(steps) = last.take() {
                self.send(steps, cx);
            }
            if self.drive(cx) {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        self.steps
            .iter_mut()
            .map(|step| {
                Pin::new(step)
                    .take_output()
                    .expect("every step is done, and its output taken once")
            })
            .collect()
    }
}

/// The staging table of `table` (a temporary table dropped at commit).
fn staging_table(table: usize) -> String {
    format!("ava_sync_{}", TABLES[table].name)
}

/// The first flight of a sync's writes, which need not wait for the pass over the file
/// (it goes out while the file is read): the transaction's id, a staging table for
/// every table and its COPY prepared. The staging tables are temporary and dropped at
/// commit; those no change needs stay empty.
pub(super) struct Staging {
    /// This transaction's id, the `xmin` of every row it writes.
    xid: i64,
    /// Per table (catalog order), the prepared COPY into its staging table.
    copies: Vec<Statement>,
}

/// Makes the [`Staging`] in one round trip.
pub(super) async fn stage(tx: &Transaction<'_>) -> Result<Staging, Applied> {
    let at = |context: &'static str| move |e| Applied::Failed(context, e);
    let creates = (0..TABLES.len())
        .map(|t| {
            format!(
                "CREATE TEMPORARY TABLE {} (LIKE public.\"{}\") ON COMMIT DROP",
                staging_table(t),
                TABLES[t].name
            )
        })
        .collect::<Vec<_>>()
        .join(";\n");
    let copies: Vec<String> = (0..TABLES.len())
        .map(|t| copy_sql(&staging_table(t), &TABLES[t]))
        .collect();
    let (xid, created, prepared) = futures_util::join!(
        tx.query_typed_one("SELECT txid_current() % 4294967296", &[]),
        tx.batch_execute(&creates),
        futures_util::future::join_all(copies.iter().map(|sql| tx.prepare(sql)))
    );
    let xid = xid.map_err(at("reading the transaction's id"))?.get(0);
    created.map_err(at("creating the staging tables"))?;
    let copies = prepared
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(at("preparing the copies into the staging tables"))?;
    Ok(Staging { xid, copies })
}

/// One table's new and changed rows encoded for `COPY`, and its ids gone from the
/// source: what [`upsert_steps`] writes.
pub(super) struct TableWrite {
    pub table: usize,
    pub rows: Vec<Bytes>,
    pub deletes: Vec<i64>,
}

/// The statements that write one table's new and changed rows: the COPYs into its
/// staging table; with `collisions`, the checks that no row to write takes a unique
/// value that a row staying as it is holds (the scan did not check: those rows were
/// checked by their id only); and the upsert.
///
/// The fingerprint moves by exactly what the writes do: the upsert (as the deletes in
/// [`finish`]) returns the count and `xmin` sum of the rows it replaces (read in its own
/// snapshot), and every row it writes gets this transaction's id as its `xmin`.
fn upsert_steps<'a>(
    tx: &'a Transaction<'_>,
    staging: &Staging,
    write: TableWrite,
    collisions: bool,
) -> Vec<Step<'a>> {
    let t = write.table;
    let (table, staging_name) = (&TABLES[t], staging_table(t));
    let mut steps: Vec<Step> = Vec::new();
    for data in write.rows {
        let statement = staging.copies[t].clone();
        steps.push(step("copying rows into the staging table", async move {
            copy_statement(tx, &statement, data)
                .await
                .map(|_| Answer::Done)
        }));
    }
    for index in table.indexes.iter().filter(|i| i.unique && collisions) {
        let sql = format!(
            "SELECT 1 FROM {staging_name} s JOIN public.\"{name}\" t \
             ON t.\"{col}\" = s.\"{col}\" WHERE t.id <> s.id \
             AND NOT EXISTS (SELECT 1 FROM {staging_name} r WHERE r.id = t.id) \
             AND t.id <> ALL($1) LIMIT 1",
            name = table.name,
            col = index.column
        );
        let deletes = write.deletes.clone();
        steps.push(step(
            "checking the unique columns of the rows to write",
            async move {
                let found = tx
                    .query_typed(&sql, &[(&deletes, Type::INT8_ARRAY)])
                    .await?;
                Ok(Answer::Taken(!found.is_empty()))
            },
        ));
    }
    let columns = table.column_list();
    let updates = table.columns[1..]
        .iter()
        .map(|c| format!("\"{0}\" = EXCLUDED.\"{0}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH replaced AS (SELECT {COUNT_AND_XMIN} FROM public.\"{name}\" \
         WHERE id IN (SELECT id FROM {staging_name})), \
         written AS (INSERT INTO public.\"{name}\" ({columns}) \
         SELECT {columns} FROM {staging_name} \
         ON CONFLICT (id) DO UPDATE SET {updates} RETURNING 1) \
         SELECT replaced.*, (SELECT count(*) FROM written) FROM replaced",
        name = table.name
    );
    steps.push(step("upserting the new and changed rows", async move {
        let row = tx.query_typed_one(&sql, &[]).await?;
        Ok(Answer::Moved {
            table: t,
            before: count_and_xmin(&row),
            written: row.get(2),
        })
    }));
    steps
}

/// Writes `changes` inside `tx` in one flight, then records the new hashes and `state`
/// (`None`: forgets the recorded state). Fails with what it was doing.
pub(super) async fn apply(
    tx: &Transaction<'_>,
    staging: &Staging,
    changes: &Changes,
    hashes: Recording<'_>,
    state: Option<State>,
    collisions: bool,
) -> Result<(), Applied> {
    let mut flight = InFlight::default();
    let (send, tables) = tokio::sync::mpsc::unbounded_channel();
    for write in changes.table_writes() {
        // The receiver is right here.
        let _ = send.send(write);
    }
    drop(send);
    flight.stream(tx, staging, tables, collisions).await;
    finish(tx, staging, flight, changes, hashes, state).await
}

/// The writes after every table's upserts (those in `flight`, sent by
/// [`InFlight::stream`]): sent after them without waiting, the deletes (children
/// first), the sequences and the hashes; then, once every answer is in, the state.
/// Fails with what it was doing; the first failure in statement order is the cause.
pub(super) async fn finish<'a>(
    tx: &'a Transaction<'_>,
    staging: &Staging,
    flight: InFlight<'a>,
    changes: &'a Changes,
    hashes: Recording<'a>,
    mut state: Option<State>,
) -> Result<(), Applied> {
    let wrote = (0..TABLES.len()).any(|t| changes.touches(t));
    let mut steps: Vec<Step> = Vec::new();
    for (t, ids) in changes.deletes.iter().enumerate().rev() {
        if ids.is_empty() {
            continue;
        }
        let sql = format!(
            "WITH deleted AS (DELETE FROM public.\"{}\" WHERE id = ANY($1) \
             RETURNING xmin) SELECT {COUNT_AND_XMIN} FROM deleted",
            TABLES[t].name
        );
        steps.push(step("deleting the rows gone from the source", async move {
            let row = tx.query_typed_one(&sql, &[(ids, Type::INT8_ARRAY)]).await?;
            Ok(Answer::Moved {
                table: t,
                before: count_and_xmin(&row),
                written: 0,
            })
        }));
    }
    if wrote {
        let sequences = TABLES
            .iter()
            .map(reset_sequence_sql)
            .collect::<Vec<_>>()
            .join(";\n");
        steps.push(step("moving the id sequences", async move {
            tx.batch_execute(&sequences).await.map(|()| Answer::Done)
        }));
    }
    for (t, table) in TABLES.iter().enumerate() {
        let recorded = match hashes {
            Recording::Replace(all) => step("recording the rows' hashes", async move {
                state::replace(tx, table, &all[t])
                    .await
                    .map(|()| Answer::Done)
            }),
            Recording::Patch {
                patches,
                all,
                written,
            } if changes.touches(t) => step("recording the rows' hashes", async move {
                state::record(tx, patches, t, &all[t], &written[t], &changes.deletes[t])
                    .await
                    .map(|()| Answer::Done)
            }),
            Recording::Patch { .. } => continue,
        };
        steps.push(recorded);
    }
    // A collision found by a check comes before the upsert it would make fail.
    for answer in flight.answers(steps).await {
        match answer.map_err(|(context, e)| Applied::Failed(context, e))? {
            Answer::Taken(true) => return Err(Applied::Collision),
            Answer::Moved {
                table,
                before,
                written,
            } => {
                if let Some(state) = &mut state {
                    let after = (written, i128::from(written) * i128::from(staging.xid));
                    state.fingerprint.replace(table, before, after);
                }
            }
            Answer::Taken(false) | Answer::Done => {}
        }
    }

    match &state {
        Some(state) => state::write(tx, state).await,
        None => state::clear(tx, false).await,
    }
    .map_err(|e| Applied::Failed("recording ava.sync_state", e))
}

/// The source rows with these ids, per table, encoded for `COPY` in batches of at most
/// [`MAX_BATCH_BYTES`].
pub(super) fn encode_rows(path: &Path, ids: &[Vec<i64>]) -> Result<Vec<Vec<Bytes>>, MigrateError> {
    let mut source = Source::open(path)?;
    let snap = source.snapshot()?;
    let mut all = Vec::with_capacity(TABLES.len());
    for (table, wanted) in TABLES.iter().zip(ids) {
        let wanted: HashSet<i64> = wanted.iter().copied().collect();
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
