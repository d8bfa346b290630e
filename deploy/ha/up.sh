#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# up.sh - brings up, on loopback, the replicated PostgreSQL the broker's
# store can run on: a three-member etcd (etcd-server 3.4) and two
# PostgreSQL 15 nodes managed by Patroni (3.0.2), a primary and a
# synchronous standby.  Everything lives in DIR (new or empty; its ports are
# free ones picked at start, or EGIDE_HA_PORTS="e1c e1p e2c e2p e3c e3p
# pg1 pg2 rest1 rest2").  The passwords are generated here, at run time,
# into DIR (mode 0600); none is in this repository.
#   deploy/ha/up.sh DIR     waits until a leader and a synchronous standby
#                           exist, then prints the broker's conninfo on stdout
#                           (also in DIR/conninfo); messages go to stderr;
#                           on failure it stops what it had started
#   deploy/ha/down.sh DIR   stops exactly what this started (PID files)
# As root the daemons run as the postgres user (runuser); otherwise as the
# caller.  EGIDE_PG_BINDIR overrides /usr/lib/postgresql/15/bin.  Exit 77
# when etcd, patroni or PostgreSQL 15 is not installed
# (deploy/install-deps.sh installs them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:?usage: deploy/ha/up.sh DIR}
BIN=${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
WAIT=${EGIDE_HA_WAIT:-120} # seconds, for each stage
say() { echo "ha-up: $*" >&2; }
for t in etcd patroni patronictl; do
    command -v "$t" >/dev/null || { say "no $t (apt-get install etcd-server patroni)"; exit 77; }
done
[ -x "$BIN/initdb" ] && [ -x "$BIN/psql" ] || { say "no PostgreSQL 15 in $BIN"; exit 77; }
command -v curl >/dev/null || { say "no curl"; exit 77; }

RUN_AS=()
[ "$(id -u)" -ne 0 ] || RUN_AS=(runuser -u postgres --)
# DIR must be new or empty: one set per directory, never over an old one.
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    say "$DIR is already in use or not empty (deploy/ha/down.sh $DIR, or another directory)"
    exit 1
fi
mkdir -p "$DIR/run"
DIR=$(cd "$DIR" && pwd)
# On failure, stop whatever was started (the logs stay in DIR).
on_exit() {
    local rc=$?
    [ $rc -eq 0 ] || "$HERE/down.sh" "$DIR" --keep
    exit $rc
}
trap on_exit EXIT
chmod 755 "$DIR" # the daemons run as postgres
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi

# Ports: ten free ones, or the operator's.
if [ -n "${EGIDE_HA_PORTS:-}" ]; then
    read -r -a P <<<"$EGIDE_HA_PORTS"
else
    read -r -a P <<<"$(python3 -c '
import socket
ss = [socket.socket() for _ in range(10)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()')"
fi
[ ${#P[@]} -eq 10 ] || { say "EGIDE_HA_PORTS needs 10 ports"; exit 2; }
echo "${P[*]}" >"$DIR/ports"
# shellcheck disable=SC2034 # PG2 and REST2 are read as ${!pgp} and ${!restp}
PG1=${P[6]} PG2=${P[7]} REST1=${P[8]} REST2=${P[9]}
INITIAL="etcd1=http://127.0.0.1:${P[1]},etcd2=http://127.0.0.1:${P[3]},etcd3=http://127.0.0.1:${P[5]}"
ETCD_HOSTS="127.0.0.1:${P[0]},127.0.0.1:${P[2]},127.0.0.1:${P[4]}"

# Secrets, generated now.  DIR/secrets is read back by nothing but this script.
pw() { openssl rand -hex 24; }
umask 077
SU_PW=$(pw) REPL_PW=$(pw) REWIND_PW=$(pw) BROKER_PW=$(pw)
printf '*:*:*:postgres:%s\n' "$SU_PW" >"$DIR/admin.pgpass"
printf '*:*:*:egide_broker:%s\n' "$BROKER_PW" >"$DIR/broker.pgpass"
umask 022

# render TEMPLATE OUT KEY=VALUE...
render() {
    local tpl=$1 out=$2 expr=() kv
    shift 2
    for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    (umask 077 && sed "${expr[@]}" "$tpl" >"$out")
    ! grep -q '@[A-Z_]*@' "$out" || { say "unrendered placeholder in $out"; exit 1; }
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$out"; fi
}
# start NAME CMD...: runs CMD in the background as postgres, its PID (the
# exec'd daemon's own, not runuser's) in DIR/run/NAME.pid, its output in
# DIR/NAME.log.
start() {
    local name=$1
    shift
    "${RUN_AS[@]}" sh -c 'echo $$ >"$0"; exec "$@"' "$DIR/run/$name.pid.tmp" "$@" \
        >>"$DIR/$name.log" 2>&1 </dev/null &
    local i
    for i in $(seq 1 50); do [ -s "$DIR/run/$name.pid.tmp" ] && break; sleep 0.1; done
    mv "$DIR/run/$name.pid.tmp" "$DIR/run/$name.pid"
}
wait_for() { # WHAT CMD...: retries CMD every 0.5 s for WAIT seconds
    local what=$1 i
    shift
    for i in $(seq 1 $((WAIT * 2))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    say "timed out waiting for $what (logs in $DIR)"
    return 1
}
mkdir -p "$DIR"/etcd{1,2,3} "$DIR"/pg{1,2}
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"/etcd{1,2,3} "$DIR"/pg{1,2} "$DIR/run"; fi
chmod 700 "$DIR"/etcd{1,2,3} "$DIR"/pg{1,2}

for i in 1 2 3; do
    render "$HERE/etcd.yml.in" "$DIR/etcd$i/etcd.yml" NAME="etcd$i" DIR="$DIR" \
        CLIENT_PORT="${P[$(((i - 1) * 2))]}" PEER_PORT="${P[$(((i - 1) * 2 + 1))]}" INITIAL_CLUSTER="$INITIAL"
    start "etcd$i" etcd --config-file "$DIR/etcd$i/etcd.yml"
done
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/health" | grep -q '"health":"true"'; }
for i in 0 2 4; do wait_for "etcd on port ${P[$i]}" etcd_healthy "${P[$i]}"; done
say "etcd: three members healthy"

for n in 1 2; do
    pgp=PG$n restp=REST$n
    render "$HERE/patroni.yml.in" "$DIR/pg$n/patroni.yml" NAME="pg$n" DIR="$DIR" \
        REST_PORT="${!restp}" PG_PORT="${!pgp}" ETCD_HOSTS="$ETCD_HOSTS" PG_BINDIR="$BIN" \
        SUPERUSER_PASSWORD="$SU_PW" REPLICATION_PASSWORD="$REPL_PW" REWIND_PASSWORD="$REWIND_PW"
done
# pg1 first, so it is the one that bootstraps; pg2 then clones it.
start pg1 patroni "$DIR/pg1/patroni.yml"
is_primary() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$1/primary"; }
wait_for "pg1 to become the primary" is_primary "$REST1"
say "pg1: primary"
start pg2 patroni "$DIR/pg2/patroni.yml"
# A leader and a streaming synchronous standby (Patroni's /cluster).
sync_ready() {
    curl -fsS --max-time 2 "http://127.0.0.1:$REST1/cluster" | python3 -c '
import json, sys
m = json.load(sys.stdin)["members"]
roles = {x["role"]: x for x in m}
ok = "leader" in roles and roles["leader"]["state"] == "running" and \
     "sync_standby" in roles and roles["sync_standby"]["state"] in ("streaming", "running")
sys.exit(0 if ok else 1)'
}
wait_for "a synchronous standby" sync_ready
say "pg2: synchronous standby"

# The broker's role and database, made on the primary (and so replicated).
psql_admin() {
    PGPASSFILE="$DIR/admin.pgpass" "$BIN/psql" \
        "host=127.0.0.1 port=$PG1 user=postgres dbname=postgres connect_timeout=5" -qAt -v ON_ERROR_STOP=1 "$@"
}
# (on stdin, so the password is on no command line)
psql_admin >/dev/null <<<"CREATE ROLE egide_broker LOGIN PASSWORD '$BROKER_PW'"
psql_admin -c "CREATE DATABASE egide OWNER egide_broker" >/dev/null
CONNINFO="host=127.0.0.1,127.0.0.1 port=$PG1,$PG2 dbname=egide user=egide_broker passfile=$DIR/broker.pgpass target_session_attrs=read-write connect_timeout=3"
echo "$CONNINFO" >"$DIR/conninfo"
PATRONICTL_CONFIG_FILE="$DIR/pg1/patroni.yml" patronictl list >&2 2>/dev/null || true
say "ready; the broker's [store] conninfo:"
echo "$CONNINFO"
