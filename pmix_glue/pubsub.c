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
 * A job of resident daemons (`pmixd --listen`) has one home for all but the local ranges: the
 * service of its node 0's host, which node 0 asks over its link (host.service). Jobs whose
 * node 0 is served by the same service share that home, and so publish and look up across jobs
 * (Open MPI's MPI_Publish_name / MPI_Lookup_name with no ompi-server), until each job ends.
 *
 * This file: a rank's call, sent to the homes of its keys (a home that is this daemon is served
 * in place); pubsub_home.c: what a home keeps and answers (pubstore.h); pubsub.h: the request
 * between them. */
#include "pubsub.h"
#include "pubstore.h"

#include <stdlib.h>
#include <string.h>

#define WAIT_GRACE_MS 2000 /* a requester waits this much longer than the home holds it */

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

    if (g->job.resident)
        return 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % g->job.map->nnodes;
}

static int stays_home(uint32_t range)
{
    return range == PMIX_RANGE_LOCAL || range == PMIX_RANGE_PROC_LOCAL;
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
        const void *v = fmx_pub_unpack_proc(&p, &owner) ? NULL : fmx_unpack_bytes(&p, &vlen);
        pmix_pdata_t *grown;

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
        if (fmx_glue_unpack(v, vlen, &c->found[c->nfound].value, 1, PMIX_VALUE))
            p.err = 1;
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

/* ---- the home's side: where its answers go ---- */

/* `to` of the store: an engine request's token, or this daemon's own call with bit 0 set */
static void answer(void *arg, uint64_t to, int status, const void *blob, size_t len)
{
    fmx_glue_t *g = arg;

    if (to & 1)
        home_answered((struct call *)(uintptr_t)(to & ~(uint64_t)1), status, blob, len);
    else
        fmx_dmodex_respond(g->eng, (fmx_dmodex_req_t *)(uintptr_t)to, status, blob, len);
}

struct relay {
    fmx_glue_t *g;
    uint64_t to;
};

static void relay_answered(void *arg, int status, const void *blob, size_t len)
{
    struct relay *r = arg;

    answer(r->g, r->to, status, blob, len);
    free(r);
}

/* A request served here: by this daemon's store, or (node 0 of resident daemons, for all but
 * the local ranges) by the service, which holds a waiting lookup for its timeout. */
static void serve(fmx_glue_t *g, int relay, uint32_t from, const uint8_t *req, size_t len,
                  uint64_t to)
{
    char who[160];
    struct relay *r;
    int rc;

    if (relay) {
        size_t pre = strlen(PUB_PREFIX) + 1;
        fmx_pack_t p;
        pmix_proc_t proc;
        uint64_t timeout = 0;

        fmx_unpack_init(&p, req + pre, len > pre ? len - pre : 0);
        for (int i = 0; i < 3; i++)
            fmx_unpack_u32(&p);
        if (!fmx_pub_unpack_proc(&p, &proc)) {
            fmx_unpack_u32(&p);
            fmx_unpack_u32(&p);
            timeout = fmx_unpack_u32(&p);
        }
        if (!(r = malloc(sizeof(*r)))) {
            answer(g, to, -ENOMEM, NULL, 0);
            return;
        }
        *r = (struct relay){.g = g, .to = to};
        rc = g->host.service(g->host_arg, FMX_GLUE_SVC_PUB, req, len,
                             (timeout ? timeout : fmx_engine_default_timeout_ms(g->eng)) +
                                 WAIT_GRACE_MS,
                             relay_answered, r);
        if (rc) {
            free(r);
            answer(g, to, rc, NULL, 0);
        }
        return;
    }
    snprintf(who, sizeof(who), "node %s",
             from < g->job.map->nnodes ? g->job.map->nodes[from].name : "?");
    fmx_pubstore_serve(g->pubs, from, who, req, len, to);
}

static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;

    serve(g, g->job.resident, from, key, keylen, (uint64_t)(uintptr_t)token);
}

int fmx_glue_pubsub_start(fmx_glue_t *g)
{
    if (!(g->pubs = fmx_pubstore_new(g->job.loop, answer, g)))
        return -ENOMEM;
    return fmx_dmodex_add_handler(g->eng, PUB_PREFIX, on_request, g);
}

void fmx_glue_pubsub_stop(fmx_glue_t *g)
{
    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, PUB_PREFIX);
    fmx_pubstore_free(g->pubs, 0);
    g->pubs = NULL;
}

/* ---- the requester's side, again ---- */

/* Sends the part of c that belongs to home node (keys[i] with at[i] == node). */
static void ask_home(struct call *c, uint32_t node, const uint32_t *at)
{
    fmx_glue_t *g = c->g;
    uint64_t seq = ++g->req_seq;
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
    fmx_pub_pack_proc(&p, &c->proc);
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
        serve(g, g->job.resident && !stays_home(c->range), node, p.data, p.len,
              (uint64_t)(uintptr_t)c | 1);
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
        c->timeout_ms = fmx_engine_default_timeout_ms(g->eng);
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
        if (directive(&info[i], &probe))
            continue;
        if (fmx_glue_pack(&info[i].value, 1, PMIX_VALUE, &c->vals[c->nkeys], &c->vlens[c->nkeys])) {
            call_free(c);
            return PMIX_ERR_BAD_PARAM;
        }
        if (!(c->keys[c->nkeys++] = strndup(info[i].key, PMIX_MAX_KEYLEN))) {
            call_free(c);
            return PMIX_ERR_NOMEM;
        }
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
