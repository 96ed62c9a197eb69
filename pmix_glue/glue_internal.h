/* Shared inside pmix_glue/ only: the one place that includes the PMIx server header. */
#ifndef FMX_GLUE_INTERNAL_H
#define FMX_GLUE_INTERNAL_H

#include "glue.h"

#include <pmix.h>
#include <pmix_server.h>

#include <pthread.h>
#include <string.h>

/* A request: one struct per kind, each beginning with this. Upcalls on libpmix's thread make
 * one and post() it; the daemon's loop runs it (ops->run owns it from then on: it completes
 * the PMIx callback now or later, and frees it once); at teardown, while libpmix still runs,
 * requests never run are cancelled (ops->cancel completes the callback with an error and
 * frees it). */
struct req;

struct req_ops {
    int needs_engine; /* waits for fmx_glue_set_engine when the engine is not up yet */
    void (*run)(fmx_glue_t *g, struct req *r);
    void (*cancel)(fmx_glue_t *g, struct req *r);
};

struct req {
    struct req *next;
    const struct req_ops *ops;
};

struct fmx_glue {
    fmx_glue_job_t job; /* with its own copies of nspace and tmpdir */
    const fmx_nspace_map_t *ns; /* the job's namespace in job.map */
    fmx_engine_t *eng;
    fmx_glue_host_t host;
    void *host_arg;
    /* the namespaces registered here, the job's first, then what it spawned in map order:
     * entries below nnss never change, so libpmix's thread reads them without a lock */
    struct glue_nspace {
        char name[PMIX_MAX_NSLEN + 1];
        uint32_t base, size; /* its global process indices (fmx_jobmap_base) */
        uint8_t *state; /* per rank: enum fmx_glue_rank_state, atomic */
    } nss[FMX_GLUE_MAX_NSPACES];
    uint32_t nnss; /* atomic: written after the entry */
    struct spawn_req *spawns; /* spawn.c: requests waiting for the launcher */
    int efd;
    pthread_mutex_t lock;
    struct req *head, *tail;
    /* fences and direct modex requests that came before the engine, in order (loop only) */
    struct req *early, **early_tail;
    /* fmx_glue_stop has begun: requests are cancelled, not run; 2 once libpmix is finalized,
     * when their callbacks may no longer be called */
    int stopping;
    /* pubsub.c: what is published at this daemon, lookups held here */
    struct fmx_pubstore *pubs;
    uint64_t req_seq; /* numbers this daemon's engine requests apart (pubsub.c, group.c) */
    uint64_t next_cid; /* group.c, node 0: the last group context id given */
    struct foreign_ns *foreign; /* xjob.c: other jobs' namespaces registered here (loop only) */
    struct meet_count *meetings; /* xjob.c: meetings had with other jobs, per set of procs */
};

/* The entry of proc's namespace if proc is one of its ranks (any thread), else NULL. */
const struct glue_nspace *fmx_glue_proc_nspace(const fmx_glue_t *g, const pmix_proc_t *proc);

/* gds_choice.c (fmx_glue_prepare, glue.h): the store chosen; a rank's environment told it
 * (PMIX_GDS_MODULE). */
const char *fmx_glue_gds(void);
int fmx_glue_gds_env(char **env);

/* PMIx_server_register_nspace, waited for (libpmix's thread answers; the loop waits). */
pmix_status_t fmx_glue_register_sync(const char *nspace, int nlocal, pmix_info_t *info,
                                     size_t ninfo);

/* xjob.c: another job's namespaces, met in a connect through the resident daemons' service.
 * Its description (the job's namespace, the namespace, its size, its job's node names, each
 * rank's node), appended to p; registering one here (once; blocking); the job it belongs to,
 * or NULL when nspace is no other job's known here; the relay of node 0; the end. */
void fmx_glue_describe_nspace(fmx_glue_t *g, const fmx_nspace_map_t *ns, fmx_pack_t *p);
int fmx_glue_add_foreign(fmx_glue_t *g, const void *desc, size_t len, fmx_error_t *err);
const char *fmx_glue_foreign_job(const fmx_glue_t *g, const char *nspace);
/* A rank of another job's namespace: its data, through node 0 and the service. */
int fmx_glue_fetch_foreign(fmx_glue_t *g, const pmix_proc_t *proc, uint64_t timeout_ms,
                           fmx_glue_answer_f cb, void *cbarg);
/* fmx_glue_collective (tag) over procs that may name other jobs' processes: then it runs over
 * this job's (*own, malloc'd; NULL when there is none of another job's), keyed apart by
 * "x<xtag>:" and a hash of every proc; -EINVAL when this job cannot reach another's (a line
 * says so, naming the collective, `what`). */
