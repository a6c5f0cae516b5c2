#!/bin/bash
# End-to-end test of relaypol-policyd behind a real Postfix.
#
# Builds a private Postfix instance in a temporary directory (the recipe of
# shared/notes/postfix-loopback.md), listening on 127.0.0.1, 127.0.0.3 and
# ::1 at a free non-standard port, with
#   smtpd_relay_restrictions = check_policy_service inet:127.0.0.1:PORT,
#                              reject_unauth_destination
# starts relaypol-policyd, and drives Postfix with swaks (--quit-after RCPT,
# so nothing is ever queued; the transports discard anyway).  It asserts
# the SMTP code of every RCPT, that relaypol decided each one, then reloads
# a broken policy (nothing changes, the log names file:line:column) and a
# new one (the change shows).  Everything it starts is stopped by PID on
# exit, also on failure, and the ports are checked closed.
#
# Installs nothing: without root, Postfix, swaks or saslpasswd2 it prints
# why and exits 77 (meson's "skipped").  .ci/run installs the packages.
#
# Environment: POLICYD (the server binary; or $1), KEEP=1 keeps the
# temporary directory.
set -u
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

skip() { echo "SKIP: $*"; exit 77; }

POLICYD=${POLICYD:-${1:-}}
[ -n "$POLICYD" ] && [ -x "$POLICYD" ] || { echo "FAIL: set POLICYD to relaypol-policyd"; exit 1; }
[ "$(id -u)" = 0 ] || skip "a private Postfix instance needs root (postfix start); run as root"
for p in postfix postconf saslpasswd2 swaks; do
    command -v "$p" >/dev/null 2>&1 ||
        skip "$p is not installed (apt-get install postfix swaks sasl2-bin; .ci/run installs them)"
done
getent passwd postfix >/dev/null || skip "no 'postfix' user: the postfix package is incomplete"
[ -f /etc/postfix/master.cf ] || skip "/etc/postfix/master.cf missing: the postfix package is incomplete"

T=$(mktemp -d /tmp/relaypol-postfix.XXXXXX) || exit 1
chmod 755 "$T" # smtpd (user postfix) reads the SASL files below it
P=$T/pf
POLICY=$T/policy.conf
PDLOG=$T/policyd.log
PD_PID=
MASTER_PID=
CHILD_PIDS=
SMTP_PORT=
PD_PORT=
FAILS=0
CHECKS=0
START=$(date +%s)

HAVE_V6=0
grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null && HAVE_V6=1

# ------------------------------------------------------------------ cleanup

port_open() { # HOST PORT: is something accepting there?
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

cleanup() {
    local rc=$? left=0
    trap - EXIT INT TERM
    if [ -n "$MASTER_PID" ]; then
        CHILD_PIDS="$CHILD_PIDS $(ps -o pid= --ppid "$MASTER_PID" 2>/dev/null)"
        postfix -c "$P/etc" stop >/dev/null 2>&1 || kill -TERM "$MASTER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$MASTER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$MASTER_PID" 2>/dev/null && { echo "postfix master $MASTER_PID needed SIGKILL"; left=1; }
        # smtpd and friends leave on their own once the master is gone.
        for pid in $CHILD_PIDS; do
            for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null && echo "postfix child $pid needed SIGKILL"
        done
    fi
    if [ -n "$PD_PID" ]; then
        kill -TERM "$PD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$PD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PD_PID" 2>/dev/null && { echo "relaypol-policyd $PD_PID needed SIGKILL"; left=1; }
        wait "$PD_PID" 2>/dev/null
    fi
    # Everything we listened on must be closed again.
    if [ -n "$SMTP_PORT" ]; then
        for h in 127.0.0.1 127.0.0.3; do
            port_open $h "$SMTP_PORT" && { echo "FAIL: $h:$SMTP_PORT still open"; left=1; }
        done
        [ $HAVE_V6 = 1 ] && port_open ::1 "$SMTP_PORT" && { echo "FAIL: [::1]:$SMTP_PORT still open"; left=1; }
    fi
    if [ -n "$PD_PORT" ]; then
        port_open 127.0.0.1 "$PD_PORT" && { echo "FAIL: policy port $PD_PORT still open"; left=1; }
    fi
    [ $left = 0 ] && [ -n "$SMTP_PORT$PD_PORT" ] && echo "ok: everything stopped, ports $SMTP_PORT and $PD_PORT closed"
    if [ $rc != 0 ] || [ $left != 0 ]; then
        echo "--- policyd log (last 40 lines)"; tail -n 40 "$PDLOG" 2>/dev/null
        echo "--- postfix maillog (last 40 lines)"; tail -n 40 "$P/logs/maillog" 2>/dev/null
        [ $rc = 0 ] && rc=1
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
    echo "took $(( $(date +%s) - START )) s"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "FAIL: $*"; exit 1; }

# ---------------------------------------------------------------- the ports

# A port free on every address Postfix will listen on.  Candidates start at
# a place derived from our PID, so parallel runs rarely even collide; a
# collision between probe and bind makes "postfix start" fail loudly.
free_port() {
    local base=$(( 20000 + ($$ * 37) % 30000 )) i p
    for i in $(seq 0 200); do
        p=$(( base + i * 7 ))
        case $p in 2525|10025|10040|10041) continue ;; esac
        if command -v ss >/dev/null; then
            [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] || continue
        fi
        port_open 127.0.0.1 $p || port_open 127.0.0.3 $p || { echo $p; return 0; }
    done
    return 1
}
SMTP_PORT=$(free_port) || die "no free port found"

