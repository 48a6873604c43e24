//! The call log as a CSV download, on both stores, against the log's own pages.

use ava_serve::Tokens;
use serde_json::{json, Value};

use crate::support::*;

/// The CSV of `query` from `server`: status, content type, disposition, body.
async fn csv(server: &Server, query: &[(&str, &str)]) -> (u16, String, String, String) {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/admin/calls/export.csv", server.base),
        query,
    )
    .unwrap();
    let reply = server.http.get(url).send().await.unwrap();
    let header = |name: &str| {
        reply
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (status, kind, disposition) = (
        reply.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (status, kind, disposition, reply.text().await.unwrap())
}

/// Every call of the log for `query`, page after page, as the API sends them.
async fn every_page(server: &Server, query: &[(&str, &str)]) -> Vec<Value> {
    let mut calls = Vec::new();
    for page in 1.. {
        let mut q: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
        q.push(("page_size", "100".into()));
        q.push(("page", page.to_string()));
        let url = reqwest::Url::parse_with_params(&format!("{}/api/admin/calls", server.base), &q)
            .unwrap();
        let reply = server.send(server.http.get(url)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let found = reply.body["calls"].as_array().unwrap().clone();
        if found.is_empty() {
            return calls;
        }
        calls.extend(found);
    }
    calls
}

/// A JSON value as the CSV writes it.
fn field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) if text.starts_with(['=', '@', '\t', '\r']) => format!("'{text}"),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_export_is_every_page_of_the_log_as_csv_alike_on_both_stores() {
    let stores = Stores::seeded(230, 41).await;
    // Names a CSV must quote, and one a spreadsheet would run as a formula.
    let names = [
        "Ortiz, \"Lulu\"\nsecond line",
        "=HYPERLINK(\"http://evil.example\",\"x\")",
    ];
    let client = stores.pg.client().await;
    let lite = rusqlite::Connection::open(&stores.sqlite).unwrap();
    // Two customers with calls.
    let ids = pg_ids(
        &stores,
        "select customer_id from call_sessions where customer_id is not null \
         group by 1 order by 1 limit 2",
    )
    .await;
    for (id, name) in ids.into_iter().zip(names) {
        client
            .execute(
                "update customers set name = $1 where id = $2",
                &[&name, &id],
            )
            .await
            .unwrap();
        lite.execute(
            "update customers set name = ?1 where id = ?2",
            rusqlite::params![name, id],
        )
        .unwrap();
    }
    let [pg, sqlite] = stores.both();
    let servers = [
        Server::start(pg, Tokens::open()).await,
        Server::start(sqlite, Tokens::open()).await,
    ];
    let mut seen_guard = false;
    for query in [
        vec![],
        vec![
            ("search", "a"),
            ("sort_by", "duration_seconds"),
            ("sort_order", "asc"),
        ],
        vec![("sort_by", "satisfaction_score")],
    ] {
        let (status, kind, disposition, text) = csv(&servers[0], &query).await;
        assert_eq!(status, 200, "{query:?}: {text}");
        assert_eq!(kind, "text/csv; charset=utf-8");
        assert_eq!(disposition, "attachment; filename=\"calls.csv\"");
        assert_eq!(
            csv(&servers[1], &query).await.3,
            text,
            "{query:?}: the stores differ"
        );
        assert!(text.ends_with("\r\n"), "{query:?}: records end with CRLF");

        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, ava_api::read::list_keys());
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let calls = every_page(&servers[0], &query).await;
        assert!(calls.len() > 20, "{query:?}: {} calls", calls.len());
        assert_eq!(records.len(), calls.len(), "{query:?}");
        for (record, call) in records.iter().zip(&calls) {
            let expected: Vec<String> = header.iter().map(|k| field(&call[k])).collect();
            assert_eq!(record, &expected, "{query:?}");
            seen_guard |= record.last().is_some_and(|n| n.starts_with("'="));
        }
    }
    assert!(seen_guard, "the formula-like name was not exported");
    assert!(
        csv(&servers[0], &[])
            .await
            .3
            .contains(&format!("\"{}\"", names[0].replace('"', "\"\""))),
        "the name with a comma, quotes and a line break is quoted as RFC 4180 asks"
    );
}

#[tokio::test]
async fn an_export_takes_a_search_and_a_sort_but_no_page() {
    let stores = Stores::seeded(20, 42).await;
    let server = Server::start(stores.sqlite_store(), Tokens::open()).await;
    for (query, name) in [
        (vec![("page", "2")], "page"),
        (vec![("sort_by", "phone_number")], "sort_by"),
    ] {
        let (status, _, _, text) = csv(&server, &query).await;
        assert_eq!(status, 422, "{query:?}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["detail"][0]["loc"], json!(["query", name]), "{text}");
    }
}
