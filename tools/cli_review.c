/*
 * Policy review (issue 11): which clients may relay without
 * authenticating, as exact address ranges, for `relaypol lint` (the
 * exposure report, through the cli_review_lint hook) and `relaypol diff`
 * (what a change to a policy opens or closes).
 *
 * The compiled policy is the source of truth, so this file reads it
 * through internal.h rather than re-parsing the text.  Each list becomes
 * a union of closed intervals over the 32-bit (IPv4) or 128-bit (IPv6)
 * address space (addrset.h); the decision's order (Exchange 5.5, KB
 * Q193922: deny list first, then allow list, local-IP list,
 * authentication, and "only bit 1" last) turns into set operations on
 * them:
 *   bit 2:        allow - deny (deny only when bit 1 is set)
 *   flags == 1:   everything - deny
 *   bit 4:        any client except the deny list, reaching a listed
 *                 local address: reported apart, since it depends on the
 *                 address the client reached, not on the client.
 * IPv4-mapped IPv6 clients (::ffff:0:0/96) are decided as IPv4, so that
 * range is never part of an IPv6 result.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addrset.h"
#include "cli.h"
#include "internal.h"

#ifdef RELAYPOL_HAVE_LIBCIDR
#include <libcidr.h>
#endif

#define LIST_CAP_TEXT 16   /* blocks listed per set in plain text */
#define LIST_CAP_JSON 1024 /* blocks listed per set in JSON */
#define MAX_LINES 4        /* policy lines named per block */
/* Intervals that the scattered entries of one policy may enumerate in
 * all (64 entries at addrset.c's per-entry limit of 2^16): without it,
 * 1,000 lines of 2 KB each asked for 65 million intervals, 5 GB and half
 * a minute.  Entries past it are approximated, as too scattered ones are,
 * and a note says which. */
#define PIECE_BUDGET ((size_t)1 << 22)

static const char *const fam_name[2] = {"IPv4", "IPv6"};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        cli_error("out of memory");
        exit(CLI_EXIT_ERROR);
    }
    return q;
}

#ifdef RELAYPOL_HAVE_LIBCIDR
/* A second opinion from libcidr on each block printed: its address count
 * (exact for IPv6) and, for IPv4, its netmask.  libcidr only ever sees
 * our own canonical text, after 16 zero bytes (notes/libcidr.md: it reads
 * before short strings); disagreement is reported, ours is printed. */
static void libcidr_check(int fam, const as_block *b)
{
    static bool warned;
    char buf[16 + 64];
    memset(buf, 0, sizeof buf);
    as_block_format(b, fam, buf + 16, sizeof buf - 16);
    CIDR *c = cidr_from_str(buf + 16);
    char mine[AS_DEC_LEN], theirs[64] = "";
    const char *want = as_count_dec(as_block_count(b, fam), mine);
    bool ok = c && cidr_get_pflen(c) == b->plen &&
              cidr_get_proto(c) == (fam == AS_V4 ? CIDR_IPV4 : CIDR_IPV6);
    if (ok) {
        const char *n = cidr_numaddr(c);
        size_t k = 0;
        for (; n && *n && k + 1 < sizeof theirs; n++)
            if (*n != ',')
                theirs[k++] = *n;
        theirs[k] = '\0';
        ok = strcmp(theirs, want) == 0;
    }
    if (ok && fam == AS_V4) {
        char *m = cidr_to_str(c, CIDR_NETMASK | CIDR_ONLYPFLEN);
        char nm[RELAYPOL_ADDR_STRLEN];
        as_block_netmask(b, nm, sizeof nm);
        ok = m && strcmp(m, nm) == 0;
        free(m);
    }
    if (c)
        cidr_free(c);
    if (!ok && !warned) {
        warned = true;
        cli_error("libcidr disagrees about %s (count %s, ours %s); "
                  "printing relaypol's",
                  buf + 16, theirs, want);
    }
}
#else
static void libcidr_check(int fam, const as_block *b)
{
    (void)fam;
    (void)b;
}
#endif

/* ------------------------------------------------------- the exposure */

/* Where addresses came from: one policy entry as intervals. */
typedef struct src {
    const rp_entry *e;
    as_net net;
} src;

enum { RULE_NONE, RULE_ALLOW, RULE_ONLY_DENY };

/* The entries of one list and family, in file order, in runs of
 * RUN_LEN with the hull of their spans, so that naming the lines behind
 * a block (lines_of) skips the runs that cannot touch it instead of
 * testing every entry: 1,024 JSON blocks against 100,000 entries took
 * seconds.  File order is kept because lines_of names the first lines. */
#define RUN_LEN 64
typedef struct lindex {
    size_t *at;   /* indices into srcs */
    size_t n;
    as_ivl *hull; /* per run: lowest span_lo, highest span_hi */
} lindex;

typedef struct expo {
    const relaypol_policy *p;
    src *srcs;
    size_t n_srcs;
    as_set list[3][2];  /* deny, allow, local by family (active bits only) */
    as_set client[2];   /* may relay unauthenticated, whatever they reach */
    as_set lclients[2]; /* may relay through the local-IP rule */
    lindex idx[3][2];   /* by list and family, active lists only */
    int rule;
    bool approx_allow, approx_deny, approx_local;
} expo;

/* Whether the policy's RelayFlags use a list (enum rp_list). */
static bool list_active(const relaypol_policy *p, unsigned list)
{
    static const uint32_t bit[3] = {1, 2, 4};
    return (p->relay_flags & bit[list]) != 0;
}

/* Describes every entry that can match, in file order (lines_of names
 * lines in that order).  PIECE_BUDGET goes to the lists RelayFlags uses
 * first, so that a list it ignores, whose scattered entries are only
 * described, cannot make the exposure approximate. */
static void expo_srcs(expo *x, const relaypol_policy *p)
{
    x->srcs = xrealloc(NULL, p->n_entries * sizeof *x->srcs);
    for (size_t i = 0; i < p->n_entries; i++) {
        const rp_entry *e = &p->entries[i];
        /* Host bits outside the mask: the entry can never match. */
        if (e->list > RP_LIST_LOCAL || (e->net.flags & RP_NET_HOSTBITS))
            continue;
        x->srcs[x->n_srcs++].e = e;
    }
    size_t budget = PIECE_BUDGET;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < x->n_srcs; i++) {
            src *s = &x->srcs[i];
            if (list_active(p, s->e->list) == (pass == 0))
                as_net_build(&s->net, &s->e->net, &budget);
        }
}

