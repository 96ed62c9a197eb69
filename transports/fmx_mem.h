/* The in-process transport: every member of a fabric in one process, for tests, simulation and
 * the one-daemon job. Deterministic, with fault injection. */
#ifndef FMX_MEM_H
#define FMX_MEM_H

#include "fmx_transport.h"

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
/* Members as hosts of per_host consecutive members each (host_of), before engines are made on
 * the endpoints; 0 (the default): the fabric cannot tell. */
void fmx_mem_set_hosts(fmx_mem_fabric_t *f, uint32_t per_host);
/* Messages sent gathered from segments (sendv) so far. */
size_t fmx_mem_gathered(fmx_mem_fabric_t *f);
/* Messages still queued anywhere in the fabric. */
size_t fmx_mem_pending(fmx_mem_fabric_t *f);

#endif
