/* The PMIx server module of a pmixd. Each upcall copies its arguments into one request, queues
 * it and wakes the daemon's loop; fmx_glue_dispatch() does the work there and owns the request
 * from then on: it completes the PMIx callback (now, or when the engine finishes) and frees
 * the request exactly once. Nothing here runs engine code on libpmix's thread. */
#include "glue_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* libpmix calls the module through globals: one server per process. */
fmx_glue_t *fmx_glue_current;

static void post(fmx_glue_t *g, struct req *r)
{
    uint64_t one = 1;

    pthread_mutex_lock(&g->lock);
    if (g->tail)
        g->tail->next = r;
    else
        g->head = r;
    g->tail = r;
    pthread_mutex_unlock(&g->lock);
    if (write(g->efd, &one, sizeof(one)) < 0)
        fmx_log(FMX_LOG_ERROR, "glue", "cannot wake the daemon loop: %s", strerror(errno));
}

static struct req *new_req(enum req_kind kind, const pmix_proc_t *proc, void *cbdata)
{
    struct req *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->kind = kind;
    r->g = fmx_glue_current;
    r->cbdata = cbdata;
    if (proc)
        memcpy(&r->proc, proc, sizeof(*proc));
    return r;
}

void fmx_glue_free_req(struct req *r)
{
    if (r->queries)
        PMIX_QUERY_FREE(r->queries, r->nqueries);
    free(r->procs);
    free(r->data);
    free(r);
}

static uint64_t timeout_of(const pmix_info_t *info, size_t ninfo)
{
    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_TIMEOUT) && info[i].value.type == PMIX_INT &&
            info[i].value.data.integer > 0)
            return (uint64_t)info[i].value.data.integer * 1000u;
    return 0;
}

static int cmp_proc(const void *a, const void *b)
{
    const pmix_proc_t *x = a, *y = b;
    int c = strncmp(x->nspace, y->nspace, PMIX_MAX_NSLEN);

    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

/* ---- upcalls (libpmix's thread) ---- */

/* libpmix hands the host its blob of the local contributions (`data`, from malloc): the
 * request keeps it and frees it, whatever this returns. */
static pmix_status_t up_fence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t info[],
                              size_t ninfo, char *data, size_t ndata, pmix_modex_cbfunc_t cbfunc,
                              void *cbdata)
{
    struct req *r = new_req(REQ_FENCE, NULL, cbdata);

    if (!r || !(r->procs = malloc((nprocs ? nprocs : 1) * sizeof(*procs)))) {
        free(r);
        free(data);
        return PMIX_ERR_NOMEM;
    }
    memcpy(r->procs, procs, nprocs * sizeof(*procs));
    qsort(r->procs, nprocs, sizeof(*procs), cmp_proc);
    r->nprocs = nprocs;
    r->data = data;
    r->ndata = data ? ndata : 0;
    r->collect = 0;
    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_COLLECT_DATA))
            r->collect = PMIX_INFO_TRUE(&info[i]);
    r->timeout_ms = timeout_of(info, ninfo);
    r->modex_cb = cbfunc;
    post(r->g, r);
    return PMIX_SUCCESS;
}

static pmix_status_t up_dmodex(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
                               pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
    struct req *r = new_req(REQ_DMODEX, proc, cbdata);

    if (!r)
        return PMIX_ERR_NOMEM;
    r->timeout_ms = timeout_of(info, ninfo);
    r->modex_cb = cbfunc;
    post(r->g, r);
    return PMIX_SUCCESS;
}

static pmix_status_t up_abort(const pmix_proc_t *proc, void *server_object, int status,
                              const char msg[], pmix_proc_t procs[], size_t nprocs,
                              pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct req *r = new_req(REQ_ABORT, proc, cbdata);

    (void)server_object;
    (void)procs;
    (void)nprocs;
    if (!r)
        return PMIX_ERR_NOMEM;
    r->status = status;
    r->data = strdup(msg ? msg : "");
    r->op_cb = cbfunc;
    post(r->g, r);
    return PMIX_SUCCESS;
}

