/*
 * Strict address parsing, formatting and folding (lib/addr.c).
 *
 * The hand-written parsers promise inet_pton's grammar exactly, so every
 * table string and a large number of generated strings are also given to
 * inet_pton and the verdicts (and bytes) must agree.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "binding.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* A small deterministic generator, so that failures reproduce. */
static uint64_t rng_next(uint64_t *st)
{
    /* xorshift64* */
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* inet_pton's verdict on s[0..n) for either family, with its bytes. */
static bool pton_any(const char *s, relaypol_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->bytes) == 1) {
        out->family = RELAYPOL_AF_INET;
        return true;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET6, s, out->bytes) == 1) {
        out->family = RELAYPOL_AF_INET6;
        return true;
    }
    return false;
}

static void check_agrees_with_pton(const char *s, size_t n)
{
    relaypol_addr ours, theirs;
    rp_perr e;
    bool ok = rp_addr_parse_n(s, n, &ours, &e);
    bool pok = pton_any(s, &theirs);
    ck_assert_msg(ok == pok, "\"%s\": ours %s (%s), inet_pton %s", s,
                  ok ? "accepts" : "refuses", ok ? "" : e.msg,
                  pok ? "accepts" : "refuses");
    if (ok)
        ck_assert_msg(rp_addr_equal(&ours, &theirs),
                      "\"%s\": bytes differ from inet_pton", s);
    /* The public parser and the bindings' length-taking one agree, and the
     * latter refuses a NUL inside or after the text, which the former
     * would take for the end. */
    relaypol_addr pub, len;
    relaypol_status ps = relaypol_addr_parse(s, &pub);
    ck_assert_int_eq(ps, rp_addr_parse_len(s, n, &len));
    if (ps == RELAYPOL_OK)
        ck_assert(rp_addr_equal(&pub, &len));
    char t[80];
    if (n + 5 < sizeof t) {
        memcpy(t, s, n);
        memcpy(t + n, "\0junk", 5);
        ck_assert_int_eq(rp_addr_parse_len(t, n + 1, &len),
                         RELAYPOL_ERR_ADDRESS);
        ck_assert_int_eq(rp_addr_parse_len(t, n + 5, &len),
                         RELAYPOL_ERR_ADDRESS);
    }
}

/* ------------------------------------------------------- valid inputs */

struct valid_case {
    const char *in;
    uint8_t family;
    const char *canon; /* relaypol_addr_format of the result */
};

