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

use std::collections::BTreeMap;
use std::sync::LazyLock;

use ava_catalog::{Column, Kind, Table};
use chrono::{DateTime, NaiveTime};
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::Invalid;

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

/// An integer's default and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub default: i64,
    pub min: i64,
    pub max: i64,
}

impl Bounds {
    /// Any 64-bit integer (an id).
    pub const ANY: Bounds = Bounds {
        default: 0,
        min: i64::MIN,
        max: i64::MAX,
    };
}

/// The characters [`Rule::Text`] with `blank: false` needs one other than: ASCII
/// whitespace. Values are trimmed of exactly these (never Unicode's wider set, which
/// JSON Schema's regex dialects disagree on).
pub const BLANK: [char; 6] = [' ', '\t', '\n', '\r', '\u{b}', '\u{c}'];

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// A string without NUL (which Postgres cannot store), of at most `max` characters
    /// (Unicode scalar values, as JSON Schema's `maxLength` counts), at least one of
    /// them not [`BLANK`] unless `blank`.
    Text {
        max: Option<usize>,
        blank: bool,
    },
    /// A string matching `pattern` (one regex: checked here, published in the schema),
    /// at most `max` characters. The patterns use only what Rust's `regex`, ECMA-262
    /// and Python's `re` read alike.
    Pattern {
        max: Option<usize>,
        pattern: &'static str,
    },
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An integer within bounds.
    Int(Bounds),
    /// A number within `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    Bool,
    /// An ISO 8601 date-time (`Z` or an offset; none means UTC) or a date (its midnight).
    DateTime,
    /// An IANA time zone name (`America/Los_Angeles`), one of [`time_zones`].
    TimeZone,
    /// Any JSON without NUL in any string or key (`jsonb` refuses it).
    Json,
    /// A list of anything.
    List,
    /// A list of objects, each with a string `function` (a function call made).
    FunctionCalls,
}

/// A text column's `varchar(n)` limit.
fn max_length(column: &Column) -> Option<usize> {
    match column.kind {
        Kind::Varchar(n) => Some(n as usize),
        _ => None,
    }
}

