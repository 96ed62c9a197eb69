/* Starting a job's daemons, four ways behind one small table: a local fork for every node
 * (all on this host), a launch agent (ssh by default) for the nodes on other hosts,
 * connections to daemons already serving (--connect), or one srun over a Slurm allocation's
 * nodes (starter_srun.c). */
#include "pmixrun.h"

#include "auth.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int is_local(const char *host)
{
    char me[256] = "";

    gethostname(me, sizeof(me) - 1);
    return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, me);
}

uint32_t pmixrun_first_remote(const struct run *r)
{
    uint32_t i = 0;

    while (i < r->job.map.nnodes && is_local(r->job.map.nodes[i].host))
        i++;
    return i;
}

int pmixrun_all_local(const struct run *r)
{
    return pmixrun_first_remote(r) == r->job.map.nnodes;
}

pid_t pmixrun_exec_daemons(struct run *r, char *const av[], int on_stdin, const char *for_what)
{
    int in[2] = {-1, -1};
    pid_t pid;

    if (on_stdin && pipe(in))
        pmixrun_die("pipe: %s", strerror(errno));
    if ((pid = fork()) < 0)
        pmixrun_die("fork: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (!on_stdin) {
            setenv("FMX_JOB_SECRET", r->secret, 1);
        } else {
            dup2(in[0], STDIN_FILENO);
            close(in[0]);
            close(in[1]);
        }
        execvp(av[0], av);
        fprintf(stderr, "pmixrun: cannot start %s for %s: %s\n", av[0], for_what, strerror(errno));
        _exit(127);
    }
    if (on_stdin) {
        close(in[0]);
        dprintf(in[1], "%s\n", r->secret);
        close(in[1]);
    }
    return pid;
}

/* Starts pmixd for node i: a fork here, or AGENT... HOST pmixd ... --secret-stdin for another
 * host, with the secret written to the agent's stdin so that it shows in no process list. */
static void start_daemon(struct run *r, uint32_t i, const char *pmixd, const char *control)
{
    const char *host = r->job.map.nodes[i].host;
    const char *agent = r->o.agent ? r->o.agent : "ssh";
    int local = is_local(host);
    char node[16], what[300], *words = strdup(agent), *save, *w;
    char *av[64];
    int k = 0;

    snprintf(node, sizeof(node), "%u", i);
    if (!local) {
        for (w = strtok_r(words, " \t", &save); w && k < 50; w = strtok_r(NULL, " \t", &save))
            av[k++] = w;
        av[k++] = (char *)host;
    }
    av[k++] = (char *)pmixd;
    av[k++] = "--control";
    av[k++] = (char *)control;
    av[k++] = "--node";
    av[k++] = node;
    if (!local)
        av[k++] = "--secret-stdin";
    av[k] = NULL;
    snprintf(what, sizeof(what), "host %s", host);
    r->d[i].pid = pmixrun_exec_daemons(r, av, !local, what);
    free(words);
}

/* The address at which pmixd on HOST can reach pmixrun: FMX_CONTROL_HOST when set; else the
 * address of this machine's interface that the kernel routes toward HOST (a connected UDP
 * socket sends nothing); else, when HOST does not resolve here (an ssh alias, say), this
 * machine's host name, for the far side to resolve. */
