#!/usr/bin/env python3
"""Micro-benchmark (not a test): ns per Policy.decide() next to py-radix's
search_best, for a small and a 1M-entry allow list, in the same run.

The prefixes follow the global-BGP length mix of
/work/shared/notes/perf-anchors.md (random unique IPv4 prefixes, /8 to
/24); lookups are uniformly random IPv4 addresses given as str, the form
both libraries take from an SMTP server.  Methods are interleaved within
each repetition and the median of the thread's CPU time is reported; every
figure includes the Python loop and call overhead, which is printed on its
own as "loop" (a loop calling len()).

py-radix is Debian's python3-radix, installed for /usr/bin/python3 only,
so run this under that interpreter with an extension built for it (see
README.md):

    PATH=/usr/bin:$PATH meson setup build-deb && ninja -C build-deb
    PYTHONPATH=build-deb/bindings/python /usr/bin/python3 \\
        bindings/python/bench_decide.py --cpu 1

Without py-radix it still measures relaypol.
"""

import argparse
import ipaddress
import os
import random
import statistics
import sys
import time

# This script sits next to the source package, which has no compiled
# extension: import relaypol from PYTHONPATH (a build directory) instead.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import relaypol  # noqa: E402

try:
    import radix
except ImportError:  # pragma: no cover - depends on the interpreter
    radix = None

# Prefix lengths per 100,000 prefixes (perf-anchors.md, "Workload").
LENGTHS = {8: 10, 9: 10, 10: 30, 11: 60, 12: 150, 13: 250, 14: 450, 15: 600,
           16: 1400, 17: 800, 18: 1400, 19: 2500, 20: 4200, 21: 4500,
           22: 11000, 23: 10500, 24: 62140}

RCPT = "<someone@example.net>"


def prefixes(n, rng):
    """n unique random IPv4 prefixes "a.b.c.d/len" with the BGP length mix."""
    lens = list(LENGTHS)
    weights = [LENGTHS[k] for k in lens]
    seen = set()
    out = []
    while len(out) < n:
        plen = rng.choices(lens, weights)[0]
        net = rng.getrandbits(32) & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        if (net, plen) in seen:
            continue
        seen.add((net, plen))
        out.append("%s/%d" % (ipaddress.IPv4Address(net), plen))
    return out


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn, *args):
    # CPU time of this thread: on a shared machine, time spent descheduled
    # would otherwise be charged to whichever method was running.
    t0 = time.thread_time_ns()
    fn(*args)
    return time.thread_time_ns() - t0


def loop_empty(addrs):
    f = len  # a C function of one argument: the cheapest call there is
    for a in addrs:
        f(a)


def loop_decide(decide, addrs):
    for a in addrs:
        decide(a, RCPT)


def loop_decide_verdict(decide, addrs):
    for a in addrs:
        decide(a, RCPT).verdict


def loop_radix(search_best, addrs):
    for a in addrs:
        search_best(a)


def run(label, nets, addrs, args, out):
    text = "RelayFlags = 2\nAcceptedDomains = example.com\n[RelayAllowList]\n"
    text += "\n".join(nets) + "\n"
    m0 = rss()
    t0 = time.perf_counter()
    policy = relaypol.Policy.from_string(text, source=label)
    load_s = time.perf_counter() - t0
    m1 = rss()
    rt = None
    if radix is not None:
        rt = radix.Radix()
        t0 = time.perf_counter()
        for p in nets:
            rt.add(p)
        radix_s = time.perf_counter() - t0
        m2 = rss()

    # Cross-check before timing: both must agree on every lookup.
    for a in addrs[:20000]:
        d = policy.decide(a, RCPT)
        if rt is not None:
            node = rt.search_best(a)
            assert (node is not None) == (d.verdict == "relay"), (a, d, node)
            if node is not None:
                assert node.prefix == d.entry, (a, node.prefix, d.entry)

    packed = [ipaddress.IPv4Address(a).packed for a in addrs]
    objs = [ipaddress.IPv4Address(a) for a in addrs]
    methods = {
        "loop": (loop_empty, addrs),
        "decide(str)": (loop_decide, policy.decide, addrs),
        "decide(str).verdict": (loop_decide_verdict, policy.decide, addrs),
        "decide(bytes)": (loop_decide, policy.decide, packed),
        "decide(IPv4Address)": (loop_decide, policy.decide, objs),
    }
    if rt is not None:
        methods["radix.search_best(str)"] = (loop_radix, rt.search_best, addrs)
    times = {k: [] for k in methods}
    for _ in range(args.repeat):
        for k, (fn, *a) in methods.items():
            times[k].append(timed(fn, *a) / len(addrs))
    med = {k: statistics.median(v) for k, v in times.items()}
    print("\n%s: %d prefixes, %d lookups x %d repetitions (median ns per call)"
          % (label, len(nets), len(addrs), args.repeat))
    print("  relaypol: load %.2f s, policy.memory %.1f MiB, RSS +%.1f MiB"
          % (load_s, policy.memory / 2**20, (m1 - m0) / 2**20))
    if rt is not None:
        print("  py-radix: build %.2f s, RSS +%.1f MiB" % (radix_s, (m2 - m1) / 2**20))
    for k, v in med.items():
        print("  %-24s %8.1f ns   (min %.1f)" % (k, v, min(times[k])))
    if rt is not None:
        ratio = med["radix.search_best(str)"] / med["decide(str)"]
        print("  ratio py-radix / decide(str): %.1fx" % ratio)
    out[label] = med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000,
                    help="size of the large list (default 1000000)")
    ap.add_argument("--small", type=int, default=16, help="size of the small list")
    ap.add_argument("--lookups", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--cpu", type=int, help="pin to this CPU")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    print("relaypol %s (%s), Python %s %s, py-radix %s" % (
        relaypol.__version__, relaypol._relaypol.__file__, sys.version.split()[0],
        sys.executable, getattr(radix, "__version__", "missing")))
    rng = random.Random(args.seed)
    addrs = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(args.lookups)]
    out = {}
    run("small", prefixes(args.small, rng), addrs, args, out)
    run("large", prefixes(args.entries, rng), addrs, args, out)


if __name__ == "__main__":
    main()
