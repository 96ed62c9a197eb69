/* The job map, read by launcher and glue alike: the nodes of a job (where each one's daemon
 * runs and its name in the job) and one or more namespaces, each placing its ranks on those
 * nodes in any way (blocks, round robin, what a spawn asks for). Built by the launcher's
 * allocation sources and placement (launcher/alloc.h), sent to every daemon in the job
 * description, and searched in constant time. */
#ifndef FMX_JOBMAP_H
#define FMX_JOBMAP_H

#include "fmx_common.h"

#include <stdint.h>

typedef struct fmx_node {
    char *host; /* where its daemon runs (a name the launch agent understands) */
    char *name; /* the node's name in the job (differs from host for virtual nodes) */
    uint32_t slots; /* 0: not given */
} fmx_node_t;

typedef struct fmx_nspace_map {
    char *name;
    uint32_t size;
    uint32_t *node_of; /* [size]: the node running each rank */
    /* the ranks of node i, ascending: by_node[node_start[i] .. node_start[i + 1]) */
    uint32_t *by_node, *node_start;
} fmx_nspace_map_t;

typedef struct fmx_jobmap {
    fmx_node_t *nodes;
    uint32_t nnodes;
    fmx_nspace_map_t *nspaces;
    uint32_t nnspaces;
} fmx_jobmap_t;

/* Appends a node, or adds slots to the one of that name. 0 or -ENOMEM. */
int fmx_jobmap_add_node(fmx_jobmap_t *map, const char *host, const char *name, uint32_t slots);
/* Adds namespace `name` of `size` ranks, rank r on node node_of[r] (copied); err says what is
 * wrong (a node index out of range, a name taken). */
int fmx_jobmap_add_nspace(fmx_jobmap_t *map, const char *name, uint32_t size,
                          const uint32_t *node_of, fmx_error_t *err);
/* The namespace of that name, or NULL. */
const fmx_nspace_map_t *fmx_jobmap_nspace(const fmx_jobmap_t *map, const char *name);
void fmx_jobmap_free(fmx_jobmap_t *map);

/* Every process of the job, whatever its namespace, has a global index: namespaces in map
 * order (the job's first, then what it spawned), each one's ranks in turn. Launcher, daemons
 * and PMIx front end name processes so between themselves (control messages, rank tables);
 * the job's own ranks keep their numbers. */
uint32_t fmx_jobmap_nprocs(const fmx_jobmap_t *map);
/* The processes of every namespace that node runs. */
uint32_t fmx_jobmap_node_procs(const fmx_jobmap_t *map, uint32_t node);
/* The global index of ns's rank 0. */
uint32_t fmx_jobmap_base(const fmx_jobmap_t *map, const fmx_nspace_map_t *ns);
/* The namespace of global index g (its rank there in *rank), or NULL. */
const fmx_nspace_map_t *fmx_jobmap_proc(const fmx_jobmap_t *map, uint32_t g, uint32_t *rank);

static inline uint32_t fmx_nspace_node_of(const fmx_nspace_map_t *ns, uint32_t rank)
{
    return rank < ns->size ? ns->node_of[rank] : UINT32_MAX;
}

/* How many ranks of ns node runs, and which (ascending). */
static inline uint32_t fmx_nspace_local_count(const fmx_nspace_map_t *ns, uint32_t node)
{
    return ns->node_start[node + 1] - ns->node_start[node];
}

static inline const uint32_t *fmx_nspace_local_ranks(const fmx_nspace_map_t *ns, uint32_t node)
{
    return ns->by_node + ns->node_start[node];
}

#endif
