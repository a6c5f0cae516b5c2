/*
 * The compiled address set against a brute-force reference (ref_netset.h).
 */
#include "testutil.h"
#include "ref_netset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static rp_net mk4(uint32_t a, int len)
{
    rp_net e;
    memset(&e, 0, sizeof e);
    e.family = RELAYPOL_AF_INET;
    e.prefix_len = (int16_t)len;
    uint32_t m = len == 0 ? 0 : 0xffffffffu << (32 - len);
    for (int i = 0; i < 4; i++) {
        e.mask[i] = (uint8_t)(m >> (24 - 8 * i));
        e.net[i] = (uint8_t)((a & m) >> (24 - 8 * i));
    }
    return e;
}

static rp_net mk4mask(uint32_t a, uint32_t m)
{
    rp_net e = mk4(0, 0);
    e.prefix_len = -1;
    for (int i = 0; i < 4; i++) {
        e.mask[i] = (uint8_t)(m >> (24 - 8 * i));
        e.net[i] = (uint8_t)((a & m) >> (24 - 8 * i));
    }
    return e;
}

static rp_net mk6(const uint8_t b[16], int len)
{
    rp_net e;
    memset(&e, 0, sizeof e);
    e.family = RELAYPOL_AF_INET6;
    e.prefix_len = (int16_t)len;
    for (int i = 0; i < 16; i++) {
        int bits = len - 8 * i;
        uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
        e.mask[i] = m;
        e.net[i] = b[i] & m;
    }
    return e;
}

static relaypol_addr a4(uint32_t x)
{
    relaypol_addr ad;
    memset(&ad, 0, sizeof ad);
    ad.family = RELAYPOL_AF_INET;
    for (int i = 0; i < 4; i++)
        ad.bytes[i] = (uint8_t)(x >> (24 - 8 * i));
    return ad;
}

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return (a << 24) | (b << 16) | (c << 8) | d;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint32_t rndn(rng *r, uint32_t n)
{
    return (uint32_t)(rnd(r) % n);
}

/* ---------------------------------------------------- table-driven cases */

typedef struct case4 {
    uint32_t addr;
    int32_t want0, want1;
} case4;

