#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# pg-test-cluster.sh - a throw-away PostgreSQL 15 cluster for the tests
# (label "pg"): trust authentication on 127.0.0.1 only, a free port, the
# unix socket in the cluster's own directory, fsync off.  As root the server
# tools run as the postgres user (they refuse root).  No password anywhere.
#   pg-test-cluster.sh init DIR     initdb in DIR/data (DIR is created)
#   pg-test-cluster.sh start DIR    start it (a free port the first time,
#                                   the same one after); prints the conninfo
#   pg-test-cluster.sh stop DIR     pg_ctl stop -m fast (only this cluster)
#   pg-test-cluster.sh createdb DIR NAME
# EGIDE_PG_BINDIR overrides /usr/lib/postgresql/15/bin.
set -euo pipefail
BIN=${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: pg-test-cluster.sh init|start|stop|createdb DIR [NAME]}
DIR=${2:?cluster directory}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
conninfo() { echo "host=127.0.0.1 port=$(cat "$DIR/port") user=postgres dbname=${1:-postgres} connect_timeout=5"; }
case "$cmd" in
init)
    [ -x "$BIN/initdb" ] || { echo "pg-test-cluster: no $BIN/initdb" >&2; exit 77; }
    mkdir -p "$DIR"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' \
        >"$DIR/port"
    ;;
start)
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-p $(cat "$DIR/port") -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    conninfo
    ;;
stop)
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
createdb)
    "$BIN/psql" "$(conninfo)" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${3:?name}" >/dev/null
    conninfo "$3"
    ;;
*)
    echo "pg-test-cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
