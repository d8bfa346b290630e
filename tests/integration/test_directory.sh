#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# test_directory.sh - the example deployments end to end: make the PKI and the
# signed directory of deploy/71 and deploy/988, verify them, route every
# commune of Saône-et-Loire, check the Cluny/Mâcon/Nouméa cases, postal-code
# resolution, and that each kind of bad input gives one "file:line" error and
# writes nothing.  Keys are made in a temporary directory and removed.
set -uo pipefail

SRC="${EGIDE_SOURCE_DIR:?}"
BIN="${EGIDE_BIN:?}"
export EGIDE="$BIN/egide"
[ -x "$EGIDE" ] || { echo "no egide binary at $EGIDE"; exit 1; }

TMP="$(mktemp -d /tmp/egide-test-directory.XXXXXX)"
trap 'rm -rf -- "$TMP"' EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@"; then ok; else bad "$what"; fi
}

# route DIRFILE ARGS... -> stdout of egide directory route; status in $RC
route() {
    OUT="$("$EGIDE" directory route "$@" 2>"$TMP/route.err")"
    RC=$?
    ERR="$(cat "$TMP/route.err")"
}

# ---------------------------------------------------------------- 71
D71="$TMP/71"
"$SRC/deploy/71/make-directory.sh" "$D71" --endpoint tcp://127.0.0.1:17710 >"$TMP/make71.log" 2>&1
check "make 71" [ $? -eq 0 ]
[ -f "$D71/directory.bin" ] || { cat "$TMP/make71.log"; echo "no directory"; exit 1; }
ANCHOR71="$D71/authority/authority.crt"

"$EGIDE" directory verify "$D71/directory.bin" --anchor "$ANCHOR71" >"$TMP/v.out" 2>&1
check "verify 71" [ $? -eq 0 ]
check "verify 71 says 563 communes" grep -q "563 communes" "$TMP/v.out"

# the endpoint given to the script is the one in the directory
"$EGIDE" directory show "$D71/directory.bin" --json >"$TMP/71.json"
check "show --json" [ $? -eq 0 ]
check "endpoint override" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["brokers"][0]["endpoint"]=="tcp://127.0.0.1:17710", d["brokers"]
assert d["brokers"][0]["node_id"]=="71.broker"
assert d["department"]=="71" and d["jurisdiction"]=="fr-casf"
assert d["referral_term"]=="information préoccupante"
assert len(d["routes"])==563
' "$TMP/71.json"

# Cluny: the CRIP and Cluny/Tournus, never Mâcon
route "$D71/directory.bin" --commune 71137 --anchor "$ANCHOR71"
check "route 71137 ok" [ $RC -eq 0 ]
check "route 71137 = crip + cluny-tournus" [ "$OUT" = $'71.crip\n71.tas.cluny-tournus' ]
check "route 71137 never macon" bash -c '! grep -q macon <<<"$1"' _ "$OUT"
route "$D71/directory.bin" --commune 71543
check "route Tournus" [ "$OUT" = $'71.crip\n71.tas.cluny-tournus' ]
route "$D71/directory.bin" --commune 71270
check "route Mâcon" [ "$OUT" = $'71.crip\n71.tas.macon' ]
route "$D71/directory.bin" --commune 71270 --type evaluation.assignment --sender-role crip
check "assignment Mâcon" [ "$OUT" = "71.tas.macon" ]
route "$D71/directory.bin" --commune 71137 --type parquet.direct_signalement --sender-role police
check "direct signalement Cluny" [ "$OUT" = $'71.parquet.macon\n71.crip' ]
route "$D71/directory.bin" --commune 71076 --type parquet.saisine --sender-role crip
check "saisine Chalon" [ "$OUT" = "71.parquet.chalon" ]

