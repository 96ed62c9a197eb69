/* Publish, lookup and unpublish (PMIx_Publish, PMIx_Lookup, PMIx_Unpublish) on the engine.
 *
 * Where the data lives: every key has a home, the daemon numbered hash(key) mod the job's
 * daemons, which keeps what is published under that key, by any rank, until it is unpublished,
 * read once (PMIX_PERSIST_FIRST_READ) or the job ends. A lookup asks the homes of its keys, each
 * home once; with PMIX_WAIT it is held at each home until every key it asked there is published
 * or its time (PMIX_TIMEOUT, else the engine's default) runs out. What is published with range
 * PMIX_RANGE_LOCAL or PMIX_RANGE_PROC_LOCAL stays at the publisher's own daemon, and lookups
 * of those ranges ask only their own. Values travel as libpmix packs them (PMIx_Data_pack): a
 * home never reads them.
 *
 * Between daemons a request is an engine direct-modex request under PUB_PREFIX: the prefix,
 * the operation, a sequence number (two equal requests in flight must not be merged into one),
 * then its fields (fmx_pack.h). A home that is this daemon is served in place. */
#include "glue_internal.h"

#include "fmx_loop.h"
#include "fmx_pack.h"

#include <stdlib.h>
#include <string.h>

#define PUB_PREFIX "pmix+pub:"
#define WAIT_GRACE_MS 2000 /* a requester waits this much longer than the home holds it */

enum { OP_PUBLISH = 'P', OP_LOOKUP = 'L', OP_UNPUBLISH = 'U' };

struct pub_record {
    struct pub_record *next;
    char *key;
    pmix_proc_t owner;
    uint32_t range, persist;
    uint8_t *val; /* as PMIx_Data_pack wrote it */
    size_t vlen;
};

/* ---- the requester's side: one call of a rank, spread over the homes of its keys ---- */

struct call {
    struct req base;
    fmx_glue_t *g;
    int op;
    pmix_proc_t proc;
    uint32_t range, persist, wait;
    uint64_t timeout_ms;
    char **keys; /* NULL-terminated */
    size_t nkeys;
    uint8_t **vals; /* publish: packed values, parallel to keys */
    size_t *vlens;
    uint32_t outstanding; /* homes not answered yet, +1 while requests are being sent */
    int status; /* 0, or the first error a home answered */
    pmix_pdata_t *found; /* lookup: what the homes answered */
    size_t nfound;
    pmix_op_cbfunc_t opcb;
    pmix_lookup_cbfunc_t lkcb;
    void *cbdata;
};

/* Where a home sends its answer: the engine request, or this daemon's own call. */
struct to {
    fmx_dmodex_req_t *token;
    struct call *local;
};

struct pub_waiter {
    struct pub_waiter *next;
    fmx_glue_t *g;
    pmix_proc_t who;
    uint32_t range;
    char **keys;
    uint32_t nkeys;
    uint64_t timer;
    struct to to;
};

static void call_free(struct call *c)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        free(c->keys[i]);
        free(c->vals ? c->vals[i] : NULL);
    }
    free(c->keys);
    free(c->vals);
    free(c->vlens);
    if (c->found)
        PMIX_PDATA_FREE(c->found, c->nfound);
    free(c);
}

static void call_finish(struct call *c, pmix_status_t st)
{
    if (c->lkcb)
        c->lkcb(st, st == PMIX_SUCCESS ? c->found : NULL, st == PMIX_SUCCESS ? c->nfound : 0,
                c->cbdata);
    else if (c->opcb)
        c->opcb(st, c->cbdata);
    call_free(c);
}

static uint32_t home_of(const fmx_glue_t *g, const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % g->job.map->nnodes;
}

static int stays_home(uint32_t range)
{
    return range == PMIX_RANGE_LOCAL || range == PMIX_RANGE_PROC_LOCAL;
}

static void pack_proc(fmx_pack_t *p, const pmix_proc_t *proc)
{
    char ns[PMIX_MAX_NSLEN + 1];

    memcpy(ns, proc->nspace, PMIX_MAX_NSLEN);
    ns[PMIX_MAX_NSLEN] = '\0';
    fmx_pack_str(p, ns);
    fmx_pack_u32(p, proc->rank);
}

