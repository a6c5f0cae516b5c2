/*
 * The recipient: reads the RCPT TO argument (RFC 5321 4.1.2) or Postfix's
 * internal form the way an attacker writes it, and reports the final
 * destination domain together with every piece of routing syntax found
 * before it.
 *
 * Why this matters: for years open relays were made of servers that
 * checked the domain after the last '@' while they, or the next hop,
 * routed on something else — "user%foreign@local" (the %-hack),
 * "foreign!user@local" (UUCP bang paths), "@local:user@foreign" (source
 * routes), "\"user@foreign\"@local" (a quoted '@'), domain literals.  The
 * parser does not decide anything: it reports the route bits, and the
 * decision treats a routed recipient as a relay attempt (Postfix's
 * allow_untrusted_routing = no).
 *
 * No allocation, no global state, and no byte past s[n - 1] is ever read.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "rcpt_fast.h"

/* RFC 5321 4.5.3.1: the size limits of the parts of a path. */
#define LOCAL_MAX 64u  /* 4.5.3.1.1 local-part */
#define DOMAIN_MAX 255u /* 4.5.3.1.2 domain */
#define LABEL_MAX 63u  /* RFC 1035 2.3.4, via 4.5.3.1.2 */
/* 4.5.3.1.3: a path is at most 256 octets "including the punctuation and
 * element separators", i.e. including its angle brackets.  The text
 * between them may therefore hold 254; the bare form (no brackets) is
 * held to the same 254 so that both spellings of one address are judged
 * alike. */
#define PATH_CONTENT_MAX 254u

typedef relaypol_rcpt_error rerr;

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ldh(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-';
}

/* RFC 5322 3.2.3 atext (which RFC 5321 4.1.2 Atom refers to).  '%' and
 * '!' are legal atext: they are not errors, they are routing (below). */
static bool is_atext(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '/': case '=': case '?': case '^': case '_':
    case '`': case '{': case '|': case '}': case '~':
        return true;
    default:
        return false;
    }
}

/* The route bit a character of a local part stands for. */
static uint32_t route_bit(unsigned char c)
{
    switch (c) {
    case '%':
        return RELAYPOL_ROUTE_PERCENT; /* user%host@relay: the %-hack */
    case '!':
        return RELAYPOL_ROUTE_BANG; /* host!user@relay: a UUCP path */
    case '@':
        return RELAYPOL_ROUTE_QUOTED_AT; /* only reachable inside quotes */
    default:
        return 0;
    }
}

static bool equals_nocase(const char *s, size_t n, const char *lit)
{
    size_t k = 0;
    for (; k < n && lit[k]; k++) {
        unsigned char a = (unsigned char)s[k], b = (unsigned char)lit[k];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return k == n && lit[k] == '\0';
}

/* A domain name d[0..len) as it stood between '@' and the end of the
 * path, already known to hold only LDH characters and dots.  *name_len
 * receives its length without the one root dot RFC 1034 3.1 allows. */
static rerr check_name(const char *d, size_t len, size_t *name_len)
{
    if (len > 0 && d[len - 1] == '.')
        len--; /* "example.org." is the fully-qualified "example.org" */
    if (len > DOMAIN_MAX)
        return RELAYPOL_RCPT_DOMAIN_TOO_LONG;
    if (len == 0)
        return RELAYPOL_RCPT_EMPTY_LABEL; /* "user@." */
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && d[i] != '.')
            continue;
        size_t ll = i - label;
        if (ll == 0)
            return RELAYPOL_RCPT_EMPTY_LABEL; /* ".a", "a..b", "a.." */
        if (ll > LABEL_MAX)
            return RELAYPOL_RCPT_LABEL_TOO_LONG;
        /* RFC 5321 4.1.2 sub-domain = Let-dig [Ldh-str]: no label starts
         * or ends with '-'. */
        if (d[label] == '-' || d[i - 1] == '-')
            return RELAYPOL_RCPT_BAD_DOMAIN;
        label = i + 1;
    }
    *name_len = len;
    return RELAYPOL_RCPT_OK;
}

