/* PMIx_Connect and PMIx_Disconnect: a collective over the daemons hosting the processes named
 * (libpmix calls the host once its own local ones have called), keyed by the operation and
 * the processes, of any namespaces of the job (its own, and what it spawned: every daemon has
 * every namespace registered, so each side's PMIx_Get of the other's data is answered by the
 * fence data or a direct modex as within one namespace, and the collective carries none).
 * Open MPI's MPI_Comm_connect / MPI_Comm_accept between ranks of a job, and between a parent
 * and the children it spawned (MPI_Comm_spawn), run on this (their port names go through
 * publish and lookup, pubsub.c).
 *
 * Processes of another job (resident daemons only, xjob.c): the collective runs over this
 * job's processes; then the two jobs meet through the session's publish / lookup, where each
 * side's namespaces are described to the other, which registers them. A disconnect across
 * jobs is this job's collective, then a meeting that carries nothing. */
#include "glue_internal.h"

#include <stdlib.h>
#include <string.h>

struct cnct {
    struct req base;
    int disconnect;
    pmix_proc_t *procs; /* sorted */
    size_t nprocs;
    pmix_proc_t *own; /* those of this job's namespaces, when some are another job's */
    size_t nown;
    fmx_glue_t *g;
    uint64_t timeout_ms;
    pmix_op_cbfunc_t cb;
    void *cbdata;
};

static void cnct_free(struct cnct *c)
{
    free(c->procs);
    free(c->own);
    free(c);
}

static void met(void *arg, pmix_status_t status)
{
    struct cnct *c = arg;

    c->cb(status, c->cbdata);
    cnct_free(c);
}

static void cnct_done(void *arg, fmx_fence_result_t *res)
{
    struct cnct *c = arg;

    if (res->status)
        fmx_log(FMX_LOG_ERROR, "glue", "%s over %zu procs failed: %s",
                c->disconnect ? "disconnect" : "connect", c->nprocs, res->error);
    free(res->data);
    if (!res->status && c->own &&
        !fmx_glue_meet(c->g, c->disconnect ? "dcnct" : "cnct", c->procs, c->nprocs, !c->disconnect,
                       c->timeout_ms, met, c))
        return;
    c->cb(fmx_glue_status(res->status ? res->status : c->own ? -ENOMEM : 0), c->cbdata);
    cnct_free(c);
}

static void run_cnct(fmx_glue_t *g, struct req *r)
{
    struct cnct *c = (struct cnct *)r;
    const char *tag = c->disconnect ? "dcnct" : "cnct";
    int rc;

    c->g = g;
    rc = fmx_glue_job_collective(g, tag, tag, c->disconnect ? "disconnect" : "connect", c->procs,
                                 c->nprocs, &c->own, &c->nown, NULL, 0, 0, c->timeout_ms, cnct_done,
                                 c);
    if (rc) {
        c->cb(rc == -EINVAL ? PMIX_ERR_NOT_SUPPORTED : fmx_glue_status(rc), c->cbdata);
        cnct_free(c);
    }
}

static void cancel_cnct(fmx_glue_t *g, struct req *r)
{
    struct cnct *c = (struct cnct *)r;

    if (fmx_glue_pmix_alive(g))
        c->cb(PMIX_ERR_UNREACH, c->cbdata);
    cnct_free(c);
}

static const struct req_ops cnct_ops = {.needs_engine = 1, .run = run_cnct, .cancel = cancel_cnct};

static pmix_status_t post(int disconnect, const pmix_proc_t procs[], size_t nprocs,
                          const pmix_info_t info[], size_t ninfo, pmix_op_cbfunc_t cbfunc,
                          void *cbdata)
{
    struct cnct *c;

    if (!nprocs)
        return PMIX_ERR_BAD_PARAM;
    if (!(c = calloc(1, sizeof(*c))) || !(c->procs = malloc(nprocs * sizeof(*procs)))) {
        free(c);
        return PMIX_ERR_NOMEM;
    }
    c->base.ops = &cnct_ops;
    c->disconnect = disconnect;
    memcpy(c->procs, procs, nprocs * sizeof(*procs));
    qsort(c->procs, nprocs, sizeof(*procs), fmx_glue_cmp_proc);
    c->nprocs = nprocs;
    c->timeout_ms = fmx_glue_timeout(info, ninfo);
    c->cb = cbfunc;
    c->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &c->base);
    return PMIX_SUCCESS;
}

pmix_status_t fmx_glue_up_connect(const pmix_proc_t procs[], size_t nprocs,
                                  const pmix_info_t info[], size_t ninfo, pmix_op_cbfunc_t cbfunc,
                                  void *cbdata)
{
    return post(0, procs, nprocs, info, ninfo, cbfunc, cbdata);
}

pmix_status_t fmx_glue_up_disconnect(const pmix_proc_t procs[], size_t nprocs,
                                     const pmix_info_t info[], size_t ninfo,
                                     pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    return post(1, procs, nprocs, info, ninfo, cbfunc, cbdata);
}
