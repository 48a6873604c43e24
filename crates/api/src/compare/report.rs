//! The report of a comparison: per kind of request how many were asked and answered
//! alike, and every request with its statuses and its differences by JSON path. It
//! serialises to JSON for `ava verify --api --json`.

use serde::Serialize;

#[cfg(doc)]
use super::{MAX_LISTED, MAX_VALUE_CHARS};

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `now` both stores were asked with (ISO 8601 UTC).
    pub now: String,
    /// What each store is (`sqlite /path`, `postgres URL` without its password).
    pub source: String,
    pub target: String,
    /// Per kind of request: how many were asked, how many answered alike.
    pub kinds: Vec<KindCount>,
    /// Every request, in the order asked.
    pub requests: Vec<Outcome>,
}

impl Report {
    /// Whether every request was answered alike.
    pub fn identical(&self) -> bool {
        self.requests.iter().all(|r| r.identical)
    }

    /// The requests answered differently.
    pub fn differing(&self) -> impl Iterator<Item = &Outcome> {
        self.requests.iter().filter(|r| !r.identical)
    }
}

/// One kind of request's counts.
#[derive(Debug, Clone, Serialize)]
pub struct KindCount {
    pub kind: &'static str,
    pub requests: usize,
    pub identical: usize,
}

/// One request and how the two answers compare.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: &'static str,
    /// The request as the HTTP route would receive it, e.g. `GET /api/admin/calls/7`.
    pub request: String,
    /// The HTTP status each store's answer would have.
    pub source_status: u16,
    pub target_status: u16,
    /// Both answers equal (and, where a status is expected, both have it).
    pub identical: bool,
    /// The first [`MAX_LISTED`] differences.
    pub differences: Vec<Difference>,
    /// How many more differences there are.
    pub more_differences: usize,
}

/// One JSON path whose values differ, both values as compact JSON (cut to
/// [`MAX_VALUE_CHARS`]), `(absent)` where one side has nothing there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub path: String,
    pub source: String,
    pub target: String,
}
