/*
 * bench_lpm: relaypol's address sets against the usual ways of doing a
 * longest-prefix match, measured side by side in one run (issue 6).
 *
 *   bench_lpm [--quick] [--reps N] [--cpu N] [--with-lpm-1m]
 *
 * rte_lpm's build is quadratic (each add scans every rule of its depth):
 * 1M prefixes take minutes here, so by default the 1M ratios are taken
 * against the 100k rte_lpm table (the same DIR-24-8 lookup: one tbl24
 * read, as no prefix is longer than /24), which looks up the 1M
 * workload's addresses in the same repetitions as relaypol (the row
 * "rte_lpm, 100k tbl"); each ratio is the median of the repetitions' own
 * ratios, and the summary names the anchor (v4_1M_anchor_n).
 * --with-lpm-1m builds the real 1M table as well.
 *
 * Beside the address sets it measures a whole relaypol_decide() on the
 * bundled example policy (warm: independent decisions in a loop; cold:
 * one at a time behind an lfence; both over a random mix of eight kinds
 * of request; and warm again with each kind repeated alone, which is the
 * mix without its mispredicted branches), the core's clock alongside, so
 * that decisions can be read in cycles too, and loading a generated
 * 1M-line policy text (parse + compile) with relaypol_policy_load_string().
 *
 * Methods: relaypol (rp_netset), a linear scan (what Postfix cidr tables
 * and Exim host lists do), sorted intervals with a binary search, and,
 * when built with DPDK, rte_lpm (DIR-24-8), rte_lpm6 and rte_fib6.  Every
 * method's answer ("which entry") is cross-checked against relaypol's.
 *
 * Workloads are generated from a fixed seed with prefix lengths drawn like
 * a global BGP table (shared/notes/perf-anchors.md).  Throughput is a loop
 * of independent lookups, after an untimed pass that warms the caches;
 * cold latency is one lookup at a time with an lfence between them, so
 * the CPU cannot overlap their memory accesses (the "one at a
 * time, serialised"), right after the throughput passes.
 * Methods are interleaved within each repetition and medians reported.
 *
 * The last line of output is a key=value summary for scripts; ratios are
 * relaypol / anchor (lower is better).
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SERIALIZE() _mm_lfence()
#else
#define SERIALIZE() __asm__ __volatile__("" ::: "memory")
#endif

#include "internal.h"

#ifdef HAVE_DPDK
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib6.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#endif

#define MAX_REPS 15

/* ------------------------------------------------------------- utilities */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    /* splitmix64: fast, and every seed is good. */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_lpm: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double t[MAX_REPS];
    if (n <= 0)
        return NAN;
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n & 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* A sink the compiler must assume is read. */
static volatile uint64_t g_sink;

/* ------------------------------------------------------------- workloads */

/* Per 100,000 prefixes, /8 .. /24 (perf-anchors.md). */
static const unsigned bgp4[33] = {
    [8] = 10,    [9] = 10,    [10] = 30,   [11] = 60,   [12] = 150,
    [13] = 250,  [14] = 450,  [15] = 600,  [16] = 1400, [17] = 800,
    [18] = 1400, [19] = 2500, [20] = 4200, [21] = 4500, [22] = 11000,
    [23] = 10500, [24] = 62140,
};
/* Per 1000 prefixes in 2000::/3. */
static const unsigned bgp6[129] = {
    [48] = 450, [32] = 120, [44] = 90, [40] = 70, [36] = 40, [29] = 40,
    [47] = 30,  [46] = 30,  [45] = 20, [42] = 20, [30] = 10, [33] = 10,
    [34] = 10,  [35] = 10,  [38] = 10, [39] = 10, [41] = 10, [43] = 10,
    [56] = 10,
};

static int draw_len(rng *r, const unsigned *w, int maxlen)
{
    unsigned total = 0;
    for (int l = 0; l <= maxlen; l++)
        total += w[l];
    unsigned x = (unsigned)(rnd(r) % total);
    for (int l = 0; l <= maxlen; l++) {
        if (x < w[l])
            return l;
        x -= w[l];
    }
    return maxlen;
}

/* A set of unique prefixes (open addressing on a 64-bit digest). */
typedef struct uset {
    uint64_t *slot;
    size_t cap;
} uset;

static bool uset_add(uset *u, uint64_t key)
{
    key |= 1; /* 0 marks an empty slot */
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (u->cap - 1);
    for (; u->slot[i]; i = (i + 1) & (u->cap - 1))
        if (u->slot[i] == key)
            return false;
    u->slot[i] = key;
    return true;
}

static void uset_init(uset *u, size_t n)
{
    u->cap = 64;
    while (u->cap < 4 * n)
        u->cap *= 2;
    u->slot = calloc(u->cap, sizeof *u->slot);
    if (!u->slot)
        exit(2);
}

typedef struct set4 {
    size_t n;
    uint32_t *addr; /* host order, host bits clear */
    uint8_t *len;
} set4;

typedef struct set6 {
    size_t n;
    uint8_t (*addr)[16];
    uint8_t *len;
} set6;

static void gen4(set4 *s, size_t n, uint64_t seed)
{
    rng r = {seed};
    uset u;
    uset_init(&u, n);
    s->n = n;
    s->addr = xmalloc(n * sizeof *s->addr);
    s->len = xmalloc(n);
    for (size_t i = 0; i < n;) {
        int len = draw_len(&r, bgp4, 32);
        uint32_t m = len ? 0xffffffffu << (32 - len) : 0;
        uint32_t a = (uint32_t)rnd(&r) & m;
        if (!uset_add(&u, (uint64_t)a << 8 | (unsigned)len))
            continue;
        s->addr[i] = a;
        s->len[i] = (uint8_t)len;
        i++;
    }
    free(u.slot);
}

