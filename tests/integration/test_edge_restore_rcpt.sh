#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_edge_restore_rcpt.sh - a RECEIVING edge restored from a backup gets
# back what it received after the backup, once (issue 16 item 5).  The
# 119's edge sends referrals to the CRIP of Saône-et-Loire (and its TAS);
# the CRIP's database is copied online by `egide backup` while referrals
# keep arriving; more arrive; the CRIP is stopped, the backup put back, and
# started again.  Its Hello names the newest message it holds, and the
# broker sends again what it finished delivering to it since (docs/backup.md):
# every referral ever sent must then be in its inbox exactly once and
# readable, the sender must see each recipient DELIVERED once (no second
# receipt relayed), the witness raises no alert, and referrals flow both
# ways afterwards (new ones arrive, the CRIP acknowledges one of those it got
# back).  Without the fix the referrals received after the backup are lost
# at the CRIP for good.
. "$(dirname "$0")/common.sh"

SENDER=fr.snated
RCPT=71.crip
OTHER=71.tas.cluny-tournus
el_setup || exit 1
el_start_broker || exit 1
for n in $SENDER $RCPT $OTHER; do el_start_edge "$n" || exit 1; done
for n in $SENDER $RCPT $OTHER; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))")
DB="$EL_DIR/state/$RCPT/edge.sqlite"
BACKUP="$EL_DIR/backup"
mkdir -p "$BACKUP"

