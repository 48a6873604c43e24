//! `ava doctor`: one screen of checks on the target, each `✓`, `!` (worth a look) or `✗`
//! (to fix, with what to do).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ava_catalog::TABLES;
use clap::Args;

use crate::{config, exit, TargetArgs};

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Also compare the row counts of the five tables with this SQLite file (opened
    /// read-only; its bytes never change)
    #[arg(long, value_name = "PATH")]
    sqlite: Option<PathBuf>,
}

/// How a check came out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mark {
    Ok,
    /// Worth a look; nothing has to be fixed.
    Warn,
    /// Must be fixed: `ava doctor` exits [`exit::DOCTOR`].
    Fail,
}

/// The printed checks and how many failed.
#[derive(Default)]
struct Screen {
    failed: usize,
    warned: usize,
}

impl Screen {
    /// Prints one check, and under it what to do (for `!` and `✗`).
    fn line(&mut self, mark: Mark, what: impl AsRef<str>, fix: Option<String>) {
        let sign = match mark {
            Mark::Ok => "✓",
            Mark::Warn => {
                self.warned += 1;
                "!"
            }
            Mark::Fail => {
                self.failed += 1;
                "✗"
            }
        };
        println!("{sign} {}", what.as_ref());
        if let Some(fix) = fix.filter(|_| mark != Mark::Ok) {
            println!("    → {fix}");
        }
    }

    fn ok(&mut self, what: impl AsRef<str>) {
        self.line(Mark::Ok, what, None);
    }

    fn warn(&mut self, what: impl AsRef<str>, fix: impl Into<String>) {
        self.line(Mark::Warn, what, Some(fix.into()));
    }

    fn fail(&mut self, what: impl AsRef<str>, fix: impl Into<String>) {
        self.line(Mark::Fail, what, Some(fix.into()));
    }
}

/// Where the URL points, told from its host and port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `*.pooler.supabase.com:6543` (Supavisor) or `db.<ref>.supabase.co:6543` (the
    /// dedicated pooler): a server connection per transaction, so the session state
    /// migrate and sync rely on (advisory locks, settings) does not survive.
    TransactionPooler,
    /// `*.pooler.supabase.com:5432`.
    SessionPooler,
    /// `db.<ref>.supabase.co`, on any port but 6543.
    Direct,
    /// A loopback address, `localhost` or a Unix socket.
    Local,
    Other,
}

/// The kind of connection to `host` (a name, an address or a socket directory) at `port`.
pub fn kind(host: &str, port: u16) -> Kind {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if host.ends_with(".pooler.supabase.com") {
        return match port {
            6543 => Kind::TransactionPooler,
            5432 => Kind::SessionPooler,
            _ => Kind::Other,
        };
    }
    let direct = host
        .strip_prefix("db.")
        .and_then(|rest| rest.strip_suffix(".supabase.co"))
        .is_some_and(|project| !project.is_empty() && !project.contains('.'));
    if direct && port == 6543 {
        Kind::TransactionPooler
    } else if direct {
        Kind::Direct
    } else if host == "localhost"
        || host.starts_with('/')
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
    {
        Kind::Local
    } else {
        Kind::Other
    }
}

/// The kind of the URL's first host, and `host:port` for the screen; `None` when the
/// URL does not parse (connecting then says why).
fn kind_of(url: &str) -> Option<(Kind, String)> {
    let config = ava_sink::ConnectParams::from_url(url).ok()?.config;
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(name) => name.clone(),
        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Some((kind(&host, port), format!("{host}:{port}")))
}

pub async fn doctor(args: DoctorArgs) -> anyhow::Result<u8> {
    let url = config::database_url(&args.target)?;
    let push = if args.target.database_url.is_some() {
        "ava db push --database-url URL"
    } else {
        "ava db push"
    };
    let mut screen = Screen::default();
    println!("ava doctor: {}", ava_sink::redact(&url));
    let kind = kind_of(&url).map(|(kind, at)| {
        connection_kind(&mut screen, kind, &at);
        kind
    });
    match ava_sink::connect(&url).await {
        Ok(mut target) => {
            screen.ok("reachable");
            checks(&mut screen, &mut target, kind, push, args.sqlite.as_deref()).await;
        }
        Err(e) => screen.fail(
            format!("reachable: {e}"),
            "check the host, port, user and password in the URL, that the server runs and \
             that it lets this machine in (Supabase: Database → Network restrictions)",
        ),
    }
    println!("{} to fix, {} to look at", screen.failed, screen.warned);
    Ok(if screen.failed == 0 {
        exit::OK
    } else {
        exit::DOCTOR
    })
}

