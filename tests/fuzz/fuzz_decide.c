/*
 * fuzz_decide: builds a small random policy from the input, then decides
 * random requests against it and checks what must hold whatever the
 * policy says:
 *   - a client in RelayDenyList is never relayed while bit 1 is set;
 *   - an IPv4 client (and local address) gets exactly the decision of its
 *     ::ffff: mapped form;
 *   - verdict, step, reply, recipient error and entry agree with each
 *     other;
 *   - for a plain remote recipient without authentication, the step and
 *     the deciding entry are what a brute-force walk of the lists in the
 *     seed's order gives (most specific entry, earliest on a tie);
 *   - deciding never calls the policy's allocator;
 *   - relaypol_explain always terminates its text and reports its length.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static unsigned byte(rd *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_decide: %s\n", what);
    abort();
}

/* The policy text under construction. */
typedef struct text {
    char buf[16384];
    size_t len;
    uint32_t line; /* lines written so far */
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    check(k > 0 && (size_t)k < sizeof t->buf - t->len, "policy text overflow");
    t->len += (size_t)k;
    for (int i = 0; i < k; i++)
        if (t->buf[t->len - (size_t)k + (size_t)i] == '\n')
            t->line++;
}

/* What the harness itself knows about each list entry. */
typedef struct known {
    rp_net net;
    uint32_t line;
} known;

#define MAXE 24
typedef struct lists {
    known e[4][MAXE];
    size_t n[4];
} lists;

/* Addresses come from a tiny space so that entries and clients meet. */
static void rand_v4(rd *r, uint8_t b[4])
{
    b[0] = 10;
    b[1] = 0;
    b[2] = (uint8_t)(byte(r) & 3);
    b[3] = (uint8_t)byte(r);
}

static void rand_v6(rd *r, uint8_t b[16])
{
    static const uint8_t base[16] = {0x20, 0x01, 0x0d, 0xb8};
    memcpy(b, base, 16);
    b[13] = (uint8_t)(byte(r) & 3);
    b[15] = (uint8_t)byte(r);
}

