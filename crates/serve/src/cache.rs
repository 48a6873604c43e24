//! A short-lived cache of the admin routes' answers.
//!
//! The dashboard asks the same few questions over and over (the overview, the first page
//! of calls), from every open browser, every few seconds. An answer is *fresh* for
//! [`DEFAULT_TTL`] (`--cache-ttl-ms`; 0 turns the cache off), keyed by the path and the
//! route's query parameters as checked and normalised (`ava_api::request::Query::key`:
//! the last of repeated values, in name order; a query the route refuses is never
//! kept), so no two spellings of one question take two entries. The cache holds at
//! most [`DEFAULT_BYTES`] (`--cache-mb`) of keys and answers; one answer larger than
//! [`MAX_SHARE`]th of that is served but not kept.
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
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::AppState;

/// How long an answer is fresh unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_millis(1000);

/// How many TTLs a stale answer may still be served while it is recomputed.
pub const STALE_FOR: u32 = 10;

/// How many bytes of keys and answers the cache holds unless configured otherwise.
pub const DEFAULT_BYTES: u64 = 64 << 20;

/// An answer larger than this share of the cache is not kept.
pub const MAX_SHARE: u64 = 16;

/// What an entry costs besides its key and body (its bookkeeping, roughly).
const ENTRY_OVERHEAD: usize = 128;

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
    /// The largest answer kept, in bytes.
    max_body: usize,
    /// Keys being recomputed in the background.
    refreshing: Arc<Mutex<HashSet<String>>>,
    /// Moves on at every [`Cache::clear`]: an answer computed across a write is not kept.
    generation: Arc<AtomicU64>,
}

impl Cache {
    /// A cache whose answers are fresh for `ttl` (zero: none kept), holding at most
    /// `bytes` of keys and answers.
    pub fn new(ttl: Duration, bytes: u64) -> Cache {
        Cache {
            answers: (!ttl.is_zero() && bytes > 0).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(bytes)
                    .weigher(|key: &String, answer: &Arc<Answer>| {
                        u32::try_from(key.len() + answer.body.len() + ENTRY_OVERHEAD)
                            .unwrap_or(u32::MAX)
                    })
                    .time_to_live(ttl * STALE_FOR)
                    .build()
            }),
            ttl,
            max_body: usize::try_from(bytes / MAX_SHARE).unwrap_or(usize::MAX),
            refreshing: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// The bytes of keys and answers held now (after pending evictions).
    pub async fn weight(&self) -> u64 {
        match &self.answers {
            Some(answers) => {
                answers.run_pending_tasks().await;
                answers.weighted_size()
            }
            None => 0,
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

/// Runs the request and keeps its whole answer (the handlers build it in memory).
async fn compute(next: Next, request: Request) -> Arc<Answer> {
    let response = next.run(request).await;
    let status = response.status();
    let body = match to_bytes(response.into_body(), usize::MAX).await {
        Ok(body) => body,
        Err(_) => Bytes::from_static(b"{\"detail\":\"Internal server error\"}"),
    };
    Arc::new(Answer {
        status,
        body,
        computed: Instant::now(),
    })
}

impl Cache {
    /// Whether `answer`, computed at `generation`, may stay: a success, not too large,
    /// and no write since.
    fn keeps(&self, answer: &Answer, generation: u64) -> bool {
        answer.status.is_success()
            && answer.body.len() <= self.max_body
            && self.generation() == generation
    }
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
    // The route's parameters, checked and normalised; a query it refuses goes to the
    // handler (a 422) and is not kept.
    let Some(key) = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| crate::routes::cache_key(matched.as_str(), request.uri()))
    else {
        return next.run(request).await;
    };
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
                    if cache.keeps(&fresh, generation) {
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
    if !cache.keeps(&answer, generation) {
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
