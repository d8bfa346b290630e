#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_failover_pg.sh - two brokers on one PostgreSQL store with
# [store] lease_seconds: the second waits passive while the first holds the
# write lease; the first crashes (SIGKILL: its lease is not given up); once
# the lease expires the second takes it with a higher epoch, binds the same
# endpoint, and the referrals sent meanwhile are delivered once; the audit
# log has no gap; a clean stop gives the lease up.  Label "pg".
. "$(dirname "$0")/common.sh"
PGC="$EL_ROOT/tests/tools/pg-test-cluster.sh"
PGD=$(mktemp -d /tmp/egide-pg.XXXXXX)
chmod 755 "$PGD" # the server runs as postgres
pg_cleanup() { "$PGC" stop "$PGD/c" 2>/dev/null; rm -rf "$PGD"; }
trap 'pg_cleanup; t_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT
"$PGC" init "$PGD/c" || { rc=$?; [ $rc -eq 77 ] && [ "${EGIDE_TEST_PG_REQUIRED:-0}" != 1 ] && { echo "SKIP: no PostgreSQL server tools"; exit 0; }; exit 1; }
"$PGC" start "$PGD/c" >/dev/null || exit 1
CONNINFO=$("$PGC" createdb "$PGD/c" egide_broker) || exit 1
psql_q() { "${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql" "$CONNINFO" -qAt -c "$1"; }

el_setup || exit 1
INI="$EL_DIR/state/broker/broker.ini"
printf '[store]\nbackend = postgresql\nconninfo = %s\nlease_seconds = 3\n' "$CONNINFO" >>"$INI"
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered through the first broker" el_wait_until 150 t_all_delivered fr.snated "$ID0"
check "the first broker holds the lease at epoch 1" \
    test "$(psql_q "SELECT holder LIKE '%/$B1' AND epoch = 1 FROM broker_lease")" = t

# The second broker: the same configuration, passive.
"$EGIDE_BIN/egide-broker" -c "$INI" >>"$EL_DIR/state/broker/broker2.log" 2>&1 &
EL_PID[broker2]=$!
B2=${EL_PID[broker2]}
check "the second broker waits passive" el_wait_until 100 grep -q 'passive: another broker holds it' "$EL_DIR/state/broker/broker2.log"
sleep 4 # longer than the lease: the first one renews it
check "  and stays passive while the first one renews" bash -c "! grep -q 'active:' '$EL_DIR/state/broker/broker2.log' && kill -0 $B2"
check "  without taking it" \
    test "$(psql_q "SELECT epoch FROM broker_lease")" = 1

# The first broker crashes; referrals are sent during the switch.
kill -KILL "$B1"
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
IDS=()
for i in 1 2; do IDS+=("$(send)"); done
check "the second broker takes the lease once it expires" el_wait_until 150 grep -q 'active: this broker holds' "$EL_DIR/state/broker/broker2.log"
check "  at epoch 2, held by the second broker" \
    test "$(psql_q "SELECT holder LIKE '%/$B2' AND epoch = 2 FROM broker_lease")" = t
for id in "${IDS[@]}" "$ID0"; do
    check "referral $id delivered" el_wait_until 200 t_all_delivered fr.snated "$id"
    check "  once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
check "three envelopes in the store, each once" test "$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = 3
check "one audit log, no gap, no fork" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t

# A clean stop gives the lease up.
el_stop broker2
check "a clean stop gives the lease up" grep -q 'write lease given up' "$EL_DIR/state/broker/broker2.log"
check "  (expired in the store)" \
    test "$(psql_q "SELECT expires_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM broker_lease")" = t
t_done
