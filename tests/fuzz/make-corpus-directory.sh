#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# make-corpus-directory.sh - (re)make the seed corpus of fuzz_directory:
# valid signed directories of the example deployments, made with throwaway
# keys in a temporary directory (the keys are deleted; only public
# certificates end up in the seeds), their bare Directory bytes, and a few
# mutations (truncated, one byte flipped, trailing garbage, tiny inputs).
# The mini-* seeds are small directories (3 and 7 nodes, 2 communes) that
# reach the same checks at a fraction of the cost (every node costs two
# certificate parses): the campaign fuzzes mostly from them.
#
#   EGIDE=build/egide tests/fuzz/make-corpus-directory.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$HERE/corpus/directory"
EGIDE="${EGIDE:-egide}"
TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT
mkdir -p "$OUT"

EGIDE="$EGIDE" "$ROOT/deploy/988/make-directory.sh" "$TMP/988" >/dev/null 2>&1
cp "$TMP/988/directory.bin" "$OUT/988-signed.bin"
EGIDE="$EGIDE" "$ROOT/deploy/71/make-directory.sh" "$TMP/71" >/dev/null 2>&1
cp "$TMP/71/directory.bin" "$OUT/71-signed.bin"

# a 988 variant: one node suspended, the situation report routed to the court
sed 's/^role = court$/role = court\nstatus = suspended/' "$ROOT/deploy/988/nodes.ini" >"$TMP/nodes.ini"
"$EGIDE" directory build --nodes "$TMP/nodes.ini" --pki "$TMP/988" \
    --routes "$ROOT/deploy/988/routes.csv" --communes "$ROOT/deploy/988/communes.csv" \
    --rules "$ROOT/deploy/988/rules.ini" --authority-key "$TMP/988/authority/authority.key" \
    --authority-cert "$TMP/988/authority/authority.crt" --jurisdiction nc-province-sud \
    --version 2 --out "$OUT/988-suspended-signed.bin" >/dev/null

# two small directories: 3 nodes; 7 nodes with every route field and a
# suspended node (invented services, like the deploy/ examples)
mkdir -p "$TMP/mini1" "$TMP/mini2"
cat >"$TMP/mini1/nodes.ini" <<'INI'
[71.broker]
role = broker
name = Broker (fuzz seed)
endpoint = tcp://127.0.0.1:7710

[71.crip]
role = crip
name = CRIP (fuzz seed)

[71.tas.macon]
role = tas
name = TAS (fuzz seed)
INI
cat "$TMP/mini1/nodes.ini" - >"$TMP/mini2/nodes.ini" <<'INI'

[71.parquet.macon]
role = parquet
name = Parquet (fuzz seed)

[71.je.macon]
role = court
name = Juge des enfants (fuzz seed)

[71.police.macon]
role = police
name = Police (fuzz seed)

[71.ase.macon]
role = ase
name = ASE (fuzz seed)
status = suspended
INI
printf 'insee_code,name,postal_codes\n71013,Authumes,71270\n71028,Beauvernois,71270\n' \
    >"$TMP/mini1/communes.csv"
cp "$TMP/mini1/communes.csv" "$TMP/mini2/communes.csv"
printf 'commune,name,territory\n71013,Authumes,71.tas.macon\n71028,Beauvernois,71.tas.macon\n' \
    >"$TMP/mini1/routes.csv"
printf 'commune,name,territory,parquet,court,police\n%s\n%s\n' \
    71013,Authumes,71.tas.macon,71.parquet.macon,71.je.macon,71.police.macon \
    71028,Beauvernois,71.ase.macon,71.parquet.macon,71.je.macon,71.police.macon \
    >"$TMP/mini2/routes.csv"
cat >"$TMP/mini1/rules.ini" <<'INI'
[ip.transmission]
from = reporter police parquet
to = crip tas ase
route = crip territory
[ip.qualification]
from = crip
to = reporter police parquet
[evaluation.assignment]
from = crip
to = tas ase
route = territory
INI
cat "$TMP/mini1/rules.ini" - >"$TMP/mini2/rules.ini" <<'INI'
[parquet.saisine]
from = crip
to = parquet
route = parquet
[court.opp]
from = parquet
to = court crip
route = court crip
[ase.incident]
from = tas ase
to = crip police parquet
route = crip police parquet
INI
for m in mini1 mini2; do
    mapfile -t ids < <(sed -n 's/^\[\(.*\)\]$/\1/p' "$TMP/$m/nodes.ini")
    EGIDE="$EGIDE" "$ROOT/certs/egide-pki.sh" "$TMP/$m/pki" "${ids[@]}" >/dev/null 2>&1
    "$EGIDE" directory build --nodes "$TMP/$m/nodes.ini" --pki "$TMP/$m/pki" \
        --routes "$TMP/$m/routes.csv" --communes "$TMP/$m/communes.csv" \
        --rules "$TMP/$m/rules.ini" --authority-key "$TMP/$m/pki/authority/authority.key" \
        --authority-cert "$TMP/$m/pki/authority/authority.crt" --version 1 \
        --out "$OUT/$m-signed.bin" >/dev/null
done

python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if not c & 0x80:
            return v, i
def fields(b):
    i, f = 0, {}
    while i < len(b):
        tag, i = varint(b, i)
        n, i = varint(b, i)
        f[tag >> 3] = b[i:i + n]
        i += n
    return f
signed = open(os.path.join(out, "988-signed.bin"), "rb").read()
inner = fields(signed)[1]
def w(name, data):
    open(os.path.join(out, name), "wb").write(bytes(data))
w("988-directory-only.bin", inner)
w("988-truncated-half.bin", signed[: len(signed) // 2])
w("988-truncated-sig.bin", signed[:-1])
flip = bytearray(signed); flip[len(flip) // 3] ^= 0x20
w("988-flipped.bin", flip)
w("988-trailing.bin", signed + b"\x08\x01\x10")
inner_flip = bytearray(inner); inner_flip[len(inner_flip) // 2] ^= 0x01
w("988-directory-flipped.bin", inner_flip)
for m in ("mini1", "mini2"):
    ms = open(os.path.join(out, m + "-signed.bin"), "rb").read()
    mi = fields(ms)[1]
    w(m + "-directory-only.bin", mi)
    mf = bytearray(ms); mf[len(mf) // 2] ^= 0x04
    w(m + "-flipped.bin", mf)
w("tiny-empty-fields.bin", b"\x0a\x00\x12\x00\x1a\x00")
w("tiny-sig-only.bin", b"\x1a\x40" + b"\x00" * 64)
w("tiny-huge-length.bin", b"\x0a\xff\xff\xff\xff\x0f")
w("tiny-bad-wiretype.bin", b"\x0f\x01")
PY
ls -l "$OUT" >&2
