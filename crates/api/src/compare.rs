//! The read routes asked the same requests of two stores, their answers compared exactly:
//! `ava verify --api` (the plan's "run the admin endpoints against Supabase" and
//! "spot-check recent call sessions", automated).
//!
//! The requests are a fixed plan drawn from the data: every overview period; pages of
//! the call list (first, second, last, one past the last) for every sort column and
//! order, with no search, digits of a real phone number, a lower- and an upper-case
//! fragment of a real customer name, a non-ASCII fragment and `%_`; the detail and the
//! transcript of a sample of calls (the most recent, the first and last ids, a few in
//! between, and a missing id, which must be a 404 on both); the daily series for 1, 7,
//! 30 and 90 days; the analytics in a few zones; the appointments unfiltered, by each
//! status and in a date range; pages of the customers list for every order and
//! direction with the call list's searches; a sample of customers and their histories
//! (and a missing id). Both stores are asked
//! with the same `now`. Answers are compared as HTTP would see them — status and JSON
//! body, numbers by their JSON form (so `5` ≠ `5.0`) — and every differing JSON path is
//! named with both values.

use ava_catalog::Kind;
use ava_catalog::{APPOINTMENTS, CALL_SESSIONS, CUSTOMERS};
use ava_convert::datetime::format_micros;
use ava_convert::Value;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::json::kinds;
use crate::read::{
    self, AppointmentsQuery, CallsPage, CustomerSort, CustomersPage, Days, Interval, Period,
    SORT_COLUMNS,
};
use crate::request::Params;
use crate::store::{Param, Store, StoreError};
use crate::ApiError;

/// A store failed (not a difference: the comparison stops).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("the {side} store ({store}) failed on {request}")]
    Store {
        /// `source` or `target`.
        side: &'static str,
        store: String,
        request: String,
        #[source]
        source: Box<StoreError>,
    },
}

/// The kinds of request, in the order they are asked and reported.
pub const KINDS: [&str; 13] = [
    "overview",
    "calls",
    "call",
    "transcript",
    "daily",
    "peak-hours",
    "outcome-distribution",
    "timeseries",
    "services",
    "appointments",
    "customers",
    "customer",
    "history",
];

/// The time zones the analytics are compared in: UTC, one behind it with summer time,
/// one ahead of it by a half hour, and one by three quarters.
const ZONES: [Tz; 4] = [
    Tz::UTC,
    Tz::America__Los_Angeles,
    Tz::Asia__Kolkata,
    Tz::Pacific__Chatham,
];

/// Page size of the call-list requests (the dashboard's default).
pub const PAGE_SIZE: i64 = 50;

/// How many differences are listed per request (the rest are counted).
pub const MAX_LISTED: usize = 20;

/// How many characters of a differing value are shown.
pub const MAX_VALUE_CHARS: usize = 100;

/// How many of the most recent calls are sampled.
const RECENT_CALLS: i64 = 20;

/// How many ids between the first and the last are sampled, evenly spaced.
const SPREAD: i64 = 5;

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `now` both stores were asked with (ISO 8601 UTC).
    pub now: String,
    /// What each store is (`sqlite /path`, `postgres URL` without its password).
    pub source: String,
    pub target: String,
    /// Per kind of request: how many were asked, how many answered alike.
    pub kinds: Vec<KindCount>,
    /// Every request, in the order asked.
    pub requests: Vec<Outcome>,
}

impl Report {
    /// Whether every request was answered alike.
    pub fn identical(&self) -> bool {
        self.requests.iter().all(|r| r.identical)
    }

    /// The requests answered differently.
    pub fn differing(&self) -> impl Iterator<Item = &Outcome> {
        self.requests.iter().filter(|r| !r.identical)
    }
}

/// One kind of request's counts.
#[derive(Debug, Clone, Serialize)]
pub struct KindCount {
    pub kind: &'static str,
    pub requests: usize,
    pub identical: usize,
}

/// One request and how the two answers compare.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: &'static str,
    /// The request as the HTTP route would receive it, e.g. `GET /api/admin/calls/7`.
    pub request: String,
    /// The HTTP status each store's answer would have.
    pub source_status: u16,
    pub target_status: u16,
    /// Both answers equal (and, where a status is expected, both have it).
    pub identical: bool,
    /// The first [`MAX_LISTED`] differences.
    pub differences: Vec<Difference>,
    /// How many more differences there are.
    pub more_differences: usize,
}

