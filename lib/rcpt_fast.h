/*
 * The recipient parser's vector path for the commonest RCPT TO shape,
 * inline: the decision calls it directly, so that the parsed recipient
 * stays in registers instead of going through a call and a struct in
 * memory.  Everything it does not take goes to rp_rcpt_parse_rest() in
 * recipient.c, which also owns the rules this path must agree with.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_RCPT_FAST_H
#define RELAYPOL_RCPT_FAST_H

#include "internal.h"

/* Whatever the vector path does not take: the scalar fast path, then the
 * full parser (recipient.c).  Out of line, so that the common path keeps
 * its registers. */
relaypol_rcpt_error rp_rcpt_parse_rest(const char *s, size_t n, int mode,
                                       rp_rcpt *out);

#if defined(RP_SSE2)

static inline __m128i rp_rcpt_load(const char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Where the bytes of s[0..n) stand, one bit per byte (bit k for s[k]),
 * for an input of 16 to 64 bytes. */
typedef struct rp_rcpt_bits {
    uint64_t alnum; /* letters and digits */
    uint64_t dot;   /* '.' */
    uint64_t hyph;  /* '-' */
} rp_rcpt_bits;

/* The classes of the sixteen bytes at s + at, ORed into *m shifted left
 * by `at`.  A range check is one signed compare: adding 0x80 - lo moves
 * [lo, lo + w) onto [-128, -128 + w), and every other byte, 8-bit ones
 * included, lands above it.  Letters are one range once case is folded
 * with | 0x20. */
static inline void rp_rcpt_classify(const char *s, unsigned at,
                                    rp_rcpt_bits *m)
{
    __m128i b = rp_rcpt_load(s + at);
    __m128i f = _mm_or_si128(b, _mm_set1_epi8(0x20));
    __m128i alpha = _mm_cmplt_epi8(_mm_add_epi8(f, _mm_set1_epi8(0x1f)),
                                   _mm_set1_epi8(-128 + 26)); /* a-z */
    __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(b, _mm_set1_epi8(0x50)),
                                   _mm_set1_epi8(-128 + 10)); /* 0-9 */
    __m128i alnum = _mm_or_si128(alpha, digit);
    __m128i dot = _mm_cmpeq_epi8(b, _mm_set1_epi8('.'));
    __m128i hyph = _mm_cmpeq_epi8(b, _mm_set1_epi8('-'));
    m->alnum |= (uint64_t)(uint32_t)_mm_movemask_epi8(alnum) << at;
    m->dot |= (uint64_t)(uint32_t)_mm_movemask_epi8(dot) << at;
    m->hyph |= (uint64_t)(uint32_t)_mm_movemask_epi8(hyph) << at;
}

/* Where '_', '+' and '/' stand: atext that may stand in a local part but
 * not in a name.  Rarer, so only looked for when the path has other
 * bytes than letters, digits, '.', '-' and the '@' (recipient.c). */
uint64_t rp_rcpt_local_only(const char *s, size_t n, unsigned tail);

/* The commonest shape again, sixteen bytes at a time (SSE2 is part of
 * every x86-64), for a whole input of 16 to 64 bytes, brackets included:
 * bit masks of the classes above over every byte of s[0..n), then the
 * rules of parse_fast as a few bit operations, with no branch that
 * depends on where the dots fall (the scalar loop mispredicts at each
 * one).  The loads are fixed: s[0..16), s[16..32) and s[32..48) as far as
 * they lie before the last sixteen bytes, and s[n-16..n) shifted into
 * place; where two overlap their bits agree.  Nothing outside s[0..n) is
 * read.
 *
 * To stay short it is stricter than it need be, and leaves to parse_fast
 * whatever it does not take: the local part holds only letters, digits
 * and ". - _ + /", and neither it nor the name may have a '.' next to a
 * '-' (in a name that is a label starting or ending with '-'; in a
 * Dot-string it is legal but rare).  The rules are then the same on both
 * sides of the '@'; in the internal form, whose local part may have any
 * dots, a dot first, last or doubled is left to parse_fast too. */
static inline bool rp_rcpt_fast_sse2(const char *s, size_t n, int mode,
                                     rp_rcpt *out)
{
    unsigned tail = (unsigned)n - 16;
    rp_rcpt_bits m = {0, 0, 0};
    rp_rcpt_classify(s, 0, &m);
    if (n > 32) {
        rp_rcpt_classify(s, 16, &m);
        if (n > 48)
            rp_rcpt_classify(s, 32, &m);
    }
    rp_rcpt_classify(s, tail, &m);

    uint64_t top = (uint64_t)0x8000 << tail; /* s[n - 1] */
    uint64_t all = (top << 1) - 1;            /* s[0..n); n = 64 too */
    /* The path is s[br..n-br): inside the brackets if there are both. */
    unsigned br = mode != RP_RCPT_INTERNAL && s[0] == '<' && s[n - 1] == '>';
    uint64_t first = 1 + br;             /* the path's first byte */
    uint64_t last = br ? top >> 1 : top; /* and its last */

    /* Exactly one byte of the path is neither alphanumeric nor '.' nor
     * '-', and it is the '@'; or the others are '_', '+' or '/' in the
     * local part, before it. */
    uint64_t odd = m.alnum ^ m.dot ^ m.hyph ^ all ^ (br ? top | 1 : 0);
    if (odd == 0)
        return false;
    if ((odd & (odd - 1)) != 0) {
        uint64_t local = rp_rcpt_local_only(s, n, tail);
        uint64_t rest = odd & ~local;
        if (rest == 0 || (rest & (rest - 1)) != 0 || local > rest)
            return false;
        odd = rest;
    }
    size_t a = (unsigned)__builtin_ctzll(odd);
    if (s[a] != '@')
        return false;
    uint64_t at = odd;

    /* Of two neighbours among '.', '-' and '@' only "--" and "-@" may
     * stand: this refuses empty atoms and labels, labels starting or
     * ending with '-', an empty domain ("x@.") and a local part ending
     * with '.'.  The path may not start with '.' or '@' (an empty local
     * part) nor end with '-' or '@' (an empty domain); a '.' at the end is
     * the root. */
    uint64_t sep = m.dot | m.hyph | at;
    uint64_t bad = sep & (sep >> 1) & (~m.hyph | (m.dot >> 1));
    bad |= ((m.dot | at) & first) | ((m.hyph | at) & last);
    if (bad != 0)
        return false;
    size_t root = (m.dot & last) != 0; /* "example.org." */
    /* Everything else zero, as the full parser leaves it. */
    *out = (rp_rcpt){.domain = s + a + 1,
                     .domain_len = n - br - root - a - 1};
    return true;
}
#endif /* RP_SSE2 */

/* rp_rcpt_parse(), inline. */
static inline relaypol_rcpt_error rp_rcpt_parse_inline(const char *s,
                                                       size_t n, int mode,
                                                       rp_rcpt *out)
{
#if defined(RP_SSE2)
    /* n - 16 wraps for n < 16. */
    if (s && n - 16 <= 48 && rp_rcpt_fast_sse2(s, n, mode, out))
        return RELAYPOL_RCPT_OK;
#endif
    return rp_rcpt_parse_rest(s, n, mode, out);
}

#endif
