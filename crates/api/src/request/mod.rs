//! What a request may carry, said once: each parameter and body field is a [`Field`]
//! whose [`Rule`] both checks what arrives (here) and is published in the OpenAPI
//! document (`ava-serve` renders the same `Field`s as JSON Schema), so the two cannot
//! disagree. Text limits come from the catalog column a value is stored in or compared
//! with ([`Rule::column`]).
//!
//! - Query strings ([`Query`]): every pair decoded, a repeated name takes its last value
//!   (as FastAPI does), a name the route does not know is refused (FastAPI's
//!   `extra="forbid"`), each value checked by its rule. [`Query::key`] is the normalised
//!   form the answer cache keys on.
//! - Bodies ([`Body`]): JSON checked field by field against the rules (a field not
//!   described is refused), then deserialised by serde into the typed struct (with
//!   `deny_unknown_fields`, and the field's path in any error).
//!
//! Every refusal is an [`Invalid`] naming where and what (HTTP 422).
//!
//! - `rule`: what a value must be ([`Rule`]), text limits read from the catalog;
//! - `query`: query strings read and checked ([`Query`]);
//! - here: fields, path parameters, and the [`Params`] and [`Body`] traits.

mod query;
mod rule;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

pub use query::Query;
pub(crate) use rule::blank;
pub use rule::{catalog_column, time_zone, time_zones, Bounds, Rule, BLANK, NO_NUL};

use crate::Invalid;
use rule::integer;

/// Where a value arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Query,
    Path,
    Body,
}

impl Location {
    pub fn name(self) -> &'static str {
        match self {
            Location::Query => "query",
            Location::Path => "path",
            Location::Body => "body",
        }
    }
}

/// One parameter or body field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub rule: Rule,
    /// Must be present (and, in a body, not `null`).
    pub required: bool,
    /// What a query parameter is when absent (published as the schema's `default`).
    pub default: Option<&'static str>,
    pub description: &'static str,
}

impl Field {
    /// An optional field.
    pub const fn optional(name: &'static str, rule: Rule, description: &'static str) -> Field {
        Field {
            name,
            rule,
            required: false,
            default: None,
            description,
        }
    }

    /// A required field.
    pub const fn required(name: &'static str, rule: Rule, description: &'static str) -> Field {
        Field {
            required: true,
            ..Field::optional(name, rule, description)
        }
    }

    /// With a default.
    pub const fn or(self, default: &'static str) -> Field {
        Field {
            default: Some(default),
            ..self
        }
    }

    pub(crate) fn invalid(&self, location: Location, message: String) -> Invalid {
        Invalid::at(location, self.name, message)
    }
}

/// A path parameter, checked by its field.
pub fn path_param<'a>(field: &Field, text: &'a str) -> Result<&'a str, Invalid> {
    field
        .rule
        .text(text)
        .map_err(|m| field.invalid(Location::Path, m))?;
    Ok(text)
}

/// An integer path parameter (an id).
pub fn path_id(field: &Field, text: &str) -> Result<i64, Invalid> {
    let bounds = match field.rule {
        Rule::Int(bounds) => bounds,
        _ => Bounds::ANY,
    };
    integer(text, bounds).map_err(|m| field.invalid(Location::Path, m))
}

/// A route's query parameters, described by their fields and read into `Self`.
pub trait Params: Sized {
    /// The parameters, in the order the schema lists them.
    fn fields() -> Vec<Field>;

    /// `Self` from a checked query.
    fn from_query(query: &Query) -> Self;

    /// Checks `raw` against [`Params::fields`], then reads it.
    fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        Query::parse(&Self::fields(), raw).map(|q| Self::from_query(&q))
    }
}

/// The query of a route that takes no parameters: any is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoParams;

impl Params for NoParams {
    fn fields() -> Vec<Field> {
        Vec::new()
    }

    fn from_query(_: &Query) -> NoParams {
        NoParams
    }
}

/// A JSON body, described by its fields and deserialised into `Self`.
pub trait Body: DeserializeOwned {
    /// The fields, in the order the schema lists them.
    fn fields() -> Vec<Field>;

    /// Checks `body` against [`Body::fields`], then deserialises it.
    fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let fields = Self::fields();
        let object = match serde_json::from_slice::<Json>(body) {
            Ok(Json::Object(object)) => object,
            Ok(_) => return Err(Invalid::at(Location::Body, "body", "must be a JSON object")),
            Err(e) => {
                return Err(Invalid::at(
                    Location::Body,
                    "body",
                    format!("is not valid JSON: {e}"),
                ))
            }
        };
        if let Some(unknown) = object.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
            return Err(Invalid::extra(Location::Body, unknown));
        }
        for field in &fields {
            match object.get(field.name) {
                None | Some(Json::Null) if field.required => {
                    return Err(Invalid::missing(Location::Body, field.name))
                }
                None | Some(Json::Null) => {}
                Some(value) => field
                    .rule
                    .json(value)
                    .map_err(|m| field.invalid(Location::Body, m))?,
            }
        }
        serde_path_to_error::deserialize(Json::Object(object)).map_err(|e| {
            let path = e.path().to_string();
            Invalid::at(Location::Body, &path, e.into_inner().to_string())
        })
    }
}

/// `value` without leading and trailing [`BLANK`]s.
pub fn trimmed(value: &str) -> String {
    value.trim_matches(BLANK).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ava_catalog::CUSTOMERS;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        #[serde(default)]
        score: Option<f64>,
    }

    impl Body for Sample {
        fn fields() -> Vec<Field> {
            vec![
                Field::required("name", Rule::filled(CUSTOMERS, "name"), ""),
                Field::optional(
                    "score",
                    Rule::Number {
                        min: 0.0,
                        max: 10.0,
                    },
                    "",
                ),
            ]
        }
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = Sample::parse(br#"{"name": "Ana", "score": null}"#).unwrap();
        assert_eq!((ok.name.as_str(), ok.score), ("Ana", None));
        for (body, name, message) in [
            (&b"[]"[..], "body", "must be a JSON object"),
            (
                br#"{"name": "A", "x": 1}"#,
                "x",
                "extra fields not permitted",
            ),
            (br#"{"score": 1}"#, "name", "field required"),
            (br#"{"name": " "}"#, "name", "must not be empty"),
            (br#"{"name": 5}"#, "name", "must be a string"),
            (
                br#"{"name": "A", "score": 11}"#,
                "score",
                "must be between 0 and 10",
            ),
        ] {
            let e = Sample::parse(body).unwrap_err();
            assert_eq!(
                (e.name.as_str(), e.message.as_str()),
                (name, message),
                "{body:?}"
            );
        }
    }
}
