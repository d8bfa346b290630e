#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_edge_restore_restart.sh - the broker restarts in the middle of a
# redelivery to a restored receiving edge, and the redelivery goes on from
# where it stood (docs/backup.md, "Limits").  The CRIP of Saône-et-Loire is
# backed up holding 2 referrals from the 119's edge; 12 more arrive; the
# CRIP's backup is put back.  The broker runs with redelivery pages of 4
# and, for its first run, with the pump queueing no page after the one its
# Hello queues (EGIDE_TEST_REDELIVER_PAGE=4, EGIDE_TEST_REDELIVER_HOLD=1,
# test-only switches read at broker start): the restored CRIP gets 4 of the
# 12 back, then a new referral (now the newest in its inbox), then the
# broker restarts without the hold.  The CRIP's next Hello names that new
# referral: the 8 not yet queued must come from the redelivery's cursor,
# which the broker keeps in its store with each page.  Every referral ever
# sent must then be in the CRIP's inbox exactly once.  Without the fix (the
# cursor only in the broker's memory) the 8 are never sent again.
. "$(dirname "$0")/common.sh"

SENDER=fr.snated
RCPT=71.crip
OTHER=71.tas.cluny-tournus # the referrals' other recipient
el_setup || exit 1
export EGIDE_TEST_REDELIVER_PAGE=4 EGIDE_TEST_REDELIVER_HOLD=1
el_start_broker || exit 1
for n in $SENDER $RCPT $OTHER; do el_start_edge "$n" || exit 1; done
for n in $SENDER $RCPT $OTHER; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))")
DB_DIR="$EL_DIR/state/$RCPT"
BACKUP="$EL_DIR/backup"
mkdir -p "$BACKUP"
LOG="$EL_DIR/state/broker/broker.log"

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
held_at() { # NODE IDS_FILE MIN MAX: how many of the ids the node's inbox holds is in MIN..MAX,
    # and none is there twice
    el_api "$1" GET "/v1/messages?box=inbox&limit=10000" | IDS="$(cat "$2")" python3 -c '
import json,os,sys
seen=[m["id"] for m in json.load(sys.stdin)["messages"]]
ids=os.environ["IDS"].split()
n=sum(1 for i in ids if i in seen)
sys.exit(0 if ids and all(seen.count(i)<=1 for i in ids) and '"$3"'<=n<='"$4"' else 1)'
}
once_at() { held_at "$1" "$2" "$(wc -l <"$2")" "$(wc -l <"$2")"; }
copy_db() { # FROM_DIR TO_DIR (the database and its WAL and shm, if any)
    local f
    rm -f "$2/edge.sqlite" "$2/edge.sqlite-wal" "$2/edge.sqlite-shm"
    for f in edge.sqlite edge.sqlite-wal edge.sqlite-shm; do
        [ -f "$1/$f" ] && cp -p "$1/$f" "$2/$f"
    done
    return 0
}
lines() { grep -c "$1" "$LOG"; }

# 1. before the backup: 2 referrals, then the CRIP's backup (stopped: a copy)
send "$EL_DIR/ids-1" 2
check "2 referrals before the backup submitted" test "$(wc -l <"$EL_DIR/ids-1")" -eq 2
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-1"
el_stop $RCPT
copy_db "$DB_DIR" "$BACKUP"
el_start_edge $RCPT || exit 1
check "the CRIP reconnects" el_wait_until 150 t_connected $RCPT

# 2. after the backup: 12 the restored CRIP will have lost (3 pages of 4)
send "$EL_DIR/ids-2" 12
check "12 referrals after the backup submitted" test "$(wc -l <"$EL_DIR/ids-2")" -eq 12
check "they are delivered" el_wait_until 300 delivered_all "$EL_DIR/ids-2"
check "the CRIP holds all 12" once_at $RCPT "$EL_DIR/ids-2"

# 3. restore the CRIP's backup: its Hello queues the first page only (hold)
el_stop $RCPT
copy_db "$BACKUP" "$DB_DIR"
check "the restored CRIP holds only the 2 before the backup" \
    test "$(sqlite3 "$DB_DIR/edge.sqlite" 'SELECT count(*) FROM inbox')" -eq 2
el_start_edge $RCPT || exit 1
check "the restored CRIP reconnects" el_wait_until 150 t_connected $RCPT
redelivered() { grep -q "holds an older inbox than the broker delivered.*: 4+ message" "$LOG"; }
check "the broker queued a first page of 4 (more follow)" el_wait_until 100 redelivered
first_page() { held_at $RCPT "$EL_DIR/ids-2" 4 4; }
check "the CRIP got 4 of the 12 back" el_wait_until 200 first_page
check "no other page was queued (the hold)" test "$(lines 'message(s) delivered')" -eq 1

# 4. a new referral: now the newest in the CRIP's inbox (by order received)
send "$EL_DIR/ids-3" 1
check "a new referral submitted" test "$(wc -l <"$EL_DIR/ids-3")" -eq 1
check "it is delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-3"
check "the CRIP holds it" once_at $RCPT "$EL_DIR/ids-3"
check "the CRIP still holds only 4 of the 12" held_at $RCPT "$EL_DIR/ids-2" 4 4

# 5. the broker restarts (without the hold); the CRIP's next Hello names the
# new referral, yet the 8 not yet queued come
el_stop broker
unset EGIDE_TEST_REDELIVER_HOLD
el_start_broker || exit 1
check "the CRIP reconnects to the restarted broker" el_wait_until 150 t_connected $RCPT
cat "$EL_DIR/ids-1" "$EL_DIR/ids-2" "$EL_DIR/ids-3" >"$EL_DIR/ids-all"
all_back() { once_at $RCPT "$EL_DIR/ids-all"; }
check "every referral ever sent is in the CRIP's inbox, exactly once" el_wait_until 300 all_back
check "the broker went on from the stored cursor (notice logged)" \
    grep -q "the redelivery under way goes on" "$LOG"
check "the sender sees each of them delivered" delivered_all "$EL_DIR/ids-all"
check "the TAS holds each once" once_at $OTHER "$EL_DIR/ids-all"

# 6. referrals still flow, once
send "$EL_DIR/ids-4" 2
check "2 referrals after the restart submitted" test "$(wc -l <"$EL_DIR/ids-4")" -eq 2
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-4"
check "each exactly once at the CRIP" once_at $RCPT "$EL_DIR/ids-4"
check "the earlier ones are still once at the CRIP" once_at $RCPT "$EL_DIR/ids-all"
t_done
