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
//!
//! - `plan`: the requests drawn from the data;
//! - `ask`: asking both stores a request, as the HTTP route would answer;
//! - `diff`: the JSON paths where two answers differ;
//! - `report`: what the comparison found.

mod ask;
mod diff;
mod plan;
mod report;

use ava_convert::datetime::format_micros;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use report::{Difference, KindCount, Outcome, Report};

use crate::read::{CallsPage, CustomerSort, CustomersPage, Days, Interval, Period, SORT_COLUMNS};
use crate::store::{Store, StoreError};
use ask::{Ask, Run};
use plan::Plan;

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
    run.every_page(
        &plan.searches,
        &SORT_COLUMNS,
        |search, sort_by, descending, page| {
            Ask::Calls(CallsPage {
                page,
                page_size: PAGE_SIZE,
                search: search.clone(),
                sort_by,
                descending,
            })
        },
    )
    .await?;
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
    run.every_page(
        &plan.searches,
        &CustomerSort::ALL,
        |search, sort_by, descending, page| {
            Ask::Customers(CustomersPage {
                page,
                page_size: PAGE_SIZE,
                search: search.clone(),
                sort_by,
                descending,
            })
        },
    )
    .await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

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
