#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# test_domain_cli.sh - the domain commands end to end with the real `egide`
# binary: `egide validate` on every sample and on broken payloads (one
# "path: message" line per error, exit codes), `egide deadlines` offline
# (fr-casf and New Caledonia profiles) and online against a stub of the
# edge's GET /v1/deadlines on 127.0.0.1 (bearer token from a 0600 file), and
# `egide export olinpe` (key file permissions, output mode, no identifying
# string of the inputs in the output, nothing written on bad input).
# Everything lives in a temporary directory that is removed at the end.
set -uo pipefail

SRC="${EGIDE_SOURCE_DIR:?}"
BIN="${EGIDE_BIN:?}"
EGIDE="$BIN/egide"
SAMPLES="$SRC/deploy/samples"
[ -x "$EGIDE" ] || { echo "no egide binary at $EGIDE"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed for the HTTP stub"; exit 1; }

TMP="$(mktemp -d /tmp/egide-test-domain.XXXXXX)"
STUB_PID=""
cleanup() {
    [ -n "$STUB_PID" ] && kill "$STUB_PID" 2>/dev/null
    rm -rf -- "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@"; then ok; else bad "$what"; fi
}
# run CMD... -> $OUT (stdout), $ERR (stderr), $RC
run() {
    OUT="$("$@" 2>"$TMP/err")"
    RC=$?
    ERR="$(cat "$TMP/err")"
}
has() { grep -qF -- "$2" <<<"$1"; }

# ---------------------------------------------------------------- validate
declare -A TYPES=(
    [snated-cluny.json]=snated.transmission
    [ip-macon-under2.json]=ip.transmission
    [evaluation-report-cluny.json]=evaluation.report
    [opp-macon.json]=court.opp
    [nc-noumea-information-signalante.json]=ip.transmission
    [court-decision-macon.json]=court.decision
    [emergency-reception-cluny.json]=ase.emergency_reception
)
for f in "${!TYPES[@]}"; do
    run "$EGIDE" validate --type "${TYPES[$f]}" "$SAMPLES/$f"
    check "validate $f" [ "$RC" -eq 0 ] && check "validate $f says ok" [ "$OUT" = "ok" ]
done
# A territory's "not ours" (issue 11 item 3); kept out of TYPES, which also
# feeds the observatory export below.
run "$EGIDE" validate --type routing.misrouted --facts "$SAMPLES/routing-misrouted-macon.json"
check "validate routing-misrouted-macon.json" [ "$RC" -eq 0 ]
check "routing.misrouted facts: its reason code" has "$OUT" "wrong_commune"
# The demo's file is the 119's transmission about the children of Cluny.
run "$EGIDE" validate --type snated.transmission --facts "$SAMPLES/snated-cluny.json"
check "facts commune" has "$OUT" "commune: 71137"
check "facts children" has "$OUT" "children: 2"
run "$EGIDE" validate --type snated.transmission --out "$TMP/cluny.pb" "$SAMPLES/snated-cluny.json"
check "protobuf written" [ -s "$TMP/cluny.pb" ]
check "protobuf mode 0600" [ "$(stat -c %a "$TMP/cluny.pb")" = "600" ]

# Broken payload: every error, one per line, exit 1.
jq '.children[1].birth_date = "2019-02-30" | .danger.categories[0] = "x" | .foo = 1 | .sender.anonymous = true' \
    "$SAMPLES/snated-cluny.json" >"$TMP/bad.json"
run "$EGIDE" validate --type snated.transmission "$TMP/bad.json"
check "invalid exits 1" [ "$RC" -eq 1 ]
check "bad date reported" has "$OUT" "children[1].birth_date: not a date"
check "bad category reported" has "$OUT" 'danger.categories[0]: unknown category "x"'
check "unknown field reported" has "$OUT" "foo: unknown field"
check "three errors" [ "$(wc -l <<<"$OUT")" -eq 3 ]
check "every line is path: message" [ "$(grep -cvE '^[][A-Za-z0-9_.]+: .+' <<<"$OUT")" -eq 0 ]
jq '.children = []' "$SAMPLES/snated-cluny.json" >"$TMP/nokids.json"
run "$EGIDE" validate --type snated.transmission "$TMP/nokids.json"
check "no child" [ "$OUT" = "children: at least one child" ]
printf '{"a":' >"$TMP/trunc.json"
run "$EGIDE" validate --type ip.transmission "$TMP/trunc.json"
check "bad JSON exits 1" [ "$RC" -eq 1 ] && check "bad JSON line" has "$OUT" "json: invalid JSON"
run "$EGIDE" validate --type ip.nope "$SAMPLES/snated-cluny.json"
check "unknown type exits 2" [ "$RC" -eq 2 ]
run "$EGIDE" validate --type ip.transmission "$TMP/missing.json"
check "missing file fails" [ "$RC" -eq 1 ] && check "missing file one line" [ "$(wc -l <<<"$ERR")" -eq 1 ]
run "$EGIDE" validate "$SAMPLES/snated-cluny.json"
check "no --type is usage" [ "$RC" -eq 2 ]

# ---------------------------------------------------------------- deadlines, offline
run "$EGIDE" deadlines --type ip.transmission --received 2026-11-20 --under-2 --now 2026-11-22 --json \
    --profile "$SRC/deploy/profiles/fr-casf.ini"
check "deadlines offline ok" [ "$RC" -eq 0 ]
EVAL_DUE="$(jq -r '.deadlines[] | select(.name=="evaluation") | .due_ms' <<<"$OUT")"
check "under 2: one month" [ "$EVAL_DUE" = "$(date -u -d 2026-12-20 +%s)000" ]
check "state open" [ "$(jq -r '.deadlines[] | select(.name=="evaluation") | .state' <<<"$OUT")" = "open" ]
run "$EGIDE" deadlines --type court.opp --received 2026-10-03T00:30:00Z --now 2026-11-22
check "OPP table" has "$OUT" "opp_je_seizure"
check "OPP overdue" has "$OUT" "overdue"
check "OPP source" has "$OUT" "375-5"
run "$EGIDE" deadlines --type ase.emergency_reception --payload "$SAMPLES/emergency-reception-cluny.json" --json --now 2026-11-22
check "runaway: 72 h" [ "$(jq -r '.deadlines[0].due_ms' <<<"$OUT")" = "$(( $(date -u -d 2026-11-21T22:10:00Z +%s) + 72 * 3600 ))000" ]
run "$EGIDE" deadlines --type ip.transmission --received 2026-11-19 --profile "$SRC/deploy/profiles/nc-province-sud.ini"
check "NC profile term" has "$OUT" "information signalante"
check "NC: no ONPE export" [ "$(grep -c observatory_export <<<"$OUT")" -eq 0 ]
run "$EGIDE" deadlines --type ip.transmission --received 2026-13-01
check "bad date is usage" [ "$RC" -eq 2 ]
printf '[profile]\nname = x\n[deadline a]\nfoo = 1\n' >"$TMP/bad.ini"
run "$EGIDE" deadlines --type ip.transmission --received 2026-11-19 --profile "$TMP/bad.ini"
check "bad profile fails" [ "$RC" -ne 0 ] && check "bad profile file:line" has "$ERR" "bad.ini:4:"

# ---------------------------------------------------------------- deadlines, online (stub edge)
TOKEN="test-token-$RANDOM$RANDOM"
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
cat >"$TMP/stub.py" <<'PY'
import http.server, json, sys
token, portfile = sys.argv[1], sys.argv[2]
BODY = json.dumps({"obligations": [
    {"start_msg": "0123456789abcdef0123456789abcdef", "start_type": "snated.transmission", "name": "evaluation",
     "label": "Évaluation de l'information préoccupante (3 mois)", "due_ms": 1797840840000,
     "state": "open", "source": "L226-3"},
    {"start_msg": "fedcba9876543210fedcba9876543210", "start_type": "court.opp", "name": "opp_je_seizure",
     "label": "OPP : saisine du juge\u001b[31m", "due_ms": 1790209800000, "state": "overdue",
     "source": "art. 375-5 C. civ."}], "next": None, "total": 2}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            self.send_response(401); self.end_headers(); self.wfile.write(b'{"error":"unauthorized"}'); return
        if self.path.split("?")[0] != "/v1/deadlines":
            self.send_response(404); self.end_headers(); return
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(s.server_address[1]))
s.timeout = 1
for _ in range(60):  # bounded: at most about a minute
    s.handle_request()
PY
python3 "$TMP/stub.py" "$TOKEN" "$TMP/port" &
STUB_PID=$!
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
API="http://127.0.0.1:$(cat "$TMP/port")"
run "$EGIDE" deadlines --api "$API" --token-file "$TMP/token"
check "online ok" [ "$RC" -eq 0 ]
check "online table overdue" has "$OUT" "overdue"
check "online label in UTF-8" has "$OUT" "Évaluation de l'information préoccupante"
check "no escape reaches the terminal" [ "$(grep -c $'\x1b' <<<"$OUT")" -eq 0 ]
run "$EGIDE" deadlines --api "$API/" --token-file "$TMP/token" --json
check "online json" [ "$(jq -r '.obligations | length' <<<"$OUT")" = "2" ]
printf 'wrong\n' >"$TMP/wrong"
chmod 600 "$TMP/wrong"
run "$EGIDE" deadlines --api "$API" --token-file "$TMP/wrong"
check "wrong token fails" [ "$RC" -ne 0 ] && check "wrong token: HTTP 401" has "$ERR" "401"
chmod 644 "$TMP/token"
run "$EGIDE" deadlines --api "$API" --token-file "$TMP/token"
check "token file 0644 refused" [ "$RC" -ne 0 ]
run "$EGIDE" deadlines --api "http://127.0.0.1:1" --token-file "$TMP/wrong"
check "no edge: fails" [ "$RC" -ne 0 ] && check "no edge: one line" [ "$(wc -l <<<"$ERR")" -eq 1 ]
kill "$STUB_PID" 2>/dev/null
wait "$STUB_PID" 2>/dev/null
STUB_PID=""

# ---------------------------------------------------------------- export olinpe
for f in "${!TYPES[@]}"; do
    jq -c --arg t "${TYPES[$f]}" '{type: $t, payload: .}' "$SAMPLES/$f"
done >"$TMP/events.jsonl"
openssl rand -hex 32 >"$TMP/key"
chmod 644 "$TMP/key"
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/key" --in "$TMP/events.jsonl" --out "$TMP/olinpe.json"
check "key 0644 refused" [ "$RC" -ne 0 ] && check "nothing written" [ ! -e "$TMP/olinpe.json" ]
check "key refusal says why" has "$ERR" "key file"
chmod 600 "$TMP/key"
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/key" --in "$TMP/events.jsonl" --out "$TMP/olinpe.json"
check "export ok" [ "$RC" -eq 0 ]
check "export summary" has "$ERR" "9 event(s) from 7 message(s)"
check "export mode 0600" [ "$(stat -c %a "$TMP/olinpe.json")" = "600" ]
check "9 events" [ "$(jq '.events | length' "$TMP/olinpe.json")" = "9" ]
run "$EGIDE" validate --type observatory.export "$TMP/olinpe.json"
check "export is a valid observatory.export" [ "$OUT" = "ok" ]
# No string of the inputs (other than catalogue codes) appears in the export.
jq -r '[paths(type == "string") as $p | {k: ($p | map(select(type == "string")) | last), v: getpath($p)}]
       | .[] | select((.k // "") | test("^(sex|type|link|categories|urgency|parents_informed|channel|decision|conclusion|parental_agreement|kind|outcome|qualification|grounds|reason)$") | not)
       | .v | select(length > 2)' "$SAMPLES"/*.json | sort -u >"$TMP/strings"
check "strings collected" [ "$(wc -l <"$TMP/strings")" -gt 80 ]
LEAKS=0
while IFS= read -r s; do
    if grep -qiF -- "$s" "$TMP/olinpe.json"; then
        echo "leak: $s" >&2
        LEAKS=$((LEAKS + 1))
    fi
done <"$TMP/strings"
check "no leak in the export" [ "$LEAKS" -eq 0 ]
# Same key, same pseudonyms; another key, others.
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/key" --in "$TMP/events.jsonl" --out "$TMP/again.json"
check "stable pseudonyms" [ "$(jq -c '[.events[].pseudonym]' "$TMP/olinpe.json")" = "$(jq -c '[.events[].pseudonym]' "$TMP/again.json")" ]
openssl rand -hex 32 >"$TMP/key2"
chmod 600 "$TMP/key2"
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/key2" --in "$TMP/events.jsonl" --out "$TMP/other.json"
check "other key, other pseudonyms" [ "$(jq -r '.events[0].pseudonym' "$TMP/olinpe.json")" != "$(jq -r '.events[0].pseudonym' "$TMP/other.json")" ]
# A bad line: nothing written, the line is named.
printf '{"type":"court.opp","payload":{}}\n' >>"$TMP/events.jsonl"
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/key" --in "$TMP/events.jsonl" --out "$TMP/bad-export.json"
check "bad events fail" [ "$RC" -ne 0 ] && check "bad events: nothing written" [ ! -e "$TMP/bad-export.json" ]
check "bad events: line named" has "$ERR" "line 8: payload.children: at least one child"
head -c 16 /dev/zero | tr '\0' 'k' >"$TMP/short"
chmod 600 "$TMP/short"
run "$EGIDE" export olinpe --year 2026 --key-file "$TMP/short" --in "$TMP/events.jsonl" --out "$TMP/x.json"
check "short key refused" [ "$RC" -ne 0 ]
run "$EGIDE" export olinpe --year 26 --key-file "$TMP/key" --in "$TMP/events.jsonl" --out "$TMP/x.json"
check "bad year is usage" [ "$RC" -eq 2 ]
run "$EGIDE" export nope
check "unknown export is usage" [ "$RC" -eq 2 ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
