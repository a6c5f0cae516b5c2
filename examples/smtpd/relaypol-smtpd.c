/*
 * relaypol-smtpd: the smallest SMTP server that asks relaypol at RCPT TO
 * time.  It answers the seeds' telnet relay test (220, HELO/EHLO, MAIL
 * FROM, RCPT TO -> 250 or "550 5.7.1 ...", RSET, NOOP, QUIT), offers AUTH
 * PLAIN against a user file so that authenticated relay can be shown, and
 * delivers nothing: DATA is refused with 554 5.3.2.
 *
 * One thread, one poll() loop, a fixed table of connections.  Everything
 * a client can make it hold is bounded: the command line (512 octets,
 * RFC 5321 4.5.3.1.4), the commands per connection, the recipients per
 * transaction, the idle time and the number of clients.
 *
 * Signals: SIGTERM/SIGINT stop it (clients get 421); SIGHUP reloads the
 * policy and the user file, keeping the old ones if either is bad.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <relaypol/relaypol.h>

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define LINE_MAX_SMTP 512
#define OUT_MAX 4096
/* Stop taking commands while this much output is unsent, so that a client
 * that pipelines without reading cannot make us buffer without bound. */
#define OUT_HIGH (OUT_MAX - 1024)
#define MAX_LISTEN 16
#define CRED_MAX 256 /* longest user name or password in the user file */
#define MAX_USERS 10000
#define MAX_AUTH_FAILURES 3

/* ---------------------------------------------------------- configuration */

typedef struct config {
    const char *policy_path;
    const char *users_path; /* NULL: no AUTH */
    const char *ready_path; /* NULL: do not write one */
    const char *hostname;
    const char *listen[MAX_LISTEN];
    size_t n_listen;
    unsigned max_clients;
    unsigned max_commands;
    unsigned max_rcpts;
    unsigned idle_seconds;
    bool check_only;
} config;

/* ---------------------------------------------------------------- users */

/* Stored zero-padded to CRED_MAX so that comparing costs the same for
 * every guess (see cred_equal). */
typedef struct user {
    char name[CRED_MAX];
    size_t name_len;
    char pass[CRED_MAX];
    size_t pass_len;
} user;

typedef struct userdb {
    user *v;
    size_t n;
} userdb;

/* ------------------------------------------------------------ connections */

enum smtp_state {
    ST_GREETED, /* before HELO/EHLO */
    ST_READY,   /* after HELO/EHLO, no transaction */
    ST_MAIL     /* MAIL FROM accepted */
};

typedef struct conn {
    int fd; /* -1: free */
    unsigned long id;
    relaypol_addr client, local;
    char client_text[RELAYPOL_ADDR_STRLEN];
    char in[LINE_MAX_SMTP];
    size_t in_len;
    bool discarding; /* dropping the rest of an over-long line */
    char out[OUT_MAX];
    size_t out_len, out_off;
    enum smtp_state state;
    bool ehlo;
    bool auth_wait; /* "AUTH PLAIN" without a response: next line is it */
    bool authed;
    char user[CRED_MAX + 1];
    unsigned commands, rcpts, auth_failures;
    bool closing; /* close once the output is flushed */
    int64_t last_ms;
} conn;

typedef struct server {
    config cfg;
    relaypol_policy *policy;
    userdb users;
    int listen_fd[MAX_LISTEN];
    size_t n_listen;
    conn *conns;
    unsigned n_conns;
    unsigned long next_id;
} server;

static int sig_pipe[2] = {-1, -1};

/* ------------------------------------------------------------------ utils */

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* One write per line: stderr is unbuffered and the test reads it. */
    fprintf(stderr, "relaypol-smtpd: %s\n", buf);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

/* Copies client text for a log line with control and 8-bit bytes shown as
 * \xNN, so that a client cannot forge log lines. */
static void escape(const char *s, size_t n, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
}

static unsigned parse_uint(const char *s, const char *what, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s < '0' || *s > '9' || *end || v == 0 || v > max) {
        fprintf(stderr, "relaypol-smtpd: %s must be 1..%u, not '%s'\n", what,
                max, s);
        exit(2);
    }
    return (unsigned)v;
}

/* ----------------------------------------------------------- the policy */