static const struct valid_case valid_cases[] = {
    {"0.0.0.0", 4, "0.0.0.0"},
    {"255.255.255.255", 4, "255.255.255.255"},
    {"1.2.3.4", 4, "1.2.3.4"},
    {"10.0.0.1", 4, "10.0.0.1"},
    {"192.168.1.17", 4, "192.168.1.17"},
    {"100.64.0.0", 4, "100.64.0.0"},
    {"::", 6, "::"},
    {"::1", 6, "::1"},
    {"1::", 6, "1::"},
    {"::0", 6, "::"},
    {"0::0", 6, "::"},
    {"0:0:0:0:0:0:0:0", 6, "::"},
    {"1:0:0:0:0:0:0:0", 6, "1::"},
    {"2001:db8::1", 6, "2001:db8::1"},
    {"2001:DB8::AAAA", 6, "2001:db8::aaaa"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", 6, "2001:db8::1"},
    {"2001:db8:0:0:0:0:2:1", 6, "2001:db8::2:1"},
    {"2001:db8::0:1", 6, "2001:db8::1"},
    {"2001:db8:0:1:1:1:1:1", 6, "2001:db8:0:1:1:1:1:1"},
    {"2001:0:0:1:0:0:0:1", 6, "2001:0:0:1::1"},
    {"2001:db8:0:0:1:0:0:1", 6, "2001:db8::1:0:0:1"},
    {"fe80::", 6, "fe80::"},
    {"FE80::0202:B3FF:FE1E:8329", 6, "fe80::202:b3ff:fe1e:8329"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6,
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"1:2:3:4:5:6:7:8", 6, "1:2:3:4:5:6:7:8"},
    {"1:2:3:4:5:6:7::", 6, "1:2:3:4:5:6:7:0"},
    {"::2:3:4:5:6:7:8", 6, "0:2:3:4:5:6:7:8"},
    {"1::8", 6, "1::8"},
    {"0001:02:003:0004::", 6, "1:2:3:4::"},
    {"::ffff:192.0.2.1", 6, "::ffff:192.0.2.1"},
    {"::FFFF:192.0.2.1", 6, "::ffff:192.0.2.1"},
    {"::ffff:c000:201", 6, "::ffff:192.0.2.1"},
    {"0:0:0:0:0:ffff:1.2.3.4", 6, "::ffff:1.2.3.4"},
    {"::ffff:0.0.0.0", 6, "::ffff:0.0.0.0"},
    {"::192.0.2.1", 6, "::c000:201"},
    {"::ffff:0:192.0.2.1", 6, "::ffff:0:c000:201"},
    {"64:ff9b::192.0.2.1", 6, "64:ff9b::c000:201"},
    {"1:2:3:4:5:6:1.2.3.4", 6, "1:2:3:4:5:6:102:304"},
    {"1::255.255.255.255", 6, "1::ffff:ffff"},
    {"[::1]", 6, "::1"},
    {"[2001:db8::1]", 6, "2001:db8::1"},
    {"[::ffff:10.0.0.1]", 6, "::ffff:10.0.0.1"},
};

START_TEST(valid_parses)
{
    const struct valid_case *c = &valid_cases[_i];
    relaypol_addr a;
    rp_perr e;
    memset(&e, 0, sizeof e);
    ck_assert_msg(rp_addr_parse_n(c->in, strlen(c->in), &a, &e),
                  "\"%s\" refused: %s at %zu", c->in, e.msg, e.col);
    ck_assert_uint_eq(a.family, c->family);
    char buf[RELAYPOL_ADDR_STRLEN];
    size_t n = relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, c->canon);
    ck_assert_uint_eq(n, strlen(c->canon));

    /* The public wrapper agrees. */
    relaypol_addr b;
    ck_assert_int_eq(relaypol_addr_parse(c->in, &b), RELAYPOL_OK);
    ck_assert(rp_addr_equal(&a, &b));

    /* So does inet_pton, for everything it understands (no brackets). */
    if (c->in[0] != '[')
        check_agrees_with_pton(c->in, strlen(c->in));
}
END_TEST

/* ----------------------------------------------------- invalid inputs */

struct invalid_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t col;
    const char *msg; /* a substring of the message */
};

