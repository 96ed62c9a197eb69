/* A pmixd's ranks: started with their environment (rank_env.h) and binding, their stdout and
 * stderr forwarded to pmixrun, their exits reported once their output is drained (so that no
 * output follows an exit), ended with their process groups. */
#include "pmixd.h"

#include "rank_env.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_CHUNK 65536

struct rank_stream {
    struct daemon *d;
    fmx_rank_proc_t *rp;
    uint32_t stream; /* 1 stdout, 2 stderr */
};

static void forward(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct rank_stream *s = arg;
    char buf[IO_CHUNK];
    ssize_t n = read(fd, buf, sizeof(buf));

    (void)events;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        pmixd_report_io(s->d, s->rp->rank, s->stream, buf, (size_t)n);
        return;
    }
    fmx_loop_del_fd(l, fd);
    close(fd);
    *(s->stream == 2 ? &s->rp->err : &s->rp->out) = -1;
    pmixd_ranks_reap(s->d); /* its exit may have waited for this end of output */
}

/* PMIx's part of a rank's environment (PMIx_server_setup_fork). */
static int pmix_env(void *arg, uint32_t rank, fmx_env_t *env, fmx_error_t *err)
{
    char **pmix = NULL;
    int rc = fmx_glue_child_env(arg, rank, &pmix, err);

    for (char **e = pmix; !rc && *e; e++)
        rc = fmx_env_set(env, *e);
    fmx_glue_free_env(pmix);
    return rc;
}

/* Forks rank i of set: argv in wdir with env, and watches its output. */
static int spawn_one(struct daemon *d, struct rank_set *set, uint32_t i, char **argv,
                     const char *wdir, char **env, const cpu_set_t *mask, fmx_error_t *err)
{
    fmx_rank_proc_t *rp = &set->ranks[i];
    int rc = fmx_rank_spawn(rp, argv, env, wdir, mask, err);

    fmx_rank_hold(rp); /* until the set's last is started (release_set) */
    if (rp->pid > 0) {
        set->streams[2 * i] = (struct rank_stream){d, rp, 1};
        set->streams[2 * i + 1] = (struct rank_stream){d, rp, 2};
        fmx_loop_add_fd(d->loop, rp->out, FMX_LOOP_IN, forward, &set->streams[2 * i]);
        fmx_loop_add_fd(d->loop, rp->err, FMX_LOOP_IN, forward, &set->streams[2 * i + 1]);
    }
    return rc;
}

static void release_set(struct rank_set *set)
{
    for (uint32_t i = 0; i < set->n; i++)
        fmx_rank_release(&set->ranks[i]);
}

/* A set of n ranks (global indices base + mine[k]), appended to the daemon's. */
static struct rank_set *new_set(struct daemon *d, uint32_t n, uint32_t base, const uint32_t *mine)
{
    struct rank_set *set = calloc(1, sizeof(*set)), **at = &d->sets;

    if (!set || !(set->ranks = calloc(n ? n : 1, sizeof(*set->ranks))) ||
        !(set->streams = calloc(2 * (size_t)(n ? n : 1), sizeof(*set->streams)))) {
        if (set)
            free(set->ranks);
        free(set);
        return NULL;
    }
    set->n = n;
    for (uint32_t i = 0; i < n; i++) { /* none has pipes until it is forked */
        set->ranks[i].out = set->ranks[i].err = set->ranks[i].report = -1;
        set->ranks[i].pass_fd = -1;
        set->ranks[i].rank = base + mine[i];
        set->ranks[i].label = mine[i];
    }
    while (*at)
        at = &(*at)->next;
    *at = set;
    return set;
}

