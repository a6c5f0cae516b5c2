/*
 * The one private header of librelaypol: the seams between its modules.
 * Nothing here is part of the ABI; the CLI and tests use it through the
 * static library.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_INTERNAL_H
#define RELAYPOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "relaypol/relaypol.h"

/* SSE2 is part of every x86-64; RP_NO_SIMD builds the portable paths
 * anyway, so that the tests run them too (tests/meson.build). */
#if defined(__SSE2__) && !defined(RP_NO_SIMD)
#define RP_SSE2 1
#include <emmintrin.h>
#endif

#define RP_HIDDEN __attribute__((visibility("hidden")))

/* ------------------------------------------------------------- alloc.c */

/* The allocator a policy was built with; every module allocates through
 * it so that firmware can give relaypol a fixed arena. */
typedef struct rp_alloc {
    relaypol_alloc_fn fn;
    void *ud;
    size_t in_use; /* bytes currently allocated through this allocator */
} rp_alloc;

void rp_alloc_init(rp_alloc *a, relaypol_alloc_fn fn, void *ud);
/* NULL on failure or when n == 0. */
void *rp_malloc(rp_alloc *a, size_t n);
/* Zeroed; NULL on failure or overflow of count * size. */
void *rp_calloc(rp_alloc *a, size_t count, size_t size);
/* NULL on failure, leaving p untouched. */
void *rp_realloc(rp_alloc *a, void *p, size_t old_size, size_t new_size);
void rp_free(rp_alloc *a, void *p, size_t size);
/* Grows *arr (of *cap elements of elem bytes) so that it holds at least
 * need elements; geometric growth.  false on failure (array untouched). */
bool rp_grow(rp_alloc *a, void **arr, size_t *cap, size_t need, size_t elem);

/* ------------------------------------------------------ parse errors */

/* A parser's complaint about one piece of text: a message and the 0-based
 * byte offset in that text where the problem is. */
typedef struct rp_perr {
    size_t col;
    char msg[192];
} rp_perr;

void rp_perr_set(rp_perr *e, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -------------------------------------------------------------- addr.c */

/* Strict textual addresses (see relaypol_addr_parse).  All take a length
 * and never read past it; none needs NUL termination.  On failure they
 * return false and, if e is not NULL, say why and where. */
bool rp_parse_ipv4(const char *s, size_t n, uint8_t out[4], rp_perr *e);
bool rp_parse_ipv6(const char *s, size_t n, uint8_t out[16], rp_perr *e);
/* Either family (IPv6 optionally in brackets). */
bool rp_addr_parse_n(const char *s, size_t n, relaypol_addr *out, rp_perr *e);
/* If a is IPv4-mapped IPv6 (::ffff:a.b.c.d), turn it into IPv4 a.b.c.d. */
void rp_addr_fold(relaypol_addr *a);
/* Whether a is IPv4-mapped IPv6.  Inline: every decision asks, about the
 * client and the local address, and nearly always the answer is no. */
static inline bool rp_addr_is_mapped(const relaypol_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0xff, 0xff};
    return a->family == RELAYPOL_AF_INET6 &&
           memcmp(a->bytes, prefix, sizeof prefix) == 0;
}
bool rp_addr_equal(const relaypol_addr *a, const relaypol_addr *b);
/* An order of relaypol_addrs, for qsort and bsearch: by family, then by
 * the family's bytes (junk after IPv4's four is ignored, as by
 * rp_addr_equal). */
int rp_addr_cmp(const void *a, const void *b);

/* ----------------------------------------------------------- netlist.c */

#define RP_NET_HOSTBITS 0x1u /* net has bits outside mask: never matches */
#define RP_NET_MAPPED 0x2u   /* written as ::ffff:a.b.c.d/…, folded to IPv4 */

/* One list entry: the seed's "(IP AND mask) == net". */
typedef struct rp_net {
    uint8_t family;     /* RELAYPOL_AF_INET or RELAYPOL_AF_INET6 */
    int16_t prefix_len; /* 0..32 / 0..128; -1 for a non-contiguous mask */
    uint8_t flags;      /* RP_NET_* */
    uint8_t net[16];
    uint8_t mask[16];
} rp_net;