static const struct invalid_case invalid_cases[] = {
    {"", 0, 0, "empty address"},
    {"01.2.3.4", 0, 0, "octet 1 has a leading zero"},
    {"1.2.03.4", 0, 4, "octet 3 has a leading zero"},
    {"010.0.0.1", 0, 0, "octet 1 has a leading zero"},
    {"1.2.3.00", 0, 6, "octet 4 has a leading zero"},
    {"1.2.3", 0, 5, "only 3 of 4 octets"},
    {"10.1", 0, 4, "only 2 of 4 octets"},
    {"10", 0, 2, "only 1 of 4 octets"},
    {"256.0.0.1", 0, 0, "octet 1 is greater than 255"},
    {"1.2.3.999", 0, 6, "octet 4 is greater than 255"},
    {"1.2.3.4.5", 0, 7, "more than 4 octets"},
    {"1.2..4", 0, 4, "octet 3 is empty"},
    {"1.2.3.", 0, 6, "octet 4 is empty"},
    {".1.2.3", 0, 0, "octet 1 is empty"},
    {"0x0a.0.0.1", 0, 0, "hex octets are not accepted"},
    {"1.2.3.1234", 0, 6, "octet 4 has more than 3 digits"},
    {"+1.2.3.4", 0, 0, "unexpected character '+'"},
    {"1.-2.3.4", 0, 2, "unexpected character '-'"},
    {" 1.2.3.4", 0, 0, "unexpected space"},
    {"1.2.3.4 ", 0, 7, "unexpected space"},
    {"1.2.3.4/24", 0, 7, "a prefix length is not part of an address"},
    {"1.2.3.4%eth0", 0, 7, "zone ids"},
    {"1.2.3.4\n", 0, 7, "unexpected byte 0x0a"},
    {"1.2.3.4\0", 8, 7, "unexpected byte 0x00"},
    {"1.2.3.4\xff", 0, 7, "unexpected byte 0xff"},
    {"a.b.c.d", 0, 0, "unexpected character 'a'"},
    {"1:2:3:4:5:6:7:8:9", 0, 16, "more than 8 groups"},
    {"1::2::3", 0, 4, "more than one '::'"},
    {"::1::", 0, 3, "more than one '::'"},
    {"12345::", 0, 0, "group 1 has more than 4 hex digits"},
    {"1:00000::", 0, 2, "group 2 has more than 4 hex digits"},
    {"1:2:3:4:5:6:7", 0, 13, "only 7 of 8 groups and no '::'"},
    {":1::", 0, 0, "cannot start with a single ':'"},
    {":", 0, 0, "cannot start with a single ':'"},
    {"1::2:", 0, 4, "cannot end with a single ':'"},
    {"1:", 0, 1, "cannot end with a single ':'"},
    {":::", 0, 2, "\":::\" is not valid"},
    {"1:::2", 0, 3, "\":::\" is not valid"},
    {"1:2:3:4:5:6:7:8::", 0, 15, "'::' with 8 groups"},
    {"::1:2:3:4:5:6:7:8", 0, 0, "'::' with 8 groups"},
    {"fe80::1%eth0", 0, 7, "zone ids"},
    {"2001:db8::/32", 0, 10, "a prefix length is not part"},
    {"::g", 0, 2, "unexpected character 'g'"},
    {"2001:db8::1 ", 0, 11, "unexpected space"},
    {"::1.2.3", 0, 7, "only 3 of 4 octets"},
    {"::01.2.3.4", 0, 2, "octet 1 has a leading zero"},
    {"::1.2.3.4:1", 0, 9, "unexpected character ':'"},
    {"::1.2.3.4.5", 0, 9, "more than 4 octets"},
    {"1.2.3.4:25", 0, 7, "unexpected character ':'"},
    {"::ffff:1.2.3.256", 0, 13, "octet 4 is greater than 255"},
    {"1:2:3:4:5:6:7:1.2.3.4", 0, 14, "no room for an embedded IPv4"},
    {"1:2:3:4:5:6:1.2.3.4:8", 0, 19, "unexpected character ':'"},
    {"1:2:3:4:5:1.2.3.4", 0, 17, "only 7 of 8 groups"},
    {"::ffff:1a.2.3.4", 0, 8, "unexpected character 'a'"},
    {"[::1", 0, 0, "'[' without a closing ']'"},
    {"[::1]x", 0, 5, "unexpected text after ']'"},
    {"[::1]]", 0, 5, "unexpected text after ']'"},
    {"[1.2.3.4]", 0, 1, "brackets are only for IPv6"},
    {"[]", 0, 1, "brackets are only for IPv6"},
    {"[::1%lo]", 0, 4, "zone ids"},
    {"[[::1]]", 0, 6, "unexpected text after ']'"},
    {"::1]", 0, 3, "unexpected character ']'"},
};

