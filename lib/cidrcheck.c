/*
 * A second opinion at load time: libcidr re-reads each accepted entry in
 * its canonical text and must agree with our parser.  libcidr is never
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
