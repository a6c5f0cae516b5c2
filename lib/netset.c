/*
 * Compiled address sets: the longest-prefix match behind every client and
 * local-address check.
 *
 * Design.  CIDR prefixes are laminar (two are either nested or disjoint),
 * so the answer "most specific entry of list 0, most specific entry of
 * list 1" is constant between consecutive prefix boundaries.  The build
 * turns the entries into those elementary intervals and interns each
 * interval's answer pair as one small integer; a lookup then only has to
 * find the interval that holds the address.  That is one search instead of
 * one walk per list, and the structure never needs pointers.
 *
 * Finding the interval (IPv4):
 *   - up to 16384 boundaries: one sorted array of them and an index on
 *     the top 1..16 bits sized to the set (at most twice as many entries
 *     as boundaries, so a 1000-prefix list, index included, stays in L1
 *     where a 256 KiB index would sit in L2).  An index entry is where the
 *     region's boundaries start in the array; the search counts a fixed
 *     window of 4, 8 or 16 keys from there (or lifts in a fixed number of
 *     steps when some region is more crowded), the same for every
 *     address, so no branch depends on it;
 *   - more: a direct index on the top 16 bits (2^16 x 4 bytes, fits in
 *     L2) whose entry is either the answer itself (no boundary inside that
 *     /16) or the offset of a bucket holding the boundaries inside it as
 *     16-bit keys (or as a 256-bit map when all of them fall on /24 edges,
 *     as in BGP tables) followed by the interval values.  A bucket is a few
 *     consecutive cache lines; a map bucket's index entry also says about
 *     how many values it holds, so that the line the address's value is
 *     probably on is fetched with the map, and a cold lookup costs about
 *     one memory access after the L2-resident index.
 * Both are searched by an inline function in internal.h (see there why).
 * IPv6 keeps a flat sorted array up to 256 boundaries and a direct index
 * above, of 2^8 to 2^16 entries (about eight boundaries each).  That index
 * is a window: it covers the bits after the prefix all the boundaries
 * share, because real IPv6 lists sit in a few regions (every BGP route is
 * in 2000::/3), and an index on the top bits would leave most of its
 * entries empty and a few buckets crowded.  Addresses outside the window
 * are below or above every boundary and take the first or last interval.
 * A bucket whose boundaries all fall on edges 32 bits past the index (the
 * /48s and shorter prefixes of a BGP table) keeps them as 32-bit keys, up
 * to 15 of them counted at once inline; otherwise as 64-bit keys (all on
 * /64 edges) or 128-bit ones, searched out of line.
 *
 * Non-contiguous masks (192.168.0.0;255.255.0.255) are not prefixes and do
 * not nest, so they cannot be intervals; they are kept in a short array
 * beside the main structure and checked after it, ranked by the number of
 * bits their mask sets against the prefix length of the interval answer.
 *
 * Everything the lookup reads lives in one allocation, so freeing needs
 * one size and lookups touch no pointer chains.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------ constants */

/* IPv6: at most this many boundaries go into the flat array; above it
 * the direct index pays for itself (a binary search of 8 steps in L1 is
 * still cheaper than one L2 miss into a 256 KiB index). */
#define FLAT_MAX 256u

/* IPv4: up to this many boundaries use the sorted layout (index + one
 * sorted array, 8 bytes a boundary, at most 160 KiB); above it the DIR
 * layout's buckets (about 4 bytes a boundary) keep a million prefixes
 * within 10 bytes each. */
#define SORTED_MAX 16384u

#define DIR_BITS 16u
#define DIR_SIZE (1u << DIR_BITS)

/* Direct index entry: a leaf holds the interned value; otherwise it holds
 * the offset of a bucket, its key width and the number of search steps.
 * The steps are here, in the L2-resident index, and not in the bucket,
 * because a loop whose trip count waits for a cache miss mispredicts its
 * exit only after the miss returns, and that flush serialises otherwise
 * independent lookups (it made throughput at 1M prefixes 7x worse). */
#define DIR_LEAF RP_NS_DIR_LEAF
#define DIR_WIDE RP_NS_DIR_WIDE /* IPv4: 16-bit keys; IPv6: 128-bit keys */
#define DIR_STEPS_SHIFT 25u
#define DIR_STEPS_MASK 0x1fu
#define DIR_OFF RP_NS_DIR_OFF

/* Bucket offsets are in units of 8 bytes (keys stay aligned; 25 bits of
 * offset then address 256 MiB of buckets). */
#define V4_UNIT 8u

/* A /24-aligned IPv4 bucket: 4 x 64-bit map words, 4 count bytes. */
#define NARROW_HDR RP_NS_NARROW_HDR
#define V6_UNIT 8u
/* IPv6 index entries: key width beside DIR_LEAF and DIR_WIDE (128-bit);
 * neither flag means 32-bit keys.  The offset loses a bit to it and still
 * addresses 128 MiB of buckets (5 million prefixes). */
#define V6_K64 RP_NS6_K64
#define V6_OFF RP_NS6_OFF

/* ------------------------------------------------------------- helpers */

typedef struct k128 {
    uint64_t hi, lo;
} k128;

