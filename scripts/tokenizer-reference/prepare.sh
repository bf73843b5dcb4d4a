#!/usr/bin/env bash
# Computes the reference token ids the Swift parity tests compare against, with Hugging Face
# `tokenizers` 0.23.3 from PyPI in a git-ignored venv, and the chat prompts vLLM 0.33.0's own
# DeepSeek V4 encoder renders (the one file is taken from the vllm wheel, downloaded once without
# its dependencies). Run from anywhere; run before `swift test`.
#
#   scripts/tokenizer-reference/prepare.sh            # writes .build-tokenizer-reference/reference.json
#   TOLLGATE_TOKENIZER_SEED=123 scripts/...prepare.sh # reproduce a randomized run (both seeds)
#   TOLLGATE_TOKENIZER_RANDOM=20000 ...               # more random cases (default 5000)
#   TOLLGATE_CHAT_RANDOM=5000 ...                     # more generated chat requests (default 400)
#   scripts/tokenizer-reference/prepare.sh --venv-only  # only create the venv (benchmark)
#
# The Swift tests read $TOLLGATE_TOKENIZER_REFERENCE, or .build-tokenizer-reference/reference.json,
# and chat-reference.json beside it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${TOLLGATE_TOKENIZER_VENV:-$root/.venv-tokenizer-reference}"
out="${TOLLGATE_TOKENIZER_REFERENCE:-$root/.build-tokenizer-reference/reference.json}"
tokenizer="$root/Sources/TollgateTokenizer/Resources/tokenizer.json"
expected_sha=8f9f37ca37fdc4f5fd36d5cf4d3b0e8392edb4e894fd10cc0d70b4957c8633cf

actual_sha="$(sha256sum "$tokenizer" | cut -d' ' -f1)"
if [ "$actual_sha" != "$expected_sha" ]; then
    echo "prepare.sh: $tokenizer has sha256 $actual_sha, expected $expected_sha" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/tokenizer-reference/requirements.txt"
if [ "${1:-}" = "--venv-only" ]; then exit 0; fi
seed_args=()
if [ -n "${TOLLGATE_TOKENIZER_SEED:-}" ]; then seed_args=(--seed "$TOLLGATE_TOKENIZER_SEED"); fi
"$venv/bin/python" "$root/scripts/tokenizer-reference/reference.py" \
    --tokenizer "$tokenizer" \
    --fixtures "$root/Tests/TollgateTokenizerTests/Fixtures/parity-cases.json" \
    --random "${TOLLGATE_TOKENIZER_RANDOM:-5000}" \
    "${seed_args[@]}" \
    --out "$out"

# vLLM's V4 chat encoder: a standard-library-only module inside the vllm wheel.
encoder="$venv/vllm-0.33.0/deepseek_v4_encoding.py"
if [ ! -f "$encoder" ]; then
    wheel_dir="$(mktemp -d)"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps vllm==0.33.0 -d "$wheel_dir"
    "$venv/bin/python" - "$wheel_dir" "$encoder" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "vllm-0.33.0-*.whl"))[0]
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("vllm/tokenizers/deepseek_v4_encoding.py"))
PY
    rm -rf "$wheel_dir"
fi
"$venv/bin/python" "$root/scripts/tokenizer-reference/chat_reference.py" \
    --encoder "$encoder" \
    --tokenizer "$tokenizer" \
    --fixtures "$root/Tests/TollgateTokenizerTests/Fixtures/chat-layout-cases.json" \
    --random "${TOLLGATE_CHAT_RANDOM:-400}" \
    "${seed_args[@]}" \
    --out "$(dirname "$out")/chat-reference.json"
