//! seed → db push → migrate → verify, then every value read back from Postgres with
//! tokio-postgres and compared with what rusqlite reads from the file (not with ava's
//! own verifier): text byte for byte, NULL vs '', JSON null, floats by their bits,
//! timestamps to the microsecond in every spelling.

use rusqlite::params;
use rusqlite::types::Value as Lite;

use crate::support::*;

#[test]
fn seeded_file_roundtrips_cell_for_cell() {
    let case = Case::pushed(300, 1);
    let source_counts = sqlite::counts(&case.sqlite);
    let total: i64 = source_counts.iter().sum();

    let out = case
        .migrate(&[])
        .ok()
        .stdout_has(&["migrated:", "customers", "daily_metrics"]);
    for (table, n) in TABLE_NAMES.iter().zip(&source_counts) {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no report line for {table}\n{out}"));
        let numbers: Vec<&str> = line.split_whitespace().skip(1).take(2).collect();
        assert_eq!(numbers, [n.to_string(), n.to_string()], "{line}");
    }
    assert_eq!(case.pg.counts(), source_counts);

    // The seed holds the hard cases; make sure this test sees them.
    let lite = |sql: &str| sqlite::one::<i64>(&case.sqlite, sql);
    for (what, sql) in [
        (
            "'' notes",
            "select count(*) from customers where notes = ''",
        ),
        (
            "NULL notes",
            "select count(*) from customers where notes is null",
        ),
        (
            "tabs",
            "select count(*) from customers where instr(notes, char(9)) > 0",
        ),
        (
            "backslashes",
            "select count(*) from customers where instr(notes, '\\') > 0",
        ),
        (
            "quotes",
            "select count(*) from customers where instr(name, '''') > 0",
        ),
        (
            "JSON null",
            "select count(*) from call_events where data = 'null'",
        ),
        (
            "SQL NULL data",
            "select count(*) from call_events where data is null",
        ),
        (
            "legacy transcripts",
            "select count(*) from call_sessions where transcript not like '[%'",
        ),
        (
            "NULL scores",
            "select count(*) from call_sessions where satisfaction_score is null",
        ),
    ] {
        assert!(lite(sql) > 0, "the seeded file has no {what}");
    }

    assert_same_contents(&case.sqlite, &case.pg);

    // The same facts spelled as plain queries on each side.
    for (sqlite_sql, pg_sql) in [
        (
            "select count(*) from customers where notes = ''",
            "select count(*) from customers where notes = ''",
        ),
        (
            "select count(*) from customers where notes is null",
            "select count(*) from customers where notes is null",
        ),
        (
            "select count(*) from call_events where data = 'null'",
            "select count(*) from call_events where data = 'null'::jsonb",
        ),
        (
            "select count(*) from call_events where data is null",
            "select count(*) from call_events where data is null",
        ),
        (
            "select count(*) from call_sessions where transcript not like '[%'",
            "select count(*) from call_sessions where transcript not like '[%'",
        ),
    ] {
        assert_eq!(lite(sqlite_sql), case.pg.one::<i64>(pg_sql), "{pg_sql}");
    }
    let customers = case.pg.rows(
        "select id, name, notes, email from customers order by id",
        &[],
    );
    let conn = case.lite_conn();
    let mut stmt = conn
        .prepare("select id, name, notes, email from customers order by id")
        .unwrap();
    let source: Vec<(i64, String, Option<String>, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let target: Vec<(i64, String, Option<String>, Option<String>)> = customers
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(source, target);

    case.verify(&[]).ok().stdout_has(&["verified"]);
    assert_eq!(
        case.pg.runs(),
        [("done".to_string(), "copy".to_string(), total, None)]
    );
}

#[test]
fn text_is_byte_exact_and_empty_is_not_null() {
    let case = Case::pushed(CALLS, 2);
    let texts: Vec<(i64, String, Option<String>, Option<String>)> =
        vec![
        (
            1,
            "Zoë 👩🏽‍⚕️ O'Brien \"JJ\" \\ Ünïcødé".into(),
            Some(
                "line1\nline2\r\nline3\rtab\there \\ one \\\\ two 'single' \"double\" `tick` — \
                 עברית العربية e\u{301} zwj\u{200d}x 𝄞 \u{7f} \u{1b}[0m"
                    .into(),
            ),
            Some("ünï+tag@exämple.com".into()),
        ),
        (2, "Empty Notes".into(), Some(String::new()), None),
        (3, "Null Notes".into(), None, Some(String::new())),
        // varchar(255) counts characters: 255 two-byte and 255 four-byte characters fit.
        (4, "é".repeat(255), Some("  \t\n ".into()), None),
        (5, "😀".repeat(255), Some("NULL".into()), None),
        (6, "Backslash N".into(), Some("\\N".into()), None),
        (7, "Long".into(), Some(format!("{}€", "x".repeat(100_000))), None),
    ];
    {
        let conn = case.lite_conn();
        for (id, name, notes, email) in &texts {
            conn.execute(
                "update customers set name = ?2, notes = ?3, email = ?4 where id = ?1",
                params![id, name, notes, email],
            )
            .unwrap();
        }
    }
    let out = case.migrate(&[]).ok();
    assert!(
        !out.stdout.contains("converted: customers."),
        "text cells are never converted\n{out}"
    );
    case.verify(&[]).ok();

    let rows = case.pg.rows(
        "select id, name, notes, email, octet_length(name) from customers where id <= 7 order by id",
        &[],
    );
    let got: Vec<(i64, String, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(got, texts);
    assert_eq!(rows[3].get::<_, i32>(4), 510);
    assert_eq!(rows[4].get::<_, i32>(4), 1020);
    assert_eq!(
        case.pg
            .one::<i64>("select count(*) from customers where id in (2, 3) and notes is null"),
        1,
        "'' and NULL must stay apart"
    );
}

#[test]
fn json_null_stays_json_null_and_sql_null_stays_null() {
    let case = Case::pushed(CALLS, 3);
    case.lite(
        "update call_events set data = 'null' where id = 1;
         update call_events set data = NULL where id = 2;
         update call_events set data = '{\"b\": 1, \"a\": \"\\u00e9\\ud83d\\ude00\", \"nested\": {\"k\": [1, 2.5, null, true]}}' where id = 3;
         update call_events set data = 5 where id = 4;
         update call_events set data = '\"just a string\"' where id = 5;
         update call_events set data = '' where id = 6;
         update call_events set data = '[]' where id = 7;
         update call_events set data = '0.1' where id = 8;",
    );
    assert_eq!(
        sqlite::one::<String>(
            &case.sqlite,
            "select typeof(data) from call_events where id = 4"
        ),
        "integer"
    );
    // The integer 5, the number SQLite made of '0.1' and '' → NULL are converted cells.
    case.migrate(&[])
        .ok()
        .stdout_has(&["converted: call_events.data: 3 cell(s)"]);
    case.verify(&[]).ok();

    let rows = case.pg.rows(
        "select id, data is null, jsonb_typeof(data), data::text from call_events where id <= 8 order by id",
        &[],
    );
    let got: Vec<(i64, bool, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        got,
        [
            (1, false, s("null"), s("null")),
            (2, true, None, None),
            (
                3,
                false,
                s("object"),
                s(r#"{"a": "é😀", "b": 1, "nested": {"k": [1, 2.5, null, true]}}"#)
            ),
            (4, false, s("number"), s("5")),
            (5, false, s("string"), s("\"just a string\"")),
            (6, true, None, None),
            (7, false, s("array"), s("[]")),
            (8, false, s("number"), s("0.1")),
        ]
    );
    assert!(case
        .pg
        .one::<bool>("select data = 'null'::jsonb from call_events where id = 1"));
}

#[test]
fn legacy_plain_text_transcripts_stay_text() {
    let case = Case::pushed(CALLS, 4);
    let transcripts: Vec<(i64, Option<&str>)> = vec![
        (1, Some("Customer asked about Botox pricing.")),
        (2, Some("[not json")),
        (3, Some("{\"looks\":   \"like json\" ,\"b\":1}")),
        (4, Some("")),
        (5, None),
        (
            6,
            Some("Voicemail: call back re \"filler\".\r\nPrefers texts.\t😊"),
        ),
    ];
    {
        let conn = case.lite_conn();
        for (id, t) in &transcripts {
            conn.execute(
                "update call_sessions set transcript = ?2 where id = ?1",
                params![id, t],
            )
            .unwrap();
        }
    }
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    let got: Vec<(i64, Option<String>)> = case
        .pg
        .rows(
            "select id, transcript from call_sessions where id <= 6 order by id",
            &[],
        )
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want: Vec<(i64, Option<String>)> = transcripts
        .iter()
        .map(|(id, t)| (*id, t.map(str::to_string)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn floats_are_bit_exact() {
    let case = Case::pushed(CALLS, 5);
    let values: Vec<f64> = vec![
        0.1 + 0.2,
        1.0 / 3.0,
        5.72666666666667e-5,
        1e300,
        -0.0,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        -2.5e-310,
        0.1,
        123456789.12345679,
        7.0,
    ];
    {
        let conn = case.lite_conn();
        for (i, v) in values.iter().enumerate() {
            conn.execute(
                "update call_sessions set satisfaction_score = ?2 where id = ?1",
                params![i as i64 + 1, v],
            )
            .unwrap();
        }
    }
    let conn = case.lite_conn();
    let stored: Vec<f64> = (1..=values.len() as i64)
        .map(|id| {
            conn.query_row(
                "select satisfaction_score from call_sessions where id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect();
    for (v, s) in values.iter().zip(&stored) {
        // SQLite itself may store -0.0 as 0 (an integral REAL is written as an integer);
        // every other value must come back from it exactly.
        if *v != 0.0 {
            assert_eq!(v.to_bits(), s.to_bits(), "SQLite changed {v:e}");
        }
    }
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    let target: Vec<f64> = case
        .pg
        .rows(
            "select satisfaction_score from call_sessions where id <= $1 order by id",
            &[&(values.len() as i64)],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&target), bits(&stored), "{target:?} vs {stored:?}");
    // And in Postgres' own spelling, with every digit it needs.
    assert_eq!(
        case.pg
            .one::<String>("select satisfaction_score::text from call_sessions where id = 1"),
        "0.30000000000000004"
    );
}

#[test]
fn microseconds_are_kept() {
    let case = Case::pushed(CALLS, 6);
    let stamps = [
        "2025-08-25 11:49:59.000001",
        "2025-08-25 11:49:59.999999",
        "1969-12-31 23:59:59.999999",
        "1999-12-31 23:59:59.999999",
        "2000-01-01 00:00:00.000000",
        "0001-01-01 00:00:00.000000",
        "9999-12-31 23:59:59.999999",
    ];
    {
        let conn = case.lite_conn();
        for (i, s) in stamps.iter().enumerate() {
            conn.execute(
                "update call_events set timestamp = ?2 where id = ?1",
                params![i as i64 + 1, s],
            )
            .unwrap();
        }
    }
    let out = case.migrate(&[]).ok();
    assert!(
        !out.stdout.contains("converted: call_events.timestamp"),
        "SQLAlchemy's own spelling is not a converted cell\n{out}"
    );
    case.verify(&[]).ok();
    let got: Vec<String> = case
        .pg
        .rows(
            "select to_char(\"timestamp\" at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
             from call_events where id <= 7 order by id",
            &[],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, stamps);
    let micros: Vec<i64> = case
        .pg
        .rows(
            "select (extract(epoch from \"timestamp\") * 1000000)::bigint from call_events where id <= 3 order by id",
            &[],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(micros, [1_756_122_599_000_001, 1_756_122_599_999_999, -1]);
}

#[test]
fn every_datetime_spelling_maps_to_its_instant() {
    let case = Case::pushed(CALLS, 7);
    let cases: Vec<(Lite, &str)> = vec![
        (
            Lite::Text("2025-08-25T11:49:59".into()),
            "2025-08-25 11:49:59.000000",
        ),
        (
            Lite::Text("2025-08-25T11:49:59Z".into()),
            "2025-08-25 11:49:59.000000",
        ),
        (
            Lite::Text("2025-08-25T11:49:59.123456Z".into()),
            "2025-08-25 11:49:59.123456",
        ),
        (
            Lite::Text("2025-08-25T11:49:59+02:00".into()),
            "2025-08-25 09:49:59.000000",
        ),
        (
            Lite::Text("2025-08-25T11:49:59-0530".into()),
            "2025-08-25 17:19:59.000000",
        ),
        (
            Lite::Text("2025-08-25T11:49:59+02".into()),
            "2025-08-25 09:49:59.000000",
        ),
        (
            Lite::Text("2025-08-25 23:30:00-01:00".into()),
            "2025-08-26 00:30:00.000000",
        ),
        (
            Lite::Text("2025-08-25 11:49:59".into()),
            "2025-08-25 11:49:59.000000",
        ),
        (
            Lite::Text("2025-08-25".into()),
            "2025-08-25 00:00:00.000000",
        ),
        (
            Lite::Text("2025-08-25 11:49".into()),
            "2025-08-25 11:49:00.000000",
        ),
        (
            Lite::Text("2025-08-25T11:49Z".into()),
            "2025-08-25 11:49:00.000000",
        ),
        (
            Lite::Text("2025-08-25 11:49:59.5".into()),
            "2025-08-25 11:49:59.500000",
        ),
        (
            Lite::Text("2025-08-25 11:49:59.123456000".into()),
            "2025-08-25 11:49:59.123456",
        ),
        (Lite::Integer(1_756_122_599), "2025-08-25 11:49:59.000000"),
        (Lite::Real(1_756_122_599.25), "2025-08-25 11:49:59.250000"),
        (Lite::Integer(0), "1970-01-01 00:00:00.000000"),
    ];
    {
        let conn = case.lite_conn();
        for (i, (cell, _)) in cases.iter().enumerate() {
            conn.execute(
                "update call_sessions set started_at = ?2 where id = ?1",
                params![i as i64 + 1, cell],
            )
            .unwrap();
        }
    }
    let n = cases.len();
    let converted = format!("converted: call_sessions.started_at: {n} cell(s)");
    let dry = case.migrate(&["--dry-run"]).ok().stdout_has(&[&converted]);
    let line = dry
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("call_sessions"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().last(),
        Some(n.to_string().as_str()),
        "{line}"
    );
    case.migrate(&[]).ok().stdout_has(&[&converted]);
    case.verify(&[]).ok();

    let got: Vec<String> = case
        .pg
        .rows(
            "select to_char(started_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
             from call_sessions where id <= $1 order by id",
            &[&(n as i64)],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    let want: Vec<&str> = cases.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);
}

#[test]
fn empty_strings_in_nullable_non_text_columns_become_null() {
    let case = Case::pushed(CALLS, 8);
    case.lite(
        "update call_sessions set duration_seconds = '', ended_at = '', satisfaction_score = '',
                escalated = '', escalation_reason = '' where id = 1;
         update call_sessions set duration_seconds = '' where id = 2;
         update customers set is_new_client = '', notes = '' where id = 1;
         update appointments set cancelled_at = '', provider = '' where id = 1;",
    );
    assert_eq!(
        sqlite::one::<String>(
            &case.sqlite,
            "select typeof(duration_seconds) || typeof(satisfaction_score) from call_sessions where id = 1"
        ),
        "texttext"
    );
    let out = case.migrate(&[]).ok().stdout_has(&[
        "converted: call_sessions.duration_seconds: 2 cell(s)",
        "converted: call_sessions.ended_at: 1 cell(s)",
        "converted: call_sessions.satisfaction_score: 1 cell(s)",
        "converted: call_sessions.escalated: 1 cell(s)",
        "converted: customers.is_new_client: 1 cell(s)",
        "converted: appointments.cancelled_at: 1 cell(s)",
    ]);
    for text_column in ["escalation_reason", "notes", "provider"] {
        assert!(
            !out.stdout.contains(&format!(".{text_column}:")),
            "'' in a text column is a value, not a converted cell\n{out}"
        );
    }
    case.verify(&[]).ok();
    let row = &case.pg.rows(
        "select duration_seconds is null, ended_at is null, satisfaction_score is null, \
                escalated is null, escalation_reason from call_sessions where id = 1",
        &[],
    )[0];
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1) && row.get::<_, bool>(2));
    assert!(row.get::<_, bool>(3));
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some(""));
    assert_eq!(
        case.pg
            .one::<Option<bool>>("select is_new_client from customers where id = 1"),
        None
    );
    assert_eq!(
        case.pg
            .one::<Option<String>>("select notes from customers where id = 1")
            .as_deref(),
        Some("")
    );
    assert!(case.pg.one::<bool>(
        "select cancelled_at is null and provider = '' from appointments where id = 1"
    ));
}

#[test]
fn sequences_continue_past_max_id_in_every_table() {
    let case = Case::migrated(CALLS, 9);
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn sqlite_file_is_byte_for_byte_unchanged() {
    let case = Case::pushed(CALLS, 10);
    let before = snapshot_file(&case.sqlite);
    case.migrate(&["--dry-run"]).ok();
    case.migrate(&[]).ok();
    case.migrate(&[]).ok().stdout_has(&["already migrated"]);
    case.verify(&[]).ok();
    case.verify(&["--json"]).ok();
    case.pg.exec("delete from call_events where id = 3");
    case.verify(&[]).code(3);
    assert!(
        before == snapshot_file(&case.sqlite),
        "the SQLite file or its folder changed"
    );
}

#[test]
fn wal_mode_source_migrates_and_stays_unchanged() {
    let case = Case::pushed(CALLS, 11);
    let mode: String = sqlite::one(&case.sqlite, "pragma journal_mode = wal");
    assert_eq!(mode, "wal");
    let before = std::fs::read(&case.sqlite).unwrap();
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    assert!(
        before == std::fs::read(&case.sqlite).unwrap(),
        "the WAL-mode file changed"
    );
    assert_same_contents(&case.sqlite, &case.pg);
}

#[test]
fn extra_source_columns_and_tables_are_ignored() {
    let case = Case::pushed(CALLS, 12);
    case.lite(
        "alter table customers add column loyalty_points integer default 7;
         create table audit_log (id integer primary key, what text);
         insert into audit_log (what) values ('not migrated');",
    );
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    assert!(!case.pg.has_table("public.audit_log"));
}
