#!/usr/bin/env bash
# Installs relaypol to a temporary prefix from a build of its own, then
# builds and runs, as an outside user would — through pkg-config only, no
# path into the source tree's lib/ or build directory:
#   - a small C program, against the shared and against the static library;
#   - each example (examples/*/Makefile): smtpd, milter (when libmilter's
#     pkg-config file is there), firmware.
# Usage: install_test.sh SOURCE_ROOT
#
# SPDX-License-Identifier: BSD-2-Clause
set -u
SRC=$(cd "$1" && pwd)
JOBS=2

T=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-install-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
PREFIX=$T/prefix

pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
skipped() { skip=$((skip + 1)); echo "ok - $* # SKIP"; }
run() { # DESC LOG COMMAND...: runs COMMAND, shows LOG's tail on failure
    local desc=$1 log=$2
    shift 2
    if "$@" >"$log" 2>&1; then
        ok "$desc"
        return 0
    fi
    not_ok "$desc"
    tail -20 "$log" | sed 's/^/#   /'
    return 1
}

# Only the library: no tests, no examples, no bindings.  Options that a
# given checkout does not have yet are left out rather than failing.
opts=(--prefix="$PREFIX" --libdir=lib --buildtype=release)
have_opt() { grep -q "option('$1'" "$SRC/meson_options.txt" 2>/dev/null; }
for o in tests examples python dpdk; do have_opt "$o" && opts+=("-D$o=disabled"); done
for o in bench fuzzing; do have_opt "$o" && opts+=("-D$o=false"); done

run "meson setup of a separate build with --prefix" "$T/setup.log" \
    meson setup "$T/build" "$SRC" "${opts[@]}" || { echo "$pass passed, $fail failed"; exit 1; }
run "the library builds" "$T/build.log" ninja -C "$T/build" -j"$JOBS" ||
    { echo "$pass passed, $fail failed"; exit 1; }
run "meson install into the prefix" "$T/install.log" meson install -C "$T/build" --no-rebuild ||
    { echo "$pass passed, $fail failed"; exit 1; }

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
ver=$(pkg-config --modversion relaypol 2>/dev/null)
want=$(sed -n "s/^  *version : '\(.*\)',/\1/p" "$SRC/meson.build" | head -1)
if [ -n "$ver" ] && [ "$ver" = "$want" ]; then
    ok "pkg-config finds relaypol $ver in the prefix"
else
    not_ok "pkg-config relaypol: '$ver', want '$want'"
fi
for f in include/relaypol/relaypol.h lib/librelaypol.a lib/pkgconfig/relaypol.pc; do
    [ -e "$PREFIX/$f" ] || not_ok "installed: $f missing"
done
ls "$PREFIX"/lib/librelaypol.so.* >/dev/null 2>&1 || not_ok "installed: librelaypol.so.* missing"

# ------------------------------------------------------- a small program

