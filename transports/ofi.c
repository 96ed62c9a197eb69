/* libfabric transport, data path: one FI_EP_RDM endpoint with tagged messages. Messages up to
 * the eager size go out as one chunk copied through a registered bounce region (fi_tinject
 * when within the provider's inject size); larger ones go by rendezvous (ofi_rdv.c). A fixed set
 * of wildcard receives is reposted as soon as each chunk is handled. */
#include "ofi_internal.h"

#include "fmx_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ofi_tp *tp_of(fmx_transport_t *t)
{
    return (struct ofi_tp *)t;
}

void fmx_ofi_owe_peer_error(struct ofi_tp *tp, uint32_t peer)
{
    uint32_t *n = realloc(tp->failed, (tp->nfailed + 1) * sizeof(*n));

    if (n) {
        tp->failed = n;
        tp->failed[tp->nfailed++] = peer;
    }
}

int fmx_ofi_post_recv(struct ofi_tp *tp, struct ofi_op *op)
{
    ssize_t rc;

    do {
        rc = fi_trecv(tp->ep, op->buf, tp->eager, tp->desc, FI_ADDR_UNSPEC, 0, EAGER_IGNORE, op);
        if (rc == -FI_EAGAIN)
            fi_cq_read(tp->cq, NULL, 0);
    } while (rc == -FI_EAGAIN);
    if (rc)
        fmx_log(FMX_LOG_ERROR, "ofi", "fi_trecv: %s", fi_strerror((int)-rc));
    return (int)rc;
}

static int ofi_get_addr(fmx_transport_t *t, void *buf, size_t *len)
{
    size_t cap = *len;
    int rc;

    if (cap < BELL_ADDR_LEN)
        return -ENOBUFS;
    *len = cap - BELL_ADDR_LEN;
    rc = fi_getname(&tp_of(t)->ep->fid, buf, len);
    if (rc)
        return rc == -FI_ETOOSMALL ? -ENOBUFS : rc;
    *len += fmx_bell_put_addr(tp_of(t), (uint8_t *)buf + *len);
    return 0;
}

static int ofi_add_peers(fmx_transport_t *t, uint32_t count, const void *const *addrs,
                         const size_t *lens)
{
    struct ofi_tp *tp = tp_of(t);
    uint8_t own[256];
    size_t ownlen = sizeof(own);
    int found = 0;

    if (tp->peers || fi_getname(&tp->ep->fid, own, &ownlen))
        return -EINVAL;
    for (uint32_t i = 0; i < count; i++) {
        if (lens[i] <= BELL_ADDR_LEN) {
            fmx_log(FMX_LOG_ERROR, "ofi", "peer %u: a %zu-byte address is too short", i, lens[i]);
            return -EINVAL;
        }
    }
    tp->peers = calloc(count, sizeof(*tp->peers));
    tp->injected = calloc(count, 1);
    if (!tp->peers || !tp->injected)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        if (fi_av_insert(tp->av, addrs[i], 1, &tp->peers[i], 0, NULL) != 1) {
            fmx_log(FMX_LOG_ERROR, "ofi",
                    "peer %u: its address does not insert into the %s address vector", i,
                    tp->describe);
            return -EINVAL;
        }
        if (!found && lens[i] - BELL_ADDR_LEN == ownlen && memcmp(addrs[i], own, ownlen) == 0) {
            tp->self = i;
            found = 1;
        }
    }
    if (!found) {
        fmx_log(FMX_LOG_ERROR, "ofi", "this endpoint's own address is not among the %u peers",
                count);
        return -EINVAL;
    }
    tp->npeers = count;
    fmx_bell_add_peers(tp, count, addrs, lens);
    return fmx_chunk_seal_ready(tp);
}

/* Sends queued eager messages while bounce buffers and the provider allow. Chunks within the
 * inject size go by fi_tinject, which gives no completion; the peer is remembered so that
 * closing can flush it (see drain()). */
static void push_queue(struct ofi_tp *tp)
{
    struct out_msg *m;

    while ((m = tp->outq) && tp->tx_free) {
        struct ofi_op *op = tp->tx_free;
        size_t n = fmx_chunk_build(tp, op->buf, m);
        int inject = n <= tp->inject;
        ssize_t rc;

        if (!n)
            rc = -FI_EIO;
        else if (inject)
            rc = fi_tinject(tp->ep, op->buf, n, tp->peers[m->peer], tp->self);
        else
            rc = fi_tsend(tp->ep, op->buf, n, tp->desc, tp->peers[m->peer], tp->self, op);
        if (rc == -FI_EAGAIN)
            return; /* the provider is backed up: retry after reading completions */
        if (rc) {
            /* the engine reports the peer's loss, by name; a job that is ending may see this
             * for a peer that has already gone */
            fmx_debug("ofi", "send to peer %u failed: %s", m->peer, fi_strerror((int)-rc));
            fmx_ofi_owe_peer_error(tp, m->peer);
        } else if (inject) {
            tp->injected[m->peer] = 1;
            fmx_bell_owe(tp, m->peer);
        } else {
            fmx_bell_owe(tp, m->peer);
            tp->tx_free = op->next_free;
            op->peer = m->peer;
            tp->tx_busy++;
        }
        tp->outq = m->next;
        if (!tp->outq)
            tp->outq_tail = NULL;
        free(m->payload);
        free(m);
    }
}