/* Parse options. */
#define RP_NETP_LITERAL_MASKS 0x1u /* keep host bits (RP_NET_HOSTBITS) */

/* Parses one list entry, s[0..n) with surrounding blanks already trimmed:
 *   Net            192.168.1.17, 2001:db8::1    (host: /32 or /128)
 *   Net;mask       192.168.0.0;255.255.0.0      (the seed's registry form)
 *   Net/len        192.168.0.0/16, 2001:db8::/32
 *   Net/mask       192.168.0.0/255.255.0.0
 * Strict: addresses as relaypol_addr_parse; a length is 1-3 decimal
 * digits without sign or leading zero, within the family; a mask is a
 * dotted quad (IPv4 only).  A mask may be non-contiguous (prefix_len -1).
 * A net with bits outside its mask is an error naming the intended
 * network, unless RP_NETP_LITERAL_MASKS.  An IPv4-mapped IPv6 entry with
 * prefix >= 96 is folded to IPv4 and flagged RP_NET_MAPPED; one with a
 * shorter prefix is an error.  Returns false with *e set on error. */
bool rp_net_parse(const char *s, size_t n, unsigned opts, rp_net *out,
                  rp_perr *e);

/* True when (addr AND mask) == net; addr must already be folded. */
bool rp_net_match(const rp_net *net, const relaypol_addr *addr);

/* Writes the canonical text of the entry ("192.168.0.0/16",
 * "10.0.0.0;255.0.255.0" for non-contiguous) into buf; returns length. */
size_t rp_net_format(const rp_net *net, char *buf, size_t len);

/* ---------------------------------------------------------- cidrcheck.c */

/* Load-time cross-check of an accepted entry against libcidr (when built
 * with it): family, prefix length and network bytes must agree.  Without
 * libcidr it returns true.  Never on the decision path. */
bool rp_cidr_crosscheck(const rp_net *net, rp_perr *e);

/* What libcidr has agreed on while one file loads: prefix lengths (bit
 * L) with the mask it gave for each, and octet values per position (bit v
 * of octet k).  Zero it before the first entry. */
typedef struct rp_cidr_memo {
    uint64_t len_seen;
    uint8_t mask[33][4];
    uint64_t octet_seen[4][4];
} rp_cidr_memo;

/* rp_cidr_crosscheck, calling libcidr only for what m has not seen yet
 * (cidrcheck.c says why that is the same check). */
bool rp_cidr_crosscheck_memo(rp_cidr_memo *m, const rp_net *net, rp_perr *e);

/* -------------------------------------------------------------- netset.c */

/* A compiled set of list entries over the whole IPv4 and IPv6 address
 * space.  Each entry belongs to one of up to two lists (tag 0 or 1), so
 * that one lookup of the client answers deny and allow together. */
typedef struct rp_netset rp_netset;

/* Builds a set from nets[0..n) with list tags lists[0..n) (each 0 or 1).
 * Entries flagged RP_NET_HOSTBITS are skipped (they never match).  The
 * arrays are only read during the call.  NOMEM or OK. */
relaypol_status rp_netset_build(rp_alloc *a, const rp_net *nets,
                                const uint8_t *lists, size_t n,
                                rp_netset **out);
void rp_netset_free(rp_alloc *a, rp_netset *s);

/* The part of a set that the inline IPv4 lookup below reads; a set begins
 * with it (netset.c), so a set's address is also this struct's.  It is
 * here, and the lookup inline, because a decision or a caller's loop then
 * spends a few dozen instructions per lookup instead of a call, a frame
 * and a stored result: at a million prefixes every lookup waits for one
 * memory access, and how many of those overlap is set by how many lookups
 * fit the CPU's reorder window.  Everything else is out of line. */
