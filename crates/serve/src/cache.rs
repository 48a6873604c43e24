//! A short-lived cache of the admin routes' answers.
//!
//! The dashboard asks the same few questions over and over (the overview, the first page
//! of calls), from every open browser, every few seconds. An answer is kept for
//! [`DEFAULT_TTL`] (`--cache-ttl-ms`; 0 turns the cache off), keyed by path and query,
//! and computed once however many requests ask at the same moment. Any write through
//! `ava serve` empties the cache, so its own writes show at once; a write by another
//! program (the old backend on the SQLite file) shows within the TTL. Only successful
//! answers are kept. Auth runs before the cache: a request without the token never
//! reaches it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::AppState;

/// How long an answer is kept unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_millis(1000);

/// Answers larger than this are not kept (a body is buffered to be kept).
const MAX_BODY: usize = 8 << 20;

/// The cache: shared by every clone of the state.
#[derive(Clone)]
pub struct Cache {
    answers: Option<moka::future::Cache<String, Arc<(StatusCode, Bytes)>>>,
}

impl Cache {
    /// A cache keeping answers for `ttl` (zero: none kept).
    pub fn new(ttl: Duration) -> Cache {
        Cache {
            answers: (!ttl.is_zero()).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(ttl)
                    .build()
            }),
        }
    }

    /// Forgets every answer.
    pub fn clear(&self) {
        if let Some(answers) = &self.answers {
            answers.invalidate_all();
        }
    }
}

/// Middleware for the admin (read) routes.
pub async fn reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(answers) = state.cache.answers.clone() else {
        return next.run(request).await;
    };
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |pq| pq.to_string());
    let answer = answers
        .get_with(key.clone(), async move {
            let response = next.run(request).await;
            let status = response.status();
            match to_bytes(response.into_body(), MAX_BODY).await {
                Ok(body) => Arc::new((status, body)),
                Err(_) => Arc::new((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Bytes::from_static(b"{\"detail\":\"Internal server error\"}"),
                )),
            }
        })
        .await;
    if !answer.0.is_success() {
        // Shown to the requests that waited for it, never kept.
        answers.invalidate(&key).await;
    }
    let mut response = (answer.0, Body::from(answer.1.clone())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Middleware for the write routes: a successful write empties the cache.
pub async fn writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() {
        state.cache.clear();
    }
    response
}
