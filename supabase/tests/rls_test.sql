-- Row level security of the five analytics tables (migration
-- 20251125210000_row_level_security): what each API role may and may not do, with the
-- JWT claims set the way PostgREST sets them. Run by `supabase test db` (pg_prove) and by
-- ava's test suite (crates/cli/tests/it/rls.rs). Everything happens in one transaction
-- that is rolled back, so a database with data of its own is left as it was.
--
--   role                          select       insert  update                     delete
--   anon                          refused      refused refused                    refused
--   authenticated, no role claim  no rows      refused notes/status: no rows,     refused
--                                                      other columns: refused
--   authenticated, staff          every row    refused as without a role claim    refused
--   authenticated, owner          every row    refused notes/status: yes,         refused
--                                                      other columns: refused
--   service_role                  every row    yes     yes                        yes
--
-- The rows this file seeds are told apart from any others by their markers (phones
-- +1555000100x, 'rls-test-' ids, event type 'rls_test', dates in 2099), so the counts hold
-- on a database that has data of its own.

begin;
create extension if not exists pgtap;

select plan(136);

-- ---- the catalog -------------------------------------------------------------------

select results_eq(
    $$ select c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity
       from pg_class c
       where c.oid in ('public.customers'::regclass, 'public.appointments'::regclass,
                       'public.call_sessions'::regclass, 'public.call_events'::regclass,
                       'public.daily_metrics'::regclass)
       order by 1 $$,
    $$ values ('appointments', true, false), ('call_events', true, false),
              ('call_sessions', true, false), ('customers', true, false),
              ('daily_metrics', true, false) $$,
    'RLS is enabled (not forced) on the five tables'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'public.customers'::regclass),
    'RLS is enabled on customers'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'public.appointments'::regclass),
    'RLS is enabled on appointments'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'public.call_sessions'::regclass),
    'RLS is enabled on call_sessions'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'public.call_events'::regclass),
    'RLS is enabled on call_events'
);
select ok(
    (select relrowsecurity from pg_class where oid = 'public.daily_metrics'::regclass),
    'RLS is enabled on daily_metrics'
);

select results_eq(
    $$ select tablename::text collate "default", policyname::text collate "default", cmd,
              roles::text[] collate "default", permissive
       from pg_policies
       where schemaname = 'public'
         and tablename in ('customers', 'appointments', 'call_sessions', 'call_events',
                           'daily_metrics')
       order by 1, 2 $$,
    $$ values ('appointments', 'owner_update', 'UPDATE', array['authenticated'], 'PERMISSIVE'),
              ('appointments', 'staff_read', 'SELECT', array['authenticated'], 'PERMISSIVE'),
              ('call_events', 'staff_read', 'SELECT', array['authenticated'], 'PERMISSIVE'),
              ('call_sessions', 'staff_read', 'SELECT', array['authenticated'], 'PERMISSIVE'),
              ('customers', 'owner_update', 'UPDATE', array['authenticated'], 'PERMISSIVE'),
              ('customers', 'staff_read', 'SELECT', array['authenticated'], 'PERMISSIVE'),
              ('daily_metrics', 'staff_read', 'SELECT', array['authenticated'], 'PERMISSIVE') $$,
    'the policies are exactly: staff_read (select) and owner_update (update), for authenticated'
);
select is_empty(
    $$ select tablename, policyname from pg_policies
       where schemaname = 'public'
         and tablename in ('customers', 'appointments', 'call_sessions', 'call_events',
                           'daily_metrics')
         and (roles && array['anon', 'public']::name[]) $$,
    'no policy applies to anon (or to everyone)'
);

select ok(
    (select rolbypassrls from pg_roles where rolname = 'service_role'),
    'service_role bypasses RLS'
);
select ok(
    not (select rolbypassrls or rolsuper from pg_roles where rolname = 'anon')
    and not (select rolbypassrls or rolsuper from pg_roles where rolname = 'authenticated'),
    'anon and authenticated do not bypass RLS'
);

