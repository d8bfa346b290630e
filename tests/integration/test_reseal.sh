#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_reseal.sh - a referral queued at the sender while a recipient's
# encryption key is renewed is sealed again, never lost (issue 13).  The
# broker is down; the 119 (fr.snated) submits a referral for 71.crip and
# 71.tas.cluny-tournus; 71.crip's encryption key and certificate are
# renewed and a new directory (v2) signed; 71.crip restarts with its new
# key; the broker starts again with v2.  The queued envelope names
# 71.crip's old key, so the broker refuses it ("recipient key is not the
# directory's", UNKNOWN_RECIPIENT), unless the sender got v2 first and
# saw it before sending; either way the sender opens the content key it
# kept (sealed to its own key, through its key holder), wraps it again for
# the new key, re-signs, and the referral is delivered exactly once,
# readable at 71.crip, never REJECTED at the sender; the kept copy is
# erased once the broker ACCEPTED it.  Without the fix the referral ends
# REJECTED REASON_UNKNOWN_RECIPIENT for good and 71.crip never gets it.
T_TIMEOUT=170
. "$(dirname "$0")/common.sh"

SENDER=fr.snated
CRIP=71.crip
RCPTS="$CRIP 71.tas.cluny-tournus"
SAMPLE="$EL_ROOT/deploy/samples/snated-cluny.json"
el_setup || exit 1
el_start_broker || exit 1
for n in $SENDER $RCPTS; do el_start_edge "$n" || exit 1; done
for n in $SENDER $RCPTS; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$SAMPLE')))}))")
DB="$EL_DIR/state/$SENDER/edge.sqlite"
PKI="$EL_DIR/pki"
NODE="$PKI/nodes/$CRIP"

submit() { el_api $SENDER POST /v1/messages -d "$BODY" | json "j['id']"; }
col() { # MSGID SQL-EXPR: the expression over the sender's outbox row
    sqlite3 "$DB" "SELECT $2 FROM outbox WHERE hex(msg_id)=upper('$1')"
}
once_everywhere() { # MSGID
    local n
    for n in $RCPTS; do [ "$(t_inbox_count "$n" "$1")" = 1 ] || return 1; done
}
state_of() { el_api $SENDER GET "/v1/messages/$1" | json "j['state']"; }
accepted() { [ "$(col "$1" state)" = 1 ]; }
# The broker's REJECTED receipts with that reason the sender holds for it.
refusals() { # MSGID REASON
    el_api $SENDER GET "/v1/messages/$1" |
        json "sum(1 for r in j['receipts'] if r['kind']=='REJECTED' and r.get('reason')=='$2' and r['issuer']=='71.broker')"
}
payload_as_sent() { # NODE MSGID
    el_api "$1" GET "/v1/messages/$2" | python3 -c "
import json,sys
got=json.load(sys.stdin)['payload']; sent=json.load(open('$SAMPLE'))
sent.pop('_comment', None); sent['sender'].pop('confidential', None)  # sent as false, the default, which is not kept
if got != sent:
    print('fields that differ:', sorted(k for k in set(sent) | set(got) if sent.get(k) != got.get(k)))
sys.exit(0 if got==sent else 1)"
}

