-- Indexes for the reads `ava serve` answers on every dashboard load.
--
-- The call log's search matches a fragment of a phone number or of a customer's name,
-- case-insensitively (Unicode case folding through ICU, the same on every database
-- locale): trigram GIN indexes on the folded text let Postgres find the few matching
-- rows instead of folding every row. pg_trgm goes into the `extensions` schema, as on
-- Supabase; where it is already installed, its schema is used.
--
-- The call log is sorted by started_at, duration or satisfaction, then by id: a B-tree on
-- (column, id) gives any page in order without sorting the table (NULLs sort last going
-- up and first going down, Postgres' default, which both directions of one index give).
do $$
declare
    trgm_schema text;
begin
    select n.nspname into trgm_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pg_trgm';
    if trgm_schema is null then
        create schema if not exists extensions;
        create extension pg_trgm with schema extensions;
        trgm_schema := 'extensions';
    end if;
    execute format(
        'create index if not exists ix_customers_name_fold_trgm on public.customers '
        'using gin (lower((name) collate "und-x-icu") %I.gin_trgm_ops)', trgm_schema);
    execute format(
        'create index if not exists ix_call_sessions_phone_number_fold_trgm on public.call_sessions '
        'using gin (lower((phone_number) collate "und-x-icu") %I.gin_trgm_ops)', trgm_schema);
end
$$;

create index if not exists ix_call_sessions_started_at_id on public.call_sessions (started_at, id);
create index if not exists ix_call_sessions_duration_seconds_id on public.call_sessions (duration_seconds, id);
create index if not exists ix_call_sessions_satisfaction_score_id on public.call_sessions (satisfaction_score, id);
