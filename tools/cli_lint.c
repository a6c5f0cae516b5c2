/*
 * `relaypol lint`: checks a policy before it ships.  A policy that does
 * not load is reported like a compiler error (exit 2); a policy that loads
 * is reported through relaypol_policy_lint()'s findings, then through the
 * review extension (cli_review.c) when it is built in.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "cli.h"

static void lint_usage(FILE *f)
{
    fputs("usage: relaypol lint -p POLICY [--json] [--strict]\n"
          "\n"
          "Loads the policy and reports what is wrong or risky in it, one\n"
          "finding per line in the form editors understand:\n"
          "  FILE:LINE:COL: warning: MESSAGE [CODE]\n"
          "(severity note, warning or error; CODE is a stable identifier).\n"
          "A policy that does not load is reported as\n"
          "  relaypol: FILE:LINE:COL: MESSAGE\n"
          "on standard error.\n"
          "\n"
          "  -p, --policy FILE     the policy file\n"
          "      --literal-masks   keep entries with host bits outside the\n"
          "                        mask (they never match; reported)\n"
          "  -j, --json            one JSON object: {\"policy\", \"findings\":\n"
          "                        [{\"severity\", \"code\", \"line\", \"column\",\n"
          "                        \"message\"}...], \"notes\", \"warnings\",\n"
          "                        \"errors\"}, or {\"policy\", \"error\":\n"
          "                        {\"status\", \"line\", \"column\", \"message\"}}\n"
          "                        when the policy does not load\n"
          "      --strict          exit 1 on warnings too (for CI)\n"
          "  -h, --help            this text\n"
          "\n"
          "exit status: 0 no errors (and, with --strict, no warnings),\n"
          "1 findings of severity error (or warnings with --strict),\n"
          "2 the policy does not load, or usage errors.\n",
          f);
}

static const char *severity_name(relaypol_severity s)
{
    switch (s) {
    case RELAYPOL_NOTE:
        return "note";
    case RELAYPOL_WARNING:
        return "warning";
    case RELAYPOL_ERROR:
        return "error";
    }
    /* A newer library's severity: at least as serious as a warning, so
     * that --strict does not let it pass. */
    return "warning";
}

bool cli_lint_emit(cli_lint_report *r, const relaypol_finding *f)
{
    if (r->findings_closed)
        return false;
    switch (f->severity) {
    case RELAYPOL_NOTE:
        r->notes++;
        break;
    case RELAYPOL_ERROR:
        r->errors++;
        break;
    default:
        r->warnings++;
        break;
    }
    const char *code = f->code ? f->code : "";
    const char *msg = f->message ? f->message : "";
    FILE *o = r->out;
    if (r->json) {
        fputs(r->emitted ? ",\n  " : "\n  ", o);
        fputs("{\"severity\":", o);
        cli_json_cstr(o, severity_name(f->severity));
        fputs(",\"code\":", o);
        cli_json_cstr(o, code);
        fprintf(o, ",\"line\":%u,\"column\":%u,\"message\":",
                (unsigned)f->line, (unsigned)f->column);
        cli_json_cstr(o, msg);
        putc('}', o);
    } else {
        /* GNU style leaves out a position that is not known. */
        cli_text(o, r->source, strlen(r->source), false);
        if (f->line > 0)
            fprintf(o, ":%u", (unsigned)f->line);
        if (f->line > 0 && f->column > 0)
            fprintf(o, ":%u", (unsigned)f->column);
        fprintf(o, ": %s: ", severity_name(f->severity));
        cli_text(o, msg, strlen(msg), false);
        if (code[0]) {
            fputs(" [", o);
            cli_text(o, code, strlen(code), false);
            putc(']', o);
        }
        putc('\n', o);
    }
    r->emitted++;
    return true;
}

static void close_findings(cli_lint_report *r)
{
    if (r->json && !r->findings_closed)
        fputs(r->emitted ? "\n]" : "]", r->out);
    r->findings_closed = true;
}

FILE *cli_lint_section(cli_lint_report *r, const char *name)
{
    close_findings(r);
    if (r->json) {
        fputs(",\n\"", r->out);
        fputs(name, r->out);
        fputs("\":", r->out);
    }
    return r->out;
}

