-- The call log lists calls without a value in the sorted column (a start time, a
-- duration, a score) after all others, in both directions, as the clinic's SQLite file
-- did going down.
--
-- Going up, Postgres' (column, id) indexes already hold NULLs last. Going down, a
-- backwards read of them would put the NULLs first, so each sort column gets its twin in
-- the descending order, and a page in either direction is read from an index in order.
create index if not exists ix_call_sessions_started_at_desc_id
    on public.call_sessions (started_at desc nulls last, id desc);
create index if not exists ix_call_sessions_duration_seconds_desc_id
    on public.call_sessions (duration_seconds desc nulls last, id desc);
create index if not exists ix_call_sessions_satisfaction_score_desc_id
    on public.call_sessions (satisfaction_score desc nulls last, id desc);
