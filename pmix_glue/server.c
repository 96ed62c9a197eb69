/* The PMIx server module of a pmixd, and the queue between libpmix's thread and the daemon's
 * loop. Each upcall copies its arguments into a request of its kind (glue_internal.h) and
 * posts it; fmx_glue_dispatch() runs requests on the loop. The small kinds live here (abort,
 * log, a client's finalize); fences (fence.c), direct modex (dmodex.c) and queries (query.c)
 * have files of their own. Nothing here runs engine code on libpmix's thread. */
#include "glue_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpmix calls the module through globals: one server per process. */
fmx_glue_t *fmx_glue_current;

void fmx_glue_post(fmx_glue_t *g, struct req *r)
{
    uint64_t one = 1;

    r->next = NULL;
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

pmix_status_t fmx_glue_status(int rc)
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
    case -EEXIST:
        return PMIX_ERR_DUPLICATE_KEY;
    default:
        return PMIX_ERROR;
    }
}

/* Statuses cross the engine in its own convention (0 or -errno) and are translated back. */
int fmx_glue_errno(pmix_status_t st)
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
    case PMIX_ERR_DUPLICATE_KEY:
        return -EEXIST;
    default:
        return -EIO;
    }
}

int fmx_glue_pack(const void *src, int32_t n, pmix_data_type_t type, uint8_t **out, size_t *len)
{
    pmix_data_buffer_t buf;
    pmix_byte_object_t bo = {0};
    pmix_status_t st = PMIX_SUCCESS;

    PMIX_DATA_BUFFER_CONSTRUCT(&buf);
    if (n)
        st = PMIx_Data_pack(NULL, &buf, (void *)src, n, type);
    if (st == PMIX_SUCCESS)
        st = PMIx_Data_unload(&buf, &bo);
    PMIX_DATA_BUFFER_DESTRUCT(&buf);
    if (st != PMIX_SUCCESS) {
        free(bo.bytes);
        return -EINVAL;
    }
    *out = (uint8_t *)bo.bytes;
    *len = bo.size;
    return 0;
}

int fmx_glue_unpack(const uint8_t *bytes, size_t len, void *dst, int32_t n, pmix_data_type_t type)
{
    pmix_data_buffer_t buf;
    pmix_byte_object_t bo = {.bytes = malloc(len ? len : 1), .size = len};
    int32_t got = n;
    pmix_status_t st;

    if (!bo.bytes)
        return -ENOMEM;
    memcpy(bo.bytes, bytes, len);
    PMIX_DATA_BUFFER_CONSTRUCT(&buf);
    PMIx_Data_load(&buf, &bo); /* the buffer takes the bytes */
    st = PMIx_Data_unpack(NULL, &buf, dst, &got, type);
    PMIX_DATA_BUFFER_DESTRUCT(&buf);
    return st == PMIX_SUCCESS && got == n ? 0 : -EPROTO;
}

uint64_t fmx_glue_timeout(const pmix_info_t *info, size_t ninfo)
{
    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_TIMEOUT) && info[i].value.type == PMIX_INT &&
            info[i].value.data.integer > 0)
            return (uint64_t)info[i].value.data.integer * 1000u;
    return 0;
}

/* ---- abort, log, init, finalize, a lost connection: a rank's word for the daemon ---- */

struct notice {
    struct req base;
    pmix_proc_t proc;
    uint32_t rank; /* its global index */
    int status; /* abort */
    char *text; /* abort's message, log's lines */
    pmix_op_cbfunc_t cb;
    void *cbdata;
};

static void notice_free(struct notice *n, pmix_status_t st)
{
    if (n->cb)
        n->cb(st, n->cbdata);
    free(n->text);
    free(n);
}

static void run_abort(fmx_glue_t *g, struct req *r)
{
    struct notice *n = (struct notice *)r;

    g->host.abort(g->host_arg, n->rank, n->status, n->text ? n->text : "");
    notice_free(n, PMIX_SUCCESS);
}

static void run_log(fmx_glue_t *g, struct req *r)
{
    struct notice *n = (struct notice *)r;

    if (n->text)
        g->host.log(g->host_arg, n->rank, n->text);
    notice_free(n, PMIX_SUCCESS);
}

static void lost_told(fmx_glue_t *g, void *arg, int status)
{
    struct notice *n = arg;

    (void)status;
    if (g->host.lost)
        g->host.lost(g->host_arg, n->rank);
    notice_free(n, PMIX_SUCCESS);
}

