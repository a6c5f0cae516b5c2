#!/usr/bin/env bash
# relaypol probe against servers that only listen on 127.0.0.1 and ::1:
#   (a) tests/fake_smtp.py playing closed, open, greylisting, multi-line,
#       421, dropping and hanging servers: exact verdicts, final line,
#       exit status, and from the server's log that every transaction
#       ended in RSET and DATA was never sent;
#   (b) examples/smtpd's relaypol-smtpd with a closed and an open policy
#       (skipped with a message when it is not built);
#   (c) a private Postfix (the recipe of notes/postfix-loopback.md), alone
#       and with relaypol-policyd in front, closed and open (skipped with
#       a message without root, Postfix or relaypol-policyd).
#
# usage: test_probe.sh path/to/relaypol
# Environment: RELAYPOL_SMTPD, RELAYPOL_POLICYD override where the example
# servers are looked for (default: next to relaypol in the build tree).
# Every server listens on port 0 or a port checked free, is stopped by PID
# on exit and lives at most a bounded time.  Prints "N passed, N failed".
#
# SPDX-License-Identifier: BSD-2-Clause
set -u
export LC_ALL=C
export PATH="$PATH:/usr/sbin:/sbin"

R=${1:?usage: test_probe.sh path/to/relaypol}
case $R in /*) ;; *) R=$(pwd)/$R ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
FAKE=$HERE/fake_smtp.py
BUILD=$(cd "$(dirname "$R")/.." && pwd)
SMTPD=${RELAYPOL_SMTPD:-$BUILD/examples/smtpd/relaypol-smtpd}
POLICYD=${RELAYPOL_POLICYD:-$BUILD/examples/postfix-policyd/relaypol-policyd}

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is needed for the scripted SMTP server"
    exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-probe.XXXXXX") || exit 2
chmod 755 "$T"
PIDS=()
PF_ETC= # a running private Postfix's config dir
START=$(date +%s)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PF_ETC" ]; then
        postfix -c "$PF_ETC" stop >/dev/null 2>&1
        PF_ETC=
    fi
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 2' HUP INT TERM
cd "$T" || exit 2

pass=0
fail=0
ok() { pass=$((pass + 1)); }
not_ok() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

HAVE_V6=0
grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null && HAVE_V6=1

# ---------------------------------------------------------------- helpers

# fake NAME ARGS...: starts fake_smtp.py as server NAME; sets PORT.
fake() {
    local name=$1
    shift
    : >"$name.log"
    python3 "$FAKE" --port-file "$name.port" --log "$name.log" \
        --lifetime 120 "$@" 2>"$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$name.port" ] && break
        sleep 0.05
    done
    PORT=$(cat "$name.port" 2>/dev/null)
    [ -n "$PORT" ] || { not_ok "$name: fake_smtp.py did not start: $(cat "$name.err")"; return 1; }
}

# probe TARGET ARGS...: runs relaypol probe, stdout in out, stderr in err,
# status in rc.  The outer timeout only guards the test itself.
probe() {
    timeout 120 "$R" probe "$@" >out 2>err
    rc=$?
}

# Probes a fake server on 127.0.0.1 with the usual options.
probe_fake() {
    probe "127.0.0.1:$PORT" --local-domain relaypol.test --timeout 2 "$@"
}

expect_rc() {
    if [ "$rc" = "$2" ]; then ok; else
        not_ok "$1: exit status $rc, expected $2"
        sed 's/^/  | /' out err | tail -n 15
    fi
}

# expect_last NAME LINE: the last line of out.
expect_last() {
    local got
    got=$(tail -n 1 out)
    if [ "$got" = "$2" ]; then ok; else not_ok "$1: last line '$got', expected '$2'"; fi
}

expect_grep() { # NAME FILE REGEX
    if grep -E -q -e "$3" "$2"; then ok; else
        not_ok "$1: no line matching '$3' in $2"
        sed 's/^/  | /' "$2" | tail -n 10
    fi
}

expect_no_grep() { # NAME FILE REGEX
    if grep -E -q -e "$3" "$2"; then
        not_ok "$1: unexpected line matching '$3' in $2"
        grep -E -e "$3" "$2" | head -n 5 | sed 's/^/  | /'
    else ok; fi
}

# verdict CASE: the verdict column of a case in the table in out.
verdict() {
    awk -v c="$1" '/^CASE /{f=1; next} f && ($1 == c || $1 == c "*") { print $NF; exit }' out
}

expect_verdict() { # NAME CASE VERDICT
    local got
    got=$(verdict "$2")
    if [ "$got" = "$3" ]; then ok; else not_ok "$1: case $2 is '$got', expected '$3'"; fi
}

# The cases of the battery, read from the table of the last run.
cases() { awk '/^CASE /{f=1; next} f && NF == 0 {exit} f {print $1}' out; }

# expect_all NAME VERDICT: every relay case (not the controls) has it.
expect_all() {
    local bad
    bad=$(awk -v v="$2" '/^CASE /{f=1; next} f && NF == 0 {exit}
        f && $1 !~ /\*$/ && $NF != v {print $1 "=" $NF}' out)
    if [ -z "$bad" ] && [ "$(cases | wc -l)" -ge 30 ]; then ok; else
        not_ok "$1: not every relay case is $2: $bad"
    fi
}

PLAIN_CASES="plain null-sender local-sender localhost-sender unqualified-sender own-literal-sender"

# expect_json NAME PYTHON-EXPR: out is one JSON document d for which the
# expression holds.
expect_json() {
    if python3 -c '
import json, sys
d = json.load(open("out"))
c = {x["case"]: x for x in d["cases"]}
s = d["summary"]
sys.exit(0 if eval(sys.argv[1]) else 1)
' "$2" 2>jerr; then ok; else
        not_ok "$1: JSON check failed: $2"
        head -c 600 out | sed 's/^/  | /'
        sed 's/^/  | /' jerr
    fi
}

# expect_safe NAME LOG: the server saw no DATA/BDAT, only the expected
# verbs, every MAIL was followed by RSET before the next MAIL, and a QUIT.
expect_safe() {
    if awk '
        { v = toupper(substr($2, 1, 4)) }
        v == "DATA" || v == "BDAT" { print "line " NR ": " $0; bad = 1 }
        v !~ /^(EHLO|HELO|MAIL|RCPT|RSET|QUIT)$/ { print "line " NR ": " $0; bad = 1 }
        v == "MAIL" { if (open[$1]) { print "line " NR ": MAIL without RSET"; bad = 1 } open[$1] = 1 }
        v == "RSET" { open[$1] = 0 }
        v == "QUIT" { quit = 1 }
        END { if (!quit) { print "no QUIT"; bad = 1 } exit bad }
    ' "$2" >safe.err; then ok; else
        not_ok "$1: the probe's commands were not safe:"
        sed 's/^/  | /' safe.err | head -n 5
    fi
}

count() { grep -c -E -e "$2" "$1"; }

expect_eq() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then ok; else not_ok "$1: got '$2', expected '$3'"; fi
}

# ---------------------------------------------------- (a) scripted servers

# Usage errors: status 2, a message, nothing on stdout.
probe
expect_rc "no arguments" 2
probe 127.0.0.1:25
expect_rc "no --local-domain" 2
expect_grep "no --local-domain message" err "no local domain given"
probe 127.0.0.1:99999 --local-domain relaypol.test
expect_rc "bad port" 2
probe '[::1' --local-domain relaypol.test
expect_rc "bad bracket" 2
probe 127.0.0.1 --local-domain 'relaypol.test>'
expect_rc "bad local domain" 2
probe 127.0.0.1 --local-domain relaypol.test --from $'a@b\r\nDATA'
expect_rc "--from with a line break" 2
expect_grep "--from with a line break message" err "bad --from"
probe 127.0.0.1 --local-domain relaypol.test --timeout 0
expect_rc "--timeout 0" 2
probe 127.0.0.1 --local-domain example.net
expect_rc "local = external" 2
probe --help
expect_rc "--help" 0
expect_grep "--help text" out "never sent"

# Connection refused: a port that was free a moment ago.
fake gone || true
GONE_PID=${PIDS[${#PIDS[@]}-1]}
kill "$GONE_PID" 2>/dev/null
wait "$GONE_PID" 2>/dev/null
probe_fake
expect_rc "connection refused" 2
expect_grep "connection refused message" err "cannot connect"
[ -s out ] && not_ok "connection refused: something on stdout" || ok

# Closed: only <relaytest@relaypol.test> is accepted.
if fake closed; then
    probe_fake
    expect_rc "closed" 0
    expect_last "closed" "no open relay found"
    expect_all "closed" refused
    expect_verdict "closed" local accepted
    expect_verdict "closed" own-literal refused
    expect_grep "closed: the table" out '^percent +<relaytest@example\.net> +RCPT TO:<relaytest%example\.net@relaypol\.test> +550 5\.7\.1 relaying denied +refused$'
    expect_grep "closed: own literal sender" out '^own-literal-sender +<relaytest@\[127\.0\.0\.1\]> '
    expect_grep "closed: counts" out '^0 accepted, 30 refused, 0 deferred, 0 errors, 0 not run \(31 cases\)$'
    expect_grep "closed: greeting" out '^greeting: 220 fake\.relaypol\.test'
    expect_grep "closed: EHLO" out '^greeted with: EHLO relaypol-probe\.example\.net$'
    expect_grep "closed: per-case progress on a non-tty stderr" err '^relaypol probe: 31/31 trailing-dot: refused \(550\)$'
    expect_no_grep "closed: no terminal escapes on a non-tty" err $'\033'
    expect_safe "closed" closed.log
    expect_eq "closed: one transaction per case" "$(count closed.log ' MAIL FROM:')" 31
    expect_eq "closed: one RSET per case" "$(count closed.log ' RSET$')" 31
    expect_eq "closed: one connection" "$(cut -d' ' -f1 closed.log | sort -u | wc -l)" 1

    probe_fake --json
    expect_rc "closed --json" 0
    expect_json "closed --json" 's["result"] == "no open relay found" and not s["open_relay"] and s["complete"] and s["cases"] == 31 == len(d["cases"]) and s["refused"] == 30 and c["local"]["verdict"] == "accepted" and c["local"]["control"] and c["percent"]["rcpt_to"] == "<relaytest%example.net@relaypol.test>" and c["percent"]["code"] == 550 and c["null-sender"]["mail_from"] == "<>" and c["plain"]["command"] == "RCPT TO:<relaytest@example.net>"'

    probe_fake --external-domain other.example --from '<>' --helo probe.example
    expect_rc "closed, other names" 0
    expect_verdict "closed, other names" plain refused
    expect_grep "closed, other names: recipient" out '^plain +<> +RCPT TO:<relaytest@other\.example> '
    expect_grep "closed, other names: HELO" closed.log '^[0-9]+ EHLO probe\.example$'
fi

# Open: everything is accepted.
if fake open --accept .; then
    probe_fake
    expect_rc "open" 1
    expect_last "open" "OPEN RELAY"
    expect_all "open" ACCEPTED
    expect_verdict "open" local accepted
    expect_verdict "open" own-literal accepted
    expect_grep "open: counts" out '^29 accepted, 0 refused'
    expect_safe "open" open.log
    probe_fake --json
    expect_rc "open --json" 1
    expect_json "open --json" 's["open_relay"] and s["result"] == "OPEN RELAY" and s["accepted"] == 29 and c["percent"]["verdict"] == "ACCEPTED"'
fi

# One trick open: the %-hack to the local domain (an old sendmail).
if fake percent --accept '^<relaytest(%example\.net)?@relaypol\.test>$'; then
    probe_fake
    expect_rc "percent only" 1
    expect_last "percent only" "OPEN RELAY"
    for c in percent percent-null-sender percent-local-sender; do
        expect_verdict "percent only" $c ACCEPTED
    done
    for c in $PLAIN_CASES bang source-route quoted-at percent-local-dot; do
        expect_verdict "percent only" $c refused
    done
    expect_grep "percent only: counts" out '^3 accepted, 27 refused'
fi

# MAIL FROM refused: the null sender is turned away at MAIL.
if fake nomail --refuse-mail '^<>$'; then
    probe_fake
    expect_rc "MAIL refused" 0
    expect_grep "MAIL refused: the MAIL command is shown" out '^null-sender +<> +MAIL FROM:<> +553 5\.1\.8 sender refused +refused$'
    expect_safe "MAIL refused" nomail.log
fi
# No RCPT after a refused MAIL: RSET comes right after it.
if [ -s nomail.log ]; then
    bad=$(awk '$2 == "MAIL" && $3 == "FROM:<>" { getline; if ($2 != "RSET") print }' nomail.log)
    expect_eq "MAIL refused: RSET right after the refused MAIL" "$bad" ""
fi

# Greylisting: outside recipients get 450.  Deferred is not refused and
# not accepted; the run still completes with status 0.
if fake grey --defer 'example\.net>$'; then
    probe_fake
    expect_rc "greylisting" 0
    expect_last "greylisting" "no open relay found"
    expect_verdict "greylisting" plain deferred
    expect_verdict "greylisting" source-route deferred
    expect_verdict "greylisting" percent refused
    expect_grep "greylisting: note" out '^note: deferred \(4xx\) cases were not decided'
    probe_fake --json
    expect_json "greylisting --json" 's["deferred"] == 9 and c["plain"]["code"] == 450 and s["complete"]'
fi

# Multi-line replies, written line by line; a bare "250" to RSET.
if fake multi --multiline; then
    probe_fake
    expect_rc "multi-line" 0
    expect_last "multi-line" "no open relay found"
    expect_verdict "multi-line" local accepted
    expect_grep "multi-line greeting" out '^greeting: 220-fake\.relaypol\.test ESMTP fake_smtp / 220-a multi-line greeting / 220 third line$'
    expect_grep "multi-line reply in the table" out '^plain +.* 550-5\.7\.1 relaying denied / 550-second line'
    expect_safe "multi-line" multi.log
    probe_fake --json
    expect_json "multi-line --json keeps every line" 'c["plain"]["reply"] == "550-5.7.1 relaying denied\n550-second line of the refusal\n550 third line" and d["greeting"].count("\n") == 2'
fi

# 421 at the 5th RCPT, once (Postfix's "too many errors"): a session that
# got cases done is followed by a fresh one that redoes the case.
if fake c421 --close-at 5; then
    probe_fake
    expect_rc "421 once" 0
    expect_last "421 once" "no open relay found"
    expect_verdict "421 once" localhost-sender refused
    expect_grep "421 once: note" out '^note: the server ended 1 session with 421; the probe reconnected and went on\.$'
    expect_eq "421 once: two connections" "$(cut -d' ' -f1 c421.log | sort -u | wc -l)" 2
    expect_eq "421 once: the case is redone" "$(count c421.log '^[0-9]+ MAIL FROM:<relaytest@localhost>$')" 2
fi

# 421 to every RCPT from the 5th on: the fresh session gets 421 before
# any progress, so the probe stops and reports, status 2.
if fake c421stop --close-from 5; then
    probe_fake
    expect_rc "421 stop" 2
    expect_last "421 stop" "incomplete: no open relay found in 4 of 31 cases"
    expect_verdict "421 stop" localhost-sender error
    expect_verdict "421 stop" unqualified-sender not-run
    expect_verdict "421 stop" trailing-dot not-run
    expect_grep "421 stop: reply shown" out '^localhost-sender +.* 421 4\.7\.0 fake\.relaypol\.test closing +error$'
    expect_grep "421 stop: note" out '^note: the server ended the session with 421\.$'
    expect_eq "421 stop: one reconnection" "$(cut -d' ' -f1 c421stop.log | sort -u | wc -l)" 2
    expect_no_grep "421 stop: nothing sent after 421" c421stop.log '^[0-9]+ MAIL FROM:<relaytest>$'
fi
# ... but what was accepted before the 421 still counts.
if fake c421open --close-from 5 --accept .; then
    probe_fake --json
    expect_rc "421 after an accepted case" 1
    expect_json "421 after an accepted case --json" 's["open_relay"] and s["stopped_by_421"] and s["sessions_ended_by_421"] == 1 and not s["complete"] and s["not_run"] == 26 and s["accepted"] == 3'
fi

# A dropped connection at the 3rd RCPT: reconnect once, redo the case,
# go on; the verdicts are as if nothing happened.
if fake drop --drop-at 3; then
    probe_fake
    expect_rc "drop once" 0
    expect_last "drop once" "no open relay found"
    expect_verdict "drop once" null-sender refused
    expect_eq "drop once: two connections" "$(cut -d' ' -f1 drop.log | sort -u | wc -l)" 2
    expect_eq "drop once: null sender tried twice" "$(count drop.log '^[0-9]+ MAIL FROM:<>$')" 3
    expect_grep "drop once: the second session greets again" drop.log '^2 EHLO '
fi

# A server that drops every RCPT: each case is retried once, then the
# probe gives up after a bounded number of reconnections: status 2.
if fake dropall --drop-always; then
    t0=$(date +%s)
    probe_fake
    expect_rc "drop always" 2
    expect_grep "drop always: gives up" err 'giving up after 5 reconnections'
    expect_verdict "drop always" local error
    expect_verdict "drop always" plain error
    expect_verdict "drop always" null-sender error
    expect_grep "drop always: last line" out '^incomplete: no open relay found in 0 of 31 cases$'
    expect_eq "drop always: bounded connections" "$(cut -d' ' -f1 dropall.log | sort -u | wc -l)" 6
    [ $(($(date +%s) - t0)) -lt 20 ] && ok || not_ok "drop always took too long"
fi

# A server that stops answering at the 2nd RCPT: the step times out
# (--timeout 1), the probe reconnects and redoes the case.
if fake hang --hang-at 2; then
    t0=$(date +%s)
    probe "127.0.0.1:$PORT" --local-domain relaypol.test --timeout 1
    expect_rc "hang" 0
    expect_verdict "hang" plain refused
    expect_eq "hang: two connections" "$(cut -d' ' -f1 hang.log | sort -u | wc -l)" 2
    [ $(($(date +%s) - t0)) -lt 15 ] && ok || not_ok "hang took too long"
fi

# EHLO refused (an RFC 821 server): HELO instead.
if fake helo --no-ehlo; then
    probe_fake
    expect_rc "HELO fallback" 0
    expect_grep "HELO fallback" out '^greeted with: HELO relaypol-probe\.example\.net$'
    expect_grep "HELO fallback: HELO sent" helo.log '^1 HELO relaypol-probe\.example\.net$'
fi

# The session refused at the greeting.
if fake refuse --greeting '554 5.7.1 no service for you'; then
    probe_fake
    expect_rc "554 greeting" 2
    expect_grep "554 greeting message" err 'refused the session: 554 5\.7\.1 no service for you'
    [ -s out ] && not_ok "554 greeting: something on stdout" || ok
fi
if fake busy --greeting '421 4.3.2 busy'; then
    probe_fake
    expect_rc "421 greeting" 2
fi

# IPv6: [::1]:PORT, and the server's own literal is an IPv6 literal.
if [ $HAVE_V6 = 1 ]; then
    if fake v6 --ipv6; then
        probe "[::1]:$PORT" --local-domain relaypol.test --timeout 2 --ipv6
        expect_rc "IPv6" 0
        expect_last "IPv6" "no open relay found"
        expect_grep "IPv6 own literal" v6.log 'RCPT TO:<relaytest@\[IPv6:::1\]>$'
        expect_grep "IPv6 server line" out '^server: ::1 port [0-9]+ \(::1\)$'
        probe "127.0.0.1:$PORT" --local-domain relaypol.test --timeout 2 --ipv6
        expect_rc "--ipv6 with an IPv4 address" 2
    fi
else
    echo "# no ::1 here: IPv6 cases skipped"
fi

# Everything any fake server ever saw: never DATA.
cat ./*.log >all.log 2>/dev/null
expect_no_grep "no DATA or BDAT, ever" all.log '^[0-9]+ (DATA|BDAT)'

# ------------------------------------------------------ (b) relaypol-smtpd

# start_smtpd NAME POLICY: sets PORT from its ready file.
start_smtpd() {
    "$SMTPD" -f "$2" -l 127.0.0.1:0 -w "$1.ready" -t 60 2>"$1.smtpd.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$1.ready" ] && break
        sleep 0.05
    done
    PORT=$(awk '$1 == "127.0.0.1" { print $2 }' "$1.ready" 2>/dev/null)
    [ -n "$PORT" ] || { not_ok "$1: relaypol-smtpd did not start: $(cat "$1.smtpd.err")"; return 1; }
}

if [ -x "$SMTPD" ]; then
    cat >closed.conf <<'EOF'
# Closed: only 127.0.0.3 (not us) may relay.
RelayFlags = deny + allow + local-ip + auth
AcceptedDomains = relaypol.test
AuthRequiresTLS = no

[RelayAllowList]
127.0.0.3
EOF
    cat >open.conf <<'EOF'
# Deliberately open: flag 1 alone and nobody denied.
RelayFlags = 1
AcceptedDomains = relaypol.test

[RelayDenyList]
EOF
    if start_smtpd sclosed closed.conf; then
        probe_fake
        expect_rc "smtpd closed" 0
        expect_last "smtpd closed" "no open relay found"
        expect_all "smtpd closed" refused
        expect_verdict "smtpd closed" local accepted
        expect_verdict "smtpd closed" own-literal accepted
        expect_grep "smtpd closed: relaypol's reply" out '^plain +.* 550 5\.7\.1 '
    fi
    if start_smtpd sopen open.conf; then
        probe_fake
        expect_rc "smtpd open" 1
        expect_last "smtpd open" "OPEN RELAY"
        for c in $PLAIN_CASES percent bang source-route quoted-at external-literal external-ipv6-literal upper-external trailing-dot; do
            expect_verdict "smtpd open" $c ACCEPTED
        done
    fi
else
    echo "# SKIP (b): no relaypol-smtpd at $SMTPD (build examples/smtpd)"
fi

# ------------------------------------------------- (c) a private Postfix

postfix_skip() { echo "# SKIP (c): $*"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

free_port() {
    local base=$((20000 + ($$ * 53) % 30000)) p
    for i in $(seq 0 200); do
        p=$((base + i * 11))
        port_open 127.0.0.1 $p || port_open 127.0.0.3 $p || { echo $p; return 0; }
    done
    return 1
}

run_postfix() {
    [ "$(id -u)" = 0 ] || { postfix_skip "a private Postfix needs root"; return; }
    for p in postfix postconf; do
        command -v $p >/dev/null 2>&1 || { postfix_skip "$p is not installed (apt-get install postfix)"; return; }
    done
    getent passwd postfix >/dev/null && [ -f /etc/postfix/master.cf ] ||
        { postfix_skip "the postfix package is incomplete"; return; }
    [ -x "$POLICYD" ] || { postfix_skip "no relaypol-policyd at $POLICYD"; return; }

    local P=$T/pf sport pdport
    sport=$(free_port) || { not_ok "postfix: no free port"; return; }
    cat >pclosed.conf <<'EOF'
RelayFlags = deny + allow + local-ip + auth
AcceptedDomains = relaypol.test
AuthRequiresTLS = no

[RelayAllowList]
127.0.0.2
EOF
    cp pclosed.conf policyd.conf
    "$POLICYD" --policy "$T/policyd.conf" --listen 127.0.0.1:0 2>policyd.err &
    local pd=$!
    PIDS+=($pd)
    for _ in $(seq 50); do
        grep -q ready policyd.err && break
        sleep 0.1
    done
    pdport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' policyd.err | head -n 1)
    [ -n "$pdport" ] || { not_ok "postfix: relaypol-policyd did not start: $(cat policyd.err)"; return; }

    mkdir -p "$P/etc" "$P/spool" "$P/data" "$P/logs"
    chown postfix "$P/data" && chmod 700 "$P/data"
    cat >"$P/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
meta_directory = /etc/postfix
maillog_file = $P/logs/maillog
maillog_file_prefixes = /var, /dev/stdout, $P/logs
myhostname = mx.relaypol.test
mydomain = relaypol.test
mydestination = relaypol.test, mx.relaypol.test, localhost
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 192.0.2.1/32
default_transport = discard:outbound delivery disabled in relaypol test
relay_transport = discard:outbound delivery disabled in relaypol test
local_transport = discard:local
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_policy_service_timeout = 20s
# No 1 s pause per error after the 10th: the test would crawl.  The hard
# limit (20 errors, then 421) stays, and the probe has to get past it.
smtpd_error_sleep_time = 0s
EOF
    # 127.0.0.3 is the "inside" listener: everyone on loopback is in
    # mynetworks there, so Postfix alone is an open relay on it.
    awk -v port="$sport" '
        /^smtp[ \t]+inet/ {
            print "127.0.0.1:" port " inet n - n - - smtpd"
            print "127.0.0.3:" port " inet n - n - - smtpd"
            print "  -o syslog_name=postfix/inside"
            print "  -o mynetworks=127.0.0.0/8"
            skip = 1; next
        }
        skip && /^[ \t]/ { next }
        { skip = 0 }
        /^[^# \t]/ && NF >= 8 { $5 = "n" }
        { print }
    ' /etc/postfix/master.cf >"$P/etc/master.cf"
    postfix -c "$P/etc" check >pf.err 2>&1 || { not_ok "postfix check: $(cat pf.err)"; return; }
    postfix -c "$P/etc" start >pf.err 2>&1 || { not_ok "postfix start: $(cat pf.err)"; return; }
    PF_ETC=$P/etc
    local mpid=
    for _ in $(seq 50); do
        mpid=$(tr -d ' ' <"$P/spool/pid/master.pid" 2>/dev/null)
        [ -n "$mpid" ] && port_open 127.0.0.1 "$sport" && break
        sleep 0.1
    done
    port_open 127.0.0.1 "$sport" || { not_ok "postfix does not listen on $sport"; return; }
    echo "# postfix $(postconf -c "$P/etc" -h mail_version) on port $sport, relaypol-policyd on $pdport"

    # Postfix alone.
    probe "127.0.0.1:$sport" --local-domain relaypol.test --timeout 20
    expect_rc "postfix alone" 0
    expect_last "postfix alone" "no open relay found"
    expect_verdict "postfix alone" local accepted
    expect_grep "postfix alone: past smtpd_hard_error_limit's 421" out '^note: the server ended [0-9]+ sessions? with 421; the probe reconnected'
    expect_grep "postfix alone: Postfix's words" out '^plain +.* 554 5\.7\.1 <relaytest@example\.net>: Relay access denied +refused$'
    probe "127.0.0.3:$sport" --local-domain relaypol.test --timeout 20
    expect_rc "postfix alone, inside listener" 1
    expect_last "postfix alone, inside listener" "OPEN RELAY"
    expect_verdict "postfix alone, inside listener" plain ACCEPTED

    # relaypol-policyd in front, closed policy.
    postconf -c "$P/etc" -e "smtpd_relay_restrictions = check_policy_service inet:127.0.0.1:$pdport, reject_unauth_destination"
    postfix -c "$P/etc" reload >/dev/null 2>&1
    sleep 1
    probe "127.0.0.1:$sport" --local-domain relaypol.test --timeout 20
    expect_rc "postfix + policyd, closed" 0
    expect_last "postfix + policyd, closed" "no open relay found"
    expect_verdict "postfix + policyd, closed" local accepted
    probe "127.0.0.1:$sport" --local-domain relaypol.test --timeout 20 --json
    expect_json "postfix + policyd, closed: relaypol's words" 'c["plain"]["code"] == 550 and "Relaying denied" in c["plain"]["reply"] and s["result"] == "no open relay found"'

    # relaypol-policyd in front, open policy.
    cp open.conf policyd.conf 2>/dev/null || printf 'RelayFlags = 1\nAcceptedDomains = relaypol.test\n' >policyd.conf
    kill -HUP "$pd"
    for _ in $(seq 50); do
        [ "$(grep -c -i 'loaded\|reloaded' policyd.err)" -ge 2 ] && break
        sleep 0.1
    done
    sleep 0.5
    probe "127.0.0.1:$sport" --local-domain relaypol.test --timeout 20
    expect_rc "postfix + policyd, open" 1
    expect_last "postfix + policyd, open" "OPEN RELAY"
    for c in $PLAIN_CASES; do
        expect_verdict "postfix + policyd, open" $c ACCEPTED
    done
    grep -q -E '(DATA|BDAT)' "$P/logs/maillog" && not_ok "postfix saw DATA" || ok

    postfix -c "$P/etc" stop >/dev/null 2>&1
    PF_ETC=
    for _ in $(seq 50); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$mpid" 2>/dev/null && not_ok "postfix master $mpid still running" || ok
}
run_postfix

echo "$pass passed, $fail failed ($(($(date +%s) - START)) s)"
[ "$fail" = 0 ]