static int print_finding(void *ud, const relaypol_finding *f)
{
    const char *path = ud;
    if (f->severity >= RELAYPOL_WARNING)
        logmsg("%s:%u: %s: %s (%s)", path, (unsigned)f->line,
               f->severity == RELAYPOL_ERROR ? "error" : "warning",
               f->message, f->code);
    return 0;
}

static relaypol_policy *load_policy(const char *path)
{
    relaypol_policy *p;
    relaypol_error err;
    if (relaypol_policy_load_file(path, NULL, &p, &err) != RELAYPOL_OK) {
        char buf[600];
        relaypol_error_format(&err, buf, sizeof buf);
        logmsg("%s", buf);
        return NULL;
    }
    relaypol_policy_lint(p, print_finding, (void *)(uintptr_t)path);
    logmsg("policy %s loaded: RelayFlags=%u, %zu bytes", path,
           relaypol_policy_relay_flags(p), relaypol_policy_memory(p));
    return p;
}

/* ---------------------------------------------------------- the user file */

/* Reads "user:password" lines ('#' comments and blank lines skipped).  The
 * password is everything after the first ':', so it may contain ':'. */
static bool load_users(const char *path, userdb *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        logmsg("%s: %s", path, strerror(errno));
        return false;
    }
    userdb db = {NULL, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char *colon = memchr(line, ':', (size_t)n);
        size_t nl = colon ? (size_t)(colon - line) : 0;
        size_t pl = colon ? (size_t)n - nl - 1 : 0;
        if (!colon || nl == 0 || pl == 0 || nl >= CRED_MAX || pl >= CRED_MAX ||
            memchr(line, '\0', (size_t)n)) {
            logmsg("%s:%u: expected user:password (each 1-%d bytes)", path,
                   lineno, CRED_MAX - 1);
            ok = false;
            break;
        }
        if (db.n == MAX_USERS) {
            logmsg("%s: more than %d users", path, MAX_USERS);
            ok = false;
            break;
        }
        user *nv = realloc(db.v, (db.n + 1) * sizeof *nv);
        if (!nv) {
            logmsg("%s: out of memory", path);
            ok = false;
            break;
        }
        db.v = nv;
        user *u = &db.v[db.n++];
        memset(u, 0, sizeof *u);
        memcpy(u->name, line, nl);
        u->name_len = nl;
        memcpy(u->pass, colon + 1, pl);
        u->pass_len = pl;
    }
    if (ok && ferror(f)) {
        logmsg("%s: read error", path);
        ok = false;
    }
    free(line);
    fclose(f);
    if (!ok) {
        free(db.v);
        return false;
    }
    *out = db;
    logmsg("user file %s loaded: %zu users", path, db.n);
    return true;
}

/* Compares a guess with a stored, zero-padded credential in time that
 * depends only on the length of the guess: every byte of the stored
 * buffer is read whatever the guess, and nothing exits early. */
static unsigned cred_equal(const char *guess, size_t glen, const char *stored,
                           size_t slen)
{
    unsigned diff = (unsigned)(glen ^ slen);
    for (size_t i = 0; i < CRED_MAX; i++) {
        unsigned char g = i < glen ? (unsigned char)guess[i] : 0;
        diff |= (unsigned)(g ^ (unsigned char)stored[i]);
    }
    return diff == 0;
}

/* Every user is compared, and names and passwords alike, so that the time
 * taken does not tell an attacker which user names exist. */
static bool check_password(const userdb *db, const char *name, size_t nlen,
                           const char *pass, size_t plen)
{
    if (nlen >= CRED_MAX || plen >= CRED_MAX)
        return false;
    unsigned found = 0;
    for (size_t i = 0; i < db->n; i++)
        found |= cred_equal(name, nlen, db->v[i].name, db->v[i].name_len) &
                 cred_equal(pass, plen, db->v[i].pass, db->v[i].pass_len);
    return found != 0;
}

