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
    static const char *const host_fns[] = {
        "fence_nb",         "direct_modex",     "abort", "log", "query",
        "client_connected", "client_finalized", NULL};
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

static void release(void *cbdata)
{
    struct req *r = cbdata;

    PMIX_INFO_FREE(r->results, r->nresults);
    fmx_glue_free_req(r);
}

/* Answers r (a REQ_QUERY) and completes its callback; the request is freed by release(). */
void fmx_glue_run_query(fmx_glue_t *g, struct req *r)
{
    size_t asked = 0, answered = 0;
    pmix_status_t st;

    for (size_t q = 0; q < r->nqueries; q++)
        for (char **k = r->queries[q].keys; k && *k; k++)
            asked++;
    PMIX_INFO_CREATE(r->results, asked ? asked : 1);
    for (size_t q = 0; r->results && q < r->nqueries; q++)
        for (char **k = r->queries[q].keys; k && *k; k++)
            answered += (size_t)answer(g, *k, &r->results[answered]);
    r->nresults = asked ? asked : 1; /* what PMIX_INFO_FREE releases */
    st = !r->results                 ? PMIX_ERR_NOMEM
        : answered == asked && asked ? PMIX_SUCCESS
        : answered                   ? PMIX_QUERY_PARTIAL_SUCCESS
                                     : PMIX_ERR_NOT_SUPPORTED;
    r->info_cb(st, answered ? r->results : NULL, answered, r->cbdata, release, r);
}
