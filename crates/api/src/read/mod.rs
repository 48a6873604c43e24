//! The read routes of the original backend (`admin-api.md`), with its faults fixed:
//! search is case-insensitive on both stores (Unicode too), a legacy plain-text
//! transcript is served as a one-entry transcript, a bad parameter is an
//! [`Invalid`](crate::Invalid).
//!
//! Every function takes `now` (what "today" means), so two stores asked at the same
//! moment answer alike, and tests can pin it. The call log, with its search and totals,
//! is the private module `calls` (re-exported here).

use ava_catalog::Table;
use ava_catalog::{APPOINTMENTS, CALL_EVENTS, CALL_SESSIONS, CUSTOMERS, DAILY_METRICS};
use ava_convert::Value;
use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use crate::json::{all_columns, kinds, object, round2, select, Answer, Keys, Object, Objects};
use crate::request::{Bounds, Field, Params, Query, Rule};
use crate::store::{Param, Select, Store};
use crate::ApiError;

mod analytics;
mod calls;
mod customers;
pub use analytics::{
    outcome_distribution, peak_hours, services, timeseries, Interval, PeakHours, Series, Window,
    INTERVALS, IN_PROGRESS, PEAK_PERIODS, TZ, UNKNOWN_STATUS,
};
pub use calls::{
    calls, export, list_keys, CallsPage, Export, CUSTOMER_NAME, LIST_COLUMNS, PAGE, PAGE_SIZE,
    SORT_COLUMNS,
};
pub use customers::{
    customers, customers_params, customers_sql, CustomerSort, CustomersPage, CUSTOMERS_PAGE_SIZE,
    CUSTOMER_COUNTS, CUSTOMER_SORTS,
};

/// Midnight (UTC) of the day `days` before `now`'s.
fn midnight_days_before(now: DateTime<Utc>, days: i64) -> i64 {
    analytics::midnight_in(chrono_tz::Tz::UTC, now, days)
}

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

/// The overview's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Today,
    Week,
    Month,
}

/// The periods' names, in [`Period::ALL`]'s order.
pub const PERIODS: [&str; 3] = ["today", "week", "month"];

impl Period {
    pub const ALL: [Period; 3] = [Period::Today, Period::Week, Period::Month];

    /// `period` of the overview.
    pub const FIELD: Field = Field::optional(
        "period",
        Rule::OneOf(&PERIODS),
        "The period: since today's UTC midnight, or midnight 7 (`week`) or 30 (`month`) \
         days ago.",
    )
    .or("today");

    /// The period `field` of `query` names (its default if none).
    pub(crate) fn in_query(query: &Query, field: &Field) -> Period {
        Period::named(query.text(field).unwrap_or_default())
    }

    fn named(name: &str) -> Period {
        Period::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .unwrap_or(Period::Today)
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Today => PERIODS[0],
            Period::Week => PERIODS[1],
            Period::Month => PERIODS[2],
        }
    }

    pub(crate) fn days(self) -> i64 {
        match self {
            Period::Today => 0,
            Period::Week => 7,
            Period::Month => 30,
        }
    }
}

impl Params for Period {
    fn fields() -> Vec<Field> {
        vec![Period::FIELD]
    }

    fn from_query(query: &Query) -> Period {
        Period::in_query(query, &Period::FIELD)
    }
}

const OVERVIEW_COLUMNS: [&str; 6] = [
    "total_calls",
    "total_talk_time_seconds",
    "appointments_booked",
    "avg_satisfaction_score",
    "calls_escalated",
    "date",
];

/// `GET /api/admin/metrics/overview`: the `daily_metrics` rows since the period's
/// start, summed here (not in SQL, so both stores add the same floats in the same order).
pub async fn overview(
    store: &Store,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let sql = format!(
        "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
        select(DAILY_METRICS, &OVERVIEW_COLUMNS, "m")
    );
    let rows = store
        .rows(
            &sql,
            &[Param::Time(midnight_days_before(now, period.days()))],
            &kinds(DAILY_METRICS, &OVERVIEW_COLUMNS),
        )
        .await?;
    let (mut calls, mut talk, mut booked, mut escalated, mut weighted) =
        (0i64, 0i64, 0i64, 0i64, 0.0);
    for row in &rows {
        let day_calls = int(&row[0]);
        calls += day_calls;
        talk += int(&row[1]);
        booked += int(&row[2]);
        weighted += float(&row[3]).unwrap_or(0.0) * day_calls as f64;
        escalated += int(&row[4]);
    }
    let per_call = |x: f64| if calls > 0 { x / calls as f64 } else { 0.0 };
    Answer::write(&json!({
        "period": period.name(),
        "total_calls": calls,
        "total_talk_time_hours": round2(talk as f64 / 3600.0),
        "avg_call_duration_minutes": round2(per_call(talk as f64) / 60.0),
        "appointments_booked": booked,
        "conversion_rate": round2(per_call(booked as f64) * 100.0),
        "avg_satisfaction_score": round2(per_call(weighted)),
        "calls_escalated": escalated,
        "escalation_rate": round2(per_call(escalated as f64) * 100.0),
    }))
}

