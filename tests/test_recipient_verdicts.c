/*
 * Recipients as an attacker writes them, judged end to end by
 * relaypol_decide(): for every form, the verdict and step for an untrusted
 * client and for a client allowed to relay, the route bits, the exact
 * reason when the form is malformed, and the reply the server would send.
 *
 * The policy is the one of issue 3's tests: example.com and *.example.org
 * are accepted, the server's own addresses are 192.0.2.25 and
 * 2001:db8::25, and every request arrives on the local address
 * 192.0.2.99.  The rule under test (Postfix's allow_untrusted_routing =
 * no): routing syntax before the final domain makes a recipient "routed",
 * and a routed recipient is never local delivery unless AllowRouting
 * trusts that form — so an untrusted client is refused, and a client
 * allowed to relay relays it.
 *
 * Tables: SMTP form (the RCPT TO argument), Postfix's internal form
 * (RELAYPOL_REQ_RCPT_INTERNAL), then the AllowRouting relaxations one
 * form at a time, then the reply text per refusal reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ----------------------------------------------------------- the policy */

static const char POLICY[] = "RelayFlags = 3\n"
                             "AcceptedDomains = example.com, *.example.org\n"
                             "ServerAddresses = 192.0.2.25, 2001:db8::25\n"
                             "[RelayDenyList]\n"
                             "10.66.0.0/16\n"
                             "[RelayAllowList]\n"
                             "10.0.0.0/8\n";

#define UNTRUSTED "203.0.113.9" /* in no list */
#define TRUSTED "10.1.2.3"      /* in RelayAllowList, not denied */
#define LOCAL_ADDR "192.0.2.99" /* the address the client reached */

/* The replies (lib/decide.c), by refusal reason. */
#define REPLY_OK "250 2.1.5 Ok"
#define REPLY_DENIED "550 5.7.1 Relaying denied"
#define REPLY_ROUTED "550 5.7.1 Relaying denied: routed recipient address"
#define REPLY_SYNTAX "501 5.1.3 Bad recipient address syntax"

typedef enum reply_kind {
    K_OK,      /* 250 */
    K_DENIED,  /* plain relaying denied: a foreign domain */
    K_ROUTED,  /* routing syntax */
    K_LITERAL, /* an address literal that is not this server */
    K_SYNTAX   /* 501: malformed */
} reply_kind;

/* -------------------------------------------------------------- the rows */

#define R_PCT RELAYPOL_ROUTE_PERCENT
#define R_BANG RELAYPOL_ROUTE_BANG
#define R_SRC RELAYPOL_ROUTE_SOURCE
#define R_QAT RELAYPOL_ROUTE_QUOTED_AT
#define R_XAT RELAYPOL_ROUTE_EXTRA_AT
#define R_LIT RELAYPOL_ROUTE_LITERAL

#define V_LOCAL RELAYPOL_LOCAL
#define V_RELAY RELAYPOL_RELAY
#define V_DENY RELAYPOL_DENY
#define S_ACCEPTED RELAYPOL_STEP_ACCEPTED_DOMAIN
#define S_LITERAL RELAYPOL_STEP_LOCAL_LITERAL
#define S_ALLOW RELAYPOL_STEP_ALLOW_LIST
#define S_NO_RULE RELAYPOL_STEP_NO_RULE
#define S_BAD RELAYPOL_STEP_BAD_RECIPIENT

typedef struct vcase {
    const char *in; /* the recipient as given to relaypol_decide() */
    size_t len;     /* 0: strlen(in); set for inputs holding a NUL */
    relaypol_rcpt_error err;
    uint32_t route; /* expected RELAYPOL_ROUTE_* bits */
    /* an untrusted client */
    relaypol_verdict uv;
    relaypol_step us;
    reply_kind ur;
    /* a client in RelayAllowList (its reply is 250, or 501 when malformed) */
    relaypol_verdict tv;
    relaypol_step ts;
} vcase;

#define ROW(in, route, uv, us, ur, tv, ts)                                     \
    {in, 0, RELAYPOL_RCPT_OK, route, uv, us, ur, tv, ts}
/* Local delivery to an accepted domain, for anyone. */
#define ACCEPT(in) ROW(in, 0, V_LOCAL, S_ACCEPTED, K_OK, V_LOCAL, S_ACCEPTED)
/* "<postmaster>" without a domain: this server's postmaster. */
#define PMASTER(in) ACCEPT(in)
/* A literal naming this server: local delivery, for anyone. */
#define OWN_LIT(in)                                                            \
    ROW(in, R_LIT, V_LOCAL, S_LITERAL, K_OK, V_LOCAL, S_LITERAL)
/* A foreign domain: relaying. */
#define FOREIGN(in) ROW(in, 0, V_DENY, S_NO_RULE, K_DENIED, V_RELAY, S_ALLOW)
/* A literal that is not this server: relaying. */
#define FOREIGN_LIT(in)                                                        \
    ROW(in, R_LIT, V_DENY, S_NO_RULE, K_LITERAL, V_RELAY, S_ALLOW)
/* Routing syntax before the final domain, whatever that domain is. */
#define ROUTED(in, route)                                                      \
    ROW(in, route, V_DENY, S_NO_RULE, K_ROUTED, V_RELAY, S_ALLOW)
