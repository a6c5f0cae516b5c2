"""Policy.lint(): findings as Finding named tuples."""

import unittest

import relaypol
from relaypol import Finding, Severity

import support


class TestLint(unittest.TestCase):
    def test_open_relay(self):
        findings = support.example("seed-deny-only").lint()
        self.assertEqual([f.code for f in findings], ["open-relay"])
        f = findings[0]
        self.assertIsInstance(f, Finding)
        self.assertIs(f.severity, Severity.WARNING)
        self.assertEqual((f.line, f.column), (4, None))
        self.assertIn("open relay", f.message)
        self.assertEqual(str(f), "4: warning: %s [open-relay]" % f.message)
        severity, code, line, column, message = f  # a plain tuple too
        self.assertEqual(code, "open-relay")

    def test_entry_findings_have_columns(self):
        p = support.policy(
            "RelayFlags = 2\n"
            "[RelayAllowList]\n"
            "  192.168.1.5;255.255.255.0\n"
            "10.0.0.0/8\n"
            "10.1.0.0/16\n",
            literal_masks=True,
        )
        findings = p.lint()
        by_code = {f.code: f for f in findings}
        self.assertIn("host-bits", by_code)
        self.assertEqual((by_code["host-bits"].line, by_code["host-bits"].column), (3, 3))
        self.assertIn("shadowed", {f.code for f in findings})
        self.assertEqual([f.line or 0 for f in findings],
                         sorted(f.line or 0 for f in findings))

    def test_clean_policy(self):
        self.assertEqual(support.example("seed-subnet-except").lint(), [])

    def test_severity_is_ordered(self):
        self.assertLess(Severity.NOTE, Severity.WARNING)
        self.assertLess(Severity.WARNING, Severity.ERROR)

    def test_role_note(self):
        p = support.policy("Role = gateway\nAcceptedDomains = example.com\n")
        notes = [f for f in p.lint() if f.severity is Severity.NOTE]
        self.assertEqual([f.code for f in notes], ["role"])


if __name__ == "__main__":
    unittest.main()
