#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 cluster for the tests.
#
#   scripts/pg-test-cluster.sh start   # prints postgres://postgres@127.0.0.1:PORT/tollgate_test
#   scripts/pg-test-cluster.sh stop
#
# Folder and port come from TOLLGATE_PG_DIR (default /tmp/tollgate-pg) and TOLLGATE_PG_PORT
# (default 55433), the database name from TOLLGATE_PG_DATABASE (default tollgate_test). Idempotent: `start` on a running cluster only prints the URL; `stop` on a
# stopped one does nothing. As root the server runs as the `postgres` user (PostgreSQL refuses
# root). Prints nothing but the URL and errors; exports nothing. TOLLGATE_PG_OPTIONS adds server
# options (e.g. "-c fsync=on" for benchmarks; tests run with fsync off).
set -euo pipefail

dir="${TOLLGATE_PG_DIR:-/tmp/tollgate-pg}"
port="${TOLLGATE_PG_PORT:-55433}"
database="${TOLLGATE_PG_DATABASE:-tollgate_test}"
action="${1:-}"

bin=""
for candidate in "${TOLLGATE_PG_BIN:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -n "$candidate" ] && [ -x "$candidate/pg_ctl" ]; then bin="$candidate"; break; fi
done
if [ -z "$bin" ]; then
    echo "pg-test-cluster: no PostgreSQL server binaries found (install postgresql-15)" >&2
    exit 1
fi

# Run a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" = "0" ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

running() {
    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

case "$action" in
start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir"
        if [ "$(id -u)" = "0" ]; then chown postgres "$dir"; fi
        as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    if ! running; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 ${TOLLGATE_PG_OPTIONS:-}" \
            start >/dev/null || {
            tail -n 20 "$dir/server.log" >&2
            exit 1
        }
    fi
    exists="$(as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = '$database'")"
    if [ "$exists" != "1" ]; then
        as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc \
            "CREATE DATABASE $database" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/$database"
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ] && running; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