static rp_netset *build(rp_alloc *a, const rp_net *nets, const uint8_t *lists,
                        size_t n)
{
    rp_netset *s = NULL;
    ck_assert_int_eq(rp_netset_build(a, nets, lists, n, &s), RELAYPOL_OK);
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(test_exact_v4)
{
    rp_net nets[] = {
        mk4(ip4(10, 0, 0, 0), 8),                          /* 0 deny */
        mk4(ip4(10, 1, 0, 0), 16),                         /* 1 deny */
        mk4(ip4(10, 1, 2, 0), 24),                         /* 2 allow */
        mk4(ip4(10, 1, 2, 3), 32),                         /* 3 deny */
        mk4(ip4(10, 1, 0, 0), 16),                         /* 4 deny dup */
        mk4(0, 0),                                         /* 5 allow /0 */
        mk4mask(ip4(192, 168, 0, 7), ip4(255, 255, 0, 255)), /* 6 deny nc */
        mk4(ip4(192, 168, 0, 0), 16),                      /* 7 deny */
        mk4(ip4(192, 168, 5, 0), 24),                      /* 8 deny */
        mk4(ip4(172, 16, 0, 1), 32),                       /* 9 hostbits */
        mk4mask(ip4(10, 0, 0, 0), ip4(255, 0, 0, 0)),      /* 10 contiguous
                                                              as a mask */
        mk4(ip4(255, 255, 255, 255), 32),                  /* 11 allow */
    };
    nets[9].flags = RP_NET_HOSTBITS;
    nets[9].prefix_len = 16;
    uint8_t lists[] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1};
    static const case4 cases[] = {
        {0x0a000001u, 0, 10},     /* 10.0.0.1: /8 deny; allow /8 mask beats /0 */
        {0x0a010001u, 1, 10},     /* 10.1.0.1 */
        {0x0a010201u, 1, 2},      /* 10.1.2.1 */
        {0x0a010203u, 3, 2},      /* 10.1.2.3 */
        {0x0b000000u, -1, 5},     /* 11.0.0.0 */
        {0xc0a80007u, 6, 5},      /* 192.168.0.7: nc 24 bits > /16 */
        {0xc0a80507u, 6, 5},      /* 192.168.5.7: nc 24 bits ties /24, earlier */
        {0xc0a80508u, 8, 5},      /* 192.168.5.8 */
        {0xc0a80108u, 7, 5},      /* 192.168.1.8 */
        {0xac100001u, -1, 5},     /* hostbits entry never matches */
        {0xffffffffu, -1, 11},
        {0xfffffffeu, -1, 5},
        {0x00000000u, -1, 5},
    };
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, nets, lists, sizeof nets / sizeof nets[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        relaypol_addr ad = a4(cases[i].addr);
        int32_t out[2];
        rp_netset_lookup(s, &ad, out);
        ck_assert_msg(out[0] == cases[i].want0 && out[1] == cases[i].want1,
                      "case %zu: got %d/%d want %d/%d", i, out[0], out[1],
                      cases[i].want0, cases[i].want1);
        /* An IPv6 lookup never sees IPv4 entries. */
        relaypol_addr ad6 = ad;
        ad6.family = RELAYPOL_AF_INET6;
        rp_netset_lookup(s, &ad6, out);
        ck_assert_int_eq(out[0], -1);
        ck_assert_int_eq(out[1], -1);
    }
    relaypol_addr none;
    memset(&none, 0, sizeof none);
    int32_t out[2];
    rp_netset_lookup(s, &none, out);
    ck_assert_int_eq(out[0], -1);
    ck_assert_int_eq(out[1], -1);
    rp_netset_free(&a, s);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

START_TEST(test_exact_v6)
{
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    uint8_t all[16];
    memset(all, 0xff, sizeof all);
    uint8_t zero[16] = {0};
    rp_net nets[5];
    nets[0] = mk6(b, 32);  /* 2001:db8::/32 deny */
    b[5] = 1;
    nets[1] = mk6(b, 48);  /* 2001:db8:1::/48 allow */
    b[15] = 9;
    nets[2] = mk6(b, 128); /* 2001:db8:1::9 deny */
    nets[3] = mk6(all, 128); /* ffff...ffff allow */
    nets[4] = mk6(zero, 0);  /* ::/0 deny */
    uint8_t lists[] = {0, 1, 0, 1, 0};
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, nets, lists, 5);
    relaypol_addr ad;
    memset(&ad, 0, sizeof ad);
    ad.family = RELAYPOL_AF_INET6;
    memcpy(ad.bytes, b, 16);
    int32_t out[2];
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == 2 && out[1] == 1);
    ad.bytes[15] = 8;
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == 0 && out[1] == 1);
    ad.bytes[5] = 2;
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == 0 && out[1] == -1);
    memcpy(ad.bytes, all, 16);
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == 4 && out[1] == 3);
    /* The same bytes as IPv4 match nothing. */
    ad.family = RELAYPOL_AF_INET;
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == -1 && out[1] == -1);
    rp_netset_free(&a, s);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

START_TEST(test_empty)
{
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, NULL, NULL, 0);
    relaypol_addr ad = a4(0x01020304u);
    int32_t out[2] = {7, 7};
    rp_netset_lookup(s, &ad, out);
    ck_assert(out[0] == -1 && out[1] == -1);
    rp_netset_free(&a, s);
    rp_netset_free(&a, NULL);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

/* ------------------------------------------------------- random cross-check */

/* A random prefix: usually inside a small pool of regions (so that sets
 * nest and buckets fill up), sometimes anywhere. */
