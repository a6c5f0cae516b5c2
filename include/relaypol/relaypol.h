/*
 * relaypol — relay policy decisions for SMTP servers.
 *
 * This header is the reference documentation of the library.  Every
 * declaration carries its contract: what it does, its parameters, what it
 * returns, its errors, who owns what, and whether it is thread-safe.
 *
 * The model:
 *   1. Load a policy (relaypol_policy_load_file / _load_string).  Loading
 *      parses and compiles the policy; it either succeeds completely or
 *      yields no policy and a filled-in relaypol_error naming the source,
 *      line, column and reason.
 *   2. A loaded policy is immutable.  Any number of threads may call
 *      relaypol_decide() on it at once: deciding never allocates, never
 *      locks and never writes to the policy.
 *   3. To replace a policy at run time, load a new one and publish it
 *      through a relaypol_slot; readers that still use the old one keep
 *      it alive through its reference count until they are done.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef RELAYPOL_RELAYPOL_H
#define RELAYPOL_RELAYPOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RELAYPOL_API marks the exported functions.  The library is built with
 * hidden default visibility, so nothing else leaves the shared object. */
#if defined(RELAYPOL_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define RELAYPOL_API __attribute__((visibility("default")))
#else
#define RELAYPOL_API
#endif

/* ---------------------------------------------------------------- version */

#define RELAYPOL_VERSION_MAJOR 0
#define RELAYPOL_VERSION_MINOR 1
#define RELAYPOL_VERSION_PATCH 0
#define RELAYPOL_VERSION_STRING "0.1.0"
/* Packed as MAJOR * 1000000 + MINOR * 1000 + PATCH. */
#define RELAYPOL_VERSION_NUMBER                                                \
    (RELAYPOL_VERSION_MAJOR * 1000000UL + RELAYPOL_VERSION_MINOR * 1000UL +     \
     RELAYPOL_VERSION_PATCH)

/* The version of the library actually linked, as a string ("0.1.0") and
 * packed like RELAYPOL_VERSION_NUMBER.  Compare with the macros to detect a
 * header/library mismatch.  Thread-safe; the string is static. */
RELAYPOL_API const char *relaypol_version(void);
RELAYPOL_API unsigned long relaypol_version_number(void);

/* ----------------------------------------------------------------- errors */

/* Every function that can fail returns one of these.  Values are stable. */
typedef enum relaypol_status {
    RELAYPOL_OK = 0,
    RELAYPOL_ERR_NOMEM = 1,   /* an allocation failed; nothing was kept */
    RELAYPOL_ERR_IO = 2,      /* the policy file could not be read */
    RELAYPOL_ERR_POLICY = 3,  /* the policy text is invalid (see the error) */
    RELAYPOL_ERR_LIMIT = 4,   /* a documented size limit was exceeded */
    RELAYPOL_ERR_ADDRESS = 5, /* not a strict IPv4 or IPv6 address */
    RELAYPOL_ERR_INVALID = 6  /* a bad argument: NULL, wrong struct size */
} relaypol_status;

/* A short static description of a status ("out of memory", ...).
 * Never NULL, also for unknown values.  Thread-safe. */
RELAYPOL_API const char *relaypol_strerror(relaypol_status status);

#define RELAYPOL_ERROR_TEXT_MAX 256

/* Filled in by the loaders.  Caller-owned; fixed-size buffers so that even
 * an out-of-memory failure can be reported.  line and column are 1-based;
 * 0 means "not about a particular line/column". */
typedef struct relaypol_error {
    relaypol_status status;
    uint32_t line;
    uint32_t column;
    char source[RELAYPOL_ERROR_TEXT_MAX];  /* file name, or the name given */
    char message[RELAYPOL_ERROR_TEXT_MAX]; /* what is wrong, for a human */
} relaypol_error;

/* Formats an error as "source:line:column: message" (the GNU convention
 * that editors understand; "source:line: message", "source: message" or
 * the message alone when line, column or source are unknown) into buf,
 * always NUL-terminated when len > 0.  Returns the length the full text
 * needs, like snprintf (0 for a NULL err).  Thread-safe. */
