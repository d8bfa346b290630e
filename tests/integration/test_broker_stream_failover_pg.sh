#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_stream_failover_pg.sh - issue 14's "kill -9 of the active
# broker during a stream of 1,000 referrals": two brokers on one
# PostgreSQL store, both listed in the directory; the 119 streams 1,000
# referrals to the CRIP; once 300 are submitted the active broker is
# killed (SIGKILL: its lease is not given up); the passive one takes over
# when the lease expires and the edges move to it.  At the end each
# referral is in the CRIP's inbox exactly once, and the sender holds, for
# each, the broker's ACCEPTED and the CRIP's DELIVERED receipts.  Label "pg".
T_TIMEOUT=${T_TIMEOUT:-420}
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/pg_ha.sh"

N=1000
KILL_AT=300
ha_setup 3 || exit 1
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do el_wait_until 100 t_connected "$n" || { bad "$n connects"; t_done; }; done
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 grep -q 'passive: another broker holds it' "$EL_DIR/state/broker/broker2.log"

BODY=$(ha_body)
IDS="$EL_DIR/ids"
: >"$IDS"
stream() { # N: submit N referrals, one id per line
    local i id
    for ((i = 0; i < $1; i++)); do
        id=$(el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']") || id=""
        [ ${#id} -eq 32 ] && echo "$id" >>"$IDS"
    done
}
stream "$N" &
STREAM=$!
submitted() { [ "$(wc -l <"$IDS")" -ge "$1" ]; }
check "$KILL_AT referrals submitted while the first broker serves" el_wait_until 1200 submitted "$KILL_AT"
kill -KILL "$B1"
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
check "the second broker takes the lease once it expires" \
    el_wait_until 150 grep -q 'active: this broker holds' "$EL_DIR/state/broker/broker2.log"
wait "$STREAM"
check "all $N referrals submitted (none refused by the sending edge)" test "$(wc -l <"$IDS")" -eq "$N"
SDB="$EL_DIR/state/fr.snated/edge.sqlite"
CDB="$EL_DIR/state/71.crip/edge.sqlite"
delivered_all() {
    [ "$(sqlite3 "$SDB" "SELECT count(*) FROM outbox_rcpt WHERE node_id='71.crip' AND state >= 1")" -ge "$N" ]
}
check "every referral delivered (the sender holds each recipient's answer)" el_wait_until 1000 delivered_all
check "the CRIP holds $N referrals, each exactly once" \
    test "$(sqlite3 "$CDB" "SELECT count(*) || ' ' || count(DISTINCT msg_id) FROM inbox WHERE sender_id='fr.snated'")" = "$N $N"
in_inbox() { # every submitted id is in the CRIP's inbox
    local missing
    missing=$(sqlite3 "$CDB" "SELECT lower(hex(msg_id)) FROM inbox" | sort | comm -23 <(sort "$IDS") -)
    [ -z "$missing" ]
}
check "  and they are the ids the sender was given" in_inbox
check "the sender holds the broker's ACCEPTED for each" \
    test "$(sqlite3 "$SDB" "SELECT count(DISTINCT msg_id) FROM receipts WHERE kind=1 AND issuer='71.broker'")" -eq "$N"
check "  and the CRIP's signed DELIVERED for each" \
    test "$(sqlite3 "$SDB" "SELECT count(DISTINCT msg_id) FROM receipts WHERE kind=2 AND issuer='71.crip'")" -eq "$N"
check "none rejected" test "$(sqlite3 "$SDB" "SELECT count(*) FROM outbox WHERE state=2")" -eq 0
check "$N envelopes in the store, each once" test "$(psql_q 'SELECT count(*) || chr(32) || count(DISTINCT msg_id) FROM envelopes')" = "$N $N"
check "one audit log, no gap, no fork" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
for n in fr.snated 71.crip; do check "$n: no witness alert" ha_no_alert "$n"; done
t_done
