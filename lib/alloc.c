/*
 * The allocator hook.  Every allocation of a policy goes through the
 * function its loader was given (Lua's lua_Alloc shape), so firmware can
 * hand relaypol a fixed arena and tests can fail allocation N on purpose.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_alloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

void rp_alloc_init(rp_alloc *a, relaypol_alloc_fn fn, void *ud)
{
    a->fn = fn ? fn : default_alloc;
    a->ud = fn ? ud : NULL;
    a->in_use = 0;
}

void *rp_malloc(rp_alloc *a, size_t n)
{
    if (n == 0)
        return NULL;
    void *p = a->fn(a->ud, NULL, 0, n);
    if (p)
        a->in_use += n;
    return p;
}

void *rp_calloc(rp_alloc *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = rp_malloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *rp_realloc(rp_alloc *a, void *p, size_t old_size, size_t new_size)
{
    if (new_size == 0)
        return NULL;
    void *q = a->fn(a->ud, p, p ? old_size : 0, new_size);
    if (q) {
        a->in_use -= p ? old_size : 0;
        a->in_use += new_size;
    }
    return q;
}

void rp_free(rp_alloc *a, void *p, size_t size)
{
    if (!p)
        return;
    a->fn(a->ud, p, size, 0);
    a->in_use -= size;
}

bool rp_grow(rp_alloc *a, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    if (elem != 0 && ncap > SIZE_MAX / elem)
        return false;
    void *n = rp_realloc(a, *arr, *cap * elem, ncap * elem);
    if (!n)
        return false;
    *arr = n;
    *cap = ncap;
    return true;
}
