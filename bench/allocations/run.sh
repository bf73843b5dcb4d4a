#!/usr/bin/env bash
# Heap allocations per short request, unpriced and priced: the two gateways in front of one
# --instant simulator, each under an LD_PRELOAD counter (count.c), driven by N sequential
# requests on one keep-alive connection after a warm-up. Exact and repeatable: it counts calls
# to malloc and friends, it does not time them, so it is a guard for the request path's work
# that the noisy box cannot blur. Needs a C compiler.
#
#   bench/allocations/run.sh          # N=2000
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-2000}
SIM_PORT=${SIM_PORT:-19201}
PLAIN_PORT=${PLAIN_PORT:-19280}
PRICED_PORT=${PRICED_PORT:-19281}
OUT=${OUT:-/tmp/tollgate-alloc-bench}
mkdir -p "$OUT"

. bench/lib.sh
cc -O2 -shared -fPIC -o "$OUT/count.so" bench/allocations/count.c
gateway_config "$PLAIN_PORT" "$SIM_PORT" >"$OUT/plain.yaml"
gateway_config "$PRICED_PORT" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"
"$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads 1 >"$OUT/sim.log" 2>&1 &
pids+=($!)
declare -A port pid
port=([plain]=$PLAIN_PORT [priced]=$PRICED_PORT)
for path in plain priced; do
  TOLLGATE_ALLOC_COUNTS="$OUT/$path.counts" LD_PRELOAD="$OUT/count.so" \
    "$BIN" serve --config "$OUT/$path.yaml" --log-level warning >"$OUT/$path.log" 2>&1 &
  pid[$path]=$!; pids+=($!)
done
for path in plain priced; do wait_ready "${port[$path]}"; done

# counts PATH: the totals so far (malloc free calloc realloc aligned).
counts() {
  rm -f "$OUT/$1.counts"
  kill -USR2 "${pid[$1]}"
  for _ in $(seq 1 50); do [ -s "$OUT/$1.counts" ] && break; sleep 0.05; done
  cat "$OUT/$1.counts"
}
: >"$OUT/results.txt"
for stream in 0 1; do
  for path in plain priced; do
    python3 bench/allocations/client.py "${port[$path]}" "$KEY" 200 "$stream"   # warm up
    before=$(counts "$path")
    python3 bench/allocations/client.py "${port[$path]}" "$KEY" "$N" "$stream"
    after=$(counts "$path")
    echo "$path $stream $before $after" >>"$OUT/results.txt"
  done
done

python3 - "$OUT/results.txt" "$N" <<'PY'
import sys
n = int(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    before, after = list(map(int, f[2:7])), list(map(int, f[7:12]))
    per = [(a - b) / n for a, b in zip(after, before)]
    # Allocations: malloc + calloc + realloc + aligned; frees on their own.
    rows[(f[0], f[1])] = (per[0] + per[2] + per[3] + per[4], per[1])
print(f"Heap allocations per request ({n} sequential requests, one connection, after a warm-up):")
print()
print("| mode | unpriced allocations | priced allocations | priced - unpriced | unpriced frees | priced frees |")
print("|---|---|---|---|---|---|")
for stream, mode in (("0", "json"), ("1", "stream (include_usage)")):
    (pa, pf), (qa, qf) = rows[("plain", stream)], rows[("priced", stream)]
    print(f"| {mode} | {pa:.2f} | {qa:.2f} | {qa - pa:+.2f} | {pf:.2f} | {qf:.2f} |")
PY