int fmx_ofi_queue(struct ofi_tp *tp, uint32_t peer, uint8_t kind, uint32_t id, uint64_t length,
                  uint8_t *payload, size_t plen)
{
    struct out_msg *m = calloc(1, sizeof(*m));

    if (!m) {
        free(payload);
        return -ENOMEM;
    }
    m->peer = peer;
    m->kind = kind;
    m->id = id;
    m->length = length;
    m->payload = payload;
    m->plen = plen;
    if (tp->outq_tail)
        tp->outq_tail->next = m;
    else
        tp->outq = m;
    tp->outq_tail = m;
    push_queue(tp);
    return 0;
}

static int ofi_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    struct ofi_tp *tp = tp_of(t);
    int rc;

    if (peer >= tp->npeers || len == 0) {
        free(buf);
        return -EINVAL;
    }
    if (CHUNK_HEADER + len + tp->trailer <= tp->eager)
        rc = fmx_ofi_queue(tp, peer, CHUNK_DATA, 0, len, buf, len);
    else
        rc = fmx_rdv_send(tp, peer, buf, len);
    fmx_bell_ring_owed(tp);
    return rc;
}

/* A message that goes eagerly, or to a provider that wants registered buffers, is gathered
 * into one buffer first; a larger one is read in place by the rendezvous. */
static int ofi_sendv(fmx_transport_t *t, uint32_t peer, const fmx_seg_t *segs, size_t n,
                     fmx_send_done_f done, void *arg)
{
    struct ofi_tp *tp = tp_of(t);
    size_t len = fmx_segs_len(segs, n);
    uint8_t *buf;
    int rc;

    if (peer >= tp->npeers || len == 0) {
        done(arg);
        return -EINVAL;
    }
    if (CHUNK_HEADER + len + tp->trailer > tp->eager && !tp->local_mr) {
        rc = fmx_rdv_sendv(tp, peer, segs, n, len, done, arg);
        fmx_bell_ring_owed(tp);
        return rc;
    }
    if ((buf = malloc(len)))
        fmx_segs_copy(segs, n, 0, len, buf);
    done(arg);
    return buf ? ofi_send(t, peer, buf, len) : -ENOMEM;
}

/* Checks one eager chunk (ofi_chunk.c) and acts on it. */
static void on_chunk(struct ofi_tp *tp, uint64_t tag, const uint8_t *c, size_t len)
{
    const uint8_t *payload;
    uint32_t src, id;
    uint64_t length;
    size_t plen;
    uint8_t kind;

    if (fmx_chunk_check(tp, tag, c, len, &src, &kind, &id, &length, &payload, &plen))
        return;
    switch (kind) {
    case CHUNK_DATA:
        if (tp->base.events.recv)
            tp->base.events.recv(tp->base.events_arg, src, payload, length);
        break;
    case CHUNK_RTS:
        fmx_rdv_on_rts(tp, src, id, length, tp->seal ? payload : NULL);
        break;
    case CHUNK_CTS:
        fmx_rdv_on_cts(tp, src, id);
        break;
    default: /* a closing peer's flush marker */
        break;
    }
}

static void on_tx_done(struct ofi_tp *tp, struct ofi_op *op)
{
    op->next_free = tp->tx_free;
    tp->tx_free = op;
    if (op->kind == OP_FLUSH) {
        op->kind = OP_TX;
        tp->flush_busy--;
    } else {
        tp->tx_busy--;
    }
}

static void on_cq_error(struct ofi_tp *tp)
{
    struct fi_cq_err_entry err = {0};
    struct ofi_op *op;

    if (fi_cq_readerr(tp->cq, &err, 0) != 1 || !(op = err.op_context))
        return;
    switch (op->kind) {
    case OP_FLUSH: /* the peer has gone: it needed nothing more */
        on_tx_done(tp, op);
        break;
    case OP_TX:
        fmx_debug("ofi", "send to peer %u failed: %s", op->peer, fi_strerror(err.err));
        fmx_ofi_owe_peer_error(tp, op->peer);
        on_tx_done(tp, op);
        break;
    case OP_RX:
        if (err.err != FI_ECANCELED) {
            fmx_log(FMX_LOG_WARN, "ofi", "receive failed: %s", fi_strerror(err.err));
            fmx_ofi_post_recv(tp, op);
        }
        break;
    default:
        fmx_rdv_on_piece(tp, op, err.err ? err.err : FI_EIO);
        break;
    }
}

