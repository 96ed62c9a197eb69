/* pmixd --listen: a resident service (a container, a pod) that serves every job of a launcher
 * knowing its secret. The service itself challenges each connection (auth.h), without blocking
 * on any; only one that proves the secret gets a child process, which runs that job as a
 * launched pmixd would. Connections that have not proven it cost no process and no job slot:
 * at most FMX_MAX_STARTUPS (64) wait at once, each for FMX_LOGIN_GRACE_MS (5000) at most, with
 * messages of at most 16 KiB; a new one beyond that pushes out the one that has waited longest
 * (a launcher that knows the secret answers within a round trip, so strangers holding
 * connections open cannot keep it out). libfabric and hwloc are loaded and started up once here
 * and inherited by every job's child. SIGTERM ends the jobs and then the service, whose exit
 * status says whether any job's child ended badly. */
#include "pmixd.h"

#include "auth.h"
#include "pmixd_sessions.h"
#include "rank_env.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_JOBS 256
#define STOP_GRACE_MS 10000
#define PREAUTH_MAX_MESSAGE 16384

/* A connection that has been challenged and has not answered yet. */
struct pending {
    struct pending *next;
    struct service *s;
    fmx_conn_t *conn;
    uint8_t nonce[FMX_AUTH_NONCE];
    uint64_t timer;
    char who[96];
};

struct service {
    fmx_loop_t *loop;
    int lfd;
    uint8_t key[FMX_SECRET_MAX];
    size_t klen;
    sigset_t blocked;
    pid_t jobs[MAX_JOBS];
    int njobs, failed_jobs;
    int stopping;
    struct pending *pending; /* newest first */
    int npending, max_pending;
    uint64_t grace_ms;
    struct pmixd_sessions *sessions; /* the links to the job children, what they publish */
    /* in a job's child: its connection, node and link to the service, and the loop ends */
    fmx_conn_t *child;
    uint32_t node;
    int link_fd;
};

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

/* a job that does not end on SIGTERM must not keep the service from stopping */
static void stop_grace_over(fmx_loop_t *l, void *arg)
{
    struct service *s = arg;

    for (int i = 0; i < s->njobs; i++) {
        fprintf(stderr, "pmixd: the job child %d did not end %d s after SIGTERM: killed\n",
                (int)s->jobs[i], STOP_GRACE_MS / 1000);
        kill(s->jobs[i], SIGKILL);
    }
    fmx_loop_add_timer(l, STOP_GRACE_MS, stop_grace_over, s);
}

static void on_signal(fmx_loop_t *l, const struct signalfd_siginfo *si, void *arg)
{
    struct service *s = arg;
    int st;
    pid_t pid;

    if ((si->ssi_signo == SIGTERM || si->ssi_signo == SIGINT) && !s->stopping) {
        fprintf(stderr, "pmixd: %s: ending %d job(s) and stopping\n", strsignal((int)si->ssi_signo),
                s->njobs);
        for (int i = 0; i < s->njobs; i++)
            kill(s->jobs[i], SIGTERM);
        s->stopping = 1;
        fmx_loop_del_fd(l, s->lfd);
        fmx_loop_add_timer(l, STOP_GRACE_MS, stop_grace_over, s);
    }
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (int i = 0; i < s->njobs; i++)
            if (s->jobs[i] == pid) {
                s->jobs[i--] = s->jobs[--s->njobs];
                s->failed_jobs += job_ended_badly(pid, st);
            }
    if (s->stopping && s->njobs == 0)
        fmx_loop_stop(l);
}

/* Takes p out of the waiting list; returns its connection, no longer watched. */
static fmx_conn_t *take_pending(struct service *s, struct pending *p)
{
    struct pending **pp = &s->pending;
    fmx_conn_t *c = p->conn;

    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    s->npending--;
    fmx_loop_del_fd(s->loop, fmx_conn_fd(c));
    if (p->timer)
        fmx_loop_del_timer(s->loop, p->timer);
    free(p);
    return c;
}

static void drop_pending(struct service *s, struct pending *p, const char *why)
{
    if (why)
        fmx_debug("pmixd", "closed %s: %s", p->who, why);
    fmx_conn_free(take_pending(s, p));
}

