#!/usr/bin/env bash
# Proxy overhead: the same wrk load (a) straight to an --instant engine simulator and (b) through
# Tollgate to that simulator, in one run, at several connection counts, streaming and not.
# Prints a Markdown table of medians over REPEATS runs and the gateway/direct ratios. The paths
# take turns in bench/lib.sh's balanced order (fully balanced when REPEATS is a multiple of twice
# the number of paths).
#
#   bench/proxy.sh                                  # defaults below
#   CONNECTIONS="1 64" DURATION=5 REPEATS=3 bench/proxy.sh
#   PRICED=1 bench/proxy.sh     # also a gateway with the price book: pricing's cost on this benchmark
#
# Loopback only; every run is bounded by DURATION; every process started here is stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-"1 16 64 256"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
SIM_PORT=${SIM_PORT:-19001}
# One event-loop thread for the simulator, like one vLLM API-server process; the same engine
# serves both paths. SIM_THREADS=2 gives it both cores (it then serves ~70k req/s alone).
SIM_THREADS=${SIM_THREADS:-1}
GW_PORT=${GW_PORT:-19080}
PRICED=${PRICED:-0}
PRICED_PORT=${PRICED_PORT:-19081}
PATHS="direct tollgate"
if [ "$PRICED" = 1 ]; then PATHS="direct tollgate priced"; fi
OUT=${OUT:-/tmp/tollgate-proxy-bench}
mkdir -p "$OUT"

. bench/lib.sh
gateway_config "$GW_PORT" "$SIM_PORT" >"$OUT/tollgate.yaml"
"$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads "$SIM_THREADS" >"$OUT/sim.log" 2>&1 &
pids+=($!)
"$BIN" serve --config "$OUT/tollgate.yaml" --log-level warning >"$OUT/gateway.log" 2>&1 &
pids+=($!)
wait_ready "$GW_PORT"
if [ "$PRICED" = 1 ]; then
  gateway_config "$PRICED_PORT" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"
  "$BIN" serve --config "$OUT/priced.yaml" --log-level warning >"$OUT/priced.log" 2>&1 &
  pids+=($!)
  wait_ready "$PRICED_PORT"
fi

run() {  # run URL KEY STREAM CONN -> one JSON line
  BENCH_API_KEY=$2 BENCH_STREAM=$3 wrk -t1 -c"$4" -d"${DURATION}s" --timeout 10s -s bench/proxy.lua "$1/v1/chat/completions" \
    | grep '^WRKJSON' | cut -d' ' -f2-
}
declare -A url=([direct]="http://127.0.0.1:$SIM_PORT" [tollgate]="http://127.0.0.1:$GW_PORT"
                [priced]="http://127.0.0.1:$PRICED_PORT")
declare -A key=([direct]="" [tollgate]=$KEY [priced]=$KEY)
# warm up every path
for path in $PATHS; do run "${url[$path]}" "${key[$path]}" 0 16 >/dev/null; done

: >"$OUT/results.jsonl"
for stream in 0 1; do
  for c in $CONNECTIONS; do
    for rep in $(seq 1 "$REPEATS"); do
      for path in $(balanced_order "$rep" $PATHS); do
        line=$(run "${url[$path]}" "${key[$path]}" "$stream" "$c")
        echo "{\"path\":\"$path\",\"stream\":$stream,\"conn\":$c,\"rep\":$rep,\"r\":$line}" >>"$OUT/results.jsonl"
        echo "$path stream=$stream c=$c rep=$rep $line" >&2
      done
    done
  done
done

python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def values(path, stream, c, key):
    return [r["r"][key] for r in rows if r["path"] == path and r["stream"] == stream and r["conn"] == c]
def med(path, stream, c, key):
    return statistics.median(values(path, stream, c, key))
print("| mode | conns | direct req/s | tollgate req/s | ratio | direct p50 ms | tollgate p50 ms | added p50 ms | direct p99 ms | tollgate p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for stream in (0, 1):
    for c in sorted({r["conn"] for r in rows}):
        d, t = med("direct", stream, c, "rps"), med("tollgate", stream, c, "rps")
        dp, tp = med("direct", stream, c, "p50_ms"), med("tollgate", stream, c, "p50_ms")
        errors = sum(r["r"]["errors"] for r in rows if r["stream"] == stream and r["conn"] == c)
        print(f"| {'stream' if stream else 'json'} | {c} | {d:,.0f} | {t:,.0f} | {t/d:.0%} | {dp:.3f} | {tp:.3f} | {tp-dp:+.3f} | "
              f"{med('direct', stream, c, 'p99_ms'):.3f} | {med('tollgate', stream, c, 'p99_ms'):.3f} | {errors} |")
if any(r["path"] == "priced" for r in rows):
    # Pricing on this benchmark: the priced gateway against the unpriced one, with the spread of
    # the unpriced gateway's own repetitions as the benchmark's resolution.
    def spread(path, stream, c, key):
        return min(values(path, stream, c, key)), max(values(path, stream, c, key))
    print()
    print("| mode | conns | tollgate req/s (min-max) | priced req/s (min-max) | priced/tollgate per repetition, median (min-max) | tollgate p50 ms | priced p50 ms | added by pricing p50 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for stream in (0, 1):
        for c in sorted({r["conn"] for r in rows}):
            t, p = med("tollgate", stream, c, "rps"), med("priced", stream, c, "rps")
            (tl, th), (pl, ph) = spread("tollgate", stream, c, "rps"), spread("priced", stream, c, "rps")
            # values() lists each path's repetitions in run order, so zip pairs them by repetition.
            ratios = [p / t for t, p in zip(values("tollgate", stream, c, "rps"), values("priced", stream, c, "rps"))]
            tp, pp = med("tollgate", stream, c, "p50_ms"), med("priced", stream, c, "p50_ms")
            print(f"| {'stream' if stream else 'json'} | {c} | {t:,.0f} ({tl:,.0f}-{th:,.0f}) | {p:,.0f} ({pl:,.0f}-{ph:,.0f}) | "
                  f"{statistics.median(ratios):.1%} ({min(ratios):.1%}-{max(ratios):.1%}) | {tp:.3f} | {pp:.3f} | {pp-tp:+.3f} |")
PY