/* The text inside "[...]" (RFC 5321 4.1.3).  Only the two address forms
 * the RFC defines are accepted, each as strictly as inet_pton: a literal
 * is compared with the server's own addresses, so "[127.1]" or
 * "[0x7f.0.0.1]" must not be read as some address a resolver might
 * agree with.  A General-address-literal ("tag:content") names no
 * address relaypol knows and is refused. */
static rerr parse_literal(const char *t, size_t len, relaypol_addr *out)
{
    static const char tag[] = "IPv6:";
    const size_t taglen = sizeof tag - 1;
    memset(out, 0, sizeof *out);
    if (len >= taglen && equals_nocase(t, taglen, "ipv6:")) {
        if (!rp_parse_ipv6(t + taglen, len - taglen, out->bytes, NULL))
            return RELAYPOL_RCPT_BAD_LITERAL;
        out->family = RELAYPOL_AF_INET6;
        return RELAYPOL_RCPT_OK;
    }
    if (len == 0 || memchr(t, ':', len) != NULL)
        return RELAYPOL_RCPT_BAD_LITERAL;
    if (!rp_parse_ipv4(t, len, out->bytes, NULL))
        return RELAYPOL_RCPT_BAD_LITERAL;
    out->family = RELAYPOL_AF_INET;
    return RELAYPOL_RCPT_OK;
}

/* The parsing state of one SMTP-form path. */
typedef struct cur {
    const char *s;
    size_t n;
    size_t i;       /* next byte to read */
    bool bracketed; /* the path opened with '<' */
    bool internal;  /* Postfix's internal form: the input is the path */
} cur;

/* Whether the byte at c->i ends the path: '>' inside brackets; a space
 * or the end of the input without them; only the end in internal form. */
static bool at_path_end(const cur *c)
{
    if (c->internal)
        return c->i == c->n;
    if (c->bracketed)
        return c->i < c->n && c->s[c->i] == '>';
    return c->i == c->n || c->s[c->i] == ' ';
}

/* An unexpected byte (or the end) at c->i, inside the part `where`. */
static rerr unexpected(const cur *c, rerr where)
{
    if (c->internal)
        return where;
    if (c->i == c->n)
        return c->bracketed ? RELAYPOL_RCPT_UNBALANCED_BRACKET : where;
    unsigned char ch = (unsigned char)c->s[c->i];
    if (ch == '<' || ch == '>')
        return RELAYPOL_RCPT_UNBALANCED_BRACKET;
    return where;
}

/* RFC 5321 4.1.2 A-d-l = At-domain *( "," At-domain ), followed by ":".
 * RFC 5321 3.6.1 and appendix C tell a server to ignore a source route
 * and deliver to the mailbox after it; the route is still routing syntax
 * a next hop may honour, hence ROUTE_SOURCE.  Only domain names may be
 * hops (At-domain = "@" Domain); anything else is BAD_ROUTE. */
static rerr parse_route(cur *c)
{
    for (;;) {
        if (c->i == c->n || c->s[c->i] != '@')
            return RELAYPOL_RCPT_BAD_ROUTE;
        c->i++;
        size_t start = c->i;
        while (c->i < c->n &&
               (is_ldh((unsigned char)c->s[c->i]) || c->s[c->i] == '.'))
            c->i++;
        size_t name_len;
        if (c->i == start ||
            check_name(c->s + start, c->i - start, &name_len) !=
                RELAYPOL_RCPT_OK)
            return RELAYPOL_RCPT_BAD_ROUTE;
        if (c->i == c->n)
            return RELAYPOL_RCPT_BAD_ROUTE;
        if (c->s[c->i] == ':') {
            c->i++;
            return RELAYPOL_RCPT_OK;
        }
        if (c->s[c->i] != ',')
            return RELAYPOL_RCPT_BAD_ROUTE;
        c->i++;
    }
}

/* RFC 5321 4.1.2 Quoted-string = DQUOTE *QcontentSMTP DQUOTE, with
 * quoted-pairSMTP = "\" %d32-126.  The caller has made sure that every
 * byte is printable ASCII, so qtextSMTP is "anything but '"' and '\'".
 * Whatever a quote hides still reaches the next hop's resolver, so an
 * '@', '%' or '!' inside it (escaped or not) is routing. */
