#!/usr/bin/env bash
# Cost of pricing on the proxy path: two gateways in one run, identical except that one loads the
# price book (counts every prompt exactly, estimates, settles and writes `cost` into the usage).
# Both proxy the same --instant simulator; wrk alternates between them so drift hits both alike.
# Prints medians of req/s, p50 and gateway CPU per request (utime+stime from /proc), and the
# priced/unpriced ratios.
#
#   bench/pricing.sh                               # defaults below
#   CONNECTIONS="1 64" DURATION=5 REPEATS=5 bench/pricing.sh
#   SAME=1 bench/pricing.sh        # A/A: both gateways unpriced, to see the harness's own spread
#   PIN=1 bench/pricing.sh         # simulator and wrk on CPU 0, both gateways on CPU 1
#
# At one connection an unpinned run is bimodal (p50 about 0.15 or 0.20 ms) depending on where the
# scheduler puts the three processes; PIN=1 fixes the placement so both gateways are compared alike.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-"1 64"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-5}
SIM_PORT=${SIM_PORT:-19001}
PLAIN_PORT=${PLAIN_PORT:-19080}
PRICED_PORT=${PRICED_PORT:-19081}
OUT=${OUT:-/tmp/tollgate-pricing-bench}
mkdir -p "$OUT"

. bench/lib.sh
gateway_config "$PLAIN_PORT" "$SIM_PORT" >"$OUT/plain.yaml"
if [ "${SAME:-0}" = 1 ]; then gateway_config "$PRICED_PORT" "$SIM_PORT" >"$OUT/priced.yaml"
else gateway_config "$PRICED_PORT" "$SIM_PORT" "pricing: {price_book: $PWD/policies/prices.yaml}" >"$OUT/priced.yaml"; fi

if [ "${PIN:-0}" = 1 ]; then on0="taskset -c 0"; on1="taskset -c 1"; else on0=""; on1=""; fi
$on0 "$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads 1 >"$OUT/sim.log" 2>&1 &
pids+=($!)
$on1 "$BIN" serve --config "$OUT/plain.yaml" --log-level warning >"$OUT/plain.log" 2>&1 &
plain_pid=$!; pids+=($plain_pid)
$on1 "$BIN" serve --config "$OUT/priced.yaml" --log-level warning >"$OUT/priced.log" 2>&1 &
priced_pid=$!; pids+=($priced_pid)
wait_ready "$PLAIN_PORT"
wait_ready "$PRICED_PORT"
curl -sf -D - -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}' \
  "http://127.0.0.1:$PRICED_PORT/v1/chat/completions" | grep -qi '^x-tollgate-cost-estimate' \
  || [ "${SAME:-0}" = 1 ] || { echo "the priced gateway sent no cost estimate" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # run PORT PID STREAM CONN -> one JSON line with cpu_us per request added
  local before after line
  before=$(ticks "$2")
  line=$(BENCH_API_KEY=$KEY BENCH_STREAM=$3 $on0 wrk -t1 -c"$4" -d"${DURATION}s" --timeout 10s -s bench/proxy.lua \
    "http://127.0.0.1:$1/v1/chat/completions" | grep '^WRKJSON' | cut -d' ' -f2-)
  after=$(ticks "$2")
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["cpu_us"]=(int(sys.argv[2])*1e6/int(sys.argv[3]))/max(r["requests"],1); print(json.dumps(r))' \
    "$line" "$((after - before))" "$(getconf CLK_TCK)"
}
run "$PLAIN_PORT" "$plain_pid" 0 16 >/dev/null   # warm up both
run "$PRICED_PORT" "$priced_pid" 0 16 >/dev/null

: >"$OUT/results.jsonl"
for stream in 0 1; do
  for c in $CONNECTIONS; do
    for rep in $(seq 1 "$REPEATS"); do
      for path in plain priced; do
        if [ $path = plain ]; then line=$(run "$PLAIN_PORT" "$plain_pid" "$stream" "$c")
        else line=$(run "$PRICED_PORT" "$priced_pid" "$stream" "$c"); fi
        echo "{\"path\":\"$path\",\"stream\":$stream,\"conn\":$c,\"rep\":$rep,\"r\":$line}" >>"$OUT/results.jsonl"
        echo "$path stream=$stream c=$c rep=$rep $line" >&2
      done
    done
  done
done

python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(path, stream, c):
    return sorted((r for r in rows if r["path"] == path and r["stream"] == stream and r["conn"] == c), key=lambda r: r["rep"])
def med(path, stream, c, key):
    return statistics.median(r["r"][key] for r in pick(path, stream, c))
# "paired": each priced run against the unpriced run just before it (median, min..max).
print("| mode | conns | unpriced req/s | priced req/s | ratio | paired ratio | unpriced p50 ms | priced p50 ms | unpriced CPU µs/req | priced CPU µs/req | paired CPU diff µs | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for stream in (0, 1):
    for c in sorted({r["conn"] for r in rows}):
        a, b = med("plain", stream, c, "rps"), med("priced", stream, c, "rps")
        ca, cb = med("plain", stream, c, "cpu_us"), med("priced", stream, c, "cpu_us")
        pairs = list(zip(pick("plain", stream, c), pick("priced", stream, c)))
        ratios = [q["r"]["rps"] / p["r"]["rps"] for p, q in pairs]
        diffs = [q["r"]["cpu_us"] - p["r"]["cpu_us"] for p, q in pairs]
        errors = sum(r["r"]["errors"] for r in rows if r["stream"] == stream and r["conn"] == c)
        print(f"| {'stream' if stream else 'json'} | {c} | {a:,.0f} | {b:,.0f} | {b/a:.1%} | "
              f"{statistics.median(ratios):.1%} ({min(ratios):.0%}-{max(ratios):.0%}) | "
              f"{med('plain', stream, c, 'p50_ms'):.3f} | {med('priced', stream, c, 'p50_ms'):.3f} | "
              f"{ca:.1f} | {cb:.1f} | {statistics.median(diffs):+.1f} ({min(diffs):+.1f}..{max(diffs):+.1f}) | {errors} |")
PY