typedef struct rp_netset_fast {
    const void *index;     /* SORTED: uint16_t[1 << (32 - shift)];
                              DIR: uint32_t[1 << 16] */
    const uint32_t *keys;  /* SORTED: interval starts, padded */
    const uint32_t *vals;  /* SORTED: interval values, padded */
    const uint8_t *blob;   /* DIR: buckets */
    const int32_t *tuples; /* both-list answers: [2 * (v - mixbase)] */
    const int32_t *answers; /* small mixed sets: every value's answer,
                               [2 * v] (rp_netset_answer), or NULL */
    uint32_t mixbase;      /* values >= mixbase index tuples */
    uint16_t half;         /* SORTED, win 0: 2^(steps - 1), 0 for none */
    uint8_t win;           /* SORTED: 4, 8 or 16 keys counted, or 0 */
    uint8_t mode;          /* RP_NS4_* */
    uint8_t shift;         /* SORTED: 32 - index bits */
    uint8_t mixed;         /* some value is a both-list pair */
    /* IPv6 in the DIR layout (netset.c says how it is laid out). */
    uint8_t mode6;         /* RP_NS6_* */
    uint8_t w6_skip;       /* the index is the bits after the first w6_skip: */
    uint8_t w6_ishift;     /* (hi << w6_skip) >> w6_ishift */
    uint8_t w6_kshift;     /* a 32-bit bucket key: hi >> w6_kshift */
    bool prefetch4;        /* an IPv4 lookup may miss the cache */
    const uint32_t *dir6;  /* uint32_t[1 << (64 - w6_ishift)] */
    const uint8_t *blob6;  /* buckets */
    uint64_t w6_base, w6_top; /* the window: hi & w6_top == w6_base */
    uint32_t w6_below, w6_above; /* the values outside it */
} rp_netset_fast;

#define RP_NS4_SLOW 0u   /* everything out of line (non-contiguous masks) */
#define RP_NS4_SORTED 1u /* index into one sorted array of boundaries */
#define RP_NS4_DIR 2u    /* 2^16 index, buckets, 3-byte values */
#define RP_NS6_SLOW 0u   /* flat array, or non-contiguous masks */
#define RP_NS6_DIR 1u    /* the window index and its buckets */

#define RP_NS_DIR_LEAF 0x80000000u
#define RP_NS_DIR_WIDE 0x40000000u
#define RP_NS_DIR_OFF 0x01ffffffu
#define RP_NS_NARROW_HDR 36u
#define RP_NS_DIR_GUESS_SHIFT 25u
#define RP_NS_DIR_STEPS_SHIFT 25u
/* IPv6 index entries: neither this nor RP_NS_DIR_WIDE (128-bit keys)
 * means 32-bit keys; the offset is then 24 bits. */
#define RP_NS6_K64 0x01000000u
#define RP_NS6_OFF 0x00ffffffu

/* Out of line, for rp_netset_lookup: every case the inline path leaves. */
void rp_netset_lookup_slow(const rp_netset *s, const relaypol_addr *addr,
                           int32_t out[2]);
/* The value of a DIR bucket with 16-bit keys (entry d, address x). */
uint32_t rp_netset_wide4(const rp_netset_fast *f, uint32_t d, uint32_t x);
/* The value in an IPv6 bucket that rp_netset_dir6 leaves (64- or 128-bit
 * keys, or more than 15 keys); hi is the address's first 64 bits. */
uint32_t rp_netset_bucket6(const rp_netset_fast *f, uint32_t d, uint64_t hi,
                           const uint8_t *addr);

/* Big-endian loads.  With GCC and Clang on a little-endian CPU, an
 * explicit load and byte swap: GCC recognises the shift-and-or form as
 * one only when it loads from memory, and when it can see the bytes in a
 * register (a relaypol_addr the caller has just filled in) it spells out
 * every shift instead, a third of an IPv6 lookup. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint32_t rp_ns_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
}

static inline uint64_t rp_ns_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}
#else
static inline uint32_t rp_ns_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t rp_ns_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) |
           ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}
#endif

static inline uint32_t rp_ns_popcount64(uint64_t x)
{
#if defined(__POPCNT__) || defined(__aarch64__)
    return (uint32_t)__builtin_popcountll(x);
#else
    /* Without popcnt in the target GCC calls libgcc: do it here. */
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* The interned value of IPv4 address x (host order) in the SORTED
 * layout.  keys[p..) from the address's index entry holds the region's
 * boundaries, then larger ones; the value's index is p plus the number of
 * those <= x.  A window of keys as wide as the most crowded region is
 * counted, compares that do not wait for each other; a set with more
 * crowded regions takes binary lifting, the same number of steps for
 * every region.  Either way no branch depends on the address. */
