#!/bin/sh
# The command-line tool's behaviour: exact output and exit status of check,
# eval (plain and JSON) and lint, and every error path.  The verdicts are
# those of seed 001's evaluation order (issue 2); the policies are written
# here so that the test owns its inputs.
#
# usage: test_cli.sh path/to/relaypol
# Prints "N passed, N failed" last; exits 1 if anything failed.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

R=${1:?usage: test_cli.sh path/to/relaypol}
case $R in
/*) ;;
*) R=$(pwd)/$R ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/relaypol-cli.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 2' HUP INT TERM
# Messages carry the policy path; relative paths keep them short and exact.
cd "$T" || exit 2

pass=0
fail=0

ok() {
    pass=$((pass + 1))
}

not_ok() {
    fail=$((fail + 1))
    echo "FAIL: $1"
}

# run CMD...: runs with standard input from $T/in (empty unless written),
# keeping stdout in $T/out, stderr in $T/err and the status in $rc.
: >in
run() {
    "$@" <in >out 2>err
    rc=$?
}

# expect NAME RC STDOUT [STDERR]: the last run's status and exact output.
# STDOUT and STDERR are compared with one trailing newline added unless
# empty.
expect() {
    if [ -n "$3" ]; then printf '%s\n' "$3" >want; else : >want; fi
    _n=$1 _r=$2
    shift 3
    expect_want "$_n" "$_r" "$@"
}

# expect_want NAME RC [STDERR]: as expect, with stdout expected in $T/want.
expect_want() {
    _name=$1 _rc=$2
    shift 2
    set -- "$_name" "$_rc" want "$@"
    _bad=
    [ "$rc" = "$_rc" ] || _bad="exit status $rc, expected $_rc"
    cmp -s want out || _bad="${_bad:+$_bad; }stdout differs"
    if [ $# -ge 4 ]; then
        if [ -n "$4" ]; then printf '%s\n' "$4" >wante; else : >wante; fi
        cmp -s wante err || _bad="${_bad:+$_bad; }stderr differs"
    fi
    if [ -z "$_bad" ]; then
        ok
        return
    fi
    not_ok "$_name: $_bad"
    echo "--- expected stdout"
    cat want
    echo "--- got stdout"
    cat out
    if [ $# -ge 4 ]; then
        echo "--- expected stderr"
        cat wante
    fi
    echo "--- got stderr"
    cat err
}

# expect_err NAME RC PREFIX: the status, nothing on stdout, and stderr's
# first line starts with PREFIX (for messages whose wording is the
# library's and whose position is what matters here).
expect_err() {
    _line=$(head -n 1 err)
    case $_line in
    "$3"*) _prefix_ok=1 ;;
    *) _prefix_ok= ;;
    esac
    if [ "$rc" = "$2" ] && [ ! -s out ] && [ -n "$_prefix_ok" ]; then
        ok
    else
        not_ok "$1: exit status $rc (expected $2), stderr '$_line'" \
            "(expected prefix '$3')"
        cat out
    fi
}

# expect_grep NAME FILE FIXED: FILE holds the fixed string.
expect_grep() {
    if grep -F -q -e "$3" "$2"; then ok; else
        not_ok "$1: '$3' not in $2"
        cat "$2"
    fi
}

# A JSON document per line of out must parse (when python3 is there).
expect_json_lines() {
    command -v python3 >/dev/null 2>&1 || return 0
    if python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(line.decode("utf-8"))
' out 2>jerr; then ok; else
        not_ok "$1: output is not one JSON object per line"
        cat jerr
    fi
}

expect_json_doc() {
    command -v python3 >/dev/null 2>&1 || return 0
    if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' out \
        2>jerr; then ok; else
        not_ok "$1: output is not a JSON document"
        cat jerr
    fi
}

# ------------------------------------------------------------- policies

# The core issue's example policy: seed 001's "allow a subnet except a
# subset" (flags 3) plus bit 8 and the lists of every kind.
cat >seed.pol <<'EOF'
# relaypol test policy
RelayFlags = 11
AcceptedDomains = example.com, *.example.org

[RelayDenyList]
192.168.1.0;255.255.255.248

[RelayAllowList]
192.168.1.0;255.255.255.0
2001:db8::/32

[RelayLocalIPList]
10.0.0.25
EOF

# Seed 001: "All clients not explicitly denied can relay" (flags 1).
cat >open.pol <<'EOF'
RelayFlags = 1
[RelayDenyList]
192.168.17.0;255.255.255.0
EOF

# Seed 001: interfaces (bit 3) and authenticated clients (bit 4), with
# authentication counting only over TLS.
cat >iface.pol <<'EOF'
RelayFlags = 12
AuthRequiresTLS = yes
AcceptedDomains = example.com
[RelayLocalIPList]
10.0.0.25
EOF

# An entry with host bits set: refused unless --literal-masks.
cat >hostbits.pol <<'EOF'
RelayFlags = 2
[RelayAllowList]
192.168.1.5;255.255.255.0
EOF

# A policy lint finds nothing to say about.
cat >clean.pol <<'EOF'
RelayFlags = 2
AcceptedDomains = example.com
[RelayAllowList]
192.0.2.0/24
EOF

# Errors at known positions.
cat >badline.pol <<'EOF'
RelayFlags = 2
[RelayAllowList]
10.1;255.0.0.0
EOF
printf 'RelayFlags = 16\n' >badflags.pol

# ---------------------------------------------------------------- check

run "$R" check -p seed.pol --client 192.168.1.9 '<user@outside.example>'
expect "check: allow list" 0 'verdict: relay
step: allow-list
entry: 192.168.1.0;255.255.255.0 (line 9)
reply: 250 2.1.5 Ok
explanation: relay step=allow-list client=192.168.1.9 user=- rcpt="<user@outside.example>" entry="192.168.1.0;255.255.255.0" line=9' ''

# Seed: 192.168.1.1 through .7 denied although the allow list holds them.
run "$R" check -p seed.pol --client 192.168.1.3 '<user@outside.example>'
expect "check: deny list wins over allow list" 1 'verdict: deny
step: deny-list
entry: 192.168.1.0;255.255.255.248 (line 6)
reply: 550 5.7.1 Relaying denied
explanation: deny step=deny-list client=192.168.1.3 user=- rcpt="<user@outside.example>" entry="192.168.1.0;255.255.255.248" line=6' ''

run "$R" check -p seed.pol --client 198.51.100.7 --local 10.0.0.25 \
    --client-name mx.outside.example '<user@outside.example>'
expect "check: no rule (local list bit off)" 1 'verdict: deny
step: no-rule
entry: (none)
reply: 550 5.7.1 Relaying denied
explanation: deny step=no-rule client=198.51.100.7 local=10.0.0.25 name="mx.outside.example" user=- rcpt="<user@outside.example>"'

run "$R" check -p seed.pol --client 198.51.100.7 --auth alice \
    '<user%elsewhere.example@outside.example>'
expect "check: authenticated relay, routed recipient" 0 'verdict: relay
step: authenticated
entry: (none)
route: percent
auth: used
reply: 250 2.1.5 Ok
explanation: relay step=authenticated client=198.51.100.7 user="alice" rcpt="<user%elsewhere.example@outside.example>" route=percent auth=used'

run "$R" check -p seed.pol --client 198.51.100.7 '<info@Mail.Example.ORG>'
expect "check: accepted domain wildcard" 0 'verdict: local
step: accepted-domain
entry: *.example.org (line 3)
reply: 250 2.1.5 Ok
explanation: local step=accepted-domain client=198.51.100.7 user=- rcpt="<info@Mail.Example.ORG>" entry="*.example.org" line=3'

run "$R" check -p seed.pol --client 198.51.100.7 '<a..b@outside.example>'
expect "check: malformed recipient" 1 'verdict: deny
step: bad-recipient
entry: (none)
recipient error: malformed local part
reply: 501 5.1.3 Bad recipient address syntax
explanation: deny step=bad-recipient client=198.51.100.7 user=- rcpt="<a..b@outside.example>" error="malformed local part"'

# A mapped client is decided as its IPv4 address: no deny-list bypass.
run "$R" check -p seed.pol --client ::ffff:192.168.1.2 '<u@outside.example>'
expect_grep "check: mapped client hits the deny list" out "step: deny-list"
[ "$rc" = 1 ] && ok || not_ok "check: mapped client exit status $rc"

run "$R" check -p iface.pol --client 198.51.100.7 --auth bob --tls \
    '<u@outside.example>'
expect_grep "check: --tls makes AUTH count" out "step: authenticated"
run "$R" check -p iface.pol --client 198.51.100.7 --auth bob \
    '<u@outside.example>'
expect_grep "check: AUTH without TLS does not count" out "auth: no-tls"
[ "$rc" = 1 ] && ok || not_ok "check: AUTH without TLS exit status $rc"

run "$R" check -p iface.pol --client 198.51.100.7 --internal-rcpt \
    'john smith@example.com'
expect_grep "check: --internal-rcpt" out "verdict: local"

# Options may follow the operand, and take --opt=value.
run "$R" check '<u@outside.example>' --policy=open.pol --client=203.0.113.1
expect_grep "check: options after the operand" out "step: only-deny-bit"

# --------------------------------------------------------- check errors

run "$R" check -p nonexistent.pol --client 192.0.2.1 '<u@x.example>'
expect_err "check: missing policy file" 2 "relaypol: nonexistent.pol: "

run "$R" check -p badline.pol --client 192.0.2.1 '<u@x.example>'
expect_err "check: bad policy line names file:line:col" 2 \
    "relaypol: badline.pol:3:5: "

run "$R" check -p badflags.pol --client 192.0.2.1 '<u@x.example>'
expect_err "check: RelayFlags out of range" 2 "relaypol: badflags.pol:1:"

run "$R" check -p hostbits.pol --client 192.168.1.5 '<u@x.example>'
expect_err "check: host bits refused" 2 "relaypol: hostbits.pol:3:1: "

run "$R" check -p hostbits.pol --literal-masks --client 192.168.1.5 \
    '<u@x.example>'
expect_grep "check: --literal-masks keeps the entry, which never matches" \
    out "step: no-rule"

run "$R" check -p seed.pol --client 010.0.0.1 '<u@x.example>'
expect "check: octal client address" 2 '' \
    'relaypol: --client: "010.0.0.1" is not a valid IPv4 or IPv6 address'

run "$R" check -p seed.pol --client 192.0.2.1 --local 10.1 '<u@x.example>'
expect "check: shorthand local address" 2 '' \
    'relaypol: --local: "10.1" is not a valid IPv4 or IPv6 address'

run "$R" check -p seed.pol '<u@x.example>'
expect "check: no --client" 2 '' "relaypol check: no client given (--client IP)
Try 'relaypol check --help'."

run "$R" check --client 192.0.2.1 '<u@x.example>'
expect "check: no policy" 2 '' "relaypol check: no policy given (-p POLICY)
Try 'relaypol check --help'."

run "$R" check -p seed.pol --client 192.0.2.1
expect "check: no recipient" 2 '' "relaypol check: no recipient given
Try 'relaypol check --help'."

run "$R" check -p seed.pol --client 192.0.2.1 --frobnicate '<u@x.example>'
expect "check: unknown option" 2 '' "relaypol check: unknown option '--frobnicate'
Try 'relaypol check --help'."

run "$R" check -p seed.pol --client
expect "check: option without its value" 2 '' "relaypol check: option '--client' needs a value
Try 'relaypol check --help'."

run "$R" check -p seed.pol --tls=yes --client 192.0.2.1 '<u@x.example>'
expect "check: value for a flag" 2 '' "relaypol check: option '--tls' takes no value
Try 'relaypol check --help'."

run "$R" check -p seed.pol --client 192.0.2.1 '<a@x.example>' '<b@x.example>'
expect "check: two recipients" 2 '' "relaypol check: one recipient only (quote a recipient that holds spaces)
Try 'relaypol check --help'."

# ----------------------------------------------------------------- eval

cat >in <<'EOF'
192.168.1.9 - - <user@outside.example>
192.168.1.3 - - <user@outside.example>
192.168.1.0 - - <user@outside.example>
192.168.2.1 - - <user@outside.example>
198.51.100.7 - alice <user@outside.example>
198.51.100.7 10.0.0.25 - <user@outside.example>
2001:db8::5 - - <user@outside.example>
::ffff:192.168.1.4 - - <user@outside.example>
198.51.100.7 - - <postmaster@example.com>
198.51.100.7 - - <x@a.b.example.org>
198.51.100.7 - - <x@example.org>
198.51.100.7 - - <x@evilexample.com>

# comment lines and empty lines give no result
   	198.51.100.7   -	-	  <"john smith"@example.com>  NOTIFY=NEVER
EOF
printf '198.51.100.7 - - <crlf@example.com>\r\n' >>in
printf '198.51.100.7 - - <no-newline@example.com>' >>in
run "$R" eval -p seed.pol
expect "eval: seed policy, plain" 0 'relay allow-list entry=192.168.1.0;255.255.255.0 line=9 reply="250 2.1.5 Ok"
deny deny-list entry=192.168.1.0;255.255.255.248 line=6 reply="550 5.7.1 Relaying denied"
deny deny-list entry=192.168.1.0;255.255.255.248 line=6 reply="550 5.7.1 Relaying denied"
deny no-rule reply="550 5.7.1 Relaying denied"
relay authenticated reply="250 2.1.5 Ok" auth=used
deny no-rule reply="550 5.7.1 Relaying denied"
relay allow-list entry=2001:db8::/32 line=10 reply="250 2.1.5 Ok"
deny deny-list entry=192.168.1.0;255.255.255.248 line=6 reply="550 5.7.1 Relaying denied"
local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"
local accepted-domain entry=*.example.org line=3 reply="250 2.1.5 Ok"
deny no-rule reply="550 5.7.1 Relaying denied"
deny no-rule reply="550 5.7.1 Relaying denied"
local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"
local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"
local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"' ''

run "$R" eval -p seed.pol --json
expect "eval: seed policy, JSON" 0 '{"line":1,"verdict":"relay","step":"allow-list","reply":"250 2.1.5 Ok","entry":"192.168.1.0;255.255.255.0","entry_line":9,"client":"192.168.1.9","route":[],"auth":"none","explanation":"relay step=allow-list client=192.168.1.9 user=- rcpt=\"<user@outside.example>\" entry=\"192.168.1.0;255.255.255.0\" line=9"}
{"line":2,"verdict":"deny","step":"deny-list","reply":"550 5.7.1 Relaying denied","entry":"192.168.1.0;255.255.255.248","entry_line":6,"client":"192.168.1.3","route":[],"auth":"none","explanation":"deny step=deny-list client=192.168.1.3 user=- rcpt=\"<user@outside.example>\" entry=\"192.168.1.0;255.255.255.248\" line=6"}
{"line":3,"verdict":"deny","step":"deny-list","reply":"550 5.7.1 Relaying denied","entry":"192.168.1.0;255.255.255.248","entry_line":6,"client":"192.168.1.0","route":[],"auth":"none","explanation":"deny step=deny-list client=192.168.1.0 user=- rcpt=\"<user@outside.example>\" entry=\"192.168.1.0;255.255.255.248\" line=6"}
{"line":4,"verdict":"deny","step":"no-rule","reply":"550 5.7.1 Relaying denied","entry":null,"entry_line":null,"client":"192.168.2.1","route":[],"auth":"none","explanation":"deny step=no-rule client=192.168.2.1 user=- rcpt=\"<user@outside.example>\""}
{"line":5,"verdict":"relay","step":"authenticated","reply":"250 2.1.5 Ok","entry":null,"entry_line":null,"client":"198.51.100.7","route":[],"auth":"used","explanation":"relay step=authenticated client=198.51.100.7 user=\"alice\" rcpt=\"<user@outside.example>\" auth=used"}
{"line":6,"verdict":"deny","step":"no-rule","reply":"550 5.7.1 Relaying denied","entry":null,"entry_line":null,"client":"198.51.100.7","route":[],"auth":"none","explanation":"deny step=no-rule client=198.51.100.7 local=10.0.0.25 user=- rcpt=\"<user@outside.example>\""}
{"line":7,"verdict":"relay","step":"allow-list","reply":"250 2.1.5 Ok","entry":"2001:db8::/32","entry_line":10,"client":"2001:db8::5","route":[],"auth":"none","explanation":"relay step=allow-list client=2001:db8::5 user=- rcpt=\"<user@outside.example>\" entry=\"2001:db8::/32\" line=10"}
{"line":8,"verdict":"deny","step":"deny-list","reply":"550 5.7.1 Relaying denied","entry":"192.168.1.0;255.255.255.248","entry_line":6,"client":"192.168.1.4","route":[],"auth":"none","explanation":"deny step=deny-list client=192.168.1.4 user=- rcpt=\"<user@outside.example>\" entry=\"192.168.1.0;255.255.255.248\" line=6"}
{"line":9,"verdict":"local","step":"accepted-domain","reply":"250 2.1.5 Ok","entry":"example.com","entry_line":3,"client":"198.51.100.7","route":[],"auth":"none","explanation":"local step=accepted-domain client=198.51.100.7 user=- rcpt=\"<postmaster@example.com>\" entry=\"example.com\" line=3"}
{"line":10,"verdict":"local","step":"accepted-domain","reply":"250 2.1.5 Ok","entry":"*.example.org","entry_line":3,"client":"198.51.100.7","route":[],"auth":"none","explanation":"local step=accepted-domain client=198.51.100.7 user=- rcpt=\"<x@a.b.example.org>\" entry=\"*.example.org\" line=3"}
{"line":11,"verdict":"deny","step":"no-rule","reply":"550 5.7.1 Relaying denied","entry":null,"entry_line":null,"client":"198.51.100.7","route":[],"auth":"none","explanation":"deny step=no-rule client=198.51.100.7 user=- rcpt=\"<x@example.org>\""}
{"line":12,"verdict":"deny","step":"no-rule","reply":"550 5.7.1 Relaying denied","entry":null,"entry_line":null,"client":"198.51.100.7","route":[],"auth":"none","explanation":"deny step=no-rule client=198.51.100.7 user=- rcpt=\"<x@evilexample.com>\""}
{"line":15,"verdict":"local","step":"accepted-domain","reply":"250 2.1.5 Ok","entry":"example.com","entry_line":3,"client":"198.51.100.7","route":[],"auth":"none","explanation":"local step=accepted-domain client=198.51.100.7 user=- rcpt=\"<\\\"john smith\\\"@example.com>  NOTIFY=NEVER\" entry=\"example.com\" line=3"}
{"line":16,"verdict":"local","step":"accepted-domain","reply":"250 2.1.5 Ok","entry":"example.com","entry_line":3,"client":"198.51.100.7","route":[],"auth":"none","explanation":"local step=accepted-domain client=198.51.100.7 user=- rcpt=\"<crlf@example.com>\" entry=\"example.com\" line=3"}
{"line":17,"verdict":"local","step":"accepted-domain","reply":"250 2.1.5 Ok","entry":"example.com","entry_line":3,"client":"198.51.100.7","route":[],"auth":"none","explanation":"local step=accepted-domain client=198.51.100.7 user=- rcpt=\"<no-newline@example.com>\" entry=\"example.com\" line=3"}' ''
expect_json_lines "eval: JSON parses"

# Seed 001's "only bit 1 set": everyone not denied relays.
printf '192.168.17.9 - - <u@outside.example>\n203.0.113.1 - - <u@outside.example>\n' >in
run "$R" eval -p open.pol
expect "eval: flags 1" 0 'deny deny-list entry=192.168.17.0;255.255.255.0 line=3 reply="550 5.7.1 Relaying denied"
relay only-deny-bit reply="250 2.1.5 Ok"'

# Request fields: tls=, name=, form=.
cat >in <<'EOF'
198.51.100.7 10.0.0.25 - <u@outside.example>
198.51.100.7 - bob <u@outside.example>
tls=yes 198.51.100.7 - bob <u@outside.example>
tls=no name=mx.outside.example 198.51.100.7 - bob <u@outside.example>
form=internal 198.51.100.7 - - john smith@example.com
form=smtp 198.51.100.7 - - john smith@example.com
EOF
run "$R" eval -p iface.pol
expect "eval: request fields" 0 'relay local-ip-list entry=10.0.0.25 line=5 reply="250 2.1.5 Ok"
deny no-rule reply="550 5.7.1 Relaying denied: authentication counts only over TLS" auth=no-tls
relay authenticated reply="250 2.1.5 Ok" auth=used
deny no-rule reply="550 5.7.1 Relaying denied: authentication counts only over TLS" auth=no-tls
local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"
deny bad-recipient reply="501 5.1.3 Bad recipient address syntax" rcpt_error="no domain"'
run "$R" eval -p iface.pol --json
expect_grep "eval: name= reaches the explanation" out \
    'name=\"mx.outside.example\"'
expect_grep "eval: JSON rcpt_error" out \
    '"rcpt_error":"no domain"'

# All 16 RelayFlags values, for a client every rule would match (listed
# everywhere, on the listed interface, authenticated) and for one no rule
# matches: the first applicable step of the seed's order decides.
flags=0
while [ "$flags" -le 15 ]; do
    cat >f.pol <<EOF
RelayFlags = $flags
[RelayDenyList]
192.0.2.1
[RelayAllowList]
192.0.2.1
[RelayLocalIPList]
10.0.0.1
EOF
    printf '192.0.2.1 10.0.0.1 carol <u@outside.example>\n198.51.100.1 - - <u@outside.example>\n' >in
    run "$R" eval -p f.pol
    if [ $((flags & 1)) -ne 0 ]; then all="deny deny-list"
    elif [ $((flags & 2)) -ne 0 ]; then all="relay allow-list"
    elif [ $((flags & 4)) -ne 0 ]; then all="relay local-ip-list"
    elif [ $((flags & 8)) -ne 0 ]; then all="relay authenticated"
    else all="deny no-rule"
    fi
    if [ "$flags" -eq 1 ]; then none="relay only-deny-bit"
    else none="deny no-rule"
    fi
    got=$(cut -d' ' -f1,2 out | tr '\n' '/')
    if [ "$rc" = 0 ] && [ "$got" = "$all/$none/" ]; then ok; else
        not_ok "eval: RelayFlags $flags gave '$got' (status $rc), expected '$all/$none/'"
    fi
    flags=$((flags + 1))
done

# ---------------------------------------------------------- eval errors

# Malformed lines give an error in place and processing goes on.
awk 'BEGIN {
    # "192.0.2.1 - - <" + a + "@b>" is 15 + 8174 + 3 = 8192 bytes.
    a = ""; for (i = 0; i < 8174; i++) a = a "a"
    print "192.0.2.1 - - <" a "@b>"         # exactly 8192 bytes
    printf "192.0.2.1 - - <%s@b>\r\n", a    # 8192 bytes and a CR
    print "192.0.2.1 - - <" a "a@b>"        # 8193 bytes
}' >in
printf '192.0.2.1 - - <u@outside.example>\n' >>in
printf '192.0.2.1 - -\n' >>in
printf '192.0.2.1 - -   \n' >>in
printf '192.0.2.1\n' >>in
printf '192.0.2.1 - - <a\000b@outside.example>\n' >>in
printf '10.1 - - <u@outside.example>\n' >>in
printf '192.0.2.1 10.0.0.256 - <u@outside.example>\n' >>in
printf 'tsl=yes 192.0.2.1 - - <u@outside.example>\n' >>in
printf 'tls=maybe 192.0.2.1 - - <u@outside.example>\n' >>in
printf 'tls=yes tls=no 192.0.2.1 - - <u@outside.example>\n' >>in
printf 'form=x400 192.0.2.1 - - <u@outside.example>\n' >>in
printf 'name= 192.0.2.1 - - <u@outside.example>\n' >>in
printf '\001\351 - - <u@outside.example>\n' >>in
printf '192.0.2.1 - - <u@example.com>\n' >>in
run "$R" eval -p seed.pol
cat >want <<'EOF'
deny bad-recipient reply="501 5.1.3 Bad recipient address syntax" rcpt_error="local part longer than 64 octets"
deny bad-recipient reply="501 5.1.3 Bad recipient address syntax" rcpt_error="local part longer than 64 octets"
error line 3: line longer than 8192 bytes
deny no-rule reply="550 5.7.1 Relaying denied"
error line 5: too few fields: expected [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT
error line 6: too few fields: expected [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT
error line 7: too few fields: expected [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT
error line 8: NUL byte in line
error line 9: bad client address '10.1'
error line 10: bad local address '10.0.0.256'
error line 11: unknown request field 'tsl' (known: tls, name, form)
error line 12: tls= must be yes or no, not 'maybe'
error line 13: request field 'tls' given twice
error line 14: form= must be smtp or internal, not 'x400'
error line 15: name= needs a host name
EOF
# Control characters are escaped for the terminal; other bytes are kept.
printf "error line 16: bad client address '\\x01\351'\n" >>want
echo 'local accepted-domain entry=example.com line=3 reply="250 2.1.5 Ok"' >>want
expect_want "eval: malformed lines, plain" 1 ''

run "$R" eval -p seed.pol --json
sed -n '3p;5p;8p;9p;16p' out >out.sel
mv out.sel out
# Invalid UTF-8 becomes U+FFFD so that the output is always valid JSON.
cat >want <<'EOF'
{"line":3,"error":"line longer than 8192 bytes"}
{"line":5,"error":"too few fields: expected [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT"}
{"line":8,"error":"NUL byte in line"}
{"line":9,"error":"bad client address '10.1'"}
{"line":16,"error":"bad client address '\u0001\ufffd'"}
EOF
expect_want "eval: malformed lines, JSON" 1 ''
expect_json_lines "eval: JSON error objects parse"

# Exit status 0 when every line was decided, whatever the verdicts.
printf '192.0.2.1 - - <u@outside.example>\n' >in
run "$R" eval -p seed.pol
expect "eval: denials are not errors" 0 \
    'deny no-rule reply="550 5.7.1 Relaying denied"'

: >in
run "$R" eval -p seed.pol
expect "eval: empty input" 0 ''

run "$R" eval -p nonexistent.pol
expect_err "eval: missing policy file" 2 "relaypol: nonexistent.pol: "

run "$R" eval -p badline.pol
expect_err "eval: bad policy line" 2 "relaypol: badline.pol:3:5: "

run "$R" eval -p hostbits.pol --literal-masks
expect "eval: --literal-masks" 0 '' ''

run "$R" eval -p seed.pol extra
expect "eval: operand" 2 '' "relaypol eval: unexpected argument 'extra' (requests are read from standard input)
Try 'relaypol eval --help'."

run "$R" eval
expect "eval: no policy" 2 '' "relaypol eval: no policy given (-p POLICY)
Try 'relaypol eval --help'."

# ----------------------------------------------------------------- lint

# lint appends an exposure report (tests/test_review.sh checks it); here
# only the findings part of the output is compared.
findings_only() { # plain output: everything before the first blank line
    sed -i '/^$/,$d' out
}
json_without_exposure() { # JSON output: drop the "exposure" member
    python3 -c 'import json,sys
d = json.load(open("out"))
assert "exposure" in d, "no exposure report"
del d["exposure"]
print(json.dumps(d, sort_keys=True))' >out.tmp 2>&1 && mv out.tmp out
}
json_canon() { # the same canonical form for an expected document
    printf '%s\n' "$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'
}

run "$R" lint -p clean.pol
expect_grep "lint: clean policy has an exposure report" out "exposure: clients that may relay without authenticating"
findings_only
expect "lint: clean policy" 0 '' ''

run "$R" lint -p clean.pol --json
expect_json_doc "lint: clean JSON parses"
json_without_exposure
expect "lint: clean policy, JSON" 0 "$(json_canon '{"policy":"clean.pol",
"findings":[],
"notes":0,"warnings":0,"errors":0}')" ''

run "$R" lint -p hostbits.pol --literal-masks
findings_only
expect "lint: host bits kept literally" 0 "hostbits.pol:3:1: warning: '192.168.1.5;255.255.255.0' has bits outside its mask and can never match (kept literally because LiteralMasks is on) [host-bits]" ''

run "$R" lint -p hostbits.pol --literal-masks --strict
[ "$rc" = 1 ] && ok || not_ok "lint: --strict with a warning: status $rc"

run "$R" lint -p hostbits.pol --literal-masks --json
expect_json_doc "lint: JSON parses"
json_without_exposure
expect "lint: JSON finding" 0 "$(json_canon "{\"policy\":\"hostbits.pol\",
\"findings\":[
  {\"severity\":\"warning\",\"code\":\"host-bits\",\"line\":3,\"column\":1,\"message\":\"'192.168.1.5;255.255.255.0' has bits outside its mask and can never match (kept literally because LiteralMasks is on)\"}
],
\"notes\":0,\"warnings\":1,\"errors\":0}")"

# An unused list is reported at its line (issue 2's lint list).
run "$R" lint -p seed.pol
expect_grep "lint: list whose bit is off" out "seed.pol:13:"
expect_grep "lint: list whose bit is off, code" out "[list-unused]"

run "$R" lint -p hostbits.pol
expect_err "lint: load error" 2 "relaypol: hostbits.pol:3:1: "

run "$R" lint -p hostbits.pol --json
expect_grep "lint: load error as JSON" out \
    '{"policy":"hostbits.pol","error":{"status":"invalid policy","line":3,"column":1,'
[ "$rc" = 2 ] && ok || not_ok "lint: JSON load error status $rc"
expect_json_doc "lint: JSON load error parses"

run "$R" lint -p nonexistent.pol
expect_err "lint: missing file" 2 "relaypol: nonexistent.pol: "

run "$R" lint -p clean.pol --bogus
expect "lint: unknown option" 2 '' "relaypol lint: unknown option '--bogus'
Try 'relaypol lint --help'."

# -------------------------------------------------- version, help, usage

run "$R" version
case $(cat out) in
"relaypol "[0-9]*.[0-9]*.[0-9]*) ok ;;
*) not_ok "version: '$(cat out)'" ;;
esac

for cmd in check eval lint version; do
    run "$R" "$cmd" --help
    if [ "$rc" = 0 ] && grep -q "^usage: relaypol $cmd" out && [ ! -s err ]; then
        ok
    else
        not_ok "$cmd --help: status $rc"
    fi
    run "$R" "$cmd" -h
    [ "$rc" = 0 ] && ok || not_ok "$cmd -h: status $rc"
done

run "$R" help eval
expect_grep "help eval" out "usage: relaypol eval"

run "$R" --help
expect_grep "--help lists the commands" out "  check "

run "$R"
[ "$rc" = 2 ] && [ ! -s out ] && grep -q '^usage: relaypol' err && ok ||
    not_ok "no arguments: status $rc"

run "$R" frobnicate
expect "unknown command" 2 '' "relaypol: unknown command 'frobnicate' (see relaypol --help)"

run "$R" version extra
[ "$rc" = 2 ] && ok || not_ok "version extra: status $rc"

# Output errors are failures, not silent truncation.
if [ -w /dev/full ]; then
    printf '192.0.2.1 - - <u@outside.example>\n' >in
    "$R" eval -p seed.pol <in >/dev/full 2>err
    rc=$?
    [ "$rc" = 2 ] && ok || not_ok "eval to a full disk: status $rc"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
