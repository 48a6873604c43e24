//! The read routes of the original backend (`admin-api.md`), with its faults fixed:
//! search is case-insensitive on both stores (Unicode too), a legacy plain-text
//! transcript is served as a one-entry transcript, a bad parameter is an
//! [`Invalid`](crate::Invalid).
//!
//! Every function takes `now` (what "today" means), so two stores asked at the same
//! moment answer alike, and tests can pin it.

use ava_catalog::{Kind, Table, TABLES};
use ava_convert::Value;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::{json, Value as Json};

use crate::json::{all_columns, kinds, object, round2, select, Answer, Keys, Object, Objects};
use crate::request::{Bounds, Field, Params, Query, Rule};
use crate::store::{fold, Dialect, Param, Rows, Select, Store, Totals, SNAPSHOT};
use crate::ApiError;

pub(crate) fn table(name: &str) -> &'static Table {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in the catalog"))
}

/// Midnight (UTC) of the day `days` before `now`'s.
fn midnight_days_before(now: DateTime<Utc>, days: i64) -> i64 {
    (now - Duration::days(days))
        .date_naive()
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_micros()
}

fn int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(x) => *x as i64,
        _ => 0,
    }
}

fn float(v: &Value<'_>) -> Option<f64> {
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

    fn days(self) -> i64 {
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
        Period::named(query.text(&Period::FIELD).unwrap_or_default())
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
    let metrics = table("daily_metrics");
    let sql = format!(
        "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
        select(metrics, &OVERVIEW_COLUMNS, "m")
    );
    let rows = store
        .rows(
            &sql,
            &[Param::Time(midnight_days_before(now, period.days()))],
            &kinds(metrics, &OVERVIEW_COLUMNS),
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

/// A calls page: the query of `GET /api/admin/calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsPage {
    pub page: i64,
    pub page_size: i64,
    pub search: Option<String>,
    pub sort_by: &'static str,
    pub descending: bool,
}

pub const SORT_COLUMNS: [&str; 3] = ["started_at", "duration_seconds", "satisfaction_score"];

/// `page` of the calls list (no upper bound but what keeps the offset an integer).
pub const PAGE: Bounds = Bounds {
    default: 1,
    min: 1,
    max: i64::MAX / 100,
};
/// `page_size` of the calls list.
pub const PAGE_SIZE: Bounds = Bounds {
    default: 50,
    min: 1,
    max: 100,
};
/// `days` of the daily series.
pub const DAYS: Bounds = Bounds {
    default: 30,
    min: 1,
    max: 90,
};

const PAGE_FIELD: Field = Field::optional("page", Rule::Int(PAGE), "The page, from 1.");
const PAGE_SIZE_FIELD: Field =
    Field::optional("page_size", Rule::Int(PAGE_SIZE), "Calls per page.");
const SORT_BY: Field = Field::optional(
    "sort_by",
    Rule::OneOf(&SORT_COLUMNS),
    "The column to sort by.",
)
.or(SORT_COLUMNS[0]);
const SORT_ORDER: Field =
    Field::optional("sort_order", Rule::OneOf(&["asc", "desc"]), "The order.").or("desc");

/// `search` of the calls list: compared with customers' names (and phone numbers).
fn search_field() -> Field {
    Field::optional(
        "search",
        Rule::column("customers", "name"),
        "Part of the caller's phone number or of the customer's name, any case (empty: \
         every call).",
    )
}

impl Params for CallsPage {
    fn fields() -> Vec<Field> {
        vec![
            PAGE_FIELD,
            PAGE_SIZE_FIELD,
            search_field(),
            SORT_BY,
            SORT_ORDER,
        ]
    }

    fn from_query(query: &Query) -> CallsPage {
        let sort_by = query.text(&SORT_BY).unwrap_or_default();
        CallsPage {
            page: query.int(&PAGE_FIELD),
            page_size: query.int(&PAGE_SIZE_FIELD),
            search: query.text(&search_field()).map(str::to_string),
            sort_by: SORT_COLUMNS
                .into_iter()
                .find(|c| *c == sort_by)
                .unwrap_or(SORT_COLUMNS[0]),
            descending: query.text(&SORT_ORDER) != Some("asc"),
        }
    }
}

/// The columns of a call in the list.
pub const LIST_COLUMNS: [&str; 12] = [
    "id",
    "session_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "phone_number",
    "customer_id",
    "satisfaction_score",
    "sentiment",
    "outcome",
    "escalated",
    "escalation_reason",
];

/// `search` as a `LIKE` pattern matching it anywhere, case-folded, `%`, `_` and `\`
/// taken literally.
fn contains_pattern(search: &str) -> String {
    let mut pattern = String::from("%");
    for c in fold(search).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `GET /api/admin/calls`.
pub async fn calls(store: &Store, page: &CallsPage) -> Result<Answer, ApiError> {
    let sessions = table("call_sessions");
    let d = store.dialect();
    let mut params = Vec::new();
    // Two arms rather than one OR across the join: each can use its own index (the
    // trigram indexes on Postgres, `…_api_indexes.sql`).
    let from = match &page.search {
        Some(search) => {
            params.push(Param::Text(contains_pattern(search)));
            let phone = format!("{} LIKE $1 ESCAPE '\\'", d.fold("p.phone_number"));
            let customers = d.any_of(
                "n.customer_id",
                &format!(
                    "SELECT nc.id FROM customers nc WHERE {} LIKE $1 ESCAPE '\\'",
                    d.fold("nc.name")
                ),
            );
            match d {
                // The matches' ids and sort keys alone: the customers' arm from the
                // (customer_id, started_at, id) index without visiting a row, so a page
                // sorts a few thousand index entries, not rows joined back by id
                // (`…_customer_calls_index.sql`).
                Dialect::Postgres => format!(
                    "FROM (SELECT p.id, p.\"{sort}\" FROM call_sessions p WHERE {phone} \
                     UNION SELECT n.id, n.\"{sort}\" FROM call_sessions n WHERE {customers}) s",
                    sort = page.sort_by
                ),
                Dialect::Sqlite => format!(
                    "FROM call_sessions s WHERE s.id IN (SELECT p.id FROM call_sessions p \
                     WHERE {phone} UNION ALL SELECT n.id FROM call_sessions n WHERE {customers})"
                ),
            }
        }
        None => ALL_CALLS.to_string(),
    };
    // NULLs sort as the largest values (Postgres' default), so one (column, id) index
    // serves both directions.
    let direction = if page.descending {
        "DESC NULLS FIRST"
    } else {
        "ASC NULLS LAST"
    };
    let n = params.len();
    let order_by = |alias: &str| {
        format!(
            "ORDER BY {alias}.\"{}\" {direction}, {alias}.id {}",
            page.sort_by,
            if page.descending { "DESC" } else { "ASC" }
        )
    };
    let order = order_by("s");
    let (limit, columns) = (
        format!("LIMIT ${} OFFSET ${}", n + 1, n + 2),
        select(sessions, &LIST_COLUMNS, "s"),
    );
    // The exact total is remembered per query (one entry serves every page, sort and
    // direction), with the state of the store it was counted in; each store tells
    // cheaply whether that state still holds.
    let key = total_key(&from, &params);
    let ids = match store {
        Store::Postgres(pg) if page.search.is_some() && walk_is_cheaper(&pg.totals, &key, page) => {
            format!(
                "SELECT s.id FROM call_sessions s LEFT JOIN customers c ON c.id = s.customer_id \
                 WHERE {} LIKE $1 ESCAPE '\\' OR {} LIKE $1 ESCAPE '\\' {order} {limit}",
                d.fold("c.name"),
                d.fold("s.phone_number")
            )
        }
        _ => format!("SELECT s.id {from} {order} {limit}"),
    };
    let sql = match d {
        // The page's ids first, from the (column, id) index alone (an index-only scan
        // once the table is vacuumed), then only their rows: a deep page skips index
        // entries, not the wide rows they point at. Beside them, in the same statement,
        // the total: the statement compares its snapshot with the one the query was last
        // counted in (`$n+3`), and counts only when they differ (see `Totals`). One
        // statement rather than two: measured with pgbench, 13 % more pages a second.
        Dialect::Postgres => format!(
            "WITH t AS (SELECT {SNAPSHOT} AS snapshot, CASE WHEN {SNAPSHOT} = ${} THEN NULL \
             ELSE (SELECT count(*) {from}) END AS total) \
             SELECT t.snapshot, t.total, {} FROM t LEFT JOIN \
             (SELECT {columns} FROM call_sessions s WHERE s.id IN ({ids})) p ON true {}",
            n + 3,
            select(sessions, &LIST_COLUMNS, "p"),
            order_by("p")
        ),
        // SQLite reads a row by its id cheaply as it walks the index; measured, the
        // two-step form was 3 × slower there. A search counts its matches in the same
        // statement (`count(*) OVER ()`): SQLite keeps no totals, and the matches are
        // found once, not twice.
        Dialect::Sqlite => format!(
            "SELECT {columns}{} {from} {order} {limit}",
            if page.search.is_some() {
                ", count(*) OVER ()"
            } else {
                ""
            }
        ),
    };
    let mut page_params = params.clone();
    page_params.push(Param::Int(page.page_size));
    page_params.push(Param::Int((page.page - 1) * page.page_size));
    let mut columns = kinds(sessions, &LIST_COLUMNS);
    match store {
        Store::Postgres(pg) => {
            let known = pg.totals.get(&key);
            page_params.push(Param::Text(
                known.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
            ));
            let mut columns = columns;
            columns.splice(0..0, [Kind::Text, Kind::Id]);
            let mut rows = store.rows(&sql, &page_params, &columns).await?;
            let total = match (rows.first().map(|r| &r[..2]), known) {
                // The snapshot is the one counted in: the total recorded holds.
                (Some([_, Value::Null]), Some((_, known))) => known,
                (Some([Value::Text(snapshot), total]), _) => {
                    let total = int(total);
                    pg.totals.put(key, snapshot.to_string(), total);
                    total
                }
                _ => 0,
            };
            // A page past the end is one row of the total with no call (no id).
            rows.retain(|row| !matches!(row.get(2), None | Some(Value::Null)));
            for row in &mut rows {
                row.drain(..2);
            }
            calls_page(page, total, rows)
        }
        // Counted again only when the file changed (`SqliteStore::count`); a search
        // counts its matches with its page, which finds them all anyway (to sort them).
        // The count alone in its SELECT: SQLite then counts from its smallest index
        // (with another column beside it, it reads every row).
        Store::Sqlite(lite) => {
            let count_sql = format!("SELECT count(*) {from}");
            if page.search.is_none() {
                let (total, rows) = futures_util::future::try_join(
                    lite.count(&key, &count_sql, &params),
                    store.rows(&sql, &page_params, &columns),
                )
                .await?;
                return calls_page(page, total, rows);
            }
            columns.push(Kind::Id);
            let rows = store.rows(&sql, &page_params, &columns).await?;
            let total = match rows.first() {
                Some(row) => int(&row[LIST_COLUMNS.len()]),
                None => lite.count(&key, &count_sql, &params).await?,
            };
            calls_page(page, total, rows)
        }
    }
}

/// The unfiltered call log's `FROM`.
const ALL_CALLS: &str = "FROM call_sessions s";

/// The key of the total of the calls `from` selects with `params`, in `Totals`.
fn total_key(from: &str, params: &[Param]) -> String {
    format!("{from}{params:?}")
}

/// Whether a search's page is found sooner by walking the sort's index and testing each
/// call in turn (its name and phone folded: about 6 µs a call, for about (offset + page
/// size) × all calls / matches calls) than by collecting every match from the indexes and
/// sorting them (about 2 µs a match) — measured at 100,000 calls. Judged by the totals
/// last counted (stale or not: only the speed depends on it, never the answer); when
/// either is unknown, collect. Walking keeps a frequent fragment's first pages from
/// growing with the table: at 1,000,000 calls "garc" matches 50,000.
fn walk_is_cheaper(totals: &Totals, key: &str, page: &CallsPage) -> bool {
    let count = |key: &str| totals.get(key).map(|(_, n)| n as f64);
    let reach = (page.page as f64) * (page.page_size as f64);
    match (count(key), count(&total_key(ALL_CALLS, &[]))) {
        (Some(found), Some(all)) => 6.0 * reach * all / found.max(1.0) < 2.0 * found,
        _ => false,
    }
}

/// The call log's answer: the page of calls and the exact total.
fn calls_page(page: &CallsPage, total: i64, mut rows: Rows) -> Result<Answer, ApiError> {
    // The original sent 0 for a call without a duration.
    let duration = LIST_COLUMNS
        .iter()
        .position(|c| *c == "duration_seconds")
        .unwrap_or(usize::MAX);
    for row in &mut rows {
        if let Some(cell @ Value::Null) = row.get_mut(duration) {
            *cell = Value::Int(0);
        }
    }
    // Its keys in sorted order, as every answer's.
    #[derive(serde::Serialize)]
    struct CallsAnswer<'a> {
        calls: Objects<'a>,
        page: i64,
        page_size: i64,
        total: i64,
        total_pages: i64,
    }
    Answer::write(&CallsAnswer {
        calls: Objects {
            keys: &Keys::new(&LIST_COLUMNS),
            rows: &rows,
        },
        page: page.page,
        page_size: page.page_size,
        total,
        total_pages: (total + page.page_size - 1) / page.page_size,
    })
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
    let sessions = table("call_sessions");
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.extend(["customer_id", "transcript"]);
    let events_table = table("call_events");
    let event_columns = all_columns(events_table);
    let customers = table("customers");
    let customer_columns = all_columns(customers);
    // The call with its customer (one statement), and its events, at once: far from
    // the database the answer costs one round trip.
    let call_sql = format!(
        "SELECT {}, {} FROM call_sessions t LEFT JOIN customers c ON c.id = t.customer_id \
         WHERE t.id = $1",
        select(sessions, &columns, "t"),
        select(customers, &customer_columns, "c")
    );
    let events_sql = format!(
        "SELECT {} FROM call_events e WHERE e.call_session_id = $1 \
         ORDER BY e.\"timestamp\" NULLS LAST, e.id",
        select(events_table, &event_columns, "e")
    );
    let by_id = [Param::Int(id)];
    let mut call_kinds = kinds(sessions, &columns);
    call_kinds.extend(kinds(customers, &customer_columns));
    let event_kinds = kinds(events_table, &event_columns);
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
    let row = one_row(store, table("call_sessions"), &["transcript"], id)
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
    let metrics = table("daily_metrics");
    let mut columns = DAILY_COLUMNS.to_vec();
    columns.push("avg_call_duration_seconds");
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
                select(metrics, &columns, "m")
            ),
            &[Param::Time(midnight_days_before(now, days))],
            &kinds(metrics, &columns),
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
        Rule::column("appointments", "status"),
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

/// `GET /api/appointments`: every column, newest first.
pub async fn appointments(store: &Store, query: &AppointmentsQuery) -> Result<Answer, ApiError> {
    let appointments = table("appointments");
    let columns = all_columns(appointments);
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
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM appointments a {filter} \
                 ORDER BY a.appointment_datetime DESC, a.id DESC",
                select(appointments, &columns, "a")
            ),
            &params,
            &kinds(appointments, &columns),
        )
        .await?;
    #[derive(serde::Serialize)]
    struct AppointmentsAnswer<'a> {
        appointments: Objects<'a>,
    }
    Answer::write(&AppointmentsAnswer {
        appointments: Objects {
            keys: &Keys::new(&columns),
            rows: &rows,
        },
    })
}

