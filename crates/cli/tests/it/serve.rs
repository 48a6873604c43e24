//! `ava serve` as a process: it answers, and SIGTERM stops it cleanly after the
//! requests in flight; guards that leave a route group open, an open server beyond
//! loopback and flags out of range are refused before anything is opened.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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
