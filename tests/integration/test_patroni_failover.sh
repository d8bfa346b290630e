#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_patroni_failover.sh - the broker's store on PostgreSQL replicated by
# Patroni (deploy/ha/up.sh: three etcd members, a primary and a synchronous
# standby, synchronous_mode_strict, all on loopback).  While 200 referrals
# stream from the SNATED to two recipients, the PostgreSQL primary is killed
# (pg_ctl stop -m immediate); Patroni promotes the standby; the broker
# reconnects through its conninfo's host list (target_session_attrs=
# read-write).  Then: every referral is in each recipient's inbox exactly
# once, the sender holds every receipt, and every referral the broker
# ACCEPTED is on the promoted server (nothing accepted is lost).  Prints the
# database failover time (primary killed -> first ACCEPTED after it), which
# is measured, not asserted.  Label "ha".  Skips (77) only when etcd-server,
# patroni or PostgreSQL 15 is missing and cannot be installed.
T_TIMEOUT=${T_TIMEOUT:-280}
. "$(dirname "$0")/common.sh"
PGBIN=${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
N=${EGIDE_HA_N:-200}
have_tools() { command -v etcd && command -v patroni && [ -x "$PGBIN/initdb" ]; } >/dev/null
if ! have_tools; then
    [ "$(id -u)" -eq 0 ] && "$EL_ROOT/deploy/install-deps.sh" >&2 || true
    have_tools || { echo "SKIP: etcd-server, patroni or postgresql-15 missing and not installable"; exit 77; }
fi
HAD=$(mktemp -d /tmp/egide-ha.XXXXXX)
ha_cleanup() { "$EL_ROOT/deploy/ha/down.sh" "$HAD" 2>/dev/null || rm -rf "$HAD"; }
trap 't_cleanup; ha_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

CONNINFO=$(EGIDE_HA_WAIT=90 "$EL_ROOT/deploy/ha/up.sh" "$HAD" 2>"$EL_DIR/ha-up.log")
rc=$?
[ $rc -eq 0 ] || { cat "$EL_DIR/ha-up.log"; [ $rc -eq 77 ] && exit 77; echo "FAIL deploy/ha/up.sh ($rc)"; exit 1; }
check "up.sh: a leader and a synchronous standby, a conninfo listing both" \
    grep -q 'target_session_attrs=read-write' <<<"$CONNINFO"
read -r -a PORTS <"$HAD/ports"
REST=("${PORTS[8]}" "${PORTS[9]}")
cluster() { curl -fsS --max-time 2 "http://127.0.0.1:${REST[0]}/cluster" 2>/dev/null ||
    curl -fsS --max-time 2 "http://127.0.0.1:${REST[1]}/cluster"; }
member() { cluster | json "[m['name'] for m in j['members'] if m['role']=='$1'][0]" 2>/dev/null; } # ROLE
LEADER=$(member leader)
SYNC=$(member sync_standby)
check "pg1 leads, pg2 is its synchronous standby" test "$LEADER/$SYNC" = pg1/pg2
psql_q() { "$PGBIN/psql" "$CONNINFO" -qAt -c "$1"; }
out=$("$EL_ROOT/deploy/ha/up.sh" "$HAD" 2>&1)
rc=$?
check "up.sh on a directory in use: refused ($rc), clearly" bash -c "[ $rc -eq 1 ] && grep -q 'already in use' <<<\"\$0\"" "$out"
check "  and the running set is untouched" test "$(member leader)" = pg1
touch "$EL_DIR/marker"
out=$("$EL_ROOT/deploy/ha/down.sh" "$EL_DIR" 2>&1)
rc=$?
check "down.sh on a directory up.sh did not make: refused ($rc), nothing removed" \
    bash -c "[ $rc -eq 1 ] && grep -q 'not made by up.sh' <<<\"\$0\" && [ -f '$EL_DIR/marker' ]" "$out"

el_setup || exit 1
printf '[store]\nbackend = postgresql\nconninfo = %s\nlease_seconds = 15\n' "$CONNINFO" \
    >>"$EL_DIR/state/broker/broker.ini"
el_start_broker || exit 1
RCPTS=(71.crip 71.tas.cluny-tournus)
for n in fr.snated "${RCPTS[@]}"; do el_start_edge "$n" || exit 1; done
for n in fr.snated "${RCPTS[@]}"; do check "$n connects" el_wait_until 100 t_connected "$n"; done
check "the broker runs on the PostgreSQL primary" test "$(psql_q 'SELECT NOT pg_is_in_recovery()')" = t
# Commune 71137: the CRIP and the TAS of Cluny-Tournus; a non-confidential
# sender, so both get the same message.
python3 -c "import json; nonconf=lambda p: (p['sender'].update(confidential=False), p)[1]; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':nonconf(json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json')))}))" >"$EL_DIR/body.json"

IDS="$EL_DIR/ids"
: >"$IDS"
# The stream: one referral after the other, paced (about fifteen a second),
# so the broker is accepting them when the primary dies and goes on after.
stream() {
    local i try id
    for ((i = 0; i < N; i++)); do
        for ((try = 0; try < 50; try++)); do
            id=$(el_api fr.snated POST /v1/messages --data-binary "@$EL_DIR/body.json" |
                grep -o '"id": *"[0-9a-f]\{32\}"' | head -1 | grep -o '[0-9a-f]\{32\}')
            [ -n "$id" ] && break
            sleep 0.2
        done
        [ -n "$id" ] || return 1
        echo "$id" >>"$IDS"
        sleep 0.05
    done
}
stream &
LOADER=$!
# accepted_ids: the ids that have the broker's ACCEPTED receipt at the sender.
sender_db="file:$EL_DIR/state/fr.snated/edge.sqlite?mode=ro"
accepted_count() { sqlite3 "$sender_db" "SELECT count(DISTINCT msg_id) FROM receipts WHERE kind = 1 AND issuer = '71.broker'"; }
# Mid-stream: a quarter of them accepted by the broker.
el_wait_until 600 bash -c "[ \$(sqlite3 '$sender_db' \"SELECT count(DISTINCT msg_id) FROM receipts WHERE kind = 1\") -ge $((N / 4)) ]"
AT_KILL=$(wc -l <"$IDS")
ACC_AT_KILL=$(accepted_count)
as_pg "$PGBIN/pg_ctl" -D "$HAD/$LEADER/data" -m immediate -w stop >/dev/null 2>&1
# The time once pg_ctl has seen the server gone: a receipt signed after it
# can only have been committed by the promoted server (taken before pg_ctl,
# a commit made in the few ms the server takes to die counted as "new").
KILL_MS=$(date +%s%3N)
echo "$(date -u +%T.%3N): primary $LEADER killed (pg_ctl stop -m immediate) after $AT_KILL submissions, $ACC_AT_KILL accepted"
check "the primary was killed mid-stream ($ACC_AT_KILL of $N accepted)" test "$ACC_AT_KILL" -lt "$N"
# The failover as the sender sees it: until an ACCEPTED signed after the kill
# reaches it (such a receipt was committed on the promoted server; the
# receipt's own time is when the broker signed it, which can be before the
# COMMIT returns: polled here, every 0.1 s, at most 120 s).
new_accepted() { [ "$(sqlite3 "$sender_db" "SELECT count(*) FROM receipts WHERE kind = 1 AND issuer = '71.broker' AND time_ms > $KILL_MS")" -gt 0 ]; }
FIRST_MS=""
for ((i = 0; i < 1200; i++)); do
    new_accepted && { FIRST_MS=$(date +%s%3N); break; }
    sleep 0.1
done
check "referrals are accepted after the kill" test -n "$FIRST_MS"
new_leader() { [ "$(member leader)" = "$SYNC" ]; }
check "Patroni promotes the synchronous standby ($SYNC)" el_wait_until 300 new_leader
wait "$LOADER"
check "all $N submissions answered 202 by the sender's edge" test "$(wc -l <"$IDS")" -eq "$N"

# inbox_check NODE -> "present missing duplicated" over the ids
inbox_check() {
    python3 - "$EL_DIR/state/$1/edge.sqlite" "$IDS" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
have = {}
for (h,) in db.execute("SELECT lower(hex(msg_id)) FROM inbox"):
    have[h] = have.get(h, 0) + 1
present = sum(1 for i in ids if have.get(i) == 1)
print(present, len(ids) - present, sum(1 for v in have.values() if v > 1))
PY
}
# receipts_missing -> how many ids lack ACCEPTED or a recipient's DELIVERED at the sender
receipts_missing() {
    python3 - "$EL_DIR/state/fr.snated/edge.sqlite" "$IDS" "${RCPTS[@]}" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
got = set(db.execute("SELECT lower(hex(msg_id)), kind, issuer FROM receipts"))
need = [(1, "71.broker")] + [(2, r) for r in sys.argv[3:]]
print(sum(1 for i in ids if any((i, k, who) not in got for k, who in need)))
PY
}
all_done() {
    local n
    for n in "${RCPTS[@]}"; do [ "$(inbox_check "$n" | cut -d' ' -f2)" = 0 ] || return 1; done
    [ "$(receipts_missing)" = 0 ]
}
check "every referral reaches both recipients, every receipt back" el_wait_until 600 all_done
for n in "${RCPTS[@]}"; do
    r=$(inbox_check "$n")
    check "$n has each of the $N exactly once (present missing dup: $r)" test "$r" = "$N 0 0"
done
check "the sender holds ACCEPTED and both DELIVERED for each (missing: $(receipts_missing))" \
    test "$(receipts_missing)" = 0
check "the broker is still the same process" kill -0 "${EL_PID[broker]}"
check "  it saw the store go away" grep -q 'store unavailable' "$EL_DIR/state/broker/broker.log"

# Nothing accepted is lost: every ACCEPTED the sender holds names an envelope
# on the promoted server, with its deliveries, each once.
check "the broker now writes to $SYNC" test "$(psql_q "SELECT NOT pg_is_in_recovery() AND current_setting('port') = '$(
    [ "$SYNC" = pg1 ] && echo "${PORTS[6]}" || echo "${PORTS[7]}")'")" = t