/* The job's ranks everywhere hear of it (events.c) before the host does. */
static void run_lost(fmx_glue_t *g, struct req *r)
{
    struct notice *n = (struct notice *)r;

    if (fmx_glue_tell_aborted(g, &n->proc, lost_told, n))
        lost_told(g, n, -ENOMEM);
}

static void cancel_notice(fmx_glue_t *g, struct req *r)
{
    struct notice *n = (struct notice *)r;

    if (!fmx_glue_pmix_alive(g))
        n->cb = NULL;
    notice_free(n, PMIX_ERR_UNREACH);
}

static const struct req_ops abort_ops = {
    .needs_engine = 0, .run = run_abort, .cancel = cancel_notice};
static const struct req_ops log_ops = {.needs_engine = 0, .run = run_log, .cancel = cancel_notice};
static const struct req_ops lost_ops = {
    .needs_engine = 0, .run = run_lost, .cancel = cancel_notice};

static struct notice *new_notice(const struct req_ops *ops, const pmix_proc_t *proc,
                                 pmix_op_cbfunc_t cb, void *cbdata)
{
    const struct glue_nspace *e = fmx_glue_proc_nspace(fmx_glue_current, proc);
    struct notice *n = e ? calloc(1, sizeof(*n)) : NULL;

    if (!n) /* a client of a namespace not registered here cannot call: no memory */
        return NULL;
    n->base.ops = ops;
    n->proc = *proc;
    n->rank = e->base + proc->rank;
    n->cb = cb;
    n->cbdata = cbdata;
    return n;
}

static pmix_status_t up_abort(const pmix_proc_t *proc, void *server_object, int status,
                              const char msg[], pmix_proc_t procs[], size_t nprocs,
                              pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct notice *n = new_notice(&abort_ops, proc, cbfunc, cbdata);

    (void)server_object;
    (void)procs;
    (void)nprocs;
    if (!n || !(n->text = strdup(msg ? msg : ""))) {
        free(n);
        return PMIX_ERR_NOMEM;
    }
    n->status = status;
    fmx_glue_post(fmx_glue_current, &n->base);
    return PMIX_SUCCESS;
}

static void up_log(const pmix_proc_t *client, const pmix_info_t data[], size_t ndata,
                   const pmix_info_t directives[], size_t ndirs, pmix_op_cbfunc_t cbfunc,
                   void *cbdata)
{
    struct notice *n = new_notice(&log_ops, client, cbfunc, cbdata);
    size_t len = 0;

    (void)directives;
    (void)ndirs;
    if (!n) {
        if (cbfunc)
            cbfunc(PMIX_ERR_NOMEM, cbdata); /* nothing was queued: answering now is all we can */
        return;
    }
    for (size_t i = 0; i < ndata; i++) {
        const pmix_value_t *v = &data[i].value;
        const char *s = NULL;
        size_t k = 0;

        if (v->type == PMIX_STRING && v->data.string)
            s = v->data.string, k = strlen(s);
        else if (v->type == PMIX_BYTE_OBJECT)
            s = v->data.bo.bytes, k = v->data.bo.size;
        if (!s)
            continue;
        char *grown = realloc(n->text, len + k + 2);
        if (!grown)
            break;
        n->text = grown;
        memcpy(n->text + len, s, k);
        len += k;
        n->text[len] = '\0';
    }
    fmx_glue_post(fmx_glue_current, &n->base);
}

const struct glue_nspace *fmx_glue_proc_nspace(const fmx_glue_t *g, const pmix_proc_t *proc)
{
    uint32_t n = g ? __atomic_load_n(&g->nnss, __ATOMIC_ACQUIRE) : 0;

    for (uint32_t i = 0; i < n; i++)
        if (!strncmp(proc->nspace, g->nss[i].name, PMIX_MAX_NSLEN))
            return proc->rank < g->nss[i].size ? &g->nss[i] : NULL;
    return NULL;
}

void fmx_glue_set_rank_state(fmx_glue_t *g, const pmix_proc_t *proc, int state)
{
    const struct glue_nspace *e = fmx_glue_proc_nspace(g, proc);

    if (e)
        __atomic_store_n(&e->state[proc->rank], (uint8_t)state, __ATOMIC_RELEASE);
}

int fmx_glue_rank_state(const fmx_glue_t *g, uint32_t proc)
{
    uint32_t n = g ? __atomic_load_n(&g->nnss, __ATOMIC_ACQUIRE) : 0;

    for (uint32_t i = 0; i < n; i++)
        if (proc - g->nss[i].base < g->nss[i].size)
            return __atomic_load_n(&g->nss[i].state[proc - g->nss[i].base], __ATOMIC_ACQUIRE);
    return FMX_RANK_NO_PMIX;
}

