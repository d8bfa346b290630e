#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# check_layers.sh - the layering rules that the linker cannot see:
#   - no sqlite3_ or libpq PQ* call outside the store files (src/lib/store/,
#     and the daemons' own store backends src/{broker,edge}/*_store*.c);
#   - no zmq_ call outside the net layer (src/lib/net/);
#   - no sqlite3_step() whose result is thrown away, anywhere in src/;
#   - no include cycle between the library's files.
# (A call up a layer is caught by the link of egide_<layer>_check.)
# Prints every violation as file:line and exits 1 if there is one.
set -uo pipefail
cd "${EGIDE_SOURCE_DIR:-$(dirname "$0")/../..}"
fail=0
say() { echo "check_layers: $*"; fail=1; }

is_store() { case "$1" in src/lib/store/*|src/broker/broker_store*.c|src/edge/edge_store*.c) return 0;; esac; return 1; }

while IFS= read -r f; do
  is_store "$f" && continue
  while IFS= read -r hit; do say "$f:$hit: sqlite3_ call outside a store file"; done < <(
    grep -n 'sqlite3_[a-z_]*\s*(' "$f" | cut -d: -f1)
  while IFS= read -r hit; do say "$f:$hit: libpq PQ call outside a store file"; done < <(
    grep -nE '\bPQ[a-z][A-Za-z]*\s*\(|\bPGresult\b|\bPGconn\b' "$f" | cut -d: -f1)
done < <(git ls-files 'src/*.c' 'src/*.h')

while IFS= read -r f; do
  case "$f" in src/lib/net/*) continue;; esac
  while IFS= read -r hit; do say "$f:$hit: zmq_ call outside the net layer"; done < <(
    grep -n '\bzmq_[a-z_0-9]*\s*(\|zmq_msg_t\|zmq_pollitem_t' "$f" | cut -d: -f1)
done < <(git ls-files 'src/*.c' 'src/*.h')

# A step whose value is not used: the statement starts with sqlite3_step(
# (optionally cast to void).
while IFS= read -r hit; do say "$hit: sqlite3_step() result ignored"; done < <(
  git ls-files 'src/*.c' | xargs grep -nE '^\s*(\(void\)\s*)?sqlite3_step\s*\(' 2>/dev/null | cut -d: -f1,2)

# Include cycles among library headers and sources (by file stem: a.c/a.h
# including b.h while b.c/b.h includes a.h).
declare -A inc
while IFS= read -r f; do
  stem=$(basename "$f"); stem=${stem%.*}
  for h in $(grep -o '#include "egide/[a-z]*/egide_[a-z_]*\.h"' "$f" | sed 's#.*/\(egide_[a-z_]*\)\.h"#\1#'); do
    [ "$h" = "$stem" ] || inc["$stem $h"]=1
  done
done < <(git ls-files 'src/lib/*.c' 'include/egide/*.h')
for k in "${!inc[@]}"; do
  set -- $k
  if [ -n "${inc["$2 $1"]:-}" ] && [[ "$1" < "$2" ]]; then say "include cycle: $1 <-> $2"; fi
done
# The daemons: a file including another daemon file's header is fine, but no
# .c of a daemon may include another .c, and main must not be included.
while IFS= read -r hit; do say "$hit: a .c file is included"; done < <(
  git ls-files 'src/*.c' | xargs grep -n '#include "[^"]*\.c"' 2>/dev/null | cut -d: -f1,2)

if [ $fail -eq 0 ]; then echo "check_layers: clean"; echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
