/* libfabric transport: one FI_EP_RDM endpoint with tagged messages. Messages are cut into
 * chunks no larger than the provider's max_msg_size (and FMX_OFI_CHUNK), copied through a
 * registered bounce region (so FI_MR_LOCAL and FI_MR_ENDPOINT providers work), and reassembled
 * by (source, message id) on arrival. A fixed set of receives is reposted as soon as each chunk
 * is copied out, so the provider never queues unexpected messages for long. */
#include "ofi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ofi_tp *tp_of(fmx_transport_t *t)
{
    return (struct ofi_tp *)t;
}

static void owe_peer_error(struct ofi_tp *tp, uint32_t peer)
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
        rc = fi_trecv(tp->ep, op->buf, tp->chunk, tp->desc, FI_ADDR_UNSPEC, 0, TAG_MASK, op);
        if (rc == -FI_EAGAIN)
            fi_cq_read(tp->cq, NULL, 0);
    } while (rc == -FI_EAGAIN);
    if (rc)
        fmx_log(FMX_LOG_ERROR, "ofi", "fi_trecv: %s", fi_strerror((int)-rc));
    return (int)rc;
}

static int ofi_get_addr(fmx_transport_t *t, void *buf, size_t *len)
{
    int rc = fi_getname(&tp_of(t)->ep->fid, buf, len);

    return rc == -FI_ETOOSMALL ? -ENOBUFS : rc;
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
    tp->peers = calloc(count, sizeof(*tp->peers));
    tp->injected = calloc(count, 1);
    if (!tp->peers || !tp->injected)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        if (fi_av_insert(tp->av, addrs[i], 1, &tp->peers[i], 0, NULL) != 1) {
            fmx_log(FMX_LOG_ERROR, "ofi",
                    "peer %u: its address does not insert into the %s "
                    "address vector",
                    i, tp->describe);
            return -EINVAL;
        }
        if (!found && lens[i] == ownlen && memcmp(addrs[i], own, ownlen) == 0) {
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
    return 0;
}

/* Chunks within the inject size go out by fi_tinject, which gives no completion; the peer is
 * remembered so that closing can flush it (see drain()). */
static ssize_t send_chunk(struct ofi_tp *tp, struct ofi_op *op, uint32_t peer, size_t len,
                          int *injected)
{
    *injected = len <= tp->inject;
    if (*injected) {
        tp->injected[peer] = 1;
        return fi_tinject(tp->ep, op->buf, len, tp->peers[peer], tp->self);
    }
    return fi_tsend(tp->ep, op->buf, len, tp->desc, tp->peers[peer], tp->self, op);
}

/* Sends chunks from the queue while bounce buffers and the provider allow. */
static void push_queue(struct ofi_tp *tp)
{
    struct out_msg *m;

    while ((m = tp->outq) && tp->tx_free) {
        struct ofi_op *op = tp->tx_free;
        size_t n = m->len - m->off;
        int injected;
        ssize_t rc;
        uint8_t *h = op->buf;

        if (n > tp->chunk - CHUNK_HEADER)
            n = tp->chunk - CHUNK_HEADER;
        memcpy(h, &tp->self, 4);
        memcpy(h + 4, &m->id, 4);
        memcpy(h + 8, &(uint64_t){m->len}, 8);
        memcpy(h + 16, &(uint64_t){m->off}, 8);
        memcpy(h + CHUNK_HEADER, m->buf + m->off, n);
        rc = send_chunk(tp, op, m->peer, CHUNK_HEADER + n, &injected);
        if (rc == -FI_EAGAIN)
            return; /* the provider is backed up: retry after reading completions */
        if (rc) {
            fmx_log(FMX_LOG_WARN, "ofi", "send to peer %u failed: %s", m->peer,
                    fi_strerror((int)-rc));
            owe_peer_error(tp, m->peer);
            m->off = m->len;
        } else {
            m->off += n;
            if (!injected) {
                tp->tx_free = op->next_free;
                op->peer = m->peer;
                tp->tx_busy++;
            }
        }
        if (m->off == m->len) {
            tp->outq = m->next;
            if (!tp->outq)
                tp->outq_tail = NULL;
            free(m->buf);
            free(m);
        }
    }
}

static int ofi_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    struct ofi_tp *tp = tp_of(t);
    struct out_msg *m;

    if (peer >= tp->npeers || len == 0) {
        free(buf);
        return -EINVAL;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        free(buf);
        return -ENOMEM;
    }
    m->peer = peer;
    m->id = tp->next_id++;
    m->buf = buf;
    m->len = len;
    if (tp->outq_tail)
        tp->outq_tail->next = m;
    else
        tp->outq = m;
    tp->outq_tail = m;
    push_queue(tp);
    return 0;
}

