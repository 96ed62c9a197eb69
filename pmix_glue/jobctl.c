/* PMIx_Job_control: kill, terminate, signal, pause and resume processes of the job, on every
 * daemon that hosts some of them; what a rank only declares about itself (that it may be
 * preempted, how it checkpoints) is taken note of and acknowledged; what the daemons cannot do
 * (checkpoint, restart, cancel, provision) is answered PMIX_ERR_NOT_SUPPORTED.
 *
 * A daemon sends each daemon hosting targets an engine request under JCTL_PREFIX: the prefix,
 * the signal, the ranks (PMIX_RANK_WILDCARD for all of the job's ranks there); the daemon
 * signals those of its ranks through the host and answers. The targets' own daemon is served
 * in place. */
#include "glue_internal.h"

#include "fmx_pack.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define JCTL_PREFIX "pmix+jctl:"

struct jctl {
    struct req base;
    int sig; /* 0: nothing to do but answer */
    pmix_status_t refuse; /* a directive the daemons cannot carry out */
    uint32_t *ranks; /* targets of the job's namespace; PMIX_RANK_WILDCARD for all */
    size_t nranks;
    int foreign; /* a target outside the job */
    uint32_t outstanding;
    int status;
    pmix_info_cbfunc_t cb;
    void *cbdata;
};

static void jctl_finish(struct jctl *j, pmix_status_t st)
{
    if (j->cb)
        j->cb(st, NULL, 0, j->cbdata, NULL, NULL);
    free(j->ranks);
    free(j);
}

static void release(struct jctl *j)
{
    if (!--j->outstanding)
        jctl_finish(j, fmx_glue_status(j->status));
}

static void answered(void *arg, int status, const void *blob, size_t len)
{
    struct jctl *j = arg;

    (void)blob, (void)len;
    if (status && !j->status)
        j->status = status;
    release(j);
}

static int targets_node(const fmx_glue_t *g, uint32_t rank, uint32_t node)
{
    return rank == PMIX_RANK_WILDCARD ? fmx_nspace_local_count(g->ns, node) > 0
                                      : fmx_nspace_node_of(g->ns, rank) == node;
}

/* Signals this daemon's ranks among ranks[0..n); 0, or the first error. */
static int signal_here(fmx_glue_t *g, int sig, const uint32_t *ranks, size_t n)
{
    int rc = 0, r;

    for (size_t i = 0; i < n; i++) {
        if (!targets_node(g, ranks[i], g->job.self))
            continue;
        if (!g->host.signal)
            return -ENOSYS;
        r = g->host.signal(g->host_arg, ranks[i] == PMIX_RANK_WILDCARD ? UINT32_MAX : ranks[i],
                           sig);
        if (r && !rc)
            rc = r;
    }
    return rc;
}

static void run_jctl(fmx_glue_t *g, struct req *r)
{
    struct jctl *j = (struct jctl *)r;
    int here = 0, rc;

    if (j->refuse || j->foreign || !j->sig) {
        jctl_finish(j, j->refuse ? j->refuse : j->foreign ? PMIX_ERR_NOT_FOUND : PMIX_SUCCESS);
        return;
    }
    j->outstanding = 1;
    for (uint32_t node = 0; node < g->job.map->nnodes; node++) {
        int hosts = 0;
        fmx_pack_t p;

        for (size_t i = 0; i < j->nranks && !hosts; i++)
            hosts = targets_node(g, j->ranks[i], node);
        if (!hosts)
            continue;
        if (node == g->job.self) {
            here = 1; /* last: the caller may be among the targets */
            continue;
        }
        fmx_pack_init(&p);
        fmx_pack_raw(&p, JCTL_PREFIX, strlen(JCTL_PREFIX));
        fmx_pack_u32(&p, (uint32_t)j->sig);
        fmx_pack_u32(&p, (uint32_t)j->nranks);
        for (size_t i = 0; i < j->nranks; i++)
            fmx_pack_u32(&p, j->ranks[i]);
        fmx_debug("glue", "job control: signal %d to ranks on node %s", j->sig,
                  g->job.map->nodes[node].name);
        rc = p.err ? -ENOMEM : fmx_dmodex_request(g->eng, node, p.data, p.len, 0, answered, j);
        if (rc && !j->status)
            j->status = rc;
        j->outstanding += !rc;
        fmx_pack_free(&p);
    }
    if (here && (rc = signal_here(g, j->sig, j->ranks, j->nranks)) && !j->status)
        j->status = rc;
    release(j);
}

static void cancel_jctl(fmx_glue_t *g, struct req *r)
{
    struct jctl *j = (struct jctl *)r;

    if (!fmx_glue_pmix_alive(g))
        j->cb = NULL;
    jctl_finish(j, PMIX_ERR_UNREACH);
}

