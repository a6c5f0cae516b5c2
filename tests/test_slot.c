/*
 * relaypol_slot: publishing a policy to many threads.  Single-threaded
 * semantics here (test_threads.c races it): an empty slot, storing NULL,
 * references that keep a replaced policy alive, and freeing the slot
 * while readers still hold references.  A counting allocator tells when a
 * policy has really been freed.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct count_alloc {
    long blocks;
} count_alloc;

static void *count_fn(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    count_alloc *c = ud;
    (void)old_size;
    if (new_size == 0) {
        if (ptr)
            c->blocks--;
        free(ptr);
        return NULL;
    }
    void *q = realloc(ptr, new_size);
    if (q && !ptr)
        c->blocks++;
    return q;
}

/* Loads text with the counting allocator c. */
static relaypol_policy *load(const char *text, count_alloc *c)
{
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = count_fn;
    o.alloc_ud = c;
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_msg(relaypol_policy_load_string(text, strlen(text), "t", &o, &p,
                                              &err) == RELAYPOL_OK,
                  "%s", err.message);
    return p;
}

static const char V1[] = "RelayFlags = 2\n[RelayAllowList]\n10.0.0.0/8\n";
static const char V2[] = "RelayFlags = 2\n[RelayAllowList]\n192.168.0.0/16\n";

/* The verdict of a policy for a remote recipient from client. */
static relaypol_verdict verdict(const relaypol_policy *p, const char *client)
{
    relaypol_request rq;
    relaypol_request_init(&rq);
    ck_assert_int_eq(relaypol_addr_parse(client, &rq.client), RELAYPOL_OK);
    rq.recipient = "<a@remote.example>";
    rq.recipient_len = strlen(rq.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
    return d.verdict;
}

START_TEST(empty_slot)
{
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(NULL, NULL, NULL, &s), RELAYPOL_OK);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(relaypol_slot_acquire(s));
    relaypol_slot_store(s, NULL);
    ck_assert_ptr_null(relaypol_slot_acquire(s));
    relaypol_slot_free(s);
}
END_TEST

START_TEST(null_arguments)
{
    ck_assert_int_eq(relaypol_slot_new(NULL, NULL, NULL, NULL),
                     RELAYPOL_ERR_INVALID);
    relaypol_slot_free(NULL);
    relaypol_slot_store(NULL, NULL);
    ck_assert_ptr_null(relaypol_slot_acquire(NULL));
    relaypol_policy_free(NULL);
}
END_TEST

START_TEST(initial_policy)
{
    count_alloc c = {0};
    relaypol_policy *p = load(V1, &c);
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(p, NULL, NULL, &s), RELAYPOL_OK);
    /* The slot holds its own reference: the loader's can go at once. */
    relaypol_policy_free(p);
    ck_assert_int_gt(c.blocks, 0);
    relaypol_policy *r = relaypol_slot_acquire(s);
    ck_assert_ptr_eq(r, p);
    ck_assert_int_eq(verdict(r, "10.1.2.3"), RELAYPOL_RELAY);
    relaypol_policy_free(r);
    ck_assert_int_gt(c.blocks, 0);
    relaypol_slot_free(s);
    ck_assert_int_eq(c.blocks, 0);
}
END_TEST

START_TEST(store_replaces_and_frees)
{
    count_alloc c1 = {0}, c2 = {0};
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(NULL, NULL, NULL, &s), RELAYPOL_OK);
    relaypol_policy *p1 = load(V1, &c1);
    relaypol_slot_store(s, p1);
    relaypol_policy_free(p1);
    relaypol_policy *p2 = load(V2, &c2);
    relaypol_slot_store(s, p2);
    relaypol_policy_free(p2);
    /* Nobody held p1 any more: storing p2 freed it. */
    ck_assert_int_eq(c1.blocks, 0);
    ck_assert_int_gt(c2.blocks, 0);
    relaypol_policy *r = relaypol_slot_acquire(s);
    ck_assert_int_eq(verdict(r, "192.168.1.1"), RELAYPOL_RELAY);
    ck_assert_int_eq(verdict(r, "10.1.2.3"), RELAYPOL_DENY);
    relaypol_policy_free(r);
    /* Storing NULL empties the slot and drops the last reference. */
    relaypol_slot_store(s, NULL);
    ck_assert_int_eq(c2.blocks, 0);
    ck_assert_ptr_null(relaypol_slot_acquire(s));
    relaypol_slot_free(s);
}
END_TEST

