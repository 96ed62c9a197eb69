/* The one interface the engine talks through: an endpoint with an address, peers added by address
 * and known afterwards by index, whole-message sends of any size to a peer, and receive/error
 * events delivered from progress(). Backends: ofi.c (libfabric RDM), mem.c (in-process). */
#ifndef FMX_TRANSPORT_H
#define FMX_TRANSPORT_H

#include "fmx_common.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fmx_transport fmx_transport_t;

/* Events a transport raises from inside progress(). `buf` is valid only during the call. */
typedef struct fmx_transport_events {
    void (*recv)(void *arg, uint32_t peer, const void *buf, size_t len);
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
    /* Makes progress; raises events. Returns the number of events raised or a negative status. */
    int (*progress)(fmx_transport_t *t);
    /* An fd that becomes readable when progress() has work, or -1 when the backend has none
     * (callers then poll with a short sleep). prepare_wait() returns 0 when it is safe to sleep
     * on the fd now, -EAGAIN when progress() must run first. */
    int (*wait_fd)(fmx_transport_t *t);
    int (*prepare_wait)(fmx_transport_t *t);
    /* Largest message the backend sends as one unit; larger sends are split by the backend. */
    size_t (*max_msg_size)(fmx_transport_t *t);
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

/* Blocks until the transport may have work or timeout_ms passes (-1: no limit). */
int fmx_transport_wait(fmx_transport_t *t, int timeout_ms);

/* libfabric RDM endpoint. provider: NULL to honour FI_PROVIDER (or take the first RDM provider
 * with tagged messages); otherwise a name like "tcp" or "udp;ofi_rxd". err gets a sentence.
 * Returns -ENODATA only when no provider here matches (fi_getinfo's FI_ENODATA); any other
 * failure is an error of the provider that was found. */
int fmx_ofi_open(const char *provider, fmx_transport_t **out, fmx_error_t *err);
/* The provider and endpoint type actually chosen, e.g. "tcp;ofi_rxm FI_EP_RDM". */
const char *fmx_ofi_describe(fmx_transport_t *t);
/* fmx_ofi_open from the module fmx-ofi.so, loaded on first use (ofi_load.c), for a program
 * that should not link libfabric unless it needs a fabric. */
int fmx_ofi_open_module(const char *provider, fmx_transport_t **out, fmx_error_t *err);
/* The libfabric settings a daemon uses where the user set none (ofi_load.c says which and
 * why): apply before libfabric starts up, clear once it has (it reads them only then), and
 * fmx_ofi_defaults_entry("NAME=value") tells an environment entry that is one of them while
 * applied, so that a daemon's children do not inherit it. Not thread-safe: setenv. */
void fmx_ofi_defaults_apply(void);
void fmx_ofi_defaults_clear(void);
int fmx_ofi_defaults_entry(const char *entry);
/* Starts libfabric up (every provider's initialisation, under this process's FI_* settings,
 * which libfabric reads then and never again) without opening anything. */
void fmx_ofi_warm(void);
/* Loads the module (and libfabric with it), once per process, and with warm set also starts
 * libfabric up: a resident daemon does this at start so that the jobs it forks pay neither. */
int fmx_ofi_load_module(int warm, fmx_error_t *err);

/* In-process fabric for tests and simulation: deterministic, with fault injection. */
typedef struct fmx_mem_fabric fmx_mem_fabric_t;
int fmx_mem_fabric_create(uint32_t members, uint64_t seed, fmx_mem_fabric_t **out);
void fmx_mem_fabric_destroy(fmx_mem_fabric_t *f);
/* The endpoint of member i, already connected to every other member (owned by the fabric). */
fmx_transport_t *fmx_mem_endpoint(fmx_mem_fabric_t *f, uint32_t member);
/* Faults: each message is dropped with probability drop_pct/100, held back for up to delay
 * progress calls, and delivered in random order when reorder is set. */
void fmx_mem_set_faults(fmx_mem_fabric_t *f, unsigned drop_pct, unsigned delay, int reorder);
/* Member dies: its queued and future messages vanish; when notify is set, senders to it get a
 * peer_error as a connected transport would report. */
void fmx_mem_kill(fmx_mem_fabric_t *f, uint32_t member, int notify);
/* Injects raw bytes as if member `from` had sent them to `to`. */
int fmx_mem_inject(fmx_mem_fabric_t *f, uint32_t from, uint32_t to, const void *buf, size_t len);
/* Messages still queued anywhere in the fabric. */
size_t fmx_mem_pending(fmx_mem_fabric_t *f);

#endif
