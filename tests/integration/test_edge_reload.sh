#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_edge_reload.sh - SIGHUP makes a running edge read its API token file
# and its deadline profile again: the new token is required from then on
# (the old one refused), the new profile is the one /v1/deadlines names; a
# bad token file (0644, too short) or a broken profile is refused with a
# clear log line and the one in use kept; the edge keeps running and serving
# throughout.
. "$(dirname "$0")/common.sh"
T_TIMEOUT=240
el_setup || exit 1
el_start_broker || exit 1
N=71.crip
el_write_edge_config "$N"
ST="$EL_DIR/state/$N"
cp "$EL_ROOT/deploy/profiles/fr-casf.ini" "$EL_DIR/profile.ini"
sed -i "s#^profile = .*#profile = $EL_DIR/profile.ini#" "$ST/edge.ini"
el_start_edge "$N" || exit 1
URL="http://127.0.0.1:${EL_PORT[$N]}"
PID=${EL_PID[$N]}
LOG="$ST/edge.log"
status_with() { # TOKEN PATH -> HTTP status
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $1" "$URL$2"
}
profile_name() { el_api "$N" GET /v1/deadlines | json "j.get('profile')"; }
log_has() { grep -qF -- "$1" "$LOG"; }

OLD=$(cat "$ST/api.token")
check "before: the token works" test "$(status_with "$OLD" /v1/deadlines)" = 200
check "before: /v1/deadlines names profile fr-casf" test "$(profile_name)" = fr-casf

# A new token and a renamed profile, then SIGHUP.
NEW=$(openssl rand -hex 32)
(umask 077 && printf '%s\n' "$NEW" >"$ST/api.token.new") && mv "$ST/api.token.new" "$ST/api.token"
sed -i 's/^name = fr-casf$/name = fr-casf-reloaded/' "$EL_DIR/profile.ini"
kill -HUP "$PID"
check "after SIGHUP: the new token is accepted" el_wait_until 50 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer $NEW' '$URL/v1/deadlines')\" = 200 ]"
check "after SIGHUP: the old token is refused (401)" test "$(status_with "$OLD" /v1/deadlines)" = 401
check "after SIGHUP: /v1/deadlines names the reloaded profile" test "$(profile_name)" = fr-casf-reloaded
check "the log says what was reloaded" log_has "reload: configuration, API token and deadline profile reloaded"
check "the edge is still running" kill -0 "$PID"

# A token file readable by others and a broken profile: refused, kept.
chmod 644 "$ST/api.token"
printf '[profile]\nname = broken\n[deadline x]\nlabel = x\non = no.such.type\ndue = soon\n' >"$EL_DIR/profile.ini"
kill -HUP "$PID"
check "a 0644 token file is refused at reload, with a line naming it" \
    el_wait_until 50 log_has "reload: API token $ST/api.token: "
check "the refusal says the previous token stays" log_has "(chmod 600); the previous token stays in use"
check "a broken profile is refused at reload" el_wait_until 50 log_has "the previous profile stays in use"
chmod 600 "$ST/api.token"
check "the token in use still works" test "$(status_with "$NEW" /v1/deadlines)" = 200
check "the profile in use is still the reloaded one" test "$(profile_name)" = fr-casf-reloaded
check "health still answers" test "$(status_with "$NEW" /v1/health)" = 200

# A token too short to be one: refused too.
(umask 077 && echo short >"$ST/api.token")
kill -HUP "$PID"
check "a too-short token is refused at reload" el_wait_until 50 log_has "reload: API token $ST/api.token: not a usable token"
check "the token in use still works after it" test "$(status_with "$NEW" /v1/deadlines)" = 200

# The configuration file itself is read again (issue 16 item 6).
INI="$ST/edge.ini"
cp "$EL_ROOT/deploy/profiles/fr-casf.ini" "$EL_DIR/profile.ini" # a good profile again
# A token file at another path, and a key that needs a restart.
TOK2=$(openssl rand -hex 32)
(umask 077 && printf '%s\n' "$TOK2" >"$EL_DIR/api2.token")
sed -i "s#^token_file = .*#token_file = $EL_DIR/api2.token#" "$INI"
printf '[web]\nlockout_minutes = 45\n' >>"$INI"
kill -HUP "$PID"
check "the token file named by the reloaded configuration is the one in use" \
    el_wait_until 50 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer $TOK2' '$URL/v1/deadlines')\" = 200 ]"
check "the token of the old path is refused" test "$(status_with "$NEW" /v1/deadlines)" = 401
check "a changed key that needs a restart is named" \
    el_wait_until 50 log_has "reload: [web] lockout_minutes changed in $INI: it applies at the next restart"
check "  and the summary says some keys wait for a restart" \
    el_wait_until 50 log_has "some changed keys apply at the next restart"
check "  its value is not logged" bash -c "! grep -q 'lockout_minutes.*45' '$LOG'"
# A configuration that does not load changes nothing.
cp "$INI" "$EL_DIR/edge.ini.good"
printf 'this line is not ini\n' >>"$INI"
TOK3=$(openssl rand -hex 32)
(umask 077 && printf '%s\n' "$TOK3" >"$EL_DIR/api2.token")
kill -HUP "$PID"
check "a broken configuration is refused at reload, naming the file" \
    el_wait_until 50 log_has "reload: configuration $INI:"
check "  and nothing is reloaded: the token file is not read again" \
    test "$(status_with "$TOK2" /v1/deadlines)" = 200
check "  the new token is not in use" test "$(status_with "$TOK3" /v1/deadlines)" = 401
# The log level applies at once: at warning, a reload's notice is not
# written.  The file differs from the running one only in live keys (the
# [web] key is taken out again), so the summary would be a notice.
grep -v '^\[web\]$\|^lockout_minutes = 45$' "$EL_DIR/edge.ini.good" >"$INI"
sed -i 's/^level = .*/level = warning/' "$INI"
notices() { grep -c "notice: reload: configuration, API token and deadline profile reloaded" "$LOG"; }
n_before=$(notices)
kill -HUP "$PID"
check "after the level is raised, the new token is in use (the reload happened)" \
    el_wait_until 50 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Authorization: Bearer $TOK3' '$URL/v1/deadlines')\" = 200 ]"
sleep 1
check "  and its notice was not written (level warning)" test "$(notices)" = "$n_before"
check "  nor any restart-only key named" test "$(grep -c 'lockout_minutes changed' "$LOG")" = 1
check "the edge is still running at the end" kill -0 "$PID"
t_done
