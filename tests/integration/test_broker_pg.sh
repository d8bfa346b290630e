#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_pg.sh - the real broker on [store] backend = postgresql (a
# temporary PostgreSQL 15 cluster, tests/tools/pg-test-cluster.sh), edges on
# SQLite: a referral end to end with its receipts and its audit proof; then
# the database stopped (pg_ctl stop -m fast) while the 119 sends: the
# referrals stay queued at the sender (none rejected), the broker stays up
# and its health says the store is unavailable; the database back: every
# referral delivered, once.  Label "pg".
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
# Refused at start, clearly: no conninfo; a server that is not there.
cp "$INI" "$EL_DIR/noconn.ini"
printf '[store]\nbackend = postgresql\n' >>"$EL_DIR/noconn.ini"
out=$(timeout 30 "$EGIDE_BIN/egide-broker" -c "$EL_DIR/noconn.ini" 2>&1)
rc=$?
check "backend = postgresql without conninfo: refused at start" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF '[store] conninfo' <<<\"\$0\"" "$out"
cp "$INI" "$EL_DIR/noserver.ini"
printf '[store]\nbackend = postgresql\nconninfo = host=127.0.0.1 port=%s dbname=x user=postgres connect_timeout=2\n' \
    "$(el_free_port)" >>"$EL_DIR/noserver.ini"
out=$(timeout 30 "$EGIDE_BIN/egide-broker" -c "$EL_DIR/noserver.ini" 2>&1)
rc=$?
check "no server at start: a clear error, no crash (exit $rc)" \
    bash -c "[ $rc -ge 1 ] && [ $rc -le 3 ] && grep -q 'postgresql: cannot connect' <<<\"\$0\"" "$out"
printf '[store]\nbackend = postgresql\nconninfo = %s\n' "$CONNINFO" >>"$INI"
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the broker" el_wait_until 100 t_connected "$n"; done
check "the broker runs on the postgresql store" grep -q 'postgresql store' "$EL_DIR/state/broker/broker.log"

BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered end to end" el_wait_until 150 t_all_delivered fr.snated "$ID0"
M=$(el_api fr.snated GET "/v1/messages/$ID0")
check "ACCEPTED by the broker, with an audit leaf index" \
    test "$(echo "$M" | json "[r['kind'] for r in j['receipts'] if r['issuer']=='71.broker' and 'audit_leaf_index' in r]")" = "['ACCEPTED']"
check "a verified DELIVERED receipt from the CRIP" \
    test "$(echo "$M" | json "[r['issuer'] for r in j['receipts'] if r['kind']=='DELIVERED' and r['verified']]")" = "['71.crip']"
check "one envelope row in PostgreSQL" test "$(psql_q 'SELECT count(*) FROM envelopes')" = 1
check "no broker.sqlite was made" test ! -e "$EL_DIR/state/broker/broker.sqlite"
check "its audit leaves are in PostgreSQL, head = leaf count" \
    test "$(psql_q 'SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves)')" = t
sleep 2.5 # a checkpoint covering it
check "the auditor proves it is in the signed log (API on the PostgreSQL reader)" \
    "$EGIDE_BIN/egide" audit prove "$ID0" --api "http://127.0.0.1:$EL_BROKER_API_PORT" \
    --token-file "$EL_DIR/state/broker/api.token" --anchor "$EL_DIR/pki/nodes/71.broker/sign.crt"

# The database goes away while the 119 sends.
"$PGC" stop "$PGD/c"
IDS=()
for i in 1 2 3; do IDS+=("$(send)"); done
check "three referrals queued at the sender" test "${#IDS[@]}" -eq 3
health() { curl -s --max-time 2 "http://127.0.0.1:$EL_BROKER_API_PORT/v1/health"; }
store_down() { health | grep -q '"status": *"store_unavailable"'; }
check "broker health: store unavailable" el_wait_until 100 store_down
check "  answered with 503" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EL_BROKER_API_PORT/v1/health")" = 503
sleep 3
check "the broker is still up" kill -0 "${EL_PID[broker]}"
states() { el_api fr.snated GET "/v1/messages/$1" | json "','.join(r['state'] for r in j['recipients'])"; }
for id in "${IDS[@]}"; do
    check "referral $id still queued at the sender, not rejected" test "$(states "$id")" = queued
done
check "the broker logged why it takes no new work" grep -q 'store unavailable' "$EL_DIR/state/broker/broker.log"

# The database is back.
"$PGC" start "$PGD/c" >/dev/null || exit 1
store_up() { health | grep -q '"store": *"ok"'; }
check "broker health: store ok again" el_wait_until 150 store_up
for id in "${IDS[@]}"; do
    check "referral $id delivered after the database is back" el_wait_until 200 t_all_delivered fr.snated "$id"
    check "  once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
check "four envelopes in PostgreSQL, each once" test "$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = 4
check "no rejection counted by the broker" bash -c "! curl -s http://127.0.0.1:$EL_BROKER_API_PORT/metrics -H 'Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")' | grep -Eq '^egide_broker_messages_total\{outcome=\"rejected\"\} [1-9]'"
check "the audit log on PostgreSQL verifies (leaves, hashes, head)" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
t_done