static int ofi_progress(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);
    struct fi_cq_tagged_entry ent[CQ_BATCH];
    int events = 0;
    ssize_t n;

    for (;;) {
        n = fi_cq_read(tp->cq, ent, CQ_BATCH);
        if (n == -FI_EAVAIL) {
            on_cq_error(tp);
            continue;
        }
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            struct ofi_op *op = ent[i].op_context;

            if (!op)
                continue; /* a completion we asked no context for */
            events++;
            if (op->kind == OP_TX || op->kind == OP_FLUSH) {
                on_tx_done(tp, op);
            } else if (op->kind == OP_RX) {
                on_chunk(tp, ent[i].tag, op->buf, ent[i].len);
                fmx_ofi_post_recv(tp, op);
            } else {
                fmx_rdv_on_piece(tp, op, 0);
            }
        }
    }
    if (n < 0 && n != -FI_EAGAIN)
        fmx_log(FMX_LOG_WARN, "ofi", "fi_cq_read: %s", fi_strerror((int)-n));
    fmx_rdv_push(tp);
    push_queue(tp);
    fmx_bell_ring_owed(tp);
    while (tp->nfailed) {
        uint32_t peer = tp->failed[--tp->nfailed];
        if (t->events.peer_error)
            t->events.peer_error(t->events_arg, peer, -ECONNRESET);
        events++;
    }
    return events;
}

static int ofi_wait_fd(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);

    return tp->wait_fd >= 0 ? tp->wait_fd : tp->bell.active ? tp->bell.fd : -1;
}

static int ofi_prepare_wait(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);
    struct fid *fids[1] = {&tp->cq->fid};

    if (tp->outq || tp->nfailed || fmx_rdv_push(tp))
        return -EAGAIN;
    if (tp->wait_fd >= 0)
        return fi_trywait(tp->fabric, fids, 1) == FI_SUCCESS ? 0 : -EAGAIN;
    if (!tp->bell.active)
        return 0;
    if (fmx_bell_drain(tp))
        return -EAGAIN; /* what rang may be in the queue already */
    /* the provider's own traffic for messages in flight (completions, pieces) rings nothing */
    return tp->tx_busy || tp->rdv_tx || tp->rdv_rx ? FMX_NAP_US : 0;
}

/* rxm and its kin connect on a peer's first message: a flush marker (which receivers ignore)
 * opens the connection before a fence needs it. */
static int ofi_connect(fmx_transport_t *t, uint32_t peer)
{
    struct ofi_tp *tp = tp_of(t);
    int rc;

    if (peer >= tp->npeers || peer == tp->self)
        return -EINVAL;
    rc = fmx_ofi_queue(tp, peer, CHUNK_FLUSH, 0, 0, NULL, 0);
    fmx_bell_ring_owed(tp);
    return rc;
}

static const char *ofi_describe_op(fmx_transport_t *t)
{
    return tp_of(t)->describe;
}

static int ofi_peer_addr(fmx_transport_t *t, uint32_t peer, char *buf, size_t len)
{
    struct ofi_tp *tp = tp_of(t);
    uint8_t raw[256];
    size_t rawlen = sizeof(raw), n = len;
    int rc;

    if (peer >= tp->npeers || !len)
        return -EINVAL;
    if ((rc = fi_av_lookup(tp->av, tp->peers[peer], raw, &rawlen)))
        return rc;
    fi_av_straddr(tp->av, raw, buf, &n);
    buf[len - 1] = '\0';
    return 0;
}

static void ofi_quiet(fmx_transport_t *t)
{
    tp_of(t)->quiet = 1;
}

static uint64_t ofi_rejected(fmx_transport_t *t)
{
    return tp_of(t)->rejected;
}

static size_t ofi_max_msg_size(fmx_transport_t *t)
{
    return tp_of(t)->max_piece;
}

/* Posts a FLUSH chunk to every peer that was sent something by fi_tinject; returns how many
 * peers still refused it (-FI_EAGAIN). */