static void up_log(const pmix_proc_t *client, const pmix_info_t data[], size_t ndata,
                   const pmix_info_t directives[], size_t ndirs, pmix_op_cbfunc_t cbfunc,
                   void *cbdata)
{
    struct req *r = new_req(REQ_LOG, client, cbdata);
    size_t len = 0;

    (void)directives;
    (void)ndirs;
    if (!r) {
        if (cbfunc)
            cbfunc(PMIX_ERR_NOMEM, cbdata); /* nothing was queued: answering now is all we can */
        return;
    }
    r->op_cb = cbfunc;
    for (size_t i = 0; i < ndata; i++) {
        const pmix_value_t *v = &data[i].value;
        const char *s = NULL;
        size_t n = 0;

        if (v->type == PMIX_STRING && v->data.string)
            s = v->data.string, n = strlen(s);
        else if (v->type == PMIX_BYTE_OBJECT)
            s = v->data.bo.bytes, n = v->data.bo.size;
        if (!s)
            continue;
        char *grown = realloc(r->data, len + n + 2);
        if (!grown)
            break;
        r->data = grown;
        memcpy(r->data + len, s, n);
        len += n;
        r->data[len] = '\0';
    }
    post(r->g, r);
}

static pmix_status_t up_connected(const pmix_proc_t *proc, void *server_object,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)proc;
    (void)server_object;
    (void)cbfunc;
    (void)cbdata;
    return PMIX_OPERATION_SUCCEEDED;
}

static pmix_status_t up_finalized(const pmix_proc_t *proc, void *server_object,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct req *r = new_req(REQ_FINALIZED, proc, NULL);

    (void)server_object;
    (void)cbfunc;
    (void)cbdata;
    if (r)
        post(r->g, r);
    return PMIX_OPERATION_SUCCEEDED;
}

/* PMIx_server_dmodex_request answered (libpmix's thread): copy, and send from the loop. */
static void on_local_data(pmix_status_t status, char *data, size_t sz, void *cbdata)
{
    struct req *r = cbdata;

    r->kind = REQ_DMODEX_ANSWER;
    r->status = status;
    if (status == PMIX_SUCCESS && sz && (r->data = malloc(sz))) {
        memcpy(r->data, data, sz);
        r->ndata = sz;
    } else if (status == PMIX_SUCCESS && sz) {
        r->status = PMIX_ERR_NOMEM;
    }
    post(r->g, r);
}

static pmix_status_t up_query(pmix_proc_t *proct, pmix_query_t *queries, size_t nqueries,
                              pmix_info_cbfunc_t cbfunc, void *cbdata)
{
    struct req *r = new_req(REQ_QUERY, proct, cbdata);

    if (!r)
        return PMIX_ERR_NOMEM;
    if (!nqueries || !cbfunc) {
        free(r);
        return PMIX_ERR_BAD_PARAM;
    }
    PMIX_QUERY_CREATE(r->queries, nqueries);
    if (!r->queries) {
        free(r);
        return PMIX_ERR_NOMEM;
    }
    r->nqueries = nqueries;
    for (size_t i = 0; i < nqueries; i++) {
        r->queries[i].keys = pmix_argv_copy(queries[i].keys);
        if (queries[i].nqual) {
            PMIX_INFO_CREATE(r->queries[i].qualifiers, queries[i].nqual);
            r->queries[i].nqual = queries[i].nqual;
            for (size_t k = 0; k < queries[i].nqual; k++)
                PMIX_INFO_XFER(&r->queries[i].qualifiers[k], &queries[i].qualifiers[k]);
        }
    }
    r->info_cb = cbfunc;
    post(r->g, r);
    return PMIX_SUCCESS;
}

pmix_server_module_t fmx_glue_module = {
    .client_connected = up_connected,
    .client_finalized = up_finalized,
    .abort = up_abort,
    .fence_nb = up_fence,
    .direct_modex = up_dmodex,
    .log = up_log,
    .query = up_query,
};

/* ---- requests (the daemon's loop) ---- */