fn connection_kind(screen: &mut Screen, kind: Kind, at: &str) {
    match kind {
        Kind::TransactionPooler => screen.fail(
            format!("connection: Supabase transaction pooler ({at})"),
            "ava migrate and ava sync need one session throughout: use port 5432 on the same \
             host (the session pooler), or the direct connection db.<project>.supabase.co:5432",
        ),
        Kind::SessionPooler => screen.ok(format!("connection: Supabase session pooler ({at})")),
        Kind::Direct => screen.ok(format!("connection: Supabase direct ({at})")),
        Kind::Local => screen.ok(format!("connection: local ({at})")),
        Kind::Other => screen.ok(format!("connection: other ({at})")),
    }
}

/// Every check that needs the connection.
async fn checks(
    screen: &mut Screen,
    target: &mut ava_sink::Target,
    kind: Option<Kind>,
    push: &str,
    sqlite: Option<&Path>,
) {
    tls(screen, target, kind).await;
    match target
        .client_ref()
        .query_one("select current_setting('server_version')", &[])
        .await
    {
        Ok(row) => screen.ok(format!("server: PostgreSQL {}", row.get::<_, String>(0))),
        Err(e) => screen.warn(
            format!("server: {}", target.error("reading the server version", e)),
            "nothing to do unless the other checks fail too",
        ),
    }
    let schema_ok = migrations(screen, target, push).await;
    let names: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    let present: Vec<String> = match target
        .client_ref()
        .query(
            "select t from unnest($1::text[]) t where to_regclass('public.' || quote_ident(t)) is not null",
            &[&names],
        )
        .await
    {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(e) => {
            screen.fail(
                format!("tables: {}", target.error("looking for the five tables", e)),
                "check that the role may read the catalog",
            );
            return;
        }
    };
    if present.is_empty() {
        screen.fail(
            "tables: none of the five tables is there, so row-level security, privileges, \
             sequences and rows were not checked",
            format!("run `{push}`"),
        );
        return;
    }
    rls(screen, target, &present).await;
    privileges(screen, target, &present).await;
    if schema_ok {
        sequences(screen, target).await;
        if let Some(path) = sqlite {
            counts(screen, target, path).await;
        }
    } else {
        screen.warn(
            "sequences and row counts: not checked until the schema matches",
            "fix the schema first (above)",
        );
    }
}

