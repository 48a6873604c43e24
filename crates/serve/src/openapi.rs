//! The API described for programs and people, as FastAPI serves it: `GET /openapi.json`
//! (OpenAPI 3.1) and `GET /docs` (Swagger UI, its files compiled in: the page works
//! offline). Both are open, whatever tokens are configured.
//!
//! The description is built from the code rather than restating it: a row's schema comes
//! from the catalog ([`ava_catalog::TABLES`]: each column's kind as a JSON type,
//! `varchar(n)` as `maxLength`, nullability), with the columns the read routes select
//! (`ava_api::read::LIST_COLUMNS`, `DETAIL_COLUMNS`, `DAILY_COLUMNS`, every column for
//! customers, appointments and events); the enums from the constants the routes check
//! against (`SORT_COLUMNS`, `Period::ALL`); the errors in the shapes of [`crate::AppError`].

use ava_api::read::{
    Period, DAILY_COLUMNS, DAYS, DETAIL_COLUMNS, LIST_COLUMNS, PAGE, PAGE_SIZE, SORT_COLUMNS,
};
use ava_catalog::{Column, Kind};
use axum::Router;
use serde_json::json;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Tag,
};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the description and the page are served.
const SPEC_PATH: &str = "/openapi.json";
const DOCS_PATH: &str = "/docs";

/// The security schemes: the two bearer tokens, and a Supabase login's JWT (which the
/// admin routes take instead of the admin token).
const ADMIN: &str = "AdminToken";
const INGEST: &str = "IngestToken";
const SUPABASE: &str = "SupabaseJWT";

/// `GET /openapi.json` and `GET /docs` (which redirects to `/docs/`, the page and its
/// files); no guard.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH)
        .url(SPEC_PATH, document())
        // `validatorUrl: none`: the page would otherwise ask a public validator.
        .config(
            Config::default()
                .validator_url("none")
                .persist_authorization(true)
                .display_request_duration(true),
        )
        .into()
}

/// The whole description.
fn document() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ava")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The med spa voice AI's analytics: the admin API the dashboard reads (the \
                     original FastAPI backend's routes and JSON) and the write API the voice \
                     service records calls with.\n\n\
                     Admin routes need `Authorization: Bearer <ADMIN_API_TOKEN>` or, when \
                     Supabase logins are configured (`--jwt-secret` / `--jwks`), \
                     `Bearer <a Supabase access token>` whose `app_metadata.role` is `staff` or \
                     `owner` (401 for a bad token, 403 for a valid one without that role); write \
                     routes need `Bearer <INGEST_API_TOKEN>`. A route whose token is not \
                     configured is open (and the server then listens on loopback only). \
                     `/health`, `/config.json`, `/openapi.json` and `/docs` are always open.\n\n\
                     Timestamps are ISO 8601 in UTC with microseconds and `Z`.",
                )),
        )
        .paths(paths())
        .components(Some(components()))
        .tags(Some([
            tag(
                "admin",
                "What the dashboard reads (admin token or Supabase JWT).",
            ),
            tag("ingest", "What the voice service records (ingest token)."),
            tag("health", "Whether the server and its store answer (open)."),
            tag(
                "dashboard",
                "What the dashboard page needs to sign in (open).",
            ),
        ]))
        .build()
}

fn tag(name: &str, description: &str) -> Tag {
    let mut tag = Tag::new(name);
    tag.description = Some(description.into());
    tag
}

// ---- schemas ----------------------------------------------------------------------

fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

fn of(ty: impl Into<SchemaType>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn array(items: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items).into()
}

/// `schema` or `null`.
fn or_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    OneOfBuilder::new().item(schema).item(of(Type::Null)).into()
}

/// An object whose every field is always sent.
fn object(description: &str, fields: Vec<(&str, RefOr<Schema>)>) -> ObjectBuilder {
    fields.into_iter().fold(
        of(Type::Object).description(Some(description)),
        |object, (name, schema)| object.property(name, schema).required(name),
    )
}

fn described(ty: Type, description: &str) -> RefOr<Schema> {
    of(ty).description(Some(description)).into()
}