sqlite3 "$sender_db" "SELECT DISTINCT lower(hex(msg_id)) FROM receipts WHERE kind = 1 AND issuer = '71.broker'" |
    sort >"$EL_DIR/accepted"
psql_q "SELECT encode(msg_id, 'hex') FROM envelopes" | sort >"$EL_DIR/stored"
check "$(wc -l <"$EL_DIR/accepted") ACCEPTED at the sender, each an envelope on the promoted server" \
    bash -c "[ \$(wc -l <'$EL_DIR/accepted') -eq $N ] && [ -z \"\$(comm -23 '$EL_DIR/accepted' '$EL_DIR/stored')\" ]"
check "  $N envelopes, $((N * 2)) deliveries, one per message and recipient" \
    test "$(psql_q "SELECT (SELECT count(*) FROM envelopes) || ' ' || (SELECT count(*) FROM deliveries) || ' ' || (SELECT count(*) FROM (SELECT 1 FROM deliveries GROUP BY msg_id, recipient_id HAVING count(*) > 1) d)")" = "$N $((N * 2)) 0"
check "  the audit log: no gap, head = leaf count" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
rejoined() { [ "$(member sync_standby)" = "$LEADER" ]; }
check "the old primary ($LEADER) rejoins as the synchronous standby" el_wait_until 300 rejoined
[ -z "$FIRST_MS" ] || echo "database failover: $((FIRST_MS - KILL_MS)) ms from the primary killed to the first new ACCEPTED at the sender (Patroni ttl 10, loop_wait 2, retry_timeout 4; synchronous_mode_strict)"
# Where it went, from Patroni's own log (informative).
grep -E 'promoted self to leader|Synchronous standby status assigned' "$HAD/$SYNC.log" | sed 's/^/  patroni: /' || true