static inline bool k128_lt(k128 a, k128 b)
{
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static inline bool k128_eq(k128 a, k128 b)
{
    return a.hi == b.hi && a.lo == b.lo;
}


/* Bucket values are little-endian whatever the CPU, so that a 3-byte
 * value can be read with one 4-byte load and a mask (compilers turn this
 * into a single load on little-endian machines). */
static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline unsigned popcount32(uint32_t x)
{
    unsigned c = 0;
    for (; x; x &= x - 1)
        c++;
    return c;
}

static size_t align64(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

/* -------------------------------------------------------- the structure */

/* A non-contiguous entry.  A family's entries are sorted by mask, then
 * net, tag and position (nc_order), so that those sharing a mask form a
 * run that a lookup searches by the address's masked bytes: one binary
 * search per distinct mask, where policies use a handful of masks. */
typedef struct nc_entry {
    uint8_t net[16];  /* net & mask; bytes past the family's are zero */
    uint8_t mask[16];
    int32_t idx;
    uint32_t run;     /* on a run's first entry: the run's length */
    uint8_t spec;     /* bits set in the mask */
    uint8_t tag;
} nc_entry;

/* One family's interval index in the DIR or flat layouts (IPv4 in the
 * sorted layout lives in rp_netset_fast alone). */
typedef struct fam {
    uint32_t flat_k;     /* boundaries in the flat array (flat mode) */
    const uint32_t *dir; /* NULL: flat mode */
    const uint8_t *blob; /* buckets (IPv6 reads them through rp_netset_fast) */
    const void *flat_keys; /* k128 (IPv6) */
    const uint32_t *flat_vals;
    uint32_t vmask; /* IPv4 bucket values: 3 or 4 bytes */
    uint32_t vwidth;
} fam;

/* IPv4 layouts (layout4); the inline lookup takes SORTED and DIR. */
#define L4_SORTED RP_NS4_SORTED
#define L4_DIR RP_NS4_DIR
#define L4_DIR32 3u /* 4-byte values: over 2^23 entries, out of line */

/* The most values a set may have to get a table of answers. */
#define ANSWERS_MAX 512u

struct rp_netset {
    rp_netset_fast fast; /* first: internal.h's inline lookup reads it */
    size_t bytes; /* the one allocation, this struct included */
    uint32_t n;   /* entries the set was built from */
    uint32_t layout4;      /* L4_* */
    const uint8_t *spec;   /* per entry specificity; only with nc */
    const nc_entry *nc4, *nc6;
    uint32_t n_nc4, n_nc6;
    fam f4, f6;
};

/* ------------------------------------------------------------ searching */

static inline bool k128_le(const uint64_t *key, uint64_t hi, uint64_t lo)
{
    return (key[0] < hi) | ((key[0] == hi) & (key[1] <= lo));
}

/* The number of keys <= x among k sorted keys, in exactly `steps` steps
 * (2^steps > k): binary lifting with every decision a conditional move, so
 * no branch waits for the bucket to arrive from memory. */
#define DEFINE_LIFT(name, T, XT, LE)                                           \
    static inline uint32_t name(const T *keys, uint32_t k, uint32_t steps,     \
                                XT x)                                          \
    {                                                                          \
        uint32_t pos = 0;                                                      \
        for (uint32_t st = (1u << steps) >> 1; st; st >>= 1) {                 \
            uint32_t np = pos + st;                                            \
            uint32_t i = np - 1 < k - 1 ? np - 1 : k - 1;                      \
            pos = LE(keys, i, x) ? np : pos;                                   \
        }                                                                      \
        /* Past the end it compared the last key: clamp. */                    \
        return pos < k ? pos : k;                                              \
    }
#define LE_PLAIN(keys, i, x) ((keys)[i] <= (x))
DEFINE_LIFT(lift16, uint16_t, uint32_t, LE_PLAIN)
DEFINE_LIFT(lift32, uint32_t, uint32_t, LE_PLAIN)
DEFINE_LIFT(lift64, uint64_t, uint64_t, LE_PLAIN)

static inline uint32_t lift128(const uint64_t *keys, uint32_t k,
                               uint32_t steps, uint64_t hi, uint64_t lo)
{
    uint32_t pos = 0;
    for (uint32_t st = (1u << steps) >> 1; st; st >>= 1) {
        uint32_t np = pos + st;
        uint32_t i = np - 1 < k - 1 ? np - 1 : k - 1;
        pos = k128_le(keys + 2u * i, hi, lo) ? np : pos;
    }
    return pos < k ? pos : k;
}

static uint32_t steps_for(uint32_t k)
{
    uint32_t s = 0;
    while ((1u << s) <= k)
        s++;
    return s;
}

static inline uint32_t upper128(const uint64_t *keys, uint32_t k, uint64_t hi,
                                uint64_t lo)
{
    uint32_t b = 0;
    while (k > 1) {
        uint32_t h = k >> 1;
        b = k128_le(keys + 2u * (b + h), hi, lo) ? b + h : b;
        k -= h;
    }
    return b + k128_le(keys + 2u * b, hi, lo);
}

/* The value index in a bucket with 16-bit keys, and where values start. */
static inline uint32_t wide_pos(const uint8_t *b, uint32_t d, uint32_t x,
                                const uint8_t **vals)
{
    uint32_t steps = (d >> DIR_STEPS_SHIFT) & DIR_STEPS_MASK;
    const uint16_t *hdr = (const uint16_t *)(const void *)b;
    uint32_t k = hdr[0];
    *vals = b + 2u + 2u * k;
    return lift16(hdr + 1, k, steps, x & 0xffffu);
}

uint32_t rp_netset_wide4(const rp_netset_fast *f, uint32_t d, uint32_t x)
{
    const uint8_t *b = f->blob + (size_t)(d & DIR_OFF) * V4_UNIT;
    __builtin_prefetch(b + 64);
    __builtin_prefetch(b + 128);
    const uint8_t *vals;
    uint32_t pos = wide_pos(b, d, x, &vals);
    return load_le32(vals + (size_t)pos * 3u) & 0xffffffu;
}

/* The second level of an IPv4 lookup in either DIR layout, given the
 * address's index entry (the inline path's, for any value width). */
static inline uint32_t lookup4_dir(const fam *f, uint32_t x, uint32_t d)
{
    if (d & DIR_LEAF)
        return d & ~DIR_LEAF;
    const uint8_t *b = f->blob + (size_t)(d & DIR_OFF) * V4_UNIT;
    const uint8_t *vals;
    uint32_t pos;
    if (d & DIR_WIDE) {
        /* A bucket spans up to three cache lines and the search needs
         * its keys and then one value: ask for all of them at once so
         * that a cold lookup waits for memory once, not once per line. */
        __builtin_prefetch(b + 64);
        __builtin_prefetch(b + 128);
        pos = wide_pos(b, d, x, &vals);
    } else {
        rp_ns_dir4_guess((uintptr_t)b, d, x, f->vwidth);
        const uint64_t *bm = (const uint64_t *)(const void *)b;
        uint32_t j = (x >> 8) & 0xffu;
        uint64_t word = bm[j >> 6] & ((2ull << (j & 63u)) - 1u);
        pos = b[32u + (j >> 6)] + rp_ns_popcount64(word);
        vals = b + NARROW_HDR;
    }
    return load_le32(vals + (size_t)pos * f->vwidth) & f->vmask;
}

static uint32_t lookup4(const rp_netset *s, uint32_t x)
{
    if (s->layout4 == L4_SORTED)
        return rp_netset_sorted4(&s->fast, x);
    return lookup4_dir(&s->f4, x, s->f4.dir[x >> 16]);
}

/* IPv6 buckets the inline lookup leaves: 32-bit keys, more than 15 of
 * them; 64-bit keys (all boundaries on /64 edges); 128-bit keys. */
uint32_t rp_netset_bucket6(const rp_netset_fast *f, uint32_t d, uint64_t hi,
                           const uint8_t *addr)
{
    const uint64_t *b =
        (const uint64_t *)(const void *)f->blob6 + (size_t)(d & V6_OFF);
    __builtin_prefetch(b + 8);
    __builtin_prefetch(b + 16);
    uint32_t steps = (d >> DIR_STEPS_SHIFT) & DIR_STEPS_MASK;
    if (!(d & (DIR_WIDE | V6_K64))) {
        const uint32_t *b32 = (const uint32_t *)(const void *)b;
        uint32_t k = b32[0];
        uint32_t x = (uint32_t)(hi >> f->w6_kshift);
        return b32[1u + k + lift32(b32 + 1, k, steps, x)];
    }
    uint32_t k = (uint32_t)b[0];
    const uint64_t *keys = b + 1;
    if (d & DIR_WIDE) {
        uint32_t pos = lift128(keys, k, steps, hi, rp_ns_be64(addr + 8));
        return ((const uint32_t *)(const void *)(keys + 2u * k))[pos];
    }
    uint32_t pos = lift64(keys, k, steps, hi);
    return ((const uint32_t *)(const void *)(keys + k))[pos];
}

static uint32_t lookup6(const rp_netset *s, const uint8_t *addr)
{
    const fam *f = &s->f6;
    if (f->dir)
        return rp_netset_dir6(&s->fast, addr);
    if (f->flat_k == 0)
        return f->flat_vals[0];
    return f->flat_vals[upper128(f->flat_keys, f->flat_k, rp_ns_be64(addr),
                                 rp_ns_be64(addr + 8))];
}

/* The first entry of run r[0..n) (one mask) with this net and tag: the
 * earliest in the file of those that match, or NULL. */
static const nc_entry *nc_first(const nc_entry *r, uint32_t n,
                                const uint8_t key[16], uint8_t tag)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r[mid].net, key, 16);
        if (c < 0 || (c == 0 && r[mid].tag < tag))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && r[lo].tag == tag && memcmp(r[lo].net, key, 16) == 0)
        return &r[lo];
    return NULL;
}