static void mask6(uint8_t *b, int len)
{
    for (int i = 0; i < 16; i++) {
        int bits = len - 8 * i;
        b[i] &= bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
}

static void gen6(set6 *s, size_t n, uint64_t seed)
{
    rng r = {seed};
    uset u;
    uset_init(&u, n);
    s->n = n;
    s->addr = xmalloc(n * sizeof *s->addr);
    s->len = xmalloc(n);
    for (size_t i = 0; i < n;) {
        int len = draw_len(&r, bgp6, 128);
        uint8_t b[16];
        for (int q = 0; q < 16; q++)
            b[q] = (uint8_t)rnd(&r);
        b[0] = (uint8_t)(0x20 | (b[0] & 0x1f)); /* 2000::/3 */
        mask6(b, len);
        uint64_t hi = 0, lo = 0;
        for (int q = 0; q < 8; q++) {
            hi = hi << 8 | b[q];
            lo = lo << 8 | b[8 + q];
        }
        if (!uset_add(&u, (hi ^ (lo * 31) ^ ((uint64_t)len << 56)) * 3 + (uint64_t)len))
            continue;
        memcpy(s->addr[i], b, 16);
        s->len[i] = (uint8_t)len;
        i++;
    }
    free(u.slot);
}

static void to_nets4(const set4 *s, rp_net *nets)
{
    for (size_t i = 0; i < s->n; i++) {
        rp_net *e = &nets[i];
        memset(e, 0, sizeof *e);
        e->family = RELAYPOL_AF_INET;
        e->prefix_len = s->len[i];
        uint32_t m = s->len[i] ? 0xffffffffu << (32 - s->len[i]) : 0;
        for (int q = 0; q < 4; q++) {
            e->net[q] = (uint8_t)(s->addr[i] >> (24 - 8 * q));
            e->mask[q] = (uint8_t)(m >> (24 - 8 * q));
        }
    }
}

static void to_nets6(const set6 *s, rp_net *nets)
{
    for (size_t i = 0; i < s->n; i++) {
        rp_net *e = &nets[i];
        memset(e, 0, sizeof *e);
        e->family = RELAYPOL_AF_INET6;
        e->prefix_len = s->len[i];
        memcpy(e->net, s->addr[i], 16);
        memset(e->mask, 0xff, 16);
        mask6(e->mask, s->len[i]);
    }
}

/* -------------------------------------------------- linear scan (v4, v6) */

typedef struct ord {
    uint32_t a;
    uint8_t len;
    int32_t idx;
} ord;

/* The entries most specific first (stable, so ties keep file order) with
 * their masks precomputed: the first match is the answer, and blocks of 8
 * are compared without branches so that the compiler can vectorise them. */
typedef struct lin4 {
    uint32_t *a, *m;
    int32_t *idx;
    size_t n;
} lin4;

static int lin_cmp(const void *pa, const void *pb)
{
    const ord *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void lin4_build(lin4 *l, const set4 *s)
{
    ord *o = xmalloc(s->n * sizeof *o);
    for (size_t i = 0; i < s->n; i++)
        o[i] = (ord){s->addr[i], s->len[i], (int32_t)i};
    qsort(o, s->n, sizeof *o, lin_cmp);
    l->n = s->n;
    l->a = xmalloc(s->n * sizeof *l->a);
    l->m = xmalloc(s->n * sizeof *l->m);
    l->idx = xmalloc(s->n * sizeof *l->idx);
    for (size_t i = 0; i < s->n; i++) {
        l->a[i] = o[i].a;
        l->m[i] = o[i].len ? 0xffffffffu << (32 - o[i].len) : 0;
        l->idx[i] = o[i].idx;
    }
    free(o);
}

static void lin4_free(lin4 *l)
{
    free(l->a);
    free(l->m);
    free(l->idx);
}

static inline int32_t linear4(const lin4 *l, uint32_t x)
{
    size_t i = 0;
    for (; i + 8 <= l->n; i += 8) {
        unsigned hit = 0;
        for (unsigned k = 0; k < 8; k++)
            hit |= (unsigned)((x & l->m[i + k]) == l->a[i + k]) << k;
        if (hit)
            return l->idx[i + (size_t)__builtin_ctz(hit)];
    }
    for (; i < l->n; i++)
        if ((x & l->m[i]) == l->a[i])
            return l->idx[i];
    return -1;
}

static int32_t linear6(const set6 *s, const uint8_t *x)
{
    int32_t best = -1;
    int bl = -1;
    for (size_t i = 0; i < s->n; i++) {
        if (s->len[i] <= bl)
            continue;
        uint8_t b[16];
        memcpy(b, x, 16);
        mask6(b, s->len[i]);
        if (memcmp(b, s->addr[i], 16) == 0) {
            bl = s->len[i];
            best = (int32_t)i;
        }
    }
    return best;
}

/* ------------------------------------- sorted intervals + binary search */

/* The textbook structure: the start of every elementary interval, sorted,
 * with the entry that holds it; a lookup is one binary search. */
typedef struct ivs {
    uint32_t *key;
    int32_t *val;
    size_t n;
} ivs;

static int ord_cmp(const void *pa, const void *pb)
{
    const ord *a = pa, *b = pb;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

static void ivs_push(ivs *v, uint64_t pos, int32_t val)
{
    if (pos > 0xffffffffu)
        return;
    if (v->n && v->key[v->n - 1] == pos)
        v->n--;
    if (v->n && v->val[v->n - 1] == val)
        return;
    v->key[v->n] = (uint32_t)pos;
    v->val[v->n] = val;
    v->n++;
}

static void ivs_build(ivs *v, const set4 *s)
{
    ord *o = xmalloc(s->n * sizeof *o);
    for (size_t i = 0; i < s->n; i++)
        o[i] = (ord){s->addr[i], s->len[i], (int32_t)i};
    qsort(o, s->n, sizeof *o, ord_cmp);
    v->key = xmalloc((2 * s->n + 1) * sizeof *v->key);
    v->val = xmalloc((2 * s->n + 1) * sizeof *v->val);
    v->n = 0;
    struct {
        uint64_t end;
        int32_t idx;
    } st[40];
    int sp = 0;
    ivs_push(v, 0, -1);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t start = o[i].a;
        uint64_t end = start + (o[i].len ? (1ull << (32 - o[i].len)) : (1ull << 32)) - 1;
        while (sp && st[sp - 1].end < start) {
            sp--;
            ivs_push(v, st[sp].end + 1, sp ? st[sp - 1].idx : -1);
        }
        st[sp].end = end;
        st[sp].idx = o[i].idx;
        sp++;
        ivs_push(v, start, o[i].idx);
    }
    while (sp) {
        sp--;
        ivs_push(v, st[sp].end + 1, sp ? st[sp - 1].idx : -1);
    }
    free(o);
}

static inline int32_t ivs_lookup(const ivs *v, uint32_t x)
{
    const uint32_t *b = v->key;
    size_t k = v->n;
    while (k > 1) {
        size_t h = k >> 1;
        b = (b[h] <= x) ? b + h : b;
        k -= h;
    }
    return v->val[b - v->key];
}

/* --------------------------------------------------------------- relaypol */

static inline int32_t rp4(const rp_netset *s, uint32_t x)
{
    relaypol_addr ad;
    ad.family = RELAYPOL_AF_INET;
    uint32_t be = __builtin_bswap32(x);
    memcpy(ad.bytes, &be, 4);
    int32_t out[2];
    rp_netset_lookup(s, &ad, out);
    return out[0];
}

static inline int32_t rp6(const rp_netset *s, const uint8_t *x)
{
    relaypol_addr ad;
    ad.family = RELAYPOL_AF_INET6;
    memcpy(ad.bytes, x, 16);
    int32_t out[2];
    rp_netset_lookup(s, &ad, out);
    return out[0];
}


/* ------------------------------------------------------------------ DPDK */

#ifdef HAVE_DPDK
/* DPDK tables live on an external heap of memory we allocated and touched
 * ourselves: with --no-huge, DPDK's own memory is a memfd whose untouched
 * pages all map the zero page, which makes lookups into a mostly empty
 * table look far faster than they are.  Both sides now run on the same
 * kind of pages. */
typedef struct dpdk {
    bool ok;
    int socket;
    void *mem;
    size_t memlen;
} dpdk;

static size_t heap_used(const dpdk *d)
{
    struct rte_malloc_socket_stats st;
    if (rte_malloc_get_socket_stats(d->socket, &st) != 0)
        return 0;
    return st.heap_allocsz_bytes;
}

static void dpdk_init(dpdk *d, int cpu, size_t heap_bytes)
{
    memset(d, 0, sizeof *d);
    char lcore[16];
    snprintf(lcore, sizeof lcore, "%d", cpu);
    static const char *const args[] = {
        "bench_lpm", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
        "--no-telemetry", "--log-level=lib.eal:error", "-l"};
    /* rte_eal_init wants writable strings. */
    static char store[16][32];
    char *argv[16];
    int argc = 0;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++, argc++) {
        snprintf(store[argc], sizeof store[argc], "%s", args[i]);
        argv[argc] = store[argc];
    }
    snprintf(store[argc], sizeof store[argc], "%s", lcore);
    argv[argc] = store[argc];
    argc++;
#if defined(__x86_64__)
    /* DPDK caps its vector paths at 256 bits unless told otherwise, which
     * keeps rte_fib6 on its scalar trie; the issue compares with the
     * vector path where the CPU has one. */
    if (__builtin_cpu_supports("avx512f")) {
        snprintf(store[argc], sizeof store[argc], "%s",
                 "--force-max-simd-bitwidth=512");
        argv[argc] = store[argc];
        argc++;
    }
#endif
    argv[argc] = NULL;
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "bench_lpm: rte_eal_init failed (%s); no DPDK\n",
                rte_strerror(rte_errno));
        return;
    }
    d->memlen = heap_bytes;
    d->mem = mmap(NULL, d->memlen, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->mem == MAP_FAILED) {
        fprintf(stderr, "bench_lpm: mmap of the DPDK heap failed\n");
        return;
    }
    memset(d->mem, 0, d->memlen); /* pre-fault every page */
    size_t pg = 4096;
    if (rte_malloc_heap_create("bench") != 0 ||
        rte_malloc_heap_memory_add("bench", d->mem, d->memlen, NULL,
                                   (unsigned)(d->memlen / pg), pg) != 0) {
        fprintf(stderr, "bench_lpm: external heap failed (%s)\n",
                rte_strerror(rte_errno));
        return;
    }
    d->socket = rte_malloc_heap_get_socket("bench");
    d->ok = d->socket >= 0;
}
#endif

