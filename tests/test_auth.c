/*
 * Authenticated relay and server roles (seed 003): for each role and each
 * kind of client — an anonymous Internet host, a listed device (the
 * seed's router sending status mail), an authenticated user with and
 * without TLS — the verdict the seed's Figure 5 implies, for an internal
 * and an external recipient.  Then the overrides: relay permission by
 * user and group, TLS, and the Exchange 2003 wording.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { ANON, DEVICE, USER_TLS, USER_PLAIN, N_KINDS };
static const char *const KIND_NAME[] = {"anonymous", "device", "user+tls",
                                        "user"};

typedef struct expect {
    relaypol_verdict v;
    relaypol_step s;
} expect;

#define LOCAL_OK {RELAYPOL_LOCAL, RELAYPOL_STEP_ACCEPTED_DOMAIN}
#define SUBMIT_NO {RELAYPOL_DENY, RELAYPOL_STEP_SUBMISSION}
#define NO_RULE {RELAYPOL_DENY, RELAYPOL_STEP_NO_RULE}
#define ALLOWED {RELAYPOL_RELAY, RELAYPOL_STEP_ALLOW_LIST}

static const struct role_case {
    const char *role;
    expect internal[N_KINDS], external[N_KINDS];
} ROLES[] = {
    /* Gateway: anonymous Internet mail comes in; only the listed devices
     * relay; authenticated users do not (the ACL is emptied). */
    {"gateway",
     {LOCAL_OK, LOCAL_OK, LOCAL_OK, LOCAL_OK},
     {NO_RULE, ALLOWED, NO_RULE, NO_RULE}},
    /* Mailbox server: no SMTP submissions except from the listed hosts. */
    {"mailbox",
     {SUBMIT_NO, LOCAL_OK, SUBMIT_NO, SUBMIT_NO},
     {NO_RULE, ALLOWED, NO_RULE, NO_RULE}},
    /* Front-end that does not route SMTP: nothing submitted over SMTP. */
    {"frontend",
     {SUBMIT_NO, SUBMIT_NO, SUBMIT_NO, SUBMIT_NO},
     {NO_RULE, ALLOWED, NO_RULE, NO_RULE}},
    /* All-in-one: takes Internet mail like a gateway. */
    {"all-in-one",
     {LOCAL_OK, LOCAL_OK, LOCAL_OK, LOCAL_OK},
     {NO_RULE, ALLOWED, NO_RULE, NO_RULE}},
};

static void decide(const relaypol_policy *p, const char *client,
                   const char *user, int tls, const char *rcpt,
                   relaypol_decision *d)
{
    relaypol_request r;
    relaypol_request_init(&r);
    ck_assert_int_eq(relaypol_addr_parse(client, &r.client), RELAYPOL_OK);
    r.user = user;
    r.flags = tls ? RELAYPOL_REQ_TLS : 0;
    r.recipient = rcpt;
    r.recipient_len = strlen(rcpt);
    relaypol_decision_init(d);
    ck_assert_int_eq(relaypol_decide(p, &r, d), RELAYPOL_OK);
}

static void decide_kind(const relaypol_policy *p, int kind, const char *rcpt,
                        relaypol_decision *d)
{
    static const char *const client[] = {"203.0.113.9", "192.168.1.50",
                                         "198.51.100.20", "198.51.100.20"};
    decide(p, client[kind], kind >= USER_TLS ? "alice" : NULL,
           kind == USER_TLS, rcpt, d);
}

