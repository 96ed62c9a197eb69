/* Starting a node's ranks: fork and exec with the merged environment, stdout and stderr on
 * pipes the daemon forwards, and exec failures reported as a sentence, not a silent 127. */
#ifndef FMX_RANKS_H
#define FMX_RANKS_H

#include "fmx_common.h"

#include <sched.h>
#include <sys/types.h>

typedef struct fmx_rank_proc {
    uint32_t rank;
    uint32_t label; /* its rank in its namespace, for messages */
    pid_t pid;
    int out, err; /* read ends; -1 once at end of file */
    int reaped;
    int status; /* wait status once reaped */
    int report; /* the exec report's read end until fmx_rank_started() reads it */
    int pass_fd; /* a close-on-exec descriptor the child alone keeps across exec, or -1 */
    uint64_t reaped_ns; /* when it was reaped */
    int told; /* its PMIx connection ended unfinalized, and every node's ranks were told */
    int told_timer; /* a timer bounds the wait for that */
    int held; /* stopped by fmx_rank_hold, not yet released */
} fmx_rank_proc_t;

/* A growable NULL-terminated "NAME=value" array; fmx_env_set replaces an existing NAME. */
typedef struct fmx_env {
    char **v;
    size_t n, cap;
} fmx_env_t;

int fmx_env_set(fmx_env_t *e, const char *entry);
int fmx_env_set_kv(fmx_env_t *e, const char *name, const char *value);
void fmx_env_free(fmx_env_t *e);

/* Starts a child that runs argv[0] (searched in PATH when it has no '/') in wdir with env,
 * bound to mask when it is not NULL; returns once the child has exec'd (or failed to), which
 * fmx_rank_started() then reads. */
int fmx_rank_spawn(fmx_rank_proc_t *rp, char *const argv[], char *const env[], const char *wdir,
                   const cpu_set_t *mask, fmx_error_t *err);
/* Waits for the child's exec: 0 when it runs the program, or an error naming what failed
 * (the program, or the working directory). */
int fmx_rank_started(fmx_rank_proc_t *rp, const char *prog, const char *wdir, fmx_error_t *err);

/* A rank just started is stopped (SIGSTOP) until fmx_rank_release: a daemon holds each of its
 * node's ranks while it starts the others and releases them together. Otherwise the first
 * ranks' start-up (the dynamic loader, the PMIx or PMI library's init) takes the cores the
 * next vfork waits for, and a node's last rank started a quarter second after its first on
 * four hosts sharing two cores. The stop lands when the daemon runs again after the rank's
 * exec, so on a busy machine the rank may have begun its start-up (a short program may even
 * have ended): the hold shapes timing only, nothing depends on it. A held rank still ends by
 * SIGKILL (its daemon's kill, or the daemon's death). */
void fmx_rank_hold(fmx_rank_proc_t *rp);
void fmx_rank_release(fmx_rank_proc_t *rp);

/* A waitpid status as a shell reports it: returns 0, the exit status, or 128 + the signal, and
 * writes "exited with status N" or "was killed by signal N (Name)" into buf ("" for 0). */
int fmx_wait_status_describe(int status, char *buf, size_t len);

#endif
