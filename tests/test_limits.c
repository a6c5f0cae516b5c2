/*
 * The documented limits (relaypol.h): RELAYPOL_MAX_LINE, RELAYPOL_MAX_FILE_SIZE
 * and RELAYPOL_MAX_ENTRIES for policies, RFC 5321's 256-octet path (64 for
 * a local part, 63 for a label) for recipients, and the policy's own
 * bounds on user and group names.  At each limit the input is accepted;
 * one byte beyond it is a clear error, never an overflow or an unbounded
 * allocation.  And a policy of one million list entries loads and decides
 * correctly.
 *
 * RELAYPOL_MAX_ENTRIES itself (16 million) is not crossed here: the text
 * alone would be ~200 MB.  The check is one comparison in add_entry().
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
/* MAP_ANONYMOUS and MAP_NORESERVE are not POSIX. */
#define _DEFAULT_SOURCE 1
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static relaypol_status load(const char *text, size_t len, relaypol_policy **p,
                            relaypol_error *err)
{
    return relaypol_policy_load_string(text, len, "limits", NULL, p, err);
}

/* ------------------------------------------------------------ policies */

START_TEST(line_length)
{
    /* Line 2 is exactly RELAYPOL_MAX_LINE bytes: accepted. */
    size_t cap = 2 * RELAYPOL_MAX_LINE + 64;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    size_t n = (size_t)sprintf(t, "RelayFlags = 2\n");
    size_t start = n;
    memset(t + n, 'x', RELAYPOL_MAX_LINE);
    t[n] = '#';
    n += RELAYPOL_MAX_LINE;
    t[n++] = '\n';
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_int_eq(load(t, n, &p, &err), RELAYPOL_OK);
    relaypol_policy_free(p);
    /* One byte more (and without a final newline too): refused with the
     * line and the first column past the limit. */
    for (int newline = 0; newline < 2; newline++) {
        n = start;
        memset(t + n, 'x', RELAYPOL_MAX_LINE + 1);
        t[n] = '#';
        n += RELAYPOL_MAX_LINE + 1;
        if (newline)
            t[n++] = '\n';
        p = (relaypol_policy *)t;
        ck_assert_int_eq(load(t, n, &p, &err), RELAYPOL_ERR_LIMIT);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(err.status, RELAYPOL_ERR_LIMIT);
        ck_assert_uint_eq(err.line, 2);
        ck_assert_uint_eq(err.column, RELAYPOL_MAX_LINE + 1);
        ck_assert_msg(strstr(err.message, "4096") != NULL, "%s", err.message);
    }
    free(t);
}
END_TEST

START_TEST(file_size_string)
{
    /* A mapping one byte over the limit; untouched pages cost nothing,
     * and the loader must refuse before reading them. */
    size_t len = (size_t)RELAYPOL_MAX_FILE_SIZE + 1;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert(m != MAP_FAILED);
    memcpy(m, "RelayFlags = 2\n", 15);
    relaypol_policy *p = (relaypol_policy *)m;
    relaypol_error err;
    ck_assert_int_eq(load(m, len, &p, &err), RELAYPOL_ERR_LIMIT);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(err.status, RELAYPOL_ERR_LIMIT);
    ck_assert_msg(err.message[0] != '\0', "no message");
    munmap(m, len);
}
END_TEST

START_TEST(file_size_file)
{
    /* A sparse file one byte over the limit: RELAYPOL_ERR_LIMIT, not an
     * attempt to parse 256 MiB of NUL bytes. */
    char path[] = "/tmp/relaypol-limits-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)RELAYPOL_MAX_FILE_SIZE + 1), 0);
    close(fd);
    relaypol_policy *p = NULL;
    relaypol_error err;
    relaypol_status st = relaypol_policy_load_file(path, NULL, &p, &err);
    unlink(path);
    if (st == RELAYPOL_ERR_IO && strstr(err.message, "file I/O"))
        return; /* built with -Dfile_io=false */
    ck_assert_msg(st == RELAYPOL_ERR_LIMIT, "%s: %s", relaypol_strerror(st),
                  err.message);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err.source, path);
}
END_TEST

