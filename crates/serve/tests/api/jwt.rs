//! Supabase logins on the admin routes: JWTs minted here with `jsonwebtoken` — HS256 with
//! a secret, RS256 and ES256 with fixed test keys (`keys/`) whose JWKS is served from a
//! file and from a URL — checked for signature, expiry, audience and role; the static
//! admin token still works, and the write routes take the ingest token only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ava_api::store::SqliteStore;
use ava_api::Store;
use ava_serve::auth::GuardError;
use ava_serve::jwt::Verifier;
use ava_serve::{AppState, ServeError, Tokens};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::*;

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";
const ADMIN: &str = "static-admin";
const INGEST: &str = "static-ingest";
const RSA: &[u8] = include_bytes!("keys/rsa.pem");
const RSA_OTHER: &[u8] = include_bytes!("keys/rsa-other.pem");
const EC: &[u8] = include_bytes!("keys/ec.pem");

fn jwks_path() -> String {
    format!("{}/tests/api/keys/jwks.json", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Supabase's claims for a signed-in user with `role` in `app_metadata`.
fn claims(role: Option<&str>, exp: i64) -> Value {
    let mut app_metadata = json!({"provider": "email", "providers": ["email"]});
    if let Some(role) = role {
        app_metadata["role"] = json!(role);
    }
    json!({
        "aud": "authenticated",
        "exp": exp,
        "iat": now() - 60,
        "sub": "6f1c2d1e-0000-4000-8000-000000000001",
        "email": "staff@example.com",
        "role": "authenticated",
        "app_metadata": app_metadata,
    })
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn signed(alg: Algorithm, pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem).unwrap(),
        _ => unreachable!(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &key).unwrap()
}

async fn server(
    secret: Option<&str>,
    jwks: Option<&str>,
    admin: Option<&str>,
) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Sqlite(SqliteStore::open(&dir.path().join("ava_database.db"), 2).unwrap());
    let jwt = Verifier::new(secret, jwks).await.unwrap().map(Arc::new);
    assert!(jwt.is_some());
    let tokens = Tokens {
        admin: admin.map(str::to_string),
        ingest: Some(INGEST.into()),
        jwt,
        ..Tokens::default()
    };
    (dir, Server::start(store, tokens).await)
}

const PATH: &str = "/api/admin/analytics/daily";

#[tokio::test]
async fn hs256_logins_with_a_role_read_the_admin_routes() {
    let (_dir, server) = server(Some(SECRET), None, Some(ADMIN)).await;
    let hour = now() + 3600;
    for role in ["staff", "owner"] {
        let reply = server
            .get_with(PATH, &hs256(SECRET, &claims(Some(role), hour)))
            .await;
        assert_eq!(reply.status, 200, "{role}: {}", reply.text);
    }
    // The static token still works beside it.
    assert_eq!(server.get_with(PATH, ADMIN).await.status, 200);

    // Valid, but no admin role: 403 with a detail.
    for role in [None, Some("authenticated"), Some("Staff"), Some("")] {
        let reply = server
            .get_with(PATH, &hs256(SECRET, &claims(role, hour)))
            .await;
        assert_eq!(reply.status, 403, "{role:?}: {}", reply.text);
        assert!(reply.body["detail"].is_string(), "{}", reply.text);
    }
    let mut numeric = claims(None, hour);
    numeric["app_metadata"]["role"] = json!(1);
    assert_eq!(
        server.get_with(PATH, &hs256(SECRET, &numeric)).await.status,
        403
    );
    // The top-level `role` is Supabase's own ("authenticated"): not the admin role.
    let mut top = claims(None, hour);
    top["role"] = json!("owner");
    assert_eq!(
        server.get_with(PATH, &hs256(SECRET, &top)).await.status,
        403
    );

    // Not valid: 401 with a detail.
    let mut wrong_aud = claims(Some("owner"), hour);
    wrong_aud["aud"] = json!("anon");
    let mut no_exp = claims(Some("owner"), hour);
    no_exp.as_object_mut().unwrap().remove("exp");
    let good = hs256(SECRET, &claims(Some("owner"), hour));
    let mut tampered: Vec<&str> = good.split('.').collect();
    let forged_body = base64_url(&serde_json::to_vec(&claims(Some("owner"), hour + 7200)).unwrap());
    tampered[1] = &forged_body;
    let tampered = tampered.join(".");
    let unsigned = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(&serde_json::to_vec(&claims(Some("owner"), hour)).unwrap())
    );
    for (what, token) in [
        (
            "another secret",
            hs256(
                "another-secret-another-secret-another!",
                &claims(Some("owner"), hour),
            ),
        ),
        (
            "expired",
            hs256(SECRET, &claims(Some("owner"), now() - 600)),
        ),
        ("wrong audience", hs256(SECRET, &wrong_aud)),
        ("no exp", hs256(SECRET, &no_exp)),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("garbage", "not.a.jwt".into()),
        (
            "HS384",
            encode(
                &Header::new(Algorithm::HS384),
                &claims(Some("owner"), hour),
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .unwrap(),
        ),
        // No JWKS configured: an RS256 token has no key.
        (
            "RS256 without JWKS",
            signed(
                Algorithm::RS256,
                RSA,
                Some("test-rsa"),
                &claims(Some("owner"), hour),
            ),
        ),
    ] {
        let reply = server.get_with(PATH, &token).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert!(reply.body["detail"].is_string(), "{what}: {}", reply.text);
    }
    let expired = server
        .get_with(PATH, &hs256(SECRET, &claims(Some("owner"), now() - 600)))
        .await;
    assert_eq!(expired.body, json!({"detail": "Token expired"}));
    // Within the leeway, an expiry a few seconds ago still passes.
    let just = hs256(SECRET, &claims(Some("owner"), now() - 5));
    assert_eq!(server.get_with(PATH, &just).await.status, 200);
    // No token at all.
    assert_eq!(server.get(PATH).await.status, 401);

    // Write routes stay ingest-token only: a login is no ingest token.
    let body = json!({"session_id": "jwt-write"});
    assert_eq!(
        server.post("/api/calls", &body, Some(&good)).await.status,
        401
    );
    assert_eq!(
        server.post("/api/calls", &body, Some(INGEST)).await.status,
        201
    );
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn rs256_and_es256_logins_verify_against_a_jwks_file() {
    // Only JWTs: no static admin token.
    let (_dir, server) = server(None, Some(&jwks_path()), None).await;
    let hour = now() + 3600;
    let owner = claims(Some("owner"), hour);
    for (what, token) in [
        (
            "RS256",
            signed(Algorithm::RS256, RSA, Some("test-rsa"), &owner),
        ),
        (
            "ES256",
            signed(Algorithm::ES256, EC, Some("test-ec"), &owner),
        ),
    ] {
        let reply = server.get_with(PATH, &token).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
    }
    let staffless = claims(None, hour);
    assert_eq!(
        server
            .get_with(
                PATH,
                &signed(Algorithm::ES256, EC, Some("test-ec"), &staffless)
            )
            .await
            .status,
        403
    );
    for (what, token) in [
        // Signed by a key not in the set, under a known id and an unknown one.
        (
            "other key, known kid",
            signed(Algorithm::RS256, RSA_OTHER, Some("test-rsa"), &owner),
        ),
        (
            "other key, unknown kid",
            signed(Algorithm::RS256, RSA_OTHER, Some("rotated"), &owner),
        ),
        // The RSA key's id with the EC key's signature.
        (
            "wrong key type",
            signed(Algorithm::ES256, EC, Some("test-rsa"), &owner),
        ),
        (
            "expired",
            signed(
                Algorithm::RS256,
                RSA,
                Some("test-rsa"),
                &claims(Some("owner"), now() - 600),
            ),
        ),
        // No HS256 secret configured.
        ("HS256", hs256(SECRET, &owner)),
        // Two keys in the set: a token must name one.
        ("no kid", signed(Algorithm::RS256, RSA, None, &owner)),
    ] {
        let reply = server.get_with(PATH, &token).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert!(reply.body["detail"].is_string(), "{what}");
    }
    assert_eq!(server.get_with(PATH, "static-admin").await.status, 401);
}

/// A JWKS URL is fetched once at start; unknown key ids do not make the server fetch it
/// again within a minute.
#[tokio::test]
async fn a_jwks_url_is_fetched_at_start_and_not_hammered() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(jwks_path()).unwrap()).unwrap();
    let counted = fetches.clone();
    let app = axum::Router::new().route(
        "/auth/v1/.well-known/jwks.json",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/auth/v1/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let keys = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (_dir, server) = server(None, Some(&url), None).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let owner = claims(Some("staff"), now() + 3600);
    let good = signed(Algorithm::RS256, RSA, Some("test-rsa"), &owner);
    assert_eq!(server.get_with(PATH, &good).await.status, 200);
    for _ in 0..5 {
        let unknown = signed(Algorithm::RS256, RSA_OTHER, Some("rotated"), &owner);
        assert_eq!(server.get_with(PATH, &unknown).await.status, 401);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "refetched within a minute"
    );
    keys.abort();

    // A plain-http URL beyond loopback is refused; so is a JWKS that is not one.
    assert!(Verifier::new(None, Some("http://example.com/jwks.json"))
        .await
        .is_err());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("jwks.json");
    std::fs::write(&bad, "{}").unwrap();
    assert!(Verifier::new(None, Some(bad.to_str().unwrap()))
        .await
        .is_err());
    assert!(Verifier::new(None, Some("/no/such/jwks.json"))
        .await
        .is_err());
}

/// A JWT secret or JWKS guards the admin routes (with the ingest token for the write
/// routes, the server may listen beyond loopback); alone it leaves the writes open, so
/// the server refuses to start.
#[tokio::test]
async fn a_jwt_configuration_guards_the_admin_routes() {
    let jwt_only = Tokens {
        jwt: Verifier::new(Some(SECRET), None)
            .await
            .unwrap()
            .map(Arc::new),
        ..Tokens::default()
    };
    let addr = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(
        ava_serve::check_addr(addr, &jwt_only),
        Err(ServeError::Guard(GuardError::NoIngestToken))
    ));
    let tokens = Tokens {
        ingest: Some(INGEST.into()),
        ..jwt_only
    };
    assert!(ava_serve::check_addr(addr, &tokens).is_ok());
    assert!(matches!(
        ava_serve::check_addr(addr, &Tokens::default()),
        Err(ServeError::Guard(GuardError::NoTokens))
    ));
    assert!(Verifier::new(Some(""), None).await.unwrap().is_none());
}

