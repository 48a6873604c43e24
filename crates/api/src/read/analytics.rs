//! The analytics the app's own team added to its dashboard later, as far as the five
//! tables answer them: when calls come (`peak_hours`), how they end
//! (`outcome_distribution`), how both move over the period (`timeseries`) and what the
//! appointments were for (`services`), each in the clinic's own time zone — a clinic
//! in Los Angeles wants its peak hours in its own hours. A period starts at a midnight in that zone
//! ([`midnight_in`]); the overview's periods are the same rule in UTC.
//!
//! Both stores answer alike: SQL selects (and at most counts) rows by UTC instants,
//! through the `started_at` and `appointment_datetime` indexes; everything that depends
//! on the zone — the buckets, the ordering, the names of what has no value — is done
//! here in Rust.

use ava_catalog::{APPOINTMENTS, CALL_SESSIONS};
use std::collections::BTreeMap;

use ava_catalog::Kind;
use ava_convert::datetime::format_micros;
use ava_convert::Value;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::{float, int, Period, PERIODS};
use crate::json::{kinds, round2, select, Answer};
use crate::request::{Field, Params, Query, Rule};
use crate::store::{Dialect, Param, Store};
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
            period: Period::in_query(query, &Period::FIELD),
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
            period: Period::in_query(query, &PEAK_PERIOD),
            tz: query.time_zone(&TZ),
        }
    }
}

/// Calls that started in the period: from its start to now (a call dated later has not
/// started; seeded and imported files have some).
const STARTED: &str = "s.started_at >= $1 AND s.started_at <= $2";

/// [`STARTED`]'s parameters.
fn started(start: i64, now: DateTime<Utc>) -> [Param; 2] {
    [Param::Time(start), Param::Time(now.timestamp_micros())]
}

/// A quarter of an hour, in µs: every time zone's offset from UTC today is a whole
/// number of them (Kolkata +5:30, Kathmandu +5:45, Chatham +12:45), so the calls of one
/// UTC quarter hour share their local day and hour.
const QUARTER_HOUR: i64 = 900_000_000;

/// The calls started from `start` to `now`, counted per UTC quarter hour (its number
/// since 1970). Postgres counts them (a few thousand groups at most, whatever the
/// calls); SQLite, in this process, hands over the start times to be counted here.
async fn per_quarter_hour(
    store: &Store,
    start: i64,
    now: DateTime<Utc>,
) -> Result<BTreeMap<i64, i64>, ApiError> {
    let mut counts = BTreeMap::new();
    match store.dialect() {
        Dialect::Postgres => {
            let rows = store
                .rows(
                    &format!(
                        // `date_part` (a double: exact for the quarter hours of these
                        // centuries) rather than `extract` (a numeric: a third slower).
                        "SELECT floor(date_part('epoch', s.started_at) / {})::bigint, \
                         count(*) FROM call_sessions s WHERE {STARTED} GROUP BY 1",
                        QUARTER_HOUR / 1_000_000
                    ),
                    &started(start, now),
                    &[Kind::Int, Kind::Int],
                )
                .await?;
            for row in &rows {
                *counts.entry(int(&row[0])).or_default() += int(&row[1]);
            }
        }
        Dialect::Sqlite => {
            let rows = store
                .rows(
                    &format!(
                        "SELECT {} FROM call_sessions s WHERE {STARTED}",
                        select(CALL_SESSIONS, &["started_at"], "s")
                    ),
                    &started(start, now),
                    &kinds(CALL_SESSIONS, &["started_at"]),
                )
                .await?;
            for row in &rows {
                if let Value::Timestamp(us) = row[0] {
                    *counts.entry(us.div_euclid(QUARTER_HOUR)).or_default() += 1;
                }
            }
        }
    }
    Ok(counts)
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
    let start = midnight_in(tz, now, period.days());
    for (quarter, calls) in per_quarter_hour(store, start, now).await? {
        if let Some(utc) = DateTime::from_timestamp_micros(quarter * QUARTER_HOUR) {
            let local = utc.with_timezone(&tz);
            cells[local.weekday().num_days_from_sunday() as usize][local.hour() as usize] += calls;
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
    let rows = store
        .rows(
            &format!(
                "SELECT {}, count(*) FROM call_sessions s WHERE {STARTED} GROUP BY s.outcome",
                select(CALL_SESSIONS, &["outcome"], "s")
            ),
            &started(midnight_in(tz, now, period.days()), now),
            &[kinds(CALL_SESSIONS, &["outcome"]), vec![Kind::Int]].concat(),
        )
        .await?;
    // Summed here: a stored empty outcome reads as none on SQLite (the migration's
    // rule) and may meet the NULLs' group.
    let mut counts: BTreeMap<String, i64> = Default::default();
    for row in &rows {
        let outcome = match &row[0] {
            Value::Text(t) => t.to_string(),
            _ => IN_PROGRESS.to_string(),
        };
        *counts.entry(outcome).or_default() += int(&row[1]);
    }
    let outcomes: Vec<serde_json::Value> = most_first(counts, |&count| count)
        .into_iter()
        .map(|(outcome, count)| json!({"outcome": outcome, "count": count}))
        .collect();
    Answer::write(&json!({"period": period.name(), "outcomes": outcomes}))
}

/// `groups` by `count`, most first, ties by name.
fn most_first<T>(groups: BTreeMap<String, T>, count: impl Fn(&T) -> i64) -> Vec<(String, T)> {
    let mut groups: Vec<(String, T)> = groups.into_iter().collect();
    // Stable: the map's name order stays among equal counts.
    groups.sort_by_key(|(_, group)| std::cmp::Reverse(count(group)));
    groups
}

/// The buckets of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

/// The intervals' names, in the order of [`Interval::ALL`].
pub const INTERVALS: [&str; 2] = ["hour", "day"];

impl Interval {
    pub const ALL: [Interval; 2] = [Interval::Hour, Interval::Day];

    pub fn name(self) -> &'static str {
        INTERVALS[self as usize]
    }
}

const INTERVAL: Field = Field::optional(
    "interval",
    Rule::OneOf(&INTERVALS),
    "The buckets: each hour from the period's start, or each day (midnight to midnight \
     in `tz`: 23 or 25 hours where clocks change).",
)
.or("day");

/// The query of `GET /api/admin/analytics/timeseries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub period: Period,
    pub interval: Interval,
    pub tz: Option<Tz>,
}

