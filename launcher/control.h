/* The launcher's control channel: length-prefixed messages over a TCP connection between
 * pmixrun and each pmixd (bootstrap, stdio, exit statuses, abort). A message is u32 length,
 * u16 type, u16 zero, then fields packed with fmx_pack_* and read back with fmx_unpack_*, which
 * check every length against the message. Knows nothing of PMIx or the engine. Ranks are
 * named by their global index (fmx_jobmap.h): the job's by their rank, those of namespaces it
 * spawned after them. */
#ifndef FMX_CONTROL_H
#define FMX_CONTROL_H

#include "fmx_common.h"
#include "fmx_pack.h"

#include <stddef.h>
#include <stdint.h>

#define FMX_CTL_MAX_MESSAGE (64u << 20)

enum fmx_ctl_type {
    FMX_CTL_HELLO = 1, /* d->r: proof of the job secret, node index, hostname (auth.h) */
    FMX_CTL_JOB = 2, /* r->d: the job description (jobspec.h) */
    FMX_CTL_ADDRS = 3, /* r->d: every daemon's fabric address */
    FMX_CTL_IO = 4, /* d->r: rank, stream (1 out, 2 err), bytes */
    FMX_CTL_EXIT = 5, /* d->r: rank, wait status */
    FMX_CTL_ABORT = 6, /* d->r: rank, status, message (PMIx_Abort) */
    FMX_CTL_KILL = 7, /* r->d: terminate every local rank now */
    FMX_CTL_LOG = 8, /* d->r: a line for the user's terminal */
    FMX_CTL_ERROR = 9, /* d->r: the daemon cannot go on: message */
    FMX_CTL_SHUTDOWN = 10, /* r->d: all ranks are done, exit */
    FMX_CTL_ADDR = 11, /* d->r: node index, the daemon's fabric address (after JOB) */
    FMX_CTL_CHALLENGE = 12, /* either way: nonce (auth.h) */
    FMX_CTL_AUTH = 13, /* r->d: nonce, proof, node index, hidden job secret */
    FMX_CTL_AUTH_OK = 14, /* d->r: proof */
    FMX_CTL_UNFINALIZED = 15, /* d->r: rank, how (0 its PMIx connection ended, 1 it exited 0;
                                 2 and 3 the same of PMI), without finalize after init */
    FMX_CTL_BEAT = 16, /* d->r: nothing; every FMX_HEARTBEAT_MS, so that silence means a hang */
    FMX_CTL_PMI_ABORT = 17, /* d->r: rank, status, message (PMI_Abort of PMI-1 or PMI-2) */
    FMX_CTL_SPAWN = 18, /* d->r: request id (2 u32), the spawn (fmx_spawn.h) */
    FMX_CTL_NSPACE = 19, /* r->d: the spawn, named and placed (app_of), each rank's node */
    FMX_CTL_NSPACE_UP = 20, /* d->r: namespace, status (0 or errno), error: its ranks here run */
    FMX_CTL_SPAWNED = 21 /* r->d: request id (2 u32), status (0 or errno), namespace or error */
};

/* One end of a control connection: a non-blocking socket with input and output buffers. */
typedef struct fmx_conn fmx_conn_t;

fmx_conn_t *fmx_conn_new(int fd, const char *peer);
/* A connection taken over from another process, with the input it had read (fmx_conn_input). */
fmx_conn_t *fmx_conn_adopt(int fd, const char *peer, const void *input, size_t len);
void fmx_conn_free(fmx_conn_t *c);
int fmx_conn_fd(const fmx_conn_t *c);
/* Messages longer than max (at most FMX_CTL_MAX_MESSAGE, the default) are malformed: a peer not
 * yet trusted gets no more memory than its handshake needs. */
void fmx_conn_set_max_message(fmx_conn_t *c, uint32_t max);
/* Who is at the other end, for error messages; set once it has said who it is. */
const char *fmx_conn_peer(const fmx_conn_t *c);
void fmx_conn_set_peer(fmx_conn_t *c, const char *peer);
/* Output is queued: wait for the socket to be writable and fmx_conn_flush. */
int fmx_conn_wants_write(const fmx_conn_t *c);
/* The input read so far that the program has not finished with, from the message handed out
 * last: what a process taking the connection over must be given (fmx_conn_adopt). */
const void *fmx_conn_input(const fmx_conn_t *c, size_t *len);
/* Queues a message and writes what the socket takes now. */
int fmx_conn_send(fmx_conn_t *c, uint16_t type, const fmx_pack_t *body);
/* Writes queued output; 0 when all is written, -EAGAIN when some remains, <0 on error. */
int fmx_conn_flush(fmx_conn_t *c);
/* Writes all queued output, waiting up to timeout_ms. */
int fmx_conn_flush_blocking(fmx_conn_t *c, int timeout_ms);
/* Reads what is available: 0, -EPIPE at end of stream, or another error (err says which). */
int fmx_conn_read(fmx_conn_t *c, fmx_error_t *err);
/* A complete message is already read and waiting for fmx_conn_next (so do not sleep in poll). */
int fmx_conn_has_message(const fmx_conn_t *c);
/* Takes the next complete message: 1 with type/body set (body valid until the next call),
 * 0 when none is complete yet, <0 when the peer sent an impossible length (err says so). */
int fmx_conn_next(fmx_conn_t *c, uint16_t *type, fmx_pack_t *body, fmx_error_t *err);

/* Waits up to timeout_ms for the next message, which must be of type `want` (0); an ERROR
 * message from the peer, another type, the end of the stream or the time running out is an
 * error that err describes, naming the peer. KILL or SHUTDOWN (the launcher ending the job
 * while a daemon starts) is -ECANCELED. */
int fmx_conn_wait(fmx_conn_t *c, uint16_t want, fmx_pack_t *body, int timeout_ms, fmx_error_t *err);

/* TCP helpers. host may be a name or address; port 0 picks a free port. */
int fmx_tcp_listen(const char *host, uint16_t port, uint16_t *bound, fmx_error_t *err);
/* Connects with a deadline, retrying refused connections and unresolved names until then. */
int fmx_tcp_connect(const char *host, uint16_t port, int timeout_ms, fmx_error_t *err);

/* "address:port" of a socket address, for messages. */
struct sockaddr;
void fmx_sockaddr_str(const struct sockaddr *sa, char *out, size_t len);

#endif
