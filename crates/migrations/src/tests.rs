//! The embedded set, and pushes against a real PostgreSQL (each test its own database,
//! from `ava-testpg`).

use super::*;
use ava_testpg::TestDb;

// ---- the embedded set -------------------------------------------------------------

#[test]
fn embedded_set_is_well_formed_and_sorted() {
    let set = embedded();
    assert!(!set.is_empty());
    assert!(set.windows(2).all(|w| w[0].version < w[1].version));
    let sql_files = MIGRATIONS_DIR
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .count();
    assert_eq!(set.len(), sql_files, "every .sql file is a migration");
    assert_eq!(
        MIGRATIONS_DIR.dirs().count(),
        0,
        "supabase/migrations holds files only"
    );
    for m in set {
        assert_eq!(
            parse_file_name(&format!("{}_{}.sql", m.version, m.name)),
            Ok((m.version, m.name))
        );
        assert!(
            !m.statements().is_empty(),
            "{} has no statements",
            m.version
        );
    }
    assert!(set
        .iter()
        .any(|m| m.version == "20251125152400" && m.name == "analytics_tables"));
}

#[test]
fn file_names_are_checked() {
    assert_eq!(
        parse_file_name("20251125152400_analytics_tables.sql"),
        Ok(("20251125152400", "analytics_tables"))
    );
    assert_eq!(
        parse_file_name("20251125152400_a_b.sql"),
        Ok(("20251125152400", "a_b"))
    );
    for bad in [
        "2025112515240_short.sql",
        "202511251524000_long.sql",
        "2025112515240a_letter.sql",
        "20251125152400.sql",
        "20251125152400_.sql",
        "20251125152400_name.txt",
        "20251125152400-name.sql",
        "name_20251125152400.sql",
    ] {
        let err = parse_file_name(bad).unwrap_err();
        assert!(err.contains(bad) && err.contains("rename"), "{err}");
    }
}

#[test]
fn load_sorts_and_rejects_duplicates_and_non_utf8() {
    let set = load([
        ("20250102000000_b.sql", Some("select 2")),
        ("20250101000000_a.sql", Some("select 1")),
    ])
    .unwrap();
    assert_eq!(set.iter().map(|m| m.name).collect::<Vec<_>>(), ["a", "b"]);
    let err = load([
        ("20250101000000_a.sql", Some("")),
        ("20250101000000_b.sql", Some("")),
    ])
    .unwrap_err();
    assert!(err.contains("20250101000000"), "{err}");
    let err = load([("20250101000000_a.sql", None)]).unwrap_err();
    assert!(err.contains("UTF-8"), "{err}");
}

// ---- pushes against PostgreSQL ----------------------------------------------------

