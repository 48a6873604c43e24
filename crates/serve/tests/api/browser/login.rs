//! Signing in: the admin token prompt, and Supabase sign-in against a stand-in for
//! Supabase Auth.

use ava_serve::Tokens;
use serde_json::{json, Value};

use super::*;

#[tokio::test]
async fn token_prompt_takes_the_admin_token() {
    const ADMIN: &str = "browser-admin-secret";
    let stores = Stores::seeded(300, 44).await;
    let server = Server::start(
        stores.pg_store(),
        Tokens {
            admin: Some(ADMIN.into()),
            ingest: None,
            ..Tokens::default()
        },
    )
    .await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", server.base)).await;
    browser.wait_visible("form#login").await;
    browser
        .wait_present("form#login label[for=\"token\"]")
        .await;
    browser
        .wait_present("form#login input#token[type=\"password\"]")
        .await;

    browser.type_enter("input#token", "not-the-token").await;
    wait_login_error(&browser, "wrong token").await;
    browser.wait_visible("form#login").await;

    browser.fill("input#token", ADMIN).await;
    browser.click("button#login-submit").await;
    let expected = api_with(&server, "/api/admin/metrics/overview?period=today", ADMIN).await;
    wait_cards(&browser, "today", &expected).await;
    browser.wait_hidden("form#login").await;
    let url = browser.url().await;
    assert!(!url.contains(ADMIN), "the token is in the URL: {url}");
    let stored = browser.stored_token().await;
    assert_eq!(stored, json!(ADMIN), "the token in sessionStorage");

    // Another page of the same tab needs no prompt.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let url = browser.url().await;
    assert!(!url.contains(ADMIN), "the token is in the URL: {url}");
}

async fn api_with(server: &Server, path: &str, token: &str) -> Value {
    let reply = server.get_with(path, token).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.body
}

/// A stand-in for Supabase Auth (the external service the dashboard signs in with, not
/// part of ava) on a loopback port: `POST /auth/v1/token?grant_type=password` with the
/// `apikey` header and `{email, password}` answers an HS256 access token (audience
/// `authenticated`, an hour long, `app_metadata.role` as configured per user) or 400
/// `invalid_grant`; it answers CORS preflights and allows any origin, as Supabase does.
struct FakeSupabase {
    url: String,
    /// Sign-in requests (not preflights) answered so far.
    sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSupabase {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct FakeSupabaseState {
    anon_key: &'static str,
    secret: &'static str,
    /// email → (password, `app_metadata.role`).
    users: std::sync::Arc<Vec<(&'static str, &'static str, Option<&'static str>)>>,
    sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeSupabase {
    async fn start(
        anon_key: &'static str,
        secret: &'static str,
        users: Vec<(&'static str, &'static str, Option<&'static str>)>,
    ) -> FakeSupabase {
        use axum::http::{header, HeaderName, Method};
        use tower_http::cors::{AllowOrigin, CorsLayer};

        let sign_ins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let state = FakeSupabaseState {
            anon_key,
            secret,
            users: std::sync::Arc::new(users),
            sign_ins: sign_ins.clone(),
        };
        let app = axum::Router::new()
            .route("/auth/v1/token", axum::routing::post(fake_token))
            .with_state(state)
            .layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::any())
                    .allow_methods([Method::POST, Method::OPTIONS])
                    .allow_headers([
                        HeaderName::from_static("apikey"),
                        header::CONTENT_TYPE,
                        header::AUTHORIZATION,
                    ]),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSupabase {
            url,
            sign_ins,
            task,
        }
    }

    /// Signs in as the page does; the access token, or the refusal's status and body.
    async fn sign_in(
        &self,
        anon_key: &str,
        email: &str,
        password: &str,
    ) -> Result<String, (u16, Value)> {
        let response = reqwest::Client::new()
            .post(format!("{}/auth/v1/token?grant_type=password", self.url))
            .header("apikey", anon_key)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match body["access_token"].as_str() {
            Some(token) if status == 200 => Ok(token.to_string()),
            _ => Err((status, body)),
        }
    }
}

#[derive(serde::Deserialize)]
struct GrantQuery {
    grant_type: Option<String>,
}

async fn fake_token(
    axum::extract::State(state): axum::extract::State<FakeSupabaseState>,
    axum::extract::Query(query): axum::extract::Query<GrantQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    state
        .sign_ins
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(state.anon_key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Invalid API key"})),
        );
    }
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant",
                "error_description": "Invalid login credentials",
            })),
        )
    };
    if query.grant_type.as_deref() != Some("password") {
        return invalid();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return invalid();
    };
    let (email, password) = (body["email"].as_str(), body["password"].as_str());
    let Some((email, _, role)) = state
        .users
        .iter()
        .find(|(e, p, _)| Some(*e) == email && Some(*p) == password)
    else {
        return invalid();
    };
    let now = chrono::Utc::now().timestamp();
    let mut app_metadata = json!({"provider": "email", "providers": ["email"]});
    if let Some(role) = role {
        app_metadata["role"] = json!(role);
    }
    let claims = json!({
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "sub": format!("00000000-0000-4000-8000-{:012}", email.len()),
        "email": email,
        "role": "authenticated",
        "app_metadata": app_metadata,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(state.secret.as_bytes()),
    )
    .unwrap();
    (
        StatusCode::OK,
        axum::Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
        })),
    )
}

