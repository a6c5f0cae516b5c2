/*
 * Allocation failure, the SQLite way: fail allocation 1, then 2, then 3,
 * ... of an operation until it succeeds.  Every failure must be a clean
 * RELAYPOL_ERR_NOMEM (in the result and in err.status), leave no policy
 * behind and free everything it allocated — a long-running server that
 * runs out of memory during a reload keeps its old policy and must not
 * leak a little on every attempt.
 *
 * Covered: every example policy, a large generated one, the file loader,
 * relaypol_policy_lint and relaypol_slot_new.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ------------------------------------------------ the failing allocator */

/* Counts live blocks and bytes, checks the old_size the library passes
 * back, and fails call number fail_at (0: never). */
typedef struct oom_alloc {
    size_t live_bytes, live_blocks;
    unsigned long calls, fail_at;
    int size_mismatch;
} oom_alloc;

static void *oom_fn(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    oom_alloc *a = ud;
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
    size_t *n = realloc(h, new_size + 2 * sizeof(size_t));
    if (!n)
        return NULL;
    if (h)
        a->live_bytes -= n[0];
    else
        a->live_blocks++;
    n[0] = new_size;
    a->live_bytes += new_size;
    return n + 2;
}

/* Safety net: no operation here needs anywhere near this many. */
#define MAX_STEPS 200000ul

/* Loads text with allocation N failing for N = 1, 2, ... and returns how
 * many failures were survived. */
static unsigned long oom_loop(const char *text, size_t len, const char *name)
{
    unsigned long n;
    for (n = 1; n < MAX_STEPS; n++) {
        oom_alloc a;
        memset(&a, 0, sizeof a);
        a.fail_at = n;
        relaypol_load_options o;
        relaypol_load_options_init(&o);
        o.alloc = oom_fn;
        o.alloc_ud = &a;
        relaypol_policy *p = (relaypol_policy *)&a; /* must become NULL */
        relaypol_error err;
        relaypol_status st =
            relaypol_policy_load_string(text, len, name, &o, &p, &err);
        ck_assert_msg(!a.size_mismatch, "%s: wrong old_size (step %lu)",
                      name, n);
        if (st == RELAYPOL_OK) {
            ck_assert_ptr_nonnull(p);
            ck_assert_msg(a.calls < n,
                          "%s: load succeeded although allocation %lu failed",
                          name, n);
            ck_assert_uint_eq(relaypol_policy_memory(p), a.live_bytes);
            relaypol_policy_free(p);
            ck_assert_uint_eq(a.live_blocks, 0);
            ck_assert_uint_eq(a.live_bytes, 0);
            return n - 1;
        }
        ck_assert_msg(st == RELAYPOL_ERR_NOMEM,
                      "%s: allocation %lu failed, got %s: %u:%u: %s", name, n,
                      relaypol_strerror(st), (unsigned)err.line,
                      (unsigned)err.column, err.message);
        ck_assert_int_eq(err.status, RELAYPOL_ERR_NOMEM);
        ck_assert_str_eq(err.source, name);
        ck_assert_msg(err.message[0] != '\0', "%s: empty message", name);
        ck_assert_ptr_null(p);
        ck_assert_msg(a.live_blocks == 0 && a.live_bytes == 0,
                      "%s: allocation %lu failed and %zu blocks (%zu bytes) "
                      "were not freed",
                      name, n, a.live_blocks, a.live_bytes);
    }
    ck_abort_msg("%s: still failing after %lu allocations", name, n);
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

START_TEST(example_policies)
{
    const char *dir = tu_src("examples/policies");
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s", dir);
    DIR *d = opendir(dirpath);
    ck_assert_msg(d != NULL, "cannot open %s (set RELAYPOL_SRCDIR)", dirpath);
    struct dirent *de;
    unsigned files = 0;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".conf") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name);
        size_t len;
        char *text = read_file(path, &len);
        unsigned long steps = oom_loop(text, len, de->d_name);
        ck_assert_msg(steps > 0, "%s: loading allocated nothing?",
                      de->d_name);
        free(text);
        files++;
    }
    closedir(d);
    ck_assert_msg(files >= 1, "no example policies found in %s", dirpath);
}
END_TEST

/* A policy with every kind of line, large enough that every array grows
 * several times (so the failure of each regrowth is exercised). */
static char *generated(size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
#define PUT(...) (n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__))
    PUT("RelayFlags = 15\nAuthRequiresTLS = yes\n");
    PUT("RelayUsers = @staff, @ops, root\nAllowRouting = percent\n");
    PUT("ServerAddresses = 192.0.2.25, 2001:db8::25\n");
    PUT("Submission = restricted\n");
    for (int i = 0; i < 60; i++)
        PUT("AcceptedDomains = d%d.example, *.w%d.example.org\n", i, i);
    PUT("[RelayDenyList]\n");
    for (int i = 0; i < 700; i++)
        PUT("10.%d.%d.0/24\n", i / 256, i % 256);
    PUT("192.168.0.5;255.255.0.255\n"); /* non-contiguous */
    PUT("[RelayAllowList]\n");
    for (int i = 0; i < 700; i++)
        PUT("2001:db8:%x::/48\n", i);
    PUT("10.0.0.0/8\n::ffff:172.16.0.0/108\n");
    PUT("[RelayLocalIPList]\n10.255.0.1\n2001:db8:ffff::1\n");
    PUT("[SubmitAllowList]\n");
    for (int i = 0; i < 50; i++)
        PUT("172.20.%d.0/24\n", i);
    PUT("[Group staff]\n");
    for (int i = 0; i < 120; i++)
        PUT("user%d@example.com\n", i);
    PUT("[Group ops]\nop1 op2, op3\n");
#undef PUT
    ck_assert_uint_lt(n, cap);
    *len = n;
    return s;
}

