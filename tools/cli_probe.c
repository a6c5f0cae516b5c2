/*
 * relaypol probe: the seeds' telnet relay test (issue 10), automated and
 * safe.  Connects to an SMTP server, greets it and tries a battery of
 * relay attempts, each in its own transaction (MAIL FROM, RCPT TO, read the
 * reply, RSET), then QUIT.  It never sends DATA, so nothing can be relayed
 * whatever the server answers: a 2xx to RCPT TO is reported as ACCEPTED,
 * which is what every public relay tester took for "open".
 *
 * Sessions: every step has a timeout; a dropped or timed-out connection
 * is reopened and the case redone once; a 421 after some progress opens a
 * fresh session too (Postfix sends one after 20 refusals), a 421 before
 * any stops the run.  At most MAX_RECONNECTS sessions are reopened.
 *
 * STARTTLS and AUTH are left out: they need a TLS library in the CLI and
 * credentials on the command line, and what an authenticated account may
 * do is better asked of the policy (`relaypol check --auth USER`).
 *
 * The battery and where each case comes from.  Placeholders: U the probe
 * user "relaytest", L --local-domain, E --external-domain, F --from
 * (default U@E), S the address literal of the server as connected to
 * ([192.0.2.1] or [IPv6:...]).  "MAPS" is the relay test that
 * relay-test.mail-abuse.org ran against any host that telnetted to it
 * (1998-2002): the same user/domain tricks, each in its own transaction
 * with RSET between; its test numbers are quoted where they are known.
 *
 *  case                    MAIL FROM      RCPT TO              origin
 *  local (control)         F              U@L                  is --local-domain really local? a server that
 *                                                              refuses everything proves nothing
 *  plain                   F              U@E                  the seeds' telnet test; MAPS test 1 (outside to
 *                                                              outside); sendmail before 8.9 (1998) relayed it
 *                                                              by default
 *  null-sender             <>             U@E                  MAPS test 5: relays that trusted bounces
 *  local-sender            U@L            U@E                  MAPS: "relay if the sender is ours" (forgeable;
 *                                                              sendmail FEATURE(relay_local_from))
 *  localhost-sender        U@localhost    U@E                  MAPS test 3
 *  unqualified-sender      U              U@E                  MAPS test 4: servers that qualify a bare sender
 *                                                              with their own domain, then trust it
 *  own-literal-sender      U@S            U@E                  MAPS (spamtest@[server-ip]): a sender at the
 *                                                              server's own literal looks local
 *  quoted-whole            F              "U@E"                MAPS "quote test": no domain, so qualified with
 *                                                              the local one, then dequoted and routed
 *  percent                 F              U%E@L                the %-hack (RFC 1123 5.2.16); sendmail before
 *                                                              8.9 / FEATURE(loose_relay_check); Exchange 5.5
 *                                                              (KB Q244346); Postfix allow_percent_hack
 *  percent-literal         F              U%E@S                the same through the server's literal
 *  percent-null-sender     <>             U%E@L                Lotus SMTP MTA up to 4.6.4 (1999): %-hack with
 *                                                              a null sender got past its anti-relay settings
 *  percent-local-sender    U@L            U%E@L                combination: both halves look local
 *  percent-local-dot       F              U%E@L.               combination: the local domain spelled with a
 *                                                              trailing dot, so that a relay check and the
 *                                                              router may disagree on "local"
 *  percent-ext-literal     F              U%[192.0.2.1]@L      combination: %-hack towards an IP literal
 *  bang                    F              E!U@L                UUCP bang path; sendmail, Postfix swap_bangpath
 *  bang-bare               F              E!U                  unqualified bang path: the server qualifies it
 *                                                              with its own domain, then routes on "!"
 *  bang-literal            F              E!U@S                bang path through the server's literal
 *  source-route            F              @L:U@E               RFC 821 source route (RFC 5321 4.1.2 says accept,
 *                                                              ignore the route); MAPS; a relay check that looks
 *                                                              at the first hop only
 *  source-route-literal    F              @S:U@E               the same through the server's literal
 *  source-route-2hops      F              @L,@S:U@E            a two-hop route (RFC 821 A-d-l list)
 *  extra-at                F              U@E@L                MAPS: two "@", the relay check takes the last
 *                                                              domain, the router the first
 *  extra-at-literal        F              U@E@S                the same through the server's literal
 *  quoted-at               F              "U@E"@L              quoted local part: Lotus Domino (CERT VU#176972,
 *                                                              2000); Postfix resolve_dequoted_address (the
 *                                                              unquoted form is routed)
 *  quoted-percent          F              "U%E"@L              quoted %-hack
 *  quoted-list             F              "U@E, U@E"@L         Lotus Domino VU#176972's exploit: a list of
 *                                                              outside addresses in one quoted local part
 *  quoted-at-literal       F              "U@E"@S              quoted local part at the server's literal
 *  own-literal (control)   F              U@S                  the server's own literal is local (RFC 5321
 *                                                              4.1.3): 2xx here is not relaying
 *  external-literal        F              U@[192.0.2.1]        MAPS-era tests of user@[tester-ip]: relaying to
 *                                                              an address literal skips the domain checks
 *  external-ipv6-literal   F              U@[IPv6:2001:db8::1] the same with an IPv6 literal (RFC 5321 4.1.3)
 *  upper-external          F              U@E (upper case)     case variants: domain lists compared with
 *                                                              strcmp instead of case-insensitively
 *  trailing-dot            F              U@E.                 a fully qualified domain with its root dot
 *
 * Considered and left out: Exchange 5.5's encapsulated addresses
 * (IMCEASMTP-user+40domain@local, CVE-1999-0682 / MS99-027) look like an
 * ordinary local user to every other server, so a 2xx from a server with
 * a catch-all local domain would be a false alarm.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cli.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define CMD_MAX 512
#define ADDR_MAX 400     /* an expanded address; the command adds the verb */
#define REPLY_MAX 2048   /* reply text kept per case (all lines) */
#define LINE_MAX_IN 1024 /* a reply line is kept up to this; more is cut */
#define REPLY_LINES_MAX 100
#define MAX_RECONNECTS 5
#define TABLE_REPLY_WIDTH 60

