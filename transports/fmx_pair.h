/* One transport over two: peers on this host (the same kernel, network, IPC and PID
 * namespaces) through a `near` backend such as shared memory, the others through a `far` one
 * such as tcp; the engine sees one endpoint. Which side a peer is on is decided from the host
 * identity every address carries, the same way on every member. Named "NEAR+FAR" where a
 * transport is chosen by name ("ucx:sm+ucx:net", "ofi:shm+ofi:tcp"). */
#ifndef FMX_PAIR_H
#define FMX_PAIR_H

#include "fmx_transport.h"

/* Opens backend `name` with its `spec` (NULL: the backend's default). */
typedef int (*fmx_open_backend_f)(const char *name, const char *spec, fmx_transport_t **out,
                                  fmx_error_t *err);

/* Takes both (closes them on failure too). */
int fmx_pair_create(fmx_transport_t *near, fmx_transport_t *far, fmx_transport_t **out,
                    fmx_error_t *err);

/* The transport a name stands for: "BACKEND", "BACKEND:SPEC" or "NEAR+FAR" of those, each
 * opened with open_one. */
int fmx_transport_open_named(const char *name, fmx_open_backend_f open_one, fmx_transport_t **out,
                             fmx_error_t *err);

/* What the name FMX_TRANSPORT gives stands for: "ucx" alone (no FMX_UCX_TLS chosen) is UCX's
 * shared memory to this host's peers and its network transports to the others. */
const char *fmx_transport_expand(const char *name);
/* The transport FMX_TRANSPORT names (unset or empty: "ofi"), expanded. */
const char *fmx_transport_from_env(void);

/* The i-th backend of a name ("ucx" for i = 0 and 1 of "ucx:sm+ucx:net") into buf, or NULL. */
const char *fmx_transport_component(const char *name, int i, char *buf, size_t len);

/* This process's host identity as the pair compares it: FMX_HOST_ID when set (tests run
 * "hosts" on one machine with it), else the boot id and the namespaces' inodes. */
void fmx_host_identity(uint8_t out[32]);

#endif
