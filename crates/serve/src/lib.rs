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

pub mod auth;
pub mod cache;
mod error;
mod openapi;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tower_http::trace::TraceLayer;

pub use auth::Tokens;
pub use error::AppError;

/// What every handler shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: ava_api::Store,
    pub tokens: Arc<Tokens>,
    pub cache: cache::Cache,
}

impl AppState {
    /// The state for `store`, guarded by `tokens`, with the default cache
    /// ([`cache::DEFAULT_TTL`]).
    pub fn new(store: ava_api::Store, tokens: Tokens) -> AppState {
        AppState {
            store,
            tokens: Arc::new(tokens),
            cache: cache::Cache::new(cache::DEFAULT_TTL),
        }
    }
}

/// The router: the routes, their guards and the request log.
pub fn app(state: AppState) -> Router {
    routes::router(state.clone()).layer(
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
    #[error(
        "refusing to serve on {0} without tokens: anyone who can reach it could read and \
         write every call. Set ADMIN_API_TOKEN and INGEST_API_TOKEN (or --admin-token and \
         --ingest-token), or serve on a loopback address such as 127.0.0.1:8000"
    )]
    OpenWithoutTokens(SocketAddr),
    #[error(
        "cannot listen on {addr}: {source}; is another server using it? Pick another with --addr"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `state` on `addr` until SIGINT or SIGTERM, then finishes the requests in
/// flight. Without tokens, only a loopback address is allowed.
pub async fn serve(addr: SocketAddr, state: AppState) -> Result<(), ServeError> {
    check_addr(addr, &state.tokens)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let (kind, at) = state.store.describe();
    tracing::info!("serving {kind} {at} on http://{}", listener.local_addr()?);
    if !state.tokens.any() {
        tracing::warn!(
            "no ADMIN_API_TOKEN or INGEST_API_TOKEN: every route is open, so only loopback is served"
        );
    }
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Refuses to serve `addr` beyond loopback when no token guards the routes.
pub fn check_addr(addr: SocketAddr, tokens: &Tokens) -> Result<(), ServeError> {
    if tokens.any() || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ServeError::OpenWithoutTokens(addr))
    }
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