static uint32_t post_flushes(struct ofi_tp *tp)
{
    uint32_t refused = 0;

    for (uint32_t peer = 0; peer < tp->npeers; peer++) {
        struct ofi_op *op = tp->tx_free;
        struct out_msg m = {.peer = peer, .kind = CHUNK_FLUSH};
        size_t n;
        ssize_t rc;

        if (!tp->injected[peer])
            continue;
        if (!op)
            return refused + 1;
        if (!(n = fmx_chunk_build(tp, op->buf, &m))) {
            tp->injected[peer] = 0;
            continue;
        }
        rc = fi_tsend(tp->ep, op->buf, n, tp->desc, tp->peers[peer], tp->self, op);
        if (rc == -FI_EAGAIN) {
            refused++;
            continue;
        }
        tp->injected[peer] = 0;
        if (rc == 0) {
            tp->tx_free = op->next_free;
            op->kind = OP_FLUSH;
            op->peer = peer;
            tp->flush_busy++;
        }
    }
    return refused;
}

/* Lets queued data leave before the endpoint goes away: up to FMX_OFI_LINGER_MS (2 s) for real
 * sends to complete, while they do: once nothing at all has happened for FMX_OFI_STALL_MS
 * (500 ms), the peers still owed something are gone or unreachable, and waiting longer only
 * delays the end. Chunks sent by fi_tinject have no completion, so each peer that got one is
 * then sent a FLUSH chunk by a completing send: providers send to one peer in order (a socket,
 * a reliable sequence, a queue), so its completion means the injected data went first. A peer
 * that has already exited refuses or never completes the flush; it needed nothing more, so
 * flushing gives up after FMX_OFI_FLUSH_MS too. */
static void drain(struct ofi_tp *tp)
{
    uint64_t now = fmx_now_ns(), moved = now;
    uint64_t linger = now + 1000000ull * fmx_env_u64("FMX_OFI_LINGER_MS", 2000);
    uint64_t flush_ms = fmx_env_u64("FMX_OFI_FLUSH_MS", 200);
    uint64_t stall_ns = 1000000ull * fmx_env_u64("FMX_OFI_STALL_MS", 500);

    while ((tp->outq || tp->tx_busy || tp->rdv_tx) && (now = fmx_now_ns()) < linger &&
           now - moved < stall_ns) {
        if (ofi_progress(&tp->base) > 0)
            moved = fmx_now_ns();
    }
    if (tp->outq || tp->tx_busy || tp->rdv_tx)
        fmx_log(FMX_LOG_WARN, "ofi", "closing with %s still in flight, %s",
                tp->rdv_tx ? "large messages" : "messages",
                fmx_now_ns() >= linger ? "the linger time (FMX_OFI_LINGER_MS) over"
                                       : "their peers unresponsive (FMX_OFI_STALL_MS)");
    uint64_t until = fmx_now_ns() + 1000000ull * flush_ms;
    while ((post_flushes(tp) || tp->flush_busy) && fmx_now_ns() < until)
        ofi_progress(&tp->base);
}

void fmx_ofi_close(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);
    struct out_msg *m;

    if (tp->ep && tp->peers && !tp->quiet)
        drain(tp);
    if (tp->rejected)
        fmx_log(FMX_LOG_WARN, "ofi", "dropped %llu messages in all that failed authentication",
                (unsigned long long)tp->rejected);
    if (tp->ep)
        fi_close(&tp->ep->fid);
    fmx_bell_close(tp);
    fmx_rdv_free_all(tp);
    if (tp->mr)
        fi_close(&tp->mr->fid);
    if (tp->av)
        fi_close(&tp->av->fid);
    if (tp->cq)
        fi_close(&tp->cq->fid);
    if (tp->domain)
        fi_close(&tp->domain->fid);
    if (tp->fabric)
        fi_close(&tp->fabric->fid);
    if (tp->info)
        fi_freeinfo(tp->info);
    while ((m = tp->outq)) {
        tp->outq = m->next;
        free(m->payload);
        free(m);
    }
    fmx_seal_destroy(tp->seal);
    fmx_wipe(tp->key, sizeof(tp->key));
    free(tp->warned);
    free(tp->failed);
    free(tp->injected);
    free(tp->peers);
    free(tp->ops);
    free(tp->region);
    free(tp);
}

const fmx_transport_ops_t fmx_ofi_ops = {
    .name = "ofi",
    .get_addr = ofi_get_addr,
    .add_peers = ofi_add_peers,
    .send = ofi_send,
    .sendv = ofi_sendv,
    .progress = ofi_progress,
    .wait_fd = ofi_wait_fd,
    .prepare_wait = ofi_prepare_wait,
    .connect = ofi_connect,
    .describe = ofi_describe_op,
    .peer_addr = ofi_peer_addr,
    .quiet = ofi_quiet,
    .set_key = fmx_chunk_set_key,
    .rejected = ofi_rejected,
    .max_msg_size = ofi_max_msg_size,
    .close = fmx_ofi_close,
};

const char *fmx_ofi_describe(fmx_transport_t *t)
{
    return tp_of(t)->describe;
}
