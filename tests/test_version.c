/*
 * Versions: the compile-time macros, the run-time functions and the
 * project version in meson.build must all say the same thing.  A release
 * that bumps one and forgets another would make relaypol_version() lie to
 * integrators, and the header/library mismatch check it exists for would
 * then report nonsense.
 *
 * meson passes no version to the tests, so the project version is read
 * from meson.build itself (RELAYPOL_SRCDIR).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The three numbers of a "MAJOR.MINOR.PATCH" string, strictly: decimal
 * digits without leading zeros, nothing before or after. */
static int parse_version(const char *s, unsigned long v[3])
{
    for (int i = 0; i < 3; i++) {
        if (*s < '0' || *s > '9')
            return 0;
        if (*s == '0' && s[1] >= '0' && s[1] <= '9')
            return 0;
        char *end;
        v[i] = strtoul(s, &end, 10);
        s = end;
        if (i < 2) {
            if (*s != '.')
                return 0;
            s++;
        }
    }
    return *s == '\0';
}

START_TEST(macros_agree)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", RELAYPOL_VERSION_MAJOR,
             RELAYPOL_VERSION_MINOR, RELAYPOL_VERSION_PATCH);
    ck_assert_str_eq(buf, RELAYPOL_VERSION_STRING);
    ck_assert_uint_eq(RELAYPOL_VERSION_NUMBER,
                      RELAYPOL_VERSION_MAJOR * 1000000UL +
                          RELAYPOL_VERSION_MINOR * 1000UL +
                          RELAYPOL_VERSION_PATCH);
    /* The packing only works while minor and patch stay below 1000. */
    ck_assert_int_lt(RELAYPOL_VERSION_MINOR, 1000);
    ck_assert_int_lt(RELAYPOL_VERSION_PATCH, 1000);
    ck_assert_int_ge(RELAYPOL_VERSION_MAJOR, 0);
}
END_TEST

START_TEST(runtime_agrees_with_macros)
{
    const char *v = relaypol_version();
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, RELAYPOL_VERSION_STRING);
    /* Static: the same pointer every time, never freed by the caller. */
    ck_assert_ptr_eq(v, relaypol_version());
    ck_assert_uint_eq(relaypol_version_number(), RELAYPOL_VERSION_NUMBER);

    unsigned long n[3];
    ck_assert_msg(parse_version(v, n), "relaypol_version() is '%s'", v);
    ck_assert_uint_eq(relaypol_version_number(),
                      n[0] * 1000000UL + n[1] * 1000UL + n[2]);
}
END_TEST

/* Finds `version : '...'` in the project() call of meson.build. */
static int meson_version(char *out, size_t len)
{
    FILE *f = fopen(tu_src("meson.build"), "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "version", 7) != 0)
            continue;
        p += 7;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != ':')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '\'')
            continue;
        const char *q = strchr(p, '\'');
        if (!q || (size_t)(q - p) >= len)
            continue;
        memcpy(out, p, (size_t)(q - p));
        out[q - p] = '\0';
        found = 1;
    }
    fclose(f);
    return found;
}

START_TEST(meson_project_version_agrees)
{
    if (!getenv("RELAYPOL_SRCDIR"))
        ck_abort_msg("RELAYPOL_SRCDIR is not set (run through meson test)");
    char v[64];
    ck_assert_msg(meson_version(v, sizeof v),
                  "no \"version : '...'\" line in %s",
                  tu_src("meson.build"));
    ck_assert_str_eq(v, RELAYPOL_VERSION_STRING);
    ck_assert_str_eq(v, relaypol_version());
}
END_TEST

START_TEST(parse_version_is_strict)
{
    unsigned long n[3];
    ck_assert(parse_version("0.1.0", n));
    ck_assert_uint_eq(n[1], 1);
    ck_assert(parse_version("12.345.6", n));
    ck_assert(!parse_version("0.1", n));
    ck_assert(!parse_version("0.1.0.1", n));
    ck_assert(!parse_version("0.01.0", n));
    ck_assert(!parse_version("v0.1.0", n));
    ck_assert(!parse_version("0.1.0-rc1", n));
    ck_assert(!parse_version("", n));
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");
    tcase_add_test(tc, parse_version_is_strict);
    tcase_add_test(tc, macros_agree);
    tcase_add_test(tc, runtime_agrees_with_macros);
    tcase_add_test(tc, meson_project_version_agrees);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(version_suite());
}
