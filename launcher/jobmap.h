/* Where a job's ranks go: the node list (from a hostfile in Open MPI syntax, a --host list, or
 * this host split into virtual nodes) and the block of consecutive ranks each node runs. */
#ifndef FMX_JOBMAP_H
#define FMX_JOBMAP_H

#include "fmx_common.h"

#include <stdint.h>

typedef struct fmx_node {
    char *host; /* where pmixd runs (a name the launch agent understands) */
    char *name; /* the node's name in the job (differs from host for virtual nodes) */
    uint32_t slots; /* 0: not given */
    uint32_t first_rank, nranks;
} fmx_node_t;

typedef struct fmx_jobmap {
    fmx_node_t *nodes;
    uint32_t nnodes;
    uint32_t size; /* ranks in the job */
} fmx_jobmap_t;

/* Appends the hosts of an Open MPI style hostfile ("name [slots=N] [max_slots=N]", '#'
 * comments). A host named twice adds its slots. Errors name file and line. */
int fmx_hostfile_read(fmx_jobmap_t *map, const char *path, fmx_error_t *err);
/* Appends "h1:2,h2" (slots after the colon). */
int fmx_hostlist_parse(fmx_jobmap_t *map, const char *spec, fmx_error_t *err);
/* Appends this host as `count` virtual nodes of `slots` each. */
int fmx_jobmap_add_local(fmx_jobmap_t *map, uint32_t count, uint32_t slots, fmx_error_t *err);

/* Assigns np ranks (0: one per slot) with at most npernode per node (0: by slots). Without
 * oversubscribe, more ranks than slots is an error saying how to allow it. */
int fmx_jobmap_assign(fmx_jobmap_t *map, uint32_t np, uint32_t npernode, int oversubscribe,
                      fmx_error_t *err);
/* The node running rank r (a binary search over the blocks). */
uint32_t fmx_jobmap_node_of(const fmx_jobmap_t *map, uint32_t rank);
void fmx_jobmap_free(fmx_jobmap_t *map);

#endif