static int rank_state_of(const fmx_glue_t *g, const pmix_proc_t *proc)
{
    const struct glue_nspace *e = fmx_glue_proc_nspace(g, proc);

    return e ? __atomic_load_n(&e->state[proc->rank], __ATOMIC_ACQUIRE) : FMX_RANK_NO_PMIX;
}

/* Both answered at once: the state is set before the client's call returns. */
static pmix_status_t up_connected(const pmix_proc_t *proc, void *server_object,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)server_object;
    (void)cbfunc;
    (void)cbdata;
    fmx_glue_set_rank_state(fmx_glue_current, proc, FMX_RANK_INITIALIZED);
    return PMIX_OPERATION_SUCCEEDED;
}

static pmix_status_t up_finalized(const pmix_proc_t *proc, void *server_object,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)server_object;
    (void)cbfunc;
    (void)cbdata;
    fmx_glue_set_rank_state(fmx_glue_current, proc, FMX_RANK_FINALIZED);
    return PMIX_OPERATION_SUCCEEDED;
}

void fmx_glue_on_lost(size_t id, pmix_status_t status, const pmix_proc_t *source,
                      pmix_info_t info[], size_t ninfo, pmix_info_t results[], size_t nresults,
                      pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata)
{
    fmx_glue_t *g = fmx_glue_current;
    struct notice *n;

    (void)id, (void)status, (void)info, (void)ninfo, (void)results, (void)nresults;
    if (source && fmx_glue_proc_nspace(g, source) &&
        rank_state_of(g, source) != FMX_RANK_FINALIZED &&
        (n = new_notice(&lost_ops, source, NULL, NULL)))
        fmx_glue_post(g, &n->base);
    if (cbfunc)
        cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

pmix_server_module_t fmx_glue_module = {
    .client_connected = up_connected,
    .client_finalized = up_finalized,
    .abort = up_abort,
    .fence_nb = fmx_glue_up_fence,
    .direct_modex = fmx_glue_up_dmodex,
    .log = up_log,
    .query = fmx_glue_up_query,
    .publish = fmx_glue_up_publish,
    .lookup = fmx_glue_up_lookup,
    .unpublish = fmx_glue_up_unpublish,
    .job_control = fmx_glue_up_job_control,
    .notify_event = fmx_glue_up_notify_event,
    .group = fmx_glue_up_group,
    .connect = fmx_glue_up_connect,
    .disconnect = fmx_glue_up_disconnect,
    .spawn = fmx_glue_up_spawn,
};

/* ---- the loop's side ---- */

static void run(fmx_glue_t *g, struct req *r)
{
    if (g->stopping) {
        r->ops->cancel(g, r);
    } else if (!g->eng && r->ops->needs_engine) {
        *g->early_tail = r; /* the engine is not up yet: fmx_glue_set_engine runs it */
        g->early_tail = &r->next;
    } else {
        r->ops->run(g, r);
    }
}

static struct req *take(fmx_glue_t *g)
{
    struct req *r;

    pthread_mutex_lock(&g->lock);
    if ((r = g->head) && !(g->head = r->next))
        g->tail = NULL;
    pthread_mutex_unlock(&g->lock);
    if (r)
        r->next = NULL;
    return r;
}

void fmx_glue_dispatch(fmx_glue_t *g)
{
    uint64_t n;
    struct req *r;

    if (read(g->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        fmx_log(FMX_LOG_WARN, "glue", "eventfd: %s", strerror(errno));
    while ((r = take(g)))
        run(g, r);
}

void fmx_glue_cancel_all(fmx_glue_t *g)
{
    struct req *r;

    if (!g->stopping)
        g->stopping = 1;
    while ((r = g->early)) {
        g->early = r->next;
        r->ops->cancel(g, r);
    }
    g->early_tail = &g->early;
    while ((r = take(g)))
        r->ops->cancel(g, r);
}

void fmx_glue_set_engine(fmx_glue_t *g, fmx_engine_t *engine)
{
    struct req *r;

    g->eng = engine;
    fmx_dmodex_add_handler(engine, GLUE_KEY_PREFIX, fmx_glue_on_engine_dmodex, g);
    fmx_glue_pubsub_start(g);
    fmx_glue_jobctl_start(g);
    fmx_glue_events_start(g);
    fmx_glue_group_start(g);
    fmx_glue_xjob_start(g);
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
