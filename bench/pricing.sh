#!/usr/bin/env bash
# Cost of pricing on the proxy path. Three gateways in one run on the same --instant simulator:
# "plain" and "control" are identical and unpriced, "priced" loads the price book (counts every
# prompt exactly, estimates, settles and writes `cost` into the usage). wrk drives them in turn,
# in all six orders, so drift and position hit all three alike. The control is the run's own
# noise floor: control/plain shows what two identical gateways differ by.
# Prints medians of req/s, p50 and gateway CPU per request (utime+stime from /proc) and, paired
# within each repetition, control against plain (the A/A) and priced against the mean of the two
# unpriced gateways (the A/B): the median with its distribution-free 95% interval. Many short repetitions (the default)
# make the medians robust to the box's bursts of outside load.
#
#   bench/pricing.sh                               # defaults below
#   CONNECTIONS="1 16 64 256" DURATION=2 REPEATS=9 bench/pricing.sh
#   PIN=1 bench/pricing.sh         # simulator and wrk on CPU 0, the gateways on CPU 1
#   BEFORE_BIN=/tmp/tollgate-old PIN=1 bench/pricing.sh   # and a fourth gateway, "before": priced,
#                                  # from another build; adds priced − before, paired in the same run
#                                  # (BEFORE_ENV="NAME=value ..." sets its environment)
#   CONTROL_BIN=/tmp/tollgate-old bench/pricing.sh   # the control gateway from another build:
#                                  # control − plain compares two unpriced builds (no A/A floor then)
#   CONTROL_BIN=/tmp/other BEFORE_BIN=/tmp/other bench/pricing.sh   # both: also pricing's cost
#                                  # within each build (priced − plain against before − control)
#
# At one connection an unpinned run is bimodal (p50 about 0.15 or 0.20 ms) depending on where the
# scheduler puts the processes; PIN=1 fixes the placement so the gateways are compared alike.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-"1 64"}
STREAMS=${STREAMS:-"0 1"}   # 0: json answers, 1: streams
DURATION=${DURATION:-2}
REPEATS=${REPEATS:-15}
SIM_PORT=${SIM_PORT:-19001}
PLAIN_PORT=${PLAIN_PORT:-19080}
PRICED_PORT=${PRICED_PORT:-19081}
CONTROL_PORT=${CONTROL_PORT:-19082}
BEFORE_PORT=${BEFORE_PORT:-19083}
OUT=${OUT:-/tmp/tollgate-pricing-bench}
mkdir -p "$OUT"

. bench/lib.sh
gateway_config "$PLAIN_PORT" "$SIM_PORT" >"$OUT/plain.yaml"
gateway_config "$CONTROL_PORT" "$SIM_PORT" >"$OUT/control.yaml"
gateway_config "$PRICED_PORT" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"

declare -A port pid
port=([plain]=$PLAIN_PORT [control]=$CONTROL_PORT [priced]=$PRICED_PORT)
paths=(plain control priced)
# Another build as the control: control − plain then compares two unpriced builds (no A/A floor).
if [ -n "${CONTROL_BIN:-}" ]; then gateway_bin[control]=$CONTROL_BIN; fi
if [ -n "${BEFORE_BIN:-}" ]; then
  gateway_config "$BEFORE_PORT" "$SIM_PORT" "$PRICING" >"$OUT/before.yaml"
  port[before]=$BEFORE_PORT; gateway_bin[before]=$BEFORE_BIN; paths+=(before)
  gateway_env[before]=${BEFORE_ENV:-}
fi
start_stack "${paths[@]}"
curl -sf -D - -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}' \
  "http://127.0.0.1:$PRICED_PORT/v1/chat/completions" | grep -qi '^x-tollgate-cost-estimate' \
  || { echo "the priced gateway sent no cost estimate" >&2; exit 1; }

run() {  # run PATH STREAM CONN -> one JSON line with cpu_us per request added
  BENCH_STREAM=$2 measure "${pid[$1]}" "${port[$1]}" "$3" bench/proxy.lua
}
for path in "${paths[@]}"; do run $path 0 16 >/dev/null; done   # warm up