cat >"$T/tiny.c" <<'EOF'
#include <relaypol/relaypol.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    static const char text[] = "RelayFlags = allow\nAcceptedDomains = example.com\n"
                               "[RelayAllowList]\n192.0.2.0/24\n";
    relaypol_policy *p;
    relaypol_error err;
    if (relaypol_policy_load_string(text, sizeof text - 1, "tiny", NULL, &p, &err)) {
        char buf[600];
        relaypol_error_format(&err, buf, sizeof buf);
        printf("load: %s\n", buf);
        return 1;
    }
    const char *clients[] = {"192.0.2.7", "198.51.100.1"};
    for (int i = 0; i < 2; i++) {
        relaypol_request req;
        relaypol_request_init(&req);
        relaypol_addr_parse(clients[i], &req.client);
        req.recipient = "<a@example.net>";
        req.recipient_len = strlen(req.recipient);
        relaypol_decision d;
        relaypol_decision_init(&d);
        if (relaypol_decide(p, &req, &d) != RELAYPOL_OK)
            return 1;
        printf("%s %s\n", clients[i], d.reply);
    }
    printf("version %s\n", relaypol_version());
    relaypol_policy_free(p);
    return 0;
}
EOF
expected="192.0.2.7 250 2.1.5 Ok
198.51.100.1 550 5.7.1 Relaying denied
version $want"
CC=${CC:-cc}
CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror"
# shellcheck disable=SC2046,SC2086
if run "a small program compiles and links with pkg-config --cflags --libs relaypol" "$T/tiny.log" \
    $CC $CFLAGS $(pkg-config --cflags relaypol) -o "$T/tiny" "$T/tiny.c" \
    $(pkg-config --libs relaypol) -Wl,-rpath,"$PREFIX/lib"; then
    out=$("$T/tiny" 2>&1)
    if [ "$out" = "$expected" ]; then
        ok "it runs and decides"
    else
        not_ok "tiny program output:"
        sed 's/^/#   /' <<<"$out"
    fi
    if command -v ldd >/dev/null && ldd "$T/tiny" | grep -q "$PREFIX/lib/librelaypol.so"; then
        ok "it uses the installed shared library"
    else
        not_ok "it does not load librelaypol.so from the prefix"
        ldd "$T/tiny" 2>&1 | sed 's/^/#   /'
    fi
fi
# The static archive, with the private dependencies pkg-config --static
# names (libcidr when the library was built with it).
# shellcheck disable=SC2046,SC2086
if run "the same program links against librelaypol.a (pkg-config --static)" "$T/tiny-static.log" \
    $CC $CFLAGS $(pkg-config --cflags relaypol) -o "$T/tiny-static" "$T/tiny.c" \
    -Wl,-Bstatic $(pkg-config --libs-only-l relaypol) -Wl,-Bdynamic \
    $(pkg-config --libs-only-L relaypol) $(pkg-config --static --libs-only-l relaypol | sed 's/-lrelaypol//'); then
    out=$("$T/tiny-static" 2>&1)
    if [ "$out" = "$expected" ] && ! ldd "$T/tiny-static" 2>/dev/null | grep -q librelaypol; then
        ok "the statically linked program runs and needs no librelaypol.so"
    else
        not_ok "static program:"
        sed 's/^/#   /' <<<"$out"
    fi
fi

# ------------------------------------------------------------ examples

ex_cflags="-O2 -Wall -Wextra -Werror -Wl,-rpath,$PREFIX/lib"
build_example() { # NAME
    mkdir -p "$T/ex-$1"
    run "examples/$1 builds from its Makefile against the prefix" "$T/ex-$1.log" \
        make -C "$T/ex-$1" -f "$SRC/examples/$1/Makefile" CFLAGS="$ex_cflags"
}

if [ -f "$SRC/examples/smtpd/Makefile" ] && build_example smtpd; then
    run "relaypol-smtpd -T loads its test policy and user file" "$T/smtpd-run.log" \
        "$T/ex-smtpd/relaypol-smtpd" -T -f "$SRC/examples/smtpd/tests/smtpd-test.conf" \
        -u "$SRC/examples/smtpd/tests/users.txt"
fi

if [ -f "$SRC/examples/milter/Makefile" ]; then
    if pkg-config --exists milter 2>/dev/null; then
        build_example milter &&
            run "relaypol-milter -T loads its test policy" "$T/milter-run.log" \
                "$T/ex-milter/relaypol-milter" -T -f "$SRC/examples/milter/tests/milter-test.conf"
    else
        skipped "examples/milter: libmilter's milter.pc not found (Debian libmilter-dev)"
    fi
fi

if [ -f "$SRC/examples/firmware/Makefile" ] && build_example firmware; then
    out=$("$T/ex-firmware/relaypol-firmware" 2>&1)
    rc=$?
    if [ "$rc" = 0 ] && grep -qx 'arena calls after init: 0' <<<"$out"; then
        ok "relaypol-firmware runs against the shared library, no arena call after init"
    else
        not_ok "relaypol-firmware against the shared library (exit $rc)"
        tail -8 <<<"$out" | sed 's/^/#   /'
    fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
