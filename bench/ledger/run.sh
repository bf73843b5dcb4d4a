#!/usr/bin/env bash
# Ledger benchmarks on this machine, against a throwaway PostgreSQL 15 with fsync on:
#   1. the usage writer's sustained insert rate (target: >= 20,000 rows/s);
#   2. a monthly report by team over 10 million ledger rows (target: < 2 s), and the
#      count-accuracy report over the same rows, both from their daily rollups.
#
#   bench/ledger/run.sh              # both
#   ROWS=10000000 WRITER_ROWS=300000 bench/ledger/run.sh
#   BEFORE_BENCH=/path/to/older/LedgerBench REPEATS=5 bench/ledger/run.sh
#       # the writer only: this build and an older one in turn, each on a fresh database;
#       # medians and their ratio (to check that a change to the write statement costs nothing)
#
# The 10M rows are generated in SQL (INSERT ... SELECT generate_series) and the daily rollup is
# rebuilt from them with the same GROUP BY the writer uses, so the report reads what the writer
# would have maintained. Takes a few minutes and about 4 GB of disk. Stops its cluster at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export TOLLGATE_PG_DIR="${TOLLGATE_PG_DIR:-/tmp/tollgate-bench-pg}"
export TOLLGATE_PG_PORT="${TOLLGATE_PG_PORT:-55434}"
export TOLLGATE_PG_OPTIONS="-c fsync=on -c shared_buffers=512MB -c max_wal_size=4GB"
rows="${ROWS:-10000000}"
writer_rows="${WRITER_ROWS:-200000}"

url="$(scripts/pg-test-cluster.sh start)"
trap 'scripts/pg-test-cluster.sh stop' EXIT
base="${url%/*}"
psql_as() { psql "$base/$1" -v ON_ERROR_STOP=1 -qAt "${@:2}"; }

swift build -c release --scratch-path .build-ledger --product LedgerBench >/dev/null
bench="$(swift build -c release --scratch-path .build-ledger --show-bin-path)/LedgerBench"

if [ -n "${BEFORE_BENCH:-}" ]; then
    echo "== usage writer, this build against $BEFORE_BENCH: $writer_rows rows, ${REPEATS:-5} turns each"
    for turn in $(seq "${REPEATS:-5}"); do
        for side in before after; do
            binary="$bench"; [ "$side" = before ] && binary="$BEFORE_BENCH"
            psql_as postgres -c "DROP DATABASE IF EXISTS tollgate_bench_$side" -c "CREATE DATABASE tollgate_bench_$side"
            "$binary" writer "$base/tollgate_bench_$side" "$writer_rows" | sed "s/^/$side /"
        done
    done | tee /dev/stderr | python3 -c '
import re, statistics, sys
rates = {"before": [], "after": []}
for line in sys.stdin:
    side, rate = line.split()[0], re.search(r"= (\d+) rows/s", line)
    if rate: rates[side].append(int(rate.group(1)))
before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
print(f"median rows/s: before {before:,.0f}, this build {after:,.0f}, ratio {after / before:.1%}")'
    exit 0
fi

echo "== usage writer: $writer_rows rows"
psql_as postgres -c "DROP DATABASE IF EXISTS tollgate_bench_writer" -c "CREATE DATABASE tollgate_bench_writer"
"$bench" writer "$base/tollgate_bench_writer" "$writer_rows"

echo "== report over $rows rows (one month, 50 teams)"
psql_as postgres -c "DROP DATABASE IF EXISTS tollgate_bench_report" -c "CREATE DATABASE tollgate_bench_report"
"$bench" partitions "$base/tollgate_bench_report" 2026-10-01 31
start=$(date +%s)
psql_as tollgate_bench_report <<SQL
INSERT INTO teams (name) SELECT 'team-' || g FROM generate_series(1, 50) g;
INSERT INTO usage_events (request_id, started_at, finished_at, team_id, key_id, requested_model, target,
    prompt_tokens_estimated, prompt_count_exact, prompt_tokens, cache_hit_tokens, completion_tokens, reasoning_tokens,
    cost_nanos, currency, price_book_version, list_cost_nanos, latency_ms, status_code, stream,
    client_disconnected, usage_estimated)
SELECT 'gen-' || g,
       timestamptz '2026-10-01 00:00:00+00' + (g % 2678400) * interval '1 second',
       timestamptz '2026-10-01 00:00:01+00' + (g % 2678400) * interval '1 second',
       1 + g % 50, 1 + g % 500,
       CASE WHEN g % 3 = 0 THEN 'deepseek-v4-pro' ELSE 'deepseek-v4-flash' END,
       CASE WHEN g % 4 = 0 THEN 'deepseek-api' ELSE 'local' END,
       800, g % 10 <> 0, 800 + g % 7, g % 128, 200 + g % 50, 0,
       100000 + g % 9973, 'USD', 'bench', 300000 + g % 7919, 900, CASE WHEN g % 97 = 0 THEN 502 ELSE 200 END,
       true, false, false
FROM generate_series(1, $rows) g;
INSERT INTO usage_daily (day, team_id, requested_model, target, currency, requests, errors, prompt_tokens,
    cache_hit_tokens, completion_tokens, reasoning_tokens, cost_nanos, list_cost_nanos)
SELECT (started_at AT TIME ZONE 'UTC')::date, team_id, requested_model, target, currency, count(*),
       count(*) FILTER (WHERE status_code >= 400), sum(prompt_tokens), sum(cache_hit_tokens),
       sum(completion_tokens), sum(reasoning_tokens), sum(cost_nanos), sum(list_cost_nanos)
FROM usage_events GROUP BY 1, 2, 3, 4, 5;
SQL
echo "generated $rows rows in $(( $(date +%s) - start )) s"
# The count-accuracy rollup, filled from the raw rows by migration 0004's own statement (the work
# the report did on every call before the rollup existed).
start=$(date +%s%N)
sed -n '/^INSERT INTO count_accuracy_daily/,/;$/p' migrations/0004_count_accuracy_daily.sql | psql_as tollgate_bench_report
echo "count-accuracy rollup from the raw rows: $(( ($(date +%s%N) - start) / 1000000 )) ms"
psql_as tollgate_bench_report -c "ANALYZE"
"$bench" report "$base/tollgate_bench_report" 2026-10-01 2026-10-31
echo "== for comparison, the same totals straight from the ledger rows:"
psql "$base/tollgate_bench_report" -qAt -c '\timing on' -c \
    "SELECT count(*), sum(cost_nanos) FROM usage_events WHERE started_at >= '2026-10-01' AND started_at < '2026-11-01'" \
    | tail -n 2
