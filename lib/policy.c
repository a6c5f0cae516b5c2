/*
 * The policy file: parse it line by line, report the first error with its
 * line and column, and compile what was read into an immutable policy.
 * A file with any error yields no policy: everything built so far is
 * freed, so nothing is ever half-applied.
 *
 * Format (see relaypol.conf(5) and the README):
 *   # comment                       ('#' starts a comment anywhere)
 *   Key = value                     settings, anywhere in the file
 *   [RelayDenyList]                 one Net[;mask] entry per line below,
 *   [RelayAllowList]                exactly the registry lists of
 *   [RelayLocalIPList]              Microsoft KB Q193922 (seed 001)
 *   [SubmitAllowList]               hosts allowed to submit (restricted)
 *   [Group NAME]                    user names, for RelayUsers = @NAME
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RP_MAX_USER 256u  /* longest user name accepted in a policy */
#define RP_MAX_GROUP 64u  /* longest group name */

/* A named group while parsing: its members are pool offsets. */
typedef struct group {
    uint32_t name, name_len, line;
    uint32_t *members; size_t n_members, cap_members;
    bool expanded; /* RelayUsers has named it already */
} group;

/* A RelayUsers token waiting for group resolution. */
typedef struct pending_token {
    uint32_t token;  /* index into policy tokens */
    bool is_group;
    uint32_t name, len;
} pending_token;

typedef struct parser {
    relaypol_policy *p;
    relaypol_error *err;
    unsigned load_flags;
    uint32_t line;
    const char *line_start;
    int section;           /* -1 none, or enum rp_list, or SECTION_GROUP */
    size_t cur_group;
    group *groups; size_t n_groups, cap_groups;
    /* The groups by name: open addressing, slot = group index + 1, 0
     * empty.  Scanning every group for each new [Group] and each
     * RelayUsers "@name" made 100,000 groups take 14 s to load. */
    uint32_t *gslots; size_t gcap;
    pending_token *pend; size_t n_pend, cap_pend;
    /* Exchange 2003 wording, resolved after the whole file is read. */
    int computers;         /* 0 unset, 1 only-list, 2 all-except-list */
    int auth_relay;        /* -1 unset, 0 no, 1 yes */
    uint32_t computers_line, auth_relay_line;
    /* Entries per list and the line of each list's first, so that the
     * compile step need not scan a million entries to learn them. */
    size_t list_count[RP_LIST_COUNT];
    uint32_t list_first_line[RP_LIST_COUNT];
    rp_cidr_memo cidr; /* what libcidr has agreed on in this file */
} parser;

#define SECTION_NONE (-1)
#define SECTION_GROUP 100

/* ------------------------------------------------------------- errors */

static relaypol_status fail(parser *ps, relaypol_status st, uint32_t line,
                            uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static relaypol_status fail(parser *ps, relaypol_status st, uint32_t line,
                            uint32_t col, const char *fmt, ...)
{
    relaypol_error *e = ps->err;
    if (!e)
        return st;
    e->status = st;
    e->line = line;
    e->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return st;
}

static relaypol_status nomem(parser *ps)
{
    return fail(ps, RELAYPOL_ERR_NOMEM, ps->line, 0, "out of memory");
}

/* Column (1-based) of a pointer into the current line. */
static uint32_t col_of(const parser *ps, const char *at)
{
    return (uint32_t)(at - ps->line_start) + 1;
}

/* ------------------------------------------------------- string pool */

static bool pool_add(relaypol_policy *p, const char *s, size_t n,
                     uint32_t *off)
{
    if (p->pool_len + n + 1 > UINT32_MAX)
        return false;
    if (!rp_grow(&p->alloc, (void **)&p->pool, &p->pool_cap,
                 p->pool_len + n + 1, 1))
        return false;
    memcpy(p->pool + p->pool_len, s, n);
    p->pool[p->pool_len + n] = '\0';
    *off = (uint32_t)p->pool_len;
    p->pool_len += n + 1;
    return true;
}

static bool note_add(relaypol_policy *p, relaypol_severity sev,
                     const char *code, uint32_t line, uint32_t col,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static bool note_add(relaypol_policy *p, relaypol_severity sev,
                     const char *code, uint32_t line, uint32_t col,
                     const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    if (!rp_grow(&p->alloc, (void **)&p->notes, &p->cap_notes,
                 p->n_notes + 1, sizeof *p->notes))
        return false;
    rp_note *nt = &p->notes[p->n_notes];
    if (!pool_add(p, msg, (size_t)n, &nt->msg))
        return false;
    nt->severity = (uint8_t)sev;
    nt->code = code;
    nt->line = line;
    nt->column = col;
    p->n_notes++;
    return true;
}

/* ------------------------------------------------------------ helpers */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && is_blank(**s))
        (*s)++;
    while (*e > *s && is_blank((*e)[-1]))
        (*e)--;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = s[i], b = lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

/* Splits a value into tokens separated by commas and/or blanks.  Calls
 * fn for each; stops at the first failure. */
typedef relaypol_status (*token_fn)(parser *ps, const char *s, size_t n);

static relaypol_status each_token(parser *ps, const char *s, const char *e,
                                  token_fn fn)
{
    while (s < e) {
        while (s < e && (is_blank(*s) || *s == ','))
            s++;
        const char *t = s;
        while (s < e && !is_blank(*s) && *s != ',')
            s++;
        if (s > t) {
            relaypol_status st = fn(ps, t, (size_t)(s - t));
            if (st != RELAYPOL_OK)
                return st;
        }
    }
    return RELAYPOL_OK;
}

static int parse_bool(const char *s, size_t n)
{
    if (ieq(s, n, "yes") || ieq(s, n, "true") || ieq(s, n, "on") ||
        ieq(s, n, "1"))
        return 1;
    if (ieq(s, n, "no") || ieq(s, n, "false") || ieq(s, n, "off") ||
        ieq(s, n, "0"))
        return 0;
    return -1;
}

/* -------------------------------------------------------- list entries */

static relaypol_status add_entry(parser *ps, const char *s, const char *e)
{
    relaypol_policy *p = ps->p;
    if (p->n_entries >= RELAYPOL_MAX_ENTRIES)
        return fail(ps, RELAYPOL_ERR_LIMIT, ps->line, col_of(ps, s),
                    "more than %u list entries", RELAYPOL_MAX_ENTRIES);
    unsigned opts = p->literal_masks ? RP_NETP_LITERAL_MASKS : 0;
    rp_net net;
    rp_perr pe;
    if (!rp_net_parse(s, (size_t)(e - s), opts, &net, &pe))
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line,
                    col_of(ps, s) + (uint32_t)pe.col, "%s", pe.msg);
    if (!rp_cidr_crosscheck_memo(&ps->cidr, &net, &pe))
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                    "libcidr disagrees with relaypol about this entry: %s",
                    pe.msg);
    if (!rp_grow(&p->alloc, (void **)&p->entries, &p->cap_entries,
                 p->n_entries + 1, sizeof *p->entries))
        return nomem(ps);
    rp_entry *en = &p->entries[p->n_entries];
    en->net = net;
    en->line = ps->line;
    en->column = col_of(ps, s);
    en->list = (uint8_t)ps->section;
    if (!pool_add(p, s, (size_t)(e - s), &en->text))
        return nomem(ps);
    p->n_entries++;
    if (ps->list_count[ps->section]++ == 0)
        ps->list_first_line[ps->section] = ps->line;

    /* Say what the seed's formula implies where it surprises people. */
    bool ok = true;
    if (net.flags & RP_NET_HOSTBITS)
        ok = note_add(p, RELAYPOL_WARNING, "host-bits", ps->line, en->column,
                      "'%.*s' has bits outside its mask and can never match "
                      "(kept literally because LiteralMasks is on)",
                      (int)(e - s), s);
    if (ok && net.prefix_len < 0)
        ok = note_add(p, RELAYPOL_WARNING, "non-contiguous", ps->line,
                      en->column,
                      "'%.*s' has a non-contiguous mask: it matches "
                      "scattered addresses, not one network",
                      (int)(e - s), s);
    if (ok && (net.flags & RP_NET_MAPPED))
        ok = note_add(p, RELAYPOL_WARNING, "mapped", ps->line, en->column,
                      "'%.*s' is written as IPv4-mapped IPv6; it was folded "
                      "to the IPv4 network it names",
                      (int)(e - s), s);
    return ok ? RELAYPOL_OK : nomem(ps);
}

