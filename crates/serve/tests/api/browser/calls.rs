//! The call log (`#/calls`): search, pages, sorting and the CSV download against
//! `GET /api/admin/calls`, and its live refresh as calls are written.

use serde_json::json;

use super::*;

#[tokio::test]
async fn call_log_searches_pages_and_sorts_like_the_api() {
    let (stores, server, browser) = open(300, 42, Stores::pg_store).await;
    let size = PAGE_SIZE.to_string();
    let all = api(&server, "/api/admin/calls", &[("page_size", &size)]).await;
    let total = all["total"].as_i64().unwrap();

    browser.goto(&format!("{}/#/calls", server.base)).await;
    wait_log(&browser, "the first page", &all).await;
    browser.wait_present("label[for=\"search\"]").await;

    // Each row's score: the API's exactly in `data-value`, shown to two decimals at most.
    let scores = browser
        .js(
            "return [...document.querySelectorAll(arguments[0])] \
             .map(td => [td.getAttribute('data-value'), td.textContent]);",
            vec![json!(format!("{ROW_IDS} td.score"))],
        )
        .await;
    let scores = scores.as_array().unwrap();
    let calls = all["calls"].as_array().unwrap();
    assert_eq!(scores.len(), calls.len());
    for (shown, call) in scores.iter().zip(calls) {
        let (value, text) = (shown[0].as_str().unwrap(), shown[1].as_str().unwrap());
        match call["satisfaction_score"].as_f64() {
            None => assert_eq!((value, text), ("null", "—"), "{call}"),
            Some(score) => {
                assert_eq!(value.parse::<f64>().unwrap(), score, "{call}");
                let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 2, "{text:?} for {score}");
                let rounded: f64 = text.replace(',', "").parse().unwrap();
                assert!(
                    (rounded - score).abs() <= 0.005 + 1e-9,
                    "{text:?} for {score}"
                );
            }
        }
    }

    // Search by a phone fragment: the total drops to the API's; every phone has it.
    let phone = pg_texts(
        &stores,
        "select phone_number from call_sessions where phone_number is not null \
         and length(phone_number) >= 4 order by id limit 1",
    )
    .await
    .remove(0);
    let fragment = &phone[phone.len() - 4..];
    let found = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("search", fragment)],
    )
    .await;
    let found_total = found["total"].as_i64().unwrap();
    assert!(
        0 < found_total && found_total < total,
        "{fragment}: {found_total} of {total}"
    );
    browser.type_enter("input#search", fragment).await;
    wait_log(&browser, &format!("search {fragment:?}"), &found).await;
    for text in browser.texts(&format!("{ROW_IDS} td.phone")).await {
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        assert!(
            text.contains(fragment) || digits.contains(fragment),
            "a row's phone {text:?} lacks {fragment:?}"
        );
    }
    assert!(
        browser.hash().await.contains(&format!("search={fragment}")),
        "the search lives in the hash"
    );

    // Search by a customer-name fragment in upper case: the same total as the API's,
    // and each row's customer named as the API names it.
    let names = pg_texts(
        &stores,
        "select c.name from customers c where exists \
         (select 1 from call_sessions s where s.customer_id = c.id) order by c.id",
    )
    .await;
    let upper = inner_capitals(&names);
    let named = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("search", &upper)],
    )
    .await;
    let named_total = named["total"].as_i64().unwrap();
    assert!(named_total > 0, "{upper}: no calls");
    browser.type_enter("input#search", &upper).await;
    wait_total(&browser, &format!("search {upper:?}"), "calls", named_total).await;
    let shown = browser.texts(&format!("{ROW_IDS} td.customer")).await;
    let expected: Vec<String> = named["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(shown, expected, "the rows name their customers");
    assert!(
        shown.iter().any(|n| n.to_uppercase().contains(&upper)),
        "{shown:?}"
    );

    // "Download CSV": every call of the search, in the screen's order, as the export
    // route sends it (the file's bytes are caught as the page hands them to the browser).
    browser
        .js(
            "window.__csv = null; const make = URL.createObjectURL; \
             URL.createObjectURL = (blob) => { blob.text().then((t) => { window.__csv = t; }); \
             return make(blob); };",
            vec![],
        )
        .await;
    browser.click("button#download-csv").await;
    let downloaded = browser
        .wait_js("the downloaded CSV", "return window.__csv;", vec![], |v| {
            v.is_string()
        })
        .await;
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/admin/calls/export.csv", server.base),
        &[
            ("search", upper.as_str()),
            ("sort_by", "started_at"),
            ("sort_order", "desc"),
        ],
    )
    .unwrap();
    let exported = server.send(server.http.get(url)).await;
    assert_eq!(exported.status, 200, "{}", exported.text);
    assert_eq!(
        downloaded,
        json!(exported.text),
        "the download is the export"
    );
    assert_eq!(
        exported.text.matches("\r\n").count() as i64,
        named_total + 1,
        "a header and a record per call"
    );

    // Paging: back to everything, then next and previous.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    wait_log(&browser, "the first page again", &all).await;
    let pages = (total as usize).div_ceil(PAGE_SIZE);
    assert!(pages >= 3, "{total} calls");
    wait_page_info(&browser, 1, pages).await;
    assert_disabled(&browser, "button#prev-page", true).await;
    assert_disabled(&browser, "button#next-page", false).await;
    browser.click("button#next-page").await;
    let second = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("page", "2")],
    )
    .await;
    wait_page_info(&browser, 2, pages).await;
    wait_log(&browser, "page 2", &second).await;
    assert_disabled(&browser, "button#prev-page", false).await;
    browser.click("button#prev-page").await;
    wait_page_info(&browser, 1, pages).await;
    wait_log(&browser, "page 1", &all).await;

    // Sorting: each click on a header's button orders the rows as the API does for that
    // sort, and says so in the header's aria-sort; a second click reverses.
    for column in ["duration_seconds", "satisfaction_score"] {
        let button = format!("button[data-sort=\"{column}\"]");
        let mut seen = Vec::new();
        for _ in 0..2 {
            browser.click(&button).await;
            let sort = browser
                .wait_js(
                    &format!("aria-sort on {column} after a click"),
                    "const b = document.querySelector(arguments[0]); \
                     return b && b.closest('th').getAttribute('aria-sort');",
                    vec![json!(button)],
                    |v| {
                        let v = v.as_str().unwrap_or("none");
                        v != "none" && seen.last().is_none_or(|last: &String| last != v)
                    },
                )
                .await;
            let sort = sort.as_str().unwrap().to_string();
            assert!(
                sort == "ascending" || sort == "descending",
                "aria-sort {sort:?}"
            );
            let order = if sort == "ascending" { "asc" } else { "desc" };
            let sorted = api(
                &server,
                "/api/admin/calls",
                &[
                    ("page_size", &size),
                    ("sort_by", column),
                    ("sort_order", order),
                ],
            )
            .await;
            wait_log(&browser, &format!("sorted by {column} {order}"), &sorted).await;
            let others = browser
                .js(
                    "return [...document.querySelectorAll('button[data-sort]')] \
                     .filter(b => b.getAttribute('data-sort') !== arguments[0]) \
                     .map(b => b.closest('th').getAttribute('aria-sort'));",
                    vec![json!(column)],
                )
                .await;
            assert!(
                others.as_array().unwrap().iter().all(|s| s == "none"),
                "the other headers are unsorted: {others}"
            );
            seen.push(sort);
        }
        assert_ne!(seen[0], seen[1], "a second click reverses {column}");
    }
}

