#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_offline.sh - a recipient edge that is offline when a message is sent
# receives it when it connects, and its DELIVERED receipt reaches the sender;
# a sender whose broker is down keeps the message queued and sends it when
# the broker comes back.
. "$(dirname "$0")/common.sh"

el_setup || exit 1
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
el_write_edge_config 71.tas.cluny-tournus # configured, not started
check "sender connected" el_wait_until 100 t_connected fr.snated

BODY=$(python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))")
ID=$(el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']")
crip_done() { el_api fr.snated GET "/v1/messages/$ID" | json "[r['state'] for r in j['recipients'] if r['node']=='71.crip'][0]" | grep -qx delivered; }
check "delivered to the CRIP, which is online" el_wait_until 100 crip_done
state_of() { el_api fr.snated GET "/v1/messages/$ID" | json "[r['state'] for r in j['recipients'] if r['node']=='$1'][0]"; }
check "the offline territory is still queued" test "$(state_of 71.tas.cluny-tournus)" = queued

el_start_edge 71.tas.cluny-tournus || exit 1
check "the territory receives it once it connects" el_wait_until 150 t_all_delivered fr.snated "$ID"
check "exactly once in its inbox" test "$(t_inbox_count 71.tas.cluny-tournus "$ID")" = 1
check "its DELIVERED receipt reached the 119" \
    test "$(el_api fr.snated GET "/v1/messages/$ID" | json "sum(1 for r in j['receipts'] if r['kind']=='DELIVERED' and r['issuer']=='71.tas.cluny-tournus')")" = 1

# The broker goes away: the sender keeps the message and sends it later.
el_stop broker
ID2=$(el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']")
check "accepted locally while the broker is down" test ${#ID2} -eq 32
sleep 1
check "still queued at the sender" \
    test "$(el_api fr.snated GET "/v1/messages/$ID2" | json "j['state']")" = queued
el_start_broker || exit 1
check "sent and delivered once the broker is back" el_wait_until 200 t_all_delivered fr.snated "$ID2"
check "exactly once at the CRIP" test "$(t_inbox_count 71.crip "$ID2")" = 1
t_done