static relaypol_status add_group_member(parser *ps, const char *s, size_t n)
{
    if (n > RP_MAX_USER)
        return fail(ps, RELAYPOL_ERR_LIMIT, ps->line, col_of(ps, s),
                    "user name longer than %u bytes", RP_MAX_USER);
    group *g = &ps->groups[ps->cur_group];
    uint32_t off;
    if (!rp_grow(&ps->p->alloc, (void **)&g->members, &g->cap_members,
                 g->n_members + 1, sizeof *g->members) ||
        !pool_add(ps->p, s, n, &off))
        return nomem(ps);
    g->members[g->n_members++] = off;
    return RELAYPOL_OK;
}

static relaypol_status check_user_chars(parser *ps, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line,
                        col_of(ps, s + i),
                        "control character in a user name");
    }
    return RELAYPOL_OK;
}

static relaypol_status group_line(parser *ps, const char *s, size_t n)
{
    relaypol_status st = check_user_chars(ps, s, n);
    return st != RELAYPOL_OK ? st : add_group_member(ps, s, n);
}

/* ------------------------------------------------------------ settings */

static relaypol_status set_once(parser *ps, uint32_t bit, uint32_t *line_out,
                                const char *key, const char *at)
{
    relaypol_policy *p = ps->p;
    if (p->explicit_set & bit)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, at),
                    "%s is set twice (first on line %u)", key,
                    (unsigned)*line_out);
    p->explicit_set |= bit;
    *line_out = ps->line;
    return RELAYPOL_OK;
}

static relaypol_status flag_name(parser *ps, const char *s, size_t n)
{
    static const struct { const char *name; uint32_t bit; } names[] = {
        {"deny", 1}, {"deny-list", 1}, {"allow", 2}, {"allow-list", 2},
        {"local-ip", 4}, {"local-ip-list", 4}, {"auth", 8},
        {"authenticated", 8},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ieq(s, n, names[i].name)) {
            ps->p->relay_flags |= names[i].bit;
            return RELAYPOL_OK;
        }
    return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                "unknown RelayFlags bit '%.*s' (use a number 0-15 or "
                "deny, allow, local-ip, auth)", (int)n, s);
}

static relaypol_status set_flags(parser *ps, const char *v, const char *e)
{
    relaypol_policy *p = ps->p;
    if (v == e)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                    "RelayFlags needs a value 0-15");
    if (*v >= '0' && *v <= '9') {
        /* Decimal as in the seed ("set its decimal value to 3"): no sign,
         * no leading zeros, nothing after. */
        const char *s = v;
        unsigned long val = 0;
        while (s < e && *s >= '0' && *s <= '9' && val < 1000)
            val = val * 10 + (unsigned long)(*s++ - '0');
        if (s != e)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                        "RelayFlags must be a decimal number 0-15");
        if ((e - v) > 1 && *v == '0')
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "RelayFlags has a leading zero");
        if (val > 15)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "RelayFlags %.*s is out of range: only bits 1-4 "
                        "(0-15) have a meaning", (int)(e - v), v);
        p->relay_flags = (uint32_t)val;
        return RELAYPOL_OK;
    }
    p->relay_flags = 0;
    const char *s = v;
    while (s < e) {
        while (s < e && (is_blank(*s) || *s == ',' || *s == '+' || *s == '|'))
            s++;
        const char *t = s;
        while (s < e && !is_blank(*s) && *s != ',' && *s != '+' && *s != '|')
            s++;
        if (s > t) {
            relaypol_status st = flag_name(ps, t, (size_t)(s - t));
            if (st != RELAYPOL_OK)
                return st;
        }
    }
    return RELAYPOL_OK;
}

static relaypol_status add_domain(parser *ps, const char *s, size_t n)
{
    relaypol_policy *p = ps->p;
    rp_perr pe;
    if (!rp_domain_pattern_check(s, n, &pe))
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line,
                    col_of(ps, s) + (uint32_t)pe.col, "%s", pe.msg);
    uint32_t off;
    if (!rp_grow(&p->alloc, (void **)&p->domain_text, &p->cap_domains,
                 p->n_domains + 1, sizeof *p->domain_text) ||
        !rp_grow(&p->alloc, (void **)&p->domain_line, &p->cap_domain_line,
                 p->n_domains + 1, sizeof *p->domain_line) ||
        !pool_add(p, s, n, &off))
        return nomem(ps);
    p->domain_text[p->n_domains] = off;
    p->domain_line[p->n_domains] = ps->line;
    p->n_domains++;
    return RELAYPOL_OK;
}

