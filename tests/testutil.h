/* Helpers shared by the Check programs. */
#ifndef RELAYPOL_TESTUTIL_H
#define RELAYPOL_TESTUTIL_H
#include <check.h>
#include <stddef.h>

#include "internal.h"

/* Runs one suite and returns the process exit status. */
int tu_run(Suite *s);
/* Path of a file below the source tree (static buffer). */
const char *tu_src(const char *rel);
/* Loads a policy from a string; fails the test with the error on failure. */
relaypol_policy *tu_load(const char *text);
#endif
