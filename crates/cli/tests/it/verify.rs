//! `ava verify`: every kind of difference is found and named, in text and in JSON.

use serde_json::Value;

use crate::support::*;

fn json_report(out: &Out) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
}

fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

#[test]
fn verify_passes_on_a_faithful_copy_in_text_and_json() {
    let case = Case::migrated(CALLS, 40);
    case.verify(&[])
        .ok()
        .stdout_has(&["✓ identical", "verified"]);
    let out = case.verify(&["--json"]).ok();
    let report = json_report(&out);
    let counts = sqlite::counts(&case.sqlite);
    for (name, n) in TABLE_NAMES.iter().zip(&counts) {
        let t = table(&report, name);
        assert_eq!(t["source_rows"], *n);
        assert_eq!(t["target_rows"], *n);
        assert_eq!(t["differing_chunks"], 0);
        assert_eq!(t["diffs"], serde_json::json!([]));
    }
}

#[test]
fn verify_names_a_changed_value() {
    let case = Case::migrated(CALLS, 41);
    let name: String = sqlite::one(&case.sqlite, "select name from customers where id = 5");
    case.pg
        .exec("update customers set name = 'Changed In Postgres' where id = 5");
    case.verify(&[]).code(3).stdout_has(&[
        "✗ 1 chunk(s) differ",
        &format!(
            "customers id 5: name: source {} ≠ target \"Changed In Postgres\"",
            quoted(&name)
        ),
        "DIFFERENT",
    ]);
}

#[test]
fn verify_names_a_missing_row() {
    let case = Case::migrated(CALLS, 42);
    case.pg.exec("delete from call_events where id = 10");
    case.verify(&[])
        .code(3)
        .stdout_has(&["call_events id 10: missing in the target"]);
}

#[test]
fn verify_names_an_extra_row() {
    let case = Case::migrated(CALLS, 43);
    let id: i64 = case.pg.rows(
        "insert into daily_metrics (date) values ('2031-01-01') returning id",
        &[],
    )[0]
    .get(0);
    case.verify(&[])
        .code(3)
        .stdout_has(&[&format!("daily_metrics id {id}: in the target only")]);
}

#[test]
fn verify_json_lists_every_difference() {
    let case = Case::migrated(CALLS, 44);
    let name: String = sqlite::one(&case.sqlite, "select name from customers where id = 5");
    case.pg.exec(
        "update customers set name = 'Zed', is_new_client = not is_new_client where id = 5;
         delete from call_events where id = 10;
         insert into daily_metrics (id, date) values (500000, '2031-01-01');",
    );
    let out = case.verify(&["--json"]).code(3);
    let report = json_report(&out);

    let customers = table(&report, "customers");
    assert_eq!(customers["differing_chunks"], 1);
    let diffs = customers["diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{customers}");
    assert_eq!(diffs[0]["id"], 5);
    assert_eq!(diffs[0]["kind"], "changed");
    let columns = diffs[0]["columns"].as_array().unwrap();
    let changed: Vec<&str> = columns
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["name", "is_new_client"]);
    assert_eq!(columns[0]["source"], quoted(&name));
    assert_eq!(columns[0]["target"], "\"Zed\"");

    let events = table(&report, "call_events");
    assert_eq!(
        events["target_rows"],
        events["source_rows"].as_u64().unwrap() - 1
    );
    assert_eq!(
        events["diffs"],
        serde_json::json!([{"id": 10, "kind": "missing"}])
    );

    let metrics = table(&report, "daily_metrics");
    assert_eq!(
        metrics["diffs"],
        serde_json::json!([{"id": 500000, "kind": "extra"}])
    );

    for name in ["appointments", "call_sessions"] {
        let t = table(&report, name);
        assert_eq!(t["differing_chunks"], 0, "{t}");
        assert_eq!(t["diffs"], serde_json::json!([]));
    }
}

#[test]
fn verify_sees_the_smallest_changes() {
    let case = Case::migrated(CALLS, 45);
    let score: f64 = sqlite::one(
        &case.sqlite,
        "select satisfaction_score from call_sessions where satisfaction_score is not null order by id limit 1",
    );
    let id: i64 = sqlite::one(
        &case.sqlite,
        "select id from call_sessions where satisfaction_score is not null order by id limit 1",
    );
    let next = f64::from_bits(score.to_bits() + 1);
    case.pg.rows(
        "update call_sessions set satisfaction_score = $1 where id = $2",
        &[&next, &id],
    );
    case.pg.exec(
        "update call_events set \"timestamp\" = \"timestamp\" + interval '1 microsecond' where id = 3;
         update customers set notes = case when notes is null then '' else null end where id = 8;
         update call_events set data = data || '{\"x\": 1}'::jsonb
             where id = (select min(id) from call_events where jsonb_typeof(data) = 'object');",
    );
    let out = case.verify(&[]).code(3).stdout_has(&[
        &format!("call_sessions id {id}: satisfaction_score: source {score:?} ≠ target {next:?}"),
        "call_events id 3: timestamp:",
        "customers id 8: notes:",
    ]);
    let data_diffs = out
        .stdout
        .lines()
        .filter(|l| l.contains("call_events id") && l.contains(": data:"))
        .count();
    assert_eq!(data_diffs, 1, "{out}");
}

#[test]
fn verify_of_an_empty_target_finds_every_row_missing() {
    let case = Case::pushed(CALLS, 46);
    let out = case.verify(&["--json"]).code(3);
    let report = json_report(&out);
    let t = table(&report, "daily_metrics");
    assert_eq!(t["target_rows"], 0);
    let missing = t["diffs"].as_array().unwrap();
    assert_eq!(missing.len() as i64, sqlite::counts(&case.sqlite)[4]);
    assert!(missing.iter().all(|d| d["kind"] == "missing"));
}

#[test]
fn verify_is_quick_when_ids_are_sparse() {
    let case = Case::pushed(CALLS, 56);
    case.lite("update daily_metrics set id = 1000000000000 where id = 1");
    case.migrate(&[]).ok();
    let out = Out::of(
        case.ava()
            .args(["verify", "--database-url", &case.db.url, "--sqlite"])
            .arg(&case.sqlite)
            .timeout(std::time::Duration::from_secs(30)),
    );
    assert_eq!(out.code, 0, "verify did not finish within 30 s\n{out}");
}

#[test]
fn verify_of_a_database_without_the_schema_exits_6() {
    let case = Case::seeded(CALLS, 57);
    case.verify(&[]).code(6).stderr_has(&["ava db push"]);
}