/* A non-contiguous entry wins over the interval answer when it sets more
 * mask bits, or as many and comes earlier in the file.  Each run of one
 * mask is searched for the address's bytes under that mask (a scan of
 * every entry made 100,000 of them cost 100 us a lookup). */
static void nc_check(const rp_netset *s, const nc_entry *e, uint32_t n,
                     const uint8_t *addr, size_t len, int32_t out[2])
{
    for (uint32_t i = 0; i < n; i += e[i].run) {
        const nc_entry *r = &e[i];
        uint8_t key[16] = {0};
        for (size_t q = 0; q < len; q++)
            key[q] = addr[q] & r->mask[q];
        for (uint8_t tag = 0; tag < 2; tag++) {
            const nc_entry *m = nc_first(r, r->run, key, tag);
            if (!m)
                continue;
            int32_t cur = out[tag];
            if (cur < 0 || m->spec > s->spec[cur] ||
                (m->spec == s->spec[cur] && m->idx < cur))
                out[tag] = m->idx;
        }
    }
}

/* Everything the inline rp_netset_lookup (internal.h) does not take. */
void rp_netset_lookup_slow(const rp_netset *s, const relaypol_addr *addr,
                           int32_t out[2])
{
    if (addr->family == RELAYPOL_AF_INET) {
        rp_netset_answer(&s->fast, lookup4(s, rp_ns_be32(addr->bytes)), out);
        if (s->n_nc4)
            nc_check(s, s->nc4, s->n_nc4, addr->bytes, 4, out);
    } else if (addr->family == RELAYPOL_AF_INET6) {
        rp_netset_answer(&s->fast, lookup6(s, addr->bytes), out);
        if (s->n_nc6)
            nc_check(s, s->nc6, s->n_nc6, addr->bytes, 16, out);
    } else {
        out[0] = -1;
        out[1] = -1;
    }
}

/* Many lookups at once (internal.h).  One lookup at a time, the CPU can
 * only overlap the bucket misses of the few lookups that fit its window;
 * reading a whole group's index entries and requesting their buckets
 * first lets the misses of the group overlap. */

#define GROUP 16u

static inline void many4(const rp_netset *s, const relaypol_addr *addrs,
                         size_t n, int32_t (*out)[2])
{
    const fam *f = &s->f4;
    for (size_t base = 0; base < n; base += GROUP) {
        size_t m = n - base < GROUP ? n - base : GROUP;
        uint32_t x[GROUP], d[GROUP];
        for (size_t j = 0; j < m; j++) {
            const relaypol_addr *a = &addrs[base + j];
            x[j] = rp_ns_be32(a->bytes);
            d[j] = a->family == RELAYPOL_AF_INET ? f->dir[x[j] >> 16]
                                                 : DIR_LEAF;
            /* A leaf has no bucket: prefetch the blob's first line. */
            size_t off = d[j] & DIR_LEAF ? 0 : (size_t)(d[j] & DIR_OFF);
            const uint8_t *b = f->blob + off * V4_UNIT;
            __builtin_prefetch(b);
            /* The value line (a harmless guess for the other kinds). */
            rp_ns_dir4_guess((uintptr_t)b, d[j], x[j], f->vwidth);
        }
        for (size_t j = 0; j < m; j++) {
            const relaypol_addr *a = &addrs[base + j];
            if (a->family == RELAYPOL_AF_INET)
                rp_netset_decode(&s->fast, lookup4_dir(f, x[j], d[j]),
                                 out[base + j]);
            else
                rp_netset_lookup(s, a, out[base + j]);
        }
    }
}

void rp_netset_lookup_many(const rp_netset *s, const relaypol_addr *addrs,
                           size_t n, int32_t (*out)[2])
{
    /* Only the IPv4 DIR index has a second level worth overlapping; the
     * sorted layout stays in L1 and non-contiguous masks need the slow
     * path: those go one at a time. */
    if (s->layout4 == L4_SORTED || s->n_nc4) {
        for (size_t i = 0; i < n; i++)
            rp_netset_lookup(s, &addrs[i], out[i]);
        return;
    }
    many4(s, addrs, n, out);
}

void rp_netset_free(rp_alloc *a, rp_netset *s)
{
    if (s)
        rp_free(a, s, s->bytes);
}

/* ------------------------------------------------------------- building */

/* One prefix, as a closed interval [start, end] of the family's space
 * (IPv4 in the low 32 bits of lo). */
typedef struct pfx {
    k128 start, end;
    int32_t idx;
    uint8_t len;
    uint8_t tag;
} pfx;

/* A change point of one list (from pos on, the answer is val), or of the
 * interned pair (v).  One type for both: fam_intervals merges list 0's
 * change points into intervals in the same array. */
typedef struct chg {
    k128 pos;
    union {
        int32_t val;
        uint32_t v;
    };
} chg;
typedef chg ivl;

static int pfx_cmp(const void *pa, const void *pb)
{
    const pfx *a = pa, *b = pb;
    if (a->tag != b->tag)
        return a->tag < b->tag ? -1 : 1;
    if (!k128_eq(a->start, b->start))
        return k128_lt(a->start, b->start) ? -1 : 1;
    /* Outer prefixes first, so that the sweep meets containers first. */
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* A heap sort: the C library's qsort may call malloc (glibc's does for
 * arrays over 1 KiB), and a firmware build must see no heap call while
 * loading; this one works in place.  pfx_cmp has no ties (idx differs). */
static void pfx_sift(pfx *p, size_t root, size_t n)
{
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && pfx_cmp(&p[c], &p[c + 1]) < 0)
            c++;
        if (pfx_cmp(&p[root], &p[c]) >= 0)
            return;
        pfx t = p[root];
        p[root] = p[c];
        p[c] = t;
        root = c;
    }
}

static void pfx_sort(pfx *p, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        pfx_sift(p, i, n);
    for (size_t end = n; end-- > 1;) {
        pfx t = p[0];
        p[0] = p[end];
        p[end] = t;
        pfx_sift(p, 0, end);
    }
}

/* IPv4 prefixes sort as one 64-bit word, tag:1 start:32 len:6 idx:25, so
 * a stable LSD radix sort over the top 39 bits (the words arrive in index
 * order) replaces a comparison sort that dominated the build: 1M entries
 * in a few milliseconds instead of a quarter of a second. */
#define KEY4_IDX_BITS 25u
#define RADIX_BITS 13u
#define RADIX_MIN 4096u

