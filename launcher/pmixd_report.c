/* What a pmixd tells pmixrun on the control channel: fatal errors, ranks' output and exits, and
 * what the glue reports (PMIx_Abort, PMIx_Log). */
#include "pmixd.h"

#include "pmi_server.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

void pmixd_send_text(struct daemon *d, uint16_t type, uint32_t rank, const char *text)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_str(&p, text);
    fmx_conn_send(d->ctl, type, &p);
    fmx_pack_free(&p);
}

void pmixd_fatal(struct daemon *d, const char *text)
{
    d->failed = 1;
    pmixd_report_error(d, text);
}

void pmixd_report_error(struct daemon *d, const char *text)
{
    fprintf(stderr, "pmixd: %s\n", text);
    if (d->ctl) {
        pmixd_send_text(d, FMX_CTL_ERROR, UINT32_MAX, text);
        fmx_conn_flush_blocking(d->ctl, 2000);
    }
}

void pmixd_give_up(struct daemon *d, const char *text)
{
    pmixd_fatal(d, text);
    pmixd_ranks_kill(d, SIGKILL);
    fmx_loop_stop(d->loop);
}

void pmixd_report_io(struct daemon *d, uint32_t rank, uint32_t stream, const void *buf, size_t n)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_u32(&p, stream);
    fmx_pack_bytes(&p, buf, n);
    fmx_conn_send(d->ctl, FMX_CTL_IO, &p);
    fmx_pack_free(&p);
}

static void beat(fmx_loop_t *l, void *arg)
{
    struct daemon *d = arg;

    fmx_conn_send(d->ctl, FMX_CTL_BEAT, NULL);
    fmx_loop_add_timer(l, d->beat_ms, beat, d);
}

void pmixd_heartbeat_start(struct daemon *d)
{
    d->beat_ms = fmx_env_u64("FMX_HEARTBEAT_MS", 1000);
    if (d->beat_ms)
        fmx_loop_add_timer(d->loop, d->beat_ms, beat, d);
}

/* A message of a rank and one number (EXIT: its wait status; UNFINALIZED: how it left). */
static void send_rank_u32(struct daemon *d, uint16_t type, uint32_t rank, uint32_t v)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_u32(&p, v);
    fmx_conn_send(d->ctl, type, &p);
    fmx_pack_free(&p);
}

void pmixd_report_unfinalized(struct daemon *d, uint32_t rank, uint32_t how)
{
    send_rank_u32(d, FMX_CTL_UNFINALIZED, rank, how);
}

void pmixd_report_exit(struct daemon *d, uint32_t rank, int status)
{
    /* an MPI program's rank that leaves after init without finalize did not end well */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        uint32_t local = 0;

        while (local < d->nranks && d->ranks[local].rank != rank)
            local++;
        if (fmx_glue_rank_state(d->glue, rank) == FMX_RANK_INITIALIZED)
            send_rank_u32(d, FMX_CTL_UNFINALIZED, rank, 1);
        else if (local < d->nranks && pmixd_pmi_state(d, local) == FMX_PMI_INITIALIZED)
            send_rank_u32(d, FMX_CTL_UNFINALIZED, rank, 3);
    }
    send_rank_u32(d, FMX_CTL_EXIT, rank, (uint32_t)status);
}

void pmixd_report_abort(struct daemon *d, uint16_t type, uint32_t rank, int status, const char *msg)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_u32(&p, (uint32_t)status);
    fmx_pack_str(&p, msg);
    fmx_conn_send(d->ctl, type, &p);
    fmx_pack_free(&p);
}

static void on_abort(void *arg, uint32_t rank, int status, const char *msg)
{
    pmixd_report_abort(arg, FMX_CTL_ABORT, rank, status, msg);
}

static void on_log(void *arg, uint32_t rank, const char *msg)
{
    pmixd_send_text(arg, FMX_CTL_LOG, rank, msg);
}

static void on_lost(void *arg, uint32_t rank)
{
    struct daemon *d = arg;
    fmx_rank_proc_t *rp;

    /* at teardown the engine's cancel completes the telling after the ranks are freed */
    if (!d->sets)
        return;
    if ((rp = pmixd_rank(d, rank)))
        rp->told = 1;
    /* its exit first, if it is over (it may have waited for this): a rank killed by a signal
     * ends the job with that signal's status, as before it was told */
    pmixd_ranks_reap(d);
    send_rank_u32(arg, FMX_CTL_UNFINALIZED, rank, 0);
}

/* PMIx_Job_control's signal to a rank here, or to all of them (its process group: what it
 * forked gets it too). */
static int on_signal(void *arg, uint32_t rank, int sig)
{
    struct daemon *d = arg;
    fmx_rank_proc_t *rp;

    if (rank != UINT32_MAX) {
        if (!(rp = pmixd_rank(d, rank)))
            return -ENOENT;
        return rp->pid > 0 && !rp->reaped && kill(-rp->pid, sig) && errno != ESRCH ? -errno : 0;
    }
    for (uint32_t i = 0; i < d->nranks; i++) { /* the job's */
        rp = &d->ranks[i];
        if (rp->pid > 0 && !rp->reaped && kill(-rp->pid, sig) && errno != ESRCH)
            return -errno;
    }
    return 0;
}

const fmx_glue_host_t pmixd_glue_host = {.abort = on_abort,
                                         .log = on_log,
                                         .lost = on_lost,
                                         .signal = on_signal,
                                         .spawn = pmixd_spawn_request,
                                         .service = pmixd_svc_request};