static rerr parse_quoted(cur *c, uint32_t *route)
{
    c->i++; /* the opening quote */
    for (;;) {
        if (c->i == c->n)
            return RELAYPOL_RCPT_UNBALANCED_QUOTE;
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch == '"') {
            c->i++;
            return RELAYPOL_RCPT_OK;
        }
        if (ch == '\\') {
            if (c->i + 1 == c->n)
                return RELAYPOL_RCPT_UNBALANCED_QUOTE;
            ch = (unsigned char)c->s[c->i + 1];
            c->i++;
        }
        *route |= route_bit(ch);
        c->i++;
    }
}

/* RFC 5321 4.1.2 Dot-string = Atom *("." Atom).  Stops at the first byte
 * that is neither atext nor '.'; that byte is the caller's business. */
static rerr parse_dot_string(cur *c, uint32_t *route)
{
    size_t start = c->i;
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch != '.' && !is_atext(ch))
            break;
        *route |= route_bit(ch);
        c->i++;
    }
    const char *p = c->s + start;
    size_t len = c->i - start;
    /* No empty atom: ".a", "a..b" and "a." are not Dot-strings (RFC 5322
     * obs-local-part allowed some of them; RFC 5321 does not). */
    for (size_t k = 0; k < len; k++) {
        if (p[k] != '.')
            continue;
        if (k == 0 || k + 1 == len || p[k + 1] == '.')
            return RELAYPOL_RCPT_BAD_LOCAL_PART;
    }
    return RELAYPOL_RCPT_OK;
}

/* The Domain after '@' (c->i is just past the '@'), up to the end of the
 * path: a name or an address literal. */
static rerr parse_domain(cur *c, rp_rcpt *out)
{
    size_t start = c->i;
    if (c->i < c->n && c->s[c->i] == '[') {
        /* dcontent (4.1.3) is printable ASCII but '[', '\' and ']'. */
        c->i++;
        for (;;) {
            if (at_path_end(c))
                return RELAYPOL_RCPT_UNBALANCED_BRACKET; /* "[1.2.3.4>" */
            if (c->i == c->n)
                return RELAYPOL_RCPT_UNBALANCED_BRACKET;
            unsigned char ch = (unsigned char)c->s[c->i];
            if (ch == ']')
                break;
            if (ch == '[' || ch == '\\' || ch == ' ')
                return RELAYPOL_RCPT_BAD_LITERAL;
            c->i++;
        }
        size_t len = c->i - start - 1;
        c->i++; /* ']' */
        if (!at_path_end(c))
            return unexpected(c, RELAYPOL_RCPT_BAD_LITERAL);
        rerr r = parse_literal(c->s + start + 1, len, &out->literal);
        if (r != RELAYPOL_RCPT_OK)
            return r;
        out->domain = c->s + start + 1;
        out->domain_len = len;
        out->route |= RELAYPOL_ROUTE_LITERAL;
        return RELAYPOL_RCPT_OK;
    }
    while (c->i < c->n &&
           (is_ldh((unsigned char)c->s[c->i]) || c->s[c->i] == '.'))
        c->i++;
    if (!at_path_end(c)) {
        if (c->i < c->n && c->s[c->i] == '@')
            return RELAYPOL_RCPT_EXTRA_AT; /* user@foreign@local */
        return unexpected(c, RELAYPOL_RCPT_BAD_DOMAIN);
    }
    if (c->i == start)
        return RELAYPOL_RCPT_NO_DOMAIN; /* "user@" */
    size_t name_len = 0;
    rerr r = check_name(c->s + start, c->i - start, &name_len);
    if (r != RELAYPOL_RCPT_OK)
        return r;
    out->domain = c->s + start;
    out->domain_len = name_len;
    return RELAYPOL_RCPT_OK;
}

