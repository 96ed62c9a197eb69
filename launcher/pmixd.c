/* pmixd: one per node. Connects to pmixrun's control channel, proves it belongs to the job
 * (FMX_JOB_SECRET) and learns the job; then opens its fabric endpoint on a thread of its own
 * while it starts the PMIx server and this node's ranks (loading libfabric and asking it for a
 * provider take a few hundred milliseconds on some machines, which the ranks' start-up hides).
 * One poll loop runs the rest: the endpoint's address out, every daemon's addresses in and
 * the engine up, control messages, engine progress, PMIx requests, children's output and
 * exits. Fences and direct modex requests that come before the engine wait in the glue. */
#include "auth.h"
#include "bind.h"
#include "control.h"
#include "fmx_tmpdir.h"
#include "glue.h"
#include "jobspec.h"
#include "ranks.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_CHUNK 65536

struct daemon {
    fmx_conn_t *ctl;
    fmx_jobspec_t job;
    fmx_transport_t *tp;
    fmx_engine_t *eng;
    fmx_glue_t *glue;
    fmx_rank_proc_t *ranks;
    fmx_binding_t bind;
    uint32_t nranks, live;
    int sigfd;
    char tmpdir[256];
    int tmpdir_lock; /* held while tmpdir exists (fmx_tmpdir.h) */
    char shmdir[300];
    int stop;
    int cma; /* cross-memory attach works between ranks here */
    fmx_mem_fabric_t *solo; /* the transport of a job with one daemon */
    /* the fabric endpoint, opened on a thread: it writes a byte to opened[1] when done */
    pthread_t opener;
    int opening;
    int opened[2];
    int open_rc;
    fmx_error_t open_err;
    uint64_t addrs_until; /* the engine must be up by then (ns, monotonic) */
    int resumed; /* a fresh pmixd going on with a job a resident one received (resume()) */
};

/* A resident pmixd started libfabric up under its own FI_* settings (fmx_ofi_load_module) */
static int fabric_warm;

#define ADDRS_TIMEOUT_MS 60000

static void send_text(struct daemon *d, uint16_t type, uint32_t rank, const char *text)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_str(&p, text);
    fmx_conn_send(d->ctl, type, &p);
    fmx_pack_free(&p);
}

/* Reports a fatal error to pmixrun (who prints it) and to our own stderr. */
static void fatal(struct daemon *d, const char *text)
{
    fprintf(stderr, "pmixd: %s\n", text);
    if (d->ctl) {
        send_text(d, FMX_CTL_ERROR, UINT32_MAX, text);
        fmx_conn_flush_blocking(d->ctl, 2000);
    }
}

/* ---- glue callbacks ---- */

static void on_abort(void *arg, uint32_t rank, int status, const char *msg)
{
    struct daemon *d = arg;
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, rank);
    fmx_pack_u32(&p, (uint32_t)status);
    fmx_pack_str(&p, msg);
    fmx_conn_send(d->ctl, FMX_CTL_ABORT, &p);
    fmx_pack_free(&p);
}

static void on_log(void *arg, uint32_t rank, const char *msg)
{
    send_text(arg, FMX_CTL_LOG, rank, msg);
}

/* ---- bootstrap ---- */

static int wait_message(struct daemon *d, uint16_t want, fmx_pack_t *body, int timeout_ms,
                        fmx_error_t *err)
{
    uint64_t until = fmx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    uint16_t type;
    int rc;

    for (;;) {
        rc = fmx_conn_next(d->ctl, &type, body, err);
        if (rc < 0)
            return rc;
        if (rc == 1 && type == want)
            return 0;
        if (rc == 1 && (type == FMX_CTL_KILL || type == FMX_CTL_SHUTDOWN)) {
            fmx_errprintf(err, "pmixrun ended the job during start-up");
            return -ECANCELED;
        }
        if (rc == 1)
            continue;
        struct pollfd pfd = {.fd = d->ctl->fd, .events = POLLIN};
        uint64_t now = fmx_now_ns();
        if (now >= until) {
            fmx_errprintf(err, "no job description from pmixrun within %d ms", timeout_ms);
            return -ETIMEDOUT;
        }
        poll(&pfd, 1, (int)((until - now) / 1000000u) + 1);
        if ((rc = fmx_conn_read(d->ctl, err)) < 0)
            return rc;
    }
}

static int cma_permitted(void);
#define CMA_NOTE                                                                                   \
    "cross-memory attach (process_vm_readv) is not permitted here (no SYS_PTRACE, a seccomp "      \
    "profile or Yama's ptrace_scope): shared memory goes through buffers instead "                 \
    "(OMPI_MCA_btl_vader_single_copy_mechanism=none, FI_SHM_DISABLE_CMA=1)"

