//! The routes: paths, parameters and guards. Each handler parses what it is given
//! (every parameter arrives as text, so a bad one is a 422 naming it, never a bare
//! rejection) and hands the work to `ava_api`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value as Json_;
use tower_http::cors::{AllowOrigin, CorsLayer};

use ava_api::read::{self, AppointmentsQuery, CallsQuery, Period};
use ava_api::write::{self, CallEnd, NewCall, NewCustomer, NewEvent};
use ava_api::Invalid;

use crate::{auth, cache, AppError, AppState};

type Reply = Result<Json<Json_>, AppError>;
/// A write's answer: 201 and what was created.
type Created = Result<(StatusCode, Json<Json_>), AppError>;

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
        .route_layer(middleware::from_fn_with_state(state.clone(), cache::reads))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::admin));
    // The voice service's writes: bodies taken as bytes and parsed by `ava_api::write`,
    // so a bad one is a 422 naming the field; a successful write empties the cache.
    let ingest = Router::new()
        .route("/api/calls", post(start_call))
        .route("/api/calls/{session_id}/events", post(call_event))
        .route("/api/calls/{session_id}/end", post(end_call))
        .route("/api/customers", post(create_customer))
        .route_layer(middleware::from_fn_with_state(state.clone(), cache::writes))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::ingest));
    let mut api = Router::new().merge(admin).merge(ingest);
    if !state.cors.is_empty() {
        api = api.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(state.cors.clone()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    // The page may talk to its Supabase project's Auth (the sign-in), and only to it.
    let auth_origin = state
        .supabase
        .supabase_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    let dashboard =
        ava_dashboard::routes().layer(middleware::map_response(move |mut response: Response| {
            let auth_origin = auth_origin.clone();
            async move {
                if let Some(origin) = &auth_origin {
                    let csp = response
                        .headers()
                        .get(header::CONTENT_SECURITY_POLICY)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| {
                            v.replacen(
                                "connect-src 'self'",
                                &format!("connect-src 'self' {origin}"),
                                1,
                            )
                        })
                        .and_then(|v| HeaderValue::from_str(&v).ok());
                    if let Some(csp) = csp {
                        response
                            .headers_mut()
                            .insert(header::CONTENT_SECURITY_POLICY, csp);
                    }
                }
                response
            }
        }));
    Router::new()
        .route("/health", get(health))
        .route("/config.json", get(config))
        .merge(api)
        .merge(crate::openapi::routes())
        .merge(dashboard)
        .with_state(state)
}

/// What the dashboard needs to offer a Supabase sign-in (nulls: the token prompt).
async fn config(State(state): State<AppState>) -> Json<crate::Supabase> {
    Json(state.supabase.clone())
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

async fn start_call(State(state): State<AppState>, body: Bytes) -> Created {
    let call = NewCall::parse(&body)?;
    let started = write::start_call(&state.store, call, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn call_event(
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Created {
    let event = NewEvent::parse(&body)?;
    let logged = write::call_event(&state.store, &session, event, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

async fn end_call(
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Reply {
    let end = CallEnd::parse(&body)?;
    Ok(Json(
        write::end_call_session(&state.store, &session, end, Utc::now()).await?,
    ))
}

async fn create_customer(State(state): State<AppState>, body: Bytes) -> Created {
    let customer = NewCustomer::parse(&body)?;
    let created = write::new_customer(&state.store, customer, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