static pmix_status_t pmix_status_of(int rc)
{
    switch (rc) {
    case 0:
        return PMIX_SUCCESS;
    case -ETIMEDOUT:
        return PMIX_ERR_TIMEOUT;
    case -ENOENT:
        return PMIX_ERR_NOT_FOUND;
    case FMX_ERR_PEER_LOST:
        return PMIX_ERR_LOST_CONNECTION;
    default:
        return PMIX_ERROR;
    }
}

/* Statuses cross the engine in its own convention (0 or -errno) and are translated back. */
static int errno_of(pmix_status_t st)
{
    switch (st) {
    case PMIX_SUCCESS:
        return 0;
    case PMIX_ERR_TIMEOUT:
        return -ETIMEDOUT;
    case PMIX_ERR_NOT_FOUND:
        return -ENOENT;
    case PMIX_ERR_NOMEM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

static uint32_t node_of(const fmx_glue_t *g, pmix_rank_t rank)
{
    return fmx_nspace_node_of(g->ns, rank);
}

static void release_data(void *cbdata)
{
    free(cbdata);
}

static void fence_done(void *arg, fmx_fence_result_t *res)
{
    struct req *r = arg;

    if (res->status)
        fmx_log(FMX_LOG_ERROR, "glue", "fence over %zu procs failed: %s", r->nprocs, res->error);
    /* the concatenated node blobs go to libpmix, which frees them through release_data */
    r->modex_cb(pmix_status_of(res->status), (char *)res->data, res->total, r->cbdata, release_data,
                res->data);
    fmx_glue_free_req(r);
}

static void run_fence(fmx_glue_t *g, struct req *r)
{
    uint32_t nnodes = g->job.map->nnodes;
    uint32_t *members = calloc(nnodes, sizeof(*members)), n = 0;
    uint8_t *in = calloc(nnodes, 1);
    fmx_fence_args_t a = {0};
    int rc = -ENOMEM;

    if (!members || !in)
        goto fail;
    for (size_t i = 0; i < r->nprocs; i++) {
        const pmix_proc_t *p = &r->procs[i];

        if (strncmp(p->nspace, g->job.nspace, PMIX_MAX_NSLEN)) {
            fmx_log(FMX_LOG_ERROR, "glue", "fence names namespace %s, not this job's %s", p->nspace,
                    g->job.nspace);
            rc = -EINVAL;
            goto fail;
        }
        if (p->rank != PMIX_RANK_WILDCARD && p->rank < g->ns->size)
            in[fmx_nspace_node_of(g->ns, p->rank)] = 1;
        for (uint32_t node = 0; p->rank == PMIX_RANK_WILDCARD && node < nnodes; node++)
            in[node] |= fmx_nspace_local_count(g->ns, node) != 0;
    }
    for (uint32_t node = 0; node < nnodes; node++)
        if (in[node])
            members[n++] = node;
    a.members = members;
    a.count = n;
    a.key = r->procs;
    a.keylen = r->nprocs * sizeof(*r->procs);
    a.blob = r->data;
    a.len = r->ndata;
    a.collect = r->collect || r->ndata; /* data handed to us must reach the others */
    a.timeout_ms = r->timeout_ms;
    rc = fmx_fence_start(g->eng, &a, fence_done, r);
fail:
    free(members);
    free(in);
    if (rc == 0)
        return; /* fence_done completes the request */
    r->modex_cb(pmix_status_of(rc), NULL, 0, r->cbdata, NULL, NULL);
    fmx_glue_free_req(r);
}

/* The requester's side of direct modex: the engine brings the other node's answer. */
static void dmodex_done(void *arg, int status, const void *blob, size_t len)
{
    struct req *r = arg;
    char *copy = NULL;

    if (status)
        fmx_log(FMX_LOG_WARN, "glue", "direct modex for %s:%u failed: %s", r->proc.nspace,
                r->proc.rank, fmx_strerror(status));
    if (status == 0 && len && !(copy = malloc(len)))
        status = -ENOMEM;
    if (copy)
        memcpy(copy, blob, len);
    r->modex_cb(pmix_status_of(status), copy, copy ? len : 0, r->cbdata, release_data, copy);
    fmx_glue_free_req(r);
}

static void run_dmodex(fmx_glue_t *g, struct req *r)
{
    uint32_t node = node_of(g, r->proc.rank);
    int rc;

    if (node == UINT32_MAX || node == g->job.self) {
        r->modex_cb(PMIX_ERR_NOT_FOUND, NULL, 0, r->cbdata, NULL, NULL);
        fmx_glue_free_req(r);
        return;
    }
    fmx_debug("glue", "direct modex: %s:%u from node %u", r->proc.nspace, r->proc.rank, node);
    rc = fmx_dmodex_request(g->eng, node, &r->proc, sizeof(r->proc), r->timeout_ms, dmodex_done, r);
    if (rc) {
        r->modex_cb(pmix_status_of(rc), NULL, 0, r->cbdata, NULL, NULL);
        fmx_glue_free_req(r);
    }
}

/* The holder's side: another node asks for one of our ranks' data. */
void fmx_glue_on_engine_dmodex(void *arg, uint32_t from, const void *key, size_t keylen,
                               fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    struct req *r;
    pmix_status_t st;

    if (keylen != sizeof(pmix_proc_t)) {
        fmx_log(FMX_LOG_WARN, "glue", "node %u sent a direct modex key of %zu bytes", from, keylen);
        fmx_dmodex_respond(g->eng, token, -EINVAL, NULL, 0);
        return;
    }
    if (!(r = new_req(REQ_DMODEX_ANSWER, key, NULL))) {
        fmx_dmodex_respond(g->eng, token, -ENOMEM, NULL, 0);
        return;
    }
    r->token = token;
    st = PMIx_server_dmodex_request(&r->proc, on_local_data, r);
    if (st != PMIX_SUCCESS) {
        fmx_dmodex_respond(g->eng, token, errno_of(st), NULL, 0);
        fmx_glue_free_req(r);
    }
}

static void run(fmx_glue_t *g, struct req *r)
{
    if (!g->eng && (r->kind == REQ_FENCE || r->kind == REQ_DMODEX)) {
        *g->early_tail = r; /* the engine is not up yet: fmx_glue_set_engine runs it */
        g->early_tail = &r->next;
        return;
    }
    switch (r->kind) {
    case REQ_FENCE:
        run_fence(g, r);
        return;
    case REQ_DMODEX:
        run_dmodex(g, r);
        return;
    case REQ_DMODEX_ANSWER:
        fmx_dmodex_respond(g->eng, r->token, errno_of(r->status), r->data, r->ndata);
        break;
    case REQ_ABORT:
        g->host.abort(g->host_arg, r->proc.rank, r->status, r->data ? r->data : "");
        if (r->op_cb)
            r->op_cb(PMIX_SUCCESS, r->cbdata);
        break;
    case REQ_LOG:
        if (r->data)
            g->host.log(g->host_arg, r->proc.rank, r->data);
        if (r->op_cb)
            r->op_cb(PMIX_SUCCESS, r->cbdata);
        break;
    case REQ_QUERY:
        fmx_glue_run_query(g, r);
        return;
    case REQ_FINALIZED:
        if (g->host.finalized)
            g->host.finalized(g->host_arg, r->proc.rank);
        break;
    }
    fmx_glue_free_req(r);
}

void fmx_glue_dispatch(fmx_glue_t *g)
{
    uint64_t n;
    struct req *r;

    if (read(g->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        fmx_log(FMX_LOG_WARN, "glue", "eventfd: %s", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&g->lock);
        r = g->head;
        if (r) {
            g->head = r->next;
            if (!g->head)
                g->tail = NULL;
        }
        pthread_mutex_unlock(&g->lock);
        if (!r)
            return;
        r->next = NULL;
        run(g, r);
    }
}

void fmx_glue_set_engine(fmx_glue_t *g, fmx_engine_t *engine)
{
    struct req *r;

    g->eng = engine;
    fmx_dmodex_set_handler(engine, fmx_glue_on_engine_dmodex, g);
    while ((r = g->early)) {
        g->early = r->next;
        r->next = NULL;
        run(g, r);
    }
    g->early_tail = &g->early;
}

int fmx_glue_fd(fmx_glue_t *g)
{
    return g->efd;
}