static void expo_index(expo *x)
{
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        if (list_active(x->p, s->e->list))
            x->idx[s->e->list][s->net.fam].n++;
    }
    for (int l = 0; l < 3; l++)
        for (int f = 0; f < 2; f++) {
            lindex *ix = &x->idx[l][f];
            ix->at = xrealloc(NULL, ix->n * sizeof *ix->at);
            ix->hull = xrealloc(NULL, (ix->n / RUN_LEN + 1) * sizeof *ix->hull);
            ix->n = 0;
        }
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        if (!list_active(x->p, s->e->list))
            continue;
        lindex *ix = &x->idx[s->e->list][s->net.fam];
        as_ivl *h = &ix->hull[ix->n / RUN_LEN];
        if (ix->n % RUN_LEN == 0 || s->net.span_lo < h->lo)
            h->lo = s->net.span_lo;
        if (ix->n % RUN_LEN == 0 || s->net.span_hi > h->hi)
            h->hi = s->net.span_hi;
        ix->at[ix->n++] = i;
    }
}

static void expo_build(expo *x, const relaypol_policy *p)
{
    memset(x, 0, sizeof *x);
    x->p = p;
    uint32_t flags = p->relay_flags;
    expo_srcs(x, p);
    expo_index(x);
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        unsigned l = s->e->list;
        if (!list_active(p, l))
            continue;
        if (s->net.approx) {
            if (l == RP_LIST_DENY)
                x->approx_deny = true;
            else if (l == RP_LIST_ALLOW)
                x->approx_allow = true;
            else
                x->approx_local = true;
        }
        as_net_pieces(&s->net, &x->list[l][s->net.fam]);
    }
    for (int l = 0; l < 3; l++)
        for (int f = 0; f < 2; f++) {
            as_set_norm(&x->list[l][f]);
            if (f == AS_V6)
                as_set_inter_inplace(&x->list[l][f], as_universe(f));
        }
    if (flags & 2)
        x->rule = RULE_ALLOW;
    else if (flags == 1)
        x->rule = RULE_ONLY_DENY;
    bool local_rule = (flags & 4) && (x->list[RP_LIST_LOCAL][0].n ||
                                      x->list[RP_LIST_LOCAL][1].n);
    for (int f = 0; f < 2; f++) {
        const as_set *deny = &x->list[RP_LIST_DENY][f];
        if (x->rule == RULE_ALLOW)
            as_set_sub(&x->list[RP_LIST_ALLOW][f], deny, &x->client[f]);
        else if (x->rule == RULE_ONLY_DENY)
            as_set_sub(as_universe(f), deny, &x->client[f]);
        if (local_rule)
            as_set_sub(as_universe(f), deny, &x->lclients[f]);
    }
}

static void expo_free(expo *x)
{
    free(x->srcs);
    for (int f = 0; f < 2; f++) {
        for (int l = 0; l < 3; l++) {
            free(x->idx[l][f].at);
            free(x->idx[l][f].hull);
        }
        for (int l = 0; l < 3; l++)
            as_set_free(&x->list[l][f]);
        as_set_free(&x->client[f]);
        as_set_free(&x->lclients[f]);
    }
}

/* Lines of the entries of a list (active in the policy) that touch the
 * block; at most MAX_LINES, in file order.  Returns how many. */
static size_t lines_of(const expo *x, int list, int fam, const as_block *b,
                       uint32_t out[MAX_LINES])
{
    const lindex *ix = &x->idx[list][fam]; /* empty unless active */
    as_u128 lo = b->lo, hi = as_block_hi(b, fam);
    size_t n = 0;
    for (size_t r = 0; r * RUN_LEN < ix->n && n < MAX_LINES; r++) {
        /* An entry touches only blocks that meet its span. */
        if (ix->hull[r].lo > hi || ix->hull[r].hi < lo)
            continue;
        size_t end = (r + 1) * RUN_LEN < ix->n ? (r + 1) * RUN_LEN : ix->n;
        for (size_t i = r * RUN_LEN; i < end && n < MAX_LINES; i++) {
            const src *s = &x->srcs[ix->at[i]];
            if (as_net_touches(&s->net, lo, hi) &&
                (n == 0 || out[n - 1] != s->e->line))
                out[n++] = s->e->line;
        }
    }
    return n;
}

/* Why a client range may relay, in the policy x: the allow entries or the
 * RelayFlags line. */
static size_t why_relay(const expo *x, int fam, const as_block *b,
                        uint32_t out[MAX_LINES])
{
    if (x->rule == RULE_ONLY_DENY) {
        out[0] = x->p->flags_line;
        return 1;
    }
    return lines_of(x, RP_LIST_ALLOW, fam, b, out);
}

/* --------------------------------------------------------------- output */

static void print_lines(FILE *o, const char *what, const uint32_t *l, size_t n)
{
    if (n == 0)
        return;
    fprintf(o, " %s line%s ", what, n > 1 ? "s" : "");
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%s%u", i ? "," : "", (unsigned)l[i]);
}

static void json_lines(FILE *o, const uint32_t *l, size_t n)
{
    putc('[', o);
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%s%u", i ? "," : "", (unsigned)l[i]);
    putc(']', o);
}

/* An address count as JSON: a number for IPv4, a string for IPv6 (a
 * JSON number loses precision beyond 2^53). */
static void json_count(FILE *o, int fam, as_count c)
{
    char b[AS_DEC_LEN];
    if (fam == AS_V4)
        fputs(as_count_dec(c, b), o);
    else
        fprintf(o, "\"%s\"", as_count_dec(c, b));
}

/* Human count of a set: IPv4 addresses, IPv6 /64 networks touched. */
static void text_size(FILE *o, int fam, const as_set *s)
{
    char b[AS_DEC_LEN];
    if (fam == AS_V4) {
        as_count c = as_set_count(s);
        fprintf(o, "%s address%s", as_count_dec(c, b),
                c.v == 1 && !c.full ? "" : "es");
    } else {
        as_u128 n = as_set_nets64(s);
        fprintf(o, "%s /64 network%s", as_u128_dec(n, b), n == 1 ? "" : "s");
    }
}

/* How to explain each block of a set: the policy whose allow entries (or
 * RelayFlags line) grant it, and the policy whose deny entries touch it. */
typedef struct side {
    const expo *grant;
    const char *grant_label, *grant_key;
    const expo *deny;
    const char *deny_label, *deny_key;
} side;

static void text_blocks(FILE *o, int fam, const as_set *s, const side *sd,
                        const char *indent)
{
    as_cidr_iter it;
    as_block b;
    as_cidr_begin(&it, s, fam);
    for (size_t i = 0; i < LIST_CAP_TEXT && as_cidr_next(&it, &b); i++) {
        char t[64], c[AS_DEC_LEN];
        uint32_t l[MAX_LINES];
        as_block_format(&b, fam, t, sizeof t);
        libcidr_check(fam, &b);
        fprintf(o, (sd->grant || sd->deny) ? "%s%-22s %12s %-8s"
                                           : "%s%-22s %12s %s",
                indent, t, as_count_dec(as_block_count(&b, fam), c),
                as_block_class(&b, fam));
        if (sd->grant)
            print_lines(o, sd->grant_label, l,
                        why_relay(sd->grant, fam, &b, l));
        if (sd->deny)
            print_lines(o, sd->deny_label, l,
                        lines_of(sd->deny, RP_LIST_DENY, fam, &b, l));
        putc('\n', o);
    }
    size_t n = as_set_nblocks(s, fam);
    if (n > LIST_CAP_TEXT)
        fprintf(o, "%s... and %zu more blocks (--json lists up to %d)\n",
                indent, n - LIST_CAP_TEXT, LIST_CAP_JSON);
}