/// `/config.json` tells the dashboard the Supabase project, or nulls; the page's CSP
/// lets it reach that project's Auth only when one is configured.
#[tokio::test]
async fn config_json_names_the_supabase_project() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        || Store::Sqlite(SqliteStore::open(&dir.path().join("ava_database.db"), 2).unwrap());
    let tokens = Tokens {
        admin: Some(ADMIN.into()),
        ..Tokens::default()
    };
    let plain = Server::start(store(), tokens.clone()).await;
    let reply = plain.get("/config.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"supabase_url": null, "supabase_anon_key": null})
    );

    let mut state = AppState::new(store(), tokens);
    state.supabase = std::sync::Arc::new(ava_serve::Supabase {
        supabase_url: Some("https://abc.supabase.co".into()),
        supabase_anon_key: Some("anon-key".into()),
    });
    let configured = Server::start_with(state).await;
    let reply = configured.get("/config.json").await;
    assert_eq!(
        reply.body,
        json!({"supabase_url": "https://abc.supabase.co", "supabase_anon_key": "anon-key"})
    );
    let csp = |server: &Server| {
        let url = format!("{}/", server.base);
        let http = server.http.clone();
        async move {
            http.get(url).send().await.unwrap().headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    assert!(csp(&configured)
        .await
        .contains("connect-src 'self' https://abc.supabase.co;"));
    assert!(csp(&plain).await.contains("connect-src 'self';"));
}

/// A token not yet valid (`nbf` in the future beyond the leeway) is refused; one whose
/// `nbf` has passed is taken.
#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let (_dir, server) = server(Some(SECRET), None, Some(ADMIN)).await;
    let hour = now() + 3600;
    let mut early = claims(Some("staff"), hour);
    early["nbf"] = json!(now() + 600);
    let reply = server.get_with(PATH, &hs256(SECRET, &early)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body["detail"], "Token not yet valid");
    let mut due = claims(Some("staff"), hour);
    due["nbf"] = json!(now() - 5);
    let reply = server.get_with(PATH, &hs256(SECRET, &due)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
