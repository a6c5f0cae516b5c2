/*
 * The policy file: what it accepts, and for what it refuses the exact
 * line, column and reason — with no policy left behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* A counting allocator: every byte handed out must come back. */
typedef struct counter {
    size_t live_bytes, live_blocks, calls;
} counter;

static void *count_alloc(void *ud, void *ptr, size_t old, size_t n)
{
    counter *c = ud;
    if (n == 0) {
        if (ptr) {
            c->live_bytes -= old;
            c->live_blocks--;
        }
        free(ptr);
        return NULL;
    }
    c->calls++;
    void *q = realloc(ptr, n);
    if (q) {
        if (ptr)
            c->live_bytes -= old;
        else
            c->live_blocks++;
        c->live_bytes += n;
    }
    return q;
}

typedef struct bad_case {
    const char *text;
    relaypol_status status;
    uint32_t line, column;
    const char *msg; /* substring of the message */
} bad_case;

static const bad_case BAD[] = {
    {"RelayFlags = 16\n", RELAYPOL_ERR_POLICY, 1, 14, "out of range"},
    {"RelayFlags = 3\nRelayFlags = 2\n", RELAYPOL_ERR_POLICY, 2, 1,
     "set twice (first on line 1)"},
    {"Relayflag = 3\n", RELAYPOL_ERR_POLICY, 1, 1, "unknown setting"},
    {"RelayFlags = 3\n[RelayDenyList\n", RELAYPOL_ERR_POLICY, 2, 1,
     "without ']'"},
    {"[RelayDenyLists]\n", RELAYPOL_ERR_POLICY, 1, 2, "unknown section"},
    {"192.168.0.0;255.255.0.0\n", RELAYPOL_ERR_POLICY, 1, 1,
     "[section] header"},
    {"[RelayDenyList]\n192.168.1.5;255.255.255.0\n", RELAYPOL_ERR_POLICY, 2,
     0, "192.168.1.0;255.255.255.0"},
    {"[RelayAllowList]\n10.1\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n010.0.0.1\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n0x0a.0.0.1\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n10.0.0.0/-1\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n10.0.0.0/24a\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n10.0.0.0/33\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n 10.0.0.0 ; 255.0.0.0 x\n", RELAYPOL_ERR_POLICY, 2,
     0, ""},
    {"[RelayAllowList]\n1:2:3:4:5:6:7:8:9\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n1::2::3\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"[RelayAllowList]\n::ffff:0:0/80\n", RELAYPOL_ERR_POLICY, 2, 0, ""},
    {"AcceptedDomains = example..com\n", RELAYPOL_ERR_POLICY, 1, 0, ""},
    {"AcceptedDomains = ex*ample.com\n", RELAYPOL_ERR_POLICY, 1, 0, ""},
    {"AcceptedDomains = b\xc3\xa4r.example\n", RELAYPOL_ERR_POLICY, 1, 20,
     "non-ASCII"},
    {"RelayFlags = 8\nRelayUsers = alice, @staff\n", RELAYPOL_ERR_POLICY, 2,
     21, "group 'staff', which is not defined"},
    {"[Group staff]\nbob\n[Group staff]\n", RELAYPOL_ERR_POLICY, 3, 8,
     "already defined on line 1"},
    {"Submission = sometimes\n", RELAYPOL_ERR_POLICY, 1, 14, "Submission"},
    {"Role = server\n", RELAYPOL_ERR_POLICY, 1, 8, "Role"},
    {"AuthRequiresTLS = maybe\n", RELAYPOL_ERR_POLICY, 1, 19, "yes or no"},
    {"RelayFlags = 3\nRelayComputers = only-list\n", RELAYPOL_ERR_POLICY, 2,
     1, "RelayFlags is already set on line 1"},
    {"RelayComputers = all-except-list\nAuthenticatedRelay = yes\n",
     RELAYPOL_ERR_POLICY, 2, 1, "cannot be combined"},
    {"AllowRouting = uucp\n", RELAYPOL_ERR_POLICY, 1, 16, "unknown routing"},
    {"ServerAddresses = 10.1\n", RELAYPOL_ERR_POLICY, 1, 0, "ServerAddresses"},
    {"RelayFlags = 3\x01\n", RELAYPOL_ERR_POLICY, 1, 15, "control character"},
    {"RelayFlags = 3\n\n\nRelayFlags\n", RELAYPOL_ERR_POLICY, 4, 1,
     "expected 'Key = value'"},
    /* Only a '\r' right before the '\n' is an end of line. */
    {"RelayFlags = 3\r\r\n", RELAYPOL_ERR_POLICY, 1, 15,
     "control character (0x0d)"},
    {"RelayFlags\x7f = 1\n", RELAYPOL_ERR_POLICY, 1, 11,
     "control character (0x7f)"},
    /* The first offending byte is named, whichever kind it is. */
    {"[RelayAllowList]\n10.0.0.1 \xc3\xa4 # x\x01\n", RELAYPOL_ERR_POLICY, 2,
     10, "non-ASCII"},
    {"[RelayAllowList]\n\xc3\x01\n", RELAYPOL_ERR_POLICY, 2, 1,
     "non-ASCII"},
    /* A group member may be UTF-8, but not a control character. */
    {"[Group g]\nb\xc3\xa4r\x01\n", RELAYPOL_ERR_POLICY, 2, 5,
     "control character (0x01)"},
    {"RelayFlags = 2 = 3\n", RELAYPOL_ERR_POLICY, 1, 15, "decimal number"},
};

START_TEST(bad_policies_name_line_and_column)
{
    const bad_case *c = &BAD[_i];
    relaypol_policy *p = (relaypol_policy *)&p;
    relaypol_error err;
    counter cnt = {0, 0, 0};
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = count_alloc;
    o.alloc_ud = &cnt;
    relaypol_status st = relaypol_policy_load_string(
        c->text, strlen(c->text), "bad.conf", &o, &p, &err);
    ck_assert_msg(st == c->status, "case %d: status %d, message %s", _i, st,
                  err.message);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(err.status, c->status);
    ck_assert_str_eq(err.source, "bad.conf");
    ck_assert_msg(err.line == c->line, "case %d: line %u want %u (%s)", _i,
                  err.line, c->line, err.message);
    if (c->column)
        ck_assert_msg(err.column == c->column,
                      "case %d: column %u want %u (%s)", _i, err.column,
                      c->column, err.message);
    else
        ck_assert_uint_gt(err.column, 0);
    ck_assert_msg(strstr(err.message, c->msg) != NULL,
                  "case %d: message '%s' lacks '%s'", _i, err.message,
                  c->msg);
    /* Nothing half-applied: every allocation was returned. */
    ck_assert_uint_eq(cnt.live_bytes, 0);
    ck_assert_uint_eq(cnt.live_blocks, 0);

    char line[700];
    relaypol_error_format(&err, line, sizeof line);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "bad.conf:%u:", (unsigned)c->line);
    ck_assert_msg(strncmp(line, prefix, strlen(prefix)) == 0, "%s", line);
}
END_TEST

