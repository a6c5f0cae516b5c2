"""Shared helpers of the relaypol binding tests.

The tests import relaypol from the build tree: meson test sets PYTHONPATH
to <builddir>/bindings/python; by hand, see ../README.md.
"""

import os
import pathlib

import relaypol

#: examples/policies of the source tree.
EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "policies"


def example(name: str) -> relaypol.Policy:
    """Loads examples/policies/<name>.conf."""
    return relaypol.Policy.from_file(EXAMPLES / (name + ".conf"))


def policy(text: str, **kw) -> relaypol.Policy:
    return relaypol.Policy.from_string(text, source="test.conf", **kw)


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
