//! The write routes the voice service calls (`admin-api.md`, "Write side"): start a
//! call, log an event, end a call, create a customer.
//!
//! Each write is one transaction, written once over `Tx` and run on either store:
//! Postgres (a pooled connection, `READ COMMITTED`) or the SQLite file's writer
//! connection (`BEGIN IMMEDIATE`, on a blocking thread).
//!
//! Ending a call folds it into its day's `daily_metrics` row in the transaction that
//! ends it: the day's row is recomputed from `call_sessions` by the seed's
//! `daily_metrics` rule ([`fold`], in Rust, so the average is the rule's bits) and
//! upserted by date. The transactions that fold one day are serialized — on Postgres by
//! `pg_advisory_xact_lock` on the day (each later statement's snapshot then sees the
//! earlier commits), on SQLite by the writer's lock — so every row equals its
//! recomputation however many calls end together, and a call ends once.
//!
//! Bodies are parsed here, not by the HTTP layer: a malformed body or a missing or bad
//! field is an [`Invalid`](crate::Invalid) naming it (422), never a bare rejection.

use ava_catalog::Kind;
use ava_convert::Value;
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::json::{all_columns, kinds, object};
use crate::read::{table, DETAIL_COLUMNS};
use crate::request::{path_param, trimmed, Body, Field, Rule};
use crate::store::{Dialect, Param, PgStore, Rows, SqliteStore, Store, StoreError};
use crate::ApiError;

const DAY: i64 = 86_400_000_000;
const SECOND: i64 = 1_000_000;

/// The advisory lock class of the per-day fold (`pg_advisory_xact_lock(class, day)`;
/// the two-key lock space never overlaps the one-key locks of `ava migrate`).
const FOLD_LOCK: i32 = i32::from_be_bytes(*b"avad");

// ---------------------------------------------------------------------------------
// Bodies: typed, each described by its fields (`crate::request`), whose rules check
// the body before serde reads it and are what the OpenAPI document publishes.

/// `session_id` of the write routes' paths.
pub fn session_field() -> Field {
    Field::required(
        "session_id",
        Rule::filled("call_sessions", "session_id"),
        "The voice service's id of the call (`call_sessions.session_id`).",
    )
}

/// The ASCII whitespace of [`crate::request::BLANK`], as a regex class body.
macro_rules! blank {
    () => {
        r" \t\n\r\u000B\u000C"
    };
}

/// A phone number: an optional `+`, then 7 to 15 digits with spaces, dashes and
/// parentheses between (blanks around it are trimmed).
pub const PHONE: &str = concat!(
    "^[",
    blank!(),
    r"]*\+?[ ()-]*(?:[0-9][ ()-]*){7,15}[",
    blank!(),
    "]*$"
);

/// An email address: one `@` between non-empty parts without blanks or NUL (blanks
/// around it are trimmed).
pub const EMAIL: &str = concat!(
    "^[",
    blank!(),
    r"]*[^@\u0000",
    blank!(),
    r"]+@[^@\u0000",
    blank!(),
    "]+[",
    blank!(),
    "]*$"
);

/// `POST /api/calls`: a call starting.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    pub session_id: String,
    #[serde(default)]
    pub phone_number: Option<String>,
}

impl Body for NewCall {
    fn fields() -> Vec<Field> {
        vec![
            Field {
                description: "The voice service's id of the call; unique.",
                ..session_field()
            },
            Field::optional(
                "phone_number",
                Rule::column("call_sessions", "phone_number"),
                "The caller's number, as the telephony service gave it.",
            ),
        ]
    }
}

/// `POST /api/calls/{session_id}/events`: something that happened during a call.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    pub event_type: String,
    /// Any JSON; absent is stored as NULL, `null` as JSON `null` (as the app did).
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Json>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

impl Body for NewEvent {
    fn fields() -> Vec<Field> {
        vec![
            Field::required(
                "event_type",
                Rule::filled("call_events", "event_type"),
                "What happened, e.g. `function_call`.",
            ),
            Field::optional("data", Rule::Json, "Any JSON (no NUL in its strings)."),
        ]
    }
}

