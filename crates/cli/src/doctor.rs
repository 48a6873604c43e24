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
    privileges(screen, target).await;
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

/// The schemas Supabase's Data API serves, as the CTE `exposed(nspname)`: `public`, which
/// it serves by default, and the schemas the database itself lists in PostgREST's
/// `pgrst.db_schemas` setting of the `authenticator` role (set for this database or for
/// all of them: both are taken, so that a listed schema is never missed). A schema exposed
/// only in PostgREST's own configuration, outside the database, is not seen.
const EXPOSED: &str = "exposed(nspname) as ( \
         select 'public'::text \
         union \
         select btrim(s) \
         from pg_db_role_setting d \
         join pg_roles r on r.oid = d.setrole and r.rolname = 'authenticator' \
         cross join unnest(d.setconfig) c \
         cross join unnest(string_to_array(substr(c, length('pgrst.db_schemas=') + 1), ',')) s \
         where d.setdatabase in (0, (select oid from pg_database where datname = current_database())) \
           and c like 'pgrst.db\\_schemas=%')";

/// Row-level security on the five tables; no permissive policy, on any table the API
/// serves, for `anon` or `public` (everyone, `anon` included); and which permissive
/// policies for `authenticated` let every signed-in user in (`using (true)` or
/// `with check (true)`). Restrictive policies only narrow what permissive ones allow, so
/// they are left out. A policy without a USING expression lets no row through (and an
/// UPDATE or ALL policy without WITH CHECK checks with its USING), so only a literal `true`
/// opens everything.
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
            &format!(
                "with {EXPOSED} \
                 select quote_ident(p.schemaname), quote_ident(p.tablename), p.policyname::text, \
                        format('%I.%I', p.schemaname, p.tablename), \
                        p.roles && array['anon', 'public']::name[], lower(p.cmd), \
                        p.qual = 'true', p.with_check = 'true' \
                 from pg_policies p \
                 where p.schemaname::text in (select nspname from exposed) \
                   and p.permissive = 'PERMISSIVE' \
                   and (p.roles && array['anon', 'public']::name[] \
                        or ('authenticated' = any(p.roles) and 'true' in (p.qual, p.with_check))) \
                 order by p.schemaname, p.tablename, p.policyname"
            ),
            &[],
        )
        .await;
    let rows = match policies {
        Ok(rows) => rows,
        Err(e) => {
            screen.fail(
                format!("policies: {}", target.error("reading pg_policies", e)),
                "check that the role may read the catalog",
            );
            return;
        }
    };
    let (mut open, mut everyone) = (Vec::new(), Vec::new());
    for row in &rows {
        let schema: String = row.get(0);
        let table: String = row.get(1);
        let name = format!("\"{}\"", row.get::<_, String>(2).replace('"', "\"\""));
        let drop = format!("drop policy {name} on {};", row.get::<_, String>(3));
        let named = format!("{name} on {table} in {schema}");
        if row.get::<_, bool>(4) {
            open.push((named, drop));
        } else {
            let cmd: String = row.get(5);
            // `=` on a NULL expression is NULL: the policy has no such clause.
            let using = row.get::<_, Option<bool>>(6) == Some(true);
            let check = row.get::<_, Option<bool>>(7) == Some(true);
            let clauses: Vec<&str> = [(using, "using (true)"), (check, "with check (true)")]
                .into_iter()
                .filter_map(|(on, clause)| on.then_some(clause))
                .collect();
            everyone.push((format!("{named} (for {cmd}, {})", clauses.join(", ")), drop));
        }
    }
    if open.is_empty() {
        screen.ok("policies: none grants anon or public");
    } else {
        let (names, sql): (Vec<String>, Vec<String>) = open.into_iter().unzip();
        screen.fail(
            format!("policies: {} grant(s) anon or public", names.join(", ")),
            format!("in SQL: {}", sql.join(" ")),
        );
    }
    if !everyone.is_empty() {
        let (names, sql): (Vec<String>, Vec<String>) = everyone.into_iter().unzip();
        screen.warn(
            format!(
                "policies for authenticated that let every signed-in user in: {}",
                names.join("; ")
            ),
            format!(
                "anyone who can sign in (on Supabase, by default, anyone who signs up) gets \
                 every row: narrow each to the rows its user may see (a condition on auth.uid() \
                 or auth.jwt()), or in SQL: {}",
                sql.join(" ")
            ),
        );
    }
}

