/* The Slurm allocation pmixrun runs inside (slurm_alloc.h). */
#include "slurm_alloc.h"

#include "hostlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* SLURM_JOB_ID and SLURM_JOB_NODELIST set */
static int allocated(void)
{
    const char *id = getenv("SLURM_JOB_ID"), *nodes = getenv("SLURM_JOB_NODELIST");

    return id && *id && nodes && *nodes;
}

int fmx_alloc_slurm(fmx_jobmap_t *map, fmx_error_t *err)
{
    const char *nodes = getenv("SLURM_JOB_NODELIST"), *var = "SLURM_JOB_CPUS_PER_NODE";
    const char *slots = getenv(var);
    fmx_error_t why = {{0}};
    char **names = NULL;
    uint32_t *counts = NULL;
    size_t n = 0, ncounts = 0;
    int rc;

    if (!allocated())
        return 0;
    if (!slots || !*slots) {
        var = "SLURM_TASKS_PER_NODE";
        slots = getenv(var);
    }
    if ((rc = fmx_hostlist_expand(nodes, &names, &n, &why))) {
        fmx_errprintf(err, "the Slurm allocation's node list (SLURM_JOB_NODELIST=%s): %s", nodes,
                      why.text);
        return rc;
    }
    if (slots && *slots && (rc = fmx_counts_expand(slots, &counts, &ncounts, &why))) {
        fmx_errprintf(err, "the Slurm allocation's slots (%s=%s): %s", var, slots, why.text);
        fmx_hostlist_free(names, n);
        return rc;
    }
    if (counts && ncounts != n) {
        fmx_errprintf(err,
                      "the Slurm allocation names %zu node(s) (SLURM_JOB_NODELIST=%s) but %s=%s "
                      "gives %zu count(s)",
                      n, nodes, var, slots, ncounts);
        rc = -EINVAL;
    }
    for (size_t i = 0; !rc && i < n; i++)
        if ((rc =
                 fmx_jobmap_add_node(map, names[i], names[i], counts && counts[i] ? counts[i] : 1)))
            fmx_errprintf(err, "out of memory");
    free(counts);
    fmx_hostlist_free(names, n);
    return rc ? rc : 1;
}

long fmx_slurm_node_index(fmx_error_t *err)
{
    const char *nodes = getenv("SLURM_JOB_NODELIST"), *me = getenv("SLURMD_NODENAME");
    fmx_error_t why = {{0}};
    char **names = NULL;
    size_t n = 0;
    long at = -1;

    if (!nodes || !*nodes || !me || !*me) {
        fmx_errprintf(err, "%s is not set (not started by srun?)",
                      !nodes || !*nodes ? "SLURM_JOB_NODELIST" : "SLURMD_NODENAME");
        return -1;
    }
    if (fmx_hostlist_expand(nodes, &names, &n, &why)) {
        fmx_errprintf(err, "SLURM_JOB_NODELIST=%s: %s", nodes, why.text);
        return -1;
    }
    for (size_t i = 0; i < n && at < 0; i++)
        if (!strcmp(names[i], me))
            at = (long)i;
    if (at < 0)
        fmx_errprintf(err, "this node (SLURMD_NODENAME=%s) is not in SLURM_JOB_NODELIST=%s", me,
                      nodes);
    fmx_hostlist_free(names, n);
    return at;
}
