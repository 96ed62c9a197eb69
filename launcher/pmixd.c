/* pmixd: one per node. Connects to pmixrun's control channel, proves it belongs to the job
 * (FMX_JOB_SECRET) and learns the job; then opens its fabric endpoint on a thread of its own
 * while it starts the PMIx server (loading libfabric and asking it for a provider take a few
 * hundred milliseconds on some machines, which libpmix's and hwloc's start hides). One event
 * loop runs the rest: the endpoint's address out, every daemon's addresses in and the engine
 * up, then this node's ranks (a job of one node: at once), control messages, engine progress,
 * PMIx requests, children's output and exits. This file holds the options, the start-up order, the
 * control channel and the teardown; pmixd.h lists the files of the other concerns. */
#include "pmixd.h"
#include "slurm_alloc.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void on_control(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct daemon *d = arg;
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    int rc = 0;

    (void)fd;
    if (events & FMX_LOOP_OUT)
        fmx_conn_flush(d->ctl);
    if (events & FMX_LOOP_IN)
        rc = fmx_conn_read(d->ctl, &err);
    while (rc >= 0 && (rc = fmx_conn_next(d->ctl, &type, &body, &err)) == 1) {
        if (type == FMX_CTL_KILL) {
            /* the job is over: the ranks' ends are reported without waiting for the others to
             * be told of them (pmixd_ranks.c, awaits_told), nor for anything else */
            d->stopping = 1;
            pmixd_ranks_kill(d, SIGKILL);
        } else if (type == FMX_CTL_SHUTDOWN)
            fmx_loop_stop(l);
        else if (type == FMX_CTL_ADDRS)
            pmixd_fabric_on_addrs(d, &body);
        else if (type == FMX_CTL_NSPACE)
            pmixd_spawn_on_nspace(d, &body);
        else if (type == FMX_CTL_SPAWNED)
            pmixd_spawn_on_spawned(d, &body);
    }
    if (rc < 0) { /* pmixrun is gone: nobody is left to serve */
        fprintf(stderr, "pmixd: node %u: %s; ending the job's ranks here\n", d->job.self, err.text);
        pmixd_ranks_kill(d, SIGKILL);
        fmx_loop_stop(l);
    }
}

/* Before each wait: the control connection is watched for writing while output is queued. */
static int control_before(fmx_loop_t *l, void *arg)
{
    struct daemon *d = arg;

    fmx_loop_set_events(l, fmx_conn_fd(d->ctl),
                        FMX_LOOP_IN | (fmx_conn_wants_write(d->ctl) ? FMX_LOOP_OUT : 0));
    return -1;
}

static void on_glue(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    fmx_glue_dispatch(((struct daemon *)arg)->glue);
}

static void on_signal(fmx_loop_t *l, const struct signalfd_siginfo *si, void *arg)
{
    struct daemon *d = arg;

    (void)l;
    if ((si->ssi_signo == SIGTERM || si->ssi_signo == SIGINT) && !d->stopping) {
        d->stopping = 1; /* told to stop: not a failure of this daemon's */
        pmixd_report_error(d,
                           si->ssi_signo == SIGTERM ? "pmixd was terminated (SIGTERM)"
                                                    : "pmixd was interrupted (SIGINT)");
        pmixd_ranks_kill(d, SIGKILL);
    }
    pmixd_ranks_reap(d);
}

static int start_pmix(struct daemon *d, fmx_error_t *err)
{
    fmx_glue_job_t gj = {.map = &d->job.map,
                         .nspace = d->job.nspace,
                         .self = d->job.self,
                         .tmpdir = d->session.dir,
                         .local_cpusets = d->bind.bitmaps,
                         .topology = fmx_topology(err),
                         .loop = d->loop,
                         .resident = d->svc != NULL};
    int rc = fmx_glue_start(&gj, NULL, &pmixd_glue_host, d, &d->glue, err);

    if (rc)
        return rc;
    fmx_debug("pmixd", "node %u: PMIx server up", d->job.self);
    return fmx_loop_add_fd(d->loop, fmx_glue_fd(d->glue), FMX_LOOP_IN, on_glue, d);
}

