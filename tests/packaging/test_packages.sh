#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_packages.sh - the Debian packages, built and installed for real (run
# by tests/run-all.sh after the plain ctest pass; not a ctest: it installs
# system packages).  Steps, each bounded:
#   1. dpkg-buildpackage -us -uc -b on a copy of the tree (the sources stay
#      clean), in a temporary directory;
#   2. lintian on the .debs: every tag must be listed, with its reason, in
#      tests/packaging/lintian-expected.txt (and docs/packaging.md);
#   3. apt-get install -y ./egide_*.deb ./egide-broker_*.deb ./egide-edge_*.deb;
#   4. the installed layout: binaries, profiles, man pages, conffiles, the
#      egide user (sysusers.d) and its directories with their modes
#      (tmpfiles.d); `egide-broker -n` / `egide-edge -n` on the installed
#      example configuration (first naming the keys not installed, then
#      passing once a development PKI is copied to its paths, and a broken
#      copy refused); the installed
#      `egide deadlines` finds its profile; systemd-analyze verify on the
#      units; test_sd_notify.sh on the installed binaries (a throwaway PKI
#      and directory made with the installed `egide`).
#
# Installing packages changes the machine: this runs only with CI=true (CI's
# machine is disposable) or --install; otherwise it says so and exits 0.
#   tests/packaging/test_packages.sh [--install] [--keep]   (--keep: keep the .debs)
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
install=false
keep=false
for a in "$@"; do
    case "$a" in
    --install) install=true ;;
    --keep) keep=true ;;
    *) echo "test_packages.sh: unknown option $a" >&2; exit 2 ;;
    esac
done
[ "${CI:-}" = true ] && install=true
if ! $install; then
    echo "packaging: skipped (installs packages on this machine: set CI=true or pass --install)"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

./deploy/install-deps.sh --packaging

work=$(mktemp -d /tmp/egide-packages.XXXXXX)
cleanup() { $keep || rm -rf "$work"; }
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() {
    local d="$1"
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}

echo "== packaging: dpkg-buildpackage (copy of the tree in $work)"
tree="$work/egide-0.1.0"
mkdir -p "$tree"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    # What is committed or staged, plus untracked files not ignored.
    git -C "$SRC" ls-files -z --cached --others --exclude-standard |
        (cd "$SRC" && xargs -0 cp --parents -t "$tree" 2>/dev/null) || true
else
    tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tree" -xf -
