//! The command line itself: where the source and target come from, what is refused and
//! how, passwords, help and usage, `ava seed` and `ava demo`.

use predicates::prelude::*;

use crate::support::*;

#[test]
fn a_sqlite_url_as_target_is_refused() {
    let case = Case::seeded(CALLS, 60);
    for url in ["sqlite:///tmp/ava_database.db", "SQLITE:ava_database.db"] {
        for args in [
            vec!["migrate", "--sqlite", "source.db"],
            vec!["verify", "--sqlite", "source.db"],
            vec!["db", "status"],
        ] {
            let mut all = args.clone();
            all.extend(["--database-url", url]);
            case.run(&all)
                .code(1)
                .stderr_has(&["is a sqlite: URL", "--sqlite"]);
        }
    }
}

#[test]
fn a_missing_sqlite_file_is_named_and_not_created() {
    let case = Case::pushed(CALLS, 61);
    let missing = case.dir.path().join("nope.db");
    for command in ["migrate", "verify"] {
        case.with_both_file(&[command], &missing)
            .code(1)
            .stderr_has(&["nope.db does not exist", "--sqlite"]);
        assert!(!missing.exists(), "{command} created the missing file");
    }
    assert_eq!(case.pg.counts(), [0; 5]);
}

#[test]
fn a_file_that_is_not_the_apps_database_is_refused() {
    let case = Case::pushed(CALLS, 62);
    let text = case.dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    case.with_both_file(&["migrate"], &text)
        .code(1)
        .stderr_has(&["cannot open", "notes.txt"]);

    let other = case.dir.path().join("other.db");
    sqlite::exec(
        &other,
        "create table customers (id integer primary key, name text)",
    );
    case.with_both_file(&["migrate"], &other)
        .code(1)
        .stderr_has(&["customers has no column phone"]);
    case.with_both_file(&["verify"], &other).code(1);
    assert_eq!(case.pg.counts(), [0; 5]);
}

#[test]
fn the_default_sqlite_file_is_found_in_the_current_dir_then_in_backend() {
    let case = Case::pushed(CALLS, 63);
    let backend = case.dir.path().join("backend");
    std::fs::create_dir(&backend).unwrap();
    std::fs::copy(&case.sqlite, backend.join("ava_database.db")).unwrap();
    case.with_target(&["migrate"])
        .ok()
        .stdout_has(&["backend/ava_database.db"]);
    case.with_target(&["verify"]).ok();

    // ./ava_database.db comes first: a different file there is what is compared now.
    let here = case.dir.path().join("ava_database.db");
    seed_file(&here, CALLS, 64);
    case.with_target(&["verify"]).code(3);
    case.with_target(&["migrate", "--force"])
        .ok()
        .never_says("backend/");
    assert_eq!(case.pg.counts(), sqlite::counts(&here));
}

#[test]
fn no_sqlite_file_anywhere_says_what_to_do() {
    let case = Case::pushed(CALLS, 65);
    for command in ["migrate", "verify"] {
        case.with_target(&[command]).code(1).stderr_has(&[
            "no SQLite file",
            "ava_database.db",
            "--sqlite",
        ]);
    }
}

#[test]
fn database_url_is_read_from_dot_env() {
    let case = Case::seeded(CALLS, 66);
    std::fs::write(
        case.dir.path().join(".env"),
        format!("# the target\nDATABASE_URL={}\n", case.db.url),
    )
    .unwrap();
    case.run(&["db", "push"]).ok();
    case.run(&["db", "status"]).ok();
    case.run(&["migrate", "--sqlite", "source.db"]).ok();
    case.run(&["verify", "--sqlite", "source.db"]).ok();
    assert_eq!(case.pg.counts(), sqlite::counts(&case.sqlite));
}