/* libfabric reads its FI_* settings once, when it starts up, and a resident pmixd started it
 * under its own; a job that brings other settings goes on in a fresh pmixd (this program
 * again, not started up), handed the control connection and what was read from it (the JOB
 * message and anything after it) in a memory file. Returns only on failure. */
static int resume(struct daemon *d, uint32_t node, fmx_error_t *err)
{
    char spec[32], num[16];
    char *argv[] = {"pmixd", "--resume", spec, "--node", num, NULL};
    int mfd = memfd_create("fmx-job", 0);

    fmx_log(FMX_LOG_INFO, "pmixd",
            "the job's FI_* settings differ from this daemon's: serving it from a fresh process");
    if (mfd < 0 || write(mfd, d->ctl->in, d->ctl->in_len) != (ssize_t)d->ctl->in_len ||
        lseek(mfd, 0, SEEK_SET) != 0 || fcntl(d->ctl->fd, F_SETFD, 0)) {
        fmx_errprintf(err, "cannot hand the job to a fresh pmixd: %s", strerror(errno));
        return -EIO;
    }
    snprintf(spec, sizeof(spec), "%d:%d", d->ctl->fd, mfd);
    snprintf(num, sizeof(num), "%u", node);
    execv("/proc/self/exe", argv);
    fmx_errprintf(err, "cannot start a fresh pmixd (/proc/self/exe): %s", strerror(errno));
    return -errno;
}

/* HELLO (secret, node, host name) on the control connection, the JOB back; then this daemon
 * takes the launcher's FI_* and FMX_* settings (before any other thread may read the
 * environment). */
static int bootstrap(struct daemon *d, uint32_t node, fmx_error_t *err)
{
    const char *secret = getenv("FMX_JOB_SECRET");
    char hostname[256] = "";
    fmx_pack_t p;
    int rc, other_fi = 0;

    if (!secret || !*secret) {
        fmx_errprintf(err, "FMX_JOB_SECRET is not set: pmixd is started by pmixrun");
        return -EINVAL;
    }
    gethostname(hostname, sizeof(hostname) - 1);
    fmx_pack_init(&p);
    fmx_pack_str(&p, secret);
    fmx_pack_u32(&p, node);
    fmx_pack_str(&p, hostname);
    rc = d->resumed ? 0 : fmx_conn_send(d->ctl, FMX_CTL_HELLO, &p); /* a resumed one said it */
    fmx_pack_free(&p);
    if (rc || (rc = wait_message(d, FMX_CTL_JOB, &p, 60000, err)) ||
        (rc = fmx_jobspec_unpack(&d->job, &p, "pmixrun", err)))
        return rc ? rc : -EIO;
    for (uint32_t i = 0; i < d->job.ndenv; i++) {
        char *eq = strchr(d->job.denv[i], '=');
        const char *mine;

        *eq = '\0';
        mine = getenv(d->job.denv[i]);
        if (!strncmp(d->job.denv[i], "FI_", 3) && (!mine || strcmp(mine, eq + 1)))
            other_fi = 1;
        setenv(d->job.denv[i], eq + 1, 1);
        *eq = '=';
    }
    fmx_log_level_reload(); /* the job's FMX_DEBUG */
    if (fabric_warm && other_fi) /* libfabric runs under other settings than the job's */
        return resume(d, node, err);
    fmx_debug("pmixd", "node %u: job %s received", node, d->job.nspace);
    if (!(d->cma = cma_permitted())) {
        fmx_log(FMX_LOG_INFO, "pmixd", "%s", CMA_NOTE);
        setenv("FI_SHM_DISABLE_CMA", "1", 0);
    }
    return 0;
}

static void *open_fabric(void *arg)
{
    struct daemon *d = arg;

    d->open_rc = fmx_ofi_open_module(NULL, &d->tp, &d->open_err);
    (void)!write(d->opened[1], "", 1);
    return NULL;
}

/* The endpoint of this daemon. The only daemon of a job gets a one-member in-process
 * transport at once: libpmix completes every fence among its own clients and nothing ever
 * crosses a fabric. Any other starts the thread that opens the fabric. */
static int open_transport(struct daemon *d, fmx_error_t *err)
{
    int rc;

    if (d->job.map.nnodes == 1) {
        if ((rc = fmx_mem_fabric_create(1, 0, &d->solo))) {
            fmx_errprintf(err, "cannot make the one-daemon transport: %s", fmx_strerror(rc));
            return rc;
        }
        d->tp = fmx_mem_endpoint(d->solo, 0);
        (void)!write(d->opened[1], "", 1);
        return 0;
    }
    if (!fabric_warm)
        fmx_ofi_defaults_apply(); /* libfabric starts up on the thread: until it is joined, no
                                     setenv */
    if ((rc = pthread_create(&d->opener, NULL, open_fabric, d))) {
        fmx_errprintf(err, "cannot start a thread: %s", strerror(rc));
        return -rc;
    }
    d->opening = 1;
    return 0;
}

