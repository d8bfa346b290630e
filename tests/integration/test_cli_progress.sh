#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_cli_progress.sh - `egide backup` and `egide directory build` show
# their progress on a terminal (a line redrawn with \r, erased at the end)
# and never when stderr is a file or a pipe; stdout and the exit status are
# the same either way.  The terminal is a pseudo-terminal (pty_run.py); the
# database (5000 rows, made now) and the PKI and directory of deploy/71 are
# made at run time.  `egide audit export` and `verify` are tested the same
# way in tests/unit/test_auditcli.c.
T_TIMEOUT=300 # read by common.sh's watchdog
. "$(dirname "$0")/common.sh"

SRC="${EGIDE_SOURCE_DIR:?}"
EGIDE="$EGIDE_BIN/egide"
PTY="$(dirname "$0")/pty_run.py"
T="$EL_DIR/progress"
mkdir -p "$T"

# shown TTYFILE LABEL UNIT: the terminal got "\regide LABEL: N of M UNIT (P%)"
# and the last thing drawn erased it ("\r", blanks, "\r").
shown() {
    python3 - "$@" <<'PY'
import re, sys
tty = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
label, unit = sys.argv[2], sys.argv[3]
line = re.search(r"\regide " + re.escape(label) + r": \d+ of \d+ " + unit + r" \(\d+%\)", tty)
erased = re.search(r"\r( +)\r$", tty)
ok = bool(line) and bool(erased) and len(erased.group(1)) >= len(line.group(0)) - 1
if not ok:
    print("terminal got %r" % tty[-400:], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
# clean FILE: no progress in it (no \r, no "(N%)").
clean() { ! grep -q $'\r' "$1" && ! grep -qE '\([0-9]+%\)' "$1"; }

# ---- egide backup of a database of a few thousand rows
python3 - "$T/big.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
db.executemany("INSERT INTO t (v) VALUES (?)", ((bytes([i % 251]) * 512,) for i in range(5000)))
db.commit()
PY
"$EGIDE" backup --db "$T/big.sqlite" --out "$T/b1.sqlite" >"$T/b1.out" 2>"$T/b1.err"
check "backup, stderr a file: exit 0" [ $? -eq 0 ]
check "backup, stderr a file: stdout says the copy" grep -q "a consistent copy of $T/big.sqlite" "$T/b1.out"
check "backup, stderr a file: stderr empty" test ! -s "$T/b1.err"
"$EGIDE" backup --db "$T/big.sqlite" --out "$T/b3.sqlite" 2>&1 | cat >"$T/b3.both"
check "backup, stderr a pipe: no progress" clean "$T/b3.both"
python3 "$PTY" "$T/b2.out" "$T/b2.tty" "$EGIDE" backup --db "$T/big.sqlite" --out "$T/b2.sqlite"
check "backup on a terminal: exit 0" [ $? -eq 0 ]
check "backup on a terminal: progress shown, then erased" shown "$T/b2.tty" backup pages
check "backup on a terminal: the same stdout" \
    test "$(sed "s|b2.sqlite|b1.sqlite|" "$T/b2.out")" = "$(cat "$T/b1.out")"
check "backup on a terminal: a good copy" cmp -s <(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*), sum(length(v)) from t').fetchone())" "$T/b2.sqlite") \
    <(echo "(5000, 2560000)")
# A refusal (the copy exists) has the same status and message on a terminal.
"$EGIDE" backup --db "$T/big.sqlite" --out "$T/b1.sqlite" >/dev/null 2>"$T/b4.err"
RC1=$?
python3 "$PTY" "$T/b5.out" "$T/b5.tty" "$EGIDE" backup --db "$T/big.sqlite" --out "$T/b1.sqlite"
RC2=$?
check "backup refused: same status on and off a terminal" [ $RC1 -ne 0 -a $RC1 -eq $RC2 ]
check "backup refused: same message on a terminal" grep -qF "$(cat "$T/b4.err")" <(tr -d '\r' <"$T/b5.tty")

# ---- egide directory build (deploy/71: its PKI made now)
D71="$T/71"
EGIDE="$EGIDE" "$SRC/deploy/71/make-directory.sh" "$D71" --endpoint tcp://127.0.0.1:17790 >"$T/make71.log" 2>&1
check "make 71" [ -f "$D71/directory.bin" ]
build() { # OUT: the build make-directory.sh does, to OUT
    "$EGIDE" directory build --nodes "$SRC/deploy/71/nodes.ini" --pki "$D71" \
        --routes "$SRC/deploy/71/routes.csv" --communes "$SRC/deploy/71/communes.csv" \
        --rules "$SRC/deploy/71/rules.ini" --authority-key "$D71/authority/authority.key" \
        --authority-cert "$D71/authority/authority.crt" --department 71 --jurisdiction fr-casf \
        --version 2 --broker-endpoint tcp://127.0.0.1:17790 --out "$1"
}
export -f build
export SRC D71 EGIDE
build "$T/d1.bin" >"$T/d1.out" 2>"$T/d1.err"
check "directory build, stderr a file: exit 0" [ $? -eq 0 ]
check "directory build, stderr a file: stderr empty" test ! -s "$T/d1.err"
python3 "$PTY" "$T/d2.out" "$T/d2.tty" bash -c 'build "$0"' "$T/d2.bin"
check "directory build on a terminal: exit 0" [ $? -eq 0 ]
check "directory build on a terminal: progress shown, then erased" shown "$T/d2.tty" "directory build" nodes
check "directory build on a terminal: the same stdout" \
    test "$(sed "s|d2.bin|d1.bin|" "$T/d2.out")" = "$(cat "$T/d1.out")"
check "directory build on a terminal: the directory verifies" \
    "$EGIDE" directory verify "$T/d2.bin" --anchor "$D71/authority/authority.crt"
t_done
