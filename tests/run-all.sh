#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-all.sh - the one test command (README and CI): installs the
# dependencies, builds, runs every test (unit, integration, fuzz corpora),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs every test again.  Build trees: build/ and build-asan/.
# After the plain pass, tests/packaging/test_packages.sh builds the Debian
# packages, installs them and checks them: only with CI=true (CI's machine is
# disposable) or EGIDE_TEST_PACKAGES=1, since it installs system packages.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

./deploy/install-deps.sh --lint

echo "== plain build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
# The "long" tests (a 10-minute broker outage) mostly wait: they run beside
# the others, in the plain pass only.
(cd build && ctest --output-on-failure -L long --timeout 1800 >long-tests.log 2>&1) &
long_pid=$!
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900 -LE long)
long_rc=0
wait "$long_pid" || long_rc=$?
cat build/long-tests.log
if [ "$long_rc" -ne 0 ]; then
    echo "long tests failed" >&2
    exit "$long_rc"
fi

echo "== packages (build, lintian, install, check)"
if [ "${CI:-}" = true ] || [ "${EGIDE_TEST_PACKAGES:-}" = 1 ]; then
    ./tests/packaging/test_packages.sh --install
else
    echo "skipped: installs packages on this machine (CI=true or EGIDE_TEST_PACKAGES=1 runs it)"
fi

echo "== lint (clang-tidy, cppcheck)"
cmake --build build --target lint

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEGIDE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" --timeout 1800 -LE long)