/* Strict RFC 4648 base64 with padding.  Returns the decoded length, or -1
 * for anything malformed. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (size_t j = 0; j < 4; j++) {
            char c = s[i + j];
            int d;
            if (c >= 'A' && c <= 'Z')
                d = c - 'A';
            else if (c >= 'a' && c <= 'z')
                d = c - 'a' + 26;
            else if (c >= '0' && c <= '9')
                d = c - '0' + 52;
            else if (c == '+')
                d = 62;
            else if (c == '/')
                d = 63;
            else if (c == '=' && i + 4 == n && j >= 2)
                d = -1;
            else
                return -1;
            if (d < 0)
                pad++;
            else if (pad) /* data after padding */
                return -1;
            v = (v << 6) | (uint32_t)(d < 0 ? 0 : d);
        }
        size_t bytes = 3 - (size_t)pad;
        if (o + bytes > cap)
            return -1;
        out[o++] = (unsigned char)(v >> 16);
        if (bytes > 1)
            out[o++] = (unsigned char)(v >> 8);
        if (bytes > 2)
            out[o++] = (unsigned char)v;
    }
    return (long)o;
}

/* ------------------------------------------------------------- listening */

/* "127.0.0.1:2525" or "[::1]:2525"; port 0 lets the kernel choose (the
 * chosen ports are logged and written to the ready file). */
static int open_listener(const char *spec)
{
    char host[128];
    const char *port;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        port = rb + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host)
            return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        logmsg("listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* An IPv6 listener takes only IPv6: IPv4 clients go to their own
         * listener, whose local address the policy may name. */
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, 64) != 0 || !set_nonblock(fd)) {
        logmsg("listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* The listener's address as "ADDR PORT" (for the log and ready file). */
static void describe_listener(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    relaypol_addr a;
    char at[RELAYPOL_ADDR_STRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        relaypol_addr_from_sockaddr((struct sockaddr *)&ss, &a) ==
            RELAYPOL_OK) {
        relaypol_addr_format(&a, at, sizeof at);
        port = ss.ss_family == AF_INET
                   ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(buf, len, "%s %u", at, port);
}

static bool write_ready_file(const server *sv)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", sv->cfg.ready_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    for (size_t i = 0; i < sv->n_listen; i++) {
        char d[RELAYPOL_ADDR_STRLEN + 16];
        describe_listener(sv->listen_fd[i], d, sizeof d);
        fprintf(f, "%s\n", d);
    }
    /* Renamed into place only when complete, so a reader never sees half. */
    return fclose(f) == 0 && rename(tmp, sv->cfg.ready_path) == 0;
}

/* ------------------------------------------------------------------ output */

static void reply(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(conn *c, const char *fmt, ...)
{
    size_t room = sizeof c->out - c->out_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out + c->out_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 2 >= room) {
        /* Cannot happen while commands stop at OUT_HIGH; close rather
         * than send a truncated reply. */
        c->closing = true;
        return;
    }
    c->out_len += (size_t)n;
    memcpy(c->out + c->out_len, "\r\n", 2);
    c->out_len += 2;
}

/* Sends what it can without blocking.  false: the connection is dead. */
static bool flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, 0);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true;
        } else {
            return false;
        }
    }
    c->out_len = c->out_off = 0;
    return true;
}

/* ---------------------------------------------------------------- SMTP */

/* Case-insensitive "does s start with word" for a verb or parameter. */
static bool starts(const char *s, const char *word)
{
    return strncasecmp(s, word, strlen(word)) == 0;
}

static void reset_transaction(conn *c)
{
    if (c->state == ST_MAIL)
        c->state = ST_READY;
    c->rcpts = 0;
}

static void do_ehlo(server *sv, conn *c, const char *arg, bool extended)
{
    if (!*arg) {
        reply(c, "501 5.5.4 Syntax: %s hostname", extended ? "EHLO" : "HELO");
        return;
    }
    reset_transaction(c);
    c->state = ST_READY;
    c->ehlo = extended;
    if (!extended) {
        reply(c, "250 %s", sv->cfg.hostname);
        return;
    }
    reply(c, "250-%s greets [%s]", sv->cfg.hostname, c->client_text);
    reply(c, "250-PIPELINING");
    reply(c, "250%sENHANCEDSTATUSCODES", sv->cfg.users_path ? "-" : " ");
    if (sv->cfg.users_path)
        reply(c, "250 AUTH PLAIN");
}