static rp_net rnd_net(rng *r, bool v6, const rp_net *prev, size_t nprev,
                      unsigned spread)
{
    if (nprev && rndn(r, 4) == 0) {
        /* Nested in, or a duplicate of, an earlier entry. */
        const rp_net *p = &prev[rndn(r, (uint32_t)nprev)];
        if (p->prefix_len >= 0 && !(p->flags & RP_NET_HOSTBITS) &&
            (p->family == RELAYPOL_AF_INET6) == v6) {
            int max = v6 ? 128 : 32;
            int len = p->prefix_len + (int)rndn(r, (uint32_t)(max - p->prefix_len + 1));
            uint8_t b[16];
            for (int i = 0; i < 16; i++)
                b[i] = (uint8_t)((p->net[i] & p->mask[i]) |
                                 ((uint8_t)rnd(r) & (uint8_t)~p->mask[i]));
            if (v6)
                return mk6(b, len);
            return mk4(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
                           ((uint32_t)b[2] << 8) | b[3],
                       len);
        }
    }
    int len;
    uint32_t k = rndn(r, 16);
    int max = v6 ? 128 : 32;
    if (k == 0)
        len = 0;
    else if (k == 1)
        len = max;
    else if (k < 8)
        len = (int)rndn(r, (uint32_t)max + 1);
    else
        len = v6 ? 32 + (int)rndn(r, 33) : 16 + (int)rndn(r, 17);
    uint64_t x = rnd(r);
    uint8_t b[16];
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)rnd(r);
    /* Keep the top bits in a few regions. */
    b[0] = (uint8_t)(0x20 + rndn(r, spread));
    if (v6)
        return mk6(b, len);
    return mk4((uint32_t)b[0] << 24 | (uint32_t)(x & 0xffffffu), len);
}

static relaypol_addr rnd_addr(rng *r, const rp_net *nets, size_t n, bool v6)
{
    relaypol_addr ad;
    memset(&ad, 0, sizeof ad);
    ad.family = v6 ? RELAYPOL_AF_INET6 : RELAYPOL_AF_INET;
    size_t len = v6 ? 16 : 4;
    for (size_t i = 0; i < len; i++)
        ad.bytes[i] = (uint8_t)rnd(r);
    if (n && rndn(r, 4) != 0) {
        /* Near an entry: its first or last address, or a neighbour. */
        const rp_net *e = &nets[rndn(r, (uint32_t)n)];
        if ((e->family == RELAYPOL_AF_INET6) == v6) {
            uint32_t how = rndn(r, 5);
            for (size_t i = 0; i < len; i++) {
                if (how == 0)
                    ad.bytes[i] = e->net[i];
                else if (how == 1)
                    ad.bytes[i] = e->net[i] | (uint8_t)~e->mask[i];
                else
                    ad.bytes[i] = (uint8_t)((e->net[i] & e->mask[i]) |
                                            (ad.bytes[i] & ~e->mask[i]));
            }
            if (how == 3 || how == 4) {
                /* One below the start or one past the end. */
                int dir = how == 3 ? -1 : 1;
                if (how == 3)
                    for (size_t i = 0; i < len; i++)
                        ad.bytes[i] = e->net[i];
                else
                    for (size_t i = 0; i < len; i++)
                        ad.bytes[i] = e->net[i] | (uint8_t)~e->mask[i];
                for (size_t i = len; i-- > 0;) {
                    unsigned v = ad.bytes[i];
                    ad.bytes[i] = (uint8_t)(v + (unsigned)dir);
                    if ((dir > 0 && v != 0xff) || (dir < 0 && v != 0))
                        break;
                }
            }
        }
    }
    return ad;
}


/* The batched lookup answers as the single one, in chunks of every length
 * (groups of 16 inside, ragged ends, mixed families). */
static void check_many(rng *r, const rp_netset *s, const relaypol_addr *ad,
                       size_t n)
{
    int32_t(*many)[2] = malloc((n ? n : 1) * sizeof *many);
    ck_assert(many);
    for (size_t i = 0; i < n;) {
        size_t len = rndn(r, 40);
        if (len > n - i)
            len = n - i;
        rp_netset_lookup_many(s, ad + i, len, many + i);
        i += len;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t one[2];
        rp_netset_lookup(s, &ad[i], one);
        ck_assert_msg(one[0] == many[i][0] && one[1] == many[i][1],
                      "lookup_many %zu: %d/%d, one at a time %d/%d", i,
                      many[i][0], many[i][1], one[0], one[1]);
    }
    free(many);
}

