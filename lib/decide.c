/*
 * The decision for one RCPT TO, in the evaluation order of Exchange 5.5's
 * RelayFlags (Microsoft KB Q193922, seed 001), after deciding whether the
 * recipient is local at all.  Deciding reads the policy and the request
 * only: no allocation, no locks, no writes outside *out.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "internal.h"
#include "rcpt_fast.h"

/* The decision's parts are inlined into both entry points (the public
 * one and the deferred one): left to itself, the compiler stops inlining
 * them once there are two callers, which cost a tenth of a decision. */
#define RP_INLINE inline __attribute__((always_inline))

/* Replies at RCPT time (RFC 5321 4.2, enhanced codes RFC 3463).  A refusal
 * is always given at RCPT: accepting and bouncing later would send
 * backscatter to forged senders. */
static const char REPLY_OK[] = "250 2.1.5 Ok";
static const char REPLY_DENIED[] = "550 5.7.1 Relaying denied";
static const char REPLY_ROUTED[] =
    "550 5.7.1 Relaying denied: routed recipient address";
static const char REPLY_LITERAL[] =
    "550 5.7.1 Relaying denied: address literal is not this server";
static const char REPLY_NO_TLS[] =
    "550 5.7.1 Relaying denied: authentication counts only over TLS";
static const char REPLY_NOT_LISTED[] =
    "550 5.7.1 Relaying denied for this account";
static const char REPLY_SUBMISSION[] =
    "550 5.7.1 Mail submission not accepted from this client";
static const char REPLY_BAD_RCPT[] =
    "501 5.1.3 Bad recipient address syntax";

void relaypol_request_init(relaypol_request *req)
{
    if (!req)
        return;
    memset(req, 0, sizeof *req);
    req->size = sizeof *req;
}

void relaypol_decision_init(relaypol_decision *d)
{
    if (!d)
        return;
    memset(d, 0, sizeof *d);
    d->size = sizeof *d;
}

/* Looks a user up in the RelayUsers expansion (sorted by length, then
 * bytes: policy.c): exact bytes, as the server hands them (case is
 * significant: servers differ in how they fold it, and folding here could
 * merge two accounts). */
