#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_outage_10min.sh - issue 13, "must show": a broker outage of 10
# minutes with the default clock skew (5 minutes), during which the 119
# keeps sending (one referral every 30 s, 20 in all); when the broker is
# back, every referral is delivered to the CRIP exactly once and none is
# rejected.  ctest label "long" (about 11 minutes, mostly waiting): run in
# the plain pass of tests/run-all.sh, not again under the sanitizers.
T_TIMEOUT=1500
. "$(dirname "$0")/common.sh"
el_setup || exit 1
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered before the outage" el_wait_until 100 t_all_delivered fr.snated "$ID0"

el_stop broker
start=$(date +%s)
IDS=()
for i in $(seq 1 20); do
    id=$(send)
    [ -n "$id" ] && IDS+=("$id")
    sleep 30
done
check "the 119 kept sending during the outage (20 queued)" test "${#IDS[@]}" -eq 20
down=$(($(date +%s) - start))
check "the outage lasted 10 minutes ($down s)" test "$down" -ge 600
el_start_broker || exit 1
for id in "${IDS[@]}"; do
    check "queued referral $id delivered after the outage" el_wait_until 300 t_all_delivered fr.snated "$id"
    check "  and delivered once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
check "none rejected by the broker" bash -c "! grep -Eq 'REASON_(CLOCK_SKEW|EXPIRED|REPLAY)' '$EL_DIR/state/broker/broker.log'"
check "no rejection counted" bash -c "! curl -s http://127.0.0.1:$EL_BROKER_API_PORT/metrics -H 'Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")' | grep -Eq '^egide_broker_messages_total\{outcome=\"rejected\"\} [1-9]'"
t_done