static relaypol_status add_server_addr(parser *ps, const char *s, size_t n)
{
    relaypol_policy *p = ps->p;
    relaypol_addr a;
    rp_perr pe;
    if (!rp_addr_parse_n(s, n, &a, &pe))
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line,
                    col_of(ps, s) + (uint32_t)pe.col,
                    "ServerAddresses: %s", pe.msg);
    rp_addr_fold(&a);
    if (!rp_grow(&p->alloc, (void **)&p->server_addrs, &p->cap_server_addrs,
                 p->n_server_addrs + 1, sizeof *p->server_addrs))
        return nomem(ps);
    p->server_addrs[p->n_server_addrs++] = a;
    return RELAYPOL_OK;
}

static relaypol_status add_user_token(parser *ps, const char *s, size_t n)
{
    relaypol_policy *p = ps->p;
    relaypol_status st = check_user_chars(ps, s, n);
    if (st != RELAYPOL_OK)
        return st;
    bool is_group = s[0] == '@';
    if (is_group && n == 1)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                    "'@' must be followed by a group name");
    if (n - (is_group ? 1 : 0) > RP_MAX_USER)
        return fail(ps, RELAYPOL_ERR_LIMIT, ps->line, col_of(ps, s),
                    "user name longer than %u bytes", RP_MAX_USER);
    if (!rp_grow(&p->alloc, (void **)&p->tokens, &p->cap_tokens,
                 p->n_tokens + 1, sizeof *p->tokens) ||
        !rp_grow(&p->alloc, (void **)&ps->pend, &ps->cap_pend,
                 ps->n_pend + 1, sizeof *ps->pend))
        return nomem(ps);
    rp_token *t = &p->tokens[p->n_tokens];
    if (!pool_add(p, s, n, &t->text))
        return nomem(ps);
    t->line = ps->line;
    t->column = col_of(ps, s);
    pending_token *pt = &ps->pend[ps->n_pend++];
    pt->token = (uint32_t)p->n_tokens;
    pt->is_group = is_group;
    pt->name = t->text + (is_group ? 1 : 0);
    pt->len = (uint32_t)(n - (is_group ? 1 : 0));
    p->n_tokens++;
    return RELAYPOL_OK;
}

static relaypol_status add_routing(parser *ps, const char *s, size_t n)
{
    if (ieq(s, n, "none"))
        return RELAYPOL_OK;
    /* Every routing form can be trusted except a literal, which is not
     * routing but a destination (decided against ServerAddresses). */
    for (uint32_t bit = 1; bit < RELAYPOL_ROUTE_LITERAL; bit <<= 1)
        if (ieq(s, n, relaypol_route_name(bit))) {
            ps->p->allow_routing |= bit;
            return RELAYPOL_OK;
        }
    return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                "unknown routing form '%.*s' (percent, bang, source-route, "
                "quoted-at, extra-at or none)", (int)n, s);
}

static relaypol_status setting(parser *ps, const char *k, const char *ke,
                               const char *v, const char *ve)
{
    relaypol_policy *p = ps->p;
    size_t kn = (size_t)(ke - k), vn = (size_t)(ve - v);
    relaypol_status st;
    int b;

    if (ieq(k, kn, "RelayFlags")) {
        if ((st = set_once(ps, RP_SET_FLAGS, &p->flags_line, "RelayFlags",
                           k)) != RELAYPOL_OK)
            return st;
        return set_flags(ps, v, ve);
    }
    if (ieq(k, kn, "AcceptedDomains"))
        return each_token(ps, v, ve, add_domain);
    if (ieq(k, kn, "ServerAddresses"))
        return each_token(ps, v, ve, add_server_addr);
    if (ieq(k, kn, "RelayUsers")) {
        if ((st = set_once(ps, RP_SET_USERS, &p->users_line, "RelayUsers",
                           k)) != RELAYPOL_OK)
            return st;
        p->users_restricted = true;
        return each_token(ps, v, ve, add_user_token);
    }
    if (ieq(k, kn, "AllowRouting")) {
        if ((st = set_once(ps, RP_SET_ROUTING, &p->routing_line,
                           "AllowRouting", k)) != RELAYPOL_OK)
            return st;
        return each_token(ps, v, ve, add_routing);
    }
    if (ieq(k, kn, "AuthRequiresTLS") || ieq(k, kn, "LiteralMasks") ||
        ieq(k, kn, "AuthenticatedRelay")) {
        if ((b = parse_bool(v, vn)) < 0)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "%.*s must be yes or no", (int)kn, k);
        if (ieq(k, kn, "AuthRequiresTLS")) {
            if ((st = set_once(ps, RP_SET_TLS, &p->tls_line,
                               "AuthRequiresTLS", k)) != RELAYPOL_OK)
                return st;
            p->auth_requires_tls = b == 1;
        } else if (ieq(k, kn, "LiteralMasks")) {
            uint32_t dummy = 0;
            if ((st = set_once(ps, RP_SET_LITERAL, &dummy, "LiteralMasks",
                               k)) != RELAYPOL_OK)
                return st;
            if (p->n_entries > 0)
                return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, k),
                            "LiteralMasks must come before the first list "
                            "entry");
            p->literal_masks = b == 1 ||
                               (ps->load_flags & RELAYPOL_LOAD_LITERAL_MASKS);
        } else {
            if ((st = set_once(ps, RP_SET_AUTHRELAY, &ps->auth_relay_line,
                               "AuthenticatedRelay", k)) != RELAYPOL_OK)
                return st;
            ps->auth_relay = b;
        }
        return RELAYPOL_OK;
    }
    if (ieq(k, kn, "Submission")) {
        if ((st = set_once(ps, RP_SET_SUBMISSION, &p->submission_line,
                           "Submission", k)) != RELAYPOL_OK)
            return st;
        if (ieq(v, vn, "anyone"))
            p->submission = RP_SUBMIT_ANYONE;
        else if (ieq(v, vn, "restricted"))
            p->submission = RP_SUBMIT_RESTRICTED;
        else if (ieq(v, vn, "none"))
            p->submission = RP_SUBMIT_NONE;
        else
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "Submission must be anyone, restricted or none");
        return RELAYPOL_OK;
    }
    if (ieq(k, kn, "Role")) {
        if ((st = set_once(ps, RP_SET_ROLE, &p->role_line, "Role", k)) !=
            RELAYPOL_OK)
            return st;
        if (ieq(v, vn, "gateway"))
            p->role = RP_ROLE_GATEWAY;
        else if (ieq(v, vn, "mailbox"))
            p->role = RP_ROLE_MAILBOX;
        else if (ieq(v, vn, "frontend") || ieq(v, vn, "front-end"))
            p->role = RP_ROLE_FRONTEND;
        else if (ieq(v, vn, "all-in-one"))
            p->role = RP_ROLE_ALL_IN_ONE;
        else
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "Role must be gateway, mailbox, frontend or "
                        "all-in-one");
        return RELAYPOL_OK;
    }
    if (ieq(k, kn, "RelayComputers")) {
        if ((st = set_once(ps, RP_SET_COMPUTERS, &ps->computers_line,
                           "RelayComputers", k)) != RELAYPOL_OK)
            return st;
        if (ieq(v, vn, "only-list"))
            ps->computers = 1;
        else if (ieq(v, vn, "all-except-list"))
            ps->computers = 2;
        else
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, v),
                        "RelayComputers must be only-list (Exchange 2003 "
                        "\"Only the list below\") or all-except-list (\"All "
                        "except the list below\")");
        return RELAYPOL_OK;
    }
    return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, k),
                "unknown setting '%.*s'", (int)kn, k);
}

