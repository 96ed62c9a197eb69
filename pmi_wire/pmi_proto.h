/* The PMI-1 and PMI-2 wire protocols of one client connection, with no I/O of their own: bytes
 * in (fmx_pmi_conn_input), parsed requests out through a callback, replies formatted into an
 * output buffer the caller drains.
 *
 * PMI-1 (MPICH's simple PMI): a request is a line "cmd=NAME k=v k=v\n" of at most
 * FMX_PMI1_LINE_MAX bytes, or a multi-line "mcmd=spawn\n" ... "endcmd\n". A client whose init
 * says pmi_version=2 speaks PMI-2 from then on (the server switches the connection with
 * fmx_pmi_conn_set_version once it has answered): each message is a 6-byte decimal length
 * (padded with spaces on either side) and "cmd=NAME;k=v;...;" with ';' in values doubled. */
#ifndef FMX_PMI_PROTO_H
#define FMX_PMI_PROTO_H

#include "fmx_common.h"

#include <stddef.h>
#include <stdint.h>

#define FMX_PMI1_LINE_MAX 1024 /* a request line with its '\n' (MPICH's PMIU_MAXLINE) */
#define FMX_PMI1_MCMD_MAX 65536 /* a whole multi-line request */
#define FMX_PMI2_LEN_FIELD 6
#define FMX_PMI2_MSG_MAX 65536 /* a message's body (Slurm's and MPICH's PMII_MAX_COMMAND_LEN) */
#define FMX_PMI_MAX_PAIRS 512

typedef struct fmx_pmi_pair {
    const char *key, *value;
} fmx_pmi_pair_t;

typedef struct fmx_pmi_msg {
    int version; /* the framing it came in: 1 or 2 */
    const char *cmd; /* "init", "put", "kvs-get", "spawn" (of mcmd=spawn)... */
    uint32_t npairs; /* the pairs after cmd= */
    const fmx_pmi_pair_t *pairs;
    const char *text; /* the request as received, for error sentences (shortened, printable) */
} fmx_pmi_msg_t;

/* The value of key in m, or NULL. */
const char *fmx_pmi_get(const fmx_pmi_msg_t *m, const char *key);

typedef struct fmx_pmi_conn fmx_pmi_conn_t;

fmx_pmi_conn_t *fmx_pmi_conn_new(void);
void fmx_pmi_conn_free(fmx_pmi_conn_t *c);
/* 1 until the server switches it to 2 after a PMI-2 init. */
int fmx_pmi_conn_version(const fmx_pmi_conn_t *c);
void fmx_pmi_conn_set_version(fmx_pmi_conn_t *c, int version);

typedef void (*fmx_pmi_msg_f)(void *arg, const fmx_pmi_msg_t *m);
/* Takes len bytes of the client's stream and calls cb for each complete request, in order
 * (m is valid during the call only). Returns 0, or -EPROTO when the stream breaks the framing
 * (a line too long, no cmd=, a bad length field; err says which, quoting the bytes): the
 * connection cannot go on. len 0 means end of file: -EPROTO when it cuts a request short. */
int fmx_pmi_conn_input(fmx_pmi_conn_t *c, const void *buf, size_t len, fmx_pmi_msg_f cb, void *arg,
                       fmx_error_t *err);

/* Appends a reply "cmd" with the pairs kv[0]=kv[1], kv[2]=kv[3]... (kv NULL-terminated) in the
 * connection's framing. -ENOMEM, or -EMSGSIZE when it would not fit the client's limits. */
int fmx_pmi_reply(fmx_pmi_conn_t *c, const char *cmd, const char *const *kv);
/* The same with the pairs as arguments: fmx_pmi_replyv(c, "put_result", "rc", "0", NULL). */
int fmx_pmi_replyv(fmx_pmi_conn_t *c, const char *cmd, ...);

/* What is waiting to go to the client, and how much of it went. */
const char *fmx_pmi_conn_output(const fmx_pmi_conn_t *c, size_t *len);
void fmx_pmi_conn_consumed(fmx_pmi_conn_t *c, size_t n);

/* PMI_process_mapping for ranks 0..size-1 on nodes node_of[]: "(vector,(node,count,ppn),...)"
 * as MPICH reads it, into buf. -EMSGSIZE when it does not fit cap. */
int fmx_pmi_process_mapping(const uint32_t *node_of, uint32_t size, char *buf, size_t cap);

#endif
