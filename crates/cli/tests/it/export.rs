//! `ava export`, the way back: the target's rows in a new SQLite file with the app's
//! exact DDL and value formats, which `ava verify` accepts and which migrates again into
//! a fresh database exactly.

use std::path::{Path, PathBuf};

use ava_catalog::{Kind, SQLITE_DDL, TABLES};
use rusqlite::types::ValueRef;

use crate::support::*;

/// `(type, name, tbl_name, sql)` of every schema object, in a fixed order.
fn schema_of(conn: &rusqlite::Connection) -> Vec<(String, String, String, Option<String>)> {
    conn.prepare("select type, name, tbl_name, sql from sqlite_master order by type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Whether `text` is laid out as Python's `json.dumps` lays JSON out: every `,` and `:`
/// outside strings followed by one space, no other white space outside strings.
fn python_layout(text: &str) -> bool {
    let b = text.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b',' | b':' if b.get(i + 1) != Some(&b' ') => return false,
            b' ' if !matches!(b.get(i.wrapping_sub(1)), Some(b',' | b':')) => return false,
            b'\t' | b'\n' | b'\r' => return false,
            _ => {}
        }
    }
    !in_string
}

/// SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff`.
fn sqlalchemy_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 26
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

/// Asserts every cell of `path` is in the app's SQLite format for its catalog column;
/// returns how many JSON cells with more than one member were seen.
#[track_caller]
fn assert_app_formats(path: &Path) -> usize {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut multi_member_json = 0;
    for table in &TABLES {
        let mut stmt = conn
            .prepare(&format!(
                "select {} from \"{}\" order by id",
                table.column_list(),
                table.name
            ))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, c) in table.columns.iter().enumerate() {
                let v = row.get_ref(i).unwrap();
                let at = format!("{}.{} = {v:?}", table.name, c.name);
                let ok = match (c.kind, v) {
                    (_, ValueRef::Null) => true,
                    (Kind::Id | Kind::Ref(_) | Kind::Int, ValueRef::Integer(_)) => true,
                    (Kind::Bool, ValueRef::Integer(b)) => b == 0 || b == 1,
                    (Kind::Float, ValueRef::Real(_)) => true,
                    (Kind::Timestamp, ValueRef::Text(t)) => {
                        sqlalchemy_datetime(std::str::from_utf8(t).unwrap())
                    }
                    (Kind::Varchar(_) | Kind::Text, ValueRef::Text(_)) => true,
                    (Kind::Json, ValueRef::Text(t)) => {
                        let t = std::str::from_utf8(t).unwrap();
                        if t.contains(", ") {
                            multi_member_json += 1;
                        }
                        t.is_ascii() && python_layout(t)
                    }
                    _ => false,
                };
                assert!(ok, "not in the app's format: {at}");
            }
        }
    }
    multi_member_json
}

