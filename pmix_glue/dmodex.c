/* Direct modex on the engine, both sides. The requester: libpmix asks for a rank of another
 * node (direct_modex), which becomes an engine request to that node's daemon. The holder:
 * the engine brings another daemon's request for one of this node's ranks, which libpmix
 * answers through PMIx_server_dmodex_request, on its own thread, and the answer goes back from
 * the loop. Keys are canonical (fmx_glue_proc_key), not the memory of a pmix_proc_t. */
#include "glue_internal.h"

#include <stdlib.h>
#include <string.h>

size_t fmx_glue_put_proc(const pmix_proc_t *p, uint8_t *at)
{
    size_t l = strnlen(p->nspace, PMIX_MAX_NSLEN);
    uint32_t r = p->rank;

    if (at) {
        memcpy(at, p->nspace, l);
        at[l] = '\0';
        at += l + 1;
        at[0] = (uint8_t)(r >> 24);
        at[1] = (uint8_t)(r >> 16);
        at[2] = (uint8_t)(r >> 8);
        at[3] = (uint8_t)r;
    }
    return l + 1 + 4;
}

size_t fmx_glue_proc_key(const pmix_proc_t *p, uint8_t *key, size_t cap)
{
    size_t pre = strlen(GLUE_KEY_PREFIX);

    if (pre + fmx_glue_put_proc(p, NULL) > cap)
        return 0;
    memcpy(key, GLUE_KEY_PREFIX, pre);
    return pre + fmx_glue_put_proc(p, key + pre);
}

/* The inverse, for a key another daemon sent: 0, or -EINVAL when it is not one. */
static int proc_of_key(const uint8_t *key, size_t len, pmix_proc_t *p)
{
    size_t pre = strlen(GLUE_KEY_PREFIX), l;

    if (len < pre + 1 + 4 || len - pre - 5 > PMIX_MAX_NSLEN || memcmp(key, GLUE_KEY_PREFIX, pre))
        return -EINVAL;
    l = len - pre - 5;
    if (key[pre + l] != '\0' || memchr(key + pre, '\0', l))
        return -EINVAL;
    memset(p, 0, sizeof(*p));
    memcpy(p->nspace, key + pre, l);
    key += pre + l + 1;
    p->rank = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
    return 0;
}

static void release_data(void *cbdata)
{
    free(cbdata);
}

/* ---- the requester ---- */

struct ask {
    struct req base;
    pmix_proc_t proc;
    uint64_t timeout_ms;
    pmix_modex_cbfunc_t cb;
    void *cbdata;
};

static void asked(void *arg, int status, const void *blob, size_t len)
{
    struct ask *a = arg;
    char *copy = NULL;

    if (status)
        fmx_log(FMX_LOG_WARN, "glue", "direct modex for %s:%u failed: %s", a->proc.nspace,
                a->proc.rank, fmx_strerror(status));
    if (status == 0 && len && !(copy = malloc(len)))
        status = -ENOMEM;
    if (copy)
        memcpy(copy, blob, len);
    a->cb(fmx_glue_status(status), copy, copy ? len : 0, a->cbdata, release_data, copy);
    free(a);
}

static void run_ask(fmx_glue_t *g, struct req *r)
{
    struct ask *a = (struct ask *)r;
    const fmx_nspace_map_t *ns = fmx_glue_nspace(g, a->proc.nspace);
    uint32_t node = ns ? fmx_nspace_node_of(ns, a->proc.rank) : UINT32_MAX;
    uint8_t key[PMIX_MAX_NSLEN + 32];
    size_t keylen = fmx_glue_proc_key(&a->proc, key, sizeof(key));
    int rc;

    if (!ns && (rc = fmx_glue_fetch_foreign(g, &a->proc, a->timeout_ms, asked, a)) != -ENOENT) {
        if (rc) /* else asked() completes it */
            asked(a, rc, NULL, 0);
        return;
    }
    if (node == UINT32_MAX || node == g->job.self) {
        a->cb(PMIX_ERR_NOT_FOUND, NULL, 0, a->cbdata, NULL, NULL);
        free(a);
        return;
    }
    fmx_debug("glue", "direct modex: %s:%u from node %u", a->proc.nspace, a->proc.rank, node);
    rc = fmx_dmodex_request(g->eng, node, key, keylen, a->timeout_ms, asked, a);
    if (rc) {
        a->cb(fmx_glue_status(rc), NULL, 0, a->cbdata, NULL, NULL);
        free(a);
    }
}

static void cancel_ask(fmx_glue_t *g, struct req *r)
{
    struct ask *a = (struct ask *)r;

    if (fmx_glue_pmix_alive(g))
        a->cb(PMIX_ERR_UNREACH, NULL, 0, a->cbdata, NULL, NULL);
    free(a);
}

