/*
 * Publishing a policy to many threads.  A reload builds a complete new
 * policy first; only then is the pointer swapped, so a reader sees either
 * the old policy or the new one, never a half-built one.  Readers hold a
 * reference, so the old policy lives until the last of them is done.
 *
 * The lock is a spin lock on an atomic flag: the critical section is a
 * pointer copy and an increment, and it needs no threads library (the
 * core also builds for firmware).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "internal.h"

struct relaypol_slot {
    rp_alloc alloc;
    relaypol_policy *current;
    char lock;
};

static void lock(relaypol_slot *s)
{
    while (__atomic_test_and_set(&s->lock, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
            ;
}

static void unlock(relaypol_slot *s)
{
    __atomic_clear(&s->lock, __ATOMIC_RELEASE);
}

relaypol_status relaypol_slot_new(relaypol_policy *initial,
                                  relaypol_alloc_fn alloc, void *alloc_ud,
                                  relaypol_slot **out)
{
    if (!out)
        return RELAYPOL_ERR_INVALID;
    *out = NULL;
    rp_alloc a;
    rp_alloc_init(&a, alloc, alloc_ud);
    relaypol_slot *s = rp_malloc(&a, sizeof *s);
    if (!s)
        return RELAYPOL_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->alloc = a;
    s->current = initial ? relaypol_policy_ref(initial) : NULL;
    *out = s;
    return RELAYPOL_OK;
}

relaypol_policy *relaypol_slot_acquire(relaypol_slot *s)
{
    if (!s)
        return NULL;
    lock(s);
    relaypol_policy *p = s->current ? relaypol_policy_ref(s->current) : NULL;
    unlock(s);
    return p;
}

void relaypol_slot_store(relaypol_slot *s, relaypol_policy *p)
{
    if (!s)
        return;
    if (p)
        relaypol_policy_ref(p);
    lock(s);
    relaypol_policy *old = s->current;
    s->current = p;
    unlock(s);
    /* Outside the lock: freeing a large policy takes a while. */
    relaypol_policy_free(old);
}

void relaypol_slot_free(relaypol_slot *s)
{
    if (!s)
        return;
    relaypol_policy_free(s->current);
    rp_alloc a = s->alloc;
    rp_free(&a, s, sizeof *s);
}
