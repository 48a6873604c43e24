//! The asking: one request to a read route ([`Ask`]), its label as the HTTP route would
//! receive it, and its answer as the route would send it (status and JSON body); a
//! [`Run`] asks both stores each request concurrently and records how the answers
//! compare.

use ava_catalog::Kind;
use ava_convert::Value;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value as Json};

use super::diff::{diff, Differences};
use super::{CompareError, Outcome};
use crate::read::{self, AppointmentsQuery, CallsPage, CustomersPage, Days, Interval, Period};
use crate::request::Params;
use crate::store::{Param, Store, StoreError};
use crate::ApiError;

/// One request to a read route.
#[derive(Debug, Clone)]
pub(super) enum Ask {
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
pub(super) struct Run<'a> {
    pub(super) stores: [&'a Store; 2],
    pub(super) now: DateTime<Utc>,
    pub(super) outcomes: Vec<Outcome>,
}

pub(super) const SIDES: [&str; 2] = ["source", "target"];

impl Run<'_> {
    /// Asks both stores (concurrently), records the outcome, returns both answers.
    pub(super) async fn ask(
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

    /// [`Self::pages`] of a list for every search, order (of `orders`) and direction:
    /// `page(search, order, descending, page)` is the request.
    pub(super) async fn every_page<S: Copy>(
        &mut self,
        searches: &[Option<String>],
        orders: &[S],
        page: impl Fn(&Option<String>, S, bool, i64) -> Ask,
    ) -> Result<(), CompareError> {
        for search in searches {
            for &order in orders {
                for descending in [true, false] {
                    self.pages(|n| page(search, order, descending, n)).await?;
                }
            }
        }
        Ok(())
    }

    /// The first page of a list, then the second, the last and one past the last (by
    /// either store's page count).
    pub(super) async fn pages(&mut self, page: impl Fn(i64) -> Ask) -> Result<(), CompareError> {
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
    pub(super) async fn both(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_labelled_as_the_route_receives_it() {
        assert_eq!(
            list_label("/api/admin/calls", (2, 50), ("started_at", true), &None),
            "GET /api/admin/calls?page=2&page_size=50&sort_by=started_at&sort_order=desc"
        );
        assert_eq!(
            list_label(
                "/api/admin/customers",
                (1, 10),
                ("name", false),
                &Some("%_".into())
            ),
            "GET /api/admin/customers?page=1&page_size=10&sort_by=name&sort_order=asc&search=%_"
        );
    }
}
