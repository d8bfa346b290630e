#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_config_check.sh - `egide-broker -n` / `egide-edge -n` open and check
# every file the configuration names (as `nginx -t`): a good deployment
# passes; a missing key, a 0644 key (signing, encryption, CURVE, token), a
# key behind a symbolic link, a key of the wrong type, a certificate of
# another key, an expired certificate, a missing CRL, a tampered directory,
# a directory without the node each fail with one line naming the file and
# the problem, exit 1; several problems are all listed; a broker the
# directory does not list also refuses to start.
. "$(dirname "$0")/common.sh"
B="$EGIDE_BIN"
T_TIMEOUT=300
el_setup || exit 1
el_write_edge_config 71.crip
BCFG="$EL_DIR/state/broker/broker.ini"
ECFG="$EL_DIR/state/71.crip/edge.ini"
PKI="$EL_DIR/pki"

# passes BIN CONFIG DESCRIPTION
passes() {
    local out rc
    out=$("$B/$1" -n -c "$2" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && grep -q "is valid" <<<"$out"; then ok "$3"; else bad "$3: rc=$rc '$out'"; fi
}
# refuses BIN CONFIG DESCRIPTION EXPECTED_LINE_SUBSTRING
# Exit status 1, the expected line on stderr, the count line, nothing on stdout.
refuses() {
    local out err rc
    out=$("$B/$1" -n -c "$2" 2>"$EL_DIR/err")
    rc=$?
    err=$(cat "$EL_DIR/err")
    if [ $rc -eq 1 ] && [ -z "$out" ] && grep -qF -- "$4" <<<"$err" &&
        grep -q "^$1: configuration $2: [0-9]* problem" <<<"$err"; then
        ok "$3"
    else
        bad "$3: wanted rc=1 and '$4', got rc=$rc stdout='$out' stderr='$err'"
    fi
}

passes egide-broker "$BCFG" "broker -n passes on a good configuration"
passes egide-edge "$ECFG" "edge -n passes on a good configuration"

# Keys.
K="$PKI/nodes/71.crip/sign.key"
mv "$K" "$K.away"
refuses egide-edge "$ECFG" "edge -n refuses a missing signing key" "egide-edge: signing key $K: does not exist"
mv "$K.away" "$K"
chmod 644 "$K"
refuses egide-edge "$ECFG" "edge -n refuses a 0644 signing key" "egide-edge: signing key $K: mode 0644, must be 0600 (chmod 600)"
chmod 600 "$K"
BK="$PKI/nodes/71.broker/sign.key"
chmod 640 "$BK"
refuses egide-broker "$BCFG" "broker -n refuses a 0640 signing key" "egide-broker: signing key $BK: mode 0640, must be 0600"
chmod 600 "$BK"
EK="$PKI/nodes/71.crip/enc.key"
chmod 604 "$EK"
refuses egide-edge "$ECFG" "edge -n refuses an encryption key readable by others" "encryption key $EK: mode 0604"
chmod 600 "$EK"
ln -s "$K" "$EL_DIR/link.key"
sed "s#^sign_key = .*#sign_key = $EL_DIR/link.key#" "$ECFG" >"$EL_DIR/link.ini"
refuses egide-edge "$EL_DIR/link.ini" "edge -n refuses a signing key behind a symbolic link" "signing key $EL_DIR/link.key: is a symbolic link"
sed "s#^sign_key = .*#sign_key = $PKI/nodes/71.tas.macon/sign.key#" "$ECFG" >"$EL_DIR/other.ini"
refuses egide-edge "$EL_DIR/other.ini" "edge -n refuses a certificate that is not the key's" "signing certificate $PKI/nodes/71.crip/sign.crt: does not hold the public half of the configured key"
sed "s#^sign_key = .*#sign_key = $PKI/nodes/71.crip/enc.key#" "$ECFG" >"$EL_DIR/type.ini"
refuses egide-edge "$EL_DIR/type.ini" "edge -n refuses an X25519 key as signing key" "signing key $PKI/nodes/71.crip/enc.key: not an Ed25519 key"
CS="$PKI/nodes/71.broker/curve.secret"
chmod 644 "$CS"
refuses egide-broker "$BCFG" "broker -n refuses a 0644 CURVE secret" "CURVE secret $CS: mode 0644"
chmod 600 "$CS"
TOK="$EL_DIR/state/71.crip/api.token"
chmod 644 "$TOK"
refuses egide-edge "$ECFG" "edge -n refuses a 0644 API token" "API token $TOK: mode 0644"
chmod 600 "$TOK"

# The CRL: missing, then stale (its next update in the past).
CRL="$PKI/ca/crl.pem"
mv "$CRL" "$CRL.away"
refuses egide-edge "$ECFG" "edge -n refuses a missing CRL" "CRL $CRL: does not exist"
mv "$CRL.away" "$CRL"

# The directory: tampered, expired, without the node.
DIR="$PKI/directory.bin"
cp "$DIR" "$EL_DIR/directory.good"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$DIR"
refuses egide-broker "$BCFG" "broker -n refuses a tampered directory" "egide-broker: directory $DIR:"
cp "$EL_DIR/directory.good" "$DIR"
# A node with keys from the same CA that the directory does not list.
EGIDE="$B/egide" "$EL_ROOT/certs/egide-pki.sh" "$PKI" 71.stranger >/dev/null 2>&1 ||
    bad "egide-pki.sh could not add 71.stranger"
el_write_edge_config 71.stranger
refuses egide-edge "$EL_DIR/state/71.stranger/edge.ini" "edge -n refuses a directory without its node" \
    "egide-edge: directory $DIR: v1 does not list this node (71.stranger)"
check "edge -n: the directory without the node is the only problem" \
    grep -q "configuration $EL_DIR/state/71.stranger/edge.ini: 1 problem$" "$EL_DIR/err"
sed -e "s#^node_id = .*#node_id = 71.stranger#" -e "s#nodes/71.broker/#nodes/71.stranger/#" "$BCFG" >"$EL_DIR/stranger-broker.ini"
refuses egide-broker "$EL_DIR/stranger-broker.ini" "broker -n refuses a directory without its node id" \
    "egide-broker: directory $DIR: v1 does not list this node (71.stranger)"
out=$(timeout 30 "$B/egide-broker" -c "$EL_DIR/stranger-broker.ini" 2>&1 </dev/null)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "does not list this broker's node id 71.stranger" <<<"$out"; then
    ok "a broker the directory does not list refuses to start"
else
    bad "broker not in the directory: rc=$rc '$out'"
fi

# An expired signing certificate: 71.crip's, reissued already expired
# (egide-pki.sh --expired keeps the key, issues not-after yesterday).
mv "$PKI/nodes/71.crip/sign.crt" "$EL_DIR/sign.crt.good"
EGIDE="$B/egide" "$EL_ROOT/certs/egide-pki.sh" --expired 71.crip "$PKI" 71.crip >/dev/null 2>&1 ||
    bad "egide-pki.sh could not issue an expired certificate"
refuses egide-edge "$ECFG" "edge -n refuses an expired signing certificate" \
    "egide-edge: signing certificate $PKI/nodes/71.crip/sign.crt: expired on "
mv "$EL_DIR/sign.crt.good" "$PKI/nodes/71.crip/sign.crt"
passes egide-edge "$ECFG" "edge -n passes again once the good certificate is back"

# Every problem is listed in one run, not only the first.
sed -e "s#^sign_key = .*#sign_key = $EL_DIR/none.key#" -e "s#^directory = .*#directory = $EL_DIR/none.bin#" "$ECFG" >"$EL_DIR/two.ini"
refuses egide-edge "$EL_DIR/two.ini" "edge -n lists the first of two problems" "signing key $EL_DIR/none.key: does not exist"
check "edge -n lists the second of two problems too" grep -qF "directory $EL_DIR/none.bin: does not exist" "$EL_DIR/err"
check "edge -n counts them: 2 problems" grep -q ": 2 problems$" "$EL_DIR/err"

# An edge that has run holds the directory in its database (later ones come
# from the broker): its configured first directory may then be long expired
# or otherwise refused; the edge starts with the stored one, and -n warns and
# passes.  (Without the database it was refused above; a missing file stops
# the start, so -n refuses it whatever the database holds.)
el_start_edge 71.crip || bad "71.crip did not start"
el_stop 71.crip
python3 -c "
import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[len(b)//2]^=1; open(sys.argv[2],'wb').write(b)" "$DIR" "$EL_DIR/tampered.bin"
sed -i "s#^directory = .*#directory = $EL_DIR/tampered.bin#" "$ECFG"
out=$("$B/egide-edge" -n -c "$ECFG" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -qF "egide-edge: warning: directory $EL_DIR/tampered.bin: " <<<"$out"; then
    ok "edge -n with a stored directory: a refused configured file is a warning"
else
    bad "edge -n with a stored directory: rc=$rc '$out'"
fi
check "and the edge does start so (the check agrees with the start)" el_start_edge 71.crip
el_stop 71.crip
sed -i "s#^directory = .*#directory = $EL_DIR/gone.bin#" "$ECFG"
refuses egide-edge "$ECFG" "edge -n refuses a missing configured directory even with a stored one" \
    "egide-edge: directory $EL_DIR/gone.bin: does not exist"
t_done
