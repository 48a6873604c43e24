//! `ava doctor`: the checks on a real database in each state, and the exit codes.

use crate::support::*;

/// The line of `out`'s stdout that starts with `prefix` (a mark and a check's name).
#[track_caller]
fn line<'a>(out: &'a Out, prefix: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}\n{out}"))
}

#[test]
fn a_fresh_database_has_pending_migrations_and_names_db_push() {
    let case = Case::empty();
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "✓ connection: local (",
        "✓ reachable",
        "✓ TLS: ",
        "✓ server: PostgreSQL ",
        "run `ava db push --database-url URL`",
    ]);
    assert!(line(&out, "✗ migrations: ").contains("pending"), "{out}");
    line(&out, "✗ tables: none of the five tables");
}

#[test]
fn a_migrated_database_passes_every_check() {
    let case = Case::migrated(CALLS, 80);
    let out = case.with_both(&["doctor"]).ok().stdout_has(&[
        "✓ reachable",
        "✓ migrations: all ",
        "✓ schema: the five tables match",
        "✓ row-level security: on for ",
        "✓ policies: none grants anon or public",
        "✓ privileges: ",
        "✓ sequences: every id sequence is past max(id)",
        "✓ rows: the same counts as ",
        "0 to fix",
    ]);
    assert!(!out.stdout.contains('✗'), "{out}");
    // Reads only.
    assert_eq!(case.pg.counts(), sqlite::counts(&case.sqlite));
    case.verify(&[]).ok();
}

#[test]
fn a_sequence_behind_and_a_missing_row_are_named_with_the_fix() {
    let case = Case::migrated(CALLS, 81);
    case.pg.exec(
        "select setval(pg_get_serial_sequence('public.call_events', 'id'), 1, false);
         delete from daily_metrics where id = (select max(id) from daily_metrics);",
    );
    let out = case.with_both(&["doctor"]).code(7).stdout_has(&[
        "ava sync --sqlite",
        "setval(pg_get_serial_sequence('public.call_events'",
    ]);
    let sequences = line(&out, "✗ sequences: behind max(id) on call_events");
    assert!(!sequences.contains("customers"), "{out}");
    let rows = line(&out, "✗ rows: daily_metrics ");
    assert!(!rows.contains("customers"), "{out}");
    // Without --sqlite the counts are not compared.
    let out = case.with_target(&["doctor"]).code(7);
    assert!(!out.stdout.contains("rows:"), "{out}");
}

#[test]
fn row_level_security_off_and_an_anon_policy_fail() {
    let case = Case::migrated(CALLS, 82);
    case.pg.exec(
        "alter table public.customers disable row level security;
         create policy open_read on public.call_events for select to anon using (true);
         grant select on public.customers to anon;",
    );
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "alter table public.customers enable row level security;",
        "drop policy \"open_read\" on public.call_events;",
    ]);
    let rls = line(&out, "✗ row-level security: off for customers");
    assert!(!rls.contains("call_events"), "{out}");
    line(&out, "✗ policies: \"open_read\" on call_events");
    assert!(
        line(&out, "✗ privileges on tables without row-level security: ")
            .contains("anon may SELECT customers"),
        "{out}"
    );
}

#[test]
fn an_unreachable_server_fails_without_showing_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = "postgresql://postgres:s3cr3t-PASSWORD@127.0.0.1:1/x";
    let out = Out::of(ava_in(dir.path()).args(["doctor", "--database-url", url]))
        .code(7)
        .stdout_has(&[
            "✓ connection: local (127.0.0.1:1)",
            "postgresql://postgres:***@127.0.0.1:1/x",
            "1 to fix",
        ])
        .never_says("s3cr3t");
    assert!(
        line(&out, "✗ reachable: ").contains("cannot connect"),
        "{out}"
    );
}

#[test]
fn no_target_is_an_error_saying_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    Out::of(ava_in(dir.path()).arg("doctor"))
        .code(1)
        .stderr_has(&["no target database", "--database-url"]);
}

#[test]
fn a_sqlite_file_that_cannot_be_read_fails_the_rows_check() {
    let case = Case::pushed(CALLS, 83);
    let missing = case.dir.path().join("missing.db");
    let out = case.with_both_file(&["doctor"], &missing).code(7);
    assert!(line(&out, "✗ rows: ").contains("missing.db"), "{out}");
    assert!(!missing.exists(), "doctor created the SQLite file");
}

#[test]
fn help_describes_the_checks_and_exit_7() {
    let dir = tempfile::tempdir().unwrap();
    Out::of(ava_in(dir.path()).args(["doctor", "--help"]))
        .ok()
        .stdout_has(&[
            "transaction pooler",
            "row-level security",
            "--sqlite",
            "--database-url",
            "else 7",
        ]);
    Out::of(ava_in(dir.path()).arg("--help"))
        .ok()
        .stdout_has(&["doctor", "7 doctor"]);
}