START_TEST(large_generated_policy)
{
    size_t len;
    char *text = generated(&len);
    unsigned long steps = oom_loop(text, len, "generated");
    ck_assert_uint_gt(steps, 20);
    free(text);
}
END_TEST

/* Roles, groups and the Exchange 2003 wording allocate on their own paths
 * (notes, group resolution). */
START_TEST(small_policies)
{
    static const char *const texts[] = {
        "",
        "Role = mailbox\n[SubmitAllowList]\n10.0.0.1\n",
        ("RelayComputers = only-list\nAuthenticatedRelay = yes\n"
         "RelayUsers = @g\n[Group g]\n[RelayAllowList]\n10.0.0.0/8\n"),
        "LiteralMasks = yes\n[RelayDenyList]\n192.168.1.5;255.255.255.0\n",
        "RelayFlags = 1\n[RelayDenyList]\n10.0.0.1\n10.0.0.1\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        oom_loop(texts[i], strlen(texts[i]), "small");
}
END_TEST

START_TEST(load_file)
{
    const char *path = tu_src("examples/policies/example.conf");
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    relaypol_policy *pol = NULL;
    relaypol_error err;
    if (relaypol_policy_load_file(p, NULL, &pol, &err) != RELAYPOL_OK)
        return; /* built with -Dfile_io=false */
    relaypol_policy_free(pol);
    for (unsigned long n = 1; n < MAX_STEPS; n++) {
        oom_alloc a;
        memset(&a, 0, sizeof a);
        a.fail_at = n;
        relaypol_load_options o;
        relaypol_load_options_init(&o);
        o.alloc = oom_fn;
        o.alloc_ud = &a;
        pol = (relaypol_policy *)&a;
        relaypol_status st = relaypol_policy_load_file(p, &o, &pol, &err);
        ck_assert(!a.size_mismatch);
        if (st == RELAYPOL_OK) {
            ck_assert_uint_eq(relaypol_policy_memory(pol), a.live_bytes);
            relaypol_policy_free(pol);
            ck_assert_uint_eq(a.live_bytes, 0);
            return;
        }
        ck_assert_msg(st == RELAYPOL_ERR_NOMEM, "step %lu: %s", n,
                      err.message);
        ck_assert_int_eq(err.status, RELAYPOL_ERR_NOMEM);
        ck_assert_ptr_null(pol);
        ck_assert_uint_eq(a.live_blocks, 0);
        ck_assert_uint_eq(a.live_bytes, 0);
    }
    ck_abort_msg("load_file never succeeded");
}
END_TEST

static int count_finding(void *ud, const relaypol_finding *f)
{
    (void)f;
    (*(unsigned *)ud)++;
    return 0;
}

/* Lint allocates its sorted view through the policy's allocator: a
 * failure is RELAYPOL_ERR_NOMEM and gives back what lint took. */
START_TEST(lint)
{
    size_t len;
    char *text = generated(&len);
    oom_alloc a;
    memset(&a, 0, sizeof a);
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = oom_fn;
    o.alloc_ud = &a;
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string(text, len, "gen", &o, &p,
                                                 &err),
                     RELAYPOL_OK);
    size_t held = a.live_bytes;
    unsigned full = 0;
    ck_assert_int_eq(relaypol_policy_lint(p, count_finding, &full),
                     RELAYPOL_OK);
    ck_assert_uint_gt(full, 0);
    ck_assert_uint_eq(a.live_bytes, held);
    unsigned long n;
    for (n = 1; n < MAX_STEPS; n++) {
        a.fail_at = a.calls + n;
        unsigned seen = 0;
        relaypol_status st = relaypol_policy_lint(p, count_finding, &seen);
        ck_assert(!a.size_mismatch);
        ck_assert_uint_eq(a.live_bytes, held);
        if (st == RELAYPOL_OK) {
            ck_assert_uint_eq(seen, full);
            break;
        }
        ck_assert_int_eq(st, RELAYPOL_ERR_NOMEM);
    }
    ck_assert_uint_lt(n, MAX_STEPS);
    a.fail_at = 0;
    relaypol_policy_free(p);
    ck_assert_uint_eq(a.live_blocks, 0);
    free(text);
}
END_TEST

START_TEST(slot_new)
{
    relaypol_policy *pol = tu_load("RelayFlags = 2\n[RelayAllowList]\n"
                                   "10.0.0.0/8\n");
    for (int with_policy = 0; with_policy < 2; with_policy++) {
        relaypol_policy *init = with_policy ? pol : NULL;
        oom_alloc a;
        memset(&a, 0, sizeof a);
        a.fail_at = 1;
        relaypol_slot *s = (relaypol_slot *)&a;
        ck_assert_int_eq(relaypol_slot_new(init, oom_fn, &a, &s),
                         RELAYPOL_ERR_NOMEM);
        ck_assert_ptr_null(s);
        ck_assert_uint_eq(a.live_blocks, 0);
        a.fail_at = 0;
        ck_assert_int_eq(relaypol_slot_new(init, oom_fn, &a, &s),
                         RELAYPOL_OK);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(a.live_blocks, 0);
        relaypol_slot_free(s);
        ck_assert(!a.size_mismatch);
        ck_assert_uint_eq(a.live_blocks, 0);
        ck_assert_uint_eq(a.live_bytes, 0);
    }
    /* The failed slot took no reference: one free releases the policy. */
    relaypol_policy_free(pol);
}
END_TEST

static Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, example_policies);
    tcase_add_test(tc, large_generated_policy);
    tcase_add_test(tc, small_policies);
    tcase_add_test(tc, load_file);
    tcase_add_test(tc, lint);
    tcase_add_test(tc, slot_new);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(oom_suite());
}