int fmx_glue_job_collective(fmx_glue_t *g, const char *tag, const char *xtag, const char *what,
                            const pmix_proc_t *procs, size_t nprocs, pmix_proc_t **own,
                            size_t *nown, const void *blob, size_t len, int collect,
                            uint64_t timeout_ms, fmx_fence_done_f cb, void *arg);
/* Once this job's part of a collective over procs (sorted) is complete: meets the other jobs'
 * through the session's publish / lookup (the n-th meeting over these procs meets the other
 * side's n-th), with a description of each side's namespaces that is registered on the other
 * (describe) or a mark; done(arg, status) once every other job's part is in, or the time ran
 * out. 0, or -ENOMEM (done is not called). */
typedef void (*fmx_glue_met_f)(void *arg, pmix_status_t status);
int fmx_glue_meet(fmx_glue_t *g, const char *what, const pmix_proc_t *procs, size_t nprocs,
                  int describe, uint64_t timeout_ms, fmx_glue_met_f done, void *arg);
int fmx_glue_xjob_start(fmx_glue_t *g);
void fmx_glue_xjob_stop(fmx_glue_t *g);

/* The prefix of every engine key of the PMIx front end (fmx_engine.h). */
#define GLUE_KEY_PREFIX "pmix:"

/* server.c: the module, the queue between libpmix's thread and the loop, status translation */
extern pmix_server_module_t fmx_glue_module;
extern fmx_glue_t *fmx_glue_current;
/* From libpmix's thread: queues r for the loop and wakes it. */
void fmx_glue_post(fmx_glue_t *g, struct req *r);
/* Runs or cancels every queued request (the loop only). */
void fmx_glue_cancel_all(fmx_glue_t *g);
/* A cancelled request's callback may still be completed (libpmix is not finalized). */
static inline int fmx_glue_pmix_alive(const fmx_glue_t *g)
{
    return g->stopping < 2;
}
pmix_status_t fmx_glue_status(int rc);
int fmx_glue_errno(pmix_status_t st);
uint64_t fmx_glue_timeout(const pmix_info_t *info, size_t ninfo);
/* n objects of a PMIx type as libpmix packs them (PMIx_Data_pack), in malloc'd bytes, and back
 * into dst (n of them exactly): what crosses between daemons without the engine reading it.
 * 0, -EINVAL (pack), -EPROTO (unpack), -ENOMEM. */
int fmx_glue_pack(const void *src, int32_t n, pmix_data_type_t type, uint8_t **out, size_t *len);
int fmx_glue_unpack(const uint8_t *bytes, size_t len, void *dst, int32_t n, pmix_data_type_t type);

void fmx_glue_set_rank_state(fmx_glue_t *g, const pmix_proc_t *proc, int state);
/* Registered for PMIX_ERR_LOST_CONNECTION (libpmix's thread): a client gone unfinalized. */
void fmx_glue_on_lost(size_t id, pmix_status_t status, const pmix_proc_t *source,
                      pmix_info_t info[], size_t ninfo, pmix_info_t results[], size_t nresults,
                      pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata);

/* fence.c, dmodex.c, query.c: the upcalls of their kinds */
pmix_status_t fmx_glue_up_fence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t info[],
                                size_t ninfo, char *data, size_t ndata, pmix_modex_cbfunc_t cbfunc,
                                void *cbdata);
pmix_status_t fmx_glue_up_dmodex(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
                                 pmix_modex_cbfunc_t cbfunc, void *cbdata);
pmix_status_t fmx_glue_up_query(pmix_proc_t *proct, pmix_query_t *queries, size_t nqueries,
                                pmix_info_cbfunc_t cbfunc, void *cbdata);
/* pubsub.c: publish, lookup, unpublish; the handler of other daemons' requests, set up with
 * the engine and taken down (held lookups answered, records freed) before libpmix stops */
pmix_status_t fmx_glue_up_publish(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata);
pmix_status_t fmx_glue_up_lookup(const pmix_proc_t *proc, char **keys, const pmix_info_t info[],
                                 size_t ninfo, pmix_lookup_cbfunc_t cbfunc, void *cbdata);
pmix_status_t fmx_glue_up_unpublish(const pmix_proc_t *proc, char **keys, const pmix_info_t info[],
                                    size_t ninfo, pmix_op_cbfunc_t cbfunc, void *cbdata);
int fmx_glue_pubsub_start(fmx_glue_t *g);
void fmx_glue_pubsub_stop(fmx_glue_t *g);
/* jobctl.c: PMIx_Job_control, and other daemons' requests to signal ranks here */
pmix_status_t fmx_glue_up_job_control(const pmix_proc_t *requestor, const pmix_proc_t targets[],
                                      size_t ntargets, const pmix_info_t directives[], size_t ndirs,
                                      pmix_info_cbfunc_t cbfunc, void *cbdata);