/* Validates one arrived chunk and delivers the message it completes, if any. */
static void on_chunk(struct ofi_tp *tp, uint64_t tag, const uint8_t *c, size_t len)
{
    uint32_t src, id;
    uint64_t total, off;
    struct reasm *r, **pp;

    if (len < CHUNK_HEADER) {
        fmx_log(FMX_LOG_WARN, "ofi",
                "dropped a %zu-byte chunk from peer %llu: shorter than "
                "its header",
                len, (unsigned long long)(tag & TAG_MASK));
        return;
    }
    memcpy(&src, c, 4);
    memcpy(&id, c + 4, 4);
    memcpy(&total, c + 8, 8);
    memcpy(&off, c + 16, 8);
    len -= CHUNK_HEADER;
    c += CHUNK_HEADER;
    if (total == 0 && len == 0)
        return; /* a closing peer's flush marker */
    if (src >= tp->npeers || src != (tag & TAG_MASK) || total == 0 || off > total ||
        len > total - off || total > (uint64_t)UINT32_MAX + 64) {
        fmx_log(FMX_LOG_WARN, "ofi",
                "dropped a malformed chunk from peer %u (tag %llu, "
                "offset %llu of %llu)",
                src, (unsigned long long)tag, (unsigned long long)off, (unsigned long long)total);
        return;
    }
    if (off == 0 && len == total) { /* the common case: one chunk, no copy */
        if (tp->base.events.recv)
            tp->base.events.recv(tp->base.events_arg, src, c, len);
        return;
    }
    for (pp = &tp->reasm; (r = *pp); pp = &r->next)
        if (r->peer == src && r->id == id)
            break;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r || !(r->buf = malloc(total))) {
            fmx_log(FMX_LOG_ERROR, "ofi", "out of memory for a %llu-byte message from peer %u",
                    (unsigned long long)total, src);
            free(r);
            return;
        }
        r->peer = src;
        r->id = id;
        r->total = total;
        r->next = tp->reasm;
        tp->reasm = r;
        pp = &tp->reasm;
    }
    if (r->total != total || r->got + len > total) {
        fmx_log(FMX_LOG_WARN, "ofi", "dropped an inconsistent chunk of message %u from peer %u", id,
                src);
        return;
    }
    memcpy(r->buf + off, c, len);
    r->got += len;
    if (r->got < r->total)
        return;
    *pp = r->next;
    if (tp->base.events.recv)
        tp->base.events.recv(tp->base.events_arg, src, r->buf, r->total);
    free(r->buf);
    free(r);
}

