//! `ava sync`: after a migration, the app goes on writing to SQLite; sync writes only the
//! differences (new, changed and deleted rows) and the target verifies exactly again.

use crate::support::*;

#[test]
fn sync_writes_only_what_changed_and_the_target_verifies_again() {
    let case = Case::migrated(200, 91);
    case.migrate(&[]).ok().stdout_has(&["already migrated"]);
    // What the app does meanwhile: a new customer with a new call and events, a changed
    // call, a deleted event, a call deleted with its events.
    case.lite(
        "insert into customers (id, name, phone, is_new_client, created_at) \
           values (9001, 'Zoë Late', '+19995550199', 1, '2026-11-25 10:00:00.000000');
         insert into call_sessions (id, customer_id, session_id, started_at) \
           values (9001, 9001, 'late-session', '2026-11-25 10:01:00.000000');
         insert into call_events (id, call_session_id, event_type, timestamp, data) \
           values (90001, 9001, 'intent_detected', '2026-11-25 10:01:01.000000', '{\"intent\": \"book\"}');
         update call_sessions set outcome = 'booked', satisfaction_score = 9.25 where id = 5;
         delete from call_events where id = 3;
         delete from call_events where call_session_id = 7;
         delete from call_sessions where id = 7;",
    );
    let deleted_events: i64 = case
        .pg
        .one("select count(*) from call_events where id = 3 or call_session_id = 7");
    case.verify(&[]).code(3);
    case.with_both(&["sync", "--dry-run"])
        .ok()
        .stdout_has(&["would sync", "call_sessions"]);
    case.verify(&[]).code(3);

    let out = case.with_both(&["sync"]).ok().stdout_has(&["synced:"]);
    assert_eq!(changed(&out, "customers"), [1, 0, 0]);
    assert_eq!(changed(&out, "call_sessions"), [1, 1, 1]);
    assert_eq!(changed(&out, "call_events"), [1, 0, deleted_events]);
    assert_eq!(changed(&out, "appointments"), [0, 0, 0]);
    case.verify(&[]).ok();
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn sync_of_an_identical_target_writes_nothing() {
    let case = Case::migrated(100, 92);
    let before = case.pg.fingerprint();
    case.with_both(&["sync"])
        .ok()
        .stdout_has(&["in sync:", "nothing written"]);
    assert_eq!(case.pg.fingerprint(), before);
}

#[test]
fn sync_refuses_bad_input_like_migrate() {
    let case = Case::migrated(100, 93);
    let before = case.pg.fingerprint();
    // A good change in the first table, whose rows go to the target while the later
    // tables are read, then bad cells in the first table and in the last: nothing lands.
    case.lite("update customers set notes = 'changed by the app' where id = 3");
    case.lite("update customers set is_new_client = 'n/a' where id = 2");
    case.lite("update daily_metrics set total_calls = 'many' where id = 1");
    case.with_both(&["sync"]).code(5).stderr_has(&[
        "customers id 2, column is_new_client",
        "daily_metrics id 1, column total_calls",
    ]);
    assert_eq!(case.pg.fingerprint(), before);
    assert_ne!(
        case.pg
            .one::<Option<String>>("select notes from customers where id = 3")
            .as_deref(),
        Some("changed by the app")
    );
}

/// The counts sync printed for `table`: inserted, updated, deleted.
fn changed(out: &Out, table: &str) -> Vec<i64> {
    out.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{table} ")))
        .unwrap_or_else(|| panic!("no line for {table}\n{out}"))
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse::<i64>().unwrap())
        .collect()
}

const UNCHANGED: &str = "compared: the file is byte for byte";
const HASHES: &str = "compared: every SQLite row with the hashes";
const OUTSIDE: &str = "the target was written outside ava";
const NO_STATE: &str = "no earlier migrate or sync is recorded";

#[test]
fn sync_compares_the_cheapest_way_that_is_still_exact() {
    let case = Case::migrated(150, 94);
    // Right after migrate: the file's digest and the target's fingerprint match.
    let before = case.pg.fingerprint();
    case.with_both(&["sync"])
        .ok()
        .stdout_has(&[UNCHANGED, "nothing written"]);
    assert_eq!(case.pg.fingerprint(), before);

    // The app changes the file: only the changed rows are written.
    case.lite("update call_sessions set outcome = 'changed-by-app' where id in (4, 9)");
    let out = case.with_both(&["sync"]).ok().stdout_has(&[HASHES]);
    assert_eq!(changed(&out, "call_sessions"), [0, 2, 0]);
    assert_eq!(changed(&out, "call_events"), [0, 0, 0]);
    case.verify(&[]).ok();

    // Someone writes to the target directly: the fingerprint says so, and every row is
    // compared; the stray change is undone.
    case.pg
        .exec("update customers set notes = 'edited in the dashboard' where id = 6");
    case.pg.exec("delete from call_events where id = 11");
    let out = case.with_both(&["sync"]).ok().stdout_has(&[OUTSIDE]);
    assert_eq!(changed(&out, "customers"), [0, 1, 0]);
    assert_eq!(changed(&out, "call_events"), [1, 0, 0]);
    case.verify(&[]).ok();
    case.with_both(&["sync"]).ok().stdout_has(&[UNCHANGED]);

    // Without a recorded state (an older ava, or an identical target another tool
    // loaded), every row is compared and the state recorded again.
    case.pg.exec("delete from ava.sync_state");
    case.with_both(&["sync"])
        .ok()
        .stdout_has(&[NO_STATE, "nothing written"]);
    case.with_both(&["sync"]).ok().stdout_has(&[UNCHANGED]);
}