static const rp_user *find_user(const relaypol_policy *p, const char *u,
                                size_t n)
{
    size_t lo = 0, hi = p->n_users;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rp_user *x = &p->users[mid];
        int c = x->len != n ? (x->len < n ? -1 : 1)
                            : memcmp(p->pool + x->name, u, n);
        if (c == 0)
            return x;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static size_t bounded_strlen(const char *s, size_t max)
{
    const char *z = memchr(s, '\0', max + 1);
    return z ? (size_t)(z - s) : max + 1;
}

/* What authentication is worth for this request: whether it permits
 * relaying (and submission), and if not, why not. */
static relaypol_auth auth_state(const relaypol_policy *p,
                                const relaypol_request *req,
                                const rp_token **tok)
{
    *tok = NULL;
    if (!req->user)
        return RELAYPOL_AUTH_NONE;
    /* Seed 003: credentials sent in clear are stolen credentials waiting
     * to happen, so a policy may insist on TLS before they count. */
    if (p->auth_requires_tls && !(req->flags & RELAYPOL_REQ_TLS))
        return RELAYPOL_AUTH_NO_TLS;
    if (p->users_restricted) {
        size_t n = bounded_strlen(req->user, 1024);
        const rp_user *u = n <= 1024 ? find_user(p, req->user, n) : NULL;
        if (!u)
            return RELAYPOL_AUTH_NOT_LISTED;
        *tok = &p->tokens[u->token];
    }
    return RELAYPOL_AUTH_USED;
}

static bool is_server_address(const relaypol_policy *p,
                              const relaypol_addr *lit,
                              const relaypol_addr *local)
{
    if (local->family != RELAYPOL_AF_NONE && rp_addr_equal(lit, local))
        return true;
    /* ServerAddresses is sorted (policy.c). */
    return p->n_server_addrs &&
           bsearch(lit, p->server_addrs, p->n_server_addrs,
                   sizeof *p->server_addrs, rp_addr_cmp) != NULL;
}

static void set_entry(relaypol_decision *out, const relaypol_policy *p,
                      const rp_hit *en)
{
    out->entry = rp_str(p, en->text);
    out->entry_line = en->line;
}

/* An address-list entry decided: its record now, or a reference to it
 * for rp_hitref_resolve() when the caller defers it (ref non-NULL). */
static inline void list_hit(relaypol_decision *out, const relaypol_policy *p,
                            rp_hitref *ref, enum rp_list list, int32_t pos)
{
    if (ref) {
        ref->pos = pos;
        ref->list = (uint8_t)list;
        return;
    }
    set_entry(out, p, rp_policy_hit(p, list, pos));
}

static void finish(relaypol_decision *out, relaypol_verdict v,
                   relaypol_step s, const char *reply)
{
    out->verdict = v;
    out->step = s;
    out->reply = reply;
}

/* The seed's rules for a recipient that is not local. */
static RP_INLINE void decide_relay(const relaypol_policy *p,
                                   const relaypol_request *req,
                                   const relaypol_addr *local,
                                   bool untrusted_route,
                                   const int32_t hit[2],
                                   relaypol_decision *out, rp_hitref *ref)
{
    uint32_t flags = p->relay_flags;

    /* 1. bit 1 and the client is in RelayDenyList: refused, whatever
     *    follows; this is what makes "allow a subnet except a few"
     *    (RelayFlags 3) work. */
    if ((flags & 1) && hit[0] >= 0) {
        list_hit(out, p, ref, RP_LIST_DENY, hit[0]);
        finish(out, RELAYPOL_DENY, RELAYPOL_STEP_DENY_LIST, REPLY_DENIED);
        return;
    }
    /* 2. bit 2 and the client is in RelayAllowList. */
    if ((flags & 2) && hit[1] >= 0) {
        list_hit(out, p, ref, RP_LIST_ALLOW, hit[1]);
        finish(out, RELAYPOL_RELAY, RELAYPOL_STEP_ALLOW_LIST, REPLY_OK);
        return;
    }
    /* 3. bit 3 and the client reached one of the listed local addresses
     *    (a multi-homed server's inside interface). */
    if ((flags & 4) && local->family != RELAYPOL_AF_NONE) {
        int32_t lh[2] = {-1, -1};
        rp_netset_lookup(p->local_set, local, lh);
        if (lh[0] >= 0) {
            list_hit(out, p, ref, RP_LIST_LOCAL, lh[0]);
            finish(out, RELAYPOL_RELAY, RELAYPOL_STEP_LOCAL_IP_LIST,
                   REPLY_OK);
            return;
        }
    }
    /* 4. bit 4 and the client authenticated (and, with the seed 003
     *    hardening, over TLS and as a permitted account). */
    if (req->user) {
        if (!(flags & 8)) {
            out->auth = RELAYPOL_AUTH_NOT_ENABLED;
        } else {
            const rp_token *tok;
            out->auth = auth_state(p, req, &tok);
            if (out->auth == RELAYPOL_AUTH_USED) {
                if (tok) {
                    out->entry = rp_str(p, tok->text);
                    out->entry_line = tok->line;
                }
                finish(out, RELAYPOL_RELAY, RELAYPOL_STEP_AUTHENTICATED,
                       REPLY_OK);
                return;
            }
        }
    }
    /* 5. only bit 1 set: everyone not denied may relay. */
    if (flags == 1) {
        finish(out, RELAYPOL_RELAY, RELAYPOL_STEP_ONLY_DENY_BIT, REPLY_OK);
        return;
    }
    /* 6. nothing allowed it. */
    const char *reply = REPLY_DENIED;
    if (out->auth == RELAYPOL_AUTH_NO_TLS)
        reply = REPLY_NO_TLS;
    else if (out->auth == RELAYPOL_AUTH_NOT_LISTED)
        reply = REPLY_NOT_LISTED;
    else if (untrusted_route)
        reply = REPLY_ROUTED; /* the routing, not the domain, decided */
    else if (out->route & RELAYPOL_ROUTE_LITERAL)
        reply = REPLY_LITERAL;
    finish(out, RELAYPOL_DENY, RELAYPOL_STEP_NO_RULE, reply);
}

/* Submission control for mail to the accepted domains (seed 003). */
static RP_INLINE void decide_local(const relaypol_policy *p,
                                   const relaypol_request *req,
                                   const relaypol_addr *client,
                                   relaypol_step step, relaypol_decision *out,
                                   rp_hitref *ref)
{
    if (p->submission == RP_SUBMIT_ANYONE) {
        finish(out, RELAYPOL_LOCAL, step, REPLY_OK);
        return;
    }
    if (p->submission == RP_SUBMIT_RESTRICTED) {
        int32_t hit[2] = {-1, -1};
        rp_netset_lookup(p->submit_set, client, hit);
        if (hit[0] >= 0) {
            list_hit(out, p, ref, RP_LIST_SUBMIT, hit[0]);
            finish(out, RELAYPOL_LOCAL, step, REPLY_OK);
            return;
        }
        const rp_token *tok;
        out->auth = auth_state(p, req, &tok);
        if (out->auth == RELAYPOL_AUTH_USED) {
            if (tok) {
                out->entry = rp_str(p, tok->text);
                out->entry_line = tok->line;
            }
            finish(out, RELAYPOL_LOCAL, step, REPLY_OK);
            return;
        }
    }
    finish(out, RELAYPOL_DENY, RELAYPOL_STEP_SUBMISSION, REPLY_SUBMISSION);
}

/* The smallest layouts ever published (0.1).  Fields appended later must
 * be read only when the caller's size covers them; these minimums never
 * grow, so programs built against an older header keep working. */
#define REQUEST_MIN_SIZE (offsetof(relaypol_request, flags) + sizeof(uint32_t))
#define DECISION_MIN_SIZE (offsetof(relaypol_decision, client) + \
                           sizeof(relaypol_addr))

