/* A rank's environment on its node: the daemon's own (less what is the daemon's alone), the
 * job's exports, then what each front end contributes (PMIx's setup_fork today, the PMI wire
 * server next), then the node's policy for MPI libraries: launcher signature, yielding when
 * oversubscribed, shared-memory settings where cross-memory attach is not permitted, and the
 * session directory. */
#ifndef FMX_RANK_ENV_H
#define FMX_RANK_ENV_H

#include "jobspec.h"
#include "ranks.h"
#include "session.h"

/* One front end's entries for a rank, added to env with fmx_env_set. */
typedef int (*fmx_env_source_f)(void *arg, uint32_t rank, fmx_env_t *env, fmx_error_t *err);

#define FMX_ENV_MAX_SOURCES 4

typedef struct fmx_rank_env {
    const fmx_jobspec_t *job;
    const fmx_session_t *session;
    int cma; /* fmx_cma_permitted() */
    uint32_t local_ranks;
    uint32_t rank_base; /* a spawned namespace's first global index: FMX_RANK is rank - base */
    struct {
        fmx_env_source_f fn;
        void *arg;
    } sources[FMX_ENV_MAX_SOURCES];
    int nsources;
} fmx_rank_env_t;

/* rank: the process's global index, which the sources get too (fmx_jobmap.h). */
int fmx_rank_env_build(const fmx_rank_env_t *re, uint32_t rank, fmx_env_t *env, fmx_error_t *err);

/* Whether one process may read another's memory with process_vm_readv (cross-memory attach),
 * probed once per process (a resident service's job children inherit the answer). */
int fmx_cma_permitted(void);
#define FMX_CMA_NOTE                                                                               \
    "cross-memory attach (process_vm_readv) is not permitted here (no SYS_PTRACE, a seccomp "      \
    "profile or Yama's ptrace_scope): shared memory goes through buffers instead "                 \
    "(OMPI_MCA_btl_vader_single_copy_mechanism=none, FI_SHM_DISABLE_CMA=1, UCX_TLS=^cma)"

#endif
