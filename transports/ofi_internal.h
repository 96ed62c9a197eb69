/* Shared between ofi.c (the data path) and ofi_setup.c (choosing a provider and opening its
 * resources). Nothing outside transports/ includes it. */
#ifndef FMX_OFI_INTERNAL_H
#define FMX_OFI_INTERNAL_H

#include "fmx_common.h"
#include "fmx_transport.h"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#define CHUNK_HEADER 24u /* u32 src, u32 message id, u64 total, u64 offset */
#define TAG_MASK 0xffffffffull
#define CQ_BATCH 16

enum op_kind { OP_RX, OP_TX };

/* One posted receive or one send in flight; the fi_context2 must stay first. */
struct ofi_op {
    struct fi_context2 ctx;
    enum op_kind kind;
    uint32_t peer;
    struct ofi_op *next_free;
    uint8_t *buf; /* chunk-sized slice of the registered region */
};

struct out_msg {
    struct out_msg *next;
    uint32_t peer, id;
    uint8_t *buf;
    size_t len, off;
};

struct reasm {
    struct reasm *next;
    uint32_t peer, id;
    uint64_t total, got;
    uint8_t *buf;
};

struct ofi_tp {
    fmx_transport_t base;
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_ep *ep;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_mr *mr;
    void *desc;
    uint8_t *region;
    struct ofi_op *ops;
    size_t nrx, ntx;
    struct ofi_op *tx_free;
    size_t tx_busy;
    size_t chunk, inject;
    int wait_fd;
    fi_addr_t *peers;
    uint8_t *injected; /* per peer: sent a chunk by fi_tinject since the last flush */
    uint32_t npeers, self;
    uint32_t next_id;
    struct out_msg *outq, *outq_tail;
    struct reasm *reasm;
    uint32_t *failed; /* peers whose peer_error is owed */
    size_t nfailed;
    char describe[128];
};

extern const fmx_transport_ops_t fmx_ofi_ops;
int fmx_ofi_post_recv(struct ofi_tp *tp, struct ofi_op *op);
/* Releases whatever part of tp was opened; drains queued sends first when peers are known. */
void fmx_ofi_close(fmx_transport_t *t);

#endif
