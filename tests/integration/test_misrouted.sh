#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_misrouted.sh - issue 11 item 3 on loopback with the real daemons: a
# referral whose commune is not the child's is refused by the sender's edge
# (CLI and API, both communes named); sent again with an override and a
# reason it goes to Mâcon, the reason inside the sealed payload as Mâcon
# stores it and in the sender's store; Mâcon answers routing.misrouted to
# the CRIP in reply to it; the CRIP re-dispatches an evaluation.assignment
# to Cluny/Tournus in reply to that; Cluny/Tournus receives it and Mâcon
# does not.  Every arrival and receipt is checked.  Invented data only.
. "$(dirname "$0")/common.sh"

el_setup || exit 1
el_start_broker || exit 1
NODES="71.police.macon 71.crip 71.tas.macon 71.tas.cluny-tournus"
for n in $NODES; do el_start_edge "$n" || exit 1; done
for n in $NODES; do
    check "$n connects to the broker" el_wait_until 100 t_connected "$n"
done

# An invented referral: one child living in Cluny (71137).
IP="$EL_DIR/ip-cluny.json"
cat >"$IP" <<'EOF'
{
  "_comment": "INVENTED sample for tests: every person and reference here is fictional.",
  "received_at": "2026-10-01T16:40:00+02:00",
  "sender": {"type": "police", "organisation": "Commissariat (exemple)"},
  "children": [{"first_names": ["Léo"], "sex": "male", "birth_date": "2016-05-14",
                "commune": "71137"}],
  "danger": {"categories": ["severe_neglect"]},
  "urgency": "urgent"
}
EOF
REASON="Enfant déjà suivi par l'équipe de Mâcon (exemple inventé)"
outbox_n() { el_api "$1" GET "/v1/messages?box=outbox&limit=10000" | json "len(j['messages'])"; }
kind_from() { # SENDER MSGID KIND ISSUER: a verified receipt of KIND by ISSUER
    el_api "$1" GET "/v1/messages/$2" |
        json "any(r['kind']=='$3' and r['issuer']=='$4' and r.get('verified', True) for r in j['receipts'])" |
        grep -qx True
}

# 1. Refused without an override: the CLI shows the edge's 422 naming both.
ERR=$(el_cli 71.police.macon send --type ip.transmission --commune 71270 --file "$IP" 2>&1 >/dev/null)
RC=$?
check "CLI: commune 71270 for a child of 71137 is refused (exit 1)" test "$RC" -eq 1
check "CLI: the refusal names the commune given and the child's" \
    grep -q "routing mismatch: commune 71270 .*(71137)" <<<"$ERR"
check "API: a commune as a JSON number is a 400 naming the rule" \
    grep -q 'commune must be a string INSEE code such as' <<<"$(el_api 71.police.macon POST /v1/messages \
        -d "$(python3 -c "import json; print(json.dumps({'type':'ip.transmission','commune':71270,'payload':json.load(open('$IP'))}))")")"
check "nothing queued by the refusals" test "$(outbox_n 71.police.macon)" = 0

# 2. With an override: routed by 71270 (Mâcon), the reason travels.
OUT=$(el_cli 71.police.macon send --type ip.transmission --commune 71270 \
    --override-reason "$REASON" --file "$IP" --json)
ID=$(echo "$OUT" | json "j['id']")
check "override accepted with an id" test "${#ID}" -eq 32
check "routed by 71270: CRIP and Mâcon" \
    test "$(echo "$OUT" | json "' '.join(sorted(j['recipients']))")" = "71.crip 71.tas.macon"
check "referral delivered to the CRIP and Mâcon" el_wait_until 150 t_all_delivered 71.police.macon "$ID"
check "referral ACCEPTED by the broker" kind_from 71.police.macon "$ID" ACCEPTED 71.broker
check "DELIVERED receipt from Mâcon" kind_from 71.police.macon "$ID" DELIVERED 71.tas.macon
check "DELIVERED receipt from the CRIP" kind_from 71.police.macon "$ID" DELIVERED 71.crip
for n in 71.tas.macon 71.crip; do
    check "$n stores the override's reason as sent" test \
        "$(el_api "$n" GET "/v1/messages/$ID" | json "j['payload']['routing_override']['reason']")" = "$REASON"
    check "$n sees the commune routed by" test \
        "$(el_api "$n" GET "/v1/messages/$ID" | json "j['payload']['routing_override']['commune']")" = 71270
