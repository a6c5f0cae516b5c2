/*
 * _relaypol: the CPython extension under the relaypol package.
 *
 * Only the public API (<relaypol/relaypol.h>) is used.  The library is
 * linked in statically, so the module has no run-time dependency on an
 * installed librelaypol.
 *
 * The split with relaypol/__init__.py: this file owns everything on the
 * decision path (argument conversion, the call, the Decision object),
 * because every Python-level call there would cost more than the decision
 * itself (~20-100 ns).  The package owns what Python does better: the
 * enums, the exception classes and the Finding tuple, which it hands over
 * once with _setup() at import.
 *
 * A decide(str) call costs the binding ~400 instructions (callgrind,
 * 2026-11-23; the library's decision was ~575): arguments are read by hand
 * from the vectorcall array; a str is read from its compact ASCII data
 * and handed to relaypol_addr_parse() (whose dotted-quad path is short);
 * an ipaddress object is read from its integer,
 * not .packed; nothing is allocated but the Decision, which comes from a
 * small free list.  A Decision holds the C struct, references to the
 * policy (whose strings the struct borrows) and to the request's text
 * objects (for the explanation), and verdict, step and auth as enum
 * members in slots; every other attribute is converted when it is read.
 *
 * The GIL is kept during relaypol_decide(): measured on 2026-11-23,
 * releasing and re-taking it adds ~345 instructions (with atomics) to a
 * decide() call, about the binding's whole share, and two threads
 * deciding on one policy were three times slower per call than with the
 * GIL held (README.md).  A decision is too short to pay for a GIL
 * hand-off.  The GIL is released while a policy loads, which can take a
 * second for 1M entries.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <relaypol/relaypol.h>

#include "binding.h"

/* Read-only object members (PyMemberDef), named as in the running
 * Python's headers. */
#if PY_VERSION_HEX >= 0x030C0000
#define MEMBER_OBJECT Py_T_OBJECT_EX
#define MEMBER_READONLY Py_READONLY
#else
#include <structmember.h>
#define MEMBER_OBJECT T_OBJECT_EX
#define MEMBER_READONLY READONLY
#endif

/* Build with -DRELAYPOL_PY_RELEASE_GIL=1 to release the GIL around each
 * decision, to repeat the measurement (slower; see the top of this
 * file). */
#ifndef RELAYPOL_PY_RELEASE_GIL
#define RELAYPOL_PY_RELEASE_GIL 0
#endif

/* Exported by PyMODINIT_FUNC; declared for -Wmissing-prototypes. */
PyMODINIT_FUNC PyInit__relaypol(void);

/* ------------------------------------------------- state from the package */

/* Tables indexed by the C enum value, filled by _setup(); a slot is None
 * when the library has no name for that value. */
static PyObject *verdicts, *steps, *auths, *rcpt_errors, *severities;
static PyObject *finding_type, *error_type, *policy_error_type,
    *address_error_type;
static PyObject *ipv4_type, *ipv6_type; /* ipaddress.IPv4Address, ... */

/* Interned names. */
static PyObject *s_packed, *s_scope_id, *s__ip, *s__scope_id;

/* Route bits 1 << i up to RELAYPOL_ROUTE_LITERAL, named by
 * relaypol_route_name() as in relaypol_explain(). */
#define N_ROUTES 6
_Static_assert(RELAYPOL_ROUTE_LITERAL == 1u << (N_ROUTES - 1),
               "N_ROUTES covers every routing bit");
static PyObject *route_str[N_ROUTES];

static int ready(void)
{
    if (verdicts)
        return 1;
    PyErr_SetString(PyExc_RuntimeError,
                    "relaypol._relaypol is used through the relaypol "
                    "package: import relaypol");
    return 0;
}

/* Looks value up in one of the tables; an int when out of range. */
static PyObject *table_get(PyObject *table, long value)
{
    if (value >= 0 && value < PyTuple_GET_SIZE(table)) {
        PyObject *o = PyTuple_GET_ITEM(table, value);
        if (o != Py_None)
            return Py_NewRef(o);
    }
    return PyLong_FromLong(value);
}

/* table_get() for the hot path: the value is always in range there. */
static inline PyObject *table_ref(PyObject *table, long value)
{
    if ((unsigned long)value < (unsigned long)PyTuple_GET_SIZE(table)) {
        PyObject *o = PyTuple_GET_ITEM(table, value);
        if (o != Py_None)
            return Py_NewRef(o);
    }
    return table_get(table, value);
}

/* Text borrowed from the policy (or static) as str.  Policy files are
 * usually ASCII; surrogateescape keeps any other byte round-trippable. */
static PyObject *text_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

static PyObject *line_or_none(uint32_t line)
{
    if (line == 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(line);
}

/* -------------------------------------------------------------- allocator */

/* Policies live in the raw Python heap (safe without the GIL, so loads can
 * release it) so that tracemalloc accounts for them. */
static void *py_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        PyMem_RawFree(ptr);
        return NULL;
    }
    return PyMem_RawRealloc(ptr, new_size);
}

/* For the tests only: fails every allocation after `budget` successful
 * ones, to reach the out-of-memory path.  Used with the GIL held. */
static long long test_budget;
static void *test_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    if (new_size != 0 && test_budget-- <= 0)
        return NULL;
    return py_alloc(ud, ptr, old_size, new_size);
}

/* ------------------------------------------------------------- conversion */

/* The bytes of a str without a call or a copy when it is compact ASCII
 * (nearly every str an SMTP server has: addresses, RCPT TO arguments,
 * user names); NUL-terminated at *n, like PyUnicode_AsUTF8AndSize's.
 * Returns 0 for other strs (non-ASCII, or a subclass instance, which is
 * never compact), which go through PyUnicode_AsUTF8AndSize. */