/// How an API role gets at an object, which decides its mark.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    /// A table or partitioned table without row-level security: the privilege is all it
    /// takes.
    Unprotected,
    /// A materialized view or a foreign table: neither can have row-level security.
    Unprotectable,
    /// A view without `security_invoker`: it reads its tables as its owner, whom their
    /// row-level security does not restrict (it is enabled, not forced).
    OwnerView,
    /// A `SECURITY DEFINER` function: it runs as its owner, past row-level security.
    Definer,
    /// A table with row-level security on, or a `security_invoker` view (the caller's own
    /// privileges and policies on its tables apply): the policies decide which rows.
    Protected,
    /// For `anon`: a table with row-level security on and a permissive policy for `anon`
    /// or `public`, which lets it in.
    Opened,
    /// A `SECURITY INVOKER` function: it runs with the caller's own privileges.
    Invoker,
}

/// What one API role may do with one object (or with some of its columns).
struct Reach {
    role: String,
    schema: String,
    /// As shown: `customers`, `customers (name, phone)`, `leak()`.
    name: String,
    /// As shown: `SELECT, INSERT`, `EXECUTE`.
    privileges: String,
    way: Way,
    /// The statement that takes the privileges away.
    revoke: String,
    /// The statement that puts row-level security in the way, where one exists.
    close: Option<String>,
}

impl Reach {
    fn of(row: &tokio_postgres::Row) -> Reach {
        let role: String = row.get(0);
        let kind: String = row.get(2);
        let name: String = row.get(3);
        let privileges: String = row.get(4);
        let columns: Option<String> = row.get(5);
        let (rls, invoker, public): (bool, bool, bool) = (row.get(6), row.get(7), row.get(8));
        let target: String = row.get(9);
        let opened: bool = row.get(10);
        let way = match kind.as_str() {
            "function" if invoker => Way::Invoker,
            "function" => Way::Definer,
            "r" | "p" if rls && opened && role == "anon" => Way::Opened,
            "r" | "p" if rls => Way::Protected,
            "r" | "p" => Way::Unprotected,
            "v" if invoker => Way::Protected,
            "v" => Way::OwnerView,
            // "m" and "f", the only other kinds the query returns.
            _ => Way::Unprotectable,
        };
        let close = match way {
            Way::Unprotected => Some(format!("alter table {target} enable row level security;")),
            Way::OwnerView => Some(format!("alter view {target} set (security_invoker = on);")),
            _ => None,
        };
        // A privilege PUBLIC holds (every new function's EXECUTE, by default) stays with
        // the role until it is revoked from PUBLIC too.
        let from = if public {
            format!("{role}, public")
        } else {
            role.clone()
        };
        let revoke = match &columns {
            Some(columns) => format!(
                "revoke {} ({columns}) on {target} from {from};",
                privileges.to_lowercase()
            ),
            None => format!(
                "revoke {} on {target} from {from};",
                privileges.to_lowercase()
            ),
        };
        Reach {
            name: match columns {
                Some(columns) => format!("{name} ({columns})"),
                None => name,
            },
            schema: row.get(1),
            role,
            privileges,
            way,
            revoke,
            close,
        }
    }

    fn anon(&self) -> bool {
        self.role == "anon"
    }

