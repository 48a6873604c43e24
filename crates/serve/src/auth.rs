//! Who may call what: admin reads need `Authorization: Bearer <ADMIN_API_TOKEN>` or a
//! Supabase login's JWT (see [`crate::jwt`]: 401 for a bad one, 403 for a valid one
//! without the staff or owner role), the voice service's writes
//! `Bearer <INGEST_API_TOKEN>` only; `/health` is open. Static tokens are compared in
//! constant time. With nothing configured a route is open — and the server then only
//! listens on loopback (see [`crate::serve`]).

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
}

impl Tokens {
    /// Whether any route is guarded.
    pub fn any(&self) -> bool {
        self.admin.is_some() || self.ingest.is_some() || self.jwt.is_some()
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

/// Whether `request` carries the token `expected` (none configured: yes).
fn allowed(request: &Request, expected: Option<&str>) -> Result<(), AppError> {
    let Some(expected) = expected else {
        return Ok(());
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
        allowed(&request, state.tokens.admin.as_deref())?;
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
    allowed(&request, state.tokens.ingest.as_deref())?;
    Ok(next.run(request).await)
}
