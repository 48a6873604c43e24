use super::*;
use crate::vocab::LEGACY_TRANSCRIPTS;
use ava_catalog::Kind;
use rusqlite::types::Value;
use tempfile::TempDir;

fn opts(calls: u64, seed: u64) -> SeedOptions {
    SeedOptions {
        calls,
        seed,
        end: NaiveDate::from_ymd_opt(2025, 8, 25).unwrap(),
    }
}

/// Seeds a fresh file in its own temp dir (kept alive by the returned guard).
fn seeded(o: &SeedOptions) -> (TempDir, Connection, SeedReport) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ava_database.db");
    let report = seed(&path, o).unwrap();
    let db = Connection::open(&path).unwrap();
    (dir, db, report)
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn rows(db: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = db.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn texts(db: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn dump(db: &Connection) -> Vec<Vec<Vec<Value>>> {
    TABLES
        .iter()
        .map(|t| rows(db, &format!("SELECT * FROM {} ORDER BY id", t.name)))
        .collect()
}

#[test]
fn same_options_same_contents_other_seed_differs() {
    let (_a, a, ra) = seeded(&opts(300, 7));
    let (_b, b, rb) = seeded(&opts(300, 7));
    let (_c, c, _) = seeded(&opts(300, 8));
    assert_eq!(ra, rb);
    assert_eq!(dump(&a), dump(&b));
    assert_ne!(dump(&a), dump(&c));
}

#[test]
fn schema_is_the_apps_ddl_in_rollback_journal_mode() {
    let (_d, db, _) = seeded(&opts(50, 1));
    let want = Connection::open_in_memory().unwrap();
    want.execute_batch(SQLITE_DDL).unwrap();
    let master = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid";
    assert_eq!(rows(&db, master), rows(&want, master));
    assert_eq!(texts(&db, "PRAGMA journal_mode"), ["delete"]);
}

#[test]
fn report_counts_and_shape() {
    let (_d, db, report) = seeded(&opts(2000, 3));
    let names: Vec<_> = report.rows.iter().map(|r| r.0).collect();
    assert_eq!(names, TABLES.map(|t| t.name));
    for &(table, n) in &report.rows {
        assert_eq!(
            count(&db, &format!("SELECT count(*) FROM {table}")) as u64,
            n
        );
    }
    let n = |t: &str| report.rows.iter().find(|r| r.0 == t).unwrap().1 as f64;
    assert_eq!(n("call_sessions"), 2000.0);
    assert_eq!(n("customers"), 500.0);
    assert!(
        (0.30..0.40).contains(&(n("appointments") / 2000.0)),
        "{report:?}"
    );
    assert!(
        (6.0..7.0).contains(&(n("call_events") / 2000.0)),
        "{report:?}"
    );
    // 2000 / 250 = 8 days ending 2025-08-25; a day whose calls all failed to end
    // would have no row, but at this size none does.
    assert_eq!(n("daily_metrics"), 8.0);
    let span = texts(
        &db,
        "SELECT min(started_at) || '/' || max(started_at) FROM call_sessions",
    );
    let (lo, hi) = span[0].split_once('/').unwrap();
    assert!(
        lo.starts_with("2025-08-18 ") && hi.starts_with("2025-08-25 "),
        "{lo} {hi}"
    );
    let per_call =
        "SELECT min(n), max(n) FROM (SELECT count(*) n FROM call_events GROUP BY call_session_id)";
    assert_eq!(
        rows(&db, per_call),
        [[Value::Integer(1), Value::Integer(12)]]
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT call_session_id) FROM call_events"
        ),
        2000
    );
}

#[test]
fn foreign_keys_and_integrity_hold() {
    let (_d, db, _) = seeded(&opts(300, 5));
    assert!(rows(&db, "PRAGMA foreign_key_check").is_empty());
    assert_eq!(texts(&db, "PRAGMA integrity_check"), ["ok"]);
    for t in &TABLES {
        let ids = format!("SELECT count(*) FROM {0} WHERE id <> (SELECT count(*) FROM {0} p WHERE p.id <= {0}.id)", t.name);
        assert_eq!(count(&db, &ids), 0, "{} ids are not 1..n", t.name);
    }
}

