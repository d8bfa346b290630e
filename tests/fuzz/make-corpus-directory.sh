#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# make-corpus-directory.sh - (re)make the seed corpus of fuzz_directory:
# valid signed directories of the example deployments, made with throwaway
# keys in a temporary directory (the keys are deleted; only public
# certificates end up in the seeds), their bare Directory bytes, and a few
# mutations (truncated, one byte flipped, trailing garbage, tiny inputs).
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
w("tiny-empty-fields.bin", b"\x0a\x00\x12\x00\x1a\x00")
w("tiny-sig-only.bin", b"\x1a\x40" + b"\x00" * 64)
w("tiny-huge-length.bin", b"\x0a\xff\xff\xff\xff\x0f")
w("tiny-bad-wiretype.bin", b"\x0f\x01")
PY
ls -l "$OUT" >&2
