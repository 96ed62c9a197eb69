/* The resident service's part in its jobs' sessions (pmixd_sessions.h): the link to each job
 * child it forks (svclink.h); the records those jobs publish at the ranges that are not local
 * (a job's node 0 sends them all here, pubsub.c), kept until the publishing job's child ends;
 * lookups held here until their keys come; and a rank's data asked by one job of another's,
 * relayed to that job's node 0 and back. */
#include "pmixd_sessions.h"

#include "glue.h"
#include "pubstore.h"
#include "svclink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FORWARD_GRACE_MS 2000

struct svc_job {
    struct svc_job *next;
    struct pmixd_sessions *s;
    uint64_t src; /* numbers the job's records and requests in the store */
    pid_t pid;
    svclink_t *link;
    char *nspace; /* from its HELLO */
    uint32_t node;
    char who[64];
};

/* A rank's data asked by one job (from, its id) of another (to, our id). */
struct forward {
    struct forward *next;
    struct pmixd_sessions *s;
    uint64_t id, from, from_id, to;
    uint64_t timer;
};

struct pmixd_sessions {
    fmx_loop_t *loop;
    fmx_pubstore_t *store;
    struct svc_job *jobs;
    struct forward *forwards;
    uint64_t next_src, next_id;
};

static struct svc_job *job_by_src(struct pmixd_sessions *s, uint64_t src)
{
    for (struct svc_job *j = s->jobs; j; j = j->next)
        if (j->src == src)
            return j;
    return NULL;
}

/* The store's answer: `to` is the job's number, then its request id (32 bits each). */
static void store_answer(void *arg, uint64_t to, int status, const void *blob, size_t len)
{
    struct svc_job *j = job_by_src(arg, to >> 32);

    if (j)
        svclink_reply(j->link, (uint32_t)to, status, blob, len);
}

static void forward_end(struct forward *f, int status, const void *blob, size_t len)
{
    struct pmixd_sessions *s = f->s;
    struct svc_job *j = job_by_src(s, f->from);

    for (struct forward **at = &s->forwards; *at; at = &(*at)->next)
        if (*at == f) {
            *at = f->next;
            break;
        }
    if (f->timer)
        fmx_loop_del_timer(s->loop, f->timer);
    if (j)
        svclink_reply(j->link, f->from_id, status, blob, len);
    free(f);
}

static void forward_expired(fmx_loop_t *l, void *arg)
{
    struct forward *f = arg;

    (void)l;
    f->timer = 0;
    forward_end(f, -ETIMEDOUT, NULL, 0);
}

/* FMX_GLUE_SVC_FETCH: the other job's namespace, NUL, the rank's key, for its node 0. */
static int fetch(struct pmixd_sessions *s, struct svc_job *from, uint64_t id, uint32_t timeout,
                 const uint8_t *req, size_t len)
{
    const uint8_t *nul = memchr(req, '\0', len);
    struct svc_job *to = NULL;
    struct forward *f;

    if (!nul)
        return -EINVAL;
    for (struct svc_job *j = s->jobs; j; j = j->next)
        if (j->nspace && j->node == 0 && !strcmp(j->nspace, (const char *)req))
            to = j;
    if (!to) {
        fmx_log(FMX_LOG_WARN, "pmixd",
                "%s asked for a rank of job %s, which this service does "
                "not serve (its node 0 is not here)",
                from->who, (const char *)req);
        return -ESRCH;
    }
    if (!(f = calloc(1, sizeof(*f))))
        return -ENOMEM;
    *f = (struct forward){
        .s = s, .id = ++s->next_id, .from = from->src, .from_id = id, .to = to->src};
    f->next = s->forwards;
    s->forwards = f;
    f->timer =
        fmx_loop_add_timer(s->loop, (uint64_t)timeout + FORWARD_GRACE_MS, forward_expired, f);
    nul++;
    return svclink_request(to->link, f->id, FMX_GLUE_SVC_FETCH, timeout, nul,
                           len - (size_t)(nul - req));
}