/// One function call made during a call (other keys are kept out of the record).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct FunctionCall {
    pub function: String,
}

/// `POST /api/calls/{session_id}/end`: how a call ended. Absent values take the
/// original's defaults (its fallback when the LLM gave no rating: neutral, 5.0).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEnd {
    pub transcript: Vec<Json>,
    pub function_calls: Vec<FunctionCall>,
    #[serde(default)]
    pub customer_phone: Option<String>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub satisfaction_score: Option<f64>,
    #[serde(default)]
    pub escalated: Option<bool>,
    #[serde(default)]
    pub escalation_reason: Option<String>,
}

impl Body for CallEnd {
    fn fields() -> Vec<Field> {
        vec![
            Field::required("transcript", Rule::List, "The turns of the conversation."),
            Field::required(
                "function_calls",
                Rule::FunctionCalls,
                "The function calls made, in order; `function` names each.",
            ),
            Field::optional(
                "customer_phone",
                Rule::column("call_sessions", "phone_number"),
                "Links the call to the customer with this phone (default: the call's own).",
            ),
            Field::optional(
                "sentiment",
                Rule::column("call_sessions", "sentiment"),
                "Default `neutral`.",
            )
            .or("neutral"),
            Field::optional(
                "satisfaction_score",
                Rule::Number {
                    min: 0.0,
                    max: 10.0,
                },
                "0 to 10; default 5.",
            ),
            Field::optional("escalated", Rule::Bool, "Default false."),
            Field::optional(
                "escalation_reason",
                Rule::column("call_sessions", "escalation_reason"),
                "Why the call went to a person.",
            ),
        ]
    }
}

impl CallEnd {
    /// The `function` of each function call made, in order.
    pub fn functions(&self) -> Vec<&str> {
        self.function_calls
            .iter()
            .map(|c| c.function.as_str())
            .collect()
    }

    fn sentiment(&self) -> &str {
        self.sentiment.as_deref().unwrap_or("neutral")
    }

    fn satisfaction_score(&self) -> f64 {
        self.satisfaction_score.unwrap_or(5.0)
    }
}

/// A call's outcome by the functions it called: `booked` if it booked, else `browsing`
/// if it checked availability, else `info_only`.
pub fn outcome<S: AsRef<str>>(functions: &[S]) -> &'static str {
    let called = |name: &str| functions.iter().any(|f| f.as_ref() == name);
    if called("book_appointment") {
        "booked"
    } else if called("check_availability") {
        "browsing"
    } else {
        "info_only"
    }
}

/// `POST /api/customers`: a new customer, as sent (stored trimmed of blanks).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl Body for NewCustomer {
    fn fields() -> Vec<Field> {
        vec![
            Field::required(
                "name",
                Rule::filled("customers", "name"),
                "The customer's name.",
            ),
            Field::required(
                "phone",
                Rule::pattern("customers", "phone", PHONE),
                "An optional `+`, then 7 to 15 digits (spaces, dashes and parentheses \
                 allowed); unique.",
            ),
            Field::optional(
                "email",
                Rule::pattern("customers", "email", EMAIL),
                "An email address; unique.",
            ),
        ]
    }
}

// ---------------------------------------------------------------------------------
// The daily_metrics rule

/// The columns of `call_sessions` [`fold`] reads, in this order.
pub const FOLD_COLUMNS: [&str; 4] = [
    "duration_seconds",
    "outcome",
    "escalated",
    "satisfaction_score",
];

/// One day's `daily_metrics` values (besides its date and `updated_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct DayMetrics {
    pub total_calls: i64,
    pub total_talk_time_seconds: i64,
    pub avg_call_duration_seconds: i64,
    pub appointments_booked: i64,
    pub appointments_rescheduled: i64,
    pub appointments_cancelled: i64,
    pub avg_satisfaction_score: f64,
    pub calls_escalated: i64,
    pub conversion_rate: f64,
}

