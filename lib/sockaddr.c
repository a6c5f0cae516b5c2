/*
 * Addresses from the socket API (accept(), getsockname()).  Kept apart
 * from the text parsers so that bare-metal builds, which have no socket
 * headers, can leave this one file out.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
/* For struct sockaddr_in6 under -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

relaypol_status relaypol_addr_from_sockaddr(const struct sockaddr *sa,
                                            relaypol_addr *out)
{
    if (!sa || !out)
        return RELAYPOL_ERR_INVALID;
    /* Copied out rather than dereferenced through a cast: the caller's
     * storage may be a plain byte buffer or a sockaddr_storage. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        return relaypol_addr_from_bytes(&sin.sin_addr.s_addr, 4, out);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        return relaypol_addr_from_bytes(sin6.sin6_addr.s6_addr, 16, out);
    }
    return RELAYPOL_ERR_INVALID;
}
