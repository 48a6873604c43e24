//! The `call_sessions` rows: each call's caller, end, outcome, score and transcript,
//! folded into its day as it is written, then its appointment and events.

use ava_catalog::daily::DayFold;
use rand::Rng;
use rusqlite::types::Null;
use serde::Serialize;

use super::{pick, weighted, Call, Gen};
use crate::stamp::{Iso, Sql, SECOND};
use crate::values::{mix, Phone, RecordingUrl, SessionId};
use crate::vocab::*;

/// One line of a JSON transcript, in the app's key order.
#[derive(Serialize)]
pub(super) struct Turn {
    speaker: &'static str,
    text: &'static str,
    timestamp: Iso,
}

enum Transcript {
    Json,
    Legacy(&'static str),
    Null,
}

impl Gen<'_> {
    pub(super) fn call(&mut self, start: i64, day: &mut DayFold) -> rusqlite::Result<()> {
        let id = self.calls.next_id();
        let r = &mut self.rng;
        let customer =
            (id % 10 != 5 && !r.random_bool(0.2)).then(|| r.random_range(1..=self.customer_count));
        let phone = match customer {
            Some(i) => Some(Phone::Customer(i)),
            None if id % 20 == 15 || r.random_bool(0.05) => None,
            None => Some(Phone::Other(
                pick(r, &["213", "323", "424", "626", "818"]),
                r.random_range(2_000_000..10_000_000),
            )),
        };
        // Calls that never ended: the app crashed or the caller is still on the line.
        let ended = id % 50 != 17 && !r.random_bool(0.02);
        // Most calls are short; a few run twenty minutes.
        let duration = 15 + (r.random::<f64>().powi(2) * 1200.0) as i64;
        let end = start + duration * SECOND;
        let outcome = ended.then(|| weighted(r, &OUTCOMES));
        // A row from before the counters and the escalation flag were recorded.
        let legacy = id % 100 == 41;
        let escalated = !legacy
            && (outcome == Some("escalated") || id % 50 == 9 || (ended && r.random_bool(0.03)));
        let escalation_reason = escalated.then(|| match id % 100 {
            9 => "",
            _ => pick(r, &ESCALATION_REASONS),
        });
        let score = match id % 10 {
            _ if !ended => None,
            3 => None,
            8 => Some(f64::from(r.random_range(0..=30u8)) / 3.0), // the mean of three ratings
            _ if r.random_bool(0.08) => None,
            _ if r.random_bool(0.15) => Some(f64::from(r.random_range(0..=30u8)) / 3.0),
            _ => Some(f64::from(r.random_range(0..=100u8)) / 10.0),
        };
        let sentiment = (ended && !r.random_bool(0.03)).then(|| weighted(r, &SENTIMENTS));
        let session = SessionId(r.random(), mix(id as u64 ^ self.salt));
        let recording = (ended && r.random_bool(0.3)).then_some(RecordingUrl(session));
        let function_calls = match outcome {
            Some("booked") => r.random_range(1..=4),
            _ => r.random_range(0..=3),
        };
        let counters = [r.random_range(0..=4), r.random_range(0..=3), function_calls]
            .map(|n| (!legacy).then_some(n));
        let service = pick(r, &SERVICES);
        let transcript = match id % 25 {
            11 => Transcript::Legacy(
                LEGACY_TRANSCRIPTS[(id / 25) as usize % LEGACY_TRANSCRIPTS.len()],
            ),
            19 => Transcript::Null,
            _ if !ended && r.random_bool(0.5) => Transcript::Null,
            _ => Transcript::Json,
        };
        if let Transcript::Json = transcript {
            // An unended call's transcript covers what was said so far.
            let (turns, span) = match ended {
                true => (r.random_range(2..=8), duration * SECOND),
                false => (r.random_range(1..=3), 30 * SECOND),
            };
            self.fill_turns(id, start, turns, span);
        }

        let c = &mut self.calls;
        c.val(id)?
            .val(customer)?
            .text(session)?
            .opt_text(phone)?
            // A NULL start only on a call that never ended, so the fold stays defined.
            .opt_text((id % 100 != 67).then_some(Sql(start)))?
            .opt_text(ended.then_some(Sql(end)))?
            .val(ended.then_some(duration))?;
        match transcript {
            Transcript::Json => c.json(&self.turns)?,
            Transcript::Legacy(text) => c.text(text)?,
            Transcript::Null => c.val(Null)?,
        };
        c.opt_text(recording)?
            .val(score)?
            .val(sentiment)?
            .val(outcome)?
            .val(counters[0])?
            .val(counters[1])?
            .val(counters[2])?
            .val((!legacy).then_some(escalated))?
            .val(escalation_reason)?
            .row()?;

        if ended {
            day.add(Some(duration), outcome, Some(escalated), score);
        }

        let slot = self.slot_after(end);
        let mut call = Call {
            id,
            start,
            service,
            outcome,
            escalation_reason,
            appointment: None,
            slot,
        };
        if let (Some("booked"), Some(customer)) = (outcome, customer) {
            call.appointment = Some(self.appointment(customer, end, slot, "ai", service)?);
        }
        let span = if ended {
            duration * SECOND
        } else {
            self.rng.random_range(5..=300) * SECOND
        };
        self.event_rows(&call, span)?;

        // Bookings made by staff or online, outside any call.
        if self.rng.random_bool(0.17) {
            let customer = self.rng.random_range(1..=self.customer_count);
            let by = if self.rng.random_bool(0.6) {
                "staff"
            } else {
                "online"
            };
            let slot = self.slot_after(start);
            let service = pick(&mut self.rng, &SERVICES);
            self.appointment(customer, start, slot, by, service)?;
        }
        Ok(())
    }

    /// Replaces `self.turns` with `n` lines spread evenly over `span` from `start`.
    fn fill_turns(&mut self, id: i64, start: i64, n: i64, span: i64) {
        let r = &mut self.rng;
        self.turns.clear();
        self.turns.extend((0..n).map(|j| {
            let (speaker, text) = match j {
                // Cycling the first line through the list puts every hard one in.
                0 => (
                    "customer",
                    CUSTOMER_LINES[id as usize % CUSTOMER_LINES.len()],
                ),
                _ if j % 2 == 0 => ("customer", pick(r, &CUSTOMER_LINES)),
                _ => ("assistant", pick(r, &ASSISTANT_LINES)),
            };
            let timestamp = Iso(start + j * (span / n));
            Turn {
                speaker,
                text,
                timestamp,
            }
        }));
    }
}
