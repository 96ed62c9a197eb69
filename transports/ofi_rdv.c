/* Large messages by rendezvous: the sender announces (RTS) and waits; the receiver allocates
 * the exact buffer, registers it where the provider needs that, posts one tagged receive per
 * piece of at most max_msg_size, and only then answers (CTS); the sender then sends straight
 * from the caller's buffer, or from the caller's segments by a gathered send (fi_tsendv, up to
 * the provider's iov limit per piece; a piece of more segments is copied first). Data above
 * the eager size thus never arrives unexpected, which some providers cannot buffer (libfabric
 * 1.17's shm hangs on unexpected messages above its inject size), and nothing is copied on the
 * way. */
#include "ofi_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

static uint64_t piece_tag(uint32_t src, uint32_t id)
{
    return RDV_TAG_BIT | ((uint64_t)(id & 0x3fffffffu) << 32) | src;
}

static int make_pieces(struct ofi_tp *tp, struct rdv *r, enum op_kind kind)
{
    r->npieces = r->len / tp->max_piece + (r->len % tp->max_piece != 0);
    r->pieces = calloc(r->npieces, sizeof(*r->pieces));
    if (!r->pieces)
        return -ENOMEM;
    for (size_t i = 0; i < r->npieces; i++) {
        r->pieces[i].kind = kind;
        r->pieces[i].peer = r->peer;
        r->pieces[i].rdv = r;
        r->pieces[i].buf = r->buf ? r->buf + i * tp->max_piece : NULL;
    }
    if (tp->local_mr && r->buf) {
        int rc = fi_mr_reg(tp->domain, r->buf, r->len, kind == OP_RDV_TX ? FI_SEND : FI_RECV, 0, 0,
                           0, &r->mr, NULL);
        if (rc)
            return rc;
        if (tp->info->domain_attr->mr_mode & FI_MR_ENDPOINT) {
            if ((rc = fi_mr_bind(r->mr, &tp->ep->fid, 0)) || (rc = fi_mr_enable(r->mr)))
                return rc;
        }
        r->desc = fi_mr_desc(r->mr);
    }
    return 0;
}

static void rdv_free(struct rdv *r)
{
    if (r->mr)
        fi_close(&r->mr->fid);
    for (size_t i = 0; r->pieces && i < r->npieces; i++)
        free(r->pieces[i].stage);
    free(r->pieces);
    free(r->buf);
    free(r->segs);
    if (r->on_sent)
        r->on_sent(r->on_sent_arg);
    free(r);
}

/* On a keyed endpoint, the RTS's payload: the data's bulk number and tag, made before any of
 * it leaves (a gathered message's segments stay untouched until sent). */
static int seal_data(struct ofi_tp *tp, struct rdv *r, uint8_t **payload)
{
    fmx_seg_t whole = {r->buf, r->len};

    *payload = NULL;
    if (!tp->seal)
        return 0;
    r->bulk_q = fmx_seal_next(tp->seal, r->peer, 1);
    if (fmx_seal_sign(tp->seal, r->peer, r->bulk_q, r->segs ? r->segs : &whole,
                      r->segs ? r->nsegs : 1, r->bulk_tag) ||
        !(*payload = malloc(RTS_SEAL)))
        return -ENOMEM;
    memcpy(*payload, &r->bulk_q, 8);
    memcpy(*payload + 8, r->bulk_tag, FMX_SEAL_TAG);
    return 0;
}

static int start_send(struct ofi_tp *tp, struct rdv *r)
{
    uint8_t *seal;
    int rc;

    r->id = tp->next_id++;
    if ((rc = make_pieces(tp, r, OP_RDV_TX)) || (rc = seal_data(tp, r, &seal))) {
        fmx_log(FMX_LOG_ERROR, "ofi", "%s a %zu-byte message for peer %u: %s",
                r->pieces ? "sealing" : "registering", r->len, r->peer,
                rc == -ENOMEM ? "out of memory or libcrypto failed" : fi_strerror(-rc));
        rdv_free(r);
        return rc;
    }
    r->ready = tp->no_cts; /* else set by the CTS */
    r->next = tp->rdv_tx;
    tp->rdv_tx = r;
    return fmx_ofi_queue(tp, r->peer, CHUNK_RTS, r->id, r->len, seal, seal ? RTS_SEAL : 0);
}

