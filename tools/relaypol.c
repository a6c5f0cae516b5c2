/*
 * relaypol(1): the command-line front end of librelaypol.  This file holds
 * main and the subcommand table, the helpers every subcommand shares
 * (options, loading a policy, safe text and JSON output) and the two
 * small subcommands, `check` and `version`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ----------------------------------------------------------- the table */

typedef struct cli_command {
    const char *name;
    cli_main_fn run; /* NULL: an optional subcommand not built in */
    const char *summary;
} cli_command;

/* One row per subcommand, in the order `relaypol --help` lists them. */
static const cli_command commands[] = {
    {"check", cli_check_main, "decide one RCPT TO and explain the decision"},
    {"eval", cli_eval_main, "decide RCPT TO requests read from standard input"},
    {"lint", cli_lint_main, "report errors and risky settings in a policy"},
    {"diff", cli_diff_main, "compare the relay permissions of two policies"},
    {"probe", cli_probe_main, "test a running SMTP server for open relaying"},
    {"version", cli_version_main, "print the version"},
};

static void usage(FILE *f)
{
    fputs("usage: relaypol COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "Decides at RCPT TO time whether a mail server may deliver\n"
          "locally, relay, or must refuse (Exchange 5.5 RelayFlags).\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].run)
            fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "`relaypol COMMAND --help` describes a command.\n"
          "exit status: 0 yes/clean, 1 a negative answer (deny, warnings\n"
          "under --strict, malformed input lines), 2 errors.\n",
          f);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].run && strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_ERROR;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0)
        return cli_version_main(1, argv + 1);
    if (strcmp(name, "help") == 0) {
        /* "relaypol help CMD" is "relaypol CMD --help". */
        if (argc < 3) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *c = find_command(argv[2]);
        if (!c) {
            cli_error("unknown command '%s' (see relaypol --help)", argv[2]);
            return CLI_EXIT_ERROR;
        }
        static char help_opt[] = "--help";
        char *hargv[] = {argv[2], help_opt, NULL};
        return c->run(2, hargv);
    }
    const cli_command *c = find_command(name);
    if (!c) {
        cli_error("unknown command '%s' (see relaypol --help)", name);
        return CLI_EXIT_ERROR;
    }
    int rc = c->run(argc - 1, argv + 1);
    /* Output goes to files and pipes: a full disk or a closed pipe must
     * not pass for success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("error writing standard output");
        return CLI_EXIT_ERROR;
    }
    return rc;
}

/* ------------------------------------------------------------- messages */

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("relaypol: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "relaypol %s: ", name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'relaypol %s --help'.\n", name);
    va_end(ap);
    return CLI_EXIT_ERROR;
}

/* -------------------------------------------------------------- options */

void cli_parser_init(cli_parser *p, int argc, char **argv)
{
    p->argc = argc;
    p->argv = argv;
    p->index = 1;
    p->arg = NULL;
    p->no_options = false;
    p->name = argc > 0 ? argv[0] : "relaypol";
}

int cli_next(cli_parser *p, const cli_option *opts)
{
    p->arg = NULL;
    if (p->index >= p->argc)
        return CLI_DONE;
    char *a = p->argv[p->index++];
    /* "-" alone is an operand by convention (standard input). */
    if (p->no_options || a[0] != '-' || a[1] == '\0') {
        p->arg = a;
        return CLI_OPERAND;
    }
    if (strcmp(a, "--") == 0) {
        p->no_options = true;
        return cli_next(p, opts);
    }
    const cli_option *o = NULL;
    const char *inline_val = NULL;
    if (a[1] == '-') {
        const char *n = a + 2;
        const char *eq = strchr(n, '=');
        size_t nl = eq ? (size_t)(eq - n) : strlen(n);
        for (const cli_option *q = opts; q->name; q++)
            if (strlen(q->name) == nl && memcmp(q->name, n, nl) == 0)
                o = q;
        if (!o) {
            cli_usage_error(p->name, "unknown option '--%.*s'", (int)nl, n);
            return CLI_BAD;
        }
        if (eq) {
            if (!o->has_arg) {
                cli_usage_error(p->name, "option '--%s' takes no value",
                                o->name);
                return CLI_BAD;
            }
            inline_val = eq + 1;
        }
    } else {
        for (const cli_option *q = opts; q->name; q++)
            if (q->short_name && q->short_name == a[1])
                o = q;
        if (!o) {
            cli_usage_error(p->name, "unknown option '-%c'", a[1]);
            return CLI_BAD;
        }
        if (a[2] != '\0') {
            /* Clusters of flags ("-hj") are not worth their ambiguity. */
            if (!o->has_arg) {
                cli_usage_error(p->name, "unknown option '%s'", a);
                return CLI_BAD;
            }
            inline_val = a + 2;
        }
    }
    if (o->has_arg) {
        if (inline_val) {
            p->arg = inline_val;
        } else if (p->index < p->argc) {
            p->arg = p->argv[p->index++];
        } else {
            if (a[1] == '-')
                cli_usage_error(p->name, "option '--%s' needs a value",
                                o->name);
            else
                cli_usage_error(p->name, "option '-%c' needs a value",
                                o->short_name);
            return CLI_BAD;
        }
    }
    return o->id;
}

