#!/usr/bin/env bash
# End-to-end test of relaypol-smtpd: every verdict through swaks on
# 127.0.0.1, 127.0.0.2 and ::1, then the protocol's limits through raw
# bash sockets.  Usage: test_smtpd.sh PATH/TO/relaypol-smtpd TESTDIR
#
# Ports: the servers listen on port 0 and write the ports the kernel gave
# them to a ready file, so parallel runs never collide and nothing has to
# guess a free port.  Everything started here is stopped by PID on exit.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

SMTPD=$1
DIR=$2

if ! command -v swaks >/dev/null 2>&1; then
    echo "SKIP: swaks is not installed (Debian package swaks; see tools/debian-packages.txt)"
    exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-smtpd-test.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
skipped() { skip=$((skip + 1)); echo "ok - $* # SKIP"; }

HAVE_V6=1
grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null || HAVE_V6=0

# start_server NAME EXTRA-ARGS... : starts relaypol-smtpd logging to
# $TMP/NAME.log, waits for its ready file, sets PID_<NAME>.
start_server() {
    local name=$1
    shift
    local listen=(-l 127.0.0.1:0 -l 127.0.0.2:0)
    [ "$HAVE_V6" = 1 ] && listen+=(-l '[::1]:0')
    "$SMTPD" "${listen[@]}" -w "$TMP/$name.ready" "$@" 2>"$TMP/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$name=$pid"
    for _ in $(seq 100); do
        [ -s "$TMP/$name.ready" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "# $name did not start:"
    sed 's/^/#   /' "$TMP/$name.log"
    return 1
}

# port NAME ADDR: the port server NAME listens on at ADDR.
port() { awk -v a="$2" '$1 == a { print $2 }' "$TMP/$1.ready"; }

# rcpt_reply: the reply swaks got to RCPT TO, from its transcript.
rcpt_reply() {
    awk '/^ *-> RCPT TO:/ { getline; sub(/^<[-*]+ +/, ""); sub(/\r$/, ""); print; exit }'
}

# verdict DESC SERVER ADDR EXPECTED-REPLY-PREFIX LOG-REGEX SWAKS-ARGS...
# One RCPT through swaks; checks the reply and that the log gained a
# relaypol_explain() line matching LOG-REGEX.
verdict() {
    local desc=$1 srv=$2 addr=$3 want=$4 logre=$5
    shift 5
    local out got
    out=$(swaks --server "$addr" --port "$(port "$srv" "$addr")" \
        --helo tester.example --from sender@example.org --timeout 10 \
        --quit-after RCPT "$@" 2>&1)
    got=$(printf '%s\n' "$out" | rcpt_reply)
    if [[ "$got" != "$want"* ]]; then
        not_ok "$desc: RCPT got '$got', want '$want'"
        printf '%s\n' "$out" | sed 's/^/#   /'
        return
    fi
    # The server logs before it replies, so the line is there already.
    if ! grep -Eq -- "$logre" "$TMP/$srv.log"; then
        not_ok "$desc: no log line matching /$logre/"
        sed 's/^/#   /' "$TMP/$srv.log" | tail -5
        return
    fi
    ok "$desc ($got)"
}

# ------------------------------------------------------------ the verdicts

cp "$DIR/smtpd-test.conf" "$TMP/policy.conf"
start_server main -f "$TMP/policy.conf" -u "$DIR/users.txt" || exit 1

DENIED="550 5.7.1 Relaying denied"
for a in 127.0.0.1 ::1; do
    if [ "$a" = ::1 ] && [ "$HAVE_V6" = 0 ]; then
        skipped "IPv6 verdicts: no ::1 on this machine"
        continue
    fi
    t=${a//[.:]/}
    verdict "[$a] local delivery for an accepted domain" main "$a" "250 2.1.5" \
        "local step=accepted-domain client=$a .*rcpt=\"<local$t@relaypol.test>\"" \
        --to "local$t@relaypol.test"
    verdict "[$a] a stranger may not relay" main "$a" "$DENIED" \
        "deny step=no-rule client=$a .*rcpt=\"<stranger$t@example.net>\"" \
        --to "stranger$t@example.net"
    verdict "[$a] relay after AUTH PLAIN as a RelayUsers member" main "$a" "250 2.1.5" \
        "relay step=authenticated client=$a .*user=\"alice\" rcpt=\"<auth$t@example.net>\" entry=\"alice\"" \
        --to "auth$t@example.net" --auth PLAIN --auth-user alice --auth-password secret123
    verdict "[$a] AUTH PLAIN as a user outside RelayUsers does not relay" main "$a" "550 5.7.1" \
        "deny step=.*user=\"bob\" rcpt=\"<bob$t@example.net>\".*auth=not-listed" \
        --to "bob$t@example.net" --auth PLAIN --auth-user bob --auth-password hunter2:with:colons
    verdict "[$a] a %-routed recipient through an accepted domain is refused" main "$a" "550 5.7.1" \
        "deny step=.*rcpt=\"<victim$t%example.net@relaypol.test>\".*route=" \
        --to "victim$t%example.net@relaypol.test"
    verdict "[$a] a source-routed recipient is refused" main "$a" "550 5.7.1" \
        "deny step=.*rcpt=\"<@relaypol.test:src$t@example.net>\"" \
        --to "@relaypol.test:src$t@example.net"
    verdict "[$a] a malformed recipient gets 501" main "$a" "501 5.1.3" \
        "deny step=bad-recipient .*rcpt=\"<bad$t..dots@relaypol.test>\"" \
        --to "bad$t..dots@relaypol.test"
done

verdict "[127.0.0.1] RelayAllowList: 127.0.0.3 may relay" main 127.0.0.1 "250 2.1.5" \
    'relay step=allow-list client=127.0.0.3 local=127.0.0.1 .*rcpt="<allow4@example.net>" entry="127.0.0.3"' \
    --to allow4@example.net --local-interface 127.0.0.3
verdict "[127.0.0.2] RelayLocalIPList: a stranger connecting to 127.0.0.2 may relay" main 127.0.0.2 "250 2.1.5" \
    'relay step=local-ip-list client=127.0.0.1 local=127.0.0.2 .*rcpt="<localip4@example.net>" entry="127.0.0.2"' \
    --to localip4@example.net --local-interface 127.0.0.1
verdict "[127.0.0.2] RelayDenyList beats RelayLocalIPList (seed order)" main 127.0.0.2 "$DENIED" \
    'deny step=deny-list client=127.0.0.4 local=127.0.0.2 .*rcpt="<denied4@example.net>" entry="127.0.0.4"' \
    --to denied4@example.net --local-interface 127.0.0.4

# IPv6 has one loopback address, so the list rules are shown over ::1 by
# reloading the policy (SIGHUP) with ::1 in a list.
reload_with() { # SECTION
    local before
    before=$(grep -c 'relaypol-smtpd: reloaded' "$TMP/main.log")
    { cat "$DIR/smtpd-test.conf"; printf '\n[%s]\n::1\n' "$1"; } >"$TMP/policy.conf"
    kill -HUP "$PID_main"
    for _ in $(seq 100); do
        [ "$(grep -c 'relaypol-smtpd: reloaded' "$TMP/main.log")" -gt "$before" ] && return 0
        sleep 0.05
    done
    return 1
}
if [ "$HAVE_V6" = 1 ]; then
    if reload_with RelayAllowList; then
        ok "SIGHUP reloads the policy"
        verdict "[::1] RelayAllowList: ::1 may relay" main ::1 "250 2.1.5" \
            'relay step=allow-list client=::1 local=::1 .*rcpt="<allow6@example.net>" entry="::1"' \
            --to allow6@example.net
    else
        not_ok "SIGHUP reloads the policy"
    fi
    if reload_with RelayLocalIPList; then
        verdict "[::1] RelayLocalIPList: connecting to ::1 allows relaying" main ::1 "250 2.1.5" \
            'relay step=local-ip-list client=::1 local=::1 .*rcpt="<localip6@example.net>" entry="::1"' \
            --to localip6@example.net
    else
        not_ok "second reload"
    fi
    # A bad policy on reload keeps the old one serving.
    echo 'RelayFlags = 99' >"$TMP/policy.conf"
    kill -HUP "$PID_main"
    for _ in $(seq 100); do
        grep -q 'reload failed' "$TMP/main.log" && break
        sleep 0.05
    done
    verdict "[::1] a bad policy on reload leaves the old one in force" main ::1 "250 2.1.5" \
        'relay step=local-ip-list client=::1 local=::1 .*rcpt="<kept6@example.net>"' \
        --to kept6@example.net
else
    skipped "IPv6 list rules: no ::1 on this machine"
fi

# ------------------------------------------------------ protocol and limits

# session SERVER SCRIPT: sends SCRIPT (lines separated by \n, sent as
# CRLF) to SERVER's 127.0.0.1 listener in one write, then collects the
# replies until the server closes or 3 s pass without a reply.
session() {
    local p fd line
    p=$(port "$1" 127.0.0.1)
    exec {fd}<>"/dev/tcp/127.0.0.1/$p" || return 1
    printf '%s' "$2" | sed 's/$/\r/' >&"$fd"
    while IFS= read -r -t 3 line <&"$fd"; do
        printf '%s\n' "${line%$'\r'}"
    done
    exec {fd}>&-
}

# expect_lines DESC OUTPUT REGEX...: OUTPUT has lines matching the
# regexes in this order.
expect_lines() {
    local desc=$1 out=$2
    shift 2
    local missing
    missing=$(awk -v n=$# 'BEGIN { for (i = 1; i <= n; i++) re[i] = ARGV[i]; ARGC = 1; k = 1 }
        k <= n && $0 ~ re[k] { k++ }
        END { if (k <= n) print re[k] }' "$@" <<<"$out")
    if [ -n "$missing" ]; then
        not_ok "$desc: no reply matching /$missing/ (in order)"
        sed 's/^/#   /' <<<"$out"
        return
    fi
    ok "$desc"
}

long=$(printf 'A%.0s' $(seq 600))
out=$(session main "EHLO t
NOOP $long
NOOP
QUIT
")
expect_lines "a 600-octet line gets 500 and the session goes on" "$out" \
    '^220 ' '^250 AUTH PLAIN' '^500 5\.5\.2 Line too long' '^250 2\.0\.0 Ok' '^221 '

out=$(session main "RCPT TO:<a@relaypol.test>
MAIL FROM:<a@example.org>
HELO
HELO t
RCPT TO:<a@relaypol.test>
MAIL FROM:<a@example.org>
MAIL FROM:<a@example.org>
DATA
RCPT TO:<ok@relaypol.test>
DATA
RSET
RCPT TO:<ok@relaypol.test>
AUTH PLAIN
FOO
QUIT
")
expect_lines "commands out of order get 503, DATA is refused with 554" "$out" \
    '^220 ' '^503 5\.5\.1 Need MAIL' '^503 5\.5\.1 Send HELO' '^501 5\.5\.4 Syntax: HELO' \
    '^250 localhost$' '^503 5\.5\.1 Need MAIL' '^250 2\.1\.0' '^503 5\.5\.1 Nested MAIL' \
    '^554 5\.5\.1 No valid recipients' '^250 2\.1\.5' '^554 5\.3\.2 ' '^250 2\.0\.0' \
    '^503 5\.5\.1 Need MAIL' '^503 5\.5\.1 Send EHLO first' '^500 5\.5\.2 Command unrecognized' '^221 '

b64() { printf "$1" | base64 | tr -d '\n'; }
out=$(session main "EHLO t
AUTH PLAIN
$(b64 '\0alice\0secret123')
MAIL FROM:<a@example.org>
RCPT TO:<two-step@example.net>
QUIT
")
expect_lines "AUTH PLAIN with the response on its own line (334)" "$out" \
    '^250 AUTH PLAIN' '^334 ?$' '^235 2\.7\.0' '^250 2\.1\.0' '^250 2\.1\.5' '^221 '

out=$(session main "EHLO t
AUTH PLAIN $(b64 '\0alice\0wrong')
AUTH PLAIN $(b64 'mallory\0alice\0secret123')
AUTH PLAIN !!notbase64
AUTH LOGIN
AUTH PLAIN $(b64 '\0alice\0secret1234')
NOOP
")
expect_lines "bad credentials get 535, authzid is refused, the third failure closes" "$out" \
    '^535 5\.7\.8' '^535 5\.7\.8' '^501 5\.5\.2' '^504 5\.5\.4' '^421 4\.7\.0 Too many authentication'
if grep -q 'secret123\|wrong' "$TMP/main.log"; then
    not_ok "passwords never reach the log"
else
    ok "passwords never reach the log"
fi

# 101 NOOPs in one write: pipelining works and the 101st command closes.
noops=$(for _ in $(seq 101); do echo NOOP; done)
out=$(session main "$noops
")
n250=$(grep -c '^250 2\.0\.0 Ok' <<<"$out")
if [ "$n250" = 100 ] && tail -1 <<<"$out" | grep -q '^421 4\.7\.0 Too many commands'; then
    ok "100 commands per connection, then 421 (pipelined)"
else
    not_ok "command limit: $n250 NOOP replies, last: $(tail -1 <<<"$out")"
fi

# A second server with small limits: 2 clients, 1 s idle timeout.
start_server small -f "$DIR/smtpd-test.conf" -c 2 -t 1 || exit 1
p=$(port small 127.0.0.1)
exec {c1}<>"/dev/tcp/127.0.0.1/$p" {c2}<>"/dev/tcp/127.0.0.1/$p"
IFS= read -r -t 3 g1 <&"$c1"
IFS= read -r -t 3 g2 <&"$c2"
exec {c3}<>"/dev/tcp/127.0.0.1/$p"
IFS= read -r -t 3 g3 <&"$c3"
if [[ "$g1" == 220* && "$g2" == 220* && "$g3" == "421 4.3.2"* ]]; then
    ok "a third client over -c 2 gets 421 4.3.2"
else
    not_ok "max clients: got '$g1' '$g2' '$g3'"
fi
IFS= read -r -t 4 i1 <&"$c1"
if [[ "$i1" == "421 4.4.2"* ]]; then
    ok "an idle client gets 421 4.4.2 after -t 1"
else
    not_ok "idle timeout: got '$i1'"
fi
exec {c1}>&- {c2}>&- {c3}>&-

# SIGTERM stops the server cleanly.
kill -TERM "$PID_small"
wait "$PID_small"
rc=$?
if [ "$rc" = 0 ] && grep -q 'relaypol-smtpd: stopped' "$TMP/small.log"; then
    ok "SIGTERM stops the server (exit 0)"
else
    not_ok "SIGTERM: exit $rc"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
