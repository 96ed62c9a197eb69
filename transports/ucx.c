/* The UCX backend (fmx_ucx.h): one UCP worker, one endpoint per peer in error-handling mode
 * PEER, every message one active message whose header carries the sender, a per-(sender,
 * receiver) sequence number and, on a keyed endpoint, two tags (fmx_seal.h): one over the header
 * (checked before a rendezvous buffer is allocated for a stranger) and one over the data.
 * UCX may deliver active messages of different sizes out of order: messages are handed to the
 * engine in sequence order per peer. Callbacks that UCX runs inside ucp_worker_progress only
 * queue; delivery happens after it returns. */
#include "fmx_ucx.h"

#include "fmx_crypto.h"
#include "fmx_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucp/api/ucp.h>

#define AM_ID 17
#define MAX_HELD 4096 /* out-of-order messages held per peer before the peer is failed */

struct hdr {
    uint32_t sender;
    uint32_t flags;
    uint64_t seq;
    uint64_t length;
    uint8_t htag[FMX_SEAL_TAG]; /* over sender, flags, seq, length */
    uint8_t dtag[FMX_SEAL_TAG]; /* over the data, number seq | FMX_SEAL_BULK */
};
#define HDR_SIGNED 24
#define FLAG_BYE 1 /* the sender closes: errors from it after this are its going, not a failure */

struct msg { /* received, waiting for its turn or for progress() to return */
    struct msg *next;
    uint32_t peer;
    uint64_t seq;
    void *buf;
    size_t len;
    struct hdr h;
    struct ucx_tp *tp;
};

struct send_ctx {
    struct hdr h;
    void *buf;
    struct ucx_tp *tp;
    uint32_t peer;
};

struct ucx_tp {
    fmx_transport_t base;
    ucp_context_h ctx;
    ucp_worker_h worker;
    ucp_address_t *addr;
    size_t addrlen;
    int efd;
    uint32_t npeers, self;
    ucp_ep_h *eps;
    uint64_t *sendq, *expect; /* per peer: last number sent, next number to deliver */
    struct msg **held; /* per peer: arrived ahead of their turn, unsorted */
    uint32_t *nheld;
    uint8_t *failed, *warned, *departed;
    struct msg *ready, **ready_tail; /* in order, to deliver */
    struct fail {
        uint32_t peer;
        int status;
    } * fails;
    uint32_t nfails;
    fmx_seal_t *seal;
    uint8_t key[FMX_SEAL_KEY];
    int keyed;
    uint64_t rejected;
    int in_flight; /* sends and receives UCX still holds */
    int quiet; /* no peer needs what is in flight */
    char describe[160];
};

static struct ucx_tp *tp_of(fmx_transport_t *t)
{
    return (struct ucx_tp *)t;
}

static void fail_peer(struct ucx_tp *tp, uint32_t peer, int status)
{
    fmx_debug("ucx", "peer %u failed: %d", peer, status);
    if (peer >= tp->npeers || tp->failed[peer] || tp->departed[peer])
        return;
    tp->failed[peer] = 1;
    tp->fails[tp->nfails++] = (struct fail){peer, status};
}

static void reject(struct ucx_tp *tp, uint32_t peer, const char *why)
{
    fmx_debug("ucx", "rejected from %u: %s", peer, why);
    tp->rejected++;
    if (peer < tp->npeers && tp->warned[peer])
        return;
    if (peer < tp->npeers)
        tp->warned[peer] = 1;
    fmx_log(FMX_LOG_WARN, "ucx",
            "dropped a message that claims to come from peer %u: %s; a stranger or a daemon "
            "of another job is sending to this worker (further ones are only counted)",
            peer, why);
}

/* ---- receiving ---- */

static void place(struct ucx_tp *tp, struct msg *m)
{
    m->next = NULL;
    *tp->ready_tail = m;
    tp->ready_tail = &m->next;
}