START_TEST(user_and_group_names)
{
    char name[400], text[1024];
    relaypol_policy *p = NULL;
    relaypol_error err;
    /* RelayUsers: 256 bytes accepted, 257 refused as a limit. */
    for (size_t len = 256; len <= 257; len++) {
        memset(name, 'u', len);
        name[len] = '\0';
        int n = snprintf(text, sizeof text, "RelayFlags = 8\nRelayUsers = %s\n",
                         name);
        relaypol_status st = load(text, (size_t)n, &p, &err);
        if (len == 256) {
            ck_assert_int_eq(st, RELAYPOL_OK);
            relaypol_policy_free(p);
        } else {
            ck_assert_int_eq(st, RELAYPOL_ERR_LIMIT);
            ck_assert_uint_eq(err.line, 2);
            ck_assert_uint_eq(err.column, 14);
        }
    }
    /* Group members: the same bound. */
    for (size_t len = 256; len <= 257; len++) {
        memset(name, 'm', len);
        name[len] = '\0';
        int n = snprintf(text, sizeof text,
                         "RelayFlags = 8\nRelayUsers = @g\n[Group g]\n%s\n",
                         name);
        relaypol_status st = load(text, (size_t)n, &p, &err);
        ck_assert_int_eq(st, len == 256 ? RELAYPOL_OK : RELAYPOL_ERR_LIMIT);
        if (st == RELAYPOL_OK)
            relaypol_policy_free(p);
        else
            ck_assert_uint_eq(err.line, 4);
    }
    /* Group names: 1 to 64 characters. */
    for (size_t len = 64; len <= 65; len++) {
        memset(name, 'g', len);
        name[len] = '\0';
        int n = snprintf(text, sizeof text, "[Group %s]\n", name);
        relaypol_status st = load(text, (size_t)n, &p, &err);
        ck_assert_int_eq(st, len == 64 ? RELAYPOL_OK : RELAYPOL_ERR_POLICY);
        if (st == RELAYPOL_OK)
            relaypol_policy_free(p);
        else
            ck_assert_uint_eq(err.line, 1);
    }
}
END_TEST

/* --------------------------------------------------------- recipients */

static relaypol_policy *open_policy(void)
{
    return tu_load("RelayFlags = 2\nAcceptedDomains = *.example\n"
                   "[RelayAllowList]\n10.0.0.0/8\n");
}

static relaypol_decision decide_rcpt(const relaypol_policy *p, const char *r,
                                     size_t n, uint32_t flags)
{
    relaypol_request rq;
    relaypol_request_init(&rq);
    ck_assert_int_eq(relaypol_addr_parse("203.0.113.1", &rq.client),
                     RELAYPOL_OK);
    rq.recipient = r;
    rq.recipient_len = n;
    rq.flags = flags;
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
    return d;
}

/* A path of content_len bytes between the brackets: a 64-byte local part
 * and labels of up to 63 under ".example". */
static size_t make_path(char *buf, size_t content_len, size_t local_len)
{
    size_t n = 0;
    buf[n++] = '<';
    memset(buf + n, 'l', local_len);
    n += local_len;
    buf[n++] = '@';
    const char *tail = ".example";
    size_t domain = content_len - local_len - 1 - strlen(tail);
    size_t label = 0;
    for (size_t i = 0; i < domain; i++) {
        /* No label may start or end with '.', and none exceeds 63. */
        if (label == 63 && i + 1 < domain) {
            buf[n++] = '.';
            label = 0;
        } else {
            buf[n++] = 'd';
            label++;
        }
    }
    memcpy(buf + n, tail, strlen(tail));
    n += strlen(tail);
    buf[n++] = '>';
    buf[n] = '\0';
    return n;
}