/* Whether the fabric may open on its thread while libpmix and hwloc start: when loading its
 * backend takes no time (fmx_fabric_quick: already loaded by a resident daemon, or libfabric
 * with its stand-ins), and libpmix will not edit the environment the thread reads
 * (PMIx_server_init sets or unsets variables when one of these is set). Otherwise the fabric
 * opens only after libpmix: loading libfabric holds the dynamic loader's lock for as long as
 * its libraries' constructors run (a quarter second), and hwloc and libpmix load their plugins
 * through that same lock. */
static int open_early(struct daemon *d)
{
    static const char *const edited[] = {"PMIX_SECURITY_MODE", "PMIX_MCA_ptl",
                                         "PMIX_KEEPALIVE_PIPE"};

    for (size_t i = 0; i < sizeof(edited) / sizeof(*edited); i++)
        if (getenv(edited[i]))
            return 0;
    return fmx_fabric_quick(d->job.map.nnodes);
}

static int start_job(struct daemon *d, uint32_t node, fmx_error_t *err)
{
    int rc;

    if ((rc = pmixd_bootstrap(d, node, err)) || (rc = pmixd_svc_start(d, err)))
        return rc;
    /* the environment is complete before the fabric's thread may read it */
    if ((rc = fmx_session_create(&d->session, d->job.nspace, d->job.self, err)) ||
        (rc = fmx_glue_prepare(d->session.dir, err)))
        return rc;
    if (open_early(d) && (rc = pmixd_fabric_start(d, err)))
        return rc;
    if ((rc = fmx_binding_compute(&d->bind,
                                  fmx_nspace_local_count(fmx_jobspec_nspace(&d->job), d->job.self),
                                  (d->job.flags & FMX_JOB_BIND_CORE) != 0, err)))
        return rc;
    if ((rc = start_pmix(d, err)))
        return rc;
    if (!pmixd_fabric_started(d) && (rc = pmixd_fabric_start(d, err)))
        return rc;
    /* The ranks start once every daemon's address is in and the engine is up
     * (pmixd_fabric_on_addrs): the daemons' address exchange and first connections are then not
     * queued behind a node's ranks starting on the same cores, and every node's ranks start as
     * pmixrun sends the addresses, not each when its own endpoint opened (20-60 ms apart on four
     * netns hosts, where the first rank into the first fence waited as long for the last). */
    if (d->job.map.nnodes > 1 && d->phase == PHASE_OPENING) {
        d->ranks_waiting = 1;
        return 0;
    }
    return pmixd_ranks_start(d, err);
}

static void teardown_stuck(int sig)
{
    static const char line[] = "pmixd: the teardown (PMIx_server_finalize) did not finish within "
                               "10 s: exiting\n";
    ssize_t n = write(STDERR_FILENO, line, sizeof(line) - 1);

    (void)sig;
    (void)n;
    _exit(1);
}

/* libpmix 4.2.2's PMIx_server_finalize can wait forever on a lock its progress thread left held
 * (seen after a client's connection failed mid-way, "PMIX ERROR: UNREACHABLE"): the teardown
 * gets 10 s, then the daemon exits non-zero with a line saying so. */
static void teardown(struct daemon *d)
{
    signal(SIGALRM, teardown_stuck);
    alarm(10);
    pmixd_ranks_kill(d, SIGKILL);
    pmixd_ranks_free(d);
    if (d->ctl)
        fmx_conn_flush_blocking(d->ctl, 2000);
    pmixd_svc_stop(d); /* the glue's calls to the service fail while it runs */
    fmx_engine_cancel(d->eng); /* fences in flight complete while libpmix still runs */
    fmx_glue_stop(d->glue);
    fmx_engine_destroy(d->eng);
    pmixd_pmi_free(d);
    fmx_fabric_close(d->fabric);
    fmx_session_remove(&d->session);
    fmx_conn_free(d->ctl);
    fmx_jobspec_free(&d->job);
    fmx_binding_free(&d->bind);
    fmx_loop_destroy(d->loop);
    alarm(0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pmixd --control HOST:PORT --node INDEX|slurm [--secret-stdin]\n"
            "         started by pmixrun (or its launch agent, or srun) for one job; with\n"
            "         \"slurm\" the node is this host's place in the allocation's node list\n"
            "       pmixd --listen [ADDRESS:]PORT --secret-file FILE\n"
            "         started on its own (a container, a pod): serves every job of a\n"
            "         `pmixrun --connect PORT --secret-file FILE` that knows the same secret\n");
}