static void json_blocks(FILE *o, int fam, const as_set *s, const side *sd)
{
    as_cidr_iter it;
    as_block b;
    as_cidr_begin(&it, s, fam);
    fputs("[", o);
    for (size_t i = 0; i < LIST_CAP_JSON && as_cidr_next(&it, &b); i++) {
        char t[64], nm[RELAYPOL_ADDR_STRLEN];
        uint32_t l[MAX_LINES];
        as_block_format(&b, fam, t, sizeof t);
        libcidr_check(fam, &b);
        fprintf(o, "%s{\"cidr\":\"%s\"", i ? "," : "", t);
        if (fam == AS_V4) {
            as_block_netmask(&b, nm, sizeof nm);
            fprintf(o, ",\"netmask\":\"%s\"", nm);
        }
        fputs(",\"addresses\":", o);
        json_count(o, fam, as_block_count(&b, fam));
        fprintf(o, ",\"class\":\"%s\"", as_block_class(&b, fam));
        if (sd->grant) {
            fprintf(o, ",\"%s\":", sd->grant_key);
            json_lines(o, l, why_relay(sd->grant, fam, &b, l));
        }
        if (sd->deny) {
            fprintf(o, ",\"%s\":", sd->deny_key);
            json_lines(o, l, lines_of(sd->deny, RP_LIST_DENY, fam, &b, l));
        }
        putc('}', o);
    }
    size_t n = as_set_nblocks(s, fam);
    fprintf(o, "],\"blocks_total\":%zu,\"truncated\":%s", n,
            n > LIST_CAP_JSON ? "true" : "false");
}

/* {"addresses", "networks_64", "classes", "blocks"...} for one family. */
static void json_family(FILE *o, int fam, const as_set *s, const side *sd,
                        bool with_except)
{
    as_count cls[AS_NCLASSES];
    as_set pub = {0};
    as_set_classes(s, fam, cls, &pub);
    char b[AS_DEC_LEN];
    fputs("{\"addresses\":", o);
    json_count(o, fam, as_set_count(s));
    if (fam == AS_V6) {
        fprintf(o, ",\"networks_64\":\"%s\"",
                as_u128_dec(as_set_nets64(s), b));
        fprintf(o, ",\"public_networks_64\":\"%s\"",
                as_u128_dec(as_set_nets64(&pub), b));
    }
    fputs(",\"classes\":{", o);
    for (int c = 0; c < AS_NCLASSES; c++) {
        fprintf(o, "%s\"%s\":", c ? "," : "", as_class_name(c));
        json_count(o, fam, cls[c]);
    }
    fputs("},\"blocks\":", o);
    json_blocks(o, fam, s, sd);
    as_set ex = {0};
    if (with_except)
        as_set_sub(as_universe(fam), s, &ex);
    /* "except" only where it is the shorter description (RelayFlags 1). */
    if (with_except && as_set_nblocks(&ex, fam) < as_set_nblocks(s, fam)) {
        side dn = {NULL, NULL, NULL, sd->grant, "deny", "deny_lines"};
        fputs(",\"except\":{\"blocks\":", o);
        json_blocks(o, fam, &ex, &dn);
        putc('}', o);
    }
    as_set_free(&ex);
    putc('}', o);
    as_set_free(&pub);
}

/* ----------------------------------------------------------- lint hook */

typedef struct widest {
    int fam;
    as_block b;
} widest;

static int widest_cmp(const void *a, const void *b)
{
    const widest *x = a, *y = b;
    /* Wider first: compare address counts (IPv4 /n = IPv6 /(n + 96)). */
    int wx = x->b.plen + (x->fam == AS_V4 ? 96 : 0);
    int wy = y->b.plen + (y->fam == AS_V4 ? 96 : 0);
    if (wx != wy)
        return wx < wy ? -1 : 1;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    return x->b.lo < y->b.lo ? -1 : x->b.lo > y->b.lo;
}

/* The widest public blocks of the client exposure: max at most, of
 * which at most max_v6 IPv6 ones (so IPv4 is not drowned out). */
static size_t widest_public(const expo *x, widest *out, size_t max,
                            size_t max_v6)
{
    size_t m = 0;
    as_set p6 = {0};
    as_set_public(&x->client[AS_V6], AS_V6, &p6);
    size_t max_v4 = p6.n ? max - max_v6 : max;
    as_set_free(&p6);
    for (int f = 0; f < 2; f++) {
        as_set pub = {0};
        as_set_public(&x->client[f], f, &pub);
        size_t n = as_set_nblocks(&pub, f);
        widest *all = xrealloc(NULL, n * sizeof *all);
        as_cidr_iter it;
        as_cidr_begin(&it, &pub, f);
        for (size_t i = 0; i < n && as_cidr_next(&it, &all[i].b); i++)
            all[i].fam = f;
        as_set_free(&pub);
        if (n)
            qsort(all, n, sizeof *all, widest_cmp);
        size_t room = f == AS_V4 ? max_v4 : max - m;
        size_t k2 = n < room ? n : room;
        if (k2)
            memcpy(out + m, all, k2 * sizeof *out);
        m += k2;
        free(all);
    }
    return m;
}

static void emit(cli_lint_report *r, relaypol_severity sev, const char *code,
                 uint32_t line, const char *msg)
{
    relaypol_finding f = {sev, code, line, 0, msg};
    cli_lint_emit(r, &f);
}