/* relaypol_decide() and rp_decide_deferred(): one body, inlined into
 * each so that the public path keeps no trace of the deferral. */
static RP_INLINE relaypol_status decide(const relaypol_policy *p,
                                        const relaypol_request *req,
                                        relaypol_decision *out,
                                        rp_hitref *ref)
{
    if (!p || !req || !out || req->size < REQUEST_MIN_SIZE ||
        out->size < DECISION_MIN_SIZE)
        return RELAYPOL_ERR_INVALID;
    if ((req->client.family != RELAYPOL_AF_INET &&
         req->client.family != RELAYPOL_AF_INET6) ||
        (req->local.family != RELAYPOL_AF_NONE &&
         req->local.family != RELAYPOL_AF_INET &&
         req->local.family != RELAYPOL_AF_INET6) ||
        (!req->recipient && req->recipient_len > 0))
        return RELAYPOL_ERR_INVALID;

    size_t size = out->size;
    if (size >= sizeof *out) {
        /* A fixed-size store: memset with a run-time size is a "rep
         * stos" here, whose start-up alone cost a fifth of a decision. */
        *out = (relaypol_decision){.size = size};
    } else {
        memset(out, 0, size);
        out->size = size;
    }
    /* An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d;
     * decide it as a.b.c.d or it would escape every IPv4 list.  The lists
     * are looked up in the request's copy unless it had to be folded:
     * reading back the copy just stored in *out would make every lookup
     * wait for that store. */
    out->client = req->client;
    const relaypol_addr *client = &req->client;
    if (rp_addr_is_mapped(client)) {
        rp_addr_fold(&out->client);
        client = &out->client;
    }
    const relaypol_addr *local = &req->local;
    relaypol_addr local_folded;
    if (rp_addr_is_mapped(local)) {
        local_folded = *local;
        rp_addr_fold(&local_folded);
        local = &local_folded;
    }
    out->auth = req->user ? RELAYPOL_AUTH_NOT_NEEDED : RELAYPOL_AUTH_NONE;

    /* The client is looked up before the recipient is read, though a
     * local recipient will not need the answer: nothing that follows
     * waits for it, so on a big list its cache misses overlap the
     * parsing, and on a small one the lookup no longer waits behind the
     * branches that decide whether the mail is relayed.  One lookup
     * answers both lists: the client set holds the deny list as tag 0
     * and the allow list as tag 1. */
    int32_t hit[2] = {-1, -1};
    if (p->relay_flags & 3)
        rp_netset_lookup(p->client_set, client, hit);
    if ((p->relay_flags & 4) && local->family != RELAYPOL_AF_NONE)
        rp_netset_prefetch(p->local_set, local);

    rp_rcpt r;
    relaypol_rcpt_error re = rp_rcpt_parse_inline(
        req->recipient ? req->recipient : "", req->recipient_len,
        (req->flags & RELAYPOL_REQ_RCPT_INTERNAL) ? RP_RCPT_INTERNAL
                                                   : RP_RCPT_SMTP,
        &r);
    if (re != RELAYPOL_RCPT_OK) {
        out->rcpt_error = re;
        finish(out, RELAYPOL_DENY, RELAYPOL_STEP_BAD_RECIPIENT,
               REPLY_BAD_RCPT);
        return RELAYPOL_OK;
    }
    out->route = r.route;

    /* Is this submission (local delivery) or relaying?  Routing syntax
     * before the final domain means the mail would travel on from here to
     * wherever the local part points (the %-hack and its relatives that
     * opened Exchange 5.5 twice), so a routed recipient is relaying unless
     * the policy explicitly trusts that form. */
    uint32_t routing = r.route & ~(uint32_t)RELAYPOL_ROUTE_LITERAL;
    bool trusted_route = (routing & ~p->allow_routing) == 0;
    if (r.postmaster) {
        /* RFC 5321 4.1.1.3: "<postmaster>" without a domain is always
         * this server's own postmaster. */
        decide_local(p, req, client, RELAYPOL_STEP_ACCEPTED_DOMAIN, out,
                     ref);
        return RELAYPOL_OK;
    }
    if (trusted_route) {
        if (r.route & RELAYPOL_ROUTE_LITERAL) {
            relaypol_addr lit = r.literal;
            rp_addr_fold(&lit);
            if (is_server_address(p, &lit, local)) {
                decide_local(p, req, client, RELAYPOL_STEP_LOCAL_LITERAL,
                             out, ref);
                return RELAYPOL_OK;
            }
        } else {
            int32_t d = rp_domains_match_name(p->domains, r.domain, r.domain_len);
            if (d >= 0) {
                out->entry = rp_str(p, p->domain_text[d]);
                out->entry_line = p->domain_line[d];
                decide_local(p, req, client, RELAYPOL_STEP_ACCEPTED_DOMAIN,
                             out, ref);
                return RELAYPOL_OK;
            }
        }
    }
    decide_relay(p, req, local, !trusted_route, hit, out, ref);
    return RELAYPOL_OK;
}

