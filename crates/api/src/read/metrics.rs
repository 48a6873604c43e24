//! The `daily_metrics` routes: the overview of a period (today, the last 7 or 30 days)
//! summed from its days, and the daily series.

use ava_catalog::DAILY_METRICS;
use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use super::{float, int};
use crate::json::{kinds, object, round2, select, Answer};
use crate::request::{Bounds, Field, Params, Query, Rule};
use crate::store::{Param, Store};
use crate::ApiError;

/// Midnight (UTC) of the day `days` before `now`'s.
fn midnight_days_before(now: DateTime<Utc>, days: i64) -> i64 {
    super::analytics::midnight_in(chrono_tz::Tz::UTC, now, days)
}

/// The overview's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Today,
    Week,
    Month,
}

/// The periods' names, in [`Period::ALL`]'s order.
pub const PERIODS: [&str; 3] = ["today", "week", "month"];

impl Period {
    pub const ALL: [Period; 3] = [Period::Today, Period::Week, Period::Month];

    /// `period` of the overview.
    pub const FIELD: Field = Field::optional(
        "period",
        Rule::OneOf(&PERIODS),
        "The period: since today's UTC midnight, or midnight 7 (`week`) or 30 (`month`) \
         days ago.",
    )
    .or("today");

    /// The period `field` of `query` names (its default if none).
    pub(crate) fn in_query(query: &Query, field: &Field) -> Period {
        Period::named(query.text(field).unwrap_or_default())
    }

    fn named(name: &str) -> Period {
        Period::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .unwrap_or(Period::Today)
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Today => PERIODS[0],
            Period::Week => PERIODS[1],
            Period::Month => PERIODS[2],
        }
    }

    pub(crate) fn days(self) -> i64 {
        match self {
            Period::Today => 0,
            Period::Week => 7,
            Period::Month => 30,
        }
    }
}

impl Params for Period {
    fn fields() -> Vec<Field> {
        vec![Period::FIELD]
    }

    fn from_query(query: &Query) -> Period {
        Period::in_query(query, &Period::FIELD)
    }
}

const OVERVIEW_COLUMNS: [&str; 6] = [
    "total_calls",
    "total_talk_time_seconds",
    "appointments_booked",
    "avg_satisfaction_score",
    "calls_escalated",
    "date",
];

/// `GET /api/admin/metrics/overview`: the `daily_metrics` rows since the period's
/// start, summed here (not in SQL, so both stores add the same floats in the same order).
pub async fn overview(
    store: &Store,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let sql = format!(
        "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
        select(DAILY_METRICS, &OVERVIEW_COLUMNS, "m")
    );
    let rows = store
        .rows(
            &sql,
            &[Param::Time(midnight_days_before(now, period.days()))],
            &kinds(DAILY_METRICS, &OVERVIEW_COLUMNS),
        )
        .await?;
    let (mut calls, mut talk, mut booked, mut escalated, mut weighted) =
        (0i64, 0i64, 0i64, 0i64, 0.0);
    for row in &rows {
        let day_calls = int(&row[0]);
        calls += day_calls;
        talk += int(&row[1]);
        booked += int(&row[2]);
        weighted += float(&row[3]).unwrap_or(0.0) * day_calls as f64;
        escalated += int(&row[4]);
    }
    let per_call = |x: f64| if calls > 0 { x / calls as f64 } else { 0.0 };
    Answer::write(&json!({
        "period": period.name(),
        "total_calls": calls,
        "total_talk_time_hours": round2(talk as f64 / 3600.0),
        "avg_call_duration_minutes": round2(per_call(talk as f64) / 60.0),
        "appointments_booked": booked,
        "conversion_rate": round2(per_call(booked as f64) * 100.0),
        "avg_satisfaction_score": round2(per_call(weighted)),
        "calls_escalated": escalated,
        "escalation_rate": round2(per_call(escalated as f64) * 100.0),
    }))
}

/// `days` of the daily series.
pub const DAYS: Bounds = Bounds {
    default: 30,
    min: 1,
    max: 90,
};

/// The columns of a day in `GET /api/admin/analytics/daily` (with the average duration
/// in minutes computed from `avg_call_duration_seconds`).
pub const DAILY_COLUMNS: [&str; 5] = [
    "date",
    "total_calls",
    "appointments_booked",
    "avg_satisfaction_score",
    "conversion_rate",
];

/// `days` of `GET /api/admin/analytics/daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(pub i64);

const DAYS_FIELD: Field = Field::optional("days", Rule::Int(DAYS), "How many days back.");

impl Params for Days {
    fn fields() -> Vec<Field> {
        vec![DAYS_FIELD]
    }

    fn from_query(query: &Query) -> Days {
        Days(query.int(&DAYS_FIELD))
    }
}

/// `GET /api/admin/analytics/daily`.
pub async fn daily(
    store: &Store,
    Days(days): Days,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let mut columns = DAILY_COLUMNS.to_vec();
    columns.push("avg_call_duration_seconds");
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM daily_metrics m WHERE m.date >= $1 ORDER BY m.date, m.id",
                select(DAILY_METRICS, &columns, "m")
            ),
            &[Param::Time(midnight_days_before(now, days))],
            &kinds(DAILY_METRICS, &columns),
        )
        .await?;
    let metrics: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut day = object(&DAILY_COLUMNS, row);
            let minutes = float(&row[DAILY_COLUMNS.len()]).map(|s| round2(s / 60.0));
            day.insert(
                "avg_call_duration_minutes".into(),
                json!(minutes.unwrap_or(0.0)),
            );
            Json::Object(day)
        })
        .collect();
    Answer::write(&json!({ "metrics": metrics }))
}