/// The rule in the crate docs, written in SQL. The satisfaction mean is summed by a
/// recursive CTE in id order because SQLite's own `avg()` compensates rounding.
const FOLD: &str = "
WITH RECURSIVE
scored AS MATERIALIZED (
    SELECT substr(started_at, 1, 10) AS day, satisfaction_score AS x,
           row_number() OVER (PARTITION BY substr(started_at, 1, 10) ORDER BY id) AS k
    FROM call_sessions WHERE ended_at IS NOT NULL AND satisfaction_score IS NOT NULL),
running(day, k, total) AS (
    SELECT day, k, x FROM scored WHERE k = 1
    UNION ALL
    SELECT s.day, s.k, r.total + s.x FROM running r JOIN scored s ON s.day = r.day AND s.k = r.k + 1),
mean AS (
    SELECT day, total / k AS mean FROM running r
    WHERE k = (SELECT max(k) FROM scored s WHERE s.day = r.day)),
folded AS (
    SELECT substr(started_at, 1, 10) AS day, count(*) AS n, sum(duration_seconds) AS talk,
           sum(outcome IS 'booked') AS booked, sum(outcome IS 'rescheduled') AS rescheduled,
           sum(outcome IS 'cancelled') AS cancelled, sum(escalated IS 1) AS escalated
    FROM call_sessions WHERE ended_at IS NOT NULL GROUP BY 1)
SELECT day || ' 00:00:00.000000', n, talk, talk / n, booked, rescheduled, cancelled,
       coalesce(mean, 0.0), escalated, CAST(booked AS REAL) / n * 100.0,
       day || ' 23:59:00.000000'
FROM folded LEFT JOIN mean USING (day) ORDER BY day";

#[test]
fn daily_metrics_is_the_fold_of_call_sessions() {
    for o in [opts(300, 11), opts(3000, 12)] {
        let (_d, db, _) = seeded(&o);
        let table = rows(
            &db,
            "SELECT date, total_calls, total_talk_time_seconds, avg_call_duration_seconds, \
             appointments_booked, appointments_rescheduled, appointments_cancelled, \
             avg_satisfaction_score, calls_escalated, conversion_rate, updated_at \
             FROM daily_metrics ORDER BY id",
        );
        assert!(!table.is_empty());
        assert_eq!(table, rows(&db, FOLD));
    }
}

#[test]
fn json_columns_parse_and_are_ascii() {
    let (_d, db, _) = seeded(&opts(300, 13));
    for data in texts(&db, "SELECT data FROM call_events WHERE data IS NOT NULL") {
        assert!(data.is_ascii(), "{data}");
        serde_json::from_str::<serde_json::Value>(&data).unwrap_or_else(|e| panic!("{data}: {e}"));
    }
    let mut legacy = 0;
    for t in texts(
        &db,
        "SELECT transcript FROM call_sessions WHERE transcript IS NOT NULL",
    ) {
        match serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(&t) {
            Ok(turns) => {
                assert!(t.is_ascii(), "{t}");
                assert!(!turns.is_empty());
                for turn in turns {
                    let keys: Vec<_> = turn.keys().map(String::as_str).collect();
                    assert_eq!(keys.len(), 3, "{t}");
                    assert!(["speaker", "text", "timestamp"]
                        .iter()
                        .all(|k| turn[*k].is_string()));
                    assert_eq!(turn["timestamp"].as_str().unwrap().as_bytes()[10], b'T');
                }
            }
            Err(_) => {
                assert!(LEGACY_TRANSCRIPTS.contains(&t.as_str()), "{t}");
                legacy += 1;
            }
        }
    }
    assert!(legacy > 0);
}

