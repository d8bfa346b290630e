#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""load.py URL TOKEN_FILE COUNT OUT_IDS [BODY_FILE] - submit COUNT messages to
an edge's REST API over one keep-alive connection, appending the id of every
202 answer to OUT_IDS (one per line, flushed).  A refused connection (edge
restarting) is retried for the same message, bounded: 600 tries 0.1 s apart.
Exit 0 when every message got a 202."""
import http.client, json, sys, time, urllib.parse

url, token_file, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = open(sys.argv[5], "rb").read() if len(sys.argv) > 5 else None
u = urllib.parse.urlparse(url)
token = open(token_file).read().strip()
hdrs = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
conn = None
with open(out, "a") as f:
    for i in range(count):
        for attempt in range(600):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                conn.request("POST", "/v1/messages", body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                if r.status == 202:
                    f.write(json.loads(data)["id"] + "\n")
                    f.flush()
                    break
                if r.status >= 500 or r.status == 503:
                    time.sleep(0.1)
                    continue
                print("load: HTTP %d: %s" % (r.status, data[:300]), file=sys.stderr)
                sys.exit(1)
            except (OSError, http.client.HTTPException):
                conn = None
                time.sleep(0.1)
        else:
            print("load: gave up on message %d" % i, file=sys.stderr)
            sys.exit(1)
