#!/usr/bin/env bash
# Soak: a writer keeps inserting and updating calls in the SQLite file (as the app would,
# in WAL mode) while `ava sync` runs in a loop; then the writer stops, a last sync runs and
# `ava verify` must pass. Reports the longest sync and the rows per second the writer kept
# up. Not part of CI.
#
# Usage: bench/soak.sh [SECONDS] [CALLS]   (defaults: 120 s on a 10,000-call file)
# Needs: cargo, psql, python3 (its sqlite3 module); BENCH_ADMIN_URL as in bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
calls=${2:-10000}
admin=${BENCH_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
db=ava_soak_$$
url=${admin%/*}/$db
work=$(mktemp -d)
writer_pid=
cleanup() {
    [[ -n $writer_pid ]] && kill "$writer_pid" 2>/dev/null || true
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p ava
ava=target/release/ava
file=$work/ava_database.db
$ava seed --sqlite "$file" --calls "$calls" --seed 7 --end 2026-11-25 >/dev/null
python3 - "$file" <<'PY'
import sqlite3, sys
sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal")
PY
psql "$admin" -qc "CREATE DATABASE $db"
$ava db push --database-url "$url" >/dev/null
$ava migrate --sqlite "$file" --database-url "$url" >/dev/null 2>&1

# The writer: what the voice service does through the app — start a call, log events,
# end it (an update), now and then change an older call — in small transactions.
python3 - "$file" "$work/written" <<'PY' &
import json, random, sqlite3, sys, time, datetime
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("pragma busy_timeout = 30000")
rows = 0
sid = db.execute("select coalesce(max(id), 0) from call_sessions").fetchone()[0]
rnd = random.Random(1)
while True:
    now = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
    with db:
        sid += 1
        db.execute("insert into call_sessions (id, session_id, phone_number, started_at, function_calls_made, escalated) values (?, ?, ?, ?, 0, 0)",
                   (sid, f"soak-{sid}", f"+1999{sid:07d}", now))
        for k in range(3):
            db.execute("insert into call_events (call_session_id, event_type, timestamp, data) values (?, ?, ?, ?)",
                       (sid, "intent_detected", now, json.dumps({"k": k, "t": "caf\u00e9"})))
        db.execute("update call_sessions set ended_at = ?, duration_seconds = ?, outcome = 'info_only' where id = ?",
                   (now, rnd.randint(10, 900), sid))
        old = rnd.randint(1, sid)
        db.execute("update call_sessions set satisfaction_score = ? where id = ?", (rnd.random() * 10, old))
    rows += 6
    with open(sys.argv[2], "w") as f:
        f.write(str(rows))
    time.sleep(0.005)
PY
writer_pid=$!

started=$(date +%s)
longest=0; syncs=0
while (( $(date +%s) - started < secs )); do
    t0=$(date +%s.%N)
    if ! $ava sync --sqlite "$file" --database-url "$url" > "$work/sync.out" 2>&1; then
        echo "sync failed while the writer ran:"; cat "$work/sync.out"; exit 1
    fi
    t=$(echo "$(date +%s.%N) - $t0" | bc)
    syncs=$((syncs + 1))
    if (( $(echo "$t > $longest" | bc) )); then longest=$t; fi
done
kill "$writer_pid"; wait "$writer_pid" 2>/dev/null || true; writer_pid=
written=$(cat "$work/written")
elapsed=$(( $(date +%s) - started ))
$ava sync --sqlite "$file" --database-url "$url" >/dev/null
if $ava verify --sqlite "$file" --database-url "$url" > "$work/verify.out"; then result=passed; else result=FAILED; cat "$work/verify.out"; fi
printf 'soak: %s s, %s syncs while writing, longest %.2f s; writer: %s rows (%.0f rows/s); final verify %s\n' \
    "$elapsed" "$syncs" "$longest" "$written" "$(echo "$written / $elapsed" | bc -l)" "$result"
[[ $result == passed ]]