/// `table.column` of the catalog (a name written here is checked by the tests).
pub fn catalog_column(table: &'static Table, column: &str) -> &'static Column {
    table
        .columns
        .iter()
        .find(|c| c.name == column)
        .unwrap_or_else(|| panic!("no column {}.{column} in the catalog", table.name))
}

impl Rule {
    /// Text stored in (or compared with) `table.column`: its length limit.
    pub fn column(table: &'static Table, column: &str) -> Rule {
        Rule::Text {
            max: max_length(catalog_column(table, column)),
            blank: true,
        }
    }

    /// Like [`Rule::column`], and not blank.
    pub fn filled(table: &'static Table, column: &str) -> Rule {
        Rule::Text {
            max: max_length(catalog_column(table, column)),
            blank: false,
        }
    }

    /// `pattern`, within `table.column`'s length.
    pub fn pattern(table: &'static Table, column: &str, pattern: &'static str) -> Rule {
        Rule::Pattern {
            max: max_length(catalog_column(table, column)),
            pattern,
        }
    }

    /// The regex a text value must match, as published (`None`: not a text rule).
    pub fn regex(&self) -> Option<String> {
        match self {
            // No NUL anywhere; with `blank: false` one character neither NUL nor blank.
            Rule::Text { blank: true, .. } => Some(r"^[^\u0000]*$".into()),
            Rule::Text { blank: false, .. } => {
                Some(r"^[^\u0000]*[^\u0000 \t\n\r\u000B\u000C][^\u0000]*$".into())
            }
            Rule::Pattern { pattern, .. } => Some((*pattern).into()),
            _ => None,
        }
    }

    /// Checks a text value (the whole of a query or path parameter).
    fn text(&self, value: &str) -> Result<(), String> {
        if let Rule::Text { max, .. } | Rule::Pattern { max, .. } = self {
            if let Some(max) = max {
                if value.chars().count() > *max {
                    return Err(format!("must be at most {max} characters"));
                }
            }
        }
        match self {
            Rule::Text { blank, .. } => {
                if value.contains('\0') {
                    Err("must not contain NUL characters".into())
                } else if !blank && value.chars().all(|c| BLANK.contains(&c)) {
                    Err("must not be empty".into())
                } else {
                    Ok(())
                }
            }
            Rule::Pattern { pattern, .. } => {
                if compiled(pattern).is_match(value) {
                    Ok(())
                } else {
                    Err(format!("must match {pattern}"))
                }
            }
            Rule::OneOf(choices) => {
                if choices.contains(&value) {
                    Ok(())
                } else {
                    Err(format!(
                        "must be one of {} (not {value:?})",
                        choices.join(", ")
                    ))
                }
            }
            Rule::Int(bounds) => integer(value, *bounds).map(drop),
            Rule::DateTime => instant(value).map(drop),
            Rule::TimeZone => time_zone(value).map(drop),
            // Not in a query or path.
            Rule::Number { .. } | Rule::Bool | Rule::Json | Rule::List | Rule::FunctionCalls => {
                Err("must be in the body".into())
            }
        }
    }

    /// Checks a JSON value (a body field; never `null`, which the caller handles).
    fn json(&self, value: &Json) -> Result<(), String> {
        match (self, value) {
            (Rule::Text { .. } | Rule::Pattern { .. } | Rule::OneOf(_), Json::String(s)) => {
                self.text(s)
            }
            (Rule::Text { .. } | Rule::Pattern { .. } | Rule::OneOf(_), _) => {
                Err("must be a string".into())
            }
            (Rule::Int(bounds), Json::Number(n)) => match n.as_i64() {
                Some(i) if (bounds.min..=bounds.max).contains(&i) => Ok(()),
                _ => Err(between(bounds.min, bounds.max)),
            },
            (Rule::Int(_), _) => Err("must be an integer".into()),
            (Rule::Number { min, max }, Json::Number(n)) => match n.as_f64() {
                Some(x) if (*min..=*max).contains(&x) => Ok(()),
                _ => Err(format!("must be between {min} and {max}")),
            },
            (Rule::Number { .. }, _) => Err("must be a number".into()),
            (Rule::Bool, Json::Bool(_)) => Ok(()),
            (Rule::Bool, _) => Err("must be true or false".into()),
            (Rule::DateTime, Json::String(s)) => instant(s).map(drop),
            (Rule::DateTime, _) => Err("must be a string".into()),
            (Rule::TimeZone, Json::String(s)) => time_zone(s).map(drop),
            (Rule::TimeZone, _) => Err("must be a string".into()),
            (Rule::Json, v) => {
                if has_nul(v) {
                    Err("must not contain NUL characters".into())
                } else {
                    Ok(())
                }
            }
            (Rule::List, Json::Array(_)) => Ok(()),
            (Rule::List, _) => Err("must be a list".into()),
            (Rule::FunctionCalls, Json::Array(items)) => {
                match items
                    .iter()
                    .position(|item| !matches!(item.get("function"), Some(Json::String(_))))
                {
                    Some(i) => Err(format!(
                        "item {i} must be an object with a string \"function\""
                    )),
                    None => Ok(()),
                }
            }
            (Rule::FunctionCalls, _) => Err("must be a list".into()),
        }
    }
}

/// The patterns, compiled once each.
fn compiled(pattern: &'static str) -> &'static regex::Regex {
    static COMPILED: LazyLock<std::sync::Mutex<BTreeMap<&'static str, &'static regex::Regex>>> =
        LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
    compiled.entry(pattern).or_insert_with(|| {
        // The patterns are constants of this crate, compiled by its tests.
        Box::leak(Box::new(
            regex::Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}")),
        ))
    })
}

fn between(min: i64, max: i64) -> String {
    match (min, max) {
        (i64::MIN, i64::MAX) => "must be a 64-bit integer".into(),
        (min, i64::MAX) => format!("must be at least {min}"),
        (min, max) => format!("must be between {min} and {max}"),
    }
}

/// An integer parameter within `bounds`.
fn integer(text: &str, bounds: Bounds) -> Result<i64, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("must be an integer (not {text:?})"))?;
    if n < bounds.min || n > bounds.max {
        return Err(format!("{} (not {n})", between(bounds.min, bounds.max)));
    }
    Ok(n)
}

/// An ISO 8601 date-time (`Z` or an offset allowed; none means UTC) or a date, as µs.
fn instant(text: &str) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_micros());
    }
    Err(format!(
        "must be an ISO 8601 date-time such as 2025-08-25T09:00:00Z (not {text:?})"
    ))
}

/// Whether any string of `value` (keys too) holds NUL.
/// The time zone named `name` in the IANA database chrono-tz carries.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("must be an IANA time zone name such as America/Los_Angeles (not {name:?})")
    })
}

/// Every name [`Rule::TimeZone`] takes, sorted: the published choices.
pub fn time_zones() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

