/*
 * relaypol-policyd — a Postfix SMTP access policy delegation server
 * (check_policy_service) that decides relaying with relaypol.
 *
 * Design, in one paragraph: one thread runs a poll() loop over the
 * listeners, the connections and a self-pipe for signals.  Every request is
 * framed, parsed and decided in that thread: a decision takes well under a
 * microsecond and never blocks, so more threads would only add locking
 * (see README.md for the figures).  A second thread exists only to reload
 * the policy on SIGHUP: compiling a large policy can take a while, and
 * Postfix's smtpd waits for our answers meanwhile.  The reloader publishes
 * the finished policy through a relaypol_slot; the loop takes a reference
 * for each request, so a request is decided on exactly one complete policy,
 * old or new, never on a half-built one.
 *
 * Everything a client can make us hold is bounded: line length, request
 * size, attribute count, connections, idle and request time, output that a
 * client does not read, and the rate of our own error log lines.
 *
 * Strict C11 plus POSIX.1-2008; links only the public relaypol API, so it
 * builds with `cc relaypol-policyd.c $(pkg-config --cflags --libs relaypol)`.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L

#include <relaypol/relaypol.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "relaypol-policyd"

#define MAX_LISTEN 16
#define MAX_ACTION 512               /* an action text given as an option */
#define MAX_REPLY (MAX_ACTION + 600) /* "action=" + text + "\n\n", room to spare */
#define OUT_CAP (4 * MAX_REPLY)      /* replies waiting for a slow reader */
#define ACCEPT_BURST 64              /* accepts per listener per loop turn */
#define ERROR_LOGS_PER_SEC 20        /* then error lines are counted, not written */

/* ------------------------------------------------------------ configuration */

typedef struct config {
    const char *policy_path;
    const char *listen[MAX_LISTEN];
    size_t nlisten;
    const char *on_relay;
    const char *on_local;
    const char *on_deny; /* "{reply}" stands for the decision's reply */
    const char *on_other;
    const char *on_error;
    size_t max_line;
    size_t max_request;
    size_t max_attrs;
    size_t max_conns;
    unsigned idle_timeout;    /* seconds between requests */
    unsigned request_timeout; /* seconds from a request's first byte to its end */
    unsigned unix_mode;
    uint32_t load_flags;
    bool log_permits;
    bool use_syslog;
} config;

static config cfg = {
    .on_relay = "OK",
    .on_local = "DUNNO",
    .on_deny = "{reply}",
    .on_other = "DUNNO",
    .on_error = "DEFER_IF_PERMIT Policy request not understood",
    .max_line = 4096,
    .max_request = 16384,
    .max_attrs = 100,
    .max_conns = 512,
    .idle_timeout = 600,
    .request_timeout = 30,
    .unix_mode = 0666,
};

/* ------------------------------------------------------------------ logging */

enum { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO };

/* Formats one line and writes it with a single call, so that lines from the
 * loop and the reloader never interleave (stdio locks each call). */
static void logmsg(int level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void logmsg(int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cfg.use_syslog) {
        int prio = level == LOG_LVL_ERR    ? LOG_ERR
                   : level == LOG_LVL_WARN ? LOG_WARNING
                                           : LOG_INFO;
        syslog(prio, "%s", msg);
        return;
    }
    static const char *const names[] = {"error", "warning", "info"};
    struct timespec ts;
    struct tm tm;
    char when[32] = "";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld " PROG "[%ld]: %s: %s\n", when,
            ts.tv_nsec / 1000000L, (long)getpid(), names[level], msg);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Error lines caused by clients (garbage, floods) are rate limited: a
 * client must not be able to fill the disk through us.  Loop thread only. */
static struct {
    double window;
    unsigned in_window;
    unsigned long suppressed;
} ratelim;

static bool error_log_allowed(void)
{
    double t = now_mono();
    if (t - ratelim.window >= 1.0) {
        if (ratelim.suppressed)
            logmsg(LOG_LVL_WARN, "%lu error messages suppressed (more than %d/s)",
                   ratelim.suppressed, ERROR_LOGS_PER_SEC);
        ratelim.window = t;
        ratelim.in_window = 0;
        ratelim.suppressed = 0;
    }
    if (ratelim.in_window < ERROR_LOGS_PER_SEC) {
        ratelim.in_window++;
        return true;
    }
    ratelim.suppressed++;
    return false;
}

/* Copies at most max bytes of s into buf as printable ASCII: control and
 * 8-bit bytes become \xHH, so a request cannot forge log lines. */