static void do_mail(conn *c, const char *arg)
{
    if (c->state == ST_GREETED) {
        reply(c, "503 5.5.1 Send HELO or EHLO first");
        return;
    }
    if (c->state == ST_MAIL) {
        reply(c, "503 5.5.1 Nested MAIL command");
        return;
    }
    if (!starts(arg, "FROM:")) {
        reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    arg += 5;
    while (*arg == ' ')
        arg++;
    /* The sender does not enter the decision; only check the shape. */
    if (arg[0] != '<' || !strchr(arg, '>')) {
        reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    c->state = ST_MAIL;
    c->rcpts = 0;
    reply(c, "250 2.1.0 Ok");
}

static void do_rcpt(server *sv, conn *c, const char *arg)
{
    if (c->state != ST_MAIL) {
        reply(c, "503 5.5.1 Need MAIL command");
        return;
    }
    if (!starts(arg, "TO:")) {
        reply(c, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    arg += 3;
    while (*arg == ' ') /* "RCPT TO: <a@b>" is common enough to forgive */
        arg++;
    if (c->rcpts >= sv->cfg.max_rcpts) {
        reply(c, "452 4.5.3 Too many recipients");
        return;
    }

    relaypol_request req;
    relaypol_request_init(&req);
    req.client = c->client;
    req.local = c->local; /* what getsockname() said: the local-IP rule */
    req.recipient = arg;  /* as sent: relaypol parses brackets and params */
    req.recipient_len = strlen(arg);
    req.user = c->authed ? c->user : NULL;
    req.flags = 0; /* this example speaks no TLS */

    relaypol_decision d;
    relaypol_decision_init(&d);
    if (relaypol_decide(sv->policy, &req, &d) != RELAYPOL_OK) {
        logmsg("[%lu] relaypol_decide failed", c->id);
        reply(c, "451 4.3.0 Local error in processing");
        return;
    }
    char why[1024];
    relaypol_explain(&d, &req, why, sizeof why);
    logmsg("[%lu] %s", c->id, why);
    if (d.verdict != RELAYPOL_DENY)
        c->rcpts++;
    reply(c, "%s", d.reply);
}

static void do_data(conn *c)
{
    if (c->state != ST_MAIL) {
        reply(c, "503 5.5.1 Need MAIL command");
    } else if (c->rcpts == 0) {
        reply(c, "554 5.5.1 No valid recipients");
    } else {
        /* Accepting and discarding would lose mail silently; refusing
         * keeps the example honest: it only ever answers RCPT. */
        reset_transaction(c);
        reply(c, "554 5.3.2 This example does not accept messages "
                 "(it only answers RCPT TO)");
    }
}

/* The AUTH PLAIN response (RFC 4616): [authzid] NUL authcid NUL passwd. */
static void auth_response(server *sv, conn *c, const char *b64)
{
    c->auth_wait = false;
    if (strcmp(b64, "*") == 0) {
        reply(c, "501 5.0.0 Authentication cancelled");
        return;
    }
    unsigned char buf[LINE_MAX_SMTP];
    long n = strcmp(b64, "=") == 0
                 ? 0
                 : b64_decode(b64, strlen(b64), buf, sizeof buf);
    if (n < 0) {
        reply(c, "501 5.5.2 Cannot decode the response");
        return;
    }
    const char *p = (const char *)buf, *end = p + n;
    const char *nul1 = memchr(p, '\0', (size_t)n);
    const char *nul2 = nul1 ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))
                            : NULL;
    if (!nul2 || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1))) {
        reply(c, "501 5.5.2 Malformed PLAIN response");
        return;
    }
    const char *authz = p, *authc = nul1 + 1, *pass = nul2 + 1;
    size_t zlen = (size_t)(nul1 - authz), clen = (size_t)(nul2 - authc);
    size_t plen = (size_t)(end - pass);
    char shown[4 * CRED_MAX + 1];
    escape(authc, clen < CRED_MAX ? clen : CRED_MAX, shown, sizeof shown);
    /* Acting for another identity is not supported: authzid must be empty
     * or the same as authcid. */
    bool ok = (zlen == 0 || (zlen == clen && memcmp(authz, authc, clen) == 0)) &&
              check_password(&sv->users, authc, clen, pass, plen);
    if (!ok) {
        c->auth_failures++;
        logmsg("[%lu] AUTH PLAIN failed for '%s'", c->id, shown);
        if (c->auth_failures >= MAX_AUTH_FAILURES) {
            reply(c, "421 4.7.0 Too many authentication failures");
            c->closing = true;
        } else {
            reply(c, "535 5.7.8 Authentication credentials invalid");
        }
        return;
    }
    memcpy(c->user, authc, clen);
    c->user[clen] = '\0';
    c->authed = true;
    logmsg("[%lu] AUTH PLAIN user=%s", c->id, shown);
    reply(c, "235 2.7.0 Authentication successful");
}

