/*
 * Accepted domains: a hash set of lower-cased names, each marked as an
 * exact name, a "*.name" wildcard, or both, answering "which pattern
 * accepts this recipient domain" without allocating.
 *
 * Why a hash set and not a suffix scan over the raw strings: a suffix scan
 * is where "evilexample.org" ends up matching "example.org".  Here a
 * wildcard can only be found by probing the query at a label boundary,
 * so a match can never start in the middle of a label.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* RFC 1035 2.3.4 / RFC 5321 4.5.3.1.2: a name of at most 253 octets of
 * text (255 on the wire) and labels of at most 63.  A name of 253 octets
 * has at most 127 labels. */
#define NAME_MAX_LEN 253u
#define LABEL_MAX_LEN 63u
#define MAX_LABELS 127u

typedef struct slot {
    uint32_t hash;
    uint32_t len;  /* 0: empty slot (no stored name is empty) */
    size_t off;    /* into names */
    int32_t exact; /* index of the pattern "name", or -1 */
    int32_t wild;  /* index of the pattern "*.name", or -1 */
} slot;

/* A set of at most SMALL_MAX names (the usual policy: a handful of
 * domains) is matched by comparing the query with each name directly:
 * that costs less than hashing the query, which takes a multiply per
 * byte.  The names are ordered longest first, so that the first wildcard
 * found is the most specific one. */
#define SMALL_MAX 8u

typedef struct small {
    /* The name's last min(len, 8) bytes where they stand in the last
     * eight of a query that ends with it (rp_domains_tail), and the mask
     * of those bytes: one compare turns most names away without a loop. */
    uint64_t tail, tmask;
    uint32_t off, len; /* the name in names */
    int32_t exact, wild;
} small;

struct rp_domains {
    slot *slots;
    size_t cap;       /* a power of two, or 0 for an empty set */
    char *names;      /* the lower-cased names, back to back, no NULs */
    size_t names_cap; /* bytes allocated for names */
    small few[SMALL_MAX];
    size_t n_few;     /* names in few[], or 0: use the hash slots */
};

/* Locale-independent: a policy must mean the same under any LC_CTYPE, and
 * only ASCII letters fold (RFC 4343: DNS is case-insensitive for ASCII
 * only; anything else must not be folded into a match). */
static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* FNV-1a over the lower-cased bytes, consumed from the right.  Hashing
 * right to left lets the lookup obtain the hash of every label-boundary
 * suffix of the query in one pass. */
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static uint32_t hash_step(uint32_t h, unsigned char c)
{
    return (h ^ lower(c)) * FNV_PRIME;
}

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = FNV_OFFSET;
    while (n > 0)
        h = hash_step(h, (unsigned char)s[--n]);
    return h;
}

