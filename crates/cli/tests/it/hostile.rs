//! A corpus of hostile SQLite files, all generated here (no binary files are committed):
//! every one is given to `ava migrate --dry-run`, `ava migrate` and `ava verify`, which
//! must exit with the documented code (1: a file ava cannot read as the app's
//! database; 5: cells that cannot be stored), print one `error: …` line naming the file
//! and saying what is wrong and what to do, never panic, leave the target empty and the
//! file byte for byte as it was.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The busy timeout the runs of this module wait for a locked file, in milliseconds
/// (instead of half a minute).
const BUSY_MS: &str = "300";

/// Runs `ava args… --sqlite file --database-url <case's database>` with a short busy
/// timeout.
fn run(case: &Case, args: &[&str], file: &Path) -> Out {
    Out::of(
        case.ava()
            .args(args)
            .arg("--sqlite")
            .arg(file)
            .args(["--database-url", &case.db.url])
            .env("AVA_SQLITE_BUSY_TIMEOUT_MS", BUSY_MS),
    )
}

/// [`run`] as an unprivileged user when this process is root (root ignores file
/// permissions; see `ava_testpg::unprivileged`): the case's folder is opened to others
/// for it.
fn run_unprivileged(case: &Case, args: &[&str], file: &Path) -> Out {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(case.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = ava_testpg::unprivileged(&assert_cmd::cargo::cargo_bin("ava"));
    command
        .current_dir(case.dir.path())
        .env_remove("DATABASE_URL")
        .args(args)
        .arg("--sqlite")
        .arg(file)
        .args(["--database-url", &case.db.url])
        .env("AVA_SQLITE_BUSY_TIMEOUT_MS", BUSY_MS);
    Out::of(assert_cmd::Command::from_std(command).timeout(std::time::Duration::from_secs(120)))
}

/// The file's bytes (and its -journal's), to check that nothing wrote them.
type Bytes = (Option<Vec<u8>>, Option<Vec<u8>>);

fn bytes_of(path: &Path) -> Bytes {
    let journal = PathBuf::from(format!("{}-journal", path.display()));
    (std::fs::read(path).ok(), std::fs::read(journal).ok())
}

/// What a hostile file must give.
struct Expect<'a> {
    /// The exit code of `migrate --dry-run` and `migrate`.
    code: i32,
    /// The exit code of `verify`, if it is run.
    verify: Option<i32>,
    /// Words the output must contain.
    words: &'a [&'a str],
}

/// Asserts what every refused file must give, for `migrate --dry-run`, `migrate` and
/// (if asked) `verify`: the exit code, one `error:` line naming the file with the key
/// words (a dry run with bad cells reports them on stdout instead, exit 5), no panic,
/// an empty target with no recorded run, and the file unchanged.
#[track_caller]
fn refused(case: &Case, name: &str, file: &Path, expect: Expect<'_>) {
    refused_as(case, name, file, expect, run);
}

/// [`refused`] with the runs made by `runner` (as [`run`]).
#[track_caller]
fn refused_as(
    case: &Case,
    name: &str,
    file: &Path,
    expect: Expect<'_>,
    runner: fn(&Case, &[&str], &Path) -> Out,
) {
    let before = bytes_of(file);
    refused_by(case, name, file, expect, runner);
    assert!(bytes_of(file) == before, "{name}: the file was changed");
}

/// [`refused`] without reading the file: reading a file from this process would drop
/// the POSIX locks this process holds on it (see the locked case).
#[track_caller]
fn refused_unread(case: &Case, name: &str, file: &Path, expect: Expect<'_>) {
    refused_by(case, name, file, expect, run);
}