static const char *escape(const char *s, size_t n, char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[ch >> 4];
            buf[o++] = hex[ch & 15];
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (len)
        buf[o < len ? o : len - 1] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ signals */

static volatile sig_atomic_t sig_hup, sig_term, sig_usr1;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        sig_hup = 1;
    else if (sig == SIGUSR1)
        sig_usr1 = 1;
    else
        sig_term = 1;
    /* Wakes poll(); a full pipe already holds a wake-up. */
    ssize_t r = write(sig_pipe[1], "s", 1);
    (void)r;
    errno = saved;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fd_fl = fcntl(fd, F_GETFD);
    if (fd_fl < 0 || fcntl(fd, F_SETFD, fd_fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

static int install_signals(void)
{
    if (pipe(sig_pipe) < 0 || set_nonblock_cloexec(sig_pipe[0]) < 0 ||
        set_nonblock_cloexec(sig_pipe[1]) < 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -1;
    /* A peer that goes away while we write must not kill the server. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* ------------------------------------------------------------------ reload */

static relaypol_slot *slot;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long requested; /* SIGHUPs seen */
    unsigned long done;      /* the last request the reloader finished */
    bool quit;
} rl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};

/* Loads the policy file.  On success stores the new policy in *out and logs
 * what was loaded; on failure logs "file:line:column: message" (the form
 * editors jump to) and returns false. */
static bool load_policy(const char *what, relaypol_policy **out)
{
    relaypol_load_options opts;
    relaypol_load_options_init(&opts);
    opts.flags = cfg.load_flags;
    relaypol_error err;
    memset(&err, 0, sizeof err);
    double t0 = now_mono();
    relaypol_status st =
        relaypol_policy_load_file(cfg.policy_path, &opts, out, &err);
    if (st != RELAYPOL_OK) {
        char text[2 * RELAYPOL_ERROR_TEXT_MAX + 64];
        relaypol_error_format(&err, text, sizeof text);
        logmsg(LOG_LVL_ERR, "%s failed: %s (%s)", what, text,
               relaypol_strerror(st));
        return false;
    }
    logmsg(LOG_LVL_INFO, "%s: %s: RelayFlags=%u, %zu bytes, %.1f ms", what,
           cfg.policy_path, relaypol_policy_relay_flags(*out),
           relaypol_policy_memory(*out), (now_mono() - t0) * 1e3);
    return true;
}

/* The reloader thread: waits for SIGHUPs (handed over by the loop), builds
 * the new policy completely, and only then publishes it.  A failed load
 * publishes nothing, so the old policy stays in force. */
static void *reloader(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&rl.mu);
    for (;;) {
        while (!rl.quit && rl.done == rl.requested)
            pthread_cond_wait(&rl.cv, &rl.mu);
        if (rl.quit)
            break;
        /* SIGHUPs that arrive during a load are folded into one more load. */
        unsigned long target = rl.requested;
        pthread_mutex_unlock(&rl.mu);

        relaypol_policy *p = NULL;
        if (load_policy("reload", &p)) {
            relaypol_slot_store(slot, p);
            relaypol_policy_free(p); /* the slot holds its own reference */
            logmsg(LOG_LVL_INFO, "reload: new policy in force");
        } else {
            logmsg(LOG_LVL_WARN, "reload: keeping the previous policy");
        }

        pthread_mutex_lock(&rl.mu);
        rl.done = target;
    }
    pthread_mutex_unlock(&rl.mu);
    return NULL;
}

static void request_reload(void)
{
    pthread_mutex_lock(&rl.mu);
    rl.requested++;
    pthread_cond_signal(&rl.cv);
    pthread_mutex_unlock(&rl.mu);
}

/* -------------------------------------------------------------- listeners */

typedef struct listener {
    int fd;
    char name[PATH_MAX + 16];
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    double paused_until; /* after EMFILE: stop accepting for a moment */
} listener;

static listener listeners[MAX_LISTEN];
static size_t nlisteners;

/* Binds "unix:PATH".  A stale socket file left by a crash is replaced,
 * but not one a running server still answers on. */
static int listen_unix(const char *path, listener *l)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        logmsg(LOG_LVL_ERR, "unix:%s: path too long", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        logmsg(LOG_LVL_ERR, "socket: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
            logmsg(LOG_LVL_ERR, "unix:%s: another server is listening", path);
            close(fd);
            return -1;
        }
        close(fd);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) {
            logmsg(LOG_LVL_ERR, "socket: %s", strerror(errno));
            return -1;
        }
    }
    mode_t old = umask((mode_t)(~cfg.unix_mode & 0777));
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc < 0) {
        logmsg(LOG_LVL_ERR, "unix:%s: bind: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    memcpy(l->unix_path, sun.sun_path, sizeof l->unix_path);
    snprintf(l->name, sizeof l->name, "unix:%s", path);
    return fd;
}

/* Binds "HOST:PORT" or "[V6]:PORT" with a numeric host.  Port 0 takes a
 * free port; the log line says which (the tests rely on that). */
static int listen_inet(const char *spec, listener *l)
{
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof host)
            goto bad;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof host ||
            memchr(spec, ':', (size_t)(colon - spec)))
            goto bad;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    if (!*host || !*port || strspn(port, "0123456789") != strlen(port) ||
        strlen(port) > 5 || atoi(port) > 65535)
        goto bad;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0 || !res) {
        logmsg(LOG_LVL_ERR, "--listen %s: %s (give a numeric address)", spec,
               gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        logmsg(LOG_LVL_ERR, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6) /* [::] and 0.0.0.0 may then coexist */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        logmsg(LOG_LVL_ERR, "--listen %s: bind: %s", spec, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ab[INET6_ADDRSTRLEN] = "?";
    unsigned bound = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ab, sizeof ab);
            bound = ntohs(s4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ab, sizeof ab);
            bound = ntohs(s6->sin6_port);
        }
    }
    if (ss.ss_family == AF_INET6)
        snprintf(l->name, sizeof l->name, "[%s]:%u", ab, bound);
    else
        snprintf(l->name, sizeof l->name, "%s:%u", ab, bound);
    return fd;