static inline int ascii_data(PyObject *o, const char **s, Py_ssize_t *n)
{
    if (!PyUnicode_IS_COMPACT_ASCII(o))
        return 0;
    *s = (const char *)PyUnicode_DATA(o);
    *n = PyUnicode_GET_LENGTH(o);
    return 1;
}

/* A str (as UTF-8) or bytes argument.  with_nul: NUL bytes are allowed
 * (the recipient has a length; user names are C strings). */
static int text_arg(PyObject *o, const char *what, int with_nul,
                    const char **s, Py_ssize_t *n)
{
    if (PyUnicode_Check(o)) {
        if (!ascii_data(o, s, n) && !(*s = PyUnicode_AsUTF8AndSize(o, n)))
            return -1;
    } else if (PyBytes_Check(o)) {
        *s = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
    } else {
        PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.100s",
                     what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (!with_nul && memchr(*s, '\0', (size_t)*n)) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
        return -1;
    }
    return 0;
}

static int bad_address(PyObject *o, const char *what)
{
    PyErr_Format(address_error_type,
                 "%s: %R is not a strict IPv4 or IPv6 address", what, o);
    return -1;
}

static int packed_address(const void *buf, Py_ssize_t len, const char *what,
                          relaypol_addr *out)
{
    if (relaypol_addr_from_bytes(buf, (size_t)len, out) == RELAYPOL_OK)
        return 0;
    PyErr_Format(address_error_type,
                 "%s: a packed address has 4 or 16 bytes, not %zd (pass "
                 "text addresses as str)",
                 what, len);
    return -1;
}

/* A text address, read by the library's parser (which takes the
 * canonical dotted quad on a short path of its own). */
static int text_address(PyObject *o, const char *what, relaypol_addr *out)
{
    const char *s;
    Py_ssize_t n;
    if (!ascii_data(o, &s, &n)) {
        s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s) {
            PyErr_Clear(); /* lone surrogates: not an address either */
            return bad_address(o, what);
        }
    }
    /* The longest address text is RELAYPOL_ADDR_STRLEN - 1 characters, in
     * brackets: anything longer is refused without a scan.  The parser
     * takes the length, so a NUL inside is a stray byte like any other:
     * "1.2.3.4\0junk" is no address. */
    if (n > RELAYPOL_ADDR_STRLEN + 1 ||
        rp_addr_parse_len(s, (size_t)n, out) != RELAYPOL_OK)
        return bad_address(o, what);
    return 0;
}

/* An ipaddress.IPv4Address or IPv6Address of exactly that class, from its
 * _ip integer instead of .packed: .packed runs Python code (a property,
 * then int.to_bytes), which cost more than the decision.  Returns 1 when
 * done, 0 when the object does not look as expected (then .packed is
 * used), -1 on error.  Subclasses always take the .packed way, in case
 * they redefine it. */
static int ipaddress_fast(PyObject *o, int v6, const char *what,
                          relaypol_addr *out)
{
    PyObject *ip = PyObject_GetAttr(o, s__ip);
    if (!ip) {
        PyErr_Clear();
        return 0;
    }
    int r = 0;
    uint8_t b[16];
    if (!PyLong_CheckExact(ip)) {
        /* not what ipaddress stores: use the public way */
    } else if (!v6) {
        unsigned long v = PyLong_AsUnsignedLong(ip);
        if (!(v == (unsigned long)-1 && PyErr_Occurred()) && v <= 0xffffffffUL) {
            b[0] = (uint8_t)(v >> 24);
            b[1] = (uint8_t)(v >> 16);
            b[2] = (uint8_t)(v >> 8);
            b[3] = (uint8_t)v;
            r = 1;
        }
        PyErr_Clear();
    } else {
        PyObject *zone = PyObject_GetAttr(o, s__scope_id);
        if (!zone) {
            PyErr_Clear();
        } else if (zone != Py_None) {
            PyErr_Format(address_error_type,
                         "%s: %R has a zone, which relaypol does not decide "
                         "on",
                         what, o);
            r = -1;
        } else {
#if PY_VERSION_HEX >= 0x030D0000
            Py_ssize_t need = PyLong_AsNativeBytes(
                ip, b, 16,
                Py_ASNATIVEBYTES_BIG_ENDIAN |
                    Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
                    Py_ASNATIVEBYTES_REJECT_NEGATIVE);
            r = need >= 0 && need <= 16;
#else
            r = _PyLong_AsByteArray((PyLongObject *)ip, b, 16, 0, 0) == 0;
#endif
            PyErr_Clear();
        }
        Py_XDECREF(zone);
    }
    Py_DECREF(ip);
    if (r == 1 && relaypol_addr_from_bytes(b, v6 ? 16 : 4, out) != RELAYPOL_OK)
        r = 0;
    return r;
}

/* An address argument: str (parsed strictly), ipaddress.IPv4Address or
 * IPv6Address, or 4 or 16 bytes in network order (anything with the
 * buffer protocol). */
