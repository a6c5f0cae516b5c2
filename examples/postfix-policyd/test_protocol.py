#!/usr/bin/env python3
"""Protocol tests of relaypol-policyd on its own (no Postfix needed).

Starts the server on a unix socket and a kernel-chosen TCP port, speaks
Postfix's policy delegation protocol to it and checks every answer:
decisions and their mapping, other protocol states, pipelining, split and
CRLF requests, malformed and oversized requests, connection limits, idle
and request timeouts, clients that do not read, a bounded garbage flood,
SIGHUP reloads (also under load), SIGTERM, options, and the load generator.

Environment: POLICYD (the server), POLICYD_LOADGEN (optional),
RELAYPOL_SRCDIR (the source tree).  Python 3 standard library only.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

POLICYD = os.environ.get("POLICYD") or (sys.argv[1] if len(sys.argv) > 1 else "")
LOADGEN = os.environ.get("POLICYD_LOADGEN", "")
SRCDIR = os.environ.get("RELAYPOL_SRCDIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXAMPLE = os.path.join(SRCDIR, "examples", "policies", "example.conf")
TMP = tempfile.mkdtemp(prefix="relaypol-policyd-test.")

DEFER = b"action=DEFER_IF_PERMIT Policy request not understood\n\n"
OK = b"action=OK\n\n"
DUNNO = b"action=DUNNO\n\n"
DENIED = b"action=550 5.7.1 Relaying denied\n\n"


def request(**kw):
    """A RCPT request as Postfix 3.7 sends it; keyword None drops one."""
    attrs = {
        "request": "smtpd_access_policy", "protocol_state": "RCPT",
        "protocol_name": "ESMTP", "client_address": "203.0.113.9",
        "client_name": "client.example.net", "client_port": "40000",
        "reverse_client_name": "client.example.net",
        "server_address": "10.0.0.1", "server_port": "25",
        "helo_name": "client.example.net", "sender": "someone@example.org",
        "recipient": "victim@example.net", "recipient_count": "0",
        "queue_id": "", "instance": "3ffd.6b045e6c.846a2.0", "size": "0",
        "etrn_domain": "", "stress": "", "sasl_method": "",
        "sasl_username": "", "sasl_sender": "", "ccert_subject": "",
        "ccert_issuer": "", "ccert_fingerprint": "",
        "ccert_pubkey_fingerprint": "", "encryption_protocol": "",
        "encryption_cipher": "", "encryption_keysize": "0",
        "policy_context": "",
    }
    for k, v in kw.items():
        if v is None:
            attrs.pop(k, None)
        else:
            attrs[k] = v
    return "".join(f"{k}={v}\n" for k, v in attrs.items()).encode() + b"\n"


class Server:
    """One relaypol-policyd process, stopped by PID in stop()."""

    def __init__(self, *args, policy=EXAMPLE, tcp=True, unix=True, v6=False):
        self.unix = os.path.join(TMP, f"s{random.randrange(1 << 30)}.sock")
        self.log = self.unix + ".log"
        cmd = [POLICYD, "--policy", policy]
        if unix:
            cmd += ["--listen", "unix:" + self.unix]
        if tcp:
            cmd += ["--listen", "127.0.0.1:0"]
        if v6:
            cmd += ["--listen", "[::1]:0"]
        cmd += list(args)
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stderr=self.logf, stdout=self.logf)
        deadline = time.time() + 10
        while "ready" not in self.text():
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"server did not start: {self.text()}")
            time.sleep(0.02)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.text())
        self.port = int(m.group(1)) if m else None
        m = re.search(r"listening on \[::1\]:(\d+)", self.text())
        self.port6 = int(m.group(1)) if m else None

    def text(self):
        with open(self.log, "r", errors="replace") as f:
            return f.read()

    def connect(self, kind="unix"):
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.unix)
        elif kind == "tcp":
            s = socket.create_connection(("127.0.0.1", self.port))
        else:
            s = socket.create_connection(("::1", self.port6))
        s.settimeout(5)
        return s

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait_log(self, pattern, count=1, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"log never showed {pattern!r}:\n{self.text()[-2000:]}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server ignored SIGTERM")
        self.logf.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def recv_reply(s, n=1):
    """Reads n complete replies (each ends with an empty line)."""
    buf = b""
    while buf.count(b"\n\n") < n:
        d = s.recv(65536)
        if not d:
            raise AssertionError(f"connection closed after {buf!r}")
        buf += d
    return buf


def ask(s, data):
    s.sendall(data)
    return recv_reply(s)


def expect_closed(s, timeout=5):
    """The server closes the connection without answering."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except ConnectionResetError:
        pass
    assert data == b"", f"expected no reply, got {data[:200]!r}"


