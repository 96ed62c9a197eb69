/* The eager chunk's format and, on a keyed endpoint, its authentication (fmx_seal.h): a chunk is
 * sealed as it is written into its bounce buffer and checked before anything in it is believed,
 * so that a stranger's chunk can start nothing (no rendezvous buffer, no reply) and reaches no
 * one above the transport. */
#include "ofi_internal.h"

#include "fmx_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fmx_chunk_build(struct ofi_tp *tp, uint8_t *buf, struct out_msg *m)
{
    size_t n = CHUNK_HEADER + m->plen;

    memset(buf, 0, CHUNK_HEADER);
    memcpy(buf, &tp->self, 4);
    buf[4] = m->kind;
    memcpy(buf + 8, &m->id, 4);
    memcpy(buf + 16, &m->length, 8);
    if (m->plen)
        memcpy(buf + CHUNK_HEADER, m->payload, m->plen);
    if (!tp->seal)
        return n;
    if (!m->q) /* kept for a retry: the same bytes under the same number give the same tag */
        m->q = fmx_seal_next(tp->seal, m->peer, 0);
    memcpy(buf + 24, &m->q, 8);
    if (fmx_seal_sign(tp->seal, m->peer, m->q, &(fmx_seg_t){buf, n}, 1, buf + n))
        return 0;
    return n + FMX_SEAL_TAG;
}

void fmx_chunk_reject(struct ofi_tp *tp, uint32_t peer, const char *what, int rc)
{
    char addr[128] = "an unknown address";

    tp->rejected++;
    if (peer < tp->npeers && tp->warned[peer])
        return;
    if (peer < tp->npeers) {
        tp->warned[peer] = 1;
        if (tp->base.ops->peer_addr(&tp->base, peer, addr, sizeof(addr)))
            snprintf(addr, sizeof(addr), "an address not in the address vector");
    }
    fmx_log(FMX_LOG_WARN, "ofi",
            "dropped %s that claims to come from peer %u (whose address is %s): %s; a stranger "
            "or a daemon of another job is sending to this endpoint (further ones are only "
            "counted)",
            what, peer, addr,
            rc == -EBADMSG        ? "it does not carry the job's MAC"
                : rc == -EALREADY ? "it replays an earlier one"
                : rc == -EPROTO   ? "it carries no MAC"
                                  : "it does not name a valid sequence number");
}

int fmx_chunk_check(struct ofi_tp *tp, uint64_t tag, const uint8_t *c, size_t len, uint32_t *src,
                    uint8_t *kind, uint32_t *id, uint64_t *length, const uint8_t **payload,
                    size_t *plen)
{
    uint64_t q;
    int rc;

    if (len < CHUNK_HEADER + tp->trailer) {
        fmx_chunk_reject(tp, (uint32_t)(tag & EAGER_IGNORE),
                         "a chunk shorter than its header and tag", -EPROTO);
        return -EPROTO;
    }
    memcpy(src, c, 4);
    memcpy(id, c + 8, 4);
    memcpy(length, c + 16, 8);
    memcpy(&q, c + 24, 8);
    *kind = c[4];
    *payload = c + CHUNK_HEADER;
    *plen = len - CHUNK_HEADER - tp->trailer;
    if (*src >= tp->npeers || *src != (tag & EAGER_IGNORE)) {
        fmx_chunk_reject(tp, (uint32_t)(tag & EAGER_IGNORE), "a chunk with a wrong sender",
                         -EINVAL);
        return -EPROTO;
    }
    if (tp->seal) {
        rc = fmx_seal_verify(tp->seal, *src, q, &(fmx_seg_t){c, len - FMX_SEAL_TAG}, 1,
                             c + len - FMX_SEAL_TAG);
        if (rc) {
            fmx_chunk_reject(tp, *src, "a message", rc);
            return rc;
        }
    }
    /* from here on the chunk is the peer's own: what is wrong in it is a bug, not an attack */
    if ((*kind == CHUNK_DATA && *length != *plen) || *kind > CHUNK_FLUSH ||
        (*kind == CHUNK_RTS &&
         (*length > (uint64_t)UINT32_MAX + 64 || *plen != (tp->seal ? RTS_SEAL : 0u))) ||
        (*kind != CHUNK_DATA && *kind != CHUNK_RTS && *plen)) {
        fmx_log(FMX_LOG_WARN, "ofi",
                "dropped a malformed %zu-byte chunk from peer %u (tag %llu, kind %u, length %llu)",
                len, *src, (unsigned long long)tag, *kind, (unsigned long long)*length);
        return -EPROTO;
    }
    return 0;
}

int fmx_chunk_seal_ready(struct ofi_tp *tp)
{
    int rc;

    if (!tp->keyed || !tp->peers || tp->seal)
        return 0;
    if (!(tp->warned = calloc(tp->npeers, 1)) ||
        (rc = fmx_seal_create(tp->key, tp->self, tp->npeers, &tp->seal))) {
        fmx_log(FMX_LOG_ERROR, "ofi", "cannot set up message authentication (libcrypto)");
        return -ENOMEM;
    }
    fmx_wipe(tp->key, sizeof(tp->key));
    return 0;
}

int fmx_chunk_set_key(fmx_transport_t *t, const uint8_t *key, size_t len)
{
    struct ofi_tp *tp = (struct ofi_tp *)t;

    if (len != FMX_SEAL_KEY || tp->keyed)
        return -EINVAL;
    if (tp->eager < CHUNK_HEADER + RTS_SEAL + FMX_SEAL_TAG + 64)
        return -ENOBUFS; /* cannot happen: the eager size is at least 4 KiB */
    memcpy(tp->key, key, FMX_SEAL_KEY);
    tp->keyed = 1;
    tp->trailer = FMX_SEAL_TAG;
    return fmx_chunk_seal_ready(tp);
}