int fmx_rdv_send(struct ofi_tp *tp, uint32_t peer, uint8_t *buf, size_t len)
{
    struct rdv *r = calloc(1, sizeof(*r));

    if (!r) {
        free(buf);
        return -ENOMEM;
    }
    r->peer = peer;
    r->buf = buf;
    r->len = len;
    return start_send(tp, r);
}

int fmx_rdv_sendv(struct ofi_tp *tp, uint32_t peer, const fmx_seg_t *segs, size_t n, size_t len,
                  fmx_send_done_f done, void *arg)
{
    struct rdv *r = calloc(1, sizeof(*r));

    if (r)
        r->segs = malloc(n * sizeof(*segs));
    if (!r || !r->segs) {
        free(r);
        done(arg);
        return -ENOMEM;
    }
    memcpy(r->segs, segs, n * sizeof(*segs));
    r->nsegs = n;
    r->on_sent = done;
    r->on_sent_arg = arg;
    r->peer = peer;
    r->len = len;
    return start_send(tp, r);
}

/* The segments covering [off, off + n) of a gathered message: their count, or more than max
 * when they do not fit in iov[max]. */
static size_t piece_iov(const struct rdv *r, size_t off, size_t n, struct iovec *iov, size_t max)
{
    size_t k = 0, pos = 0;

    for (size_t s = 0; s < r->nsegs && n; pos += r->segs[s].len, s++) {
        size_t from, take;

        if (off >= pos + r->segs[s].len)
            continue;
        if (k == max)
            return max + 1;
        from = off - pos;
        take = r->segs[s].len - from < n ? r->segs[s].len - from : n;
        iov[k].iov_base = (uint8_t *)r->segs[s].base + from;
        iov[k++].iov_len = take;
        off += take;
        n -= take;
    }
    return k;
}

/* Posts one piece of a gathered message. */
static ssize_t send_gathered(struct ofi_tp *tp, struct rdv *r, struct ofi_op *op, size_t off,
                             size_t n, uint64_t tag)
{
    struct iovec iov[OFI_IOV_MAX];
    size_t k = piece_iov(r, off, n, iov, tp->iov_limit);

    if (k <= tp->iov_limit)
        return fi_tsendv(tp->ep, iov, NULL, k, tp->peers[r->peer], tag, op);
    if (!op->stage) {
        if (!(op->stage = malloc(n)))
            return -FI_ENOMEM;
        fmx_segs_copy(r->segs, r->nsegs, off, n, op->stage);
    }
    return fi_tsend(tp->ep, op->stage, n, NULL, tp->peers[r->peer], tag, op);
}

void fmx_rdv_on_rts(struct ofi_tp *tp, uint32_t src, uint32_t id, uint64_t len, const uint8_t *seal)
{
    struct rdv *r = calloc(1, sizeof(*r));

    if (r && (r->buf = malloc(len))) {
        r->peer = src;
        r->id = id;
        r->len = len;
        if (seal) {
            memcpy(&r->bulk_q, seal, 8);
            memcpy(r->bulk_tag, seal + 8, FMX_SEAL_TAG);
        }
        if (make_pieces(tp, r, OP_RDV_RX) == 0) {
            r->ready = 1; /* receives are posted by the next fmx_rdv_push() */
            r->next = tp->rdv_rx;
            tp->rdv_rx = r;
            return;
        }
    }
    fmx_log(FMX_LOG_ERROR, "ofi", "no memory to receive a %llu-byte message from peer %u",
            (unsigned long long)len, src);
    if (r)
        rdv_free(r);
    fmx_ofi_owe_peer_error(tp, src);
}

void fmx_rdv_on_cts(struct ofi_tp *tp, uint32_t src, uint32_t id)
{
    for (struct rdv *r = tp->rdv_tx; r; r = r->next) {
        if (r->peer == src && r->id == id && !r->ready) {
            r->ready = 1;
            return;
        }
    }
    fmx_log(FMX_LOG_WARN, "ofi", "peer %u cleared message %u, which was never announced", src, id);
}