/* m's data is all here: its tag checked, it joins the peer's sequence */
static void arrived(struct ucx_tp *tp, struct msg *m)
{
    uint32_t p = m->peer;

    if (tp->keyed &&
        fmx_seal_verify(tp->seal, p, m->seq | FMX_SEAL_BULK, &(fmx_seg_t){m->buf, m->len}, 1,
                        m->h.dtag)) {
        reject(tp, p, "its data does not carry the job's MAC");
        free(m->buf);
        free(m);
        return;
    }
    if (m->seq < tp->expect[p] || tp->failed[p]) { /* a duplicate, or a peer given up */
        free(m->buf);
        free(m);
        return;
    }
    if (m->seq > tp->expect[p]) {
        fmx_debug("ucx", "peer %u: message %llu held, %llu expected", p, (unsigned long long)m->seq,
                  (unsigned long long)tp->expect[p]);
        if (tp->nheld[p] >= MAX_HELD) {
            free(m->buf);
            free(m);
            fail_peer(tp, p, -EPROTO);
            return;
        }
        m->next = tp->held[p];
        tp->held[p] = m;
        tp->nheld[p]++;
        return;
    }
    place(tp, m);
    tp->expect[p]++;
    for (int moved = 1; moved;) { /* those that waited for it */
        moved = 0;
        for (struct msg **pp = &tp->held[p]; *pp; pp = &(*pp)->next) {
            if ((*pp)->seq == tp->expect[p]) {
                struct msg *n = *pp;
                *pp = n->next;
                tp->nheld[p]--;
                place(tp, n);
                tp->expect[p]++;
                moved = 1;
                break;
            }
        }
    }
}

static void rndv_done(void *request, ucs_status_t status, size_t length, void *user_data)
{
    struct msg *m = user_data;
    struct ucx_tp *tp = m->tp;

    tp->in_flight--;
    ucp_request_free(request);
    if (status != UCS_OK || length != m->len) {
        free(m->buf);
        fail_peer(tp, m->peer, -EIO);
        free(m);
        return;
    }
    arrived(tp, m);
}

static ucs_status_t on_am(void *arg, const void *header, size_t header_length, void *data,
                          size_t length, const ucp_am_recv_param_t *param)
{
    struct ucx_tp *tp = arg;
    struct hdr h;
    struct msg *m;
    void *buf = NULL;

    if (header_length != sizeof(h)) {
        reject(tp, UINT32_MAX, "its header is not this transport's");
        return UCS_OK;
    }
    memcpy(&h, header, sizeof(h));
    if (h.sender >= tp->npeers || h.sender == tp->self || h.length != length || h.seq == 0) {
        reject(tp, h.sender, "its header names no peer of this job or lies about its length");
        return UCS_OK;
    }
    /* the header's tag first: a stranger gets no buffer and no rendezvous */
    if (tp->keyed &&
        fmx_seal_verify(tp->seal, h.sender, h.seq, &(fmx_seg_t){&h, HDR_SIGNED}, 1, h.htag)) {
        reject(tp, h.sender, "it does not carry the job's MAC, or replays one");
        return UCS_OK;
    }
    if (!(m = malloc(sizeof(*m))) || !(buf = malloc(length ? length : 1))) {
        free(m);
        fail_peer(tp, h.sender, -ENOMEM);
        return UCS_OK;
    }
    *m = (struct msg){.peer = h.sender, .seq = h.seq, .buf = buf, .len = length, .h = h, .tp = tp};
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
        ucp_request_param_t rp = {.op_attr_mask =
                                      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
                                  .cb.recv_am = rndv_done,
                                  .user_data = m};
        ucs_status_ptr_t r = ucp_am_recv_data_nbx(tp->worker, data, m->buf, length, &rp);

        if (UCS_PTR_IS_ERR(r)) {
            free(m->buf);
            free(m);
            fail_peer(tp, h.sender, -EIO);
        } else if (r == NULL) {
            arrived(tp, m);
        } else {
            tp->in_flight++;
        }
        return UCS_OK;
    }
    memcpy(m->buf, data, length); /* eager data is valid only during this call */
    arrived(tp, m);
    return UCS_OK;
}

static void on_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    struct ucx_tp *tp = arg;

    for (uint32_t i = 0; i < tp->npeers; i++)
        if (tp->eps[i] == ep)
            fail_peer(tp, i, status == UCS_ERR_CONNECTION_RESET ? -ECONNRESET : -EPIPE);
}

