//! The voice service's write routes on both stores: start, log, end a call; create a
//! customer; and `daily_metrics` kept equal to its recomputation from `call_sessions`
//! under concurrent ends.

use std::collections::BTreeMap;
use std::sync::Arc;

use ava_api::read::DETAIL_COLUMNS;
use ava_api::store::Param;
use ava_api::{Store, Value as Cell};
use ava_catalog::Kind;
use ava_serve::Tokens;
use serde_json::{json, Value};

use crate::support::*;

const ADMIN: &str = "admin-secret";
const INGEST: &str = "ingest-secret";

fn tokens() -> Tokens {
    Tokens {
        admin: Some(ADMIN.into()),
        ingest: Some(INGEST.into()),
        ..Tokens::default()
    }
}

fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names
}

/// A call in the write routes' answers: the detail's columns and the customer.
fn call_keys() -> Vec<String> {
    let mut columns = DETAIL_COLUMNS.to_vec();
    columns.push("customer_id");
    sorted(&columns)
}

/// `body` with the fields that depend on the clock (or on ids) replaced, for comparing
/// the two stores' answers.
fn timeless(mut body: Value) -> Value {
    if let Some(fields) = body.as_object_mut() {
        for (key, value) in fields.iter_mut() {
            if [
                "started_at",
                "ended_at",
                "timestamp",
                "created_at",
                "updated_at",
            ]
            .contains(&key.as_str())
                && value.is_string()
            {
                *value = json!("<time>");
            }
            if key == "duration_seconds" && value.is_i64() {
                *value = json!("<seconds>");
            }
        }
    }
    body
}

/// Every `daily_metrics` row, in date order, all columns.
async fn metrics(store: &Store) -> Vec<Vec<Cell<'static>>> {
    store
        .rows(
            "SELECT m.id, m.date, m.total_calls, m.total_talk_time_seconds, \
             m.avg_call_duration_seconds, m.appointments_booked, m.appointments_rescheduled, \
             m.appointments_cancelled, m.avg_satisfaction_score, m.calls_escalated, \
             m.conversion_rate, m.updated_at FROM daily_metrics m ORDER BY m.date",
            &[],
            &[
                Kind::Id,
                Kind::Timestamp,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Float,
                Kind::Int,
                Kind::Float,
                Kind::Timestamp,
            ],
        )
        .await
        .unwrap()
}

/// One column of a call, read through SQL.
async fn call_column(store: &Store, session: &str, column: &str, kind: Kind) -> Cell<'static> {
    let rows = store
        .rows(
            &format!("SELECT s.{column} FROM call_sessions s WHERE s.session_id = $1"),
            &[Param::Text(session.into())],
            &[kind],
        )
        .await
        .unwrap();
    rows[0][0].clone()
}