/// A column as JSON Schema, by its catalog kind (what `ava_api::json` sends for it).
fn column(column: &Column) -> RefOr<Schema> {
    let (ty, format, max_length, description) = match column.kind {
        Kind::Id => (Type::Integer, Some(KnownFormat::Int64), None, None),
        Kind::Ref(parent) => (
            Type::Integer,
            Some(KnownFormat::Int64),
            None,
            Some(format!("The id of a row of `{parent}`.")),
        ),
        Kind::Int => (Type::Integer, Some(KnownFormat::Int32), None, None),
        Kind::Float => (Type::Number, Some(KnownFormat::Double), None, None),
        Kind::Bool => (Type::Boolean, None, None, None),
        Kind::Timestamp => (
            Type::String,
            Some(KnownFormat::DateTime),
            None,
            Some("UTC, e.g. `2025-08-25T11:49:59.721052Z`.".to_string()),
        ),
        Kind::Varchar(n) => (Type::String, None, Some(n as usize), None),
        Kind::Text => (Type::String, None, None, None),
        // Any JSON, `null` included.
        Kind::Json => {
            return ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(Some("Any JSON, as the app wrote it."))
                .into()
        }
    };
    let ty: SchemaType = if column.nullable {
        [ty, Type::Null].into_iter().collect()
    } else {
        ty.into()
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .format(format.map(SchemaFormat::KnownFormat))
        .max_length(max_length)
        .description(description)
        .into()
}

/// The catalog's column `table.name`, if there is one.
fn catalog_column(table: &str, name: &str) -> Option<&'static Column> {
    ava_catalog::table(table).and_then(|t| t.columns.iter().find(|c| c.name == name))
}

/// Every column of `table`, in catalog order.
fn all_columns(table: &str) -> Vec<&'static str> {
    ava_catalog::table(table).map_or_else(Vec::new, ava_api::json::all_columns)
}

/// A row of `table` as the API sends it: the columns named in `columns`, in that order,
/// each always present (`null` when it holds none).
fn row(table: &str, columns: &[&str], description: &str) -> ObjectBuilder {
    let fields = columns
        .iter()
        .filter_map(|name| catalog_column(table, name))
        .map(|c| (c.name, column(c)))
        .collect();
    object(description, fields)
}

/// A request body: the fields with the catalog's description of the column each is
/// stored in; the `optional` ones may be left out or `null`.
fn body(
    description: &str,
    fields: &[(&str, &str, &str)],
    optional: &[&str],
    extra: Vec<(&str, RefOr<Schema>)>,
) -> ObjectBuilder {
    let mut object = of(Type::Object).description(Some(description));
    for (name, table, stored_in) in fields {
        let Some(stored) = catalog_column(table, stored_in) else {
            continue;
        };
        let is_optional = optional.contains(name);
        let field = Column {
            nullable: stored.nullable || is_optional,
            ..*stored
        };
        object = object.property(*name, column(&field));
        if !is_optional {
            object = object.required(*name);
        }
    }
    for (name, schema) in extra {
        object = object.property(name, schema).required(name);
    }
    object
}

