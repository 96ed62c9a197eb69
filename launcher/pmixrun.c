/* pmixrun: the launcher. Builds the job map from the command line, starts one pmixd per node
 * (a local fork, or the launch agent for other hosts), hands every daemon the job and the
 * others' fabric addresses, then relays output and decides the exit status as mpirun does:
 * 0 when every rank exits 0, else the first failure, which ends the whole job. */
#include "control.h"
#include "jobspec.h"
#include "ranks.h"

#include <getopt.h>
#include <limits.h>
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

#define VERSION "0.1.0"

struct opts {
    uint32_t np, npernode, vnodes, timeout_s;
    int oversubscribe, tag_output;
    const char *hostfile, *hosts, *wdir, *agent;
    fmx_env_t exports;
    char **argv;
    int argc;
};

struct daemon_slot {
    fmx_conn_t *conn;
    pid_t pid; /* local pmixd or its launch agent */
    int done; /* SHUTDOWN sent */
    uint8_t *addr;
    size_t alen;
};

struct run {
    struct opts o;
    fmx_jobspec_t job;
    struct daemon_slot *d;
    char secret[33];
    int listen_fd, sigfd;
    uint16_t port;
    uint32_t exited, failed_rank;
    int exit_code, ending;
    char **partial; /* per rank and stream: an unfinished output line (--tag-output) */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pmixrun: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pmixrun [options] PROGRAM [ARGS...]\n"
            "  -n, -np N             number of ranks (default: one per slot)\n"
            "  -N, --npernode N      ranks per node\n"
            "  --hostfile FILE       hosts, Open MPI syntax: \"node-1 slots=2\"\n"
            "  -H, --host LIST       hosts: \"h1:2,h2\"\n"
            "  --vnodes K            split this host into K virtual nodes (one pmixd each)\n"
            "  --oversubscribe       allow more ranks than slots\n"
            "  -x NAME[=VALUE]       export a variable to every rank\n"
            "  --wdir DIR            working directory of the ranks\n"
            "  --tag-output          prefix each output line with [job,rank]\n"
            "  --timeout SECONDS     end the job after this long\n"
            "  --launch-agent CMD    starts pmixd on other hosts (default: ssh)\n"
            "  --version, --help\n");
}