/* ----------------------------------------------------------- the policy */

bool cli_policy_option(cli_policy_args *pa, int id, const char *arg)
{
    switch (id) {
    case CLI_OPT_POLICY:
        pa->path = arg;
        return true;
    case CLI_OPT_LITERAL_MASKS:
        pa->load_flags |= RELAYPOL_LOAD_LITERAL_MASKS;
        return true;
    default:
        return false;
    }
}

void cli_print_load_error(const relaypol_error *err)
{
    char buf[2 * RELAYPOL_ERROR_TEXT_MAX + 64];
    relaypol_error_format(err, buf, sizeof buf);
    /* The source is the path the user typed and the message may quote
     * policy text: keep both on one line. */
    fputs("relaypol: ", stderr);
    cli_text(stderr, buf, strlen(buf), false);
    fputc('\n', stderr);
}

relaypol_policy *cli_load_policy(const cli_policy_args *pa)
{
    relaypol_load_options opts;
    relaypol_load_options_init(&opts);
    opts.flags = pa->load_flags;
    relaypol_policy *p = NULL;
    relaypol_error err;
    memset(&err, 0, sizeof err);
    relaypol_status st = relaypol_policy_load_file(pa->path, &opts, &p, &err);
    if (st != RELAYPOL_OK) {
        /* A loader that failed before filling in the error still gets a
         * message naming the file. */
        if (err.message[0] == '\0') {
            snprintf(err.source, sizeof err.source, "%s", pa->path);
            snprintf(err.message, sizeof err.message, "%s",
                     relaypol_strerror(st));
        }
        cli_print_load_error(&err);
        relaypol_policy_free(p);
        return NULL;
    }
    return p;
}

/* --------------------------------------------------------------- output */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one.
 * Overlong forms, surrogates and values above U+10FFFF are invalid
 * (RFC 3629), so what passes is what every JSON parser accepts. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void cli_json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    putc('"', f);
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc((int)c, f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n':
                fputs("\\n", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            default:
                fprintf(f, "\\u%04x", c);
            }
            i++;
        } else if (c < 0x80) {
            putc((int)c, f);
            i++;
        } else {
            size_t l = utf8_len(u + i, n - i);
            if (l == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(u + i, 1, l, f);
                i += l;
            }
        }
    }
    putc('"', f);
}

void cli_json_cstr(FILE *f, const char *s)
{
    if (s)
        cli_json_string(f, s, strlen(s));
    else
        fputs("null", f);
}

void cli_text(FILE *f, const char *s, size_t n, bool quote)
{
    if (quote)
        putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else if (quote && (c == '"' || c == '\\'))
            fprintf(f, "\\%c", c);
        else
            putc(c, f);
    }
    if (quote)
        putc('"', f);
}

void cli_text_value(FILE *f, const char *s)
{
    size_t n = strlen(s);
    bool quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++) {
        unsigned char c = (unsigned char)s[i];
        quote = c <= 0x20 || c == 0x7f || c == '"' || c == '\\';
    }
    cli_text(f, s, n, quote);
}

void cli_route_text(FILE *f, uint32_t route, const char *sep)
{
    const char *s = "";
    for (uint32_t bit = 1; bit <= RELAYPOL_ROUTE_LITERAL; bit <<= 1) {
        if (route & bit) {
            fprintf(f, "%s%s", s, relaypol_route_name(bit));
            s = sep;
            route &= ~bit;
        }
    }
    /* Bits a newer library knows and this tool does not: show them
     * rather than hide that routing was seen. */
    if (route)
        fprintf(f, "%s0x%x", s, (unsigned)route);
}