    /// ✗ for whatever gets past row-level security or is let in by a policy for `anon`,
    /// and for `anon` through a `SECURITY DEFINER` function; `!` for `anon` where row-level
    /// security hides the rows, and for `authenticated` through a `SECURITY DEFINER`
    /// function (every signed-in user runs it as its owner: fine only if it checks who
    /// calls).
    fn mark(&self) -> Mark {
        match self.way {
            Way::Unprotected | Way::Unprotectable | Way::OwnerView | Way::Opened => Mark::Fail,
            Way::Definer if self.anon() => Mark::Fail,
            Way::Definer => Mark::Warn,
            Way::Protected if self.anon() => Mark::Warn,
            Way::Protected | Way::Invoker => Mark::Ok,
        }
    }
}

/// `anon may SELECT customers, appointments in public; authenticated may …`: the reach
/// grouped by role, privileges and schema, in the order given.
fn describe(reach: &[&Reach]) -> String {
    // Each group: its first entry (which gives the role, privileges and schema) and names.
    let mut groups: Vec<(&Reach, Vec<&str>)> = Vec::new();
    for r in reach {
        let same = |g: &&mut (&Reach, Vec<&str>)| {
            (&g.0.role, &g.0.privileges, &g.0.schema) == (&r.role, &r.privileges, &r.schema)
        };
        match groups.iter_mut().find(same) {
            Some((_, names)) => names.push(&r.name),
            None => groups.push((r, vec![&r.name])),
        }
    }
    let groups: Vec<String> = groups
        .iter()
        .map(|(r, names)| {
            format!(
                "{} may {} {} in {}",
                r.role,
                r.privileges,
                names.join(", "),
                r.schema
            )
        })
        .collect();
    groups.join("; ")
}

/// The revoke statements of `reach`.
fn revokes(reach: &[&Reach]) -> String {
    let sql: Vec<&str> = reach.iter().map(|r| r.revoke.as_str()).collect();
    sql.join(" ")
}

/// The statements that put row-level security in the way, each once.
fn closes(reach: &[&Reach]) -> String {
    let mut sql: Vec<&str> = Vec::new();
    for close in reach.iter().filter_map(|r| r.close.as_deref()) {
        if !sql.contains(&close) {
            sql.push(close);
        }
    }
    sql.join(" ")
}

