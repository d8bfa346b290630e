# SPDX-License-Identifier: AGPL-3.0-or-later
# pg_ha.sh - sourced (after common.sh) by the tests of two brokers on one
# PostgreSQL store (label "pg"): a temporary cluster, a directory listing
# both brokers' endpoints (one node id, one key pair, one store), the
# second broker's configuration (its own endpoint and API port), edges
# configured by the directory only.  Exits 77 (skipped) only when the
# server tools are absent and CI does not require them.
# With PG_HA_CONNINFO set (the Patroni test), that server is used instead
# and the caller cleans up.
if [ -n "${PG_HA_CONNINFO:-}" ]; then
    CONNINFO=$PG_HA_CONNINFO
else
    PGC="$EL_ROOT/tests/tools/pg-test-cluster.sh"
    PGD=$(mktemp -d /tmp/egide-pg.XXXXXX)
    chmod 755 "$PGD" # the server runs as postgres
    pg_cleanup() { "$PGC" stop "$PGD/c" 2>/dev/null; rm -rf "$PGD"; }
    trap 'pg_cleanup; t_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT
    "$PGC" init "$PGD/c" || { rc=$?; [ $rc -eq 77 ] && [ "${EGIDE_TEST_PG_REQUIRED:-0}" != 1 ] && { echo "SKIP: no PostgreSQL server tools"; exit 77; }; exit 1; }
    "$PGC" start "$PGD/c" >/dev/null || exit 1
    CONNINFO=$("$PGC" createdb "$PGD/c" egide_broker) || exit 1
fi
psql_q() { "${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql" "$CONNINFO" -qAt -c "$1"; }

# ha_setup LEASE_SECONDS: both brokers' configurations, edges' heartbeat 1 s
# (a stopped broker is noticed in 3 s).
ha_setup() {
    EL_BROKER_PORT=$(el_free_port)
    B2_PORT=$(el_free_port)
    B2_API_PORT=$(el_free_port)
    el_setup --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT,tcp://127.0.0.1:$B2_PORT" || return 1
    INI="$EL_DIR/state/broker/broker.ini"
    printf '[store]\nbackend = postgresql\nconninfo = %s\nlease_seconds = %s\n' "$CONNINFO" "$1" >>"$INI"
    INI2="$EL_DIR/state/broker/broker2.ini"
    sed -e "s|^endpoint = .*|endpoint = tcp://127.0.0.1:$B2_PORT|" \
        -e "s|^port = $EL_BROKER_API_PORT\$|port = $B2_API_PORT|" "$INI" >"$INI2"
    local n
    for n in fr.snated 71.crip; do
        el_write_edge_config "$n"
        sed -i 's/^\[edge\]$/[edge]\nheartbeat_ms = 1000/' "$EL_DIR/state/$n/edge.ini"
    done
}
ha_start_broker2() {
    "$EGIDE_BIN/egide-broker" -c "$INI2" >>"$EL_DIR/state/broker/broker2.log" 2>&1 &
    EL_PID[broker2]=$!
    B2=${EL_PID[broker2]}
    # Passive, its health answers 503: any answer will do.
    el_wait_until 100 curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$B2_API_PORT/v1/health" ||
        { tail -20 "$EL_DIR/state/broker/broker2.log" >&2; el_die "second broker did not start"; }
}
ha_health() { curl -s --max-time 2 "http://127.0.0.1:$1/v1/health"; } # API_PORT
ha_body() {
    python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))"
}
# The edges' witnesses: no fork or rollback alert.
ha_no_alert() { # NODE
    local h m
    h=$(el_api "$1" GET /v1/health) || return 1
    m=$(el_api "$1" GET /metrics) || return 1
    ! grep -q '"status": *"alert"' <<<"$h" && grep -Eq '^egide_edge_audit_alerts_total 0$' <<<"$m"
}
# ha_on NODE PORT: the edge is connected to the broker on that port.
ha_on() {
    local h
    h=$(el_api "$1" GET /v1/health) || return 1
    grep -q '"broker": *"connected"' <<<"$h" && grep -q "\"broker_endpoint\": *\"tcp://127.0.0.1:$2\"" <<<"$h"
}
# ha_passive API_PORT: health 503, status passive, with the reason.
ha_passive() {
    local h
    h=$(curl -s -w ' %{http_code}' --max-time 2 "http://127.0.0.1:$1/v1/health") || return 1
    grep -q '"status": *"passive"' <<<"$h" && grep -q '"reason": *"another broker holds' <<<"$h" &&
        [ "${h##* }" = 503 ]
}
