/* The join phase: daemons connect to pmixrun's listening socket (or are connected already, for
 * --connect), are sent the job's challenge and say HELLO with their proof of the job's secret
 * (auth.h) and their node index; each one that proves it joins the job, the others are refused
 * with a line saying why. A deadline ends the wait, naming
 * every daemon that did not join and what to check. */
#include "pmixrun.h"

#include "auth.h"
#include "fmx_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void drop_pending(struct run *r, size_t i)
{
    fmx_loop_del_fd(r->loop, fmx_conn_fd(r->pending[i]));
    r->pending[i] = r->pending[--r->npending];
}

/* A connection's first message: HELLO with the proof, the node index and the host name. */
static void hello(struct run *r, size_t i)
{
    fmx_conn_t *c = r->pending[i];
    fmx_error_t err = {{0}};
    fmx_pack_t b;
    uint16_t type;
    int rc = fmx_conn_read(c, &err);

    if (rc >= 0)
        rc = fmx_conn_next(c, &type, &b, &err);
    if (rc == 0)
        return;
    size_t plen = 0;
    const uint8_t *proof = rc == 1 && type == FMX_CTL_HELLO ? fmx_unpack_bytes(&b, &plen) : NULL;
    uint32_t node = fmx_unpack_u32(&b);
    char *host = fmx_unpack_str(&b);
    uint8_t want[FMX_AUTH_MAC];
    int good = proof && plen == FMX_AUTH_MAC && !b.err && b.pos == b.len &&
        node < r->job.map.nnodes && !r->d[node].conn &&
        fmx_hello_proof(r->secret, r->hello_nonce, node, want) == 0 &&
        fmx_same_bytes(proof, want, FMX_AUTH_MAC);

    drop_pending(r, i);
    if (good) {
        char peer[300];

        snprintf(peer, sizeof(peer), "pmixd on %s", host);
        fmx_conn_set_peer(c, peer);
        r->d[node].conn = c;
        pmixrun_daemon_joined(r, node);
    } else {
        fprintf(stderr, "pmixrun: refused a control connection (%s)\n",
                rc < 0 ? err.text : "wrong secret, node or message");
        fmx_conn_free(c);
    }
    free(host);
}

static void on_pending(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct run *r = arg;

    (void)l;
    (void)events;
    for (size_t i = 0; i < r->npending; i++)
        if (fmx_conn_fd(r->pending[i]) == fd) {
            hello(r, i);
            return;
        }
}

/* Sends the job's challenge on a new connection and waits for its HELLO. */
static void watch(struct run *r, fmx_conn_t *c)
{
    fmx_conn_t **grown;
    fmx_pack_t p;
    int rc;

    fmx_pack_init(&p);
    fmx_pack_bytes(&p, r->hello_nonce, sizeof(r->hello_nonce));
    rc = fmx_conn_send(c, FMX_CTL_CHALLENGE, &p);
    fmx_pack_free(&p);
    if (rc) {
        fmx_conn_free(c);
        return;
    }
    grown = realloc(r->pending, (r->npending + 1) * sizeof(*grown));

    if (!grown || fmx_loop_add_fd(r->loop, fmx_conn_fd(c), FMX_LOOP_IN, on_pending, r)) {
        if (grown)
            r->pending = grown;
        fmx_conn_free(c);
        return;
    }
    r->pending = grown;
    r->pending[r->npending++] = c;
}

static void on_listen(fmx_loop_t *l, int lfd, unsigned events, void *arg)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    (void)l;
    (void)events;
    if (fd >= 0)
        watch(arg, fmx_conn_new(fd, "a daemon connecting"));
}

static void join_late(fmx_loop_t *l, void *arg)
{
    struct run *r = arg;
    unsigned long long ms = (unsigned long long)pmixrun_daemon_timeout_ms();

    (void)l;
    if (r->phase != RUN_JOINING)
        return;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (!r->d[i].conn && r->o.connect_port)
            fprintf(stderr,
                    "pmixrun: the pmixd serving at %s:%u (node %s) took the job but did not start "
                    "it within %llu ms\n",
                    r->job.map.nodes[i].host, r->o.connect_port, r->job.map.nodes[i].name, ms);
        else if (!r->d[i].conn)
            fprintf(stderr,
                    "pmixrun: pmixd on host %s (node %s) did not connect back to %s within %llu "
                    "ms (is that address reachable from there? FMX_CONTROL_HOST chooses it)\n",
                    r->job.map.nodes[i].host, r->job.map.nodes[i].name,
                    r->d[i].control ? r->d[i].control : "?", ms);
    pmixrun_end_job(r, 1);
    pmixrun_join_end(r);
}

void pmixrun_join_start(struct run *r)
{
    fmx_conn_t **already = r->pending;
    size_t n = r->npending;

    r->pending = NULL;
    r->npending = 0;
    if (r->listen_fd >= 0)
        fmx_loop_add_fd(r->loop, r->listen_fd, FMX_LOOP_IN, on_listen, r);
    for (size_t i = 0; i < n; i++)
        watch(r, already[i]);
    free(already);
    fmx_loop_add_timer(r->loop, pmixrun_daemon_timeout_ms(), join_late, r);
    /* a resident daemon's HELLO may have come in with its proof of the secret */
    for (size_t i = 0; i < r->npending;) {
        size_t before = r->npending;

        if (fmx_conn_has_message(r->pending[i]))
            hello(r, i);
        if (r->npending == before)
            i++;
    }
}

void pmixrun_join_end(struct run *r)
{
    while (r->npending) {
        fmx_conn_t *c = r->pending[0];

        drop_pending(r, 0);
        fmx_conn_free(c);
    }
    free(r->pending);
    r->pending = NULL;
    if (r->listen_fd >= 0) {
        fmx_loop_del_fd(r->loop, r->listen_fd);
        close(r->listen_fd);
    }
    r->listen_fd = -1;
}