/* --------------------------------------------------------------- results */

enum {
    M_RP, M_RPBATCH, M_LIN, M_IVS, M_LPM, M_LPMBULK, M_LPMANC, M_LPM6, M_FIB6,
    M_NONE, M_N
};
static const char *const mname[M_N] = {
    "relaypol", "relaypol batch", "linear scan", "sorted intervals", "rte_lpm",
    "rte_lpm bulk", "rte_lpm, 100k tbl", "rte_lpm6", "rte_fib6",
    "(no lookup)",
};

typedef struct row {
    bool have;
    double tput[MAX_REPS], cold[MAX_REPS];
    int nt, nc;
    double bytes;   /* memory of the structure */
    double build_s; /* build time */
} row;

typedef struct wl {
    char name[32];
    size_t n;
    row m[M_N];
} wl;

static void print_row(const wl *w, int m)
{
    const row *r = &w->m[m];
    if (!r->have)
        return;
    double t = median(r->tput, r->nt), c = median(r->cold, r->nc);
    printf("%-10s %-17s %10.1f %10.1f", w->name, mname[m], t, c);
    if (r->bytes > 0)
        printf(" %10.2f %9.1f", r->bytes / (1024.0 * 1024.0),
               r->bytes / (double)w->n);
    else
        printf(" %10s %9s", "-", "-");
    if (r->build_s > 0)
        printf(" %9.3f", r->build_s);
    else
        printf(" %9s", "-");
    printf("\n");
}

#ifdef HAVE_DPDK
/* The median of a[i] / b[i]: ratios of measurements taken in the same
 * repetition, which the machine's drift between repetitions cancels out
 * of. */
static double paired_ratio(const double *a, const double *b, int n)
{
    double r[MAX_REPS];
    for (int i = 0; i < n; i++)
        r[i] = a[i] / b[i];
    return median(r, n);
}
#endif

static double tput_of(const wl *w, int m)
{
    return w->m[m].have ? median(w->m[m].tput, w->m[m].nt) : NAN;
}

static double cold_of(const wl *w, int m)
{
    return w->m[m].have ? median(w->m[m].cold, w->m[m].nc) : NAN;
}

/* ---------------------------------------------------------- measurement */

typedef struct opts {
    bool quick;
    bool with_lpm_1m;
    size_t v4_only; /* --v4 N: only that IPv4 size (for development) */
    size_t v6_only; /* --v6 N: only that IPv6 size (for development) */
    uint64_t v4_seed; /* --seed K: with --v4, the workload of seed 0x1234+K */
    bool decide_only; /* --decide: only the whole-decision figures */
    int reps;
    int cpu;
} opts;

static size_t n_tput, n_cold; /* lookups per measurement */

/* The loops are macros so that every method's lookup is inlined the same
 * way into an identical loop.  Throughput is the steady state: a first,
 * untimed pass puts the method's own structure back in the caches, which
 * the methods measured before it (rte_fib6 touches 350 MiB) have flushed;
 * that made a 2 MiB structure up to half again slower, depending on what
 * ran before it.  Latency from a cold start is the cold column's. */
/* What a timed loop costs without a lookup in it (the "(no lookup)"
 * rows); the empty asm keeps the compiler from folding the loop away. */
static inline uint32_t no_lookup(uint32_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}

#define TIME_TPUT(expr, count, dst)                                            \
    do {                                                                       \
        uint64_t acc_ = 0;                                                     \
        for (size_t i = 0; i < (count); i++)                                   \
            acc_ += (uint64_t)(uint32_t)(expr);                                \
        double t0_ = now_s();                                                  \
        for (size_t i = 0; i < (count); i++)                                   \
            acc_ += (uint64_t)(uint32_t)(expr);                                \
        double t1_ = now_s();                                                  \
        g_sink += acc_;                                                        \
        (dst) = (t1_ - t0_) * 1e9 / (double)(count);                           \
    } while (0)

#define TIME_COLD(expr, count, dst)                                            \
    do {                                                                       \
        uint64_t acc_ = 0;                                                     \
        double t0_ = now_s();                                                  \
        for (size_t i = 0; i < (count); i++) {                                 \
            SERIALIZE();                                                       \
            acc_ += (uint64_t)(uint32_t)(expr);                                \
        }                                                                      \
        SERIALIZE();                                                           \
        double t1_ = now_s();                                                  \
        g_sink += acc_;                                                        \
        (dst) = (t1_ - t0_) * 1e9 / (double)(count);                           \
    } while (0)

/* Whether rte_fib6 ran its AVX-512 lookup (the summary says so). */
static bool fib6_vector;

static int mismatches;

static void check(const char *wname, const char *what, size_t i, int32_t want,
                  int32_t got)
{
    if (want == got)
        return;
    if (mismatches++ < 10)
        fprintf(stderr, "MISMATCH %s %s lookup %zu: relaypol %d, %s %d\n",
                wname, what, i, want, what, got);
}

/* The median of three builds: a single one came out up to 3x slower now
 * and then in a process that had set up DPDK (0.14-0.17 s without it,
 * spikes of 0.5 s with it), which says nothing about the build. */