# --------------------------------------------------------------- the policy

# Clients are loopback addresses (swaks --local-interface): 127.0.0.1 is a
# stranger, 127.0.0.2 and 127.0.0.16/28 may relay except 127.0.0.24/29,
# whoever reaches 127.0.0.3 may relay, ::1 may relay, alice may relay once
# authenticated.  relaypol.test is this server's domain.
write_policy_1() {
    cat >"$1" <<'EOF'
# relaypol-policyd end-to-end test, policy 1
RelayFlags = deny + allow + local-ip + auth
AcceptedDomains = relaypol.test
RelayUsers = alice@relaypol.test
AuthRequiresTLS = no

[RelayDenyList]
127.0.0.24/29

[RelayAllowList]
127.0.0.2
127.0.0.16/28
::1

[RelayLocalIPList]
127.0.0.3
EOF
}
# Policy 2: the stranger 127.0.0.1 becomes allowed, 127.0.0.2 no longer is.
write_policy_2() {
    cat >"$1" <<'EOF'
# relaypol-policyd end-to-end test, policy 2
RelayFlags = deny + allow + local-ip + auth
AcceptedDomains = relaypol.test
RelayUsers = alice@relaypol.test
AuthRequiresTLS = no

[RelayDenyList]
127.0.0.24/29

[RelayAllowList]
127.0.0.1
127.0.0.16/28
::1

[RelayLocalIPList]
127.0.0.3
EOF
}
write_policy_1 "$POLICY"

# ------------------------------------------------------- relaypol-policyd

# Port 0: the kernel picks a free port and the server logs which.
"$POLICYD" --policy "$POLICY" --listen 127.0.0.1:0 --log-permits 2>"$PDLOG" &
PD_PID=$!
for _ in $(seq 50); do
    grep -q 'ready' "$PDLOG" && break
    kill -0 $PD_PID 2>/dev/null || die "relaypol-policyd did not start: $(cat "$PDLOG")"
    sleep 0.1
done
PD_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$PDLOG" | head -n 1)
[ -n "$PD_PORT" ] || die "relaypol-policyd did not say its port: $(cat "$PDLOG")"
echo "relaypol-policyd pid $PD_PID on 127.0.0.1:$PD_PORT; postfix smtpd on port $SMTP_PORT"

# ------------------------------------------------------ a private Postfix

