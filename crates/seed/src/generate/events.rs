//! The `call_events` rows: 1–12 per call at increasing times, their `data` free-form
//! JSON per event type as the app wrote it.

use rand::Rng;
use rusqlite::types::Null;
use serde::Serialize;

use super::{pick, weighted, Call, Gen};
use crate::stamp::{Date, Iso, Sql, DAY};
use crate::vocab::*;

#[derive(Serialize)]
struct Args {
    date: Date,
    service: &'static str,
}

/// `call_events.data`, free-form per event type as in the app.
#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Intent {
        intent: &'static str,
        confidence: f64,
    },
    Function {
        function: &'static str,
        args: Args,
    },
    Booked {
        appointment_id: Option<i64>,
        service: &'static str,
        datetime: Iso,
    },
    Escalation {
        reason: &'static str,
        transfer_to: &'static str,
    },
    Sentiment {
        from: &'static str,
        to: &'static str,
        note: &'static str,
    },
    Error {
        error: &'static str,
        retry: bool,
        attempts: &'static [u8],
    },
    Nested {
        nested: (u8, f64, Option<u8>, &'static str),
    },
    /// Python `None`, stored as the JSON text `null`.
    Null,
}

impl Gen<'_> {
    /// 1–12 events at increasing times within the call's `span`.
    pub(super) fn event_rows(&mut self, call: &Call, span: i64) -> rusqlite::Result<()> {
        let n = self.rng.random_range(1..=12);
        self.events.batch(n as usize)?;
        let step = span / (n + 1);
        for j in 0..n {
            let id = self.events.next_id();
            let at = call.start + step * j + self.rng.random_range(0..=step / 2);
            let kind = match call.outcome {
                _ if j == 0 => "intent_detected",
                Some("booked") if j == n - 1 => "appointment_booked",
                _ if j == n - 1 && call.escalation_reason.is_some() => "escalation_triggered",
                _ => weighted(&mut self.rng, &MIDDLE_EVENTS),
            };
            let data = match id % 40 {
                7 => None,
                27 => Some(Data::Null),
                _ if self.rng.random_bool(0.1) => Some(Data::Null),
                _ => Some(self.data(kind, call)),
            };
            let e = &mut self.events;
            e.val(id)?
                .val(call.id)?
                .val(kind)?
                .opt_text((id % 100 != 53).then_some(Sql(at)))?;
            match data {
                Some(data) => e.json(&data)?,
                None => e.val(Null)?,
            };
            e.row()?;
        }
        Ok(())
    }

    fn data(&mut self, kind: &str, call: &Call) -> Data {
        let r = &mut self.rng;
        match kind {
            "intent_detected" => Data::Intent {
                intent: pick(r, &INTENTS),
                confidence: f64::from(r.random_range(1..=999u16)) / 1000.0,
            },
            "function_called" => Data::Function {
                function: pick(r, &FUNCTIONS),
                args: Args {
                    date: Date(call.slot.div_euclid(DAY)),
                    service: call.service,
                },
            },
            "appointment_booked" => Data::Booked {
                appointment_id: call.appointment,
                service: call.service,
                datetime: Iso(call.slot),
            },
            "escalation_triggered" => Data::Escalation {
                reason: call.escalation_reason.unwrap_or_default(),
                transfer_to: "nurse",
            },
            "sentiment_change" => Data::Sentiment {
                from: weighted(r, &SENTIMENTS),
                to: weighted(r, &SENTIMENTS),
                note: pick(r, &SENTIMENT_NOTES),
            },
            // error_occurred: the app logged whatever the failing tool returned.
            _ if r.random_bool(0.3) => Data::Nested {
                nested: (1, 2.5, None, "x\u{e9}"),
            },
            _ => Data::Error {
                error: pick(r, &ERRORS),
                retry: r.random_bool(0.5),
                attempts: &[1, 2, 3],
            },
        }
    }
}