static uint32_t parse_u32(const char *opt, const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (!*s || *end || v == 0 || v > UINT32_MAX / 2)
        die("%s needs a positive number, not \"%s\"", opt, s);
    return (uint32_t)v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"np", 1, 0, 'n'},       {"npernode", 1, 0, 'N'},
                                       {"hostfile", 1, 0, 'f'}, {"host", 1, 0, 'H'},
                                       {"vnodes", 1, 0, 'V'},   {"oversubscribe", 0, 0, 'o'},
                                       {"wdir", 1, 0, 'w'},     {"tag-output", 0, 0, 't'},
                                       {"timeout", 1, 0, 'T'},  {"launch-agent", 1, 0, 'L'},
                                       {"version", 0, 0, 'v'},  {"help", 0, 0, 'h'},
                                       {"bind-to", 1, 0, 'B'},  {0, 0, 0, 0}};
    int c;

    /* "-np 4" is a long option spelled with one dash, as mpirun users type it */
    for (int i = 1; i < argc && argv[i][0] == '-'; i++)
        if (!strcmp(argv[i], "-np"))
            argv[i] = "--np";
    while ((c = getopt_long(argc, argv, "+n:N:H:x:h", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->np = parse_u32("-n", optarg);
            break;
        case 'N':
            o->npernode = parse_u32("-N", optarg);
            break;
        case 'f':
            o->hostfile = optarg;
            break;
        case 'H':
            o->hosts = optarg;
            break;
        case 'V':
            o->vnodes = parse_u32("--vnodes", optarg);
            break;
        case 'o':
            o->oversubscribe = 1;
            break;
        case 'w':
            o->wdir = optarg;
            break;
        case 't':
            o->tag_output = 1;
            break;
        case 'T':
            o->timeout_s = parse_u32("--timeout", optarg);
            break;
        case 'L':
            o->agent = optarg;
            break;
        case 'B':
            if (strcmp(optarg, "none"))
                die("--bind-to %s: only \"none\" is supported so far", optarg);
            break;
        case 'x': {
            const char *val = strchr(optarg, '=') ? NULL : getenv(optarg);
            if (!strchr(optarg, '=') && !val)
                die("-x %s: %s is not set here; give -x %s=VALUE", optarg, optarg, optarg);
            if (val ? fmx_env_set_kv(&o->exports, optarg, val) : fmx_env_set(&o->exports, optarg))
                die("out of memory");
            break;
        }
        case 'v':
            printf("pmixrun (fmx) %s\n", VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        die("no program to run");
    }
    o->argv = argv + optind;
    o->argc = argc - optind;
}

/* ---- the job ---- */

static void build_map(struct run *r)
{
    fmx_error_t err = {{0}};
    fmx_jobmap_t *map = &r->job.map;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int rc = 0;

    if (r->o.hostfile)
        rc = fmx_hostfile_read(map, r->o.hostfile, &err);
    if (!rc && r->o.hosts)
        rc = fmx_hostlist_parse(map, r->o.hosts, &err);
    if (rc)
        die("%s", err.text);
    if (map->nnodes == 0) {
        uint32_t k = r->o.vnodes ? r->o.vnodes : 1;
        uint32_t slots = (uint32_t)(ncpu > 0 ? ncpu : 1);
        if (r->o.npernode && k == 1)
            die("-N %u places ranks per node, but no hosts were given: use --hostfile or "
                "--host (or --vnodes K to split this host)",
                r->o.npernode);
        if (k > 1) /* virtual nodes share the host's cores */
            slots = slots / k ? slots / k : 1;
        fmx_jobmap_add_local(map, k, slots, &err);
    } else if (r->o.vnodes) {
        die("--vnodes splits this host and cannot be combined with --hostfile or --host");
    }
    if (fmx_jobmap_assign(map, r->o.np, r->o.npernode, r->o.oversubscribe, &err))
        die("%s", err.text);
}

/* Local check of the program: a missing or non-executable file fails here, in one line. */
static void check_program(const char *prog)
{
    char path[PATH_MAX];
    const char *dirs = getenv("PATH");
    struct stat st;

    if (strchr(prog, '/')) {
        if (stat(prog, &st))
            die("%s: %s", prog, strerror(errno));
        if (!S_ISREG(st.st_mode) || access(prog, X_OK))
            die("%s: not an executable file", prog);
        return;
    }
    for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
        size_t len = strcspn(d, ":");
        snprintf(path, sizeof(path), "%.*s/%s", (int)len, len ? d : ".", prog);
        if (!stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK))
            return;
        d += len + (d[len] == ':');
    }
    die("%s: not found in PATH", prog);
}

/* True when some host runs more ranks than its slots (this host: more than its CPUs, summed
 * over its virtual nodes). */
static int oversubscribed(const struct run *r)
{
    const fmx_jobmap_t *m = &r->job.map;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t here = 0;

    for (uint32_t i = 0; i < m->nnodes; i++) {
        if (!strcmp(m->nodes[i].host, "localhost"))
            here += m->nodes[i].nranks;
        else if (m->nodes[i].nranks > m->nodes[i].slots)
            return 1;
    }
    return ncpu > 0 && here > (uint64_t)ncpu;
}

static void fill_job(struct run *r)
{
    static unsigned counter;
    char wd[PATH_MAX], ns[64];
    uint8_t rnd[16];

    snprintf(ns, sizeof(ns), "fmx.%d.%u", (int)getpid(), counter++);
    r->job.nspace = strdup(ns);
    r->job.argc = (uint32_t)r->o.argc;
    r->job.argv = r->o.argv;
    r->job.nenv = (uint32_t)r->o.exports.n;
    r->job.env = r->o.exports.v;
    r->job.wdir = strdup(r->o.wdir ? r->o.wdir : getcwd(wd, sizeof(wd)) ? wd : "/");
    r->job.flags = r->o.tag_output ? FMX_JOB_TAG_OUTPUT : 0;
    if (oversubscribed(r))
        r->job.flags |= FMX_JOB_OVERSUBSCRIBED;
    r->job.timeout_ms = (uint32_t)fmx_env_u64("FMX_TIMEOUT_MS", 0);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        die("getrandom: %s", strerror(errno));
    for (int i = 0; i < 16; i++)
        sprintf(r->secret + 2 * i, "%02x", rnd[i]);
}

