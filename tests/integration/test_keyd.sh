#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_keyd.sh - the key holder with the real daemons: a referral still
# travels end to end with its receipts while egide-keyd holds the keys; the
# raw private bytes of the signing and encryption keys (read from the PEM
# files generated for this run) are NOT in the memory of the edges and the
# broker, and ARE in their egide-keyd's (the positive control that shows the
# scan finds them), and in an edge run with [keys] holder = inline; each
# egide-keyd is sandboxed (seccomp filter, no_new_privs) with only stderr
# and its socket open; kill -9 of a key holder is logged by its daemon, which
# starts another, and the next referral still delivers.  Reading another
# process's memory needs root (or being its ancestor, which this script is).
. "$(dirname "$0")/common.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"

el_setup || exit 1
el_start_broker || exit 1
NODES="fr.snated 71.crip 71.tas.cluny-tournus"
for n in $NODES; do el_start_edge "$n" || exit 1; done
for n in $NODES; do check "$n connects to the broker" el_wait_until 100 t_connected "$n"; done

SAMPLE="$EL_ROOT/deploy/samples/snated-cluny.json"
BODY=$(python3 -c "import json; p=json.load(open('$SAMPLE')); p['sender']['confidential']=False; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':p}))")
send_one() { # -> prints the message id
    el_api fr.snated POST /v1/messages -d "$BODY" | json "j.get('id','')"
}
receipts_ok() { # ID: ACCEPTED by the broker and a verified DELIVERED from each recipient
    el_api fr.snated GET "/v1/messages/$1" | python3 -c '
import json,sys
m=json.load(sys.stdin); r=m.get("receipts",[])
acc=any(x["kind"]=="ACCEPTED" and x["issuer"]=="71.broker" for x in r)
dl=sorted(x["issuer"] for x in r if x["kind"]=="DELIVERED" and x.get("verified"))
sys.exit(0 if acc and dl==["71.crip","71.tas.cluny-tournus"] else 1)'
}

