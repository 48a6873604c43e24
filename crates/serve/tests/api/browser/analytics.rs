//! The analytics page `#/analytics`: every heatmap cell, outcome, service and time
//! bucket it shows is the API's answer for the same period, interval and time zone.

use serde_json::{json, Value};

use super::*;

/// The page's state and everything it shows: which period, zone and interval each
/// section was drawn for, every heatmap cell `[day, hour, value]` (and its text), the
/// outcomes `[outcome, count]` in order, the services and the time series rows.
const SHOWN: &str = r#"
    const num = (t) => (t === null || t === 'null' ? null : Number(t));
    const box = (id) => { const e = document.getElementById(id); return e ? {...e.dataset} : null; };
    const cells = [...document.querySelectorAll('#peak-hours td[data-day]')];
    return {
        state: {peak: box('peak-box'), outcomes: box('outcomes-box'), services: box('services-box'),
                series: box('timeseries-box')},
        peak: cells.map(td => [num(td.dataset.day), num(td.dataset.hour), num(td.dataset.value)]),
        texts: cells.map(td => [td.dataset.value, td.textContent.trim()]),
        outcomes: [...document.querySelectorAll('#outcomes tr[data-outcome]')]
            .map(tr => [tr.dataset.outcome, num(tr.dataset.value)]),
        services: [...document.querySelectorAll('#services tr[data-service]')].map(tr => ({
            service_type: tr.dataset.service,
            appointments: num(tr.querySelector('td.appointments').dataset.value),
            by_status: Object.fromEntries([...tr.querySelectorAll('td[data-status]')]
                .map(td => [td.dataset.status, num(td.dataset.value)])),
            booked_by_ai: num(tr.querySelector('td.booked-by-ai').dataset.value),
            ai_booked_rate: num(tr.querySelector('td.ai-rate').dataset.value),
        })),
        series: [...document.querySelectorAll('#timeseries-table tr[data-bucket]')].map(tr => [
            tr.dataset.bucket,
            num(tr.querySelector('td.calls').dataset.value),
            num(tr.querySelector('td.booked').dataset.value),
            num(tr.querySelector('td.satisfaction').dataset.value),
        ]),
        marks: [...document.querySelectorAll('svg#chart-timeseries .mark[data-series="calls"]')]
            .map(m => [m.getAttribute('data-bucket'), num(m.getAttribute('data-value'))]),
    };"#;

/// Every number as a float: JSON's `50.0` and JavaScript's `50` are one value.
fn floats(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.into_iter().map(floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        other => other,
    }
}

/// What the page should show, from the API: the same shape as [`SHOWN`] (without its
/// state and texts).
async fn expected(server: &Server, period: &str, tz: &str, interval: &str) -> Value {
    // Peak hours are counted over a week or a month: "today" shows the week.
    let peak_period = if period == "today" { "week" } else { period };
    let peak = api(
        server,
        "/api/admin/analytics/peak-hours",
        &[("period", peak_period), ("tz", tz)],
    )
    .await;
    let mut grid = [[0i64; 24]; 7];
    for cell in peak.as_array().unwrap() {
        let (day, hour) = (
            cell["day"].as_u64().unwrap(),
            cell["hour"].as_u64().unwrap(),
        );
        grid[day as usize][hour as usize] = cell["value"].as_i64().unwrap();
    }
    let peak: Vec<Value> = (0..7)
        .flat_map(|d| (0..24).map(move |h| (d, h)))
        .map(|(d, h)| json!([d, h, grid[d][h]]))
        .collect();
    let window = [("period", period), ("tz", tz)];
    let outcomes = api(server, "/api/admin/analytics/outcome-distribution", &window).await;
    assert_eq!(outcomes["period"], period);
    let outcomes: Vec<Value> = outcomes["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| json!([o["outcome"], o["count"]]))
        .collect();
    let services = api(server, "/api/admin/analytics/services", &window).await;
    let services = services["services"].as_array().unwrap().clone();
    // The page has a cell for every status any service has (0 where it has none).
    let statuses: std::collections::BTreeSet<String> = services
        .iter()
        .flat_map(|s| s["by_status"].as_object().unwrap().keys().cloned())
        .collect();
    let services: Vec<Value> = services
        .into_iter()
        .map(|mut s| {
            for status in &statuses {
                if s["by_status"].get(status).is_none() {
                    s["by_status"][status] = json!(0);
                }
            }
            s
        })
        .collect();
    let series = api(
        server,
        "/api/admin/analytics/timeseries",
        &[("period", period), ("interval", interval), ("tz", tz)],
    )
    .await;
    let rows: Vec<Value> = series
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["timestamp"],
                r["total_calls"],
                r["appointments_booked"],
                r["avg_satisfaction_score"]
            ])
        })
        .collect();
    let marks: Vec<Value> = rows.iter().map(|r| json!([r[0], r[1]])).collect();
    floats(json!({
        "peak": peak,
        "outcomes": outcomes,
        "services": services,
        "series": rows,
        "marks": marks,
    }))
}