START_TEST(invalid_refused)
{
    const struct invalid_case c = invalid_cases[_i];
    size_t n = c.len ? c.len : strlen(c.in);
    relaypol_addr a;
    memset(&a, 0x5a, sizeof a);
    rp_perr e;
    memset(&e, 0, sizeof e);
    ck_assert_msg(!rp_addr_parse_n(c.in, n, &a, &e), "\"%s\" accepted", c.in);
    ck_assert_msg(strstr(e.msg, c.msg) != NULL,
                  "\"%s\": message \"%s\" lacks \"%s\"", c.in, e.msg, c.msg);
    ck_assert_msg(e.col == c.col, "\"%s\": column %zu, expected %zu (%s)",
                  c.in, e.col, c.col, e.msg);
    /* Failure leaves the output alone. */
    for (size_t k = 0; k < sizeof a.bytes; k++)
        ck_assert_uint_eq(a.bytes[k], 0x5a);
    ck_assert_uint_eq(a.family, 0x5a);
    /* No message without an error struct either. */
    ck_assert(!rp_addr_parse_n(c.in, n, &a, NULL));

    if (c.len == 0) {
        relaypol_addr b;
        memset(&b, 0x33, sizeof b);
        ck_assert_int_eq(relaypol_addr_parse(c.in, &b), RELAYPOL_ERR_ADDRESS);
        ck_assert_uint_eq(b.family, 0x33);
        if (c.in[0] != '[')
            check_agrees_with_pton(c.in, n);
    }
}
END_TEST

/* The parsers take a length: a valid prefix of a longer buffer parses,
 * and nothing after n is read (the buffer here is not terminated). */
START_TEST(length_bounded)
{
    char buf[16];
    memcpy(buf, "10.0.0.12345678", 15);
    buf[15] = '9';
    uint8_t out4[4];
    ck_assert(rp_parse_ipv4(buf, 8, out4, NULL));
    ck_assert_uint_eq(out4[3], 1);
    ck_assert(!rp_parse_ipv4(buf, 7, out4, NULL)); /* "10.0.0." */

    memcpy(buf, "::1:2:3:4:5:6:7", 15);
    uint8_t out6[16];
    ck_assert(rp_parse_ipv6(buf, 3, out6, NULL));
    ck_assert_uint_eq(out6[15], 1);
    ck_assert(!rp_parse_ipv6(buf, 0, out6, NULL));
    ck_assert(!rp_parse_ipv4(buf, 0, out4, NULL));
}
END_TEST

/* ------------------------------------------------- generated inputs */

/* Random strings over the characters that matter to the grammar, and
 * random mutations of valid addresses: the verdict and bytes must equal
 * inet_pton's every time. */
START_TEST(random_strings_agree_with_pton)
{
    static const char alphabet[] = "0123456789abcdefABCDEF::::....x%/ g";
    uint64_t st = 0x9e3779b97f4a7c15ULL;
    char s[32];
    for (int iter = 0; iter < (int)tu_scale(300000); iter++) {
        size_t n = (size_t)(rng_next(&st) % 24);
        for (size_t k = 0; k < n; k++)
            s[k] = alphabet[rng_next(&st) % (sizeof alphabet - 1)];
        s[n] = '\0';
        check_agrees_with_pton(s, n);
    }
}
END_TEST

/* Dotted quads of every octet spelling that matters (the canonical ones
 * take a shortcut): leading zeros, 3-digit values around 255, too many
 * digits, empty octets, trailing junk. */
START_TEST(quads_agree_with_pton)
{
    static const char *const octets[] = {
        "0",   "1",   "9",   "10",  "99",  "100", "199", "200", "249",
        "250", "255", "256", "299", "300", "999", "00",  "01",  "001",
        "010", "099", "0255", "1000", "",   "0x1", "2a",  " 1", "1 ",
    };
    const size_t no = sizeof octets / sizeof octets[0];
    uint64_t st = 0x0c7e7;
    char s[64];
    for (int iter = 0; iter < (int)tu_scale(200000); iter++) {
        uint64_t r = rng_next(&st);
        int parts = (r & 7) == 0 ? 3 + (int)((r >> 3) & 3) : 4;
        size_t n = 0;
        for (int k = 0; k < parts; k++) {
            const char *o = k < 4 && (r >> (8 + 2 * k)) % 4 ? octets[(r >> (16 + 8 * k)) % 11]
                                                            : octets[(r >> (16 + 8 * k)) % no];
            n += (size_t)snprintf(s + n, sizeof s - n, "%s%s", k ? "." : "", o);
        }
        if ((r >> 60) == 0)
            s[n++] = '.', s[n] = '\0';
        check_agrees_with_pton(s, n);
    }
}
END_TEST

