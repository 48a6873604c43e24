//! Deferred indexes and constraints: a target that starts empty is loaded without its
//! primary keys, indexes and foreign keys, which are built afterwards — a sort per index
//! instead of a B-tree insert and a parent lookup per row, several at a time on their
//! own connections.
//!
//! What is dropped is read from the database itself (`pg_get_indexdef`,
//! `pg_get_constraintdef`), so any index a later migration adds is handled too, and it
//! is recorded in `ava.migrate_runs` in the same transaction as the drop: a run that
//! dies before rebuilding leaves the recipe for the next run ([`restore_interrupted`]).
//! Loading without the constraints is safe because the scan has already checked what
//! they check (ids, unique columns, foreign keys).

use std::sync::atomic::{AtomicUsize, Ordering};

use ava_catalog::TABLES;
use tokio_postgres::{Client, GenericClient};

use crate::ledger;

/// One index or constraint taken off for the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    pub name: String,
    pub table: String,
    /// `p` primary key, `f` foreign key, `i` plain index.
    pub kind: char,
    /// The statement that creates it again.
    pub create: String,
}

impl Deferred {
    fn drop_sql(&self) -> String {
        match self.kind {
            'i' => format!("DROP INDEX public.\"{}\"", self.name),
            _ => format!(
                "ALTER TABLE public.\"{}\" DROP CONSTRAINT \"{}\"",
                self.table, self.name
            ),
        }
    }

    /// Foreign keys need their parents' primary keys: they are built last.
    fn phase(&self) -> u8 {
        u8::from(self.kind == 'f')
    }
}

/// Every primary key, index and foreign key of the five tables, except a primary key
/// that a table outside the five refers to (dropping it would mean dropping their
/// foreign key too), in the order they are built again: `sizes` (rows per table, catalog
/// order) puts the largest tables' first, so that the longest builds start first and
/// the connections finish together. A foreign key is always recorded to be built
/// validated, even one that is `NOT VALID` now (left so by a repair).
pub(crate) async fn capture(
    client: &impl GenericClient,
    sizes: &[u64],
) -> Result<Vec<Deferred>, tokio_postgres::Error> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    // Typed: no preparing round trip.
    let rows = client
        .query_typed(
            "SELECT c.conname::text, t.relname::text, c.contype::text, \
                    format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', t.relname, c.conname, \
                           regexp_replace(pg_get_constraintdef(c.oid), ' NOT VALID$', '')) \
             FROM pg_constraint c \
             JOIN pg_class t ON t.oid = c.conrelid \
             WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1) \
               AND (c.contype = 'f' OR (c.contype = 'p' AND NOT EXISTS ( \
                    SELECT 1 FROM pg_constraint o JOIN pg_class ot ON ot.oid = o.conrelid \
                    WHERE o.contype = 'f' AND o.confrelid = t.oid \
                      AND NOT (ot.relnamespace = 'public'::regnamespace AND ot.relname = ANY($1))))) \
             UNION ALL \
             SELECT i.relname::text, t.relname::text, 'i', pg_get_indexdef(i.oid) \
             FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            &[(&names, tokio_postgres::types::Type::TEXT_ARRAY)],
        )
        .await?;
    let mut deferred: Vec<Deferred> = rows
        .iter()
        .map(|r| Deferred {
            name: r.get(0),
            table: r.get(1),
            kind: r.get::<_, &str>(2).chars().next().unwrap_or('i'),
            create: r.get(3),
        })
        .collect();
    // Creation order: primary keys and indexes, then foreign keys; the largest tables
    // first.
    let size = |d: &Deferred| {
        let table = TABLES.iter().position(|t| t.name == d.table);
        table.and_then(|t| sizes.get(t)).copied().unwrap_or(0)
    };
    deferred.sort_by_key(|d| {
        (
            d.phase(),
            std::cmp::Reverse(size(d)),
            d.kind != 'p',
            d.name.clone(),
        )
    });
    Ok(deferred)
}

/// Drops them (foreign keys first) inside the caller's transaction, in one round trip.
pub(crate) async fn drop_all(
    client: &impl GenericClient,
    deferred: &[Deferred],
) -> Result<(), tokio_postgres::Error> {
    if deferred.is_empty() {
        return Ok(());
    }
    let drops: Vec<String> = deferred.iter().rev().map(Deferred::drop_sql).collect();
    client.batch_execute(&drops.join(";\n")).await
}

