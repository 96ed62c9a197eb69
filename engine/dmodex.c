/* Direct modex: a member asks another for the blob under a key; the asked member's handler
 * answers whenever it can. Requests to the same member for the same key share one message and
 * one reply. Every request has a deadline; a lost member fails its requests. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fmx_dmx_waiter {
    struct fmx_dmx_waiter *next;
    fmx_dmodex_done_f cb;
    void *arg;
    uint64_t deadline_ns;
};

struct fmx_dmx_pending {
    struct fmx_dmx_pending *next;
    uint32_t id, member;
    int done, status;
    uint8_t *reply;
    size_t reply_len;
    struct fmx_dmx_waiter *waiters;
    size_t keylen;
    uint8_t key[];
};

struct fmx_dmodex_req {
    uint32_t from, id;
};

int fmx_dmodex_add_handler(fmx_engine_t *e, const char *prefix, fmx_dmodex_handler_f handler,
                           void *arg)
{
    int free_slot = -1;

    if (!handler || strlen(prefix) >= sizeof(e->dmx_handlers[0].prefix))
        return -EINVAL;
    for (int i = 0; i < FMX_ENGINE_MAX_FRONT_ENDS; i++) {
        if (e->dmx_handlers[i].fn && !strcmp(e->dmx_handlers[i].prefix, prefix))
            return -EEXIST;
        if (!e->dmx_handlers[i].fn && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return -ENOSPC;
    snprintf(e->dmx_handlers[free_slot].prefix, sizeof(e->dmx_handlers[0].prefix), "%s", prefix);
    e->dmx_handlers[free_slot].fn = handler;
    e->dmx_handlers[free_slot].arg = arg;
    return 0;
}

void fmx_dmodex_remove_handler(fmx_engine_t *e, const char *prefix)
{
    for (int i = 0; i < FMX_ENGINE_MAX_FRONT_ENDS; i++)
        if (e->dmx_handlers[i].fn && !strcmp(e->dmx_handlers[i].prefix, prefix))
            e->dmx_handlers[i].fn = NULL;
}

static uint8_t *dmx_frame(fmx_engine_t *e, uint8_t type, uint32_t id, size_t payload)
{
    uint8_t *buf = malloc(FMX_FRAME_HEADER + payload);
    fmx_frame_t f = {0};

    if (!buf)
        return NULL;
    f.type = type;
    f.src = e->self;
    f.aux = id;
    f.payload_len = (uint32_t)payload;
    fmx_frame_put_header(buf, &f);
    return buf;
}

int fmx_dmodex_respond(fmx_engine_t *e, fmx_dmodex_req_t *req, int status, const void *blob,
                       size_t len)
{
    uint8_t *buf;
    int rc;

    if (!req)
        return -EINVAL;
    if (status)
        len = 0;
    if (len > FMX_FRAME_MAX_PAYLOAD - 4) {
        len = 0;
        status = -EMSGSIZE;
    }
    buf = dmx_frame(e, FMX_FRAME_DMX_REP, req->id, 4 + len);
    if (!buf) {
        free(req);
        return -ENOMEM;
    }
    fmx_put_u32(buf + FMX_FRAME_HEADER, (uint32_t)status);
    if (len)
        memcpy(buf + FMX_FRAME_HEADER + 4, blob, len);
    rc = fmx_engine_send(e, req->from, buf, FMX_FRAME_HEADER + 4 + len);
    e->ctr.dmodex_served++;
    free(req);
    return rc;
}

static struct fmx_dmx_pending *find_key(fmx_engine_t *e, uint32_t member, const void *key,
                                        size_t keylen)
{
    for (struct fmx_dmx_pending *p = e->dmx; p; p = p->next)
        if (!p->done && p->member == member && p->keylen == keylen &&
            memcmp(p->key, key, keylen) == 0)
            return p;
    return NULL;
}

static struct fmx_dmx_pending *new_pending(fmx_engine_t *e, uint32_t member, const void *key,
                                           size_t keylen)
{
    struct fmx_dmx_pending *p = calloc(1, sizeof(*p) + keylen);
    uint8_t *buf;

    if (!p)
        return NULL;
    p->id = e->dmx_next_id++;
    p->member = member;
    p->keylen = keylen;
    memcpy(p->key, key, keylen);
    p->next = e->dmx;
    e->dmx = p;
    if (e->lost[member]) {
        p->done = 1;
        p->status = FMX_ERR_PEER_LOST;
        e->dmx_due = 1;
        return p;
    }
    buf = dmx_frame(e, FMX_FRAME_DMX_REQ, p->id, keylen);
    if (!buf ||
        (memcpy(buf + FMX_FRAME_HEADER, key, keylen),
         fmx_engine_send(e, member, buf, FMX_FRAME_HEADER + keylen))) {
        p->done = 1;
        p->status = buf ? FMX_ERR_PEER_LOST : -ENOMEM;
        e->dmx_due = 1;
    }
    e->ctr.dmodex_sent++;
    return p;
}

int fmx_dmodex_request(fmx_engine_t *e, uint32_t member, const void *key, size_t keylen,
                       uint64_t timeout_ms, fmx_dmodex_done_f cb, void *arg)
{
    struct fmx_dmx_pending *p;
    struct fmx_dmx_waiter *w;

    if (!cb || member >= e->members || keylen > FMX_FRAME_MAX_PAYLOAD)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    p = find_key(e, member, key, keylen);
    if (p)
        e->ctr.dmodex_coalesced++;
    else if (!(p = new_pending(e, member, key, keylen))) {
        free(w);
        return -ENOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    w->deadline_ns =
        fmx_engine_now(e) + (timeout_ms ? timeout_ms * 1000000ull : e->default_timeout_ns);
    w->next = p->waiters;
    p->waiters = w;
    return 0;
}

static void on_request(fmx_engine_t *e, uint32_t peer, const fmx_frame_t *f)
{
    fmx_dmodex_req_t *req = malloc(sizeof(*req));

    if (!req)
        return;
    int best = -1;
    size_t best_len = 0;

    req->from = peer;
    req->id = f->aux;
    for (int i = 0; i < FMX_ENGINE_MAX_FRONT_ENDS; i++) { /* the longest prefix that matches */
        size_t n = strlen(e->dmx_handlers[i].prefix);

        if (e->dmx_handlers[i].fn && f->payload_len >= n &&
            !memcmp(f->payload, e->dmx_handlers[i].prefix, n) && (best < 0 || n > best_len)) {
            best = i;
            best_len = n;
        }
    }
    if (best < 0) {
        fmx_dmodex_respond(e, req, -ENOSYS, NULL, 0);
        return;
    }
    e->dmx_handlers[best].fn(e->dmx_handlers[best].arg, peer, f->payload, f->payload_len, req);
}