static void cross_check(rng *r, size_t n, unsigned spread, size_t lookups)
{
    rp_net *nets = calloc(n ? n : 1, sizeof *nets);
    uint8_t *lists = calloc(n ? n : 1, 1);
    ck_assert(nets && lists);
    unsigned mix = rndn(r, 3); /* 0: v4 only, 1: v6 only, 2: both */
    for (size_t i = 0; i < n; i++) {
        bool v6 = mix == 1 || (mix == 2 && rndn(r, 2));
        nets[i] = rnd_net(r, v6, nets, i, spread);
        lists[i] = (uint8_t)rndn(r, 2);
        uint32_t k = rndn(r, 40);
        if (k == 0 && !v6) {
            /* Non-contiguous: a prefix mask with a hole punched in it. */
            uint32_t m = 0xffffffffu << rndn(r, 12);
            m &= ~(1u << (12 + rndn(r, 16)));
            uint32_t x = (uint32_t)rnd(r);
            nets[i] = mk4mask(x, m);
        } else if (k == 1) {
            /* Host bits set: such an entry never matches. */
            nets[i].flags |= RP_NET_HOSTBITS;
            size_t last = v6 ? 15 : 3;
            nets[i].net[last] |= 1;
            nets[i].mask[last] &= 0xfe;
            if (nets[i].prefix_len >= (v6 ? 128 : 32))
                nets[i].prefix_len--;
        }
    }
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, nets, lists, n);
    relaypol_addr *all = malloc((lookups ? lookups : 1) * sizeof *all);
    ck_assert(all);
    for (size_t q = 0; q < lookups; q++) {
        bool v6 = mix == 1 || (mix == 2 && rndn(r, 2));
        relaypol_addr ad = rnd_addr(r, nets, n, v6);
        all[q] = ad;
        int32_t got[2], want[2];
        rp_netset_lookup(s, &ad, got);
        ref_lookup(nets, lists, n, &ad, want);
        if (got[0] != want[0] || got[1] != want[1]) {
            char buf[64] = "";
            for (size_t i = 0; i < (v6 ? 16u : 4u); i++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%02x",
                         ad.bytes[i]);
            ck_abort_msg("n=%zu addr %s: got %d/%d want %d/%d", n, buf,
                         got[0], got[1], want[0], want[1]);
        }
    }
    check_many(r, s, all, lookups);
    free(all);
    rp_netset_free(&a, s);
    ck_assert_uint_eq(a.in_use, 0);
    free(nets);
    free(lists);
}

/* Small sets (the flat array), many of them. */
START_TEST(test_random_small)
{
    rng r = {0x9e3779b97f4a7c15ull + (uint64_t)_i};
    for (int it = 0; it < 400; it++)
        cross_check(&r, rndn(&r, 40), 1 + rndn(&r, 3), 400);
}
END_TEST

/* Many non-contiguous entries over a few masks (each mask a run that a
 * lookup binary-searches), nets from a small pool so that the same net
 * comes twice in one list and in both, and some prefixes among them. */