/// The answers of a scripted session on one store, for comparing the two.
async fn start_log_end(store: Store) -> Vec<Value> {
    let server = Server::start(store.clone(), tokens()).await;
    let ingest = Some(INGEST);
    let mut answers = Vec::new();

    let started = server
        .post(
            "/api/calls",
            &json!({"session_id": "s-1", "phone_number": "+13105550199"}),
            ingest,
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    assert_eq!(keys(&started.body), call_keys());
    let call = &started.body;
    assert_eq!(call["session_id"], "s-1");
    assert_eq!(call["phone_number"], "+13105550199");
    assert!(call["started_at"].as_str().unwrap().ends_with('Z'));
    for null in ["ended_at", "duration_seconds", "outcome", "customer_id"] {
        assert!(call[null].is_null(), "{null}: {call}");
    }
    assert_eq!(call["escalated"], false);
    let id = call["id"].as_i64().unwrap();
    answers.push(timeless(started.body.clone()));

    let again = server
        .post("/api/calls", &json!({"session_id": "s-1"}), ingest)
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.body["detail"].is_string());

    let data = json!({"b": 1, "a": [true, null, "é\n"], "nested": {"z": 0.5}});
    let event = server
        .post(
            "/api/calls/s-1/events",
            &json!({"event_type": "function_call", "data": data}),
            ingest,
        )
        .await;
    assert_eq!(event.status, 201, "{}", event.text);
    assert_eq!(
        keys(&event.body),
        sorted(&["id", "call_session_id", "event_type", "timestamp", "data"])
    );
    assert_eq!(event.body["call_session_id"], id);
    assert_eq!(event.body["data"], data);
    answers.push(timeless(event.body.clone()));
    let bare = server
        .post(
            "/api/calls/s-1/events",
            &json!({"event_type": "note"}),
            ingest,
        )
        .await;
    assert_eq!(bare.status, 201, "{}", bare.text);
    assert!(bare.body["data"].is_null());

    for (path, body) in [
        ("/api/calls/nope/events", json!({"event_type": "x"})),
        (
            "/api/calls/nope/end",
            json!({"transcript": [], "function_calls": []}),
        ),
    ] {
        let missing = server.post(path, &body, ingest).await;
        assert_eq!(missing.status, 404, "{path}: {}", missing.text);
        assert!(missing.body["detail"].is_string());
    }

    let transcript = json!([
        {"speaker": "ai", "text": "Hello", "timestamp": "2025-08-25T10:00:00"},
        {"speaker": "caller", "text": "Book me in ☺", "timestamp": "2025-08-25T10:00:03"},
    ]);
    let before = metrics(&store).await;
    let ended = server
        .post(
            "/api/calls/s-1/end",
            &json!({
                "transcript": transcript,
                "function_calls": [
                    {"function": "check_availability", "arguments": {"day": "mon"}},
                    {"function": "book_appointment"},
                ],
                "sentiment": "positive",
                "satisfaction_score": 8.5,
                "escalated": true,
                "escalation_reason": "asked for a human",
            }),
            ingest,
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(keys(&ended.body), call_keys());
    let call = &ended.body;
    assert_eq!(call["outcome"], "booked");
    assert_eq!(call["sentiment"], "positive");
    assert_eq!(call["satisfaction_score"], 8.5);
    assert_eq!(call["escalated"], true);
    assert_eq!(call["escalation_reason"], "asked for a human");
    assert!(call["ended_at"].as_str().unwrap().ends_with('Z'));
    assert!(call["duration_seconds"].as_i64().unwrap() >= 0);
    answers.push(timeless(ended.body.clone()));
    assert_eq!(
        call_column(&store, "s-1", "function_calls_made", Kind::Int).await,
        Cell::Int(2)
    );

    // The detail serves what was written.
    let detail = server
        .get_with(&format!("/api/admin/calls/{id}"), ADMIN)
        .await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.body["transcript"], transcript);
    assert_eq!(detail.body["events"].as_array().unwrap().len(), 2);

    // The day's row now counts the call; a second end is refused and counts nothing.
    let after = metrics(&store).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last().unwrap()[2], Cell::Int(1));
    assert_eq!(after.last().unwrap()[5], Cell::Int(1));
    let twice = server
        .post(
            "/api/calls/s-1/end",
            &json!({"transcript": [], "function_calls": []}),
            ingest,
        )
        .await;
    assert_eq!(twice.status, 409, "{}", twice.text);
    assert!(twice.body["detail"].is_string());
    assert_eq!(metrics(&store).await, after);
    assert_eq!(
        call_column(&store, "s-1", "outcome", Kind::Varchar(50)).await,
        Cell::Text("booked".into())
    );
    answers
}

#[tokio::test]
async fn a_call_starts_logs_and_ends_once_on_both_stores() {
    let stores = Stores::empty().await;
    let [pg, lite] = stores.both();
    let pg = start_log_end(pg).await;
    let lite = start_log_end(lite).await;
    assert_eq!(pg, lite);
}

/// A call started (with `phone`) and ended with `end`; the ended call.
async fn call(server: &Server, session: &str, phone: Option<&str>, end: Value) -> Value {
    let mut body = json!({ "session_id": session });
    if let Some(phone) = phone {
        body["phone_number"] = json!(phone);
    }
    let started = server.post("/api/calls", &body, Some(INGEST)).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let ended = server
        .post(&format!("/api/calls/{session}/end"), &end, Some(INGEST))
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    ended.body
}

