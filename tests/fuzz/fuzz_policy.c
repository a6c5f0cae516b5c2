/*
 * fuzz_policy: arbitrary bytes as a policy file through
 * relaypol_policy_load_string, sometimes with allocation N failing.
 *
 * Invariants:
 *   - a failed load returns the status it stores in err.status, leaves
 *     *out NULL and frees everything (counting allocator back to zero);
 *   - an error's line and column lie inside the input (the column may be
 *     one past the line's last byte: "missing something at the end");
 *   - an injected allocation failure yields RELAYPOL_ERR_NOMEM or an
 *     error that comes before the failing allocation — never a policy
 *     that lost something, never another status claiming success;
 *   - a loaded policy reports exactly the bytes it holds, its lint
 *     findings name lines inside the input, and freeing it frees all;
 *   - the old_size the library passes when freeing or growing is the
 *     size it asked for.
 *
 * Input: byte 0: bit 0 RELAYPOL_LOAD_LITERAL_MASKS, bit 1 inject a
 * failure at the allocation numbered by byte 1 (+1); the rest is the text.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *g_text;
static size_t g_len;

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_policy: %s\n", what);
    abort();
}

/* The number of lines of the input and the length of line l (1-based),
 * without its newline (a trailing CR is counted: columns count bytes). */
static uint32_t line_count(void)
{
    uint32_t lines = 1;
    for (size_t i = 0; i < g_len; i++)
        if (g_text[i] == '\n' && i + 1 < g_len)
            lines++;
    return lines;
}

static size_t line_length(uint32_t l)
{
    const char *s = g_text, *end = g_text + g_len;
    for (uint32_t k = 1; k < l; k++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            return 0;
        s = nl + 1;
    }
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    return (size_t)((nl ? nl : end) - s);
}

static void check_position(uint32_t line, uint32_t col, const char *what)
{
    if (line == 0) {
        check(col == 0, what);
        return;
    }
    check(line <= line_count(), what);
    check(col <= line_length(line) + 1, what);
}

static int on_finding(void *ud, const relaypol_finding *f)
{
    unsigned *count = ud;
    (*count)++;
    check(f->code && f->message, "finding without code or message");
    check(f->severity <= RELAYPOL_ERROR, "finding with a bad severity");
    check_position(f->line, f->column, "finding outside the input");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536)
        return 0;
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    fz_alloc fa;
    memset(&fa, 0, sizeof fa);
    o.alloc = fz_alloc_fn;
    o.alloc_ud = &fa;
    if (data[0] & 1)
        o.flags |= RELAYPOL_LOAD_LITERAL_MASKS;
    bool inject = (data[0] & 2) != 0;
    if (inject)
        fa.fail_at = (unsigned long)data[1] + 1;

    size_t n = size - 2;
    char *text = malloc(n ? n : 1);
    if (!text)
        return 0;
    memcpy(text, data + 2, n);
    g_text = text;
    g_len = n;

    relaypol_policy *p = (relaypol_policy *)&fa; /* must be overwritten */
    relaypol_error err;
    relaypol_status st =
        relaypol_policy_load_string(text, n, "fuzz", &o, &p, &err);
    check(!fa.size_mismatch, "wrong old_size passed to the allocator");
    if (st != RELAYPOL_OK) {
        check(p == NULL, "failed load left *out set");
        check(err.status == st, "err.status differs from the result");
        check(fa.live_blocks == 0 && fa.live_bytes == 0,
              "failed load leaked memory");
        check(strcmp(err.source, "fuzz") == 0, "error source lost");
        check(err.message[0] != '\0', "error without a message");
        check(memchr(err.message, '\0', sizeof err.message) != NULL,
              "error message not terminated");
        check(st == RELAYPOL_ERR_POLICY || st == RELAYPOL_ERR_LIMIT ||
                  st == RELAYPOL_ERR_NOMEM,
              "unexpected status");
        check(st != RELAYPOL_ERR_NOMEM || (inject && fa.calls >= fa.fail_at),
              "out of memory without a failed allocation");
        if (st != RELAYPOL_ERR_NOMEM)
            check_position(err.line, err.column, "error outside the input");
        char buf[600];
        size_t need = relaypol_error_format(&err, buf, sizeof buf);
        check(need > 0 && strlen(buf) == (need < sizeof buf ? need
                                                           : sizeof buf - 1),
              "relaypol_error_format length");
        free(text);
        return 0;
    }
    check(p != NULL, "successful load without a policy");
    check(!inject || fa.calls < fa.fail_at, "load succeeded past a failure");
    check(relaypol_policy_memory(p) == fa.live_bytes,
          "relaypol_policy_memory differs from what was allocated");
    check(relaypol_policy_relay_flags(p) <= 15, "RelayFlags out of range");
    /* Lint allocates through the same allocator, so the injected failure
     * may land there: then it must be a clean RELAYPOL_ERR_NOMEM. */
    unsigned findings = 0;
    relaypol_status lst = relaypol_policy_lint(p, on_finding, &findings);
    check(lst == RELAYPOL_OK ||
              (lst == RELAYPOL_ERR_NOMEM && inject && fa.calls >= fa.fail_at),
          "lint failed");
    check(relaypol_policy_memory(p) == fa.live_bytes,
          "lint kept memory");
    fa.fail_at = 0;

    /* A couple of decisions, to walk the compiled structures. */
    static const char *const rcpts[] = {"<a@example.com>", "<b@remote.test>",
                                        "<postmaster>", "<c%d@example.com>"};
    static const char *const clients[] = {"192.0.2.1", "::ffff:10.1.2.3",
                                          "2001:db8::1", "10.0.0.1"};
    unsigned long calls = fa.calls;
    for (size_t i = 0; i < 4; i++) {
        relaypol_request rq;
        relaypol_request_init(&rq);
        check(relaypol_addr_parse(clients[i], &rq.client) == RELAYPOL_OK,
              "client");
        rq.recipient = rcpts[i];
        rq.recipient_len = strlen(rcpts[i]);
        rq.user = (i & 1) ? "alice" : NULL;
        relaypol_decision d;
        relaypol_decision_init(&d);
        check(relaypol_decide(p, &rq, &d) == RELAYPOL_OK, "decide failed");
    }
    check(fa.calls == calls, "deciding allocated");

    relaypol_policy_free(p);
    check(!fa.size_mismatch, "wrong old_size passed to the allocator");
    check(fa.live_blocks == 0 && fa.live_bytes == 0, "policy_free leaked");
    free(text);
    return 0;
}
