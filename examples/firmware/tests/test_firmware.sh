#!/usr/bin/env bash
# Test of relaypol-firmware: decisions after start-up allocate nothing
# (arena hook calls and C heap calls both counted), the arena size it
# reports is exact, every smaller arena fails cleanly, and the decisions
# are the expected ones.  Prints the image's figures for the README.
# Usage: test_firmware.sh PATH/TO/relaypol-firmware TESTDIR
#
# SPDX-License-Identifier: BSD-2-Clause
set -u
FW=$1
DIR=$2

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # DESC COMMAND...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
has() { grep -qx -- "$2" <<<"$1"; }

out=$("$FW")
rc=$?
sed 's/^/# /' <<<"$out"
check "the built-in table runs and exits 0" [ "$rc" = 0 ]
check "every decision of the table is the expected one" \
    grep -q '^served: [0-9]* decisions, 0 mismatches, 0 bad lines$' <<<"$out"
check "no arena call after initialisation" has "$out" 'arena calls after init: 0'
if grep -q 'heap calls after init: not counted' <<<"$out"; then
    echo "# heap calls not counted: this toolchain has no -Wl,--wrap"
else
    check "no C heap call after initialisation (malloc wrapped)" has "$out" 'heap calls after init: 0'
    check "no C heap call while loading either" has "$out" 'heap calls during load: 0'
fi
check "heap bytes in use unchanged by serving" \
    grep -Eq '^heap bytes in use before/after serving: ([0-9]+)/\1$' <<<"$out"
check "freeing the policy returns every arena byte" has "$out" 'arena live after free: 0'

peak=$(sed -n 's/^arena peak: //p' <<<"$out")
live=$(sed -n 's/^arena live: \([0-9]*\).*/\1/p' <<<"$out")
if [ -n "$peak" ]; then
    "$FW" -a "$peak" >/dev/null
    check "an arena of exactly the reported peak ($peak bytes) is enough" [ $? = 0 ]
    small=$("$FW" -a $((peak - 1)))
    rc=$?
    check "one byte less fails with out of memory and leaves nothing allocated" \
        [ "$rc" = 3 ] && has "$small" 'arena live after failed load: 0'
else
    not_ok "no arena peak reported"
fi

sweep=$("$FW" -s | tail -1)
echo "# $sweep"
check "every arena size below the peak fails cleanly (NOMEM, nothing left)" \
    grep -q ', 0 bad$' <<<"$sweep"

got=$("$FW" - <"$DIR/requests.txt")
decisions=$(grep -Ev '^(arena|heap|librelaypol|served)' <<<"$got")
if diff -u "$DIR/expected.txt" - <<<"$decisions" >/dev/null; then
    ok "requests from standard input get the expected decisions"
else
    not_ok "requests from standard input"
    diff -u "$DIR/expected.txt" - <<<"$decisions" | sed 's/^/# /'
fi
check "serving standard input allocates nothing" \
    has "$got" 'arena calls after init: 0'

# Figures for the README.
size=$(stat -c %s "$FW")
kind=dynamic
readelf -l "$FW" 2>/dev/null | grep -q INTERP || kind=static
echo "# binary: $kind, $size bytes on disk (with debug info)"
if command -v strip >/dev/null; then
    strip -o "${TMPDIR:-/tmp}/relaypol-fw-stripped.$$" "$FW" &&
        echo "# stripped: $(stat -c %s "${TMPDIR:-/tmp}/relaypol-fw-stripped.$$") bytes"
    rm -f "${TMPDIR:-/tmp}/relaypol-fw-stripped.$$"
fi
command -v size >/dev/null && size "$FW" | sed 's/^/# /'
echo "# arena for the 100-entry policy: $peak bytes at peak, $live bytes held after load"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