/* ------------------------------------------------------------- groups */

/* Group names are exact bytes (as RelayUsers' "@name" refers to them). */
static uint32_t group_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static group *group_find(const parser *ps, const char *s, size_t n)
{
    if (!ps->gcap)
        return NULL;
    size_t mask = ps->gcap - 1;
    for (size_t i = group_hash(s, n) & mask;; i = (i + 1) & mask) {
        uint32_t v = ps->gslots[i];
        if (v == 0)
            return NULL;
        group *g = &ps->groups[v - 1];
        if (g->name_len == n && memcmp(rp_str(ps->p, g->name), s, n) == 0)
            return g;
    }
}

/* Puts group k in the table, which has room (group_slots_fit). */
static void group_slot_put(parser *ps, size_t k)
{
    const group *g = &ps->groups[k];
    size_t mask = ps->gcap - 1;
    size_t i = group_hash(rp_str(ps->p, g->name), g->name_len) & mask;
    while (ps->gslots[i])
        i = (i + 1) & mask;
    ps->gslots[i] = (uint32_t)k + 1;
}

/* Makes room for n groups, at most half the slots full; false without
 * memory (the table is then as it was). */
static bool group_slots_fit(parser *ps, size_t n)
{
    if (2 * n <= ps->gcap)
        return true;
    size_t cap = ps->gcap ? 2 * ps->gcap : 16;
    uint32_t *slots = rp_calloc(&ps->p->alloc, cap, sizeof *slots);
    if (!slots)
        return false;
    rp_free(&ps->p->alloc, ps->gslots, ps->gcap * sizeof *ps->gslots);
    ps->gslots = slots;
    ps->gcap = cap;
    for (size_t k = 0; k < ps->n_groups; k++)
        group_slot_put(ps, k);
    return true;
}

/* ------------------------------------------------------------ sections */

static relaypol_status section(parser *ps, const char *s, const char *e)
{
    /* s points at '[' */
    const char *close = memchr(s, ']', (size_t)(e - s));
    if (!close)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                    "section header without ']'");
    const char *after = close + 1;
    trim(&after, &e);
    if (after != e)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, after),
                    "unexpected text after section header");
    const char *n = s + 1, *ne = close;
    trim(&n, &ne);
    size_t len = (size_t)(ne - n);
    if (ieq(n, len, "RelayDenyList"))
        ps->section = RP_LIST_DENY;
    else if (ieq(n, len, "RelayAllowList"))
        ps->section = RP_LIST_ALLOW;
    else if (ieq(n, len, "RelayLocalIPList"))
        ps->section = RP_LIST_LOCAL;
    else if (ieq(n, len, "SubmitAllowList"))
        ps->section = RP_LIST_SUBMIT;
    else if (len > 6 && ieq(n, 6, "Group ")) {
        const char *g = n + 6, *ge = ne;
        trim(&g, &ge);
        size_t gl = (size_t)(ge - g);
        if (gl == 0 || gl > RP_MAX_GROUP)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, g),
                        "a group name has 1 to %u characters", RP_MAX_GROUP);
        for (size_t i = 0; i < gl; i++) {
            char c = g[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.'))
                return fail(ps, RELAYPOL_ERR_POLICY, ps->line,
                            col_of(ps, g + i),
                            "group names use letters, digits, '-', '_' "
                            "and '.'");
        }
        const group *o = group_find(ps, g, gl);
        if (o)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, g),
                        "group '%.*s' is already defined on line %u",
                        (int)gl, g, (unsigned)o->line);
        if (!rp_grow(&ps->p->alloc, (void **)&ps->groups, &ps->cap_groups,
                     ps->n_groups + 1, sizeof *ps->groups) ||
            !group_slots_fit(ps, ps->n_groups + 1))
            return nomem(ps);
        group *ng = &ps->groups[ps->n_groups];
        memset(ng, 0, sizeof *ng);
        if (!pool_add(ps->p, g, gl, &ng->name))
            return nomem(ps);
        ng->name_len = (uint32_t)gl;
        ng->line = ps->line;
        group_slot_put(ps, ps->n_groups);
        ps->cur_group = ps->n_groups++;
        ps->section = SECTION_GROUP;
    } else
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, n),
                    "unknown section [%.*s] (RelayDenyList, RelayAllowList, "
                    "RelayLocalIPList, SubmitAllowList or Group NAME)",
                    (int)len, n);
    return RELAYPOL_OK;
}

/* ---------------------------------------------------------------- lines */

/* The bytes a line is scanned for, as bits of a class. */
enum {
    C_NL = 1, C_NUL = 2, C_HASH = 4, C_EQ = 8, C_CTRL = 16, C_HIGH = 32
};
#define C_KINDS 6

/* Where a line ends and where it first has each kind of byte, from one
 * pass over it: most lines of a big policy are list entries of a dozen
 * digits and dots, and a byte loop that looks each one up once beats a
 * memchr per question. */
