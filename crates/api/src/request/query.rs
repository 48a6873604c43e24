//! Query strings: every pair decoded, a repeated name takes its last value (as FastAPI
//! does), a name the route does not know is refused, each value checked by its field's
//! rule; [`Query::key`] is the normalised form the answer cache keys on.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::rule::{instant, integer, time_zone};
use super::{Field, Location, Rule};
use crate::Invalid;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Bounds;
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
}
