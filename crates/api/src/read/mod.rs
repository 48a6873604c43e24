//! The read routes of the original backend (`admin-api.md`), with its faults fixed:
//! search is case-insensitive on both stores (Unicode too), a legacy plain-text
//! transcript is served as a one-entry transcript, a bad parameter is an
//! [`Invalid`](crate::Invalid).
//!
//! Every function takes `now` (what "today" means), so two stores asked at the same
//! moment answer alike, and tests can pin it. The route families are private modules,
//! re-exported here:
//!
//! - `metrics`: the overview and the daily series, from `daily_metrics`;
//! - `calls`: the call log, with its search, sorts, totals and CSV export;
//! - `analytics`: peak hours, outcomes, the time series and services, in a time zone;
//! - `appointments`: the appointments list;
//! - `customers`: the customers list;
//! - here: health, a call's detail and transcript, a customer and their history.

use ava_catalog::Table;
use ava_catalog::{APPOINTMENTS, CALL_EVENTS, CALL_SESSIONS, CUSTOMERS};
use ava_convert::Value;
use serde_json::{json, Value as Json};

use crate::json::{all_columns, kinds, select, Answer, Keys, Object, Objects};
use crate::request::{Bounds, Field, Rule};
use crate::store::{Param, Select, Store};
use crate::ApiError;

mod analytics;
mod appointments;
mod calls;
mod customers;
mod list;
mod metrics;
pub use analytics::{
    outcome_distribution, peak_hours, services, timeseries, Interval, PeakHours, Series, Window,
    INTERVALS, IN_PROGRESS, PEAK_PERIODS, TZ, UNKNOWN_STATUS,
};
pub use appointments::{appointments, AppointmentsQuery};
pub use calls::{
    calls, export, list_keys, CallsPage, Export, CUSTOMER_NAME, LIST_COLUMNS, SORT_COLUMNS,
};
pub use customers::{
    customers, customers_params, customers_sql, CustomerSort, CustomersPage, CUSTOMER_COUNTS,
    CUSTOMER_SORTS,
};
pub use list::{PAGE, PAGE_SIZE};
pub use metrics::{daily, overview, Days, Period, DAILY_COLUMNS, DAYS, PERIODS};

pub(super) fn int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(x) => *x as i64,
        _ => 0,
    }
}

pub(super) fn float(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Float(x) => Some(*x),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// `GET /health`'s body: whether the store answers, its kind, and with `detailed`
/// where it is (which only the admin guard may tell).
pub async fn health(store: &Store, detailed: bool) -> (bool, Json) {
    let (kind, at) = store.describe();
    let ok = match store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("health check: {e}");
            false
        }
    };
    let mut body = json!({
        "status": if ok { "healthy" } else { "unhealthy" },
        "store": kind,
    });
    if detailed {
        body["database"] = json!(at);
    }
    (ok, body)
}

/// The columns of a call in its detail.
pub const DETAIL_COLUMNS: [&str; 11] = [
    "id",
    "session_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "phone_number",
    "satisfaction_score",
    "sentiment",
    "outcome",
    "escalated",
    "escalation_reason",
];

/// A stored transcript as a list of turns. The app stores the turns as JSON text; an
/// older version stored plain text, which becomes one turn (the original failed with
/// a 500 on it); none is an empty list.
pub fn transcript(stored: &Value<'_>) -> Json {
    let text = match stored {
        Value::Text(t) | Value::Json(t) => t,
        _ => return json!([]),
    };
    match serde_json::from_str::<Json>(text) {
        Ok(turns @ Json::Array(_)) => turns,
        _ => json!([{"speaker": "unknown", "text": text, "timestamp": null}]),
    }
}

async fn one_row(
    store: &Store,
    table: &Table,
    columns: &[&str],
    id: i64,
) -> Result<Option<Vec<Value<'static>>>, ApiError> {
    let sql = by_id_sql(table, columns);
    Ok(store
        .rows(&sql, &[Param::Int(id)], &kinds(table, columns))
        .await?
        .into_iter()
        .next())
}

/// `columns` of the row of `table` whose id is `$1`.
fn by_id_sql(table: &Table, columns: &[&str]) -> String {
    format!(
        "SELECT {} FROM \"{}\" t WHERE t.id = $1",
        select(table, columns, "t"),
        table.name
    )
}

/// `call_id` of the call routes' paths (the original's name).
pub const CALL_ID: Field = Field::required("call_id", Rule::Int(Bounds::ANY), "The call's id.");
/// `customer_id` of the customer routes' paths (the original's name).
pub const CUSTOMER_ID: Field =
    Field::required("customer_id", Rule::Int(Bounds::ANY), "The customer's id.");

