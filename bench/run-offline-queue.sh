#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-offline-queue.sh [COUNT] [STEP] - resident memory and latency while
# referrals queue for an offline recipient, then while it drains them.
#
# One sender (bench_e2e as fr.snated) -> broker -> CRIP 71 (online) and
# Cluny/Tournus (offline: its edge is not started), 4 KB referrals, group
# commit, 100 in flight; a referral counts as done at CRIP 71's DELIVERED
# receipt, so every one leaves a delivery queued for Cluny/Tournus.  After
# every STEP referrals: the broker's and CRIP 71's resident memory (VmRSS,
# the daemon and its egide-keyd apart), the broker's queue depth and store
# size, and 200 referrals one in flight (p50/p99: a read that grows with the
# queue shows here).  Then Cluny/Tournus starts: its queue drains, sampled
# every 10 s (depth, rate, both daemons' memory), bounded by DRAIN_MAX_S.
#
#   bench/run-offline-queue.sh 100000 10000
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT=${1:-100000}
STEP=${2:-10000}
DRAIN_MAX_S=${DRAIN_MAX_S:-1800}
EGIDE_BIN=${EGIDE_BIN:-$ROOT/build}
[ -x "$EGIDE_BIN/bench_e2e" ] || { echo "build first: cmake --build build" >&2; exit 1; }
EL_DIR=$(mktemp -d /tmp/egide-offq.XXXXXX)
export EL_DIR EGIDE_BIN EL_GROUP_COMMIT=true EL_EDGE_GROUP_COMMIT=true EL_LOG_LEVEL=warning
. "$ROOT/deploy/local/egide-local.sh"
trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT

s_rss() { # PID -> VmRSS in KiB
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/"$1"/status 2>/dev/null || echo 0
}
s_keyd() { # PID -> its egide-keyd child's PID (or the PID itself)
    local c
    c=$(cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -m1 . || true)
    echo "${c:-$1}"
}
s_metric() { # NAME -> the broker's gauge
    curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" \
        "http://127.0.0.1:$EL_BROKER_API_PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
s_du() { du -sk "$1" | cut -f1; }

el_setup >/dev/null
el_start_broker
el_start_edge 71.crip
sleep 1
EP="tcp://127.0.0.1:$EL_BROKER_PORT" SAMPLE="$ROOT/deploy/samples/snated-cluny.json"
BK=$(s_keyd "${EL_PID[broker]}") CK=$(s_keyd "${EL_PID[71.crip]}")
printf '%8s %10s %10s %10s %10s %9s %10s %8s %s\n' queued broker_kB b_keyd_kB crip_kB \
    crip_keyd_kB depth store_kB rate one_in_flight
printf '%8s %10s %10s %10s %10s %9s %10s %8s\n' 0 "$(s_rss "${EL_PID[broker]}")" "$(s_rss "$BK")" \
    "$(s_rss "${EL_PID[71.crip]}")" "$(s_rss "$CK")" 0 "$(s_du "$EL_DIR/state/broker")" -
done_n=0
while [ "$done_n" -lt "$COUNT" ]; do
    out=$(EGIDE_BENCH_NEED=1 "$EGIDE_BIN/bench_e2e" "$EP" "$EL_DIR/pki" "$STEP" 100 "$SAMPLE")
    done_n=$((done_n + STEP))
    rate=$(sed -n 's/.* rate=\([0-9]*\/s\).*/\1/p' <<<"$out")
    one=$(EGIDE_BENCH_NEED=1 "$EGIDE_BIN/bench_e2e" "$EP" "$EL_DIR/pki" 200 1 "$SAMPLE" |
        grep -o 'p50=.*ms p99=[0-9.]*ms')
    done_n=$((done_n + 200))
    printf '%8s %10s %10s %10s %10s %9s %10s %8s %s\n' "$done_n" "$(s_rss "${EL_PID[broker]}")" \
        "$(s_rss "$BK")" "$(s_rss "${EL_PID[71.crip]}")" "$(s_rss "$CK")" \
        "$(s_metric egide_broker_queue_depth)" "$(s_du "$EL_DIR/state/broker")" "$rate" "$one"
done

echo "# Cluny/Tournus comes online: its queue drains"
el_start_edge 71.tas.cluny-tournus
TK=$(s_keyd "${EL_PID[71.tas.cluny-tournus]}")
printf '%6s %9s %10s %12s %12s %8s\n' seconds depth broker_kB cluny_kB cluny_keyd_kB rate
t0=$(date +%s) prev=$(s_metric egide_broker_queue_depth) tprev=$t0
while :; do
    sleep 10
    now=$(date +%s) d=$(s_metric egide_broker_queue_depth)
    printf '%6s %9s %10s %12s %12s %7s/s\n' $((now - t0)) "$d" "$(s_rss "${EL_PID[broker]}")" \
        "$(s_rss "${EL_PID[71.tas.cluny-tournus]}")" "$(s_rss "$TK")" \
        $(((prev - d) / (now - tprev)))
    prev=$d tprev=$now
    [ "$d" -eq 0 ] && break
    [ $((now - t0)) -lt "$DRAIN_MAX_S" ] || { echo "not drained after ${DRAIN_MAX_S} s"; break; }
done
