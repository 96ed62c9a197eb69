/* pmixd's PMI-1 / PMI-2 wire service (pmi_wire/pmi_server.h) for its ranks: a socketpair per
 * rank, handed over as PMI_FD with PMI_RANK and PMI_SIZE, its bytes fed to the server and its
 * replies written back, all on the daemon's loop. A rank's library speaks PMI or PMIx, or
 * neither; FMX_PMI=0 leaves the PMI variables out. */
#include "pmixd.h"

#include "pmi_proto.h"
#include "pmi_server.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
/* A rank whose PMI connection ends before finalize has this long to be seen exiting (then its
 * exit status tells what happened) before the job ends for the connection itself. */
#define EOF_GRACE_MS 1000

struct pmi_rank {
    struct daemon *d;
    uint32_t local;
    int fd; /* ours; -1 once closed */
    int child; /* the rank's end until it is forked */
    int want_out;
};

struct pmixd_pmi {
    fmx_pmi_server_t *srv;
    struct pmi_rank *r;
    uint32_t n;
    uint64_t armed_ns; /* a loop timer is set for a rank's wait that ends then (0: none) */
};

/* Ranks' waits for node attributes end in time: a timer for the earliest, set again after. */
static void waits_due(fmx_loop_t *l, void *arg);

static void arm_waits(struct daemon *d)
{
    struct pmixd_pmi *p = d->pmi;
    uint64_t due = fmx_pmi_server_deadline(p->srv), now = fmx_now_ns();

    if (!due || (p->armed_ns && p->armed_ns <= due))
        return;
    p->armed_ns = due;
    fmx_loop_add_timer(d->loop, due > now ? (due - now) / 1000000u + 1 : 0, waits_due, d);
}

static void waits_due(fmx_loop_t *l, void *arg)
{
    struct daemon *d = arg;

    (void)l;
    if (!d->pmi)
        return;
    d->pmi->armed_ns = 0;
    fmx_pmi_server_expire(d->pmi->srv, fmx_now_ns());
    arm_waits(d);
}

static void close_rank(struct pmi_rank *pr)
{
    if (pr->fd >= 0) {
        fmx_loop_del_fd(pr->d->loop, pr->fd);
        close(pr->fd);
        pr->fd = -1;
    }
}

static void flush(struct pmi_rank *pr)
{
    struct pmixd_pmi *p = pr->d->pmi;
    size_t len;
    const char *out;

    while (pr->fd >= 0 && (out = fmx_pmi_server_output(p->srv, pr->local, &len)) && len) {
        ssize_t n = send(pr->fd, out, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!pr->want_out)
                fmx_loop_set_events(pr->d->loop, pr->fd, FMX_LOOP_IN | FMX_LOOP_OUT);
            pr->want_out = 1;
            return;
        }
        if (n < 0) { /* the rank is gone: its exit will tell */
            fmx_pmi_server_consumed(p->srv, pr->local, len);
            close_rank(pr);
            return;
        }
        fmx_pmi_server_consumed(p->srv, pr->local, (size_t)n);
    }
    if (pr->want_out && pr->fd >= 0)
        fmx_loop_set_events(pr->d->loop, pr->fd, FMX_LOOP_IN);
    pr->want_out = 0;
}

static void eof_grace(fmx_loop_t *l, void *arg)
{
    struct pmi_rank *pr = arg;
    fmx_rank_proc_t *rp = &pr->d->ranks[pr->local];

    (void)l;
    if (!rp->reaped && !pr->d->stopping)
        pmixd_report_unfinalized(pr->d, rp->rank, 2);
}

static void readable(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct pmi_rank *pr = arg;
    struct pmixd_pmi *p = pr->d->pmi;
    char buf[READ_CHUNK];
    ssize_t n;
    int rc;

    (void)fd;
    if (events & FMX_LOOP_OUT)
        flush(pr);
    if (!(events & FMX_LOOP_IN) || pr->fd < 0)
        return;
    n = read(pr->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0)
        n = 0; /* a reset: as an end of file */
    rc = fmx_pmi_server_input(p->srv, pr->local, buf, (size_t)n);
    arm_waits(pr->d);
    if (rc || n == 0) {
        close_rank(pr);
        if (n == 0 && fmx_pmi_server_state(p->srv, pr->local) == FMX_PMI_INITIALIZED)
            fmx_loop_add_timer(l, EOF_GRACE_MS, eof_grace, pr);
    }
}

/* ---- the server's host ---- */

static void on_output(void *arg, uint32_t local)
{
    struct daemon *d = arg;

    flush(&d->pmi->r[local]);
}

static void on_abort(void *arg, uint32_t rank, int status, const char *msg)
{
    pmixd_report_abort(arg, FMX_CTL_PMI_ABORT, rank, status, msg);
}

static void on_fail(void *arg, uint32_t rank, const char *text)
{
    struct daemon *d = arg;

    (void)rank;
    if (!d->stopping)
        pmixd_give_up(d, text);
}

static void on_warn(void *arg, uint32_t rank, const char *text)
{
    pmixd_send_text(arg, FMX_CTL_LOG, rank, text);
}

