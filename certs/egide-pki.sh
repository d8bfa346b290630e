#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# egide-pki.sh - make (or extend) a development PKI for one department.
#
#   certs/egide-pki.sh [--days N] [--expired NODE_ID]... OUTDIR NODE_ID [NODE_ID ...]
#   certs/egide-pki.sh --revoke OUTDIR NODE_ID [NODE_ID ...]
#
# Layout (others code against it):
#   OUTDIR/ca/root.crt issuing.crt chain.pem (issuing+root) crl.pem (root CRL +
#       issuing CRL) root.key issuing.key (0600); OUTDIR/ca/state/ is the
#       `openssl ca` database.
#   OUTDIR/authority/authority.key authority.crt  (Ed25519, CN=<dept>.directory-authority)
#   OUTDIR/nodes/<id>/sign.key sign.crt   (Ed25519, keyUsage=digitalSignature)
#                     enc.key  enc.crt    (X25519, keyUsage=keyAgreement)
#                     curve.secret curve.public (Z85, 40 chars; secret 0600)
# The department is the first node id's prefix before its first dot.
#
# Re-running with more node ids adds the missing nodes under the same CAs;
# existing files are never overwritten.  --days N sets node validity (default
# 825).  --expired NODE_ID issues that node's certificates already expired
# (not before: 30 days ago, not after: yesterday), for tests.  --revoke revokes
# the nodes' signing and encryption certificates and regenerates the CRL.
#
# Environment: EGIDE = path of the `egide` binary (for CURVE key pairs);
# default: `egide` on PATH.  Development only: CA keys stay on disk.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CNF="$HERE/egide-pki.cnf"
EGIDE="${EGIDE:-egide}"
DAYS=825
REVOKE=0
declare -a EXPIRED=()