static inline uint32_t rp_netset_sorted4(const rp_netset_fast *f, uint32_t x)
{
    uint32_t p = ((const uint16_t *)f->index)[x >> f->shift];
    const uint32_t *k = f->keys + p;
    uint32_t c = 0;
    if (f->win == 4) {
        for (unsigned i = 0; i < 4; i++)
            c += k[i] <= x;
    } else if (f->win == 8) {
        for (unsigned i = 0; i < 8; i++)
            c += k[i] <= x;
    } else if (f->win == 16) {
        for (unsigned i = 0; i < 16; i++)
            c += k[i] <= x;
    } else {
        for (uint32_t st = f->half; st; st >>= 1)
            c = k[c + st - 1] <= x ? c + st : c;
    }
    return f->vals[p + c];
}

/* A bitmap bucket holds up to 257 values and its map is the first line:
 * the value a lookup needs is, more often than not, lines further on,
 * and where exactly waits for the map.  The index entry says about how
 * many values the bucket holds (bits 25-29, eighths), so the line where
 * the address's value would be if the bucket's /24s were evenly filled
 * is requested together with the map: one memory round trip for most
 * lookups instead of two in a row.  Only a prefetch: a wrong guess costs
 * the second round trip the lookup would have paid anyway.  Integer
 * arithmetic, because the guess may point past the bucket (or, for the
 * callers that do not look at the entry's kind first, anywhere near it),
 * and a C pointer may not. */
static inline void rp_ns_dir4_guess(uintptr_t b, uint32_t d, uint32_t x,
                                    uint32_t vwidth)
{
    uint32_t n = ((d >> RP_NS_DIR_GUESS_SHIFT) & 31u) * 8u + 4u;
    uint32_t j = (x >> 8) & 255u;
    /* On a BGP-like million prefixes the value is in the guessed line
     * for 80% of addresses and in the map's for another 11%.  (Asking
     * for the nearer neighbour too reaches 99%, but the extra requests
     * cost more throughput than they save latency.) */
    __builtin_prefetch(
        (const void *)(b + RP_NS_NARROW_HDR + vwidth * ((n * j) >> 8)));
}

/* The same in the DIR layout.  The only branch that depends on the
 * address (leaf or bucket) waits for the index, in L2, never for the
 * bucket; it is one test for the common bitmap bucket. */
