#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-vs-rabbitmq.sh [ROUNDS] [COUNT] - Égide against RabbitMQ in one go,
# interleaved rounds, medians and ratios.  Run as root (RabbitMQ's data dir;
# the Debian packages rabbitmq-server, librabbitmq-dev, libnats-dev (peerbench
# builds its NATS clients too), bc must be installed:
# deploy/install-deps.sh does not install them, this is a benchmark).
#
# Each round: ../shared/peerbench/run.sh for RabbitMQ 3.10's classic durable
# queue (publisher confirms, one consumer with manual acks; its own
# librabbitmq clients, started and stopped by it, on 127.0.0.1 only) with
# COUNT 4 KB messages one in flight ("sync") and 100 in flight ("pipe"); then
# bench_e2e on a fresh Égide deployment (one sender -> broker -> two
# recipient edges, group commit, a referral done when both signed DELIVERED
# receipts are back) with COUNT referrals, one and 100 in flight.
#
#   sudo EGIDE_BIN=build bench/run-vs-rabbitmq.sh 3 2000
#
# On a shared machine the figures are under load; read the ratios, measured
# in the same run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=${1:-3}
COUNT=${2:-2000}
EGIDE_BIN=$(cd "${EGIDE_BIN:-$ROOT/build}" && pwd)
PEER=${PEERBENCH:-$ROOT/../shared/peerbench}
[ -x "$PEER/run.sh" ] || { echo "no $PEER/run.sh" >&2; exit 1; }
[ -x "$EGIDE_BIN/bench_e2e" ] || { echo "build first: cmake --build build" >&2; exit 1; }
RES=$(mktemp /tmp/egide-vs-rmq.XXXXXX)
PBDIR=$(mktemp -d /tmp/egide-peerbench.XXXXXX)
trap 'rm -rf "$RES" "$PBDIR"' EXIT

s_rabbit() { # one peerbench run of rmq-classic, sync and pipe
    PEERBENCH_DIR=$PBDIR CONFIGS=rmq-classic RUNS=1 N=$COUNT WARMUP=500 FSYNC_CHECK=0 \
        SKIP_INSTALL=1 INFLIGHT=100 PREFETCH=100 bash "$PEER/run.sh" >/dev/null 2>"$PBDIR/log" ||
        { tail -5 "$PBDIR/log" >&2; return 1; }
    local raw
    raw=$(ls -t "$PBDIR"/results/*/raw.tsv | head -1)
    awk -F'\t' '$3 == "r1" && $5 == "ok" {printf "rmq %s rate=%.0f/s p50=%.2fms\n", $2, $6, $8}' "$raw"
}

s_egide() {
    EL_DIR=$(mktemp -d /tmp/egide-vs-rmq-run.XXXXXX)
    export EL_DIR EGIDE_BIN EL_GROUP_COMMIT=true EL_EDGE_GROUP_COMMIT=true EL_LOG_LEVEL=warning
    (
        . "$ROOT/deploy/local/egide-local.sh"
        trap 'el_stop_all; rm -rf "$EL_DIR"' EXIT
        el_setup >/dev/null
        el_start_broker
        el_start_edge 71.crip
        el_start_edge 71.tas.cluny-tournus
        sleep 1
        local ep="tcp://127.0.0.1:$EL_BROKER_PORT" sample="$ROOT/deploy/samples/snated-cluny.json"
        printf 'egide sync %s\n' "$("$EGIDE_BIN/bench_e2e" "$ep" "$EL_DIR/pki" "$COUNT" 1 "$sample")"
        printf 'egide pipe %s\n' "$("$EGIDE_BIN/bench_e2e" "$ep" "$EL_DIR/pki" "$COUNT" 100 "$sample")"
    )
}

for ((r = 1; r <= ROUNDS; r++)); do
    s_rabbit | tee -a "$RES"
    s_egide | tee -a "$RES"
done

python3 - "$RES" <<'PY'
import re, statistics, sys
rows = open(sys.argv[1]).read().splitlines()
def med(who, mode, key):
    v = [float(m.group(1)) for r in rows if r.startswith(f"{who} {mode} ")
         for m in [re.search(key + r"=([0-9.]+)", r)] if m]
    return statistics.median(v) if v else float("nan")
print("\nmedians over the rounds; ratio = Égide / RabbitMQ classic")
for mode, label in (("sync", "1 in flight"), ("pipe", "100 in flight")):
    e, q = med("egide", mode, "rate"), med("rmq", mode, "rate")
    print(f"  {label:14s} RabbitMQ {q:7.0f}/s  Égide {e:7.0f}/s  ratio {e / q:.3f}"
          f"  (p50 {med('rmq', mode, 'p50'):.1f} ms vs {med('egide', mode, 'p50'):.1f} ms)")
PY