RELAYPOL_API size_t relaypol_error_format(const relaypol_error *err, char *buf,
                                          size_t len);

/* -------------------------------------------------------------- allocator */

/* One allocation function, as in Lua: with new_size == 0 it frees ptr and
 * returns NULL; otherwise it behaves like realloc(ptr, new_size) and
 * returns NULL on failure (leaving ptr untouched).  old_size is the size
 * ptr was last allocated with (0 when ptr is NULL), so that a fixed arena
 * needs no headers.  ud is the user data given with it. */
typedef void *(*relaypol_alloc_fn)(void *ud, void *ptr, size_t old_size,
                                   size_t new_size);

/* ---------------------------------------------------------------- loading */

/* Load flags. */
/* Keep entries whose net has bits outside its mask (192.168.1.5;
 * 255.255.255.0) with their literal meaning under the seed's formula —
 * they never match — and report a warning, instead of refusing them.
 * Same as "LiteralMasks = yes" in the policy file. */
#define RELAYPOL_LOAD_LITERAL_MASKS 0x1u

/* Options for loading.  Initialise with relaypol_load_options_init(); the
 * struct is append-only and `size` tells the library which fields exist. */
typedef struct relaypol_load_options {
    size_t size;             /* sizeof(relaypol_load_options) */
    uint32_t flags;          /* RELAYPOL_LOAD_* */
    relaypol_alloc_fn alloc; /* NULL: the C library's malloc family */
    void *alloc_ud;          /* passed to alloc */
} relaypol_load_options;

/* Sets defaults: no flags, the C library's allocator. */
RELAYPOL_API void relaypol_load_options_init(relaypol_load_options *opts);

/* A compiled, immutable policy.  Opaque. */
typedef struct relaypol_policy relaypol_policy;

/* Parses and compiles the policy in text[0..len) (NUL bytes in it are an
 * error).  source names it in error messages (NULL: "<string>").  opts may
 * be NULL for defaults.
 * On success stores a new policy with one reference in *out and returns
 * RELAYPOL_OK.  On failure stores NULL in *out, fills *err (if err is not
 * NULL) and returns the status; everything allocated is freed.
 * Errors: RELAYPOL_ERR_POLICY (the text is invalid), RELAYPOL_ERR_LIMIT
 * (a limit below, or a user name over 256 bytes), RELAYPOL_ERR_NOMEM,
 * RELAYPOL_ERR_INVALID (out NULL, text NULL with len > 0, opts->size too
 * small).
 * Ownership: the caller owns *out; release it with relaypol_policy_free().
 * text is only read during the call.  Thread-safe (no shared state). */
RELAYPOL_API relaypol_status relaypol_policy_load_string(
    const char *text, size_t len, const char *source,
    const relaypol_load_options *opts, relaypol_policy **out,
    relaypol_error *err);

/* As relaypol_policy_load_string(), reading the file at path (at most
 * RELAYPOL_MAX_FILE_SIZE bytes).  Errors: RELAYPOL_ERR_IO when the file
 * cannot be read, RELAYPOL_ERR_LIMIT when it is too large,
 * RELAYPOL_ERR_INVALID for a NULL path or out, and the load errors above.
 * Built with -Dfile_io=false it always fails with RELAYPOL_ERR_IO. */
RELAYPOL_API relaypol_status relaypol_policy_load_file(
    const char *path, const relaypol_load_options *opts,
    relaypol_policy **out, relaypol_error *err);

/* Takes another reference to p (an atomic increment) and returns p.
 * Thread-safe.  p must not be NULL. */
RELAYPOL_API relaypol_policy *relaypol_policy_ref(relaypol_policy *p);

/* Drops one reference; the last one frees the policy.  NULL is a no-op.
 * Thread-safe with respect to other references. */
RELAYPOL_API void relaypol_policy_free(relaypol_policy *p);

/* Bytes of memory the policy holds (as requested from the allocator);
 * 0 for NULL. */
RELAYPOL_API size_t relaypol_policy_memory(const relaypol_policy *p);

