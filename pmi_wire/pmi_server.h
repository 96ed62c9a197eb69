/* A node's PMI-1 / PMI-2 server for one job: one connection per local rank (each parsed by
 * pmi_proto), the job's key-value space (pmi_kvs), node attributes, and barriers that carry
 * this node's puts to every node in one engine fence, so that every get after a barrier is
 * answered here, with no round trip. No I/O of its own: the daemon feeds each rank's bytes in
 * and writes out what fmx_pmi_server_output holds when host->output says there is some. */
#ifndef FMX_PMI_SERVER_H
#define FMX_PMI_SERVER_H

#include "fmx_engine.h"

#include <stddef.h>
#include <stdint.h>

/* Engine keys of this front end begin with it (fmx_engine.h). */
#define FMX_PMI_KEY_PREFIX "pmi:"
#define FMX_PMI_KVSNAME_MAX 64
#define FMX_PMI_KEYLEN_MAX 64
/* A PMI-1 client shrinks its value limit so that a put line fits its 1024-byte buffer:
 * 1024 - kvsname_max - keylen_max - 30. */
#define FMX_PMI1_VALLEN_MAX (1024 - FMX_PMI_KVSNAME_MAX - FMX_PMI_KEYLEN_MAX - 30)
#define FMX_PMI2_VALLEN_MAX 1024

typedef struct fmx_pmi_host {
    /* local rank index `local` has replies waiting (fmx_pmi_server_output) */
    void (*output)(void *arg, uint32_t local);
    /* the rank called PMI_Abort: the job ends with status */
    void (*abort)(void *arg, uint32_t rank, int status, const char *msg);
    /* the job cannot go on (a rank broke the protocol, a barrier failed): text says why */
    void (*fail)(void *arg, uint32_t rank, const char *text);
    /* a request was refused (an unknown command, a key or value too long): text names it */
    void (*warn)(void *arg, uint32_t rank, const char *text);
} fmx_pmi_host_t;

typedef struct fmx_pmi_job {
    const char *kvsname; /* shorter than FMX_PMI_KVSNAME_MAX */
    uint32_t size; /* ranks in the job */
    uint32_t self; /* this node's member index in the engine */
    const uint32_t *local_ranks; /* this node's ranks, in the order of their connections */
    uint32_t nlocal;
    const uint32_t *members; /* the nodes that run ranks: every barrier's participants */
    uint32_t nmembers;
    const char *process_mapping; /* pre-put as PMI_process_mapping, or NULL */
    uint64_t timeout_ms; /* a barrier's, 0: the engine's default */
} fmx_pmi_job_t;

typedef struct fmx_pmi_server fmx_pmi_server_t;

/* The job is copied. The engine may come later (fmx_pmi_server_set_engine): barriers that
 * need it wait for it. */
int fmx_pmi_server_create(const fmx_pmi_job_t *job, const fmx_pmi_host_t *host, void *arg,
                          fmx_pmi_server_t **out);
void fmx_pmi_server_set_engine(fmx_pmi_server_t *s, fmx_engine_t *eng);
/* Bytes from local rank `local` (len 0: end of file). Returns 0, or -EPROTO when the
 * connection broke the protocol (host->fail has been told; feed it nothing more). */
int fmx_pmi_server_input(fmx_pmi_server_t *s, uint32_t local, const void *buf, size_t len);
const char *fmx_pmi_server_output(fmx_pmi_server_t *s, uint32_t local, size_t *len);
void fmx_pmi_server_consumed(fmx_pmi_server_t *s, uint32_t local, size_t n);

/* The earliest end (fmx_now_ns) of a rank's wait for a node attribute (PMI-2 info-getnodeattr
 * with wait=TRUE, bounded by the job's timeout), 0 when none waits; fmx_pmi_server_expire
 * answers those whose time is over (rc=-1, and a line through host->warn). */
uint64_t fmx_pmi_server_deadline(const fmx_pmi_server_t *s);
void fmx_pmi_server_expire(fmx_pmi_server_t *s, uint64_t now_ns);

enum fmx_pmi_rank_state { FMX_PMI_UNUSED = 0, FMX_PMI_INITIALIZED, FMX_PMI_FINALIZED };
int fmx_pmi_server_state(const fmx_pmi_server_t *s, uint32_t local);
/* Frees everything; a barrier in flight must have been cancelled (fmx_engine_cancel) first. */
void fmx_pmi_server_destroy(fmx_pmi_server_t *s);

#endif
