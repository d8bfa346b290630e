#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# make-directory.sh - the shared body of deploy/<dept>/make-directory.sh:
# makes the development PKI of every node of DEPLOYDIR/nodes.ini (broker
# first) with certs/egide-pki.sh, then signs DEPLOYDIR's nodes, routes and
# rules into OUTDIR/directory.bin with `egide directory build`.
#
#   deploy/tools/make-directory.sh DEPLOYDIR DEPARTMENT JURISDICTION OUTDIR
#       [--endpoint tcp://127.0.0.1:PORT] [--version N] [--valid-days D]
#
# Environment: EGIDE = the egide binary (default: egide on PATH);
# EGIDE_BROKER_ENDPOINT = default for --endpoint (else tcp://127.0.0.1:7710).
# Re-running on the same OUTDIR keeps existing keys and re-signs the
# directory (use --version to publish a newer one).  Development only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
die() { echo "make-directory: $*" >&2; exit 1; }
usage() { sed -n '8,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 4 ] || usage
DEPLOY="$1" DEPT="$2" JUR="$3" OUT="$4"
shift 4
EGIDE="${EGIDE:-egide}"
ENDPOINT="${EGIDE_BROKER_ENDPOINT:-tcp://127.0.0.1:7710}"
VERSION=1
DAYS=30
while [ $# -gt 0 ]; do
    case "$1" in
    --endpoint) [ $# -ge 2 ] || usage; ENDPOINT="$2"; shift 2 ;;
    --endpoint=*) ENDPOINT="${1#--endpoint=}"; shift ;;
    --version) [ $# -ge 2 ] || usage; VERSION="$2"; shift 2 ;;
    --version=*) VERSION="${1#--version=}"; shift ;;
    --valid-days) [ $# -ge 2 ] || usage; DAYS="$2"; shift 2 ;;
    --valid-days=*) DAYS="${1#--valid-days=}"; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1'" ;;
    esac
done
# Several brokers of the department (one store, one active): a comma list.
[[ "$ENDPOINT" =~ ^(tcp|ipc)://[^[:space:],]+(,(tcp|ipc)://[^[:space:],]+)*$ ]] || die "bad endpoint '$ENDPOINT'"
command -v "$EGIDE" >/dev/null 2>&1 || [ -x "$EGIDE" ] || die "egide binary not found (set EGIDE)"
[ -f "$DEPLOY/nodes.ini" ] || die "$DEPLOY/nodes.ini: no such file"

# Node ids = the section names of nodes.ini; brokers first (egide-pki.sh takes
# the department from the first id).
mapfile -t ALL < <(sed -n 's/^[[:space:]]*\[\([^]]*\)\][[:space:]]*$/\1/p' "$DEPLOY/nodes.ini")
mapfile -t BROKERS < <(awk '/^[[:space:]]*\[/{s=$0; gsub(/[][[:space:]]/,"",s)} /^[[:space:]]*role[[:space:]]*=[[:space:]]*broker[[:space:]]*$/{print s}' "$DEPLOY/nodes.ini")
[ ${#BROKERS[@]} -ge 1 ] || die "$DEPLOY/nodes.ini has no broker node"
declare -a IDS=("${BROKERS[@]}")
for n in "${ALL[@]}"; do
    skip=0
    for b in "${BROKERS[@]}"; do [ "$n" = "$b" ] && skip=1; done
    [ $skip = 1 ] || IDS+=("$n")
done

mkdir -p "$OUT"
EGIDE="$EGIDE" "$ROOT/certs/egide-pki.sh" "$OUT" "${IDS[@]}" >/dev/null

"$EGIDE" directory build \
    --nodes "$DEPLOY/nodes.ini" --pki "$OUT" \
    --routes "$DEPLOY/routes.csv" --communes "$DEPLOY/communes.csv" \
    --rules "$DEPLOY/rules.ini" \
    --authority-key "$OUT/authority/authority.key" \
    --authority-cert "$OUT/authority/authority.crt" \
    --department "$DEPT" --jurisdiction "$JUR" \
    --version "$VERSION" --valid-days "$DAYS" \
    --broker-endpoint "$ENDPOINT" \
    --out "$OUT/directory.bin"