static inline uint32_t rp_netset_dir4(const rp_netset_fast *f, uint32_t x)
{
    uint32_t d = ((const uint32_t *)f->index)[x >> 16];
    if (d & (RP_NS_DIR_LEAF | RP_NS_DIR_WIDE))
        return d & RP_NS_DIR_LEAF ? d & ~RP_NS_DIR_LEAF
                                  : rp_netset_wide4(f, d, x);
    /* Boundaries on /24 edges: a 256-bit map of them and the count before
     * each 64-bit word; the rank of the address's bit is the value's
     * index.  Values are 3 bytes, little-endian.  Such an entry is the
     * bucket's offset in 8-byte units and how many values it holds. */
    const uint8_t *b = f->blob + (size_t)(d & RP_NS_DIR_OFF) * 8u;
    rp_ns_dir4_guess((uintptr_t)b, d, x, 3u);
    uint32_t w = (x >> 14) & 3u;
    /* The bits for /24s up to the address's, shifted to the top: one
     * operation on the word once it arrives. */
    uint64_t word = ((const uint64_t *)(const void *)b)[w]
                    << (((x >> 8) & 63u) ^ 63u);
    const uint8_t *v = b + RP_NS_NARROW_HDR +
                       3u * ((b + 32)[w] + rp_ns_popcount64(word));
    /* One 4-byte load (the blob ends in 4 spare bytes), masked. */
    return ((uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
            (uint32_t)v[3] << 24) & 0xffffffu;
}

/* The number of keys <= x among the k <= 15 sorted 32-bit keys at keys
 * (followed by at least 64 - 4k readable bytes).  With SSE2 the sixteen
 * compares are independent, so a lookup waits for the bucket once instead
 * of for a chain of four dependent loads. */
static inline uint32_t rp_ns_count32(const uint32_t *keys, uint32_t k,
                                     uint32_t x)
{
#if defined(RP_SSE2)
    /* SSE2 compares signed: flip the top bit of both sides. */
    const __m128i bias = _mm_set1_epi32((int)0x80000000u);
    const __m128i xv = _mm_xor_si128(_mm_set1_epi32((int)x), bias);
    __m128i gt[4];
    for (int j = 0; j < 4; j++)
        gt[j] = _mm_cmpgt_epi32(
            _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(
                              keys + 4 * j)),
                          bias),
            xv);
    /* Bit i: key i > x.  Past the k keys the lanes are whatever follows
     * them: masked off as scalar bits, cheaper than as lanes. */
    uint32_t gtm = (uint32_t)_mm_movemask_epi8(
        _mm_packs_epi16(_mm_packs_epi32(gt[0], gt[1]),
                        _mm_packs_epi32(gt[2], gt[3])));
    uint32_t le = ~gtm & ((1u << k) - 1u);
    /* The keys <= x are a prefix: count them as the first clear bit. */
    return (uint32_t)__builtin_ctz(~le);
#else
    uint32_t c = 0;
    for (uint32_t i = 0; i < 15; i++)
        c += i < k && keys[i] <= x;
    return c;
#endif
}

/* The interned value of an IPv6 address in the DIR layout.  Outside the
 * window the answer is the first or the last interval's; inside, the
 * index entry is a leaf, or a bucket of up to 15 32-bit keys (the
 * common case, here), or one of the other buckets (out of line).  The
 * branches wait for the index entry, in L2, never for the bucket. */
static inline uint32_t rp_netset_dir6(const rp_netset_fast *f,
                                      const uint8_t *addr)
{
    uint64_t hi = rp_ns_be64(addr);
    if ((hi ^ f->w6_base) & f->w6_top)
        return hi < f->w6_base ? f->w6_below : f->w6_above;
    uint32_t d = f->dir6[(hi << f->w6_skip) >> f->w6_ishift];
    if (d & RP_NS_DIR_LEAF)
        return d & ~RP_NS_DIR_LEAF;
    if ((d & (RP_NS_DIR_WIDE | RP_NS6_K64)) ||
        (d >> RP_NS_DIR_STEPS_SHIFT) > 4u)
        return rp_netset_bucket6(f, d, hi, addr);
    const uint32_t *b = (const uint32_t *)(const void *)(f->blob6 +
                                                         (size_t)(d & RP_NS6_OFF) * 8u);
    uint32_t k = b[0];
    /* The key: the 32 bits after the index's. */
    uint32_t x = (uint32_t)(hi >> f->w6_kshift);
    return b[1u + k + rp_ns_count32(b + 1, k, x)];
}

/* Values: 0 = no entry; 2 * (idx + 1) + tag = entry idx of list tag only;
 * mixbase + t = both lists, tuples[2t], tuples[2t + 1].  Masks, not
 * branches: which list an address is in is as random as the addresses. */
static inline void rp_netset_decode(const rp_netset_fast *f, uint32_t v,
                                    int32_t out[2])
{
    uint32_t i = (v >> 1) - 1u;
    uint32_t m = 0u - (v & 1u);
    uint32_t o0 = i | m, o1 = i | ~m;
    if (f->mixed) {
        uint32_t mx = 0u - (uint32_t)(v >= f->mixbase);
        const int32_t *t = f->tuples + 2u * ((v - f->mixbase) & mx);
        o0 = ((uint32_t)t[0] & mx) | (o0 & ~mx);
        o1 = ((uint32_t)t[1] & mx) | (o1 & ~mx);
    }
    out[0] = (int32_t)o0;
    out[1] = (int32_t)o1;
}

