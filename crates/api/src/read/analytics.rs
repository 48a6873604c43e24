//! The analytics the app's own team added to its dashboard later, as far as the five
//! tables answer them: when calls come (`peak_hours`) and how they end
//! (`outcome_distribution`), each in the clinic's own time zone — a clinic in Los Angeles
//! wants its peak hours in its own hours. A period starts at a midnight in that zone
//! ([`midnight_in`]); the overview's periods are the same rule in UTC.
//!
//! Both stores answer alike: the rows come from SQL (through the call log's
//! `(started_at, id)` index), and everything that depends on the zone — the buckets, the
//! ordering, the names of calls without an outcome — is done here in Rust.

use ava_catalog::Kind;
use ava_convert::Value;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::{int, table, Period, PERIODS};
use crate::json::{select, Answer};
use crate::request::{Field, Params, Query, Rule};
use crate::store::{Param, Store};
use crate::ApiError;

/// The first instant of the day `days` before `now`'s day in `tz`, in µs: that day's
/// midnight, or where a change of clocks skips midnight (some zones move at 00:00), the
/// first quarter hour after it that exists.
pub(crate) fn midnight_in(tz: Tz, now: DateTime<Utc>, days: i64) -> i64 {
    let date = now.with_timezone(&tz).date_naive() - Duration::days(days);
    let mut local = date.and_time(NaiveTime::MIN);
    loop {
        if let Some(instant) = tz.from_local_datetime(&local).earliest() {
            return instant.with_timezone(&Utc).timestamp_micros();
        }
        // In a gap: no zone skips more than a day (Pacific/Apia skipped 2011-12-30).
        local += Duration::minutes(15);
    }
}

/// `tz` of the analytics routes.
pub const TZ: Field = Field::optional(
    "tz",
    Rule::TimeZone,
    "The time zone the period's midnights and the hours are in, as an IANA name \
     (`America/Los_Angeles`). Default: UTC, or the server's `AVA_TIMEZONE`.",
);

/// The query of `GET /api/admin/analytics/outcome-distribution`: a period of the
/// overview's, in a time zone (`None`: the server's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    pub tz: Option<Tz>,
}

impl Params for Window {
    fn fields() -> Vec<Field> {
        vec![Period::FIELD, TZ]
    }

    fn from_query(query: &Query) -> Window {
        Window {
            period: Period::named(query.text(&Period::FIELD).unwrap_or_default()),
            tz: query.time_zone(&TZ),
        }
    }
}

/// The periods peak hours are counted over: a day has too few calls for a heatmap.
pub const PEAK_PERIODS: [&str; 2] = [PERIODS[1], PERIODS[2]];

/// `period` of `GET /api/admin/analytics/peak-hours`.
const PEAK_PERIOD: Field = Field::optional(
    "period",
    Rule::OneOf(&PEAK_PERIODS),
    "The period: since midnight 7 (`week`) or 30 (`month`) days ago, in `tz`.",
)
.or("week");

/// The query of `GET /api/admin/analytics/peak-hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeakHours {
    pub period: Period,
    pub tz: Option<Tz>,
}

impl Params for PeakHours {
    fn fields() -> Vec<Field> {
        vec![PEAK_PERIOD, TZ]
    }

    fn from_query(query: &Query) -> PeakHours {
        PeakHours {
            period: Period::named(query.text(&PEAK_PERIOD).unwrap_or_default()),
            tz: query.time_zone(&TZ),
        }
    }
}

/// The start times of the calls that started since `start` (µs).
async fn started_since(store: &Store, start: i64) -> Result<Vec<i64>, ApiError> {
    let sessions = table("call_sessions");
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM call_sessions s WHERE s.started_at >= $1",
                select(sessions, &["started_at"], "s")
            ),
            &[Param::Time(start)],
            &[Kind::Timestamp],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| match row[0] {
            Value::Timestamp(us) => Some(us),
            _ => None,
        })
        .collect())
}