/* ---- the interface ---- */

static int ucx_get_addr(fmx_transport_t *t, void *buf, size_t *len)
{
    struct ucx_tp *tp = tp_of(t);

    if (*len < tp->addrlen) {
        *len = tp->addrlen;
        return -ENOBUFS;
    }
    memcpy(buf, tp->addr, tp->addrlen);
    *len = tp->addrlen;
    return 0;
}

static int ucx_add_peers(fmx_transport_t *t, uint32_t count, const void *const *addrs,
                         const size_t *lens)
{
    struct ucx_tp *tp = tp_of(t);
    int found = 0;

    if (tp->eps || count == 0)
        return -EINVAL;
    tp->eps = calloc(count, sizeof(*tp->eps));
    tp->sendq = calloc(count, sizeof(*tp->sendq));
    tp->expect = calloc(count, sizeof(*tp->expect));
    tp->held = calloc(count, sizeof(*tp->held));
    tp->nheld = calloc(count, sizeof(*tp->nheld));
    tp->failed = calloc(count, 1);
    tp->warned = calloc(count, 1);
    tp->departed = calloc(count, 1);
    tp->fails = calloc(count, sizeof(*tp->fails));
    if (!tp->eps || !tp->sendq || !tp->expect || !tp->held || !tp->nheld || !tp->failed ||
        !tp->warned || !tp->departed || !tp->fails)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        tp->expect[i] = 1;
        if (!found && lens[i] == tp->addrlen && !memcmp(addrs[i], tp->addr, tp->addrlen)) {
            tp->self = i;
            found = 1;
        }
    }
    if (!found) {
        fmx_log(FMX_LOG_ERROR, "ucx", "this worker's own address is not among the %u peers", count);
        return -EINVAL;
    }
    tp->npeers = count;
    for (uint32_t i = 0; i < count; i++) {
        ucp_ep_params_t ep = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                                  UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                                  UCP_EP_PARAM_FIELD_ERR_HANDLER,
                              .address = addrs[i],
                              .err_mode = UCP_ERR_HANDLING_MODE_PEER,
                              .err_handler = {.cb = on_ep_error, .arg = tp}};
        ucs_status_t st;

        if (i == tp->self)
            continue;
        if ((st = ucp_ep_create(tp->worker, &ep, &tp->eps[i])) != UCS_OK) {
            fmx_log(FMX_LOG_ERROR, "ucx", "peer %u: ucp_ep_create: %s", i, ucs_status_string(st));
            return -EINVAL;
        }
    }
    if (tp->keyed)
        return fmx_seal_create(tp->key, tp->self, tp->npeers, &tp->seal);
    return 0;
}

static void send_done(void *request, ucs_status_t status, void *user_data)
{
    struct send_ctx *c = user_data;

    c->tp->in_flight--;
    if (status != UCS_OK && status != UCS_ERR_CANCELED)
        fail_peer(c->tp, c->peer, -EIO);
    free(c->buf);
    free(c);
    ucp_request_free(request);
}

static int send_msg(struct ucx_tp *tp, uint32_t peer, void *buf, size_t len, uint32_t flags)
{
    struct send_ctx *c;
    ucs_status_ptr_t r;

    if (peer >= tp->npeers || peer == tp->self || !tp->eps[peer]) {
        free(buf);
        return -EINVAL;
    }
    if (tp->failed[peer]) {
        free(buf);
        return -EPIPE;
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        free(buf);
        return -ENOMEM;
    }
    *c = (struct send_ctx){.buf = buf, .tp = tp, .peer = peer};
    c->h =
        (struct hdr){.sender = tp->self, .flags = flags, .seq = ++tp->sendq[peer], .length = len};
    if (tp->seal &&
        (fmx_seal_sign(tp->seal, peer, c->h.seq, &(fmx_seg_t){&c->h, HDR_SIGNED}, 1, c->h.htag) ||
         fmx_seal_sign(tp->seal, peer, c->h.seq | FMX_SEAL_BULK, &(fmx_seg_t){buf, len}, 1,
                       c->h.dtag))) {
        free(buf);
        free(c);
        return -EIO;
    }
    ucp_request_param_t rp = {.op_attr_mask =
                                  UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
                              .cb.send = send_done,
                              .user_data = c};
    r = ucp_am_send_nbx(tp->eps[peer], AM_ID, &c->h, sizeof(c->h), buf, len, &rp);
    if (r == NULL) { /* done already */
        free(buf);
        free(c);
        return 0;
    }
    if (UCS_PTR_IS_ERR(r)) {
        free(buf);
        free(c);
        fail_peer(tp, peer, -EIO);
        return -EIO;
    }
    tp->in_flight++;
    return 0;
}

