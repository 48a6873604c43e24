//! What Supabase's API roles (`anon`, `authenticated`) can reach through the Data API:
//! tables, views, columns and functions, each marked by how row-level security stands
//! in the way, with the SQL that closes each way in.

use crate::report::{Checks, Status};
use crate::rls::EXPOSED;

/// How an API role gets at an object, which decides its status.
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
    fn status(&self) -> Status {
        match self.way {
            Way::Unprotected | Way::Unprotectable | Way::OwnerView | Way::Opened => Status::Fail,
            Way::Definer if self.anon() => Status::Fail,
            Way::Definer => Status::Warn,
            Way::Protected if self.anon() => Status::Warn,
            Way::Protected | Way::Invoker => Status::Fine,
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

/// What Supabase's API roles can reach (see [`REACH`]), marked by [`Reach::status`], each
/// line with the SQL that closes the way in.
pub(crate) async fn privileges(report: &mut Checks<'_>, target: &ava_sink::Target) {
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
            report.fail(
                "privileges",
                format!("privileges: {}", target.error("reading privileges", e)),
                "check that the role may read the catalog",
            );
            return;
        }
    };
    let roles: Vec<String> = roles.iter().map(|r| r.get(0)).collect();
    if roles.is_empty() {
        report.fine(
            "privileges",
            "privileges: no anon or authenticated role here (not a Supabase database)",
        );
        return;
    }
    let reach: Vec<Reach> = reach.iter().map(Reach::of).collect();
    let pick = |way: Way, status: Status| -> Vec<&Reach> {
        reach
            .iter()
            .filter(|r| r.way == way && r.status() == status)
            .collect()
    };
    let unprotected = pick(Way::Unprotected, Status::Fail);
    if !unprotected.is_empty() {
        report.fail(
            "privileges",
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
    let views = pick(Way::OwnerView, Status::Fail);
    if !views.is_empty() {
        report.fail(
            "privileges",
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
    let opened = pick(Way::Opened, Status::Fail);
    if !opened.is_empty() {
        report.fail(
            "privileges",
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
    let unprotectable = pick(Way::Unprotectable, Status::Fail);
    if !unprotectable.is_empty() {
        report.fail(
            "privileges",
            format!(
                "privileges on materialized views and foreign tables (they cannot have \
                 row-level security): {}",
                describe(&unprotectable)
            ),
            format!("in SQL: {}", revokes(&unprotectable)),
        );
    }
    let definer = "security definer functions (they run as their owner, past row-level security)";
    let anon_definer = pick(Way::Definer, Status::Fail);
    if !anon_definer.is_empty() {
        report.fail(
            "functions",
            format!("{definer}: {}", describe(&anon_definer)),
            format!("in SQL: {}", revokes(&anon_definer)),
        );
    }
    let signed_in_definer = pick(Way::Definer, Status::Warn);
    if !signed_in_definer.is_empty() {
        report.warn(
            "functions",
            format!("{definer}: {}", describe(&signed_in_definer)),
            format!(
                "every signed-in user may call them: make sure each checks who calls \
                 (auth.uid()), or in SQL: {}",
                revokes(&signed_in_definer)
            ),
        );
    }
    let anon = pick(Way::Protected, Status::Warn);
    if !anon.is_empty() {
        report.warn(
            "privileges",
            format!(
                "privileges: {} (row-level security hides the rows unless a policy lets anon in)",
                describe(&anon)
            ),
            format!("the anon key is public: in SQL, {}", revokes(&anon)),
        );
    }
    let fine = pick(Way::Protected, Status::Fine);
    let relations_flagged = reach
        .iter()
        .any(|r| !matches!(r.way, Way::Definer | Way::Invoker) && r.status() != Status::Fine);
    if fine.is_empty() {
        if !relations_flagged {
            let hold = if roles.len() == 1 { "holds" } else { "hold" };
            report.fine(
                "privileges",
                format!(
                    "privileges: {} {hold} none on tables or views",
                    roles.join(" and ")
                ),
            );
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
        report.fine(
            "privileges",
            format!(
                "privileges: {anon}{} (row-level security's policies decide which rows)",
                describe(&fine)
            ),
        );
    }
    let invoker = pick(Way::Invoker, Status::Fine);
    if !invoker.is_empty() {
        report.fine(
            "functions",
            format!(
                "functions: {} (security invoker: they run with the caller's own privileges)",
                describe(&invoker)
            ),
        );
    }
}
