/* The information a namespace is registered with: job-level keys (sizes, node and proc maps),
 * this node's keys (local size and peers), and for every rank of the job, local or not, its
 * local rank, node rank, node id and hostname. Types follow what clients check exactly (Open
 * MPI fails on a uint16 local rank registered as uint32). */
#include "glue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct infos {
    pmix_info_t *v;
    size_t n, cap;
};

static pmix_info_t *next_info(struct infos *in)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 32;
        pmix_info_t *v;
        PMIX_INFO_CREATE(v, cap);
        if (!v)
            return NULL;
        for (size_t i = 0; i < in->n; i++)
            PMIX_INFO_XFER(&v[i], &in->v[i]);
        if (in->v)
            PMIX_INFO_FREE(in->v, in->cap);
        in->v = v;
        in->cap = cap;
    }
    return &in->v[in->n++];
}

#define ADD(in, key, val, type)                                                                    \
    do {                                                                                           \
        pmix_info_t *i_ = next_info(in);                                                           \
        if (!i_)                                                                                   \
            return -ENOMEM;                                                                        \
        PMIX_INFO_LOAD(i_, key, val, type);                                                        \
    } while (0)

/* "a,b,c" of the node names that run ranks, and "0,1;2,3" of their ranks. */
static int maps(const fmx_jobmap_t *map, const fmx_nspace_map_t *ns, char **nodes, char **procs)
{
    size_t nlen = 1, plen = 1;
    char *n, *p;

    for (uint32_t i = 0; i < map->nnodes; i++) {
        nlen += strlen(map->nodes[i].name) + 1;
        plen += (size_t)fmx_nspace_local_count(ns, i) * 11 + 1;
    }
    n = calloc(1, nlen);
    p = calloc(1, plen);
    if (!n || !p) {
        free(n);
        free(p);
        return -ENOMEM;
    }
    for (uint32_t i = 0, first = 1; i < map->nnodes; i++) {
        uint32_t count = fmx_nspace_local_count(ns, i);
        const uint32_t *ranks = fmx_nspace_local_ranks(ns, i);

        if (!count)
            continue;
        if (!first) {
            strcat(n, ",");
            strcat(p, ";");
        }
        first = 0;
        strcat(n, map->nodes[i].name);
        for (uint32_t r = 0; r < count; r++)
            sprintf(p + strlen(p), r ? ",%u" : "%u", ranks[r]);
    }
    *nodes = n;
    *procs = p;
    return 0;
}

/* PMIX_CPUSET and PMIX_LOCALITY_STRING of a local rank, from its hwloc cpuset. */
static int add_locality(pmix_info_t *d, void *bitmap)
{
    pmix_cpuset_t cs = {.source = "hwloc", .bitmap = bitmap};
    char *cpus = NULL, *loc = NULL;

    if (PMIx_server_generate_cpuset_string(&cs, &cpus) != PMIX_SUCCESS ||
        PMIx_server_generate_locality_string(&cs, &loc) != PMIX_SUCCESS) {
        free(cpus);
        return -EINVAL;
    }
    PMIX_INFO_LOAD(&d[0], PMIX_CPUSET, cpus, PMIX_STRING);
    PMIX_INFO_LOAD(&d[1], PMIX_LOCALITY_STRING, loc, PMIX_STRING);
    free(cpus);
    free(loc);
    return 0;
}

/* rank is the local-th of its node's; app its application */
static int add_proc_data(struct infos *in, const fmx_glue_job_t *job, uint32_t node, uint32_t rank,
                         uint32_t local_index, uint32_t app)
{
    pmix_info_t *pi = next_info(in), *d;
    pmix_data_array_t *darray;
    pmix_rank_t r = rank;
    uint16_t local = (uint16_t)local_index;
    int here = node == job->self && job->local_cpusets;

    if (!pi)
        return -ENOMEM;
    PMIX_DATA_ARRAY_CREATE(darray, here ? 8 : 6, PMIX_INFO);
    if (!darray)
        return -ENOMEM;
    d = darray->array;
    PMIX_INFO_LOAD(&d[0], PMIX_RANK, &r, PMIX_PROC_RANK);
    PMIX_INFO_LOAD(&d[1], PMIX_LOCAL_RANK, &local, PMIX_UINT16);
    PMIX_INFO_LOAD(&d[2], PMIX_NODE_RANK, &local, PMIX_UINT16);
    PMIX_INFO_LOAD(&d[3], PMIX_NODEID, &node, PMIX_UINT32);
    PMIX_INFO_LOAD(&d[4], PMIX_HOSTNAME, job->map->nodes[node].name, PMIX_STRING);
    PMIX_INFO_LOAD(&d[5], PMIX_APPNUM, &app, PMIX_UINT32);
    if (here && add_locality(&d[6], job->local_cpusets[local])) {
        PMIX_DATA_ARRAY_FREE(darray);
        return -EINVAL;
    }
    PMIX_LOAD_KEY(pi->key, PMIX_PROC_DATA);
    pi->value.type = PMIX_DATA_ARRAY;
    pi->value.data.darray = darray;
    return 0;
}

