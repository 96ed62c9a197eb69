/* Shared by the files of pmixd, one concern each: pmixd.c (options, start-up order, teardown,
 * the control channel), pmixd_boot.c (HELLO/JOB and the hand-over to a fresh process),
 * pmixd_report.c (what goes to pmixrun), pmixd_fabric.c (the endpoint, the addresses, the engine),
 * pmixd_ranks.c (starting, watching and ending the ranks), rank_env.c (their environment),
 * session.c (the job's directory), pmixd_service.c (the resident service), pmixd_sessions.c
 * (the service's links to its jobs), pmixd_svc.c (a job's link to its service). */
#ifndef FMX_PMIXD_H
#define FMX_PMIXD_H

#include "bind.h"
#include "control.h"
#include "fmx_fabric.h"
#include "fmx_loop.h"
#include "glue.h"
#include "jobspec.h"
#include "ranks.h"
#include "session.h"

enum daemon_phase {
    PHASE_STARTING, /* job received; PMIx server and ranks starting */
    PHASE_OPENING, /* the fabric endpoint is opening on its thread */
    PHASE_ADDRESSED, /* our address went to pmixrun: waiting for everyone's (ADDRS) */
    PHASE_RUNNING, /* the engine is up */
};

/* The ranks of one namespace on this node: the job's, then each spawned namespace's. */
struct rank_set {
    fmx_rank_proc_t *ranks; /* rank: the global index (fmx_jobmap_proc) */
    struct rank_stream *streams; /* each rank's stdout and stderr, as the loop sees them */
    uint32_t n;
    struct rank_set *next;
};

struct daemon {
    fmx_loop_t *loop;
    fmx_conn_t *ctl;
    fmx_jobspec_t job;
    enum daemon_phase phase;
    fmx_fabric_t *fabric;
    fmx_transport_t *tp; /* the fabric's */
    fmx_engine_t *eng;
    fmx_glue_t *glue;
    struct pmixd_pmi *pmi; /* the PMI-1/PMI-2 service, NULL with FMX_PMI=0 */
    struct rank_set *sets; /* the job's ranks here, then the spawned namespaces' */
    fmx_rank_proc_t *ranks; /* the job's: sets->ranks (local rank i, as PMI-1/2 serves them) */
    uint32_t nranks;
    fmx_binding_t bind;
    fmx_session_t session;
    int cma; /* cross-memory attach works between ranks here */
    int resumed; /* a fresh pmixd going on with a job a resident one received */
    int svc_fd; /* a resident service's job: the link to it, until pmixd_svc_start takes it */
    struct svclink *svc;
    struct svc_call *svc_calls; /* requests to the service, not answered yet */
    uint64_t svc_next_id;
    int failed; /* a fatal error was reported: the daemon exits non-zero */
    int stopping; /* SIGTERM, SIGINT or pmixrun's KILL came: ranks are being ended */
    uint64_t addrs_timer;
    uint64_t beat_ms; /* FMX_HEARTBEAT_MS */
    uint32_t reach_pending; /* daemons asked whether they can be reached, not answered yet */
    int ranks_waiting; /* the ranks start once every address is in (pmixd_fabric_on_addrs) */
    char name_buf[160]; /* the engine's name for a daemon, while it writes a sentence */
};

/* pmixd_report.c: messages to pmixrun */
void pmixd_send_text(struct daemon *d, uint16_t type, uint32_t rank, const char *text);
/* Reports an error that ends the job to pmixrun (who prints it) and to our own stderr. */
void pmixd_report_error(struct daemon *d, const char *text);
/* The same for a failure of this daemon's: it exits non-zero. */
void pmixd_fatal(struct daemon *d, const char *text);
/* A failure after the ranks started: pmixrun hears of it, the ranks end, and so does pmixd. */
void pmixd_give_up(struct daemon *d, const char *text);
void pmixd_report_io(struct daemon *d, uint32_t rank, uint32_t stream, const void *buf, size_t n);
void pmixd_report_exit(struct daemon *d, uint32_t rank, int status);
/* PMIx_Abort (FMX_CTL_ABORT) or PMI_Abort (FMX_CTL_PMI_ABORT): the job ends with status. */
void pmixd_report_abort(struct daemon *d, uint16_t type, uint32_t rank, int status,
                        const char *msg);
/* A rank left without finalize after init (FMX_CTL_UNFINALIZED's how): the job ends. */
void pmixd_report_unfinalized(struct daemon *d, uint32_t rank, uint32_t how);
/* A BEAT to pmixrun every FMX_HEARTBEAT_MS (1000 ms): its silence then means this daemon or
 * its host hangs (pmixrun_watch in pmixrun.c). */
void pmixd_heartbeat_start(struct daemon *d);
/* What the glue reports through its daemon (PMIx_Abort, PMIx_Log, a rank gone unfinalized). */
extern const fmx_glue_host_t pmixd_glue_host;