fn components() -> utoipa::openapi::Components {
    let bearer = |description: &str| {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description))
                .build(),
        )
    };
    let turn = of(Type::Object)
        .description(Some(
            "One turn of a transcript, as the app stored it (other keys may be present). \
             A legacy plain-text transcript is served as one turn with speaker `unknown`.",
        ))
        .property("speaker", of(Type::String))
        .property("text", of(Type::String))
        .property(
            "timestamp",
            of(SchemaType::from_iter([Type::String, Type::Null])),
        );
    ComponentsBuilder::new()
        .security_scheme(
            ADMIN,
            bearer("`ADMIN_API_TOKEN`: the admin routes (or a Supabase JWT)."),
        )
        .security_scheme(
            SUPABASE,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Supabase Auth access token (`POST <supabase_url>/auth/v1/token`), \
                         checked for its signature (the project's JWT secret or JWKS), `exp`, \
                         the audience `authenticated` and `app_metadata.role` `staff` or \
                         `owner`: the admin routes, instead of the admin token.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            INGEST,
            bearer("`INGEST_API_TOKEN`: the voice service's write routes."),
        )
        // Rows, from the catalog.
        .schema(
            "Customer",
            row(
                "customers",
                &all_columns("customers"),
                "A customer: every column of `customers`.",
            ),
        )
        .schema(
            "Appointment",
            row(
                "appointments",
                &all_columns("appointments"),
                "An appointment: every column of `appointments`.",
            ),
        )
        .schema(
            "CallEvent",
            row(
                "call_events",
                &all_columns("call_events"),
                "An event of a call: every column of `call_events`.",
            ),
        )
        .schema(
            "CallSummary",
            row(
                "call_sessions",
                &LIST_COLUMNS,
                "A call in a list. In `GET /api/admin/calls` a call without a duration \
                 has `duration_seconds` 0 (as the original sent).",
            ),
        )
        .schema(
            "Call",
            row("call_sessions", &DETAIL_COLUMNS, "A call in its detail."),
        )
        .schema(
            "DailyMetric",
            row("daily_metrics", &DAILY_COLUMNS, "One day's metrics.")
                .property(
                    "avg_call_duration_minutes",
                    of(Type::Number).description(Some(
                        "`avg_call_duration_seconds` / 60, rounded to 2 decimals (0 when none).",
                    )),
                )
                .required("avg_call_duration_minutes"),
        )
        .schema(
            "CallRecord",
            row(
                "call_sessions",
                &[DETAIL_COLUMNS.as_slice(), &["customer_id"]].concat(),
                "A call as the write routes answer: its detail and its customer's id.",
            ),
        )
        .schema("TranscriptTurn", turn)
        // Responses.
        .schema("Overview", overview())
        .schema(
            "CallsPage",
            object(
                "A page of calls.",
                vec![
                    (
                        "total",
                        described(Type::Integer, "Calls matching the search."),
                    ),
                    ("page", of(Type::Integer).into()),
                    ("page_size", of(Type::Integer).into()),
                    ("total_pages", of(Type::Integer).into()),
                    ("calls", array(reference("CallSummary"))),
                ],
            ),
        )
        .schema(
            "CallDetail",
            object(
                "A call with its customer, transcript and events.",
                vec![
                    ("call", reference("Call")),
                    ("customer", or_null(reference("Customer"))),
                    ("transcript", array(reference("TranscriptTurn"))),
                    (
                        "events",
                        ArrayBuilder::new()
                            .items(reference("CallEvent"))
                            .description(Some("Oldest first."))
                            .into(),
                    ),
                ],
            ),
        )
        .schema(
            "CallTranscript",
            object(
                "A call's transcript.",
                vec![
                    ("call_id", of(Type::Integer).format(int64()).into()),
                    ("transcript", array(reference("TranscriptTurn"))),
                ],
            ),
        )
        .schema(
            "DailyMetrics",
            object(
                "The days since today − `days`, oldest first.",
                vec![("metrics", array(reference("DailyMetric")))],
            ),
        )
        .schema(
            "Appointments",
            object(
                "Appointments, the latest `appointment_datetime` first.",
                vec![("appointments", array(reference("Appointment")))],
            ),
        )
        .schema(
            "CustomerHistory",
            object(
                "A customer with their appointments and calls, newest first.",
                vec![
                    ("customer", reference("Customer")),
                    ("appointments", array(reference("Appointment"))),
                    ("calls", array(reference("CallSummary"))),
                ],
            ),
        )
        .schema(
            "DashboardConfig",
            object(
                "The Supabase project the dashboard signs in with (both public by design); \
                 nulls when none is configured (the page then asks for the admin token).",
                vec![
                    (
                        "supabase_url",
                        of(SchemaType::from_iter([Type::String, Type::Null]))
                            .description(Some("The project's URL (`--supabase-url`)."))
                            .into(),
                    ),
                    (
                        "supabase_anon_key",
                        of(SchemaType::from_iter([Type::String, Type::Null]))
                            .description(Some("The project's anon key (`--supabase-anon-key`)."))
                            .into(),
                    ),
                ],
            ),
        )
        .schema(
            "Health",
            object(
                "The server and its store.",
                vec![
                    (
                        "status",
                        of(Type::String)
                            .enum_values(Some(["healthy", "unhealthy"]))
                            .into(),
                    ),
                    ("store", described(Type::String, "`postgres` or `sqlite`.")),
                    (
                        "database",
                        described(
                            Type::String,
                            "Where: the database URL without its password, or the file.",
                        ),
                    ),
                ],
            ),
        )
        // Write bodies: each field described as the column it is stored in.
        .schema(
            "CallStart",
            body(
                "A call that starts now.",
                &[
                    ("session_id", "call_sessions", "session_id"),
                    ("phone_number", "call_sessions", "phone_number"),
                ],
                &["phone_number"],
                Vec::new(),
            ),
        )
        .schema(
            "CallEventIn",
            body(
                "An event of a call, at now.",
                &[
                    ("event_type", "call_events", "event_type"),
                    ("data", "call_events", "data"),
                ],
                &["data"],
                Vec::new(),
            ),
        )
        .schema(
            "CallEnd",
            body(
                "The end of a call: its transcript, the functions called, and what is known \
                 of the caller. The outcome is `booked` if `book_appointment` was called, \
                 else `browsing` if `check_availability` was, else `info_only`; without a \
                 sentiment the call is `neutral`, without a score 5.0 (a score is 0 to 10), \
                 without `escalated` false.",
                &[
                    ("customer_phone", "customers", "phone"),
                    ("sentiment", "call_sessions", "sentiment"),
                    ("satisfaction_score", "call_sessions", "satisfaction_score"),
                    ("escalated", "call_sessions", "escalated"),
                    ("escalation_reason", "call_sessions", "escalation_reason"),
                ],
                &[
                    "customer_phone",
                    "sentiment",
                    "satisfaction_score",
                    "escalated",
                    "escalation_reason",
                ],
                vec![
                    ("transcript", array(reference("TranscriptTurn"))),
                    (
                        "function_calls",
                        array(
                            of(Type::Object)
                                .property("function", of(Type::String))
                                .required("function")
                                .into(),
                        ),
                    ),
                ],
            ),
        )
        .schema(
            "CustomerIn",
            body(
                "A new customer: `name` not empty, `phone` an optional `+` then 7 to 15 \
                 digits (spaces, dashes and parentheses allowed), `email` with one `@`; \
                 each trimmed.",
                &[
                    ("name", "customers", "name"),
                    ("phone", "customers", "phone"),
                    ("email", "customers", "email"),
                ],
                &["email"],
                Vec::new(),
            ),
        )
        // Errors, in FastAPI's shapes.
        .schema(
            "HTTPError",
            object(
                "A refusal, with the reason.",
                vec![("detail", of(Type::String).into())],
            ),
        )
        .schema(
            "ValidationError",
            object(
                "One invalid parameter.",
                vec![
                    (
                        "loc",
                        ArrayBuilder::new()
                            .items(of(SchemaType::from_iter([Type::String, Type::Integer])))
                            .description(Some(
                                "Where: `query`, `path` or `body`, then the parameter's name.",
                            ))
                            .into(),
                    ),
                    ("msg", of(Type::String).into()),
                    ("type", of(Type::String).into()),
                ],
            ),
        )
        .schema(
            "HTTPValidationError",
            object(
                "Invalid parameters (422).",
                vec![("detail", array(reference("ValidationError")))],
            ),
        )
        .build()
}

