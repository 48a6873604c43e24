-- Indexes on the three foreign-key columns, which the app's schema leaves unindexed.
-- Without them, deleting a customer or a call makes Postgres scan the whole child table
-- for rows that still refer to it (`ava sync` deleting 500 calls took 30 s at 100k
-- calls), and reading a call's events or a customer's calls and appointments — what
-- the admin API does on every detail page — scans the child table too.
create index if not exists ix_call_events_call_session_id on public.call_events (call_session_id);
create index if not exists ix_call_sessions_customer_id on public.call_sessions (customer_id);
create index if not exists ix_appointments_customer_id on public.appointments (customer_id);
