/*
 * A counting allocator for the harnesses (relaypol_alloc_fn shape): live
 * blocks and bytes, a call counter, and optional failure of call N, so a
 * harness can check that a failed or freed load leaves nothing behind and
 * that deciding allocates nothing.  Not thread-safe (libFuzzer runs one
 * input at a time).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_FUZZ_ALLOC_H
#define RELAYPOL_FUZZ_ALLOC_H

#include <stdlib.h>

typedef struct fz_alloc {
    size_t live_bytes;
    size_t live_blocks;
    unsigned long calls;   /* allocations and reallocations asked for */
    unsigned long fail_at; /* 0: never fail; N: fail the Nth call */
    int size_mismatch;     /* old_size differed from the recorded size */
} fz_alloc;

/* Each block carries its size in a header so that the allocator can check
 * the old_size the library claims when it frees or grows a block. */
static void *fz_alloc_fn(void *ud, void *ptr, size_t old_size,
                         size_t new_size)
{
    fz_alloc *a = ud;
    size_t *h = ptr ? (size_t *)ptr - 2 : NULL;
    if (h && h[0] != old_size)
        a->size_mismatch = 1;
    if (new_size == 0) {
        if (h) {
            a->live_bytes -= h[0];
            a->live_blocks--;
            free(h);
        }
        return NULL;
    }
    a->calls++;
    if (a->fail_at && a->calls == a->fail_at)
        return NULL;
    if (new_size > ((size_t)-1) / 2)
        return NULL;
    size_t *n = realloc(h, new_size + 2 * sizeof(size_t));
    if (!n)
        return NULL;
    if (h) {
        a->live_bytes -= n[0];
    } else {
        a->live_blocks++;
    }
    n[0] = new_size;
    a->live_bytes += new_size;
    return n + 2;
}

#endif