#define PROBE_USER "relaytest"
#define EXTERNAL_IP4 "[192.0.2.1]"           /* RFC 5737 TEST-NET-1 */
#define EXTERNAL_IP6 "[IPv6:2001:db8::1]"    /* RFC 3849 documentation */

/* ---------------------------------------------------------- the battery */

typedef enum { KIND_RELAY, KIND_CONTROL } case_kind;

typedef struct probe_case {
    const char *id;
    case_kind kind;
    bool plain; /* a plain external recipient: sender variants only */
    /* Templates without angle brackets: %U user, %L local domain, %l the
     * same upper case, %E external domain, %e upper case, %F --from, %S
     * the server's literal, %4 and %6 outside literals, %% a percent. */
    const char *from;
    const char *rcpt;
} probe_case;

static const probe_case battery[] = {
    {"local", KIND_CONTROL, false, "%F", "%U@%L"},
    {"plain", KIND_RELAY, true, "%F", "%U@%E"},
    {"null-sender", KIND_RELAY, true, "", "%U@%E"},
    {"local-sender", KIND_RELAY, true, "%U@%L", "%U@%E"},
    {"localhost-sender", KIND_RELAY, true, "%U@localhost", "%U@%E"},
    {"unqualified-sender", KIND_RELAY, true, "%U", "%U@%E"},
    {"own-literal-sender", KIND_RELAY, true, "%U@%S", "%U@%E"},
    {"quoted-whole", KIND_RELAY, false, "%F", "\"%U@%E\""},
    {"percent", KIND_RELAY, false, "%F", "%U%%%E@%L"},
    {"percent-literal", KIND_RELAY, false, "%F", "%U%%%E@%S"},
    {"percent-null-sender", KIND_RELAY, false, "", "%U%%%E@%L"},
    {"percent-local-sender", KIND_RELAY, false, "%U@%L", "%U%%%E@%L"},
    {"percent-local-dot", KIND_RELAY, false, "%F", "%U%%%E@%L."},
    {"percent-ext-literal", KIND_RELAY, false, "%F", "%U%%%4@%L"},
    {"bang", KIND_RELAY, false, "%F", "%E!%U@%L"},
    {"bang-bare", KIND_RELAY, false, "%F", "%E!%U"},
    {"bang-literal", KIND_RELAY, false, "%F", "%E!%U@%S"},
    {"source-route", KIND_RELAY, false, "%F", "@%L:%U@%E"},
    {"source-route-literal", KIND_RELAY, false, "%F", "@%S:%U@%E"},
    {"source-route-2hops", KIND_RELAY, false, "%F", "@%L,@%S:%U@%E"},
    {"extra-at", KIND_RELAY, false, "%F", "%U@%E@%L"},
    {"extra-at-literal", KIND_RELAY, false, "%F", "%U@%E@%S"},
    {"quoted-at", KIND_RELAY, false, "%F", "\"%U@%E\"@%L"},
    {"quoted-percent", KIND_RELAY, false, "%F", "\"%U%%%E\"@%L"},
    {"quoted-list", KIND_RELAY, false, "%F", "\"%U@%E, %U@%E\"@%L"},
    {"quoted-at-literal", KIND_RELAY, false, "%F", "\"%U@%E\"@%S"},
    {"own-literal", KIND_CONTROL, false, "%F", "%U@%S"},
    {"external-literal", KIND_RELAY, false, "%F", "%U@%4"},
    {"external-ipv6-literal", KIND_RELAY, false, "%F", "%U@%6"},
    {"upper-external", KIND_RELAY, false, "%F", "%U@%e"},
    {"trailing-dot", KIND_RELAY, false, "%F", "%U@%E."},
};

#define N_CASES (sizeof battery / sizeof battery[0])

typedef enum {
    V_NOT_RUN,
    V_REFUSED,
    V_ACCEPTED, /* a relay case got 2xx: the only verdict that means open */
    V_DEFERRED,
    V_ERROR,
    V_OK, /* a control case got 2xx, as it should */
} verdict;

static const char *verdict_name(verdict v)
{
    switch (v) {
    case V_REFUSED:
        return "refused";
    case V_ACCEPTED:
        return "ACCEPTED";
    case V_DEFERRED:
        return "deferred";
    case V_ERROR:
        return "error";
    case V_OK:
        return "accepted";
    case V_NOT_RUN:
        break;
    }
    return "not-run";
}

typedef struct case_result {
    verdict v;
    char from[ADDR_MAX];
    char rcpt[ADDR_MAX];
    char command[CMD_MAX]; /* the command whose reply decided */
    int code;              /* 0: no reply */
    char reply[REPLY_MAX]; /* lines joined with '\n' */
    const char *note;      /* why there is no reply, or NULL */
} case_result;

/* --------------------------------------------------------------- probe */

typedef struct probe {
    /* options */
    const char *host, *port;
    const char *local_domain, *external_domain, *from, *helo;
    int family;
    int timeout_ms;
    bool json;
    /* the server */
    struct sockaddr_storage addr; /* what we connected to first */
    socklen_t addr_len;
    bool have_addr;
    char addr_text[INET6_ADDRSTRLEN];
    char literal[INET6_ADDRSTRLEN + 8]; /* [a.b.c.d] or [IPv6:...] */
    /* the session */
    int fd;
    char in[4096];
    size_t in_len, in_off;
    char greeting[REPLY_MAX];
    bool ehlo;
    unsigned reconnects;
    unsigned sessions_421; /* sessions ended by 421 and reopened */
    bool tty;
} probe;

