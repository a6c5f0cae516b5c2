#!/bin/sh
# relaypol's robustness variants: the test suite under sanitizers and
# valgrind, the threads tests under TSan, and the libFuzzer harnesses.
# Each variant has its own build directory (build-asan, build-valgrind,
# build-tsan, build-fuzz), prints one verdict line and fails the script
# if anything failed.
#
#   tools/robustness.sh asan          ASan+UBSan (clang), whole meson test suite
#   tools/robustness.sh valgrind      memcheck over the unit suite (quick
#                                     iteration counts), without test_netset
#                                     (ASan runs it); `valgrind full` runs
#                                     every unit test at full size (~15 min)
#   tools/robustness.sh tsan          TSan (clang): test_threads, test_slot
#   tools/robustness.sh fuzz-smoke    each harness 20000 runs / 30 s max
#   tools/robustness.sh fuzz-long SECONDS
#                                     every harness, two at a time, for
#                                     SECONDS of wall-clock time in all
#   tools/robustness.sh all           asan, valgrind, tsan, fuzz-smoke
#                                     (about 6 minutes on 2 cores)
#
# The long fuzz run before a release (one hour, then report the
# executions and findings in the README):
#
#   tools/robustness.sh fuzz-long 3600
#
# It keeps what it finds in build-fuzz/corpus-long/HARNESS (merge the
# interesting inputs into tests/fuzz/corpus/HARNESS by hand, e.g. with
# `HARNESS -merge=1 tests/fuzz/corpus/HARNESS build-fuzz/corpus-long/HARNESS`)
# and crash reproducers in build-fuzz/fuzz-artifacts.  Reproduce one with
# `build-fuzz/tests/fuzz/HARNESS FILE`.
#
# Environment: JOBS (default 2) limits parallel compiles and tests.
# Packages: clang, libclang-rt-14-dev, libfuzzer-14-dev, valgrind, check.
set -u

cd "$(dirname "$0")/.." || exit 2
JOBS=${JOBS:-2}
# Optional parts that do not belong in a sanitizer build: the Python
# module cannot be loaded by an uninstrumented interpreter, the examples
# start real servers, the benchmarks only cost build time.
# -Dwerror=false: these builds look for run-time errors; warnings are the
# business of the ordinary -Dwerror=true build.
COMMON_OPTS="-Dpython=disabled -Dexamples=disabled -Dbench=false -Dtests=enabled -Dwerror=false"
FUZZ_HARNESSES="fuzz_netlist fuzz_policy fuzz_recipient fuzz_addr fuzz_decide fuzz_eval_line fuzz_netset"
# Under memcheck the randomized loops run with RELAYPOL_TEST_QUICK (a
# fiftieth of the iterations, tests/testutil.c); test_netset's random
# cross-check is still too long there and runs under ASan+UBSan instead,
# and so do the portable-path copies of it and of test_recipient (the
# memcheck run already covers test_recipient's own portable parser).
VALGRIND_SKIP="test_netset test_netset_scalar test_recipient_scalar"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
# Set either yourself to add e.g. suppressions=FILE while a report is fixed.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

log() { printf '%s\n' "$*" >&2; }

# verdict NAME STATUS START DETAIL: the one line a variant prints.
verdict() {
    secs=$(($(date +%s) - $3))
    if [ "$2" -eq 0 ]; then
        printf 'robustness: %-10s PASS  (%ss) %s\n' "$1" "$secs" "$4"
    else
        printf 'robustness: %-10s FAIL  (%ss) %s\n' "$1" "$secs" "$4"
    fi
}

# setup DIR CC OPTIONS...: configures DIR, or reconfigures it in place.
setup() {
    dir=$1
    compiler=$2
    shift 2
    mkdir -p "$dir"
    if [ -d "$dir/meson-private" ]; then
        meson setup --reconfigure "$dir" "$@" >"$dir/rob-setup.log" 2>&1
    else
        cxx=c++
        [ "$compiler" = clang ] && cxx=clang++
        CC=$compiler CXX=$cxx meson setup "$dir" "$@" \
            >"$dir/rob-setup.log" 2>&1
    fi || {
        log "meson setup $dir failed; see $dir/rob-setup.log"
        tail -20 "$dir/rob-setup.log" >&2
        return 1
    }
}

