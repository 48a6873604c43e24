//! `ava serve` as a process: it answers, and SIGTERM stops it cleanly after the
//! requests in flight; guards that leave a route group open, an open server beyond
//! loopback and flags out of range are refused before anything is opened; an existing
//! SQLite file it cannot serve is refused as `ava migrate` refuses it, unchanged.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A port nobody listens on (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.0; the whole answer, or `None` if nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ava_database.db");
    let port = free_port();
    let ava = assert_cmd::cargo::cargo_bin("ava");
    let mut child = Std::new(ava)
        .args(["serve", "--insecure-open", "--sqlite", db.to_str().unwrap()])
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("ADMIN_API_TOKEN")
        .env_remove("INGEST_API_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let health = loop {
        if let Some(answer) = get(port, "/health") {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "ava serve never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.starts_with("HTTP/1.0 200"), "{health}");
    assert!(health.contains("\"store\":\"sqlite\""), "{health}");
    assert!(db.is_file(), "the SQLite file was not created");
    // An unknown call is a JSON 404, as the original answered.
    let missing = get(port, "/api/admin/calls/1").unwrap();
    assert!(
        missing.contains("404") && missing.contains("Call not found"),
        "{missing}"
    );

    let term = Std::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "ava serve ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("shutting down"), "{log}");
    // One line per request, with its status.
    assert!(
        log.contains("path=/health") && log.contains("status=200"),
        "{log}"
    );
    assert!(
        get(port, "/health").is_none(),
        "still listening after it stopped"
    );
}

/// `ava serve` with `args` (in a fresh folder, no tokens in the environment): it is
/// refused with `code`, saying each of `says`, and the SQLite file is never created.
fn refused(args: &[&str], code: i32, says: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = Out::of(
        ava_in(dir.path())
            .args(["serve", "--sqlite", "x.db"])
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("ADMIN_API_TOKEN")
            .env_remove("INGEST_API_TOKEN")
            .env_remove("SUPABASE_JWT_SECRET")
            .env_remove("SUPABASE_JWKS"),
    );
    assert!(
        !dir.path().join("x.db").exists(),
        "the refused run created the file: {args:?}"
    );
    out.code(code).stderr_has(says);
}

#[test]
fn serve_refuses_guards_that_leave_a_door_open() {
    refused(
        &["--addr", "127.0.0.1:0"],
        1,
        &["no tokens", "ADMIN_API_TOKEN", "--insecure-open"],
    );
    refused(
        &["--addr", "0.0.0.0:0", "--insecure-open"],
        1,
        &["refusing to serve every route open", "0.0.0.0:0"],
    );
    refused(
        &["--admin-token", "a-secret"],
        1,
        &["the write routes would be open", "INGEST_API_TOKEN"],
    );
    refused(
        &["--ingest-token", "i-secret"],
        1,
        &["the admin routes would be open", "ADMIN_API_TOKEN"],
    );
    refused(
        &["--jwt-secret", "a-secret-of-at-least-32-bytes-000000"],
        1,
        &["the write routes would be open", "INGEST_API_TOKEN"],
    );
    refused(
        &[
            "--admin-token",
            "a",
            "--ingest-token",
            "i",
            "--insecure-open",
        ],
        1,
        &["--insecure-open with tokens set"],
    );
}

/// Flags out of their range are usage errors (exit 2) naming the range, never a panic
/// or a server that hangs.
#[test]
fn serve_refuses_flags_out_of_range() {
    refused(&["--insecure-open", "--connections", "0"], 2, &["1..=1000"]);
    refused(
        &["--insecure-open", "--cache-ttl-ms", "3200000000000"],
        2,
        &["0..=3600000"],
    );
    refused(&["--insecure-open", "--cache-mb", "0"], 2, &["1..=4096"]);
}

/// `ava serve --sqlite file` (open, on loopback): exit 1 and one `error:` line, the
/// last, which it returns; the file byte for byte as it was, and the files beside it
/// too (no `-wal` or `-shm` left).
#[track_caller]
fn serve_refuses_file(file: &Path) -> String {
    let before = snapshot_file(file);
    let out = Out::of(
        ava_in(file.parent().unwrap())
            .args([
                "serve",
                "--insecure-open",
                "--addr",
                "127.0.0.1:0",
                "--sqlite",
            ])
            .arg(file)
            .env_remove("ADMIN_API_TOKEN")
            .env_remove("INGEST_API_TOKEN")
            .env_remove("SUPABASE_JWT_SECRET")
            .env_remove("SUPABASE_JWKS"),
    )
    .code(1);
    let error = error_line(&out);
    let (bytes, beside) = snapshot_file(file);
    assert!(bytes == before.0, "the refused file was written\n{out}");
    assert_eq!(beside, before.1, "files appeared or went beside it\n{out}");
    error
}

/// A seeded file at `dir/name` (in WAL mode if `wal`, as a stopped server leaves it: no
/// `-wal` or `-shm` beside it) with its middle page overwritten: the header and schema
/// `ava migrate` checks at open are intact.
fn with_damaged_page(dir: &Path, name: &str, wal: bool) -> PathBuf {
    let path = dir.join(name);
    seed_file(&path, CALLS, 7);
    if wal {
        sqlite::exec(&path, "PRAGMA journal_mode = WAL");
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let middle = bytes.len() / page / 2;
    bytes[middle * page..(middle + 1) * page].fill(0xa5);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Files `ava serve` would have switched to WAL mode, indexed, then failed on (a
/// damaged page), or turned into a database (0 bytes): refused before anything writes
/// to them, with the line `ava migrate` prints for the same file.
#[test]
fn serve_refuses_an_existing_file_it_cannot_serve_and_leaves_it_as_it_was() {
    let case = Case::empty();
    case.push();
    let dir = case.dir.path();
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.db");
    std::fs::write(&text, "name,phone\nAna,+15550000001\n".repeat(30)).unwrap();
    // Another program's database, in WAL mode: reading it creates its -wal and -shm.
    let other = dir.join("other-app.db");
    sqlite::exec(
        &other,
        "PRAGMA journal_mode = WAL; CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)",
    );
    for (file, says) in [
        (
            &empty,
            &["empty.db is empty (0 bytes)", "not a database"][..],
        ),
        (&text, &["notes.db", "text file, not a SQLite database"]),
        (
            &other,
            &[
                "other-app.db is a SQLite database but not the Ava app's",
                "\"users\"",
            ],
        ),
    ] {
        let line = serve_refuses_file(file);
        for w in says {
            assert!(line.contains(w), "lacks {w:?}: {line}");
        }
        let migrate = case.with_both_file(&["migrate", "--dry-run"], file).code(1);
        assert!(
            migrate.stderr.lines().any(|l| l == line),
            "not migrate's line {line:?}\n{migrate}"
        );
    }

    for (name, wal) in [("damaged.db", false), ("damaged-wal.db", true)] {
        let damaged = with_damaged_page(dir, name, wal);
        let line = serve_refuses_file(&damaged);
        for w in [
            &format!("{name} is corrupt"),
            "reading every page",
            "'.recover'",
        ] {
            assert!(line.contains(w), "{name}: lacks {w:?}: {line}");
        }
    }
}

#[test]
fn demo_ends_serving_the_migrated_data_at_its_url() {
    use std::io::BufRead;
    let case = Case::empty();
    let port = free_port();
    let ava = assert_cmd::cargo::cargo_bin("ava");
    let mut child = Std::new(ava)
        .current_dir(case.dir.path())
        .args(["demo", "--dir", "demo", "--calls", "200"])
        .args(["--database-url", &case.db.url])
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let url = format!("http://127.0.0.1:{port}/");
    let mut said = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let done = line.contains(&url);
        said.push(line);
        if done {
            break;
        }
    }
    assert!(said.iter().any(|l| l.contains(&url)), "{}", said.join("\n"));
    let started = Instant::now();
    let overview = loop {
        if let Some(answer) = get(port, "/api/admin/metrics/overview?period=month") {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the demo never served"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(overview.starts_with("HTTP/1.0 200"), "{overview}");
    assert!(overview.contains("\"total_calls\""), "{overview}");
    let page = get(port, "/").unwrap();
    assert!(
        page.starts_with("HTTP/1.0 200") && page.contains("<html"),
        "{page}"
    );
    Std::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