bad:
    logmsg(LOG_LVL_ERR,
           "--listen %s: expected ADDRESS:PORT, [IPV6]:PORT or unix:PATH",
           spec);
    return -1;
}

static int open_listeners(void)
{
    for (size_t i = 0; i < cfg.nlisten; i++) {
        listener *l = &listeners[nlisteners];
        memset(l, 0, sizeof *l);
        const char *spec = cfg.listen[i];
        int fd = strncmp(spec, "unix:", 5) == 0 ? listen_unix(spec + 5, l)
                                                : listen_inet(spec, l);
        if (fd < 0)
            return -1;
        l->fd = fd;
        nlisteners++;
        if (set_nonblock_cloexec(fd) < 0 || listen(fd, 512) < 0) {
            logmsg(LOG_LVL_ERR, "%s: listen: %s", l->name, strerror(errno));
            return -1;
        }
        logmsg(LOG_LVL_INFO, "listening on %s", l->name);
    }
    return 0;
}

static void close_listeners(void)
{
    for (size_t i = 0; i < nlisteners; i++) {
        close(listeners[i].fd);
        if (listeners[i].unix_path[0])
            unlink(listeners[i].unix_path);
    }
    nlisteners = 0;
}

/* ------------------------------------------------------------ connections */

typedef struct conn {
    int fd;
    char peer[INET6_ADDRSTRLEN + 16];
    char *in;           /* received bytes: [head, len) are not yet answered */
    size_t cap, head, len;
    size_t line_start;  /* start of the line being received */
    char out[OUT_CAP];  /* replies not yet written */
    size_t out_off, out_len;
    double last_io;     /* last byte moved either way */
    double req_start;   /* first byte of the current request */
    bool more;          /* complete requests wait for room in out[] */
    bool dead;
} conn;

static conn **conns;
static size_t nconns;

static struct {
    unsigned long long requests, relay, local, deny, other, errors;
    unsigned long long accepted, refused, framing, timeouts;
    size_t peak;
} stats;

static void conn_close(conn *c, const char *why)
{
    if (why && error_log_allowed())
        logmsg(LOG_LVL_WARN, "%s: closing connection: %s", c->peer, why);
    c->dead = true;
}

/* Appends "action=TEXT\n\n".  TEXT comes from options (checked at start)
 * or the policy's reply; control characters are replaced so that neither
 * can break the framing. */
