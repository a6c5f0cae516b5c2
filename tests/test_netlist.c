/*
 * List entries (lib/netlist.c) and their libcidr cross-check
 * (lib/cidrcheck.c): every accepted form in both families with its exact
 * net, mask and prefix; the seed's examples; matching by the seed's
 * formula "(IP AND mask) = net"; and refused inputs with the exact
 * message and column.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st; /* xorshift64*: deterministic, so failures reproduce */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void fmt_bytes(uint8_t family, const uint8_t *b, char *buf)
{
    relaypol_addr a;
    memset(&a, 0, sizeof a);
    a.family = family;
    memcpy(a.bytes, b, family == RELAYPOL_AF_INET ? 4 : 16);
    ck_assert_uint_gt(relaypol_addr_format(&a, buf, RELAYPOL_ADDR_STRLEN), 0);
}

static void parse_ok(const char *s, unsigned opts, rp_net *n)
{
    rp_perr e;
    memset(&e, 0, sizeof e);
    ck_assert_msg(rp_net_parse(s, strlen(s), opts, n, &e),
                  "\"%s\" refused: %s (column %zu)", s, e.msg, e.col);
}

static relaypol_addr addr(const char *s)
{
    relaypol_addr a;
    ck_assert_int_eq(relaypol_addr_parse(s, &a), RELAYPOL_OK);
    rp_addr_fold(&a); /* rp_net_match wants folded clients */
    return a;
}

/* ------------------------------------------------------- valid entries */

#define LIT RP_NETP_LITERAL_MASKS
#define HB RP_NET_HOSTBITS
#define MP RP_NET_MAPPED

struct valid_case {
    const char *in;
    unsigned opts;
    uint8_t family;
    int prefix;
    uint8_t flags;
    const char *net;   /* the net bytes, formatted as an address */
    const char *mask;  /* the mask bytes, formatted as an address */
    const char *canon; /* rp_net_format */
};