/// [`refused_unread`] with the runs made by `runner`.
#[track_caller]
fn refused_by(
    case: &Case,
    name: &str,
    file: &Path,
    expect: Expect<'_>,
    runner: fn(&Case, &[&str], &Path) -> Out,
) {
    let mut runs: Vec<(&[&str], i32)> = vec![
        (&["migrate", "--dry-run"], expect.code),
        (&["migrate"], expect.code),
    ];
    if let Some(v) = expect.verify {
        runs.push((&["verify"], v));
    }
    let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
    for (args, want) in runs {
        let out = runner(case, args, file);
        assert_eq!(
            out.code, want,
            "{name}: {args:?}: unexpected exit code\n{out}"
        );
        let all = format!("{}{}", out.stdout, out.stderr);
        // Shown with --nocapture: the corpus' messages at a glance.
        eprintln!(
            "hostile {name}: {args:?} → exit {}: {}",
            out.code,
            out.stderr
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("")
        );
        assert!(
            !all.contains("panicked"),
            "{name}: {args:?}: a panic\n{out}"
        );
        match want {
            1 => {
                let line = error_line(&out);
                assert!(
                    line.contains(&file_name),
                    "{name}: {args:?}: does not name {file_name}\n{out}"
                );
            }
            // The bad cells named by table, id and column: on stdout for a dry run.
            5 if !args.contains(&"--dry-run") => {
                error_line(&out);
            }
            _ => {}
        }
        if want != 3 {
            for w in expect.words {
                assert!(all.contains(w), "{name}: {args:?}: lacks {w:?}\n{out}");
            }
        }
        assert_eq!(case.pg.counts(), [0; 5], "{name}: {args:?} wrote rows");
        assert!(case.pg.runs().is_empty(), "{name}: {args:?} recorded a run");
    }
}

/// [`refused`] for a file ava cannot read as the app's database: exit 1 from every
/// command.
#[track_caller]
fn unreadable(case: &Case, name: &str, file: &Path, words: &[&str]) {
    refused(
        case,
        name,
        file,
        Expect {
            code: 1,
            verify: Some(1),
            words,
        },
    );
}

/// A case with the schema pushed and its seeded file at `case.sqlite`.
fn pushed(seed: u64) -> Case {
    Case::pushed(CALLS, seed)
}

/// Deterministic noise (SplitMix64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write(case: &Case, name: &str, bytes: &[u8]) -> PathBuf {
    let path = case.dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `case.sqlite` copied to `name`, then `sql` run on the copy.
fn altered(case: &Case, name: &str, sql: &str) -> PathBuf {
    let path = case.dir.path().join(name);
    std::fs::copy(&case.sqlite, &path).unwrap();
    sqlite::exec(
        &path,
        &format!("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON; {sql}"),
    );
    path
}

#[test]
fn files_that_are_not_sqlite_databases() {
    let case = pushed(90);
    let dir = case.dir.path();
    unreadable(
        &case,
        "missing",
        &dir.join("nope.db"),
        &["nope.db does not exist", "--sqlite"],
    );
    let folder = dir.join("folder.db");
    std::fs::create_dir(&folder).unwrap();
    unreadable(&case, "directory", &folder, &["is a directory", "--sqlite"]);
    let empty = write(&case, "empty.db", b"");
    unreadable(
        &case,
        "empty",
        &empty,
        &["is empty", "not a database", "--sqlite"],
    );
    let text = write(
        &case,
        "notes.txt",
        "name,phone\nAna,+15550000001\n".repeat(30).as_bytes(),
    );
    unreadable(
        &case,
        "text",
        &text,
        &["text file", "not a database", "--sqlite"],
    );
    let random = write(&case, "random.db", &noise(64 * 1024, 7));
    unreadable(
        &case,
        "random",
        &random,
        &["not a database or encrypted", "--sqlite"],
    );
    // A SQLCipher file: a random salt, then encrypted pages — random bytes to SQLite.
    let cipher = write(&case, "sqlcipher.db", &noise(4096 * 20, 8));
    unreadable(
        &case,
        "encrypted",
        &cipher,
        &["not a database or encrypted", "unencrypted"],
    );
    // A file of zeros (preallocated, or wiped).
    let zeros = write(&case, "zeros.db", &[0u8; 4096]);
    unreadable(&case, "zeros", &zeros, &["not a database or encrypted"]);
}

#[test]
fn truncated_and_corrupt_files() {
    let case = pushed(91);
    let bytes = std::fs::read(&case.sqlite).unwrap();
    let corrupt = ["is corrupt", "'.recover'", "--sqlite recovered.db"];
    let half = write(&case, "half.db", &bytes[..bytes.len() / 2]);
    unreadable(&case, "truncated", &half, &corrupt);
    let header = write(&case, "header-only.db", &bytes[..100]);
    unreadable(&case, "header only", &header, &corrupt);
    let mut damaged_header = bytes.clone();
    damaged_header[16..18].copy_from_slice(&[0, 3]);
    let damaged_header = write(&case, "bad-header.db", &damaged_header);
    unreadable(&case, "damaged header", &damaged_header, &corrupt);

    // Header and schema intact, a table's pages garbage: SQLite only says so when the
    // scan reaches them, and the error names the table.
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let page = if page == 1 { 65536 } else { page };
    let root: i64 = sqlite::one(
        &case.sqlite,
        "select rootpage from sqlite_master where name = 'call_events'",
    );
    let root = root as usize;
    let mut pages = bytes.clone();
    pages[(root - 1) * page..root * page].fill(0xa5);
    let pages = write(&case, "bad-pages.db", &pages);
    unreadable(
        &case,
        "corrupt table",
        &pages,
        &[
            "bad-pages.db is corrupt",
            "reading table call_events",
            "'.recover'",
        ],
    );
}

