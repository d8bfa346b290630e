#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_sd_notify.sh - the daemons speak systemd's notify protocol (the units
# are Type=notify): a listener on $NOTIFY_SOCKET, as systemd would hold it,
# must see READY=1 from the broker once its API answers, RELOADING=1 then
# READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM; the same from an
# edge.  Without these a Type=notify unit times out.
# Also run by tests/packaging/test_packages.sh on the installed binaries
# (EGIDE_BIN = a directory of links to /usr/bin/egide and /usr/sbin/egide-*).
T_TIMEOUT=180 # read by common.sh's watchdog
. "$(dirname "$0")/common.sh"

# notify_listen NAME: a Unix datagram socket $EL_DIR/NAME.sock whose
# messages are appended, one per line, to $EL_DIR/NAME.notify.
notify_listen() {
    python3 - "$EL_DIR/$1.sock" "$EL_DIR/$1.notify" <<'PY' &
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(1.0)
end = time.monotonic() + 170  # bounded: never outlives the test
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        for line in d.decode("utf-8", "replace").split("\n"):
            if line:
                f.write(line + "\n")
PY
    EL_PID[listen-$1]=$!
    el_wait_until 50 test -S "$EL_DIR/$1.sock"
}
# saw NAME STATE [COUNT]: the listener got STATE at least COUNT times (1).
saw() { [ "$(grep -cx "$2" "$EL_DIR/$1.notify" 2>/dev/null)" -ge "${3:-1}" ]; }

el_setup || { bad "setup"; t_done; }
notify_listen broker
notify_listen edge
check "listeners up" test -S "$EL_DIR/broker.sock" -a -S "$EL_DIR/edge.sock"

# Only the daemons get NOTIFY_SOCKET (bash exports a prefix assignment to
# what the function runs).
NOTIFY_SOCKET="$EL_DIR/broker.sock" el_start_broker || bad "broker start"
check "broker: READY=1 once serving" el_wait_until 50 saw broker READY=1
check "broker: nothing but READY=1 before a reload" test "$(sort -u "$EL_DIR/broker.notify")" = READY=1

kill -HUP "${EL_PID[broker]}"
check "broker: RELOADING=1 on SIGHUP" el_wait_until 50 saw broker RELOADING=1
check "broker: READY=1 again after the reload" el_wait_until 50 saw broker READY=1 2
check "broker: RELOADING=1 comes before the second READY=1" \
    test "$(grep -x 'READY=1\|RELOADING=1' "$EL_DIR/broker.notify" | tr '\n' ' ')" = "READY=1 RELOADING=1 READY=1 "

NOTIFY_SOCKET="$EL_DIR/edge.sock" el_start_edge 71.crip || bad "edge start"
check "edge: READY=1 once serving" el_wait_until 50 saw edge READY=1
check "edge: the broker's socket got nothing from the edge" test "$(grep -c . "$EL_DIR/broker.notify")" -eq 3
kill -HUP "${EL_PID[71.crip]}"
check "edge: RELOADING=1 on SIGHUP" el_wait_until 50 saw edge RELOADING=1
check "edge: READY=1 again after the reload" el_wait_until 50 saw edge READY=1 2
check "edge: RELOADING=1 comes before the second READY=1" \
    test "$(grep -x 'READY=1\|RELOADING=1' "$EL_DIR/edge.notify" | tr '\n' ' ')" = "READY=1 RELOADING=1 READY=1 "

el_stop 71.crip
check "edge: STOPPING=1 on SIGTERM" el_wait_until 25 saw edge STOPPING=1
el_stop broker
check "broker: STOPPING=1 on SIGTERM" el_wait_until 25 saw broker STOPPING=1

# Without NOTIFY_SOCKET (not under systemd) the daemons start as before.
el_start_edge 71.crip && ok "edge starts without NOTIFY_SOCKET" || bad "edge without NOTIFY_SOCKET"
t_done
