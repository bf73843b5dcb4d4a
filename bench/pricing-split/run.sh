#!/usr/bin/env bash
# Where pricing's cost on a short request sits: the proxy load of bench/pricing.sh through two
# unpriced gateways and priced gateways that each skip part of pricing (skip-parts.patch, applied
# to a build of this checkout; TOLLGATE_FLOOR picks the part, see the patch):
#   floor   unpriced, but the first "content" string found naively and counted exactly (the
#           least any exact count can cost: no turns recorded, nothing priced; TOLLGATE_COUNT_ONLY)
#   bill    constant estimate headers, the answer's usage read and a constant `cost` spliced
#   record  bill + the routing parse records the turns
#   count   record + the prompt counted (no rates, estimate or settlement)
#   priced  pricing as shipped
#   match   pricing as shipped but without the turns recorded: the floor's byte search finds the
#           text (what a matcher of the lone turn, run after an unrecorded parse, would at best cost)
# Pinned (simulator and wrk on CPU 0, gateways on CPU 1), in balanced orders; prints each step's
# added gateway CPU µs per request, paired within each repetition: median [95% interval].
#
#   bench/pricing-split/run.sh                                   # builds the patched binary first
#   TOLLGATE_SPLIT_BIN=/path/to/patched/tollgate REPEATS=16 STREAMS=0 bench/pricing-split/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS=${CONNECTIONS:-"1 64"}; DURATION=${DURATION:-2}; REPEATS=${REPEATS:-16}; STREAMS=${STREAMS:-"0 1"}
SIM_PORT=${SIM_PORT:-19501}; OUT=${OUT:-/tmp/tollgate-pricing-split}
mkdir -p "$OUT"
if [ -z "${TOLLGATE_SPLIT_BIN:-}" ]; then
  tree="$OUT/tree"
  rm -rf "$tree"; git worktree prune
  git worktree add -q --detach "$tree" HEAD
  git -C "$tree" apply "$PWD/bench/pricing-split/skip-parts.patch"
  (cd "$tree" && swift build -c release --product tollgate >&2)
  TOLLGATE_SPLIT_BIN="$tree/.build/release/tollgate"
fi
export TOLLGATE_BENCH_BIN=$TOLLGATE_SPLIT_BIN
. bench/lib.sh

paths=(plain control floor bill record count priced match)
declare -A port pid gateway_env
port=([plain]=19580 [control]=19581 [floor]=19586 [bill]=19582 [record]=19583 [count]=19584 [priced]=19585 [match]=19587)
gateway_env=([floor]=TOLLGATE_COUNT_ONLY=1 [bill]=TOLLGATE_FLOOR=2 [record]=TOLLGATE_FLOOR=4 [count]=TOLLGATE_FLOOR=3 [match]=TOLLGATE_FLOOR=5)
for p in plain control floor; do gateway_config "${port[$p]}" "$SIM_PORT" >"$OUT/$p.yaml"; done
for p in bill record count priced match; do gateway_config "${port[$p]}" "$SIM_PORT" "$PRICING" >"$OUT/$p.yaml"; done
PIN=1 start_stack "${paths[@]}"
# Each priced variant must still send the bill (an estimate needs the prompt counted, where the
# variant counts), and the floor must count, or the comparison means nothing.
ask() {
  curl -sf -D - -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"model":"deepseek-v4-flash","messages":[{"role":"user","content": "Say hello."}],"max_tokens":16}' \
    "http://127.0.0.1:${port[$1]}/v1/chat/completions"
}
for p in bill record count priced match; do
  answer=$(ask "$p")
  grep -qi '^x-tollgate-cost-estimate: ' <<<"$answer" && grep -q '"cost":"' <<<"$answer" ||
    { echo "$p sent no estimate or no cost" >&2; exit 1; }
done
ask floor | grep -qi '^x-tollgate-floor-count: [1-9]' || { echo "floor counted nothing" >&2; exit 1; }

run() { BENCH_STREAM=$2 measure "${pid[$1]}" "${port[$1]}" "$3" bench/proxy.lua; }
for p in "${paths[@]}"; do run "$p" 0 16 >/dev/null; done   # warm up
: >"$OUT/results.jsonl"
for stream in $STREAMS; do for c in $CONNECTIONS; do for rep in $(seq 1 "$REPEATS"); do
  for p in $(balanced_order "$rep" "${paths[@]}"); do
    line=$(run "$p" "$stream" "$c")
    echo "{\"path\":\"$p\",\"stream\":$stream,\"conn\":$c,\"rep\":$rep,\"r\":$line}" >>"$OUT/results.jsonl"
  done
done; done; done

PYTHONPATH=bench python3 - "$OUT/results.jsonl" <<'PY'
import json, statistics, sys
from paired import show
rows = [json.loads(l) for l in open(sys.argv[1])]
def cpu(path, s, c):
    return [r["r"]["cpu_us"] for r in sorted((r for r in rows if r["path"] == path and r["stream"] == s and r["conn"] == c), key=lambda r: r["rep"])]
us = lambda v: f"{v:+.1f}"
print("Gateway CPU µs per request, paired within each repetition: median [95% interval].")
print()
print("| mode | conns | unpriced | control − plain | floor − unpriced | bill − unpriced | record − bill | count − record | priced − count | priced − unpriced | priced − floor | match − unpriced | priced − match |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for s in sorted({r["stream"] for r in rows}):
    for c in sorted({r["conn"] for r in rows}):
        x = {p: cpu(p, s, c) for p in ("plain", "control", "floor", "bill", "record", "count", "priced", "match")}
        x["unpriced"] = [(a + b) / 2 for a, b in zip(x["plain"], x["control"])]
        d = lambda a, b: show([p - q for p, q in zip(x[a], x[b])], us)
        print(f"| {'stream' if s else 'json'} | {c} | {statistics.median(x['unpriced']):.1f} | {d('control', 'plain')} | {d('floor', 'unpriced')} | {d('bill', 'unpriced')} | "
              f"{d('record', 'bill')} | {d('count', 'record')} | {d('priced', 'count')} | {d('priced', 'unpriced')} | {d('priced', 'floor')} | {d('match', 'unpriced')} | {d('priced', 'match')} |")
PY
