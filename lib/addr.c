/*
 * Strict textual IP addresses, written by hand: firmware builds have no
 * inet_pton, and a relay policy must not inherit the C library's
 * tolerance of shorthand ("10.1"), octal ("010.0.0.1") or hex.  The
 * grammar accepted is exactly inet_pton's (AF_INET / AF_INET6); the
 * tests hold the two side by side.  Also the canonical output (RFC 5952)
 * and the folding of IPv4-mapped addresses.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "binding.h"
#include "internal.h"

/* Longest text relaypol_addr_parse() looks at: "[" + 45 + "]".  Anything
 * longer is not an address, so there is no need to scan it all. */
#define ADDR_TEXT_MAX 47

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Says why character s[i] cannot appear where it is.  The common
 * mistakes (a zone, a prefix, a port, a space) get a message that names
 * the mistake rather than just the byte. */
static void bad_char(rp_perr *e, const char *s, size_t i, const char *what)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '%')
        rp_perr_set(e, i, "zone ids ('%%...') are not accepted in %s", what);
    else if (c == '/')
        rp_perr_set(e, i, "unexpected '/' in %s: a prefix length is not "
                          "part of an address", what);
    else if (c == ' ')
        rp_perr_set(e, i, "unexpected space in %s", what);
    else if (c < 0x20 || c >= 0x7f)
        rp_perr_set(e, i, "unexpected byte 0x%02x in %s", c, what);
    else
        rp_perr_set(e, i, "unexpected character '%c' in %s", c, what);
}

bool rp_parse_ipv4(const char *s, size_t n, uint8_t out[4], rp_perr *e)
{
    static const char what[] = "an IPv4 address";
    uint8_t tmp[4];
    size_t i = 0;

    if (n == 0) {
        rp_perr_set(e, 0, "empty IPv4 address");
        return false;
    }
    for (int oct = 0; oct < 4; oct++) {
        if (oct > 0) {
            if (i >= n) {
                /* inet_aton would read "10.1" as 10.0.0.1; a policy
                 * author who wrote it most likely meant a network. */
                rp_perr_set(e, i,
                            "only %d of 4 octets (shorthand such as "
                            "\"10.1\" is not accepted)",
                            oct);
                return false;
            }
            if (s[i] != '.') {
                bad_char(e, s, i, what);
                return false;
            }
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i]) && i - start < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start) {
            if (i >= n || s[i] == '.')
                rp_perr_set(e, i, "octet %d is empty", oct + 1);
            else
                bad_char(e, s, i, what);
            return false;
        }
        if (i < n && is_digit(s[i])) {
            rp_perr_set(e, start, "octet %d has more than 3 digits", oct + 1);
            return false;
        }
        /* "0x0a": name the mistake; a lone trailing "0x" is just junk. */
        if (i + 1 < n && (s[i] == 'x' || s[i] == 'X') && i - start == 1 &&
            s[start] == '0' && hexval(s[i + 1]) >= 0) {
            rp_perr_set(e, start, "hex octets are not accepted");
            return false;
        }
        /* A leading zero means octal to inet_aton and decimal to others;
         * refusing it is the only reading that cannot be wrong. */
        if (i - start > 1 && s[start] == '0') {
            rp_perr_set(e, start, "octet %d has a leading zero", oct + 1);
            return false;
        }
        if (v > 255) {
            rp_perr_set(e, start, "octet %d is greater than 255", oct + 1);
            return false;
        }
        tmp[oct] = (uint8_t)v;
    }
    if (i < n) {
        if (s[i] == '.')
            rp_perr_set(e, i, "more than 4 octets");
        else
            bad_char(e, s, i, what);
        return false;
    }
    memcpy(out, tmp, 4);
    return true;
}

