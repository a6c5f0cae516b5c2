"""Every error path: policy text, files, memory, arguments."""

import errno
import os
import pickle
import tempfile
import unittest

import relaypol

import support


class TestPolicyError(unittest.TestCase):
    def load_bad(self, text, **kw):
        with self.assertRaises(relaypol.PolicyError) as cm:
            relaypol.Policy.from_string(text, **kw)
        return cm.exception

    def test_position_and_message(self):
        e = self.load_bad("RelayFlags = 3\nFrobnicate = yes\n", source="site.conf")
        self.assertEqual((e.filename, e.lineno, e.colno), ("site.conf", 2, 1))
        self.assertEqual(e.msg, "unknown setting 'Frobnicate'")
        self.assertEqual(str(e), "site.conf:2:1: unknown setting 'Frobnicate'")
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, relaypol.Error)

    def test_default_source(self):
        e = self.load_bad("RelayFlags = 16\n")
        self.assertEqual(e.filename, "<string>")
        self.assertTrue(str(e).startswith("<string>:1:"))

    def test_bad_entries(self):
        for text, line in [
            ("[RelayAllowList]\n10.1\n", 2),
            ("[RelayAllowList]\n010.0.0.1\n", 2),
            ("\n[RelayDenyList]\n192.168.1.5;255.255.255.0\n", 3),  # host bits
            ("[NoSuchList]\n", 1),
            ("RelayFlags = 3\nRelayFlags = 3\n", 2),
            ("RelayFlags = 3\x00\n", 1),
        ]:
            with self.subTest(text=text):
                e = self.load_bad(text, source="t.conf")
                self.assertEqual(e.lineno, line)
                self.assertTrue(e.msg)
                self.assertTrue(str(e).startswith("t.conf:%d:" % line), str(e))

    def test_line_too_long_is_a_limit(self):
        e = self.load_bad("# " + "x" * 5000 + "\n")
        self.assertEqual(e.lineno, 1)
        self.assertIn("4096", e.msg)

    def test_from_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.conf")
            with open(path, "w") as f:
                f.write("RelayFlags = 3\n[RelayAllowList]\n192.168.1.0/33\n")
            with self.assertRaises(relaypol.PolicyError) as cm:
                relaypol.Policy.from_file(path)
            e = cm.exception
            self.assertEqual((e.filename, e.lineno), (path, 3))
            self.assertTrue(str(e).startswith(path + ":3:"))

    def test_file_too_large(self):
        # /dev/zero never ends: the 256 MiB limit stops the read.
        with self.assertRaises(relaypol.PolicyError) as cm:
            relaypol.Policy.from_file("/dev/zero")
        e = cm.exception
        self.assertEqual((e.filename, e.lineno, e.colno), ("/dev/zero", None, None))
        self.assertEqual(str(e), "/dev/zero: " + e.msg)

    def test_user_constructible(self):
        e = relaypol.PolicyError("bad", "f.conf", 3)
        self.assertEqual(str(e), "f.conf:3: bad")
        self.assertEqual(str(relaypol.PolicyError("bad")), "bad")
        self.assertEqual(pickle.loads(pickle.dumps(e)).lineno, 3)

    def test_literal_masks(self):
        text = "RelayFlags = 2\n[RelayAllowList]\n192.168.1.5;255.255.255.0\n"
        self.load_bad(text)
        p = relaypol.Policy.from_string(text, literal_masks=True)
        # Kept with its literal meaning under the seed's formula: never matches.
        self.assertIs(p.decide("192.168.1.5", "<a@example.net>").step, relaypol.Step.NO_RULE)
        p = relaypol.Policy.from_string("LiteralMasks = yes\n" + text)
        self.assertEqual(p.relay_flags, 2)