/// Waits until `#login-error` is visible and its text contains `part` (any case).
async fn wait_login_error(browser: &Browser, part: &str) -> String {
    browser
        .wait_text("#login-error", &format!("saying {part:?}"), |t| {
            t.to_lowercase().contains(&part.to_lowercase())
        })
        .await
}

/// The dashboard's Supabase sign-in, against a stand-in for Supabase Auth and a server
/// configured as `ava serve --jwt-secret … --supabase-url … --supabase-anon-key …`: the
/// form offers email and password; wrong credentials, and an account without the staff
/// or owner role (the API's 403), are said on the form; a staff login shows the overview.
#[tokio::test]
async fn supabase_sign_in_takes_a_staff_account() {
    const SECRET: &str = "browser-supabase-jwt-secret-of-at-least-32-chars";
    const ANON: &str = "browser-anon-key";
    const STAFF: (&str, &str) = ("staff@example.com", "staff-password-1");
    const NOBODY: (&str, &str) = ("visitor@example.com", "visitor-password-1");
    let supabase = FakeSupabase::start(
        ANON,
        SECRET,
        vec![
            (STAFF.0, STAFF.1, Some("staff")),
            (NOBODY.0, NOBODY.1, None),
        ],
    )
    .await;

    // The stand-in behaves as Supabase Auth does for a page on another origin.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/auth/v1/token?grant_type=password", supabase.url),
        )
        .header("Origin", "http://127.0.0.1:1")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "apikey,content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in ["apikey", "content-type", "authorization"] {
        assert!(allowed.contains(h), "{h} not allowed: {allowed}");
    }
    assert_eq!(
        supabase
            .sign_in("not-the-anon-key", STAFF.0, STAFF.1)
            .await
            .unwrap_err()
            .0,
        401
    );
    let (status, body) = supabase.sign_in(ANON, STAFF.0, "wrong").await.unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid login credentials"})
    );

    let stores = Stores::seeded(300, 46).await;
    let state = served_state(
        stores.pg_store(),
        ServeFlags {
            jwt_secret: Some(SECRET.into()),
            supabase_url: Some(supabase.url.clone()),
            supabase_anon_key: Some(ANON.into()),
            ..ServeFlags::default()
        },
    )
    .await;
    let server = Server::start_with(state).await;

    // What the API answers each account's token.
    let staff_token = supabase.sign_in(ANON, STAFF.0, STAFF.1).await.unwrap();
    let expected = api_with(
        &server,
        "/api/admin/metrics/overview?period=today",
        &staff_token,
    )
    .await;
    let nobody_token = supabase.sign_in(ANON, NOBODY.0, NOBODY.1).await.unwrap();
    let refused = server
        .get_with("/api/admin/analytics/daily?days=1", &nobody_token)
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let refusal = refused.body["detail"].as_str().unwrap().to_string();
    let before = supabase.sign_ins.load(std::sync::atomic::Ordering::SeqCst);

    let browser = Browser::start().await;
    browser.goto(&format!("{}/", server.base)).await;
    browser.wait_visible("form#login").await;
    browser.wait_visible("form#login input#email").await;
    browser
        .wait_visible("form#login input#password[type=\"password\"]")
        .await;
    browser.wait_visible("form#login input#token").await;

    // A wrong password: Supabase's refusal, on the form.
    browser.fill("input#email", STAFF.0).await;
    browser.fill("input#password", "not-the-password").await;
    browser.click("button#login-submit").await;
    let said = wait_login_error(&browser, "Invalid login credentials").await;
    assert!(!said.contains(STAFF.1), "{said}");
    browser.wait_visible("form#login").await;
    let stored = browser.stored_token().await;
    assert_eq!(stored, Value::Null, "a refused sign-in left a token");

    // A real account without the staff or owner role: the API's 403, on the form.
    browser.fill("input#email", NOBODY.0).await;
    browser.fill("input#password", NOBODY.1).await;
    browser.click("button#login-submit").await;
    wait_login_error(&browser, &refusal).await;
    let said = wait_login_error(&browser, "may not").await;
    assert!(said.contains("staff or owner"), "{said}");
    browser.wait_visible("form#login").await;
    browser
        .wait_visible("button#login-submit:not([disabled])")
        .await;
    let stored = browser.stored_token().await;
    assert_eq!(stored, Value::Null, "a forbidden sign-in left its token");
    assert_eq!(
        browser
            .js(
                "return document.querySelectorAll('[data-metric]').length;",
                vec![]
            )
            .await,
        json!(0)
    );

    // The staff account: the overview, with the API's numbers.
    browser.fill("input#email", STAFF.0).await;
    browser.fill("input#password", STAFF.1).await;
    browser.click("button#login-submit").await;
    wait_cards(&browser, "today", &expected).await;
    browser.wait_hidden("form#login").await;
    let stored = browser.stored_token().await;
    let stored = stored.as_str().expect("the access token kept for the tab");
    assert_eq!(stored.split('.').count(), 3, "not a JWT: {stored}");
    let url = browser.url().await;
    for secret in [stored, STAFF.1, NOBODY.1, staff_token.as_str()] {
        assert!(!url.contains(secret), "a secret is in the URL: {url}");
    }
    // The page signed in three times, through the stand-in.
    assert_eq!(
        supabase.sign_ins.load(std::sync::atomic::Ordering::SeqCst) - before,
        3
    );

    // Another page of the same tab needs no sign-in.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let url = browser.url().await;
    assert!(!url.contains(stored), "the token is in the URL: {url}");
}
