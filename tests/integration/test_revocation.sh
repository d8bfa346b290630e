#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_revocation.sh - revoking a node while everything runs: a new CRL,
# then `systemctl reload` (SIGHUP) of the broker, refuses the revoked node at
# the handshake; a new directory version suspending a territory reaches every
# connected edge, and an edge then refuses to address the suspended node.
. "$(dirname "$0")/common.sh"
cp -r "$EL_ROOT/deploy/71" "$EL_DIR/deploy71"
EL_DEPLOY="$EL_DIR/deploy71"
el_setup || exit 1
el_start_broker || exit 1
for n in 71.crip 71.tas.macon; do el_start_edge "$n" || exit 1; done
for n in 71.crip 71.tas.macon; do el_wait_until 100 t_connected "$n" || exit 1; done
PKI="$EL_DIR/pki"
probe() {
    "$EGIDE_BIN/egide_probe" --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" \
        --broker-public "$PKI/nodes/71.broker/curve.public" --curve-secret "$PKI/nodes/$1/curve.secret" \
        --curve-public "$PKI/nodes/$1/curve.public" --node "$1" hello
}
check "the police unit is admitted before revocation" test "$(probe 71.police.macon)" = connected

# 1. Revoke the police unit's certificates; reload the broker.
EGIDE="$EGIDE_BIN/egide" "$EL_ROOT/certs/egide-pki.sh" --revoke "$PKI" 71.police.macon >/dev/null
kill -HUP "${EL_PID[broker]}"
reloaded() { grep -q "certificates and CRL checked" "$EL_DIR/state/broker/broker.log" && [ "$(grep -c 'certificates and CRL checked' "$EL_DIR/state/broker/broker.log")" -ge 2 ]; }
check "the broker reloads the CRL on SIGHUP" el_wait_until 50 reloaded
check "the revoked node is refused at the handshake" test "$(probe 71.police.macon)" = refused
check "other nodes are still admitted" test "$(probe fr.snated)" = connected

# 2. A new directory version suspends the Mâcon territory.
ASSIGN0='{"type":"evaluation.assignment","to":["71.tas.macon"],"payload":{"assigned_at":"2026-11-20T09:14:00+01:00","ip_received_at":"2026-11-20T09:14:00+01:00","case_ref":"C-1","territory":"71.tas.macon","evaluators":["A","B"],"children":[{"surname":"Fictif","first_names":["Zoé"],"sex":"female","birth_date":"2016-05-14","commune":"71270","address":{"street":"1 rue X","postal_code":"71000","city":"Mâcon"},"case_ref":"C-1"}],"urgency":"urgent"}}'
R0=$(el_api 71.crip POST /v1/messages -d "$ASSIGN0")
check "before: the CRIP may assign an evaluation to Mâcon" grep -q '"queued"' <<<"$R0"
sed -i 's/^\[71.tas.macon\]$/[71.tas.macon]\nstatus = suspended/' "$EL_DEPLOY/nodes.ini"
EGIDE="$EGIDE_BIN/egide" "$EL_ROOT/deploy/tools/make-directory.sh" "$EL_DEPLOY" 71 fr-casf "$PKI" \
    --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" --version 2 >/dev/null
kill -HUP "${EL_PID[broker]}"
v2() { el_api 71.crip GET /v1/health | json "j['directory_version']" | grep -qx 2; }
check "connected edges receive directory v2" el_wait_until 100 v2
# An evaluation assignment (invented data) the CRIP could send before.
ASSIGN='{"type":"evaluation.assignment","to":["71.tas.macon"],"payload":{"assigned_at":"2026-11-20T09:14:00+01:00","ip_received_at":"2026-11-20T09:14:00+01:00","case_ref":"C-1","territory":"71.tas.macon","evaluators":["A","B"],"children":[{"surname":"Fictif","first_names":["Zoé"],"sex":"female","birth_date":"2016-05-14","commune":"71270","address":{"street":"1 rue X","postal_code":"71000","city":"Mâcon"},"case_ref":"C-1"}],"urgency":"urgent"}}'
R=$(el_api 71.crip POST /v1/messages -d "$ASSIGN")
check "the CRIP's edge refuses to address the suspended territory" grep -q '"code":"node-suspended"' <<<"$R"
check "... naming no internal reason" bash -c '! grep -q REASON_ <<<"$1"' _ "$R"
check "the suspended territory is refused at its next handshake" test "$(probe 71.tas.macon)" = refused
ENTRIES=$(curl -s -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" \
    "http://127.0.0.1:$EL_BROKER_API_PORT/v1/audit/entries?start=0")
check "the audit log records directory v2 being loaded" \
    test "$(echo "$ENTRIES" | json "sum(1 for e in j['entries'] if e['event']['type']=='AUDIT_DIRECTORY_LOADED' and e['event'].get('directory_version')==2)")" = 1
check "and the refused keys (by hash, never the key)" \
    test "$(echo "$ENTRIES" | json "sum(1 for e in j['entries'] if e['event']['type']=='AUDIT_NODE_REFUSED')")" -ge 2
t_done