class TestFileErrors(unittest.TestCase):
    def test_missing(self):
        path = "/nonexistent/relaypol.conf"
        with self.assertRaises(FileNotFoundError) as cm:
            relaypol.Policy.from_file(path)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertEqual(cm.exception.filename, path)
        self.assertNotIsInstance(cm.exception, relaypol.PolicyError)

    def test_directory(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(OSError) as cm:
                relaypol.Policy.from_file(d)
            self.assertEqual(cm.exception.errno, errno.EISDIR)
            self.assertIsInstance(cm.exception, IsADirectoryError)
            self.assertEqual(cm.exception.filename, d)

    def test_path_types(self):
        with self.assertRaises(TypeError):
            relaypol.Policy.from_file(3)
        with self.assertRaises(ValueError):
            relaypol.Policy.from_file("a\x00b")


class TestOutOfMemory(unittest.TestCase):
    def test_every_allocation_failing_in_turn(self):
        text = (support.EXAMPLES / "example.conf").read_text()
        load = relaypol._relaypol._load_string_with_budget
        failures = 0
        for budget in range(10000):
            try:
                p = load(text, budget)
            except MemoryError:
                failures += 1
                continue
            self.assertEqual(p.relay_flags, 15)
            self.assertIs(p.decide("192.168.1.42", "<a@example.net>").step,
                          relaypol.Step.ALLOW_LIST)
            break
        else:
            self.fail("never loaded")
        self.assertGreater(failures, 3)


class TestArgumentErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def test_signature(self):
        d = self.p.decide
        for call in [
            lambda: d(),
            lambda: d("1.2.3.4"),
            lambda: d(recipient="<a@b.c>"),
            lambda: d("1.2.3.4", "<a@b.c>", "10.0.0.25"),
            lambda: d("1.2.3.4", "<a@b.c>", bogus=1),
            lambda: d("1.2.3.4", "<a@b.c>", client="1.2.3.4"),
            lambda: d("1.2.3.4", "<a@b.c>", **{"user\x00": 1}),
        ]:
            with self.assertRaises(TypeError):
                call()

    def test_text_arguments(self):
        with self.assertRaisesRegex(TypeError, "recipient must be str or bytes"):
            self.p.decide("1.2.3.4", None)
        with self.assertRaisesRegex(TypeError, "user must be str or bytes"):
            self.p.decide("1.2.3.4", "<a@b.c>", user=1)
        with self.assertRaisesRegex(ValueError, "user contains a NUL"):
            self.p.decide("1.2.3.4", "<a@b.c>", user="alice\x00@example.com")
        with self.assertRaisesRegex(ValueError, "client_name contains a NUL"):
            self.p.decide("1.2.3.4", "<a@b.c>", client_name=b"a\x00")
        with self.assertRaises(UnicodeEncodeError):
            self.p.decide("1.2.3.4", "<\ud800@b.c>")

    def test_truth_value_errors_propagate(self):
        class Bad:
            def __bool__(self):
                raise ZeroDivisionError

        with self.assertRaises(ZeroDivisionError):
            self.p.decide("1.2.3.4", "<a@b.c>", tls=Bad())
        with self.assertRaises(ZeroDivisionError):
            self.p.decide("1.2.3.4", "<a@b.c>", internal=Bad())

    def test_load_arguments(self):
        P = relaypol.Policy
        with self.assertRaises(TypeError):
            P.from_string(None)
        with self.assertRaises(TypeError):
            P.from_string("", source=b"x")
        with self.assertRaises(ValueError):
            P.from_string("", source="a\x00b")
        with self.assertRaises(TypeError):
            P.from_string("", "positional-source")
        with self.assertRaises(TypeError):
            P.from_file(support.EXAMPLES / "example.conf", True)

    def test_not_picklable(self):
        with self.assertRaises(TypeError):
            pickle.dumps(self.p)
        with self.assertRaises(TypeError):
            pickle.dumps(self.p.decide("1.2.3.4", "<a@b.c>"))


if __name__ == "__main__":
    unittest.main()
