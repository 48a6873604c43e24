//! Secrets: a password or token given in the environment, a flag or `.env` never shows in
//! `--help`, in errors or in the server's log; `.env` is read, never written.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const PASSWORD: &str = "s3cr3t-PASSWORD";
const SECRETS: [&str; 5] = [
    "s3cr3t-PASSWORD",
    "tok-SECRET-1",
    "tok-SECRET-2",
    "jwt-SECRET-3",
    "anon-SECRET-4",
];

/// A server that refuses every connection (nothing listens on port 1).
fn refusing_url() -> String {
    format!("postgresql://postgres:{PASSWORD}@127.0.0.1:1/x")
}

/// Every secret ava (or a library it uses) might read from the environment.
fn secret_env(cmd: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    cmd.env("DATABASE_URL", refusing_url())
        .env("ADMIN_API_TOKEN", SECRETS[1])
        .env("INGEST_API_TOKEN", SECRETS[2])
        .env("SUPABASE_JWT_SECRET", SECRETS[3])
        .env("SUPABASE_ANON_KEY", SECRETS[4])
        .env("RUST_LOG", "trace")
}

#[track_caller]
fn no_secret(out: Out) -> Out {
    SECRETS.iter().fold(out, |out, s| out.never_says(s))
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["help"],
        vec!["serve", "--help"],
        vec!["help", "serve"],
        vec!["serve", "-h"],
        vec!["doctor", "--help"],
        vec!["db", "push", "--help"],
        vec!["db", "status", "--help"],
        vec!["migrate", "--help"],
        vec!["sync", "--help"],
        vec!["verify", "--help"],
        vec!["export", "--help"],
        vec!["archive", "--help"],
        vec!["demo", "--help"],
        vec!["seed", "--help"],
    ] {
        let out = no_secret(Out::of(secret_env(&mut ava_in(dir.path())).args(&args))).ok();
        if args.contains(&"serve") {
            out.stdout_has(&["ADMIN_API_TOKEN", "INGEST_API_TOKEN"]);
        }
    }
}

#[test]
fn failing_commands_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    seed_file(&source, 20, 90);
    let source = source.to_str().unwrap();
    let url = refusing_url();
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["db", "status"], 1),
        (vec!["db", "push"], 1),
        (vec!["doctor"], 7),
        (vec!["doctor", "--sqlite", source], 7),
        (vec!["migrate", "--sqlite", source], 1),
        (vec!["sync", "--sqlite", source], 1),
        (vec!["verify", "--sqlite", source], 1),
        (vec!["verify", "--api", "--sqlite", source], 1),
        (vec!["export", "--sqlite", "out.db"], 1),
        (vec!["archive", "--sqlite", source], 1),
        (
            vec!["demo", "--no-serve", "--dir", "demo", "--calls", "5"],
            1,
        ),
        (vec!["migrate", "--sqlite", "missing.db"], 1),
    ];
    for (args, code) in &runs {
        // The URL from the environment, then from the flag.
        no_secret(Out::of(secret_env(&mut ava_in(dir.path())).args(args))).code(*code);
        no_secret(Out::of(
            secret_env(&mut ava_in(dir.path()))
                .args(args)
                .args(["--database-url", &url]),
        ))
        .code(*code);
    }
    // Usage errors name the flags, not their values.
    for args in [
        vec!["serve", "--database-url", &url, "--sqlite", "x.db"],
        vec!["migrate", "--database-url", &url, "--batch-size", "0"],
        vec!["db", "push", "--database-url", &url, "--no-such-flag"],
        vec!["serve", "--admin-token", SECRETS[1], "--no-such-flag"],
    ] {
        no_secret(Out::of(secret_env(&mut ava_in(dir.path())).args(&args))).code(2);
    }
    // A server that cannot listen (the port is taken) with a Postgres URL and tokens.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    no_secret(Out::of(
        secret_env(&mut ava_in(dir.path())).args(["serve", "--addr", &addr]),
    ))
    .code(1);
}

/// `GET path` with the admin token; the whole answer, or `None` if nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        SECRETS[1]
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn the_server_log_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("ava"))
        .current_dir(dir.path())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", refusing_url())
        .env("ADMIN_API_TOKEN", SECRETS[1])
        .env("INGEST_API_TOKEN", SECRETS[2])
        .env("SUPABASE_JWT_SECRET", SECRETS[3])
        .env("SUPABASE_ANON_KEY", SECRETS[4])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let health = loop {
        if let Some(answer) = get(port, "/health") {
            break answer;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("ava serve never answered");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The store does not answer: unhealthy, and the admin route fails on the server.
    let calls = get(port, "/api/admin/calls").unwrap_or_default();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(health.contains("503"), "{health}");
    // Past the guard (the token is right), the store fails: a 500 with the one error
    // shape, nothing of why.
    assert!(
        calls.starts_with("HTTP/1.0 500") || calls.starts_with("HTTP/1.1 500"),
        "{calls}"
    );
    assert!(
        log.contains("127.0.0.1:1"),
        "the log does not name the store:\n{log}"
    );
    for secret in SECRETS {
        for (what, text) in [("log", &log), ("/health", &health), ("/calls", &calls)] {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
    }
}

#[test]
fn dot_env_is_read_never_written() {
    let case = Case::seeded(40, 91);
    let env_file = case.dir.path().join(".env");
    let bytes = format!(
        "# the target\nDATABASE_URL={}\nADMIN_API_TOKEN={}\n\n  # trailing comment, no newline",
        case.db.url, SECRETS[1]
    );
    std::fs::write(&env_file, &bytes).unwrap();
    let modified = std::fs::metadata(&env_file).unwrap().modified().unwrap();
    case.run(&["db", "push"]).ok();
    case.run(&["db", "status"]).ok();
    case.run(&["migrate", "--sqlite", "source.db"]).ok();
    case.run(&["verify", "--sqlite", "source.db"]).ok();
    case.run(&["doctor", "--sqlite", "source.db"]).ok();
    case.run(&["sync", "--sqlite", "source.db"]).ok();
    case.run(&["serve", "--help"]).ok();
    no_secret(case.run(&["db", "status", "--database-url", &refusing_url()])).code(1);
    assert_eq!(std::fs::read_to_string(&env_file).unwrap(), bytes);
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().modified().unwrap(),
        modified
    );
    let env_files: Vec<String> = names_in(case.dir.path())
        .into_iter()
        .filter(|n| n.starts_with(".env"))
        .collect();
    assert_eq!(env_files, [".env"]);
}
