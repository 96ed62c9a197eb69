/* pmixrun: the launcher. Builds the job map from the command line, starts one pmixd per node
 * (a local fork, or the launch agent for other hosts), hands every daemon the job and the
 * others' fabric addresses, then relays output and decides the exit status as mpirun does:
 * 0 when every rank exits 0, else the first failure, which ends the whole job. */
#include "pmixrun.h"

#include "auth.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- daemons ---- */

/* How long daemons have to connect and to open their fabric endpoints. */
static uint64_t daemon_timeout_ms(void)
{
    return fmx_env_u64("FMX_DAEMON_TIMEOUT_MS", 30000);
}

static int is_local(const char *host)
{
    char me[256] = "";

    gethostname(me, sizeof(me) - 1);
    return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, me);
}

static int all_local(struct run *r)
{
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (!is_local(r->job.map.nodes[i].host))
            return 0;
    return 1;
}

/* Starts pmixd for node i: a fork here, or AGENT... HOST pmixd ... --secret-stdin for another
 * host, with the secret written to the agent's stdin so that it shows in no process list. */
static void start_daemon(struct run *r, uint32_t i, const char *pmixd, const char *control)
{
    const char *host = r->job.map.nodes[i].host;
    const char *agent = r->o.agent ? r->o.agent : "ssh";
    int local = is_local(host), in[2] = {-1, -1};
    char node[16], *words = strdup(agent), *save, *w;
    char *av[64];
    int k = 0;
    pid_t pid;

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
    if (!local && pipe(in))
        pmixrun_die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        pmixrun_die("fork: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (local) {
            setenv("FMX_JOB_SECRET", r->secret, 1);
        } else {
            dup2(in[0], STDIN_FILENO);
            close(in[0]);
            close(in[1]);
        }
        execvp(av[0], av);
        fprintf(stderr, "pmixrun: cannot start %s for host %s: %s\n", av[0], host, strerror(errno));
        _exit(127);
    }
    r->d[i].pid = pid;
    if (!local) {
        close(in[0]);
        dprintf(in[1], "%s\n", r->secret);
        close(in[1]);
    }
    free(words);
}

/* The address at which pmixd on HOST can reach pmixrun: FMX_CONTROL_HOST when set; else the
 * address of this machine's interface that the kernel routes toward HOST (a connected UDP
 * socket sends nothing); else, when HOST does not resolve here (an ssh alias, say), this
 * machine's host name, for the far side to resolve. */
static void control_host_for(const char *host, char *out, size_t len)
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

/* Milliseconds until a CLOCK_MONOTONIC deadline in ns, at least 1. */
static int ms_left(uint64_t until)
{
    uint64_t now = fmx_now_ns();

    return now < until ? (int)((until - now) / 1000000u) : 1;
}

/* --connect: a connection to the pmixd serving on each host, the secret proven both ways;
 * then the daemon's job child says HELLO on it like a started daemon. */
static void connect_daemons(struct run *r)
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
    r->pre = calloc(r->job.map.nnodes, sizeof(*r->pre));
    if (!r->pre)
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
        r->pre[i] = fmx_conn_new(fd, peer);
        r->npre++;
    }
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        int left = ms_left(until);

        if (fmx_auth_launcher(r->pre[i], key, klen, left > 10000 ? 10000 : left, i, r->secret,
                              &err))
            pmixrun_die("%s", err.text);
    }
    memset(key, 0, sizeof(key));
}

static void start_daemons(struct run *r)
{
    char self[PATH_MAX], pmixd[PATH_MAX + 8];
    const char *env_pmixd = getenv("FMX_PMIXD");
    int rc = fmx_self_dir(self, sizeof(self));

    if (rc)
        pmixrun_die("cannot find my own executable: %s", strerror(-rc));
    snprintf(pmixd, sizeof(pmixd), "%s/pmixd", self);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        char host[256], control[300];

        control_host_for(r->job.map.nodes[i].host, host, sizeof(host));
        snprintf(control, sizeof(control), "%s:%u", host, r->port);
        free(r->d[i].control);
        r->d[i].control = strdup(control);
        start_daemon(r, i, env_pmixd ? env_pmixd : pmixd, control);
    }
}

/* ---- the control loop ---- */

static const char *node_name(struct run *r, uint32_t rank)
{
    return rank < r->size ? r->job.map.nodes[fmx_nspace_node_of(r->ns, rank)].name : "?";
}

