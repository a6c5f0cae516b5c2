/*
 * Internal entry points for the language bindings, which link the library
 * statically; not part of the public API.  They exist for speed: on a
 * list of a million entries a decision is a few cache misses, and a
 * Python call has little else to hide them behind.
 *
 * Deciding without reading the matched list entry's record is for callers
 * that may never look at it (the Python binding builds Decision.entry only
 * when it is read): on a big list the record is a cache miss of its own,
 * after the address set's, and a caller that wants only the verdict
 * should not wait for it.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_BINDING_H
#define RELAYPOL_BINDING_H

#include <stdint.h>

#include <relaypol/relaypol.h>

/* Which list entry decided, before its text and line are read. */
typedef struct rp_hitref {
    int32_t pos;  /* the entry's position in its address set; -1: none */
    uint8_t list; /* enum rp_list */
} rp_hitref;

/* relaypol_decide(), except that when an address-list entry decides,
 * out->entry and out->entry_line stay NULL and 0 and *ref says which
 * entry it was (ref->pos is -1 when none did, or when the entry is a
 * domain pattern or RelayUsers token: those are filled in as usual). */
relaypol_status rp_decide_deferred(const relaypol_policy *p,
                                   const relaypol_request *req,
                                   relaypol_decision *out, rp_hitref *ref);

/* Asks for the first memory a decision on this client will read (on a
 * big list, the address set's index entry), so that its cache miss
 * overlaps what the caller does before rp_decide_deferred(): the binding
 * converts the other arguments meanwhile.  Reads and writes nothing. */
void rp_decide_prefetch(const relaypol_policy *p, const relaypol_addr *client);

/* Fills in out->entry and out->entry_line from *ref, as relaypol_decide()
 * would have, and clears ref->pos.  p must be the policy that decided.
 * Nothing to do when ref->pos is -1. */
void rp_hitref_resolve(const relaypol_policy *p, rp_hitref *ref,
                       relaypol_decision *out);

/* relaypol_addr_parse() for text with a length (s[0..n), not NUL-terminated;
 * a NUL inside is an error like any other byte that is not part of an
 * address), so a binding holding a length need not scan for the end. */
relaypol_status rp_addr_parse_len(const char *s, size_t n, relaypol_addr *out);

#endif /* RELAYPOL_BINDING_H */
