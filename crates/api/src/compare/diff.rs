//! The JSON diff: every path where two answers differ, each with both values as compact
//! JSON cut to [`MAX_VALUE_CHARS`]; the first [`MAX_LISTED`] listed, all counted.

use serde_json::Value as Json;

use super::{Difference, MAX_LISTED, MAX_VALUE_CHARS};

/// Differences found so far: the first [`MAX_LISTED`], and how many in all.
#[derive(Default)]
pub(super) struct Differences {
    pub(super) listed: Vec<Difference>,
    pub(super) total: usize,
}

impl Differences {
    pub(super) fn push(&mut self, path: String, source: String, target: String) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Difference {
                path,
                source,
                target,
            });
        }
    }
}

/// A value as compact JSON, cut to [`MAX_VALUE_CHARS`] characters.
fn show(value: Option<&Json>) -> String {
    let Some(value) = value else {
        return "(absent)".into();
    };
    let text = value.to_string();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Every path under `path` where `a` and `b` differ: objects key by key, arrays index by
/// index (and their lengths), anything else as a whole.
pub(super) fn diff(path: &mut String, a: Option<&Json>, b: Option<&Json>, out: &mut Differences) {
    if a == b {
        return;
    }
    let len = path.len();
    match (a, b) {
        (Some(Json::Object(x)), Some(Json::Object(y))) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            for key in keys {
                path.push('.');
                path.push_str(key);
                diff(path, x.get(key), y.get(key), out);
                path.truncate(len);
            }
        }
        (Some(Json::Array(x)), Some(Json::Array(y))) => {
            if x.len() != y.len() {
                out.push(
                    format!("{path} (length)"),
                    x.len().to_string(),
                    y.len().to_string(),
                );
            }
            for i in 0..x.len().max(y.len()) {
                path.push_str(&format!("[{i}]"));
                diff(path, x.get(i), y.get(i), out);
                path.truncate(len);
            }
        }
        _ => out.push(path.clone(), show(a), show(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diffs(a: Json, b: Json) -> Differences {
        let mut out = Differences::default();
        diff(&mut "$".to_string(), Some(&a), Some(&b), &mut out);
        out
    }

    #[test]
    fn differences_are_named_by_path_with_both_values() {
        let a = json!({"calls": [{"id": 1, "outcome": "booked"}, {"id": 2}], "total": 2});
        let b = json!({"calls": [{"id": 1, "outcome": "info_only"}], "total": 2.0});
        let out = diffs(a, b);
        let got: Vec<(&str, &str, &str)> = out
            .listed
            .iter()
            .map(|d| (d.path.as_str(), d.source.as_str(), d.target.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("$.calls (length)", "2", "1"),
                ("$.calls[0].outcome", "\"booked\"", "\"info_only\""),
                ("$.calls[1]", "{\"id\":2}", "(absent)"),
                ("$.total", "2", "2.0"),
            ]
        );
        assert_eq!(
            diffs(
                json!({"a": [1, {"b": null}]}),
                json!({"a": [1, {"b": null}]})
            )
            .total,
            0
        );
    }

    #[test]
    fn long_values_are_cut_and_long_lists_counted() {
        let long = "é".repeat(500);
        let out = diffs(json!(long), json!("x"));
        assert_eq!(out.listed[0].source.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(out.listed[0].source.ends_with('…'));
        let out = diffs(json!((0..100).collect::<Vec<_>>()), json!([]));
        assert_eq!(out.total, 101);
        assert_eq!(out.listed.len(), MAX_LISTED);
    }
}
