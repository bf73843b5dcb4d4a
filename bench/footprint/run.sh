#!/usr/bin/env bash
# Code footprint of one short proxied request, plain and priced (see footprint.py): the distinct
# lines of machine code each executes, counted under qemu-user. Repeatable (emulation does not
# change which code runs), so it settles what timing on this noisy box cannot: how much code pricing
# adds to a request. Takes about 5 minutes (the priced gateway's tokenizer load runs under
# emulation); leaves about 100 MB in $OUT.
#
#   bench/footprint/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/tollgate-footprint}
SIM_PORT=${SIM_PORT:-19101}; PLAIN_PORT=${PLAIN_PORT:-19180}; PRICED_PORT=${PRICED_PORT:-19181}
rm -rf "$OUT"; mkdir -p "$OUT"
command -v qemu-x86_64 >/dev/null || apt-get install -y -q qemu-user >/dev/null
gcc -O2 -o "$OUT/trace-filter" bench/footprint/trace-filter.c

. bench/lib.sh
# No health probes during the measured requests: they would run in the same phases. Emulation is
# slow: generous timeouts keep the first probe (and the requests) from timing out on a busy box.
quiet="health: {interval_ms: 600000}
timeouts: {connect_ms: 60000, first_byte_ms: 120000, idle_ms: 120000}"
gateway_config "$PLAIN_PORT" "$SIM_PORT" "$quiet" >"$OUT/plain.yaml"
gateway_config "$PRICED_PORT" "$SIM_PORT" "$quiet
$PRICING" >"$OUT/priced.yaml"
"$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads 1 >"$OUT/sim.log" 2>&1 &
pids+=($!)
python3 bench/footprint/footprint.py "$BIN" "$OUT/trace-filter" "$OUT" "$OUT/plain.yaml" "$OUT/priced.yaml" \
  "$PLAIN_PORT" "$PRICED_PORT" "$KEY"
