//! The routes: paths, parameters and guards. Each handler parses what it is given
//! (every parameter arrives as text, so a bad one is a 422 naming it, never a bare
//! rejection) and hands the work to `ava_api`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value as Json_;

use ava_api::read::{self, AppointmentsQuery, CallsQuery, Period};
use ava_api::Invalid;

use crate::{auth, AppError, AppState};

type Reply = Result<Json<Json_>, AppError>;

pub(crate) fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route("/api/admin/metrics/overview", get(overview))
        .route("/api/admin/calls", get(calls))
        .route("/api/admin/calls/{id}", get(call))
        .route("/api/admin/calls/{id}/transcript", get(transcript))
        .route("/api/admin/analytics/daily", get(daily))
        .route("/api/appointments", get(appointments))
        .route("/api/customers/{id}", get(customer))
        .route("/api/customers/{id}/history", get(history))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::admin));
    Router::new()
        .route("/health", get(health))
        .merge(admin)
        .with_state(state)
}

/// An id from the path: a 422 naming it when it is not an integer.
pub(crate) fn id(text: &str) -> Result<i64, Invalid> {
    text.parse().map_err(|_| Invalid {
        location: "path",
        name: "id".into(),
        message: format!("must be an integer (not {text:?})"),
    })
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let (ok, body) = read::health(&state.store).await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

#[derive(Debug, Default, Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

async fn overview(State(state): State<AppState>, Query(q): Query<PeriodQuery>) -> Reply {
    let period = Period::parse(q.period.as_deref())?;
    Ok(Json(
        read::overview(&state.store, period, Utc::now()).await?,
    ))
}

async fn calls(State(state): State<AppState>, Query(q): Query<CallsQuery>) -> Reply {
    let page = q.check()?;
    Ok(Json(read::calls(&state.store, &page).await?))
}

async fn call(State(state): State<AppState>, Path(call): Path<String>) -> Reply {
    Ok(Json(read::call(&state.store, id(&call)?).await?))
}

async fn transcript(State(state): State<AppState>, Path(call): Path<String>) -> Reply {
    Ok(Json(read::call_transcript(&state.store, id(&call)?).await?))
}

#[derive(Debug, Default, Deserialize)]
struct DaysQuery {
    days: Option<String>,
}

async fn daily(State(state): State<AppState>, Query(q): Query<DaysQuery>) -> Reply {
    let days = read::daily_days(q.days.as_deref())?;
    Ok(Json(read::daily(&state.store, days, Utc::now()).await?))
}

async fn appointments(State(state): State<AppState>, Query(q): Query<AppointmentsQuery>) -> Reply {
    Ok(Json(read::appointments(&state.store, &q).await?))
}

async fn customer(State(state): State<AppState>, Path(customer): Path<String>) -> Reply {
    Ok(Json(read::customer(&state.store, id(&customer)?).await?))
}

async fn history(State(state): State<AppState>, Path(customer): Path<String>) -> Reply {
    Ok(Json(
        read::customer_history(&state.store, id(&customer)?).await?,
    ))
}