START_TEST(nul_byte_and_long_line)
{
    relaypol_policy *p;
    relaypol_error err;
    static const char nul[] = "RelayFlags = 2\n[RelayAllowList]\n10.0.0.1\0\n";
    ck_assert_int_eq(relaypol_policy_load_string(nul, sizeof nul - 1, "n",
                                                 NULL, &p, &err),
                     RELAYPOL_ERR_POLICY);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.column, 9);
    ck_assert_ptr_null(p);

    size_t n = RELAYPOL_MAX_LINE + 100;
    char *big = malloc(n + 32);
    strcpy(big, "RelayFlags = 2\n# ");
    memset(big + strlen(big), 'x', n);
    big[17 + n] = '\n';
    ck_assert_int_eq(relaypol_policy_load_string(big, 18 + n, "long", NULL,
                                                 &p, &err),
                     RELAYPOL_ERR_LIMIT);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.column, RELAYPOL_MAX_LINE + 1);
    ck_assert_ptr_null(p);

    /* Exactly the limit is fine, with or without a final '\n'; one byte
     * more is not, and that is said before anything else on the line. */
    for (int more = 0; more < 2; more++)
        for (int nl = 0; nl < 2; nl++) {
            size_t len = 15 + RELAYPOL_MAX_LINE + (size_t)more;
            strcpy(big, "RelayFlags = 2\n#");
            memset(big + 16, 'x', RELAYPOL_MAX_LINE - 1 + (size_t)more);
            big[16] = '\0'; /* a NUL in a line that is too long */
            big[len] = '\n';
            relaypol_status want = more ? RELAYPOL_ERR_LIMIT
                                        : RELAYPOL_ERR_POLICY;
            ck_assert_int_eq(relaypol_policy_load_string(big, len + (size_t)nl,
                                                         "edge", NULL, &p,
                                                         &err),
                             want);
            ck_assert_uint_eq(err.line, 2);
            ck_assert_uint_eq(err.column, more ? RELAYPOL_MAX_LINE + 1 : 2);
            ck_assert_ptr_null(p);
            big[16] = 'x';
            ck_assert_int_eq(relaypol_policy_load_string(big, len + (size_t)nl,
                                                         "edge", NULL, &p,
                                                         &err),
                             more ? RELAYPOL_ERR_LIMIT : RELAYPOL_OK);
            relaypol_policy_free(p);
        }
    free(big);
}
END_TEST

