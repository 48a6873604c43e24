//! Hostile files: every way the SQLite file can be wrong gives its own one-line
//! [`SourceError`] naming the file — never a panic — and the file is never written.
//! Every file here is generated.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ava_catalog::{IdRange, TABLES};
use ava_convert::Cell;
use ava_source::{Source, SourceError};
use common::*;
use rusqlite::Connection;

/// Opens and reads everything; asserts the error is one line naming the file, and that
/// the file's bytes did not change.
#[track_caller]
fn read_err(path: &Path) -> SourceError {
    let before = std::fs::read(path).ok();
    let e = read_all(path, |_, _| {}).expect_err("the file was read without an error");
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(&*name), "does not name {name}: {msg}");
    assert_eq!(std::fs::read(path).ok(), before, "{name} was changed");
    e
}

#[track_caller]
fn says(e: &SourceError, words: &[&str]) {
    for w in words {
        assert!(e.to_string().contains(w), "lacks {w:?}: {e}");
    }
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

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_valid_file_reads_in_full() {
    let (_dir, path) = valid_in_tempdir();
    let counts = read_all(&path, |_, _| {}).unwrap();
    assert_eq!(counts, [3, 2, 2, EVENTS as u64, 2]);
}

#[test]
fn missing_directory_device_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_all(&dir.path().join("nope.db"), |_, _| {}).unwrap_err();
    assert!(matches!(e, SourceError::NotFound(_)), "{e}");
    says(&e, &["nope.db does not exist", "--sqlite"]);

    let sub = dir.path().join("folder.db");
    std::fs::create_dir(&sub).unwrap();
    let e = read_err(&sub);
    assert!(matches!(e, SourceError::NotAFile { .. }), "{e}");
    says(&e, &["is a directory", "--sqlite"]);

    let fifo = dir.path().join("pipe.db");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        // Reading a FIFO would block: it must be refused before.
        let e = read_all(&fifo, |_, _| {}).unwrap_err();
        assert!(matches!(e, SourceError::NotAFile { .. }), "{e}");
        says(&e, &["pipe.db", "FIFO"]);
    }

    let e = read_err(&write(dir.path(), "empty.db", b""));
    assert!(matches!(e, SourceError::Empty(_)), "{e}");
    says(&e, &["is empty", "not a database", "--sqlite"]);
}

#[test]
fn not_sqlite_text_random_zeros_and_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(
        dir.path(),
        "notes.txt",
        "id,name\n1,Ana Lima — café\n2,Bo\n".repeat(20).as_bytes(),
    );
    let e = read_err(&text);
    assert!(matches!(e, SourceError::TextFile(_)), "{e}");
    says(&e, &["text file", "not a database"]);

    let tiny = read_err(&write(dir.path(), "tiny.db", b"hi"));
    assert!(matches!(tiny, SourceError::TextFile(_)), "{tiny}");

    for (name, bytes) in [
        ("random.db", noise(8192, 1)),
        ("zeros.db", vec![0; 4096]),
        // What a SQLCipher file looks like: a random salt, then random pages.
        ("sqlcipher.db", noise(4096 * 5, 2)),
    ] {
        let e = read_err(&write(dir.path(), name, &bytes));
        assert!(matches!(e, SourceError::NotADatabase(_)), "{name}: {e}");
        says(&e, &["not a database or encrypted", "unencrypted"]);
    }
}

#[test]
fn truncated_and_damaged_files_are_corrupt() {
    let (dir, valid) = valid_in_tempdir();
    let bytes = std::fs::read(&valid).unwrap();
    let half = write(dir.path(), "half.db", &bytes[..bytes.len() / 2]);
    let header_only = write(dir.path(), "header.db", &bytes[..100]);
    let first_page = write(dir.path(), "page1.db", &bytes[..4096]);
    let mut damaged = bytes.clone();
    damaged[16..18].copy_from_slice(&[0, 3]); // page size 3: impossible
    let damaged = write(dir.path(), "header-damaged.db", &damaged);
    let mut zeroed = bytes.clone();
    zeroed[100..4096].fill(0); // the schema's first page
    let zeroed = write(dir.path(), "schema-zeroed.db", &zeroed);
    for path in [half, header_only, first_page, damaged, zeroed] {
        let e = read_err(&path);
        assert!(
            matches!(&e, SourceError::Corrupt { what, .. } if what == "the schema"),
            "{}: {e}",
            path.display()
        );
        says(&e, &["is corrupt", "'.recover'", "--sqlite recovered.db"]);
    }
}

