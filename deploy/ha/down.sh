#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# down.sh - stops what deploy/ha/up.sh DIR started, and only that: the
# processes whose PIDs are in DIR/run/*.pid (the Patroni nodes first, which
# stop their PostgreSQL, then the etcd members), each checked to still be
# the program it was before it is signalled.  A PostgreSQL left running by
# a Patroni that did not stop in time is stopped by its own postmaster.pid.
#   deploy/ha/down.sh DIR [--keep]   (--keep: leave DIR; default removes it)
set -uo pipefail
DIR=${1:?usage: deploy/ha/down.sh DIR [--keep]}
BIN=${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -d "$DIR/run" ] || { echo "ha-down: $DIR was not made by up.sh" >&2; exit 1; }
RUN_AS=()
[ "$(id -u)" -ne 0 ] || RUN_AS=(runuser -u postgres --)
# stop NAME PROGRAM: TERM, up to 30 s, then KILL; only if the PID runs PROGRAM.
stop() {
    local f="$DIR/run/$1.pid" pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}
stop pg2 patroni &
stop pg1 patroni &
wait
for n in pg1 pg2; do
    d="$DIR/$n/data"
    if [ -s "$d/postmaster.pid" ] && kill -0 "$(head -1 "$d/postmaster.pid")" 2>/dev/null; then
        "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
    fi
done
for n in etcd1 etcd2 etcd3; do stop "$n" etcd & done
wait
[ "${2:-}" = --keep ] || rm -rf "$DIR"