typedef enum {
    IO_OK,
    IO_TIMEOUT,
    IO_CLOSED,
    IO_ERROR,
    IO_PROTO,
} io_status;

static const char *io_text(io_status st)
{
    switch (st) {
    case IO_TIMEOUT:
        return "timed out";
    case IO_CLOSED:
        return "connection closed by the server";
    case IO_ERROR:
        return "connection error";
    case IO_PROTO:
        return "malformed reply";
    case IO_OK:
        break;
    }
    return "ok";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on the socket until the deadline. */
static io_status wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return IO_TIMEOUT;
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return IO_OK;
        if (n < 0 && errno != EINTR)
            return IO_ERROR;
    }
}

static void close_session(probe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->in_len = p->in_off = 0;
}

/* The one way out to the server.  Nothing this tool sends may start a
 * message: the probe is safe by construction only if DATA (and its
 * CHUNKING twin BDAT) can never be written, whatever the options or the
 * server's replies, and no user text can smuggle a second command in
 * with a line break.  The verbs are a fixed list; anything else is a bug
 * and stops the program before a byte leaves. */
static io_status send_command(probe *p, const char *line)
{
    static const char *const allowed[] = {"EHLO ", "HELO ", "MAIL FROM:",
                                          "RCPT TO:", "RSET", "QUIT"};
    bool ok = false;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strncmp(line, allowed[i], strlen(allowed[i])) == 0)
            ok = true;
    if (!ok || strncasecmp(line, "DATA", 4) == 0 ||
        strncasecmp(line, "BDAT", 4) == 0 || strpbrk(line, "\r\n") ||
        strlen(line) > CMD_MAX - 2) {
        fputs("relaypol probe: internal error: refusing to send a command "
              "that is not EHLO, HELO, MAIL, RCPT, RSET or QUIT\n",
              stderr);
        abort();
    }
    char buf[CMD_MAX + 2];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s\r\n", line);
    size_t off = 0;
    int64_t deadline = now_ms() + p->timeout_ms;
    while (off < n) {
        ssize_t w = send(p->fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            io_status st = wait_fd(p->fd, POLLOUT, deadline);
            if (st != IO_OK)
                return st;
            continue;
        }
        return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_ERROR;
    }
    return IO_OK;
}

/* Reads one line (without CR LF) into line[0..cap); a longer line is cut
 * and the rest dropped, so a hostile server cannot make us buffer. */
static io_status read_line(probe *p, char *line, size_t cap, int64_t deadline)
{
    size_t n = 0;
    for (;;) {
        while (p->in_off < p->in_len) {
            char c = p->in[p->in_off++];
            if (c == '\n') {
                if (n > 0 && line[n - 1] == '\r')
                    n--;
                line[n] = '\0';
                return IO_OK;
            }
            if (n + 1 < cap)
                line[n++] = c;
        }
        p->in_off = p->in_len = 0;
        ssize_t r = recv(p->fd, p->in, sizeof p->in, 0);
        if (r > 0) {
            p->in_len = (size_t)r;
            continue;
        }
        if (r == 0)
            return IO_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            io_status st = wait_fd(p->fd, POLLIN, deadline);
            if (st != IO_OK)
                return st;
            continue;
        }
        return errno == ECONNRESET ? IO_CLOSED : IO_ERROR;
    }
}

/* Reads a whole reply (RFC 5321 4.2.1: "NNN-text" lines, then "NNN text"
 * or a bare "NNN").  The code is the last line's; the text keeps every
 * line, joined with '\n', cut at REPLY_MAX.  One deadline for the reply,
 * so a server dribbling continuation lines cannot hold us forever. */
static io_status read_reply(probe *p, int *code, char *text, size_t cap)
{
    int64_t deadline = now_ms() + p->timeout_ms;
    size_t tl = 0;
    text[0] = '\0';
    *code = 0;
    for (unsigned lines = 0; lines < REPLY_LINES_MAX; lines++) {
        char line[LINE_MAX_IN];
        io_status st = read_line(p, line, sizeof line, deadline);
        if (st != IO_OK)
            return st;
        if (!isdigit((unsigned char)line[0]) ||
            !isdigit((unsigned char)line[1]) ||
            !isdigit((unsigned char)line[2]) ||
            (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
            return IO_PROTO;
        size_t ll = strlen(line);
        if (tl > 0 && tl + 1 < cap)
            text[tl++] = '\n';
        size_t room = tl < cap ? cap - 1 - tl : 0;
        size_t take = ll < room ? ll : room;
        memcpy(text + tl, line, take);
        tl += take;
        text[tl] = '\0';
        if (line[3] != '-') {
            *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
                    (line[2] - '0');
            return IO_OK;
        }
    }
    return IO_PROTO;
}

/* Sends a command and reads its reply. */
static io_status command(probe *p, const char *line, int *code, char *text,
                         size_t cap)
{
    io_status st = send_command(p, line);
    if (st != IO_OK)
        return st;
    return read_reply(p, code, text, cap);
}

/* ---------------------------------------------------------- connecting */

static void set_literal(probe *p, const struct sockaddr *sa)
{
    char t[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, t, sizeof t);
            snprintf(p->literal, sizeof p->literal, "[%s]", t);
        } else {
            inet_ntop(AF_INET6, &s6->sin6_addr, t, sizeof t);
            snprintf(p->literal, sizeof p->literal, "[IPv6:%s]", t);
        }
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, t,
                  sizeof t);
        snprintf(p->literal, sizeof p->literal, "[%s]", t);
    }
    snprintf(p->addr_text, sizeof p->addr_text, "%s", t);
}

