/* PMIx fences on the engine: fence_nb becomes an engine fence over the daemons hosting the
 * participants, keyed by a canonical collective key (the front end's prefix, then each
 * participant's namespace and rank in sorted order), which is the same on every daemon
 * whatever the memory layout of pmix_proc_t. The node blobs the engine gathers go back to
 * libpmix, which frees them through release_data.
 *
 * A fence that names processes of another job (resident daemons only, xjob.c; Open MPI's
 * MPI_Comm_disconnect between jobs is one) is this job's fence, then a meeting with the other
 * jobs through the session; the data it completes with is this job's (the other job's ranks'
 * data is read by direct modex). */
#include "glue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fence {
    struct req base;
    fmx_glue_t *g;
    pmix_proc_t *procs; /* participants, sorted */
    size_t nprocs;
    pmix_proc_t *own; /* those of this job's namespaces, when some are another job's */
    size_t nown;
    uint8_t *rdata; /* this job's part, while the meeting runs */
    size_t rtotal;
    int collect;
    uint64_t timeout_ms;
    char *data; /* libpmix's blob of the local contributions, ours to free */
    size_t ndata;
    pmix_modex_cbfunc_t cb;
    void *cbdata;
};

static void fence_free(struct fence *f)
{
    free(f->procs);
    free(f->own);
    free(f->data);
    free(f);
}

static void release_data(void *cbdata)
{
    free(cbdata);
}