#[test]
fn the_flag_and_the_environment_win_over_dot_env() {
    let case = Case::pushed(CALLS, 67);
    let nowhere = with_dbname(&case.db.url, "ava_test_no_such_database");
    std::fs::write(
        case.dir.path().join(".env"),
        format!("DATABASE_URL={nowhere}\n"),
    )
    .unwrap();
    case.run(&["db", "status"])
        .code(1)
        .stderr_has(&["ava_test_no_such_database"]);
    case.with_target(&["db", "status"]).ok();
    Out::of(
        case.ava()
            .args(["db", "status"])
            .env("DATABASE_URL", &case.db.url),
    )
    .ok();
}

#[test]
fn no_target_anywhere_says_how_to_give_one() {
    let case = Case::seeded(CALLS, 68);
    for args in [
        vec!["db", "push"],
        vec!["db", "status"],
        vec!["migrate", "--sqlite", "source.db"],
        vec!["verify", "--sqlite", "source.db"],
    ] {
        case.run(&args).code(1).stderr_has(&[
            "no target database",
            "--database-url",
            "DATABASE_URL",
            ".env",
        ]);
    }
}

#[test]
fn the_password_is_never_printed() {
    let case = Case::seeded(CALLS, 69);
    let secret = "s3cretpw";
    let url = with_password(&case.db.url, secret);
    let run =
        |args: &[&str], url: &str| Out::of(case.ava().args(args).args(["--database-url", url]));
    let sqlite = case.sqlite.to_str().unwrap();
    run(&["db", "status"], &url).code(6).never_says(secret);
    run(&["migrate", "--sqlite", sqlite], &url)
        .code(6)
        .stderr_has(&["***"])
        .never_says(secret);
    run(&["db", "push", "--dry-run"], &url)
        .ok()
        .never_says(secret);
    run(&["db", "push"], &url)
        .ok()
        .stdout_has(&["***"])
        .never_says(secret);
    run(&["db", "status"], &url).ok().never_says(secret);
    run(&["migrate", "--sqlite", sqlite, "--dry-run"], &url)
        .ok()
        .stdout_has(&["***"])
        .never_says(secret);
    run(&["migrate", "--sqlite", sqlite], &url)
        .ok()
        .stdout_has(&["***"])
        .never_says(secret);
    run(&["migrate", "--sqlite", sqlite], &url)
        .ok()
        .stdout_has(&["already migrated", "***"])
        .never_says(secret);
    run(&["verify", "--sqlite", sqlite], &url)
        .ok()
        .never_says(secret);
    case.pg.exec("delete from call_events where id = 1");
    run(&["migrate", "--sqlite", sqlite], &url)
        .code(4)
        .never_says(secret);
    run(&["verify", "--sqlite", sqlite, "--json"], &url)
        .code(3)
        .never_says(secret);
    // Errors: a database that does not exist, a missing file, the URL from .env.
    let nowhere = with_dbname(&url, "ava_test_no_such_database");
    run(&["migrate", "--sqlite", sqlite], &nowhere)
        .code(1)
        .stderr_has(&["ava_test_no_such_database"])
        .never_says(secret);
    run(&["verify", "--sqlite", "missing.db"], &url)
        .code(1)
        .never_says(secret);
    std::fs::write(
        case.dir.path().join(".env"),
        format!("DATABASE_URL={nowhere}\n"),
    )
    .unwrap();
    case.run(&["db", "status"]).code(1).never_says(secret);
}

#[test]
fn a_password_with_url_special_characters_is_never_printed() {
    let case = Case::pushed(CALLS, 70);
    // Passwords as people paste them, not percent-encoded: tokio-postgres accepts these
    // (trust auth lets any password in), url::Url does not parse them.
    for secret in ["s3c#retpw", "s3c/retpw", "s3c?retpw"] {
        let url = with_password(&case.db.url, secret);
        // Connected (trust auth), and the pushed schema is current: exit 0.
        Out::of(case.ava().args(["db", "status", "--database-url", &url]))
            .ok()
            .never_says("retpw");
    }
}

#[test]
fn the_password_of_an_invalid_url_is_never_printed() {
    let case = Case::empty();
    let url = with_password(&case.db.url, "s3cretpw").replace(":5432/", ":54x2/");
    assert!(
        url.contains(":54x2/"),
        "the test server is not on port 5432: {url}"
    );
    Out::of(case.ava().args(["db", "status", "--database-url", &url]))
        .code(1)
        .stderr_has(&["not a valid Postgres connection string"])
        .never_says("s3cretpw");
}

