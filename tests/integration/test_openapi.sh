#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_openapi.sh - docs/openapi.yaml (OpenAPI 3.1) is the daemons' API,
# both ways (tests/integration/openapi_check.py): every route literal of the
# dispatch code is documented; on a live broker and edge every documented
# operation is answered, every other method is a 405 whose Allow header
# names exactly the documented ones, undocumented paths are the routing 404.
# Also: the checker itself catches a route missing from the document.
. "$(dirname "$0")/common.sh"
T_TIMEOUT=240
python3 -c "import yaml" 2>/dev/null || { bad "python3-yaml not installed (deploy/install-deps.sh)"; t_done; }
CHK="$EL_ROOT/tests/integration/openapi_check.py"
out=$(python3 "$CHK" static "$EL_ROOT" 2>&1)
rc=$?
grep '^FAIL' <<<"$out"
check "static: every route of the dispatch code is in docs/openapi.yaml ($(grep -c '^ok' <<<"$out") checks)" test $rc -eq 0

# The checker fails when a route is missing: a copy of the tree whose
# document lacks /v1/deadlines.
mkdir -p "$EL_DIR/copy/docs"
cp -r "$EL_ROOT/src" "$EL_DIR/copy/"
python3 -c "
import sys, yaml
d = yaml.safe_load(open(sys.argv[1])); del d['paths']['/v1/deadlines']
yaml.safe_dump(d, open(sys.argv[2], 'w'))" "$EL_ROOT/docs/openapi.yaml" "$EL_DIR/copy/docs/openapi.yaml"
out=$(python3 "$CHK" static "$EL_DIR/copy" 2>&1)
check "static: a route left out of the document is caught" \
    grep -q "^FAIL route /v1/deadlines compared in edge_api.c is not in docs/openapi.yaml" <<<"$out"

# The checker fails on an error that is not a problem, a 503 without
# Retry-After, an *_at that disagrees with its *_ms, a duration with one.
out=$(cd "$EL_ROOT/tests/integration" && python3 -c '
import sys
import openapi_check as c
doc = c.load(sys.argv[1])
good = b"{\"type\":\"https://egide.fr/problems/store-unavailable\",\"title\":\"Store unavailable\",\"status\":503,\"detail\":\"d\",\"code\":\"store-unavailable\"}"
c.check_answer(doc, "a", 503, {"Content-Type": "application/problem+json", "Retry-After": "1"}, good)
n0 = c.fails
c.check_answer(doc, "b", 400, {"Content-Type": "application/json"},
               b"{\"error\":{\"code\":\"EGIDE_ERR_INVALID\",\"message\":\"m\"}}")
c.check_answer(doc, "c", 503, {"Content-Type": "application/problem+json"}, good)
c.time_pairs({"created_ms": 1000, "created_at": "1970-01-01T00:00:02.000Z"}, "d")
c.time_pairs({"due_ms": 1000}, "e")
c.time_pairs({"offset_ms": 5, "offset_at": None}, "f")
print(n0, c.fails)' "$EL_ROOT" 2>&1 | tail -1)
check "the checker passes a problem and catches five faults in answers (got: $out)" test "$out" = "0 5"

el_setup || exit 1
el_start_broker || exit 1
el_start_edge 71.crip || exit 1
out=$(python3 "$CHK" live "$EL_ROOT" broker "http://127.0.0.1:$EL_BROKER_API_PORT" \
    "$(cat "$EL_DIR/state/broker/api.token")" 2>&1)
rc=$?
grep '^FAIL' <<<"$out"
check "live broker: documented operations answered, others 405 with Allow, undocumented 404 ($(grep -c '^ok' <<<"$out") checks)" test $rc -eq 0
out=$(python3 "$CHK" live "$EL_ROOT" edge "http://127.0.0.1:${EL_PORT[71.crip]}" \
    "$(cat "$EL_DIR/state/71.crip/api.token")" 2>&1)
rc=$?
grep '^FAIL' <<<"$out"
check "live edge: documented operations answered, others 405 with Allow, undocumented 404 ($(grep -c '^ok' <<<"$out") checks)" test $rc -eq 0
t_done
