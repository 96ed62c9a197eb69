/* Shared inside pmix_glue/ only: the one place that includes the PMIx server header. */
#ifndef FMX_GLUE_INTERNAL_H
#define FMX_GLUE_INTERNAL_H

#include "glue.h"

#include <pmix.h>
#include <pmix_server.h>

#include <pthread.h>

enum req_kind {
    REQ_FENCE,
    REQ_DMODEX,
    REQ_DMODEX_ANSWER,
    REQ_ABORT,
    REQ_LOG,
    REQ_FINALIZED,
    REQ_QUERY
};

struct req {
    struct req *next;
    enum req_kind kind;
    fmx_glue_t *g;
    pmix_proc_t proc; /* the client, or the rank asked for */
    pmix_proc_t *procs; /* fence participants, sorted */
    size_t nprocs;
    int collect;
    uint64_t timeout_ms;
    char *data; /* fence blob, direct modex answer, or message */
    size_t ndata;
    int status;
    fmx_dmodex_req_t *token; /* the engine request a direct modex answer belongs to */
    pmix_modex_cbfunc_t modex_cb;
    pmix_op_cbfunc_t op_cb;
    pmix_query_t *queries; /* a query's copy, and its answer until libpmix releases it */
    size_t nqueries;
    pmix_info_t *results;
    size_t nresults;
    pmix_info_cbfunc_t info_cb;
    void *cbdata;
};

struct fmx_glue {
    fmx_glue_job_t job; /* with its own copies of nspace and tmpdir */
    const fmx_nspace_map_t *ns; /* the job's namespace in job.map */
    fmx_engine_t *eng;
    fmx_glue_host_t host;
    void *host_arg;
    int efd;
    pthread_mutex_t lock;
    struct req *head, *tail;
    /* fences and direct modex requests that came before the engine, in order (loop only) */
    struct req *early, **early_tail;
    /* libpmix's copy of the PMIX_TOPOLOGY2 value: it points at it until PMIx_server_finalize,
     * and the glue frees it after (the hwloc topology inside is the caller's) */
    void *topology_copy;
};

/* server.c: the module, the one glue of this process, and what setup.c needs of it */
extern pmix_server_module_t fmx_glue_module;
extern fmx_glue_t *fmx_glue_current;
void fmx_glue_free_req(struct req *r);
void fmx_glue_on_engine_dmodex(void *arg, uint32_t from, const void *key, size_t keylen,
                               fmx_dmodex_req_t *token);

/* query.c: answers a REQ_QUERY and completes it; the request is freed when libpmix releases
 * the answer. */
void fmx_glue_run_query(fmx_glue_t *g, struct req *r);

/* The namespace's info array (register.c); free with PMIX_INFO_FREE(info, n). */
int fmx_glue_job_info(const fmx_glue_job_t *job, pmix_info_t **out, size_t *nout);

#endif
