#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_daemon_config.sh - the three binaries' --help/--version; `-n` on the
# example configurations (only their missing files named); broken configurations refused with file:line;
# daemons that refuse to start on open key permissions, a tampered
# directory or a wrong anchor, each with one clear line.
. "$(dirname "$0")/common.sh"
B="$EGIDE_BIN"
for bin in egide egide-broker egide-edge; do
    check "$bin --version" bash -c "'$B/$bin' --version | grep -q '^$bin 0\.'"
    check "$bin --help" bash -c "'$B/$bin' --help | grep -qi usage"
done
# -n opens every file the configuration names: the examples name keys and
# a directory under /etc/egide that this machine does not have, so -n
# refuses them, and names only missing files (their syntax is valid; the
# deep checks are test_config_check.sh's).
example_only_missing() { # BIN CONFIG
    local err rc
    err=$("$B/$1" -n -c "$2" 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 1 ] && grep -qF "$1: signing key /etc/egide/keys/sign.key: does not exist" <<<"$err" &&
        ! grep -v -e 'does not exist' -e ': configuration .*: [0-9]* problems\?$' <<<"$err"
}
check "egide-broker -n on the example: valid syntax, names the files it lacks" \
    example_only_missing egide-broker "$EL_ROOT/deploy/examples/broker.ini"
check "egide-edge -n on the example: valid syntax, names the files it lacks" \
    example_only_missing egide-edge "$EL_ROOT/deploy/examples/edge.ini"

# expect_fail BIN CONFIG_TEXT EXPECTED_SUBSTRING
expect_fail() {
    printf '%s' "$2" >"$EL_DIR/bad.ini"
    local out
    out=$("$B/$1" -n -c "$EL_DIR/bad.ini" 2>&1)
    local rc=$?
    if [ $rc -ne 0 ] && grep -qF -- "$3" <<<"$out"; then ok "$1 refuses: $3"; else bad "$1: wanted '$3', got rc=$rc '$out'"; fi
}
BASE=$(cat "$EL_ROOT/deploy/examples/broker.ini")
expect_fail egide-broker "$BASE
colour = blue
" "bad.ini:$(($(wc -l <<<"$BASE") + 1)): unknown key 'colour' in section [log]"
expect_fail egide-broker "$(sed 's/^batch_max = 256/batch_max = lots/' <<<"$BASE")" "bad value for 'batch_max': not an integer in 1..4096"
expect_fail egide-broker "$(sed 's/^endpoint = .*/endpoint = http:\/\/x/' <<<"$BASE")" "bad value for 'endpoint'"
expect_fail egide-broker "$(sed '/^node_id/d' <<<"$BASE")" "bad.ini: missing required key 'node_id' in section [broker]"
expect_fail egide-broker "$(sed 's/^backend = sqlite/backend = mysql/' <<<"$BASE")" "bad value for 'backend'"
expect_fail egide-edge "[edge]
node_id = 71.crip
[edge]
node_id = 71.tas.macon
" "bad.ini:4: duplicate key 'node_id'"
expect_fail egide-edge "[edge
" "bad.ini:1: syntax error"
out=$("$B/egide-edge" -n -c "$EL_DIR/nope.ini" 2>&1)
check "missing configuration file: clear error" grep -q "nope.ini: cannot read configuration" <<<"$out"

# Start-up checks against a real development PKI.
el_setup || exit 1
CFG="$EL_DIR/state/broker/broker.ini"
start_fails() { # DESCRIPTION EXPECTED
    local out
    out=$(timeout 20 "$B/egide-broker" -c "$CFG" 2>&1)
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- "$2" <<<"$out"; then ok "$1"; else bad "$1: rc=$rc '$out'"; fi
}
chmod 644 "$EL_DIR/pki/nodes/71.broker/sign.key"
start_fails "broker refuses a signing key readable by others" "(chmod 600)"
chmod 600 "$EL_DIR/pki/nodes/71.broker/sign.key"
chmod 644 "$EL_DIR/pki/nodes/71.broker/curve.secret"
start_fails "broker refuses a CURVE secret readable by others" "CURVE secret"
chmod 600 "$EL_DIR/pki/nodes/71.broker/curve.secret"
cp "$EL_DIR/pki/directory.bin" "$EL_DIR/directory.good"
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$EL_DIR/pki/directory.bin"
start_fails "broker refuses a tampered directory" "directory"
cp "$EL_DIR/directory.good" "$EL_DIR/pki/directory.bin"
sed -i "s#^directory_anchor = .*#directory_anchor = $EL_DIR/pki/ca/root.crt#" "$CFG"
start_fails "broker refuses a directory not signed by the pinned anchor" "directory"
t_done
