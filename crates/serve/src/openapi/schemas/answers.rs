//! The answers of the read routes, built of the rows: pages, a call's detail, the
//! metrics and analytics, the lists, the dashboard's configuration and the health.

use ava_api::read::Period;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{ComponentsBuilder, RefOr};

use super::super::{array, described, object, of, or_null, reference};

/// The read routes' answers.
pub(super) fn add(components: ComponentsBuilder) -> ComponentsBuilder {
    components
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