/* A non-blocking connect bounded by the timeout; the socket stays
 * non-blocking for the rest of the session. */
static int connect_to(const struct sockaddr *sa, socklen_t len, int timeout_ms,
                      int *err)
{
    int fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EINTR) {
        *err = errno;
        close(fd);
        return -1;
    }
    io_status st = wait_fd(fd, POLLOUT, now_ms() + timeout_ms);
    if (st != IO_OK) {
        *err = st == IO_TIMEOUT ? ETIMEDOUT : errno;
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        *err = soerr ? soerr : errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* The first connection resolves the name and tries each address; later
 * ones (after a dropped connection) go back to the address that answered,
 * so that every case talks to the same server. */
static bool open_connection(probe *p)
{
    int err = 0;
    if (p->have_addr) {
        p->fd = connect_to((const struct sockaddr *)&p->addr, p->addr_len,
                           p->timeout_ms, &err);
        if (p->fd < 0) {
            cli_error("cannot reconnect to %s port %s: %s", p->addr_text,
                      p->port, strerror(err));
            return false;
        }
        return true;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = p->family;
    hints.ai_socktype = SOCK_STREAM;
    /* No AI_ADDRCONFIG: it hides ::1 on hosts whose only IPv6 address is
     * the loopback one.  An address we cannot reach is simply skipped. */
    int gai = getaddrinfo(p->host, p->port, &hints, &res);
    if (gai != 0) {
        cli_error("%s: %s", p->host, gai_strerror(gai));
        return false;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        set_literal(p, ai->ai_addr);
        p->fd = connect_to(ai->ai_addr, ai->ai_addrlen, p->timeout_ms, &err);
        if (p->fd >= 0) {
            memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
            p->addr_len = ai->ai_addrlen;
            p->have_addr = true;
            break;
        }
        cli_error("cannot connect to %s port %s: %s", p->addr_text, p->port,
                  strerror(err));
    }
    freeaddrinfo(res);
    return p->fd >= 0;
}

/* Prints a server's reply text on stderr on one line. */
static void print_reply_err(const char *what, const char *text)
{
    fprintf(stderr, "relaypol probe: %s: ", what);
    cli_text(stderr, text, strlen(text), false);
    fputc('\n', stderr);
}

typedef enum { SESSION_OK, SESSION_FAILED, SESSION_421 } session_status;

/* Connects, reads the greeting and says EHLO (HELO if EHLO is refused). */
static session_status open_session(probe *p)
{
    if (!open_connection(p))
        return SESSION_FAILED;
    int code;
    char text[REPLY_MAX];
    io_status st = read_reply(p, &code, text, sizeof text);
    if (st != IO_OK) {
        cli_error("%s port %s: no greeting: %s", p->addr_text, p->port,
                  io_text(st));
        close_session(p);
        return SESSION_FAILED;
    }
    snprintf(p->greeting, sizeof p->greeting, "%s", text);
    if (code != 220) {
        /* 554 (RFC 5321 3.1) or 421: the server will not talk to us. */
        print_reply_err("the server refused the session", text);
        close_session(p);
        return code == 421 ? SESSION_421 : SESSION_FAILED;
    }
    char line[CMD_MAX];
    snprintf(line, sizeof line, "EHLO %s", p->helo);
    st = command(p, line, &code, text, sizeof text);
    p->ehlo = st == IO_OK && code / 100 == 2;
    if (st == IO_OK && code / 100 == 5) {
        /* RFC 5321 3.2: a server that does not know EHLO says 500/502;
         * fall back to the older greeting. */
        snprintf(line, sizeof line, "HELO %s", p->helo);
        st = command(p, line, &code, text, sizeof text);
    }
    if (st != IO_OK || code / 100 != 2) {
        if (st != IO_OK)
            cli_error("%s port %s: no reply to EHLO/HELO: %s", p->addr_text,
                      p->port, io_text(st));
        else
            print_reply_err("the server refused EHLO and HELO", text);
        close_session(p);
        return st == IO_OK && code == 421 ? SESSION_421 : SESSION_FAILED;
    }
    return SESSION_OK;
}

/* ------------------------------------------------------------- the cases */

/* Expands a template into out; false when it does not fit. */
static bool expand(const probe *p, const char *tpl, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *t = tpl; *t; t++) {
        const char *s = NULL;
        char one[2] = {0, 0};
        bool upper = false;
        if (*t != '%') {
            one[0] = *t;
            s = one;
        } else {
            switch (*++t) {
            case 'U':
                s = PROBE_USER;
                break;
            case 'L':
                s = p->local_domain;
                break;
            case 'l':
                s = p->local_domain;
                upper = true;
                break;
            case 'E':
                s = p->external_domain;
                break;
            case 'e':
                s = p->external_domain;
                upper = true;
                break;
            case 'F':
                s = p->from;
                break;
            case 'S':
                s = p->literal;
                break;
            case '4':
                s = EXTERNAL_IP4;
                break;
            case '6':
                s = EXTERNAL_IP6;
                break;
            default: /* "%%" */
                s = "%";
                break;
            }
        }
        for (; *s; s++) {
            if (n + 1 >= cap)
                return false;
            out[n++] = upper ? (char)toupper((unsigned char)*s) : *s;
        }
    }
    out[n] = '\0';
    return true;
}

typedef enum {
    CASE_DONE,        /* verdict recorded; the session can go on */
    CASE_DONE_RESET,  /* verdict recorded; start a fresh session */
    CASE_DROPPED,     /* no verdict: the connection failed mid-case */
    CASE_421,         /* the server closed the session */
} case_status;

static verdict classify(int code, case_kind kind)
{
    switch (code / 100) {
    case 2:
        return kind == KIND_RELAY ? V_ACCEPTED : V_OK;
    case 4:
        return V_DEFERRED;
    case 5:
        return V_REFUSED;
    default: /* 1xx and 3xx make no sense after MAIL or RCPT */
        return V_ERROR;
    }
}

/* One transaction: MAIL FROM, RCPT TO (only if MAIL was accepted), RSET.
 * The RCPT reply decides; a refused MAIL decides in its place. */
static case_status run_case(probe *p, const probe_case *c, case_result *r)
{
    char text[REPLY_MAX];
    int code;
    snprintf(r->command, sizeof r->command, "MAIL FROM:<%s>", r->from);
    io_status st = command(p, r->command, &code, text, sizeof text);
    if (st != IO_OK) {
        r->note = io_text(st);
        return st == IO_PROTO ? CASE_DONE_RESET : CASE_DROPPED;
    }
    r->code = code;
    snprintf(r->reply, sizeof r->reply, "%s", text);
    if (code == 421) {
        r->v = V_ERROR;
        r->note = "the server closed the session (421)";
        return CASE_421;
    }
    if (code / 100 == 2) {
        snprintf(r->command, sizeof r->command, "RCPT TO:<%s>", r->rcpt);
        st = command(p, r->command, &code, text, sizeof text);
        if (st != IO_OK) {
            r->code = 0;
            r->reply[0] = '\0';
            r->note = io_text(st);
            return st == IO_PROTO ? CASE_DONE_RESET : CASE_DROPPED;
        }
        r->code = code;
        snprintf(r->reply, sizeof r->reply, "%s", text);
        if (code == 421) {
            r->v = V_ERROR;
            r->note = "the server closed the session (421)";
            return CASE_421;
        }
    }
    r->v = classify(code, c->kind);
    if (r->v == V_ERROR)
        r->note = "unexpected reply";
    /* RSET even after a refused MAIL: every case starts from a clean
     * state.  A failed RSET leaves the verdict alone (the RCPT reply was
     * read) but the next case gets a fresh session. */
    st = command(p, "RSET", &code, text, sizeof text);
    if (st == IO_OK && code == 421)
        return CASE_421;
    if (st != IO_OK || code / 100 != 2)
        return CASE_DONE_RESET;
    return CASE_DONE;
}

/* -------------------------------------------------------------- output */

/* s for a table cell: control characters as \xHH, lines joined with
 * " / ", cut to width with "..." (the JSON output keeps everything). */
static void cell(char *out, size_t cap, const char *s, size_t width)
{
    size_t n = 0;
    if (width + 1 > cap)
        width = cap - 1;
    for (; *s && n < width; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        if (c == '\n')
            snprintf(tmp, sizeof tmp, " / ");
        else if (c < 0x20 || c == 0x7f)
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else
            snprintf(tmp, sizeof tmp, "%c", c);
        size_t tl = strlen(tmp);
        if (n + tl > width)
            break;
        memcpy(out + n, tmp, tl);
        n += tl;
    }
    if (*s && width >= 3) {
        while (n + 3 > width)
            n--;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

typedef struct summary {
    unsigned accepted, refused, deferred, errors, not_run;
    bool stopped_421;
    bool local_refused; /* the control case got a 5xx */
} summary;

static void summarize(const case_result *res, summary *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < N_CASES; i++) {
        switch (res[i].v) {
        case V_ACCEPTED:
            s->accepted++;
            break;
        case V_REFUSED:
            s->refused++;
            if (strcmp(battery[i].id, "local") == 0)
                s->local_refused = true;
            break;
        case V_DEFERRED:
            s->deferred++;
            break;
        case V_ERROR:
            s->errors++;
            break;
        case V_NOT_RUN:
            s->not_run++;
            break;
        case V_OK:
            break;
        }
    }
}

static bool complete(const summary *s)
{
    return s->errors == 0 && s->not_run == 0;
}

static void print_table(const probe *p, const case_result *res,
                        const summary *s)
{
    FILE *o = stdout;
    char from_c[ADDR_MAX + 8], cmd_c[CMD_MAX + 8], rep_c[TABLE_REPLY_WIDTH + 8];
    size_t wid = 4, wfrom = 4, wcmd = 7, wrep = 5;
    for (size_t i = 0; i < N_CASES; i++) {
        const case_result *r = &res[i];
        size_t l = strlen(battery[i].id) + (battery[i].kind == KIND_CONTROL);
        wid = l > wid ? l : wid;
        snprintf(from_c, sizeof from_c, "<%s>", r->from);
        wfrom = strlen(from_c) > wfrom ? strlen(from_c) : wfrom;
        cell(cmd_c, sizeof cmd_c, r->v == V_NOT_RUN ? "-" : r->command,
             sizeof cmd_c - 1);
        wcmd = strlen(cmd_c) > wcmd ? strlen(cmd_c) : wcmd;
        cell(rep_c, sizeof rep_c, r->code ? r->reply : r->note ? r->note : "-",
             TABLE_REPLY_WIDTH);
        wrep = strlen(rep_c) > wrep ? strlen(rep_c) : wrep;
    }
    fputs("server: ", o);
    cli_text(o, p->host, strlen(p->host), false);
    fprintf(o, " port %s (%s)\n", p->port, p->addr_text);
    char g[TABLE_REPLY_WIDTH * 2 + 8];
    cell(g, sizeof g, p->greeting, sizeof g - 1);
    fprintf(o, "greeting: %s\n", g);
    fprintf(o, "greeted with: %s %s\n", p->ehlo ? "EHLO" : "HELO", p->helo);
    fprintf(o, "local domain: %s, external domain: %s\n\n", p->local_domain,
            p->external_domain);
    fprintf(o, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)wid, "CASE", (int)wfrom,
            "FROM", (int)wcmd, "COMMAND", (int)wrep, "REPLY", "VERDICT");
    for (size_t i = 0; i < N_CASES; i++) {
        const case_result *r = &res[i];
        char id[64];
        snprintf(id, sizeof id, "%s%s", battery[i].id,
                 battery[i].kind == KIND_CONTROL ? "*" : "");
        snprintf(from_c, sizeof from_c, "<%s>", r->from);
        cell(cmd_c, sizeof cmd_c, r->v == V_NOT_RUN ? "-" : r->command,
             sizeof cmd_c - 1);
        cell(rep_c, sizeof rep_c, r->code ? r->reply : r->note ? r->note : "-",
             TABLE_REPLY_WIDTH);
        fprintf(o, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)wid, id, (int)wfrom,
                from_c, (int)wcmd, cmd_c, (int)wrep, rep_c,
                verdict_name(r->v));
    }
    fputs("\n* control case: a 2xx is expected and is not relaying\n", o);
    fprintf(o,
            "%u accepted, %u refused, %u deferred, %u errors, %u not run "
            "(%zu cases)\n",
            s->accepted, s->refused, s->deferred, s->errors, s->not_run,
            N_CASES);
    if (s->local_refused)
        fprintf(o, "note: the server refused <%s@%s> itself: is "
                   "--local-domain right?  A server that refuses every "
                   "recipient proves nothing.\n",
                PROBE_USER, p->local_domain);
    if (s->deferred)
        fputs("note: deferred (4xx) cases were not decided, e.g. by "
              "greylisting: run the probe again later.\n",
              o);
    if (p->sessions_421)
        fprintf(o, "note: the server ended %u session%s with 421; the "
                   "probe reconnected and went on.\n",
                p->sessions_421, p->sessions_421 == 1 ? "" : "s");
    if (s->stopped_421)
        fputs("note: the server ended the session with 421.\n", o);
    if (s->accepted)
        fputs("OPEN RELAY\n", o);
    else if (complete(s))
        fputs("no open relay found\n", o);
    else
        fprintf(o, "incomplete: no open relay found in %zu of %zu cases\n",
                N_CASES - s->errors - s->not_run, N_CASES);
}