# 1. before the renewal: delivered as always, the kept copy erased on ACCEPTED
ID0=$(submit)
check "a referral before the renewal is submitted" test ${#ID0} -eq 32
check "it is delivered" el_wait_until 200 t_all_delivered $SENDER "$ID0"
check "its kept content key is erased once the broker ACCEPTED it" \
    test "$(col "$ID0" "state || ':' || (kept_cek IS NULL)")" = "1:1"

# 2. the broker down, a referral queued with the kept copy
el_stop broker
ID1=$(submit)
check "a referral is queued while the broker is down" test ${#ID1} -eq 32
check "it is queued with its content key kept, sealed (80 bytes, not the payload)" \
    test "$(col "$ID1" "state || ':' || length(kept_cek)")" = "0:80"
OLD_FPR=$(openssl x509 -in "$NODE/enc.crt" -noout -fingerprint -sha256)

# 3. 71.crip's encryption key and certificate renewed, directory v2 signed
cp -p "$NODE/enc.key" "$EL_DIR/old-enc.key"
cp -p "$NODE/enc.crt" "$EL_DIR/old-enc.crt"
rm -f "$NODE/enc.key" "$NODE/enc.crt"
check "71.crip's key renewed and directory v2 signed" \
    env EGIDE="$EGIDE_BIN/egide" "$EL_ROOT/deploy/tools/make-directory.sh" "$EL_DEPLOY" "$EL_DEPT" \
    "$EL_JURISDICTION" "$PKI" --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" --version 2
check "the new encryption certificate is another one" \
    test "$(openssl x509 -in "$NODE/enc.crt" -noout -fingerprint -sha256)" != "$OLD_FPR"
check "so is the key" bash -c "! cmp -s '$NODE/enc.key' '$EL_DIR/old-enc.key'"
el_stop $CRIP
el_start_edge $CRIP || exit 1

# 4. the broker back with v2: the referral is sealed again, not lost
el_start_broker || exit 1
check "the sender reconnects" el_wait_until 150 t_connected $SENDER
# Delivered, or refused for good (without the fix): no need to wait on.
settled() { t_all_delivered $SENDER "$1" || [ "$(state_of "$1")" = rejected ]; }
el_wait_until 300 settled "$ID1"
check "the queued referral is delivered to every recipient" t_all_delivered $SENDER "$ID1"
check "exactly once at each recipient" once_everywhere "$ID1"
check "71.crip reads it with its new key: the payload as sent" payload_as_sent $CRIP "$ID1"
check "71.tas.cluny-tournus reads it too" payload_as_sent 71.tas.cluny-tournus "$ID1"
check "the sender never shows it rejected: its state is delivered" test "$(state_of "$ID1")" = delivered
# Which path sealed it again depends on what reached the sender first: the
# broker's v2 (sealed again before sending, no refusal) or its answer to
# the queued envelope (refused once, then sealed again).  Either way once.
REFUSED=$(refusals "$ID1" REASON_UNKNOWN_RECIPIENT)
echo "# the broker refused the stale key $REFUSED time(s) before the re-sealing"
check "the broker refused the old key at most once (UNKNOWN_RECIPIENT)" test "$REFUSED" -le 1
check "the sender logged one re-sealing, without content" \
    test "$(grep -c "sealed again for 1 renewed recipient key" "$EL_DIR/state/$SENDER/edge.log")" = 1
check "it is counted once in the outbox (resealed = 1), same msg_id" test "$(col "$ID1" resealed)" = 1
check "the kept content key is erased once ACCEPTED" el_wait_until 50 accepted "$ID1"
check "  (kept_cek is NULL)" test "$(col "$ID1" "kept_cek IS NULL")" = 1
check "no kept copy remains for any message no longer queued" \
    test "$(sqlite3 "$DB" 'SELECT count(*) FROM outbox WHERE state<>0 AND kept_cek IS NOT NULL')" = 0
check "the earlier referral is still delivered once" once_everywhere "$ID0"
metric() { # the whole page first: grep -q would cut the pipe (pipefail)
    local m
    m=$(el_api $SENDER GET /metrics) && grep -q '^egide_edge_resealed_total 1$' <<<"$m"
}
check "the resealed metric says 1" metric

# 5. the envelope as sent now opens with 71.crip's new key only
sqlite3 "$DB" "SELECT writefile('$EL_DIR/env.bin', envelope) FROM outbox WHERE hex(msg_id)=upper('$ID1')" >/dev/null
open_with() { # KEY CERT
    "$EGIDE_BIN/egide" open --key "$1" --cert "$2" --ca "$PKI/ca/root.crt" --chain "$PKI/ca/chain.pem" \
        --sender-cert "$PKI/nodes/$SENDER/sign.crt" --in "$EL_DIR/env.bin" --out "$EL_DIR/out.$3" 2>/dev/null
}
check "the re-sealed envelope opens with 71.crip's new key" open_with "$NODE/enc.key" "$NODE/enc.crt" new
check "and not with its old key" bash -c "$(declare -f open_with); EGIDE_BIN='$EGIDE_BIN' PKI='$PKI' SENDER='$SENDER' EL_DIR='$EL_DIR' NODE='$NODE'; ! open_with '$EL_DIR/old-enc.key' '$EL_DIR/old-enc.crt' old"
t_done