START_TEST(role_by_client_kind)
{
    const struct role_case *rc = &ROLES[_i];
    char text[512];
    snprintf(text, sizeof text,
             "Role = %s\n"
             "AcceptedDomains = example.com\n"
             "[RelayAllowList]\n192.168.1.50\n"
             "[SubmitAllowList]\n192.168.1.50\n",
             rc->role);
    relaypol_policy *p = tu_load(text);
    ck_assert_uint_eq(relaypol_policy_relay_flags(p), 2);
    for (int k = 0; k < N_KINDS; k++) {
        relaypol_decision d;
        decide_kind(p, k, "<boss@example.com>", &d);
        ck_assert_msg(d.verdict == rc->internal[k].v &&
                          d.step == rc->internal[k].s,
                      "%s/%s internal: %s %s", rc->role, KIND_NAME[k],
                      relaypol_verdict_name(d.verdict),
                      relaypol_step_name(d.step));
        decide_kind(p, k, "<friend@example.net>", &d);
        ck_assert_msg(d.verdict == rc->external[k].v &&
                          d.step == rc->external[k].s,
                      "%s/%s external: %s %s", rc->role, KIND_NAME[k],
                      relaypol_verdict_name(d.verdict),
                      relaypol_step_name(d.step));
        if (k >= USER_TLS)
            /* Roles turn "all who authenticate may relay" off. */
            ck_assert_int_eq(d.auth, RELAYPOL_AUTH_NOT_ENABLED);
    }
    relaypol_policy_free(p);
}
END_TEST

static int find_role_note(void *ud, const relaypol_finding *f)
{
    if (strcmp(f->code, "role") == 0 && f->severity == RELAYPOL_NOTE) {
        snprintf(ud, 512, "%s", f->message);
        return 1;
    }
    return 0;
}

START_TEST(lint_shows_role_expansion)
{
    relaypol_policy *p = tu_load("Role = mailbox\nAuthRequiresTLS = no\n");
    char msg[512] = "";
    ck_assert_int_eq(relaypol_policy_lint(p, find_role_note, msg),
                     RELAYPOL_OK);
    ck_assert_msg(strstr(msg, "RelayFlags = 2") &&
                      strstr(msg, "Submission = restricted") &&
                      strstr(msg, "AuthRequiresTLS = no (set explicitly)") &&
                      strstr(msg, "RelayUsers = (nobody)"),
                  "%s", msg);
    relaypol_policy_free(p);
}
END_TEST

static const char GROUPS[] = "Role = gateway\n"
                             "RelayFlags = allow + auth\n"
                             "RelayUsers = @remote, dave, @night, @empty\n"
                             "AcceptedDomains = example.com\n"
                             "Submission = restricted\n"
                             "[Group remote]\nalice\ncarol, Erin\n"
                             "[Group night]\nalice\nfrank\n"
                             "[Group empty]\n";

