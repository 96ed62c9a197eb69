/* Choosing a libfabric provider and opening an RDM endpoint on it. Capabilities are asked for
 * in hints and what fi_getinfo returns is honoured: memory registration modes, context size,
 * inject size, max message size, queue sizes. Provider names are never compared. */
#include "ofi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The mr_mode bits this transport handles: it registers its bounce buffers (LOCAL), binds them
 * to the endpoint (ENDPOINT), allocates them itself (ALLOCATED), and, doing no RMA, has no use
 * for keys or remote addresses (PROV_KEY, VIRT_ADDR). */
#define MR_HANDLED                                                                                 \
    (FI_MR_LOCAL | FI_MR_ENDPOINT | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_VIRT_ADDR)

static int fail(fmx_error_t *err, struct ofi_tp *tp, const char *what, int rc)
{
    fmx_errprintf(err, "libfabric %s%s%s: %s", what, tp->info ? " on " : "",
                  tp->info ? tp->info->fabric_attr->prov_name : "", fi_strerror(-rc));
    fmx_ofi_close(&tp->base);
    return rc < 0 ? rc : -EIO;
}

static struct fi_info *make_hints(const char *provider)
{
    struct fi_info *hints = fi_allocinfo();

    if (!hints)
        return NULL;
    hints->ep_attr->type = FI_EP_RDM;
    hints->caps = FI_TAGGED | FI_SEND | FI_RECV;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    hints->domain_attr->mr_mode = MR_HANDLED;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->tx_attr->msg_order = FI_ORDER_NONE;
    hints->rx_attr->msg_order = FI_ORDER_NONE;
    if (provider && *provider)
        hints->fabric_attr->prov_name = strdup(provider);
    return hints;
}

static int choose(struct ofi_tp *tp, const char *provider, fmx_error_t *err)
{
    struct fi_info *hints = make_hints(provider);
    int rc;

    if (!hints)
        return fail(err, tp, "fi_allocinfo", -ENOMEM);
    rc = fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, hints, &tp->info);
    fi_freeinfo(hints);
    if (rc || !tp->info) {
        const char *want = provider && *provider ? provider : getenv("FI_PROVIDER");
        fmx_errprintf(
            err,
            "no libfabric provider%s%s offers reliable datagram endpoints with "
            "tagged messages (fi_getinfo: %s); `fi_info -t FI_EP_RDM` lists those present",
            want ? " named " : "", want ? want : "", fi_strerror(-rc));
        fmx_ofi_close(&tp->base);
        return rc ? rc : -ENODATA; /* FI_ENODATA is ENODATA: nothing matched */
    }
    return 0;
}

/* Eager size: the provider's inject size, at least 4 KiB (FMX_OFI_EAGER overrides): within it
 * providers copy a message at once, so one that arrives before a receive is posted is safe.
 * Rendezvous pieces: the provider's max_msg_size, or less with FMX_OFI_MAX_MSG. */
static void size_buffers(struct ofi_tp *tp)
{
    const struct fi_info *i = tp->info;
    uint64_t eager = fmx_env_u64("FMX_OFI_EAGER", 0);
    uint64_t depth = fmx_env_u64("FMX_OFI_DEPTH", 64);
    uint64_t piece = fmx_env_u64("FMX_OFI_MAX_MSG", UINT64_MAX);

    tp->inject = i->tx_attr->inject_size;
    if (tp->inject > fmx_env_u64("FMX_OFI_INJECT", SIZE_MAX))
        tp->inject = (size_t)fmx_env_u64("FMX_OFI_INJECT", SIZE_MAX);
    if (!eager)
        eager = tp->inject > 4096 ? tp->inject : 4096;
    if (eager > i->ep_attr->max_msg_size)
        eager = i->ep_attr->max_msg_size;
    if (eager < CHUNK_HEADER + RTS_SEAL + FMX_SEAL_TAG + 64) /* a keyed RTS fits, and more */
        eager = CHUNK_HEADER + RTS_SEAL + FMX_SEAL_TAG + 64;
    tp->eager = (size_t)eager;
    tp->max_piece = (size_t)(piece < i->ep_attr->max_msg_size ? piece : i->ep_attr->max_msg_size);
    if (tp->max_piece < 64)
        tp->max_piece = 64;
    tp->iov_limit = i->tx_attr->iov_limit < OFI_IOV_MAX ? i->tx_attr->iov_limit : OFI_IOV_MAX;
    if (tp->iov_limit == 0)
        tp->iov_limit = 1;
    tp->nrx = (size_t)(depth < i->rx_attr->size || !i->rx_attr->size ? depth : i->rx_attr->size);
    tp->ntx = (size_t)(depth < i->tx_attr->size || !i->tx_attr->size ? depth : i->tx_attr->size);
    if (tp->nrx == 0)
        tp->nrx = 1;
    if (tp->ntx == 0)
        tp->ntx = 1;
}

static int open_cq(struct ofi_tp *tp)
{
    struct fi_cq_attr attr = {
        .format = FI_CQ_FORMAT_TAGGED, .size = tp->nrx + tp->ntx, .wait_obj = FI_WAIT_FD};
    int rc = fi_cq_open(tp->domain, &attr, &tp->cq, NULL);

    tp->wait_fd = -1;
    if (rc == 0 && fi_control(&tp->cq->fid, FI_GETWAIT, &tp->wait_fd) == 0)
        return 0;
    if (rc == 0)
        fi_close(&tp->cq->fid);
    /* no fd to sleep on: callers fall back to short naps */
    tp->wait_fd = -1;
    attr.wait_obj = FI_WAIT_NONE;
    return fi_cq_open(tp->domain, &attr, &tp->cq, NULL);
}