#[test]
fn python_layout_checker_tells_the_layouts_apart() {
    assert!(python_layout(r#"{"a": [1, 2], "b": "x,y:z \" ,"}"#));
    assert!(!python_layout(r#"{"a":[1,2]}"#));
    assert!(!python_layout(r#"{"a": [1,  2]}"#));
    assert!(sqlalchemy_datetime("2025-08-25 11:49:59.721052"));
    assert!(!sqlalchemy_datetime("2025-08-25T11:49:59.721052"));
}

#[test]
fn export_after_migrate_writes_the_apps_file_and_verify_passes() {
    let case = Case::migrated(CALLS, 80);
    let out = case.dir.path().join("exported.db");
    case.with_target(&["export", "--sqlite", out.to_str().unwrap()])
        .ok()
        .stdout_has(&["exported:", "customers", "next: ava verify --sqlite"]);
    case.with_both_file(&["verify"], &out)
        .ok()
        .stdout_has(&["✓ identical"]);

    // The app's exact DDL: every table and index, with the very SQL text.
    let fresh = rusqlite::Connection::open_in_memory().unwrap();
    fresh.execute_batch(SQLITE_DDL).unwrap();
    let exported = rusqlite::Connection::open(&out).unwrap();
    assert_eq!(schema_of(&exported), schema_of(&fresh));
    assert_eq!(
        schema_of(&exported),
        schema_of(&rusqlite::Connection::open(&case.sqlite).unwrap())
    );
    drop(exported);

    // Cell for cell what the target holds, timestamps spelled as SQLAlchemy spells them.
    assert_same_contents(&out, &case.pg);
    assert_eq!(sqlite::counts(&out), case.pg.counts());
    let json_with_members = assert_app_formats(&out);
    assert!(
        json_with_members > 0,
        "the seed has no JSON object with two members"
    );
    // JSON null stays the text null; SQL NULL stays NULL.
    for (what, sql) in [
        (
            "JSON null",
            "select count(*) from call_events where data = 'null'",
        ),
        (
            "SQL NULL",
            "select count(*) from call_events where data is null",
        ),
    ] {
        assert_eq!(
            sqlite::one::<i64>(&out, sql),
            sqlite::one::<i64>(&case.sqlite, sql),
            "{what}"
        );
    }
    // No temporary file left behind.
    assert_eq!(names_in(case.dir.path()), ["exported.db", "source.db"]);
}

#[test]
fn exported_file_migrates_into_a_fresh_database_and_round_trips() {
    let case = Case::migrated(CALLS, 81);
    let out = case.dir.path().join("exported.db");
    case.with_target(&["export", "--sqlite", out.to_str().unwrap()])
        .ok();

    let fresh = ava_testpg::TestDb::new();
    let fresh_pg = Pg::connect(&fresh.url);
    let on_fresh = |args: &[&str], file: &Path| {
        Out::of(
            case.ava()
                .args(args)
                .arg("--sqlite")
                .arg(file)
                .args(["--database-url", &fresh.url]),
        )
    };
    Out::of(
        case.ava()
            .args(["db", "push", "--database-url", &fresh.url]),
    )
    .ok();
    on_fresh(&["migrate"], &out).ok().stdout_has(&["migrated:"]);
    on_fresh(&["verify"], &out).ok();
    // The fresh database holds exactly what the original file held.
    on_fresh(&["verify"], &case.sqlite).ok();
    assert_eq!(fresh_pg.fingerprint(), case.pg.fingerprint());

    // And exporting the fresh database gives the same file contents again.
    let again = case.dir.path().join("again.db");
    on_fresh(&["export"], &again).ok();
    let (first, second) = (sqlite::dump(&out), sqlite::dump(&again));
    for (table, (a, b)) in TABLE_NAMES.iter().zip(first.iter().zip(&second)) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "{table}: a row differs");
        }
    }

    // The app can go on inserting into the fresh database.
    fresh_pg.assert_sequences_past_max_id();
}

#[test]
fn export_refuses_an_existing_file() {
    let case = Case::migrated(CALLS, 82);
    let existing = case.dir.path().join("existing.db");
    std::fs::write(&existing, b"not yours").unwrap();
    let before = names_in(case.dir.path());
    let source_bytes = std::fs::read(&case.sqlite).unwrap();
    for path in [&existing, &case.sqlite] {
        case.with_target(&["export", "--sqlite", path.to_str().unwrap()])
            .code(4)
            .stderr_has(&["already exists", "never replaces"]);
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"not yours");
    assert_eq!(std::fs::read(&case.sqlite).unwrap(), source_bytes);
    assert_eq!(names_in(case.dir.path()), before);
}

#[test]
fn export_writes_json_dumps_text_and_refuses_what_the_app_cannot_hold() {
    let case = Case::migrated(CALLS, 83);
    case.pg.exec(
        r#"update call_events set data = '{"b": [1, 2.5, null, true], "a": "é😊 \"q\"", "c": 1e-05, "d": {}}' where id = 1"#,
    );
    let out = case.dir.path().join("exported.db");
    let export = |path: &PathBuf| case.with_target(&["export", "--sqlite", path.to_str().unwrap()]);
    export(&out).ok();
    // What Python prints for json.dumps of the same value (keys in jsonb's order).
    let text: String = sqlite::one(&out, "select data from call_events where id = 1");
    assert_eq!(
        text,
        r#"{"a": "\u00e9\ud83d\ude0a \"q\"", "b": [1, 2.5, null, true], "c": 1e-05, "d": {}}"#
    );
    case.with_both_file(&["verify"], &out).ok();

    // Values the app's SQLite file cannot hold exactly stop the export, named, and leave
    // no file behind.
    let before = names_in(case.dir.path());
    for (break_it, fix_it, needles) in [
        (
            "update call_sessions set satisfaction_score = 'NaN' where id = 3",
            "update call_sessions set satisfaction_score = null where id = 3",
            [
                "call_sessions id 3, column satisfaction_score",
                "not a finite number",
            ],
        ),
        (
            "update call_sessions set satisfaction_score = '-0' where id = 4",
            "update call_sessions set satisfaction_score = null where id = 4",
            ["call_sessions id 4, column satisfaction_score", "-0.0"],
        ),
        (
            "update customers set created_at = '10000-01-01 00:00:00+00' where id = 2",
            "update customers set created_at = now() where id = 2",
            ["customers id 2, column created_at", "0001–9999"],
        ),
    ] {
        case.pg.exec(break_it);
        let bad = case.dir.path().join("bad.db");
        export(&bad).code(1).stderr_has(&needles);
        assert!(!bad.exists());
        assert_eq!(names_in(case.dir.path()), before);
        case.pg.exec(fix_it);
    }
}

#[test]
fn export_and_archive_have_help() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| Out::of(ava_in(dir.path()).args(args)).ok();
    help(&["--help"]).stdout_has(&["export", "archive"]);
    help(&["export", "--help"]).stdout_has(&["--sqlite <OUT>", "json.dumps", "exit 4"]);
    help(&["archive", "--help"]).stdout_has(&["--remove-original", "--out <DIR>", "manifest"]);
}
