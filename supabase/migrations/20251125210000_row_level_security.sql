-- Row level security on the five analytics tables, for the roles Supabase's API
-- (PostgREST) connects as. Without it, anyone holding the project's public anon key could
-- read every customer's name, phone, notes and call transcripts through the REST API,
-- since Supabase grants the API roles everything on new tables in `public` by default.
--
-- The role matrix (the same for customers, appointments, call_sessions, call_events and
-- daily_metrics unless a column is named):
--
--   anon             nothing: no privilege, no policy (the key is public, the data is not)
--   authenticated    with app_metadata.role 'staff' or 'owner' in the JWT: SELECT every
--                    row; with 'owner': also UPDATE customers.notes and
--                    appointments.status, and only those columns; never INSERT or DELETE.
--                    Without such a role claim: no rows. app_metadata is set by the
--                    project's admins (service key), never by the user, unlike
--                    user_metadata, so it is the claim to trust.
--   service_role     everything (all privileges; it has BYPASSRLS, so no policy is needed)
--   the table owner  everything, as before: RLS is enabled, not forced, so ava's own
--                    connection (`ava migrate`, `sync`, `verify`, `serve`) is unaffected
--
-- Policies only narrow what privileges allow, so both are set: the privileges say which
-- statements and columns a role may use at all (a refusal is a permission error), the
-- policies which rows (a refusal is an empty result).
--
-- ava's own bookkeeping (schema `ava`) is no business of the API roles: anon and
-- authenticated lose every privilege there.
--
-- This must apply on Supabase as it is, where the roles, the `auth` schema and its
-- functions exist, and on plain Postgres (local servers, CI), where they do not. So the
-- roles are created only when absent (roles are cluster-wide: another database of the
-- same server may be creating them at this very moment, so a duplicate is ignored), and
-- auth.jwt(), auth.uid() and auth.role() are created only when absent, reading the claims
-- the way Supabase's own do (the `request.jwt.claims` setting PostgREST sets); Supabase's
-- own functions are never replaced.

do $$
begin
    if not exists (select from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
    if not exists (select from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

do $$
begin
    if not exists (select from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
exception
    when duplicate_object or unique_violation then null;
end
$$;

-- Supabase's auth.jwt(), auth.uid() and auth.role(), where they are missing. Privileges
-- on what this migration created are granted here; on Supabase, the platform's own are
-- already granted (and not ours to grant).
do $do$
begin
    if not exists (select from pg_namespace where nspname = 'auth') then
        create schema auth;
        grant usage on schema auth to anon, authenticated, service_role;
    end if;
    if not exists (
        select from pg_proc
        where pronamespace = 'auth'::regnamespace and proname = 'jwt' and pronargs = 0
    ) then
        create function auth.jwt() returns jsonb
            language sql stable
            as $fn$
                select coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $fn$;
        grant execute on function auth.jwt() to anon, authenticated, service_role;
    end if;
    if not exists (
        select from pg_proc
        where pronamespace = 'auth'::regnamespace and proname = 'uid' and pronargs = 0
    ) then
        create function auth.uid() returns uuid
            language sql stable
            as $fn$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
                )::uuid
            $fn$;
        grant execute on function auth.uid() to anon, authenticated, service_role;
    end if;
    if not exists (
        select from pg_proc
        where pronamespace = 'auth'::regnamespace and proname = 'role' and pronargs = 0
    ) then
        create function auth.role() returns text
            language sql stable
            as $fn$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
                )::text
            $fn$;
        grant execute on function auth.role() to anon, authenticated, service_role;
    end if;
end
$do$;

-- Privileges: first nothing for anyone but the owner (Supabase's default privileges give
-- anon and authenticated everything on new tables in `public`), then what the matrix says.
revoke all on table
    public.customers, public.appointments, public.call_sessions, public.call_events,
    public.daily_metrics
from public, anon, authenticated;
revoke all on sequence
    public.customers_id_seq, public.appointments_id_seq, public.call_sessions_id_seq,
    public.call_events_id_seq, public.daily_metrics_id_seq
from public, anon, authenticated;

grant usage on schema public to authenticated, service_role;
grant select on table
    public.customers, public.appointments, public.call_sessions, public.call_events,
    public.daily_metrics
to authenticated;
grant update (notes) on table public.customers to authenticated;
grant update (status) on table public.appointments to authenticated;

grant all on table
    public.customers, public.appointments, public.call_sessions, public.call_events,
    public.daily_metrics
to service_role;
grant all on sequence
    public.customers_id_seq, public.appointments_id_seq, public.call_sessions_id_seq,
    public.call_events_id_seq, public.daily_metrics_id_seq
to service_role;

-- ava's bookkeeping is closed to the API roles.
revoke all on all tables in schema ava from anon, authenticated;
revoke all on all sequences in schema ava from anon, authenticated;
revoke all on schema ava from anon, authenticated;

-- Row level security: enabled (not forced, so the owner is not subject to it).
alter table public.customers enable row level security;
alter table public.appointments enable row level security;
alter table public.call_sessions enable row level security;
alter table public.call_events enable row level security;
alter table public.daily_metrics enable row level security;

-- Staff and owners read every row. `(select auth.jwt())` is evaluated once per statement,
-- not once per row.
create policy staff_read on public.customers for select to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') in ('staff', 'owner'));
create policy staff_read on public.appointments for select to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') in ('staff', 'owner'));
create policy staff_read on public.call_sessions for select to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') in ('staff', 'owner'));
create policy staff_read on public.call_events for select to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') in ('staff', 'owner'));
create policy staff_read on public.daily_metrics for select to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') in ('staff', 'owner'));

-- Owners update a customer's notes and an appointment's status (the column grants above
-- keep every other column out of reach).
create policy owner_update on public.customers for update to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'owner')
    with check (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'owner');
create policy owner_update on public.appointments for update to authenticated
    using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'owner')
    with check (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'owner');
