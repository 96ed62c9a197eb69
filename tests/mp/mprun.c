/* fmx-mprun: starts N fmx-peer processes on this machine with a private rendezvous directory,
 * bounds the whole run by --timeout, kills every straggler, and passes only when each peer
 * exited 0 (or, for --victim, died by SIGKILL). Exits 77 (skipped) only when libfabric has no
 * provider matching FI_PROVIDER here; a provider that is present but fails to open is a failure. */
#include "fmx_tmpdir.h"
#include "fmx_direct.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77

static char dir[256];
/* Opens and closes an endpoint: 1 when it works, 0 when no such provider exists here (the one
 * reason to skip), -1 when the provider exists and opening it failed. */
static int provider_present(const char **describe)
{
    static char desc[160];
    fmx_transport_t *tp;
    fmx_error_t err;
    int rc = fmx_direct_open_env(&tp, &err);

    if (rc) {
        fprintf(stderr, "fmx-mprun: %s\n", err.text);
        return rc == -ENODATA ? 0 : -1;
    }
    snprintf(desc, sizeof(desc), "%s", tp->ops->describe(tp));
    *describe = desc;
    fmx_transport_close(tp);
    return 1;
}

/* libfabric's shm provider names a process's regions in /dev/shm "PID:..." and unlinks them
 * when the endpoint closes; a peer killed by a signal cannot, and a later process that gets
 * the same pid would find its region taken (fi_enable: EBUSY). Removes a dead peer's. */
static void remove_shm_regions(pid_t pid)
{
    char prefix[32], path[300];
    struct dirent *de;
    DIR *d = opendir("/dev/shm");
    int k = snprintf(prefix, sizeof(prefix), "%d:", (int)pid);

    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, prefix, (size_t)k)) {
            snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
}

int main(int argc, char **argv)
{
    int n = 0, timeout_s = 120, victim = -1, argi = 1, failed = 0;
    const char *describe = "";

    for (; argi < argc && strcmp(argv[argi], "--"); argi++) {
        if (!strcmp(argv[argi], "-n") && argi + 1 < argc)
            n = atoi(argv[++argi]);
        else if (!strcmp(argv[argi], "--timeout") && argi + 1 < argc)
            timeout_s = atoi(argv[++argi]);
        else if (!strcmp(argv[argi], "--victim") && argi + 1 < argc)
            victim = atoi(argv[++argi]);
    }
    if (n <= 0 || argi + 1 >= argc) {
        fprintf(stderr, "usage: fmx-mprun -n N [--timeout S] [--victim R] -- PEER [ARGS...]\n");
        return 2;
    }
    argi++;
    switch (provider_present(&describe)) {
    case 0:
        fprintf(stderr, "fmx-mprun: provider %s not present: skipped\n",
                getenv("FMX_TRANSPORT")     ? getenv("FMX_TRANSPORT")
                    : getenv("FI_PROVIDER") ? getenv("FI_PROVIDER")
                                            : "(any)");
        return SKIP;
    case -1:
        fprintf(stderr, "fmx-mprun: provider %s is present but its endpoint did not open: FAILED\n",
                getenv("FI_PROVIDER") ? getenv("FI_PROVIDER") : "(any)");
        return 1;
    }
    /* FMX_MP_EXPECT: words the endpoint's description must contain (how it waits, say) */
    if (getenv("FMX_MP_EXPECT") && !strstr(describe, getenv("FMX_MP_EXPECT"))) {
        fprintf(stderr, "fmx-mprun: the endpoint is %s, not \"%s\": FAILED\n", describe,
                getenv("FMX_MP_EXPECT"));
        return 1;
    }
    /* a killed run's directory is removed by the next run (fmx_tmpdir.h) */
    fmx_error_t err;
    int lock_fd;
    if (fmx_tmpdir_create("/tmp", "fmx-mprun.", "run", dir, sizeof(dir), &lock_fd, &err)) {
        fprintf(stderr, "fmx-mprun: %s\n", err.text);
        return 2;
    }
    pid_t *pids = calloc((size_t)n, sizeof(*pids));
    int *status = calloc((size_t)n, sizeof(*status));
    int left = n;
    for (int r = 0; r < n; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            char rank[16], size[16];
            int extra = 6, k = 0;
            char **av = calloc((size_t)(argc - argi + extra + 1), sizeof(*av));

            prctl(PR_SET_PDEATHSIG, SIGKILL);
            snprintf(rank, sizeof(rank), "%d", r);
            snprintf(size, sizeof(size), "%d", n);
            av[k++] = argv[argi];
            av[k++] = "--rank", av[k++] = rank, av[k++] = "--size", av[k++] = size;
            av[k++] = "--dir", av[k++] = dir;
            for (int i = argi + 1; i < argc; i++)
                av[k++] = argv[i];
            execv(argv[argi], av);
            perror("fmx-mprun: exec");
            _exit(127);
        }
    }
    time_t deadline = time(NULL) + timeout_s;
    while (left > 0) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);

        if (pid > 0) {
            if (WIFSIGNALED(st))
                remove_shm_regions(pid);
            for (int r = 0; r < n; r++)
                if (pids[r] == pid) {
                    status[r] = st;
                    pids[r] = 0;
                    left--;
                }
            continue;
        }
        if (time(NULL) > deadline) {
            for (int r = 0; r < n; r++)
                if (pids[r]) {
                    fprintf(stderr, "fmx-mprun: peer %d still running after %d s: killed\n", r,
                            timeout_s);
                    kill(pids[r], SIGKILL);
                    waitpid(pids[r], &status[r], 0);
                    status[r] = -1;
                    pids[r] = 0;
                    left--;
                    failed = 1;
                }
            break;
        }
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    for (int r = 0; r < n; r++) {
        int st = status[r];
        if (st == -1)
            continue;
        if (r == victim) {
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
                fprintf(stderr, "fmx-mprun: victim %d was meant to die by SIGKILL\n", r);
                failed = 1;
            }
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "fmx-mprun: peer %d %s %d\n", r,
                    WIFEXITED(st) ? "exited with status" : "died of signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            failed = 1;
        }
    }
    fmx_tmpdir_remove(dir);
    close(lock_fd);
    printf("fmx-mprun: %d peers over %s: %s\n", n, describe, failed ? "FAILED" : "passed");
    free(pids);
    free(status);
    return failed;
}
