/*
 * Reading a policy file: the library's only file I/O, kept apart so that
 * firmware builds (-Dfile_io=false) leave it out entirely.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#ifdef RELAYPOL_FILE_IO

static relaypol_status io_fail(relaypol_error *err, const char *path,
                               relaypol_status st, const char *what)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = st;
        snprintf(err->source, sizeof err->source, "%s", path);
        snprintf(err->message, sizeof err->message, "%s", what);
    }
    return st;
}

relaypol_status relaypol_policy_load_file(const char *path,
                                          const relaypol_load_options *opts,
                                          relaypol_policy **out,
                                          relaypol_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return io_fail(err, path ? path : "", RELAYPOL_ERR_INVALID,
                       "invalid argument to relaypol_policy_load_file");
    rp_alloc a;
    rp_alloc_init(&a, opts ? opts->alloc : NULL, opts ? opts->alloc_ud : NULL);

    FILE *f = fopen(path, "rb");
    if (!f)
        return io_fail(err, path, RELAYPOL_ERR_IO, strerror(errno));
    /* A regular file is read in one go into a buffer of its size plus the
     * byte that shows it ended there: a policy of a million lines was
     * read 64 KiB at a time, the buffer doubling (and being copied) as it
     * went.  The size is only a hint: the path may be a pipe, or a file
     * that grows while we read it, so reading goes on in chunks until
     * end of file. */
    size_t hint = 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size >= 0) {
        if ((unsigned long long)sb.st_size > RELAYPOL_MAX_FILE_SIZE) {
            fclose(f);
            return io_fail(err, path, RELAYPOL_ERR_LIMIT,
                           "policy file is larger than the 256 MiB limit");
        }
        hint = (size_t)sb.st_size + 1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    relaypol_status st = RELAYPOL_OK;
    for (;;) {
        /* Never ask for more than the limit plus one byte: that byte is
         * how a file just over the limit is recognised. */
        size_t want = len == 0 && hint ? hint : len + 65536;
        if (want > (size_t)RELAYPOL_MAX_FILE_SIZE + 1)
            want = (size_t)RELAYPOL_MAX_FILE_SIZE + 1;
        if (cap < want) {
            size_t ncap = cap ? cap * 2 : hint ? want : 65536;
            if (ncap < want)
                ncap = want;
            if (ncap > (size_t)RELAYPOL_MAX_FILE_SIZE + 1)
                ncap = (size_t)RELAYPOL_MAX_FILE_SIZE + 1;
            char *nb = rp_realloc(&a, buf, cap, ncap);
            if (!nb) {
                st = io_fail(err, path, RELAYPOL_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - len;
        size_t n = fread(buf + len, 1, room, f);
        len += n;
        if (len > RELAYPOL_MAX_FILE_SIZE) {
            st = io_fail(err, path, RELAYPOL_ERR_LIMIT,
                         "policy file is larger than the 256 MiB limit");
            break;
        }
        /* fread returns less than asked only at end of file or on an
         * error: no need to grow the buffer to learn that. */
        if (n < room) {
            if (ferror(f))
                st = io_fail(err, path, RELAYPOL_ERR_IO, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st == RELAYPOL_OK)
        st = relaypol_policy_load_string(buf ? buf : "", len, path, opts, out,
                                         err);
    rp_free(&a, buf, cap);
    return st;
}

#else

relaypol_status relaypol_policy_load_file(const char *path,
                                          const relaypol_load_options *opts,
                                          relaypol_policy **out,
                                          relaypol_error *err)
{
    (void)opts;
    if (out)
        *out = NULL;
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = RELAYPOL_ERR_IO;
        snprintf(err->source, sizeof err->source, "%s", path ? path : "");
        snprintf(err->message, sizeof err->message,
                 "built without file I/O (-Dfile_io=false)");
    }
    return RELAYPOL_ERR_IO;
}

#endif
