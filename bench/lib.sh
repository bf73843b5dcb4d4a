# Shared by the gateway benchmarks in bench/ (sourced, from the repository root): wrk, the
# release binary, a one-pool gateway configuration, readiness, the order of paths per repetition,
# and stopping what was started.

command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q wrk; }; }
# TOLLGATE_BENCH_BIN runs another build (say, an older commit's) instead of this checkout's.
if [ -n "${TOLLGATE_BENCH_BIN:-}" ]; then
  BIN=$TOLLGATE_BENCH_BIN
else
  swift build -c release --product tollgate >&2
  BIN="$(swift build -c release --show-bin-path)/tollgate"
fi
KEY="sk-bench-$(date +%s)"

. bench/gateway-config.sh
# gateway_config PORT SIM_PORT [EXTRA_YAML]: the gateway in front of the simulator, key $KEY.
gateway_config() { gateway_yaml "$1" "http://127.0.0.1:$2/v1" "$KEY" "${3:-}"; }
# The EXTRA_YAML of a priced gateway: the shipped price book.
PRICING="pricing: {price_book: $PWD/policies/prices.yaml}"

# wait_ready PORT: until the gateway answers /v1/models (at most 10 s).
wait_ready() {
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$1/v1/models" && return 0
    sleep 0.1
  done
}

# balanced_order REP PATH...: the paths in the order repetition REP (from 1) runs them. A round
# of n repetitions rotates the start one step at a time, so every path runs in every place; every
# other round runs backwards, so over 2n repetitions each path follows each other one equally
# often. Drift and the previous run's load then hit all paths alike.
balanced_order() {
  local rep=$1; shift
  local paths=("$@") n=$# i
  local k=$(( (rep - 1) % n )) backwards=$(( (rep - 1) / n % 2 ))
  for ((i = 0; i < n; i++)); do
    if (( backwards )); then echo "${paths[(k - 1 - i + n) % n]}"; else echo "${paths[(k + i) % n]}"; fi
  done
}

# start_stack PATH...: the --instant simulator on $SIM_PORT and one gateway per PATH from
# $OUT/PATH.yaml, with PIN=1 the simulator (and wrk, through $on0) on CPU 0 and the gateways on
# CPU 1; fills pid[PATH] and waits until each answers on port[PATH] (the caller declares both with
# `declare -A port pid`). A gateway runs with the environment assignments in gateway_env[PATH],
# and from the binary gateway_bin[PATH] instead of $BIN, when the caller sets them.
declare -A gateway_env=() gateway_bin=()
start_stack() {
  if [ "${PIN:-0}" = 1 ]; then on0="taskset -c 0"; on1="taskset -c 1"; else on0=""; on1=""; fi
  $on0 "$BIN" engine-sim --instant --model deepseek-v4-flash --port "$SIM_PORT" --threads 1 >"$OUT/sim.log" 2>&1 &
  pids+=($!)
  local path
  for path in "$@"; do
    env ${gateway_env[$path]:-} $on1 "${gateway_bin[$path]:-$BIN}" serve --config "$OUT/$path.yaml" --log-level warning >"$OUT/$path.log" 2>&1 &
    pid[$path]=$!; pids+=($!)
  done
  for path in "$@"; do wait_ready "${port[$path]}"; done
}

# measure PID PORT CONN SCRIPT: wrk with SCRIPT against the gateway PID listening on PORT, for
# $DURATION s at CONN connections (on CPU 0 when $on0 says so); one JSON line, the script's
# summary with the gateway's CPU µs per request (utime + stime from /proc) added as cpu_us.
measure() {
  local before after line
  before=$(awk '{print $14 + $15}' "/proc/$1/stat")
  line=$(BENCH_API_KEY=$KEY ${on0:-} wrk -t1 -c"$3" -d"${DURATION}s" --timeout 10s -s "$4" \
    "http://127.0.0.1:$2/v1/chat/completions" | grep '^WRKJSON' | cut -d' ' -f2-)
  after=$(awk '{print $14 + $15}' "/proc/$1/stat")
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["cpu_us"]=(int(sys.argv[2])*1e6/int(sys.argv[3]))/max(r["requests"],1); print(json.dumps(r))' \
    "$line" "$((after - before))" "$(getconf CLK_TCK)"
}

# Every process started in the background is added to pids and stopped on exit.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
