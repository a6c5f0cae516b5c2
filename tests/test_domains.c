/*
 * Accepted domains (lib/domains.c): which patterns are valid, which
 * pattern accepts which name, and that building the matcher neither leaks
 * nor half-builds when an allocation fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ------------------------------------------------------ pattern syntax */

typedef struct pat_case {
    const char *pat;
    bool ok;
    size_t col; /* for an invalid pattern: where the complaint points */
} pat_case;

static const pat_case pat_cases[] = {
    {"example.com", true, 0},
    {"*.example.org", true, 0},
    {"Example.COM.", true, 0},           /* one root dot */
    {"*.example.org.", true, 0},
    {"xn--bcher-kva.example", true, 0},  /* an A-label, as written */
    {"*.XN--P1AI", true, 0},
    {"a", true, 0},                      /* a bare host name */
    {"a-b.c0.test", true, 0},
    {"1a.example", true, 0},             /* RFC 1123: digits may lead */
    {"3com.com", true, 0},
    {"localhost", true, 0},
    {"", false, 0},
    {".", false, 0},                     /* the root: would accept all */
    {"*.", false, 0},
    {"*", false, 0},
    {"*.*.example.com", false, 2},
    {"*example.com", false, 0},          /* not at a label boundary */
    {"a.*.example.com", false, 2},
    {"example.*", false, 8},
    {"example..com", false, 8},
    {".example.com", false, 0},
    {"example.com..", false, 12},        /* two root dots */
    {"-a.com", false, 0},
    {"a-.com", false, 1},
    {"a_b.com", false, 1},
    {"exa mple.com", false, 3},
    {"example.com/", false, 11},
    {"user@example.com", false, 4},
    {"b\xc3\xbc" "cher.example", false, 1}, /* raw UTF-8: refused */
    {"192.0.2.1", false, 8},             /* a dotted quad is no name */
    {"a.123", false, 2},
    {"[192.0.2.1]", false, 0},
};

START_TEST(test_pattern_check)
{
    const pat_case *c = &pat_cases[_i];
    rp_perr e;
    memset(&e, 0, sizeof e);
    bool ok = rp_domain_pattern_check(c->pat, strlen(c->pat), &e);
    ck_assert_msg(ok == c->ok, "'%s': expected %s, got %s (%s)", c->pat,
                  c->ok ? "valid" : "invalid", ok ? "valid" : "invalid",
                  e.msg);
    if (!ok) {
        ck_assert_msg(e.msg[0] != '\0', "'%s': no message", c->pat);
        ck_assert_msg(e.col == c->col, "'%s': column %zu, expected %zu (%s)",
                      c->pat, e.col, c->col, e.msg);
    }
}
END_TEST

/* Lengths at the edges of RFC 1035's limits. */
START_TEST(test_pattern_limits)
{
    char buf[400];
    rp_perr e;
    /* A label of 63 octets is fine, of 64 is not. */
    memset(buf, 'a', 63);
    memcpy(buf + 63, ".com", 4);
    ck_assert(rp_domain_pattern_check(buf, 67, &e));
    memset(buf, 'a', 64);
    memcpy(buf + 64, ".com", 4);
    ck_assert(!rp_domain_pattern_check(buf, 68, &e));
    /* 253 octets in all is the most a name may have; the root dot is not
     * counted. */
    size_t n = 0;
    while (n + 50 <= 250) {
        memset(buf + n, 'b', 49);
        buf[n + 49] = '.';
        n += 50;
    }
    memset(buf + n, 'c', 253 - n); /* 250 + 3 */
    n = 253;
    ck_assert(rp_domain_pattern_check(buf, n, &e));
    buf[n] = '.';
    ck_assert(rp_domain_pattern_check(buf, n + 1, &e));
    buf[n] = 'c';
    ck_assert(!rp_domain_pattern_check(buf, n + 1, &e));
    /* The check reads only n bytes: a NUL inside is a bad character. */
    ck_assert(!rp_domain_pattern_check("example\0.com", 12, &e));
    ck_assert(rp_domain_pattern_check("example.comXYZ", 11, &e));
}
END_TEST

