/* Shared by pmixrun.c (daemons and the control loop) and pmixrun_cli.c (the command line,
 * the job map and the job description). */
#ifndef FMX_PMIXRUN_H
#define FMX_PMIXRUN_H

#include "control.h"
#include "jobspec.h"
#include "ranks.h"

#define VERSION "0.1.0"

struct opts {
    uint32_t np, npernode, vnodes, timeout_s;
    int oversubscribe, tag_output, bind_core;
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
};

struct run {
    struct opts o;
    fmx_jobspec_t job;
    const fmx_nspace_map_t *ns; /* the job's namespace in job.map */
    uint32_t size; /* its ranks */
    struct daemon_slot *d;
    char secret[33];
    int listen_fd, sigfd;
    uint16_t port;
    uint32_t exited, failed_rank;
    uint32_t naddrs; /* fabric addresses received */
    uint64_t addr_deadline;
    fmx_env_t denv; /* FI_* and FMX_* settings for the daemons */
    fmx_conn_t **pre; /* --connect: authenticated connections, before their HELLO */
    size_t npre;
    int exit_code, ending;
    char **partial; /* per rank and stream: an unfinished output line (--tag-output) */
};

/* Prints "pmixrun: <sentence>" and exits 1. */
void pmixrun_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void pmixrun_parse(int argc, char **argv, struct opts *o);
void pmixrun_build_map(struct run *r);
/* A missing or non-executable program fails here, in one line. */
void pmixrun_check_program(const char *prog);
void pmixrun_fill_job(struct run *r);

#endif
