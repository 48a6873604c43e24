//! Far from the server, as every Supabase user is: `ava migrate` and `ava sync` through
//! the project's latency proxy (`ava-netproxy`, a real TCP hop on loopback with a delay
//! each way), killed with SIGKILL at each phase and run again at once, and with every
//! connection cut mid-copy and mid-index-build. The server outlives the client, as
//! across a real network: the next run must recognise the dead run's sessions, wait for
//! them, and finish exactly.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ava_netproxy::{Proxy, Shape};

use crate::support::*;

/// 4 ms each way: a short distance, so the tests stay quick, but every round trip pays.
const DELAY: Duration = Duration::from_millis(4);

/// A proxy in front of `case`'s server, and the database URL through it.
fn far(case: &Case) -> (Proxy, String) {
    let url = url::Url::parse(&case.db.url).unwrap_or_else(|e| {
        panic!(
            "the network tests need a TCP URL for the test server (TEST_DATABASE_URL), \
             not {:?}: {e}",
            case.db.url
        )
    });
    let host = url.host_str().unwrap_or("127.0.0.1");
    let upstream: SocketAddr = format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .unwrap_or_else(|e| panic!("the test server's host {host} is not an address: {e}"));
    let proxy = Proxy::start(
        upstream,
        Shape {
            delay: DELAY,
            bandwidth: None,
        },
    )
    .unwrap();
    let through = proxy.url_for(&case.db.url).unwrap();
    (proxy, through)
}

/// `ava args… --sqlite <source> --database-url <url>` started, its stderr lines sent
/// to the receiver as they come.
fn spawn(case: &Case, url: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ava"))
        .current_dir(case.dir.path())
        .env_remove("DATABASE_URL")
        .args(args)
        .arg("--sqlite")
        .arg(&case.sqlite)
        .args(["--database-url", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line of `lines` containing `marker`; `false` if the run ended first.
fn wait_for(lines: &mpsc::Receiver<String>, marker: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains(marker) => return true,
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
    panic!("the run never printed {marker:?}");
}

/// Runs `ava args…` through `url` to the end.
fn through(case: &Case, url: &str, args: &[&str]) -> Out {
    Out::of(
        case.ava()
            .args(args)
            .arg("--sqlite")
            .arg(&case.sqlite)
            .args(["--database-url", url]),
    )
}

/// The phases a run can be killed in, by the line that starts each.
const KILL_POINTS: [&str; 5] = [
    "copying while the SQLite file is read",
    "copying call_sessions",
    "indexes while the copy goes on",
    "indexes and constraints on",
    "moving the id sequences",
];

/// `kill -9` at each phase, then `ava migrate --resume` at once: it waits for the dead
/// run's sessions (saying so) instead of colliding with them, and finishes exactly.
#[test]
fn migrate_killed_at_any_phase_resumes_at_once() {
    let mut interrupted = Vec::new();
    for (i, point) in KILL_POINTS.into_iter().enumerate() {
        let case = Case::pushed(3000, 90 + i as u64);
        let (_proxy, url) = far(&case);
        let (mut child, lines) = spawn(&case, &url, &["migrate", "--batch-size", "500"]);
        let reached = wait_for(&lines, point);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !reached || status.success() {
            // It finished before the kill landed: nothing to resume, still exact.
            case.verify(&[]).ok();
            continue;
        }
        interrupted.push(point);
        let resumed = through(&case, &url, &["migrate", "--resume"]);
        assert_eq!(resumed.code, 0, "killed at {point:?}:\n{resumed}");
        case.verify(&[]).ok();
        case.pg.assert_sequences_past_max_id();
        // No session of either run is left.
        let left: i64 = case.pg.one(
            "select count(*) from pg_stat_activity where datname = current_database() \
             and application_name like 'ava migrate %'",
        );
        assert_eq!(left, 0, "killed at {point:?}");
    }
    // The distance makes every phase last: each kill should land inside its run.
    assert!(
        interrupted.len() >= 4,
        "only {interrupted:?} of {KILL_POINTS:?} interrupted a run"
    );
}

/// A dead run's session that outlasts the wait is named with the SQL that ends it, and
/// `--takeover` ends it. (The stand-in is a session of the dead run's name holding
/// ava's migrate lock, as a run killed across a network leaves one until the server
/// notices.)
#[test]
fn sessions_a_dead_run_left_are_named_or_taken_over() {
    let case = Case::pushed(300, 95);
    let (_proxy, url) = far(&case);
    let ghost = Pg::connect(&case.db.url);
    // A process id that cannot exist on this machine, with this machine's name.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    ghost.exec(&format!(
        "set application_name = 'ava migrate 4294967295@{host}'; \
         select pg_advisory_lock({})",
        0x6176_6120_6d69_6772_i64
    ));
    let pid: i32 = ghost.one("select pg_backend_pid()");
    let refused = through(&case, &url, &["migrate", "--wait-secs", "1"]);
    refused.code(4).stderr_has(&[
        "the server sessions of another run are still there after 1 s",
        &format!("pid {pid}"),
        "pg_terminate_backend",
        "--takeover",
    ]);
    let taken = through(&case, &url, &["migrate", "--wait-secs", "1", "--takeover"]);
    assert_eq!(taken.code, 0, "{taken}");
    assert!(
        taken.stderr.contains("--takeover: ending 1 session"),
        "{taken}"
    );
    case.verify(&[]).ok();
}

/// Every connection cut mid-copy: the copy reconnects and finishes on its own. Cut
/// mid-index-build: the run stops or finishes; `--resume` at once completes it. Either
/// way the result is exact.
#[test]
fn cut_connections_mid_copy_and_mid_build_end_exact() {
    for (i, point) in ["copying call_events", "indexes and constraints on"]
        .into_iter()
        .enumerate()
    {
        let case = Case::pushed(3000, 96 + i as u64);
        let (proxy, url) = far(&case);
        let (mut child, lines) = spawn(&case, &url, &["migrate", "--batch-size", "500"]);
        assert!(wait_for(&lines, point), "the run ended before {point:?}");
        assert!(proxy.cut() > 0, "{point}: nothing to cut");
        let status = child.wait().unwrap();
        if point.starts_with("copying") {
            assert!(status.success(), "a cut mid-copy is retried: {status}");
        } else if !status.success() {
            let resumed = through(&case, &url, &["migrate", "--resume"]);
            assert_eq!(resumed.code, 0, "{resumed}");
        }
        case.verify(&[]).ok();
        case.pg.assert_sequences_past_max_id();
    }
}

/// `ava sync` killed inside its transaction, then run again at once: it waits for the
/// dead sync's session and makes the target equal to the file.
#[test]
fn sync_killed_in_its_transaction_runs_again_at_once() {
    let case = Case::migrated(2000, 98);
    let (proxy, url) = far(&case);
    case.lite(
        "update call_sessions set sentiment = 'negative' where id % 20 = 0; \
         delete from call_events where id % 50 = 0;",
    );
    let before = case.pg.fingerprint();
    let (mut child, lines) = spawn(&case, &url, &["sync"]);
    assert!(
        wait_for(&lines, "writing the differences"),
        "the sync ended before writing"
    );
    // Held by the network from here: the transaction cannot commit before the kill.
    proxy.pause();
    let _ = child.kill();
    let status = child.wait().unwrap();
    proxy.resume();
    assert!(!status.success(), "the sync finished before the kill");
    assert_eq!(
        case.pg.fingerprint(),
        before,
        "the killed sync's transaction left changes"
    );
    let again = through(&case, &url, &["sync"]);
    assert_eq!(again.code, 0, "{again}");
    case.verify(&[]).ok();
}
