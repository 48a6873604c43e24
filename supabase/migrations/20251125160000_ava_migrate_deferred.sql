-- ava migrate loads an empty target before its indexes and constraints exist, then
-- builds them. What it dropped is recorded here, in the same transaction as the drop,
-- so a run that dies before rebuilding them is repaired by the next run.
alter table ava.migrate_runs add column deferred_names text[] not null default '{}';
alter table ava.migrate_runs add column deferred_ddl text[] not null default '{}';
