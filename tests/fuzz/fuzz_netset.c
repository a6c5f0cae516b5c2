/*
 * fuzz_netset: compiled address sets against a brute-force walk of their
 * entries.  The input describes runs of prefixes (or IPv4 non-contiguous
 * masks); each run expands into up to 256 entries, so that an input of a
 * few kilobytes reaches every layout: the flat and sorted arrays, the
 * IPv4 2^16 index with bitmap and 16-bit-key buckets, and the IPv6
 * window index with 32-, 64- and 128-bit keys, crowded buckets and both
 * sides of the window.  For addresses at every entry's edges (first,
 * last, one below, one above) and a spread of others, and both lists:
 *   - rp_netset_lookup gives the most specific entry of each list (the
 *     longest prefix, a non-contiguous mask counting its set bits; the
 *     earliest entry on a tie), exactly as the walk does;
 *   - rp_netset_lookup_many agrees with it;
 *   - the IPv4-mapped form of an IPv4 address is no IPv6 match (sets are
 *     looked up folded; the decision folds, not the set);
 *   - building and freeing returns every byte to the allocator.
 *
 * Input: records of 8 bytes —
 *   [0] bit 7: IPv6; bits 0-6: prefix length (modulo 33 or 129)
 *   [1] run length - 1 (entries in the run)
 *   [2] bit 0: list; bit 1: lengths vary along the run; bit 2: IPv4
 *       non-contiguous mask (a hole punched in the prefix mask); bit 3:
 *       host bits left set (such an entry never matches); bits 4-7: the
 *       stride between the run's entries, as a shift
 *   [3..7] the first address's leading bytes (the rest from a generator
 *       seeded by the record).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ref_netset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 20000u
#define MAX_PROBES 3000u

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_netset: %s\n", what);
    abort();
}

static uint64_t mix(uint64_t *s)
{
    /* splitmix64: any seed gives a usable sequence. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void set_prefix_mask(uint8_t *mask, unsigned nb, int len)
{
    for (unsigned i = 0; i < nb; i++) {
        int bits = len - 8 * (int)i;
        mask[i] = bits >= 8 ? 0xff
                  : bits <= 0 ? 0
                              : (uint8_t)(0xff << (8 - bits));
    }
}

/* addr += 1 << (bits from the end), big-endian, wrapping. */
static void add_bit(uint8_t *a, unsigned nb, unsigned from_end)
{
    if (from_end >= nb * 8)
        return;
    int i = (int)nb - 1 - (int)(from_end / 8);
    unsigned carry = 1u << (from_end % 8);
    for (; i >= 0 && carry; i--) {
        unsigned v = a[i] + carry;
        a[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rp_net nets[MAX_ENTRIES];
    static uint8_t lists[MAX_ENTRIES];
    static relaypol_addr probes[MAX_PROBES];
    static int32_t many[MAX_PROBES][2];
    size_t n = 0, np = 0;

    for (size_t r = 0; r + 8 <= size && n < MAX_ENTRIES; r += 8) {
        const uint8_t *rec = data + r;
        bool v6 = rec[0] & 0x80;
        unsigned nb = v6 ? 16 : 4;
        int len = (int)((rec[0] & 0x7f) % (v6 ? 129u : 33u));
        unsigned run = 1u + rec[1];
        unsigned fl = rec[2];
        uint64_t seed = 0;
        memcpy(&seed, rec, 8);
        uint8_t base[16];
        for (unsigned i = 0; i < 16; i++)
            base[i] = i < 5 ? rec[3 + i] : (uint8_t)mix(&seed);
        for (unsigned j = 0; j < run && n < MAX_ENTRIES; j++) {
            rp_net *e = &nets[n];
            memset(e, 0, sizeof *e);
            e->family = v6 ? RELAYPOL_AF_INET6 : RELAYPOL_AF_INET;
            int l = len;
            if (fl & 2)
                l = (int)((unsigned)(len + (int)(mix(&seed) % 9)) %
                          (nb * 8 + 1));
            e->prefix_len = (int16_t)l;
            set_prefix_mask(e->mask, nb, l);
            if (!v6 && (fl & 4)) {
                /* A hole in the mask: not a prefix any more. */
                unsigned hole = (unsigned)(mix(&seed) % 32);
                e->mask[hole / 8] &= (uint8_t)~(0x80u >> (hole % 8));
                e->prefix_len = -1;
            }
            for (unsigned i = 0; i < nb; i++)
                e->net[i] = base[i] & e->mask[i];
            if (fl & 8) {
                e->flags |= RP_NET_HOSTBITS;
                e->net[nb - 1] |= 1;
                e->mask[nb - 1] &= 0xfe;
                if (e->prefix_len == (int)nb * 8)
                    e->prefix_len--;
            }
            lists[n] = fl & 1;
            n++;
            /* The next entry of the run: a stride of 2^k below the
             * prefix's own size keeps it nested or adjacent. */
            int stride = (int)(nb * 8) - len + (int)((fl >> 4) & 15u) - 8;
            if (stride < 0)
                stride = 0;
            if (stride >= (int)nb * 8)
                stride = (int)nb * 8 - 1;
            add_bit(base, nb, (unsigned)stride);
        }
    }

    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = NULL;
    if (rp_netset_build(&a, nets, lists, n, &s) != RELAYPOL_OK) {
        check(a.in_use == 0, "a failed build kept memory");
        return 0;
    }

    /* Probes: each entry's edges (for a sample of entries when there are
     * many), then addresses from a generator seeded by the input. */
    uint64_t seed = size;
    for (size_t i = 0; i < size; i++)
        seed = seed * 31 + data[i];
    /* The walk costs entries x probes: keep it to a few million. */
    size_t budget = (size_t)1500000 / (n + 1);
    size_t nprobes = budget < 64 ? 64 : budget > MAX_PROBES ? MAX_PROBES
                                                             : budget;
    size_t step = n / (nprobes / 6) + 1;
    for (size_t i = 0; i < n && np + 4 <= nprobes * 2 / 3; i += step) {
        const rp_net *e = &nets[i];
        unsigned nb = e->family == RELAYPOL_AF_INET ? 4 : 16;
        relaypol_addr lo, hi;
        memset(&lo, 0, sizeof lo);
        lo.family = e->family;
        memcpy(lo.bytes, e->net, nb);
        hi = lo;
        for (unsigned q = 0; q < nb; q++)
            hi.bytes[q] = (uint8_t)(e->net[q] | (uint8_t)~e->mask[q]);
        relaypol_addr below = lo, above = hi;
        /* One below lo and one above hi (wrapping at the ends). */
        for (int q = (int)nb - 1; q >= 0; q--)
            if (below.bytes[q]-- != 0)
                break;
        for (int q = (int)nb - 1; q >= 0; q--)
            if (++above.bytes[q] != 0)
                break;
        probes[np++] = lo;
        probes[np++] = hi;
        probes[np++] = below;
        probes[np++] = above;
    }
    while (np < nprobes) {
        relaypol_addr *p = &probes[np++];
        memset(p, 0, sizeof *p);
        uint64_t x = mix(&seed), y = mix(&seed);
        bool v6 = (x & 1) != 0;
        p->family = v6 ? RELAYPOL_AF_INET6 : RELAYPOL_AF_INET;
        memcpy(p->bytes, &y, 8);
        y = mix(&seed);
        memcpy(p->bytes + 8, &y, 8);
        if (n && (x & 6)) {
            /* Near an entry of the right family, if there is one. */
            const rp_net *e = &nets[(x >> 8) % n];
            if (e->family == p->family) {
                unsigned nb = v6 ? 16 : 4;
                for (unsigned q = 0; q < nb; q++)
                    p->bytes[q] = (uint8_t)(e->net[q] |
                                            (p->bytes[q] & ~e->mask[q]));
            }
        }
        if (!v6)
            memset(p->bytes + 4, 0, 12);
    }

    rp_netset_lookup_many(s, probes, np, many);
    for (size_t i = 0; i < np; i++) {
        int32_t got[2], want[2];
        rp_netset_lookup(s, &probes[i], got);
        ref_lookup(nets, lists, n, &probes[i], want);
        if (got[0] != want[0] || got[1] != want[1]) {
            fprintf(stderr, "fuzz_netset: probe %zu (family %d): got %d/%d, "
                            "the entries say %d/%d\n",
                    i, probes[i].family, got[0], got[1], want[0], want[1]);
            abort();
        }
        check(many[i][0] == got[0] && many[i][1] == got[1],
              "rp_netset_lookup_many disagrees with rp_netset_lookup");
        if (probes[i].family == RELAYPOL_AF_INET) {
            /* The mapped form, unfolded, is an IPv6 address like any. */
            relaypol_addr m;
            memset(&m, 0, sizeof m);
            m.family = RELAYPOL_AF_INET6;
            m.bytes[10] = m.bytes[11] = 0xff;
            memcpy(m.bytes + 12, probes[i].bytes, 4);
            rp_netset_lookup(s, &m, got);
            ref_lookup(nets, lists, n, &m, want);
            check(got[0] == want[0] && got[1] == want[1],
                  "an IPv4-mapped address looked up wrongly");
        }
    }
    rp_netset_free(&a, s);
    check(a.in_use == 0, "freeing the set left memory allocated");
    return 0;
}
