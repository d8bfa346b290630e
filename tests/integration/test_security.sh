#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_security.sh - what the broker refuses, and that bad input neither
# crashes nor stalls it: an unknown CURVE key and a suspended node are refused
# at the handshake; a role sending a type it may not gets REJECTED; a forged
# sender id is rejected; a replayed envelope gets the original receipt and is
# not delivered again; an old sequence number is a replay; random and
# truncated frames are answered with errors and the broker keeps serving.
. "$(dirname "$0")/common.sh"

# A copy of the 71 deployment in which the police unit is suspended.
cp -r "$EL_ROOT/deploy/71" "$EL_DIR/deploy71"
python3 - "$EL_DIR/deploy71/nodes.ini" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("[71.police.macon]\n", "[71.police.macon]\nstatus = suspended\n", 1)
open(p, "w").write(s)
PY
EL_DEPLOY="$EL_DIR/deploy71"
el_setup || exit 1
el_start_broker || exit 1
el_start_edge 71.crip || exit 1
check "CRIP connected" el_wait_until 100 t_connected 71.crip

PKI="$EL_DIR/pki"
probe() { # NODE KEYDIR MODE [args]: run the probe as NODE with the CURVE keys in KEYDIR
    local node="$1" kd="$2" mode="$3"
    shift 3
    "$EGIDE_BIN/egide_probe" --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" \
        --broker-public "$PKI/nodes/71.broker/curve.public" \
        --curve-secret "$kd/curve.secret" --curve-public "$kd/curve.public" --node "$node" \
        --sign-key "$PKI/nodes/$node/sign.key" --sign-cert "$PKI/nodes/$node/sign.crt" \
        --pki "$PKI" "$@" "$mode"
}
# A referral the 119 may send carries a real structured payload (invented
# sample), as its edge would seal it: recipients refuse anything else.
SAMPLE="$EGIDE_SOURCE_DIR/deploy/samples/snated-cluny.json"

# Unknown transport key: a fresh CURVE key pair nobody listed.
mkdir -p "$EL_DIR/rogue" && chmod 700 "$EL_DIR/rogue"
"$EGIDE_BIN/egide" pki curve-keygen --out-secret "$EL_DIR/rogue/curve.secret" \
    --out-public "$EL_DIR/rogue/curve.public" >/dev/null
OUT=$(probe fr.snated "$EL_DIR/rogue" hello)
check "unknown CURVE key refused at the handshake ($OUT)" test "$OUT" = refused
OUT=$(probe 71.police.macon "$PKI/nodes/71.police.macon" hello)
check "suspended node refused at the handshake ($OUT)" test "$OUT" = refused
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" hello)
check "a listed, active node is admitted ($OUT)" test "$OUT" = connected

# Access rules: the 119 may not send an OPP.
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" submit --type court.opp --to 71.crip | tail -1)
check "forbidden type REJECTED ($OUT)" grep -Eq '^REJECTED REASON_FORBIDDEN_(TYPE|RECIPIENT)$' <<<"$OUT"
# A type the role may send, to a role that may not receive it.
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" submit --type snated.transmission --to 71.je.macon | tail -1)
check "forbidden recipient REJECTED ($OUT)" grep -Eq '^REJECTED REASON_FORBIDDEN_RECIPIENT$' <<<"$OUT"

# Forged sender: the 119's connection claims to be the parquet.
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" submit --type snated.transmission --to 71.crip \
    --sender-id 71.parquet.macon | tail -1)
check "forged sender id REJECTED ($OUT)" test "$OUT" = "REJECTED REASON_SENDER_MISMATCH"

# Replay: the same envelope twice -> the same receipt, one delivery.
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" replay --type snated.transmission --to 71.crip --json "$SAMPLE")
ID=$(sed -n 's/^msg //p' <<<"$OUT")
check "first submission ACCEPTED" grep -qx 'ACCEPTED -' <<<"$(sed -n 2p <<<"$OUT")"
check "replay answered with the original receipt" grep -qx 'same-receipt yes' <<<"$OUT"
check "delivered to the CRIP" el_wait_until 100 bash -c "sqlite3 'file:$EL_DIR/state/71.crip/edge.sqlite?mode=ro' \"SELECT count(*) FROM inbox WHERE lower(hex(msg_id))='$ID'\" | grep -qx 1"
sleep 1
check "not delivered again" test "$(sqlite3 "file:$EL_DIR/state/broker/broker.sqlite?mode=ro" "SELECT attempts FROM deliveries WHERE lower(hex(msg_id))='$ID'")" -le 1
# A new envelope reusing an old sequence number (outside the window).
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" submit --type snated.transmission --to 71.crip --seq 5 | tail -1)
check "old sequence number REJECTED as a replay ($OUT)" test "$OUT" = "REJECTED REASON_REPLAY"

# Garbage: random frames and every truncation of a valid frame.
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" garbage --count 400)
check "broker answers malformed frames with errors" grep -Eq '^errors [1-9]' <<<"$OUT"
check "broker still serves after garbage ($OUT)" grep -qx alive <<<"$OUT"
check "broker process alive" kill -0 "${EL_PID[broker]}"
OUT=$(probe fr.snated "$PKI/nodes/fr.snated" submit --type snated.transmission --to 71.crip | tail -1)
check "and still accepts good envelopes ($OUT)" test "$OUT" = "ACCEPTED -"

MT=$(curl -s -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" "http://127.0.0.1:$EL_BROKER_API_PORT/metrics")
check "metrics count rejections by reason" grep -q 'egide_broker_rejections_total{reason="REASON_SENDER_MISMATCH"} 1' <<<"$MT"
check "metrics count refused keys" grep -Eq '^egide_broker_zap_refused_total [1-9]' <<<"$MT"

# A node that connects and sends frames without a Hello gets no checkpoint:
# the broker does not know the size it holds, and a checkpoint without the
# proof from that size would raise a false fork alert at its witness.  The
# CRIP's edge, which said Hello, gets them meanwhile.
cp_note() { sqlite3 "file:$EL_DIR/state/71.crip/edge.sqlite?mode=ro" "SELECT hex(value) FROM meta WHERE key = 'checkpoint'"; }
BEFORE=$(cp_note)
probe 71.je.macon "$PKI/nodes/71.je.macon" nohello --count 7 >"$EL_DIR/nohello.out" 2>&1 &
NOHELLO=$!
sleep 1
for i in 1 2 3; do probe fr.snated "$PKI/nodes/fr.snated" submit --type snated.transmission --to 71.crip >/dev/null; sleep 1; done
wait "$NOHELLO"
check "the CRIP's edge got a new checkpoint meanwhile" bash -c "[ '$(cp_note)' != '$BEFORE' ]"
check "no checkpoint pushed to a node that said no Hello ($(cat "$EL_DIR/nohello.out"))" \
    grep -qx 'checkpoints 0' "$EL_DIR/nohello.out"
t_done