/// One JSON path whose values differ, both values as compact JSON (cut to
/// [`MAX_VALUE_CHARS`]), `(absent)` where one side has nothing there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub path: String,
    pub source: String,
    pub target: String,
}

/// Asks `source` and `target` the request plan (drawn from both stores' rows) with the
/// same `now`, and compares every answer.
pub async fn compare(
    source: &Store,
    target: &Store,
    now: DateTime<Utc>,
) -> Result<Report, CompareError> {
    let describe = |s: &Store| {
        let (kind, at) = s.describe();
        format!("{kind} {at}")
    };
    let mut run = Run {
        stores: [source, target],
        now,
        outcomes: Vec::new(),
    };
    let plan = Plan::draw(&run).await?;

    for period in Period::ALL {
        run.ask(&Ask::Overview(period), None).await?;
    }
    for search in &plan.searches {
        for sort_by in SORT_COLUMNS {
            for descending in [true, false] {
                run.pages(|page| {
                    Ask::Calls(CallsPage {
                        page,
                        page_size: PAGE_SIZE,
                        search: search.clone(),
                        sort_by,
                        descending,
                    })
                })
                .await?;
            }
        }
    }
    for &id in &plan.calls.ids {
        run.ask(&Ask::Call(id), None).await?;
        run.ask(&Ask::Transcript(id), None).await?;
    }
    run.ask(&Ask::Call(plan.calls.missing), Some(404)).await?;
    run.ask(&Ask::Transcript(plan.calls.missing), Some(404))
        .await?;
    for days in [1, 7, 30, 90] {
        run.ask(&Ask::Daily(Days(days)), None).await?;
    }
    for tz in ZONES {
        for period in [Period::Week, Period::Month] {
            run.ask(&Ask::PeakHours(period, tz), None).await?;
        }
        for period in Period::ALL {
            run.ask(&Ask::Outcomes(period, tz), None).await?;
            run.ask(&Ask::Services(period, tz), None).await?;
            for interval in Interval::ALL {
                run.ask(&Ask::Series(period, interval, tz), None).await?;
            }
        }
    }
    for query in &plan.appointments {
        run.ask(&Ask::Appointments(query.clone()), None).await?;
    }
    for search in &plan.searches {
        for sort_by in CustomerSort::ALL {
            for descending in [false, true] {
                run.pages(|page| {
                    Ask::Customers(CustomersPage {
                        page,
                        page_size: PAGE_SIZE,
                        search: search.clone(),
                        sort_by,
                        descending,
                    })
                })
                .await?;
            }
        }
    }
    for &id in &plan.customers.ids {
        run.ask(&Ask::Customer(id), None).await?;
        run.ask(&Ask::History(id), None).await?;
    }
    run.ask(&Ask::Customer(plan.customers.missing), Some(404))
        .await?;
    run.ask(&Ask::History(plan.customers.missing), Some(404))
        .await?;

    let kinds = KINDS
        .iter()
        .map(|&kind| {
            let of_kind = run.outcomes.iter().filter(|o| o.kind == kind);
            KindCount {
                kind,
                requests: of_kind.clone().count(),
                identical: of_kind.filter(|o| o.identical).count(),
            }
        })
        .collect();
    Ok(Report {
        now: format_micros(now.timestamp_micros()),
        source: describe(source),
        target: describe(target),
        kinds,
        requests: run.outcomes,
    })
}

/// One request to a read route.
#[derive(Debug, Clone)]
enum Ask {
    Overview(Period),
    Calls(CallsPage),
    Call(i64),
    Transcript(i64),
    Daily(Days),
    PeakHours(Period, Tz),
    Outcomes(Period, Tz),
    Series(Period, Interval, Tz),
    Services(Period, Tz),
    /// The query string, encoded.
    Appointments(String),
    Customers(CustomersPage),
    Customer(i64),
    History(i64),
}

