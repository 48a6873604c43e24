//! The customers: a customer's timeline (`#/customers/{id}`) against their history.

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
    browser
        .wait_js(
            "the heading \"Timeline\"",
            "return [...document.querySelectorAll('main h2')].map(e => e.textContent);",
            vec![],
            |v| v.as_array().is_some_and(|a| a.contains(&json!("Timeline"))),
        )
        .await;
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
    let hash = browser.client.current_url().await.unwrap();
    assert_eq!(hash.fragment(), Some(format!("/calls/{newest}").as_str()));
}
