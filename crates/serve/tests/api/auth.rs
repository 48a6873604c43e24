//! Who may call what, and the API's own description: admin routes need the admin token,
//! write routes the ingest token, `/health`, `/openapi.json` and `/docs` need none; the
//! server will not listen beyond loopback without tokens; `/openapi.json` describes every
//! route (rows from the catalog, rules as enforced) and `/docs` works offline.

use ava_api::read::LIST_COLUMNS;
use ava_api::store::SqliteStore;
use ava_api::Store;
use ava_catalog::Kind;
use ava_serve::auth::GuardError;
use ava_serve::{AppState, ServeError, Tokens};
use serde_json::{json, Value};

use crate::support::*;

const ADMIN: &str = "a-secret";
const INGEST: &str = "i-secret";

/// The admin routes, with an id where they take one.
const ADMIN_ROUTES: [&str; 15] = [
    "/api/admin/health",
    "/api/admin/metrics/overview",
    "/api/admin/calls",
    "/api/admin/calls/export.csv",
    "/api/admin/calls/1",
    "/api/admin/calls/1/transcript",
    "/api/admin/analytics/daily",
    "/api/admin/analytics/peak-hours",
    "/api/admin/analytics/outcome-distribution",
    "/api/admin/analytics/timeseries",
    "/api/admin/analytics/services",
    "/api/admin/customers",
    "/api/appointments",
    "/api/customers/1",
    "/api/customers/1/history",
];

/// Every route as the description spells it, with its method.
const ROUTES: [(&str, &str); 21] = [
    ("get", "/health"),
    ("get", "/config.json"),
    ("get", "/api/admin/health"),
    ("get", "/api/admin/metrics/overview"),
    ("get", "/api/admin/calls"),
    ("get", "/api/admin/calls/export.csv"),
    ("get", "/api/admin/calls/{call_id}"),
    ("get", "/api/admin/calls/{call_id}/transcript"),
    ("get", "/api/admin/analytics/daily"),
    ("get", "/api/admin/analytics/peak-hours"),
    ("get", "/api/admin/analytics/outcome-distribution"),
    ("get", "/api/admin/analytics/timeseries"),
    ("get", "/api/admin/analytics/services"),
    ("get", "/api/admin/customers"),
    ("get", "/api/appointments"),
    ("get", "/api/customers/{customer_id}"),
    ("get", "/api/customers/{customer_id}/history"),
    ("post", "/api/calls"),
    ("post", "/api/calls/{session_id}/events"),
    ("post", "/api/calls/{session_id}/end"),
    ("post", "/api/customers"),
];

/// An empty SQLite store (`ava serve` creates the file): no Postgres needed here.
fn empty_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ava_database.db"), 2).unwrap();
    (dir, Store::Sqlite(store))
}

fn tokens() -> Tokens {
    Tokens {
        admin: Some(ADMIN.into()),
        ingest: Some(INGEST.into()),
        ..Tokens::default()
    }
}

/// A server on an empty store, guarded by both tokens.
async fn guarded() -> (tempfile::TempDir, Server) {
    let (dir, store) = empty_store();
    (dir, Server::start(store, tokens()).await)
}

#[tokio::test]
async fn admin_routes_need_the_admin_token() {
    let (_dir, server) = guarded().await;
    for path in ADMIN_ROUTES {
        let none = server.get(path).await;
        assert_eq!(none.status, 401, "{path} without a token: {}", none.text);
        assert_eq!(
            none.body,
            json!({"detail": "Missing bearer token"}),
            "{path}"
        );

        for wrong in ["not-the-token", INGEST, "a-secre", "a-secret2", ""] {
            let reply = server.get_with(path, wrong).await;
            assert_eq!(reply.status, 401, "{path} with {wrong:?}: {}", reply.text);
        }
        // The token under another scheme is no bearer token.
        let basic = server
            .send(
                server
                    .http
                    .get(format!("{}{path}", server.base))
                    .header("Authorization", format!("Basic {ADMIN}")),
            )
            .await;
        assert_eq!(basic.status, 401, "{path} as Basic");

        let admin = server.get_with(path, ADMIN).await;
        // The ids name nothing in an empty store: past the guard, the handler's 404.
        let expected = if path.contains("/1") { 404 } else { 200 };
        assert_eq!(
            admin.status, expected,
            "{path} with the admin token: {}",
            admin.text
        );
    }
}