/* "<addr>" as a JSON string. */
static void json_angle(FILE *o, const char *addr)
{
    char b[ADDR_MAX + 3];
    snprintf(b, sizeof b, "<%s>", addr);
    cli_json_cstr(o, b);
}

static void print_json(const probe *p, const case_result *res,
                       const summary *s)
{
    FILE *o = stdout;
    fputs("{\"server\":", o);
    cli_json_cstr(o, p->host);
    fprintf(o, ",\"port\":%s,\"address\":", p->port);
    cli_json_cstr(o, p->addr_text);
    fputs(",\"greeting\":", o);
    cli_json_cstr(o, p->greeting);
    fprintf(o, ",\"ehlo\":%s,\"helo\":", p->ehlo ? "true" : "false");
    cli_json_cstr(o, p->helo);
    fputs(",\"local_domain\":", o);
    cli_json_cstr(o, p->local_domain);
    fputs(",\"external_domain\":", o);
    cli_json_cstr(o, p->external_domain);
    fputs(",\"cases\":[", o);
    for (size_t i = 0; i < N_CASES; i++) {
        const case_result *r = &res[i];
        fputs(i ? ",\n{\"case\":" : "\n{\"case\":", o);
        cli_json_cstr(o, battery[i].id);
        fprintf(o, ",\"control\":%s,\"mail_from\":",
                battery[i].kind == KIND_CONTROL ? "true" : "false");
        json_angle(o, r->from);
        fputs(",\"rcpt_to\":", o);
        json_angle(o, r->rcpt);
        fputs(",\"command\":", o);
        cli_json_cstr(o, r->v == V_NOT_RUN ? NULL : r->command);
        if (r->code)
            fprintf(o, ",\"code\":%d", r->code);
        else
            fputs(",\"code\":null", o);
        fputs(",\"reply\":", o);
        cli_json_cstr(o, r->code ? r->reply : NULL);
        fputs(",\"note\":", o);
        cli_json_cstr(o, r->note);
        fputs(",\"verdict\":", o);
        cli_json_cstr(o, verdict_name(r->v));
        fputc('}', o);
    }
    fprintf(o,
            "],\n\"summary\":{\"cases\":%zu,\"accepted\":%u,\"refused\":%u,"
            "\"deferred\":%u,\"errors\":%u,\"not_run\":%u,"
            "\"reconnects\":%u,\"sessions_ended_by_421\":%u,"
            "\"stopped_by_421\":%s,"
            "\"local_refused\":%s,\"complete\":%s,\"open_relay\":%s,"
            "\"result\":",
            N_CASES, s->accepted, s->refused, s->deferred, s->errors,
            s->not_run, p->reconnects, p->sessions_421, s->stopped_421 ? "true" : "false",
            s->local_refused ? "true" : "false",
            complete(s) ? "true" : "false", s->accepted ? "true" : "false");
    cli_json_cstr(o, s->accepted     ? "OPEN RELAY"
                     : complete(s) ? "no open relay found"
                                   : "incomplete");
    fputs("}}\n", o);
}

