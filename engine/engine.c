/* The engine object: routes frames from the transport to collectives and direct-modex, keeps
 * frames that arrive before the local member enters, assigns collective ids (signature of the
 * participant set + sequence number), enforces deadlines and runs callbacks from progress. */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames kept for a collective the local member has not entered yet are dropped after this many
 * default timeouts, so a fence nobody here ever enters does not pin memory forever. */
#define STASH_LIFETIMES 2

uint64_t fmx_engine_now(fmx_engine_t *e)
{
    return e->now_ns ? e->now_ns(e->clock_arg) : fmx_now_ns();
}

void fmx_engine_set_error(fmx_engine_t *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
    va_end(ap);
}

const char *fmx_engine_last_error(fmx_engine_t *e)
{
    return e->last_error;
}

uint32_t fmx_engine_self(fmx_engine_t *e)
{
    return e->self;
}

uint32_t fmx_engine_size(fmx_engine_t *e)
{
    return e->members;
}

void fmx_engine_get_counters(fmx_engine_t *e, fmx_engine_counters_t *out)
{
    *out = e->ctr;
}

/* Counts a send of len bytes that the transport answered rc. */
static int sent(fmx_engine_t *e, uint32_t member, size_t len, int rc)
{
    e->ctr.msgs_sent++;
    e->ctr.bytes_sent += len;
    if (rc)
        fmx_log(FMX_LOG_WARN, "engine", "send of %zu bytes to member %u failed: %s", len, member,
                fmx_strerror(rc));
    return rc;
}

int fmx_engine_sendv(fmx_engine_t *e, uint32_t member, const fmx_seg_t *segs, size_t n, size_t len,
                     fmx_send_done_f done, void *arg)
{
    return sent(e, member, len, e->tp->ops->sendv(e->tp, member, segs, n, done, arg));
}

const char *fmx_who(fmx_engine_t *e, uint32_t member)
{
    char *buf = e->who[e->next_who++ % 4];
    const char *name = e->member_name ? e->member_name(e->name_arg, member) : NULL;

    if (name)
        snprintf(buf, sizeof(e->who[0]), "%.100s, member %u", name, member);
    else
        snprintf(buf, sizeof(e->who[0]), "member %u", member);
    return buf;
}

int fmx_engine_send(fmx_engine_t *e, uint32_t member, uint8_t *buf, size_t len)
{
    return sent(e, member, len, fmx_transport_send(e->tp, member, buf, len));
}

static struct fmx_coll *find_coll(fmx_engine_t *e, uint64_t sig, uint32_t seq)
{
    for (struct fmx_coll *c = e->colls; c; c = c->next)
        if (c->sig == sig && c->seq == seq)
            return c;
    return NULL;
}

static struct fmx_sigseq *sigseq_of(fmx_engine_t *e, uint64_t sig, int create)
{
    struct fmx_sigseq *s;

    for (s = e->sigs; s; s = s->next)
        if (s->sig == sig)
            return s;
    if (!create || !(s = calloc(1, sizeof(*s))))
        return NULL;
    s->sig = sig;
    s->next = e->sigs;
    e->sigs = s;
    return s;
}