START_TEST(comments_crlf_case_and_blank_lines)
{
    const char *text = "# relay policy\r\n"
                       "  relayflags=3   # deny + allow\r\n"
                       "\r\n"
                       "[relaydenylist]\r\n"
                       "\t192.168.1.0;255.255.255.248\t# the printers\r\n"
                       "[ RelayAllowList ]\r\n"
                       "192.168.1.0/24\r\n";
    relaypol_policy *p = tu_load(text);
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 3);
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("192.168.1.2", &r.client);
    r.recipient = "<a@b.example>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_decide(p, &r, &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
    ck_assert_str_eq(d.entry, "192.168.1.0;255.255.255.248");
    ck_assert_uint_eq(d.entry_line, 5);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(load_file_errors)
{
    relaypol_policy *p = (relaypol_policy *)&p;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_file("/nonexistent/relay.conf",
                                               NULL, &p, &err),
                     RELAYPOL_ERR_IO);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err.source, "/nonexistent/relay.conf");
    ck_assert_ptr_nonnull(strstr(err.message, "No such file"));
    ck_assert_int_eq(relaypol_policy_load_file(tu_src("examples/policies/"
                                                      "seed-subnet-except.conf"),
                                               NULL, &p, &err),
                     RELAYPOL_OK);
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 3);
    relaypol_policy_free(p);
}
END_TEST

/* A file larger than one read chunk and than its first buffer is read to
 * its last byte, with and without a final newline. */
START_TEST(load_file_reads_it_all)
{
    char path[] = "/tmp/relaypol-policy-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "RelayFlags = 2\n[RelayAllowList]\n");
    unsigned lines = 2;
    for (unsigned i = 0; i < 20000; i++, lines++)
        fprintf(f, "10.%u.%u.0/24\n", i >> 8 & 255, i & 255);
    fprintf(f, "192.0.2.7");
    lines++;
    fclose(f);

    relaypol_policy *p = NULL;
    relaypol_error err;
    relaypol_status st = relaypol_policy_load_file(path, NULL, &p, &err);
    unlink(path);
    if (st == RELAYPOL_ERR_IO && strstr(err.message, "file I/O"))
        return; /* built with -Dfile_io=false */
    ck_assert_msg(st == RELAYPOL_OK, "%s", err.message);
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("192.0.2.7", &r.client);
    r.recipient = "<a@b.example>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_decide(p, &r, &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    ck_assert_str_eq(d.entry, "192.0.2.7");
    ck_assert_uint_eq(d.entry_line, lines);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(literal_masks_switch)
{
    const char *text = "RelayFlags = 2\n[RelayAllowList]\n"
                       "192.168.1.5;255.255.255.0\n";
    relaypol_policy *p;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string(text, strlen(text), "x",
                                                 NULL, &p, &err),
                     RELAYPOL_ERR_POLICY);
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.flags = RELAYPOL_LOAD_LITERAL_MASKS;
    ck_assert_int_eq(relaypol_policy_load_string(text, strlen(text), "x", &o,
                                                 &p, &err),
                     RELAYPOL_OK);
    /* The literal meaning: (IP AND mask) == net can never hold. */
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("192.168.1.5", &r.client);
    r.recipient = "<a@b.example>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_decide(p, &r, &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    relaypol_policy_free(p);

    p = tu_load("LiteralMasks = yes\nRelayFlags = 2\n[RelayAllowList]\n"
                "192.168.1.5;255.255.255.0\n");
    relaypol_policy_free(p);
}
END_TEST

