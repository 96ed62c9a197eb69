/* In-process transport: every member's endpoint lives in one fabric object and messages are
 * queued per receiver. Deterministic for a given seed; injects drops, delays, reordering, dead
 * members and raw frames for tests. Not thread-safe, no wait fd: tests drive it by progress(). */
#include "fmx_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mem_msg {
    struct mem_msg *next;
    uint32_t from;
    unsigned hold; /* progress calls left before delivery */
    size_t len;
    void *buf;
};

struct mem_endpoint {
    fmx_transport_t base;
    struct fmx_mem_fabric *fabric;
    uint32_t self;
    int dead;
    struct mem_msg *head, *tail;
    size_t queued;
    uint32_t *notify; /* peers whose peer_error is owed to this endpoint */
    size_t nnotify;
    struct mem_done *dones; /* gathered sends whose done() the next progress runs */
};

struct mem_done {
    struct mem_done *next;
    fmx_send_done_f fn;
    void *arg;
};

struct fmx_mem_fabric {
    uint32_t members;
    uint64_t rng;
    unsigned drop_pct, delay;
    int reorder;
    size_t gathered;
    uint32_t per_host; /* fmx_mem_set_hosts(); 0: unknown */
    struct mem_endpoint *eps;
};

static uint64_t next_random(struct fmx_mem_fabric *f)
{
    /* xorshift64*: small, and the same sequence for the same seed everywhere */
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 2685821657736338717ull;
}

static struct mem_endpoint *ep_of(fmx_transport_t *t)
{
    return (struct mem_endpoint *)t;
}

static int mem_get_addr(fmx_transport_t *t, void *buf, size_t *len)
{
    uint32_t self = ep_of(t)->self;

    if (*len < sizeof(self))
        return -ENOBUFS;
    memcpy(buf, &self, sizeof(self));
    *len = sizeof(self);
    return 0;
}

static int mem_add_peers(fmx_transport_t *t, uint32_t count, const void *const *addrs,
                         const size_t *lens)
{
    (void)addrs;
    (void)lens;
    return count <= ep_of(t)->fabric->members ? 0 : -EINVAL;
}

static void enqueue(struct mem_endpoint *to, uint32_t from, void *buf, size_t len, unsigned hold)
{
    struct mem_msg *m = calloc(1, sizeof(*m));

    if (!m) {
        free(buf);
        return;
    }
    m->from = from;
    m->buf = buf;
    m->len = len;
    m->hold = hold;
    if (to->tail)
        to->tail->next = m;
    else
        to->head = m;
    to->tail = m;
    to->queued++;
}

static int owe_notify(struct mem_endpoint *ep, uint32_t peer)
{
    uint32_t *n = realloc(ep->notify, (ep->nnotify + 1) * sizeof(*n));

    if (!n)
        return -ENOMEM;
    ep->notify = n;
    ep->notify[ep->nnotify++] = peer;
    return 0;
}

static int mem_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    struct mem_endpoint *ep = ep_of(t);
    struct fmx_mem_fabric *f = ep->fabric;
    struct mem_endpoint *to;

    if (peer >= f->members) {
        free(buf);
        return -EINVAL;
    }
    to = &f->eps[peer];
    if (ep->dead || (f->drop_pct && next_random(f) % 100 < f->drop_pct)) {
        free(buf);
        return 0;
    }
    if (to->dead) {
        free(buf);
        return to->dead > 1 ? owe_notify(ep, peer) : 0;
    }
    enqueue(to, ep->self, buf, len, f->delay ? (unsigned)(next_random(f) % (f->delay + 1)) : 0);
    return 0;
}

/* Gathers the segments into one message; done() runs from the sender's next progress (or the
 * fabric's destruction), as a real backend's completion comes later than the send. */
static int mem_sendv(fmx_transport_t *t, uint32_t peer, const fmx_seg_t *segs, size_t n,
                     fmx_send_done_f done, void *arg)
{
    struct mem_endpoint *ep = ep_of(t);
    struct mem_done *d = malloc(sizeof(*d));
    size_t len = fmx_segs_len(segs, n);
    uint8_t *buf = malloc(len ? len : 1);

    if (!d || !buf) {
        free(d);
        free(buf);
        done(arg);
        return -ENOMEM;
    }
    fmx_segs_copy(segs, n, 0, len, buf);
    d->fn = done;
    d->arg = arg;
    d->next = ep->dones;
    ep->dones = d;
    ep->fabric->gathered++;
    return mem_send(t, peer, buf, len);
}

static int run_dones(struct mem_endpoint *ep)
{
    struct mem_done *d;
    int n = 0;

    while ((d = ep->dones)) {
        ep->dones = d->next;
        d->fn(d->arg);
        free(d);
        n++;
    }
    return n;
}

/* Takes the next deliverable message: the first one whose hold has run out, or a random one. */
static struct mem_msg *take_message(struct mem_endpoint *ep)
{
    struct fmx_mem_fabric *f = ep->fabric;
    struct mem_msg **pp = &ep->head, *prev = NULL, *m;
    size_t skip = f->reorder && ep->queued ? (size_t)(next_random(f) % ep->queued) : 0;