/* ------------------------------------------------------------ progress */

/* While the probe runs: one line rewritten in place on a terminal, plain
 * per-case lines otherwise (a log file should not fill with \r). */
static void progress(const probe *p, size_t i, const case_result *r)
{
    if (p->tty) {
        fprintf(stderr, "\r\033[Krelaypol probe: [%2zu/%zu] %s: %s", i + 1,
                N_CASES, battery[i].id, verdict_name(r->v));
    } else {
        fprintf(stderr, "relaypol probe: %zu/%zu %s: %s", i + 1, N_CASES,
                battery[i].id, verdict_name(r->v));
        if (r->code)
            fprintf(stderr, " (%d)", r->code);
        else if (r->note)
            fprintf(stderr, " (%s)", r->note);
        fputc('\n', stderr);
    }
    fflush(stderr);
}

static void progress_done(const probe *p)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
}

/* ----------------------------------------------------------------- main */

static void probe_usage(FILE *f)
{
    fputs("usage: relaypol probe HOST[:PORT] --local-domain DOMAIN [OPTIONS]\n"
          "\n"
          "Tests a running SMTP server for open relaying, the way the\n"
          "seeds' telnet test does, with a battery of relay tricks (%-hack,\n"
          "bang paths, source routes, quoted local parts, literals, ...).\n"
          "Each case is its own transaction: MAIL FROM, RCPT TO, RSET.\n"
          "DATA is never sent, so nothing is ever relayed.\n"
          "\n"
          "  HOST                   name, IPv4, IPv6 or [IPv6]:PORT (port 25)\n"
          "  --local-domain DOMAIN  a domain the server accepts mail for\n"
          "  --external-domain D    a domain it must not relay to\n"
          "                         (default example.net)\n"
          "  --from ADDR            the outside sender (default\n"
          "                         relaytest@EXTERNAL; '' or '<>': null)\n"
          "  --helo NAME            EHLO name (default relaypol-probe.EXTERNAL)\n"
          "  --ipv4, --ipv6         connect over that protocol only\n"
          "  --timeout SECS         for each step (default 30)\n"
          "  --json                 one JSON document instead of the table\n"
          "  -h, --help             this text\n"
          "\n"
          "Verdicts: refused (5xx), ACCEPTED (2xx to a relay attempt),\n"
          "deferred (4xx, e.g. greylisting), error; control cases (*) are\n"
          "expected to get 2xx.  STARTTLS and AUTH are not offered.\n"
          "Progress goes to standard error.\n"
          "\n"
          "exit status: 0 no case accepted, 1 some case accepted (open\n"
          "relay), 2 usage or connection errors, 421, or an incomplete run.\n",
          f);
}

