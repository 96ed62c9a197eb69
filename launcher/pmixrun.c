/* pmixrun: the launcher. Builds the job map from the command line, starts one pmixd per node
 * (starters.c), lets them join (join.c), hands every daemon the job and the others' fabric
 * addresses, then relays output (output.c) and decides the exit status as mpirun does: 0 when
 * every rank exits 0, else the first failure, which ends the whole job. One event loop runs it
 * all, from the daemons' start to their end. */
#include "pmixrun.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define KILL_GRACE_MS 10000

uint64_t pmixrun_daemon_timeout_ms(void)
{
    return fmx_env_u64("FMX_DAEMON_TIMEOUT_MS", 30000);
}

/* The node of process `index` (a global index), or UINT32_MAX. */
static uint32_t node_of(struct run *r, uint32_t index)
{
    uint32_t rank = 0;
    const fmx_nspace_map_t *ns = fmx_jobmap_proc(&r->job.map, index, &rank);

    return ns ? fmx_nspace_node_of(ns, rank) : UINT32_MAX;
}

static const char *node_name(struct run *r, uint32_t index)
{
    uint32_t node = node_of(r, index);

    return node < r->job.map.nnodes ? r->job.map.nodes[node].name : "?";
}

static int live_daemons(struct run *r)
{
    int live = 0;

    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        live += r->d[i].conn != NULL;
    return live;
}

/* ---- the exit policy ---- */

static void kill_grace_over(fmx_loop_t *l, void *arg)
{
    (void)arg;
    fprintf(stderr, "pmixrun: daemons did not end 10 s after the job was ended\n");
    fmx_loop_stop(l);
}

void pmixrun_end_job(struct run *r, int code)
{
    if (r->ending)
        return;
    r->ending = 1;
    r->exit_code = code;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn)
            fmx_conn_send(r->d[i].conn, FMX_CTL_KILL, NULL);
    fmx_loop_add_timer(r->loop, KILL_GRACE_MS, kill_grace_over, r);
}

/* Once every rank has exited (however the job ends), the daemons are told to go. */
static void shutdown_if_done(struct run *r)
{
    if (r->exited != r->size)
        return;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn && !r->d[i].done) {
            fmx_conn_send(r->d[i].conn, FMX_CTL_SHUTDOWN, NULL);
            r->d[i].done = 1;
        }
}

static void on_exit_status(struct run *r, uint32_t node, uint32_t rank, int status)
{
    char how[96], who[96];
    int code = fmx_wait_status_describe(status, how, sizeof(how));

    if (rank >= r->size || node_of(r, rank) != node ||
        r->d[node].exited == fmx_jobmap_node_procs(&r->job.map, node)) {
        fprintf(stderr,
                "pmixrun: pmixd on node %s reported the end of rank %u, not one of its own\n",
                r->job.map.nodes[node].name, rank);
        pmixrun_end_job(r, 1);
        return;
    }
    r->d[node].exited++;
    r->exited++;
    if (code == 0 || r->ending)
        return;
    fprintf(stderr, "pmixrun: %s on node %s %s%s\n", pmixrun_proc_name(r, rank, who, sizeof(who)),
            node_name(r, rank), how, r->o.recovery ? " (--enable-recovery: the job goes on)" : "");
    if (!r->o.recovery)
        pmixrun_end_job(r, code);
    else if (!r->exit_code)
        r->exit_code = code;
}

/* ---- the job and the addresses ---- */

static void addrs_late(fmx_loop_t *l, void *arg)
{
    struct run *r = arg;

    (void)l;
    if (r->ending || r->naddrs == r->job.map.nnodes)
        return;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (!r->d[i].addr)
            fprintf(stderr,
                    "pmixrun: pmixd on node %s did not open its fabric endpoint within %llu ms\n",
                    r->job.map.nodes[i].name, (unsigned long long)pmixrun_daemon_timeout_ms());
    pmixrun_end_job(r, 1);
}

static void watch_daemons(fmx_loop_t *l, void *arg);

static void send_job(struct run *r)
{
    r->phase = RUN_RUNNING;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        fmx_pack_t job;

        fmx_pack_init(&job);
        r->job.self = i;
        fmx_jobspec_pack(&r->job, &job);
        if (fmx_conn_send(r->d[i].conn, FMX_CTL_JOB, &job))
            pmixrun_end_job(r, 1);
        fmx_pack_free(&job);
        r->d[i].heard_ns = 0; /* watched from its first word after the job (see below) */
    }
    watch_daemons(r->loop, r);
    r->addr_timer = fmx_loop_add_timer(r->loop, pmixrun_daemon_timeout_ms(), addrs_late, r);
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
        pmixrun_end_job(r, 1);
        return;
    }
    if (!(r->d[node].addr = malloc(alen)))
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
            pmixrun_end_job(r, 1);
    fmx_pack_free(&addrs);
}

