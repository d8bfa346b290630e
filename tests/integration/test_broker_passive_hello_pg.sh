#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_passive_hello_pg.sh - edges that reach the passive broker
# before it takes over.  Two brokers on one PostgreSQL store, a long lease
# (15 s), edges noticing a dead broker in 3 s: when the active broker is
# killed, the edges move to the passive one well before its takeover.  The
# passive broker must answer their Hello with REASON_BROKER_PASSIVE (it
# used to drop the answer: it had no connection entry to send it by, so an
# edge stayed on the passive broker, its Hello never answered, the
# recipient never Hello'd the broker once active, its deliveries never
# came, and the checkpoints pushed to the sender without the proof from
# the size it holds raised a false fork alert).  Then, once the second
# broker serves: each edge said Hello to it, the referrals sent during the
# switch are delivered once, no witness alert.  Label "pg".
T_TIMEOUT=${T_TIMEOUT:-200}
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/pg_ha.sh"

ha_setup 15 || exit 1
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 ha_passive "$B2_API_PORT"
BODY=$(ha_body)
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered through the first broker" el_wait_until 150 t_all_delivered fr.snated "$ID0"
sleep 2.5 # a checkpoint covering it at both edges

kill -KILL "$B1"
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
KILLED=$(date +%s)
IDS=()
for i in 1 2 3; do IDS+=("$(send)"); done
told_passive() { grep -q "broker tcp://127.0.0.1:$B2_PORT is passive" "$EL_DIR/state/$1/edge.log"; }
for n in fr.snated 71.crip; do
    check "$n reaches the passive broker and is told so (REASON_BROKER_PASSIVE)" \
        el_wait_until 60 told_passive "$n"
done
check "  before the takeover" bash -c "! grep -q 'active: this broker holds' '$EL_DIR/state/broker/broker2.log'"
check "the second broker takes the lease" \
    el_wait_until 150 grep -q 'active: this broker holds' "$EL_DIR/state/broker/broker2.log"
echo "takeover $(($(date +%s) - KILLED)) s after the kill"
for n in fr.snated 71.crip; do
    check "$n on the second broker" el_wait_until 150 ha_on "$n" "$B2_PORT"
done
for id in "${IDS[@]}"; do
    check "referral $id sent during the switch: delivered" el_wait_until 200 t_all_delivered fr.snated "$id"
    check "  once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
sleep 2.5 # checkpoints from the second broker
for n in fr.snated 71.crip; do check "$n: no witness alert" ha_no_alert "$n"; done
check "one audit log, no gap" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
t_done