/* Documented limits; beyond them loading fails with RELAYPOL_ERR_LIMIT. */
#define RELAYPOL_MAX_FILE_SIZE (256u * 1024u * 1024u) /* bytes */
#define RELAYPOL_MAX_LINE 4096u                       /* bytes per line */
#define RELAYPOL_MAX_ENTRIES 16000000u                /* list entries */

/* ----------------------------------------------------- publishing (reload) */

/* A slot holds the current policy of a long-running server.  Readers take
 * a reference with relaypol_slot_acquire(), decide, and drop it; a reloader
 * builds a new policy and relaypol_slot_store()s it.  A reader therefore
 * always works on one complete policy, and the old policy is freed when
 * its last reader drops it.  The critical section is a pointer copy and a
 * reference-count increment under a spin lock (no system calls). */
typedef struct relaypol_slot relaypol_slot;

/* Creates a slot holding its own reference to initial (which may be
 * NULL).  alloc may be NULL (malloc).  Returns RELAYPOL_OK,
 * RELAYPOL_ERR_NOMEM, or RELAYPOL_ERR_INVALID when out is NULL. */
RELAYPOL_API relaypol_status relaypol_slot_new(relaypol_policy *initial,
                                               relaypol_alloc_fn alloc,
                                               void *alloc_ud,
                                               relaypol_slot **out);

/* Returns a new reference to the current policy (NULL if none); the
 * caller releases it with relaypol_policy_free().  Thread-safe. */
RELAYPOL_API relaypol_policy *relaypol_slot_acquire(relaypol_slot *slot);

/* Makes p the current policy (the slot takes its own reference; p may be
 * NULL) and drops the slot's reference to the previous one.  Thread-safe. */
RELAYPOL_API void relaypol_slot_store(relaypol_slot *slot, relaypol_policy *p);

/* Drops the slot's reference and frees the slot.  NULL is a no-op.  No
 * other thread may use the slot any more. */
RELAYPOL_API void relaypol_slot_free(relaypol_slot *slot);

/* -------------------------------------------------------------- addresses */

#define RELAYPOL_AF_NONE 0  /* unknown / not given */
#define RELAYPOL_AF_INET 4  /* IPv4: bytes[0..3], network order */
#define RELAYPOL_AF_INET6 6 /* IPv6: bytes[0..15], network order */

/* A binary IP address.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * always decided as the IPv4 address a.b.c.d: otherwise a client could
 * slip past an IPv4 deny list by connecting over a dual-stack socket. */
typedef struct relaypol_addr {
    uint8_t family; /* RELAYPOL_AF_* */
    uint8_t bytes[16];
} relaypol_addr;

/* The longest text relaypol_addr_format() writes, with its NUL. */
#define RELAYPOL_ADDR_STRLEN 46

/* Parses a NUL-terminated IPv4 dotted quad or IPv6 address as strictly as
 * inet_pton(): no shorthand ("10.1"), no leading zeros or octal ("010.0.0.1"),
 * no hex, no signs, no surrounding space, no zone ("%eth0"), no prefix.
 * Also accepts an IPv6 address in brackets ("[::1]").  An IPv4-mapped
 * address stays IPv6 here; relaypol_decide() folds it.  Returns
 * RELAYPOL_ERR_ADDRESS (out untouched), RELAYPOL_ERR_INVALID for a NULL
 * argument, or RELAYPOL_OK.  Thread-safe. */
RELAYPOL_API relaypol_status relaypol_addr_parse(const char *text,
                                                 relaypol_addr *out);

/* Builds an address from 4 (IPv4) or 16 (IPv6) bytes in network order.
 * Returns RELAYPOL_ERR_INVALID for any other length. */
RELAYPOL_API relaypol_status relaypol_addr_from_bytes(const void *bytes,
                                                      size_t len,
                                                      relaypol_addr *out);

struct sockaddr;
/* Builds an address from a struct sockaddr_in or sockaddr_in6 (as given by
 * accept() or getsockname()).  Returns RELAYPOL_ERR_INVALID for any other
 * family. */
RELAYPOL_API relaypol_status relaypol_addr_from_sockaddr(
    const struct sockaddr *sa, relaypol_addr *out);