/* Malformed: 501 for everyone, no route bits reported. */
#define BAD(in, e)                                                             \
    {in, 0, RELAYPOL_RCPT_##e, 0, V_DENY, S_BAD, K_SYNTAX, V_DENY, S_BAD}
#define BADN(in, e)                                                            \
    {in, sizeof in - 1, RELAYPOL_RCPT_##e, 0, V_DENY, S_BAD, K_SYNTAX,         \
     V_DENY, S_BAD}

/* Long parts, built at compile time (lengths checked in `long_inputs`). */
#define X10 "xxxxxxxxxx"
#define X50 X10 X10 X10 X10 X10
#define X60 X50 X10
#define X62 X60 "xx"
#define X63 X60 "xxx"
#define X64 X60 "xxxx"
#define X65 X60 "xxxxx"
/* 64 + 1 + 189 = 254 octets: the longest path the RFC allows inside the
 * brackets (4.5.3.1.3: 256 including them). */
#define PATH254 X64 "@" X60 "." X60 "." X50 "xxxxx" ".example.org"
#define PATH255 X64 "@" X60 "." X60 "." X50 "xxxxxx" ".example.org"
/* Domains of exactly 255 and 256 octets (labels of 60 or 61). */
#define DOM255 X60 "." X60 "." X60 "." X60 ".example.org"
#define DOM256 X60 "x." X60 "." X60 "." X60 ".example.org"

static const vcase smtp_cases[] = {
    /* --- accepted domains: plain, case, root dot, parameters */
    ACCEPT("<user@example.com>"),
    ACCEPT("user@example.com"),
    ACCEPT("  <user@example.com>"),
    ACCEPT("<USER@EXAMPLE.COM>"),
    ACCEPT("<user@Mail.Example.Org>"),
    ACCEPT("<user@mail.example.org>"),
    ACCEPT("<user@a.b.mail.example.org>"),
    ACCEPT("<user@example.com.>"),
    ACCEPT("user@Mail.Example.Org."),
    ACCEPT("<user+tag@example.com>"),
    ACCEPT("<first.last@example.com>"),
    ACCEPT("<user@xn--bcher-kva.example.org>"), /* A-label, as written */
    ACCEPT("<user@example.com> NOTIFY=NEVER"),
    ACCEPT("<user@example.com> NOTIFY=NEVER ORCPT=rfc822;x@y"),
    ACCEPT("<user@example.com>  NOTIFY=SUCCESS,FAILURE  ORCPT=rfc822;a@b"),
    ACCEPT("user@example.com NOTIFY=NEVER"),
    /* quoted local parts without routing characters are not routed */
    ACCEPT("<\"john smith\"@example.com>"),
    ACCEPT("\"john smith\"@example.com"),
    ACCEPT("<\"john \\\"q\\\" smith\"@example.com>"),
    ACCEPT("<\"back\\\\slash\"@example.com>"),
    ACCEPT("<\"a>b\"@example.com>"),
    ACCEPT("<\"\"@example.com>"), /* empty Quoted-string: legal */
    ACCEPT("<user@example.com> "),
    /* Not routing syntax for relaypol (nor for Postfix): DECnet "::" and
     * Exchange 5.5's IMCEA encapsulation are decoded, if at all, by the
     * MTA behind relaypol, which must not be configured to do so. */
    ACCEPT("<\"foreign::user\"@example.com>"),
    ACCEPT("<IMCEASMTP-user+40foreign+2Eexample@example.com>"),

    /* --- foreign domains and label-boundary tricks */
    FOREIGN("<user@foreign.example>"),
    FOREIGN("user@foreign.example"),
    FOREIGN("<user@example.org>"), /* *.example.org is strictly below */
    FOREIGN("<user@EXAMPLE.ORG.>"),
    FOREIGN("<user@evilexample.com>"),
    FOREIGN("<user@evil-example.com>"),
    FOREIGN("<user@notexample.org>"),
    FOREIGN("<user@example.com.evil.net>"),
    FOREIGN("<user@mail.example.org.evil.net>"),
    FOREIGN("<user@example.co>"),
    FOREIGN("<user@com>"),
    FOREIGN("<user@192.0.2.25>"), /* a host name, not a literal */
    FOREIGN("<user@localhost>"),
    FOREIGN("<postmaster@foreign.example>"),
    FOREIGN("<user@foreign.example> NOTIFY=NEVER"),

    /* --- each routing trick alone, to an accepted final domain */
    ROUTED("<user%foreign.example@example.com>", R_PCT),
    ROUTED("user%foreign.example@example.com", R_PCT),
    ROUTED("<USER%FOREIGN.EXAMPLE@EXAMPLE.COM.>", R_PCT),
    ROUTED("<user%foreign.example@mail.example.org>", R_PCT),
    ROUTED("<user%a.example%b.example@example.com>", R_PCT),
    ROUTED("<foreign.example!user@example.com>", R_BANG),
    ROUTED("foreign.example!user@example.com", R_BANG),
    ROUTED("<a!b!user@example.com>", R_BANG),
    ROUTED("<@example.com:user@foreign.example>", R_SRC),
    ROUTED("<@foreign.example:user@example.com>", R_SRC),
    ROUTED("@foreign.example:user@example.com", R_SRC),
    ROUTED("<@a.example,@b.example:user@example.com>", R_SRC),
    ROUTED("<\"user@foreign.example\"@example.com>", R_QAT),
    ROUTED("\"user@foreign.example\"@example.com", R_QAT),
    ROUTED("<\"user\\@foreign.example\"@example.com>", R_QAT),
    ROUTED("<\"user @foreign.example\"@example.com>", R_QAT),
    ROUTED("<\"user\\\"@foreign.example\"@example.com>", R_QAT),
    /* Lotus Domino (CERT VU#176972): a list of outside addresses */
    ROUTED("<\"a@foreign.example, b@foreign.example\"@example.com>", R_QAT),
    ROUTED("<\"user%foreign.example\"@example.com>", R_PCT),
    ROUTED("<\"user\\%foreign.example\"@example.com>", R_PCT),
    ROUTED("<\"user!x\"@example.com>", R_BANG),
    ROUTED("<\"user\\!x\"@example.com>", R_BANG),
    /* routed to a foreign final domain: still "routed" */
    ROUTED("<user%foreign.example@other.example>", R_PCT),
    ROUTED("<\"user@example.com\"@foreign.example>", R_QAT),

    /* --- tricks combined */
    ROUTED("<foreign.example!user%other.example@example.com>", R_PCT | R_BANG),
    ROUTED("<@a.example:user%foreign.example@example.com>", R_SRC | R_PCT),
    ROUTED("<@a.example:foreign!user@example.com>", R_SRC | R_BANG),
    ROUTED("<@a.example:\"user@foreign.example\"@example.com>", R_SRC | R_QAT),
    ROUTED("<\"x%y!z@w\"@example.com>", R_PCT | R_BANG | R_QAT),
    ROUTED("<@a.example,@b.example:\"a!b%c@d\"@example.com>",
           R_SRC | R_PCT | R_BANG | R_QAT),
    ROUTED("<user%foreign.example@[192.0.2.25]>", R_PCT | R_LIT),
    ROUTED("<\"user@foreign.example\"@[192.0.2.25]>", R_QAT | R_LIT),
    ROUTED("<@a.example:user@[192.0.2.25]>", R_SRC | R_LIT),
    ROUTED("<foreign!user@[IPv6:2001:db8::25]>", R_BANG | R_LIT),
    ROUTED("<user%foreign.example@[192.0.2.99]>", R_PCT | R_LIT),
    ROUTED("<user%foreign.example@[198.51.100.1]>", R_PCT | R_LIT),

    /* --- domain literals: this server, or a relay attempt */
    OWN_LIT("<user@[192.0.2.25]>"),
    OWN_LIT("user@[192.0.2.25]"),
    OWN_LIT("<postmaster@[192.0.2.25]>"),
    OWN_LIT("<user@[192.0.2.25]> NOTIFY=NEVER"),
    OWN_LIT("<user@[IPv6:2001:db8::25]>"),
    OWN_LIT("<user@[ipv6:2001:DB8:0:0:0:0:0:25]>"),
    OWN_LIT("<user@[IPv6:::ffff:192.0.2.25]>"), /* mapped: folded */
    OWN_LIT("<user@[IPv6:::ffff:c000:219]>"),   /* the same, in hex */
    OWN_LIT("<user@[192.0.2.99]>"),             /* the local address */
    OWN_LIT("<user@[IPv6:::ffff:192.0.2.99]>"),
    FOREIGN_LIT("<user@[198.51.100.1]>"),
    FOREIGN_LIT("user@[198.51.100.1]"),
    FOREIGN_LIT("<user@[192.0.2.26]>"),
    FOREIGN_LIT("<user@[IPv6:2001:db8::26]>"),
    FOREIGN_LIT("<user@[IPv6:::192.0.2.25]>"), /* IPv4-compatible: not ours */
    FOREIGN_LIT("<user@[IPv6:64:ff9b::192.0.2.25]>"), /* NAT64: not ours */
    FOREIGN_LIT("<user@[127.0.0.1]>"),
    FOREIGN_LIT("<user@[0.0.0.0]>"),
    FOREIGN_LIT("<user@[IPv6:::1]>"),
    FOREIGN_LIT("<postmaster@[198.51.100.1]>"),

    /* --- malformed literals */
    BAD("<user@[192.0.2.025]>", BAD_LITERAL), /* leading zero */
    BAD("<user@[192.0.2]>", BAD_LITERAL),
    BAD("<user@[127.1]>", BAD_LITERAL),
    BAD("<user@[0x7f.0.0.1]>", BAD_LITERAL),
    BAD("<user@[300.0.2.25]>", BAD_LITERAL),
    BAD("<user@[2001:db8::25]>", BAD_LITERAL), /* no IPv6: tag */
    BAD("<user@[IPv6:192.0.2.25]>", BAD_LITERAL),
    BAD("<user@[IPv6:2001:db8::25%eth0]>", BAD_LITERAL),
    BAD("<user@[x400:c=us]>", BAD_LITERAL), /* General-address-literal */
    BAD("<user@[]>", BAD_LITERAL),
    BAD("<user@[ 192.0.2.25]>", BAD_LITERAL),
    BAD("<user@[[192.0.2.25]]>", BAD_LITERAL),
    BAD("<user@[192.0.2.25].example.com>", BAD_LITERAL),
    BAD("<user@[192.0.2.25].>", BAD_LITERAL),
    BAD("<user@[192.0.2.25>", UNBALANCED_BRACKET),
    BAD("user@[192.0.2.25", UNBALANCED_BRACKET),
    BAD("<user@192.0.2.25]>", BAD_DOMAIN),

    /* --- brackets and what follows the path */
    BAD("<user@example.com", UNBALANCED_BRACKET),
    BAD("user@example.com>", UNBALANCED_BRACKET),
    BAD("<<user@example.com>>", UNBALANCED_BRACKET),
    BAD("<user@example.com NOTIFY=NEVER", UNBALANCED_BRACKET),
    BAD("<user@example.com>>", BAD_PARAMETER),
    BAD("<user@example.com>x", BAD_PARAMETER),
    BAD("<user@example.com> NOTIFY=", BAD_PARAMETER),
    BAD("<user@foreign.example> <user@example.com>", BAD_PARAMETER),
    BAD("user@foreign.example <user@example.com>", BAD_PARAMETER),
    BAD("<user@example.com >", BAD_DOMAIN),
    BAD("< user@example.com>", BAD_LOCAL_PART),
    BAD("TO:<user@example.com>", BAD_LOCAL_PART),
    BAD("<user@example.com,user@foreign.example>", BAD_DOMAIN),
    BAD("<user@example.com:foreign.example>", BAD_DOMAIN),

    /* --- postmaster (RFC 5321 4.1.1.3) */
    PMASTER("<postmaster>"),
    PMASTER("<Postmaster>"),
    PMASTER("<POSTMASTER> NOTIFY=NEVER"),
    PMASTER("postmaster"),
    ACCEPT("<postmaster@example.com>"),
    BAD("<\"postmaster\">", NO_DOMAIN),
    BAD("<@a.example:postmaster>", NO_DOMAIN),
    BAD("<postmaster%foreign.example>", NO_DOMAIN),
    BAD("<foreign.example!postmaster>", NO_DOMAIN),
    BAD("<postmasters>", NO_DOMAIN),
    BAD("<user>", NO_DOMAIN),

    /* --- empty */
    BAD("<>", EMPTY),
    BAD("", EMPTY),
    BAD("   ", EMPTY),
    BAD("<> NOTIFY=NEVER", EMPTY),

    /* --- NUL, control characters, 8-bit bytes */
    BADN("<user\0@foreign.example@example.com>", CONTROL),
    BADN("<user@example.com>\0<user@foreign.example>", CONTROL),
    BADN("<user@foreign.example\0.example.com>", CONTROL),
    BAD("<user@example.com>\r\nRCPT TO:<user@foreign.example>", CONTROL),
    BAD("<user@foreign.example>\n", CONTROL),
    BAD("<user@exam\tple.com>", CONTROL),
    BAD("<\"user\x01\"@example.com>", CONTROL), /* not even quoted */
    BAD("<user@example.com\x7f>", CONTROL),
    BAD("<user@example.com> ORCPT=rfc822;a\x1b@b", CONTROL),
    BAD("<us\xc3\xa9r@example.com>", NON_ASCII),
    BAD("<user@b\xc3\xbc" "cher.example.org>", NON_ASCII),
    BAD("<user@ex\xc2\xad" "ample.com>", NON_ASCII), /* soft hyphen */
    BAD("<user@\xef\xbd\x85xample.com>", NON_ASCII), /* fullwidth e */
    BAD("<user@example.com\xc0\xae>", NON_ASCII),    /* overlong '.' */
    BAD("<user@example.com> NOTIFY=\xff", NON_ASCII),

    /* --- other malformations */
    BAD("<user@foreign.example@example.com>", EXTRA_AT),
    BAD("user@foreign.example@example.com", EXTRA_AT),
    BAD("<user@example.com@example.com>", EXTRA_AT),
    BAD("<user\\@foreign.example@example.com>", BAD_LOCAL_PART),
    BAD("<.user@example.com>", BAD_LOCAL_PART),
    BAD("<user.@example.com>", BAD_LOCAL_PART),
    BAD("<us..er@example.com>", BAD_LOCAL_PART),
    BAD("<us er@example.com>", BAD_LOCAL_PART),
    BAD("<user\"@example.com>", BAD_LOCAL_PART),
    BAD("<\"user\"x\"@example.com>", BAD_LOCAL_PART),
    BAD("<user(comment)@example.com>", BAD_LOCAL_PART),
    BAD("<\"user\".foo@example.com>", BAD_LOCAL_PART),
    BAD("<\"user@example.com>", UNBALANCED_QUOTE),
    BAD("\"user@example.com", UNBALANCED_QUOTE),
    BAD("<\"user\\\">", UNBALANCED_QUOTE),
    BAD("<@:user@example.com>", BAD_ROUTE),
    BAD("<@a.example user@example.com>", BAD_ROUTE),
    BAD("<@a.example,user@example.com>", BAD_ROUTE),
    BAD("<@a.example;@b.example:user@example.com>", BAD_ROUTE),
    BAD("<@[192.0.2.25]:user@foreign.example>", BAD_ROUTE),
    BAD("<@a.example:>", BAD_ROUTE),
    BAD("<@a.example:@b.example:user@example.com>", BAD_ROUTE),
    BAD("<@a..example:user@example.com>", BAD_ROUTE),
    BAD("<@" X64 ".example:user@example.com>", BAD_ROUTE),
    BAD("<user@-example.com>", BAD_DOMAIN),
    BAD("<user@example-.com>", BAD_DOMAIN),
    BAD("<user@exa_mple.com>", BAD_DOMAIN),
    BAD("<user@example.com%foreign.example>", BAD_DOMAIN),
    BAD("<user@*.example.org>", BAD_DOMAIN), /* no wildcard in a query */
    BAD("<user@example.com..>", EMPTY_LABEL), /* double trailing dot */
    BAD("user@example.com..", EMPTY_LABEL),
    BAD("<user@.example.com>", EMPTY_LABEL),
    BAD("<user@example..com>", EMPTY_LABEL),
    BAD("<user@.>", EMPTY_LABEL),
    BAD("<user@>", NO_DOMAIN),

    /* --- limits (RFC 5321 4.5.3.1) */
    ACCEPT("<" X64 "@example.com>"),
    BAD("<" X65 "@example.com>", LOCAL_TOO_LONG),
    BAD("<" X65 "%foreign.example@example.com>", LOCAL_TOO_LONG),
    ACCEPT("<\"" X62 "\"@example.com>"),
    BAD("<\"" X63 "\"@example.com>", LOCAL_TOO_LONG),
    ACCEPT("<user@" X63 ".example.org>"),
    BAD("<user@" X64 ".example.org>", LABEL_TOO_LONG),
    BAD("<user@" X64 ".example.com>", LABEL_TOO_LONG),
    BAD("<u@" DOM256 ">", DOMAIN_TOO_LONG),
    BAD("<u@" DOM255 ">", TOO_LONG), /* a legal domain, too long a path */
    ACCEPT("<" PATH254 ">"),
    ACCEPT(PATH254),
    BAD("<" PATH255 ">", TOO_LONG),
    BAD(PATH255, TOO_LONG),
    BAD("<@" X60 "." X60 "." X60 "." X60 ".example:user@example.com>",
        TOO_LONG),
};

/* Postfix's internal form: quotes removed, source route dropped, no
 * brackets, no parameters.  Every '@', '%' and '!' before the last '@' is
 * routing. */
static const vcase internal_cases[] = {
    ACCEPT("user@example.com"),
    ACCEPT("USER@EXAMPLE.COM."),
    ACCEPT("user@Mail.Example.Org"),
    ACCEPT("john smith@example.com"), /* was "john smith"@example.com */
    ACCEPT("john \"q\" smith@example.com"),
    ACCEPT("<user@example.com"), /* any printable byte may have been quoted */
    ACCEPT("@example.com"),      /* was ""@example.com */
    PMASTER("postmaster"),
    PMASTER("Postmaster"),
    ACCEPT(X64 "@example.com"),
    FOREIGN("user@foreign.example"),
    FOREIGN("user@example.org"),
    FOREIGN("user@evilexample.com"),
    FOREIGN("user@example.com.evil.net"),
    FOREIGN("postmaster@foreign.example"),
    ROUTED("user@foreign.example@example.com", R_XAT),
    ROUTED("\"user@foreign.example\"@example.com", R_XAT),
    ROUTED("a@foreign.example, b@foreign.example@example.com", R_XAT),
    ROUTED("@a.example:user@example.com", R_XAT), /* a route left in */
    ROUTED("user%foreign.example@example.com", R_PCT),
    ROUTED("foreign.example!user@example.com", R_BANG),
    ROUTED("user%foreign.example@mail.example.org", R_PCT),
    ROUTED("user%foreign.example@other.example", R_PCT),
    ROUTED("a!b%c@d@example.com", R_PCT | R_BANG | R_XAT),
    ROUTED("user@foreign.example@[192.0.2.25]", R_XAT | R_LIT),
    ROUTED("user%foreign.example@[192.0.2.99]", R_PCT | R_LIT),
    ROUTED("user@[192.0.2.25]@example.com", R_XAT),
    OWN_LIT("user@[192.0.2.25]"),
    OWN_LIT("user@[IPv6:2001:db8::25]"),
    OWN_LIT("user@[IPv6:::ffff:192.0.2.25]"),
    OWN_LIT("user@[192.0.2.99]"),
    FOREIGN_LIT("user@[198.51.100.1]"),
    FOREIGN_LIT("user@[IPv6:2001:db8::26]"),
    BAD("user@[192.0.2.025]", BAD_LITERAL),
    BAD("user@[192.0.2.25", UNBALANCED_BRACKET),
    BAD("<user@example.com>", BAD_DOMAIN),
    BAD("user@example.com NOTIFY=NEVER", BAD_DOMAIN),
    BAD("user@example..com", EMPTY_LABEL),
    BAD("user@example.com..", EMPTY_LABEL),
    BAD("user@*.example.org", BAD_DOMAIN),
    BAD("user@" X64 ".example.org", LABEL_TOO_LONG),
    BAD(X65 "@example.com", LOCAL_TOO_LONG),
    BAD("user@foreign.example@", NO_DOMAIN),
    BAD("user@", NO_DOMAIN),
    BAD("user", NO_DOMAIN),
    BAD("postmaster%foreign.example", NO_DOMAIN),
    BAD("", EMPTY),
    BADN("user\0@foreign.example@example.com", CONTROL),
    BAD("user@example.com\r\n", CONTROL),
    BAD("us\xc3\xa9r@example.com", NON_ASCII),
    BAD(X64 "@" X60 "." X60 "." X50 "xxxxxx.example.org", TOO_LONG),
};

/* ------------------------------------------------------------ the runner */

/* The input, printable, for failure messages. */
static const char *show(const char *s, size_t n)
{
    static char buf[1400];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

static relaypol_decision decide(const relaypol_policy *p, const char *client,
                                const char *rcpt, size_t len, uint32_t flags)
{
    relaypol_request r;
    relaypol_request_init(&r);
    ck_assert_int_eq(relaypol_addr_parse(client, &r.client), RELAYPOL_OK);
    ck_assert_int_eq(relaypol_addr_parse(LOCAL_ADDR, &r.local), RELAYPOL_OK);
    r.recipient = rcpt;
    r.recipient_len = len;
    r.flags = flags;
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    return d;
}

static void check_reply(const char *what, const char *in, size_t len,
                        const char *reply, reply_kind k)
{
    ck_assert_msg(reply != NULL, "%s %s: no reply", what, show(in, len));
    switch (k) {
    case K_OK:
        ck_assert_msg(strcmp(reply, REPLY_OK) == 0, "%s %s: reply '%s'",
                      what, show(in, len), reply);
        break;
    case K_DENIED:
        ck_assert_msg(strcmp(reply, REPLY_DENIED) == 0, "%s %s: reply '%s'",
                      what, show(in, len), reply);
        break;
    case K_ROUTED:
        ck_assert_msg(strcmp(reply, REPLY_ROUTED) == 0, "%s %s: reply '%s'",
                      what, show(in, len), reply);
        break;
    case K_LITERAL:
        ck_assert_msg(strncmp(reply, "550 5.7.1 ", 10) == 0 &&
                          strstr(reply, "literal") != NULL,
                      "%s %s: reply '%s'", what, show(in, len), reply);
        break;
    case K_SYNTAX:
        ck_assert_msg(strcmp(reply, REPLY_SYNTAX) == 0, "%s %s: reply '%s'",
                      what, show(in, len), reply);
        break;
    }
}

static void check_row(const relaypol_policy *p, const vcase *c,
                      uint32_t flags)
{
    size_t len = c->len ? c->len : strlen(c->in);
    const char *in = c->in;

    relaypol_decision d = decide(p, UNTRUSTED, in, len, flags);
    ck_assert_msg(d.verdict == c->uv && d.step == c->us,
                  "untrusted %s: got %s/%s, want %s/%s", show(in, len),
                  relaypol_verdict_name(d.verdict),
                  relaypol_step_name(d.step), relaypol_verdict_name(c->uv),
                  relaypol_step_name(c->us));
    ck_assert_msg(d.rcpt_error == c->err, "untrusted %s: error '%s', want '%s'",
                  show(in, len), relaypol_rcpt_error_name(d.rcpt_error),
                  relaypol_rcpt_error_name(c->err));
    ck_assert_msg(d.route == c->route, "untrusted %s: route 0x%x, want 0x%x",
                  show(in, len), (unsigned)d.route, (unsigned)c->route);
    check_reply("untrusted", in, len, d.reply, c->ur);
    /* A recipient decided local by its domain names the pattern. */
    if (d.step == RELAYPOL_STEP_ACCEPTED_DOMAIN && d.route == 0 &&
        memchr(in, '@', len) != NULL)
        ck_assert_msg(d.entry != NULL && d.entry_line > 0,
                      "untrusted %s: no accepted-domain entry",
                      show(in, len));

    d = decide(p, TRUSTED, in, len, flags);
    ck_assert_msg(d.verdict == c->tv && d.step == c->ts,
                  "relay client %s: got %s/%s, want %s/%s", show(in, len),
                  relaypol_verdict_name(d.verdict),
                  relaypol_step_name(d.step), relaypol_verdict_name(c->tv),
                  relaypol_step_name(c->ts));
    ck_assert_msg(d.rcpt_error == c->err,
                  "relay client %s: error '%s', want '%s'", show(in, len),
                  relaypol_rcpt_error_name(d.rcpt_error),
                  relaypol_rcpt_error_name(c->err));
    ck_assert_msg(d.route == c->route,
                  "relay client %s: route 0x%x, want 0x%x", show(in, len),
                  (unsigned)d.route, (unsigned)c->route);
    check_reply("relay client", in, len, d.reply,
                c->tv == RELAYPOL_DENY ? K_SYNTAX : K_OK);
    if (d.step == RELAYPOL_STEP_ALLOW_LIST)
        ck_assert_str_eq(d.entry, "10.0.0.0/8");
}

#define N_SMTP (sizeof smtp_cases / sizeof smtp_cases[0])
#define N_INTERNAL (sizeof internal_cases / sizeof internal_cases[0])

START_TEST(smtp_form)
{
    relaypol_policy *p = tu_load(POLICY);
    check_row(p, &smtp_cases[_i], 0);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(internal_form)
{
    relaypol_policy *p = tu_load(POLICY);
    check_row(p, &internal_cases[_i], RELAYPOL_REQ_RCPT_INTERNAL);
    relaypol_policy_free(p);
}
END_TEST

/* The table's own sanity: enough rows, every route bit and every reason
 * exercised in the SMTP table, and the long inputs as long as claimed. */
START_TEST(table_coverage)
{
    ck_assert_uint_ge(N_SMTP, 80);
    ck_assert_uint_ge(N_INTERNAL, 30);
    uint32_t routes = 0, xroutes = 0;
    unsigned errs = 0;
    for (size_t i = 0; i < N_SMTP; i++) {
        routes |= smtp_cases[i].route;
        errs |= 1u << smtp_cases[i].err;
    }
    for (size_t i = 0; i < N_INTERNAL; i++)
        xroutes |= internal_cases[i].route;
    ck_assert_uint_eq(routes, R_PCT | R_BANG | R_SRC | R_QAT | R_LIT);
    ck_assert_uint_eq(xroutes, R_PCT | R_BANG | R_XAT | R_LIT);
    for (unsigned e = RELAYPOL_RCPT_EMPTY; e <= RELAYPOL_RCPT_EXTRA_AT; e++)
        ck_assert_msg(errs & (1u << e), "no SMTP row for '%s'",
                      relaypol_rcpt_error_name((relaypol_rcpt_error)e));
}
END_TEST

START_TEST(long_inputs)
{
    ck_assert_uint_eq(strlen(X63), 63);
    ck_assert_uint_eq(strlen(X64), 64);
    ck_assert_uint_eq(strlen(X65), 65);
    ck_assert_uint_eq(strlen(PATH254), 254);
    ck_assert_uint_eq(strlen(PATH255), 255);
    ck_assert_uint_eq(strlen(DOM255), 255);
    ck_assert_uint_eq(strlen(DOM256), 256);
    ck_assert_uint_eq(strlen("\"" X62 "\""), 64);
}
END_TEST

/* ------------------------------------------------------- the relaxations */

typedef struct relax_case {
    const char *allow; /* the AllowRouting value */
    const char *in;
    uint32_t flags; /* RELAYPOL_REQ_* */
    uint32_t route;
    /* an untrusted client, then a client allowed to relay */
    relaypol_verdict uv;
    relaypol_step us;
    relaypol_verdict tv;
    relaypol_step ts;
} relax_case;

#define INTL RELAYPOL_REQ_RCPT_INTERNAL
/* The form is trusted: local for everyone. */
#define LOCAL_NOW(allow, in, fl, route)                                        \
    {allow, in, fl, route, V_LOCAL, S_ACCEPTED, V_LOCAL, S_ACCEPTED}
#define LOCAL_LIT_NOW(allow, in, fl, route)                                    \
    {allow, in, fl, route, V_LOCAL, S_LITERAL, V_LOCAL, S_LITERAL}
/* Still relaying: refused to the untrusted client. */
#define STILL_RELAY(allow, in, fl, route)                                      \
    {allow, in, fl, route, V_DENY, S_NO_RULE, V_RELAY, S_ALLOW}
#define STILL_BAD(allow, in, fl)                                               \
    {allow, in, fl, 0, V_DENY, S_BAD, V_DENY, S_BAD}

#define ALL "percent, bang, source-route, quoted-at, extra-at"

static const relax_case relax_cases[] = {
    /* none is the default */
    STILL_RELAY("none", "<user%foreign.example@example.com>", 0, R_PCT),
    STILL_RELAY("none", "user@foreign.example@example.com", INTL, R_XAT),

    /* percent: the %-hack only */
    LOCAL_NOW("percent", "<user%foreign.example@example.com>", 0, R_PCT),
    LOCAL_NOW("percent", "user%foreign.example@example.com", 0, R_PCT),
    LOCAL_NOW("percent", "<\"user%foreign.example\"@example.com>", 0, R_PCT),
    LOCAL_NOW("percent", "<user%a.example%b.example@mail.example.org>", 0,
              R_PCT),
    LOCAL_NOW("percent", "user%foreign.example@example.com", INTL, R_PCT),
    LOCAL_NOW("PERCENT", "<user%foreign.example@example.com>", 0, R_PCT),
    LOCAL_LIT_NOW("percent", "<user%foreign.example@[192.0.2.25]>", 0,
                  R_PCT | R_LIT),
    STILL_RELAY("percent", "<foreign.example!user@example.com>", 0, R_BANG),
    STILL_RELAY("percent", "foreign.example!user@example.com", INTL, R_BANG),
    STILL_RELAY("percent", "<foreign!user%other@example.com>", 0,
                R_PCT | R_BANG),
    STILL_RELAY("percent", "<@a.example:user%b.example@example.com>", 0,
                R_SRC | R_PCT),
    STILL_RELAY("percent", "<\"user@foreign.example\"@example.com>", 0, R_QAT),
    STILL_RELAY("percent", "<\"user%x@foreign.example\"@example.com>", 0,
                R_PCT | R_QAT),
    STILL_RELAY("percent", "<user%foreign.example@other.example>", 0, R_PCT),
    STILL_RELAY("percent", "<user%foreign.example@[198.51.100.1]>", 0,
                R_PCT | R_LIT),

    /* bang */
    LOCAL_NOW("bang", "<foreign.example!user@example.com>", 0, R_BANG),
    LOCAL_NOW("bang", "<\"user!x\"@example.com>", 0, R_BANG),
    LOCAL_NOW("bang", "a!b!user@example.com", INTL, R_BANG),
    STILL_RELAY("bang", "<user%foreign.example@example.com>", 0, R_PCT),
    STILL_RELAY("bang", "<foreign!user%x@example.com>", 0, R_PCT | R_BANG),
    STILL_RELAY("bang", "<@a.example:user@example.com>", 0, R_SRC),

    /* source-route: only for the SMTP form; in the internal form Postfix
     * has already dropped it, and what is left is an extra '@' */
    LOCAL_NOW("source-route", "<@a.example:user@example.com>", 0, R_SRC),
    LOCAL_NOW("source-route", "<@a.example,@b.example:user@example.com>", 0,
              R_SRC),
    LOCAL_LIT_NOW("source-route", "<@a.example:user@[192.0.2.25]>", 0,
                  R_SRC | R_LIT),
    STILL_RELAY("source-route", "<@example.com:user@foreign.example>", 0,
                R_SRC),
    STILL_RELAY("source-route", "<@a.example:user%b@example.com>", 0,
                R_SRC | R_PCT),
    STILL_RELAY("source-route", "@a.example:user@example.com", INTL, R_XAT),
    STILL_RELAY("source-route", "<user%foreign.example@example.com>", 0,
                R_PCT),

    /* quoted-at */
    LOCAL_NOW("quoted-at", "<\"user@foreign.example\"@example.com>", 0,
              R_QAT),
    LOCAL_NOW("quoted-at", "<\"user\\@foreign.example\"@example.com>", 0,
              R_QAT),
    STILL_RELAY("quoted-at", "<\"user%foreign.example\"@example.com>", 0,
                R_PCT),
    STILL_RELAY("quoted-at", "<\"a@b%c\"@example.com>", 0, R_QAT | R_PCT),
    STILL_RELAY("quoted-at", "user@foreign.example@example.com", INTL, R_XAT),
    STILL_RELAY("quoted-at", "<\"user@example.com\"@foreign.example>", 0,
                R_QAT),

    /* extra-at: only the internal form can carry it */
    LOCAL_NOW("extra-at", "user@foreign.example@example.com", INTL, R_XAT),
    LOCAL_NOW("extra-at", "\"user@foreign.example\"@example.com", INTL,
              R_XAT),
    LOCAL_LIT_NOW("extra-at", "user@foreign.example@[192.0.2.25]", INTL,
                  R_XAT | R_LIT),
    STILL_RELAY("extra-at", "<\"user@foreign.example\"@example.com>", 0,
                R_QAT),
    STILL_RELAY("extra-at", "user%foreign@x@example.com", INTL,
                R_PCT | R_XAT),
    STILL_RELAY("extra-at", "user@example.com@foreign.example", INTL, R_XAT),
    STILL_BAD("extra-at", "<user@foreign.example@example.com>", 0),

    /* all five: routing is trusted, the final domain still decides */
    LOCAL_NOW(ALL, "<@a.example,@b.example:\"x%y!z@w\"@example.com>", 0,
              R_SRC | R_PCT | R_BANG | R_QAT),
    LOCAL_NOW(ALL, "a!b%c@d@example.com", INTL, R_PCT | R_BANG | R_XAT),
    LOCAL_LIT_NOW(ALL, "<user%foreign.example@[IPv6:2001:db8::25]>", 0,
                  R_PCT | R_LIT),
    STILL_RELAY(ALL, "<user%foreign.example@other.example>", 0, R_PCT),
    STILL_BAD(ALL, "<user@example.com%foreign.example>", 0),
    STILL_RELAY(ALL, "<user%x@[198.51.100.1]>", 0, R_PCT | R_LIT),
    STILL_BAD(ALL, "<user@foreign.example@example.com>", 0),
    STILL_BAD(ALL, "<user@[IPv6:192.0.2.25]>", 0),
};

#define N_RELAX (sizeof relax_cases / sizeof relax_cases[0])

START_TEST(allow_routing)
{
    const relax_case *c = &relax_cases[_i];

    char text[512];
    snprintf(text, sizeof text,
             "RelayFlags = 3\n"
             "AcceptedDomains = example.com, *.example.org\n"
             "ServerAddresses = 192.0.2.25, 2001:db8::25\n"
             "AllowRouting = %s\n"
             "[RelayDenyList]\n"
             "10.66.0.0/16\n"
             "[RelayAllowList]\n"
             "10.0.0.0/8\n",
             c->allow);
    relaypol_policy *p = tu_load(text);
    size_t len = strlen(c->in);

    relaypol_decision d = decide(p, UNTRUSTED, c->in, len, c->flags);
    ck_assert_msg(d.verdict == c->uv && d.step == c->us,
                  "AllowRouting=%s, untrusted %s: got %s/%s, want %s/%s",
                  c->allow, show(c->in, len), relaypol_verdict_name(d.verdict),
                  relaypol_step_name(d.step), relaypol_verdict_name(c->uv),
                  relaypol_step_name(c->us));
    ck_assert_msg(d.route == c->route,
                  "AllowRouting=%s, %s: route 0x%x, want 0x%x", c->allow,
                  show(c->in, len), (unsigned)d.route, (unsigned)c->route);
    if (d.verdict != RELAYPOL_DENY)
        ck_assert_str_eq(d.reply, REPLY_OK);
    else if (d.step == RELAYPOL_STEP_BAD_RECIPIENT)
        ck_assert_str_eq(d.reply, REPLY_SYNTAX);
    else
        ck_assert(strncmp(d.reply, "550 5.7.1 Relaying denied", 25) == 0);

    d = decide(p, TRUSTED, c->in, len, c->flags);
    ck_assert_msg(d.verdict == c->tv && d.step == c->ts,
                  "AllowRouting=%s, relay client %s: got %s/%s, want %s/%s",
                  c->allow, show(c->in, len), relaypol_verdict_name(d.verdict),
                  relaypol_step_name(d.step), relaypol_verdict_name(c->tv),
                  relaypol_step_name(c->ts));
    relaypol_policy_free(p);
}
END_TEST

/* A relaxation trusts one form and nothing else: with every form but one
 * allowed, the one left out is still relaying. */
START_TEST(allow_routing_all_but_one)
{
    static const struct {
        const char *allow;
        const char *in;
        uint32_t flags;
    } rows[] = {
        {"bang, source-route, quoted-at, extra-at",
         "<user%foreign.example@example.com>", 0},
        {"percent, source-route, quoted-at, extra-at",
         "<foreign.example!user@example.com>", 0},
        {"percent, bang, quoted-at, extra-at",
         "<@foreign.example:user@example.com>", 0},
        {"percent, bang, source-route, extra-at",
         "<\"user@foreign.example\"@example.com>", 0},
        {"percent, bang, source-route, quoted-at",
         "user@foreign.example@example.com", INTL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "RelayFlags = 3\nAcceptedDomains = example.com\n"
                 "AllowRouting = %s\n[RelayAllowList]\n10.0.0.0/8\n",
                 rows[i].allow);
        relaypol_policy *p = tu_load(text);
        relaypol_decision d = decide(p, UNTRUSTED, rows[i].in,
                                     strlen(rows[i].in), rows[i].flags);
        ck_assert_msg(d.verdict == RELAYPOL_DENY &&
                          d.step == RELAYPOL_STEP_NO_RULE,
                      "AllowRouting=%s: %s was %s", rows[i].allow, rows[i].in,
                      relaypol_verdict_name(d.verdict));
        ck_assert_str_eq(d.reply, REPLY_ROUTED);
        d = decide(p, TRUSTED, rows[i].in, strlen(rows[i].in), rows[i].flags);
        ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
        relaypol_policy_free(p);
    }
}
END_TEST

START_TEST(allow_routing_unknown_form_refused)
{
    static const char *bad[] = {"percent, uucp", "all", "colon", "%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "RelayFlags = 3\nAcceptedDomains = example.com\n"
                 "AllowRouting = %s\n",
                 bad[i]);
        relaypol_policy *p = NULL;
        relaypol_error err;
        ck_assert_int_eq(relaypol_policy_load_string(text, strlen(text), "t",
                                                     NULL, &p, &err),
                         RELAYPOL_ERR_POLICY);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(err.line, 3);
    }
}
END_TEST

/* ------------------------------------------------------------ the replies */

START_TEST(reply_per_reason)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_decision d;
    static const char *routed[] = {
        "<user%foreign.example@example.com>",
        "<foreign.example!user@example.com>",
        "<@foreign.example:user@example.com>",
        "<\"user@foreign.example\"@example.com>",
        "<user%foreign.example@[198.51.100.1]>", /* routing comes first */
    };
    for (size_t i = 0; i < sizeof routed / sizeof routed[0]; i++) {
        d = decide(p, UNTRUSTED, routed[i], strlen(routed[i]), 0);
        ck_assert_str_eq(d.reply,
                         "550 5.7.1 Relaying denied: routed recipient address");
    }
    d = decide(p, UNTRUSTED, "user@foreign.example@example.com",
               strlen("user@foreign.example@example.com"),
               RELAYPOL_REQ_RCPT_INTERNAL);
    ck_assert_str_eq(d.reply, REPLY_ROUTED);

    d = decide(p, UNTRUSTED, "<user@[198.51.100.1]>", 21, 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_ptr_nonnull(strstr(d.reply, "literal"));
    ck_assert(strncmp(d.reply, "550 5.7.1 Relaying denied", 25) == 0);
    ck_assert_str_ne(d.reply, REPLY_ROUTED);

    d = decide(p, UNTRUSTED, "<user@foreign.example>", 22, 0);
    ck_assert_str_eq(d.reply, "550 5.7.1 Relaying denied");

    static const char *bad[] = {"<user@foreign.example@example.com>",
                                "<user@[300.1.1.1]>", "<>", "<user",
                                "<\"user@example.com>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = decide(p, UNTRUSTED, bad[i], strlen(bad[i]), 0);
        ck_assert_str_eq(d.reply, "501 5.1.3 Bad recipient address syntax");
        d = decide(p, TRUSTED, bad[i], strlen(bad[i]), 0);
        ck_assert_str_eq(d.reply, "501 5.1.3 Bad recipient address syntax");
    }

    /* A client allowed to relay gets 250 for each of them. */
    d = decide(p, TRUSTED, routed[0], strlen(routed[0]), 0);
    ck_assert_str_eq(d.reply, REPLY_OK);
    d = decide(p, TRUSTED, "<user@[198.51.100.1]>", 21, 0);
    ck_assert_str_eq(d.reply, REPLY_OK);
    relaypol_policy_free(p);
}
END_TEST

/* The explanation line names the route bits and the reason, so that logs
 * tell the refusals apart. */
START_TEST(explanation_names_route_and_reason)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_request r;
    relaypol_request_init(&r);
    ck_assert_int_eq(relaypol_addr_parse(UNTRUSTED, &r.client), RELAYPOL_OK);
    r.recipient = "<@a.example:\"x%y!z@w\"@[192.0.2.25]>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    char buf[512];
    relaypol_explain(&d, &r, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "route=percent,bang,source-route,quoted-at,"
                              "literal") != NULL,
                  "%s", buf);

    r.recipient = "<user@[IPv6:192.0.2.25]>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    relaypol_explain(&d, &r, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "error=\"malformed address literal\"") != NULL,
                  "%s", buf);

    /* Control characters in the recipient do not reach the log raw. */
    r.recipient = "<a@foreign.example>\r\n250 ok";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    ck_assert_int_eq(d.rcpt_error, RELAYPOL_RCPT_CONTROL);
    relaypol_explain(&d, &r, buf, sizeof buf);
    ck_assert_ptr_null(strchr(buf, '\r'));
    ck_assert_ptr_null(strchr(buf, '\n'));
    relaypol_policy_free(p);
}
END_TEST