def eq(got, want, what=""):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


# ---------------------------------------------------------------- tests

def test_decisions():
    """Each attribute reaches the decision; each verdict maps to its action."""
    cases = [
        ("stranger relays", {}, DENIED),
        ("allow-list", {"client_address": "192.168.1.42"}, OK),
        ("deny-list beats allow-list", {"client_address": "192.168.1.3"}, DENIED),
        ("IPv4-mapped is the IPv4 address", {"client_address": "::ffff:192.168.1.3"}, DENIED),
        ("IPv6 allow-list", {"client_address": "2001:db8:100::25"}, OK),
        ("local-IP list via server_address", {"server_address": "10.0.0.25"}, OK),
        ("no server_address (Postfix < 3.2)", {"server_address": None}, DENIED),
        ("local delivery", {"recipient": "friend@example.com"}, DUNNO),
        ("local subdomain", {"recipient": "friend@mx.example.org"}, DUNNO),
        ("authenticated over TLS", {"sasl_username": "alice@example.com",
                                    "sasl_method": "PLAIN",
                                    "encryption_protocol": "TLSv1.3"}, OK),
        ("authenticated without TLS",
         {"sasl_username": "alice@example.com", "sasl_method": "PLAIN"},
         b"action=550 5.7.1 Relaying denied: authentication counts only over TLS\n\n"),
        ("account not in RelayUsers",
         {"sasl_username": "mallory@example.com", "encryption_protocol": "TLSv1.2"},
         b"action=550 5.7.1 Relaying denied for this account\n\n"),
        ("%-hack", {"recipient": "victim%example.net@example.com"},
         b"action=550 5.7.1 Relaying denied: routed recipient address\n\n"),
        ("bang path", {"recipient": "example.net!victim@example.com"},
         b"action=550 5.7.1 Relaying denied: routed recipient address\n\n"),
        ("unquoted extra @ (internal form)", {"recipient": "victim@example.net@example.com"},
         b"action=550 5.7.1 Relaying denied: routed recipient address\n\n"),
        ("bad recipient", {"recipient": "victim@exa..mple.net"},
         b"action=501 5.1.3 Bad recipient address syntax\n\n"),
        ("empty recipient", {"recipient": ""},
         b"action=501 5.1.3 Bad recipient address syntax\n\n"),
        # quotes are gone in the internal form: ".." may have been quoted
        ("internal-form local part", {"recipient": "a..b@example.com"}, DUNNO),
        ("allowed client, routed recipient", {"client_address": "192.168.1.42",
                                             "recipient": "victim%example.net@example.com"}, OK),
    ]
    with Server() as srv:
        for kind in ("unix", "tcp"):
            s = srv.connect(kind)
            for what, kw, want in cases:
                eq(ask(s, request(**kw)), want, f"{kind}: {what}")
            s.close()
        srv.stop()
        log = srv.text()
    # Seed 001: a denial names IP, host name, account and recipient.
    assert re.search(r'deny step=deny-list client=192\.168\.1\.3 local=10\.0\.0\.1 '
                     r'name="client\.example\.net" user=- rcpt="victim@example\.net" '
                     r'entry="192\.168\.1\.0;255\.255\.255\.248" line=15 '
                     r'sender=<someone@example\.org> action=550 5\.7\.1 Relaying denied', log), log
    assert re.search(r'deny .*user="mallory@example\.com".*auth=not-listed', log), log
    # Permits are not logged unless asked for.
    assert "relay step=" not in log and "local step=" not in log, log