/* RFC 5321 4.1.2 Rcpt-parameters: SP-separated esmtp-param =
 * esmtp-keyword ["=" esmtp-value]; keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-"); value = 1*(%d33-60 / %d62-126).  relaypol does
 * not act on them (NOTIFY, ORCPT, ...), but junk after the path is a sign
 * that the path was not where this parser thinks it ends, so it is
 * refused rather than ignored.  Runs of spaces are tolerated. */
static rerr parse_params(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] != ' ')
        return RELAYPOL_RCPT_BAD_PARAMETER; /* "<a@b>x" */
    for (;;) {
        while (i < n && s[i] == ' ')
            i++;
        if (i == n)
            return RELAYPOL_RCPT_OK;
        if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]))
            return RELAYPOL_RCPT_BAD_PARAMETER;
        while (i < n && (is_ldh((unsigned char)s[i])))
            i++;
        if (i < n && s[i] == '=') {
            i++;
            size_t v = i;
            while (i < n && s[i] != ' ' && s[i] != '=')
                i++; /* the prescan left only printable ASCII */
            if (i == v)
                return RELAYPOL_RCPT_BAD_PARAMETER; /* "NOTIFY=" */
        }
        if (i < n && s[i] != ' ')
            return RELAYPOL_RCPT_BAD_PARAMETER;
    }
}

static rerr parse_smtp(const char *s, size_t n, rp_rcpt *out)
{
    cur c = {s, n, 0, false, false};
    /* RFC 5321 has no space after "TO:", but many clients send one and
     * the caller may not have removed it. */
    while (c.i < n && s[c.i] == ' ')
        c.i++;
    if (c.i == n)
        return RELAYPOL_RCPT_EMPTY;
    if (s[c.i] == '<') {
        c.bracketed = true;
        c.i++;
        if (memchr(s + c.i, '>', n - c.i) == NULL)
            return RELAYPOL_RCPT_UNBALANCED_BRACKET;
        if (s[c.i] == '>')
            return RELAYPOL_RCPT_EMPTY; /* "<>" is no recipient */
    }
    size_t path_start = c.i;

    bool routed = false;
    if (s[c.i] == '@') {
        rerr r = parse_route(&c);
        if (r != RELAYPOL_RCPT_OK)
            return r;
        out->route |= RELAYPOL_ROUTE_SOURCE;
        routed = true;
    }

    size_t local_start = c.i;
    bool quoted = c.i < n && s[c.i] == '"';
    rerr r = quoted ? parse_quoted(&c, &out->route)
                    : parse_dot_string(&c, &out->route);
    if (r != RELAYPOL_RCPT_OK)
        return r;
    size_t local_len = c.i - local_start;
    bool at = c.i < n && s[c.i] == '@';
    if (!at && !at_path_end(&c))
        return unexpected(&c, RELAYPOL_RCPT_BAD_LOCAL_PART);
    if (local_len == 0)
        return routed ? RELAYPOL_RCPT_BAD_ROUTE : RELAYPOL_RCPT_BAD_LOCAL_PART;
    if (local_len > LOCAL_MAX)
        return RELAYPOL_RCPT_LOCAL_TOO_LONG;

    if (at) {
        c.i++;
        r = parse_domain(&c, out);
        if (r != RELAYPOL_RCPT_OK)
            return r;
    } else if (!quoted && !routed &&
               equals_nocase(s + local_start, local_len, "postmaster")) {
        /* RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be
         * accepted and means this server's postmaster.  Only the plain
         * form counts; a quoted or routed one is an ordinary local part
         * without a domain. */
        out->postmaster = true;
    } else {
        return RELAYPOL_RCPT_NO_DOMAIN;
    }

    if (c.i - path_start > PATH_CONTENT_MAX)
        return RELAYPOL_RCPT_TOO_LONG;
    if (c.bracketed)
        c.i++; /* '>' */
    return parse_params(s, n, c.i);
}

/* Postfix's internal form (policy delegation's "recipient"): quotes
 * removed, source route dropped, no brackets, no parameters.  The
 * quoting that told "\"a@b\"@c" from "a@b@c" is gone, so like Postfix's
 * resolver relaypol takes the domain after the last '@' and counts every
 * '@', '%' and '!' before it as routing.  For the same reason the local
 * part may hold any printable byte: it may have been quoted. */
