"""Policy.decide(): every verdict, every step, every Decision attribute."""

import ipaddress
import unittest

import relaypol
from relaypol import Auth, Step, Verdict

import support

OK = "250 2.1.5 Ok"
DENIED = "550 5.7.1 Relaying denied"


class TestVerdicts(unittest.TestCase):
    """The bundled example policy, request by request (requests.txt)."""

    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def check(self, d, verdict, step, entry=None, line=None):
        self.assertIs(d.verdict, verdict)
        self.assertIs(d.step, step)
        self.assertEqual(d.entry, entry)
        self.assertEqual(d.line, line)

    def test_local_accepted_domain(self):
        d = self.p.decide("203.0.113.9", "<friend@example.com>")
        self.check(d, Verdict.LOCAL, Step.ACCEPTED_DOMAIN, "example.com", 10)
        self.assertEqual(d.reply, OK)

    def test_accepted_domain_wildcard(self):
        d = self.p.decide("203.0.113.9", "<x@mail.EXAMPLE.org>")
        self.check(d, Verdict.LOCAL, Step.ACCEPTED_DOMAIN, "*.example.org", 10)

    def test_deny_no_rule(self):
        d = self.p.decide("203.0.113.9", "<victim@example.net>")
        self.check(d, Verdict.DENY, Step.NO_RULE)
        self.assertEqual(d.reply, DENIED)
        self.assertIs(d.auth, Auth.NONE)

    def test_deny_list(self):
        d = self.p.decide("192.168.1.3", "<someone@example.net>")
        self.check(d, Verdict.DENY, Step.DENY_LIST, "192.168.1.0;255.255.255.248", 15)
        self.assertEqual(d.reply, DENIED)

    def test_allow_list(self):
        d = self.p.decide("192.168.1.42", "<someone@example.net>")
        self.check(d, Verdict.RELAY, Step.ALLOW_LIST, "192.168.1.0;255.255.255.0", 18)
        self.assertEqual(d.reply, OK)
        d = self.p.decide("2001:db8:100::25", "<someone@example.net>")
        self.check(d, Verdict.RELAY, Step.ALLOW_LIST, "2001:db8:100::/48", 19)

    def test_local_ip_list(self):
        d = self.p.decide("198.51.100.7", "<someone@example.net>", local="10.0.0.25")
        self.check(d, Verdict.RELAY, Step.LOCAL_IP_LIST, "10.0.0.25", 22)

    def test_authenticated(self):
        d = self.p.decide(
            "198.51.100.7", "<someone@example.net>", user="alice@example.com", tls=True
        )
        self.check(d, Verdict.RELAY, Step.AUTHENTICATED, "@staff", 12)
        self.assertIs(d.auth, Auth.USED)

    def test_auth_needs_tls(self):
        d = self.p.decide("198.51.100.7", "<someone@example.net>", user="alice@example.com")
        self.check(d, Verdict.DENY, Step.NO_RULE)
        self.assertIs(d.auth, Auth.NO_TLS)
        self.assertIn("TLS", d.reply)

    def test_auth_not_listed(self):
        d = self.p.decide(
            "198.51.100.7", "<someone@example.net>", user="mallory@example.com", tls=True
        )
        self.check(d, Verdict.DENY, Step.NO_RULE)
        self.assertIs(d.auth, Auth.NOT_LISTED)

    def test_auth_not_needed(self):
        d = self.p.decide("192.168.1.42", "<someone@example.net>", user="alice@example.com")
        self.assertIs(d.step, Step.ALLOW_LIST)
        self.assertIs(d.auth, Auth.NOT_NEEDED)

    def test_auth_not_enabled(self):
        p = support.example("seed-allow-only")
        d = p.decide("198.51.100.7", "<someone@example.net>", user="alice", tls=True)
        self.assertIs(d.step, Step.NO_RULE)
        self.assertIs(d.auth, Auth.NOT_ENABLED)

    def test_only_deny_bit(self):
        p = support.example("seed-deny-only")
        d = p.decide("203.0.113.9", "<someone@example.net>")
        self.check(d, Verdict.RELAY, Step.ONLY_DENY_BIT)
        d = p.decide("192.168.17.1", "<someone@example.net>")
        self.check(d, Verdict.DENY, Step.DENY_LIST, "192.168.17.0;255.255.255.0", 8)

    def test_bad_recipient(self):
        d = self.p.decide("203.0.113.9", "<bad..address@example.com")
        self.check(d, Verdict.DENY, Step.BAD_RECIPIENT)
        self.assertIs(d.rcpt_error, relaypol.RcptError.UNBALANCED_BRACKET)
        self.assertEqual(d.rcpt_error.description, "unbalanced bracket")
        self.assertTrue(d.reply.startswith("501 "))
        for rcpt, err in [
            ("<>", relaypol.RcptError.EMPTY),
            ("", relaypol.RcptError.EMPTY),
            ("<a..b@example.com>", relaypol.RcptError.BAD_LOCAL_PART),
            ("<a@example..com>", relaypol.RcptError.EMPTY_LABEL),
            ("<a\x00b@example.com>", relaypol.RcptError.CONTROL),
            ("<jörg@example.com>", relaypol.RcptError.NON_ASCII),
            ("<victim@example.net@example.com>", relaypol.RcptError.EXTRA_AT),
            ("<user>", relaypol.RcptError.NO_DOMAIN),
        ]:
            with self.subTest(rcpt=rcpt):
                d = self.p.decide("203.0.113.9", rcpt)
                self.assertIs(d.step, Step.BAD_RECIPIENT)
                self.assertIs(d.rcpt_error, err)
        self.assertIsNone(self.p.decide("203.0.113.9", "<a@example.com>").rcpt_error)

    def test_postmaster(self):
        d = self.p.decide("203.0.113.9", "<postmaster>")
        self.check(d, Verdict.LOCAL, Step.ACCEPTED_DOMAIN)

    def test_local_literal(self):
        p = support.policy("RelayFlags = 0\nServerAddresses = 192.0.2.25\n")
        d = p.decide("203.0.113.9", "<postmaster@[192.0.2.25]>")
        self.assertIs(d.verdict, Verdict.LOCAL)
        self.assertIs(d.step, Step.LOCAL_LITERAL)
        self.assertEqual(d.route, frozenset({"literal"}))
        # The local address it connected to names this server as well.
        d = p.decide("203.0.113.9", "<postmaster@[198.51.100.1]>", local="198.51.100.1")
        self.assertIs(d.step, Step.LOCAL_LITERAL)
        d = p.decide("203.0.113.9", "<postmaster@[198.51.100.1]>")
        self.assertIs(d.step, Step.NO_RULE)

    def test_submission_refused(self):
        p = support.policy(
            "RelayFlags = 2\nAcceptedDomains = example.com\nSubmission = restricted\n"
            "[SubmitAllowList]\n10.0.0.0/8\n"
        )
        d = p.decide("203.0.113.9", "<a@example.com>")
        self.assertIs(d.verdict, Verdict.DENY)
        self.assertIs(d.step, Step.SUBMISSION)
        d = p.decide("10.1.2.3", "<a@example.com>")
        self.assertIs(d.verdict, Verdict.LOCAL)
        self.assertEqual((d.entry, d.line), ("10.0.0.0/8", 5))

    def test_every_verdict_and_step_reached(self):
        # Guard for the tests above: the enums have no member left untested.
        self.assertEqual({v.value for v in Verdict}, {"local", "relay", "deny"})
        self.assertEqual(len(Step), 10)
        self.assertEqual(len(Auth), 6)


