/* A job child's link to its resident service (pmixd.h, svclink.h): HELLO once the job is
 * known; the glue's requests (publish / lookup for node 0, another job's rank's data), each
 * answered once, by the service or by its timer; the service's requests for a rank of this
 * job's, read through the glue. */
#include "pmixd.h"

#include "svclink.h"

#include <stdlib.h>

#define CALL_GRACE_MS 2000 /* the service's own timers end its requests first */

struct svc_call {
    struct svc_call *next;
    struct daemon *d;
    uint64_t id, timer;
    fmx_glue_answer_f cb;
    void *cbarg;
};

static void call_end(struct daemon *d, struct svc_call *c, int status, const void *blob, size_t len)
{
    for (struct svc_call **at = &d->svc_calls; *at; at = &(*at)->next)
        if (*at == c) {
            *at = c->next;
            break;
        }
    if (c->timer)
        fmx_loop_del_timer(d->loop, c->timer);
    c->cb(c->cbarg, status, blob, len);
    free(c);
}

static void call_expired(fmx_loop_t *l, void *arg)
{
    struct svc_call *c = arg;

    (void)l;
    c->timer = 0;
    call_end(c->d, c, -ETIMEDOUT, NULL, 0);
}

int pmixd_svc_request(void *arg, int kind, const void *req, size_t len, uint64_t timeout_ms,
                      fmx_glue_answer_f cb, void *cbarg)
{
    struct daemon *d = arg;
    struct svc_call *c;
    int rc;

    if (!d->svc)
        return -ENOTCONN;
    if (!(c = calloc(1, sizeof(*c))))
        return -ENOMEM;
    *c = (struct svc_call){.d = d, .id = ++d->svc_next_id & 0xffffffffu, .cb = cb, .cbarg = cbarg};
    if (timeout_ms > UINT32_MAX - CALL_GRACE_MS)
        timeout_ms = UINT32_MAX - CALL_GRACE_MS;
    if ((rc = svclink_request(d->svc, c->id, (uint32_t)kind, (uint32_t)timeout_ms, req, len))) {
        free(c);
        return rc;
    }
    c->timer = fmx_loop_add_timer(d->loop, timeout_ms + CALL_GRACE_MS, call_expired, c);
    c->next = d->svc_calls;
    d->svc_calls = c;
    return 0;
}

struct fetch {
    struct daemon *d;
    uint64_t id;
};

static void fetched(void *arg, int status, const void *blob, size_t len)
{
    struct fetch *f = arg;

    if (f->d->svc)
        svclink_reply(f->d->svc, f->id, status, blob, len);
    free(f);
}

static void on_request(struct daemon *d, fmx_pack_t *b)
{
    svclink_msg_t m;
    struct fetch *f;
    int rc = svclink_read_request(b, &m);

    if (!rc && m.kind != FMX_GLUE_SVC_FETCH)
        rc = -EINVAL;
    if (!rc && !d->glue)
        rc = -EAGAIN;
    if (!rc && !(f = malloc(sizeof(*f))))
        rc = -ENOMEM;
    if (rc) {
        svclink_reply(d->svc, m.id, rc, NULL, 0);
        return;
    }
    *f = (struct fetch){.d = d, .id = m.id};
    fmx_glue_fetch(d->glue, m.data, m.len, m.timeout_ms, fetched, f);
}

static void on_msg(void *arg, uint16_t type, fmx_pack_t *b)
{
    struct daemon *d = arg;
    svclink_msg_t m;

    if (type == SVC_REQ) {
        on_request(d, b);
        return;
    }
    if (type != SVC_REP || svclink_read_reply(b, &m))
        return;
    for (struct svc_call *c = d->svc_calls; c; c = c->next)
        if (c->id == m.id) {
            call_end(d, c, m.status, m.data, m.len);
            return;
        }
}

static void fail_calls(struct daemon *d, int status)
{
    while (d->svc_calls)
        call_end(d, d->svc_calls, status, NULL, 0);
}

static void on_closed(void *arg, const char *why)
{
    struct daemon *d = arg;

    if (!d->stopping)
        fmx_log(FMX_LOG_WARN, "pmixd",
                "the link to the resident service ended (%s): publish, "
                "lookup and other jobs are out of reach",
                why);
    svclink_close(d->svc);
    d->svc = NULL;
    fail_calls(d, -ECONNRESET);
}

int pmixd_svc_start(struct daemon *d, fmx_error_t *err)
{
    fmx_pack_t p;
    int rc;

    if (d->svc_fd < 0)
        return 0;
    if (!(d->svc =
              svclink_open(d->loop, d->svc_fd, "the resident service", on_msg, on_closed, d))) {
        fmx_errprintf(err, "cannot watch the link to the resident service");
        return -ENOMEM;
    }
    d->svc_fd = -1;
    fmx_pack_init(&p);
    fmx_pack_str(&p, d->job.nspace);
    fmx_pack_u32(&p, d->job.self);
    rc = p.err ? -ENOMEM : svclink_send(d->svc, SVC_HELLO, &p);
    fmx_pack_free(&p);
    if (rc)
        fmx_errprintf(err, "cannot greet the resident service: %s", fmx_strerror(rc));
    return rc;
}

void pmixd_svc_stop(struct daemon *d)
{
    fail_calls(d, -ECANCELED);
    svclink_close(d->svc);
    d->svc = NULL;
}
