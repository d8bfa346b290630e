#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_http_abuse.sh - the edge's REST API and the broker's audit API under
# abuse (issue 13, item 7), against the real daemons with their default HTTP
# settings: 200 slow, unauthenticated connections sending their headers one
# byte at a time (a slowloris, all from 127.0.0.1) do not lock a legitimate
# client out (8 answers of 8, also while they stall), the server serves at
# once when they are gone, a connection trickling its headers is closed at
# the header deadline, and malformed requests (about 500 query parameters, a
# garbage request line, a chunk size of 2^64-1, oversized headers) are
# answered, or closed, well before the 30 s idle timeout.
. "$(dirname "$0")/common.sh"

el_setup || exit 1
el_start_broker || exit 1
el_start_edge 71.crip || exit 1

# The abuse client: python3, loopback only, every loop bounded in count and time.
cat >"$EL_DIR/abuse.py" <<'PY'
import os, socket, sys, time

def connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s

def slowloris(port, n, statefile, max_s):
    """n connections, one header byte each every 0.1 s; reopen what the
    server closes; write how many are open to statefile; at most max_s."""
    line = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    socks, pos = [None] * n, [0] * n
    end = time.monotonic() + max_s
    reopened = 0
    while time.monotonic() < end:
        for i in range(n):
            if socks[i] is None:
                try:
                    socks[i] = connect(port, 0.5)
                    socks[i].setblocking(False)
                    pos[i] = 0
                    reopened += 1
                except OSError:
                    continue
            b = line[pos[i]:pos[i] + 1] or b"a"
            try:
                try:
                    if socks[i].recv(64) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    pass
                socks[i].send(b)
                pos[i] += 1
            except OSError:
                socks[i].close()
                socks[i] = None
        with open(statefile + ".tmp", "w") as f:
            f.write("%d %d\n" % (sum(s is not None for s in socks), reopened - n))
        os.replace(statefile + ".tmp", statefile)
        time.sleep(0.1)

def trickle(port, max_s):
    """One connection, a header byte every 0.2 s: print after how many
    seconds the server closed it, or 'open' after max_s."""
    s = connect(port)
    s.setblocking(False)
    t0 = time.monotonic()
    line = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
    i = 0
    while time.monotonic() - t0 < max_s:
        try:
            try:
                if s.recv(64) == b"":
                    raise OSError("closed")
            except BlockingIOError:
                pass
            s.send(line[i:i + 1] or b"a")
        except OSError:
            print("closed %.1f" % (time.monotonic() - t0))
            return
        i += 1
        time.sleep(0.2)
    print("open")

def answer(port, data, wait_s):
    """Send data; print the status, 'closed' (closed without an answer) or
    'none' (nothing within wait_s), and the Content-Type."""
    s = connect(port)
    s.settimeout(0.5)
    try:
        s.sendall(data)
    except OSError:
        pass
    got = b""
    end = time.monotonic() + wait_s
    closed = False
    while time.monotonic() < end and b"\r\n\r\n" not in got:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not b:
            closed = True
            break
        got += b
    s.close()
    if got.startswith(b"HTTP/1."):
        ctype = ""
        for h in got.split(b"\r\n"):
            if h.lower().startswith(b"content-type:"):
                ctype = h.split(b":", 1)[1].strip().decode()
        return got.split(b" ")[1].decode(), ctype
    return ("closed" if closed else "none"), ""

