/*
 * relaypol-milter: relaypol for Sendmail and Postfix through libmilter.
 *
 * The MTA hands every RCPT TO to the milter; the milter decides it with
 * relaypol from
 *   - the client address: the connect callback's hostaddr (Postfix does
 *     not send {client_addr} by default; hostaddr is always there);
 *   - the local address: {if_addr} (Sendmail) or {daemon_addr} (Postfix
 *     3.2+, which has no {if_addr}), captured at connect;
 *   - the authenticated user: {auth_authen}, read at RCPT;
 *   - TLS: {tls_version} present and non-empty;
 *   - the recipient: the envrcpt callback's raw argument, not the
 *     resolved {rcpt_addr}: "a%b@c" must reach relaypol as written.
 * and refuses with the decision's own reply (smfi_setreply: code,
 * enhanced code, text).
 *
 * libmilter runs callbacks in one thread per MTA connection.  The policy
 * is loaded once and only read afterwards, which is what relaypol allows
 * from any number of threads.
 *
 * An MTA passes a milter only the recipients it accepted itself, so the
 * MTA's own relay check must let everything through and leave the
 * decision to this milter — and fail closed when the milter is away.
 * README.md shows that Postfix configuration.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <relaypol/relaypol.h>

/* The policy, loaded before smfi_main() and freed after it returns. */
static relaypol_policy *g_policy;

/* What the connect callback learnt, kept for each RCPT. */
typedef struct session {
    unsigned long id;
    bool have_client;
    relaypol_addr client;
    relaypol_addr local; /* AF_NONE when the MTA did not say */
    char client_name[256]; /* verified name from the MTA, or "" */
} session;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* One call per line: stdio locks the stream, so lines from different
     * connection threads do not interleave. */
    fprintf(stderr, "relaypol-milter: %s\n", buf);
}

static char *macro(SMFICTX *ctx, const char *name)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", name); /* the API takes a char * */
    char *v = smfi_getsymval(ctx, buf);
    return v && *v ? v : NULL;
}

/* Parses an MTA's address text: "192.0.2.1", "2001:db8::1", and
 * Sendmail's "IPv6:2001:db8::1" or "[...]" forms. */
static bool parse_mta_addr(const char *s, relaypol_addr *out)
{
    char buf[RELAYPOL_ADDR_STRLEN + 8];
    if (strncasecmp(s, "IPv6:", 5) == 0)
        s += 5;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return relaypol_addr_parse(buf, out) == RELAYPOL_OK;
}

/* A wildcard listener (0.0.0.0, ::) says nothing about the interface. */
static bool is_unspecified(const relaypol_addr *a)
{
    size_t n = a->family == RELAYPOL_AF_INET ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        if (a->bytes[i])
            return false;
    return true;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    static unsigned long next_id;
    session *s = calloc(1, sizeof *s);
    if (!s) {
        logmsg("out of memory");
        return SMFIS_TEMPFAIL;
    }
    s->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    if (hostaddr &&
        relaypol_addr_from_sockaddr(hostaddr, &s->client) == RELAYPOL_OK) {
        s->have_client = true;
    } else {
        const char *ca = macro(ctx, "{client_addr}");
        s->have_client = ca && parse_mta_addr(ca, &s->client);
    }
    const char *la = macro(ctx, "{if_addr}");
    if (!la)
        la = macro(ctx, "{daemon_addr}");
    if (!la || !parse_mta_addr(la, &s->local) || is_unspecified(&s->local))
        s->local.family = RELAYPOL_AF_NONE;
    /* Postfix passes "unknown" or "[addr]" when it has no verified name. */
    if (hostname && hostname[0] != '[' && strcmp(hostname, "unknown") != 0)
        snprintf(s->client_name, sizeof s->client_name, "%s", hostname);
    smfi_setpriv(ctx, s);

    char ct[RELAYPOL_ADDR_STRLEN] = "unknown", lt[RELAYPOL_ADDR_STRLEN] = "unknown";
    if (s->have_client)
        relaypol_addr_format(&s->client, ct, sizeof ct);
    if (s->local.family != RELAYPOL_AF_NONE)
        relaypol_addr_format(&s->local, lt, sizeof lt);
    logmsg("[%lu] connect from %s to %s", s->id, ct, lt);
    return SMFIS_CONTINUE;
}

/* Sends "550 5.7.1 Relaying denied" as code "550", enhanced code "5.7.1"
 * and text.  A reply without an enhanced code goes without one. */