bool rp_domain_pattern_check(const char *s, size_t n, rp_perr *e)
{
    if (!s || n == 0) {
        rp_perr_set(e, 0, "empty domain pattern");
        return false;
    }
    size_t start = 0;
    size_t end = n;
    /* One root dot is the fully-qualified spelling of the same name. */
    if (s[end - 1] == '.')
        end--;
    if (end >= 2 && s[0] == '*' && s[1] == '.')
        start = 2;
    if (start == end) {
        /* "*." or "." alone: a wildcard over the whole DNS would make the
         * server accept mail for every domain as local. */
        rp_perr_set(e, 0, "domain pattern '%.*s' names no domain",
                    (int)(n > 64 ? 64 : n), s);
        return false;
    }
    if (end > NAME_MAX_LEN) {
        rp_perr_set(e, 0, "domain pattern is %zu octets long; at most %u",
                    end, NAME_MAX_LEN);
        return false;
    }
    size_t label = start; /* start of the current label */
    bool numeric = true;  /* the current label is all digits */
    for (size_t i = start; i <= end; i++) {
        unsigned char c = i < end ? (unsigned char)s[i] : '.';
        if (c == '.') {
            size_t len = i - label;
            if (len == 0) {
                rp_perr_set(e, i, "empty label in domain pattern");
                return false;
            }
            if (len > LABEL_MAX_LEN) {
                rp_perr_set(e, label,
                            "label of %zu octets in domain pattern; at "
                            "most %u",
                            len, LABEL_MAX_LEN);
                return false;
            }
            /* RFC 1123 2.1 / RFC 5321 Ldh-str: a label starts and ends
             * with a letter or digit. */
            if (s[label] == '-' || s[i - 1] == '-') {
                rp_perr_set(e, s[label] == '-' ? label : i - 1,
                            "label starts or ends with '-'");
                return false;
            }
            if (i == end && numeric) {
                /* RFC 3696 2: no top-level domain is all-numeric.  A
                 * dotted quad here is an address, and mail to an address
                 * is decided by the literal rules, not by a name. */
                rp_perr_set(e, label,
                            "the last label is all digits: use an address "
                            "literal rule, not a domain pattern");
                return false;
            }
            label = i + 1;
            numeric = true;
            continue;
        }
        if (c >= 0x80) {
            /* Internationalised names are accepted as A-labels only
             * ("xn--..."): relaypol does not normalise U-labels (see
             * recipient.c for why). */
            rp_perr_set(e, i,
                        "non-ASCII byte 0x%02x in domain pattern: write "
                        "internationalised names as A-labels (xn--...)",
                        c);
            return false;
        }
        if (c == '*') {
            rp_perr_set(e, i,
                        "'*' is only allowed as the whole first label "
                        "(\"*.example.org\")");
            return false;
        }
        if (!is_alnum(c) && c != '-') {
            rp_perr_set(e, i,
                        "character '%c' is not allowed in a domain name "
                        "(letters, digits, '-' and '.')",
                        (c >= 0x20 && c < 0x7f) ? c : '?');
            return false;
        }
        if (c < '0' || c > '9')
            numeric = false;
    }
    return true;
}

/* Normalised form of a checked pattern: [*off, *off + *len) of s is the
 * name without "*." and without the root dot. */
static void pattern_name(const char *s, size_t n, size_t *off, size_t *len,
                         bool *wild)
{
    size_t start = 0, end = n;
    if (end > 0 && s[end - 1] == '.')
        end--;
    *wild = end >= 2 && s[0] == '*' && s[1] == '.';
    if (*wild)
        start = 2;
    *off = start;
    *len = end - start;
}

/* The last eight bytes of s[0..n) as a little-endian word, byte 7 the
 * last; for n < 8 the missing leading bytes are zero.  Case is folded as
 * in same_name. */
static uint64_t tail_word(const char *s, size_t n)
{
    uint64_t w = 0;
    if (n >= 8) {
        memcpy(&w, s + n - 8, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
    } else {
        for (size_t k = 0; k < n; k++)
            w |= (uint64_t)(unsigned char)s[k] << (8u * (8u - n + k));
    }
    return w | 0x2020202020202020u;
}

#define NOT_FOUND SIZE_MAX

/* The slot holding name q[0..qn) (compared case-insensitively with the
 * lower-cased stored name), or NOT_FOUND.  The key set is the
 * administrator's, not the client's, so a client cannot lengthen probe
 * chains: it only chooses which chain to walk. */
static size_t find(const rp_domains *d, uint32_t h, const char *q, size_t qn)
{
    size_t mask = d->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const slot *sl = &d->slots[i];
        if (sl->len == 0)
            return NOT_FOUND;
        if (sl->hash != h || sl->len != qn)
            continue;
        const char *name = d->names + sl->off;
        size_t k = 0;
        while (k < qn && (char)lower((unsigned char)q[k]) == name[k])
            k++;
        if (k == qn)
            return i;
    }
}

void rp_domains_free(rp_alloc *a, rp_domains *d)
{
    if (!d)
        return;
    rp_free(a, d->slots, d->cap * sizeof *d->slots);
    rp_free(a, d->names, d->names_cap);
    rp_free(a, d, sizeof *d);
}