static int register_region(struct ofi_tp *tp)
{
    uint64_t mode = tp->info->domain_attr->mr_mode;
    size_t size = (tp->nrx + tp->ntx) * tp->eager;
    int rc;

    tp->region = calloc(1, size);
    if (!tp->region)
        return -ENOMEM;
    tp->local_mr = (mode & FI_MR_LOCAL) != 0;
    if (!tp->local_mr)
        return 0;
    rc = fi_mr_reg(tp->domain, tp->region, size, FI_SEND | FI_RECV, 0, 0, 0, &tp->mr, NULL);
    if (rc)
        return rc;
    if (mode & FI_MR_ENDPOINT) {
        if ((rc = fi_mr_bind(tp->mr, &tp->ep->fid, 0)) || (rc = fi_mr_enable(tp->mr)))
            return rc;
    }
    tp->desc = fi_mr_desc(tp->mr);
    return 0;
}

static int post_all(struct ofi_tp *tp)
{
    tp->ops = calloc(tp->nrx + tp->ntx, sizeof(*tp->ops));
    if (!tp->ops)
        return -ENOMEM;
    for (size_t i = 0; i < tp->nrx + tp->ntx; i++) {
        struct ofi_op *op = &tp->ops[i];

        op->buf = tp->region + i * tp->eager;
        if (i < tp->nrx) {
            op->kind = OP_RX;
            int rc = fmx_ofi_post_recv(tp, op);
            if (rc)
                return rc;
        } else {
            op->kind = OP_TX;
            op->next_free = tp->tx_free;
            tp->tx_free = op;
        }
    }
    return 0;
}

void fmx_ofi_warm(void)
{
    struct fi_info *hints = make_hints(NULL), *info = NULL;

    if (hints && fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, hints, &info) == 0)
        fi_freeinfo(info);
    fi_freeinfo(hints);
}

int fmx_ofi_open(const char *provider, fmx_transport_t **out, fmx_error_t *err)
{
    struct ofi_tp *tp = calloc(1, sizeof(*tp));
    struct fi_av_attr av_attr = {.type = FI_AV_UNSPEC};
    int rc;

    if (!tp) {
        fmx_errprintf(err, "out of memory opening a libfabric endpoint");
        return -ENOMEM;
    }
    tp->base.ops = &fmx_ofi_ops;
    tp->wait_fd = -1;
    tp->bell.fd = -1;
    if ((rc = choose(tp, provider, err)))
        return rc;
    size_buffers(tp);
    if ((rc = fi_fabric(tp->info->fabric_attr, &tp->fabric, NULL)))
        return fail(err, tp, "fi_fabric", rc);
    if ((rc = fi_domain(tp->fabric, tp->info, &tp->domain, NULL)))
        return fail(err, tp, "fi_domain", rc);
    if ((rc = fi_av_open(tp->domain, &av_attr, &tp->av, NULL)))
        return fail(err, tp, "fi_av_open", rc);
    if ((rc = open_cq(tp)))
        return fail(err, tp, "fi_cq_open", rc);
    if ((rc = fi_endpoint(tp->domain, tp->info, &tp->ep, NULL)))
        return fail(err, tp, "fi_endpoint", rc);
    if ((rc = fi_ep_bind(tp->ep, &tp->av->fid, 0)) ||
        (rc = fi_ep_bind(tp->ep, &tp->cq->fid, FI_TRANSMIT | FI_RECV)))
        return fail(err, tp, "fi_ep_bind", rc);
    if ((rc = fi_enable(tp->ep)))
        return fail(err, tp, "fi_enable", rc);
    if ((rc = register_region(tp)))
        return fail(err, tp, "fi_mr_reg", rc);
    if ((rc = post_all(tp)))
        return fail(err, tp, "fi_trecv", rc);
    fmx_bell_open(tp);
    /* rxm announces a large message by a header of its own and moves the data only once a
     * receive matches it (by reading it from the sender), so a large message that arrives
     * before its receive is posted costs the receiver no memory: the pieces go out with the
     * RTS instead of a round trip later. Every member uses the same provider, so both sides
     * agree (FMX_OFI_CTS=1 waits for clear-to-send everywhere). */
    tp->no_cts = strstr(tp->info->fabric_attr->prov_name, "ofi_rxm") != NULL &&
        fmx_env_u64("FMX_OFI_CTS", 0) == 0;
    snprintf(tp->describe, sizeof(tp->describe),
             "%s FI_EP_RDM (inject %zu B, eager %zu B, max message %zu B, %s%s)",
             tp->info->fabric_attr->prov_name, tp->inject, tp->eager, tp->max_piece,
             tp->no_cts ? "no clear-to-send, " : "",
             tp->wait_fd >= 0       ? "wait fd"
                 : tp->bell.fd >= 0 ? "doorbell"
                                    : "polling");
    fmx_log(FMX_LOG_INFO, "ofi", "provider %s", tp->describe);
    *out = &tp->base;
    return 0;
}
