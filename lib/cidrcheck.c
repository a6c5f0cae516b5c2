/*
 * A second opinion at load time: libcidr re-reads accepted entries in
 * their canonical text and must agree with our parser (every entry, or,
 * through rp_cidr_crosscheck_memo, every IPv4 octet value, position and
 * prefix length a file uses).  libcidr is never
 * trusted with raw policy text (see notes/libcidr.md: it reads before
 * short strings, overruns on malformed IPv6, and accepts "/-1" as /0),
 * and never runs on the decision path.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
/* libcidr.h includes <netinet/in.h>. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef RELAYPOL_HAVE_LIBCIDR
#include <libcidr.h>

/* cidr_from_str() compares the last 8 bytes of its input with ".ip6.int"
 * even when the string is shorter, so it must have readable bytes before
 * it.  Zeros there cannot match that suffix. */
#define CIDR_PAD 16

static bool compare(const rp_net *net, const CIDR *c, const char *text,
                    rp_perr *e)
{
    int want_proto = net->family == RELAYPOL_AF_INET ? CIDR_IPV4 : CIDR_IPV6;
    int proto = cidr_get_proto(c);
    if (proto != want_proto) {
        rp_perr_set(e, 0, "libcidr reads %s as protocol %d, not IPv%d", text,
                    proto, net->family);
        return false;
    }
    int pflen = cidr_get_pflen(c);
    if (pflen != net->prefix_len) {
        rp_perr_set(e, 0, "libcidr reads %s with prefix length %d, not %d",
                    text, pflen, net->prefix_len);
        return false;
    }
    /* libcidr keeps IPv4 in the last 4 of its 16 bytes. */
    unsigned nbytes = net->family == RELAYPOL_AF_INET ? 4 : 16;
    unsigned off = 16 - nbytes;
    uint8_t *addr = cidr_get_addr(c);
    uint8_t *mask = cidr_get_mask(c);
    bool ok = addr && mask && memcmp(addr + off, net->net, nbytes) == 0 &&
              memcmp(mask + off, net->mask, nbytes) == 0;
    if (!ok) {
        if (!addr || !mask)
            rp_perr_set(e, 0, "libcidr failed to report the bytes of %s",
                        text);
        else
            rp_perr_set(e, 0, "libcidr reads %s with different network or "
                              "mask bytes",
                        text);
    }
    free(addr);
    free(mask);
    return ok;
}

bool rp_cidr_crosscheck(const rp_net *net, rp_perr *e)
{
    /* libcidr has no way to say a non-contiguous mask; there is nothing
     * to compare. */
    if (net->prefix_len < 0)
        return true;
    char buf[CIDR_PAD + 64];
    memset(buf, 0, sizeof buf);
    char *text = buf + CIDR_PAD;
    if (rp_net_format(net, text, sizeof buf - CIDR_PAD) == 0) {
        rp_perr_set(e, 0, "entry cannot be formatted for the libcidr check");
        return false;
    }
    errno = 0;
    CIDR *c = cidr_from_str(text);
    if (!c) {
        /* strerror() is not thread-safe; the number is enough here. */
        rp_perr_set(e, 0, "libcidr refuses %s (errno %d)", text, errno);
        return false;
    }
    bool ok = compare(net, c, text, e);
    cidr_free(c);
    return ok;
}

#else

bool rp_cidr_crosscheck(const rp_net *net, rp_perr *e)
{
    (void)net;
    (void)e;
    return true;
}

#endif

/* The cross-check of an accepted entry, without
 * paying libcidr's ~200 ns and three allocations on every line of a list
 * of a million networks.
 *
 * What the cross-check compares is libcidr's reading of the entry's
 * canonical text with the entry.  For IPv4 that text is "a.b.c.d/L",
 * written one octet at a time (put_dec), and libcidr reads it back one
 * field at a time: each octet with strtol between the dots, the mask from
 * L alone.  So whether libcidr agrees on an IPv4 entry is decided by its
 * four (position, octet) pairs and its length, and once libcidr has agreed
 * on each of them in an earlier entry of this file, it agrees on this one.
 * Hence:
 *   - an entry with an octet value at a position, or a prefix length, not
 *     yet seen in this file gets the full check, as every entry used to;
 *   - every other entry's mask bytes are still compared with the mask
 *     libcidr produced for its length, so an entry whose mask and length
 *     disagree (the bug the check exists for) is caught on that entry;
 *   - IPv6 entries (whose text compresses zero runs across groups) and
 *     flagged ones (folded IPv4-mapped, host bits kept) are checked one by
 *     one.
 * A disagreement is reported on the same entry as before, and libcidr
 * still reads every octet value and length the file uses: at most
 * 4 * 256 + 33 calls for an IPv4 list of any length. */
bool rp_cidr_crosscheck_memo(rp_cidr_memo *m, const rp_net *net, rp_perr *pe)
{
    if (net->family != RELAYPOL_AF_INET || net->prefix_len < 0 ||
        net->flags != 0)
        return rp_cidr_crosscheck(net, pe);
    unsigned len = (unsigned)net->prefix_len;
    bool known = (m->len_seen >> len & 1) &&
                 memcmp(m->mask[len], net->mask, 4) == 0;
    for (unsigned k = 0; known && k < 4; k++) {
        unsigned v = net->net[k];
        known = m->octet_seen[k][v >> 6] >> (v & 63) & 1;
    }
    if (known)
        return true;
    if (!rp_cidr_crosscheck(net, pe))
        return false;
    if (!(m->len_seen >> len & 1)) {
        m->len_seen |= (uint64_t)1 << len;
        memcpy(m->mask[len], net->mask, 4);
    }
    for (unsigned k = 0; k < 4; k++) {
        unsigned v = net->net[k];
        m->octet_seen[k][v >> 6] |= (uint64_t)1 << (v & 63);
    }
    return true;
}
