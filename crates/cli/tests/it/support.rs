//! Shared helpers: a per-test workspace ([`Case`]: its own temp dir, its own fresh
//! Postgres database, a seeded SQLite file), running the `ava` binary ([`Out`]), and
//! reading both sides independently of ava's own code ([`Pg`], [`sqlite`]).

use std::fmt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ava_catalog::{Kind, TABLES};
use ava_testpg::TestDb;
use chrono::NaiveDate;
use rusqlite::types::ValueRef;
use tempfile::TempDir;
use tokio_postgres::types::{FromSqlOwned, ToSql};
use tokio_postgres::Row;

/// The five tables, in load order.
pub const TABLE_NAMES: [&str; 5] = [
    "customers",
    "appointments",
    "call_sessions",
    "call_events",
    "daily_metrics",
];

/// The fixed last day of seeded calls, so every run seeds the same rows.
pub fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 8, 25).unwrap()
}

/// Small enough to keep the suite fast, large enough to hold every hard case of the seed.
pub const CALLS: u64 = 200;

/// Writes a seeded SQLite file at `path` (`calls` calls, random seed `seed`, fixed end).
pub fn seed_file(path: &Path, calls: u64, seed: u64) {
    ava_seed::seed(
        path,
        &ava_seed::SeedOptions {
            calls,
            seed,
            end: end(),
        },
    )
    .unwrap_or_else(|e| panic!("seeding {}: {e}", path.display()));
}

/// One test's world: a temp dir (the working directory of every `ava` run, so no stray
/// `.env` or `ava_database.db` is found), a fresh Postgres database and the path of the
/// source SQLite file in the temp dir.
///
/// Fields drop in declaration order: the client first, then the database, then the dir.
pub struct Case {
    pub pg: Pg,
    pub db: TestDb,
    pub dir: TempDir,
    /// `<dir>/source.db`; exists once seeded.
    pub sqlite: PathBuf,
}

impl Case {
    /// A fresh, empty database (no schema) and an empty temp dir.
    pub fn empty() -> Case {
        let db = TestDb::new();
        let pg = Pg::connect(&db.url);
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let sqlite = dir.path().join("source.db");
        Case {
            pg,
            db,
            dir,
            sqlite,
        }
    }

    /// [`Case::empty`] with a seeded source file.
    pub fn seeded(calls: u64, seed: u64) -> Case {
        let case = Case::empty();
        seed_file(&case.sqlite, calls, seed);
        case
    }

    /// [`Case::seeded`] with the schema pushed to the target.
    pub fn pushed(calls: u64, seed: u64) -> Case {
        let case = Case::seeded(calls, seed);
        case.push();
        case
    }

    /// [`Case::pushed`] and migrated (asserting exit 0).
    pub fn migrated(calls: u64, seed: u64) -> Case {
        let case = Case::pushed(calls, seed);
        case.migrate(&[]).ok();
        case
    }

    /// `ava` in this case's temp dir, without `DATABASE_URL` from the environment.
    pub fn ava(&self) -> Command {
        ava_in(self.dir.path())
    }

    /// Runs `ava args…` as given.
    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(self.ava().args(args))
    }

    /// Runs `ava args… --database-url <this case's database>`.
    pub fn with_target(&self, args: &[&str]) -> Out {
        Out::of(self.ava().args(args).args(["--database-url", &self.db.url]))
    }

    /// Runs `ava args… --sqlite <source> --database-url <database>`.
    pub fn with_both(&self, args: &[&str]) -> Out {
        self.with_both_file(args, &self.sqlite)
    }

    /// Runs `ava args… --sqlite <file> --database-url <database>`.
    pub fn with_both_file(&self, args: &[&str], file: &Path) -> Out {
        Out::of(
            self.ava()
                .args(args)
                .arg("--sqlite")
                .arg(file)
                .args(["--database-url", &self.db.url]),
        )
    }

    /// `ava db push`, asserting exit 0.
    pub fn push(&self) -> Out {
        self.with_target(&["db", "push"]).ok()
    }

    /// `ava migrate extra…` from the source into the target.
    pub fn migrate(&self, extra: &[&str]) -> Out {
        let mut args = vec!["migrate"];
        args.extend_from_slice(extra);
        self.with_both(&args)
    }

    /// `ava verify extra…` of the source against the target.
    pub fn verify(&self, extra: &[&str]) -> Out {
        let mut args = vec!["verify"];
        args.extend_from_slice(extra);
        self.with_both(&args)
    }

    /// Runs `sql` on the source file.
    pub fn lite(&self, sql: &str) {
        sqlite::exec(&self.sqlite, sql);
    }

    /// An open read-write connection to the source file, for statements with parameters.
    pub fn lite_conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.sqlite).unwrap()
    }
}

