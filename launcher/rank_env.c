/* A rank's environment (rank_env.h), and the cross-memory-attach probe its policy depends on. */
#include "rank_env.h"

#include "fmx_fabric.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tried the way ranks would: two siblings, neither the other's parent. Containers without
 * SYS_PTRACE, seccomp profiles and Yama's ptrace_scope forbid it, and Open MPI's and libfabric's
 * shared memory then fail at the first large message unless told not to use it. */
int fmx_cma_permitted(void)
{
    static volatile uint64_t word = 0x666d782d636d61ull;
    static int known = -1;
    int gate[2], st = 0;
    pid_t target, reader;

    if (known >= 0)
        return known;
    if (pipe(gate))
        return 1;
    if ((target = fork()) == 0) { /* waits until the reader is done */
        char c;
        close(gate[1]);
        _exit(read(gate[0], &c, 1) < 0);
    }
    if (target < 0 || (reader = fork()) < 0) {
        close(gate[0]);
        close(gate[1]);
        if (target > 0)
            waitpid(target, NULL, 0);
        return 1;
    }
    if (reader == 0) {
        uint64_t got = 0;
        struct iovec mine = {&got, sizeof(got)}, theirs = {(void *)&word, sizeof(word)};
        _exit(process_vm_readv(target, &mine, 1, &theirs, 1, 0) == (ssize_t)sizeof(got) &&
                      got == word
                  ? 0
                  : 1);
    }
    waitpid(reader, &st, 0);
    close(gate[1]);
    close(gate[0]);
    waitpid(target, NULL, 0);
    return known = WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The node's policy for MPI libraries, each applied only where neither the user nor the job
 * set it. */
static int mpi_policy(const fmx_rank_env_t *re, fmx_env_t *env)
{
    int rc = 0;

    /* Open MPI 4.1 starts as a singleton unless it sees a launcher it knows; of those it
     * accepts, LSF's jsrun signature is the one other tools in a job are least likely to act
     * on (a SLURM_ or FLUX_ variable makes some run srun or flux). FMX_OMPI_SIGNATURE=0 drops
     * it. Virtual nodes on one host each need their own shared-memory directory. */
    if (fmx_env_u64("FMX_OMPI_SIGNATURE", 1) && !getenv("JSM_JSRUN_PORT"))
        rc = fmx_env_set_kv(env, "JSM_JSRUN_PORT", "0");
    /* as mpirun does: ranks that outnumber the cores must not busy-poll */
    if (!rc && !getenv("OMPI_MCA_mpi_yield_when_idle") &&
        ((re->job->flags & FMX_JOB_OVERSUBSCRIBED) ||
         re->local_ranks > (uint32_t)sysconf(_SC_NPROCESSORS_ONLN)))
        rc = fmx_env_set_kv(env, "OMPI_MCA_mpi_yield_when_idle", "1");
    if (!rc && !re->cma && !getenv("OMPI_MCA_btl_vader_single_copy_mechanism"))
        rc = fmx_env_set_kv(env, "OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    if (!rc && !re->cma && !getenv("FI_SHM_DISABLE_CMA"))
        rc = fmx_env_set_kv(env, "FI_SHM_DISABLE_CMA", "1");
    /* UCX (MPICH's ch4:ucx, Open MPI's UCX PML): its cma transport too */
    if (!rc && !re->cma && !getenv("UCX_TLS"))
        rc = fmx_env_set_kv(env, "UCX_TLS", "^cma");
    if (!rc && !getenv("OMPI_MCA_btl_vader_backing_directory"))
        rc = fmx_env_set_kv(env, "OMPI_MCA_btl_vader_backing_directory", re->session->shmdir);
    if (!rc)
        rc = fmx_env_set_kv(env, "TMPDIR", re->session->dir);
    return rc;
}

int fmx_rank_env_build(const fmx_rank_env_t *re, uint32_t rank, fmx_env_t *env, fmx_error_t *err)
{
    extern char **environ;
    char num[16];
    int rc = 0;

    for (char **e = environ; *e && !rc; e++)
        if (strncmp(*e, "FMX_JOB_SECRET=", 15) && !fmx_fabric_env_entry(*e))
            rc = fmx_env_set(env, *e);
    for (uint32_t i = 0; i < re->job->nenv && !rc; i++)
        rc = fmx_env_set(env, re->job->env[i]);
    for (int i = 0; i < re->nsources && !rc; i++)
        rc = re->sources[i].fn(re->sources[i].arg, rank, env, err);
    if (rc)
        return rc;
    snprintf(num, sizeof(num), "%u", rank - re->rank_base);
    if ((rc = fmx_env_set_kv(env, "FMX_RANK", num)))
        return rc;
    return mpi_policy(re, env);
}