# refusals
route "$D71/directory.bin" --commune 98818
check "Nouméa refused by 71" [ $RC -ne 0 ]
check "Nouméa: clear message" grep -q "98818 is not in department 71" <<<"$ERR"
route "$D71/directory.bin" --commune 99999
check "99999 refused" [ $RC -ne 0 ]
check "99999: clear message" grep -q "99999" <<<"$ERR"
route "$D71/directory.bin" --commune 71999
check "71999 refused" [ $RC -ne 0 ]
check "71999: clear message" grep -q "71999 is not a routed commune" <<<"$ERR"
route "$D71/directory.bin" --commune 7113
check "malformed commune refused" [ $RC -ne 0 ]
route "$D71/directory.bin" --commune 71137 --sender-role tas
check "tas may not send an IP" [ $RC -ne 0 ]
check "tas: says so" grep -q "may not send" <<<"$ERR"
route "$D71/directory.bin" --commune 71137 --type ip.nope
check "unknown type refused" [ $RC -ne 0 ]
route "$D71/directory.bin" --commune 71137 --type court.opp
check "explicitly addressed type is not routed" [ $RC -ne 0 ]

# postal codes: unique -> routed; shared -> the list to choose from
route "$D71/directory.bin" --postal-code 71250
check "71250 ambiguous" [ $RC -ne 0 ]
check "71250 lists Cluny" grep -q "71137 Cluny" <<<"$ERR"
check "71250 lists Taizé" grep -q "71532 Taizé" <<<"$ERR"
check "71250 says how many" grep -q "covers 21 communes" <<<"$ERR"
# a postal code that covers one commune only routes that commune
read -r UNIQUE_PC UNIQUE_CODE < <(python3 - "$SRC/deploy/71/communes.csv" <<'EOF'
import csv, sys, collections
rows = [l for l in open(sys.argv[1], encoding="utf-8") if not l.startswith("#")]
by_pc = collections.defaultdict(list)
for r in csv.DictReader(rows):
    for pc in r["postal_codes"].split():
        by_pc[pc].append(r["insee_code"])
unique = sorted((pc, c[0]) for pc, c in by_pc.items() if len(c) == 1)
print(*unique[len(unique) // 2])
EOF
)
route "$D71/directory.bin" --commune "$UNIQUE_CODE"
BY_CODE="$OUT"
route "$D71/directory.bin" --postal-code "$UNIQUE_PC"
check "unique postal code $UNIQUE_PC routes like commune $UNIQUE_CODE" [ -n "$OUT" -a "$OUT" = "$BY_CODE" ]
check "postal code resolution is announced" grep -q "postal code $UNIQUE_PC is commune $UNIQUE_CODE" <<<"$ERR"
route "$D71/directory.bin" --postal-code 98800
check "postal code of another department" [ $RC -ne 0 ]

# every one of the 563 communes is routed, to the CRIP and one territory;
# the Clunisois and Mâconnais-Tournugeois go to Cluny/Tournus, the Mâcon
# agglomeration to Mâcon (--all resolves each commune in one process)
"$EGIDE" directory route "$D71/directory.bin" --all --anchor "$ANCHOR71" >"$TMP/all71.txt" 2>"$TMP/all71.err"
check "route --all" [ $? -eq 0 ]
check "route --all: every commune of communes.csv, correctly" python3 - "$SRC/deploy/71/communes.csv" "$TMP/all71.txt" <<'EOF'
import csv, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8") if not l.startswith("#")]
communes = {r["insee_code"]: r["epci_name"] for r in csv.DictReader(rows)}
assert len(communes) == 563, len(communes)
routed = {}
for line in open(sys.argv[2], encoding="utf-8"):
    code, ids = line.rstrip("\n").split("\t")
    routed[code] = ids.split(" ")
assert set(routed) == set(communes), sorted(set(routed) ^ set(communes))[:10]
bad = []
for code, ids in routed.items():
    epci = communes[code]
    if len(ids) != 2 or ids[0] != "71.crip" or not ids[1].startswith("71.tas."):
        bad.append((code, ids))
    elif epci in ("CC du Clunisois", "CC Mâconnais - Tournugeois"):
        if ids[1] != "71.tas.cluny-tournus":
            bad.append((code, ids))
    elif epci == "CA Mâconnais Beaujolais Agglomération":
        if ids[1] != "71.tas.macon":
            bad.append((code, ids))
    elif ids[1] == "71.tas.cluny-tournus":
        bad.append((code, ids))
assert not bad, bad[:10]
assert routed["71137"] == ["71.crip", "71.tas.cluny-tournus"]
assert routed["71543"] == ["71.crip", "71.tas.cluny-tournus"]
assert routed["71270"] == ["71.crip", "71.tas.macon"]
EOF
# and one by one for a sample spread over the list (the single-commune path)
SAMPLE="$(awk 'NR % 40 == 0 {print $1}' "$TMP/all71.txt")"
check "sample not empty" [ -n "$SAMPLE" ]
for code in $SAMPLE; do
    route "$D71/directory.bin" --commune "$code"
    want="$(awk -v c="$code" '$1 == c {print $2; print $3}' "$TMP/all71.txt")"
    check "route $code one by one" [ "$OUT" = "$want" ]
done

# a byte changed in the file: refused by verify
cp "$D71/directory.bin" "$TMP/tampered.bin"
python3 -c '
import sys
p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=1; open(p,"wb").write(b)' "$TMP/tampered.bin"
"$EGIDE" directory verify "$TMP/tampered.bin" --anchor "$ANCHOR71" >/dev/null 2>&1
check "tampered refused" [ $? -ne 0 ]

# version floor
"$EGIDE" directory verify "$D71/directory.bin" --anchor "$ANCHOR71" --min-version 2 >/dev/null 2>&1
check "older than the minimum refused" [ $? -ne 0 ]
"$SRC/deploy/71/make-directory.sh" "$D71" --endpoint tcp://127.0.0.1:17710 --version 2 >/dev/null 2>&1
check "re-sign version 2" [ $? -eq 0 ]
"$EGIDE" directory verify "$D71/directory.bin" --anchor "$ANCHOR71" --min-version 2 >/dev/null 2>&1
check "version 2 accepted" [ $? -eq 0 ]

# ---------------------------------------------------------------- 988
D988="$TMP/988"
"$SRC/deploy/988/make-directory.sh" "$D988" >"$TMP/make988.log" 2>&1
check "make 988" [ $? -eq 0 ]
"$EGIDE" directory verify "$D988/directory.bin" --anchor "$D988/authority/authority.crt" >/dev/null 2>&1
check "verify 988" [ $? -eq 0 ]
"$EGIDE" directory verify "$D988/directory.bin" --anchor "$ANCHOR71" >/dev/null 2>&1
check "988 not signed by the 71 authority" [ $? -ne 0 ]
route "$D988/directory.bin" --commune 98818
check "Nouméa -> Province Sud cell" [ "$OUT" = "988.spe.cellule" ]
route "$D988/directory.bin" --commune 98818 --type evaluation.assignment --sender-role crip
check "Nouméa placement side -> foster-care office" [ "$OUT" = "988.spe.accueil-familial-sud" ]
route "$D988/directory.bin" --commune 71137
check "Cluny refused by 988" [ $RC -ne 0 ]
route "$D988/directory.bin" --commune 98811
check "Koné (Province Nord) refused by the Province Sud directory" [ $RC -ne 0 ]
route "$D988/directory.bin" --postal-code 98800
check "Nouméa by postal code" [ "$OUT" = "988.spe.cellule" ]
"$EGIDE" directory show "$D988/directory.bin" --json >"$TMP/988.json"
check "988 json" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["jurisdiction"]=="nc-province-sud"
assert d["referral_term"]=="information signalante"
names=sorted(r["name"] for r in d["routes"])
assert len(names)==13, names
assert "Nouméa" in names and "Yaté" in names and "L'\''Île-des-Pins" in names
' "$TMP/988.json"

# ---------------------------------------------------------------- bad input
# Each case: copy the 71 inputs, break one thing, build: one "file:line:"
# error, non-zero exit, and the output file untouched.
BAD="$TMP/bad"
build_bad() { # build_bad CASE EXPECTED_REGEX
    local name="$1" want="$2"
    echo "sentinel" >"$BAD/out.bin"
    "$EGIDE" directory build --nodes "$BAD/nodes.ini" --pki "$D71" --routes "$BAD/routes.csv" \
        --communes "$BAD/communes.csv" --rules "$BAD/rules.ini" \
        --authority-key "$D71/authority/authority.key" --authority-cert "$ANCHOR71" \
        --version 9 --out "$BAD/out.bin" >"$TMP/bad.out" 2>"$TMP/bad.err"
    local rc=$?
    check "$name: fails" [ $rc -ne 0 ]
    check "$name: one line" [ "$(wc -l <"$TMP/bad.err")" -eq 1 ]
    if ! grep -Eq "$want" "$TMP/bad.err"; then
        bad "$name: message '$(cat "$TMP/bad.err")' does not match '$want'"
    else
        ok
    fi
    check "$name: nothing written" [ "$(cat "$BAD/out.bin")" = "sentinel" ]
    check "$name: no temp file left" [ "$(find "$BAD" -name 'out.bin?*' | wc -l)" -eq 0 ]
}
reset_bad() {
    rm -rf "$BAD"
    mkdir -p "$BAD"
    cp "$SRC/deploy/71/nodes.ini" "$SRC/deploy/71/routes.csv" "$SRC/deploy/71/rules.ini" \
        "$SRC/deploy/71/communes.csv" "$BAD/"
}

# the unmodified inputs build (so the cases below fail for their own reason)
reset_bad
"$EGIDE" directory build --nodes "$BAD/nodes.ini" --pki "$D71" --routes "$BAD/routes.csv" \
    --communes "$BAD/communes.csv" --rules "$BAD/rules.ini" \
    --authority-key "$D71/authority/authority.key" --authority-cert "$ANCHOR71" \
    --version 9 --out "$BAD/good.bin" >/dev/null 2>"$TMP/bad.err"
check "baseline builds" [ $? -eq 0 ]
check "baseline verifies" "$EGIDE" directory verify "$BAD/good.bin" --anchor "$ANCHOR71"

reset_bad
LINE=$(grep -n '^\[71.tas.autun\]' "$BAD/nodes.ini" | cut -d: -f1)
sed -i 's/^\[71.tas.autun\]/[71.tas.macon]/' "$BAD/nodes.ini"
build_bad "duplicate node id" "nodes.ini:$LINE: duplicate node id 71.tas.macon \\(first at line [0-9]+\\)"

reset_bad
LINE=$(grep -n '^role = observatory' "$BAD/nodes.ini" | cut -d: -f1)
sed -i 's/^role = observatory/role = observer/' "$BAD/nodes.ini"
build_bad "unknown role" "nodes.ini:$LINE: unknown role 'observer'"

reset_bad
LINE=$(grep -n '^\[71.odpe\]' "$BAD/nodes.ini" | cut -d: -f1)
sed -i "${LINE}a signing_cert = missing/sign.crt" "$BAD/nodes.ini"
build_bad "missing certificate" "nodes.ini:$((LINE + 1)): 71.odpe: cannot load signing certificate .*missing/sign.crt"

reset_bad
LINE=$(grep -n '^\[71.odpe\]' "$BAD/nodes.ini" | cut -d: -f1)
sed -i "${LINE}a signing_cert = $D71/nodes/71.odpe/enc.crt" "$BAD/nodes.ini"
build_bad "wrong key type" "nodes.ini:$((LINE + 1)): 71.odpe: signing certificate .* does not hold an Ed25519 key"

reset_bad
sed -i 's/^name = Brigade de protection des familles de Mâcon/name Brigade/' "$BAD/nodes.ini"
LINE=$(grep -n '^name Brigade' "$BAD/nodes.ini" | cut -d: -f1)
build_bad "malformed ini line" "nodes.ini:$LINE: malformed line"

reset_bad
LINE=$(grep -n '^role = police' "$BAD/nodes.ini" | cut -d: -f1)
sed -i "${LINE}a colour = blue" "$BAD/nodes.ini"
build_bad "unknown key" "nodes.ini:$((LINE + 1)): unknown key 'colour'"

reset_bad
LINE=$(grep -n '^\[fr.snated\]' "$BAD/nodes.ini" | cut -d: -f1)
sed -i "${LINE}a status = sleeping" "$BAD/nodes.ini"
build_bad "bad status" "nodes.ini:$((LINE + 1)): status must be active or suspended"

reset_bad
LINE=$(grep -n '^name = Juge des enfants, tribunal judiciaire de Mâcon' "$BAD/nodes.ini" | cut -d: -f1)
sed -i "${LINE}s/.*/name = Juge des enfants, tribunal judiciaire de M\xe2con/" "$BAD/nodes.ini"
build_bad "name not UTF-8" "nodes.ini:$LINE: 71.je.macon: name must be UTF-8 text"

reset_bad
LINE=$(grep -n '^71270,' "$BAD/routes.csv" | cut -d: -f1)
sed -i 's/^71270,Mâcon,/71999,Nowhere,/' "$BAD/routes.csv"
build_bad "unknown commune" "routes.csv:$LINE: unknown commune 71999"

reset_bad
LINE=$(grep -n '^71270,' "$BAD/routes.csv" | cut -d: -f1)
sed -i 's/^71270,Mâcon,/98818,Nouméa,/' "$BAD/routes.csv"
build_bad "commune of another department" "routes.csv:$LINE: commune 98818 is not in department 71"

reset_bad
LINE=$(grep -n '^71137,' "$BAD/routes.csv" | cut -d: -f1)
sed -i 's/^71137,Cluny,71.tas.cluny-tournus/71137,Cluny,71.tas.nowhere/' "$BAD/routes.csv"
build_bad "route to an unknown node" "routes.csv:$LINE: commune 71137: territory '71.tas.nowhere' is not a node"

reset_bad
LINE=$(grep -n '^71137,' "$BAD/routes.csv" | cut -d: -f1)
sed -i 's/^71137,Cluny,71.tas.cluny-tournus/71137,Cluny,71.je.macon/' "$BAD/routes.csv"
build_bad "route to a node of the wrong role" "routes.csv:$LINE: commune 71137: territory '71.je.macon' has role court"

reset_bad
LINE=$(grep -n '^71137,' "$BAD/routes.csv" | cut -d: -f1)
sed -i 's/^71137,Cluny,71.tas.cluny-tournus,/71137,Cluny,/' "$BAD/routes.csv"
build_bad "malformed csv line" "routes.csv:$LINE: 5 fields, the header has 6"

reset_bad
FIRST=$(grep -n '^71137,' "$BAD/routes.csv" | cut -d: -f1)
DUP="$(grep '^71137,' "$BAD/routes.csv")"
echo "$DUP" >>"$BAD/routes.csv"
LINE=$(wc -l <"$BAD/routes.csv")
build_bad "commune routed twice" "routes.csv:$LINE: commune 71137 is routed twice \\(first at line $FIRST\\)"

reset_bad
LINE=$(grep -n '^71532,' "$BAD/communes.csv" | cut -d: -f1)
sed -i '/^71532,/d' "$BAD/routes.csv"
build_bad "unrouted commune" "communes.csv:$LINE: commune 71532 \\(Taizé\\) has no route"

reset_bad
LINE=$(grep -n '^\[observatory.export\]' "$BAD/rules.ini" | cut -d: -f1)
sed -i 's/^\[observatory.export\]/[observatory.exports]/' "$BAD/rules.ini"
build_bad "unknown message type" "rules.ini:$LINE: unknown message type \\[observatory.exports\\]"

reset_bad
LINE=$(grep -n '^from = snated$' "$BAD/rules.ini" | cut -d: -f1)
sed -i 's/^from = snated$/from = snated hotline/' "$BAD/rules.ini"
build_bad "unknown role in a rule" "rules.ini:$LINE: unknown role 'hotline'"

reset_bad
printf '\n[ip.transmission]\nfrom = police\nto = crip\n' >>"$BAD/rules.ini"
LINE=$(($(wc -l <"$BAD/rules.ini") - 1))
build_bad "duplicate rule" "rules.ini:$LINE: police may already send ip.transmission"

reset_bad
sed -i '0,/^route = crip territory$/s//route = crip territory police/' "$BAD/rules.ini"
LINE=$(grep -n '^route = crip territory police$' "$BAD/rules.ini" | cut -d: -f1)
build_bad "route field the rule may not receive" "rules.ini:$LINE: \\[ip.transmission\\] routes to police"

# the options themselves
"$EGIDE" directory build --nodes "$BAD/nodes.ini" >/dev/null 2>&1
check "missing options: usage error" [ $? -eq 2 ]
"$EGIDE" directory frobnicate >/dev/null 2>&1
check "unknown subcommand" [ $? -eq 2 ]
"$EGIDE" directory verify "$D71/directory.bin" >/dev/null 2>&1
check "verify without anchor" [ $? -eq 2 ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
