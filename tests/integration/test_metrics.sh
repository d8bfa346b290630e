#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_metrics.sh - both daemons' /metrics pass `promtool check metrics`
# (base units, no abbreviated units, HELP and TYPE on every family), carry
# egide_build_info and the seconds until the directory and the signing
# certificate expire; the broker's commits are not counted while idle; one
# referral moves the edge's latency histogram (in seconds); the alert rules
# deploy/prometheus/alerts.yml pass `promtool check rules` and name only
# metrics the daemons expose (or Prometheus' up and node_exporter's).
. "$(dirname "$0")/common.sh"
T_TIMEOUT=300
command -v promtool >/dev/null || { bad "promtool not installed (deploy/install-deps.sh: prometheus)"; t_done; }
el_setup || exit 1
el_start_broker || exit 1
for n in fr.snated 71.crip 71.tas.cluny-tournus; do el_start_edge "$n" || exit 1; done
broker_metrics() {
    curl -fsS --max-time 5 -H "Authorization: Bearer $(cat "$EL_DIR/state/broker/api.token")" \
        "http://127.0.0.1:$EL_BROKER_API_PORT/metrics"
}
for n in fr.snated 71.crip 71.tas.cluny-tournus; do
    el_wait_until 100 t_connected "$n" || bad "$n did not connect"
done
broker_metrics >"$EL_DIR/broker.prom" || bad "broker /metrics"
el_api 71.crip GET /metrics >"$EL_DIR/edge.prom" || bad "edge /metrics"

for d in broker edge; do
    out=$(promtool check metrics <"$EL_DIR/$d.prom" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "promtool check metrics: $d clean"; else bad "promtool check metrics ($d): rc=$rc $out"; fi
    check "$d: egide_build_info{version=...} 1" grep -qE '^egide_build_info\{version="[0-9]+\.[0-9]+\.[0-9]+[^"]*"\} 1$' "$EL_DIR/$d.prom"
    # Seconds until expiry: positive (the development PKI and directory are
    # fresh), at most the directory's 30 days + skew / a few years.
    for what in directory certificate; do
        v=$(sed -n "s/^egide_${d}_${what}_expiry_seconds \([-0-9.]*\)$/\1/p" "$EL_DIR/$d.prom")
        check "$d: egide_${d}_${what}_expiry_seconds is positive seconds ($v)" \
            python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 86400 < v < 4000*86400 else 1)" "${v:-x}"
    done
    check "$d: no metric in milliseconds any more" bash -c "! grep -E '^[a-z_]+_ms(_[a-z]+)?[ {]' '$EL_DIR/$d.prom'"
done
dir_s=$(sed -n 's/^egide_broker_directory_expiry_seconds \([0-9]*\)\..*/\1/p' "$EL_DIR/broker.prom")
check "broker: the directory's expiry is the 30 days of make-directory.sh ($dir_s s)" \
    test "${dir_s:-0}" -gt $((29 * 86400)) -a "${dir_s:-0}" -le $((30 * 86400))

# Idle: the loop commits every tick, but only commits that wrote count.
# The checkpoint of the connections' audit leaves may still come: let it.
sleep 3
c1=$(broker_metrics | sed -n 's/^egide_broker_commits_total //p')
sleep 5
c2=$(broker_metrics | sed -n 's/^egide_broker_commits_total //p')
check "broker: egide_broker_commits_total does not rise while idle ($c1 -> $c2 in 5 s)" \
    test -n "$c1" -a "$c1" = "$c2"

# One referral: commits rise, the edge's latency histogram counts it.
SAMPLE="$EL_ROOT/deploy/samples/snated-cluny.json"
BODY=$(python3 -c "import json; print(json.dumps({'type':'snated.transmission','commune':'71137','payload':json.load(open('$SAMPLE'))}))")
mid=$(el_api fr.snated POST /v1/messages -d "$BODY" | json "j['id']")
[ -n "$mid" ] || bad "the referral was not submitted"
el_wait_until 150 t_all_delivered fr.snated "$mid" || bad "the referral was not delivered"
c3=$(broker_metrics | sed -n 's/^egide_broker_commits_total //p')
check "broker: a referral makes commits ($c2 -> $c3)" test "${c3:-0}" -gt "${c2:-0}"
el_api fr.snated GET /metrics >"$EL_DIR/sender.prom"
check "edge: the delivery counted in egide_edge_delivery_latency_seconds_count" \
    grep -q '^egide_edge_delivery_latency_seconds_count [1-9]' "$EL_DIR/sender.prom"
check "edge: the latency sum is in seconds (under 60 for a loopback delivery)" \
    python3 -c "
import re,sys
m=re.search(r'^egide_edge_delivery_latency_seconds_sum ([0-9.]+)$', open(sys.argv[1]).read(), re.M)
sys.exit(0 if m and 0 < float(m.group(1)) < 60 else 1)" "$EL_DIR/sender.prom"
out=$(promtool check metrics <"$EL_DIR/sender.prom" 2>&1)
check "promtool check metrics: edge clean after traffic${out:+ ($out)}" test -z "$out"

# The alert rules.
RULES="$EL_ROOT/deploy/prometheus/alerts.yml"
out=$(promtool check rules "$RULES" 2>&1)
check "promtool check rules deploy/prometheus/alerts.yml" grep -q "SUCCESS" <<<"$out"
for a in EgideDeadlineOverdue EgideBrokerUnreachable EgideWitnessAlert EgideDirectoryExpiresSoon \
    EgideCertificateExpiresSoon EgideDiskAlmostFull; do
    check "alerts.yml has $a" grep -q "alert: $a$" "$RULES"
done
cat "$EL_DIR/broker.prom" "$EL_DIR/edge.prom" >"$EL_DIR/all.prom"
for m in $(grep -oE '\begide_[a-z_]+' "$RULES" | sort -u); do
    check "alerts.yml's $m is exposed by a daemon" grep -q "^# TYPE $m " "$EL_DIR/all.prom"
done
t_done