static int unpack_proc(fmx_pack_t *p, pmix_proc_t *proc)
{
    size_t n;
    const char *ns = fmx_unpack_bytes(p, &n);

    if (!ns || n > PMIX_MAX_NSLEN || memchr(ns, '\0', n))
        return -EINVAL;
    memset(proc, 0, sizeof(*proc));
    memcpy(proc->nspace, ns, n);
    proc->rank = fmx_unpack_u32(p);
    return p->err ? -EINVAL : 0;
}

/* A home's answer to a lookup: key, owner, value, for each record found. */
static void take_found(struct call *c, const void *blob, size_t len)
{
    fmx_pack_t p;
    uint32_t n;

    fmx_unpack_init(&p, blob, len);
    n = fmx_unpack_u32(&p);
    for (uint32_t i = 0; i < n && !p.err; i++) {
        char *key = fmx_unpack_str(&p);
        pmix_proc_t owner;
        size_t vlen = 0;
        const void *v = unpack_proc(&p, &owner) ? NULL : fmx_unpack_bytes(&p, &vlen);
        pmix_data_buffer_t buf;
        pmix_byte_object_t bo;
        pmix_pdata_t *grown;
        int32_t one = 1;

        if (!key || !v || strlen(key) > PMIX_MAX_KEYLEN ||
            !(grown = realloc(c->found, (c->nfound + 1) * sizeof(*grown)))) {
            free(key);
            p.err = 1;
            break;
        }
        c->found = grown;
        PMIX_PDATA_CONSTRUCT(&c->found[c->nfound]);
        c->found[c->nfound].proc = owner;
        PMIX_LOAD_KEY(c->found[c->nfound].key, key);
        free(key);
        PMIX_DATA_BUFFER_CONSTRUCT(&buf);
        bo.bytes = malloc(vlen ? vlen : 1);
        bo.size = vlen;
        if (!bo.bytes) {
            p.err = 1;
            break;
        }
        memcpy(bo.bytes, v, vlen);
        PMIx_Data_load(&buf, &bo);
        if (PMIx_Data_unpack(NULL, &buf, &c->found[c->nfound].value, &one, PMIX_VALUE) !=
            PMIX_SUCCESS)
            p.err = 1;
        PMIX_DATA_BUFFER_DESTRUCT(&buf);
        c->nfound++;
    }
    if (p.err && !c->status) {
        fmx_log(FMX_LOG_WARN, "glue", "lookup: an answer that does not unpack (%u records)", n);
        c->status = -EPROTO;
    }
}

/* One answer fewer to wait for: the call ends with the last. */
static void release(struct call *c)
{
    if (--c->outstanding)
        return;
    if (c->status)
        call_finish(c, fmx_glue_status(c->status));
    else if (c->op == OP_LOOKUP && (!c->nfound || (c->wait && c->nfound < c->nkeys)))
        call_finish(c, c->wait ? PMIX_ERR_TIMEOUT : PMIX_ERR_NOT_FOUND);
    else
        call_finish(c, PMIX_SUCCESS);
}

/* A home answered (or could not be asked). */
static void home_answered(struct call *c, int status, const void *blob, size_t len)
{
    if (status && !c->status && !(status == -ENOENT && c->op == OP_LOOKUP))
        c->status = status;
    if (!status && c->op == OP_LOOKUP)
        take_found(c, blob, len);
    release(c);
}

static void remote_answered(void *arg, int status, const void *blob, size_t len)
{
    home_answered(arg, status, blob, len);
}

static void serve(fmx_glue_t *g, uint32_t from, const uint8_t *req, size_t len, struct to to);

