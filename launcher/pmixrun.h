/* Shared by the files of pmixrun, one concern each: pmixrun.c (the run: one event loop from the
 * daemons' start to their end, the control messages and the exit policy), pmixrun_cli.c (the
 * command line, the job map and description), starters.c (starting the daemons: a local fork,
 * a launch agent, or daemons already serving; starter_srun.c: Slurm's srun), join.c (daemons
 * joining with the job's secret), output.c (ranks' output on the terminal), pmixrun_spawn.c
 * (namespaces spawned by the job). */
#ifndef FMX_PMIXRUN_H
#define FMX_PMIXRUN_H

#include "auth.h"
#include "control.h"
#include "fmx_loop.h"
#include "jobspec.h"
#include "ranks.h"

#define VERSION "0.1.0"

struct opts {
    uint32_t np, npernode, vnodes, timeout_s;
    int oversubscribe, tag_output, bind_core;
    int recovery; /* --enable-recovery: a failed rank does not end the job */
    const char *hostfile, *hosts, *wdir, *agent, *secret_file;
    uint32_t connect_port; /* use daemons already listening there */
    fmx_env_t exports;
    char **argv;
    int argc;
};

struct daemon_slot {
    fmx_conn_t *conn;
    pid_t pid; /* local pmixd or its launch agent */
    int done; /* SHUTDOWN sent */
    uint8_t *addr;
    size_t alen;
    char *control; /* host:port it was told to connect back to */
    int joined; /* said HELLO with the job's secret */
    int status; /* its waitpid status once it ended (0 until then, and for resident daemons) */
    int said_error; /* it reported an ERROR, which pmixrun printed */
    uint32_t exited; /* its ranks whose end it reported (all of them once it is lost) */
    uint64_t heard_ns; /* when it last said something */
};

enum run_phase {
    RUN_JOINING, /* daemons are starting and saying HELLO */
    RUN_RUNNING, /* the job was sent; addresses, output and exits come in */
};

struct run {
    struct opts o;
    fmx_jobspec_t job;
    const fmx_nspace_map_t *ns; /* the job's namespace in job.map */
    uint32_t size; /* the processes of every namespace (global indices, fmx_jobmap.h) */
    struct daemon_slot *d;
    char secret[33];
    uint8_t hello_nonce[FMX_AUTH_NONCE]; /* the job's challenge to its daemons (auth.h) */
    fmx_loop_t *loop;
    enum run_phase phase;
    int listen_fd;
    uint16_t port;
    uint32_t joined, exited;
    uint32_t naddrs; /* fabric addresses received */
    uint64_t addr_timer;
    fmx_env_t denv; /* FI_* and FMX_* settings for the daemons */
    fmx_conn_t **pending; /* connections that have not said HELLO yet */
    size_t npending;
    int exit_code, ending;
    int slurm; /* the nodes are a Slurm allocation's (slurm_alloc.h) */
    char **partial; /* per process and stream: an unfinished output line (--tag-output) */
    uint32_t nspawned; /* namespaces spawned so far */
    struct spawn_wait *spawns; /* spawns waiting for the daemons (pmixrun_spawn.c) */
};

/* Prints "pmixrun: <sentence>" and exits 1. */
void pmixrun_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* pmixrun_cli.c */
void pmixrun_parse(int argc, char **argv, struct opts *o);
void pmixrun_build_map(struct run *r);
/* A missing or non-executable program fails here, in one line. */
void pmixrun_check_program(const char *prog);
void pmixrun_fill_job(struct run *r);

/* pmixrun.c */
/* Ends the job with status code (the first one counts): every daemon gets KILL. */
void pmixrun_end_job(struct run *r, int code);
/* How long daemons have to connect and to open their fabric endpoints (ms). */
uint64_t pmixrun_daemon_timeout_ms(void);
/* A daemon joined: its connection goes into the loop. */
void pmixrun_daemon_joined(struct run *r, uint32_t node);

/* starters.c: starts every node's daemon (exits with a sentence when that cannot be done) */
struct starter {
    const char *name;
    /* whether pmixrun listens for the daemons' control connections (and on which address) */
    int listens;
    void (*start_all)(struct run *r);
};
const struct starter *pmixrun_starter(const struct run *r);
extern const struct starter pmixrun_srun_starter; /* starter_srun.c */
/* The address at which a pmixd on host can reach pmixrun (FMX_CONTROL_HOST, else the route's). */
void pmixrun_control_host(const char *host, char *out, size_t len);
/* Forks and execs av (a pmixd, or what starts pmixd: a launch agent, srun), the job's secret
 * handed over on its stdin (on_stdin), else in its environment (a pmixd forked here); a failed
 * exec says "cannot start AV0 for FOR_WHAT". Its pid. */
pid_t pmixrun_exec_daemons(struct run *r, char *const av[], int on_stdin, const char *for_what);
/* pmixd's path: FMX_PMIXD, else beside pmixrun. */
void pmixrun_pmixd_path(char *out, size_t len);
int pmixrun_all_local(const struct run *r);
/* The first node whose host is not this machine (localhost, 127.0.0.1, its host name), or the
 * number of nodes when every one is. */
uint32_t pmixrun_first_remote(const struct run *r);

/* join.c */
/* Watches the listening socket and the connections of daemons already serving; every one that
 * says HELLO with the job's secret joins (pmixrun_daemon_joined), within the deadline. */
void pmixrun_join_start(struct run *r);
/* Frees what is left of the join phase. */
void pmixrun_join_end(struct run *r);

/* pmixrun_spawn.c: SPAWN from a daemon, NSPACE_UP from each */
void pmixrun_spawn_request(struct run *r, uint32_t node, fmx_pack_t *b);
void pmixrun_spawn_up(struct run *r, uint32_t node, fmx_pack_t *b);
void pmixrun_spawn_free(struct run *r);
/* "rank 3" of the job, "rank 1 of job.1" of a spawned namespace: process `index` in messages. */
const char *pmixrun_proc_name(struct run *r, uint32_t index, char *buf, size_t len);

/* output.c */
void pmixrun_emit(struct run *r, uint32_t rank, uint32_t stream, const char *buf, size_t n);
void pmixrun_output_free(struct run *r);

#endif