#[test]
fn a_change_still_in_the_write_ahead_log_is_seen() {
    let case = Case::migrated(100, 95);
    case.lite("pragma journal_mode = wal");
    // The app keeps its connection open, so its commit stays in the -wal file.
    let app = case.lite_conn();
    app.execute_batch(
        "pragma wal_autocheckpoint = 0;
         update customers set name = 'Renamed In Wal' where id = 2;",
    )
    .unwrap();
    let wal = case.sqlite.with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "no -wal file beside {}",
        case.sqlite.display()
    );
    let out = case.with_both(&["sync"]).ok().stdout_has(&[HASHES]);
    assert_eq!(changed(&out, "customers"), [0, 1, 0]);
    case.verify(&[]).ok();
    drop(app);
}

#[test]
fn many_syncs_fold_their_patches_into_a_new_base() {
    let case = Case::migrated(100, 96);
    let patches = || -> i64 {
        case.pg.one(
            "select count(*) from ava.source_hashes \
             where table_name = 'call_sessions' and patch > 0",
        )
    };
    let mut most = 0;
    for round in 0..8 {
        // A few calls change; one is deleted and one comes back under its old id.
        case.lite(&format!(
            "update call_sessions set satisfaction_score = {round}.5 \
               where id % 20 = {round};
             delete from call_events where call_session_id = 50 + {round};
             delete from call_sessions where id = 50 + {round};"
        ));
        if round > 0 {
            case.lite(&format!(
                "insert into call_sessions (id, session_id, started_at) \
                   values (50 + {round} - 1, 'back-{round}', '2026-11-25 09:00:00.000000')"
            ));
        }
        case.with_both(&["sync"]).ok().stdout_has(&[HASHES]);
        case.verify(&[]).ok();
        most = most.max(patches());
    }
    assert!(most >= 2, "sync never kept a patch (at most {most})");
    assert!(
        patches() < most,
        "the patches were never folded into a new base ({most} at most, {} now)",
        patches()
    );
    case.with_both(&["sync"]).ok().stdout_has(&[UNCHANGED]);
}

#[test]
fn sync_with_skip_keeps_a_rejected_row_as_the_target_has_it_until_it_is_fixed() {
    let case = Case::migrated(100, 97);
    let rejects = case.dir.path().join("rejects.jsonl");
    let rejects_arg = rejects.to_str().unwrap();
    let score = |id: i64| -> Option<f64> {
        case.pg.one(&format!(
            "select satisfaction_score from call_sessions where id = {id}"
        ))
    };
    let was = score(4);
    // A changed row that has become bad, and a new bad row.
    case.lite(
        "update call_sessions set satisfaction_score = 'n/a' where id = 4;
         insert into call_sessions (id, session_id, started_at) \
           values (9100, 'late', 'not a date');
         update call_sessions set outcome = 'changed-by-app' where id = 5;",
    );
    case.with_both(&["sync"]).code(5);
    let out = case
        .with_both(&["sync", "--on-error", "skip", "--rejects", rejects_arg])
        .ok()
        .stdout_has(&[HASHES]);
    assert_eq!(changed(&out, "call_sessions"), [0, 1, 0]);
    // The two bad calls, and call 4's events with it (their parent is rejected).
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(json)
        .collect();
    let events: i64 = case
        .pg
        .one("select count(*) from call_events where call_session_id = 4");
    assert_eq!(lines.len() as i64, 2 + events, "{lines:#?}");
    for line in &lines {
        if line["table"] == "call_events" {
            assert!(line["reasons"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("call_sessions id 4, which is rejected"));
        }
    }
    assert_eq!(
        score(4),
        was,
        "the target's version of the rejected row changed"
    );
    case.verify(&["--rejects", rejects_arg]).ok();
    // Compared row by row (no recorded state), the rejected rows are kept all the same;
    // and while rows are rejected the file is always read again.
    case.pg.exec("delete from ava.sync_state");
    for how in [NO_STATE, HASHES] {
        let out = case
            .with_both(&["sync", "--on-error", "skip", "--rejects", rejects_arg])
            .ok()
            .stdout_has(&[how]);
        assert_eq!(changed(&out, "call_sessions"), [0, 0, 0]);
        assert_eq!(score(4), was);
    }

    // Fixed in the app: the next sync writes it.
    case.lite(
        "update call_sessions set satisfaction_score = 3.75 where id = 4;
         delete from call_sessions where id = 9100;",
    );
    let out = case.with_both(&["sync"]).ok().stdout_has(&[HASHES]);
    assert_eq!(changed(&out, "call_sessions"), [0, 1, 0]);
    assert_eq!(score(4), Some(3.75));
    case.verify(&[]).ok();
}

#[test]
fn a_changed_row_taking_an_unchanged_rows_unique_value_is_found_before_writing() {
    let case = Case::migrated(100, 98);
    let before = case.pg.fingerprint();
    // Only a file without the app's unique index can hold such a duplicate.
    case.lite(
        "drop index ix_call_sessions_session_id;
         update call_sessions set session_id = \
           (select session_id from call_sessions where id = 30) where id = 60;",
    );
    case.with_both(&["sync"]).code(5).stderr_has(&[
        "checking the keys of every row",
        "call_sessions id 60, column session_id",
        "duplicate of row 30",
    ]);
    assert_eq!(case.pg.fingerprint(), before, "the refused sync wrote");
}