static void end_job(struct run *r, int code)
{
    if (r->ending)
        return;
    r->ending = 1;
    r->exit_code = code;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn)
            fmx_conn_send(r->d[i].conn, FMX_CTL_KILL, NULL);
}

/* Output with --tag-output: whole lines, each prefixed; partial lines wait for their end. */
static void emit(struct run *r, uint32_t rank, uint32_t stream, const char *buf, size_t n)
{
    FILE *f = stream == 2 ? stderr : stdout;
    char **part;

    if (!(r->job.flags & FMX_JOB_TAG_OUTPUT)) {
        fwrite(buf, 1, n, f);
        fflush(f);
        return;
    }
    part = &r->partial[2 * rank + (stream == 2)];
    for (size_t start = 0, i = 0; i < n; i++) {
        if (buf[i] != '\n' && i + 1 < n)
            continue;
        size_t len = i - start + (buf[i] == '\n');
        if (buf[i] != '\n') { /* keep the unfinished tail */
            size_t old = *part ? strlen(*part) : 0;
            char *grown = realloc(*part, old + len + 1);
            if (grown) {
                memcpy(grown + old, buf + start, len);
                grown[old + len] = '\0';
                *part = grown;
            }
            break;
        }
        fprintf(f, "[%s,%u]<%s>: %s%.*s", r->job.nspace, rank, stream == 2 ? "stderr" : "stdout",
                *part ? *part : "", (int)len, buf + start);
        free(*part);
        *part = NULL;
        start = i + 1;
    }
    fflush(f);
}

static void on_exit_status(struct run *r, uint32_t rank, int status)
{
    char how[96];
    int code = fmx_wait_status_describe(status, how, sizeof(how));

    r->exited++;
    if (code == 0 || r->ending)
        return;
    fprintf(stderr, "pmixrun: rank %u on node %s %s\n", rank, node_name(r, rank), how);
    end_job(r, code);
}

static void on_addr(struct run *r, uint32_t node, fmx_pack_t *b);

static void on_message(struct run *r, uint32_t node, uint16_t type, fmx_pack_t *b)
{
    uint32_t rank = fmx_unpack_u32(b), v;
    const void *bytes;
    char *text;
    size_t n;

    switch (type) {
    case FMX_CTL_IO:
        v = fmx_unpack_u32(b);
        bytes = fmx_unpack_bytes(b, &n);
        if (!b->err && rank < r->size)
            emit(r, rank, v, bytes, n);
        break;
    case FMX_CTL_EXIT:
        v = fmx_unpack_u32(b);
        if (!b->err)
            on_exit_status(r, rank, (int)v);
        break;
    case FMX_CTL_ABORT:
        v = fmx_unpack_u32(b);
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: rank %u on node %s called PMIx_Abort with status %d: %s\n", rank,
                node_name(r, rank), (int)v, text ? text : "");
        free(text);
        end_job(r, (int)v ? (int)v & 0xff : 1);
        break;
    case FMX_CTL_LOG:
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: rank %u on node %s: %s\n", rank, node_name(r, rank),
                text ? text : "");
        free(text);
        break;
    case FMX_CTL_ADDR:
        on_addr(r, node, b);
        break;
    case FMX_CTL_ERROR:
        r->d[node].said_error = 1;
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: pmixd on node %s: %s\n", r->job.map.nodes[node].name,
                text ? text : "");
        free(text);
        end_job(r, 1);
        break;
    default:
        fprintf(stderr, "pmixrun: pmixd on node %s sent unknown message type %u\n",
                r->job.map.nodes[node].name, type);
        end_job(r, 1);
    }
}

static void on_daemon(struct run *r, uint32_t i)
{
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    int rc = fmx_conn_read(r->d[i].conn, &err);

    while (rc >= 0 && (rc = fmx_conn_next(r->d[i].conn, &type, &body, &err)) == 1)
        on_message(r, i, type, &body);
    if (rc < 0) {
        if (!r->d[i].done && !r->ending)
            fprintf(stderr, "pmixrun: lost contact with pmixd on node %s (%s)\n",
                    r->job.map.nodes[i].name, err.text);
        fmx_conn_free(r->d[i].conn);
        r->d[i].conn = NULL;
        if (!r->d[i].done)
            end_job(r, r->exit_code ? r->exit_code : 1);
        r->d[i].done = 1;
    }
}

/* ---- start-up ---- */

