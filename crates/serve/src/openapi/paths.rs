//! The operations: each route's path (the router's own constants), parameters (the
//! fields it is checked by), guard and every status it can answer.

use ava_api::read::{
    AppointmentsQuery, CallsPage, CustomersPage, Days, Export, PeakHours, Period, Series, Window,
    CALL_ID, CUSTOMER_ID,
};
use ava_api::request::{Field, Location, Params};
use ava_api::write::session_field;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Paths, Required, ResponseBuilder};

use super::{fields, reference, ADMIN, INGEST, SUPABASE};
use crate::routes::{
    ADMIN_HEALTH, APPOINTMENTS, CALL, CALLS, CALLS_CSV, CALL_EVENT, CUSTOMER, CUSTOMERS, DAILY,
    END_CALL, HISTORY, NEW_CUSTOMER, OUTCOMES, OVERVIEW, PEAK_HOURS, SERVICES, START_CALL,
    TIMESERIES, TRANSCRIPT,
};

fn ok(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(reference(schema))))
}

fn error(description: &str) -> ResponseBuilder {
    ok(description, "HTTPError")
}

/// An operation: its tag, id, summary and description, and the statuses any route can
/// answer (the request timeout).
fn operation(tag: &str, id: &str, summary: &str, description: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary))
        .description(Some(description))
        .response(
            "408",
            error("The request took longer than the server allows (`Request timed out`)."),
        )
}

/// A guarded operation: any one of `schemes` lets a request through.
fn guarded(operation: OperationBuilder, schemes: &[&str]) -> OperationBuilder {
    schemes
        .iter()
        .fold(operation, |operation, scheme| {
            operation.security(SecurityRequirement::new(*scheme, Vec::<String>::new()))
        })
        .response("401", error("No bearer token, or not this route's token."))
        .response(
            "422",
            ok(
                "A parameter or body field outside its rules, or one the route does not \
                 take; `detail` names it.",
                "HTTPValidationError",
            ),
        )
        .response(
            "500",
            error("The store failed (details in the server's log)."),
        )
}

/// An admin route with its query and path parameters.
fn admin(
    id: &str,
    summary: &str,
    description: &str,
    query: Vec<Field>,
    path: &[Field],
) -> OperationBuilder {
    let operation = guarded(
        operation("admin", id, summary, description),
        &[ADMIN, SUPABASE],
    )
    .response(
        "403",
        error(
            "A valid Supabase JWT whose `app_metadata.role` is not `staff` or `owner` \
             (only when Supabase logins are configured).",
        ),
    );
    let parameters = path
        .iter()
        .map(|f| fields::parameter(f, Location::Path))
        .chain(query.iter().map(|f| fields::parameter(f, Location::Query)));
    parameters.fold(operation, OperationBuilder::parameter)
}

/// A write route with its body (a component) and path parameters.
fn ingest(
    id: &str,
    summary: &str,
    description: &str,
    body: &str,
    path: &[Field],
) -> OperationBuilder {
    let operation = guarded(operation("ingest", id, summary, description), &[INGEST])
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", Content::new(Some(reference(body))))
                .build(),
        ))
        .response("413", error("The body is larger than the server takes."));
    path.iter()
        .map(|f| fields::parameter(f, Location::Path))
        .fold(operation, OperationBuilder::parameter)
}

