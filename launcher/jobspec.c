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
    fmx_pack_u32(p, js->map.size);
    fmx_pack_u32(p, js->map.nnodes);
    for (uint32_t i = 0; i < js->map.nnodes; i++) {
        fmx_pack_str(p, js->map.nodes[i].host);
        fmx_pack_str(p, js->map.nodes[i].name);
        fmx_pack_u32(p, js->map.nodes[i].first_rank);
        fmx_pack_u32(p, js->map.nodes[i].nranks);
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

static char **unpack_strings(fmx_pack_t *p, uint32_t n)
{
    char **v = calloc((size_t)n + 1, sizeof(*v));

    for (uint32_t i = 0; v && i < n && !p->err; i++)
        v[i] = fmx_unpack_str(p);
    return v;
}

int fmx_jobspec_unpack(fmx_jobspec_t *js, fmx_pack_t *p, const char *from, fmx_error_t *err)
{
    uint64_t ranks = 0;

    memset(js, 0, sizeof(*js));
    js->nspace = fmx_unpack_str(p);
    js->self = fmx_unpack_u32(p);
    js->map.size = fmx_unpack_u32(p);
    js->map.nnodes = fmx_unpack_u32(p);
    if (p->err || js->map.nnodes == 0 || js->map.nnodes > MAX_NODES || js->self >= js->map.nnodes)
        goto bad;
    js->map.nodes = calloc(js->map.nnodes, sizeof(*js->map.nodes));
    if (!js->map.nodes)
        goto bad;
    for (uint32_t i = 0; i < js->map.nnodes && !p->err; i++) {
        fmx_node_t *n = &js->map.nodes[i];
        n->host = fmx_unpack_str(p);
        n->name = fmx_unpack_str(p);
        n->first_rank = fmx_unpack_u32(p);
        n->nranks = fmx_unpack_u32(p);
        if (n->first_rank != ranks)
            goto bad;
        ranks += n->nranks;
    }
    if (ranks != js->map.size)
        goto bad;
    js->argc = fmx_unpack_u32(p);
    if (p->err || js->argc == 0 || js->argc > MAX_ARGS || !(js->argv = unpack_strings(p, js->argc)))
        goto bad;
    js->nenv = fmx_unpack_u32(p);
    if (p->err || js->nenv > MAX_ARGS || !(js->env = unpack_strings(p, js->nenv)))
        goto bad;
    js->ndenv = fmx_unpack_u32(p);
    if (p->err || js->ndenv > MAX_ARGS || !(js->denv = unpack_strings(p, js->ndenv)))
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