#[tokio::test]
async fn live_refresh_shows_a_new_call_without_a_reload() {
    let (_stores, server, browser) = open(300, 46, Stores::pg_store).await;
    // The log searched for the new call's phone, so that it is on the first page
    // whatever the time of day (the seed has calls later today than now).
    let phone = "+15550107788";
    let search = &phone[5..];
    let before = api(&server, "/api/admin/calls", &[("search", search)]).await;
    assert_eq!(before["total"], 0, "{search} is not in the seed: {before}");
    browser
        .goto(&format!(
            "{}/?refresh=500#/calls?search={search}",
            server.base
        ))
        .await;
    wait_total(&browser, "the search", "calls", 0).await;
    browser.wait_present("main#main .empty").await;
    browser.js("window.__avaNoReload = true;", vec![]).await;

    let id = start_and_end(&server, "browser-live-1", phone).await;
    browser
        .wait_js(
            "the new call in the searched log",
            "return [document.querySelector(arguments[0]) !== null, \
                     document.querySelector('#calls-total')?.getAttribute('data-value')];",
            vec![json!(format!("{ROW_IDS}[data-call-id=\"{id}\"]"))],
            |v| v == &json!([true, "1"]),
        )
        .await;

    // The whole log, as `/?refresh=500#/calls` shows it: another call, and the total
    // and first page follow.
    browser
        .goto(&format!("{}/?refresh=500#/calls", server.base))
        .await;
    let now = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    wait_log(&browser, "the whole log", &now).await;
    start_and_end(&server, "browser-live-2", "+15550107789").await;
    let after = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    assert_eq!(after["total"], now["total"].as_i64().unwrap() + 1);
    wait_log(&browser, "the whole log after a call", &after).await;
    assert_eq!(
        browser
            .js("return window.__avaNoReload === true;", vec![])
            .await,
        json!(true),
        "the page was reloaded"
    );
}

/// Starts and ends a call through the write API (open: no ingest token); its id.
async fn start_and_end(server: &Server, session: &str, phone: &str) -> i64 {
    let started = server
        .post(
            "/api/calls",
            &json!({"session_id": session, "phone_number": phone}),
            None,
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let ended = server
        .post(
            &format!("/api/calls/{session}/end"),
            &json!({
                "transcript": [{"speaker": "caller", "text": "Hi", "timestamp": null}],
                "function_calls": [],
                "sentiment": "positive",
                "satisfaction_score": 9,
            }),
            None,
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    started.body["id"].as_i64().unwrap()
}
