/*
 * fuzz_addr: client address strings through rp_addr_parse_n, against the
 * C library's inet_pton — the strictness relaypol promises.
 *
 * Invariants:
 *   - for input without brackets, rp_addr_parse_n accepts exactly what
 *     inet_pton accepts (AF_INET6 when there is a ':', AF_INET otherwise)
 *     and yields the same bytes; a NUL inside the input is refused;
 *   - "[...]" is accepted exactly when it holds an IPv6 address;
 *   - an accepted address formats to text (RFC 5952) that parses back to
 *     the same bytes, and formats a second time identically;
 *   - a rejected one names a column inside the input;
 *   - relaypol_addr_parse (the NUL-terminated public entry) agrees, and
 *     so does rp_addr_parse_len (the bindings' entry, which takes a
 *     length and so refuses a NUL inside), leaving a refused output
 *     untouched.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *s, size_t n)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_addr: %s for input '%.*s' (%zu bytes)\n", what,
            (int)n, s, n);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    size_t n = size;
    char *s = malloc(n ? n : 1);
    char *z = malloc(n + 1);
    if (!s || !z) {
        free(s);
        free(z);
        return 0;
    }
    memcpy(s, data, n);
    memcpy(z, data, n);
    z[n] = '\0';

    relaypol_addr a;
    rp_perr e;
    memset(&e, 0, sizeof e);
    bool ok = rp_addr_parse_n(s, n, &a, &e);
    if (!ok)
        check(e.col <= n && e.msg[0], "bad error position or message", s, n);

    bool has_nul = memchr(s, '\0', n) != NULL;
    if (has_nul) {
        check(!ok, "NUL byte accepted", s, n);
    } else if (n > 0 && s[0] == '[') {
        bool want = false;
        uint8_t b[16];
        if (n >= 2 && s[n - 1] == ']') {
            char *in = strndup(s + 1, n - 2);
            /* Brackets are for IPv6 only: an IPv4 inside is refused. */
            want = in && strchr(in, ']') == NULL &&
                   inet_pton(AF_INET6, in, b) == 1;
            free(in);
        }
        check(ok == want, "bracketed form disagrees with inet_pton", s, n);
        if (ok)
            check(a.family == RELAYPOL_AF_INET6 && memcmp(a.bytes, b, 16) == 0,
                  "bracketed bytes differ", s, n);
    } else {
        bool v6 = memchr(s, ':', n) != NULL;
        uint8_t b[16];
        bool want = inet_pton(v6 ? AF_INET6 : AF_INET, z, b) == 1;
        check(ok == want, want ? "refuses what inet_pton accepts"
                               : "accepts what inet_pton refuses",
              s, n);
        if (ok)
            check(a.family == (v6 ? RELAYPOL_AF_INET6 : RELAYPOL_AF_INET) &&
                      memcmp(a.bytes, b, v6 ? 16 : 4) == 0,
                  "bytes differ from inet_pton", s, n);
    }

    if (!has_nul) {
        relaypol_addr pub;
        memset(&pub, 0x5a, sizeof pub);
        relaypol_addr before = pub;
        relaypol_status st = relaypol_addr_parse(z, &pub);
        check((st == RELAYPOL_OK) == ok, "public parser disagrees", s, n);
        if (ok)
            check(rp_addr_equal(&pub, &a), "public parser bytes differ", s, n);
        else
            check(memcmp(&pub, &before, sizeof pub) == 0,
                  "failed parse touched the output", s, n);
    }

    {
        relaypol_addr bl;
        memset(&bl, 0xa5, sizeof bl);
        relaypol_addr before = bl;
        relaypol_status st = rp_addr_parse_len(s, n, &bl);
        check((st == RELAYPOL_OK) == ok, "length parser disagrees", s, n);
        if (ok)
            check(rp_addr_equal(&bl, &a), "length parser bytes differ", s, n);
        else
            check(memcmp(&bl, &before, sizeof bl) == 0,
                  "failed length parse touched the output", s, n);
    }

    if (ok) {
        char buf[RELAYPOL_ADDR_STRLEN];
        size_t len = relaypol_addr_format(&a, buf, sizeof buf);
        check(len > 0 && len == strlen(buf), "cannot format", s, n);
        relaypol_addr back;
        check(rp_addr_parse_n(buf, len, &back, NULL) &&
                  rp_addr_equal(&back, &a),
              "formatted text means another address", s, n);
        char buf2[RELAYPOL_ADDR_STRLEN];
        size_t len2 = relaypol_addr_format(&back, buf2, sizeof buf2);
        check(len2 == len && memcmp(buf, buf2, len) == 0,
              "formatting is not stable", s, n);
        /* The canonical text is what inet_ntop writes, modulo its choice
         * for IPv4-mapped addresses (both use the dotted tail). */
        char nt[INET6_ADDRSTRLEN];
        if (inet_ntop(a.family == RELAYPOL_AF_INET ? AF_INET : AF_INET6,
                      a.bytes, nt, sizeof nt))
            check(strcmp(nt, buf) == 0 || a.family == RELAYPOL_AF_INET6,
                  "IPv4 text differs from inet_ntop", s, n);
        check(relaypol_addr_format(&a, buf, len) == 0,
              "short buffer not refused", s, n);
        /* Folding a mapped address gives IPv4 and is idempotent. */
        relaypol_addr f = a;
        rp_addr_fold(&f);
        check(rp_addr_is_mapped(&a) ? f.family == RELAYPOL_AF_INET &&
                                          memcmp(f.bytes, a.bytes + 12, 4) == 0
                                    : rp_addr_equal(&f, &a),
              "folding", s, n);
    }
    free(s);
    free(z);
    return 0;
}