fn int64() -> Option<SchemaFormat> {
    Some(SchemaFormat::KnownFormat(KnownFormat::Int64))
}

fn overview() -> ObjectBuilder {
    let number = |d: &str| described(Type::Number, d);
    let integer = |d: &str| described(Type::Integer, d);
    object(
        "Totals over the period's days of `daily_metrics`.",
        vec![
            (
                "period",
                of(Type::String)
                    .enum_values(Some(Period::ALL.map(Period::name)))
                    .into(),
            ),
            ("total_calls", integer("Calls.")),
            ("total_talk_time_hours", number("Rounded to 2 decimals.")),
            (
                "avg_call_duration_minutes",
                number("Rounded to 2 decimals; 0 with no calls."),
            ),
            ("appointments_booked", integer("Calls that booked.")),
            (
                "conversion_rate",
                number("Booked / calls × 100, rounded to 2 decimals."),
            ),
            (
                "avg_satisfaction_score",
                number("Each day's average weighted by its calls, rounded to 2 decimals."),
            ),
            ("calls_escalated", integer("Calls escalated to a person.")),
            (
                "escalation_rate",
                number("Escalated / calls × 100, rounded to 2 decimals."),
            ),
        ],
    )
}

// ---- operations -------------------------------------------------------------------

fn json_content(schema: RefOr<Schema>) -> Content {
    Content::new(Some(schema))
}

