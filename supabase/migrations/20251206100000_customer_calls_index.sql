-- A customer's calls in the call log's order, from one index.
--
-- The call log's search finds the customers whose name matches, then their calls: with
-- (customer_id, started_at, id) the calls' ids and start times come from the index alone,
-- already in order per customer, so a search sorts a few thousand index entries instead
-- of joining every matching call back by id. The index also serves what the plain
-- customer_id index did (the foreign key's lookups, a customer's history), which it
-- replaces.
create index if not exists ix_call_sessions_customer_id_started_at_id
    on public.call_sessions (customer_id, started_at, id);
drop index if exists public.ix_call_sessions_customer_id;
