/* The UCX backend (ucx.c): UCP active messages over whatever transports UCX chooses (UCX_TLS:
 * tcp, shared memory, verbs...), linked directly by tests and benchmarks and built as the
 * module fmx-ucx.so for the daemons (fmx_backend.h), chosen with FMX_TRANSPORT=ucx. */
#ifndef FMX_UCX_H
#define FMX_UCX_H

#include "fmx_transport.h"

/* A UCP worker with wake-up support, under UCX's UCX_* settings and the daemons' own FMX_UCX_*
 * (which win); spec, when not NULL, is the worker's UCX_TLS ("sm", "tcp"...; "net": all but
 * shared memory) and wins over both. */
int fmx_ucx_open(const char *spec, fmx_transport_t **out, fmx_error_t *err);
/* Nothing to start ahead: UCX starts within ucp_init. */
void fmx_ucx_warm(void);

#endif
