#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_failover_pg.sh - two brokers on one PostgreSQL store with
# [store] lease_seconds, each on its own endpoint, both listed in the signed
# directory; the edges know them from the directory only.  The second waits
# passive (health 503 "passive") while the first holds the write lease; the
# first crashes (SIGKILL: its lease is not given up); once the lease expires
# the second takes it with a higher epoch, the edges move to it, and the
# referrals sent meanwhile are delivered once; the audit log has no gap; a
# clean stop gives the lease up.  Label "pg".
T_TIMEOUT=${T_TIMEOUT:-170}
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/pg_ha.sh"

ha_setup 3 || exit 1
check "the directory lists both brokers" \
    test "$("$EGIDE_BIN/egide" directory show "$EL_DIR/pki/directory.bin" 2>/dev/null | grep -c "tcp://127.0.0.1:\($EL_BROKER_PORT\|$B2_PORT\)")" -ge 2
check "no broker endpoint in the edges' configuration" bash -c "! grep -q broker_endpoint '$EL_DIR/state/fr.snated/edge.ini'"
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
BODY=$(ha_body)
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered through the first broker" el_wait_until 150 t_all_delivered fr.snated "$ID0"
check "the first broker holds the lease at epoch 1" \
    test "$(psql_q "SELECT holder LIKE '%/$B1' AND epoch = 1 FROM broker_lease")" = t

# The second broker: the same store, its own endpoint, passive.
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 grep -q 'passive: another broker holds it' "$EL_DIR/state/broker/broker2.log"
check "  its health says so (503, passive, why)" ha_passive "$B2_API_PORT"
sleep 4 # longer than the lease: the first one renews it
check "  and stays passive while the first one renews" bash -c "! grep -q 'active:' '$EL_DIR/state/broker/broker2.log' && kill -0 $B2"
check "  without taking it" test "$(psql_q "SELECT epoch FROM broker_lease")" = 1

# The first broker crashes; referrals are sent during the switch.
kill -KILL "$B1"
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
IDS=()
for i in 1 2; do IDS+=("$(send)"); done
check "the second broker takes the lease once it expires" el_wait_until 150 grep -q 'active: this broker holds' "$EL_DIR/state/broker/broker2.log"
check "  at epoch 2, held by the second broker" \
    test "$(psql_q "SELECT holder LIKE '%/$B2' AND epoch = 2 FROM broker_lease")" = t
check "  after recomputing the audit log from its leaves" grep -q 'takeover: the audit log.s [0-9]* leaves hash to the stored tree' "$EL_DIR/state/broker/broker2.log"
for n in fr.snated 71.crip; do
    check "$n moves to the second broker (directory list)" el_wait_until 150 ha_on "$n" "$B2_PORT"
done
for id in "${IDS[@]}" "$ID0"; do
    check "referral $id delivered" el_wait_until 200 t_all_delivered fr.snated "$id"
    check "  once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
check "three envelopes in the store, each once" test "$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = 3
check "one audit log, no gap, no fork" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
for n in fr.snated 71.crip; do check "$n: no witness alert" ha_no_alert "$n"; done

# A clean stop gives the lease up.
el_stop broker2
check "a clean stop gives the lease up" grep -q 'write lease given up' "$EL_DIR/state/broker/broker2.log"
check "  (expired in the store)" \
    test "$(psql_q "SELECT expires_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM broker_lease")" = t
t_done
