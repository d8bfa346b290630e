#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# ha-failover.sh [LEASE_SECONDS...] - failover time of two brokers on one
# PostgreSQL store (a temporary cluster), edges configured by the directory
# only, on loopback.  For each lease (default: 3 10):
#   kill -9 of the active broker -> the first ACCEPTED receipt at the sender
#     of a referral sent right after the kill;
#   SIGSTOP of the active broker -> the passive one serving (health 200).
# Prints one line per measure.  Uses the tests' helpers (tests/integration).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EGIDE_BIN=${EGIDE_BIN:-$ROOT/build}
export EGIDE_BIN
LEASES=("$@")
[ ${#LEASES[@]} -gt 0 ] || LEASES=(3 10)
now() { date +%s.%N; }
ms() { python3 -c "print(round(($2 - $1) * 1000))"; }
accepted() { # ID
    el_api fr.snated GET "/v1/messages/$1" | python3 -c '
import json,sys
m=json.load(sys.stdin)
sys.exit(0 if any(r["kind"]=="ACCEPTED" and r["issuer"]=="71.broker" for r in m.get("receipts",[])) else 1)'
}
serving() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/v1/health")" = 200 ]; }
for lease in "${LEASES[@]}"; do
    (
        T_TIMEOUT=600
        set --
        . "$ROOT/tests/integration/common.sh"
        . "$ROOT/tests/integration/pg_ha.sh"
        ha_setup "$lease" >/dev/null || exit 1
        el_start_broker || exit 1
        el_start_edge fr.snated && el_start_edge 71.crip || exit 1
        ha_start_broker2 || exit 1
        el_wait_until 100 t_connected fr.snated || exit 1
        BODY=$(ha_body)
        send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
        id=$(send)
        el_wait_until 100 accepted "$id" || exit 1
        # kill -9 -> first new ACCEPTED at the sender
        t0=$(now)
        kill -KILL "${EL_PID[broker]}"
        id=$(send)
        el_wait_until 600 accepted "$id" || { echo "lease ${lease}s: no ACCEPTED after kill -9"; exit 1; }
        t1=$(now)
        echo "lease ${lease}s: kill -9 -> first new ACCEPTED at the sender: $(ms "$t0" "$t1") ms"
        # The killed one back (passive), then SIGSTOP of the active one.
        el_start_broker_passive() {
            "$EGIDE_BIN/egide-broker" -c "$INI" >>"$EL_DIR/state/broker/broker.log" 2>&1 &
            EL_PID[broker]=$!
        }
        el_start_broker_passive
        el_wait_until 100 grep -q 'passive: another' "$EL_DIR/state/broker/broker.log" || exit 1
        t0=$(now)
        kill -STOP "$B2"
        el_wait_until 600 serving "$EL_BROKER_API_PORT" || { echo "lease ${lease}s: no takeover after SIGSTOP"; exit 1; }
        t1=$(now)
        echo "lease ${lease}s: SIGSTOP -> the other broker serving: $(ms "$t0" "$t1") ms"
        id=$(send)
        el_wait_until 600 accepted "$id" && t2=$(now) &&
            echo "lease ${lease}s: SIGSTOP -> first new ACCEPTED at the sender: $(ms "$t0" "$t2") ms"
        kill -CONT "$B2"
        t_done >/dev/null
    )
done