/* The endpoint is open (or failed to open): its address goes to pmixrun (ADDR). */
static int announce(struct daemon *d, fmx_error_t *err)
{
    uint8_t addr[256];
    size_t alen = sizeof(addr);
    fmx_pack_t p;
    char c;
    int rc;

    (void)!read(d->opened[0], &c, 1);
    if (d->opening) {
        pthread_join(d->opener, NULL);
        d->opening = 0;
        fmx_ofi_defaults_clear();
        if (d->open_rc) {
            *err = d->open_err;
            return d->open_rc;
        }
    }
    if ((rc = d->tp->ops->get_addr(d->tp, addr, &alen))) {
        fmx_errprintf(err, "cannot read the fabric address: %s", fmx_strerror(rc));
        return rc;
    }
    fmx_debug("pmixd", "node %u: fabric endpoint open", d->job.self);
    fmx_pack_init(&p);
    fmx_pack_u32(&p, d->job.self);
    fmx_pack_bytes(&p, addr, alen);
    rc = fmx_conn_send(d->ctl, FMX_CTL_ADDR, &p);
    fmx_pack_free(&p);
    d->addrs_until = fmx_now_ns() + ADDRS_TIMEOUT_MS * 1000000ull;
    return rc;
}

/* Every daemon's address from pmixrun (ADDRS): the peers are added and the engine starts;
 * the fences and direct modex requests that waited for it run. */
static int connect_peers(struct daemon *d, fmx_pack_t *p, fmx_error_t *err)
{
    uint32_t n = d->job.map.nnodes;
    const void **addrs = calloc(n, sizeof(*addrs));
    size_t *lens = calloc(n, sizeof(*lens));
    int rc = 0;

    if (!addrs || !lens) {
        rc = -ENOMEM;
    } else {
        for (uint32_t i = 0; i < n; i++)
            addrs[i] = fmx_unpack_bytes(p, &lens[i]);
        if (p->err || p->pos != p->len) {
            fmx_errprintf(err, "malformed address list from pmixrun");
            rc = -EPROTO;
        } else if ((rc = d->tp->ops->add_peers(d->tp, n, (const void *const *)addrs, lens))) {
            fmx_errprintf(err, "cannot reach the other daemons' fabric addresses: %s",
                          fmx_strerror(rc));
        }
    }
    free(addrs);
    free(lens);
    if (rc)
        return rc;
    fmx_engine_config_t cfg = {.self = d->job.self,
                               .members = n,
                               .transport = d->tp,
                               .default_timeout_ms = d->job.timeout_ms};
    if ((rc = fmx_engine_create(&cfg, &d->eng))) {
        fmx_errprintf(err, "cannot start the engine: %s", fmx_strerror(rc));
        return rc;
    }
    fmx_debug("pmixd", "node %u: engine up", d->job.self);
    if (d->glue)
        fmx_glue_set_engine(d->glue, d->eng);
    return 0;
}

/* ---- ranks ---- */

/* The job's session directory, base/fmx.NSPACE.NODE.XXXXXX: removed at exit, and by the next
 * daemon on this host when this one is killed before it could (fmx_tmpdir.h). */
static int make_tmpdir(struct daemon *d, fmx_error_t *err)
{
    const char *base = getenv("TMPDIR");
    char tag[200];
    int rc;

    snprintf(tag, sizeof(tag), "%s.%u", d->job.nspace, d->job.self);
    rc = fmx_tmpdir_create(base && *base ? base : "/tmp", "fmx.", tag, d->tmpdir, sizeof(d->tmpdir),
                           &d->tmpdir_lock, err);
    if (rc)
        return rc;
    /* Open MPI's shared-memory segments live apart from the PMIx session files, which Open
     * MPI's own cleanup deletes while other ranks still use their segments */
    snprintf(d->shmdir, sizeof(d->shmdir), "%s/shm", d->tmpdir);
    if (mkdir(d->shmdir, 0700)) {
        fmx_errprintf(err, "cannot create %s: %s", d->shmdir, strerror(errno));
        return -errno;
    }
    return 0;
}

/* Whether one process may read another's memory with process_vm_readv (cross-memory attach),
 * tried the way ranks would: two siblings, neither the other's parent. Containers without
 * SYS_PTRACE, seccomp profiles and Yama's ptrace_scope forbid it, and Open MPI's and libfabric's
 * shared memory then fail at the first large message unless told not to use it. */