START_TEST(non_contiguous_mask_matches_by_formula)
{
    relaypol_policy *p = tu_load("RelayFlags = 2\n[RelayAllowList]\n"
                                 "10.0.0.0;255.0.255.0\n");
    static const struct { const char *ip; int relay; } cases[] = {
        {"10.5.0.7", 1}, {"10.200.0.255", 1}, {"10.0.1.0", 0},
        {"11.0.0.0", 0}, {"10.255.0.0", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        relaypol_request r;
        relaypol_request_init(&r);
        relaypol_addr_parse(cases[i].ip, &r.client);
        r.recipient = "<a@b.example>";
        r.recipient_len = strlen(r.recipient);
        relaypol_decision d;
        relaypol_decision_init(&d);
        relaypol_decide(p, &r, &d);
        ck_assert_msg((d.verdict == RELAYPOL_RELAY) == cases[i].relay, "%s",
                      cases[i].ip);
    }
    relaypol_policy_free(p);
}
END_TEST

START_TEST(references_and_memory)
{
    relaypol_policy *p = tu_load("RelayFlags = 2\n[RelayAllowList]\n10.0.0.0/8\n");
    ck_assert_uint_gt(relaypol_policy_memory(p), sizeof(void *));
    ck_assert_ptr_eq(relaypol_policy_ref(p), p);
    relaypol_policy_free(p);
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 2); /* still alive */
    relaypol_policy_free(p);
    relaypol_policy_free(NULL);
}
END_TEST

/* The decision for an authenticated user relaying to a stranger. */
static relaypol_decision auth_decide(const relaypol_policy *p,
                                     const char *user)
{
    relaypol_request rq;
    relaypol_request_init(&rq);
    ck_assert_int_eq(relaypol_addr_parse("198.51.100.7", &rq.client),
                     RELAYPOL_OK);
    rq.recipient = "<x@example.net>";
    rq.recipient_len = strlen(rq.recipient);
    rq.user = user;
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &rq, &d), RELAYPOL_OK);
    return d;
}

static relaypol_verdict auth_verdict(const relaypol_policy *p, const char *user)
{
    return auth_decide(p, user).verdict;
}

/* Thousands of groups (the table that finds them by name grows a few
 * times): every reference resolves to its own group, a second definition
 * is refused naming the first one's line, an undefined one is refused. */
START_TEST(many_groups)
{
    enum { NG = 5000 };
    size_t cap = 128 + (size_t)NG * 40, len = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    len += (size_t)snprintf(t + len, cap - len,
                            "RelayFlags = 8\n"
                            "RelayUsers = @g0, @g2500, @g4999, @G17\n");
    for (int k = 0; k < NG; k++)
        len += (size_t)snprintf(t + len, cap - len, "[Group g%d]\nu%d\n", k,
                                k);
    len += (size_t)snprintf(t + len, cap - len, "[Group G17]\nupper17\n");
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string(t, len, "groups.conf", NULL,
                                                 &p, &err),
                     RELAYPOL_OK);
    ck_assert_int_eq(auth_verdict(p, "u0"), RELAYPOL_RELAY);
    ck_assert_int_eq(auth_verdict(p, "u2500"), RELAYPOL_RELAY);
    ck_assert_int_eq(auth_verdict(p, "u4999"), RELAYPOL_RELAY);
    ck_assert_int_eq(auth_verdict(p, "upper17"), RELAYPOL_RELAY);
    /* Group names are exact: g17 is not G17. */
    ck_assert_int_eq(auth_verdict(p, "u17"), RELAYPOL_DENY);
    ck_assert_int_eq(auth_verdict(p, "u2501"), RELAYPOL_DENY);
    relaypol_policy_free(p);

    /* g3000 again, at the end: line 2 + 2 * 3000 + 1 was its first. */
    size_t dup = len;
    len += (size_t)snprintf(t + len, cap - len, "[Group g3000]\nx\n");
    p = (relaypol_policy *)&p;
    ck_assert_int_eq(relaypol_policy_load_string(t, len, "groups.conf", NULL,
                                                 &p, &err),
                     RELAYPOL_ERR_POLICY);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(err.line, 2u + 2u * NG + 2u + 1u);
    ck_assert_msg(strstr(err.message, "'g3000' is already defined on line 6003"),
                  "%s", err.message);

    /* A reference to a group nobody defined. */
    len = dup;
    memcpy(t + strlen("RelayFlags = 8\nRelayUsers = @g0, @g2500, @g"), "5", 1);
    ck_assert_int_eq(relaypol_policy_load_string(t, len, "groups.conf", NULL,
                                                 &p, &err),
                     RELAYPOL_ERR_POLICY);
    ck_assert_msg(strstr(err.message, "group 'g5999', which is not defined"),
                  "%s", err.message);
    free(t);
}
END_TEST