die() { echo "egide-pki: $*" >&2; exit 1; }
usage() {
    sed -n '4,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --days) [ $# -ge 2 ] || usage; DAYS="$2"; shift 2 ;;
    --days=*) DAYS="${1#--days=}"; shift ;;
    --expired) [ $# -ge 2 ] || usage; EXPIRED+=("$2"); shift 2 ;;
    --expired=*) EXPIRED+=("${1#--expired=}"); shift ;;
    --revoke) REVOKE=1; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || { [ $# -ge 1 ] && [ ${#EXPIRED[@]} -gt 0 ]; } || usage
OUT="$1"
shift
[[ "$DAYS" =~ ^[0-9]{1,5}$ ]] && [ "$DAYS" -ge 1 ] || die "--days wants a positive number of days"

declare -a NODES=("$@")
for e in "${EXPIRED[@]}"; do
    found=0
    for n in "${NODES[@]}"; do [ "$n" = "$e" ] && found=1; done
    [ $found = 1 ] || NODES+=("$e")
done
for n in "${NODES[@]}"; do
    # Node ids go into file names and subjects: keep them boring.
    [[ "$n" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] && [[ "$n" != *..* ]] ||
        die "bad node id '$n' (letters, digits, '.', '_', '-'; at most 64)"
done
command -v openssl >/dev/null || die "openssl not found"

umask 077
[ "$REVOKE" = 1 ] && [ ! -d "$OUT" ] && die "$OUT: no PKI here"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
CA="$OUT/ca"
export EGIDE_PKI_CA="$CA"
export EGIDE_NODE_ID="none"

# UTCTime N days from now (negative = past), as `openssl ca` wants it.
utc_days() { date -u -d "$1 days" +%y%m%d%H%M%SZ; }

ossl_ca() { # ossl_ca SECTION args...
    local name="$1"
    shift
    openssl ca -config "$CNF" -name "$name" -batch -notext "$@" 2>"$CA/state/last.log" ||
        { cat "$CA/state/last.log" >&2; die "openssl ca ($name) failed"; }
}

gen_crl() {
    openssl ca -config "$CNF" -name ca_root -gencrl -crl_lastupdate "$(utc_days -60)" \
        -crldays 30 -out "$CA/state/root.crl" 2>"$CA/state/last.log" ||
        { cat "$CA/state/last.log" >&2; die "root CRL failed"; }
    openssl ca -config "$CNF" -name ca_issuing -gencrl -crl_lastupdate "$(utc_days -60)" \
        -crldays 30 -out "$CA/state/issuing.crl" 2>"$CA/state/last.log" ||
        { cat "$CA/state/last.log" >&2; die "issuing CRL failed"; }
    cat "$CA/state/root.crl" "$CA/state/issuing.crl" >"$CA/crl.pem.tmp"
    chmod 644 "$CA/crl.pem.tmp"
    mv -f "$CA/crl.pem.tmp" "$CA/crl.pem"
}

pubfile() { chmod 644 "$@"; }

# One run at a time per OUTDIR: `openssl ca` databases are not safe for
# concurrent writers.
if [ "$REVOKE" = 1 ] && [ ! -d "$CA/state" ]; then
    die "$OUT: no PKI here"
fi
mkdir -p "$CA/state"
if command -v flock >/dev/null; then
    exec 9>"$CA/state/lock"
    flock -w 120 9 || die "$OUT: another egide-pki.sh is running"
fi

# ---------------------------------------------------------------- revoke
if [ "$REVOKE" = 1 ]; then
    [ -f "$CA/issuing.crt" ] || die "$OUT: no PKI here"
    for n in "${NODES[@]}"; do
        d="$OUT/nodes/$n"
        [ -f "$d/sign.crt" ] || die "$n: no such node in $OUT"
        for c in sign enc; do
            if ! openssl ca -config "$CNF" -name ca_issuing -revoke "$d/$c.crt" \
                -crl_reason keyCompromise 2>"$CA/state/last.log"; then
                grep -qi "already revoked" "$CA/state/last.log" ||
                    { cat "$CA/state/last.log" >&2; die "revoking $n/$c.crt failed"; }
            fi
        done
    done
    gen_crl
    echo "egide-pki: revoked ${NODES[*]}; CRL at $CA/crl.pem" >&2
    exit 0
fi

# ---------------------------------------------------------------- CAs
DEPT="${NODES[0]%%.*}"
mkdir -p "$CA/state/root.certs" "$CA/state/issuing.certs"
for c in root issuing; do
    [ -f "$CA/state/$c.index" ] || : >"$CA/state/$c.index"
    [ -f "$CA/state/$c.crlnumber" ] || echo 1000 >"$CA/state/$c.crlnumber"
done

if [ ! -f "$CA/root.crt" ]; then
    openssl genpkey -algorithm ed25519 -out "$CA/root.key" 2>/dev/null
    chmod 600 "$CA/root.key"
    openssl req -config "$CNF" -new -key "$CA/root.key" \
        -subj "/O=Egide development/OU=$DEPT/CN=$DEPT.root-ca" -out "$CA/state/root.csr"
    ossl_ca ca_root -selfsign -keyfile "$CA/root.key" -in "$CA/state/root.csr" \
        -startdate "$(utc_days -60)" -enddate "$(utc_days 3650)" -extensions root_ext \
        -out "$CA/root.crt.tmp"
    mv "$CA/root.crt.tmp" "$CA/root.crt"
    pubfile "$CA/root.crt"
fi
if [ ! -f "$CA/issuing.crt" ]; then
    openssl genpkey -algorithm ed25519 -out "$CA/issuing.key" 2>/dev/null
    chmod 600 "$CA/issuing.key"
    openssl req -config "$CNF" -new -key "$CA/issuing.key" \
        -subj "/O=Egide development/OU=$DEPT/CN=$DEPT.issuing-ca" -out "$CA/state/issuing.csr"
    ossl_ca ca_root -in "$CA/state/issuing.csr" -startdate "$(utc_days -60)" \
        -enddate "$(utc_days 1825)" -extensions issuing_ext -out "$CA/issuing.crt.tmp"
    mv "$CA/issuing.crt.tmp" "$CA/issuing.crt"
    pubfile "$CA/issuing.crt"
fi
cat "$CA/issuing.crt" "$CA/root.crt" >"$CA/chain.pem"
pubfile "$CA/chain.pem"

# ---------------------------------------------------------------- issuance
# issue KEY_FOR_CSR SUBJECT_CN EXTENSIONS OUTCERT START END
issue() {
    local key="$1" cn="$2" ext="$3" out="$4" start="$5" end="$6" csr
    csr="$(mktemp "$CA/state/csr.XXXXXX")"
    openssl req -config "$CNF" -new -key "$key" -subj "/CN=$cn" -out "$csr"
    ossl_ca ca_issuing -in "$csr" -startdate "$start" -enddate "$end" -extensions "$ext" \
        -out "$out.tmp"
    rm -f "$csr"
}

if [ ! -f "$OUT/authority/authority.crt" ]; then
    mkdir -p "$OUT/authority"
    [ -f "$OUT/authority/authority.key" ] ||
        openssl genpkey -algorithm ed25519 -out "$OUT/authority/authority.key" 2>/dev/null
    chmod 600 "$OUT/authority/authority.key"
    issue "$OUT/authority/authority.key" "$DEPT.directory-authority" authority_ext \
        "$OUT/authority/authority.crt" "$(utc_days -1)" "$(utc_days "$DAYS")"
    mv "$OUT/authority/authority.crt.tmp" "$OUT/authority/authority.crt"
    pubfile "$OUT/authority/authority.crt"
fi

is_expired() {
    local x
    for x in "${EXPIRED[@]}"; do [ "$x" = "$1" ] && return 0; done
    return 1
}

for n in "${NODES[@]}"; do
    d="$OUT/nodes/$n"
    mkdir -p "$d"
    export EGIDE_NODE_ID="$n"
    if is_expired "$n"; then
        start="$(utc_days -30)" end="$(utc_days -1)"
    else
        start="$(utc_days -1)" end="$(utc_days "$DAYS")"
    fi
    if [ ! -f "$d/sign.crt" ]; then
        [ -f "$d/sign.key" ] || openssl genpkey -algorithm ed25519 -out "$d/sign.key" 2>/dev/null
        chmod 600 "$d/sign.key"
        issue "$d/sign.key" "$n" node_sign_ext "$d/sign.crt" "$start" "$end"
        mv "$d/sign.crt.tmp" "$d/sign.crt"
        pubfile "$d/sign.crt"
    fi
    if [ ! -f "$d/enc.crt" ]; then
        [ -f "$d/enc.key" ] || openssl genpkey -algorithm x25519 -out "$d/enc.key" 2>/dev/null
        chmod 600 "$d/enc.key"
        # X25519 cannot sign a request: the request is signed by the node's
        # signing key and `openssl x509 -req -force_pubkey` puts the X25519 key
        # in the certificate; `openssl ca -valid` then records it in the
        # issuing CA's database so that --revoke finds it.  OpenSSL 3.0's
        # x509 cannot backdate, so an "expired" one gets -days -1 (not after
        # < not before: expired all the same).
        csr="$(mktemp "$CA/state/csr.XXXXXX")"
        openssl req -config "$CNF" -new -key "$d/sign.key" -subj "/CN=$n" -out "$csr"
        openssl pkey -in "$d/enc.key" -pubout -out "$d/enc.pub.tmp" 2>/dev/null
        if is_expired "$n"; then edays=-1; else edays="$DAYS"; fi
        openssl x509 -req -in "$csr" -force_pubkey "$d/enc.pub.tmp" -CA "$CA/issuing.crt" \
            -CAkey "$CA/issuing.key" -set_serial "0x$(openssl rand -hex 16)" -days "$edays" \
            -extfile "$CNF" -extensions node_enc_ext -out "$d/enc.crt.tmp" \
            2>"$CA/state/last.log" ||
            { cat "$CA/state/last.log" >&2; die "$n: encryption certificate failed"; }
        ossl_ca ca_issuing -valid "$d/enc.crt.tmp"
        rm -f "$csr" "$d/enc.pub.tmp"
        mv "$d/enc.crt.tmp" "$d/enc.crt"
        pubfile "$d/enc.crt"
    fi
    if [ ! -f "$d/curve.public" ] || [ ! -f "$d/curve.secret" ]; then
        rm -f "$d/curve.public" "$d/curve.secret"
        "$EGIDE" pki curve-keygen --out-secret "$d/curve.secret" --out-public "$d/curve.public" ||
            die "$n: CURVE key pair failed (EGIDE=$EGIDE)"
        chmod 600 "$d/curve.secret"
        pubfile "$d/curve.public"
    fi
done
export EGIDE_NODE_ID="none"
gen_crl
rm -f "$CA/state/last.log"
echo "egide-pki: $OUT: ${#NODES[@]} node(s) ready (${NODES[*]})" >&2
