/*
 * Statuses, error texts and the version: the small shared vocabulary of
 * the library.  No stdio here beyond vsnprintf for messages.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *relaypol_version(void)
{
    return RELAYPOL_VERSION_STRING;
}

unsigned long relaypol_version_number(void)
{
    return RELAYPOL_VERSION_NUMBER;
}

const char *relaypol_strerror(relaypol_status status)
{
    switch (status) {
    case RELAYPOL_OK:
        return "success";
    case RELAYPOL_ERR_NOMEM:
        return "out of memory";
    case RELAYPOL_ERR_IO:
        return "cannot read the policy";
    case RELAYPOL_ERR_POLICY:
        return "invalid policy";
    case RELAYPOL_ERR_LIMIT:
        return "limit exceeded";
    case RELAYPOL_ERR_ADDRESS:
        return "invalid IP address";
    case RELAYPOL_ERR_INVALID:
        return "invalid argument";
    }
    return "unknown status";
}

void rp_perr_set(rp_perr *e, size_t col, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    e->col = col;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

size_t relaypol_error_format(const relaypol_error *err, char *buf, size_t len)
{
    if (!err) {
        if (len > 0)
            buf[0] = '\0';
        return 0;
    }
    int n;
    if (err->line > 0 && err->column > 0)
        n = snprintf(buf, len, "%s:%u:%u: %s", err->source,
                     (unsigned)err->line, (unsigned)err->column, err->message);
    else if (err->line > 0)
        n = snprintf(buf, len, "%s:%u: %s", err->source, (unsigned)err->line,
                     err->message);
    else if (err->source[0])
        n = snprintf(buf, len, "%s: %s", err->source, err->message);
    else
        n = snprintf(buf, len, "%s", err->message);
    return n < 0 ? 0 : (size_t)n;
}