static const struct valid_case valid_cases[] = {
    /* The seed's own examples (KB Q193922). */
    {"192.168.0.0;255.255.0.0", 0, 4, 16, 0, "192.168.0.0", "255.255.0.0",
     "192.168.0.0/16"},
    {"192.168.1.17", 0, 4, 32, 0, "192.168.1.17", "255.255.255.255",
     "192.168.1.17/32"},
    {"192.168.1.17;255.255.255.255", 0, 4, 32, 0, "192.168.1.17",
     "255.255.255.255", "192.168.1.17/32"},
    {"192.168.1.0;255.255.255.248", 0, 4, 29, 0, "192.168.1.0",
     "255.255.255.248", "192.168.1.0/29"},
    {"192.168.17.0;255.255.255.0", 0, 4, 24, 0, "192.168.17.0",
     "255.255.255.0", "192.168.17.0/24"},
    {"192.168.1.0;255.255.255.0", 0, 4, 24, 0, "192.168.1.0",
     "255.255.255.0", "192.168.1.0/24"},
    /* CIDR forms. */
    {"192.168.0.0/16", 0, 4, 16, 0, "192.168.0.0", "255.255.0.0",
     "192.168.0.0/16"},
    {"192.168.0.0/255.255.0.0", 0, 4, 16, 0, "192.168.0.0", "255.255.0.0",
     "192.168.0.0/16"},
    {"0.0.0.0/0", 0, 4, 0, 0, "0.0.0.0", "0.0.0.0", "0.0.0.0/0"},
    {"0.0.0.0;0.0.0.0", 0, 4, 0, 0, "0.0.0.0", "0.0.0.0", "0.0.0.0/0"},
    {"128.0.0.0/1", 0, 4, 1, 0, "128.0.0.0", "128.0.0.0", "128.0.0.0/1"},
    {"10.0.0.0/8", 0, 4, 8, 0, "10.0.0.0", "255.0.0.0", "10.0.0.0/8"},
    {"172.16.0.0/12", 0, 4, 12, 0, "172.16.0.0", "255.240.0.0",
     "172.16.0.0/12"},
    {"1.2.3.4/32", 0, 4, 32, 0, "1.2.3.4", "255.255.255.255", "1.2.3.4/32"},
    {"255.255.255.254;255.255.255.254", 0, 4, 31, 0, "255.255.255.254",
     "255.255.255.254", "255.255.255.254/31"},
    /* Non-contiguous masks are legal in the seed's formula. */
    {"10.0.0.0;255.0.255.0", 0, 4, -1, 0, "10.0.0.0", "255.0.255.0",
     "10.0.0.0;255.0.255.0"},
    {"10.0.0.0/255.0.255.0", 0, 4, -1, 0, "10.0.0.0", "255.0.255.0",
     "10.0.0.0;255.0.255.0"},
    {"0.0.0.1;0.0.0.1", 0, 4, -1, 0, "0.0.0.1", "0.0.0.1",
     "0.0.0.1;0.0.0.1"},
    /* IPv6. */
    {"2001:db8::1", 0, 6, 128, 0, "2001:db8::1",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1/128"},
    {"2001:db8::/32", 0, 6, 32, 0, "2001:db8::", "ffff:ffff::",
     "2001:db8::/32"},
    {"2001:DB8:0::/48", 0, 6, 48, 0, "2001:db8::", "ffff:ffff:ffff::",
     "2001:db8::/48"},
    {"[2001:db8::]/32", 0, 6, 32, 0, "2001:db8::", "ffff:ffff::",
     "2001:db8::/32"},
    {"[::1]", 0, 6, 128, 0, "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "::1/128"},
    {"::/0", 0, 6, 0, 0, "::", "::", "::/0"},
    {"fe80::/10", 0, 6, 10, 0, "fe80::", "ffc0::", "fe80::/10"},
    {"2001:db8::8000/113", 0, 6, 113, 0, "2001:db8::8000",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:8000", "2001:db8::8000/113"},
    /* IPv4-compatible and NAT64 forms stay IPv6. */
    {"::1.2.3.4/128", 0, 6, 128, 0, "::102:304",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::102:304/128"},
    {"64:ff9b::/96", 0, 6, 96, 0, "64:ff9b::",
     "ffff:ffff:ffff:ffff:ffff:ffff::", "64:ff9b::/96"},
    /* IPv4-mapped entries fold to IPv4. */
    {"::ffff:192.0.2.1", 0, 4, 32, MP, "192.0.2.1", "255.255.255.255",
     "192.0.2.1/32"},
    {"::ffff:192.0.2.0/120", 0, 4, 24, MP, "192.0.2.0", "255.255.255.0",
     "192.0.2.0/24"},
    {"::ffff:c000:200/120", 0, 4, 24, MP, "192.0.2.0", "255.255.255.0",
     "192.0.2.0/24"},
    {"[::ffff:10.0.0.0]/104", 0, 4, 8, MP, "10.0.0.0", "255.0.0.0",
     "10.0.0.0/8"},
    {"::ffff:0:0/96", 0, 4, 0, MP, "0.0.0.0", "0.0.0.0", "0.0.0.0/0"},
    /* Literal masks: host bits kept, flagged, never matching. */
    {"192.168.1.5;255.255.255.0", LIT, 4, 24, HB, "192.168.1.5",
     "255.255.255.0", "192.168.1.5/24"},
    {"192.168.1.5/24", LIT, 4, 24, HB, "192.168.1.5", "255.255.255.0",
     "192.168.1.5/24"},
    {"10.1.0.0;255.0.255.0", LIT, 4, -1, HB, "10.1.0.0", "255.0.255.0",
     "10.1.0.0;255.0.255.0"},
    {"2001:db8::1/32", LIT, 6, 32, HB, "2001:db8::1", "ffff:ffff::",
     "2001:db8::1/32"},
    {"::ffff:10.0.0.5/120", LIT, 4, 24, HB | MP, "10.0.0.5",
     "255.255.255.0", "10.0.0.5/24"},
    {"192.168.1.0;255.255.255.0", LIT, 4, 24, 0, "192.168.1.0",
     "255.255.255.0", "192.168.1.0/24"},
};

START_TEST(valid_entries)
{
    const struct valid_case *c = &valid_cases[_i];
    rp_net n;
    char buf[64];
    memset(&n, 0xa5, sizeof n);
    parse_ok(c->in, c->opts, &n);
    ck_assert_uint_eq(n.family, c->family);
    ck_assert_int_eq(n.prefix_len, c->prefix);
    ck_assert_uint_eq(n.flags, c->flags);
    fmt_bytes(n.family, n.net, buf);
    ck_assert_str_eq(buf, c->net);
    fmt_bytes(n.family, n.mask, buf);
    ck_assert_str_eq(buf, c->mask);
    /* Unused bytes of an IPv4 entry are zero (the netset may hash them). */
    if (n.family == RELAYPOL_AF_INET)
        for (int k = 4; k < 16; k++) {
            ck_assert_uint_eq(n.net[k], 0);
            ck_assert_uint_eq(n.mask[k], 0);
        }

    size_t len = rp_net_format(&n, buf, sizeof buf);
    ck_assert_str_eq(buf, c->canon);
    ck_assert_uint_eq(len, strlen(c->canon));

    /* The canonical text means the same entry. */
    rp_net again;
    parse_ok(buf, c->opts, &again);
    ck_assert_uint_eq(again.family, n.family);
    ck_assert_int_eq(again.prefix_len, n.prefix_len);
    ck_assert_uint_eq(again.flags, n.flags & ~RP_NET_MAPPED);
    ck_assert_mem_eq(again.net, n.net, 16);
    ck_assert_mem_eq(again.mask, n.mask, 16);

    rp_perr e;
    memset(&e, 0, sizeof e);
    ck_assert_msg(rp_cidr_crosscheck(&n, &e), "%s: %s", c->in, e.msg);
}
END_TEST

/* ------------------------------------------------------------ matching */

struct match_case {
    const char *entry;
    unsigned opts;
    const char *client;
    bool match;
};

static const struct match_case match_cases[] = {
    /* The non-contiguous example, exactly per (IP AND mask) = net. */
    {"10.0.0.0;255.0.255.0", 0, "10.5.0.7", true},
    {"10.0.0.0;255.0.255.0", 0, "10.0.1.0", false},
    {"10.0.0.0;255.0.255.0", 0, "10.255.0.255", true},
    {"10.0.0.0;255.0.255.0", 0, "11.5.0.7", false},
    {"10.0.0.0;255.0.255.0", 0, "::ffff:10.5.0.7", true},
    /* The seed's examples. */
    {"192.168.0.0;255.255.0.0", 0, "192.168.255.255", true},
    {"192.168.0.0;255.255.0.0", 0, "192.169.0.0", false},
    {"192.168.1.17", 0, "192.168.1.17", true},
    {"192.168.1.17", 0, "192.168.1.16", false},
    {"192.168.1.0;255.255.255.248", 0, "192.168.1.0", true},
    {"192.168.1.0;255.255.255.248", 0, "192.168.1.1", true},
    {"192.168.1.0;255.255.255.248", 0, "192.168.1.7", true},
    {"192.168.1.0;255.255.255.248", 0, "192.168.1.8", false},
    {"192.168.17.0;255.255.255.0", 0, "192.168.17.200", true},
    {"192.168.17.0;255.255.255.0", 0, "192.168.18.1", false},
    /* Families never cross. */
    {"0.0.0.0/0", 0, "203.0.113.9", true},
    {"0.0.0.0/0", 0, "::1", false},
    {"::/0", 0, "2001:db8::1", true},
    {"::/0", 0, "203.0.113.9", false},
    /* A mapped client is decided as IPv4, whichever way the entry is
     * written; so ::/0 does not catch it. */
    {"::/0", 0, "::ffff:203.0.113.9", false},
    {"::ffff:192.0.2.0/120", 0, "192.0.2.9", true},
    {"::ffff:192.0.2.0/120", 0, "::ffff:192.0.2.9", true},
    {"::ffff:192.0.2.0/120", 0, "192.0.3.9", false},
    {"2001:db8::/32", 0, "2001:db8:ffff::1", true},
    {"2001:db8::/32", 0, "2001:db9::", false},
    {"2001:db8::8000/113", 0, "2001:db8::ffff", true},
    {"2001:db8::8000/113", 0, "2001:db8::7fff", false},
    /* Literal host bits: the formula can never hold. */
    {"192.168.1.5;255.255.255.0", LIT, "192.168.1.5", false},
    {"192.168.1.5;255.255.255.0", LIT, "192.168.1.0", false},
    {"192.168.1.5;255.255.255.0", LIT, "192.168.1.77", false},
    {"2001:db8::1/32", LIT, "2001:db8::1", false},
};

START_TEST(matching)
{
    const struct match_case *c = &match_cases[_i];
    rp_net n;
    parse_ok(c->entry, c->opts, &n);
    relaypol_addr a = addr(c->client);
    ck_assert_msg(rp_net_match(&n, &a) == c->match, "%s vs %s: expected %s",
                  c->entry, c->client, c->match ? "match" : "no match");
}
END_TEST

/* The non-contiguous entry over a whole /16 slice of its space: matches
 * exactly when the third octet is 0, whatever the second and fourth. */
START_TEST(noncontiguous_exhaustive)
{
    rp_net n;
    parse_ok("10.0.0.0;255.0.255.0", 0, &n);
    relaypol_addr a;
    memset(&a, 0, sizeof a);
    a.family = RELAYPOL_AF_INET;
    a.bytes[0] = 10;
    for (unsigned b1 = 0; b1 < 256; b1 += 5)
        for (unsigned b2 = 0; b2 < 256; b2++)
            for (unsigned b3 = 0; b3 < 256; b3 += 51) {
                a.bytes[1] = (uint8_t)b1;
                a.bytes[2] = (uint8_t)b2;
                a.bytes[3] = (uint8_t)b3;
                ck_assert(rp_net_match(&n, &a) == (b2 == 0));
            }
}
END_TEST

/* -------------------------------------------------------- refused input */

struct invalid_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    unsigned opts;
    size_t col;
    const char *msg; /* a substring of the message */
};

static const struct invalid_case invalid_cases[] = {
    {"", 0, 0, 0, "empty entry"},
    {"/24", 0, 0, 0, "empty network address before '/'"},
    {";255.0.0.0", 0, 0, 0, "empty network address before ';'"},
    /* Prefix lengths. */
    {"10.0.0.0/-1", 0, 0, 9, "a prefix length has no sign"},
    {"10.0.0.0/+8", 0, 0, 9, "a prefix length has no sign"},
    {"10.0.0.0/08", 0, 0, 9, "prefix length has a leading zero"},
    {"10.0.0.0/00", 0, 0, 9, "prefix length has a leading zero"},
    {"10.0.0.0/33", 0, 0, 9,
     "prefix length 33 is too long for IPv4 (at most 32)"},
    {"10.0.0.0/999", 0, 0, 9, "prefix length 999 is too long for IPv4"},
    {"10.0.0.0/1234", 0, 0, 9, "prefix length has more than 3 digits"},
    {"2001:db8::/129", 0, 0, 11,
     "prefix length 129 is too long for IPv6 (at most 128)"},
    {"10.0.0.0//24", 0, 0, 9, "unexpected '/' after '/'"},
    {"10.0.0.0/24/8", 0, 0, 11, "unexpected '/' after '/'"},
    {"10.0.0.0/24;255.0.0.0", 0, 0, 11, "unexpected ';' after '/'"},
    {"10.0.0.0;255.0.0.0;1", 0, 0, 18, "unexpected ';' after ';'"},
    {"10.0.0.0/24a", 0, 0, 11,
     "unexpected character 'a' in the prefix length"},
    {"10.0.0.0/0x18", 0, 0, 10,
     "unexpected character 'x' in the prefix length"},
    {"10.0.0.0/", 0, 0, 8, "nothing after '/'"},
    {"10.0.0.0;", 0, 0, 8, "nothing after ';'"},
    /* Masks. */
    {"10.0.0.0;24", 0, 0, 9, "write '/24' for a prefix length"},
    {"10.0.0.0;255.255.0", 0, 0, 18, "bad mask: only 3 of 4 octets"},
    {"10.0.0.0;255.0.0.01", 0, 0, 17,
     "bad mask: octet 4 has a leading zero"},
    {"10.0.0.0;255.0.0.0x", 0, 0, 18, "bad mask: unexpected character 'x'"},
    {"10.0.0.0;ff.0.0.0", 0, 0, 9, "bad mask: unexpected character 'f'"},
    {"10.0.0.0/255.0.0.256", 0, 0, 17,
     "bad mask: octet 4 is greater than 255"},
    {"2001:db8::;ffff::", 0, 0, 10,
     "';' takes an IPv4 mask; write an IPv6 network as address/length"},
    {"2001:db8::;255.255.0.0", 0, 0, 10, "';' takes an IPv4 mask"},
    {"2001:db8::/255.255.0.0", 0, 0, 11,
     "an IPv6 network takes a prefix length after '/', not a mask"},
    {"2001:db8::/ffff::", 0, 0, 11,
     "unexpected character 'f' in the prefix length"},
    /* Bytes that never belong in an entry. */
    {"10.0.0.0/24 x", 0, 0, 11, "space inside the entry"},
    {"10.0.0.0 ;255.0.0.0", 0, 0, 8, "space inside the entry"},
    {"10.0.0.0;255.0.0.0 # allow", 0, 0, 18, "space inside the entry"},
    {"10.0.0.0\t", 0, 0, 8, "control byte 0x09 in the entry"},
    {"10.0.0.0/8\r", 0, 0, 10, "control byte 0x0d in the entry"},
    {"10.0\0.0.0", 9, 0, 4, "NUL byte in the entry"},
    {"10.0.0.0\x7f", 0, 0, 8, "control byte 0x7f in the entry"},
    {"10.0.0.0/2\xc3\xa4", 0, 0, 10, "non-ASCII byte 0xc3 in the entry"},
    /* Addresses (from the strict parser). */
    {"010.0.0.0/8", 0, 0, 0, "octet 1 has a leading zero"},
    {"0x0a.0.0.0/8", 0, 0, 0, "hex octets are not accepted"},
    {"10.1/16", 0, 0, 4, "only 2 of 4 octets"},
    {"10/8", 0, 0, 2, "only 1 of 4 octets"},
    {"10.0.0.256", 0, 0, 7, "octet 4 is greater than 255"},
    {"10.0.0.0x", 0, 0, 8, "unexpected character 'x'"},
    {"1::2::3/64", 0, 0, 4, "more than one '::'"},
    {"2001:db8::%eth0/64", 0, 0, 10, "zone ids"},
    {"1:2:3:4:5:6:7:8:9/64", 0, 0, 16, "more than 8 groups"},
    {"[2001:db8::/32", 0, 0, 0, "'[' without a closing ']'"},
    {"[10.0.0.0]/8", 0, 0, 1, "brackets are only for IPv6"},
    /* Host bits: the intended network is suggested in the form used. */
    {"192.168.1.5;255.255.255.0", 0, 0, 0,
     "192.168.1.5 has bits outside mask 255.255.255.0; did you mean "
     "192.168.1.0;255.255.255.0?"},
    {"192.168.1.5/24", 0, 0, 0,
     "192.168.1.5 has bits outside /24; did you mean 192.168.1.0/24?"},
    {"192.168.1.5/255.255.255.0", 0, 0, 0,
     "192.168.1.5 has bits outside mask 255.255.255.0; did you mean "
     "192.168.1.0/255.255.255.0?"},
    {"10.1.0.0;255.0.255.0", 0, 0, 0,
     "10.1.0.0 has bits outside mask 255.0.255.0; did you mean "
     "10.0.0.0;255.0.255.0?"},
    {"0.0.0.1/0", 0, 0, 0, "did you mean 0.0.0.0/0?"},
    {"2001:db8::1/32", 0, 0, 0,
     "2001:db8::1 has bits outside /32; did you mean 2001:db8::/32?"},
    {"::ffff:10.0.0.5/120", 0, 0, 0,
     "::ffff:10.0.0.5 has bits outside /120; did you mean "
     "::ffff:10.0.0.0/120?"},
    /* Mapped entries shorter than /96 reach outside IPv4. */
    {"::ffff:10.0.0.0/95", 0, 0, 16,
     "an IPv4-mapped network needs a prefix length of at least 96"},
    {"::ffff:0:0/64", 0, 0, 11, "needs a prefix length of at least 96"},
    {"::ffff:10.0.0.0/95", 0, LIT, 16, "at least 96"},
};

START_TEST(invalid_entries)
{
    const struct invalid_case *c = &invalid_cases[_i];
    size_t n = c->len ? c->len : strlen(c->in);
    rp_net net;
    memset(&net, 0x5a, sizeof net);
    rp_perr e;
    memset(&e, 0, sizeof e);
    ck_assert_msg(!rp_net_parse(c->in, n, c->opts, &net, &e),
                  "\"%s\" accepted", c->in);
    ck_assert_msg(strstr(e.msg, c->msg) != NULL,
                  "\"%s\": message \"%s\" lacks \"%s\"", c->in, e.msg, c->msg);
    ck_assert_msg(e.col == c->col, "\"%s\": column %zu, expected %zu (%s)",
                  c->in, e.col, c->col, e.msg);
    ck_assert_uint_eq(net.family, 0x5a); /* untouched on failure */
    ck_assert(!rp_net_parse(c->in, n, c->opts, &net, NULL));
}
END_TEST

START_TEST(overlong)
{
    char s[200];
    memset(s, '1', sizeof s);
    rp_perr e;
    rp_net n;
    ck_assert(!rp_net_parse(s, 129, 0, &n, &e));
    ck_assert_str_eq(e.msg, "entry is too long (129 bytes; at most 128)");
    ck_assert_uint_eq(e.col, 128);
    /* 128 bytes is not "too long"; it is refused for what it is. */
    ck_assert(!rp_net_parse(s, 128, 0, &n, &e));
    ck_assert_ptr_null(strstr(e.msg, "too long"));
}
END_TEST

/* The parser takes a length and reads nothing after it. */
START_TEST(length_bounded)
{
    static const char buf[] = "10.0.0.0/8garbage";
    rp_net n;
    rp_perr e;
    ck_assert_msg(rp_net_parse(buf, 10, 0, &n, &e), "%s", e.msg);
    ck_assert_int_eq(n.prefix_len, 8);
    ck_assert(rp_net_parse(buf, 8, 0, &n, &e));
    ck_assert_int_eq(n.prefix_len, 32);
}
END_TEST

START_TEST(format_edges)
{
    rp_net n;
    char buf[64];
    parse_ok("10.0.0.0;255.0.255.0", 0, &n);
    ck_assert_uint_eq(rp_net_format(&n, buf, 21), 20);
    ck_assert_uint_eq(rp_net_format(&n, buf, 20), 0);
    ck_assert_str_eq(buf, "");
    parse_ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, &n);
    ck_assert_uint_eq(rp_net_format(&n, buf, sizeof buf), 43);
    memset(&n, 0, sizeof n);
    ck_assert_uint_eq(rp_net_format(&n, buf, sizeof buf), 0);
}
END_TEST

/* ------------------------------------------------ generated entries */

/* A random valid entry in one of the written forms, with its expected
 * family and prefix. */
static void random_entry(uint64_t *st, char *text, size_t cap, int *family,
                         int *prefix)
{
    uint64_t r = rng_next(st);
    uint8_t b[16], m[16];
    relaypol_addr a;
    char at[RELAYPOL_ADDR_STRLEN], mt[RELAYPOL_ADDR_STRLEN];
    bool v4 = r & 1;
    unsigned nbytes = v4 ? 4 : 16;
    unsigned len = (unsigned)(rng_next(st) % (nbytes * 8 + 1));
    for (unsigned k = 0; k < 16; k++)
        b[k] = (uint8_t)rng_next(st);
    memset(m, 0, sizeof m);
    for (unsigned k = 0; k < len; k++)
        m[k / 8] |= (uint8_t)(0x80u >> (k % 8));
    for (unsigned k = 0; k < 16; k++)
        b[k] &= m[k];
    if (!v4 && (r >> 8) % 4 == 0)
        memset(b + 4, 0, 8); /* some "::" in the text */
    ck_assert_int_eq(relaypol_addr_from_bytes(b, nbytes, &a), RELAYPOL_OK);
    if (!v4 && rp_addr_is_mapped(&a))
        b[0] |= 0x20; /* mapped entries fold; not what this tests */
    relaypol_addr_from_bytes(b, nbytes, &a);
    relaypol_addr_format(&a, at, sizeof at);
    relaypol_addr_from_bytes(m, nbytes, &a);
    relaypol_addr_format(&a, mt, sizeof mt);
    unsigned form = v4 ? (unsigned)(r >> 4) % 4 : 0;
    if (form == 3 && len != 32)
        form = 0; /* a bare address is only a /32 */
    if (form == 1)
        snprintf(text, cap, "%s;%s", at, mt);
    else if (form == 2)
        snprintf(text, cap, "%s/%s", at, mt);
    else if (form == 3)
        snprintf(text, cap, "%s", at);
    else
        snprintf(text, cap, "%s/%u", at, len);
    *family = v4 ? 4 : 6;
    *prefix = (int)len;
}

START_TEST(random_entries_crosscheck)
{
    uint64_t st = 2024;
    char text[128], canon[64];
    for (int iter = 0; iter < 500; iter++) {
        int family, prefix;
        rp_net n, again;
        random_entry(&st, text, sizeof text, &family, &prefix);
        parse_ok(text, 0, &n);
        ck_assert_int_eq(n.family, family);
        ck_assert_int_eq(n.prefix_len, prefix);
        rp_perr e;
        memset(&e, 0, sizeof e);
        ck_assert_msg(rp_cidr_crosscheck(&n, &e), "%s: %s", text, e.msg);
        ck_assert_uint_gt(rp_net_format(&n, canon, sizeof canon), 0);
        parse_ok(canon, 0, &again);
        ck_assert_uint_eq(again.family, n.family);
        ck_assert_int_eq(again.prefix_len, n.prefix_len);
        ck_assert_uint_eq(again.flags, n.flags);
        ck_assert_mem_eq(again.net, n.net, 16);
        ck_assert_mem_eq(again.mask, n.mask, 16);
    }
}
END_TEST

/* Non-contiguous entries are skipped (libcidr cannot express them); an
 * inconsistent rp_net is caught when libcidr is built in. */
START_TEST(crosscheck_edges)
{
    rp_net n;
    rp_perr e;
    parse_ok("10.0.0.0;255.0.255.0", 0, &n);
    ck_assert(rp_cidr_crosscheck(&n, &e));

    parse_ok("10.0.0.0/16", 0, &n);
    n.prefix_len = 8; /* the mask still says /16 */
    memset(&e, 0, sizeof e);
    /* Without libcidr every entry passes; with it, this one cannot. */
    bool have_libcidr = !rp_cidr_crosscheck(&n, &e);
    if (have_libcidr)
        ck_assert_msg(strstr(e.msg, "libcidr reads 10.0.0.0/8") != NULL, "%s",
                      e.msg);

    parse_ok("2001:db8::/32", 0, &n);
    n.mask[5] = 0xff; /* a mask byte beyond the prefix */
    memset(&e, 0, sizeof e);
    ck_assert(rp_cidr_crosscheck(&n, &e) == !have_libcidr);
}
END_TEST

#define N(t) ((int)(sizeof(t) / sizeof((t)[0])))

static Suite *netlist_suite(void)
{
    Suite *s = suite_create("netlist");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, valid_entries, 0, N(valid_cases));
    tcase_add_loop_test(tc, invalid_entries, 0, N(invalid_cases));
    tcase_add_test(tc, overlong);
    tcase_add_test(tc, length_bounded);
    tcase_add_test(tc, format_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("match");
    tcase_add_loop_test(tc, matching, 0, N(match_cases));
    tcase_add_test(tc, noncontiguous_exhaustive);
    suite_add_tcase(s, tc);

    tc = tcase_create("cidr");
    tcase_set_timeout(tc, 120); /* slow under valgrind and sanitizers */
    tcase_add_test(tc, random_entries_crosscheck);
    tcase_add_test(tc, crosscheck_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(netlist_suite());
}