/// `GET /api/customers/{id}`.
pub async fn customer(store: &Store, id: i64) -> Result<Answer, ApiError> {
    let customers = table("customers");
    let columns = all_columns(customers);
    let row = one_row(store, customers, &columns, id)
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
    let appointments = table("appointments");
    let appointment_columns = all_columns(appointments);
    // Every column of each call, as the original sent its rows.
    let sessions = table("call_sessions");
    let call_columns = all_columns(sessions);
    let booked_sql = format!(
        "SELECT {} FROM appointments a WHERE a.customer_id = $1 \
         ORDER BY a.appointment_datetime DESC, a.id DESC",
        select(appointments, &appointment_columns, "a")
    );
    let calls_sql = format!(
        "SELECT {} FROM call_sessions s WHERE s.customer_id = $1 \
         ORDER BY s.started_at DESC NULLS LAST, s.id DESC",
        select(sessions, &call_columns, "s")
    );
    let by_id = [Param::Int(id)];
    let (booked_kinds, call_kinds) = (
        kinds(appointments, &appointment_columns),
        kinds(sessions, &call_columns),
    );
    let customers = table("customers");
    let customer_columns = all_columns(customers);
    let (customer_sql, customer_kinds) = (
        by_id_sql(customers, &customer_columns),
        kinds(customers, &customer_columns),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: i64) -> CallsPage {
        CallsPage {
            page,
            page_size: 50,
            search: Some("garc".into()),
            sort_by: "started_at",
            descending: true,
        }
    }

    #[test]
    fn a_search_walks_the_index_only_when_its_matches_are_known_to_be_dense() {
        let totals = Totals::default();
        let key = "FROM (…) s[Text(\"%garc%\")]";
        // Nothing counted yet: collect.
        assert!(!walk_is_cheaper(&totals, key, &page(1)));
        totals.put(key.into(), "1:1:".into(), 5_097);
        assert!(
            !walk_is_cheaper(&totals, key, &page(1)),
            "all calls unknown"
        );
        totals.put(total_key(ALL_CALLS, &[]), "1:1:".into(), 100_000);
        // 5 % of the calls: the first page passes ~1,000 calls, the 37th ~36,000.
        assert!(walk_is_cheaper(&totals, key, &page(1)));
        assert!(!walk_is_cheaper(&totals, key, &page(37)));
        // A rare fragment: collect.
        totals.put(key.into(), "1:1:".into(), 12);
        assert!(!walk_is_cheaper(&totals, key, &page(1)));
        // None at all.
        totals.put(key.into(), "1:1:".into(), 0);
        assert!(!walk_is_cheaper(&totals, key, &page(1)));
    }
}