/// Creates `role` unless the server has it, as the RLS migration creates Supabase's roles
/// on plain Postgres: roles are cluster-wide, so another test may be creating it at this
/// very moment (the duplicate is ignored), and it is never dropped.
fn ensure_role(case: &Case, role: &str) {
    case.pg.exec(&format!(
        "do $$
         begin
             if not exists (select from pg_roles where rolname = '{role}') then
                 create role {role} nologin noinherit;
             end if;
         exception
             when duplicate_object or unique_violation then null;
         end
         $$;"
    ));
}

/// A migrated database (rows in every table; the RLS migration's privileges and policies)
/// with `anon` and `authenticated` there, whatever the migration found.
fn supabase_like(seed: u64) -> Case {
    let case = Case::migrated(CALLS, seed);
    for role in ["anon", "authenticated"] {
        ensure_role(&case, role);
    }
    case
}

/// `sql`'s one value as `role` sees it (no JWT claims: neither staff nor owner).
fn as_role(case: &Case, role: &str, sql: &str) -> i64 {
    case.pg.exec(&format!("set role {role}"));
    let value = case.pg.one(sql);
    case.pg.exec("reset role");
    value
}

#[test]
fn a_view_granted_to_anon_fails_until_it_is_security_invoker() {
    let case = supabase_like(84);
    case.pg.exec(
        "create view public.v as select * from public.customers;
         grant select on public.v to anon;",
    );
    // The hole is real: the view reads customers as its owner.
    assert!(as_role(&case, "anon", "select count(*) from public.v") > 0);
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "    → in SQL: alter view public.v set (security_invoker = on); (the caller's own \
         privileges and policies on the tables then apply), or take the privileges away: \
         revoke select on public.v from anon;",
    ]);
    assert_eq!(
        line(&out, "✗ views "),
        "✗ views that read their tables as their owner, past row-level security: anon may \
         SELECT v in public"
    );
    // As security_invoker, anon reads customers as itself, and holds nothing there: the
    // privilege on the view is still listed, as worth a look.
    case.pg
        .exec("alter view public.v set (security_invoker = on);");
    let out = case.with_target(&["doctor"]).ok();
    assert!(!out.stdout.contains('✗'), "{out}");
    assert_eq!(
        line(&out, "! privileges: "),
        "! privileges: anon may SELECT v in public (row-level security hides the rows unless \
         a policy lets anon in)"
    );
}

#[test]
fn an_anon_executable_security_definer_function_fails() {
    let case = supabase_like(85);
    // EXECUTE goes to PUBLIC by default, so anon and authenticated may call it.
    case.pg.exec(
        "create function public.leak() returns setof public.customers language sql stable \
         security definer as 'select * from public.customers';",
    );
    assert!(as_role(&case, "anon", "select count(*) from public.leak()") > 0);
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "    → in SQL: revoke execute on function public.leak() from anon, public;",
        "    → every signed-in user may call them: make sure each checks who calls \
         (auth.uid()), or in SQL: revoke execute on function public.leak() from \
         authenticated, public;",
    ]);
    assert_eq!(
        line(&out, "✗ security definer functions "),
        "✗ security definer functions (they run as their owner, past row-level security): \
         anon may EXECUTE leak() in public"
    );
    assert_eq!(
        line(&out, "! security definer functions "),
        "! security definer functions (they run as their owner, past row-level security): \
         authenticated may EXECUTE leak() in public"
    );
    // The fix closes it for both.
    case.pg
        .exec("revoke execute on function public.leak() from anon, public;");
    let out = case.with_target(&["doctor"]).ok();
    assert!(!out.stdout.contains("leak()"), "{out}");
}

