"""The seed's RelayFlags table (Microsoft KB Q193922) through the binding:
a few flag values times every combination of the four conditions, against
the seed read literally as an oracle (as tests/test_flags_table.c does for
all 16 values)."""

import itertools
import unittest

import relaypol
from relaypol import Step, Verdict

# [in deny][in allow]: 10.1.0.0/16 is denied inside the allowed 10.0.0.0/8.
CLIENT = {(False, False): "198.51.100.7", (False, True): "10.9.9.9",
          (True, False): "172.16.5.5", (True, True): "10.1.2.3"}
LOCAL = {False: "192.0.2.26", True: "192.0.2.25"}

TEXT = """RelayFlags = %d
AcceptedDomains = example.com
[RelayDenyList]
10.1.0.0;255.255.0.0
172.16.0.0;255.240.0.0
[RelayAllowList]
10.0.0.0;255.0.0.0
[RelayLocalIPList]
192.0.2.25
"""


def seed_oracle(flags, deny, allow, local, auth):
    """First match wins, in the seed's order."""
    if flags & 1 and deny:
        return Step.DENY_LIST
    if flags & 2 and allow:
        return Step.ALLOW_LIST
    if flags & 4 and local:
        return Step.LOCAL_IP_LIST
    if flags & 8 and auth:
        return Step.AUTHENTICATED
    if flags == 1:
        return Step.ONLY_DENY_BIT
    return Step.NO_RULE


ENTRY = {
    Step.ALLOW_LIST: ("10.0.0.0;255.0.0.0", 7),
    Step.LOCAL_IP_LIST: ("192.0.2.25", 9),
}


class TestFlagsTable(unittest.TestCase):
    def test_flags_times_conditions(self):
        for flags in (0, 1, 2, 3, 4, 5, 8, 12, 15):
            p = relaypol.Policy.from_string(TEXT % flags, source="flags.conf")
            self.assertEqual(p.relay_flags, flags)
            for deny, allow, local, auth in itertools.product((False, True), repeat=4):
                with self.subTest(flags=flags, deny=deny, allow=allow, local=local, auth=auth):
                    d = p.decide(CLIENT[deny, allow], "<victim@example.net>",
                                 local=LOCAL[local], user="alice" if auth else None)
                    want = seed_oracle(flags, deny, allow, local, auth)
                    self.assertIs(d.step, want)
                    denied = want in (Step.DENY_LIST, Step.NO_RULE)
                    self.assertIs(d.verdict, Verdict.DENY if denied else Verdict.RELAY)
                    if denied:
                        self.assertEqual(d.reply, "550 5.7.1 Relaying denied")
                    if want is Step.DENY_LIST:
                        self.assertEqual(
                            (d.entry, d.line),
                            ("10.1.0.0;255.255.0.0", 4) if allow else ("172.16.0.0;255.240.0.0", 5))
                    elif want in ENTRY:
                        self.assertEqual((d.entry, d.line), ENTRY[want])
                    else:
                        self.assertIsNone(d.entry)
                        self.assertIsNone(d.line)
                    # Mail for an accepted domain is local whatever the flags.
                    d = p.decide(CLIENT[deny, allow], "<someone@EXAMPLE.com>",
                                 local=LOCAL[local], user="alice" if auth else None)
                    self.assertIs(d.verdict, Verdict.LOCAL)
                    # The same client over a dual-stack socket.
                    d = p.decide("::ffff:" + CLIENT[deny, allow], "<victim@example.net>",
                                 local=LOCAL[local], user="alice" if auth else None)
                    self.assertIs(d.step, want)

    def test_seed_examples(self):
        # Example 3: a subnet except a subset (RelayFlags = 3).
        p = relaypol.Policy.from_string(
            "RelayFlags = 3\n[RelayAllowList]\n192.168.1.0;255.255.255.0\n"
            "[RelayDenyList]\n192.168.1.0;255.255.255.248\n")
        self.assertIs(p.decide("192.168.1.7", "<a@b.example>").verdict, Verdict.DENY)
        self.assertIs(p.decide("192.168.1.8", "<a@b.example>").verdict, Verdict.RELAY)
        self.assertIs(p.decide("192.168.2.8", "<a@b.example>").verdict, Verdict.DENY)


if __name__ == "__main__":
    unittest.main()
