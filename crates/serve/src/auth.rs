//! Who may call what: admin reads need `Authorization: Bearer <ADMIN_API_TOKEN>`, the
//! voice service's writes `Bearer <INGEST_API_TOKEN>`; `/health` is open. Tokens are
//! compared in constant time. With no token configured a route is open — and the server
//! then only listens on loopback (see [`crate::serve`]).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::{AppError, AppState};

/// The configured tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub admin: Option<String>,
    pub ingest: Option<String>,
}

impl Tokens {
    /// Whether any route is guarded.
    pub fn any(&self) -> bool {
        self.admin.is_some() || self.ingest.is_some()
    }
}

/// Which token a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Ingest,
}

/// Whether `request` carries the token `expected` (none configured: yes).
fn allowed(request: &Request, expected: Option<&str>) -> Result<(), AppError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized("Missing bearer token"))?;
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AppError::Unauthorized("Invalid token"))
    }
}

/// Middleware: admin routes.
pub async fn admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    allowed(&request, state.tokens.admin.as_deref())?;
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
