#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-e2e.sh [COUNT] - end-to-end benchmark on loopback: one sender (the
# bench program, as fr.snated) -> broker -> two recipient edges (CRIP 71 and
# Cluny/Tournus), 4 KB referrals, done when both DELIVERED receipts are back.
# Runs twice in one go, varying the component under test, the broker: an
# fsync per commit (broker group_commit = false: every frame that leads to a
# receipt or a delivery is its own transaction) and group commit; the edges
# group-commit in both runs (EL_EDGE_GROUP_COMMIT=false to change that).
# Prints each rate beside the broker's ceiling on this kind of 2-core machine
# and the ratio.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT=${1:-3000}
EGIDE_BIN=${EGIDE_BIN:-$ROOT/build}
export EGIDE_BIN
[ -x "$EGIDE_BIN/bench_e2e" ] || { echo "build first: cmake --build build" >&2; exit 1; }
declare -A CEILING=([false]=1100 [true]=4500)
for gc in false true; do
    EL_DIR=$(mktemp -d /tmp/egide-bench.XXXXXX)
    export EL_DIR EL_GROUP_COMMIT=$gc EL_EDGE_GROUP_COMMIT=${EL_EDGE_GROUP_COMMIT:-true} EL_LOG_LEVEL=warning
    (
        . "$ROOT/deploy/local/egide-local.sh"
        trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT
        el_setup >/dev/null
        el_start_broker
        el_start_edge 71.crip
        el_start_edge 71.tas.cluny-tournus
        sleep 1
        # Unloaded latency first (one referral in flight), then throughput
        # with 512 in flight (its latency figures then include queueing).
        one=$("$EGIDE_BIN/bench_e2e" "tcp://127.0.0.1:$EL_BROKER_PORT" "$EL_DIR/pki" 200 1 \
            "$ROOT/deploy/samples/snated-cluny.json")
        out=$("$EGIDE_BIN/bench_e2e" "tcp://127.0.0.1:$EL_BROKER_PORT" "$EL_DIR/pki" "$COUNT" 512 \
            "$ROOT/deploy/samples/snated-cluny.json")
        rate=$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<<"$out")
        mode=$([ $gc = true ] && echo "group commit  " || echo "fsync/commit  ")
        printf '%s %s  ceiling=%s/s ratio=%.2f\n' "$mode" "$out" "${CEILING[$gc]}" \
            "$(python3 -c "print($rate/${CEILING[$gc]})")"
        printf '%s one at a time: %s\n' "$mode" "$(grep -o 'p50=.*ms p99=[0-9.]*ms' <<<"$one")"
    )
done
