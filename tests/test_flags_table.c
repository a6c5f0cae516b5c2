/*
 * The seed's evaluation order, exhaustively: every RelayFlags value 0-15
 * times every combination of the four conditions (client in the deny
 * list, client in the allow list, local address in the local-IP list,
 * client authenticated), plus the four worked examples of KB Q193922.
 */
#include <stdio.h>
#include <string.h>

#include "binding.h"
#include "testutil.h"

/* Clients chosen so each combination of deny/allow membership exists:
 * 10.1.0.0/16 is denied inside the allowed 10.0.0.0/8. */
static const char *const CLIENT[2][2] = {
    /* [in deny][in allow] */
    {"198.51.100.7", "10.9.9.9"},
    {"172.16.5.5", "10.1.2.3"},
};
static const char *const LOCAL[2] = {"192.0.2.26", "192.0.2.25"};

static relaypol_policy *policy_for(unsigned flags)
{
    char text[512];
    snprintf(text, sizeof text,
             "RelayFlags = %u\n"
             "AcceptedDomains = example.com\n"
             "[RelayDenyList]\n"
             "10.1.0.0;255.255.0.0\n"
             "172.16.0.0;255.240.0.0\n"
             "[RelayAllowList]\n"
             "10.0.0.0;255.0.0.0\n"
             "[RelayLocalIPList]\n"
             "192.0.2.25\n",
             flags);
    return tu_load(text);
}

static void decide(const relaypol_policy *p, const char *client,
                   const char *local, const char *user, const char *rcpt,
                   relaypol_decision *d)
{
    relaypol_request r;
    relaypol_request_init(&r);
    ck_assert_int_eq(relaypol_addr_parse(client, &r.client), RELAYPOL_OK);
    if (local)
        ck_assert_int_eq(relaypol_addr_parse(local, &r.local), RELAYPOL_OK);
    r.user = user;
    r.recipient = rcpt;
    r.recipient_len = strlen(rcpt);
    relaypol_decision_init(d);
    ck_assert_int_eq(relaypol_decide(p, &r, d), RELAYPOL_OK);

    /* The deferred path (the Python binding's) must come to the same
     * decision, with the entry missing until resolved, and the same
     * entry after. */
    relaypol_decision e;
    rp_hitref ref = {.pos = 7, .list = 3};
    relaypol_decision_init(&e);
    rp_decide_prefetch(p, &r.client); /* a hint: changes nothing */
    ck_assert_int_eq(rp_decide_deferred(p, &r, &e, &ref), RELAYPOL_OK);
    ck_assert_int_eq(e.verdict, d->verdict);
    ck_assert_int_eq(e.step, d->step);
    ck_assert_int_eq(e.auth, d->auth);
    ck_assert_int_eq(e.route, d->route);
    ck_assert_ptr_eq(e.reply, d->reply);
    bool list_step = d->step == RELAYPOL_STEP_DENY_LIST ||
                     d->step == RELAYPOL_STEP_ALLOW_LIST ||
                     d->step == RELAYPOL_STEP_LOCAL_IP_LIST;
    ck_assert_int_eq(ref.pos >= 0, list_step);
    if (list_step) {
        ck_assert_ptr_null(e.entry);
        ck_assert_uint_eq(e.entry_line, 0);
    }
    rp_hitref_resolve(p, &ref, &e);
    ck_assert_int_eq(ref.pos, -1);
    ck_assert_ptr_eq(e.entry, d->entry);
    ck_assert_uint_eq(e.entry_line, d->entry_line);
    rp_hitref_resolve(p, &ref, &e); /* a second time changes nothing */
    ck_assert_ptr_eq(e.entry, d->entry);
}

/* The seed, read literally, as an independent oracle: first match wins. */
static relaypol_step seed_oracle(unsigned flags, int deny, int allow,
                                 int local, int auth)
{
    if ((flags & 1) && deny)
        return RELAYPOL_STEP_DENY_LIST;
    if ((flags & 2) && allow)
        return RELAYPOL_STEP_ALLOW_LIST;
    if ((flags & 4) && local)
        return RELAYPOL_STEP_LOCAL_IP_LIST;
    if ((flags & 8) && auth)
        return RELAYPOL_STEP_AUTHENTICATED;
    if (flags == 1)
        return RELAYPOL_STEP_ONLY_DENY_BIT;
    return RELAYPOL_STEP_NO_RULE;
}