    for (m = ep->head; m; prev = m, pp = &m->next, m = m->next) {
        if (m->hold || skip) {
            if (skip)
                skip--;
            continue;
        }
        *pp = m->next;
        if (ep->tail == m)
            ep->tail = prev;
        ep->queued--;
        return m;
    }
    return NULL;
}

static int mem_progress(fmx_transport_t *t)
{
    struct mem_endpoint *ep = ep_of(t);
    struct mem_msg *m;
    size_t budget = ep->queued;
    int events = run_dones(ep);

    while (ep->nnotify) {
        uint32_t peer = ep->notify[--ep->nnotify];
        if (t->events.peer_error)
            t->events.peer_error(t->events_arg, peer, -ECONNRESET);
        events++;
    }
    for (m = ep->head; m; m = m->next)
        if (m->hold)
            m->hold--;
    /* deliver at most what was queued on entry, so a reply sent from a handler waits a turn */
    while (budget-- && (m = take_message(ep))) {
        if (!ep->dead && t->events.recv_owned) {
            t->events.recv_owned(t->events_arg, m->from, m->buf, m->len);
            m->buf = NULL;
        } else if (!ep->dead && t->events.recv) {
            t->events.recv(t->events_arg, m->from, m->buf, m->len);
        }
        free(m->buf);
        free(m);
        events++;
    }
    return events;
}

static int mem_wait_fd(fmx_transport_t *t)
{
    (void)t;
    return -1;
}

static int mem_prepare_wait(fmx_transport_t *t)
{
    return ep_of(t)->queued || ep_of(t)->nnotify || ep_of(t)->dones ? -EAGAIN : 0;
}

static size_t mem_max_msg_size(fmx_transport_t *t)
{
    (void)t;
    return SIZE_MAX;
}

static int64_t mem_host_of(fmx_transport_t *t, uint32_t peer)
{
    const struct fmx_mem_fabric *f = ((struct mem_endpoint *)t)->fabric;

    if (!f->per_host || peer >= f->members)
        return -1;
    return peer - peer % f->per_host;
}

void fmx_mem_set_hosts(fmx_mem_fabric_t *f, uint32_t per_host)
{
    f->per_host = per_host;
}

static void mem_close(fmx_transport_t *t)
{
    (void)t; /* endpoints belong to the fabric */
}

static const fmx_transport_ops_t mem_ops = {
    .name = "mem",
    .get_addr = mem_get_addr,
    .add_peers = mem_add_peers,
    .send = mem_send,
    .sendv = mem_sendv,
    .progress = mem_progress,
    .wait_fd = mem_wait_fd,
    .prepare_wait = mem_prepare_wait,
    .max_msg_size = mem_max_msg_size,
    .host_of = mem_host_of,
    .close = mem_close,
};

int fmx_mem_fabric_create(uint32_t members, uint64_t seed, fmx_mem_fabric_t **out)
{
    struct fmx_mem_fabric *f;

    if (members == 0)
        return -EINVAL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->eps = calloc(members, sizeof(*f->eps));
    if (!f->eps) {
        free(f);
        return -ENOMEM;
    }
    f->members = members;
    f->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < members; i++) {
        f->eps[i].base.ops = &mem_ops;
        f->eps[i].fabric = f;
        f->eps[i].self = i;
    }
    *out = f;
    return 0;
}

static void drain(struct mem_endpoint *ep)
{
    struct mem_msg *m;

    while ((m = ep->head)) {
        ep->head = m->next;
        free(m->buf);
        free(m);
    }
    ep->tail = NULL;
    ep->queued = 0;
}

void fmx_mem_fabric_destroy(fmx_mem_fabric_t *f)
{
    if (!f)
        return;
    for (uint32_t i = 0; i < f->members; i++) {
        drain(&f->eps[i]);
        run_dones(&f->eps[i]);
        free(f->eps[i].notify);
    }
    free(f->eps);
    free(f);
}

fmx_transport_t *fmx_mem_endpoint(fmx_mem_fabric_t *f, uint32_t member)
{
    return member < f->members ? &f->eps[member].base : NULL;
}

void fmx_mem_set_faults(fmx_mem_fabric_t *f, unsigned drop_pct, unsigned delay, int reorder)
{
    f->drop_pct = drop_pct;
    f->delay = delay;
    f->reorder = reorder;
}

void fmx_mem_kill(fmx_mem_fabric_t *f, uint32_t member, int notify)
{
    if (member >= f->members)
        return;
    f->eps[member].dead = notify ? 2 : 1;
    drain(&f->eps[member]);
}

int fmx_mem_inject(fmx_mem_fabric_t *f, uint32_t from, uint32_t to, const void *buf, size_t len)
{
    void *copy;

    if (from >= f->members || to >= f->members)
        return -EINVAL;
    copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, buf, len);
    enqueue(&f->eps[to], from, copy, len, 0);
    return 0;
}

size_t fmx_mem_gathered(fmx_mem_fabric_t *f)
{
    return f->gathered;
}

size_t fmx_mem_pending(fmx_mem_fabric_t *f)
{
    size_t n = 0;

    for (uint32_t i = 0; i < f->members; i++)
        n += f->eps[i].queued;
    return n;
}
