#!/bin/sh
# Installs the Debian packages in tools/debian-packages.txt that are
# missing.  As root it runs apt-get itself; otherwise it prints the exact
# command and fails, so nothing is half-installed behind the user's back.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# "deps.sh demo": only the packages above the "-- tools/demo" marker.
list=$here/debian-packages.txt
if [ "${1:-}" = demo ]; then
    pkgs=$(sed -e '/^# -- tools\/demo/,$d' -e 's/#.*//' "$list" | tr -s ' \t' '\n' | grep -v '^$' | tr '\n' ' ')
else
    pkgs=$(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n' | grep -v '^$' | tr '\n' ' ')
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "relaypol: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "relaypol: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix asks a debconf question on install; answer it for a non-interactive run.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
