//! A short-lived cache of the admin routes' answers.
//!
//! The dashboard asks the same few questions over and over (the overview, the first page
//! of calls), from every open browser, every few seconds. An answer is *fresh* for
//! [`DEFAULT_TTL`] (`--cache-ttl-ms`; 0 turns the cache off), keyed by path and query.
//! A missing answer is computed once however many requests ask for it at the same
//! moment. A stale one (older than the TTL, younger than [`STALE_FOR`] TTLs) is still
//! served while one request recomputes it in the background, so a slow query is paid
//! by nobody but the first request for a key. Any write through `ava serve` empties the
//! cache, so its own writes show at once; a write by another program (the old backend
//! on the SQLite file) shows within the TTL plus one recomputation. Only successful
//! answers are kept. Auth runs before the cache: a request without the token never
//! reaches it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::AppState;

/// How long an answer is fresh unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_millis(1000);

/// How many TTLs a stale answer may still be served while it is recomputed.
pub const STALE_FOR: u32 = 10;

/// Answers larger than this are not kept (a body is buffered to be kept).
const MAX_BODY: usize = 8 << 20;

/// One kept answer.
struct Answer {
    status: StatusCode,
    body: Bytes,
    computed: Instant,
}

/// The cache: shared by every clone of the state.
#[derive(Clone)]
pub struct Cache {
    answers: Option<moka::future::Cache<String, Arc<Answer>>>,
    ttl: Duration,
    /// Keys being recomputed in the background.
    refreshing: Arc<Mutex<HashSet<String>>>,
    /// Moves on at every [`Cache::clear`]: an answer computed across a write is not kept.
    generation: Arc<AtomicU64>,
}

impl Cache {
    /// A cache whose answers are fresh for `ttl` (zero: none kept).
    pub fn new(ttl: Duration) -> Cache {
        Cache {
            answers: (!ttl.is_zero()).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(ttl * STALE_FOR)
                    .build()
            }),
            ttl,
            refreshing: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// Forgets every answer.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(answers) = &self.answers {
            answers.invalidate_all();
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// Runs the request and keeps its whole answer.
async fn compute(next: Next, request: Request) -> Arc<Answer> {
    let response = next.run(request).await;
    let status = response.status();
    let body = match to_bytes(response.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return Arc::new(Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: Bytes::from_static(b"{\"detail\":\"Internal server error\"}"),
                computed: Instant::now(),
            })
        }
    };
    Arc::new(Answer {
        status,
        body,
        computed: Instant::now(),
    })
}

fn respond(answer: &Answer) -> Response {
    let mut response = (answer.status, Body::from(answer.body.clone())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Middleware for the admin (read) routes.
pub async fn reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cache = state.cache;
    let Some(answers) = cache.answers.clone() else {
        return next.run(request).await;
    };
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |pq| pq.to_string());
    if let Some(answer) = answers.get(&key).await {
        if answer.computed.elapsed() >= cache.ttl {
            // Stale: served as it is, while one request recomputes it.
            let first = cache
                .refreshing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
            if first {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let generation = cache.generation();
                    let fresh = compute(next, request).await;
                    if fresh.status.is_success() && cache.generation() == generation {
                        answers.insert(key.clone(), fresh).await;
                    } else {
                        answers.invalidate(&key).await;
                    }
                    cache
                        .refreshing
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                });
            }
        }
        return respond(&answer);
    }
    let generation = cache.generation();
    let answer = answers.get_with(key.clone(), compute(next, request)).await;
    if !answer.status.is_success() || cache.generation() != generation {
        // Shown to the requests that waited for it, never kept.
        answers.invalidate(&key).await;
    }
    respond(&answer)
}

/// Middleware for the write routes: a successful write empties the cache.
pub async fn writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() {
        state.cache.clear();
    }
    response
}