/* pmixd_boot.c */
/* HELLO (secret, node, host name) on the control connection, the JOB back; then this daemon
 * takes the launcher's FI_* and FMX_* settings (before any other thread may read the
 * environment). A job whose FI_* settings differ from the ones a resident daemon started
 * libfabric with goes on in a fresh process: then this returns only on failure. */
int pmixd_bootstrap(struct daemon *d, uint32_t node, fmx_error_t *err);
/* --resume CONN:MEMFD[:LINK]: the control connection handed over, with what was read from it,
 * and the link to the resident service (*link_fd). */
fmx_conn_t *pmixd_resumed_conn(const char *spec, int *link_fd);

/* pmixd_reach.c: the daemons this one meets in fences are asked for an answer over the
 * fabric, within FMX_REACH_TIMEOUT_MS; one that cannot be reached ends the job, named. */
void pmixd_reach_start(struct daemon *d);

/* pmixd_fabric.c */
int pmixd_fabric_start(struct daemon *d, fmx_error_t *err);
/* Whether pmixd_fabric_start ran (a warm daemon starts it first, a cold one after libpmix). */
int pmixd_fabric_started(const struct daemon *d);
/* ADDRS from pmixrun: every daemon's address; the engine starts and joins the loop (its
 * descriptor, its deadline, its progress after every poll). */
void pmixd_fabric_on_addrs(struct daemon *d, fmx_pack_t *body);

/* pmixd_ranks.c */
/* Starts the job's ranks here (and ends their wait for the addresses, ranks_waiting). */
int pmixd_ranks_start(struct daemon *d, fmx_error_t *err);
/* Starts this node's ranks of a spawned namespace (already in the job map and registered
 * with the glue): s's applications, each rank's from s->app_of. */
int pmixd_ranks_start_spawned(struct daemon *d, const fmx_spawn_t *s, fmx_error_t *err);
/* A rank started here, by global index, or NULL. */
fmx_rank_proc_t *pmixd_rank(struct daemon *d, uint32_t index);
/* Signals every rank's process group; ranks still waiting to start never will, and each is
 * reported ended by sig (pmixrun waits for every rank's end). */
void pmixd_ranks_kill(struct daemon *d, int sig);
/* SIGCHLD: reaps, and reports each rank whose output is drained. */
void pmixd_ranks_reap(struct daemon *d);
/* Tells the engine whether a peer's loss is news: not once every rank here has ended. */
void pmixd_ranks_expect_losses(struct daemon *d);
/* Whether every local rank has ended (been reaped). */
int pmixd_ranks_all_ended(const struct daemon *d);
/* Reaps what is left at teardown, without waiting. */
void pmixd_ranks_free(struct daemon *d);

/* pmixd_spawn.c: a rank's PMIx_Spawn goes to pmixrun (SPAWN); every daemon registers and
 * starts the namespace pmixrun places (NSPACE, answered NSPACE_UP); the requester hears
 * (SPAWNED) */
int pmixd_spawn_request(void *arg, uint64_t id, const fmx_spawn_t *s);
void pmixd_spawn_on_nspace(struct daemon *d, fmx_pack_t *body);
void pmixd_spawn_on_spawned(struct daemon *d, fmx_pack_t *body);

/* pmixd_pmi.c: PMI-1 and PMI-2 on a socketpair per rank (PMI_FD), beside PMIx */
int pmixd_pmi_start(struct daemon *d, fmx_error_t *err);
/* A rank_env source: PMI_FD, PMI_RANK, PMI_SIZE, PMI_SPAWNED. */
int pmixd_pmi_env(void *arg, uint32_t rank, fmx_env_t *env, fmx_error_t *err);
/* The rank's end of local rank i's socket until it is forked (then pmixd_pmi_forked closes
 * ours of it), or -1. */
int pmixd_pmi_child_fd(struct daemon *d, uint32_t local);
void pmixd_pmi_forked(struct daemon *d, uint32_t local);
/* enum fmx_pmi_rank_state of local rank i. */
int pmixd_pmi_state(const struct daemon *d, uint32_t local);
/* The engine is up: barriers that waited for it start. */
void pmixd_pmi_set_engine(struct daemon *d);
/* After the engine is cancelled and destroyed. */
void pmixd_pmi_free(struct daemon *d);

/* pmixd_service.c: accepts launchers until SIGTERM; returns only in a job's child process,
 * with its control connection, node index, link to the service and FMX_JOB_SECRET set up. */
fmx_conn_t *pmixd_serve(const char *spec, const char *secret_file, uint32_t *node, int *link_fd);

/* pmixd_svc.c: a job child's link to its resident service (svclink.h): opened once the job is
 * known (HELLO); the glue's requests to the service (pmixd_glue_host.service); the service's
 * requests for this job's ranks' data; ended (its calls failed) before the glue stops. */
int pmixd_svc_start(struct daemon *d, fmx_error_t *err);
int pmixd_svc_request(void *arg, int kind, const void *req, size_t len, uint64_t timeout_ms,
                      fmx_glue_answer_f cb, void *cbarg);
void pmixd_svc_stop(struct daemon *d);

#endif
