#!/usr/bin/env bash
# Throughput and latency of `tollgate engine-sim --instant` alone, with wrk (-t1) at 1/16/64/256
# connections, non-streaming and streaming. The bar: >= 30,000 non-streaming requests/s at 64
# connections on a 2-core box in release mode.
#
# Usage: bench/engine-sim.sh            (builds release into .build-sim, then measures)
#   TOLLGATE_BIN=path   use an already built binary instead of building
#   DURATION=10s        wrk duration per run
#   CONNECTIONS="1 16 64 256"
#   SIM_THREADS=2       event-loop threads of the simulator
#   SIM_ARGS="..."      extra engine-sim options (e.g. "--output-tokens 16 --reasoning-tokens 0")
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-"1 16 64 256"}
SIM_THREADS=${SIM_THREADS:-2}
SIM_ARGS=${SIM_ARGS:-}
PORT=${PORT:-18431}
MODEL=deepseek-v4-flash

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: apt-get install -y wrk" >&2
    exit 1
fi

if [[ -z "${TOLLGATE_BIN:-}" ]]; then
    swift build -c release --scratch-path .build-sim --product tollgate >&2
    TOLLGATE_BIN=.build-sim/release/tollgate
fi

work=$(mktemp -d)
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086
"$TOLLGATE_BIN" engine-sim --model "$MODEL" --port "$PORT" --instant --threads "$SIM_THREADS" $SIM_ARGS >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { echo "engine-sim did not start:" >&2; cat "$work/sim.log" >&2; exit 1; }

request='{"model":"'$MODEL'","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the benefits of a cost-aware gateway in two sentences."}]'
cat >"$work/plain.lua" <<LUA
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$request}'
LUA
cat >"$work/stream.lua" <<LUA
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$request,"stream":true,"stream_options":{"include_usage":true}}'
LUA

# One response of each kind, to show what is measured.
plain_bytes=$(curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$request}" | wc -c)
stream_bytes=$(curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$request,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" | wc -c)

to_ms() {  # wrk prints 123.45us / 1.23ms / 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

echo "engine-sim --instant, wrk -t1 -d$DURATION, $(nproc) cores, simulator threads $SIM_THREADS"
echo "non-streaming body $plain_bytes bytes, streaming body $stream_bytes bytes (80 tokens: 16 reasoning + 64 content)"
printf '%-10s %6s %12s %10s %10s %8s\n' mode conns "req/s" "p50 ms" "p99 ms" errors
for mode in plain stream; do
    for c in $CONNECTIONS; do
        out=$(wrk -t1 -c"$c" -d"$DURATION" --latency -s "$work/$mode.lua" "http://127.0.0.1:$PORT" 2>&1)
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
        p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
        errors=$(awk '/Non-2xx|Socket errors/ { s = s $0 " " } END { print (s == "" ? 0 : s) }' <<<"$out")
        printf '%-10s %6s %12s %10s %10s %8s\n' "$mode" "$c" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$errors"
    done
done