static bool radix_sort64(rp_alloc *a, uint64_t *k, size_t n, unsigned from,
                         unsigned to)
{
    if (n < 2)
        return true;
    uint64_t *tmp = rp_malloc(a, n * sizeof *tmp);
    size_t *cnt = rp_malloc(a, ((size_t)1 << RADIX_BITS) * sizeof *cnt);
    if (!tmp || !cnt) {
        rp_free(a, tmp, n * sizeof *tmp);
        rp_free(a, cnt, ((size_t)1 << RADIX_BITS) * sizeof *cnt);
        return false;
    }
    uint64_t *src = k, *dst = tmp;
    for (unsigned sh = from; sh < to; sh += RADIX_BITS) {
        unsigned w = to - sh < RADIX_BITS ? to - sh : RADIX_BITS;
        size_t nb = (size_t)1 << w;
        uint64_t m = nb - 1;
        memset(cnt, 0, nb * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> sh) & m]++;
        size_t sum = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> sh) & m]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != k)
        memcpy(k, src, n * sizeof *k);
    rp_free(a, tmp, n * sizeof *tmp);
    rp_free(a, cnt, ((size_t)1 << RADIX_BITS) * sizeof *cnt);
    return true;
}

static void emit(chg *c, size_t *n, k128 pos, int32_t val)
{
    /* A later event at the same position is the state after it. */
    if (*n && k128_eq(c[*n - 1].pos, pos))
        (*n)--;
    if (*n && c[*n - 1].val == val)
        return;
    c[*n].pos = pos;
    c[*n].val = val;
    (*n)++;
}

/* The change points of one list, whose prefixes p[0..m) are sorted by
 * start and then outer first.  c must hold 2m + 1. */
static size_t sweep(const pfx *p, size_t m, k128 top, chg *c)
{
    struct {
        k128 end;
        int32_t idx;
    } st[130];
    size_t sp = 0, n = 0;
    emit(c, &n, (k128){0, 0}, -1);
    for (size_t i = 0; i < m; i++) {
        /* Duplicates: the first (lowest index) has already won. */
        if (i && k128_eq(p[i].start, p[i - 1].start) &&
            p[i].len == p[i - 1].len)
            continue;
        while (sp && k128_lt(st[sp - 1].end, p[i].start)) {
            k128 e = st[--sp].end;
            /* e < start <= top, so e + 1 cannot wrap. */
            e.lo++;
            if (e.lo == 0)
                e.hi++;
            emit(c, &n, e, sp ? st[sp - 1].idx : -1);
        }
        st[sp].end = p[i].end;
        st[sp].idx = p[i].idx;
        sp++;
        emit(c, &n, p[i].start, p[i].idx);
    }
    while (sp) {
        k128 e = st[--sp].end;
        if (k128_eq(e, top))
            continue; /* reaches the end of the space */
        e.lo++;
        if (e.lo == 0)
            e.hi++;
        emit(c, &n, e, sp ? st[sp - 1].idx : -1);
    }
    return n;
}

/* Interning both-list pairs: open addressing on (a, b). */
typedef struct interner {
    uint32_t *slots; /* tuple id + 1, 0 = empty */
    size_t cap;      /* power of two */
    int32_t *tuples;
    size_t ntup, tcap;
} interner;

static bool intern_pair(rp_alloc *a, interner *in, int32_t x, int32_t y,
                        uint32_t *id)
{
    uint64_t h = ((uint64_t)(uint32_t)x << 32 | (uint32_t)y) *
                 0x9e3779b97f4a7c15ull;
    size_t mask = in->cap - 1, i = (size_t)(h >> 32) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t sl = in->slots[i];
        if (!sl)
            break;
        if (in->tuples[2u * (sl - 1)] == x && in->tuples[2u * (sl - 1) + 1] == y) {
            *id = sl - 1;
            return true;
        }
    }
    if (!rp_grow(a, (void **)&in->tuples, &in->tcap, 2u * (in->ntup + 1),
                 sizeof(int32_t)))
        return false;
    in->tuples[2u * in->ntup] = x;
    in->tuples[2u * in->ntup + 1] = y;
    in->slots[i] = (uint32_t)++in->ntup;
    *id = (uint32_t)(in->ntup - 1);
    return true;
}

/* Everything one family's build needs, freed together. */
typedef struct fambuild {
    pfx *p;
    size_t np, pcap;
    bool sorted;
    chg *c[2];
    size_t nc[2], ccap[2];
    ivl *iv;
    size_t niv, ivcap;
} fambuild;

static void fambuild_free(rp_alloc *a, fambuild *b)
{
    rp_free(a, b->p, b->pcap * sizeof(pfx));
    for (int t = 0; t < 2; t++)
        rp_free(a, b->c[t], b->ccap[t] * sizeof(chg));
    rp_free(a, b->iv, b->ivcap * sizeof(ivl));
}

/* Turns the family's prefixes into interned intervals in b->iv. */
static bool fam_intervals(rp_alloc *a, fambuild *b, k128 top, uint32_t n,
                          interner *in)
{
    if (!b->sorted && b->np > 1)
        pfx_sort(b->p, b->np);
    size_t split = 0;
    while (split < b->np && b->p[split].tag == 0)
        split++;
    size_t m[2] = {split, b->np - split};
    /* b->p is NULL when the family has no entries: no arithmetic on it. */
    const pfx *ps[2] = {b->p, b->p ? b->p + split : NULL};
    /* List 1's change points in an array of their own; list 0's at the
     * end of the interval array, which the merge below then fills from
     * the front: each step reads at least one change point and writes at
     * most one interval, so it never overwrites one it has yet to read.
     * On a million prefixes that is 48 MB less memory to fault in. */
    b->ccap[1] = 2 * m[1] + 1;
    b->c[1] = rp_malloc(a, b->ccap[1] * sizeof(chg));
    if (!b->c[1]) {
        b->ccap[1] = 0;
        return false;
    }
    b->nc[1] = sweep(ps[1], m[1], top, b->c[1]);
    b->ivcap = 2 * m[0] + 1 + b->nc[1];
    b->iv = rp_malloc(a, b->ivcap * sizeof(ivl));
    if (!b->iv) {
        b->ivcap = 0;
        return false;
    }
    chg *c0 = b->iv + b->nc[1];
    b->nc[0] = sweep(ps[0], m[0], top, c0);
    /* The prefixes are no longer needed; give the memory back early. */
    rp_free(a, b->p, b->pcap * sizeof(pfx));
    b->p = NULL;
    b->pcap = 0;

    const chg *c1 = b->c[1];
    size_t i = 0, j = 0, niv = 0;
    int32_t v0 = -1, v1 = -1;
    uint32_t mixbase = 2u + 2u * n;
    while (i < b->nc[0] || j < b->nc[1]) {
        k128 pos;
        if (j >= b->nc[1] || (i < b->nc[0] && k128_lt(c0[i].pos, c1[j].pos)))
            pos = c0[i].pos;
        else
            pos = c1[j].pos;
        if (i < b->nc[0] && k128_eq(c0[i].pos, pos))
            v0 = c0[i++].val;
        if (j < b->nc[1] && k128_eq(c1[j].pos, pos))
            v1 = c1[j++].val;
        uint32_t v;
        if (v0 < 0 && v1 < 0)
            v = 0;
        else if (v1 < 0)
            v = 2u + 2u * (uint32_t)v0;
        else if (v0 < 0)
            v = 3u + 2u * (uint32_t)v1;
        else {
            uint32_t id;
            if (!intern_pair(a, in, v0, v1, &id))
                return false;
            v = mixbase + id;
        }
        if (niv && b->iv[niv - 1].v == v)
            continue;
        b->iv[niv].pos = pos;
        b->iv[niv].v = v;
        niv++;
    }
    b->niv = niv;
    return true;
}

