//! `ava migrate`: dry runs, the idempotency guard, --force, failures part-way, bad input
//! cells, the migrate lock, batches.

use crate::support::*;

/// Makes every insert into call_events fail, from inside the COPY.
const FAILING_TRIGGER: &str = "
    create function test_boom() returns trigger language plpgsql as $$
    begin
        raise exception 'boom from the test trigger';
    end $$;
    create trigger test_boom before insert on call_events
        for each row execute function test_boom();";

const DROP_TRIGGER: &str = "drop trigger test_boom on call_events; drop function test_boom();";

/// The key of ava's migrate lock: `'ava migrate'` in ASCII.
const MIGRATE_LOCK: i64 = 0x6176_6120_6d69_6772;

/// Fills the target of `case` from another seed's file (seed `seed`, `calls` calls).
fn fill_target_from_other_seed(case: &Case, calls: u64, seed: u64) -> std::path::PathBuf {
    let other = case.dir.path().join(format!("other-{seed}.db"));
    seed_file(&other, calls, seed);
    case.with_both_file(&["migrate"], &other).ok();
    other
}

#[test]
fn dry_run_prints_counts_and_writes_nothing() {
    let case = Case::pushed(CALLS, 20);
    let counts = sqlite::counts(&case.sqlite);
    let total: i64 = counts.iter().sum();
    let out = case
        .migrate(&["--dry-run"])
        .ok()
        .stdout_has(&["dry run", "nothing written", "source rows", "target rows"])
        .stdout_has(&[&format!("would: copy {total} rows into the empty target")]);
    for (table, n) in TABLE_NAMES.iter().zip(&counts) {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no line for {table}\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1..3], [n.to_string().as_str(), "0"], "{line}");
    }
    assert_eq!(case.pg.counts(), [0; 5]);
    assert!(case.pg.runs().is_empty(), "a dry run recorded a run");
}

#[test]
fn dry_run_on_the_migrated_target_would_do_nothing() {
    let case = Case::migrated(CALLS, 21);
    let before = case.pg.fingerprint();
    case.migrate(&["--dry-run"])
        .ok()
        .stdout_has(&["would: nothing: the target already holds exactly the source"]);
    assert_eq!(case.pg.fingerprint(), before);
    assert_eq!(case.pg.runs().len(), 1);
}

