//! Row level security (migration `20251125210000_row_level_security`): the pgTAP tests of
//! `supabase/tests/` (what `supabase test db` runs) against a database set up by the real
//! `ava db push`, and ava itself working as a table owner that is not a superuser, as it
//! connects on Supabase.

use std::path::{Path, PathBuf};

use crate::support::*;

/// `supabase/tests/`, in the repository.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../supabase/tests")
}

/// The `.sql` files of `supabase/tests/`, sorted.
fn test_files() -> Vec<PathBuf> {
    let dir = tests_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// Runs `sql` (a whole file) as one simple query, the way psql and pg_prove send a file's
/// statements, and returns every value of every row it returned, split into lines: the
/// TAP stream of a pgTAP file. An error is returned as text naming the file's line.
fn run_file(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let messages = client
            .simple_query(sql)
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) => {
                    let line = match db.position() {
                        Some(tokio_postgres::error::ErrorPosition::Original(at)) => {
                            let before: String = sql.chars().take(*at as usize).collect();
                            format!(" (line {})", before.lines().count().max(1))
                        }
                        _ => String::new(),
                    };
                    format!("{db}{line}")
                }
                None => e.to_string(),
            })?;
        let mut lines = Vec::new();
        for message in messages {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                for i in 0..row.len() {
                    if let Some(value) = row.get(i) {
                        lines.extend(value.lines().map(str::to_owned));
                    }
                }
            }
        }
        Ok(lines)
    })
}

/// What is wrong with a TAP stream: no plan, a `not ok`, or fewer `ok`s than planned.
fn tap_problems(lines: &[String]) -> Option<String> {
    let planned = lines.iter().find_map(|l| {
        l.strip_prefix("1..")
            .and_then(|n| n.trim().parse::<usize>().ok())
    });
    let passed = lines.iter().filter(|l| l.starts_with("ok ")).count();
    let failed = lines.iter().any(|l| l.starts_with("not ok"));
    let good = matches!(planned, Some(n) if n > 0 && n == passed) && !failed;
    if good {
        return None;
    }
    // Everything but the passing tests: the plan, the failures and their diagnostics.
    let report: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with("ok "))
        .map(String::as_str)
        .collect();
    Some(format!(
        "planned {}, passed {passed}:\n{}",
        planned.map_or("nothing".to_owned(), |n| n.to_string()),
        report.join("\n")
    ))
}

#[test]
fn supabase_pgtap_tests_pass_on_a_pushed_database() {
    let case = Case::empty();
    case.push();
    let available: bool = case
        .pg
        .one("select exists (select from pg_available_extensions where name = 'pgtap')");
    if !available {
        let major: i32 = case
            .pg
            .one("select current_setting('server_version_num')::int / 10000");
        panic!(
            "the PostgreSQL server has no pgtap extension, which the tests in supabase/tests \
             need: install it (on Debian: `apt-get install -y postgresql-{major}-pgtap`; \
             .ci/run does this) and run the tests again"
        );
    }
    let files = test_files();
    assert!(
        !files.is_empty(),
        "no .sql files in {}",
        tests_dir().display()
    );
    let mut failures = Vec::new();
    for file in &files {
        let sql = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        match run_file(&case.db.url, &sql) {
            Ok(lines) => {
                if let Some(problem) = tap_problems(&lines) {
                    failures.push(format!("{name}: {problem}"));
                }
            }
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "pgTAP tests failed:\n\n{}",
        failures.join("\n\n")
    );
    // Each file rolls itself back.
    assert_eq!(case.pg.counts(), [0; 5], "a test file left rows behind");
    assert!(
        !case
            .pg
            .one::<bool>("select exists (select from pg_extension where extname = 'pgtap')"),
        "a test file left the pgtap extension installed"
    );
}

#[test]
fn tap_output_is_judged_by_plan_and_results() {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(tap_problems(&lines("1..2\nok 1 - a\nok 2 - b")), None);
    for bad in [
        "ok 1 - a",
        "1..0",
        "1..2\nok 1 - a",
        "1..2\nok 1 - a\nnot ok 2 - b\n# Failed test 2",
        "1..1\nok 1 - a\nok 2 - b",
    ] {
        assert!(tap_problems(&lines(bad)).is_some(), "{bad}");
    }
    let report = tap_problems(&lines("1..2\nok 1 - a\nnot ok 2 - b\n# Failed test 2")).unwrap();
    assert!(
        report.contains("not ok 2 - b") && report.contains("# Failed test 2"),
        "{report}"
    );
    assert!(!report.contains("ok 1 - a"), "{report}");
}

/// `url` (a `postgresql://user@host/db` URL) connecting as `user` with `password`.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("the test server URL {url} is not a postgresql:// URL"));
    let (_, host) = rest
        .split_once('@')
        .unwrap_or_else(|| panic!("the test server URL {url} names no user"));
    format!("{scheme}://{user}:{password}@{host}")
}

