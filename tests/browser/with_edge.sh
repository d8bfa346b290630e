#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# with_edge.sh COMMAND... - runs a browser test (tests/browser/test_*.py)
# against a real edge on loopback: a broker and the edge 71.crip from the
# development deployment, one agent account made with `egide user add`
# (its password generated here, in a 0600 file).  The test gets
#   EGIDE_WEB_URL            http://127.0.0.1:PORT
#   EGIDE_WEB_USER           the account
#   EGIDE_WEB_PASSWORD_FILE  its password
# and, for the flows between nodes (test_flow.py), the 119 (fr.snated,
# driven by its API token) and the territory Cluny/Tournus with an agent:
#   EGIDE_WEB_119_URL, EGIDE_WEB_119_TOKEN_FILE
#   EGIDE_WEB_TAS_URL, EGIDE_WEB_TAS_USER (same password file)
#   EGIDE_WEB_CRIP_DB        the CRIP edge's database (to age a session)
#   EGIDE_WEB_DB             the CRIP edge's database (for more `egide user add`)
#   EGIDE_WEB_TOKEN_FILE     the CRIP edge's API token (machines' reads)
#   EGIDE_WEB_SENDER_URL, EGIDE_WEB_SENDER_TOKEN_FILE   the 119 again (test_auditor.py)
# Exit status: the test's; 77 (ctest's "skipped") when Chromium, its driver
# or Selenium is missing outside CI; in CI ($CI set) their absence fails.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
missing=""
command -v chromium >/dev/null || missing="$missing chromium"
command -v chromedriver >/dev/null || missing="$missing chromium-driver"
"$PY" -c 'import selenium' 2>/dev/null || missing="$missing python3-selenium"
if [ -n "$missing" ]; then
    if [ -n "${CI:-}" ]; then
        echo "browser test: missing in CI:$missing (deploy/install-deps.sh installs them)" >&2
        exit 1
    fi
    echo "browser test: skipped, not installed:$missing"
    exit 77
fi

. "$(dirname "$0")/../integration/common.sh"

el_setup || exit 1
el_start_broker || exit 1
el_start_edge 71.crip || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.tas.cluny-tournus || exit 1
pwf="$EL_DIR/web-password"
el_token "$pwf"
"$EGIDE_BIN/egide" user add --db "$EL_DIR/state/71.crip/edge.sqlite" --role agent \
    --password-file "$pwf" agent1 >/dev/null || { bad "egide user add"; t_done; }
"$EGIDE_BIN/egide" user add --db "$EL_DIR/state/71.tas.cluny-tournus/edge.sqlite" --role agent \
    --password-file "$pwf" tas1 >/dev/null || { bad "egide user add (territory)"; t_done; }
for n in 71.crip fr.snated 71.tas.cluny-tournus; do
    el_wait_until 100 t_connected "$n" || { bad "$n connects to the broker"; t_done; }
done
export EGIDE_WEB_119_URL="http://127.0.0.1:${EL_PORT[fr.snated]}"
export EGIDE_WEB_119_TOKEN_FILE="$EL_DIR/state/fr.snated/api.token"
export EGIDE_WEB_SENDER_URL="$EGIDE_WEB_119_URL"
export EGIDE_WEB_SENDER_TOKEN_FILE="$EGIDE_WEB_119_TOKEN_FILE"
export EGIDE_WEB_TAS_URL="http://127.0.0.1:${EL_PORT[71.tas.cluny-tournus]}"
export EGIDE_WEB_TAS_USER=tas1
export EGIDE_WEB_CRIP_DB="$EL_DIR/state/71.crip/edge.sqlite"
export EGIDE_WEB_URL="http://127.0.0.1:${EL_PORT[71.crip]}"
export EGIDE_WEB_USER=agent1
export EGIDE_WEB_PASSWORD_FILE="$pwf"
export EGIDE_WEB_DB="$EL_DIR/state/71.crip/edge.sqlite"
export EGIDE_WEB_TOKEN_FILE="$EL_DIR/state/71.crip/api.token"
export EGIDE_WEB_PROFILE="$EL_DIR/chromium"
"$PY" "$@"
rc=$?
[ $rc -eq 0 ] && ok "browser test $*" || bad "browser test $* (status $rc)"
t_done