impl Ask {
    fn kind(&self) -> &'static str {
        match self {
            Ask::Overview(_) => "overview",
            Ask::Calls(_) => "calls",
            Ask::Call(_) => "call",
            Ask::Transcript(_) => "transcript",
            Ask::Daily(_) => "daily",
            Ask::PeakHours(..) => "peak-hours",
            Ask::Outcomes(..) => "outcome-distribution",
            Ask::Series(..) => "timeseries",
            Ask::Services(..) => "services",
            Ask::Appointments(_) => "appointments",
            Ask::Customers(_) => "customers",
            Ask::Customer(_) => "customer",
            Ask::History(_) => "history",
        }
    }

    /// The request as the HTTP route would receive it (query values unencoded).
    fn label(&self) -> String {
        match self {
            Ask::Overview(p) => format!("GET /api/admin/metrics/overview?period={}", p.name()),
            Ask::Calls(p) => list_label(
                "/api/admin/calls",
                (p.page, p.page_size),
                (p.sort_by, p.descending),
                &p.search,
            ),
            Ask::Call(id) => format!("GET /api/admin/calls/{id}"),
            Ask::Transcript(id) => format!("GET /api/admin/calls/{id}/transcript"),
            Ask::Daily(Days(days)) => format!("GET /api/admin/analytics/daily?days={days}"),
            Ask::PeakHours(period, tz) => format!(
                "GET /api/admin/analytics/peak-hours?period={}&tz={tz}",
                period.name()
            ),
            Ask::Outcomes(period, tz) => format!(
                "GET /api/admin/analytics/outcome-distribution?period={}&tz={tz}",
                period.name()
            ),
            Ask::Services(period, tz) => format!(
                "GET /api/admin/analytics/services?period={}&tz={tz}",
                period.name()
            ),
            Ask::Series(period, interval, tz) => format!(
                "GET /api/admin/analytics/timeseries?period={}&interval={}&tz={tz}",
                period.name(),
                interval.name()
            ),
            Ask::Appointments(query) if query.is_empty() => "GET /api/appointments".to_string(),
            Ask::Appointments(query) => format!("GET /api/appointments?{query}"),
            Ask::Customers(p) => list_label(
                "/api/admin/customers",
                (p.page, p.page_size),
                (p.sort_by.name(), p.descending),
                &p.search,
            ),
            Ask::Customer(id) => format!("GET /api/customers/{id}"),
            Ask::History(id) => format!("GET /api/customers/{id}/history"),
        }
    }

    /// The answer of `store`: the status and body the HTTP route would send.
    async fn answer(&self, store: &Store, now: DateTime<Utc>) -> Result<(u16, Json), StoreError> {
        let result = match self {
            Ask::Overview(period) => read::overview(store, *period, now).await,
            Ask::Calls(page) => read::calls(store, page).await,
            Ask::Call(id) => read::call(store, *id).await,
            Ask::Transcript(id) => read::call_transcript(store, *id).await,
            Ask::Daily(days) => read::daily(store, *days, now).await,
            Ask::PeakHours(period, tz) => read::peak_hours(store, *period, *tz, now).await,
            Ask::Outcomes(period, tz) => read::outcome_distribution(store, *period, *tz, now).await,
            Ask::Series(period, interval, tz) => {
                read::timeseries(store, *period, *interval, *tz, now).await
            }
            Ask::Services(period, tz) => read::services(store, *period, *tz, now).await,
            Ask::Appointments(query) => match AppointmentsQuery::parse(Some(query)) {
                Ok(query) => read::appointments(store, &query).await,
                Err(invalid) => Err(invalid.into()),
            },
            Ask::Customers(page) => read::customers(store, page).await,
            Ask::Customer(id) => read::customer(store, *id).await,
            Ask::History(id) => read::customer_history(store, *id).await,
        };
        match result.and_then(|answer| answer.value().map_err(ApiError::Encode)) {
            Ok(body) => Ok((200, body)),
            Err(ApiError::Store(e)) => Err(e),
            Err(ApiError::Encode(e)) => Ok((500, json!({ "detail": e.to_string() }))),
            Err(ApiError::Invalid(e)) => Ok((
                422,
                json!({"detail": [{"loc": [e.location, e.name], "msg": e.message}]}),
            )),
            Err(ApiError::NotFound(what)) => Ok((404, json!({ "detail": what }))),
            Err(ApiError::Conflict(why)) => Ok((409, json!({ "detail": why }))),
            Err(ApiError::BadRequest(why)) => Ok((400, json!({ "detail": why }))),
        }
    }
}