#[tokio::test]
async fn a_refusal_asks_for_a_bearer_token() {
    let (_dir, server) = guarded().await;
    let response = server
        .http
        .get(format!("{}/api/admin/calls", server.base))
        .bearer_auth(INGEST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid token"})
    );
}

#[tokio::test]
async fn health_and_the_docs_are_open() {
    let (_dir, server) = guarded().await;
    for path in [
        "/health",
        "/config.json",
        "/openapi.json",
        "/docs",
        "/docs/",
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 200, "{path} without a token: {}", reply.text);
    }
    assert_eq!(server.get("/health").await.body["status"], "healthy");
}

#[tokio::test]
async fn insecure_open_on_loopback_is_open() {
    let (_dir, store) = empty_store();
    let server = Server::start(store, Tokens::open()).await;
    assert_eq!(server.get("/api/admin/calls").await.status, 200);
}

#[tokio::test]
async fn serve_refuses_an_open_server_beyond_loopback_and_no_tokens_anywhere() {
    let (_dir, store) = empty_store();
    let state = AppState::new(store, Tokens::open());
    let addr = "0.0.0.0:0".parse().unwrap();
    let refused = ava_serve::serve(addr, state).await;
    assert!(
        matches!(refused, Err(ServeError::OpenBeyondLoopback(a)) if a == addr),
        "{refused:?}"
    );
    // Without `open`, no tokens is refused even on loopback.
    let (_dir, store) = empty_store();
    let state = AppState::new(store, Tokens::default());
    let refused = ava_serve::serve("127.0.0.1:0".parse().unwrap(), state).await;
    assert!(
        matches!(refused, Err(ServeError::Guard(GuardError::NoTokens))),
        "{refused:?}"
    );
}

/// Each half-configuration of the guards: the server refuses to start, naming what is
/// missing, and the router — should anyone build it so anyway — refuses every request
/// to the unguarded group instead of letting it through.
#[tokio::test]
async fn half_configured_guards_leave_no_door_open() {
    let jwt = ava_serve::jwt::Verifier::new(Some("a-secret-of-at-least-32-bytes-000000"), None)
        .await
        .unwrap()
        .map(std::sync::Arc::new);
    let cases = [
        (
            Tokens {
                admin: Some(ADMIN.into()),
                ..Tokens::default()
            },
            GuardError::NoIngestToken,
            "INGEST_API_TOKEN",
        ),
        (
            Tokens {
                ingest: Some(INGEST.into()),
                ..Tokens::default()
            },
            GuardError::NoAdminGuard,
            "ADMIN_API_TOKEN",
        ),
        (
            Tokens {
                jwt,
                ..Tokens::default()
            },
            GuardError::NoIngestToken,
            "INGEST_API_TOKEN",
        ),
        (
            Tokens {
                admin: Some(ADMIN.into()),
                ingest: Some(INGEST.into()),
                open: true,
                ..Tokens::default()
            },
            GuardError::OpenWithTokens,
            "--insecure-open",
        ),
    ];
    for (tokens, refusal, named) in cases {
        let loopback = "127.0.0.1:0".parse().unwrap();
        let refused = ava_serve::check_addr(loopback, &tokens);
        match &refused {
            Err(ServeError::Guard(e)) => {
                assert_eq!(e, &refusal);
                assert!(e.to_string().contains(named), "{e}");
            }
            other => panic!("{tokens:?}: {other:?}"),
        }
        if tokens.open {
            continue;
        }
        let (_dir, store) = empty_store();
        let server = Server::start(store, tokens.clone()).await;
        let read = server.get("/api/customers/1").await;
        let write = server
            .post("/api/calls", &json!({"session_id": "anonymous"}), None)
            .await;
        assert_eq!((read.status, write.status), (401, 401), "{tokens:?}");
    }
}

