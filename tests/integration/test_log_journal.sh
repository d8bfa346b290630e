#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_log_journal.sh - a daemon's log under systemd's journal.  The broker
# is started on a configuration whose keys do not exist (made now in a
# temporary directory), so it logs one error and exits 1:
#  - stderr a file, no $JOURNAL_STREAM: the usual text line;
#  - $JOURNAL_STREAM naming that file (as systemd sets it for a unit whose
#    stderr is the journal) but no journal socket (journald absent, as in a
#    container): still the text line, nothing lost;
#  - $JOURNAL_STREAM naming another file: the text line;
#  - when journald runs here (its socket and journalctl work): the line is
#    in the journal with PRIORITY=3, SYSLOG_IDENTIFIER=egide-broker and
#    EGIDE_NODE, and not on stderr.  Skipped (said so) where it does not.
# The fields themselves are checked in tests/unit/test_log.c.
T_TIMEOUT=120 # read by common.sh's watchdog
. "$(dirname "$0")/common.sh"

SRC="${EGIDE_SOURCE_DIR:?}"
BROKER="$EGIDE_BIN/egide-broker"
T="$EL_DIR/journal"
mkdir -p "$T"
sed -e "s|/etc/egide|$T/etc|g" -e "s|/var/lib/egide|$T/var|g" -e 's/^syslog *= *true/syslog = false/' \
    "$SRC/deploy/examples/broker.ini" >"$T/broker.ini"
LINE='egide-broker\[[0-9]+\] error: key holder \(egide-keyd\) did not start'

"$BROKER" -c "$T/broker.ini" >/dev/null 2>"$T/plain.err"
check "no JOURNAL_STREAM: exit 1" [ $? -eq 1 ]
check "no JOURNAL_STREAM: the text line on stderr" grep -qE "^[0-9T:.-]+Z $LINE" "$T/plain.err"

: >"$T/other.err"
JOURNAL_STREAM="$(stat -c '%d:%i' "$T/other.err")" "$BROKER" -c "$T/broker.ini" >/dev/null 2>"$T/wrong.err"
check "JOURNAL_STREAM of another file: the text line" grep -qE "$LINE" "$T/wrong.err"

: >"$T/match.err"
exec 3>>"$T/match.err"
JOURNAL_STREAM="$(stat -c '%d:%i' "$T/match.err")" "$BROKER" -c "$T/broker.ini" >/dev/null 2>&3 &
PID=$!
wait $PID
RC=$?
exec 3>&-
check "JOURNAL_STREAM of stderr: exit 1" [ $RC -eq 1 ]
if [ -S /run/systemd/journal/socket ] && journalctl -n 0 >/dev/null 2>&1; then
    check "journald: the line is not on stderr" bash -c "! grep -qE '$LINE' '$T/match.err'"
    for _ in $(seq 1 50); do # journald writes asynchronously: up to 5 s
        journalctl _PID="$PID" -o json --no-pager 2>/dev/null >"$T/journal.json"
        grep -q '"EGIDE_NODE":"71.broker"' "$T/journal.json" && break
        sleep 0.1
    done
    check "journald: the line with its fields" python3 - "$T/journal.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = any(r.get("SYSLOG_IDENTIFIER") == "egide-broker" and r.get("PRIORITY") == "3"
         and r.get("EGIDE_NODE") == "71.broker"
         and "key holder (egide-keyd) did not start" in r.get("MESSAGE", "") for r in rows)
sys.exit(0 if ok else 1)
PY
else
    echo "skip journald fields: no journald here (/run/systemd/journal/socket absent)"
    check "no journal socket: the text line stays on stderr" grep -qE "$LINE" "$T/match.err"
fi
t_done
