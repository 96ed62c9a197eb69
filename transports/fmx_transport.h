/* The one interface the engine talks through: an endpoint with an address, peers added by address
 * and known afterwards by index, whole-message sends of any size to a peer, and receive/error
 * events delivered from progress(). Backends declare themselves in their own headers: fmx_ofi.h
 * (libfabric RDM, also a loadable module), fmx_mem.h (in-process); fmx_fabric.h chooses and opens
 * one for a daemon. */
#ifndef FMX_TRANSPORT_H
#define FMX_TRANSPORT_H

#include "fmx_common.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fmx_transport fmx_transport_t;

/* A piece of memory a gathered send reads in place. */
typedef struct fmx_seg {
    const void *base;
    size_t len;
} fmx_seg_t;

/* The length of segs[0..n) concatenated. */
static inline size_t fmx_segs_len(const fmx_seg_t *segs, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++)
        len += segs[i].len;
    return len;
}

/* Copies bytes [off, off + len) of segs[0..n) concatenated to out. */
static inline void fmx_segs_copy(const fmx_seg_t *segs, size_t n, size_t off, size_t len,
                                 uint8_t *out)
{
    for (size_t i = 0; i < n && len; i++) {
        size_t take;

        if (off >= segs[i].len) {
            off -= segs[i].len;
            continue;
        }
        take = segs[i].len - off < len ? segs[i].len - off : len;
        memcpy(out, (const uint8_t *)segs[i].base + off, take);
        out += take;
        len -= take;
        off = 0;
    }
}

/* Runs once when a gathered send no longer needs its segments. */
typedef void (*fmx_send_done_f)(void *arg);

/* Events a transport raises from inside progress(). `buf` is valid only during the call. */
typedef struct fmx_transport_events {
    void (*recv)(void *arg, uint32_t peer, const void *buf, size_t len);
    /* Optional: a message that arrived in a buffer of its own (from malloc) is handed over
     * instead, and the receiver frees it; saves a copy of large messages. */
    void (*recv_owned)(void *arg, uint32_t peer, void *buf, size_t len);
    /* A send to `peer` failed or the peer is known to be gone. */
    void (*peer_error)(void *arg, uint32_t peer, int status);
} fmx_transport_events_t;

typedef struct fmx_transport_ops {
    const char *name;
    /* Copies this endpoint's address into buf (capacity *len); sets *len. */
    int (*get_addr)(fmx_transport_t *t, void *buf, size_t *len);
    /* Makes peers 0..count-1 reachable; addrs[i] of lens[i] bytes is peer i's get_addr(). */
    int (*add_peers)(fmx_transport_t *t, uint32_t count, const void *const *addrs,
                     const size_t *lens);
    /* Sends len bytes to peer. Takes ownership of buf (from malloc) on success and on failure. */
    int (*send)(fmx_transport_t *t, uint32_t peer, void *buf, size_t len);
    /* Optional: sends segs[0..n) concatenated as one message, read where they lie. They stay
     * untouched until done(arg), which runs exactly once, on success and failure alike: before
     * sendv returns, from progress() or from close(). */
    int (*sendv)(fmx_transport_t *t, uint32_t peer, const fmx_seg_t *segs, size_t n,
                 fmx_send_done_f done, void *arg);
    /* Makes progress; raises events. Returns the number of events raised or a negative status. */
    int (*progress)(fmx_transport_t *t);
    /* An fd that becomes readable when progress() has work, or -1 when the backend has none
     * (callers then poll with a short sleep). prepare_wait() returns 0 when it is safe to sleep
     * on the fd now, -EAGAIN when progress() must run first, or a number of microseconds to
     * sleep on the fd at most (work in flight that the fd will not announce). */
    int (*wait_fd)(fmx_transport_t *t);
    int (*prepare_wait)(fmx_transport_t *t);
    /* Optional: sets up what a first send to peer needs (a connection), ahead of it. */
    int (*connect)(fmx_transport_t *t, uint32_t peer);
    /* Optional, for messages to people: the backend as set up (e.g. "tcp;ofi_rxm FI_EP_RDM
     * ..."), and peer's address as text (e.g. "fi_sockaddr_in://198.18.0.2:40211"). */
    const char *(*describe)(fmx_transport_t *t);
    int (*peer_addr)(fmx_transport_t *t, uint32_t peer, char *buf, size_t len);
    /* Optional: no peer needs anything still in flight (they are done or gone), so close()
     * need not wait for it to leave. */
    void (*quiet)(fmx_transport_t *t);
    /* Optional: from now on every message carries a MAC under this key (fmx_seal.h) and what
     * arrives without a valid one, or replays one, is dropped and reported; before add_peers.
     * rejected() counts what was dropped. A daemon's fabric refuses a backend without them. */
    int (*set_key)(fmx_transport_t *t, const uint8_t *key, size_t len);
    uint64_t (*rejected)(fmx_transport_t *t);
    /* Largest message the backend sends as one unit; larger sends are split by the backend. */
    size_t (*max_msg_size)(fmx_transport_t *t);
    /* Optional, after add_peers: the smallest index of the peers on the same host as `peer`
     * (itself when alone), the same on every member; -1 when the backend cannot tell. */
    int64_t (*host_of)(fmx_transport_t *t, uint32_t peer);
    /* Optional: how long (us) a caller should keep polling after the last event before it
     * sleeps, when this backend's wake-ups cost more than the engine's default window assumes;
     * 0 for the default. FMX_SPIN_US overrides it. */
    uint32_t (*spin_us)(fmx_transport_t *t);
    void (*close)(fmx_transport_t *t);
} fmx_transport_ops_t;

struct fmx_transport {
    const fmx_transport_ops_t *ops;
    fmx_transport_events_t events;
    void *events_arg;
};

static inline void fmx_transport_set_events(fmx_transport_t *t, const fmx_transport_events_t *ev,
                                            void *arg)
{
    t->events = *ev;
    t->events_arg = arg;
}

static inline int fmx_transport_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    return t->ops->send(t, peer, buf, len);
}

static inline int fmx_transport_progress(fmx_transport_t *t)
{
    return t->ops->progress(t);
}

static inline void fmx_transport_close(fmx_transport_t *t)
{
    if (t)
        t->ops->close(t);
}

/* How long a caller with no fd to sleep on naps, and the most a bounded wait sleeps. */
#define FMX_NAP_US 200

/* Blocks until the transport may have work or timeout_ms passes (-1: no limit). */
int fmx_transport_wait(fmx_transport_t *t, int timeout_ms);

#endif
