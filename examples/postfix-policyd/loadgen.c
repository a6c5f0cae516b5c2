/*
 * relaypol-policyd-loadgen — measures a policy server's requests per
 * second and latency the way Postfix uses it: each connection sends one
 * full smtpd_access_policy request (about 30 attributes, like Postfix
 * 3.7), waits for the reply, and sends the next.  Bounded in requests and
 * in time.  The requests match examples/policies/example.conf, and every
 * reply is checked against what that policy must answer (--no-verify for
 * other policies).
 *
 *   relaypol-policyd-loadgen --connect 127.0.0.1:PORT|[::1]:PORT|unix:PATH
 *       [--connections 8] [--requests 200000] [--duration 10] [--no-verify]
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_REQUESTS 10000000UL

/* What the example policy answers (see examples/policies/example.conf). */
static const struct {
    const char *client, *server, *user, *tls, *rcpt, *expect;
} kinds[] = {
    {"192.168.1.42", "10.0.0.1", "", "", "someone@example.net", "action=OK\n\n"},
    {"203.0.113.9", "10.0.0.1", "", "", "victim@example.net",
     "action=550 5.7.1 Relaying denied\n\n"},
    {"203.0.113.9", "10.0.0.1", "", "", "friend@example.com", "action=DUNNO\n\n"},
    {"192.168.1.3", "10.0.0.1", "", "", "someone@example.net",
     "action=550 5.7.1 Relaying denied\n\n"},
    {"198.51.100.7", "10.0.0.1", "alice@example.com", "TLSv1.3",
     "someone@example.net", "action=OK\n\n"},
    {"198.51.100.7", "10.0.0.25", "", "", "someone@example.net", "action=OK\n\n"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

typedef struct lconn {
    int fd;
    size_t kind;
    double sent;
    char buf[1024];
    size_t len;
} lconn;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (strlen(spec + 5) >= sizeof sun.sun_path)
            return -1;
        strcpy(sun.sun_path, spec + 5);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *e = strchr(spec, ']');
        if (!e || e[1] != ':' || (size_t)(e - spec) > sizeof host)
            return -1;
        memcpy(host, spec + 1, (size_t)(e - spec - 1));
        host[e - spec - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(spec, ':');
        if (!c || (size_t)(c - spec) >= sizeof host)
            return -1;
        memcpy(host, spec, (size_t)(c - spec));
        host[c - spec] = '\0';
        port = c + 1;
    }
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* A request as Postfix 3.7 sends it at RCPT (the notes' capture). */
static int send_request(lconn *c, unsigned long seq)
{
    char req[2048];
    size_t k = c->kind;
    int n = snprintf(req, sizeof req,
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        "client_address=%s\nclient_name=unknown\nclient_port=%lu\n"
        "reverse_client_name=unknown\nserver_address=%s\nserver_port=25\n"
        "helo_name=client.example.org\nsender=someone@example.org\n"
        "recipient=%s\nrecipient_count=0\nqueue_id=\ninstance=%lx.6b045e6c.1.0\n"
        "size=0\netrn_domain=\nstress=\nsasl_method=%s\nsasl_username=%s\n"
        "sasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
        "ccert_pubkey_fingerprint=\nencryption_protocol=%s\n"
        "encryption_cipher=\nencryption_keysize=0\npolicy_context=\n\n",
        kinds[k].client, 1024 + seq % 60000, kinds[k].server, kinds[k].rcpt,
        seq, *kinds[k].user ? "PLAIN" : "", kinds[k].user, kinds[k].tls);
    if (n <= 0 || (size_t)n >= sizeof req)
        return -1;
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = send(c->fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    c->sent = now_mono();
    c->len = 0;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static unsigned long num(const char *opt, const char *v, unsigned long max)
{
    char *end;
    unsigned long n = strtoul(v ? v : "", &end, 10);
    if (!v || end == v || *end || n == 0 || n > max) {
        fprintf(stderr, "loadgen: %s: expected 1..%lu\n", opt, max);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *spec = NULL;
    unsigned long nconn = 8, total = 200000, duration = 10;
    bool verify = true;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--connect") == 0 && v) {
            spec = v;
            i++;
        } else if (strcmp(argv[i], "--connections") == 0) {
            nconn = num(argv[i], v, MAX_CONNS);
            i++;
        } else if (strcmp(argv[i], "--requests") == 0) {
            total = num(argv[i], v, MAX_REQUESTS);
            i++;
        } else if (strcmp(argv[i], "--duration") == 0) {
            duration = num(argv[i], v, 600);
            i++;
        } else if (strcmp(argv[i], "--no-verify") == 0) {
            verify = false;
        } else {
            fprintf(stderr,
                    "usage: loadgen --connect SPEC [--connections N] "
                    "[--requests N] [--duration SEC] [--no-verify]\n");
            return 2;
        }
    }
    if (!spec) {
        fprintf(stderr, "loadgen: --connect is required\n");
        return 2;
    }

    lconn *cs = calloc(nconn, sizeof *cs);
    struct pollfd *pfd = calloc(nconn, sizeof *pfd);
    uint32_t *lat = malloc(total * sizeof *lat); /* nanoseconds */
    if (!cs || !pfd || !lat) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    unsigned long sent = 0, done = 0, wrong = 0, failed = 0;
    for (unsigned long i = 0; i < nconn; i++) {
        cs[i].fd = connect_to(spec);
        if (cs[i].fd < 0) {
            fprintf(stderr, "loadgen: cannot connect to %s: %s\n", spec,
                    strerror(errno));
            return 1;
        }
    }
    double start = now_mono(), stop = start + (double)duration;
    size_t active = 0;
    for (unsigned long i = 0; i < nconn && sent < total; i++) {
        cs[i].kind = sent % NKINDS;
        if (send_request(&cs[i], sent) < 0) {
            fprintf(stderr, "loadgen: send failed\n");
            return 1;
        }
        sent++;
        active++;
    }
    while (active > 0) {
        for (unsigned long i = 0; i < nconn; i++) {
            pfd[i].fd = cs[i].fd;
            pfd[i].events = POLLIN;
        }
        int rc = poll(pfd, (nfds_t)nconn, 1000);
        double t = now_mono();
        if (rc < 0 && errno != EINTR)
            break;
        if (t > stop + 5.0) { /* a server that stopped answering */
            fprintf(stderr, "loadgen: no answer, giving up\n");
            failed += active;
            break;
        }
        for (unsigned long i = 0; rc > 0 && i < nconn; i++) {
            lconn *c = &cs[i];
            if (c->fd < 0 || !pfd[i].revents)
                continue;
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
            if (n <= 0) {
                fprintf(stderr, "loadgen: connection %lu closed by the server\n", i);
                close(c->fd);
                c->fd = -1;
                failed++;
                active--;
                continue;
            }
            c->len += (size_t)n;
            c->buf[c->len] = '\0';
            if (c->len < 2 || memcmp(c->buf + c->len - 2, "\n\n", 2) != 0) {
                if (c->len >= sizeof c->buf - 1) {
                    failed++;
                    close(c->fd);
                    c->fd = -1;
                    active--;
                }
                continue;
            }
            double l = (t - c->sent) * 1e9;
            lat[done++] = l > 4e9 ? 4000000000u : (uint32_t)l;
            if (verify && strcmp(c->buf, kinds[c->kind].expect) != 0) {
                if (wrong++ < 5)
                    fprintf(stderr, "loadgen: %s -> %s: got \"%.*s\", want \"%.*s\"\n",
                            kinds[c->kind].client, kinds[c->kind].rcpt,
                            (int)c->len - 2, c->buf,
                            (int)strlen(kinds[c->kind].expect) - 2,
                            kinds[c->kind].expect);
            }
            if (sent < total && t < stop) {
                c->kind = sent % NKINDS;
                if (send_request(c, sent) == 0) {
                    sent++;
                    continue;
                }
                failed++;
            }
            close(c->fd);
            c->fd = -1;
            active--;
        }
    }
    double elapsed = now_mono() - start;
    for (unsigned long i = 0; i < nconn; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);

    qsort(lat, done, sizeof *lat, cmp_u32);
#define PCT(p) (done ? lat[(size_t)((double)(done - 1) * (p))] / 1000.0 : 0.0)
    printf("loadgen: %lu requests, %lu connections, %.2f s: %.0f req/s; "
           "latency us: p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f, max %.1f; "
           "wrong %lu, failed %lu\n",
           done, nconn, elapsed, done / (elapsed > 0 ? elapsed : 1), PCT(0.5),
           PCT(0.9), PCT(0.99), PCT(0.999), PCT(1.0), wrong, failed);
    free(lat);
    free(pfd);
    free(cs);
    return wrong || failed || done == 0 ? 1 : 0;
}
