/*
 * Exact address-range arithmetic for the review tools: interval sets over
 * the 32-bit (IPv4) and 128-bit (IPv6) address spaces, minimal CIDR
 * covers, exact counts and address classes.  See addrset.h.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "addrset.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define U128_MAX (~(as_u128)0)
/* A non-contiguous mask with more free bits than this above its lowest
 * set bit is described, not enumerated (2^16 intervals at most). */
#define MAX_FREE_BITS 16

static const int fam_bits[2] = {32, 128};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        cli_error("out of memory");
        exit(CLI_EXIT_ERROR);
    }
    return q;
}

static as_u128 low_mask(int k) /* k low bits set, 0 <= k <= 128 */
{
    return k >= 128 ? U128_MAX : (((as_u128)1 << k) - 1);
}

/* ------------------------------------------------------------ the sets */

void as_set_add(as_set *s, as_u128 lo, as_u128 hi)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].lo = lo;
    s->v[s->n].hi = hi;
    s->n++;
}

void as_set_free(as_set *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int ivl_cmp(const void *a, const void *b)
{
    const as_ivl *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void as_set_norm(as_set *s)
{
    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof *s->v, ivl_cmp);
    size_t w = 0;
    for (size_t r = 1; r < s->n; r++) {
        as_ivl *c = &s->v[w];
        /* hi + 1 would wrap at the top of the space. */
        if (c->hi == U128_MAX || s->v[r].lo <= c->hi + 1) {
            if (s->v[r].hi > c->hi)
                c->hi = s->v[r].hi;
        } else {
            s->v[++w] = s->v[r];
        }
    }
    s->n = w + 1;
}

/* The first interval of s at or after from whose hi >= lo (s->n if none;
 * the intervals before from must all end below lo).  Gallops from `from`
 * and then bisects: a walk through s that moves a few intervals at a time
 * pays for the steps, one that jumps far pays the log of the jump.  A
 * plain j++ walk made subtracting the deny list from each of N scattered
 * allow entries cost N^2 when the deny list lay below them. */
static size_t first_reaching(const as_set *s, size_t from, as_u128 lo)
{
    if (from >= s->n || s->v[from].hi >= lo)
        return from;
    size_t a = from + 1, b = from + 1, step = 1;
    while (b < s->n && s->v[b].hi < lo) { /* every one before b ends < lo */
        a = b + 1;
        step *= 2;
        b = from + step;
    }
    if (b > s->n)
        b = s->n;
    while (a < b) { /* the answer is in [a, b] */
        size_t m = a + (b - a) / 2;
        if (s->v[m].hi < lo)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

void as_set_sub(const as_set *a, const as_set *b, as_set *out)
{
    out->n = 0;
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        as_u128 lo = a->v[i].lo, hi = a->v[i].hi;
        j = first_reaching(b, j, lo);
        bool alive = true;
        for (size_t k = j; k < b->n && b->v[k].lo <= hi; k++) {
            if (b->v[k].lo > lo)
                as_set_add(out, lo, b->v[k].lo - 1);
            if (b->v[k].hi >= hi) {
                alive = false;
                break;
            }
            lo = b->v[k].hi + 1;
        }
        if (alive)
            as_set_add(out, lo, hi);
    }
}

void as_set_inter(const as_set *a, const as_set *b, as_set *out)
{
    out->n = 0;
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        as_u128 lo = a->v[i].lo > b->v[j].lo ? a->v[i].lo : b->v[j].lo;
        as_u128 hi = a->v[i].hi < b->v[j].hi ? a->v[i].hi : b->v[j].hi;
        if (lo <= hi)
            as_set_add(out, lo, hi);
        if (a->v[i].hi < b->v[j].hi)
            i++;
        else
            j++;
    }
}

void as_set_sub_inplace(as_set *a, const as_set *b)
{
    as_set t = {0};
    as_set_sub(a, b, &t);
    free(a->v);
    *a = t;
}

void as_set_inter_inplace(as_set *a, const as_set *b)
{
    as_set t = {0};
    as_set_inter(a, b, &t);
    free(a->v);
    *a = t;
}

bool as_set_hits(const as_set *s, as_u128 lo, as_u128 hi)
{
    size_t a = first_reaching(s, 0, lo);
    return a < s->n && s->v[a].lo <= hi;
}

const as_set *as_universe(int fam)
{
    static as_set universe[2];
    if (!universe[AS_V4].n) {
        as_set_add(&universe[AS_V4], 0, 0xffffffffu);
        /* ::ffff:0:0/96 is decided as IPv4: no IPv6 client has it. */
        as_u128 m = (as_u128)0xffff << 32;
        as_set_add(&universe[AS_V6], 0, m - 1);
        as_set_add(&universe[AS_V6], m + 0x100000000u, U128_MAX);
    }
    return &universe[fam];
}

/* ------------------------------------------------------------ entries */

static as_u128 bytes_val(const uint8_t *b, int fam)
{
    as_u128 v = 0;
    for (int i = 0; i < (fam == AS_V4 ? 4 : 16); i++)
        v = v << 8 | b[i];
    return v;
}

/* The positions of the mask's free bits at or above its lowest set bit
 * (those below it make each piece one block of 2^t): returns how many,
 * with t in *t. */
static int free_bits(as_u128 mask, int bits, int *t, int pos[128])
{
    int z = 0;
    *t = 0;
    while (*t < bits && !((mask >> *t) & 1))
        (*t)++;
    for (int b = *t; b < bits; b++)
        if (!((mask >> b) & 1))
            pos[z++] = b;
    return z;
}

void as_net_build(as_net *s, const rp_net *e, size_t *budget)
{
    memset(s, 0, sizeof *s);
    s->fam = e->family == RELAYPOL_AF_INET ? AS_V4 : AS_V6;
    int bits = fam_bits[s->fam];
    as_u128 net = bytes_val(e->net, s->fam), mask = bytes_val(e->mask, s->fam);
    int ones = 0;
    for (int b = 0; b < bits; b++)
        ones += (int)((mask >> b) & 1);
    s->matches_all = ones == 0 && bits == 128;
    s->matches = s->matches_all ? 0 : (as_u128)1 << (bits - ones);
    s->span_lo = net;
    s->span_hi = net | (~mask & low_mask(bits));
    s->net = net & mask;
    s->mask = mask;
    s->npieces = 1;
    if (e->prefix_len >= 0)
        return;
    s->scattered = true;
    int t, pos[128];
    int z = free_bits(mask, bits, &t, pos);
    if (z > MAX_FREE_BITS) {
        s->approx = true;
        s->npieces = 0;
        return;
    }
    s->npieces = (size_t)1 << z;
    if (budget && s->npieces > *budget) {
        s->approx = s->over_budget = true;
        return;
    }
    if (budget)
        *budget -= s->npieces;
}

void as_net_pieces(const as_net *s, as_set *out)
{
    if (s->approx)
        return;
    if (!s->scattered) {
        as_set_add(out, s->span_lo, s->span_hi);
        return;
    }
    /* Blocks of 2^t (the mask's trailing zeros), one for every value of
     * the other free bits, produced in increasing order (so already
     * normalised: a free bit above t leaves a gap of at least 2^t between
     * blocks).  (f - free) & free is the next subset of the free bits in
     * increasing order, one step per piece. */
    int t, pos[128];
    int z = free_bits(s->mask, fam_bits[s->fam], &t, pos);
    as_u128 free = 0, f = 0;
    for (int k = 0; k < z; k++)
        free |= (as_u128)1 << pos[k];
    do {
        as_u128 v = s->net | f;
        as_set_add(out, v, v | low_mask(t));
        f = (f - free) & free;
    } while (f != 0);
}

static int top_bit(as_u128 v) /* v != 0 */
{
    uint64_t h = (uint64_t)(v >> 64);
    return h ? 127 - __builtin_clzll(h) : 63 - __builtin_clzll((uint64_t)v);
}

/* The lowest address >= lo that the entry matches, computed from the mask
 * rather than from the pieces (which are not kept).  Bits above the
 * family's width count as fixed at 0.  At d, the highest fixed bit where
 * lo disagrees with the entry: if the entry has 1 there, the answer keeps
 * lo's bits above d, sets d and clears every free bit below; if it has 0,
 * lo must grow at the lowest free bit above d where lo has 0 (none: no
 * answer). */
static bool net_next(const as_net *s, as_u128 lo, as_u128 *out)
{
    as_u128 fixed = s->mask | ~low_mask(fam_bits[s->fam]);
    as_u128 diff = (lo ^ s->net) & fixed;
    if (!diff) {
        *out = lo;
        return true;
    }
    int d = top_bit(diff);
    as_u128 above = ~low_mask(d + 1);
    if ((s->net >> d) & 1) {
        *out = (lo & ~fixed & above) | s->net;
        return true;
    }
    as_u128 room = ~lo & ~fixed & above;
    if (!room)
        return false;
    as_u128 p = room & (~room + 1); /* its lowest bit */
    *out = (lo & ~fixed & ~(p | (p - 1))) | p | s->net;
    return true;
}

bool as_net_touches(const as_net *n, as_u128 lo, as_u128 hi)
{
    if (n->approx)
        return n->span_lo <= hi && n->span_hi >= lo;
    as_u128 x;
    return net_next(n, lo, &x) && x <= hi;
}

/* ------------------------------------------------------------ counting */

static void count_add(as_count *c, as_u128 lo, as_u128 hi)
{
    as_u128 n = hi - lo; /* size - 1, which cannot overflow */
    as_u128 s = c->v + n;
    bool carry = s < c->v;
    s += 1;
    if (s == 0)
        carry = true;
    c->v = s;
    if (carry)
        c->full = true;
}

as_count as_set_count(const as_set *s)
{
    as_count c = {0, false};
    for (size_t i = 0; i < s->n; i++)
        count_add(&c, s->v[i].lo, s->v[i].hi);
    return c;
}

bool as_count_zero(as_count c)
{
    return !c.full && c.v == 0;
}

as_u128 as_set_nets64(const as_set *s)
{
    as_u128 n = 0, last = 0;
    bool have = false;
    for (size_t i = 0; i < s->n; i++) {
        as_u128 a = s->v[i].lo >> 64, b = s->v[i].hi >> 64;
        n += b - a + 1;
        if (have && a == last) /* shares a /64 with the previous one */
            n--;
        last = b;
        have = true;
    }
    return n;
}

const char *as_u128_dec(as_u128 v, char buf[AS_DEC_LEN])
{
    char *p = buf + AS_DEC_LEN - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return p;
}

const char *as_count_dec(as_count c, char buf[AS_DEC_LEN])
{
    if (c.full && c.v == 0)
        return "340282366920938463463374607431768211456";
    return as_u128_dec(c.v, buf);
}

/* ------------------------------------------------------------- blocks */

as_u128 as_block_hi(const as_block *b, int fam)
{
    return b->lo | low_mask(fam_bits[fam] - b->plen);
}

as_count as_block_count(const as_block *b, int fam)
{
    as_count c = {0, false};
    count_add(&c, b->lo, as_block_hi(b, fam));
    return c;
}

void as_cidr_begin(as_cidr_iter *it, const as_set *s, int fam)
{
    it->s = s;
    it->fam = fam;
    it->i = 0;
    it->lo = s->n ? s->v[0].lo : 0;
}

/* The largest block that starts at lo (as aligned as lo is) and does not
 * run past hi. */
bool as_cidr_next(as_cidr_iter *it, as_block *out)
{
    if (it->i >= it->s->n)
        return false;
    int bits = fam_bits[it->fam];
    as_u128 lo = it->lo, hi = it->s->v[it->i].hi;
    int k = 0;
    while (k < bits && !((lo >> k) & 1))
        k++;
    while (k > 0 && lo + low_mask(k) > hi)
        k--;
    out->lo = lo;
    out->plen = bits - k;
    if (lo + low_mask(k) == hi) {
        if (++it->i < it->s->n)
            it->lo = it->s->v[it->i].lo;
    } else {
        it->lo = lo + low_mask(k) + 1;
    }
    return true;
}

size_t as_set_nblocks(const as_set *s, int fam)
{
    as_cidr_iter it;
    as_block b;
    size_t n = 0;
    as_cidr_begin(&it, s, fam);
    while (as_cidr_next(&it, &b))
        n++;
    return n;
}

size_t as_block_format(const as_block *b, int fam, char *buf, size_t len)
{
    rp_net n;
    memset(&n, 0, sizeof n);
    n.family = fam == AS_V4 ? RELAYPOL_AF_INET : RELAYPOL_AF_INET6;
    n.prefix_len = (int16_t)b->plen;
    as_u128 v = b->lo;
    for (int i = (fam == AS_V4 ? 4 : 16) - 1; i >= 0; i--) {
        n.net[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return rp_net_format(&n, buf, len);
}

size_t as_block_netmask(const as_block *b, char *buf, size_t len)
{
    uint32_t m = b->plen ? (uint32_t)(0xffffffffu << (32 - b->plen)) : 0;
    uint8_t bytes[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16),
                        (uint8_t)(m >> 8), (uint8_t)m};
    relaypol_addr a;
    if (len > 0)
        buf[0] = '\0';
    if (relaypol_addr_from_bytes(bytes, sizeof bytes, &a) != RELAYPOL_OK)
        return 0;
    return relaypol_addr_format(&a, buf, len);
}

/* ------------------------------------------------------------ classes */

static const char *const cls_name[AS_NCLASSES] = {"public", "loopback",
                                                  "private", "special"};

static const struct {
    uint8_t fam, plen, cls;
    uint64_t hi, lo; /* IPv4: the value in lo */
} cls_table[] = {
    {AS_V4, 8, AS_LOOPBACK, 0, 0x7f000000u},
    {AS_V4, 8, AS_PRIVATE, 0, 0x0a000000u},
    {AS_V4, 12, AS_PRIVATE, 0, 0xac100000u},
    {AS_V4, 16, AS_PRIVATE, 0, 0xc0a80000u},
    {AS_V4, 10, AS_PRIVATE, 0, 0x64400000u}, /* CGNAT 100.64/10 */
    {AS_V4, 16, AS_PRIVATE, 0, 0xa9fe0000u}, /* link-local */
    {AS_V4, 8, AS_SPECIAL, 0, 0x00000000u},  /* "this network" */
    {AS_V4, 24, AS_SPECIAL, 0, 0xc0000000u}, /* IETF assignments */
    {AS_V4, 24, AS_SPECIAL, 0, 0xc0000200u}, /* TEST-NET-1 */
    {AS_V4, 24, AS_SPECIAL, 0, 0xc6336400u}, /* TEST-NET-2 */
    {AS_V4, 24, AS_SPECIAL, 0, 0xcb007100u}, /* TEST-NET-3 */
    {AS_V4, 15, AS_SPECIAL, 0, 0xc6120000u}, /* benchmarking */
    {AS_V4, 4, AS_SPECIAL, 0, 0xe0000000u},  /* multicast */
    {AS_V4, 4, AS_SPECIAL, 0, 0xf0000000u},  /* reserved, broadcast */
    {AS_V6, 128, AS_LOOPBACK, 0, 1},
    {AS_V6, 7, AS_PRIVATE, 0xfc00000000000000u, 0}, /* ULA */
    {AS_V6, 10, AS_PRIVATE, 0xfe80000000000000u, 0}, /* link-local */
    {AS_V6, 128, AS_SPECIAL, 0, 0},                  /* unspecified */
    {AS_V6, 96, AS_SPECIAL, 0, 0xffff00000000u},     /* IPv4-mapped */
    {AS_V6, 64, AS_SPECIAL, 0x0100000000000000u, 0}, /* discard */
    {AS_V6, 32, AS_SPECIAL, 0x20010db800000000u, 0}, /* documentation */
    {AS_V6, 8, AS_SPECIAL, 0xff00000000000000u, 0},  /* multicast */
};

/* [fam][cls]; at AS_PUBLIC, every address that is not public. */
static const as_set *cls_sets(int fam)
{
    static as_set sets[2][AS_NCLASSES];
    static bool done;
    if (!done) {
        done = true;
        for (size_t i = 0; i < sizeof cls_table / sizeof cls_table[0]; i++) {
            int f = cls_table[i].fam;
            as_u128 lo = (as_u128)cls_table[i].hi << 64 | cls_table[i].lo;
            as_u128 hi = lo | low_mask(fam_bits[f] - cls_table[i].plen);
            as_set_add(&sets[f][cls_table[i].cls], lo, hi);
            as_set_add(&sets[f][AS_PUBLIC], lo, hi);
        }
        for (int f = 0; f < 2; f++)
            for (int c = 0; c < AS_NCLASSES; c++)
                as_set_norm(&sets[f][c]);
    }
    return sets[fam];
}

const char *as_class_name(int cls)
{
    return cls_name[cls];
}

void as_set_public(const as_set *s, int fam, as_set *out)
{
    as_set_sub(s, &cls_sets(fam)[AS_PUBLIC], out);
}

void as_set_classes(const as_set *s, int fam, as_count out[AS_NCLASSES],
                    as_set *public_out)
{
    const as_set *cls = cls_sets(fam);
    as_set t = {0};
    for (int c = 1; c < AS_NCLASSES; c++) {
        as_set_inter(s, &cls[c], &t);
        out[c] = as_set_count(&t);
    }
    as_set *pub = public_out ? public_out : &t;
    as_set_sub(s, &cls[AS_PUBLIC], pub);
    out[AS_PUBLIC] = as_set_count(pub);
    as_set_free(&t);
}

const char *as_block_class(const as_block *b, int fam)
{
    const as_set *cls = cls_sets(fam);
    as_u128 lo = b->lo, hi = as_block_hi(b, fam);
    int found = -1; /* -1 none yet, -2 more than one */
    as_set one = {0}, t = {0};
    as_set_add(&one, lo, hi);
    as_set_sub(&one, &cls[AS_PUBLIC], &t);
    if (t.n)
        found = AS_PUBLIC;
    for (int c = 1; c < AS_NCLASSES && found != -2; c++)
        if (as_set_hits(&cls[c], lo, hi))
            found = found == -1 ? c : -2;
    as_set_free(&one);
    as_set_free(&t);
    return found >= 0 ? cls_name[found] : "mixed";
}