/* Writes the address in its canonical text form (RFC 5952 for IPv6) into
 * buf.  Returns the length written without the NUL, or 0 when len is too
 * small (use RELAYPOL_ADDR_STRLEN) or the family is not 4 or 6. */
RELAYPOL_API size_t relaypol_addr_format(const relaypol_addr *addr, char *buf,
                                         size_t len);

/* --------------------------------------------------------------- deciding */

/* Request flags. */
#define RELAYPOL_REQ_TLS 0x1u /* the SMTP session is TLS-protected */
/* The recipient is in Postfix's internal form (policy delegation's
 * "recipient" attribute): no angle brackets, quotes already removed,
 * source route already dropped.  Any '@', '%' or '!' left before the last
 * '@' is routing. */
#define RELAYPOL_REQ_RCPT_INTERNAL 0x2u

/* One RCPT TO event.  Initialise with relaypol_request_init(); the struct
 * is append-only and `size` tells the library which fields exist: a later
 * library accepts the size of every earlier layout (the smallest is
 * 0.1's) and reads only the fields that size covers.  The library only
 * reads it, during relaypol_decide(). */
typedef struct relaypol_request {
    size_t size;          /* sizeof(relaypol_request) */
    relaypol_addr client; /* the connecting client; required */
    relaypol_addr local;  /* the local address it reached; AF_NONE: unknown */
    const char *recipient;  /* the RCPT TO argument (see below) */
    size_t recipient_len;   /* its length in bytes */
    const char *user;       /* authenticated identity; NULL: not authenticated */
    const char *client_name; /* host name if known, for the explanation; or NULL */
    uint32_t flags;          /* RELAYPOL_REQ_* */
} relaypol_request;

/* The recipient is the RCPT TO argument as the client sent it: with or
 * without angle brackets, possibly followed by ESMTP parameters
 * ("<a@example.com> NOTIFY=NEVER").  See relaypol(3) for how routing
 * syntax (%-hacks, bang paths, source routes, quoted '@') is treated. */

/* Zeroes the request and sets its size. */
RELAYPOL_API void relaypol_request_init(relaypol_request *req);

typedef enum relaypol_verdict {
    RELAYPOL_LOCAL = 1, /* for an accepted domain: submission, not relaying */
    RELAYPOL_RELAY = 2, /* relaying allowed */
    RELAYPOL_DENY = 3   /* refused: give the decision's reply at RCPT time */
} relaypol_verdict;

/* Which rule decided.  The first group follows the RelayFlags evaluation
 * order of Exchange 5.5 (Microsoft KB Q193922). */
typedef enum relaypol_step {
    RELAYPOL_STEP_ACCEPTED_DOMAIN = 1, /* recipient domain is accepted */
    RELAYPOL_STEP_LOCAL_LITERAL = 2,   /* domain literal names this server */
    RELAYPOL_STEP_DENY_LIST = 3,       /* bit 1 and the client is listed */
    RELAYPOL_STEP_ALLOW_LIST = 4,      /* bit 2 and the client is listed */
    RELAYPOL_STEP_LOCAL_IP_LIST = 5,   /* bit 3 and the local address is listed */
    RELAYPOL_STEP_AUTHENTICATED = 6,   /* bit 4 and the client authenticated */
    RELAYPOL_STEP_ONLY_DENY_BIT = 7,   /* RelayFlags == 1: everyone not denied */
    RELAYPOL_STEP_NO_RULE = 8,         /* no rule allows relaying */
    RELAYPOL_STEP_BAD_RECIPIENT = 9,   /* the recipient is malformed */
    RELAYPOL_STEP_SUBMISSION = 10      /* submission to an accepted domain refused */
} relaypol_step;

/* Routing syntax found before the recipient's final domain (a bit set).
 * Any of it makes the recipient "routed": by default never local delivery,
 * so only clients allowed to relay get it. */
#define RELAYPOL_ROUTE_PERCENT 0x01u  /* user%host@domain */
#define RELAYPOL_ROUTE_BANG 0x02u     /* host!user@domain (UUCP bang path) */
#define RELAYPOL_ROUTE_SOURCE 0x04u   /* @hop1,@hop2:user@domain */
#define RELAYPOL_ROUTE_QUOTED_AT 0x08u /* "user@host"@domain */
#define RELAYPOL_ROUTE_EXTRA_AT 0x10u /* user@host@domain (internal form) */
#define RELAYPOL_ROUTE_LITERAL 0x20u  /* the domain is an address literal */

