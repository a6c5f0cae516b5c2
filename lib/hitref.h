/*
 * Deciding without reading the matched list entry's record, for callers
 * that may never look at it (the Python binding builds Decision.entry only
 * when it is read).  On a list of a million entries the record is a cache
 * miss of its own, after the address set's; a caller that wants only the
 * verdict should not wait for it.  Not part of the public API: the
 * binding links the library statically.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_HITREF_H
#define RELAYPOL_HITREF_H

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

/* Fills in out->entry and out->entry_line from *ref, as relaypol_decide()
 * would have, and clears ref->pos.  p must be the policy that decided.
 * Nothing to do when ref->pos is -1. */
void rp_hitref_resolve(const relaypol_policy *p, rp_hitref *ref,
                       relaypol_decision *out);

#endif /* RELAYPOL_HITREF_H */