/// A login role of a test's own (roles are cluster-wide), dropped when this value is
/// dropped: after the test's database, so declare it before the [`Case`].
struct OwnerRole {
    name: String,
}

impl OwnerRole {
    fn new() -> OwnerRole {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        OwnerRole {
            name: format!("ava_rls_owner_{}_{nanos}", std::process::id()),
        }
    }
}

impl Drop for OwnerRole {
    fn drop(&mut self) {
        // Its objects and privileges went with the test's database.
        let pg = Pg::connect(ava_testpg::admin_url());
        if let Err(e) = pg.try_exec(&format!("drop role if exists {}", self.name)) {
            eprintln!("could not drop role {}: {e}; drop it by hand", self.name);
        }
    }
}

/// On Supabase, ava connects as `postgres`, which is not a superuser there: it is subject
/// to row level security except on the tables it owns. Enabled (not forced) RLS leaves
/// the owner's push, migrate, verify and sync as they were.
#[test]
fn a_table_owner_that_is_not_a_superuser_works_as_before() {
    let role = OwnerRole::new();
    let case = Case::seeded(CALLS, 71);
    let (role, password) = (role.name.as_str(), "rls-owner-pw");
    // Creating a BYPASSRLS role takes a superuser: the API roles are made first, as
    // Supabase has them, and the push finds them.
    for api_role in [
        "anon nologin noinherit",
        "authenticated nologin noinherit",
        "service_role nologin noinherit bypassrls",
    ] {
        let name = api_role.split(' ').next().unwrap();
        case.pg.exec(&format!(
            "do $$ begin \
               if not exists (select from pg_roles where rolname = '{name}') then \
                 create role {api_role}; \
               end if; \
             exception when duplicate_object or unique_violation then null; \
             end $$"
        ));
    }
    case.pg.exec(&format!(
        "create role {role} login nosuperuser nobypassrls password '{password}'; \
         grant create on database \"{db}\" to {role}; \
         grant create on schema public to {role}",
        db = case.db.name
    ));
    let url = as_user(&case.db.url, role, password);
    let run = |args: &[&str]| {
        Out::of(
            case.ava()
                .args(args)
                .arg("--sqlite")
                .arg(&case.sqlite)
                .args(["--database-url", &url]),
        )
    };

    Out::of(case.ava().args(["db", "push", "--database-url", &url])).ok();
    let owners: Vec<String> = case
        .pg
        .rows(
            "select distinct pg_get_userbyid(relowner)::text from pg_class \
             where relnamespace = 'public'::regnamespace and relkind = 'r'",
            &[],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, [role]);
    let rls: bool = case.pg.one(
        "select bool_and(relrowsecurity and not relforcerowsecurity) from pg_class \
         where relnamespace = 'public'::regnamespace and relkind = 'r'",
    );
    assert!(rls, "RLS is not enabled (or is forced) on the five tables");

    run(&["migrate"]).ok();
    run(&["verify"]).ok();
    assert_same_contents(&case.sqlite, &case.pg);
    case.lite("update customers set notes = 'changed after the move' where id = 1");
    run(&["verify"]).code(3);
    run(&["sync"]).ok().stdout_has(&["synced:"]);
    run(&["verify"]).ok();
    assert_same_contents(&case.sqlite, &case.pg);

    // The owner sees every row; authenticated without a role claim, none.
    let customers = case.pg.counts()[0];
    assert!(customers > 0);
    case.pg.exec(&format!(
        "begin; \
         set local role {role}; \
         do $$ begin \
           if (select count(*) from public.customers) <> {customers} then \
             raise exception 'the owner does not see every customer'; \
           end if; \
         end $$; \
         reset role; \
         set local role authenticated; \
         do $$ begin \
           if (select count(*) from public.customers) <> 0 then \
             raise exception 'authenticated without a role claim sees customers'; \
           end if; \
         end $$; \
         rollback"
    ));
}
