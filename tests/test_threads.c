/*
 * Threads: readers decide on whatever policy a relaypol_slot holds while
 * a writer keeps loading new policies and storing them, the documented
 * reload.  Two policy versions give different, known answers; every
 * batch of decisions made on one acquired policy must be exactly one
 * version's answers — never a mixture, never garbage from a policy freed
 * under a reader.  Run under TSan by tools/robustness.sh tsan.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define READERS 4
#define READER_ROUNDS 1500 /* acquires per reader */
#define WRITER_ROUNDS 1000 /* stores by the writer */
#define NREQ 48

/* Version A lets 10/8 relay and denies 10.9/16; version B the other way
 * round with 192.168/16.  Clients below hit each rule of each version. */
static const char *const versions[2] = {
    "RelayFlags = 3\nAcceptedDomains = a.example\n"
    "[RelayDenyList]\n10.9.0.0/16\n"
    "[RelayAllowList]\n10.0.0.0/8\n2001:db8:a::/48\n",

    "RelayFlags = 11\nAcceptedDomains = b.example\nAuthRequiresTLS = no\n"
    "RelayUsers = carol\n"
    "[RelayDenyList]\n192.168.9.0/24\n10.0.0.0/8\n"
    "[RelayAllowList]\n192.168.0.0/16\n2001:db8:b::/48\n",
};

typedef struct answer {
    relaypol_verdict verdict;
    relaypol_step step;
    uint32_t entry_line;
    char entry[64];
} answer;

static relaypol_request reqs[NREQ];
static answer want[2][NREQ];

/* An allocator shared by every policy, counting live blocks atomically so
 * that the end of the test can tell that every replaced policy was freed. */
static long live_blocks;

static void *shared_alloc(void *ud, void *ptr, size_t old_size,
                          size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr)
            __atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
        free(ptr);
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q && !ptr)
        __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
    return q;
}

static relaypol_policy *load(int v)
{
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = shared_alloc;
    relaypol_policy *p = NULL;
    relaypol_error err;
    if (relaypol_policy_load_string(versions[v], strlen(versions[v]), "v", &o,
                                    &p, &err) != RELAYPOL_OK) {
        fprintf(stderr, "version %d: %s\n", v, err.message);
        return NULL;
    }
    return p;
}

static void decide(const relaypol_policy *p, int i, answer *a)
{
    relaypol_decision d;
    relaypol_decision_init(&d);
    memset(a, 0, sizeof *a);
    if (relaypol_decide(p, &reqs[i], &d) != RELAYPOL_OK) {
        a->verdict = 0;
        return;
    }
    a->verdict = d.verdict;
    a->step = d.step;
    a->entry_line = d.entry_line;
    if (d.entry)
        snprintf(a->entry, sizeof a->entry, "%s", d.entry);
}

static bool same(const answer *x, const answer *y)
{
    return x->verdict == y->verdict && x->step == y->step &&
           x->entry_line == y->entry_line && strcmp(x->entry, y->entry) == 0;
}

static void make_requests(void)
{
    static const char *const clients[] = {
        "10.1.2.3", "10.9.1.1", "192.168.1.1", "192.168.9.9", "203.0.113.5",
        "2001:db8:a::1", "2001:db8:b::1", "::ffff:10.9.0.1"};
    static const char *const rcpts[] = {"<x@remote.example>", "<y@a.example>",
                                        "<z@b.example>"};
    static const char *const users[] = {NULL, "carol"};
    int k = 0;
    for (size_t c = 0; c < 8; c++)
        for (size_t r = 0; r < 3; r++)
            for (size_t u = 0; u < 2; u++, k++) {
                relaypol_request_init(&reqs[k]);
                ck_assert_int_eq(relaypol_addr_parse(clients[c],
                                                     &reqs[k].client),
                                 RELAYPOL_OK);
                reqs[k].recipient = rcpts[r];
                reqs[k].recipient_len = strlen(rcpts[r]);
                reqs[k].user = users[u];
            }
    ck_assert_int_eq(k, NREQ);
}

static relaypol_slot *slot;
static int failures;         /* atomic */
static unsigned long seen[2]; /* atomic: batches per version */
static char first_failure[256];

