#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# run-all.sh - the one test command (README and CI): installs the
# dependencies, builds, runs every test (unit, integration, fuzz corpora),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs every test again.  Build trees: build/ and build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

./deploy/install-deps.sh --lint

echo "== plain build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)

echo "== lint (clang-tidy, cppcheck)"
cmake --build build --target lint

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEGIDE_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" --timeout 1800)