async fn history(client: &Client) -> Vec<(String, Option<String>, Option<Vec<String>>)> {
    client
        .query(
            "select version, name, statements from supabase_migrations.schema_migrations order by version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn exists(client: &Client, relation: &str) -> bool {
    client
        .query_one("select to_regclass($1) is not null", &[&relation])
        .await
        .unwrap()
        .get(0)
}

async fn holds_advisory_lock(client: &Client) -> bool {
    client
        .query_one(
            "select exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn versions(migrations: &[&Migration]) -> Vec<&'static str> {
    migrations.iter().map(|m| m.version).collect()
}

#[tokio::test]
async fn fresh_database_gets_everything_recorded_as_the_cli_records_it() {
    let db = TestDb::new();
    let mut client = db.client().await;

    let before = status(&client).await.unwrap();
    assert!(before.applied.is_empty());
    assert_eq!(before.pending.len(), embedded().len());
    assert!(!status(&client).await.unwrap().is_current());

    let report = push(&mut client, false).await.unwrap();
    assert!(!report.dry_run);
    assert_eq!(
        versions(&report.applied),
        versions(&embedded().iter().collect::<Vec<_>>())
    );

    let expected: Vec<_> = embedded()
        .iter()
        .map(|m| {
            (
                m.version.to_owned(),
                Some(m.name.to_owned()),
                Some(m.statements()),
            )
        })
        .collect();
    assert_eq!(history(&client).await, expected);
    for table in ava_catalog::TABLES.iter() {
        assert!(
            exists(&client, &format!("public.{}", table.name)).await,
            "{}",
            table.name
        );
    }
    assert!(status(&client).await.unwrap().is_current());
    let after = status(&client).await.unwrap();
    assert!(after.pending.is_empty() && after.unknown.is_empty() && after.changed.is_empty());
    assert_eq!(after.applied.len(), embedded().len());
    assert!(!holds_advisory_lock(&client).await);
}

/// The history table is exactly the Supabase CLI's.
#[tokio::test]
async fn history_table_has_the_cli_layout() {
    let db = TestDb::new();
    let mut client = db.client().await;
    push(&mut client, false).await.unwrap();
    let columns: Vec<(String, String, bool)> = client
        .query(
            "select attname::text, format_type(atttypid, atttypmod), attnotnull \
             from pg_attribute where attrelid = 'supabase_migrations.schema_migrations'::regclass \
             and attnum > 0 and not attisdropped order by attnum",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("version", "text", true),
        ("statements", "text[]", false),
        ("name", "text", false),
    ]
    .map(|(n, t, nn)| (n.to_owned(), t.to_owned(), nn));
    assert_eq!(columns, expected);
    let key: String = client
        .query_one(
            "select pg_get_constraintdef(oid) from pg_constraint \
             where conrelid = 'supabase_migrations.schema_migrations'::regclass and contype = 'p'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(key, "PRIMARY KEY (version)");
}

#[tokio::test]
async fn second_push_applies_nothing() {
    let db = TestDb::new();
    let mut client = db.client().await;
    push(&mut client, false).await.unwrap();
    let rows = history(&client).await;
    let again = push(&mut client, false).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(history(&client).await, rows);
    let dry = push(&mut client, true).await.unwrap();
    assert!(dry.dry_run && dry.applied.is_empty());
}

#[tokio::test]
async fn dry_run_applies_nothing_and_creates_nothing() {
    let db = TestDb::new();
    let mut client = db.client().await;
    let report = push(&mut client, true).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(report.applied.len(), embedded().len());
    let schema: bool = client
        .query_one(
            "select exists (select 1 from pg_namespace where nspname = 'supabase_migrations')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!schema, "a dry run created the history schema");
    let tables: i64 = client
        .query_one(
            "select count(*) from pg_class where relnamespace = 'public'::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a dry run created relations");
    assert!(!holds_advisory_lock(&client).await);
}

#[tokio::test]
async fn unrelated_tables_are_left_alone() {
    let db = TestDb::new();
    let mut client = db.client().await;
    client
        .batch_execute("create table public.other (x int); insert into public.other values (7)")
        .await
        .unwrap();
    push(&mut client, false).await.unwrap();
    let x: i32 = client
        .query_one("select x from public.other", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(x, 7);
    assert!(status(&client).await.unwrap().is_current());
}

#[tokio::test]
async fn unknown_version_in_history_is_refused() {
    let db = TestDb::new();
    let mut client = db.client().await;
    // As the CLI would leave it after pushing a migration this build does not have.
    client
        .batch_execute(
            "create schema supabase_migrations;
             create table supabase_migrations.schema_migrations
               (version text not null primary key, statements text[], name text);
             insert into supabase_migrations.schema_migrations values
               ('29991231235959', '{select 1}', 'from_the_future');",
        )
        .await
        .unwrap();
    let status = status(&client).await.unwrap();
    assert_eq!(status.unknown, ["29991231235959"]);
    assert_eq!(status.pending.len(), embedded().len());
    assert!(!status.is_current());

    let err = push(&mut client, false).await.unwrap_err();
    assert!(
        matches!(&err, SchemaError::Unknown { versions } if versions == &["29991231235959"]),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("29991231235959") && message.contains("repair"),
        "{message}"
    );
    assert!(
        !exists(&client, "public.customers").await,
        "applied despite refusing"
    );
    assert_eq!(history(&client).await.len(), 1);
    assert!(
        !holds_advisory_lock(&client).await,
        "lock kept after an error"
    );
    assert!(
        push(&mut client, true).await.is_err(),
        "a dry run must refuse too"
    );
}

#[tokio::test]
async fn changed_migration_is_refused() {
    let db = TestDb::new();
    let mut client = db.client().await;
    push(&mut client, false).await.unwrap();
    let version = embedded()[0].version;
    client
        .execute(
            "update supabase_migrations.schema_migrations \
             set statements = statements || '{select 1}'::text[] where version = $1",
            &[&version],
        )
        .await
        .unwrap();
    let status = status(&client).await.unwrap();
    assert_eq!(status.changed, [version]);
    assert!(!status.is_current());

    let err = push(&mut client, false).await.unwrap_err();
    assert!(
        matches!(&err, SchemaError::Changed { versions } if versions == &[version]),
        "{err}"
    );
    assert!(err.to_string().contains(version), "{err}");
    assert!(
        !holds_advisory_lock(&client).await,
        "lock kept after an error"
    );

    // A row without recorded statements (older CLIs) cannot be compared, so it counts
    // as applied, not changed.
    client
        .execute(
            "update supabase_migrations.schema_migrations set statements = null where version = $1",
            &[&version],
        )
        .await
        .unwrap();
    assert!(super::status(&client).await.unwrap().is_current());
}

/// A history table as the oldest CLIs made it (version only) is read, then upgraded.
#[tokio::test]
async fn history_without_name_and_statements_columns() {
    let db = TestDb::new();
    let mut client = db.client().await;
    client
        .batch_execute(
            "create schema supabase_migrations;
             create table supabase_migrations.schema_migrations (version text not null primary key);",
        )
        .await
        .unwrap();
    assert_eq!(
        status(&client).await.unwrap().pending.len(),
        embedded().len()
    );
    push(&mut client, false).await.unwrap();
    assert!(status(&client).await.unwrap().is_current());
    assert_eq!(history(&client).await.len(), embedded().len());
}

static THREE: [Migration; 3] = [
    Migration {
        version: "20990101000000",
        name: "one",
        sql: "create table t1 (x int);",
    },
    Migration {
        version: "20990101000001",
        name: "two",
        sql: "create table t2 (x int);",
    },
    Migration {
        version: "20990101000002",
        name: "three",
        sql: "create table t3 (x int);",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_apply_each_migration_once() {
    for set in [embedded(), &THREE[..]] {
        let db = TestDb::new();
        let (mut a, mut b) = (db.client().await, db.client().await);
        let (ra, rb) = tokio::join!(push_set(&mut a, set, false), push_set(&mut b, set, false));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let mut applied = versions(&ra.applied);
        applied.extend(versions(&rb.applied));
        applied.sort();
        assert_eq!(applied, set.iter().map(|m| m.version).collect::<Vec<_>>());
        assert_eq!(history(&a).await.len(), set.len());
    }
}

static GOOD_THEN_BROKEN: [Migration; 2] = [
    Migration {
        version: "20990101000000",
        name: "good",
        sql: "-- a comment of its own\ncreate table good (x int);\n\
              insert into good values (1);\n-- and a trailing one\n",
    },
    Migration {
        version: "20990101000001",
        name: "broken",
        sql: "create table half_done (x int);\nselect * from no_such_table;\n",
    },
];

#[tokio::test]
async fn failed_migration_is_rolled_back_and_not_recorded() {
    let db = TestDb::new();
    let mut client = db.client().await;
    let err = push_set(&mut client, &GOOD_THEN_BROKEN, false)
        .await
        .unwrap_err();
    match &err {
        SchemaError::Apply {
            version,
            number,
            total,
            statement,
            ..
        } => {
            assert_eq!(*version, "20990101000001");
            assert_eq!((*number, *total), (2, 2));
            assert_eq!(statement, "select * from no_such_table");
        }
        other => panic!("wrong error: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("no_such_table") && message.contains("20990101000001_broken"),
        "{message}"
    );

    let first = &GOOD_THEN_BROKEN[0];
    assert_eq!(
        history(&client).await,
        [(
            first.version.to_owned(),
            Some(first.name.to_owned()),
            Some(first.statements())
        )]
    );
    assert_eq!(
        first.statements().len(),
        3,
        "the trailing comment is a statement"
    );
    let x: i32 = client
        .query_one("select x from good", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(x, 1);
    assert!(
        !exists(&client, "public.half_done").await,
        "the failed migration left a table"
    );
    assert!(
        !holds_advisory_lock(&client).await,
        "lock kept after an error"
    );

    // Still usable: the next push tries the broken one again, and only it.
    let again = push_set(&mut client, &GOOD_THEN_BROKEN, false).await;
    assert!(matches!(
        again,
        Err(SchemaError::Apply {
            version: "20990101000001",
            ..
        })
    ));
}

/// The applied schema is the one the table catalog describes: the sink's schema check
/// (every column's type, NOT NULL, default and identity, every index and foreign key)
/// finds nothing, and there is nothing the catalog does not describe.
#[tokio::test]
async fn applied_schema_matches_the_catalog() {
    let db = TestDb::new();
    let mut client = db.client().await;
    push(&mut client, false).await.unwrap();
    let target = ava_sink::connect(&db.url).await.unwrap();
    target.check_schema().await.unwrap();
    for table in ava_catalog::TABLES.iter() {
        let relation = format!("public.{}", table.name);
        let counts = client
            .query_one(
                "select (select count(*) from pg_attribute \
                          where attrelid = $1::text::regclass and attnum > 0 and not attisdropped), \
                        (select count(*) from pg_index where indrelid = $1::text::regclass), \
                        (select count(*) from pg_constraint \
                          where conrelid = $1::text::regclass and contype = 'f')",
                &[&relation],
            )
            .await
            .unwrap();
        let (columns, indexes, fks): (i64, i64, i64) =
            (counts.get(0), counts.get(1), counts.get(2));
        assert_eq!(columns as usize, table.columns.len(), "{}", table.name);
        assert_eq!(
            indexes as usize,
            table.indexes.len() + 1,
            "{}: primary key + indexes",
            table.name
        );
        assert_eq!(fks as usize, table.foreign_keys().count(), "{}", table.name);
    }
    let tables: i64 = client
        .query_one(
            "select count(*) from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables as usize, ava_catalog::TABLES.len());
}

/// The sink's schema check names every difference from the catalog.
#[tokio::test]
async fn schema_check_names_every_difference() {
    let db = TestDb::new();
    let mut client = db.client().await;
    push(&mut client, false).await.unwrap();
    client
        .batch_execute(
            "alter table customers alter column notes type varchar(10); \
             alter table appointments alter column status drop default; \
             alter table call_sessions alter column session_id drop not null; \
             drop index ix_customers_phone; \
             alter table call_events drop constraint call_events_call_session_id_fkey; \
             alter table daily_metrics drop column conversion_rate",
        )
        .await
        .unwrap();
    let target = ava_sink::connect(&db.url).await.unwrap();
    let Err(ava_sink::SinkError::Schema { problems, .. }) = target.check_schema().await else {
        panic!("the check passed a changed schema");
    };
    let mut objects: Vec<String> = problems.iter().map(|p| p.object.clone()).collect();
    objects.sort();
    assert_eq!(
        objects,
        [
            "appointments.status",
            "call_events.call_session_id",
            "call_sessions.session_id",
            "customers.notes",
            "daily_metrics.conversion_rate",
            "ix_customers_phone",
        ]
    );
}