/* Records the waitpid status of a daemon process (or its launch agent); returns its node or -1. */
static int note_daemon_exit(struct run *r, pid_t pid, int status)
{
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].pid == pid) {
            r->d[i].status = status;
            r->d[i].pid = 0;
            return (int)i;
        }
    return -1;
}

/* Accepts daemons until every node has said HELLO with the job's secret, or the deadline. */
static void accept_daemons(struct run *r)
{
    uint64_t until = fmx_now_ns() + 1000000ull * daemon_timeout_ms();
    fmx_conn_t **pending = r->pre;
    size_t npending = r->npre;
    uint32_t joined = 0;

    r->pre = NULL;
    r->npre = 0;
    while (joined < r->job.map.nnodes) {
        struct pollfd *pfd = calloc(1 + npending, sizeof(*pfd));
        size_t n = 0;
        uint64_t now = fmx_now_ns();
        int st, ready = 0;
        pid_t pid;

        if (!pfd)
            pmixrun_die("out of memory");
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            int i = note_daemon_exit(r, pid, st);

            if (i >= 0 && !r->d[i].conn)
                pmixrun_die("pmixd for node %s (host %s) ended before it connected (%s %d)",
                            r->job.map.nodes[i].name, r->job.map.nodes[i].host,
                            WIFEXITED(st) ? "status" : "signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
        if (now >= until) {
            for (uint32_t i = 0; i < r->job.map.nnodes; i++)
                if (!r->d[i].conn && r->o.connect_port)
                    fprintf(stderr,
                            "pmixrun: the pmixd serving at %s:%u (node %s) took the job but did "
                            "not start it within %llu ms\n",
                            r->job.map.nodes[i].host, r->o.connect_port, r->job.map.nodes[i].name,
                            (unsigned long long)daemon_timeout_ms());
                else if (!r->d[i].conn)
                    fprintf(stderr,
                            "pmixrun: pmixd on host %s (node %s) did not connect back to %s "
                            "within %llu ms (is that address reachable from there? "
                            "FMX_CONTROL_HOST chooses it)\n",
                            r->job.map.nodes[i].host, r->job.map.nodes[i].name,
                            r->d[i].control ? r->d[i].control : "?",
                            (unsigned long long)daemon_timeout_ms());
            end_job(r, 1);
            free(pfd);
            return;
        }
        pfd[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < npending; i++) {
            pfd[n++] = (struct pollfd){.fd = fmx_conn_fd(pending[i]), .events = POLLIN};
            /* a resident daemon's HELLO may have come in with its proof of the secret */
            ready |= fmx_conn_has_message(pending[i]);
        }
        poll(pfd, n, ready ? 0 : 100);
        if (pfd[0].revents & POLLIN) {
            int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            fmx_conn_t **grown = realloc(pending, (npending + 1) * sizeof(*grown));
            if (fd >= 0 && grown) {
                pending = grown;
                pending[npending++] = fmx_conn_new(fd, "a daemon connecting");
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (size_t i = 0; i < npending; i++) {
            fmx_conn_t *c = pending[i];
            fmx_error_t err = {{0}};
            fmx_pack_t b;
            uint16_t type;
            int rc = fmx_conn_read(c, &err);

            if (rc >= 0)
                rc = fmx_conn_next(c, &type, &b, &err);
            if (rc == 0)
                continue;
            char *secret = rc == 1 && type == FMX_CTL_HELLO ? fmx_unpack_str(&b) : NULL;
            uint32_t node = fmx_unpack_u32(&b);
            char *host = fmx_unpack_str(&b);
            int good = secret && !b.err && b.pos == b.len && !strcmp(secret, r->secret) &&
                node < r->job.map.nnodes && !r->d[node].conn;

            if (good) {
                char peer[300];

                snprintf(peer, sizeof(peer), "pmixd on %s", host);
                fmx_conn_set_peer(c, peer);
                r->d[node].conn = c;
                r->d[node].joined = 1;
                joined++;
            } else {
                fprintf(stderr, "pmixrun: refused a control connection (%s)\n",
                        rc < 0 ? err.text : "wrong secret, node or message");
                fmx_conn_free(c);
            }
            free(secret);
            free(host);
            pending[i--] = pending[--npending];
        }
        free(pfd);
    }
    for (size_t i = 0; i < npending; i++)
        fmx_conn_free(pending[i]);
    free(pending);
    if (r->listen_fd >= 0)
        close(r->listen_fd);
    r->listen_fd = -1;
}

static void send_job(struct run *r)
{
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        fmx_pack_t job;

        fmx_pack_init(&job);
        r->job.self = i;
        fmx_jobspec_pack(&r->job, &job);
        if (fmx_conn_send(r->d[i].conn, FMX_CTL_JOB, &job))
            end_job(r, 1);
        fmx_pack_free(&job);
    }
    r->addr_deadline = fmx_now_ns() + 1000000ull * daemon_timeout_ms();
}

/* A daemon's fabric address (it opens its endpoint after the JOB message, with the job's
 * FI_* settings); once every daemon has sent one, everyone gets the list. */
static void on_addr(struct run *r, uint32_t node, fmx_pack_t *b)
{
    size_t alen = 0;
    const void *addr = fmx_unpack_bytes(b, &alen);
    fmx_pack_t addrs;

    if (b->err || !alen || r->d[node].addr) {
        fprintf(stderr, "pmixrun: pmixd on node %s sent a malformed fabric address\n",
                r->job.map.nodes[node].name);
        end_job(r, 1);
        return;
    }
    r->d[node].addr = malloc(alen);
    if (!r->d[node].addr)
        pmixrun_die("out of memory");
    memcpy(r->d[node].addr, addr, alen);
    r->d[node].alen = alen;
    if (++r->naddrs < r->job.map.nnodes || r->ending)
        return;
    fmx_debug("pmixrun", "every daemon's address is in: sending them");
    fmx_pack_init(&addrs);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        fmx_pack_bytes(&addrs, r->d[i].addr, r->d[i].alen);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn && fmx_conn_send(r->d[i].conn, FMX_CTL_ADDRS, &addrs))
            end_job(r, 1);
    fmx_pack_free(&addrs);
}

/* ---- main loop ---- */

static void on_signal(struct run *r)
{
    struct signalfd_siginfo si;

    while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            fprintf(stderr, "pmixrun: %s: ending the job\n", strsignal((int)si.ssi_signo));
            end_job(r, 128 + (int)si.ssi_signo);
        }
    }
}