async fn customers_and_outcomes(store: Store) -> Vec<Value> {
    let server = Server::start(store, tokens()).await;
    let ingest = Some(INGEST);
    let mut answers = Vec::new();

    let created = server
        .post(
            "/api/customers",
            &json!({"name": "  Zoë O'Brien ", "phone": "+1 (310) 555-0101", "email": "zoe@example.com"}),
            ingest,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let customer = created.body.clone();
    assert_eq!(
        keys(&customer),
        sorted(&[
            "id",
            "name",
            "phone",
            "email",
            "is_new_client",
            "created_at",
            "updated_at",
            "has_allergies",
            "is_pregnant",
            "notes"
        ])
    );
    assert_eq!(customer["name"], "Zoë O'Brien");
    assert_eq!(customer["phone"], "+1 (310) 555-0101");
    assert_eq!(customer["is_new_client"], true);
    assert_eq!(customer["has_allergies"], false);
    assert!(customer["notes"].is_null());
    answers.push(timeless(customer.clone()));
    let customer_id = customer["id"].as_i64().unwrap();
    let other = server
        .post(
            "/api/customers",
            &json!({"name": "Sam", "phone": "+13105550102"}),
            ingest,
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert!(other.body["email"].is_null());

    for (body, status) in [
        (json!({"name": "Dup", "phone": "+1 (310) 555-0101"}), 400),
        (
            json!({"name": "Dup", "phone": "+13105550109", "email": "zoe@example.com"}),
            400,
        ),
        (json!({"name": "", "phone": "+13105550103"}), 422),
        (
            json!({"name": "x".repeat(256), "phone": "+13105550103"}),
            422,
        ),
        (json!({"name": "A", "phone": "555"}), 422),
        (json!({"name": "A", "phone": "+1 310 555 0101 0101 0"}), 422),
        (json!({"name": "A", "phone": "call me"}), 422),
        (
            json!({"name": "A", "phone": "+13105550104", "email": "no-at"}),
            422,
        ),
        (json!({"name": "A"}), 422),
        (json!({"phone": "+13105550104"}), 422),
    ] {
        let refused = server.post("/api/customers", &body, ingest).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.text);
        answers.push(refused.body);
    }

    // Linked by the call's own phone; only checked availability.
    let browsing = call(
        &server,
        "c-1",
        Some("+1 (310) 555-0101"),
        json!({"transcript": [], "function_calls": [{"function": "check_availability"}]}),
    )
    .await;
    assert_eq!(browsing["customer_id"], customer_id);
    assert_eq!(browsing["outcome"], "browsing");
    // The defaults: neutral, 5.0, not escalated.
    assert_eq!(browsing["sentiment"], "neutral");
    assert_eq!(browsing["satisfaction_score"], 5.0);
    assert_eq!(browsing["escalated"], false);
    answers.push(timeless(browsing));
    // No phone at the start: linked by the phone given at the end.
    let info = call(
        &server,
        "c-2",
        None,
        json!({"transcript": [{"speaker": "ai", "text": "Hi"}],
               "function_calls": [{"function": "get_business_info"}],
               "customer_phone": "+13105550102"}),
    )
    .await;
    assert_eq!(info["customer_id"], other.body["id"]);
    assert_eq!(info["outcome"], "info_only");
    answers.push(timeless(info));
    // The phone given at the end wins over the call's.
    let booked = call(
        &server,
        "c-3",
        Some("+13105550102"),
        json!({"transcript": [], "customer_phone": "+1 (310) 555-0101",
               "function_calls": [{"function": "book_appointment"}, {"function": "check_availability"}]}),
    )
    .await;
    assert_eq!(booked["customer_id"], customer_id);
    assert_eq!(booked["outcome"], "booked");
    answers.push(timeless(booked));
    // Nobody has this phone.
    let stranger = call(
        &server,
        "c-4",
        Some("+18185550000"),
        json!({"transcript": [], "function_calls": []}),
    )
    .await;
    assert!(stranger["customer_id"].is_null());
    assert_eq!(stranger["outcome"], "info_only");
    answers.push(timeless(stranger));
    answers
}

#[tokio::test]
async fn customers_are_created_and_calls_linked_and_classified() {
    let stores = Stores::empty().await;
    let [pg, lite] = stores.both();
    let pg = customers_and_outcomes(pg).await;
    let lite = customers_and_outcomes(lite).await;
    assert_eq!(pg, lite);
}

#[tokio::test]
async fn bad_bodies_are_422_naming_the_field() {
    let stores = Stores::empty().await;
    for store in stores.both() {
        let server = Server::start(store, tokens()).await;
        let started = server
            .post("/api/calls", &json!({"session_id": "b-1"}), Some(INGEST))
            .await;
        assert_eq!(started.status, 201, "{}", started.text);
        let long_phone = "1".repeat(21);
        let long_session = "s".repeat(256);
        let cases: Vec<(&str, String, &str)> = vec![
            ("/api/calls", "{not json".into(), "body"),
            ("/api/calls", "".into(), "body"),
            ("/api/calls", "[1, 2]".into(), "body"),
            ("/api/calls", "{}".into(), "session_id"),
            ("/api/calls", r#"{"session_id": 7}"#.into(), "session_id"),
            ("/api/calls", r#"{"session_id": ""}"#.into(), "session_id"),
            (
                "/api/calls",
                format!(r#"{{"session_id": "{long_session}"}}"#),
                "session_id",
            ),
            (
                "/api/calls",
                format!(r#"{{"session_id": "x", "phone_number": "{long_phone}"}}"#),
                "phone_number",
            ),
            (
                "/api/calls",
                r#"{"session_id": "a\u0000b"}"#.into(),
                "session_id",
            ),
            ("/api/calls/b-1/events", "{}".into(), "event_type"),
            (
                "/api/calls/b-1/events",
                r#"{"event_type": ["x"]}"#.into(),
                "event_type",
            ),
            (
                "/api/calls/b-1/events",
                r#"{"event_type": "x", "data": {"k\u0000": 1}}"#.into(),
                "data",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"function_calls": []}"#.into(),
                "transcript",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": []}"#.into(),
                "function_calls",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": "hi", "function_calls": []}"#.into(),
                "transcript",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": [], "function_calls": ["book_appointment"]}"#.into(),
                "function_calls",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": [], "function_calls": [], "satisfaction_score": "high"}"#.into(),
                "satisfaction_score",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": [], "function_calls": [], "satisfaction_score": 1e999}"#.into(),
                "body",
            ),
            (
                "/api/calls/b-1/end",
                r#"{"transcript": [], "function_calls": [], "escalated": 1}"#.into(),
                "escalated",
            ),
            (
                "/api/calls/b-1/end",
                format!(
                    r#"{{"transcript": [], "function_calls": [], "sentiment": "{}"}}"#,
                    "s".repeat(51)
                ),
                "sentiment",
            ),
            (
                "/api/customers",
                r#"{"name": "A", "phone": 13105550101}"#.into(),
                "phone",
            ),
        ];
        for (path, body, field) in &cases {
            let reply = server
                .send(
                    server
                        .http
                        .post(format!("{}{path}", server.base))
                        .bearer_auth(INGEST)
                        .header("content-type", "application/json")
                        .body(body.clone()),
                )
                .await;
            assert_eq!(reply.status, 422, "{path} {body}: {}", reply.text);
            let detail = &reply.body["detail"][0];
            assert_eq!(detail["loc"], json!(["body", field]), "{path} {body}");
            assert!(detail["msg"].is_string());
            // FastAPI's types: a missing field is `missing`, an unknown one
            // `extra_forbidden`, any other `value_error`.
            let kind = match detail["msg"].as_str() {
                Some("field required") => "missing",
                Some("extra fields not permitted") => "extra_forbidden",
                _ => "value_error",
            };
            assert_eq!(detail["type"], kind, "{path} {body}");
        }
        // Nothing was written by the refused requests; the call is still open.
        let open = server
            .post(
                "/api/calls/b-1/end",
                &json!({"transcript": [], "function_calls": []}),
                Some(INGEST),
            )
            .await;
        assert_eq!(open.status, 200, "{}", open.text);
        // Without the ingest token, nothing is written.
        let anonymous = server
            .post("/api/calls", &json!({"session_id": "b-2"}), None)
            .await;
        assert_eq!(anonymous.status, 401);
    }
}

/// The `daily_metrics` rule (`ava_catalog::daily`), restated here on purpose so that the
/// test does not check the fold with itself, applied to `call_sessions` as read through SQL:
/// the rows `daily_metrics` must hold (every column but `id` and `updated_at`).
async fn recomputed(store: &Store) -> Vec<Vec<Cell<'static>>> {
    let calls = store
        .rows(
            "SELECT s.started_at, s.duration_seconds, s.outcome, s.escalated, \
             s.satisfaction_score FROM call_sessions s WHERE s.ended_at IS NOT NULL \
             ORDER BY s.id",
            &[],
            &[
                Kind::Timestamp,
                Kind::Int,
                Kind::Varchar(50),
                Kind::Bool,
                Kind::Float,
            ],
        )
        .await
        .unwrap();
    #[derive(Default)]
    struct Day {
        calls: i64,
        talk: i64,
        booked: i64,
        rescheduled: i64,
        cancelled: i64,
        escalated: i64,
        sum: f64,
        scored: i64,
    }
    const DAY: i64 = 86_400_000_000;
    let mut days: BTreeMap<i64, Day> = BTreeMap::new();
    for call in &calls {
        let Cell::Timestamp(started) = call[0] else {
            panic!("an ended call without a start: {call:?}");
        };
        let day = days.entry(started.div_euclid(DAY)).or_default();
        day.calls += 1;
        if let Cell::Int(d) = call[1] {
            day.talk += d;
        }
        match &call[2] {
            Cell::Text(o) if o == "booked" => day.booked += 1,
            Cell::Text(o) if o == "rescheduled" => day.rescheduled += 1,
            Cell::Text(o) if o == "cancelled" => day.cancelled += 1,
            _ => {}
        }
        day.escalated += i64::from(call[3] == Cell::Bool(true));
        if let Cell::Float(s) = call[4] {
            day.sum += s;
            day.scored += 1;
        }
    }
    days.iter()
        .map(|(day, d)| {
            vec![
                Cell::Timestamp(day * DAY),
                Cell::Int(d.calls),
                Cell::Int(d.talk),
                Cell::Int(d.talk / d.calls),
                Cell::Int(d.booked),
                Cell::Int(d.rescheduled),
                Cell::Int(d.cancelled),
                Cell::Float(if d.scored > 0 {
                    d.sum / d.scored as f64
                } else {
                    0.0
                }),
                Cell::Int(d.escalated),
                Cell::Float(d.booked as f64 / d.calls as f64 * 100.0),
            ]
        })
        .collect()
}

/// Checks every `daily_metrics` row against [`recomputed`], bit for bit.
async fn assert_metrics_exact(store: &Store) {
    let expected = recomputed(store).await;
    let stored = metrics(store).await;
    let stored_values: Vec<Vec<Cell<'static>>> =
        stored.iter().map(|row| row[1..11].to_vec()).collect();
    assert_eq!(stored_values.len(), expected.len());
    for (row, want) in stored_values.iter().zip(&expected) {
        assert_eq!(row, want);
        for i in [7, 9] {
            let (Cell::Float(a), Cell::Float(b)) = (&row[i], &want[i]) else {
                panic!("not floats: {row:?}");
            };
            assert_eq!(a.to_bits(), b.to_bits(), "{row:?}");
        }
    }
    assert!(stored
        .iter()
        .all(|row| matches!(row[11], Cell::Timestamp(_))));
}

const CLIENTS: usize = 32;
const CALLS_PER_CLIENT: usize = 17;

const SENTIMENTS: [&str; 3] = ["positive", "neutral", "negative"];

/// What call `i` of the concurrency test sends at its end.
fn end_body(i: usize) -> Value {
    let function = match i % 4 {
        0 => "book_appointment",
        1 => "check_availability",
        _ => "get_business_info",
    };
    let mut body = json!({
        "transcript": [{"speaker": "caller", "text": format!("call {i}")}],
        "function_calls": [{"function": function}],
        "escalated": i.is_multiple_of(7),
        "sentiment": SENTIMENTS[i % 3],
    });
    // Scores whose sum depends on the order they are added in; some left to the default.
    if !i.is_multiple_of(5) {
        body["satisfaction_score"] = json!((i % 97) as f64 / 9.7);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ends_keep_daily_metrics_exact() {
    let stores = Stores::seeded(300, 5).await;
    for store in stores.both() {
        // The seeded rows follow the rule already.
        assert_metrics_exact(&store).await;
        let server = Arc::new(Server::start(store.clone(), tokens()).await);
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let server = server.clone();
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    for n in 0..CALLS_PER_CLIENT {
                        let i = client * CALLS_PER_CLIENT + n;
                        let session = format!("load-{i}");
                        let ingest = Some(INGEST);
                        let started = server
                            .post(
                                "/api/calls",
                                &json!({"session_id": session, "phone_number": format!("+1310555{:04}", i % 40)}),
                                ingest,
                            )
                            .await;
                        let event = server
                            .post(
                                &format!("/api/calls/{session}/events"),
                                &json!({"event_type": "function_call", "data": {"i": i}}),
                                ingest,
                            )
                            .await;
                        // Two ends of the same call at once: one ends it, one is refused.
                        let path = format!("/api/calls/{session}/end");
                        let body = end_body(i);
                        let (a, b) = tokio::join!(
                            server.post(&path, &body, ingest),
                            server.post(&path, &body, ingest)
                        );
                        let mut ends = [a.status, b.status];
                        ends.sort_unstable();
                        assert_eq!(ends, [200, 409], "{session}: {} / {}", a.text, b.text);
                        statuses.extend([started.status, event.status]);
                    }
                    statuses
                })
            })
            .collect();
        for task in tasks {
            for status in task.await.unwrap() {
                assert_eq!(status, 201);
            }
        }
        assert_metrics_exact(&store).await;
        let counted = store
            .rows(
                "SELECT count(*) FROM call_sessions s WHERE s.session_id LIKE 'load-%' \
                 AND s.ended_at IS NOT NULL",
                &[],
                &[Kind::Id],
            )
            .await
            .unwrap();
        assert_eq!(
            counted[0][0],
            Cell::Int((CLIENTS * CALLS_PER_CLIENT) as i64)
        );
    }
}