void pmixrun_control_host(const char *host, char *out, size_t len)
{
    const char *env = getenv("FMX_CONTROL_HOST");
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    struct sockaddr_in self;
    socklen_t slen = sizeof(self);
    int fd = -1;

    if (env && *env) {
        snprintf(out, len, "%s", env);
        return;
    }
    if (is_local(host)) {
        snprintf(out, len, "127.0.0.1");
        return;
    }
    if (!getaddrinfo(host, "9", &hints, &ai) &&
        (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0 &&
        !connect(fd, ai->ai_addr, ai->ai_addrlen) &&
        !getsockname(fd, (struct sockaddr *)&self, &slen) &&
        inet_ntop(AF_INET, &self.sin_addr, out, (socklen_t)len)) {
        close(fd);
        freeaddrinfo(ai);
        return;
    }
    if (fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    if (gethostname(out, len - 1))
        pmixrun_die("cannot tell host %s where to reach this machine: set FMX_CONTROL_HOST", host);
    out[len - 1] = '\0';
}

void pmixrun_pmixd_path(char *out, size_t len)
{
    char self[PATH_MAX];
    const char *env_pmixd = getenv("FMX_PMIXD");
    int rc;

    if (env_pmixd && *env_pmixd) {
        snprintf(out, len, "%s", env_pmixd);
        return;
    }
    if ((rc = fmx_self_dir(self, sizeof(self))))
        pmixrun_die("cannot find my own executable: %s", strerror(-rc));
    snprintf(out, len, "%s/pmixd", self);
}

/* local and agent: pmixd, beside pmixrun or FMX_PMIXD, told where to connect back */
static void start_forked(struct run *r)
{
    char pmixd[PATH_MAX + 8];

    pmixrun_pmixd_path(pmixd, sizeof(pmixd));
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        char host[256], control[300];

        pmixrun_control_host(r->job.map.nodes[i].host, host, sizeof(host));
        snprintf(control, sizeof(control), "%s:%u", host, r->port);
        free(r->d[i].control);
        r->d[i].control = strdup(control);
        start_daemon(r, i, pmixd, control);
    }
}

/* Milliseconds until a CLOCK_MONOTONIC deadline in ns, at least 1. */
static int ms_left(uint64_t until)
{
    uint64_t now = fmx_now_ns();

    return now < until ? (int)((until - now) / 1000000u) : 1;
}

/* --connect: a connection to the pmixd serving on each host, the secret proven both ways;
 * then the daemon's job child says HELLO on it like a started daemon (join.c). */
static void start_connected(struct run *r)
{
    uint8_t key[FMX_SECRET_MAX];
    size_t klen = 0;
    fmx_error_t err = {{0}};
    /* a pod that is still starting refuses connections for a while, a wrong port forever:
     * 10 s unless FMX_DAEMON_TIMEOUT_MS says otherwise */
    uint64_t wait_ms = fmx_env_u64("FMX_DAEMON_TIMEOUT_MS", 10000);
    uint64_t until = fmx_now_ns() + 1000000ull * wait_ms;

    if (fmx_secret_read(r->o.secret_file, key, &klen, &err))
        pmixrun_die("%s", err.text);
    r->pending = calloc(r->job.map.nnodes, sizeof(*r->pending));
    if (!r->pending)
        pmixrun_die("out of memory");
    /* every connection first, so that the daemons fork their job children and send their
     * challenges at the same time; then the proofs, one daemon after the other */
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        const char *host = r->job.map.nodes[i].host;
        char peer[300];
        int fd = fmx_tcp_connect(host, (uint16_t)r->o.connect_port, ms_left(until), &err);

        if (fd < 0)
            pmixrun_die("no pmixd serving at %s:%u (node %s): %s", host, r->o.connect_port,
                        r->job.map.nodes[i].name, err.text);
        snprintf(peer, sizeof(peer), "pmixd at %s:%u", host, r->o.connect_port);
        r->pending[i] = fmx_conn_new(fd, peer);
        r->npending++;
    }
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        int left = ms_left(until);

        if (fmx_auth_launcher(r->pending[i], key, klen, left > 10000 ? 10000 : left, i, r->secret,
                              &err))
            pmixrun_die("%s", err.text);
    }
    memset(key, 0, sizeof(key));
}

static const struct starter local = {"local", 1, start_forked};
static const struct starter agent = {"launch agent", 1, start_forked};
static const struct starter connected = {"connect", 0, start_connected};

const struct starter *pmixrun_starter(const struct run *r)
{
    if (r->o.connect_port)
        return &connected;
    if (r->slurm && !r->o.agent)
        return &pmixrun_srun_starter;
    return pmixrun_all_local(r) ? &local : &agent;
}
