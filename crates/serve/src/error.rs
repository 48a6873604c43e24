//! The one error type of the HTTP layer, and its responses: FastAPI's shapes, so the
//! dashboard reads them as before — `{"detail": "…"}`, and for a bad parameter
//! `{"detail": [{"loc": ["query", "page"], "msg": "…", "type": "value_error"}]}`.
//! A store failure is logged with its cause; the client sees only that it failed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use ava_api::{ApiError, Invalid};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No token, or the wrong one (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Who the caller is is known, and they may not (403).
    #[error("{0}")]
    Forbidden(&'static str),
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        AppError::Api(ApiError::Invalid(e))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            AppError::Unauthorized(why) => (StatusCode::UNAUTHORIZED, json!({"detail": why})),
            AppError::Forbidden(why) => (StatusCode::FORBIDDEN, json!({"detail": why})),
            AppError::Api(ApiError::Invalid(e)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"detail": [{
                    "loc": [e.location, e.name],
                    "msg": e.message,
                    "type": e.kind,
                }]}),
            ),
            AppError::Api(ApiError::NotFound(what)) => {
                (StatusCode::NOT_FOUND, json!({"detail": what}))
            }
            AppError::Api(ApiError::Conflict(why)) => {
                (StatusCode::CONFLICT, json!({"detail": why}))
            }
            AppError::Api(ApiError::BadRequest(why)) => {
                (StatusCode::BAD_REQUEST, json!({"detail": why}))
            }
            AppError::Api(e @ (ApiError::Store(_) | ApiError::Encode(_))) => {
                tracing::error!("{e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"detail": "Internal server error"}),
                )
            }
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
