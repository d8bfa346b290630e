#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# demo.sh - Égide end to end on this machine (loopback only):
#   1. installs the dependencies and builds (build/),
#   2. makes a development PKI and the signed directory of the Saône-et-Loire
#      example in a temporary directory,
#   3. starts the broker and five edges: the 119 (fr.snated), CRIP 71, the
#      Mâcon and Cluny/Tournus territories, the parquet of Mâcon,
#   4. the 119 sends an INVENTED referral about a child living in Cluny,
#   5. shows it arriving at CRIP 71 and Cluny/Tournus (and not at Mâcon), the
#      receipts back at the 119, the CRIP's acknowledgement, the audit proof,
#   6. stops everything.  Keys and data are deleted unless KEEP=1.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if [ -z "${EGIDE_BIN:-}" ]; then
    ./deploy/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)" >/dev/null
    EGIDE_BIN="$ROOT/build"
fi
export EGIDE_BIN
EL_DIR=$(mktemp -d /tmp/egide-demo.XXXXXX)
export EL_DIR
# shellcheck source=local/egide-local.sh
. "$ROOT/deploy/local/egide-local.sh"
cleanup() {
    el_stop_all
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $EL_DIR"; else rm -rf "$EL_DIR"; fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
EGIDE="$EGIDE_BIN/egide"

say "Development PKI and signed directory (Saône-et-Loire, 71) in $EL_DIR"
el_setup
"$EGIDE" directory verify "$EL_DIR/pki/directory.bin" --anchor "$EL_DIR/pki/authority/authority.crt"
echo "Routing commune 71137 (Cluny) for snated.transmission:"
"$EGIDE" directory route "$EL_DIR/pki/directory.bin" --commune 71137 --type snated.transmission --sender-role snated | sed 's/^/  /'

say "Starting the broker and five edges on 127.0.0.1"
el_start_broker
NODES=(fr.snated 71.crip 71.tas.macon 71.tas.cluny-tournus 71.parquet.macon)
for n in "${NODES[@]}"; do
    el_start_edge "$n"
    echo "  $n  REST API on 127.0.0.1:${EL_PORT[$n]}"
done
connected() { el_api "$1" GET /v1/health | grep -q '"broker": *"connected"'; }
for n in "${NODES[@]}"; do
    el_wait_until 100 connected "$n" || { echo "edge $n did not connect" >&2; exit 1; }
done
echo "  all edges connected"

say "The 119 sends an invented referral about a child living in Cluny (71137)"
echo "  payload: deploy/samples/snated-cluny.json (invented: no real person)"
ID=$(el_cli fr.snated send --type snated.transmission --commune 71137 \
    --file "$ROOT/deploy/samples/snated-cluny.json" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "  message id: $ID"

delivered_all() {
    el_api fr.snated GET "/v1/messages/$ID" | python3 -c '
import json,sys
m=json.load(sys.stdin)
sys.exit(0 if m["recipients"] and all(r["state"] in ("delivered","acknowledged") for r in m["recipients"]) else 1)'
}
el_wait_until 150 delivered_all || { echo "not delivered in time" >&2; exit 1; }

say "Inbox of CRIP 71"
el_cli 71.crip inbox
say "Inbox of the Cluny/Tournus territory"
el_cli 71.tas.cluny-tournus inbox
say "Inbox of the Mâcon territory (must not have it)"
el_cli 71.tas.macon inbox
if el_api 71.tas.macon GET "/v1/messages/$ID" | grep -q '"id"'; then
    echo "ERROR: the Mâcon territory received a referral for Cluny" >&2
    exit 1
fi
echo "  (nothing for Cluny here: routing by commune worked)"

say "CRIP 71 acknowledges; the 119 sees the receipts and the acknowledgement"
el_cli 71.crip ack "$ID"
acked() { el_api fr.snated GET "/v1/messages/$ID" | grep -q '"acknowledged"'; }
el_wait_until 100 acked || echo "  (acknowledgement still on its way)"
el_cli fr.snated show "$ID"

say "Auditor: the broker's signed checkpoint and the proof that the message is in the log"
sleep 2.5 # one checkpoint period
"$EGIDE" audit prove "$ID" --api "http://127.0.0.1:$EL_BROKER_API_PORT" \
    --token-file "$EL_DIR/state/broker/api.token" \
    --anchor "$EL_DIR/pki/nodes/$EL_BROKER_ID/sign.crt" || echo "  (audit proof not available)"

say "Stopping"
el_stop_all
echo "done: broker and edges stopped cleanly"
