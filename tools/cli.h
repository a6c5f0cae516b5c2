/*
 * Shared declarations of the relaypol command-line tool (the tools/ files).
 *
 * The tool is written against the public header only, like any other
 * program embedding the library: what the CLI cannot do through
 * relaypol.h, an integrator cannot do either, and that is worth knowing.
 *
 * Adding a subcommand: write `int cli_NAME_main(int argc, char **argv)` in
 * its own file (argv[0] is the subcommand's name), declare it below and
 * add one row to the table in relaypol.c.  Subcommands whose files are
 * optional in tools/meson.build (cli_probe.c, cli_review.c) are declared
 * CLI_OPTIONAL: the table lists them already and hides them until their
 * file is compiled in, so those files can land without touching this one.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_CLI_H
#define RELAYPOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <relaypol/relaypol.h>

/* Exit statuses, the same for every subcommand so that scripts can rely
 * on them: 0 yes/clean, 1 a negative answer (deny, a warning under
 * --strict, a malformed input line, an open relay, a widened policy),
 * 2 the tool could not do its job (usage, policy or I/O errors). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_NO 1
#define CLI_EXIT_ERROR 2

/* A weak declaration: the symbol is NULL when no object file defines it.
 * The tool is only built with GCC or Clang (ELF), where this is reliable;
 * elsewhere the optional files must simply be present. */
#if defined(__GNUC__) || defined(__clang__)
#define CLI_OPTIONAL __attribute__((weak))
#else
#define CLI_OPTIONAL
#endif

/* ------------------------------------------------------------ subcommands */

typedef int (*cli_main_fn)(int argc, char **argv);

int cli_check_main(int argc, char **argv);   /* relaypol.c */
int cli_version_main(int argc, char **argv); /* relaypol.c */
int cli_eval_main(int argc, char **argv);    /* cli_eval.c */
int cli_lint_main(int argc, char **argv);    /* cli_lint.c */
CLI_OPTIONAL int cli_probe_main(int argc, char **argv); /* cli_probe.c */
CLI_OPTIONAL int cli_diff_main(int argc, char **argv);  /* cli_review.c */

/* ---------------------------------------------------------------- options */

/* A small long-option parser: getopt_long is not POSIX, and every
 * subcommand wants the same conventions:
 *   --name VALUE, --name=VALUE, -x VALUE, -xVALUE, "--" ends options,
 *   operands and options may be mixed ("check RCPT --client IP"). */
typedef struct cli_option {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    bool has_arg;
    int id; /* returned by cli_next(); must be > 0 */
} cli_option;

/* Option ids shared by the subcommands that load a policy. */
enum {
    CLI_OPT_HELP = 1,
    CLI_OPT_POLICY,
    CLI_OPT_LITERAL_MASKS,
    CLI_OPT_JSON,
    CLI_OPT_FIRST_LOCAL /* subcommands number their own options from here */
};

/* Rows for a cli_option table: every subcommand that loads a policy
 * accepts the same -p and --literal-masks. */
#define CLI_OPTIONS_HELP {"help", 'h', false, CLI_OPT_HELP}
#define CLI_OPTIONS_POLICY                                                     \
    {"policy", 'p', true, CLI_OPT_POLICY},                                     \
        {"literal-masks", 0, false, CLI_OPT_LITERAL_MASKS}

#define CLI_OPERAND (-2) /* cli_next(): an operand, in p->arg */
#define CLI_BAD (-1)     /* cli_next(): a usage error, already reported */
#define CLI_DONE 0       /* cli_next(): no more arguments */

typedef struct cli_parser {
    int argc;
    char **argv;
    int index;        /* next argv element to look at */
    const char *arg;  /* the option's value or the operand */
    bool no_options;  /* after "--" */
    const char *name; /* the subcommand, for messages */
} cli_parser;

void cli_parser_init(cli_parser *p, int argc, char **argv);
/* The next option id, CLI_OPERAND, CLI_DONE or CLI_BAD.  opts ends with a
 * row whose name is NULL. */
int cli_next(cli_parser *p, const cli_option *opts);

/* Reports a usage error for the subcommand on stderr and returns
 * CLI_EXIT_ERROR: "relaypol NAME: message" and a hint to use --help. */