static int cma_permitted(void)
{
    static volatile uint64_t word = 0x666d782d636d61ull;
    static int known = -1; /* probed once per process; a service's job children inherit it */
    int gate[2], st = 0;
    pid_t target, reader;

    if (known >= 0)
        return known;
    if (pipe(gate))
        return 1;
    if ((target = fork()) == 0) { /* waits until the reader is done */
        char c;
        close(gate[1]);
        _exit(read(gate[0], &c, 1) < 0);
    }
    if (target < 0 || (reader = fork()) < 0) {
        close(gate[0]);
        close(gate[1]);
        if (target > 0)
            waitpid(target, NULL, 0);
        return 1;
    }
    if (reader == 0) {
        uint64_t got = 0;
        struct iovec mine = {&got, sizeof(got)}, theirs = {(void *)&word, sizeof(word)};
        _exit(process_vm_readv(target, &mine, 1, &theirs, 1, 0) == (ssize_t)sizeof(got) &&
                      got == word
                  ? 0
                  : 1);
    }
    waitpid(reader, &st, 0);
    close(gate[1]);
    close(gate[0]);
    waitpid(target, NULL, 0);
    return known = WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The environment of one rank: ours, then the job's exports, then what PMIx needs. */
static int rank_env(struct daemon *d, uint32_t rank, fmx_env_t *env, fmx_error_t *err)
{
    extern char **environ;
    char **pmix_env = NULL, num[16];
    int rc = 0;

    for (char **e = environ; *e && !rc; e++)
        if (strncmp(*e, "FMX_JOB_SECRET=", 15) && !fmx_ofi_defaults_entry(*e))
            rc = fmx_env_set(env, *e);
    for (uint32_t i = 0; i < d->job.nenv && !rc; i++)
        rc = fmx_env_set(env, d->job.env[i]);
    if (rc || (rc = fmx_glue_child_env(d->glue, rank, &pmix_env, err)))
        return rc;
    for (char **e = pmix_env; *e && !rc; e++)
        rc = fmx_env_set(env, *e);
    fmx_glue_free_env(pmix_env);
    snprintf(num, sizeof(num), "%u", rank);
    if (!rc)
        rc = fmx_env_set_kv(env, "FMX_RANK", num);
    /* Open MPI 4.1 starts as a singleton unless it sees a launcher it knows; of those it
     * accepts, LSF's jsrun signature is the one other tools in a job are least likely to act
     * on (a SLURM_ or FLUX_ variable makes some run srun or flux). FMX_OMPI_SIGNATURE=0 drops
     * it. Virtual nodes on one host each need their own shared-memory directory. */
    if (!rc && fmx_env_u64("FMX_OMPI_SIGNATURE", 1) && !getenv("JSM_JSRUN_PORT"))
        rc = fmx_env_set_kv(env, "JSM_JSRUN_PORT", "0");
    /* as mpirun does: ranks that outnumber the cores must not busy-poll */
    if (!rc && !getenv("OMPI_MCA_mpi_yield_when_idle") &&
        ((d->job.flags & FMX_JOB_OVERSUBSCRIBED) ||
         d->nranks > (uint32_t)sysconf(_SC_NPROCESSORS_ONLN)))
        rc = fmx_env_set_kv(env, "OMPI_MCA_mpi_yield_when_idle", "1");
    if (!rc && !d->cma && !getenv("OMPI_MCA_btl_vader_single_copy_mechanism"))
        rc = fmx_env_set_kv(env, "OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    if (!rc && !d->cma && !getenv("FI_SHM_DISABLE_CMA"))
        rc = fmx_env_set_kv(env, "FI_SHM_DISABLE_CMA", "1");
    if (!rc && !getenv("OMPI_MCA_btl_vader_backing_directory"))
        rc = fmx_env_set_kv(env, "OMPI_MCA_btl_vader_backing_directory", d->shmdir);
    if (!rc)
        rc = fmx_env_set_kv(env, "TMPDIR", d->tmpdir);
    return rc;
}

static int start_ranks(struct daemon *d, fmx_error_t *err)
{
    const fmx_node_t *me = &d->job.map.nodes[d->job.self];

    d->nranks = me->nranks;
    d->ranks = calloc(d->nranks ? d->nranks : 1, sizeof(*d->ranks));
    if (!d->ranks)
        return -ENOMEM;
    for (uint32_t i = 0; i < d->nranks; i++) /* none has pipes until it is forked */
        d->ranks[i].out = d->ranks[i].err = d->ranks[i].report = -1;
    for (uint32_t i = 0; i < d->nranks; i++) {
        fmx_rank_proc_t *rp = &d->ranks[i];
        fmx_env_t env = {0};
        int rc;

        rp->rank = me->first_rank + i;
        if (d->bind.bound && fmx_log_level() >= FMX_LOG_DEBUG) {
            char *cpus = fmx_binding_list(&d->bind, i);
            fmx_debug("pmixd", "rank %u bound to processing units %s", rp->rank, cpus ? cpus : "?");
            free(cpus);
        }
        rc = rank_env(d, rp->rank, &env, err);
        if (rc == 0)
            rc = fmx_rank_spawn(rp, d->job.argv, env.v, d->job.wdir,
                                d->bind.bound ? &d->bind.masks[i] : NULL, err);
        fmx_env_free(&env);
        if (rp->pid > 0)
            d->live++;
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < d->nranks; i++) {
        int rc = fmx_rank_started(&d->ranks[i], d->job.argv[0], d->job.wdir, err);

        if (rc)
            return rc;
    }
    return 0;
}

static void kill_ranks(struct daemon *d, int sig)
{
    for (uint32_t i = 0; i < d->nranks; i++)
        if (d->ranks[i].pid > 0 && !d->ranks[i].reaped)
            kill(-d->ranks[i].pid, sig); /* its process group: helpers it forked go too */
}

/* ---- the loop ---- */

static void forward(struct daemon *d, fmx_rank_proc_t *rp, int *fd, uint32_t stream)
{
    char buf[IO_CHUNK];
    ssize_t n = read(*fd, buf, sizeof(buf));
    fmx_pack_t p;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    fmx_pack_init(&p);
    fmx_pack_u32(&p, rp->rank);
    fmx_pack_u32(&p, stream);
    fmx_pack_bytes(&p, buf, (size_t)n);
    fmx_conn_send(d->ctl, FMX_CTL_IO, &p);
    fmx_pack_free(&p);
}

/* Reports exits once a rank is reaped and its output is drained, so no output follows it. */
static void report_exits(struct daemon *d)
{
    struct signalfd_siginfo si;
    int status;
    pid_t pid;

    while (read(d->sigfd, &si, sizeof(si)) > 0)
        if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !d->stop) {
            fatal(d,
                  si.ssi_signo == SIGTERM ? "pmixd was terminated (SIGTERM)"
                                          : "pmixd was interrupted (SIGINT)");
            kill_ranks(d, SIGKILL);
        }
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (uint32_t i = 0; i < d->nranks; i++)
            if (d->ranks[i].pid == pid) {
                d->ranks[i].reaped = 1;
                d->ranks[i].status = status;
            }
    for (uint32_t i = 0; i < d->nranks; i++) {
        fmx_rank_proc_t *rp = &d->ranks[i];
        fmx_pack_t p;

        if (!rp->reaped || rp->reaped == 2 || rp->out >= 0 || rp->err >= 0)
            continue;
        rp->reaped = 2;
        d->live--;
        fmx_pack_init(&p);
        fmx_pack_u32(&p, rp->rank);
        fmx_pack_u32(&p, (uint32_t)rp->status);
        fmx_conn_send(d->ctl, FMX_CTL_EXIT, &p);
        fmx_pack_free(&p);
    }
}

/* A failure after the ranks started: pmixrun hears of it, the ranks end, and so does pmixd. */
static void give_up(struct daemon *d, const char *text)
{
    fatal(d, text);
    kill_ranks(d, SIGKILL);
    d->stop = 1;
}

static void on_control(struct daemon *d)
{
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    int rc = fmx_conn_read(d->ctl, &err);

    while (rc >= 0 && (rc = fmx_conn_next(d->ctl, &type, &body, &err)) == 1) {
        if (type == FMX_CTL_KILL) {
            kill_ranks(d, SIGKILL);
        } else if (type == FMX_CTL_SHUTDOWN) {
            d->stop = 1;
        } else if (type == FMX_CTL_ADDRS && !d->eng && d->addrs_until) {
            fmx_error_t e = {{0}};

            if (connect_peers(d, &body, &e))
                give_up(d, e.text);
        }
    }
    if (rc < 0) { /* pmixrun is gone: nobody is left to serve */
        fprintf(stderr, "pmixd: node %u: %s; ending the job's ranks here\n", d->job.self, err.text);
        kill_ranks(d, SIGKILL);
        d->stop = 1;
    }
}

static void loop(struct daemon *d)
{
    size_t cap = 5 + 2 * (size_t)d->nranks;
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));

    while (pfd && !d->stop) {
        size_t n = 0;
        int t = d->eng ? fmx_engine_timeout_ms(d->eng) : 1000;
        int efd = d->eng ? fmx_engine_fd(d->eng) : -1;

        pfd[n++] =
            (struct pollfd){.fd = d->ctl->fd, .events = POLLIN | (d->ctl->out_len ? POLLOUT : 0)};
        pfd[n++] = (struct pollfd){.fd = fmx_glue_fd(d->glue), .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = d->sigfd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = efd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = d->addrs_until ? -1 : d->opened[0], .events = POLLIN};
        for (uint32_t i = 0; i < d->nranks; i++) {
            pfd[n++] = (struct pollfd){.fd = d->ranks[i].out, .events = POLLIN};
            pfd[n++] = (struct pollfd){.fd = d->ranks[i].err, .events = POLLIN};
        }
        if (d->eng && efd < 0) /* no fd from the fabric: come back soon to progress it */
            t = t < 0 || t > 1 ? 1 : t;
        if (d->eng && fmx_engine_prepare_wait(d->eng) != 0)
            t = 0;
        poll(pfd, n, t);
        if (pfd[4].revents) {
            fmx_error_t e = {{0}};

            if (announce(d, &e)) {
                give_up(d, e.text[0] ? e.text : "cannot open the fabric endpoint");
                break;
            }
        }
        if (!d->eng && d->addrs_until && fmx_now_ns() > d->addrs_until) {
            give_up(d, "no addresses of the other daemons from pmixrun within 60 s");
            break;
        }
        if (pfd[0].revents & POLLIN)
            on_control(d);
        if (pfd[0].revents & POLLOUT)
            fmx_conn_flush(d->ctl);
        if (pfd[1].revents)
            fmx_glue_dispatch(d->glue);
        for (uint32_t i = 0; i < d->nranks; i++) {
            if (pfd[5 + 2 * i].revents)
                forward(d, &d->ranks[i], &d->ranks[i].out, 1);
            if (pfd[6 + 2 * i].revents)
                forward(d, &d->ranks[i], &d->ranks[i].err, 2);
        }
        report_exits(d);
        if (d->eng)
            fmx_engine_progress(d->eng);
    }
    free(pfd);
}