/* The IPv4 index.  With out == NULL only measures the buckets' bytes. */
static size_t build_v4_dir(const ivl *iv, size_t niv, uint32_t *dir,
                           uint8_t *blob, uint32_t vwidth)
{
    size_t off = 0, i = 1;
    uint32_t cur = iv[0].v;
    for (uint32_t bk = 0; bk < DIR_SIZE; bk++) {
        uint64_t base = (uint64_t)bk << 16;
        if (i < niv && iv[i].pos.lo == base)
            cur = iv[i++].v;
        size_t j = i;
        bool wide = false;
        while (j < niv && (iv[j].pos.lo >> 16) == bk) {
            wide |= (iv[j].pos.lo & 0xffu) != 0;
            j++;
        }
        uint32_t k = (uint32_t)(j - i);
        if (k == 0) {
            if (dir)
                dir[bk] = DIR_LEAF | cur;
            continue;
        }
        size_t sz = (wide ? 2u + (size_t)k * 2u : NARROW_HDR) +
                    (size_t)(k + 1) * vwidth;
        sz = (sz + V4_UNIT - 1) & ~(size_t)(V4_UNIT - 1);
        if (blob) {
            uint8_t *b = blob + off;
            uint8_t *vals;
            if (wide) {
                uint16_t *h = (uint16_t *)(void *)b;
                h[0] = (uint16_t)k;
                for (uint32_t q = 0; q < k; q++)
                    h[1 + q] = (uint16_t)(iv[i + q].pos.lo & 0xffffu);
                vals = b + 2u + (size_t)k * 2u;
            } else {
                uint64_t *bm = (uint64_t *)(void *)b;
                bm[0] = bm[1] = bm[2] = bm[3] = 0;
                for (uint32_t q = 0; q < k; q++) {
                    uint32_t jj = (uint32_t)(iv[i + q].pos.lo >> 8) & 0xffu;
                    bm[jj >> 6] |= 1ull << (jj & 63u);
                }
                uint32_t c = 0;
                for (uint32_t w = 0; w < 4; w++) {
                    b[32 + w] = (uint8_t)c;
                    c += rp_ns_popcount64(bm[w]);
                }
                vals = b + NARROW_HDR;
            }
            for (uint32_t q = 0; q <= k; q++) {
                uint32_t v = q ? iv[i + q - 1].v : cur;
                for (uint32_t by = 0; by < vwidth; by++)
                    vals[(size_t)q * vwidth + by] = (uint8_t)(v >> (8 * by));
            }
            /* A bitmap bucket's entry has its values in eighths for
             * rp_ns_dir4_guess (internal.h). */
            uint32_t eighths = (k + 1) / 8u < 31u ? (k + 1) / 8u : 31u;
            dir[bk] = (uint32_t)(off / V4_UNIT) |
                      (wide ? DIR_WIDE | steps_for(k) << DIR_STEPS_SHIFT
                            : eighths << RP_NS_DIR_GUESS_SHIFT);
        }
        off += sz;
        cur = iv[j - 1].v;
        i = j;
    }
    return off;
}

/* The IPv6 index's window: the prefix every boundary shares, up to 16
 * bits of it (so that the index and the 32-bit keys after it stay inside
 * the address's first 64 bits). */
typedef struct v6win {
    uint64_t base, top;
    unsigned skip;
    unsigned bits; /* the index has 2^bits entries */
} v6win;

/* Boundaries per index entry the index is sized for: the buckets then
 * mostly hold up to 15 keys, which are counted at once. */
#define V6_PER_ENTRY 8u

static v6win v6_window(const ivl *iv, size_t niv)
{
    v6win w = {0, 0, 0, DIR_BITS};
    if (niv < 2)
        return w;
    /* As few entries as keep the buckets small: every entry and every
     * bucket header is memory the lookups share the L2 with. */
    w.bits = 8;
    while (w.bits < DIR_BITS && ((size_t)V6_PER_ENTRY << w.bits) < niv)
        w.bits++;
    uint64_t lo = iv[1].pos.hi, hi = iv[niv - 1].pos.hi;
    unsigned common = lo == hi ? 64u : (unsigned)__builtin_clzll(lo ^ hi);
    /* The index and the 32-bit keys after it stay in the first 64 bits. */
    unsigned maxskip = 32u - w.bits;
    w.skip = common < maxskip ? common : maxskip;
    w.top = w.skip ? ~0ull << (64u - w.skip) : 0;
    w.base = lo & w.top;
    return w;
}

/* The IPv6 index over the window.  With dir == NULL only measures the
 * buckets' size in 8-byte words. */
static size_t build_v6_dir(const ivl *iv, size_t niv, const v6win *w,
                           uint32_t *dir, uint64_t *blob)
{
    unsigned sh = 64u - w->skip - w->bits; /* a bucket spans 2^sh of hi */
    unsigned kshift = sh - 32u; /* a 32-bit key is hi >> kshift */
    /* Bits below a 32-bit key's: a boundary with any of them set needs a
     * wider key. */
    uint64_t below32 = kshift == 0 ? 0 : ~0ull >> (64u - kshift);
    size_t off = 0, i = 1;
    uint32_t cur = iv[0].v;
    for (uint32_t bk = 0; bk < (1u << w->bits); bk++) {
        k128 base = {w->base | ((uint64_t)bk << sh), 0};
        if (i < niv && k128_eq(iv[i].pos, base))
            cur = iv[i++].v;
        size_t j = i;
        bool wide = false, k32 = true;
        while (j < niv && ((iv[j].pos.hi - w->base) >> sh) == bk) {
            wide |= iv[j].pos.lo != 0;
            k32 &= (iv[j].pos.hi & below32) == 0;
            j++;
        }
        k32 &= !wide;
        uint32_t k = (uint32_t)(j - i);
        if (k == 0) {
            if (dir)
                dir[bk] = DIR_LEAF | cur;
            continue;
        }
        size_t words = k32 ? 1u + (size_t)k
                           : 1u + (size_t)k * (wide ? 2u : 1u) +
                                 ((size_t)k + 2) / 2;
        if (blob && k32) {
            uint32_t *b = (uint32_t *)(void *)(blob + off);
            b[0] = k;
            for (uint32_t q = 0; q < k; q++)
                b[1u + q] = (uint32_t)(iv[i + q].pos.hi >> kshift);
            b[1u + k] = cur;
            for (uint32_t q = 0; q < k; q++)
                b[2u + k + q] = iv[i + q].v;
            dir[bk] = (uint32_t)off | steps_for(k) << DIR_STEPS_SHIFT;
        } else if (blob) {
            uint64_t *b = blob + off;
            b[0] = k;
            uint64_t *keys = b + 1;
            for (uint32_t q = 0; q < k; q++) {
                if (wide) {
                    keys[2u * q] = iv[i + q].pos.hi;
                    keys[2u * q + 1] = iv[i + q].pos.lo;
                } else {
                    keys[q] = iv[i + q].pos.hi;
                }
            }
            uint32_t *vals =
                (uint32_t *)(void *)(keys + (size_t)k * (wide ? 2u : 1u));
            vals[0] = cur;
            for (uint32_t q = 0; q < k; q++)
                vals[q + 1] = iv[i + q].v;
            dir[bk] = (uint32_t)off | (wide ? DIR_WIDE : V6_K64) |
                      steps_for(k) << DIR_STEPS_SHIFT;
        }
        off += words;
        cur = iv[j - 1].v;
        i = j;
    }
    /* rp_ns_count32() reads 64 bytes from a bucket's keys, whatever k is. */
    return off + 8u;
}