static int ucx_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    return send_msg(tp_of(t), peer, buf, len, 0);
}

/* Hands over what UCX's callbacks queued; the engine may send from inside its callbacks. */
static int deliver(struct ucx_tp *tp)
{
    int n = 0;

    while (tp->ready) {
        struct msg *m = tp->ready;

        if (!(tp->ready = m->next))
            tp->ready_tail = &tp->ready;
        if (m->h.flags & FLAG_BYE) {
            tp->departed[m->peer] = 1;
            free(m->buf);
            free(m);
            continue;
        }
        if (tp->base.events.recv_owned) {
            tp->base.events.recv_owned(tp->base.events_arg, m->peer, m->buf, m->len);
        } else {
            if (tp->base.events.recv) /* none once the engine has gone */
                tp->base.events.recv(tp->base.events_arg, m->peer, m->buf, m->len);
            free(m->buf);
        }
        free(m);
        n++;
    }
    for (uint32_t i = 0; i < tp->nfails; i++, n++)
        if (tp->base.events.peer_error && !tp->departed[tp->fails[i].peer])
            tp->base.events.peer_error(tp->base.events_arg, tp->fails[i].peer, tp->fails[i].status);
    tp->nfails = 0;
    return n;
}

static int ucx_progress(fmx_transport_t *t)
{
    struct ucx_tp *tp = tp_of(t);

    for (int i = 0; i < 64 && ucp_worker_progress(tp->worker); i++)
        ;
    return deliver(tp);
}

static int ucx_wait_fd(fmx_transport_t *t)
{
    return tp_of(t)->efd;
}

static int ucx_prepare_wait(fmx_transport_t *t)
{
    struct ucx_tp *tp = tp_of(t);
    ucs_status_t st;

    if (tp->ready || tp->nfails)
        return -EAGAIN;
    st = ucp_worker_arm(tp->worker);
    if (st != UCS_OK)
        return -EAGAIN;
    /* a send UCX has not finished may need progress that no event announces (data waiting
     * for its socket to drain): look again soon */
    return tp->in_flight > 0 ? 1000 : 0;
}

static const char *ucx_describe(fmx_transport_t *t)
{
    return tp_of(t)->describe;
}

static int ucx_peer_addr(fmx_transport_t *t, uint32_t peer, char *buf, size_t len)
{
    struct ucx_tp *tp = tp_of(t);

    if (peer >= tp->npeers)
        return -EINVAL;
    snprintf(buf, len, "a UCX worker address (peer %u)", peer);
    return 0;
}

static int ucx_set_key(fmx_transport_t *t, const uint8_t *key, size_t len)
{
    struct ucx_tp *tp = tp_of(t);

    if (len != FMX_SEAL_KEY || tp->eps)
        return -EINVAL;
    memcpy(tp->key, key, len);
    tp->keyed = 1;
    return 0;
}

static uint64_t ucx_rejected(fmx_transport_t *t)
{
    return tp_of(t)->rejected;
}

static size_t ucx_max_msg_size(fmx_transport_t *t)
{
    (void)t;
    return SIZE_MAX / 2;
}

static void ucx_quiet(fmx_transport_t *t)
{
    tp_of(t)->quiet = 1;
}

/* Progresses until what was sent has left (at most ms), as a close without quiet() must. */
static void drain(struct ucx_tp *tp, int ms)
{
    uint64_t end = fmx_now_ns() + (uint64_t)ms * 1000000u;

    while (tp->in_flight > 0 && fmx_now_ns() < end)
        ucp_worker_progress(tp->worker);
}

