//! The row schemas, from the catalog: each table's columns as the API sends them
//! (`varchar(n)` as `maxLength`, nullability), the call log's and the lists' rows with
//! their customer's name or counts, and a transcript's turn.

use ava_api::json::all_columns;
use ava_api::read::{CUSTOMER_COUNTS, CUSTOMER_NAME, DAILY_COLUMNS, DETAIL_COLUMNS, LIST_COLUMNS};
use ava_catalog::{Table, APPOINTMENTS, CALL_EVENTS, CALL_SESSIONS, CUSTOMERS, DAILY_METRICS};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::ComponentsBuilder;

use super::super::{column, of, row};

/// The rows: every table's, the call log's and the lists'.
pub(super) fn add(components: ComponentsBuilder) -> ComponentsBuilder {
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
    components
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
        .schema("AppointmentListed", appointment_listed())
        .schema("CustomerSummary", customer_summary())
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
