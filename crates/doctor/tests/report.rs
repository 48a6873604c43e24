//! The doctor's report on real databases (the test server of `ava-testpg`): a fresh
//! one, a migrated one, one with a sequence behind, and one that does not answer.

use ava_doctor::{doctor, Options, Report, Status};
use ava_testpg::TestDb;

const PUSH: &str = "ava db push --database-url URL";

async fn report(url: &str, sqlite: Option<&str>) -> Report {
    let opts = Options {
        url: url.to_string(),
        push: PUSH.into(),
        sqlite: sqlite.map(Into::into),
    };
    let mut seen = Vec::new();
    let report = doctor(&opts, |check| seen.push(check.clone())).await;
    // Every check is handed on as it is made, in the report's order.
    assert_eq!(seen, report.checks);
    report
}

/// The one check named `name`.
#[track_caller]
fn only<'a>(report: &'a Report, name: &'a str) -> &'a ava_doctor::Check {
    let mut named = report.named(name);
    let check = named
        .next()
        .unwrap_or_else(|| panic!("no {name} check: {report:#?}"));
    assert!(named.next().is_none(), "more than one {name} check");
    check
}

async fn migrated() -> TestDb {
    let db = TestDb::new();
    let mut client = db.client().await;
    ava_migrations::push(&mut client, false).await.unwrap();
    db
}

#[tokio::test]
async fn a_fresh_database_fails_on_pending_migrations_and_names_the_push() {
    let db = TestDb::new();
    let report = report(&db.url, None).await;
    assert_eq!(only(&report, "connection").status, Status::Fine);
    assert!(only(&report, "connection")
        .detail
        .starts_with("connection: local ("));
    assert_eq!(only(&report, "reachable").status, Status::Fine);
    assert_eq!(only(&report, "tls").status, Status::Fine);
    let migrations = only(&report, "migrations");
    assert_eq!(migrations.status, Status::Fail);
    assert!(migrations.detail.contains("pending"), "{migrations:?}");
    assert_eq!(
        migrations.fix.as_deref(),
        Some("run `ava db push --database-url URL`")
    );
    assert_eq!(only(&report, "tables").status, Status::Fail);
    // Without the tables nothing about them is checked.
    assert_eq!(report.named("row-level security").count(), 0);
    assert_eq!(report.named("sequences").count(), 0);
    assert!(!report.passed());
    assert_eq!(report.failed(), 2, "{report:#?}");
    // The password never shows (there is none here, but the URL is redacted as given).
    assert_eq!(report.target, ava_sink::redact(&db.url));
}

#[tokio::test]
async fn a_migrated_database_passes_and_fine_checks_have_nothing_to_do() {
    let db = migrated().await;
    let report = report(&db.url, None).await;
    for name in [
        "reachable",
        "migrations",
        "schema",
        "row-level security",
        "sequences",
    ] {
        assert_eq!(only(&report, name).status, Status::Fine, "{report:#?}");
    }
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.failed(), 0);
    assert!(report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fine)
        .all(|c| c.fix.is_none()));
    // Row counts are compared only with a SQLite file.
    assert_eq!(report.named("rows").count(), 0);
}

#[tokio::test]
async fn a_sequence_behind_and_an_unreadable_sqlite_file_fail_with_what_to_do() {
    let db = migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "insert into public.customers (id, name, phone) values (42, 'Ann', '+15550100')",
        )
        .await
        .unwrap();
    let missing = std::env::temp_dir().join(format!("ava-doctor-{}-none.db", std::process::id()));
    let report = report(&db.url, Some(missing.to_str().unwrap())).await;
    let sequences = only(&report, "sequences");
    assert_eq!(sequences.status, Status::Fail);
    assert!(
        sequences
            .detail
            .starts_with("sequences: behind max(id) on customers"),
        "{sequences:?}"
    );
    assert!(sequences
        .fix
        .as_deref()
        .is_some_and(|fix| fix.contains("setval(pg_get_serial_sequence('public.customers'")));
    let rows = only(&report, "rows");
    assert_eq!(rows.status, Status::Fail);
    assert_eq!(
        rows.fix.as_deref(),
        Some("pass the app's SQLite file as --sqlite")
    );
    assert_eq!(report.failed(), 2, "{report:#?}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_the_only_failure() {
    // Port 1 on loopback: nothing listens there.
    let report = report("postgresql://postgres@127.0.0.1:1/postgres", None).await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, ["connection", "reachable"]);
    let reachable = only(&report, "reachable");
    assert_eq!(reachable.status, Status::Fail);
    assert!(reachable.detail.starts_with("reachable: "), "{reachable:?}");
    assert!(reachable.fix.is_some());
    assert_eq!((report.failed(), report.warned()), (1, 0));
}
