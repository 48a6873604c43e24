-- What `ava sync` compares the SQLite file against, so that it reads the target's
-- rows only when something outside ava changed them.
--
-- ava.source_hashes: for every row in the five tables, the hash (xxh3-128) of the SQLite
-- row it was written from, as SQLite held it. `hashes` packs (id, hash) pairs in id
-- order: 8 bytes of id then 16 of hash, little-endian, 24 bytes a row. `ava migrate`
-- writes the base (patch 0), one entry per batch in the batch's own transaction; each
-- `ava sync` that changes rows adds a patch — the pairs it wrote and the ids it deleted
-- (`deleted`, 8 bytes each) — in the transaction that changes them, and folds the
-- patches into a new base when they grow.
create table ava.source_hashes (
    table_name text not null,
    patch bigint not null default 0,
    first_id bigint not null,
    last_id bigint not null,
    hashes bytea not null,
    deleted bytea not null default '',
    primary key (table_name, patch, first_id)
);
-- Hashes do not compress: store them as they are.
alter table ava.source_hashes alter column hashes set storage external;

-- One row, written with the hashes by a finished migrate or sync: the digest of the
-- SQLite file's bytes as of its snapshot (null when unknown), the five tables'
-- fingerprints (row count and the sum of the rows' xmin, which any insert, update or
-- delete outside ava changes), how many source rows were rejected, and the file's
-- sizes and modification times (a hint that it changed, never proof).
create table ava.sync_state (
    only_row boolean primary key default true check (only_row),
    source_digest bytea,
    target_fingerprint text[] not null,
    rejected_rows bigint not null,
    source_stat text,
    recorded_at timestamp with time zone not null default now()
);