/* Sizes of one family's parts in the final allocation. */
typedef struct famlayout {
    unsigned kind;                 /* FL_* */
    size_t keys_bytes, vals_bytes; /* flat, sorted */
    size_t blob_bytes;             /* dir */
    size_t index_bytes;            /* sorted */
    unsigned bits, win, steps;     /* sorted: index bits, search */
    unsigned dir_bits;             /* dir: 2^dir_bits index entries */
} famlayout;

#define FL_FLAT 0u   /* IPv6: one sorted array */
#define FL_DIR 1u    /* both: 2^16 index and buckets */
#define FL_SORTED 2u /* IPv4: 2^bits index into one sorted array */

/* The sorted layout's index size and search.  Every region (the
 * addresses sharing the top `bits` bits) is searched the same way, wide
 * enough for the most crowded region, so that no branch depends on the
 * address: up to 16 keys are counted (WIN_MAX), more take binary lifting.
 * The smallest window wins, then the smaller index.  The index may have
 * up to twice as many entries as there are boundaries (at least 256), so
 * that with the boundaries it stays within L1 for a thousand prefixes. */
#define WIN_MAX 16u

static void plan_sorted(const ivl *iv, size_t nb, famlayout *l)
{
    unsigned bmax = 8;
    while (bmax < DIR_BITS && ((size_t)1 << bmax) < 2 * nb)
        bmax++;
    unsigned best_b = 1;
    size_t best_run = SIZE_MAX;
    for (unsigned b = 1; b <= bmax; b++) {
        unsigned sh = 32u - b;
        size_t run = 0, maxrun = 0;
        for (size_t i = 0; i < nb; i++) {
            if (i && (iv[i + 1].pos.lo >> sh) == (iv[i].pos.lo >> sh))
                run++;
            else
                run = 1;
            if (run > maxrun)
                maxrun = run;
        }
        /* Only the window class or the step count matters. */
        size_t cls = maxrun == 0        ? 0
                     : maxrun <= 4      ? 4
                     : maxrun <= 8      ? 8
                     : maxrun <= WIN_MAX ? WIN_MAX
                                        : ((size_t)1 << steps_for((uint32_t)maxrun));
        if (cls < best_run) {
            best_run = cls;
            best_b = b;
        }
    }
    l->kind = FL_SORTED;
    l->bits = best_b;
    if (best_run <= WIN_MAX) {
        l->win = (unsigned)best_run;
        l->steps = 0;
    } else {
        l->win = 0;
        l->steps = steps_for((uint32_t)best_run - 1);
    }
    /* Counting reads win keys; lifting at most 2^steps - 1 past p. */
    size_t pad = l->win ? l->win : ((size_t)1 << l->steps) - 1;
    l->index_bytes = ((size_t)1 << best_b) * sizeof(uint16_t);
    l->keys_bytes = (nb + pad) * sizeof(uint32_t);
    l->vals_bytes = (nb + 1 + pad) * sizeof(uint32_t);
}

static void plan_family(const fambuild *b, bool v6, uint32_t vwidth,
                        famlayout *l)
{
    size_t k = b->niv - 1;
    memset(l, 0, sizeof *l);
    if (!v6 && k <= SORTED_MAX) {
        plan_sorted(b->iv, k, l);
    } else if (v6 && k <= FLAT_MAX) {
        l->kind = FL_FLAT;
        l->keys_bytes = k * sizeof(k128);
        l->vals_bytes = (k + 1) * sizeof(uint32_t);
    } else if (v6) {
        l->kind = FL_DIR;
        v6win w = v6_window(b->iv, b->niv);
        l->dir_bits = w.bits;
        l->blob_bytes = build_v6_dir(b->iv, b->niv, &w, NULL, NULL) * V6_UNIT;
    } else {
        l->kind = FL_DIR;
        l->dir_bits = DIR_BITS;
        /* Four spare bytes: a 3-byte value is read with a 4-byte load. */
        l->blob_bytes = build_v4_dir(b->iv, b->niv, NULL, NULL, vwidth) + 4u;
    }
}

static size_t layout_size(const famlayout *l)
{
    switch (l->kind) {
    case FL_FLAT:
        return align64(l->keys_bytes) + align64(l->vals_bytes);
    case FL_SORTED:
        return align64(l->index_bytes) + align64(l->keys_bytes) +
               align64(l->vals_bytes);
    default:
        return align64(((size_t)1 << l->dir_bits) * sizeof(uint32_t)) +
               align64(l->blob_bytes);
    }
}

/* The sorted layout: keys[i] is the start of interval i + 1, vals[i] the
 * value of interval i; both padded past the end with copies of the last,
 * so that lifting past the last boundary needs no clamp.  index[r] is the
 * number of boundaries below region r's first address. */
static void fill_sorted(rp_netset_fast *f, const fambuild *b,
                        const famlayout *l, uint8_t *p)
{
    uint32_t nb = (uint32_t)(b->niv - 1);
    size_t pad = l->win ? l->win : ((size_t)1 << l->steps) - 1;
    uint16_t *index = (uint16_t *)(void *)p;
    uint32_t *keys = (uint32_t *)(void *)(p + align64(l->index_bytes));
    uint32_t *vals = (uint32_t *)(void *)((uint8_t *)keys +
                                          align64(l->keys_bytes));
    for (uint32_t q = 0; q < nb; q++)
        keys[q] = (uint32_t)b->iv[q + 1].pos.lo;
    for (size_t q = 0; q < pad; q++)
        keys[nb + q] = keys[nb - 1]; /* pad > 0 only when nb > 0 */
    for (uint32_t q = 0; q <= nb; q++)
        vals[q] = b->iv[q].v;
    for (size_t q = 0; q < pad; q++)
        vals[nb + 1 + q] = vals[nb];
    unsigned sh = 32u - l->bits;
    uint32_t c = 0;
    for (uint64_t r = 0; r < ((uint64_t)1 << l->bits); r++) {
        uint64_t start = r << sh;
        while (c < nb && keys[c] < start)
            c++;
        index[r] = (uint16_t)c;
    }
    f->index = index;
    f->keys = keys;
    f->vals = vals;
    f->shift = (uint8_t)sh;
    f->win = (uint8_t)l->win;
    f->half = (uint16_t)(((uint32_t)1 << l->steps) >> 1);
}