START_TEST(test_random_noncontiguous)
{
    rng r = {0xbe5466cf34e90c6cull + (uint64_t)_i};
    for (int it = 0; it < 10; it++) {
        size_t n = 50 + rndn(&r, 400);
        rp_net *nets = calloc(n, sizeof *nets);
        uint8_t *lists = calloc(n, 1);
        ck_assert(nets && lists);
        uint32_t masks[4];
        unsigned nm = 1 + rndn(&r, 4);
        for (unsigned k = 0; k < nm; k++) {
            /* A prefix of 8 to 24 bits, one or two holes punched in it,
             * and sometimes the last octet kept (a.b.0.d;255.255.0.255). */
            uint32_t m = 0xffffffffu << (8 + rndn(&r, 17));
            m &= ~(1u << (12 + rndn(&r, 16)));
            if (rndn(&r, 2))
                m &= ~(1u << (12 + rndn(&r, 16)));
            if (rndn(&r, 3) == 0)
                m = 0xffff00ffu;
            masks[k] = m;
        }
        uint32_t pool[32];
        for (int k = 0; k < 32; k++)
            pool[k] = (uint32_t)rnd(&r);
        for (size_t i = 0; i < n; i++) {
            uint32_t a = pool[rndn(&r, 32)] ^ (rndn(&r, 3) ? 0 : (uint32_t)rnd(&r));
            if (rndn(&r, 8) == 0)
                nets[i] = mk4(a & (0xffffffffu << 8), 24);
            else
                nets[i] = mk4mask(a, masks[rndn(&r, nm)]);
            lists[i] = (uint8_t)rndn(&r, 2);
        }
        rp_alloc a;
        rp_alloc_init(&a, NULL, NULL);
        rp_netset *s = build(&a, nets, lists, n);
        for (int q = 0; q < (int)tu_scale(1500); q++) {
            relaypol_addr ad = rnd_addr(&r, nets, n, false);
            if (q & 1) {
                /* The pool's addresses under one mask, the rest random. */
                uint32_t m = masks[rndn(&r, nm)];
                uint32_t x = (pool[rndn(&r, 32)] & m) | ((uint32_t)rnd(&r) & ~m);
                ad = a4(x);
            }
            int32_t got[2], want[2];
            rp_netset_lookup(s, &ad, got);
            ref_lookup(nets, lists, n, &ad, want);
            ck_assert_msg(got[0] == want[0] && got[1] == want[1],
                          "it %d, %u.%u.%u.%u: got %d/%d want %d/%d", it,
                          ad.bytes[0], ad.bytes[1], ad.bytes[2], ad.bytes[3],
                          got[0], got[1], want[0], want[1]);
        }
        rp_netset_free(&a, s);
        ck_assert_uint_eq(a.in_use, 0);
        free(nets);
        free(lists);
    }
}
END_TEST

/* Sets large enough for the direct index, crowded into a few /8s so that
 * the buckets hold many boundaries of every key width. */
START_TEST(test_random_large)
{
    rng r = {0x243f6a8885a308d3ull + (uint64_t)_i};
    for (int it = 0; it < 12; it++)
        cross_check(&r, 300 + rndn(&r, 3000), 1 + rndn(&r, 2),
                    tu_scale(20000));
}
END_TEST