static void on_cq_error(struct ofi_tp *tp)
{
    struct fi_cq_err_entry err = {0};
    struct ofi_op *op;

    if (fi_cq_readerr(tp->cq, &err, 0) != 1)
        return;
    op = err.op_context;
    if (!op)
        return;
    if (op->kind == OP_TX) {
        fmx_log(FMX_LOG_WARN, "ofi", "send to peer %u failed: %s", op->peer, fi_strerror(err.err));
        owe_peer_error(tp, op->peer);
        op->next_free = tp->tx_free;
        tp->tx_free = op;
        tp->tx_busy--;
    } else if (err.err != FI_ECANCELED) {
        fmx_log(FMX_LOG_WARN, "ofi", "receive failed: %s", fi_strerror(err.err));
        fmx_ofi_post_recv(tp, op);
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
            if (op->kind == OP_TX) {
                op->next_free = tp->tx_free;
                tp->tx_free = op;
                tp->tx_busy--;
                continue;
            }
            on_chunk(tp, ent[i].tag, op->buf, ent[i].len);
            fmx_ofi_post_recv(tp, op);
            events++;
        }
    }
    if (n < 0 && n != -FI_EAGAIN)
        fmx_log(FMX_LOG_WARN, "ofi", "fi_cq_read: %s", fi_strerror((int)-n));
    push_queue(tp);
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
    return tp_of(t)->wait_fd;
}

static int ofi_prepare_wait(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);
    struct fid *fids[1] = {&tp->cq->fid};

    if (tp->outq || tp->nfailed)
        return -EAGAIN;
    if (tp->wait_fd < 0)
        return 0;
    return fi_trywait(tp->fabric, fids, 1) == FI_SUCCESS ? 0 : -EAGAIN;
}

static size_t ofi_max_msg_size(fmx_transport_t *t)
{
    return tp_of(t)->chunk - CHUNK_HEADER;
}

/* Gives queued sends up to FMX_OFI_LINGER_MS to leave before the endpoint goes away. Injected
 * chunks have no completion to wait for, so each peer that got one is sent a header-only flush
 * chunk by a completing send: providers send to one peer in order (a socket, a reliable
 * sequence, a queue), so its completion means the injected data went before it. */
static void drain(struct ofi_tp *tp)
{
    uint64_t until = fmx_now_ns() + 1000000ull * fmx_env_u64("FMX_OFI_LINGER_MS", 2000);
    uint32_t peer = 0;

    while (fmx_now_ns() < until) {
        while (!tp->outq && tp->tx_free && peer < tp->npeers) {
            struct ofi_op *op = tp->tx_free;
            uint64_t zero = 0;
            ssize_t rc;

            if (!tp->injected[peer]) {
                peer++;
                continue;
            }
            memcpy(op->buf, &tp->self, 4);
            memcpy(op->buf + 4, &zero, 4);
            memcpy(op->buf + 8, &zero, 8);
            memcpy(op->buf + 16, &zero, 8);
            rc = fi_tsend(tp->ep, op->buf, CHUNK_HEADER, tp->desc, tp->peers[peer], tp->self, op);
            if (rc == -FI_EAGAIN)
                break;
            if (rc == 0) {
                tp->tx_free = op->next_free;
                op->peer = peer;
                tp->tx_busy++;
            }
            tp->injected[peer++] = 0;
        }
        if (!tp->outq && !tp->tx_busy && peer >= tp->npeers)
            return;
        ofi_progress(&tp->base);
    }
    fmx_log(FMX_LOG_WARN, "ofi", "closing with sends still in flight after the linger time");
}

void fmx_ofi_close(fmx_transport_t *t)
{
    struct ofi_tp *tp = tp_of(t);
    struct out_msg *m;
    struct reasm *r;

    if (tp->ep && tp->peers)
        drain(tp);
    if (tp->ep)
        fi_close(&tp->ep->fid);
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
        free(m->buf);
        free(m);
    }
    while ((r = tp->reasm)) {
        tp->reasm = r->next;
        free(r->buf);
        free(r);
    }
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
    .progress = ofi_progress,
    .wait_fd = ofi_wait_fd,
    .prepare_wait = ofi_prepare_wait,
    .max_msg_size = ofi_max_msg_size,
    .close = fmx_ofi_close,
};

const char *fmx_ofi_describe(fmx_transport_t *t)
{
    return tp_of(t)->describe;
}
