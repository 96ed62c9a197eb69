/* Where a job's ranks go. Allocation sources add the job's nodes: an Open MPI style hostfile,
 * a --host list, or this host split into virtual nodes (Slurm's allocation next); a placement
 * then puts a namespace's ranks on them. */
#ifndef FMX_ALLOC_H
#define FMX_ALLOC_H

#include "fmx_jobmap.h"
#include "fmx_spawn.h"

/* Appends the hosts of an Open MPI style hostfile ("name [slots=N] [max_slots=N]", '#'
 * comments). A host named twice adds its slots. Errors name file and line. */
int fmx_alloc_hostfile(fmx_jobmap_t *map, const char *path, fmx_error_t *err);
/* Appends "h1:2,h2" (slots after the colon). */
int fmx_alloc_hostlist(fmx_jobmap_t *map, const char *spec, fmx_error_t *err);
/* Appends this host as `count` virtual nodes of `slots` each. */
int fmx_alloc_local(fmx_jobmap_t *map, uint32_t count, uint32_t slots, fmx_error_t *err);

/* Splits every node into `count` virtual nodes "NAME-vI" on the same host, its slots shared
 * among them (at least one each where it had any): several daemons per host. */
int fmx_alloc_split(fmx_jobmap_t *map, uint32_t count, fmx_error_t *err);

/* Adds namespace nspace of np ranks (0: one per slot) in consecutive blocks, filling each
 * node's slots in turn, at most npernode per node (0: by slots), what is left spread evenly
 * when oversubscribing. Without oversubscribe, more ranks than slots is an error saying how
 * to allow it. */
int fmx_place_blocks(fmx_jobmap_t *map, const char *nspace, uint32_t np, uint32_t npernode,
                     int oversubscribe, fmx_error_t *err);

/* Adds namespace s->nspace for a spawn into a running job, and sets s->app_of: each
 * application's ranks on the nodes its `hosts` names ("n1,n2": a node's name or its host, a
 * ":slots" after it ignored; none: all), on the slots the namespaces already there (and the
 * spawn's earlier applications) leave free — the slot of a process that ended is free again
 * (ended: per node, how many did; NULL: none) —, filled node by node or one rank a node in
 * turn (s->by_node); what does not fit is spread over those nodes in turn when oversubscribing,
 * else an error says how many slots are free where. A name that matches no node is an error naming
 * it. */
int fmx_place_spawn(fmx_jobmap_t *map, fmx_spawn_t *s, const uint32_t *ended, int oversubscribe,
                    fmx_error_t *err);

#endif