fn query(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
    let mut parameter = Parameter::new(name);
    parameter.parameter_in = ParameterIn::Query;
    parameter.required = Required::False;
    parameter.description = Some(description.into());
    parameter.schema = Some(schema.into());
    parameter
}

fn path_parameter(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
    let mut parameter = Parameter::new(name);
    parameter.parameter_in = ParameterIn::Path;
    parameter.required = Required::True;
    parameter.description = Some(description.into());
    parameter.schema = Some(schema.into());
    parameter
}

fn id_parameter(what: &str) -> Parameter {
    path_parameter(
        "id",
        &format!("The {what}'s id."),
        of(Type::Integer).format(int64()),
    )
}

fn session_parameter() -> Parameter {
    let schema = catalog_column("call_sessions", "session_id").map_or_else(
        || of(Type::String),
        |c| of(Type::String).max_length(max_length(c)),
    );
    path_parameter(
        "session_id",
        "The voice service's id of the call (`call_sessions.session_id`).",
        schema,
    )
}

fn max_length(column: &Column) -> Option<usize> {
    match column.kind {
        Kind::Varchar(n) => Some(n as usize),
        _ => None,
    }
}

/// An operation: its tag, id, summary, description and its guard's schemes, any one of
/// which lets a request through (none: open).
fn operation(
    tag: &str,
    id: &str,
    summary: &str,
    description: &str,
    schemes: &[&str],
) -> OperationBuilder {
    let operation = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary))
        .description(Some(description));
    if schemes.is_empty() {
        return operation;
    }
    schemes
        .iter()
        .fold(operation, |operation, scheme| {
            operation.security(SecurityRequirement::new(*scheme, Vec::<String>::new()))
        })
        .response("401", error("No bearer token, or not this route's token."))
}

fn ok(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json_content(reference(schema)))
}

fn error(description: &str) -> ResponseBuilder {
    ok(description, "HTTPError")
}

fn invalid() -> ResponseBuilder {
    ok(
        "A parameter outside its rules; `detail` names it.",
        "HTTPValidationError",
    )
}

fn failed() -> ResponseBuilder {
    error("The store failed (details in the server's log).")
}

fn admin(id: &str, summary: &str, description: &str) -> OperationBuilder {
    operation("admin", id, summary, description, &[ADMIN, SUPABASE])
        .response(
            "403",
            error(
                "A valid Supabase JWT whose `app_metadata.role` is not `staff` or `owner` \
                 (only when Supabase logins are configured).",
            ),
        )
        .response("500", failed())
}

fn ingest(id: &str, summary: &str, description: &str, body: &str) -> OperationBuilder {
    operation("ingest", id, summary, description, &[INGEST])
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_content(reference(body)))
                .build(),
        ))
        .response(
            "422",
            ok(
                "A body that is not JSON or breaks the rules; `detail` names the field.",
                "HTTPValidationError",
            ),
        )
        .response("500", failed())
}

