/*
 * `relaypol eval`: decides a stream of RCPT TO requests read from standard
 * input, one per line, writing one result per request in input order.  It
 * is how tests, benchmarks and administrators replay many requests
 * against a policy without writing C.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The longest input line (bytes before the newline, a trailing CR not
 * counted).  Lines come from files other people wrote; a bound keeps a
 * runaway line from eating memory, and no real request comes close:
 * an RFC 5321 path is at most 256 octets. */
#define EVAL_MAX_LINE 8192

static void eval_usage(FILE *f)
{
    fputs(
        "usage: relaypol eval -p POLICY [--json] [--line-buffered]\n"
        "\n"
        "Reads requests from standard input, one per line:\n"
        "\n"
        "  [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT\n"
        "\n"
        "  CLIENT  the client's IPv4 or IPv6 address\n"
        "  LOCAL   the local address it connected to, or - if unknown\n"
        "  AUTH    the authenticated user, or - if not authenticated\n"
        "  RCPT    the rest of the line: the RCPT TO argument verbatim\n"
        "          (spaces inside it are kept), e.g. <user@example.com>\n"
        "\n"
        "Fields are separated by blanks.  Leading tokens that contain '='\n"
        "(no IP address does) are optional request fields:\n"
        "  tls=yes|no             the SMTP session is TLS-protected\n"
        "  name=HOST              the client's host name, for the log line\n"
        "  form=smtp|internal     RCPT as sent in SMTP (default) or in\n"
        "                         Postfix's internal form\n"
        "Empty lines and lines starting with '#' are skipped.\n"
        "\n"
        "Writes one line per request, in input order:\n"
        "  VERDICT STEP [entry=ENTRY line=N] reply=\"REPLY\" [auth=STATE]\n"
        "      [route=KIND,...] [rcpt_error=\"WHY\"]\n"
        "  (line=N is the entry's line in the policy)\n"
        "  error line N: MESSAGE          for a malformed input line\n"
        "With --json, one JSON object per line instead:\n"
        "  {\"line\":N, \"verdict\", \"step\", \"reply\", \"entry\",\n"
        "   \"entry_line\", \"client\", \"route\":[...], \"auth\",\n"
        "   [\"rcpt_error\",] \"explanation\"}\n"
        "  {\"line\":N, \"error\":MESSAGE}   for a malformed input line\n"
        "where \"line\" is always the input line number and\n"
        "\"entry_line\" the policy line of the deciding entry.\n"
        "\n"
        "A malformed line (too few fields, a bad address or field, longer\n"
        "than 8192 bytes, a NUL byte) gives an error result and processing\n"
        "goes on.\n"
        "\n"
        "  -p, --policy FILE     the policy file\n"
        "      --literal-masks   keep entries with host bits outside the mask\n"
        "  -j, --json            JSON output\n"
        "      --line-buffered   flush after every result (the default when\n"
        "                        standard input is a terminal)\n"
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 every line was decided, 1 some lines were malformed,\n"
        "2 usage, policy or I/O errors.\n",
        f);
}

/* ------------------------------------------------------------ the input */

typedef struct line_reader {
    FILE *in;
    unsigned long lineno;
    size_t len;    /* bytes in buf (at most EVAL_MAX_LINE + 1) */
    bool too_long; /* the line was longer; the rest was discarded */
    bool has_nul;
    char buf[EVAL_MAX_LINE + 2];
} line_reader;

/* Reads the next line into r->buf, NUL-terminated, without its newline
 * and trailing CR.  A line is never split: an over-long one is flagged
 * and skipped to its end, so that the next result still belongs to the
 * next line.  Returns 1 for a line, 0 at the end, -1 on a read error. */
