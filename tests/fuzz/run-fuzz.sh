#!/bin/sh
# Long libFuzzer runs (B1). Builds libmia and the fuzz-* targets with clang-14
# -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined in BUILD (default
# build-fuzz), then runs each target named on the command line (default: all) for
# MIA_FUZZ_SECONDS (default 660) with -jobs=2 -workers=2 -rss_limit_mb=2048, seeding from the
# committed corpus tests/fuzz/corpus/<t>/ and growing a working corpus in BUILD/fuzz-work/<t>/.
# Logs: BUILD/fuzz-logs/<t>.log (+ fuzz-<n>.log of each job). Artifacts (crash-*, leak-*,
# oom-*, timeout-*) land in BUILD/fuzz-artifacts/<t>/; the script prints per target the minutes,
# the executions and the final cov: line, and exits 1 if any artifact was written.
#   tests/fuzz/run-fuzz.sh                 # everything, 10 min each
#   MIA_FUZZ_SECONDS=60 tests/fuzz/run-fuzz.sh safetensors idx
set -eu
cd "$(dirname "$0")/../.."
SRC=$(pwd)
BUILD=${MIA_FUZZ_BUILD:-build-fuzz}
SECS=${MIA_FUZZ_SECONDS:-660}
JOBS=${MIA_FUZZ_JOBS:-2}
command -v clang-14 >/dev/null || { echo "run-fuzz.sh: clang-14 is missing (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang-14 meson setup "$BUILD" -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
        -Db_lundef=false -Dcuda=disabled -Donednn=disabled -Dtools=false -Dexamples=false \
        "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
        "-Dc_link_args=-fno-sanitize-recover=undefined"
fi
if [ $# -eq 0 ]; then
    set -- $(cd tests/fuzz && ls fuzz-*.c | sed 's/^fuzz-//; s/\.c$//')
fi
targets=""
for t in "$@"; do targets="$targets tests/fuzz/fuzz-$t"; done
ninja -C "$BUILD" $targets
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "$@"; do
    work="$BUILD/fuzz-work/$t"; art="$BUILD/fuzz-artifacts/$t"; logs="$BUILD/fuzz-logs/$t"
    mkdir -p "$work" "$art" "$logs"
    rm -f "$logs"/*.log
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    start=$(date +%s)
    (cd "$logs" && "$SRC/$BUILD/tests/fuzz/fuzz-$t" -jobs="$JOBS" -workers="$JOBS" \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$SRC/$art/" $dict \
        "$SRC/$work" "$SRC/tests/fuzz/corpus/$t") >"$logs/main.log" 2>&1 || true
    end=$(date +%s)
    execs=0
    for l in "$logs"/fuzz-*.log; do
        [ -f "$l" ] || continue
        e=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$l" | tail -1 | grep -o '[0-9]*$' || true)
        [ -n "$e" ] || e=$(grep -o '^#[0-9]*' "$l" | tail -1 | tr -d '#' || true)
        execs=$((execs + ${e:-0}))
    done
    cov=$(cat "$logs"/fuzz-*.log 2>/dev/null | grep -o 'cov: [0-9]* ft: [0-9]*' | sort -t' ' -k2 -n | tail -1 || true)
    nart=$(ls "$art" | grep -c -E '^(crash|leak|oom|timeout)-' || true)
    printf '%s: %d min, %s executions (%d jobs), final %s, corpus %s files, artifacts %s\n' \
        "$t" $(((end - start + 30) / 60)) "$execs" "$JOBS" "${cov:-cov: ?}" \
        "$(ls "$work" | wc -l)" "$nart" | tee -a "$BUILD/fuzz-logs/summary.txt"
    [ "$nart" -eq 0 ] || status=1
done
exit $status