relaypol_status relaypol_decide(const relaypol_policy *p,
                                const relaypol_request *req,
                                relaypol_decision *out)
{
    return decide(p, req, out, NULL);
}

relaypol_status rp_decide_deferred(const relaypol_policy *p,
                                   const relaypol_request *req,
                                   relaypol_decision *out, rp_hitref *ref)
{
    ref->pos = -1;
    ref->list = 0;
    return decide(p, req, out, ref);
}

void rp_decide_prefetch(const relaypol_policy *p, const relaypol_addr *client)
{
    if (p->relay_flags & 3)
        rp_netset_prefetch(p->client_set, client);
}

void rp_hitref_resolve(const relaypol_policy *p, rp_hitref *ref,
                       relaypol_decision *out)
{
    if (ref->pos < 0)
        return;
    set_entry(out, p, rp_policy_hit(p, (enum rp_list)ref->list, ref->pos));
    ref->pos = -1;
}

/* ------------------------------------------------------------- names */

const char *relaypol_verdict_name(relaypol_verdict v)
{
    switch (v) {
    case RELAYPOL_LOCAL:
        return "local";
    case RELAYPOL_RELAY:
        return "relay";
    case RELAYPOL_DENY:
        return "deny";
    }
    return "unknown";
}

const char *relaypol_step_name(relaypol_step s)
{
    switch (s) {
    case RELAYPOL_STEP_ACCEPTED_DOMAIN:
        return "accepted-domain";
    case RELAYPOL_STEP_LOCAL_LITERAL:
        return "local-literal";
    case RELAYPOL_STEP_DENY_LIST:
        return "deny-list";
    case RELAYPOL_STEP_ALLOW_LIST:
        return "allow-list";
    case RELAYPOL_STEP_LOCAL_IP_LIST:
        return "local-ip-list";
    case RELAYPOL_STEP_AUTHENTICATED:
        return "authenticated";
    case RELAYPOL_STEP_ONLY_DENY_BIT:
        return "only-deny-bit";
    case RELAYPOL_STEP_NO_RULE:
        return "no-rule";
    case RELAYPOL_STEP_BAD_RECIPIENT:
        return "bad-recipient";
    case RELAYPOL_STEP_SUBMISSION:
        return "submission-refused";
    }
    return "unknown";
}