/// The two stores, the `now` they are asked with, and the outcomes so far.
struct Run<'a> {
    stores: [&'a Store; 2],
    now: DateTime<Utc>,
    outcomes: Vec<Outcome>,
}

const SIDES: [&str; 2] = ["source", "target"];

impl Run<'_> {
    /// Asks both stores (concurrently), records the outcome, returns both answers.
    async fn ask(
        &mut self,
        ask: &Ask,
        expect: Option<u16>,
    ) -> Result<[(u16, Json); 2], CompareError> {
        let [source, target] = self.stores;
        let (a, b) = tokio::join!(ask.answer(source, self.now), ask.answer(target, self.now));
        let a = self.side(0, ask, a)?;
        let b = self.side(1, ask, b)?;
        let mut differences = Differences::default();
        if a.0 != b.0 {
            differences.push("(status)".into(), a.0.to_string(), b.0.to_string());
        } else if let Some(want) = expect.filter(|&want| want != a.0) {
            differences.push(
                format!("(status: {want} expected)"),
                a.0.to_string(),
                b.0.to_string(),
            );
        }
        diff(
            &mut "$".to_string(),
            Some(&a.1),
            Some(&b.1),
            &mut differences,
        );
        self.outcomes.push(Outcome {
            kind: ask.kind(),
            request: ask.label(),
            source_status: a.0,
            target_status: b.0,
            identical: differences.total == 0,
            more_differences: differences.total - differences.listed.len(),
            differences: differences.listed,
        });
        Ok([a, b])
    }

    fn side(
        &self,
        i: usize,
        ask: &Ask,
        answer: Result<(u16, Json), StoreError>,
    ) -> Result<(u16, Json), CompareError> {
        answer.map_err(|source| CompareError::Store {
            side: SIDES[i],
            store: self.stores[i].describe().1,
            request: ask.label(),
            source: Box::new(source),
        })
    }

    /// The first page of a list, then the second, the last and one past the last (by
    /// either store's page count).
    async fn pages(&mut self, page: impl Fn(i64) -> Ask) -> Result<(), CompareError> {
        let first = self.ask(&page(1), None).await?;
        let mut pages = vec![2];
        for (_, body) in &first {
            let last = body["total_pages"].as_i64().unwrap_or(1).max(1);
            pages.extend([last, last + 1]);
        }
        pages.sort_unstable();
        pages.dedup();
        for n in pages.into_iter().filter(|&n| n > 1) {
            self.ask(&page(n), None).await?;
        }
        Ok(())
    }

    /// Runs a sampling query on both stores.
    async fn both(
        &self,
        sql: &str,
        params: &[Param],
        kinds: &[Kind],
    ) -> Result<[Vec<Vec<Value<'static>>>; 2], CompareError> {
        let [source, target] = self.stores;
        let (a, b) = tokio::join!(
            source.rows(sql, params, kinds),
            target.rows(sql, params, kinds)
        );
        let fail = |i: usize| {
            let request = format!("sampling: {sql}");
            let store = self.stores[i].describe().1;
            move |source| CompareError::Store {
                side: SIDES[i],
                store,
                request,
                source: Box::new(source),
            }
        };
        Ok([a.map_err(fail(0))?, b.map_err(fail(1))?])
    }
}

/// A list's page as the HTTP route would receive it.
fn list_label(
    path: &str,
    (page, page_size): (i64, i64),
    (sort_by, descending): (&str, bool),
    search: &Option<String>,
) -> String {
    let mut label = format!(
        "GET {path}?page={page}&page_size={page_size}&sort_by={sort_by}&sort_order={}",
        if descending { "desc" } else { "asc" }
    );
    if let Some(search) = search {
        label.push_str(&format!("&search={search}"));
    }
    label
}

/// Differences found so far: the first [`MAX_LISTED`], and how many in all.
#[derive(Default)]
struct Differences {
    listed: Vec<Difference>,
    total: usize,
}

