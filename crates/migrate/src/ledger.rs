//! The run ledger: `ava.migrate_runs` (one row per `ava migrate` run: its mode, source,
//! status, rows copied, and the recipe of the indexes and constraints it dropped) and
//! `ava.migrate_batches` (one row per committed batch: table, first and last id, rows).
//! Both are defined by the schema migrations; every statement on them is here.
//!
//! Invariants the statements keep:
//! - a batch's row commits in the batch's own transaction ([`record_batch`]), so the
//!   ledger never claims rows the target does not hold, nor misses rows it does;
//! - at most one run is `running` once a run has started: [`begin_run`] marks every
//!   earlier `running` run failed (they were interrupted: the lock says no other run
//!   is live), and hands the committed batches of a resumed run over to the new one;
//! - a run's recipe (`deferred_names`, `deferred_ddl`) is recorded in the transaction
//!   that drops what it describes ([`record_recipe`]) and emptied once it is built
//!   again ([`recipe_spent`], [`mark_done`]).

use ava_catalog::{Table, TABLES};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, GenericClient};

use crate::Interrupted;

/// `public."customers", …`: every catalog table, for `TRUNCATE`.
fn all_tables() -> String {
    TABLES
        .iter()
        .map(|t| format!("public.\"{}\"", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the ledger exists yet (an older schema, or a dry run before `db push`).
async fn exists(client: &Client) -> Result<bool, Error> {
    Ok(client
        .query_one("SELECT to_regclass('ava.migrate_runs') IS NOT NULL", &[])
        .await?
        .get(0))
}

/// The most recent run still marked `running`, if any (it was interrupted: the lock
/// we hold means no other run is live).
pub(crate) async fn interrupted_run(client: &Client) -> Result<Option<Interrupted>, Error> {
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

/// Per table (catalog order), the id ranges the run's committed batches cover, sorted.
pub(crate) async fn committed_ranges(
    client: &Client,
    run: i64,
) -> Result<Vec<Vec<(i64, i64)>>, Error> {
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

/// The rows of the run's batch of `table` starting at `first`, if it committed.
pub(crate) async fn committed_batch(
    client: &Client,
    run: i64,
    table: &Table,
    first: i64,
) -> Result<Option<u64>, Error> {
    Ok(client
        .query_opt(
            "SELECT rows FROM ava.migrate_batches \
             WHERE run_id = $1 AND table_name = $2 AND first_id = $3",
            &[&run, &table.name, &first],
        )
        .await?
        .map(|r| r.get::<_, i64>(0) as u64))
}

/// Records a new run (`mode` is `copy` or `force`) and supersedes the earlier
/// interrupted ones: a `resumed` run hands its committed batches over to the new one,
/// so the new run's ledger covers everything in the target. One statement, one round
/// trip. Returns the new run's id.
pub(crate) async fn begin_run(
    client: &Client,
    mode: &str,
    source: &str,
    resumed: Option<i64>,
) -> Result<i64, Error> {
    let resumed = resumed.unwrap_or(0);
    let params: [(&(dyn ToSql + Sync), Type); 3] = [
        (&mode, Type::TEXT),
        (&source, Type::TEXT),
        (&resumed, Type::INT8),
    ];
    Ok(client
        .query_typed_one(
            "WITH run AS (INSERT INTO ava.migrate_runs (mode, source) VALUES ($1, $2) RETURNING id), \
             batches AS (UPDATE ava.migrate_batches SET run_id = (SELECT id FROM run) \
                         WHERE run_id = $3), \
             runs AS (UPDATE ava.migrate_runs SET status = 'failed', finished_at = now(), \
                      detail = CASE WHEN id = $3 \
                               THEN 'interrupted; resumed by run ' || (SELECT id FROM run)::text \
                               ELSE 'interrupted; superseded by a later run' END \
                      WHERE status = 'running') \
             SELECT id FROM run",
            &params,
        )
        .await?
        .get(0))
}

/// For `--force`, inside its transaction: empties the five tables and the batches of
/// every other run (the rows they describe are gone).
pub(crate) async fn truncate_for_replace(
    client: &impl GenericClient,
    run: i64,
) -> Result<(), Error> {
    client
        .batch_execute(&format!(
            "TRUNCATE {}; DELETE FROM ava.migrate_batches WHERE run_id <> {run}",
            all_tables()
        ))
        .await
}

/// After a failed plain run: empties the five tables it had loaded (empty when it
/// started), its batches and the rows' hashes.
pub(crate) async fn truncate_run(client: &Client, run: i64) -> Result<(), Error> {
    client
        .batch_execute(&format!(
            "TRUNCATE {}; DELETE FROM ava.migrate_batches WHERE run_id = {run}; \
             DELETE FROM ava.source_hashes",
            all_tables()
        ))
        .await
}

/// Records how to build again the indexes and constraints the run drops (in the
/// transaction that drops them).
pub(crate) async fn record_recipe(
    client: &impl GenericClient,
    run: i64,
    names: &Vec<String>,
    ddl: &Vec<String>,
) -> Result<u64, Error> {
    let params: [(&(dyn ToSql + Sync), Type); 3] = [
        (&run, Type::INT8),
        (names, Type::TEXT_ARRAY),
        (ddl, Type::TEXT_ARRAY),
    ];
    client
        .execute_typed(
            "UPDATE ava.migrate_runs SET deferred_names = $2, deferred_ddl = $3 WHERE id = $1",
            &params,
        )
        .await
}

/// The run's recipe: the names and statements of what it dropped.
pub(crate) async fn recipe(client: &Client, run: i64) -> Result<(Vec<String>, Vec<String>), Error> {
    let row = client
        .query_one(
            "SELECT deferred_names, deferred_ddl FROM ava.migrate_runs WHERE id = $1",
            &[&run],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The run's recipe is built: nothing is left to build.
pub(crate) async fn recipe_spent(client: &Client, run: i64) -> Result<u64, Error> {
    client
        .execute(
            "UPDATE ava.migrate_runs SET deferred_names = '{}', deferred_ddl = '{}' WHERE id = $1",
            &[&run],
        )
        .await
}

/// Interrupted runs that left indexes or constraints dropped, oldest first, with their
/// recipes (none if the ledger does not exist yet).
pub(crate) async fn unbuilt_recipes(
    client: &Client,
) -> Result<Vec<(i64, Vec<String>, Vec<String>)>, Error> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    Ok(client
        .query(
            "SELECT id, deferred_names, deferred_ddl FROM ava.migrate_runs \
             WHERE status = 'running' AND cardinality(deferred_ddl) > 0 ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The interrupted run, if any, that left indexes or constraints dropped, and how many.
pub(crate) async fn pending_repair(client: &Client) -> Result<Option<(i64, usize)>, Error> {
    if !exists(client).await? {
        return Ok(None);
    }
    Ok(client
        .query_opt(
            "SELECT id, cardinality(deferred_ddl) FROM ava.migrate_runs \
             WHERE status = 'running' AND cardinality(deferred_ddl) > 0 ORDER BY id LIMIT 1",
            &[],
        )
        .await?
        .map(|r| (r.get(0), r.get::<_, i32>(1) as usize)))
}

/// Records a batch, inside the batch's own transaction.
pub(crate) async fn record_batch(
    client: &impl GenericClient,
    run: i64,
    table: &Table,
    (first, last): (i64, i64),
    copied: u64,
) -> Result<(), Error> {
    let copied = copied as i64;
    // Typed: sent without a preparing round trip.
    client
        .execute_typed(
            "WITH batch AS (INSERT INTO ava.migrate_batches (run_id, table_name, first_id, last_id, rows) \
             VALUES ($1, $2, $3, $4, $5)) \
             UPDATE ava.migrate_runs SET rows_copied = rows_copied + $5 WHERE id = $1",
            &[
                (&run, Type::INT8),
                (&table.name, Type::TEXT),
                (&first, Type::INT8),
                (&last, Type::INT8),
                (&copied, Type::INT8),
            ],
        )
        .await
        .map(drop)
}

/// The run is done: every row copied, everything built again (its recipe spent).
pub(crate) async fn mark_done(client: &impl GenericClient, run: i64) -> Result<u64, Error> {
    let run_id = [(&run as &(dyn ToSql + Sync), Type::INT8)];
    client
        .execute_typed(
            "UPDATE ava.migrate_runs SET status = 'done', finished_at = now(), \
             deferred_names = '{}', deferred_ddl = '{}' WHERE id = $1",
            &run_id,
        )
        .await
}

/// The target holds every row already: an interrupted run is finished.
pub(crate) async fn finish_interrupted(client: &impl GenericClient) -> Result<u64, Error> {
    client
        .execute(
            "UPDATE ava.migrate_runs SET status = 'done', finished_at = now(), \
             detail = 'interrupted with every row copied; finished by a later run' \
             WHERE status = 'running'",
            &[],
        )
        .await
}

/// The run failed, and why.
pub(crate) async fn mark_failed(client: &Client, run: i64, detail: &str) -> Result<u64, Error> {
    client
        .execute(
            "UPDATE ava.migrate_runs SET status = 'failed', finished_at = now(), detail = $2 WHERE id = $1",
            &[&run, &detail],
        )
        .await
}

/// The run left nothing behind (undone after bad input): its row goes too.
pub(crate) async fn forget(client: &Client, run: i64) -> Result<u64, Error> {
    client
        .execute("DELETE FROM ava.migrate_runs WHERE id = $1", &[&run])
        .await
}