ID=$(send_one)
check "referral accepted for sending (id $ID)" test ${#ID} -eq 32
check "delivered to every recipient while the keys are held by egide-keyd" \
    el_wait_until 150 t_all_delivered fr.snated "$ID"
check "ACCEPTED and both DELIVERED receipts, verified" receipts_ok "$ID"

# The holder of each daemon: its child egide-keyd (looked up, never killed
# by name).
keyd_of() { # NAME -> pid of its egide-keyd child
    ps -o pid=,comm= --ppid "${EL_PID[$1]}" 2>/dev/null | awk '$2=="egide-keyd"{print $1; exit}'
}
# The raw 32 private bytes of a PEM key, as hex.
raw_priv() { # PEM
    openssl pkey -in "$1" -text -noout | python3 -c '
import sys,re
t=sys.stdin.read(); m=re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", t)
h=re.sub(r"[^0-9a-f]", "", m.group(1)) if m else ""
print(h if len(h)==64 else "")'
}
# "found" count for key NAME in a scan result.
found() { echo "$1" | json "j['found']['$2']"; }
scanned() { echo "$1" | json "j['bytes']"; }

PKI="$EL_DIR/pki/nodes"
declare -A SCAN
scan_node() { # NAME NODE_ID KEYFILES... : scan the daemon and its keyd
    local name="$1" id="$2" kd args=() f hex
    shift 2
    for f in "$@"; do
        hex=$(raw_priv "$PKI/$id/$f")
        check "$id: the raw private key of $f read from its PEM file" test ${#hex} -eq 64
        args+=("${f%.key}=$hex")
    done
    kd=$(keyd_of "$name")
    check "$name runs an egide-keyd child (pid ${kd:-none})" test -n "$kd"
    [ -n "$kd" ] || return
    SCAN[$name]=$(timeout 300 python3 "$HERE/memscan.py" "${EL_PID[$name]}" "${args[@]}")
    SCAN[$name.keyd]=$(timeout 300 python3 "$HERE/memscan.py" "$kd" "${args[@]}")
    echo "memscan $name (pid ${EL_PID[$name]}): ${SCAN[$name]}"
    echo "memscan $name's egide-keyd (pid $kd): ${SCAN[$name.keyd]}"
    check "$name: its memory was read (bytes > 1 MiB)" test "$(scanned "${SCAN[$name]}")" -gt 1048576
    check "$name: every mapping was read (none skipped as too large, unless a sanitizer's shadow)" \
        test "$(echo "${SCAN[$name]}" | json "0 if j['skipped']==0 or j['sanitized'] else 1")" = 0
    check "$name's egide-keyd: its memory was read" test "$(scanned "${SCAN[$name.keyd]}")" -gt 0
    for f in "$@"; do
        f=${f%.key}
        check "$name: the $f private key is NOT in the network process's memory" \
            test "$(found "${SCAN[$name]}" "$f")" -eq 0
        check "$name's egide-keyd: the $f private key IS in its memory (positive control)" \
            test "$(found "${SCAN[$name.keyd]}" "$f")" -ge 1
    done
    # The holder's confinement, as the kernel reports it.
    check "$name's egide-keyd: seccomp filter on" grep -q '^Seccomp:[[:space:]]*2' "/proc/$kd/status"
    check "$name's egide-keyd: no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$kd/status"
    check "$name's egide-keyd: only stderr and its socket open ($(ls /proc/$kd/fd | tr '\n' ' '))" \
        test "$(ls /proc/$kd/fd | sort -n | tr '\n' ' ')" = "2 3 "
}
scan_node fr.snated fr.snated sign.key enc.key
scan_node 71.crip 71.crip sign.key enc.key
scan_node broker 71.broker sign.key

# kill -9 each key holder: its daemon says so, starts another, and the next
# referral still travels with every receipt.
declare -A OLD
for name in fr.snated 71.crip broker; do
    OLD[$name]=$(keyd_of "$name")
    [ -n "${OLD[$name]}" ] && kill -KILL "${OLD[$name]}"
done
ID2=$(send_one)
check "after kill -9 of the key holders: a new referral accepted (id $ID2)" test ${#ID2} -eq 32
check "after kill -9 of the key holders: delivered to every recipient" \
    el_wait_until 150 t_all_delivered fr.snated "$ID2"
check "after kill -9 of the key holders: ACCEPTED and both DELIVERED receipts" receipts_ok "$ID2"
for name in fr.snated 71.crip broker; do
    log="$EL_DIR/state/$name/$([ "$name" = broker ] && echo broker || echo edge).log"
    check "$name logged its key holder's death (pid ${OLD[$name]})" \
        grep -q "key holder (pid ${OLD[$name]}) was killed by signal 9" "$log"
    check "$name logged the restart" grep -q "key holder restarted" "$log"
    new=$(keyd_of "$name")
    check "$name runs a new egide-keyd (${OLD[$name]} -> ${new:-none})" \
        test -n "$new" -a "$new" != "${OLD[$name]}"
done

# Configuration: a holder that is neither, or a program that is not there.
bad_cfg="$EL_DIR/bad-holder.ini"
cp "$EL_DIR/state/71.tas.cluny-tournus/edge.ini" "$bad_cfg"
printf '[keys]\nholder = elsewhere\n' >>"$bad_cfg"
check "egide-edge -n refuses [keys] holder = elsewhere" \
    bash -c "! '$EGIDE_BIN/egide-edge' -n -c '$bad_cfg' >/dev/null 2>&1"
cp "$EL_DIR/state/broker/broker.ini" "$EL_DIR/bad-program.ini"
sed -i "s#^database = .*#database = $EL_DIR/other.sqlite#; s#^port = .*#port = $(el_free_port)#; s#^endpoint = .*#endpoint = tcp://127.0.0.1:$(el_free_port)#" \
    "$EL_DIR/bad-program.ini"
printf '[keys]\nprogram = %s\n' "$EL_DIR/no-such-keyd" >>"$EL_DIR/bad-program.ini"
timeout 20 "$EGIDE_BIN/egide-broker" -c "$EL_DIR/bad-program.ini" >"$EL_DIR/bad-program.log" 2>&1
st=$?
check "a broker whose key holder cannot run does not start (exit $st)" test "$st" -ne 0 -a "$st" -ne 124
check "... and says so" grep -q "key holder .*no-such-keyd cannot run" "$EL_DIR/bad-program.log"

# Control: the same scan finds the keys in an edge that holds them itself.
el_stop fr.snated
printf '[keys]\nholder = inline\n' >>"$EL_DIR/state/fr.snated/edge.ini"
el_start_edge fr.snated || exit 1
check "inline edge: no egide-keyd child" test -z "$(keyd_of fr.snated)"
check "inline edge connects" el_wait_until 100 t_connected fr.snated
R=$(timeout 300 python3 "$HERE/memscan.py" "${EL_PID[fr.snated]}" \
    "sign=$(raw_priv "$PKI/fr.snated/sign.key")" "enc=$(raw_priv "$PKI/fr.snated/enc.key")")
echo "memscan fr.snated with holder = inline: $R"
check "inline edge: the scan finds its signing key in its memory" test "$(found "$R" sign)" -ge 1
check "inline edge: the scan finds its encryption key in its memory" test "$(found "$R" enc)" -ge 1
ID3=$(send_one)
check "inline edge: a referral still delivers" el_wait_until 150 t_all_delivered fr.snated "$ID3"
t_done
