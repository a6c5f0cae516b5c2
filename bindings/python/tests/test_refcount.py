"""Reference counting: nothing leaks over 100k calls, checked with
sys.getrefcount, tracemalloc and the resident set size."""

import gc
import ipaddress
import sys
import tracemalloc
import unittest

import relaypol

import support

N = 100_000


class TestRefcount(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def test_refcounts_stable(self):
        p = self.p
        client, rcpt, user, name = "192.168.1.3", "<someone@example.net>", "bob", "mx"
        local = ipaddress.IPv4Address("10.0.0.25")
        objs = [p, client, rcpt, user, name, local]
        def counts():
            return [sys.getrefcount(o) for o in objs]

        before = counts()
        for _ in range(1000):
            d = p.decide(client, rcpt, local=local, user=user, client_name=name)
            d.verdict, d.step, d.entry, d.line, d.reply, d.explanation
            d.route, d.auth, d.rcpt_error, d.client, d.policy, repr(d)
        del d
        self.assertEqual(counts(), before)
        # A Decision holds the policy and the request's text until it goes.
        d = p.decide(client, rcpt, user=user)
        now = counts()
        self.assertEqual((now[0], now[2], now[3]), (before[0] + 1, before[2] + 1, before[3] + 1))
        del d
        self.assertEqual(counts(), before)

    def test_error_paths_release_everything(self):
        p, rcpt = self.p, "<someone@example.net>"
        before = sys.getrefcount(p), sys.getrefcount(rcpt)
        for _ in range(1000):
            for call in (lambda: p.decide("10.1", rcpt),
                         lambda: p.decide(b"\x01", rcpt),
                         lambda: p.decide(None, rcpt),
                         lambda: p.decide("1.2.3.4", rcpt, user="a\x00"),
                         lambda: p.decide("1.2.3.4", rcpt, local=ipaddress.IPv6Address("fe80::1%1"))):
                try:
                    call()
                except (TypeError, ValueError):
                    pass
        self.assertEqual((sys.getrefcount(p), sys.getrefcount(rcpt)), before)

    def run_many(self, fn):
        for _ in range(2000):  # warm up caches, free lists, interned strings
            fn()
        gc.collect()
        tracemalloc.start()
        try:
            rss0 = support.rss_bytes()
            traced0, _ = tracemalloc.get_traced_memory()
            for _ in range(N):
                fn()
            gc.collect()
            traced1, _ = tracemalloc.get_traced_memory()
            rss1 = support.rss_bytes()
        finally:
            tracemalloc.stop()
        # One leaked byte per call would show as 100 kB.
        self.assertLess(traced1 - traced0, 16 * 1024)
        self.assertLess(rss1 - rss0, 4 * 1024 * 1024)

    def test_no_leak_decide(self):
        p = self.p
        self.run_many(lambda: p.decide("192.168.1.42", "<someone@example.net>", user="alice@example.com", tls=True))

    def test_no_leak_attributes(self):
        d = self.p.decide("::ffff:192.168.1.3", b"<a%b@example.net>", local=b"\n\0\0\x19", user="bob")

        def read():
            d.verdict, d.step, d.entry, d.line, d.reply, d.explanation
            d.route, d.auth, d.rcpt_error, d.client, repr(d)

        self.run_many(read)

    def test_no_leak_errors(self):
        p = self.p

        def bad():
            try:
                p.decide("010.0.0.1", "<someone@example.net>")
            except ValueError:
                pass

        self.run_many(bad)

    def test_no_leak_load_and_lint(self):
        # Fewer rounds: each load and lint allocates in C and in Python.
        text = (support.EXAMPLES / "seed-deny-only.conf").read_text()
        for _ in range(200):
            relaypol.Policy.from_string(text).lint()
        tracemalloc.start()
        try:
            t0, _ = tracemalloc.get_traced_memory()
            for _ in range(5000):
                relaypol.Policy.from_string(text).lint()
                try:
                    relaypol.Policy.from_string(text + "Junk\n")
                except relaypol.PolicyError:
                    pass
            t1, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(t1 - t0, 16 * 1024)

    def test_policy_memory_is_traced(self):
        # Policies live in the raw Python heap, so tracemalloc sees them.
        text = "[RelayAllowList]\n" + "".join("10.0.%d.%d\n" % (i // 256, i % 256) for i in range(5000))
        tracemalloc.start()
        try:
            t0, _ = tracemalloc.get_traced_memory()
            p = relaypol.Policy.from_string(text)
            t1, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertGreaterEqual(t1 - t0, p.memory)


if __name__ == "__main__":
    unittest.main()