/* -------------------------------------------------------------- matching */

/* The set every match case runs against.  Indexes matter: they are what
 * rp_domains_match returns. */
static const char *const match_pats[] = {
    "example.com",           /* 0 */
    "*.example.org",         /* 1 */
    "Example.NET.",          /* 2: stored case-insensitively, root dot */
    "*.deep.example.org",    /* 3: a longer wildcard */
    "deep.example.org",      /* 4: exact, inside wildcard 1 */
    "xn--bcher-kva.example", /* 5: A-label */
    "*.XN--P1AI",            /* 6 */
    "example.com",           /* 7: duplicate of 0: 0 wins */
    "*.example.org.",        /* 8: duplicate of 1: 1 wins */
    "a-b.c0.test",           /* 9 */
    "not valid..name",       /* 10: invalid, must never match */
    "*.sub.example.com",     /* 11: wildcard without its exact name */
};

typedef struct match_case {
    const char *q;
    size_t len; /* 0: strlen(q) */
    int32_t want;
} match_case;

static const match_case match_cases[] = {
    {"example.com", 0, 0},
    {"EXAMPLE.COM", 0, 0},
    {"eXaMpLe.CoM", 0, 0},
    {"example.com.", 0, 0},             /* root dot ignored */
    {"example.com..", 0, -1},           /* only one */
    {".example.com", 0, -1},
    {"www.example.com", 0, -1},         /* exact only: no subdomains */
    {"evilexample.com", 0, -1},         /* label boundary */
    {"example.com.evil.net", 0, -1},
    {"xample.com", 0, -1},
    {"example.co", 0, -1},
    {"com", 0, -1},
    {"example.org", 0, -1},             /* "*.x" is strictly below x */
    {"a.example.org", 0, 1},
    {"A.B.Example.Org.", 0, 1},
    {"evilexample.org", 0, -1},
    {"xexample.org", 0, -1},
    {"example.org.evil.net", 0, -1},
    {"a.example.org.evil.net", 0, -1},
    {"deep.example.org", 0, 4},         /* exact beats wildcard 1 */
    {"x.deep.example.org", 0, 3},       /* longer wildcard beats 1 */
    {"y.x.deep.example.org", 0, 3},
    {"xdeep.example.org", 0, 1},        /* not under deep.: only 1 */
    {"example.net", 0, 2},
    {"EXAMPLE.net.", 0, 2},
    {"www.example.net", 0, -1},
    {"xn--bcher-kva.example", 0, 5},
    {"XN--BCHER-KVA.EXAMPLE", 0, 5},
    {"b\xc3\xbc" "cher.example", 0, -1}, /* U-label: never folded */
    {"foo.xn--p1ai", 0, 6},
    {"FOO.XN--P1AI.", 0, 6},
    {"xn--p1ai", 0, -1},
    {"a-b.c0.test", 0, 9},
    {"a..example.org", 0, -1},          /* empty label */
    {"..example.org", 0, -1},
    {"a b.example.org", 0, -1},         /* not a host name */
    {"x@y.example.org", 0, -1},
    {"x%y.example.org", 0, -1},
    {"x\xffy.example.org", 0, -1},
    {"", 0, -1},
    {".", 0, -1},
    {"..", 0, -1},
    {"not valid..name", 0, -1},
    {"a.sub.example.com", 0, 11},
    {"sub.example.com", 0, -1},
    {"example.com\0", 12, -1},          /* a NUL is no name byte */
    {"example.com\0.evil", 17, -1},
    {"example.comXYZ", 11, 0},          /* reads only n bytes */
    {"a.example.org", 12, -1},          /* "a.example.or" */
};

/* The match set alone (a few names: compared one by one), or followed by
 * enough unrelated names to need the hash table; indexes 0-11 are the
 * same in both. */
#define PADDING 100

