/* Helpers shared by the Check programs. */
#ifndef RELAYPOL_TESTUTIL_H
#define RELAYPOL_TESTUTIL_H
#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/* Runs one suite and returns the process exit status. */
int tu_run(Suite *s);
/* Path of a file below the source tree (static buffer). */
const char *tu_src(const char *rel);
/* n, or a fiftieth of it (at least 1) when RELAYPOL_TEST_QUICK is set:
 * randomized loops shrink under valgrind, whose 50x slowdown would
 * otherwise keep them out of the memcheck run. */
size_t tu_scale(size_t n);
/* Whether RELAYPOL_TEST_QUICK is set: exhaustive loops sample instead. */
bool tu_quick(void);
/* Loads a policy from a string; fails the test with the error on failure. */
relaypol_policy *tu_load(const char *text);
#endif
