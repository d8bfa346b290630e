#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# test_crypto_cli.sh - `egide seal`, `egide open` and `egide pki` end to end
# over a development PKI made by certs/egide-pki.sh in a temporary directory:
# round trip for every recipient, refusal for a non-recipient, a revoked, an
# expired and a foreign sender, tampered and truncated envelopes (one line on
# stderr, non-zero exit), fingerprints, CURVE key pairs, usage errors.
set -u

EGIDE="${EGIDE_BIN:?}/egide"
SRC="${EGIDE_SOURCE_DIR:?}"
T="$(mktemp -d /tmp/egide-test-crypto-cli.XXXXXX)"
trap 'rm -rf "$T"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
ko() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
check() { if "$@"; then ok; else ko "$*"; fi; }

P="$T/pki"
EGIDE="$EGIDE" bash "$SRC/certs/egide-pki.sh" --expired 71.old "$P" 71.police 71.crip \
    71.tas.macon 71.broker 71.rev 2>/dev/null || { echo "PKI failed" >&2; exit 1; }
bash "$SRC/certs/egide-pki.sh" --revoke "$P" 71.rev 2>/dev/null || { echo "revoke failed" >&2; exit 1; }
EGIDE="$EGIDE" bash "$SRC/certs/egide-pki.sh" "$T/other" 71.police 2>/dev/null ||
    { echo "other PKI failed" >&2; exit 1; }

N="$P/nodes"
printf '{"commune":"71137","objet":"information préoccupante"}' >"$T/payload.json"

seal() { # seal SENDER_DIR OUT RCPT...
    local from="$1" out="$2"
    shift 2
    local to=()
    for r in "$@"; do to+=(--to "$N/$r/enc.crt"); done
    "$EGIDE" seal --key "$from/sign.key" --cert "$from/sign.crt" "${to[@]}" \
        --type ip.transmission --urgency urgent --content-type application/json \
        --in "$T/payload.json" --out "$out"
}
open_as() { # open_as NODE IN OUT SENDER_CERT
    "$EGIDE" open --key "$N/$1/enc.key" --cert "$N/$1/enc.crt" --ca "$P/ca/root.crt" \
        --chain "$P/ca/chain.pem" --crl "$P/ca/crl.pem" --sender-cert "$4" --in "$2" --out "$3"
}
# refused CMD... : non-zero exit, exactly one line on stderr, matching $WANT.
refused() {
    local err rc
    err="$("$@" 2>&1 >/dev/null)"
    rc=$?
    if [ $rc -eq 0 ]; then ko "accepted: $*"; return; fi
    if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then ko "not one line: $err"; return; fi
    if ! printf '%s' "$err" | grep -q -- "$WANT"; then ko "want '$WANT', got: $err"; return; fi
    ok
}

# --- round trip
msgid="$(seal "$N/71.police" "$T/env.bin" 71.crip 71.tas.macon)"
check test $? -eq 0
check test "${#msgid}" -eq 32
for r in 71.crip 71.tas.macon; do
    open_as "$r" "$T/env.bin" "$T/out.$r" "$N/71.police/sign.crt" 2>"$T/err.$r"
    check test $? -eq 0
    check cmp -s "$T/payload.json" "$T/out.$r"
    check grep -q "msg_id $msgid" "$T/err.$r"
    check grep -q "sender 71.police" "$T/err.$r"
    check grep -q "type ip.transmission" "$T/err.$r"
    check test "$(stat -c %a "$T/out.$r")" = 600
done

# --- nobody else
WANT="not a recipient" refused open_as 71.broker "$T/env.bin" "$T/x" "$N/71.police/sign.crt"
WANT="sender certificate" refused open_as 71.crip "$T/env.bin" "$T/x" "$N/71.tas.macon/sign.crt"