static const fmx_pmi_host_t pmi_host = {
    .output = on_output, .abort = on_abort, .fail = on_fail, .warn = on_warn};

/* ---- start and end ---- */

int pmixd_pmi_start(struct daemon *d, fmx_error_t *err)
{
    const fmx_nspace_map_t *ns = fmx_jobspec_nspace(&d->job);
    uint32_t nlocal = fmx_nspace_local_count(ns, d->job.self), nmembers = 0;
    uint32_t *members = calloc(d->job.map.nnodes ? d->job.map.nnodes : 1, sizeof(*members));
    char map[FMX_PMI1_VALLEN_MAX + 1];
    struct pmixd_pmi *p = calloc(1, sizeof(*p));
    int rc;

    if (!fmx_env_u64("FMX_PMI", 1)) {
        free(members);
        free(p);
        return 0;
    }
    if (!p || !members || !(p->r = calloc(nlocal ? nlocal : 1, sizeof(*p->r)))) {
        free(members);
        free(p);
        return -ENOMEM;
    }
    d->pmi = p;
    for (uint32_t node = 0; node < d->job.map.nnodes; node++)
        if (fmx_nspace_local_count(ns, node))
            members[nmembers++] = node;
    fmx_pmi_job_t job = {.kvsname = d->job.nspace,
                         .size = ns->size,
                         .self = d->job.self,
                         .local_ranks = fmx_nspace_local_ranks(ns, d->job.self),
                         .nlocal = nlocal,
                         .members = members,
                         .nmembers = nmembers,
                         .timeout_ms = d->job.timeout_ms};
    /* too long for a value: MPICH then finds its node-local peers by exchanging host names */
    if (fmx_pmi_process_mapping(ns->node_of, ns->size, map, sizeof(map)) == 0)
        job.process_mapping = map;
    else
        fmx_debug("pmixd", "PMI_process_mapping of this job is longer than %d bytes: left out",
                  FMX_PMI1_VALLEN_MAX);
    rc = fmx_pmi_server_create(&job, &pmi_host, d, &p->srv);
    free(members);
    if (rc) {
        fmx_errprintf(err, "cannot start the PMI service: %s", fmx_strerror(rc));
        return rc;
    }
    pmixd_pmi_set_engine(d); /* up already when the ranks waited for it */
    for (uint32_t i = 0; i < nlocal; i++) {
        int sv[2];

        p->r[i] = (struct pmi_rank){.d = d, .local = i, .fd = -1, .child = -1};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
            fmx_errprintf(err, "PMI socketpair: %s", strerror(errno));
            return -errno;
        }
        p->n = i + 1;
        p->r[i].fd = sv[0];
        p->r[i].child = sv[1];
        fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
        fmx_loop_add_fd(d->loop, sv[0], FMX_LOOP_IN, readable, &p->r[i]);
    }
    return 0;
}

int pmixd_pmi_env(void *arg, uint32_t rank, fmx_env_t *env, fmx_error_t *err)
{
    struct daemon *d = arg;
    char num[16];
    int rc;

    (void)err;
    if (!d->pmi)
        return 0;
    for (uint32_t i = 0; i < d->pmi->n; i++) {
        if (d->ranks[i].rank != rank)
            continue;
        snprintf(num, sizeof(num), "%d", d->pmi->r[i].child);
        rc = fmx_env_set_kv(env, "PMI_FD", num);
        snprintf(num, sizeof(num), "%u", rank);
        rc = rc ? rc : fmx_env_set_kv(env, "PMI_RANK", num);
        snprintf(num, sizeof(num), "%u", fmx_jobspec_nspace(&d->job)->size);
        rc = rc ? rc : fmx_env_set_kv(env, "PMI_SIZE", num);
        return rc ? rc : fmx_env_set_kv(env, "PMI_SPAWNED", "0");
    }
    return 0;
}

int pmixd_pmi_child_fd(struct daemon *d, uint32_t local)
{
    return d->pmi && local < d->pmi->n ? d->pmi->r[local].child : -1;
}

void pmixd_pmi_forked(struct daemon *d, uint32_t local)
{
    if (d->pmi && local < d->pmi->n && d->pmi->r[local].child >= 0) {
        close(d->pmi->r[local].child);
        d->pmi->r[local].child = -1;
    }
}

int pmixd_pmi_state(const struct daemon *d, uint32_t local)
{
    return d->pmi ? fmx_pmi_server_state(d->pmi->srv, local) : FMX_PMI_UNUSED;
}

void pmixd_pmi_set_engine(struct daemon *d)
{
    if (d->pmi)
        fmx_pmi_server_set_engine(d->pmi->srv, d->eng);
}

void pmixd_pmi_free(struct daemon *d)
{
    struct pmixd_pmi *p = d->pmi;

    if (!p)
        return;
    for (uint32_t i = 0; i < p->n; i++) {
        close_rank(&p->r[i]);
        pmixd_pmi_forked(d, i);
    }
    fmx_pmi_server_destroy(p->srv);
    free(p->r);
    free(p);
    d->pmi = NULL;
}
