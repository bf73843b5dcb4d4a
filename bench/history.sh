#!/usr/bin/env bash
# What the table of repeated texts (`pricing.repeated_text_slots`) saves on chat traffic whose
# requests carry the whole history (bench/history.lua: 5-26 KB bodies, each with one new turn).
# Three gateways in one run on the same --instant simulator, driven by wrk in balanced orders:
# "plain" (unpriced), "untabled" (priced, table off: every prompt tokenized whole) and "priced"
# (priced, the table on, as shipped). Prints medians and, paired within each repetition, what
# pricing costs without and with the table and the table's own effect, each with its 95% interval.
#
#   bench/history.sh                               # defaults below
#   CONNECTIONS="1 16" DURATION=2 REPEATS=9 PIN=1 bench/history.sh
#   TOOLS=1 bench/history.sh       # each request with two tool schemas (still the plain shortcut)
#   TOOLS=2 bench/history.sh       # schemas, and tool calls and results in the history (the shortcut too)
#   TEXT=zh bench/history.sh       # the texts in Chinese words only (default: mixed, mostly English)
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-"1 16"}
DURATION=${DURATION:-2}
REPEATS=${REPEATS:-9}
SIM_PORT=${SIM_PORT:-19401}
OUT=${OUT:-/tmp/tollgate-history-bench}
export BENCH_TOOLS=${TOOLS:-0}
export BENCH_TEXT=${TEXT:-mixed}
mkdir -p "$OUT"

. bench/lib.sh
declare -A port pid
port=([plain]=19480 [untabled]=19481 [priced]=19482)  # 194xx: each script has its own ports
gateway_config "${port[plain]}" "$SIM_PORT" >"$OUT/plain.yaml"
gateway_config "${port[untabled]}" "$SIM_PORT" "pricing: {price_book: $PWD/policies/prices.yaml, repeated_text_slots: 0}" >"$OUT/untabled.yaml"
gateway_config "${port[priced]}" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"

start_stack plain untabled priced

for path in plain untabled priced; do measure "${pid[$path]}" "${port[$path]}" 4 bench/history.lua >/dev/null; done  # warm up

: >"$OUT/results.jsonl"
for c in $CONNECTIONS; do
  for rep in $(seq 1 "$REPEATS"); do
    for path in $(balanced_order "$rep" plain untabled priced); do
      line=$(measure "${pid[$path]}" "${port[$path]}" "$c" bench/history.lua)
      echo "{\"path\":\"$path\",\"conn\":$c,\"rep\":$rep,\"r\":$line}" >>"$OUT/results.jsonl"
      echo "$path c=$c rep=$rep $line" >&2
    done
  done
done

PYTHONPATH=bench python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
from paired import show
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(path, c):
    return [r["r"] for r in sorted((r for r in rows if r["path"] == path and r["conn"] == c), key=lambda r: r["rep"])]
us = lambda v: f"{v:+.1f}"
pct = lambda v: f"{v:.1%}"
print("Gateway CPU µs per request and req/s, medians; differences and ratios paired within each repetition,")
print("median [95% interval of the median].")
print()
print("| conns | plain req/s | untabled req/s | priced req/s | plain CPU µs | untabled − plain | priced − plain | priced − untabled | priced/untabled req/s | errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in sorted({r["conn"] for r in rows}):
    plain, untabled, priced = pick("plain", c), pick("untabled", c), pick("priced", c)
    diff = lambda a, b: [x["cpu_us"] - y["cpu_us"] for x, y in zip(a, b)]
    errors = sum(r["errors"] for r in plain + untabled + priced)
    print(f"| {c} | {statistics.median(r['rps'] for r in plain):,.0f} | {statistics.median(r['rps'] for r in untabled):,.0f} | "
          f"{statistics.median(r['rps'] for r in priced):,.0f} | {statistics.median(r['cpu_us'] for r in plain):.1f} | "
          f"{show(diff(untabled, plain), us)} | {show(diff(priced, plain), us)} | {show(diff(priced, untabled), us)} | "
          f"{show([x['rps'] / y['rps'] for x, y in zip(priced, untabled)], pct)} | {errors} |")
PY