/// The write routes take the ingest token only. (Needs the write handlers: a route
/// that is not there answers 404, not 401.)
#[tokio::test]
async fn write_routes_refuse_the_admin_token() {
    let (_dir, server) = guarded().await;
    let writes = [
        ("/api/calls", json!({"session_id": "auth-test"})),
        ("/api/calls/auth-test/events", json!({"event_type": "note"})),
        (
            "/api/calls/auth-test/end",
            json!({"transcript": [], "function_calls": []}),
        ),
        ("/api/customers", json!({"name": "A", "phone": "+15550100"})),
    ];
    for (path, body) in &writes {
        for token in [None, Some(ADMIN), Some("wrong")] {
            let reply = server.post(path, body, token).await;
            assert_eq!(
                reply.status, 401,
                "POST {path} with {token:?}: {}",
                reply.text
            );
        }
    }
    // The ingest token passes the guard; each answers what its description says.
    let spec = spec(&server).await;
    for ((path, body), (status, schema)) in writes.iter().zip([
        (201, "CallRecord"),
        (201, "CallEvent"),
        (200, "CallRecord"),
        (201, "Customer"),
    ]) {
        let reply = server.post(path, body, Some(INGEST)).await;
        assert_eq!(reply.status, status, "POST {path}: {}", reply.text);
        let documented = &spec["paths"][path.replace("auth-test", "{session_id}")]["post"];
        assert!(
            documented["responses"][status.to_string()].is_object(),
            "POST {path}: {status} not documented"
        );
        assert_shape(&spec, schema, &reply.body);
    }
}

/// `body` has exactly the fields the schema `name` requires.
fn assert_shape(spec: &Value, name: &str, body: &Value) {
    let mut documented: Vec<&str> = spec["components"]["schemas"][name]["required"]
        .as_array()
        .unwrap_or_else(|| panic!("no schema {name}"))
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let mut sent: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("{name}: not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    sent.sort_unstable();
    assert_eq!(sent, documented, "{name}");
}

/// What the read routes send has the documented fields.
#[tokio::test]
async fn read_responses_have_the_documented_fields() {
    let (_dir, server) = guarded().await;
    let spec = spec(&server).await;
    for (path, schema) in [
        ("/api/admin/metrics/overview", "Overview"),
        ("/api/admin/calls", "CallsPage"),
        ("/api/admin/analytics/daily", "DailyMetrics"),
        ("/api/appointments", "Appointments"),
    ] {
        let reply = server.get_with(path, ADMIN).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_shape(&spec, schema, &reply.body);
    }
    assert_shape(&spec, "Health", &server.get("/health").await.body);
    let config = server.get("/config.json").await;
    assert_eq!(config.status, 200, "{}", config.text);
    assert_shape(&spec, "DashboardConfig", &config.body);
    for field in ["supabase_url", "supabase_anon_key"] {
        assert_eq!(
            spec["components"]["schemas"]["DashboardConfig"]["properties"][field]["type"],
            json!(["string", "null"]),
            "DashboardConfig.{field}"
        );
    }
}

async fn spec(server: &Server) -> Value {
    let reply = server.get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body.is_object(), "not JSON: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn openapi_describes_every_route_and_its_guard() {
    let (_dir, server) = guarded().await;
    let spec = spec(&server).await;
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);

    let schemes = &spec["components"]["securitySchemes"];
    for scheme in ["AdminToken", "IngestToken"] {
        assert_eq!(
            schemes[scheme],
            json!({"type": "http", "scheme": "bearer", "description": schemes[scheme]["description"]}),
            "{scheme}"
        );
    }
    // A Supabase login's JWT: a bearer JWT, taken by the admin routes instead of the
    // admin token.
    assert_eq!(
        schemes["SupabaseJWT"],
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": schemes["SupabaseJWT"]["description"],
        })
    );
    assert!(schemes["SupabaseJWT"]["description"].is_string());
    for (method, path) in ROUTES {
        let operation = &spec["paths"][path][method];
        // Any one of the schemes lets a request through.
        let guard: &[&str] = match (method, path) {
            (_, "/health" | "/config.json") => &[],
            ("post", _) => &["IngestToken"],
            _ => &["AdminToken", "SupabaseJWT"],
        };
        if guard.is_empty() {
            assert!(operation.get("security").is_none(), "{method} {path}");
        } else {
            let requirements: Vec<Value> = guard.iter().map(|s| json!({*s: []})).collect();
            assert_eq!(
                operation["security"],
                json!(requirements),
                "{method} {path}"
            );
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path}: 401"
            );
        }
        // A valid Supabase login without the staff or owner role: 403 with a detail,
        // on the admin routes only.
        let forbidden = &operation["responses"]["403"];
        if guard.contains(&"SupabaseJWT") {
            assert_eq!(
                forbidden["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/HTTPError",
                "{method} {path}: 403"
            );
        } else {
            assert!(forbidden.is_null(), "{method} {path}: 403");
        }
        assert!(
            operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .any(|s| s.starts_with('2')),
            "{method} {path}: no success response"
        );
        if path.contains('{') || operation.get("parameters").is_some() || method == "post" {
            assert_eq!(
                operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/HTTPValidationError",
                "{method} {path}: 422"
            );
        }
    }
}