mkdir -p "$P/etc/sasl" "$P/spool" "$P/data" "$P/logs"
chown postfix "$P/data" && chmod 700 "$P/data"
INET_PROTOCOLS=ipv4
[ $HAVE_V6 = 1 ] && INET_PROTOCOLS=all
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
inet_protocols = $INET_PROTOCOLS
# Nothing may ride on mynetworks: the policy alone decides.
mynetworks = 192.0.2.1/32
default_transport = discard:outbound delivery disabled in relaypol test
relay_transport = discard:outbound delivery disabled in relaypol test
local_transport = discard:local
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $P/etc/sasl
smtpd_relay_restrictions = check_policy_service inet:127.0.0.1:$PD_PORT, reject_unauth_destination
smtpd_policy_service_timeout = 20s
EOF
# master.cf: the distribution's, without chroot, with our listeners.
awk -v port="$SMTP_PORT" -v v6="$HAVE_V6" '
    /^smtp[ \t]+inet/ {
        print "127.0.0.1:" port " inet n - n - - smtpd"
        print "127.0.0.3:" port " inet n - n - - smtpd"
        print "  -o syslog_name=postfix/localip"
        if (v6 == 1) print "[::1]:" port " inet n - n - - smtpd"
        skip = 1; next
    }
    skip && /^[ \t]/ { next }
    { skip = 0 }
    /^[^# \t]/ && NF >= 8 { $5 = "n" }
    { print }
' /etc/postfix/master.cf >"$P/etc/master.cf"
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n' \
    "$P/etc/sasldb2" >"$P/etc/sasl/smtpd.conf"
echo secret123 | saslpasswd2 -p -f "$P/etc/sasldb2" -c -u relaypol.test alice || die "saslpasswd2 alice"
echo secret456 | saslpasswd2 -p -f "$P/etc/sasldb2" -c -u relaypol.test bob || die "saslpasswd2 bob"
chgrp postfix "$P/etc/sasldb2" && chmod 640 "$P/etc/sasldb2"

postfix -c "$P/etc" check >"$T/check.log" 2>&1 || die "postfix check: $(cat "$T/check.log")"
postfix -c "$P/etc" start >"$T/start.log" 2>&1 || die "postfix start: $(cat "$T/start.log"; tail -n 20 "$P/logs/maillog" 2>/dev/null)"
for _ in $(seq 50); do
    MASTER_PID=$(tr -d ' ' <"$P/spool/pid/master.pid" 2>/dev/null)
    [ -n "$MASTER_PID" ] && port_open 127.0.0.1 "$SMTP_PORT" && break
    sleep 0.1
done
[ -n "$MASTER_PID" ] || die "postfix master did not write its pid"
port_open 127.0.0.1 "$SMTP_PORT" || die "postfix does not listen on 127.0.0.1:$SMTP_PORT"
echo "postfix master pid $MASTER_PID (Postfix $(postconf -c "$P/etc" -h mail_version))"

# ------------------------------------------------------------------ checks

# rcpt SERVER CLIENT RCPT [swaks options]: sets REPLY to Postfix's reply
# to RCPT TO and CODE to its code (empty when there was none).
REPLY=
CODE=
rcpt() {
    local server=$1 client=$2 to=$3 out
    shift 3
    out=$(swaks --server "$server" --port "$SMTP_PORT" --local-interface "$client" \
        --helo tester.example.org --from sender@example.org --to "$to" \
        --quit-after RCPT --timeout 30 "$@" 2>&1)
    REPLY=$(printf '%s\n' "$out" | awk '/^ *-> RCPT TO:/ { f = 1; next }
        f && /^ *<[-*]/ { sub(/^ *<[-*]+ */, ""); print; exit }')
    CODE=${REPLY%% *}
}

# expect CODE DESCRIPTION SERVER CLIENT RCPT [swaks options]
expect() {
    local want=$1 what=$2
    shift 2
    CHECKS=$((CHECKS + 1))
    rcpt "$@"
    # relaypol's refusals say "Relaying denied"; Postfix's own say
    # "Relay access denied" with 554.
    if [ "$CODE" = "$want" ] && { [ "$want" != 550 ] || [[ $REPLY == *"Relaying denied"* ]]; }; then
        echo "ok $CHECKS: $what: $REPLY"
    else
        echo "FAIL $CHECKS: $what: want $want, got '${REPLY:-no answer}'"
        FAILS=$((FAILS + 1))
    fi
}

# expect_log PATTERN DESCRIPTION: the policyd log has a matching line.
expect_log() {
    CHECKS=$((CHECKS + 1))
    if grep -q -- "$1" "$PDLOG"; then
        echo "ok $CHECKS: log: $2"
    else
        echo "FAIL $CHECKS: log: $2 (no line matching '$1')"
        FAILS=$((FAILS + 1))
    fi
}

decisions() { grep -c -E 'info: (relay|local|deny) step=' "$PDLOG"; }

AUTH_ALICE=(--auth PLAIN --auth-user alice@relaypol.test --auth-password secret123)
AUTH_BOB=(--auth PLAIN --auth-user bob@relaypol.test --auth-password secret456)

# The denial code tells who decided: relaypol says 550 5.7.1, Postfix's own
# reject_unauth_destination would say 554 5.7.1.
run_policy_1_checks() {
    expect 250 "allow-listed client 127.0.0.2 relays" 127.0.0.1 127.0.0.2 victim@example.net
    expect 250 "client in allowed subnet 127.0.0.16/28 relays" 127.0.0.1 127.0.0.20 victim@example.net
    expect 550 "stranger 127.0.0.1 is refused" 127.0.0.1 127.0.0.1 victim@example.net
}

echo "== policy 1"
before=$(decisions)
run_policy_1_checks
expect 550 "deny-listed 127.0.0.25 inside the allowed subnet is refused" 127.0.0.1 127.0.0.25 victim@example.net
expect 250 "local-IP listener 127.0.0.3 lets the stranger relay" 127.0.0.3 127.0.0.1 victim@example.net
expect 250 "SASL-authenticated alice relays" 127.0.0.1 127.0.0.1 victim@example.net "${AUTH_ALICE[@]}"
expect 550 "SASL-authenticated bob (not in RelayUsers) is refused" 127.0.0.1 127.0.0.1 victim@example.net "${AUTH_BOB[@]}"
expect 550 "%-hack victim%example.net@relaypol.test is refused" 127.0.0.1 127.0.0.1 'victim%example.net@relaypol.test'
expect 550 "bang path example.net!victim@relaypol.test is refused" 127.0.0.1 127.0.0.1 'example.net!victim@relaypol.test'
expect 550 'quoted "victim@example.net"@relaypol.test (extra @) is refused' 127.0.0.1 127.0.0.1 '"victim@example.net"@relaypol.test'
expect 550 "source route @relaypol.test:victim@example.net is refused" 127.0.0.1 127.0.0.1 '@relaypol.test:victim@example.net'
expect 250 "stranger may send to the local domain" 127.0.0.1 127.0.0.1 postmaster@relaypol.test
expect 250 "stranger may send to a local user" 127.0.0.1 127.0.0.1 someone@relaypol.test
if [ $HAVE_V6 = 1 ]; then
    expect 250 "allow-listed IPv6 client ::1 relays" ::1 ::1 victim@example.net
fi
after=$(decisions)
want_decisions=$CHECKS # one RCPT per check so far
CHECKS=$((CHECKS + 1))
if [ $((after - before)) = $want_decisions ]; then
    echo "ok $CHECKS: relaypol-policyd decided all $want_decisions RCPTs"
else
    echo "FAIL $CHECKS: relaypol-policyd decided $((after - before)) of $want_decisions RCPTs"
    FAILS=$((FAILS + 1))
fi
# Seed 001: a denial names the client's IP, host name, account, recipient.
expect_log 'deny step=no-rule client=127\.0\.0\.1 local=127\.0\.0\.1 name="localhost" user=- rcpt="victim@example\.net"' \
    "the stranger's denial names client, host name, user and recipient"
expect_log 'deny step=deny-list client=127\.0\.0\.25 .* entry="127\.0\.0\.24/29" line=8 ' \
    "the deny-list denial names the entry and its line"
expect_log 'deny step=no-rule client=127\.0\.0\.1 .*user="bob@relaypol\.test" rcpt="victim@example\.net".*auth=not-listed' \
    "bob's denial names the account"
expect_log 'rcpt="victim@example\.net@relaypol\.test".*route=extra-at' \
    "Postfix hands over the quoted recipient unquoted and it is routing"
expect_log 'local step=accepted-domain .*rcpt="postmaster@relaypol\.test".* action=DUNNO' \
    "local delivery answers DUNNO"
expect_log 'relay step=authenticated .*user="alice@relaypol\.test".* action=OK' \
    "alice's relay answers OK"

# ----------------------------------------------------------------- reload

wait_log_count() { # PATTERN COUNT: wait until the log has COUNT such lines
    for _ in $(seq 100); do
        [ "$(grep -c -- "$1" "$PDLOG")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

echo "== SIGHUP with a broken policy"
# The broken file would allow the stranger (policy 2) if any part of it
# were applied; its last line is wrong.
write_policy_2 "$T/new.conf"
printf '300.1.2.3\n' >>"$T/new.conf"
BAD_LINE=$(wc -l <"$T/new.conf")
mv "$T/new.conf" "$POLICY"
kill -HUP $PD_PID
wait_log_count 'reload: keeping the previous policy' 1 || die "no reload failure logged"
expect_log "reload failed: $POLICY:$BAD_LINE:[0-9]*: " "the failed reload names $POLICY:$BAD_LINE:column"
run_policy_1_checks
kill -0 $PD_PID || die "relaypol-policyd died on a broken policy"

echo "== SIGHUP with a new policy"
write_policy_2 "$T/new.conf"
mv "$T/new.conf" "$POLICY"
kill -HUP $PD_PID
wait_log_count 'reload: new policy in force' 1 || die "no successful reload logged"
expect 250 "after reload the former stranger 127.0.0.1 relays" 127.0.0.1 127.0.0.1 victim@example.net
expect 550 "after reload 127.0.0.2 is refused" 127.0.0.1 127.0.0.2 victim@example.net
expect 250 "after reload 127.0.0.20 still relays" 127.0.0.1 127.0.0.20 victim@example.net
expect 250 "after reload the local domain still takes mail" 127.0.0.1 127.0.0.25 postmaster@relaypol.test

# Postfix itself never had to fall back on its default action.
CHECKS=$((CHECKS + 1))
if grep -q 'problem talking to server' "$P/logs/maillog"; then
    echo "FAIL $CHECKS: postfix reports trouble with the policy server:"
    grep 'problem talking to server' "$P/logs/maillog" | head -n 3
    FAILS=$((FAILS + 1))
else
    echo "ok $CHECKS: postfix had no trouble talking to the policy server"
fi

echo "$CHECKS checks, $FAILS failed"
[ $FAILS = 0 ]