static void rp_build_timed(rp_alloc *a, const rp_net *nets, const uint8_t *lists,
                           size_t n, rp_netset **s, row *r)
{
    double t[3];
    for (int k = 0; k < 3; k++) {
        if (k)
            rp_netset_free(a, *s);
        double t0 = now_s();
        if (rp_netset_build(a, nets, lists, n, s) != RELAYPOL_OK) {
            fprintf(stderr, "bench_lpm: rp_netset_build failed\n");
            exit(2);
        }
        t[k] = now_s() - t0;
    }
    r->build_s = median(t, 3);
    r->bytes = (double)a->in_use;
    r->have = true;
}

#ifdef HAVE_DPDK
static struct rte_lpm *lpm_build(dpdk *d, const set4 *s, row *r, int seq)
{
    char name[32];
    snprintf(name, sizeof name, "lpm%d", seq);
    size_t before = heap_used(d);
    double t0 = now_s();
    struct rte_lpm_config cfg = {.max_rules = (uint32_t)s->n,
                                 .number_tbl8s = 256, .flags = 0};
    struct rte_lpm *lpm = rte_lpm_create(name, d->socket, &cfg);
    if (!lpm) {
        fprintf(stderr, "bench_lpm: rte_lpm_create: %s\n",
                rte_strerror(rte_errno));
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        if (rte_lpm_add(lpm, s->addr[i], s->len[i], (uint32_t)i) != 0) {
            fprintf(stderr, "bench_lpm: rte_lpm_add failed at %zu\n", i);
            rte_lpm_free(lpm);
            return NULL;
        }
    r->build_s = now_s() - t0;
    r->bytes = (double)(heap_used(d) - before);
    r->have = true;
    return lpm;
}

static inline int32_t lpm4(const struct rte_lpm *l, uint32_t x)
{
    uint32_t nh;
    return rte_lpm_lookup(l, x, &nh) == 0 ? (int32_t)nh : -1;
}
#endif

#ifdef HAVE_DPDK
/* See the end of run_v4. */
static struct rte_lpm *anchor_lpm;
static size_t anchor_n;
#endif

static void run_v4(wl *w, size_t n, const opts *o, void *dp, uint64_t seed)
{
    set4 s;
    gen4(&s, n, seed);
    snprintf(w->name, sizeof w->name, "v4 %zu", n);
    w->n = n;
    rp_net *nets = xmalloc(n * sizeof *nets);
    uint8_t *lists = calloc(n ? n : 1, 1);
    to_nets4(&s, nets);

    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *rs = NULL;
    rp_build_timed(&a, nets, lists, n, &rs, &w->m[M_RP]);

    ivs iv;
    double t0 = now_s();
    ivs_build(&iv, &s);
    w->m[M_IVS].build_s = now_s() - t0;
    w->m[M_IVS].bytes = (double)iv.n * 8;
    w->m[M_IVS].have = true;
    lin4 lin;
    lin4_build(&lin, &s);
    w->m[M_LIN].have = true;
    w->m[M_LIN].bytes = (double)n * 12;

    rng r = {seed ^ 0x5555};
    size_t nq = n_tput;
    uint32_t *q = xmalloc(nq * sizeof *q);
    for (size_t i = 0; i < nq; i++)
        q[i] = (uint32_t)rnd(&r);
    /* The linear scan gets as many lookups as fit a fixed budget. */
    size_t nlin = n <= 16 ? nq : (size_t)(2e8 / (double)n) + 8;
    if (nlin > nq)
        nlin = nq;
    size_t nc = n_cold, nlinc = nlin < nc ? nlin : nc;

    /* The batched lookup takes the library's address type. */
    relaypol_addr *qa = xmalloc(nq * sizeof *qa);
    for (size_t i = 0; i < nq; i++) {
        uint32_t be = __builtin_bswap32(q[i]);
        memset(&qa[i], 0, sizeof qa[i]);
        qa[i].family = RELAYPOL_AF_INET;
        memcpy(qa[i].bytes, &be, 4);
    }
    w->m[M_RPBATCH] = w->m[M_RP];
    for (size_t i = 0; i + 32 <= nq; i += 32) {
        int32_t got[32][2];
        rp_netset_lookup_many(rs, qa + i, 32, got);
        for (size_t k = 0; k < 32; k++)
            check(w->name, "relaypol batch", i + k, rp4(rs, q[i + k]),
                  got[k][0]);
    }

    /* Cross-check: every method answers "which entry" like relaypol. */
    for (size_t i = 0; i < nq; i++) {
        int32_t want = rp4(rs, q[i]);
        check(w->name, "sorted intervals", i, want, ivs_lookup(&iv, q[i]));
        if (i < nlin)
            check(w->name, "linear scan", i, want, linear4(&lin, q[i]));
    }

#ifdef HAVE_DPDK
    dpdk *d = dp;
    struct rte_lpm *lpm = NULL;
    if (d && d->ok && !(n > 200000 && (o->quick || !o->with_lpm_1m))) {
        fprintf(stderr, "  building rte_lpm with %zu prefixes...\n", n);
        static int seq;
        lpm = lpm_build(d, &s, &w->m[M_LPM], seq++);
        if (lpm) {
            w->m[M_LPMBULK] = w->m[M_LPM];
            uint32_t nh[64];
            for (size_t i = 0; i < nq; i++) {
                int32_t want = rp4(rs, q[i]);
                check(w->name, "rte_lpm", i, want, lpm4(lpm, q[i]));
            }
            for (size_t i = 0; i + 64 <= nq; i += 64) {
                rte_lpm_lookup_bulk(lpm, q + i, nh, 64);
                for (size_t k = 0; k < 64; k++) {
                    int32_t got = (nh[k] & RTE_LPM_LOOKUP_SUCCESS)
                                      ? (int32_t)(nh[k] & 0xffffff)
                                      : -1;
                    check(w->name, "rte_lpm bulk", i + k, rp4(rs, q[i + k]), got);
                }
            }
        }
    }
#else
    (void)dp;
#endif

    w->m[M_NONE].have = true;
    for (int rep = 0; rep < o->reps; rep++) {
        row *m = w->m;
        /* The loop, the query's load and the lfence alone: the floor
         * under every cold figure, which the small sets' lookups come
         * close to. */
        TIME_TPUT(no_lookup(q[i]), nq, m[M_NONE].tput[m[M_NONE].nt++]);
        TIME_COLD(no_lookup(q[i]), nc, m[M_NONE].cold[m[M_NONE].nc++]);
        TIME_TPUT(rp4(rs, q[i]), nq, m[M_RP].tput[m[M_RP].nt++]);
        TIME_COLD(rp4(rs, q[i]), nc, m[M_RP].cold[m[M_RP].nc++]);
        {
            /* Batched: 32 at a time, like rte_lpm bulk below. */
            int32_t got[32][2];
            uint64_t acc = 0;
            double t0b = now_s();
            for (size_t i = 0; i + 32 <= nq; i += 32) {
                rp_netset_lookup_many(rs, qa + i, 32, got);
                for (int k = 0; k < 32; k++)
                    acc += (uint32_t)got[k][0];
            }
            g_sink += acc;
            m[M_RPBATCH].tput[m[M_RPBATCH].nt++] =
                (now_s() - t0b) * 1e9 / (double)(nq / 32 * 32);
        }
        TIME_TPUT(ivs_lookup(&iv, q[i]), nq, m[M_IVS].tput[m[M_IVS].nt++]);
        TIME_COLD(ivs_lookup(&iv, q[i]), nc, m[M_IVS].cold[m[M_IVS].nc++]);
        TIME_TPUT(linear4(&lin, q[i]), nlin, m[M_LIN].tput[m[M_LIN].nt++]);
        TIME_COLD(linear4(&lin, q[i]), nlinc, m[M_LIN].cold[m[M_LIN].nc++]);
#ifdef HAVE_DPDK
        if (!lpm && anchor_lpm) {
            /* No table of this size (its build is quadratic): the largest
             * one built, on this workload's addresses, in the same
             * repetition as relaypol's, so that the ratio compares
             * measurements taken seconds apart, not a minute. */
            m[M_LPMANC].have = true;
            TIME_TPUT(lpm4(anchor_lpm, q[i]), nq,
                      m[M_LPMANC].tput[m[M_LPMANC].nt++]);
            TIME_COLD(lpm4(anchor_lpm, q[i]), nc,
                      m[M_LPMANC].cold[m[M_LPMANC].nc++]);
        }
        if (lpm) {
            TIME_TPUT(lpm4(lpm, q[i]), nq, m[M_LPM].tput[m[M_LPM].nt++]);
            TIME_COLD(lpm4(lpm, q[i]), nc, m[M_LPM].cold[m[M_LPM].nc++]);
            /* Bulk: 32 at a time, as a packet burst would be. */
            uint32_t nh[32];
            uint64_t acc = 0;
            double t0b = now_s();
            for (size_t i = 0; i + 32 <= nq; i += 32) {
                rte_lpm_lookup_bulk(lpm, q + i, nh, 32);
                for (int k = 0; k < 32; k++)
                    acc += nh[k];
            }
            g_sink += acc;
            m[M_LPMBULK].tput[m[M_LPMBULK].nt++] =
                (now_s() - t0b) * 1e9 / (double)(nq / 32 * 32);
        }
#endif
    }

#ifdef HAVE_DPDK
    /* The largest table built so far stays, as the stand-in for sizes
     * whose own table is not built. */
    if (lpm) {
        if (anchor_lpm)
            rte_lpm_free(anchor_lpm);
        anchor_lpm = lpm;
        anchor_n = n;
    }
#endif
    rp_netset_free(&a, rs);
    free(q);
    free(qa);
    free(iv.key);
    free(iv.val);
    lin4_free(&lin);
    free(nets);
    free(lists);
    free(s.addr);
    free(s.len);
}

#ifdef HAVE_DPDK
/* tbl8 groups a DIR-24-8 style IPv6 table can need: one per 8 bits below
 * the first 24, per prefix (an upper bound; shared groups need fewer). */
static uint32_t tbl8_bound6(const set6 *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] > 24)
            t += (uint64_t)(s->len[i] - 24 + 7) / 8;
    return (uint32_t)(t + 1024);
}