bool rp_parse_ipv6(const char *s, size_t n, uint8_t out[16], rp_perr *e)
{
    static const char what[] = "an IPv6 address";
    uint16_t g[8];
    int ng = 0;     /* groups stored so far */
    int gap = -1;   /* index in g where "::" stands, or -1 */
    size_t gap_col = 0;
    size_t i = 0;

    if (n == 0) {
        rp_perr_set(e, 0, "empty IPv6 address");
        return false;
    }
    if (s[0] == ':') {
        if (n < 2 || s[1] != ':') {
            rp_perr_set(e, 0, "an IPv6 address cannot start with a single ':'");
            return false;
        }
        gap = 0;
        i = 2;
    }
    while (i < n) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && hexval(s[i]) >= 0) {
            if (i - start < 4)
                v = v * 16 + (unsigned)hexval(s[i]);
            i++;
        }
        if (i < n && s[i] == '.') {
            /* RFC 4291 2.2 form 3: the last 32 bits as a dotted quad.  It
             * must be the rest of the text, so the IPv4 parser gets all
             * of it and refuses whatever follows. */
            if (ng > 6) {
                rp_perr_set(e, start, "no room for an embedded IPv4 address "
                                      "after %d groups", ng);
                return false;
            }
            uint8_t b4[4];
            if (!rp_parse_ipv4(s + start, n - start, b4, e)) {
                if (e)
                    e->col += start;
                return false;
            }
            g[ng++] = (uint16_t)(b4[0] << 8 | b4[1]);
            g[ng++] = (uint16_t)(b4[2] << 8 | b4[3]);
            i = n;
            break;
        }
        if (i == start) {
            if (s[i] == ':')
                rp_perr_set(e, i, "unexpected ':' (\":::\" is not valid)");
            else
                bad_char(e, s, i, what);
            return false;
        }
        if (i - start > 4) {
            rp_perr_set(e, start, "group %d has more than 4 hex digits",
                        ng + 1);
            return false;
        }
        if (ng == 8) {
            rp_perr_set(e, start, "more than 8 groups");
            return false;
        }
        g[ng++] = (uint16_t)v;
        if (i == n)
            break;
        if (s[i] != ':') {
            bad_char(e, s, i, what);
            return false;
        }
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0) {
                rp_perr_set(e, i - 1, "more than one '::'");
                return false;
            }
            gap = ng;
            gap_col = i - 1;
            i++;
        } else if (i == n) {
            rp_perr_set(e, i - 1, "an IPv6 address cannot end with a single "
                                  "':'");
            return false;
        }
    }
    if (gap < 0 && ng != 8) {
        rp_perr_set(e, n, "only %d of 8 groups and no '::'", ng);
        return false;
    }
    /* "::" stands for at least one zero group (RFC 4291 2.2, and what
     * inet_pton does): "1:2:3:4:5:6:7:8::" is refused. */
    if (gap >= 0 && ng > 7) {
        rp_perr_set(e, gap_col, "'::' with 8 groups already written");
        return false;
    }
    uint8_t tmp[16];
    memset(tmp, 0, sizeof tmp);
    int head = gap < 0 ? ng : gap;
    for (int k = 0; k < head; k++) {
        tmp[2 * k] = (uint8_t)(g[k] >> 8);
        tmp[2 * k + 1] = (uint8_t)g[k];
    }
    int tail = ng - head;
    for (int k = 0; k < tail; k++) {
        int dst = 8 - tail + k;
        tmp[2 * dst] = (uint8_t)(g[head + k] >> 8);
        tmp[2 * dst + 1] = (uint8_t)g[head + k];
    }
    memcpy(out, tmp, 16);
    return true;
}

/* The commonest address text, a dotted quad in canonical form (four
 * decimal octets, no leading zero, none above 255), without the general
 * parser's bookkeeping for error messages: a server parses one per
 * connection, a policy file one per line.  Anything else (and every
 * error) is left to rp_parse_ipv4 and rp_parse_ipv6; this accepts only
 * what they accept, with the same bytes (test_addr compares both with
 * inet_pton). */