/* The same for the small layouts.  A small set with both lists (a
 * typical policy's deny and allow lists) has every answer in a table: one
 * read from L1 in place of a dozen operations.  The big layouts decode by
 * arithmetic, without the test. */
static inline void rp_netset_answer(const rp_netset_fast *f, uint32_t v,
                                    int32_t out[2])
{
    if (f->answers) {
        out[0] = f->answers[2u * v];
        out[1] = f->answers[2u * v + 1u];
        return;
    }
    rp_netset_decode(f, v, out);
}

/* For each list tag t (0 and 1), out[t] = the index (into the build
 * arrays) of the most specific entry of that list that matches addr, or
 * -1.  Most specific: the longest prefix; a non-contiguous mask counts
 * its set bits; ties go to the lower index (earlier in the file).  addr
 * must be folded.  Never allocates; thread-safe.  Always inline: with
 * three call sites in a decision GCC makes one out-of-line copy, and the
 * call, its frame and the answer passed through memory cost 10-26 of a
 * decision's 350-570 instructions. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void rp_netset_lookup(const rp_netset *s,
                                    const relaypol_addr *addr, int32_t out[2])
{
    const rp_netset_fast *f = (const rp_netset_fast *)(const void *)s;
    /* DIR first: its lookups are the ones waiting for memory. */
    if (addr->family == RELAYPOL_AF_INET && f->mode == RP_NS4_DIR)
        rp_netset_decode(f, rp_netset_dir4(f, rp_ns_be32(addr->bytes)), out);
    else if (addr->family == RELAYPOL_AF_INET && f->mode == RP_NS4_SORTED)
        rp_netset_answer(f, rp_netset_sorted4(f, rp_ns_be32(addr->bytes)),
                         out);
    else if (addr->family == RELAYPOL_AF_INET6 && f->mode6 == RP_NS6_DIR)
        rp_netset_decode(f, rp_netset_dir6(f, addr->bytes), out);
    else
        rp_netset_lookup_slow(s, addr, out);
}

/* Requests the memory a later rp_netset_lookup of addr reads first, so
 * that its cache misses overlap other work (a decision parses the
 * recipient meanwhile).  In the DIR layout (big sets) that is the index
 * entry and then the bucket it names: the entry is loaded, not just
 * prefetched, and the bucket's prefetch waits for it out of order while
 * the caller goes on, instead of starting only when the lookup itself
 * runs.  No branch depends on the entry.  Writes nothing, never faults;
 * any addr is fine. */
static inline void rp_netset_prefetch(const rp_netset *s,
                                      const relaypol_addr *addr)
{
    const rp_netset_fast *f = (const rp_netset_fast *)(const void *)s;
    if (!f->prefetch4 || addr->family != RELAYPOL_AF_INET)
        return;
    uint32_t x = rp_ns_be32(addr->bytes);
    if (f->mode == RP_NS4_SORTED) {
        __builtin_prefetch((const uint16_t *)f->index + (x >> f->shift));
    } else if (f->mode == RP_NS4_DIR) {
        uint32_t d = ((const uint32_t *)f->index)[x >> 16];
        /* A leaf has no bucket: fetch the blob's first line instead (a
         * select, not a branch).  Integer arithmetic, because a prefetch
         * may point anywhere and a C pointer may not. */
        uint32_t off = d & RP_NS_DIR_LEAF ? 0u : d & RP_NS_DIR_OFF;
        uintptr_t b = (uintptr_t)f->blob + (uintptr_t)off * 8u;
        __builtin_prefetch((const void *)b);
        rp_ns_dir4_guess(b, d, x, 3u);
    }
}

/* The same answers for n addresses at once (out[i] for addrs[i]): the
 * first-level entries of a group are read and their buckets requested
 * before any is searched, so the group waits for memory about once.
 * Never allocates; thread-safe. */
void rp_netset_lookup_many(const rp_netset *s, const relaypol_addr *addrs,
                           size_t n, int32_t (*out)[2]);

/* ------------------------------------------------------------ domains.c */