# down.sh stops exactly what up.sh started: every PID it recorded, and the
# PostgreSQL servers under them.
PIDS=$(cat "$HAD"/run/*.pid)
for n in pg1 pg2; do PIDS+=" $(head -1 "$HAD/$n/data/postmaster.pid" 2>/dev/null)"; done
check "up.sh recorded 3 etcd and 2 Patroni PIDs, both servers run" test "$(wc -w <<<"$PIDS")" -eq 7
"$EL_ROOT/deploy/ha/down.sh" "$HAD" --keep
alive=0
for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "down.sh: none of them is left running ($alive alive)" test "$alive" -eq 0
check "  and no PID file is left" bash -c "! ls '$HAD'/run/*.pid 2>/dev/null | grep -q ."
rm -rf "$HAD"

# up.sh that fails (here: no time to wait for the primary) stops what it had
# started and keeps the logs.
HAD2=$(mktemp -d /tmp/egide-ha.XXXXXX)
EGIDE_HA_WAIT=1 "$EL_ROOT/deploy/ha/up.sh" "$HAD2" >/dev/null 2>"$EL_DIR/ha-up2.log"
rc=$?
check "up.sh that times out fails ($rc) and says so" \
    bash -c "[ $rc -eq 1 ] && grep -q 'timed out waiting' '$EL_DIR/ha-up2.log'"
none_from() { ! pgrep -f "$1" >/dev/null; } # (pgrep never matches itself)
check "  with nothing left running from its directory" none_from "$HAD2/"
check "  its logs kept, no PID file" bash -c "ls '$HAD2'/*.log >/dev/null && ! ls '$HAD2'/run/*.pid 2>/dev/null | grep -q ."
rm -rf "$HAD2"
t_done