# --- sender certificates: revoked, expired, another CA
seal "$N/71.rev" "$T/rev.bin" 71.crip >/dev/null
WANT="revoked" refused open_as 71.crip "$T/rev.bin" "$T/x" "$N/71.rev/sign.crt"
seal "$N/71.old" "$T/old.bin" 71.crip >/dev/null
WANT="expired" refused open_as 71.crip "$T/old.bin" "$T/x" "$N/71.old/sign.crt"
seal "$T/other/nodes/71.police" "$T/foreign.bin" 71.crip >/dev/null
WANT="sender certificate" refused open_as 71.crip "$T/foreign.bin" "$T/x" \
    "$T/other/nodes/71.police/sign.crt"
WANT="" refused open_as 71.crip "$T/foreign.bin" "$T/x" "$N/71.police/sign.crt"

# --- tampered and truncated envelopes
size=$(stat -c %s "$T/env.bin")
for off in 5 40 $((size / 2)) $((size - 70)) $((size - 1)); do
    cp "$T/env.bin" "$T/bad.bin"
    printf '\xff' | dd of="$T/bad.bin" bs=1 seek="$off" conv=notrunc status=none
    cmp -s "$T/env.bin" "$T/bad.bin" || { WANT="egide: open" refused open_as 71.crip "$T/bad.bin" \
        "$T/x" "$N/71.police/sign.crt"; }
done
head -c $((size - 10)) "$T/env.bin" >"$T/trunc.bin"
WANT="malformed envelope" refused open_as 71.crip "$T/trunc.bin" "$T/x" "$N/71.police/sign.crt"
head -c 4096 /dev/urandom >"$T/random.bin"
WANT="malformed envelope" refused open_as 71.crip "$T/random.bin" "$T/x" "$N/71.police/sign.crt"

# --- seal refuses wrong certificates
WANT="signing certificate" refused "$EGIDE" seal --key "$N/71.police/sign.key" \
    --cert "$N/71.police/enc.crt" --to "$N/71.crip/enc.crt" --type ip.transmission \
    --in "$T/payload.json" --out "$T/x"
WANT="recipient certificate" refused "$EGIDE" seal --key "$N/71.police/sign.key" \
    --cert "$N/71.police/sign.crt" --to "$N/71.crip/sign.crt" --type ip.transmission \
    --in "$T/payload.json" --out "$T/x"
WANT="does not match" refused "$EGIDE" seal --key "$N/71.crip/sign.key" \
    --cert "$N/71.police/sign.crt" --to "$N/71.crip/enc.crt" --type ip.transmission \
    --in "$T/payload.json" --out "$T/x"
chmod 644 "$N/71.crip/sign.key"
WANT="permissions" refused "$EGIDE" seal --key "$N/71.crip/sign.key" \
    --cert "$N/71.crip/sign.crt" --to "$N/71.police/enc.crt" --type ip.transmission \
    --in "$T/payload.json" --out "$T/x"
chmod 600 "$N/71.crip/sign.key"
"$EGIDE" seal --key "$N/71.police/sign.key" >/dev/null 2>&1
check test $? -eq 2

# --- pki helpers
want="$(openssl x509 -in "$N/71.crip/enc.crt" -outform DER | sha256sum | cut -d' ' -f1)"
check test "$("$EGIDE" pki fingerprint "$N/71.crip/enc.crt")" = "$want"
"$EGIDE" pki curve-keygen --out-secret "$T/c.sec" --out-public "$T/c.pub"
check test $? -eq 0
check test "$(stat -c %a "$T/c.sec")" = 600
check test "$(stat -c %s "$T/c.sec")" -eq 40
check test "$(stat -c %s "$T/c.pub")" -eq 40
WANT="not overwriting" refused "$EGIDE" pki curve-keygen --out-secret "$T/c.sec" --out-public "$T/c2.pub"
"$EGIDE" pki verify --ca "$P/ca/root.crt" --chain "$P/ca/chain.pem" --crl "$P/ca/crl.pem" \
    --use sign --node 71.crip "$N/71.crip/sign.crt" >/dev/null
check test $? -eq 0
WANT="revoked" refused "$EGIDE" pki verify --ca "$P/ca/root.crt" --chain "$P/ca/chain.pem" \
    --crl "$P/ca/crl.pem" "$N/71.rev/enc.crt"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