int fmx_glue_job_info(const fmx_glue_job_t *job, const fmx_nspace_map_t *ns,
                      const pmix_proc_t *parent, const uint32_t *app_of, pmix_info_t **out,
                      size_t *nout)
{
    struct infos in = {0};
    const fmx_jobmap_t *map = job->map;
    bool spawned = parent != NULL;
    uint32_t self = job->self, zero = 0, nnodes = 0;
    uint32_t nlocal = fmx_nspace_local_count(ns, self);
    const uint32_t *local = fmx_nspace_local_ranks(ns, self);
    char *nodes = NULL, *procs = NULL, *node_regex = NULL, *proc_regex = NULL, *peers;
    pmix_rank_t leader = nlocal ? local[0] : 0;
    uint32_t session = 0;
    int rc;

    for (const char *c = job->nspace; *c; c++) /* the job's, on every node, for all it spawns */
        session = session * 31u + (uint8_t)*c;

    for (uint32_t i = 0; i < map->nnodes; i++)
        nnodes += fmx_nspace_local_count(ns, i) != 0;
    if ((rc = maps(map, ns, &nodes, &procs)))
        return rc;
    if (PMIx_generate_regex(nodes, &node_regex) != PMIX_SUCCESS ||
        PMIx_generate_ppn(procs, &proc_regex) != PMIX_SUCCESS) {
        free(nodes);
        free(procs);
        return -EINVAL;
    }
    free(nodes);
    free(procs);
    peers = calloc(1, (size_t)nlocal * 11 + 1);
    if (!peers)
        return -ENOMEM;
    for (uint32_t r = 0; r < nlocal; r++)
        sprintf(peers + strlen(peers), r ? ",%u" : "%u", local[r]);

    /* libpmix files what follows a session id under the session: it goes first */
    ADD(&in, PMIX_SESSION_ID, &session, PMIX_UINT32);
    ADD(&in, PMIX_UNIV_SIZE, &ns->size, PMIX_UINT32);
    ADD(&in, PMIX_JOB_SIZE, &ns->size, PMIX_UINT32);
    ADD(&in, PMIX_MAX_PROCS, &ns->size, PMIX_UINT32);
    ADD(&in, PMIX_JOBID, ns->name, PMIX_STRING);
    ADD(&in, PMIX_APPNUM, &zero, PMIX_UINT32);
    ADD(&in, PMIX_NUM_NODES, &nnodes, PMIX_UINT32);
    ADD(&in, PMIX_NODE_MAP, node_regex, PMIX_REGEX);
    ADD(&in, PMIX_PROC_MAP, proc_regex, PMIX_REGEX);
    ADD(&in, PMIX_LOCAL_SIZE, &nlocal, PMIX_UINT32);
    ADD(&in, PMIX_NODE_SIZE, &nlocal, PMIX_UINT32);
    ADD(&in, PMIX_LOCAL_PEERS, peers, PMIX_STRING);
    ADD(&in, PMIX_LOCALLDR, &leader, PMIX_PROC_RANK);
    ADD(&in, PMIX_NODEID, &self, PMIX_UINT32);
    ADD(&in, PMIX_HOSTNAME, map->nodes[self].name, PMIX_STRING);
    if (!strcmp(fmx_glue_gds(), "fmx")) /* the server's store is the ranks' */
        ADD(&in, PMIX_GDS_MODULE, "fmx", PMIX_STRING);
    ADD(&in, PMIX_TMPDIR, job->tmpdir, PMIX_STRING);
    ADD(&in, PMIX_NSDIR, job->tmpdir, PMIX_STRING);
    if (spawned) {
        ADD(&in, PMIX_PARENT_ID, parent, PMIX_PROC);
        ADD(&in, PMIX_SPAWNED, &spawned, PMIX_BOOL);
    }
    free(peers);
    free(node_regex);
    free(proc_regex);
    for (uint32_t node = 0; node < map->nnodes; node++)
        for (uint32_t k = 0; k < fmx_nspace_local_count(ns, node); k++)
            if ((rc = add_proc_data(&in, job, node, fmx_nspace_local_ranks(ns, node)[k], k,
                                    app_of ? app_of[fmx_nspace_local_ranks(ns, node)[k]] : 0)))
                return rc;
    *out = in.v;
    *nout = in.n;
    return 0;
}