def test_other_states_and_mapping():
    """Outside RCPT the server says DUNNO; every answer is an option."""
    with Server() as srv:
        s = srv.connect()
        for state in ("CONNECT", "EHLO", "HELO", "MAIL", "DATA", "END-OF-MESSAGE", "VRFY", "ETRN"):
            eq(ask(s, request(protocol_state=state)), DUNNO, state)
    with Server("--on-relay", "PREPEND X-Relaypol: relay", "--on-local", "OK",
                "--on-deny", "REJECT relaypol says: {reply}", "--on-other", "DEFER_IF_REJECT x",
                "--on-error", "DEFER try later", "--log-permits") as srv:
        s = srv.connect()
        eq(ask(s, request(client_address="192.168.1.42")), b"action=PREPEND X-Relaypol: relay\n\n")
        eq(ask(s, request(recipient="a@example.com")), OK)
        eq(ask(s, request()), b"action=REJECT relaypol says: 550 5.7.1 Relaying denied\n\n")
        eq(ask(s, request(protocol_state="MAIL")), b"action=DEFER_IF_REJECT x\n\n")
        eq(ask(s, request(client_address="bogus")), b"action=DEFER try later\n\n")
        srv.stop()
        log = srv.text()
    assert re.search(r"relay step=allow-list client=192\.168\.1\.42 .*action=PREPEND", log), log
    assert re.search(r"local step=accepted-domain .*action=OK", log), log


def test_pipelining_split_crlf():
    """Many requests per connection: pipelined, byte by byte, CRLF."""
    with Server() as srv:
        s = srv.connect("tcp")
        kinds = [(request(), DENIED), (request(client_address="192.168.1.42"), OK),
                 (request(recipient="x@example.com"), DUNNO)]
        batch = [kinds[i % 3] for i in range(300)]
        s.sendall(b"".join(r for r, _ in batch))
        got = recv_reply(s, len(batch))
        eq(got, b"".join(w for _, w in batch), "300 pipelined requests")
        for b in request(client_address="192.168.1.42"):
            s.send(bytes([b]))
        eq(recv_reply(s), OK, "byte by byte")
        eq(ask(s, request().replace(b"\n", b"\r\n")), DENIED, "CRLF")
        s.close()


MALFORMED = [
    ("bad client_address", request(client_address="1.2.3.04")),
    ("client_address unknown", request(client_address="unknown")),
    ("empty client_address", request(client_address="")),
    ("no client_address", request(client_address=None)),
    ("client_address with zone", request(client_address="fe80::1%eth0")),
    ("bad server_address", request(server_address="10.0.0.256")),
    ("no recipient", request(recipient=None)),
    ("no request attribute", request(request=None)),
    ("another request type", request(request="junk")),
    ("no protocol_state", request(protocol_state=None)),
    ("line without =", b"request=smtpd_access_policy\nprotocol_state=RCPT\ngarbage\n\n"),
    ("empty name", b"request=smtpd_access_policy\n=x\n\n"),
    ("repeated client_address", request() [:-1] + b"client_address=192.168.1.42\n\n"),
    ("NUL byte", request(client_name="a\0b")),
    ("too many attributes", request()[:-1] + b"".join(b"x%d=y\n" % i for i in range(80)) + b"\n"),
    ("empty request", b"\n"),
    ("binary junk", b"\x01\x02\xff\xfe\x80\n\n"),
    ("unknown attributes only", b"\x01\x02=\xff\n\n"),
]


def test_malformed_keeps_serving():
    """A well-framed bad request gets DEFER_IF_PERMIT; the connection lives on."""
    with Server() as srv:
        s = srv.connect()
        for what, data in MALFORMED:
            eq(ask(s, data), DEFER, what)
            eq(ask(s, request(client_address="192.168.1.42")), OK, f"after {what}")
        srv.stop()
        log = srv.text()
    assert re.search(r'bad request: bad client_address "1\.2\.3\.04"', log), log
    assert re.search(r'bad request: not a name=value line "garbage"', log), log
    assert re.search(r'bad request: repeated attribute "client_address"', log), log
    assert "\\x01\\x02\\xff\\xfe" in log, "control bytes are escaped in the log"


