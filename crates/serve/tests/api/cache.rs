//! The admin answers' cache: fresh answers served again, stale ones served while they
//! are recomputed, and every write through the server emptying it.

use std::time::{Duration, Instant};

use ava_serve::cache::Cache;
use ava_serve::{AppState, Tokens};
use serde_json::json;

use crate::support::*;

/// Polls `path` until `done` holds of its body, for at most `limit`.
async fn until(
    server: &Server,
    path: &str,
    limit: Duration,
    done: impl Fn(&Reply) -> bool,
) -> Reply {
    let start = Instant::now();
    loop {
        let reply = server.get(path).await;
        if done(&reply) || start.elapsed() > limit {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_changed_row_shows_after_the_ttl_and_a_write_through_the_server_at_once() {
    let stores = Stores::seeded(60, 21).await;
    let mut state = AppState::new(stores.pg_store(), Tokens::open());
    state.cache = Cache::new(Duration::from_millis(300), ava_serve::cache::DEFAULT_BYTES);
    let server = Server::start_with(state).await;
    let path = "/api/admin/calls/3";
    let outcome = |r: &Reply| r.body["call"]["outcome"].clone();
    let before = server.get(path).await;
    assert_eq!(before.status, 200, "{}", before.text);

    // Another program changes the row: the kept answer is served for now…
    let pg = stores.pg.client().await;
    pg.execute(
        "update call_sessions set outcome = 'changed-elsewhere' where id = 3",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(outcome(&server.get(path).await), outcome(&before));
    // …and the new one within the TTL and a recomputation.
    let after = until(&server, path, Duration::from_secs(5), |r| {
        outcome(r) == json!("changed-elsewhere")
    })
    .await;
    assert_eq!(
        outcome(&after),
        json!("changed-elsewhere"),
        "never refreshed"
    );

    // A write through the server empties the cache: the new call is listed at once.
    let list = "/api/admin/calls?page_size=100";
    let total = server.get(list).await.body["total"].as_i64().unwrap();
    let started = server
        .post("/api/calls", &json!({"session_id": "cache-test-1"}), None)
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    assert_eq!(
        server.get(list).await.body["total"].as_i64().unwrap(),
        total + 1
    );
}

#[tokio::test]
async fn answers_are_kept_only_when_they_succeed() {
    let stores = Stores::empty().await;
    let server = Server::start(stores.sqlite_store(), Tokens::open()).await;
    assert_eq!(server.get("/api/admin/calls/1").await.status, 404);
    let started = server
        .post("/api/calls", &json!({"session_id": "s-1"}), None)
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let id = started.body["id"].as_i64().unwrap();
    assert_eq!(
        server.get(&format!("/api/admin/calls/{id}")).await.status,
        200
    );
}