/* Sends the part of c that belongs to home node (keys[i] with at[i] == node). */
static void ask_home(struct call *c, uint32_t node, const uint32_t *at)
{
    fmx_glue_t *g = c->g;
    uint64_t seq = ++g->pub_seq;
    fmx_pack_t p;
    uint32_t n = 0;
    uint8_t op = (uint8_t)c->op;
    int rc;

    fmx_pack_init(&p);
    fmx_pack_raw(&p, PUB_PREFIX, strlen(PUB_PREFIX));
    fmx_pack_raw(&p, &op, 1);
    fmx_pack_u32(&p, g->job.self);
    fmx_pack_u32(&p, (uint32_t)(seq >> 32));
    fmx_pack_u32(&p, (uint32_t)seq);
    pack_proc(&p, &c->proc);
    fmx_pack_u32(&p, c->range);
    fmx_pack_u32(&p, c->op == OP_PUBLISH ? c->persist : c->wait);
    fmx_pack_u32(&p, (uint32_t)c->timeout_ms);
    for (size_t i = 0; i < c->nkeys; i++)
        n += at[i] == node;
    fmx_pack_u32(&p, n);
    for (size_t i = 0; i < c->nkeys; i++) {
        if (at[i] != node)
            continue;
        fmx_pack_str(&p, c->keys[i]);
        if (c->op == OP_PUBLISH)
            fmx_pack_bytes(&p, c->vals[i], c->vlens[i]);
    }
    c->outstanding++;
    if (p.err) {
        fmx_pack_free(&p);
        home_answered(c, -ENOMEM, NULL, 0);
        return;
    }
    if (node == g->job.self) {
        serve(g, node, p.data, p.len, (struct to){.local = c});
    } else {
        uint64_t t = c->wait ? c->timeout_ms + WAIT_GRACE_MS : c->timeout_ms;

        fmx_debug("glue", "%s: %u key(s) at node %s",
                  c->op == OP_PUBLISH      ? "publish"
                      : c->op == OP_LOOKUP ? "lookup"
                                           : "unpublish",
                  n, g->job.map->nodes[node].name);
        if ((rc = fmx_dmodex_request(g->eng, node, p.data, p.len, t, remote_answered, c)))
            home_answered(c, rc, NULL, 0);
    }
    fmx_pack_free(&p);
}

static void run_call(fmx_glue_t *g, struct req *r)
{
    struct call *c = (struct call *)r;
    uint32_t nnodes = g->job.map->nnodes;
    uint32_t *at = calloc(c->nkeys ? c->nkeys : 1, sizeof(*at));
    uint8_t *asked = calloc(nnodes, 1);

    c->g = g;
    fmx_debug("glue", "%s by %s:%u: %zu key(s), first %s%s",
              c->op == OP_PUBLISH      ? "publish"
                  : c->op == OP_LOOKUP ? "lookup"
                                       : "unpublish",
              c->proc.nspace, c->proc.rank, c->nkeys, c->nkeys ? c->keys[0] : "-",
              c->wait ? " (waits)" : "");
    if (!at || !asked) {
        free(at);
        free(asked);
        call_finish(c, PMIX_ERR_NOMEM);
        return;
    }
    if (c->wait && !c->timeout_ms)
        c->timeout_ms = fmx_env_u64("FMX_TIMEOUT_MS", 60000); /* the engine's default */
    for (size_t i = 0; i < c->nkeys; i++)
        at[i] = stays_home(c->range) ? g->job.self : home_of(g, c->keys[i]);
    c->outstanding = 1; /* held until every home is asked: a local answer may come at once */
    if (c->op == OP_UNPUBLISH && !c->nkeys) { /* everything of this rank's: every daemon */
        for (uint32_t node = 0; node < nnodes; node++)
            ask_home(c, node, at);
    } else {
        for (size_t i = 0; i < c->nkeys; i++)
            if (!asked[at[i]]++)
                ask_home(c, at[i], at);
    }
    free(at);
    free(asked);
    release(c);
}

static void cancel_call(fmx_glue_t *g, struct req *r)
{
    struct call *c = (struct call *)r;

    if (!fmx_glue_pmix_alive(g))
        c->lkcb = NULL, c->opcb = NULL;
    call_finish(c, PMIX_ERR_UNREACH);
}

static const struct req_ops call_ops = {.needs_engine = 1, .run = run_call, .cancel = cancel_call};

/* ---- the home's side ---- */

static void answer(fmx_glue_t *g, struct to to, int status, const void *blob, size_t len)
{
    if (to.token)
        fmx_dmodex_respond(g->eng, to.token, status, blob, len);
    else
        home_answered(to.local, status, blob, len);
}

/* Whether who may read r, asking with range `range`. */
static int visible(const struct pub_record *r, const pmix_proc_t *who, uint32_t range)
{
    int same_ns = !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);

    if (r->range == PMIX_RANGE_NAMESPACE || range == PMIX_RANGE_NAMESPACE)
        return same_ns;
    if (r->range == PMIX_RANGE_PROC_LOCAL)
        return same_ns && r->owner.rank == who->rank;
    return 1;
}

static struct pub_record **find(fmx_glue_t *g, const char *key, const pmix_proc_t *who,
                                uint32_t range)
{
    for (struct pub_record **r = &g->pub_records; *r; r = &(*r)->next)
        if (!strcmp((*r)->key, key) && visible(*r, who, range))
            return r;
    return NULL;
}