static rerr parse_internal(const char *s, size_t n, rp_rcpt *out)
{
    if (n == 0)
        return RELAYPOL_RCPT_EMPTY;
    size_t at = n;
    while (at > 0 && s[at - 1] != '@')
        at--;
    if (at == 0) {
        if (n <= LOCAL_MAX && equals_nocase(s, n, "postmaster")) {
            out->postmaster = true; /* RFC 5321 4.1.1.3 */
            return RELAYPOL_RCPT_OK;
        }
        return RELAYPOL_RCPT_NO_DOMAIN;
    }
    size_t local_len = at - 1;
    for (size_t k = 0; k < local_len; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch == '@')
            out->route |= RELAYPOL_ROUTE_EXTRA_AT;
        else
            out->route |= route_bit(ch);
    }
    if (local_len > LOCAL_MAX)
        return RELAYPOL_RCPT_LOCAL_TOO_LONG;

    cur c = {s, n, at, false, true};
    rerr r = parse_domain(&c, out);
    if (r != RELAYPOL_RCPT_OK)
        return r;
    if (c.i != n)
        return RELAYPOL_RCPT_BAD_DOMAIN; /* a space: no parameters here */
    if (n > PATH_CONTENT_MAX)
        return RELAYPOL_RCPT_TOO_LONG;
    return RELAYPOL_RCPT_OK;
}

relaypol_rcpt_error rp_rcpt_parse_full(const char *s, size_t n, int mode,
                                       rp_rcpt *out)
{
    memset(out, 0, sizeof *out);
    if (!s || n == 0)
        return RELAYPOL_RCPT_EMPTY;

    /* Bytes no part of an address may hold, checked over the whole input
     * (parameters too) before any parsing, so they always get their own
     * reason.  NUL and CR/LF are how truncation and command-injection
     * attacks smuggle a second meaning past a parser (RFC 5321 2.3.8,
     * 4.1.1: commands are CRLF-terminated ASCII); no production of RFC
     * 5321 4.1.2 allows any control character, not even inside quotes. */
    bool eight_bit = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return RELAYPOL_RCPT_CONTROL;
        if (ch >= 0x80)
            eight_bit = true;
    }
    /* SMTPUTF8 (RFC 6531) is not supported, so 8-bit bytes are refused
     * rather than normalised.  Without the extension RFC 5321 allows only
     * ASCII in the envelope.  Normalising (UTF-8 validation, Unicode case
     * folding, NFC, IDNA to A-labels) would need tables that must agree
     * exactly with every next hop's: wherever they differ — an overlong
     * or invalid UTF-8 sequence, a compatibility character that folds
     * onto an accepted domain, a homoglyph — relaypol would call a
     * recipient local that the MTA then routes elsewhere, which is a
     * relay.  Refusing fails closed; an administrator who needs IDNs
     * lists their A-labels, which clients must send without SMTPUTF8. */
    if (eight_bit)
        return RELAYPOL_RCPT_NON_ASCII;

    rerr r = mode == RP_RCPT_INTERNAL ? parse_internal(s, n, out)
                                      : parse_smtp(s, n, out);
    if (r != RELAYPOL_RCPT_OK)
        memset(out, 0, sizeof *out);
    return r;
}

/* ------------------------------------------------------------ fast path */

/* Byte classes of the fast path, one bit per place a byte may stand:
 *   1  SMTP local part: RFC 5322 atext and '.', less '%' and '!' (route
 *      syntax, which the full parser must see);
 *   2  internal-form local part: printable ASCII and space, less '@',
 *      '%' and '!';
 *   4  domain name: letters, digits, '-' and '.'.
 * Control and 8-bit bytes are in no class.  tests/test_recipient.c checks
 * every byte value against the full parser through the fast path. */
