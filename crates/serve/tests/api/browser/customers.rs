//! The customers: the list (`#/customers`: search, sort, pages) against
//! `GET /api/admin/customers`, a customer's page (`#/customers/{id}`: their calls,
//! appointments and timeline) against their history, and the appointments
//! (`#/appointments`: the status and date filters, the customers named as the API names
//! them).

use serde_json::{json, Value};

use super::*;

/// Microseconds since 1970 of an API timestamp (naive ones are UTC), or None.
fn micros(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    let naive = text.trim_end_matches('Z').replace(' ', "T");
    chrono::NaiveDateTime::parse_from_str(&naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// The timeline of a history answer as `[kind, id]`: calls at `started_at`,
/// appointments at `appointment_datetime` and their bookings at `created_at`, newest
/// first; at one instant calls, appointments, bookings, each by id, highest first;
/// entries without a time last.
fn timeline(history: &Value) -> Vec<Value> {
    let mut entries: Vec<(Option<i64>, u8, i64, &str)> = Vec::new();
    for call in history["calls"].as_array().unwrap() {
        let id = call["id"].as_i64().unwrap();
        entries.push((micros(&call["started_at"]), 0, id, "call"));
    }
    for a in history["appointments"].as_array().unwrap() {
        let id = a["id"].as_i64().unwrap();
        entries.push((micros(&a["appointment_datetime"]), 1, id, "appointment"));
        entries.push((micros(&a["created_at"]), 2, id, "booked"));
    }
    entries.sort_by(|x, y| {
        let time = match (x.0, y.0) {
            (Some(a), Some(b)) => b.cmp(&a),
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
        };
        time.then(x.1.cmp(&y.1)).then(y.2.cmp(&x.2))
    });
    entries
        .into_iter()
        .map(|(_, _, id, kind)| json!([kind, id.to_string()]))
        .collect()
}

const TIMELINE: &str =
    "return [...document.querySelectorAll('ol#customer-timeline li[data-kind]')] \
    .map(e => [e.getAttribute('data-kind'), e.getAttribute('data-id')]);";

#[tokio::test]
async fn customer_timeline_merges_calls_and_appointments_newest_first() {
    let stores = Stores::seeded(300, 54).await;
    // The customer with the most calls among those with appointments too.
    let customer = pg_id(
        &stores,
        "select s.customer_id from call_sessions s where s.customer_id is not null \
         and exists (select 1 from appointments a where a.customer_id = s.customer_id) \
         group by s.customer_id order by count(*) desc, s.customer_id limit 1",
    )
    .await;
    // A call without a start time and an appointment without its booking time: last.
    let client = stores.pg.client().await;
    for sql in [
        format!(
            "update call_sessions set started_at = null where id = \
             (select min(id) from call_sessions where customer_id = {customer})"
        ),
        format!(
            "update appointments set created_at = null where id = \
             (select min(id) from appointments where customer_id = {customer})"
        ),
    ] {
        assert_eq!(client.execute(&sql, &[]).await.unwrap(), 1, "{sql}");
    }
    let server = Server::start(stores.pg_store(), Tokens::open()).await;
    let browser = Browser::start().await;
    let history = api(&server, &format!("/api/customers/{customer}/history"), &[]).await;
    let expected = timeline(&history);
    let calls = history["calls"].as_array().unwrap();
    assert!(
        calls.len() >= 2 && !history["appointments"].as_array().unwrap().is_empty(),
        "{history}"
    );
    assert_eq!(
        expected.len(),
        calls.len() + 2 * history["appointments"].as_array().unwrap().len()
    );
    // The untimed ones are at the end, and the rest is not simply calls then appointments.
    let tail: Vec<&str> = expected[expected.len() - 2..]
        .iter()
        .map(|e| e[0].as_str().unwrap())
        .collect();
    assert_eq!(tail, ["call", "booked"], "{expected:?}");
    let kinds: Vec<&str> = expected.iter().map(|e| e[0].as_str().unwrap()).collect();
    assert!(
        kinds.windows(2).filter(|w| w[0] != w[1]).count() >= 3,
        "calls and appointments should interleave: {kinds:?}"
    );

    browser
        .goto(&format!("{}/#/customers/{customer}", server.base))
        .await;
    browser.wait_heading("Timeline").await;
    browser
        .wait_eq(
            "the timeline in the history's order",
            TIMELINE,
            vec![],
            &json!(expected),
        )
        .await;
    // Each call's entry links to the call; an untimed one says so.
    for call in calls {
        let id = call["id"].as_i64().unwrap();
        browser
            .wait_present(&format!(
                "ol#customer-timeline li[data-kind=\"call\"][data-id=\"{id}\"] \
                 a[href=\"#/calls/{id}\"]"
            ))
            .await;
    }
    let last = browser
        .js(
            "const e = [...document.querySelectorAll('ol#customer-timeline li[data-kind]')].pop(); \
             return e.textContent;",
            vec![],
        )
        .await;
    assert!(
        last.as_str().unwrap().contains("No time recorded"),
        "{last}"
    );
    // The newest call's link opens it.
    let newest = expected.iter().find(|e| e[0] == "call").unwrap()[1]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .click(&format!(
            "ol#customer-timeline li[data-kind=\"call\"][data-id=\"{newest}\"] a"
        ))
        .await;
    browser
        .wait_present("section#call-detail dl#call-meta")
        .await;
    assert_eq!(browser.hash().await, format!("/calls/{newest}"));
}

/// Each row of the list: `[id, name, phone, calls, appointments, link]`.
const CUSTOMER_ROWS: &str =
    "return [...document.querySelectorAll('table#customers-table tbody tr[data-customer-id]')] \
    .map(tr => [tr.getAttribute('data-customer-id'), tr.querySelector('td.name').textContent, \
                tr.querySelector('td.phone').textContent, \
                tr.querySelector('td.calls').getAttribute('data-value'), \
                tr.querySelector('td.appointments').getAttribute('data-value'), \
                tr.querySelector('td.name a').getAttribute('href')]);";

/// What [`CUSTOMER_ROWS`] should read for a page of the API.
fn customer_rows(body: &Value) -> Value {
    body["customers"]
        .as_array()
        .unwrap_or_else(|| panic!("no customers in {body}"))
        .iter()
        .map(|c| {
            let id = c["id"].as_i64().unwrap();
            let name = match c["name"].as_str() {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => format!("Customer #{id}"),
            };
            let phone = match c["phone"].as_str() {
                Some(p) if !p.is_empty() => p.to_string(),
                _ => "—".to_string(),
            };
            json!([
                id.to_string(),
                name,
                phone,
                c["calls"].as_i64().unwrap().to_string(),
                c["appointments"].as_i64().unwrap().to_string(),
                format!("#/customers/{id}"),
            ])
        })
        .collect()
}

/// Waits until the list shows `body` (an API page): its total and its rows, in order.
async fn wait_customers(browser: &Browser, what: &str, body: &Value) {
    wait_total(browser, what, "customers", body["total"].as_i64().unwrap()).await;
    browser
        .wait_eq(
            &format!("{what}: the rows"),
            CUSTOMER_ROWS,
            vec![],
            &customer_rows(body),
        )
        .await;
}

const CUSTOMER_PAGE_SIZE: &str = "25";

async fn customers_page(server: &Server, query: &[(&str, &str)]) -> Value {
    let mut query = query.to_vec();
    query.push(("page_size", CUSTOMER_PAGE_SIZE));
    let body = api(server, "/api/admin/customers", &query).await;
    assert_eq!(body["page_size"], 25, "{body}");
    body
}

#[tokio::test]
async fn customers_list_searches_sorts_and_pages_like_the_api() {
    let (stores, server, browser) = open(300, 55, Stores::pg_store).await;
    let first = customers_page(&server, &[]).await;
    let total = first["total"].as_i64().unwrap();
    let pages = first["total_pages"].as_i64().unwrap();
    assert!(pages >= 3, "{total} customers");

    // Reached from the nav; by name, A to Z.
    browser.goto(&format!("{}/", server.base)).await;
    browser.click("nav#nav a[href=\"#/customers\"]").await;
    wait_customers(&browser, "the first page", &first).await;
    browser
        .wait_present("nav#nav a[href=\"#/customers\"][aria-current=\"page\"]")
        .await;
    for css in ["label[for=\"search\"]", "label[for=\"customer-sort\"]"] {
        browser.wait_present(css).await;
    }
    wait_page_info(&browser, 1, pages).await;
    assert_disabled(&browser, "button#prev-page", true).await;

    // Pages: next, next, previous.
    for (page, button) in [(2, "next"), (3, "next"), (2, "prev")] {
        browser.click(&format!("button#{button}-page")).await;
        let body = customers_page(&server, &[("page", &page.to_string())]).await;
        wait_page_info(&browser, page, pages).await;
        wait_customers(&browser, &format!("page {page}"), &body).await;
        let hash = browser.hash().await;
        assert!(hash.contains(&format!("page={page}")), "{hash}");
    }

    // Every sort of the picker, from page 1: the API's order for it.
    let options = browser.attrs("select#customer-sort option", "value").await;
    let options: Vec<String> = serde_json::from_value(options).unwrap();
    assert_eq!(options.len(), 6, "{options:?}");
    assert_eq!(options[0], "name:asc", "the default sort first");
    // The default last: choosing the option already chosen changes nothing.
    for option in options[1..].iter().chain(&options[..1]) {
        let (by, order) = option.split_once(':').unwrap();
        let body = customers_page(&server, &[("sort_by", by), ("sort_order", order)]).await;
        browser.select("select#customer-sort", option).await;
        wait_customers(&browser, &format!("sorted by {by} {order}"), &body).await;
        let hash = browser.hash().await;
        assert!(
            !hash.contains("page="),
            "a new sort starts at page 1: {hash}"
        );
        // The defaults (name, ascending) are left out of the hash.
        assert_eq!(hash.contains(&format!("sort={by}")), by != "name", "{hash}");
        assert_eq!(hash.contains("order=desc"), order == "desc", "{hash}");
    }
    // The orders differ (else the picker would prove nothing).
    let by_name = customers_page(&server, &[]).await;
    let by_call =
        customers_page(&server, &[("sort_by", "last_call"), ("sort_order", "desc")]).await;
    assert_ne!(customer_rows(&by_name), customer_rows(&by_call));

    // Search by part of a name, in capitals: the API's total and rows.
    browser.goto(&format!("{}/#/customers", server.base)).await;
    wait_customers(&browser, "the first page again", &first).await;
    let names = pg_texts(
        &stores,
        "select name from customers where name is not null order by id",
    )
    .await;
    let upper = inner_capitals(&names);
    let found = customers_page(&server, &[("search", &upper)]).await;
    let found_total = found["total"].as_i64().unwrap();
    assert!(
        0 < found_total && found_total < total,
        "{upper}: {found_total}"
    );
    browser.type_enter("input#search", &upper).await;
    wait_customers(&browser, &format!("search {upper:?}"), &found).await;
    let hash = browser.hash().await;
    assert!(hash.contains(&format!("search={upper}")), "{hash}");

    // Search by part of a phone number, sorted by the last call.
    let phone = pg_texts(
        &stores,
        "select phone from customers where phone is not null and length(phone) >= 4 \
         order by id limit 1",
    )
    .await
    .remove(0);
    let fragment = &phone[phone.len() - 4..];
    browser
        .goto(&format!(
            "{}/#/customers?search={fragment}&sort=last_call&order=desc",
            server.base
        ))
        .await;
    let found = customers_page(
        &server,
        &[
            ("search", fragment),
            ("sort_by", "last_call"),
            ("sort_order", "desc"),
        ],
    )
    .await;
    assert!(found["total"].as_i64().unwrap() > 0, "{fragment}");
    wait_customers(&browser, &format!("search {fragment:?}"), &found).await;
    browser
        .wait_value(
            "the picker on the linked sort",
            "select#customer-sort",
            "last_call:desc",
        )
        .await;
    for row in browser.texts("table#customers-table td.phone").await {
        assert!(row.contains(fragment), "{row} lacks {fragment}");
    }

    // A row's link: the customer's page, under the Customers tab.
    let id = found["customers"][0]["id"].as_i64().unwrap();
    browser
        .click(&format!(
            "tr[data-customer-id=\"{id}\"] a[href=\"#/customers/{id}\"]"
        ))
        .await;
    let name = found["customers"][0]["name"].as_str().unwrap().to_string();
    browser
        .wait_eq(
            "the customer's heading",
            "const e = document.querySelector('#customer-title'); return e && e.textContent;",
            vec![],
            &json!(name),
        )
        .await;
    browser
        .wait_present("nav#nav a[href=\"#/customers\"][aria-current=\"true\"]")
        .await;
}

#[tokio::test]
async fn appointments_name_their_customers() {
    let (_stores, server, browser) = open(300, 56, Stores::pg_store).await;
    let all = api(&server, "/api/appointments", &[]).await;
    let rows = all["appointments"].as_array().unwrap();
    let expected: Vec<Value> = rows
        .iter()
        .map(|a| {
            let link = a["customer_id"]
                .as_i64()
                .map(|id| format!("#/customers/{id}"));
            let name = match (a["customer_name"].as_str(), a["customer_id"].as_i64()) {
                (Some(n), _) if !n.is_empty() => n.to_string(),
                (_, Some(id)) => format!("Customer #{id}"),
                _ => String::new(),
            };
            json!([name, link])
        })
        .collect();
    assert!(
        rows.iter()
            .filter(|a| a["customer_name"].is_string())
            .count()
            > rows.len() / 2,
        "the API names most appointments' customers"
    );
    browser
        .goto(&format!("{}/#/appointments", server.base))
        .await;
    browser
        .wait_eq(
            "each appointment's customer, named as the API names them",
            "return [...document.querySelectorAll('table#appointments-table tbody tr[data-appointment-id] td.customer')] \
             .map(td => [td.textContent, td.querySelector('a')?.getAttribute('href') ?? null]);",
            vec![],
            &json!(expected),
        )
        .await;
}

#[tokio::test]
async fn customer_page_and_appointment_filters_render_rows() {
    let (stores, server, browser) = open(300, 47, Stores::pg_store).await;

    let customer = pg_id(
        &stores,
        "select c.id from customers c \
         where exists (select 1 from appointments a where a.customer_id = c.id) \
         and exists (select 1 from call_sessions s where s.customer_id = c.id) \
         order by c.id limit 1",
    )
    .await;
    let history = api(&server, &format!("/api/customers/{customer}/history"), &[]).await;
    let (booked, calls) = (
        history["appointments"].as_array().unwrap().len(),
        history["calls"].as_array().unwrap().len(),
    );
    browser
        .goto(&format!("{}/#/customers/{customer}", server.base))
        .await;
    browser.wait_present("section#customer-page").await;
    for (what, rows, expected) in [
        (
            "the customer's appointments",
            "table#customer-appointments tbody tr",
            booked,
        ),
        (
            "the customer's calls",
            "table#customer-calls tbody tr",
            calls,
        ),
    ] {
        browser
            .wait_eq(
                what,
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(rows)],
                &json!(expected),
            )
            .await;
    }
    for call in history["calls"].as_array().unwrap() {
        let id = call["id"].as_i64().unwrap();
        browser
            .wait_present(&format!("table#customer-calls a[href=\"#/calls/{id}\"]"))
            .await;
    }
    let name = history["customer"]["name"].as_str().unwrap();
    browser
        .wait_js(
            "the customer's name",
            "return document.querySelector('section#customer-page').textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains(name)),
        )
        .await;

    // Appointments: all, then by status, then by dates.
    let rows = "table#appointments-table tbody tr[data-appointment-id]";
    let all = api(&server, "/api/appointments", &[]).await;
    browser
        .goto(&format!("{}/#/appointments", server.base))
        .await;
    for css in [
        "label[for=\"from\"]",
        "input#from[type=\"date\"]",
        "label[for=\"to\"]",
        "input#to[type=\"date\"]",
        "label[for=\"status\"]",
        "select#status option[value=\"\"]",
    ] {
        browser.wait_present(css).await;
    }
    browser
        .wait_attrs(
            "every appointment",
            rows,
            "data-appointment-id",
            &ids(&all, "appointments"),
        )
        .await;
    let statuses = browser.attrs("select#status option", "value").await;
    for status in [
        "scheduled",
        "completed",
        "cancelled",
        "rescheduled",
        "no_show",
    ] {
        assert!(
            statuses.as_array().unwrap().contains(&json!(status)),
            "{status} in {statuses}"
        );
    }
    let completed = api(&server, "/api/appointments", &[("status", "completed")]).await;
    assert!(!completed["appointments"].as_array().unwrap().is_empty());
    browser.select("select#status", "completed").await;
    browser
        .wait_attrs(
            "the completed appointments",
            rows,
            "data-appointment-id",
            &ids(&completed, "appointments"),
        )
        .await;

    // A date range: whichever way the page reads its ends (local days, inclusive or
    // not), it shows every appointment well inside and none well outside.
    let dates: Vec<String> = all["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "completed")
        .map(|a| a["appointment_datetime"].as_str().unwrap()[..10].to_string())
        .collect();
    let (from, to) = (
        dates[dates.len() * 3 / 4].clone(),
        dates[dates.len() / 4].clone(),
    );
    let day = |d: &str, by: i64| {
        (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() + chrono::Duration::days(by))
            .to_string()
    };
    let inner = completed_between(&server, &day(&from, 1), &day(&to, 0)).await;
    let outer = completed_between(&server, &day(&from, -1), &day(&to, 2)).await;
    assert!(!inner.as_array().unwrap().is_empty(), "{from}..{to}");
    browser
        .js(
            "for (const [id, v] of [['from', arguments[0]], ['to', arguments[1]]]) { \
                 const e = document.getElementById(id); e.value = v; \
                 e.dispatchEvent(new Event('input', {bubbles: true})); \
                 e.dispatchEvent(new Event('change', {bubbles: true})); }",
            vec![json!(from), json!(to)],
        )
        .await;
    browser
        .wait_js(
            &format!("the completed appointments from {from} to {to}"),
            ATTRS,
            vec![json!(rows), json!("data-appointment-id")],
            |shown| {
                let shown = shown.as_array().cloned().unwrap_or_default();
                let (inner, outer) = (inner.as_array().unwrap(), outer.as_array().unwrap());
                inner.iter().all(|i| shown.contains(i)) && shown.iter().all(|s| outer.contains(s))
            },
        )
        .await;
}

/// The ids of the completed appointments from `from` to `to` (dates) by the API.
async fn completed_between(server: &Server, from: &str, to: &str) -> Value {
    let body = api(
        server,
        "/api/appointments",
        &[
            ("status", "completed"),
            ("start_date", from),
            ("end_date", to),
        ],
    )
    .await;
    ids(&body, "appointments")
}