select is_empty(
    $$ select t, p from unnest(array['public.customers', 'public.appointments',
                                     'public.call_sessions', 'public.call_events',
                                     'public.daily_metrics']) t,
                        unnest(array['select', 'insert', 'update', 'delete', 'truncate',
                                     'references', 'trigger']) p
       where has_table_privilege('anon', t, p) $$,
    'anon has no privilege on the five tables'
);
select is_empty(
    $$ select t, c from unnest(array['public.customers', 'public.appointments',
                                     'public.call_sessions', 'public.call_events',
                                     'public.daily_metrics']) t,
                        unnest(array['insert', 'delete', 'truncate', 'references',
                                     'trigger']) c
       where has_table_privilege('authenticated', t, c) $$,
    'authenticated may not insert, delete, truncate, reference or trigger'
);
select results_eq(
    $$ select a.attrelid::regclass::text, a.attname::text collate "default"
       from pg_attribute a
       where a.attrelid in ('public.customers'::regclass, 'public.appointments'::regclass,
                            'public.call_sessions'::regclass, 'public.call_events'::regclass,
                            'public.daily_metrics'::regclass)
         and a.attnum > 0 and not a.attisdropped
         and has_column_privilege('authenticated', a.attrelid, a.attnum, 'update')
       order by 1, 2 $$,
    $$ values ('appointments', 'status'), ('customers', 'notes') $$,
    'authenticated may update customers.notes and appointments.status and no other column'
);
select is_empty(
    $$ select s, p from unnest(array['public.customers_id_seq', 'public.appointments_id_seq',
                                     'public.call_sessions_id_seq', 'public.call_events_id_seq',
                                     'public.daily_metrics_id_seq']) s,
                        unnest(array['usage', 'select', 'update']) p,
                        unnest(array['anon', 'authenticated']) r
       where has_sequence_privilege(r, s, p) $$,
    'anon and authenticated have no privilege on the id sequences'
);
select ok(
    not has_schema_privilege('anon', 'ava', 'usage')
    and not has_schema_privilege('authenticated', 'ava', 'usage'),
    'anon and authenticated may not use ava''s own schema'
);
select is_empty(
    $$ select c.oid::regclass, r from pg_class c, unnest(array['anon', 'authenticated']) r
       where c.relnamespace = 'ava'::regnamespace and c.relkind in ('r', 'S')
         and (has_table_privilege(r, c.oid, 'select')
              or has_table_privilege(r, c.oid, 'insert')
              or has_table_privilege(r, c.oid, 'update')
              or has_table_privilege(r, c.oid, 'delete')) $$,
    'anon and authenticated have no privilege on ava''s own tables'
);
select ok(
    has_function_privilege('authenticated', 'auth.jwt()', 'execute'),
    'authenticated may call auth.jwt(), which the policies use'
);

-- ---- seed, as the table owner ------------------------------------------------------

insert into public.customers (name, phone, email, notes) values
    ('RLS Test One', '+15550001001', 'rls-test-one@example.test', 'allergic to latex'),
    ('RLS Test Two', '+15550001002', 'rls-test-two@example.test', null);
insert into public.appointments (customer_id, calendar_event_id, appointment_datetime, service_type)
    select id, 'rls-test-' || phone, '2099-01-02 10:00:00+00', 'Botox'
    from public.customers where phone in ('+15550001001', '+15550001002');
insert into public.call_sessions (customer_id, session_id, phone_number, transcript)
    select id, 'rls-test-' || phone, phone, 'a private conversation'
    from public.customers where phone in ('+15550001001', '+15550001002');
insert into public.call_events (call_session_id, event_type, data)
    select id, 'rls_test', '{"step": 1}'
    from public.call_sessions where session_id like 'rls-test-%';
insert into public.daily_metrics (date, total_calls) values
    ('2099-01-01 00:00:00+00', 2), ('2099-01-02 00:00:00+00', 0);

select results_eq(
    $$ select (select count(*) from public.customers where phone like '+1555000100_')::int,
              (select count(*) from public.appointments where calendar_event_id like 'rls-test-%')::int,
              (select count(*) from public.call_sessions where session_id like 'rls-test-%')::int,
              (select count(*) from public.call_events where event_type = 'rls_test')::int,
              (select count(*) from public.daily_metrics where date >= '2099-01-01')::int $$,
    $$ values (2, 2, 2, 2, 2) $$,
    'the table owner writes and reads every table (RLS is not forced)'
);

-- ---- anon: nothing -----------------------------------------------------------------