/* --resume CONN:MEMFD (resume()): the control connection, with what was read from it. */
static fmx_conn_t *resumed_conn(const char *spec)
{
    int cfd = -1, mfd = -1;
    struct stat st;
    fmx_conn_t *c;

    if (sscanf(spec, "%d:%d", &cfd, &mfd) != 2 || fstat(mfd, &st) || st.st_size <= 0 ||
        !(c = fmx_conn_new(cfd, "pmixrun")))
        return NULL;
    fcntl(cfd, F_SETFD, FD_CLOEXEC);
    c->in = malloc((size_t)st.st_size);
    c->in_cap = (size_t)st.st_size;
    if (!c->in || read(mfd, c->in, c->in_cap) != (ssize_t)c->in_cap) {
        fmx_conn_free(c);
        close(mfd);
        return NULL;
    }
    c->in_len = c->in_cap;
    close(mfd);
    return c;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pmixd --control HOST:PORT --node INDEX [--secret-stdin]\n"
            "         started by pmixrun (or its launch agent) for one job\n"
            "       pmixd --listen [ADDRESS:]PORT --secret-file FILE\n"
            "         started on its own (a container, a pod): serves every job of a\n"
            "         `pmixrun --connect PORT --secret-file FILE` that knows the same secret\n");
}

