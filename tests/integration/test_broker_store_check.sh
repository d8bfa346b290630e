#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_broker_store_check.sh - issue 13 item 3: the broker keeps its last
# signed checkpoint outside its store and, at start, refuses to serve a
# store that lost entries that checkpoint covers (as a damaged WAL after a
# crash leaves it, or the WAL itself lost after a kill -9), saying what is
# lost, with a non-zero exit; the intact store starts.
. "$(dirname "$0")/common.sh"
el_setup || exit 1
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
for i in 1 2 3 4 5; do ID=$(send); done
check "referrals delivered" el_wait_until 100 t_all_delivered fr.snated "$ID"
ST="$EL_DIR/state/broker"
el_stop_all # the broker signs a last checkpoint as it stops
check "the last signed checkpoint is kept outside the store" test -s "$ST/broker.sqlite.checkpoint"
SIZE=$(sed -n 2p "$ST/broker.sqlite.checkpoint")
check "it covers the log" test "$SIZE" -gt 10
cp "$ST/broker.sqlite" "$EL_DIR/intact.sqlite"

# What a WAL that lost its last frames leaves: the newest entries gone.
KEEP=$((SIZE - 4))
sqlite3 "$ST/broker.sqlite" "DROP TRIGGER audit_leaves_no_delete; DELETE FROM audit_leaves WHERE idx >= $KEEP;"
start_fails() {
    timeout 30 "$EGIDE_BIN/egide-broker" -c "$ST/broker.ini" >"$EL_DIR/start.log" 2>&1
    local rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
}
check "the broker refuses to start" start_fails
check "it says what is lost" grep -q "the audit log has $KEEP entries but the last checkpoint this broker signed .* covers $SIZE: entries $KEEP..$((SIZE - 1)) (4) are lost" "$EL_DIR/start.log"
check "and that it refuses to serve" grep -q "refusing to serve" "$EL_DIR/start.log"

# The tree altered below the checkpoint.
cp "$EL_DIR/intact.sqlite" "$ST/broker.sqlite"
rm -f "$ST/broker.sqlite-wal" "$ST/broker.sqlite-shm"
sqlite3 "$ST/broker.sqlite" "DROP TRIGGER audit_hashes_no_update; UPDATE audit_hashes SET hash = randomblob(32);"
check "an altered tree is refused too" start_fails
check "  saying so" grep -q "does not hash at size $SIZE" "$EL_DIR/start.log"

# The intact store starts and serves.
cp "$EL_DIR/intact.sqlite" "$ST/broker.sqlite"
rm -f "$ST/broker.sqlite-wal" "$ST/broker.sqlite-shm"
check "the intact store starts" el_start_broker
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
ID=$(send)
check "and delivers" el_wait_until 100 t_all_delivered fr.snated "$ID"

# A crash, then the WAL lost (here: truncated to nothing, as a damaged
# device may leave it): what was committed since the last WAL checkpoint,
# the referral just delivered included, is gone from the store, while the
# checkpoint kept outside it covers it.
covers_more() { [ "$(sed -n 2p "$ST/broker.sqlite.checkpoint")" -gt "$SIZE" ]; }
check "a newer checkpoint is kept" el_wait_until 100 covers_more
NEW=$(sed -n 2p "$ST/broker.sqlite.checkpoint")
el_stop broker KILL
check "the WAL holds the last commits" test -s "$ST/broker.sqlite-wal"
truncate -s 0 "$ST/broker.sqlite-wal"
check "after the WAL is lost the broker refuses to start" start_fails
check "  naming what the store lacks" grep -Eq "the audit log has [0-9]+ entries but the last checkpoint this broker signed .* covers $NEW: entries [0-9]+\.\.$((NEW - 1)) \([0-9]+\) are lost" "$EL_DIR/start.log"
t_done
