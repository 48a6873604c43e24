//! A call's life through the write routes: started (a row with the app's defaults),
//! its events logged, ended — its outcome, duration and customer recorded, then its
//! day folded again ([`super::daily`]) in the same transaction.

use ava_catalog::{CALL_EVENTS, CALL_SESSIONS};
use ava_convert::Value;
use serde_json::Value as Json;

use super::bodies::{outcome, CallEnd, NewCall, NewEvent};
use super::daily::{fold_day, DAY};
use super::tx::{first, opt_text, Tx};
use crate::json::{all_columns, kinds, object};
use crate::read::DETAIL_COLUMNS;
use crate::store::{Dialect, Param, Rows};
use crate::ApiError;

const SECOND: i64 = 1_000_000;

/// The columns of a call in the write routes' answers: the detail's, and the customer.
fn call_columns() -> Vec<&'static str> {
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.push("customer_id");
    columns
}

pub(super) async fn start<T: Tx>(tx: &T, call: &NewCall, now: i64) -> Result<Json, ApiError> {
    let columns = call_columns();
    // The app's model defaults, spelled out: its SQLite file has no server defaults.
    let sql = format!(
        "INSERT INTO call_sessions (session_id, phone_number, started_at, \
         customer_interruptions, ai_clarifications_needed, function_calls_made, escalated) \
         VALUES ($1, $2, $3, 0, 0, 0, FALSE) ON CONFLICT (session_id) DO NOTHING \
         RETURNING {}",
        crate::json::select(CALL_SESSIONS, &columns, "")
    );
    let params = [
        Param::Text(call.session_id.clone()),
        opt_text(&call.phone_number),
        Param::Time(now),
    ];
    let row = first(
        tx.rows(&sql, &params, &kinds(CALL_SESSIONS, &columns))
            .await?,
    )
    .ok_or_else(|| ApiError::Conflict("Call session already exists".into()))?;
    Ok(Json::Object(object(&columns, &row)))
}

/// The columns of a call [`find_call`] reads, in this order.
const FOUND: [&str; 4] = ["id", "started_at", "ended_at", "phone_number"];

/// The call `session` ([`FOUND`]), or 404; locked until the transaction ends if `lock`.
async fn find_call<T: Tx>(tx: &T, session: &str, lock: bool) -> Result<Rows, ApiError> {
    let lock = match (lock, tx.dialect()) {
        (true, Dialect::Postgres) => " FOR UPDATE",
        _ => "",
    };
    let rows = tx
        .rows(
            &format!(
                "SELECT {} FROM call_sessions s WHERE s.session_id = $1{lock}",
                crate::json::select(CALL_SESSIONS, &FOUND, "s")
            ),
            &[Param::Text(session.to_string())],
            &kinds(CALL_SESSIONS, &FOUND),
        )
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound("Call session not found"));
    }
    Ok(rows)
}

pub(super) async fn log_event<T: Tx>(
    tx: &T,
    session: &str,
    event: &NewEvent,
    now: i64,
) -> Result<Json, ApiError> {
    let call = &find_call(tx, session, false).await?[0];
    let columns = all_columns(CALL_EVENTS);
    let data = match tx.dialect() {
        Dialect::Postgres => "CAST(CAST($4 AS TEXT) AS JSONB)",
        Dialect::Sqlite => "$4",
    };
    let sql = format!(
        "INSERT INTO call_events (call_session_id, event_type, \"timestamp\", data) \
         VALUES ($1, $2, $3, {data}) RETURNING {}",
        crate::json::select(CALL_EVENTS, &columns, "")
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
    let row = first(
        tx.rows(&sql, &params, &kinds(CALL_EVENTS, &columns))
            .await?,
    )
    .ok_or(ApiError::NotFound("Call session not found"))?;
    Ok(Json::Object(object(&columns, &row)))
}

fn int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

pub(super) async fn end_call<T: Tx>(
    tx: &T,
    session: &str,
    end: &CallEnd,
    now: i64,
) -> Result<Json, ApiError> {
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

    let columns = call_columns();
    let sql = format!(
        "UPDATE call_sessions SET started_at = COALESCE(started_at, $1), ended_at = $2, \
         duration_seconds = CAST($3 AS BIGINT), transcript = $4, \
         function_calls_made = CAST($5 AS BIGINT), \
         customer_id = COALESCE((SELECT c.id FROM customers c WHERE c.phone = $6), customer_id), \
         outcome = $7, sentiment = $8, satisfaction_score = $9, escalated = $10, \
         escalation_reason = $11 \
         WHERE id = $12 RETURNING {}",
        crate::json::select(CALL_SESSIONS, &columns, "")
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
    let row = first(
        tx.rows(&sql, &params, &kinds(CALL_SESSIONS, &columns))
            .await?,
    )
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