: >"$OUT/results.jsonl"
for stream in $STREAMS; do
  for c in $CONNECTIONS; do
    for rep in $(seq 1 "$REPEATS"); do
      for path in $(balanced_order "$rep" "${paths[@]}"); do
        line=$(run "$path" "$stream" "$c")
        echo "{\"path\":\"$path\",\"stream\":$stream,\"conn\":$c,\"rep\":$rep,\"r\":$line}" >>"$OUT/results.jsonl"
        echo "$path stream=$stream c=$c rep=$rep $line" >&2
      done
    done
  done
done

PYTHONPATH=bench python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
from paired import show
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(path, stream, c):
    return sorted((r for r in rows if r["path"] == path and r["stream"] == stream and r["conn"] == c), key=lambda r: r["rep"])
def med(path, stream, c, key):
    return statistics.median(r["r"][key] for r in pick(path, stream, c))
pct = lambda v: f"{v:.1%}"
us = lambda v: f"{v:+.1f}"
points = [(stream, c) for stream in sorted({r["stream"] for r in rows}) for c in sorted({r["conn"] for r in rows})]
print("Paired within each repetition: control against plain (A/A), priced against the mean of plain and control (A/B);")
print("median [95% interval of the median].")
print()
print("| mode | conns | unpriced req/s | priced req/s | control/plain | priced/unpriced | unpriced p50 ms | priced p50 ms | unpriced CPU µs/req | control - plain CPU µs | priced - unpriced CPU µs | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for stream, c in points:
    plain, control, priced = pick("plain", stream, c), pick("control", stream, c), pick("priced", stream, c)
    both = lambda key: [(p["r"][key] + q["r"][key]) / 2 for p, q in zip(plain, control)]
    aa_ratio = [q["r"]["rps"] / p["r"]["rps"] for p, q in zip(plain, control)]
    aa_cpu = [q["r"]["cpu_us"] - p["r"]["cpu_us"] for p, q in zip(plain, control)]
    ab_ratio = [x["r"]["rps"] / u for u, x in zip(both("rps"), priced)]
    ab_cpu = [x["r"]["cpu_us"] - u for u, x in zip(both("cpu_us"), priced)]
    errors = sum(r["r"]["errors"] for r in rows if r["stream"] == stream and r["conn"] == c)
    print(f"| {'stream' if stream else 'json'} | {c} | {statistics.median(both('rps')):,.0f} | {med('priced', stream, c, 'rps'):,.0f} | "
          f"{show(aa_ratio, pct)} | {show(ab_ratio, pct)} | "
          f"{statistics.median(both('p50_ms')):.3f} | {med('priced', stream, c, 'p50_ms'):.3f} | "
          f"{statistics.median(both('cpu_us')):.1f} | {show(aa_cpu, us)} | {show(ab_cpu, us)} | {errors} |")
if any(r["path"] == "before" for r in rows):
    print()
    print("The same run, priced against the earlier build (before), paired within each repetition:")
    print()
    print("| mode | conns | before CPU µs/req | priced - before CPU µs | priced/before req/s |")
    print("|---|---|---|---|---|")
    for stream, c in points:
        before, priced = pick("before", stream, c), pick("priced", stream, c)
        cpu = [x["r"]["cpu_us"] - b["r"]["cpu_us"] for b, x in zip(before, priced)]
        rps = [x["r"]["rps"] / b["r"]["rps"] for b, x in zip(before, priced)]
        print(f"| {'stream' if stream else 'json'} | {c} | {med('before', stream, c, 'cpu_us'):.1f} | {show(cpu, us)} | {show(rps, pct)} |")
PY
if [ -n "${CONTROL_BIN:-}" ] && [ "${CONTROL_BIN}" = "${BEFORE_BIN:-}" ]; then
  echo
  echo "Two builds in one run: this one (plain, priced) and CONTROL_BIN (control, before), paired within each repetition:"
  echo
  python3 bench/two-builds.py "$OUT/results.jsonl"
fi