/* UCX 1.13.1 aborts (ucp_request.c:684, "got REP message") when an endpoint is closed by force
 * while its wire-up reply still waits in a transport's queue: 256 members over sm, every run.
 * A worker flush lets those leave first; bounded, for a peer that is gone. */
static void flush_worker(struct ucx_tp *tp, int ms)
{
    uint64_t end = fmx_now_ns() + (uint64_t)ms * 1000000u;
    ucp_request_param_t rp = {0};
    ucs_status_ptr_t r = ucp_worker_flush_nbx(tp->worker, &rp);

    if (!UCS_PTR_IS_PTR(r))
        return;
    while (ucp_request_check_status(r) == UCS_INPROGRESS && fmx_now_ns() < end)
        ucp_worker_progress(tp->worker);
    ucp_request_free(r);
}

static void ucx_close(fmx_transport_t *t)
{
    struct ucx_tp *tp = tp_of(t);
    ucp_request_param_t rp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                              .flags = UCP_EP_CLOSE_FLAG_FORCE};

    /* a goodbye after everything else, so that the peers take the endpoint's closing for
     * what it is; then what is in flight leaves (unless no one needs it) */
    for (uint32_t i = 0; tp->eps && i < tp->npeers; i++)
        if (tp->eps[i] && !tp->failed[i] && !tp->departed[i])
            send_msg(tp, i, malloc(1), 0, FLAG_BYE);
    drain(tp, tp->quiet ? 100 : 2000);
    flush_worker(tp, tp->quiet ? 100 : 2000);
    for (uint32_t i = 0; tp->eps && i < tp->npeers; i++) {
        ucs_status_ptr_t r;

        if (!tp->eps[i])
            continue;
        r = ucp_ep_close_nbx(tp->eps[i], &rp);
        if (UCS_PTR_IS_PTR(r)) {
            for (int k = 0; k < 100000 && ucp_request_check_status(r) == UCS_INPROGRESS; k++)
                ucp_worker_progress(tp->worker);
            ucp_request_free(r);
        }
    }
    /* forced closes cancel what was in flight: their callbacks free it */
    for (int k = 0; k < 1000 && tp->in_flight > 0; k++)
        ucp_worker_progress(tp->worker);
    for (struct msg *m = tp->ready, *n; m; m = n) {
        n = m->next;
        free(m->buf);
        free(m);
    }
    for (uint32_t i = 0; tp->held && i < tp->npeers; i++)
        for (struct msg *m = tp->held[i], *n; m; m = n) {
            n = m->next;
            free(m->buf);
            free(m);
        }
    if (tp->addr)
        ucp_worker_release_address(tp->worker, tp->addr);
    if (tp->worker)
        ucp_worker_destroy(tp->worker);
    if (tp->ctx)
        ucp_cleanup(tp->ctx);
    fmx_seal_destroy(tp->seal);
    fmx_wipe(tp->key, sizeof(tp->key));
    free(tp->eps);
    free(tp->sendq);
    free(tp->expect);
    free(tp->held);
    free(tp->nheld);
    free(tp->failed);
    free(tp->warned);
    free(tp->departed);
    free(tp->fails);
    free(tp);
}

/* Sleeping on a UCP worker is dear: arming it, and the wake-up through its transports' event
 * channels (shared memory's is a socket per network namespace). A fence's members wait through
 * longer gaps than the default window when they outnumber the cores, and then paid for a
 * wake-up per message: fence_bench over UCX sm, 2 cores, medians of two runs, 50 us -> 1000 us:
 * P = 8 1 MiB 7.3-8.0 -> 2.9-3.1 ms, 64 KiB 2.2-2.4 -> 1.7-1.8 ms; P = 4 1 MiB 1.0-1.6 ->
 * 0.6-0.9 ms; P = 2 and UCX tcp unchanged within noise. */
static uint32_t ucx_spin_us(fmx_transport_t *t)
{
    (void)t;
    return 1000;
}

