/*
 * Exact address-range arithmetic for the review tools (cli_review.c):
 * sets of IPv4 or IPv6 addresses as sorted intervals, their union,
 * intersection and difference, the minimal CIDR blocks that cover them,
 * exact counts (up to 2^128) and the class of an address block.
 *
 * Addresses are unsigned 128-bit integers (IPv4 in the low 32 bits); a
 * set does not carry its family, so every operation that depends on the
 * width of the address space takes one (AS_V4 or AS_V6).
 *
 * Out of memory is not returned: like the rest of the tool, these
 * functions report it through cli_error() and exit with CLI_EXIT_ERROR.
 * Not thread-safe (the class tables and the universe are built on first
 * use); the CLI is single-threaded.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_ADDRSET_H
#define RELAYPOL_ADDRSET_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

__extension__ typedef unsigned __int128 as_u128;

/* Address families, as array indices. */
enum { AS_V4, AS_V6 };

/* ------------------------------------------------------------ the sets */

typedef struct as_ivl {
    as_u128 lo, hi; /* inclusive */
} as_ivl;

/* A set of addresses of one family: v[0..n) sorted, disjoint and
 * non-adjacent once normalised (as_set_norm).  Zero-initialise ({0}) for
 * the empty set; release with as_set_free.  Callers may read v and n. */
typedef struct as_set {
    as_ivl *v;
    size_t n, cap;
} as_set;

/* Appends [lo, hi]; the set is normalised again only by as_set_norm, so
 * that a union of many pieces sorts once. */
void as_set_add(as_set *s, as_u128 lo, as_u128 hi);
void as_set_norm(as_set *s);
void as_set_free(as_set *s);

/* out = a - b, out = a & b (a and b normalised; out must be neither, and
 * is overwritten but keeps its storage).  as_set_sub skips the intervals
 * of b between those of a by search, so subtracting a few pieces from a
 * large b costs about their number times log |b|, not |b|. */
void as_set_sub(const as_set *a, const as_set *b, as_set *out);
void as_set_inter(const as_set *a, const as_set *b, as_set *out);
/* a -= b, a &= b. */
void as_set_sub_inplace(as_set *a, const as_set *b);
void as_set_inter_inplace(as_set *a, const as_set *b);
/* Whether s (normalised) holds any address of [lo, hi]. */
bool as_set_hits(const as_set *s, as_u128 lo, as_u128 hi);

/* Every address a client of the family can have.  IPv4-mapped IPv6
 * clients (::ffff:0:0/96) are decided as IPv4, so that range is not part
 * of the IPv6 universe.  Borrowed, valid until the program ends. */
const as_set *as_universe(int fam);

/* ------------------------------------------------------------ entries */

/* The addresses one list entry (rp_net) matches.  Its pieces are not
 * kept: they are produced on demand (as_net_pieces), so that a policy's
 * intervals are held once, in the caller's union of a list, not again in
 * every entry. */
typedef struct as_net {
    int fam;
    bool scattered;   /* non-contiguous mask */
    bool approx;      /* not enumerated: as_net_pieces yields nothing */
    bool over_budget; /* approx only because the caller's budget ran out */
    as_u128 matches;  /* addresses the entry matches, unless matches_all */
    bool matches_all; /* all 2^128 (::/0), which matches cannot hold */
    as_u128 span_lo, span_hi; /* lowest and highest address matched */
    as_u128 net, mask; /* the entry: it matches x when x & mask == net */
    size_t npieces;   /* its intervals, 2^(free bits) for a scattered
                         mask; 0 when too scattered to count, kept when
                         over_budget (as_net_pieces yields none) */
} as_net;

/* Describes one entry.  *budget is how many intervals the caller still
 * lets scattered entries enumerate (NULL: no limit); an entry that would
 * take more is approx with over_budget set, else its pieces are taken
 * from *budget.  Entries with a contiguous mask (one interval) never
 * count.  Does not allocate. */
void as_net_build(as_net *out, const rp_net *net, size_t *budget);
/* Appends the entry's intervals to out, in increasing order, disjoint
 * and non-adjacent (so normalised if out was empty); nothing when approx. */
void as_net_pieces(const as_net *n, as_set *out);
/* Whether the entry matches an address of [lo, hi]; for an approx entry,
 * whether [lo, hi] meets its span (so it may say yes too often). */
bool as_net_touches(const as_net *n, as_u128 lo, as_u128 hi);

/* ------------------------------------------------------------ counting */

/* A count of addresses: up to 2^128, which needs one more bit. */
typedef struct as_count {
    as_u128 v;
    bool full; /* 2^128 added: v has wrapped (exactly 2^128 when v == 0) */
} as_count;

as_count as_set_count(const as_set *s);
bool as_count_zero(as_count c);
/* The /64 networks an IPv6 set touches, each counted once. */
as_u128 as_set_nets64(const as_set *s);

/* Decimal text, written at the end of buf; returns its start. */
#define AS_DEC_LEN 48
const char *as_u128_dec(as_u128 v, char buf[AS_DEC_LEN]);
const char *as_count_dec(as_count c, char buf[AS_DEC_LEN]);

/* ------------------------------------------------------------- blocks */

/* A CIDR block: lo aligned to its size, 2^(width - plen). */
typedef struct as_block {
    as_u128 lo;
    int plen;
} as_block;

as_u128 as_block_hi(const as_block *b, int fam);
as_count as_block_count(const as_block *b, int fam);

/* The minimal CIDR blocks covering a normalised set, in address order:
 *   as_cidr_iter it;
 *   as_cidr_begin(&it, s, fam);
 *   while (as_cidr_next(&it, &b)) ...
 * s must not change during the iteration. */
typedef struct as_cidr_iter {
    const as_set *s;
    int fam;
    size_t i;   /* interval */
    as_u128 lo; /* next address of it to cover */
} as_cidr_iter;

void as_cidr_begin(as_cidr_iter *it, const as_set *s, int fam);
bool as_cidr_next(as_cidr_iter *it, as_block *out);
/* How many blocks the iteration yields. */
size_t as_set_nblocks(const as_set *s, int fam);

/* "192.0.2.0/24", "2001:db8::/32" (rp_net_format); returns the length,
 * 0 when len is too small (64 always suffices). */
size_t as_block_format(const as_block *b, int fam, char *buf, size_t len);
/* An IPv4 block's netmask, "255.255.255.0". */
size_t as_block_netmask(const as_block *b, char *buf, size_t len);

/* ------------------------------------------------------------ classes */

/* RFC 6890 and friends.  "private" is what stays inside a site: RFC 1918,
 * ULA, link-local and carrier-grade NAT; "special" cannot be a client on
 * the Internet (documentation, multicast, reserved, mapped). */
enum { AS_PUBLIC, AS_LOOPBACK, AS_PRIVATE, AS_SPECIAL, AS_NCLASSES };

const char *as_class_name(int cls);
/* out = the public addresses of s. */
void as_set_public(const as_set *s, int fam, as_set *out);
/* The addresses of s in each class; the public ones also into
 * public_out (overwritten as by as_set_sub) when it is not NULL. */
void as_set_classes(const as_set *s, int fam, as_count out[AS_NCLASSES],
                    as_set *public_out);
/* The name of the one class the block's addresses belong to, or
 * "mixed". */
const char *as_block_class(const as_block *b, int fam);

#endif /* RELAYPOL_ADDRSET_H */