/* /24-aligned IPv4 buckets (one-byte keys) and /64-aligned IPv6 ones. */
START_TEST(test_random_aligned)
{
    rng r = {0x13198a2e03707344ull};
    for (int it = 0; it < 6; it++) {
        /* Some above RADIX_MIN (4096), so the radix-sorted build is tested. */
        size_t n = 2000 + rndn(&r, 2000) + (it >= 4 ? 3000u : 0u);
        rp_net *nets = calloc(n, sizeof *nets);
        uint8_t *lists = calloc(n, 1);
        ck_assert(nets && lists);
        bool v6 = it & 1;
        for (size_t i = 0; i < n; i++) {
            uint8_t b[16] = {0x20, (uint8_t)rndn(&r, 2)};
            for (int q = 2; q < 16; q++)
                b[q] = (uint8_t)rnd(&r);
            int len = v6 ? 17 + (int)rndn(&r, 48) : 9 + (int)rndn(&r, 16);
            if (v6)
                nets[i] = mk6(b, len);
            else
                nets[i] = mk4((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                  (uint32_t)b[2] << 8 | b[3],
                              len);
            lists[i] = (uint8_t)rndn(&r, 2);
        }
        rp_alloc a;
        rp_alloc_init(&a, NULL, NULL);
        rp_netset *s = build(&a, nets, lists, n);
        int nq = (int)tu_scale(20000);
        relaypol_addr *all = malloc((size_t)nq * sizeof *all);
        ck_assert(all);
        for (int q = 0; q < nq; q++) {
            relaypol_addr ad = rnd_addr(&r, nets, n, v6);
            all[q] = ad;
            int32_t got[2], want[2];
            rp_netset_lookup(s, &ad, got);
            ref_lookup(nets, lists, n, &ad, want);
            ck_assert_msg(got[0] == want[0] && got[1] == want[1],
                          "aligned it=%d: got %d/%d want %d/%d", it, got[0],
                          got[1], want[0], want[1]);
        }
        check_many(&r, s, all, (size_t)nq);
        free(all);
        rp_netset_free(&a, s);
        ck_assert_uint_eq(a.in_use, 0);
        free(nets);
        free(lists);
    }
}
END_TEST

/* IPv4 sets above the sorted layout's 16384 boundaries, so that the
 * 2^16 index and its buckets are used: /24-aligned ones (bitmap buckets)
 * and ones with longer prefixes (16-bit keys), each with and without a
 * non-contiguous mask (the out-of-line path) and with both lists
 * overlapping (interned pairs). */
START_TEST(test_random_dir)
{
    rng r = {0xa4093822299f31d0ull + (uint64_t)_i};
    size_t n = 26000 + rndn(&r, 4000);
    bool aligned = _i & 1, noncontig = _i & 2;
    rp_net *nets = calloc(n, sizeof *nets);
    uint8_t *lists = calloc(n, 1);
    ck_assert(nets && lists);
    for (size_t i = 0; i < n; i++) {
        int len = aligned ? 14 + (int)rndn(&r, 11) : 12 + (int)rndn(&r, 21);
        uint32_t x = (uint32_t)(0x20 + rndn(&r, 2)) << 24 |
                     ((uint32_t)rnd(&r) & 0xffffffu);
        nets[i] = mk4(x, len);
        lists[i] = (uint8_t)rndn(&r, 2);
        if (noncontig && i % 997 == 3)
            nets[i] = mk4mask(x, 0xffff00ffu);
    }
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, nets, lists, n);
    size_t nq = tu_scale(6000);
    relaypol_addr *all = malloc(nq * sizeof *all);
    ck_assert(all);
    for (size_t q = 0; q < nq; q++) {
        relaypol_addr ad = rnd_addr(&r, nets, n, false);
        all[q] = ad;
        int32_t got[2], want[2];
        rp_netset_lookup(s, &ad, got);
        ref_lookup(nets, lists, n, &ad, want);
        ck_assert_msg(got[0] == want[0] && got[1] == want[1],
                      "dir _i=%d q=%zu: got %d/%d want %d/%d", _i, q, got[0],
                      got[1], want[0], want[1]);
        /* A prefetch first changes nothing. */
        rp_netset_prefetch(s, &ad);
        rp_netset_lookup(s, &ad, got);
        ck_assert(got[0] == want[0] && got[1] == want[1]);
    }
    check_many(&r, s, all, nq);
    free(all);
    rp_netset_free(&a, s);
    ck_assert_uint_eq(a.in_use, 0);
    free(nets);
    free(lists);
}
END_TEST

/* The IPv6 index is a window over the prefix that every boundary
 * shares.  Sets confined to regions of several sizes (so that the window
 * skips 0 to 16 bits), with buckets of each key width (/48-aligned ones
 * take 32-bit keys, /64 ones 64-bit, longer ones 128-bit), some crowded
 * past the 15 keys counted at once, and lookups on both sides of the
 * window and on its edges. */
static void v6_check(const rp_netset *s, const rp_net *nets,
                     const uint8_t *lists, size_t n, const uint8_t b[16],
                     const char *what)
{
    relaypol_addr ad;
    memset(&ad, 0, sizeof ad);
    ad.family = RELAYPOL_AF_INET6;
    memcpy(ad.bytes, b, 16);
    int32_t got[2], want[2];
    rp_netset_lookup(s, &ad, got);
    ref_lookup(nets, lists, n, &ad, want);
    ck_assert_msg(got[0] == want[0] && got[1] == want[1],
                  "%s: got %d/%d want %d/%d", what, got[0], got[1], want[0],
                  want[1]);
}