int cli_usage_error(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "relaypol: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------- the policy */

typedef struct cli_policy_args {
    const char *path;    /* -p; NULL until given */
    uint32_t load_flags; /* RELAYPOL_LOAD_* */
} cli_policy_args;

/* Handles CLI_OPT_POLICY and CLI_OPT_LITERAL_MASKS; returns false for any
 * other id so the caller can go on with its own. */
bool cli_policy_option(cli_policy_args *pa, int id, const char *arg);

/* Loads pa->path.  On failure prints "relaypol: file:line:col: message"
 * on stderr (relaypol_error_format) and returns NULL.  The caller owns
 * the result; release it with relaypol_policy_free(). */
relaypol_policy *cli_load_policy(const cli_policy_args *pa);

/* Prints a load error as above. */
void cli_print_load_error(const relaypol_error *err);

/* ---------------------------------------------------------------- output */

/* Writes s[0..n) as a JSON string with its quotes: '"', '\\' and control
 * characters escaped (\u00XX), valid UTF-8 passed through, and every byte
 * that is not part of valid UTF-8 written as \ufffd so that the output is
 * always valid JSON whatever the input bytes were. */
void cli_json_string(FILE *f, const char *s, size_t n);
/* A NUL-terminated string, or null for NULL. */
void cli_json_cstr(FILE *f, const char *s);

/* Writes s[0..n) for a human on one line: control characters (and DEL)
 * as \xHH so that input cannot move the cursor or forge extra lines.  With
 * quote, inside double quotes with '"' and '\\' escaped as well. */
void cli_text(FILE *f, const char *s, size_t n, bool quote);
/* Writes s bare when it holds no blank, quote, backslash or control
 * character, quoted otherwise: for key=value output. */
void cli_text_value(FILE *f, const char *s);

/* The names of RELAYPOL_ROUTE_* bits ("percent", "bang", ...), separated
 * by sep in plain text or as a JSON array. */
void cli_route_text(FILE *f, uint32_t route, const char *sep);
void cli_route_json(FILE *f, uint32_t route);

/* A growable text buffer for relaypol_explain(), whose text has no upper
 * bound (it carries the recipient). */
typedef struct cli_buf {
    char *p;
    size_t cap;
} cli_buf;

/* Returns the explanation of d (valid until the next call with b); on
 * allocation failure a truncated text.  Free b->p when done. */
const char *cli_explain(cli_buf *b, const relaypol_decision *d,
                        const relaypol_request *req);

/* ---------------------------------------------------------- the lint hook */

/* What `relaypol lint` has printed so far.  Extensions (the exposure report
 * of cli_review.c) add findings through cli_lint_emit() so that they share
 * the format, the counts and --strict, and may add sections of their own.
 *
 * Order: emit findings first, then sections.  Plain text: a section is
 * free text written to out.  JSON: the output is one object,
 *   {"policy": ..., "findings": [...], SECTIONS, "notes": N,
 *    "warnings": N, "errors": N}
 * and cli_lint_section() opens a member whose value the caller writes to
 * the returned stream (exactly one JSON value). */
typedef struct cli_lint_report {
    FILE *out;
    bool json;
    const char *source; /* the policy path, as in the messages */
    unsigned notes, warnings, errors;
    /* private */
    unsigned emitted;      /* findings written (JSON commas) */
    bool findings_closed;  /* JSON: the findings array is closed */
} cli_lint_report;

/* Prints and counts one finding: "file:line:col: warning: message [code]"
 * or a JSON object in the findings array.  Returns false (and drops the
 * finding) once a section has been opened. */
bool cli_lint_emit(cli_lint_report *r, const relaypol_finding *f);

/* Opens a section.  Plain text: prints nothing and returns r->out.  JSON:
 * writes `"name":` and returns the stream for its value. */
FILE *cli_lint_section(cli_lint_report *r, const char *name);

/* Called by `relaypol lint` after the library's findings when
 * cli_review.c provides it.  Returns CLI_EXIT_OK, or CLI_EXIT_ERROR after
 * reporting a failure on stderr. */
CLI_OPTIONAL int cli_review_lint(cli_lint_report *r, const relaypol_policy *p);

#endif /* RELAYPOL_CLI_H */
