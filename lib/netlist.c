/*
 * One entry of a RelayDenyList / RelayAllowList / RelayLocalIPList: the
 * seed's "Net[;mask]" (Microsoft KB Q193922), matched as
 * (IP AND mask) == net, plus the CIDR forms people write today.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "internal.h"

/* The longest entry is an IPv6 address in brackets and "/128" (52
 * bytes); anything much longer is a mistake, not an entry. */
#define NET_TEXT_MAX 128

static void prefix_mask(uint8_t mask[16], unsigned nbytes, unsigned len)
{
    memset(mask, 0, 16);
    for (unsigned k = 0; k < nbytes; k++) {
        if (len >= 8) {
            mask[k] = 0xff;
            len -= 8;
        } else {
            mask[k] = (uint8_t)(0xff00u >> len);
            len = 0;
        }
    }
}

/* The prefix length of a mask, or -1 when its one bits are not all at
 * the front (legal in the seed's format, which is a plain bitwise AND). */
static int mask_prefix_len(const uint8_t *mask, unsigned nbytes)
{
    int len = 0;
    bool zero_seen = false;
    for (unsigned k = 0; k < nbytes; k++) {
        for (int bit = 7; bit >= 0; bit--) {
            if (mask[k] >> bit & 1) {
                if (zero_seen)
                    return -1;
                len++;
            } else {
                zero_seen = true;
            }
        }
    }
    return len;
}

static void addr_of(relaypol_addr *a, uint8_t family, const uint8_t b[16])
{
    memset(a, 0, sizeof *a);
    a->family = family;
    memcpy(a->bytes, b, family == RELAYPOL_AF_INET ? 4 : 16);
}

/* Parses "0".."128" strictly: a length such as "/08" or "/+8" is not
 * wrong in itself, but nothing writes it on purpose, and a lenient parser
 * is how "/-1" became /0 (match everything) in libcidr. */
