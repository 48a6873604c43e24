//! The `customers` rows: one per four calls, created up to a year before the first call.

use rand::Rng;

use super::{pick, Gen};
use crate::insert::BATCH;
use crate::stamp::{Sql, DAY};
use crate::values::Phone;
use crate::vocab::*;

impl Gen<'_> {
    pub(super) fn customer_rows(&mut self, first_day: i64) -> rusqlite::Result<()> {
        let (r, c) = (&mut self.rng, &mut self.customers);
        for i in 1..=self.customer_count {
            if i % BATCH as i64 == 1 {
                c.batch((self.customer_count - i + 1).min(BATCH as i64) as usize)?;
            }
            // A row from before the flags and timestamps were filled in.
            let legacy = i % 25 == 7;
            let created = (first_day - r.random_range(0..=365)) * DAY + r.random_range(0..DAY);
            let updated = created + r.random_range(0..=30 * DAY);
            let email = i % 10 != 3 && !r.random_bool(0.2);
            let notes = match i % 5 {
                0 => None,
                2 => Some(""),
                3 => Some(NOTES[(i / 5) as usize % NOTES.len()]),
                _ => (!r.random_bool(0.4)).then(|| pick(r, &NOTES)),
            };
            let flags = [r.random_bool(0.4), r.random_bool(0.15), r.random_bool(0.04)];
            let flags = flags.map(|f| (!legacy).then_some(f));
            c.val(i)?;
            if i % 5 == 1 {
                c.text(HARD_NAMES[(i / 5) as usize % HARD_NAMES.len()])?;
            } else {
                let (first, last) = (pick(r, &FIRST), pick(r, &LAST));
                c.text(format_args!("{first} {last}"))?;
            }
            c.text(Phone::Customer(i))?
                .opt_text(email.then_some(format_args!("client{i}@example.com")))?
                .val(flags[0])?
                .opt_text((!legacy).then_some(Sql(created)))?
                .opt_text((!legacy).then_some(Sql(updated)))?
                .val(flags[1])?
                .val(flags[2])?
                .val(notes)?
                .row()?;
        }
        Ok(())
    }
}