int pmixd_ranks_start(struct daemon *d, fmx_error_t *err)
{
    const fmx_nspace_map_t *ns = fmx_jobspec_nspace(&d->job);
    fmx_rank_env_t re = {.job = &d->job,
                         .session = &d->session,
                         .cma = d->cma,
                         .local_ranks = fmx_nspace_local_count(ns, d->job.self),
                         .sources = {{pmix_env, d->glue}, {pmixd_pmi_env, d}},
                         .nsources = 2};
    struct rank_set *set;
    int rc;

    d->ranks_waiting = 0;
    d->nranks = re.local_ranks;
    if ((rc = pmixd_pmi_start(d, err)))
        return rc;
    if (!(set = new_set(d, d->nranks, 0, fmx_nspace_local_ranks(ns, d->job.self))))
        return -ENOMEM;
    d->ranks = set->ranks;
    for (uint32_t i = 0; i < d->nranks && !rc; i++) {
        fmx_rank_proc_t *rp = &d->ranks[i];
        fmx_env_t env = {0};

        if (d->bind.bound && fmx_log_level() >= FMX_LOG_DEBUG) {
            char *cpus = fmx_binding_list(&d->bind, i);
            fmx_debug("pmixd", "rank %u bound to processing units %s", rp->rank, cpus ? cpus : "?");
            free(cpus);
        }
        rc = fmx_rank_env_build(&re, rp->rank, &env, err);
        rp->pass_fd = pmixd_pmi_child_fd(d, i);
        if (rc == 0)
            rc = spawn_one(d, set, i, d->job.argv, d->job.wdir, env.v,
                           d->bind.bound ? &d->bind.masks[i] : NULL, err);
        fmx_env_free(&env);
        pmixd_pmi_forked(d, i); /* the rank's end of its PMI socket is the rank's alone now */
    }
    release_set(set);
    for (uint32_t i = 0; i < d->nranks && !rc; i++)
        rc = fmx_rank_started(&d->ranks[i], d->job.argv[0], d->job.wdir, err);
    if (rc)
        return rc;
    fmx_debug("pmixd", "node %u: %u ranks started", d->job.self, d->nranks);
    return 0;
}

int pmixd_ranks_start_spawned(struct daemon *d, const fmx_spawn_t *s, fmx_error_t *err)
{
    const fmx_nspace_map_t *ns = fmx_jobmap_nspace(&d->job.map, s->nspace);
    uint32_t base = fmx_jobmap_base(&d->job.map, ns);
    const uint32_t *mine = fmx_nspace_local_ranks(ns, d->job.self);
    fmx_rank_env_t re = {.job = &d->job,
                         .session = &d->session,
                         .cma = d->cma,
                         .local_ranks = fmx_jobmap_node_procs(&d->job.map, d->job.self),
                         .rank_base = base,
                         .sources = {{pmix_env, d->glue}},
                         .nsources = 1};
    struct rank_set *set = new_set(d, fmx_nspace_local_count(ns, d->job.self), base, mine);
    int rc = 0;

    if (!set)
        return -ENOMEM;
    for (uint32_t i = 0; i < set->n && !rc; i++) {
        const fmx_spawn_app_t *a = &s->apps[s->app_of[mine[i]]];
        fmx_env_t env = {0};

        rc = fmx_rank_env_build(&re, set->ranks[i].rank, &env, err);
        for (char **e = a->env; !rc && *e; e++)
            rc = fmx_env_set(&env, *e);
        if (!rc)
            rc = spawn_one(d, set, i, a->argv, a->wdir ? a->wdir : d->job.wdir, env.v, NULL, err);
        fmx_env_free(&env);
    }
    release_set(set);
    fmx_engine_expect_losses(d->eng, d->stopping); /* ranks here again */
    for (uint32_t i = 0; i < set->n && !rc; i++) {
        const fmx_spawn_app_t *a = &s->apps[s->app_of[mine[i]]];

        rc = fmx_rank_started(&set->ranks[i], a->argv[0], a->wdir ? a->wdir : d->job.wdir, err);
    }
    return rc;
}

fmx_rank_proc_t *pmixd_rank(struct daemon *d, uint32_t index)
{
    for (struct rank_set *set = d->sets; set; set = set->next)
        for (uint32_t i = 0; i < set->n; i++)
            if (set->ranks[i].rank == index)
                return &set->ranks[i];
    return NULL;
}