def malformed(port, token, wait_s):
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    q = b"&".join(b"p%d=%d" % (i, i) for i in range(500))
    cases = [
        ("params500", b"GET /v1/health?" + q + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("params500auth", b"GET /v1/messages?" + q + b" HTTP/1.1\r\nHost: x\r\n" + auth +
         b"Connection: close\r\n\r\n"),
        ("garbage", b"GARBAGE\r\n\r\n"),
        ("garbage_target", b"GET /v1/\x01health HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("garbage_header", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad(name): 1\r\n\r\n"),
        ("nohost", b"GET /v1/health HTTP/1.1\r\n\r\n"),
        ("chunk2e64", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n" + auth +
         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"ffffffffffffffff\r\nabc"),
        ("cl_te", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n" + auth +
         b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ("headers431", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" +
         b"".join(b"X-Filler-%d: 0123456789abcdef\r\n" % i for i in range(3000)) + b"\r\n"),
        ("version", b"GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n"),
    ]
    for name, data in cases:
        st, ctype = answer(port, data, wait_s)
        print(name, st, ctype or "-")

mode = sys.argv[1]
if mode == "slowloris":
    slowloris(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
elif mode == "trickle":
    trickle(int(sys.argv[2]), float(sys.argv[3]))
elif mode == "malformed":
    malformed(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
PY

# legit PORT TOKENFILE: 8 requests (5 s each at most) a client sends at
# once; prints how many got their 200.
legit() {
    local port="$1" tok n=0 i
    tok=$(cat "$2")
    for ((i = 0; i < 8; i++)); do
        curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $tok" \
            "http://127.0.0.1:$port/v1/health" 2>/dev/null && n=$((n + 1))
        sleep 0.2
    done
    echo "$n"
}

# slow_open STATEFILE: the attacker's open connection count (0 if none yet).
slow_open() { [ -f "$1" ] && cut -d' ' -f1 "$1" || echo 0; }

abuse_api() { # NAME PORT TOKENFILE
    local name="$1" port="$2" tokf="$3" state="$EL_DIR/slow.$1" pid got i out
    python3 "$EL_DIR/abuse.py" slowloris "$port" 200 "$state" 90 &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        [ "$(slow_open "$state")" -ge 200 ] && break
        sleep 0.1
    done
    check "$name: 200 slow connections opened" [ "$(slow_open "$state")" -ge 200 ]
    sleep 1
    got=$(legit "$port" "$tokf")
    echo "     $name: legitimate client got $got of 8 with $(slow_open "$state") slow connections open"
    check "$name: 8 of 8 answers while 200 slow connections are open" [ "$got" = 8 ]
    # The attacker stalls with its connections open: still served.
    kill -STOP "$pid"
    got=$(legit "$port" "$tokf")
    check "$name: 8 of 8 answers while the slow connections stall" [ "$got" = 8 ]
    kill -CONT "$pid"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    # Released: served at once (one try, 5 s at most).
    check "$name: served at once after the slow connections are released" \
        curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/v1/health"

    out=$(python3 "$EL_DIR/abuse.py" trickle "$port" 25)
    echo "     $name: trickling connection: $out"
    check "$name: a connection trickling its headers is closed at the header deadline" \
        [ "${out%% *}" = closed ]

    out=$(python3 "$EL_DIR/abuse.py" malformed "$port" "$(cat "$tokf")" 15)
    echo "$out" | sed "s/^/     $name: /"
    # is CASE STATUS...: the case got one of these statuses; json CASE: as JSON.
    is() {
        local c="$1" s w
        s=$(echo "$out" | awk -v c="$c" '$1 == c { print $2 }')
        shift
        for w in "$@"; do [ "$s" = "$w" ] && return 0; done
        return 1
    }
    # json CASE: the refusal is an RFC 9457 problem (application/problem+json).
    json() { [ "$(echo "$out" | awk -v c="$1" '$1 == c { print $3 }')" = application/problem+json ]; }
    check "$name: ~500 query parameters on a public path: 200" is params500 200
    check "$name: ~500 query parameters on an authenticated path: answered" \
        is params500auth 200 400 404
    check "$name: a garbage request line: refused at once" is garbage 400 closed
    check "$name: a control character in the target: 400" is garbage_target 400
    check "$name: ... with a problem+json error" json garbage_target
    check "$name: a malformed header name: 400" is garbage_header 400
    check "$name: ... with a problem+json error" json garbage_header
    check "$name: HTTP/1.1 without Host: 400" is nohost 400
    check "$name: a chunk size of 2^64-1: 411" is chunk2e64 411
    check "$name: ... with a problem+json error" json chunk2e64
    check "$name: Content-Length with Transfer-Encoding: 400" is cl_te 400
    check "$name: oversized headers: 431" is headers431 431
    check "$name: HTTP/9.9: 505" is version 505
    check "$name: still serving" curl -fsS -o /dev/null --max-time 5 \
        "http://127.0.0.1:$port/v1/health"
}

abuse_api edge "${EL_PORT[71.crip]}" "$EL_DIR/state/71.crip/api.token"
abuse_api broker "$EL_BROKER_API_PORT" "$EL_DIR/state/broker/api.token"
check "the edge is still connected to the broker" el_wait_until 50 t_connected 71.crip
t_done
