use super::*;
use proptest::prelude::*;

fn column(kind: Kind, nullable: bool) -> Column {
    Column {
        name: "c",
        kind,
        nullable,
        default: None,
    }
}

fn ok(kind: Kind, cell: Cell<'_>) -> Converted<'_> {
    convert(&column(kind, true), cell).unwrap()
}

fn err(kind: Kind, cell: Cell<'_>) -> CellError {
    convert(&column(kind, true), cell).unwrap_err()
}

fn micros(text: &str) -> i64 {
    match ok(Kind::Timestamp, Cell::Text(text.as_bytes())).value {
        Value::Timestamp(t) => t,
        v => panic!("{v:?}"),
    }
}

#[test]
fn sqlalchemy_datetime_is_utc_microseconds_and_not_counted() {
    let c = ok(Kind::Timestamp, Cell::Text(b"2025-08-25 11:49:59.721052"));
    assert_eq!(c.value, Value::Timestamp(1_756_122_599_721_052));
    assert!(!c.changed);
    assert_eq!(
        datetime::format_micros(1_756_122_599_721_052),
        "2025-08-25T11:49:59.721052Z"
    );
    assert_eq!(
        datetime::format_sqlalchemy(1_756_122_599_721_052),
        "2025-08-25 11:49:59.721052"
    );
}

#[test]
fn every_datetime_spelling_means_the_same_instant() {
    let base = micros("2025-08-25 11:49:59.000000");
    for spelling in [
        "2025-08-25T11:49:59",
        "2025-08-25 11:49:59",
        "2025-08-25T11:49:59Z",
        "2025-08-25T11:49:59.000Z",
        "2025-08-25T11:49:59.000000000z",
        "2025-08-25T13:49:59+02:00",
        "2025-08-25T13:49:59+0200",
        "2025-08-25T13:49:59+02",
        "2025-08-25T06:19:59-05:30",
    ] {
        let c = ok(Kind::Timestamp, Cell::Text(spelling.as_bytes()));
        assert_eq!(c.value, Value::Timestamp(base), "{spelling}");
        assert!(c.changed, "{spelling}");
    }
    assert_eq!(micros("2025-08-25"), micros("2025-08-25 00:00:00.000000"));
    assert_eq!(
        micros("2025-08-25 11:49"),
        micros("2025-08-25 11:49:00.000000")
    );
    assert_eq!(micros("2025-08-25T11:49:59.5"), base + 500_000);
    let epoch = ok(Kind::Timestamp, Cell::Integer(1_756_122_599));
    assert_eq!(epoch.value, Value::Timestamp(base));
    assert!(epoch.changed);
    let epoch = ok(Kind::Timestamp, Cell::Real(1_756_122_599.25));
    assert_eq!(epoch.value, Value::Timestamp(base + 250_000));
}

#[test]
fn bad_datetimes_are_errors_that_say_why() {
    for bad in [
        "n/a",
        "2025-13-01 00:00:00.000000",
        "2025-02-30",
        "2025-08-25 24:00:00",
        "2025-08-25 23:59:60",
        "2025-08-25 11:49:59.1234567",
        " 2025-08-25",
        "2025-08-25X11:49",
        "2025-08-25T11:49:59+2",
        "2025-08-25T11:49:59+99:00",
        "25-08-25",
        "2025-08-25T11:49:59+0é:00",
    ] {
        match err(Kind::Timestamp, Cell::Text(bad.as_bytes())) {
            CellError::Datetime { reason, excerpt } => {
                assert!(!reason.is_empty(), "{bad}");
                assert!(
                    excerpt.contains(bad.trim().get(..3).unwrap_or(bad)),
                    "{bad}: {excerpt}"
                );
            }
            e => panic!("{bad}: {e:?}"),
        }
    }
    assert!(matches!(
        err(Kind::Timestamp, Cell::Integer(i64::MAX)),
        CellError::Datetime { .. }
    ));
    assert!(matches!(
        err(Kind::Timestamp, Cell::Text(b"0000-01-01")),
        CellError::Datetime { .. }
    ));
}

#[test]
fn empty_string_in_non_text_column_becomes_null_only_when_nullable() {
    for kind in [
        Kind::Int,
        Kind::Float,
        Kind::Bool,
        Kind::Timestamp,
        Kind::Json,
    ] {
        let c = ok(kind, Cell::Text(b""));
        assert_eq!(c.value, Value::Null);
        assert!(c.changed);
        assert_eq!(
            convert(&column(kind, false), Cell::Text(b"")).unwrap_err(),
            CellError::EmptyInNotNull(expected_name(kind))
        );
    }
    let c = ok(Kind::Text, Cell::Text(b""));
    assert_eq!(c.value, Value::Text("".into()));
    assert!(!c.changed);
}

#[test]
fn nulls() {
    assert_eq!(ok(Kind::Int, Cell::Null).value, Value::Null);
    assert_eq!(
        convert(&column(Kind::Text, false), Cell::Null).unwrap_err(),
        CellError::NullInNotNull
    );
}

#[test]
fn numbers_and_booleans() {
    assert_eq!(ok(Kind::Int, Cell::Integer(-7)).value, Value::Int(-7));
    assert!(matches!(
        err(Kind::Int, Cell::Integer(1 << 40)),
        CellError::OutOfRange(..)
    ));
    assert_eq!(
        ok(Kind::Id, Cell::Integer(1 << 40)).value,
        Value::Int(1 << 40)
    );
    assert!(matches!(
        err(Kind::Int, Cell::Text(b"n/a")),
        CellError::WrongType { found: "TEXT", .. }
    ));
    assert!(matches!(
        err(Kind::Int, Cell::Real(2.5)),
        CellError::WrongType { found: "REAL", .. }
    ));
    let tenth = 0.1 + 0.2;
    assert_eq!(
        ok(Kind::Float, Cell::Real(tenth)).value,
        Value::Float(tenth)
    );
    assert_eq!(ok(Kind::Float, Cell::Integer(3)).value, Value::Float(3.0));
    assert!(matches!(
        err(Kind::Float, Cell::Integer(i64::MAX)),
        CellError::OutOfRange(..)
    ));
    assert!(matches!(
        err(Kind::Float, Cell::Real(f64::INFINITY)),
        CellError::NonFinite(_)
    ));
    assert_eq!(ok(Kind::Bool, Cell::Integer(1)).value, Value::Bool(true));
    assert_eq!(ok(Kind::Bool, Cell::Integer(0)).value, Value::Bool(false));
    assert!(matches!(
        err(Kind::Bool, Cell::Integer(2)),
        CellError::NotBoolean(_)
    ));
    assert!(matches!(
        err(Kind::Bool, Cell::Text(b"true")),
        CellError::NotBoolean(_)
    ));
    assert!(matches!(
        err(Kind::Int, Cell::Blob(b"x")),
        CellError::WrongType { found: "BLOB", .. }
    ));
}

#[test]
fn text_is_byte_exact_and_checked() {
    let s = "O'Brien \"JJ\" \\ tab\there\nnew line — 😊";
    assert_eq!(
        ok(Kind::Varchar(255), Cell::Text(s.as_bytes())).value,
        Value::Text(s.into())
    );
    // varchar(n) counts characters, not bytes.
    assert!(convert(
        &column(Kind::Varchar(3), true),
        Cell::Text("ééé".as_bytes())
    )
    .is_ok());
    assert!(matches!(
        err(Kind::Varchar(3), Cell::Text(b"abcd")),
        CellError::TooLong {
            chars: 4,
            max: 3,
            ..
        }
    ));
    assert!(matches!(
        err(Kind::Text, Cell::Text(b"a\0b")),
        CellError::Nul { at: 1, .. }
    ));
    assert!(matches!(
        err(Kind::Text, Cell::Text(b"ok\xff")),
        CellError::NotUtf8 { at: 2, .. }
    ));
    assert!(matches!(
        err(Kind::Text, Cell::Integer(5)),
        CellError::WrongType { .. }
    ));
}

#[test]
fn json_is_validated_and_json_null_is_not_sql_null() {
    let c = ok(Kind::Json, Cell::Text(b"null"));
    assert_eq!(c.value, Value::Json("null".into()));
    let c = ok(Kind::Json, Cell::Text(br#"{"a": "\ud83d\ude02"}"#));
    assert!(!c.changed);
    let c = ok(Kind::Json, Cell::Integer(5));
    assert_eq!(c.value, Value::Json("5".into()));
    assert!(c.changed);
    for bad in [
        &b"{bad"[..],
        br#"{"a": "\u0000"}"#,
        br#"{"\u0000": 1}"#,
        br#""\ud83d""#,
        b"1 2",
    ] {
        assert!(
            matches!(err(Kind::Json, Cell::Text(bad)), CellError::Json { .. }),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn canonical_json_equals_for_python_and_jsonb_spellings() {
    let python = r#"{"intent": "book_appointment", "confidence": 0.742, "n": 1e+16, "x": "caf\u00e9 \ud83d\ude02", "z": [1, 2.5, null], "big": 1e-05}"#;
    let jsonb = r#"{"n": 10000000000000000, "x": "café 😂", "z": [1, 2.5, null], "big": 0.00001, "intent": "book_appointment", "confidence": 0.742}"#;
    assert_eq!(
        json::canonical(python).unwrap(),
        json::canonical(jsonb).unwrap()
    );
    assert_ne!(
        json::canonical(r#"{"a": 1}"#).unwrap(),
        json::canonical(r#"{"a": "1"}"#).unwrap()
    );
    assert_eq!(
        json::canonical(r#"{"a": 1, "a": 2}"#).unwrap(),
        json::canonical(r#"{"a": 2}"#).unwrap()
    );
}

#[test]
fn canonical_encoding_separates_null_empty_and_types() {
    let enc = |v: Value| {
        let mut out = Vec::new();
        v.canonical(&mut out);
        out
    };
    let all = [
        enc(Value::Null),
        enc(Value::Text("".into())),
        enc(Value::Int(0)),
        enc(Value::Float(0.0)),
        enc(Value::Float(-0.0)),
        enc(Value::Bool(false)),
        enc(Value::Timestamp(0)),
        enc(Value::Json("null".into())),
        enc(Value::Text("null".into())),
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn excerpts_are_short_and_safe() {
    let long = "x".repeat(500);
    let e = excerpt(long.as_bytes());
    assert!(e.chars().count() < EXCERPT_CHARS + 5);
    assert!(e.ends_with("…\""));
    assert_eq!(excerpt(b"a\nb\0"), "\"a\\nb\\0\"");
}

fn any_cell() -> impl Strategy<Value = (Vec<u8>, u8, i64, f64)> {
    (
        proptest::collection::vec(any::<u8>(), 0..40),
        0u8..5,
        any::<i64>(),
        any::<f64>(),
    )
}

const KINDS: [Kind; 9] = [
    Kind::Id,
    Kind::Ref("t"),
    Kind::Int,
    Kind::Float,
    Kind::Bool,
    Kind::Timestamp,
    Kind::Varchar(5),
    Kind::Text,
    Kind::Json,
];

proptest! {
    /// The converter never panics, whatever the cell.
    #[test]
    fn convert_never_panics((bytes, class, i, f) in any_cell(), k in 0usize..9, nullable: bool) {
        let cell = match class {
            0 => Cell::Null,
            1 => Cell::Integer(i),
            2 => Cell::Real(f),
            3 => Cell::Text(&bytes),
            _ => Cell::Blob(&bytes),
        };
        let _ = convert(&column(KINDS[k], nullable), cell);
    }

    /// Datetime-shaped noise never panics either.
    #[test]
    fn datetime_parse_never_panics(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9:.]{0,18}([Zz]|[+-][0-9:é]{0,6})?)?") {
        let _ = datetime::parse(&s);
    }

    /// SQLAlchemy's spelling round-trips through microseconds exactly.
    #[test]
    fn sqlalchemy_spelling_round_trips(m in MIN_TS..MAX_TS) {
        let text = datetime::format_sqlalchemy(m);
        prop_assert_eq!(datetime::parse(&text), Ok((m, false)));
    }

    /// The verifier's one-pass canonical form of a source cell equals converting it and
    /// canonicalising the value, for every cell the converter accepts.
    #[test]
    fn canonical_cell_agrees_with_convert((bytes, class, i, f) in any_cell(), k in 0usize..9, text in json_value()) {
        let json_text = text.to_string();
        let cell = match class {
            0 => Cell::Null,
            1 => Cell::Integer(i),
            2 => Cell::Real(f),
            3 if k == 8 => Cell::Text(json_text.as_bytes()),
            3 => Cell::Text(&bytes),
            _ => Cell::Blob(&bytes),
        };
        let col = column(KINDS[k], true);
        let mut fast = Vec::new();
        canonical_cell(&col, cell, &mut fast);
        match convert(&col, cell) {
            Ok(c) => {
                let mut slow = Vec::new();
                c.value.canonical(&mut slow);
                prop_assert_eq!(fast, slow);
            }
            Err(_) => prop_assert_eq!(fast[0], 0xff),
        }
    }

    /// Canonical JSON is a fixed point.
    #[test]
    fn canonical_json_is_idempotent(v in json_value()) {
        let c = json::canonical(&v.to_string()).unwrap();
        prop_assert_eq!(json::canonical(&c).unwrap(), c);
    }
}

const MIN_TS: i64 = -62_135_596_800_000_000;
const MAX_TS: i64 = 253_402_300_799_999_999;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|i| serde_json::json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        "[^\u{0}]*".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("[^\u{0}]*", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn raw_hash_tells_storage_classes_and_cell_boundaries_apart() {
    let h = |cells: &[Cell<'_>]| raw_hash(cells, &mut Vec::new());
    let base = h(&[Cell::Integer(1), Cell::Text(b"ab"), Cell::Text(b"c")]);
    assert_eq!(
        base,
        h(&[Cell::Integer(1), Cell::Text(b"ab"), Cell::Text(b"c")])
    );
    // Same bytes, split differently.
    assert_ne!(
        base,
        h(&[Cell::Integer(1), Cell::Text(b"a"), Cell::Text(b"bc")])
    );
    // Same value, another storage class: SQLite holds something else.
    assert_ne!(
        h(&[Cell::Integer(1), Cell::Text(b"1")]),
        h(&[Cell::Integer(1), Cell::Integer(1)])
    );
    assert_ne!(h(&[Cell::Text(b"x")]), h(&[Cell::Blob(b"x")]));
    assert_ne!(h(&[Cell::Real(1.0)]), h(&[Cell::Integer(1)]));
    assert_ne!(h(&[Cell::Null]), h(&[Cell::Text(b"")]));
    assert_ne!(h(&[Cell::Real(0.0)]), h(&[Cell::Real(-0.0)]));
}
