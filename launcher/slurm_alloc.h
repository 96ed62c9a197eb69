/* The Slurm allocation pmixrun runs inside (salloc, sbatch): its nodes and slots, read from the
 * environment Slurm gives the allocation's shell. */
#ifndef FMX_SLURM_ALLOC_H
#define FMX_SLURM_ALLOC_H

#include "fmx_jobmap.h"

/* Appends the allocation's nodes (SLURM_JOB_NODELIST, in its order: the order srun numbers
 * them in, SLURM_NODEID), each with the slots SLURM_JOB_CPUS_PER_NODE gives it (as Open MPI's
 * mpirun counts them; else SLURM_TASKS_PER_NODE; else one). 1 when it did, 0 outside an
 * allocation (SLURM_JOB_ID and SLURM_JOB_NODELIST not both set), or -errno with err naming the
 * variable and the part that cannot be read. */
int fmx_alloc_slurm(fmx_jobmap_t *map, fmx_error_t *err);

/* A daemon srun started on each node of the allocation: this host's place in the allocation's
 * node list (SLURMD_NODENAME in SLURM_JOB_NODELIST, the list pmixrun numbered the nodes by),
 * or -1 with err saying which is missing. */
long fmx_slurm_node_index(fmx_error_t *err);

#endif