/// `days` of the daily series.
pub const DAYS: Bounds = Bounds {
    default: 30,
    min: 1,
    max: 90,
};

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

/// The columns of a day in `GET /api/admin/analytics/daily` (with the average duration
/// in minutes computed from `avg_call_duration_seconds`).
pub const DAILY_COLUMNS: [&str; 5] = [
    "date",
    "total_calls",
    "appointments_booked",
    "avg_satisfaction_score",
    "conversion_rate",
];

/// `days` of `GET /api/admin/analytics/daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(pub i64);

const DAYS_FIELD: Field = Field::optional("days", Rule::Int(DAYS), "How many days back.");

impl Params for Days {
    fn fields() -> Vec<Field> {
        vec![DAYS_FIELD]
    }

    fn from_query(query: &Query) -> Days {
        Days(query.int(&DAYS_FIELD))
    }
}

/// `GET /api/admin/analytics/daily`.
pub async fn daily(
    store: &Store,
    Days(days): Days,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let mut columns = DAILY_COLUMNS.to_vec();
    columns.push("avg_call_duration_seconds");
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
                select(DAILY_METRICS, &columns, "m")
            ),
            &[Param::Time(midnight_days_before(now, days))],
            &kinds(DAILY_METRICS, &columns),
        )
        .await?;
    let metrics: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut day = object(&DAILY_COLUMNS, row);
            let minutes = float(&row[DAILY_COLUMNS.len()]).map(|s| round2(s / 60.0));
            day.insert(
                "avg_call_duration_minutes".into(),
                json!(minutes.unwrap_or(0.0)),
            );
            Json::Object(day)
        })
        .collect();
    Answer::write(&json!({ "metrics": metrics }))
}

/// The query of `GET /api/appointments`: instants in µs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppointmentsQuery {
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub status: Option<String>,
}

const START_DATE: Field = Field::optional(
    "start_date",
    Rule::DateTime,
    "The earliest `appointment_datetime`: an ISO 8601 date-time (`Z` or an offset; none \
     means UTC), e.g. `2025-08-25T09:00:00Z`, or a date (its midnight UTC).",
);
const END_DATE: Field = Field::optional(
    "end_date",
    Rule::DateTime,
    "The latest `appointment_datetime`, written as `start_date`.",
);

fn status_field() -> Field {
    Field::optional(
        "status",
        Rule::column(APPOINTMENTS, "status"),
        "Only appointments of this status (e.g. `scheduled`).",
    )
}

impl Params for AppointmentsQuery {
    fn fields() -> Vec<Field> {
        vec![START_DATE, END_DATE, status_field()]
    }

    fn from_query(query: &Query) -> AppointmentsQuery {
        AppointmentsQuery {
            start_date: query.instant(&START_DATE),
            end_date: query.instant(&END_DATE),
            status: query.text(&status_field()).map(str::to_string),
        }
    }
}

/// `GET /api/appointments`: every column and the customer's name, newest first.
pub async fn appointments(store: &Store, query: &AppointmentsQuery) -> Result<Answer, ApiError> {
    let columns = all_columns(APPOINTMENTS);
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    for (instant, op) in [(query.start_date, ">="), (query.end_date, "<=")] {
        if let Some(instant) = instant {
            params.push(Param::Time(instant));
            conditions.push(format!("a.appointment_datetime {op} ${}", params.len()));
        }
    }
    if let Some(status) = &query.status {
        params.push(Param::Text(status.clone()));
        conditions.push(format!("a.status = ${}", params.len()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let mut row_kinds = kinds(APPOINTMENTS, &columns);
    row_kinds.extend(kinds(CUSTOMERS, &["name"]));
    let rows = store
        .rows(
            &format!(
                "SELECT {}, {} FROM appointments a {filter} \
                 ORDER BY a.appointment_datetime DESC, a.id DESC",
                select(APPOINTMENTS, &columns, "a"),
                calls::customer_name_of("a")
            ),
            &params,
            &row_kinds,
        )
        .await?;
    let mut keys = columns;
    keys.push(CUSTOMER_NAME);
    #[derive(serde::Serialize)]
    struct AppointmentsAnswer<'a> {
        appointments: Objects<'a>,
    }
    Answer::write(&AppointmentsAnswer {
        appointments: Objects {
            keys: &Keys::new(&keys),
            rows: &rows,
        },
    })
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
