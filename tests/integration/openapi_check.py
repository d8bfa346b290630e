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
      (HEAD aside); undocumented paths get the routing 404.

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
        msg = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return True
    return msg.startswith("no route") or msg in ("no such audit endpoint", "not found")


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
            st, _, rb = request(base + url, m.upper(), token, body)
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
            allow = {a.strip() for a in hd.get("Allow", "").split(",") if a.strip()} - {"HEAD"}
            if st == 405 and allow == allowed:
                ok("%s %s %s: 405, Allow %s" % (daemon, m.upper(), url, hd.get("Allow")))
            else:
                bad("%s %s %s: wanted 405 with Allow %s, got %d Allow=%r %s"
                    % (daemon, m.upper(), url, ",".join(sorted(allowed)), st, hd.get("Allow"),
                       rb[:100]))
    for p in ("/v1/nope", "/v1/audit/nope" if daemon == "broker" else "/v1/messages/" + "0" * 32 + "/nope",
              "/metricsx"):
        st, _, rb = request(base + p, "GET", token)
        if routing_404(st, rb):
            ok("%s GET %s (undocumented): routing 404" % (daemon, p))
        else:
            bad("%s GET %s (undocumented): wanted the routing 404, got %d %s" % (daemon, p, st,
                                                                                 rb[:100]))
    if n == 0:
        bad("no documented operation for %s" % daemon)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "static":
        static(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "live":
        live(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    sys.exit(1 if fails else 0)