impl Differences {
    fn push(&mut self, path: String, source: String, target: String) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Difference {
                path,
                source,
                target,
            });
        }
    }
}

/// A value as compact JSON, cut to [`MAX_VALUE_CHARS`] characters.
fn show(value: Option<&Json>) -> String {
    let Some(value) = value else {
        return "(absent)".into();
    };
    let text = value.to_string();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Every path under `path` where `a` and `b` differ: objects key by key, arrays index by
/// index (and their lengths), anything else as a whole.
fn diff(path: &mut String, a: Option<&Json>, b: Option<&Json>, out: &mut Differences) {
    if a == b {
        return;
    }
    let len = path.len();
    match (a, b) {
        (Some(Json::Object(x)), Some(Json::Object(y))) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            for key in keys {
                path.push('.');
                path.push_str(key);
                diff(path, x.get(key), y.get(key), out);
                path.truncate(len);
            }
        }
        (Some(Json::Array(x)), Some(Json::Array(y))) => {
            if x.len() != y.len() {
                out.push(
                    format!("{path} (length)"),
                    x.len().to_string(),
                    y.len().to_string(),
                );
            }
            for i in 0..x.len().max(y.len()) {
                path.push_str(&format!("[{i}]"));
                diff(path, x.get(i), y.get(i), out);
                path.truncate(len);
            }
        }
        _ => out.push(path.clone(), show(a), show(b)),
    }
}

/// What the requests are drawn from.
struct Plan {
    searches: Vec<Option<String>>,
    calls: Sample,
    customers: Sample,
    appointments: Vec<String>,
}

/// Ids to ask for, and one that neither store has.
struct Sample {
    ids: Vec<i64>,
    missing: i64,
}

