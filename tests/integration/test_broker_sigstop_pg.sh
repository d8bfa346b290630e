#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_sigstop_pg.sh - two brokers on one PostgreSQL store (lease
# 3 s), edges configured by the directory only.  While referrals stream,
# the active broker is stopped (SIGSTOP) past its lease; the passive one
# takes over (epoch 2) and the edges move to it.  Then the first resumes
# (SIGCONT): its first commit is refused by the epoch check (fencing), it
# steps down (passive, health 503 with the reason) and writes nothing: the
# lease stays epoch 2 with the second broker, every envelope is stored
# once, the audit log has no gap and verifies, no edge's witness raises a
# fork or rollback alert.  Every referral reaches the recipient's inbox
# exactly once and the sender has its receipts.  Then the second stops
# cleanly: the first takes over again (epoch 3), the edges follow.
# Label "pg".
T_TIMEOUT=${T_TIMEOUT:-170}
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/pg_ha.sh"

ha_setup 3 || exit 1
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 grep -q 'passive: another broker holds it' "$EL_DIR/state/broker/broker2.log"
BODY=$(ha_body)
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
IDS=()
for i in $(seq 1 10); do IDS+=("$(send)"); done
check "the first referrals accepted by the first broker" el_wait_until 150 t_all_delivered fr.snated "${IDS[9]}"

# Stopped mid-stream, past its lease.
kill -STOP "$B1"
for i in $(seq 1 10); do IDS+=("$(send)"); sleep 0.2; done
check "the second broker takes over while the first is stopped" \
    el_wait_until 150 grep -q 'active: this broker holds' "$EL_DIR/state/broker/broker2.log"
check "  at epoch 2" test "$(psql_q "SELECT holder LIKE '%/$B2' AND epoch = 2 FROM broker_lease")" = t
for n in fr.snated 71.crip; do
    check "$n moves to the second broker" el_wait_until 150 ha_on "$n" "$B2_PORT"
done
for i in $(seq 1 5); do IDS+=("$(send)"); done
check "referrals flow through the second broker" el_wait_until 150 t_all_delivered fr.snated "${IDS[24]}"
# The second broker idle: the store's counts settle (bounded wait).
counts() { psql_q "SELECT (SELECT size FROM audit_head) || '/' || (SELECT count(*) FROM envelopes) || '/' || (SELECT count(*) FROM deliveries WHERE state = 0)"; }
settled() { local a; a=$(counts); sleep 1; [ "$a" = "$(counts)" ]; }
check "the store settles (nothing queued)" el_wait_until 20 settled
BEFORE=$(counts)

# The first one resumes.
kill -CONT "$B1"
# Resumed between rounds, its next commit meets the fence (the epoch check
# in the transaction); resumed inside a commit the server had already
# finished before the lease ran out, its lease renewal right after finds
# the lease another's.  Either way nothing is written (checked below); the
# fence alone is checked in unit.test_broker_store (test_lease, pg).
fenced() {
    grep -q 'write lease (epoch 1) is lost: this transaction is not committed' "$EL_DIR/state/broker/broker.log" ||
        grep -q 'passive: the store.s write lease was taken by another broker' "$EL_DIR/state/broker/broker.log"
}
check "the resumed broker is fenced (its commit refused by the epoch check, or its renewal refused)" \
    el_wait_until 100 fenced
check "  it steps down" el_wait_until 100 grep -q 'passive: the store.s write lease was taken by another broker: stepping down' "$EL_DIR/state/broker/broker.log"
check "  and stays up, passive (health 503, with the reason)" el_wait_until 50 ha_passive "$EL_BROKER_API_PORT"
check "  it did not take the lease back (epoch 2, the second broker)" \
    test "$(psql_q "SELECT holder LIKE '%/$B2' AND epoch = 2 FROM broker_lease")" = t
sleep 2
check "  it wrote nothing (audit size, envelopes, queued deliveries unchanged)" test "$(counts)" = "$BEFORE"
for i in $(seq 1 5); do IDS+=("$(send)"); done

F0=$T_FAIL
for id in "${IDS[@]}"; do
    if ! el_wait_until 200 t_all_delivered fr.snated "$id"; then bad "referral $id delivered"; continue; fi
    [ "$(t_inbox_count 71.crip "$id")" -eq 1 ] || bad "referral $id in the inbox exactly once"
    r=$(el_api fr.snated GET "/v1/messages/$id" | json "sorted(set(r['kind'] for r in j['receipts'] if r.get('verified', True)))")
    [ "$r" = "['ACCEPTED', 'DELIVERED']" ] || bad "referral $id: the sender's receipts ($r)"
done
check "all ${#IDS[@]} referrals delivered, each once, with their receipts" test "$T_FAIL" -eq "$F0"
check "${#IDS[@]} envelopes in the store, each once" \
    test "$(psql_q 'SELECT count(*) FROM envelopes')/$(psql_q 'SELECT count(DISTINCT msg_id) FROM envelopes')" = "${#IDS[@]}/${#IDS[@]}"
check "one audit log, no gap" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
sleep 3 # a checkpoint of the second broker reaches the edges
for n in fr.snated 71.crip; do check "$n: no witness fork or rollback alert" ha_no_alert "$n"; done
for id in "${IDS[0]}" "${IDS[29]}"; do
    check "the auditor proves $id (accepted by the first, the second) in the log the second signs" \
        "$EGIDE_BIN/egide" audit prove "$id" --api "http://127.0.0.1:$B2_API_PORT" \
        --token-file "$EL_DIR/state/broker/api.token" --anchor "$EL_DIR/pki/nodes/71.broker/sign.crt"
done

# The stepped-down broker can serve again: the second one stops cleanly
# (gives the lease up); the first takes it over (epoch 3, with the takeover
# checks) and the edges move back to it.
el_stop broker2
check "the stepped-down broker takes over again when the lease is free" \
    el_wait_until 100 grep -q 'takeover done in' "$EL_DIR/state/broker/broker.log"
check "  at epoch 3" test "$(psql_q "SELECT holder LIKE '%/$B1' AND epoch = 3 FROM broker_lease")" = t
for n in fr.snated 71.crip; do
    check "$n moves back to the first broker" el_wait_until 150 ha_on "$n" "$EL_BROKER_PORT"
done
ID=$(send)
check "a referral delivered through it" el_wait_until 150 t_all_delivered fr.snated "$ID"
check "  once" test "$(t_inbox_count 71.crip "$ID")" -eq 1
for n in fr.snated 71.crip; do check "$n: still no witness alert" ha_no_alert "$n"; done
t_done
