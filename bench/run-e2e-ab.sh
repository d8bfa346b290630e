#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-e2e-ab.sh [ROUNDS] [COUNT] - bench_e2e (one sender -> broker -> two
# recipient edges, 4 KB, done when both signed DELIVERED receipts are back,
# group commit everywhere) for two builds in one go, interleaved rounds, and
# the ratio of their medians: "before" is $EGIDE_BIN_A, "after" $EGIDE_BIN_B
# (each a build directory with egide, egide-broker, egide-edge, bench_e2e).
# A fresh deployment per build per round; in each, 200 referrals one in
# flight, then COUNT with 100 in flight (and the hops: submit -> ACCEPTED,
# ACCEPTED -> first DELIVERED, first -> second DELIVERED), and the CPU each
# process used per referral at 100 in flight (from /proc/PID/stat, each
# daemon with its key holder egide-keyd).
#
#   EGIDE_BIN_A=/tmp/base/build EGIDE_BIN_B=build bench/run-e2e-ab.sh 3 3000
#
# EXTRA_INI_A / EXTRA_INI_B: lines appended to every daemon's configuration
# of that side (one build may then be compared with itself, a setting
# changed): e.g. EXTRA_INI_B=$'[keys]\nholder = inline'.
#
# The machine is shared: the figures are under load; the ratios, measured in
# the same run and interleaved, are what to read.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=${1:-3}
COUNT=${2:-3000}
: "${EGIDE_BIN_A:?set EGIDE_BIN_A (before)}" "${EGIDE_BIN_B:?set EGIDE_BIN_B (after)}"
HZ=$(getconf CLK_TCK)
RES=$(mktemp /tmp/egide-ab.XXXXXX)
trap 'rm -f "$RES"' EXIT

s_tree() { # PID and its descendants (a daemon and its egide-keyd)
    local c
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do s_tree "$c"; done
}

s_ticks() { # PID -> utime+stime ticks of it and its descendants
    local p s f t=0
    for p in $(s_tree "$1"); do
        s=$(cat /proc/"$p"/stat 2>/dev/null) || continue
        read -r -a f <<<"${s##*) }"
        t=$((t + f[11] + f[12]))
    done
    echo $t
}

s_round() { # LABEL BIN EXTRA_INI
    local label=$1 bin=$2 extra=$3
    EL_DIR=$(mktemp -d /tmp/egide-ab-run.XXXXXX)
    EGIDE_BIN=$bin
    export EL_DIR EGIDE_BIN EL_GROUP_COMMIT=true EL_EDGE_GROUP_COMMIT=true EL_LOG_LEVEL=warning
    (
        . "$ROOT/deploy/local/egide-local.sh"
        trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT
        el_setup >/dev/null
        el_write_edge_config 71.crip
        el_write_edge_config 71.tas.cluny-tournus
        if [ -n "$extra" ]; then
            for f in "$EL_DIR"/state/*/*.ini; do printf '%s\n' "$extra" >>"$f"; done
        fi
        el_start_broker
        el_start_edge 71.crip
        el_start_edge 71.tas.cluny-tournus
        sleep 1
        local ep="tcp://127.0.0.1:$EL_BROKER_PORT" sample="$ROOT/deploy/samples/snated-cluny.json"
        local one many p t0b t0c t0t t1b t1c t1t
        one=$("$bin/bench_e2e" "$ep" "$EL_DIR/pki" 200 1 "$sample")
        t0b=$(s_ticks "${EL_PID[broker]}") t0c=$(s_ticks "${EL_PID[71.crip]}")
        t0t=$(s_ticks "${EL_PID[71.tas.cluny-tournus]}")
        many=$(EGIDE_BENCH_HOPS=1 /usr/bin/time -f 'benchcpu=%U+%S' "$bin/bench_e2e" "$ep" \
            "$EL_DIR/pki" "$COUNT" 100 "$sample" 2>&1)
        t1b=$(s_ticks "${EL_PID[broker]}") t1c=$(s_ticks "${EL_PID[71.crip]}")
        t1t=$(s_ticks "${EL_PID[71.tas.cluny-tournus]}")
        local bcpu
        bcpu=$(sed -n 's/^benchcpu=\(.*\)$/\1/p' <<<"$many")
        printf '%s one %s\n' "$label" "$(sed -n 1p <<<"$one")"
        printf '%s many %s\n' "$label" "$(grep '^referrals' <<<"$many")"
        grep '^hop' <<<"$many" | sed "s/^/$label /"
        python3 - "$label" "$COUNT" "$HZ" "$((t1b - t0b))" "$((t1c - t0c))" "$((t1t - t0t))" \
            "$bcpu" <<'PY'
import sys
label, n, hz, b, c, t, s = sys.argv[1:]
n, hz = int(n), int(hz)
per = lambda ticks: ticks / hz / n * 1000
print(f"{label} cpu_ms_per_referral broker={per(int(b)):.3f} crip={per(int(c)):.3f} "
      f"tas={per(int(t)):.3f} sender={eval(s) / n * 1000:.3f}")
PY
    )
}

for ((r = 1; r <= ROUNDS; r++)); do
    for side in A B; do
        bin_var=EGIDE_BIN_$side extra_var=EXTRA_INI_$side
        s_round "$side" "${!bin_var}" "${!extra_var:-}" | tee -a "$RES"
    done
done

python3 - "$RES" <<'PY'
import re, statistics, sys
rows = open(sys.argv[1]).read().splitlines()
def med(side, kind, key):
    v = []
    for r in rows:
        if r.startswith(f"{side} {kind} "):
            m = re.search(key + r"=([0-9.]+)", r)
            if m:
                v.append(float(m.group(1)))
    return statistics.median(v) if v else float("nan")
print("\nmedians over the rounds (A = before, B = after; ratio = B/A)")
for kind, label in (("one", "1 in flight"), ("many", "100 in flight")):
    for key in ("rate", "p50", "p99"):
        a, b = med("A", kind, key), med("B", kind, key)
        print(f"  {label:14s} {key:5s} A={a:8.1f} B={b:8.1f} ratio={b / a if a else float('nan'):.2f}")
for hop in ("submit->accepted", "accepted->1st_delivered", "1st->2nd_delivered"):
    a, b = med("A", "hop " + hop, "p50"), med("B", "hop " + hop, "p50")
    print(f"  hop {hop:24s} p50 A={a:7.1f}ms B={b:7.1f}ms")
for proc in ("broker", "crip", "tas", "sender"):
    a, b = med("A", "cpu_ms_per_referral", proc), med("B", "cpu_ms_per_referral", proc)
    print(f"  cpu/referral {proc:7s} A={a:.3f}ms B={b:.3f}ms")
PY
