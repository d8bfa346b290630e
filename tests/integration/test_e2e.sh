#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_e2e.sh - end to end on loopback: submitted -> ACCEPTED -> DELIVERED at
# every recipient, the payload identical at each recipient, receipts
# verified, acknowledgements back at the sender, routing by commune, clear
# API errors, the broker's metrics and audit proof.
. "$(dirname "$0")/common.sh"

el_setup || exit 1
el_start_broker || exit 1
for n in fr.snated 71.crip 71.tas.macon 71.tas.cluny-tournus; do el_start_edge "$n" || exit 1; done
for n in fr.snated 71.crip 71.tas.macon 71.tas.cluny-tournus; do
    check "$n connects to the broker" el_wait_until 100 t_connected "$n"
done

SAMPLE="$EL_ROOT/deploy/samples/snated-cluny.json"
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':json.load(open('$SAMPLE'))}))")
R=$(el_api fr.snated POST /v1/messages -d "$BODY")
ID=$(echo "$R" | json "j['id']")
check "submission answers 202 with an id" test ${#ID} -eq 32
# The sample's sender is confidential: its identity reaches the CRIP only,
# so the territory gets a message of its own without it (issue 13 item 14).
check "routed by commune 71137: the CRIP's message, and the territory's copy" \
    test "$(echo "$R" | json "' '.join(j['recipients'] + [r for c in j['copies'] for r in c['recipients']])")" = "71.crip 71.tas.cluny-tournus"
ID2=$(echo "$R" | json "j['copies'][0]['id']")
check "the copy withholds the sender's organisation, role and reference" \
    test "$(echo "$R" | json "','.join(j['copies'][0]['withheld'])")" = "sender.role,sender.organisation,sender.reference"
check "delivered to every recipient" el_wait_until 150 t_all_delivered fr.snated "$ID"
check "the territory's copy delivered too" el_wait_until 150 t_all_delivered fr.snated "$ID2"

M=$(el_api fr.snated GET "/v1/messages/$ID")
check "ACCEPTED by the broker, with an audit leaf index" \
    test "$(echo "$M" | json "[r['kind'] for r in j['receipts'] if r['issuer']=='71.broker' and 'audit_leaf_index' in r]")" = "['ACCEPTED']"
M2=$(el_api fr.snated GET "/v1/messages/$ID2")
check "one DELIVERED receipt per recipient, each verified" \
    test "$(echo "$M" "$M2" | python3 -c "
import json,sys
d=json.JSONDecoder(); t=sys.stdin.read().strip(); out=[]; i=0
while i < len(t):
    o,i=d.raw_decode(t,i); i+=len(t[i:])-len(t[i:].lstrip())
    out+= [r['issuer'] for r in o['receipts'] if r['kind']=='DELIVERED' and r['verified']]
print(sorted(out))")" = "['71.crip', '71.tas.cluny-tournus']"

P=$(el_api 71.crip GET "/v1/messages/$ID")
check "71.crip: payload identical to what was sent" python3 -c "
import json,sys
got=json.loads(sys.argv[1])['payload']; sent=json.load(open('$SAMPLE'))
sent.pop('_comment', None)  # the validator drops the sample's comment; everything else travels
if got != sent:
    print('sent:', json.dumps(sent, sort_keys=True)[:2000]); print('got: ', json.dumps(got, sort_keys=True)[:2000])
sys.exit(0 if got==sent else 1)" "$P"
check "71.crip: sender is fr.snated" test "$(echo "$P" | json "j['sender']")" = fr.snated
P2=$(el_api 71.tas.cluny-tournus GET "/v1/messages/$ID2")
check "71.tas.cluny-tournus: the payload as sent without the sender's identity" python3 -c "
import json,sys
got=json.loads(sys.argv[1])['payload']; sent=json.load(open('$SAMPLE'))
sent.pop('_comment', None)
for k in ('organisation', 'role', 'reference'):
    sent['sender'].pop(k, None)
if got != sent:
    print('want:', json.dumps(sent, sort_keys=True)[:2000]); print('got: ', json.dumps(got, sort_keys=True)[:2000])
sys.exit(0 if got==sent and got['sender'].get('confidential') else 1)" "$P2"
check "71.tas.cluny-tournus: sender is fr.snated" test "$(echo "$P2" | json "j['sender']")" = fr.snated
check "71.tas.cluny-tournus never received the CRIP's message" test "$(t_inbox_count 71.tas.cluny-tournus "$ID")" = 0
check "Mâcon territory did not receive the Cluny referral" test "$(t_inbox_count 71.tas.macon "$ID")" = 0
check "nor its copy" test "$(t_inbox_count 71.tas.macon "$ID2")" = 0

# Byte-for-byte: what the CRIP stored is the payload sealed for it.
H1=$(sqlite3 "$EL_DIR/state/71.crip/edge.sqlite" "SELECT hex(payload) FROM inbox WHERE hex(msg_id)=upper('$ID')" | sha256sum)
H2=$(sqlite3 "$EL_DIR/state/71.tas.cluny-tournus/edge.sqlite" "SELECT hex(payload) FROM inbox WHERE hex(msg_id)=upper('$ID2')" | sha256sum)
check "the two recipients stored different payloads (the identity withheld)" test "$H1" != "$H2"

# Acknowledgement by the CRIP travels back as a message of its own.
el_api 71.crip POST "/v1/messages/$ID/ack" -d '{"note":"reçu, qualification en cours"}' >/dev/null
acked() { el_api fr.snated GET "/v1/messages/$ID" | json "[r['state'] for r in j['recipients'] if r['node']=='71.crip'][0]" | grep -qx acknowledged; }
check "the 119 sees the CRIP's acknowledgement" el_wait_until 100 acked
check "the CRIP's inbox shows it acknowledged" \
    test "$(el_api 71.crip GET "/v1/messages/$ID" | json "j['state']")" = acknowledged

# Deadlines: a 119 transmission starts the CRIP's clocks.
check "the CRIP lists its qualification, evaluation and yearly export started by the transmission" \
    test "$(el_api 71.crip GET /v1/deadlines | json "','.join(sorted(d['name']+'/'+d['role'] for d in j['obligations'] if d['start_msg']=='$ID'))")" = "evaluation/act,observatory_export/act,qualification/act"
# The sample's received_at is months old: the clocks run from the CRIP's
# own receipt, so nothing is overdue on arrival.
check "nothing overdue on arrival at the CRIP" \
    test "$(el_api 71.crip GET '/v1/deadlines?state=overdue' | json "j['total']")" = 0
check "the CRIP's page says its total and that no page follows" \
    test "$(el_api 71.crip GET /v1/deadlines | json "(j['total'] == len(j['obligations']), j['next'])")" = "(True, None)"
check "the 119, which only sent it, holds no obligation" \
    test "$(el_api fr.snated GET '/v1/deadlines?state=any' | json "j['total']")" = 0
check "the territory, only copied, holds no obligation yet" \
    test "$(el_api 71.tas.cluny-tournus GET '/v1/deadlines?state=any' | json "j['total']")" = 0

EM=$(curl -s -H "Authorization: Bearer $(cat "$EL_DIR/state/71.crip/api.token")" "http://127.0.0.1:${EL_PORT[71.crip]}/metrics")
check "edge metrics count open deadlines" grep -Eq '^egide_edge_deadlines\{state="open"\} [1-9]' <<<"$EM"
check "edge metrics have the delivery-latency histogram" grep -q '^egide_edge_delivery_latency_seconds_count' <<<"$EM"

# Clear errors and nothing sent on bad input.
code() { el_api "$1" "$2" "$3" -o /dev/null -w '%{http_code}' "${@:4}"; }
check "unknown type -> 400" test "$(code fr.snated POST /v1/messages -d '{"type":"nope","to":["71.crip"],"payload":{}}')" = 400
check "bad JSON -> 400" test "$(code fr.snated POST /v1/messages -d '{"type":')" = 400
check "invalid payload -> 422 with field errors" \
    bash -c "$(declare -f el_api); EL_DIR=$EL_DIR; declare -A EL_PORT=([fr.snated]=${EL_PORT[fr.snated]}); el_api fr.snated POST /v1/messages -d '{\"type\":\"snated.transmission\",\"commune\":\"71137\",\"payload\":{\"children\":[{\"birth_date\":\"soon\"}]}}' | grep -q '\"code\":\"payload-invalid\".*\"errors\":\[\"'"
check "commune of another department -> 422" \
    test "$(code fr.snated POST /v1/messages -d "$(echo "$BODY" | sed 's/"71137"/"98818"/')")" = 422
check "no token -> 401" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${EL_PORT[fr.snated]}/v1/messages")" = 401
check "unknown message -> 404" test "$(code fr.snated GET /v1/messages/00000000000000000000000000000000)" = 404
check "nothing queued by the refused requests" \
    test "$(el_api fr.snated GET '/v1/messages?box=outbox' | json "len(j['messages'])")" = 2

# The broker's metrics and the auditor's proof.
MT=$(curl -s -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" "http://127.0.0.1:$EL_BROKER_API_PORT/metrics")
check "broker metrics count the accepted messages" grep -Eq '^egide_broker_messages_total\{outcome="accepted"\} [1-9]' <<<"$MT"
sleep 2.5
check "auditor proves the message is in the signed log" "$EGIDE_BIN/egide" audit prove "$ID" \
    --api "http://127.0.0.1:$EL_BROKER_API_PORT" --token-file "$EL_DIR/state/broker/api.token" \
    --anchor "$EL_DIR/pki/nodes/71.broker/sign.crt"
HIST=$("$EGIDE_BIN/egide" audit history "$ID" --db "$EL_DIR/state/broker/broker.sqlite" 2>&1)
check "the audit trail shows acceptance, the delivery, the relays and the acknowledgement" \
    bash -c "grep -q 'accepted by the broker' <<<\"\$0\" && [ \$(grep -c 'delivered to' <<<\"\$0\") = 1 ] && [ \$(grep -c 'relayed to fr.snated' <<<\"\$0\") = 1 ] && grep -q 'acknowledged by 71.crip' <<<\"\$0\"" "$HIST"
check "the auditor's offline verification of the broker's log passes" "$EGIDE_BIN/egide" audit verify \
    --db "$EL_DIR/state/broker/broker.sqlite" --anchor "$EL_DIR/pki/nodes/71.broker/sign.crt"
t_done