/// The seed's `daily_metrics` rule over one day's ended calls, given as rows of
/// [`FOLD_COLUMNS`] in ascending call id order; `None` for a day without calls. A NULL
/// duration adds nothing, a NULL `escalated` does not count, a NULL score is skipped.
pub fn fold(calls: &[Vec<Value<'_>>]) -> Option<DayMetrics> {
    let total = i64::try_from(calls.len()).ok().filter(|n| *n > 0)?;
    let (mut talk, mut booked, mut rescheduled, mut cancelled, mut escalated) = (0, 0, 0, 0, 0);
    let (mut score_sum, mut scored) = (0.0, 0i64);
    for call in calls {
        if let Some(Value::Int(d)) = call.first() {
            talk += d;
        }
        match call.get(1) {
            Some(Value::Text(o)) if o == "booked" => booked += 1,
            Some(Value::Text(o)) if o == "rescheduled" => rescheduled += 1,
            Some(Value::Text(o)) if o == "cancelled" => cancelled += 1,
            _ => {}
        }
        if let Some(Value::Bool(true)) = call.get(2) {
            escalated += 1;
        }
        if let Some(Value::Float(s)) = call.get(3) {
            score_sum += s;
            scored += 1;
        }
    }
    Some(DayMetrics {
        total_calls: total,
        total_talk_time_seconds: talk,
        avg_call_duration_seconds: talk / total,
        appointments_booked: booked,
        appointments_rescheduled: rescheduled,
        appointments_cancelled: cancelled,
        avg_satisfaction_score: if scored > 0 {
            score_sum / scored as f64
        } else {
            0.0
        },
        calls_escalated: escalated,
        conversion_rate: booked as f64 / total as f64 * 100.0,
    })
}

// ---------------------------------------------------------------------------------
// Transactions

/// One transaction on either store.
trait Tx {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; `kinds` says how to read each column it returns.
    async fn rows(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> Result<Rows, StoreError>;

    /// Waits until no other transaction folds `day` (days since 1970), and keeps them
    /// waiting until this one ends.
    async fn lock_day(&self, day: i64) -> Result<(), StoreError>;
}

struct PgTx<'a> {
    store: &'a PgStore,
    tx: deadpool_postgres::Transaction<'a>,
}

impl Tx for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn rows(&self, sql: &str, params: &[Param], _: &[Kind]) -> Result<Rows, StoreError> {
        self.store.rows_in(&self.tx, sql, params).await
    }

    async fn lock_day(&self, day: i64) -> Result<(), StoreError> {
        // Days of years 1–9999 fit an int4 many times over.
        let day = i32::try_from(day).unwrap_or(i32::MAX);
        self.tx
            .execute("SELECT pg_advisory_xact_lock($1, $2)", &[&FOLD_LOCK, &day])
            .await
            .map(drop)
            .map_err(|e| self.store.error(e))
    }
}

struct LiteTx<'a> {
    store: &'a SqliteStore,
    conn: &'a rusqlite::Connection,
}

impl Tx for LiteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn rows(&self, sql: &str, params: &[Param], kinds: &[Kind]) -> Result<Rows, StoreError> {
        crate::store::sqlite_rows(self.conn, sql, params, kinds).map_err(|e| self.store.error(e))
    }

    async fn lock_day(&self, _day: i64) -> Result<(), StoreError> {
        // `BEGIN IMMEDIATE` took the file's write lock: nobody else writes meanwhile.
        Ok(())
    }
}

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

/// The columns of a call in the write routes' answers: the detail's, and the customer.
fn call_columns() -> Vec<&'static str> {
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.push("customer_id");
    columns
}

fn opt_text(value: &Option<String>) -> Param {
    value.clone().map_or(Param::Null, Param::Text)
}

fn first(rows: Rows) -> Option<Vec<Value<'static>>> {
    rows.into_iter().next()
}