enum {
    PROBE_LOCAL = CLI_OPT_FIRST_LOCAL,
    PROBE_EXTERNAL,
    PROBE_FROM,
    PROBE_HELO,
    PROBE_IPV4,
    PROBE_IPV6,
    PROBE_TIMEOUT,
};

static const cli_option probe_options[] = {
    CLI_OPTIONS_HELP,
    {"json", 0, false, CLI_OPT_JSON},
    {"local-domain", 0, true, PROBE_LOCAL},
    {"external-domain", 0, true, PROBE_EXTERNAL},
    {"from", 0, true, PROBE_FROM},
    {"helo", 0, true, PROBE_HELO},
    {"ipv4", '4', false, PROBE_IPV4},
    {"ipv6", '6', false, PROBE_IPV6},
    {"timeout", 0, true, PROBE_TIMEOUT},
    {NULL, 0, false, 0},
};

/* A domain as SMTP's Domain (RFC 5321 4.1.2): letters, digits, '-' and
 * dots.  The check keeps user text from adding anything to a command. */
static bool valid_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
            return false;
    return true;
}

/* An address for MAIL FROM: visible ASCII other than '<' and '>'. */
static bool valid_address(const char *s)
{
    if (strlen(s) > 254)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return false;
    }
    return true;
}

/* HOST[:PORT], [V6]:PORT, [V6] or a bare IPv6 address (two colons or
 * more: no port).  Writes into buf; host and port point into it. */
static bool split_host(const char *arg, char *buf, size_t cap,
                       const char **host, const char **port)
{
    if (strlen(arg) + 1 > cap || arg[0] == '\0')
        return false;
    memcpy(buf, arg, strlen(arg) + 1);
    *port = "25";
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (!end || end == buf + 1)
            return false;
        *end = '\0';
        *host = buf + 1;
        if (end[1] == ':')
            *port = end + 2;
        else if (end[1] != '\0')
            return false;
    } else {
        char *c = strchr(buf, ':');
        *host = buf;
        if (c && !strchr(c + 1, ':')) {
            *c = '\0';
            *port = c + 1;
        }
    }
    if (**host == '\0')
        return false;
    char *e;
    errno = 0;
    long v = strtol(*port, &e, 10);
    if (**port == '\0' || *e || errno || v < 1 || v > 65535)
        return false;
    return true;
}