static void do_auth(server *sv, conn *c, const char *arg)
{
    if (!sv->cfg.users_path) {
        reply(c, "502 5.5.1 AUTH not available (no user file)");
    } else if (!c->ehlo) {
        reply(c, "503 5.5.1 Send EHLO first");
    } else if (c->authed) {
        reply(c, "503 5.5.1 Already authenticated");
    } else if (c->state == ST_MAIL) {
        reply(c, "503 5.5.1 AUTH not permitted during a mail transaction");
    } else if (!starts(arg, "PLAIN") || (arg[5] != '\0' && arg[5] != ' ')) {
        reply(c, "504 5.5.4 Unrecognized authentication type");
    } else if (arg[5] == '\0') {
        c->auth_wait = true;
        reply(c, "334 ");
    } else {
        auth_response(sv, c, arg + 6);
    }
}

/* One complete command line, without its CRLF. */
static void command(server *sv, conn *c, char *line)
{
    if (++c->commands > sv->cfg.max_commands) {
        reply(c, "421 4.7.0 Too many commands, closing connection");
        c->closing = true;
        return;
    }
    if (c->auth_wait) {
        auth_response(sv, c, line);
        return;
    }
    char *arg = line;
    while (*arg && *arg != ' ')
        arg++;
    size_t vlen = (size_t)(arg - line);
    while (*arg == ' ')
        arg++;
#define VERB(v) (vlen == sizeof(v) - 1 && strncasecmp(line, v, vlen) == 0)
    if (VERB("EHLO"))
        do_ehlo(sv, c, arg, true);
    else if (VERB("HELO"))
        do_ehlo(sv, c, arg, false);
    else if (VERB("MAIL"))
        do_mail(c, arg);
    else if (VERB("RCPT"))
        do_rcpt(sv, c, arg);
    else if (VERB("DATA"))
        do_data(c);
    else if (VERB("AUTH"))
        do_auth(sv, c, arg);
    else if (VERB("RSET")) {
        reset_transaction(c);
        reply(c, "250 2.0.0 Ok");
    } else if (VERB("NOOP"))
        reply(c, "250 2.0.0 Ok");
    else if (VERB("QUIT")) {
        reply(c, "221 2.0.0 Bye");
        c->closing = true;
    } else if (VERB("VRFY") || VERB("EXPN") || VERB("STARTTLS") ||
               VERB("BDAT") || VERB("ETRN"))
        reply(c, "502 5.5.1 Command not implemented");
    else
        reply(c, "500 5.5.2 Command unrecognized");
#undef VERB
}

/* Runs the complete lines in the input buffer while there is room for
 * their replies. */
static void serve_lines(server *sv, conn *c)
{
    size_t start = 0;
    while (!c->closing && c->out_len < OUT_HIGH) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        if (!nl)
            break;
        size_t end = (size_t)(nl - c->in);
        size_t len = end - start;
        if (len > 0 && c->in[end - 1] == '\r')
            len--;
        c->in[start + len] = '\0';
        if (c->discarding) {
            c->discarding = false; /* the tail of an over-long line */
        } else if (memchr(c->in + start, '\0', len)) {
            reply(c, "500 5.5.2 NUL byte in command");
        } else {
            command(sv, c, c->in + start);
        }
        start = end + 1;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    /* A full buffer without a line end: the line is too long.  Say so
     * once and drop bytes up to the next LF. */
    if (c->in_len == sizeof c->in && !c->closing &&
        !memchr(c->in, '\n', c->in_len)) {
        if (!c->discarding) {
            reply(c, "500 5.5.2 Line too long (512 octets at most)");
            if (++c->commands > sv->cfg.max_commands) {
                reply(c, "421 4.7.0 Too many commands, closing connection");
                c->closing = true;
            }
        }
        c->discarding = true;
        c->in_len = 0;
    }
}