typedef struct line_scan {
    const char *end;            /* the '\n', or the end of the text */
    const char *first[C_KINDS]; /* [ctz(class)]: first such byte, or NULL */
    bool too_long;              /* no '\n' within RELAYPOL_MAX_LINE bytes */
} line_scan;

static const uint8_t byte_class[256] = {
    [0] = C_NUL, [1] = C_CTRL, [2] = C_CTRL, [3] = C_CTRL, [4] = C_CTRL,
    [5] = C_CTRL, [6] = C_CTRL, [7] = C_CTRL, [8] = C_CTRL,
    /* '\t' is a blank */
    ['\n'] = C_NL, [11] = C_CTRL, [12] = C_CTRL, [13] = C_CTRL,
    [14] = C_CTRL, [15] = C_CTRL, [16] = C_CTRL, [17] = C_CTRL,
    [18] = C_CTRL, [19] = C_CTRL, [20] = C_CTRL, [21] = C_CTRL,
    [22] = C_CTRL, [23] = C_CTRL, [24] = C_CTRL, [25] = C_CTRL,
    [26] = C_CTRL, [27] = C_CTRL, [28] = C_CTRL, [29] = C_CTRL,
    [30] = C_CTRL, [31] = C_CTRL, ['#'] = C_HASH, ['='] = C_EQ,
    [127] = C_CTRL,
#define H2(b) [b] = C_HIGH, [b + 1] = C_HIGH
#define H16(b) H2(b), H2(b + 2), H2(b + 4), H2(b + 6), H2(b + 8), H2(b + 10), \
               H2(b + 12), H2(b + 14)
    H16(0x80), H16(0x90), H16(0xa0), H16(0xb0),
    H16(0xc0), H16(0xd0), H16(0xe0), H16(0xf0),
#undef H16
#undef H2
};

static void scan_line(const char *s, const char *end, line_scan *ls)
{
    memset(ls, 0, sizeof *ls);
    /* No line may be longer than the limit, so there is no need to look
     * further for its end. */
    const char *stop = (size_t)(end - s) > RELAYPOL_MAX_LINE
                           ? s + RELAYPOL_MAX_LINE + 1
                           : end;
    unsigned seen = 0;
    const char *c = s;
    for (; c < stop; c++) {
        unsigned k = byte_class[(unsigned char)*c];
        if (!k)
            continue;
        if (k == C_NL)
            break;
        if (!(seen & k)) {
            seen |= k;
            ls->first[__builtin_ctz(k)] = c;
        }
    }
    ls->end = c;
    ls->too_long = c == s + RELAYPOL_MAX_LINE + 1;
}

/* The first byte of the given class before e, or NULL. */
static const char *first_before(const line_scan *ls, unsigned k,
                                const char *e)
{
    const char *f = ls->first[__builtin_ctz(k)];
    return f && f < e ? f : NULL;
}

/* One line, s[0..e) without its end of line; ls describes s[0..ls->end),
 * which holds no NUL. */
static relaypol_status parse_line(parser *ps, const char *s, const char *e,
                                  const line_scan *ls)
{
    ps->line_start = s;
    /* A comment runs from '#' to the end of the line: '#' cannot occur in
     * an address, a domain or a setting value. */
    const char *hash = first_before(ls, C_HASH, e);
    if (hash)
        e = hash;
    const char *ctrl = first_before(ls, C_CTRL, e);
    const char *high = ps->section != SECTION_GROUP
                           ? first_before(ls, C_HIGH, e)
                           : NULL;
    if (ctrl && (!high || ctrl < high))
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, ctrl),
                    "control character (0x%02x) in the policy",
                    (unsigned char)*ctrl);
    if (high)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, high),
                    "non-ASCII byte in the policy (domains must be "
                    "written as A-labels, xn--)");
    trim(&s, &e);
    if (s == e)
        return RELAYPOL_OK;
    if (*s == '[')
        return section(ps, s, e);
    /* Trimming removed only blanks, so the first '=' of the line before
     * e is the first one in s[0..e). */
    const char *eq = first_before(ls, C_EQ, e);
    if (eq) {
        const char *k = s, *ke = eq, *v = eq + 1, *ve = e;
        trim(&k, &ke);
        trim(&v, &ve);
        if (k == ke)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                        "a setting needs a name before '='");
        return setting(ps, k, ke, v, ve);
    }
    if (ps->section == SECTION_NONE)
        return fail(ps, RELAYPOL_ERR_POLICY, ps->line, col_of(ps, s),
                    "expected 'Key = value' or a [section] header");
    if (ps->section == SECTION_GROUP)
        return each_token(ps, s, e, group_line);
    return add_entry(ps, s, e);
}

/* ------------------------------------------------------------- finish */

/* Users are ordered by length first, then bytes: the decision's binary
 * search then compares bytes only with names of the query's length. */
static int user_cmp(const void *a, const void *b, const char *pool)
{
    const rp_user *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(pool + x->name, pool + y->name, x->len);
    if (c)
        return c;
    return x->token < y->token ? -1 : x->token > y->token;
}

/* Insertion sort would be quadratic on big groups; qsort has no context
 * argument in C11, so sort with a small merge sort of our own. */
static void user_sort(rp_user *u, rp_user *tmp, size_t n, const char *pool)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    user_sort(u, tmp, h, pool);
    user_sort(u + h, tmp, n - h, pool);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = user_cmp(&u[i], &u[j], pool) <= 0 ? u[i++] : u[j++];
    while (i < h)
        tmp[k++] = u[i++];
    while (j < n)
        tmp[k++] = u[j++];
    memcpy(u, tmp, n * sizeof *u);
}

static relaypol_status add_user(parser *ps, uint32_t name, uint32_t len,
                                uint32_t token)
{
    relaypol_policy *p = ps->p;
    if (!rp_grow(&p->alloc, (void **)&p->users, &p->cap_users,
                 p->n_users + 1, sizeof *p->users))
        return nomem(ps);
    p->users[p->n_users++] = (rp_user){name, len, token};
    return RELAYPOL_OK;
}