static bool quad_fast(const char *s, size_t n, uint32_t *out)
{
    size_t i = 0;
    uint32_t acc = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        if (i >= n || !is_digit(s[i]))
            return false;
        unsigned v = (unsigned)(s[i++] - '0');
        /* "0" is a whole octet; "01" is the general parser's to refuse. */
        if (v != 0 && i < n && is_digit(s[i])) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            if (i < n && is_digit(s[i]))
                v = v * 10 + (unsigned)(s[i++] - '0');
        }
        if (v > 255)
            return false;
        acc = acc << 8 | v;
    }
    *out = acc;
    return i == n;
}

bool rp_addr_parse_n(const char *s, size_t n, relaypol_addr *out, rp_perr *e)
{
    uint32_t q;
    if (n >= 7 && n <= 15 && quad_fast(s, n, &q)) {
        /* Built in a register and stored straight to *out: building it
         * byte by byte on the stack and copying the struct read four
         * narrow stores back as one wide load, which stalls store
         * forwarding (it was a third of the parse). */
        memset(out, 0, sizeof *out);
        out->family = RELAYPOL_AF_INET;
        for (int k = 0; k < 4; k++)
            out->bytes[k] = (uint8_t)(q >> (24 - 8 * k));
        return true;
    }
    relaypol_addr a;
    memset(&a, 0, sizeof a);
    if (n == 0) {
        rp_perr_set(e, 0, "empty address");
        return false;
    }
    if (s[0] == '[') {
        /* Brackets as in URLs and SMTP address literals: IPv6 only, and
         * nothing may follow the closing one. */
        const char *close = memchr(s, ']', n);
        if (!close) {
            rp_perr_set(e, 0, "'[' without a closing ']'");
            return false;
        }
        size_t c = (size_t)(close - s);
        if (c + 1 != n) {
            rp_perr_set(e, c + 1, "unexpected text after ']'");
            return false;
        }
        if (!memchr(s + 1, ':', c - 1)) {
            rp_perr_set(e, 1, "brackets are only for IPv6 addresses");
            return false;
        }
        if (!rp_parse_ipv6(s + 1, c - 1, a.bytes, e)) {
            if (e)
                e->col += 1;
            return false;
        }
        a.family = RELAYPOL_AF_INET6;
    } else if (memchr(s, ':', n)) {
        if (!rp_parse_ipv6(s, n, a.bytes, e))
            return false;
        a.family = RELAYPOL_AF_INET6;
    } else {
        if (!rp_parse_ipv4(s, n, a.bytes, e))
            return false;
        a.family = RELAYPOL_AF_INET;
    }
    *out = a;
    return true;
}

/* Only ::ffff:0:0/96 is folded.  The IPv4-compatible form (::a.b.c.d),
 * NAT64's 64:ff9b::/96 and ::ffff:0:a.b.c.d (SIIT) are different
 * addresses on the wire: a dual-stack socket never reports an IPv4 client
 * that way, so folding them would let an IPv6 host pose as IPv4. */
void rp_addr_fold(relaypol_addr *a)
{
    if (!rp_addr_is_mapped(a))
        return;
    uint8_t v4[4];
    memcpy(v4, a->bytes + 12, 4);
    memset(a->bytes, 0, sizeof a->bytes);
    memcpy(a->bytes, v4, 4);
    a->family = RELAYPOL_AF_INET;
}

int rp_addr_cmp(const void *pa, const void *pb)
{
    const relaypol_addr *a = pa, *b = pb;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    size_t n = a->family == RELAYPOL_AF_INET    ? 4
               : a->family == RELAYPOL_AF_INET6 ? 16
                                                : 0;
    return n ? memcmp(a->bytes, b->bytes, n) : 0;
}

bool rp_addr_equal(const relaypol_addr *a, const relaypol_addr *b)
{
    if (a->family != b->family)
        return false;
    /* Only the bytes of the family count: an address built by hand may
     * carry junk after the 4 bytes of IPv4. */
    switch (a->family) {
    case RELAYPOL_AF_INET:
        return memcmp(a->bytes, b->bytes, 4) == 0;
    case RELAYPOL_AF_INET6:
        return memcmp(a->bytes, b->bytes, 16) == 0;
    default:
        return true;
    }
}