static inline int32_t lpm6(const struct rte_lpm6 *l, const uint8_t *x)
{
    uint32_t nh;
    return rte_lpm6_lookup(l, x, &nh) == 0 ? (int32_t)nh : -1;
}

static inline int32_t fib6one(struct rte_fib6 *f, uint8_t (*x)[16], size_t n)
{
    uint64_t nh;
    rte_fib6_lookup_bulk(f, x, &nh, 1);
    return nh == n ? -1 : (int32_t)nh;
}
#endif

static void run_v6(wl *w, size_t n, const opts *o, void *dp, uint64_t seed)
{
    set6 s;
    gen6(&s, n, seed);
    snprintf(w->name, sizeof w->name, "v6 %zu", n);
    w->n = n;
    rp_net *nets = xmalloc(n * sizeof *nets);
    uint8_t *lists = calloc(n ? n : 1, 1);
    to_nets6(&s, nets);
    rp_alloc a;
    rp_alloc_init(&a, NULL, NULL);
    rp_netset *rs = NULL;
    rp_build_timed(&a, nets, lists, n, &rs, &w->m[M_RP]);
    w->m[M_LIN].have = true;
    w->m[M_LIN].bytes = (double)n * 17;

    /* Half the lookups fall inside a prefix, half anywhere in 2000::/3. */
    rng r = {seed ^ 0x6666};
    size_t nq = n_tput;
    uint8_t(*q)[16] = xmalloc(nq * sizeof *q);
    for (size_t i = 0; i < nq; i++) {
        for (int k = 0; k < 16; k++)
            q[i][k] = (uint8_t)rnd(&r);
        q[i][0] = (uint8_t)(0x20 | (q[i][0] & 0x1f));
        if (rnd(&r) & 1) {
            size_t e = (size_t)(rnd(&r) % n);
            uint8_t m[16];
            memset(m, 0xff, 16);
            mask6(m, s.len[e]);
            for (int k = 0; k < 16; k++)
                q[i][k] = (uint8_t)((s.addr[e][k] & m[k]) | (q[i][k] & ~m[k]));
        }
    }
    size_t nlin = (size_t)(2e7 / (double)n) + 8;
    if (nlin > nq)
        nlin = nq;
    size_t nc = n_cold, nlinc = nlin < nc ? nlin : nc;
    for (size_t i = 0; i < nlin; i++)
        check(w->name, "linear scan", i, rp6(rs, q[i]), linear6(&s, q[i]));

#ifdef HAVE_DPDK
    dpdk *d = dp;
    struct rte_lpm6 *l6 = NULL;
    struct rte_fib6 *f6 = NULL;
    if (d && d->ok) {
        fprintf(stderr, "  building rte_lpm6 and rte_fib6 with %zu prefixes...\n", n);
        size_t before = heap_used(d);
        double t0 = now_s();
        struct rte_lpm6_config c6 = {.max_rules = (uint32_t)n,
                                     .number_tbl8s = tbl8_bound6(&s)};
        l6 = rte_lpm6_create("bench6", d->socket, &c6);
        for (size_t i = 0; l6 && i < n; i++)
            if (rte_lpm6_add(l6, s.addr[i], s.len[i], (uint32_t)i) != 0) {
                fprintf(stderr, "bench_lpm: rte_lpm6_add failed\n");
                rte_lpm6_free(l6);
                l6 = NULL;
            }
        if (l6) {
            w->m[M_LPM6].build_s = now_s() - t0;
            w->m[M_LPM6].bytes = (double)(heap_used(d) - before);
            w->m[M_LPM6].have = true;
        }
        before = heap_used(d);
        t0 = now_s();
        struct rte_fib6_conf cf = {.type = RTE_FIB6_TRIE,
                                   .default_nh = n,
                                   .max_routes = (int)n,
                                   .rib_ext_sz = 0};
        cf.trie.nh_sz = RTE_FIB6_TRIE_4B;
        cf.trie.num_tbl8 = tbl8_bound6(&s);
        f6 = rte_fib6_create("fib6", d->socket, &cf);
        for (size_t i = 0; f6 && i < n; i++)
            if (rte_fib6_add(f6, s.addr[i], s.len[i], i) != 0) {
                fprintf(stderr, "bench_lpm: rte_fib6_add failed\n");
                rte_fib6_free(f6);
                f6 = NULL;
            }
        if (f6) {
            /* The AVX-512 lookup where DPDK and the CPU have it. */
            bool vec = rte_fib6_select_lookup(
                           f6, RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512) == 0;
            if (!vec)
                rte_fib6_select_lookup(f6, RTE_FIB6_LOOKUP_DEFAULT);
            fprintf(stderr, "  rte_fib6 lookup: %s\n",
                    vec ? "AVX-512 vector" : "scalar");
            fib6_vector = vec;
            w->m[M_FIB6].build_s = now_s() - t0;
            w->m[M_FIB6].bytes = (double)(heap_used(d) - before);
            w->m[M_FIB6].have = true;
        }
        for (size_t i = 0; i < nq; i++) {
            int32_t want = rp6(rs, q[i]);
            if (l6)
                check(w->name, "rte_lpm6", i, want, lpm6(l6, q[i]));
            if (f6)
                check(w->name, "rte_fib6", i, want, fib6one(f6, q + i, n));
        }
    }
#else
    (void)dp;
#endif

    for (int rep = 0; rep < o->reps; rep++) {
        row *m = w->m;
        TIME_TPUT(rp6(rs, q[i]), nq, m[M_RP].tput[m[M_RP].nt++]);
        TIME_COLD(rp6(rs, q[i]), nc, m[M_RP].cold[m[M_RP].nc++]);
        TIME_TPUT(linear6(&s, q[i]), nlin, m[M_LIN].tput[m[M_LIN].nt++]);
        TIME_COLD(linear6(&s, q[i]), nlinc, m[M_LIN].cold[m[M_LIN].nc++]);
#ifdef HAVE_DPDK
        if (l6) {
            TIME_TPUT(lpm6(l6, q[i]), nq, m[M_LPM6].tput[m[M_LPM6].nt++]);
            TIME_COLD(lpm6(l6, q[i]), nc, m[M_LPM6].cold[m[M_LPM6].nc++]);
        }
        if (f6) {
            /* rte_fib6 has only a bulk lookup: 64 at a time for
             * throughput, one at a time for latency. */
            uint64_t nh[64], acc = 0;
            for (size_t i = 0; i + 64 <= nq; i += 64) /* warm, as above */
                rte_fib6_lookup_bulk(f6, q + i, nh, 64);
            double t0 = now_s();
            for (size_t i = 0; i + 64 <= nq; i += 64) {
                rte_fib6_lookup_bulk(f6, q + i, nh, 64);
                for (int k = 0; k < 64; k++)
                    acc += nh[k];
            }
            g_sink += acc;
            m[M_FIB6].tput[m[M_FIB6].nt++] =
                (now_s() - t0) * 1e9 / (double)(nq / 64 * 64);
            TIME_COLD(fib6one(f6, q + i, n), nc, m[M_FIB6].cold[m[M_FIB6].nc++]);
        }
#endif
    }
#ifdef HAVE_DPDK
    if (l6)
        rte_lpm6_free(l6);
    if (f6)
        rte_fib6_free(f6);
#endif
    rp_netset_free(&a, rs);
    free(q);
    free(nets);
    free(lists);
    free(s.addr);
    free(s.len);
}

