#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_crip_known_child.sh - issue 11 items 5 and 6 with the real daemons on
# loopback: the 119 sends three transmissions about one invented family to
# the CRIP (with a [known_child] key_file made at run time) and a territory.
#  - the CRIP's GET /v1/messages/{id} shows the second referral's first
#    child as "known" (same_child of the first, typed in upper case) with
#    its sibling, a new sister as "new" with her two siblings, a child
#    whose mother is not named as "not_comparable"; the territory, not a
#    CRIP, shows nothing;
#  - `egide export olinpe --year 2026` without --in, against the CRIP's
#    edge, builds the export from its store: one event per keyed child,
#    one pseudonym for the child seen twice, valid, no name; the
#    territory's edge refuses (403), nothing written.
. "$(dirname "$0")/common.sh"

el_setup || exit 1
el_start_broker || exit 1
# The CRIP's known-child key: random, 0600, in its configuration.
el_write_edge_config 71.crip
KC="$EL_DIR/state/71.crip/known-child.key"
el_token "$KC"
printf '[known_child]\nkey_file = %s\n' "$KC" >>"$EL_DIR/state/71.crip/edge.ini"
for n in fr.snated 71.crip 71.tas.cluny-tournus; do el_start_edge "$n" || exit 1; done
for n in fr.snated 71.crip 71.tas.cluny-tournus; do
    check "$n connects to the broker" el_wait_until 100 t_connected "$n"
done
check "the CRIP logs that detection is on" grep -q "known-child detection on" "$EL_DIR/state/71.crip/edge.log"

SAMPLE="$EL_ROOT/deploy/samples/snated-cluny.json"
# send VARIANT -> msg id: the sample as it is (same), with the first child
# typed in upper case and a new sister in place of the brother (sister),
# or without any adult (nomother).
send() {
    python3 - "$SAMPLE" "$1" >"$EL_DIR/body.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); p.pop("_comment", None)
p["sender"]["confidential"] = False  # one message to both (the split is test_e2e's)
v = sys.argv[2]
if v == "sister":
    p["children"][0]["first_names"] = ["ZOE\u0301"]
    p["children"][1]["first_names"] = ["L\u00e9a"]
    p["children"][1]["birth_date"] = "2021-02-03"
    p["children"][1]["sex"] = "female"
elif v == "nomother":
    p["children"] = p["children"][:1]
    p["children"][0]["first_names"] = ["Timoth\u00e9e"]
    p.pop("adults", None)
print(json.dumps({"type": "snated.transmission", "commune": "71137", "payload": p}))
PY
    el_api fr.snated POST /v1/messages -d @"$EL_DIR/body.json" | json "j['id']"
}
ID1=$(send same)
check "first referral delivered" el_wait_until 150 t_all_delivered fr.snated "$ID1"
ID2=$(send sister)
check "second referral delivered" el_wait_until 150 t_all_delivered fr.snated "$ID2"
ID3=$(send nomother)
check "third referral delivered" el_wait_until 150 t_all_delivered fr.snated "$ID3"

V1=$(el_api 71.crip GET "/v1/messages/$ID1")
V2=$(el_api 71.crip GET "/v1/messages/$ID2")
V3=$(el_api 71.crip GET "/v1/messages/$ID3")
kc() { python3 -c "import json,sys; k=json.loads(sys.argv[1])['known_child']; print($2)" "$1"; }
check "detection on" test "$(kc "$V2" "k['detection']")" = on
check "first referral: both children new" test "$(kc "$V1" "[c['status'] for c in k['children']]")" = "['new', 'new']"
check "the same child, typed otherwise, is known" test "$(kc "$V2" "k['children'][0]['status']")" = known
check "known: same_child of the first referral's first child" \
    test "$(kc "$V2" "[(r['relation'], r['msg_id'], r['child']) for r in k['children'][0]['related'] if r['relation'] == 'same_child']")" = "[('same_child', '$ID1', 0)]"
check "known: her brother as sibling" \
    test "$(kc "$V2" "[(r['msg_id'], r['child']) for r in k['children'][0]['related'] if r['relation'] == 'sibling']")" = "[('$ID1', 1)]"
check "the new sister is new, with two siblings" \
    test "$(kc "$V2" "(k['children'][1]['status'], sorted(r['child'] for r in k['children'][1]['related'] if r['relation'] == 'sibling' and r['msg_id'] == '$ID1'))")" = "('new', [0, 1])"
check "related messages carry a received time" test "$(kc "$V2" "all(r['received_ms'] > 0 and r['received'] for c in k['children'] for r in c['related'])")" = True
check "no mother named: not comparable, never new" \
    test "$(kc "$V3" "(k['children'][0]['status'], k['children'][0]['reason'])")" = "('not_comparable', 'no_mother_name')"
check "no name in the known_child view" bash -c '! python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])[\"known_child\"]))" "$0" | grep -qiE "zo|noe|lea|claire|invent|fictif"' "$V2"
check "the territory (not a CRIP) shows nothing" \
    test "$(el_api 71.tas.cluny-tournus GET "/v1/messages/$ID2" | json "'known_child' in j")" = False

# ---- the observatory export from the CRIP's store (item 6)
OK="$EL_DIR/olinpe.key"
el_token "$OK"
OUT=$(el_cli 71.crip export olinpe --year 2026 --key-file "$OK" --department 71 --page 1 --out "$EL_DIR/olinpe.json" 2>&1)
check "export from the CRIP's store" test -s "$EL_DIR/olinpe.json"
check "export summary: 4 events from 3 messages" grep -q "4 event(s) from 3 message(s)" <<<"$OUT"
check "export valid" test "$("$EGIDE_BIN/egide" validate --type observatory.export "$EL_DIR/olinpe.json")" = ok
check "four ip_received events of 2026-09" test "$(json "[(e['event_type'], e['event_month'], e['detail']) for e in j['events']].count(('ip_received', '2026-09', 'snated'))" <"$EL_DIR/olinpe.json")" = 4
check "one pseudonym for the child seen twice" test "$(json "len(set(e['pseudonym'] for e in j['events']))" <"$EL_DIR/olinpe.json")" = 3
check "no name in the export" bash -c '! grep -qiE "zo|noe|lea|claire|invent|fictif|timoth" "$0"' "$EL_DIR/olinpe.json"
el_cli 71.tas.cluny-tournus export olinpe --year 2026 --key-file "$OK" --out "$EL_DIR/tas.json" >"$EL_DIR/tas.out" 2>&1
check "a territory's edge refuses the export" grep -q "403" "$EL_DIR/tas.out"
check "nothing written" test ! -e "$EL_DIR/tas.json"

t_done