static const uint8_t fast_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 0, 2, 3, 3, 0, 3, 3, 2, 2, 3, 3, 2, 7, 7, 3, /* 0x20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 2, 2, 3, 2, 3, /* 0x30 */
    0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 2, 2, 3, 3, /* 0x50 */
    3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 3, 3, 3, 3, 0, /* 0x70 */
    /* 0x80-0xff: 0 */
};
#define FAST_LOCAL_SMTP 1u
#define FAST_LOCAL_INTERNAL 2u
#define FAST_DOMAIN 4u

/* Nearly every RCPT TO a server sees is "<local@domain>" (or the bare or
 * internal form) with a plain local part and a host name: no quotes, no
 * routing, no literal, no parameters.  This reads exactly that shape in
 * one pass with a table lookup per byte, and gives up (false) on anything
 * else, leaving it to the full parser.  It never rejects: every error,
 * with its precise reason, comes from the full parser.  It must accept
 * only what the full parser accepts, with the same result; the recipient
 * tests and the fuzz_recipient harness compare the two. */
static bool parse_fast(const char *s, size_t n, int mode, rp_rcpt *out)
{
    size_t i = 0, end = n;
    unsigned local_class = FAST_LOCAL_SMTP;
    if (mode == RP_RCPT_INTERNAL) {
        local_class = FAST_LOCAL_INTERNAL;
    } else if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        i = 1;
        end = n - 1;
    }
    if (end - i > PATH_CONTENT_MAX)
        return false;

    /* Local part.  In the SMTP form a Dot-string: no empty atom. */
    size_t local = i;
    bool dot = true; /* the previous byte was a dot (or there was none) */
    for (; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(fast_class[c] & local_class))
            break;
        if (local_class == FAST_LOCAL_SMTP) {
            bool d = c == '.';
            if (d && dot)
                return false;
            dot = d;
        }
    }
    if (i == end || s[i] != '@' || i == local || i - local > LOCAL_MAX ||
        (local_class == FAST_LOCAL_SMTP && dot))
        return false;

    /* Domain: LDH labels of 1-63 bytes, not starting or ending with '-',
     * and at most one root dot at the end. */
    size_t domain = ++i, label = i;
    for (; i < end; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(fast_class[c] & FAST_DOMAIN))
            return false;
        if (c == '.') {
            if (i == label || i - label > LABEL_MAX || s[label] == '-' ||
                s[i - 1] == '-')
                return false;
            label = i + 1;
        }
    }
    size_t len = end - domain;
    if (len == 0)
        return false; /* "user@" */
    if (label == end) {
        len--; /* a root dot, after a label the loop has checked */
    } else if (end - label > LABEL_MAX || s[label] == '-' ||
               s[end - 1] == '-') {
        return false;
    }
    if (len > DOMAIN_MAX)
        return false;
    out->domain = s + domain;
    out->domain_len = len;
    return true;
}


#if defined(RP_SSE2)

/* Where '_', '+' and '/' stand: atext that may stand in a local part but
 * not in a name.  Rarer, so only looked for when the path has other
 * bytes than letters, digits, '.', '-' and the '@'. */
uint64_t rp_rcpt_local_only(const char *s, size_t n, unsigned tail)
{
    uint64_t m = 0;
    for (unsigned k = 0; k < n; k += 16) {
        unsigned at = k + 16 > n ? tail : k;
        __m128i b = rp_rcpt_load(s + at);
        __m128i u = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('_')),
                         _mm_cmpeq_epi8(b, _mm_set1_epi8('+'))),
            _mm_cmpeq_epi8(b, _mm_set1_epi8('/')));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(u) << at;
    }
    return m;
}
#endif

relaypol_rcpt_error rp_rcpt_parse_rest(const char *s, size_t n, int mode,
                                       rp_rcpt *out)
{
    memset(out, 0, sizeof *out);
    if (s && n > 0 && parse_fast(s, n, mode, out))
        return RELAYPOL_RCPT_OK;
    return rp_rcpt_parse_full(s, n, mode, out);
}

relaypol_rcpt_error rp_rcpt_parse(const char *s, size_t n, int mode,
                                  rp_rcpt *out)
{
    return rp_rcpt_parse_inline(s, n, mode, out);
}
