#!/bin/sh
# The README's C example must compile as written and do what it says:
# it is the first code an integrator copies.  This extracts the first
# ```c block of README.md, compiles it with -Werror against the library
# just built, and runs it on policies under the file name it loads: one
# that relays for everyone (exit 0), one that relays for no one (exit 1:
# the example returns d.verdict == RELAYPOL_DENY) and one that does not
# load (exit 2, with file:line:column).
#
# usage: test_readme_example.sh SOURCE_ROOT LIBRARY
#   LIBRARY: the built librelaypol (static or shared)
# Environment: CC (default cc).
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

src=${1:?usage: test_readme_example.sh SOURCE_ROOT LIBRARY}
lib=${2:?usage: test_readme_example.sh SOURCE_ROOT LIBRARY}
cc=${CC:-cc}
readme=$src/README.md

[ -f "$readme" ] || { echo "FAIL: no $readme"; exit 1; }
[ -f "$lib" ] || { echo "FAIL: no library $lib"; exit 1; }
command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($cc)"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-readme.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

awk '
    !done && /^```c[ \t]*$/ { inblock = 1; next }
    inblock && /^```/ { inblock = 0; done = 1; next }
    inblock { print }
' "$readme" >"$T/example.c"
if [ ! -s "$T/example.c" ]; then
    echo "FAIL: no \`\`\`c block in $readme"
    exit 1
fi
echo "extracted $(wc -l <"$T/example.c") lines from README.md"

# The static library keeps the test independent of the run-time linker
# path; a shared one gets an rpath.
libdir=$(cd "$(dirname "$lib")" && pwd)
case $lib in
*.a) link="$lib -lpthread" ;;
*) link="-L$libdir -lrelaypol -Wl,-rpath,$libdir" ;;
esac
# The library was built with libcidr when it is there; a static link must
# then name it too.
case $lib in
*.a) nm "$lib" 2>/dev/null | grep -q ' U cidr_' && link="$link -lcidr" ;;
esac

# shellcheck disable=SC2086 # $link is a list of words
# EXTRA_CFLAGS: what the library was built with that a program linking
# it needs too (meson passes the sanitizer flags of a sanitizer build).
# shellcheck disable=SC2086
if ! "$cc" -std=c11 -Wall -Wextra -Werror ${EXTRA_CFLAGS:-} -I"$src/include" \
        -o "$T/example" "$T/example.c" $link >"$T/cc.log" 2>&1; then
    echo "FAIL: the README example does not compile:"
    sed 's/^/  /' "$T/cc.log"
    exit 1
fi
echo "ok - the README example compiles with -Wall -Wextra -Werror"

# Run it on policies that decide its request whatever client and
# recipient the README picks: in the file name it loads.
policy=$(sed -n 's/.*relaypol_policy_load_file("\([^"]*\)".*/\1/p' "$T/example.c" | head -1)
if [ -z "$policy" ]; then
    echo "note: the example loads no policy file by name; not run"
    echo ok
    exit 0
fi

fail=0
run() { # NAME POLICY_TEXT WANT_EXIT PATTERN
    mkdir -p "$T/$1"
    printf '%s' "$2" >"$T/$1/$policy"
    out=$(cd "$T/$1" && "$T/example" 2>&1)
    rc=$?
    if [ "$rc" -ne "$3" ]; then
        echo "FAIL: $1: exit $rc, want $3 (output: $out)"
        fail=1
    elif ! printf '%s\n' "$out" | grep -q "$4"; then
        echo "FAIL: $1: output '$out' does not match '$4'"
        fail=1
    else
        echo "ok - $1: $out"
    fi
}

# RelayFlags 1 without a deny list relays for every client: exit 0.
run open 'RelayFlags = 1
' 0 '^relay\|^local'
# RelayFlags 0 relays for nobody, and no domain is local: exit 1.
run closed 'RelayFlags = 0
' 1 '^deny'
# A policy that does not load: exit 2, and the error names the file,
# line and column.
run bad-policy 'RelayFlags = 2
[RelayAllowList]
192.168.1.5;255.255.255.0
' 2 ":3:1: "

[ "$fail" -eq 0 ] || exit 1
echo ok
