use super::*;

fn file_with(sql: &str) -> tempfile::TempPath {
    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    path
}

#[test]
fn reads_rows_in_id_order_within_a_range() {
    let path = file_with(ava_catalog::SQLITE_DDL);
    let conn = Connection::open(&path).unwrap();
    for id in [3, 1, 2, 5] {
        conn.execute(
            "INSERT INTO customers (id, name, phone) VALUES (?1, 'n', ?2)",
            rusqlite::params![id, format!("+1{id}")],
        )
        .unwrap();
    }
    let mut source = Source::open(&path).unwrap();
    let snap = source.snapshot().unwrap();
    let customers = &TABLES[0];
    assert_eq!(snap.count(customers).unwrap(), 4);
    let mut ids = Vec::new();
    snap.for_each::<SourceError>(customers, IdRange::inclusive(2, 3), |row| {
        assert_eq!(row.len(), customers.columns.len());
        if let Cell::Integer(id) = row[0] {
            ids.push(id);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(ids, [2, 3]);
}

#[test]
fn a_snapshot_does_not_see_later_writes() {
    let path = file_with(&format!(
        "PRAGMA journal_mode=WAL; {}",
        ava_catalog::SQLITE_DDL
    ));
    let writer = Connection::open(&path).unwrap();
    writer
        .execute(
            "INSERT INTO customers (id, name, phone) VALUES (1, 'a', '1')",
            [],
        )
        .unwrap();
    let mut source = Source::open(&path).unwrap();
    let snap = source.snapshot().unwrap();
    writer
        .execute(
            "INSERT INTO customers (id, name, phone) VALUES (2, 'b', '2')",
            [],
        )
        .unwrap();
    assert_eq!(snap.count(&TABLES[0]).unwrap(), 1);
}

#[test]
fn names_what_is_missing() {
    let missing = Path::new("/nonexistent/ava_database.db");
    assert!(matches!(
        Source::open(missing),
        Err(SourceError::NotFound(_))
    ));

    let path = file_with("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
    let e = Source::open(&path).err().unwrap();
    assert!(
        matches!(
            e,
            SourceError::MissingColumn {
                table: "customers",
                column: "name",
                ..
            }
        ),
        "{e}"
    );

    let ddl = format!("{} DROP TABLE daily_metrics;", ava_catalog::SQLITE_DDL);
    let path = file_with(&ddl);
    let e = Source::open(&path).err().unwrap();
    assert!(
        matches!(
            e,
            SourceError::MissingTable {
                table: "daily_metrics",
                ..
            }
        ),
        "{e}"
    );

    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let e = Source::open(&path).err().unwrap();
    assert!(e.to_string().contains("cannot open"), "{e}");
    assert!(matches!(e, SourceError::TextFile(_)), "{e}");
}

#[test]
fn never_writes_the_file() {
    let path = file_with(ava_catalog::SQLITE_DDL);
    let before = std::fs::read(&path).unwrap();
    let mut source = Source::open(&path).unwrap();
    {
        let snap = source.snapshot().unwrap();
        for t in &TABLES {
            snap.count(t).unwrap();
            snap.for_each::<SourceError>(t, IdRange::ALL, |_| Ok(()))
                .unwrap();
        }
    }
    drop(source);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn text_is_told_from_random_bytes() {
    assert!(looks_like_text(b"id,name\nfoo,bar\r\n\tcaf\xc3\xa9"));
    // A multi-byte character cut by the end of the read is still text.
    assert!(looks_like_text(b"caf\xc3"));
    assert!(!looks_like_text(b""));
    assert!(!looks_like_text(b"\x00\x01binary"));
    assert!(!looks_like_text(b"ok\xff\xfe"));
    assert!(!looks_like_text(&[0x8f, 0x12, 0xe4, 0x77, 0x01, 0xc3]));
}

#[test]
fn the_busy_timeout_comes_from_the_environment_or_defaults_to_30_s() {
    // Only read here, never set: tests run in parallel threads.
    if std::env::var_os(BUSY_TIMEOUT_ENV).is_none() {
        assert_eq!(busy_timeout(), DEFAULT_BUSY_TIMEOUT);
    }
    assert_eq!(DEFAULT_BUSY_TIMEOUT, Duration::from_secs(30));
    assert_eq!(
        sibling(Path::new("/a/b.db"), "-wal"),
        Path::new("/a/b.db-wal")
    );
}

#[test]
fn a_commit_watch_sees_commits_of_other_connections_and_nothing_else() {
    let path = file_with(&format!(
        "PRAGMA journal_mode=WAL; {}",
        ava_catalog::SQLITE_DDL
    ));
    let app = Connection::open(&path).unwrap();
    let watch = CommitWatch::start(&path).unwrap();
    assert!(watch.quiet().unwrap(), "nothing was committed");
    // Reading, and a transaction that is rolled back, are no commits.
    app.execute_batch("SELECT count(*) FROM customers; BEGIN; DELETE FROM customers; ROLLBACK;")
        .unwrap();
    assert!(watch.quiet().unwrap());
    app.execute(
        "INSERT INTO customers (id, name, phone) VALUES (1, 'a', '1')",
        [],
    )
    .unwrap();
    assert!(!watch.quiet().unwrap(), "a commit went unseen");
}

#[test]
fn the_digest_covers_the_write_ahead_log_and_the_stat_changes_with_it() {
    let path = file_with(&format!(
        "PRAGMA journal_mode=WAL; {}",
        ava_catalog::SQLITE_DDL
    ));
    let app = Connection::open(&path).unwrap();
    app.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
    let (digest, stat) = (file_digest(&path).unwrap(), file_stat(&path));
    assert_eq!(
        file_digest(&path).unwrap(),
        digest,
        "the same bytes, another digest"
    );
    std::thread::sleep(std::time::Duration::from_millis(10));
    app.execute(
        "INSERT INTO customers (id, name, phone) VALUES (1, 'a', '1')",
        [],
    )
    .unwrap();
    // The commit is only in the -wal file, which the digest reads too.
    assert_ne!(file_digest(&path).unwrap(), digest);
    assert_ne!(file_stat(&path), stat);
}
