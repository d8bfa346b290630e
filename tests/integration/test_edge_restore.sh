#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_edge_restore.sh - a sending edge restored from a backup can still
# send (issue 13 item 2).  The 119's edge sends referrals; its database is
# copied online by `egide backup` while it sends (issue 16 item 5); it
# sends more; it is stopped, the backup put back, and started again, so its sequence counter is behind
# what the broker accepted from it.  Every new referral must be ACCEPTED
# and delivered exactly once at each recipient, none REJECTED as
# REASON_REPLAY for good: the broker's Welcome moves the counter up, and
# the referrals sealed while the broker was down (with used numbers) are
# refused as a replay once, re-signed under fresh numbers and accepted.
# Without the fix every new referral comes back REJECTED REASON_REPLAY.
. "$(dirname "$0")/common.sh"

SENDER=fr.snated
RCPTS="71.crip 71.tas.cluny-tournus"
el_setup || exit 1
el_start_broker || exit 1
for n in $SENDER $RCPTS; do el_start_edge "$n" || exit 1; done
for n in $SENDER $RCPTS; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))")
DB="$EL_DIR/state/$SENDER/edge.sqlite"
BACKUP="$EL_DIR/backup"
mkdir -p "$BACKUP"

send() { # IDS_FILE COUNT: submit COUNT referrals, append their ids
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
once_everywhere() { # IDS_FILE: each id exactly once in each recipient's inbox
    local id n
    while read -r id; do
        for n in $RCPTS; do [ "$(t_inbox_count "$n" "$id")" = 1 ] || return 1; done
    done <"$1"
}
# Sums over the ids of a Python expression on the sender's view of each.
sum_over() { # IDS_FILE EXPR
    local id c=0 s
    while read -r id; do
        s=$(el_api $SENDER GET "/v1/messages/$id" | json "int($2)") || s=1
        c=$((c + s))
    done <"$1"
    echo "$c"
}
rejected_state_count() { sum_over "$1" "j['state'] in ('rejected','partly_rejected')"; }
replay_count() { # the broker's REJECTED REASON_REPLAY receipts held
    sum_over "$1" "sum(1 for r in j['receipts'] if r['kind']=='REJECTED' and r.get('reason')=='REASON_REPLAY' and r['issuer']=='71.broker')"
}
accepted_all() { # IDS_FILE: each holds the broker's ACCEPTED
    local n
    n=$(sum_over "$1" "any(r['kind']=='ACCEPTED' and r['issuer']=='71.broker' for r in j['receipts'])")
    [ "$n" = "$(wc -l <"$1")" ]
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

# 2. the backup, taken online with `egide backup` while the edge runs and
# sends (issue 16 item 5): a consistent snapshot of one commit
send "$EL_DIR/ids-1b" 3 &
SENDING=$!
check "egide backup while the edge sends" \
    "$EGIDE_BIN/egide" backup --db "$DB" --out "$BACKUP/edge.sqlite"
wait "$SENDING"
check "3 more referrals sent during the backup" test "$(wc -l <"$EL_DIR/ids-1b")" -eq 3
check "the backup is the owner's only (0600)" test "$(stat -c %a "$BACKUP/edge.sqlite")" = 600
check "the backup is one file (no WAL beside it)" test ! -e "$BACKUP/edge.sqlite-wal"
check "the backup passes its integrity check" \
    test "$(sqlite3 "$BACKUP/edge.sqlite" 'PRAGMA integrity_check')" = ok
refuses_overwrite() { ! "$EGIDE_BIN/egide" backup --db "$DB" --out "$BACKUP/edge.sqlite" 2>/dev/null; }
check "a backup is never written over a file" refuses_overwrite
no_db() { ! "$EGIDE_BIN/egide" backup --db "$EL_DIR/none.sqlite" --out "$EL_DIR/x.sqlite" 2>/dev/null && test ! -e "$EL_DIR/x.sqlite"; }
check "a missing database is refused and leaves no file" no_db
IN_BACKUP=$(sqlite3 "$BACKUP/edge.sqlite" 'SELECT count(*) FROM outbox')
check "the backup holds the 3 before it and 0 to 3 of those sent meanwhile" \
    test "$IN_BACKUP" -ge 3 -a "$IN_BACKUP" -le 6
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-1b"

# 3. after the backup: these sequence numbers the restored edge will forget
send "$EL_DIR/ids-2" 4
check "4 referrals after the backup submitted" test "$(wc -l <"$EL_DIR/ids-2")" -eq 4
check "they are delivered" el_wait_until 200 delivered_all "$EL_DIR/ids-2"

# 4. restore the backup.  The broker is down while the restored edge
# starts, so the first referrals are sealed with sequence numbers the
# broker accepted already (from step 3): they must be re-signed, not lost.
el_stop $SENDER
el_stop broker
copy_db "$BACKUP" "$EL_DIR/state/$SENDER" # the restore: the copy in place, no -wal, no -shm
el_start_edge $SENDER || exit 1
send "$EL_DIR/ids-3a" 2
check "2 referrals queued at the restored edge while the broker is down" \
    test "$(wc -l <"$EL_DIR/ids-3a")" -eq 2
el_start_broker || exit 1
check "the restored edge reconnects" el_wait_until 150 t_connected $SENDER
moved() { grep -q "restored or reinstalled" "$EL_DIR/state/$SENDER/edge.log"; }
check "the broker's Welcome moved the restored edge's counter (notice logged)" \
    el_wait_until 100 moved
send "$EL_DIR/ids-3b" 3
cat "$EL_DIR/ids-3a" "$EL_DIR/ids-3b" >"$EL_DIR/ids-3"
check "5 referrals after the restore submitted" test "$(wc -l <"$EL_DIR/ids-3")" -eq 5
check "every new referral is delivered to every recipient" \
    el_wait_until 300 delivered_all "$EL_DIR/ids-3"
check "each exactly once at each recipient" once_everywhere "$EL_DIR/ids-3"
check "none of them is rejected" test "$(rejected_state_count "$EL_DIR/ids-3")" = 0
check "each holds the broker's ACCEPTED" accepted_all "$EL_DIR/ids-3"
check "the 2 sealed with used numbers were refused as REPLAY once each, then re-signed" \
    test "$(replay_count "$EL_DIR/ids-3a")" = 2
check "the sender logged the re-signing" \
    test "$(grep -c "re-signed under sequence" "$EL_DIR/state/$SENDER/edge.log")" = 2
check "those sealed after the Welcome never met a REPLAY refusal" \
    test "$(replay_count "$EL_DIR/ids-3b")" = 0
check "the earlier referrals are still delivered once" once_everywhere "$EL_DIR/ids-2"
check "no message in the sender's outbox is rejected" \
    test "$(el_api $SENDER GET "/v1/messages?box=outbox&limit=100" | json "sum(1 for m in j['messages'] if m['state'] in ('rejected','partly_rejected'))")" = 0
check "the sender's outbox holds what the backup held and the 5 since" \
    test "$(el_api $SENDER GET "/v1/messages?box=outbox&limit=100" | json "len(j['messages'])")" = $((IN_BACKUP + 5))
check "those sent during the backup are still delivered once" once_everywhere "$EL_DIR/ids-1b"
t_done
