//! JSON text exactly as Python's `json.dumps` writes it with its defaults, which is what
//! the app stored in `JSON` columns and in `call_sessions.transcript`.
//!
//! Public so that everything writing the app's formats (the seed, `ava export`, the
//! SQLite store of `ava serve`) shares one writer.

use serde::Serialize;
use serde_json::ser::Formatter;
use std::io::{self, Write};

/// serde_json's compact output with Python's `", "` / `": "` separators and
/// `ensure_ascii`: everything outside printable ASCII becomes `\uXXXX` (lowercase hex,
/// UTF-16 code units, so an emoji is a surrogate pair such as `\ud83d\ude0a`).
///
/// serde_json already escapes `"`, `\` and C0 controls the way Python does (`\n`, `\t`,
/// `\u001f`, …); what reaches [`Formatter::write_string_fragment`] is everything else.
/// Floats are written as Python's `repr` writes them: the shortest round-trip digits,
/// positional for 1e-4 ≤ |x| < 1e16 (with `.0` when integral), otherwise `d.ddde±XX`
/// with at least two exponent digits (`1e-05`, `1e+16`); see [`write_py_float`].
pub struct PyFormatter;

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

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        write_py_float(w, value)
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

/// Writes a finite `value` as Python's `repr(float)` does (what `json.dumps` writes for a
/// float). Rust's `{:e}` gives the same shortest round-trip digits; only the layout
/// differs: Python is positional when the decimal exponent is in -4..16.
pub fn write_py_float<W: ?Sized + Write>(w: &mut W, value: f64) -> io::Result<()> {
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    w.write_all(sign.as_bytes())?;
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            write!(w, "0.{}{digits}", "0".repeat((-point) as usize))
        } else if digits.len() <= point as usize {
            let zeros = "0".repeat(point as usize - digits.len());
            write!(w, "{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at(point as usize);
            write!(w, "{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let exp_sign = if exp < 0 { '-' } else { '+' };
        if rest.is_empty() {
            write!(w, "{first}e{exp_sign}{:02}", exp.unsigned_abs())
        } else {
            write!(w, "{first}.{rest}e{exp_sign}{:02}", exp.unsigned_abs())
        }
    }
}

/// Appends `value` as `json.dumps` would write it.
pub fn dump(out: &mut Vec<u8>, value: &impl Serialize) -> serde_json::Result<()> {
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

    /// The expected text is Python 3's `repr` (and `json.dumps`) of the same double.
    #[test]
    fn floats_match_python_repr_at_every_magnitude() {
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e-100, "1e-100"),
            (5e-324, "5e-324"),
            (123456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (9007199254740993.0, "9007199254740992.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e22, "1e+22"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            let mut out = Vec::new();
            write_py_float(&mut out, x).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{x:e}");
            assert_eq!(dumps(&x), want);
        }
    }
}
