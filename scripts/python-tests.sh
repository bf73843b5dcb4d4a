#!/usr/bin/env bash
# Runs the Python test suite (tests/python): the official openai SDK against `tollgate demo`, the
# `tokens` and `price` commands, and, with TOLLGATE_REAL_ENGINE=1, Tollgate in front of a real
# llama.cpp engine.
#
# Usage: TOLLGATE_BIN=.build/debug/tollgate scripts/python-tests.sh [pytest args...]
#
# Builds nothing: TOLLGATE_BIN names an already built `tollgate` (default .build/debug/tollgate).
# Creates (once) a venv with the pinned packages of tests/python/requirements.txt under
# ${TOLLGATE_VENV_ROOT:-<repo>/.venv-tollgate}/pytests. Exits non-zero when any test fails and
# when pytest collected no test at all (its exit status 5).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv_root=${TOLLGATE_VENV_ROOT:-$repo/.venv-tollgate}
venv=$venv_root/pytests
python=${TOLLGATE_PYTHON:-python3}
requirements=$repo/tests/python/requirements.txt

bin=${TOLLGATE_BIN:-$repo/.build/debug/tollgate}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
if [ ! -x "$bin" ]; then
    echo "python-tests: no tollgate binary at $bin; build it first (swift build --product tollgate) or set TOLLGATE_BIN" >&2
    exit 1
fi
export TOLLGATE_BIN=$bin
export TOLLGATE_HOME=${TOLLGATE_HOME:-$repo}

# The stamp records the requirements it was made from, so a changed pin rebuilds the venv.
stamp=$venv/.tollgate-requirements
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
    echo "python-tests: creating $venv" >&2
    rm -rf "$venv"
    mkdir -p "$venv_root"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

cd "$repo/tests/python"
status=0
"$venv/bin/python" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "python-tests: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