/// TLS as the server sees this connection.
async fn tls(screen: &mut Screen, target: &ava_sink::Target, kind: Option<Kind>) {
    let row = target
        .client_ref()
        .query_opt(
            "select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await;
    let fix = "add sslmode=require to the URL (verify-full also checks the server's \
               certificate), and in Supabase switch on Database → SSL enforcement (\"Enforce \
               SSL on incoming connections\")";
    match row {
        Ok(Some(row)) if row.get::<_, bool>(0) => {
            let version: Option<String> = row.get(1);
            let cipher: Option<String> = row.get(2);
            let version = version.unwrap_or_default();
            let what = format!("TLS: {version} ({})", cipher.unwrap_or_default());
            if matches!(version.as_str(), "TLSv1.2" | "TLSv1.3") {
                screen.ok(what);
            } else {
                screen.warn(what, "the server should offer TLS 1.2 or newer");
            }
        }
        Ok(_) if kind == Some(Kind::Local) => {
            screen.ok("TLS: not in use (a local connection: nothing leaves this machine)")
        }
        Ok(_) => screen.fail(
            "TLS: not in use: the password and the data cross the network in plain text",
            fix,
        ),
        Err(e) => screen.warn(
            format!("TLS: {}", target.error("reading pg_stat_ssl", e)),
            fix,
        ),
    }
}

/// The migration history against this build, then the schema against the catalog;
/// whether both are right.
async fn migrations(screen: &mut Screen, target: &mut ava_sink::Target, push: &str) -> bool {
    let status = match ava_migrations::status(target.client()).await {
        Ok(status) => status,
        Err(e) => {
            screen.fail(
                format!("migrations: {}: {e}", target.url()),
                "check that the role may read supabase_migrations.schema_migrations",
            );
            return false;
        }
    };
    let mut current = true;
    if !status.pending.is_empty() {
        current = false;
        let versions: Vec<&str> = status.pending.iter().map(|m| m.version).collect();
        screen.fail(
            format!(
                "migrations: {} of {} pending ({})",
                status.pending.len(),
                ava_migrations::embedded().len(),
                versions.join(", ")
            ),
            format!("run `{push}`"),
        );
    }
    if !status.unknown.is_empty() {
        current = false;
        screen.fail(
            format!(
                "migrations: applied but unknown to this build: {}",
                status.unknown.join(", ")
            ),
            "run the ava build (or supabase/migrations folder) they came from",
        );
    }
    if !status.changed.is_empty() {
        current = false;
        screen.fail(
            format!(
                "migrations: applied from a different file than this build's: {}",
                status.changed.join(", ")
            ),
            "restore the files as they were applied and put the change in a new migration",
        );
    }
    if !current {
        return false;
    }
    screen.ok(format!("migrations: all {} applied", status.applied.len()));
    match target.check_schema().await {
        Ok(()) => {
            screen.ok("schema: the five tables match this build's catalog");
            true
        }
        Err(e) => {
            screen.fail(
                format!("schema: {e}"),
                "fix the differences listed (see ava db status)",
            );
            false
        }
    }
}

/// Row-level security on every table, and no policy that lets `anon` (or everyone) in.
async fn rls(screen: &mut Screen, target: &ava_sink::Target, present: &[String]) {
    let off = target
        .client_ref()
        .query(
            "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = 'public' and c.relname = any($1::text[]) and not c.relrowsecurity \
             order by c.relname",
            &[&present],
        )
        .await;
    match off {
        Ok(rows) if rows.is_empty() => {
            screen.ok(format!("row-level security: on for {}", present.join(", ")))
        }
        Ok(rows) => {
            let off: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let sql: Vec<String> = off
                .iter()
                .map(|t| format!("alter table public.{t} enable row level security;"))
                .collect();
            screen.fail(
                format!(
                    "row-level security: off for {} (with the anon key anyone can read them \
                     through Supabase's Data API)",
                    off.join(", ")
                ),
                format!(
                    "run `ava db push` with a current build, or in SQL: {}",
                    sql.join(" ")
                ),
            );
        }
        Err(e) => screen.fail(
            format!(
                "row-level security: {}",
                target.error("reading pg_class", e)
            ),
            "check that the role may read the catalog",
        ),
    }
    let policies = target
        .client_ref()
        .query(
            "select tablename::text, policyname::text from pg_policies \
             where schemaname = 'public' and tablename = any($1::text[]) \
             and roles && array['anon', 'public']::name[] order by tablename, policyname",
            &[&present],
        )
        .await;
    match policies {
        Ok(rows) if rows.is_empty() => screen.ok("policies: none grants anon or public"),
        Ok(rows) => {
            let found: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let names: Vec<String> = found
                .iter()
                .map(|(t, p)| format!("\"{p}\" on {t}"))
                .collect();
            let sql: Vec<String> = found
                .iter()
                .map(|(t, p)| format!("drop policy \"{p}\" on public.{t};"))
                .collect();
            screen.fail(
                format!("policies: {} grant(s) anon or public", names.join(", ")),
                format!("in SQL: {}", sql.join(" ")),
            );
        }
        Err(e) => screen.fail(
            format!("policies: {}", target.error("reading pg_policies", e)),
            "check that the role may read the catalog",
        ),
    }
}

/// What Supabase's API roles may do with the tables. On a table without row-level
/// security a privilege is all it takes to read or write through the Data API (✗); with
/// it, the policies decide which rows: fine for `authenticated`, worth a look for `anon`
/// (its key is public).
async fn privileges(screen: &mut Screen, target: &ava_sink::Target, present: &[String]) {
    let roles = target
        .client_ref()
        .query(
            "select rolname::text from pg_roles where rolname in ('anon', 'authenticated') \
             order by rolname",
            &[],
        )
        .await;
    // Per role, privileges and row-level security: the tables.
    let grants = target
        .client_ref()
        .query(
            "with g as ( \
                 select r.rolname::text as role, t, string_agg(p, ', ' order by p) as privs, \
                        c.relrowsecurity as rls \
                 from pg_roles r \
                 cross join unnest($1::text[]) t \
                 cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', \
                                          'REFERENCES', 'TRIGGER']) p \
                 join pg_class c on c.oid = to_regclass('public.' || quote_ident(t)) \
                 where r.rolname in ('anon', 'authenticated') \
                   and has_table_privilege(r.rolname, c.oid, p) \
                 group by r.rolname, t, c.relrowsecurity) \
             select role, privs, string_agg(t, ', ' order by t), rls from g \
             group by role, privs, rls order by role, privs",
            &[&present],
        )
        .await;
    let (roles, grants) = match (roles, grants) {
        (Ok(roles), Ok(grants)) => (roles, grants),
        (Err(e), _) | (_, Err(e)) => {
            screen.fail(
                format!(
                    "privileges: {}",
                    target.error("reading table privileges", e)
                ),
                "check that the role may read the catalog",
            );
            return;
        }
    };
    let roles: Vec<String> = roles.iter().map(|r| r.get(0)).collect();
    if roles.is_empty() {
        screen.ok("privileges: no anon or authenticated role here (not a Supabase database)");
        return;
    }
    let (mut exposed, mut anon, mut fine) = (Vec::new(), Vec::new(), Vec::new());
    for row in &grants {
        let role: String = row.get(0);
        let text = format!(
            "{role} may {} {}",
            row.get::<_, String>(1),
            row.get::<_, String>(2)
        );
        match (row.get::<_, bool>(3), role.as_str()) {
            (false, _) => exposed.push(text),
            (true, "anon") => anon.push(text),
            (true, _) => fine.push(text),
        }
    }
    if !exposed.is_empty() {
        screen.fail(
            format!(
                "privileges on tables without row-level security: {}",
                exposed.join("; ")
            ),
            "switch row-level security on (above), or in SQL: revoke all on the table from \
             anon, authenticated;",
        );
    }
    if !anon.is_empty() {
        screen.warn(
            format!(
                "privileges: {} (row-level security hides the rows unless a policy lets anon in)",
                anon.join("; ")
            ),
            "the anon key is public: in SQL, revoke all on the table from anon;",
        );
    }
    if exposed.is_empty() && anon.is_empty() {
        let what = if fine.is_empty() {
            format!("{} hold none", roles.join(" and "))
        } else {
            let anon = if roles.iter().any(|r| r == "anon") {
                "anon holds none; "
            } else {
                ""
            };
            format!(
                "{anon}{} (row-level security's policies decide which rows)",
                fine.join("; ")
            )
        };
        screen.ok(format!("privileges: {what}"));
    }
}

/// Every identity sequence past its table's largest id.
async fn sequences(screen: &mut Screen, target: &ava_sink::Target) {
    let mut behind = Vec::new();
    for table in TABLES {
        match ava_sink::sequence_behind(target.client_ref(), &table).await {
            Ok(true) => behind.push(table.name),
            Ok(false) => {}
            Err(e) => {
                screen.fail(
                    format!(
                        "sequences: {}",
                        target.error(format!("reading the sequence of {}", table.name), e)
                    ),
                    "check that the role may read the sequences",
                );
                return;
            }
        }
    }
    if behind.is_empty() {
        screen.ok("sequences: every id sequence is past max(id)");
        return;
    }
    let sql: Vec<String> = behind
        .iter()
        .map(|t| {
            format!(
                "select setval(pg_get_serial_sequence('public.{t}', 'id'), \
                 (select coalesce(max(id), 0) + 1 from public.{t}), false);"
            )
        })
        .collect();
    screen.fail(
        format!(
            "sequences: behind max(id) on {} (the next insert there fails on the primary key)",
            behind.join(", ")
        ),
        format!(
            "run `ava sync --sqlite FILE` (it moves them), or in SQL: {}",
            sql.join(" ")
        ),
    );
}

/// Row counts of the five tables in the SQLite file and in the target.
fn counts_of(path: &Path) -> Result<Vec<u64>, ava_source::SourceError> {
    let mut source = ava_source::Source::open(path)?;
    let snapshot = source.snapshot()?;
    TABLES.iter().map(|t| snapshot.count(t)).collect()
}

async fn counts(screen: &mut Screen, target: &ava_sink::Target, path: &Path) {
    let file = path.display();
    let source = match counts_of(path) {
        Ok(counts) => counts,
        Err(e) => {
            screen.fail(
                format!("rows: {e}"),
                "pass the app's SQLite file as --sqlite",
            );
            return;
        }
    };
    let pg = match target.counts().await {
        Ok(counts) => counts,
        Err(e) => {
            screen.fail(
                format!("rows: {e}"),
                "check that the role may read the tables",
            );
            return;
        }
    };
    let differ: Vec<String> = TABLES
        .iter()
        .zip(source.iter().zip(&pg))
        .filter(|(_, (s, p))| s != p)
        .map(|(t, (s, p))| format!("{} {s} in the file, {p} in the target", t.name))
        .collect();
    if differ.is_empty() {
        let total: u64 = source.iter().sum();
        screen.ok(format!(
            "rows: the same counts as {file} ({total} rows in the five tables; `ava verify` compares the values)"
        ));
    } else {
        screen.fail(
            format!("rows: {}", differ.join("; ")),
            format!(
                "run `ava sync --sqlite {file}` (or `ava migrate --sqlite {file}` into an empty \
                 target), then `ava verify --sqlite {file}`"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{kind, kind_of, Kind};

    #[test]
    fn supabase_poolers_by_port() {
        let pooler = "aws-0-eu-central-1.pooler.supabase.com";
        assert_eq!(kind(pooler, 6543), Kind::TransactionPooler);
        assert_eq!(kind(pooler, 5432), Kind::SessionPooler);
        assert_eq!(
            kind("AWS-0-US-EAST-1.Pooler.Supabase.com.", 6543),
            Kind::TransactionPooler
        );
        assert_eq!(kind(pooler, 6000), Kind::Other);
        assert_eq!(kind("pooler.supabase.com.evil.example", 6543), Kind::Other);
    }

    #[test]
    fn supabase_direct() {
        assert_eq!(kind("db.abcdefghijklmnop.supabase.co", 5432), Kind::Direct);
        assert_eq!(kind("DB.abcdefghijklmnop.SUPABASE.CO", 5432), Kind::Direct);
        assert_eq!(kind("db..supabase.co", 5432), Kind::Other);
        assert_eq!(kind("db.a.b.supabase.co", 5432), Kind::Other);
        assert_eq!(kind("db.abc.supabase.co.evil.example", 5432), Kind::Other);
        assert_eq!(kind("abc.supabase.co", 5432), Kind::Other);
        // The dedicated pooler of the same host.
        assert_eq!(
            kind("db.abcdefghijklmnop.supabase.co", 6543),
            Kind::TransactionPooler
        );
    }

    #[test]
    fn loopback_and_sockets_are_local() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert_eq!(kind(host, 5432), Kind::Local, "{host}");
        }
        for host in [
            "10.0.0.5",
            "192.168.1.2",
            "example.com",
            "localhost.example.com",
        ] {
            assert_eq!(kind(host, 5432), Kind::Other, "{host}");
        }
    }

    #[test]
    fn kind_of_reads_the_first_host_and_port_of_any_spelling() {
        let at = kind_of;
        assert_eq!(
            at("postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"),
            Some((
                Kind::TransactionPooler,
                "aws-0-eu-central-1.pooler.supabase.com:6543".into()
            ))
        );
        assert_eq!(
            at("host=db.ref.supabase.co user=postgres password=pw dbname=postgres"),
            Some((Kind::Direct, "db.ref.supabase.co:5432".into()))
        );
        assert_eq!(
            at("postgresql://u@localhost/db"),
            Some((Kind::Local, "localhost:5432".into()))
        );
        assert_eq!(
            at("postgresql://u@db.ref.supabase.co:6543/postgres?sslmode=verify-full"),
            Some((Kind::TransactionPooler, "db.ref.supabase.co:6543".into()))
        );
        assert_eq!(at("postgresql://u:pw@h:54x2/db"), None);
    }
}