/// Every relation (table, partitioned table, view, materialized view, foreign table), column
/// and function in a schema the Data API serves (see [`EXPOSED`]) that `anon` or
/// `authenticated` can reach: the role needs USAGE on the schema, then a privilege on the
/// relation, on some of its columns (a column grant), or EXECUTE on the function. Functions
/// are those the Data API can call (`/rpc`): not procedures, trigger or event trigger
/// functions, nor an extension's own. Sequences are left out: the API does not serve them,
/// and they hold no rows. One row per role and relation (its whole-relation privileges), per
/// role, relation and column privilege (the columns granted, where the role lacks it on the
/// whole relation), and per role and function: role, schema, kind (`relkind`, or
/// `function`), name, privileges, columns, row-level security on, `security_invoker` (for a
/// function: not `SECURITY DEFINER`), whether PUBLIC holds the privilege, the qualified
/// name for SQL, and whether a permissive policy on the relation is for `anon` or `public`.
const REACH: &str = "api as ( \
         select r.oid as role, r.rolname::text as rolname, n.oid as nsp, n.nspname::text as nspname \
         from pg_roles r cross join pg_namespace n \
         where r.rolname in ('anon', 'authenticated') \
           and n.nspname::text in (select nspname from exposed) \
           and n.nspname not in ('pg_catalog', 'information_schema') \
           and n.nspname not like 'pg\\_%' \
           and has_schema_privilege(r.oid, n.oid, 'USAGE')), \
     rel as ( \
         select a.role, a.rolname, a.nspname, c.oid, c.relname::text as relname, c.relkind, \
                c.relrowsecurity, \
                coalesce((select o.option_value::boolean from pg_options_to_table(c.reloptions) o \
                          where o.option_name = 'security_invoker'), false) as invoker, \
                coalesce(c.relacl, acldefault('r', c.relowner)) as acl, \
                exists (select from pg_policy pol \
                        where pol.polrelid = c.oid and pol.polpermissive \
                          and pol.polroles && array[0::oid, to_regrole('anon')::oid]) as opened \
         from api a \
         join pg_class c on c.relnamespace = a.nsp and c.relkind in ('r', 'p', 'v', 'm', 'f')), \
     privilege(privilege, pos) as ( \
         values ('SELECT', 1), ('INSERT', 2), ('UPDATE', 3), ('DELETE', 4), ('TRUNCATE', 5), \
                ('REFERENCES', 6), ('TRIGGER', 7)) \
     select rel.rolname, quote_ident(rel.nspname), rel.relkind::text, quote_ident(rel.relname), \
            string_agg(p.privilege, ', ' order by p.pos), null::text, rel.relrowsecurity, \
            rel.invoker, \
            bool_or(exists (select from aclexplode(rel.acl) x \
                            where x.grantee = 0 and x.privilege_type = p.privilege)), \
            format('%I.%I', rel.nspname, rel.relname), rel.opened, 0 as pos \
     from rel cross join privilege p \
     where has_table_privilege(rel.role, rel.oid, p.privilege) \
     group by rel.rolname, rel.nspname, rel.relkind, rel.relname, rel.relrowsecurity, rel.invoker, \
              rel.opened \
     union all \
     select rel.rolname, quote_ident(rel.nspname), rel.relkind::text, quote_ident(rel.relname), \
            p.privilege, string_agg(quote_ident(t.attname), ', ' order by t.attnum), \
            rel.relrowsecurity, rel.invoker, \
            bool_or(exists (select from aclexplode(t.attacl) x \
                            where x.grantee = 0 and x.privilege_type = p.privilege)), \
            format('%I.%I', rel.nspname, rel.relname), rel.opened, p.pos \
     from rel \
     join pg_attribute t on t.attrelid = rel.oid and t.attnum > 0 and not t.attisdropped \
          and t.attacl is not null \
     join privilege p on p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') \
     where has_column_privilege(rel.role, rel.oid, t.attnum, p.privilege) \
       and not has_table_privilege(rel.role, rel.oid, p.privilege) \
     group by rel.rolname, rel.nspname, rel.relkind, rel.relname, rel.relrowsecurity, \
              rel.invoker, rel.opened, p.privilege, p.pos \
     union all \
     select a.rolname, quote_ident(a.nspname), 'function', \
            format('%I(%s)', f.proname, pg_get_function_identity_arguments(f.oid)), 'EXECUTE', \
            null, false, not f.prosecdef, \
            exists (select from aclexplode(coalesce(f.proacl, acldefault('f', f.proowner))) x \
                    where x.grantee = 0), \
            format('function %I.%I(%s)', a.nspname, f.proname, \
                   pg_get_function_identity_arguments(f.oid)), false, 0 \
     from api a \
     join pg_proc f on f.pronamespace = a.nsp \
     where f.prokind = 'f' \
       and f.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype) \
       and has_function_privilege(a.role, f.oid, 'EXECUTE') \
       and not exists (select from pg_depend d \
                       where d.classid = 'pg_proc'::regclass and d.objid = f.oid \
                         and d.deptype = 'e') \
     order by 1, 2, 4, 12";