static void on_reply(fmx_engine_t *e, uint32_t peer, const fmx_frame_t *f)
{
    struct fmx_dmx_pending *p;

    for (p = e->dmx; p; p = p->next)
        if (p->id == f->aux && !p->done)
            break;
    if (!p) {
        fmx_debug("engine", "dropped a direct modex reply %u from member %u nobody waits for",
                  f->aux, peer);
        return;
    }
    if (p->member != peer) {
        fmx_engine_set_error(e, "member %u answered direct modex request %u sent to member %u",
                             peer, f->aux, p->member);
        fmx_log(FMX_LOG_WARN, "engine", "%s", e->last_error);
        e->ctr.bad_frames++;
        return;
    }
    p->status = (int32_t)fmx_get_u32(f->payload);
    p->reply_len = f->payload_len - 4;
    p->reply = malloc(p->reply_len ? p->reply_len : 1);
    if (!p->reply)
        p->status = -ENOMEM;
    else if (p->reply_len)
        memcpy(p->reply, f->payload + 4, p->reply_len);
    p->done = 1;
    e->dmx_due = 1;
}

void fmx_dmodex_on_frame(fmx_engine_t *e, uint32_t peer, const fmx_frame_t *f)
{
    if (f->type == FMX_FRAME_DMX_REQ)
        on_request(e, peer, f);
    else
        on_reply(e, peer, f);
}

int fmx_dmodex_peer_lost(fmx_engine_t *e, uint32_t member, int status)
{
    int n = 0;

    for (struct fmx_dmx_pending *p = e->dmx; p; p = p->next) {
        if (!p->done && p->member == member) {
            p->done = 1;
            p->status = status;
            e->dmx_due = 1;
            n++;
        }
    }
    return n;
}

uint64_t fmx_dmodex_check(fmx_engine_t *e, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (struct fmx_dmx_pending *p = e->dmx; p; p = p->next) {
        for (struct fmx_dmx_waiter *w = p->waiters; w && !p->done; w = w->next) {
            if (w->deadline_ns <= now)
                e->dmx_due = 1;
            else if (w->deadline_ns < next)
                next = w->deadline_ns;
        }
    }
    return next;
}

/* Calls back finished requests and waiters whose deadline passed; frees what is done. */
void fmx_dmodex_run_callbacks(fmx_engine_t *e)
{
    uint64_t now = fmx_engine_now(e);
    struct fmx_dmx_pending **pp = &e->dmx, *p;

    e->dmx_due = 0;
    while ((p = *pp)) {
        struct fmx_dmx_waiter **wp = &p->waiters, *w;

        while ((w = *wp)) {
            if (!p->done && w->deadline_ns > now) {
                wp = &w->next;
                continue;
            }
            *wp = w->next;
            if (p->done)
                w->cb(w->arg, p->status, p->reply, p->status ? 0 : p->reply_len);
            else
                w->cb(w->arg, -ETIMEDOUT, NULL, 0);
            free(w);
        }
        if (p->waiters) {
            pp = &p->next;
            continue;
        }
        *pp = p->next; /* a late reply to a request nobody waits for is dropped */
        free(p->reply);
        free(p);
    }
}

void fmx_dmodex_cancel(fmx_engine_t *e)
{
    for (struct fmx_dmx_pending *p = e->dmx; p; p = p->next) {
        if (!p->done) {
            p->done = 1;
            p->status = -ECANCELED;
        }
    }
    fmx_dmodex_run_callbacks(e);
}