impl Params for Series {
    fn fields() -> Vec<Field> {
        vec![Period::FIELD, INTERVAL, TZ]
    }

    fn from_query(query: &Query) -> Series {
        Series {
            period: Period::in_query(query, &Period::FIELD),
            interval: Interval::ALL
                .into_iter()
                .find(|i| query.text(&INTERVAL) == Some(i.name()))
                .unwrap_or(Interval::Day),
            tz: query.time_zone(&TZ),
        }
    }
}

/// The starts of the buckets (µs) from `start` up to the one holding `now`.
fn buckets(start: i64, now: DateTime<Utc>, interval: Interval, tz: Tz) -> Vec<i64> {
    const HOUR: i64 = 3_600_000_000;
    let now = now.timestamp_micros();
    let mut starts = vec![start];
    loop {
        let last = starts[starts.len() - 1];
        let next = match interval {
            Interval::Hour => last + HOUR,
            // The next local midnight: a day after this one's, found from its noon
            // (never in a change of clocks).
            Interval::Day => {
                let noon = last + 12 * HOUR;
                let at = DateTime::from_timestamp_micros(noon).unwrap_or_default();
                midnight_in(tz, at, -1)
            }
        };
        if next > now {
            return starts;
        }
        starts.push(next);
    }
}

/// `GET /api/admin/analytics/timeseries`: per bucket from the period's start to now
/// (empty ones too), oldest first, the calls started, those booked, and their average
/// satisfaction (2 decimals; `null` with none scored).
pub async fn timeseries(
    store: &Store,
    period: Period,
    interval: Interval,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let start = midnight_in(tz, now, period.days());
    let starts = buckets(start, now, interval, tz);
    let columns = ["started_at", "outcome", "satisfaction_score"];
    // In one order, so that both stores add the same floats in the same order.
    let rows = store
        .rows(
            &format!(
                "SELECT {} FROM call_sessions s WHERE {STARTED} ORDER BY s.started_at, s.id",
                select(CALL_SESSIONS, &columns, "s")
            ),
            &started(start, now),
            &kinds(CALL_SESSIONS, &columns),
        )
        .await?;
    // Per bucket: calls, booked, scores' sum and count.
    let mut sums = vec![(0i64, 0i64, 0.0f64, 0i64); starts.len()];
    for row in &rows {
        let Value::Timestamp(at) = row[0] else {
            continue;
        };
        let bucket = starts.partition_point(|&s| s <= at) - 1;
        let sum = &mut sums[bucket];
        sum.0 += 1;
        if matches!(&row[1], Value::Text(outcome) if outcome == "booked") {
            sum.1 += 1;
        }
        if let Some(score) = float(&row[2]) {
            sum.2 += score;
            sum.3 += 1;
        }
    }
    let series: Vec<serde_json::Value> = starts
        .iter()
        .zip(&sums)
        .map(|(&at, &(calls, booked, scores, scored))| {
            json!({
                "timestamp": format_micros(at),
                "total_calls": calls,
                "appointments_booked": booked,
                "avg_satisfaction_score": (scored > 0).then(|| round2(scores / scored as f64)),
            })
        })
        .collect();
    Answer::write(&series)
}

