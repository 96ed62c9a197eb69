/* pmixd --listen: a resident service (a container, a pod) that serves every job of a launcher
 * knowing its secret. Each connection gets a child process that proves the secret (auth.h) and
 * then runs that job as a launched pmixd would. libfabric and hwloc are loaded and started up
 * once here and inherited by every job's child. SIGTERM ends the jobs and then the service,
 * whose exit status says whether any job's child ended badly. */
#include "pmixd.h"

#include "auth.h"
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

struct service {
    fmx_loop_t *loop;
    int lfd;
    uint8_t key[FMX_SECRET_MAX];
    size_t klen;
    sigset_t blocked;
    pid_t jobs[MAX_JOBS];
    int njobs, failed_jobs;
    int stopping;
    /* in a job's child: its connection and node, and the loop ends */
    fmx_conn_t *child;
    uint32_t node;
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

/* In the job's child: the secret proven, or the child ends. */
static void become_job(struct service *s, int fd, const char *who)
{
    fmx_error_t err = {{0}};
    char peer[128], secret[256];
    fmx_conn_t *c;

    close(s->lfd);
    snprintf(peer, sizeof(peer), "launcher at %s", who);
    c = fmx_conn_new(fd, peer);
    if (fmx_auth_daemon(c, s->key, s->klen, 10000, &s->node, secret, sizeof(secret), &err)) {
        fprintf(stderr, "pmixd: %s\n", err.text);
        fmx_conn_free(c);
        _exit(0); /* a refusal is the service working, not a failed job */
    }
    memset(s->key, 0, sizeof(s->key));
    fprintf(stderr, "pmixd: a job from %s, as its node %u\n", who, s->node);
    setenv("FMX_JOB_SECRET", secret, 1);
    s->child = c;
    fmx_loop_stop(s->loop);
}

static void on_launcher(fmx_loop_t *l, int lfd, unsigned events, void *arg)
{
    struct service *s = arg;
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    char who[96] = "?";
    int fd = accept4(lfd, (struct sockaddr *)&from, &flen, SOCK_CLOEXEC);
    pid_t pid;

    (void)l;
    (void)events;
    if (fd < 0)
        return;
    fmx_sockaddr_str((struct sockaddr *)&from, who, sizeof(who));
    if (s->njobs == MAX_JOBS) {
        fprintf(stderr, "pmixd: refused %s: already running %d jobs\n", who, MAX_JOBS);
        close(fd);
    } else if ((pid = fork()) < 0) {
        fprintf(stderr, "pmixd: fork: %s\n", strerror(errno));
        close(fd);
    } else if (pid > 0) {
        s->jobs[s->njobs++] = pid;
        close(fd);
    } else {
        become_job(s, fd, who);
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
    if (fmx_loop_create(&s->loop) ||
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

fmx_conn_t *pmixd_serve(const char *spec, const char *secret_file, uint32_t *node)
{
    struct service s = {.lfd = -1};

    open_service(&s, spec, secret_file);
    fmx_loop_run(s.loop);
    fmx_loop_destroy(s.loop); /* closes the signalfd, in the service and in a job's child */
    if (!s.child)
        exit(s.failed_jobs ? 1 : 0);
    sigprocmask(SIG_UNBLOCK, &s.blocked, NULL);
    *node = s.node;
    return s.child;
}
