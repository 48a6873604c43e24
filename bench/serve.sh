#!/usr/bin/env bash
# bench/serve.sh — how fast does `ava serve` answer the dashboard's reads?
#
# On a seeded 100,000-call file, migrated into a fresh Postgres database, it starts
# `ava serve` on Postgres and on the SQLite file and drives the dashboard's reads with wrk
# from loopback: the overview, the first and the 37th page of calls, a calls search, a
# call detail, the analytics (peak hours, outcomes, an hourly week, services: in Los
# Angeles' hours), the customers list (by name, by last call, searched), and `/health`
# (one `SELECT 1`: what any request costs here, the floor); and, without the cache, the
# CSV export of every call (its time, size and the server's heap while it streams).
# Each at 32 connections for --seconds, with the response cache on (the default, 1 s) and
# off; then every route at 256 connections, counting errors. Results:
# bench/out/serve-CALLS.md; a run at more calls is compared with the 100,000-call run
# found there.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/serve.sh [--calls N] [--seconds S]

Measures requests/s and p50/p99 latency of `ava serve` for the overview, the first and the
37th calls page, a calls search, a call detail, the analytics routes, the customers list
and /health, and the time and memory of the calls' CSV export, on
Postgres and on SQLite, with
the response cache on and off, with wrk on loopback; checks issue 13's targets (without the
cache) and, for a run at more than 100,000 calls, how much slower each route is than in the
100,000-call run (bench/out/serve-100000.tsv).

Options:
  --calls N     calls in the seeded file              [default: 100000]
  --seconds S   seconds per measurement               [default: 10]
  -h, --help    this text