/// `GET /api/admin/calls/{id}`.
pub async fn call(store: &Store, id: i64) -> Result<Answer, ApiError> {
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.extend(["customer_id", "transcript"]);
    let event_columns = all_columns(CALL_EVENTS);
    let customer_columns = all_columns(CUSTOMERS);
    // The call with its customer (one statement), and its events, at once: far from
    // the database the answer costs one round trip.
    let call_sql = format!(
        "SELECT {}, {} FROM call_sessions t LEFT JOIN customers c ON c.id = t.customer_id \
         WHERE t.id = $1",
        select(CALL_SESSIONS, &columns, "t"),
        select(CUSTOMERS, &customer_columns, "c")
    );
    let events_sql = format!(
        "SELECT {} FROM call_events e WHERE e.call_session_id = $1 \
         ORDER BY e.\"timestamp\" NULLS LAST, e.id",
        select(CALL_EVENTS, &event_columns, "e")
    );
    let by_id = [Param::Int(id)];
    let mut call_kinds = kinds(CALL_SESSIONS, &columns);
    call_kinds.extend(kinds(CUSTOMERS, &customer_columns));
    let event_kinds = kinds(CALL_EVENTS, &event_columns);
    let [call, events] = store
        .rows_together([
            Select::new(&call_sql, &by_id, &call_kinds),
            Select::new(&events_sql, &by_id, &event_kinds),
        ])
        .await?;
    let row = call
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound("Call not found"))?;
    let (row, customer) = row.split_at(columns.len());
    #[derive(serde::Serialize)]
    struct CallAnswer<'a> {
        call: Object<'a>,
        customer: Option<Object<'a>>,
        events: Objects<'a>,
        transcript: Json,
    }
    let customer_keys = Keys::new(&customer_columns);
    Answer::write(&CallAnswer {
        call: Object {
            keys: &Keys::new(&DETAIL_COLUMNS),
            values: row,
        },
        // No customer: the join's columns are all null, the id too.
        customer: (!matches!(customer.first(), None | Some(Value::Null))).then_some(Object {
            keys: &customer_keys,
            values: customer,
        }),
        events: Objects {
            keys: &Keys::new(&event_columns),
            rows: &events,
        },
        transcript: transcript(&row[DETAIL_COLUMNS.len() + 1]),
    })
}

/// `GET /api/admin/calls/{id}/transcript`.
pub async fn call_transcript(store: &Store, id: i64) -> Result<Answer, ApiError> {
    let row = one_row(store, CALL_SESSIONS, &["transcript"], id)
        .await?
        .ok_or(ApiError::NotFound("Call not found"))?;
    Answer::write(&json!({"call_id": id, "transcript": transcript(&row[0])}))
}

/// `GET /api/customers/{id}`.
pub async fn customer(store: &Store, id: i64) -> Result<Answer, ApiError> {
    let columns = all_columns(CUSTOMERS);
    let row = one_row(store, CUSTOMERS, &columns, id)
        .await?
        .ok_or(ApiError::NotFound("Customer not found"))?;
    Answer::write(&Object {
        keys: &Keys::new(&columns),
        values: &row,
    })
}

/// `GET /api/customers/{id}/history`: the customer, their appointments and calls
/// (every column), newest first.
pub async fn customer_history(store: &Store, id: i64) -> Result<Answer, ApiError> {
    let appointment_columns = all_columns(APPOINTMENTS);
    // Every column of each call, as the original sent its rows.
    let call_columns = all_columns(CALL_SESSIONS);
    let booked_sql = format!(
        "SELECT {} FROM appointments a WHERE a.customer_id = $1 \
         ORDER BY a.appointment_datetime DESC, a.id DESC",
        select(APPOINTMENTS, &appointment_columns, "a")
    );
    let calls_sql = format!(
        "SELECT {} FROM call_sessions s WHERE s.customer_id = $1 \
         ORDER BY s.started_at DESC NULLS LAST, s.id DESC",
        select(CALL_SESSIONS, &call_columns, "s")
    );
    let by_id = [Param::Int(id)];
    let (booked_kinds, call_kinds) = (
        kinds(APPOINTMENTS, &appointment_columns),
        kinds(CALL_SESSIONS, &call_columns),
    );
    let customer_columns = all_columns(CUSTOMERS);
    let (customer_sql, customer_kinds) = (
        by_id_sql(CUSTOMERS, &customer_columns),
        kinds(CUSTOMERS, &customer_columns),
    );
    // The three at once: one round trip far from the database.
    let [customer, booked, calls] = store
        .rows_together([
            Select::new(&customer_sql, &by_id, &customer_kinds),
            Select::new(&booked_sql, &by_id, &booked_kinds),
            Select::new(&calls_sql, &by_id, &call_kinds),
        ])
        .await?;
    let customer = customer
        .first()
        .ok_or(ApiError::NotFound("Customer not found"))?;
    #[derive(serde::Serialize)]
    struct HistoryAnswer<'a> {
        appointments: Objects<'a>,
        calls: Objects<'a>,
        customer: Object<'a>,
    }
    Answer::write(&HistoryAnswer {
        appointments: Objects {
            keys: &Keys::new(&appointment_columns),
            rows: &booked,
        },
        calls: Objects {
            keys: &Keys::new(&call_columns),
            rows: &calls,
        },
        customer: Object {
            keys: &Keys::new(&customer_columns),
            values: customer,
        },
    })
}
