/*
 * fuzz_netlist: one list entry (Net, Net;mask, Net/len, Net/mask) through
 * rp_net_parse in both modes.
 *
 * Invariants of an accepted entry:
 *   - family 4 or 6, prefix length within the family (or -1 only for an
 *     IPv4 non-contiguous mask), mask contiguous exactly when prefix >= 0;
 *   - without RP_NET_HOSTBITS, net has no bit outside the mask, and only
 *     literal-masks mode may set RP_NET_HOSTBITS;
 *   - its canonical text re-parses to the very same net (the policy's
 *     messages and the CLI show that text, so it must mean the same);
 *   - the net address itself matches the entry unless it can never match;
 *   - with libcidr, rp_cidr_crosscheck agrees.
 * A rejected entry names a column inside the input.
 *
 * Input: byte 0 bit 0 selects RP_NETP_LITERAL_MASKS; the rest is the entry.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *s, size_t n)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_netlist: %s for input '%.*s'\n", what, (int)n, s);
    abort();
}

static bool same_net(const rp_net *a, const rp_net *b)
{
    unsigned nb = a->family == RELAYPOL_AF_INET ? 4 : 16;
    return a->family == b->family && a->prefix_len == b->prefix_len &&
           (a->flags & RP_NET_HOSTBITS) == (b->flags & RP_NET_HOSTBITS) &&
           memcmp(a->net, b->net, nb) == 0 && memcmp(a->mask, b->mask, nb) == 0;
}

static void one(const char *s, size_t n, unsigned opts)
{
    rp_net net;
    rp_perr e;
    memset(&e, 0, sizeof e);
    if (!rp_net_parse(s, n, opts, &net, &e)) {
        check(e.col <= n, "error column past the end", s, n);
        check(e.msg[0] != '\0', "error without a message", s, n);
        return;
    }
    check(net.family == RELAYPOL_AF_INET || net.family == RELAYPOL_AF_INET6,
          "bad family", s, n);
    unsigned nb = net.family == RELAYPOL_AF_INET ? 4 : 16;
    int maxlen = (int)nb * 8;
    check(net.prefix_len >= -1 && net.prefix_len <= maxlen, "bad prefix", s,
          n);
    check(net.prefix_len >= 0 || net.family == RELAYPOL_AF_INET,
          "non-contiguous IPv6 mask", s, n);
    /* The mask agrees with the prefix length. */
    int ones = 0;
    bool contiguous = true, seen_zero = false;
    for (unsigned i = 0; i < nb * 8; i++) {
        bool bit = (net.mask[i / 8] >> (7 - i % 8)) & 1;
        if (bit) {
            ones++;
            if (seen_zero)
                contiguous = false;
        } else {
            seen_zero = true;
        }
    }
    if (net.prefix_len >= 0)
        check(contiguous && ones == net.prefix_len, "mask/prefix mismatch", s,
              n);
    else
        check(!contiguous, "prefix -1 for a contiguous mask", s, n);
    bool hostbits = false;
    for (unsigned i = 0; i < nb; i++)
        if (net.net[i] & ~net.mask[i])
            hostbits = true;
    check(hostbits == ((net.flags & RP_NET_HOSTBITS) != 0),
          "RP_NET_HOSTBITS does not describe the net", s, n);
    check(!hostbits || (opts & RP_NETP_LITERAL_MASKS),
          "host bits accepted without literal masks", s, n);
    check(!(net.flags & RP_NET_MAPPED) || net.family == RELAYPOL_AF_INET,
          "mapped entry not folded to IPv4", s, n);

    /* The canonical text means the same net. */
    char buf[128];
    size_t len = rp_net_format(&net, buf, sizeof buf);
    check(len > 0 && len == strlen(buf), "entry cannot be formatted", s, n);
    rp_net again;
    rp_perr e2;
    check(rp_net_parse(buf, len, opts, &again, &e2),
          "canonical text does not parse", s, n);
    check(same_net(&net, &again), "canonical text parses differently", s, n);
    /* Formatting is a fixed point. */
    char buf2[128];
    size_t len2 = rp_net_format(&again, buf2, sizeof buf2);
    check(len2 == len && memcmp(buf, buf2, len) == 0,
          "formatting is not stable", s, n);
    /* A too-small buffer gets 0 and an empty string, never an overflow. */
    char small[8];
    if (len + 1 > sizeof small)
        check(rp_net_format(&net, small, sizeof small) == 0 && small[0] == 0,
              "short buffer not refused", s, n);

    relaypol_addr a;
    memset(&a, 0, sizeof a);
    a.family = net.family;
    memcpy(a.bytes, net.net, nb);
    check(rp_net_match(&net, &a) == !hostbits, "net does not match itself", s,
          n);

    rp_perr ce;
    check(rp_cidr_crosscheck(&net, &ce), "libcidr disagrees", s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned mode = data[0];
    /* An exactly-sized heap copy: ASan then catches any read past it. */
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    one(s, n, (mode & 1) ? RP_NETP_LITERAL_MASKS : 0);
    /* The other mode too: strict must accept a subset of literal. */
    rp_net a, b;
    rp_perr e;
    bool strict = rp_net_parse(s, n, 0, &a, &e);
    bool literal = rp_net_parse(s, n, RP_NETP_LITERAL_MASKS, &b, &e);
    if (strict && !(literal && same_net(&a, &b)))
        check(false, "strict accepts what literal mode refuses", s, n);
    free(s);
    return 0;
}