/* ------------------------------------------------- whole decisions, load */

/* examples/policies/example.conf, the bundled "typical" policy. */
static const char example_policy[] =
    "RelayFlags = deny + allow + local-ip + auth\n"
    "AcceptedDomains = example.com, *.example.org\n"
    "AuthRequiresTLS = yes\n"
    "RelayUsers = @staff, monitoring\n"
    "[RelayDenyList]\n"
    "192.168.1.0;255.255.255.248\n"
    "[RelayAllowList]\n"
    "192.168.1.0;255.255.255.0\n"
    "2001:db8:100::/48\n"
    "[RelayLocalIPList]\n"
    "10.0.0.25\n"
    "[Group staff]\n"
    "alice@example.com\n"
    "bob@example.com\n";

/* A mix like examples/policies/requests.txt: local mail, relaying from
 * the LAN, the denied printers, IPv6, the inside interface, authenticated
 * staff with and without TLS, and strangers. */
static const struct {
    const char *client, *local, *user, *rcpt;
    uint32_t flags;
} dreq_spec[8] = {
    {"203.0.113.9", NULL, NULL, "<friend@example.com>", 0},
    {"203.0.113.9", NULL, NULL, "<victim@example.net>", 0},
    {"192.168.1.3", NULL, NULL, "<someone@example.net>", 0},
    {"192.168.1.42", NULL, NULL, "<someone@example.net>", 0},
    {"2001:db8:100::25", NULL, NULL, "<someone@example.net>", 0},
    {"198.51.100.7", "10.0.0.25", NULL, "<someone@example.net>", 0},
    {"198.51.100.7", NULL, "alice@example.com", "<someone@example.net>",
     RELAYPOL_REQ_TLS},
    {"198.51.100.7", NULL, "mallory@example.com", "<x@mail.example.org>",
     RELAYPOL_REQ_TLS},
};

static inline uint32_t decide1(const relaypol_policy *p,
                               const relaypol_request *r)
{
    relaypol_decision d;
    relaypol_decision_init(&d);
    if (relaypol_decide(p, r, &d) != RELAYPOL_OK)
        return 0xffffffffu;
    return (uint32_t)d.verdict << 8 | (uint32_t)d.step;
}

typedef struct dres {
    double warm[MAX_REPS], cold[MAX_REPS];
    double same[MAX_REPS]; /* warm, each kind repeated alone: the mean */
    double ghz[MAX_REPS];  /* the core's clock, measured alongside */
    int n;
} dres;

/* The clock this core runs at right now, from a chain of dependent
 * multiplies (3 cycles each on every x86-64 core of the last decade; an
 * add chain would not do, as recent cores fold immediate adds at rename).
 * The host here has spells about 1.5x apart; figures in cycles say
 * whether a spell is the clock or a neighbour, and how many cycles a
 * decision takes whatever the spell. */
static double clock_ghz(void)
{
#if defined(__x86_64__)
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t x = 3;
        const long n = 200000;
        double t0 = now_s();
        for (long i = 0; i < n; i++)
            __asm__ volatile("imul %0, %0\n\timul %0, %0\n\t"
                             "imul %0, %0\n\timul %0, %0"
                             : "+r"(x));
        double t = now_s() - t0;
        g_sink += x;
        double ghz = 3.0 * 4.0 * (double)n / t / 1e9;
        if (ghz > best)
            best = ghz;
    }
    return best;
#else
    return NAN;
#endif
}

