#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_crash.sh - kill -9 during a stream of messages, then restart: every
# message the sender accepted is in every recipient's inbox exactly once —
# none lost, none twice.  Three rounds: the broker, a receiving edge, and the
# sending edge are killed.  EGIDE_CRASH_N sets the stream length (1000).
T_TIMEOUT=1500
. "$(dirname "$0")/common.sh"
N=${EGIDE_CRASH_N:-1000}

el_setup || exit 1
el_start_broker || exit 1
for n in fr.snated 71.crip 71.tas.cluny-tournus; do el_start_edge "$n" || exit 1; done
for n in fr.snated 71.crip 71.tas.cluny-tournus; do el_wait_until 100 t_connected "$n" || exit 1; done
python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))" >"$EL_DIR/body.json"

submitted() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# Count, in one sqlite query per node, how many of the ids are in its inbox
# and how many times (the inbox key is msg_id, so >1 would be a schema bug).
inbox_check() { # NODE IDS_FILE -> prints "present missing"
    python3 - "$EL_DIR/state/$1/edge.sqlite" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
have = {}
for (h,) in db.execute("SELECT lower(hex(msg_id)) FROM inbox"):
    have[h] = have.get(h, 0) + 1
present = sum(1 for i in ids if have.get(i) == 1)
twice = sum(1 for v in have.values() if v > 1)
print(present, len(ids) - present, twice)
PY
}
all_in() { # IDS_FILE
    local r
    for n in 71.crip 71.tas.cluny-tournus; do
        r=$(inbox_check "$n" "$1")
        [ "$(echo "$r" | cut -d' ' -f2)" = 0 ] || return 1
    done
}

round() { # VICTIM
    local victim="$1" ids="$EL_DIR/ids-$1" start
    : >"$ids"
    python3 "$(dirname "$0")/load.py" "http://127.0.0.1:${EL_PORT[fr.snated]}" \
        "$EL_DIR/state/fr.snated/api.token" "$N" "$ids" "$EL_DIR/body.json" &
    local loader=$!
    el_wait_until 600 bash -c "[ \$(wc -l <'$ids') -ge $((N / 3)) ]"
    echo "kill -9 $victim after $(submitted "$ids") submissions"
    el_stop "$victim" KILL
    sleep 1
    if [ "$victim" = broker ]; then el_start_broker; else el_start_edge "$victim"; fi
    wait "$loader"
    check "$victim round: all $N submissions answered 202" test "$(submitted "$ids")" -eq "$N"
    check "$victim round: every message reached both recipients" el_wait_until 1500 all_in "$ids"
    for n in 71.crip 71.tas.cluny-tournus; do
        r=$(inbox_check "$n" "$ids")
        check "$victim round: $n has each of the $N exactly once (present missing dup: $r)" \
            test "$r" = "$N 0 0"
    done
    # Nothing delivered that the sender does not know, nor twice by the broker.
    extra=$(sqlite3 "file:$EL_DIR/state/71.crip/edge.sqlite?mode=ro" \
        "ATTACH 'file:$EL_DIR/state/fr.snated/edge.sqlite?mode=ro' AS s; SELECT count(*) FROM inbox WHERE sender_id='fr.snated' AND msg_id NOT IN (SELECT msg_id FROM s.outbox)")
    check "$victim round: no message at the CRIP that the sender did not queue" test "$extra" = 0
    dup=$(sqlite3 "file:$EL_DIR/state/broker/broker.sqlite?mode=ro" \
        "SELECT count(*) FROM (SELECT msg_id, recipient_id, count(*) c FROM deliveries GROUP BY 1,2 HAVING c>1)")
    check "$victim round: one delivery row per message and recipient at the broker" test "$dup" = 0
}

round broker
round 71.crip
round fr.snated
t_done
