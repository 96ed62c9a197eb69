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

static int spawn_one(struct daemon *d, const fmx_rank_env_t *re, uint32_t i, fmx_error_t *err)
{
    fmx_rank_proc_t *rp = &d->ranks[i];
    fmx_env_t env = {0};
    int rc;

    if (d->bind.bound && fmx_log_level() >= FMX_LOG_DEBUG) {
        char *cpus = fmx_binding_list(&d->bind, i);
        fmx_debug("pmixd", "rank %u bound to processing units %s", rp->rank, cpus ? cpus : "?");
        free(cpus);
    }
    rc = fmx_rank_env_build(re, rp->rank, &env, err);
    rp->pass_fd = pmixd_pmi_child_fd(d, i);
    if (rc == 0)
        rc = fmx_rank_spawn(rp, d->job.argv, env.v, d->job.wdir,
                            d->bind.bound ? &d->bind.masks[i] : NULL, err);
    fmx_env_free(&env);
    pmixd_pmi_forked(d, i); /* the rank's end of its PMI socket is the rank's alone now */
    if (rp->pid > 0) {
        d->streams[2 * i] = (struct rank_stream){d, rp, 1};
        d->streams[2 * i + 1] = (struct rank_stream){d, rp, 2};
        fmx_loop_add_fd(d->loop, rp->out, FMX_LOOP_IN, forward, &d->streams[2 * i]);
        fmx_loop_add_fd(d->loop, rp->err, FMX_LOOP_IN, forward, &d->streams[2 * i + 1]);
    }
    return rc;
}

int pmixd_ranks_start(struct daemon *d, fmx_error_t *err)
{
    const fmx_nspace_map_t *ns = fmx_jobspec_nspace(&d->job);
    const uint32_t *mine = fmx_nspace_local_ranks(ns, d->job.self);
    fmx_rank_env_t re = {.job = &d->job,
                         .session = &d->session,
                         .cma = d->cma,
                         .local_ranks = fmx_nspace_local_count(ns, d->job.self),
                         .sources = {{pmix_env, d->glue}, {pmixd_pmi_env, d}},
                         .nsources = 2};
    int rc;

    d->nranks = re.local_ranks;
    if ((rc = pmixd_pmi_start(d, err)))
        return rc;
    d->ranks = calloc(d->nranks ? d->nranks : 1, sizeof(*d->ranks));
    d->streams = calloc(2 * (size_t)(d->nranks ? d->nranks : 1), sizeof(*d->streams));
    if (!d->ranks || !d->streams)
        return -ENOMEM;
    for (uint32_t i = 0; i < d->nranks; i++) { /* none has pipes until it is forked */
        d->ranks[i].out = d->ranks[i].err = d->ranks[i].report = d->ranks[i].pass_fd = -1;
        d->ranks[i].rank = mine[i];
    }
    for (uint32_t i = 0; i < d->nranks; i++)
        if ((rc = spawn_one(d, &re, i, err)))
            return rc;
    for (uint32_t i = 0; i < d->nranks; i++) {
        rc = fmx_rank_started(&d->ranks[i], d->job.argv[0], d->job.wdir, err);

        if (rc)
            return rc;
    }
    return 0;
}

void pmixd_ranks_kill(struct daemon *d, int sig)
{
    for (uint32_t i = 0; i < d->nranks; i++)
        if (d->ranks[i].pid > 0 && !d->ranks[i].reaped)
            kill(-d->ranks[i].pid, sig); /* its process group: helpers it forked go too */
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

    if (!d->ranks) /* freed: teardown */
        return;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (uint32_t i = 0; i < d->nranks; i++)
            if (d->ranks[i].pid == pid) {
                d->ranks[i].reaped = 1;
                d->ranks[i].status = status;
                d->ranks[i].reaped_ns = fmx_now_ns();
            }
    for (uint32_t i = 0; i < d->nranks; i++) {
        fmx_rank_proc_t *rp = &d->ranks[i];

        if (rp->reaped != 1 || rp->out >= 0 || rp->err >= 0 || awaits_told(d, rp))
            continue;
        rp->reaped = 2; /* reported */
        pmixd_report_exit(d, rp->rank, rp->status);
    }
}

int pmixd_ranks_all_ended(const struct daemon *d)
{
    for (uint32_t i = 0; i < d->nranks; i++)
        if (!d->ranks[i].reaped)
            return 0;
    return d->ranks != NULL;
}

void pmixd_ranks_free(struct daemon *d)
{
    while (d->ranks && waitpid(-1, NULL, WNOHANG) > 0)
        ;
    for (uint32_t i = 0; d->ranks && i < d->nranks; i++) {
        if (d->ranks[i].out >= 0)
            close(d->ranks[i].out);
        if (d->ranks[i].err >= 0)
            close(d->ranks[i].err);
    }
    free(d->ranks);
    free(d->streams);
    d->ranks = NULL;
    d->streams = NULL;
}