def test_oversized_disconnects():
    """Past a framing bound the server hangs up without a reply, and goes on."""
    with Server("--max-line", "1000", "--max-request", "4000") as srv:
        s = srv.connect()
        s.sendall(b"request=" + b"x" * 2000)  # no newline yet: too long already
        expect_closed(s)
        s = srv.connect()
        s.sendall(b"recipient=" + b"x" * 1500 + b"\n\n")
        expect_closed(s)
        s = srv.connect()
        s.sendall(b"".join(b"a%d=%s\n" % (i, b"y" * 500) for i in range(10)))
        expect_closed(s)
        # a long but legal line is fine
        s = srv.connect()
        eq(ask(s, request(ccert_subject="C" * 900)), DENIED, "long legal line")
        # pipelined requests: each is bounded, not their sum
        s.sendall(request(client_address="192.168.1.42") * 40)
        eq(recv_reply(s, 40), OK * 40, "40 pipelined under a 4000-byte bound")
        s.close()
        s = srv.connect()
        eq(ask(s, request()), DENIED, "still serving")
        srv.stop()
        log = srv.text()
    assert "closing connection: line too long" in log, log
    assert "closing connection: request too large" in log, log


def test_long_replies_pipelined():
    """Requests already read are answered even when no more bytes arrive."""
    text = "REJECT " + "x" * 500
    with Server("--on-deny", text) as srv:
        want = f"action={text}\n\n".encode()
        short = (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                 b"client_address=203.0.113.9\nrecipient=a@example.net\n\n")
        for n in (9, 10, 20, 200):  # the first fit one read of a new connection
            s = srv.connect()
            s.settimeout(3)
            s.sendall(short * n)
            eq(recv_reply(s, n), want * n, f"{n} long replies")
            s.close()


def test_many_connections():
    """Hundreds of connections at once, each with several requests."""
    with Server() as srv:
        socks = [srv.connect("tcp" if i % 2 else "unix") for i in range(300)]
        for rnd in range(3):
            for s in socks:
                s.sendall(request(client_address="192.168.1.42"))
            for s in socks:
                eq(recv_reply(s), OK, f"round {rnd}")
        for s in socks:
            s.close()


def test_connection_limit():
    """Beyond --max-connections a connection is closed at once; later ones work."""
    with Server("--max-connections", "5") as srv:
        socks = [srv.connect() for _ in range(5)]
        for s in socks:
            eq(ask(s, request()), DENIED, "within the limit")
        extra = srv.connect()
        expect_closed(extra, timeout=3)
        socks.pop().close()
        time.sleep(0.2)
        s = srv.connect()
        eq(ask(s, request()), DENIED, "after one left")
        srv.wait_log(r"connection refused: --max-connections 5 reached")


def test_timeouts():
    """Idle connections and stalled requests are closed."""
    with Server("--idle-timeout", "1", "--request-timeout", "1") as srv:
        idle = srv.connect()
        eq(ask(idle, request()), DENIED, "before idling")
        stalled = srv.connect()
        stalled.sendall(request()[:50])
        t0 = time.time()
        expect_closed(idle)
        expect_closed(stalled)
        assert time.time() - t0 < 4, "timeouts took too long"
        srv.wait_log(r"closing connection: request timeout")


def test_client_not_reading():
    """A client that pipelines without reading is throttled, not buffered."""
    with Server() as srv:
        s = srv.connect()
        n = 3000
        data = request(client_address="192.168.1.42") * n
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        time.sleep(1.0)  # the server stops reading once replies pile up
        rss = srv.rss_kb()
        got = recv_reply(s, n)
        sender.join(10)
        eq(got, OK * n, f"{n} replies after a pause")
        assert rss < 64 * 1024, f"RSS {rss} kB"


