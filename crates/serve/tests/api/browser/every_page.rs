//! Every page rendered; with `AVA_SCREENSHOTS_DIR` set, a PNG of each saved there (the
//! README's `cargo test … browser::every_page`).

use serde_json::json;

use super::*;

/// Visits every page; with `AVA_SCREENSHOTS_DIR` set, saves a PNG of each there.
#[tokio::test]
async fn every_page_renders_and_screenshots() {
    // 7,500 calls: 30 days, so the trends fill their default range.
    let (stores, server, browser) = open(7_500, 50, Stores::pg_store).await;
    let call = full_call(&stores, "desc").await;
    let customer = pg_id(
        &stores,
        "select s.customer_id from call_sessions s where s.customer_id is not null \
         group by s.customer_id order by count(*) desc, s.customer_id limit 1",
    )
    .await;
    let daily = api(&server, "/api/admin/analytics/daily", &[("days", "30")]).await;
    let days: Vec<String> = daily["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap()[..10].to_string())
        .collect();
    assert!(days.len() >= 28, "{daily}");
    let base = &server.base;
    let trends: &[&str] = &[
        "button[data-days=\"30\"][aria-pressed=\"true\"]",
        "svg#chart-volume title",
        "svg#chart-rates title",
        "table.sr-only",
    ];
    for (path, ready, name) in [
        (
            "#/".to_string(),
            &[
                "[data-metric=\"total_calls\"][data-value]",
                "table#recent-calls tbody tr",
            ][..],
            "overview.png",
        ),
        ("#/trends".to_string(), trends, "trends.png"),
        ("#/calls".to_string(), &[ROW_IDS][..], "calls.png"),
        (
            format!("#/calls/{call}"),
            &["ol#transcript li.turn", "ol#events li.event"][..],
            "call.png",
        ),
        (
            format!("#/customers/{customer}"),
            &["section#customer-page", "table#customer-calls tbody tr"][..],
            "customer.png",
        ),
        (
            "#/appointments".to_string(),
            &["table#appointments-table tbody tr[data-appointment-id]"][..],
            "appointments.png",
        ),
        (
            "#/analytics?period=week&tz=America/Los_Angeles".to_string(),
            &[
                "#peak-box[data-tz=\"America/Los_Angeles\"] #peak-hours td[data-value]",
                "#outcomes tr[data-outcome]",
                "#services tr[data-service]",
                "svg#chart-timeseries .mark",
            ][..],
            "analytics.png",
        ),
        (
            "#/customers".to_string(),
            &["table#customers-table tbody tr[data-customer-id]"][..],
            "customers.png",
        ),
    ] {
        // The analytics in one picture: the heatmap, the chart and the outcomes.
        let tall = name == "analytics.png";
        if tall {
            browser.client.set_window_size(1280, 1640).await.unwrap();
        }
        browser.goto(&format!("{base}/{path}")).await;
        for css in ready {
            browser.wait_present(css).await;
        }
        browser.wait_present("main#main[aria-busy=\"false\"]").await;
        if path == "#/trends" {
            // Every day of the API's series has its marks in both charts.
            for chart in ["svg#chart-volume", "svg#chart-rates"] {
                browser
                    .wait_js(
                        &format!("{chart}: a mark for each of the API's days"),
                        ATTRS,
                        vec![json!(format!("{chart} [data-date]")), json!("data-date")],
                        |marks| {
                            let marks = marks.as_array().cloned().unwrap_or_default();
                            days.iter().all(|d| marks.contains(&json!(d)))
                        },
                    )
                    .await;
            }
        }
        browser.screenshot(name).await;
        if tall {
            browser.client.set_window_size(1280, 900).await.unwrap();
        }
    }
}