set local role anon;
set local request.jwt.claims to '{"role":"anon"}';

select throws_ok($$ select * from public.customers $$,
    '42501', 'permission denied for table customers', 'anon: select customers is refused');
select throws_ok($$ select * from public.appointments $$,
    '42501', 'permission denied for table appointments', 'anon: select appointments is refused');
select throws_ok($$ select * from public.call_sessions $$,
    '42501', 'permission denied for table call_sessions', 'anon: select call_sessions is refused');
select throws_ok($$ select * from public.call_events $$,
    '42501', 'permission denied for table call_events', 'anon: select call_events is refused');
select throws_ok($$ select * from public.daily_metrics $$,
    '42501', 'permission denied for table daily_metrics', 'anon: select daily_metrics is refused');

select throws_ok($$ insert into public.customers (name, phone) values ('Anon', '+15550001009') $$,
    '42501', 'permission denied for table customers', 'anon: insert customers is refused');
select throws_ok($$ insert into public.appointments (customer_id, appointment_datetime, service_type)
                    values (1, '2099-01-03 10:00:00+00', 'Filler') $$,
    '42501', 'permission denied for table appointments', 'anon: insert appointments is refused');
select throws_ok($$ insert into public.call_sessions (session_id) values ('rls-test-anon') $$,
    '42501', 'permission denied for table call_sessions', 'anon: insert call_sessions is refused');
select throws_ok($$ insert into public.call_events (call_session_id, event_type) values (1, 'rls_test') $$,
    '42501', 'permission denied for table call_events', 'anon: insert call_events is refused');
select throws_ok($$ insert into public.daily_metrics (date) values ('2099-02-01 00:00:00+00') $$,
    '42501', 'permission denied for table daily_metrics', 'anon: insert daily_metrics is refused');

select throws_ok($$ update public.customers set notes = 'anon' $$,
    '42501', 'permission denied for table customers', 'anon: update customers.notes is refused');
select throws_ok($$ update public.customers set name = 'anon' $$,
    '42501', 'permission denied for table customers', 'anon: update customers.name is refused');
select throws_ok($$ update public.appointments set status = 'cancelled' $$,
    '42501', 'permission denied for table appointments', 'anon: update appointments.status is refused');
select throws_ok($$ update public.appointments set service_type = 'anon' $$,
    '42501', 'permission denied for table appointments', 'anon: update appointments.service_type is refused');
select throws_ok($$ update public.call_sessions set transcript = 'anon' $$,
    '42501', 'permission denied for table call_sessions', 'anon: update call_sessions is refused');
select throws_ok($$ update public.call_events set event_type = 'anon' $$,
    '42501', 'permission denied for table call_events', 'anon: update call_events is refused');
select throws_ok($$ update public.daily_metrics set total_calls = 0 $$,
    '42501', 'permission denied for table daily_metrics', 'anon: update daily_metrics is refused');

select throws_ok($$ delete from public.customers $$,
    '42501', 'permission denied for table customers', 'anon: delete customers is refused');
select throws_ok($$ delete from public.appointments $$,
    '42501', 'permission denied for table appointments', 'anon: delete appointments is refused');
select throws_ok($$ delete from public.call_sessions $$,
    '42501', 'permission denied for table call_sessions', 'anon: delete call_sessions is refused');
select throws_ok($$ delete from public.call_events $$,
    '42501', 'permission denied for table call_events', 'anon: delete call_events is refused');
select throws_ok($$ delete from public.daily_metrics $$,
    '42501', 'permission denied for table daily_metrics', 'anon: delete daily_metrics is refused');

-- A staff claim does not help a request made with the anon key.
set local request.jwt.claims to '{"role":"anon","app_metadata":{"role":"staff"}}';
select throws_ok($$ select * from public.customers $$,
    '42501', 'permission denied for table customers', 'anon with a staff claim: select is refused');
select throws_ok($$ select nextval('public.customers_id_seq') $$,
    '42501', 'permission denied for sequence customers_id_seq', 'anon: the id sequences are refused');

reset role;

-- ---- authenticated, without a role claim: no rows, no writes -------------------------

set local role authenticated;
set local request.jwt.claims to '{"sub":"00000000-0000-4000-8000-000000000001","role":"authenticated","aud":"authenticated"}';

