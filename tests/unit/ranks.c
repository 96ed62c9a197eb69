/* Starting ranks (launcher/ranks.c): a rank held by fmx_rank_hold is stopped and stays so until
 * fmx_rank_release, then runs again; a held rank still ends by SIGKILL; a short program held and
 * released runs to its own end; a program that cannot be run is reported by fmx_rank_started
 * whether held or not. */
#include "ranks.h"
#include "../tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *env[] = {"PATH=/usr/bin:/bin", NULL};

/* The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or '?'. */
static char state(pid_t pid)
{
    char path[64], line[512], *p;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return '?';
    p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
    fclose(f);
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits up to ms for pid's state to become want; the last state seen. */
static char wait_state(pid_t pid, char want, int ms)
{
    char s = state(pid);

    for (int i = 0; s != want && i < ms / 10; i++) {
        usleep(10000);
        s = state(pid);
    }
    return s;
}

/* waitpid with a bound: the status, or -1 when pid did not end within ms. */
static int wait_end(pid_t pid, int ms)
{
    int st;

    for (int i = 0; i <= ms / 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(10000);
    }
    return -1;
}

static fmx_rank_proc_t proc(void)
{
    return (fmx_rank_proc_t){.out = -1, .err = -1, .report = -1, .pass_fd = -1};
}

static void close_pipes(fmx_rank_proc_t *rp)
{
    close(rp->out);
    close(rp->err);
}

int main(void)
{
    fmx_error_t err = {{0}};
    fmx_rank_proc_t rp = proc();
    char *exit7[] = {"sh", "-c", "exit 7", NULL};
    char *sleeper[] = {"sleep", "30", NULL};
    char *missing[] = {"/nonexistent/fmx-no-such-program", NULL};
    int st;
    char seen;

    plan(12);
    /* held: stopped, and stays so (sleep 30 has not ended before the stop lands) */
    ok(fmx_rank_spawn(&rp, sleeper, env, NULL, NULL, &err) == 0 && rp.pid > 0, "spawned: %s",
       err.text);
    errno = 0;
    fmx_rank_hold(&rp);
    if (!rp.held)
        diag("SIGSTOP to %d: %s", (int)rp.pid, strerror(errno));
    seen = rp.held ? wait_state(rp.pid, 'T', 2000) : '-';
    ok(seen == 'T', "a held rank is stopped (state %c)", seen);
    usleep(200000);
    ok(state(rp.pid) == 'T', "and still 0.2 s later (state %c)", state(rp.pid));
    ok(fmx_rank_started(&rp, sleeper[0], NULL, &err) == 0, "it exec'd: %s", err.text);
    /* released: it runs again (sleeping, no longer stopped) */
    fmx_rank_release(&rp);
    seen = wait_state(rp.pid, 'S', 2000);
    ok(!rp.held && seen == 'S', "released, it runs again (state %c)", seen);
    kill(rp.pid, SIGKILL);
    st = wait_end(rp.pid, 5000);
    ok(st != -1 && WIFSIGNALED(st), "ended by SIGKILL");
    close_pipes(&rp);

    /* a held rank ends by SIGKILL, as when its job ends before the ranks are released */
    rp = proc();
    ok(fmx_rank_spawn(&rp, sleeper, env, NULL, NULL, &err) == 0, "spawned: %s", err.text);
    fmx_rank_hold(&rp);
    wait_state(rp.pid, 'T', 2000);
    kill(rp.pid, SIGKILL);
    st = wait_end(rp.pid, 5000);
    ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "a held rank ends by SIGKILL");
    fmx_rank_release(&rp); /* what a daemon does after: harmless */
    close_pipes(&rp);

    /* a short program held and released runs to its own end, however far it got before the
     * stop landed (the daemon stops a rank once it runs again after the rank's exec) */
    rp = proc();
    fmx_rank_spawn(&rp, exit7, env, NULL, NULL, &err);
    fmx_rank_hold(&rp);
    fmx_rank_release(&rp);
    st = wait_end(rp.pid, 5000);
    ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 7, "a short held rank ends by itself (%d)",
       st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close_pipes(&rp);

    /* a program that cannot run: reported, held or not, and released harmlessly */
    rp = proc();
    ok(fmx_rank_spawn(&rp, missing, env, NULL, NULL, &err) == 0, "spawned: %s", err.text);
    fmx_rank_hold(&rp);
    fmx_rank_release(&rp);
    ok(fmx_rank_started(&rp, missing[0], NULL, &err) != 0 && strstr(err.text, missing[0]),
       "its failure is named: %s", err.text);
    st = wait_end(rp.pid, 5000);
    ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127, "it ended with status 127");
    close_pipes(&rp);
    return done_testing();
}