relaypol_status rp_domains_build(rp_alloc *a, const char *const *pats,
                                 const size_t *lens, size_t n,
                                 rp_domains **out)
{
    *out = NULL;
    /* Pattern indexes are returned as int32_t; the policy's own limit
     * (RELAYPOL_MAX_ENTRIES) is far below this. */
    if (n > (size_t)INT32_MAX)
        return RELAYPOL_ERR_NOMEM;

    rp_domains *d = rp_malloc(a, sizeof *d);
    if (!d)
        return RELAYPOL_ERR_NOMEM;
    memset(d, 0, sizeof *d);

    /* Patterns are validated by the policy loader; one that is not (a
     * caller bug) is left out rather than trusted: it then accepts
     * nothing, which fails closed. */
    size_t total = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rp_domain_pattern_check(pats[i], lens[i], NULL))
            continue;
        size_t off, len;
        bool wild;
        pattern_name(pats[i], lens[i], &off, &len, &wild);
        total += len; /* at most n * 253: cannot overflow for n < 2^31 */
        count++;
    }
    if (count == 0) {
        *out = d; /* an empty set: every lookup answers -1 */
        return RELAYPOL_OK;
    }

    /* Load factor at most 1/2 keeps linear-probe chains short. */
    size_t cap = 8;
    while (cap / 2 < count)
        cap *= 2;
    d->slots = rp_calloc(a, cap, sizeof *d->slots);
    if (!d->slots)
        goto nomem;
    d->cap = cap;
    d->names = rp_malloc(a, total);
    if (!d->names)
        goto nomem;
    d->names_cap = total;

    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rp_domain_pattern_check(pats[i], lens[i], NULL))
            continue;
        size_t off, len;
        bool wild;
        pattern_name(pats[i], lens[i], &off, &len, &wild);
        const char *name = pats[i] + off;
        uint32_t h = hash_name(name, len);
        size_t j = find(d, h, name, len);
        slot *sl;
        if (j != NOT_FOUND) {
            sl = &d->slots[j];
        } else {
            j = h & (cap - 1);
            while (d->slots[j].len != 0)
                j = (j + 1) & (cap - 1);
            sl = &d->slots[j];
            sl->hash = h;
            sl->len = (uint32_t)len;
            sl->off = used;
            sl->exact = -1;
            sl->wild = -1;
            for (size_t k = 0; k < len; k++)
                d->names[used + k] = (char)lower((unsigned char)name[k]);
            used += len;
        }
        /* A duplicate keeps the first pattern: the earlier line of the
         * policy is the one an explanation should name. */
        int32_t *idx = wild ? &sl->wild : &sl->exact;
        if (*idx < 0)
            *idx = (int32_t)i;
    }

    size_t distinct = 0;
    for (size_t j = 0; j < cap; j++)
        distinct += d->slots[j].len != 0;
    if (distinct <= SMALL_MAX) {
        for (size_t j = 0; j < cap; j++) {
            const slot *sl = &d->slots[j];
            if (sl->len == 0)
                continue;
            /* Insertion by length, longest first (ties in slot order:
             * two names of one length never both match a query). */
            size_t k = d->n_few++;
            while (k > 0 && d->few[k - 1].len < sl->len) {
                d->few[k] = d->few[k - 1];
                k--;
            }
            size_t tl = sl->len < 8 ? sl->len : 8;
            uint64_t tmask = tl == 8 ? ~(uint64_t)0 : ~(~(uint64_t)0 >> (8u * tl));
            /* The stored name is lower case, and tail_word's folding
             * leaves its bytes as they are. */
            d->few[k] = (small){tail_word(d->names + sl->off, sl->len) & tmask,
                                tmask, (uint32_t)sl->off, sl->len,
                                sl->exact, sl->wild};
        }
    }
    *out = d;
    return RELAYPOL_OK;

nomem:
    rp_domains_free(a, d);
    return RELAYPOL_ERR_NOMEM;
}

