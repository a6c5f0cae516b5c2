/*
 * relaypol-firmware: relaypol the way an appliance embeds it.
 *
 *   1. All of relaypol's memory comes from one fixed arena handed over
 *      through the allocator hook (relaypol_load_options.alloc).
 *   2. The policy is compiled into the image as a string and loaded once
 *      at start-up (the library is built without file I/O and libcidr).
 *   3. From then on every decision runs with no allocation at all: not
 *      from the arena, not from the C library's heap.  The program counts
 *      both and fails if either moved.
 *
 * Usage:
 *   relaypol-firmware             decide a built-in table and check it
 *   relaypol-firmware -           decide requests read from standard input,
 *                                 one a line: [tls=yes] CLIENT LOCAL|- USER|- RCPT
 *   relaypol-firmware -a BYTES    limit the arena (to find what it must hold)
 *   relaypol-firmware -s          load with every arena size from 0 up to the
 *                                 peak: each must fail cleanly (NOMEM,
 *                                 nothing left allocated) or succeed
 *
 * Uses only the public API, so it also builds against an installed
 * librelaypol (then without the malloc counting, see heap_calls()).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <relaypol/relaypol.h>

#include "policy_100.h"

/* ------------------------------------------------------------ the arena */

#ifndef FIRMWARE_ARENA_BYTES
#define FIRMWARE_ARENA_BYTES (128u * 1024u)
#endif
#define ARENA_ALIGN alignof(max_align_t)

static alignas(max_align_t) unsigned char arena_mem[FIRMWARE_ARENA_BYTES];

/* A bump allocator: blocks are carved upwards and never move.  relaypol
 * tells the hook each block's size (old_size), so blocks need no header.
 * The newest block can grow, shrink and be freed in place, which is what
 * a growing array does while a policy compiles; an older block that is
 * freed stays a hole until the arena is reset.  A firmware that loads one
 * policy at start-up needs nothing more. */
typedef struct arena {
    unsigned char *base;
    size_t cap;        /* usable bytes (-a can lower it) */
    size_t top;        /* first free byte */
    size_t last;       /* offset of the newest block, or SIZE_MAX */
    size_t live;       /* bytes allocated and not yet freed */
    size_t peak;       /* highest top: the arena size this load needs */
    unsigned long calls;    /* hook calls, of any kind */
    unsigned long failures; /* requests that did not fit */
} arena;

static size_t round_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static void arena_reset(arena *a, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->base = arena_mem;
    a->cap = cap < sizeof arena_mem ? cap : sizeof arena_mem;
    a->last = SIZE_MAX;
}

static void *arena_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    arena *a = ud;
    unsigned char *p = ptr;
    a->calls++;
    bool newest = p && a->last != SIZE_MAX && p == a->base + a->last;

    if (new_size == 0) { /* free */
        if (p) {
            a->live -= old_size;
            if (newest) {
                a->top = a->last;
                a->last = SIZE_MAX;
            }
        }
        return NULL;
    }
    if (new_size > a->cap) { /* also keeps round_up from overflowing */
        a->failures++;
        return NULL;
    }
    if (newest) { /* grow or shrink in place */
        if (round_up(new_size) > a->cap - a->last) {
            a->failures++;
            return NULL;
        }
        a->top = a->last + round_up(new_size);
        a->live = a->live - old_size + new_size;
    } else {
        if (round_up(new_size) > a->cap - a->top) {
            a->failures++;
            return NULL; /* ptr untouched, as the hook's contract says */
        }
        unsigned char *q = a->base + a->top;
        if (p) {
            memcpy(q, p, old_size < new_size ? old_size : new_size);
            a->live -= old_size; /* the old block becomes a hole */
        }
        a->last = a->top;
        a->top += round_up(new_size);
        a->live += new_size;
        p = q;
    }
    if (a->top > a->peak)
        a->peak = a->top;
    return p;
}

/* ------------------------------------------------- counting the C heap */

#ifdef FIRMWARE_WRAP_MALLOC
/* Linked with -Wl,--wrap=malloc (and calloc, realloc, free): every call
 * to the C library's allocator from any object in the image — this file,
 * relaypol, and libc's own stdio when linked statically — lands here
 * first.  The __ names are the linker's convention for --wrap. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static unsigned long heap_counter;

void *__wrap_malloc(size_t n)
{
    heap_counter++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    heap_counter++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    heap_counter++;
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (p)
        heap_counter++;
    __real_free(p);
}

static bool heap_counted(void)
{
    return true;
}
static unsigned long heap_calls(void)
{
    return heap_counter;
}
#else
static bool heap_counted(void)
{
    return false;
}
static unsigned long heap_calls(void)
{
    return 0;
}
#endif

/* A second, independent witness where glibc offers one: bytes the heap
 * has handed out.  An allocation that was freed again would not show
 * here; the call counter above catches that. */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------ requests */