static const struct req_ops jctl_ops = {.needs_engine = 1, .run = run_jctl, .cancel = cancel_jctl};

static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    size_t pre = strlen(JCTL_PREFIX);
    fmx_pack_t p;
    uint32_t sig, n, *ranks;
    int rc;

    fmx_unpack_init(&p, (const uint8_t *)key + pre, keylen - pre);
    sig = fmx_unpack_u32(&p);
    n = fmx_unpack_u32(&p);
    if (p.err || n > (keylen - pre) / 4 || sig >= (uint32_t)NSIG ||
        !(ranks = calloc(n ? n : 1, sizeof(*ranks)))) {
        fmx_log(FMX_LOG_WARN, "glue", "node %s sent a malformed job control request",
                g->job.map->nodes[from].name);
        fmx_dmodex_respond(g->eng, token, -EINVAL, NULL, 0);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        ranks[i] = fmx_unpack_u32(&p);
    rc = p.err ? -EINVAL : signal_here(g, (int)sig, ranks, n);
    free(ranks);
    fmx_dmodex_respond(g->eng, token, rc, NULL, 0);
}

int fmx_glue_jobctl_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, JCTL_PREFIX, on_request, g);
}

void fmx_glue_jobctl_stop(fmx_glue_t *g)
{
    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, JCTL_PREFIX);
}

/* ---- the upcall (libpmix's thread) ---- */

static int flag(const pmix_info_t *i)
{
    return i->value.type != PMIX_BOOL || i->value.data.flag;
}

/* What one directive asks of the job: *sig set, or a refusal, or nothing (informational). */
static void directive(const pmix_info_t *i, struct jctl *j)
{
    static const char *const refused[] = {PMIX_JOB_CTRL_CANCEL, PMIX_JOB_CTRL_RESTART,
                                          PMIX_JOB_CTRL_CHECKPOINT, PMIX_JOB_CTRL_PROVISION, NULL};

    if (PMIX_CHECK_KEY(i, PMIX_JOB_CTRL_KILL) && flag(i))
        j->sig = SIGKILL;
    else if (PMIX_CHECK_KEY(i, PMIX_JOB_CTRL_TERMINATE) && flag(i))
        j->sig = SIGTERM;
    else if (PMIX_CHECK_KEY(i, PMIX_JOB_CTRL_PAUSE) && flag(i))
        j->sig = SIGSTOP;
    else if (PMIX_CHECK_KEY(i, PMIX_JOB_CTRL_RESUME) && flag(i))
        j->sig = SIGCONT;
    else if (PMIX_CHECK_KEY(i, PMIX_JOB_CTRL_SIGNAL)) {
        if (i->value.type == PMIX_INT && i->value.data.integer > 0 && i->value.data.integer < NSIG)
            j->sig = i->value.data.integer;
        else
            j->refuse = PMIX_ERR_BAD_PARAM;
    }
    for (size_t k = 0; refused[k]; k++)
        if (PMIX_CHECK_KEY(i, refused[k]))
            j->refuse = PMIX_ERR_NOT_SUPPORTED;
}

pmix_status_t fmx_glue_up_job_control(const pmix_proc_t *requestor, const pmix_proc_t targets[],
                                      size_t ntargets, const pmix_info_t directives[], size_t ndirs,
                                      pmix_info_cbfunc_t cbfunc, void *cbdata)
{
    fmx_glue_t *g = fmx_glue_current;
    struct jctl *j = calloc(1, sizeof(*j));

    if (!j || !(j->ranks = calloc(ntargets ? ntargets : 1, sizeof(*j->ranks)))) {
        free(j);
        return PMIX_ERR_NOMEM;
    }
    j->base.ops = &jctl_ops;
    j->cb = cbfunc;
    j->cbdata = cbdata;
    for (size_t i = 0; i < ndirs; i++)
        directive(&directives[i], j);
    if (!ntargets) { /* the requestor's namespace */
        j->foreign = strncmp(requestor->nspace, g->job.nspace, PMIX_MAX_NSLEN) != 0;
        j->ranks[j->nranks++] = PMIX_RANK_WILDCARD;
    }
    for (size_t i = 0; i < ntargets; i++) {
        if (strncmp(targets[i].nspace, g->job.nspace, PMIX_MAX_NSLEN) ||
            (targets[i].rank != PMIX_RANK_WILDCARD && targets[i].rank >= g->ns->size))
            j->foreign = 1;
        else
            j->ranks[j->nranks++] = targets[i].rank;
    }
    fmx_glue_post(g, &j->base);
    return PMIX_SUCCESS;
}