static relaypol_status resolve_users(parser *ps)
{
    relaypol_policy *p = ps->p;
    for (size_t i = 0; i < ps->n_pend; i++) {
        const pending_token *pt = &ps->pend[i];
        relaypol_status st;
        if (!pt->is_group) {
            if ((st = add_user(ps, pt->name, pt->len, pt->token)) !=
                RELAYPOL_OK)
                return st;
            continue;
        }
        group *g = group_find(ps, rp_str(p, pt->name), pt->len);
        if (!g) {
            const rp_token *t = &p->tokens[pt->token];
            return fail(ps, RELAYPOL_ERR_POLICY, t->line, t->column,
                        "RelayUsers names group '%s', which is not defined "
                        "(add a [Group %s] section)",
                        rp_str(p, pt->name), rp_str(p, pt->name));
        }
        if (g->n_members == 0 &&
            !note_add(p, RELAYPOL_WARNING, "empty-group",
                      p->tokens[pt->token].line, p->tokens[pt->token].column,
                      "group '%s' is empty: it lets nobody relay",
                      rp_str(p, pt->name)))
            return nomem(ps);
        /* A group named twice admits the same accounts by its first
         * token (the one the decision names): expanding it again would
         * only add copies for the sort to drop, and "@g" a thousand
         * times over a big group ran to gigabytes. */
        if (g->expanded)
            continue;
        g->expanded = true;
        for (size_t m = 0; m < g->n_members; m++) {
            uint32_t off = g->members[m];
            if ((st = add_user(ps, off, (uint32_t)strlen(rp_str(p, off)),
                               pt->token)) != RELAYPOL_OK)
                return st;
        }
    }
    if (p->n_users > 1) {
        rp_user *tmp = rp_malloc(&p->alloc, p->n_users * sizeof *tmp);
        if (!tmp)
            return nomem(ps);
        user_sort(p->users, tmp, p->n_users, p->pool);
        rp_free(&p->alloc, tmp, p->n_users * sizeof *tmp);
        /* Keep only the first token for a user listed twice: the earliest
         * token in RelayUsers order is the one the decision names. */
        size_t w = 1;
        for (size_t r = 1; r < p->n_users; r++) {
            const rp_user *a = &p->users[w - 1], *b = &p->users[r];
            if (a->len == b->len &&
                memcmp(p->pool + a->name, p->pool + b->name, a->len) == 0)
                continue;
            p->users[w++] = *b;
        }
        p->n_users = w;
    }
    return RELAYPOL_OK;
}

static const char *role_name(int role)
{
    switch (role) {
    case RP_ROLE_GATEWAY:
        return "gateway";
    case RP_ROLE_MAILBOX:
        return "mailbox";
    case RP_ROLE_FRONTEND:
        return "frontend";
    case RP_ROLE_ALL_IN_ONE:
        return "all-in-one";
    }
    return "none";
}

static const char *submission_name(int s)
{
    return s == RP_SUBMIT_ANYONE      ? "anyone"
           : s == RP_SUBMIT_RESTRICTED ? "restricted"
                                       : "none";
}

/* Seed 003, Figure 5, in relaypol's terms.  Every role relays only for
 * "the list below" (bit 2, the allow list), never for "all computers
 * which successfully authenticate" (bit 4 off), and empties the submit
 * and relay ACL (RelayUsers with nobody).  They differ in who may submit:
 * a gateway and an all-in-one server take anonymous Internet mail; a
 * mailbox server takes SMTP only from the listed hosts (the gateways);
 * a front-end that does not route SMTP takes none. */
static relaypol_status apply_role(parser *ps)
{
    relaypol_policy *p = ps->p;
    if (p->role == RP_ROLE_NONE)
        return RELAYPOL_OK;
    uint32_t ex = p->explicit_set;
    if (!(ex & (RP_SET_FLAGS | RP_SET_COMPUTERS | RP_SET_AUTHRELAY)))
        p->relay_flags = 2;
    if (!(ex & RP_SET_SUBMISSION))
        p->submission = (p->role == RP_ROLE_MAILBOX)    ? RP_SUBMIT_RESTRICTED
                        : (p->role == RP_ROLE_FRONTEND) ? RP_SUBMIT_NONE
                                                        : RP_SUBMIT_ANYONE;
    if (!(ex & RP_SET_TLS))
        p->auth_requires_tls = true;
    if (!(ex & RP_SET_USERS))
        p->users_restricted = true; /* the ACL with its entries removed */
    if (!note_add(p, RELAYPOL_NOTE, "role", p->role_line, 1,
                  "Role = %s means: RelayFlags = %u%s, Submission = %s%s, "
                  "AuthRequiresTLS = %s%s, RelayUsers = %s%s, AllowRouting "
                  "= %s",
                  role_name(p->role), (unsigned)p->relay_flags,
                  (ex & RP_SET_FLAGS) ? " (set explicitly)" : "",
                  submission_name(p->submission),
                  (ex & RP_SET_SUBMISSION) ? " (set explicitly)" : "",
                  p->auth_requires_tls ? "yes" : "no",
                  (ex & RP_SET_TLS) ? " (set explicitly)" : "",
                  p->n_tokens ? "(as listed)" : "(nobody)",
                  (ex & RP_SET_USERS) ? " (set explicitly)" : "",
                  p->allow_routing ? "(as listed)" : "none"))
        return nomem(ps);
    return RELAYPOL_OK;
}

/* Exchange 2003's dialog wording, mapped onto RelayFlags. */
static relaypol_status apply_computers(parser *ps)
{
    relaypol_policy *p = ps->p;
    if (ps->computers == 0 && ps->auth_relay < 0)
        return RELAYPOL_OK;
    if (p->explicit_set & RP_SET_FLAGS)
        return fail(ps, RELAYPOL_ERR_POLICY,
                    ps->computers ? ps->computers_line : ps->auth_relay_line,
                    1,
                    "RelayComputers/AuthenticatedRelay describe RelayFlags "
                    "in Exchange 2003 terms; RelayFlags is already set on "
                    "line %u: use one or the other",
                    (unsigned)p->flags_line);
    uint32_t f = 0;
    if (ps->computers == 1)
        f = 2; /* only the list below: the allow list */
    else if (ps->computers == 2)
        f = 1; /* all except the list below: only bit 1 */
    if (ps->auth_relay == 1) {
        /* Exchange 5.5 relays for "everyone not denied" only when bit 1
         * is the only bit: adding bit 4 would silently close the relay to
         * everyone else, so refuse the combination instead. */
        if (ps->computers == 2)
            return fail(ps, RELAYPOL_ERR_POLICY, ps->auth_relay_line, 1,
                        "AuthenticatedRelay = yes cannot be combined with "
                        "RelayComputers = all-except-list: RelayFlags 9 "
                        "no longer lets undenied clients relay");
        f |= 8;
    }
    p->relay_flags = f;
    p->explicit_set |= RP_SET_FLAGS;
    p->flags_line = ps->computers ? ps->computers_line : ps->auth_relay_line;
    return RELAYPOL_OK;
}