/// Waits until every section of the page was drawn for `period`, `tz` and `interval`,
/// then asserts it shows the API's answer: `before` (asked before the page was told to
/// show it) or the API's answer now (a seeded call may have started in between).
async fn assert_shows(
    browser: &Browser,
    server: &Server,
    (period, tz, interval): (&str, &str, &str),
    before: &Value,
) {
    let peak_period = if period == "today" { "week" } else { period };
    let state = json!({
        "peak": {"period": peak_period, "tz": tz},
        "outcomes": {"period": period, "tz": tz},
        "services": {"period": period, "tz": tz},
        "series": {"period": period, "tz": tz, "interval": interval},
    });
    browser
        .wait_js(
            &format!("the analytics drawn for {period} {interval} in {tz}"),
            SHOWN,
            vec![],
            |v| v["state"] == state,
        )
        .await;
    let after = expected(server, period, tz, interval).await;
    let mut shown = browser.js(SHOWN, vec![]).await;
    let texts = shown["texts"].take();
    for pair in texts.as_array().unwrap() {
        let (value, text) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(text, value, "a heatmap cell's text is its count");
    }
    let shown = floats(json!({
        "peak": shown["peak"],
        "outcomes": shown["outcomes"],
        "services": shown["services"],
        "series": shown["series"],
        "marks": shown["marks"],
    }));
    assert_eq!(shown["peak"].as_array().unwrap().len(), 7 * 24);
    if shown != *before && shown != after {
        for key in ["peak", "outcomes", "services", "series", "marks"] {
            assert_eq!(
                shown[key], after[key],
                "{period} {interval} {tz}: the page's {key} differ from the API's"
            );
        }
    }
}

/// Asks the API for `view`, clicks `css`, then asserts the page shows the view.
async fn click_shows(
    browser: &Browser,
    server: &Server,
    css: &str,
    (period, tz, interval): (&str, &str, &str),
) {
    let before = expected(server, period, tz, interval).await;
    browser.click(css).await;
    assert_shows(browser, server, (period, tz, interval), &before).await;
}