/* Why a recipient is malformed (RELAYPOL_STEP_BAD_RECIPIENT). */
typedef enum relaypol_rcpt_error {
    RELAYPOL_RCPT_OK = 0,
    RELAYPOL_RCPT_EMPTY = 1,           /* nothing, or "<>" */
    RELAYPOL_RCPT_TOO_LONG = 2,        /* path over 256 octets */
    RELAYPOL_RCPT_LOCAL_TOO_LONG = 3,  /* local part over 64 octets */
    RELAYPOL_RCPT_DOMAIN_TOO_LONG = 4, /* domain over 255 octets */
    RELAYPOL_RCPT_LABEL_TOO_LONG = 5,  /* a label over 63 octets */
    RELAYPOL_RCPT_CONTROL = 6,         /* NUL or another control character */
    RELAYPOL_RCPT_EMPTY_LABEL = 7,     /* "a..b", ".a", "a." inside */
    RELAYPOL_RCPT_UNBALANCED_QUOTE = 8,
    RELAYPOL_RCPT_UNBALANCED_BRACKET = 9, /* '<' or '[' without its pair */
    RELAYPOL_RCPT_BAD_LITERAL = 10,    /* "[...]" that is no valid address */
    RELAYPOL_RCPT_BAD_LOCAL_PART = 11, /* characters not allowed unquoted */
    RELAYPOL_RCPT_BAD_DOMAIN = 12,     /* characters not allowed in a name */
    RELAYPOL_RCPT_NO_DOMAIN = 13,      /* "user" alone (other than postmaster) */
    RELAYPOL_RCPT_BAD_ROUTE = 14,      /* malformed source route */
    RELAYPOL_RCPT_NON_ASCII = 15,      /* raw 8-bit bytes (SMTPUTF8 unsupported) */
    RELAYPOL_RCPT_BAD_PARAMETER = 16,  /* junk after the path */
    RELAYPOL_RCPT_EXTRA_AT = 17        /* a second unquoted '@' */
} relaypol_rcpt_error;

/* What happened to the client's authentication (for logs and tests). */
typedef enum relaypol_auth {
    RELAYPOL_AUTH_NONE = 0,        /* the client did not authenticate */
    RELAYPOL_AUTH_USED = 1,        /* authenticated relay decided */
    RELAYPOL_AUTH_NOT_ENABLED = 2, /* authenticated, but bit 4 is off */
    RELAYPOL_AUTH_NOT_LISTED = 3,  /* authenticated, not in RelayUsers */
    RELAYPOL_AUTH_NO_TLS = 4,      /* authenticated without TLS, and TLS is required */
    RELAYPOL_AUTH_NOT_NEEDED = 5   /* authenticated; an earlier rule decided */
} relaypol_auth;

/* The answer.  Written by relaypol_decide(); initialise with
 * relaypol_decision_init() so that `size` is set.  Strings are borrowed
 * from the policy (or static) and stay valid while the policy lives. */
typedef struct relaypol_decision {
    size_t size;              /* sizeof(relaypol_decision) */
    relaypol_verdict verdict;
    relaypol_step step;
    uint32_t route;            /* RELAYPOL_ROUTE_* bits seen in the recipient */
    relaypol_rcpt_error rcpt_error; /* for RELAYPOL_STEP_BAD_RECIPIENT */
    relaypol_auth auth;
    const char *entry;   /* the list entry or user/group that decided, as
                            written in the policy; NULL when none did */
    uint32_t entry_line; /* its line in the policy source; 0 when none */
    const char *reply;   /* the SMTP reply to send for this RCPT, e.g.
                            "550 5.7.1 Relaying denied" or "250 2.1.5 Ok" */
    relaypol_addr client; /* the client as decided (IPv4-mapped folded) */
} relaypol_decision;

/* Zeroes the decision and sets its size. */
RELAYPOL_API void relaypol_decision_init(relaypol_decision *d);

