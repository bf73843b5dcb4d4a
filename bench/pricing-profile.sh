#!/usr/bin/env bash
# Where pricing's time goes on the proxy path: perf samples (cpu-clock, DWARF call chains) of an
# unpriced and a priced gateway under the same wrk load, one after the other, attributed to the
# frames only pricing runs (see pricing-profile.py). Sampling slows the gateways down, so the
# figures are perf-time per request: compare rows, not against bench/pricing.sh's CPU. Needs perf
# (Debian's linux-perf); takes about two minutes; leaves about 100 MB in $OUT.
#
#   bench/pricing-profile.sh
#   STREAM=1 CONNECTIONS=1 SECONDS_EACH=30 bench/pricing-profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-64}
SECONDS_EACH=${SECONDS_EACH:-20}
FREQUENCY=${FREQUENCY:-500}
STREAM=${STREAM:-0}
SIM_PORT=${SIM_PORT:-19301}; PLAIN_PORT=${PLAIN_PORT:-19380}; PRICED_PORT=${PRICED_PORT:-19381}
OUT=${OUT:-/tmp/tollgate-pricing-profile}
mkdir -p "$OUT"
command -v perf >/dev/null || apt-get install -y -q linux-perf >/dev/null

. bench/lib.sh
gateway_config "$PLAIN_PORT" "$SIM_PORT" >"$OUT/plain.yaml"
gateway_config "$PRICED_PORT" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"
# As bench/pricing.sh with PIN=1: simulator and wrk on CPU 0, the gateways on CPU 1.
taskset -c 0 "$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads 1 >"$OUT/sim.log" 2>&1 &
pids+=($!)
declare -A port pid
port=([plain]=$PLAIN_PORT [priced]=$PRICED_PORT)
for path in plain priced; do
  taskset -c 1 "$BIN" serve --config "$OUT/$path.yaml" --log-level warning >"$OUT/$path.log" 2>&1 &
  pid[$path]=$!; pids+=($!)
done
for path in plain priced; do wait_ready "${port[$path]}"; done

load() {  # load PATH SECONDS -> wrk's JSON line
  BENCH_API_KEY=$KEY BENCH_STREAM=$STREAM taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"$2s" --timeout 10s -s bench/proxy.lua \
    "http://127.0.0.1:${port[$1]}/v1/chat/completions" | grep '^WRKJSON' | cut -d' ' -f2-
}
for path in plain priced; do load "$path" 2 >/dev/null; done   # warm up
for path in plain priced; do
  perf record -q -e cpu-clock -F "$FREQUENCY" --call-graph dwarf,8192 -p "${pid[$path]}" -o "$OUT/$path.data" \
    -- sleep "$SECONDS_EACH" 2>/dev/null &
  recorder=$!
  sleep 0.2
  load "$path" "$SECONDS_EACH" >"$OUT/$path.wrk"
  wait "$recorder" || true
  perf script -i "$OUT/$path.data" -F ip,sym 2>/dev/null >"$OUT/$path.stacks"
done
python3 bench/pricing-profile.py "$OUT" "$FREQUENCY"