/// The root page of `table` (from the file's schema).
fn root_page(path: &Path, table: &str) -> usize {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT rootpage FROM sqlite_master WHERE name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

#[test]
fn a_damaged_table_is_reported_at_its_first_read_with_its_name() {
    let (dir, valid) = valid_in_tempdir();
    let root = root_page(&valid, "call_events");
    let mut bytes = std::fs::read(&valid).unwrap();
    let page = 4096;
    bytes[(root - 1) * page..root * page].fill(0xa5);
    let path = write(dir.path(), "damaged.db", &bytes);
    // Opening works: the schema is intact.
    let mut source = Source::open(&path).unwrap();
    let snap = source.snapshot().unwrap();
    let e = snap
        .for_each::<SourceError>(&TABLES[3], IdRange::ALL, |_| Ok(()))
        .unwrap_err();
    assert!(
        matches!(&e, SourceError::Corrupt { what, .. } if what == "table call_events"),
        "{e}"
    );
    says(
        &e,
        &[
            "damaged.db is corrupt",
            "table call_events",
            "malformed",
            "'.recover'",
        ],
    );
    drop(snap);
    drop(source);
    read_err(&path);
}

/// What `ava serve` checks before it writes: a damaged page no read has reached yet
/// (the open passes: header and schema are intact), found without reading a row.
#[test]
fn quick_check_finds_a_damaged_page_before_any_table_is_read() {
    let (dir, valid) = valid_in_tempdir();
    Source::open(&valid).unwrap().quick_check().unwrap();
    let root = root_page(&valid, "call_events");
    let mut bytes = std::fs::read(&valid).unwrap();
    bytes[(root - 1) * 4096..root * 4096].fill(0xa5);
    let path = write(dir.path(), "damaged.db", &bytes);
    let e = Source::open(&path).unwrap().quick_check().unwrap_err();
    assert!(
        matches!(&e, SourceError::Corrupt { what, .. } if what == "every page"),
        "{e}"
    );
    // One line, without the `*** in database main ***` SQLite heads it with.
    assert!(
        !e.to_string().contains('\n') && !e.to_string().contains("***"),
        "{e}"
    );
    says(
        &e,
        &["damaged.db is corrupt", "reading every page", "'.recover'"],
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
}

#[test]
fn a_locked_file_waits_the_busy_timeout_then_says_who_to_stop() {
    let (_dir, path) = valid_in_tempdir();
    let writer = Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let e = Source::open_with_busy_timeout(&path, Duration::from_millis(300))
        .err()
        .expect("opened a locked file");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(e, SourceError::Locked { .. }), "{e}");
    says(
        &e,
        &[
            "valid.db",
            "database is locked",
            "another program is writing",
            "stop the app or retry",
            "300ms",
        ],
    );

    // Locked after the snapshot's first read: a later reader is not blocked, since
    // the snapshot holds only a shared lock.
    writer.execute_batch("ROLLBACK").unwrap();
    let mut source = Source::open_with_busy_timeout(&path, Duration::from_millis(100)).unwrap();
    let snap = source.snapshot().unwrap();
    assert_eq!(snap.count(&TABLES[0]).unwrap(), 3);

    // A write that has only begun (RESERVED) does not block readers.
    drop(snap);
    writer
        .execute_batch("BEGIN IMMEDIATE; DELETE FROM customers WHERE id = 3;")
        .unwrap();
    assert_eq!(read_all(&path, |_, _| {}).unwrap()[0], 3);
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_hot_journal_is_explained() {
    let (dir, valid) = valid_in_tempdir();
    // A write caught half-way: copy the file and its journal while it is in progress,
    // as if the app had been killed then.
    let writer = Connection::open(&valid).unwrap();
    writer
        .execute_batch(
            "PRAGMA cache_size = 2; BEGIN;
             UPDATE call_events SET data = '{\"rewritten\": true}';",
        )
        .unwrap();
    let journal = dir.path().join("valid.db-journal");
    assert!(journal.exists(), "no journal to copy");
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&valid, &crashed).unwrap();
    std::fs::copy(&journal, dir.path().join("crashed.db-journal")).unwrap();
    writer.execute_batch("ROLLBACK").unwrap();

    let e = read_err(&crashed);
    assert!(matches!(e, SourceError::HotJournal(_)), "{e}");
    says(
        &e,
        &["crashed.db", "-journal", "PRAGMA quick_check", "retry"],
    );
    assert!(dir.path().join("crashed.db-journal").exists());
}

#[test]
fn a_wal_file_in_a_read_only_folder_says_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    // Root writes into read-only folders: run as an unprivileged user then.
    if ava_testpg::rerun_unprivileged("a_wal_file_in_a_read_only_folder_says_what_to_do") {
        return;
    }
    let (dir, valid) = valid_in_tempdir();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let walled = ro.join("wal.db");
    std::fs::copy(&valid, &walled).unwrap();
    {
        let conn = Connection::open(&walled).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             INSERT INTO customers (id, name, phone) VALUES (4, 'In the WAL', '+15550000004');",
        )
        .unwrap();
        // Copy while open, so the -wal is not checkpointed away at close.
        std::fs::copy(&walled, ro.join("live.db")).unwrap();
        std::fs::copy(ro.join("wal.db-wal"), ro.join("live.db-wal")).unwrap();
    }
    let live = ro.join("live.db");
    // Readable as it is: the -shm can be created.
    assert_eq!(read_all(&live, |_, _| {}).unwrap()[0], 4);
    std::fs::remove_file(ro.join("live.db-shm")).ok();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let e = read_all(&live, |_, _| {}).unwrap_err();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(e, SourceError::WalIndex { .. }), "{e}");
    says(&e, &["live.db", "WAL mode", "-shm", "writable"]);
}

