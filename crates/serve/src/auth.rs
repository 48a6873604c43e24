//! Who may call what: admin reads need `Authorization: Bearer <ADMIN_API_TOKEN>` or a
//! Supabase login's JWT (see [`crate::jwt`]: 401 for a bad one, 403 for a valid one
//! without the staff or owner role), the voice service's writes
//! `Bearer <INGEST_API_TOKEN>` only; `/health` is open. Static tokens are compared in
//! constant time.
//!
//! **Every route group is guarded unless the server runs explicitly open**: a group
//! whose guard is not configured refuses every request (401) rather than letting it
//! through, and [`Tokens::check`] refuses to start with one group guarded and the other
//! not. Open means [`Tokens::open`] (`ava serve --insecure-open`), loopback only.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::jwt::{Refusal, Verifier};
use crate::{AppError, AppState};

/// The configured tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub admin: Option<String>,
    pub ingest: Option<String>,
    /// Supabase logins, also let through the admin routes.
    pub jwt: Option<Arc<Verifier>>,
    /// No guard at all, on purpose (`--insecure-open`): every route is open.
    pub open: bool,
}

/// Why a set of tokens cannot guard a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error(
        "the write routes would be open: INGEST_API_TOKEN (--ingest-token) is not set while \
         the admin routes are guarded. Set it too (e.g. `openssl rand -hex 32`)"
    )]
    NoIngestToken,
    #[error(
        "the admin routes would be open: ADMIN_API_TOKEN (--admin-token), or Supabase \
         logins (SUPABASE_JWT_SECRET / SUPABASE_JWKS), is not set while the write routes \
         are guarded. Set one too (e.g. `openssl rand -hex 32`)"
    )]
    NoAdminGuard,
    #[error(
        "no tokens: set ADMIN_API_TOKEN and INGEST_API_TOKEN (or --admin-token and \
         --ingest-token); to run every route open on a loopback address for a trial, pass \
         --insecure-open"
    )]
    NoTokens,
    #[error(
        "--insecure-open with tokens set: the tokens would be ignored. Drop --insecure-open, \
         or the tokens"
    )]
    OpenWithTokens,
}

impl Tokens {
    /// Every route open (`--insecure-open`; loopback only).
    pub fn open() -> Tokens {
        Tokens {
            open: true,
            ..Tokens::default()
        }
    }

    /// Whether any route is guarded.
    pub fn any(&self) -> bool {
        self.admin_guarded() || self.ingest.is_some()
    }

    fn admin_guarded(&self) -> bool {
        self.admin.is_some() || self.jwt.is_some()
    }

    /// Whether these tokens guard every route group — or none, explicitly.
    pub fn check(&self) -> Result<(), GuardError> {
        match (self.open, self.admin_guarded(), self.ingest.is_some()) {
            (true, false, false) => Ok(()),
            (true, _, _) => Err(GuardError::OpenWithTokens),
            (false, true, true) => Ok(()),
            (false, true, false) => Err(GuardError::NoIngestToken),
            (false, false, true) => Err(GuardError::NoAdminGuard),
            (false, false, false) => Err(GuardError::NoTokens),
        }
    }
}

/// Which token a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Ingest,
}

/// The bearer token `request` carries.
fn bearer(request: &Request) -> Result<&str, AppError> {
    request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized("Missing bearer token"))
}

/// Whether `given` is the token `expected`, in constant time.
fn same(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether `request` carries the token `expected` (none configured: only when the
/// server runs open).
fn allowed(request: &Request, expected: Option<&str>, open: bool) -> Result<(), AppError> {
    let Some(expected) = expected else {
        return if open {
            Ok(())
        } else {
            Err(AppError::Unauthorized("Invalid token"))
        };
    };
    if same(bearer(request)?, expected) {
        Ok(())
    } else {
        Err(AppError::Unauthorized("Invalid token"))
    }
}

/// Middleware: admin routes — the admin token, or a Supabase login's JWT.
pub async fn admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let Some(jwt) = &state.tokens.jwt else {
        allowed(&request, state.tokens.admin.as_deref(), state.tokens.open)?;
        return Ok(next.run(request).await);
    };
    let given = bearer(&request)?;
    let by_token = state
        .tokens
        .admin
        .as_deref()
        .is_some_and(|admin| same(given, admin));
    if !by_token {
        jwt.check(given).await.map_err(|refusal| match refusal {
            Refusal::Invalid(why) => AppError::Unauthorized(why),
            Refusal::Forbidden(why) => AppError::Forbidden(why),
        })?;
    }
    Ok(next.run(request).await)
}

/// Middleware: the voice service's write routes.
pub async fn ingest(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    allowed(&request, state.tokens.ingest.as_deref(), state.tokens.open)?;
    Ok(next.run(request).await)
}
