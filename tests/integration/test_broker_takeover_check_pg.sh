#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_takeover_check_pg.sh - at a takeover the new active broker
# recomputes the audit log from the stored leaves before it signs: a leaf
# altered in PostgreSQL (the append-only triggers bypassed, as a database
# administrator could) while the passive broker waits; the active one is
# killed; the passive takes the lease, finds that the leaves no longer hash
# to what was signed, and refuses to serve: a clear log line, health 503
# "refusing" with the reason, the lease given up, nothing signed or
# written, edges refused.  Label "pg".
T_TIMEOUT=${T_TIMEOUT:-170}
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/pg_ha.sh"

ha_setup 3 || exit 1
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
BODY=$(ha_body)
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
ID1=$(send)
check "delivered through the first broker" el_wait_until 150 t_all_delivered fr.snated "$ID1"
signed() { [ "$(psql_q "SELECT max(size) >= (SELECT size FROM audit_head) FROM audit_checkpoints")" = t ]; }
check "a signed checkpoint covers the whole log" el_wait_until 100 signed
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 grep -q 'passive: another broker holds it' "$EL_DIR/state/broker/broker2.log"

# A stored leaf altered behind the brokers' back (one byte of entry 1).
check "a leaf altered in PostgreSQL (triggers bypassed)" \
    test "$(psql_q "SET session_replication_role = replica; UPDATE audit_leaves SET leaf = set_byte(leaf, 3, get_byte(leaf, 3) # 1) WHERE idx = 1 RETURNING idx")" = 1
SIZE=$(psql_q "SELECT size FROM audit_head")
CPS=$(psql_q "SELECT count(*) FROM audit_checkpoints")
kill -KILL "$B1"
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
ID2=$(send)
L2="$EL_DIR/state/broker/broker2.log"
check "the second broker takes the lease once it expires" el_wait_until 150 grep -q 'active: this broker holds' "$L2"
check "  recomputes the log from its leaves and finds entry 1 altered" \
    el_wait_until 100 grep -q 'takeover: the audit log recomputed from its stored leaves disagrees .*entry 1 ' "$L2"
check "  and refuses to serve (log)" grep -q 'refusing to serve:' "$L2"
refusing() {
    local h
    h=$(curl -s -w ' %{http_code}' --max-time 2 "http://127.0.0.1:$B2_API_PORT/v1/health") || return 1
    grep -q '"status": *"refusing"' <<<"$h" && grep -q '"reason": *"the audit log recomputed from its stored leaves disagrees' <<<"$h" &&
        [ "${h##* }" = 503 ]
}
check "  health: 503, refusing, with the reason" refusing
check "  still running" kill -0 "$B2"
check "  the lease given up (expired in the store)" \
    test "$(psql_q "SELECT expires_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM broker_lease")" = t
sleep 4 # edges try it meanwhile
check "  nothing appended or signed" \
    test "$(psql_q "SELECT size FROM audit_head")/$(psql_q "SELECT count(*) FROM audit_checkpoints")" = "$SIZE/$CPS"
check "  the referral sent after the crash is not accepted" \
    test "$(psql_q "SELECT count(*) FROM envelopes")" = 2
refused() { curl -s -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" "http://127.0.0.1:$B2_API_PORT/metrics" | grep -Eq '^egide_broker_passive_refusals_total [1-9]'; }
check "  the edges that try it are refused" el_wait_until 100 refused
check "  the sender keeps it queued, not rejected" \
    test "$(el_api fr.snated GET "/v1/messages/$ID2" | json "','.join(r['state'] for r in j['recipients'])")" = queued
t_done