static int live_daemons(struct run *r)
{
    int live = 0;

    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        live += r->d[i].conn != NULL;
    return live;
}

static void run_loop(struct run *r)
{
    uint32_t nn = r->job.map.nnodes;
    struct pollfd *pfd = calloc(nn + 1, sizeof(*pfd));
    uint64_t deadline = r->o.timeout_s ? fmx_now_ns() + 1000000000ull * r->o.timeout_s : 0;
    uint64_t kill_sent = 0;

    while (pfd && live_daemons(r)) {
        if (!r->ending && r->exited == r->size) {
            for (uint32_t i = 0; i < nn; i++)
                if (r->d[i].conn && !r->d[i].done) {
                    fmx_conn_send(r->d[i].conn, FMX_CTL_SHUTDOWN, NULL);
                    r->d[i].done = 1;
                }
        }
        if (deadline && !r->ending && fmx_now_ns() > deadline) {
            fprintf(stderr, "pmixrun: the job ran longer than --timeout %u s: ending it\n",
                    r->o.timeout_s);
            end_job(r, 124);
        }
        if (!r->ending && r->naddrs < nn && fmx_now_ns() > r->addr_deadline) {
            for (uint32_t i = 0; i < nn; i++)
                if (!r->d[i].addr)
                    fprintf(stderr,
                            "pmixrun: pmixd on node %s did not open its fabric endpoint "
                            "within %llu ms\n",
                            r->job.map.nodes[i].name, (unsigned long long)daemon_timeout_ms());
            end_job(r, 1);
        }
        if (r->ending && !kill_sent)
            kill_sent = fmx_now_ns();
        if (kill_sent && fmx_now_ns() - kill_sent > 10000000000ull) {
            fprintf(stderr, "pmixrun: daemons did not end 10 s after the job was ended\n");
            break;
        }
        if (r->ending && r->exited == r->size)
            for (uint32_t i = 0; i < nn; i++)
                if (r->d[i].conn && !r->d[i].done) {
                    fmx_conn_send(r->d[i].conn, FMX_CTL_SHUTDOWN, NULL);
                    r->d[i].done = 1;
                }
        pfd[0] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
        for (uint32_t i = 0; i < nn; i++)
            pfd[i + 1] = (struct pollfd){
                .fd = r->d[i].conn ? fmx_conn_fd(r->d[i].conn) : -1,
                .events =
                    POLLIN | (r->d[i].conn && fmx_conn_wants_write(r->d[i].conn) ? POLLOUT : 0)};
        poll(pfd, nn + 1, 200);
        if (pfd[0].revents)
            on_signal(r);
        for (uint32_t i = 0; i < nn; i++) {
            if (r->d[i].conn && (pfd[i + 1].revents & POLLOUT))
                fmx_conn_flush(r->d[i].conn);
            if (r->d[i].conn && (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                on_daemon(r, i);
        }
    }
    free(pfd);
}

/* Waits up to 5 s for the daemon processes (or their agents), then kills what is left. A daemon
 * that joined the job and then ended abnormally (a non-zero status, a signal, or still running
 * 5 s after the job ended) is reported, and turns a successful job's status into a failure: its
 * exit status is the only place a daemon's own fault (a crash, a sanitizer's report) shows. */
static void reap_daemons(struct run *r)
{
    uint64_t until = fmx_now_ns() + 5000000000ull;
    uint32_t left = r->job.map.nnodes;
    int st;

    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].pid > 0 && !r->d[i].joined) { /* never joined: nothing to wait for */
            kill(r->d[i].pid, SIGKILL);
            waitpid(r->d[i].pid, NULL, 0);
            r->d[i].pid = 0;
        }
    while (left && fmx_now_ns() < until) {
        left = 0;
        for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
            pid_t pid = r->d[i].pid;

            if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid)
                note_daemon_exit(r, pid, st);
            left += r->d[i].pid > 0;
        }
        if (left)
            usleep(10000);
    }
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        const char *name = r->job.map.nodes[i].name, *host = r->job.map.nodes[i].host;
        char how[96];
        int code;

        if (r->d[i].pid > 0) {
            fprintf(stderr,
                    "pmixrun: pmixd on node %s (host %s) still running 5 s after the job "
                    "ended: killed\n",
                    name, host);
            kill(r->d[i].pid, SIGKILL);
            waitpid(r->d[i].pid, NULL, 0);
            r->d[i].pid = 0;
            code = 1;
        } else if ((code = fmx_wait_status_describe(r->d[i].status, how, sizeof(how))) &&
                   !r->d[i].said_error) { /* one that said why it failed was heard already */
            fprintf(stderr, "pmixrun: pmixd on node %s (host %s) %s\n", name, host, how);
        }
        if (code && !r->exit_code)
            r->exit_code = code;
    }
}