struct options {
    char *host;
    long port, node;
    const char *listen, *secret_file, *resume;
};

/* 0 to go on, or the exit status */
static int parse(int argc, char **argv, struct options *o)
{
    static const struct option lo[] = {{"control", 1, 0, 'c'},      {"node", 1, 0, 'n'},
                                       {"secret-stdin", 0, 0, 's'}, {"resume", 1, 0, 'r'},
                                       {"listen", 1, 0, 'l'},       {"secret-file", 1, 0, 'f'},
                                       {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    char secret[128], *colon;
    int c;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'c' && (colon = strrchr(optarg, ':'))) {
            free(o->host);
            o->host = strndup(optarg, (size_t)(colon - optarg));
            o->port = strtol(colon + 1, NULL, 10);
        } else if (c == 'n' && !strcmp(optarg, "slurm")) {
            fmx_error_t err = {{0}};

            if ((o->node = fmx_slurm_node_index(&err)) < 0) {
                fprintf(stderr, "pmixd: --node slurm: %s\n", err.text);
                return 2;
            }
        } else if (c == 'n') {
            o->node = strtol(optarg, NULL, 10);
        } else if (c == 'r') {
            o->resume = optarg;
        } else if (c == 'l') {
            o->listen = optarg;
        } else if (c == 'f') {
            o->secret_file = optarg;
        } else if (c == 's') {
            /* a launch agent's remote command: the secret comes on stdin, not in `ps` */
            if (!fgets(secret, sizeof(secret), stdin)) {
                fprintf(stderr, "pmixd: --secret-stdin: nothing on stdin\n");
                return 2;
            }
            secret[strcspn(secret, "\n")] = '\0';
            setenv("FMX_JOB_SECRET", secret, 1);
        } else {
            usage();
            return c == 'h' ? 0 : 2;
        }
    }
    return 0;
}

/* The control connection, however this daemon was started; NULL after saying why. */
static fmx_conn_t *control(struct daemon *d, struct options *o, int *status)
{
    fmx_error_t err = {{0}};
    uint32_t node = 0;
    int fd;

    *status = 2;
    if (o->listen) {
        fmx_conn_t *c = pmixd_serve(o->listen, o->secret_file, &node, &d->svc_fd);

        o->node = node;
        return c;
    }
    if (o->resume) {
        fmx_conn_t *c = pmixd_resumed_conn(o->resume, &d->svc_fd);

        if (!c || o->node < 0)
            fprintf(stderr, "pmixd: --resume %s: not a connection handed over by pmixd\n",
                    o->resume);
        d->resumed = 1;
        return o->node < 0 ? NULL : c;
    }
    if (!o->host || o->port <= 0 || o->port > 65535 || o->node < 0) {
        usage();
        return NULL;
    }
    if ((fd = fmx_tcp_connect(o->host, (uint16_t)o->port, 30000, &err)) < 0) {
        fprintf(stderr, "pmixd: node %ld: %s\n", o->node, err.text);
        *status = 1;
        return NULL;
    }
    return fmx_conn_new(fd, "pmixrun");
}

int main(int argc, char **argv)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT};
    struct options o = {.node = -1, .secret_file = getenv("FMX_SECRET_FILE")};
    struct daemon d = {.svc_fd = -1};
    fmx_error_t err = {{0}};
    int rc = parse(argc, argv, &o);

    if (rc) {
        free(o.host);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    fmx_malloc_for_daemons();
    if (!(d.ctl = control(&d, &o, &rc))) {
        free(o.host);
        return rc;
    }
    free(o.host);
    if ((rc = fmx_loop_create(&d.loop)) ||
        (rc = fmx_loop_signals(d.loop, sigs, 3, on_signal, &d, NULL, &err)) ||
        (rc = fmx_loop_add_fd(d.loop, fmx_conn_fd(d.ctl), FMX_LOOP_IN, on_control, &d)) ||
        (rc = fmx_loop_add_hooks(d.loop, control_before, NULL, &d)) ||
        (rc = start_job(&d, (uint32_t)o.node, &err))) {
        pmixd_fatal(&d, err.text[0] ? err.text : fmx_strerror(rc));
    } else {
        pmixd_heartbeat_start(&d);
        fmx_loop_run(d.loop);
    }
    teardown(&d);
    return d.failed ? 1 : 0;
}