# unit_tests DIR SKIP...: names of the unit-suite tests in DIR minus SKIP.
unit_tests() {
    dir=$1
    shift
    meson test -C "$dir" --list --no-rebuild 2>/dev/null |
        sed -n 's|^relaypol:unit / ||p' | while read -r t; do
            skip=0
            for s in "$@"; do [ "$t" = "$s" ] && skip=1; done
            [ $skip -eq 0 ] && printf '%s\n' "$t"
        done
}

# failed_tests DIR: the failures of the last meson test run, on one line.
failed_tests() {
    awk '/^ *[0-9]+\/[0-9]+ / && $0 !~ / (OK|SKIP|EXPECTEDFAIL) / {
             sub(/.* \/ /, ""); print $1 }' "$1/rob-test.log" 2>/dev/null |
        sort -u | tr '\n' ' '
}

run_asan() {
    start=$(date +%s)
    dir=build-asan
    # shellcheck disable=SC2086
    setup $dir clang $COMMON_OPTS -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbuildtype=debugoptimized &&
        ninja -C $dir -j "$JOBS" >$dir/rob-build.log 2>&1 || {
        tail -30 $dir/rob-build.log >&2 2>/dev/null
        verdict asan 1 "$start" "build failed ($dir/rob-build.log)"
        return 1
    }
    # Check forks per test by default, and LeakSanitizer then scans every
    # child at exit: without forking one scan per program covers it all.
    CK_FORK=no meson test -C $dir --no-rebuild --num-processes "$JOBS" \
        --no-suite fuzz --print-errorlogs >$dir/rob-test.log 2>&1
    st=$?
    n=$(grep '^ *[0-9]*/[0-9]* ' $dir/rob-test.log | sort -u | grep -c .)
    verdict asan $st "$start" "$n tests; failed: $(failed_tests $dir)- log $dir/meson-logs/testlog.txt"
    return $st
}

run_valgrind() {
    start=$(date +%s)
    dir=build-valgrind
    skip=$VALGRIND_SKIP
    quick=1
    [ "${1:-}" = full ] && skip= && quick=
    # shellcheck disable=SC2086
    setup $dir cc $COMMON_OPTS -Dbuildtype=debugoptimized || {
        verdict valgrind 1 "$start" "setup failed"
        return 1
    }
    # Only the unit programs: scripts that start servers or the CLI are
    # not what memcheck is for here.
    # shellcheck disable=SC2046
    ninja -C $dir -j "$JOBS" $(sed -n "s/^build \(tests\/test_[a-z_]*\): c_LINKER.*/\1/p" $dir/build.ninja) \
        >$dir/rob-build.log 2>&1 || {
        tail -30 $dir/rob-build.log >&2
        verdict valgrind 1 "$start" "build failed ($dir/rob-build.log)"
        return 1
    }
    # shellcheck disable=SC2086
    tests=$(unit_tests $dir $skip)
    # Check must not fork: memcheck would follow only the parent.
    # shellcheck disable=SC2086
    CK_FORK=no RELAYPOL_TEST_QUICK=$quick meson test -C $dir --no-rebuild \
        --num-processes "$JOBS" --timeout-multiplier 4 --print-errorlogs \
        --wrapper 'valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect' \
        $tests >$dir/rob-test.log 2>&1
    st=$?
    n=$(printf '%s\n' $tests | grep -c .)
    verdict valgrind $st "$start" "$n unit tests${skip:+ (not: $skip)}; failed: $(failed_tests $dir)- log $dir/meson-logs/testlog.txt"
    return $st
}

run_tsan() {
    start=$(date +%s)
    dir=build-tsan
    # shellcheck disable=SC2086
    setup $dir clang $COMMON_OPTS -Db_sanitize=thread -Db_lundef=false \
        -Dbuildtype=debugoptimized &&
        ninja -C $dir -j "$JOBS" tests/test_threads tests/test_slot \
            >$dir/rob-build.log 2>&1 || {
        tail -30 $dir/rob-build.log >&2 2>/dev/null
        verdict tsan 1 "$start" "build failed ($dir/rob-build.log)"
        return 1
    }
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
        meson test -C $dir --no-rebuild --num-processes 1 --print-errorlogs \
        test_threads test_slot >$dir/rob-test.log 2>&1
    st=$?
    verdict tsan $st "$start" "test_threads test_slot; failed: $(failed_tests $dir)- log $dir/meson-logs/testlog.txt"
    return $st
}

