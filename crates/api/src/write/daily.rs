//! Folding a day as a call ends: the day's ended calls read back from `call_sessions`
//! and folded by the catalog's `daily_metrics` rule ([`ava_catalog::daily`], in Rust,
//! so the average has the rule's bits — the seed folds its days with the same
//! [`DayFold`]), then upserted by date.

use ava_catalog::daily::DayFold;
pub use ava_catalog::daily::{DayMetrics, FOLD_COLUMNS};
use ava_catalog::CALL_SESSIONS;
use ava_convert::Value;

use super::tx::Tx;
use crate::json::kinds;
use crate::store::Param;
use crate::ApiError;

/// A day in microseconds.
pub(super) const DAY: i64 = 86_400_000_000;

/// The `daily_metrics` rule over one day's ended calls, given as rows of
/// [`FOLD_COLUMNS`] in ascending call id order; `None` for a day without calls. A NULL
/// duration adds nothing, a NULL `escalated` does not count, a NULL score is skipped.
pub fn fold(calls: &[Vec<Value<'_>>]) -> Option<DayMetrics> {
    let mut day = DayFold::default();
    for call in calls {
        let duration = match call.first() {
            Some(Value::Int(d)) => Some(*d),
            _ => None,
        };
        let outcome = match call.get(1) {
            Some(Value::Text(o)) => Some(o.as_ref()),
            _ => None,
        };
        let escalated = match call.get(2) {
            Some(Value::Bool(e)) => Some(*e),
            _ => None,
        };
        let score = match call.get(3) {
            Some(Value::Float(s)) => Some(*s),
            _ => None,
        };
        day.add(duration, outcome, escalated, score);
    }
    day.metrics()
}

/// Recomputes `day`'s `daily_metrics` row from `call_sessions` and upserts it by date.
pub(super) async fn fold_day<T: Tx>(tx: &T, day: i64, now: i64) -> Result<(), ApiError> {
    let midnight = day * DAY;
    let calls = tx
        .rows(
            &format!(
                "SELECT {} FROM call_sessions s WHERE s.ended_at IS NOT NULL \
                 AND s.started_at >= $1 AND s.started_at < $2 ORDER BY s.id",
                crate::json::select(CALL_SESSIONS, &FOLD_COLUMNS, "s")
            ),
            &[Param::Time(midnight), Param::Time(midnight + DAY)],
            &kinds(CALL_SESSIONS, &FOLD_COLUMNS),
        )
        .await?;
    let Some(m) = fold(&calls) else {
        return Ok(());
    };
    tx.rows(
        "INSERT INTO daily_metrics (date, total_calls, total_talk_time_seconds, \
         avg_call_duration_seconds, appointments_booked, appointments_rescheduled, \
         appointments_cancelled, avg_satisfaction_score, calls_escalated, conversion_rate, \
         updated_at) VALUES ($1, CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS BIGINT), \
         CAST($5 AS BIGINT), CAST($6 AS BIGINT), CAST($7 AS BIGINT), $8, CAST($9 AS BIGINT), \
         $10, $11) \
         ON CONFLICT (date) DO UPDATE SET total_calls = excluded.total_calls, \
         total_talk_time_seconds = excluded.total_talk_time_seconds, \
         avg_call_duration_seconds = excluded.avg_call_duration_seconds, \
         appointments_booked = excluded.appointments_booked, \
         appointments_rescheduled = excluded.appointments_rescheduled, \
         appointments_cancelled = excluded.appointments_cancelled, \
         avg_satisfaction_score = excluded.avg_satisfaction_score, \
         calls_escalated = excluded.calls_escalated, \
         conversion_rate = excluded.conversion_rate, updated_at = excluded.updated_at",
        &[
            Param::Time(midnight),
            Param::Int(m.total_calls),
            Param::Int(m.total_talk_time_seconds),
            Param::Int(m.avg_call_duration_seconds),
            Param::Int(m.appointments_booked),
            Param::Int(m.appointments_rescheduled),
            Param::Int(m.appointments_cancelled),
            Param::Float(m.avg_satisfaction_score),
            Param::Int(m.calls_escalated),
            Param::Float(m.conversion_rate),
            Param::Time(now),
        ],
        &[],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        duration: Option<i64>,
        outcome: &str,
        escalated: Option<bool>,
        score: Option<f64>,
    ) -> Vec<Value<'static>> {
        vec![
            duration.map_or(Value::Null, Value::Int),
            Value::Text(outcome.to_string().into()),
            escalated.map_or(Value::Null, Value::Bool),
            score.map_or(Value::Null, Value::Float),
        ]
    }

    /// The rows are read column by column as [`DayFold::add`] takes them: each column
    /// moves its own value, NULLs count as the rule says.
    #[test]
    fn rows_are_read_in_fold_column_order() {
        assert_eq!(fold(&[]), None);
        let m = fold(&[
            call(Some(100), "booked", Some(true), Some(0.25)),
            call(None, "cancelled", None, None),
            call(Some(31), "rescheduled", Some(false), Some(0.75)),
        ])
        .unwrap();
        assert_eq!(
            (
                m.total_calls,
                m.total_talk_time_seconds,
                m.avg_call_duration_seconds
            ),
            (3, 131, 43)
        );
        assert_eq!(
            (
                m.appointments_booked,
                m.appointments_rescheduled,
                m.appointments_cancelled,
                m.calls_escalated
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(m.avg_satisfaction_score, 0.5);
        // booked / total first, then × 100: the rule's order, not 100 / 3.
        assert_eq!(m.conversion_rate, 1.0 / 3.0 * 100.0);
        assert_ne!(m.conversion_rate, 100.0 / 3.0);
    }
}