select is_empty($$ select * from public.customers $$, 'no role claim: customers shows no rows');
select is_empty($$ select * from public.appointments $$, 'no role claim: appointments shows no rows');
select is_empty($$ select * from public.call_sessions $$, 'no role claim: call_sessions shows no rows');
select is_empty($$ select * from public.call_events $$, 'no role claim: call_events shows no rows');
select is_empty($$ select * from public.daily_metrics $$, 'no role claim: daily_metrics shows no rows');

select throws_ok($$ insert into public.customers (name, phone) values ('Nobody', '+15550001009') $$,
    '42501', 'permission denied for table customers', 'no role claim: insert customers is refused');
select throws_ok($$ insert into public.appointments (customer_id, appointment_datetime, service_type)
                    values (1, '2099-01-03 10:00:00+00', 'Filler') $$,
    '42501', 'permission denied for table appointments', 'no role claim: insert appointments is refused');
select throws_ok($$ insert into public.call_sessions (session_id) values ('rls-test-nobody') $$,
    '42501', 'permission denied for table call_sessions', 'no role claim: insert call_sessions is refused');
select throws_ok($$ insert into public.call_events (call_session_id, event_type) values (1, 'rls_test') $$,
    '42501', 'permission denied for table call_events', 'no role claim: insert call_events is refused');
select throws_ok($$ insert into public.daily_metrics (date) values ('2099-02-01 00:00:00+00') $$,
    '42501', 'permission denied for table daily_metrics', 'no role claim: insert daily_metrics is refused');

select is_empty($$ update public.customers set notes = 'nobody' returning id $$,
    'no role claim: update customers.notes changes no row');
select throws_ok($$ update public.customers set name = 'nobody' $$,
    '42501', 'permission denied for table customers', 'no role claim: update customers.name is refused');
select is_empty($$ update public.appointments set status = 'cancelled' returning id $$,
    'no role claim: update appointments.status changes no row');
select throws_ok($$ update public.appointments set service_type = 'nobody' $$,
    '42501', 'permission denied for table appointments', 'no role claim: update appointments.service_type is refused');
select throws_ok($$ update public.call_sessions set transcript = 'nobody' $$,
    '42501', 'permission denied for table call_sessions', 'no role claim: update call_sessions is refused');
select throws_ok($$ update public.call_events set event_type = 'nobody' $$,
    '42501', 'permission denied for table call_events', 'no role claim: update call_events is refused');
select throws_ok($$ update public.daily_metrics set total_calls = 0 $$,
    '42501', 'permission denied for table daily_metrics', 'no role claim: update daily_metrics is refused');

select throws_ok($$ delete from public.customers $$,
    '42501', 'permission denied for table customers', 'no role claim: delete customers is refused');
select throws_ok($$ delete from public.appointments $$,
    '42501', 'permission denied for table appointments', 'no role claim: delete appointments is refused');
select throws_ok($$ delete from public.call_sessions $$,
    '42501', 'permission denied for table call_sessions', 'no role claim: delete call_sessions is refused');
select throws_ok($$ delete from public.call_events $$,
    '42501', 'permission denied for table call_events', 'no role claim: delete call_events is refused');
select throws_ok($$ delete from public.daily_metrics $$,
    '42501', 'permission denied for table daily_metrics', 'no role claim: delete daily_metrics is refused');

-- Only app_metadata counts: user_metadata is the user's to edit, and other roles are
-- not staff.
set local request.jwt.claims to '{"sub":"00000000-0000-4000-8000-000000000001","role":"authenticated","user_metadata":{"role":"owner"}}';
select is_empty($$ select * from public.customers $$,
    'a role in user_metadata: customers shows no rows');
select is_empty($$ update public.customers set notes = 'spoofed' returning id $$,
    'a role in user_metadata: update customers.notes changes no row');
set local request.jwt.claims to '{"sub":"00000000-0000-4000-8000-000000000001","role":"authenticated","app_metadata":{"role":"patient"}}';
select is_empty($$ select * from public.customers $$,
    'app_metadata role patient: customers shows no rows');

reset role;

-- ---- authenticated staff: reads everything, writes nothing ---------------------------

