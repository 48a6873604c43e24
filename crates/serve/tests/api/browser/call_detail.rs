//! A call's page (`#/calls/{id}`): its transcript, events and customer against
//! `GET /api/admin/calls/{id}`.

use serde_json::{json, Value};

use super::*;

#[tokio::test]
async fn call_detail_shows_its_transcript_and_events() {
    let (stores, server, browser) = open(300, 43, Stores::pg_store).await;
    // A call with a customer, events and a JSON transcript of several turns.
    let id = full_call(&stores, "asc").await;
    let detail = api(&server, &format!("/api/admin/calls/{id}"), &[]).await;
    let turns: Vec<&str> = detail["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["speaker"].as_str().unwrap_or(""))
        .collect();
    let events: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(turns.len() > 1 && !events.is_empty(), "call {id}: {detail}");

    // Reached from the log by its row's link.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let first = browser.attrs(ROW_IDS, "data-call-id").await[0]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .click(&format!(
            "tr[data-call-id=\"{first}\"] a[href=\"#/calls/{first}\"]"
        ))
        .await;
    browser
        .wait_present("section#call-detail dl#call-meta")
        .await;

    browser.goto(&format!("{}/#/calls/{id}", server.base)).await;
    browser
        .wait_attrs(
            "the transcript's turns, in order",
            "ol#transcript li.turn",
            "data-speaker",
            &json!(turns),
        )
        .await;
    browser
        .wait_attrs(
            "the events, in order",
            "ol#events li.event",
            "data-event-type",
            &json!(events),
        )
        .await;
    let pres = browser.texts("ol#events li.event pre").await;
    assert_eq!(pres.len(), events.len(), "one pre per event");
    for (pre, event) in pres.iter().zip(detail["events"].as_array().unwrap()) {
        let shown: Value = serde_json::from_str(pre)
            .unwrap_or_else(|e| panic!("an event's pre is not JSON ({e}): {pre:?}"));
        assert_eq!(shown, event["data"], "an event's data");
    }
    let customer = detail["customer"]["id"].as_i64().unwrap();
    browser
        .wait_present(&format!(
            "#customer-card a[href=\"#/customers/{customer}\"]"
        ))
        .await;

    // An unknown call: the API's detail.
    browser
        .goto(&format!("{}/#/calls/99999999", server.base))
        .await;
    browser
        .wait_js(
            "#not-found with the API's detail",
            "const e = document.querySelector('#not-found'); return e && e.textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("Call not found")),
        )
        .await;
}
