#!/bin/sh
# relaypol as a meson subproject: a second, tiny project in a temporary
# directory finds it with plain `dependency('relaypol')` (the library
# declares it with meson.override_dependency), builds a program against
# it and runs the program.  This is how projects vendor relaypol, and it
# breaks quietly when the top-level meson.build assumes it is the main
# project.
#
# usage: subproject_test.sh SOURCE_ROOT
# Environment: MESON (default meson), NINJA (default ninja).
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

src=$(cd "${1:?usage: subproject_test.sh SOURCE_ROOT}" && pwd) || exit 1
meson=${MESON:-meson}
ninja=${NINJA:-ninja}
command -v "$meson" >/dev/null 2>&1 || { echo "SKIP: meson not found"; exit 77; }
command -v "$ninja" >/dev/null 2>&1 || { echo "SKIP: ninja not found"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-subproject.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/app/subprojects"
# A symlink, as a developer would vendor a checkout; meson follows it.
ln -s "$src" "$T/app/subprojects/relaypol"

cat >"$T/app/meson.build" <<'MESON'
project('relaypol-consumer', 'c', default_options : ['c_std=c11'])
relaypol = dependency('relaypol')
test_exe = executable('consumer', 'consumer.c', dependencies : relaypol)
MESON

cat >"$T/app/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <relaypol/relaypol.h>

int main(void)
{
    static const char text[] = "RelayFlags = 2\n"
                               "[RelayAllowList]\n"
                               "192.0.2.0/24\n";
    relaypol_policy *p;
    relaypol_error err;
    if (relaypol_policy_load_string(text, sizeof text - 1, "inline", NULL,
                                    &p, &err) != RELAYPOL_OK) {
        fprintf(stderr, "load failed: %s\n", err.message);
        return 1;
    }
    relaypol_request req;
    relaypol_request_init(&req);
    relaypol_addr_parse("192.0.2.7", &req.client);
    req.recipient = "<a@example.net>";
    req.recipient_len = strlen(req.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    int ok = relaypol_decide(p, &req, &d) == RELAYPOL_OK &&
             d.verdict == RELAYPOL_RELAY &&
             strcmp(relaypol_version(), RELAYPOL_VERSION_STRING) == 0;
    printf("relaypol %s: %s\n", relaypol_version(),
           relaypol_verdict_name(d.verdict));
    relaypol_policy_free(p);
    return ok ? 0 : 1;
}
C

# Only the library is wanted from the subproject; options a checkout does
# not have are left out.
opts="--force-fallback-for=relaypol"
have_opt() { grep -q "option('$1'" "$src/meson_options.txt" 2>/dev/null; }
for o in tests examples python dpdk; do
    have_opt "$o" && opts="$opts -Drelaypol:$o=disabled"
done
for o in bench fuzzing; do
    have_opt "$o" && opts="$opts -Drelaypol:$o=false"
done

step() { # DESC LOG COMMAND...
    desc=$1 log=$2
    shift 2
    if "$@" >"$log" 2>&1; then
        echo "ok - $desc"
    else
        echo "not ok - $desc"
        tail -30 "$log" | sed 's/^/#   /'
        exit 1
    fi
}

# shellcheck disable=SC2086 # $opts is a list of words
step "meson setup of a project using relaypol as a subproject" "$T/setup.log" \
    "$meson" setup "$T/build" "$T/app" $opts
grep -q "Executing subproject relaypol" "$T/setup.log" || {
    echo "not ok - the subproject was not used (a system relaypol instead?)"
    exit 1
}
step "it builds" "$T/build.log" "$ninja" -C "$T/build" -j2
step "the program decides through the subproject's library" "$T/run.log" \
    "$T/build/consumer"
sed 's/^/# /' "$T/run.log"
echo ok