set local role authenticated;
set local request.jwt.claims to '{"sub":"00000000-0000-4000-8000-000000000002","role":"authenticated","aud":"authenticated","app_metadata":{"provider":"email","role":"staff"}}';

select results_eq(
    $$ select name::text, notes from public.customers where phone like '+1555000100_' order by phone $$,
    $$ values ('RLS Test One', 'allergic to latex'), ('RLS Test Two', null) $$,
    'staff: select customers shows the rows');
select results_eq(
    $$ select count(*)::int from public.appointments where calendar_event_id like 'rls-test-%' $$,
    $$ values (2) $$, 'staff: select appointments shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_sessions where session_id like 'rls-test-%' $$,
    $$ values (2) $$, 'staff: select call_sessions shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_events where event_type = 'rls_test' $$,
    $$ values (2) $$, 'staff: select call_events shows the rows');
select results_eq(
    $$ select count(*)::int from public.daily_metrics where date >= '2099-01-01' $$,
    $$ values (2) $$, 'staff: select daily_metrics shows the rows');

select throws_ok($$ insert into public.customers (name, phone) values ('Staff', '+15550001009') $$,
    '42501', 'permission denied for table customers', 'staff: insert customers is refused');
select throws_ok($$ insert into public.appointments (customer_id, appointment_datetime, service_type)
                    values (1, '2099-01-03 10:00:00+00', 'Filler') $$,
    '42501', 'permission denied for table appointments', 'staff: insert appointments is refused');
select throws_ok($$ insert into public.call_sessions (session_id) values ('rls-test-staff') $$,
    '42501', 'permission denied for table call_sessions', 'staff: insert call_sessions is refused');
select throws_ok($$ insert into public.call_events (call_session_id, event_type) values (1, 'rls_test') $$,
    '42501', 'permission denied for table call_events', 'staff: insert call_events is refused');
select throws_ok($$ insert into public.daily_metrics (date) values ('2099-02-01 00:00:00+00') $$,
    '42501', 'permission denied for table daily_metrics', 'staff: insert daily_metrics is refused');

select is_empty($$ update public.customers set notes = 'staff' where phone = '+15550001001' returning id $$,
    'staff: update customers.notes changes no row');
select throws_ok($$ update public.customers set name = 'staff' $$,
    '42501', 'permission denied for table customers', 'staff: update customers.name is refused');
select is_empty($$ update public.appointments set status = 'cancelled'
                   where calendar_event_id like 'rls-test-%' returning id $$,
    'staff: update appointments.status changes no row');
select throws_ok($$ update public.appointments set service_type = 'staff' $$,
    '42501', 'permission denied for table appointments', 'staff: update appointments.service_type is refused');
select throws_ok($$ update public.call_sessions set transcript = 'staff' $$,
    '42501', 'permission denied for table call_sessions', 'staff: update call_sessions is refused');
select throws_ok($$ update public.call_events set event_type = 'staff' $$,
    '42501', 'permission denied for table call_events', 'staff: update call_events is refused');
select throws_ok($$ update public.daily_metrics set total_calls = 0 $$,
    '42501', 'permission denied for table daily_metrics', 'staff: update daily_metrics is refused');

select throws_ok($$ delete from public.customers $$,
    '42501', 'permission denied for table customers', 'staff: delete customers is refused');
select throws_ok($$ delete from public.appointments $$,
    '42501', 'permission denied for table appointments', 'staff: delete appointments is refused');
select throws_ok($$ delete from public.call_sessions $$,
    '42501', 'permission denied for table call_sessions', 'staff: delete call_sessions is refused');
select throws_ok($$ delete from public.call_events $$,
    '42501', 'permission denied for table call_events', 'staff: delete call_events is refused');
select throws_ok($$ delete from public.daily_metrics $$,
    '42501', 'permission denied for table daily_metrics', 'staff: delete daily_metrics is refused');

select results_eq(
    $$ select notes from public.customers where phone = '+15550001001' $$,
    $$ values ('allergic to latex'::text) $$,
    'staff: the notes are unchanged');

reset role;

-- ---- authenticated owner: reads everything, updates notes and status ----------------

set local role authenticated;
set local request.jwt.claims to '{"sub":"00000000-0000-4000-8000-000000000003","role":"authenticated","aud":"authenticated","app_metadata":{"provider":"email","role":"owner"}}';