START_TEST(mutations_agree_with_pton)
{
    static const char pool[] = "0123456789abcdef:.";
    uint64_t st = 12345;
    char s[64];
    for (int iter = 0; iter < (int)tu_scale(200000); iter++) {
        const struct valid_case *c =
            &valid_cases[rng_next(&st) % (sizeof valid_cases /
                                          sizeof valid_cases[0])];
        if (c->in[0] == '[')
            continue;
        size_t n = strlen(c->in);
        memcpy(s, c->in, n);
        int edits = 1 + (int)(rng_next(&st) % 3);
        for (int k = 0; k < edits; k++) {
            uint64_t r = rng_next(&st);
            size_t pos = n ? (size_t)(r >> 8) % n : 0;
            char ch = pool[(r >> 40) % (sizeof pool - 1)];
            switch (r % 3) {
            case 0: /* replace */
                if (n)
                    s[pos] = ch;
                break;
            case 1: /* insert */
                if (n + 1 < sizeof s) {
                    memmove(s + pos + 1, s + pos, n - pos);
                    s[pos] = ch;
                    n++;
                }
                break;
            default: /* delete */
                if (n) {
                    memmove(s + pos, s + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            }
        }
        s[n] = '\0';
        check_agrees_with_pton(s, n);
    }
}
END_TEST

/* A random address biased towards zero groups, so that "::" placement
 * and the RFC 5952 tie rules are exercised. */
static void random_addr(uint64_t *st, relaypol_addr *a)
{
    memset(a, 0, sizeof *a);
    uint64_t r = rng_next(st);
    if (r & 1) {
        a->family = RELAYPOL_AF_INET;
        uint64_t v = rng_next(st);
        memcpy(a->bytes, &v, 4);
        return;
    }
    a->family = RELAYPOL_AF_INET6;
    for (int g = 0; g < 8; g++) {
        uint64_t v = rng_next(st);
        if (v % 2 == 0)
            continue; /* a zero group */
        a->bytes[2 * g] = (uint8_t)(v >> 16);
        a->bytes[2 * g + 1] = (uint8_t)(v >> 24);
    }
    if (r % 7 == 0) { /* mapped */
        memset(a->bytes, 0, 10);
        a->bytes[10] = a->bytes[11] = 0xff;
    }
}

START_TEST(random_round_trip)
{
    uint64_t st = 42;
    char buf[RELAYPOL_ADDR_STRLEN];
    char ntop[INET6_ADDRSTRLEN];
    for (int iter = 0; iter < (int)tu_scale(100000); iter++) {
        relaypol_addr a, b;
        random_addr(&st, &a);
        size_t n = relaypol_addr_format(&a, buf, sizeof buf);
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(n, strlen(buf));
        rp_perr e;
        ck_assert_msg(rp_addr_parse_n(buf, n, &b, &e), "\"%s\": %s", buf,
                      e.msg);
        ck_assert_msg(rp_addr_equal(&a, &b), "\"%s\" does not round-trip",
                      buf);
        /* glibc's inet_ntop follows RFC 5952 too, except that it writes
         * IPv4-compatible addresses (::/96) with a dotted tail; RFC 5952
         * only asks that of mapped ones. */
        static const uint8_t zero12[12];
        int af = a.family == RELAYPOL_AF_INET ? AF_INET : AF_INET6;
        if (af == AF_INET6 && memcmp(a.bytes, zero12, 12) == 0)
            continue;
        ck_assert_ptr_nonnull(inet_ntop(af, a.bytes, ntop, sizeof ntop));
        ck_assert_str_eq(buf, ntop);
    }
}
END_TEST

/* ---------------------------------------------------------- formatting */

START_TEST(format_edges)
{
    relaypol_addr a;
    char buf[RELAYPOL_ADDR_STRLEN];
    ck_assert_int_eq(relaypol_addr_parse("255.255.255.255", &a), RELAYPOL_OK);
    /* Exactly enough room, then one byte short. */
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, 16), 15);
    ck_assert_str_eq(buf, "255.255.255.255");
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, 15), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, 0), 0);
    ck_assert_uint_eq(relaypol_addr_format(NULL, buf, sizeof buf), 0);

    /* The longest text fits RELAYPOL_ADDR_STRLEN. */
    ck_assert_int_eq(
        relaypol_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                            &a),
        RELAYPOL_OK);
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, sizeof buf), 39);
    ck_assert_int_eq(relaypol_addr_parse("::ffff:255.255.255.255", &a),
                     RELAYPOL_OK);
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, sizeof buf), 22);

    memset(&a, 0, sizeof a);
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, sizeof buf), 0);
    a.family = 5;
    ck_assert_uint_eq(relaypol_addr_format(&a, buf, sizeof buf), 0);
}
END_TEST