/* The entry that admitted an authenticated user relaying to a stranger. */
static const char *auth_entry(const relaypol_policy *p, const char *user,
                              uint32_t *line)
{
    relaypol_decision d = auth_decide(p, user);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    *line = d.entry_line;
    return d.entry;
}

/* A group named many times in RelayUsers is expanded once: the policy
 * stays the size of its members, and each account is still admitted by
 * the first token that names it. */
START_TEST(group_named_many_times)
{
    enum { MEMBERS = 2000, REFS = 600 };
    size_t cap = 64 + (size_t)REFS * 4 + (size_t)MEMBERS * 8, len = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    len += (size_t)snprintf(t + len, cap - len, "RelayFlags = 8\nRelayUsers = m7");
    for (int k = 0; k < REFS; k++)
        len += (size_t)snprintf(t + len, cap - len, ",@g");
    len += (size_t)snprintf(t + len, cap - len, "\n[Group g]\n");
    for (int k = 0; k < MEMBERS; k++)
        len += (size_t)snprintf(t + len, cap - len, "m%d\n", k);
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string(t, len, "refs.conf", NULL,
                                                 &p, &err),
                     RELAYPOL_OK);
    /* Six hundred expansions of 2,000 accounts would be 1.2M records. */
    ck_assert_uint_lt(relaypol_policy_memory(p), 256u * 1024u);
    uint32_t line;
    ck_assert_str_eq(auth_entry(p, "m7", &line), "m7");
    ck_assert_uint_eq(line, 2);
    ck_assert_str_eq(auth_entry(p, "m1999", &line), "@g");
    ck_assert_uint_eq(line, 2);
    ck_assert_int_eq(auth_verdict(p, "m2000"), RELAYPOL_DENY);
    relaypol_policy_free(p);
    free(t);
}
END_TEST

START_TEST(invalid_arguments)
{
    relaypol_policy *p;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string("x", 1, NULL, NULL, NULL,
                                                 &err),
                     RELAYPOL_ERR_INVALID);
    relaypol_load_options o = {0};
    ck_assert_int_eq(relaypol_policy_load_string("", 0, NULL, &o, &p, &err),
                     RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_policy_load_string("", 0, NULL, NULL, &p, NULL),
                     RELAYPOL_OK);
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 0);
    relaypol_policy_free(p);
    ck_assert_str_eq(relaypol_strerror(RELAYPOL_ERR_NOMEM), "out of memory");
    ck_assert_str_eq(relaypol_strerror((relaypol_status)99),
                     "unknown status");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("file");
    tcase_add_loop_test(tc, bad_policies_name_line_and_column, 0,
                        (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(tc, nul_byte_and_long_line);
    tcase_add_test(tc, comments_crlf_case_and_blank_lines);
    tcase_add_test(tc, load_file_errors);
    tcase_add_test(tc, load_file_reads_it_all);
    tcase_add_test(tc, literal_masks_switch);
    tcase_add_test(tc, non_contiguous_mask_matches_by_formula);
    tcase_add_test(tc, references_and_memory);
    tcase_add_test(tc, many_groups);
    tcase_add_test(tc, group_named_many_times);
    tcase_add_test(tc, invalid_arguments);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