/* Appends to a message buffer. */
static void mcat(char *m, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mcat(char *m, size_t len, const char *fmt, ...)
{
    size_t u = strlen(m);
    if (u + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + u, len - u, fmt, ap);
    va_end(ap);
}

static void size_str(char *m, size_t len, int fam, const as_set *s)
{
    char b[AS_DEC_LEN];
    if (fam == AS_V4)
        mcat(m, len, "%s IPv4 addresses", as_count_dec(as_set_count(s), b));
    else
        mcat(m, len, "%s IPv6 /64 networks", as_u128_dec(as_set_nets64(s), b));
}

/* The note on an entry the exposure report does not enumerate: too
 * scattered, or past the policy's PIECE_BUDGET. */
static void approx_note(cli_lint_report *r, const relaypol_policy *p,
                        const src *s)
{
    char m[640], b[AS_DEC_LEN];
    const char *text = rp_str(p, s->e->text);
    const char *count = as_u128_dec(s->net.matches, b);
    bool deny = s->e->list == RP_LIST_DENY;
    if (s->net.over_budget)
        snprintf(m, sizeof m,
                 "'%s' matches %s scattered addresses in %zu pieces, more "
                 "than remain of the %zu the exposure report enumerates "
                 "per policy: the exposure report %s",
                 text, count, s->net.npieces, PIECE_BUDGET,
                 deny ? "does not subtract them (it may overstate)"
                      : "leaves them out (it may understate)");
    else
        snprintf(m, sizeof m,
                 "'%s' matches %s addresses scattered too finely to "
                 "enumerate: the exposure report %s them",
                 text, count,
                 deny ? "does not subtract (it may overstate)"
                      : "leaves out (it may understate)");
    emit(r, RELAYPOL_NOTE, "exposure-approximate", s->e->line, m);
}

static void lint_findings(cli_lint_report *r, const expo *x)
{
    const relaypol_policy *p = x->p;
    char m[640];
    widest w[4];
    size_t nw = widest_public(x, w, 4, 2);
    if (nw) {
        as_set pub[2] = {{0}, {0}};
        for (int f = 0; f < 2; f++)
            as_set_public(&x->client[f], f, &pub[f]);
        m[0] = '\0';
        if (x->rule == RULE_ONLY_DENY)
            mcat(m, sizeof m, "RelayFlags = 1 lets every public client not "
                              "in RelayDenyList relay without "
                              "authenticating: ");
        else
            mcat(m, sizeof m, "public addresses may relay without "
                              "authenticating through RelayAllowList: ");
        size_str(m, sizeof m, AS_V4, &pub[0]);
        mcat(m, sizeof m, " and ");
        size_str(m, sizeof m, AS_V6, &pub[1]);
        mcat(m, sizeof m, "; widest:");
        uint32_t first = 0;
        for (size_t i = 0; i < nw; i++) {
            char t[64];
            uint32_t l[MAX_LINES];
            as_block_format(&w[i].b, w[i].fam, t, sizeof t);
            size_t nl = why_relay(x, w[i].fam, &w[i].b, l);
            mcat(m, sizeof m, "%s %s", i ? "," : "", t);
            if (nl) {
                mcat(m, sizeof m, " (line %u)", (unsigned)l[0]);
                if (!first)
                    first = l[0];
            }
        }
        emit(r, RELAYPOL_WARNING, "open-relay-exposure",
             first ? first : p->flags_line, m);
        as_set_free(&pub[0]);
        as_set_free(&pub[1]);
    }
    /* The local-IP rule lets whoever reaches the address relay: fine for
     * an inside interface, an open relay on one the Internet reaches. */
    bool lc = x->lclients[0].n || x->lclients[1].n;
    for (size_t i = 0; lc && i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        if (s->e->list != RP_LIST_LOCAL || !(p->relay_flags & 4))
            continue;
        /* The public class already leaves out ::ffff:0:0/96, which no
         * IPv6 client has. */
        as_set pc = {0}, pub = {0};
        as_net_pieces(&s->net, &pc);
        as_set_public(&pc, s->net.fam, &pub);
        as_set_free(&pc);
        if (pub.n) {
            snprintf(m, sizeof m,
                     "local address '%s' is public: any client that reaches "
                     "it may relay without authenticating (RelayFlags bit "
                     "4); list only inside interfaces",
                     rp_str(p, s->e->text));
            emit(r, RELAYPOL_WARNING, "local-ip-exposure", s->e->line, m);
        }
        as_set_free(&pub);
    }
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        char b[AS_DEC_LEN];
        /* lint.c's wide-allow skips non-contiguous masks; count them. */
        if (s->net.scattered && s->e->list == RP_LIST_ALLOW &&
            s->net.matches > ((as_u128)1 << (s->net.fam == AS_V4 ? 24 : 96))) {
            snprintf(m, sizeof m,
                     "allow entry '%s' matches %s scattered addresses, more "
                     "than a /%d", rp_str(p, s->e->text),
                     as_u128_dec(s->net.matches, b),
                     s->net.fam == AS_V4 ? 8 : 32);
            emit(r, RELAYPOL_WARNING, "wide-allow", s->e->line, m);
        }
        if (s->net.approx &&
            (p->relay_flags & (s->e->list == RP_LIST_DENY    ? 1u
                               : s->e->list == RP_LIST_ALLOW ? 2u
                                                             : 4u))) {
            approx_note(r, p, s);
        }
    }
}

/* Lists a set of one family, or what it leaves out ("everything
 * except") when that is the shorter description, as for RelayFlags 1. */
static void text_family(FILE *o, int fam, const as_set *s, const side *sd,
                        const side *except, const char *indent,
                        const char *sign)
{
    as_set ex = {0};
    as_set_sub(as_universe(fam), s, &ex);
    char ind[32];
    if (as_set_nblocks(&ex, fam) < as_set_nblocks(s, fam)) {
        if (fam == AS_V6)
            fprintf(o, "%severything except ::ffff:0:0/96 (IPv4-mapped, "
                       "decided as IPv4)%s\n", indent, ex.n ? " and:" : "");
        else
            fprintf(o, "%severything%s\n", indent, ex.n ? " except:" : "");
        snprintf(ind, sizeof ind, "%s  ", indent);
        text_blocks(o, fam, &ex, except, ind);
    } else {
        snprintf(ind, sizeof ind, "%s%s", indent, sign);
        text_blocks(o, fam, s, sd, ind);
    }
    as_set_free(&ex);
}

/* The addresses of an enumerated entry that the deny list leaves.  Its
 * pieces are made again here rather than kept (they are also in the
 * allow list's union); PIECE_BUDGET bounds them all. */
static as_count past_deny(const expo *x, const src *s)
{
    as_set pc = {0}, t = {0};
    as_net_pieces(&s->net, &pc);
    as_set_sub(&pc, &x->list[RP_LIST_DENY][s->net.fam], &t);
    as_count c = as_set_count(&t);
    as_set_free(&pc);
    as_set_free(&t);
    return c;
}