static relaypol_status list_notes(parser *ps)
{
    relaypol_policy *p = ps->p;
    static const struct { uint32_t bit; const char *name; } lists[] = {
        {1, "RelayDenyList"}, {2, "RelayAllowList"}, {4, "RelayLocalIPList"}};
    const size_t *count = ps->list_count;
    const uint32_t *first_line = ps->list_first_line;
    for (size_t l = 0; l < 3; l++)
        if (count[l] && !(p->relay_flags & lists[l].bit) &&
            !note_add(p, RELAYPOL_WARNING, "list-unused", first_line[l], 0,
                      "%s has %zu entries but RelayFlags %u does not have "
                      "bit value %u set: the list is ignored",
                      lists[l].name, count[l], (unsigned)p->relay_flags,
                      (unsigned)lists[l].bit))
            return nomem(ps);
    if (count[RP_LIST_SUBMIT] && p->submission != RP_SUBMIT_RESTRICTED &&
        !note_add(p, RELAYPOL_WARNING, "list-unused",
                  first_line[RP_LIST_SUBMIT], 0,
                  "SubmitAllowList is only used with Submission = "
                  "restricted"))
        return nomem(ps);
    if (p->relay_flags == 1 &&
        !note_add(p, RELAYPOL_WARNING, "open-relay", p->flags_line, 0,
                  "RelayFlags = 1: every client not in RelayDenyList may "
                  "relay (an open relay to the Internet unless the server "
                  "is unreachable from it)"))
        return nomem(ps);
    if ((p->relay_flags & 8) && !p->auth_requires_tls &&
        !note_add(p, RELAYPOL_WARNING, "auth-without-tls", p->flags_line, 0,
                  "authenticated clients may relay without TLS "
                  "(AuthRequiresTLS = no): passwords travel in clear"))
        return nomem(ps);
    if ((p->relay_flags & 8) && !p->users_restricted &&
        !note_add(p, RELAYPOL_WARNING, "auth-any-user", p->flags_line, 0,
                  "every authenticated account may relay (no RelayUsers): "
                  "one stolen password or infected PC sends spam (seed 003)"))
        return nomem(ps);
    if (p->allow_routing &&
        !note_add(p, RELAYPOL_WARNING, "routing-relaxed", p->routing_line, 0,
                  "AllowRouting trusts routed recipients as local: the next "
                  "hop may relay them onward"))
        return nomem(ps);
    return RELAYPOL_OK;
}

/* Builds one compiled set from the entries of the given lists. */
static relaypol_status build_set(parser *ps, int list_a, int list_b,
                                 rp_hit **hit_out, size_t *n_out,
                                 rp_netset **set_out)
{
    relaypol_policy *p = ps->p;
    size_t n = ps->list_count[list_a] +
               (list_b >= 0 ? ps->list_count[list_b] : 0);
    *n_out = n;
    if (n == 0) {
        *hit_out = NULL;
    } else {
        *hit_out = rp_malloc(&p->alloc, n * sizeof **hit_out);
        if (!*hit_out)
            return nomem(ps);
    }
    rp_net *nets = NULL;
    uint8_t *tags = NULL;
    if (n) {
        nets = rp_malloc(&p->alloc, n * sizeof *nets);
        tags = rp_malloc(&p->alloc, n);
        if (!nets || !tags) {
            rp_free(&p->alloc, nets, n * sizeof *nets);
            rp_free(&p->alloc, tags, n);
            return nomem(ps);
        }
    }
    size_t k = 0;
    for (size_t i = 0; k < n; i++) {
        const rp_entry *en = &p->entries[i];
        if (en->list != list_a && en->list != list_b)
            continue;
        (*hit_out)[k].text = en->text;
        (*hit_out)[k].line = en->line;
        nets[k] = en->net;
        tags[k] = en->list == list_a ? 0 : 1;
        k++;
    }
    relaypol_status st = rp_netset_build(&p->alloc, nets, tags, n, set_out);
    if (n) {
        rp_free(&p->alloc, nets, n * sizeof *nets);
        rp_free(&p->alloc, tags, n);
    }
    return st == RELAYPOL_OK ? st : nomem(ps);
}

/* ServerAddresses sorted and without repeats, for the decision's binary
 * search: it scanned them all for every address-literal recipient, and
 * a policy may list a provider's whole range of mail hosts. */
static void sort_server_addrs(relaypol_policy *p)
{
    if (p->n_server_addrs < 2)
        return;
    qsort(p->server_addrs, p->n_server_addrs, sizeof *p->server_addrs,
          rp_addr_cmp);
    size_t w = 1;
    for (size_t r = 1; r < p->n_server_addrs; r++)
        if (rp_addr_cmp(&p->server_addrs[w - 1], &p->server_addrs[r]) != 0)
            p->server_addrs[w++] = p->server_addrs[r];
    p->n_server_addrs = w;
}

static relaypol_status compile(parser *ps)
{
    relaypol_policy *p = ps->p;
    relaypol_status st;
    sort_server_addrs(p);
    if ((st = resolve_users(ps)) != RELAYPOL_OK ||
        (st = apply_computers(ps)) != RELAYPOL_OK ||
        (st = apply_role(ps)) != RELAYPOL_OK ||
        (st = list_notes(ps)) != RELAYPOL_OK)
        return st;
    if ((st = build_set(ps, RP_LIST_DENY, RP_LIST_ALLOW, &p->client_hit,
                        &p->n_client, &p->client_set)) != RELAYPOL_OK ||
        (st = build_set(ps, RP_LIST_LOCAL, -1, &p->local_hit, &p->n_local,
                        &p->local_set)) != RELAYPOL_OK ||
        (st = build_set(ps, RP_LIST_SUBMIT, -1, &p->submit_hit,
                        &p->n_submit, &p->submit_set)) != RELAYPOL_OK)
        return st;
    const char **pats = NULL;
    size_t *lens = NULL;
    if (p->n_domains) {
        pats = rp_malloc(&p->alloc, p->n_domains * sizeof *pats);
        lens = rp_malloc(&p->alloc, p->n_domains * sizeof *lens);
        if (!pats || !lens) {
            rp_free(&p->alloc, (void *)pats, p->n_domains * sizeof *pats);
            rp_free(&p->alloc, lens, p->n_domains * sizeof *lens);
            return nomem(ps);
        }
        for (size_t i = 0; i < p->n_domains; i++) {
            pats[i] = rp_str(p, p->domain_text[i]);
            lens[i] = strlen(pats[i]);
        }
    }
    st = rp_domains_build(&p->alloc, pats, lens, p->n_domains, &p->domains);
    if (p->n_domains) {
        rp_free(&p->alloc, (void *)pats, p->n_domains * sizeof *pats);
        rp_free(&p->alloc, lens, p->n_domains * sizeof *lens);
    }
    return st == RELAYPOL_OK ? st : nomem(ps);
}