int cli_probe_main(int argc, char **argv)
{
    probe p;
    memset(&p, 0, sizeof p);
    p.fd = -1;
    p.family = AF_UNSPEC;
    p.timeout_ms = 30000;
    p.external_domain = "example.net";
    const char *target = NULL;
    char hostbuf[512];
    char from_buf[300], helo_buf[300];
    bool from_given = false;

    cli_parser ps;
    cli_parser_init(&ps, argc, argv);
    int id;
    while ((id = cli_next(&ps, probe_options)) != CLI_DONE) {
        switch (id) {
        case CLI_BAD:
            return CLI_EXIT_ERROR;
        case CLI_OPT_HELP:
            probe_usage(stdout);
            return CLI_EXIT_OK;
        case CLI_OPT_JSON:
            p.json = true;
            break;
        case PROBE_LOCAL:
            p.local_domain = ps.arg;
            break;
        case PROBE_EXTERNAL:
            p.external_domain = ps.arg;
            break;
        case PROBE_FROM:
            p.from = ps.arg;
            from_given = true;
            break;
        case PROBE_HELO:
            p.helo = ps.arg;
            break;
        case PROBE_IPV4:
            p.family = AF_INET;
            break;
        case PROBE_IPV6:
            p.family = AF_INET6;
            break;
        case PROBE_TIMEOUT: {
            char *e;
            errno = 0;
            long v = strtol(ps.arg, &e, 10);
            if (*ps.arg == '\0' || *e || errno || v < 1 || v > 3600)
                return cli_usage_error(ps.name,
                                       "--timeout takes whole seconds, "
                                       "1 to 3600");
            p.timeout_ms = (int)v * 1000;
            break;
        }
        case CLI_OPERAND:
            if (target)
                return cli_usage_error(ps.name, "one server only");
            target = ps.arg;
            break;
        default:
            return cli_usage_error(ps.name, "unhandled option");
        }
    }
    if (!target)
        return cli_usage_error(ps.name, "no server given (HOST[:PORT])");
    if (!split_host(target, hostbuf, sizeof hostbuf, &p.host, &p.port))
        return cli_usage_error(ps.name,
                               "bad server '%s' (HOST, HOST:PORT or "
                               "[IPv6]:PORT)",
                               target);
    if (!p.local_domain)
        return cli_usage_error(ps.name,
                               "no local domain given (--local-domain)");
    if (!valid_domain(p.local_domain))
        return cli_usage_error(ps.name, "bad --local-domain '%s'",
                               p.local_domain);
    if (!valid_domain(p.external_domain))
        return cli_usage_error(ps.name, "bad --external-domain '%s'",
                               p.external_domain);
    if (strcasecmp(p.local_domain, p.external_domain) == 0)
        return cli_usage_error(ps.name, "the external domain must not be "
                                        "the local one");
    if (from_given) {
        size_t n = strlen(p.from);
        if (n >= 2 && p.from[0] == '<' && p.from[n - 1] == '>') {
            snprintf(from_buf, sizeof from_buf, "%.*s", (int)(n - 2),
                     p.from + 1);
            p.from = from_buf;
        }
        if (!valid_address(p.from))
            return cli_usage_error(ps.name, "bad --from '%s'", p.from);
    } else {
        snprintf(from_buf, sizeof from_buf, "%s@%s", PROBE_USER,
                 p.external_domain);
        p.from = from_buf;
    }
    if (!p.helo) {
        snprintf(helo_buf, sizeof helo_buf, "relaypol-probe.%s",
                 p.external_domain);
        p.helo = helo_buf;
    } else if (!valid_domain(p.helo) &&
               !(p.helo[0] == '[' && valid_address(p.helo))) {
        return cli_usage_error(ps.name, "bad --helo '%s'", p.helo);
    }
    p.tty = isatty(STDERR_FILENO) == 1;

    case_result *res = calloc(N_CASES, sizeof *res);
    if (!res) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    summary s;
    session_status ss = open_session(&p);
    if (ss != SESSION_OK) {
        free(res);
        return CLI_EXIT_ERROR;
    }
    /* The addresses are expanded once the server's literal is known; a
     * reconnect goes to the same address, so they stay right. */
    for (size_t i = 0; i < N_CASES; i++) {
        if (!expand(&p, battery[i].from, res[i].from, sizeof res[i].from) ||
            !expand(&p, battery[i].rcpt, res[i].rcpt, sizeof res[i].rcpt)) {
            close_session(&p);
            free(res);
            return cli_usage_error(ps.name, "the domains are too long for "
                                            "an SMTP command");
        }
    }

    bool retried = false; /* the current case already cost a reconnect */
    bool stop = false;
    bool stopped_421 = false;
    unsigned done_in_session = 0;
    for (size_t i = 0; i < N_CASES && !stop; i++) {
        case_result *r = &res[i];
        if (p.fd < 0) {
            /* The last case dropped the connection or left it unusable:
             * a fresh session, a bounded number of times. */
            if (p.reconnects >= MAX_RECONNECTS) {
                cli_error("giving up after %u reconnections", p.reconnects);
                break;
            }
            p.reconnects++;
            done_in_session = 0;
            ss = open_session(&p);
            if (ss != SESSION_OK) {
                stopped_421 = ss == SESSION_421;
                break;
            }
        }
        r->v = V_NOT_RUN;
        r->code = 0;
        r->note = NULL;
        case_status cs = run_case(&p, &battery[i], r);
        switch (cs) {
        case CASE_DONE:
            retried = false;
            break;
        case CASE_DONE_RESET:
            retried = false;
            close_session(&p);
            break;
        case CASE_421:
            close_session(&p);
            /* 421 ends a session, not always the conversation: Postfix
             * says "421 4.7.0 Error: too many errors" after
             * smtpd_hard_error_limit (20) refusals, which a relay probe
             * always reaches.  So a session that got some cases done is
             * followed by a fresh one that retries this case; a 421
             * before any progress means "go away": stop and report. */
            if (done_in_session > 0 && p.reconnects < MAX_RECONNECTS) {
                p.sessions_421++;
                *r = (case_result){.v = V_NOT_RUN};
                expand(&p, battery[i].from, r->from, sizeof r->from);
                expand(&p, battery[i].rcpt, r->rcpt, sizeof r->rcpt);
                done_in_session = 0;
                i--;
                continue;
            }
            stopped_421 = true;
            stop = true;
            break;
        case CASE_DROPPED:
            close_session(&p);
            if (!retried) {
                /* Reconnect once and try this case again. */
                retried = true;
                r->note = NULL;
                i--;
                continue;
            }
            retried = false;
            r->v = V_ERROR;
            break;
        }
        if (cs == CASE_DONE || cs == CASE_DONE_RESET)
            done_in_session++;
        progress(&p, i, r);
    }
    progress_done(&p);
    if (p.fd >= 0) {
        int code;
        char text[REPLY_MAX];
        (void)command(&p, "QUIT", &code, text, sizeof text);
        close_session(&p);
    }

    summarize(res, &s);
    s.stopped_421 = stopped_421;
    if (p.json)
        print_json(&p, res, &s);
    else
        print_table(&p, res, &s);
    free(res);
    if (s.accepted)
        return CLI_EXIT_NO;
    return complete(&s) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}