/* Posts the pieces of one message; returns 1 when the provider asked to retry later. */
static int post_pieces(struct ofi_tp *tp, struct rdv *r, int tx)
{
    while (r->posted < r->npieces) {
        struct ofi_op *op = &r->pieces[r->posted];
        size_t off = r->posted * tp->max_piece;
        size_t n = r->len - off < tp->max_piece ? r->len - off : tp->max_piece;
        ssize_t rc;

        if (tx && r->segs)
            rc = send_gathered(tp, r, op, off, n, piece_tag(tp->self, r->id));
        else if (tx)
            rc = fi_tsend(tp->ep, op->buf, n, r->desc, tp->peers[r->peer],
                          piece_tag(tp->self, r->id), op);
        else
            rc = fi_trecv(tp->ep, op->buf, n, r->desc, FI_ADDR_UNSPEC, piece_tag(r->peer, r->id), 0,
                          op);
        if (rc == -FI_EAGAIN)
            return 1;
        if (rc) {
            fmx_log(FMX_LOG_WARN, "ofi", "%s message %u %s peer %u: %s",
                    tx ? "sending" : "receiving", r->id, tx ? "to" : "from", r->peer,
                    fi_strerror((int)-rc));
            fmx_ofi_owe_peer_error(tp, r->peer);
            r->failed = 1;
            r->done += r->npieces - r->posted; /* those will never complete */
            r->posted = r->npieces;
            return 0;
        }
        r->posted++;
    }
    /* all receives are posted: the sender may go */
    if (!tx && r->ready == 1) {
        r->ready = 2;
        if (!tp->no_cts)
            fmx_ofi_queue(tp, r->peer, CHUNK_CTS, r->id, 0, NULL, 0);
    }
    return 0;
}

/* Frees a message once every piece handed to the provider has completed. */
static int settle(struct ofi_tp *tp, struct rdv **pp, int tx)
{
    struct rdv *r = *pp;

    if (r->done < r->npieces)
        return 0;
    *pp = r->next;
    if (!tx && !r->failed && tp->seal) {
        int rc = fmx_seal_verify(tp->seal, r->peer, r->bulk_q, &(fmx_seg_t){r->buf, r->len}, 1,
                                 r->bulk_tag);

        if (rc) { /* a stranger's piece took the place of the peer's: the message is lost */
            fmx_chunk_reject(tp, r->peer, "a large message", rc);
            fmx_ofi_owe_peer_error(tp, r->peer);
            r->failed = 1;
        }
    }
    if (!tx && !r->failed && tp->base.events.recv_owned) {
        uint8_t *buf = r->buf;

        if (r->mr) /* the receiver may free the buffer at once */
            fi_close(&r->mr->fid);
        r->mr = NULL;
        r->buf = NULL;
        tp->base.events.recv_owned(tp->base.events_arg, r->peer, buf, r->len);
    } else if (!tx && !r->failed && tp->base.events.recv) {
        tp->base.events.recv(tp->base.events_arg, r->peer, r->buf, r->len);
    }
    rdv_free(r);
    return 1;
}

int fmx_rdv_push(struct ofi_tp *tp)
{
    int waiting = 0;

    for (int tx = 0; tx < 2; tx++) {
        struct rdv **pp = tx ? &tp->rdv_tx : &tp->rdv_rx;

        while (*pp) {
            if ((*pp)->ready)
                waiting |= post_pieces(tp, *pp, tx);
            if (!settle(tp, pp, tx))
                pp = &(*pp)->next;
        }
    }
    return waiting;
}

void fmx_rdv_on_piece(struct ofi_tp *tp, struct ofi_op *op, int err)
{
    struct rdv *r = op->rdv;
    int tx = op->kind == OP_RDV_TX;
    struct rdv **pp = tx ? &tp->rdv_tx : &tp->rdv_rx;

    if (err) {
        fmx_log(FMX_LOG_WARN, "ofi", "message %u %s peer %u failed: %s", r->id, tx ? "to" : "from",
                r->peer, fi_strerror(err));
        fmx_ofi_owe_peer_error(tp, r->peer);
        r->failed = 1;
    }
    r->done++;
    while (*pp != r)
        pp = &(*pp)->next;
    settle(tp, pp, tx);
}

void fmx_rdv_free_all(struct ofi_tp *tp)
{
    struct rdv *r;

    while ((r = tp->rdv_tx)) {
        tp->rdv_tx = r->next;
        rdv_free(r);
    }
    while ((r = tp->rdv_rx)) {
        tp->rdv_rx = r->next;
        rdv_free(r);
    }
}