/* ------------------------------------------------------------ lifetime */

static void policy_destroy(relaypol_policy *p)
{
    rp_alloc *a = &p->alloc;
    rp_netset_free(a, p->client_set);
    rp_netset_free(a, p->local_set);
    rp_netset_free(a, p->submit_set);
    rp_domains_free(a, p->domains);
    rp_free(a, p->client_hit, p->n_client * sizeof *p->client_hit);
    rp_free(a, p->local_hit, p->n_local * sizeof *p->local_hit);
    rp_free(a, p->submit_hit, p->n_submit * sizeof *p->submit_hit);
    rp_free(a, p->entries, p->cap_entries * sizeof *p->entries);
    rp_free(a, p->domain_text, p->cap_domains * sizeof *p->domain_text);
    rp_free(a, p->domain_line, p->cap_domain_line * sizeof *p->domain_line);
    rp_free(a, p->tokens, p->cap_tokens * sizeof *p->tokens);
    rp_free(a, p->users, p->cap_users * sizeof *p->users);
    rp_free(a, p->server_addrs,
            p->cap_server_addrs * sizeof *p->server_addrs);
    rp_free(a, p->notes, p->cap_notes * sizeof *p->notes);
    rp_free(a, p->pool, p->pool_cap);
    rp_alloc copy = *a;
    rp_free(&copy, p, sizeof *p);
}

static void parser_cleanup(parser *ps)
{
    rp_alloc *a = &ps->p->alloc;
    for (size_t i = 0; i < ps->n_groups; i++)
        rp_free(a, ps->groups[i].members,
                ps->groups[i].cap_members * sizeof(uint32_t));
    rp_free(a, ps->groups, ps->cap_groups * sizeof *ps->groups);
    rp_free(a, ps->gslots, ps->gcap * sizeof *ps->gslots);
    rp_free(a, ps->pend, ps->cap_pend * sizeof *ps->pend);
}

void relaypol_load_options_init(relaypol_load_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
}

static void error_init(relaypol_error *err, const char *source)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    snprintf(err->source, sizeof err->source, "%s", source);
}

relaypol_status relaypol_policy_load_string(const char *text, size_t len,
                                            const char *source,
                                            const relaypol_load_options *opts,
                                            relaypol_policy **out,
                                            relaypol_error *err)
{
    if (!source)
        source = "<string>";
    error_init(err, source);
    if (out)
        *out = NULL;
    if (!out || (!text && len > 0) ||
        (opts && opts->size < offsetof(relaypol_load_options, alloc_ud) +
                                  sizeof(void *))) {
        if (err) {
            err->status = RELAYPOL_ERR_INVALID;
            snprintf(err->message, sizeof err->message,
                     "invalid argument to relaypol_policy_load_string");
        }
        return RELAYPOL_ERR_INVALID;
    }
    if (len > RELAYPOL_MAX_FILE_SIZE) {
        if (err) {
            err->status = RELAYPOL_ERR_LIMIT;
            snprintf(err->message, sizeof err->message,
                     "policy is larger than %u bytes", RELAYPOL_MAX_FILE_SIZE);
        }
        return RELAYPOL_ERR_LIMIT;
    }

    rp_alloc a;
    rp_alloc_init(&a, opts ? opts->alloc : NULL, opts ? opts->alloc_ud : NULL);
    relaypol_policy *p = rp_malloc(&a, sizeof *p);
    if (!p) {
        if (err) {
            err->status = RELAYPOL_ERR_NOMEM;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return RELAYPOL_ERR_NOMEM;
    }
    memset(p, 0, sizeof *p);
    p->alloc = a;
    p->refs = 1;
    p->literal_masks =
        opts && (opts->flags & RELAYPOL_LOAD_LITERAL_MASKS) != 0;
    snprintf(p->source, sizeof p->source, "%s", source);

    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.p = p;
    ps.err = err;
    ps.load_flags = opts ? opts->flags : 0;
    ps.section = SECTION_NONE;
    ps.auth_relay = -1;

    relaypol_status st = RELAYPOL_OK;
    const char *s = text, *end = text + len;
    while (st == RELAYPOL_OK && s < end) {
        ps.line++;
        line_scan ls;
        scan_line(s, end, &ls);
        const char *le = ls.end;
        if (ls.too_long) {
            st = fail(&ps, RELAYPOL_ERR_LIMIT, ps.line, RELAYPOL_MAX_LINE + 1,
                      "line is longer than %u bytes", RELAYPOL_MAX_LINE);
            break;
        }
        const char *nul = first_before(&ls, C_NUL, le);
        if (nul) {
            st = fail(&ps, RELAYPOL_ERR_POLICY, ps.line,
                      (uint32_t)(nul - s) + 1, "NUL byte in the policy");
            break;
        }
        const char *ce = le;
        if (ce > s && ce[-1] == '\r')
            ce--;
        st = parse_line(&ps, s, ce, &ls);
        s = le < end ? le + 1 : end;
    }
    if (st == RELAYPOL_OK)
        st = compile(&ps);
    parser_cleanup(&ps);
    if (st != RELAYPOL_OK) {
        policy_destroy(p);
        return st;
    }
    *out = p;
    return RELAYPOL_OK;
}

relaypol_policy *relaypol_policy_ref(relaypol_policy *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void relaypol_policy_free(relaypol_policy *p)
{
    if (!p)
        return;
    /* Release on the decrement, acquire before destroying: whatever a
     * thread did with the policy happens before it is freed. */
    if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
        policy_destroy(p);
}

size_t relaypol_policy_memory(const relaypol_policy *p)
{
    return p ? p->alloc.in_use : 0;
}

unsigned relaypol_policy_relay_flags(const relaypol_policy *p)
{
    return p ? (unsigned)p->relay_flags : 0;
}