/* ---- service mode ---- */

#define MAX_JOBS 256
#define STOP_GRACE_NS 10000000000ull

/* A job's child process ended: a non-zero status or a signal is the daemon's own fault (its
 * launcher cannot see it), so it is logged here and counted in the service's exit status. */
static int job_ended_badly(pid_t pid, int st)
{
    char how[96];

    if (!fmx_wait_status_describe(st, how, sizeof(how)))
        return 0;
    fprintf(stderr, "pmixd: the job child %d %s\n", (int)pid, how);
    return 1;
}

/* Accepts launchers until SIGTERM; each connection gets a child process that proves the secret
 * (auth.h) and then runs that job as a launched pmixd would. Returns only in such a child, with
 * the control connection, node index and FMX_JOB_SECRET set up; the service itself exits. */
static fmx_conn_t *serve(const char *spec, const char *secret_file, uint32_t *node)
{
    uint8_t key[FMX_SECRET_MAX];
    size_t klen = 0;
    fmx_error_t err = {{0}};
    const char *colon = strrchr(spec, ':');
    char *host = colon ? strndup(spec, (size_t)(colon - spec)) : strdup("0.0.0.0");
    long port = strtol(colon ? colon + 1 : spec, NULL, 10);
    pid_t jobs[MAX_JOBS];
    int njobs = 0, lfd, sfd, failed_jobs = 0;
    uint64_t stopping = 0; /* when SIGTERM came (ns), 0 while serving */
    uint16_t bound = 0;
    sigset_t mask;

    if (!secret_file || fmx_secret_read(secret_file, key, &klen, &err)) {
        fprintf(stderr, "pmixd: %s\n", secret_file ? err.text : "--listen needs --secret-file");
        exit(2);
    }
    if (port < 0 || port > 65535 || (port == 0 && strcmp(colon ? colon + 1 : spec, "0"))) {
        fprintf(stderr, "pmixd: --listen %s: not a port\n", spec);
        exit(2);
    }
    if ((lfd = fmx_tcp_listen(host, (uint16_t)port, &bound, &err)) < 0) {
        fprintf(stderr, "pmixd: %s\n", err.text);
        exit(1);
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    fprintf(stderr, "pmixd: serving jobs on %s:%u\n", host, bound);
    if (!cma_permitted())
        fprintf(stderr, "pmixd: %s\n", CMA_NOTE);
    /* libfabric is loaded and started up once here and inherited by every job's child (the
     * libraries it pulls in take 0.2 s to load on some machines, and its start-up reads all
     * of /proc/kallsyms); a failure is reported by the job that needs the fabric */
    fmx_ofi_defaults_apply();
    if (fmx_ofi_load_module(1, &err))
        fmx_debug("pmixd", "%s", err.text);
    else
        fabric_warm = 1;
    fmx_ofi_defaults_clear();
    if (!fmx_topology(&err)) /* hwloc's discovery, inherited by every job as well */
        fmx_debug("pmixd", "%s", err.text);
    free(host);
    for (;;) {
        struct pollfd pfd[2] = {{.fd = lfd, .events = stopping ? 0 : POLLIN},
                                {.fd = sfd, .events = POLLIN}};
        struct signalfd_siginfo si;
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        char who[96] = "?";
        int st, fd;
        pid_t pid;

        poll(pfd, 2, stopping ? 100 : -1);
        while (read(sfd, &si, sizeof(si)) > 0)
            if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !stopping) {
                fprintf(stderr, "pmixd: %s: ending %d job(s) and stopping\n",
                        strsignal((int)si.ssi_signo), njobs);
                for (int i = 0; i < njobs; i++)
                    kill(jobs[i], SIGTERM);
                stopping = fmx_now_ns();
            }
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
            for (int i = 0; i < njobs; i++)
                if (jobs[i] == pid) {
                    jobs[i--] = jobs[--njobs];
                    failed_jobs += job_ended_badly(pid, st);
                }
        if (stopping && njobs == 0)
            exit(failed_jobs ? 1 : 0);
        /* a job that does not end on SIGTERM must not keep the service from stopping */
        if (stopping && fmx_now_ns() - stopping > STOP_GRACE_NS) {
            for (int i = 0; i < njobs; i++) {
                fprintf(stderr, "pmixd: the job child %d did not end %d s after SIGTERM: killed\n",
                        (int)jobs[i], (int)(STOP_GRACE_NS / 1000000000ull));
                kill(jobs[i], SIGKILL);
            }
            stopping = fmx_now_ns();
        }
        if (!(pfd[0].revents & POLLIN))
            continue;
        if ((fd = accept4(lfd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC)) < 0)
            continue;
        fmx_sockaddr_str((struct sockaddr *)&from, who, sizeof(who));
        if (njobs == MAX_JOBS) {
            fprintf(stderr, "pmixd: refused %s: already running %d jobs\n", who, MAX_JOBS);
            close(fd);
            continue;
        }
        if ((pid = fork()) < 0) {
            fprintf(stderr, "pmixd: fork: %s\n", strerror(errno));
            close(fd);
        } else if (pid > 0) {
            jobs[njobs++] = pid;
            close(fd);
        } else {
            char peer[128], secret[256];
            fmx_conn_t *c;

            close(lfd);
            close(sfd);
            snprintf(peer, sizeof(peer), "launcher at %s", who);
            c = fmx_conn_new(fd, peer);
            if (fmx_auth_daemon(c, key, klen, 10000, node, secret, sizeof(secret), &err)) {
                fprintf(stderr, "pmixd: %s\n", err.text);
                fmx_conn_free(c);
                _exit(0); /* a refusal is the service working, not a failed job */
            }
            memset(key, 0, sizeof(key));
            fprintf(stderr, "pmixd: a job from %s, as its node %u\n", who, *node);
            setenv("FMX_JOB_SECRET", secret, 1);
            sigprocmask(SIG_UNBLOCK, &mask, NULL);
            return c;
        }
    }
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

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"control", 1, 0, 'c'},      {"node", 1, 0, 'n'},
                                       {"secret-stdin", 0, 0, 's'}, {"resume", 1, 0, 'r'},
                                       {"listen", 1, 0, 'l'},       {"secret-file", 1, 0, 'f'},
                                       {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    char secret[128];
    struct daemon d = {.sigfd = -1, .opened = {-1, -1}, .tmpdir_lock = -1};
    fmx_error_t err = {{0}};
    char *host = NULL, *colon;
    const char *listen_spec = NULL, *secret_file = getenv("FMX_SECRET_FILE"), *resume_spec = NULL;
    long node = -1, port = 0;
    uint32_t served_node = 0;
    sigset_t mask;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'c' && (colon = strrchr(optarg, ':'))) {
            free(host);
            host = strndup(optarg, (size_t)(colon - optarg));
            port = strtol(colon + 1, NULL, 10);
        } else if (c == 'n') {
            node = strtol(optarg, NULL, 10);
        } else if (c == 'r') {
            resume_spec = optarg;
        } else if (c == 'l') {
            listen_spec = optarg;
        } else if (c == 'f') {
            secret_file = optarg;
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
    signal(SIGPIPE, SIG_IGN);
    if (listen_spec) {
        d.ctl = serve(listen_spec, secret_file, &served_node);
        node = served_node;
    } else if (resume_spec) {
        if (!(d.ctl = resumed_conn(resume_spec)) || node < 0) {
            fprintf(stderr, "pmixd: --resume %s: not a connection handed over by pmixd\n",
                    resume_spec);
            return 2;
        }
        d.resumed = 1;
    } else if (!host || port <= 0 || port > 65535 || node < 0) {
        usage();
        free(host);
        return 2;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (!d.ctl) {
        int fd = fmx_tcp_connect(host, (uint16_t)port, 30000, &err);

        if (fd < 0) {
            fprintf(stderr, "pmixd: node %ld: %s\n", node, err.text);
            free(host);
            return 1;
        }
        d.ctl = fmx_conn_new(fd, "pmixrun");
    }
    if (pipe2(d.opened, O_CLOEXEC | O_NONBLOCK)) {
        fprintf(stderr, "pmixd: node %ld: pipe: %s\n", node, strerror(errno));
        goto out;
    }
    /* with libfabric already loaded and started up (a resident daemon's job), opening the
     * endpoint loads nothing, so it may run alongside hwloc and libpmix from the start */
    if (bootstrap(&d, (uint32_t)node, &err) || (fabric_warm && open_transport(&d, &err)) ||
        make_tmpdir(&d, &err) ||
        fmx_binding_compute(&d.bind, d.job.map.nodes[d.job.self].nranks,
                            (d.job.flags & FMX_JOB_BIND_CORE) != 0, &err)) {
        fatal(&d, err.text);
        goto out;
    }
    const char **names = calloc(d.job.map.nnodes, sizeof(*names));
    uint32_t *first = calloc(d.job.map.nnodes, sizeof(*first));
    uint32_t *count = calloc(d.job.map.nnodes, sizeof(*count));
    for (uint32_t i = 0; names && first && count && i < d.job.map.nnodes; i++) {
        names[i] = d.job.map.nodes[i].name;
        first[i] = d.job.map.nodes[i].first_rank;
        count[i] = d.job.map.nodes[i].nranks;
    }
    fmx_glue_job_t gj = {.nspace = d.job.nspace,
                         .size = d.job.map.size,
                         .nnodes = d.job.map.nnodes,
                         .self = d.job.self,
                         .node_names = names,
                         .first_rank = first,
                         .nranks = count,
                         .tmpdir = d.tmpdir,
                         .local_cpusets = d.bind.bitmaps,
                         .topology = fmx_topology(&err)};
    fmx_glue_host_t gh = {.abort = on_abort, .log = on_log};
    rc = names && first && count ? fmx_glue_start(&gj, NULL, &gh, &d, &d.glue, &err) : -ENOMEM;
    free(names);
    free(first);
    free(count);
    fmx_debug("pmixd", "node %u: PMIx server up", d.job.self);
    /* otherwise the fabric opens only now: loading libfabric holds the dynamic loader's lock
     * for as long as its libraries' constructors run (a quarter second on some machines), and
     * hwloc and libpmix load their plugins through that same lock */
    if (rc || (!fabric_warm && (rc = open_transport(&d, &err))) || (rc = start_ranks(&d, &err))) {
        fatal(&d, err.text[0] ? err.text : fmx_strerror(rc));
        kill_ranks(&d, SIGKILL);
        rc = 1;
    }
    fmx_debug("pmixd", "node %u: %u ranks started", d.job.self, d.nranks);
    loop(&d);
    rc = 0;
out:
    /* libpmix 4.2.2's PMIx_server_finalize can wait forever on a lock its progress thread left
     * held (seen after a client's connection failed mid-way, "PMIX ERROR: UNREACHABLE"): the
     * teardown gets 10 s, then the daemon exits non-zero with a line saying so */
    signal(SIGALRM, teardown_stuck);
    alarm(10);
    kill_ranks(&d, SIGKILL);
    if (d.opening)
        pthread_join(d.opener, NULL);
    while (d.ranks && waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (d.ctl)
        fmx_conn_flush_blocking(d.ctl, 2000);
    fmx_glue_stop(d.glue);
    fmx_engine_destroy(d.eng);
    fmx_transport_close(d.tp);
    fmx_mem_fabric_destroy(d.solo);
    if (d.tmpdir[0])
        fmx_tmpdir_remove(d.tmpdir);
    if (d.tmpdir_lock >= 0)
        close(d.tmpdir_lock);
    fmx_conn_free(d.ctl);
    fmx_jobspec_free(&d.job);
    if (d.opened[0] >= 0) {
        close(d.opened[0]);
        close(d.opened[1]);
    }
    fmx_binding_free(&d.bind);
    free(d.ranks);
    free(host);
    alarm(0);
    return rc;
}
