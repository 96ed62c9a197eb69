/* Control-channel framing, packing and TCP helpers (see control.h). */
#include "control.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADER 8u

struct fmx_conn {
    int fd;
    char peer[96]; /* who is at the other end, for error messages */
    uint8_t *in;
    size_t in_len, in_cap;
    size_t consumed; /* bytes of the message handed out last, dropped on the next call */
    uint8_t *out;
    size_t out_len, out_cap, out_pos;
    uint32_t max; /* longest message taken from the peer */
};

fmx_conn_t *fmx_conn_new(int fd, const char *peer)
{
    fmx_conn_t *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->fd = fd;
    c->max = FMX_CTL_MAX_MESSAGE;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return c;
}

void fmx_conn_set_max_message(fmx_conn_t *c, uint32_t max)
{
    c->max = max < FMX_CTL_MAX_MESSAGE ? max : FMX_CTL_MAX_MESSAGE;
}

fmx_conn_t *fmx_conn_adopt(int fd, const char *peer, const void *input, size_t len)
{
    fmx_conn_t *c = fmx_conn_new(fd, peer);

    if (!c || !len)
        return c;
    if (!(c->in = malloc(len))) {
        fmx_conn_free(c);
        return NULL;
    }
    memcpy(c->in, input, len);
    c->in_len = c->in_cap = len;
    return c;
}

int fmx_conn_fd(const fmx_conn_t *c)
{
    return c->fd;
}

const char *fmx_conn_peer(const fmx_conn_t *c)
{
    return c->peer;
}

void fmx_conn_set_peer(fmx_conn_t *c, const char *peer)
{
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
}

int fmx_conn_wants_write(const fmx_conn_t *c)
{
    return c->out_len > c->out_pos;
}

const void *fmx_conn_input(const fmx_conn_t *c, size_t *len)
{
    *len = c->in_len;
    return c->in;
}

void fmx_conn_free(fmx_conn_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

int fmx_conn_flush(fmx_conn_t *c)
{
    while (c->out_pos < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        c->out_pos += (size_t)n;
    }
    c->out_len = c->out_pos = 0;
    return 0;
}

int fmx_conn_flush_blocking(fmx_conn_t *c, int timeout_ms)
{
    uint64_t until = fmx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc;

    while ((rc = fmx_conn_flush(c)) == -EAGAIN) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        uint64_t now = fmx_now_ns();

        if (now >= until)
            return -ETIMEDOUT;
        poll(&pfd, 1, (int)((until - now) / 1000000u) + 1);
    }
    return rc;
}

int fmx_conn_wait(fmx_conn_t *c, uint16_t want, fmx_pack_t *body, int timeout_ms, fmx_error_t *err)
{
    uint64_t until = fmx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc, eof = 0;
    uint16_t type;

    for (;;) {
        fmx_conn_flush(c);
        rc = fmx_conn_next(c, &type, body, err);
        if (rc < 0)
            return rc;
        if (rc == 1 && type == want)
            return 0;
        if (rc == 1 && (type == FMX_CTL_KILL || type == FMX_CTL_SHUTDOWN)) {
            fmx_errprintf(err, "%s ended the job during start-up", c->peer);
            return -ECANCELED;
        }
        if (rc == 1 && type == FMX_CTL_ERROR) {
            char *text = fmx_unpack_str(body);
            fmx_errprintf(err, "%s says: %s", c->peer, text ? text : "(no reason)");
            free(text);
            return -ECONNREFUSED;
        }
        if (rc == 1) {
            fmx_errprintf(err, "%s sent message type %u where %u was due", c->peer, type, want);
            return -EPROTO;
        }
        if (eof) { /* what arrived before the end is handled above, first */
            fmx_errprintf(err, "%s closed the connection", c->peer);
            return -EPIPE;
        }
        struct pollfd pfd = {.fd = c->fd,
                             .events = POLLIN | (c->out_len > c->out_pos ? POLLOUT : 0)};
        uint64_t now = fmx_now_ns();
        if (now >= until) {
            fmx_errprintf(err, "%s did not answer within %d ms", c->peer, timeout_ms);
            return -ETIMEDOUT;
        }
        poll(&pfd, 1, (int)((until - now) / 1000000u) + 1);
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            rc = fmx_conn_read(c, err);
            if (rc == -EPIPE)
                eof = 1;
            else if (rc < 0)
                return rc;
        }
    }
}