/* ------------------------------------------------------------- folding */

struct fold_case {
    const char *in;
    bool mapped;
    const char *after; /* formatted after rp_addr_fold */
};

static const struct fold_case fold_cases[] = {
    {"::ffff:1.2.3.4", true, "1.2.3.4"},
    {"::ffff:0.0.0.0", true, "0.0.0.0"},
    {"::ffff:ffff:ffff", true, "255.255.255.255"},
    /* Not mapped: different addresses on the wire. */
    {"::ffff:0:1.2.3.4", false, "::ffff:0:102:304"},
    {"64:ff9b::1.2.3.4", false, "64:ff9b::102:304"},
    {"::1.2.3.4", false, "::102:304"},
    {"::1", false, "::1"},
    {"::", false, "::"},
    {"::fffe:1.2.3.4", false, "::fffe:102:304"},
    {"1::ffff:1.2.3.4", false, "1::ffff:102:304"},
    {"1.2.3.4", false, "1.2.3.4"},
};

START_TEST(folding)
{
    const struct fold_case *c = &fold_cases[_i];
    relaypol_addr a;
    char buf[RELAYPOL_ADDR_STRLEN];
    ck_assert_int_eq(relaypol_addr_parse(c->in, &a), RELAYPOL_OK);
    ck_assert(rp_addr_is_mapped(&a) == c->mapped);
    rp_addr_fold(&a);
    ck_assert(!rp_addr_is_mapped(&a));
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, c->after);
    if (c->mapped) {
        ck_assert_uint_eq(a.family, RELAYPOL_AF_INET);
        /* Folded bytes are clean so that memcmp-style users agree. */
        for (size_t k = 4; k < sizeof a.bytes; k++)
            ck_assert_uint_eq(a.bytes[k], 0);
    }
    /* Folding twice changes nothing. */
    relaypol_addr b = a;
    rp_addr_fold(&b);
    ck_assert(rp_addr_equal(&a, &b));
}
END_TEST

START_TEST(equality)
{
    relaypol_addr a, b;
    relaypol_addr_parse("1.2.3.4", &a);
    relaypol_addr_parse("1.2.3.4", &b);
    b.bytes[10] = 0x77; /* junk past the IPv4 bytes does not count */
    ck_assert(rp_addr_equal(&a, &b));
    relaypol_addr_parse("::ffff:1.2.3.4", &b);
    ck_assert(!rp_addr_equal(&a, &b)); /* equal only once folded */
    rp_addr_fold(&b);
    ck_assert(rp_addr_equal(&a, &b));
    relaypol_addr_parse("1.2.3.5", &b);
    ck_assert(!rp_addr_equal(&a, &b));
    relaypol_addr_parse("2001:db8::1", &a);
    relaypol_addr_parse("2001:db8::2", &b);
    ck_assert(!rp_addr_equal(&a, &b));
    b.bytes[15] = 1;
    ck_assert(rp_addr_equal(&a, &b));
}
END_TEST

/* ------------------------------------------------- binary entry points */

