//! The `daily_metrics` rule: how one UTC day's row is folded from `call_sessions`.
//!
//! `daily_metrics` is the fold of `call_sessions` that `admin-api.md` describes (what
//! the app's `AnalyticsService` does as each call ends), pinned down here so that
//! everyone who computes it — the seed writing a file, the server folding a call into
//! its day as it ends — gets the same bits:
//!
//! - Only calls with `ended_at` set are folded (`started_at` is never NULL on those).
//!   A call belongs to the UTC day of its `started_at`; there is one row per day that
//!   has at least one folded call, ids ascending with the date.
//! - `date` = that day's midnight, `YYYY-MM-DD 00:00:00.000000`.
//! - `total_calls` = count; `total_talk_time_seconds` = sum of `duration_seconds`
//!   (NULL adds nothing); `avg_call_duration_seconds` =
//!   `total_talk_time_seconds / total_calls` (integer division).
//! - `appointments_booked`, `appointments_rescheduled`, `appointments_cancelled` =
//!   count of `outcome` = `'booked'`, `'rescheduled'`, `'cancelled'`;
//!   `calls_escalated` = count of `escalated = 1` (NULL does not count).
//! - `conversion_rate` = `booked as f64 / total_calls as f64 * 100.0` (in that order).
//! - `avg_satisfaction_score` = the day's non-NULL `satisfaction_score` values added
//!   as f64 one by one in ascending call `id` order, divided by how many there are;
//!   `0.0` when there are none. (Postgres: `avg(satisfaction_score ORDER BY id)`;
//!   SQLite ≥ 3.43's `avg()` uses compensated summation and can differ in the last bit.)
//!
//! [`DayFold`] is that rule: add a day's ended calls in id order, then read its
//! [`DayMetrics`].

/// The columns of `call_sessions` a day's fold reads, in the order [`DayFold::add`]
/// takes them.
pub const FOLD_COLUMNS: [&str; 4] = [
    "duration_seconds",
    "outcome",
    "escalated",
    "satisfaction_score",
];

/// One day's `daily_metrics` values (besides its date and `updated_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct DayMetrics {
    pub total_calls: i64,
    pub total_talk_time_seconds: i64,
    pub avg_call_duration_seconds: i64,
    pub appointments_booked: i64,
    pub appointments_rescheduled: i64,
    pub appointments_cancelled: i64,
    pub avg_satisfaction_score: f64,
    pub calls_escalated: i64,
    pub conversion_rate: f64,
}

/// The running fold of one UTC day's ended calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayFold {
    calls: i64,
    talk: i64,
    booked: i64,
    rescheduled: i64,
    cancelled: i64,
    escalated: i64,
    score_sum: f64,
    scored: i64,
}

impl DayFold {
    /// Adds one ended call's [`FOLD_COLUMNS`] (`None` for NULL). Calls must come in
    /// ascending id order: the rule fixes the order of the score's f64 additions.
    pub fn add(
        &mut self,
        duration: Option<i64>,
        outcome: Option<&str>,
        escalated: Option<bool>,
        score: Option<f64>,
    ) {
        self.calls += 1;
        self.talk += duration.unwrap_or(0);
        self.booked += i64::from(outcome == Some("booked"));
        self.rescheduled += i64::from(outcome == Some("rescheduled"));
        self.cancelled += i64::from(outcome == Some("cancelled"));
        self.escalated += i64::from(escalated == Some(true));
        if let Some(s) = score {
            self.score_sum += s;
            self.scored += 1;
        }
    }

    /// The day's values; `None` for a day without calls (it has no row).
    pub fn metrics(&self) -> Option<DayMetrics> {
        let total = Some(self.calls).filter(|n| *n > 0)?;
        Some(DayMetrics {
            total_calls: total,
            total_talk_time_seconds: self.talk,
            avg_call_duration_seconds: self.talk / total,
            appointments_booked: self.booked,
            appointments_rescheduled: self.rescheduled,
            appointments_cancelled: self.cancelled,
            avg_satisfaction_score: if self.scored > 0 {
                self.score_sum / self.scored as f64
            } else {
                0.0
            },
            calls_escalated: self.escalated,
            conversion_rate: self.booked as f64 / total as f64 * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call's duration, outcome, escalated and score.
    type Call = (Option<i64>, &'static str, Option<bool>, Option<f64>);

    fn fold(calls: &[Call]) -> Option<DayMetrics> {
        let mut day = DayFold::default();
        for &(duration, outcome, escalated, score) in calls {
            day.add(duration, Some(outcome), escalated, score);
        }
        day.metrics()
    }

    #[test]
    fn the_fold_follows_the_rule() {
        assert_eq!(DayFold::default().metrics(), None);
        let m = fold(&[
            (Some(100), "booked", Some(true), Some(0.1)),
            (Some(51), "cancelled", None, None),
            (Some(30), "rescheduled", Some(false), Some(0.2)),
            (Some(0), "booked", Some(false), Some(0.3)),
            (None, "escalated", Some(true), None),
        ])
        .unwrap();
        assert_eq!(
            (
                m.total_calls,
                m.total_talk_time_seconds,
                m.avg_call_duration_seconds
            ),
            (5, 181, 36)
        );
        assert_eq!(
            (
                m.appointments_booked,
                m.appointments_rescheduled,
                m.appointments_cancelled
            ),
            (2, 1, 1)
        );
        assert_eq!(m.calls_escalated, 2);
        assert_eq!(m.conversion_rate, 2.0 / 5.0 * 100.0);
        // Added one by one in id order: (0.1 + 0.2) + 0.3, not 0.1 + (0.2 + 0.3).
        assert_eq!(m.avg_satisfaction_score, (0.1 + 0.2 + 0.3) / 3.0);
        assert_ne!((0.1 + 0.2) + 0.3, 0.1 + (0.2 + 0.3));
        let unscored = fold(&[(Some(10), "info_only", None, None)]).unwrap();
        assert_eq!(unscored.avg_satisfaction_score, 0.0);
        assert_eq!(unscored.conversion_rate, 0.0);
    }
}