Environment:
  BENCH_ADMIN_URL   a Postgres URL whose user may create and drop databases
                    [default: postgresql://postgres@127.0.0.1:5432/postgres]

Needs: cargo, psql, sqlite3, wrk (Debian: apt-get install wrk). The seeded file is cached
in bench/out/data/ (shared with bench/run.sh). Takes about 6 minutes with the defaults;
--calls 1000000 seeds a 2.4 GB file first (about 2 minutes) and migrates it (about 1).
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/bench/out"
DATA="$OUT/data"
ADMIN=${BENCH_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
CALLS=100000
SECONDS_EACH=10
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

while (($#)); do
    case $1 in
        --calls) CALLS=$2; shift 2 ;;
        --seconds) SECONDS_EACH=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'bench/serve.sh: %s\n' "$*" >&2; exit 1; }
for tool in cargo psql sqlite3 wrk curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (wrk: apt-get install wrk)"
done

DB="ava_bench_serve_$$"
base=${ADMIN%%\?*}
URL="${base%/*}/$DB"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "${PSQL[@]}" "$ADMIN" -c "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log "building ava (cargo build --release -p ava)"
(cd "$ROOT" && cargo build --release -q -p ava) || die "the build failed"
cp "$ROOT/target/release/ava" "$WORK/ava"
AVA="$WORK/ava"

mkdir -p "$DATA"
FILE="$DATA/calls-$CALLS.db"
if [[ ! -f $FILE ]]; then
    log "seeding $FILE"
    "$AVA" seed --sqlite "$FILE.tmp" --calls "$CALLS" --seed 1 --end 2026-11-25 >/dev/null
    mv "$FILE.tmp" "$FILE"
fi
# The SQLite server writes to its file (WAL mode, ava's indexes): give it a copy.
cp "$FILE" "$WORK/serve.db"

log "migrating into $DB"
"${PSQL[@]}" "$ADMIN" -c "create database $DB"
"$AVA" db push --database-url "$URL" >/dev/null
"$AVA" migrate --sqlite "$FILE" --database-url "$URL" >/dev/null 2>&1 || die "ava migrate failed"
# What autovacuum would do after a bulk load, done now so no measurement meets it.
"${PSQL[@]}" "$URL" -c "vacuum analyze"
"${PSQL[@]}" "$ADMIN" -c checkpoint >/dev/null 2>&1 || true

# urlencode TEXT: percent-encodes every byte but unreserved ASCII.
urlencode() {
    local LC_ALL=C text=$1 i c out=""
    for ((i = 0; i < ${#text}; i++)); do
        c=${text:i:1}
        case $c in
            [a-zA-Z0-9.~_-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# The requests: a fragment of a real customer's last name, a real call.
NAME=$(urlencode "$(sqlite3 -readonly "$FILE" "select lower(substr(name, instr(name, ' ') + 1, 4)) from customers where id = 4242")")
CALL=$(sqlite3 -readonly "$FILE" "select id from call_sessions order by started_at desc limit 1 offset 500")
declare -A PATHS=(
    [overview]="/api/admin/metrics/overview?period=month"
    [calls_page]="/api/admin/calls?page=1&page_size=50"
    [calls_page_37]="/api/admin/calls?page=37&page_size=50&sort_by=started_at&sort_order=desc"
    [calls_search]="/api/admin/calls?page=1&page_size=50&search=$NAME"
    [call_detail]="/api/admin/calls/$CALL"
    [peak_hours]="/api/admin/analytics/peak-hours?period=month&tz=America/Los_Angeles"
    [outcomes]="/api/admin/analytics/outcome-distribution?period=month&tz=America/Los_Angeles"
    [timeseries]="/api/admin/analytics/timeseries?period=week&interval=hour&tz=America/Los_Angeles"
    [services]="/api/admin/analytics/services?period=month&tz=America/Los_Angeles"
    [customers]="/api/admin/customers?page=1&page_size=50"
    [customers_last_call]="/api/admin/customers?page=1&page_size=50&sort_by=last_call&sort_order=desc"
    [customers_search]="/api/admin/customers?page=1&page_size=50&search=$NAME&sort_by=created_at&sort_order=desc"
    [health]="/health"
)
ORDER=(overview calls_page calls_page_37 calls_search call_detail peak_hours outcomes timeseries services
    customers customers_last_call customers_search health)
# The CSV export of every call: not a load test (each answer is the whole table), but
# how long one takes, how big it is, and how far the server's heap (anonymous resident
# memory) rises while it streams.
EXPORT="/api/admin/calls/export.csv"
# Issue 13's targets: p99 in ms at 32 connections without the cache, on Postgres (SQLite:
# within 2 × of these; at more calls: within 3 × of the 100,000-call run).
declare -A TARGET=([overview]=5 [calls_page]=10 [calls_page_37]=10 [calls_search]=25 [call_detail]=5)

# start STORE CACHE_MS PORT: ava serve in the background; waits until /health answers.
start() {
    local store=$1 cache=$2 port=$3 args=()
    if [[ $store == postgres ]]; then args=(--database-url "$URL"); else args=(--sqlite "$WORK/serve.db"); fi
    RUST_LOG=warn "$AVA" serve "${args[@]}" --insecure-open --addr "127.0.0.1:$port" --cache-ttl-ms "$cache" \
        --connections 16 >"$WORK/serve-$store-$cache.log" 2>&1 &
    PIDS+=($!)
    # On a file it has not served before, `ava serve` first adds its indexes to it (about
    # 20 s at 1,000,000 calls): up to 3 minutes.
    for _ in $(seq 1800); do
        if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            # Warm up (connections, caches, the planner) before anything is measured.
            local name
            for name in "${ORDER[@]}"; do
                wrk -t2 -c32 -d2s "http://127.0.0.1:$port${PATHS[$name]}" >/dev/null
            done
            return 0
        fi
        sleep 0.1
    done
    die "ava serve ($store) did not start; see $WORK/serve-$store-$cache.log"
}

# measure PORT PATH CONNECTIONS: prints "req/s p50_ms p99_ms errors".
measure() {
    local out
    out=$(wrk -t2 -c"$3" -d"${SECONDS_EACH}s" --latency --timeout 10s "http://127.0.0.1:$1$2")
    awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx or 3xx responses:/ { errors += $5 }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        function ms(v) {
            if (v ~ /us$/) return sprintf("%.2f", v / 1000)
            if (v ~ /ms$/) return sprintf("%.2f", v + 0)
            if (v ~ /s$/) return sprintf("%.2f", v * 1000)
            return v
        }
        END { printf "%.0f %s %s %d\n", rps, ms(p50), ms(p99), errors + 0 }' <<<"$out"
}

RESULTS="$WORK/results"
: >"$RESULTS"
port=18300
for store in postgres sqlite; do
    for cache in 1000 0; do
        port=$((port + 1))
        start "$store" "$cache" "$port"
        for name in "${ORDER[@]}"; do
            read -r rps p50 p99 errors < <(measure "$port" "${PATHS[$name]}" 32)
            log "$store cache=${cache}ms $name: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errors"
            echo "$store $cache $name 32 $rps $p50 $p99 $errors" >>"$RESULTS"
        done
        if [[ $cache == 0 ]]; then
            # The server's anonymous memory (its heap: not the file pages SQLite maps,
            # which the kernel may drop at will) before, and its most while three exports
            # in a row stream, sampled every 20 ms.
            anon() { awk '$1 == "RssAnon:" { print $2 }' "/proc/${PIDS[-1]}/status"; }
            before=$(anon)
            (for _ in 1 2 3; do
                curl -fs -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port$EXPORT"
            done) >"$WORK/export-run" &
            fetch=$!
            most=$before
            while kill -0 "$fetch" 2>/dev/null; do
                now=$(anon)
                ((now > most)) && most=$now
                sleep 0.02
            done
            read -r seconds bytes < <(tail -1 "$WORK/export-run")
            log "$store export: $bytes bytes in $seconds s; server heap $before kB before, at most $most kB"
            echo "$store $seconds $bytes $before $most" >>"$WORK/export"
        fi
        if [[ $cache != 0 ]]; then
            for name in "${ORDER[@]}"; do
                read -r rps p50 p99 errors < <(measure "$port" "${PATHS[$name]}" 256)
                log "$store cache=${cache}ms $name at 256 connections: $rps req/s, p99 $p99 ms, errors $errors"
                echo "$store $cache $name 256 $rps $p50 $p99 $errors" >>"$RESULTS"
            done
        fi
        kill "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null || true
    done
done

{
    echo "# ava serve benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) cores · $(psql --version | awk '{print "PostgreSQL " $3}') ·" \
        "$CALLS calls · wrk -t2 -d${SECONDS_EACH}s from loopback · \`bench/serve.sh --calls $CALLS --seconds $SECONDS_EACH\`"
    echo
    echo "Requests:"
    for name in "${ORDER[@]}"; do echo "- $name: \`${PATHS[$name]}\`"; done
    echo
    echo "| store | cache | route | connections | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---|---|---|---|---|---|---|"
    while read -r store cache name conns rps p50 p99 errors; do
        echo "| $store | $([[ $cache == 0 ]] && echo off || echo "${cache} ms") | $name | $conns | $rps | $p50 | $p99 | $errors |"
    done <"$RESULTS"
    echo
    echo "## Targets (issue 13: without the cache, 32 connections; errors at 256)"
    echo
    verdict() { awk "BEGIN { exit !($1) }" && echo pass || echo FAIL; }
    pick() { awk -v s="$1" -v c="$2" -v n="$3" -v k="$4" -v f="$5" '$1 == s && $2 == c && $3 == n && $4 == k { print $f }' "${6:-$RESULTS}"; }
    echo "/health (one \`SELECT 1\`, no JSON to speak of) is the floor on this machine: p99 $(pick postgres 0 health 32 7) ms at $(pick postgres 0 health 32 5) req/s on Postgres."
    echo
    for name in overview calls_page calls_page_37 calls_search call_detail; do
        limit=${TARGET[$name]}
        pg=$(pick postgres 0 "$name" 32 7) lite=$(pick sqlite 0 "$name" 32 7)
        echo "- $name: Postgres p99 $pg ms < $limit ms — $(verdict "$pg < $limit"); SQLite p99 $lite ms < $((2 * limit)) ms — $(verdict "$lite < 2 * $limit")"
        if ((CALLS > 100000)) && [[ -f $OUT/serve-100000.tsv ]]; then
            base=$(pick postgres 0 "$name" 32 7 "$OUT/serve-100000.tsv")
            [[ -z $base ]] || echo "  - at $CALLS calls against 100,000: Postgres p99 $pg / $base ms = $(awk -v a="$pg" -v b="$base" 'BEGIN { printf "%.2f", a / b }') × ≤ 3 — $(verdict "$pg <= 3 * $base")"
        fi
    done
    errors=$(awk '$4 == 256 { e += $8 } END { print e + 0 }' "$RESULTS")
    echo
    echo "## The CSV export (\`$EXPORT\`, every call; the third of three in a row)"
    echo
    echo "| store | seconds | bytes | server heap before, kB | at most during, kB |"
    echo "|---|---|---|---|---|"
    while read -r store seconds bytes before peak; do
        echo "| $store | $seconds | $bytes | $before | $peak |"
    done <"$WORK/export"
    echo
    echo "- no errors at 256 connections (both stores, every route): $errors — $(verdict "$errors == 0")"
} >"$OUT/serve-$CALLS.md"
cp "$RESULTS" "$OUT/serve-$CALLS.tsv"
cat "$OUT/serve-$CALLS.md"
