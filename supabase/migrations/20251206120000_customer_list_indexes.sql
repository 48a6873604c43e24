-- The customers list (`GET /api/admin/customers`): a page in each of its orders, and its
-- search, read from indexes.
--
-- By name: (name COLLATE "C", id). Names are compared byte by byte, the order SQLite's
-- default collation gives, so both stores list customers alike; `name` is NOT NULL, so a
-- backwards read serves the descending order.
-- By created_at: (created_at, id) going up, and its (created_at DESC NULLS LAST, id DESC)
-- twin going down, so customers without the date come last in both directions.
-- By last call: the (customer_id, started_at, id) and started_at indexes of call_sessions.
-- The search (part of the name or the phone, any case): a trigram index on the folded
-- phone beside the one on the folded name (`…_api_indexes.sql`).
create index if not exists ix_customers_name_id
    on public.customers (name collate "C", id);
create index if not exists ix_customers_created_at_id
    on public.customers (created_at, id);
create index if not exists ix_customers_created_at_desc_id
    on public.customers (created_at desc nulls last, id desc);
do $$
declare
    trgm_schema text;
begin
    select n.nspname into trgm_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
    where e.extname = 'pg_trgm';
    execute format(
        'create index if not exists ix_customers_phone_fold_trgm on public.customers '
        'using gin (lower((phone) collate "und-x-icu") %I.gin_trgm_ops)', trgm_schema);
end
$$;