void cli_route_json(FILE *f, uint32_t route)
{
    putc('[', f);
    const char *s = "";
    for (uint32_t bit = 1; bit <= RELAYPOL_ROUTE_LITERAL; bit <<= 1) {
        if (route & bit) {
            fprintf(f, "%s\"%s\"", s, relaypol_route_name(bit));
            s = ",";
            route &= ~bit;
        }
    }
    if (route)
        fprintf(f, "%s\"0x%x\"", s, (unsigned)route);
    putc(']', f);
}

const char *cli_explain(cli_buf *b, const relaypol_decision *d,
                        const relaypol_request *req)
{
    static char fallback[256];
    char *dst = b->p ? b->p : fallback;
    size_t cap = b->p ? b->cap : sizeof fallback;
    size_t need = relaypol_explain(d, req, dst, cap);
    if (need < cap)
        return dst;
    char *np = realloc(b->p, need + 1);
    if (!np) {
        /* The truncated text is still the most useful thing to show. */
        if (!b->p)
            relaypol_explain(d, req, fallback, sizeof fallback);
        return dst;
    }
    b->p = np;
    b->cap = need + 1;
    relaypol_explain(d, req, b->p, b->cap);
    return b->p;
}

/* ---------------------------------------------------------------- check */

static void check_usage(FILE *f)
{
    fputs("usage: relaypol check -p POLICY --client IP [OPTIONS] RCPT\n"
          "\n"
          "Decides one RCPT TO and prints the verdict, the rule (step) that\n"
          "decided, the list entry and its line, the SMTP reply and a log\n"
          "line explaining the decision.\n"
          "\n"
          "  -p, --policy FILE     the policy file\n"
          "      --literal-masks   keep entries with host bits outside the\n"
          "                        mask (they never match) instead of\n"
          "                        refusing the policy\n"
          "      --client IP       the connecting client (IPv4 or IPv6)\n"
          "      --local IP        the local address it connected to\n"
          "      --auth USER       the client authenticated as USER\n"
          "      --tls             the SMTP session is TLS-protected\n"
          "      --client-name N   the client's host name, for the log line\n"
          "      --internal-rcpt   RCPT is in Postfix's internal form (no\n"
          "                        angle brackets, quotes removed)\n"
          "  -h, --help            this text\n"
          "\n"
          "RCPT is the RCPT TO argument as the client sent it, e.g.\n"
          "'<user@example.com>' (quote it for the shell).\n"
          "\n"
          "exit status: 0 local or relay, 1 deny, 2 usage, policy or\n"
          "address errors.\n",
          f);
}

enum {
    CHECK_CLIENT = CLI_OPT_FIRST_LOCAL,
    CHECK_LOCAL,
    CHECK_AUTH,
    CHECK_TLS,
    CHECK_CLIENT_NAME,
    CHECK_INTERNAL,
};

static const cli_option check_options[] = {
    CLI_OPTIONS_HELP,
    CLI_OPTIONS_POLICY,
    {"client", 0, true, CHECK_CLIENT},
    {"local", 0, true, CHECK_LOCAL},
    {"auth", 0, true, CHECK_AUTH},
    {"tls", 0, false, CHECK_TLS},
    {"client-name", 0, true, CHECK_CLIENT_NAME},
    {"internal-rcpt", 0, false, CHECK_INTERNAL},
    {NULL, 0, false, 0},
};

