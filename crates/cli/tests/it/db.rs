//! `ava db push` / `ava db status`, and `ava migrate` against a schema that is not current.

use crate::support::*;

fn versions() -> Vec<&'static str> {
    ava_migrations::embedded()
        .iter()
        .map(|m| m.version)
        .collect()
}

#[test]
fn push_applies_every_migration_once() {
    let case = Case::empty();
    let all = versions();
    assert!(!all.is_empty());
    let first = case
        .push()
        .stdout_has(&[&format!("applied {} migration(s)", all.len())]);
    for m in ava_migrations::embedded() {
        assert!(
            first.stdout.contains(m.version) && first.stdout.contains(m.name),
            "{first}"
        );
    }
    case.push()
        .stdout_has(&["schema is current, nothing to apply"]);
    let recorded: Vec<String> = case
        .pg
        .rows(
            "select version from supabase_migrations.schema_migrations order by version",
            &[],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(recorded, all);
    for table in TABLE_NAMES {
        assert!(case.pg.has_table(&format!("public.{table}")), "{table}");
    }
    assert!(case.pg.has_table("ava.migrate_runs"));
}

#[test]
fn status_exits_6_while_pending_and_0_when_current() {
    let case = Case::empty();
    let pending = case
        .with_target(&["db", "status"])
        .code(6)
        .stdout_has(&["pending", "ava db push"]);
    for v in versions() {
        assert!(pending.stdout.contains(v), "{pending}");
    }
    assert!(!pending.stdout.contains("applied"), "{pending}");
    case.push();
    let current = case
        .with_target(&["db", "status"])
        .ok()
        .stdout_has(&["schema is current"]);
    for v in versions() {
        let line = current
            .stdout
            .lines()
            .find(|l| l.contains(v))
            .unwrap_or_else(|| panic!("{v} not listed\n{current}"));
        assert!(line.trim_end().ends_with("applied"), "{line}");
    }
}

#[test]
fn push_dry_run_applies_nothing() {
    let case = Case::empty();
    case.with_target(&["db", "push", "--dry-run"])
        .ok()
        .stdout_has(&[&format!("would apply {} migration(s)", versions().len())]);
    assert!(!case.pg.has_table("public.customers"));
    assert!(!case.pg.has_table("supabase_migrations.schema_migrations"));
    case.with_target(&["db", "status"]).code(6);
}

#[test]
fn migrate_on_a_fresh_database_exits_6_and_names_db_push() {
    let case = Case::seeded(CALLS, 50);
    case.migrate(&[])
        .code(6)
        .stderr_has(&["not current", "ava db push"]);
    assert!(
        !case.pg.has_table("public.customers"),
        "migrate created tables"
    );
    case.migrate(&["--dry-run"])
        .code(6)
        .stderr_has(&["ava db push"]);
}

#[test]
fn push_and_migrate_work_beside_unrelated_tables() {
    let case = Case::seeded(CALLS, 51);
    case.pg.exec(
        "create table public.other (id bigint primary key, note text);
         insert into public.other values (1, 'keep me');
         create schema app; create table app.settings (k text primary key, v text);
         insert into app.settings values ('theme', 'dark');",
    );
    case.push();
    case.with_target(&["db", "status"]).ok();
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    assert_eq!(
        case.pg
            .one::<String>("select note from public.other where id = 1"),
        "keep me"
    );
    assert_eq!(case.pg.one::<String>("select v from app.settings"), "dark");
}

#[test]
fn target_schema_that_differs_exits_6_listing_each_difference() {
    let case = Case::pushed(CALLS, 52);
    case.pg.exec(
        "alter table customers alter column notes type character varying(10);
         drop index ix_call_events_event_type;",
    );
    case.migrate(&[]).code(6).stderr_has(&[
        "customers.notes: expected text, found character varying(10)",
        "ix_call_events_event_type",
    ]);
    assert_eq!(case.pg.counts(), [0; 5]);
}

#[test]
fn a_history_with_an_unknown_version_is_not_current() {
    let case = Case::pushed(CALLS, 53);
    case.pg.exec(
        "insert into supabase_migrations.schema_migrations (version, name) \
         values ('29990101000000', 'from_the_future')",
    );
    case.with_target(&["db", "status"])
        .code(6)
        .stdout_has(&["29990101000000", "unknown to this build"]);
    case.migrate(&[]).code(6).stderr_has(&["29990101000000"]);
    let out = case.with_target(&["db", "push"]);
    assert_ne!(out.code, 0, "{out}");
    out.stderr_has(&["29990101000000"]);
    assert_eq!(case.pg.counts(), [0; 5]);
}