fn ints<'a>(rows: &'a [Vec<Value<'static>>]) -> impl Iterator<Item = i64> + 'a {
    rows.iter().filter_map(|row| match row.first() {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    })
}

fn texts<'a>(rows: &'a [Vec<Value<'static>>]) -> impl Iterator<Item = &'a str> + 'a {
    rows.iter().filter_map(|row| match row.first() {
        Some(Value::Text(t)) => Some(t.as_ref()),
        _ => None,
    })
}

fn push_new(ids: &mut Vec<i64>, more: impl IntoIterator<Item = i64>) {
    for id in more {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
}

impl Plan {
    async fn draw(run: &Run<'_>) -> Result<Plan, CompareError> {
        let recent_calls = run
            .both(
                "SELECT s.id FROM call_sessions s \
                 ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT $1",
                &[Param::Int(RECENT_CALLS)],
                &[Kind::Id],
            )
            .await?;
        let mut calls = Vec::new();
        for rows in &recent_calls {
            push_new(&mut calls, ints(rows));
        }
        let calls = spread(run, "call_sessions", calls).await?;

        let recent_customers = run
            .both(
                "SELECT s.customer_id FROM call_sessions s WHERE s.customer_id IS NOT NULL \
                 ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT $1",
                &[Param::Int(RECENT_CALLS / 2)],
                &[Kind::Id],
            )
            .await?;
        let mut customers = Vec::new();
        for rows in &recent_customers {
            push_new(&mut customers, ints(rows));
        }
        let customers = spread(run, "customers", customers).await?;

        Ok(Plan {
            searches: searches(run).await?,
            calls,
            customers,
            appointments: appointment_queries(run).await?,
        })
    }
}

/// `ids`, plus the first and last ids of `table` and [`SPREAD`] evenly spaced between
/// them, on either store; and an id past the last of both.
async fn spread(run: &Run<'_>, table: &str, mut ids: Vec<i64>) -> Result<Sample, CompareError> {
    let bounds = run
        .both(
            &format!("SELECT min(t.id), max(t.id), count(*) FROM {table} t"),
            &[],
            &[Kind::Id, Kind::Id, Kind::Int],
        )
        .await?;
    let mut missing = 1;
    for (i, rows) in bounds.iter().enumerate() {
        let Some([first, last, count]) = rows.first().map(|r| [&r[0], &r[1], &r[2]]) else {
            continue;
        };
        let (Value::Int(first), Value::Int(last), Value::Int(count)) = (first, last, count) else {
            continue;
        };
        push_new(&mut ids, [*first, *last]);
        missing = missing.max(last.saturating_add(1));
        for k in 1..=SPREAD {
            let offset = count * k / (SPREAD + 1);
            let sql = format!("SELECT t.id FROM {table} t ORDER BY t.id LIMIT 1 OFFSET $1");
            let rows = run.stores[i]
                .rows(&sql, &[Param::Int(offset)], &[Kind::Id])
                .await
                .map_err(|source| CompareError::Store {
                    side: SIDES[i],
                    store: run.stores[i].describe().1,
                    request: format!("sampling: {sql}"),
                    source: Box::new(source),
                })?;
            push_new(&mut ids, ints(&rows));
        }
    }
    Ok(Sample { ids, missing })
}

/// The searches of the call list: none; the last four digits of a recent caller's
/// phone; a fragment of a customer's name in lower and in upper case; the upper-cased
/// word of a name holding a letter outside ASCII (`É` if none does); `%_`, which
/// matches only itself.
async fn searches(run: &Run<'_>) -> Result<Vec<Option<String>>, CompareError> {
    let sessions = CALL_SESSIONS;
    let phones = run
        .both(
            "SELECT s.phone_number FROM call_sessions s WHERE s.phone_number IS NOT NULL \
             ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT 50",
            &[],
            &kinds(sessions, &["phone_number"]),
        )
        .await?;
    let customers = CUSTOMERS;
    let names = run
        .both(
            "SELECT c.name FROM customers c WHERE c.id IN \
             (SELECT s.customer_id FROM call_sessions s) ORDER BY c.id LIMIT 1000",
            &[],
            &kinds(customers, &["name"]),
        )
        .await?;
    let mut searches = vec![None];
    let digits = phones
        .iter()
        .flat_map(|rows| texts(rows))
        .find_map(|phone| {
            let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
            (digits.len() >= 4).then(|| digits[digits.len() - 4..].iter().collect::<String>())
        });
    searches.extend(digits.map(Some));
    let words: Vec<&str> = names
        .iter()
        .flat_map(|rows| texts(rows))
        .flat_map(str::split_whitespace)
        .collect();
    let ascii = words.iter().find_map(|word| {
        let letters: Vec<char> = word.chars().take_while(char::is_ascii_alphabetic).collect();
        (letters.len() >= 4).then(|| letters[1..4].iter().collect::<String>())
    });
    if let Some(fragment) = ascii {
        searches.push(Some(fragment.to_lowercase()));
        searches.push(Some(fragment.to_uppercase()));
    }
    let non_ascii = words
        .iter()
        .find(|word| word.chars().any(|c| !c.is_ascii() && c.is_alphabetic()))
        .map_or_else(|| "É".to_string(), |word| word.to_uppercase());
    searches.push(Some(non_ascii));
    searches.push(Some("%_".into()));
    Ok(searches)
}

/// The appointment queries: unfiltered; each status either store holds; the middle
/// half of the appointments by date, as date-times and as dates.
async fn appointment_queries(run: &Run<'_>) -> Result<Vec<String>, CompareError> {
    let appointments = APPOINTMENTS;
    let encode = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let mut queries = vec![String::new()];
    let statuses = run
        .both(
            "SELECT DISTINCT a.status FROM appointments a WHERE a.status IS NOT NULL",
            &[],
            &kinds(appointments, &["status"]),
        )
        .await?;
    let mut all: Vec<String> = statuses
        .iter()
        .flat_map(|rows| texts(rows))
        .map(str::to_string)
        .collect();
    all.sort();
    all.dedup();
    queries.extend(all.iter().map(|status| encode(&[("status", status)])));

    let count = run
        .both("SELECT count(*) FROM appointments a", &[], &[Kind::Int])
        .await?;
    let count = count.iter().flat_map(|rows| ints(rows)).max().unwrap_or(0);
    if count > 0 {
        let mut at = Vec::new();
        for offset in [count / 4, count * 3 / 4] {
            let rows = run
                .both(
                    "SELECT a.appointment_datetime FROM appointments a \
                     WHERE a.appointment_datetime IS NOT NULL \
                     ORDER BY a.appointment_datetime, a.id LIMIT 1 OFFSET $1",
                    &[Param::Int(offset)],
                    &kinds(appointments, &["appointment_datetime"]),
                )
                .await?;
            if let Some(Value::Timestamp(t)) = rows[0].first().and_then(|r| r.first()) {
                at.push(format_micros(*t));
            }
        }
        if let [start, end] = &at[..] {
            let date = |t: &str| t.get(..10).unwrap_or(t).to_string();
            queries.push(encode(&[("start_date", start), ("end_date", end)]));
            queries.push(encode(&[
                ("start_date", &date(start)),
                ("end_date", &date(end)),
            ]));
        }
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn diffs(a: Json, b: Json) -> Differences {
        let mut out = Differences::default();
        diff(&mut "$".to_string(), Some(&a), Some(&b), &mut out);
        out
    }

    #[test]
    fn differences_are_named_by_path_with_both_values() {
        let a = json!({"calls": [{"id": 1, "outcome": "booked"}, {"id": 2}], "total": 2});
        let b = json!({"calls": [{"id": 1, "outcome": "info_only"}], "total": 2.0});
        let out = diffs(a, b);
        let got: Vec<(&str, &str, &str)> = out
            .listed
            .iter()
            .map(|d| (d.path.as_str(), d.source.as_str(), d.target.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("$.calls (length)", "2", "1"),
                ("$.calls[0].outcome", "\"booked\"", "\"info_only\""),
                ("$.calls[1]", "{\"id\":2}", "(absent)"),
                ("$.total", "2", "2.0"),
            ]
        );
        assert_eq!(
            diffs(
                json!({"a": [1, {"b": null}]}),
                json!({"a": [1, {"b": null}]})
            )
            .total,
            0
        );
    }

    #[test]
    fn long_values_are_cut_and_long_lists_counted() {
        let long = "é".repeat(500);
        let out = diffs(json!(long), json!("x"));
        assert_eq!(out.listed[0].source.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(out.listed[0].source.ends_with('…'));
        let out = diffs(json!((0..100).collect::<Vec<_>>()), json!([]));
        assert_eq!(out.total, 101);
        assert_eq!(out.listed.len(), MAX_LISTED);
    }

    fn seeded(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        ava_seed::seed(
            &path,
            &ava_seed::SeedOptions {
                calls: 200,
                seed: 3,
                end: Utc::now().date_naive(),
            },
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn a_store_answers_like_a_copy_of_itself_and_a_change_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = seeded(dir.path(), "a.db");
        let b = seeded(dir.path(), "b.db");
        let now = Utc::now();
        let open = |p: &std::path::Path| Store::Sqlite(SqliteStore::open(p, 2).unwrap());
        let report = compare(&open(&a), &open(&b), now).await.unwrap();
        assert!(report.identical(), "{:#?}", report.differing().next());
        for kind in &report.kinds {
            assert!(kind.requests > 0, "no {} requests", kind.kind);
        }
        let calls = &report.kinds[1];
        assert!(calls.requests >= 6 * 3 * 2 * 2, "{calls:?}");
        let missing: Vec<&Outcome> = report
            .requests
            .iter()
            .filter(|o| o.source_status == 404)
            .collect();
        assert_eq!(missing.len(), 4, "{missing:#?}");
        // Some searches hit: the fragments are drawn from the data.
        let searched = report
            .requests
            .iter()
            .filter(|o| o.request.contains("&search=") && o.request.contains("page=1&"))
            .count();
        // Five searches, each in three orders and two directions, of calls and customers.
        assert_eq!(searched, 5 * 3 * 2 * 2);

        let conn = rusqlite::Connection::open(&b).unwrap();
        conn.execute(
            "UPDATE call_sessions SET outcome = 'changed' WHERE id = (SELECT max(id) FROM call_sessions)",
            [],
        )
        .unwrap();
        drop(conn);
        let report = compare(&open(&a), &open(&b), now).await.unwrap();
        assert!(!report.identical());
        let detail = report
            .differing()
            .find(|o| o.kind == "call")
            .expect("the call's detail differs");
        assert_eq!(detail.differences[0].path, "$.call.outcome");
        assert_eq!(detail.differences[0].target, "\"changed\"");
    }
}