static void run_decide(dres *res, const opts *o)
{
    relaypol_policy *p = NULL;
    relaypol_error err;
    if (relaypol_policy_load_string(example_policy, sizeof example_policy - 1,
                                    "example.conf", NULL, &p, &err) !=
        RELAYPOL_OK) {
        fprintf(stderr, "bench_lpm: the example policy does not load\n");
        exit(2);
    }
    relaypol_request rq[8];
    for (int k = 0; k < 8; k++) {
        relaypol_request_init(&rq[k]);
        if (relaypol_addr_parse(dreq_spec[k].client, &rq[k].client) !=
                RELAYPOL_OK ||
            (dreq_spec[k].local &&
             relaypol_addr_parse(dreq_spec[k].local, &rq[k].local) !=
                 RELAYPOL_OK)) {
            fprintf(stderr, "bench_lpm: bad request address\n");
            exit(2);
        }
        rq[k].recipient = dreq_spec[k].rcpt;
        rq[k].recipient_len = strlen(dreq_spec[k].rcpt);
        rq[k].user = dreq_spec[k].user;
        rq[k].flags = dreq_spec[k].flags;
    }
    /* The requests in a random order, so that the branches in deciding
     * are no better predicted than a server's would be. */
    size_t nq = n_cold;
    uint8_t *ix = xmalloc(nq);
    rng r = {0xdec1de};
    for (size_t i = 0; i < nq; i++)
        ix[i] = (uint8_t)(rnd(&r) & 7u);
    for (int rep = 0; rep < o->reps; rep++) {
        res->ghz[res->n] = clock_ghz();
        TIME_TPUT(decide1(p, &rq[ix[i]]), nq, res->warm[res->n]);
        TIME_COLD(decide1(p, &rq[ix[i]]), nq, res->cold[res->n]);
        /* The same decisions with the branch predictor on their side:
         * each kind alone, so that the difference from the warm figure is
         * what the mix's unpredictable paths cost. */
        double same = 0;
        for (int k = 0; k < 8; k++) {
            double t;
            TIME_TPUT(decide1(p, &rq[k]), nq / 8, t);
            same += t / 8;
        }
        res->same[res->n] = same;
        res->n++;
    }
    free(ix);
    relaypol_policy_free(p);
}

/* Loading a policy of n generated prefixes (the v4 workload's), one per
 * line, split over the deny and allow lists: parse + compile. */
static double run_load(size_t n, const opts *o, double *mem_out)
{
    set4 s;
    gen4(&s, n, 0x1234 + 3);
    size_t cap = 64 + n * 20, len = 0;
    char *text = xmalloc(cap);
    len += (size_t)snprintf(text, cap, "RelayFlags = deny + allow\n");
    for (int part = 0; part < 2; part++) {
        len += (size_t)snprintf(text + len, cap - len, "%s\n",
                                part ? "[RelayAllowList]" : "[RelayDenyList]");
        for (size_t i = part; i < n; i += 2) {
            uint32_t a = s.addr[i];
            len += (size_t)snprintf(text + len, cap - len, "%u.%u.%u.%u/%u\n",
                                    a >> 24, (a >> 16) & 255u, (a >> 8) & 255u,
                                    a & 255u, (unsigned)s.len[i]);
        }
    }
    double t[MAX_REPS];
    int reps = o->quick ? 1 : 3;
    for (int rep = 0; rep < reps; rep++) {
        relaypol_policy *p = NULL;
        relaypol_error err;
        double t0 = now_s();
        relaypol_status st =
            relaypol_policy_load_string(text, len, "generated", NULL, &p, &err);
        t[rep] = now_s() - t0;
        if (st != RELAYPOL_OK) {
            fprintf(stderr, "bench_lpm: loading %zu lines failed: %s\n", n,
                    relaypol_strerror(st));
            exit(2);
        }
        *mem_out = (double)relaypol_policy_memory(p);
        relaypol_policy_free(p);
    }
    free(text);
    free(s.addr);
    free(s.len);
    return median(t, reps);
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr, "usage: bench_lpm [--quick] [--reps N] [--cpu N] "
                    "[--with-lpm-1m]\n"
                    "       [--v4 N [--seed K]] [--v6 N] [--decide]\n");
    exit(2);
}

/* The summary line: key=value pairs, appended to by each part. */
typedef struct summary {
    char buf[2048];
    size_t len;
} summary;

static void sum_add(summary *s, const char *key, double v, int prec)
{
    int k;
    if (isnan(v))
        k = snprintf(s->buf + s->len, sizeof s->buf - s->len, "%s%s=na",
                     s->len ? " " : "", key);
    else
        k = snprintf(s->buf + s->len, sizeof s->buf - s->len, "%s%s=%.*f",
                     s->len ? " " : "", key, prec, v);
    if (k > 0 && (size_t)k < sizeof s->buf - s->len)
        s->len += (size_t)k;
}

int main(int argc, char **argv)
{
    opts o = {.quick = false, .reps = 7, .cpu = -1, .v4_seed = 3};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            o.quick = true;
        else if (strcmp(argv[i], "--v4") == 0 && i + 1 < argc)
            o.v4_only = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--v6") == 0 && i + 1 < argc)
            o.v6_only = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            o.v4_seed = (uint64_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--decide") == 0)
            o.decide_only = true;
        else if (strcmp(argv[i], "--with-lpm-1m") == 0)
            o.with_lpm_1m = true;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            o.reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
            o.cpu = atoi(argv[++i]);
        else
            usage();
    }
    if (o.quick && o.reps == 7)
        o.reps = 3;
    if (o.reps < 1 || o.reps > MAX_REPS)
        usage();

    /* One core, the last one unless told: the first takes interrupts. */
    cpu_set_t cs;
    if (o.cpu < 0) {
        CPU_ZERO(&cs);
        if (sched_getaffinity(0, sizeof cs, &cs) == 0)
            for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &cs))
                    o.cpu = c;
        if (o.cpu < 0)
            o.cpu = 0;
    }
    CPU_ZERO(&cs);
    CPU_SET(o.cpu, &cs);
    if (sched_setaffinity(0, sizeof cs, &cs) != 0)
        fprintf(stderr, "bench_lpm: cannot pin to cpu %d\n", o.cpu);

    n_tput = o.quick ? (1u << 16) : (1u << 20);
    n_cold = o.quick ? (1u << 14) : (1u << 17);

    void *dp = NULL;
#ifdef HAVE_DPDK
    static dpdk d;
    dpdk_init(&d, o.cpu, (size_t)(o.quick ? 512 : 1536) << 20);
    if (d.ok)
        dp = &d;
