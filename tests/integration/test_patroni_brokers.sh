#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_patroni_brokers.sh - both failovers at once.  Two brokers (one
# active, one passive, [store] lease_seconds = 5, both endpoints in the
# signed directory) on a PostgreSQL primary and its synchronous standby
# managed by Patroni (deploy/ha/up.sh).  While referrals stream from the
# SNATED to the CRIP, the active broker is killed (kill -9) and, in the same
# instant, the PostgreSQL primary (pg_ctl stop -m immediate).  Patroni
# promotes the standby; the passive broker reaches it through its conninfo's
# host list, takes the lease once it expires (epoch 2), recomputes the log
# and serves; the edges move to it.  Then: every referral in the CRIP's
# inbox exactly once, the sender holds ACCEPTED and DELIVERED for each,
# every ACCEPTED names an envelope on the promoted server, the audit log has
# no gap, and no edge's witness raised an alert.  Prints the failover time
# (kill -> first ACCEPTED signed after it), measured, not asserted.
# Label "ha".  Skips (77) only when etcd-server, patroni or PostgreSQL 15 is
# missing and cannot be installed.
T_TIMEOUT=${T_TIMEOUT:-600}
. "$(dirname "$0")/common.sh"
PGBIN=${EGIDE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
N=${EGIDE_HA_N:-120}
have_tools() { command -v etcd && command -v patroni && [ -x "$PGBIN/initdb" ]; } >/dev/null
if ! have_tools; then
    [ "$(id -u)" -eq 0 ] && "$EL_ROOT/deploy/install-deps.sh" >&2 || true
    have_tools || { echo "SKIP: etcd-server, patroni or postgresql-15 missing and not installable"; exit 77; }
fi
HAD=$(mktemp -d /tmp/egide-ha.XXXXXX)
ha_cleanup() { "$EL_ROOT/deploy/ha/down.sh" "$HAD" 2>/dev/null || rm -rf "$HAD"; }
trap 't_cleanup; ha_cleanup; pkill -P $T_WATCHDOG 2>/dev/null; kill $T_WATCHDOG 2>/dev/null' EXIT
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

HA_CONNINFO=$(EGIDE_HA_WAIT=90 "$EL_ROOT/deploy/ha/up.sh" "$HAD" 2>"$EL_DIR/ha-up.log")
rc=$?
[ $rc -eq 0 ] || { cat "$EL_DIR/ha-up.log"; [ $rc -eq 77 ] && exit 77; echo "FAIL deploy/ha/up.sh ($rc)"; exit 1; }
PG_HA_CONNINFO=$HA_CONNINFO
. "$(dirname "$0")/pg_ha.sh"
read -r -a PORTS <"$HAD/ports"
REST=("${PORTS[8]}" "${PORTS[9]}")
cluster() { curl -fsS --max-time 2 "http://127.0.0.1:${REST[0]}/cluster" 2>/dev/null ||
    curl -fsS --max-time 2 "http://127.0.0.1:${REST[1]}/cluster"; }
member() { cluster | json "[m['name'] for m in j['members'] if m['role']=='$1'][0]" 2>/dev/null; } # ROLE
LEADER=$(member leader)
SYNC=$(member sync_standby)
check "a Patroni leader ($LEADER) and its synchronous standby ($SYNC)" test -n "$LEADER" -a -n "$SYNC"

ha_setup 5 || exit 1
el_start_broker || exit 1
B1=${EL_PID[broker]}
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do check "$n connects to the first broker" el_wait_until 100 t_connected "$n"; done
ha_start_broker2 || exit 1
check "the second broker waits passive" el_wait_until 100 ha_passive "$B2_API_PORT"
check "the first broker holds the lease at epoch 1" \
    test "$(psql_q "SELECT holder LIKE '%/$B1' AND epoch = 1 FROM broker_lease")" = t
ha_body >"$EL_DIR/body.json"

IDS="$EL_DIR/ids"
: >"$IDS"
stream() { # N referrals, one after the other, paced; each retried until the edge takes it
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
sender_db="file:$EL_DIR/state/fr.snated/edge.sqlite?mode=ro"
accepted_count() { sqlite3 "$sender_db" "SELECT count(DISTINCT msg_id) FROM receipts WHERE kind = 1 AND issuer = '71.broker'"; }
el_wait_until 600 bash -c "[ \$(sqlite3 '$sender_db' \"SELECT count(DISTINCT msg_id) FROM receipts WHERE kind = 1\") -ge $((N / 4)) ]"
# Both at once: the active broker and the database primary.
kill -KILL "$B1"
as_pg "$PGBIN/pg_ctl" -D "$HAD/$LEADER/data" -m immediate -w stop >/dev/null 2>&1
KILL_MS=$(date +%s%3N)
wait "$B1" 2>/dev/null
unset "EL_PID[broker]"
ACC_AT_KILL=$(accepted_count)
echo "$(date -u +%T.%3N): broker $B1 and primary $LEADER killed, $ACC_AT_KILL of $N accepted"
check "both killed mid-stream ($ACC_AT_KILL of $N accepted)" test "$ACC_AT_KILL" -lt "$N"
new_accepted() { [ "$(sqlite3 "$sender_db" "SELECT count(*) FROM receipts WHERE kind = 1 AND issuer = '71.broker' AND time_ms > $KILL_MS")" -gt 0 ]; }
FIRST_MS=""
for ((i = 0; i < 1800; i++)); do
    new_accepted && { FIRST_MS=$(date +%s%3N); break; }
    sleep 0.1
done
check "referrals are accepted after both kills" test -n "$FIRST_MS"
new_leader() { [ "$(member leader)" = "$SYNC" ]; }
check "Patroni promoted the synchronous standby ($SYNC)" el_wait_until 300 new_leader
check "the second broker took the lease (epoch 2)" \
    test "$(psql_q "SELECT holder LIKE '%/$B2' AND epoch = 2 FROM broker_lease")" = t
check "  after recomputing the audit log from its leaves" \
    grep -q 'takeover: the audit log.s [0-9]* leaves hash to the stored tree' "$EL_DIR/state/broker/broker2.log"
wait "$LOADER"
check "all $N submissions taken by the sender's edge" test "$(wc -l <"$IDS")" -eq "$N"
for n in fr.snated 71.crip; do
    check "$n moves to the second broker" el_wait_until 150 ha_on "$n" "$B2_PORT"
done

inbox_check() { # NODE -> "present missing duplicated"
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
receipts_missing() { # ids lacking ACCEPTED or the CRIP's DELIVERED at the sender
    python3 - "$EL_DIR/state/fr.snated/edge.sqlite" "$IDS" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
got = set(db.execute("SELECT lower(hex(msg_id)), kind, issuer FROM receipts"))
print(sum(1 for i in ids if (i, 1, "71.broker") not in got or (i, 2, "71.crip") not in got))
PY
}
all_done() { [ "$(inbox_check 71.crip | cut -d' ' -f2)" = 0 ] && [ "$(receipts_missing)" = 0 ]; }
if ! el_wait_until 300 all_done; then # what is missing, for the log
    echo "inbox (present missing dup): $(inbox_check 71.crip); receipts missing: $(receipts_missing)"
    sqlite3 "$sender_db" "SELECT state, count(*) FROM outbox GROUP BY state" 2>&1 | sed 's/^/  sender outbox: /'
    tail -15 "$EL_DIR/state/broker/broker2.log" | sed 's/^/  broker2: /'
    tail -8 "$EL_DIR/state/fr.snated/edge.log" | sed 's/^/  fr.snated: /'
fi
check "every referral reaches the CRIP, every receipt back" all_done
r=$(inbox_check 71.crip)
check "71.crip has each of the $N exactly once (present missing dup: $r)" test "$r" = "$N 0 0"
check "the sender holds ACCEPTED and DELIVERED for each (missing: $(receipts_missing))" \
    test "$(receipts_missing)" = 0
sqlite3 "$sender_db" "SELECT DISTINCT lower(hex(msg_id)) FROM receipts WHERE kind = 1 AND issuer = '71.broker'" |
    sort >"$EL_DIR/accepted"
psql_q "SELECT encode(msg_id, 'hex') FROM envelopes" | sort >"$EL_DIR/stored"
check "$(wc -l <"$EL_DIR/accepted") ACCEPTED at the sender, each an envelope on the promoted server" \
    bash -c "[ \$(wc -l <'$EL_DIR/accepted') -eq $N ] && [ -z \"\$(comm -23 '$EL_DIR/accepted' '$EL_DIR/stored')\" ]"
check "  $N envelopes, one delivery each" \
    test "$(psql_q "SELECT (SELECT count(*) FROM envelopes) || ' ' || (SELECT count(*) FROM deliveries)")" = "$N $N"
check "  the audit log: no gap, head = leaf count" \
    test "$(psql_q "SELECT (SELECT size FROM audit_head) = (SELECT count(*) FROM audit_leaves) AND (SELECT max(idx) + 1 FROM audit_leaves) = (SELECT count(*) FROM audit_leaves)")" = t
for n in fr.snated 71.crip; do check "$n: no witness alert" ha_no_alert "$n"; done
check "the second broker is still the same process" kill -0 "$B2"
[ -z "$FIRST_MS" ] || echo "broker + database failover: $((FIRST_MS - KILL_MS)) ms from both killed to the first new ACCEPTED at the sender (lease_seconds 5; Patroni ttl 10, loop_wait 2)"
el_stop broker2
t_done
