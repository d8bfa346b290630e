#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_slow_db_pg.sh - a slow database does not block the broker's
# loop.  The broker runs on [store] backend = postgresql (a temporary
# PostgreSQL 15 cluster); another session holds an ACCESS EXCLUSIVE lock on
# the deliveries table for 15 s, so the broker's next statement waits on
# the server (pg_stat_activity shows it waiting on the lock).  Meanwhile:
# - a node's CURVE handshake is answered (egide_probe handshake; before,
#   the loop was inside PQexec and no ZAP request was read until the lock
#   went: the probe got no answer in 5 s, and an edge would move to another
#   broker after 3 s);
# - an unknown key is refused, and its audit leaf is written after the
#   wait (not from inside the waiting statement);
# - the 119 submits a referral: queued, and delivered once when the lock
#   goes, with no rejection.
# Then the database goes away (pg_ctl stop) and the conninfo's second host
# accepts TCP connections but never answers (a server that hangs), so each
# reconnection attempt takes connect_timeout (8 s) there.  The attempts run
# on a thread of their own: handshakes are answered meanwhile (before,
# PQreset blocked the loop for the 8 s, longer than the probe's 5 s).  The
# database back: the referral sent during the outage is delivered once.
# Last, a Hello lost with its batch: the CRIP's edge restarts while
# audit_head is locked, so the broker's audit append for its Hello waits;
# that session is then ended (pg_terminate_backend): the batch, the Welcome
# with it, is rolled back.  The edge says Hello again (it used to wait for
# a Welcome forever, and what a Hello starts, such as the redelivery to a
# restored node, never happened) and gets its Welcome.
# Label "pg".
. "$(dirname "$0")/common.sh"
PGC="$EL_ROOT/tests/tools/pg-test-cluster.sh"
PGD=$(mktemp -d /tmp/egide-pg.XXXXXX)
chmod 755 "$PGD" # the server runs as postgres
LOCKER=
SILENT_PID=
pg_cleanup() {
    [ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
    [ -n "$SILENT_PID" ] && kill "$SILENT_PID" 2>/dev/null
    "$PGC" stop "$PGD/c" 2>/dev/null
    rm -rf "$PGD"
}
trap 'pg_cleanup; t_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT
"$PGC" init "$PGD/c" || { rc=$?; [ $rc -eq 77 ] && [ "${EGIDE_TEST_PG_REQUIRED:-0}" != 1 ] && { echo "SKIP: no PostgreSQL server tools"; exit 77; }; exit 1; }
"$PGC" start "$PGD/c" >/dev/null || exit 1
CONNINFO=$("$PGC" createdb "$PGD/c" egide_broker) || exit 1
PSQL="${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql"
psql_q() { "$PSQL" "$CONNINFO" -qAt -c "$1"; }

el_setup || exit 1
# A second host that takes TCP connections and never answers.
SILENT_PORT=$(el_free_port)
python3 -c "import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(128); time.sleep(600)" \
    "$SILENT_PORT" &
SILENT_PID=$!
PGPORT=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$CONNINFO")
BROKER_CONNINFO="host=127.0.0.1,127.0.0.1 port=$PGPORT,$SILENT_PORT user=postgres dbname=egide_broker connect_timeout=8"
INI="$EL_DIR/state/broker/broker.ini"
printf '[store]\nbackend = postgresql\nconninfo = %s\n' "$BROKER_CONNINFO" >>"$INI"
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the broker" el_wait_until 100 t_connected "$n"; done
check "the broker waits on PostgreSQL in its loop's poll" \
    grep -q "its waits in the loop's poll" "$EL_DIR/state/broker/broker.log"

BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "a referral delivered before the database is slowed" \
    el_wait_until 150 t_all_delivered fr.snated "$ID0"

PKI="$EL_DIR/pki"
probe() { # KEYDIR NODE MODE
    timeout 20 "$EGIDE_BIN/egide_probe" --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" \
        --broker-public "$PKI/nodes/71.broker/curve.public" \
        --curve-secret "$1/curve.secret" --curve-public "$1/curve.public" --node "$2" "$3"
}
mkdir -p "$EL_DIR/rogue" && chmod 700 "$EL_DIR/rogue"
"$EGIDE_BIN/egide" pki curve-keygen --out-secret "$EL_DIR/rogue/curve.secret" \
    --out-public "$EL_DIR/rogue/curve.public" >/dev/null
TOKEN=$(cat "$EL_DIR/state/broker/api.token")
metric() { # NAME -> value
    curl -s --max-time 2 -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$EL_BROKER_API_PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
# Both handshakes fine with the database well.
OUT=$(probe "$PKI/nodes/71.crip" 71.crip handshake)
check "with the database well: a listed key's handshake is answered ($OUT)" \
    bash -c "[[ '$OUT' == handshake* ]]"
AUDITED0=$(metric egide_broker_zap_refused_audited_total)
WAITS0=$(metric egide_broker_store_waits_total)
check "the metrics answer (refusals audited so far: $AUDITED0)" test -n "$AUDITED0"

# Slow it: a session holds every row of deliveries for 15 s.
"$PSQL" "$CONNINFO" -qAt -c "BEGIN; LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(15); COMMIT;" \
    >/dev/null 2>&1 &
LOCKER=$!
broker_waits_on_lock() {
    [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")" -ge 1 ]
}
check "the broker's statement waits on the lock" el_wait_until 50 broker_waits_on_lock
ID1=$(send)
check "the 119 submits meanwhile (queued at its edge: $ID1)" test -n "$ID1"
OUT=$(probe "$PKI/nodes/71.crip" 71.crip handshake)
RC=$?
check "during the wait: a listed key's handshake is answered ($OUT)" \
    bash -c "[ $RC -eq 0 ] && [[ '$OUT' == handshake* ]]"
OUT=$(probe "$EL_DIR/rogue" fr.snated handshake)
RC=$?
check "during the wait: an unknown key is refused at once ($OUT)" \
    bash -c "[ $RC -eq 4 ] && [[ '$OUT' == refused* ]]"
check "  and the broker was still waiting on the lock then" broker_waits_on_lock
check "  and the lock was still held" kill -0 "$LOCKER"
N=$(metric egide_broker_zap_in_store_wait_total)
check "handshakes answered during store waits counted ($N)" test "${N:-0}" -ge 2
W=$(metric egide_broker_store_waits_total)
check "  and the rounds of waiting during the lock ($WAITS0 -> $W)" test "$W" -ge $((WAITS0 + 5))
check "  the refusal is not audited from inside the waiting statement" \
    test "$(metric egide_broker_zap_refused_audited_total)" = "$AUDITED0"

# The lock goes.
wait "$LOCKER"
LOCKER=
check "the referral sent during the wait is delivered" \
    el_wait_until 200 t_all_delivered fr.snated "$ID1"
check "  once" test "$(t_inbox_count 71.crip "$ID1")" -eq 1
audited_after() { [ "$(metric egide_broker_zap_refused_audited_total)" -eq $((AUDITED0 + 1)) ]; }
check "the refusal is audited after the wait (one leaf)" el_wait_until 50 audited_after
check "the broker is still up" kill -0 "${EL_PID[broker]}"
check "no rejection counted by the broker" \
    bash -c "! curl -s http://127.0.0.1:$EL_BROKER_API_PORT/metrics -H 'Authorization: Bearer $TOKEN' | grep -Eq '^egide_broker_messages_total\{outcome=\"rejected\"\} [1-9]'"
check "two envelopes in PostgreSQL" test "$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = 2

# The database goes away; reconnecting hangs 8 s on the silent host.
"$PGC" stop "$PGD/c"
health() { curl -s --max-time 2 "http://127.0.0.1:$EL_BROKER_API_PORT/v1/health"; }
store_down() { health | grep -q '"status": *"store_unavailable"'; }
check "broker health: store unavailable" el_wait_until 100 store_down
ID2=$(send)
check "the 119 submits during the outage (queued: $ID2)" test -n "$ID2"
silent_tried() { [ "$(ss -Htn state established "( dport = :$SILENT_PORT )" | wc -l)" -ge 1 ]; }
check "the broker is trying the silent host" el_wait_until 100 silent_tried
answered=0
for i in 1 2 3; do
    OUT=$(probe "$PKI/nodes/71.crip" 71.crip handshake)
    [[ "$OUT" == handshake* ]] && answered=$((answered + 1))
    echo "  probe $i during reconnection: $OUT"
    sleep 1
done
check "during reconnection attempts: 3 of 3 handshakes answered ($answered)" test "$answered" -eq 3
check "the broker is still up" kill -0 "${EL_PID[broker]}"
"$PGC" start "$PGD/c" >/dev/null || exit 1
store_up() { health | grep -q '"store": *"ok"'; }
check "broker health: store ok again" el_wait_until 300 store_up
check "the referral sent during the outage is delivered" \
    el_wait_until 300 t_all_delivered fr.snated "$ID2"
check "  once" test "$(t_inbox_count 71.crip "$ID2")" -eq 1
check "three envelopes in PostgreSQL" test "$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = 3

# A Hello lost with its batch.
"$PSQL" "$CONNINFO application_name=egide_test_locker" -qAt -c "BEGIN; LOCK TABLE audit_head IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;" \
    >/dev/null 2>&1 &
LOCKER=$!
locked() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE relation = 'audit_head'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ]; }
check "audit_head locked" el_wait_until 50 locked
ROLLED=$(grep -c 'batch rolled back' "$EL_DIR/state/broker/broker.log")
AGAIN=$(grep -c 'no Welcome to the last Hello: hello again' "$EL_DIR/state/71.crip/edge.log")
el_stop 71.crip
el_start_edge 71.crip || exit 1
hello_waits() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%audit_head%' AND pid <> pg_backend_pid()")" -ge 1 ]; }
check "the broker's audit append for the CRIP's Hello waits on the lock" el_wait_until 100 hello_waits
# Whatever waits on the lock is ended, for 6 s: the batch that handles the
# Hello (its audit append) is among them, whichever batch blocked first.
for i in 1 2 3 4 5 6; do
    psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%audit_head%' AND pid <> pg_backend_pid()" >/dev/null
    sleep 1
done
# the lock goes with its server session (killing psql alone leaves it)
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'egide_test_locker'" >/dev/null
wait "$LOCKER" 2>/dev/null
LOCKER=
rolled_back() { [ "$(grep -c 'batch rolled back' "$EL_DIR/state/broker/broker.log")" -gt "$ROLLED" ]; }
check "the batch with the Hello was rolled back, its Welcome not sent" el_wait_until 100 rolled_back
said_again() { [ "$(grep -c 'no Welcome to the last Hello: hello again' "$EL_DIR/state/71.crip/edge.log")" -gt "$AGAIN" ]; }
check "the CRIP's edge says Hello again, having had no Welcome" el_wait_until 150 said_again
ID3=$(send)
check "a referral after it is delivered" el_wait_until 200 t_all_delivered fr.snated "$ID3"
check "  once" test "$(t_inbox_count 71.crip "$ID3")" -eq 1
t_done