static const fmx_transport_ops_t ucx_ops = {.name = "ucx",
                                            .get_addr = ucx_get_addr,
                                            .add_peers = ucx_add_peers,
                                            .send = ucx_send,
                                            .progress = ucx_progress,
                                            .wait_fd = ucx_wait_fd,
                                            .prepare_wait = ucx_prepare_wait,
                                            .describe = ucx_describe,
                                            .peer_addr = ucx_peer_addr,
                                            .set_key = ucx_set_key,
                                            .rejected = ucx_rejected,
                                            .quiet = ucx_quiet,
                                            .max_msg_size = ucx_max_msg_size,
                                            .spin_us = ucx_spin_us,
                                            .close = ucx_close};

/* UCX settings for the daemons' own workers, apart from their ranks' (which may run UCX too,
 * under UCX_* settings of their own): FMX_UCX_NAME=value is UCX_NAME=value here alone, for
 * UCP's settings (TLS, NET_DEVICES...); those of UCX's transports (POSIX_ERROR_HANDLING...)
 * are read from the environment only. */
static ucs_status_t own_config(ucp_config_t **cfg, const char **bad)
{
    extern char **environ;
    ucs_status_t st = ucp_config_read(NULL, NULL, cfg);

    for (char **e = environ; st == UCS_OK && *e; e++) {
        char name[64];
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0;

        if (strncmp(*e, "FMX_UCX_", 8) || n <= 8 || n - 8 >= sizeof(name))
            continue;
        memcpy(name, *e + 8, n - 8);
        name[n - 8] = 0;
        if ((st = ucp_config_modify(*cfg, name, eq + 1)) != UCS_OK)
            *bad = *e;
    }
    return st;
}

int fmx_ucx_open(const char *spec, fmx_transport_t **out, fmx_error_t *err)
{
    struct ucx_tp *tp = calloc(1, sizeof(*tp));
    ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES,
                           .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP};
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    ucp_am_handler_param_t hp = {.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID |
                                     UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG,
                                 .id = AM_ID,
                                 .cb = on_am,
                                 .arg = tp};
    ucs_status_t st;
    const char *what = "ucp_init", *bad = NULL, *tls = NULL;
    ucp_config_t *cfg = NULL;

    if (!tp)
        return -ENOMEM;
    tp->base.ops = &ucx_ops;
    tp->efd = -1;
    tp->ready_tail = &tp->ready;
    /* the spec, when given, is this worker's UCX_TLS ("net": every transport but shared memory) */
    if (spec && !strcmp(spec, "net"))
        tls = "^sm";
    else if (spec && *spec)
        tls = spec;
    if ((st = own_config(&cfg, &bad)) != UCS_OK ||
        (tls != NULL &&
         (bad = "the transport list the transport's name gives",
          st = ucp_config_modify(cfg, "TLS", tls)) != UCS_OK)) {
        fmx_errprintf(err, "UCX: %s: %s", bad ? bad : "ucp_config_read", ucs_status_string(st));
        if (cfg)
            ucp_config_release(cfg);
        ucx_close(&tp->base);
        return -EINVAL;
    }
    st = ucp_init(&params, cfg, &tp->ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK ||
        (what = "ucp_worker_create",
         (st = ucp_worker_create(tp->ctx, &wp, &tp->worker)) != UCS_OK) ||
        (what = "ucp_worker_set_am_recv_handler",
         (st = ucp_worker_set_am_recv_handler(tp->worker, &hp)) != UCS_OK) ||
        (what = "ucp_worker_get_address",
         (st = ucp_worker_get_address(tp->worker, &tp->addr, &tp->addrlen)) != UCS_OK) ||
        (what = "ucp_worker_get_efd", (st = ucp_worker_get_efd(tp->worker, &tp->efd)) != UCS_OK)) {
        fmx_errprintf(err, "UCX: %s: %s", what, ucs_status_string(st));
        ucx_close(&tp->base);
        return -ENODEV;
    }
    if (!tls)
        tls = getenv("FMX_UCX_TLS") ? getenv("FMX_UCX_TLS") : getenv("UCX_TLS");
    snprintf(tp->describe, sizeof(tp->describe), "ucx %s (transports %s, active messages)",
             ucp_get_version_string(), tls ? tls : "all");
    fmx_log(FMX_LOG_INFO, "ucx", "%s", tp->describe);
    *out = &tp->base;
    return 0;
}

void fmx_ucx_warm(void)
{
}