impl Write {
    async fn run<T: Tx>(&self, tx: &T, now: i64) -> Result<Json, ApiError> {
        match self {
            Write::Start(call) => start(tx, call, now).await,
            Write::Event(session, event) => log_event(tx, session, event, now).await,
            Write::End(session, end) => end_call(tx, session, end, now).await,
            Write::Customer(customer) => create_customer(tx, customer, now).await,
        }
    }
}

async fn start<T: Tx>(tx: &T, call: &NewCall, now: i64) -> Result<Json, ApiError> {
    let sessions = table("call_sessions");
    let columns = call_columns();
    // The app's model defaults, spelled out: its SQLite file has no server defaults.
    let sql = format!(
        "INSERT INTO call_sessions (session_id, phone_number, started_at, \
         customer_interruptions, ai_clarifications_needed, function_calls_made, escalated) \
         VALUES ($1, $2, $3, 0, 0, 0, FALSE) ON CONFLICT (session_id) DO NOTHING \
         RETURNING {}",
        crate::json::select(sessions, &columns, "")
    );
    let params = [
        Param::Text(call.session_id.clone()),
        opt_text(&call.phone_number),
        Param::Time(now),
    ];
    let row = first(tx.rows(&sql, &params, &kinds(sessions, &columns)).await?)
        .ok_or_else(|| ApiError::Conflict("Call session already exists".into()))?;
    Ok(Json::Object(object(&columns, &row)))
}

/// The call `session` (id, started_at, ended_at, phone_number), or 404; locked
/// until the transaction ends if `lock`.
async fn find_call<T: Tx>(tx: &T, session: &str, lock: bool) -> Result<Rows, ApiError> {
    let lock = match (lock, tx.dialect()) {
        (true, Dialect::Postgres) => " FOR UPDATE",
        _ => "",
    };
    let rows = tx
        .rows(
            &format!(
                "SELECT s.id, s.started_at, s.ended_at, s.phone_number FROM call_sessions s \
                 WHERE s.session_id = $1{lock}"
            ),
            &[Param::Text(session.to_string())],
            &[
                Kind::Id,
                Kind::Timestamp,
                Kind::Timestamp,
                Kind::Varchar(20),
            ],
        )
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound("Call session not found"));
    }
    Ok(rows)
}

async fn log_event<T: Tx>(
    tx: &T,
    session: &str,
    event: &NewEvent,
    now: i64,
) -> Result<Json, ApiError> {
    let call = &find_call(tx, session, false).await?[0];
    let events = table("call_events");
    let columns = all_columns(events);
    let data = match tx.dialect() {
        Dialect::Postgres => "CAST(CAST($4 AS TEXT) AS JSONB)",
        Dialect::Sqlite => "$4",
    };
    let sql = format!(
        "INSERT INTO call_events (call_session_id, event_type, \"timestamp\", data) \
         VALUES ($1, $2, $3, {data}) RETURNING {}",
        crate::json::select(events, &columns, "")
    );
    let params = [
        Param::Int(int(&call[0])),
        Param::Text(event.event_type.clone()),
        Param::Time(now),
        event
            .data
            .as_ref()
            .map_or(Param::Null, |d| Param::Text(app_json(d))),
    ];
    let row = first(tx.rows(&sql, &params, &kinds(events, &columns)).await?)
        .ok_or(ApiError::NotFound("Call session not found"))?;
    Ok(Json::Object(object(&columns, &row)))
}

fn int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