int fmx_glue_jobctl_start(fmx_glue_t *g);
void fmx_glue_jobctl_stop(fmx_glue_t *g);
/* events.c: a client's event to the other daemons' clients; PMIX_ERR_PROC_ABORTED for a rank
 * gone unfinalized, told to the job's ranks on every node, then done() (from the loop) */
pmix_status_t fmx_glue_up_notify_event(pmix_status_t code, const pmix_proc_t *source,
                                       pmix_data_range_t range, pmix_info_t info[], size_t ninfo,
                                       pmix_op_cbfunc_t cbfunc, void *cbdata);
int fmx_glue_tell_aborted(fmx_glue_t *g, const pmix_proc_t *proc,
                          void (*done)(fmx_glue_t *g, void *arg, int status), void *arg);
int fmx_glue_events_start(fmx_glue_t *g);
void fmx_glue_events_stop(fmx_glue_t *g);
/* group.c: group construct / destruct; node 0 serves context ids */
pmix_status_t fmx_glue_up_group(pmix_group_operation_t op, char grp[], const pmix_proc_t procs[],
                                size_t nprocs, const pmix_info_t directives[], size_t ndirs,
                                pmix_info_cbfunc_t cbfunc, void *cbdata);
int fmx_glue_group_start(fmx_glue_t *g);
void fmx_glue_group_stop(fmx_glue_t *g);
/* spawn.c: PMIx_Spawn, through the host to the launcher; fmx_glue_spawned completes it */
pmix_status_t fmx_glue_up_spawn(const pmix_proc_t *proc, const pmix_info_t job_info[], size_t ninfo,
                                const pmix_app_t apps[], size_t napps, pmix_spawn_cbfunc_t cbfunc,
                                void *cbdata);
void fmx_glue_spawn_stop(fmx_glue_t *g);
/* connect.c: connect / disconnect among the job's processes */
pmix_status_t fmx_glue_up_connect(const pmix_proc_t procs[], size_t nprocs,
                                  const pmix_info_t info[], size_t ninfo, pmix_op_cbfunc_t cbfunc,
                                  void *cbdata);
pmix_status_t fmx_glue_up_disconnect(const pmix_proc_t procs[], size_t nprocs,
                                     const pmix_info_t info[], size_t ninfo,
                                     pmix_op_cbfunc_t cbfunc, void *cbdata);
/* The holder's side of direct modex: another daemon asks for one of this node's ranks. */
void fmx_glue_on_engine_dmodex(void *arg, uint32_t from, const void *key, size_t keylen,
                               fmx_dmodex_req_t *token);
/* A proc as key bytes: namespace, NUL, rank (4 bytes, big-endian), written at `at` unless it
 * is NULL; returns the length. */
size_t fmx_glue_put_proc(const pmix_proc_t *p, uint8_t *at);
/* The engine key of a rank's direct modex data: the prefix, then the proc; 0 if over cap. */
size_t fmx_glue_proc_key(const pmix_proc_t *p, uint8_t *key, size_t cap);

/* The namespace of that name in the job map (the job's, or one it spawned), or NULL. */
static inline const fmx_nspace_map_t *fmx_glue_nspace(const fmx_glue_t *g, const char *nspace)
{
    char name[PMIX_MAX_NSLEN + 1];
    size_t n = strnlen(nspace, PMIX_MAX_NSLEN);

    memcpy(name, nspace, n);
    name[n] = '\0';
    return fmx_jobmap_nspace(g->job.map, name);
}

/* fence.c, for every collective over procs: their canonical order; the daemons hosting them
 * (members: room for every node); the engine key of a collective of kind `tag` ("" for a
 * fence) over procs sorted so: the prefix, the tag, NUL, each proc (malloc'd). */
int fmx_glue_cmp_proc(const void *a, const void *b);
int fmx_glue_members(fmx_glue_t *g, const pmix_proc_t *procs, size_t nprocs, uint32_t *members,
                     uint32_t *count);
uint8_t *fmx_glue_collective_key(const char *tag, const pmix_proc_t *procs, size_t nprocs,
                                 size_t *len);
/* An engine collective of kind `tag` over the daemons of procs (sorted), with this daemon's
 * blob; cb as fmx_fence_start's. 0, or an error and cb is not called. */
int fmx_glue_collective(fmx_glue_t *g, const char *tag, const pmix_proc_t *procs, size_t nprocs,
                        const void *blob, size_t len, int collect, uint64_t timeout_ms,
                        fmx_fence_done_f cb, void *arg);

/* The info array namespace ns is registered with (register.c): the job's (parent NULL), or one
 * it spawned, with its parent and each rank's application (app_of); free with
 * PMIX_INFO_FREE(info, n). */
int fmx_glue_job_info(const fmx_glue_job_t *job, const fmx_nspace_map_t *ns,
                      const pmix_proc_t *parent, const uint32_t *app_of, pmix_info_t **out,
                      size_t *nout);

#endif