/* ---- daemons ---- */

static int is_local(const char *host)
{
    char me[256] = "";

    gethostname(me, sizeof(me) - 1);
    return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, me);
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
        die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
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

static void start_daemons(struct run *r)
{
    char self[PATH_MAX], pmixd[PATH_MAX + 8], control[300];
    const char *env_pmixd = getenv("FMX_PMIXD");
    const char *ctl_host = getenv("FMX_CONTROL_HOST");
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0)
        die("cannot find my own executable: %s", strerror(errno));
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(pmixd, sizeof(pmixd), "%s/pmixd", self);
    snprintf(control, sizeof(control), "%s:%u", ctl_host ? ctl_host : "127.0.0.1", r->port);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        start_daemon(r, i, env_pmixd ? env_pmixd : pmixd, control);
}

/* ---- the control loop ---- */

static const char *node_name(struct run *r, uint32_t rank)
{
    return rank < r->job.map.size ? r->job.map.nodes[fmx_jobmap_node_of(&r->job.map, rank)].name
                                  : "?";
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
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    r->exited++;
    if (code == 0 || r->ending)
        return;
    if (WIFSIGNALED(status))
        fprintf(stderr, "pmixrun: rank %u on node %s was killed by signal %d (%s)\n", rank,
                node_name(r, rank), WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        fprintf(stderr, "pmixrun: rank %u on node %s exited with status %d\n", rank,
                node_name(r, rank), code);
    end_job(r, code);
}

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
        if (!b->err && rank < r->job.map.size)
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
    case FMX_CTL_ERROR:
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

/* Accepts daemons until every node has said HELLO with the job's secret, or the deadline. */
static void accept_daemons(struct run *r)
{
    uint64_t until = fmx_now_ns() + 1000000ull * fmx_env_u64("FMX_DAEMON_TIMEOUT_MS", 30000);
    fmx_conn_t **pending = NULL;
    size_t npending = 0;
    uint32_t joined = 0;

    while (joined < r->job.map.nnodes) {
        struct pollfd pfd[1 + 256];
        size_t n = 0;
        uint64_t now = fmx_now_ns();
        int st;
        pid_t pid;

        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
            for (uint32_t i = 0; i < r->job.map.nnodes; i++)
                if (r->d[i].pid == pid && !r->d[i].conn)
                    die("pmixd for node %s (host %s) ended before it connected (%s %d)",
                        r->job.map.nodes[i].name, r->job.map.nodes[i].host,
                        WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        if (now >= until) {
            for (uint32_t i = 0; i < r->job.map.nnodes; i++)
                if (!r->d[i].conn)
                    fprintf(stderr,
                            "pmixrun: pmixd on host %s (node %s) did not answer within "
                            "%llu ms\n",
                            r->job.map.nodes[i].host, r->job.map.nodes[i].name,
                            (unsigned long long)fmx_env_u64("FMX_DAEMON_TIMEOUT_MS", 30000));
            end_job(r, 1);
            return;
        }
        pfd[n++] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < npending && n < 257; i++)
            pfd[n++] = (struct pollfd){.fd = pending[i]->fd, .events = POLLIN};
        poll(pfd, n, 100);
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
            size_t alen = 0;
            const void *addr = fmx_unpack_bytes(&b, &alen);
            int good = secret && !b.err && !strcmp(secret, r->secret) && node < r->job.map.nnodes &&
                !r->d[node].conn && alen;

            if (good) {
                snprintf(c->peer, sizeof(c->peer), "pmixd on %s", host);
                r->d[node].conn = c;
                r->d[node].addr = malloc(alen);
                memcpy(r->d[node].addr, addr, alen);
                r->d[node].alen = alen;
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
    }
    for (size_t i = 0; i < npending; i++)
        fmx_conn_free(pending[i]);
    free(pending);
    close(r->listen_fd);
    r->listen_fd = -1;
}

static void send_job(struct run *r)
{
    fmx_pack_t addrs;

    fmx_pack_init(&addrs);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        fmx_pack_bytes(&addrs, r->d[i].addr, r->d[i].alen);
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        fmx_pack_t job;

        fmx_pack_init(&job);
        r->job.self = i;
        fmx_jobspec_pack(&r->job, &job);
        if (fmx_conn_send(r->d[i].conn, FMX_CTL_JOB, &job) ||
            fmx_conn_send(r->d[i].conn, FMX_CTL_ADDRS, &addrs))
            end_job(r, 1);
        fmx_pack_free(&job);
    }
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
        if (!r->ending && r->exited == r->job.map.size) {
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
        if (r->ending && !kill_sent)
            kill_sent = fmx_now_ns();
        if (kill_sent && fmx_now_ns() - kill_sent > 10000000000ull) {
            fprintf(stderr, "pmixrun: daemons did not end 10 s after the job was ended\n");
            break;
        }
        if (r->ending && r->exited == r->job.map.size)
            for (uint32_t i = 0; i < nn; i++)
                if (r->d[i].conn && !r->d[i].done) {
                    fmx_conn_send(r->d[i].conn, FMX_CTL_SHUTDOWN, NULL);
                    r->d[i].done = 1;
                }
        pfd[0] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
        for (uint32_t i = 0; i < nn; i++)
            pfd[i + 1] = (struct pollfd){.fd = r->d[i].conn ? r->d[i].conn->fd : -1,
                                         .events = POLLIN |
                                             (r->d[i].conn && r->d[i].conn->out_len ? POLLOUT : 0)};
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

/* Waits up to 5 s for the daemon processes (or their agents), then kills what is left. */
static void reap_daemons(struct run *r)
{
    uint64_t until = fmx_now_ns() + 5000000000ull;
    uint32_t left = r->job.map.nnodes;

    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].pid > 0 && !r->d[i].addr) /* never joined: nothing to wait for */
            kill(r->d[i].pid, SIGKILL);
    while (left && fmx_now_ns() < until) {
        left = 0;
        for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
            if (r->d[i].pid > 0 && waitpid(r->d[i].pid, NULL, WNOHANG) == 0)
                left++;
            else
                r->d[i].pid = 0;
        }
        if (left)
            usleep(10000);
    }
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].pid > 0) {
            kill(r->d[i].pid, SIGKILL);
            waitpid(r->d[i].pid, NULL, 0);
        }
}

