#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *tu_src(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("RELAYPOL_SRCDIR");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

bool tu_quick(void)
{
    const char *q = getenv("RELAYPOL_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

size_t tu_scale(size_t n)
{
    if (!tu_quick())
        return n;
    return n / 50 ? n / 50 : 1;
}

relaypol_policy *tu_load(const char *text)
{
    relaypol_policy *p = NULL;
    relaypol_error err;
    relaypol_status st = relaypol_policy_load_string(text, strlen(text),
                                                     "test", NULL, &p, &err);
    if (st != RELAYPOL_OK) {
        char msg[600];
        relaypol_error_format(&err, msg, sizeof msg);
        ck_abort_msg("policy failed to load: %s", msg);
    }
    return p;
}
