#!/usr/bin/env bash
# bench/run.sh — how fast is `ava migrate` compared with the obvious alternatives?
#
# On seeded files of 10,000, 100,000 and 1,000,000 calls it times, in alternating rounds
# (round 1: a b c d e f g, round 2: a b c d e f g, …, so that drift of the machine hits every step alike):
#   (a) ava db push + ava migrate into an empty, freshly created database;
#   (b) the reference pipeline: `sqlite3 -csv` | `psql \copy` per table into bare tables,
#       then primary keys, indexes, foreign keys and sequences;
#   (c) pgloader, if installed;
#   (d) ava verify against the database (a) produced;
#   (e) ava sync against it with nothing changed, then (f) with 1% of the rows of every
#       table changed as the app changes them in a cutover window (new rows, the newest
#       rows updated), then (g) 1% changed spread over the whole file (the worst case for
#       Postgres' writes); each followed by an untimed ava verify.
# Run `bench/run.sh --help` for the options. Results: bench/out/results.md (Markdown),
# bench/out/runs.csv (every measurement), bench/out/logs/ (every command's output).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/run.sh [--sizes N[,N…]] [--rounds N] [--skip-pgloader]

Benchmarks `ava db push` + `ava migrate` against the reference pipeline (sqlite3 CSV export
piped into psql \copy, then keys, indexes, foreign keys, sequences) and pgloader, and
times `ava verify` and `ava sync` (nothing changed; 1% of the rows of every table
changed), on seeded files (`ava seed --calls N --seed 1 --end 2026-11-25`).

Options:
  --sizes LIST      calls per file, comma-separated   [default: 10000,100000,1000000]
  --rounds N        alternating rounds per size        [default: 3]
  --skip-pgloader   do not run pgloader even if it is installed
  -h, --help        this text

Environment:
  BENCH_ADMIN_URL   a Postgres URL whose user may create and drop databases
                    [default: postgresql://postgres@127.0.0.1:5432/postgres]; every
                    measured run gets its own fresh database there, dropped afterwards.
  BENCH_PGLOADER_WITH
                    options for `pgloader --with` [default: none, i.e. pgloader's
                    defaults]. pgloader 3.6 runs out of heap at 1M calls with its
                    defaults; 'prefetch rows = 10000' lets it finish.

Needs: cargo, psql, sqlite3, GNU time (/usr/bin/time), awk; pgloader is optional
(Debian: apt-get install pgloader). Seeded files are cached in bench/out/data/ and reused
(delete them to seed again: the 1M file is about 2.5 GB). Writes bench/out/results.md,
bench/out/runs.csv and bench/out/logs/. On 2 cores the defaults take about 10 minutes,
plus about a minute to seed the files the first time.
EOF
}

