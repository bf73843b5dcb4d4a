#!/usr/bin/env bash
# An experiment, not the shipped build: a release binary laid out by BOLT (LLVM's post-link
# optimizer) from a profile of the gateway under load. The hot blocks of the request path are
# packed together and the cold ones moved away, so a request touches fewer instruction-cache
# lines. It makes the gateway a few per cent faster but leaves pricing's cost on a short request
# as it was (docs/BENCHMARKS.md, "A binary laid out by BOLT").
#
#   bench/bolt/build.sh              # prints the path of the laid-out binary
#   TRAIN_DURATION=8 bench/bolt/build.sh
#   TRAIN_LOADS="0:1 0:64 1:1 1:64 1:1 1:64" bench/bolt/build.sh   # streams weighed double
#   CONTROL_BIN=<plain release binary> BEFORE_BIN=<the same> TOLLGATE_BENCH_BIN=<printed path> \
#     PIN=1 bench/pricing.sh         # pricing's cost in each build, paired in one run
#
# Steps: a release build in its own scratch folder (.build-bolt), linked by lld with relocations
# kept (BOLT needs them to move functions; gold fails on them); the proxy benchmark's load (json
# and streams, 1 and 64 connections) through an unpriced and a priced gateway of that build,
# sampled by perf; the samples written as BOLT's profile; llvm-bolt writes
# .build-bolt/release/tollgate-bolt. Needs perf and LLVM 19's BOLT (Debian: linux-perf, bolt-19),
# installed here when missing. This box's hypervisor exposes no branch records, so the profile
# is plain instruction samples (cpu-clock).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCRATCH=.build-bolt
OUT=${OUT:-/tmp/tollgate-bolt}
TRAIN_DURATION=${TRAIN_DURATION:-4}
# The loads sampled, as stream:connections; repeating one weighs it more in the profile.
TRAIN_LOADS=${TRAIN_LOADS:-"0:1 0:64 1:1 1:64"}
mkdir -p "$OUT"
need_package() { apt-get install -y -q "$1" >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q "$1"; }; }
command -v perf >/dev/null || need_package linux-perf
command -v llvm-bolt-19 >/dev/null || need_package bolt-19

swift build -c release --product tollgate --scratch-path "$SCRATCH" \
  -Xswiftc -use-ld=lld -Xlinker --emit-relocs >&2
input="$SCRATCH/release/tollgate"

# Training: the requests of bench/proxy.lua through both kinds of gateway, sampled.
(
  export TOLLGATE_BENCH_BIN=$input DURATION=$TRAIN_DURATION
  SIM_PORT=19701
  . bench/lib.sh
  declare -A port pid
  port=([plain]=19780 [priced]=19781)
  gateway_config "${port[plain]}" "$SIM_PORT" >"$OUT/plain.yaml"
  gateway_config "${port[priced]}" "$SIM_PORT" "$PRICING" >"$OUT/priced.yaml"
  start_stack plain priced
  perf record -q -F 10000 -e cpu-clock:u -o "$OUT/perf.data" -p "${pid[plain]},${pid[priced]}" 2>"$OUT/perf.log" &
  perf_pid=$!
  sleep 0.5
  for load in $TRAIN_LOADS; do for p in plain priced; do
    BENCH_STREAM=${load%:*} measure "${pid[$p]}" "${port[$p]}" "${load#*:}" bench/proxy.lua >/dev/null
  done; done
  kill -INT "$perf_pid"; wait "$perf_pid" || true
)

# BOLT's own reader of perf data (perf2bolt) crashes on this binary, so the samples are written
# in its plain-sample format here: "1 <function> <offset hex> <count>" per sampled address. BOLT
# names a local (file-private) function "<name>/1".
nm "$input" | awk '$2 == "t" { print $3 }' >"$OUT/local-functions.txt"
perf script -i "$OUT/perf.data" -F ip,sym,symoff,dso --no-demangle 2>/dev/null |
  python3 -c '
import collections, re, sys
binary, local = sys.argv[1], set(open(sys.argv[2]).read().split())
counts = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*[0-9a-f]+ (\S+)\+0x([0-9a-f]+) \((.+)\)$", line)
    if m and m.group(3) == binary:
        name = m.group(1) + ("/1" if m.group(1) in local else "")
        counts[name, m.group(2)] += 1
print("no_lbr")
for (name, offset), n in sorted(counts.items()):
    print(f"1 {name} {offset} {n}")
' "$(readlink -f "$input")" "$OUT/local-functions.txt" >"$OUT/profile.fdata"

llvm-bolt-19 "$input" -o "$SCRATCH/release/tollgate-bolt" -data="$OUT/profile.fdata" \
  -reorder-blocks=ext-tsp -reorder-functions=cdsort -split-functions -split-all-cold -split-eh \
  -icf=1 -use-gnu-stack >"$OUT/bolt.log" 2>&1 || { tail -20 "$OUT/bolt.log" >&2; exit 1; }
grep -E 'have non-empty execution profile|splitting separates' "$OUT/bolt.log" >&2
echo "$PWD/$SCRATCH/release/tollgate-bolt"
