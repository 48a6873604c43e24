//! JSON text exactly as Python's `json.dumps` writes it with its defaults, which is what
//! the app stored in `JSON` columns and in `call_sessions.transcript`.

use serde::Serialize;
use serde_json::ser::Formatter;
use std::io::{self, Write};

/// serde_json's compact output with Python's `", "` / `": "` separators and
/// `ensure_ascii`: everything outside printable ASCII becomes `\uXXXX` (lowercase hex,
/// UTF-16 code units, so an emoji is a surrogate pair such as `\ud83d\ude0a`).
///
/// serde_json already escapes `"`, `\` and C0 controls the way Python does (`\n`, `\t`,
/// `\u001f`, …); what reaches [`Formatter::write_string_fragment`] is everything else.
/// Floats keep serde_json's shortest round-trip digits, which match Python's `repr` for
/// the magnitudes the seed writes (1e-4 ≤ |x| < 1e16, where neither uses an exponent).
pub(crate) struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        if s.bytes().all(|b| matches!(b, b' '..=b'~')) {
            return w.write_all(s.as_bytes());
        }
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            if matches!(c, ' '..='~') {
                continue;
            }
            w.write_all(&s.as_bytes()[plain..i])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(w, "\\u{unit:04x}")?;
            }
            plain = i + c.len_utf8();
        }
        w.write_all(&s.as_bytes()[plain..])
    }
}

/// Appends `value` as `json.dumps` would write it.
pub(crate) fn dump(out: &mut Vec<u8>, value: &impl Serialize) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(
        out,
        PyFormatter,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(value: &impl Serialize) -> String {
        let mut out = Vec::new();
        dump(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[derive(Serialize)]
    struct Sample {
        text: &'static str,
        nested: (u8, f64, Option<u8>, &'static str, bool),
        floats: [f64; 6],
        rtl: &'static str,
    }

    /// The expected text is what Python 3 prints for `json.dumps` of the same value.
    #[test]
    fn matches_python_json_dumps() {
        let v = Sample {
            text: "2:30 works \u{2014} thanks!\tMy \"friend\"\\sister \u{1F60A}\n\u{7f}\u{1}",
            nested: (1, 2.5, None, "x\u{e9}", false),
            floats: [0.001, 0.1, 2.0, 0.941, 100.0 / 3.0, 20.0 / 3.0],
            rtl: "\u{645}\u{631}\u{62d}\u{628}\u{627}",
        };
        assert_eq!(
            dumps(&v),
            r#"{"text": "2:30 works \u2014 thanks!\tMy \"friend\"\\sister \ud83d\ude0a\n\u007f\u0001", "nested": [1, 2.5, null, "x\u00e9", false], "floats": [0.001, 0.1, 2.0, 0.941, 33.333333333333336, 6.666666666666667], "rtl": "\u0645\u0631\u062d\u0628\u0627"}"#
        );
        assert_eq!(dumps(&()), "null");
        assert_eq!(dumps(&Vec::<u8>::new()), "[]");
    }
}