/// `ava` in `dir`, without `DATABASE_URL` from the environment.
pub fn ava_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ava").expect("the ava binary is built");
    // A hung run is killed (and reported with exit -1) rather than hanging the suite.
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .timeout(std::time::Duration::from_secs(120));
    cmd
}

/// What one run of `ava` did.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: String,
}

impl Out {
    /// Runs `cmd` to completion.
    pub fn of(cmd: &mut Command) -> Out {
        let args = format!("{:?}", cmd);
        let output = cmd.output().expect("running ava");
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            args,
        }
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, want: i32) -> Out {
        assert_eq!(self.code, want, "unexpected exit code\n{self}");
        self
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Out {
        self.code(0)
    }

    /// Asserts that stdout contains every one of `needles`.
    #[track_caller]
    pub fn stdout_has(self, needles: &[&str]) -> Out {
        for n in needles {
            assert!(self.stdout.contains(n), "stdout lacks {n:?}\n{self}");
        }
        self
    }

    /// Asserts that stderr contains every one of `needles`.
    #[track_caller]
    pub fn stderr_has(self, needles: &[&str]) -> Out {
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}\n{self}");
        }
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle`.
    #[track_caller]
    pub fn never_says(self, needle: &str) -> Out {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "output contains {needle:?}\n{self}"
        );
        self
    }
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// A blocking Postgres client on its own current-thread runtime, so tests stay plain
/// `#[test]` functions that run `ava` in between queries.
pub struct Pg {
    client: tokio_postgres::Client,
    rt: tokio::runtime::Runtime,
}

impl Pg {
    pub fn connect(url: &str) -> Pg {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        });
        Pg { client, rt }
    }

    /// Runs `sql` (one or more statements), panicking on failure.
    #[track_caller]
    pub fn exec(&self, sql: &str) {
        if let Err(e) = self.try_exec(sql) {
            panic!("{sql}: {e:?}");
        }
    }

    pub fn try_exec(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.rt.block_on(self.client.batch_execute(sql))
    }

    #[track_caller]
    pub fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<Row> {
        self.rt
            .block_on(self.client.query(sql, params))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The first column of the one row `sql` returns.
    #[track_caller]
    pub fn one<T: FromSqlOwned>(&self, sql: &str) -> T {
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// Row counts of the five tables, in load order.
    pub fn counts(&self) -> Vec<i64> {
        TABLE_NAMES
            .iter()
            .map(|t| self.one(&format!("select count(*) from public.{t}")))
            .collect()
    }

    /// Per table, an md5 of every row's text form in id order (NULL when empty): equal
    /// fingerprints mean equal contents.
    pub fn fingerprint(&self) -> Vec<Option<String>> {
        TABLE_NAMES
            .iter()
            .map(|t| {
                self.one(&format!(
                    "select md5(string_agg(t::text, '' order by id)) from public.{t} t"
                ))
            })
            .collect()
    }

    /// `ava.migrate_runs` as `(status, mode, rows_copied, detail)`, oldest first.
    pub fn runs(&self) -> Vec<(String, String, i64, Option<String>)> {
        self.rows(
            "select status, mode, rows_copied, detail from ava.migrate_runs order by id",
            &[],
        )
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
    }

    /// Whether `table` exists.
    pub fn has_table(&self, table: &str) -> bool {
        self.one::<Option<String>>(&format!("select to_regclass('{table}')::text"))
            .is_some()
    }

    /// Inserts a minimal valid row into each of the five tables and checks it gets
    /// `max(id) + 1` (the sequences were moved past the copied ids).
    #[track_caller]
    pub fn assert_sequences_past_max_id(&self) {
        let inserts = [
            (
                "customers",
                "insert into customers (name, phone) values ('Sequence Test', '+19995550100') returning id",
            ),
            (
                "appointments",
                "insert into appointments (customer_id, appointment_datetime, service_type) \
                 values ((select min(id) from customers), now(), 'Botox') returning id",
            ),
            (
                "call_sessions",
                "insert into call_sessions (session_id) values ('sequence-test-session') returning id",
            ),
            (
                "call_events",
                "insert into call_events (call_session_id, event_type) \
                 values ((select min(id) from call_sessions), 'sequence_test') returning id",
            ),
            (
                "daily_metrics",
                "insert into daily_metrics (date) values ('2099-01-01 00:00:00+00') returning id",
            ),
        ];
        for (table, insert) in inserts {
            let max: i64 = self.one(&format!("select coalesce(max(id), 0) from {table}"));
            assert!(max > 0, "{table} is empty");
            let id: i64 = self
                .rt
                .block_on(self.client.query_one(insert, &[]))
                .unwrap_or_else(|e| panic!("{table}: a new row does not get a fresh id: {e:?}"))
                .get(0);
            assert_eq!(id, max + 1, "{table}: new id is not max(id) + 1");
        }
    }
}

/// The names of the entries of `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Reading and writing the SQLite side with rusqlite, not with ava's code.
pub mod sqlite {
    use super::*;

    #[track_caller]
    pub fn exec(path: &Path, sql: &str) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the first row of `sql`.
    #[track_caller]
    pub fn one<T: rusqlite::types::FromSql>(path: &Path, sql: &str) -> T {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Row counts of the five tables, in load order.
    pub fn counts(path: &Path) -> Vec<i64> {
        TABLE_NAMES
            .iter()
            .map(|t| one(path, &format!("select count(*) from {t}")))
            .collect()
    }

    /// Every row of every table as SQLite returns it, for comparing two files' contents.
    pub fn dump(path: &Path) -> Vec<Vec<Vec<rusqlite::types::Value>>> {
        let conn = rusqlite::Connection::open(path).unwrap();
        TABLE_NAMES
            .iter()
            .map(|t| {
                let mut stmt = conn
                    .prepare(&format!("select * from {t} order by id"))
                    .unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i))
                        .collect()
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            })
            .collect()
    }
}