static int addr_arg(PyObject *o, const char *what, relaypol_addr *out)
{
    if (PyUnicode_Check(o))
        return text_address(o, what, out);
    if (PyBytes_Check(o))
        return packed_address(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o), what,
                              out);
    if (Py_IS_TYPE(o, (PyTypeObject *)ipv4_type) ||
        Py_IS_TYPE(o, (PyTypeObject *)ipv6_type)) {
        int r = ipaddress_fast(o, Py_IS_TYPE(o, (PyTypeObject *)ipv6_type),
                               what, out);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    int v6 = PyObject_TypeCheck(o, (PyTypeObject *)ipv6_type);
    if (v6 || PyObject_TypeCheck(o, (PyTypeObject *)ipv4_type)) {
        if (v6) {
            /* A zone ("fe80::1%eth0") is refused in text; refuse it here
             * too rather than silently deciding without it. */
            PyObject *zone = PyObject_GetAttr(o, s_scope_id);
            if (!zone)
                return -1;
            int has_zone = zone != Py_None;
            Py_DECREF(zone);
            if (has_zone) {
                PyErr_Format(address_error_type,
                             "%s: %R has a zone, which relaypol does not "
                             "decide on",
                             what, o);
                return -1;
            }
        }
        PyObject *packed = PyObject_GetAttr(o, s_packed);
        if (!packed)
            return -1;
        int r = -1;
        if (PyBytes_Check(packed))
            r = packed_address(PyBytes_AS_STRING(packed),
                               PyBytes_GET_SIZE(packed), what, out);
        else
            PyErr_Format(PyExc_TypeError, "%s: .packed is not bytes", what);
        Py_DECREF(packed);
        return r;
    }
    if (PyObject_CheckBuffer(o)) {
        Py_buffer view;
        if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) < 0)
            return -1;
        int r = packed_address(view.buf, view.len, what, out);
        PyBuffer_Release(&view);
        return r;
    }
    PyErr_Format(PyExc_TypeError,
                 "%s must be str, ipaddress.IPv4Address, "
                 "ipaddress.IPv6Address or bytes, not %.100s",
                 what, Py_TYPE(o)->tp_name);
    return -1;
}