static void put_action(conn *c, const char *tmpl, const char *reply)
{
    char text[MAX_REPLY];
    size_t o = 0;
    const size_t lim = sizeof text - 1;
    for (const char *p = tmpl; *p && o < lim;) {
        if (reply && strncmp(p, "{reply}", 7) == 0) {
            for (const char *r = reply; *r && o < lim; r++)
                text[o++] = *r;
            p += 7;
        } else {
            text[o++] = *p++;
        }
    }
    text[o] = '\0';
    for (size_t i = 0; i < o; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            text[i] = ' ';
    int n = snprintf(c->out + c->out_len, sizeof c->out - c->out_len,
                     "action=%s\n\n", text);
    /* process_input() only calls us with MAX_REPLY bytes free. */
    if (n > 0 && (size_t)n < sizeof c->out - c->out_len)
        c->out_len += (size_t)n;
}

/* The attributes we use.  Every other attribute is ignored: Postfix adds
 * new ones in new versions (see the notes' table). */
enum {
    A_REQUEST, A_STATE, A_CLIENT, A_SERVER, A_NAME, A_USER, A_TLS, A_RCPT,
    A_SENDER, A_COUNT
};
static const char *const attr_names[A_COUNT] = {
    "request", "protocol_state", "client_address", "server_address",
    "client_name", "sasl_username", "encryption_protocol", "recipient",
    "sender",
};

/* Answers a request that could not be understood but was well framed: the
 * connection stays usable, and DEFER_IF_PERMIT (by default) can only turn
 * a later "permit" into a temporary failure, never let mail through. */
static void reply_error(conn *c, const char *why, const char *detail)
{
    stats.errors++;
    if (error_log_allowed()) {
        char esc[256];
        escape(detail ? detail : "", detail ? strlen(detail) : 0, esc,
               sizeof esc);
        logmsg(LOG_LVL_WARN, "%s: bad request: %s%s%s%s; answering %s",
               c->peer, why, detail ? " \"" : "", detail ? esc : "",
               detail ? "\"" : "", cfg.on_error);
    }
    put_action(c, cfg.on_error, NULL);
}

/* Decides one complete request: lines in req[0..len), each ended by '\n'
 * (the terminating empty line is not included). */
static void handle_request(conn *c, char *req, size_t len)
{
    const char *val[A_COUNT] = {0};
    size_t vlen[A_COUNT] = {0};
    size_t nattrs = 0;
    stats.requests++;

    /* Every line of req ends with '\n' (process_input framed it). */
    char *p = req, *end = req + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        char *le = nl;
        if (le > p && le[-1] == '\r') /* be lenient with CRLF */
            le--;
        *le = '\0';
        size_t ll = (size_t)(le - p);
        if (++nattrs > cfg.max_attrs) {
            reply_error(c, "too many attributes", NULL);
            return;
        }
        if (memchr(p, '\0', ll)) {
            reply_error(c, "NUL byte in an attribute", NULL);
            return;
        }
        char *eq = memchr(p, '=', ll);
        if (!eq || eq == p) {
            reply_error(c, "not a name=value line", p);
            return;
        }
        size_t nlen = (size_t)(eq - p);
        for (int a = 0; a < A_COUNT; a++) {
            if (strlen(attr_names[a]) == nlen &&
                memcmp(attr_names[a], p, nlen) == 0) {
                /* Postfix never repeats one; a repeat is an attempt to make
                 * the log and the decision see different values. */
                if (val[a]) {
                    reply_error(c, "repeated attribute", attr_names[a]);
                    return;
                }
                val[a] = eq + 1;
                vlen[a] = (size_t)(le - eq - 1);
                break;
            }
        }
        p = nl + 1;
    }

    if (!val[A_REQUEST] || strcmp(val[A_REQUEST], "smtpd_access_policy") != 0) {
        reply_error(c, "request is not smtpd_access_policy", val[A_REQUEST]);
        return;
    }
    if (!val[A_STATE]) {
        reply_error(c, "no protocol_state", NULL);
        return;
    }
    /* The relay decision needs the recipient, which exists only at RCPT.
     * Elsewhere (a policy attached to the wrong restriction list, VRFY,
     * ETRN, DATA, ...) we neither permit nor reject. */
    if (strcmp(val[A_STATE], "RCPT") != 0) {
        stats.other++;
        put_action(c, cfg.on_other, NULL);
        return;
    }

    relaypol_request rq;
    relaypol_request_init(&rq);
    if (!val[A_CLIENT] ||
        relaypol_addr_parse(val[A_CLIENT], &rq.client) != RELAYPOL_OK) {
        reply_error(c, "bad client_address", val[A_CLIENT] ? val[A_CLIENT] : "");
        return;
    }
    /* server_address exists since Postfix 3.2; without it the local-IP
     * rule simply does not match. */
    if (val[A_SERVER] && vlen[A_SERVER] &&
        relaypol_addr_parse(val[A_SERVER], &rq.local) != RELAYPOL_OK) {
        reply_error(c, "bad server_address", val[A_SERVER]);
        return;
    }
    if (!val[A_RCPT]) {
        reply_error(c, "no recipient", NULL);
        return;
    }
    rq.recipient = val[A_RCPT];
    rq.recipient_len = vlen[A_RCPT];
    rq.user = val[A_USER] && vlen[A_USER] ? val[A_USER] : NULL;
    rq.client_name = val[A_NAME] && vlen[A_NAME] ? val[A_NAME] : NULL;
    /* Postfix's recipient attribute is the internal form: quotes and
     * source route already gone, so leftover @ % ! are routing. */
    rq.flags = RELAYPOL_REQ_RCPT_INTERNAL;
    if (val[A_TLS] && vlen[A_TLS])
        rq.flags |= RELAYPOL_REQ_TLS;

    relaypol_decision d;
    relaypol_decision_init(&d);
    /* One reference for the whole decision: a reload publishing a new
     * policy meanwhile cannot free or change the one we use. */
    relaypol_policy *pol = relaypol_slot_acquire(slot);
    if (!pol || relaypol_decide(pol, &rq, &d) != RELAYPOL_OK) {
        relaypol_policy_free(pol);
        reply_error(c, "the decision failed", NULL);
        return;
    }
    const char *tmpl = d.verdict == RELAYPOL_RELAY   ? cfg.on_relay
                       : d.verdict == RELAYPOL_LOCAL ? cfg.on_local
                                                     : cfg.on_deny;
    size_t before = c->out_len;
    put_action(c, tmpl, d.reply); /* d.reply is borrowed from pol */
    if (d.verdict == RELAYPOL_RELAY)
        stats.relay++;
    else if (d.verdict == RELAYPOL_LOCAL)
        stats.local++;
    else
        stats.deny++;

    if (d.verdict == RELAYPOL_DENY || cfg.log_permits) {
        /* Seed 001: a denial names the client's address, its host name,
         * the authenticated account and the recipient; relaypol_explain
         * adds which rule and which policy line decided. */
        char why[1536], sender[300];
        relaypol_explain(&d, &rq, why, sizeof why);
        escape(val[A_SENDER] ? val[A_SENDER] : "",
               val[A_SENDER] ? vlen[A_SENDER] : 0, sender, sizeof sender);
        size_t an = c->out_len - before;
        /* the action without "action=" and the two newlines */
        int alen = an > 9 ? (int)(an - 9) : 0;
        logmsg(LOG_LVL_INFO, "%s sender=<%s> action=%.*s", why, sender, alen,
               c->out + before + 7);
    }
    relaypol_policy_free(pol);
}

