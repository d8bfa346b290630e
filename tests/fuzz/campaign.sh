#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# campaign.sh - a real fuzzing campaign (not run by CI): builds every
# libFuzzer target (tests/fuzz/fuzz_*.c, clang, ASan + UBSan, the library
# instrumented too) into build-fuzz/, runs each from its checked-in corpus
# (under nice -n 19) for a set time or a set number of executions, and
# reports executions, coverage and crashes per target.  Every crash, leak or
# timeout found is copied into the target's tests/fuzz/corpus/NAME/
# directory, so that ctest (fuzz.fuzz_NAME) replays it from then on, and the
# campaign exits 1.
#
#   tests/fuzz/campaign.sh [SECONDS_PER_TARGET [TARGET...]]
#     SECONDS_PER_TARGET  time limit of each target, default 600 (with
#                         FUZZ_RUNS: an upper bound, default 3600)
#     TARGET              e.g. payload_json envelope (default: all)
#   FUZZ_RUNS=N           stop each target after N executions (-runs=N),
#                         e.g. FUZZ_RUNS=10000000 for the issue's aim
#   FUZZ_AIM=N            executions per target the report checks for
#                         (default 10000000, the issue's aim: >= 10^7)
#   FUZZ_DEADLINE=HH:MM   (UTC, today) no target runs past it: each one's time
#                         limit is cut to what is left, and targets not
#                         started by then are reported as not run
#   FUZZ_JOBS=N           targets run side by side (default 1)
#   FUZZ_MERGE=1          also merge new coverage into tests/fuzz/corpus/
#                         (-merge=1: only units that add coverage)
#   FUZZ_REPORT_ONLY=1    run nothing: write REPORT.txt again from the logs
#                         already in build-fuzz/campaign/ (e.g. to report on
#                         every target after campaigns of a few each)
# Per-target libFuzzer options: tests/fuzz/NAME.dict is passed as -dict=,
# and s_target_opts below sets -max_len where the decoder's cost grows with
# the input (the checked-in seeds larger than that are truncated by
# libFuzzer in the campaign; ctest still replays them whole).
# Output: build-fuzz/campaign/REPORT.txt (and on stdout).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${FUZZ_RUNS:-}
aim=${FUZZ_AIM:-10000000}
secs=${1:-}
shift || true
if [ -z "$secs" ]; then
    if [ -n "$runs" ]; then secs=3600; else secs=600; fi
fi
case "$secs" in '' | *[!0-9]*) echo "campaign.sh: seconds must be a number" >&2; exit 2 ;; esac
case "$runs" in *[!0-9]*) echo "campaign.sh: FUZZ_RUNS must be a number" >&2; exit 2 ;; esac
case "$aim" in '' | *[!0-9]*) echo "campaign.sh: FUZZ_AIM must be a number" >&2; exit 2 ;; esac
deadline=
if [ -n "${FUZZ_DEADLINE:-}" ]; then
    deadline=$(date -u -d "today ${FUZZ_DEADLINE} UTC" +%s 2>/dev/null) ||
        { echo "campaign.sh: FUZZ_DEADLINE must be HH:MM (UTC)" >&2; exit 2; }
fi
command -v clang >/dev/null || { echo "campaign.sh: clang is needed (apt-get install clang)" >&2; exit 2; }

report_only=${FUZZ_REPORT_ONLY:-0}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEGIDE_FUZZ=ON >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
for t in "${targets[@]}"; do
    [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "campaign.sh: no target fuzz_$t" >&2; exit 2; }
done
mapfile -t bins < <(printf 'fuzz_%s\n' "${targets[@]}")
if [ "$report_only" != 1 ]; then
    nice -n 19 cmake --build build-fuzz -j"$(nproc)" --target "${bins[@]}" >/dev/null
fi

# Extra libFuzzer options of a target.
s_target_opts() { # NAME
    case "$1" in
    # Every node costs two certificate parses (slow in OpenSSL 3.0): the
    # small seeds (mini-*) cover the decoder; 16 KiB still holds the 988 one.
    directory) echo "-max_len=16384" ;;
    # Ten lookups per input, a byte at a time: 1 KiB still reaches every
    # limit (key >= 128, name >= 256, value >= 64 bytes).
    http_query) echo "-max_len=1024" ;;
    esac
    if [ -f "tests/fuzz/$1.dict" ]; then echo "-dict=../tests/fuzz/$1.dict"; fi
}

