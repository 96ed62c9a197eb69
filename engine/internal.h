/* Engine internals shared by engine.c, coll.c, dmodex.c and the alg_*.c state machines. Not
 * installed; nothing outside engine/ includes it. */
#ifndef FMX_ENGINE_INTERNAL_H
#define FMX_ENGINE_INTERNAL_H

#include "fmx_engine.h"
#include "frame.h"

struct fmx_coll;

/* One allgather/barrier algorithm: a state machine over the collective's step flags. */
struct fmx_algo_ops {
    const char *name;
    /* Size of the per-collective `got` flag array. */
    uint32_t (*nflags)(const struct fmx_coll *c);
    /* The local member entered: send what can be sent, maybe finish. */
    int (*start)(struct fmx_coll *c);
    /* A validated frame of this collective arrived from participant position `from`. Returns 0,
     * or FMX_ERR_PROTO with c->eng's error text set when the frame breaks the algorithm. */
    int (*on_frame)(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f);
    /* Position of a participant the member is waiting for, for timeout messages; -1 if none. */
    int64_t (*waiting_for)(const struct fmx_coll *c);
};

extern const struct fmx_algo_ops fmx_alg_tree, fmx_alg_rd, fmx_alg_bruck, fmx_alg_ring,
    fmx_alg_dissem, fmx_alg_hier;

/* Reference-counted storage of blocks: a received frame in a buffer of its own
 * (fmx_transport_events_t.recv_owned), whose blocks stay in it instead of being copied out, or
 * a block's own copy. Sends that read blocks in place (fmx_transport_ops_t.sendv) hold a
 * reference until the transport is done with them, which may be after the fence has ended. */
struct fmx_hold {
    uint32_t refs;
    uint8_t *buf;
};
/* Wraps buf (from malloc) with one reference; frees buf and returns NULL when out of memory. */
struct fmx_hold *fmx_hold_new(uint8_t *buf);
void fmx_hold_put(struct fmx_hold *h);

struct fmx_block {
    uint8_t *data; /* inside hold->buf */
    uint32_t len;
    uint8_t have;
    struct fmx_hold *hold; /* set whenever have is */
};

struct fmx_stash {
    struct fmx_stash *next;
    uint32_t peer;
    size_t len;
    struct fmx_hold *hold; /* the frame, or NULL: it is in buf */
    uint8_t buf[];
};

struct fmx_coll {
    struct fmx_coll *next;
    fmx_engine_t *eng;
    uint64_t sig;
    uint32_t seq;
    int started; /* the local member has entered */
    int finished; /* result decided; waits in the done list */
    int status;
    char error[256];
    /* known once started */
    int algo;
    const struct fmx_algo_ops *ops;
    int collect;
    uint32_t P, me; /* participants, own position */
    uint32_t *members; /* ascending member indices */
    struct fmx_block *blk;
    uint32_t nhave;
    uint8_t *got; /* per-step arrival flags, see the algorithm */
    uint32_t nflags;
    uint32_t step; /* the algorithm's progress marker */
    uint32_t radix; /* tree: its radix; hier: the number of hosts (frames carry it) */
    uint32_t *aux; /* the algorithm's own (hier), freed with the collective */
    uint64_t start_ns, deadline_ns;
    fmx_fence_done_f cb;
    void *cb_arg;
    /* frames that arrived before the local member entered */
    struct fmx_stash *stash, *stash_tail;
    size_t stashed_bytes;
};

struct fmx_sigseq {
    struct fmx_sigseq *next;
    uint64_t sig;
    uint32_t next_seq;
};

struct fmx_dmx_pending;