/* Frames requests out of the input buffer and answers each complete one.
 * Framing errors (a line or request over its bound) end the connection
 * without a reply: we cannot tell where the next request would start, and
 * Postfix treats a dropped policy connection as a temporary failure. */
static void process_input(conn *c, double now)
{
    c->more = false;
    while (!c->dead) {
        if (sizeof c->out - c->out_len < MAX_REPLY) {
            /* Answer the rest once out[] drains.  Only a writable socket
             * wakes us then: the bytes may all be read already. */
            c->more = true;
            return;
        }
        char *from = c->in + c->line_start;
        char *nl = memchr(from, '\n', c->len - c->line_start);
        if (!nl) {
            if (c->len - c->line_start > cfg.max_line) {
                stats.framing++;
                conn_close(c, "line too long");
            } else if (c->len - c->head > cfg.max_request) {
                stats.framing++;
                conn_close(c, "request too large");
            }
            return;
        }
        size_t lend = (size_t)(nl - c->in);
        size_t ll = lend - c->line_start;
        if (ll && c->in[lend - 1] == '\r')
            ll--;
        if (ll > cfg.max_line) {
            stats.framing++;
            conn_close(c, "line too long");
            return;
        }
        if (lend + 1 - c->head > cfg.max_request) {
            stats.framing++;
            conn_close(c, "request too large");
            return;
        }
        if (ll == 0) {
            handle_request(c, c->in + c->head, c->line_start - c->head);
            c->head = c->line_start = lend + 1;
            c->req_start = now;
            continue;
        }
        c->line_start = lend + 1;
    }
}

static void flush_output(conn *c, double now)
{
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->last_io = now;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_close(c, NULL); /* the peer went away */
        }
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    else if (c->out_off > sizeof c->out / 2) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
}

static void read_input(conn *c, double now)
{
    if (c->more) { /* answer what we have before reading more */
        process_input(c, now);
        return;
    }
    /* Bytes already answered are dropped before reading more, so the
     * buffer never holds more than one request plus one read. */
    if (c->head > 0) {
        memmove(c->in, c->in + c->head, c->len - c->head);
        c->len -= c->head;
        c->line_start -= c->head;
        c->head = 0;
    }
    size_t limit = cfg.max_request + 1;
    if (c->len == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        if (ncap > limit)
            ncap = limit;
        if (ncap <= c->cap) {
            /* Cannot happen: process_input() closes first. */
            conn_close(c, "request too large");
            return;
        }
        char *n = realloc(c->in, ncap);
        if (!n) {
            conn_close(c, "out of memory");
            return;
        }
        c->in = n;
        c->cap = ncap;
    }
    ssize_t n = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
    if (n > 0) {
        if (c->len == c->head)
            c->req_start = now;
        c->len += (size_t)n;
        c->last_io = now;
        process_input(c, now);
    } else if (n == 0) {
        /* Postfix closes between requests; mid-request is worth a line. */
        conn_close(c, c->len > c->head ? "client closed mid-request" : NULL);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(c, NULL);
    }
}

static void accept_on(listener *l, double now)
{
    if (now < l->paused_until)
        return;
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept(l->fd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                /* Out of descriptors: back off instead of spinning. */
                if (error_log_allowed())
                    logmsg(LOG_LVL_ERR, "%s: accept: %s", l->name,
                           strerror(errno));
                l->paused_until = now + 0.1;
            }
            return;
        }
        if (nconns >= cfg.max_conns) {
            /* Closing at once (rather than leaving it in the backlog) makes
             * Postfix fail fast with its default_action instead of waiting
             * for its policy timeout. */
            stats.refused++;
            close(fd);
            if (error_log_allowed())
                logmsg(LOG_LVL_WARN,
                       "%s: connection refused: --max-connections %zu reached",
                       l->name, cfg.max_conns);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c || set_nonblock_cloexec(fd) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->last_io = c->req_start = now;
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            relaypol_addr a;
            char ab[RELAYPOL_ADDR_STRLEN] = "?";
            if (relaypol_addr_from_sockaddr((struct sockaddr *)&ss, &a) ==
                RELAYPOL_OK)
                relaypol_addr_format(&a, ab, sizeof ab);
            unsigned port = ss.ss_family == AF_INET
                                ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(c->peer, sizeof c->peer,
                     ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ab, port);
        } else {
            snprintf(c->peer, sizeof c->peer, "unix#%d", fd);
        }
        conns[nconns++] = c;
        stats.accepted++;
        if (nconns > stats.peak)
            stats.peak = nconns;
    }
}

