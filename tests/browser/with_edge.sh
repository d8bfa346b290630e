#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# with_edge.sh COMMAND... - runs a browser test (tests/browser/test_*.py)
# against a real edge on loopback: a broker and the edge 71.crip from the
# development deployment, one agent account made with `egide user add`
# (its password generated here, in a 0600 file).  The test gets
#   EGIDE_WEB_URL            http://127.0.0.1:PORT
#   EGIDE_WEB_USER           the account
#   EGIDE_WEB_PASSWORD_FILE  its password
#   EGIDE_WEB_DB             the edge's database (for more `egide user add`)
#   EGIDE_WEB_TOKEN_FILE     the edge's API token (machines' reads)
# A test whose file has a line "# with_edge: also start NODE" gets that
# edge too (e.g. fr.snated, to send the CRIP a referral), and
#   EGIDE_WEB_SENDER_URL, EGIDE_WEB_SENDER_TOKEN_FILE   its API.
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
also=$(sed -n 's/^# with_edge: also start \([a-z0-9.-]*\)$/\1/p' "${@: -1}" | head -1)
if [ -n "$also" ]; then
    el_start_edge "$also" || exit 1
    export EGIDE_WEB_SENDER_URL="http://127.0.0.1:${EL_PORT[$also]}"
    export EGIDE_WEB_SENDER_TOKEN_FILE="$EL_DIR/state/$also/api.token"
fi
pwf="$EL_DIR/web-password"
el_token "$pwf"
"$EGIDE_BIN/egide" user add --db "$EL_DIR/state/71.crip/edge.sqlite" --role agent \
    --password-file "$pwf" agent1 >/dev/null || { bad "egide user add"; t_done; }
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
