#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_seq_far.sh - a sending edge whose sequence counter jumped far past
# what the broker accepts (a damaged or edited store: here the counter is
# set to 2^50 while the edge is stopped) still sends (issue 13, F3).  The
# broker refuses a jump of more than 2^48 as a replay, for good; without
# the fix every new referral stays queued forever (re-signed under ever
# larger numbers, then stalled waiting for a Welcome that changes
# nothing).  With it, the Welcome sets the counter back just above the
# broker's last number, and every referral is ACCEPTED and delivered once.
. "$(dirname "$0")/common.sh"

SENDER=fr.snated
RCPT=71.crip
el_setup || exit 1
el_start_broker || exit 1
for n in $SENDER $RCPT; do el_start_edge "$n" || exit 1; done
for n in $SENDER $RCPT; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; p=json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')); p['sender']['confidential']=False; print(json.dumps({'type':'snated.transmission','to':['$RCPT'],'payload':p}))")
DB="$EL_DIR/state/$SENDER/edge.sqlite"
send() { # IDS_FILE COUNT
    local i id
    for ((i = 0; i < $2; i++)); do
        id=$(el_api $SENDER POST /v1/messages -d "$BODY" | json "j['id']")
        [ ${#id} -eq 32 ] && echo "$id" >>"$1"
    done
}
delivered_all() { # IDS_FILE
    local id
    while read -r id; do t_all_delivered $SENDER "$id" || return 1; done <"$1"
}

send "$EL_DIR/ids-1" 2
check "2 referrals before the jump delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-1"

# The counter jumps: 2^50, far past the broker's bound of 2^48 above its last.
el_stop $SENDER
sqlite3 "$DB" "UPDATE meta SET value = 1125899906842624 WHERE key = 'seq'"
check "the counter is at 2^50" test "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key='seq'")" = 1125899906842624
el_start_edge $SENDER || exit 1
check "the sender reconnects" el_wait_until 150 t_connected $SENDER
set_back() { grep -q "sequence counter .* set back to" "$EL_DIR/state/$SENDER/edge.log"; }
check "the Welcome set the counter back (logged)" el_wait_until 100 set_back
send "$EL_DIR/ids-2" 3
check "3 referrals after the jump submitted" test "$(wc -l <"$EL_DIR/ids-2")" -eq 3
check "every one is delivered" el_wait_until 300 delivered_all "$EL_DIR/ids-2"
once() { local id; while read -r id; do [ "$(t_inbox_count $RCPT "$id")" = 1 ] || return 1; done <"$1"; }
check "each exactly once at the CRIP" once "$EL_DIR/ids-2"
check "none of the sender's messages is rejected" \
    test "$(el_api $SENDER GET "/v1/messages?box=outbox&limit=100" | json "sum(1 for m in j['messages'] if m['state'] in ('rejected','partly_rejected'))")" = 0
check "the counter is small again" test "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key='seq'")" -lt 1000
check "the reset is counted in /metrics" \
    grep -q '^egide_edge_sequence_resets_total 1$' <<<"$(el_api $SENDER GET /metrics)"
t_done