async fn end_call<T: Tx>(tx: &T, session: &str, end: &CallEnd, now: i64) -> Result<Json, ApiError> {
    let call = &find_call(tx, session, true).await?[0];
    if !matches!(call[2], Value::Null) {
        return Err(ApiError::Conflict("Call session already ended".into()));
    }
    // A call without a start (only in old files) starts when it ends, so it has a day.
    let started = match call[1] {
        Value::Timestamp(t) => t,
        _ => now,
    };
    let duration = ((now - started) / SECOND).clamp(0, i64::from(i32::MAX));
    let phone = match (&end.customer_phone, &call[3]) {
        (Some(phone), _) => Some(phone.clone()),
        (None, Value::Text(phone)) => Some(phone.to_string()),
        (None, _) => None,
    };
    let day = started.div_euclid(DAY);
    tx.lock_day(day).await?;

    let sessions = table("call_sessions");
    let columns = call_columns();
    let sql = format!(
        "UPDATE call_sessions SET started_at = COALESCE(started_at, $1), ended_at = $2, \
         duration_seconds = CAST($3 AS BIGINT), transcript = $4, \
         function_calls_made = CAST($5 AS BIGINT), \
         customer_id = COALESCE((SELECT c.id FROM customers c WHERE c.phone = $6), customer_id), \
         outcome = $7, sentiment = $8, satisfaction_score = $9, escalated = $10, \
         escalation_reason = $11 \
         WHERE id = $12 RETURNING {}",
        crate::json::select(sessions, &columns, "")
    );
    // Numbered in the order they appear: SQLite numbers `$n` by first appearance.
    let params = [
        Param::Time(started),
        Param::Time(now),
        Param::Int(duration),
        Param::Text(app_json(&Json::Array(end.transcript.clone()))),
        Param::Int(i64::try_from(end.function_calls.len()).unwrap_or(i64::MAX)),
        opt_text(&phone),
        Param::Text(outcome(&end.functions()).into()),
        Param::Text(end.sentiment().to_string()),
        Param::Float(end.satisfaction_score()),
        Param::Bool(end.escalated.unwrap_or(false)),
        opt_text(&end.escalation_reason),
        Param::Int(int(&call[0])),
    ];
    let row = first(tx.rows(&sql, &params, &kinds(sessions, &columns)).await?)
        .ok_or(ApiError::NotFound("Call session not found"))?;
    fold_day(tx, day, now).await?;
    Ok(Json::Object(object(&columns, &row)))
}

