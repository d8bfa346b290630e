#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# memscan.py PID NAME=HEX... - search a live process's memory for byte
# strings: every readable mapping of /proc/PID/maps is read through
# /proc/PID/mem (root, or the process's parent chain) in bounded chunks that
# overlap by the longest needle, so a match across a chunk boundary is seen.
# A mapping larger than MAX_REGION is not read but counted in "skipped"
# (only sanitizer builds have such: AddressSanitizer's terabytes of shadow,
# metadata, no data; the caller decides whether a skip is acceptable).
# Prints one JSON object: {"pid", "regions", "bytes", "unreadable",
# "skipped", "sanitized", "found": {NAME: count}}.  Exit 0, or 2 when the
# process cannot be read at all (then no verdict can be drawn from "not
# found").
import json
import re
import sys

CHUNK = 8 << 20
MAX_REGION = 4 << 30


def scan(pid, needles):
    found = {k: 0 for k in needles}
    longest = max(len(v) for v in needles.values())
    total = regions = unreadable = skipped = 0
    sanitized = False
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or line.rstrip().endswith("[vsyscall]"):
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            sanitized = sanitized or "libasan" in line
            regions += 1
            if end - start > MAX_REGION:
                skipped += 1
                continue
            tail = b""
            pos = start
            while pos < end:
                n = min(CHUNK, end - pos)
                try:
                    mem.seek(pos)
                    data = mem.read(n)
                except (OSError, ValueError, OverflowError):
                    unreadable += 1
                    break
                if not data:
                    break
                total += len(data)
                buf = tail + data
                for k, v in needles.items():
                    found[k] += buf.count(v) - tail.count(v)
                tail = buf[-(longest - 1):] if longest > 1 else b""
                pos += len(data)
    return {"pid": pid, "regions": regions, "bytes": total, "unreadable": unreadable,
            "skipped": skipped, "sanitized": sanitized, "found": found}


def main():
    pid = int(sys.argv[1])
    needles = {}
    for arg in sys.argv[2:]:
        name, hexval = arg.split("=", 1)
        needles[name] = bytes.fromhex(hexval)
    r = scan(pid, needles)
    print(json.dumps(r))
    sys.exit(0 if r["bytes"] > 0 else 2)


if __name__ == "__main__":
    main()