/* ---- the daemons' messages ---- */

static void on_message(struct run *r, uint32_t node, uint16_t type, fmx_pack_t *b)
{
    uint32_t rank = fmx_unpack_u32(b), v;
    const void *bytes;
    char *text, who[96];
    size_t n;

    if (type == FMX_CTL_SPAWN || type == FMX_CTL_NSPACE_UP) { /* no rank first */
        fmx_unpack_init(b, b->data, b->len);
        if (type == FMX_CTL_SPAWN)
            pmixrun_spawn_request(r, node, b);
        else
            pmixrun_spawn_up(r, node, b);
        return;
    }
    pmixrun_proc_name(r, rank, who, sizeof(who));
    switch (type) {
    case FMX_CTL_IO:
        v = fmx_unpack_u32(b);
        bytes = fmx_unpack_bytes(b, &n);
        if (!b->err && rank < r->size)
            pmixrun_emit(r, rank, v, bytes, n);
        break;
    case FMX_CTL_EXIT:
        v = fmx_unpack_u32(b);
        if (!b->err)
            on_exit_status(r, node, rank, (int)v);
        break;
    case FMX_CTL_ABORT:
    case FMX_CTL_PMI_ABORT:
        v = fmx_unpack_u32(b);
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: %s on node %s called %s with status %d%s%s\n", who,
                node_name(r, rank), type == FMX_CTL_ABORT ? "PMIx_Abort" : "PMI_Abort", (int)v,
                text && *text ? ": " : "", text ? text : "");
        free(text);
        pmixrun_end_job(r, (int)v ? (int)v & 0xff : 1);
        break;
    case FMX_CTL_LOG:
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: %s on node %s: %s\n", who, node_name(r, rank), text ? text : "");
        free(text);
        break;
    case FMX_CTL_ADDR:
        on_addr(r, node, b);
        break;
    case FMX_CTL_BEAT:
        break;
    case FMX_CTL_UNFINALIZED: /* as mpirun: the job ends, status 1 */
        v = fmx_unpack_u32(b);
        if (b->err || rank >= r->size || r->ending)
            break;
        fprintf(stderr,
                "pmixrun: %s on node %s %s without calling %s_Finalize (after "
                "%s_Init): %s\n",
                who, node_name(r, rank),
                v % 2   ? "exited with status 0"
                    : v ? "closed its PMI connection"
                        : "closed its PMIx connection",
                v >= 2 ? "PMI" : "PMIx", v >= 2 ? "PMI" : "PMIx",
                r->o.recovery ? "the job goes on (--enable-recovery)" : "ending the job");
        if (!r->o.recovery)
            pmixrun_end_job(r, 1);
        else if (!r->exit_code)
            r->exit_code = 1;
        break;
    case FMX_CTL_ERROR:
        r->d[node].said_error = 1;
        text = fmx_unpack_str(b);
        fprintf(stderr, "pmixrun: pmixd on node %s: %s\n", r->job.map.nodes[node].name,
                text ? text : "");
        free(text);
        pmixrun_end_job(r, 1);
        break;
    default:
        fprintf(stderr, "pmixrun: pmixd on node %s sent unknown message type %u\n",
                r->job.map.nodes[node].name, type);
        pmixrun_end_job(r, 1);
    }
}

/* A daemon that is gone, or hangs: its connection closed, its ranks counted as ended (they die
 * with it: PR_SET_PDEATHSIG) and the job ended. */
static void daemon_lost(struct run *r, uint32_t i)
{
    fmx_loop_del_fd(r->loop, fmx_conn_fd(r->d[i].conn));
    fmx_conn_free(r->d[i].conn);
    r->d[i].conn = NULL;
    if (!r->d[i].done)
        pmixrun_end_job(r, r->exit_code ? r->exit_code : 1);
    r->d[i].done = 1;
    r->exited += fmx_jobmap_node_procs(&r->job.map, i) - r->d[i].exited;
    r->d[i].exited = fmx_jobmap_node_procs(&r->job.map, i);
}

