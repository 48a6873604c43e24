//! The components: rows from the catalog, the answers built of them, the request
//! bodies from their fields, and the errors.

use ava_api::json::all_columns;
use ava_api::read::{
    Period, CUSTOMER_COUNTS, CUSTOMER_NAME, DAILY_COLUMNS, DETAIL_COLUMNS, LIST_COLUMNS,
};
use ava_api::request::Body;
use ava_api::write::{CallEnd, NewCall, NewCustomer, NewEvent};
use ava_catalog::{Table, APPOINTMENTS, CALL_EVENTS, CALL_SESSIONS, CUSTOMERS, DAILY_METRICS};
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, RefOr};

use super::{
    array, column, described, fields, object, of, or_null, reference, row, ADMIN, INGEST, SUPABASE,
};

pub(super) fn components() -> utoipa::openapi::Components {
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
                CUSTOMERS,
                &all_columns(CUSTOMERS),
                "A customer: every column of `customers`.",
            ),
        )
        .schema(
            "Appointment",
            row(
                APPOINTMENTS,
                &all_columns(APPOINTMENTS),
                "An appointment: every column of `appointments`.",
            ),
        )
        .schema(
            "CallEvent",
            row(
                CALL_EVENTS,
                &all_columns(CALL_EVENTS),
                "An event of a call: every column of `call_events`.",
            ),
        )
        .schema("CallSummary", call_summary())
        .schema(
            "Call",
            row(CALL_SESSIONS, &DETAIL_COLUMNS, "A call in its detail."),
        )
        .schema(
            "DailyMetric",
            row(DAILY_METRICS, &DAILY_COLUMNS, "One day's metrics.")
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
                CALL_SESSIONS,
                &[DETAIL_COLUMNS.as_slice(), &["customer_id"]].concat(),
                "A call as the write routes answer: its detail and its customer's id.",
            ),
        )
        .schema(
            "CallRow",
            row(
                CALL_SESSIONS,
                &all_columns(CALL_SESSIONS),
                "A call: every column of `call_sessions` (`transcript` as the text stored).",
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
            "PeakHours",
            ArrayBuilder::new()
                .description(Some(
                    "Calls started in the period per day of the week and hour in `tz`; only \
                     the cells with a call, by day then hour.",
                ))
                .items(object(
                    "One cell of the heatmap.",
                    vec![
                        (
                            "day",
                            of(Type::Integer)
                                .minimum(Some(0))
                                .maximum(Some(6))
                                .description(Some("0 = Sunday … 6 = Saturday."))
                                .into(),
                        ),
                        (
                            "hour",
                            of(Type::Integer).minimum(Some(0)).maximum(Some(23)).into(),
                        ),
                        (
                            "value",
                            of(Type::Integer)
                                .minimum(Some(1))
                                .description(Some("Calls started."))
                                .into(),
                        ),
                    ],
                )),
        )
        .schema(
            "TimeSeries",
            ArrayBuilder::new()
                .description(Some(
                    "One bucket per hour or day from the period's start to now, oldest first.",
                ))
                .items(object(
                    "One bucket.",
                    vec![
                        (
                            "timestamp",
                            of(Type::String)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                                .description(Some("The bucket's start, in UTC."))
                                .into(),
                        ),
                        ("total_calls", described(Type::Integer, "Calls started.")),
                        (
                            "appointments_booked",
                            described(Type::Integer, "Calls whose outcome is `booked`."),
                        ),
                        (
                            "avg_satisfaction_score",
                            of(SchemaType::from_iter([Type::Number, Type::Null]))
                                .description(Some(
                                    "The calls' average score, 2 decimals; null with none.",
                                ))
                                .into(),
                        ),
                    ],
                )),
        )
        .schema(
            "Services",
            object(
                "Appointments per service, most first, then by name.",
                vec![
                    (
                        "period",
                        of(Type::String)
                            .enum_values(Some(Period::ALL.map(Period::name)))
                            .into(),
                    ),
                    (
                        "services",
                        array(
                            object(
                                "One service.",
                                vec![
                                    ("service_type", of(Type::String).into()),
                                    ("appointments", of(Type::Integer).minimum(Some(1)).into()),
                                    (
                                        "by_status",
                                        of(Type::Object)
                                            .additional_properties(Some(of(Type::Integer)))
                                            .description(Some(
                                                "Appointments per status (`unknown`: none).",
                                            ))
                                            .into(),
                                    ),
                                    (
                                        "booked_by_ai",
                                        described(Type::Integer, "`booked_by` = `ai`."),
                                    ),
                                    (
                                        "ai_booked_rate",
                                        described(
                                            Type::Number,
                                            "`booked_by_ai` per 100 appointments, 2 decimals.",
                                        ),
                                    ),
                                ],
                            )
                            .into(),
                        ),
                    ),
                ],
            ),
        )
        .schema(
            "OutcomeDistribution",
            object(
                "Calls started in the period per outcome, most first, then by outcome.",
                vec![
                    (
                        "period",
                        of(Type::String)
                            .enum_values(Some(Period::ALL.map(Period::name)))
                            .into(),
                    ),
                    (
                        "outcomes",
                        array(
                            object(
                                "One outcome.",
                                vec![
                                    (
                                        "outcome",
                                        described(
                                            Type::String,
                                            "The call's outcome; `in_progress` for a call \
                                             without one.",
                                        ),
                                    ),
                                    ("count", of(Type::Integer).minimum(Some(1)).into()),
                                ],
                            )
                            .into(),
                        ),
                    ),
                ],
            ),
        )
        .schema(
            "Appointments",
            object(
                "Appointments, the latest `appointment_datetime` first.",
                vec![("appointments", array(reference("AppointmentListed")))],
            ),
        )
        .schema("AppointmentListed", appointment_listed())
        .schema("CustomerSummary", customer_summary())
        .schema(
            "CustomersPage",
            object(
                "A page of customers.",
                vec![
                    (
                        "total",
                        described(Type::Integer, "Customers matching the search."),
                    ),
                    ("page", of(Type::Integer).into()),
                    ("page_size", of(Type::Integer).into()),
                    ("total_pages", of(Type::Integer).into()),
                    ("customers", array(reference("CustomerSummary"))),
                ],
            ),
        )
        .schema(
            "CustomerHistory",
            object(
                "A customer with their appointments and calls, newest first.",
                vec![
                    ("customer", reference("Customer")),
                    ("appointments", array(reference("Appointment"))),
                    ("calls", array(reference("CallRow"))),
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
        .schema("Health", object("The server and its store.", health()))
        .schema(
            "HealthDetail",
            object(
                "The server and its store, and where the store is.",
                [
                    health(),
                    vec![(
                        "database",
                        described(
                            Type::String,
                            "Where: the database URL without its password, or the file.",
                        ),
                    )],
                ]
                .concat(),
            ),
        )
        // Write bodies: the fields the server checks them by.
        .schema(
            "CallStart",
            fields::body("A call that starts now.", &NewCall::fields()),
        )
        .schema(
            "CallEventIn",
            fields::body("An event of a call, at now.", &NewEvent::fields()),
        )
        .schema(
            "CallEnd",
            fields::body(
                "The end of a call: its transcript, the functions called, and what is known \
                 of the caller. The outcome is `booked` if `book_appointment` was called, \
                 else `browsing` if `check_availability` was, else `info_only`; without a \
                 sentiment the call is `neutral`, without a score 5.0, without `escalated` \
                 false.",
                &CallEnd::fields(),
            ),
        )
        .schema(
            "CustomerIn",
            fields::body(
                "A new customer, stored trimmed of blanks (spaces, tabs, line breaks).",
                &NewCustomer::fields(),
            ),
        )
        .schema(fields::JSON_VALUE, fields::json_value())
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

/// What `/health` says: whether the store answers, and its kind.
fn health() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        (
            "status",
            of(Type::String)
                .enum_values(Some(["healthy", "unhealthy"]))
                .into(),
        ),
        ("store", described(Type::String, "`postgres` or `sqlite`.")),
    ]
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

/// `row` with the property `name` typed as the catalog's `table.column`, nullable.
fn with_nullable(
    row: ObjectBuilder,
    name: &str,
    (table, column_name): (&'static Table, &str),
) -> ObjectBuilder {
    match table.column(column_name) {
        Some(c) => row
            .property(
                name,
                column(&ava_catalog::Column {
                    nullable: true,
                    ..*c
                }),
            )
            .required(name),
        // Not reached: the schema tests check the property is there.
        None => row,
    }
}

/// A call in the log: its listed columns, then its customer's name — the catalog's
/// `customers.name`, `null` for a call without a customer.
fn call_summary() -> ObjectBuilder {
    let summary = row(
        CALL_SESSIONS,
        &LIST_COLUMNS,
        "A call in a list. In `GET /api/admin/calls` a call without a duration has \
         `duration_seconds` 0 (as the original sent).",
    );
    with_nullable(summary, CUSTOMER_NAME, (CUSTOMERS, "name"))
}

/// An appointment in `GET /api/appointments`: every column, then its customer's name.
fn appointment_listed() -> ObjectBuilder {
    let listed = row(
        APPOINTMENTS,
        &all_columns(APPOINTMENTS),
        "An appointment: every column of `appointments`, then its customer's name.",
    );
    with_nullable(listed, CUSTOMER_NAME, (CUSTOMERS, "name"))
}

/// A customer in the list: every column, how many calls and appointments they have, and
/// when their latest call started.
fn customer_summary() -> ObjectBuilder {
    let [calls, appointments, last_call_at] = CUSTOMER_COUNTS;
    let summary = row(
        CUSTOMERS,
        &all_columns(CUSTOMERS),
        "A customer in a list: every column of `customers`, their calls and appointments \
         counted, and the start of their latest call (`null` without one).",
    )
    .property(calls, of(Type::Integer).minimum(Some(0)))
    .required(calls)
    .property(appointments, of(Type::Integer).minimum(Some(0)))
    .required(appointments);
    with_nullable(summary, last_call_at, (CALL_SESSIONS, "started_at"))
}