/// JSON text as the app stored it (Python's `json.dumps` spelling), so that a call
/// written through ava reads back like the app's own.
fn app_json(value: &Json) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and the value came from serde_json.
    let _ = ava_convert::pyjson::dump(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// Recomputes `day`'s `daily_metrics` row from `call_sessions` and upserts it by date.
async fn fold_day<T: Tx>(tx: &T, day: i64, now: i64) -> Result<(), ApiError> {
    let sessions = table("call_sessions");
    let midnight = day * DAY;
    let calls = tx
        .rows(
            &format!(
                "SELECT {} FROM call_sessions s WHERE s.ended_at IS NOT NULL \
                 AND s.started_at >= $1 AND s.started_at < $2 ORDER BY s.id",
                crate::json::select(sessions, &FOLD_COLUMNS, "s")
            ),
            &[Param::Time(midnight), Param::Time(midnight + DAY)],
            &kinds(sessions, &FOLD_COLUMNS),
        )
        .await?;
    let Some(m) = fold(&calls) else {
        return Ok(());
    };
    tx.rows(
        "INSERT INTO daily_metrics (date, total_calls, total_talk_time_seconds, \
         avg_call_duration_seconds, appointments_booked, appointments_rescheduled, \
         appointments_cancelled, avg_satisfaction_score, calls_escalated, conversion_rate, \
         updated_at) VALUES ($1, CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS BIGINT), \
         CAST($5 AS BIGINT), CAST($6 AS BIGINT), CAST($7 AS BIGINT), $8, CAST($9 AS BIGINT), \
         $10, $11) \
         ON CONFLICT (date) DO UPDATE SET total_calls = excluded.total_calls, \
         total_talk_time_seconds = excluded.total_talk_time_seconds, \
         avg_call_duration_seconds = excluded.avg_call_duration_seconds, \
         appointments_booked = excluded.appointments_booked, \
         appointments_rescheduled = excluded.appointments_rescheduled, \
         appointments_cancelled = excluded.appointments_cancelled, \
         avg_satisfaction_score = excluded.avg_satisfaction_score, \
         calls_escalated = excluded.calls_escalated, \
         conversion_rate = excluded.conversion_rate, updated_at = excluded.updated_at",
        &[
            Param::Time(midnight),
            Param::Int(m.total_calls),
            Param::Int(m.total_talk_time_seconds),
            Param::Int(m.avg_call_duration_seconds),
            Param::Int(m.appointments_booked),
            Param::Int(m.appointments_rescheduled),
            Param::Int(m.appointments_cancelled),
            Param::Float(m.avg_satisfaction_score),
            Param::Int(m.calls_escalated),
            Param::Float(m.conversion_rate),
            Param::Time(now),
        ],
        &[],
    )
    .await?;
    Ok(())
}

async fn create_customer<T: Tx>(
    tx: &T,
    customer: &NewCustomer,
    now: i64,
) -> Result<Json, ApiError> {
    let customers = table("customers");
    let columns = all_columns(customers);
    let sql = format!(
        "INSERT INTO customers (name, phone, email, is_new_client, created_at, updated_at, \
         has_allergies, is_pregnant) VALUES ($1, $2, $3, TRUE, $4, $4, FALSE, FALSE) \
         ON CONFLICT DO NOTHING RETURNING {}",
        crate::json::select(customers, &columns, "")
    );
    let params = [
        Param::Text(trimmed(&customer.name)),
        Param::Text(trimmed(&customer.phone)),
        opt_text(&customer.email.as_deref().map(trimmed)),
        Param::Time(now),
    ];
    if let Some(row) = first(tx.rows(&sql, &params, &kinds(customers, &columns)).await?) {
        return Ok(Json::Object(object(&columns, &row)));
    }
    // A unique column collided: the phone (the original's check) or the email.
    let phone_taken = !tx
        .rows(
            "SELECT c.id FROM customers c WHERE c.phone = $1",
            &[Param::Text(trimmed(&customer.phone))],
            &[Kind::Id],
        )
        .await?
        .is_empty();
    Err(ApiError::BadRequest(if phone_taken {
        "Customer with this phone number already exists".into()
    } else {
        "Customer with this email already exists".into()
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        duration: i64,
        outcome: &str,
        escalated: Option<bool>,
        score: Option<f64>,
    ) -> Vec<Value<'static>> {
        vec![
            Value::Int(duration),
            Value::Text(outcome.to_string().into()),
            escalated.map_or(Value::Null, Value::Bool),
            score.map_or(Value::Null, Value::Float),
        ]
    }

    #[test]
    fn the_fold_follows_the_rule() {
        assert_eq!(fold(&[]), None);
        let day = [
            call(100, "booked", Some(true), Some(0.1)),
            call(51, "cancelled", None, None),
            call(30, "rescheduled", Some(false), Some(0.2)),
            call(0, "booked", Some(false), Some(0.3)),
        ];
        let m = fold(&day).unwrap();
        assert_eq!(
            (
                m.total_calls,
                m.total_talk_time_seconds,
                m.avg_call_duration_seconds
            ),
            (4, 181, 45)
        );
        assert_eq!(
            (
                m.appointments_booked,
                m.appointments_rescheduled,
                m.appointments_cancelled
            ),
            (2, 1, 1)
        );
        assert_eq!(m.calls_escalated, 1);
        assert_eq!(m.conversion_rate, 2.0 / 4.0 * 100.0);
        // Added one by one in id order: (0.1 + 0.2) + 0.3, not 0.1 + (0.2 + 0.3).
        assert_eq!(m.avg_satisfaction_score, (0.1 + 0.2 + 0.3) / 3.0);
        assert_ne!((0.1 + 0.2) + 0.3, 0.1 + (0.2 + 0.3));
        let unscored = fold(&[call(10, "info_only", None, None)]).unwrap();
        assert_eq!(unscored.avg_satisfaction_score, 0.0);
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            outcome(&["check_availability", "book_appointment"]),
            "booked"
        );
        assert_eq!(outcome(&["check_availability"]), "browsing");
        assert_eq!(outcome::<&str>(&[]), "info_only");
        assert_eq!(outcome(&["get_business_info"]), "info_only");
    }

    #[test]
    fn the_patterns_compile_and_mean_what_they_say() {
        let phone = regex::Regex::new(PHONE).unwrap();
        for ok in [
            "+13105550101",
            " (310) 555-0101 ",
            "1234567",
            "+1 2 3 4 5 6 7\n",
        ] {
            assert!(phone.is_match(ok), "{ok:?}");
        }
        for bad in [
            "123456",
            "1234567890123456",
            "+1310555010x",
            "++1234567",
            "1234\t567",
        ] {
            assert!(!phone.is_match(bad), "{bad:?}");
        }
        let email = regex::Regex::new(EMAIL).unwrap();
        for ok in ["a@b", " a.b@c.d ", "é@ü"] {
            assert!(email.is_match(ok), "{ok:?}");
        }
        for bad in ["a@b@c", "nope", "@b", "a@", "a b@c", "a\u{0}@b"] {
            assert!(!email.is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_checked() {
        let start = NewCall::parse(br#"{"session_id": "s1", "phone_number": "+13105550101"}"#);
        assert_eq!(start.unwrap().phone_number.as_deref(), Some("+13105550101"));
        for (body, name) in [
            (&b"not json"[..], "body"),
            (b"[1]", "body"),
            (b"{}", "session_id"),
            (br#"{"session_id": 5}"#, "session_id"),
            (br#"{"session_id": " "}"#, "session_id"),
            (
                br#"{"session_id": "s", "phone_number": "123456789012345678901"}"#,
                "phone_number",
            ),
        ] {
            assert_eq!(NewCall::parse(body).unwrap_err().name, name, "{body:?}");
        }
        let end = CallEnd::parse(
            br#"{"transcript": [], "function_calls": [{"function": "x", "args": 1}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                end.functions(),
                end.sentiment(),
                end.satisfaction_score(),
                end.escalated
            ),
            (vec!["x"], "neutral", 5.0, None)
        );
        for (body, name) in [
            (&br#"{"function_calls": []}"#[..], "transcript"),
            (
                br#"{"transcript": [], "function_calls": [{"name": "x"}]}"#,
                "function_calls",
            ),
            (
                br#"{"transcript": [], "function_calls": [], "satisfaction_score": 11}"#,
                "satisfaction_score",
            ),
            (
                br#"{"transcript": [], "function_calls": [], "escalated": "yes"}"#,
                "escalated",
            ),
        ] {
            assert_eq!(CallEnd::parse(body).unwrap_err().name, name, "{body:?}");
        }
        assert_eq!(
            NewEvent::parse(br#"{"event_type": "t", "data": {"k": "a\u0000"}}"#)
                .unwrap_err()
                .name,
            "data"
        );
        let customer =
            NewCustomer::parse(br#"{"name": " Ana ", "phone": " +1 (310) 555-0101 "}"#).unwrap();
        assert_eq!(
            (trimmed(&customer.name), trimmed(&customer.phone)),
            ("Ana".to_string(), "+1 (310) 555-0101".to_string())
        );
        for (body, name) in [
            (&br#"{"name": "", "phone": "+13105550101"}"#[..], "name"),
            (br#"{"name": "A", "phone": "12345"}"#, "phone"),
            (br#"{"name": "A", "phone": "+1310555010x"}"#, "phone"),
            (
                br#"{"name": "A", "phone": "+1 310\u0000 5550101"}"#,
                "phone",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "age": 3}"#,
                "age",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "email": "a@b@c"}"#,
                "email",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "email": "nope"}"#,
                "email",
            ),
        ] {
            assert_eq!(NewCustomer::parse(body).unwrap_err().name, name, "{body:?}");
        }
    }
}