/* In the job's child: what belongs to the service goes, and the loop ends with the job's
 * connection. */
static void become_job(struct service *s, fmx_conn_t *c, const char *who, const char *secret,
                       int link_fd)
{
    fmx_loop_del_fd(s->loop, s->lfd);
    close(s->lfd);
    while (s->pending)
        drop_pending(s, s->pending, NULL);
    pmixd_sessions_free(s->sessions, 1); /* the service's, copied */
    s->sessions = NULL;
    s->link_fd = link_fd;
    memset(s->key, 0, sizeof(s->key));
    fprintf(stderr, "pmixd: a job from %s, as its node %u\n", who, s->node);
    setenv("FMX_JOB_SECRET", secret, 1);
    fmx_conn_set_max_message(c, FMX_CTL_MAX_MESSAGE);
    s->child = c;
    fmx_loop_stop(s->loop);
}

/* The secret proven: the job gets a process of its own. */
static void start_job(struct service *s, struct pending *p, const char *secret)
{
    char who[96];
    int link[2];
    pid_t pid;

    if (s->njobs == MAX_JOBS || s->stopping) {
        fprintf(stderr, "pmixd: refused %s: %s\n", p->who,
                s->stopping ? "stopping" : "already running 256 jobs");
        drop_pending(s, p, NULL);
        return;
    }
    if (pmixd_sessions_pair(link) || (pid = fork()) < 0) {
        fprintf(stderr, "pmixd: cannot start a job's child: %s\n", strerror(errno));
        drop_pending(s, p, NULL);
        return;
    }
    if (pid == 0) {
        close(link[0]);
        snprintf(who, sizeof(who), "%s", p->who);
        become_job(s, take_pending(s, p), who, secret, link[1]);
        return;
    }
    close(link[1]);
    s->jobs[s->njobs++] = pid;
    if (pmixd_sessions_add(s->sessions, pid, link[0]))
        fprintf(stderr,
                "pmixd: no link to the job child %d: it cannot publish or connect to "
                "other jobs\n",
                (int)pid);
    drop_pending(s, p, NULL); /* the parent's copy */
}

static void on_pending(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct pending *p = arg;
    struct service *s = p->s;
    fmx_error_t err = {{0}};
    char secret[256];
    fmx_pack_t body;
    uint16_t type;
    int rc;

    (void)l;
    (void)fd;
    if (events & FMX_LOOP_OUT)
        fmx_conn_flush(p->conn);
    if (!(events & FMX_LOOP_IN))
        return;
    if ((rc = fmx_conn_read(p->conn, &err)) < 0 ||
        (rc = fmx_conn_next(p->conn, &type, &body, &err)) < 0) {
        drop_pending(s, p, err.text[0] ? err.text : "closed before answering");
        return;
    }
    if (rc == 0)
        return; /* the answer is not complete yet */
    if (type != FMX_CTL_AUTH) {
        fprintf(stderr, "pmixd: refused %s: it answered the challenge with message type %u\n",
                p->who, type);
        drop_pending(s, p, NULL);
        return;
    }
    if (fmx_auth_check(p->conn, s->key, s->klen, p->nonce, &body, &s->node, secret, sizeof(secret),
                       &err)) {
        fprintf(stderr, "pmixd: %s\n", err.text);
        drop_pending(s, p, NULL);
        return;
    }
    start_job(s, p, secret);
}

static void grace_over(fmx_loop_t *l, void *arg)
{
    struct pending *p = arg;

    (void)l;
    p->timer = 0;
    drop_pending(p->s, p, "no proof of the secret in time (FMX_LOGIN_GRACE_MS)");
}

