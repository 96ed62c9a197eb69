/* The job map (fmx_jobmap.h). */
#include "fmx_jobmap.h"

#include <stdlib.h>
#include <string.h>

int fmx_jobmap_add_node(fmx_jobmap_t *map, const char *host, const char *name, uint32_t slots)
{
    fmx_node_t *n;

    for (uint32_t i = 0; i < map->nnodes; i++) {
        if (!strcmp(map->nodes[i].name, name)) {
            map->nodes[i].slots += slots;
            return 0;
        }
    }
    n = realloc(map->nodes, (map->nnodes + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    map->nodes = n;
    n = &map->nodes[map->nnodes];
    memset(n, 0, sizeof(*n));
    n->host = strdup(host);
    n->name = strdup(name);
    n->slots = slots;
    if (!n->host || !n->name) {
        free(n->host);
        free(n->name);
        return -ENOMEM;
    }
    map->nnodes++;
    return 0;
}

static void free_nspace(fmx_nspace_map_t *ns)
{
    free(ns->name);
    free(ns->node_of);
    free(ns->by_node);
    free(ns->node_start);
}

int fmx_jobmap_add_nspace(fmx_jobmap_t *map, const char *name, uint32_t size,
                          const uint32_t *node_of, fmx_error_t *err)
{
    fmx_nspace_map_t ns = {0}, *grown;

    if (fmx_jobmap_nspace(map, name)) {
        fmx_errprintf(err, "namespace %s is in the job already", name);
        return -EEXIST;
    }
    for (uint32_t r = 0; r < size; r++)
        if (node_of[r] >= map->nnodes) {
            fmx_errprintf(err, "namespace %s places rank %u on node %u of %u", name, r, node_of[r],
                          map->nnodes);
            return -EINVAL;
        }
    ns.name = strdup(name);
    ns.size = size;
    ns.node_of = malloc((size ? size : 1) * sizeof(*ns.node_of));
    ns.by_node = malloc((size ? size : 1) * sizeof(*ns.by_node));
    ns.node_start = calloc((size_t)map->nnodes + 1, sizeof(*ns.node_start));
    grown = realloc(map->nspaces, (map->nnspaces + 1) * sizeof(*grown));
    if (grown)
        map->nspaces = grown;
    if (!ns.name || !ns.node_of || !ns.by_node || !ns.node_start || !grown) {
        free_nspace(&ns);
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    if (size)
        memcpy(ns.node_of, node_of, size * sizeof(*node_of));
    /* a counting sort keeps each node's ranks ascending; node_start[i + 1] serves as node i's
     * fill position and ends as its end */
    for (uint32_t r = 0; r < size; r++)
        ns.node_start[node_of[r] + 1]++;
    for (uint32_t i = 0; i < map->nnodes; i++)
        ns.node_start[i + 1] += ns.node_start[i];
    for (uint32_t i = map->nnodes; i > 0; i--)
        ns.node_start[i] = ns.node_start[i - 1];
    for (uint32_t r = 0; r < size; r++)
        ns.by_node[ns.node_start[node_of[r] + 1]++] = r;
    map->nspaces[map->nnspaces++] = ns;
    return 0;
}

const fmx_nspace_map_t *fmx_jobmap_nspace(const fmx_jobmap_t *map, const char *name)
{
    for (uint32_t i = 0; i < map->nnspaces; i++)
        if (!strcmp(map->nspaces[i].name, name))
            return &map->nspaces[i];
    return NULL;
}

uint32_t fmx_jobmap_nprocs(const fmx_jobmap_t *map)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < map->nnspaces; i++)
        n += map->nspaces[i].size;
    return n;
}

uint32_t fmx_jobmap_node_procs(const fmx_jobmap_t *map, uint32_t node)
{
    uint32_t n = 0;

    for (uint32_t k = 0; k < map->nnspaces; k++)
        n += fmx_nspace_local_count(&map->nspaces[k], node);
    return n;
}

uint32_t fmx_jobmap_base(const fmx_jobmap_t *map, const fmx_nspace_map_t *ns)
{
    uint32_t base = 0;

    for (uint32_t i = 0; i < map->nnspaces && &map->nspaces[i] != ns; i++)
        base += map->nspaces[i].size;
    return base;
}

const fmx_nspace_map_t *fmx_jobmap_proc(const fmx_jobmap_t *map, uint32_t g, uint32_t *rank)
{
    for (uint32_t i = 0; i < map->nnspaces; i++) {
        if (g < map->nspaces[i].size) {
            *rank = g;
            return &map->nspaces[i];
        }
        g -= map->nspaces[i].size;
    }
    return NULL;
}

void fmx_jobmap_free(fmx_jobmap_t *map)
{
    for (uint32_t i = 0; i < map->nnodes; i++) {
        free(map->nodes[i].host);
        free(map->nodes[i].name);
    }
    for (uint32_t i = 0; i < map->nnspaces; i++)
        free_nspace(&map->nspaces[i]);
    free(map->nodes);
    free(map->nspaces);
    memset(map, 0, sizeof(*map));
}
