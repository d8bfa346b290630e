#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_audit_fork.sh - edges witness the broker's log: when the broker comes
# back with a different history (its database replaced: a rewrite or fork)
# the edges' consistency check fails, they raise an alert (health, metrics,
# log), and the auditor's `egide audit consistency` against a checkpoint
# saved before fails too.
. "$(dirname "$0")/common.sh"
el_setup || exit 1
el_start_broker || exit 1
el_start_edge fr.snated || exit 1
el_start_edge 71.crip || exit 1
for n in fr.snated 71.crip; do el_wait_until 100 t_connected "$n" || exit 1; done
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','to':['71.crip'],'payload':json.load(open('$EL_ROOT/deploy/samples/snated-cluny.json'))}))")
send() { el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']"; }
for i in 1 2 3; do ID=$(send); done
check "messages delivered" el_wait_until 100 t_all_delivered fr.snated "$ID"
has_cp() { sqlite3 "file:$EL_DIR/state/$1/edge.sqlite?mode=ro" "SELECT count(*) FROM meta WHERE key='checkpoint'" | grep -qx 1; }
check "the CRIP holds a signed checkpoint" el_wait_until 100 has_cp 71.crip
AUD=(--api "http://127.0.0.1:$EL_BROKER_API_PORT" --token-file "$EL_DIR/state/broker/api.token" --anchor "$EL_DIR/pki/nodes/71.broker/sign.crt")
check "auditor saves the current checkpoint" "$EGIDE_BIN/egide" audit checkpoint "${AUD[@]}" --out "$EL_DIR/saved.cp"
check "consistency from it holds while the log is honest" "$EGIDE_BIN/egide" audit consistency --from "$EL_DIR/saved.cp" "${AUD[@]}"
healthy() { el_api 71.crip GET /v1/health | json "j['status']" | grep -qx ok; }
check "no alert on an honest log" healthy

# The broker's history is replaced (a fresh database): a forked log.
el_stop broker
mv "$EL_DIR/state/broker/broker.sqlite" "$EL_DIR/state/broker/old.sqlite"
rm -f "$EL_DIR/state/broker/broker.sqlite-wal" "$EL_DIR/state/broker/broker.sqlite-shm"
el_start_broker || exit 1
for i in $(seq 1 12); do ID=$(send); done # grow the new log past the old size
alerted() { el_api 71.crip GET /v1/health | json "j.get('audit_alert','')" | grep -q .; }
check "the CRIP's edge raises an audit alert" el_wait_until 150 alerted
check "the alert is in its metrics" bash -c "curl -s -H 'Authorization: Bearer $(cat "$EL_DIR/state/71.crip/api.token")' http://127.0.0.1:${EL_PORT[71.crip]}/metrics | grep -Eq '^egide_edge_audit_alerts_total [1-9]'"
check "egide status shows it and exits non-zero" bash -c "out=\$(el_cli() { '$EGIDE_BIN/egide' \"\$@\" --api http://127.0.0.1:${EL_PORT[71.crip]} --token-file '$EL_DIR/state/71.crip/api.token'; }; el_cli status 2>&1); rc=\$?; [ \$rc -ne 0 ] && grep -q 'AUDIT ALERT' <<<\"\$out\""
check "and in its log" grep -q "ALERT: the broker's audit checkpoint" "$EL_DIR/state/71.crip/edge.log"
check "the auditor's consistency check fails too" bash -c "! '$EGIDE_BIN/egide' audit consistency --from '$EL_DIR/saved.cp' ${AUD[*]} >/dev/null 2>&1"
t_done
