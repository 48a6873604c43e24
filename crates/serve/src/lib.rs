//! `ava serve`: the analytics backend over HTTP — the admin API the dashboard reads
//! (the original FastAPI routes, `admin-api.md`) and the write API the voice service
//! calls — on the store [`ava_api::Store`] (Postgres or the SQLite file).
//!
//! [`app`] builds the router from an [`AppState`]; tests call it directly. Every error
//! becomes an [`AppError`], whose response never carries internals (a store failure is
//! logged and answered with a bare 500). [`auth`] guards the routes; every request is
//! logged in one line (method, path, status, time). `GET /openapi.json` describes the API
//! (OpenAPI 3.1, built from the catalog and the routes' rules) and `GET /docs` shows it
//! (Swagger UI, served from the binary: no CDN); both are open.
//!
//! Hardening ([`Limits`]): bodies over [`Limits::body`] are refused (413), a request
//! taking longer than [`Limits::request`] — a slow body included — is answered 408, and a
//! connection that does not send a request's headers within [`Limits::headers`] (an idle
//! keep-alive connection too) is closed; `/api/*` sends CORS headers only to the origins
//! configured ([`AppState::cors`]) and `Cache-Control: no-store`. Every error is
//! `{"detail": …}` JSON, whoever raised it. The answer cache is bounded in bytes
//! ([`cache::DEFAULT_BYTES`]) and keyed on the checked parameters only.

pub mod auth;
pub mod cache;
mod error;
pub mod jwt;
mod openapi;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower_http::trace::TraceLayer;

pub use auth::Tokens;
pub use error::AppError;

/// What every handler shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: ava_api::Store,
    pub tokens: Arc<Tokens>,
    pub cache: cache::Cache,
    pub limits: Limits,
    /// The origins `/api/*` answers CORS requests from (none: no CORS headers).
    pub cors: Arc<[HeaderValue]>,
    /// What `GET /config.json` tells the dashboard.
    pub supabase: Arc<Supabase>,
    /// The time zone of the analytics when a request names none (`AVA_TIMEZONE`).
    pub timezone: chrono_tz::Tz,
}

/// The Supabase project the dashboard signs in with (both public by design).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Supabase {
    pub supabase_url: Option<String>,
    pub supabase_anon_key: Option<String>,
}

/// How much a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body: usize,
    /// Longest a request may take, reading its body included.
    pub request: Duration,
    /// Longest a connection may take to send a request's headers (or stay idle).
    pub headers: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body: 1 << 20,
            request: Duration::from_secs(30),
            headers: Duration::from_secs(10),
        }
    }
}

impl AppState {
    /// The zone a request's analytics are in: its `tz`, else the server's.
    pub(crate) fn zone(&self, asked: Option<chrono_tz::Tz>) -> chrono_tz::Tz {
        asked.unwrap_or(self.timezone)
    }

    /// The state for `store`, guarded by `tokens`, with the default cache
    /// ([`cache::DEFAULT_TTL`], [`cache::DEFAULT_BYTES`]) and [`Limits`], no CORS, no
    /// Supabase project, and the analytics in UTC.
    pub fn new(store: ava_api::Store, tokens: Tokens) -> AppState {
        AppState {
            store,
            tokens: Arc::new(tokens),
            cache: cache::Cache::new(cache::DEFAULT_TTL, cache::DEFAULT_BYTES),
            limits: Limits::default(),
            cors: Arc::from([]),
            supabase: Arc::default(),
            timezone: chrono_tz::Tz::UTC,
        }
    }
}

/// Every error in one shape: a 4xx or 5xx that is not JSON already (axum's own
/// rejections — 404 for an unknown path, 405, 413 from the body limit) becomes
/// `{"detail": …}` with its status, as FastAPI answers them.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"application/json"))
    {
        return response;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
        status => status.canonical_reason().unwrap_or("Error"),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut json = Json(serde_json::json!({ "detail": detail })).into_response();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *json.headers_mut() = parts.headers;
    *json.status_mut() = status;
    json
}

/// Answers 408 when the request takes longer than `limit`.
async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(serde_json::json!({"detail": "Request timed out"})),
        )
            .into_response(),
    }
}

/// The router: the routes, their guards, the limits and the request log.
pub fn app(state: AppState) -> Router {
    let limits = state.limits;
    routes::router(state.clone())
        .layer(DefaultBodyLimit::max(limits.body))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(move |request, next| {
            timeout(limits.request, request, next)
        }))
        .layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &axum::http::Request<_>| {
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
            })
            .on_request(())
            .on_response(
                |response: &axum::http::Response<_>, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        micros = latency.as_micros() as u64,
                        "served"
                    );
                },
            )
            .on_failure(()),
    )
}

/// Why the server would not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Guard(#[from] auth::GuardError),
    #[error(
        "refusing to serve every route open (--insecure-open) on {0}: anyone who can reach \
         it could read and write every call. Serve on a loopback address such as \
         127.0.0.1:8000, or set ADMIN_API_TOKEN and INGEST_API_TOKEN instead"
    )]
    OpenBeyondLoopback(SocketAddr),
    #[error(
        "cannot listen on {addr}: {source}; is another server using it? Pick another with --addr"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0:?} is not an origin (such as https://admin.example.com)")]
    BadOrigin(String),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `state` on `addr` until SIGINT or SIGTERM, then finishes the requests in
/// flight. Refuses tokens that leave a route group open ([`Tokens::check`]), and an
/// open server beyond loopback.
pub async fn serve(addr: SocketAddr, state: AppState) -> Result<(), ServeError> {
    check_addr(addr, &state.tokens)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let (kind, at) = state.store.describe();
    tracing::info!("serving {kind} {at} on http://{}", listener.local_addr()?);
    if state.tokens.open {
        tracing::warn!("--insecure-open: every route is open, so only loopback is served");
    }
    run(listener, state, shutdown()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `state` on `listener` (HTTP/1.1, with [`Limits::headers`] as the header read
/// timeout: `axum::serve` has none) until `stop` resolves, then finishes the requests in
/// flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl Future<Output = ()>,
) {
    let headers = state.limits.headers;
    let app = app(state);
    let (closing, closed) = tokio::sync::watch::channel(());
    let mut stop = std::pin::pin!(stop);
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(headers);
            let connection = builder
                .serve_connection(TokioIo::new(socket), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closed.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    drop(closed);
    let _ = closing.send(());
    // Every connection task holds a receiver: wait for the last one to finish.
    closing.closed().await;
}

/// The CORS origins of `--cors-origin` (blank ones left out); an origin is a scheme and
/// host, with a port, without path.
pub fn cors_origins(list: &[String]) -> Result<Vec<HeaderValue>, ServeError> {
    list.iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| {
            url::Url::parse(o)
                .ok()
                .filter(|u| u.origin().ascii_serialization() == o.trim_end_matches('/'))
                .and_then(|u| HeaderValue::from_str(&u.origin().ascii_serialization()).ok())
                .ok_or_else(|| ServeError::BadOrigin(o.to_string()))
        })
        .collect()
}

/// Whether `tokens` may guard a server on `addr`: every route group guarded, or none
/// on purpose and on loopback.
pub fn check_addr(addr: SocketAddr, tokens: &Tokens) -> Result<(), ServeError> {
    tokens.check()?;
    if tokens.open && !addr.ip().is_loopback() {
        return Err(ServeError::OpenBeyondLoopback(addr));
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