out=build-fuzz/campaign
mkdir -p "$out"
run_one() { # NAME
    local t=$1 d="$out/$1" limit=$secs
    rm -rf "$d"
    mkdir -p "$d/corpus" "$d/artifacts"
    cp -r "tests/fuzz/corpus/$t/." "$d/corpus/" 2>/dev/null || true
    if [ -n "$deadline" ]; then
        local left=$((deadline - $(date +%s)))
        if [ "$left" -lt "$limit" ]; then limit=$left; fi
        if [ "$limit" -le 0 ]; then
            echo "not run: FUZZ_DEADLINE passed" >"$d/log.txt"
            echo "-" >"$d/rc"
            return 0
        fi
    fi
    echo "$limit" >"$d/limit"
    local opts
    mapfile -t opts < <(s_target_opts "$t")
    if [ -n "$runs" ]; then opts+=("-runs=$runs"); fi
    local rc=0 start
    start=$(date +%s)
    (cd build-fuzz && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        exec nice -n 19 "./fuzz_$t" -max_total_time="$limit" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="../$d/artifacts/" "${opts[@]}" "../$d/corpus" \
        >"../$d/log.txt" 2>&1) &
    echo "$!" >"$d/pid"
    wait "$!" || rc=$?
    echo "$rc" >"$d/rc"
    echo "$(($(date +%s) - start))" >"$d/seconds"
}
jobs=${FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
    [ "$report_only" != 1 ] || break
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
    echo "fuzzing $t (${runs:+$runs executions, }at most ${secs}s${deadline:+, until ${FUZZ_DEADLINE} UTC})"
    run_one "$t" &
done
wait

crashes=0
slow=0
{
    printf '%-13s %11s %7s %6s %6s %6s %10s %5s  %s\n' target executions exec/s cov ft corpus seconds aim crashes
    for t in "${targets[@]}"; do
        d="$out/$t"
        if [ ! -f "$d/log.txt" ]; then
            printf '%-13s %11s\n' "$t" "not run"
            continue
        fi
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log.txt" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log.txt" | tail -1)
        last=$(grep -E '^#[0-9]+' "$d/log.txt" | tail -1 || true)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
        units=$(find "$d/corpus" -type f | wc -l)
        # slow-unit-* files are inputs over libFuzzer's -report_slow_units
        # (10 s) that still finished: reported apart, not failures, and not
        # copied (ctest would replay them slowly for nothing)
        found=$(find "$d/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
        nslow=$(find "$d/artifacts" -type f -name 'slow-unit-*' | wc -l)
        slow=$((slow + nslow))
        for a in "$d"/artifacts/*; do
            [ -f "$a" ] || continue
            case "$(basename "$a")" in slow-unit-*) continue ;; esac
            cp "$a" "tests/fuzz/corpus/$t/$(basename "$a")"
        done
        crashes=$((crashes + found))
        s=$(cat "$d/seconds" 2>/dev/null || echo -)
        lim=$(cat "$d/limit" 2>/dev/null || echo -)
        if [ "${rate:-0}" = 0 ] && [ -n "$execs" ] && [ "$s" != - ] && [ "$s" -gt 0 ]; then
            rate=$((execs / s)) # libFuzzer says 0 for runs under a second
        fi
        reached=no
        if [ -n "$execs" ] && [ "$execs" -ge "$aim" ]; then reached=yes; fi
        printf '%-13s %11s %7s %6s %6s %6s %10s %5s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
            "${cov:-?}" "${ft:-?}" "$units" "$s/$lim" "$reached" \
            "$found (rc $(cat "$d/rc"))${nslow:+$([ "$nslow" -gt 0 ] && echo ", $nslow slow")}"
        if [ "${FUZZ_MERGE:-0}" = 1 ]; then
            (cd build-fuzz && nice -n 19 "./fuzz_$t" -merge=1 "../tests/fuzz/corpus/$t" "../$d/corpus" \
                >/dev/null 2>&1) || true
        fi
    done
    echo "seconds: used/time limit${runs:+; executions per target: $runs}${deadline:+; deadline ${FUZZ_DEADLINE} UTC}; aim: $aim executions per target, 0 crashes"
    echo "crashes, leaks and timeouts kept in tests/fuzz/corpus/: $crashes"
    echo "slow units (over 10 s, finished; kept in build-fuzz/campaign/*/artifacts/ only): $slow"
    echo "rc: libFuzzer's exit status (0 = limit reached, 72 = interrupted); exec/s is libFuzzer's average"
} >"$out/REPORT.txt" # not a pipe: crashes must survive the block
cat "$out/REPORT.txt"
[ "$crashes" -eq 0 ]