static void fail_once(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void fail_once(const char *fmt, ...)
{
    if (__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED) != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_failure, sizeof first_failure, fmt, ap);
    va_end(ap);
}

static void *reader(void *arg)
{
    int id = (int)(size_t)arg;
    for (int round = 0; round < READER_ROUNDS; round++) {
        relaypol_policy *p = relaypol_slot_acquire(slot);
        if (!p) {
            fail_once("reader %d round %d: empty slot", id, round);
            break;
        }
        /* Which version is this?  Request 0 tells them apart. */
        answer a;
        decide(p, 0, &a);
        int v = same(&a, &want[0][0]) ? 0 : same(&a, &want[1][0]) ? 1 : -1;
        if (v < 0) {
            fail_once("reader %d round %d: request 0 matches no version", id,
                      round);
            relaypol_policy_free(p);
            break;
        }
        __atomic_add_fetch(&seen[v], 1, __ATOMIC_RELAXED);
        /* Start at a different request in each thread and round. */
        for (int j = 0; j < NREQ; j++) {
            int i = (j + id * 7 + round) % NREQ;
            decide(p, i, &a);
            if (!same(&a, &want[v][i]))
                fail_once("request %d differs from its version %d", i, v);
        }
        relaypol_policy_free(p);
    }
    return NULL;
}

static void *writer(void *arg)
{
    (void)arg;
    for (int round = 0; round < WRITER_ROUNDS; round++) {
        relaypol_policy *p = load((round + 1) % 2);
        if (!p) {
            fail_once("writer round %d: load failed", round);
            break;
        }
        relaypol_slot_store(slot, p);
        relaypol_policy_free(p);
    }
    return NULL;
}

START_TEST(readers_and_reloads)
{
    make_requests();
    for (int v = 0; v < 2; v++) {
        relaypol_policy *p = load(v);
        ck_assert_ptr_nonnull(p);
        for (int i = 0; i < NREQ; i++)
            decide(p, i, &want[v][i]);
        relaypol_policy_free(p);
    }
    ck_assert_msg(!same(&want[0][0], &want[1][0]),
                  "request 0 must tell the versions apart");
    int differ = 0;
    for (int i = 0; i < NREQ; i++)
        differ += !same(&want[0][i], &want[1][i]);
    ck_assert_int_gt(differ, NREQ / 3);

    relaypol_policy *first = load(0);
    ck_assert_ptr_nonnull(first);
    ck_assert_int_eq(relaypol_slot_new(first, NULL, NULL, &slot), RELAYPOL_OK);
    relaypol_policy_free(first);

    pthread_t r[READERS], w;
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&r[i], NULL, reader, (void *)(size_t)i),
                         0);
    ck_assert_int_eq(pthread_create(&w, NULL, writer, NULL), 0);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    pthread_join(w, NULL);

    ck_assert_msg(failures == 0, "%d failures; first: %s", failures,
                  first_failure);
    ck_assert_uint_eq(seen[0] + seen[1], (unsigned long)READERS * READER_ROUNDS);
    relaypol_slot_free(slot);
    ck_assert_int_eq(live_blocks, 0);
}
END_TEST

/* Many threads deciding on one policy, without a slot. */
static relaypol_policy *shared;

static void *plain_reader(void *arg)
{
    (void)arg;
    for (int round = 0; round < READER_ROUNDS; round++)
        for (int i = 0; i < NREQ; i++) {
            answer a;
            decide(shared, i, &a);
            if (!same(&a, &want[1][i]))
                fail_once("shared policy: request %d differs (round %d)", i,
                          round);
        }
    return NULL;
}

START_TEST(shared_policy)
{
    make_requests();
    shared = load(1);
    ck_assert_ptr_nonnull(shared);
    for (int i = 0; i < NREQ; i++)
        decide(shared, i, &want[1][i]);
    pthread_t r[READERS];
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&r[i], NULL, plain_reader, NULL), 0);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    ck_assert_msg(failures == 0, "%d failures; first: %s", failures,
                  first_failure);
    relaypol_policy_free(shared);
    ck_assert_int_eq(live_blocks, 0);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, readers_and_reloads);
    tcase_add_test(tc, shared_policy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(threads_suite());
}