typedef struct fw_request {
    const char *line; /* [tls=yes] CLIENT LOCAL|- USER|- RCPT */
    const char *want; /* expected verdict and step */
} fw_request;

/* The built-in table: every rule of the embedded policy at least once. */
static const fw_request table[] = {
    {"203.0.113.9 - - <postmaster@example.com>", "local accepted-domain"},
    {"203.0.113.9 - - <a@mx.example.org>", "local accepted-domain"},
    {"203.0.113.9 - - <victim@example.net>", "deny no-rule"},
    {"10.7.3.4 - - <out@example.net>", "relay allow-list"},
    {"172.16.29.200 - - <out@example.net>", "relay allow-list"},
    {"172.16.30.1 - - <out@example.net>", "deny no-rule"},
    {"10.0.3.5 - - <out@example.net>", "deny deny-list"},
    {"10.0.3.8 - - <out@example.net>", "relay allow-list"},
    {"2001:db8:112:1::25 - - <out@example.net>", "relay allow-list"},
    {"2001:db8:0:ff::9 - - <out@example.net>", "deny deny-list"},
    {"::ffff:10.0.1.1 - - <out@example.net>", "deny deny-list"},
    {"198.51.100.7 10.255.3.25 - <out@example.net>", "relay local-ip-list"},
    {"198.51.100.7 fd00:25::26 - <out@example.net>", "relay local-ip-list"},
    {"tls=yes 198.51.100.7 - alice@example.com <out@example.net>", "relay authenticated"},
    {"tls=yes 198.51.100.7 - monitor <out@example.net>", "relay authenticated"},
    {"198.51.100.7 - alice@example.com <out@example.net>", "deny no-rule"},
    {"tls=yes 198.51.100.7 - mallory <out@example.net>", "deny no-rule"},
    {"203.0.113.9 - - <victim%example.net@example.com>", "deny no-rule"},
    {"203.0.113.9 - - <bad..dots@example.com>", "deny bad-recipient"},
};

/* Splits one request line in place.  No allocation: the recipient and
 * user point into the line.  false for a malformed line. */
static bool parse_request(char *s, relaypol_request *req)
{
    relaypol_request_init(req);
    if (strncmp(s, "tls=yes ", 8) == 0) {
        req->flags |= RELAYPOL_REQ_TLS;
        s += 8;
    }
    char *f[4];
    for (int i = 0; i < 4; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            return false;
        f[i] = s;
        if (i == 3) /* the recipient: the rest of the line, spaces and all */
            break;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        if (!*s)
            return false;
        *s++ = '\0';
    }
    if (relaypol_addr_parse(f[0], &req->client) != RELAYPOL_OK)
        return false;
    if (strcmp(f[1], "-") != 0 &&
        relaypol_addr_parse(f[1], &req->local) != RELAYPOL_OK)
        return false;
    req->user = strcmp(f[2], "-") != 0 ? f[2] : NULL;
    req->recipient = f[3];
    req->recipient_len = strlen(f[3]);
    return true;
}

/* ---------------------------------------------------------------- main */

static relaypol_status load(arena *a, size_t cap, relaypol_policy **out,
                            relaypol_error *err)
{
    arena_reset(a, cap);
    relaypol_load_options opts;
    relaypol_load_options_init(&opts);
    opts.alloc = arena_alloc;
    opts.alloc_ud = a;
    return relaypol_policy_load_string(firmware_policy,
                                       sizeof firmware_policy - 1, "firmware",
                                       &opts, out, err);
}

