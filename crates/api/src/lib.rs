//! The analytics API's logic, apart from HTTP: what each route of the original FastAPI
//! backend (`admin-api.md`) reads or writes, its validation, and its JSON — over either
//! store, with the same answer from both.
//!
//! - [`store`]: the store — Postgres through a connection pool, or the SQLite file
//!   through a pool of read-only connections and one writer, every call off the async
//!   runtime. One SQL text per query; what differs between the two SQL dialects (case
//!   folding, how a timestamp is bound) is asked of [`store::Dialect`]. Rows come back as
//!   catalog [`Value`]s, decoded by the same converters the migration uses.
//! - [`json`]: rows into JSON by the catalog's column descriptions; one timestamp format
//!   (ISO 8601 UTC with microseconds and `Z`) on both stores. **Only this crate builds the
//!   API's JSON.**
//! - [`read`]: the read routes; [`Invalid`] names a bad parameter (HTTP 422).
//! - [`write`](mod@write): the voice service's write routes (start, event, end a call; create a
//!   customer), each one transaction on either store; ending a call folds it into its
//!   day's `daily_metrics` row atomically.
//! - [`compare`]: the read routes asked the same requests of two stores, the answers
//!   compared JSON path by JSON path (`ava verify --api`).

pub mod compare;
pub mod json;
pub mod read;
pub mod request;
pub mod store;
pub mod write;

pub use ava_convert::Value;
pub use store::{Store, StoreError};

/// A request the API refuses, and why; the HTTP layer maps each kind to its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter outside its rules (422).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// No such call, customer, … (404), with the message the original gave.
    #[error("{0}")]
    NotFound(&'static str),
    /// A conflict with what is stored (409): a session that exists, a call already ended.
    #[error("{0}")]
    Conflict(String),
    /// A request the original refused with 400 (a customer's phone that exists).
    #[error("{0}")]
    BadRequest(String),
    /// The store failed (500; the details go to the log, not to the client).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An answer could not be written as JSON (500; never expected: every answer is
    /// made of strings, numbers and the JSON a column holds).
    #[error("writing the answer as JSON: {0}")]
    Encode(serde_json::Error),
}

/// One invalid parameter: where it is (`query`, `path` or `body`), its name, what is
/// wrong, and the kind of error (FastAPI's `type`), as FastAPI reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location} parameter {name}: {message}")]
pub struct Invalid {
    pub location: &'static str,
    pub name: String,
    pub message: String,
    /// `value_error`, `missing` or `extra_forbidden`.
    pub kind: &'static str,
}

impl Invalid {
    pub fn at(location: request::Location, name: &str, message: impl Into<String>) -> Invalid {
        Invalid {
            location: location.name(),
            name: name.to_string(),
            message: message.into(),
            kind: "value_error",
        }
    }

    /// A required parameter or field that is absent (FastAPI's `missing`).
    pub fn missing(location: request::Location, name: &str) -> Invalid {
        Invalid {
            kind: "missing",
            ..Invalid::at(location, name, "field required")
        }
    }

    /// A parameter or field the route does not take (FastAPI's `extra="forbid"`).
    pub fn extra(location: request::Location, name: &str) -> Invalid {
        Invalid {
            kind: "extra_forbidden",
            ..Invalid::at(location, name, "extra fields not permitted")
        }
    }
}