/* Whether the checked host name q[0..len), len >= 8, equals the stored
 * lower-case name.  q holds only letters, digits, '-' and '.', and on
 * those setting bit 0x20 lower-cases a letter and changes nothing else, so
 * one OR per eight bytes folds case exactly (RFC 4343: ASCII letters
 * only).  Out of line: only names over 16 bytes get here, and inline its
 * loop cost every query a saved register. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static bool same_name(const char *q, const char *name, size_t len)
{
    const uint64_t fold = 0x2020202020202020u;
    uint64_t a, b;
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        memcpy(&a, q + k, 8);
        memcpy(&b, name + k, 8);
        if ((a | fold) != b)
            return false;
    }
    if (k == len)
        return true;
    /* The last few bytes, as the eight that end the name (overlapping
     * bytes already compared equal). */
    memcpy(&a, q + len - 8, 8);
    memcpy(&b, name + len - 8, 8);
    return (a | fold) == b;
}

/* same_name for a name of more than 8 bytes whose last eight already
 * compared equal (the tail filter below). */
static bool same_head(const char *q, const char *name, size_t len)
{
    if (len > 16)
        return same_name(q, name, len - 8);
    uint64_t a, b;
    memcpy(&a, q, 8);
    memcpy(&b, name, 8);
    return (a | 0x2020202020202020u) == b;
}

static int32_t match_few(const rp_domains *d, const char *s, size_t n)
{
    uint64_t t = tail_word(s, n);
    for (size_t k = 0; k < d->n_few; k++) {
        const small *e = &d->few[k];
        /* Neither an exact name nor "*.name" can match a query that does
         * not end with the name. */
        if (e->len > n || (t & e->tmask) != e->tail)
            continue;
        const char *name = d->names + e->off;
        if (e->len == n) {
            if (e->exact >= 0 && (n <= 8 || same_head(s, name, n)))
                return e->exact;
            continue;
        }
        /* "*.name" covers "label.name": the query ends with the name
         * right after a dot. */
        if (e->wild >= 0 && s[n - e->len - 1] == '.' &&
            (e->len <= 8 || same_head(s + n - e->len, name, e->len)))
            return e->wild;
    }
    return -1;
}

/* Out of line: its frame (the suffix hashes) is not the few names'. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t match_hashed(const rp_domains *d, const char *s, size_t n)
{
    /* One right-to-left pass records the hash of every suffix that starts
     * at a label boundary. */
    uint32_t hashes[MAX_LABELS + 1];
    size_t starts[MAX_LABELS + 1];
    size_t nl = 0;
    uint32_t h = FNV_OFFSET;
    for (size_t i = n; i-- > 0;) {
        h = hash_step(h, (unsigned char)s[i]);
        if (i == 0 || s[i - 1] == '.') {
            hashes[nl] = h;
            starts[nl] = i;
            nl++;
        }
    }
    /* starts[nl - 1] == 0 is the whole name; smaller k are shorter
     * suffixes. */
    size_t j = find(d, hashes[nl - 1], s, n);
    if (j != NOT_FOUND && d->slots[j].exact >= 0)
        return d->slots[j].exact;
    /* "*.name" covers names strictly below name, so the whole query is
     * never a wildcard candidate; try the longest proper suffix first so
     * that the most specific wildcard wins. */
    for (size_t k = nl - 1; k-- > 0;) {
        j = find(d, hashes[k], s + starts[k], n - starts[k]);
        if (j != NOT_FOUND && d->slots[j].wild >= 0)
            return d->slots[j].wild;
    }
    return -1;
}

int32_t rp_domains_match_name(const rp_domains *d, const char *s, size_t n)
{
    if (!d || d->cap == 0 || n == 0 || n > NAME_MAX_LEN)
        return -1;
    return d->n_few ? match_few(d, s, n) : match_hashed(d, s, n);
}

int32_t rp_domains_match(const rp_domains *d, const char *s, size_t n)
{
    if (!d || d->cap == 0 || !s || n == 0)
        return -1;
    /* One root dot is ignored; a second one ("example.org..") is an empty
     * label and matches nothing. */
    if (s[n - 1] == '.')
        n--;
    if (n == 0 || n > NAME_MAX_LEN)
        return -1;
    /* Only a host name can match: refusing anything else keeps a wildcard
     * from accepting "a b.example.org" or "x@y.example.org". */
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!is_alnum(c) && c != '-')
                return -1;
            continue;
        }
        if (i == label)
            return -1; /* empty label */
        label = i + 1;
    }
    return rp_domains_match_name(d, s, n);
}