#[test]
fn the_password_of_a_key_value_connection_string_is_never_printed() {
    let case = Case::empty();
    let name = &case.db.name;
    for conninfo in [
        format!("host=127.0.0.1 port=5432 user=postgres password = s3cretpw dbname={name}"),
        format!("host=127.0.0.1 port=5432 user=postgres password='s3c retpw' dbname={name}"),
    ] {
        // Connected, to a database without the schema: exit 6, saying to push it.
        Out::of(
            case.ava()
                .args(["db", "status", "--database-url", &conninfo]),
        )
        .code(6)
        .never_says("retpw");
    }
}

#[test]
fn help_of_every_command_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (vec!["--help"], "Exit codes"),
        (vec!["help"], "Commands"),
        (vec!["db", "--help"], "push"),
        (vec!["db", "push", "--help"], "--dry-run"),
        (vec!["db", "status", "--help"], "--database-url"),
        (vec!["migrate", "--help"], "--force"),
        (vec!["verify", "--help"], "--json"),
        (vec!["seed", "--help"], "--calls"),
        (vec!["demo", "--help"], "--dir"),
        (vec!["help", "migrate"], "--batch-size"),
    ] {
        ava_in(dir.path())
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains(expect))
            .stderr(predicate::str::is_empty());
    }
    ava_in(dir.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["db"],
        vec!["migrate", "--batch-size", "0"],
        vec!["migrate", "--batch-size", "many"],
        vec!["migrate", "--no-such-flag"],
        vec!["seed"],
        vec!["seed", "--sqlite", "x.db", "--end", "25/08/2025"],
        vec!["verify", "--sqlite"],
    ] {
        ava_in(dir.path())
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::is_empty().not());
    }
    assert!(!dir.path().join("x.db").exists());
}

#[test]
fn seed_refuses_an_existing_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ava_database.db");
    std::fs::write(&path, "precious").unwrap();
    Out::of(ava_in(dir.path()).args(["seed", "--sqlite", "ava_database.db", "--calls", "200"]))
        .code(1)
        .stderr_has(&["already exists"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[test]
fn seed_with_the_same_options_gives_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let seed = |file: &str, seed: &str| {
        Out::of(ava_in(dir.path()).args([
            "seed",
            "--sqlite",
            file,
            "--calls",
            "200",
            "--seed",
            seed,
            "--end",
            "2025-08-25",
        ]))
        .ok()
        .stdout_has(&["seeded", file, "call_sessions 200"]);
        sqlite::dump(&dir.path().join(file))
    };
    let a = seed("a.db", "7");
    let b = seed("b.db", "7");
    let c = seed("c.db", "8");
    assert!(a.iter().all(|t| !t.is_empty()), "a table is empty");
    assert!(a == b, "the same seed gave different rows");
    assert!(a != c, "another seed gave the same rows");
    // And the library gives what the command gives.
    let lib = dir.path().join("lib.db");
    seed_file(&lib, 200, 7);
    assert!(
        sqlite::dump(&lib) == a,
        "ava seed and ava_seed::seed differ"
    );
}

#[test]
fn demo_runs_the_whole_job_on_the_given_target() {
    let case = Case::empty();
    let out = case
        .with_target(&["demo", "--dir", "demo", "--calls", "200", "--no-serve"])
        .ok()
        .stdout_has(&["1/4", "2/4", "3/4", "4/4", "verified"]);
    let file = case.dir.path().join("demo").join("ava_database.db");
    assert!(file.is_file(), "{out}");
    assert_eq!(case.pg.counts(), sqlite::counts(&file));
    // Run again: the file is reused and the target is already migrated.
    case.with_target(&["demo", "--dir", "demo", "--calls", "200", "--no-serve"])
        .ok()
        .stdout_has(&["reusing", "already migrated", "verified"]);
}
