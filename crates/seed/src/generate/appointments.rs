//! The `appointments` rows: booked during a call or by staff or online outside one.

use rand::Rng;

use super::{pick, weighted, Gen};
use crate::stamp::Sql;
use crate::values::{mix, CalendarId};
use crate::vocab::*;

impl Gen<'_> {
    pub(super) fn appointment(
        &mut self,
        customer: i64,
        created: i64,
        at: i64,
        booked_by: &str,
        service: &str,
    ) -> rusqlite::Result<i64> {
        let id = self.appointments.next_id();
        let r = &mut self.rng;
        // A row from before status, booked_by, duration and timestamps were filled in.
        let legacy = id % 25 == 13;
        let calendar = (id % 10 != 4 && !r.random_bool(0.08))
            .then(|| CalendarId(mix(id as u64 ^ self.salt.rotate_left(32))));
        let provider = match id % 10 {
            2 => None,
            6 => Some(""),
            _ => (!r.random_bool(0.15)).then(|| pick(r, &PROVIDERS)),
        };
        let duration = (!legacy).then(|| pick(r, &[30, 45, 60, 60, 90]));
        let status = (!legacy).then(|| weighted(r, &STATUSES));
        let requests = match id % 10 {
            0 => None,
            8 => Some(SPECIAL_REQUESTS[(id / 10) as usize % SPECIAL_REQUESTS.len()]),
            _ => r.random_bool(0.3).then(|| pick(r, &SPECIAL_REQUESTS)),
        };
        let cancelled_at = (status == Some("cancelled"))
            .then(|| created + (at - created) / 10 * r.random_range(1..10));
        let reason = cancelled_at
            .and_then(|_| (!r.random_bool(0.2)).then(|| pick(r, &CANCELLATION_REASONS)));
        self.appointments
            .val(id)?
            .val(customer)?
            .opt_text(calendar)?
            .text(Sql(at))?
            .val(service)?
            .val(provider)?
            .val(duration)?
            .val(status)?
            .val((!legacy).then_some(booked_by))?
            .val(requests)?
            .val(reason)?
            .opt_text((!legacy).then_some(Sql(created)))?
            .opt_text((!legacy).then_some(Sql(cancelled_at.unwrap_or(created))))?
            .opt_text(cancelled_at.map(Sql))?
            .row()?;
        Ok(id)
    }
}
