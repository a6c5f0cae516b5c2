#!/bin/sh
# Every symbol librelaypol exports must carry the relaypol_ prefix: the
# library is embedded in other people's servers, and an unprefixed export
# (a helper that lost its `static` or its hidden visibility) can collide
# with theirs.  Also checks that each RELAYPOL_API function declared in the
# public header is exported, so a missing definition or a lost export
# macro is caught here rather than by the first integrator.
#
# usage: check_symbols.sh path/to/librelaypol.so
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

lib=${1:?usage: check_symbols.sh LIBRARY}
if ! command -v nm >/dev/null 2>&1; then
    echo "nm not found (binutils): skipping"
    exit 77 # meson's "skipped"
fi
if [ ! -f "$lib" ]; then
    echo "no such file: $lib"
    exit 1
fi

syms=$(nm -D --defined-only "$lib") || {
    echo "nm -D failed on $lib"
    exit 1
}

fail=0
exported=0
# nm prints "VALUE TYPE NAME".  Absolute symbols (type A) are version
# nodes, not code or data; the rest are the linker's own section markers.
bad=$(printf '%s\n' "$syms" | awk '
    NF >= 3 && $2 != "A" {
        n = $3
        sub(/@.*/, "", n)
        if (n ~ /^(_init|_fini|_edata|_end|__bss_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$/)
            next
        if (n !~ /^relaypol_/)
            print $2 " " n
    }')
exported=$(printf '%s\n' "$syms" | awk 'NF >= 3 && $3 ~ /^relaypol_/' | wc -l)
exported=$((exported + 0))

echo "checked $lib: $exported relaypol_ symbols exported"
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols without the relaypol_ prefix:"
    printf '%s\n' "$bad" | sed 's/^/  /'
    fail=1
fi
if [ "$exported" -eq 0 ]; then
    echo "FAIL: no relaypol_ symbol exported at all (visibility broken?)"
    fail=1
fi

# The header beside this script's source tree (meson runs the script from
# the source directory by its absolute path).
header=$(dirname "$0")/../include/relaypol/relaypol.h
if [ -f "$header" ]; then
    declared=$(grep 'RELAYPOL_API' "$header" |
        grep -o 'relaypol_[a-z0-9_]*(' | tr -d '(' | sort -u)
    n=0
    for f in $declared; do
        n=$((n + 1))
        if ! printf '%s\n' "$syms" | awk -v f="$f" '
                $3 == f && $2 ~ /^[TWiV]$/ { found = 1 }
                END { exit !found }'; then
            case $f in
            *)
                # Every declaration is exported in every configuration
                # (-Dfile_io=false keeps load_file as a stub that fails).
                echo "FAIL: $f is declared RELAYPOL_API but not exported"
                fail=1
                ;;
            esac
        fi
    done
    echo "checked $n RELAYPOL_API functions of $header"
else
    echo "note: $header not found; declared functions not checked"
fi

if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "ok"