fi
test -f "$tree/debian/control" || { echo "packaging: the copy has no debian/" >&2; exit 1; }
before=$(git -C "$SRC" status --porcelain 2>/dev/null | md5sum || true)
if ! (cd "$tree" && timeout 1200 nice dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
    tail -40 "$work/build.log"
    echo "packaging: dpkg-buildpackage failed" >&2
    exit 1
fi
ok "dpkg-buildpackage -us -uc -b"
after=$(git -C "$SRC" status --porcelain 2>/dev/null | md5sum || true)
check "the source tree is untouched" test "$before" = "$after"
debs=("$work"/egide_*.deb "$work"/egide-broker_*.deb "$work"/egide-edge_*.deb)
check "three packages: egide, egide-broker, egide-edge (no libegide: the library is static)" \
    test "${#debs[@]}" -eq 3 -a -f "${debs[0]}" -a -f "${debs[1]}" -a -f "${debs[2]}"

echo "== packaging: lintian"
timeout 600 lintian --tag-display-limit 0 --display-info "${debs[@]}" >"$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
# "X: package: tag ..." -> "package: tag"; every one must be expected.
tags=$(sed -n 's/^[EWIPXO]: \([a-z0-9.+-]*\)\( [a-z]*\)\?: \([a-z0-9.+-]*\).*/\1: \3/p' "$work/lintian.txt" | sort -u)
expected=$(grep -v '^#' tests/packaging/lintian-expected.txt | sed -n 's/^\([a-z0-9.+-]*: [a-z0-9.+-]*\).*/\1/p' | sort -u)
unexpected=$(comm -23 <(printf '%s\n' "$tags" | sed '/^$/d') <(printf '%s\n' "$expected"))
check "lintian: no error" bash -c "! grep -q '^E: ' '$work/lintian.txt'"
check "lintian: every tag is in tests/packaging/lintian-expected.txt${unexpected:+ (not: $unexpected)}" test -z "$unexpected"
echo "lintian: $(grep -c '^[EWIPXO]: ' "$work/lintian.txt" || true) tag lines, $(printf '%s\n' "$tags" | sed '/^$/d' | wc -l) distinct"

echo "== packaging: apt-get install"
rm -rf "$tree" # the installed programs must not lean on the build tree
if ! $sudo env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${debs[@]}" >"$work/apt.log" 2>&1; then
    tail -30 "$work/apt.log"
    echo "packaging: apt-get install failed" >&2
    exit 1
fi
ok "apt-get install -y ./egide_*.deb ./egide-broker_*.deb ./egide-edge_*.deb"

echo "== packaging: the installed layout"
for f in /usr/bin/egide /usr/sbin/egide-broker /usr/sbin/egide-edge /usr/sbin/egide-keyd; do
    check "$f is executable" test -x "$f"
done
for f in /usr/share/egide/profiles/fr-casf.ini /usr/share/egide/profiles/nc-province-sud.ini \
    /lib/systemd/system/egide-broker.service /lib/systemd/system/egide-edge.service \
    /lib/systemd/system/egide-edge@.service /usr/lib/sysusers.d/egide.conf \
    /usr/lib/tmpfiles.d/egide.conf; do
    check "$f" test -f "$f"
done
# Man pages and docs from the packages' contents: a minimal image may tell
# dpkg not to unpack /usr/share/man and /usr/share/doc (path-exclude).
contents=$(for d in "${debs[@]}"; do dpkg-deb -c "$d"; done | awk '{print $6}')
for f in ./usr/share/man/man1/egide.1.gz ./usr/share/man/man5/egide.ini.5.gz \
    ./usr/share/man/man8/egide-broker.8.gz ./usr/share/man/man8/egide-edge.8.gz \
    ./usr/share/doc/egide/README.md ./usr/share/doc/egide/examples/cli.ini; do
    check "packaged: ${f#.}" grep -qxF "$f" <<<"$contents"
done
check "conffile /etc/egide/broker.ini (egide-broker)" \
    bash -c "dpkg-query -W -f='\${Conffiles}' egide-broker | grep -q '/etc/egide/broker.ini'"
check "conffile /etc/egide/edge.ini (egide-edge)" \
    bash -c "dpkg-query -W -f='\${Conffiles}' egide-edge | grep -q '/etc/egide/edge.ini'"
check "the egide system user and group (sysusers.d)" bash -c 'getent passwd egide >/dev/null && getent group egide >/dev/null && [ "$(id -u egide)" -lt 1000 ]'
# mode_is PATH MODE OWNER
mode_is() { [ "$(stat -c '%a %U:%G' "$1" 2>/dev/null)" = "$2 $3" ]; }
check "/var/lib/egide 0750 egide:egide (tmpfiles.d)" mode_is /var/lib/egide 750 egide:egide
check "/var/lib/egide/broker 0700 egide:egide" mode_is /var/lib/egide/broker 700 egide:egide
check "/var/lib/egide/edge 0700 egide:egide" mode_is /var/lib/egide/edge 700 egide:egide
check "/run/egide 0750 egide:egide" mode_is /run/egide 750 egide:egide

echo "== packaging: the installed programs"
# -n opens every file the configuration names: as installed, the example
# configuration names keys and a directory that IT has not installed yet,
# and -n says so (the syntax itself is valid: only "does not exist" lines).
as_egide() { $sudo runuser -u egide -- "$@"; }
only_missing() { # BIN CONFIG
    local err rc
    err=$(as_egide "$1" -n -c "$2" 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 1 ] && grep -qF "signing key /etc/egide/keys/sign.key: does not exist" <<<"$err" &&
        ! grep -v -e 'does not exist' -e ': configuration .*: [0-9]* problems\?$' <<<"$err"
}
check "egide-broker -n on the installed example names the keys not installed yet" \
    only_missing /usr/sbin/egide-broker /etc/egide/broker.ini
check "egide-edge -n on the installed example names the keys not installed yet" \
    only_missing /usr/sbin/egide-edge /etc/egide/edge.ini
# Then installed as IT would (a development PKI made with the installed
# egide, copied to the example's paths, owned by egide, 0600), -n passes as
# the service user, as ExecStartPre runs it.  The examples are for one node
# per host: the broker's files first, then the CRIP edge's.
EGIDE=/usr/bin/egide timeout 300 "$SRC/deploy/tools/make-directory.sh" "$SRC/deploy/71" 71 fr-casf \
    "$work/pki" >"$work/pki.log" 2>&1 || { cat "$work/pki.log"; bad "make-directory.sh with the installed egide"; }
provision() { # NODE_ID
    local p="$work/pki" n="$work/pki/nodes/$1"
    $sudo install -d -m 0750 -o root -g egide /etc/egide/ca /etc/egide/keys
    $sudo install -m 0644 "$p/ca/root.crt" "$p/ca/chain.pem" "$p/ca/crl.pem" \
        "$p/authority/authority.crt" /etc/egide/ca/
    $sudo install -m 0644 "$p/directory.bin" /etc/egide/directory.bin
    $sudo install -m 0644 "$n/sign.crt" "$n/curve.public" /etc/egide/keys/
    $sudo install -m 0600 -o egide -g egide "$n/sign.key" "$n/enc.key" "$n/curve.secret" /etc/egide/keys/
    (umask 077 && openssl rand -hex 32 >"$work/token")
    for t in /etc/egide/broker-api.token /etc/egide/api.token; do
        $sudo install -m 0600 -o egide -g egide "$work/token" "$t"
    done
}
provision 71.broker
check "egide-broker -n -c /etc/egide/broker.ini (keys installed, as egide)" \
    as_egide /usr/sbin/egide-broker -n -c /etc/egide/broker.ini
$sudo chmod 0644 /etc/egide/keys/sign.key
check "egide-broker -n refuses the installed signing key once 0644" bash -c \
    "$sudo runuser -u egide -- /usr/sbin/egide-broker -n -c /etc/egide/broker.ini 2>&1 | grep -qF 'signing key /etc/egide/keys/sign.key: mode 0644, must be 0600'"
provision 71.crip
check "egide-edge -n -c /etc/egide/edge.ini (keys installed, as egide)" \
    as_egide /usr/sbin/egide-edge -n -c /etc/egide/edge.ini
$sudo rm -rf /etc/egide/keys /etc/egide/ca /etc/egide/directory.bin /etc/egide/broker-api.token /etc/egide/api.token
sed 's/^batch_max = .*/batch_max = lots/' /etc/egide/broker.ini >"$work/bad.ini"
check "egide-broker -n refuses a broken copy" bash -c "! /usr/sbin/egide-broker -n -c '$work/bad.ini' 2>/dev/null"
check "egide --version" bash -c "/usr/bin/egide --version | grep -q '^egide 0\\.'"
# The default profile is the installed one (the build tree is gone).
check "egide deadlines --type (offline) with the installed profile" bash -c \
    "cd / && /usr/bin/egide deadlines --type ip.transmission --received 2026-01-05 --now 2026-01-06 >/dev/null"

echo "== packaging: systemd-analyze verify"
# A template is verified through an instance; its config need not exist.
for u in egide-broker.service egide-edge.service egide-edge@ci.service; do
    out=$(timeout 60 systemd-analyze verify "$u" 2>&1) && [ -z "$out" ] && ok "systemd-analyze verify $u" ||
        bad "systemd-analyze verify $u: $out"
done

echo "== packaging: sd_notify from the installed daemons"
links="$work/bin"
mkdir -p "$links"
ln -s /usr/bin/egide /usr/sbin/egide-broker /usr/sbin/egide-edge "$links/"
if EGIDE_BIN="$links" EGIDE_SOURCE_DIR="$SRC" timeout 240 bash tests/integration/test_sd_notify.sh >"$work/notify.log" 2>&1; then
    ok "test_sd_notify.sh on the installed binaries"
else
    cat "$work/notify.log"
    bad "test_sd_notify.sh on the installed binaries"
fi

echo "packaging: $fails failed"
[ "$fails" -eq 0 ]
