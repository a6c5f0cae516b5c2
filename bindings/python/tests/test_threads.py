"""One policy shared by many threads; loads run outside the GIL."""

import random
import threading
import unittest

import relaypol

import support

REQUESTS = [
    ("203.0.113.9", "<friend@example.com>", {}),
    ("203.0.113.9", "<victim@example.net>", {}),
    ("192.168.1.3", "<someone@example.net>", {}),
    ("192.168.1.42", "<someone@example.net>", {}),
    ("2001:db8:100::25", "<someone@example.net>", {}),
    ("::ffff:192.168.1.3", "<someone@example.net>", {}),
    ("198.51.100.7", "<someone@example.net>", {"local": "10.0.0.25"}),
    ("198.51.100.7", "<someone@example.net>", {"user": "alice@example.com"}),
    ("198.51.100.7", "<someone@example.net>", {"user": "alice@example.com", "tls": True}),
    ("203.0.113.9", "<victim%example.net@example.com>", {}),
    ("203.0.113.9", "<bad..address@example.com", {}),
]


def summary(d):
    return (d.verdict, d.step, d.entry, d.line, d.reply, d.auth, d.route, d.explanation)


class TestThreads(unittest.TestCase):
    def test_shared_policy(self):
        p = support.example("example")
        want = [summary(p.decide(c, r, **kw)) for c, r, kw in REQUESTS]
        errors = []
        start = threading.Barrier(8)

        def worker(seed):
            rng = random.Random(seed)
            start.wait()
            try:
                for _ in range(5000):
                    i = rng.randrange(len(REQUESTS))
                    c, r, kw = REQUESTS[i]
                    got = summary(p.decide(c, r, **kw))
                    if got != want[i]:
                        errors.append((i, got))
                        return
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def test_reload_while_deciding(self):
        # The reload pattern: build a new policy, rebind the shared name.
        current = {"p": support.example("seed-allow-only")}
        stop = threading.Event()
        errors = []

        def reader():
            while not stop.is_set():
                d = current["p"].decide("192.168.1.9", "<a@example.net>")
                if d.verdict not in (relaypol.Verdict.RELAY, relaypol.Verdict.DENY):
                    errors.append(d)

        readers = [threading.Thread(target=reader) for _ in range(4)]
        for t in readers:
            t.start()
        try:
            for n in range(50):
                name = "seed-allow-only" if n % 2 else "seed-subnet-except"
                current["p"] = support.example(name)
        finally:
            stop.set()
            for t in readers:
                t.join()
        self.assertEqual(errors, [])

    def test_loads_in_parallel(self):
        # Loading releases the GIL; several loads at once must not interfere.
        text = "RelayFlags = 2\n[RelayAllowList]\n" + "".join(
            "10.%d.%d.0/24\n" % (i // 256, i % 256) for i in range(20000))
        results = [None] * 4

        def load(i):
            results[i] = relaypol.Policy.from_string(text, source="t%d" % i)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, p in enumerate(results):
            self.assertEqual(p.source, "t%d" % i)
            self.assertEqual(p.decide("10.78.31.1", "<a@b.example>").line, 2 + 78 * 256 + 31 + 1)


if __name__ == "__main__":
    unittest.main()