static const struct req_ops ask_ops = {.needs_engine = 1, .run = run_ask, .cancel = cancel_ask};

pmix_status_t fmx_glue_up_dmodex(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
                                 pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
    struct ask *a = calloc(1, sizeof(*a));

    if (!a)
        return PMIX_ERR_NOMEM;
    a->base.ops = &ask_ops;
    a->proc = *proc;
    a->timeout_ms = fmx_glue_timeout(info, ninfo);
    a->cb = cbfunc;
    a->cbdata = cbdata;
    fmx_glue_post(fmx_glue_current, &a->base);
    return PMIX_SUCCESS;
}

/* ---- the holder ---- */

struct answer {
    struct req base;
    fmx_dmodex_req_t *token; /* the engine request it answers, or */
    fmx_glue_answer_f cb; /* the service's (fmx_glue_fetch) */
    void *cbarg;
    int status;
    char *data;
    size_t ndata;
};

static void run_answer(fmx_glue_t *g, struct req *r)
{
    struct answer *a = (struct answer *)r;

    if (a->token)
        fmx_dmodex_respond(g->eng, a->token, a->status, a->data, a->ndata);
    else
        a->cb(a->cbarg, a->status, a->data, a->ndata);
    free(a->data);
    free(a);
}

static void cancel_answer(fmx_glue_t *g, struct req *r)
{
    struct answer *a = (struct answer *)r;

    if (a->token) /* the engine outlives the glue */
        fmx_dmodex_respond(g->eng, a->token, -ECANCELED, NULL, 0);
    else
        a->cb(a->cbarg, -ECANCELED, NULL, 0);
    free(a->data);
    free(a);
}

static const struct req_ops answer_ops = {
    .needs_engine = 0, .run = run_answer, .cancel = cancel_answer};

/* PMIx_server_dmodex_request answered (libpmix's thread): copy, and send from the loop. */
static void on_local_data(pmix_status_t status, char *data, size_t sz, void *cbdata)
{
    struct answer *a = cbdata;

    a->status = fmx_glue_errno(status);
    if (status == PMIX_SUCCESS && sz && (a->data = malloc(sz))) {
        memcpy(a->data, data, sz);
        a->ndata = sz;
    } else if (status == PMIX_SUCCESS && sz) {
        a->status = -ENOMEM;
    }
    fmx_glue_post(fmx_glue_current, &a->base);
}

/* proc's data from libpmix (one of this node's ranks), answered through the engine request
 * `token` or else cb: 0, or -errno and nothing is answered. */
static int ask_libpmix(const pmix_proc_t *proc, fmx_dmodex_req_t *token, fmx_glue_answer_f cb,
                       void *cbarg)
{
    struct answer *a = calloc(1, sizeof(*a));
    pmix_status_t st;

    if (!a)
        return -ENOMEM;
    a->base.ops = &answer_ops;
    a->token = token;
    a->cb = cb;
    a->cbarg = cbarg;
    if ((st = PMIx_server_dmodex_request(proc, on_local_data, a)) != PMIX_SUCCESS) {
        free(a);
        return fmx_glue_errno(st);
    }
    return 0;
}

void fmx_glue_on_engine_dmodex(void *arg, uint32_t from, const void *key, size_t keylen,
                               fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    pmix_proc_t proc;
    int rc;

    if (proc_of_key(key, keylen, &proc)) {
        fmx_log(FMX_LOG_WARN, "glue", "node %s sent a direct modex key that names no rank",
                from < g->job.map->nnodes ? g->job.map->nodes[from].name : "?");
        fmx_dmodex_respond(g->eng, token, -EINVAL, NULL, 0);
        return;
    }
    if ((rc = ask_libpmix(&proc, token, NULL, NULL)))
        fmx_dmodex_respond(g->eng, token, rc, NULL, 0);
}

void fmx_glue_fetch(fmx_glue_t *g, const void *key, size_t len, uint64_t timeout_ms,
                    fmx_glue_answer_f cb, void *cbarg)
{
    const fmx_nspace_map_t *ns;
    pmix_proc_t proc;
    uint32_t node;
    int rc;

    if (proc_of_key(key, len, &proc) || !(ns = fmx_glue_nspace(g, proc.nspace)) ||
        (node = fmx_nspace_node_of(ns, proc.rank)) == UINT32_MAX)
        rc = -ENOENT;
    else if (node == g->job.self)
        rc = ask_libpmix(&proc, NULL, cb, cbarg);
    else
        rc = g->eng ? fmx_dmodex_request(g->eng, node, key, len, timeout_ms, cb, cbarg) : -EAGAIN;
    if (rc)
        cb(cbarg, rc, NULL, 0);
}