static PyObject *addr_to_python(const relaypol_addr *a)
{
    if (a->family == RELAYPOL_AF_INET)
        return PyObject_CallFunction(ipv4_type, "y#", (const char *)a->bytes,
                                     (Py_ssize_t)4);
    if (a->family == RELAYPOL_AF_INET6)
        return PyObject_CallFunction(ipv6_type, "y#", (const char *)a->bytes,
                                     (Py_ssize_t)16);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ errors */

static PyObject *raise_status(relaypol_status st)
{
    if (st == RELAYPOL_ERR_NOMEM)
        return PyErr_NoMemory();
    PyErr_SetString(error_type, relaypol_strerror(st));
    return NULL;
}

/* A failed load.  The C API reports an unreadable file as RELAYPOL_ERR_IO
 * with strerror() text but no errno; errno is still the one fopen/fread
 * set, and it is used only when its text is exactly the message, so the
 * OSError subclass (FileNotFoundError, ...) is never a guess. */
static PyObject *raise_load_error(const relaypol_error *err, int saved_errno)
{
    switch (err->status) {
    case RELAYPOL_ERR_NOMEM:
        return PyErr_NoMemory();
    case RELAYPOL_ERR_IO: {
        PyObject *fn = PyUnicode_DecodeFSDefault(err->source);
        if (!fn)
            return NULL;
        PyObject *exc;
        if (saved_errno && strcmp(strerror(saved_errno), err->message) == 0)
            exc = PyObject_CallFunction(PyExc_OSError, "isO", saved_errno,
                                        err->message, fn);
        else
            exc = PyObject_CallFunction(PyExc_OSError, "OsO", Py_None,
                                        err->message, fn);
        Py_DECREF(fn);
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    default: {
        /* RELAYPOL_ERR_POLICY, RELAYPOL_ERR_LIMIT: the text is at fault. */
        PyObject *exc = PyObject_CallFunction(
            policy_error_type, "NNNN",
            PyUnicode_DecodeUTF8(err->message,
                                 (Py_ssize_t)strnlen(err->message,
                                                     sizeof err->message),
                                 "replace"),
            err->source[0] ? PyUnicode_DecodeFSDefault(err->source)
                           : Py_NewRef(Py_None),
            line_or_none(err->line), line_or_none(err->column));
        if (exc) {
            PyErr_SetObject(policy_error_type, exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    }
}

/* ------------------------------------------------------------------ Policy */

/* Decision.reply as str, by the address of the C text: the replies are a
 * handful of constant strings (static in the library, or at least owned by
 * the policy), so each is converted once per policy, not on every read. */
#define N_REPLIES 16

typedef struct {
    PyObject_HEAD
    relaypol_policy *p;
    PyObject *source;   /* str: the name used in messages */
    PyObject *weakrefs;
    const char *reply_text[N_REPLIES]; /* filled in order; NULL: free */
    PyObject *reply_str[N_REPLIES];
} PolicyObject;

static PyTypeObject PolicyType;
static PyTypeObject DecisionType;

static PyObject *policy_new(relaypol_policy *p, PyObject *source)
{
    PolicyObject *self = PyObject_New(PolicyObject, &PolicyType);
    if (!self) {
        relaypol_policy_free(p);
        return NULL;
    }
    self->p = p;
    self->source = Py_NewRef(source);
    self->weakrefs = NULL;
    memset(self->reply_text, 0, sizeof self->reply_text);
    memset(self->reply_str, 0, sizeof self->reply_str);
    return (PyObject *)self;
}

static void Policy_dealloc(PolicyObject *self)
{
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    for (size_t i = 0; i < N_REPLIES; i++)
        Py_XDECREF(self->reply_str[i]);
    relaypol_policy_free(self->p);
    Py_XDECREF(self->source);
    PyObject_Free(self);
}

static void load_options(relaypol_load_options *opts, int literal_masks,
                         relaypol_alloc_fn alloc)
{
    relaypol_load_options_init(opts);
    if (literal_masks)
        opts->flags |= RELAYPOL_LOAD_LITERAL_MASKS;
    opts->alloc = alloc;
}

static PyObject *Policy_from_file(PyObject *cls, PyObject *args, PyObject *kw)
{
    /* Writable copies: PyArg_ParseTupleAndKeywords wants char *[] and
     * -Wwrite-strings makes literals const. */
    static char k_path[] = "path", k_literal[] = "literal_masks";
    static char *kwlist[] = {k_path, k_literal, NULL};
    PyObject *path = NULL; /* bytes, from PyUnicode_FSConverter */
    int literal_masks = 0;
    (void)cls;
    if (!ready() ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O&|$p:from_file", kwlist,
                                     PyUnicode_FSConverter, &path,
                                     &literal_masks))
        return NULL;
    relaypol_load_options opts;
    load_options(&opts, literal_masks, py_alloc);
    relaypol_policy *p = NULL;
    relaypol_error err;
    relaypol_status st;
    int saved_errno;
    memset(&err, 0, sizeof err);
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    st = relaypol_policy_load_file(PyBytes_AS_STRING(path), &opts, &p, &err);
    saved_errno = errno;
    Py_END_ALLOW_THREADS
    if (st != RELAYPOL_OK) {
        Py_DECREF(path);
        err.status = st;
        return raise_load_error(&err, saved_errno);
    }
    PyObject *source = PyUnicode_DecodeFSDefaultAndSize(
        PyBytes_AS_STRING(path), PyBytes_GET_SIZE(path));
    Py_DECREF(path);
    if (!source) {
        relaypol_policy_free(p);
        return NULL;
    }
    PyObject *r = policy_new(p, source);
    Py_DECREF(source);
    return r;
}

/* Shared by from_string() and the tests' allocation-failure entry point. */
static PyObject *load_string(PyObject *text, PyObject *source,
                             int literal_masks, relaypol_alloc_fn alloc,
                             int release_gil)
{
    const char *s, *name = NULL;
    Py_ssize_t n, name_n;
    if (text_arg(text, "text", 1, &s, &n) < 0)
        return NULL;
    if (source == Py_None)
        source = NULL;
    if (source) {
        if (!PyUnicode_Check(source)) {
            PyErr_Format(PyExc_TypeError, "source must be str, not %.100s",
                         Py_TYPE(source)->tp_name);
            return NULL;
        }
        if (text_arg(source, "source", 0, &name, &name_n) < 0)
            return NULL;
    }
    relaypol_load_options opts;
    load_options(&opts, literal_masks, alloc);
    relaypol_policy *p = NULL;
    relaypol_error err;
    relaypol_status st;
    memset(&err, 0, sizeof err);
    /* text and source stay alive (we hold the caller's references) and
     * immutable while the GIL is released. */
    if (release_gil) {
        Py_BEGIN_ALLOW_THREADS
        st = relaypol_policy_load_string(s, (size_t)n, name, &opts, &p, &err);
        Py_END_ALLOW_THREADS
    } else {
        st = relaypol_policy_load_string(s, (size_t)n, name, &opts, &p, &err);
    }
    if (st != RELAYPOL_OK) {
        err.status = st;
        return raise_load_error(&err, 0);
    }
    PyObject *src = source ? Py_NewRef(source)
                           : PyUnicode_FromString("<string>");
    if (!src) {
        relaypol_policy_free(p);
        return NULL;
    }
    PyObject *r = policy_new(p, src);
    Py_DECREF(src);
    return r;
}

static PyObject *Policy_from_string(PyObject *cls, PyObject *args,
                                    PyObject *kw)
{
    static char k_text[] = "text", k_source[] = "source",
                k_literal[] = "literal_masks";
    static char *kwlist[] = {k_text, k_source, k_literal, NULL};
    PyObject *text, *source = Py_None;
    int literal_masks = 0;
    (void)cls;
    if (!ready() ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|$Op:from_string", kwlist,
                                     &text, &source, &literal_masks))
        return NULL;
    return load_string(text, source, literal_masks, py_alloc, 1);
}

/* decide()'s parameters, by position in the argument vector. */
enum {
    A_CLIENT, A_RECIPIENT, A_LOCAL, A_USER, A_TLS, A_CLIENT_NAME, A_INTERNAL,
    N_ARGS
};
static const char *const arg_names[N_ARGS] = {
    "client", "recipient", "local", "user", "tls", "client_name", "internal"};
static PyObject *arg_str[N_ARGS];

/* verdict, step and auth are stored as the enum members, which costs two
 * reference counts each per decision, so that reading them is a slot
 * read: CPython (3.11+) specializes LOAD_ATTR on a T_OBJECT_EX member into
 * a few instructions, where a getter is a full descriptor call (~30 ns,
 * as much as the binding's whole share of decide()).  The rest is
 * converted when read. */
typedef struct {
    PyObject_HEAD
    PyObject *verdict;      /* Verdict member */
    PyObject *step;         /* Step member */
    PyObject *auth;         /* Auth member */
    PolicyObject *policy;   /* owns the strings d borrows */
    PyObject *recipient;    /* the request's text, for the explanation */
    PyObject *user;         /* or NULL */
    PyObject *client_name;  /* or NULL */
    relaypol_addr local;
    uint32_t flags;
    relaypol_decision d;
    /* The list entry that decided, read into d only when asked for: on a
     * big list its record is a cache miss that most callers, who want the
     * verdict, would wait for in vain. */
    rp_hitref ref;
} DecisionObject;

/* d with its entry and line filled in. */
static const relaypol_decision *decision_full(DecisionObject *self)
{
    if (self->ref.pos >= 0)
        rp_hitref_resolve(self->policy->p, &self->ref, &self->d);
    return &self->d;
}

/* relaypol_request_init() and relaypol_decision_init() results, made once
 * at import: copying them is a few moves, calling them a call and a
 * memset each (the size fields are the point; the rest is zero). */
static relaypol_request request_template;
static relaypol_decision decision_template;

/* Freed Decisions kept for the next decide(): pymalloc's allocation and
 * free cost ~150 instructions, a tenth of a whole decision.  Protected by
 * the GIL, which this single-phase module always runs under (even on a
 * free-threaded build, which re-enables the GIL for it). */
#define N_FREE_DECISIONS 16
static DecisionObject *free_decisions[N_FREE_DECISIONS];
static int n_free_decisions;

static DecisionObject *decision_alloc(void)
{
    if (n_free_decisions > 0) {
        DecisionObject *d = free_decisions[--n_free_decisions];
        PyObject_Init((PyObject *)d, &DecisionType);
        return d;
    }
    return PyObject_New(DecisionObject, &DecisionType);
}

/* Vectorcall: argument parsing by hand, because the generic parsers cost
 * as much as the decision. */
static PyObject *Policy_decide(PolicyObject *self, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[N_ARGS] = {NULL};
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError,
                     "decide() takes 2 positional arguments but %zd were "
                     "given",
                     nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        a[i] = args[i];
    if (kwnames) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < nk; i++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, i);
            int k;
            for (k = 0; k < N_ARGS; k++)
                if (key == arg_str[k])
                    break;
            if (k == N_ARGS)
                for (k = 0; k < N_ARGS; k++)
                    if (PyUnicode_CompareWithASCIIString(key, arg_names[k]) ==
                        0)
                        break;
            if (k == N_ARGS) {
                PyErr_Format(PyExc_TypeError,
                             "decide() got an unexpected keyword argument %R",
                             key);
                return NULL;
            }
            if (a[k]) {
                PyErr_Format(PyExc_TypeError,
                             "decide() got multiple values for argument '%s'",
                             arg_names[k]);
                return NULL;
            }
            a[k] = args[nargs + i];
        }
    }
    if (!a[A_CLIENT] || !a[A_RECIPIENT]) {
        PyErr_Format(PyExc_TypeError,
                     "decide() missing required argument '%s'",
                     arg_names[a[A_CLIENT] ? A_RECIPIENT : A_CLIENT]);
        return NULL;
    }

    relaypol_request req = request_template;
    if (addr_arg(a[A_CLIENT], "client", &req.client) < 0)
        return NULL;
    /* On a big list the decision waits for memory: start now, while the
     * other arguments are converted. */
    rp_decide_prefetch(self->p, &req.client);
    if (a[A_LOCAL] && a[A_LOCAL] != Py_None &&
        addr_arg(a[A_LOCAL], "local", &req.local) < 0)
        return NULL;
    Py_ssize_t n;
    if (text_arg(a[A_RECIPIENT], "recipient", 1, &req.recipient, &n) < 0)
        return NULL;
    req.recipient_len = (size_t)n;
    PyObject *user = a[A_USER] == Py_None ? NULL : a[A_USER];
    if (user && text_arg(user, "user", 0, &req.user, &n) < 0)
        return NULL;
    PyObject *name = a[A_CLIENT_NAME] == Py_None ? NULL : a[A_CLIENT_NAME];
    if (name && text_arg(name, "client_name", 0, &req.client_name, &n) < 0)
        return NULL;
    static const uint32_t bool_flag[2] = {RELAYPOL_REQ_TLS,
                                          RELAYPOL_REQ_RCPT_INTERNAL};
    for (int i = 0; i < 2; i++) {
        PyObject *o = a[i == 0 ? A_TLS : A_INTERNAL];
        if (!o || o == Py_False)
            continue;
        int t = o == Py_True ? 1 : PyObject_IsTrue(o);
        if (t < 0)
            return NULL;
        if (t)
            req.flags |= bool_flag[i];
    }

    DecisionObject *d = decision_alloc();
    if (!d)
        return NULL;
    d->d = decision_template;
    relaypol_status st;
#if RELAYPOL_PY_RELEASE_GIL
    /* Off by default: kept only to repeat the measurement (README.md). */
    Py_BEGIN_ALLOW_THREADS
    st = rp_decide_deferred(self->p, &req, &d->d, &d->ref);
    Py_END_ALLOW_THREADS
#else
    st = rp_decide_deferred(self->p, &req, &d->d, &d->ref);
#endif
    d->policy = (PolicyObject *)Py_NewRef(self);
    d->recipient = Py_NewRef(a[A_RECIPIENT]);
    d->user = Py_XNewRef(user);
    d->client_name = Py_XNewRef(name);
    d->local = req.local;
    d->flags = req.flags;
    d->verdict = d->step = d->auth = NULL;
    if (st != RELAYPOL_OK) {
        Py_DECREF(d);
        return raise_status(st);
    }
    if (!(d->verdict = table_ref(verdicts, (long)d->d.verdict)) ||
        !(d->step = table_ref(steps, (long)d->d.step)) ||
        !(d->auth = table_ref(auths, (long)d->d.auth))) {
        Py_DECREF(d);
        return NULL;
    }
    return (PyObject *)d;
}