select results_eq(
    $$ select name::text, notes from public.customers where phone like '+1555000100_' order by phone $$,
    $$ values ('RLS Test One', 'allergic to latex'), ('RLS Test Two', null) $$,
    'owner: select customers shows the rows');
select results_eq(
    $$ select count(*)::int from public.appointments where calendar_event_id like 'rls-test-%' $$,
    $$ values (2) $$, 'owner: select appointments shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_sessions where session_id like 'rls-test-%' $$,
    $$ values (2) $$, 'owner: select call_sessions shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_events where event_type = 'rls_test' $$,
    $$ values (2) $$, 'owner: select call_events shows the rows');
select results_eq(
    $$ select count(*)::int from public.daily_metrics where date >= '2099-01-01' $$,
    $$ values (2) $$, 'owner: select daily_metrics shows the rows');

select throws_ok($$ insert into public.customers (name, phone) values ('Owner', '+15550001009') $$,
    '42501', 'permission denied for table customers', 'owner: insert customers is refused');
select throws_ok($$ insert into public.appointments (customer_id, appointment_datetime, service_type)
                    values (1, '2099-01-03 10:00:00+00', 'Filler') $$,
    '42501', 'permission denied for table appointments', 'owner: insert appointments is refused');
select throws_ok($$ insert into public.call_sessions (session_id) values ('rls-test-owner') $$,
    '42501', 'permission denied for table call_sessions', 'owner: insert call_sessions is refused');
select throws_ok($$ insert into public.call_events (call_session_id, event_type) values (1, 'rls_test') $$,
    '42501', 'permission denied for table call_events', 'owner: insert call_events is refused');
select throws_ok($$ insert into public.daily_metrics (date) values ('2099-02-01 00:00:00+00') $$,
    '42501', 'permission denied for table daily_metrics', 'owner: insert daily_metrics is refused');

select isnt_empty($$ update public.customers set notes = 'prefers afternoons'
                     where phone = '+15550001001' returning id $$,
    'owner: update customers.notes changes the row');
select results_eq(
    $$ select phone::text, notes from public.customers where phone like '+1555000100_' order by phone $$,
    $$ values ('+15550001001', 'prefers afternoons'), ('+15550001002', null) $$,
    'owner: the new notes are stored, on that row only');
select throws_ok($$ update public.customers set name = 'owner' $$,
    '42501', 'permission denied for table customers', 'owner: update customers.name is refused');
select isnt_empty($$ update public.appointments set status = 'confirmed'
                     where calendar_event_id = 'rls-test-+15550001002' returning id $$,
    'owner: update appointments.status changes the row');
select results_eq(
    $$ select calendar_event_id::text, status::text from public.appointments
       where calendar_event_id like 'rls-test-%' order by 1 $$,
    $$ values ('rls-test-+15550001001', 'scheduled'), ('rls-test-+15550001002', 'confirmed') $$,
    'owner: the new status is stored, on that row only');
select throws_ok($$ update public.appointments set service_type = 'owner' $$,
    '42501', 'permission denied for table appointments', 'owner: update appointments.service_type is refused');
select throws_ok($$ update public.appointments set status = 'cancelled', cancelled_at = now() $$,
    '42501', 'permission denied for table appointments', 'owner: update of status with another column is refused');
select throws_ok($$ update public.call_sessions set transcript = 'owner' $$,
    '42501', 'permission denied for table call_sessions', 'owner: update call_sessions is refused');
select throws_ok($$ update public.call_events set event_type = 'owner' $$,
    '42501', 'permission denied for table call_events', 'owner: update call_events is refused');
select throws_ok($$ update public.daily_metrics set total_calls = 0 $$,
    '42501', 'permission denied for table daily_metrics', 'owner: update daily_metrics is refused');

select throws_ok($$ delete from public.customers $$,
    '42501', 'permission denied for table customers', 'owner: delete customers is refused');
select throws_ok($$ delete from public.appointments $$,
    '42501', 'permission denied for table appointments', 'owner: delete appointments is refused');
select throws_ok($$ delete from public.call_sessions $$,
    '42501', 'permission denied for table call_sessions', 'owner: delete call_sessions is refused');
select throws_ok($$ delete from public.call_events $$,
    '42501', 'permission denied for table call_events', 'owner: delete call_events is refused');