START_TEST(test_v6_window)
{
    static const unsigned region[] = {0, 2, 3, 9, 16, 17, 24, 40};
    unsigned plen = region[_i];
    rng r = {0x452821e638d01377ull + (uint64_t)_i};
    for (int it = 0; it < 3; it++) {
        size_t n = 600 + rndn(&r, 1500);
        rp_net *nets = calloc(n, sizeof *nets);
        uint8_t *lists = calloc(n, 1);
        ck_assert(nets && lists);
        uint8_t base[16];
        for (int q = 0; q < 16; q++)
            base[q] = (uint8_t)rnd(&r);
        uint8_t hot[16]; /* a crowded spot: one bucket, many boundaries */
        memcpy(hot, base, 16);
        for (size_t i = 0; i < n; i++) {
            uint8_t b[16];
            bool crowd = rndn(&r, 6) == 0;
            for (int q = 0; q < 16; q++) {
                b[q] = (uint8_t)rnd(&r);
                /* Inside the region (and, crowded, inside the hot /40). */
                unsigned keep = crowd ? 40u : plen;
                int bits = (int)keep - 8 * q;
                uint8_t m = bits >= 8 ? 0xff
                            : bits <= 0 ? 0
                                        : (uint8_t)(0xff << (8 - bits));
                b[q] = (uint8_t)(((crowd ? hot : base)[q] & m) | (b[q] & ~m));
            }
            /* Every other set keeps its crowded bucket at 32-bit keys,
             * more than 15 of them. */
            uint32_t k = crowd && it % 2 == 0 ? 0 : rndn(&r, 10);
            unsigned lo = crowd ? 41u : plen;
            int len;
            if (k < 6) /* 32-bit keys */
                len = (int)(lo + rndn(&r, 48u - (lo > 48u ? 48u : lo) + 1));
            else if (k < 8) /* 64-bit keys */
                len = 49 + (int)rndn(&r, 16);
            else /* 128-bit keys */
                len = 65 + (int)rndn(&r, 64);
            if (len < (int)lo)
                len = (int)lo;
            nets[i] = mk6(b, len);
            lists[i] = (uint8_t)rndn(&r, 2);
        }
        rp_alloc a;
        rp_alloc_init(&a, NULL, NULL);
        rp_netset *s = build(&a, nets, lists, n);
        for (size_t q = 0; q < tu_scale(20000); q++) {
            relaypol_addr ad = rnd_addr(&r, nets, n, true);
            int32_t got[2], want[2];
            rp_netset_lookup(s, &ad, got);
            ref_lookup(nets, lists, n, &ad, want);
            ck_assert_msg(got[0] == want[0] && got[1] == want[1],
                          "region /%u it=%d: got %d/%d want %d/%d", plen, it,
                          got[0], got[1], want[0], want[1]);
        }
        /* The window's edges: the region's first and last address, and
         * the addresses just outside it (when there is an outside). */
        uint8_t first[16], last[16];
        for (int q = 0; q < 16; q++) {
            int bits = (int)plen - 8 * q;
            uint8_t m = bits >= 8 ? 0xff
                        : bits <= 0 ? 0
                                    : (uint8_t)(0xff << (8 - bits));
            first[q] = base[q] & m;
            last[q] = (uint8_t)(base[q] | ~m);
        }
        v6_check(s, nets, lists, n, first, "window start");
        v6_check(s, nets, lists, n, last, "window end");
        uint8_t x[16];
        memcpy(x, first, 16);
        int q = 15;
        while (q >= 0 && x[q] == 0)
            x[q--] = 0xff;
        if (q >= 0) {
            x[q]--;
            v6_check(s, nets, lists, n, x, "below the window");
        }
        memcpy(x, last, 16);
        q = 15;
        while (q >= 0 && x[q] == 0xff)
            x[q--] = 0;
        if (q >= 0) {
            x[q]++;
            v6_check(s, nets, lists, n, x, "above the window");
        }
        rp_netset_free(&a, s);
        ck_assert_uint_eq(a.in_use, 0);
        free(nets);
        free(lists);
    }
}
END_TEST

