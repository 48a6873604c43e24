//! The routes: paths, parameters and guards. Each handler reads what it is given
//! through the parameters' descriptions in `ava_api` (`request::Params` for a query,
//! `request::Body` for a body, a `Field` for a path parameter), so a bad one is a 422
//! naming it, never a bare rejection, and the same descriptions make the OpenAPI
//! document and the cache's keys.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use chrono::Utc;
use serde_json::Value as Json_;
use tower_http::cors::{AllowOrigin, CorsLayer};

use ava_api::json::Answer;
use ava_api::read::{
    self, AppointmentsQuery, CallsPage, CustomersPage, Days, Export, PeakHours, Period, Series,
    Window, CALL_ID, CUSTOMER_ID,
};
use ava_api::request::{path_id, Body, Field, Location, NoParams, Params, Query};
use ava_api::write::{self, session_field, CallEnd, NewCall, NewCustomer, NewEvent};
use ava_api::Invalid;

use crate::{auth, cache, AppError, AppState};

/// A read's answer: the JSON `ava_api` wrote, sent as it is.
type Reply = Result<Answered, AppError>;
/// A write's answer (200).
type Written = Result<Json<Json_>, AppError>;
/// A write's answer: 201 and what was created.
type Created = Result<(StatusCode, Json<Json_>), AppError>;

// The paths, as the original named them (and its path parameters).
pub(crate) const OVERVIEW: &str = "/api/admin/metrics/overview";
pub(crate) const CALLS: &str = "/api/admin/calls";
pub(crate) const CALL: &str = "/api/admin/calls/{call_id}";
pub(crate) const CALLS_CSV: &str = "/api/admin/calls/export.csv";
pub(crate) const TRANSCRIPT: &str = "/api/admin/calls/{call_id}/transcript";
pub(crate) const DAILY: &str = "/api/admin/analytics/daily";
pub(crate) const PEAK_HOURS: &str = "/api/admin/analytics/peak-hours";
pub(crate) const OUTCOMES: &str = "/api/admin/analytics/outcome-distribution";
pub(crate) const TIMESERIES: &str = "/api/admin/analytics/timeseries";
pub(crate) const SERVICES: &str = "/api/admin/analytics/services";
pub(crate) const APPOINTMENTS: &str = "/api/appointments";
pub(crate) const CUSTOMERS: &str = "/api/admin/customers";
pub(crate) const CUSTOMER: &str = "/api/customers/{customer_id}";
pub(crate) const HISTORY: &str = "/api/customers/{customer_id}/history";
pub(crate) const ADMIN_HEALTH: &str = "/api/admin/health";
pub(crate) const START_CALL: &str = "/api/calls";
pub(crate) const CALL_EVENT: &str = "/api/calls/{session_id}/events";
pub(crate) const END_CALL: &str = "/api/calls/{session_id}/end";
pub(crate) const NEW_CUSTOMER: &str = "/api/customers";

/// The query parameters of an admin route whose answers may be cached (`None`: not
/// one; the admin health check always asks the store).
fn cached_query_fields(route: &str) -> Option<Vec<Field>> {
    match route {
        OVERVIEW => Some(Period::fields()),
        CALLS => Some(CallsPage::fields()),
        DAILY => Some(Days::fields()),
        PEAK_HOURS => Some(PeakHours::fields()),
        OUTCOMES => Some(Window::fields()),
        TIMESERIES => Some(Series::fields()),
        SERVICES => Some(Window::fields()),
        APPOINTMENTS => Some(AppointmentsQuery::fields()),
        CUSTOMERS => Some(CustomersPage::fields()),
        CALL | TRANSCRIPT | CUSTOMER | HISTORY => Some(NoParams::fields()),
        _ => None,
    }
}

/// What the answer of `uri` on `route` depends on: its path with each id normalised,
/// and its checked query normalised; `None` when the route refuses either.
pub(crate) fn cache_key(route: &str, uri: &Uri) -> Option<String> {
    let query = Query::parse(&cached_query_fields(route)?, uri.query()).ok()?;
    let (templates, segments): (Vec<&str>, Vec<&str>) =
        (route.split('/').collect(), uri.path().split('/').collect());
    if templates.len() != segments.len() {
        return None;
    }
    let path = templates
        .iter()
        .zip(&segments)
        .map(|(template, segment)| {
            if template.starts_with('{') {
                // An id, spelt one way (`007` and `7` are one question).
                segment.parse::<i64>().ok().map(|id| id.to_string())
            } else {
                Some((*segment).to_string())
            }
        })
        .collect::<Option<Vec<String>>>()?;
    Some(format!("{}?{}", path.join("/"), query.key()))
}

pub(crate) fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route(OVERVIEW, get(overview))
        .route(CALLS, get(calls))
        .route(CALLS_CSV, get(calls_csv))
        .route(CALL, get(call))
        .route(TRANSCRIPT, get(transcript))
        .route(DAILY, get(daily))
        .route(PEAK_HOURS, get(peak_hours))
        .route(OUTCOMES, get(outcomes))
        .route(TIMESERIES, get(timeseries))
        .route(SERVICES, get(services))
        .route(APPOINTMENTS, get(appointments))
        .route(CUSTOMERS, get(customers))
        .route(CUSTOMER, get(customer))
        .route(HISTORY, get(history))
        .route(ADMIN_HEALTH, get(admin_health))
        .route_layer(middleware::from_fn_with_state(state.clone(), cache::reads))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::admin));
    // The voice service's writes: bodies taken as bytes and parsed by `ava_api::write`,
    // so a bad one is a 422 naming the field; a successful write empties the cache.
    let ingest = Router::new()
        .route(START_CALL, post(start_call))
        .route(CALL_EVENT, post(call_event))
        .route(END_CALL, post(end_call))
        .route(NEW_CUSTOMER, post(create_customer))
        .route_layer(middleware::from_fn_with_state(state.clone(), cache::writes))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::ingest));
    // Answers about one clinic's customers are never stored by a browser or a proxy.
    let mut api = Router::new()
        .merge(admin)
        .merge(ingest)
        .layer(middleware::map_response(
            |mut response: Response| async move {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            },
        ));
    if !state.cors.is_empty() {
        api = api.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(state.cors.iter().cloned()))
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
    Json(crate::Supabase::clone(&state.supabase))
}