select throws_ok($$ delete from public.daily_metrics $$,
    '42501', 'permission denied for table daily_metrics', 'owner: delete daily_metrics is refused');

reset role;

-- ---- service_role: everything ------------------------------------------------------

set local role service_role;
set local request.jwt.claims to '{"role":"service_role"}';

select results_eq(
    $$ select count(*)::int from public.customers where phone like '+1555000100_' $$,
    $$ values (2) $$, 'service_role: select customers shows the rows');
select results_eq(
    $$ select count(*)::int from public.appointments where calendar_event_id like 'rls-test-%' $$,
    $$ values (2) $$, 'service_role: select appointments shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_sessions where session_id like 'rls-test-%' $$,
    $$ values (2) $$, 'service_role: select call_sessions shows the rows');
select results_eq(
    $$ select count(*)::int from public.call_events where event_type = 'rls_test' $$,
    $$ values (2) $$, 'service_role: select call_events shows the rows');
select results_eq(
    $$ select count(*)::int from public.daily_metrics where date >= '2099-01-01' $$,
    $$ values (2) $$, 'service_role: select daily_metrics shows the rows');

select lives_ok($$ insert into public.customers (name, phone) values ('RLS Service', '+15550001009') $$,
    'service_role: insert customers');
select lives_ok($$ insert into public.appointments (customer_id, calendar_event_id, appointment_datetime, service_type)
                   select id, 'rls-test-service', '2099-01-03 10:00:00+00', 'Filler'
                   from public.customers where phone = '+15550001009' $$,
    'service_role: insert appointments');
select lives_ok($$ insert into public.call_sessions (customer_id, session_id)
                   select id, 'rls-test-service' from public.customers where phone = '+15550001009' $$,
    'service_role: insert call_sessions');
select lives_ok($$ insert into public.call_events (call_session_id, event_type)
                   select id, 'rls_test_service' from public.call_sessions where session_id = 'rls-test-service' $$,
    'service_role: insert call_events');
select lives_ok($$ insert into public.daily_metrics (date) values ('2099-02-01 00:00:00+00') $$,
    'service_role: insert daily_metrics');

select lives_ok($$ update public.customers set name = 'RLS Service Updated', notes = 'x'
                   where phone = '+15550001009' $$,
    'service_role: update customers');
select lives_ok($$ update public.appointments set service_type = 'Peel', status = 'cancelled'
                   where calendar_event_id = 'rls-test-service' $$,
    'service_role: update appointments');
select lives_ok($$ update public.call_sessions set transcript = 'updated'
                   where session_id = 'rls-test-service' $$,
    'service_role: update call_sessions');
select lives_ok($$ update public.call_events set data = '{"updated": true}'
                   where event_type = 'rls_test_service' $$,
    'service_role: update call_events');
select lives_ok($$ update public.daily_metrics set total_calls = 7
                   where date = '2099-02-01 00:00:00+00' $$,
    'service_role: update daily_metrics');

select lives_ok($$ delete from public.call_events where event_type = 'rls_test_service' $$,
    'service_role: delete call_events');
select lives_ok($$ delete from public.call_sessions where session_id = 'rls-test-service' $$,
    'service_role: delete call_sessions');
select lives_ok($$ delete from public.appointments where calendar_event_id = 'rls-test-service' $$,
    'service_role: delete appointments');
select lives_ok($$ delete from public.customers where phone = '+15550001009' $$,
    'service_role: delete customers');
select lives_ok($$ delete from public.daily_metrics where date = '2099-02-01 00:00:00+00' $$,
    'service_role: delete daily_metrics');

select results_eq(
    $$ select (select count(*) from public.customers where phone = '+15550001009')::int,
              (select count(*) from public.appointments where calendar_event_id = 'rls-test-service')::int,
              (select count(*) from public.call_sessions where session_id = 'rls-test-service')::int,
              (select count(*) from public.call_events where event_type = 'rls_test_service')::int,
              (select count(*) from public.daily_metrics where date = '2099-02-01 00:00:00+00')::int $$,
    $$ values (0, 0, 0, 0, 0) $$,
    'service_role: what it inserted and deleted is gone');

reset role;

select * from finish();
rollback;