#[tokio::test]
async fn analytics_page_shows_the_apis_answers_in_the_chosen_zone() {
    // 2,500 calls over 10 days: the week and the month differ, every day has calls.
    let (_stores, server, browser) = open(2_500, 52, Stores::pg_store).await;
    // The browser's own zone: Los Angeles, whatever the machine's is.
    const HOME: &str = "America/Los_Angeles";
    browser.goto(&format!("{}/health", server.base)).await;
    browser.cdp("Emulation.setTimezoneOverride", json!({"timezoneId": HOME}));

    let before = expected(&server, "week", HOME, "day").await;
    browser.goto(&format!("{}/#/analytics", server.base)).await;
    let zone = browser
        .js(
            "return Intl.DateTimeFormat().resolvedOptions().timeZone;",
            vec![],
        )
        .await;
    assert_eq!(zone, json!(HOME), "the browser's zone");
    browser
        .wait_present("nav#nav a[href=\"#/analytics\"][aria-current=\"page\"]")
        .await;
    for heading in ["Peak hours", "Outcomes", "Services", "Calls over time"] {
        browser.wait_heading(heading).await;
    }
    browser.wait_present("label[for=\"tz\"]").await;
    // The zone picker: the browser's zone first, then UTC, then the rest.
    let options = browser.attrs("select#tz option", "value").await;
    let options = options.as_array().unwrap();
    assert_eq!(options[0], json!(HOME), "the first zone is the browser's");
    assert_eq!(options[1], json!("UTC"));
    assert!(options.len() > 100, "every zone: {}", options.len());
    // India's half-hour offset, by the name this browser lists it under (Chromium keeps
    // CLDR's `Asia/Calcutta`; the API knows both).
    let away = ["Asia/Kolkata", "Asia/Calcutta"]
        .into_iter()
        .find(|z| options.contains(&json!(z)))
        .unwrap_or_else(|| panic!("India's zone is not offered: {options:?}"));
    assert_ne!(
        before["peak"],
        expected(&server, "week", away, "day").await["peak"],
        "the zones should count different peak hours"
    );
    assert_shows(&browser, &server, ("week", HOME, "day"), &before).await;
    browser
        .wait_present("button[data-period=\"week\"][aria-pressed=\"true\"]")
        .await;

    // Another zone: the API's answer for it, and the zone in the hash.
    let before = expected(&server, "week", away, "day").await;
    browser.select("select#tz", away).await;
    assert_shows(&browser, &server, ("week", away, "day"), &before).await;
    let hash = browser.hash().await;
    assert!(hash.contains(&format!("tz={away}")), "{hash}");

    // The month, then per hour.
    let month = "button[data-period=\"month\"]";
    click_shows(&browser, &server, month, ("month", away, "day")).await;
    let hour = "button[data-interval=\"hour\"]";
    click_shows(&browser, &server, hour, ("month", away, "hour")).await;
    let hash = browser.hash().await;
    assert!(
        hash.contains("period=month") && hash.contains("interval=hour"),
        "{hash}"
    );

    // Today: per hour by default; the heatmap shows the week and says so.
    let today = "button[data-period=\"today\"]";
    click_shows(&browser, &server, today, ("today", away, "hour")).await;
    browser
        .wait_text("#peak-note", "saying the week is shown", |t| {
            t.contains("7 days")
        })
        .await;
    let day = "button[data-interval=\"day\"]";
    click_shows(&browser, &server, day, ("today", away, "day")).await;

    // A link: the state comes from the hash alone.
    let before = expected(&server, "month", "UTC", "day").await;
    browser
        .goto(&format!("{}/#/analytics?period=month&tz=UTC", server.base))
        .await;
    assert_shows(&browser, &server, ("month", "UTC", "day"), &before).await;
    browser
        .wait_value("the zone picker on UTC", "select#tz", "UTC")
        .await;
    let note = browser
        .js(
            "return document.querySelector('#peak-note').checkVisibility();",
            vec![],
        )
        .await;
    assert_eq!(note, json!(false), "no note for a month");

    // An unknown zone: the API's 422, said on the page.
    let refused = server
        .get("/api/admin/analytics/peak-hours?period=week&tz=Mars/Olympus")
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let detail = match &refused.body["detail"] {
        Value::String(s) => s.clone(),
        Value::Array(errors) => errors[0]["msg"].as_str().unwrap().to_string(),
        other => panic!("detail {other}"),
    };
    browser
        .goto(&format!("{}/#/analytics?tz=Mars/Olympus", server.base))
        .await;
    browser
        .wait_text("#problem", "with the API's detail", |t| t.contains(&detail))
        .await;
}

#[tokio::test]
async fn analytics_page_on_the_sqlite_store() {
    let (_stores, server, browser) = open(400, 53, Stores::sqlite_store).await;
    let before = expected(&server, "month", "Pacific/Chatham", "day").await;
    browser
        .goto(&format!(
            "{}/#/analytics?period=month&tz=Pacific/Chatham",
            server.base
        ))
        .await;
    assert_shows(
        &browser,
        &server,
        ("month", "Pacific/Chatham", "day"),
        &before,
    )
    .await;
}

#[tokio::test]
async fn phone_width_analytics_and_customers_fit() {
    let (_stores, server, browser) = open(300, 57, Stores::pg_store).await;
    browser.client.set_window_size(390, 844).await.unwrap();
    for (hash, ready) in [
        (
            "#/analytics?period=month&tz=UTC",
            "#peak-box[data-tz=\"UTC\"] #peak-hours td[data-value]",
        ),
        (
            "#/customers",
            "table#customers-table tbody tr[data-customer-id]",
        ),
    ] {
        browser.goto(&format!("{}/{hash}", server.base)).await;
        browser.wait_present(ready).await;
        browser.wait_present("main#main[aria-busy=\"false\"]").await;
        browser.assert_fits_phone(hash).await;
    }
}
