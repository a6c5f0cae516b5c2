/*
 * fuzz_eval_line: `relaypol eval`'s input handling — the line reader, the
 * request-line parser and both output formats — on arbitrary input.
 *
 * tools/cli_eval.c keeps read_line() and parse_line() static (there is no
 * parser function exported for fuzzing), so this harness includes that
 * file and drives the same functions cli_eval_main() does, with a fixed
 * policy, reading from an in-memory stream.
 *
 * Invariants:
 *   - every input line yields exactly one result line or is skipped as
 *     blank/comment, and line numbers count every input line;
 *   - an accepted request has a client address, and its recipient lies
 *     inside the line buffer;
 *   - the output never carries a raw control character from the input
 *     (no forged result lines), and JSON output is valid UTF-8.
 *
 * Input: byte 0 bit 0 selects --json; the rest is standard input.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "../../tools/cli_eval.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_eval_line: %s\n", what);
    abort();
}

static const char policy_text[] =
    "RelayFlags = 15\n"
    "AcceptedDomains = example.com, *.example.org\n"
    "AuthRequiresTLS = yes\n"
    "RelayUsers = @staff, monitoring\n"
    "ServerAddresses = 192.0.2.25\n"
    "[RelayDenyList]\n192.168.1.0;255.255.255.248\n"
    "[RelayAllowList]\n192.168.1.0;255.255.255.0\n2001:db8:100::/48\n"
    "[RelayLocalIPList]\n10.0.0.25\n"
    "[Group staff]\nalice@example.com\nbob@example.com\n";

static relaypol_policy *policy(void)
{
    static relaypol_policy *p;
    if (!p) {
        relaypol_error err;
        check(relaypol_policy_load_string(policy_text, sizeof policy_text - 1,
                                          "fuzz", NULL, &p,
                                          &err) == RELAYPOL_OK,
              "the harness's policy does not load");
    }
    return p;
}

/* Length of the UTF-8 sequence at s, or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536)
        return 0;
    relaypol_policy *pol = policy();
    /* fmemopen reads straight from a copy; no NUL terminator needed. */
    size_t n = size - 1;
    char *in = malloc(n);
    if (!in)
        return 0;
    memcpy(in, data + 1, n);
    FILE *f = fmemopen(in, n, "r");
    check(f != NULL, "fmemopen");

    char *out = NULL;
    size_t outlen = 0;
    eval_state st;
    memset(&st, 0, sizeof st);
    st.out = open_memstream(&out, &outlen);
    check(st.out != NULL, "open_memstream");
    st.json = data[0] & 1;

    line_reader *r = malloc(sizeof *r);
    check(r != NULL, "malloc");
    r->in = f;
    r->lineno = 0;
    unsigned long results = 0, skipped = 0;
    int got;
    while ((got = read_line(r)) > 0) {
        check(r->len <= EVAL_MAX_LINE + 1 && r->buf[r->len] == '\0',
              "line buffer bounds");
        relaypol_request req;
        bool skip;
        if (!parse_line(&st, r, &req, &skip)) {
            check(st.msg[0] != '\0', "error without a message");
            put_error(&st, r->lineno);
            results++;
        } else if (skip) {
            skipped++;
        } else {
            check(req.client.family == RELAYPOL_AF_INET ||
                      req.client.family == RELAYPOL_AF_INET6,
                  "accepted line without a client");
            check(!r->too_long && !r->has_nul, "bad line accepted");
            check(req.recipient >= r->buf && req.recipient_len > 0 &&
                      req.recipient + req.recipient_len <= r->buf + r->len,
                  "recipient outside the line");
            relaypol_decision d;
            relaypol_decision_init(&d);
            check(relaypol_decide(pol, &req, &d) == RELAYPOL_OK,
                  "decide failed on an accepted line");
            put_decision(&st, r->lineno, &d, &req);
            results++;
        }
    }
    check(got == 0, "read error on a memory stream");
    /* Every line was counted: the lines of the input are its newlines,
     * plus one unterminated last line. */
    unsigned long lines = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] == '\n')
            lines++;
    if (n > 0 && in[n - 1] != '\n')
        lines++;
    check(r->lineno == lines, "line numbers do not count every line");
    check(results + skipped == lines, "a line without exactly one result");

    fclose(st.out);
    unsigned long nl = 0;
    for (size_t i = 0; i < outlen; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n') {
            nl++;
            continue;
        }
        check(c >= 0x20 && c != 0x7f, "raw control character in the output");
        if (st.json && c >= 0x80) {
            size_t k = utf8_seq((const unsigned char *)out + i, outlen - i);
            check(k > 0, "JSON output is not valid UTF-8");
            i += k - 1;
        }
    }
    check(nl == results, "output lines differ from results");

    free(out);
    free(st.explain.p);
    free(r);
    fclose(f);
    free(in);
    return 0;
}