typedef struct {
    PyObject *list;
} lint_ctx;

static int on_finding(void *ud, const relaypol_finding *f)
{
    lint_ctx *c = ud;
    PyObject *item = PyObject_CallFunction(
        finding_type, "NNNNN", table_get(severities, (long)f->severity),
        text_or_none(f->code), line_or_none(f->line),
        line_or_none(f->column), text_or_none(f->message));
    if (!item || PyList_Append(c->list, item) < 0) {
        Py_XDECREF(item);
        return 1;
    }
    Py_DECREF(item);
    return 0;
}

static PyObject *Policy_lint(PolicyObject *self, PyObject *unused)
{
    (void)unused;
    lint_ctx c = {PyList_New(0)};
    if (!c.list)
        return NULL;
    relaypol_status st = relaypol_policy_lint(self->p, on_finding, &c);
    if (PyErr_Occurred()) {
        Py_DECREF(c.list);
        return NULL;
    }
    if (st != RELAYPOL_OK) {
        Py_DECREF(c.list);
        return raise_status(st);
    }
    return c.list;
}

static PyObject *Policy_get_relay_flags(PolicyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(relaypol_policy_relay_flags(self->p));
}

static PyObject *Policy_get_memory(PolicyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(relaypol_policy_memory(self->p));
}

static PyObject *Policy_get_source(PolicyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->source);
}

