#!/bin/sh
# The manual is part of the API: every function the shared library
# exports must be named in the NAME section of some man/*.3 page (a
# function without a page is one integrators cannot look up), and every
# page must be clean under `mandoc -T lint`, so that what `man` shows is
# what was written.
#
# mandoc's message levels are, from mild to grave, STYLE, WARNING, ERROR
# and UNSUPP.  WARNING and above fail.  STYLE messages fail too, except
# "referenced manual not found": whether mandoc can find a page named in
# an .Xr depends on what the machine has installed (our own pages are not
# installed while testing), not on the page.
#
# usage: check_manpages.sh path/to/librelaypol.so path/to/man
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

lib=${1:?usage: check_manpages.sh LIBRARY MANDIR}
mandir=${2:?usage: check_manpages.sh LIBRARY MANDIR}
fail=0

if ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: nm not found (binutils)"
    exit 77
fi
[ -f "$lib" ] || { echo "FAIL: no such library: $lib"; exit 1; }
[ -d "$mandir" ] || { echo "FAIL: no such directory: $mandir"; exit 1; }

# The names each section 3 page documents: the .Nm lines of its NAME
# section (mdoc), or the comma-separated names before "\-" (man).
names=$(for page in "$mandir"/*.3; do
    [ -f "$page" ] || continue
    awk '
        /^\.Sh / || /^\.SH / { insec = ($2 == "NAME") ; next }
        insec && /^\.Nm / { print $2 }
        insec && !/^\./ {
            sub(/\\-.*/, "")
            n = split($0, w, /[ ,]+/)
            for (i = 1; i <= n; i++) if (w[i] != "") print w[i]
        }' "$page"
done | sort -u)

exports=$(nm -D --defined-only "$lib" | awk '
    NF >= 3 && ($2 == "T" || $2 == "W" || $2 == "i") {
        n = $3; sub(/@.*/, "", n); print n
    }' | grep '^relaypol_' | sort -u)
[ -n "$exports" ] || { echo "FAIL: no relaypol_ function exported by $lib"; exit 1; }

n=0
for f in $exports; do
    n=$((n + 1))
    if ! printf '%s\n' "$names" | grep -qx "$f"; then
        echo "FAIL: $f is exported but named in no man/*.3 NAME section"
        fail=1
    fi
done
echo "checked $n exported functions against the NAME sections of $mandir/*.3"

# Names in a NAME section that the library does not export: a page for a
# function that was renamed or removed.  relaypol itself is the overview.
for nm_ in $names; do
    case $nm_ in relaypol) continue ;; esac
    if ! printf '%s\n' "$exports" | grep -qx "$nm_"; then
        case $nm_ in
        relaypol_policy_load_file)
            echo "note: $nm_ not exported (built with -Dfile_io=false?)" ;;
        *)
            echo "FAIL: $nm_ has a man page but is not exported"
            fail=1 ;;
        esac
    fi
done

if command -v mandoc >/dev/null 2>&1; then
    pages=0
    for page in "$mandir"/*.[0-9]; do
        [ -f "$page" ] || continue
        pages=$((pages + 1))
        out=$(mandoc -T lint -W style "$page" 2>&1 |
            grep -v 'STYLE: referenced manual not found' |
            grep -v 'lacks .* entry, run makewhatis')
        if [ -n "$out" ]; then
            echo "FAIL: mandoc -T lint $page:"
            printf '%s\n' "$out" | sed 's/^/  /'
            fail=1
        fi
    done
    echo "linted $pages pages with mandoc"
else
    echo "note: mandoc not found (Debian package mandoc): pages not linted"
    if [ "$fail" -eq 0 ]; then
        echo "SKIP: lint part skipped"
        exit 77
    fi
fi

[ "$fail" -eq 0 ] || exit 1
echo ok