done
check "Cluny/Tournus did not receive the referral" test "$(t_inbox_count 71.tas.cluny-tournus "$ID")" = 0
KEPT=$(sqlite3 "$EL_DIR/state/71.police.macon/edge.sqlite" \
    "SELECT CAST(value AS TEXT) FROM meta WHERE key='routing_override/$ID'")
kept_ok() {
    python3 -c "
import json, sys
j = json.loads(sys.argv[1])
sys.exit(0 if (j['reason'], j['commune'], j['children_communes'], sorted(j['recipients'])) ==
         (sys.argv[2], '71270', ['71137'], ['71.crip', '71.tas.macon']) else 1)" "$KEPT" "$REASON"
}
check "the sender's store keeps the override with the message" kept_ok
SV=$(el_api 71.police.macon GET "/v1/messages/$ID")
check "the sender's view of its message shows the override's reason" \
    test "$(echo "$SV" | json "j['routing_override']['reason']")" = "$REASON"
check "... and the commune it routed by" test "$(echo "$SV" | json "j['routing_override']['commune']")" = 71270

# 3. Mâcon: "not ours", in reply to the referral.
MR_BODY=$(python3 -c "
import json
print(json.dumps({'type': 'routing.misrouted', 'to': ['71.crip'], 'in_reply_to': '$ID',
  'payload': {'reported_at': '2026-10-02T09:30:00+02:00', 'case_ref': 'CRIP71-2026-0815',
    'received_msg_id': '$ID', 'reason': 'wrong_commune',
    'reason_text': 'Famille domiciliée à Cluny (exemple inventé).',
    'believed_commune': '71137', 'believed_territory': '71.tas.cluny-tournus'}}))")
check "routing.misrouted without in_reply_to is refused" test "$(el_api 71.tas.macon POST /v1/messages \
    -d "$(echo "$MR_BODY" | json "json.dumps({k: v for k, v in j.items() if k != 'in_reply_to'})")" -o /dev/null -w '%{http_code}')" = 400
R=$(el_api 71.tas.macon POST /v1/messages -d "$MR_BODY")
MR=$(echo "$R" | json "j['id']")
check "routing.misrouted accepted with an id" test "${#MR}" -eq 32
check "routing.misrouted goes to the CRIP only" test "$(echo "$R" | json "' '.join(j['recipients'])")" = 71.crip
check "routing.misrouted delivered to the CRIP" el_wait_until 150 t_all_delivered 71.tas.macon "$MR"
check "routing.misrouted ACCEPTED by the broker (the type is admitted)" kind_from 71.tas.macon "$MR" ACCEPTED 71.broker
check "DELIVERED receipt from the CRIP" kind_from 71.tas.macon "$MR" DELIVERED 71.crip
M=$(el_api 71.crip GET "/v1/messages/$MR")
check "the CRIP's copy answers the referral" test "$(echo "$M" | json "j['in_reply_to']")" = "$ID"
check "the CRIP's copy is from Mâcon, type routing.misrouted" \
    test "$(echo "$M" | json "(j['sender'], j['type'])")" = "('71.tas.macon', 'routing.misrouted')"
check "the CRIP reads the reason code and the commune believed right" \
    test "$(echo "$M" | json "(j['payload']['reason'], j['payload']['believed_commune'])")" = "('wrong_commune', '71137')"
check "the police may not send routing.misrouted" test "$(el_api 71.police.macon POST /v1/messages \
    -d "$MR_BODY" -o /dev/null -w '%{http_code}')" = 422

# 4. The CRIP re-dispatches to Cluny/Tournus, in reply to the misrouted notice.
assign() { # TERRITORY IN_REPLY_TO
    python3 -c "
import json
ip = json.load(open('$IP'))
print(json.dumps({'type': 'evaluation.assignment', 'in_reply_to': '$2',
  'payload': {'assigned_at': '2026-10-02T11:00:00+02:00', 'ip_received_at': '2026-10-01T17:05:00+02:00',
    'case_ref': 'CRIP71-2026-0815', 'territory': '$1', 'children': ip['children'],
    'urgency': 'urgent'}}))"
}
R=$(el_api 71.crip POST /v1/messages -d "$(assign 71.tas.macon "$MR")")
check "an assignment naming Mâcon for a child of Cluny is refused, both territories named" \
    grep -q "territory is 71.tas.macon but the directory routes commune 71137 to 71.tas.cluny-tournus" <<<"$R"
# ... and with explicit recipients ("to") the same checks hold: the payload's
# territory must be addressed, and be the directory's for the child's commune.
assign_to() { # TO TERRITORY IN_REPLY_TO [OVERRIDE_REASON]
    assign "$2" "$3" | python3 -c "
import json, sys
b = json.load(sys.stdin); b['to'] = ['$1']
if '${4:-}': b['routing_override'] = {'reason': '${4:-}'}
print(json.dumps(b))"
}
R=$(el_api 71.crip POST /v1/messages -d "$(assign_to 71.tas.macon 71.tas.cluny-tournus "$MR")")
check "to Mâcon with a payload naming Cluny/Tournus is refused, the territory named" \
    grep -q "payload's territory is 71.tas.cluny-tournus but .*to.* does not address it" <<<"$R"
R=$(el_api 71.crip POST /v1/messages -d "$(assign_to 71.tas.macon 71.tas.macon "$MR")")
check "to Mâcon naming Mâcon for a child of Cluny is refused, both territories named" \
    grep -q "territory is 71.tas.macon but the directory routes commune 71137 to 71.tas.cluny-tournus" <<<"$R"
R=$(el_api 71.crip POST /v1/messages -d "$(assign_to 71.tas.macon 71.tas.macon "$MR" "convention de suivi avec Macon")")
OV=$(echo "$R" | json "j['id']")
check "to Mâcon with an override is accepted" test "${#OV}" -eq 32
check "the CRIP keeps that override's record with the message" grep -q "convention de suivi avec Macon" \
    <<<"$(sqlite3 "$EL_DIR/state/71.crip/edge.sqlite" "SELECT CAST(value AS TEXT) FROM meta WHERE key='routing_override/$OV'")"
R=$(el_api 71.crip POST /v1/messages -d "$(assign 71.tas.cluny-tournus "$MR")")
AS=$(echo "$R" | json "j['id']")
check "re-dispatch accepted with an id" test "${#AS}" -eq 32
check "re-dispatch routed by the child's commune to Cluny/Tournus" \
    test "$(echo "$R" | json "' '.join(j['recipients'])")" = 71.tas.cluny-tournus
check "re-dispatch delivered to Cluny/Tournus" el_wait_until 150 t_all_delivered 71.crip "$AS"
check "re-dispatch ACCEPTED by the broker" kind_from 71.crip "$AS" ACCEPTED 71.broker
check "DELIVERED receipt from Cluny/Tournus" kind_from 71.crip "$AS" DELIVERED 71.tas.cluny-tournus
M=$(el_api 71.tas.cluny-tournus GET "/v1/messages/$AS")
check "Cluny/Tournus's copy answers the misrouted notice" test "$(echo "$M" | json "j['in_reply_to']")" = "$MR"
check "Cluny/Tournus's copy names itself as territory, same case" \
    test "$(echo "$M" | json "(j['payload']['territory'], j['payload']['case_ref'])")" = "('71.tas.cluny-tournus', 'CRIP71-2026-0815')"
check "Mâcon did not receive the re-dispatch" test "$(t_inbox_count 71.tas.macon "$AS")" = 0

t_done