static int lint_finding(void *ud, const relaypol_finding *f)
{
    cli_lint_emit(ud, f);
    return 0;
}

enum { LINT_STRICT = CLI_OPT_FIRST_LOCAL };

static const cli_option lint_options[] = {
    CLI_OPTIONS_HELP,
    CLI_OPTIONS_POLICY,
    {"json", 'j', false, CLI_OPT_JSON},
    {"strict", 0, false, LINT_STRICT},
    {NULL, 0, false, 0},
};

static void json_load_error(const char *path, const relaypol_error *err,
                            relaypol_status st)
{
    FILE *o = stdout;
    fputs("{\"policy\":", o);
    cli_json_cstr(o, path);
    fputs(",\"error\":{\"status\":", o);
    cli_json_cstr(o, relaypol_strerror(st));
    fprintf(o, ",\"line\":%u,\"column\":%u,\"message\":",
            (unsigned)err->line, (unsigned)err->column);
    cli_json_cstr(o, err->message[0] ? err->message : relaypol_strerror(st));
    fputs("}}\n", o);
}

int cli_lint_main(int argc, char **argv)
{
    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    cli_policy_args pa = {NULL, 0};
    bool json = false, strict = false;
    int id;
    while ((id = cli_next(&ps, lint_options)) != CLI_DONE) {
        if (id == CLI_BAD)
            return CLI_EXIT_ERROR;
        if (cli_policy_option(&pa, id, ps.arg))
            continue;
        switch (id) {
        case CLI_OPT_HELP:
            lint_usage(stdout);
            return CLI_EXIT_OK;
        case CLI_OPT_JSON:
            json = true;
            break;
        case LINT_STRICT:
            strict = true;
            break;
        case CLI_OPERAND:
            return cli_usage_error(ps.name, "unexpected argument '%s'",
                                   ps.arg);
        default:
            return cli_usage_error(ps.name, "unhandled option");
        }
    }
    if (!pa.path)
        return cli_usage_error(ps.name, "no policy given (-p POLICY)");

    relaypol_load_options opts;
    relaypol_load_options_init(&opts);
    opts.flags = pa.load_flags;
    relaypol_policy *pol = NULL;
    relaypol_error err;
    memset(&err, 0, sizeof err);
    relaypol_status st = relaypol_policy_load_file(pa.path, &opts, &pol, &err);
    if (st != RELAYPOL_OK) {
        if (err.message[0] == '\0') {
            snprintf(err.source, sizeof err.source, "%s", pa.path);
            snprintf(err.message, sizeof err.message, "%s",
                     relaypol_strerror(st));
        }
        /* JSON users read one document from standard output; humans and
         * editors read the message from standard error. */
        if (json)
            json_load_error(pa.path, &err, st);
        else
            cli_print_load_error(&err);
        relaypol_policy_free(pol);
        return CLI_EXIT_ERROR;
    }

    cli_lint_report r;
    memset(&r, 0, sizeof r);
    r.out = stdout;
    r.json = json;
    r.source = pa.path;
    if (json) {
        fputs("{\"policy\":", r.out);
        cli_json_cstr(r.out, pa.path);
        fputs(",\n\"findings\":[", r.out);
    }
    int rc = CLI_EXIT_OK;
    st = relaypol_policy_lint(pol, lint_finding, &r);
    if (st != RELAYPOL_OK) {
        cli_error("%s: lint failed: %s", pa.path, relaypol_strerror(st));
        rc = CLI_EXIT_ERROR;
    }
    if (rc == CLI_EXIT_OK && cli_review_lint)
        rc = cli_review_lint(&r, pol);
    close_findings(&r);
    if (json)
        fprintf(r.out, ",\n\"notes\":%u,\"warnings\":%u,\"errors\":%u}\n",
                r.notes, r.warnings, r.errors);
    relaypol_policy_free(pol);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (r.errors > 0 || (strict && r.warnings > 0))
        return CLI_EXIT_NO;
    return CLI_EXIT_OK;
}