/// A value normalised for comparing the two sides independently of ava's converter.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmp {
    Null,
    Int(i64),
    /// A double by its bits: equality is bit-exact (so -0.0 ≠ 0.0).
    Bits(u64),
    Bool(bool),
    /// A timestamp as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC.
    Stamp(String),
    Text(String),
    Json(serde_json::Value),
}

/// The SQL expression reading `column` from Postgres in [`Cmp`]'s terms.
fn pg_expr(column: &str, kind: Kind) -> String {
    match kind {
        Kind::Id | Kind::Ref(_) | Kind::Int => format!("\"{column}\"::bigint"),
        Kind::Timestamp => {
            format!("to_char(\"{column}\" at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        Kind::Json => format!("\"{column}\"::text"),
        Kind::Float | Kind::Bool | Kind::Varchar(_) | Kind::Text => format!("\"{column}\""),
    }
}

/// JSON text parsed, every number made a double: Python writes `1e+16` where jsonb
/// writes `10000000000000000`, the same number.
pub fn json(text: &str) -> serde_json::Value {
    fn norm(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            J::Number(n) => J::Number(serde_json::Number::from_f64(n.as_f64().unwrap()).unwrap()),
            J::Array(a) => J::Array(a.into_iter().map(norm).collect()),
            J::Object(o) => J::Object(o.into_iter().map(|(k, v)| (k, norm(v))).collect()),
            v => v,
        }
    }
    norm(serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}")))
}

/// Every row of `table` in the target, id order, as [`Cmp`] values.
pub fn pg_rows(pg: &Pg, table: &str) -> Vec<Vec<Cmp>> {
    let t = ava_catalog::table(table).unwrap();
    let select = t
        .columns
        .iter()
        .map(|c| pg_expr(c.name, c.kind))
        .collect::<Vec<_>>()
        .join(", ");
    pg.rows(
        &format!("select {select} from public.\"{table}\" order by id"),
        &[],
    )
    .iter()
    .map(|row| {
        t.columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c.kind {
                Kind::Id | Kind::Ref(_) | Kind::Int => {
                    row.get::<_, Option<i64>>(i).map_or(Cmp::Null, Cmp::Int)
                }
                Kind::Float => row
                    .get::<_, Option<f64>>(i)
                    .map_or(Cmp::Null, |f| Cmp::Bits(f.to_bits())),
                Kind::Bool => row.get::<_, Option<bool>>(i).map_or(Cmp::Null, Cmp::Bool),
                Kind::Timestamp => row
                    .get::<_, Option<String>>(i)
                    .map_or(Cmp::Null, Cmp::Stamp),
                Kind::Varchar(_) | Kind::Text => {
                    row.get::<_, Option<String>>(i).map_or(Cmp::Null, Cmp::Text)
                }
                Kind::Json => row
                    .get::<_, Option<String>>(i)
                    .map_or(Cmp::Null, |s| Cmp::Json(json(&s))),
            })
            .collect()
    })
    .collect()
}

