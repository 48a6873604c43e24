-- ava's own bookkeeping, outside the app's tables and outside the schemas PostgREST
-- exposes: one row per `ava migrate` run that writes, committed together with the
-- batches it describes, so an interrupted run is found by the next one.
create schema if not exists ava;

create table ava.migrate_runs (
    id bigint generated always as identity primary key,
    started_at timestamp with time zone not null default now(),
    finished_at timestamp with time zone,
    status text not null default 'running' check (status in ('running', 'done', 'failed')),
    mode text not null check (mode in ('copy', 'force')),
    source text not null,
    rows_copied bigint not null default 0,
    detail text
);
