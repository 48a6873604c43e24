//! The write routes the voice service calls (`admin-api.md`, "Write side"): start a
//! call, log an event, end a call, create a customer.
//!
//! Each write is one transaction, written once over `Tx` and run on either store:
//! Postgres (a pooled connection, `READ COMMITTED`) or the SQLite file's writer
//! connection (`BEGIN IMMEDIATE`, on a blocking thread).
//!
//! Ending a call folds it into its day's `daily_metrics` row in the transaction that
//! ends it: the day's row is recomputed from `call_sessions` by the catalog's
//! `daily_metrics` rule ([`fold`], in Rust, so the average is the rule's bits) and
//! upserted by date. The transactions that fold one day are serialized — on Postgres by
//! `pg_advisory_xact_lock` on the day (each later statement's snapshot then sees the
//! earlier commits), on SQLite by the writer's lock — so every row equals its
//! recomputation however many calls end together, and a call ends once.
//!
//! Bodies are parsed here, not by the HTTP layer: a malformed body or a missing or bad
//! field is an [`Invalid`](crate::Invalid) naming it (422), never a bare rejection.
//!
//! - `bodies`: the typed bodies and their rules;
//! - `tx`: one transaction on either store, and the per-day lock;
//! - `calls`: a call started, its events logged, ended;
//! - `daily`: the ended call's day folded again;
//! - `customers`: a customer created.

mod bodies;
mod calls;
mod customers;
mod daily;
mod tx;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

pub use bodies::{
    outcome, session_field, CallEnd, FunctionCall, NewCall, NewCustomer, NewEvent, EMAIL, PHONE,
};
pub use daily::{fold, DayMetrics, FOLD_COLUMNS};

use crate::request::path_param;
use crate::store::Store;
use crate::ApiError;
use tx::{LiteTx, PgTx, Tx};

/// A write, run in one transaction by [`Write::run`].
enum Write {
    Start(NewCall),
    Event(String, NewEvent),
    End(String, CallEnd),
    Customer(NewCustomer),
}

/// Runs `write` in one transaction at `now`: committed if it succeeds, rolled back if it
/// is refused or fails.
async fn transact(store: &Store, write: Write, now: DateTime<Utc>) -> Result<Json, ApiError> {
    let now = now.timestamp_micros();
    match store {
        Store::Postgres(pg) => {
            let mut client = pg.client().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
                .start()
                .await
                .map_err(|e| pg.error(e))?;
            let tx = PgTx { store: pg, tx };
            let out = write.run(&tx, now).await?;
            tx.tx.commit().await.map_err(|e| pg.error(e))?;
            Ok(out)
        }
        Store::Sqlite(lite) => {
            lite.write(move |store, conn| {
                // The statements never wait (they are SQLite calls on this thread), so
                // the future completes in one poll.
                tokio::runtime::Handle::current().block_on(write.run(&LiteTx { store, conn }, now))
            })
            .await
        }
    }
}

impl Write {
    async fn run<T: Tx>(&self, tx: &T, now: i64) -> Result<Json, ApiError> {
        match self {
            Write::Start(call) => calls::start(tx, call, now).await,
            Write::Event(session, event) => calls::log_event(tx, session, event, now).await,
            Write::End(session, end) => calls::end_call(tx, session, end, now).await,
            Write::Customer(customer) => customers::create_customer(tx, customer, now).await,
        }
    }
}

// ---------------------------------------------------------------------------------
// The routes

/// `POST /api/calls`: the call, started now.
pub async fn start_call(
    store: &Store,
    call: NewCall,
    now: DateTime<Utc>,
) -> Result<Json, ApiError> {
    transact(store, Write::Start(call), now).await
}

/// `POST /api/calls/{session_id}/events`: the event, logged now.
pub async fn call_event(
    store: &Store,
    session: &str,
    event: NewEvent,
    now: DateTime<Utc>,
) -> Result<Json, ApiError> {
    let session = path_param(&session_field(), session)?.to_string();
    transact(store, Write::Event(session, event), now).await
}

/// `POST /api/calls/{session_id}/end`: the call, ended now and folded into its day.
pub async fn end_call_session(
    store: &Store,
    session: &str,
    end: CallEnd,
    now: DateTime<Utc>,
) -> Result<Json, ApiError> {
    let session = path_param(&session_field(), session)?.to_string();
    transact(store, Write::End(session, end), now).await
}

/// `POST /api/customers`: the customer, created now.
pub async fn new_customer(
    store: &Store,
    customer: NewCustomer,
    now: DateTime<Utc>,
) -> Result<Json, ApiError> {
    transact(store, Write::Customer(customer), now).await
}