static void fill_family(fam *f, rp_netset_fast *fast, const fambuild *b,
                        bool v6, const famlayout *l, uint8_t **cursor,
                        uint32_t vwidth)
{
    uint8_t *p = *cursor;
    memset(f, 0, sizeof *f);
    f->vwidth = vwidth;
    f->vmask = vwidth == 4 ? 0xffffffffu : 0xffffffu;
    if (l->kind == FL_FLAT) {
        uint32_t k = (uint32_t)(b->niv - 1);
        uint32_t *vals = (uint32_t *)(void *)(p + align64(l->keys_bytes));
        uint64_t *keys = (uint64_t *)(void *)p;
        for (uint32_t q = 0; q < k; q++) {
            keys[2u * q] = b->iv[q + 1].pos.hi;
            keys[2u * q + 1] = b->iv[q + 1].pos.lo;
        }
        for (uint32_t q = 0; q <= k; q++)
            vals[q] = b->iv[q].v;
        f->flat_k = k;
        f->flat_keys = p;
        f->flat_vals = vals;
    } else if (l->kind == FL_DIR) {
        uint32_t *dir = (uint32_t *)(void *)p;
        uint8_t *blob =
            p + align64(((size_t)1 << l->dir_bits) * sizeof(uint32_t));
        if (v6) {
            /* Zeroed: the bucket searches read past a bucket's end. */
            memset(blob, 0, l->blob_bytes);
            v6win w = v6_window(b->iv, b->niv);
            build_v6_dir(b->iv, b->niv, &w, dir, (uint64_t *)(void *)blob);
            fast->dir6 = dir;
            fast->blob6 = blob;
            fast->w6_base = w.base;
            fast->w6_top = w.top;
            fast->w6_skip = (uint8_t)w.skip;
            fast->w6_ishift = (uint8_t)(64u - w.bits);
            fast->w6_kshift = (uint8_t)(32u - w.skip - w.bits);
            fast->w6_below = b->iv[0].v;
            fast->w6_above = b->iv[b->niv - 1].v;
        } else
            build_v4_dir(b->iv, b->niv, dir, blob, vwidth);
        f->dir = dir;
        f->blob = blob;
    }
    *cursor = p + layout_size(l);
}

/* Leading ones only: ~m is then 0..01..1. */
static bool is_contiguous4(uint32_t m)
{
    uint32_t inv = ~m;
    return (inv & (inv + 1u)) == 0;
}

static int nc_cmp(const void *a, const void *b)
{
    const nc_entry *x = a, *y = b;
    int c = memcmp(x->mask, y->mask, 16);
    if (c == 0)
        c = memcmp(x->net, y->net, 16);
    if (c == 0)
        c = (x->tag > y->tag) - (x->tag < y->tag);
    if (c == 0)
        c = (x->idx > y->idx) - (x->idx < y->idx);
    return c;
}

/* Sorts one family's non-contiguous entries into runs of one mask and
 * records each run's length on its first entry (nc_entry). */
static void nc_order(nc_entry *e, size_t n)
{
    if (n > 1)
        qsort(e, n, sizeof *e, nc_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && memcmp(e[j].mask, e[i].mask, 16) == 0)
            j++;
        e[i].run = (uint32_t)(j - i);
        i = j;
    }
}