static PyObject *Policy_repr(PolicyObject *self)
{
    return PyUnicode_FromFormat("<relaypol.Policy %R relay_flags=%u>",
                                self->source,
                                relaypol_policy_relay_flags(self->p));
}

/* Immutable: a copy is the same policy. */
static PyObject *Policy_copy(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyMethodDef Policy_methods[] = {
    {"from_file", (PyCFunction)(void (*)(void))Policy_from_file,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_file(path, *, literal_masks=False)\n--\n\n"
     "Load and compile the policy file at path."},
    {"from_string", (PyCFunction)(void (*)(void))Policy_from_string,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_string(text, *, source=None, literal_masks=False)\n--\n\n"
     "Compile the policy in text (str or bytes); source names it in "
     "errors."},
    {"decide", (PyCFunction)(void (*)(void))Policy_decide,
     METH_FASTCALL | METH_KEYWORDS,
     "decide(client, recipient, *, local=None, user=None, tls=False, "
     "client_name=None, internal=False)\n--\n\n"
     "Decide one RCPT TO: deliver locally, relay, or refuse."},
    {"lint", (PyCFunction)Policy_lint, METH_NOARGS,
     "lint()\n--\n\nThe policy's findings, as a list of Finding."},
    {"__copy__", Policy_copy, METH_NOARGS, NULL},
    {"__deepcopy__", Policy_copy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Policy_getset[] = {
    {"relay_flags", (getter)Policy_get_relay_flags, NULL,
     "The RelayFlags value (0-15).", NULL},
    {"memory", (getter)Policy_get_memory, NULL,
     "Bytes of memory the compiled policy holds.", NULL},
    {"source", (getter)Policy_get_source, NULL,
     "The name used in messages: the path, or the source given.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PolicyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "relaypol.Policy",
    .tp_basicsize = sizeof(PolicyObject),
    .tp_dealloc = (destructor)Policy_dealloc,
    .tp_repr = (reprfunc)Policy_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled, immutable relay policy; share it between threads.\n"
              "Create one with Policy.from_file() or Policy.from_string().",
    .tp_weaklistoffset = offsetof(PolicyObject, weakrefs),
    .tp_methods = Policy_methods,
    .tp_getset = Policy_getset,
};

/* ---------------------------------------------------------------- Decision */

static void Decision_dealloc(DecisionObject *self)
{
    Py_XDECREF(self->verdict);
    Py_XDECREF(self->step);
    Py_XDECREF(self->auth);
    Py_DECREF(self->policy);
    Py_DECREF(self->recipient);
    Py_XDECREF(self->user);
    Py_XDECREF(self->client_name);
    if (n_free_decisions < N_FREE_DECISIONS)
        free_decisions[n_free_decisions++] = self;
    else
        PyObject_Free(self);
}

#define DECISION_GETTER(name) \
    static PyObject *Decision_get_##name(DecisionObject *self, void *closure)

DECISION_GETTER(rcpt_error)
{
    (void)closure;
    if (self->d.rcpt_error == RELAYPOL_RCPT_OK)
        Py_RETURN_NONE;
    return table_get(rcpt_errors, (long)self->d.rcpt_error);
}

DECISION_GETTER(entry)
{
    (void)closure;
    return text_or_none(decision_full(self)->entry);
}

DECISION_GETTER(line)
{
    (void)closure;
    return line_or_none(decision_full(self)->entry_line);
}

DECISION_GETTER(reply)
{
    (void)closure;
    PolicyObject *p = self->policy;
    const char *text = self->d.reply;
    size_t i;
    if (!text)
        Py_RETURN_NONE;
    for (i = 0; i < N_REPLIES && p->reply_text[i]; i++)
        if (p->reply_text[i] == text)
            return Py_NewRef(p->reply_str[i]);
    PyObject *r = text_or_none(text);
    if (r && i < N_REPLIES) {
        p->reply_str[i] = Py_NewRef(r);
        p->reply_text[i] = text;
    }
    return r;
}

DECISION_GETTER(route)
{
    (void)closure;
    PyObject *set = PyFrozenSet_New(NULL);
    if (!set)
        return NULL;
    for (size_t i = 0; i < N_ROUTES; i++)
        if ((self->d.route & (1u << i)) &&
            PySet_Add(set, route_str[i]) < 0) {
            Py_DECREF(set);
            return NULL;
        }
    return set;
}

DECISION_GETTER(client)
{
    (void)closure;
    return addr_to_python(&self->d.client);
}

/* The explanation needs the request: rebuilt from what decide() kept. */
DECISION_GETTER(explanation)
{
    (void)closure;
    relaypol_request req;
    relaypol_request_init(&req);
    req.client = self->d.client;
    req.local = self->local;
    req.flags = self->flags;
    Py_ssize_t n;
    if (text_arg(self->recipient, "recipient", 1, &req.recipient, &n) < 0)
        return NULL;
    req.recipient_len = (size_t)n;
    if (self->user && text_arg(self->user, "user", 0, &req.user, &n) < 0)
        return NULL;
    if (self->client_name &&
        text_arg(self->client_name, "client_name", 0, &req.client_name, &n) <
            0)
        return NULL;
    char small[512];
    size_t need = relaypol_explain(decision_full(self), &req, small,
                                   sizeof small);
    if (need < sizeof small)
        return PyUnicode_DecodeUTF8(small, (Py_ssize_t)need, "replace");
    char *big = PyMem_Malloc(need + 1);
    if (!big)
        return PyErr_NoMemory();
    relaypol_explain(&self->d, &req, big, need + 1);
    PyObject *r = PyUnicode_DecodeUTF8(big, (Py_ssize_t)need, "replace");
    PyMem_Free(big);
    return r;
}

static PyObject *Decision_repr(DecisionObject *self)
{
    const relaypol_decision *d = decision_full(self);
    PyObject *entry = text_or_none(d->entry), *reply = text_or_none(d->reply);
    PyObject *extra = PyUnicode_FromString("");
    PyObject *r = NULL;
    if (!entry || !reply || !extra)
        goto out;
    if (d->auth != RELAYPOL_AUTH_NONE) {
        Py_SETREF(extra, PyUnicode_FromFormat("%U auth=%s", extra,
                                              relaypol_auth_name(d->auth)));
        if (!extra)
            goto out;
    }
    if (d->route) {
        PyObject *names = PyUnicode_FromString("");
        for (size_t i = 0; names && i < N_ROUTES; i++)
            if (d->route & (1u << i))
                Py_SETREF(names,
                          PyUnicode_FromFormat("%U%s%U", names,
                                               PyUnicode_GET_LENGTH(names)
                                                   ? ","
                                                   : "",
                                               route_str[i]));
        if (!names)
            goto out;
        Py_SETREF(extra, PyUnicode_FromFormat("%U route=%U", extra, names));
        Py_DECREF(names);
        if (!extra)
            goto out;
    }
    if (d->rcpt_error != RELAYPOL_RCPT_OK) {
        PyObject *why = text_or_none(relaypol_rcpt_error_name(d->rcpt_error));
        if (!why)
            goto out;
        Py_SETREF(extra, PyUnicode_FromFormat("%U rcpt_error=%R", extra, why));
        Py_DECREF(why);
        if (!extra)
            goto out;
    }
    if (d->entry)
        r = PyUnicode_FromFormat(
            "<Decision %s step=%s entry=%R line=%lu reply=%R%U>",
            relaypol_verdict_name(d->verdict), relaypol_step_name(d->step),
            entry, (unsigned long)d->entry_line, reply, extra);
    else
        r = PyUnicode_FromFormat("<Decision %s step=%s reply=%R%U>",
                                 relaypol_verdict_name(d->verdict),
                                 relaypol_step_name(d->step), reply, extra);
out:
    Py_XDECREF(entry);
    Py_XDECREF(reply);
    Py_XDECREF(extra);
    return r;
}

#define G(name, doc) {#name, (getter)Decision_get_##name, NULL, doc, NULL}
static PyGetSetDef Decision_getset[] = {
    G(entry, "The list entry, domain or user/group that decided, as "
             "written in the policy; None when none did."),
    G(line, "The policy line of entry; None when none."),
    G(reply, "The SMTP reply to send for this RCPT."),
    G(explanation, "A one-line explanation for logs."),
    G(route, "frozenset of the routing forms seen in the recipient."),
    G(rcpt_error, "Why the recipient is malformed (RcptError), or None."),
    G(client, "The client as decided: an IPv4-mapped IPv6 address is "
              "folded to IPv4."),
    {NULL, NULL, NULL, NULL, NULL},
};
#undef G

#define M(name, doc)                                                      \
    {#name, MEMBER_OBJECT, offsetof(DecisionObject, name), MEMBER_READONLY, \
     doc}
static PyMemberDef Decision_members[] = {
    M(verdict, "Verdict.LOCAL, Verdict.RELAY or Verdict.DENY (a str)."),
    M(step, "The Step (rule) that decided."),
    M(auth, "What happened to the client's authentication (Auth)."),
    M(policy, "The Policy that decided."),
    {NULL, 0, 0, 0, NULL},
};
#undef M

static PyTypeObject DecisionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "relaypol.Decision",
    .tp_basicsize = sizeof(DecisionObject),
    .tp_dealloc = (destructor)Decision_dealloc,
    .tp_repr = (reprfunc)Decision_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The answer of Policy.decide(); read-only.",
    .tp_members = Decision_members,
    .tp_getset = Decision_getset,
};

/* ------------------------------------------------------------------ module */

/* Builds a table for values 0..max: cls(name(v)) (None for "unknown"),
 * or without a name function cls(v) from first on. */
static PyObject *name_table(PyObject *cls, long first, long max,
                            const char *(*name)(long))
{
    PyObject *t = PyTuple_New(max + 1);
    if (!t)
        return NULL;
    for (long v = 0; v <= max; v++) {
        const char *s = name ? name(v) : NULL;
        PyObject *o;
        if ((name && strcmp(s, "unknown") == 0) || v < first)
            o = Py_NewRef(Py_None);
        else if (name)
            o = PyObject_CallFunction(cls, "s", s);
        else
            o = PyObject_CallFunction(cls, "l", v);
        if (!o) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, v, o);
    }
    return t;
}

static const char *verdict_name(long v)
{
    return relaypol_verdict_name((relaypol_verdict)v);
}
static const char *step_name(long v)
{
    return relaypol_step_name((relaypol_step)v);
}
static const char *auth_name(long v)
{
    return relaypol_auth_name((relaypol_auth)v);
}

static PyObject *mod_setup(PyObject *mod, PyObject *args)
{
    PyObject *verdict, *step, *auth, *rcpt_error, *severity;
    PyObject *finding, *error, *policy_error, *address_error;
    (void)mod;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO:_setup", &verdict, &step, &auth,
                          &rcpt_error, &severity, &finding, &error,
                          &policy_error, &address_error))
        return NULL;
    PyObject *ip = PyImport_ImportModule("ipaddress");
    if (!ip)
        return NULL;
    PyObject *v4 = NULL, *v6 = NULL, *tv = NULL, *ts = NULL, *ta = NULL,
             *tr = NULL, *tsev = NULL;
    /* Every value of the header's enums; a name the package does not know
     * fails here, at import, not in the middle of a decision. */
    if (!(v4 = PyObject_GetAttrString(ip, "IPv4Address")) ||
        !(v6 = PyObject_GetAttrString(ip, "IPv6Address")) ||
        !(tv = name_table(verdict, 0, RELAYPOL_DENY, verdict_name)) ||
        !(ts = name_table(step, 0, RELAYPOL_STEP_SUBMISSION, step_name)) ||
        !(ta = name_table(auth, 0, RELAYPOL_AUTH_NOT_NEEDED, auth_name)) ||
        !(tr = name_table(rcpt_error, 1, RELAYPOL_RCPT_EXTRA_AT, NULL)) ||
        !(tsev = name_table(severity, 0, RELAYPOL_ERROR, NULL))) {
        Py_DECREF(ip);
        Py_XDECREF(v4);
        Py_XDECREF(v6);
        Py_XDECREF(tv);
        Py_XDECREF(ts);
        Py_XDECREF(ta);
        Py_XDECREF(tr);
        return NULL;
    }
    Py_DECREF(ip);
    Py_XSETREF(ipv4_type, v4);
    Py_XSETREF(ipv6_type, v6);
    Py_XSETREF(steps, ts);
    Py_XSETREF(auths, ta);
    Py_XSETREF(rcpt_errors, tr);
    Py_XSETREF(severities, tsev);
    Py_XSETREF(finding_type, Py_NewRef(finding));
    Py_XSETREF(error_type, Py_NewRef(error));
    Py_XSETREF(policy_error_type, Py_NewRef(policy_error));
    Py_XSETREF(address_error_type, Py_NewRef(address_error));
    Py_XSETREF(verdicts, tv); /* last: ready() tests it */
    Py_RETURN_NONE;
}