static void record_free(struct pub_record *r)
{
    free(r->key);
    free(r->val);
    free(r);
}

static void waiter_free(struct pub_waiter *w)
{
    for (uint32_t i = 0; i < w->nkeys; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w);
}

/* Answers a lookup with what is found of its keys; with `all`, only when every key is found
 * (returns 0 then without answering). Records read once go. */
static int answer_lookup(fmx_glue_t *g, struct to to, const pmix_proc_t *who, uint32_t range,
                         char *const *keys, uint32_t nkeys, int all)
{
    fmx_pack_t p;
    uint32_t n = 0;

    for (uint32_t i = 0; i < nkeys; i++)
        n += find(g, keys[i], who, range) != NULL;
    if (all && n < nkeys)
        return 0;
    fmx_pack_init(&p);
    fmx_pack_u32(&p, n);
    for (uint32_t i = 0; i < nkeys; i++) {
        struct pub_record **at = find(g, keys[i], who, range), *r;

        if (!at)
            continue;
        r = *at;
        fmx_pack_str(&p, r->key);
        pack_proc(&p, &r->owner);
        fmx_pack_bytes(&p, r->val, r->vlen);
        if (r->persist == PMIX_PERSIST_FIRST_READ) {
            *at = r->next;
            record_free(r);
        }
    }
    if (p.err)
        answer(g, to, -ENOMEM, NULL, 0);
    else
        answer(g, to, n ? 0 : -ENOENT, p.data, p.len);
    fmx_pack_free(&p);
    return 1;
}

static void unlink_waiter(fmx_glue_t *g, struct pub_waiter *w)
{
    for (struct pub_waiter **at = &g->pub_waiters; *at; at = &(*at)->next)
        if (*at == w) {
            *at = w->next;
            return;
        }
}

static void waiter_expired(fmx_loop_t *l, void *arg)
{
    struct pub_waiter *w = arg;

    (void)l;
    unlink_waiter(w->g, w);
    answer(w->g, w->to, -ETIMEDOUT, NULL, 0);
    waiter_free(w);
}

/* Something was published: lookups waiting for it may be answered now. */
static void wake_waiters(fmx_glue_t *g)
{
    struct pub_waiter **at = &g->pub_waiters, *w;

    while ((w = *at)) {
        if (answer_lookup(g, w->to, &w->who, w->range, w->keys, w->nkeys, 1)) {
            *at = w->next;
            fmx_loop_del_timer(g->job.loop, w->timer);
            waiter_free(w);
        } else {
            at = &w->next;
        }
    }
}

static int publish(fmx_glue_t *g, const pmix_proc_t *who, uint32_t range, uint32_t persist,
                   fmx_pack_t *p, uint32_t n)
{
    size_t start = p->pos;

    /* all or nothing: a key another rank published is refused before anything is stored */
    for (uint32_t i = 0; i < n && !p->err; i++) {
        char *key = fmx_unpack_str(p);
        size_t vlen;
        struct pub_record **at;

        fmx_unpack_bytes(p, &vlen);
        at = key ? find(g, key, who, PMIX_RANGE_SESSION) : NULL;
        free(key);
        if (at &&
            ((*at)->owner.rank != who->rank ||
             strncmp((*at)->owner.nspace, who->nspace, PMIX_MAX_NSLEN)))
            return -EEXIST;
    }
    if (p->err)
        return -EINVAL;
    p->pos = start;
    for (uint32_t i = 0; i < n; i++) {
        struct pub_record *r = calloc(1, sizeof(*r)), **old;
        const void *v;

        if (!r || !(r->key = fmx_unpack_str(p)) || !(v = fmx_unpack_bytes(p, &r->vlen)) ||
            !(r->val = malloc(r->vlen ? r->vlen : 1))) {
            if (r)
                record_free(r);
            return -ENOMEM;
        }
        memcpy(r->val, v, r->vlen);
        r->owner = *who;
        r->range = range;
        r->persist = persist;
        if ((old = find(g, r->key, who, PMIX_RANGE_SESSION))) { /* the rank's own: replaced */
            struct pub_record *gone = *old;

            *old = gone->next;
            record_free(gone);
        }
        r->next = g->pub_records;
        g->pub_records = r;
    }
    wake_waiters(g);
    return 0;
}

