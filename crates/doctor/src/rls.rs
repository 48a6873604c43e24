//! Row-level security on the five tables, and the policies that open tables the Data
//! API serves to everyone (`anon`, `public`) or to every signed-in user.

use crate::report::Checks;

/// The schemas Supabase's Data API serves, as the CTE `exposed(nspname)`: `public`, which
/// it serves by default, and the schemas the database itself lists in PostgREST's
/// `pgrst.db_schemas` setting of the `authenticator` role (set for this database or for
/// all of them: both are taken, so that a listed schema is never missed). A schema exposed
/// only in PostgREST's own configuration, outside the database, is not seen.
pub(crate) const EXPOSED: &str = "exposed(nspname) as ( \
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
pub(crate) async fn rls(report: &mut Checks<'_>, target: &ava_sink::Target, present: &[String]) {
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
        Ok(rows) if rows.is_empty() => report.fine(
            "row-level security",
            format!("row-level security: on for {}", present.join(", ")),
        ),
        Ok(rows) => {
            let off: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let sql: Vec<String> = off
                .iter()
                .map(|t| format!("alter table public.{t} enable row level security;"))
                .collect();
            report.fail(
                "row-level security",
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
        Err(e) => report.fail(
            "row-level security",
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
            report.fail(
                "policies",
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
        report.fine("policies", "policies: none grants anon or public");
    } else {
        let (names, sql): (Vec<String>, Vec<String>) = open.into_iter().unzip();
        report.fail(
            "policies",
            format!("policies: {} grant(s) anon or public", names.join(", ")),
            format!("in SQL: {}", sql.join(" ")),
        );
    }
    if !everyone.is_empty() {
        let (names, sql): (Vec<String>, Vec<String>) = everyone.into_iter().unzip();
        report.warn(
            "policies",
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
