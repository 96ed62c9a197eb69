/* Core binding and cpusets from hwloc (see bind.h). */
#include "bind.h"

#include <hwloc.h>
#include <stdlib.h>
#include <string.h>

static void to_mask(hwloc_const_bitmap_t set, cpu_set_t *mask)
{
    int pu;

    CPU_ZERO(mask);
    hwloc_bitmap_foreach_begin(pu, set) if (pu < CPU_SETSIZE) CPU_SET(pu, mask);
    hwloc_bitmap_foreach_end();
}

static hwloc_topology_t topology;

void *fmx_topology(fmx_error_t *err)
{
    if (!topology && (hwloc_topology_init(&topology) || hwloc_topology_load(topology))) {
        if (topology)
            hwloc_topology_destroy(topology);
        topology = NULL;
        fmx_errprintf(err, "hwloc cannot read this machine's topology");
    }
    return topology;
}

int fmx_binding_compute(fmx_binding_t *b, uint32_t nranks, int bind_core, fmx_error_t *err)
{
    hwloc_topology_t topo = fmx_topology(err);
    int ncores;

    memset(b, 0, sizeof(*b));
    if (!topo)
        return -EIO;
    ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (ncores <= 0) /* some virtual machines show no cores: bind to processing units */
        ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    b->nranks = nranks;
    b->bound = bind_core;
    b->ncores = (uint32_t)(ncores > 0 ? ncores : 1);
    b->bitmaps = calloc(nranks ? nranks : 1, sizeof(*b->bitmaps));
    b->masks = calloc(nranks ? nranks : 1, sizeof(*b->masks));
    if (!b->bitmaps || !b->masks) {
        fmx_binding_free(b);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nranks; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (int)(i % b->ncores));
        hwloc_const_bitmap_t set = hwloc_topology_get_allowed_cpuset(topo);

        if (!core)
            core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (int)(i % b->ncores));
        if (bind_core && core && core->cpuset)
            set = core->cpuset;
        b->bitmaps[i] = hwloc_bitmap_dup(set);
        to_mask(set, &b->masks[i]);
    }
    return 0;
}

char *fmx_binding_list(const fmx_binding_t *b, uint32_t i)
{
    char *s = NULL;

    if (i >= b->nranks || hwloc_bitmap_list_asprintf(&s, b->bitmaps[i]) < 0)
        return NULL;
    return s;
}

void fmx_binding_free(fmx_binding_t *b)
{
    for (uint32_t i = 0; b->bitmaps && i < b->nranks; i++)
        hwloc_bitmap_free(b->bitmaps[i]);
    free(b->bitmaps);
    free(b->masks);
    memset(b, 0, sizeof(*b));
}