static PyObject *mod_rcpt_error_name(PyObject *mod, PyObject *arg)
{
    (void)mod;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(relaypol_rcpt_error_name((relaypol_rcpt_error)v));
}

static PyObject *mod_load_with_budget(PyObject *mod, PyObject *args)
{
    PyObject *text;
    long long budget;
    (void)mod;
    if (!ready() ||
        !PyArg_ParseTuple(args, "OL:_load_string_with_budget", &text, &budget))
        return NULL;
    test_budget = budget;
    return load_string(text, Py_None, 0, test_alloc, 0);
}

static PyMethodDef module_methods[] = {
    {"_setup", mod_setup, METH_VARARGS, "Called once by the package."},
    {"rcpt_error_name", mod_rcpt_error_name, METH_O,
     "rcpt_error_name(code)\n--\n\nThe library's description of a "
     "recipient error code."},
    {"_load_string_with_budget", mod_load_with_budget, METH_VARARGS,
     "For the tests: from_string() whose allocator fails after budget "
     "allocations."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "relaypol._relaypol",
    .m_doc = "The C part of the relaypol package; import relaypol instead.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__relaypol(void)
{
    if (PyType_Ready(&PolicyType) < 0 || PyType_Ready(&DecisionType) < 0)
        return NULL;
    if (!(s_packed = PyUnicode_InternFromString("packed")) ||
        !(s_scope_id = PyUnicode_InternFromString("scope_id")) ||
        !(s__ip = PyUnicode_InternFromString("_ip")) ||
        !(s__scope_id = PyUnicode_InternFromString("_scope_id")))
        return NULL;
    for (size_t i = 0; i < N_ARGS; i++)
        if (!(arg_str[i] = PyUnicode_InternFromString(arg_names[i])))
            return NULL;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (!(route_str[i] = PyUnicode_InternFromString(relaypol_route_name(1u << i))))
            return NULL;

    relaypol_request_init(&request_template);
    relaypol_decision_init(&decision_template);

    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Policy", (PyObject *)&PolicyType) < 0 ||
        PyModule_AddObjectRef(m, "Decision", (PyObject *)&DecisionType) < 0 ||
        PyModule_AddStringConstant(m, "version", relaypol_version()) < 0 ||
        PyModule_AddIntConstant(m, "version_number",
                                (long)relaypol_version_number()) < 0 ||
        PyModule_AddStringConstant(m, "header_version",
                                   RELAYPOL_VERSION_STRING) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