static void on_request(struct svc_job *j, fmx_pack_t *b)
{
    svclink_msg_t m;
    int rc;

    if (svclink_read_request(b, &m)) {
        fmx_log(FMX_LOG_WARN, "pmixd", "%s sent a malformed request", j->who);
        return;
    }
    if (m.kind == FMX_GLUE_SVC_PUB) {
        fmx_pubstore_serve(j->s->store, j->src, j->who, m.data, m.len,
                           j->src << 32 | (uint32_t)m.id);
        return;
    }
    rc = m.kind == FMX_GLUE_SVC_FETCH ? fetch(j->s, j, m.id, m.timeout_ms, m.data, m.len) : -EINVAL;
    if (rc)
        svclink_reply(j->link, m.id, rc, NULL, 0);
}

static void on_reply(struct svc_job *j, fmx_pack_t *b)
{
    svclink_msg_t m;

    if (svclink_read_reply(b, &m))
        return;
    for (struct forward *f = j->s->forwards; f; f = f->next)
        if (f->id == m.id && f->to == j->src) {
            forward_end(f, m.status, m.data, m.len);
            return;
        }
}

static void on_msg(void *arg, uint16_t type, fmx_pack_t *b)
{
    struct svc_job *j = arg;

    if (type == SVC_HELLO && !j->nspace) {
        j->nspace = fmx_unpack_str(b);
        j->node = fmx_unpack_u32(b);
        if (j->nspace && !b->err)
            snprintf(j->who, sizeof(j->who), "job %s's node %u", j->nspace, j->node);
        for (struct svc_job *o = j->s->jobs; o && j->nspace; o = o->next)
            if (o != j && o->nspace && o->node == j->node && !strcmp(o->nspace, j->nspace))
                fmx_log(FMX_LOG_WARN, "pmixd",
                        "two jobs here are named %s: another job reaches one of them only",
                        j->nspace);
    } else if (type == SVC_REQ) {
        on_request(j, b);
    } else if (type == SVC_REP) {
        on_reply(j, b);
    }
}

static void job_free(struct pmixd_sessions *s, struct svc_job *j, int quiet)
{
    struct forward **at = &s->forwards, *f;

    for (struct svc_job **p = &s->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    fmx_pubstore_forget(s->store, j->src);
    while ((f = *at)) { /* what it asked goes unanswered; what was asked of it ends */
        if (f->from == j->src || quiet) {
            *at = f->next;
            fmx_loop_del_timer(s->loop, f->timer);
            free(f);
        } else if (f->to == j->src) {
            forward_end(f, -ECONNRESET, NULL, 0);
            at = &s->forwards;
        } else {
            at = &f->next;
        }
    }
    svclink_close(j->link);
    free(j->nspace);
    free(j);
}

static void on_closed(void *arg, const char *why)
{
    struct svc_job *j = arg;

    fmx_debug("pmixd", "the link to %s ended: %s", j->who, why);
    job_free(j->s, j, 0);
}

struct pmixd_sessions *pmixd_sessions_new(fmx_loop_t *loop)
{
    struct pmixd_sessions *s = calloc(1, sizeof(*s));

    if (s && !(s->store = fmx_pubstore_new(loop, store_answer, s))) {
        free(s);
        return NULL;
    }
    if (s)
        s->loop = loop;
    return s;
}

int pmixd_sessions_pair(int fds[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) ? -errno : 0;
}

int pmixd_sessions_add(struct pmixd_sessions *s, pid_t pid, int fd)
{
    struct svc_job *j = calloc(1, sizeof(*j));

    if (!j) {
        close(fd);
        return -ENOMEM;
    }
    j->s = s;
    j->pid = pid;
    j->src = ++s->next_src;
    snprintf(j->who, sizeof(j->who), "the job child %d", (int)pid);
    if (!(j->link = svclink_open(s->loop, fd, j->who, on_msg, on_closed, j))) {
        free(j);
        return -ENOMEM;
    }
    j->next = s->jobs;
    s->jobs = j;
    return 0;
}

void pmixd_sessions_free(struct pmixd_sessions *s, int quiet)
{
    if (!s)
        return;
    while (s->jobs)
        job_free(s, s->jobs, quiet);
    fmx_pubstore_free(s->store, quiet);
    free(s);
}