fn paths() -> Paths {
    let mut paths = Paths::new();
    let mut add = |method: HttpMethod, path: &str, operation: OperationBuilder| {
        paths.add_path_operation(path, vec![method], Operation::from(operation));
    };
    add(
        HttpMethod::Get,
        "/health",
        operation(
            "health",
            "health",
            "Health",
            "Whether the store answers.",
            &[],
        )
        .response("200", ok("The store answers.", "Health"))
        .response("503", ok("The store does not answer.", "Health")),
    );
    add(
        HttpMethod::Get,
        "/config.json",
        operation(
            "dashboard",
            "dashboard_config",
            "Dashboard config",
            "The Supabase project the dashboard offers email and password sign-in with \
             (`--supabase-url`, `--supabase-anon-key`), or nulls.",
            &[],
        )
        .response("200", ok("The project, or nulls.", "DashboardConfig")),
    );
    add(
        HttpMethod::Get,
        "/api/admin/metrics/overview",
        admin(
            "metrics_overview",
            "Metrics overview",
            "Totals since the period's start: today's UTC midnight, or midnight 7 \
             (`week`) or 30 (`month`) days ago.",
        )
        .parameter(query(
            "period",
            "The period (default `today`).",
            of(Type::String)
                .enum_values(Some(Period::ALL.map(Period::name)))
                .default(Some(json!(Period::Today.name()))),
        ))
        .response("200", ok("The totals.", "Overview"))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/admin/calls",
        admin(
            "list_calls",
            "List calls",
            "A page of calls, optionally searched; ties in the sort column are ordered \
             by id, and calls without a value sort last in ascending and first in \
             descending order.",
        )
        .parameter(query(
            "page",
            &format!("The page, from {} (default {}).", PAGE.min, PAGE.default),
            of(Type::Integer)
                .minimum(Some(PAGE.min))
                .default(Some(json!(PAGE.default))),
        ))
        .parameter(query(
            "page_size",
            &format!(
                "Calls per page, {} to {} (default {}).",
                PAGE_SIZE.min, PAGE_SIZE.max, PAGE_SIZE.default
            ),
            of(Type::Integer)
                .minimum(Some(PAGE_SIZE.min))
                .maximum(Some(PAGE_SIZE.max))
                .default(Some(json!(PAGE_SIZE.default))),
        ))
        .parameter(query(
            "search",
            "Part of the caller's phone number or of the customer's name, any case \
             (empty: every call).",
            of(Type::String),
        ))
        .parameter(query(
            "sort_by",
            "The column to sort by (default `started_at`).",
            of(Type::String)
                .enum_values(Some(SORT_COLUMNS))
                .default(Some(json!(SORT_COLUMNS[0]))),
        ))
        .parameter(query(
            "sort_order",
            "The order (default `desc`).",
            of(Type::String)
                .enum_values(Some(["asc", "desc"]))
                .default(Some(json!("desc"))),
        ))
        .response("200", ok("The page.", "CallsPage"))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/admin/calls/{id}",
        admin(
            "get_call",
            "A call",
            "A call with its customer (if linked), transcript and events.",
        )
        .parameter(id_parameter("call"))
        .response("200", ok("The call.", "CallDetail"))
        .response("404", error("`Call not found`."))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/admin/calls/{id}/transcript",
        admin(
            "get_call_transcript",
            "A call's transcript",
            "The transcript alone (empty when the call has none).",
        )
        .parameter(id_parameter("call"))
        .response("200", ok("The transcript.", "CallTranscript"))
        .response("404", error("`Call not found`."))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/admin/analytics/daily",
        admin(
            "daily_analytics",
            "Daily analytics",
            "The `daily_metrics` rows since midnight `days` days ago.",
        )
        .parameter(query(
            "days",
            &format!(
                "How many days back, {} to {} (default {}).",
                DAYS.min, DAYS.max, DAYS.default
            ),
            of(Type::Integer)
                .minimum(Some(DAYS.min))
                .maximum(Some(DAYS.max))
                .default(Some(json!(DAYS.default))),
        ))
        .response("200", ok("The days.", "DailyMetrics"))
        .response("422", invalid()),
    );
    let instant = |which: &str| {
        query(
            which,
            &format!(
                "{} `appointment_datetime`: an ISO 8601 date-time (`Z` or an offset; none \
                 means UTC), e.g. `2025-08-25T09:00:00Z`, or a date (its midnight UTC).",
                if which == "start_date" {
                    "The earliest"
                } else {
                    "The latest"
                }
            ),
            of(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
    };
    let status = catalog_column("appointments", "status").map_or_else(
        || of(Type::String),
        |c| of(Type::String).max_length(max_length(c)),
    );
    add(
        HttpMethod::Get,
        "/api/appointments",
        admin(
            "list_appointments",
            "Appointments",
            "Appointments, optionally between two instants and of one status.",
        )
        .parameter(instant("start_date"))
        .parameter(instant("end_date"))
        .parameter(query(
            "status",
            "Only appointments of this status (e.g. `scheduled`).",
            status,
        ))
        .response("200", ok("The appointments.", "Appointments"))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/customers/{id}",
        admin(
            "get_customer",
            "A customer",
            "Every column of the customer.",
        )
        .parameter(id_parameter("customer"))
        .response("200", ok("The customer.", "Customer"))
        .response("404", error("`Customer not found`."))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Get,
        "/api/customers/{id}/history",
        admin(
            "customer_history",
            "A customer's history",
            "The customer, their appointments and their calls.",
        )
        .parameter(id_parameter("customer"))
        .response("200", ok("The history.", "CustomerHistory"))
        .response("404", error("`Customer not found`."))
        .response("422", invalid()),
    );
    add(
        HttpMethod::Post,
        "/api/calls",
        ingest(
            "start_call",
            "Start a call",
            "Records a call that starts now (`started_at` = now, UTC).",
            "CallStart",
        )
        .response("201", ok("The call as recorded.", "CallRecord"))
        .response("409", error("`Call session already exists`.")),
    );
    add(
        HttpMethod::Post,
        "/api/calls/{session_id}/events",
        ingest(
            "log_call_event",
            "Log an event",
            "Records an event of the call, at now.",
            "CallEventIn",
        )
        .parameter(session_parameter())
        .response("201", ok("The event as recorded.", "CallEvent"))
        .response("404", error("`Call session not found`.")),
    );
    add(
        HttpMethod::Post,
        "/api/calls/{session_id}/end",
        ingest(
            "end_call",
            "End a call",
            "Ends the call (`ended_at`, `duration_seconds`, transcript, outcome, sentiment, \
             the customer linked by phone) and folds it into its day's `daily_metrics`, \
             in one transaction.",
            "CallEnd",
        )
        .parameter(session_parameter())
        .response("200", ok("The call as ended.", "CallRecord"))
        .response("404", error("`Call session not found`."))
        .response("409", error("`Call session already ended`.")),
    );
    add(
        HttpMethod::Post,
        "/api/customers",
        ingest(
            "create_customer",
            "Create a customer",
            "Records a new customer.",
            "CustomerIn",
        )
        .response("201", ok("The customer as recorded.", "Customer"))
        .response(
            "400",
            error("`Customer with this phone number already exists` (or with this email)."),
        ),
    );
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column a row schema names is in the catalog: a column list and the catalog
    /// cannot drift apart silently.
    #[test]
    fn row_schemas_have_every_listed_column() {
        let spec = serde_json::to_value(document()).unwrap_or_default();
        let schemas = &spec["components"]["schemas"];
        for (schema, columns) in [
            ("CallSummary", LIST_COLUMNS.to_vec()),
            ("Call", DETAIL_COLUMNS.to_vec()),
            ("Customer", all_columns("customers")),
            ("Appointment", all_columns("appointments")),
            ("CallEvent", all_columns("call_events")),
        ] {
            // `required` keeps the order (a `Value`'s keys are sorted).
            assert_eq!(schemas[schema]["required"], json!(columns), "{schema}");
            let mut names: Vec<&str> = schemas[schema]["properties"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut columns = columns;
            names.sort_unstable();
            columns.sort_unstable();
            assert_eq!(names, columns, "{schema}");
            assert!(!columns.is_empty(), "{schema}");
        }
        let day = &schemas["DailyMetric"]["properties"];
        for c in DAILY_COLUMNS {
            assert!(day.get(c).is_some(), "DailyMetric.{c}");
        }
    }
}
