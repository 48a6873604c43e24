//! What an attacker and the original's clients would try on a server facing the
//! internet: parameters the routes do not take, repeated ones, NUL, bytes that are not
//! UTF-8, errors raised outside the handlers, what `/health` tells, the cache's bound
//! and keys, and the original's answers (history's call columns, Python's rounding).

use std::time::Duration;

use ava_api::read::LIST_COLUMNS;
use ava_catalog::TABLES;
use ava_serve::{AppState, Tokens};
use serde_json::{json, Value};

use crate::support::*;

const ADMIN: &str = "exposure-admin";
const INGEST: &str = "exposure-ingest";

fn tokens() -> Tokens {
    Tokens {
        admin: Some(ADMIN.into()),
        ingest: Some(INGEST.into()),
        ..Tokens::default()
    }
}

/// A guarded server on each store (Postgres first), with `state` adjusted by `tune`.
async fn servers(stores: &Stores, tune: impl Fn(&mut AppState)) -> [Server; 2] {
    let [pg, lite] = stores.both();
    let mut pg = AppState::new(pg, tokens());
    let mut lite = AppState::new(lite, tokens());
    tune(&mut pg);
    tune(&mut lite);
    [Server::start_with(pg).await, Server::start_with(lite).await]
}

/// The answer's `Cache-Control` and `Content-Type`.
async fn headers(server: &Server, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = server.http.get(format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    (
        response.status().as_u16(),
        header(reqwest::header::CACHE_CONTROL),
        header(reqwest::header::CONTENT_TYPE),
    )
}

#[tokio::test]
async fn bad_parameters_are_the_same_422_on_both_stores() {
    let stores = Stores::seeded(60, 41).await;
    let servers = servers(&stores, |_| {}).await;
    for (path, loc, kind) in [
        (
            "/api/admin/calls?search=%00",
            json!(["query", "search"]),
            "value_error",
        ),
        (
            "/api/appointments?status=a%00",
            json!(["query", "status"]),
            "value_error",
        ),
        (
            "/api/admin/calls?bust=1",
            json!(["query", "bust"]),
            "extra_forbidden",
        ),
        (
            "/api/admin/calls/1?x=1",
            json!(["query", "x"]),
            "extra_forbidden",
        ),
        (
            "/api/admin/calls?search=%ff",
            json!(["query", "query"]),
            "value_error",
        ),
        (
            "/api/admin/calls/%ff",
            json!(["path", "call_id"]),
            "value_error",
        ),
        (
            "/api/customers/%ff/history",
            json!(["path", "customer_id"]),
            "value_error",
        ),
        (
            "/api/admin/calls?page=9223372036854775808",
            json!(["query", "page"]),
            "value_error",
        ),
        ("/api/appointments?status=", json!(null), ""),
    ] {
        let [pg, lite] = [
            servers[0].get_with(path, ADMIN).await,
            servers[1].get_with(path, ADMIN).await,
        ];
        assert_eq!(pg.text, lite.text, "{path}: the stores differ");
        if loc.is_null() {
            // An empty value is no filter.
            assert_eq!(pg.status, 200, "{path}: {}", pg.text);
            continue;
        }
        assert_eq!(pg.status, 422, "{path}: {}", pg.text);
        assert_eq!(pg.body["detail"][0]["loc"], loc, "{path}");
        assert_eq!(pg.body["detail"][0]["type"], kind, "{path}");
    }
    // An over-long status is refused as the document says (varchar(50)).
    let long = format!("/api/appointments?status={}", "a".repeat(51));
    assert_eq!(servers[0].get_with(&long, ADMIN).await.status, 422);
}

#[tokio::test]
async fn a_repeated_parameter_takes_its_last_value() {
    let stores = Stores::seeded(60, 42).await;
    let servers = servers(&stores, |_| {}).await;
    for server in &servers {
        let twice = server
            .get_with("/api/admin/calls?page_size=5&page=1&page=2", ADMIN)
            .await;
        let once = server
            .get_with("/api/admin/calls?page_size=5&page=2", ADMIN)
            .await;
        assert_eq!(twice.status, 200, "{}", twice.text);
        assert_eq!(twice.body["page"], 2);
        assert_eq!(twice.text, once.text);
    }
}

#[tokio::test]
async fn every_error_is_detail_json() {
    let stores = Stores::seeded(20, 43).await;
    let servers = servers(&stores, |state| state.limits.body = 1024).await;
    let server = &servers[0];
    let checks: [(reqwest::RequestBuilder, u16); 6] = [
        (
            server.http.get(format!("{}/api/admin/calls", server.base)),
            401,
        ),
        (
            server.http.get(format!("{}/no/such/route", server.base)),
            404,
        ),
        (
            server
                .http
                .delete(format!("{}/api/admin/calls", server.base))
                .bearer_auth(ADMIN),
            405,
        ),
        (
            server
                .http
                .post(format!("{}/api/customers", server.base))
                .bearer_auth(INGEST)
                .body(vec![b' '; 4096]),
            413,
        ),
        (
            server
                .http
                .get(format!("{}/api/admin/calls/%ff", server.base))
                .bearer_auth(ADMIN),
            422,
        ),
        (
            server
                .http
                .post(format!("{}/api/calls", server.base))
                .bearer_auth(INGEST)
                .json(&json!({"session_id": "s", "extra": 1})),
            422,
        ),
    ];
    for (request, status) in checks {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(kind, "application/json", "{status}");
        let body: Value = response.json().await.unwrap();
        assert!(!body["detail"].is_null(), "{status}: {body}");
    }
}

#[tokio::test]
async fn health_tells_only_the_guard_where_the_store_is() {
    let stores = Stores::seeded(10, 44).await;
    for server in servers(&stores, |_| {}).await {
        let open = server.get("/health").await;
        assert_eq!(open.status, 200);
        let keys: Vec<&String> = open.body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "store"], "{}", open.text);
        assert!(!open.text.contains("127.0.0.1") && !open.text.contains(".db"));
        assert_eq!(server.get("/api/admin/health").await.status, 401);
        let detailed = server.get_with("/api/admin/health", ADMIN).await;
        assert_eq!(detailed.status, 200);
        assert!(detailed.body["database"].is_string(), "{}", detailed.text);
        assert_eq!(detailed.body["status"], "healthy");
    }
}