fn has_nul(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(has_nul),
        Json::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Json::Null | Json::Bool(_) | Json::Number(_) => false,
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

    fn invalid(&self, location: Location, message: String) -> Invalid {
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

/// A query string's values, checked against a route's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    values: BTreeMap<&'static str, String>,
}

impl Query {
    /// Decodes `raw` (the part after `?`) for `fields`: the last value of a repeated
    /// name wins; an unknown name, a value that is not UTF-8 or that breaks its rule is
    /// refused. An empty value counts as absent for an optional text parameter (the
    /// dashboard sends `search=`).
    pub fn parse(fields: &[Field], raw: Option<&str>) -> Result<Query, Invalid> {
        let mut values = BTreeMap::new();
        for (name, value) in pairs(raw.unwrap_or_default())? {
            let field = fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| Invalid::extra(Location::Query, &name))?;
            values.insert(field.name, value);
        }
        for field in fields {
            match values.get(field.name) {
                Some(v) if v.is_empty() && matches!(field.rule, Rule::Text { .. }) => {
                    values.remove(field.name);
                }
                Some(v) => field
                    .rule
                    .text(v)
                    .map_err(|m| field.invalid(Location::Query, m))?,
                None if field.required => {
                    return Err(Invalid::missing(Location::Query, field.name))
                }
                None => {}
            }
        }
        Ok(Query { values })
    }

    /// The query's normalised form: the values given, by name (what an answer depends
    /// on, and nothing else).
    pub fn key(&self) -> String {
        let mut key = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.values {
            key.append_pair(name, value);
        }
        key.finish()
    }

    /// A text value (checked), or the field's default.
    pub fn text(&self, field: &Field) -> Option<&str> {
        self.values
            .get(field.name)
            .map(String::as_str)
            .or(field.default)
    }

    /// An integer value (checked), or the field's default.
    pub fn int(&self, field: &Field) -> i64 {
        match (field.rule, self.values.get(field.name)) {
            (Rule::Int(bounds), Some(v)) => integer(v, bounds).unwrap_or(bounds.default),
            (Rule::Int(bounds), None) => bounds.default,
            _ => 0,
        }
    }

    /// A date-time value (checked), as µs.
    pub fn instant(&self, field: &Field) -> Option<i64> {
        self.values.get(field.name).and_then(|v| instant(v).ok())
    }

    /// A time zone value (checked), if given.
    pub fn time_zone(&self, field: &Field) -> Option<Tz> {
        self.values.get(field.name).and_then(|v| time_zone(v).ok())
    }
}

/// The decoded pairs of a query string. Not `form_urlencoded::parse`: it replaces bytes
/// that are not UTF-8, which would make two different requests one.
fn pairs(raw: &str) -> Result<Vec<(String, String)>, Invalid> {
    let decode = |part: &str| -> Result<String, Invalid> {
        let bytes: Vec<u8> = percent_encoding::percent_decode(part.replace('+', " ").as_bytes())
            .collect::<Vec<u8>>();
        String::from_utf8(bytes).map_err(|_| {
            Invalid::at(
                Location::Query,
                "query",
                format!("{part:?} is not UTF-8 once decoded"),
            )
        })
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
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

    #[test]
    fn a_query_takes_the_last_value_and_refuses_strangers() {
        let fields = [
            Field::optional(
                "page",
                Rule::Int(Bounds {
                    default: 1,
                    min: 1,
                    max: 9,
                }),
                "",
            ),
            Field::optional("search", Rule::column(CUSTOMERS, "name"), ""),
        ];
        let q = Query::parse(&fields, Some("page=1&page=2&search=a%20b")).unwrap();
        assert_eq!(q.int(&fields[0]), 2);
        assert_eq!(q.text(&fields[1]), Some("a b"));
        assert_eq!(q.key(), "page=2&search=a+b");
        // The same question spelled differently is one key.
        let again = Query::parse(&fields, Some("search=a+b&page=1&page=2")).unwrap();
        assert_eq!(again.key(), q.key());
        let bust = Query::parse(&fields, Some("page=1&bust=7")).unwrap_err();
        assert_eq!((bust.location, bust.name.as_str()), ("query", "bust"));
        assert_eq!(
            Query::parse(&fields, Some("search=%00")).unwrap_err().name,
            "search"
        );
        assert_eq!(
            Query::parse(&fields, Some("search=%ff")).unwrap_err().name,
            "query"
        );
        assert_eq!(
            Query::parse(&fields, Some("page=10")).unwrap_err().message,
            "must be between 1 and 9 (not 10)"
        );
        assert_eq!(
            Query::parse(&fields, Some("page=99999999999999999999"))
                .unwrap_err()
                .name,
            "page"
        );
        // An empty search is no search.
        assert_eq!(Query::parse(&fields, Some("search=")).unwrap().key(), "");
    }

    #[test]
    fn text_rules_agree_with_their_published_regex() {
        let samples = [
            "", " ", "a", " a ", "\t\n", "\u{a0}", "a\0", "\0", "\u{feff}", "é", "a\n",
        ];
        for rule in [
            Rule::column(CUSTOMERS, "name"),
            Rule::filled(CUSTOMERS, "name"),
        ] {
            let regex = regex::Regex::new(&rule.regex().unwrap()).unwrap();
            for s in samples {
                let by_rule = rule.text(s).is_ok();
                assert_eq!(by_rule, regex.is_match(s), "{rule:?} on {s:?}");
            }
        }
    }

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