/// The recipe as stored in `ava.migrate_runs`: names and statements.
pub(crate) fn columns(deferred: &[Deferred]) -> (Vec<String>, Vec<String>) {
    deferred
        .iter()
        .map(|d| (d.name.clone(), d.create.clone()))
        .unzip()
}

/// Builds again what is not there, primary keys and indexes first, then foreign keys,
/// each phase spread over `clients` (one statement per connection at a time).
pub(crate) async fn rebuild<C: GenericClient + Sync>(
    clients: &[&C],
    names: &[String],
    ddl: &[String],
) -> Result<(), (String, tokio_postgres::Error)> {
    rebuild_with(clients, names, ddl, Orphans::Refuse).await
}

/// What building a foreign key does when child rows lack their parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Orphans {
    /// Fails, naming the constraint.
    Refuse,
    /// Adds it `NOT VALID`: checked for every row written from now on, not for those
    /// there. Only for repairing an interrupted run (outside a transaction): its batches
    /// commit table by table with no barrier between them, so a child's batch may have
    /// committed before its parents' did. The resume copies those parents, and builds
    /// the key again, validated ([`capture`] never records `NOT VALID`).
    NotValid,
}

async fn rebuild_with<C: GenericClient + Sync>(
    clients: &[&C],
    names: &[String],
    ddl: &[String],
    orphans: Orphans,
) -> Result<(), (String, tokio_postgres::Error)> {
    let items: Vec<(&String, &String)> = names.iter().zip(ddl).collect();
    for fks in [false, true] {
        let phase: Vec<_> = items
            .iter()
            .filter(|(_, sql)| sql.contains(" FOREIGN KEY ") == fks)
            .collect();
        let next = AtomicUsize::new(0);
        let workers = clients.iter().map(|client| {
            let (phase, next) = (&phase, &next);
            async move {
                while let Some((name, sql)) = phase.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let fail = |e| ((*name).clone(), e);
                    // One round trip an index: it is created at once, and only when the
                    // name is taken is it looked for — there already (built before a
                    // run was interrupted, or by a dead run's session finishing after
                    // all), it is what we wanted.
                    match client.batch_execute(sql).await {
                        Ok(()) => {}
                        Err(e)
                            if orphans == Orphans::NotValid
                                && e.code()
                                    == Some(
                                        &tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION,
                                    ) =>
                        {
                            client
                                .batch_execute(&format!("{sql} NOT VALID"))
                                .await
                                .map_err(fail)?;
                        }
                        Err(e) => {
                            if !(already_there(&e) && exists(*client, name).await.map_err(fail)?) {
                                return Err(fail(e));
                            }
                        }
                    }
                }
                Ok::<_, (String, tokio_postgres::Error)>(())
            }
        });
        futures_util::future::try_join_all(workers).await?;
    }
    Ok(())
}

/// Whether `e` may say the name is taken: a relation or constraint of that name exists,
/// another transaction created it first (the catalog's unique index), or the table has
/// its primary key already ("multiple primary keys"). The caller then looks the name up.
fn already_there(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    [
        SqlState::DUPLICATE_TABLE,
        SqlState::DUPLICATE_OBJECT,
        SqlState::UNIQUE_VIOLATION,
        SqlState::INVALID_TABLE_DEFINITION,
    ]
    .iter()
    .any(|state| e.code() == Some(state))
}

/// Whether an index or constraint of that name is on the target.
async fn exists(client: &impl GenericClient, name: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_typed_one(
            "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL \
                 OR EXISTS (SELECT 1 FROM pg_constraint \
                            WHERE conname = $1 AND connamespace = 'public'::regnamespace)",
            &[(&name, tokio_postgres::types::Type::TEXT)],
        )
        .await?
        .get(0))
}

/// Builds what an interrupted run left dropped, so the schema is whole again before
/// anything else looks at it (a foreign key over children whose parents' batch had not
/// committed: `NOT VALID` until the resume, see [`Orphans::NotValid`]). Returns how many
/// runs needed it.
pub(crate) async fn restore_interrupted(
    client: &Client,
) -> Result<usize, (String, tokio_postgres::Error)> {
    let ledger = |e| ("ava.migrate_runs".to_string(), e);
    let runs = ledger::unbuilt_recipes(client).await.map_err(ledger)?;
    for (id, names, ddl) in &runs {
        rebuild_with(&[client], names, ddl, Orphans::NotValid).await?;
        ledger::recipe_spent(client, *id).await.map_err(ledger)?;
    }
    Ok(runs.len())
}
