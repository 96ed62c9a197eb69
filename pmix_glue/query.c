/* PMIx_Query_info answered by a pmixd: what it knows of the job without asking anyone. One
 * info per key answered, named by that key and of a plain type, which is what clients of
 * libpmix 4.2 read (OpenPMIx's own hello example prints each value by its type, and would
 * crash on a nested PMIX_QUERY_RESULTS array). Keys it does not know are left out:
 * PMIX_QUERY_PARTIAL_SUCCESS when some were answered, PMIX_ERR_NOT_SUPPORTED when none were. */
#include "glue_internal.h"

#include <stdlib.h>
#include <string.h>

/* the keys answered here, for PMIX_QUERY_SUPPORTED_KEYS */
static const char *const known[] = {PMIX_QUERY_SUPPORTED_KEYS,
                                    PMIX_QUERY_NAMESPACES,
                                    PMIX_QUERY_NUM_PSETS,
                                    PMIX_QUERY_PSET_NAMES,
                                    PMIX_QUERY_NUM_GROUPS,
                                    PMIX_QUERY_GROUP_NAMES,
                                    PMIX_HOST_FUNCTIONS,
                                    PMIX_JOB_SIZE,
                                    PMIX_NUM_NODES,
                                    NULL};

static char *joined(const char *const *v)
{
    size_t len = 1;
    char *s;

    for (size_t i = 0; v[i]; i++)
        len += strlen(v[i]) + 1;
    if (!(s = calloc(1, len)))
        return NULL;
    for (size_t i = 0; v[i]; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, v[i]);
    }
    return s;
}

/* One answer into *out; 0 when the key is not one of ours. */
static int answer(fmx_glue_t *g, const char *key, pmix_info_t *out)
{
    static const char *const host_fns[] = {"fence_nb",
                                           "direct_modex",
                                           "abort",
                                           "log",
                                           "query",
                                           "publish",
                                           "lookup",
                                           "unpublish",
                                           "job_control",
                                           "notify_event",
                                           "group",
                                           "client_connected",
                                           "client_finalized",
                                           NULL};
    size_t zero = 0;
    uint32_t u;
    char *s;

    if (!strcmp(key, PMIX_QUERY_SUPPORTED_KEYS) || !strcmp(key, PMIX_HOST_FUNCTIONS)) {
        if (!(s = joined(strcmp(key, PMIX_HOST_FUNCTIONS) ? known : host_fns)))
            return 0;
        PMIX_INFO_LOAD(out, key, s, PMIX_STRING);
        free(s);
    } else if (!strcmp(key, PMIX_QUERY_NAMESPACES)) {
        PMIX_INFO_LOAD(out, key, g->job.nspace, PMIX_STRING);
    } else if (!strcmp(key, PMIX_QUERY_NUM_PSETS) || !strcmp(key, PMIX_QUERY_NUM_GROUPS)) {
        PMIX_INFO_LOAD(out, key, &zero, PMIX_SIZE); /* none are defined */
    } else if (!strcmp(key, PMIX_QUERY_PSET_NAMES)) {
        PMIX_INFO_LOAD(out, key, "", PMIX_STRING);
    } else if (!strcmp(key, PMIX_JOB_SIZE)) {
        u = g->ns->size;
        PMIX_INFO_LOAD(out, key, &u, PMIX_UINT32);
    } else if (!strcmp(key, PMIX_NUM_NODES)) {
        u = g->job.map->nnodes;
        PMIX_INFO_LOAD(out, key, &u, PMIX_UINT32);
    } else {
        return 0;
    }
    return 1;
}

struct query {
    struct req base;
    pmix_query_t *queries; /* a copy of the client's */
    size_t nqueries;
    pmix_info_t *results; /* the answer, until libpmix releases it */
    size_t nresults;
    pmix_info_cbfunc_t cb;
    void *cbdata;
};

static void query_free(struct query *q)
{
    if (q->queries)
        PMIX_QUERY_FREE(q->queries, q->nqueries);
    if (q->results)
        PMIX_INFO_FREE(q->results, q->nresults);
    free(q);
}

static void release(void *cbdata)
{
    query_free(cbdata);
}

/* Answers every key it knows and completes the callback; release() frees the request. */
static void run_query(fmx_glue_t *g, struct req *r)
{
    struct query *q = (struct query *)r;
    size_t asked = 0, answered = 0;
    pmix_status_t st;

    for (size_t i = 0; i < q->nqueries; i++)
        for (char **k = q->queries[i].keys; k && *k; k++)
            asked++;
    PMIX_INFO_CREATE(q->results, asked ? asked : 1);
    for (size_t i = 0; q->results && i < q->nqueries; i++)
        for (char **k = q->queries[i].keys; k && *k; k++)
            answered += (size_t)answer(g, *k, &q->results[answered]);
    q->nresults = asked ? asked : 1; /* what PMIX_INFO_FREE releases */
    st = !q->results                 ? PMIX_ERR_NOMEM
        : answered == asked && asked ? PMIX_SUCCESS
        : answered                   ? PMIX_QUERY_PARTIAL_SUCCESS
                                     : PMIX_ERR_NOT_SUPPORTED;
    q->cb(st, answered ? q->results : NULL, answered, q->cbdata, release, q);
}

static void cancel_query(fmx_glue_t *g, struct req *r)
{
    struct query *q = (struct query *)r;

    if (fmx_glue_pmix_alive(g))
        q->cb(PMIX_ERR_UNREACH, NULL, 0, q->cbdata, NULL, NULL);
    query_free(q);
}

static const struct req_ops query_ops = {
    .needs_engine = 0, .run = run_query, .cancel = cancel_query};

pmix_status_t fmx_glue_up_query(pmix_proc_t *proct, pmix_query_t *queries, size_t nqueries,
                                pmix_info_cbfunc_t cbfunc, void *cbdata)
{
    struct query *q;

    (void)proct;
    if (!nqueries || !cbfunc)
        return PMIX_ERR_BAD_PARAM;
    if (!(q = calloc(1, sizeof(*q))))
        return PMIX_ERR_NOMEM;
    q->base.ops = &query_ops;
    PMIX_QUERY_CREATE(q->queries, nqueries);
    if (!q->queries) {
        free(q);
        return PMIX_ERR_NOMEM;
    }
    q->nqueries = nqueries;
    for (size_t i = 0; i < nqueries; i++) {
        q->queries[i].keys = pmix_argv_copy(queries[i].keys);
        if (queries[i].nqual) {
            PMIX_INFO_CREATE(q->queries[i].qualifiers, queries[i].nqual);
            q->queries[i].nqual = queries[i].nqual;
            for (size_t k = 0; k < queries[i].nqual; k++)
                PMIX_INFO_XFER(&q->queries[i].qualifiers[k], &queries[i].qualifiers[k]);
        }
    }
    q->cb = cbfunc;
    q->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &q->base);
    return PMIX_SUCCESS;
}