static void add_entry(rd *r, text *t, lists *ls, int list)
{
    unsigned kind = byte(r) % 4;
    uint8_t a[16];
    char line[128];
    char as[RELAYPOL_ADDR_STRLEN];
    relaypol_addr ad;
    memset(&ad, 0, sizeof ad);
    if (kind == 3) { /* IPv6 */
        rand_v6(r, a);
        unsigned plen = 104 + byte(r) % 25;
        for (unsigned i = plen; i < 128; i++)
            a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        relaypol_addr_from_bytes(a, 16, &ad);
        relaypol_addr_format(&ad, as, sizeof as);
        snprintf(line, sizeof line, "%s/%u", as, plen);
    } else if (kind == 2) { /* the seed's Net;mask, maybe non-contiguous */
        rand_v4(r, a);
        uint8_t m[4] = {255, 255, (uint8_t)byte(r), (uint8_t)byte(r)};
        for (int i = 0; i < 4; i++)
            a[i] &= m[i];
        snprintf(line, sizeof line, "%u.%u.%u.%u;%u.%u.%u.%u", a[0], a[1],
                 a[2], a[3], m[0], m[1], m[2], m[3]);
    } else { /* CIDR, sometimes written IPv4-mapped */
        rand_v4(r, a);
        unsigned plen = 16 + byte(r) % 17;
        for (unsigned i = plen; i < 32; i++)
            a[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
        if (kind == 1)
            snprintf(line, sizeof line, "::ffff:%u.%u.%u.%u/%u", a[0], a[1],
                     a[2], a[3], 96 + plen);
        else
            snprintf(line, sizeof line, "%u.%u.%u.%u/%u", a[0], a[1], a[2],
                     a[3], plen);
    }
    known *k = &ls->e[list][ls->n[list]];
    rp_perr e;
    check(rp_net_parse(line, strlen(line), 0, &k->net, &e),
          "generated entry does not parse");
    put(t, "%s\n", line);
    k->line = t->line;
    ls->n[list]++;
}

/* The most specific entry of a list that matches a (folded) address, as
 * relaypol documents it: most mask bits, then the earliest. */
static const known *best(const lists *ls, int list, const relaypol_addr *a)
{
    const known *b = NULL;
    int bbits = -1;
    for (size_t i = 0; i < ls->n[list]; i++) {
        const known *k = &ls->e[list][i];
        if (!rp_net_match(&k->net, a))
            continue;
        int bits = 0;
        for (int j = 0; j < 16; j++)
            bits += __builtin_popcount(k->net.mask[j]);
        if (bits > bbits) {
            b = k;
            bbits = bits;
        }
    }
    return b;
}

static bool same(const relaypol_decision *a, const relaypol_decision *b)
{
    return a->verdict == b->verdict && a->step == b->step &&
           a->route == b->route && a->rcpt_error == b->rcpt_error &&
           a->auth == b->auth && a->entry == b->entry &&
           a->entry_line == b->entry_line && a->reply == b->reply &&
           rp_addr_equal(&a->client, &b->client);
}

static void consistent(const relaypol_decision *d)
{
    switch (d->verdict) {
    case RELAYPOL_RELAY:
        check(d->step == RELAYPOL_STEP_ALLOW_LIST ||
                  d->step == RELAYPOL_STEP_LOCAL_IP_LIST ||
                  d->step == RELAYPOL_STEP_AUTHENTICATED ||
                  d->step == RELAYPOL_STEP_ONLY_DENY_BIT,
              "relay with a step that does not relay");
        check(strncmp(d->reply, "250 ", 4) == 0, "relay without a 250");
        break;
    case RELAYPOL_LOCAL:
        check(d->step == RELAYPOL_STEP_ACCEPTED_DOMAIN ||
                  d->step == RELAYPOL_STEP_LOCAL_LITERAL,
              "local with a step that is not local");
        check(strncmp(d->reply, "250 ", 4) == 0, "local without a 250");
        break;
    case RELAYPOL_DENY:
        check(d->step == RELAYPOL_STEP_DENY_LIST ||
                  d->step == RELAYPOL_STEP_NO_RULE ||
                  d->step == RELAYPOL_STEP_BAD_RECIPIENT ||
                  d->step == RELAYPOL_STEP_SUBMISSION,
              "deny with a step that allows");
        check(d->reply[0] == '5', "deny without a 5xx reply");
        break;
    default:
        check(false, "unknown verdict");
    }
    check((d->step == RELAYPOL_STEP_BAD_RECIPIENT) ==
              (d->rcpt_error != RELAYPOL_RCPT_OK),
          "recipient error and step disagree");
    check((d->entry != NULL) == (d->entry_line != 0),
          "entry and entry_line disagree");
    check(d->step != RELAYPOL_STEP_DENY_LIST || d->entry,
          "deny-list step without its entry");
    check(d->step != RELAYPOL_STEP_ALLOW_LIST || d->entry,
          "allow-list step without its entry");
    check(d->client.family == RELAYPOL_AF_INET ||
              d->client.family == RELAYPOL_AF_INET6,
          "decided client without a family");
    check(!rp_addr_is_mapped(&d->client), "decided client not folded");
}

static const char *const fixed_rcpts[] = {
    "<r@remote.example>", "<a@example.com>", "<b@x.example.org>",
    "<postmaster>", "<c%remote.example@example.com>",
    "<@example.com:d@remote.example>", "<\"e@remote.example\"@example.com>",
    "<f@[192.0.2.25]>", "<g@[10.0.1.1]>", "<h@[IPv6:2001:db8::1]>",
    "<bad..dots@example.com>", "<x@remote.example> NOTIFY=NEVER",
    "i@remote.example@example.com", "j!remote.example!k@example.com",
    "<l@EXAMPLE.COM.>", "",
};

static void mapped(const relaypol_addr *a, relaypol_addr *m)
{
    memset(m, 0, sizeof *m);
    m->family = RELAYPOL_AF_INET6;
    m->bytes[10] = m->bytes[11] = 0xff;
    memcpy(m->bytes + 12, a->bytes, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size};
    static text t;
    static lists ls;
    memset(&ls, 0, sizeof ls);
    t.len = 0;
    t.line = 0;

    unsigned flags = byte(&r) & 15;
    unsigned misc = byte(&r);
    put(&t, "RelayFlags = %u\n", flags);
    put(&t, "AcceptedDomains = example.com, *.example.org\n");
    put(&t, "AuthRequiresTLS = %s\n", (misc & 1) ? "yes" : "no");
    static const char *const subm[] = {"anyone", "restricted", "none",
                                       "anyone"};
    put(&t, "Submission = %s\n", subm[(misc >> 1) & 3]);
    if (misc & 8)
        put(&t, "RelayUsers = alice, @staff\n[Group staff]\nbob\n");
    if (misc & 16)
        put(&t, "ServerAddresses = 192.0.2.25, 10.0.1.1\n");
    if (misc & 32)
        put(&t, "AllowRouting = percent\n");
    static const char *const sect[4] = {"RelayDenyList", "RelayAllowList",
                                        "RelayLocalIPList",
                                        "SubmitAllowList"};
    for (int l = 0; l < 4; l++) {
        unsigned n = byte(&r) % (MAXE + 1);
        if (n == 0)
            continue;
        put(&t, "[%s]\n", sect[l]);
        for (unsigned i = 0; i < n; i++)
            add_entry(&r, &t, &ls, l);
    }

    fz_alloc fa;
    memset(&fa, 0, sizeof fa);
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = fz_alloc_fn;
    o.alloc_ud = &fa;
    relaypol_policy *p = NULL;
    relaypol_error err;
    if (relaypol_policy_load_string(t.buf, t.len, "gen", &o, &p, &err) !=
        RELAYPOL_OK) {
        fprintf(stderr, "%.*s\nline %u col %u: %s\n", (int)t.len, t.buf,
                (unsigned)err.line, (unsigned)err.column, err.message);
        check(false, "generated policy does not load");
    }
    unsigned long calls = fa.calls;

    unsigned nreq = 1 + byte(&r) % 8;
    for (unsigned q = 0; q < nreq; q++) {
        unsigned k = byte(&r);
        relaypol_request rq;
        relaypol_request_init(&rq);
        uint8_t b[16];
        if (k & 1) {
            rand_v6(&r, b);
            relaypol_addr_from_bytes(b, 16, &rq.client);
        } else {
            rand_v4(&r, b);
            relaypol_addr_from_bytes(b, 4, &rq.client);
        }
        if (k & 2) {
            rand_v4(&r, b);
            relaypol_addr_from_bytes(b, 4, &rq.local);
        }
        static const char *const users[] = {NULL, "alice", "bob", "mallory"};
        rq.user = users[(k >> 2) & 3];
        if (k & 16)
            rq.flags |= RELAYPOL_REQ_TLS;
        if (k & 32)
            rq.flags |= RELAYPOL_REQ_RCPT_INTERNAL;
        char raw[64];
        unsigned which = byte(&r);
        size_t nfixed = sizeof fixed_rcpts / sizeof fixed_rcpts[0];
        if (which % 4 == 3) {
            /* Raw bytes from the input as the recipient. */
            size_t rl = byte(&r) % sizeof raw;
            for (size_t i = 0; i < rl; i++)
                raw[i] = (char)byte(&r);
            rq.recipient = raw;
            rq.recipient_len = rl;
        } else {
            rq.recipient = fixed_rcpts[which % nfixed];
            rq.recipient_len = strlen(rq.recipient);
        }

        relaypol_decision d;
        relaypol_decision_init(&d);
        check(relaypol_decide(p, &rq, &d) == RELAYPOL_OK, "decide failed");
        consistent(&d);

        relaypol_addr client = rq.client;
        rp_addr_fold(&client);
        const known *deny = best(&ls, RP_LIST_DENY, &client);
        const known *allow = best(&ls, RP_LIST_ALLOW, &client);
        relaypol_addr local = rq.local;
        rp_addr_fold(&local);
        const known *lip = rq.local.family ? best(&ls, RP_LIST_LOCAL, &local)
                                           : NULL;
        /* The seed's first rule: a denied client never relays. */
        if ((flags & 1) && deny)
            check(d.verdict != RELAYPOL_RELAY, "a denied client relays");
        if (d.step == RELAYPOL_STEP_DENY_LIST)
            check((flags & 1) && deny && d.entry_line == deny->line,
                  "deny-list step without the most specific deny entry");
        if (d.step == RELAYPOL_STEP_ALLOW_LIST)
            check((flags & 2) && allow && !((flags & 1) && deny) &&
                      d.entry_line == allow->line,
                  "allow-list step without the most specific allow entry");
        if (d.step == RELAYPOL_STEP_LOCAL_IP_LIST)
            check((flags & 4) && lip && d.entry_line == lip->line,
                  "local-ip step without a local-ip entry");
        if (d.step == RELAYPOL_STEP_AUTHENTICATED)
            check((flags & 8) && rq.user, "authenticated step without auth");
        if (d.step == RELAYPOL_STEP_ONLY_DENY_BIT)
            check(flags == 1 && !deny, "only-deny-bit step with flags != 1");

        /* A plain remote recipient without authentication: the whole
         * RelayFlags order, brute force. */
        if (rq.recipient == fixed_rcpts[0] && !rq.user &&
            !(rq.flags & RELAYPOL_REQ_RCPT_INTERNAL)) {
            relaypol_step want;
            const known *by = NULL;
            if ((flags & 1) && deny) {
                want = RELAYPOL_STEP_DENY_LIST;
                by = deny;
            } else if ((flags & 2) && allow) {
                want = RELAYPOL_STEP_ALLOW_LIST;
                by = allow;
            } else if ((flags & 4) && lip) {
                want = RELAYPOL_STEP_LOCAL_IP_LIST;
                by = lip;
            } else if (flags == 1) {
                want = RELAYPOL_STEP_ONLY_DENY_BIT;
            } else {
                want = RELAYPOL_STEP_NO_RULE;
            }
            if (d.step != want || d.entry_line != (by ? by->line : 0)) {
                fprintf(stderr, "%.*s\nstep %s line %u, want %s line %u\n",
                        (int)t.len, t.buf, relaypol_step_name(d.step),
                        (unsigned)d.entry_line, relaypol_step_name(want),
                        by ? (unsigned)by->line : 0u);
                check(false, "decision differs from the brute-force walk");
            }
        }

        /* The same request from the ::ffff: forms. */
        if (rq.client.family == RELAYPOL_AF_INET ||
            rq.local.family == RELAYPOL_AF_INET) {
            relaypol_request m = rq;
            if (rq.client.family == RELAYPOL_AF_INET)
                mapped(&rq.client, &m.client);
            if (rq.local.family == RELAYPOL_AF_INET && (k & 64))
                mapped(&rq.local, &m.local);
            relaypol_decision dm;
            relaypol_decision_init(&dm);
            check(relaypol_decide(p, &m, &dm) == RELAYPOL_OK,
                  "decide failed (mapped)");
            check(same(&d, &dm), "IPv4 and its ::ffff: form decide "
                                 "differently");
        }

        char small[16], big[1024];
        size_t need = relaypol_explain(&d, &rq, big, sizeof big);
        check(need > 0 && strlen(big) == (need < sizeof big ? need
                                                            : sizeof big - 1),
              "explain length");
        size_t need2 = relaypol_explain(&d, &rq, small, sizeof small);
        check(need2 == need && strlen(small) == sizeof small - 1,
              "explain into a short buffer");
        check(relaypol_explain(&d, &rq, NULL, 0) == need,
              "explain without a buffer");
    }
    check(fa.calls == calls, "deciding called the allocator");
    relaypol_policy_free(p);
    check(fa.live_blocks == 0 && fa.live_bytes == 0, "policy leaked");
    return 0;
}