#[test]
fn an_unreadable_file_says_so() {
    use std::os::unix::fs::PermissionsExt;
    // Root reads any file: run as an unprivileged user then.
    if ava_testpg::rerun_unprivileged("an_unreadable_file_says_so") {
        return;
    }
    let (_dir, valid) = valid_in_tempdir();
    std::fs::set_permissions(&valid, std::fs::Permissions::from_mode(0o000)).unwrap();
    let e = read_all(&valid, |_, _| {}).unwrap_err();
    std::fs::set_permissions(&valid, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(e, SourceError::Unreadable { .. }), "{e}");
    says(&e, &["cannot read", "valid.db", "ermission denied"]);
}

#[test]
fn a_utf16_file_reads_like_a_utf8_one() {
    let (dir, valid) = valid_in_tempdir();
    let utf16 = dir.path().join("utf16.db");
    let conn = Connection::open(&utf16).unwrap();
    conn.execute_batch("PRAGMA encoding = 'UTF-16le'; PRAGMA foreign_keys = OFF;")
        .unwrap();
    conn.execute_batch(ava_catalog::SQLITE_DDL).unwrap();
    let from = Connection::open(&valid).unwrap();
    for t in &TABLES {
        let mut select = from
            .prepare(&format!("SELECT * FROM \"{}\"", t.name))
            .unwrap();
        let n = select.column_count();
        let insert = format!(
            "INSERT INTO \"{}\" VALUES ({})",
            t.name,
            vec!["?"; n].join(", ")
        );
        let mut rows = select.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<rusqlite::types::Value> = (0..n).map(|i| row.get(i).unwrap()).collect();
            conn.execute(&insert, rusqlite::params_from_iter(values))
                .unwrap();
        }
    }
    drop(conn);
    let rows = |path: &Path| {
        let mut all = Vec::new();
        read_all(path, |_, cells| all.push(format!("{cells:?}"))).unwrap();
        all
    };
    assert_eq!(rows(&utf16), rows(&valid));
}

#[test]
fn sqlite_but_not_the_apps() {
    let dir = tempfile::tempdir().unwrap();
    let none = dir.path().join("blank.db");
    Connection::open(&none)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    let e = read_err(&none);
    assert!(matches!(e, SourceError::NotAvaDatabase { .. }), "{e}");
    says(
        &e,
        &[
            "is a SQLite database but not the Ava app's",
            "no customers table",
            "its tables: none",
        ],
    );

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch(
            "CREATE TABLE users (id INTEGER); CREATE TABLE orders (id INTEGER);
             CREATE VIEW v AS SELECT 1;",
        )
        .unwrap();
    let e = read_err(&other);
    says(&e, &["not the Ava app's", "\"orders\", \"users\", \"v\""]);
}

