/* Environment merging and the fork/exec of ranks (see ranks.h). */
#include "ranks.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int fmx_env_set(fmx_env_t *e, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t nlen = eq ? (size_t)(eq - entry) : strlen(entry);
    char *copy = strdup(entry);

    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < e->n; i++) {
        if (!strncmp(e->v[i], entry, nlen) && e->v[i][nlen] == '=') {
            free(e->v[i]);
            e->v[i] = copy;
            return 0;
        }
    }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (!v) {
            free(copy);
            return -ENOMEM;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = copy;
    e->v[e->n] = NULL;
    return 0;
}

int fmx_env_set_kv(fmx_env_t *e, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *entry = malloc(len);
    int rc;

    if (!entry)
        return -ENOMEM;
    snprintf(entry, len, "%s=%s", name, value);
    rc = fmx_env_set(e, entry);
    free(entry);
    return rc;
}

void fmx_env_free(fmx_env_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* Closes every descriptor from 3 up but a and b (either may be -1): libraries of the daemon's
 * (UCX 1.13's) leave theirs open across exec, and a rank that held a daemon's connection would
 * keep its peers from seeing the daemon die. */
static void close_all_but(int a, int b)
{
    int keep[2] = {a < b ? a : b, a < b ? b : a}, from = 3;

    for (int i = 0; i < 2; i++) {
        if (keep[i] < from)
            continue;
        if (keep[i] > from)
            close_range((unsigned)from, (unsigned)keep[i] - 1, 0);
        from = keep[i] + 1;
    }
    close_range((unsigned)from, ~0u, 0);
}

/* In the child (of vfork): only async-signal-safe calls, no allocation, until exec. */
static void child(int out[2], int err[2], int report, int pass_fd, char *const argv[],
                  char *const env[], const char *wdir, const cpu_set_t *mask, pid_t parent)
{
    int e;
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* a rank ends with its daemon, however that ends (SIGKILL included): nothing of a job may
     * outlive the daemon that answers for it. The daemon forks from its one loop thread. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
        _exit(127);
    setpgid(0, 0);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    close_all_but(report, pass_fd);
    if (pass_fd >= 0)
        fcntl(pass_fd, F_SETFD, 0);
    if (mask && sched_setaffinity(0, sizeof(*mask), mask)) {
        e = errno;
        (void)!write(report, &e, sizeof(e));
        _exit(127);
    }
    if (wdir && *wdir && chdir(wdir)) {
        e = -errno; /* negative: the working directory, not the program */
        (void)!write(report, &e, sizeof(e));
        _exit(127);
    }
    execvpe(argv[0], argv, env);
    e = errno;
    (void)!write(report, &e, sizeof(e));
    _exit(127);
}

int fmx_rank_spawn(fmx_rank_proc_t *rp, char *const argv[], char *const env[], const char *wdir,
                   const cpu_set_t *mask, fmx_error_t *err)
{
    int out[2], errp[2], rep[2];

    if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
        fmx_errprintf(err, "rank %u: pipe: %s", rp->label, strerror(errno));
        return -errno;
    }
    pid_t parent = getpid();

    /* vfork: no copy of the daemon's page tables (libpmix, libfabric, hwloc), and the daemon
     * resumes when the child has exec'd, so the report pipe is read at once. A fork per rank
     * kept the daemon's loop for most of a second starting 8 ranks on a busy 2-core host. The
     * child writes nothing of the parent's (its own stack frame; errno only before exec, and the
     * parent reads errno only when vfork failed) and calls nothing that allocates or locks. */
    rp->pid = vfork();
    if (rp->pid < 0) {
        fmx_errprintf(err, "rank %u: fork: %s", rp->label, strerror(errno));
        return -errno;
    }
    if (rp->pid == 0)
        child(out, errp, rep[1], rp->pass_fd, argv, env, wdir, mask, parent);
    close(out[1]);
    close(errp[1]);
    close(rep[1]);
    rp->report = rep[0];
    rp->out = out[0];
    rp->err = errp[0];
    fcntl(rp->out, F_SETFL, O_NONBLOCK);
    fcntl(rp->err, F_SETFL, O_NONBLOCK);
    return 0;
}

void fmx_rank_hold(fmx_rank_proc_t *rp)
{
    rp->held = rp->pid > 0 && kill(rp->pid, SIGSTOP) == 0;
}

void fmx_rank_release(fmx_rank_proc_t *rp)
{
    if (rp->held)
        kill(rp->pid, SIGCONT);
    rp->held = 0;
}

int fmx_rank_started(fmx_rank_proc_t *rp, const char *prog, const char *wdir, fmx_error_t *err)
{
    int code = 0;
    ssize_t n;

    if (rp->report < 0)
        return 0;
    do /* end of file: the pipe closed on exec; a number: what failed */
        n = read(rp->report, &code, sizeof(code));
    while (n < 0 && errno == EINTR);
    close(rp->report);
    rp->report = -1;
    if (n == (ssize_t)sizeof(code)) {
        if (code < 0)
            fmx_errprintf(err, "rank %u: cannot enter working directory %s: %s", rp->label, wdir,
                          strerror(-code));
        else
            fmx_errprintf(err, "rank %u: cannot execute %s: %s", rp->label, prog, strerror(code));
        return code < 0 ? code : -code;
    }
    return 0;
}

int fmx_wait_status_describe(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status)) {
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    if (WEXITSTATUS(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (len)
        buf[0] = '\0';
    return WEXITSTATUS(status);
}
