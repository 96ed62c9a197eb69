/* Starting the daemons inside a Slurm allocation, as Open MPI's mpirun does there: one srun,
 * one task on each node of the allocation, each running `pmixd --node slurm` (which finds its
 * node's place in the allocation's node list, the order pmixrun numbered the nodes in). The
 * step shares the allocation's CPUs with the job's other steps (--overlap) and binds nothing
 * (the ranks pmixd forks inherit its binding). The job's secret goes on srun's standard input,
 * which srun hands to every task (--input=all): it is in no command line, no environment and no
 * file. srun's own messages pass through on pmixrun's standard error. FMX_SRUN names another
 * srun. */
#include "pmixrun.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void start_srun(struct run *r)
{
    const char *srun = getenv("FMX_SRUN") && *getenv("FMX_SRUN") ? getenv("FMX_SRUN") : "srun";
    char pmixd[PATH_MAX + 8], host[256], control[300], nodes[16], tasks[32];
    uint32_t toward = pmixrun_first_remote(r);

    /* one address for every daemon: the one toward the first node that is not this one (in a
     * batch script pmixrun runs on the allocation's first node, whose name is its own) */
    if (toward == r->job.map.nnodes)
        toward = r->job.map.nnodes - 1;
    pmixrun_pmixd_path(pmixd, sizeof(pmixd));
    pmixrun_control_host(r->job.map.nodes[toward].host, host, sizeof(host));
    snprintf(control, sizeof(control), "%s:%u", host, r->port);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        free(r->d[i].control);
        if (!(r->d[i].control = strdup(control)))
            pmixrun_die("out of memory");
    }
    snprintf(nodes, sizeof(nodes), "--nodes=%u", r->job.map.nnodes);
    snprintf(tasks, sizeof(tasks), "--ntasks=%u", r->job.map.nnodes);
    char *av[] = {(char *)srun,
                  "--overlap",
                  nodes,
                  tasks,
                  "--ntasks-per-node=1",
                  "--input=all",
                  "--kill-on-bad-exit=1",
                  "--mpi=none",
                  "--cpu-bind=none",
                  "--job-name=pmixd",
                  pmixd,
                  "--control",
                  control,
                  "--node",
                  "slurm",
                  "--secret-stdin",
                  NULL};
    /* one process for every daemon: its end is node 0's slot's (pmixrun.c reports it as srun's) */
    r->d[0].pid = pmixrun_exec_daemons(r, av, 1, "the Slurm allocation's daemons");
}

const struct starter pmixrun_srun_starter = {"srun", 1, start_srun};