static int read_line(line_reader *r)
{
    int c = EOF;
    bool any = false;
    r->len = 0;
    r->too_long = false;
    r->has_nul = false;
    while ((c = getc_unlocked(r->in)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\0')
            r->has_nul = true;
        /* Keep one byte beyond the limit: a CR there may still fit. */
        if (r->len <= EVAL_MAX_LINE)
            r->buf[r->len++] = (char)c;
        else
            r->too_long = true;
    }
    if (c == EOF && ferror(r->in))
        return -1;
    if (!any)
        return 0;
    r->lineno++;
    if (r->len > 0 && r->buf[r->len - 1] == '\r' && !r->too_long)
        r->len--;
    if (r->len > EVAL_MAX_LINE)
        r->too_long = true;
    r->buf[r->len] = '\0';
    return 1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Cuts the next blank-separated token out of *pp, NUL-terminating it in
 * place; NULL when the line has no more. */
static char *next_token(char **pp, char *end)
{
    char *p = *pp;
    while (p < end && is_blank(*p))
        p++;
    if (p == end)
        return NULL;
    char *t = p;
    while (p < end && !is_blank(*p))
        p++;
    if (p < end)
        *p++ = '\0';
    *pp = p;
    return t;
}

/* ---------------------------------------------------------- the output */

typedef struct eval_state {
    FILE *out;
    bool json;
    bool flush_each;
    unsigned long errors; /* malformed lines */
    cli_buf explain;
    char msg[320]; /* the current line's error */
} eval_state;

static void put_error(eval_state *st, unsigned long lineno)
{
    st->errors++;
    if (st->json) {
        fprintf(st->out, "{\"line\":%lu,\"error\":", lineno);
        cli_json_string(st->out, st->msg, strlen(st->msg));
        fputs("}\n", st->out);
    } else {
        fprintf(st->out, "error line %lu: ", lineno);
        cli_text(st->out, st->msg, strlen(st->msg), false);
        putc('\n', st->out);
    }
}

static void put_decision(eval_state *st, unsigned long lineno,
                         const relaypol_decision *d,
                         const relaypol_request *req)
{
    FILE *o = st->out;
    if (!st->json) {
        fprintf(o, "%s %s", relaypol_verdict_name(d->verdict),
                relaypol_step_name(d->step));
        if (d->entry) {
            fputs(" entry=", o);
            cli_text_value(o, d->entry);
            fprintf(o, " line=%u", (unsigned)d->entry_line);
        }
        fputs(" reply=", o);
        cli_text(o, d->reply ? d->reply : "", d->reply ? strlen(d->reply) : 0,
                 true);
        if (d->auth != RELAYPOL_AUTH_NONE)
            fprintf(o, " auth=%s", relaypol_auth_name(d->auth));
        if (d->route) {
            fputs(" route=", o);
            cli_route_text(o, d->route, ",");
        }
        if (d->rcpt_error != RELAYPOL_RCPT_OK) {
            const char *why = relaypol_rcpt_error_name(d->rcpt_error);
            fputs(" rcpt_error=", o);
            cli_text(o, why, strlen(why), true);
        }
        putc('\n', o);
        return;
    }
    fprintf(o, "{\"line\":%lu,\"verdict\":", lineno);
    cli_json_cstr(o, relaypol_verdict_name(d->verdict));
    fputs(",\"step\":", o);
    cli_json_cstr(o, relaypol_step_name(d->step));
    fputs(",\"reply\":", o);
    cli_json_cstr(o, d->reply);
    fputs(",\"entry\":", o);
    cli_json_cstr(o, d->entry);
    if (d->entry)
        fprintf(o, ",\"entry_line\":%u", (unsigned)d->entry_line);
    else
        fputs(",\"entry_line\":null", o);
    char addr[RELAYPOL_ADDR_STRLEN];
    fputs(",\"client\":", o);
    cli_json_cstr(o, relaypol_addr_format(&d->client, addr, sizeof addr)
                         ? addr
                         : NULL);
    fputs(",\"route\":", o);
    cli_route_json(o, d->route);
    fputs(",\"auth\":", o);
    cli_json_cstr(o, relaypol_auth_name(d->auth));
    if (d->rcpt_error != RELAYPOL_RCPT_OK) {
        fputs(",\"rcpt_error\":", o);
        cli_json_cstr(o, relaypol_rcpt_error_name(d->rcpt_error));
    }
    fputs(",\"explanation\":", o);
    cli_json_cstr(o, cli_explain(&st->explain, d, req));
    fputs("}\n", o);
}

/* ------------------------------------------------------------ one line */

/* Quotes at most 64 bytes of a bad field in an error message: enough to
 * recognise it, and a line's worth of junk would bury the message. */
static void bad_field(eval_state *st, const char *what, const char *text)
{
    size_t n = strlen(text);
    snprintf(st->msg, sizeof st->msg, "%s '%.*s'%s", what,
             (int)(n > 64 ? 64 : n), text, n > 64 ? "..." : "");
}

/* Applies one KEY=VALUE request field.  Unknown keys are errors, not
 * ignored: a misspelt "tsl=yes" must not silently change a decision. */
static bool apply_field(eval_state *st, char *tok, relaypol_request *req,
                        unsigned *seen)
{
    static const char *const keys[] = {"tls", "name", "form"};
    char *eq = strchr(tok, '=');
    *eq = '\0';
    const char *val = eq + 1;
    unsigned k;
    for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strcmp(tok, keys[k]) == 0)
            break;
    if (k == sizeof keys / sizeof keys[0]) {
        snprintf(st->msg, sizeof st->msg,
                 "unknown request field '%.32s' (known: tls, name, form)",
                 tok);
        return false;
    }
    if (*seen & (1u << k)) {
        snprintf(st->msg, sizeof st->msg, "request field '%s' given twice",
                 keys[k]);
        return false;
    }
    *seen |= 1u << k;
    switch (k) {
    case 0:
        if (strcmp(val, "yes") == 0) {
            req->flags |= RELAYPOL_REQ_TLS;
        } else if (strcmp(val, "no") != 0) {
            bad_field(st, "tls= must be yes or no, not", val);
            return false;
        }
        return true;
    case 1:
        if (*val == '\0') {
            snprintf(st->msg, sizeof st->msg, "name= needs a host name");
            return false;
        }
        req->client_name = val;
        return true;
    default:
        if (strcmp(val, "internal") == 0) {
            req->flags |= RELAYPOL_REQ_RCPT_INTERNAL;
        } else if (strcmp(val, "smtp") != 0) {
            bad_field(st, "form= must be smtp or internal, not", val);
            return false;
        }
        return true;
    }
}

#define FIELDS_HELP "expected [KEY=VALUE ...] CLIENT LOCAL AUTH RCPT"

/* Parses r's line into req; false with st->msg set when it is malformed.
 * *skip is set for blank and comment lines, which produce no result. */
static bool parse_line(eval_state *st, line_reader *r, relaypol_request *req,
                       bool *skip)
{
    *skip = false;
    if (r->too_long) {
        snprintf(st->msg, sizeof st->msg, "line longer than %u bytes",
                 (unsigned)EVAL_MAX_LINE);
        return false;
    }
    if (r->has_nul) {
        snprintf(st->msg, sizeof st->msg, "NUL byte in line");
        return false;
    }
    char *p = r->buf, *end = r->buf + r->len;
    while (p < end && is_blank(*p))
        p++;
    if (p == end || *p == '#') {
        *skip = true;
        return true;
    }

    relaypol_request_init(req);
    unsigned seen = 0;
    char *tok;
    while ((tok = next_token(&p, end)) && strchr(tok, '='))
        if (!apply_field(st, tok, req, &seen))
            return false;
    char *client = tok;
    char *local = client ? next_token(&p, end) : NULL;
    char *auth = local ? next_token(&p, end) : NULL;
    while (p < end && is_blank(*p))
        p++;
    if (!auth || p == end) {
        snprintf(st->msg, sizeof st->msg, "too few fields: " FIELDS_HELP);
        return false;
    }
    if (relaypol_addr_parse(client, &req->client) != RELAYPOL_OK) {
        bad_field(st, "bad client address", client);
        return false;
    }
    if (strcmp(local, "-") != 0 &&
        relaypol_addr_parse(local, &req->local) != RELAYPOL_OK) {
        bad_field(st, "bad local address", local);
        return false;
    }
    if (strcmp(auth, "-") != 0)
        req->user = auth;
    /* The recipient is kept verbatim to the end of the line: trailing
     * blanks are part of what the client sent and the library judges. */
    req->recipient = p;
    req->recipient_len = (size_t)(end - p);
    return true;
}

/* -------------------------------------------------------------- command */

enum { EVAL_LINE_BUFFERED = CLI_OPT_FIRST_LOCAL };

static const cli_option eval_options[] = {
    CLI_OPTIONS_HELP,
    CLI_OPTIONS_POLICY,
    {"json", 'j', false, CLI_OPT_JSON},
    {"line-buffered", 0, false, EVAL_LINE_BUFFERED},
    {NULL, 0, false, 0},
};

int cli_eval_main(int argc, char **argv)
{
    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    cli_policy_args pa = {NULL, 0};
    eval_state st;
    memset(&st, 0, sizeof st);
    st.out = stdout;
    int id;
    while ((id = cli_next(&ps, eval_options)) != CLI_DONE) {
        if (id == CLI_BAD)
            return CLI_EXIT_ERROR;
        if (cli_policy_option(&pa, id, ps.arg))
            continue;
        switch (id) {
        case CLI_OPT_HELP:
            eval_usage(stdout);
            return CLI_EXIT_OK;
        case CLI_OPT_JSON:
            st.json = true;
            break;
        case EVAL_LINE_BUFFERED:
            st.flush_each = true;
            break;
        case CLI_OPERAND:
            return cli_usage_error(ps.name,
                                   "unexpected argument '%s' (requests are "
                                   "read from standard input)",
                                   ps.arg);
        default:
            return cli_usage_error(ps.name, "unhandled option");
        }
    }
    if (!pa.path)
        return cli_usage_error(ps.name, "no policy given (-p POLICY)");
    /* Someone typing requests wants each answer at once; a pipe or file
     * gets full buffering, which is much faster for large batches. */
    if (isatty(STDIN_FILENO))
        st.flush_each = true;

    relaypol_policy *pol = cli_load_policy(&pa);
    if (!pol)
        return CLI_EXIT_ERROR;

    /* A line buffer of 8 KiB is too large for some thread stacks and this
     * one is used for the whole run: allocate it once. */
    line_reader *r = malloc(sizeof *r);
    if (!r) {
        cli_error("out of memory");
        relaypol_policy_free(pol);
        return CLI_EXIT_ERROR;
    }
    r->in = stdin;
    r->lineno = 0;

    int rc = CLI_EXIT_OK;
    int got;
    while ((got = read_line(r)) > 0) {
        relaypol_request req;
        bool skip;
        if (!parse_line(&st, r, &req, &skip)) {
            put_error(&st, r->lineno);
        } else if (!skip) {
            relaypol_decision d;
            relaypol_decision_init(&d);
            relaypol_status s = relaypol_decide(pol, &req, &d);
            if (s != RELAYPOL_OK) {
                snprintf(st.msg, sizeof st.msg, "cannot decide: %s",
                         relaypol_strerror(s));
                put_error(&st, r->lineno);
            } else {
                put_decision(&st, r->lineno, &d, &req);
            }
        }
        if (st.flush_each)
            fflush(st.out);
        if (ferror(st.out)) {
            cli_error("error writing standard output");
            rc = CLI_EXIT_ERROR;
            break;
        }
    }
    if (got < 0) {
        cli_error("error reading standard input");
        rc = CLI_EXIT_ERROR;
    }
    if (rc == CLI_EXIT_OK && st.errors > 0)
        rc = CLI_EXIT_NO;
    free(st.explain.p);
    free(r);
    relaypol_policy_free(pol);
    return rc;
}
