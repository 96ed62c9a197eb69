/* Where a node's ranks may run, from the hardware topology (hwloc): with core binding, local
 * rank i gets the processing units of core i mod cores; without, the whole allowed machine.
 * The cpusets are hwloc bitmaps (for PMIx's locality keys) and cpu_set_t masks (for the child,
 * which may only make plain system calls between fork and exec). */
#ifndef FMX_BIND_H
#define FMX_BIND_H

#include "fmx_common.h"

#include <sched.h>
#include <stdint.h>

typedef struct fmx_binding {
    uint32_t nranks;
    void **bitmaps; /* hwloc_bitmap_t per local rank */
    cpu_set_t *masks; /* the same as sched_setaffinity masks */
    int bound; /* 1: --bind-to core */
    uint32_t ncores;
} fmx_binding_t;

/* This machine's topology (an hwloc_topology_t), discovered once per process and kept: a
 * resident daemon discovers it at start and every job's child inherits it, and the PMIx
 * server is handed it instead of discovering it again. NULL (err says why) when hwloc fails. */
void *fmx_topology(fmx_error_t *err);
int fmx_binding_compute(fmx_binding_t *b, uint32_t nranks, int bind_core, fmx_error_t *err);
/* "0-3" style list of rank i's processing units (malloc'd), for messages and PMIX_CPUSET. */
char *fmx_binding_list(const fmx_binding_t *b, uint32_t i);
void fmx_binding_free(fmx_binding_t *b);

#endif
