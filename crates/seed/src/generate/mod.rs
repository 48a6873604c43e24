//! The generator: one deterministic random stream ([`Gen`]) drawing the five tables' rows
//! in the order their ids and times need — customers first, then the calls day by day
//! in start order, each with its appointment and events, then each day's
//! `daily_metrics` row, folded by [`ava_catalog::daily`]'s rule. One module per table
//! generator.

mod appointments;
mod calls;
mod customers;
mod events;

use ava_catalog::daily::{DayFold, DayMetrics};
use ava_catalog::{APPOINTMENTS, CALL_EVENTS, CALL_SESSIONS, CUSTOMERS, DAILY_METRICS};
use chrono::Datelike;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

use crate::insert::{Insert, BATCH};
use crate::stamp::{Sql, DAY, HOUR, MINUTE};
use crate::values::mix;
use crate::SeedOptions;
use calls::Turn;

/// What one call decided that its appointment and events need to agree with.
struct Call {
    id: i64,
    start: i64,
    service: &'static str,
    outcome: Option<&'static str>,
    escalation_reason: Option<&'static str>,
    appointment: Option<i64>,
    slot: i64,
}

/// The generator's state: the random stream and an [`Insert`] per table.
struct Gen<'c> {
    rng: ChaCha8Rng,
    salt: u64,
    customer_count: i64,
    customers: Insert<'c>,
    appointments: Insert<'c>,
    calls: Insert<'c>,
    events: Insert<'c>,
    metrics: Insert<'c>,
    turns: Vec<Turn>,
}

pub(crate) fn fill(db: &Connection, opts: &SeedOptions) -> rusqlite::Result<[u64; 5]> {
    const UNIX_EPOCH_FROM_CE: i64 = 719_163;
    let calls = i64::try_from(opts.calls).unwrap_or(i64::MAX);
    let days = (calls / 250).clamp(7, 730);
    let first = i64::from(opts.end.num_days_from_ce()) - UNIX_EPOCH_FROM_CE - days + 1;
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        salt: mix(opts.seed),
        customer_count: (calls / 4).max(1),
        customers: Insert::new(db, CUSTOMERS)?,
        appointments: Insert::new(db, APPOINTMENTS)?,
        calls: Insert::new(db, CALL_SESSIONS)?,
        events: Insert::new(db, CALL_EVENTS)?,
        metrics: Insert::new(db, DAILY_METRICS)?,
        turns: Vec::new(),
    };
    g.customer_rows(first)?;

    // Calls are generated day by day in start order, so ids follow time as in the app.
    // Each day gets its share of `calls` by weight (weekdays busier, business growing).
    let weights: Vec<f64> = (0..days)
        .map(|i| {
            let weekday =
                [1.0, 1.0, 1.0, 1.05, 1.1, 0.7, 0.35][(first + i + 3).rem_euclid(7) as usize];
            weekday * (0.6 + 0.4 * i as f64 / days as f64) * g.rng.random_range(0.8..1.2)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let (mut cumulative, mut done) = (0.0, 0);
    let mut folds = vec![DayFold::default(); weights.len()];
    let mut starts = Vec::new();
    for (i, (w, fold)) in weights.iter().zip(&mut folds).enumerate() {
        cumulative += w;
        let upto = if i + 1 == weights.len() {
            calls
        } else {
            ((cumulative / total * calls as f64).round() as i64).min(calls)
        };
        let midnight = (first + i as i64) * DAY;
        starts.clear();
        starts.extend((done..upto).map(|_| midnight + g.time_of_day()));
        starts.sort_unstable();
        for chunk in starts.chunks(BATCH) {
            g.calls.batch(chunk.len())?;
            for &start in chunk {
                g.call(start, fold)?;
            }
        }
        done = upto;
    }
    // Every batch was sized to the rows that followed; a partial one would be lost.
    debug_assert!([&g.customers, &g.calls, &g.events]
        .iter()
        .all(|t| t.pending == 0));
    for (i, fold) in folds.iter().enumerate() {
        if let Some(day) = fold.metrics() {
            g.metrics_row((first + i as i64) * DAY, &day)?;
        }
    }
    Ok([g.customers, g.appointments, g.calls, g.events, g.metrics].map(|t| t.rows))
}

fn pick<T: Copy>(r: &mut impl Rng, xs: &[T]) -> T {
    xs[r.random_range(0..xs.len())]
}

fn weighted<T: Copy>(r: &mut impl Rng, xs: &[(T, u32)]) -> T {
    let mut ticket = r.random_range(0..xs.iter().map(|x| x.1).sum::<u32>());
    for &(x, w) in xs {
        if ticket < w {
            return x;
        }
        ticket -= w;
    }
    xs[xs.len() - 1].0
}

impl Gen<'_> {
    /// Microseconds into a UTC day: mostly Los Angeles opening hours (15:00–03:00 UTC).
    fn time_of_day(&mut self) -> i64 {
        if self.rng.random_bool(0.75) {
            (15 * HOUR + self.rng.random_range(0..12 * HOUR)) % DAY
        } else {
            self.rng.random_range(0..DAY)
        }
    }

    /// An appointment time 1–45 days after `t`, on the hour or half hour.
    fn slot_after(&mut self, t: i64) -> i64 {
        let day = t.div_euclid(DAY) + self.rng.random_range(1..=45);
        day * DAY + 15 * HOUR + self.rng.random_range(0..24) * 30 * MINUTE
    }

    fn metrics_row(&mut self, midnight: i64, m: &DayMetrics) -> rusqlite::Result<()> {
        let id = self.metrics.next_id();
        self.metrics
            .val(id)?
            .text(Sql(midnight))?
            .val(m.total_calls)?
            .val(m.total_talk_time_seconds)?
            .val(m.avg_call_duration_seconds)?
            .val(m.appointments_booked)?
            .val(m.appointments_rescheduled)?
            .val(m.appointments_cancelled)?
            .val(m.avg_satisfaction_score)?
            .val(m.calls_escalated)?
            .val(m.conversion_rate)?
            .text(Sql(midnight + 23 * HOUR + 59 * MINUTE))?
            .row()
    }
}
