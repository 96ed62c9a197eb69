/* Starting and stopping a pmixd's PMIx server: PMIx_server_init with this module, registering
 * the namespace and the node's ranks (blocking: nothing else runs yet), the environment of a
 * rank (PMIx_server_setup_fork), and finalizing with whatever requests are still queued. */
#include "glue_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sync {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    pmix_status_t status;
};

static void sync_cb(pmix_status_t status, void *cbdata)
{
    struct sync *s = cbdata;

    pthread_mutex_lock(&s->lock);
    s->status = status;
    s->done = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits for a registration callback: at start nothing else runs, so blocking is fine. */
static pmix_status_t sync_wait(struct sync *s, pmix_status_t rc)
{
    if (rc == PMIX_OPERATION_SUCCEEDED)
        return PMIX_SUCCESS;
    if (rc != PMIX_SUCCESS)
        return rc;
    pthread_mutex_lock(&s->lock);
    while (!s->done)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    s->done = 0;
    return s->status;
}

pmix_status_t fmx_glue_register_sync(const char *nspace, int nlocal, pmix_info_t *info,
                                     size_t ninfo)
{
    struct sync s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

    return sync_wait(&s, PMIx_server_register_nspace(nspace, nlocal, info, ninfo, sync_cb, &s));
}

static int copy_job(fmx_glue_t *g, const fmx_glue_job_t *job)
{
    g->job = *job;
    g->job.nspace = strdup(job->nspace);
    g->job.tmpdir = strdup(job->tmpdir);
    g->ns = fmx_jobmap_nspace(job->map, job->nspace);
    return g->job.nspace && g->job.tmpdir && g->ns ? 0 : -ENOMEM;
}

static void free_glue(fmx_glue_t *g)
{
    free((char *)g->job.nspace);
    free((char *)g->job.tmpdir);
    for (uint32_t i = 0; i < g->nnss; i++)
        free(g->nss[i].state);
    if (g->efd >= 0)
        close(g->efd);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* Registers namespace ns (in the job map) and this node's ranks of it with libpmix, and adds
 * it to the glue's table. Blocking: libpmix's thread answers, and runs nothing of the loop's. */
static int register_nspace(fmx_glue_t *g, const fmx_nspace_map_t *ns, const pmix_proc_t *parent,
                           const uint32_t *app_of, fmx_error_t *err)
{
    struct sync s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct glue_nspace *e = &g->nss[g->nnss];
    pmix_info_t *info;
    size_t ninfo;
    pmix_status_t st;
    uint32_t nlocal = fmx_nspace_local_count(ns, g->job.self);
    const uint32_t *local = fmx_nspace_local_ranks(ns, g->job.self);
    int rc;

    if (g->nnss == FMX_GLUE_MAX_NSPACES || strlen(ns->name) > PMIX_MAX_NSLEN) {
        fmx_errprintf(err, "namespace %s: %s", ns->name,
                      g->nnss == FMX_GLUE_MAX_NSPACES ? "the job has as many as it may hold"
                                                      : "name too long for PMIx");
        return -ENOSPC;
    }
    if (!(e->state = calloc(ns->size + 1, 1))) {
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    snprintf(e->name, sizeof(e->name), "%s", ns->name);
    e->base = fmx_jobmap_base(g->job.map, ns);
    e->size = ns->size;
    if ((rc = fmx_glue_job_info(&g->job, ns, parent, app_of, &info, &ninfo))) {
        free(e->state);
        e->state = NULL;
        fmx_errprintf(err, "cannot build the job information of %s: %s", ns->name,
                      fmx_strerror(rc));
        return rc;
    }
    /* its ranks may call as soon as they are registered: the table shows them first */
    __atomic_store_n(&g->nnss, g->nnss + 1, __ATOMIC_RELEASE);
    st = fmx_glue_register_sync(ns->name, (int)nlocal, info, ninfo);
    PMIX_INFO_FREE(info, ninfo);
    if (st != PMIX_SUCCESS) {
        fmx_errprintf(err, "PMIx_server_register_nspace(%s): %s", ns->name, PMIx_Error_string(st));
        return -EIO;
    }
    for (uint32_t r = 0; r < nlocal; r++) {
        pmix_proc_t proc;

        PMIX_LOAD_PROCID(&proc, ns->name, local[r]);
        st = sync_wait(&s,
                       PMIx_server_register_client(&proc, geteuid(), getegid(), NULL, sync_cb, &s));
        if (st != PMIX_SUCCESS) {
            fmx_errprintf(err, "PMIx_server_register_client(%s:%u): %s", ns->name, proc.rank,
                          PMIx_Error_string(st));
            return -EIO;
        }
    }
    return 0;
}

int fmx_glue_add_nspace(fmx_glue_t *g, const char *nspace, uint32_t parent, const uint32_t *app_of,
                        fmx_error_t *err)
{
    const fmx_nspace_map_t *ns = fmx_jobmap_nspace(g->job.map, nspace), *pns;
    pmix_proc_t pproc;
    uint32_t prank = 0;

    g->ns = fmx_jobmap_nspace(g->job.map, g->job.nspace); /* the map may have moved */
    if (!ns || !(pns = fmx_jobmap_proc(g->job.map, parent, &prank))) {
        fmx_errprintf(err, "namespace %s: %s", nspace,
                      ns ? "its parent is not in the job" : "not in the job map");
        return -EINVAL;
    }
    PMIX_LOAD_PROCID(&pproc, pns->name, prank);
    return register_nspace(g, ns, &pproc, app_of, err);
}

int fmx_glue_start(const fmx_glue_job_t *job, fmx_engine_t *engine, const fmx_glue_host_t *host,
                   void *host_arg, fmx_glue_t **out, fmx_error_t *err)
{
    fmx_glue_t *g = calloc(1, sizeof(*g));
    pmix_info_t info[3];
    pmix_topology_t topo = {.source = "hwloc", .topology = job->topology};
    size_t ninfo = 2;
    pmix_status_t st;
    uint32_t self;
    int rc;

    if (!g) {
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    if (fmx_glue_current) {
        free(g);
        fmx_errprintf(err, "one PMIx server per process");
        return -EBUSY;
    }
    pthread_mutex_init(&g->lock, NULL);
    g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->efd < 0 || copy_job(g, job)) {
        fmx_errprintf(err, "out of memory or file descriptors starting the PMIx server");
        free_glue(g);
        return -ENOMEM;
    }
    g->eng = engine;
    g->early_tail = &g->early;
    g->host = *host;
    g->host_arg = host_arg;
    fmx_glue_current = g;
    self = job->self;
    PMIX_INFO_LOAD(&info[0], PMIX_SERVER_TMPDIR, job->tmpdir, PMIX_STRING);
    PMIX_INFO_LOAD(&info[1], PMIX_SERVER_RANK, &self, PMIX_PROC_RANK);
    /* discovering the topology again costs libpmix tens of milliseconds. Not PMIX_INFO_LOAD,
     * which would duplicate the whole hwloc topology: libpmix reads the struct only here and
     * keeps topo.topology, the caller's, which it never destroys (an external topology). */
    if (job->topology) {
        PMIX_INFO_CONSTRUCT(&info[ninfo]);
        PMIX_LOAD_KEY(info[ninfo].key, PMIX_TOPOLOGY2);
        info[ninfo].value.type = PMIX_TOPO;
        info[ninfo++].value.data.topo = &topo;
    }
    st = PMIx_server_init(&fmx_glue_module, info, ninfo);
    PMIX_INFO_DESTRUCT(&info[0]);
    PMIX_INFO_DESTRUCT(&info[1]);
    if (st != PMIX_SUCCESS) {
        fmx_errprintf(err, "PMIx_server_init: %s", PMIx_Error_string(st));
        fmx_glue_current = NULL;
        free_glue(g);
        return -EIO;
    }
    if (engine)
        fmx_glue_set_engine(g, engine); /* its handlers; no request has come yet */
    /* a rank whose connection ends before PMIx_Finalize (blocking registration: no callback) */
    pmix_status_t lost = PMIX_ERR_LOST_CONNECTION;
    if (PMIx_Register_event_handler(&lost, 1, NULL, 0, fmx_glue_on_lost, NULL, NULL) < 0)
        fmx_log(FMX_LOG_WARN, "glue", "cannot watch for ranks that leave without finalizing");
    rc = register_nspace(g, g->ns, NULL, NULL, err);
    g->job.local_cpusets = NULL; /* the caller's, and needed only to register */
    if (rc) {
        fmx_glue_stop(g);
        return rc;
    }
    *out = g;
    return 0;
}

int fmx_glue_child_env(fmx_glue_t *g, uint32_t index, char ***env, fmx_error_t *err)
{
    pmix_proc_t proc;
    uint32_t rank = 0;
    const fmx_nspace_map_t *ns = fmx_jobmap_proc(g->job.map, index, &rank);
    char **e = calloc(1, sizeof(*e));
    pmix_status_t st;

    if (!e || !ns) {
        free(e);
        fmx_errprintf(err, "process %u is not in the job map", index);
        return -EINVAL;
    }
    PMIX_LOAD_PROCID(&proc, ns->name, rank);
    st = PMIx_server_setup_fork(&proc, &e);
    if (st != PMIX_SUCCESS) {
        fmx_errprintf(err, "PMIx_server_setup_fork(%s:%u): %s", ns->name, rank,
                      PMIx_Error_string(st));
        fmx_glue_free_env(e);
        return -EIO;
    }
    if (fmx_glue_gds_env(e)) {
        fmx_errprintf(err, "out of memory");
        fmx_glue_free_env(e);
        return -ENOMEM;
    }
    *env = e;
    return 0;
}

void fmx_glue_free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

void fmx_glue_stop(fmx_glue_t *g)
{
    if (!g)
        return;
    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, GLUE_KEY_PREFIX);
    fmx_glue_pubsub_stop(g);
    fmx_glue_jobctl_stop(g);
    fmx_glue_events_stop(g);
    fmx_glue_group_stop(g);
    fmx_glue_xjob_stop(g);
    fmx_glue_spawn_stop(g);
    /* requests never run are completed while libpmix can still take their answers (it
     * frees its side of each in the callback); what it posts during its finalize is
     * cancelled after */
    fmx_glue_cancel_all(g);
    PMIx_server_finalize();
    g->stopping = 2;
    fmx_glue_cancel_all(g);
    fmx_glue_current = NULL;
    free_glue(g);
}