pub(super) fn paths() -> Paths {
    let mut paths = Paths::new();
    let mut add = |method: HttpMethod, path: &str, operation: OperationBuilder| {
        paths.add_path_operation(path, vec![method], Operation::from(operation));
    };
    let health = |id: &str, description: &str, schema: &str| {
        operation("health", id, "Health", description)
            .response("200", ok("The store answers.", schema))
            .response("503", ok("The store does not answer.", schema))
    };
    add(
        HttpMethod::Get,
        "/health",
        health(
            "health",
            "Whether the store answers, and its kind (open; where it is: \
             `/api/admin/health`).",
            "Health",
        ),
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
        )
        .response("200", ok("The project, or nulls.", "DashboardConfig")),
    );
    add(
        HttpMethod::Get,
        ADMIN_HEALTH,
        admin(
            "admin_health",
            "Health, with where the store is",
            "Whether the store answers, its kind, and where it is (the database URL \
             without its password, or the file).",
            Vec::new(),
            &[],
        )
        .response("200", ok("The store answers.", "HealthDetail"))
        .response("503", ok("The store does not answer.", "HealthDetail")),
    );
    add(
        HttpMethod::Get,
        OVERVIEW,
        admin(
            "metrics_overview",
            "Metrics overview",
            "Totals since the period's start: today's UTC midnight, or midnight 7 \
             (`week`) or 30 (`month`) days ago.",
            Period::fields(),
            &[],
        )
        .response("200", ok("The totals.", "Overview")),
    );
    add(
        HttpMethod::Get,
        CALLS,
        admin(
            "list_calls",
            "List calls",
            "A page of calls, optionally searched; ties in the sort column are ordered \
             by id, and calls without a value sort last in ascending and first in \
             descending order.",
            CallsPage::fields(),
            &[],
        )
        .response("200", ok("The page.", "CallsPage")),
    );
    add(
        HttpMethod::Get,
        CALL,
        admin(
            "get_call",
            "A call",
            "A call with its customer (if linked), transcript and events.",
            Vec::new(),
            &[CALL_ID],
        )
        .response("200", ok("The call.", "CallDetail"))
        .response("404", error("`Call not found`.")),
    );
    add(
        HttpMethod::Get,
        TRANSCRIPT,
        admin(
            "get_call_transcript",
            "A call's transcript",
            "The transcript alone (empty when the call has none).",
            Vec::new(),
            &[CALL_ID],
        )
        .response("200", ok("The transcript.", "CallTranscript"))
        .response("404", error("`Call not found`.")),
    );
    add(
        HttpMethod::Get,
        DAILY,
        admin(
            "daily_analytics",
            "Daily analytics",
            "The `daily_metrics` rows since midnight `days` days ago.",
            Days::fields(),
            &[],
        )
        .response("200", ok("The days.", "DailyMetrics")),
    );
    add(
        HttpMethod::Get,
        CALLS_CSV,
        admin(
            "export_calls",
            "Calls as CSV",
            "Every call the search matches, in the call log's order, as a CSV download \
             (RFC 4180, UTF-8, a header row): the listed columns, then `customer_name`. \
             Streamed as it is read.",
            Export::fields(),
            &[],
        )
        .response(
            "200",
            ResponseBuilder::new()
                .description("The calls, one CSV record each.")
                .content(
                    "text/csv",
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::String).build())),
                ),
        ),
    );
    add(
        HttpMethod::Get,
        PEAK_HOURS,
        admin(
            "peak_hours",
            "Peak hours",
            "Calls started since midnight 7 (`week`) or 30 (`month`) days ago in `tz`, per \
             day of the week and hour in `tz`: a heatmap's cells.",
            PeakHours::fields(),
            &[],
        )
        .response("200", ok("The cells with a call.", "PeakHours")),
    );
    add(
        HttpMethod::Get,
        OUTCOMES,
        admin(
            "outcome_distribution",
            "Outcomes",
            "Calls started in the period (from a midnight in `tz`) per outcome.",
            Window::fields(),
            &[],
        )
        .response("200", ok("The outcomes.", "OutcomeDistribution")),
    );
    add(
        HttpMethod::Get,
        TIMESERIES,
        admin(
            "timeseries",
            "Time series",
            "Per hour or day from the period's start (a midnight in `tz`) to now, empty \
             buckets too, oldest first: the calls started, those booked, their average \
             satisfaction.",
            Series::fields(),
            &[],
        )
        .response("200", ok("The buckets.", "TimeSeries")),
    );
    add(
        HttpMethod::Get,
        SERVICES,
        admin(
            "services",
            "Services",
            "The appointments from the period's first midnight to the end of today (in \
             `tz`, by `appointment_datetime`) per service: how many, of each status, and \
             booked by the AI.",
            Window::fields(),
            &[],
        )
        .response("200", ok("The services.", "Services")),
    );
    add(
        HttpMethod::Get,
        APPOINTMENTS,
        admin(
            "list_appointments",
            "Appointments",
            "Appointments, optionally between two instants and of one status.",
            AppointmentsQuery::fields(),
            &[],
        )
        .response("200", ok("The appointments.", "Appointments")),
    );
    add(
        HttpMethod::Get,
        CUSTOMERS,
        admin(
            "list_customers",
            "List customers",
            "A page of customers, optionally searched, each with how many calls and \
             appointments they have and when they last called; ties are ordered by id, and \
             customers without the sorted value (no `created_at`, no call with a start \
             time) come last in both directions.",
            CustomersPage::fields(),
            &[],
        )
        .response("200", ok("The page.", "CustomersPage")),
    );
    add(
        HttpMethod::Get,
        CUSTOMER,
        admin(
            "get_customer",
            "A customer",
            "Every column of the customer.",
            Vec::new(),
            &[CUSTOMER_ID],
        )
        .response("200", ok("The customer.", "Customer"))
        .response("404", error("`Customer not found`.")),
    );
    add(
        HttpMethod::Get,
        HISTORY,
        admin(
            "customer_history",
            "A customer's history",
            "The customer, their appointments and their calls (every column).",
            Vec::new(),
            &[CUSTOMER_ID],
        )
        .response("200", ok("The history.", "CustomerHistory"))
        .response("404", error("`Customer not found`.")),
    );
    let session = [session_field()];
    add(
        HttpMethod::Post,
        START_CALL,
        ingest(
            "start_call",
            "Start a call",
            "Records a call that starts now (`started_at` = now, UTC).",
            "CallStart",
            &[],
        )
        .response("201", ok("The call as recorded.", "CallRecord"))
        .response("409", error("`Call session already exists`.")),
    );
    add(
        HttpMethod::Post,
        CALL_EVENT,
        ingest(
            "log_call_event",
            "Log an event",
            "Records an event of the call, at now.",
            "CallEventIn",
            &session,
        )
        .response("201", ok("The event as recorded.", "CallEvent"))
        .response("404", error("`Call session not found`.")),
    );
    add(
        HttpMethod::Post,
        END_CALL,
        ingest(
            "end_call",
            "End a call",
            "Ends the call (`ended_at`, `duration_seconds`, transcript, outcome, sentiment, \
             the customer linked by phone) and folds it into its day's `daily_metrics`, \
             in one transaction.",
            "CallEnd",
            &session,
        )
        .response("200", ok("The call as ended.", "CallRecord"))
        .response("404", error("`Call session not found`."))
        .response("409", error("`Call session already ended`.")),
    );
    add(
        HttpMethod::Post,
        NEW_CUSTOMER,
        ingest(
            "create_customer",
            "Create a customer",
            "Records a new customer.",
            "CustomerIn",
            &[],
        )
        .response("201", ok("The customer as recorded.", "Customer"))
        .response(
            "400",
            error("`Customer with this phone number already exists` (or with this email)."),
        ),
    );
    paths
}