static void log_stats(const char *when)
{
    logmsg(LOG_LVL_INFO,
           "%s: requests=%llu relay=%llu local=%llu deny=%llu other=%llu "
           "bad=%llu framing=%llu timeouts=%llu connections=%zu peak=%zu "
           "accepted=%llu refused=%llu",
           when, stats.requests, stats.relay, stats.local, stats.deny,
           stats.other, stats.errors, stats.framing, stats.timeouts, nconns,
           stats.peak, stats.accepted, stats.refused);
}

static int serve(void)
{
    size_t maxfds = 1 + nlisteners + cfg.max_conns;
    struct pollfd *pfd = calloc(maxfds, sizeof *pfd);
    conns = calloc(cfg.max_conns ? cfg.max_conns : 1, sizeof *conns);
    if (!pfd || !conns) {
        logmsg(LOG_LVL_ERR, "out of memory");
        free(pfd);
        return 1;
    }
    int rc = 0;
    while (!sig_term) {
        double now = now_mono();

        /* Timeouts, and the nearest deadline for poll(). */
        double next = now + 5.0;
        for (size_t i = 0; i < nconns; i++) {
            conn *c = conns[i];
            if (c->dead)
                continue;
            bool mid = c->len > c->head;
            double dl = mid ? c->req_start + cfg.request_timeout
                            : c->last_io + cfg.idle_timeout;
            if (c->out_len > c->out_off) /* a reader that does not read */
                dl = c->last_io + cfg.request_timeout;
            if (now >= dl) {
                stats.timeouts++;
                conn_close(c, mid ? "request timeout" : NULL);
            } else if (dl < next) {
                next = dl;
            }
        }
        for (size_t i = 0; i < nlisteners; i++)
            if (listeners[i].paused_until > now && listeners[i].paused_until < next)
                next = listeners[i].paused_until;
        /* Sweep closed connections (order does not matter). */
        for (size_t i = 0; i < nconns;) {
            if (conns[i]->dead) {
                close(conns[i]->fd);
                free(conns[i]->in);
                free(conns[i]);
                conns[i] = conns[--nconns];
            } else {
                i++;
            }
        }

        size_t n = 0;
        pfd[n].fd = sig_pipe[0];
        pfd[n++].events = POLLIN;
        for (size_t i = 0; i < nlisteners; i++) {
            pfd[n].fd = listeners[i].paused_until > now ? -1 : listeners[i].fd;
            pfd[n++].events = POLLIN;
        }
        for (size_t i = 0; i < nconns; i++) {
            conn *c = conns[i];
            pfd[n].fd = c->fd;
            /* Stop reading from a client that leaves its replies unread;
             * with requests still to answer, wait for room to answer. */
            pfd[n].events =
                c->out_len > c->out_off || c->more ? POLLOUT : POLLIN;
            pfd[n++].revents = 0;
        }
        int ms = (int)((next - now) * 1000.0) + 1;
        int pr = poll(pfd, (nfds_t)n, ms);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            logmsg(LOG_LVL_ERR, "poll: %s", strerror(errno));
            rc = 1;
            break;
        }
        now = now_mono();

        if (pfd[0].revents) {
            char drain[64];
            while (read(sig_pipe[0], drain, sizeof drain) > 0)
                ;
        }
        if (sig_hup) {
            sig_hup = 0;
            logmsg(LOG_LVL_INFO, "SIGHUP: reloading %s", cfg.policy_path);
            request_reload();
        }
        if (sig_usr1) {
            sig_usr1 = 0;
            log_stats("statistics");
        }
        if (sig_term)
            break;

        /* Connections first (their slots are pfd[1 + nlisteners + i]),
         * then accept: accept_on() appends to conns. */
        size_t polled = nconns;
        for (size_t i = 0; i < polled; i++) {
            conn *c = conns[i];
            short re = pfd[1 + nlisteners + i].revents;
            if (!re)
                continue;
            if (re & POLLOUT) {
                flush_output(c, now);
                if (c->out_len == 0 && c->more) /* drained: go on */
                    process_input(c, now);
            }
            if (re & (POLLIN | POLLHUP | POLLERR))
                read_input(c, now);
            if (re & POLLNVAL)
                conn_close(c, NULL);
            if (!c->dead && c->out_len > c->out_off)
                flush_output(c, now);
        }
        for (size_t i = 0; i < nlisteners; i++)
            if (pfd[1 + i].revents)
                accept_on(&listeners[i], now);
    }
    for (size_t i = 0; i < nconns; i++) {
        close(conns[i]->fd);
        free(conns[i]->in);
        free(conns[i]);
    }
    nconns = 0;
    free(conns);
    free(pfd);
    return rc;
}

/* ------------------------------------------------------------------ options */

