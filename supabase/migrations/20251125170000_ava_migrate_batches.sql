-- Every batch an `ava migrate` run commits, recorded in the same transaction as its rows:
-- which id range of which table is in the target. `ava migrate --resume` copies only what
-- no committed batch covers, and a batch retried after a dropped connection is first
-- looked up here, so it is never loaded twice.
create table ava.migrate_batches (
    run_id bigint not null references ava.migrate_runs (id) on delete cascade,
    table_name text not null,
    first_id bigint not null,
    last_id bigint not null,
    rows bigint not null,
    committed_at timestamp with time zone not null default now(),
    primary key (run_id, table_name, first_id)
);