struct fmx_engine {
    uint32_t self, members;
    fmx_transport_t *tp;
    uint64_t default_timeout_ns;
    uint64_t (*now_ns)(void *arg);
    void *clock_arg;
    uint8_t *lost; /* per member: transport reported it gone */
    int expect_losses; /* fmx_engine_expect_losses */
    uint32_t *host; /* per member: the smallest member on its host (transport's host_of) */
    struct fmx_coll *colls; /* active and pending collectives */
    struct fmx_coll *done, *done_tail; /* finished, callbacks owed */
    struct fmx_sigseq *sigs;
    int env_fence_algo, env_barrier_algo;
    uint32_t tree_radix;
    /* direct modex */
    struct {
        char prefix[16];
        fmx_dmodex_handler_f fn;
        void *arg;
    } dmx_handlers[FMX_ENGINE_MAX_FRONT_ENDS];
    struct fmx_dmx_pending *dmx;
    uint32_t dmx_next_id;
    int dmx_due; /* some pending request has completed */
    fmx_engine_counters_t ctr;
    struct fmx_hold *hold; /* the frame being delivered, when it came in a buffer of its own */
    uint64_t spin_ns; /* FMX_SPIN_US */
    uint64_t gather_min; /* FMX_GATHER_MIN: frames from this size on are sent by sendv */
    uint64_t busy_ns; /* when progress last did something, or a fence started */
    char last_error[256];
    const char *(*member_name)(void *arg, uint32_t member);
    void *name_arg;
    char who[4][128]; /* fmx_who()'s buffers, used in turn */
    unsigned next_who;
};

uint64_t fmx_engine_now(fmx_engine_t *e);
/* A member as error sentences name it: "member 2", or the front end's name and the index.
 * Valid until four more calls. */
const char *fmx_who(fmx_engine_t *e, uint32_t member);
void fmx_engine_set_error(fmx_engine_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends an encoded frame (takes buf). Counts it; a failure is reported as peer loss. */
int fmx_engine_send(fmx_engine_t *e, uint32_t member, uint8_t *buf, size_t len);
/* The same for a message gathered from segments (the transport must have sendv); len is their
 * sum. done(arg) runs once the transport no longer reads them. */
int fmx_engine_sendv(fmx_engine_t *e, uint32_t member, const fmx_seg_t *segs, size_t n, size_t len,
                     fmx_send_done_f done, void *arg);

/* coll.c: the skeleton every algorithm shares. */
int fmx_coll_send_positions(struct fmx_coll *c, uint32_t dst, uint32_t step,
                            const uint32_t *positions, uint32_t n);
/* Positions (first + j) mod P for j < n. */
int fmx_coll_send_range(struct fmx_coll *c, uint32_t dst, uint32_t step, uint32_t first,
                        uint32_t n);
int fmx_coll_send_held(struct fmx_coll *c, uint32_t dst, uint32_t step);
int fmx_coll_send_token(struct fmx_coll *c, uint32_t dst, uint32_t step);
/* Stores the blocks of a BLOCKS frame (a TOKEN frame carries none). */
int fmx_coll_absorb(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f);
/* Sets got[step] for a frame from `from`, which must be `expect`; rejects repeats. */
int fmx_coll_mark(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f, uint32_t expect);
/* Decides the result; the callback runs from the engine's progress. */
void fmx_coll_finish(struct fmx_coll *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fails the collective and tells the other participants (ABORT frames). */
void fmx_coll_fail(struct fmx_coll *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* For algorithms whose step s+1 goes out once step s has arrived (ring, bruck, dissemination):
 * start sends step 0, advance walks the arrived steps, both finish after the last one. */
int fmx_coll_start_steps(struct fmx_coll *c, int (*send_step)(struct fmx_coll *c));
int fmx_coll_advance_steps(struct fmx_coll *c, int (*send_step)(struct fmx_coll *c));
int fmx_coll_deliver(struct fmx_coll *c, uint32_t peer, const fmx_frame_t *f);
void fmx_coll_free(struct fmx_coll *c);
void fmx_coll_run_callback(struct fmx_coll *c);

uint32_t fmx_log2_ceil(uint32_t p);

/* select.c */
const struct fmx_algo_ops *fmx_algo_ops(int algo);
int fmx_algo_choose(fmx_engine_t *e, uint32_t P, int collect, size_t size_hint, int requested);

/* alg_hier.c: the leaders and counts a hierarchical collective needs (c->aux), and its number
 * of hosts as its radix (frames carry it). */
int fmx_hier_prepare(struct fmx_coll *c);

/* dmodex.c */
void fmx_dmodex_on_frame(fmx_engine_t *e, uint32_t peer, const fmx_frame_t *f);
/* Fails requests whose deadline passed; returns the earliest remaining deadline or UINT64_MAX. */
uint64_t fmx_dmodex_check(fmx_engine_t *e, uint64_t now);
int fmx_dmodex_peer_lost(fmx_engine_t *e, uint32_t member, int status);
void fmx_dmodex_run_callbacks(fmx_engine_t *e);
void fmx_dmodex_cancel(fmx_engine_t *e);

#endif
