# SPDX-License-Identifier: AGPL-3.0-or-later
# common.sh - sourced by the integration tests: a temporary deployment
# directory, the local-deployment helpers, pass/fail counters with a final
# "N passed, N failed" line, a watchdog bounding the whole test, and cleanup
# that stops every daemon (and shows their logs when something failed).
set -uo pipefail
: "${EGIDE_BIN:?EGIDE_BIN must point at the build directory}"
export EGIDE_BIN
TEST_NAME=$(basename "$0" .sh)
EL_DIR=$(mktemp -d "/tmp/egide-$TEST_NAME.XXXXXX")
export EL_DIR
# shellcheck source=../../deploy/local/egide-local.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/egide-local.sh"
T_PASS=0
T_FAIL=0
ok() { T_PASS=$((T_PASS + 1)); echo "ok   $*"; }
bad() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $*"; }
# check DESCRIPTION CMD...: passes when CMD succeeds.
check() {
    local d="$1"
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
t_cleanup() {
    el_stop_all
    if [ "$T_FAIL" -gt 0 ]; then
        for f in "$EL_DIR"/state/*/*.log; do
            [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }
        done
    fi
    rm -rf "$EL_DIR"
}
t_done() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
    exit $?
}
trap t_cleanup EXIT
# Watchdog: the whole test is bounded even if a daemon hangs.  Its output
# goes to /dev/null so a leftover sleep never holds ctest's pipe open.
( sleep "${T_TIMEOUT:-600}" && kill -TERM $$ ) >/dev/null 2>&1 </dev/null &
T_WATCHDOG=$!
trap 'echo "watchdog: $TEST_NAME exceeded ${T_TIMEOUT:-600}s" >&2; exit 124' TERM
trap 't_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT

# json FIELD-EXPR: read JSON on stdin, print a Python expression over it (j).
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# Helpers over an edge's API.
t_inbox_count() { # NODE MSGID -> count of that id in the node's inbox
    el_api "$1" GET "/v1/messages?box=inbox&limit=10000" | json "sum(1 for m in j['messages'] if m['id']=='$2')"
}
t_all_delivered() { # SENDER MSGID
    el_api "$1" GET "/v1/messages/$2" | python3 -c '
import json,sys
m=json.load(sys.stdin)
sys.exit(0 if m.get("recipients") and all(r["state"] in ("delivered","acknowledged") for r in m["recipients"]) else 1)'
}
t_connected() { el_api "$1" GET /v1/health | grep -q '"broker": *"connected"'; }