static void usage(FILE *f)
{
    fprintf(f,
"usage: " PROG " --policy FILE --listen SPEC [--listen SPEC ...] [options]\n"
"\n"
"A Postfix policy delegation server (check_policy_service) deciding relaying\n"
"with relaypol at RCPT time.\n"
"\n"
"  --policy FILE          relaypol policy file (reloaded on SIGHUP)\n"
"  --listen SPEC          ADDRESS:PORT, [IPV6]:PORT or unix:PATH (repeatable)\n"
"  --on-relay ACTION      answer when relaying is allowed   (default: OK)\n"
"  --on-local ACTION      answer for local delivery         (default: DUNNO)\n"
"  --on-deny ACTION       answer when refused; {reply} is the policy's reply\n"
"                         (default: {reply}, e.g. 550 5.7.1 Relaying denied)\n"
"  --on-other ACTION      answer outside RCPT               (default: DUNNO)\n"
"  --on-error ACTION      answer to a malformed request\n"
"                         (default: DEFER_IF_PERMIT Policy request not understood)\n"
"  --log-permits          also log relay and local decisions\n"
"  --syslog               log to syslog (facility mail) instead of stderr\n"
"  --max-connections N    connections served at once (default: 512)\n"
"  --idle-timeout SEC     close a connection idle that long (default: 600)\n"
"  --request-timeout SEC  a request must arrive within (default: 30)\n"
"  --max-line BYTES       longest attribute line (default: 4096)\n"
"  --max-request BYTES    largest request (default: 16384)\n"
"  --max-attributes N     most attributes in a request (default: 100)\n"
"  --unix-mode OCTAL      permissions of a unix socket (default: 0666)\n"
"  --literal-masks        load with RELAYPOL_LOAD_LITERAL_MASKS\n"
"  --version, --help\n"
"\n"
"Signals: HUP reloads the policy (a bad file keeps the old one), USR1 logs\n"
"statistics, TERM and INT stop the server.\n");
}

static bool parse_size(const char *opt, const char *s, size_t lo, size_t hi,
                       size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s: expected a number from %zu to %zu, got \"%s\"\n",
                opt, lo, hi, s);
        return false;
    }
    *out = (size_t)v;
    return true;
}

static bool check_action(const char *opt, const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > MAX_ACTION) {
        fprintf(stderr, PROG ": %s: the action must have 1 to %d characters\n",
                opt, MAX_ACTION);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f) {
            fprintf(stderr, PROG ": %s: control characters would break the "
                            "protocol\n", opt);
            return false;
        }
    return true;
}

/* Returns 0 to run, 1 on a usage error, 2 after --help/--version. */
static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        char name[64];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, PROG ": unexpected argument \"%s\"\n", a);
            return 1;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) {
            fprintf(stderr, PROG ": unknown option \"%s\"\n", a);
            return 1;
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        if (eq)
            v = eq + 1;

        /* Flags. */
        bool *flag = strcmp(name, "--log-permits") == 0 ? &cfg.log_permits
                     : strcmp(name, "--syslog") == 0    ? &cfg.use_syslog
                                                        : NULL;
        if (flag || strcmp(name, "--literal-masks") == 0 ||
            strcmp(name, "--help") == 0 || strcmp(name, "--version") == 0) {
            if (v) {
                fprintf(stderr, PROG ": %s takes no value\n", name);
                return 1;
            }
            if (flag)
                *flag = true;
            else if (strcmp(name, "--literal-masks") == 0)
                cfg.load_flags |= RELAYPOL_LOAD_LITERAL_MASKS;
            else if (strcmp(name, "--help") == 0) {
                usage(stdout);
                return 2;
            } else {
                printf(PROG " (relaypol %s)\n", relaypol_version());
                return 2;
            }
            continue;
        }

        /* Options with a value. */
        static const char *const valued[] = {
            "--policy", "--listen", "--on-relay", "--on-local", "--on-deny",
            "--on-other", "--on-error", "--max-connections", "--idle-timeout",
            "--request-timeout", "--max-line", "--max-request",
            "--max-attributes", "--unix-mode"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known = known || strcmp(name, valued[k]) == 0;
        if (!known) {
            fprintf(stderr, PROG ": unknown option \"%s\" (see --help)\n", name);
            return 1;
        }
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, PROG ": %s needs a value\n", name);
                return 1;
            }
            v = argv[++i];
        }
        size_t num;
        if (strcmp(name, "--policy") == 0) {
            cfg.policy_path = v;
        } else if (strcmp(name, "--listen") == 0) {
            if (cfg.nlisten == MAX_LISTEN) {
                fprintf(stderr, PROG ": at most %d --listen\n", MAX_LISTEN);
                return 1;
            }
            cfg.listen[cfg.nlisten++] = v;
        } else if (strncmp(name, "--on-", 5) == 0) {
            if (!check_action(name, v))
                return 1;
            const char **slotp = strcmp(name, "--on-relay") == 0   ? &cfg.on_relay
                                 : strcmp(name, "--on-local") == 0 ? &cfg.on_local
                                 : strcmp(name, "--on-deny") == 0  ? &cfg.on_deny
                                 : strcmp(name, "--on-other") == 0 ? &cfg.on_other
                                                                   : &cfg.on_error;
            *slotp = v;
        } else if (strcmp(name, "--max-connections") == 0) {
            if (!parse_size(name, v, 1, 1000000, &cfg.max_conns))
                return 1;
        } else if (strcmp(name, "--idle-timeout") == 0) {
            if (!parse_size(name, v, 1, 86400, &num))
                return 1;
            cfg.idle_timeout = (unsigned)num;
        } else if (strcmp(name, "--request-timeout") == 0) {
            if (!parse_size(name, v, 1, 3600, &num))
                return 1;
            cfg.request_timeout = (unsigned)num;
        } else if (strcmp(name, "--max-line") == 0) {
            if (!parse_size(name, v, 64, 1u << 20, &cfg.max_line))
                return 1;
        } else if (strcmp(name, "--max-request") == 0) {
            if (!parse_size(name, v, 128, 16u << 20, &cfg.max_request))
                return 1;
        } else if (strcmp(name, "--max-attributes") == 0) {
            if (!parse_size(name, v, 1, 100000, &cfg.max_attrs))
                return 1;
        } else { /* --unix-mode */
            char *end;
            unsigned long m = strtoul(v, &end, 8);
            if (end == v || *end || m > 0777) {
                fprintf(stderr, PROG ": --unix-mode: expected octal like 0660\n");
                return 1;
            }
            cfg.unix_mode = (unsigned)m;
        }
    }
    if (!cfg.policy_path || cfg.nlisten == 0) {
        fprintf(stderr, PROG ": --policy and --listen are required (see --help)\n");
        return 1;
    }
    if (cfg.max_line > cfg.max_request)
        cfg.max_line = cfg.max_request;
    return 0;
}

