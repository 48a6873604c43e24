//! What a value must be ([`Rule`]): checked here, published as JSON Schema by
//! `ava-serve`. A text rule's length limit is the `varchar(n)` of the catalog column the
//! value is stored in or compared with ([`Rule::column`], [`Rule::filled`],
//! [`Rule::pattern`]), never a number written by hand.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use ava_catalog::{Column, Kind, Table};
use chrono::{DateTime, NaiveTime};
use chrono_tz::Tz;
use serde_json::Value as Json;

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

/// The characters of [`BLANK`] as the body of a regex character class (for the
/// patterns built with `concat!`: a raw string, so the escapes reach the regex).
macro_rules! blank {
    () => {
        r" \t\n\r\u000B\u000C"
    };
}
pub(crate) use blank;

/// Text without NUL (which Postgres cannot store), as a regex: what [`Rule::Text`] with
/// `blank: true` publishes, and the strings of [`Rule::Json`].
pub const NO_NUL: &str = r"^[^\u0000]*$";

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
            Rule::Text { blank: true, .. } => Some(NO_NUL.into()),
            Rule::Text { blank: false, .. } => {
                Some(concat!(r"^[^\u0000]*[^\u0000", blank!(), r"][^\u0000]*$").into())
            }
            Rule::Pattern { pattern, .. } => Some((*pattern).into()),
            _ => None,
        }
    }

    /// Checks a text value (the whole of a query or path parameter).
    pub(super) fn text(&self, value: &str) -> Result<(), String> {
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
    pub(super) fn json(&self, value: &Json) -> Result<(), String> {
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
pub(super) fn integer(text: &str, bounds: Bounds) -> Result<i64, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("must be an integer (not {text:?})"))?;
    if n < bounds.min || n > bounds.max {
        return Err(format!("{} (not {n})", between(bounds.min, bounds.max)));
    }
    Ok(n)
}

/// An ISO 8601 date-time (`Z` or an offset allowed; none means UTC) or a date, as µs.
pub(super) fn instant(text: &str) -> Result<i64, String> {
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

/// Whether any string of `value` (keys too) holds NUL.
fn has_nul(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(has_nul),
        Json::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Json::Null | Json::Bool(_) | Json::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ava_catalog::CUSTOMERS;

    /// The regex class of `blank!` holds exactly the characters of [`BLANK`].
    #[test]
    fn the_blank_class_is_blank() {
        let class = regex::Regex::new(concat!("^[", blank!(), "]$")).unwrap();
        for c in BLANK {
            assert!(class.is_match(&c.to_string()), "{c:?}");
        }
        for c in ['a', '\u{a0}', '\u{85}', '\0', '\u{2028}', '\u{feff}'] {
            assert!(!class.is_match(&c.to_string()), "{c:?}");
        }
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
}
