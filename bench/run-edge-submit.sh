#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-edge-submit.sh [SECONDS] [ROUNDS] - submit latency through the edge's
# REST API (POST /v1/messages, bearer token, one connection per request, 16
# clients), as the 119's case software submits: fr.snated's edge -> broker
# -> CRIP 71 and Cluny/Tournus (both online), group commit, 4 KB-class
# referral (deploy/samples/snated-cluny.json).  Each round: the peak (closed
# loop, SECONDS), then half of it (open loop at half the peak's rate,
# latency counted from when each request was due), on the same deployment.
# Medians over ROUNDS.
#
#   bench/run-edge-submit.sh 20 3
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-20}
ROUNDS=${2:-3}
EGIDE_BIN=${EGIDE_BIN:-$ROOT/build}
[ -x "$EGIDE_BIN/bench_edge_submit" ] || { echo "build first: cmake --build build" >&2; exit 1; }
EL_DIR=$(mktemp -d /tmp/egide-submit.XXXXXX)
export EL_DIR EGIDE_BIN EL_GROUP_COMMIT=true EL_EDGE_GROUP_COMMIT=true EL_LOG_LEVEL=warning
. "$ROOT/deploy/local/egide-local.sh"
trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT
el_setup >/dev/null
el_start_broker
for n in fr.snated 71.crip 71.tas.cluny-tournus; do el_start_edge "$n"; done
sleep 1
python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$ROOT/deploy/samples/snated-cluny.json'))}))" \
    >"$EL_DIR/body.json"
URL="http://127.0.0.1:${EL_PORT[fr.snated]}/v1/messages" TOK="$EL_DIR/state/fr.snated/api.token"
peaks=() halfs=()
for r in $(seq 1 "$ROUNDS"); do
    p=$("$EGIDE_BIN/bench_edge_submit" "$URL" "$TOK" "$EL_DIR/body.json" 0 "$SECS" 16)
    echo "round $r peak: $p"
    rate=$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<<"$p")
    h=$("$EGIDE_BIN/bench_edge_submit" "$URL" "$TOK" "$EL_DIR/body.json" $((rate / 2)) "$SECS" 16)
    echo "round $r half: $h"
    peaks+=("$rate") halfs+=("$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<<"$h")")
    sleep 5 # the deliveries of the round drain
done
python3 - "${peaks[*]}" "${halfs[*]}" <<'PY'
import statistics, sys
p = [float(x) for x in sys.argv[1].split()]
h = [float(x) for x in sys.argv[2].split()]
print("median peak %.0f submits/s; at half of it, median p99 %.1f ms (target 20 ms: %.2fx)"
      % (statistics.median(p), statistics.median(h), statistics.median(h) / 20))
PY
