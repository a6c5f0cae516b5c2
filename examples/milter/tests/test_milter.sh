#!/usr/bin/env bash
# End-to-end test of relaypol-milter behind a real Postfix on loopback,
# driven by swaks.  Usage: test_milter.sh PATH/TO/relaypol-milter TESTDIR
#
# A private Postfix instance (its own config, queue and log under a
# temporary directory; recipe from shared/notes/postfix-loopback.md)
# listens on 127.0.0.1, 127.0.0.2 and ::1, lets every recipient through
# its own relay check and leaves the decision to the milter — the
# deployment README.md describes.  Nothing is delivered (discard:
# transports, swaks --quit-after RCPT).  Postfix and the milter are
# stopped on exit.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

MILTER=$1
DIR=$2

missing=()
for p in postfix postconf saslpasswd2 swaks; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "SKIP: needs ${missing[*]} (Debian packages postfix, sasl2-bin, swaks; see tools/debian-packages.txt)"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: starting a private Postfix needs root"
    exit 77
fi
export PATH="$PATH:/usr/sbin"

P=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-milter-test.XXXXXX")
chmod 755 "$P" # Postfix's daemons run as user postfix and must get in
MILTER_PID=
POSTFIX_UP=0
cleanup() {
    if [ "$POSTFIX_UP" = 1 ]; then
        postfix -c "$P/etc" stop >/dev/null 2>&1
        # Wait for the master to go, so nothing writes into $P any more.
        local mp
        mp=$(cat "$P/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
        for _ in $(seq 100); do
            [ -n "$mp" ] && kill -0 "$mp" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if [ -n "$MILTER_PID" ]; then
        kill "$MILTER_PID" 2>/dev/null
        wait "$MILTER_PID" 2>/dev/null
    fi
    rm -rf "$P"
}
trap cleanup EXIT

pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
skipped() { skip=$((skip + 1)); echo "ok - $* # SKIP"; }

HAVE_V6=1
grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null || HAVE_V6=0

# Postfix and libmilter need fixed ports: probe for free ones below the
# kernel's ephemeral range, so that no client socket takes them meanwhile.
in_use() { # ADDR PORT
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
pick_port() {
    local p a busy
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        busy=0
        for a in 127.0.0.1 127.0.0.2 ::1; do
            [ "$a" = ::1 ] && [ "$HAVE_V6" = 0 ] && continue
            in_use "$a" "$p" && busy=1
        done
        [ "$busy" = 0 ] && { echo "$p"; return 0; }
    done
    return 1
}
SMTP_PORT=$(pick_port) && MILTER_PORT=$(pick_port) && [ "$SMTP_PORT" != "$MILTER_PORT" ] ||
    { echo "Bail out! no free port"; exit 1; }

# ------------------------------------------------------------- the milter

"$MILTER" -f "$DIR/milter-test.conf" -s "inet:$MILTER_PORT@127.0.0.1" 2>"$P/milter.log" &
MILTER_PID=$!
for _ in $(seq 100); do
    grep -q 'relaypol-milter: ready' "$P/milter.log" && break
    kill -0 "$MILTER_PID" 2>/dev/null || break
    sleep 0.05
done
if ! grep -q 'relaypol-milter: ready' "$P/milter.log"; then
    echo "Bail out! the milter did not start:"
    sed 's/^/#   /' "$P/milter.log"
    exit 1
fi

# ------------------------------------------------------------- Postfix

mkdir -p "$P/etc/sasl" "$P/spool" "$P/data" "$P/logs"
chown postfix "$P/data" && chmod 700 "$P/data"
protocols=ipv4
[ "$HAVE_V6" = 1 ] && protocols=all
cat >"$P/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
maillog_file = $P/logs/maillog
maillog_file_prefixes = /var, /dev/stdout, $P/logs
myhostname = mx.relaypol.test
mydomain = relaypol.test
mydestination = relaypol.test, mx.relaypol.test, localhost
local_recipient_maps =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = $protocols
# Nobody the test uses: Postfix itself never grants relaying here.
mynetworks = 127.0.0.254/32
default_transport = discard:outbound delivery disabled in relaypol test
relay_transport = discard:outbound delivery disabled in relaypol test
local_transport = discard:local
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $P/etc/sasl

# relaypol decides relaying.  Postfix passes a milter only the recipients
# it accepted, so its relay check permits everyone (static:OK) and the
# milter refuses.  reject_unauth_destination is never reached: it is
# there because Postfix will not start without one.
smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
# No milter, no mail: never an open relay because the milter is down.
milter_default_action = tempfail
EOF
{
    echo "127.0.0.1:$SMTP_PORT inet n - n - - smtpd"
    echo "127.0.0.2:$SMTP_PORT inet n - n - - smtpd"
    [ "$HAVE_V6" = 1 ] && echo "[::1]:$SMTP_PORT inet n - n - - smtpd"
    cat <<'EOF'
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} >"$P/etc/master.cf"
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN\nsasldb_path: %s\n' \
    "$P/etc/sasldb2" >"$P/etc/sasl/smtpd.conf"
echo secret123 | saslpasswd2 -p -f "$P/etc/sasldb2" -c -u relaypol.test alice
chgrp postfix "$P/etc/sasldb2" && chmod 640 "$P/etc/sasldb2"

if ! postfix -c "$P/etc" start >"$P/start.log" 2>&1; then
    echo "Bail out! postfix did not start:"
    sed 's/^/#   /' "$P/start.log" "$P/logs/maillog" 2>/dev/null | tail -20
    exit 1
fi
POSTFIX_UP=1
for _ in $(seq 100); do
    in_use 127.0.0.1 "$SMTP_PORT" && break
    sleep 0.1
done

# ------------------------------------------------------------- verdicts

rcpt_reply() {
    awk '/^ *-> RCPT TO:/ { getline; sub(/^<[-*]+ +/, ""); sub(/\r$/, ""); print; exit }'
}

# verdict DESC ADDR EXPECTED-REPLY-PREFIX LOG-REGEX SWAKS-ARGS...
# LOG-REGEX "" means the milter must not have seen the recipient.
verdict() {
    local desc=$1 addr=$2 want=$3 logre=$4
    shift 4
    local out got
    out=$(swaks --server "$addr" --port "$SMTP_PORT" --helo tester.example \
        --from sender@example.org --timeout 20 --quit-after RCPT "$@" 2>&1)
    got=$(printf '%s\n' "$out" | rcpt_reply)
    if [[ "$got" != "$want"* ]]; then
        not_ok "$desc: RCPT got '$got', want '$want'"
        printf '%s\n' "$out" | sed 's/^/#   /'
        tail -5 "$P/milter.log" | sed 's/^/#   milter: /'
        return
    fi
    if [ -n "$logre" ] && ! grep -Eq -- "$logre" "$P/milter.log"; then
        not_ok "$desc: no milter log line matching /$logre/"
        tail -5 "$P/milter.log" | sed 's/^/#   /'
        return
    fi
    ok "$desc ($got)"
}

for a in 127.0.0.1 ::1; do
    if [ "$a" = ::1 ] && [ "$HAVE_V6" = 0 ]; then
        skipped "IPv6: no ::1 on this machine"
        continue
    fi
    t=${a//[.:]/}
    verdict "[$a] local delivery for an accepted domain" "$a" "250 2.1.5" \
        "local step=accepted-domain client=$a local=$a .*rcpt=\"<local$t@relaypol.test>\"" \
        --to "local$t@relaypol.test"
    verdict "[$a] a stranger may not relay: the milter's 550 5.7.1" "$a" "550 5.7.1 Relaying denied" \
        "deny step=no-rule client=$a local=$a .*rcpt=\"<stranger$t@example.net>\"" \
        --to "stranger$t@example.net"
    verdict "[$a] relay after SASL AUTH ({auth_authen})" "$a" "250 2.1.5" \
        "relay step=authenticated client=$a .*user=\"alice@relaypol.test\" rcpt=\"<auth$t@example.net>\"" \
        --to "auth$t@example.net" --auth PLAIN --auth-user alice@relaypol.test --auth-password secret123
    verdict "[$a] a %-routed recipient reaches the milter raw and is refused" "$a" \
        "550 5.7.1 Relaying denied: routed recipient address" \
        "deny step=.*rcpt=\"<victim$t%example.net@relaypol.test>\".*route=" \
        --to "victim$t%example.net@relaypol.test"
done
verdict "[127.0.0.1] RelayAllowList: 127.0.0.3 may relay (connect hostaddr)" 127.0.0.1 "250 2.1.5" \
    'relay step=allow-list client=127.0.0.3 local=127.0.0.1 .*rcpt="<allow4@example.net>" entry="127.0.0.3"' \
    --to allow4@example.net --local-interface 127.0.0.3
verdict "[127.0.0.2] RelayLocalIPList: {daemon_addr} = 127.0.0.2" 127.0.0.2 "250 2.1.5" \
    'relay step=local-ip-list client=127.0.0.1 local=127.0.0.2 .*rcpt="<localip4@example.net>" entry="127.0.0.2"' \
    --to localip4@example.net --local-interface 127.0.0.1
verdict "[127.0.0.2] RelayDenyList beats RelayLocalIPList" 127.0.0.2 "550 5.7.1 Relaying denied" \
    'deny step=deny-list client=127.0.0.4 local=127.0.0.2 .*rcpt="<denied4@example.net>"' \
    --to denied4@example.net --local-interface 127.0.0.4
verdict "[127.0.0.1] a malformed recipient gets the decision's 501 5.1.3" 127.0.0.1 "501 5.1.3" \
    'deny step=bad-recipient .*rcpt="<bad..dots@relaypol.test>"' \
    --to bad..dots@relaypol.test

# Fail closed: with the milter gone, Postfix must not relay (tempfail).
kill "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null
MILTER_PID=
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo tester.example \
    --from sender@example.org --to down@example.net --timeout 20 --quit-after RCPT 2>&1)
if grep -q '^<-  250 2\.1\.5' <<<"$out" || ! grep -Eq '^<\*\* +4[0-9][0-9] ' <<<"$out"; then
    not_ok "with the milter down Postfix answers 4xx, never relays"
    sed 's/^/#   /' <<<"$out"
else
    ok "with the milter down Postfix answers 4xx, never relays ($(grep -Em1 '^<\*\* +4' <<<"$out" | sed 's/^<\*\* *//'))"
fi
if grep -q 'relaypol-milter: stopped' "$P/milter.log"; then
    ok "SIGTERM stops the milter"
else
    not_ok "SIGTERM stops the milter"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
