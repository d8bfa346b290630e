#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""openapi_check.py - docs/openapi.yaml against the daemons, both ways.

  openapi_check.py static ROOT
      the document is OpenAPI 3.1 and well formed; every route literal the
      dispatch code compares a request path with (src/edge/*.c,
      src/broker/*.c, src/lib/audit/egide_auditapi.c: strcmp/strncmp on the
      path, sub-routes compared after an id, the web routes table) is a
      documented path, or a prefix / suffix of one.  A route added to the
      code without documentation fails here.
  openapi_check.py live ROOT DAEMON URL TOKEN
      on a running daemon: every documented operation of DAEMON is answered
      (not a routing 404, not 405); every other method on a documented path
      gets 405 with an Allow header naming exactly the documented methods
      (HEAD aside); undocumented paths get the routing 404.  Every error
      answer (4xx, 5xx but a health answer) is an RFC 9457 problem:
      application/problem+json with type, title, status (the answer's),
      detail and a code of the Problem schema's enum, no internal name; a
      503 carries Retry-After.  Every JSON answer gives each instant
      <name>_ms an RFC 3339 sibling <name>_at that agrees with it, and no
      duration gets one.

Prints "ok ..." / "FAIL ..." lines; exits 1 on any failure."""
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml

METHODS = ("get", "post", "put", "delete", "patch")
fails = 0


def ok(msg):
    print("ok   " + msg)


def bad(msg):
    global fails
    fails += 1
    print("FAIL " + msg)


def load(root):
    return yaml.safe_load((Path(root) / "docs/openapi.yaml").read_text())


def static(root):
    doc = load(root)
    if str(doc.get("openapi", "")).startswith("3.1."):
        ok("openapi: %s" % doc["openapi"])
    else:
        bad("openapi is not 3.1.x: %r" % doc.get("openapi"))
    paths = doc.get("paths") or {}
    for p, item in paths.items():
        ops = [m for m in METHODS if m in item]
        daemons = item.get("x-egide-daemon") or []
        if not ops:
            bad("%s: no operation" % p)
        if not daemons or not set(daemons) <= {"edge", "broker"}:
            bad("%s: x-egide-daemon must list edge and/or broker" % p)
        for m in ops:
            if not item[m].get("responses"):
                bad("%s %s: no responses" % (m.upper(), p))
            for prm in item.get("parameters", []) + item[m].get("parameters", []):
                if prm.get("in") == "path" and "example" not in prm and "$ref" not in prm:
                    bad("%s: path parameter %s has no example (the live check needs one)"
                        % (p, prm.get("name")))
    # Every route literal of the dispatch code is documented.
    src = Path(root) / "src"
    files = sorted(list((src / "edge").glob("*.c")) + list((src / "broker").glob("*.c")) +
                   [src / "lib/audit/egide_auditapi.c"])
    cmp_re = re.compile(r'\bstrn?cmp\s*\(\s*([A-Za-z_>.\-]+(?:\s*\+\s*\w+)?)\s*,\s*"(/[^"]*)"')
    table_re = re.compile(r'^\s*\{\s*"(/[^"]*)"\s*,\s*"[^"]*"\s*,', re.M)
    found = set()
    for f in files:
        text = f.read_text()
        for subj, lit in cmp_re.findall(text):
            subj = subj.replace(" ", "")
            if subj in ("req->path", "p", "path"):
                found.add(("path", lit, f.name))
            elif subj.startswith("rest+") or subj.startswith("p+"):
                found.add(("suffix", lit, f.name))
        if f.name == "edge_web.c":
            for lit in table_re.findall(text):
                found.add(("path", lit, f.name))
    documented = list(paths)
    templ = [re.sub(r"\{[^}]+\}", "X", p) for p in documented]
    n = 0
    for kind, lit, fname in sorted(found):
        n += 1
        if kind == "suffix":
            hit = any(t.endswith(lit) for t in templ)
        elif lit.endswith("/"):
            hit = any(p.startswith(lit) and len(p) > len(lit) for p in documented)
        else:
            hit = lit in documented
        if hit:
            ok("route %s (%s, %s) is documented" % (lit, kind, fname))
        else:
            bad("route %s compared in %s is not in docs/openapi.yaml" % (lit, fname))
    if n < 15:
        bad("only %d route literals found in the dispatch code: the extraction broke" % n)
    # Errors are the Problem schema, served as application/problem+json.
    schemas = (doc.get("components") or {}).get("schemas") or {}
    prob = schemas.get("Problem") or {}
    if set(prob.get("required", [])) >= {"type", "title", "status", "detail", "code"} and \
            (prob.get("properties", {}).get("code") or {}).get("enum"):
        ok("Problem schema: required members and a code enum")
    else:
        bad("components.schemas.Problem lacks the RFC 9457 members or the code enum")
    err = ((doc.get("components") or {}).get("responses") or {}).get("Error") or {}
    if "application/problem+json" in (err.get("content") or {}):
        ok("the Error response is application/problem+json")
    else:
        bad("components.responses.Error is not application/problem+json")


def request(url, method, token, body=None):
    data = None
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def routing_404(status, body):
    """The daemons' answer for a path they do not route (as opposed to a
    404 about a resource: no such message, no checkpoint yet)."""
    if status != 404:
        return False
    try:
        p = json.loads(body)
        msg, code = p["detail"], p["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return code == "not-found" and (msg.startswith("no route") or
                                    msg in ("no such audit endpoint", "not found"))


# *_ms members that are durations, not instants (no *_at sibling); the
# daemons' list is s_durations in src/lib/net/egide_http.c.
DURATIONS = {"clock_skew_ms", "heartbeat_ms", "offset_ms", "retry_min_ms", "retry_max_ms",
             "lock_ms", "timeout_ms", "latency_ms", "age_ms", "elapsed_ms", "interval_ms"}
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
checked = {"problems": 0, "times": 0}


def rfc3339_ms(text):
    import datetime
    d = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    return round(d.timestamp() * 1000)


def time_pairs(obj, where, depth=0):
    """Every instant of obj has its *_at, equal to it; no duration has one."""
    if depth > 16:
        return
    if isinstance(obj, list):
        for v in obj:
            time_pairs(v, where, depth + 1)
        return
    if not isinstance(obj, dict):
        return
    for k, v in obj.items():
        if k == "payload":
            continue
        if isinstance(v, (dict, list)):
            time_pairs(v, where, depth + 1)
            continue
        if not k.endswith("_ms") or len(k) <= 3:
            continue
        at = k[:-3] + "_at"
        if k in DURATIONS:
            if at in obj:
                bad("%s: duration %s has %s" % (where, k, at))
            continue
        if isinstance(v, bool) or not (v is None or isinstance(v, int)):
            continue
        a = obj.get(at, "absent")
        if isinstance(v, int) and v > 0:
            if not isinstance(a, str) or not RFC3339_MS.match(a) or rfc3339_ms(a) != v:
                bad("%s: %s=%r but %s=%r" % (where, k, v, at, a))
            checked["times"] += 1
        elif a is not None:
            bad("%s: %s=%r but %s=%r (wanted null)" % (where, k, v, at, a))


def check_answer(doc, where, status, headers, body):
    """An error is an RFC 9457 problem of the documented codes; a JSON
    answer's times come in pairs."""
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    if status >= 400 and not where.endswith("/v1/health"):
        codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        try:
            p = json.loads(body)
        except ValueError:
            p = None
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        why = []
        if ctype != "application/problem+json":
            why.append("Content-Type %r" % ctype)
        if not isinstance(p, dict):
            why.append("not a JSON object")
        else:
            if p.get("code") not in codes:
                why.append("code %r not in the Problem enum" % p.get("code"))
            if p.get("type") != "https://egide.fr/problems/%s" % p.get("code"):
                why.append("type %r" % p.get("type"))
            if p.get("status") != status:
                why.append("status member %r" % p.get("status"))
            if not isinstance(p.get("title"), str) or not isinstance(p.get("detail"), str):
                why.append("title or detail missing")
            if "error" in p:
                why.append("the old \"error\" envelope")
        if "EGIDE_ERR_" in text or "REASON_" in text:
            why.append("an internal name")
        if status == 503 and "Retry-After" not in headers:
            why.append("503 without Retry-After")
        if why:
            bad("%s: %d is not a proper problem (%s): %s" % (where, status, "; ".join(why),
                                                             text[:160]))
        checked["problems"] += 1
    elif ctype == "application/json" and body:
        try:
            time_pairs(json.loads(body), where)
        except ValueError:
            bad("%s: %d application/json that does not parse" % (where, status))


def concrete(path, item, op):
    params = {p["name"]: p for p in item.get("parameters", []) + op.get("parameters", [])
              if "name" in p}
    def sub(m):
        return str(params.get(m.group(1), {}).get("example", "1"))
    url = re.sub(r"\{([^}]+)\}", sub, path)
    query = ["%s=%s" % (p["name"], p["example"]) for p in params.values()
             if p.get("in") == "query" and p.get("required") and "example" in p]
    return url + ("?" + "&".join(query) if query else "")


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def live(root, daemon, base, token):
    doc = load(root)
    n = 0
    for path, item in doc["paths"].items():
        if daemon not in item.get("x-egide-daemon", []):
            continue
        item = dict(item)
        item["parameters"] = [resolve(doc, p) for p in item.get("parameters", [])]
        ops = [m for m in METHODS if m in item]
        for m in ops:
            op = dict(item[m])
            op["parameters"] = [resolve(doc, p) for p in op.get("parameters", [])]
            url = concrete(path, item, op)
            body = {} if m in ("post", "put", "patch") else None
            st, hd, rb = request(base + url, m.upper(), token, body)
            check_answer(doc, "%s %s %s" % (daemon, m.upper(), url), st, hd, rb)
            n += 1
            if routing_404(st, rb) or st == 405:
                bad("%s %s %s: documented but answered %d %s" % (daemon, m.upper(), url, st,
                                                              rb[:120]))
            else:
                ok("%s %s %s answered (%d)" % (daemon, m.upper(), url, st))
        allowed = {m.upper() for m in ops}
        for m in METHODS:
            if m in ops:
                continue
            op = item[ops[0]]
            url = concrete(path, item, dict(op, parameters=[resolve(doc, p) for p in op.get("parameters", [])]))
            st, hd, rb = request(base + url, m.upper(), token, {} if m != "get" else None)
            check_answer(doc, "%s %s %s" % (daemon, m.upper(), url), st, hd, rb)
            allow = {a.strip() for a in hd.get("Allow", "").split(",") if a.strip()} - {"HEAD"}
            if st == 405 and allow == allowed:
                ok("%s %s %s: 405, Allow %s" % (daemon, m.upper(), url, hd.get("Allow")))
            else:
                bad("%s %s %s: wanted 405 with Allow %s, got %d Allow=%r %s"
                    % (daemon, m.upper(), url, ",".join(sorted(allowed)), st, hd.get("Allow"),
                       rb[:100]))
    for p in ("/v1/nope", "/v1/audit/nope" if daemon == "broker" else "/v1/messages/" + "0" * 32 + "/nope",
              "/metricsx"):
        st, hd, rb = request(base + p, "GET", token)
        check_answer(doc, "%s GET %s" % (daemon, p), st, hd, rb)
        if routing_404(st, rb):
            ok("%s GET %s (undocumented): routing 404" % (daemon, p))
        else:
            bad("%s GET %s (undocumented): wanted the routing 404, got %d %s" % (daemon, p, st,
                                                                                 rb[:100]))
    # Without a token: a 401 problem.
    st, hd, rb = request(base + "/v1/nope", "GET", "wrong-token")
    check_answer(doc, "%s GET /v1/nope (wrong token)" % daemon, st, hd, rb)
    if st == 401 and json.loads(rb or b"{}").get("code") == "unauthenticated":
        ok("%s: a wrong token gets the unauthenticated problem" % daemon)
    else:
        bad("%s: a wrong token got %d %s" % (daemon, st, rb[:100]))
    if n == 0:
        bad("no documented operation for %s" % daemon)
    if checked["problems"] < 5:
        bad("only %d error answers checked as problems" % checked["problems"])
    else:
        ok("%s: %d error answers are RFC 9457 problems" % (daemon, checked["problems"]))
    if daemon == "edge" and checked["times"] < 1:
        bad("no *_ms instant found in the edge's answers: the time check saw nothing")
    else:
        ok("%s: %d *_ms instants have an agreeing *_at" % (daemon, checked["times"]))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "static":
        static(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "live":
        live(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    sys.exit(1 if fails else 0)
