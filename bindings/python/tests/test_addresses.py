"""Addresses: str (strict), ipaddress objects, packed bytes; IPv4-mapped
addresses folded to IPv4 as the C library does."""

import ipaddress
import random
import unittest

import relaypol
from relaypol import Step

import support

RCPT = "<someone@example.net>"


class TestAddressForms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def step(self, client, **kw):
        return self.p.decide(client, RCPT, **kw).step

    def test_every_form_decides_alike(self):
        v4 = "192.168.1.42"
        v6 = "2001:db8:100::25"
        for client in [
            v4,
            ipaddress.IPv4Address(v4),
            ipaddress.ip_address(v4).packed,
            bytearray(ipaddress.ip_address(v4).packed),
            memoryview(ipaddress.ip_address(v4).packed),
            v6,
            "[2001:db8:100::25]",
            ipaddress.IPv6Address(v6),
            ipaddress.IPv6Address(v6).packed,
        ]:
            with self.subTest(client=client):
                self.assertIs(self.step(client), Step.ALLOW_LIST)

    def test_local_forms(self):
        for local in ["10.0.0.25", ipaddress.IPv4Address("10.0.0.25"), bytes([10, 0, 0, 25])]:
            with self.subTest(local=local):
                self.assertIs(self.step("198.51.100.7", local=local), Step.LOCAL_IP_LIST)
        self.assertIs(self.step("198.51.100.7", local="10.0.0.26"), Step.NO_RULE)

    def test_subclasses(self):
        class Text(str):
            pass

        class V4(ipaddress.IPv4Address):
            pass

        self.assertIs(self.step(Text("192.168.1.42")), Step.ALLOW_LIST)
        self.assertIs(self.step(V4("192.168.1.42")), Step.ALLOW_LIST)

    def test_strict_text(self):
        bad = [
            "10.1",  # shorthand
            "010.0.0.1",  # leading zero (octal elsewhere)
            "0x0a.0.0.1",  # hex
            "192.168.1.256",
            " 192.168.1.42",
            "192.168.1.42 ",
            "+1.2.3.4",
            "192.168.1.0/24",  # a network, not an address
            "fe80::1%eth0",  # zone
            "2001:db8::g",
            "1:2:3:4:5:6:7:8:9",
            "",
            "192.168.1.42\x00",
            "192.168.1.42\x00junk",
            "\ud800",  # not even encodable
            "localhost",
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(relaypol.AddressError) as cm:
                    self.p.decide(text, RCPT)
                self.assertIsInstance(cm.exception, ValueError)
                self.assertIsInstance(cm.exception, relaypol.Error)
                self.assertIn("client", str(cm.exception))
                with self.assertRaises(ValueError) as cm:
                    self.p.decide("192.168.1.42", RCPT, local=text)
                self.assertIn("local", str(cm.exception))

    def test_packed_lengths(self):
        for n in (0, 1, 3, 5, 15, 17):
            with self.subTest(n=n):
                with self.assertRaisesRegex(relaypol.AddressError, "4 or 16 bytes"):
                    self.p.decide(bytes(n), RCPT)
        # Text in bytes is not an address: say so rather than guess.
        with self.assertRaisesRegex(ValueError, "as str"):
            self.p.decide(b"192.168.1.42", RCPT)

    def test_zone_refused(self):
        with self.assertRaisesRegex(relaypol.AddressError, "zone"):
            self.p.decide(ipaddress.IPv6Address("fe80::1%eth0"), RCPT)

    def test_wrong_types(self):
        for client in [None, 3232235818, 1.5, ["192.168.1.42"], ("192.168.1.42", 25),
                       ipaddress.ip_network("192.168.1.0/24"),
                       ipaddress.ip_interface("192.168.1.42/24").network]:
            with self.subTest(client=client):
                with self.assertRaisesRegex(TypeError, "client must be str"):
                    self.p.decide(client, RCPT)
        with self.assertRaisesRegex(TypeError, "local must be"):
            self.p.decide("192.168.1.42", RCPT, local=42)


class TestFastPaths(unittest.TestCase):
    """The binding reads ipaddress objects' integer instead of .packed;
    that and text addresses must agree with the library."""

    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def test_random_quads_agree_with_ipaddress(self):
        rng = random.Random(8)
        for _ in range(20000):
            a = ipaddress.IPv4Address(rng.getrandbits(32))
            self.assertEqual(self.p.decide(str(a), RCPT).client, a)
        for text in ["1.2.3.04", "01.2.3.4", "1.2.3.256", "1.2.3.4.", "1..2.3",
                     "1.2.3.4\x00", "1.2.3.4\x005", "\u0661.2.3.4", "1.2.3.4 "]:
            with self.assertRaises(ValueError, msg=text):
                self.p.decide(text, RCPT)

    def test_ipaddress_objects_agree_with_packed(self):
        rng = random.Random(9)
        for _ in range(2000):
            for a in (ipaddress.IPv4Address(rng.getrandbits(32)),
                      ipaddress.IPv6Address(rng.getrandbits(128)),
                      ipaddress.IPv6Address(rng.getrandbits(32) | 0xFFFF00000000)):
                with self.subTest(a=a):
                    self.assertEqual(self.p.decide(a, RCPT).client,
                                     self.p.decide(a.packed, RCPT).client)
        for a in ("0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"):
            obj = ipaddress.ip_address(a)
            self.assertEqual(self.p.decide(obj, RCPT).client, obj)

    def test_subclass_uses_packed(self):
        # A subclass may redefine .packed; the binding then reads it.
        class Odd(ipaddress.IPv4Address):
            @property
            def packed(self):
                return bytes([192, 168, 1, 3])

        d = self.p.decide(Odd("8.8.8.8"), RCPT)
        self.assertEqual(d.client, ipaddress.IPv4Address("192.168.1.3"))

        class Zoned(ipaddress.IPv6Address):
            pass

        with self.assertRaisesRegex(relaypol.AddressError, "zone"):
            self.p.decide(Zoned("fe80::1%eth0"), RCPT)


class TestMappedFolding(unittest.TestCase):
    """A client over a dual-stack socket must not slip past IPv4 lists."""

    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def test_folded_in_every_form(self):
        mapped = "::ffff:192.168.1.3"
        for client in [
            mapped,
            "::FFFF:c0a8:103",
            "[::ffff:192.168.1.3]",
            ipaddress.IPv6Address(mapped),
            ipaddress.IPv6Address(mapped).packed,
        ]:
            with self.subTest(client=client):
                d = self.p.decide(client, RCPT)
                self.assertIs(d.step, Step.DENY_LIST)
                self.assertEqual(d.client, ipaddress.IPv4Address("192.168.1.3"))
                self.assertIsInstance(d.client, ipaddress.IPv4Address)
                self.assertIn("client=192.168.1.3 ", d.explanation)

    def test_local_folded(self):
        d = self.p.decide("198.51.100.7", RCPT, local="::ffff:10.0.0.25")
        self.assertIs(d.step, Step.LOCAL_IP_LIST)
        self.assertIn("local=10.0.0.25 ", d.explanation)

    def test_not_folded_otherwise(self):
        # ::192.168.1.3 (deprecated IPv4-compatible) and 64:ff9b:: (NAT64)
        # are different addresses, not the IPv4 client.
        for client in ["::192.168.1.3", "64:ff9b::c0a8:103", "::ffff:0:c0a8:103"]:
            with self.subTest(client=client):
                d = self.p.decide(client, RCPT)
                self.assertIs(d.step, Step.NO_RULE)
                self.assertIsInstance(d.client, ipaddress.IPv6Address)

    def test_ipv6_canonical(self):
        d = self.p.decide("2001:0db8:0100:0000:0000:0000:0000:0025", RCPT)
        self.assertIn("client=2001:db8:100::25 ", d.explanation)


if __name__ == "__main__":
    unittest.main()