/* Every joined daemon says something at least every FMX_HEARTBEAT_MS (pmixd_heartbeat_start)
 * once it has started the job (its first message after JOB comes from its loop, which beats;
 * starting the job itself, forking its ranks included, may hold the loop for seconds, and is
 * bounded by the fabric addresses' deadline instead); one silent for FMX_HEARTBEAT_TIMEOUT_MS
 * (6 s) after that hangs, is stopped, or its host is cut off (a TCP connection whose peer's host
 * went silent stays open for many minutes): the job ends, naming it. Checked every quarter of
 * that time. */
static void watch_daemons(fmx_loop_t *l, void *arg)
{
    struct run *r = arg;
    uint64_t limit_ms = fmx_env_u64("FMX_HEARTBEAT_TIMEOUT_MS", 6000), now = fmx_now_ns();

    if (r->ending || !limit_ms)
        return;
    for (uint32_t i = 0; i < r->job.map.nnodes; i++) {
        if (!r->d[i].conn || !r->d[i].heard_ns || now - r->d[i].heard_ns < limit_ms * 1000000ull)
            continue;
        fprintf(stderr,
                "pmixrun: pmixd on node %s (host %s) has said nothing for %.1f s "
                "(FMX_HEARTBEAT_TIMEOUT_MS): it hangs, is stopped, or its host is unreachable; "
                "ending the job\n",
                r->job.map.nodes[i].name, r->job.map.nodes[i].host,
                (double)(now - r->d[i].heard_ns) / 1e9);
        if (r->d[i].pid > 0) /* our child (or its agent's process): it goes now */
            kill(r->d[i].pid, SIGKILL);
        daemon_lost(r, i);
    }
    shutdown_if_done(r);
    if (!live_daemons(r))
        fmx_loop_stop(l);
    else if (!r->ending)
        fmx_loop_add_timer(l, limit_ms / 4 ? limit_ms / 4 : 1, watch_daemons, r);
}

static void on_daemon(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct run *r = arg;
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    uint32_t i = 0;
    int rc = 0;

    while (i < r->job.map.nnodes && (!r->d[i].conn || fmx_conn_fd(r->d[i].conn) != fd))
        i++;
    if (i == r->job.map.nnodes)
        return;
    if (events & FMX_LOOP_OUT)
        fmx_conn_flush(r->d[i].conn);
    if (events & FMX_LOOP_IN)
        rc = fmx_conn_read(r->d[i].conn, &err);
    while (rc >= 0 && r->d[i].conn && (rc = fmx_conn_next(r->d[i].conn, &type, &body, &err)) == 1) {
        r->d[i].heard_ns = fmx_now_ns();
        on_message(r, i, type, &body);
    }
    if (rc < 0) {
        if (!r->d[i].done && !r->ending)
            fprintf(stderr, "pmixrun: lost contact with pmixd on node %s (%s)\n",
                    r->job.map.nodes[i].name, err.text);
        daemon_lost(r, i);
    }
    shutdown_if_done(r);
    if (r->phase == RUN_RUNNING && !live_daemons(r))
        fmx_loop_stop(l);
}

void pmixrun_daemon_joined(struct run *r, uint32_t node)
{
    r->d[node].joined = 1;
    fmx_loop_add_fd(r->loop, fmx_conn_fd(r->d[node].conn), FMX_LOOP_IN, on_daemon, r);
    if (++r->joined < r->job.map.nnodes)
        return;
    pmixrun_join_end(r);
    fmx_debug("pmixrun", "every daemon said hello: sending the job");
    if (!r->ending)
        send_job(r);
    else
        r->phase = RUN_RUNNING;
}

/* Before each wait: connections with queued output are watched for writing; a join that
 * failed ends the loop once no daemon is left. */
static int before_wait(fmx_loop_t *l, void *arg)
{
    struct run *r = arg;

    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn)
            fmx_loop_set_events(l, fmx_conn_fd(r->d[i].conn),
                                FMX_LOOP_IN |
                                    (fmx_conn_wants_write(r->d[i].conn) ? FMX_LOOP_OUT : 0));
    if (r->ending && r->listen_fd < 0 && !r->npending && !live_daemons(r))
        fmx_loop_stop(l);
    return -1;
}

/* ---- signals and the daemons' processes ---- */

/* Records the waitpid status of a daemon process (or its launch agent); its node, or -1. */
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