START_TEST(relay_users_and_groups)
{
    relaypol_policy *p = tu_load(GROUPS);
    relaypol_decision d;
    static const struct {
        const char *user;
        int tls;
        relaypol_verdict v;
        relaypol_auth auth;
        const char *entry;
    } cases[] = {
        {"alice", 1, RELAYPOL_RELAY, RELAYPOL_AUTH_USED, "@remote"},
        {"carol", 1, RELAYPOL_RELAY, RELAYPOL_AUTH_USED, "@remote"},
        {"Erin", 1, RELAYPOL_RELAY, RELAYPOL_AUTH_USED, "@remote"},
        {"erin", 1, RELAYPOL_DENY, RELAYPOL_AUTH_NOT_LISTED, NULL},
        {"dave", 1, RELAYPOL_RELAY, RELAYPOL_AUTH_USED, "dave"},
        {"frank", 1, RELAYPOL_RELAY, RELAYPOL_AUTH_USED, "@night"},
        {"bob", 1, RELAYPOL_DENY, RELAYPOL_AUTH_NOT_LISTED, NULL},
        {"alice ", 1, RELAYPOL_DENY, RELAYPOL_AUTH_NOT_LISTED, NULL},
        {"", 1, RELAYPOL_DENY, RELAYPOL_AUTH_NOT_LISTED, NULL},
        {"alice", 0, RELAYPOL_DENY, RELAYPOL_AUTH_NO_TLS, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        decide(p, "198.51.100.20", cases[i].user, cases[i].tls,
               "<x@example.net>", &d);
        ck_assert_msg(d.verdict == cases[i].v && d.auth == cases[i].auth,
                      "user '%s' tls %d: %s auth %s", cases[i].user,
                      cases[i].tls, relaypol_verdict_name(d.verdict),
                      relaypol_auth_name(d.auth));
        if (cases[i].entry) {
            ck_assert_str_eq(d.entry, cases[i].entry);
            ck_assert_uint_eq(d.entry_line, 3);
            ck_assert_int_eq(d.step, RELAYPOL_STEP_AUTHENTICATED);
        } else {
            ck_assert_int_eq(d.step, RELAYPOL_STEP_NO_RULE);
        }
    }
    decide(p, "198.51.100.20", "alice", 0, "<x@example.net>", &d);
    ck_assert_ptr_nonnull(strstr(d.reply, "TLS"));
    decide(p, "198.51.100.20", "bob", 1, "<x@example.net>", &d);
    ck_assert_ptr_nonnull(strstr(d.reply, "account"));

    /* Restricted submission: permitted accounts may submit, others not. */
    decide(p, "198.51.100.20", "alice", 1, "<boss@example.com>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_LOCAL);
    decide(p, "198.51.100.20", "bob", 1, "<boss@example.com>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_SUBMISSION);
    decide(p, "198.51.100.20", NULL, 0, "<boss@example.com>", &d);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_SUBMISSION);

    /* A very long name is simply not a listed account. */
    char *longname = malloc(100000);
    memset(longname, 'a', 99999);
    longname[99999] = '\0';
    decide(p, "198.51.100.20", longname, 1, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    ck_assert_int_eq(d.auth, RELAYPOL_AUTH_NOT_LISTED);
    char line[512];
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("198.51.100.20", &r.client);
    r.user = longname;
    r.recipient = "<x@example.net>";
    r.recipient_len = 15;
    /* The log line stays bounded: a user name is cut at 255 bytes. */
    size_t need = relaypol_explain(&d, &r, line, sizeof line);
    ck_assert_uint_lt(need, sizeof line);
    ck_assert_uint_eq(strlen(line), need);
    ck_assert_ptr_nonnull(strstr(line, "user=\"aaaa"));
    free(longname);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(seed_fidelity_without_hardening)
{
    /* Bit 4 alone, nothing else: exactly the seed — any authenticated
     * client relays, with or without TLS. */
    relaypol_policy *p = tu_load("RelayFlags = 8\n");
    relaypol_decision d;
    decide(p, "203.0.113.9", "anyone", 0, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_RELAY);
    ck_assert_int_eq(d.step, RELAYPOL_STEP_AUTHENTICATED);
    ck_assert_ptr_null(d.entry);
    decide(p, "203.0.113.9", NULL, 0, "<x@example.net>", &d);
    ck_assert_int_eq(d.verdict, RELAYPOL_DENY);
    relaypol_policy_free(p);

    /* An empty RelayUsers is Exchange 2003's emptied ACL: nobody. */
    p = tu_load("RelayFlags = 8\nRelayUsers =\n");
    decide(p, "203.0.113.9", "anyone", 1, "<x@example.net>", &d);
    ck_assert_int_eq(d.auth, RELAYPOL_AUTH_NOT_LISTED);
    relaypol_policy_free(p);
}
END_TEST

START_TEST(exchange_2003_wording)
{
    static const struct {
        const char *text;
        unsigned flags;
    } cases[] = {
        {"RelayComputers = only-list\n", 2},
        {"RelayComputers = only-list\nAuthenticatedRelay = yes\n", 10},
        {"RelayComputers = all-except-list\n", 1},
        {"AuthenticatedRelay = yes\n", 8},
        {"AuthenticatedRelay = no\n", 0},
        {"Role = gateway\nRelayComputers = all-except-list\n", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        relaypol_policy *p = tu_load(cases[i].text);
        ck_assert_msg(relaypol_policy_relay_flags(p) == cases[i].flags,
                      "%s -> %u", cases[i].text,
                      relaypol_policy_relay_flags(p));
        relaypol_policy_free(p);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("roles");
    tcase_add_loop_test(tc, role_by_client_kind, 0,
                        (int)(sizeof ROLES / sizeof ROLES[0]));
    tcase_add_test(tc, lint_shows_role_expansion);
    tcase_add_test(tc, relay_users_and_groups);
    tcase_add_test(tc, seed_fidelity_without_hardening);
    tcase_add_test(tc, exchange_2003_wording);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