static int stash_frame(fmx_engine_t *e, uint32_t peer, const fmx_frame_t *f, const void *buf,
                       size_t len)
{
    struct fmx_coll *c = find_coll(e, f->sig, f->seq);
    struct fmx_stash *s;

    if (!c) {
        struct fmx_sigseq *ss = sigseq_of(e, f->sig, 0);

        if (ss && f->seq < ss->next_seq) {
            fmx_debug("engine", "dropped a late frame of finished fence %016llx#%u from %u",
                      (unsigned long long)f->sig, f->seq, peer);
            return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
            return -ENOMEM;
        c->eng = e;
        c->sig = f->sig;
        c->seq = f->seq;
        c->deadline_ns = fmx_engine_now(e) + STASH_LIFETIMES * e->default_timeout_ns;
        c->next = e->colls;
        e->colls = c;
    }
    s = malloc(sizeof(*s) + (e->hold ? 0 : len));
    if (!s)
        return -ENOMEM;
    s->next = NULL;
    s->peer = peer;
    s->len = len;
    s->hold = e->hold;
    if (s->hold)
        s->hold->refs++;
    else
        memcpy(s->buf, buf, len);
    if (c->stash_tail)
        c->stash_tail->next = s;
    else
        c->stash = s;
    c->stash_tail = s;
    c->stashed_bytes += len;
    return 0;
}

struct fmx_hold *fmx_hold_new(uint8_t *buf)
{
    struct fmx_hold *h = malloc(sizeof(*h));

    if (!h) {
        free(buf);
        return NULL;
    }
    h->refs = 1;
    h->buf = buf;
    return h;
}

void fmx_hold_put(struct fmx_hold *h)
{
    if (h && --h->refs == 0) {
        free(h->buf);
        free(h);
    }
}

/* A peer that breaks the protocol ends every collective it takes part in. */
/* Returns how many collectives in flight the loss ended. */
static int fail_with_peer(fmx_engine_t *e, uint32_t peer, int status, const char *why)
{
    struct fmx_coll *c, *next;
    int n = 0;

    for (c = e->colls; c; c = next) {
        next = c->next;
        if (!c->started)
            continue;
        for (uint32_t i = 0; i < c->P; i++) {
            if (c->members[i] == peer) {
                fmx_coll_fail(c, status, "%s", why);
                n++;
                break;
            }
        }
    }
    return n;
}

static void on_recv(void *arg, uint32_t peer, const void *buf, size_t len)
{
    fmx_engine_t *e = arg;
    fmx_error_t err = {{0}};
    fmx_frame_t f;
    struct fmx_coll *c;
    int rc;

    e->ctr.msgs_recv++;
    e->ctr.bytes_recv += len;
    rc = fmx_frame_decode(buf, len, &f, &err);
    if (rc == 0 && f.src != peer) {
        fmx_errprintf(&err, "frame claims to come from member %u", f.src);
        rc = FMX_ERR_PROTO;
    }
    if (rc) {
        char why[256];

        e->ctr.bad_frames++;
        snprintf(why, sizeof(why), "bad frame from %s: %.100s", fmx_who(e, peer), err.text);
        fmx_log(FMX_LOG_WARN, "engine", "%s", why);
        snprintf(e->last_error, sizeof(e->last_error), "%s", why);
        fail_with_peer(e, peer, FMX_ERR_PROTO, why);
        return;
    }
    if (f.type == FMX_FRAME_DMX_REQ || f.type == FMX_FRAME_DMX_REP) {
        fmx_dmodex_on_frame(e, peer, &f);
        return;
    }
    c = find_coll(e, f.sig, f.seq);
    if (c && c->started) {
        fmx_coll_deliver(c, peer, &f);
        return;
    }
    if (stash_frame(e, peer, &f, buf, len))
        fmx_log(FMX_LOG_ERROR, "engine", "out of memory keeping an early frame from member %u",
                peer);
}

/* A frame in a buffer of its own: delivered with e->hold set, so that the blocks and early
 * frames kept from it keep the buffer instead of copies. */
static void on_recv_owned(void *arg, uint32_t peer, void *buf, size_t len)
{
    fmx_engine_t *e = arg;
    struct fmx_hold *h = malloc(sizeof(*h)), *outer = e->hold;

    if (!h) { /* copied out as from any other buffer */
        on_recv(e, peer, buf, len);
        free(buf);
        return;
    }
    h->refs = 1; /* this call's */
    h->buf = buf;
    e->hold = h;
    on_recv(e, peer, buf, len);
    e->hold = outer;
    fmx_hold_put(h);
}

static void on_peer_error(void *arg, uint32_t peer, int status)
{
    fmx_engine_t *e = arg;
    char why[200];

    if (peer >= e->members || e->lost[peer])
        return;
    e->lost[peer] = 1;
    snprintf(why, sizeof(why), "%s lost: %s", fmx_who(e, peer), fmx_strerror(status));
    snprintf(e->last_error, sizeof(e->last_error), "%s", why);
    /* a loss that ends nothing in flight (a daemon gone at the job's end), or that the host
     * expects, is no news; one that does is said here and in the failed requests' errors */
    if (fail_with_peer(e, peer, FMX_ERR_PEER_LOST, why) +
            fmx_dmodex_peer_lost(e, peer, FMX_ERR_PEER_LOST) &&
        !e->expect_losses)
        fmx_log(FMX_LOG_WARN, "engine", "%s", why);
    else
        fmx_debug("engine", "%s", why);
}

void fmx_engine_expect_losses(fmx_engine_t *e, int expect)
{
    if (e)
        e->expect_losses = expect;
}

int fmx_engine_create(const fmx_engine_config_t *cfg, fmx_engine_t **out)
{
    static const fmx_transport_events_t events = {
        .recv = on_recv, .recv_owned = on_recv_owned, .peer_error = on_peer_error};
    fmx_engine_t *e;
    const char *s;
    uint32_t spin_us;

    if (!cfg->transport || cfg->members == 0 || cfg->self >= cfg->members)
        return -EINVAL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->lost = calloc(cfg->members, 1);
    e->host = calloc(cfg->members, sizeof(*e->host));
    if (!e->lost || !e->host) {
        free(e->lost);
        free(e->host);
        free(e);
        return -ENOMEM;
    }
    /* which members share a host, where the transport can tell (else each is alone) */
    for (uint32_t m = 0; m < cfg->members; m++) {
        int64_t h =
            cfg->transport->ops->host_of ? cfg->transport->ops->host_of(cfg->transport, m) : -1;
        e->host[m] = h >= 0 && h <= m ? (uint32_t)h : m;
    }
    e->self = cfg->self;
    e->members = cfg->members;
    e->tp = cfg->transport;
    e->now_ns = cfg->now_ns;
    e->clock_arg = cfg->clock_arg;
    e->member_name = cfg->member_name;
    e->name_arg = cfg->name_arg;
    e->default_timeout_ns = 1000000ull *
        (cfg->default_timeout_ms ? cfg->default_timeout_ms : fmx_env_u64("FMX_TIMEOUT_MS", 60000));
    e->tree_radix = (uint32_t)fmx_env_u64("FMX_TREE_RADIX", 4);
    if (e->tree_radix < 2 || e->tree_radix > 64)
        e->tree_radix = 4;
    e->env_fence_algo = e->env_barrier_algo = FMX_ALGO_AUTO;
    if ((s = getenv("FMX_FENCE_ALGO")) && *s)
        e->env_fence_algo = fmx_algo_parse(s);
    if ((s = getenv("FMX_BARRIER_ALGO")) && *s)
        e->env_barrier_algo = fmx_algo_parse(s);
    if (e->env_fence_algo < 0 || e->env_barrier_algo < 0) {
        fmx_log(FMX_LOG_ERROR, "engine",
                "FMX_FENCE_ALGO/FMX_BARRIER_ALGO must be one of auto, tree, rd, bruck, ring, "
                "dissemination, hier");
        free(e->lost);
        free(e->host);
        free(e);
        return -EINVAL;
    }
    e->dmx_next_id = 1;
    spin_us = e->tp->ops->spin_us ? e->tp->ops->spin_us(e->tp) : 0;
    e->spin_ns = 1000ull * fmx_env_u64("FMX_SPIN_US", spin_us ? spin_us : 50);
    e->gather_min = fmx_env_u64("FMX_GATHER_MIN", 16384);
    fmx_transport_set_events(e->tp, &events, e);
    *out = e;
    return 0;
}

static void run_done(fmx_engine_t *e)
{
    struct fmx_coll *c;

    while ((c = e->done)) {
        e->done = c->next;
        if (!e->done)
            e->done_tail = NULL;
        if (c->started) {
            if (c->status == 0) {
                e->ctr.fences_done[c->algo]++;
                e->ctr.fence_ns[c->algo] += fmx_engine_now(e) - c->start_ns;
            } else {
                e->ctr.fences_failed++;
            }
            fmx_coll_run_callback(c);
        }
        fmx_coll_free(c);
    }
}

void fmx_engine_cancel(fmx_engine_t *e)
{
    if (!e)
        return;
    while (e->colls) {
        struct fmx_coll *c = e->colls;
        if (c->started)
            fmx_coll_finish(c, -ECANCELED, "the engine was shut down");
        else {
            e->colls = c->next;
            fmx_coll_free(c);
        }
    }
    run_done(e);
    fmx_dmodex_cancel(e);
}

void fmx_engine_destroy(fmx_engine_t *e)
{
    struct fmx_sigseq *s;

    if (!e)
        return;
    /* the transport outlives the engine: it must not call back into freed memory */
    fmx_transport_set_events(e->tp, &(fmx_transport_events_t){0}, NULL);
    fmx_engine_cancel(e);
    while ((s = e->sigs)) {
        e->sigs = s->next;
        free(s);
    }
    free(e->lost);
    free(e->host);
    free(e);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* FNV-1a over the key and the sorted member list: equal on every participant. */
static uint64_t signature(const void *key, size_t keylen, const uint32_t *m, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *k = key;

    for (size_t i = 0; i < keylen; i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    for (uint32_t i = 0; i < n; i++)
        for (int b = 0; b < 32; b += 8)
            h = (h ^ ((m[i] >> b) & 0xffu)) * 0x100000001b3ull;
    return (h ^ n) * 0x100000001b3ull;
}

/* Sorted, duplicate-free copy of the participants; checks they are valid and include self. */
static int participants(fmx_engine_t *e, const fmx_fence_args_t *a, uint32_t **out, uint32_t *n)
{
    uint32_t count = a->members ? a->count : e->members, k = 0;
    uint32_t *m = malloc((count ? count : 1) * sizeof(*m));
    int self_in = 0;

    if (!m)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++)
        m[i] = a->members ? a->members[i] : i;
    qsort(m, count, sizeof(*m), cmp_u32);
    for (uint32_t i = 0; i < count; i++) {
        if (m[i] >= e->members) {
            fmx_engine_set_error(e, "fence names member %u of a %u-member group", m[i], e->members);
            free(m);
            return -EINVAL;
        }
        if (k == 0 || m[k - 1] != m[i])
            m[k++] = m[i];
        self_in |= m[i] == e->self;
    }
    if (!self_in) {
        fmx_engine_set_error(e, "fence over %u members does not include this member (%u)", k,
                             e->self);
        free(m);
        return -EINVAL;
    }
    *out = m;
    *n = k;
    return 0;
}

static int setup_coll(fmx_engine_t *e, struct fmx_coll *c, const fmx_fence_args_t *a)
{
    struct fmx_block *own;

    c->algo = fmx_algo_choose(e, c->P, a->collect, a->size_hint, a->algo);
    c->ops = fmx_algo_ops(c->algo);
    c->radix = c->algo == FMX_ALGO_TREE ? e->tree_radix : 0; /* hier: set by fmx_hier_prepare */
    c->collect = a->collect;
    for (c->me = 0; c->members[c->me] != e->self; c->me++)
        ;
    c->blk = calloc(c->P, sizeof(*c->blk));
    c->nflags = c->ops->nflags(c);
    c->got = calloc(c->nflags ? c->nflags : 1, 1);
    if (!c->blk || !c->got || (c->algo == FMX_ALGO_HIER && fmx_hier_prepare(c)))
        return -ENOMEM;
    own = &c->blk[c->me];
    own->len = a->collect ? (uint32_t)a->len : 0;
    own->data = malloc(own->len ? own->len : 1);
    if (!own->data || !(own->hold = fmx_hold_new(own->data)))
        return -ENOMEM;
    if (own->len)
        memcpy(own->data, a->blob, own->len);
    own->have = 1;
    c->nhave = 1;
    return 0;
}

/* Replays frames that arrived early (one kept in its own buffer with e->hold set, as
 * on_recv_owned delivers it); stops when the collective finishes. */
static void replay_stash(struct fmx_coll *c)
{
    struct fmx_hold *outer = c->eng->hold;
    struct fmx_stash *s;

    while (!c->finished && (s = c->stash)) {
        fmx_frame_t f;

        c->stash = s->next;
        if (!c->stash)
            c->stash_tail = NULL;
        c->eng->hold = s->hold;
        if (fmx_frame_decode(s->hold ? s->hold->buf : s->buf, s->len, &f, NULL) == 0)
            fmx_coll_deliver(c, s->peer, &f);
        c->eng->hold = outer;
        fmx_hold_put(s->hold);
        free(s);
    }
}

int fmx_fence_start(fmx_engine_t *e, const fmx_fence_args_t *a, fmx_fence_done_f cb, void *arg)
{
    struct fmx_coll *c;
    struct fmx_sigseq *ss;
    uint32_t *members, n;
    uint64_t sig;
    int rc;

    if (!cb || (a->collect && a->len > UINT32_MAX) || a->algo < 0 || a->algo >= FMX_ALGO_COUNT)
        return -EINVAL;
    if ((rc = participants(e, a, &members, &n)))
        return rc;
    sig = signature(a->key, a->keylen, members, n);
    ss = sigseq_of(e, sig, 1);
    if (!ss) {
        free(members);
        return -ENOMEM;
    }
    c = find_coll(e, sig, ss->next_seq);
    if (!c) {
        if (!(c = calloc(1, sizeof(*c)))) {
            free(members);
            return -ENOMEM;
        }
        c->eng = e;
        c->sig = sig;
        c->seq = ss->next_seq;
        c->next = e->colls;
        e->colls = c;
    }
    ss->next_seq++;
    c->members = members;
    c->P = n;
    c->cb = cb;
    c->cb_arg = arg;
    c->started = 1;
    c->start_ns = fmx_engine_now(e);
    e->busy_ns = c->start_ns;
    c->deadline_ns =
        c->start_ns + (a->timeout_ms ? a->timeout_ms * 1000000ull : e->default_timeout_ns);
    if ((rc = setup_coll(e, c, a))) {
        fmx_coll_finish(c, rc, "out of memory starting a fence over %u members", n);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (e->lost[members[i]]) {
            fmx_coll_finish(c, FMX_ERR_PEER_LOST, "%s was lost before this fence",
                            fmx_who(e, members[i]));
            return 0;
        }
    }
    fmx_debug("engine", "fence %016llx#%u: %s over %u members started", (unsigned long long)sig,
              c->seq, c->ops->name, n);
    if ((rc = c->ops->start(c)))
        fmx_coll_fail(c, rc, "starting %s failed: %s", c->ops->name, fmx_strerror(rc));
    replay_stash(c);
    return 0;
}

static void describe_wait(struct fmx_coll *c, char *buf, size_t size)
{
    int64_t pos = c->ops->waiting_for(c);

    if (pos >= 0)
        snprintf(buf, size, "; still waiting for %s", fmx_who(c->eng, c->members[pos]));
    else
        buf[0] = '\0';
}

static void check_deadlines(fmx_engine_t *e, uint64_t now)
{
    struct fmx_coll *c, *next, **pp = &e->colls;

    for (c = e->colls; c; c = next) {
        next = c->next;
        if (now < c->deadline_ns) {
            pp = &c->next;
            continue;
        }
        if (!c->started) { /* frames nobody here claimed */
            fmx_debug("engine", "dropping %zu stashed bytes of fence %016llx#%u", c->stashed_bytes,
                      (unsigned long long)c->sig, c->seq);
            *pp = next;
            fmx_coll_free(c);
            continue;
        }
        char wait[160];
        describe_wait(c, wait, sizeof(wait));
        fmx_coll_fail(c, -ETIMEDOUT,
                      "%s fence over %u members timed out after %llu ms at step %u%s", c->ops->name,
                      c->P, (unsigned long long)((now - c->start_ns) / 1000000u), c->step, wait);
    }
}

int fmx_engine_progress(fmx_engine_t *e)
{
    int events = fmx_transport_progress(e->tp);
    uint64_t now = fmx_engine_now(e);

    if (events < 0)
        events = 0;
    if (events)
        e->busy_ns = now;
    check_deadlines(e, now);
    fmx_dmodex_check(e, now);
    if (e->done)
        events++;
    run_done(e);
    if (e->dmx_due) {
        events++;
        fmx_dmodex_run_callbacks(e);
    }
    return events;
}

int fmx_engine_timeout_ms(fmx_engine_t *e)
{
    uint64_t now = fmx_engine_now(e);
    uint64_t next = fmx_dmodex_check(e, now);

    if (e->done || e->dmx_due)
        return 0;
    for (struct fmx_coll *c = e->colls; c; c = c->next)
        if (c->deadline_ns < next)
            next = c->deadline_ns;
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)((next - now + 999999u) / 1000000u);
}

uint64_t fmx_engine_default_timeout_ms(const fmx_engine_t *e)
{
    return e->default_timeout_ns / 1000000u;
}

int fmx_engine_spin(fmx_engine_t *e)
{
    int active = e->dmx != NULL;

    if (!e->spin_ns)
        return 0;
    for (struct fmx_coll *c = e->colls; c && !active; c = c->next)
        active = c->started;
    return active && fmx_engine_now(e) - e->busy_ns < e->spin_ns;
}

int fmx_engine_wait(fmx_engine_t *e, int max_ms)
{
    int t = fmx_engine_timeout_ms(e);

    if (fmx_engine_spin(e)) {
        sched_yield(); /* a peer on this core may be the one to answer */
        return 0;
    }
    if (t < 0 || (max_ms >= 0 && max_ms < t))
        t = max_ms;
    return fmx_transport_wait(e->tp, t);
}

int fmx_engine_fd(fmx_engine_t *e)
{
    return e->tp->ops->wait_fd(e->tp);
}

int fmx_engine_prepare_wait(fmx_engine_t *e)
{
    if (e->done || e->dmx_due)
        return -EAGAIN;
    return e->tp->ops->prepare_wait(e->tp);
}