/* Which accepted-domain pattern decided, and that case and the root dot
 * do not change it. */
START_TEST(accepted_domain_entry)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_decision d = decide(p, UNTRUSTED, "<user@Mail.Example.Org.>",
                                 strlen("<user@Mail.Example.Org.>"), 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    ck_assert_str_eq(d.entry, "*.example.org");
    d = decide(p, UNTRUSTED, "<USER@EXAMPLE.COM>", 18, 0);
    ck_assert_str_eq(d.entry, "example.com");
    /* Routed to an accepted domain: no domain entry decided it. */
    d = decide(p, UNTRUSTED, "<user%x@example.com>", 20, 0);
    ck_assert_ptr_null(d.entry);
    relaypol_policy_free(p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recipient_verdicts");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, table_coverage);
    tcase_add_test(tc, long_inputs);
    tcase_add_loop_test(tc, smtp_form, 0, (int)N_SMTP);
    tcase_add_loop_test(tc, internal_form, 0, (int)N_INTERNAL);
    suite_add_tcase(s, tc);
    tc = tcase_create("relaxations");
    tcase_add_loop_test(tc, allow_routing, 0, (int)N_RELAX);
    tcase_add_test(tc, allow_routing_all_but_one);
    tcase_add_test(tc, allow_routing_unknown_form_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("replies");
    tcase_add_test(tc, reply_per_reason);
    tcase_add_test(tc, explanation_names_route_and_reason);
    tcase_add_test(tc, accepted_domain_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