/// What Supabase's API roles can reach (see [`REACH`]), marked by [`Reach::mark`], each
/// line with the SQL that closes the way in.
async fn privileges(screen: &mut Screen, target: &ava_sink::Target) {
    let roles = target
        .client_ref()
        .query(
            "select rolname::text from pg_roles where rolname in ('anon', 'authenticated') \
             order by rolname",
            &[],
        )
        .await;
    let reach = target
        .client_ref()
        .query(&format!("with {EXPOSED}, {REACH}"), &[])
        .await;
    let (roles, reach) = match (roles, reach) {
        (Ok(roles), Ok(reach)) => (roles, reach),
        (Err(e), _) | (_, Err(e)) => {
            screen.fail(
                format!("privileges: {}", target.error("reading privileges", e)),
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
    let reach: Vec<Reach> = reach.iter().map(Reach::of).collect();
    let pick = |way: Way, mark: Mark| -> Vec<&Reach> {
        reach
            .iter()
            .filter(|r| r.way == way && r.mark() == mark)
            .collect()
    };
    let unprotected = pick(Way::Unprotected, Mark::Fail);
    if !unprotected.is_empty() {
        screen.fail(
            format!(
                "privileges on tables without row-level security: {}",
                describe(&unprotected)
            ),
            format!(
                "in SQL: {} (with no policy for them, the API roles then get no rows), or take \
                 the privileges away: {}",
                closes(&unprotected),
                revokes(&unprotected)
            ),
        );
    }
    let views = pick(Way::OwnerView, Mark::Fail);
    if !views.is_empty() {
        screen.fail(
            format!(
                "views that read their tables as their owner, past row-level security: {}",
                describe(&views)
            ),
            format!(
                "in SQL: {} (the caller's own privileges and policies on the tables then \
                 apply), or take the privileges away: {}",
                closes(&views),
                revokes(&views)
            ),
        );
    }
    let opened = pick(Way::Opened, Mark::Fail);
    if !opened.is_empty() {
        screen.fail(
            format!(
                "privileges on tables whose policies let anon in: {}",
                describe(&opened)
            ),
            format!(
                "the anon key is public: in SQL, {} (or drop the policies, above)",
                revokes(&opened)
            ),
        );
    }
    let unprotectable = pick(Way::Unprotectable, Mark::Fail);
    if !unprotectable.is_empty() {
        screen.fail(
            format!(
                "privileges on materialized views and foreign tables (they cannot have \
                 row-level security): {}",
                describe(&unprotectable)
            ),
            format!("in SQL: {}", revokes(&unprotectable)),
        );
    }
    let definer = "security definer functions (they run as their owner, past row-level security)";
    let anon_definer = pick(Way::Definer, Mark::Fail);
    if !anon_definer.is_empty() {
        screen.fail(
            format!("{definer}: {}", describe(&anon_definer)),
            format!("in SQL: {}", revokes(&anon_definer)),
        );
    }
    let signed_in_definer = pick(Way::Definer, Mark::Warn);
    if !signed_in_definer.is_empty() {
        screen.warn(
            format!("{definer}: {}", describe(&signed_in_definer)),
            format!(
                "every signed-in user may call them: make sure each checks who calls \
                 (auth.uid()), or in SQL: {}",
                revokes(&signed_in_definer)
            ),
        );
    }
    let anon = pick(Way::Protected, Mark::Warn);
    if !anon.is_empty() {
        screen.warn(
            format!(
                "privileges: {} (row-level security hides the rows unless a policy lets anon in)",
                describe(&anon)
            ),
            format!("the anon key is public: in SQL, {}", revokes(&anon)),
        );
    }
    let fine = pick(Way::Protected, Mark::Ok);
    let relations_flagged = reach
        .iter()
        .any(|r| !matches!(r.way, Way::Definer | Way::Invoker) && r.mark() != Mark::Ok);
    if fine.is_empty() {
        if !relations_flagged {
            let hold = if roles.len() == 1 { "holds" } else { "hold" };
            screen.ok(format!(
                "privileges: {} {hold} none on tables or views",
                roles.join(" and ")
            ));
        }
    } else {
        let anon_relations = reach
            .iter()
            .any(|r| r.anon() && !matches!(r.way, Way::Definer | Way::Invoker));
        let anon = if roles.iter().any(|r| r == "anon") && !anon_relations {
            "anon holds none on tables or views; "
        } else {
            ""
        };
        screen.ok(format!(
            "privileges: {anon}{} (row-level security's policies decide which rows)",
            describe(&fine)
        ));
    }
    let invoker = pick(Way::Invoker, Mark::Ok);
    if !invoker.is_empty() {
        screen.ok(format!(
            "functions: {} (security invoker: they run with the caller's own privileges)",
            describe(&invoker)
        ));
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