build_fuzz() {
    dir=build-fuzz
    # shellcheck disable=SC2086
    setup $dir clang $COMMON_OPTS -Dfuzzing=true -Dbuildtype=debugoptimized &&
        ninja -C $dir -j "$JOBS" $(for h in $FUZZ_HARNESSES; do
            printf 'tests/fuzz/%s ' "$h"; done) >$dir/rob-build.log 2>&1 || {
        tail -30 $dir/rob-build.log >&2 2>/dev/null
        return 1
    }
}

# execs DIR: "harness=N ..." from the final stats in a meson test log.
fuzz_execs() {
    awk '/^test: .*fuzz_/ { sub(/.*\/ /, ""); h = $0 }
         /number_of_executed_units/ && !(h in done) { printf "%s=%s ", h, $2; done[h] = 1 }' \
        "$1/meson-logs/testlog.txt"
}

run_fuzz_smoke() {
    start=$(date +%s)
    build_fuzz || {
        verdict fuzz-smoke 1 "$start" "build failed (build-fuzz/rob-build.log)"
        return 1
    }
    meson test -C build-fuzz --no-rebuild --num-processes "$JOBS" \
        --suite fuzz --print-errorlogs >build-fuzz/rob-test.log 2>&1
    st=$?
    verdict fuzz-smoke $st "$start" "$(fuzz_execs build-fuzz)failed: $(failed_tests build-fuzz)"
    return $st
}

run_fuzz_long() {
    total=${1:-}
    case $total in
    '' | *[!0-9]*)
        log "usage: $0 fuzz-long SECONDS"
        return 2
        ;;
    esac
    start=$(date +%s)
    build_fuzz || {
        verdict fuzz-long 1 "$start" "build failed (build-fuzz/rob-build.log)"
        return 1
    }
    set -- $FUZZ_HARNESSES
    # JOBS harnesses at a time, each for its share of the wall clock.
    rounds=$((($# + JOBS - 1) / JOBS))
    each=$((total / rounds))
    [ "$each" -lt 1 ] && each=1
    mkdir -p build-fuzz/fuzz-artifacts
    st=0
    summary=
    while [ $# -gt 0 ]; do
        pids=
        batch=
        j=0
        while [ $j -lt "$JOBS" ] && [ $# -gt 0 ]; do
            h=$1
            shift
            j=$((j + 1))
            mkdir -p build-fuzz/corpus-long/$h
            build-fuzz/tests/fuzz/$h -max_total_time="$each" -print_final_stats=1 \
                -error_exitcode=1 -timeout=25 \
                -artifact_prefix=build-fuzz/fuzz-artifacts/$h- \
                build-fuzz/corpus-long/$h tests/fuzz/corpus/$h \
                >build-fuzz/fuzz-long-$h.log 2>&1 &
            pids="$pids $!"
            batch="$batch $h"
        done
        for p in $pids; do wait "$p" || st=1; done
        for h in $batch; do
            n=$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/fuzz-long-$h.log)
            if grep -q '^==[0-9]*==ERROR\|runtime error\|^fuzz_[a-z_]*: ' build-fuzz/fuzz-long-$h.log; then
                summary="$summary $h=${n:-?}(FAILED, build-fuzz/fuzz-long-$h.log)"
                st=1
            else
                summary="$summary $h=${n:-?}"
            fi
        done
    done
    verdict fuzz-long $st "$start" "${each}s each:$summary"
    return $st
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
asan) run_asan ;;
valgrind) run_valgrind "$@" ;;
tsan) run_tsan ;;
fuzz-smoke) run_fuzz_smoke ;;
fuzz-long) run_fuzz_long "$@" ;;
all)
    all_start=$(date +%s)
    rc=0
    run_asan || rc=1
    run_valgrind || rc=1
    run_tsan || rc=1
    run_fuzz_smoke || rc=1
    verdict all $rc "$all_start" ""
    exit $rc
    ;;
*)
    sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d' >&2
    exit 2
    ;;
esac