/// The call schema is the catalog's `call_sessions` columns the list selects, each typed
/// by its kind: nothing about the table is restated.
#[tokio::test]
async fn openapi_rows_come_from_the_catalog() {
    let (_dir, server) = guarded().await;
    let spec = spec(&server).await;
    let call = &spec["components"]["schemas"]["CallSummary"];
    let properties = call["properties"].as_object().unwrap();
    // `required` keeps the order (a `Value`'s keys are sorted).
    assert_eq!(call["required"], json!(ava_api::read::list_keys()));
    // The customer's name: the catalog's `customers.name`, or null without a customer.
    let name = ava_catalog::CUSTOMERS.column("name").unwrap();
    let ava_catalog::Kind::Varchar(max) = name.kind else {
        panic!("customers.name is {:?}", name.kind)
    };
    assert_eq!(
        properties[ava_api::read::CUSTOMER_NAME],
        json!({"type": ["string", "null"], "maxLength": max})
    );
    let mut names: Vec<&str> = properties
        .keys()
        .map(String::as_str)
        .filter(|k| *k != ava_api::read::CUSTOMER_NAME)
        .collect();
    let mut columns = LIST_COLUMNS.to_vec();
    names.sort_unstable();
    columns.sort_unstable();
    assert_eq!(names, columns);
    let table = ava_catalog::CALL_SESSIONS;
    for name in LIST_COLUMNS {
        let column = table.column(name).unwrap();
        let ty = match column.kind {
            Kind::Id | Kind::Ref(_) | Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Bool => "boolean",
            Kind::Timestamp | Kind::Varchar(_) | Kind::Text => "string",
            Kind::Json => unreachable!("no JSON column in the list"),
        };
        let schema = &properties[name];
        let want = if column.nullable {
            json!([ty, "null"])
        } else {
            json!(ty)
        };
        assert_eq!(schema["type"], want, "{name}");
        match column.kind {
            Kind::Varchar(n) => assert_eq!(schema["maxLength"], n, "{name}"),
            Kind::Timestamp => assert_eq!(schema["format"], "date-time", "{name}"),
            _ => assert!(schema.get("maxLength").is_none(), "{name}"),
        }
    }
    // The page refers to it.
    assert_eq!(
        spec["components"]["schemas"]["CallsPage"]["properties"]["calls"]["items"]["$ref"],
        "#/components/schemas/CallSummary"
    );
    // Every `$ref` resolves.
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "dangling {r}"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => refs.push(r.clone()),
                    _ => collect_refs(v, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// The rules the description gives (bounds, enums) are the ones the routes enforce: the
/// edges pass, one past them is a 422.
#[tokio::test]
async fn openapi_rules_are_the_enforced_ones() {
    let (_dir, server) = guarded().await;
    let spec = spec(&server).await;
    let mut checked = 0;
    for (method, path) in ROUTES
        .iter()
        .filter(|(m, p)| *m == "get" && !p.contains('{'))
    {
        let parameters = spec["paths"][path][method]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for parameter in parameters {
            let name = parameter["name"].as_str().unwrap();
            let schema = &parameter["schema"];
            let mut good = Vec::new();
            let mut bad = Vec::new();
            if let Some(values) = schema["enum"].as_array() {
                good.extend(values.iter().map(|v| v.as_str().unwrap().to_string()));
                bad.push("not-one-of-them".to_string());
            }
            if let Some(min) = schema["minimum"].as_i64() {
                good.push(min.to_string());
                bad.push((min - 1).to_string());
            }
            if let Some(max) = schema["maximum"].as_i64() {
                good.push(max.to_string());
                bad.push((max + 1).to_string());
            }
            if schema["format"] == "date-time" {
                good.extend(["2025-08-25T09:00:00Z".into(), "2025-08-25".into()]);
                bad.push("yesterday".into());
            }
            for value in good {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
                let url = format!("{path}?{name}={encoded}");
                let reply = server.get_with(&url, ADMIN).await;
                assert_eq!(reply.status, 200, "{url}: {}", reply.text);
                checked += 1;
            }
            for value in bad {
                let url = format!("{path}?{name}={value}");
                let reply = server.get_with(&url, ADMIN).await;
                assert_eq!(reply.status, 422, "{url}: {}", reply.text);
                assert_eq!(
                    reply.body["detail"][0]["loc"],
                    json!(["query", name]),
                    "{url}"
                );
                checked += 1;
            }
        }
    }
    // period ×3+1, page 2, page_size 4, sort_by 3+1, sort_order 2+1, days 4, dates 3+3.
    assert!(checked >= 25, "only {checked} checks");
}

/// The docs page is Swagger UI from the binary: its scripts and styles are local paths
/// that the server answers, so it works without the internet.
#[tokio::test]
async fn docs_page_uses_only_local_assets() {
    let (_dir, server) = guarded().await;
    let response = server
        .http
        .get(format!("{}/docs", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.url().clone();
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html")));
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    let assets = attributes(&html, &["src", "href"]);
    assert!(assets.len() >= 3, "{assets:?} in {html}");
    for asset in &assets {
        assert!(
            !asset.starts_with("http:") && !asset.starts_with("https:") && !asset.starts_with("//"),
            "/docs loads {asset} from elsewhere"
        );
        let url = page.join(asset).unwrap();
        let reply = server.http.get(url.clone()).send().await.unwrap();
        assert_eq!(reply.status().as_u16(), 200, "{url}");
    }
    // Its configuration points at our description, and at no outside validator.
    let init = server.get("/docs/swagger-initializer.js").await.text;
    assert!(init.contains("\"/openapi.json\""), "{init}");
    assert!(
        !init.contains("http://") && !init.contains("https://"),
        "{init}"
    );
}

/// The values of `names` attributes in `html` (`name="…"`).
fn attributes(html: &str, names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for name in names {
        let marker = format!(" {name}=\"");
        let mut rest = html;
        while let Some(at) = rest.find(&marker) {
            rest = &rest[at + marker.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    found
}