int main(int argc, char **argv)
{
    struct run r = {.listen_fd = -1};
    fmx_error_t err = {{0}};
    sigset_t mask;

    pmixrun_parse(argc, argv, &r.o);
    pmixrun_build_map(&r);
    pmixrun_check_program(r.o.argv[0]);
    pmixrun_fill_job(&r);
    r.d = calloc(r.job.map.nnodes, sizeof(*r.d));
    r.partial = calloc(2 * (size_t)r.size, sizeof(*r.partial));
    if (!r.d || !r.partial)
        pmixrun_die("out of memory");
    if (!r.o.connect_port)
        r.listen_fd =
            fmx_tcp_listen(all_local(&r) && !getenv("FMX_CONTROL_HOST") ? "127.0.0.1" : "0.0.0.0",
                           0, &r.port, &err);
    if (!r.o.connect_port && r.listen_fd < 0)
        pmixrun_die("%s", err.text);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    r.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    fmx_debug("pmixrun", "starting %u daemons", r.job.map.nnodes);
    if (r.o.connect_port)
        connect_daemons(&r);
    else
        start_daemons(&r);
    accept_daemons(&r);
    fmx_debug("pmixrun", "every daemon said hello: sending the job");
    if (!r.ending)
        send_job(&r);
    run_loop(&r);
    fmx_debug("pmixrun", "the job ended: waiting for the daemons");
    reap_daemons(&r);
    fmx_debug("pmixrun", "done");
    for (uint32_t i = 0; i < r.job.map.nnodes; i++) {
        fmx_conn_free(r.d[i].conn);
        free(r.d[i].addr);
        free(r.d[i].control);
    }
    for (size_t i = 0; i < 2 * (size_t)r.size; i++)
        free(r.partial[i]);
    free(r.partial);
    free(r.d);
    free(r.job.nspace);
    free(r.job.wdir);
    fmx_jobmap_free(&r.job.map);
    fmx_env_free(&r.o.exports);
    fmx_env_free(&r.denv);
    return r.exit_code;
}