static void on_launcher(fmx_loop_t *l, int lfd, unsigned events, void *arg)
{
    struct service *s = arg;
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    fmx_error_t err = {{0}};
    struct pending *p, *oldest;
    char peer[128];
    int fd = accept4(lfd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC);

    (void)events;
    if (fd < 0)
        return;
    if (s->npending == s->max_pending) { /* the one that has waited longest goes */
        for (oldest = s->pending; oldest->next; oldest = oldest->next)
            ;
        drop_pending(s, oldest, "pushed out by a newer connection (FMX_MAX_STARTUPS)");
    }
    if (!(p = calloc(1, sizeof(*p)))) {
        close(fd);
        return;
    }
    p->s = s;
    fmx_sockaddr_str((struct sockaddr *)&from, p->who, sizeof(p->who));
    snprintf(peer, sizeof(peer), "launcher at %s", p->who);
    if (!(p->conn = fmx_conn_new(fd, peer))) {
        close(fd);
        free(p);
        return;
    }
    fmx_conn_set_max_message(p->conn, PREAUTH_MAX_MESSAGE);
    p->next = s->pending;
    s->pending = p;
    s->npending++;
    if (fmx_auth_challenge(p->conn, p->nonce, &err) ||
        fmx_loop_add_fd(l, fd, FMX_LOOP_IN, on_pending, p) ||
        !(p->timer = fmx_loop_add_timer(l, s->grace_ms, grace_over, p))) {
        drop_pending(s, p, err.text[0] ? err.text : "out of resources");
        return;
    }
}

/* The service's start: the listening socket, then what every job inherits. Exits on failure. */
static void open_service(struct service *s, const char *spec, const char *secret_file)
{
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT};
    fmx_error_t err = {{0}};
    const char *colon = strrchr(spec, ':');
    char *host = colon ? strndup(spec, (size_t)(colon - spec)) : strdup("0.0.0.0");
    long port = strtol(colon ? colon + 1 : spec, NULL, 10);
    uint16_t bound = 0;

    if (!secret_file || fmx_secret_read(secret_file, s->key, &s->klen, &err)) {
        fprintf(stderr, "pmixd: %s\n", secret_file ? err.text : "--listen needs --secret-file");
        exit(2);
    }
    if (port < 0 || port > 65535 || (port == 0 && strcmp(colon ? colon + 1 : spec, "0"))) {
        fprintf(stderr, "pmixd: --listen %s: not a port\n", spec);
        exit(2);
    }
    if ((s->lfd = fmx_tcp_listen(host, (uint16_t)port, &bound, &err)) < 0) {
        fprintf(stderr, "pmixd: %s\n", err.text);
        exit(1);
    }
    if (fmx_loop_create(&s->loop) || !(s->sessions = pmixd_sessions_new(s->loop)) ||
        fmx_loop_signals(s->loop, sigs, 3, on_signal, s, &s->blocked, &err) ||
        fmx_loop_add_fd(s->loop, s->lfd, FMX_LOOP_IN, on_launcher, s)) {
        fprintf(stderr, "pmixd: cannot start the service: %s\n", err.text[0] ? err.text : "");
        exit(1);
    }
    fprintf(stderr, "pmixd: serving jobs on %s:%u\n", host, bound);
    free(host);
    if (!fmx_cma_permitted())
        fprintf(stderr, "pmixd: %s\n", FMX_CMA_NOTE);
    /* a failure is reported by the job that needs the fabric */
    if (fmx_fabric_warm_up(&err))
        fmx_debug("pmixd", "%s", err.text);
    if (!fmx_topology(&err)) /* hwloc's discovery, inherited by every job as well */
        fmx_debug("pmixd", "%s", err.text);
}

fmx_conn_t *pmixd_serve(const char *spec, const char *secret_file, uint32_t *node, int *link_fd)
{
    struct service s = {.lfd = -1, .link_fd = -1};

    s.max_pending = (int)fmx_env_u64("FMX_MAX_STARTUPS", 64);
    if (s.max_pending < 1)
        s.max_pending = 1;
    s.grace_ms = fmx_env_u64("FMX_LOGIN_GRACE_MS", 5000);

    open_service(&s, spec, secret_file);
    fmx_loop_run(s.loop);
    pmixd_sessions_free(s.sessions, 0);
    fmx_loop_destroy(s.loop); /* closes the signalfd, in the service and in a job's child */
    if (!s.child)
        exit(s.failed_jobs ? 1 : 0);
    sigprocmask(SIG_UNBLOCK, &s.blocked, NULL);
    *node = s.node;
    *link_fd = s.link_fd;
    return s.child;
}
