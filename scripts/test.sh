#!/usr/bin/env bash
# Tollgate's one test command (the README's, and what CI runs):
#   1. starts a throwaway PostgreSQL 15 cluster (scripts/pg-test-cluster.sh) for the ledger tests;
#   2. computes tokenizer reference ids with Hugging Face tokenizers (scripts/tokenizer-reference/prepare.sh);
#   3. runs the Swift test suites (real sockets, real PostgreSQL, real simulated engines);
#   4. runs the Python tests: the official openai SDK against `tollgate demo`, and the real
#      llama.cpp engine behind Tollgate (scripts/python-tests.sh).
# Every step fails loudly; nothing is skipped because a service is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "starting PostgreSQL"
TOLLGATE_TEST_DATABASE_URL="$(scripts/pg-test-cluster.sh start)"
export TOLLGATE_TEST_DATABASE_URL
trap 'scripts/pg-test-cluster.sh stop || true' EXIT

log "computing tokenizer reference ids (Hugging Face tokenizers)"
scripts/tokenizer-reference/prepare.sh

log "building and running the Swift tests"
swift build --build-tests
# One test at a time: the timing and load tests measure queues and budgets on two shared cores.
swift test --skip-build --no-parallel

log "running the Python tests (openai SDK, real engine)"
swift build --product tollgate
TOLLGATE_BIN="$(swift build --show-bin-path)/tollgate" scripts/python-tests.sh
