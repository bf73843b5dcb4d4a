# Tollgate with the price book loaded (counts, estimates and prices every request), for
# comparing against the unpriced definition in one run of ../shared/bench's peer harness:
#   GATEWAYS_DIR=$PWD/bench/gateways GATEWAYS="direct tollgate tollgate-priced" ../shared/bench/run_peer.sh
TOLLGATE_EXTRA_CONFIG="pricing: {price_book: $(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/policies/prices.yaml}"
TOLLGATE_BENCH_PORT=${TOLLGATE_PRICED_BENCH_PORT:-8091}
. "$(dirname "${BASH_SOURCE[0]}")/tollgate.sh"
