#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-edge-submit.sh [SECONDS] [ROUNDS] - submit latency through the edge's
# REST API (POST /v1/messages, bearer token, one connection per request, 16
# clients), as the 119's case software submits: fr.snated's edge -> broker
# -> CRIP 71 (online), group commit, the sample referral
# (deploy/samples/snated-cluny.json).  Each round, on a fresh deployment:
# the peak (closed loop, SECONDS), then half of it (open loop at half the
# peak's rate, latency counted from when each request was due).  Medians
# over ROUNDS.
#
#   bench/run-edge-submit.sh 20 3
#
# Two builds in one go, interleaved rounds, and the ratio of their medians:
#   EGIDE_BIN_A=/tmp/base/build EGIDE_BIN_B=build bench/run-edge-submit.sh 20 3
# EXTRA_INI_A / EXTRA_INI_B: lines appended to the sending edge's
# configuration of that side (one build against itself, a setting changed):
#   EXTRA_INI_B=$'[api]\nthreads = 8' bench/run-edge-submit.sh 20 3
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-20}
ROUNDS=${2:-3}
A=${EGIDE_BIN_A:-${EGIDE_BIN:-$ROOT/build}}
B=${EGIDE_BIN_B:-}
[ -z "${EXTRA_INI_B:-}" ] || B=${B:-$A}
for bin in "$A" ${B:+"$B"}; do
    [ -x "$bin/bench_edge_submit" ] || { echo "build first: $bin/bench_edge_submit" >&2; exit 1; }
done
RES=$(mktemp /tmp/egide-submit-res.XXXXXX)
trap 'rm -f "$RES"' EXIT

s_round() { # LABEL BIN EXTRA_INI
    local label=$1 bin=$2 extra=$3
    EL_DIR=$(mktemp -d /tmp/egide-submit.XXXXXX)
    EGIDE_BIN=$bin
    export EL_DIR EGIDE_BIN EL_GROUP_COMMIT=true EL_EDGE_GROUP_COMMIT=true EL_LOG_LEVEL=warning
    (
        . "$ROOT/deploy/local/egide-local.sh"
        trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT
        el_setup >/dev/null
        el_write_edge_config fr.snated
        [ -z "$extra" ] || printf '%s\n' "$extra" >>"$EL_DIR/state/fr.snated/edge.ini"
        el_start_broker
        for n in fr.snated 71.crip; do el_start_edge "$n"; done
        sleep 1
        python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$ROOT/deploy/samples/snated-cluny.json'))}))" \
            >"$EL_DIR/body.json"
        local url="http://127.0.0.1:${EL_PORT[fr.snated]}/v1/messages"
        local tok="$EL_DIR/state/fr.snated/api.token" p h rate
        p=$("$bin/bench_edge_submit" "$url" "$tok" "$EL_DIR/body.json" 0 "$SECS" 16)
        rate=$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<<"$p")
        h=$("$bin/bench_edge_submit" "$url" "$tok" "$EL_DIR/body.json" $((rate / 2)) "$SECS" 16)
        echo "$label peak: $p"
        echo "$label half: $h"
        printf '%s %s %s %s\n' "$label" "$rate" "$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<<"$h")" \
            "$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<<"$p")" >>"$RES"
    )
}

for r in $(seq 1 "$ROUNDS"); do
    s_round A "$A" "${EXTRA_INI_A:-}"
    [ -z "$B" ] || s_round B "$B" "${EXTRA_INI_B:-}"
done
python3 - "$RES" "$B" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for side in ("A", "B"):
    r = [x for x in rows if x[0] == side]
    if not r:
        continue
    med[side] = [statistics.median(float(x[i]) for x in r) for i in (1, 2, 3)]
    print("%s: median peak %.0f submits/s (p99 %.1f ms); at half of it, p99 %.1f ms"
          " (target 20 ms)" % (side, med[side][0], med[side][2], med[side][1]))
if "B" in med:
    a, b = med["A"], med["B"]
    print("B/A: peak %.2fx, p99 at half the peak %.2fx, p99 at the peak %.2fx"
          % (b[0] / a[0], b[1] / a[1], b[2] / a[2]))
PY