START_TEST(recipient_path)
{
    relaypol_policy *p = open_policy();
    char buf[600];
    /* RFC 5321 4.5.3.1.3: 256 octets with the brackets. */
    size_t n = make_path(buf, 254, 64);
    ck_assert_uint_eq(n, 256);
    relaypol_decision d = decide_rcpt(p, buf, n, 0);
    ck_assert_msg(d.rcpt_error == RELAYPOL_RCPT_OK, "%s",
                  relaypol_rcpt_error_name(d.rcpt_error));
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    n = make_path(buf, 255, 64);
    d = decide_rcpt(p, buf, n, 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_BAD_RECIPIENT);
    ck_assert_int_eq(d.rcpt_error, RELAYPOL_RCPT_TOO_LONG);
    /* The same without brackets, and in Postfix's internal form. */
    n = make_path(buf, 254, 64);
    buf[n - 1] = '\0';
    ck_assert_int_eq(decide_rcpt(p, buf + 1, n - 2, 0).rcpt_error,
                     RELAYPOL_RCPT_OK);
    ck_assert_int_eq(
        decide_rcpt(p, buf + 1, n - 2, RELAYPOL_REQ_RCPT_INTERNAL).rcpt_error,
        RELAYPOL_RCPT_OK);
    n = make_path(buf, 255, 64);
    buf[n - 1] = '\0';
    ck_assert_int_eq(decide_rcpt(p, buf + 1, n - 2, 0).rcpt_error,
                     RELAYPOL_RCPT_TOO_LONG);
    ck_assert_int_eq(
        decide_rcpt(p, buf + 1, n - 2, RELAYPOL_REQ_RCPT_INTERNAL).rcpt_error,
        RELAYPOL_RCPT_TOO_LONG);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(recipient_parts)
{
    relaypol_policy *p = open_policy();
    char buf[600];
    /* Local part: 64 octets (4.5.3.1.1). */
    size_t n = make_path(buf, 100, 64);
    ck_assert_int_eq(decide_rcpt(p, buf, n, 0).rcpt_error, RELAYPOL_RCPT_OK);
    n = make_path(buf, 100, 65);
    ck_assert_int_eq(decide_rcpt(p, buf, n, 0).rcpt_error,
                     RELAYPOL_RCPT_LOCAL_TOO_LONG);
    /* A label: 63 octets (RFC 1035 2.3.4). */
    char label[200];
    memset(label, 'a', 63);
    int k = snprintf(buf, sizeof buf, "<u@%.*s.example>", 63, label);
    ck_assert_int_eq(decide_rcpt(p, buf, (size_t)k, 0).rcpt_error,
                     RELAYPOL_RCPT_OK);
    memset(label, 'a', 64);
    k = snprintf(buf, sizeof buf, "<u@%.*s.example>", 64, label);
    ck_assert_int_eq(decide_rcpt(p, buf, (size_t)k, 0).rcpt_error,
                     RELAYPOL_RCPT_LABEL_TOO_LONG);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(huge_inputs_to_decide)
{
    /* A megabyte of recipient and a long user name: refused or not
     * listed, without reading past them. */
    relaypol_policy *p = tu_load("RelayFlags = 8\nAuthRequiresTLS = no\n"
                                 "RelayUsers = alice\n");
    size_t big = 1u << 20;
    char *r = malloc(big);
    ck_assert_ptr_nonnull(r);
    memset(r, 'a', big);
    r[0] = '<';
    r[big - 1] = '>';
    relaypol_decision d = decide_rcpt(p, r, big, 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_BAD_RECIPIENT);
    free(r);

    char *user = malloc(5000);
    ck_assert_ptr_nonnull(user);
    memset(user, 'a', 4999);
    user[4999] = '\0';
    relaypol_request rq;
    relaypol_request_init(&rq);
    ck_assert_int_eq(relaypol_addr_parse("203.0.113.1", &rq.client),
                     RELAYPOL_OK);
    rq.recipient = "<x@remote.example>";
    rq.recipient_len = strlen(rq.recipient);
    rq.user = user;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_int_eq(d.auth, RELAYPOL_AUTH_NOT_LISTED);
    user[5] = '\0'; /* "aaaaa": still not alice */
    ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
    ck_assert_int_eq(d.auth, RELAYPOL_AUTH_NOT_LISTED);
    free(user);
    relaypol_policy_free(p);
}
END_TEST

/* ------------------------------------------------- a million entries */

/* A million list entries (a fiftieth under RELAYPOL_TEST_QUICK). */
#define MILLION ((uint32_t)tu_scale(1000000u))

/* Deny list: the even IPv4 addresses 10.0.0.0 + 2i and, for every fourth
 * i, the IPv6 host 2001:db8::<i>.  Allow list: 10.0.0.0/8 and 2001:db8::/32.
 * With RelayFlags 3, odd addresses relay and listed ones are refused. */
START_TEST(million_entries)
{
    size_t cap = (size_t)MILLION * 24 + 256;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    size_t n = 0;
    n += (size_t)sprintf(t + n, "RelayFlags = 3\n[RelayAllowList]\n"
                                "10.0.0.0/8\n2001:db8::/32\n[RelayDenyList]\n");
    uint32_t v4 = 0, v6 = 0;
    for (uint32_t i = 0; v4 + v6 < MILLION; i++) {
        uint32_t a = 2 * i;
        n += (size_t)sprintf(t + n, "10.%u.%u.%u\n", (a >> 16) & 255,
                             (a >> 8) & 255, a & 255);
        v4++;
        if (i % 4 == 0 && v4 + v6 < MILLION) {
            n += (size_t)sprintf(t + n, "2001:db8::%x:%x\n", i >> 16,
                                 i & 0xffff);
            v6++;
        }
    }
    ck_assert_uint_lt(n, cap);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_msg(load(t, n, &p, &err) == RELAYPOL_OK, "%u:%u: %s",
                  (unsigned)err.line, (unsigned)err.column, err.message);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "million_entries: %u IPv4 + %u IPv6 entries, %zu bytes "
                    "of text, loaded in %.2f s, %zu bytes held\n",
            v4, v6, n,
            (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            relaypol_policy_memory(p));
    free(t);

    relaypol_request rq;
    relaypol_request_init(&rq);
    rq.recipient = "<x@remote.example>";
    rq.recipient_len = strlen(rq.recipient);
    relaypol_decision d;
    uint32_t x = 12345;
    for (int k = 0; k < 20000; k++) {
        x = x * 1103515245u + 12345u;
        uint32_t i = (x >> 4) % v4;
        uint32_t a = 2 * i + (uint32_t)(k & 1);
        uint8_t b[16] = {10, (uint8_t)(a >> 16), (uint8_t)(a >> 8),
                         (uint8_t)a};
        relaypol_addr_from_bytes(b, 4, &rq.client);
        relaypol_decision_init(&d);
        ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
        if (k & 1) {
            ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
            ck_assert_str_eq(d.entry, "10.0.0.0/8");
        } else {
            ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
            /* Entry i is on line 6 + i + (IPv6 lines before it). */
            ck_assert_uint_eq(d.entry_line, 6 + i + (i + 3) / 4);
        }
        /* IPv6: every fourth i is listed, the others only allowed. */
        uint32_t j = (x >> 8) % (4 * v6);
        uint8_t c[16] = {0x20, 0x01, 0x0d, 0xb8};
        c[12] = (uint8_t)(j >> 24);
        c[13] = (uint8_t)(j >> 16);
        c[14] = (uint8_t)(j >> 8);
        c[15] = (uint8_t)j;
        relaypol_addr_from_bytes(c, 16, &rq.client);
        relaypol_decision_init(&d);
        ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
        ck_assert_int_eq(d.step, j % 4 == 0 ? RELAYPOL_STEP_DENY_LIST
                                            : RELAYPOL_STEP_ALLOW_LIST);
    }
    relaypol_policy_free(p);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, line_length);
    tcase_add_test(tc, file_size_string);
    tcase_add_test(tc, file_size_file);
    tcase_add_test(tc, user_and_group_names);
    tcase_add_test(tc, recipient_path);
    tcase_add_test(tc, recipient_parts);
    tcase_add_test(tc, huge_inputs_to_decide);
    tcase_add_test(tc, million_entries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(limits_suite());
}