/* -------------------------------------------------------------- the loop */

static void conn_close(server *sv, conn *c, const char *why)
{
    logmsg("[%lu] disconnect %s (%s, %u commands)", c->id, c->client_text,
           why, c->commands);
    close(c->fd);
    c->fd = -1;
    sv->n_conns--;
}

static void accept_one(server *sv, int lfd)
{
    struct sockaddr_storage peer, me;
    socklen_t pl = sizeof peer, ml = sizeof me;
    int fd = accept(lfd, (struct sockaddr *)&peer, &pl);
    if (fd < 0)
        return; /* EAGAIN, or the client already went away */
    if (!set_nonblock(fd)) {
        close(fd);
        return;
    }
    if (sv->n_conns >= sv->cfg.max_clients) {
        static const char busy[] =
            "421 4.3.2 Too many connections, try again later\r\n";
        ssize_t ignored = send(fd, busy, sizeof busy - 1, 0);
        (void)ignored;
        logmsg("refused a client: %u clients already", sv->n_conns);
        close(fd);
        return;
    }
    conn *c = NULL;
    for (unsigned i = 0; i < sv->cfg.max_clients; i++)
        if (sv->conns[i].fd < 0) {
            c = &sv->conns[i];
            break;
        }
    if (!c) { /* cannot happen while n_conns counts the table */
        close(fd);
        return;
    }
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->id = ++sv->next_id;
    c->last_ms = now_ms();
    if (relaypol_addr_from_sockaddr((struct sockaddr *)&peer, &c->client) !=
            RELAYPOL_OK ||
        getsockname(fd, (struct sockaddr *)&me, &ml) != 0 ||
        relaypol_addr_from_sockaddr((struct sockaddr *)&me, &c->local) !=
            RELAYPOL_OK) {
        close(fd);
        c->fd = -1;
        return;
    }
    /* Log the client as relaypol will decide it (::ffff:a.b.c.d folded). */
    relaypol_addr shown = c->client;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (shown.family == RELAYPOL_AF_INET6 &&
        memcmp(shown.bytes, mapped, sizeof mapped) == 0)
        relaypol_addr_from_bytes(shown.bytes + 12, 4, &shown);
    relaypol_addr_format(&shown, c->client_text, sizeof c->client_text);
    char lt[RELAYPOL_ADDR_STRLEN];
    relaypol_addr_format(&c->local, lt, sizeof lt);
    sv->n_conns++;
    logmsg("[%lu] connect from %s to %s", c->id, c->client_text, lt);
    reply(c, "220 %s ESMTP relaypol-smtpd (answers RCPT TO, delivers nothing)",
          sv->cfg.hostname);
    if (!flush(c))
        conn_close(sv, c, "write error");
}

static void on_readable(server *sv, conn *c)
{
    if (c->in_len == sizeof c->in) { /* lines still waiting for room */
        serve_lines(sv, c);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    if (n == 0) {
        conn_close(sv, c, "client closed");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(sv, c, strerror(errno));
        return;
    }
    c->in_len += (size_t)n;
    c->last_ms = now_ms();
    serve_lines(sv, c);
}

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    ssize_t ignored = write(sig_pipe[1], &b, 1);
    (void)ignored;
    errno = saved;
}

static void reload(server *sv)
{
    relaypol_policy *p = load_policy(sv->cfg.policy_path);
    userdb u = {NULL, 0};
    if (!p || (sv->cfg.users_path && !load_users(sv->cfg.users_path, &u))) {
        relaypol_policy_free(p);
        logmsg("reload failed: keeping the previous policy and users");
        return;
    }
    /* One thread: nobody holds the old policy now.  A threaded server
     * would publish through a relaypol_slot instead. */
    relaypol_policy_free(sv->policy);
    sv->policy = p;
    if (sv->cfg.users_path) {
        free(sv->users.v);
        sv->users = u;
    }
    logmsg("reloaded");
}