/// `GET /api/admin/analytics/peak-hours`: the calls started in the period per day of
/// the week (0 = Sunday) and hour, in `tz`; only the cells with a call, by day then hour.
pub async fn peak_hours(
    store: &Store,
    period: Period,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let mut cells = [[0i64; 24]; 7];
    for us in started_since(store, midnight_in(tz, now, period.days())).await? {
        if let Some(utc) = DateTime::from_timestamp_micros(us) {
            let local = utc.with_timezone(&tz);
            cells[local.weekday().num_days_from_sunday() as usize][local.hour() as usize] += 1;
        }
    }
    let cells: Vec<serde_json::Value> = (0..7)
        .flat_map(|day| (0..24).map(move |hour| (day, hour)))
        .filter(|&(day, hour)| cells[day][hour] > 0)
        .map(|(day, hour)| json!({"day": day, "hour": hour, "value": cells[day][hour]}))
        .collect();
    Answer::write(&cells)
}

/// What a call without an outcome is counted as: it has not ended (or its end was not
/// recorded).
pub const IN_PROGRESS: &str = "in_progress";

/// `GET /api/admin/analytics/outcome-distribution`: the calls started in the period
/// per outcome, most first, then by outcome.
pub async fn outcome_distribution(
    store: &Store,
    period: Period,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let sessions = table("call_sessions");
    let rows = store
        .rows(
            &format!(
                "SELECT {}, count(*) FROM call_sessions s WHERE s.started_at >= $1 \
                 GROUP BY s.outcome",
                select(sessions, &["outcome"], "s")
            ),
            &[Param::Time(midnight_in(tz, now, period.days()))],
            &[Kind::Text, Kind::Int],
        )
        .await?;
    // Summed here: a stored empty outcome reads as none on SQLite (the migration's
    // rule) and may meet the NULLs' group.
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for row in &rows {
        let outcome = match &row[0] {
            Value::Text(t) => t.to_string(),
            _ => IN_PROGRESS.to_string(),
        };
        *counts.entry(outcome).or_default() += int(&row[1]);
    }
    let mut counts: Vec<(String, i64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let outcomes: Vec<serde_json::Value> = counts
        .into_iter()
        .map(|(outcome, count)| json!({"outcome": outcome, "count": count}))
        .collect();
    Answer::write(&json!({"period": period.name(), "outcomes": outcomes}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn instant(us: i64) -> String {
        DateTime::from_timestamp_micros(us).unwrap().to_rfc3339()
    }

    #[test]
    fn a_period_starts_at_a_midnight_in_its_zone() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        // 03:00 UTC on the 10th is still the 9th in Los Angeles (UTC−8 in December).
        let now = at("2026-12-10T03:00:00Z");
        assert_eq!(
            instant(midnight_in(la, now, 0)),
            "2026-12-09T08:00:00+00:00"
        );
        assert_eq!(
            instant(midnight_in(la, now, 7)),
            "2026-12-02T08:00:00+00:00"
        );
        assert_eq!(
            instant(midnight_in(Tz::UTC, now, 0)),
            "2026-12-10T00:00:00+00:00"
        );
        // Across the change to summer time, midnight is still a local midnight (UTC−8
        // on 2026-03-07, UTC−7 on 2026-03-09).
        let spring = at("2026-03-09T12:00:00Z");
        assert_eq!(
            instant(midnight_in(la, spring, 0)),
            "2026-03-09T07:00:00+00:00"
        );
        assert_eq!(
            instant(midnight_in(la, spring, 2)),
            "2026-03-07T08:00:00+00:00"
        );
    }

    #[test]
    fn a_midnight_the_clocks_skip_starts_at_the_first_time_that_exists() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let now = at("2026-09-06T18:00:00Z");
        assert_eq!(
            instant(midnight_in(santiago, now, 0)),
            "2026-09-06T04:00:00+00:00"
        );
        // A whole day skipped: Apia went from 2011-12-29 to 2011-12-31 (UTC−10 → +14);
        // the day before its 2011-12-31 is the skipped 30th.
        let apia: Tz = "Pacific/Apia".parse().unwrap();
        let start = midnight_in(apia, at("2011-12-30T12:00:00Z"), 1);
        assert_eq!(instant(start), "2011-12-30T10:00:00+00:00");
    }
}