START_TEST(from_bytes)
{
    static const uint8_t v4[4] = {192, 0, 2, 1};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    relaypol_addr a;
    char buf[RELAYPOL_ADDR_STRLEN];
    memset(&a, 0xee, sizeof a);
    ck_assert_int_eq(relaypol_addr_from_bytes(v4, 4, &a), RELAYPOL_OK);
    ck_assert_uint_eq(a.family, RELAYPOL_AF_INET);
    for (size_t k = 4; k < sizeof a.bytes; k++)
        ck_assert_uint_eq(a.bytes[k], 0);
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "192.0.2.1");
    ck_assert_int_eq(relaypol_addr_from_bytes(v6, 16, &a), RELAYPOL_OK);
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "2001:db8::1");

    ck_assert_int_eq(relaypol_addr_from_bytes(v4, 0, &a), RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_from_bytes(v4, 5, &a), RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_from_bytes(v6, 15, &a),
                     RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_from_bytes(NULL, 4, &a),
                     RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_from_bytes(v4, 4, NULL),
                     RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_parse(NULL, &a), RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_parse("1.2.3.4", NULL),
                     RELAYPOL_ERR_INVALID);
}
END_TEST

START_TEST(from_sockaddr)
{
    relaypol_addr a;
    char buf[RELAYPOL_ADDR_STRLEN];

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(25);
    ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr), 1);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, &sin, sizeof sin);
    ck_assert_int_eq(relaypol_addr_from_sockaddr((struct sockaddr *)&ss, &a),
                     RELAYPOL_OK);
    ck_assert_uint_eq(a.family, RELAYPOL_AF_INET);
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "198.51.100.7");

    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:198.51.100.7",
                               &sin6.sin6_addr),
                     1);
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, &sin6, sizeof sin6);
    ck_assert_int_eq(relaypol_addr_from_sockaddr((struct sockaddr *)&ss, &a),
                     RELAYPOL_OK);
    /* Not folded here: the decision folds, and a log may want the form
     * the socket reported. */
    ck_assert_uint_eq(a.family, RELAYPOL_AF_INET6);
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "::ffff:198.51.100.7");
    rp_addr_fold(&a);
    relaypol_addr_format(&a, buf, sizeof buf);
    ck_assert_str_eq(buf, "198.51.100.7");

    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, &sun, sizeof sun);
    ck_assert_int_eq(relaypol_addr_from_sockaddr((struct sockaddr *)&ss, &a),
                     RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_addr_from_sockaddr(NULL, &a),
                     RELAYPOL_ERR_INVALID);
}
END_TEST

START_TEST(overlong_public_parse)
{
    char s[200];
    memset(s, '0', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    relaypol_addr a;
    ck_assert_int_eq(relaypol_addr_parse(s, &a), RELAYPOL_ERR_ADDRESS);
    /* The longest valid text is accepted. */
    ck_assert_int_eq(
        relaypol_addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]",
                            &a),
        RELAYPOL_OK);
}
END_TEST

#define N(t) ((int)(sizeof(t) / sizeof((t)[0])))

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, valid_parses, 0, N(valid_cases));
    tcase_add_loop_test(tc, invalid_refused, 0, N(invalid_cases));
    tcase_add_test(tc, length_bounded);
    tcase_add_test(tc, overlong_public_parse);
    suite_add_tcase(s, tc);

    tc = tcase_create("generated");
    tcase_set_timeout(tc, 300); /* slow under valgrind and sanitizers */
    tcase_add_test(tc, random_strings_agree_with_pton);
    tcase_add_test(tc, mutations_agree_with_pton);
    tcase_add_test(tc, quads_agree_with_pton);
    tcase_add_test(tc, random_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, format_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("fold");
    tcase_add_loop_test(tc, folding, 0, N(fold_cases));
    tcase_add_test(tc, equality);
    suite_add_tcase(s, tc);

    tc = tcase_create("binary");
    tcase_add_test(tc, from_bytes);
    tcase_add_test(tc, from_sockaddr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(addr_suite());
}