static int run(server *sv)
{
    size_t cap = sv->n_listen + 1 + sv->cfg.max_clients;
    struct pollfd *pfd = calloc(cap, sizeof *pfd);
    conn **who = calloc(cap, sizeof *who);
    if (!pfd || !who) {
        logmsg("out of memory");
        free(pfd);
        free(who);
        return 1;
    }
    bool stop = false;
    while (!stop) {
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
        for (size_t i = 0; i < sv->n_listen; i++)
            pfd[n++] = (struct pollfd){.fd = sv->listen_fd[i], .events = POLLIN};
        size_t first_conn = n;
        int64_t now = now_ms(), timeout = -1;
        for (unsigned i = 0; i < sv->cfg.max_clients; i++) {
            conn *c = &sv->conns[i];
            if (c->fd < 0)
                continue;
            int64_t left = c->last_ms + (int64_t)sv->cfg.idle_seconds * 1000 - now;
            if (left <= 0 && !c->closing) {
                reply(c, "421 4.4.2 Idle timeout, closing connection");
                c->closing = true;
                flush(c);
                conn_close(sv, c, "idle timeout");
                continue;
            }
            if (timeout < 0 || left < timeout)
                timeout = left;
            who[n] = c;
            /* Read only when all replies are out: flow control. */
            pfd[n++] = (struct pollfd){
                .fd = c->fd, .events = c->out_len ? POLLOUT : POLLIN};
        }
        int r = poll(pfd, (nfds_t)n, timeout > INT32_MAX ? INT32_MAX : (int)timeout);
        if (r < 0 && errno != EINTR) {
            logmsg("poll: %s", strerror(errno));
            break;
        }
        if (r <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            unsigned char sigs[16];
            ssize_t k = read(sig_pipe[0], sigs, sizeof sigs);
            for (ssize_t i = 0; i < k; i++) {
                if (sigs[i] == SIGHUP)
                    reload(sv);
                else
                    stop = true;
            }
        }
        for (size_t i = first_conn; i < n; i++) {
            conn *c = who[i];
            if (!pfd[i].revents || c->fd < 0)
                continue;
            if (pfd[i].revents & POLLIN) {
                on_readable(sv, c);
            } else if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                conn_close(sv, c, "connection error");
                continue;
            }
            if (c->fd < 0)
                continue;
            if (!flush(c)) {
                conn_close(sv, c, "write error");
                continue;
            }
            if (c->out_len == 0 && c->closing) {
                conn_close(sv, c, "closed by server");
                continue;
            }
            /* Output drained: lines that waited for room can run now. */
            if (c->out_len == 0 && c->in_len > 0) {
                serve_lines(sv, c);
                if (!flush(c))
                    conn_close(sv, c, "write error");
                else if (c->out_len == 0 && c->closing)
                    conn_close(sv, c, "closed by server");
            }
        }
        for (size_t i = 1; i < first_conn; i++)
            if (pfd[i].revents & POLLIN)
                for (int k = 0; k < 16; k++) /* accept a burst, not forever */
                    accept_one(sv, pfd[i].fd);
    }
    for (unsigned i = 0; i < sv->cfg.max_clients; i++) {
        conn *c = &sv->conns[i];
        if (c->fd >= 0) {
            reply(c, "421 4.3.2 Service shutting down");
            flush(c);
            conn_close(sv, c, "shutdown");
        }
    }
    free(pfd);
    free(who);
    logmsg("stopped");
    return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fputs("usage: relaypol-smtpd -f POLICY [-l ADDR:PORT]... [-u USERFILE]\n"
          "                      [-n HOSTNAME] [-c MAXCLIENTS] [-m MAXCOMMANDS]\n"
          "                      [-r MAXRCPTS] [-t IDLESECONDS] [-w READYFILE] [-T]\n"
          "\n"
          "A minimal SMTP server that answers RCPT TO with relaypol's\n"
          "decision and delivers nothing (DATA is refused).\n"
          "\n"
          "  -f POLICY    relaypol policy file (required)\n"
          "  -l ADDR:PORT listen address, repeatable: 127.0.0.1:2525,\n"
          "               [::1]:2525 (default both); port 0 = any free port\n"
          "  -u USERFILE  user:password lines; enables AUTH PLAIN\n"
          "  -n HOSTNAME  name in the greeting (default localhost)\n"
          "  -c N         clients at once (default 64)\n"
          "  -m N         commands per connection (default 100)\n"
          "  -r N         recipients per transaction (default 100)\n"
          "  -t SECONDS   idle timeout (default 300)\n"
          "  -w FILE      once listening, write \"ADDR PORT\" lines to FILE\n"
          "  -T           check the policy and user file, then exit\n"
          "\n"
          "Logs go to standard error: one relaypol_explain() line per RCPT.\n"
          "SIGHUP reloads the policy and user file; SIGTERM stops.\n",
          f);
}

