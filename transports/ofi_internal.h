/* Shared between ofi.c (eager messages, progress), ofi_rdv.c (large messages by rendezvous) and
 * ofi_setup.c (choosing a provider and opening its resources). Not used outside transports/. */
#ifndef FMX_OFI_INTERNAL_H
#define FMX_OFI_INTERNAL_H

#include "fmx_common.h"
#include "fmx_ofi.h"
#include "fmx_seal.h"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

/* Every eager message starts with this header: u32 src, u8 kind, 3 pad, u32 id, u32 pad,
 * u64 length (the payload for DATA, the whole message for RTS), u64 sequence number (keyed
 * endpoints, else 0); keyed endpoints end it with the FMX_SEAL_TAG-byte tag of all before it
 * (ofi_chunk.c). A keyed RTS carries the bulk number and tag of the message it announces. */
#define CHUNK_HEADER 32u
#define RTS_SEAL (8u + FMX_SEAL_TAG)
enum chunk_kind { CHUNK_DATA = 0, CHUNK_RTS = 1, CHUNK_CTS = 2, CHUNK_FLUSH = 3 };

/* Eager messages carry the sender's index in the low 32 tag bits and nothing above; the
 * posted wildcard receives ignore only those bits. Rendezvous pieces carry RDV_TAG_BIT. */
#define EAGER_IGNORE 0xffffffffull
#define RDV_TAG_BIT (1ull << 62)
#define CQ_BATCH 16
#define OFI_IOV_MAX 8

enum op_kind { OP_RX, OP_TX, OP_FLUSH, OP_RDV_RX, OP_RDV_TX };

/* One posted receive or send in flight; the fi_context2 must stay first. */
struct ofi_op {
    struct fi_context2 ctx;
    enum op_kind kind;
    uint32_t peer;
    struct ofi_op *next_free;
    uint8_t *buf; /* eager: a slice of the registered bounce region */
    struct rdv *rdv; /* rendezvous: the message this piece belongs to */
    uint8_t *stage; /* a gathered piece of more segments than one send takes, copied */
};

/* A queued eager message: control (RTS, CTS, FLUSH) or data. */
struct out_msg {
    struct out_msg *next;
    uint32_t peer, id;
    uint8_t kind;
    uint64_t length;
    uint64_t q; /* its sequence number once chosen (keyed endpoints) */
    uint8_t *payload; /* owned */
    size_t plen;
};

/* A large message on its way out (after RTS) or in (after RTS arrived). */
struct rdv {
    struct rdv *next;
    uint32_t peer, id;
    uint8_t *buf; /* owned; NULL for a gathered send, which reads segs in place */
    size_t len;
    fmx_seg_t *segs;
    size_t nsegs;
    fmx_send_done_f on_sent;
    void *on_sent_arg;
    struct fid_mr *mr;
    void *desc;
    size_t npieces, posted, done;
    struct ofi_op *pieces;
    int ready; /* tx: CTS arrived; rx: 1 buffer ready, 2 receives posted and CTS queued */
    int failed; /* a piece failed: the message is not delivered */
    uint64_t bulk_q; /* keyed endpoints: the data's number and tag, sent in the RTS */
    uint8_t bulk_tag[FMX_SEAL_TAG];
};

/* A doorbell (ofi_bell.c), when the completion queue has no wait fd. An endpoint's address is
 * the provider's, followed by BELL_ADDR_LEN bytes: its bell's id, 0 for none. */
#define BELL_ADDR_LEN 8
struct ofi_bell {
    int fd; /* -1: none */
    int active; /* every peer's bell answered: sleep on ours */
    uint64_t id;
    uint64_t *ids; /* per peer */
    uint8_t *owed; /* per peer: sent something since the last ring */
    uint32_t npeers, nowed;
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
    size_t tx_busy; /* eager sends awaiting completion */
    size_t flush_busy; /* FLUSH chunks awaiting completion (closing only) */
    size_t eager; /* bytes in one eager message, header included */
    size_t inject;
    size_t max_piece; /* the provider's max_msg_size, or FMX_OFI_MAX_MSG */
    size_t iov_limit; /* segments one send takes (tx_attr->iov_limit, at most OFI_IOV_MAX) */
    int local_mr; /* FI_MR_LOCAL: buffers handed to the provider are registered */
    int no_cts; /* the provider keeps unexpected large messages: pieces follow RTS at once */
    int quiet; /* closing drops what is in flight (fmx_transport_ops_t.quiet) */
    int wait_fd;
    fi_addr_t *peers;
    uint8_t *injected; /* per peer: sent something by fi_tinject since the last flush */
    uint32_t npeers, self;
    uint32_t next_id;
    struct out_msg *outq, *outq_tail;
    struct rdv *rdv_tx, *rdv_rx;
    uint32_t *failed; /* peers whose peer_error is owed */
    size_t nfailed;
    struct ofi_bell bell;
    uint8_t key[FMX_SEAL_KEY];
    int keyed; /* set_key was called: every chunk is sealed and checked */
    size_t trailer; /* FMX_SEAL_TAG when keyed, else 0 */
    fmx_seal_t *seal; /* once keyed and the peers are known */
    uint64_t rejected; /* chunks and messages that failed the check */
    uint8_t *warned; /* per peer: a rejection was reported */
    char describe[160];
};