int fmx_glue_cmp_proc(const void *a, const void *b)
{
    const pmix_proc_t *x = a, *y = b;
    int c = strncmp(x->nspace, y->nspace, PMIX_MAX_NSLEN);

    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

uint8_t *fmx_glue_collective_key(const char *tag, const pmix_proc_t *procs, size_t nprocs,
                                 size_t *len)
{
    size_t n = strlen(GLUE_KEY_PREFIX) + strlen(tag) + 1, at;
    uint8_t *key;

    for (size_t i = 0; i < nprocs; i++)
        n += fmx_glue_put_proc(&procs[i], NULL);
    if (!(key = malloc(n)))
        return NULL;
    at = (size_t)sprintf((char *)key, "%s%s", GLUE_KEY_PREFIX, tag) + 1;
    for (size_t i = 0; i < nprocs; i++)
        at += fmx_glue_put_proc(&procs[i], key + at);
    *len = n;
    return key;
}

static void finish(struct fence *f, int status, const char *error, uint8_t *data, size_t total)
{
    if (status)
        fmx_log(FMX_LOG_ERROR, "glue", "fence over %zu procs failed: %s", f->nprocs, error);
    /* the concatenated node blobs go to libpmix, which frees them through release_data */
    f->cb(fmx_glue_status(status), (char *)data, total, f->cbdata, release_data, data);
    fence_free(f);
}

static void met(void *arg, pmix_status_t status)
{
    struct fence *f = arg;

    if (status == PMIX_SUCCESS) {
        finish(f, 0, "", f->rdata, f->rtotal);
        return;
    }
    free(f->rdata);
    finish(f, fmx_glue_errno(status), "the other jobs' part did not come", NULL, 0);
}

static void fence_done(void *arg, fmx_fence_result_t *res)
{
    struct fence *f = arg;

    if (!res->status && f->own) { /* this job's part: then the other jobs' */
        f->rdata = res->data;
        f->rtotal = res->total;
        if (!fmx_glue_meet(f->g, "fence", f->procs, f->nprocs, 0, f->timeout_ms, met, f))
            return;
        free(res->data);
        finish(f, -ENOMEM, "out of memory", NULL, 0);
        return;
    }
    finish(f, res->status, res->error, res->data, res->total);
}

int fmx_glue_members(fmx_glue_t *g, const pmix_proc_t *procs, size_t nprocs, uint32_t *members,
                     uint32_t *count)
{
    uint32_t nnodes = g->job.map->nnodes, n = 0;
    uint8_t *in = calloc(nnodes, 1);

    if (!in)
        return -ENOMEM;
    for (size_t i = 0; i < nprocs; i++) {
        const pmix_proc_t *p = &procs[i];
        const fmx_nspace_map_t *ns = fmx_glue_nspace(g, p->nspace);

        if (!ns) {
            fmx_log(FMX_LOG_ERROR, "glue", "a collective names namespace %s, not one of the job's",
                    p->nspace);
            free(in);
            return -EINVAL;
        }
        if (p->rank != PMIX_RANK_WILDCARD && p->rank < ns->size)
            in[fmx_nspace_node_of(ns, p->rank)] = 1;
        for (uint32_t node = 0; p->rank == PMIX_RANK_WILDCARD && node < nnodes; node++)
            in[node] |= fmx_nspace_local_count(ns, node) != 0;
    }
    for (uint32_t node = 0; node < nnodes; node++)
        if (in[node])
            members[n++] = node;
    free(in);
    *count = n;
    return 0;
}

int fmx_glue_collective(fmx_glue_t *g, const char *tag, const pmix_proc_t *procs, size_t nprocs,
                        const void *blob, size_t len, int collect, uint64_t timeout_ms,
                        fmx_fence_done_f cb, void *arg)
{
    uint32_t *members = calloc(g->job.map->nnodes, sizeof(*members)), n = 0;
    fmx_fence_args_t a = {0};
    size_t keylen = 0;
    uint8_t *key = fmx_glue_collective_key(tag, procs, nprocs, &keylen);
    int rc = !members || !key ? -ENOMEM : fmx_glue_members(g, procs, nprocs, members, &n);

    if (rc == 0) {
        a.members = members;
        a.count = n;
        a.key = key;
        a.keylen = keylen;
        a.blob = blob;
        a.len = len;
        a.collect = collect;
        a.timeout_ms = timeout_ms;
        rc = fmx_fence_start(g->eng, &a, cb, arg);
    }
    free(members);
    free(key);
    return rc;
}

static void run_fence(fmx_glue_t *g, struct req *r)
{
    struct fence *f = (struct fence *)r;
    int rc;

    f->g = g;
    /* data handed to us must reach the others */
    rc = fmx_glue_job_collective(g, "", "fence", "fence", f->procs, f->nprocs, &f->own, &f->nown,
                                 f->data, f->ndata, f->collect || f->ndata, f->timeout_ms,
                                 fence_done, f);
    if (rc == 0)
        return; /* fence_done completes the request */
    f->cb(fmx_glue_status(rc), NULL, 0, f->cbdata, NULL, NULL);
    fence_free(f);
}

static void cancel_fence(fmx_glue_t *g, struct req *r)
{
    struct fence *f = (struct fence *)r;

    if (fmx_glue_pmix_alive(g))
        f->cb(PMIX_ERR_UNREACH, NULL, 0, f->cbdata, NULL, NULL);
    fence_free(f);
}

static const struct req_ops fence_ops = {
    .needs_engine = 1, .run = run_fence, .cancel = cancel_fence};

/* libpmix hands the host its blob of the local contributions (`data`, from malloc): the
 * request keeps it and frees it, whatever this returns. */
pmix_status_t fmx_glue_up_fence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t info[],
                                size_t ninfo, char *data, size_t ndata, pmix_modex_cbfunc_t cbfunc,
                                void *cbdata)
{
    struct fence *f = calloc(1, sizeof(*f));

    if (!f || !(f->procs = malloc((nprocs ? nprocs : 1) * sizeof(*procs)))) {
        free(f);
        free(data);
        return PMIX_ERR_NOMEM;
    }
    f->base.ops = &fence_ops;
    memcpy(f->procs, procs, nprocs * sizeof(*procs));
    qsort(f->procs, nprocs, sizeof(*procs), fmx_glue_cmp_proc);
    f->nprocs = nprocs;
    f->data = data;
    f->ndata = data ? ndata : 0;
    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_COLLECT_DATA))
            f->collect = PMIX_INFO_TRUE(&info[i]);
    f->timeout_ms = fmx_glue_timeout(info, ninfo);
    f->cb = cbfunc;
    f->cbdata = cbdata;
    fmx_debug("glue", "fence of %zu proc(s) from libpmix, %zu bytes", nprocs, f->ndata);
    fmx_glue_post(fmx_glue_current, &f->base);
    return PMIX_SUCCESS;
}
