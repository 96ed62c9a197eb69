/* PMIx_Query_info answered by a pmixd: what it knows of the job without asking anyone. One
 * PMIX_QUERY_RESULTS entry per query (its qualifiers first, as the standard lays out, then one
 * info per key answered). Keys it does not know are left out: PMIX_QUERY_PARTIAL_SUCCESS when
 * some were answered, PMIX_ERR_NOT_SUPPORTED when none were. */
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
    } else if (!strcmp(key, PMIX_QUERY_GROUP_NAMES)) {
        pmix_data_array_t none = {.type = PMIX_STRING, .size = 0, .array = NULL};
        PMIX_INFO_LOAD(out, key, &none, PMIX_DATA_ARRAY);
    } else if (!strcmp(key, PMIX_JOB_SIZE)) {
        u = g->job.size;
        PMIX_INFO_LOAD(out, key, &u, PMIX_UINT32);
    } else if (!strcmp(key, PMIX_NUM_NODES)) {
        u = g->job.nnodes;
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

    PMIX_INFO_CREATE(r->results, r->nqueries);
    r->nresults = r->nqueries;
    for (size_t q = 0; r->results && q < r->nqueries; q++) {
        pmix_query_t *qu = &r->queries[q];
        size_t nkeys = 0, n = 0;
        pmix_info_t *res;

        while (qu->keys && qu->keys[nkeys])
            nkeys++;
        asked += nkeys;
        PMIX_INFO_CREATE(res, nkeys + 1);
        if (!res)
            break;
        if (qu->nqual) {
            pmix_data_array_t quals = {
                .type = PMIX_INFO, .size = qu->nqual, .array = qu->qualifiers};
            PMIX_INFO_LOAD(&res[n], PMIX_QUERY_QUALIFIERS, &quals, PMIX_DATA_ARRAY);
            n++;
        }
        for (size_t k = 0; k < nkeys; k++)
            if (answer(g, qu->keys[k], &res[n])) {
                n++;
                answered++;
            }
        pmix_data_array_t arr = {.type = PMIX_INFO, .size = n, .array = res};
        PMIX_INFO_LOAD(&r->results[q], PMIX_QUERY_RESULTS, &arr, PMIX_DATA_ARRAY);
        PMIX_INFO_FREE(res, nkeys + 1);
    }
    st = !r->results        ? PMIX_ERR_NOMEM
        : answered == asked ? PMIX_SUCCESS
        : answered          ? PMIX_QUERY_PARTIAL_SUCCESS
                            : PMIX_ERR_NOT_SUPPORTED;
    r->info_cb(st, r->results, r->results ? r->nresults : 0, r->cbdata, release, r);
}