static sfsistat refuse(SMFICTX *ctx, const char *reply)
{
    char code[4], xcode[16] = "", text[512];
    const char *p = reply;
    if (strlen(p) < 4 || (p[0] != '4' && p[0] != '5') || p[3] != ' ')
        p = "550 5.7.1 Relaying denied";
    memcpy(code, p, 3);
    code[3] = '\0';
    p += 4;
    size_t xl = strspn(p, "0123456789.");
    if (xl > 0 && xl < sizeof xcode && p[0] == code[0] && p[xl] == ' ') {
        memcpy(xcode, p, xl);
        xcode[xl] = '\0';
        p += xl + 1;
    }
    /* Sendmail treats '%' in the text as a format character; relaypol's
     * replies have none, but a future one must not break the reply. */
    size_t o = 0;
    for (; *p && o + 2 < sizeof text; p++) {
        if (*p == '%')
            text[o++] = '%';
        text[o++] = *p;
    }
    text[o] = '\0';
    if (smfi_setreply(ctx, code, xcode[0] ? xcode : NULL, text) != MI_SUCCESS)
        logmsg("smfi_setreply(%s, %s, %s) failed", code, xcode, text);
    return code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    session *s = smfi_getpriv(ctx);
    if (!s || !s->have_client || !argv || !argv[0]) {
        /* Deciding without the client would be guessing: defer. */
        logmsg("RCPT without a known client address: deferred");
        return refuse(ctx, "451 4.3.0 relaypol: client address unknown");
    }

    relaypol_request req;
    relaypol_request_init(&req);
    req.client = s->client;
    req.local = s->local;
    req.recipient = argv[0]; /* raw, e.g. "<a%b@c>" */
    req.recipient_len = strlen(argv[0]);
    req.user = macro(ctx, "{auth_authen}");
    req.client_name = s->client_name[0] ? s->client_name : NULL;
    if (macro(ctx, "{tls_version}"))
        req.flags |= RELAYPOL_REQ_TLS;

    relaypol_decision d;
    relaypol_decision_init(&d);
    if (relaypol_decide(g_policy, &req, &d) != RELAYPOL_OK) {
        logmsg("[%lu] relaypol_decide failed", s->id);
        return refuse(ctx, "451 4.3.0 relaypol: local error");
    }
    char why[1024];
    relaypol_explain(&d, &req, why, sizeof why);
    logmsg("[%lu] %s", s->id, why);
    return d.verdict == RELAYPOL_DENY ? refuse(ctx, d.reply) : SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    session *s = smfi_getpriv(ctx);
    if (s) {
        logmsg("[%lu] close", s->id);
        free(s);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

/* Asks the MTA to skip the stages this milter has no use for, so that
 * it does not wait on the milter for every header and body chunk.  HELO
 * and MAIL stay: their macros ({tls_version}, {auth_authen}) travel with
 * them, and Postfix sends no macros for a stage the milter skips. */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3,
                             unsigned long *pf0, unsigned long *pf1,
                             unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx;
    (void)f0;
    (void)f2;
    (void)f3;
    const unsigned long skip = SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH |
                               SMFIP_NOUNKNOWN | SMFIP_NODATA;
    *pf0 = 0; /* no actions: the milter never changes a message */
    *pf1 = f1 & skip;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static void usage(FILE *f)
{
    fputs("usage: relaypol-milter -f POLICY [-s SOCKET] [-t SECONDS] [-T]\n"
          "\n"
          "A milter that decides every RCPT TO with relaypol and refuses\n"
          "with the decision's reply.\n"
          "\n"
          "  -f POLICY   relaypol policy file (required)\n"
          "  -s SOCKET   libmilter socket (default inet:10041@127.0.0.1;\n"
          "              also unix:/path, inet6:PORT@::1)\n"
          "  -t SECONDS  timeout talking to the MTA (default 600)\n"
          "  -T          check the policy, then exit\n"
          "\n"
          "Postfix names the same socket inet:127.0.0.1:10041.\n"
          "Logs go to standard error: one relaypol_explain() line per RCPT.\n",
          f);
}

static int print_finding(void *ud, const relaypol_finding *f)
{
    (void)ud;
    if (f->severity >= RELAYPOL_WARNING)
        logmsg("policy line %u: %s (%s)", (unsigned)f->line, f->message,
               f->code);
    return 0;
}

int main(int argc, char **argv)
{
    const char *policy_path = NULL;
    char sock[512] = "inet:10041@127.0.0.1";
    int timeout = 600;
    bool check_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "f:s:t:Th")) != -1) {
        switch (opt) {
        case 'f': policy_path = optarg; break;
        case 's':
            if (strlen(optarg) >= sizeof sock) {
                fprintf(stderr, "relaypol-milter: socket name too long\n");
                return 2;
            }
            snprintf(sock, sizeof sock, "%s", optarg);
            break;
        case 't': timeout = atoi(optarg); break;
        case 'T': check_only = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!policy_path || optind != argc || timeout <= 0) {
        usage(stderr);
        return 2;
    }

    relaypol_error err;
    if (relaypol_policy_load_file(policy_path, NULL, &g_policy, &err) !=
        RELAYPOL_OK) {
        char buf[600];
        relaypol_error_format(&err, buf, sizeof buf);
        logmsg("%s", buf);
        return 1;
    }
    relaypol_policy_lint(g_policy, print_finding, NULL);
    logmsg("librelaypol %s, policy %s: RelayFlags=%u", relaypol_version(),
           policy_path, relaypol_policy_relay_flags(g_policy));
    if (check_only) {
        relaypol_policy_free(g_policy);
        return 0;
    }

    char name[] = "relaypol";
    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = name;
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = 0; /* no message modifications */
    desc.xxfi_connect = on_connect;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_close = on_close;
    desc.xxfi_negotiate = on_negotiate;

    int status = 1;
    if (smfi_setconn(sock) != MI_SUCCESS || smfi_settimeout(timeout) != MI_SUCCESS ||
        smfi_register(desc) != MI_SUCCESS) {
        logmsg("cannot set up libmilter for %s", sock);
    } else if (smfi_opensocket(true) != MI_SUCCESS) {
        /* Opened here rather than in smfi_main() so that a bad socket is
         * an error at start-up, and "ready" means the MTA can connect. */
        logmsg("cannot listen on %s", sock);
    } else {
        logmsg("ready on %s", sock);
        status = smfi_main() == MI_SUCCESS ? 0 : 1;
        logmsg("stopped");
    }
    relaypol_policy_free(g_policy);
    return status;
}
