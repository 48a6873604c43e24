//! The read routes on both stores.

use ava_serve::Tokens;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn both_stores_serve_the_same_json() {
    let stores = Stores::seeded(300, 11).await;
    let [pg, lite] = stores.both();
    let (pg, lite) = (
        Server::start(pg, Tokens::open()).await,
        Server::start(lite, Tokens::open()).await,
    );
    for path in [
        "/api/admin/metrics/overview?period=month",
        "/api/admin/calls?page_size=7&page=2",
        "/api/admin/calls/3",
        "/api/customers/4/history",
    ] {
        let (a, b) = (pg.get(path).await, lite.get(path).await);
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        assert_eq!(a.text, b.text, "{path}");
    }
}

// The seeded files hold every awkward row the tests below need (non-ASCII customer
// names, legacy plain-text transcripts, calls with no customer, with and without a
// phone): the seed writes them at fixed ids. The tests find them with SQL on the
// Postgres copy and assert they are there, then ask both servers.

/// [`same`] on the call list.
async fn calls_page(servers: &[Server; 2], query: &[(&str, String)]) -> Value {
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    same(servers, "/api/admin/calls", &query).await
}

/// The ids of the calls of a call-list answer.
fn call_ids(body: &Value) -> Vec<i64> {
    body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn one_request_suite_gives_the_same_json_on_both_stores() {
    let stores = Stores::seeded(300, 12).await;
    let servers = servers(&stores).await;

    let names = pg_texts(
        &stores,
        "select c.name from customers c where exists \
         (select 1 from call_sessions s where s.customer_id = c.id) order by c.id",
    )
    .await;
    let words: Vec<&str> = names.iter().flat_map(|n| n.split_whitespace()).collect();
    let ascii = words
        .iter()
        .find(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(|w| w[1..4].to_string())
        .expect("a customer with calls has a plain ASCII name");
    // A word with a letter outside ASCII that has an upper and a lower case (é/É).
    let accented = words
        .iter()
        .find(|w| {
            w.chars()
                .any(|c| !c.is_ascii() && c.to_uppercase().ne(c.to_lowercase()))
        })
        .map(|w| w.to_string())
        .expect("a customer with calls has a non-ASCII name");
    let phone = pg_texts(
        &stores,
        "select phone_number from call_sessions where phone_number is not null order by id limit 1",
    )
    .await
    .remove(0);
    let digits = phone[phone.len() - 4..].to_string();

    let searches = [
        None,
        Some(digits.clone()),
        Some(ascii.to_lowercase()),
        Some(ascii.to_uppercase()),
        Some(accented.to_lowercase()),
        Some(accented.to_uppercase()),
        Some("%_".to_string()),
        Some("+1".to_string()),
    ];
    let mut totals = Vec::new();
    for search in &searches {
        for sort_by in ["started_at", "duration_seconds", "satisfaction_score"] {
            for sort_order in ["desc", "asc"] {
                let page = |n: i64| {
                    let mut q = vec![
                        ("page", n.to_string()),
                        ("page_size", "20".to_string()),
                        ("sort_by", sort_by.to_string()),
                        ("sort_order", sort_order.to_string()),
                    ];
                    if let Some(s) = search {
                        q.push(("search", s.clone()));
                    }
                    q
                };
                let first = calls_page(&servers, &page(1)).await;
                // Asked again with its total known, a search whose matches are dense is
                // walked along the sort's index instead of collected: the same page.
                let again = calls_page(&servers, &page(1)).await;
                assert_eq!(again, first, "{search:?} by {sort_by} {sort_order}, again");
                let last = first["total_pages"].as_i64().unwrap().max(1);
                let mut pages = vec![2, last, last + 1];
                pages.dedup();
                for n in pages.into_iter().filter(|&n| n > 1) {
                    let body = calls_page(&servers, &page(n)).await;
                    if n > last {
                        assert_eq!(body["calls"], json!([]), "page {n} of {last}");
                    }
                }
                totals.push((search.clone(), first["total"].as_i64().unwrap(), first));
            }
        }
    }
    // Search ignores case, ASCII or not, and takes % and _ literally.
    let found = |s: &str| {
        totals
            .iter()
            .filter(|(search, _, _)| search.as_deref() == Some(s))
            .map(|(_, total, first)| (*total, call_ids(first)))
            .collect::<Vec<_>>()
    };
    for (lower, upper) in [
        (ascii.to_lowercase(), ascii.to_uppercase()),
        (accented.to_lowercase(), accented.to_uppercase()),
    ] {
        let (a, b) = (found(&lower), found(&upper));
        assert!(a[0].0 > 0, "{lower:?} finds nothing");
        assert_eq!(a, b, "{lower:?} and {upper:?} find different calls");
    }
    assert!(found(&digits)[0].0 > 0, "{digits} finds nothing");
    assert!(found("%_").iter().all(|(total, _)| *total == 0));

    for period in ["today", "week", "month"] {
        same(
            &servers,
            "/api/admin/metrics/overview",
            &[("period", period)],
        )
        .await;
    }
    same(&servers, "/api/admin/metrics/overview", &[]).await;
    for days in ["1", "7", "30", "90"] {
        same(&servers, "/api/admin/analytics/daily", &[("days", days)]).await;
    }
    same(&servers, "/api/admin/analytics/daily", &[]).await;
    same(&servers, "/api/appointments", &[]).await;
    for status in pg_texts(
        &stores,
        "select distinct status from appointments where status is not null",
    )
    .await
    {
        same(&servers, "/api/appointments", &[("status", &status)]).await;
    }
    let range = same(
        &servers,
        "/api/appointments",
        &[
            (
                "start_date",
                &format!("{}T00:00:00Z", end() - chrono::Days::new(10)),
            ),
            (
                "end_date",
                &format!("{}T12:00:00+00:00", end() + chrono::Days::new(10)),
            ),
        ],
    )
    .await;
    assert!(!range["appointments"].as_array().unwrap().is_empty());
    for id in (1..=300).step_by(7) {
        same(&servers, &format!("/api/admin/calls/{id}"), &[]).await;
        same(&servers, &format!("/api/admin/calls/{id}/transcript"), &[]).await;
    }
    for id in (1..=60).step_by(3) {
        same(&servers, &format!("/api/customers/{id}"), &[]).await;
        same(&servers, &format!("/api/customers/{id}/history"), &[]).await;
    }
}

#[tokio::test]
async fn bad_parameters_are_a_422_naming_them_and_unknown_ids_a_404() {
    let stores = Stores::seeded(200, 13).await;
    for server in servers(&stores).await {
        for (path, location, name) in [
            ("/api/admin/calls?page=0", "query", "page"),
            ("/api/admin/calls?page=x", "query", "page"),
            ("/api/admin/calls?page_size=101", "query", "page_size"),
            ("/api/admin/calls?page_size=0", "query", "page_size"),
            ("/api/admin/calls?sort_by=bogus", "query", "sort_by"),
            ("/api/admin/calls?sort_order=up", "query", "sort_order"),
            ("/api/admin/metrics/overview?period=year", "query", "period"),
            ("/api/admin/analytics/daily?days=0", "query", "days"),
            ("/api/admin/analytics/daily?days=91", "query", "days"),
            ("/api/admin/analytics/daily?days=x", "query", "days"),
            (
                "/api/appointments?start_date=garbage",
                "query",
                "start_date",
            ),
            ("/api/appointments?end_date=2025-13-45", "query", "end_date"),
            ("/api/admin/calls/abc", "path", "call_id"),
            ("/api/admin/calls/1.5/transcript", "path", "call_id"),
            ("/api/customers/abc", "path", "customer_id"),
            ("/api/customers/x/history", "path", "customer_id"),
        ] {
            let reply = server.get(path).await;
            assert_eq!(reply.status, 422, "{path}: {}", reply.text);
            let detail = &reply.body["detail"];
            assert_eq!(
                detail.as_array().map(Vec::len),
                Some(1),
                "{path}: {}",
                reply.text
            );
            assert_eq!(detail[0]["loc"], json!([location, name]), "{path}");
            assert_eq!(detail[0]["type"], "value_error", "{path}");
            assert!(detail[0]["msg"].is_string(), "{path}");
        }
        for (path, what) in [
            ("/api/admin/calls/999999", "Call not found"),
            ("/api/admin/calls/999999/transcript", "Call not found"),
            ("/api/admin/calls/-1", "Call not found"),
            ("/api/customers/999999", "Customer not found"),
            ("/api/customers/999999/history", "Customer not found"),
        ] {
            let reply = server.get(path).await;
            assert_eq!(reply.status, 404, "{path}: {}", reply.text);
            assert_eq!(reply.body, json!({ "detail": what }), "{path}");
        }
    }
}

#[tokio::test]
async fn legacy_transcripts_and_calls_without_a_customer_are_served_alike() {
    let stores = Stores::seeded(200, 14).await;
    let servers = servers(&stores).await;
    let client = stores.pg.client().await;

    // A transcript from before the app stored JSON: one entry, not a 500.
    let legacy = client
        .query(
            "select id, transcript from call_sessions \
             where transcript is not null and transcript not like '[%' order by id limit 1",
            &[],
        )
        .await
        .unwrap();
    let (id, text): (i64, String) = (legacy[0].get(0), legacy[0].get(1));
    let want = json!([{"speaker": "unknown", "text": text, "timestamp": null}]);
    let detail = same(&servers, &format!("/api/admin/calls/{id}"), &[]).await;
    assert_eq!(detail["transcript"], want);
    let transcript = same(&servers, &format!("/api/admin/calls/{id}/transcript"), &[]).await;
    assert_eq!(transcript, json!({"call_id": id, "transcript": want}));

    // A call with no customer: `customer` is null, and search finds it by its phone.
    let anonymous = client
        .query(
            "select id, phone_number from call_sessions \
             where customer_id is null and phone_number is not null order by id limit 1",
            &[],
        )
        .await
        .unwrap();
    let (id, phone): (i64, String) = (anonymous[0].get(0), anonymous[0].get(1));
    let detail = same(&servers, &format!("/api/admin/calls/{id}"), &[]).await;
    assert_eq!(detail["customer"], Value::Null);
    assert_eq!(detail["call"]["phone_number"], phone.as_str());
    for search in [phone.as_str(), &phone[phone.len() - 7..]] {
        let found = same(
            &servers,
            "/api/admin/calls",
            &[("search", search), ("page_size", "100")],
        )
        .await;
        let call = found["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("search {search:?} does not find call {id}: {found}"));
        assert_eq!(call["customer_id"], Value::Null);
    }

    // One with neither a customer nor a phone.
    let nobody = client
        .query(
            "select id from call_sessions \
             where customer_id is null and phone_number is null order by id limit 1",
            &[],
        )
        .await
        .unwrap();
    let id: i64 = nobody[0].get(0);
    let detail = same(&servers, &format!("/api/admin/calls/{id}"), &[]).await;
    assert_eq!(detail["customer"], Value::Null);
    assert_eq!(detail["call"]["phone_number"], Value::Null);
}

#[tokio::test]
async fn empty_stores_answer_alike() {
    let stores = Stores::empty().await;
    let servers = servers(&stores).await;
    // The SQLite store created its file, with the app's schema.
    assert!(stores.dir.path().join("ava_database.db").is_file());
    for period in ["today", "week", "month"] {
        let overview = same(
            &servers,
            "/api/admin/metrics/overview",
            &[("period", period)],
        )
        .await;
        assert_eq!(overview["total_calls"], 0);
        assert_eq!(overview["conversion_rate"], 0.0);
    }
    let calls = same(&servers, "/api/admin/calls", &[("search", "é")]).await;
    assert_eq!(
        calls,
        json!({"total": 0, "page": 1, "page_size": 50, "total_pages": 0, "calls": []})
    );
    same(&servers, "/api/admin/analytics/daily", &[("days", "90")]).await;
    same(&servers, "/api/appointments", &[]).await;
    for server in &servers {
        assert_eq!(server.get("/api/customers/1").await.status, 404);
        assert_eq!(server.get("/api/admin/calls/1").await.status, 404);
    }
}

/// The call log's `total` stays exact without the answer cache: on Postgres a total
/// is counted again only when the database changed since it was counted (the statement's
/// snapshot differs from the one recorded), and then it is. Pages of one query share
/// their total; a write by another program anywhere shows at once.
#[tokio::test]
async fn totals_stay_exact_when_another_program_writes() {
    let stores = Stores::seeded(120, 12).await;
    let pg = stores.pg.client().await;
    let lite = rusqlite::Connection::open(&stores.sqlite).unwrap();
    let servers: Vec<Server> = {
        let mut servers = Vec::new();
        for store in stores.both() {
            let mut state = ava_serve::AppState::new(store, Tokens::open());
            state.cache = ava_serve::cache::Cache::new(std::time::Duration::ZERO, 0);
            servers.push(Server::start_with(state).await);
        }
        servers
    };
    let total = |body: &Value| body["total"].as_i64().unwrap();
    let search = "/api/admin/calls?page_size=5&search=tot-test";
    for server in &servers {
        let first = server.get("/api/admin/calls?page_size=10").await;
        assert_eq!(first.status, 200, "{}", first.text);
        let all = total(&first.body);
        // Another page, another sort: the same total.
        let other = server
            .get("/api/admin/calls?page_size=10&page=3&sort_by=duration_seconds&sort_order=asc")
            .await;
        assert_eq!(total(&other.body), all, "{}", other.text);
        assert_eq!(total(&server.get(search).await.body), 0);
    }
    // Another program adds a call that matches the search, and changes a customer
    // (a write elsewhere in the database).
    pg.batch_execute(
        "insert into call_sessions (session_id, phone_number, started_at) \
         values ('tot-1', '+1 555 tot-test', now()); \
         update customers set notes = 'changed' where id = 1",
    )
    .await
    .unwrap();
    lite.execute_batch(
        "insert into call_sessions (session_id, phone_number, started_at) \
         values ('tot-1', '+1 555 tot-test', '2025-01-01 10:00:00.000000')",
    )
    .unwrap();
    for (server, name) in servers.iter().zip(["postgres", "sqlite"]) {
        let before = 120;
        for path in [
            "/api/admin/calls?page_size=10",
            "/api/admin/calls?page_size=10&page=3&sort_by=duration_seconds&sort_order=asc",
        ] {
            let reply = server.get(path).await;
            assert_eq!(
                total(&reply.body),
                before + 1,
                "{name} {path}: {}",
                reply.text
            );
        }
        assert_eq!(total(&server.get(search).await.body), 1, "{name}");
    }
    // A delete through another program: counted again, on every page.
    pg.batch_execute("delete from call_sessions where session_id = 'tot-1'")
        .await
        .unwrap();
    assert_eq!(total(&servers[0].get(search).await.body), 0);
    assert_eq!(
        total(&servers[0].get("/api/admin/calls?page=2").await.body),
        120
    );
}

/// The pooled Postgres sessions run without incremental sorts, so that a search walking
/// the call log's (column, id) index in order stays on it (`ava_api::store`).
#[tokio::test]
async fn pooled_sessions_run_without_incremental_sorts() {
    let stores = Stores::seeded(5, 2).await;
    let store = stores.pg_store();
    for _ in 0..3 {
        let rows = store
            .rows(
                "SELECT current_setting('enable_incremental_sort')",
                &[],
                &[ava_catalog::Kind::Text],
            )
            .await
            .unwrap();
        assert_eq!(rows[0][0], ava_api::Value::Text("off".into()));
    }
}

/// An unfiltered calls page's statement has its page in its text (so that Postgres plans
/// it once per connection, not at every request): asked for page after page, a pooled
/// connection still keeps at most `MAX_STATEMENTS` prepared, and answers every page.
#[tokio::test]
async fn a_connection_keeps_a_bounded_number_of_statements_whatever_pages_are_asked() {
    let stores = Stores::seeded(5, 3).await;
    let one = ava_api::Store::Postgres(
        ava_api::store::PgStore::new(&stores.pg.url, 1, "ava serve tests").unwrap(),
    );
    let server = Server::start(one.clone(), Tokens::open()).await;
    let prepared = || async {
        let rows = one
            .rows(
                "SELECT count(*) FROM pg_prepared_statements",
                &[],
                &[ava_catalog::Kind::Id],
            )
            .await
            .unwrap();
        match rows[0][0] {
            ava_api::Value::Int(n) => n as usize,
            ref other => panic!("a count, not {other:?}"),
        }
    };
    let mut most = 0;
    for page in 1..=ava_api::store::MAX_STATEMENTS + 40 {
        let reply = server
            .get(&format!("/api/admin/calls?page={page}&page_size=1"))
            .await;
        assert_eq!(reply.status, 200, "page {page}: {}", reply.text);
        assert_eq!(reply.body["total"], 5, "page {page}: {}", reply.text);
        assert_eq!(
            reply.body["calls"].as_array().unwrap().len(),
            usize::from(page <= 5)
        );
        most = most.max(prepared().await);
    }
    // Past the bound, the cache was emptied and filled again.
    assert!(
        most > 50,
        "{most} statements: the pages did not each prepare their own"
    );
    assert!(
        most <= ava_api::store::MAX_STATEMENTS + 2,
        "{most} statements prepared on one connection"
    );
}

/// The call log names each call's customer (the dashboard showed "Customer #273" where
/// the name was known), `null` for a call without one, alike on both stores.
#[tokio::test]
async fn the_call_log_names_each_calls_customer() {
    let stores = Stores::seeded(200, 13).await;
    let servers = servers(&stores).await;
    let client = stores.pg.client().await;
    let mut named = 0;
    for query in [
        vec![("page_size", "100".to_string())],
        vec![("page_size", "100".into()), ("page", "2".into())],
        vec![("page_size", "100".into()), ("search", "a".into())],
    ] {
        let body = calls_page(&servers, &query).await;
        for call in body["calls"].as_array().unwrap() {
            let expected: Option<String> = match call["customer_id"].as_i64() {
                Some(id) => client
                    .query_opt("select name from customers where id = $1", &[&id])
                    .await
                    .unwrap()
                    .map(|row| row.get(0)),
                None => None,
            };
            named += usize::from(expected.is_some());
            assert_eq!(call["customer_name"], json!(expected), "{call}");
        }
    }
    assert!(
        named > 50,
        "only {named} calls with a customer: the seed moved"
    );
}

/// Calls without the sorted value come after all others in both directions, alike on
/// both stores (the demo's first screen showed ten calls without a start time at the top
/// of "Recent calls"); on Postgres each direction reads an index, not a sort.
#[tokio::test]
async fn calls_without_the_sorted_value_come_last_either_way() {
    let stores = Stores::seeded(300, 14).await;
    let servers = servers(&stores).await;
    let client = stores.pg.client().await;
    for column in ["started_at", "duration_seconds", "satisfaction_score"] {
        let missing: i64 = client
            .query_one(
                &format!("select count(*) from call_sessions where {column} is null"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(missing > 0, "the seed has no call without {column}");
        for order in ["desc", "asc"] {
            let query = [
                ("page_size", "100".to_string()),
                ("sort_by", column.to_string()),
                ("sort_order", order.to_string()),
            ];
            let first = calls_page(&servers, &query).await;
            let total = first["total"].as_i64().unwrap();
            let mut last_page = query.to_vec();
            last_page.push(("page", first["total_pages"].to_string()));
            let last = calls_page(&servers, &last_page).await;
            // `duration_seconds` is sent as 0 where none is stored: ask the database.
            let nulls = pg_ids(
                &stores,
                &format!("select id from call_sessions where {column} is null"),
            )
            .await;
            let (first_ids, last_ids) = (call_ids(&first), call_ids(&last));
            assert!(
                first_ids.iter().all(|id| !nulls.contains(id)),
                "{column} {order}: a call without it on the first page"
            );
            let tail = &last_ids[last_ids.len() - (missing as usize).min(last_ids.len())..];
            assert!(
                tail.iter().all(|id| nulls.contains(id)),
                "{column} {order}: the last page does not end with the {missing} calls \
                 without it (of {total}): {last_ids:?}"
            );
            // The plan reads an index in the page's order.
            let direction = if order == "desc" {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS LAST"
            };
            let plan = plan(
                &client,
                &format!(
                    "select id from call_sessions order by {column} {direction}, id {order} \
                     limit 50"
                ),
            )
            .await;
            assert!(
                plan.contains("Index") && !plan.contains("Sort"),
                "{column} {order}: {plan}"
            );
        }
    }
}