send() { # IDS_FILE COUNT: submit COUNT referrals, append their ids
    local i id
    for ((i = 0; i < $2; i++)); do
        id=$(el_api $SENDER POST /v1/messages -d "$BODY" | json "j['id']")
        [ ${#id} -eq 32 ] && echo "$id" >>"$1"
    done
}
delivered_all() { # IDS_FILE: every recipient of each has it
    local id
    while read -r id; do t_all_delivered $SENDER "$id" || return 1; done <"$1"
}
once_at() { # NODE IDS_FILE: each id exactly once in the node's inbox (one read)
    el_api "$1" GET "/v1/messages?box=inbox&limit=10000" | IDS="$(cat "$2")" python3 -c '
import json,os,sys
seen=[m["id"] for m in json.load(sys.stdin)["messages"]]
ids=os.environ["IDS"].split()
sys.exit(0 if ids and all(seen.count(i)==1 for i in ids) else 1)'
}
readable_at() { # NODE IDS_FILE: each one opens, its payload as sent
    local id
    while read -r id; do
        el_api "$1" GET "/v1/messages/$id" | BODY="$BODY" python3 -c '
import json,os,sys
sent=json.loads(os.environ["BODY"])["payload"]
sent.pop("_comment", None)  # the validator drops the comment of the sample
got=json.load(sys.stdin).get("payload") or {}
# the sender block is rewritten by the sender (confidential off): not compared
sent.pop("sender", None)
got.pop("sender", None)
if got != sent:
    print("payload differs in:", sorted(k for k in set(sent) | set(got) if got.get(k) != sent.get(k)))
sys.exit(0 if got and got==sent else 1)' ||
            return 1
    done <"$2"
}
# The sender's view of each: its recipients listed once each, and exactly
# one DELIVERED receipt from each of them.
sender_view_once() { # IDS_FILE
    local id
    while read -r id; do
        el_api $SENDER GET "/v1/messages/$id" | python3 -c '
import json,sys
m=json.load(sys.stdin)
nodes=[r["node"] for r in m["recipients"]]
ok=sorted(nodes)==sorted(set(nodes)) and "'$RCPT'" in nodes and "'$OTHER'" in nodes
for n in set(nodes):
    ok=ok and sum(1 for r in m["receipts"] if r["kind"]=="DELIVERED" and r["issuer"]==n)==1
sys.exit(0 if ok else 1)' || return 1
    done <"$1"
}
no_alert() { # NODE: the witness saw no fork or rollback
    local h m
    h=$(el_api "$1" GET /v1/health) || return 1
    m=$(el_api "$1" GET /metrics) || return 1
    ! grep -q '"status": *"alert"' <<<"$h" && grep -Eq '^egide_edge_audit_alerts_total 0$' <<<"$m"
}
copy_db() { # FROM_DIR TO_DIR (the database and its WAL and shm, if any)
    local f
    rm -f "$2/edge.sqlite" "$2/edge.sqlite-wal" "$2/edge.sqlite-shm"
    for f in edge.sqlite edge.sqlite-wal edge.sqlite-shm; do
        [ -f "$1/$f" ] && cp -p "$1/$f" "$2/$f"
    done
    return 0
}

# 1. before the backup
send "$EL_DIR/ids-1" 3
check "3 referrals before the backup submitted" test "$(wc -l <"$EL_DIR/ids-1")" -eq 3
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-1"

# 2. the CRIP's backup, taken online while referrals keep arriving
send "$EL_DIR/ids-1b" 4 &
SENDING=$!
check "egide backup of the CRIP while referrals arrive" \
    "$EGIDE_BIN/egide" backup --db "$DB" --out "$BACKUP/edge.sqlite"
wait "$SENDING"
check "4 more referrals sent during the backup" test "$(wc -l <"$EL_DIR/ids-1b")" -eq 4
check "the backup passes its integrity check" \
    test "$(sqlite3 "$BACKUP/edge.sqlite" 'PRAGMA integrity_check')" = ok
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-1b"
IN_BACKUP=$(sqlite3 "$BACKUP/edge.sqlite" 'SELECT count(*) FROM inbox')
check "the backup holds the 3 before it and 0 to 4 of those arriving meanwhile" \
    test "$IN_BACKUP" -ge 3 -a "$IN_BACKUP" -le 7

# 3. after the backup: what the restored CRIP will have lost
send "$EL_DIR/ids-2" 5
check "5 referrals after the backup submitted" test "$(wc -l <"$EL_DIR/ids-2")" -eq 5
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-2"
cat "$EL_DIR/ids-1" "$EL_DIR/ids-1b" "$EL_DIR/ids-2" >"$EL_DIR/ids-before"
check "the CRIP held all 12 before the restore" once_at $RCPT "$EL_DIR/ids-before"

# 4. restore the CRIP's backup
el_stop $RCPT
copy_db "$BACKUP" "$EL_DIR/state/$RCPT" # the restore: the copy in place, no -wal, no -shm
missing_after_restore=$(sqlite3 "$DB" 'SELECT count(*) FROM inbox')
check "the restored CRIP holds only what the backup held" test "$missing_after_restore" = "$IN_BACKUP"
el_start_edge $RCPT || exit 1
check "the restored CRIP reconnects" el_wait_until 150 t_connected $RCPT
redelivered() { grep -q "holds an older inbox than the broker delivered" "$EL_DIR/state/broker/broker.log"; }
check "the broker noticed the older inbox (notice logged)" el_wait_until 100 redelivered
all_back() { once_at $RCPT "$EL_DIR/ids-before"; }
check "every referral ever sent is in the CRIP's inbox again, exactly once" \
    el_wait_until 200 all_back
check "those it got back are readable" readable_at $RCPT "$EL_DIR/ids-2"
check "the TAS still holds each once" once_at $OTHER "$EL_DIR/ids-before"
check "the sender sees each recipient once, DELIVERED once" sender_view_once "$EL_DIR/ids-before"
for n in $SENDER $RCPT $OTHER; do check "$n: no witness alert" no_alert "$n"; done

# 5. referrals flow both ways afterwards
send "$EL_DIR/ids-3" 3
check "3 referrals after the restore submitted" test "$(wc -l <"$EL_DIR/ids-3")" -eq 3
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-3"
check "each exactly once at the CRIP" once_at $RCPT "$EL_DIR/ids-3"
check "the sender sees each recipient DELIVERED once" sender_view_once "$EL_DIR/ids-3"
ACK_ID=$(tail -n 1 "$EL_DIR/ids-2")
ack() { el_api $RCPT POST "/v1/messages/$ACK_ID/ack" -d '{"note":"reçu après restauration (exemple inventé)"}' | json "j['state']" | grep -qx acknowledged; }
check "the CRIP acknowledges a referral it got back" ack
acked() { el_api $SENDER GET "/v1/messages/$ACK_ID" | json "[r['state'] for r in j['recipients'] if r['node']=='$RCPT'][0]" | grep -qx acknowledged; }
check "the sender sees the CRIP's acknowledgement" el_wait_until 150 acked
check "the earlier referrals are still once at the CRIP" once_at $RCPT "$EL_DIR/ids-before"
for n in $SENDER $RCPT; do check "$n: still no witness alert" no_alert "$n"; done
t_done