/// What an appointment without a status is counted as.
pub const UNKNOWN_STATUS: &str = "unknown";

/// `GET /api/admin/analytics/services`: the appointments of the period's days — from
/// its first midnight to the end of today, in `tz`, by `appointment_datetime` (today's
/// later appointments too) — per `service_type`, most first, then by name: how many,
/// how many of each status, how many the AI booked (`booked_by` = `ai`) and that as a
/// percentage (2 decimals).
pub async fn services(
    store: &Store,
    period: Period,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let columns = ["service_type", "status", "booked_by"];
    let rows = store
        .rows(
            &format!(
                "SELECT {}, count(*) FROM appointments a WHERE a.appointment_datetime >= $1 \
                 AND a.appointment_datetime < $2 GROUP BY a.service_type, a.status, \
                 a.booked_by",
                select(APPOINTMENTS, &columns, "a")
            ),
            &[
                Param::Time(midnight_in(tz, now, period.days())),
                Param::Time(midnight_in(tz, now, -1)),
            ],
            &[kinds(APPOINTMENTS, &columns), vec![Kind::Int]].concat(),
        )
        .await?;
    #[derive(Default)]
    struct Service {
        appointments: i64,
        by_status: BTreeMap<String, i64>,
        by_ai: i64,
    }
    let text = |v: &Value<'_>| match v {
        Value::Text(t) => Some(t.to_string()),
        _ => None,
    };
    let mut services: BTreeMap<String, Service> = Default::default();
    for row in &rows {
        let count = int(&row[3]);
        let service = services
            .entry(text(&row[0]).unwrap_or_default())
            .or_default();
        service.appointments += count;
        let status = text(&row[1]).unwrap_or_else(|| UNKNOWN_STATUS.to_string());
        *service.by_status.entry(status).or_default() += count;
        if text(&row[2]).as_deref() == Some("ai") {
            service.by_ai += count;
        }
    }
    let services: Vec<serde_json::Value> = most_first(services, |s| s.appointments)
        .into_iter()
        .map(|(name, s)| {
            json!({
                "service_type": name,
                "appointments": s.appointments,
                "by_status": s.by_status,
                "booked_by_ai": s.by_ai,
                "ai_booked_rate": round2(s.by_ai as f64 / s.appointments as f64 * 100.0),
            })
        })
        .collect();
    Answer::write(&json!({"period": period.name(), "services": services}))
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
    fn a_day_bucket_runs_midnight_to_midnight_and_the_last_holds_now() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        // Summer time ends on 2026-11-01 in Los Angeles: that day has 25 hours.
        let now = at("2026-11-03T20:00:00Z");
        let start = midnight_in(la, now, 3);
        let starts: Vec<String> = buckets(start, now, Interval::Day, la)
            .into_iter()
            .map(instant)
            .collect();
        assert_eq!(
            starts,
            [
                "2026-10-31T07:00:00+00:00",
                "2026-11-01T07:00:00+00:00",
                "2026-11-02T08:00:00+00:00",
                "2026-11-03T08:00:00+00:00",
            ]
        );
        let hours = buckets(midnight_in(la, now, 0), now, Interval::Hour, la);
        // 08:00Z to 20:00Z: 13 hours, the last one holding now.
        assert_eq!(hours.len(), 13);
        assert_eq!(instant(hours[12]), "2026-11-03T20:00:00+00:00");
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