#[tokio::test]
async fn api_answers_are_never_stored_by_browsers() {
    let stores = Stores::seeded(10, 45).await;
    let servers = servers(&stores, |_| {}).await;
    for (path, token, status) in [
        ("/api/admin/calls", Some(ADMIN), 200),
        ("/api/admin/calls", None, 401),
        ("/api/admin/calls?bust=1", Some(ADMIN), 422),
        ("/api/customers/1", Some(ADMIN), 200),
    ] {
        let (got, cache_control, _) = headers(&servers[0], path, token).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(cache_control, "no-store", "{path}");
    }
}

/// Distinct questions cannot grow the cache past its bound, spellings of one question
/// share one entry, and a query the route refuses is never kept.
#[tokio::test]
async fn the_cache_is_bounded_in_bytes_and_keyed_on_checked_parameters() {
    let stores = Stores::seeded(60, 46).await;
    let bound = 256 * 1024;
    let state = AppState {
        cache: ava_serve::cache::Cache::new(Duration::from_secs(60), bound),
        ..AppState::new(stores.pg_store(), tokens())
    };
    let cache = state.cache.clone();
    let server = Server::start_with(state).await;
    for bust in 0..50 {
        let reply = server
            .get_with(&format!("/api/admin/calls?bust={bust}"), ADMIN)
            .await;
        assert_eq!(reply.status, 422);
    }
    assert_eq!(cache.weight().await, 0, "refused queries were kept");
    // Answers of up to a sixteenth of the bound are kept: pages of 5 calls.
    let first = server
        .get_with("/api/admin/calls?page=1&page_size=5", ADMIN)
        .await;
    let one = cache.weight().await;
    assert!(one > first.text.len() as u64, "nothing kept: {one}");
    for spelling in [
        "/api/admin/calls?page_size=5&page=1",
        "/api/admin/calls?page=2&page_size=5&page=1",
        "/api/admin/calls?page_size=5&page=1&page=1",
    ] {
        let again = server.get_with(spelling, ADMIN).await;
        assert_eq!(again.text, first.text, "{spelling}");
    }
    assert_eq!(cache.weight().await, one, "a spelling took a second entry");
    for n in 0..400 {
        let reply = server
            .get_with(&format!("/api/admin/calls?page_size=5&page={n}"), ADMIN)
            .await;
        assert!(reply.status == 200 || n == 0, "{}", reply.text);
    }
    let held = cache.weight().await;
    assert!(held <= bound, "{held} bytes held, bound {bound}");
}

/// `/api/customers/{id}/history` sends every column of each call, as the original did.
#[tokio::test]
async fn history_sends_every_call_column_on_both_stores() {
    let stores = Stores::seeded(80, 47).await;
    let servers = servers(&stores, |_| {}).await;
    let customer: i64 = stores
        .pg
        .client()
        .await
        .query_one(
            "select customer_id from call_sessions where customer_id is not null \
             order by id limit 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let path = format!("/api/customers/{customer}/history");
    let [pg, lite] = [
        servers[0].get_with(&path, ADMIN).await,
        servers[1].get_with(&path, ADMIN).await,
    ];
    assert_eq!(pg.status, 200, "{}", pg.text);
    assert_eq!(pg.text, lite.text);
    let sessions = TABLES.iter().find(|t| t.name == "call_sessions").unwrap();
    let calls = pg.body["calls"].as_array().unwrap();
    assert!(!calls.is_empty());
    for call in calls {
        let keys: Vec<&str> = call
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for column in sessions.columns {
            assert!(
                keys.contains(&column.name),
                "{} missing: {call}",
                column.name
            );
        }
        assert!(keys.len() > LIST_COLUMNS.len());
    }
}

/// Python's `round(x, 2)`: one booking in 32 calls is a 3.12 % conversion rate (3.125
/// rounds half to even), on both stores, through the write API.
#[tokio::test]
async fn rates_round_as_the_original_did() {
    let stores = Stores::empty().await;
    for server in servers(&stores, |state| {
        state.cache = ava_serve::cache::Cache::new(Duration::ZERO, 1);
    })
    .await
    {
        for i in 0..32 {
            let session = format!("round-{i}");
            let started = server
                .post("/api/calls", &json!({"session_id": session}), Some(INGEST))
                .await;
            assert_eq!(started.status, 201, "{}", started.text);
            let function = if i == 0 {
                "book_appointment"
            } else {
                "get_business_info"
            };
            let ended = server
                .post(
                    &format!("/api/calls/{session}/end"),
                    &json!({"transcript": [], "function_calls": [{"function": function}]}),
                    Some(INGEST),
                )
                .await;
            assert_eq!(ended.status, 200, "{}", ended.text);
        }
        let overview = server
            .get_with("/api/admin/metrics/overview?period=today", ADMIN)
            .await;
        assert_eq!(overview.body["total_calls"], 32, "{}", overview.text);
        assert_eq!(
            overview.body["conversion_rate"],
            json!(3.12),
            "{}",
            overview.text
        );
    }
}
