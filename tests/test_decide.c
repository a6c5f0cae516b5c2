/*
 * The decision's contract beyond the flags table: arguments, address
 * literals, the explanation line, and that deciding never allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static size_t g_allocs;

static void *counting(void *ud, void *ptr, size_t old, size_t n)
{
    (void)ud;
    (void)old;
    if (n == 0) {
        free(ptr);
        return NULL;
    }
    g_allocs++;
    return realloc(ptr, n);
}

static const char POLICY[] = "RelayFlags = 3\n"
                             "AcceptedDomains = example.com\n"
                             "ServerAddresses = 192.0.2.25, 2001:db8::25\n"
                             "[RelayDenyList]\n"
                             "2001:db8:bad::/48\n"
                             "[RelayAllowList]\n"
                             "2001:db8::/32\n"
                             "10.0.0.0/8\n";

static relaypol_decision run(const relaypol_policy *p, const char *client,
                             const char *local, const char *rcpt,
                             uint32_t flags)
{
    relaypol_request r;
    relaypol_request_init(&r);
    ck_assert_int_eq(relaypol_addr_parse(client, &r.client), RELAYPOL_OK);
    if (local)
        ck_assert_int_eq(relaypol_addr_parse(local, &r.local), RELAYPOL_OK);
    r.recipient = rcpt;
    r.recipient_len = strlen(rcpt);
    r.flags = flags;
    relaypol_decision d;
    relaypol_decision_init(&d);
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    return d;
}

START_TEST(ipv6_clients_and_most_specific_entry)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_decision d = run(p, "2001:db8:bad::1", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
    ck_assert_str_eq(d.entry, "2001:db8:bad::/48");
    d = run(p, "2001:db8:1::1", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
    d = run(p, "[2001:db8:1::1]", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
    /* ::ffff:10.1.2.3 is 10.1.2.3; ::10.1.2.3 (IPv4-compatible) and
     * 64:ff9b::10.1.2.3 (NAT64) are other addresses and not folded. */
    d = run(p, "::ffff:10.1.2.3", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
    ck_assert_int_eq(d.client.family, RELAYPOL_AF_INET);
    d = run(p, "::10.1.2.3", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    d = run(p, "64:ff9b::10.1.2.3", NULL, "<a@b.example>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    relaypol_policy_free(p);
}
END_TEST

/* ServerAddresses as a provider might list them: thousands, IPv4 and
 * IPv6 mixed, some twice.  Every one of them is this server, its
 * neighbours are not, whatever the order in the file. */
START_TEST(many_server_addresses)
{
    enum { N = 3000 };
    size_t cap = 64 + (size_t)N * 2 * 40, len = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    len += (size_t)snprintf(t + len, cap - len, "RelayFlags = 2\n");
    /* Descending, so that the file's order is not the sorted one. */
    for (int k = N - 1; k >= 0; k -= 50) {
        len += (size_t)snprintf(t + len, cap - len, "ServerAddresses = ");
        for (int j = k; j > k - 50 && j >= 0; j--)
            len += (size_t)snprintf(t + len, cap - len,
                                    "%s198.51.%d.%d, 2001:db8::%x:%x",
                                    j == k ? "" : ", ", j / 200 * 2, j % 200,
                                    j, j % 7);
        len += (size_t)snprintf(t + len, cap - len,
                                ", 198.51.0.0\n"); /* a repeat */
    }
    relaypol_policy *p = NULL;
    relaypol_error err;
    ck_assert_msg(relaypol_policy_load_string(t, len, "srv.conf", NULL, &p,
                                              &err) == RELAYPOL_OK,
                  "%s", err.message);
    char rcpt[96];
    for (int j = 0; j < N; j += 37) {
        snprintf(rcpt, sizeof rcpt, "<pm@[198.51.%d.%d]>", j / 200 * 2,
                 j % 200);
        ck_assert_int_eq(run(p, "203.0.113.5", NULL, rcpt, 0).step,
                         RELAYPOL_STEP_LOCAL_LITERAL);
        snprintf(rcpt, sizeof rcpt, "<pm@[IPv6:2001:db8::%x:%x]>", j, j % 7);
        ck_assert_int_eq(run(p, "203.0.113.5", NULL, rcpt, 0).step,
                         RELAYPOL_STEP_LOCAL_LITERAL);
        /* The next address up is in none of the lists' patterns. */
        snprintf(rcpt, sizeof rcpt, "<pm@[IPv6:2001:db8::%x:%x]>", j,
                 j % 7 + 7);
        ck_assert_int_eq(run(p, "203.0.113.5", NULL, rcpt, 0).step,
                         RELAYPOL_STEP_NO_RULE);
        snprintf(rcpt, sizeof rcpt, "<pm@[198.51.%d.%d]>", j / 200 * 2 + 1,
                 j % 200);
        ck_assert_int_eq(run(p, "203.0.113.5", NULL, rcpt, 0).step,
                         RELAYPOL_STEP_NO_RULE);
    }
    /* Both ends of the sorted order, and IPv4 written as mapped IPv6. */
    ck_assert_int_eq(run(p, "203.0.113.5", NULL, "<pm@[198.51.0.0]>", 0).step,
                     RELAYPOL_STEP_LOCAL_LITERAL);
    ck_assert_int_eq(
        run(p, "203.0.113.5", NULL, "<pm@[IPv6:2001:db8::bb7:3]>", 0).step,
        RELAYPOL_STEP_LOCAL_LITERAL);
    ck_assert_int_eq(
        run(p, "203.0.113.5", NULL, "<pm@[IPv6:::ffff:198.51.28.199]>", 0)
            .step,
        RELAYPOL_STEP_LOCAL_LITERAL);
    ck_assert_int_eq(run(p, "203.0.113.5", NULL, "<pm@[198.51.30.0]>", 0).step,
                     RELAYPOL_STEP_NO_RULE);
    relaypol_policy_free(p);
    free(t);
}
END_TEST

START_TEST(address_literals)
{
    relaypol_policy *p = tu_load(POLICY);
    /* A literal naming this server (listed, or the address the client
     * reached) is local; any other literal is a relay attempt. */
    relaypol_decision d =
        run(p, "203.0.113.9", NULL, "<postmaster@[192.0.2.25]>", 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_LOCAL_LITERAL);
    d = run(p, "203.0.113.9", NULL, "<a@[IPv6:2001:db8::25]>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_LOCAL_LITERAL);
    d = run(p, "203.0.113.9", "198.51.100.1", "<a@[198.51.100.1]>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_LOCAL_LITERAL);
    d = run(p, "203.0.113.9", NULL, "<a@[IPv6:::ffff:192.0.2.25]>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_LOCAL_LITERAL);
    d = run(p, "203.0.113.9", NULL, "<a@[198.51.100.1]>", 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_uint_eq(d.route, RELAYPOL_ROUTE_LITERAL);
    ck_assert_ptr_nonnull(strstr(d.reply, "literal"));
    d = run(p, "10.0.0.1", NULL, "<a@[198.51.100.1]>", 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    d = run(p, "203.0.113.9", NULL, "<a@[300.1.1.1]>", 0);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_BAD_RECIPIENT);
    ck_assert_str_eq(d.reply, "501 5.1.3 Bad recipient address syntax");
    /* A routed recipient behind our own literal is still routed. */
    d = run(p, "203.0.113.9", NULL, "<a%b.example@[192.0.2.25]>", 0);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(internal_form_for_postfix)
{
    relaypol_policy *p = tu_load(POLICY);
    /* Postfix strips quotes: "a@b.example"@example.com arrives as
     * a@b.example@example.com, which must still count as routed. */
    relaypol_decision d = run(p, "203.0.113.9", NULL,
                              "a@b.example@example.com",
                              RELAYPOL_REQ_RCPT_INTERNAL);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert(d.route & RELAYPOL_ROUTE_EXTRA_AT);
    d = run(p, "203.0.113.9", NULL, "someone@EXAMPLE.COM.",
            RELAYPOL_REQ_RCPT_INTERNAL);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(explanation_line)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("::ffff:203.0.113.9", &r.client);
    relaypol_addr_parse("192.0.2.25", &r.local);
    r.client_name = "spam.example\r\nforged: yes";
    r.user = "mallory";
    r.recipient = "<victim%x.example@example.com>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_decide(p, &r, &d);
    char line[512];
    size_t n = relaypol_explain(&d, &r, line, sizeof line);
    ck_assert_uint_eq(n, strlen(line));
    ck_assert_str_eq(line,
                     "deny step=no-rule client=203.0.113.9 local=192.0.2.25 "
                     "name=\"spam.example\\x0d\\x0aforged: yes\" "
                     "user=\"mallory\" "
                     "rcpt=\"<victim%x.example@example.com>\" "
                     "route=percent auth=not-enabled");
    /* Truncation: NUL-terminated, and the needed size reported. */
    char small[16];
    ck_assert_uint_eq(relaypol_explain(&d, &r, small, sizeof small), n);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(invalid_requests)
{
    relaypol_policy *p = tu_load(POLICY);
    relaypol_request r;
    relaypol_decision d;
    relaypol_request_init(&r);
    relaypol_decision_init(&d);
    r.recipient = "<a@b.example>";
    r.recipient_len = 13;
    /* No client address. */
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_ERR_INVALID);
    relaypol_addr_parse("10.0.0.1", &r.client);
    ck_assert_int_eq(relaypol_decide(NULL, &r, &d), RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_decide(p, NULL, &d), RELAYPOL_ERR_INVALID);
    ck_assert_int_eq(relaypol_decide(p, &r, NULL), RELAYPOL_ERR_INVALID);
    r.size = 8;
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_ERR_INVALID);
    r.size = sizeof r;
    r.local.family = 5;
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_ERR_INVALID);
    r.local.family = RELAYPOL_AF_NONE;
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    /* An empty recipient is a malformed one, not an error. */
    r.recipient_len = 0;
    ck_assert_int_eq(relaypol_decide(p, &r, &d), RELAYPOL_OK);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_BAD_RECIPIENT);
    ck_assert_int_eq(d.rcpt_error, RELAYPOL_RCPT_EMPTY);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(deciding_never_allocates)
{
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = counting;
    relaypol_policy *p;
    relaypol_error err;
    ck_assert_int_eq(relaypol_policy_load_string(POLICY, strlen(POLICY), "x",
                                                 &o, &p, &err),
                     RELAYPOL_OK);
    size_t before = g_allocs;
    static const char *rcpts[] = {"<a@example.com>", "<a@b.example>",
                                  "<a%b@example.com>", "<postmaster>",
                                  "<a@[192.0.2.25]>", "junk<"};
    static const char *clients[] = {"10.0.0.1", "2001:db8:bad::1",
                                    "::ffff:10.0.0.1", "203.0.113.1"};
    for (int i = 0; i < 1000; i++) {
        relaypol_decision d = run(p, clients[i % 4], "192.0.2.25",
                                  rcpts[i % 6], 0);
        char line[256];
        relaypol_request r;
        relaypol_request_init(&r);
        r.client = d.client;
        relaypol_explain(&d, &r, line, sizeof line);
    }
    ck_assert_uint_eq(g_allocs, before);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(names_are_total)
{
    ck_assert_str_eq(relaypol_verdict_name(RELAYPOL_LOCAL), "local");
    ck_assert_str_eq(relaypol_verdict_name((relaypol_verdict)0), "unknown");
    ck_assert_str_eq(relaypol_step_name(RELAYPOL_STEP_ONLY_DENY_BIT),
                     "only-deny-bit");
    ck_assert_str_eq(relaypol_step_name((relaypol_step)99), "unknown");
    for (int e = 0; e <= RELAYPOL_RCPT_EXTRA_AT; e++)
        ck_assert_str_ne(relaypol_rcpt_error_name((relaypol_rcpt_error)e),
                         "unknown");
    ck_assert_str_eq(relaypol_auth_name(RELAYPOL_AUTH_NO_TLS), "no-tls");
    ck_assert_str_eq(relaypol_route_name(RELAYPOL_ROUTE_SOURCE),
                     "source-route");
    ck_assert_str_eq(relaypol_route_name(RELAYPOL_ROUTE_LITERAL), "literal");
    ck_assert_str_eq(relaypol_route_name(RELAYPOL_ROUTE_PERCENT |
                                         RELAYPOL_ROUTE_BANG),
                     "unknown");
    ck_assert_str_eq(relaypol_route_name(0), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decide");
    TCase *tc = tcase_create("decide");
    tcase_add_test(tc, ipv6_clients_and_most_specific_entry);
    tcase_add_test(tc, address_literals);
    tcase_add_test(tc, many_server_addresses);
    tcase_add_test(tc, internal_form_for_postfix);
    tcase_add_test(tc, explanation_line);
    tcase_add_test(tc, invalid_requests);
    tcase_add_test(tc, deciding_never_allocates);
    tcase_add_test(tc, names_are_total);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