#[test]
fn dry_run_on_a_target_with_other_rows_exits_4() {
    let case = Case::pushed(CALLS, 22);
    fill_target_from_other_seed(&case, CALLS, 23);
    let before = case.pg.fingerprint();
    let target_counts = case.pg.counts();
    let out = case
        .migrate(&["--dry-run"])
        .code(4)
        .stdout_has(&["would: refuse: the target holds other rows"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("call_events"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().nth(2),
        Some(target_counts[3].to_string().as_str()),
        "{line}"
    );
    assert_eq!(case.pg.fingerprint(), before);
    assert_eq!(case.pg.runs().len(), 1);
}

/// A source with a boolean `'n/a'`, invalid JSON and a datetime in month 13.
fn break_three_cells(case: &Case) {
    case.lite(
        "update customers set is_new_client = 'n/a' where id = 3;
         update call_events set data = '{\"intent\": \"book\", ' where id = 7;
         update call_sessions set started_at = '2025-13-01' where id = 11;",
    );
}

const THREE_BAD_CELLS: [&str; 6] = [
    "customers id 3, column is_new_client",
    "\"n/a\"",
    "call_events id 7, column data: invalid JSON",
    "intent",
    "call_sessions id 11, column started_at: invalid datetime",
    "\"2025-13-01\"",
];

#[test]
fn dry_run_with_bad_cells_exits_5_and_lists_them() {
    let case = Case::pushed(CALLS, 24);
    break_three_cells(&case);
    case.migrate(&["--dry-run"])
        .code(5)
        .stdout_has(&["3 cell(s) cannot be stored faithfully", "would: refuse"])
        .stdout_has(&THREE_BAD_CELLS);
    assert_eq!(case.pg.counts(), [0; 5]);
    assert!(case.pg.runs().is_empty());
}

#[test]
fn bad_cells_exit_5_naming_table_id_column_and_value() {
    let case = Case::pushed(CALLS, 25);
    break_three_cells(&case);
    let schema = schema_objects(&case.pg);
    // A plain run into an empty target copies while it reads the file: what it copied
    // before the first bad row is removed again, the dropped indexes built again.
    case.migrate(&[])
        .code(5)
        .stderr_has(&[
            "3 cell(s) cannot be stored faithfully; the rows copied while the file was read \
             were removed again: the target is empty, as it was",
        ])
        .stderr_has(&THREE_BAD_CELLS);
    assert_eq!(case.pg.counts(), [0; 5]);
    assert!(case.pg.runs().is_empty(), "a refused run was recorded");
    assert_eq!(schema_objects(&case.pg), schema);
    // Into a target that is not empty, the whole file is checked before anything is
    // written.
    let full = Case::migrated(CALLS, 25);
    break_three_cells(&full);
    let before = full.pg.fingerprint();
    full.migrate(&["--force"])
        .code(5)
        .stderr_has(&["3 cell(s) cannot be stored faithfully; nothing was written"]);
    assert_eq!(full.pg.fingerprint(), before);
}

/// The indexes and constraints of the public schema, each with its definition.
fn schema_objects(pg: &Pg) -> Vec<String> {
    pg.rows(
        "select indexdef from pg_indexes where schemaname = 'public' \
         union all select conname || ' ' || pg_get_constraintdef(oid) from pg_constraint \
         where connamespace = 'public'::regnamespace order by 1",
        &[],
    )
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn force_into_an_empty_target_copies() {
    let case = Case::pushed(CALLS, 27);
    case.migrate(&["--force"]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn every_kind_of_bad_cell_is_named() {
    let case = Case::pushed(CALLS, 26);
    case.lite(&format!(
        "update customers set notes = cast(x'610062' as text) where id = 4;
         update customers set name = cast(x'ff41' as text) where id = 5;
         update customers set name = '{long}' where id = 6;
         update customers set is_pregnant = 2 where id = 7;
         update appointments set appointment_datetime = '' where id = 1;
         update call_sessions set duration_seconds = 3000000000 where id = 3;
         update call_sessions set transcript = x'00ff' where id = 4;
         update call_sessions set satisfaction_score = 'abc' where id = 5;
         update call_sessions set satisfaction_score = 9e999 where id = 6;
         update call_events set timestamp = '2025-08-25 11:49:59.1234567' where id = 1;
         update call_events set timestamp = '2025-08-25 23:59:60' where id = 2;
         update call_events set timestamp = ' 2025-08-25' where id = 3;
         update call_events set timestamp = '2025-08-25T11:49:59+16:00' where id = 4;
         update call_events set data = '{{\"a\": \"\\u0000\"}}' where id = 5;
         update call_events set data = '{{\"a\": 1}} trailing' where id = 6;
         update call_events set timestamp = '2025-02-30' where id = 7;
         update daily_metrics set date = '10000-01-01' where id = 1;",
        long = "a".repeat(256)
    ));
    let out = case.migrate(&[]).code(5).stderr_has(&[
        "17 cell(s) cannot be stored faithfully",
        "customers id 4, column notes: text contains a NUL byte",
        "customers id 5, column name: text is not valid UTF-8",
        "customers id 6, column name: 256 characters is longer than varchar(255)",
        "customers id 7, column is_pregnant: 2 is not 0 or 1",
        "appointments id 1, column appointment_datetime: empty string in a NOT NULL",
        "call_sessions id 3, column duration_seconds: integer 3000000000 is out of range",
        "call_sessions id 4, column transcript: BLOB where text was expected",
        "call_sessions id 5, column satisfaction_score: TEXT where a number was expected: \"abc\"",
        "call_sessions id 6, column satisfaction_score: non-finite number",
        "call_events id 1, column timestamp: invalid datetime: finer than a microsecond",
        "call_events id 2, column timestamp: invalid datetime: leap second",
        "call_events id 3, column timestamp: invalid datetime: surrounding white space",
        "call_events id 4, column timestamp: invalid datetime: zone offset",
        "call_events id 5, column data: invalid JSON: \\u0000",
        "call_events id 6, column data: invalid JSON",
        "call_events id 7, column timestamp: invalid datetime: bad date",
        "daily_metrics id 1, column date: invalid datetime",
    ]);
    assert!(
        !out.stderr.contains(&"a".repeat(100)),
        "the excerpt is not short\n{out}"
    );
    assert_eq!(case.pg.counts(), [0; 5]);
}

#[test]
fn second_migrate_says_already_migrated_and_writes_nothing() {
    let case = Case::migrated(CALLS, 27);
    let before = case.pg.fingerprint();
    case.migrate(&[])
        .ok()
        .stdout_has(&["already migrated", "nothing written"]);
    // --force on an identical target does not rewrite it either.
    case.migrate(&["--force"])
        .ok()
        .stdout_has(&["already migrated"]);
    assert_eq!(case.pg.fingerprint(), before);
    assert_eq!(
        case.pg.runs().len(),
        1,
        "an already-migrated run wrote a run row"
    );
}

#[test]
fn target_with_one_changed_row_is_refused() {
    let case = Case::migrated(CALLS, 28);
    case.pg
        .exec("update customers set name = name || ' (edited in Postgres)' where id = 2");
    let before = case.pg.fingerprint();
    let counts = case.pg.counts();
    case.migrate(&[]).code(4).stderr_has(&[
        "already holds rows that are not the source's",
        &format!("customers: {} rows", counts[0]),
        &format!("call_events: {} rows", counts[3]),
        "nothing was written",
        "--force",
    ]);
    assert_eq!(case.pg.fingerprint(), before);
    assert_eq!(case.pg.runs().len(), 1);
}

#[test]
fn target_from_another_seed_is_refused() {
    let case = Case::pushed(CALLS, 29);
    fill_target_from_other_seed(&case, 250, 30);
    let before = case.pg.fingerprint();
    let counts = case.pg.counts();
    assert_ne!(counts, sqlite::counts(&case.sqlite));
    let out = case.migrate(&[]).code(4);
    for (table, n) in TABLE_NAMES.iter().zip(&counts) {
        assert!(
            out.stderr.contains(&format!("{table}: {n} rows")),
            "stderr does not name {table} with {n} rows\n{out}"
        );
    }
    assert_eq!(case.pg.fingerprint(), before);
    assert_eq!(case.pg.runs().len(), 1);
}

#[test]
fn force_replaces_a_differing_target() {
    let case = Case::seeded(300, 31);
    case.push();
    fill_target_from_other_seed(&case, CALLS, 32);
    case.migrate(&["--force"])
        .ok()
        .stdout_has(&["replaced (--force)"]);
    case.verify(&[]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    let runs = case.pg.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[1].0.as_str(), runs[1].1.as_str()), ("done", "force"));
    let total: i64 = sqlite::counts(&case.sqlite).iter().sum();
    assert_eq!(runs[1].2, total);
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn force_failing_part_way_keeps_the_previous_rows() {
    let case = Case::pushed(CALLS, 33);
    fill_target_from_other_seed(&case, 250, 34);
    case.pg.exec(FAILING_TRIGGER);
    let before = case.pg.fingerprint();
    let counts = case.pg.counts();

    let out = case.migrate(&["--force"]);
    assert_ne!(out.code, 0, "{out}");
    let out = out.stderr_has(&["call_events", "boom from the test trigger", "previous rows"]);
    assert_eq!(case.pg.counts(), counts, "{out}");
    assert_eq!(case.pg.fingerprint(), before, "the previous rows changed");
    let runs = case.pg.runs();
    let last = runs.last().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("failed", "force"));
    assert!(last.3.is_some(), "{last:?}");

    // Fixed, the same command succeeds.
    case.pg.exec(DROP_TRIGGER);
    case.migrate(&["--force"]).ok();
    case.verify(&[]).ok();
}

#[test]
fn plain_run_failing_part_way_empties_the_target_again() {
    let case = Case::pushed(CALLS, 35);
    case.pg.exec(FAILING_TRIGGER);
    let out = case.migrate(&["--batch-size", "10"]);
    assert_ne!(out.code, 0, "{out}");
    let out = out.stderr_has(&["copying call_events failed", "boom from the test trigger"]);
    assert_eq!(
        case.pg.counts(),
        [0; 5],
        "the target was left half-loaded\n{out}"
    );
    let runs = case.pg.runs();
    assert_eq!(runs.len(), 1);
    let (status, mode, copied, detail) = &runs[0];
    assert_eq!((status.as_str(), mode.as_str()), ("failed", "copy"));
    // Batches of the first tables were committed before call_events failed.
    assert!(
        *copied > 0,
        "no batch was committed before the failure: {runs:?}"
    );
    assert!(detail.is_some(), "{runs:?}");

    // Fixed, a plain run copies into the (again empty) target.
    case.pg.exec(DROP_TRIGGER);
    case.migrate(&[]).ok().stdout_has(&["migrated:"]);
    case.verify(&[]).ok();
}

#[test]
fn a_failed_run_records_why_it_failed() {
    let case = Case::pushed(CALLS, 47);
    case.pg.exec(FAILING_TRIGGER);
    let out = case.migrate(&[]);
    assert_ne!(out.code, 0, "{out}");
    let runs = case.pg.runs();
    assert_eq!(runs.len(), 1);
    let detail = runs[0].3.as_deref().unwrap_or("");
    assert!(
        detail.contains("boom from the test trigger"),
        "the run's detail does not say why it failed: {detail:?}\n{out}"
    );
}

#[test]
fn interrupted_run_is_named_and_refused_until_force() {
    let case = Case::migrated(CALLS, 36);
    // What a killed run leaves: some tables partly loaded, its row still `running`.
    case.pg.exec(
        "delete from call_events where id > 50; delete from daily_metrics;
         insert into ava.migrate_runs (mode, source, rows_copied) values ('copy', 'killed.db', 1234);",
    );
    case.migrate(&[])
        .code(4)
        .stderr_has(&["interrupted after 1234 rows", "--force"]);
    case.migrate(&["--force"]).ok().stdout_has(&[
        "note: an earlier run",
        "interrupted after 1234 rows",
        "this run replaced it",
    ]);
    case.verify(&[]).ok();
    let runs = case.pg.runs();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1].0, "failed");
    assert!(
        runs[1].3.as_deref().unwrap_or("").contains("superseded"),
        "{runs:?}"
    );
    assert_eq!((runs[2].0.as_str(), runs[2].1.as_str()), ("done", "force"));
}

#[test]
fn run_killed_before_its_sequences_were_set_is_finished_by_the_next() {
    let case = Case::migrated(CALLS, 37);
    // A run killed after its last batch committed but before `finish` (sequences and
    // `done`) committed: every row is there, the sequences are still at 1, its row says
    // `running`. (Rows copied by any other tool look the same: identical rows, sequences
    // at 1.)
    for table in TABLE_NAMES {
        case.pg.exec(&format!(
            "select setval(pg_get_serial_sequence('public.{table}', 'id'), 1, false)"
        ));
    }
    case.pg
        .exec("update ava.migrate_runs set status = 'running', finished_at = null;");
    case.migrate(&[]).ok().stdout_has(&["already migrated"]);
    // The app's next insert must not collide with a copied id.
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn another_run_holding_the_lock_is_refused_as_busy() {
    let case = Case::pushed(CALLS, 38);
    case.pg
        .rows("select pg_advisory_lock($1)", &[&MIGRATE_LOCK]);
    case.migrate(&[])
        .code(4)
        .stderr_has(&["another `ava migrate` is running"]);
    assert_eq!(case.pg.counts(), [0; 5]);
    assert!(case.pg.runs().is_empty());
    case.pg
        .rows("select pg_advisory_unlock($1)", &[&MIGRATE_LOCK]);
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
}

#[test]
fn small_batches_copy_the_same_rows() {
    let case = Case::pushed(CALLS, 39);
    let total: i64 = sqlite::counts(&case.sqlite).iter().sum();
    case.migrate(&["--batch-size", "7"]).ok();
    case.verify(&[]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    let runs = case.pg.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].0.as_str(), runs[0].2), ("done", total));
}

/// Points call_events 5 at a call session that does not exist. The app's SQLite does not
/// enforce foreign keys (Python's sqlite3 leaves them off); rusqlite's bundled build
/// turns them on, so turn them off as the app has them.
fn orphan_event(case: &Case) {
    case.lite(
        "pragma foreign_keys = off;
         update call_events set call_session_id = 999999 where id = 5;",
    );
}

#[test]
fn a_run_failing_on_a_constraint_leaves_the_target_empty() {
    let case = Case::pushed(CALLS, 48);
    orphan_event(&case);
    let out = case.migrate(&[]);
    assert_ne!(out.code, 0, "{out}");
    out.stderr_has(&["call_events", "999999"]);
    assert_eq!(case.pg.counts(), [0; 5]);
    assert!(case.pg.runs().iter().all(|r| r.0 == "failed"));
}

#[test]
fn orphan_rows_are_found_before_anything_is_written() {
    let case = Case::pushed(CALLS, 49);
    orphan_event(&case);
    let dry = case.migrate(&["--dry-run"]);
    let real = case.migrate(&[]);
    assert_eq!(
        dry.code, real.code,
        "the dry run's exit code is not the real run's\n{dry}\n{real}"
    );
    assert_eq!(real.code, 5, "{real}");
    dry.stdout_has(&["call_events id 5, column call_session_id"]);
    assert!(case.pg.runs().is_empty(), "the run wrote before it failed");
}

#[test]
fn a_table_with_only_negative_ids_migrates() {
    let case = Case::pushed(CALLS, 54);
    case.lite("update daily_metrics set id = -id");
    case.migrate(&[]).ok();
    case.verify(&[]).ok();
    // Every id is below 1, so the next one is 1.
    let id: i64 = case
        .pg
        .one("insert into daily_metrics (date) values ('2099-01-01 00:00:00+00') returning id");
    assert_eq!(id, 1);
}

#[test]
fn an_empty_source_migrates_to_an_empty_target() {
    let case = Case::pushed(CALLS, 55);
    case.lite(
        "delete from call_events; delete from appointments; delete from call_sessions;
         delete from customers; delete from daily_metrics;",
    );
    case.migrate(&["--dry-run"])
        .ok()
        .stdout_has(&["would: copy 0 rows"]);
    case.migrate(&[]).ok().stdout_has(&["migrated:"]);
    case.verify(&[]).ok();
    assert_eq!(case.pg.counts(), [0; 5]);
    assert_eq!(case.pg.runs().len(), 1);
    assert_eq!(
        case.pg.one::<i64>(
            "insert into customers (name, phone) values ('First', '+15550000001') returning id"
        ),
        1
    );
}

#[test]
fn indexes_an_interrupted_run_dropped_are_built_again() {
    let case = Case::pushed(CALLS, 56);
    // What a run killed during its load leaves: its recipe recorded, the index gone.
    let ddl: String = case
        .pg
        .one("select pg_get_indexdef('public.ix_customers_phone'::regclass)");
    case.pg.exec("drop index public.ix_customers_phone");
    case.pg.exec(&format!(
        "insert into ava.migrate_runs (mode, source, deferred_names, deferred_ddl) \
         values ('copy', 'killed', '{{ix_customers_phone}}', ARRAY[$${ddl}$$])"
    ));
    case.migrate(&["--dry-run"])
        .code(4)
        .stderr_has(&["interrupted after dropping 1 indexes"]);
    case.migrate(&[]).ok().stdout_has(&["migrated:"]);
    case.verify(&[]).ok();
    let n: i64 = case
        .pg
        .one("select count(*) from pg_indexes where indexname = 'ix_customers_phone'");
    assert_eq!(n, 1);
}

#[test]
fn on_error_skip_copies_the_rest_and_writes_every_rejected_row() {
    let case = Case::pushed(CALLS, 57);
    case.lite(
        "update customers set is_new_client = 'n/a' where id = 3;
         update call_events set data = '{\"broken' where id = 7;",
    );
    let rejects = case.dir.path().join("rejects.jsonl");
    let rejects_arg = rejects.to_str().unwrap();
    case.migrate(&["--on-error", "skip"]).code(2);
    let out = case
        .migrate(&["--on-error", "skip", "--rejects", rejects_arg])
        .ok()
        .stdout_has(&["rejected row(s) written to", "migrated:"]);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |table: &str, id: i64| {
        lines
            .iter()
            .find(|l| l["table"] == table && l["id"] == id)
            .unwrap_or_else(|| panic!("{table} {id} not rejected\n{out}"))
    };
    let customer = find("customers", 3);
    assert_eq!(customer["row"]["is_new_client"], "n/a");
    assert_eq!(customer["reasons"][0]["column"], "is_new_client");
    find("call_events", 7);
    // Every child of customer 3 is rejected too, marked as such; nothing else is.
    let children: i64 = sqlite::one(
        &case.sqlite,
        "select (select count(*) from appointments where customer_id = 3) + \
                (select count(*) from call_sessions where customer_id = 3) + \
                (select count(*) from call_events where id <> 7 and call_session_id in \
                   (select id from call_sessions where customer_id = 3))",
    );
    let cascaded = lines
        .iter()
        .filter(|l| {
            l["reasons"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("which is rejected"))
        })
        .count() as i64;
    assert_eq!(cascaded, children);
    assert_eq!(lines.len() as i64, 2 + children);

    let source: i64 = sqlite::counts(&case.sqlite).iter().sum();
    let target: i64 = case.pg.counts().iter().sum();
    assert_eq!(target, source - lines.len() as i64);
    // The rest is exact; without the rejects file the rejected rows show as missing.
    case.verify(&["--rejects", rejects_arg]).ok();
    case.verify(&[]).code(3);
    // Migrating again with the same rejects is "already migrated".
    case.migrate(&["--on-error", "skip", "--rejects", rejects_arg])
        .ok()
        .stdout_has(&["already migrated"]);
}
