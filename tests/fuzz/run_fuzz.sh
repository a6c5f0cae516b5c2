#!/bin/sh
# Runs one libFuzzer harness over a committed corpus without writing into
# it: new inputs go to a scratch directory that is removed afterwards,
# crash reproducers to $RELAYPOL_FUZZ_ARTIFACTS (default: ./fuzz-artifacts
# in the current directory, the build directory under meson test).
#
#   run_fuzz.sh HARNESS CORPUS_DIR [libFuzzer options...]
set -eu
exe=$1
corpus=$2
shift 2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
artifacts=${RELAYPOL_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$artifacts"
name=$(basename "$exe")
# Any UBSan report fails the run (the harnesses are built recoverable).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# Leak detection is on (a leak is a bug here); -print_final_stats gives
# the execution count for the report.  libFuzzer's default exit status
# for a finding is 77, which meson reads as "skipped": make it 1.
"$exe" -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
    -detect_leaks=1 -error_exitcode=1 -timeout=25 "$@" "$scratch" "$corpus"