def test_garbage_flood():
    """Random bytes on many connections: bounded time, memory and log."""
    rnd = random.Random(8)
    with Server("--max-connections", "64") as srv:
        rss0 = srv.rss_kb()
        deadline = time.time() + 4
        sent = 0
        while time.time() < deadline and sent < 24 * 1024 * 1024:
            socks = []
            for _ in range(40):
                try:
                    socks.append(srv.connect("tcp" if rnd.random() < 0.5 else "unix"))
                except OSError:
                    pass
            for s in socks:
                s.setblocking(False)
                junk = bytes(rnd.getrandbits(8) for _ in range(2048))
                if rnd.random() < 0.5:  # many short lines and blank lines
                    junk = junk.replace(b"\x00", b"\n").replace(b"\x01", b"\n\n")
                for _ in range(8):
                    try:
                        sent += s.send(junk)
                    except OSError:
                        break
            for s in socks:
                s.close()
        time.sleep(0.3)
        s = srv.connect()
        eq(ask(s, request(client_address="192.168.1.42")), OK, "alive after the flood")
        s.close()
        rss1 = srv.rss_kb()
        srv.stop()
        log = srv.text()
    assert srv.proc.returncode == 0, log[-2000:]
    assert rss1 - rss0 < 40 * 1024, f"RSS grew from {rss0} to {rss1} kB"
    warnings = log.count("warning:")
    assert warnings < 20 * 8 + 20, f"{warnings} warning lines: the error log is not rate limited"
    print(f"  flood: {sent // 1024} KiB of garbage, RSS {rss0} -> {rss1} kB, {warnings} warning lines")


BROKEN = b"""# broken on purpose
RelayFlags = 15
AcceptedDomains = example.com

[RelayAllowList]
203.0.113.9
192.168.1.0;255.255.0.255x
"""

ALLOW_STRANGER = b"""RelayFlags = 2
AcceptedDomains = example.com

[RelayAllowList]
203.0.113.9
"""


def test_reload():
    """SIGHUP: a broken file changes nothing and is logged file:line:col."""
    pol = os.path.join(TMP, "reload.conf")
    shutil.copy(EXAMPLE, pol)
    with Server(policy=pol) as srv:
        s = srv.connect()
        eq(ask(s, request()), DENIED, "before")
        with open(pol + ".new", "wb") as f:
            f.write(BROKEN)
        os.rename(pol + ".new", pol)
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reload: keeping the previous policy")
        assert re.search(re.escape(pol) + r":7:\d+: ", srv.text()), srv.text()
        eq(ask(s, request()), DENIED, "after a broken reload")
        eq(ask(s, request(client_address="192.168.1.42")), OK, "after a broken reload")
        with open(pol + ".new", "wb") as f:
            f.write(ALLOW_STRANGER)
        os.rename(pol + ".new", pol)
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reload: new policy in force")
        eq(ask(s, request()), OK, "the same connection sees the new policy")
        eq(ask(s, request(client_address="192.168.1.42")), DENIED, "and only it")


def test_reload_under_load():
    """Answers stay whole and consistent while the policy flips 40 times."""
    pol = os.path.join(TMP, "flip.conf")
    shutil.copy(EXAMPLE, pol)
    with Server(policy=pol) as srv:
        stop = threading.Event()
        errors = []
        counts = {OK: 0, DENIED: 0}

        def client():
            try:
                s = srv.connect()
                while not stop.is_set():
                    s.sendall(request() * 10)
                    r = recv_reply(s, 10)
                    for one in r.split(b"\n\n")[:-1]:
                        counts[one + b"\n\n"] += 1
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for i in range(40):
            content = ALLOW_STRANGER if i % 2 == 0 else open(EXAMPLE, "rb").read()
            if i % 5 == 4:
                content = BROKEN
            with open(pol + ".new", "wb") as f:
                f.write(content)
            os.rename(pol + ".new", pol)
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.03)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(10)
        assert not errors, errors
        assert counts[OK] and counts[DENIED], counts
        assert srv.proc.poll() is None