/* -s: every arena size below the peak must fail cleanly. */
static int sweep(size_t peak)
{
    arena a;
    relaypol_policy *p;
    relaypol_error err;
    unsigned long bad = 0, runs = 0;
    for (size_t cap = 0; cap <= peak; cap += (cap < 256 ? 1 : 8), runs++) {
        relaypol_status st = load(&a, cap, &p, &err);
        bool fits = cap >= peak;
        if (st == RELAYPOL_OK) {
            relaypol_policy_free(p);
            if (a.live != 0)
                bad++, printf("cap %zu: %zu bytes left after free\n", cap, a.live);
        } else if (st != RELAYPOL_ERR_NOMEM || p != NULL || a.live != 0 || fits) {
            bad++;
            printf("cap %zu: status %d, %zu bytes left\n", cap, (int)st, a.live);
        }
    }
    printf("sweep: %lu arena sizes from 0 to %zu, %lu bad\n", runs, peak, bad);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    /* stdio gets static buffers, so that it never calls malloc either. */
    static char outbuf[8192], inbuf[4096];
    setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);

    size_t cap = sizeof arena_mem;
    bool from_stdin = false, do_sweep = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            from_stdin = true;
        } else if (strcmp(argv[i], "-s") == 0) {
            do_sweep = true;
        } else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc) {
            cap = (size_t)strtoull(argv[++i], NULL, 10);
        } else {
            fputs("usage: relaypol-firmware [-a ARENA_BYTES] [-s] [-]\n", stderr);
            return 2;
        }
    }

    unsigned long heap0 = heap_calls();
    arena a;
    relaypol_policy *policy;
    relaypol_error err;
    relaypol_status st = load(&a, cap, &policy, &err);
    if (st != RELAYPOL_OK) {
        char msg[600];
        relaypol_error_format(&err, msg, sizeof msg);
        printf("load failed: %s (%s)\n", msg, relaypol_strerror(st));
        printf("arena live after failed load: %zu\n", a.live);
        return st == RELAYPOL_ERR_NOMEM && a.live == 0 ? 3 : 1;
    }
    printf("librelaypol %s, policy of %zu bytes of text\n", relaypol_version(),
           sizeof firmware_policy - 1);
    printf("arena size: %zu\n", a.cap);
    printf("arena peak: %zu\n", a.peak);
    printf("arena top after load: %zu\n", a.top);
    printf("arena live: %zu (relaypol_policy_memory: %zu)\n", a.live,
           relaypol_policy_memory(policy));
    printf("arena calls during load: %lu\n", a.calls);
    if (heap_counted())
        printf("heap calls during load: %lu\n", heap_calls() - heap0);

    /* ---- initialised: from here on nothing may allocate ---- */
    unsigned long arena_mark = a.calls, heap_mark = heap_calls();
    size_t heap_bytes_mark = heap_in_use();

    unsigned long served = 0, mismatches = 0, bad_lines = 0;
    char line[1024];
    relaypol_request req;
    relaypol_decision d;
    if (from_stdin) {
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0' || line[0] == '#')
                continue;
            char shown[1024];
            snprintf(shown, sizeof shown, "%s", line);
            relaypol_decision_init(&d);
            if (!parse_request(line, &req) ||
                relaypol_decide(policy, &req, &d) != RELAYPOL_OK) {
                printf("bad request: %s\n", shown);
                bad_lines++;
                continue;
            }
            served++;
            printf("%s %s | %s\n", relaypol_verdict_name(d.verdict),
                   relaypol_step_name(d.step), d.reply);
        }
    } else {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            snprintf(line, sizeof line, "%s", table[i].line);
            relaypol_decision_init(&d);
            if (!parse_request(line, &req) ||
                relaypol_decide(policy, &req, &d) != RELAYPOL_OK) {
                printf("bad request: %s\n", table[i].line);
                bad_lines++;
                continue;
            }
            char got[64];
            snprintf(got, sizeof got, "%s %s", relaypol_verdict_name(d.verdict),
                     relaypol_step_name(d.step));
            bool same = strcmp(got, table[i].want) == 0;
            mismatches += !same;
            served++;
            printf("%-4s %-52s -> %s%s%s\n", same ? "ok" : "FAIL", table[i].line,
                   got, same ? "" : ", want ", same ? "" : table[i].want);
        }
        /* Time the decision path on the same table. */
        struct timespec t0, t1;
        unsigned long rounds = 20000;
        relaypol_request reqs[sizeof table / sizeof table[0]];
        static char bufs[sizeof table / sizeof table[0]][256];
        size_t nreq = 0;
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            snprintf(bufs[nreq], sizeof bufs[nreq], "%s", table[i].line);
            if (parse_request(bufs[nreq], &reqs[nreq]))
                nreq++;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned long r = 0; r < rounds; r++)
            for (size_t i = 0; i < nreq; i++)
                relaypol_decide(policy, &reqs[i], &d);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) +
                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        served += rounds * nreq;
        printf("timed: %lu decisions, %.0f ns each\n", rounds * nreq,
               secs * 1e9 / (double)(rounds * nreq));
    }

    unsigned long arena_after = a.calls - arena_mark;
    unsigned long heap_after = heap_calls() - heap_mark;
    size_t heap_bytes_after = heap_in_use();
    printf("served: %lu decisions, %lu mismatches, %lu bad lines\n", served,
           mismatches, bad_lines);
    printf("arena calls after init: %lu\n", arena_after);
    if (heap_counted())
        printf("heap calls after init: %lu\n", heap_after);
    else
        printf("heap calls after init: not counted (built without --wrap)\n");
    printf("heap bytes in use before/after serving: %zu/%zu\n", heap_bytes_mark,
           heap_bytes_after);

    relaypol_policy_free(policy);
    printf("arena live after free: %zu\n", a.live);

    int status = 0;
    if (arena_after || heap_after || heap_bytes_after != heap_bytes_mark ||
        a.live != 0 || mismatches || bad_lines)
        status = 1;
    if (do_sweep && sweep(a.peak) != 0)
        status = 1;
    fflush(stdout);
    return status;
}