START_TEST(flags_times_conditions)
{
    unsigned flags = (unsigned)_i >> 4;
    int deny = _i >> 3 & 1, allow = _i >> 2 & 1, local = _i >> 1 & 1,
        auth = _i & 1;
    relaypol_policy *p = policy_for(flags);
    relaypol_decision d;
    decide(p, CLIENT[deny][allow], LOCAL[local], auth ? "alice" : NULL,
           "<victim@example.net>", &d);
    relaypol_step want = seed_oracle(flags, deny, allow, local, auth);
    ck_assert_msg(d.step == want,
                  "flags %u deny %d allow %d local %d auth %d: got %s want %s",
                  flags, deny, allow, local, auth, relaypol_step_name(d.step),
                  relaypol_step_name(want));
    relaypol_verdict wv = (want == RELAYPOL_STEP_DENY_LIST ||
                           want == RELAYPOL_STEP_NO_RULE)
                              ? RELAYPOL_DENY
                              : RELAYPOL_RELAY;
    ck_assert_int_eq(d.verdict, wv);
    if (wv == RELAYPOL_DENY)
        ck_assert_str_eq(d.reply, "550 5.7.1 Relaying denied");
    else
        ck_assert_ptr_nonnull(d.reply);
    /* A list that decided names its entry and line. */
    if (want == RELAYPOL_STEP_DENY_LIST) {
        ck_assert_str_eq(d.entry, deny && allow ? "10.1.0.0;255.255.0.0"
                                                : "172.16.0.0;255.240.0.0");
        ck_assert_uint_eq(d.entry_line, deny && allow ? 4 : 5);
    } else if (want == RELAYPOL_STEP_ALLOW_LIST) {
        ck_assert_str_eq(d.entry, "10.0.0.0;255.0.0.0");
        ck_assert_uint_eq(d.entry_line, 7);
    } else if (want == RELAYPOL_STEP_LOCAL_IP_LIST) {
        ck_assert_str_eq(d.entry, "192.0.2.25");
        ck_assert_uint_eq(d.entry_line, 9);
    } else {
        ck_assert_ptr_null(d.entry);
    }

    /* Mail for an accepted domain is submission whatever the flags. */
    decide(p, CLIENT[deny][allow], LOCAL[local], auth ? "alice" : NULL,
           "<someone@EXAMPLE.com>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ACCEPTED_DOMAIN);

    /* The same client over a dual-stack socket decides the same way. */
    char mapped[64];
    snprintf(mapped, sizeof mapped, "::ffff:%s", CLIENT[deny][allow]);
    decide(p, mapped, LOCAL[local], auth ? "alice" : NULL,
           "<victim@example.net>", &d);
    ck_assert_int_eq(d.step, want);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(unknown_local_address_never_matches_local_list)
{
    relaypol_policy *p = policy_for(4);
    relaypol_decision d;
    decide(p, "198.51.100.7", NULL, NULL, "<v@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(flags_out_of_range_refused)
{
    static const char *bad[] = {"RelayFlags = 16\n", "RelayFlags = -1\n",
                                "RelayFlags = 4294967311\n",
                                "RelayFlags = 0x3\n", "RelayFlags = 03\n",
                                "RelayFlags = \n", "RelayFlags = 3 4\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        relaypol_policy *p = (relaypol_policy *)1;
        relaypol_error err;
        relaypol_status st = relaypol_policy_load_string(
            bad[i], strlen(bad[i]), "flags.conf", NULL, &p, &err);
        ck_assert_msg(st == RELAYPOL_ERR_POLICY, "%s accepted", bad[i]);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(err.line, 1);
        ck_assert_str_eq(err.source, "flags.conf");
    }
}
END_TEST

START_TEST(named_flag_bits)
{
    relaypol_policy *p = tu_load("RelayFlags = deny + allow + auth\n");
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 11);
    relaypol_policy_free(p);
    p = tu_load("RelayFlags = local-ip, deny\n");
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 5);
    relaypol_policy_free(p);
}
END_TEST

/* ---- the seed's four worked examples ---- */

START_TEST(example_all_not_denied_can_relay)
{
    relaypol_policy *p = tu_load("RelayFlags = 1\n[RelayDenyList]\n"
                                 "192.168.17.0;255.255.255.0\n");
    relaypol_decision d;
    decide(p, "192.168.17.9", NULL, NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
    decide(p, "192.168.18.9", NULL, NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ONLY_DENY_BIT);
    decide(p, "2001:db8::1", NULL, NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(example_all_not_allowed_are_denied)
{
    relaypol_policy *p = tu_load("RelayFlags = 2\n[RelayAllowList]\n"
                                 "192.168.1.0;255.255.255.0\n");
    relaypol_decision d;
    decide(p, "192.168.1.200", NULL, NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    decide(p, "192.168.2.1", NULL, NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(example_subnet_except_subset)
{
    relaypol_policy *p = tu_load("RelayFlags = 3\n"
                                 "[RelayAllowList]\n"
                                 "192.168.1.0;255.255.255.0\n"
                                 "[RelayDenyList]\n"
                                 "192.168.1.0;255.255.255.248\n");
    relaypol_decision d;
    for (int host = 0; host < 256; host++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.168.1.%d", host);
        decide(p, ip, NULL, NULL, "<x@example.net>", &d);
        if (host < 8) {
            ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
            ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
            ck_assert_uint_eq(d.entry_line, 5);
        } else {
            ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
            ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
        }
    }
    relaypol_policy_free(p);
}
END_TEST

START_TEST(example_selected_interfaces_and_auth)
{
    relaypol_policy *p = tu_load("RelayFlags = 12\n"
                                 "[RelayLocalIPList]\n10.0.0.25\n");
    relaypol_decision d;
    decide(p, "203.0.113.5", "10.0.0.25", NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_LOCAL_IP_LIST);
    decide(p, "203.0.113.5", "198.51.100.1", NULL, "<x@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    decide(p, "203.0.113.5", "198.51.100.1", "bob", "<x@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_AUTHENTICATED);
    ck_assert_int_eq(d.auth, RELAYPOL_AUTH_USED);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(issue_example_verbatim)
{
    relaypol_policy *p = tu_load("RelayFlags = 11\n"
                                 "AcceptedDomains = example.com, *.example.org\n"
                                 "\n"
                                 "[RelayDenyList]\n"
                                 "192.168.1.0;255.255.255.248\n"
                                 "\n"
                                 "[RelayAllowList]\n"
                                 "192.168.1.0;255.255.255.0\n"
                                 "2001:db8::/32\n"
                                 "\n"
                                 "[RelayLocalIPList]\n"
                                 "10.0.0.25\n");
    relaypol_decision d;
    decide(p, "192.168.1.3", "10.0.0.25", NULL, "<a@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_DENY_LIST);
    decide(p, "192.168.1.30", NULL, NULL, "<a@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
    decide(p, "2001:db8:5::7", NULL, NULL, "<a@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_ALLOW_LIST);
    ck_assert_str_eq(d.entry, "2001:db8::/32");
    /* Bit 3 (value 4) is not in 11: the local-IP list is ignored. */
    decide(p, "203.0.113.1", "10.0.0.25", NULL, "<a@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
    decide(p, "203.0.113.1", NULL, "carol", "<a@example.net>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_AUTHENTICATED);
    decide(p, "203.0.113.1", NULL, NULL, "<a@mail.example.org>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    decide(p, "203.0.113.1", NULL, NULL, "<a@example.org>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    relaypol_policy_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flags_table");
    TCase *tc = tcase_create("seed");
    tcase_add_loop_test(tc, flags_times_conditions, 0, 16 * 16);
    tcase_add_test(tc, unknown_local_address_never_matches_local_list);
    tcase_add_test(tc, flags_out_of_range_refused);
    tcase_add_test(tc, named_flag_bits);
    tcase_add_test(tc, example_all_not_denied_can_relay);
    tcase_add_test(tc, example_all_not_allowed_are_denied);
    tcase_add_test(tc, example_subnet_except_subset);
    tcase_add_test(tc, example_selected_interfaces_and_auth);
    tcase_add_test(tc, issue_example_verbatim);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
