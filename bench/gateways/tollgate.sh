# Tollgate in ../shared/bench's peer harness:
#   GATEWAYS_DIR=$PWD/bench/gateways GATEWAYS="direct litellm tollgate" ../shared/bench/run_peer.sh
# The harness sources this file with BENCH_DIR, VENV_ROOT, MOCK_BASE_URL and MOCK_PORT set.
TOLLGATE_REPO=${TOLLGATE_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GW_PORT=${TOLLGATE_BENCH_PORT:-8090}
GW_BASE_URL="http://127.0.0.1:$GW_PORT/v1"
GW_API_KEY="sk-bench-master"
GW_MODEL="deepseek-v4-flash"
GW_READY_TIMEOUT=60

gw_setup() {
  (cd "$TOLLGATE_REPO" && swift build -c release --product tollgate)
}

gw_version() { echo "tollgate $(git -C "$TOLLGATE_REPO" rev-parse --short HEAD)"; }

gw_start() {
  local config="${TMPDIR:-/tmp}/tollgate-peer-bench-$GW_PORT.yaml"
  cat >"$config" <<YAML
listen: {host: 127.0.0.1, port: $GW_PORT}
teams:
  - name: bench
    key_sha256: $(printf %s "$GW_API_KEY" | sha256sum | cut -d' ' -f1)
targets:
  - name: flash-pool
    kind: pool
    engine: vllm
    models: [deepseek-v4-flash]
    endpoints: [$MOCK_BASE_URL]
${TOLLGATE_EXTRA_CONFIG:-}
YAML
  exec "$TOLLGATE_REPO/.build/release/tollgate" serve --config "$config" --log-level warning
}