#[test]
fn locked_files_and_unfinished_writes() {
    let case = pushed(92);
    // Another program in the middle of committing (rollback-journal mode): reads wait
    // the busy timeout, then give up.
    let locked = altered(&case, "locked.db", "");
    let before = bytes_of(&locked);
    let writer = rusqlite::Connection::open(&locked).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
    refused_unread(
        &case,
        "locked",
        &locked,
        Expect {
            code: 1,
            verify: Some(1),
            words: &[
                "locked.db: database is locked",
                "another program is writing",
                "waited 300ms",
                "stop the app or retry",
            ],
        },
    );
    writer.execute_batch("ROLLBACK").unwrap();
    drop(writer);
    assert!(bytes_of(&locked) == before, "locked: the file was changed");

    // The app killed mid-write: its hot journal must be rolled back, which a read-only
    // reader cannot do.
    let src = altered(&case, "writing.db", "");
    let writer = rusqlite::Connection::open(&src).unwrap();
    writer
        .execute_batch("PRAGMA cache_size = 2; BEGIN; UPDATE call_events SET data = 'null';")
        .unwrap();
    let crashed = case.dir.path().join("crashed.db");
    std::fs::copy(&src, &crashed).unwrap();
    std::fs::copy(
        case.dir.path().join("writing.db-journal"),
        case.dir.path().join("crashed.db-journal"),
    )
    .unwrap();
    writer.execute_batch("ROLLBACK").unwrap();
    unreadable(
        &case,
        "hot journal",
        &crashed,
        &[
            "crashed.db has an unfinished write",
            "-journal",
            "PRAGMA quick_check",
        ],
    );
}

#[test]
fn sqlite_files_that_are_not_the_apps() {
    let case = pushed(93);
    let blank = case.dir.path().join("blank.db");
    sqlite::exec(&blank, "PRAGMA user_version = 7");
    unreadable(
        &case,
        "no tables",
        &blank,
        &[
            "is a SQLite database but not the Ava app's",
            "no customers table",
            "its tables: none",
        ],
    );
    let other = case.dir.path().join("other-app.db");
    sqlite::exec(
        &other,
        "create table users (id integer primary key, email text)",
    );
    unreadable(
        &case,
        "other app",
        &other,
        &["not the Ava app's", "\"users\""],
    );
    let no_table = altered(&case, "no-metrics.db", "DROP TABLE daily_metrics");
    unreadable(
        &case,
        "missing table",
        &no_table,
        &["has no table daily_metrics", "--sqlite"],
    );
    let no_column = altered(
        &case,
        "no-data.db",
        "ALTER TABLE call_events DROP COLUMN data",
    );
    unreadable(
        &case,
        "missing column",
        &no_column,
        &["table call_events has no column data", "--sqlite"],
    );
}

#[test]
fn wrong_declared_types_are_bad_cells() {
    let case = pushed(94);
    // `id TEXT`: TEXT affinity stores every id as text.
    let text_ids = altered(
        &case,
        "text-ids.db",
        "ALTER TABLE daily_metrics RENAME TO dm_old;
         CREATE TABLE daily_metrics (id TEXT NOT NULL, date DATETIME NOT NULL,
            total_calls INTEGER, total_talk_time_seconds INTEGER,
            avg_call_duration_seconds INTEGER, appointments_booked INTEGER,
            appointments_rescheduled INTEGER, appointments_cancelled INTEGER,
            avg_satisfaction_score FLOAT, calls_escalated INTEGER, conversion_rate FLOAT,
            updated_at DATETIME, PRIMARY KEY (id));
         INSERT INTO daily_metrics SELECT * FROM dm_old; DROP TABLE dm_old;",
    );
    refused(
        &case,
        "id TEXT (migrate)",
        &text_ids,
        Expect {
            code: 5,
            verify: None,
            words: &[
                "cannot be stored faithfully",
                "daily_metrics id \"1\", column id: TEXT where",
            ],
        },
    );
    let out = run(&case, &["verify"], &text_ids).code(1);
    let line = error_line(&out);
    assert!(
        line.contains("text-ids.db") && line.contains("not an integer"),
        "{out}"
    );

    // A number column declared TEXT, holding text.
    let text_numbers = altered(
        &case,
        "text-numbers.db",
        "UPDATE appointments SET duration_minutes = 'n/a' WHERE id = 3",
    );
    refused(
        &case,
        "text in an integer column",
        &text_numbers,
        Expect {
            code: 5,
            verify: Some(3),
            words: &[
                "appointments id 3, column duration_minutes: TEXT where",
                "\"n/a\"",
            ],
        },
    );
}

