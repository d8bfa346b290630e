#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_outage.sh - issue 13 item 1: referrals queued at the sender
# while the broker is down, for longer than the broker's clock skew, are
# accepted and delivered once when it is back, none rejected.  The skew is
# set to its minimum (1 s) and the outage lasts 6 s, so the test shows in
# seconds what a 10-minute outage did with the default 5-minute skew.
. "$(dirname "$0")/common.sh"
el_setup || exit 1
sed -i 's/^\[broker\]$/[broker]\nclock_skew_ms = 1000/' "$EL_DIR/state/broker/broker.ini"
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
ID0=$(send)
check "delivered before the outage" el_wait_until 100 t_all_delivered fr.snated "$ID0"

el_stop broker
IDS=()
for i in 1 2 3; do IDS+=("$(send)"); done
check "queued at the sender during the outage" test "${#IDS[@]}" -eq 3
sleep 6 # the outage outlasts the skew six times
el_start_broker || exit 1
for id in "${IDS[@]}"; do
    check "queued referral $id delivered after the outage" el_wait_until 150 t_all_delivered fr.snated "$id"
    check "  and delivered once" test "$(t_inbox_count 71.crip "$id")" -eq 1
done
check "none rejected by the broker" bash -c "! grep -q 'REASON_CLOCK_SKEW' '$EL_DIR/state/broker/broker.log'"
check "no rejection counted" bash -c "! curl -s http://127.0.0.1:$EL_BROKER_API_PORT/metrics -H 'Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")' | grep -Eq '^egide_broker_messages_total\{outcome=\"rejected\"\} [1-9]'"
t_done
