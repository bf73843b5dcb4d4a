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
  . "$TOLLGATE_REPO/bench/gateway-config.sh"
  gateway_yaml "$GW_PORT" "$MOCK_BASE_URL" "$GW_API_KEY" "${TOLLGATE_EXTRA_CONFIG:-}" >"$config"
  exec "$TOLLGATE_REPO/.build/release/tollgate" serve --config "$config" --log-level warning
}