# The five tables, in the order ava migrate copies them. Their definitions are not
# restated anywhere in this script: they come from `ava db push` and the catalog.
TABLES=(customers appointments call_sessions call_events daily_metrics)
TABLES_ARRAY="{$(IFS=,; echo "${TABLES[*]}")}" # as a Postgres text[] literal

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/bench/run.sh"
OUT="$ROOT/bench/out"
DATA="$OUT/data"
LOGS="$OUT/logs"
AVA= # set after the build: a frozen copy of target/release/ava (see "Main")
ADMIN=${BENCH_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
PGLOADER_WITH=${BENCH_PGLOADER_WITH:-} # extra `pgloader --with` options, default none
PSQL=(psql -X -q -v ON_ERROR_STOP=1) # -X: no ~/.psqlrc; stop at the first error

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# warn: on the terminal now, and in the report's correctness section.
warn() {
    printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2
    printf -- '- **WARNING** %s\n' "$*" >>"$WORK/notes"
}
note() { printf -- '- %s\n' "$*" >>"$WORK/notes"; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# calc EXPR [DECIMALS]: floating-point arithmetic (bash has none).
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# thousands 1234567 → 1,234,567 (the C locale of a clean machine has no grouping).
thousands() {
    awk -v n="$1" 'BEGIN {
        s = sprintf("%.0f", n); r = ""
        while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
        print s r
    }'
}

# db_url NAME: the admin URL with its database replaced (query parameters kept).
db_url() {
    local base=${ADMIN%%\?*}
    local query=${ADMIN#"$base"}
    printf '%s/%s%s' "${base%/*}" "$1" "$query"
}

# Every database this run creates is listed here and dropped on exit, whatever happens.
CREATED_DBS=()
create_db() {
    "${PSQL[@]}" "$ADMIN" -c "create database $1"
    CREATED_DBS+=("$1")
}
drop_db() { "${PSQL[@]}" "$ADMIN" -c "drop database if exists $1 with (force)" >/dev/null 2>&1 || true; }
cleanup() {
    local db
    for db in "${CREATED_DBS[@]}"; do drop_db "$db"; done
    rm -rf "$WORK"
}

# pg_scalar URL SQL: one value, unaligned.
pg_scalar() { "${PSQL[@]}" -At "$1" -c "$2"; }

# Flush dirty buffers before each timed step, so no step pays for the previous one's
# checkpoint. Needs superuser (or pg_checkpoint); harmless to skip otherwise.
checkpoint() { "${PSQL[@]}" "$ADMIN" -c checkpoint >/dev/null 2>&1 || true; }

# timed LOG CMD…: runs CMD under GNU time with its output in LOG; sets SECS (wall clock)
# and KB (peak resident set size). Returns CMD's exit status. For a command that starts
# others (bash, pipelines), %M is the largest single process, not the sum.
timed() {
    local log=$1 rc=0
    shift
    # stdin from /dev/null: a crashing pgloader (SBCL) would otherwise wait in its debugger.
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" </dev/null 2>&1 | stamp >"$log" || rc=$?
    # On failure GNU time writes "Command exited with non-zero status N" first.
    read -r SECS KB < <(tail -n 1 "$WORK/time")
    return "$rc"
}

# stamp: prefix each line with the seconds since it started, so that the logs show where
# the time goes (ava's scan, copy and index phases; pgloader's own summary has its own).
stamp() {
    local start=${EPOCHREALTIME//[!0-9]/} line us
    while IFS= read -r line || [[ -n $line ]]; do
        us=$((${EPOCHREALTIME//[!0-9]/} - start))
        printf '%4d.%02d %s\n' $((us / 1000000)) $((us % 1000000 / 10000)) "$line"
    done
}

# record CALLS ROUND STEP SECONDS KB STATUS: one line of runs.csv.
record() {
    printf '%s,%s,%s,%s,%s,%s,%s,%s\n' "$1" "${ROWS[$1]}" "${BYTES[$1]}" "$2" "$3" "$4" "$5" "$6" >>"$OUT/runs.csv"
}

# ---------------------------------------------------------------------------------------
# The seeded files
# ---------------------------------------------------------------------------------------

declare -A ROWS BYTES SQLITE_COUNT # per size: total rows, file size; per "size table": rows
SQLITE_NOT_NULL=""                 # "table.column" lines: the NOT NULL columns of the file

# seed_file CALLS: make (or reuse) bench/out/data/calls-CALLS.db and count its rows.
seed_file() {
    local calls=$1 file="$DATA/calls-$1.db" t n total=0
    if [[ -f $file ]]; then
        log "reusing $file"
    else
        log "seeding $file ($calls calls)"
        rm -f "$file.tmp"
        # Written under a temporary name so that an interrupted seed is never reused.
        "$AVA" seed --sqlite "$file.tmp" --calls "$calls" --seed 1 --end 2026-11-25 >"$LOGS/seed-$calls.log"
        mv "$file.tmp" "$file"
    fi
    for t in "${TABLES[@]}"; do
        n=$(sqlite3 -readonly "$file" "select count(*) from $t")
        SQLITE_COUNT[$calls $t]=$n
        total=$((total + n))
    done
    ROWS[$calls]=$total
    BYTES[$calls]=$(stat -c %s "$file")
    # The NOT NULL columns the file declares (the same in every seeded file).
    SQLITE_NOT_NULL=$(sqlite3 -readonly "$file" "select m.name || '.' || p.name from sqlite_master m, pragma_table_info(m.name) p
        where m.type = 'table' and p.\"notnull\" and m.name in ($(printf "'%s'," "${TABLES[@]}" | sed 's/,$//')) order by 1")
}

# ---------------------------------------------------------------------------------------
# Checks after each load
# ---------------------------------------------------------------------------------------

# check_counts CALLS ROUND STEP URL: the five tables' row counts must equal the file's.
check_counts() {
    local calls=$1 round=$2 step=$3 url=$4 t n bad=""
    for t in "${TABLES[@]}"; do
        n=$(pg_scalar "$url" "select count(*) from public.$t" 2>/dev/null || echo missing)
        [[ $n == "${SQLITE_COUNT[$calls $t]}" ]] || bad+=" $t: $n in Postgres, ${SQLITE_COUNT[$calls $t]} in SQLite;"
    done
    if [[ -n $bad ]]; then
        warn "$(thousands "$calls") calls, round $round, ($step): row counts differ:$bad"
    fi
}

# schema_report URL: did a tool keep the file's NOT NULL columns, and are the id sequences
# past max(id) (so that the app's next insert does not fail with a duplicate key)?
schema_report() {
    local url=$1 kept lost t seq next max seqs="" missing=0
    kept=$(pg_scalar "$url" "select table_name || '.' || column_name from information_schema.columns
        where table_schema = 'public' and table_name = any ('$TABLES_ARRAY') and is_nullable = 'NO' order by 1")
    lost=$(comm -23 <(printf '%s\n' "$SQLITE_NOT_NULL") <(printf '%s\n' "$kept") | paste -sd, - | sed 's/,/, /g')
    printf 'NOT NULL: %s of the file'"'"'s %s kept%s; ' "$(comm -12 <(printf '%s\n' "$SQLITE_NOT_NULL") <(printf '%s\n' "$kept") | wc -l)" \
        "$(printf '%s\n' "$SQLITE_NOT_NULL" | wc -l)" "${lost:+ (dropped: $lost)}"
    for t in "${TABLES[@]}"; do
        seq=$(pg_scalar "$url" "select pg_get_serial_sequence('public.$t', 'id')")
        if [[ -z $seq ]]; then
            missing=$((missing + 1))
            continue
        fi
        next=$(pg_scalar "$url" "select case when is_called then last_value + 1 else last_value end from $seq")
        max=$(pg_scalar "$url" "select coalesce(max(id), 0) from public.$t")
        ((next > max)) || seqs+=" $t next id $next ≤ max(id) $max;"
    done
    if ((missing == ${#TABLES[@]})); then
        printf 'id sequences: none (no identity, no default on any id column)'
    elif ((missing > 0)); then
        printf 'id sequences: missing on %s of %s tables;%s' "$missing" "${#TABLES[@]}" "${seqs:- the others are past max(id)}"
    else
        printf 'id sequences: %s' "${seqs:-all ${#TABLES[@]} past max(id)}"
    fi
}

# ---------------------------------------------------------------------------------------
# (b) the reference pipeline
# ---------------------------------------------------------------------------------------

# prepare_reference_db URL DIR (not timed): `ava db push` into the fresh database, save the
# DDL of every primary key, unique/exclusion constraint, index and foreign key of the five
# tables into DIR, then drop them. What is left are bare tables with the target's column
# types, NOT NULLs, defaults and identity columns (kept: `generated by default` accepts
# the file's ids, and the identity's sequence is what gets set past max(id) at the end).
prepare_reference_db() {
    local url=$1 dir=$2
    mkdir -p "$dir"
    "$AVA" db push --database-url "$url" >/dev/null
    # One query per file; the `rel` CTE is the five tables. Constraint-backed indexes
    # (primary keys) come back with their constraint, not as a separate index.
    local rels="with rel as (select ('public.' || quote_ident(n))::regclass as oid
                             from unnest('$TABLES_ARRAY'::text[]) n)"
    "${PSQL[@]}" -At "$url" >"$dir/keys.sql" -c "$rels
        select format('alter table %s add constraint %I %s;', conrelid::regclass, conname, pg_get_constraintdef(oid))
        from pg_constraint where conrelid in (select oid from rel) and contype in ('p', 'u', 'x')
        order by conrelid, conname"
    "${PSQL[@]}" -At "$url" >"$dir/indexes.sql" -c "$rels
        select pg_get_indexdef(i.indexrelid) || ';' from pg_index i
        where i.indrelid in (select oid from rel)
          and not exists (select from pg_constraint c where c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x'))
        order by i.indrelid, i.indexrelid::regclass::text"
    "${PSQL[@]}" -At "$url" >"$dir/fks.sql" -c "$rels
        select format('alter table %s add constraint %I %s;', conrelid::regclass, conname, pg_get_constraintdef(oid))
        from pg_constraint where conrelid in (select oid from rel) and contype = 'f'
        order by conrelid, conname"
    "${PSQL[@]}" -At "$url" >"$dir/sequences.sql" -c "$rels
        select format('select setval(%L, max(%I)) from %s;', pg_get_serial_sequence(attrelid::regclass::text, attname), attname, attrelid::regclass)
        from pg_attribute
        where attrelid in (select oid from rel) and attnum > 0 and not attisdropped
          and pg_get_serial_sequence(attrelid::regclass::text, attname) is not null
        order by attrelid, attnum"
    # Drop in dependency order: foreign keys, then the keys they point at, then indexes.
    "${PSQL[@]}" -At "$url" >"$dir/drop.sql" -c "$rels
        select format('alter table %s drop constraint %I;', conrelid::regclass, conname)
        from pg_constraint where conrelid in (select oid from rel) and contype = 'f'
        union all
        select format('alter table %s drop constraint %I;', conrelid::regclass, conname)
        from pg_constraint where conrelid in (select oid from rel) and contype in ('p', 'u', 'x')"
    sed -E 's/^CREATE (UNIQUE )?INDEX ([^ ]+) ON .*/drop index public.\2;/' "$dir/indexes.sql" >>"$dir/drop.sql"
    "${PSQL[@]}" -1 "$url" -f "$dir/drop.sql"
    local left
    left=$(pg_scalar "$url" "$rels select count(*) from pg_index where indrelid in (select oid from rel)")
    [[ $left == 0 ]] || die "the reference tables still have $left indexes after dropping them"
}

# check_column_order FILE URL: `select *` from SQLite must give the Postgres columns in
# the same order, or \copy would put values in the wrong columns.
check_column_order() {
    local file=$1 url=$2 t lite pg
    for t in "${TABLES[@]}"; do
        lite=$(sqlite3 -readonly "$file" "select group_concat(name, ',') from (select name from pragma_table_info('$t') order by cid)")
        pg=$(pg_scalar "$url" "select string_agg(attname, ',' order by attnum) from pg_attribute
            where attrelid = 'public.$t'::regclass and attnum > 0 and not attisdropped")
        [[ $lite == "$pg" ]] || die "column order of $t differs: SQLite $lite, Postgres $pg"
    done
}

# reference_pipeline SQLITE URL DDL_DIR MARKS: the timed part of (b). Runs in its own bash
# process (see the dispatch at the bottom) so that GNU time measures all of it, sqlite3
# and psql included. Writes a timestamp after each phase to MARKS.
reference_pipeline() {
    local src=$1 url=$2 dir=$3 marks=$4 t
    # sqlite3 writes naive datetime text; the app writes UTC, so read it as UTC.
    export PGTZ=UTC
    mark() { echo "$1 $EPOCHREALTIME" >>"$marks"; }
    mark start
    # One table after another, as the simple pipeline would. sqlite3's CSV writes NULL as
    # an empty field and '' as "", which is exactly how COPY's CSV format reads them.
    for t in "${TABLES[@]}"; do
        sqlite3 -readonly -batch -csv -noheader "$src" "select * from $t" |
            "${PSQL[@]}" "$url" -c "\\copy public.$t from pstdin with (format csv)"
    done
    mark copy
    "${PSQL[@]}" "$url" -f "$dir/keys.sql" -f "$dir/indexes.sql"
    mark keys
    "${PSQL[@]}" "$url" -f "$dir/fks.sql"
    mark fks
    "${PSQL[@]}" "$url" -f "$dir/sequences.sql" >/dev/null
    mark sequences
}

# ---------------------------------------------------------------------------------------
# The four steps of one round
# ---------------------------------------------------------------------------------------

# step_ava CALLS ROUND DB: (a). Leaves DB in place for (d).
step_ava() {
    local calls=$1 round=$2 db=$3 url push_s push_kb
    url=$(db_url "$db")
    create_db "$db"
    checkpoint
    timed "$LOGS/$calls-r$round-a-push.log" "$AVA" db push --database-url "$url" ||
        die "ava db push failed, see $LOGS/$calls-r$round-a-push.log"
    push_s=$SECS push_kb=$KB
    timed "$LOGS/$calls-r$round-a-migrate.log" "$AVA" migrate --sqlite "$DATA/calls-$calls.db" --database-url "$url" ||
        die "ava migrate failed, see $LOGS/$calls-r$round-a-migrate.log"
    record "$calls" "$round" a.push "$push_s" "$push_kb" ok
    record "$calls" "$round" a.migrate "$SECS" "$KB" ok
    record "$calls" "$round" a "$(calc "$push_s + $SECS")" "$((KB > push_kb ? KB : push_kb))" ok
    log "  (a) ava db push + migrate: $(calc "$push_s + $SECS") s (push $push_s s, migrate $SECS s), peak $((KB / 1024)) MB"
    check_counts "$calls" "$round" a "$url"
    [[ $round != 1 ]] || note "$(thousands "$calls") calls, (a) ava: $(schema_report "$url")."
}

# step_reference CALLS ROUND DB: (b).
step_reference() {
    local calls=$1 round=$2 db=$3 url dir="$WORK/ddl" marks="$WORK/marks" log
    url=$(db_url "$db")
    log="$LOGS/$calls-r$round-b-reference.log"
    create_db "$db"
    prepare_reference_db "$url" "$dir"
    [[ $round != 1 ]] || check_column_order "$DATA/calls-$calls.db" "$url"
    rm -f "$marks"
    checkpoint
    timed "$log" bash "$SELF" --reference-pipeline "$DATA/calls-$calls.db" "$url" "$dir" "$marks" ||
        die "the reference pipeline failed, see $log"
    record "$calls" "$round" b "$SECS" "$KB" ok
    # Phase durations from the marks: each mark minus the previous one.
    local phase when prev="" copy="" keys="" fks="" seqs=""
    while read -r phase when; do
        if [[ -n $prev ]]; then
            local d
            d=$(calc "$when - $prev")
            record "$calls" "$round" "b.$phase" "$d" "" ok
            case $phase in copy) copy=$d ;; keys) keys=$d ;; fks) fks=$d ;; sequences) seqs=$d ;; esac
        fi
        prev=$when
    done <"$marks"
    log "  (b) reference pipeline: $SECS s (export|\\copy $copy s, keys+indexes $keys s, foreign keys $fks s, sequences $seqs s), peak $((KB / 1024)) MB"
    check_counts "$calls" "$round" b "$url"
    if [[ $round == 1 ]]; then
        # Not timed: is the simple pipeline exact? ava verify compares every value.
        # (Its schema check passes: the keys and indexes were re-created with their names.)
        local vlog="$LOGS/$calls-r1-b-verify.log" columns
        if "$AVA" verify --sqlite "$DATA/calls-$calls.db" --database-url "$url" >"$vlog" 2>&1; then
            note "$(thousands "$calls") calls, (b) reference: \`ava verify\` finds its database identical to the file."
        else
            # Lines like "  call_sessions id 7: satisfaction_score: source 4.333… ≠ target 4.33…".
            columns=$(grep -oE '^ +[a-z_]+ id -?[0-9]+: [a-z_]+:' "$vlog" | awk '{ sub(/:$/, "", $4); print $1 "." $4 }' | sort -u | paste -sd, - | sed 's/,/, /g')
            local why=""
            # sqlite3 (3.40 here) prints REAL values with 15 significant digits, so doubles
            # that need 16 or 17 come back changed. Say so when only such columns differ.
            if [[ -n $columns ]] && ! pg_scalar "$url" "select table_name || '.' || column_name from information_schema.columns
                where table_schema = 'public' and data_type <> 'double precision'
                  and table_name || '.' || column_name = any (string_to_array('${columns//, /,}', ','))" | grep -q .; then
                why=" All are double precision columns: sqlite3 $(sqlite3 --version | awk '{print $1}')'s CSV prints REAL values with 15 significant digits."
            fi
            warn "$(thousands "$calls") calls, (b) reference: \`ava verify\` finds values that differ from the file (columns: ${columns:-see log}; up to 50 rows per table in bench/out/logs/$(basename "$vlog"), e.g. \`$(grep -m1 -E '^ +[a-z_]+ id ' "$vlog" | sed 's/^ *//')\`).$why"
        fi
    fi
    drop_db "$db"
}

# step_pgloader CALLS ROUND DB: (c), into an empty database (pgloader makes the schema).
step_pgloader() {
    local calls=$1 round=$2 db=$3 url log opts=()
    url=$(db_url "$db")
    log="$LOGS/$calls-r$round-c-pgloader.log"
    [[ -z $PGLOADER_WITH ]] || opts=(--with "$PGLOADER_WITH")
    create_db "$db"
    checkpoint
    if timed "$log" pgloader --root-dir "$WORK/pgloader" "${opts[@]}" "sqlite://$DATA/calls-$calls.db" "$url"; then
        record "$calls" "$round" c "$SECS" "$KB" ok
        log "  (c) pgloader: $SECS s, peak $((KB / 1024)) MB"
        check_counts "$calls" "$round" c "$url"
        [[ $round != 1 ]] || note "$(thousands "$calls") calls, (c) pgloader: $(schema_report "$url")."
    else
        record "$calls" "$round" c "$SECS" "$KB" failed
        local why
        why="see bench/out/logs/$(basename "$log")"
        # SBCL's fixed heap: pgloader's default batches of big rows (transcripts) overflow it.
        ! grep -q 'Heap exhausted' "$log" ||
            why="SBCL heap exhausted at $((KB / 1024)) MB; BENCH_PGLOADER_WITH='prefetch rows = 10000' makes it fit; $why"
        warn "$(thousands "$calls") calls, round $round: pgloader failed after $SECS s ($why)"
    fi
    drop_db "$db"
}

# step_verify CALLS ROUND DB: (d), against the database (a) produced.
step_verify() {
    local calls=$1 round=$2 db=$3 url log
    url=$(db_url "$db")
    log="$LOGS/$calls-r$round-d-verify.log"
    checkpoint
    timed "$log" "$AVA" verify --sqlite "$DATA/calls-$calls.db" --database-url "$url" ||
        die "ava verify failed or found differences, see $log"
    record "$calls" "$round" d "$SECS" "$KB" ok
    log "  (d) ava verify: $SECS s, peak $((KB / 1024)) MB"
}

# changed_file CALLS KIND: the seeded file with 1% of the rows of every table changed
# (made once, reused), in bench/out/data/calls-CALLS-KIND.db. Each statement changes
# every row it selects. KIND:
# - recent: what the app does during a cutover window — 0.5% new rows (copies of the
#   newest calls with their events, appointments and customers, under new ids and with
#   new unique values) and the newest 0.5% of the rows updated;
# - spread: every 100th id updated, so no two changed rows share a page of the target:
#   the worst case for Postgres (each row costs full-page images in its WAL).
changed_file() {
    local calls=$1 kind=$2 file="$DATA/calls-$1-$2.db"
    if [[ ! -f $file ]]; then
        cp "$DATA/calls-$calls.db" "$file.tmp"
        if [[ $kind == spread ]]; then
            sqlite3 -bail "$file.tmp" "
                update customers set notes = coalesce(notes, '') || ' (changed)' where id % 100 = 0;
                update appointments set special_requests = coalesce(special_requests, '') || ' (changed)' where id % 100 = 0;
                update call_sessions set escalation_reason = coalesce(escalation_reason, '') || ' (changed)' where id % 100 = 0;
                update call_events set event_type = event_type || '_changed' where id % 100 = 0;
                update daily_metrics set total_calls = coalesce(total_calls, 0) + 1 where id % 100 = 0;"
        else
            # Ids past every existing one; unique columns (phone, email, calendar event,
            # session) made new; references kept or moved to the copied parent.
            sqlite3 -bail "$file.tmp" "
                create temp table c as select * from customers where id > (select max(id) - count(*) / 200 from customers);
                update c set id = id + 100000000, phone = substr(phone, 1, 12) || '99', email = 'new.' || email;
                insert into customers select * from c;
                create temp table a as select * from appointments where id > (select max(id) - count(*) / 200 from appointments);
                update a set id = id + 100000000, calendar_event_id = 'new-' || calendar_event_id;
                insert into appointments select * from a;
                create temp table s as select * from call_sessions where id > (select max(id) - count(*) / 200 from call_sessions);
                create temp table e as select * from call_events where call_session_id in (select id from s);
                update s set id = id + 100000000, session_id = 'new-' || session_id;
                update e set id = id + 1000000000, call_session_id = call_session_id + 100000000;
                insert into call_sessions select * from s;
                insert into call_events select * from e;
                update customers set notes = coalesce(notes, '') || ' (changed)'
                    where id > (select max(id) - count(*) / 200 from customers where id < 100000000) and id < 100000000;
                update appointments set status = 'completed', special_requests = coalesce(special_requests, '') || ' (changed)'
                    where id > (select max(id) - count(*) / 200 from appointments where id < 100000000) and id < 100000000;
                update call_sessions set escalation_reason = coalesce(escalation_reason, '') || ' (changed)'
                    where id > (select max(id) - count(*) / 200 from call_sessions where id < 100000000) and id < 100000000;
                update call_events set event_type = event_type || '_changed'
                    where id > (select max(id) - count(*) / 200 from call_events where id < 1000000000) and id < 1000000000;
                update daily_metrics set total_calls = coalesce(total_calls, 0) + 1
                    where id > (select max(id) - count(*) / 100 from daily_metrics);"
        fi
        mv "$file.tmp" "$file"
    fi
    echo "$file"
}

# step_sync CALLS ROUND DB: (e), (f) and (g), against the database (a) produced, each
# followed by an untimed ava verify against the file it synced and an untimed sync back
# to the seeded file; then drops the database.
step_sync() {
    local calls=$1 round=$2 db=$3 url step file log
    url=$(db_url "$db")
    for step in e f g; do
        case $step in
            e) file="$DATA/calls-$calls.db" ;;
            f) file=$(changed_file "$calls" recent) ;;
            g) file=$(changed_file "$calls" spread) ;;
        esac
        log="$LOGS/$calls-r$round-$step-sync.log"
        checkpoint
        timed "$log" "$AVA" sync --sqlite "$file" --database-url "$url" ||
            die "ava sync ($step) failed, see $log"
        [[ $step != e ]] || grep -q 'nothing written' "$log" ||
            die "ava sync wrote to a target that was in sync, see $log"
        record "$calls" "$round" "$step" "$SECS" "$KB" ok
        log "  ($step) ava sync $(basename "$file"): $SECS s, peak $((KB / 1024)) MB"
        "$AVA" verify --sqlite "$file" --database-url "$url" >"$LOGS/$calls-r$round-$step-verify.log" 2>&1 ||
            die "after ($step) the target differs from $file, see $LOGS/$calls-r$round-$step-verify.log"
        # Untimed: back to the seeded file, so that each step starts from the migrated rows.
        [[ $step == e ]] || "$AVA" sync --sqlite "$DATA/calls-$calls.db" --database-url "$url" \
            >"$LOGS/$calls-r$round-$step-back.log" 2>&1 || die "syncing back after ($step) failed"
    done
    drop_db "$db"
}

# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------

# stat_of CALLS STEP median|min|max|maxkb: over the successful runs of STEP at CALLS; empty if none.
stat_of() {
    awk -F, -v c="$1" -v s="$2" -v what="$3" '
        $1 == c && $5 == s && $8 == "ok" { v[++n] = $6; if ($7 > kb) kb = $7 }
        END {
            if (!n) exit
            if (what == "maxkb") { if (kb != "") printf "%.0f", kb / 1024; exit }
            for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j > 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
            if (what == "min") { printf "%.2f", v[1]; exit }
            if (what == "max") { printf "%.2f", v[n]; exit }
            printf "%.2f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }' "$OUT/runs.csv"
}

# ratio A B: A/B to two decimals, or "–" if either is missing.
ratio() { if [[ -n $1 && -n $2 ]]; then calc "$1 / $2"; else echo "–"; fi; }

# verdict CONDITION-EXPR: "pass"/"FAIL" (awk truth), or "not measured" when it has no data.
verdict() { if [[ $1 == *–* || -z $1 ]]; then echo "not measured"; elif awk "BEGIN { exit !($1) }"; then echo pass; else echo FAIL; fi; }

# step_row CALLS STEP LABEL [norate]: one line of the per-size table. "norate" leaves out
# rows/s and MB/s for steps whose time does not grow with the data copied (e.g. db push).
step_row() {
    local calls=$1 step=$2 label=$3 rate=${4:-} med kb rows_s="–" mb_s="–"
    med=$(stat_of "$calls" "$step" median)
    if [[ -z $med ]]; then
        printf '| %s | – | – | – | – | – |\n' "$label"
        return
    fi
    kb=$(stat_of "$calls" "$step" maxkb)
    if [[ $rate != norate ]] && awk "BEGIN { exit !($med > 0) }"; then
        rows_s=$(thousands "$(calc "${ROWS[$calls]} / $med" 0)")
        mb_s=$(calc "${BYTES[$calls]} / 1e6 / $med" 1)
    fi
    printf '| %s | %s | %s–%s | %s | %s | %s |\n' "$label" "$med" "$(stat_of "$calls" "$step" min)" \
        "$(stat_of "$calls" "$step" max)" "$rows_s" "$mb_s" "${kb:+$kb MB}"
}

# write_report: bench/out/results.md from runs.csv and the notes.
write_report() {
    local calls a b c d pgl=${PGLOADER_VERSION:-pgloader not run}
    [[ -z $PGLOADER_WITH || -z ${PGLOADER_VERSION:-} ]] || pgl+=" with --with \"$PGLOADER_WITH\""
    {
        echo "# ava benchmark"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M UTC') · ava built from $BUILT_FROM" \
            "· $(nproc) cores · $(psql --version | awk '{print "PostgreSQL " $3}') · sqlite3 $(sqlite3 --version | awk '{print $1}')" \
            "· $pgl"
        echo
        # Other work on the machine skews every number; the load average shows whether it ran.
        echo "Load average (1 min) at the start: $LOAD_START, now: $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?') (on $(nproc) cores)."
        echo
        echo "Command: \`bench/run.sh ${ARGS[*]}\` ($ROUNDS round(s) per size, alternating a b c d e f g). Medians of the rounds;"
        echo "rows/s and MB/s (10^6 bytes of SQLite file per second) from the median; peak memory is the"
        echo "largest resident set size of any round (for (b) and (c) the largest single process)."
        echo "(a) includes creating the schema (\`ava db push\`); (b) starts from bare tables made untimed"
        echo "(ava db push, then every key, index and foreign key dropped; NOT NULLs, defaults and identity"
        echo "columns kept) and re-creates keys, indexes and foreign keys on one connection, one after another."
        for calls in "${SIZES[@]}"; do
            echo
            echo "## $(thousands "$calls") calls: $(thousands "${ROWS[$calls]}") rows, $(calc "${BYTES[$calls]} / 1e6" 0) MB SQLite file"
            echo
            echo "| step | median s | min–max s | rows/s | MB/s | peak memory |"
            echo "|---|---|---|---|---|---|"
            step_row "$calls" a "(a) \`ava db push\` + \`ava migrate\`"
            step_row "$calls" a.push "  · \`ava db push\`" norate
            step_row "$calls" a.migrate "  · \`ava migrate\`"
            step_row "$calls" b "(b) reference: \`sqlite3 -csv\` \\| \`psql \\copy\`, keys, indexes, FKs, sequences"
            step_row "$calls" b.copy "  · export \\| \\copy, 5 tables one after another"
            step_row "$calls" b.keys "  · primary keys + indexes" norate
            step_row "$calls" b.fks "  · foreign keys" norate
            step_row "$calls" b.sequences "  · sequences" norate
            step_row "$calls" c "(c) pgloader"
            step_row "$calls" d "(d) \`ava verify\`"
            step_row "$calls" e "(e) \`ava sync\`, nothing changed" norate
            step_row "$calls" f "(f) \`ava sync\`, 1% of every table changed as in a cutover window (new rows, newest rows updated)" norate
            step_row "$calls" g "(g) \`ava sync\`, 1% of every table changed, spread (every 100th id: worst case)" norate
            a=$(stat_of "$calls" a median) b=$(stat_of "$calls" b median) c=$(stat_of "$calls" c median) d=$(stat_of "$calls" d median)
            echo
            echo "ours/reference a/b = **$(ratio "$a" "$b")** · ours/pgloader a/c = **$(ratio "$a" "$c")** · verify/migrate d/a = **$(ratio "$d" "$a")**"
        done
        echo
        echo "## Targets"
        echo
        echo "| target | measured | result |"
        echo "|---|---|---|"
        a=$(stat_of 100000 a median) b=$(stat_of 100000 b median) c=$(stat_of 100000 c median)
        local ab ac
        ab=$(ratio "$a" "$b") ac=$(ratio "$a" "$c")
        echo "| 100k calls: migrate ≤ 1.25 × reference | a/b = $ab | $(verdict "$ab <= 1.25") |"
        echo "| 100k calls: migrate < pgloader | a/c = $ac | $(verdict "$ac < 1") |"
        local list="" worst=""
        for calls in "${SIZES[@]}"; do
            local da
            da=$(ratio "$(stat_of "$calls" d median)" "$(stat_of "$calls" a median)")
            list+="$(thousands "$calls"): $da; "
            [[ $da == – ]] || worst=$(awk -v w="$worst" -v x="$da" 'BEGIN { print (w == "" || x > w) ? x : w }')
        done
        echo "| verify ≤ 0.5 × migrate (every size) | d/a ${list%; } | $(verdict "${worst:-–} <= 0.5") |"
        # Against \`ava migrate\` alone (without db push): the stricter comparison.
        local m e f g
        m=$(stat_of 100000 a.migrate median) e=$(stat_of 100000 e median) f=$(stat_of 100000 f median) g=$(stat_of 100000 g median)
        e=$(ratio "$e" "$m") f=$(ratio "$f" "$m") g=$(ratio "$g" "$m")
        echo "| 100k calls: sync with nothing changed ≤ 0.1 × migrate | e/a.migrate = $e | $(verdict "$e <= 0.1") |"
        echo "| 100k calls: sync with 1% of rows changed ≤ 0.2 × migrate | f/a.migrate = $f (spread, worst case: g/a.migrate = $g) | $(verdict "$f <= 0.2") |"
        local mem
        mem=$(stat_of 1000000 a maxkb)
        echo "| peak memory of (a) < 200 MB at 1M calls | ${mem:-–} MB | $(verdict "${mem:-–} < 200") |"
        local step
        for step in a b c d; do
            local per="" lo="" hi=""
            for calls in "${SIZES[@]}"; do
                local m s
                m=$(stat_of "$calls" "$step" median)
                [[ -n $m ]] || continue
                s=$(calc "$m / ${ROWS[$calls]} * 1e6")
                per+="$(thousands "$calls"): $s; "
                lo=$(awk -v l="$lo" -v x="$s" 'BEGIN { print (l == "" || x < l) ? x : l }')
                hi=$(awk -v h="$hi" -v x="$s" 'BEGIN { print (h == "" || x > h) ? x : h }')
            done
            local r="–"
            [[ -z $lo || ${#SIZES[@]} -lt 2 ]] || r=$(calc "$hi / $lo")
            if [[ $step == a ]]; then
                echo "| time linear in rows: (a) s per million rows, max/min ≤ 1.5 (threshold ours; fixed costs weigh most at 10k) | ${per%; } · max/min $r | $(verdict "$r <= 1.5") |"
            elif [[ -n $per ]]; then
                echo "| (for comparison) ($step) s per million rows | ${per%; } · max/min $r | |"
            fi
        done
        echo
        echo "## Correctness"
        echo
        if [[ -s $WORK/notes ]]; then cat "$WORK/notes"; fi
        grep -q 'row counts differ' "$WORK/notes" 2>/dev/null ||
            echo "- Row counts of the five tables equal the SQLite file's after every run of (a), (b) and (c)."
    } >"$OUT/results.md"
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------

# Internal: the timed body of (b), run by step_reference in a separate bash under time.
if [[ ${1:-} == --reference-pipeline ]]; then
    shift
    reference_pipeline "$@"
    exit 0
fi

ARGS=("$@")
SIZES=(10000 100000 1000000)
ROUNDS=3
PGLOADER=yes
while (($#)); do
    case $1 in
        --sizes) [[ ${2:-} =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--sizes wants numbers separated by commas"
            IFS=, read -r -a SIZES <<<"$2"; shift 2 ;;
        --rounds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number"
            ROUNDS=$2; shift 2 ;;
        --skip-pgloader) PGLOADER=no; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

for tool in cargo psql sqlite3 awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ -x /usr/bin/time ]] || die "GNU time is not installed (/usr/bin/time; Debian: apt-get install time)"
if [[ $PGLOADER == yes ]] && ! command -v pgloader >/dev/null; then
    PGLOADER=no
    PGLOADER_NOTE="- (c) skipped: pgloader is not installed (Debian: \`apt-get install pgloader\`)."
fi
[[ $PGLOADER == yes || -n ${PGLOADER_NOTE:-} ]] || PGLOADER_NOTE="- (c) skipped: --skip-pgloader."
# (sed, not head: pgloader crashes noisily when its output pipe closes early)
[[ $PGLOADER == no ]] || PGLOADER_VERSION=$(pgloader --version 2>/dev/null | sed -n '1s/"//gp')
"${PSQL[@]}" "$ADMIN" -c 'select 1' >/dev/null || die "cannot connect to $ADMIN (set BENCH_ADMIN_URL)"

mkdir -p "$DATA" "$LOGS"
rm -f "$LOGS"/*.log # the logs of this run only, so none is mistaken for an older one
WORK=$(mktemp -d)
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$WORK/notes"
[[ -z ${PGLOADER_NOTE:-} ]] || echo "$PGLOADER_NOTE" >>"$WORK/notes"
echo "calls,rows,sqlite_bytes,round,step,seconds,peak_rss_kb,status" >"$OUT/runs.csv"

# Always measure the code as it is now (someone may have changed it since the last build),
# and measure one binary throughout: a copy, since a cargo build elsewhere in this checkout
# would replace target/release/ava in the middle of the rounds.
log "building ava (cargo build --release -p ava)"
BUILT_FROM="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- . ':(exclude)bench' 2>/dev/null || echo ' + uncommitted changes')"
(cd "$ROOT" && cargo build --release -q -p ava) || die "cargo build --release -p ava failed; nothing measured"
cp "$ROOT/target/release/ava" "$WORK/ava"
AVA="$WORK/ava"

for calls in "${SIZES[@]}"; do seed_file "$calls"; done

# (a), (b) and (d) failing stops the run (their numbers would mean nothing); a pgloader
# failure is recorded and reported, and the run goes on.
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
prefix="ava_bench_$$"
for calls in "${SIZES[@]}"; do
    log "$(thousands "$calls") calls: $(thousands "${ROWS[$calls]}") rows, $(calc "${BYTES[$calls]} / 1e6" 0) MB file"
    for ((round = 1; round <= ROUNDS; round++)); do
        log " round $round/$ROUNDS"
        step_ava "$calls" "$round" "${prefix}_${calls}_r${round}_a"
        step_reference "$calls" "$round" "${prefix}_${calls}_r${round}_b"
        if [[ $PGLOADER == yes ]]; then step_pgloader "$calls" "$round" "${prefix}_${calls}_r${round}_c"; fi
        step_verify "$calls" "$round" "${prefix}_${calls}_r${round}_a"
        step_sync "$calls" "$round" "${prefix}_${calls}_r${round}_a"
    done
    write_report # after each size, so an interrupted run still leaves the sizes done
done

echo
cat "$OUT/results.md"
echo
log "written: bench/out/results.md, bench/out/runs.csv, logs in bench/out/logs/"