#[test]
fn a_missing_table_or_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql, table, column) in [
        (
            "no-metrics.db",
            "DROP TABLE daily_metrics",
            "daily_metrics",
            None,
        ),
        (
            "no-data.db",
            "ALTER TABLE call_events DROP COLUMN data",
            "call_events",
            Some("data"),
        ),
        (
            "no-phone.db",
            "DROP INDEX ix_customers_phone; ALTER TABLE customers DROP COLUMN phone",
            "customers",
            Some("phone"),
        ),
    ] {
        let path = dir.path().join(name);
        write_valid(&path);
        Connection::open(&path).unwrap().execute_batch(sql).unwrap();
        let e = read_err(&path);
        match column {
            None => {
                assert!(
                    matches!(e, SourceError::MissingTable { table: t, .. } if t == table),
                    "{e}"
                );
                says(&e, &[&format!("has no table {table}"), "--sqlite"]);
            }
            Some(c) => {
                assert!(
                    matches!(e, SourceError::MissingColumn { table: t, column, .. } if t == table && column == c),
                    "{e}"
                );
                says(
                    &e,
                    &[&format!("table {table} has no column {c}"), "--sqlite"],
                );
            }
        }
    }
}

#[test]
fn extra_reordered_and_upper_case_columns_and_extra_tables_are_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shuffled.db");
    write_valid(&path);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;
         CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT);
         ALTER TABLE customers RENAME TO customers_old;
         CREATE TABLE customers (NOTES TEXT, extra BLOB, Is_Pregnant BOOLEAN,
            HAS_ALLERGIES BOOLEAN, updated_at DATETIME, created_at DATETIME,
            is_new_client BOOLEAN, EMAIL VARCHAR(255), phone VARCHAR(20) NOT NULL,
            name VARCHAR(255) NOT NULL, ID INTEGER NOT NULL PRIMARY KEY);
         INSERT INTO customers (ID, name, phone, EMAIL, is_new_client, created_at,
            updated_at, HAS_ALLERGIES, Is_Pregnant, NOTES, extra)
         SELECT id, name, phone, email, is_new_client, created_at, updated_at,
            has_allergies, is_pregnant, notes, x'00ff' FROM customers_old;
         DROP TABLE customers_old;",
    )
    .unwrap();
    let mut rows = Vec::new();
    let (_d, valid) = valid_in_tempdir();
    let mut want = Vec::new();
    read_all(&valid, |t, cells| {
        if t.name == "customers" {
            want.push(format!("{cells:?}"));
        }
    })
    .unwrap();
    read_all(&path, |t, cells| {
        if t.name == "customers" {
            rows.push(format!("{cells:?}"));
        }
    })
    .unwrap();
    assert_eq!(rows, want);
}

#[test]
fn a_view_named_like_a_table_is_read_like_the_table() {
    let (dir, valid) = valid_in_tempdir();
    let path = dir.path().join("view.db");
    std::fs::copy(&valid, &path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             ALTER TABLE call_events RENAME TO call_events_archive;
             CREATE VIEW call_events AS SELECT * FROM call_events_archive WHERE id <= 10;",
        )
        .unwrap();
    assert_eq!(read_all(&path, |_, _| {}).unwrap()[3], 10);

    // A view that cannot be read (its table is gone) is an error naming it.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA legacy_alter_table = ON; DROP TABLE call_events_archive;")
        .unwrap();
    let e = read_err(&path);
    says(&e, &["call_events", "call_events_archive"]);
}

#[test]
fn text_ids_are_read_as_text_for_the_converter_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text-ids.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "{}
             DROP TABLE customers;
             CREATE TABLE customers (id TEXT NOT NULL, name VARCHAR(255) NOT NULL,
                phone VARCHAR(20) NOT NULL, email VARCHAR(255), is_new_client BOOLEAN,
                created_at DATETIME, updated_at DATETIME, has_allergies BOOLEAN,
                is_pregnant BOOLEAN, notes TEXT, PRIMARY KEY (id));
             INSERT INTO customers (id, name, phone) VALUES (1, 'a', '1'), ('x7', 'b', '2');",
            ava_catalog::SQLITE_DDL
        ))
        .unwrap();
    let mut ids = Vec::new();
    read_all(&path, |t, cells| {
        if t.name == "customers" {
            ids.push(format!("{:?}", cells[0]));
        }
    })
    .unwrap();
    // TEXT affinity stored the 1 as text too.
    assert_eq!(
        ids,
        [
            format!("{:?}", Cell::Text(b"1")),
            format!("{:?}", Cell::Text(b"x7"))
        ]
    );
}