static void unpublish(fmx_glue_t *g, const pmix_proc_t *who, char *const *keys, uint32_t n)
{
    struct pub_record **at = &g->pub_records, *r;

    while ((r = *at)) {
        int match = !n && r->owner.rank == who->rank &&
            !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);

        for (uint32_t i = 0; i < n && !match; i++)
            match = !strcmp(r->key, keys[i]) && r->owner.rank == who->rank &&
                !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);
        if (match) {
            *at = r->next;
            record_free(r);
        } else {
            at = &r->next;
        }
    }
}

static char **read_keys(fmx_pack_t *p, uint32_t n)
{
    char **keys = n > p->len ? NULL : calloc(n + 1, sizeof(*keys)); /* a key takes >= 4 bytes */

    for (uint32_t i = 0; keys && i < n; i++)
        if (!(keys[i] = fmx_unpack_str(p))) {
            for (uint32_t k = 0; k < i; k++)
                free(keys[k]);
            free(keys);
            return NULL;
        }
    return keys;
}

static void serve(fmx_glue_t *g, uint32_t from, const uint8_t *req, size_t len, struct to to)
{
    size_t pre = strlen(PUB_PREFIX);
    fmx_pack_t p;
    pmix_proc_t who;
    uint32_t range, extra, timeout_ms, n;
    char **keys = NULL;
    int op, rc = 0;

    if (len < pre + 1) {
        answer(g, to, -EINVAL, NULL, 0);
        return;
    }
    op = req[pre];
    fmx_unpack_init(&p, req + pre + 1, len - pre - 1);
    fmx_unpack_u32(&p); /* sender, and its sequence number: they only keep requests apart */
    fmx_unpack_u32(&p);
    fmx_unpack_u32(&p);
    rc = unpack_proc(&p, &who);
    range = fmx_unpack_u32(&p);
    extra = fmx_unpack_u32(&p);
    timeout_ms = fmx_unpack_u32(&p);
    n = fmx_unpack_u32(&p);
    if (rc || p.err) {
        fmx_log(FMX_LOG_WARN, "glue", "node %s sent a malformed publish/lookup request",
                g->job.map->nodes[from].name);
        answer(g, to, -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_PUBLISH) {
        answer(g, to, publish(g, &who, range, extra, &p, n), NULL, 0);
        return;
    }
    if ((op != OP_LOOKUP && op != OP_UNPUBLISH) || !(keys = read_keys(&p, n))) {
        answer(g, to, op == OP_LOOKUP || op == OP_UNPUBLISH ? -ENOMEM : -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_UNPUBLISH) {
        unpublish(g, &who, keys, n);
        answer(g, to, 0, NULL, 0);
    } else if (!answer_lookup(g, to, &who, range, keys, n, extra && g->job.loop)) {
        struct pub_waiter *w = calloc(1, sizeof(*w));

        if (!w) {
            answer(g, to, -ENOMEM, NULL, 0);
        } else {
            *w = (struct pub_waiter){.g = g,
                                     .who = who,
                                     .range = range,
                                     .keys = keys,
                                     .nkeys = n,
                                     .to = to,
                                     .next = g->pub_waiters};
            w->timer =
                fmx_loop_add_timer(g->job.loop, timeout_ms ? timeout_ms : 1, waiter_expired, w);
            g->pub_waiters = w;
            return; /* w owns the keys */
        }
    }
    for (uint32_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    serve(arg, from, key, keylen, (struct to){.token = token});
}

int fmx_glue_pubsub_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, PUB_PREFIX, on_request, g);
}

void fmx_glue_pubsub_stop(fmx_glue_t *g)
{
    struct pub_waiter *w;
    struct pub_record *r;

    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, PUB_PREFIX);
    while ((w = g->pub_waiters)) {
        g->pub_waiters = w->next;
        fmx_loop_del_timer(g->job.loop, w->timer);
        if (w->to.token)
            fmx_dmodex_respond(g->eng, w->to.token, -ECANCELED, NULL, 0);
        else
            home_answered(w->to.local, -ECANCELED, NULL, 0);
        waiter_free(w);
    }
    while ((r = g->pub_records)) {
        g->pub_records = r->next;
        record_free(r);
    }
}

/* ---- the upcalls (libpmix's thread): copy what the call says into a request ---- */

