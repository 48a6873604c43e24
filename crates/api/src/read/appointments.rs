//! `GET /api/appointments`: every appointment with its customer's name, newest first,
//! filtered by a date range and a status.

use ava_catalog::{APPOINTMENTS, CUSTOMERS};

use super::{calls, CUSTOMER_NAME};
use crate::json::{all_columns, kinds, select, Answer, Keys, Objects};
use crate::request::{Field, Params, Query, Rule};
use crate::store::{Param, Store};
use crate::ApiError;

/// The query of `GET /api/appointments`: instants in µs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppointmentsQuery {
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub status: Option<String>,
}

const START_DATE: Field = Field::optional(
    "start_date",
    Rule::DateTime,
    "The earliest `appointment_datetime`: an ISO 8601 date-time (`Z` or an offset; none \
     means UTC), e.g. `2025-08-25T09:00:00Z`, or a date (its midnight UTC).",
);
const END_DATE: Field = Field::optional(
    "end_date",
    Rule::DateTime,
    "The latest `appointment_datetime`, written as `start_date`.",
);

fn status_field() -> Field {
    Field::optional(
        "status",
        Rule::column(APPOINTMENTS, "status"),
        "Only appointments of this status (e.g. `scheduled`).",
    )
}

impl Params for AppointmentsQuery {
    fn fields() -> Vec<Field> {
        vec![START_DATE, END_DATE, status_field()]
    }

    fn from_query(query: &Query) -> AppointmentsQuery {
        AppointmentsQuery {
            start_date: query.instant(&START_DATE),
            end_date: query.instant(&END_DATE),
            status: query.text(&status_field()).map(str::to_string),
        }
    }
}

/// `GET /api/appointments`: every column and the customer's name, newest first.
pub async fn appointments(store: &Store, query: &AppointmentsQuery) -> Result<Answer, ApiError> {
    let columns = all_columns(APPOINTMENTS);
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    for (instant, op) in [(query.start_date, ">="), (query.end_date, "<=")] {
        if let Some(instant) = instant {
            params.push(Param::Time(instant));
            conditions.push(format!("a.appointment_datetime {op} ${}", params.len()));
        }
    }
    if let Some(status) = &query.status {
        params.push(Param::Text(status.clone()));
        conditions.push(format!("a.status = ${}", params.len()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let mut row_kinds = kinds(APPOINTMENTS, &columns);
    row_kinds.extend(kinds(CUSTOMERS, &["name"]));
    let rows = store
        .rows(
            &format!(
                "SELECT {}, {} FROM appointments a {filter} \
                 ORDER BY a.appointment_datetime DESC, a.id DESC",
                select(APPOINTMENTS, &columns, "a"),
                calls::customer_name_of("a")
            ),
            &params,
            &row_kinds,
        )
        .await?;
    let mut keys = columns;
    keys.push(CUSTOMER_NAME);
    #[derive(serde::Serialize)]
    struct AppointmentsAnswer<'a> {
        appointments: Objects<'a>,
    }
    Answer::write(&AppointmentsAnswer {
        appointments: Objects {
            keys: &Keys::new(&keys),
            rows: &rows,
        },
    })
}
