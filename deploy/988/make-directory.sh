#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# make-directory.sh - development PKI and signed directory of the example
# Province Sud, New Caledonia (988) deployment.
#
#   deploy/988/make-directory.sh OUTDIR [--endpoint tcp://127.0.0.1:PORT]
#       [--version N] [--valid-days D]
#
# Writes OUTDIR/ca, OUTDIR/authority, OUTDIR/nodes/<id>/ (certs/egide-pki.sh
# layout) and OUTDIR/directory.bin.  EGIDE = the egide binary;
# EGIDE_BROKER_ENDPOINT = default endpoint (tcp://127.0.0.1:7710).
# The territory mapping in routes.csv is an INVENTED EXAMPLE.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 1 ] || { sed -n '7,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
exec "$HERE/../tools/make-directory.sh" "$HERE" 988 nc-province-sud "$@"
