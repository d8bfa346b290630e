#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# install-deps.sh - installs exactly the Debian 12 packages Égide needs to
# build, test and run the demo.  Idempotent: does nothing when everything is
# there; runs `apt-get update` only when something must be installed.
# (libsodium-dev: Ed25519 in the crypto layer and Argon2id for the web
# accounts; chromium, chromium-driver,
# python3-selenium: the browser tests, tests/browser/; libpq-dev and
# postgresql-15: the broker's PostgreSQL store and its tests, label pg;
# patroni, etcd-server: deploy/ha/ and its test, label ha;
# prometheus: promtool for tests/integration/test_metrics.sh; python3-yaml:
# the OpenAPI coverage test, tests/integration/test_openapi.sh.)
# The Debian packages of postgresql, etcd-server and patroni start system
# services on install (postgresql@15-main on 5432, etcd on 2379/2380).  None
# is wanted here: the tests run their own on free loopback ports.  So the
# install runs under a policy-rc.d that denies every service start (unless
# one is already in place), and afterwards etcd and patroni are disabled
# and stopped where systemd runs (deploy/ha/up.sh starts its own).
#   --lint   also the linters (clang-tidy, cppcheck, clang-format)
#   --fuzz   also clang + libFuzzer runtime for the fuzz targets
#   --packaging  also what building and checking the Debian packages needs
#            (tests/packaging/test_packages.sh): debhelper, dpkg-dev,
#            devscripts, fakeroot, lintian, systemd (systemd-analyze)
set -euo pipefail

pkgs=(build-essential cmake pkg-config openssl ca-certificates
      libssl-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev sqlite3
      libinih-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libutf8proc-dev
      libsystemd-dev curl python3 procps man-db libsodium-dev
      libpq-dev postgresql-15 patroni etcd-server
      chromium chromium-driver python3-selenium
      prometheus python3-yaml)
for arg in "$@"; do
  case "$arg" in
    --lint) pkgs+=(clang-tidy cppcheck clang-format) ;;
    --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    --packaging) pkgs+=(debhelper dpkg-dev devscripts fakeroot lintian systemd) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# install-deps.sh: no service starts during the install\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
rc=0
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
[ "$own_policy" -eq 0 ] || $sudo rm -f "$policy"
if [ -d /run/systemd/system ]; then
  for unit in etcd.service patroni.service; do
    $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi
exit "$rc"
