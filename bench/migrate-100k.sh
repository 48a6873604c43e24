#!/usr/bin/env bash
# Times `ava db push` + `ava migrate` and `ava verify` on a seeded file, with peak memory
# (GNU time's maximum resident set size). Usage: bench/migrate-100k.sh [CALLS]
# Needs a Postgres that lets this user create databases: BENCH_ADMIN_URL, default the
# local server. The numbers go into the README's "Performance" section.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-100000}
admin=${BENCH_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
db=ava_bench_$$
url=${admin%/*}/$db
work=$(mktemp -d)
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release -q -p ava
ava=target/release/ava
timed() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }; read -r secs kb <"$work/time"; }

$ava seed --sqlite "$work/ava_database.db" --calls "$calls" --seed 1 --end 2026-11-25
rows=$(sqlite3 "$work/ava_database.db" "select (select count(*) from customers)+(select count(*) from appointments)+(select count(*) from call_sessions)+(select count(*) from call_events)+(select count(*) from daily_metrics)")
mb=$(( $(stat -c %s "$work/ava_database.db") / 1048576 ))
psql "$admin" -qc "CREATE DATABASE $db"

timed $ava db push --database-url "$url"; push=$secs
timed $ava migrate --sqlite "$work/ava_database.db" --database-url "$url"; migrate=$secs; migrate_kb=$kb
timed $ava verify --sqlite "$work/ava_database.db" --database-url "$url"; verify=$secs; verify_kb=$kb

printf '\n%s calls, %s rows, %s MB SQLite file (%s cores)\n' "$calls" "$rows" "$mb" "$(nproc)"
printf '| step | seconds | rows/s | peak memory |\n|---|---|---|---|\n'
printf '| db push + migrate | %.2f | %.0f | %d MB |\n' "$(echo "$push + $migrate" | bc)" "$(echo "$rows / ($push + $migrate)" | bc -l)" $((migrate_kb / 1024))
printf '| verify | %.2f | %.0f | %d MB |\n' "$verify" "$(echo "$rows / $verify" | bc -l)" $((verify_kb / 1024))