void pmixd_ranks_kill(struct daemon *d, int sig)
{
    if (d->ranks_waiting) {
        const fmx_nspace_map_t *ns = fmx_jobspec_nspace(&d->job);
        const uint32_t *mine = fmx_nspace_local_ranks(ns, d->job.self);

        d->ranks_waiting = 0;
        for (uint32_t i = 0; i < fmx_nspace_local_count(ns, d->job.self); i++)
            pmixd_report_exit(d, mine[i], sig); /* a wait status: ended by sig */
    }
    for (struct rank_set *set = d->sets; set; set = set->next)
        for (uint32_t i = 0; i < set->n; i++)
            if (set->ranks[i].pid > 0 && !set->ranks[i].reaped)
                kill(-set->ranks[i].pid, sig); /* its process group: helpers it forked go too */
}

static void recheck(fmx_loop_t *l, void *arg)
{
    (void)l;
    pmixd_ranks_reap(arg);
}

/* A rank gone after PMIx_Init without PMIx_Finalize is reported once the job's ranks on every
 * node have been told (PMIX_ERR_PROC_ABORTED, pmix_glue/events.c): the launcher may end the
 * job on the report. Bounded by TOLD_WAIT_MS, should libpmix never see the connection end. */
#define TOLD_WAIT_MS 3000

static int awaits_told(struct daemon *d, fmx_rank_proc_t *rp)
{
    uint64_t waited_ms = (fmx_now_ns() - rp->reaped_ns) / 1000000u;

    if (rp->told || !d->glue || d->stopping ||
        fmx_glue_rank_state(d->glue, rp->rank) != FMX_RANK_INITIALIZED || waited_ms >= TOLD_WAIT_MS)
        return 0;
    if (!rp->told_timer) {
        rp->told_timer = 1;
        fmx_loop_add_timer(d->loop, TOLD_WAIT_MS - waited_ms + 1, recheck, d);
    }
    return 1;
}

void pmixd_ranks_reap(struct daemon *d)
{
    int status;
    pid_t pid;

    if (!d->sets) /* freed: teardown */
        return;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (struct rank_set *set = d->sets; set; set = set->next)
            for (uint32_t i = 0; i < set->n; i++)
                if (set->ranks[i].pid == pid) {
                    set->ranks[i].reaped = 1;
                    set->ranks[i].status = status;
                    set->ranks[i].reaped_ns = fmx_now_ns();
                }
    for (struct rank_set *set = d->sets; set; set = set->next)
        for (uint32_t i = 0; i < set->n; i++) {
            fmx_rank_proc_t *rp = &set->ranks[i];

            if (rp->reaped != 1 || rp->out >= 0 || rp->err >= 0 || awaits_told(d, rp))
                continue;
            rp->reaped = 2; /* reported */
            pmixd_report_exit(d, rp->rank, rp->status);
        }
    pmixd_ranks_expect_losses(d);
}

void pmixd_ranks_expect_losses(struct daemon *d)
{
    /* this daemon's part of the job is over: the others may go any time (a start-up check
     * still asking them, pmixd_reach.c, is moot) */
    fmx_engine_expect_losses(d->eng, d->stopping || pmixd_ranks_all_ended(d));
}

int pmixd_ranks_all_ended(const struct daemon *d)
{
    for (const struct rank_set *set = d->sets; set; set = set->next)
        for (uint32_t i = 0; i < set->n; i++)
            if (!set->ranks[i].reaped)
                return 0;
    return d->sets != NULL;
}

void pmixd_ranks_free(struct daemon *d)
{
    struct rank_set *set;

    while (d->sets && waitpid(-1, NULL, WNOHANG) > 0)
        ;
    while ((set = d->sets)) {
        d->sets = set->next;
        for (uint32_t i = 0; i < set->n; i++) {
            if (set->ranks[i].out >= 0)
                close(set->ranks[i].out);
            if (set->ranks[i].err >= 0)
                close(set->ranks[i].err);
        }
        free(set->ranks);
        free(set->streams);
        free(set);
    }
    d->ranks = NULL;
    d->nranks = 0;
}