static void lint_text(FILE *o, const expo *x)
{
    const relaypol_policy *p = x->p;
    fprintf(o, "\nexposure: clients that may relay without authenticating "
               "(RelayFlags %u)\n", (unsigned)p->relay_flags);
    if (x->rule == RULE_ALLOW)
        fprintf(o, "  rule: RelayAllowList (bit 2)%s\n",
                (p->relay_flags & 1) ? " minus RelayDenyList (bit 1, "
                                       "checked first)" : "");
    else if (x->rule == RULE_ONLY_DENY)
        fprintf(o, "  rule: every client not in RelayDenyList (RelayFlags "
                   "= 1, line %u)\n", (unsigned)p->flags_line);
    else
        fputs("  rule: none (no client relays without authenticating by "
              "its address)\n", o);
    for (int f = 0; f < 2; f++) {
        const as_set *s = &x->client[f];
        as_count cls[AS_NCLASSES];
        as_set_classes(s, f, cls, NULL);
        fprintf(o, "  %s: ", fam_name[f]);
        if (!s->n) {
            fputs("none\n", o);
            continue;
        }
        text_size(o, f, s);
        fputs(" (", o);
        bool first = true;
        for (int c = 0; c < AS_NCLASSES; c++) {
            if (as_count_zero(cls[c]))
                continue;
            char b[AS_DEC_LEN];
            if (f == AS_V4)
                fprintf(o, "%s%s %s", first ? "" : ", ", as_class_name(c),
                        as_count_dec(cls[c], b));
            else
                fprintf(o, "%s%s", first ? "" : ", ", as_class_name(c));
            first = false;
        }
        fputs(")\n", o);
        side sd = {x, "allowed by", "lines", NULL, NULL, NULL};
        side dn = {NULL, NULL, NULL, x, "deny", "deny_lines"};
        text_family(o, f, s, &sd, &dn, "    ", "");
    }
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        if (!s->net.scattered || s->e->list != RP_LIST_ALLOW ||
            !(p->relay_flags & 2))
            continue;
        char b[AS_DEC_LEN];
        fprintf(o, "  scattered: '%s' (line %u) matches %s addresses",
                rp_str(p, s->e->text), (unsigned)s->e->line,
                as_u128_dec(s->net.matches, b));
        if (s->net.approx) {
            fputs(" (not enumerated; left out above)\n", o);
        } else {
            fprintf(o, " in %zu pieces, %s after the deny list\n",
                    s->net.npieces, as_count_dec(past_deny(x, s), b));
        }
    }
    if (x->lclients[0].n || x->lclients[1].n) {
        fprintf(o, "  local-IP rule (bit 4): any client%s reaching:\n",
                (p->relay_flags & 1) && (x->list[RP_LIST_DENY][0].n ||
                                         x->list[RP_LIST_DENY][1].n)
                    ? " not in RelayDenyList" : "");
        for (int f = 0; f < 2; f++) {
            side sd = {NULL, NULL, NULL, NULL, NULL, NULL};
            if (x->list[RP_LIST_LOCAL][f].n)
                text_blocks(o, f, &x->list[RP_LIST_LOCAL][f], &sd, "    ");
        }
    }
    if (x->approx_allow || x->approx_deny)
        fputs("  (approximate: see the exposure-approximate notes)\n", o);
    fputs("  counts: IPv4 in addresses, IPv6 in /64 networks touched\n", o);
}

static void lint_json(FILE *o, const expo *x)
{
    const relaypol_policy *p = x->p;
    static const char *const rules[] = {"none", "allow-list",
                                        "only-deny-bit"};
    fprintf(o, "{\"relay_flags\":%u,\"rule\":\"%s\",\"rule_line\":%u,"
               "\"exact\":%s,\"ipv6_unit\":\"/64 networks touched "
               "(networks_64); addresses as strings\",",
            (unsigned)p->relay_flags, rules[x->rule],
            (unsigned)(x->rule == RULE_ONLY_DENY ? p->flags_line : 0),
            x->approx_allow || x->approx_deny ? "false" : "true");
    for (int f = 0; f < 2; f++) {
        side sd = {x, "allowed by", "lines", NULL, NULL, NULL};
        fprintf(o, "\n \"%s\":", f == AS_V4 ? "ipv4" : "ipv6");
        json_family(o, f, &x->client[f], &sd, true);
        putc(',', o);
    }
    fputs("\n \"public_widest\":[", o);
    widest w[8];
    size_t nw = widest_public(x, w, 8, 4);
    for (size_t i = 0; i < nw; i++) {
        char t[64];
        uint32_t l[MAX_LINES];
        as_block_format(&w[i].b, w[i].fam, t, sizeof t);
        fprintf(o, "%s{\"cidr\":\"%s\",\"addresses\":", i ? "," : "", t);
        json_count(o, w[i].fam, as_block_count(&w[i].b, w[i].fam));
        fputs(",\"lines\":", o);
        json_lines(o, l, why_relay(x, w[i].fam, &w[i].b, l));
        putc('}', o);
    }
    fputs("],\n \"scattered\":[", o);
    bool first = true;
    for (size_t i = 0; i < x->n_srcs; i++) {
        const src *s = &x->srcs[i];
        if (!s->net.scattered)
            continue;
        char b[AS_DEC_LEN];
        static const char *const ln[] = {"deny", "allow", "local"};
        fprintf(o, "%s{\"entry\":", first ? "" : ",");
        cli_json_cstr(o, rp_str(p, s->e->text));
        fprintf(o, ",\"line\":%u,\"list\":\"%s\",\"matches\":%s,"
                   "\"enumerated\":%s",
                (unsigned)s->e->line, ln[s->e->list],
                as_u128_dec(s->net.matches, b),
                s->net.approx ? "false" : "true");
        if (!s->net.approx && s->e->list == RP_LIST_ALLOW) {
            fprintf(o, ",\"pieces\":%zu,\"exposed\":%s", s->net.npieces,
                    as_count_dec(past_deny(x, s), b));
        }
        putc('}', o);
        first = false;
    }
    fputs("],\n \"local_ip\":{\"applies\":", o);
    bool lr = x->lclients[0].n || x->lclients[1].n;
    fputs(lr ? "true" : "false", o);
    as_set empty = {0};
    for (int f = 0; f < 2; f++) {
        side sd = {NULL, NULL, NULL, NULL, NULL, NULL};
        fprintf(o, ",\"%s\":{\"blocks\":", f == AS_V4 ? "ipv4" : "ipv6");
        json_blocks(o, f, lr ? &x->list[RP_LIST_LOCAL][f] : &empty, &sd);
        putc('}', o);
    }
    fputs("}}", o);
}

