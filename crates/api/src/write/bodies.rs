//! The write routes' bodies and their rules: each typed body is described by its
//! [`Field`]s (`crate::request`), whose rules — text limits read from the catalog column
//! the value is stored in — check the body before serde reads it and are what the
//! OpenAPI document publishes. Also what a body decides on its own: a call's outcome by
//! the functions it called.

use ava_catalog::{CALL_EVENTS, CALL_SESSIONS, CUSTOMERS};
use serde_json::Value as Json;

use crate::request::{blank, Body, Field, Rule};

/// `session_id` of the write routes' paths.
pub fn session_field() -> Field {
    Field::required(
        "session_id",
        Rule::filled(CALL_SESSIONS, "session_id"),
        "The voice service's id of the call (`call_sessions.session_id`).",
    )
}

/// A phone number: an optional `+`, then 7 to 15 digits with spaces, dashes and
/// parentheses between (blanks around it are trimmed).
pub const PHONE: &str = concat!(
    "^[",
    blank!(),
    r"]*\+?[ ()-]*(?:[0-9][ ()-]*){7,15}[",
    blank!(),
    "]*$"
);

/// An email address: one `@` between non-empty parts without blanks or NUL (blanks
/// around it are trimmed).
pub const EMAIL: &str = concat!(
    "^[",
    blank!(),
    r"]*[^@\u0000",
    blank!(),
    r"]+@[^@\u0000",
    blank!(),
    "]+[",
    blank!(),
    "]*$"
);

/// `POST /api/calls`: a call starting.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    pub session_id: String,
    #[serde(default)]
    pub phone_number: Option<String>,
}

impl Body for NewCall {
    fn fields() -> Vec<Field> {
        vec![
            Field {
                description: "The voice service's id of the call; unique.",
                ..session_field()
            },
            Field::optional(
                "phone_number",
                Rule::column(CALL_SESSIONS, "phone_number"),
                "The caller's number, as the telephony service gave it.",
            ),
        ]
    }
}

/// `POST /api/calls/{session_id}/events`: something that happened during a call.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    pub event_type: String,
    /// Any JSON; absent is stored as NULL, `null` as JSON `null` (as the app did).
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Json>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

impl Body for NewEvent {
    fn fields() -> Vec<Field> {
        vec![
            Field::required(
                "event_type",
                Rule::filled(CALL_EVENTS, "event_type"),
                "What happened, e.g. `function_call`.",
            ),
            Field::optional("data", Rule::Json, "Any JSON (no NUL in its strings)."),
        ]
    }
}

/// One function call made during a call (other keys are kept out of the record).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct FunctionCall {
    pub function: String,
}

/// `POST /api/calls/{session_id}/end`: how a call ended. Absent values take the
/// original's defaults (its fallback when the LLM gave no rating: neutral, 5.0).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEnd {
    pub transcript: Vec<Json>,
    pub function_calls: Vec<FunctionCall>,
    #[serde(default)]
    pub customer_phone: Option<String>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub satisfaction_score: Option<f64>,
    #[serde(default)]
    pub escalated: Option<bool>,
    #[serde(default)]
    pub escalation_reason: Option<String>,
}

impl Body for CallEnd {
    fn fields() -> Vec<Field> {
        vec![
            Field::required("transcript", Rule::List, "The turns of the conversation."),
            Field::required(
                "function_calls",
                Rule::FunctionCalls,
                "The function calls made, in order; `function` names each.",
            ),
            Field::optional(
                "customer_phone",
                Rule::column(CALL_SESSIONS, "phone_number"),
                "Links the call to the customer with this phone (default: the call's own).",
            ),
            Field::optional(
                "sentiment",
                Rule::column(CALL_SESSIONS, "sentiment"),
                "Default `neutral`.",
            )
            .or("neutral"),
            Field::optional(
                "satisfaction_score",
                Rule::Number {
                    min: 0.0,
                    max: 10.0,
                },
                "0 to 10; default 5.",
            ),
            Field::optional("escalated", Rule::Bool, "Default false."),
            Field::optional(
                "escalation_reason",
                Rule::column(CALL_SESSIONS, "escalation_reason"),
                "Why the call went to a person.",
            ),
        ]
    }
}

impl CallEnd {
    /// The `function` of each function call made, in order.
    pub fn functions(&self) -> Vec<&str> {
        self.function_calls
            .iter()
            .map(|c| c.function.as_str())
            .collect()
    }

    pub(super) fn sentiment(&self) -> &str {
        self.sentiment.as_deref().unwrap_or("neutral")
    }

    pub(super) fn satisfaction_score(&self) -> f64 {
        self.satisfaction_score.unwrap_or(5.0)
    }
}

/// A call's outcome by the functions it called: `booked` if it booked, else `browsing`
/// if it checked availability, else `info_only`.
pub fn outcome<S: AsRef<str>>(functions: &[S]) -> &'static str {
    let called = |name: &str| functions.iter().any(|f| f.as_ref() == name);
    if called("book_appointment") {
        "booked"
    } else if called("check_availability") {
        "browsing"
    } else {
        "info_only"
    }
}