class TestDecisionObject(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = support.example("example")

    def test_verdict_is_a_str(self):
        d = self.p.decide("192.168.1.42", "<someone@example.net>")
        self.assertEqual(d.verdict, "relay")
        self.assertIsInstance(d.verdict, str)
        self.assertEqual(str(d.verdict), "relay")
        self.assertEqual(f"{d.verdict}", "relay")
        self.assertEqual(Verdict.LOCAL, "local")
        self.assertEqual(d.step, "allow-list")
        self.assertIs(Verdict("deny"), Verdict.DENY)

    def test_repr(self):
        d = self.p.decide("192.168.1.42", "<someone@example.net>")
        self.assertEqual(
            repr(d),
            "<Decision relay step=allow-list entry='192.168.1.0;255.255.255.0' "
            "line=18 reply='250 2.1.5 Ok'>",
        )
        d = self.p.decide("203.0.113.9", "<victim%example.net@example.com>", user="bob")
        self.assertEqual(
            repr(d),
            "<Decision deny step=no-rule reply='550 5.7.1 Relaying denied: "
            "authentication counts only over TLS' auth=no-tls route=percent>",
        )
        d = self.p.decide("203.0.113.9", "<a@b@c>")
        self.assertEqual(
            repr(d),
            "<Decision deny step=bad-recipient reply='501 5.1.3 Bad recipient "
            "address syntax' rcpt_error=\"second '@'\">",
        )

    def test_explanation(self):
        d = self.p.decide(
            "::ffff:192.168.1.3",
            "<someone@example.net>",
            local="10.0.0.25",
            user='ev"il\n',
            client_name="mx.example.net",
        )
        self.assertEqual(
            d.explanation,
            "deny step=deny-list client=192.168.1.3 local=10.0.0.25 "
            'name="mx.example.net" user="ev\\"il\\x0a" rcpt="<someone@example.net>" '
            'entry="192.168.1.0;255.255.255.248" line=15 auth=not-needed',
        )
        # Long recipients are cut by the library, not by the binding.
        long = "<" + "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ">"
        self.assertIn("rcpt=", self.p.decide("203.0.113.9", long).explanation)

    def test_route(self):
        cases = {
            "<victim%example.net@example.com>": {"percent"},
            "<host!victim@example.com>": {"bang"},
            "<@example.com:victim@example.net>": {"source-route"},
            '<"victim@example.net"@example.com>': {"quoted-at"},
            "<postmaster@[192.0.2.1]>": {"literal"},
            "<victim@example.net>": set(),
        }
        for rcpt, route in cases.items():
            with self.subTest(rcpt=rcpt):
                d = self.p.decide("203.0.113.9", rcpt)
                self.assertEqual(d.route, frozenset(route))
                self.assertIsInstance(d.route, frozenset)
                if route and route != {"literal"}:
                    self.assertEqual(d.reply, "550 5.7.1 Relaying denied: routed recipient address")
        d = self.p.decide("203.0.113.9", "victim@example.net@example.com", internal=True)
        self.assertEqual(d.route, frozenset({"extra-at"}))
        self.assertIs(d.verdict, Verdict.DENY)

    def test_internal_form(self):
        # Postfix's form: no brackets; a second '@' is routing, not an error.
        d = self.p.decide("203.0.113.9", "friend@example.com", internal=True)
        self.assertIs(d.step, Step.ACCEPTED_DOMAIN)
        d = self.p.decide("203.0.113.9", "a@b@example.com", internal=False)
        self.assertIs(d.step, Step.BAD_RECIPIENT)

    def test_esmtp_parameters(self):
        d = self.p.decide("203.0.113.9", "<friend@example.com> NOTIFY=NEVER")
        self.assertIs(d.step, Step.ACCEPTED_DOMAIN)

    def test_text_as_bytes(self):
        d = self.p.decide(
            "198.51.100.7", b"<someone@example.net>", user=b"alice@example.com", tls=True
        )
        self.assertIs(d.step, Step.AUTHENTICATED)
        self.assertIn('rcpt="<someone@example.net>"', d.explanation)
        d = self.p.decide("203.0.113.9", b"<j\xc3\xb6rg@example.com>")
        self.assertIs(d.rcpt_error, relaypol.RcptError.NON_ASCII)

    def test_keywords(self):
        d = self.p.decide(client="192.168.1.42", recipient="<someone@example.net>")
        self.assertIs(d.step, Step.ALLOW_LIST)
        d = self.p.decide("192.168.1.42", recipient="<someone@example.net>")
        self.assertIs(d.step, Step.ALLOW_LIST)
        # tls and internal take any truth value.
        d = self.p.decide("198.51.100.7", "<x@example.net>", user="bob@example.com", tls=1)
        self.assertIs(d.step, Step.AUTHENTICATED)
        d = self.p.decide("198.51.100.7", "<x@example.net>", user="bob@example.com", tls=[])
        self.assertIs(d.auth, Auth.NO_TLS)
        # None means "not given" for the optional ones.
        d = self.p.decide("203.0.113.9", "<x@example.net>", local=None, user=None, client_name=None)
        self.assertIs(d.auth, Auth.NONE)

    def test_client_and_policy(self):
        d = self.p.decide("2001:DB8:100::25", "<x@example.net>")
        self.assertEqual(d.client, ipaddress.IPv6Address("2001:db8:100::25"))
        self.assertIs(d.policy, self.p)

    def test_decision_outlives_policy_name(self):
        p = support.example("example")
        d = p.decide("192.168.1.42", "<someone@example.net>")
        del p  # the decision keeps the policy, whose strings it borrows
        self.assertEqual(d.entry, "192.168.1.0;255.255.255.0")
        self.assertIn("entry=", d.explanation)

    def test_entry_read_late(self):
        # The entry of a list hit is read from the policy when first asked
        # for, by whichever attribute asks first, and never goes stale
        # when decisions are recycled.
        want = ("192.168.1.0;255.255.255.248", 15)
        for first in ("repr", "explanation", "line", "entry"):
            d = self.p.decide("192.168.1.3", "<someone@example.net>")
            other = [self.p.decide("203.0.113.9", "<victim@example.net>")
                     for _ in range(40)]  # cycles the decision free list
            if first == "repr":
                self.assertIn("entry='192.168.1.0;255.255.255.248' line=15", repr(d))
            elif first == "explanation":
                self.assertIn('entry="192.168.1.0;255.255.255.248" line=15', d.explanation)
            else:
                getattr(d, first)
            self.assertEqual((d.entry, d.line), want, first)
            for o in other:
                self.assertEqual((o.entry, o.line), (None, None))
            del d, other
        d = self.p.decide("203.0.113.9", "<victim@example.net>")
        self.assertEqual((d.entry, d.line), (None, None))

    def test_read_only(self):
        d = self.p.decide("192.168.1.42", "<someone@example.net>")
        with self.assertRaises(AttributeError):
            d.verdict = Verdict.DENY
        with self.assertRaises(AttributeError):
            d.anything = 1
        with self.assertRaises(TypeError):
            relaypol.Decision()


    def test_many_alive_at_once(self):
        # Freed Decisions are reused: live ones must never share state.
        p, q = self.p, support.policy("RelayFlags = 1\n[RelayDenyList]\n10.0.0.0/8\n")
        cases = [(p, "192.168.1.42", "<a@example.net>", Verdict.RELAY, Step.ALLOW_LIST, OK),
                 (p, "203.0.113.9", "<a@example.net>", Verdict.DENY, Step.NO_RULE, DENIED),
                 (p, "203.0.113.9", "<a@example.com>", Verdict.LOCAL, Step.ACCEPTED_DOMAIN, OK),
                 (q, "10.1.2.3", "<a@example.net>", Verdict.DENY, Step.DENY_LIST, DENIED),
                 (q, "11.1.2.3", "<a@example.net>", Verdict.RELAY, Step.ONLY_DENY_BIT, OK)]
        for rounds in range(3):
            alive = [(c, c[0].decide(c[1], c[2])) for c in cases * 20]
            for (pol, client, _, verdict, step, reply), d in alive:
                self.assertIs(d.policy, pol)
                self.assertIs(d.verdict, verdict)
                self.assertIs(d.step, step)
                self.assertEqual(d.reply, reply)
                self.assertEqual(d.client, ipaddress.ip_address(client))
            del alive, d

    def test_reply_is_stable(self):
        d = self.p.decide("203.0.113.9", "<victim@example.net>")
        self.assertEqual([d.reply for _ in range(3)], [DENIED] * 3)
        self.assertIs(type(d.reply), str)


class TestPolicy(unittest.TestCase):
    def test_properties(self):
        p = support.example("example")
        self.assertEqual(p.relay_flags, 15)
        self.assertGreater(p.memory, 0)
        self.assertTrue(p.source.endswith("example.conf"))
        self.assertIn("relay_flags=15", repr(p))
        q = support.policy("RelayFlags = 3\n")
        self.assertEqual((q.relay_flags, q.source), (3, "test.conf"))
        self.assertEqual(relaypol.Policy.from_string("").source, "<string>")
        self.assertEqual(relaypol.Policy.from_string(b"RelayFlags = 4\n").relay_flags, 4)

    def test_path_like(self):
        p = relaypol.Policy.from_file(str(support.EXAMPLES / "example.conf"))
        self.assertEqual(p.relay_flags, 15)
        p = relaypol.Policy.from_file(bytes(support.EXAMPLES / "example.conf"))
        self.assertEqual(p.relay_flags, 15)

    def test_immutable_and_shareable(self):
        import copy
        import weakref

        p = support.example("example")
        self.assertIs(copy.copy(p), p)
        self.assertIs(copy.deepcopy(p), p)
        self.assertIs(weakref.ref(p)(), p)
        with self.assertRaises(AttributeError):
            p.relay_flags = 3
        with self.assertRaises(TypeError):
            relaypol.Policy()

    def test_version(self):
        self.assertRegex(relaypol.__version__, r"^\d+\.\d+\.\d+$")
        self.assertEqual(relaypol.__version__, relaypol._relaypol.header_version)


if __name__ == "__main__":
    unittest.main()