static void on_signal(fmx_loop_t *l, const struct signalfd_siginfo *si, void *arg)
{
    struct run *r = arg;
    int st, i;
    pid_t pid;

    (void)l;
    if (si->ssi_signo == SIGINT || si->ssi_signo == SIGTERM) {
        fprintf(stderr, "pmixrun: %s: ending the job\n", strsignal((int)si->ssi_signo));
        pmixrun_end_job(r, 128 + (int)si->ssi_signo);
        return;
    }
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        if ((i = note_daemon_exit(r, pid, st)) >= 0 && r->phase == RUN_JOINING &&
            pmixrun_starter(r) == &pmixrun_srun_starter)
            pmixrun_die("srun, starting pmixd on the Slurm allocation's nodes, ended before "
                        "every pmixd connected (%s %d)",
                        WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        else if (i >= 0 && r->phase == RUN_JOINING && !r->d[i].conn)
            pmixrun_die("pmixd for node %s (host %s) ended before it connected (%s %d)",
                        r->job.map.nodes[i].name, r->job.map.nodes[i].host,
                        WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void on_timeout(fmx_loop_t *l, void *arg)
{
    struct run *r = arg;

    (void)l;
    if (r->ending)
        return;
    fprintf(stderr, "pmixrun: the job ran longer than --timeout %u s: ending it\n", r->o.timeout_s);
    pmixrun_end_job(r, 124);
}

/* Waits up to FMX_DAEMON_EXIT_MS (5 s) for the daemon processes (or their agents), then kills
 * what is left. A daemon that joined the job and then ended abnormally (a non-zero status, a
 * signal, or still running then) is reported, and turns a successful job's status into a failure:
 * its exit status is the only place a daemon's own fault (a crash, a sanitizer's report) shows. */
static void reap_daemons(struct run *r)
{
    uint64_t grace_ms = fmx_env_u64("FMX_DAEMON_EXIT_MS", 5000);
    uint64_t until = fmx_now_ns() + grace_ms * 1000000ull;
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
                    "pmixrun: pmixd on node %s (host %s) still running %llu ms after the job "
                    "ended (FMX_DAEMON_EXIT_MS): killed\n",
                    name, host, (unsigned long long)grace_ms);
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

/* The loop, its signals and the listening socket the daemons connect back to. */
static void open_run(struct run *r, const struct starter *s)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGCHLD};
    fmx_error_t err = {{0}};

    if (s->listens) {
        const char *addr =
            pmixrun_all_local(r) && !getenv("FMX_CONTROL_HOST") ? "127.0.0.1" : "0.0.0.0";

        if ((r->listen_fd = fmx_tcp_listen(addr, 0, &r->port, &err)) < 0)
            pmixrun_die("%s", err.text);
    }
    signal(SIGPIPE, SIG_IGN);
    if (fmx_loop_create(&r->loop) || fmx_loop_signals(r->loop, sigs, 3, on_signal, r, NULL, &err) ||
        fmx_loop_add_hooks(r->loop, before_wait, NULL, r))
        pmixrun_die("cannot start the event loop: %s", err.text[0] ? err.text : "out of memory");
    if (r->o.timeout_s)
        fmx_loop_add_timer(r->loop, 1000ull * r->o.timeout_s, on_timeout, r);
}

int main(int argc, char **argv)
{
    struct run r = {.listen_fd = -1};
    const struct starter *s;

    pmixrun_parse(argc, argv, &r.o);
    pmixrun_build_map(&r);
    pmixrun_check_program(r.o.argv[0]);
    pmixrun_fill_job(&r);
    r.d = calloc(r.job.map.nnodes, sizeof(*r.d));
    r.partial = calloc(2 * (size_t)r.size, sizeof(*r.partial));
    if (!r.d || !r.partial)
        pmixrun_die("out of memory");
    s = pmixrun_starter(&r);
    open_run(&r, s);
    fmx_debug("pmixrun", "starting %u daemons (%s)", r.job.map.nnodes, s->name);
    s->start_all(&r);
    pmixrun_join_start(&r);
    fmx_loop_run(r.loop);
    fmx_debug("pmixrun", "the job ended: waiting for the daemons");
    pmixrun_join_end(&r);
    reap_daemons(&r);
    fmx_debug("pmixrun", "done");
    for (uint32_t i = 0; i < r.job.map.nnodes; i++) {
        fmx_conn_free(r.d[i].conn);
        free(r.d[i].addr);
        free(r.d[i].control);
    }
    fmx_loop_destroy(r.loop);
    pmixrun_output_free(&r);
    pmixrun_spawn_free(&r);
    free(r.d);
    free(r.job.nspace);
    free(r.job.wdir);
    fmx_jobmap_free(&r.job.map);
    fmx_env_free(&r.o.exports);
    fmx_env_free(&r.denv);
    return r.exit_code;
}