#[test]
fn values_are_spelled_as_sqlalchemy_stores_them() {
    let (_d, db, _) = seeded(&opts(300, 17));
    const STAMP: &str = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]";
    for t in &TABLES {
        for c in t.columns {
            let bad = match c.kind {
                Kind::Timestamp => {
                    format!("typeof({0}) <> 'text' OR {0} NOT GLOB '{STAMP}'", c.name)
                }
                Kind::Bool => format!("{} NOT IN (0, 1) OR typeof({0}) <> 'integer'", c.name),
                Kind::Float => format!("typeof({}) <> 'real'", c.name),
                Kind::Id | Kind::Ref(_) | Kind::Int => format!("typeof({}) <> 'integer'", c.name),
                Kind::Varchar(_) | Kind::Text | Kind::Json => {
                    format!("typeof({}) <> 'text'", c.name)
                }
            };
            let sql = format!(
                "SELECT count(*) FROM {} WHERE {} IS NOT NULL AND ({bad})",
                t.name, c.name
            );
            assert_eq!(count(&db, &sql), 0, "{}.{}", t.name, c.name);
        }
    }
    for (column, allowed) in [
        ("appointments.status", "'scheduled','completed','cancelled','no_show','rescheduled'"),
        ("appointments.booked_by", "'ai','staff','online'"),
        ("call_sessions.sentiment", "'positive','neutral','negative','mixed'"),
        ("call_sessions.outcome", "'booked','rescheduled','cancelled','info_only','escalated','abandoned','browsing'"),
        (
            "call_events.event_type",
            "'intent_detected','function_called','appointment_booked','escalation_triggered','sentiment_change','error_occurred'",
        ),
    ] {
        let (table, col) = column.split_once('.').unwrap();
        let sql = format!("SELECT count(*) FROM {table} WHERE {col} NOT IN ({allowed})");
        assert_eq!(count(&db, &sql), 0, "{column}");
    }
    let out_of_order = "SELECT count(*) FROM call_events a JOIN call_events b \
        ON a.call_session_id = b.call_session_id AND a.id < b.id WHERE a.timestamp >= b.timestamp";
    assert_eq!(count(&db, out_of_order), 0);
    for s in texts(&db, "SELECT session_id FROM call_sessions") {
        let dashes: Vec<_> = s.match_indices('-').map(|m| m.0).collect();
        assert_eq!((s.len(), dashes), (36, vec![8, 13, 18, 23]), "{s}");
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM customers WHERE phone NOT GLOB '+1310555[0-9][0-9][0-9][0-9]'"
        ),
        0
    );
}