START_TEST(reference_keeps_old_policy)
{
    count_alloc c1 = {0}, c2 = {0};
    relaypol_policy *p1 = load(V1, &c1);
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(p1, NULL, NULL, &s), RELAYPOL_OK);
    relaypol_policy_free(p1);
    relaypol_policy *reader = relaypol_slot_acquire(s);
    relaypol_policy *p2 = load(V2, &c2);
    relaypol_slot_store(s, p2);
    relaypol_policy_free(p2);
    /* The reader still decides on the complete old policy. */
    ck_assert_int_gt(c1.blocks, 0);
    ck_assert_int_eq(verdict(reader, "10.1.2.3"), RELAYPOL_RELAY);
    ck_assert_int_eq(verdict(reader, "192.168.1.1"), RELAYPOL_DENY);
    relaypol_policy *now = relaypol_slot_acquire(s);
    ck_assert_int_eq(verdict(now, "192.168.1.1"), RELAYPOL_RELAY);
    relaypol_policy_free(reader);
    ck_assert_int_eq(c1.blocks, 0);
    relaypol_policy_free(now);
    relaypol_slot_free(s);
    ck_assert_int_eq(c2.blocks, 0);
}
END_TEST

START_TEST(free_slot_with_readers)
{
    count_alloc c = {0};
    relaypol_policy *p = load(V1, &c);
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(p, NULL, NULL, &s), RELAYPOL_OK);
    relaypol_policy_free(p);
    relaypol_policy *r1 = relaypol_slot_acquire(s);
    relaypol_policy *r2 = relaypol_slot_acquire(s);
    relaypol_slot_free(s);
    /* Readers outlive the slot; the last of them frees the policy. */
    ck_assert_int_gt(c.blocks, 0);
    ck_assert_int_eq(verdict(r1, "10.1.2.3"), RELAYPOL_RELAY);
    relaypol_policy_free(r1);
    ck_assert_int_gt(c.blocks, 0);
    ck_assert_int_eq(verdict(r2, "10.1.2.3"), RELAYPOL_RELAY);
    relaypol_policy_free(r2);
    ck_assert_int_eq(c.blocks, 0);
}
END_TEST

START_TEST(same_policy_stored_twice)
{
    count_alloc c = {0};
    relaypol_policy *p = load(V1, &c);
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(p, NULL, NULL, &s), RELAYPOL_OK);
    /* Storing the current policy again must not drop its last reference
     * before taking the new one. */
    relaypol_slot_store(s, p);
    relaypol_policy_free(p);
    relaypol_policy *r = relaypol_slot_acquire(s);
    ck_assert_ptr_eq(r, p);
    ck_assert_int_eq(verdict(r, "10.1.2.3"), RELAYPOL_RELAY);
    relaypol_policy_free(r);
    relaypol_slot_free(s);
    ck_assert_int_eq(c.blocks, 0);
}
END_TEST

START_TEST(slot_allocator)
{
    count_alloc c = {0};
    relaypol_slot *s = NULL;
    ck_assert_int_eq(relaypol_slot_new(NULL, count_fn, &c, &s), RELAYPOL_OK);
    ck_assert_int_eq(c.blocks, 1);
    relaypol_slot_free(s);
    ck_assert_int_eq(c.blocks, 0);
}
END_TEST

static Suite *slot_suite(void)
{
    Suite *s = suite_create("slot");
    TCase *tc = tcase_create("slot");
    tcase_add_test(tc, empty_slot);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, initial_policy);
    tcase_add_test(tc, store_replaces_and_frees);
    tcase_add_test(tc, reference_keeps_old_policy);
    tcase_add_test(tc, free_slot_with_readers);
    tcase_add_test(tc, same_policy_stored_twice);
    tcase_add_test(tc, slot_allocator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(slot_suite());
}
