/* Packing and unpacking the JOB control message (see jobspec.h). */
#include "jobspec.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NODES (1u << 20)
#define MAX_ARGS (1u << 16)

void fmx_jobspec_pack(const fmx_jobspec_t *js, fmx_pack_t *p)
{
    fmx_pack_str(p, js->nspace);
    fmx_pack_u32(p, js->self);
    fmx_pack_u32(p, js->map.nnodes);
    for (uint32_t i = 0; i < js->map.nnodes; i++) {
        fmx_pack_str(p, js->map.nodes[i].host);
        fmx_pack_str(p, js->map.nodes[i].name);
        fmx_pack_u32(p, js->map.nodes[i].slots);
    }
    fmx_pack_u32(p, js->map.nnspaces);
    for (uint32_t i = 0; i < js->map.nnspaces; i++) {
        const fmx_nspace_map_t *ns = &js->map.nspaces[i];

        fmx_pack_str(p, ns->name);
        fmx_pack_bytes(p, ns->node_of, (size_t)ns->size * sizeof(*ns->node_of));
    }
    fmx_pack_u32(p, js->argc);
    for (uint32_t i = 0; i < js->argc; i++)
        fmx_pack_str(p, js->argv[i]);
    fmx_pack_u32(p, js->nenv);
    for (uint32_t i = 0; i < js->nenv; i++)
        fmx_pack_str(p, js->env[i]);
    fmx_pack_u32(p, js->ndenv);
    for (uint32_t i = 0; i < js->ndenv; i++)
        fmx_pack_str(p, js->denv[i]);
    fmx_pack_str(p, js->wdir);
    fmx_pack_u32(p, js->flags);
    fmx_pack_u32(p, js->timeout_ms);
}

/* The nodes and the namespaces' placements; 0, or -1 when malformed. */
static int unpack_map(fmx_jobmap_t *map, fmx_pack_t *p)
{
    fmx_error_t err;
    uint32_t n = fmx_unpack_u32(p), nns;

    if (p->err || n == 0 || n > MAX_NODES)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        char *host = fmx_unpack_str(p), *name = fmx_unpack_str(p);
        uint32_t slots = fmx_unpack_u32(p);
        int bad = p->err || fmx_jobmap_add_node(map, host, name, slots) || map->nnodes != i + 1;

        free(host);
        free(name);
        if (bad) /* a name given twice merges into one node: malformed too */
            return -1;
    }
    nns = fmx_unpack_u32(p);
    if (p->err || nns == 0 || nns > MAX_NODES)
        return -1;
    for (uint32_t i = 0; i < nns; i++) {
        char *name = fmx_unpack_str(p);
        size_t len = 0;
        const void *node_of = fmx_unpack_bytes(p, &len);
        uint32_t *copy = len ? malloc(len) : NULL;
        /* a namespace has ranks (memcpy of none would also pass a NULL pointer) */
        int bad = p->err || !name || !len || len % sizeof(uint32_t) || !copy;

        if (!bad) {
            memcpy(copy, node_of, len); /* the message need not be aligned */
            bad = fmx_jobmap_add_nspace(map, name, (uint32_t)(len / sizeof(uint32_t)), copy, &err);
        }
        free(copy);
        free(name);
        if (bad)
            return -1;
    }
    return 0;
}

int fmx_jobspec_unpack(fmx_jobspec_t *js, fmx_pack_t *p, const char *from, fmx_error_t *err)
{
    memset(js, 0, sizeof(*js));
    js->nspace = fmx_unpack_str(p);
    js->self = fmx_unpack_u32(p);
    if (p->err || unpack_map(&js->map, p) || js->self >= js->map.nnodes ||
        !fmx_jobmap_nspace(&js->map, js->nspace))
        goto bad;
    js->argc = fmx_unpack_u32(p);
    if (p->err || js->argc == 0 || js->argc > MAX_ARGS ||
        !(js->argv = fmx_unpack_strings(p, js->argc)))
        goto bad;
    js->nenv = fmx_unpack_u32(p);
    if (p->err || js->nenv > MAX_ARGS || !(js->env = fmx_unpack_strings(p, js->nenv)))
        goto bad;
    js->ndenv = fmx_unpack_u32(p);
    if (p->err || js->ndenv > MAX_ARGS || !(js->denv = fmx_unpack_strings(p, js->ndenv)))
        goto bad;
    for (uint32_t i = 0; i < js->ndenv; i++)
        if (!js->denv[i] || !strchr(js->denv[i], '='))
            goto bad;
    js->wdir = fmx_unpack_str(p);
    js->flags = fmx_unpack_u32(p);
    js->timeout_ms = fmx_unpack_u32(p);
    if (p->err || p->pos != p->len)
        goto bad;
    return 0;
bad:
    fmx_errprintf(err, "malformed job description from %s", from);
    fmx_jobspec_free(js);
    return -EPROTO;
}

static void free_strings(char **v, uint32_t n)
{
    for (uint32_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void fmx_jobspec_free(fmx_jobspec_t *js)
{
    free(js->nspace);
    fmx_jobmap_free(&js->map);
    free_strings(js->argv, js->argc);
    free_strings(js->env, js->nenv);
    free_strings(js->denv, js->ndenv);
    free(js->wdir);
    memset(js, 0, sizeof(*js));
}