int cli_review_lint(cli_lint_report *r, const relaypol_policy *p)
{
    expo x;
    expo_build(&x, p);
    lint_findings(r, &x);
    FILE *o = cli_lint_section(r, "exposure");
    if (r->json)
        lint_json(o, &x);
    else
        lint_text(o, &x);
    expo_free(&x);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ diff */

static bool covers_all(const as_set l[2])
{
    for (int f = 0; f < 2; f++) {
        as_set t = {0};
        as_set_sub(as_universe(f), &l[f], &t);
        bool rest = t.n > 0;
        as_set_free(&t);
        if (rest)
            return false;
    }
    return true;
}

static bool any(const as_set s[2])
{
    return s[0].n || s[1].n;
}

/* One setting that changed. */
typedef struct change {
    const char *setting;
    char oldv[160], newv[160];
    uint32_t old_line, new_line;
    bool widens;
} change;

typedef struct changes {
    change v[16];
    size_t n;
} changes;

static change *change_add(changes *c, const char *setting, uint32_t ol,
                          uint32_t nl, bool widens)
{
    change *x = &c->v[c->n++];
    memset(x, 0, sizeof *x);
    x->setting = setting;
    x->old_line = ol;
    x->new_line = nl;
    x->widens = widens;
    return x;
}

static const char *role_text(int r)
{
    static const char *const n[] = {"none", "gateway", "mailbox", "frontend",
                                    "all-in-one"};
    return r >= 0 && r <= RP_ROLE_ALL_IN_ONE ? n[r] : "?";
}

static const char *submission_text(int s)
{
    return s == RP_SUBMIT_ANYONE ? "anyone"
           : s == RP_SUBMIT_RESTRICTED ? "restricted" : "none";
}

static void route_text(uint32_t r, char *buf, size_t len)
{
    buf[0] = '\0';
    for (uint32_t bit = 1; bit < RELAYPOL_ROUTE_LITERAL; bit <<= 1)
        if (r & bit)
            mcat(buf, len, "%s%s", buf[0] ? "," : "", relaypol_route_name(bit));
    if (!buf[0])
        snprintf(buf, len, "none");
}

/* Whether q permits p's user u.  A binary search over q's users, which
 * the policy keeps ordered by length, then bytes (lib/policy.c): a scan
 * made comparing two policies of 60,000 accounts take 11 s. */
static bool has_user(const relaypol_policy *p, const rp_user *u,
                     const relaypol_policy *q)
{
    const char *name = rp_str(p, u->name);
    size_t lo = 0, hi = q->n_users;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rp_user *x = &q->users[mid];
        int c = x->len != u->len ? (x->len < u->len ? -1 : 1)
                                 : memcmp(rp_str(q, x->name), name, u->len);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

typedef struct named {
    const char *s;
    uint32_t len;
} named;

static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Users of p that q does not have, as "a,b,c" in byte order (truncated).
 * The policy keeps its users by length first (for the decision's lookup);
 * a reader wants them alphabetical.  Without memory for the sort they
 * come in the policy's order. */
static size_t users_missing(const relaypol_policy *p, const relaypol_policy *q,
                            char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    named *miss = p->n_users ? malloc(p->n_users * sizeof *miss) : NULL;
    for (size_t i = 0; i < p->n_users; i++) {
        const rp_user *u = &p->users[i];
        if (has_user(p, u, q))
            continue;
        if (miss)
            miss[n] = (named){rp_str(p, u->name), u->len};
        else
            mcat(buf, len, "%s%.*s", n ? "," : "", (int)u->len,
                 rp_str(p, u->name));
        n++;
    }
    if (miss) {
        qsort(miss, n, sizeof *miss, named_cmp);
        for (size_t i = 0; i < n; i++)
            mcat(buf, len, "%s%.*s", i ? "," : "", (int)miss[i].len,
                 miss[i].s);
        free(miss);
    }
    return n;
}

static void settings_diff(const relaypol_policy *o, const relaypol_policy *n,
                          changes *c)
{
    uint32_t fo = o->relay_flags, fn = n->relay_flags;
    if (fo != fn) {
        /* Which client addresses widen is decided exactly by the ranges;
         * the flags say whether authentication starts to count. */
        change *x = change_add(c, "RelayFlags", o->flags_line, n->flags_line,
                               (fn & 8) && !(fo & 8));
        snprintf(x->oldv, sizeof x->oldv, "%u", (unsigned)fo);
        snprintf(x->newv, sizeof x->newv, "%u", (unsigned)fn);
    }
    if (o->role != n->role) {
        change *x = change_add(c, "Role", o->role_line, n->role_line, false);
        snprintf(x->oldv, sizeof x->oldv, "%s", role_text(o->role));
        snprintf(x->newv, sizeof x->newv, "%s", role_text(n->role));
    }
    if (o->submission != n->submission) {
        change *x = change_add(c, "Submission", o->submission_line,
                               n->submission_line, false);
        snprintf(x->oldv, sizeof x->oldv, "%s",
                 submission_text(o->submission));
        snprintf(x->newv, sizeof x->newv, "%s",
                 submission_text(n->submission));
    }
    bool both_auth = (fo & 8) && (fn & 8);
    if (o->auth_requires_tls != n->auth_requires_tls) {
        change *x = change_add(c, "AuthRequiresTLS", o->tls_line, n->tls_line,
                               both_auth && o->auth_requires_tls);
        snprintf(x->oldv, sizeof x->oldv, "%s",
                 o->auth_requires_tls ? "yes" : "no");
        snprintf(x->newv, sizeof x->newv, "%s",
                 n->auth_requires_tls ? "yes" : "no");
    }
    char added[150], removed[150];
    size_t na = users_missing(n, o, added, sizeof added);
    size_t nr = users_missing(o, n, removed, sizeof removed);
    if (o->users_restricted != n->users_restricted) {
        change *x = change_add(c, "RelayUsers", o->users_line, n->users_line,
                               both_auth && o->users_restricted);
        snprintf(x->oldv, sizeof x->oldv, "%s",
                 o->users_restricted ? "restricted" : "any account");
        snprintf(x->newv, sizeof x->newv, "%s",
                 n->users_restricted ? "restricted" : "any account");
    } else if (o->users_restricted && (na || nr)) {
        change *x = change_add(c, "RelayUsers", o->users_line, n->users_line,
                               both_auth && na > 0);
        snprintf(x->oldv, sizeof x->oldv, "%s%s", nr ? "-" : "",
                 nr ? removed : "");
        snprintf(x->newv, sizeof x->newv, "%s%s", na ? "+" : "",
                 na ? added : "");
    }
    if (o->allow_routing != n->allow_routing) {
        change *x = change_add(c, "AllowRouting", o->routing_line,
                               n->routing_line,
                               (n->allow_routing & ~o->allow_routing) != 0);
        route_text(o->allow_routing, x->oldv, sizeof x->oldv);
        route_text(n->allow_routing, x->newv, sizeof x->newv);
    }
}

/* Accepted domains compare without case and without a root dot. */
typedef struct dkey {
    const char *s;
    uint32_t len; /* without the root dot */
    uint32_t idx; /* the entry's position in its policy */
} dkey;

static int dkey_cmp_name(const dkey *x, const dkey *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)x->s[i], b = (unsigned char)y->s[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a != b)
            return a < b ? -1 : 1;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static int dkey_cmp(const void *a, const void *b)
{
    const dkey *x = a, *y = b;
    int c = dkey_cmp_name(x, y);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* p's domains as keys, sorted by name and then position. */
static dkey *domain_keys(const relaypol_policy *p)
{
    dkey *k = xrealloc(NULL, p->n_domains * sizeof *k);
    for (size_t i = 0; i < p->n_domains; i++) {
        const char *d = rp_str(p, p->domain_text[i]);
        size_t n = strlen(d);
        if (n && d[n - 1] == '.')
            n--;
        k[i] = (dkey){d, (uint32_t)n, (uint32_t)i};
    }
    qsort(k, p->n_domains, sizeof *k, dkey_cmp);
    return k;
}

static int dkey_cmp_key(const void *a, const void *b)
{
    return dkey_cmp_name(a, b);
}

static bool keys_have(const dkey *k, size_t n, const dkey *x)
{
    return n && bsearch(x, k, n, sizeof *k, dkey_cmp_key) != NULL;
}

/* Which of p's domains q lacks (missing[i] for p's i-th), each name only
 * at its first listing.  Both lists sorted and searched: comparing every
 * pair made two policies of 30,000 domains take 9 s. */
static void domains_lacking(const relaypol_policy *p, const relaypol_policy *q,
                            bool *missing)
{
    dkey *pk = domain_keys(p), *qk = domain_keys(q);
    for (size_t k = 0; k < p->n_domains; k++) {
        bool first = k == 0 || dkey_cmp_name(&pk[k - 1], &pk[k]) != 0;
        missing[pk[k].idx] = first && !keys_have(qk, q->n_domains, &pk[k]);
    }
    free(pk);
    free(qk);
}

/* Calls out for each domain of p missing from q, in p's order. */
static size_t domains_missing(FILE *o, bool json, const char *sign,
                              const relaypol_policy *p,
                              const relaypol_policy *q)
{
    size_t n = 0;
    bool *missing = xrealloc(NULL, p->n_domains * sizeof *missing);
    domains_lacking(p, q, missing);
    for (size_t i = 0; i < p->n_domains; i++) {
        if (!missing[i])
            continue;
        const char *d = rp_str(p, p->domain_text[i]);
        if (json) {
            fputs(n ? ",{\"domain\":" : "{\"domain\":", o);
            cli_json_cstr(o, d);
            fprintf(o, ",\"line\":%u}", (unsigned)p->domain_line[i]);
        } else {
            fprintf(o, "  %s ", sign);
            cli_text(o, d, strlen(d), false);
            fprintf(o, " (%s line %u)\n", sign[0] == '+' ? "new" : "old",
                    (unsigned)p->domain_line[i]);
        }
        n++;
    }
    free(missing);
    return n;
}

typedef struct delta {
    as_set gained[2], lost[2];       /* client ranges, any local address */
    as_set lgained[2], llost[2];     /* local addresses added / removed */
    bool lgained_live, llost_live; /* ... and some client can use them */
    as_set vgained[2], vlost[2];     /* via kept local addresses */
    bool widened;
} delta;

static void delta_build(delta *d, const expo *o, const expo *n)
{
    memset(d, 0, sizeof *d);
    bool o_all = covers_all(o->list[RP_LIST_LOCAL]) && any(o->lclients);
    bool n_all = covers_all(n->list[RP_LIST_LOCAL]) && any(n->lclients);
    as_set t = {0}, common[2] = {{0}, {0}};
    for (int f = 0; f < 2; f++) {
        as_set_sub(&n->client[f], &o->client[f], &d->gained[f]);
        as_set_sub(&o->client[f], &n->client[f], &d->lost[f]);
        /* A local-IP rule over every address already let those clients
         * relay wherever they connected. */
        if (o_all)
            as_set_sub_inplace(&d->gained[f], &o->lclients[f]);
        if (n_all)
            as_set_sub_inplace(&d->lost[f], &n->lclients[f]);
        as_set_sub(&n->list[RP_LIST_LOCAL][f], &o->list[RP_LIST_LOCAL][f],
                 &d->lgained[f]);
        as_set_sub(&o->list[RP_LIST_LOCAL][f], &n->list[RP_LIST_LOCAL][f],
                 &d->llost[f]);
        as_set_inter(&n->list[RP_LIST_LOCAL][f], &o->list[RP_LIST_LOCAL][f],
                   &common[f]);
    }
    for (int f = 0; f < 2; f++) {
        /* Clients that a new local address lets relay, beyond those who
         * relayed anyway. */
        as_set_sub(&n->lclients[f], &o->client[f], &t);
        d->lgained_live |= t.n > 0;
        as_set_sub(&o->lclients[f], &n->client[f], &t);
        d->llost_live |= t.n > 0;
        if (any(common)) {
            as_set_sub(&n->lclients[f], &o->lclients[f], &t);
            as_set_sub(&t, &o->client[f], &d->vgained[f]);
            as_set_sub(&o->lclients[f], &n->lclients[f], &t);
            as_set_sub(&t, &n->client[f], &d->vlost[f]);
        }
    }
    if (!any(d->lgained))
        d->lgained_live = false;
    if (!any(d->llost))
        d->llost_live = false;
    d->widened = any(d->gained) || d->lgained_live || any(d->vgained);
    as_set_free(&t);
    as_set_free(&common[0]);
    as_set_free(&common[1]);
}

static void delta_free(delta *d)
{
    for (int f = 0; f < 2; f++) {
        as_set_free(&d->gained[f]);
        as_set_free(&d->lost[f]);
        as_set_free(&d->lgained[f]);
        as_set_free(&d->llost[f]);
        as_set_free(&d->vgained[f]);
        as_set_free(&d->vlost[f]);
    }
}

static void diff_text_set(FILE *o, const char *title, const as_set s[2],
                          const side *sd, const side *except,
                          const char *sign)
{
    fprintf(o, "%s:\n", title);
    for (int f = 0; f < 2; f++) {
        fprintf(o, "  %s: ", fam_name[f]);
        if (!s[f].n) {
            fputs("none\n", o);
            continue;
        }
        text_size(o, f, &s[f]);
        putc('\n', o);
        text_family(o, f, &s[f], sd, except, "    ", sign);
    }
}

static void diff_json_set(FILE *o, const char *name, const as_set s[2],
                          const side *sd)
{
    fprintf(o, "\"%s\":{\"ipv4\":", name);
    json_family(o, AS_V4, &s[0], sd, false);
    fputs(",\"ipv6\":", o);
    json_family(o, AS_V6, &s[1], sd, false);
    putc('}', o);
}

static void diff_usage(FILE *f)
{
    fputs("usage: relaypol diff [--json] OLD NEW\n"
          "\n"
          "Compares what two policies let clients do without\n"
          "authenticating, exactly, as address ranges:\n"
          "  + RANGE  COUNT CLASS  clients that may now relay\n"
          "  - RANGE  COUNT CLASS  clients that no longer may\n"
          "each with the policy lines responsible on both sides; local\n"
          "addresses added to or removed from the local-IP rule (bit 4);\n"
          "changed settings (RelayFlags, Role, Submission, AuthRequiresTLS,\n"
          "RelayUsers, AllowRouting) with their lines; accepted domains\n"
          "added and removed.  Counts: IPv4 addresses, IPv6 /64 networks.\n"
          "\n"
          "      --literal-masks   load both policies with LiteralMasks\n"
          "  -j, --json            one JSON object (IPv6 counts as strings)\n"
          "  -h, --help            this text\n"
          "\n"
          "exit status: 0 relay permission only shrank or stayed the same,\n"
          "1 it widened anywhere (more clients may relay unauthenticated,\n"
          "a new listed local address, authenticated relay loosened, routing\n"
          "relaxed), 2 usage errors or a policy that does not load.\n",
          f);
}

int cli_diff_main(int argc, char **argv)
{
    static const cli_option opts[] = {
        CLI_OPTIONS_HELP,
        {"literal-masks", 0, false, CLI_OPT_LITERAL_MASKS},
        {"json", 'j', false, CLI_OPT_JSON},
        {NULL, 0, false, 0},
    };
    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    cli_policy_args pa[2] = {{NULL, 0}, {NULL, 0}};
    uint32_t load_flags = 0;
    bool json = false;
    int id, nops = 0;
    while ((id = cli_next(&ps, opts)) != CLI_DONE) {
        switch (id) {
        case CLI_BAD:
            return CLI_EXIT_ERROR;
        case CLI_OPT_HELP:
            diff_usage(stdout);
            return CLI_EXIT_OK;
        case CLI_OPT_LITERAL_MASKS:
            load_flags |= RELAYPOL_LOAD_LITERAL_MASKS;
            break;
        case CLI_OPT_JSON:
            json = true;
            break;
        case CLI_OPERAND:
            if (nops == 2)
                return cli_usage_error(ps.name, "two policies only (OLD NEW)");
            pa[nops++].path = ps.arg;
            break;
        default:
            return cli_usage_error(ps.name, "unhandled option");
        }
    }
    if (nops != 2)
        return cli_usage_error(ps.name, "two policies needed (OLD NEW)");
    pa[0].load_flags = pa[1].load_flags = load_flags;
    relaypol_policy *po = cli_load_policy(&pa[0]);
    relaypol_policy *pn = po ? cli_load_policy(&pa[1]) : NULL;
    if (!pn) {
        relaypol_policy_free(po);
        return CLI_EXIT_ERROR;
    }
    expo xo, xn;
    expo_build(&xo, po);
    expo_build(&xn, pn);
    delta d;
    delta_build(&d, &xo, &xn);
    changes ch;
    ch.n = 0;
    settings_diff(po, pn, &ch);
    bool widened = d.widened;
    for (size_t i = 0; i < ch.n; i++)
        widened |= ch.v[i].widens;

    side gs = {&xn, "allowed by new", "new_lines", &xo, "denied by old",
               "old_deny_lines"};
    side ls = {&xo, "allowed by old", "old_lines", &xn, "denied by new",
               "new_deny_lines"};
    side ns = {NULL, NULL, NULL, NULL, NULL, NULL};
    /* What a "gained"/"lost" set leaves out, and why. */
    side gx = {&xo, "already allowed by old", "old_lines", &xn,
               "denied by new", "new_deny_lines"};
    side lx = {&xn, "still allowed by new", "new_lines", &xo, "denied by old",
               "old_deny_lines"};
    FILE *o = stdout;
    if (json) {
        fputs("{\"old\":", o);
        cli_json_cstr(o, pa[0].path);
        fputs(",\"new\":", o);
        cli_json_cstr(o, pa[1].path);
        fprintf(o, ",\"widened\":%s,\"exact\":%s,\n",
                widened ? "true" : "false",
                xo.approx_allow || xo.approx_deny || xn.approx_allow ||
                        xn.approx_deny
                    ? "false" : "true");
        diff_json_set(o, "gained", d.gained, &gs);
        fputs(",\n", o);
        diff_json_set(o, "lost", d.lost, &ls);
        fprintf(o, ",\n\"local_ip\":{\"gained_applies\":%s,",
                d.lgained_live ? "true" : "false");
        diff_json_set(o, "gained", d.lgained, &ns);
        fprintf(o, ",\"lost_applies\":%s,", d.llost_live ? "true" : "false");
        diff_json_set(o, "lost", d.llost, &ns);
        putc(',', o);
        diff_json_set(o, "clients_gained", d.vgained, &gs);
        putc(',', o);
        diff_json_set(o, "clients_lost", d.vlost, &ls);
        fputs("},\n\"settings\":[", o);
        for (size_t i = 0; i < ch.n; i++) {
            const change *c = &ch.v[i];
            fprintf(o, "%s{\"setting\":\"%s\",\"old\":", i ? "," : "",
                    c->setting);
            cli_json_cstr(o, c->oldv);
            fputs(",\"new\":", o);
            cli_json_cstr(o, c->newv);
            fprintf(o, ",\"old_line\":%u,\"new_line\":%u,\"widens\":%s}",
                    (unsigned)c->old_line, (unsigned)c->new_line,
                    c->widens ? "true" : "false");
        }
        fputs("],\n\"domains\":{\"added\":[", o);
        domains_missing(o, true, "+", pn, po);
        fputs("],\"removed\":[", o);
        domains_missing(o, true, "-", po, pn);
        fputs("]}}\n", o);
    } else {
        fputs("relay permission ", o);
        fputs(widened ? "WIDENED" : (any(d.lost) || d.llost_live ||
                                     any(d.vlost))
                                        ? "only shrank"
                                        : "unchanged",
              o);
        fputs(": ", o);
        cli_text(o, pa[0].path, strlen(pa[0].path), false);
        fputs(" -> ", o);
        cli_text(o, pa[1].path, strlen(pa[1].path), false);
        putc('\n', o);
        diff_text_set(o, "gained (may now relay without authenticating)",
                      d.gained, &gs, &gx, "+ ");
        diff_text_set(o, "lost (may no longer relay without "
                         "authenticating)",
                      d.lost, &ls, &lx, "- ");
        if (any(d.lgained) || any(d.llost) || any(d.vgained) ||
            any(d.vlost)) {
            fputs("local-IP rule (bit 4: any client reaching these local "
                  "addresses):\n", o);
            for (int f = 0; f < 2; f++) {
                text_blocks(o, f, &d.lgained[f], &ns, "  + local ");
                text_blocks(o, f, &d.llost[f], &ns, "  - local ");
                text_blocks(o, f, &d.vgained[f], &gs, "  + client ");
                text_blocks(o, f, &d.vlost[f], &ls, "  - client ");
            }
        }
        if (ch.n) {
            fputs("settings:\n", o);
            for (size_t i = 0; i < ch.n; i++) {
                const change *c = &ch.v[i];
                fprintf(o, "  %s: ", c->setting);
                cli_text(o, c->oldv, strlen(c->oldv), false);
                if (c->old_line)
                    fprintf(o, " (old line %u)", (unsigned)c->old_line);
                fputs(" -> ", o);
                cli_text(o, c->newv, strlen(c->newv), false);
                if (c->new_line)
                    fprintf(o, " (new line %u)", (unsigned)c->new_line);
                fputs(c->widens ? "  [widens]\n" : "\n", o);
            }
        }
        if (po->n_domains || pn->n_domains) {
            fputs("accepted domains:\n", o);
            size_t k = domains_missing(o, false, "+", pn, po);
            k += domains_missing(o, false, "-", po, pn);
            if (!k)
                fputs("  (unchanged)\n", o);
        }
        fputs("counts: IPv4 in addresses, IPv6 in /64 networks touched\n", o);
    }
    delta_free(&d);
    expo_free(&xo);
    expo_free(&xn);
    relaypol_policy_free(po);
    relaypol_policy_free(pn);
    return widened ? CLI_EXIT_NO : CLI_EXIT_OK;
}