/* Makes sure max-connections descriptors can exist: raise the soft limit
 * if allowed, otherwise serve fewer connections and say so. */
static void fit_fd_limit(void)
{
    struct rlimit rl_nofile;
    size_t reserve = nlisteners + 32; /* listeners, pipe, stdio, policy file */
    if (getrlimit(RLIMIT_NOFILE, &rl_nofile) != 0)
        return;
    rlim_t need = (rlim_t)(cfg.max_conns + reserve);
    if (rl_nofile.rlim_cur != RLIM_INFINITY && rl_nofile.rlim_cur < need) {
        rlim_t want = need;
        if (rl_nofile.rlim_max != RLIM_INFINITY && want > rl_nofile.rlim_max)
            want = rl_nofile.rlim_max;
        rl_nofile.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl_nofile);
        getrlimit(RLIMIT_NOFILE, &rl_nofile);
        if (rl_nofile.rlim_cur < need) {
            size_t fit = rl_nofile.rlim_cur > reserve
                             ? (size_t)rl_nofile.rlim_cur - reserve
                             : 1;
            logmsg(LOG_LVL_WARN,
                   "descriptor limit %llu: serving at most %zu connections",
                   (unsigned long long)rl_nofile.rlim_cur, fit);
            cfg.max_conns = fit;
        }
    }
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc)
        return rc == 2 ? 0 : 2;
    if (cfg.use_syslog)
        openlog(PROG, LOG_PID | LOG_NDELAY, LOG_MAIL);

    if (install_signals() < 0) {
        logmsg(LOG_LVL_ERR, "signals: %s", strerror(errno));
        return 1;
    }
    relaypol_policy *initial = NULL;
    if (!load_policy("policy", &initial))
        return 1;
    if (relaypol_slot_new(initial, NULL, NULL, &slot) != RELAYPOL_OK) {
        logmsg(LOG_LVL_ERR, "out of memory");
        relaypol_policy_free(initial);
        return 1;
    }
    relaypol_policy_free(initial); /* the slot keeps its own reference */

    if (open_listeners() < 0) {
        close_listeners();
        relaypol_slot_free(slot);
        return 1;
    }
    fit_fd_limit();

    /* The reloader must not take our signals: block them while it starts,
     * it inherits the mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t tid;
    int perr = pthread_create(&tid, NULL, reloader, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (perr) {
        logmsg(LOG_LVL_ERR, "pthread_create: %s", strerror(perr));
        close_listeners();
        relaypol_slot_free(slot);
        return 1;
    }

    logmsg(LOG_LVL_INFO, "ready (relaypol %s, max %zu connections)",
           relaypol_version(), cfg.max_conns);
    rc = serve();

    close_listeners();
    pthread_mutex_lock(&rl.mu);
    rl.quit = true;
    pthread_cond_signal(&rl.cv);
    pthread_mutex_unlock(&rl.mu);
    pthread_join(tid, NULL); /* waits for a load in progress to finish */
    relaypol_slot_free(slot);
    log_stats("exiting");
    return rc;
}