extern const fmx_transport_ops_t fmx_ofi_ops;
int fmx_ofi_post_recv(struct ofi_tp *tp, struct ofi_op *op);
/* Releases whatever part of tp was opened; drains queued sends first when peers are known. */
void fmx_ofi_close(fmx_transport_t *t);
/* Queues an eager chunk; takes payload (plen bytes, from malloc, or NULL). */
int fmx_ofi_queue(struct ofi_tp *tp, uint32_t peer, uint8_t kind, uint32_t id, uint64_t length,
                  uint8_t *payload, size_t plen);
void fmx_ofi_owe_peer_error(struct ofi_tp *tp, uint32_t peer);

/* ofi_chunk.c */
/* Writes chunk m (header, payload, and on a keyed endpoint its number, chosen once, and tag)
 * into buf; returns its length, or 0 when it cannot be sealed. */
size_t fmx_chunk_build(struct ofi_tp *tp, uint8_t *buf, struct out_msg *m);
/* Checks a received chunk: its header, and on a keyed endpoint its tag and number. Fills the
 * claimed sender, kind, id, length and the payload (pointer and bytes); 0 to act on it, or
 * nonzero when it was dropped (and reported). */
int fmx_chunk_check(struct ofi_tp *tp, uint64_t tag, const uint8_t *c, size_t len, uint32_t *src,
                    uint8_t *kind, uint32_t *id, uint64_t *length, const uint8_t **payload,
                    size_t *plen);
/* Reports a message from `peer` that failed the check (rc from fmx_seal_verify): the first
 * per peer is logged, every one counted. */
void fmx_chunk_reject(struct ofi_tp *tp, uint32_t peer, const char *what, int rc);
/* Keys the endpoint (before or after its peers are added). */
int fmx_chunk_set_key(fmx_transport_t *t, const uint8_t *key, size_t len);
/* Makes the seal once both the key and the peers are known. */
int fmx_chunk_seal_ready(struct ofi_tp *tp);

/* ofi_bell.c */
void fmx_bell_open(struct ofi_tp *tp);
size_t fmx_bell_put_addr(const struct ofi_tp *tp, uint8_t *out);
void fmx_bell_add_peers(struct ofi_tp *tp, uint32_t count, const void *const *addrs,
                        const size_t *lens);
/* Marks a peer to be rung; fmx_bell_ring_owed() rings each marked peer once. */
void fmx_bell_owe(struct ofi_tp *tp, uint32_t peer);
void fmx_bell_ring_owed(struct ofi_tp *tp);
/* Empties the bell; returns how many rings it held. */
int fmx_bell_drain(struct ofi_tp *tp);
void fmx_bell_close(struct ofi_tp *tp);

/* ofi_rdv.c */
int fmx_rdv_send(struct ofi_tp *tp, uint32_t peer, uint8_t *buf, size_t len);
/* The same for a message read in place from segments; done(arg) runs when they are free. */
int fmx_rdv_sendv(struct ofi_tp *tp, uint32_t peer, const fmx_seg_t *segs, size_t n, size_t len,
                  fmx_send_done_f done, void *arg);
/* seal: the RTS's bulk number and tag (RTS_SEAL bytes), NULL on an endpoint without a key. */
void fmx_rdv_on_rts(struct ofi_tp *tp, uint32_t src, uint32_t id, uint64_t len,
                    const uint8_t *seal);
void fmx_rdv_on_cts(struct ofi_tp *tp, uint32_t src, uint32_t id);
void fmx_rdv_on_piece(struct ofi_tp *tp, struct ofi_op *op, int err);
/* Posts pieces the provider refused earlier; returns 1 while some are still waiting. */
int fmx_rdv_push(struct ofi_tp *tp);
void fmx_rdv_free_all(struct ofi_tp *tp);

#endif
