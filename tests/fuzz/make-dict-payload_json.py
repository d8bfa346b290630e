#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# make-dict-payload_json.py - (re)make tests/fuzz/payload_json.dict, the
# libFuzzer dictionary campaign.sh gives fuzz_payload_json: the "type=" lines
# of the catalogue types, the JSON keys (proto field names) and the JSON enum
# values (value name without the enum prefix, lower case) of
# proto/referral.proto, and JSON tokens.
#
#   tests/fuzz/make-dict-payload_json.py
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
header = open(os.path.join(root, "include/egide/domain/egide_catalogue.h")).read()
proto = open(os.path.join(root, "proto/referral.proto")).read()
proto = re.sub(r"//[^\n]*", "", proto)

types = re.findall(r'#define EGIDE_TYPE_[A-Z_]+\s+"([a-z_.]+)"', header)
keys = set(re.findall(r"^\s*(?:repeated\s+|optional\s+)?[A-Za-z0-9_.]+\s+([a-z][a-z0-9_]*)\s*=\s*\d+\s*;",
                      proto, re.M))
values = set()
for name, body in re.findall(r"enum\s+(\w+)\s*\{([^}]*)\}", proto):
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() + "_"
    for v in re.findall(r"([A-Z][A-Z0-9_]*)\s*=", body):
        if v.startswith(prefix) and not v.endswith("_UNSPECIFIED"):
            values.add(v[len(prefix):].lower())


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


lines = ["# libFuzzer dictionary for fuzz_payload_json, made by make-dict-payload_json.py"]
lines += [q("type=%s" % t)[:-1] + "\\x0A\"" for t in types]
lines += [q('"%s":' % k) for k in sorted(keys)]
lines += [q('"%s"' % v) for v in sorted(values - keys)]
lines += [q(t) for t in ("true", "false", "null", "{}", "[]", '""', "\\u0000", "1e308", "-0",
                         "2026-11-22T10:00:00Z", "2026-11-22", "+02:00")]
out = os.path.join(here, "payload_json.dict")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print("%s: %d entries" % (out, len(lines) - 1))