/* Decides one RCPT TO.  Never allocates, never locks, never writes to the
 * policy: thread-safe on a shared policy.  Returns RELAYPOL_OK with *out
 * filled in, or RELAYPOL_ERR_INVALID (and *out untouched) when an
 * argument is NULL, a struct size is smaller than the 0.1 layout, the
 * client address is missing, the local address has an unknown family, or
 * the recipient is NULL with a non-zero length.  A malformed recipient is
 * not an error: it is a DENY with RELAYPOL_STEP_BAD_RECIPIENT.  `entry`
 * names a list entry, a RelayUsers token or an accepted-domain pattern;
 * user names longer than 1024 bytes never match RelayUsers. */
RELAYPOL_API relaypol_status relaypol_decide(const relaypol_policy *policy,
                                             const relaypol_request *req,
                                             relaypol_decision *out);

/* Writes a one-line explanation for logs — verdict, step, client address,
 * client name, authenticated account, recipient, and the entry and line
 * that decided — into buf, NUL-terminated when len > 0.  Control
 * characters from the request are escaped; the recipient is cut at 512
 * bytes and names at 255.  Returns the length the full text needs, like
 * snprintf (0, with an empty string, for NULL d or req).  Thread-safe. */
RELAYPOL_API size_t relaypol_explain(const relaypol_decision *d,
                                     const relaypol_request *req, char *buf,
                                     size_t len);

/* Stable lower-case names: "local"/"relay"/"deny"; "accepted-domain",
 * "deny-list", ...; a recipient error's description; an auth state's
 * name.  Static strings, never NULL ("unknown" for bad values). */
RELAYPOL_API const char *relaypol_verdict_name(relaypol_verdict v);
RELAYPOL_API const char *relaypol_step_name(relaypol_step s);
RELAYPOL_API const char *relaypol_rcpt_error_name(relaypol_rcpt_error e);
RELAYPOL_API const char *relaypol_auth_name(relaypol_auth a);
/* The name of one RELAYPOL_ROUTE_* bit: "percent", "bang", "source-route",
 * "quoted-at", "extra-at" or "literal" (the words AllowRouting takes);
 * "unknown" for anything else. */
RELAYPOL_API const char *relaypol_route_name(uint32_t bit);

/* ------------------------------------------------------------ inspection */

/* The effective RelayFlags value (0-15) of a policy, after Role,
 * RelayComputers and AuthenticatedRelay are applied; 0 for NULL. */
RELAYPOL_API unsigned relaypol_policy_relay_flags(const relaypol_policy *p);

typedef enum relaypol_severity {
    RELAYPOL_NOTE = 0,    /* information, e.g. what a Role expands to */
    RELAYPOL_WARNING = 1,
    RELAYPOL_ERROR = 2
} relaypol_severity;

/* One finding of relaypol_policy_lint(). Strings are valid during the
 * callback only. */
typedef struct relaypol_finding {
    relaypol_severity severity;
    const char *code;    /* stable identifier, e.g. "host-bits" */
    uint32_t line;       /* 0 when about the whole policy */
    uint32_t column;
    const char *message; /* for a human */
} relaypol_finding;

/* Called once per finding; return non-zero to stop early. */
typedef int (*relaypol_finding_fn)(void *ud, const relaypol_finding *f);

/* Reports the warnings of a loaded policy in line order: entries whose net
 * has bits outside the mask (kept literally), non-contiguous masks,
 * IPv4-mapped entries, duplicates, entries shadowed by a wider one, lists
 * whose RelayFlags bit is off, and risky settings.  Returns RELAYPOL_OK
 * (also when the callback stopped early), RELAYPOL_ERR_NOMEM (then no
 * finding was reported), or RELAYPOL_ERR_INVALID for NULL p or fn.
 * Allocates temporarily through the policy's allocator: thread-safe when
 * that allocator is. */
RELAYPOL_API relaypol_status relaypol_policy_lint(const relaypol_policy *p,
                                                  relaypol_finding_fn fn,
                                                  void *ud);

#ifdef __cplusplus
}
#endif

#endif /* RELAYPOL_RELAYPOL_H */