static rp_domains *build_match_set(rp_alloc *a, bool padded)
{
    size_t n = sizeof match_pats / sizeof match_pats[0];
    const char *pats[sizeof match_pats / sizeof match_pats[0] + PADDING];
    size_t lens[sizeof match_pats / sizeof match_pats[0] + PADDING];
    static char pad[PADDING][32];
    for (size_t i = 0; i < n; i++)
        pats[i] = match_pats[i];
    if (padded) {
        for (size_t i = 0; i < PADDING; i++) {
            snprintf(pad[i], sizeof pad[i], "%spad%zu.invalid",
                     i % 2 ? "*." : "", i);
            pats[n++] = pad[i];
        }
    }
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(pats[i]);
    rp_domains *d = NULL;
    ck_assert_int_eq(rp_domains_build(a, pats, lens, n, &d), RELAYPOL_OK);
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(test_match)
{
    const match_case *c = &match_cases[_i / 2];
    bool padded = _i % 2;
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_domains *d = build_match_set(&a, padded);
    size_t len = c->len ? c->len : strlen(c->q);
    /* Exact-size copy so that a read past len is caught by ASan or
     * valgrind. */
    char *q = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(q);
    memcpy(q, c->q, len);
    int32_t got = rp_domains_match(d, q, len);
    ck_assert_msg(got == c->want, "'%.*s' (%s set): got %d, expected %d",
                  (int)len, c->q, padded ? "hashed" : "small", (int)got,
                  (int)c->want);
    /* The decision's entry point takes the name the recipient parser
     * checked, without its root dot, and must answer the same. */
    char rc[300];
    int rn = snprintf(rc, sizeof rc, "<u@%.*s>", (int)len, q);
    rp_rcpt r;
    if (rn > 0 && (size_t)rn < sizeof rc && !memchr(q, '\0', len) &&
        rp_rcpt_parse(rc, (size_t)rn, RP_RCPT_SMTP, &r) == RELAYPOL_RCPT_OK &&
        !(r.route & RELAYPOL_ROUTE_LITERAL)) {
        got = rp_domains_match_name(d, r.domain, r.domain_len);
        ck_assert_msg(got == c->want, "'%.*s' checked (%s set): got %d, "
                      "expected %d", (int)len, c->q,
                      padded ? "hashed" : "small", (int)got, (int)c->want);
    }
    free(q);
    rp_domains_free(&a, d);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

START_TEST(test_empty_and_null)
{
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_domains *d = NULL;
    ck_assert_int_eq(rp_domains_build(&a, NULL, NULL, 0, &d), RELAYPOL_OK);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(rp_domains_match(d, "example.com", 11), -1);
    ck_assert_int_eq(rp_domains_match(d, "", 0), -1);
    rp_domains_free(&a, d);
    rp_domains_free(&a, NULL); /* a no-op */
    ck_assert_int_eq(rp_domains_match(NULL, "example.com", 11), -1);
    ck_assert_uint_eq(a.in_use, 0);

    /* Only invalid patterns: an empty set, not an error. */
    const char *bad[] = {"*", "a..b"};
    size_t lens[] = {1, 4};
    ck_assert_int_eq(rp_domains_build(&a, bad, lens, 2, &d), RELAYPOL_OK);
    ck_assert_int_eq(rp_domains_match(d, "a..b", 4), -1);
    ck_assert_int_eq(rp_domains_match(d, "x.y", 3), -1);
    rp_domains_free(&a, d);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

/* The longest legal query, and one octet more. */
START_TEST(test_match_long_names)
{
    char name[300];
    /* 126 labels "a." + "bc" = 254 octets; drop one to get 253. */
    size_t n = 0;
    for (int k = 0; k < 125; k++) {
        name[n++] = 'a';
        name[n++] = '.';
    }
    memcpy(name + n, "example", 7);
    n += 7; /* 257: too long */
    const char *pats[] = {"*.example", "*.a.example"};
    size_t lens[] = {9, 11};
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_domains *d = NULL;
    ck_assert_int_eq(rp_domains_build(&a, pats, lens, 2, &d), RELAYPOL_OK);
    ck_assert_int_eq(rp_domains_match(d, name, n), -1);
    /* 253 octets: "a." * 123 + "example" = 246 + 7 */
    size_t off = n - 253;
    ck_assert_int_eq(rp_domains_match(d, name + off, 253), 1);
    ck_assert_int_eq(rp_domains_match(d, name + n - 11, 11), 1); /* a.a.ex.. */
    ck_assert_int_eq(rp_domains_match(d, name + n - 9, 9), 0);   /* a.example */
    ck_assert_int_eq(rp_domains_match(d, name + n - 7, 7), -1);  /* example */
    rp_domains_free(&a, d);
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

/* Random small sets against a brute-force reading of the rules: the few
 * names are turned away by comparing their last eight bytes first, so the
 * names and queries here straddle that: shorter than 8, 8, 9, 16, 17
 * bytes, names that share their last eight bytes and differ before, and
 * suffixes that end inside a label.  Each set is also built padded (the
 * hash table), which must answer the same. */
static const char *const rnd_labels[] = {
    "a", "io", "b", "mail", "example", "xample", "abcdefgh", "xbcdefgh",
    "abcdefghi", "a-b", "q1", "mple", "org",
};
#define N_RND_LABELS (sizeof rnd_labels / sizeof rnd_labels[0])

static uint64_t rnd_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t rnd_name(uint64_t *x, char *buf, bool mixcase)
{
    size_t n = 0, labels = 1 + rnd_next(x) % 3;
    for (size_t k = 0; k < labels; k++) {
        const char *l = rnd_labels[rnd_next(x) % N_RND_LABELS];
        if (k)
            buf[n++] = '.';
        for (size_t i = 0; l[i]; i++) {
            char c = l[i];
            if (mixcase && c >= 'a' && c <= 'z' && rnd_next(x) % 2)
                c = (char)(c - 'a' + 'A');
            buf[n++] = c;
        }
    }
    buf[n] = '\0';
    return n;
}

static bool same_nocase(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* The documented rules, read literally: the first exact pattern equal to
 * the query; else the longest "*.name" with the query ending in ".name",
 * the first of equals. */
static int32_t ref_match(char (*pats)[64], size_t np, const char *q, size_t qn)
{
    for (size_t i = 0; i < np; i++)
        if (pats[i][0] != '*' && same_nocase(pats[i], strlen(pats[i]), q, qn))
            return (int32_t)i;
    int32_t best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < np; i++) {
        if (pats[i][0] != '*')
            continue;
        const char *name = pats[i] + 2;
        size_t len = strlen(name);
        if (len + 1 > qn || q[qn - len - 1] != '.' ||
            !same_nocase(name, len, q + qn - len, len))
            continue;
        if (best < 0 || len > best_len) {
            best = (int32_t)i;
            best_len = len;
        }
    }
    return best;
}

START_TEST(test_match_random_small)
{
    uint64_t x = 0x5eed0000u + (uint64_t)_i;
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    for (int round = 0; round < 200; round++) {
        char pats[8 + PADDING][64];
        const char *pp[8 + PADDING];
        size_t lens[8 + PADDING];
        size_t np = 1 + rnd_next(&x) % 8;
        for (size_t i = 0; i < np; i++) {
            bool wild = rnd_next(&x) % 2;
            size_t off = wild ? 2 : 0;
            if (wild)
                memcpy(pats[i], "*.", 2);
            rnd_name(&x, pats[i] + off, true);
        }
        for (size_t i = 0; i < PADDING; i++)
            snprintf(pats[np + i], sizeof pats[0], "%spad%zu.invalid",
                     i % 2 ? "*." : "", i);
        for (size_t i = 0; i < np + PADDING; i++) {
            pp[i] = pats[i];
            lens[i] = strlen(pats[i]);
        }
        rp_domains *few = NULL, *hashed = NULL;
        ck_assert_int_eq(rp_domains_build(&a, pp, lens, np, &few),
                         RELAYPOL_OK);
        ck_assert_int_eq(rp_domains_build(&a, pp, lens, np + PADDING,
                                          &hashed), RELAYPOL_OK);
        for (int k = 0; k < 50; k++) {
            char q[64];
            size_t qn;
            if (k % 3 == 0) {
                /* A label in front of a pattern's name, or the name. */
                const char *src = pats[rnd_next(&x) % np];
                if (src[0] == '*')
                    src += 2;
                char lab[64];
                size_t ln = rnd_name(&x, lab, true);
                int m = snprintf(q, sizeof q, "%.*s%s%s",
                                 rnd_next(&x) % 2 ? (int)ln : 0, lab,
                                 k % 2 ? "." : "", src);
                ck_assert(m > 0 && (size_t)m < sizeof q);
                qn = (size_t)m;
                if (q[0] == '.')
                    memmove(q, q + 1, qn--);
            } else {
                qn = rnd_name(&x, q, true);
            }
            int32_t want = ref_match(pats, np, q, qn);
            /* Exact-size copies, so that ASan sees any read outside. */
            char *qc = malloc(qn);
            ck_assert_ptr_nonnull(qc);
            memcpy(qc, q, qn);
            int32_t got_few = rp_domains_match_name(few, qc, qn);
            int32_t got_hashed = rp_domains_match_name(hashed, qc, qn);
            ck_assert_msg(got_few == want && got_hashed == want,
                          "'%s' in a set of %zu: few %d, hashed %d, want %d",
                          q, np, (int)got_few, (int)got_hashed, (int)want);
            free(qc);
        }
        rp_domains_free(&a, few);
        rp_domains_free(&a, hashed);
    }
    ck_assert_uint_eq(a.in_use, 0);
}
END_TEST

/* Many names: every one is found with its own index, near misses are
 * not, and free returns every byte. */
START_TEST(test_large_set)
{
    const size_t N = tu_scale(60000);
    char **pats = calloc(N, sizeof *pats);
    size_t *lens = calloc(N, sizeof *lens);
    ck_assert(pats && lens);
    for (size_t i = 0; i < N; i++) {
        char buf[64];
        int len;
        if (i % 3 == 0)
            len = snprintf(buf, sizeof buf, "*.zone%zu.Example", i);
        else
            len = snprintf(buf, sizeof buf, "Host%zu.zone%zu.example", i,
                           i / 7);
        pats[i] = malloc((size_t)len);
        ck_assert_ptr_nonnull(pats[i]);
        memcpy(pats[i], buf, (size_t)len);
        lens[i] = (size_t)len;
    }
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_domains *d = NULL;
    ck_assert_int_eq(
        rp_domains_build(&a, (const char *const *)pats, lens, N, &d),
        RELAYPOL_OK);
    for (size_t i = 0; i < N; i++) {
        char q[80];
        int len;
        if (i % 3 == 0) {
            len = snprintf(q, sizeof q, "mx.ZONE%zu.example.", i);
            ck_assert_int_eq(rp_domains_match(d, q, (size_t)len), (int)i);
            len = snprintf(q, sizeof q, "zone%zu.example", i);
            /* the zone itself: only if some exact host is named so */
            ck_assert_int_eq(rp_domains_match(d, q, (size_t)len), -1);
        } else {
            len = snprintf(q, sizeof q, "host%zu.zone%zu.example", i, i / 7);
            int32_t got = rp_domains_match(d, q, (size_t)len);
            ck_assert_int_eq(got, (int)i);
            len = snprintf(q, sizeof q, "xhost%zu.zone%zu.example", i, i / 7);
            got = rp_domains_match(d, q, (size_t)len);
            /* may fall under the wildcard of zone (i / 7) */
            size_t z = i / 7;
            ck_assert_int_eq(got, z % 3 == 0 && z < N ? (int)z : -1);
        }
    }
    rp_domains_free(&a, d);
    ck_assert_uint_eq(a.in_use, 0);
    for (size_t i = 0; i < N; i++)
        free(pats[i]);
    free(pats);
    free(lens);
}
END_TEST

/* ------------------------------------------------- allocation failures */

/* A counting allocator that fails the fail_at-th allocation, and checks
 * on every free and realloc that the size given is the size allocated
 * (rp_free's exact-size contract, which a header-less arena relies on). */
typedef struct counting {
    size_t calls;   /* allocations (and growing reallocs) so far */
    size_t fail_at; /* 0: never fail */
    size_t live;    /* blocks not yet freed */
    size_t bytes;   /* bytes not yet freed */
    int size_mismatch;
} counting;

#define HDR 16 /* keeps max_align_t alignment on the platforms we build on */

static void *counting_alloc(void *ud, void *ptr, size_t old_size,
                            size_t new_size)
{
    counting *c = ud;
    unsigned char *blk = ptr ? (unsigned char *)ptr - HDR : NULL;
    if (blk) {
        size_t had;
        memcpy(&had, blk, sizeof had);
        if (had != old_size)
            c->size_mismatch++;
    }
    if (new_size == 0) {
        if (blk) {
            c->live--;
            c->bytes -= old_size;
            free(blk);
        }
        return NULL;
    }
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
        return NULL;
    unsigned char *nb = realloc(blk, HDR + new_size);
    if (!nb)
        return NULL;
    memcpy(nb, &new_size, sizeof new_size);
    if (!blk)
        c->live++;
    c->bytes += new_size;
    c->bytes -= blk ? old_size : 0;
    return nb + HDR;
}

START_TEST(test_alloc_failures)
{
    const size_t n = sizeof match_pats / sizeof match_pats[0];
    size_t lens[sizeof match_pats / sizeof match_pats[0]];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(match_pats[i]);

    size_t k;
    for (k = 1; k < 100; k++) {
        counting c = {0, k, 0, 0, 0};
        rp_alloc a;
        rp_alloc_init(&a, counting_alloc, &c);
        rp_domains *d = (rp_domains *)&c; /* must be overwritten */
        relaypol_status st = rp_domains_build(&a, match_pats, lens, n, &d);
        if (st == RELAYPOL_OK) {
            /* Allocation k was never made: the build is complete. */
            ck_assert_uint_lt(c.calls, k);
            ck_assert_int_eq(rp_domains_match(d, "x.deep.example.org", 18),
                             3);
            rp_domains_free(&a, d);
            ck_assert_uint_eq(c.live, 0);
            ck_assert_uint_eq(c.bytes, 0);
            ck_assert_uint_eq(a.in_use, 0);
            ck_assert_int_eq(c.size_mismatch, 0);
            break;
        }
        ck_assert_int_eq(st, RELAYPOL_ERR_NOMEM);
        ck_assert_ptr_null(d);
        ck_assert_msg(c.live == 0 && c.bytes == 0,
                      "allocation %zu failed: %zu blocks (%zu bytes) leaked",
                      k, c.live, c.bytes);
        ck_assert_uint_eq(a.in_use, 0);
        ck_assert_int_eq(c.size_mismatch, 0);
    }
    ck_assert_msg(k > 1 && k < 100, "the build never succeeded");
}
END_TEST

static Suite *domains_suite(void)
{
    Suite *s = suite_create("domains");
    TCase *tc = tcase_create("patterns");
    tcase_add_loop_test(tc, test_pattern_check, 0,
                        (int)(sizeof pat_cases / sizeof pat_cases[0]));
    tcase_add_test(tc, test_pattern_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("match");
    tcase_add_loop_test(tc, test_match, 0,
                        2 * (int)(sizeof match_cases / sizeof match_cases[0]));
    tcase_add_test(tc, test_empty_and_null);
    tcase_add_test(tc, test_match_long_names);
    tcase_add_loop_test(tc, test_match_random_small, 0, 8);
    suite_add_tcase(s, tc);

    tc = tcase_create("build");
    tcase_add_test(tc, test_large_set);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(domains_suite());
}