/// A path parameter as text: a 422 naming `field` when it is not UTF-8 once decoded.
fn path_text(field: &Field, path: Result<Path<String>, PathRejection>) -> Result<String, Invalid> {
    path.map(|Path(text)| text)
        .map_err(|_| Invalid::at(Location::Path, field.name, "must be UTF-8 once decoded"))
}

/// An id from the path, named by `field`, on a route that takes no query parameters.
fn id(
    field: &Field,
    path: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<i64, Invalid> {
    NoParams::parse(query.as_deref())?;
    path_id(field, &path_text(field, path)?)
}

/// `GET /health`, open: whether the store answers, and which kind it is — nothing
/// about where it is.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    health_answer(&state, false).await
}

/// `GET /api/admin/health`: `/health` with where the store is (host, database, user,
/// or the file).
async fn admin_health(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    if let Err(invalid) = NoParams::parse(q.as_deref()) {
        return AppError::from(invalid).into_response();
    }
    health_answer(&state, true).await.into_response()
}

async fn health_answer(state: &AppState, detailed: bool) -> impl IntoResponse {
    let (ok, body) = read::health(&state.store, detailed).await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn overview(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let period = Period::parse(q.as_deref())?;
    Ok(Answered(
        read::overview(&state.store, period, Utc::now()).await?,
    ))
}

async fn calls(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let page = CallsPage::parse(q.as_deref())?;
    Ok(Answered(read::calls(&state.store, &page).await?))
}

async fn call(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Reply {
    Ok(Answered(
        read::call(&state.store, id(&CALL_ID, path, q)?).await?,
    ))
}

async fn transcript(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Reply {
    Ok(Answered(
        read::call_transcript(&state.store, id(&CALL_ID, path, q)?).await?,
    ))
}

async fn daily(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let days = Days::parse(q.as_deref())?;
    Ok(Answered(read::daily(&state.store, days, Utc::now()).await?))
}

/// Every call of a search as CSV, streamed as it is read (never cached: see
/// `cached_query_fields`).
async fn calls_csv(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    let query = Export::parse(q.as_deref())?;
    let rows = read::export(&state.store, &query).await?;
    // The status is sent before the rows: a store failure part-way can only end the
    // body early (the client sees a cut download; `read::export` logs it).
    let body = axum::body::Body::from_stream(rows);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

async fn peak_hours(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = PeakHours::parse(q.as_deref())?;
    let tz = state.zone(query.tz);
    Ok(Answered(
        read::peak_hours(&state.store, query.period, tz, Utc::now()).await?,
    ))
}

async fn outcomes(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = Window::parse(q.as_deref())?;
    let tz = state.zone(query.tz);
    Ok(Answered(
        read::outcome_distribution(&state.store, query.period, tz, Utc::now()).await?,
    ))
}

async fn timeseries(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = Series::parse(q.as_deref())?;
    let tz = state.zone(query.tz);
    Ok(Answered(
        read::timeseries(&state.store, query.period, query.interval, tz, Utc::now()).await?,
    ))
}

async fn services(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = Window::parse(q.as_deref())?;
    let tz = state.zone(query.tz);
    Ok(Answered(
        read::services(&state.store, query.period, tz, Utc::now()).await?,
    ))
}

async fn appointments(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = AppointmentsQuery::parse(q.as_deref())?;
    Ok(Answered(read::appointments(&state.store, &query).await?))
}

async fn customers(State(state): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let query = CustomersPage::parse(q.as_deref())?;
    Ok(Answered(read::customers(&state.store, &query).await?))
}

async fn customer(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Reply {
    Ok(Answered(
        read::customer(&state.store, id(&CUSTOMER_ID, path, q)?).await?,
    ))
}

async fn history(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Reply {
    Ok(Answered(
        read::customer_history(&state.store, id(&CUSTOMER_ID, path, q)?).await?,
    ))
}

/// The bytes of an [`Answer`], as `application/json`.
pub(crate) struct Answered(Answer);

impl IntoResponse for Answered {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0.into_bytes(),
        )
            .into_response()
    }
}

/// The session id of a write route's path (checked by `ava_api::write`).
fn session(path: Result<Path<String>, PathRejection>) -> Result<String, Invalid> {
    path_text(&session_field(), path)
}

async fn start_call(State(state): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> Created {
    NoParams::parse(q.as_deref())?;
    let call = NewCall::parse(&body)?;
    let started = write::start_call(&state.store, call, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn call_event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Created {
    NoParams::parse(q.as_deref())?;
    let session = session(path)?;
    let event = NewEvent::parse(&body)?;
    let logged = write::call_event(&state.store, &session, event, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

async fn end_call(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Written {
    NoParams::parse(q.as_deref())?;
    let session = session(path)?;
    let end = CallEnd::parse(&body)?;
    Ok(Json(
        write::end_call_session(&state.store, &session, end, Utc::now()).await?,
    ))
}

async fn create_customer(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Created {
    NoParams::parse(q.as_deref())?;
    let customer = NewCustomer::parse(&body)?;
    let created = write::new_customer(&state.store, customer, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
