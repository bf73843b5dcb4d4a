#!/usr/bin/env bash
# The parts of pricing one short chat request, hot and with cold caches (Sources/PricingBench).
# The end-to-end cost on the proxy path is bench/pricing.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product PricingBench >&2
"$(swift build -c release --show-bin-path)/PricingBench"