int main(int argc, char **argv)
{
    struct run r = {.listen_fd = -1};
    fmx_error_t err = {{0}};
    sigset_t mask;

    parse(argc, argv, &r.o);
    build_map(&r);
    check_program(r.o.argv[0]);
    fill_job(&r);
    r.d = calloc(r.job.map.nnodes, sizeof(*r.d));
    r.partial = calloc(2 * (size_t)r.job.map.size, sizeof(*r.partial));
    if (!r.d || !r.partial)
        die("out of memory");
    r.listen_fd =
        fmx_tcp_listen(getenv("FMX_CONTROL_HOST") ? "0.0.0.0" : "127.0.0.1", 0, &r.port, &err);
    if (r.listen_fd < 0)
        die("%s", err.text);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    r.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    start_daemons(&r);
    accept_daemons(&r);
    if (!r.ending)
        send_job(&r);
    run_loop(&r);
    reap_daemons(&r);
    for (uint32_t i = 0; i < r.job.map.nnodes; i++) {
        fmx_conn_free(r.d[i].conn);
        free(r.d[i].addr);
    }
    for (size_t i = 0; i < 2 * (size_t)r.job.map.size; i++)
        free(r.partial[i]);
    free(r.partial);
    free(r.d);
    free(r.job.nspace);
    free(r.job.wdir);
    fmx_jobmap_free(&r.job.map);
    fmx_env_free(&r.o.exports);
    return r.exit_code;
}
