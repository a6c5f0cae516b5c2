/*
 * fuzz_recipient: the RCPT TO argument through rp_rcpt_parse, in the SMTP
 * form and Postfix's internal form.
 *
 * Invariants of an accepted recipient:
 *   - the domain points inside the input (the parser promises pointers
 *     into it) and is 1-255 bytes, or absent exactly for <postmaster>;
 *   - a name is dot-separated LDH labels of 1-63 bytes, without the
 *     trailing root dot;
 *   - a literal lies between '[' and ']' and its text means the address
 *     the parser reports (strictly, as rp_addr_parse_n reads it);
 *   - the path inside <...> is at most 254 bytes (RFC 5321's 256 with its
 *     brackets), the internal form at most 254 bytes;
 *   - no control or 8-bit byte anywhere in an accepted input;
 *   - only known route bits; the same bytes elsewhere parse the same way;
 *   - the shortcuts for common shapes agree with the full parser.
 * A rejected one reports a known reason and leaves *out zeroed.
 *
 * Input: byte 0 bit 0 selects the internal form; the rest is the text.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *s, size_t n)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_recipient: %s for input '%.*s' (%zu bytes)\n", what,
            (int)n, s, n);
    abort();
}

static bool is_ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

#define ALL_ROUTES                                                             \
    (RELAYPOL_ROUTE_PERCENT | RELAYPOL_ROUTE_BANG | RELAYPOL_ROUTE_SOURCE |    \
     RELAYPOL_ROUTE_QUOTED_AT | RELAYPOL_ROUTE_EXTRA_AT |                      \
     RELAYPOL_ROUTE_LITERAL)

static void one(const char *s, size_t n, int mode)
{
    rp_rcpt r;
    memset(&r, 0xa5, sizeof r);
    relaypol_rcpt_error e = rp_rcpt_parse(s, n, mode, &r);
    rp_rcpt full;
    relaypol_rcpt_error ef = rp_rcpt_parse_full(s, n, mode, &full);
    check(e == ef && r.domain == full.domain &&
              r.domain_len == full.domain_len && r.route == full.route &&
              r.postmaster == full.postmaster &&
              rp_addr_equal(&r.literal, &full.literal),
          "the fast path and the full parser disagree", s, n);
    if (e != RELAYPOL_RCPT_OK) {
        check(e >= RELAYPOL_RCPT_EMPTY && e <= RELAYPOL_RCPT_EXTRA_AT,
              "unknown error", s, n);
        rp_rcpt zero;
        memset(&zero, 0, sizeof zero);
        check(r.domain == NULL && r.domain_len == 0 && r.route == 0 &&
                  !r.postmaster && r.literal.family == 0,
              "rejected recipient left a result", s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        check(c >= 0x20 && c < 0x7f, "control or 8-bit byte accepted", s, n);
    }
    check((r.route & ~(uint32_t)ALL_ROUTES) == 0, "unknown route bit", s, n);
    if (r.postmaster) {
        check(r.domain == NULL && r.domain_len == 0,
              "postmaster with a domain", s, n);
        check(r.route == 0, "routed postmaster", s, n);
        return;
    }
    check(r.domain != NULL && r.domain >= s && r.domain_len > 0 &&
              r.domain_len <= 255 && r.domain_len <= n &&
              (size_t)(r.domain - s) <= n - r.domain_len,
          "domain outside the input or too long", s, n);
    const char *d = r.domain;
    size_t dl = r.domain_len;
    if (mode == RP_RCPT_INTERNAL)
        check(n <= 254, "internal form over 254 bytes accepted", s, n);
    else if (s[0] == '<')
        check((size_t)(d + dl - (s + 1)) <= 254,
              "path over 256 bytes accepted", s, n);
    if (r.route & RELAYPOL_ROUTE_LITERAL) {
        check(d > s && d[-1] == '[' && (size_t)(d - s) + dl < n && d[dl] == ']',
              "literal not between brackets", s, n);
        check(r.literal.family == RELAYPOL_AF_INET ||
                  r.literal.family == RELAYPOL_AF_INET6,
              "literal without a family", s, n);
        const char *t = d;
        size_t tl = dl;
        if (tl >= 5 && strncasecmp(t, "IPv6:", 5) == 0) {
            t += 5;
            tl -= 5;
            check(r.literal.family == RELAYPOL_AF_INET6, "IPv6: tag not v6",
                  s, n);
        }
        relaypol_addr a;
        check(rp_addr_parse_n(t, tl, &a, NULL) && t[0] != '[',
              "literal text is no address", s, n);
        check(rp_addr_equal(&a, &r.literal), "literal parsed differently", s,
              n);
        return;
    }
    size_t label = 0;
    for (size_t i = 0; i < dl; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            check(label > 0, "empty label accepted", s, n);
            label = 0;
            continue;
        }
        check(is_ldh(c), "non-LDH byte in a domain", s, n);
        label++;
        check(label <= 63, "label over 63 bytes accepted", s, n);
    }
    check(label > 0, "empty last label (root dot kept)", s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2048)
        return 0;
    int mode = (data[0] & 1) ? RP_RCPT_INTERNAL : RP_RCPT_SMTP;
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    one(s, n, mode);
    one(s, n, mode == RP_RCPT_SMTP ? RP_RCPT_INTERNAL : RP_RCPT_SMTP);

    /* The same bytes at another address give the same answer, with the
     * domain at the same offset. */
    char *t = malloc(n + 3);
    if (t) {
        memcpy(t + 3, s, n);
        rp_rcpt a, b;
        relaypol_rcpt_error ea = rp_rcpt_parse(s, n, mode, &a);
        relaypol_rcpt_error eb = rp_rcpt_parse(t + 3, n, mode, &b);
        check(ea == eb && a.route == b.route && a.domain_len == b.domain_len &&
                  a.postmaster == b.postmaster &&
                  (a.domain ? a.domain - s : -1) ==
                      (b.domain ? b.domain - (t + 3) : -1),
              "parse depends on where the input lies", s, n);
        free(t);
    }
    free(s);
    return 0;
}
