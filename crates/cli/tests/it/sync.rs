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
    let line = |table: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{table} ")))
            .unwrap_or_else(|| panic!("no line for {table}\n{out}"))
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse::<i64>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(line("customers"), [1, 0, 0]);
    assert_eq!(line("call_sessions"), [1, 1, 1]);
    assert_eq!(line("call_events"), [1, 0, deleted_events]);
    assert_eq!(line("appointments"), [0, 0, 0]);
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
    case.lite("update customers set is_new_client = 'n/a' where id = 2");
    case.with_both(&["sync"])
        .code(5)
        .stderr_has(&["customers id 2, column is_new_client"]);
}
