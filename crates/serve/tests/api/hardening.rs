//! The API under hostile input: SQL-injection strings in every parameter only ever match
//! as text or are refused as invalid (the tables intact afterwards, on both stores);
//! oversized bodies are 413, malformed JSON and unknown fields 422; slow and idle clients
//! are cut off; CORS headers only for a configured origin.

use std::time::Duration;

use ava_serve::{AppState, Tokens};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const ADMIN: &str = "h-admin";
const INGEST: &str = "h-ingest";

const HOSTILE: [&str; 9] = [
    "' OR 1=1 --",
    "'; DROP TABLE call_sessions; --",
    "1; DELETE FROM customers",
    "%",
    "_",
    "\\",
    "\" OR \"\"=\"",
    "Zoë 🙂 ' ; --",
    "1 UNION SELECT * FROM customers",
];

fn tokens() -> Tokens {
    Tokens {
        admin: Some(ADMIN.into()),
        ingest: Some(INGEST.into()),
        ..Tokens::default()
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn counts(server: &Server) -> (Value, Value) {
    let calls = server.get_with("/api/admin/calls?page_size=1", ADMIN).await;
    let appointments = server.get_with("/api/appointments", ADMIN).await;
    assert_eq!(calls.status, 200, "{}", calls.text);
    assert_eq!(appointments.status, 200, "{}", appointments.text);
    (
        calls.body["total"].clone(),
        json!(appointments.body["appointments"].as_array().map(Vec::len)),
    )
}

#[tokio::test]
async fn injection_strings_match_as_text_or_are_refused() {
    let stores = Stores::seeded(60, 7).await;
    for store in stores.both() {
        let mut state = AppState::new(store, tokens());
        state.cache = ava_serve::cache::Cache::new(Duration::ZERO, ava_serve::cache::DEFAULT_BYTES);
        let server = Server::start_with(state).await;
        let before = counts(&server).await;
        let all = server
            .get_with("/api/admin/calls?page_size=100", ADMIN)
            .await
            .body["total"]
            .clone();
        for (i, evil) in HOSTILE.iter().enumerate() {
            let e = enc(evil);
            // Text parameters: matched as text.
            let search = server
                .get_with(&format!("/api/admin/calls?search={e}"), ADMIN)
                .await;
            assert_eq!(search.status, 200, "search {evil:?}: {}", search.text);
            assert_ne!(
                search.body["total"], all,
                "search {evil:?} matched everything"
            );
            let status = server
                .get_with(&format!("/api/appointments?status={e}"), ADMIN)
                .await;
            assert_eq!(status.status, 200, "status {evil:?}: {}", status.text);
            assert_eq!(status.body, json!({"appointments": []}), "status {evil:?}");
            // Everything else: refused, naming the parameter.
            for (path, loc) in [
                (
                    format!("/api/admin/calls?sort_by={e}"),
                    json!(["query", "sort_by"]),
                ),
                (
                    format!("/api/admin/calls?sort_order={e}"),
                    json!(["query", "sort_order"]),
                ),
                (
                    format!("/api/admin/calls?page={e}"),
                    json!(["query", "page"]),
                ),
                (
                    format!("/api/admin/calls?page_size={e}"),
                    json!(["query", "page_size"]),
                ),
                (
                    format!("/api/admin/metrics/overview?period={e}"),
                    json!(["query", "period"]),
                ),
                (
                    format!("/api/admin/analytics/daily?days={e}"),
                    json!(["query", "days"]),
                ),
                (
                    format!("/api/appointments?start_date={e}"),
                    json!(["query", "start_date"]),
                ),
                (
                    format!("/api/appointments?end_date={e}"),
                    json!(["query", "end_date"]),
                ),
                (format!("/api/admin/calls/{e}"), json!(["path", "call_id"])),
                (
                    format!("/api/admin/calls/{e}/transcript"),
                    json!(["path", "call_id"]),
                ),
                (
                    format!("/api/customers/{e}"),
                    json!(["path", "customer_id"]),
                ),
                (
                    format!("/api/customers/{e}/history"),
                    json!(["path", "customer_id"]),
                ),
            ] {
                let reply = server.get_with(&path, ADMIN).await;
                assert_eq!(reply.status, 422, "{path}: {}", reply.text);
                assert_eq!(reply.body["detail"][0]["loc"], loc, "{path}");
            }
            // JSON bodies: stored as text, read back as sent.
            let session = format!("{evil}-{i}");
            let started = server
                .post(
                    "/api/calls",
                    &json!({"session_id": session, "phone_number": "+1555010000"}),
                    Some(INGEST),
                )
                .await;
            assert_eq!(started.status, 201, "{evil:?}: {}", started.text);
            assert_eq!(started.body["session_id"], json!(session));
            let event = server
                .post(
                    &format!("/api/calls/{}/events", enc(&session)),
                    &json!({"event_type": evil, "data": {*evil: evil}}),
                    Some(INGEST),
                )
                .await;
            assert_eq!(event.status, 201, "{evil:?}: {}", event.text);
            let customer = server
                .post(
                    "/api/customers",
                    &json!({"name": evil, "phone": format!("+1 555 01{i:02}")}),
                    Some(INGEST),
                )
                .await;
            assert_eq!(customer.status, 201, "{evil:?}: {}", customer.text);
            assert_eq!(customer.body["name"], json!(evil.trim()));
            let unknown = server
                .post(
                    &format!("/api/calls/{e}x/end"),
                    &json!({"transcript": [], "function_calls": []}),
                    Some(INGEST),
                )
                .await;
            assert_eq!(unknown.status, 404, "{evil:?}: {}", unknown.text);
        }
        // Intact: every row still there, plus the calls started here.
        let after = counts(&server).await;
        assert_eq!(after.1, before.1);
        assert_eq!(
            after.0.as_i64().unwrap(),
            before.0.as_i64().unwrap() + HOSTILE.len() as i64
        );
        assert_eq!(server.get("/health").await.status, 200);
    }
}

#[tokio::test]
async fn bodies_are_bounded_and_checked() {
    let stores = Stores::empty().await;
    let server = Server::start(stores.sqlite_store(), tokens()).await;
    // Over 1 MiB: 413 with a detail, whether the length is announced or not.
    let big = "x".repeat((1 << 20) + 1);
    let body = json!({"session_id": "big", "phone_number": big}).to_string();
    let reply = server
        .send(
            server
                .http
                .post(format!("{}/api/calls", server.base))
                .bearer_auth(INGEST)
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    assert!(reply.body["detail"].is_string(), "{}", reply.text);
    let answer = raw(
        &server,
        format!(
            "POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "chunked: {answer}");
    assert!(answer.contains("{\"detail\":"), "chunked: {answer}");

    // Malformed JSON: 422 saying so.
    for bad in ["{", "{\"session_id\": }", "[1,2", "nul", "\u{0}", ""] {
        let reply = server
            .send(
                server
                    .http
                    .post(format!("{}/api/calls", server.base))
                    .bearer_auth(INGEST)
                    .body(bad),
            )
            .await;
        assert_eq!(reply.status, 422, "{bad:?}: {}", reply.text);
        assert_eq!(
            reply.body["detail"][0]["loc"],
            json!(["body", "body"]),
            "{bad:?}"
        );
        assert!(
            reply.body["detail"][0]["msg"]
                .as_str()
                .unwrap()
                .contains("JSON"),
            "{bad:?}"
        );
    }

    // Unknown fields: 422 naming the field.
    for (path, body) in [
        ("/api/calls", json!({"session_id": "u1", "is_admin": true})),
        (
            "/api/calls",
            json!({"session_id": "u2", "phone": "+15550100"}),
        ),
        (
            "/api/customers",
            json!({"name": "A", "phone": "+15550100", "role": "owner"}),
        ),
        (
            "/api/calls/u0/events",
            json!({"event_type": "x", "extra": 1}),
        ),
        (
            "/api/calls/u0/end",
            json!({"transcript": [], "function_calls": [], "outcome": "booked"}),
        ),
    ] {
        let reply = server.post(path, &body, Some(INGEST)).await;
        assert_eq!(reply.status, 422, "{path} {body}: {}", reply.text);
        let field = body
            .as_object()
            .unwrap()
            .keys()
            .find(|k| {
                ![
                    "session_id",
                    "name",
                    "phone",
                    "event_type",
                    "transcript",
                    "function_calls",
                ]
                .contains(&k.as_str())
                    || (path == "/api/calls" && k.as_str() == "phone")
            })
            .unwrap()
            .clone();
        assert_eq!(
            reply.body["detail"][0]["loc"],
            json!(["body", field]),
            "{path}: {}",
            reply.text
        );
    }
}

/// Sends `request` over a plain TCP connection and reads until the server closes it.
async fn raw(server: &Server, request: String) -> String {
    let addr = server.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Short limits, for the timeout tests.
async fn impatient() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let store = ava_api::Store::Sqlite(
        ava_api::store::SqliteStore::open(&dir.path().join("ava_database.db"), 2).unwrap(),
    );
    let mut state = AppState::new(store, tokens());
    state.limits.headers = Duration::from_millis(300);
    state.limits.request = Duration::from_millis(500);
    (dir, Server::start_with(state).await)
}

/// How long until the server closes a connection that sends `start` and then nothing.
async fn closed_after(server: &Server, start: &[u8]) -> (Duration, String) {
    let addr = server.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(start).await.unwrap();
    let began = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the server never closed the connection")
        .ok();
    (
        began.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let (_dir, server) = impatient().await;
    // Idle: connects and sends nothing.
    let (idle, _) = closed_after(&server, b"").await;
    assert!(
        idle < Duration::from_secs(3),
        "idle connection kept {idle:?}"
    );
    // Slow headers: half a request line, then nothing.
    let (slow, _) = closed_after(&server, b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
    assert!(slow < Duration::from_secs(3), "slow headers kept {slow:?}");
    // Slow body: the headers promise 100 bytes, 10 come.
    let (body, answer) = closed_after(
        &server,
        format!(
            "POST /api/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST}\r\n\
             Content-Length: 100\r\nConnection: close\r\n\r\n{{\"session_id"
        )
        .as_bytes(),
    )
    .await;
    assert!(body < Duration::from_secs(3), "slow body kept {body:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("{\"detail\":"), "{answer}");
    // A prompt client is served as usual.
    assert_eq!(server.get("/health").await.status, 200);
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let dir = tempfile::tempdir().unwrap();
    let store = || {
        ava_api::Store::Sqlite(
            ava_api::store::SqliteStore::open(&dir.path().join("ava_database.db"), 2).unwrap(),
        )
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    // None configured: no CORS headers, preflight or not.
    let closed = Server::start(store(), tokens()).await;
    for origin in ["https://evil.example", "https://admin.example.com"] {
        let get = closed
            .http
            .get(format!("{}/api/admin/calls", closed.base))
            .bearer_auth(ADMIN)
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200);
        assert_eq!(header(&get, "access-control-allow-origin"), None);
        let preflight = closed
            .http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/admin/calls", closed.base),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    }

    let mut state = AppState::new(store(), tokens());
    state.cors = ava_serve::cors_origins(&["https://admin.example.com".into(), " ".into()])
        .unwrap()
        .into();
    let open = Server::start_with(state).await;
    let get = |origin: &'static str| {
        open.http
            .get(format!("{}/api/admin/calls", open.base))
            .bearer_auth(ADMIN)
            .header("Origin", origin)
            .send()
    };
    let allowed = get("https://admin.example.com").await.unwrap();
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://admin.example.com")
    );
    let other = get("https://evil.example").await.unwrap();
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    let preflight = open
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/admin/calls", open.base),
        )
        .header("Origin", "https://admin.example.com")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://admin.example.com")
    );
    assert!(ava_serve::cors_origins(&["not an origin".into()]).is_err());
    assert!(ava_serve::cors_origins(&["https://a.example/path".into()]).is_err());
}
