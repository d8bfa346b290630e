#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""pty_run.py - run a command with its stderr on a new pseudo-terminal.

    pty_run.py STDOUT_FILE TTY_FILE COMMAND [ARG...]

stdout goes to STDOUT_FILE, stdin is /dev/null, and what the command draws
on the terminal (its stderr) is written to TTY_FILE byte for byte.  Exits
with the command's status (124 if it had to be killed after 120 s), so a
test compares a command's output and status on a terminal and off one.
"""
import os
import pty
import select
import subprocess
import sys
import time

out_path, tty_path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
master, slave = pty.openpty()
with open(out_path, "wb") as out, open(os.devnull, "rb") as null:
    proc = subprocess.Popen(cmd, stdin=null, stdout=out, stderr=slave, start_new_session=True)
os.close(slave)
got = bytearray()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    r, _, _ = select.select([master], [], [], 0.1)
    if not r:
        if proc.poll() is not None and not select.select([master], [], [], 0)[0]:
            break
        continue
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the other side closed
        break
    if not chunk:
        break
    got += chunk
status = None
try:
    status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
except subprocess.TimeoutExpired:
    proc.kill()  # the one this script started
    proc.wait()
    status = 124
os.close(master)
with open(tty_path, "wb") as f:
    f.write(bytes(got))
sys.exit(status if status >= 0 else 128 - status)