#endif

    size_t sizes4[] = {16, 1000, 100000, 1000000};
    size_t n4 = o.quick ? 3 : 4;
    size_t n6 = o.quick ? 10000 : 100000;
    wl *w = calloc(n4 + 1, sizeof *w);
    if (!w)
        return 2;
    double t0 = now_s();
    if (o.decide_only) {
        static dres one;
        run_decide(&one, &o);
        double ghz = median(one.ghz, one.n);
        printf("decide warm %.1f ns, cold %.1f ns, each kind alone %.1f ns "
               "(medians of %d)\n",
               median(one.warm, one.n), median(one.cold, one.n),
               median(one.same, one.n), one.n);
        printf("clock %.2f GHz: warm %.0f, cold %.0f, each kind alone %.0f "
               "cycles\n",
               ghz, median(one.warm, one.n) * ghz, median(one.cold, one.n) * ghz,
               median(one.same, one.n) * ghz);
        free(w);
        return 0;
    }
    if (o.v6_only) {
        wl one = {0};
        run_v6(&one, o.v6_only, &o, dp, 0x6666);
        for (int m = 0; m < M_N; m++)
            print_row(&one, m);
        free(w);
        return mismatches ? 1 : 0;
    }
    if (o.v4_only) {
        wl one = {0};
        run_v4(&one, o.v4_only, &o, dp, 0x1234 + o.v4_seed);
        for (int m = 0; m < M_N; m++)
            print_row(&one, m);
        free(w);
        return mismatches ? 1 : 0;
    }
    for (size_t i = 0; i < n4; i++) {
        fprintf(stderr, "IPv4, %zu prefixes\n", sizes4[i]);
        run_v4(&w[i], sizes4[i], &o, dp, 0x1234 + i);
    }
    fprintf(stderr, "IPv6, %zu prefixes\n", n6);
    run_v6(&w[n4], n6, &o, dp, 0x6666);
    fprintf(stderr, "whole decisions on the example policy\n");
    static dres dr;
    run_decide(&dr, &o);
    size_t nload = o.quick ? 100000 : 1000000;
    fprintf(stderr, "loading a %zu-line policy\n", nload);
    double load_mem = 0, load_s = run_load(nload, &o, &load_mem);

    printf("bench_lpm: %d repetitions, medians, pinned to cpu %d%s\n", o.reps,
           o.cpu, o.quick ? " (quick)" : "");
    printf("%-10s %-17s %10s %10s %10s %9s %9s\n", "workload", "method",
           "tput ns", "cold ns", "MiB", "B/prefix", "build s");
    for (size_t i = 0; i <= n4; i++)
        for (int m = 0; m < M_N; m++)
            print_row(&w[i], m);
    printf("%-10s %-17s %10.1f %10.1f\n", "decide", "example.conf",
           median(dr.warm, dr.n), median(dr.cold, dr.n));
    printf("%-10s %-17s %10.1f %10s\n", "decide", "each kind alone",
           median(dr.same, dr.n), "-");
    double ghz = median(dr.ghz, dr.n);
    printf("%-10s %-17s %10.0f %10.0f   (cycles at %.2f GHz)\n", "decide",
           "example.conf", median(dr.warm, dr.n) * ghz,
           median(dr.cold, dr.n) * ghz, ghz);
    printf("%-10s %-17s %10s %10s %10.2f %9.1f %9.3f\n", "load", "text lines",
           "-", "-", load_mem / (1024.0 * 1024.0), load_mem / (double)nload,
           load_s);
    printf("cross-check: %s (%d mismatches); total %.1f s\n",
           mismatches ? "FAILED" : "all methods agree", mismatches,
           now_s() - t0);

    summary s = {.len = 0};
    const wl *w1m = o.quick ? NULL : &w[3], *w1k = &w[1], *w16 = &w[0];
    const wl *w6 = &w[n4];
    double nan_ = NAN;
    /* The 1M anchor: the 1M rte_lpm table when it was built, else the
     * largest one that was (see the top comment). */
    const wl *anc = NULL;
    if (w1m && w1m->m[M_LPM].have)
        anc = w1m;
    else if (w1m && w[2].m[M_LPM].have)
        anc = &w[2];
    double tr = anc ? tput_of(w1m, M_RP) / tput_of(anc, M_LPM) : nan_;
    double cr = anc ? cold_of(w1m, M_RP) / cold_of(anc, M_LPM) : nan_;
    size_t anc_n = anc ? anc->n : 0;
#ifdef HAVE_DPDK
    if (w1m && !w1m->m[M_LPM].have && w1m->m[M_LPMANC].have) {
        /* Paired: each repetition's relaypol time over the anchor's. */
        tr = paired_ratio(w1m->m[M_RP].tput, w1m->m[M_LPMANC].tput,
                          w1m->m[M_LPMANC].nt);
        cr = paired_ratio(w1m->m[M_RP].cold, w1m->m[M_LPMANC].cold,
                          w1m->m[M_LPMANC].nc);
        anc_n = anchor_n;
    }
#endif
    sum_add(&s, "v4_1M_tput_ratio", tr, 3);
    sum_add(&s, "v4_1M_cold_ratio", cr, 3);
    sum_add(&s, "v4_1M_anchor_n", anc_n ? (double)anc_n : nan_, 0);
    sum_add(&s, "v4_1M_tput_ns", w1m ? tput_of(w1m, M_RP) : nan_, 2);
    sum_add(&s, "v4_1M_cold_ns", w1m ? cold_of(w1m, M_RP) : nan_, 2);
    sum_add(&s, "v4_1M_bytes_per_prefix",
            w1m ? w1m->m[M_RP].bytes / (double)w1m->n : nan_, 2);
    sum_add(&s, "v4_1M_build_s", w1m ? w1m->m[M_RP].build_s : nan_, 3);
    sum_add(&s, "v4_1k_tput_ns", tput_of(w1k, M_RP), 2);
    sum_add(&s, "v4_1k_cold_ns", cold_of(w1k, M_RP), 2);
    double r6 = o.quick ? nan_ : tput_of(w6, M_RP) / tput_of(w6, M_FIB6);
#ifdef HAVE_DPDK
    if (!o.quick && w6->m[M_FIB6].have)
        r6 = paired_ratio(w6->m[M_RP].tput, w6->m[M_FIB6].tput,
                          w6->m[M_FIB6].nt);
#endif
    sum_add(&s, "v6_100k_tput_ratio", r6, 3);
    sum_add(&s, "v6_100k_tput_ns", o.quick ? nan_ : tput_of(w6, M_RP), 2);
    sum_add(&s, "v6_100k_fib6_tput_ns",
            o.quick ? nan_ : tput_of(w6, M_FIB6), 2);
    sum_add(&s, "v6_100k_fib6_vector", o.quick ? nan_ : fib6_vector, 0);
    sum_add(&s, "v6_100k_bytes_per_prefix",
            o.quick ? nan_ : w6->m[M_RP].bytes / (double)w6->n, 2);
    sum_add(&s, "v4_16_tput_ratio_linear",
            tput_of(w16, M_RP) / tput_of(w16, M_LIN), 3);
    sum_add(&s, "v4_16_cold_ratio_linear",
            cold_of(w16, M_RP) / cold_of(w16, M_LIN), 3);
    sum_add(&s, "v4_16_cold_floor_ns", cold_of(w16, M_NONE), 2);
    /* Batched against batched, and the batch against rte_lpm's scalar. */
    sum_add(&s, "v4_1M_batch_tput_ns", w1m ? tput_of(w1m, M_RPBATCH) : nan_, 2);
    sum_add(&s, "v4_1M_batch_ratio",
            anc ? tput_of(w1m, M_RPBATCH) / tput_of(anc, M_LPM) : nan_, 3);
    sum_add(&s, "v4_1M_bulk_ratio",
            anc ? tput_of(w1m, M_RPBATCH) / tput_of(anc, M_LPMBULK) : nan_, 3);
    sum_add(&s, "decide_cold_ns", median(dr.cold, dr.n), 2);
    sum_add(&s, "decide_warm_ns", median(dr.warm, dr.n), 2);
    sum_add(&s, "decide_warm_same_kind_ns", median(dr.same, dr.n), 2);
    sum_add(&s, "decide_warm_cycles", median(dr.warm, dr.n) * ghz, 0);
    sum_add(&s, "decide_cold_cycles", median(dr.cold, dr.n) * ghz, 0);
    sum_add(&s, "clock_ghz", ghz, 2);
    sum_add(&s, "load_1M_s", o.quick ? nan_ : load_s, 3);
    sum_add(&s, "mismatches", mismatches, 0);
    printf("%s\n", s.buf);
#ifdef HAVE_DPDK
    if (anchor_lpm)
        rte_lpm_free(anchor_lpm);
#endif
    free(w);
    return mismatches ? 1 : 0;
}