#[test]
fn functions_that_are_not_a_way_in_are_left_alone_until_their_schema_is_exposed() {
    let case = supabase_like(86);
    case.pg.exec(
        "create extension if not exists pgcrypto schema public;
         create function public.mine() returns bigint language sql stable
             as 'select count(*) from public.customers';
         create function public.closed() returns bigint language sql stable security definer
             as 'select count(*) from public.customers';
         revoke execute on function public.closed() from public;
         create function public.stamp() returns trigger language plpgsql security definer
             as $$ begin return new; end $$;
         create schema private;
         grant usage on schema private to anon, authenticated;
         create function private.hidden() returns bigint language sql stable security definer
             as 'select count(*) from public.customers';",
    );
    // A security invoker function runs as anon, which holds nothing on customers.
    assert!(case
        .pg
        .try_exec("set role anon; select public.mine();")
        .is_err());
    case.pg.exec("reset role");
    let out = case.with_target(&["doctor"]).ok();
    assert!(!out.stdout.contains('✗'), "{out}");
    // Listed, but fine; pgcrypto's functions (an extension's) are not listed at all.
    assert_eq!(
        line(&out, "✓ functions: "),
        "✓ functions: anon may EXECUTE mine() in public; authenticated may EXECUTE mine() in \
         public (security invoker: they run with the caller's own privileges)"
    );
    for name in ["closed()", "stamp()", "hidden()"] {
        assert!(!out.stdout.contains(name), "{name}\n{out}");
    }
    // Once PostgREST is told to serve `private` (this database only), its function counts.
    ensure_role(&case, "authenticator");
    case.pg.exec(&format!(
        "alter role authenticator in database \"{}\" set pgrst.db_schemas = 'public, private';",
        case.db.name
    ));
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "    → in SQL: revoke execute on function private.hidden() from anon, public;",
    ]);
    assert_eq!(
        line(&out, "✗ security definer functions "),
        "✗ security definer functions (they run as their owner, past row-level security): \
         anon may EXECUTE hidden() in private"
    );
}

#[test]
fn a_column_grant_to_anon_is_worth_a_look_with_rls_and_fails_without() {
    let case = supabase_like(87);
    case.pg
        .exec("grant select (name, phone) on public.customers to anon;");
    // With row-level security on and no policy for anon, it gets no rows.
    let read = "select count(*) from (select name, phone from public.customers) c";
    assert_eq!(as_role(&case, "anon", read), 0);
    let out = case.with_target(&["doctor"]).ok().stdout_has(&[
        "    → the anon key is public: in SQL, revoke select (name, phone) on public.customers \
         from anon;",
    ]);
    assert_eq!(
        line(&out, "! privileges: "),
        "! privileges: anon may SELECT customers (name, phone) in public (row-level security \
         hides the rows unless a policy lets anon in)"
    );
    case.pg
        .exec("alter table public.customers disable row level security;");
    assert!(as_role(&case, "anon", read) > 0);
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "    → in SQL: alter table public.customers enable row level security; (with no policy \
         for them, the API roles then get no rows), or take the privileges away: revoke \
         select (name, phone) on public.customers from anon; revoke select on \
         public.customers from authenticated; revoke update (notes) on public.customers from \
         authenticated;",
    ]);
    assert_eq!(
        line(&out, "✗ privileges on tables without row-level security: "),
        "✗ privileges on tables without row-level security: anon may SELECT customers (name, \
         phone) in public; authenticated may SELECT customers in public; authenticated may \
         UPDATE customers (notes) in public"
    );
}

#[test]
fn a_permissive_policy_letting_every_signed_in_user_in_is_worth_a_look() {
    let case = supabase_like(88);
    let read = "select count(*) from public.customers";
    assert_eq!(as_role(&case, "authenticated", read), 0);
    case.pg.exec(
        "create policy everyone on public.customers for select to authenticated using (true);
         create policy narrow on public.customers as restrictive for select to authenticated
             using (true);",
    );
    // No staff or owner claim, and still every row.
    assert!(as_role(&case, "authenticated", read) > 0);
    let out = case.with_target(&["doctor"]).ok().stdout_has(&[
        "✓ policies: none grants anon or public",
        "or in SQL: drop policy \"everyone\" on public.customers;",
    ]);
    // The migration's own policies (a condition on the JWT) and the restrictive one are
    // not listed.
    assert_eq!(
        line(&out, "! policies for authenticated"),
        "! policies for authenticated that let every signed-in user in: \"everyone\" on \
         customers in public (for select, using (true))"
    );
}

#[test]
fn a_privilege_for_anon_fails_where_a_policy_lets_anon_in() {
    let case = supabase_like(89);
    case.pg.exec(
        "grant select on public.call_events to anon;
         create policy open_read on public.call_events for select to anon using (true);",
    );
    assert!(as_role(&case, "anon", "select count(*) from public.call_events") > 0);
    let out = case.with_target(&["doctor"]).code(7).stdout_has(&[
        "    → the anon key is public: in SQL, revoke select on public.call_events from anon; \
         (or drop the policies, above)",
    ]);
    assert_eq!(
        line(&out, "✗ privileges on tables whose policies"),
        "✗ privileges on tables whose policies let anon in: anon may SELECT call_events in \
         public"
    );
    line(&out, "✗ policies: \"open_read\" on call_events in public");
    // The privilege alone, on the other tables, stays worth a look.
    assert!(!out.stdout.contains("! privileges: "), "{out}");
}
