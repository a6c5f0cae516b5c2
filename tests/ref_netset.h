/*
 * The brute-force reference that test_netset and fuzz_netset hold the
 * compiled address sets to: the seed's formula "(IP AND mask) == net"
 * applied to every entry, with the ranking of internal.h (longest prefix,
 * a non-contiguous mask by the bits it sets, ties to the earlier entry).
 * Written out here rather than taken from netlist.c so that the two are
 * independent.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_TESTS_REF_NETSET_H
#define RELAYPOL_TESTS_REF_NETSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

static inline unsigned ref_popc8(uint8_t x)
{
    unsigned c = 0;
    for (; x; x &= (uint8_t)(x - 1))
        c++;
    return c;
}

static inline bool ref_match(const rp_net *e, const relaypol_addr *ad)
{
    if (e->family != ad->family)
        return false;
    size_t len = e->family == RELAYPOL_AF_INET ? 4 : 16;
    for (size_t i = 0; i < len; i++)
        if ((ad->bytes[i] & e->mask[i]) != e->net[i])
            return false;
    return true;
}

static inline int ref_spec(const rp_net *e)
{
    if (e->prefix_len >= 0)
        return e->prefix_len;
    int c = 0;
    for (int i = 0; i < 16; i++)
        c += (int)ref_popc8(e->mask[i]);
    return c;
}

/* out[t]: the entry of list t (lists[i] is entry i's) that wins for ad,
 * or -1; entries with host bits set never match. */
static inline void ref_lookup(const rp_net *nets, const uint8_t *lists,
                              size_t n, const relaypol_addr *ad,
                              int32_t out[2])
{
    int best[2] = {-1, -1};
    out[0] = out[1] = -1;
    for (size_t i = 0; i < n; i++) {
        if (nets[i].flags & RP_NET_HOSTBITS)
            continue;
        if (!ref_match(&nets[i], ad))
            continue;
        int t = lists[i];
        int sp = ref_spec(&nets[i]);
        if (sp > best[t]) {
            best[t] = sp;
            out[t] = (int32_t)i;
        }
    }
}

#endif