/// What ava reads through SQL as it is (by name): extra tables and columns, another
/// column order, upper-case names, a view named like a table.
#[test]
fn odd_but_readable_files_migrate_exactly() {
    let case = pushed(95);
    let reshaped = altered(
        &case,
        "reshaped.db",
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT);
         INSERT INTO audit_log (what) VALUES ('x');
         ALTER TABLE call_events ADD COLUMN extra BLOB DEFAULT x'00ff';
         ALTER TABLE customers RENAME TO customers_old;
         CREATE TABLE customers (NOTES TEXT, IS_PREGNANT BOOLEAN, has_allergies BOOLEAN,
            updated_at DATETIME, created_at DATETIME, is_new_client BOOLEAN,
            email VARCHAR(255), Phone VARCHAR(20) NOT NULL, name VARCHAR(255) NOT NULL,
            ID INTEGER NOT NULL PRIMARY KEY, extra TEXT);
         INSERT INTO customers (ID, name, Phone, email, is_new_client, created_at,
            updated_at, has_allergies, IS_PREGNANT, NOTES, extra)
         SELECT id, name, phone, email, is_new_client, created_at, updated_at,
            has_allergies, is_pregnant, notes, 'extra' FROM customers_old;
         DROP TABLE customers_old;",
    );
    let before = bytes_of(&reshaped);
    run(&case, &["migrate"], &reshaped).ok();
    run(&case, &["verify"], &reshaped).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    assert!(bytes_of(&reshaped) == before);

    // A view named like a table is read like the table (here: a filtered one).
    let case = pushed(96);
    let view = altered(
        &case,
        "view.db",
        "ALTER TABLE call_events RENAME TO call_events_all;
         CREATE VIEW call_events AS SELECT * FROM call_events_all WHERE id % 2 = 0;",
    );
    let out = run(&case, &["migrate"], &view).ok();
    assert!(!out.stderr.contains("panicked"));
    run(&case, &["verify"], &view).ok();
    let even: i64 = sqlite::one(&view, "select count(*) from call_events");
    assert!(even > 0);
    assert_eq!(case.pg.counts()[3], even);
}

#[test]
fn wal_files_in_read_only_folders_and_unreadable_files() {
    use std::os::unix::fs::PermissionsExt;
    // Each run is made as an unprivileged user when the tests run as root.
    let case = pushed(97);
    // The app's file in WAL mode with committed rows still in its -wal, in a folder
    // this user cannot write: SQLite cannot create the -shm it needs to read it.
    let ro = case.dir.path().join("app");
    std::fs::create_dir(&ro).unwrap();
    let live = ro.join("live.db");
    {
        let writer = altered(&case, "wal.db", "PRAGMA journal_mode = WAL");
        let conn = rusqlite::Connection::open(&writer).unwrap();
        conn.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             UPDATE customers SET notes = 'in the WAL' WHERE id = 1;",
        )
        .unwrap();
        // Copied while open, so the -wal is not checkpointed away at close.
        std::fs::copy(&writer, &live).unwrap();
        std::fs::copy(case.dir.path().join("wal.db-wal"), ro.join("live.db-wal")).unwrap();
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    refused_as(
        &case,
        "read-only folder",
        &live,
        Expect {
            code: 1,
            verify: Some(1),
            words: &["live.db is in WAL mode", "-shm", "writable"],
        },
        run_unprivileged,
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();

    let locked_away = altered(&case, "secret.db", "");
    std::fs::set_permissions(&locked_away, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = run_unprivileged(&case, &["migrate"], &locked_away).code(1);
    let line = error_line(&out);
    assert!(
        line.contains("cannot read") && line.contains("secret.db"),
        "{out}"
    );
    assert!(line.contains("ermission denied"), "{out}");
    run_unprivileged(&case, &["verify"], &locked_away).code(1);
    std::fs::set_permissions(&locked_away, std::fs::Permissions::from_mode(0o644)).unwrap();
}
