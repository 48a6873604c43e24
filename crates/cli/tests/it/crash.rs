//! Crash safety: `ava migrate` killed with SIGKILL at several points of a real run, then
//! found by the next plain run and finished by `--resume` with no duplicate and no gap.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Where to kill the run: once this many batches are committed (None: once every row is
/// copied, while the indexes are being built or the sequences set).
const KILL_POINTS: [Option<i64>; 3] = [Some(1), Some(25), None];

#[test]
fn killed_runs_are_named_and_resumed_without_duplicates_or_gaps() {
    let mut interrupted = 0;
    for (i, point) in KILL_POINTS.into_iter().enumerate() {
        let case = Case::pushed(2000, 70 + i as u64);
        let total: i64 = sqlite::counts(&case.sqlite).iter().sum();
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("ava"))
            .current_dir(case.dir.path())
            .env_remove("DATABASE_URL")
            .args([
                "migrate",
                "--batch-size",
                "100",
                "--database-url",
                &case.db.url,
            ])
            .arg("--sqlite")
            .arg(&case.sqlite)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            let (batches, rows): (i64, i64) = {
                let row = case.pg.rows(
                    "select count(*), coalesce(sum(rows), 0)::bigint from ava.migrate_batches",
                    &[],
                );
                (row[0].get(0), row[0].get(1))
            };
            let reached = match point {
                Some(n) => batches >= n,
                None => rows >= total,
            };
            if reached || child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the run never got there"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();

        let plain = case.migrate(&[]);
        if status.success() || plain.code == 0 {
            // The run finished before the kill landed: nothing to resume.
            case.verify(&[]).ok();
            continue;
        }
        interrupted += 1;
        plain.code(4).stderr_has(&["interrupted after", "--resume"]);
        case.migrate(&["--resume"])
            .ok()
            .stdout_has(&["resumed and finished:"]);
        case.verify(&[]).ok();
        // The resumed run recorded every row's hash: sync trusts them.
        case.with_both(&["sync"])
            .ok()
            .stdout_has(&["byte for byte", "nothing written"]);
        // A second resume has nothing left to do.
        case.migrate(&["--resume"])
            .ok()
            .stdout_has(&["already migrated"]);
        case.pg.assert_sequences_past_max_id();
    }
    assert!(interrupted >= 2, "only {interrupted} runs were interrupted");
}

/// The window `killed_runs_…` hits only now and then, made on purpose: a run killed
/// after a child table's batches committed but before one of its parents' did (batches
/// commit table by table, with no barrier between them). The foreign keys it dropped
/// cannot be built over those orphans; the repair adds them `NOT VALID`, a plain run
/// asks for `--resume` as for any interrupted run, and the resume copies the missing
/// parents and builds the keys again, validated.
#[test]
fn a_run_killed_between_a_childs_batch_and_its_parents_is_repaired_and_resumed() {
    let case = Case::pushed(200, 81);
    case.migrate(&["--batch-size", "10"]).ok();
    let run: i64 = case.pg.one("select max(id) from ava.migrate_runs");
    // The customers of one batch, who have appointments and calls, never committed
    // (nor, with them, the batch's ledger row and row hashes).
    let (first, last): (i64, i64) = {
        let row = &case.pg.rows(
            "select b.first_id, b.last_id from ava.migrate_batches b \
             where b.table_name = 'customers' and exists (select 1 from appointments a \
             where a.customer_id between b.first_id and b.last_id) order by b.first_id limit 1",
            &[],
        )[0];
        (row.get(0), row.get(1))
    };
    let keys = "('appointments_customer_id_fkey', 'call_sessions_customer_id_fkey')";
    case.pg.exec(&format!(
        "update ava.migrate_runs set status = 'running', finished_at = null, \
           (deferred_names, deferred_ddl) = (select array_agg(conname::text order by conname), \
             array_agg(format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', \
               conrelid::regclass::text, conname, pg_get_constraintdef(oid)) order by conname) \
             from pg_constraint where conname in {keys}) \
         where id = {run}; \
         alter table appointments drop constraint appointments_customer_id_fkey; \
         alter table call_sessions drop constraint call_sessions_customer_id_fkey; \
         delete from customers where id between {first} and {last}; \
         delete from ava.migrate_batches where table_name = 'customers' and first_id = {first}; \
         delete from ava.source_hashes where table_name = 'customers' and first_id = {first}"
    ));
    let orphans: i64 = case.pg.one(&format!(
        "select count(*) from appointments where customer_id between {first} and {last}"
    ));
    assert!(orphans > 0);

    case.migrate(&[])
        .code(4)
        .stderr_has(&["interrupted after", "--resume"]);
    // The keys are back, guarding every new row, though not yet over the orphans.
    let valid = |case: &Case| -> Vec<bool> {
        case.pg
            .rows(
                &format!(
                    "select convalidated from pg_constraint where conname in {keys} \
                     order by conname"
                ),
                &[],
            )
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(valid(&case), [false, false]);
    case.migrate(&["--resume"])
        .ok()
        .stdout_has(&["resumed and finished:"]);
    assert_eq!(valid(&case), [true, true]);
    case.verify(&[]).ok();
    case.pg.assert_sequences_past_max_id();
}

#[test]
fn resume_without_an_interrupted_run_migrates_as_usual() {
    let case = Case::pushed(200, 80);
    case.migrate(&["--resume"])
        .ok()
        .stdout_has(&["migrated:"])
        .stderr_has(&["no interrupted run to resume"]);
    case.verify(&[]).ok();
}

#[test]
fn a_server_restart_mid_copy_is_retried_and_the_run_finishes() {
    // A cluster of its own: restarting the shared server would cut other tests off.
    let cluster = ava_testpg::Cluster::start().unwrap();
    let admin = Pg::connect(cluster.url());
    admin.exec("create database restart_test");
    let url = match cluster.url().rsplit_once('/') {
        Some((server, _)) => format!("{server}/restart_test"),
        None => panic!("{}", cluster.url()),
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("source.db");
    seed_file(&sqlite, 20_000, 90);
    Out::of(ava_in(dir.path()).args(["db", "push", "--database-url", &url])).ok();

    let child = Command::new(assert_cmd::cargo::cargo_bin("ava"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["migrate", "--batch-size", "200", "--database-url", &url])
        .arg("--sqlite")
        .arg(&sqlite)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Restart once some batches are in: every connection of the run is cut.
    let pg = Pg::connect(&url);
    let started = Instant::now();
    while pg.one::<i64>("select count(*) from ava.migrate_batches") < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch landed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(pg);
    cluster.restart().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the run did not survive the restart:\n{stderr}"
    );
    assert!(stderr.contains("reconnecting"), "{stderr}");
    Out::of(
        ava_in(dir.path())
            .args(["verify", "--database-url", &url])
            .arg("--sqlite")
            .arg(&sqlite),
    )
    .ok();
}
