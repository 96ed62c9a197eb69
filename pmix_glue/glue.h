/* The OpenPMIx server of one pmixd, wired to the engine. Upcalls from libpmix's thread only
 * copy their arguments into a request and post it to the daemon's loop (fmx_glue_fd() turns
 * readable); fmx_glue_dispatch() runs them there and completes the PMIx callbacks later.
 * fence_nb becomes an engine fence over the daemons hosting the participants; direct_modex an
 * engine request to the daemon holding the rank, answered with PMIx_server_dmodex_request. */
#ifndef FMX_GLUE_H
#define FMX_GLUE_H

#include "fmx_common.h"
#include "fmx_engine.h"
#include "fmx_jobmap.h"
#include "fmx_loop.h"

#include "fmx_spawn.h"

#include <stdint.h>

/* The namespaces one job may hold: its own and what it spawns. */
#define FMX_GLUE_MAX_NSPACES FMX_SPAWN_MAX_NSPACES

/* What the glue needs to know of the job: the job map (which must outlive the glue), the
 * namespace of this job in it, and this daemon's node `self`; engine member i is node i. */
typedef struct fmx_glue_job {
    const fmx_jobmap_t *map;
    const char *nspace;
    uint32_t self;
    const char *tmpdir; /* this daemon's private directory */
    /* hwloc bitmaps of this node's ranks (in rank order), or NULL: their cpusets and locality
     * are registered so that clients can tell which peers share cores, caches, sockets */
    void *const *local_cpusets;
    void *topology; /* this machine's hwloc topology, or NULL for libpmix to discover it */
    fmx_loop_t *loop; /* the daemon's loop, for the glue's timers (lookups held until published) */
    /* served by resident daemons (pmixd --listen): publish / lookup go to node 0's service, and
     * other jobs of that service can be connected to (host.service) */
    int resident;
} fmx_glue_job_t;

/* What the glue asks of the service of resident daemons (fmx_glue_host_t.service). */
enum {
    FMX_GLUE_SVC_PUB = 1, /* a publish / lookup / unpublish request (pubsub.h) */
    FMX_GLUE_SVC_FETCH = 2, /* another job's rank's data: its job's namespace, NUL, the key */
};
typedef void (*fmx_glue_answer_f)(void *arg, int status, const void *blob, size_t len);

/* What the glue asks of its daemon. Called from fmx_glue_dispatch() on the daemon's loop.
 * Processes are named by their global index (fmx_jobmap_proc): the job's ranks by their rank. */
typedef struct fmx_glue_host {
    void (*abort)(void *arg, uint32_t rank, int status, const char *msg);
    void (*log)(void *arg, uint32_t rank, const char *msg);
    /* A local rank's connection to libpmix ended before it called PMIx_Finalize (it exited, or
     * closed it and runs on). */
    void (*lost)(void *arg, uint32_t rank);
    /* PMIx_Job_control: send sig to this node's rank `rank` of the job (UINT32_MAX: to all of
     * them); 0 or -errno. */
    int (*signal)(void *arg, uint32_t rank, int sig);
    /* PMIx_Spawn of process `s->parent`: the launcher is asked; fmx_glue_spawned(id) answers
     * later. 0, or -errno (the client is refused). NULL: spawn is refused NOT-SUPPORTED. */
    int (*spawn)(void *arg, uint64_t id, const fmx_spawn_t *s);
    /* Resident daemons (job.resident): a request of `kind` to this host's service, answered
     * through cb (within timeout_ms, else -ETIMEDOUT). 0, or -errno and cb is not called. */
    int (*service)(void *arg, int kind, const void *req, size_t len, uint64_t timeout_ms,
                   fmx_glue_answer_f cb, void *cbarg);
} fmx_glue_host_t;

/* What a rank of the job has told this daemon's PMIx server so far. Set on libpmix's thread
 * before the client's call returns, so a rank's exit, seen later, finds it current. */
enum fmx_glue_rank_state { FMX_RANK_NO_PMIX = 0, FMX_RANK_INITIALIZED = 1, FMX_RANK_FINALIZED = 2 };

typedef struct fmx_glue fmx_glue_t;

/* Before the daemon starts any thread (another thread's getenv may read freed memory while
 * setenv grows the environment): FMX_GDS is read, and the variables libpmix and the ranks need
 * for it are set (the component's directory, FMX_GDS_DIR: tmpdir, where its files go). 0, or
 * -errno and err says why (an unknown store, FMX_GDS=fmx without the component). Without it,
 * the ranks read through libpmix's hash store. */
int fmx_glue_prepare(const char *tmpdir, fmx_error_t *err);
/* Starts the PMIx server and registers the namespace and this node's ranks. The job and host
 * structs are copied; engine stays the caller's and must outlive the glue. engine may be NULL
 * while the daemons are still exchanging addresses: fences and direct modex requests then wait
 * in order until fmx_glue_set_engine() hands it over, so ranks can start meanwhile. */
int fmx_glue_start(const fmx_glue_job_t *job, fmx_engine_t *engine, const fmx_glue_host_t *host,
                   void *host_arg, fmx_glue_t **out, fmx_error_t *err);
/* A process's fmx_glue_rank_state, by global index (any thread). */
int fmx_glue_rank_state(const fmx_glue_t *g, uint32_t proc);
/* A namespace the job spawned, already in the job map (which may have moved in memory): it is
 * registered with libpmix, with its parent (a global index) and each rank's application, and
 * this node's ranks of it as clients (blocking on libpmix's answer). */
int fmx_glue_add_nspace(fmx_glue_t *g, const char *nspace, uint32_t parent, const uint32_t *app_of,
                        fmx_error_t *err);
/* The launcher's answer to spawn request id: status 0 and the new namespace, or -errno and
 * a sentence (what the client's PMIx_Spawn returns). */
void fmx_glue_spawned(fmx_glue_t *g, uint64_t id, int status, const char *nspace_or_error);
/* The service asks for a rank's data on behalf of another job (FMX_GLUE_SVC_FETCH's key): it
 * is read here or from the rank's daemon, and answered through cb (status, libpmix's blob). */
void fmx_glue_fetch(fmx_glue_t *g, const void *key, size_t len, uint64_t timeout_ms,
                    fmx_glue_answer_f cb, void *cbarg);
/* Gives a glue started without one its engine, and runs the requests that waited for it. */
void fmx_glue_set_engine(fmx_glue_t *g, fmx_engine_t *engine);
/* The environment a local process (global index) needs (PMIx_server_setup_fork): a
 * NULL-terminated array to free with fmx_glue_free_env. */
int fmx_glue_child_env(fmx_glue_t *g, uint32_t proc, char ***env, fmx_error_t *err);
void fmx_glue_free_env(char **env);
int fmx_glue_fd(fmx_glue_t *g);
/* Runs the requests the PMIx thread posted. */
void fmx_glue_dispatch(fmx_glue_t *g);
/* Finalizes the PMIx server; pending requests are failed. */
void fmx_glue_stop(fmx_glue_t *g);

#endif