/// `POST /api/customers`: a new customer, as sent (stored trimmed of blanks).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl Body for NewCustomer {
    fn fields() -> Vec<Field> {
        vec![
            Field::required(
                "name",
                Rule::filled(CUSTOMERS, "name"),
                "The customer's name.",
            ),
            Field::required(
                "phone",
                Rule::pattern(CUSTOMERS, "phone", PHONE),
                "An optional `+`, then 7 to 15 digits (spaces, dashes and parentheses \
                 allowed); unique.",
            ),
            Field::optional(
                "email",
                Rule::pattern(CUSTOMERS, "email", EMAIL),
                "An email address; unique.",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::trimmed;

    #[test]
    fn outcomes() {
        assert_eq!(
            outcome(&["check_availability", "book_appointment"]),
            "booked"
        );
        assert_eq!(outcome(&["check_availability"]), "browsing");
        assert_eq!(outcome::<&str>(&[]), "info_only");
        assert_eq!(outcome(&["get_business_info"]), "info_only");
    }

    #[test]
    fn the_patterns_compile_and_mean_what_they_say() {
        let phone = regex::Regex::new(PHONE).unwrap();
        for ok in [
            "+13105550101",
            " (310) 555-0101 ",
            "1234567",
            "+1 2 3 4 5 6 7\n",
        ] {
            assert!(phone.is_match(ok), "{ok:?}");
        }
        for bad in [
            "123456",
            "1234567890123456",
            "+1310555010x",
            "++1234567",
            "1234\t567",
        ] {
            assert!(!phone.is_match(bad), "{bad:?}");
        }
        let email = regex::Regex::new(EMAIL).unwrap();
        for ok in ["a@b", " a.b@c.d ", "é@ü"] {
            assert!(email.is_match(ok), "{ok:?}");
        }
        for bad in ["a@b@c", "nope", "@b", "a@", "a b@c", "a\u{0}@b"] {
            assert!(!email.is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_checked() {
        let start = NewCall::parse(br#"{"session_id": "s1", "phone_number": "+13105550101"}"#);
        assert_eq!(start.unwrap().phone_number.as_deref(), Some("+13105550101"));
        for (body, name) in [
            (&b"not json"[..], "body"),
            (b"[1]", "body"),
            (b"{}", "session_id"),
            (br#"{"session_id": 5}"#, "session_id"),
            (br#"{"session_id": " "}"#, "session_id"),
            (
                br#"{"session_id": "s", "phone_number": "123456789012345678901"}"#,
                "phone_number",
            ),
        ] {
            assert_eq!(NewCall::parse(body).unwrap_err().name, name, "{body:?}");
        }
        let end = CallEnd::parse(
            br#"{"transcript": [], "function_calls": [{"function": "x", "args": 1}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                end.functions(),
                end.sentiment(),
                end.satisfaction_score(),
                end.escalated
            ),
            (vec!["x"], "neutral", 5.0, None)
        );
        for (body, name) in [
            (&br#"{"function_calls": []}"#[..], "transcript"),
            (
                br#"{"transcript": [], "function_calls": [{"name": "x"}]}"#,
                "function_calls",
            ),
            (
                br#"{"transcript": [], "function_calls": [], "satisfaction_score": 11}"#,
                "satisfaction_score",
            ),
            (
                br#"{"transcript": [], "function_calls": [], "escalated": "yes"}"#,
                "escalated",
            ),
        ] {
            assert_eq!(CallEnd::parse(body).unwrap_err().name, name, "{body:?}");
        }
        assert_eq!(
            NewEvent::parse(br#"{"event_type": "t", "data": {"k": "a\u0000"}}"#)
                .unwrap_err()
                .name,
            "data"
        );
        let customer =
            NewCustomer::parse(br#"{"name": " Ana ", "phone": " +1 (310) 555-0101 "}"#).unwrap();
        assert_eq!(
            (trimmed(&customer.name), trimmed(&customer.phone)),
            ("Ana".to_string(), "+1 (310) 555-0101".to_string())
        );
        for (body, name) in [
            (&br#"{"name": "", "phone": "+13105550101"}"#[..], "name"),
            (br#"{"name": "A", "phone": "12345"}"#, "phone"),
            (br#"{"name": "A", "phone": "+1310555010x"}"#, "phone"),
            (
                br#"{"name": "A", "phone": "+1 310\u0000 5550101"}"#,
                "phone",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "age": 3}"#,
                "age",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "email": "a@b@c"}"#,
                "email",
            ),
            (
                br#"{"name": "A", "phone": "+13105550101", "email": "nope"}"#,
                "email",
            ),
        ] {
            assert_eq!(NewCustomer::parse(body).unwrap_err().name, name, "{body:?}");
        }
    }
}
