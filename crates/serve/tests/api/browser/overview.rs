//! The overview (`#/`): its cards against `GET /api/admin/metrics/overview` for each
//! period, its recent calls, at phone width, on the SQLite store, at 100,000 calls, and
//! when the API cannot be reached.

use std::net::SocketAddr;
use std::time::Duration;

use ava_serve::{AppState, Tokens};
use serde_json::Value;

use super::*;

#[tokio::test]
async fn overview_shows_the_apis_numbers_for_each_period() {
    // 2,500 calls spread over 10 days: today, the week and the month all differ.
    let (_stores, server, browser) = open(2_500, 41, Stores::pg_store).await;
    let periods = ["today", "week", "month"];
    let mut expected = Vec::new();
    for period in periods {
        expected.push(overview(&server, period).await);
    }
    let totals: Vec<&Value> = expected.iter().map(|e| &e["total_calls"]).collect();
    assert!(
        totals[0] != totals[1] && totals[1] != totals[2],
        "the seed should give three different periods: {totals:?}"
    );

    browser.goto(&format!("{}/", server.base)).await;
    // Default: today.
    wait_cards(&browser, "today", &expected[0]).await;
    browser.wait_present("main#main[aria-busy=\"false\"]").await;
    for link in [
        "#/",
        "#/trends",
        "#/calls",
        "#/analytics",
        "#/customers",
        "#/appointments",
    ] {
        browser
            .wait_present(&format!("nav#nav a[href=\"{link}\"]"))
            .await;
    }
    browser
        .wait_present("nav#nav a[href=\"#/\"][aria-current=\"page\"]")
        .await;
    let zone = browser.texts("#timezone").await;
    assert!(
        zone.len() == 1 && !zone[0].trim().is_empty(),
        "#timezone: {zone:?}"
    );

    for (period, expected) in [
        ("week", &expected[1]),
        ("month", &expected[2]),
        ("today", &expected[0]),
    ] {
        browser
            .click(&format!("button[data-period=\"{period}\"]"))
            .await;
        wait_cards(&browser, period, expected).await;
        let pressed = browser.attrs("button[data-period]", "aria-pressed").await;
        let active: Vec<_> = pressed
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.as_str() == Some("true"))
            .collect();
        assert_eq!(active.len(), 1, "one period pressed: {pressed}");
    }

    // The recent calls: the API's ten most recent, in its order, each linking to its call.
    let recent = api(&server, "/api/admin/calls", &[("page_size", "10")]).await;
    let recent_ids = ids(&recent, "calls");
    browser
        .wait_attrs(
            "the recent calls",
            "table#recent-calls tbody tr[data-call-id]",
            "data-call-id",
            &recent_ids,
        )
        .await;
    for id in recent_ids.as_array().unwrap() {
        let id = id.as_str().unwrap();
        browser
            .wait_present(&format!(
                "table#recent-calls tr[data-call-id=\"{id}\"] a[href=\"#/calls/{id}\"]"
            ))
            .await;
    }
}

/// A server that can be stopped for good (its keep-alive connections closed too), and
/// started again on the same address.
struct Stoppable {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stoppable {
    async fn start(state: AppState, addr: SocketAddr) -> Stoppable {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ava_serve::run(listener, state, async {
            let _ = stopped.await;
        }));
        Stoppable {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = &mut self.task;
        if tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn unreachable_api_shows_an_error_and_retries() {
    let stores = Stores::seeded(300, 45).await;
    let state = AppState::new(stores.pg_store(), Tokens::open());
    let server = Stoppable::start(state.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let base = format!("http://{addr}");
    let reference = Server::start(stores.pg_store(), Tokens::open()).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    wait_cards(&browser, "today", &overview(&reference, "today").await).await;

    server.stop().await;
    browser.click("button[data-period=\"week\"]").await;
    browser
        .wait_text("#api-error", "saying cannot reach", |t| {
            t.to_lowercase().contains("cannot reach")
        })
        .await;
    browser.wait_visible("#api-error button#retry").await;

    // Back on the same address: retry loads the page again.
    let _server = Stoppable::start(state, addr).await;
    browser.click("button#retry").await;
    wait_cards(&browser, "week", &overview(&reference, "week").await).await;
    browser.wait_hidden("#api-error").await;
}

#[tokio::test]
async fn phone_width_overview_fits() {
    let (_stores, server, browser) = open(300, 48, Stores::pg_store).await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto(&format!("{}/", server.base)).await;
    wait_cards(&browser, "today", &overview(&server, "today").await).await;
    for metric in METRICS {
        browser
            .wait_visible(&format!("[data-metric=\"{metric}\"]"))
            .await;
    }
    browser.assert_fits_phone("the overview").await;
}

#[tokio::test]
async fn sqlite_store_serves_the_same_dashboard() {
    let (_stores, server, browser) = open(300, 49, Stores::sqlite_store).await;
    browser.goto(&format!("{}/", server.base)).await;
    wait_cards(&browser, "today", &overview(&server, "today").await).await;
    browser.click("button[data-period=\"week\"]").await;
    wait_cards(&browser, "week", &overview(&server, "week").await).await;
    let page = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    browser.click("nav#nav a[href=\"#/calls\"]").await;
    wait_log(&browser, "the log on SQLite", &page).await;
}

/// First paint of `/` with 100,000 calls in Postgres (run with `--ignored`).
#[tokio::test]
#[ignore = "seeds 100,000 calls (about a minute)"]
async fn first_paint_at_100k_calls() {
    let (_stores, server, browser) = open(100_000, 51, Stores::pg_store).await;
    browser.goto(&format!("{}/", server.base)).await;
    let paint = browser
        .wait_js(
            "first-contentful-paint",
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return p ? p.startTime : null;",
            vec![],
            |v| v.is_number(),
        )
        .await
        .as_f64()
        .unwrap();
    let cards = overview(&server, "today").await;
    wait_cards(&browser, "today", &cards).await;
    let shown = browser.js("return performance.now();", vec![]).await;
    println!(
        "first contentful paint of / at 100,000 calls: {paint:.0} ms \
         (the cards showed the API's numbers by {:.0} ms, polled)",
        shown.as_f64().unwrap()
    );
    assert!(paint < 1000.0, "first contentful paint took {paint} ms");
}
