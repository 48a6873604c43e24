//! `ava verify --api`: the read routes asked the same requests over the SQLite file and
//! over the target; a value changed in Postgres is named by request and JSON path.

use serde_json::Value;

use crate::support::*;

#[test]
fn verify_api_passes_on_a_copy_and_names_a_changed_outcome() {
    let case = Case::migrated(CALLS, 60);
    let before = snapshot_file(&case.sqlite);
    case.verify(&["--api"]).ok().stdout_has(&[
        "overview",
        "calls",
        "transcript",
        "customers",
        "history",
        "verified: the API answers",
    ]);
    // The app's file is only read: not a byte, not a -wal or -shm beside it, changes.
    assert_eq!(
        snapshot_file(&case.sqlite),
        before,
        "verify --api changed the file"
    );

    // The last call is in the sample (first and last ids are always asked).
    let id: i64 = sqlite::one(&case.sqlite, "select max(id) from call_sessions");
    let outcome: Option<String> = sqlite::one(
        &case.sqlite,
        &format!("select outcome from call_sessions where id = {id}"),
    );
    let was = outcome.map_or("null".to_string(), |o| format!("\"{o}\""));
    case.pg.exec(&format!(
        "update call_sessions set outcome = 'changed' where id = {id}"
    ));
    case.verify(&["--api"]).code(3).stdout_has(&[
        &format!("✗ GET /api/admin/calls/{id} (status: source 200, target 200)"),
        &format!("$.call.outcome: source {was} ≠ target \"changed\""),
        "DIFFERENT",
    ]);

    let out = case.verify(&["--api", "--json"]).code(3);
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"));
    let request = format!("GET /api/admin/calls/{id}");
    let detail = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request"] == request.as_str())
        .unwrap_or_else(|| panic!("{request} not asked\n{out}"));
    assert_eq!(detail["identical"], false);
    assert_eq!(
        detail["differences"],
        serde_json::json!([{"path": "$.call.outcome", "source": was, "target": "\"changed\""}])
    );
}

#[test]
fn verify_api_refuses_a_missing_file() {
    let case = Case::pushed(CALLS, 61);
    let missing = case.dir.path().join("missing.db");
    case.with_both_file(&["verify", "--api"], &missing)
        .code(1)
        .stderr_has(&["missing.db: no such file"]);
    assert!(!missing.exists());
}
