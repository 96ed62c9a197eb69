/* The modex engine: fence (allgather of variable-size member blobs, with or without data),
 * barrier and direct-modex request/reply among the members of a group, as non-blocking state
 * machines over an fmx_transport. Knows nothing of PMIx or libfabric; does no I/O but through
 * the transport; every callback fires from fmx_engine_progress(). */
#ifndef FMX_ENGINE_H
#define FMX_ENGINE_H

#include "fmx_common.h"
#include "fmx_transport.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fmx_engine fmx_engine_t;

enum fmx_algo {
    FMX_ALGO_AUTO = 0,
    FMX_ALGO_TREE, /* k-ary tree gather, then broadcast (radix FMX_TREE_RADIX, default 4) */
    FMX_ALGO_RD, /* recursive doubling, non-powers of two folded in */
    FMX_ALGO_BRUCK, /* Bruck's allgather, any member count */
    FMX_ALGO_RING, /* ring allgather */
    FMX_ALGO_DISSEM, /* dissemination barrier (fences without data only) */
    FMX_ALGO_HIER, /* gather on each host, leaders exchange, broadcast on each host */
    FMX_ALGO_COUNT
};

const char *fmx_algo_name(int algo);
/* Returns the algorithm named (e.g. "bruck"), FMX_ALGO_AUTO for "auto", or -EINVAL. */
int fmx_algo_parse(const char *name);

typedef struct fmx_engine_config {
    uint32_t self; /* this member's index */
    uint32_t members; /* group size; the transport knows peers 0..members-1 */
    fmx_transport_t *transport;
    uint64_t default_timeout_ms; /* 0: FMX_TIMEOUT_MS from the environment, else 60000 */
    /* Optional: how error sentences name a member (e.g. "node n3 (host h3)"); the engine adds
     * the index ("node n3 (host h3), member 2"). NULL: "member 2". */
    const char *(*member_name)(void *arg, uint32_t member);
    void *name_arg;
    /* Optional clock (simulations); default CLOCK_MONOTONIC. */
    uint64_t (*now_ns)(void *arg);
    void *clock_arg;
} fmx_engine_config_t;

/* Creates an engine and takes over the transport's events (the transport stays the caller's). */
int fmx_engine_create(const fmx_engine_config_t *cfg, fmx_engine_t **out);
/* Detaches from the transport, fails outstanding work with -ECANCELED (callbacks fire) and
 * frees the engine. NULL is fine. */
void fmx_engine_destroy(fmx_engine_t *e);
/* Ends every collective and direct modex request in flight with -ECANCELED, running their
 * callbacks now; the engine stays usable (a daemon's teardown completes its front end's
 * requests this way while that front end can still take the answers). */
void fmx_engine_cancel(fmx_engine_t *e);
/* Whether the host expects its peers to go (its own part of the job is over): a member lost
 * then fails what needs it all the same, but is a debug line, not a warning (NULL is fine). */
void fmx_engine_expect_losses(fmx_engine_t *e, int expect);

/* Runs transport progress, deadlines and due callbacks. Returns > 0 when something happened. */
int fmx_engine_progress(fmx_engine_t *e);
/* Sleeps until the transport has work, the next deadline, or max_ms (-1: no limit). */
int fmx_engine_wait(fmx_engine_t *e, int max_ms);
/* For a caller's own poll loop: the fd that turns readable when progress has work (-1 when the
 * transport has none: then poll with a short timeout), and whether it is safe to sleep on it
 * now (0), progress must run first (-EAGAIN), or sleep on it at most that many microseconds (> 0).
 * Sleep at most fmx_engine_timeout_ms(). */
int fmx_engine_fd(fmx_engine_t *e);
/* Has the transport connect now to the members this one meets in fences over all members
 * (at distances of powers of two either way, and the recursive-doubling partners), so that a
 * job's first fence does not open its connections one step at a time. */
void fmx_engine_connect_ahead(fmx_engine_t *e);
/* Those members (none that was lost): fills out[0..max) and returns how many there are. */
uint32_t fmx_engine_neighbours(fmx_engine_t *e, uint32_t *out, uint32_t max);
/* Whether a caller about to sleep should progress again instead: a fence or direct-modex
 * request of this member is under way and something happened within FMX_SPIN_US (50): a
 * wake-up from sleep costs more than the few polls in which the next message usually comes. */
