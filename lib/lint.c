/*
 * Findings about a loaded policy: what the loader noted line by line,
 * plus what only the whole lists show — duplicates, entries shadowed by a
 * wider one of the same list, allow entries that a deny entry always
 * beats, and very wide allow entries.  Runs off the decision path and may
 * allocate (through the policy's allocator function; the policy itself is
 * not touched, so several threads may lint one policy).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct finding {
    relaypol_severity severity;
    const char *code;
    uint32_t line, column;
    uint32_t order; /* for a stable sort */
    char msg[320];
} finding;

typedef struct lint {
    const relaypol_policy *p;
    rp_alloc a;
    finding *f;
    size_t n, cap;
    bool nomem;
} lint;

static void add(lint *l, relaypol_severity sev, const char *code,
                uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void add(lint *l, relaypol_severity sev, const char *code,
                uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (l->nomem)
        return;
    if (!rp_grow(&l->a, (void **)&l->f, &l->cap, l->n + 1, sizeof *l->f)) {
        l->nomem = true;
        return;
    }
    finding *f = &l->f[l->n];
    f->severity = sev;
    f->code = code;
    f->line = line;
    f->column = col;
    f->order = (uint32_t)l->n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    l->n++;
}

/* Orders contiguous entries so that every entry comes after all entries
 * that contain it: by family, then network bytes, then shorter prefix. */
static int entry_cmp(const rp_entry *x, const rp_entry *y)
{
    if (x->net.family != y->net.family)
        return x->net.family < y->net.family ? -1 : 1;
    int c = memcmp(x->net.net, y->net.net, 16);
    if (c)
        return c;
    if (x->net.prefix_len != y->net.prefix_len)
        return x->net.prefix_len < y->net.prefix_len ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void sort_idx(const rp_entry *e, uint32_t *v, uint32_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_idx(e, v, tmp, h);
    sort_idx(e, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = entry_cmp(&e[v[i]], &e[v[j]]) <= 0 ? v[i++] : v[j++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static bool contains(const rp_net *outer, const rp_net *inner)
{
    if (outer->family != inner->family || outer->prefix_len < 0 ||
        inner->prefix_len < outer->prefix_len)
        return false;
    for (int i = 0; i < 16; i++)
        if ((inner->net[i] & outer->mask[i]) != outer->net[i])
            return false;
    return true;
}

static const char *list_name(int l)
{
    static const char *names[] = {"RelayDenyList", "RelayAllowList",
                                  "RelayLocalIPList", "SubmitAllowList"};
    return l >= 0 && l < RP_LIST_COUNT ? names[l] : "?";
}

/* One sweep over the sorted entries of the lists in `mask` (bit per
 * list).  The stack holds the chain of entries containing the current one
 * (prefixes nest, so the containers of an entry form a chain). */
static void sweep(lint *l, unsigned mask)
{
    const relaypol_policy *p = l->p;
    size_t n = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        const rp_entry *e = &p->entries[i];
        if ((mask >> e->list & 1) && e->net.prefix_len >= 0 &&
            !(e->net.flags & RP_NET_HOSTBITS))
            n++;
    }
    if (n == 0)
        return;
    uint32_t *v = rp_malloc(&l->a, n * sizeof *v);
    uint32_t *tmp = rp_malloc(&l->a, n * sizeof *tmp);
    uint32_t stack[130];
    if (!v || !tmp) {
        l->nomem = true;
        rp_free(&l->a, v, n * sizeof *v);
        rp_free(&l->a, tmp, n * sizeof *tmp);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        const rp_entry *e = &p->entries[i];
        if ((mask >> e->list & 1) && e->net.prefix_len >= 0 &&
            !(e->net.flags & RP_NET_HOSTBITS))
            v[k++] = (uint32_t)i;
    }
    sort_idx(p->entries, v, tmp, n);

    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        const rp_entry *e = &p->entries[v[i]];
        while (depth > 0 && !contains(&p->entries[stack[depth - 1]].net,
                                      &e->net))
            depth--;
        const rp_entry *same = NULL, *deny = NULL;
        for (size_t s = depth; s-- > 0;) {
            const rp_entry *o = &p->entries[stack[s]];
            if (!same && o->list == e->list)
                same = o;
            if (!deny && o->list == RP_LIST_DENY)
                deny = o;
        }
        if (same && same->net.prefix_len == e->net.prefix_len)
            add(l, RELAYPOL_WARNING, "duplicate", e->line, e->column,
                "'%s' duplicates '%s' on line %u of %s", rp_str(p, e->text),
                rp_str(p, same->text), (unsigned)same->line,
                list_name(e->list));
        else if (same)
            add(l, RELAYPOL_WARNING, "shadowed", e->line, e->column,
                "'%s' is inside '%s' (line %u) of the same list: it changes "
                "nothing but the entry named in explanations",
                rp_str(p, e->text), rp_str(p, same->text),
                (unsigned)same->line);
        if (e->list == RP_LIST_ALLOW && deny && (p->relay_flags & 1))
            add(l, RELAYPOL_WARNING, "allow-inside-deny", e->line, e->column,
                "allow entry '%s' lies entirely inside deny entry '%s' "
                "(line %u): with bit 1 set it can never allow anything",
                rp_str(p, e->text), rp_str(p, deny->text),
                (unsigned)deny->line);
        if (depth < sizeof stack / sizeof stack[0])
            stack[depth++] = v[i];
    }
    rp_free(&l->a, v, n * sizeof *v);
    rp_free(&l->a, tmp, n * sizeof *tmp);
}

static void wide_allow(lint *l)
{
    const relaypol_policy *p = l->p;
    for (size_t i = 0; i < p->n_entries; i++) {
        const rp_entry *e = &p->entries[i];
        if (e->list != RP_LIST_ALLOW || e->net.prefix_len < 0)
            continue;
        int limit = e->net.family == RELAYPOL_AF_INET ? 8 : 32;
        if (e->net.prefix_len < limit)
            add(l, RELAYPOL_WARNING, "wide-allow", e->line, e->column,
                "allow entry '%s' is wider than a /%d: check it is not a "
                "typo for a narrower network",
                rp_str(p, e->text), limit);
    }
}

static int finding_cmp(const finding *a, const finding *b)
{
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void sort_findings(finding *f, finding *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_findings(f, tmp, h);
    sort_findings(f + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = finding_cmp(&f[i], &f[j]) <= 0 ? f[i++] : f[j++];
    while (i < h)
        tmp[k++] = f[i++];
    while (j < n)
        tmp[k++] = f[j++];
    memcpy(f, tmp, n * sizeof *f);
}

relaypol_status relaypol_policy_lint(const relaypol_policy *p,
                                     relaypol_finding_fn fn, void *ud)
{
    if (!p || !fn)
        return RELAYPOL_ERR_INVALID;
    lint l;
    memset(&l, 0, sizeof l);
    l.p = p;
    rp_alloc_init(&l.a, p->alloc.fn, p->alloc.ud);

    for (size_t i = 0; i < p->n_notes; i++) {
        const rp_note *nt = &p->notes[i];
        add(&l, (relaypol_severity)nt->severity, nt->code, nt->line,
            nt->column, "%s", rp_str(p, nt->msg));
    }
    sweep(&l, 1u << RP_LIST_DENY | 1u << RP_LIST_ALLOW);
    sweep(&l, 1u << RP_LIST_LOCAL);
    sweep(&l, 1u << RP_LIST_SUBMIT);
    wide_allow(&l);

    relaypol_status st = RELAYPOL_OK;
    if (l.nomem) {
        st = RELAYPOL_ERR_NOMEM;
    } else {
        finding *tmp = l.n > 1 ? rp_malloc(&l.a, l.n * sizeof *tmp) : NULL;
        if (l.n > 1 && !tmp) {
            st = RELAYPOL_ERR_NOMEM;
        } else {
            sort_findings(l.f, tmp, l.n);
            rp_free(&l.a, tmp, l.n * sizeof *tmp);
            for (size_t i = 0; i < l.n; i++) {
                relaypol_finding f = {l.f[i].severity, l.f[i].code,
                                      l.f[i].line, l.f[i].column,
                                      l.f[i].msg};
                if (fn(ud, &f))
                    break;
            }
        }
    }
    rp_free(&l.a, l.f, l.cap * sizeof *l.f);
    return st;
}