/* rp_netset_prefetch takes any address: families with no entries, no
 * family at all, a set with nothing in it. */
START_TEST(test_prefetch_any)
{
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *s = build(&a, NULL, NULL, 0);
    relaypol_addr ad = a4(ip4(10, 1, 2, 3));
    rp_netset_prefetch(s, &ad);
    ad.family = RELAYPOL_AF_INET6;
    rp_netset_prefetch(s, &ad);
    ad.family = RELAYPOL_AF_NONE;
    rp_netset_prefetch(s, &ad);
    int32_t out[2];
    rp_netset_lookup(s, &ad, out);
    ck_assert_int_eq(out[0], -1);
    ck_assert_int_eq(out[1], -1);
    rp_netset_free(&a, s);
}
END_TEST

/* ------------------------------------------------------ allocation failure */

typedef struct failing {
    long countdown; /* fail when it reaches 0; negative: never */
    size_t live;    /* bytes outstanding */
    long allocs;
} failing;

static void *failing_alloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size)
{
    failing *f = ud;
    if (new_size == 0) {
        free(ptr);
        f->live -= old_size;
        return NULL;
    }
    f->allocs++;
    if (f->countdown >= 0 && f->countdown-- == 0)
        return NULL;
    void *q = realloc(ptr, new_size);
    if (q)
        f->live += new_size - (ptr ? old_size : 0);
    return q;
}

START_TEST(test_alloc_failure)
{
    rng r = {42 + (uint64_t)_i};
    size_t n = _i == 0 ? 30 : 3000;
    rp_net *nets = calloc(n, sizeof *nets);
    uint8_t *lists = calloc(n, 1);
    ck_assert(nets && lists);
    for (size_t i = 0; i < n; i++) {
        nets[i] = rnd_net(&r, rndn(&r, 2), nets, i, 2);
        lists[i] = (uint8_t)rndn(&r, 2);
        if (i % 17 == 5)
            nets[i] = mk4mask((uint32_t)rnd(&r), 0xff00ff00u);
    }
    bool done = false;
    for (long fail_at = 0; !done; fail_at++) {
        ck_assert_int_lt(fail_at, 100000);
        failing f = {fail_at, 0, 0};
        rp_alloc a;
        rp_alloc_init(&a, failing_alloc, &f);
        rp_netset *s = NULL;
        relaypol_status st = rp_netset_build(&a, nets, lists, n, &s);
        if (st == RELAYPOL_OK) {
            ck_assert_ptr_nonnull(s);
            ck_assert_int_lt(f.allocs, fail_at + 1);
            rp_netset_free(&a, s);
            done = true;
        } else {
            ck_assert_int_eq(st, RELAYPOL_ERR_NOMEM);
            ck_assert_ptr_null(s);
        }
        ck_assert_uint_eq(a.in_use, 0);
        ck_assert_uint_eq(f.live, 0);
    }
    free(nets);
    free(lists);
}
END_TEST

static Suite *netset_suite(void)
{
    Suite *s = suite_create("netset");
    TCase *tc = tcase_create("exact");
    tcase_add_test(tc, test_exact_v4);
    tcase_add_test(tc, test_exact_v6);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    tc = tcase_create("random");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_random_small, 0, 4);
    tcase_add_loop_test(tc, test_random_large, 0, 4);
    tcase_add_loop_test(tc, test_random_noncontiguous, 0, 4);
    tcase_add_test(tc, test_random_aligned);
    tcase_add_loop_test(tc, test_random_dir, 0, 4);
    tcase_add_loop_test(tc, test_v6_window, 0, 8);
    tcase_add_test(tc, test_prefetch_any);
    suite_add_tcase(s, tc);
    tc = tcase_create("oom");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_alloc_failure, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(netset_suite());
}
