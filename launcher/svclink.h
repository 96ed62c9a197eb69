/* The link between a resident service (pmixd --listen) and each job child it forks: a
 * socketpair made before the fork, framed as control messages (control.h), watched by the
 * owner's loop. The child says HELLO (its job's namespace, its node); either side sends
 * REQ (an id of the sender's, a kind, a timeout, the request) and gets one REP (that id, a
 * status, the answer). What goes over it: publish / lookup of the jobs the service serves,
 * and another job's rank's data (glue.h, FMX_GLUE_SVC_*); pmixd_sessions.c keeps the
 * service's side, pmixd_svc.c a job's. Both ends are the same program, started by the same
 * service: nothing on it is an outsider's. */
#ifndef FMX_SVCLINK_H
#define FMX_SVCLINK_H

#include "control.h"
#include "fmx_loop.h"

enum {
    SVC_HELLO = 1, /* c->s: job namespace (str), node (u32) */
    SVC_REQ = 2, /* id (u64), kind (u32), timeout ms (u32), request (bytes) */
    SVC_REP = 3, /* id (u64), status (u32, 0 or -errno), answer (bytes) */
};

typedef struct svclink svclink_t;
/* A message, its body valid during the call; the end of the link (or a malformed message). */
typedef void (*svclink_msg_f)(void *arg, uint16_t type, fmx_pack_t *body);
typedef void (*svclink_closed_f)(void *arg, const char *why);

/* Takes fd (closed by svclink_close). NULL on ENOMEM. */
svclink_t *svclink_open(fmx_loop_t *loop, int fd, const char *peer, svclink_msg_f on_msg,
                        svclink_closed_f on_closed, void *arg);
int svclink_send(svclink_t *l, uint16_t type, const fmx_pack_t *body);
int svclink_fd(const svclink_t *l);
/* REQ and REP, packed and sent. */
int svclink_request(svclink_t *l, uint64_t id, uint32_t kind, uint32_t timeout_ms, const void *req,
                    size_t len);
int svclink_reply(svclink_t *l, uint64_t id, int status, const void *blob, size_t len);
/* REQ and REP read: 0, or -EPROTO (malformed). Pointers into the body. */
typedef struct svclink_msg {
    uint64_t id;
    uint32_t kind, timeout_ms; /* REQ */
    int status; /* REP */
    const void *data;
    size_t len;
} svclink_msg_t;
int svclink_read_request(fmx_pack_t *body, svclink_msg_t *m);
int svclink_read_reply(fmx_pack_t *body, svclink_msg_t *m);
/* Stops watching, closes, frees. */
void svclink_close(svclink_t *l);

#endif