/// Each hard case the crate docs promise, in several small seeds.
#[test]
fn every_hard_case_is_present() {
    for o in [opts(300, 0), opts(200, 1), opts(200, 2), opts(250, 99)] {
        let (_d, db, _) = seeded(&o);
        let has = |what: &str, sql: &str| assert!(count(&db, sql) > 0, "{o:?}: no {what}");
        for t in &TABLES[..4] {
            for c in t.columns.iter().filter(|c| c.nullable) {
                has(
                    &format!("NULL in {}.{}", t.name, c.name),
                    &format!("SELECT count(*) FROM {} WHERE {} IS NULL", t.name, c.name),
                );
            }
        }
        for (what, sql) in [
            ("'' notes", "SELECT count(*) FROM customers WHERE notes = ''"),
            ("'' provider", "SELECT count(*) FROM appointments WHERE provider = ''"),
            ("'' escalation_reason", "SELECT count(*) FROM call_sessions WHERE escalation_reason = ''"),
            ("escalation with reason", "SELECT count(*) FROM call_sessions WHERE escalated = 1 AND escalation_reason <> ''"),
            ("JSON null data", "SELECT count(*) FROM call_events WHERE data = 'null'"),
            ("anonymous call", "SELECT count(*) FROM call_sessions WHERE customer_id IS NULL AND phone_number IS NOT NULL"),
            ("anonymous call without phone", "SELECT count(*) FROM call_sessions WHERE customer_id IS NULL AND phone_number IS NULL"),
            (
                "unended call",
                "SELECT count(*) FROM call_sessions WHERE ended_at IS NULL AND duration_seconds IS NULL AND outcome IS NULL",
            ),
            ("NULL transcript", "SELECT count(*) FROM call_sessions WHERE transcript IS NULL"),
            ("plain-text transcript", "SELECT count(*) FROM call_sessions WHERE transcript NOT LIKE '[{%'"),
            ("surrogate pair", "SELECT count(*) FROM call_sessions WHERE transcript LIKE '%\\ud83d\\ude%'"),
            ("one-decimal score", "SELECT count(*) FROM call_sessions WHERE satisfaction_score * 10 = round(satisfaction_score * 10) AND satisfaction_score <> round(satisfaction_score)"),
            ("full-precision score", "SELECT count(*) FROM call_sessions WHERE satisfaction_score * 10 <> round(satisfaction_score * 10)"),
            ("calendar event id", "SELECT count(*) FROM appointments WHERE calendar_event_id IS NOT NULL"),
            ("email", "SELECT count(*) FROM customers WHERE email IS NOT NULL"),
        ] {
            has(what, sql);
        }

        let names = texts(&db, "SELECT name FROM customers");
        let name_has = |what: &str, f: &dyn Fn(char) -> bool| {
            assert!(
                names.iter().any(|n| n.chars().any(f)),
                "{o:?}: no name with {what}"
            );
        };
        name_has("accent", &|c| ('\u{c0}'..='\u{24f}').contains(&c));
        name_has("combining accent", &|c| c == '\u{301}');
        name_has("CJK", &|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        name_has("Arabic", &|c| ('\u{600}'..='\u{6ff}').contains(&c));
        name_has("Hebrew", &|c| ('\u{590}'..='\u{5ff}').contains(&c));
        name_has("emoji", &|c| c >= '\u{1f000}');
        name_has("apostrophe", &|c| c == '\'');
        name_has("double quote", &|c| c == '"');

        let notes = texts(&db, "SELECT notes FROM customers WHERE notes IS NOT NULL");
        let lines: Vec<String> = texts(
            &db,
            "SELECT transcript FROM call_sessions WHERE transcript LIKE '[{%'",
        )
        .iter()
        .flat_map(|t| serde_json::from_str::<Vec<serde_json::Value>>(t).unwrap())
        .map(|turn| turn["text"].as_str().unwrap().to_string())
        .collect();
        for (what, texts) in [("notes", &notes), ("transcript text", &lines)] {
            for special in ["\t", "\n", "\r\n", "\\", "\"", "'"] {
                assert!(
                    texts.iter().any(|t| t.contains(special)),
                    "{o:?}: no {special:?} in {what}"
                );
            }
        }
        assert!(
            lines.iter().any(|t| t.chars().any(|c| c >= '\u{1f000}')),
            "{o:?}: no emoji in transcripts"
        );
        assert!(lines
            .iter()
            .any(|t| t.chars().any(|c| ('\u{600}'..='\u{6ff}').contains(&c))));
    }
}

#[test]
fn refuses_an_existing_path() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "keep me").unwrap();
    let err = seed(file.path(), &opts(10, 1)).unwrap_err();
    assert!(
        matches!(&err, SeedError::Exists(p) if p == file.path()),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&file.path().display().to_string()) && message.contains("delete"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "keep me");
}

#[test]
fn refuses_an_unspellable_end_date_without_creating_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let o = SeedOptions {
        end: NaiveDate::from_ymd_opt(9999, 1, 1).unwrap(),
        ..opts(10, 1)
    };
    assert!(matches!(seed(&path, &o), Err(SeedError::EndOutOfRange(_))));
    assert!(!path.exists());
}