relaypol_status rp_netset_build(rp_alloc *a, const rp_net *nets,
                                const uint8_t *lists, size_t n,
                                rp_netset **out)
{
    *out = NULL;
    /* Values carry 1 + 2 * index in 31 bits (see decode). */
    if (n > (1u << 28))
        return RELAYPOL_ERR_NOMEM;

    relaypol_status st = RELAYPOL_ERR_NOMEM;
    fambuild fb[2];
    memset(fb, 0, sizeof fb);
    interner in = {0};
    nc_entry *nc = NULL;
    size_t nnc = 0, nccap = 0;

    /* Count first so that the prefix arrays are allocated once. */
    size_t want[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (nets[i].flags & RP_NET_HOSTBITS)
            continue;
        if (nets[i].family == RELAYPOL_AF_INET)
            want[0]++;
        else if (nets[i].family == RELAYPOL_AF_INET6)
            want[1]++;
    }
    for (int f = 0; f < 2; f++) {
        if (want[f] == 0)
            continue;
        fb[f].p = rp_malloc(a, want[f] * sizeof(pfx));
        if (!fb[f].p)
            goto out;
        fb[f].pcap = want[f];
    }

    /* Sort the entries into prefixes per family and non-contiguous masks. */
    for (size_t i = 0; i < n; i++) {
        const rp_net *e = &nets[i];
        if (e->flags & RP_NET_HOSTBITS)
            continue;
        bool v6 = e->family == RELAYPOL_AF_INET6;
        if (!v6 && e->family != RELAYPOL_AF_INET)
            continue;
        size_t alen = v6 ? 16 : 4;
        int plen = e->prefix_len;
        if (plen < 0 && !v6 && is_contiguous4(rp_ns_be32(e->mask))) {
            /* A mask that is a prefix after all is ranked as one. */
            plen = (int)popcount32(rp_ns_be32(e->mask));
        }
        if (plen < 0) {
            if (!rp_grow(a, (void **)&nc, &nccap, nnc + 1, sizeof *nc))
                goto out;
            nc_entry *c = &nc[nnc++];
            memset(c, 0, sizeof *c);
            unsigned bits = 0;
            for (size_t q = 0; q < alen; q++) {
                c->mask[q] = e->mask[q];
                c->net[q] = e->net[q] & e->mask[q];
                bits += popcount32(e->mask[q]);
            }
            c->spec = (uint8_t)bits;
            c->idx = (int32_t)i;
            c->tag = lists[i] ? 1 : 0;
            continue;
        }
        fambuild *b = &fb[v6];
        pfx *p = &b->p[b->np++];
        if (plen > (int)alen * 8)
            plen = (int)alen * 8;
        uint8_t s[16] = {0}, en[16];
        for (size_t q = 0; q < alen; q++) {
            int bits = plen - (int)q * 8;
            uint8_t m = bits >= 8 ? 0xff
                        : bits <= 0 ? 0
                                    : (uint8_t)(0xff << (8 - bits));
            s[q] = e->net[q] & m;
            en[q] = s[q] | (uint8_t)~m;
        }
        if (v6) {
            p->start = (k128){rp_ns_be64(s), rp_ns_be64(s + 8)};
            p->end = (k128){rp_ns_be64(en), rp_ns_be64(en + 8)};
        } else {
            p->start = (k128){0, rp_ns_be32(s)};
            p->end = (k128){0, rp_ns_be32(en)};
        }
        p->idx = (int32_t)i;
        p->len = (uint8_t)plen;
        p->tag = lists[i] ? 1 : 0;
    }

    /* Small sets keep the comparison sort: the radix sort's 64 KiB
     * counting table and scratch copy would dominate a firmware arena's
     * peak for a list of a hundred entries, and saves nothing there. */
    if (fb[0].np >= RADIX_MIN && n <= ((size_t)1 << KEY4_IDX_BITS)) {
        size_t np = fb[0].np;
        uint64_t *keys = rp_malloc(a, np * sizeof *keys);
        if (!keys)
            goto out;
        for (size_t i = 0; i < np; i++) {
            const pfx *p = &fb[0].p[i];
            keys[i] = (uint64_t)p->tag << 63 | p->start.lo << 31 |
                      (uint64_t)p->len << KEY4_IDX_BITS | (uint64_t)p->idx;
        }
        if (!radix_sort64(a, keys, np, KEY4_IDX_BITS, 64)) {
            rp_free(a, keys, np * sizeof *keys);
            goto out;
        }
        for (size_t i = 0; i < np; i++) {
            pfx *p = &fb[0].p[i];
            uint64_t k = keys[i];
            uint32_t start = (uint32_t)(k >> 31);
            unsigned len = (unsigned)(k >> KEY4_IDX_BITS) & 63u;
            p->start = (k128){0, start};
            p->end = (k128){0, start | (uint32_t)(0xffffffffull >> len)};
            p->len = (uint8_t)len;
            p->idx = (int32_t)(k & (((uint64_t)1 << KEY4_IDX_BITS) - 1));
            p->tag = (uint8_t)(k >> 63);
        }
        rp_free(a, keys, np * sizeof *keys);
        fb[0].sorted = true;
    }

    /* The pair table is bounded by the intervals, at most 2 per prefix. */
    if (fb[0].np + fb[1].np) {
        size_t bound = 2 * (fb[0].np + fb[1].np) + 2, cap = 16;
        while (cap < 2 * bound)
            cap *= 2;
        in.slots = rp_calloc(a, cap, sizeof(uint32_t));
        if (!in.slots)
            goto out;
        in.cap = cap;
    }
    static const k128 top4 = {0, 0xffffffffu}, top6 = {UINT64_MAX, UINT64_MAX};
    if (!fam_intervals(a, &fb[0], top4, (uint32_t)n, &in) ||
        !fam_intervals(a, &fb[1], top6, (uint32_t)n, &in))
        goto out;
    rp_free(a, in.slots, in.cap * sizeof(uint32_t));
    in.slots = NULL;
    in.cap = 0;

    uint32_t mixbase = 2u + 2u * (uint32_t)n;
    uint32_t maxv = mixbase + (uint32_t)in.ntup;
    uint32_t vwidth = maxv <= 0xffffffu ? 3u : 4u;

    famlayout l4, l6;
    plan_family(&fb[0], false, vwidth, &l4);
    plan_family(&fb[1], true, vwidth, &l6);
    if (l4.kind == FL_DIR && l4.blob_bytes / V4_UNIT > DIR_OFF)
        goto out;
    if (l6.kind == FL_DIR && l6.blob_bytes / V6_UNIT > V6_OFF)
        goto out;

    size_t n4 = 0;
    for (size_t q = 0; q < nnc; q++)
        n4 += nets[nc[q].idx].family == RELAYPOL_AF_INET;
    /* Sets whose lists overlap and whose values all fit a small table
     * decode with one read (rp_netset_answer); 512 values is 4 KiB.
     * Without overlap the arithmetic is a few operations, shorter than
     * the read's latency. */
    size_t nanswers = in.ntup && maxv <= ANSWERS_MAX ? maxv : 0;
    size_t total = align64(sizeof(rp_netset)) +
                   align64((in.ntup + 1) * 2 * sizeof(int32_t)) +
                   align64(nanswers * 2 * sizeof(int32_t)) +
                   align64(nnc ? n : 0) + align64(nnc * sizeof(nc_entry)) +
                   layout_size(&l4) + layout_size(&l6);
    uint8_t *mem = rp_malloc(a, total);
    if (!mem)
        goto out;
    memset(mem, 0, align64(sizeof(rp_netset)));
    rp_netset *s = (rp_netset *)(void *)mem;
    uint8_t *cur = mem + align64(sizeof(rp_netset));
    s->bytes = total;
    s->n = (uint32_t)n;
    s->fast.mixbase = mixbase;
    s->fast.mixed = in.ntup != 0;

    int32_t *tup = (int32_t *)(void *)cur;
    tup[0] = tup[1] = -1;
    if (in.ntup)
        memcpy(tup, in.tuples, in.ntup * 2 * sizeof(int32_t));
    s->fast.tuples = tup;
    cur += align64((in.ntup + 1) * 2 * sizeof(int32_t));
    if (nanswers) {
        /* The arithmetic's answers. */
        int32_t *ans = (int32_t *)(void *)cur;
        for (uint32_t v = 0; v < nanswers; v++)
            rp_netset_decode(&s->fast, v, ans + 2u * v);
        s->fast.answers = ans;
        cur += align64(nanswers * 2 * sizeof(int32_t));
    }

    if (nnc) {
        uint8_t *spec = cur;
        for (size_t i = 0; i < n; i++) {
            const rp_net *e = &nets[i];
            spec[i] = (uint8_t)(e->prefix_len >= 0 ? e->prefix_len : 0);
        }
        cur += align64(n);
        nc_entry *dst = (nc_entry *)(void *)cur;
        size_t k4 = 0, k6 = n4;
        for (size_t q = 0; q < nnc; q++) {
            spec[nc[q].idx] = nc[q].spec;
            if (nets[nc[q].idx].family == RELAYPOL_AF_INET)
                dst[k4++] = nc[q];
            else
                dst[k6++] = nc[q];
        }
        nc_order(dst, n4);
        nc_order(dst + n4, nnc - n4);
        s->spec = spec;
        s->nc4 = dst;
        s->n_nc4 = (uint32_t)n4;
        s->nc6 = dst + n4;
        s->n_nc6 = (uint32_t)(nnc - n4);
        cur += align64(nnc * sizeof(nc_entry));
        /* Prefix entries whose mask was written as a contiguous dotted
         * quad rank by their length too. */
        for (size_t i = 0; i < n; i++)
            if (nets[i].prefix_len < 0 && nets[i].family == RELAYPOL_AF_INET)
                spec[i] = (uint8_t)popcount32(rp_ns_be32(nets[i].mask));
    }
    if (l4.kind == FL_SORTED) {
        fill_sorted(&s->fast, &fb[0], &l4, cur);
        cur += layout_size(&l4);
        s->layout4 = L4_SORTED;
    } else {
        fill_family(&s->f4, &s->fast, &fb[0], false, &l4, &cur, vwidth);
        s->fast.index = s->f4.dir;
        s->fast.blob = s->f4.blob;
        s->layout4 = vwidth == 3 ? L4_DIR : L4_DIR32;
    }
    fill_family(&s->f6, &s->fast, &fb[1], true, &l6, &cur, 4u);
    s->fast.mode6 = (uint8_t)(s->f6.dir && !s->n_nc6 ? RP_NS6_DIR
                                                      : RP_NS6_SLOW);
    /* The inline lookup takes the sorted and the 3-byte DIR layouts when
     * no non-contiguous IPv4 mask has to be checked after them. */
    s->fast.mode = (uint8_t)(s->n_nc4 || s->layout4 == L4_DIR32
                                 ? RP_NS4_SLOW
                                 : s->layout4);
    /* A sorted layout that fits well inside the L1 data cache (most
     * policies' lists) is read from there anyway: asking for it ahead
     * would only cost the decision the instructions. */
    s->fast.prefetch4 =
        s->fast.mode == RP_NS4_DIR ||
        (s->fast.mode == RP_NS4_SORTED && layout_size(&l4) > 16384u);
    *out = s;
    st = RELAYPOL_OK;
out:
    fambuild_free(a, &fb[0]);
    fambuild_free(a, &fb[1]);
    rp_free(a, in.slots, in.cap * sizeof(uint32_t));
    rp_free(a, in.tuples, in.tcap * sizeof(int32_t));
    rp_free(a, nc, nccap * sizeof *nc);
    return st;
}