/* Accepted domains: exact names and "*.name" wildcards (any name strictly
 * under name).  Case-insensitive ASCII; one trailing root dot ignored;
 * matching never crosses a label boundary. */
typedef struct rp_domains rp_domains;

/* Validates one pattern as written in the policy ("example.com",
 * "*.example.org", "Example.COM."): LDH labels of 1-63 octets, total at
 * most 253, "*." only as the whole first label. false with *e on error. */
bool rp_domain_pattern_check(const char *s, size_t n, rp_perr *e);

/* Builds the matcher from n patterns that passed rp_domain_pattern_check
 * (one that did not is skipped and matches nothing).  NOMEM or OK. */
relaypol_status rp_domains_build(rp_alloc *a, const char *const *pats,
                                 const size_t *lens, size_t n,
                                 rp_domains **out);
void rp_domains_free(rp_alloc *a, rp_domains *d);

/* The index of the pattern that accepts domain d[0..n), or -1.  An exact
 * name wins over a wildcard, a longer wildcard over a shorter one.  Never
 * allocates; thread-safe. */
int32_t rp_domains_match(const rp_domains *d, const char *s, size_t n);

/* The same for a name the recipient parser has checked: 1-253 octets of
 * dot-separated LDH labels of 1-63 octets, without the root dot.  It skips
 * the check, which the decision path does not need to pay twice. */
int32_t rp_domains_match_name(const rp_domains *d, const char *s, size_t n);

/* ---------------------------------------------------------- recipient.c */

/* A parsed recipient.  Pointers point into the input. */
typedef struct rp_rcpt {
    const char *domain;  /* final destination domain, without a trailing
                            root dot; for a literal, the text inside [] */
    size_t domain_len;
    relaypol_addr literal; /* the address of a domain literal */
    uint32_t route;       /* RELAYPOL_ROUTE_* bits */
    bool postmaster;      /* "<postmaster>" with no domain (RFC 5321 4.1.1.3) */
} rp_rcpt;

/* Parse modes. */
#define RP_RCPT_SMTP 0     /* the RCPT TO argument, RFC 5321 4.1.2 */
#define RP_RCPT_INTERNAL 1 /* Postfix internal form (RELAYPOL_REQ_RCPT_INTERNAL) */

/* Parses s[0..n) without allocating.  Returns RELAYPOL_RCPT_OK with *out
 * filled in, or the reason it is malformed (and *out all zero, route bits
 * included).  A literal's address is stored as written, not folded. */
relaypol_rcpt_error rp_rcpt_parse(const char *s, size_t n, int mode,
                                  rp_rcpt *out);

/* The same without the fast path for the common "<local@domain>" shape:
 * what rp_rcpt_parse must agree with (tests and fuzzers compare them). */
relaypol_rcpt_error rp_rcpt_parse_full(const char *s, size_t n, int mode,
                                       rp_rcpt *out);

/* ------------------------------------------------------------ policy.c */

/* Which list an entry belongs to. */
enum rp_list {
    RP_LIST_DENY = 0,   /* RelayDenyList   (tag 0 of the client set) */
    RP_LIST_ALLOW = 1,  /* RelayAllowList  (tag 1 of the client set) */
    RP_LIST_LOCAL = 2,  /* RelayLocalIPList (the local-address set) */
    RP_LIST_SUBMIT = 3, /* SubmitAllowList (who may submit when restricted) */
    RP_LIST_COUNT = 4
};

/* Who may submit mail for the accepted domains (seed 003). */
enum rp_submission {
    RP_SUBMIT_ANYONE = 0,     /* an Internet-facing gateway */
    RP_SUBMIT_RESTRICTED = 1, /* SubmitAllowList hosts and permitted users */
    RP_SUBMIT_NONE = 2        /* nobody over SMTP */
};

enum rp_role { RP_ROLE_NONE = 0, RP_ROLE_GATEWAY, RP_ROLE_MAILBOX,
               RP_ROLE_FRONTEND, RP_ROLE_ALL_IN_ONE };