int fmx_conn_send(fmx_conn_t *c, uint16_t type, const fmx_pack_t *body)
{
    size_t blen = body ? body->len : 0;
    uint8_t *h;
    int rc;

    if ((body && body->err) || blen > FMX_CTL_MAX_MESSAGE)
        return -EINVAL;
    if (c->out_pos && c->out_pos == c->out_len)
        c->out_len = c->out_pos = 0;
    if ((rc = fmx_grow(&c->out, &c->out_cap, c->out_len + HEADER + blen)))
        return rc;
    h = c->out + c->out_len;
    fmx_put_le32(h, (uint32_t)blen);
    h[4] = (uint8_t)type;
    h[5] = (uint8_t)(type >> 8);
    h[6] = h[7] = 0;
    if (blen)
        memcpy(h + HEADER, body->data, blen);
    c->out_len += HEADER + blen;
    rc = fmx_conn_flush(c);
    return rc == -EAGAIN ? 0 : rc;
}

int fmx_conn_read(fmx_conn_t *c, fmx_error_t *err)
{
    for (;;) {
        ssize_t n;

        if (fmx_grow(&c->in, &c->in_cap, c->in_len + 65536))
            return -ENOMEM;
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            fmx_errprintf(err, "%s closed the connection", c->peer);
            return -EPIPE;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        fmx_errprintf(err, "reading from %s: %s", c->peer, strerror(errno));
        return -errno;
    }
}

int fmx_conn_has_message(const fmx_conn_t *c)
{
    size_t have = c->in_len - c->consumed;

    return have >= HEADER && have >= HEADER + (size_t)fmx_get_le32(c->in + c->consumed);
}

int fmx_conn_next(fmx_conn_t *c, uint16_t *type, fmx_pack_t *body, fmx_error_t *err)
{
    uint32_t len;

    if (c->consumed) {
        memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
        c->in_len -= c->consumed;
        c->consumed = 0;
    }
    if (c->in_len < HEADER)
        return 0;
    len = fmx_get_le32(c->in);
    if (len > c->max || c->in[6] || c->in[7]) {
        fmx_errprintf(err, "%s sent a malformed control message (length %u, type %u)", c->peer, len,
                      (unsigned)(c->in[4] | c->in[5] << 8));
        return -EPROTO;
    }
    if (c->in_len < HEADER + (size_t)len)
        return 0;
    *type = (uint16_t)(c->in[4] | c->in[5] << 8);
    fmx_unpack_init(body, c->in + HEADER, len);
    c->consumed = HEADER + len;
    return 1;
}

int fmx_tcp_listen(const char *host, uint16_t port, uint16_t *bound, fmx_error_t *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t slen = sizeof(sa);
    int fd, one = 1;

    if (host && *host) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        int rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc) {
            fmx_errprintf(err, "cannot resolve %s: %s", host, gai_strerror(rc));
            return -ENOENT;
        }
        sa.sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fmx_errprintf(err, "socket: %s", strerror(errno));
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024) ||
        getsockname(fd, (struct sockaddr *)&sa, &slen)) {
        int e = errno;
        fmx_errprintf(err, "cannot listen on %s:%u: %s", host && *host ? host : "*", port,
                      strerror(e));
        close(fd);
        return -e;
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

int fmx_tcp_connect(const char *host, uint16_t port, int timeout_ms, fmx_error_t *err)
{
    uint64_t until = fmx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    char service[8];
    int last = 0;

    snprintf(service, sizeof(service), "%u", port);
    for (;;) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        /* "localhost" is loopback: no need for /etc/hosts to say so */
        int rc = getaddrinfo(strcmp(host, "localhost") ? host : "127.0.0.1", service, &hints, &res);

        if (rc == 0) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
            if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
                freeaddrinfo(res);
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                return fd;
            }
            last = errno;
            if (fd >= 0)
                close(fd);
            freeaddrinfo(res);
        }
        if (fmx_now_ns() >= until) {
            fmx_errprintf(err, "cannot reach %s:%u within %d ms: %s", host, port, timeout_ms,
                          rc ? gai_strerror(rc) : strerror(last));
            return rc ? -ENOENT : -(last ? last : ETIMEDOUT);
        }
        nanosleep(&(struct timespec){0, 100000000}, NULL); /* names may resolve late (k8s) */
    }
}

void fmx_sockaddr_str(const struct sockaddr *sa, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
        snprintf(out, len, "%s:%u", a, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
        snprintf(out, len, "[%s]:%u", a, ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "(address family %d)", sa->sa_family);
    }
}