static bool parse_len(const char *s, size_t at, size_t n, unsigned max,
                      unsigned *out, rp_perr *e)
{
    size_t j = at;
    if (s[j] == '-' || s[j] == '+') {
        rp_perr_set(e, j, "a prefix length has no sign");
        return false;
    }
    unsigned v = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') {
        if (j - at < 4)
            v = v * 10 + (unsigned)(s[j] - '0');
        j++;
    }
    if (j < n) {
        rp_perr_set(e, j, "unexpected character '%c' in the prefix length",
                    s[j]);
        return false;
    }
    if (j - at > 3) {
        rp_perr_set(e, at, "prefix length has more than 3 digits");
        return false;
    }
    if (j - at > 1 && s[at] == '0') {
        rp_perr_set(e, at, "prefix length has a leading zero");
        return false;
    }
    if (v > max) {
        rp_perr_set(e, at, "prefix length %u is too long for %s (at most %u)",
                    v, max == 32 ? "IPv4" : "IPv6", max);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_mask(const char *s, size_t at, size_t n, uint8_t mask[16],
                       rp_perr *e)
{
    rp_perr sub;
    memset(mask, 0, 16);
    if (!rp_parse_ipv4(s + at, n - at, mask, &sub)) {
        rp_perr_set(e, at + sub.col, "bad mask: %s", sub.msg);
        return false;
    }
    return true;
}

bool rp_net_parse(const char *s, size_t n, unsigned opts, rp_net *out,
                  rp_perr *e)
{
    if (n == 0) {
        rp_perr_set(e, 0, "empty entry");
        return false;
    }
    if (n > NET_TEXT_MAX) {
        rp_perr_set(e, NET_TEXT_MAX,
                    "entry is too long (%zu bytes; at most %d)", n,
                    NET_TEXT_MAX);
        return false;
    }
    /* Bytes that can never be part of an entry get their own message
     * first, so that a stray tab or NUL is named as what it is.  Every
     * entry of a big list is checked, so first ask only whether there is
     * such a byte (all of them are outside '!'..'~'), in a loop the
     * compiler can vectorise, and find which one only if there is. */
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (unsigned char)((unsigned char)s[i] - 0x21) >= 0x5e;
    for (size_t i = 0; bad && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) {
            rp_perr_set(e, i, "NUL byte in the entry");
            return false;
        }
        if (c < 0x20 || c == 0x7f) {
            rp_perr_set(e, i, "control byte 0x%02x in the entry", c);
            return false;
        }
        if (c == ' ') {
            rp_perr_set(e, i, "space inside the entry");
            return false;
        }
        if (c >= 0x80) {
            rp_perr_set(e, i, "non-ASCII byte 0x%02x in the entry", c);
            return false;
        }
    }

    size_t k = 0;
    while (k < n && s[k] != ';' && s[k] != '/')
        k++;
    if (k == 0) {
        rp_perr_set(e, 0, "empty network address before '%c'", s[0]);
        return false;
    }
    relaypol_addr a;
    if (!rp_addr_parse_n(s, k, &a, e))
        return false;

    unsigned nbytes = a.family == RELAYPOL_AF_INET ? 4 : 16;
    unsigned maxlen = nbytes * 8;
    uint8_t mask[16];
    unsigned len = maxlen;
    char sep = k < n ? s[k] : '\0';
    bool dotted = false;   /* the mask was written as a dotted quad */
    size_t r = k + 1;      /* where the mask or length starts */

    if (sep == '\0') {
        /* The seed: "If the mask is omitted, the default used is
         * 255.255.255.255" -- a single host. */
        prefix_mask(mask, nbytes, maxlen);
    } else {
        if (r == n) {
            rp_perr_set(e, k, "nothing after '%c'", sep);
            return false;
        }
        for (size_t j = r; j < n; j++) {
            if (s[j] == ';' || s[j] == '/') {
                rp_perr_set(e, j, "unexpected '%c' after '%c'", s[j], sep);
                return false;
            }
        }
        bool has_dot = memchr(s + r, '.', n - r) != NULL;
        if (sep == ';') {
            if (a.family == RELAYPOL_AF_INET6) {
                rp_perr_set(e, k, "';' takes an IPv4 mask; write an IPv6 "
                                  "network as address/length");
                return false;
            }
            if (!has_dot && s[r] >= '0' && s[r] <= '9') {
                rp_perr_set(e, r, "the mask after ';' is a dotted quad such "
                                  "as 255.255.255.0; write '/%.*s' for a "
                                  "prefix length",
                            (int)(n - r), s + r);
                return false;
            }
            if (!parse_mask(s, r, n, mask, e))
                return false;
            dotted = true;
        } else if (has_dot) {
            if (a.family == RELAYPOL_AF_INET6) {
                rp_perr_set(e, r, "an IPv6 network takes a prefix length "
                                  "after '/', not a mask");
                return false;
            }
            if (!parse_mask(s, r, n, mask, e))
                return false;
            dotted = true;
        } else {
            if (!parse_len(s, r, n, maxlen, &len, e))
                return false;
            prefix_mask(mask, nbytes, len);
        }
    }

    int plen = dotted ? mask_prefix_len(mask, nbytes) : (int)len;
    uint8_t flags = 0;

    if (rp_addr_is_mapped(&a) && len < 96) {
        rp_perr_set(e, sep ? r : 0,
                    "an IPv4-mapped network needs a prefix length of at "
                    "least 96 (::ffff:0:0/96 is all of IPv4); write the "
                    "IPv4 network instead");
        return false;
    }

    bool hostbits = false;
    uint8_t fixed[16];
    for (unsigned j = 0; j < nbytes; j++) {
        fixed[j] = a.bytes[j] & mask[j];
        if (fixed[j] != a.bytes[j])
            hostbits = true;
    }
    if (hostbits) {
        if (!(opts & RP_NETP_LITERAL_MASKS)) {
            /* The seed's formula makes such an entry match nothing, which
             * is never what its author meant; name the likely intent. */
            char was[RELAYPOL_ADDR_STRLEN], want[RELAYPOL_ADDR_STRLEN];
            char mtext[RELAYPOL_ADDR_STRLEN];
            relaypol_addr fa;
            addr_of(&fa, a.family, fixed);
            relaypol_addr_format(&a, was, sizeof was);
            relaypol_addr_format(&fa, want, sizeof want);
            if (dotted) {
                relaypol_addr ma;
                addr_of(&ma, RELAYPOL_AF_INET, mask);
                relaypol_addr_format(&ma, mtext, sizeof mtext);
                rp_perr_set(e, 0, "%s has bits outside mask %s; did you "
                                  "mean %s%c%s?",
                            was, mtext, want, sep, mtext);
            } else {
                rp_perr_set(e, 0, "%s has bits outside /%u; did you mean "
                                  "%s/%u?",
                            was, len, want, len);
            }
            return false;
        }
        flags |= RP_NET_HOSTBITS;
    }

    /* Written in place: assembling a local copy byte by byte and then
     * copying it whole stalled on every entry (the wide load cannot be
     * forwarded from the narrow stores). */
    memset(out, 0, sizeof *out);
    if (rp_addr_is_mapped(&a)) {
        /* Clients are folded before matching (relaypol.h: a mapped client
         * is decided as IPv4), so the entry must be IPv4 too or it would
         * never match anything. */
        out->family = RELAYPOL_AF_INET;
        out->prefix_len = (int16_t)(len - 96);
        memcpy(out->net, a.bytes + 12, 4);
        memcpy(out->mask, mask + 12, 4);
        flags |= RP_NET_MAPPED;
    } else {
        out->family = a.family;
        out->prefix_len = (int16_t)plen;
        memcpy(out->net, a.bytes, nbytes);
        memcpy(out->mask, mask, nbytes);
    }
    out->flags = flags;
    return true;
}

bool rp_net_match(const rp_net *net, const relaypol_addr *addr)
{
    if (net->family != addr->family)
        return false;
    unsigned nbytes = net->family == RELAYPOL_AF_INET ? 4 : 16;
    for (unsigned k = 0; k < nbytes; k++)
        if ((addr->bytes[k] & net->mask[k]) != net->net[k])
            return false;
    return true;
}

size_t rp_net_format(const rp_net *net, char *buf, size_t len)
{
    /* "net;mask" is at most 31 bytes, "v6/128" at most 49. */
    char tmp[RELAYPOL_ADDR_STRLEN + 8];
    relaypol_addr a;
    if (buf && len > 0)
        buf[0] = '\0';
    if (!net || !buf ||
        (net->family != RELAYPOL_AF_INET && net->family != RELAYPOL_AF_INET6))
        return 0;
    addr_of(&a, net->family, net->net);
    size_t n = relaypol_addr_format(&a, tmp, sizeof tmp);
    if (net->prefix_len < 0) {
        /* Only the seed's form can say a non-contiguous mask, and only
         * for IPv4 (the parser never builds one for IPv6). */
        relaypol_addr m;
        addr_of(&m, net->family, net->mask);
        tmp[n++] = ';';
        n += relaypol_addr_format(&m, tmp + n, sizeof tmp - n);
    } else {
        unsigned v = (unsigned)net->prefix_len;
        tmp[n++] = '/';
        if (v >= 100)
            tmp[n++] = (char)('0' + v / 100);
        if (v >= 10)
            tmp[n++] = (char)('0' + v / 10 % 10);
        tmp[n++] = (char)('0' + v % 10);
    }
    if (n + 1 > len)
        return 0;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}
