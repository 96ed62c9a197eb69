/* The service's link to a job child (svclink.h). */
#include "svclink.h"

#include <stdlib.h>
#include <unistd.h>

struct svclink {
    fmx_loop_t *loop;
    fmx_conn_t *conn;
    svclink_msg_f on_msg;
    svclink_closed_f on_closed;
    void *arg;
};

static void watch(svclink_t *l)
{
    fmx_loop_set_events(l->loop, fmx_conn_fd(l->conn),
                        FMX_LOOP_IN | (fmx_conn_wants_write(l->conn) ? FMX_LOOP_OUT : 0));
}

static void on_event(fmx_loop_t *loop, int fd, unsigned events, void *arg)
{
    svclink_t *l = arg;
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    int rc = 0;

    (void)loop;
    (void)fd;
    if ((events & FMX_LOOP_OUT) && (rc = fmx_conn_flush(l->conn)) == -EAGAIN)
        rc = 0;
    if (!rc && (events & FMX_LOOP_IN))
        rc = fmx_conn_read(l->conn, &err);
    while (rc >= 0 && (rc = fmx_conn_next(l->conn, &type, &body, &err)) == 1)
        l->on_msg(l->arg, type, &body);
    if (rc < 0) {
        l->on_closed(l->arg, err.text[0] ? err.text : "the link ended");
        return; /* l may be gone */
    }
    watch(l);
}

svclink_t *svclink_open(fmx_loop_t *loop, int fd, const char *peer, svclink_msg_f on_msg,
                        svclink_closed_f on_closed, void *arg)
{
    svclink_t *l = calloc(1, sizeof(*l));

    if (!l || !(l->conn = fmx_conn_new(fd, peer))) {
        free(l);
        close(fd);
        return NULL;
    }
    *l = (svclink_t){
        .loop = loop, .conn = l->conn, .on_msg = on_msg, .on_closed = on_closed, .arg = arg};
    if (fmx_loop_add_fd(loop, fd, FMX_LOOP_IN, on_event, l)) {
        fmx_conn_free(l->conn);
        free(l);
        return NULL;
    }
    return l;
}

int svclink_fd(const svclink_t *l)
{
    return fmx_conn_fd(l->conn);
}

int svclink_send(svclink_t *l, uint16_t type, const fmx_pack_t *body)
{
    int rc = fmx_conn_send(l->conn, type, body);

    watch(l);
    return rc;
}

int svclink_request(svclink_t *l, uint64_t id, uint32_t kind, uint32_t timeout_ms, const void *req,
                    size_t len)
{
    fmx_pack_t p;
    int rc;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, (uint32_t)(id >> 32));
    fmx_pack_u32(&p, (uint32_t)id);
    fmx_pack_u32(&p, kind);
    fmx_pack_u32(&p, timeout_ms);
    fmx_pack_bytes(&p, req, len);
    rc = p.err ? -ENOMEM : svclink_send(l, SVC_REQ, &p);
    fmx_pack_free(&p);
    return rc;
}

int svclink_reply(svclink_t *l, uint64_t id, int status, const void *blob, size_t len)
{
    fmx_pack_t p;
    int rc;

    fmx_pack_init(&p);
    fmx_pack_u32(&p, (uint32_t)(id >> 32));
    fmx_pack_u32(&p, (uint32_t)id);
    fmx_pack_u32(&p, (uint32_t)status);
    fmx_pack_bytes(&p, blob, blob ? len : 0);
    rc = p.err ? -ENOMEM : svclink_send(l, SVC_REP, &p);
    fmx_pack_free(&p);
    return rc;
}

static uint64_t read_id(fmx_pack_t *b)
{
    uint64_t id = (uint64_t)fmx_unpack_u32(b) << 32;

    return id | fmx_unpack_u32(b);
}

int svclink_read_request(fmx_pack_t *b, svclink_msg_t *m)
{
    m->id = read_id(b);
    m->kind = fmx_unpack_u32(b);
    m->timeout_ms = fmx_unpack_u32(b);
    m->status = 0;
    m->data = fmx_unpack_bytes(b, &m->len);
    return b->err || !m->data ? -EPROTO : 0;
}

int svclink_read_reply(fmx_pack_t *b, svclink_msg_t *m)
{
    m->id = read_id(b);
    m->kind = m->timeout_ms = 0;
    m->status = (int)fmx_unpack_u32(b);
    m->data = fmx_unpack_bytes(b, &m->len);
    if (m->status > 0)
        m->status = -EPROTO;
    return b->err ? -EPROTO : 0;
}

void svclink_close(svclink_t *l)
{
    if (!l)
        return;
    fmx_loop_del_fd(l->loop, fmx_conn_fd(l->conn));
    fmx_conn_free(l->conn);
    free(l);
}