/* One list entry as loaded: the parsed net plus where it came from. */
typedef struct rp_entry {
    rp_net net;
    uint32_t line, column;
    uint32_t text;  /* offset of its text as written in the string pool */
    uint8_t list;   /* enum rp_list */
} rp_entry;

/* The part of an entry a decision reports. */
typedef struct rp_hit {
    uint32_t text; /* pool offset of the entry as written */
    uint32_t line;
} rp_hit;

/* A user permitted to relay when authenticated, and the RelayUsers token
 * ("alice" or "@staff") that admitted it. */
typedef struct rp_user {
    uint32_t name;   /* offset in the string pool */
    uint32_t len;
    uint32_t token;  /* index into tokens */
} rp_user;

typedef struct rp_token {
    uint32_t text;   /* offset in the string pool */
    uint32_t line, column;
} rp_token;

/* A load-time finding kept for relaypol_policy_lint(). */
typedef struct rp_note {
    uint8_t severity;
    const char *code; /* static */
    uint32_t line, column;
    uint32_t msg;     /* offset in the string pool */
} rp_note;

/* Settings a line can set explicitly; a Role fills in the others. */
enum rp_setting {
    RP_SET_FLAGS = 1u << 0, RP_SET_SUBMISSION = 1u << 1,
    RP_SET_TLS = 1u << 2, RP_SET_USERS = 1u << 3, RP_SET_ROLE = 1u << 4,
    RP_SET_LITERAL = 1u << 5, RP_SET_ROUTING = 1u << 6,
    RP_SET_COMPUTERS = 1u << 7, RP_SET_AUTHRELAY = 1u << 8
};

struct relaypol_policy {
    rp_alloc alloc;          /* in_use counts everything, this struct too */
    unsigned long refs;      /* atomic; see relaypol_policy_ref */
    uint32_t relay_flags;    /* 0..15, the seed's RelayFlags */
    uint32_t allow_routing;  /* RELAYPOL_ROUTE_* forms trusted as local */
    uint32_t explicit_set;   /* enum rp_setting bits set by a line */
    uint8_t submission;      /* enum rp_submission */
    uint8_t role;            /* enum rp_role */
    bool auth_requires_tls;
    bool users_restricted;   /* a RelayUsers line exists (maybe empty) */
    bool literal_masks;
    uint32_t flags_line, role_line, users_line, routing_line, tls_line,
        submission_line;

    rp_entry *entries; size_t n_entries, cap_entries;
    /* Per set, what a decision reports for each build position.  Copied
     * out of the entries so that a hit costs one more memory access, not
     * two: on a list of a million networks each is a cache miss. */
    rp_hit *client_hit; size_t n_client; /* deny + allow, tags 0/1 */
    rp_hit *local_hit; size_t n_local;
    rp_hit *submit_hit; size_t n_submit;
    rp_netset *client_set, *local_set, *submit_set;

    rp_domains *domains;
    uint32_t *domain_text; size_t n_domains, cap_domains; /* pool offsets */
    uint32_t *domain_line; size_t cap_domain_line;

    rp_token *tokens; size_t n_tokens, cap_tokens; /* RelayUsers tokens */
    rp_user *users; size_t n_users, cap_users;     /* by length, then name */

    relaypol_addr *server_addrs; size_t n_server_addrs, cap_server_addrs;

    rp_note *notes; size_t n_notes, cap_notes;

    char *pool; size_t pool_len, pool_cap;
    char source[RELAYPOL_ERROR_TEXT_MAX];
};

static inline const char *rp_str(const relaypol_policy *p, uint32_t off)
{
    return p->pool + off;
}

/* What a set's build position pos (>= 0) reports: the entry's text and
 * line.  The deny and allow lists share the client set. */
static inline const rp_hit *rp_policy_hit(const relaypol_policy *p,
                                          enum rp_list list, int32_t pos)
{
    const rp_hit *h = list == RP_LIST_LOCAL    ? p->local_hit
                      : list == RP_LIST_SUBMIT ? p->submit_hit
                                               : p->client_hit;
    return &h[pos];
}

#endif /* RELAYPOL_INTERNAL_H */
