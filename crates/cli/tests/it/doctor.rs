//! `ava doctor`: the checks on a real database in each state, and the exit codes.

use crate::support::*;

/// The line of `out`'s stdout that starts with `prefix` (a mark and a check's name).
#[track_caller]
fn line<'a>(out: &'a Out, prefix: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}\n{out}"))
}

#[test]
fn a_fresh_database_has_pending_migrations_and_names_db_push() {
    let case = Case::empty();
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "✓ connection: local (",
        "✓ reachable",
        "✓ TLS: ",
        "✓ server: PostgreSQL ",
        "run `ava db push --database-url URL`",
    ]);
    assert!(line(&out, "✗ migrations: ").contains("pending"), "{out}");
    line(&out, "✗ tables: none of the five tables");
}

#[test]
fn a_migrated_database_passes_every_check() {
    let case = Case::migrated(CALLS, 80);
    let out = case.with_both(&["doctor"]).ok().stdout_has(&[
        "✓ reachable",
        "✓ migrations: all ",
        "✓ schema: the five tables match",
        "✓ row-level security: on for ",
        "✓ policies: none grants anon or public",
        "✓ privileges: ",
        "✓ sequences: every id sequence is past max(id)",
        "✓ rows: the same counts as ",
        "0 to fix",
    ]);
    assert!(!out.stdout.contains('✗'), "{out}");
    // Reads only.
    assert_eq!(case.pg.counts(), sqlite::counts(&case.sqlite));
    case.verify(&[]).ok();
}

#[test]
fn a_sequence_behind_and_a_missing_row_are_named_with_the_fix() {
    let case = Case::migrated(CALLS, 81);
    case.pg.exec(
        "select setval(pg_get_serial_sequence('public.call_events', 'id'), 1, false);
         delete from daily_metrics where id = (select max(id) from daily_metrics);",
    );
    let out = case.with_both(&["doctor"]).code(7).stdout_has(&[
        "ava sync --sqlite",
        "setval(pg_get_serial_sequence('public.call_events'",
    ]);
    let sequences = line(&out, "✗ sequences: behind max(id) on call_events");
    assert!(!sequences.contains("customers"), "{out}");
    let rows = line(&out, "✗ rows: daily_metrics ");
    assert!(!rows.contains("customers"), "{out}");
    // Without --sqlite the counts are not compared.
    let out = case.with_target(&["doctor"]).code(7);
    assert!(!out.stdout.contains("rows:"), "{out}");
}

#[test]
fn row_level_security_off_and_an_anon_policy_fail() {
    let case = Case::migrated(CALLS, 82);
    case.pg.exec(
        "alter table public.customers disable row level security;
         create policy open_read on public.call_events for select to anon using (true);
         grant select on public.customers to anon;",
    );
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "alter table public.customers enable row level security;",
        "drop policy \"open_read\" on public.call_events;",
    ]);
    let rls = line(&out, "✗ row-level security: off for customers");
    assert!(!rls.contains("call_events"), "{out}");
    line(&out, "✗ policies: \"open_read\" on call_events");
    assert!(
        line(&out, "✗ privileges on tables without row-level security: ")
            .contains("anon may SELECT customers"),
        "{out}"
    );
}

#[test]
fn an_unreachable_server_fails_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgresql://postgres:s3cr3t-PASSWORD@127.0.0.1:1/x";
    let out = Out::of(ava_in(dir.path()).args(["doctor", "--database-url", url]))
        .code(7)
        .stdout_has(&[
            "✓ connection: local (127.0.0.1:1)",
            "postgresql://postgres:***@127.0.0.1:1/x",
            "1 to fix",
        ])
        .never_says("s3cr3t");
    assert!(
        line(&out, "✗ reachable: ").contains("cannot connect"),
        "{out}"
    );
}

#[test]
fn no_target_is_an_error_saying_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    Out::of(ava_in(dir.path()).arg("doctor"))
        .code(1)
        .stderr_has(&["no target database", "--database-url"]);
}

#[test]
fn a_sqlite_file_that_cannot_be_read_fails_the_rows_check() {
    let case = Case::pushed(CALLS, 83);
    let missing = case.dir.path().join("missing.db");
    let out = case.with_both_file(&["doctor"], &missing).code(7);
    assert!(line(&out, "✗ rows: ").contains("missing.db"), "{out}");
    assert!(!missing.exists(), "doctor created the SQLite file");
}

#[test]
fn help_describes_the_checks_and_exit_7() {
    let dir = tempfile::tempdir().unwrap();
    Out::of(ava_in(dir.path()).args(["doctor", "--help"]))
        .ok()
        .stdout_has(&[
            "transaction pooler",
            "row-level security",
            "--sqlite",
            "--database-url",
            "else 7",
        ]);
    Out::of(ava_in(dir.path()).arg("--help"))
        .ok()
        .stdout_has(&["doctor", "7 doctor"]);
}