const char *relaypol_auth_name(relaypol_auth a)
{
    switch (a) {
    case RELAYPOL_AUTH_NONE:
        return "none";
    case RELAYPOL_AUTH_USED:
        return "used";
    case RELAYPOL_AUTH_NOT_ENABLED:
        return "not-enabled";
    case RELAYPOL_AUTH_NOT_LISTED:
        return "not-listed";
    case RELAYPOL_AUTH_NO_TLS:
        return "no-tls";
    case RELAYPOL_AUTH_NOT_NEEDED:
        return "not-needed";
    }
    return "unknown";
}

const char *relaypol_route_name(uint32_t bit)
{
    switch (bit) {
    case RELAYPOL_ROUTE_PERCENT:
        return "percent";
    case RELAYPOL_ROUTE_BANG:
        return "bang";
    case RELAYPOL_ROUTE_SOURCE:
        return "source-route";
    case RELAYPOL_ROUTE_QUOTED_AT:
        return "quoted-at";
    case RELAYPOL_ROUTE_EXTRA_AT:
        return "extra-at";
    case RELAYPOL_ROUTE_LITERAL:
        return "literal";
    }
    return "unknown";
}

const char *relaypol_rcpt_error_name(relaypol_rcpt_error e)
{
    switch (e) {
    case RELAYPOL_RCPT_OK:
        return "ok";
    case RELAYPOL_RCPT_EMPTY:
        return "empty recipient";
    case RELAYPOL_RCPT_TOO_LONG:
        return "path longer than 256 octets";
    case RELAYPOL_RCPT_LOCAL_TOO_LONG:
        return "local part longer than 64 octets";
    case RELAYPOL_RCPT_DOMAIN_TOO_LONG:
        return "domain longer than 255 octets";
    case RELAYPOL_RCPT_LABEL_TOO_LONG:
        return "domain label longer than 63 octets";
    case RELAYPOL_RCPT_CONTROL:
        return "control character";
    case RELAYPOL_RCPT_EMPTY_LABEL:
        return "empty domain label";
    case RELAYPOL_RCPT_UNBALANCED_QUOTE:
        return "unbalanced quote";
    case RELAYPOL_RCPT_UNBALANCED_BRACKET:
        return "unbalanced bracket";
    case RELAYPOL_RCPT_BAD_LITERAL:
        return "malformed address literal";
    case RELAYPOL_RCPT_BAD_LOCAL_PART:
        return "malformed local part";
    case RELAYPOL_RCPT_BAD_DOMAIN:
        return "malformed domain";
    case RELAYPOL_RCPT_NO_DOMAIN:
        return "no domain";
    case RELAYPOL_RCPT_BAD_ROUTE:
        return "malformed source route";
    case RELAYPOL_RCPT_NON_ASCII:
        return "non-ASCII byte";
    case RELAYPOL_RCPT_BAD_PARAMETER:
        return "malformed ESMTP parameter";
    case RELAYPOL_RCPT_EXTRA_AT:
        return "second '@'";
    }
    return "unknown";
}