int fmx_engine_spin(fmx_engine_t *e);
int fmx_engine_prepare_wait(fmx_engine_t *e);
/* Milliseconds to the next deadline, or -1 when nothing is pending. */
int fmx_engine_timeout_ms(fmx_engine_t *e);
/* The last error sentence the engine decided (a bad frame, a timeout...), or "". */
const char *fmx_engine_last_error(fmx_engine_t *e);
uint32_t fmx_engine_self(fmx_engine_t *e);
uint32_t fmx_engine_size(fmx_engine_t *e);
/* What a fence or request without a timeout of its own gets (fmx_engine_config_t). */
uint64_t fmx_engine_default_timeout_ms(const fmx_engine_t *e);

/* ---- fence and barrier ---- */

typedef struct fmx_fence_result {
    int status; /* 0 or negative; error then says why, naming the member */
    const char *error; /* "" on success */
    int algo; /* algorithm that ran */
    uint32_t count; /* participants */
    const uint32_t *members; /* their member indices, ascending */
    const size_t *lens; /* each participant's blob length (collecting fences) */
    uint8_t *data; /* the blobs concatenated in member order; the callback owns it (free()) */
    size_t total;
} fmx_fence_result_t;

typedef void (*fmx_fence_done_f)(void *arg, fmx_fence_result_t *res);

typedef struct fmx_fence_args {
    const uint32_t *members; /* participants, any order, must include self; NULL: the group */
    uint32_t count;
    const void *key; /* optional bytes every participant passes alike (e.g. a proc list) */
    size_t keylen;
    const void *blob; /* this member's contribution (copied) */
    size_t len;
    int collect; /* 0: no data is exchanged (a barrier) */
    int algo; /* FMX_ALGO_AUTO or one to force */
    size_t size_hint; /* total bytes expected, identical on all participants, or 0 */
    uint64_t timeout_ms; /* 0: the engine's default */
} fmx_fence_args_t;

/* Starts a fence. Participants must call it with the same members/key, in the same order as
 * other fences over the same set: the n-th fence over a set matches the n-th elsewhere. The
 * callback fires exactly once from progress, also on error. */
int fmx_fence_start(fmx_engine_t *e, const fmx_fence_args_t *args, fmx_fence_done_f cb, void *arg);

/* ---- direct modex ---- */

typedef struct fmx_dmodex_req fmx_dmodex_req_t;

/* Front ends sharing an engine (PMIx, the PMI wire server) begin every key of theirs, fence
 * and direct modex alike, with a prefix of their own ("pmix:", "pmi:"), so that their
 * collectives never collide. A direct modex request goes to the handler whose prefix its key
 * begins with, the longest that matches (the whole key is passed; "" matches any key); one
 * that no handler claims is answered -ENOSYS. */
#define FMX_ENGINE_MAX_FRONT_ENDS 8

/* Called on the member asked for data; answer later with fmx_dmodex_respond() (exactly once). */
typedef void (*fmx_dmodex_handler_f)(void *arg, uint32_t from, const void *key, size_t keylen,
                                     fmx_dmodex_req_t *req);
/* -EEXIST when the prefix has a handler, -ENOSPC when FMX_ENGINE_MAX_FRONT_ENDS do. */
int fmx_dmodex_add_handler(fmx_engine_t *e, const char *prefix, fmx_dmodex_handler_f handler,
                           void *arg);
void fmx_dmodex_remove_handler(fmx_engine_t *e, const char *prefix);
/* Sends the answer and frees req. status != 0 reaches the requester as its status. */
int fmx_dmodex_respond(fmx_engine_t *e, fmx_dmodex_req_t *req, int status, const void *blob,
                       size_t len);

/* blob is valid during the callback only. */
typedef void (*fmx_dmodex_done_f)(void *arg, int status, const void *blob, size_t len);
/* Asks member for the blob under key. Requests for the same member and key in flight share one
 * message. The callback fires once from progress: with the reply, or an error on timeout / loss. */
int fmx_dmodex_request(fmx_engine_t *e, uint32_t member, const void *key, size_t keylen,
                       uint64_t timeout_ms, fmx_dmodex_done_f cb, void *arg);

/* ---- counters ---- */

typedef struct fmx_engine_counters {
    uint64_t msgs_sent, bytes_sent, msgs_recv, bytes_recv;
    uint64_t bad_frames;
    uint64_t fences_done[FMX_ALGO_COUNT];
    uint64_t fence_ns[FMX_ALGO_COUNT]; /* summed start-to-completion time */
    uint64_t fences_failed;
    uint64_t dmodex_sent, dmodex_coalesced, dmodex_served;
} fmx_engine_counters_t;

void fmx_engine_get_counters(fmx_engine_t *e, fmx_engine_counters_t *out);

#endif