/// Every row of `table` in a SQLite file written in the app's own formats (as the seed
/// writes them: SQLAlchemy datetimes, 0/1 booleans, `json.dumps` text), as [`Cmp`] values.
pub fn sqlite_rows(path: &Path, table: &str) -> Vec<Vec<Cmp>> {
    let t = ava_catalog::table(table).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let columns = t
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare(&format!("select {columns} from \"{table}\" order by id"))
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            Ok(t.columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = row.get_ref(i).unwrap();
                    let text =
                        |v: ValueRef| String::from_utf8(v.as_bytes().unwrap().to_vec()).unwrap();
                    match (v, c.kind) {
                        (ValueRef::Null, _) => Cmp::Null,
                        (ValueRef::Integer(i), Kind::Bool) => Cmp::Bool(i != 0),
                        (ValueRef::Integer(i), Kind::Float) => Cmp::Bits((i as f64).to_bits()),
                        (ValueRef::Integer(i), _) => Cmp::Int(i),
                        (ValueRef::Real(f), _) => Cmp::Bits(f.to_bits()),
                        (v @ ValueRef::Text(_), Kind::Timestamp) => Cmp::Stamp(text(v)),
                        (v @ ValueRef::Text(_), Kind::Json) => Cmp::Json(json(&text(v))),
                        (v, _) => Cmp::Text(text(v)),
                    }
                })
                .collect::<Vec<_>>())
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Asserts, cell by cell, that every table of the target equals the SQLite file.
#[track_caller]
pub fn assert_same_contents(path: &Path, pg: &Pg) {
    for table in TABLES.iter().map(|t| t.name) {
        let (source, target) = (sqlite_rows(path, table), pg_rows(pg, table));
        assert_eq!(source.len(), target.len(), "{table}: row counts differ");
        for (s, t) in source.iter().zip(&target) {
            assert_eq!(s, t, "{table}: a row differs");
        }
    }
}

/// `url` with its password set to `password` (for `postgresql://user@host/db` URLs).
pub fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("the test server URL {url} is not a postgresql:// URL"));
    let (userinfo, host) = rest
        .split_once('@')
        .unwrap_or_else(|| panic!("the test server URL {url} names no user"));
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

/// `url` with its database replaced by `name` (a query string is kept).
pub fn with_dbname(url: &str, name: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (url, String::new()),
    };
    let (base, _) = path.rsplit_once('/').unwrap();
    format!("{base}/{name}{query}")
}

/// The bytes of `path`, and the names of the files beside it.
pub fn snapshot_file(path: &Path) -> (Vec<u8>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (std::fs::read(path).unwrap(), names)
}

/// Text as ava's reports quote it: in double quotes, escaped as Rust's `escape_debug`.
pub fn quoted(text: &str) -> String {
    format!(
        "\"{}\"",
        text.chars()
            .flat_map(char::escape_debug)
            .collect::<String>()
    )
}

/// The one `error:` line of a run, asserting that there is exactly one and that
/// nothing panicked. A file ava cannot read gives one line, the last; a bad-cell
/// report lists the cells on the lines after it.
#[track_caller]
pub fn error_line(out: &Out) -> String {
    assert!(!out.stderr.contains("panicked"), "a panic\n{out}");
    assert!(!out.stdout.contains("panicked"), "a panic\n{out}");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "not one error line\n{out}");
    if out.code == 1 {
        assert_eq!(
            out.stderr.trim_end().lines().last(),
            Some(errors[0]),
            "the error is not one last line\n{out}"
        );
    }
    errors[0].to_string()
}