/* ------------------------------------------------------- explanation */

/* A bounded appender: writes what fits, counts everything. */
typedef struct sbuf {
    char *buf;
    size_t len, pos;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b->pos + 1 < b->len)
            b->buf[b->pos] = s[i];
        b->pos++;
    }
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Request text comes from the network: escape anything that could forge
 * a log line (newlines) or a field boundary (quotes, backslashes). */
static void put_escaped(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(b, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            put(b, e, 4);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    put(b, "\"", 1);
}

static void put_uint(sbuf *b, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(b, tmp + sizeof tmp - n, n);
}

static void put_route(sbuf *b, uint32_t route)
{
    bool first = true;
    for (uint32_t bit = 1; bit <= RELAYPOL_ROUTE_LITERAL; bit <<= 1)
        if (route & bit) {
            if (!first)
                put(b, ",", 1);
            puts_(b, relaypol_route_name(bit));
            first = false;
        }
}

size_t relaypol_explain(const relaypol_decision *d, const relaypol_request *req,
                        char *buf, size_t len)
{
    sbuf b = {buf, len, 0};
    if (!d || !req) {
        if (len)
            buf[0] = '\0';
        return 0;
    }
    puts_(&b, relaypol_verdict_name(d->verdict));
    puts_(&b, " step=");
    puts_(&b, relaypol_step_name(d->step));
    char ab[RELAYPOL_ADDR_STRLEN];
    puts_(&b, " client=");
    size_t an = relaypol_addr_format(&d->client, ab, sizeof ab);
    put(&b, an ? ab : "-", an ? an : 1);
    if (req->local.family != RELAYPOL_AF_NONE) {
        relaypol_addr l = req->local;
        rp_addr_fold(&l);
        puts_(&b, " local=");
        an = relaypol_addr_format(&l, ab, sizeof ab);
        put(&b, an ? ab : "-", an ? an : 1);
    }
    if (req->client_name) {
        puts_(&b, " name=");
        put_escaped(&b, req->client_name, bounded_strlen(req->client_name, 255));
    }
    puts_(&b, " user=");
    if (req->user)
        put_escaped(&b, req->user, bounded_strlen(req->user, 255));
    else
        puts_(&b, "-");
    puts_(&b, " rcpt=");
    put_escaped(&b, req->recipient ? req->recipient : "",
                req->recipient_len > 512 ? 512 : req->recipient_len);
    if (d->entry) {
        puts_(&b, " entry=");
        put_escaped(&b, d->entry, strlen(d->entry));
        puts_(&b, " line=");
        put_uint(&b, d->entry_line);
    }
    if (d->route) {
        puts_(&b, " route=");
        put_route(&b, d->route);
    }
    if (d->auth != RELAYPOL_AUTH_NONE) {
        puts_(&b, " auth=");
        puts_(&b, relaypol_auth_name(d->auth));
    }
    if (d->step == RELAYPOL_STEP_BAD_RECIPIENT) {
        puts_(&b, " error=");
        put_escaped(&b, relaypol_rcpt_error_name(d->rcpt_error),
                    strlen(relaypol_rcpt_error_name(d->rcpt_error)));
    }
    if (len)
        buf[b.pos < len ? b.pos : len - 1] = '\0';
    return b.pos;
}