def test_signals_and_cleanup():
    """SIGTERM and SIGINT end the server cleanly and close everything."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        with Server("--log-permits") as srv:
            signal_one(srv, sig)


def signal_one(srv, sig):
    s = srv.connect()
    eq(ask(s, request()), DENIED, "before")
    srv.proc.send_signal(signal.SIGUSR1)
    srv.wait_log(r"statistics: requests=1 .*deny=1")
    t0 = time.time()
    rc = srv.stop(sig)
    eq(rc, 0, f"exit status after {sig}")
    assert time.time() - t0 < 2
    assert not os.path.exists(srv.unix), "unix socket left behind"
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        raise AssertionError("TCP port still open")
    except ConnectionRefusedError:
        pass
    assert "exiting: requests=1" in srv.text()


def test_stale_socket_and_ipv6():
    """A dead server's socket file is replaced; a live one is not stolen."""
    path = os.path.join(TMP, "stale.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens
    v6 = False
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        v6 = True
    except OSError:
        pass
    srv = subprocess.Popen([POLICYD, "--policy", EXAMPLE, "--listen", "unix:" + path]
                           + (["--listen", "[::1]:0"] if v6 else []),
                           stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 5
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                c.connect(path)
                break
            except OSError:
                c.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        c.settimeout(5)
        eq(ask(c, request()), DENIED, "on the replaced socket")
        second = subprocess.run([POLICYD, "--policy", EXAMPLE, "--listen", "unix:" + path],
                                stderr=subprocess.PIPE, timeout=10)
        eq(second.returncode, 1, "a second server on a live socket")
        assert b"another server is listening" in second.stderr, second.stderr
        eq(ask(c, request()), DENIED, "the first one still serves")
    finally:
        srv.send_signal(signal.SIGTERM)
        err = srv.communicate(timeout=10)[1].decode()
    if v6:
        port6 = int(re.search(r"listening on \[::1\]:(\d+)", err).group(1))
        assert port6 > 0


def test_ipv6_listener():
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        print("  (no IPv6 loopback: skipped)")
        return
    with Server(v6=True) as srv:
        s = srv.connect("v6")
        eq(ask(s, request(client_address="2001:db8:100::1")), OK, "over [::1]")


def test_command_line():
    """Bad options and a bad policy stop the server at start with a reason."""
    def run(*args):
        p = subprocess.run([POLICYD, *args], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                           timeout=10)
        return p.returncode, p.stderr.decode() + p.stdout.decode()

    sock = "unix:" + os.path.join(TMP, "cl.sock")
    rc, out = run("--help")
    eq(rc, 0, "--help")
    assert "--on-deny" in out
    rc, out = run("--version")
    eq(rc, 0, "--version")
    for args, msg in [
        ((), "--policy and --listen are required"),
        (("--policy", EXAMPLE), "--policy and --listen are required"),
        (("--policy", EXAMPLE, "--listen", sock, "--on-deny", ""), "1 to 512 characters"),
        (("--policy", EXAMPLE, "--listen", sock, "--on-deny", "550 a\nb"), "control characters"),
        (("--policy", EXAMPLE, "--listen", sock, "--max-connections", "0"), "expected a number"),
        (("--policy", EXAMPLE, "--listen", sock, "--bogus"), "unknown option"),
        (("--policy", EXAMPLE, "--listen"), "needs a value"),
    ]:
        rc, out = run(*args)
        eq(rc, 2, f"{args}")
        assert msg in out, f"{args}: {out}"
    bad = os.path.join(TMP, "bad.conf")
    with open(bad, "wb") as f:
        f.write(BROKEN)
    rc, out = run("--policy", bad, "--listen", sock)
    eq(rc, 1, "bad policy")
    assert re.search(re.escape(bad) + r":7:\d+: ", out), out
    rc, out = run("--policy", EXAMPLE, "--listen", "localhost:25")
    eq(rc, 1, "non-numeric host")
    rc, out = run("--policy", EXAMPLE, "--listen", "::1:25")
    eq(rc, 1, "IPv6 without brackets")


def test_loadgen():
    """The load generator runs, bounded, and every answer is right."""
    if not LOADGEN:
        print("  (no load generator: skipped)")
        return
    with Server() as srv:
        for target in (f"127.0.0.1:{srv.port}", "unix:" + srv.unix):
            p = subprocess.run([LOADGEN, "--connect", target, "--connections", "4",
                                "--requests", "20000", "--duration", "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            out = p.stdout.decode()
            eq(p.returncode, 0, out)
            assert "wrong 0, failed 0" in out, out
            print("  " + out.strip())


def main():
    if not POLICYD or not os.access(POLICYD, os.X_OK):
        print("set POLICYD to the relaypol-policyd binary")
        return 1
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    failed = 0
    t_all = time.time()
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            print(f"ok {name} ({time.time() - t0:.1f} s)")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{len(tests) - failed}/{len(tests)} passed in {time.time() - t_all:.1f} s")
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