static int parse_addr_option(const char *what, const char *text,
                             relaypol_addr *out)
{
    if (relaypol_addr_parse(text, out) != RELAYPOL_OK) {
        fprintf(stderr, "relaypol: %s: ", what);
        cli_text(stderr, text, strlen(text), true);
        fputs(" is not a valid IPv4 or IPv6 address\n", stderr);
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int cli_check_main(int argc, char **argv)
{
    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    cli_policy_args pa = {NULL, 0};
    const char *client = NULL, *local = NULL, *rcpt = NULL;
    relaypol_request req;
    relaypol_request_init(&req);
    int id;
    while ((id = cli_next(&ps, check_options)) != CLI_DONE) {
        if (id == CLI_BAD)
            return CLI_EXIT_ERROR;
        if (cli_policy_option(&pa, id, ps.arg))
            continue;
        switch (id) {
        case CLI_OPT_HELP:
            check_usage(stdout);
            return CLI_EXIT_OK;
        case CHECK_CLIENT:
            client = ps.arg;
            break;
        case CHECK_LOCAL:
            local = ps.arg;
            break;
        case CHECK_AUTH:
            if (ps.arg[0] == '\0')
                return cli_usage_error(ps.name, "--auth needs a user name");
            req.user = ps.arg;
            break;
        case CHECK_TLS:
            req.flags |= RELAYPOL_REQ_TLS;
            break;
        case CHECK_CLIENT_NAME:
            req.client_name = ps.arg;
            break;
        case CHECK_INTERNAL:
            req.flags |= RELAYPOL_REQ_RCPT_INTERNAL;
            break;
        case CLI_OPERAND:
            if (rcpt)
                return cli_usage_error(ps.name,
                                       "one recipient only (quote a "
                                       "recipient that holds spaces)");
            rcpt = ps.arg;
            break;
        default:
            return cli_usage_error(ps.name, "unhandled option");
        }
    }
    if (!pa.path)
        return cli_usage_error(ps.name, "no policy given (-p POLICY)");
    if (!client)
        return cli_usage_error(ps.name, "no client given (--client IP)");
    if (!rcpt)
        return cli_usage_error(ps.name, "no recipient given");

    /* Addresses first: a typo in them should not wait for a large policy
     * to load before it is reported. */
    if (parse_addr_option("--client", client, &req.client) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    if (local &&
        parse_addr_option("--local", local, &req.local) != CLI_EXIT_OK)
        return CLI_EXIT_ERROR;
    req.recipient = rcpt;
    req.recipient_len = strlen(rcpt);

    relaypol_policy *pol = cli_load_policy(&pa);
    if (!pol)
        return CLI_EXIT_ERROR;
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_status st = relaypol_decide(pol, &req, &d);
    if (st != RELAYPOL_OK) {
        cli_error("cannot decide: %s", relaypol_strerror(st));
        relaypol_policy_free(pol);
        return CLI_EXIT_ERROR;
    }

    FILE *o = stdout;
    fprintf(o, "verdict: %s\n", relaypol_verdict_name(d.verdict));
    fprintf(o, "step: %s\n", relaypol_step_name(d.step));
    fputs("entry: ", o);
    if (d.entry) {
        cli_text(o, d.entry, strlen(d.entry), false);
        fprintf(o, " (line %u)\n", (unsigned)d.entry_line);
    } else {
        fputs("(none)\n", o);
    }
    if (d.rcpt_error != RELAYPOL_RCPT_OK)
        fprintf(o, "recipient error: %s\n",
                relaypol_rcpt_error_name(d.rcpt_error));
    if (d.route) {
        fputs("route: ", o);
        cli_route_text(o, d.route, ", ");
        putc('\n', o);
    }
    if (d.auth != RELAYPOL_AUTH_NONE)
        fprintf(o, "auth: %s\n", relaypol_auth_name(d.auth));
    fputs("reply: ", o);
    cli_text(o, d.reply ? d.reply : "", d.reply ? strlen(d.reply) : 0, false);
    putc('\n', o);
    cli_buf eb = {NULL, 0};
    const char *ex = cli_explain(&eb, &d, &req);
    fputs("explanation: ", o);
    cli_text(o, ex, strlen(ex), false);
    putc('\n', o);
    free(eb.p);
    relaypol_policy_free(pol);
    return d.verdict == RELAYPOL_DENY ? CLI_EXIT_NO : CLI_EXIT_OK;
}

/* -------------------------------------------------------------- version */

int cli_version_main(int argc, char **argv)
{
    static const cli_option opts[] = {CLI_OPTIONS_HELP, {NULL, 0, false, 0}};
    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    int id;
    while ((id = cli_next(&ps, opts)) != CLI_DONE) {
        if (id == CLI_BAD)
            return CLI_EXIT_ERROR;
        if (id == CLI_OPT_HELP) {
            fputs("usage: relaypol version\n"
                  "\n"
                  "Prints the version of the relaypol library in use.\n",
                  stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(ps.name, "unexpected argument '%s'", ps.arg);
    }
    printf("relaypol %s\n", relaypol_version());
    /* Only possible with a shared library that is not the one this tool
     * was built against; worth saying when it happens. */
    if (relaypol_version_number() != RELAYPOL_VERSION_NUMBER)
        printf("built with relaypol.h %s\n", RELAYPOL_VERSION_STRING);
    return CLI_EXIT_OK;
}