relaypol_status relaypol_addr_parse(const char *text, relaypol_addr *out)
{
    if (!text || !out)
        return RELAYPOL_ERR_INVALID;
    /* memchr stops at the terminator (C11 7.24.5.1), and is vectorised. */
    const char *z = memchr(text, '\0', ADDR_TEXT_MAX + 1);
    size_t n = z ? (size_t)(z - text) : ADDR_TEXT_MAX + 1;
    if (n > ADDR_TEXT_MAX)
        return RELAYPOL_ERR_ADDRESS;
    return rp_addr_parse_n(text, n, out, NULL) ? RELAYPOL_OK
                                               : RELAYPOL_ERR_ADDRESS;
}

relaypol_status rp_addr_parse_len(const char *s, size_t n, relaypol_addr *out)
{
    if (!s || !out)
        return RELAYPOL_ERR_INVALID;
    if (n > ADDR_TEXT_MAX)
        return RELAYPOL_ERR_ADDRESS;
    return rp_addr_parse_n(s, n, out, NULL) ? RELAYPOL_OK
                                            : RELAYPOL_ERR_ADDRESS;
}

relaypol_status relaypol_addr_from_bytes(const void *bytes, size_t len,
                                         relaypol_addr *out)
{
    if (!bytes || !out || (len != 4 && len != 16))
        return RELAYPOL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->family = len == 4 ? RELAYPOL_AF_INET : RELAYPOL_AF_INET6;
    memcpy(out->bytes, bytes, len);
    return RELAYPOL_OK;
}

static char *put_dec(char *p, unsigned v)
{
    if (v >= 100)
        *p++ = (char)('0' + v / 100);
    if (v >= 10)
        *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_ipv4(char *p, const uint8_t b[4])
{
    for (int k = 0; k < 4; k++) {
        if (k > 0)
            *p++ = '.';
        p = put_dec(p, b[k]);
    }
    return p;
}

/* RFC 5952 4.1: lower case, no leading zeros. */
static char *put_hex16(char *p, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;
        if (d || started || shift == 0) {
            *p++ = digits[d];
            started = true;
        }
    }
    return p;
}

static char *put_ipv6(char *p, const uint8_t b[16])
{
    relaypol_addr probe;
    probe.family = RELAYPOL_AF_INET6;
    memcpy(probe.bytes, b, 16);
    /* RFC 5952 5: mapped addresses are written with the IPv4 tail, which
     * is also how a reader recognises them in a log. */
    if (rp_addr_is_mapped(&probe)) {
        memcpy(p, "::ffff:", 7);
        return put_ipv4(p + 7, b + 12);
    }
    unsigned w[8];
    for (int k = 0; k < 8; k++)
        w[k] = (unsigned)b[2 * k] << 8 | b[2 * k + 1];
    /* RFC 5952 4.2: "::" replaces the longest run of two or more zero
     * groups, the first such run on a tie. */
    int best = -1, best_len = 0;
    for (int k = 0; k < 8;) {
        if (w[k] != 0) {
            k++;
            continue;
        }
        int run = k;
        while (k < 8 && w[k] == 0)
            k++;
        if (k - run > best_len && k - run >= 2) {
            best = run;
            best_len = k - run;
        }
    }
    for (int k = 0; k < 8;) {
        if (k == best) {
            *p++ = ':';
            *p++ = ':';
            k += best_len;
            continue;
        }
        if (k > 0 && k != best + best_len)
            *p++ = ':';
        p = put_hex16(p, w[k]);
        k++;
    }
    return p;
}

size_t relaypol_addr_format(const relaypol_addr *addr, char *buf, size_t len)
{
    char tmp[RELAYPOL_ADDR_STRLEN];
    char *end;
    if (buf && len > 0)
        buf[0] = '\0';
    if (!addr || !buf)
        return 0;
    if (addr->family == RELAYPOL_AF_INET)
        end = put_ipv4(tmp, addr->bytes);
    else if (addr->family == RELAYPOL_AF_INET6)
        end = put_ipv6(tmp, addr->bytes);
    else
        return 0;
    size_t n = (size_t)(end - tmp);
    if (n + 1 > len)
        return 0;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}