/* The directives among a publish's infos; everything else is data. */
static int directive(const pmix_info_t *i, struct call *c)
{
    if (PMIX_CHECK_KEY(i, PMIX_RANGE) && i->value.type == PMIX_DATA_RANGE)
        c->range = i->value.data.range;
    else if (PMIX_CHECK_KEY(i, PMIX_PERSISTENCE) && i->value.type == PMIX_PERSIST)
        c->persist = i->value.data.persist;
    else if (PMIX_CHECK_KEY(i, PMIX_WAIT))
        c->wait = 1;
    else if (!PMIX_CHECK_KEY(i, PMIX_TIMEOUT) && !PMIX_CHECK_KEY(i, PMIX_USERID) &&
             !PMIX_CHECK_KEY(i, PMIX_GRPID))
        return 0;
    return 1;
}

static struct call *new_call(int op, const pmix_proc_t *proc, const pmix_info_t *info, size_t ninfo,
                             size_t nkeys)
{
    struct call *c = calloc(1, sizeof(*c));

    if (!c || !(c->keys = calloc(nkeys + 1, sizeof(*c->keys)))) {
        free(c);
        return NULL;
    }
    c->base.ops = &call_ops;
    c->op = op;
    c->proc = *proc;
    c->range = PMIX_RANGE_SESSION;
    c->persist = PMIX_PERSIST_SESSION;
    c->timeout_ms = fmx_glue_timeout(info, ninfo);
    for (size_t i = 0; i < ninfo; i++)
        directive(&info[i], c);
    return c;
}

pmix_status_t fmx_glue_up_publish(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
                                  pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct call *c = new_call(OP_PUBLISH, proc, info, ninfo, ninfo);
    struct call probe = {0};

    if (!c || !(c->vals = calloc(ninfo + 1, sizeof(*c->vals))) ||
        !(c->vlens = calloc(ninfo + 1, sizeof(*c->vlens)))) {
        if (c)
            call_free(c);
        return PMIX_ERR_NOMEM;
    }
    for (size_t i = 0; i < ninfo; i++) {
        pmix_data_buffer_t buf;
        pmix_byte_object_t bo = {0};
        pmix_status_t st;

        if (directive(&info[i], &probe))
            continue;
        PMIX_DATA_BUFFER_CONSTRUCT(&buf);
        st = PMIx_Data_pack(NULL, &buf, (void *)&info[i].value, 1, PMIX_VALUE);
        if (st == PMIX_SUCCESS)
            st = PMIx_Data_unload(&buf, &bo);
        PMIX_DATA_BUFFER_DESTRUCT(&buf);
        if (st != PMIX_SUCCESS || !(c->keys[c->nkeys] = strndup(info[i].key, PMIX_MAX_KEYLEN))) {
            free(bo.bytes);
            call_free(c);
            return st != PMIX_SUCCESS ? st : PMIX_ERR_NOMEM;
        }
        c->vals[c->nkeys] = (uint8_t *)bo.bytes;
        c->vlens[c->nkeys++] = bo.size;
    }
    if (!c->nkeys) {
        call_free(c);
        return PMIX_ERR_BAD_PARAM;
    }
    c->opcb = cbfunc;
    c->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &c->base);
    return PMIX_SUCCESS;
}

static struct call *keyed_call(int op, const pmix_proc_t *proc, char **keys,
                               const pmix_info_t *info, size_t ninfo)
{
    size_t n = 0;
    struct call *c;

    while (keys && keys[n])
        n++;
    if (!(c = new_call(op, proc, info, ninfo, n)))
        return NULL;
    for (; c->nkeys < n; c->nkeys++)
        if (!(c->keys[c->nkeys] = strdup(keys[c->nkeys]))) {
            call_free(c);
            return NULL;
        }
    return c;
}

pmix_status_t fmx_glue_up_lookup(const pmix_proc_t *proc, char **keys, const pmix_info_t info[],
                                 size_t ninfo, pmix_lookup_cbfunc_t cbfunc, void *cbdata)
{
    struct call *c = keyed_call(OP_LOOKUP, proc, keys, info, ninfo);

    if (!c)
        return PMIX_ERR_NOMEM;
    if (!c->nkeys) {
        call_free(c);
        return PMIX_ERR_BAD_PARAM;
    }
    c->lkcb = cbfunc;
    c->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &c->base);
    return PMIX_SUCCESS;
}

pmix_status_t fmx_glue_up_unpublish(const pmix_proc_t *proc, char **keys, const pmix_info_t info[],
                                    size_t ninfo, pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct call *c = keyed_call(OP_UNPUBLISH, proc, keys, info, ninfo);

    if (!c)
        return PMIX_ERR_NOMEM;
    c->opcb = cbfunc;
    c->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &c->base);
    return PMIX_SUCCESS;
}