int main(int argc, char **argv)
{
    server sv;
    memset(&sv, 0, sizeof sv);
    config *cfg = &sv.cfg;
    cfg->hostname = "localhost";
    cfg->max_clients = 64;
    cfg->max_commands = 100;
    cfg->max_rcpts = 100;
    cfg->idle_seconds = 300;

    int opt;
    while ((opt = getopt(argc, argv, "f:l:u:n:c:m:r:t:w:Th")) != -1) {
        switch (opt) {
        case 'f': cfg->policy_path = optarg; break;
        case 'l':
            if (cfg->n_listen == MAX_LISTEN) {
                fprintf(stderr, "relaypol-smtpd: at most %d -l\n", MAX_LISTEN);
                return 2;
            }
            cfg->listen[cfg->n_listen++] = optarg;
            break;
        case 'u': cfg->users_path = optarg; break;
        case 'n': cfg->hostname = optarg; break;
        case 'c': cfg->max_clients = parse_uint(optarg, "-c", 10000); break;
        case 'm': cfg->max_commands = parse_uint(optarg, "-m", 1000000); break;
        case 'r': cfg->max_rcpts = parse_uint(optarg, "-r", 100000); break;
        case 't': cfg->idle_seconds = parse_uint(optarg, "-t", 86400); break;
        case 'w': cfg->ready_path = optarg; break;
        case 'T': cfg->check_only = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg->policy_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (cfg->n_listen == 0) {
        cfg->listen[cfg->n_listen++] = "127.0.0.1:2525";
        cfg->listen[cfg->n_listen++] = "[::1]:2525";
    }
    if (strlen(cfg->hostname) > 255 || strpbrk(cfg->hostname, " \r\n")) {
        fprintf(stderr, "relaypol-smtpd: bad -n host name\n");
        return 2;
    }
    logmsg("librelaypol %s", relaypol_version());

    sv.policy = load_policy(cfg->policy_path);
    if (!sv.policy)
        return 1;
    if (cfg->users_path && !load_users(cfg->users_path, &sv.users)) {
        relaypol_policy_free(sv.policy);
        return 1;
    }
    if (cfg->check_only) {
        relaypol_policy_free(sv.policy);
        free(sv.users.v);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL); /* a vanished client is an EPIPE */
    if (pipe(sig_pipe) != 0 || !set_nonblock(sig_pipe[0]) ||
        !set_nonblock(sig_pipe[1])) {
        logmsg("pipe: %s", strerror(errno));
        return 1;
    }
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    int status = 1;
    for (size_t i = 0; i < cfg->n_listen; i++) {
        int fd = open_listener(cfg->listen[i]);
        if (fd < 0) {
            logmsg("cannot listen on %s", cfg->listen[i]);
            goto out;
        }
        sv.listen_fd[sv.n_listen++] = fd;
        char d[RELAYPOL_ADDR_STRLEN + 16];
        describe_listener(fd, d, sizeof d);
        logmsg("listening on %s", d);
    }
    if (cfg->ready_path && !write_ready_file(&sv)) {
        logmsg("%s: %s", cfg->ready_path, strerror(errno));
        goto out;
    }
    sv.conns = calloc(cfg->max_clients, sizeof *sv.conns);
    if (!sv.conns) {
        logmsg("out of memory");
        goto out;
    }
    for (unsigned i = 0; i < cfg->max_clients; i++)
        sv.conns[i].fd = -1;
    status = run(&sv);
out:
    for (size_t i = 0; i < sv.n_listen; i++)
        close(sv.listen_fd[i]);
    free(sv.conns);
    free(sv.users.v);
    relaypol_policy_free(sv.policy);
    return status;
}
