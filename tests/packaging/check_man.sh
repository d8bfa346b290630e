#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# check_man.sh - the manual pages against the programs (ctest lint.man):
# every configuration key the daemons accept (--print-config) is described
# in egide.ini(5) under its daemon's section, every option of every `egide`
# command (--help) in egide(1), every daemon option in its page, and each
# page renders without a groff warning.  So a key or an option added to a
# table without its documentation fails the build's tests.
set -uo pipefail
: "${EGIDE_BIN:?EGIDE_BIN must point at the build directory}"
: "${EGIDE_SOURCE_DIR:?EGIDE_SOURCE_DIR must point at the source tree}"
man_dir="$EGIDE_SOURCE_DIR/docs/man"
fail=0
bad() { echo "FAIL $*"; fail=1; }

# The roff of the page section whose .SH line matches $2 (up to the next .SH).
section() { awk -v h="$2" '/^\.SH /{on = index($0, h) > 0; next} on' "$1"; }

for d in broker edge; do
    body=$(section "$man_dir/egide.ini.5" "THE ${d^^}")
    [ -n "$body" ] || bad "egide.ini.5: no section THE ${d^^}"
    sec=""
    n=0
    while IFS= read -r line; do
        if [[ $line =~ ^\[([a-z_]+)\]$ ]]; then
            sec=${BASH_REMATCH[1]}
        elif [[ $line =~ ^\;?([a-z_]+)\ = ]]; then
            key=${BASH_REMATCH[1]}
            n=$((n + 1))
            # The key must be in its [section] subsection: ".BR key " after ".SS [sec]".
            if ! printf '%s\n' "$body" | awk -v s=".SS [$sec]" -v k=".BR $key " \
                '$0 == s {on = 1; next} /^\.SS /{on = 0} on && index($0, k) == 1 {found = 1} END {exit !found}'; then
                bad "egide.ini.5: [$sec] $key of egide-$d is not described"
            fi
        fi
    done < <("$EGIDE_BIN/egide-$d" --print-config)
    [ "$n" -ge 20 ] || bad "egide-$d --print-config printed only $n keys"
    for o in config check verbose print-config help version; do
        grep -qF -- "\\-\\-${o//-/\\-}" "$man_dir/egide-$d.8" || bad "egide-$d.8: --$o not described"
    done
done

# Every option of every command and subcommand of `egide`.
cmds=(send inbox outbox show ack status deadlines search cases validate "export olinpe" seal open
      "user add" "user disable" "user enable" "user list" "user passwd"
      "pki curve-keygen" "pki fingerprint" "pki verify" "directory build" "directory show"
      "directory verify" "directory route" "audit checkpoint" "audit prove"
      "audit consistency" "audit export" "audit verify" "audit history")
nopt=0
for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086  # the subcommand is two words on purpose
    help=$("$EGIDE_BIN/egide" $c --help 2>&1) || { bad "egide $c --help failed"; continue; }
    for o in $(printf '%s\n' "$help" | grep -oE '^  --[a-z0-9-]+' | sort -u); do
        nopt=$((nopt + 1))
        grep -qF -- "${o//-/\\-}" "$man_dir/egide.1" || bad "egide.1: egide $c $o not described"
    done
    grep -qF "egide ${c//-/\\-}" "$man_dir/egide.1" ||
        bad "egide.1: command 'egide $c' not described"
done
[ "$nopt" -ge 60 ] || bad "only $nopt options found in egide --help (parsing broke?)"

for p in "$man_dir"/*.[158]; do
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
    [ -z "$w" ] || bad "$(basename "$p"): $w"
done
[ "$fail" -eq 0 ] && echo "man pages: every key and option described"
exit "$fail"
